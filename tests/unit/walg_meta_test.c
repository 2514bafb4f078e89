/*
 * Suite "walg_meta": the sentinel and metadata.json writers reproduce WAL-G's bytes (the
 * walg-layout.md 1.4 example round-trips byte for byte; key order and JSON types checked field by
 * field), readers accept V2, V1 and WAL-E sentinels and refuse wrong types with exact messages,
 * and Go string/float formatting. files_metadata.json and file hashes: walg_meta_files_test.c.
 * Runs from the repository root (fixtures in tests/fixtures/walg/).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "bk_buf.h"
#include "bk_sink.h"
#include "walg_json.h"
#include "walg_meta.h"
#include "walg_names.h"

#define FIX "tests/fixtures/walg/"

static char *slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long len;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(data, 1, (size_t)len, f), (size_t)len);
    data[len] = '\0';
    fclose(f);
    if (len_out != NULL)
        *len_out = (size_t)len;
    return data;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* The values of walg-layout.md 1.4's illustrative sentinel. */
static void example_sentinel(struct walg_sentinel *s)
{
    memset(s, 0, sizeof(*s));
    s->has_lsn = true;
    s->lsn = UINT64_C(15602810920);
    s->pg_version = 160004;
    s->has_finish_lsn = true;
    s->finish_lsn = UINT64_C(15602811192);
    s->has_system_identifier = true;
    s->system_identifier = UINT64_C(7401234567890123456);
    s->uncompressed_size = 52428800;
    s->compressed_size = 9437184;
    s->data_catalog_size = 60817408;
    s->version = 2;
    s->has_start_time = true;
    s->start_time_us = INT64_C(1748739602123456);   /* 2025-06-01T01:00:02.123456Z */
    s->has_finish_time = true;
    s->finish_time_us = INT64_C(1748739619654321);  /* 2025-06-01T01:00:19.654321Z */
    s->hostname = xstrdup("acid-db-0");
    s->data_dir = xstrdup("/home/postgres/pgdata/pgroot/data");
}

static void write_sentinel_ok(const struct walg_sentinel *s, struct bk_buf *out)
{
    struct bk_error err = BK_ERROR_INIT;
    bk_buf_init(out, 1 << 20);
    ck_assert_msg(walg_sentinel_write(s, out, &err) == BK_OK, "%s", err.message);
}

/* ---- sentinel: writer ---- */

START_TEST(test_sentinel_example_byte_identical)
{
    struct walg_sentinel s;
    struct bk_buf out;
    char *want = slurp(FIX "sentinel_v2_local.json", NULL);
    example_sentinel(&s);
    write_sentinel_ok(&s, &out);
    ck_assert_str_eq(bk_buf_str(&out), want);
    bk_buf_free(&out);
    walg_sentinel_free(&s);
    free(want);
}
END_TEST

START_TEST(test_sentinel_example_round_trip)
{
    struct walg_sentinel s = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    size_t len;
    char *text = slurp(FIX "sentinel_v2_local.json", &len);
    ck_assert_int_eq(walg_sentinel_parse(text, len, "k", &s, &err), BK_OK);
    ck_assert(s.has_lsn);
    ck_assert_uint_eq(s.lsn, UINT64_C(15602810920));
    ck_assert_int_eq(s.pg_version, 160004);
    ck_assert_uint_eq(s.finish_lsn, UINT64_C(15602811192));
    ck_assert(s.has_system_identifier);
    ck_assert_uint_eq(s.system_identifier, UINT64_C(7401234567890123456));
    ck_assert_int_eq(s.uncompressed_size, 52428800);
    ck_assert_int_eq(s.compressed_size, 9437184);
    ck_assert_int_eq(s.data_catalog_size, 60817408);
    ck_assert_ptr_null(s.spec);
    ck_assert_ptr_null(s.user_data);
    ck_assert_ptr_null(s.delta_from);
    ck_assert_int_eq(s.version, 2);
    ck_assert_int_eq(s.start_time_us, INT64_C(1748739602123456));
    ck_assert_int_eq(s.finish_time_us, INT64_C(1748739619654321));
    ck_assert_str_eq(s.date_fmt, "%Y-%m-%dT%H:%M:%S.%fZ");
    ck_assert_str_eq(s.hostname, "acid-db-0");
    ck_assert_str_eq(s.data_dir, "/home/postgres/pgdata/pgroot/data");
    ck_assert(!s.is_permanent);
    ck_assert(!s.has_files);
    ck_assert(!s.is_wale);
    write_sentinel_ok(&s, &out);
    ck_assert_str_eq(bk_buf_str(&out), text);
    bk_buf_free(&out);
    walg_sentinel_free(&s);
    free(text);
}
END_TEST

/* Our sentinel against WAL-G's field names, order and JSON types (v3.0.5 SentinelV2). */
START_TEST(test_sentinel_field_names_and_types)
{
    static const struct {
        const char *key;
        enum json_type type;
    } want[] = {
        { "LSN", json_type_int }, { "PgVersion", json_type_int }, { "FinishLSN", json_type_int },
        { "SystemIdentifier", json_type_int }, { "UncompressedSize", json_type_int },
        { "CompressedSize", json_type_int }, { "DataCatalogSize", json_type_int }, { "Spec", json_type_null },
        { "ChkpNum", json_type_null }, { "Version", json_type_int }, { "StartTime", json_type_string },
        { "FinishTime", json_type_string }, { "DateFmt", json_type_string }, { "Hostname", json_type_string },
        { "DataDir", json_type_string }, { "IsPermanent", json_type_boolean },
    };
    struct walg_sentinel s;
    struct bk_buf out;
    struct json_object *root;
    size_t i = 0;
    example_sentinel(&s);
    write_sentinel_ok(&s, &out);
    root = json_tokener_parse(bk_buf_str(&out));
    ck_assert_ptr_nonnull(root);
    json_object_object_foreach(root, key, val) {
        ck_assert_uint_lt(i, sizeof(want) / sizeof(want[0]));
        ck_assert_str_eq(key, want[i].key);
        ck_assert_int_eq(json_object_get_type(val), want[i].type);
        i++;
    }
    ck_assert_uint_eq(i, sizeof(want) / sizeof(want[0]));
    ck_assert_int_eq(json_object_get_int(json_object_object_get(root, "Version")), 2);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(root, "DateFmt")), WALG_DATE_FMT);
    ck_assert_ptr_null(strchr(bk_buf_str(&out), ' '));
    ck_assert_ptr_null(strchr(bk_buf_str(&out), '\n'));
    json_object_put(root);
    bk_buf_free(&out);
    walg_sentinel_free(&s);
}
END_TEST

START_TEST(test_sentinel_unknown_values)
{
    /* unknown system identifier: key omitted; unknown LSNs: null; DataCatalogSize 0: omitted;
     * zero times: Go's zero time */
    struct walg_sentinel s = { 0 };
    struct bk_buf out;
    s.pg_version = 90624;
    write_sentinel_ok(&s, &out);
    ck_assert_str_eq(bk_buf_str(&out),
                     "{\"LSN\":null,\"PgVersion\":90624,\"FinishLSN\":null,\"UncompressedSize\":0,"
                     "\"CompressedSize\":0,\"Spec\":null,\"ChkpNum\":null,\"Version\":2,"
                     "\"StartTime\":\"0001-01-01T00:00:00Z\",\"FinishTime\":\"0001-01-01T00:00:00Z\","
                     "\"DateFmt\":\"%Y-%m-%dT%H:%M:%S.%fZ\",\"Hostname\":\"\",\"DataDir\":\"\",\"IsPermanent\":false}");
    bk_buf_free(&out);
}
END_TEST

START_TEST(test_sentinel_remote_spec)
{
    struct walg_sentinel s;
    struct bk_buf out;
    char *want = slurp(FIX "sentinel_v2_remote.json", NULL);
    example_sentinel(&s);
    s.data_catalog_size = 0;
    s.spec = calloc(1, sizeof(*s.spec));
    s.spec->base_prefix = xstrdup("/home/postgres/pgdata/pgroot/data/");   /* trailing '/' dropped */
    write_sentinel_ok(&s, &out);
    ck_assert_str_eq(bk_buf_str(&out), want);
    bk_buf_free(&out);
    walg_sentinel_free(&s);
    free(want);
}
END_TEST

START_TEST(test_sentinel_delta_tablespaces_user_data)
{
    struct walg_sentinel s = { 0 }, back = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    size_t len;
    char *want = slurp(FIX "sentinel_v2_delta_tablespaces.json", &len);
    s.has_lsn = true;
    s.lsn = UINT64_C(15871246376);
    s.has_delta_lsn = true;
    s.delta_lsn = UINT64_C(15602810920);
    s.delta_from = xstrdup("base_0000000100000003000000A2");
    s.delta_full_name = xstrdup("base_0000000100000003000000A2");
    s.has_delta_count = true;
    s.delta_count = 1;
    s.pg_version = 160004;
    s.has_finish_lsn = true;
    s.finish_lsn = UINT64_C(15871246648);
    s.has_system_identifier = true;
    s.system_identifier = UINT64_C(7401234567890123456);
    s.uncompressed_size = 1048576;
    s.compressed_size = 262144;
    s.data_catalog_size = 61865984;
    s.spec = calloc(1, sizeof(*s.spec));
    s.spec->base_prefix = xstrdup("/home/postgres/pgdata/pgroot/data");
    s.spec->tablespaces_len = 2;
    s.spec->tablespaces = calloc(2, sizeof(*s.spec->tablespaces));
    s.spec->tablespaces[0] = (struct walg_tablespace){ xstrdup("16400"), xstrdup("/mnt/ts_a/"),
                                                       xstrdup("pg_tblspc/16400") };
    s.spec->tablespaces[1] = (struct walg_tablespace){ xstrdup("16385"), xstrdup("/mnt/ts_b"),
                                                       xstrdup("pg_tblspc/16385") };
    /* Go re-marshals user data from interface{}: keys sorted, numbers as float64, HTML escapes */
    s.user_data = xstrdup("{ \"labels\": [\"a<b\", 1.50, null, true], \"backup_type\": \"nightly\" }");
    s.files_metadata_disabled = true;
    s.has_start_time = true;
    s.start_time_us = INT64_C(1748826002000000);
    s.has_finish_time = true;
    s.finish_time_us = INT64_C(1748826009500000);
    s.hostname = xstrdup("acid-db-0");
    s.data_dir = xstrdup("/home/postgres/pgdata/pgroot/data");
    s.is_permanent = true;
    write_sentinel_ok(&s, &out);
    ck_assert_str_eq(bk_buf_str(&out), want);

    ck_assert_int_eq(walg_sentinel_parse(want, len, "k", &back, &err), BK_OK);
    ck_assert_str_eq(back.delta_from, "base_0000000100000003000000A2");
    ck_assert_str_eq(back.delta_full_name, "base_0000000100000003000000A2");
    ck_assert_uint_eq(back.delta_lsn, UINT64_C(15602810920));
    ck_assert_int_eq(back.delta_count, 1);
    ck_assert_uint_eq(back.spec->tablespaces_len, 2);
    ck_assert_str_eq(back.spec->tablespaces[0].name, "16400");
    ck_assert_str_eq(back.spec->tablespaces[0].location, "/mnt/ts_a");
    ck_assert_str_eq(back.spec->tablespaces[1].link, "pg_tblspc/16385");
    ck_assert_str_eq(back.user_data, "{\"backup_type\":\"nightly\",\"labels\":[\"a\\u003cb\",1.5,null,true]}");
    ck_assert(back.files_metadata_disabled);
    ck_assert(back.is_permanent);
    bk_buf_reset(&out);
    ck_assert_int_eq(walg_sentinel_write(&back, &out, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&out), want);
    bk_buf_free(&out);
    walg_sentinel_free(&s);
    walg_sentinel_free(&back);
    free(want);
}
END_TEST

START_TEST(test_sentinel_lsn_above_2_63)
{
    struct walg_sentinel s = { 0 }, back = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    s.has_lsn = true;
    s.lsn = UINT64_C(0x8000000000000028);
    s.has_finish_lsn = true;
    s.finish_lsn = UINT64_MAX;
    s.has_system_identifier = true;
    s.system_identifier = UINT64_C(18446744073709551615);
    write_sentinel_ok(&s, &out);
    ck_assert_ptr_nonnull(strstr(bk_buf_str(&out), "{\"LSN\":9223372036854775848,"));
    ck_assert_ptr_nonnull(strstr(bk_buf_str(&out), ",\"FinishLSN\":18446744073709551615,"));
    ck_assert_ptr_nonnull(strstr(bk_buf_str(&out), ",\"SystemIdentifier\":18446744073709551615,"));
    ck_assert_int_eq(walg_sentinel_parse((const char *)out.data, out.len, "k", &back, &err), BK_OK);
    ck_assert_uint_eq(back.lsn, UINT64_C(0x8000000000000028));
    ck_assert_uint_eq(back.finish_lsn, UINT64_MAX);
    ck_assert_uint_eq(back.system_identifier, UINT64_MAX);
    bk_buf_free(&out);
    walg_sentinel_free(&back);
}
END_TEST

START_TEST(test_sentinel_write_errors)
{
    struct walg_sentinel s = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    bk_buf_init(&out, 1 << 20);
    s.user_data = xstrdup("nightly backup");
    ck_assert_int_eq(walg_sentinel_write(&s, &out, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "sentinel user data is not valid JSON: unexpected 'i' at byte 1");
    free(s.user_data);
    s.user_data = xstrdup("{\"a\":1");
    ck_assert_int_eq(walg_sentinel_write(&s, &out, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "sentinel user data is not valid JSON: truncated");
    free(s.user_data);
    s.user_data = xstrdup("{'a':1}");
    ck_assert_int_eq(walg_sentinel_write(&s, &out, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "sentinel user data is not valid JSON: unexpected ''' at byte 1");
    free(s.user_data);
    s.user_data = xstrdup("\"nightly\"");   /* a JSON string is fine */
    ck_assert_int_eq(walg_sentinel_write(&s, &out, &err), BK_OK);
    ck_assert_ptr_nonnull(strstr(bk_buf_str(&out), ",\"UserData\":\"nightly\",\"ChkpNum\":null,"));
    s.spec = calloc(1, sizeof(*s.spec));
    bk_buf_reset(&out);
    ck_assert_int_eq(walg_sentinel_write(&s, &out, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "sentinel spec has no base_prefix");
    ck_assert_uint_eq(out.len, 0);
    walg_spec_free(s.spec);
    free(s.spec);
    s.spec = NULL;
    s.delta_from = xstrdup("base_0000000100000003000000A2");
    ck_assert_int_eq(walg_sentinel_write(&s, &out, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "sentinel has DeltaFrom but not all of DeltaLSN, DeltaFullName, DeltaCount");
    walg_sentinel_free(&s);
    bk_buf_free(&out);
}
END_TEST

/* ---- sentinel: legacy readers ---- */

static int count_file(void *payload, const char *name, const struct walg_file_desc *d, struct bk_error *err)
{
    char *log = payload;
    (void)err;
    snprintf(log + strlen(log), 1024 - strlen(log), "F %s %d%d %lld %llu%s;", name, d->is_incremented,
             d->is_skipped, (long long)d->mtime_ns, (unsigned long long)d->updates_count,
             d->has_corrupt_blocks ? " corrupt" : "");
    return BK_OK;
}

static int count_tar(void *payload, const char *tar, const char *entry, struct bk_error *err)
{
    char *log = payload;
    (void)err;
    snprintf(log + strlen(log), 1024 - strlen(log), "T %s %s;", tar, entry);
    return BK_OK;
}

START_TEST(test_sentinel_v1)
{
    struct walg_sentinel s = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    struct walg_files_meta_cbs cbs = { count_file, count_tar };
    char log[1024] = "";
    size_t len;
    char *text = slurp(FIX "sentinel_v1_delta.json", &len);
    ck_assert_int_eq(walg_sentinel_parse(text, len, "k", &s, &err), BK_OK);
    ck_assert_int_eq(s.version, 0);
    ck_assert(s.has_delta_lsn);
    ck_assert_uint_eq(s.delta_lsn, UINT64_C(15602810920));   /* from DeltaFromLSN */
    ck_assert_str_eq(s.delta_from, "base_0000000100000003000000A2");
    ck_assert_int_eq(s.delta_count, 1);
    ck_assert(s.has_files);
    ck_assert_int_eq(s.pg_version, 130012);
    ck_assert_str_eq(s.user_data, "\"nightly\"");
    ck_assert(!s.has_start_time);
    ck_assert_ptr_null(s.hostname);
    /* the Files inside a V1 sentinel are read with the files_metadata reader */
    ck_assert_int_eq(walg_files_meta_parse_buf(text, len, &cbs, log, "k", &err), BK_OK);
    ck_assert_str_eq(log, "F /PG_VERSION 01 1704157445123456000 0;F /base/5/1259 10 1704164645000000000 0;"
                          "T part_001.tar.lz4 /base/5/1259;");
    walg_sentinel_free(&s);
    free(text);
}
END_TEST

START_TEST(test_sentinel_wale_and_lower_case_spec)
{
    struct walg_sentinel s = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    size_t len;
    char *text = slurp(FIX "sentinel_wale.json", &len);
    const char *lower = "{\"LSN\":1,\"spec\":{\"base_prefix\":\"/x\",\"tablespaces\":[\"1\"],"
                        "\"1\":{\"loc\":\"/t\",\"link\":\"pg_tblspc/1\"}},\"finishlsn\":2}";
    ck_assert_int_eq(walg_sentinel_parse(text, len, "k", &s, &err), BK_OK);
    ck_assert(s.is_wale);
    ck_assert_str_eq(s.wale_stop_segment, "00000001000000000000007F");
    ck_assert_str_eq(s.wale_stop_offset, "00000240");
    ck_assert(s.has_wale_expanded_size);
    ck_assert_int_eq(s.wale_expanded_size_bytes, 167772160);
    ck_assert_str_eq(s.spec->base_prefix, "/var/lib/postgresql/9.6/main");
    ck_assert_uint_eq(s.spec->tablespaces_len, 0);
    ck_assert(!s.has_lsn);
    ck_assert_int_eq(s.version, 0);
    ck_assert_int_eq(walg_sentinel_parse(lower, strlen(lower), "k", &s, &err), BK_OK);
    ck_assert(!s.is_wale);
    ck_assert_str_eq(s.spec->tablespaces[0].location, "/t");
    ck_assert(s.has_finish_lsn);   /* Go matches keys case-insensitively */
    ck_assert_uint_eq(s.finish_lsn, 2);
    walg_sentinel_free(&s);
    free(text);
}
END_TEST

START_TEST(test_sentinel_bad_inputs)
{
    static const struct {
        const char *json;
        const char *message;
    } cases[] = {
        { "{\"LSN\":1,\"FinishLSN\":\"3/A2\"}", "sentinel field \"FinishLSN\" must be a number" },
        { "{\"FinishLSN\":1.5}", "sentinel field \"FinishLSN\" must be a non-negative integer" },
        { "{\"LSN\":-5}", "sentinel field \"LSN\" must be a non-negative integer" },
        { "{\"PgVersion\":\"160004\"}", "sentinel field \"PgVersion\" must be a number" },
        { "{\"PgVersion\":1.0}", "sentinel field \"PgVersion\" must be an integer" },
        { "{\"IsPermanent\":\"false\"}", "sentinel field \"IsPermanent\" must be a boolean" },
        { "{\"Hostname\":5}", "sentinel field \"Hostname\" must be a string" },
        { "{\"StartTime\":\"yesterday\"}", "sentinel field \"StartTime\" must be an RFC 3339 time" },
        { "{\"FinishTime\":1748739619}", "sentinel field \"FinishTime\" must be an RFC 3339 time" },
        { "{\"Spec\":{\"tablespaces\":[]}}", "sentinel field \"Spec\" has no \"base_prefix\"" },
        { "{\"Spec\":{\"base_prefix\":7}}", "sentinel field \"Spec\" has no \"base_prefix\"" },
        { "{\"Spec\":[1]}", "sentinel field \"Spec\" must be an object" },
        { "{\"Spec\":{\"base_prefix\":\"/x\",\"tablespaces\":[\"1\"]}}",
          "sentinel field \"Spec\" has no loc/link for tablespace \"1\"" },
        { "{\"Spec\":{\"base_prefix\":\"/x\",\"tablespaces\":[1]}}",
          "sentinel field \"Spec\" has a tablespace name that is not a string" },
        { "{\"Files\":[]}", "sentinel field \"Files\" must be an object" },
        { "{\"LSN\":15602810920,\"PgVersion\":1600", "sentinel is not valid JSON: truncated" },
        { "{\"LSN\":15602810920,", "sentinel is not valid JSON: truncated" },
        { "", "sentinel is not valid JSON: empty" },
        { "{\"LSN\":1}{}", "sentinel is not valid JSON: unexpected '{' at byte 9" },
        { "{\"LSN\":01}", "sentinel is not valid JSON: bad number \"01\" at byte 9" },
        { "[]", "sentinel must be a JSON object" },
        { "{\"DeltaFrom\":\"base_0000000100000003000000A2\",\"DeltaFullName\":\"x\",\"DeltaCount\":1}",
          "sentinel has DeltaFrom but no DeltaLSN" },
        { "{\"DeltaFrom\":\"base_0000000100000003000000A2\",\"DeltaLSN\":1,\"DeltaCount\":1}",
          "sentinel has DeltaFrom but no DeltaFullName" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct walg_sentinel s = { 0 };
        struct bk_error err = BK_ERROR_INIT;
        s.hostname = xstrdup("stale");
        ck_assert_msg(walg_sentinel_parse(cases[i].json, strlen(cases[i].json), "basebackups_005/x.json", &s,
                                          &err) == BK_EINVAL, "%s", cases[i].json);
        ck_assert_int_eq(err.code, BK_EINVAL);
        ck_assert_str_eq(err.message, cases[i].message);
        ck_assert_str_eq(err.object, "basebackups_005/x.json");
        ck_assert_ptr_null(s.hostname);   /* freed, nothing half-filled left */
    }
}
END_TEST

START_TEST(test_sentinel_nulls_are_absent)
{
    struct walg_sentinel s = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    const char *j = "{\"LSN\":null,\"SystemIdentifier\":null,\"Spec\":null,\"UserData\":null,\"ChkpNum\":7,"
                    "\"Hostname\":null,\"Unknown\":{\"x\":[1]}}";
    ck_assert_int_eq(walg_sentinel_parse(j, strlen(j), NULL, &s, &err), BK_OK);
    ck_assert(!s.has_lsn);
    ck_assert(!s.has_system_identifier);
    ck_assert_ptr_null(s.spec);
    ck_assert_ptr_null(s.user_data);
    ck_assert_ptr_null(s.hostname);
    walg_sentinel_free(&s);
}
END_TEST

/* ---- metadata.json ---- */

START_TEST(test_metadata_example_byte_identical)
{
    struct walg_sentinel s;
    struct walg_metadata m = { 0 }, back = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    size_t len;
    char *want = slurp(FIX "metadata_local.json", &len);
    example_sentinel(&s);
    ck_assert_int_eq(walg_metadata_from_sentinel(&s, &m, &err), BK_OK);
    bk_buf_init(&out, 1 << 20);
    ck_assert_int_eq(walg_metadata_write(&m, &out, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&out), want);

    ck_assert_int_eq(walg_metadata_parse(want, len, "k", &back, &err), BK_OK);
    ck_assert_int_eq(back.start_time_us, INT64_C(1748739602123456));
    ck_assert_int_eq(back.finish_time_us, INT64_C(1748739619654321));
    ck_assert_str_eq(back.date_fmt, WALG_DATE_FMT);
    ck_assert_str_eq(back.hostname, "acid-db-0");
    ck_assert_str_eq(back.data_dir, "/home/postgres/pgdata/pgroot/data");
    ck_assert_int_eq(back.pg_version, 160004);
    ck_assert_uint_eq(back.start_lsn, UINT64_C(15602810920));
    ck_assert_uint_eq(back.finish_lsn, UINT64_C(15602811192));
    ck_assert(!back.is_permanent);
    ck_assert(back.has_system_identifier);
    ck_assert_uint_eq(back.system_identifier, UINT64_C(7401234567890123456));
    ck_assert_int_eq(back.uncompressed_size, 52428800);
    ck_assert_int_eq(back.compressed_size, 9437184);
    ck_assert_ptr_null(back.user_data);
    bk_buf_reset(&out);
    ck_assert_int_eq(walg_metadata_write(&back, &out, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&out), want);
    bk_buf_free(&out);
    walg_metadata_free(&m);
    walg_metadata_free(&back);
    walg_sentinel_free(&s);
    free(want);
}
END_TEST

START_TEST(test_metadata_field_names_and_types)
{
    static const char *const keys[] = { "start_time", "finish_time", "date_fmt", "hostname", "data_dir",
                                        "pg_version", "start_lsn", "finish_lsn", "is_permanent",
                                        "system_identifier", "uncompressed_size", "compressed_size",
                                        "user_data" };
    static const enum json_type types[] = { json_type_string, json_type_string, json_type_string,
                                            json_type_string, json_type_string, json_type_int, json_type_int,
                                            json_type_int, json_type_boolean, json_type_null, json_type_int,
                                            json_type_int, json_type_object };
    struct walg_metadata m = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    struct json_object *root;
    size_t i = 0;
    m.has_start_time = true;
    m.start_time_us = 1;
    m.user_data = xstrdup("{\"k\":[1]}");
    m.start_lsn = UINT64_MAX;
    bk_buf_init(&out, 1 << 20);
    ck_assert_int_eq(walg_metadata_write(&m, &out, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&out),
                     "{\"start_time\":\"1970-01-01T00:00:00.000001Z\",\"finish_time\":\"0001-01-01T00:00:00Z\","
                     "\"date_fmt\":\"%Y-%m-%dT%H:%M:%S.%fZ\",\"hostname\":\"\",\"data_dir\":\"\",\"pg_version\":0,"
                     "\"start_lsn\":18446744073709551615,\"finish_lsn\":0,\"is_permanent\":false,"
                     "\"system_identifier\":null,\"uncompressed_size\":0,\"compressed_size\":0,"
                     "\"user_data\":{\"k\":[1]}}");
    root = json_tokener_parse(bk_buf_str(&out));
    json_object_object_foreach(root, key, val) {
        ck_assert_str_eq(key, keys[i]);
        ck_assert_int_eq(json_object_get_type(val), types[i]);
        i++;
    }
    ck_assert_uint_eq(i, 13);
    json_object_put(root);
    bk_buf_free(&out);
    walg_metadata_free(&m);
}
END_TEST

START_TEST(test_metadata_bad_inputs)
{
    static const struct {
        const char *json;
        const char *message;
    } cases[] = {
        { "{\"start_lsn\":\"0/1\"}", "metadata field \"start_lsn\" must be a number" },
        { "{\"is_permanent\":1}", "metadata field \"is_permanent\" must be a boolean" },
        { "{\"system_identifier\":-1}", "metadata field \"system_identifier\" must be a non-negative integer" },
        { "{\"start_time\":\"2025-06-01 01:00:02\"}", "metadata field \"start_time\" must be an RFC 3339 time" },
        { "{\"uncompressed_size\":18446744073709551615}",
          "metadata field \"uncompressed_size\" must be an integer below 2^63" },
        { "{\"hostname\":[]}", "metadata field \"hostname\" must be a string" },
        { "{\"start_time\":", "metadata is not valid JSON: truncated" },
        { "\"x\"", "metadata must be a JSON object" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct walg_metadata m = { 0 };
        struct bk_error err = BK_ERROR_INIT;
        ck_assert_int_eq(walg_metadata_parse(cases[i].json, strlen(cases[i].json), "m.json", &m, &err), BK_EINVAL);
        ck_assert_str_eq(err.message, cases[i].message);
        ck_assert_str_eq(err.object, "m.json");
    }
}
END_TEST

/* ---- Go formatting ---- */

START_TEST(test_go_string_escapes)
{
    struct walg_jw w;
    struct bk_error err = BK_ERROR_INIT;
    const char in[] = "a<b>&\"\\\n\t\r\b\f\x01\x1f\x7f/\xc3\xa9\xe2\x80\xa8\xe2\x80\xa9\xff\xed\xa0\x80z";
    walg_jw_init(&w, NULL, 4096, false);
    walg_jw_string_n(&w, in, sizeof(in) - 1);
    ck_assert_int_eq(walg_jw_finish(&w, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&w.buf), "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\t\\r\\b\\f\\u0001\\u001f\x7f/"
                                         "\xc3\xa9\\u2028\\u2029\\ufffd\\ufffd\\ufffd\\ufffdz\"");
    walg_jw_free(&w);
}
END_TEST

START_TEST(test_go_floats)
{
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        { 0, "0" }, { 1, "1" }, { -1.5, "-1.5" }, { 2.5, "2.5" }, { 100, "100" }, { 0.1, "0.1" },
        { 1e20, "100000000000000000000" }, { 1e21, "1e+21" }, { 1.5e300, "1.5e+300" }, { 0.000001, "0.000001" },
        { 1e-7, "1e-7" }, { 1.25e-10, "1.25e-10" }, { 123456789.125, "123456789.125" },
        { 18446744073709551615.0, "18446744073709552000" }, { 1.0 / 3, "0.3333333333333333" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[40];
        walg_json_format_go_float(cases[i].v, out, sizeof(out));
        ck_assert_str_eq(out, cases[i].s);
    }
}
END_TEST

START_TEST(test_user_data_canonical)
{
    struct bk_error err = BK_ERROR_INIT;
    char *out = NULL;
    ck_assert_int_eq(walg_user_data_canonical(" {\"b\": {\"z\":1, \"y\":2}, \"a\": 12345678901234567890 } ", &out,
                                              &err), BK_OK);
    ck_assert_str_eq(out, "{\"a\":12345678901234567000,\"b\":{\"y\":2,\"z\":1}}");
    free(out);
    ck_assert_int_eq(walg_user_data_canonical("{'a':1}", &out, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "user data is not valid JSON: unexpected ''' at byte 1");
    ck_assert_ptr_null(out);
    ck_assert_int_eq(walg_user_data_canonical("", &out, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "user data is not valid JSON: empty");
}
END_TEST

static Suite *walg_meta_suite(void)
{
    Suite *s = suite_create("walg_meta");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sentinel_example_byte_identical);
    tcase_add_test(tc, test_sentinel_example_round_trip);
    tcase_add_test(tc, test_sentinel_field_names_and_types);
    tcase_add_test(tc, test_sentinel_unknown_values);
    tcase_add_test(tc, test_sentinel_remote_spec);
    tcase_add_test(tc, test_sentinel_delta_tablespaces_user_data);
    tcase_add_test(tc, test_sentinel_lsn_above_2_63);
    tcase_add_test(tc, test_sentinel_write_errors);
    tcase_add_test(tc, test_sentinel_v1);
    tcase_add_test(tc, test_sentinel_wale_and_lower_case_spec);
    tcase_add_test(tc, test_sentinel_bad_inputs);
    tcase_add_test(tc, test_sentinel_nulls_are_absent);
    tcase_add_test(tc, test_metadata_example_byte_identical);
    tcase_add_test(tc, test_metadata_field_names_and_types);
    tcase_add_test(tc, test_metadata_bad_inputs);
    tcase_add_test(tc, test_go_string_escapes);
    tcase_add_test(tc, test_go_floats);
    tcase_add_test(tc, test_user_data_canonical);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(walg_meta_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

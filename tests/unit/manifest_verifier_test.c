/*
 * manifest_verifier: CRC-32C vectors, and synthetic backup manifests (built here with a correct
 * Manifest-Checksum, the way PostgreSQL writes them) checked against members fed in chunks of
 * 1, 7 and 512 bytes. A real PG 15 manifest is covered by tests/e2e/basebackup_stream_test.sh.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_buf.h"
#include "bk_crypto.h"
#include "manifest_verifier.h"

struct member {
    const char *name;
    const char *data;
};

static const struct member base_members[] = {
    { "PG_VERSION", "15\n" },
    { "global/pg_control", "control-file-bytes-0123456789abcdef" },
    { "base/1/112", "" },
};

/* One "Files" entry the way PostgreSQL formats it. */
static void add_file(struct bk_buf *b, bool first, const char *path, size_t size, const char *algo,
                     const char *checksum)
{
    struct bk_error err = BK_ERROR_INIT;
    bk_buf_printf(b, &err, "%s{ \"Path\": \"%s\", \"Size\": %zu, \"Last-Modified\": "
                  "\"2024-01-01 00:00:00 GMT\"", first ? "" : ",\n", path, size);
    if (algo != NULL)
        bk_buf_printf(b, &err, ", \"Checksum-Algorithm\": \"%s\", \"Checksum\": \"%s\"", algo, checksum);
    bk_buf_append_str(b, " }", &err);
}

static void sha256_hex(const char *data, char out[65])
{
    uint8_t d[BK_SHA256_LEN];
    bk_sha256(data, strlen(data), d);
    bk_hex_encode(d, sizeof(d), out);
}

/* Closes the manifest: WAL-Ranges, then the checksum of everything up to here. */
static void finish_manifest(struct bk_buf *b, const char *extra_top)
{
    struct bk_error err = BK_ERROR_INIT;
    uint8_t d[BK_SHA256_LEN];
    char hex[65];
    bk_buf_printf(b, &err, "\n],\n%s\"WAL-Ranges\": [\n{ \"Timeline\": 3, \"Start-LSN\": \"0/2000028\", "
                  "\"End-LSN\": \"1/A0000100\" }\n],\n", extra_top);
    bk_sha256(b->data, b->len, d);
    bk_hex_encode(d, sizeof(d), hex);
    bk_buf_printf(b, &err, "\"Manifest-Checksum\": \"%s\"}\n", hex);
}

/* Manifest for base_members (+ one tablespace file) with SHA256 checksums. */
static void build_sha256_manifest(struct bk_buf *b, int version)
{
    struct bk_error err = BK_ERROR_INIT;
    char hex[65];
    bk_buf_init(b, 1 << 20);
    bk_buf_printf(b, &err, "{ \"PostgreSQL-Backup-Manifest-Version\": %d,\n%s\"Files\": [\n", version,
                  version == 2 ? "\"System-Identifier\": 7312345678901234567,\n" : "");
    for (size_t i = 0; i < 3; i++) {
        sha256_hex(base_members[i].data, hex);
        add_file(b, i == 0, base_members[i].name, strlen(base_members[i].data), "SHA256", hex);
    }
    sha256_hex("tablespace data", hex);
    add_file(b, false, "pg_tblspc/16384/PG_15_202209061/5/16385", 15, "SHA256", hex);
    finish_manifest(b, "");
}

static int feed(struct manifest_verifier *v, uint32_t oid, const char *name, const char *data,
                size_t chunk)
{
    struct bk_error err = BK_ERROR_INIT;
    size_t len = strlen(data);
    int rc = manifest_verifier_archive_begin(v, oid, &err);
    if (rc == BK_OK)
        rc = manifest_verifier_file_begin(v, name, &err);
    for (size_t off = 0; rc == BK_OK && off < len; off += chunk)
        rc = manifest_verifier_file_data(v, data + off, len - off < chunk ? len - off : chunk, &err);
    if (rc == BK_OK)
        rc = manifest_verifier_file_end(v, &err);
    return rc;
}

static struct manifest_verifier *new_verifier(enum manifest_checksum checksum)
{
    struct manifest_verifier_opts opts = MANIFEST_VERIFIER_OPTS_INIT;
    struct manifest_verifier *v = NULL;
    struct bk_error err = BK_ERROR_INIT;
    opts.checksum = checksum;
    ck_assert_int_eq(manifest_verifier_new(&v, &opts, &err), BK_OK);
    return v;
}

static void feed_all(struct manifest_verifier *v, size_t chunk)
{
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(feed(v, 0, base_members[i].name, base_members[i].data, chunk), BK_OK);
    ck_assert_int_eq(feed(v, 16384, "PG_15_202209061/5/16385", "tablespace data", chunk), BK_OK);
}

START_TEST(test_crc32c_vectors)
{
    uint32_t crc = 0;
    ck_assert_uint_eq(manifest_crc32c_update(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(manifest_crc32c_update(0, "", 0), 0);
    /* RFC 3720 B.4: 32 bytes of zeros */
    ck_assert_uint_eq(manifest_crc32c_update(0, (const uint8_t[32]){ 0 }, 32), 0x8A9136AAu);
    for (const char *p = "123456789"; *p != '\0'; p++)
        crc = manifest_crc32c_update(crc, p, 1);
    ck_assert_uint_eq(crc, 0xE3069283u);
}
END_TEST

START_TEST(test_checksum_names)
{
    struct bk_error err = BK_ERROR_INIT;
    enum manifest_checksum c = MANIFEST_CHECKSUM_NONE;
    ck_assert_int_eq(manifest_checksum_parse("sha256", &c, &err), BK_OK);
    ck_assert_int_eq(c, MANIFEST_CHECKSUM_SHA256);
    ck_assert_int_eq(manifest_checksum_parse("CRC32C", &c, &err), BK_OK);
    ck_assert_int_eq(c, MANIFEST_CHECKSUM_CRC32C);
    ck_assert_int_eq(manifest_checksum_parse("md5", &c, &err), BK_EINVAL);
    ck_assert_str_eq(manifest_checksum_name(MANIFEST_CHECKSUM_SHA512), "SHA512");
    ck_assert_ptr_null(manifest_checksum_name((enum manifest_checksum)42));
}
END_TEST

START_TEST(test_all_match)
{
    static const size_t chunks[] = { 1, 7, 512 };
    struct bk_buf m;
    build_sha256_manifest(&m, 1);
    for (size_t i = 0; i < 3; i++) {
        struct manifest_verifier *v = new_verifier(MANIFEST_CHECKSUM_SHA256);
        struct manifest_verify_report rep;
        struct bk_error err = BK_ERROR_INIT;
        feed_all(v, chunks[i]);
        ck_assert_int_eq(feed(v, 0, "pg_wal/000000030000000100000002", "wal bytes", 3), BK_OK);
        ck_assert_int_eq(manifest_verifier_check(&rep, v, m.data, m.len, &err), BK_OK);
        ck_assert_uint_eq(rep.files_in_manifest, 4);
        ck_assert_uint_eq(rep.files_streamed, 4);
        ck_assert_uint_eq(rep.files_ok, 4);
        ck_assert_uint_eq(rep.ignored, 1);
        ck_assert_uint_eq(rep.mismatched + rep.missing + rep.unexpected, 0);
        ck_assert_int_eq(rep.manifest_version, 1);
        ck_assert_uint_eq(rep.wal_timeline, 3);
        ck_assert_uint_eq(rep.wal_start_lsn, 0x2000028);
        ck_assert_uint_eq(rep.wal_end_lsn, UINT64_C(0x1A0000100));
        /* check can run again on the same recordings */
        ck_assert_int_eq(manifest_verifier_check(NULL, v, m.data, m.len, &err), BK_OK);
        manifest_verifier_free(v);
    }
    bk_buf_free(&m);
}
END_TEST

START_TEST(test_member_name_forms)
{
    struct manifest_verifier *v = new_verifier(MANIFEST_CHECKSUM_SHA256);
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf m;
    build_sha256_manifest(&m, 1);
    ck_assert_int_eq(feed(v, 0, "./PG_VERSION", "15\n", 512), BK_OK);
    ck_assert_int_eq(feed(v, 0, "/global/pg_control", base_members[1].data, 512), BK_OK);
    ck_assert_int_eq(feed(v, 0, "base/1/112", "", 512), BK_OK);
    ck_assert_int_eq(feed(v, 16384, "./PG_15_202209061/5/16385", "tablespace data", 512), BK_OK);
    ck_assert_int_eq(manifest_verifier_check(NULL, v, m.data, m.len, &err), BK_OK);
    manifest_verifier_free(v);
    bk_buf_free(&m);
}
END_TEST

/* Runs one faulty stream against the good manifest; returns the check's code. */
static int check_variant(struct manifest_verify_report *rep, struct bk_error *err, int variant)
{
    struct manifest_verifier *v = new_verifier(MANIFEST_CHECKSUM_SHA256);
    struct bk_buf m;
    int rc;
    build_sha256_manifest(&m, 1);
    for (size_t i = 0; i < 3; i++) {
        const char *data = base_members[i].data;
        if (variant == 0 && i == 1)
            data = "control-file-bytes-0123456789abcdeF";   /* same size, one byte differs */
        if (variant == 1 && i == 0)
            data = "15\n\n";                                /* size differs */
        if (variant == 2 && i == 2)
            continue;                                       /* missing */
        ck_assert_int_eq(feed(v, 0, base_members[i].name, data, 7), BK_OK);
    }
    if (variant == 3)
        ck_assert_int_eq(feed(v, 0, "base/1/999", "extra", 7), BK_OK);
    if (variant == 4)
        ck_assert_int_eq(feed(v, 0, "PG_VERSION", "15\n", 7), BK_OK);
    if (variant == 5)   /* pg_wal is only ignored in the main data directory */
        ck_assert_int_eq(feed(v, 16384, "pg_wal/x", "y", 7), BK_OK);
    ck_assert_int_eq(feed(v, 16384, "PG_15_202209061/5/16385", "tablespace data", 7), BK_OK);
    rc = manifest_verifier_check(rep, v, m.data, m.len, err);
    manifest_verifier_free(v);
    bk_buf_free(&m);
    return rc;
}

START_TEST(test_mismatches)
{
    struct manifest_verify_report rep;
    struct bk_error err = BK_ERROR_INIT;

    ck_assert_int_eq(check_variant(&rep, &err, 0), BK_ECORRUPT);
    ck_assert_str_eq(err.object, "global/pg_control");
    ck_assert_str_eq(err.message, "backup does not match its manifest (1 mismatched, 0 missing, "
                                  "0 unexpected): \"global/pg_control\": checksum differs from the manifest");
    ck_assert_uint_eq(rep.mismatched, 1);
    ck_assert_uint_eq(rep.files_ok, 3);

    ck_assert_int_eq(check_variant(&rep, &err, 1), BK_ECORRUPT);
    ck_assert_str_eq(err.object, "PG_VERSION");
    ck_assert_ptr_nonnull(strstr(err.message, "size differs from the manifest"));

    ck_assert_int_eq(check_variant(&rep, &err, 2), BK_ECORRUPT);
    ck_assert_str_eq(err.object, "base/1/112");
    ck_assert_uint_eq(rep.missing, 1);
    ck_assert_ptr_nonnull(strstr(err.message, "file in the manifest was not streamed"));

    ck_assert_int_eq(check_variant(&rep, &err, 3), BK_ECORRUPT);
    ck_assert_str_eq(err.object, "base/1/999");
    ck_assert_uint_eq(rep.unexpected, 1);
    ck_assert_uint_eq(rep.files_ok, 4);
    ck_assert_ptr_nonnull(strstr(err.message, "streamed file is not in the manifest"));

    ck_assert_int_eq(check_variant(&rep, &err, 4), BK_ECORRUPT);
    ck_assert_str_eq(err.object, "PG_VERSION");
    ck_assert_uint_eq(rep.unexpected, 1);
    ck_assert_uint_eq(rep.files_ok, 4);
    ck_assert_ptr_nonnull(strstr(err.message, "member streamed more than once"));

    ck_assert_int_eq(check_variant(&rep, &err, 5), BK_ECORRUPT);
    ck_assert_str_eq(err.object, "pg_tblspc/16384/pg_wal/x");
    ck_assert_uint_eq(rep.ignored, 0);
}
END_TEST

START_TEST(test_bad_manifests)
{
    struct manifest_verifier *v = new_verifier(MANIFEST_CHECKSUM_SHA256);
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf m;
    char *copy;

    feed_all(v, 512);
    build_sha256_manifest(&m, 1);
    copy = malloc(m.len);
    memcpy(copy, m.data, m.len);
    copy[strstr(copy, "\"Size\": 3") - copy + 8] = '4';   /* PG_VERSION size 3 -> 4 */
    ck_assert_int_eq(manifest_verifier_check(NULL, v, copy, m.len, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "backup manifest checksum mismatch");
    ck_assert_str_eq(err.object, "backup_manifest");
    ck_assert_int_eq(manifest_verifier_check(NULL, v, m.data, m.len - 1, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "backup manifest is not newline-terminated text of at least 2 lines");
    ck_assert_int_eq(manifest_verifier_check(NULL, v, "[1,2]\n\n", 7, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "backup manifest is not a JSON object");
    ck_assert_int_eq(manifest_verifier_check(NULL, v, m.data, m.len / 2, &err), BK_ECORRUPT);
    ck_assert_int_eq(manifest_verifier_check(NULL, v, "{\"Files\": []}\n", 14, &err), BK_ECORRUPT);
    bk_buf_free(&m);
    free(copy);

    /* version 3 is unknown */
    bk_buf_init(&m, 4096);
    bk_buf_append_str(&m, "{ \"PostgreSQL-Backup-Manifest-Version\": 3,\n\"Files\": [\n", &err);
    finish_manifest(&m, "");
    ck_assert_int_eq(manifest_verifier_check(NULL, v, m.data, m.len, &err), BK_EUNSUPPORTED);
    bk_buf_free(&m);
    manifest_verifier_free(v);
}
END_TEST

START_TEST(test_version2_system_identifier)
{
    struct manifest_verifier_opts opts = MANIFEST_VERIFIER_OPTS_INIT;
    struct manifest_verifier *v = NULL;
    struct manifest_verify_report rep;
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf m;

    build_sha256_manifest(&m, 2);
    opts.system_identifier = UINT64_C(7312345678901234567);
    ck_assert_int_eq(manifest_verifier_new(&v, &opts, &err), BK_OK);
    feed_all(v, 7);
    ck_assert_int_eq(manifest_verifier_check(&rep, v, m.data, m.len, &err), BK_OK);
    ck_assert_int_eq(rep.manifest_version, 2);
    manifest_verifier_free(v);
    opts.system_identifier = 42;
    ck_assert_int_eq(manifest_verifier_new(&v, &opts, &err), BK_OK);
    feed_all(v, 7);
    ck_assert_int_eq(manifest_verifier_check(&rep, v, m.data, m.len, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "backup manifest is for system 7312345678901234567, expected 42");
    manifest_verifier_free(v);
    bk_buf_free(&m);
}
END_TEST

START_TEST(test_crc32c_manifest)
{
    struct manifest_verifier *v = new_verifier(MANIFEST_CHECKSUM_CRC32C);
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf m;

    /* "123456789" -> 0xE3069283: little-endian bytes 839206e3 (x86 server), big-endian e3069283 */
    bk_buf_init(&m, 4096);
    bk_buf_append_str(&m, "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n", &err);
    add_file(&m, true, "a", 9, "CRC32C", "839206e3");
    add_file(&m, false, "b", 9, "CRC32C", "E3069283");
    finish_manifest(&m, "");
    ck_assert_int_eq(feed(v, 0, "a", "123456789", 4), BK_OK);
    ck_assert_int_eq(feed(v, 0, "b", "123456789", 4), BK_OK);
    ck_assert_int_eq(manifest_verifier_check(NULL, v, m.data, m.len, &err), BK_OK);
    manifest_verifier_free(v);

    v = new_verifier(MANIFEST_CHECKSUM_CRC32C);
    ck_assert_int_eq(feed(v, 0, "a", "123456780", 4), BK_OK);
    ck_assert_int_eq(feed(v, 0, "b", "123456789", 4), BK_OK);
    ck_assert_int_eq(manifest_verifier_check(NULL, v, m.data, m.len, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.object, "a");
    manifest_verifier_free(v);

    /* the manifest says CRC32C, the verifier computed SHA256: a setup error, not corruption */
    v = new_verifier(MANIFEST_CHECKSUM_SHA256);
    ck_assert_int_eq(feed(v, 0, "a", "123456789", 4), BK_OK);
    ck_assert_int_eq(feed(v, 0, "b", "123456789", 4), BK_OK);
    ck_assert_int_eq(manifest_verifier_check(NULL, v, m.data, m.len, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "backup manifest uses checksum CRC32C but the verifier computed SHA256");
    manifest_verifier_free(v);
    bk_buf_free(&m);
}
END_TEST

START_TEST(test_encoded_path_and_no_checksums)
{
    struct manifest_verifier *v = new_verifier(MANIFEST_CHECKSUM_NONE);
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf m;

    bk_buf_init(&m, 4096);
    bk_buf_append_str(&m, "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n"
                          "{ \"Encoded-Path\": \"6261736512ff\", \"Size\": 2, \"Last-Modified\": \"x\" }", &err);
    finish_manifest(&m, "");
    ck_assert_int_eq(feed(v, 0, "base\x12\xff", "zz", 1), BK_OK);
    ck_assert_int_eq(manifest_verifier_check(NULL, v, m.data, m.len, &err), BK_OK);
    manifest_verifier_free(v);

    v = new_verifier(MANIFEST_CHECKSUM_NONE);   /* sizes are still compared */
    ck_assert_int_eq(feed(v, 0, "base\x12\xff", "zzz", 1), BK_OK);
    ck_assert_int_eq(manifest_verifier_check(NULL, v, m.data, m.len, &err), BK_ECORRUPT);
    manifest_verifier_free(v);
    bk_buf_free(&m);
}
END_TEST

START_TEST(test_call_order)
{
    struct manifest_verifier *v = new_verifier(MANIFEST_CHECKSUM_SHA256);
    struct manifest_verifier_opts opts = MANIFEST_VERIFIER_OPTS_INIT;
    struct manifest_verifier *bad = NULL;
    struct bk_error err = BK_ERROR_INIT;

    ck_assert_int_eq(manifest_verifier_file_data(v, "x", 1, &err), BK_EINTERNAL);
    ck_assert_int_eq(manifest_verifier_file_end(v, &err), BK_EINTERNAL);
    ck_assert_int_eq(manifest_verifier_file_begin(v, "a", &err), BK_OK);
    ck_assert_int_eq(manifest_verifier_file_begin(v, "b", &err), BK_EINTERNAL);
    ck_assert_int_eq(manifest_verifier_archive_begin(v, 1, &err), BK_EINTERNAL);
    ck_assert_int_eq(manifest_verifier_check(NULL, v, "{}\n\n", 4, &err), BK_EINTERNAL);
    ck_assert_str_eq(err.message, "member \"a\" is still open");
    manifest_verifier_free(v);   /* with a member open: no leak */
    opts.checksum = (enum manifest_checksum)99;
    ck_assert_int_eq(manifest_verifier_new(&bad, &opts, &err), BK_EINVAL);
    ck_assert_ptr_null(bad);
}
END_TEST

static Suite *manifest_verifier_suite(void)
{
    Suite *s = suite_create("manifest_verifier");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_crc32c_vectors);
    tcase_add_test(tc, test_checksum_names);
    tcase_add_test(tc, test_all_match);
    tcase_add_test(tc, test_member_name_forms);
    tcase_add_test(tc, test_mismatches);
    tcase_add_test(tc, test_bad_manifests);
    tcase_add_test(tc, test_version2_system_identifier);
    tcase_add_test(tc, test_crc32c_manifest);
    tcase_add_test(tc, test_encoded_path_and_no_checksums);
    tcase_add_test(tc, test_call_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(manifest_verifier_suite());
    int failed;
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

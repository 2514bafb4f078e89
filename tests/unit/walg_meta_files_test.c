/*
 * Suite "walg_meta_files": files_metadata.json written exactly as WAL-G v3.0.5 lays it out
 * (fixture byte for byte, omitempty sections), read back in 1-byte chunks, bad entries refused with
 * exact messages, 200,000 entries streamed writer -> reader with no buffer in between, and our
 * backupd_file_hashes.json round trip. Runs from the repository root.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_buf.h"
#include "bk_sink.h"
#include "walg_meta.h"

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

/* ---- files_metadata.json ---- */

static void write_fixture_files(struct walg_files_writer *w)
{
    static const uint32_t blocks[] = { 3, 7 };
    struct bk_error err = BK_ERROR_INIT;
    struct walg_file_desc d = { 0 };
    d.mtime_ns = INT64_C(1748739601500000000);
    ck_assert_int_eq(walg_files_writer_add_file(w, "/", &d, &err), BK_OK);
    d.mtime_ns = INT64_C(1746093600123456789);
    ck_assert_int_eq(walg_files_writer_add_file(w, "/PG_VERSION", &d, &err), BK_OK);
    d = (struct walg_file_desc){ 0 };
    d.is_incremented = true;
    d.mtime_ns = INT64_C(1748739599000000000);
    d.has_corrupt_blocks = true;
    d.corrupt_blocks_count = 2;
    d.some_corrupt_blocks = blocks;
    d.some_corrupt_blocks_len = 2;
    d.updates_count = 12;
    ck_assert_int_eq(walg_files_writer_add_file(w, "/base/5/1259", &d, &err), BK_OK);
    d = (struct walg_file_desc){ 0 };
    d.mtime_ns = INT64_C(1748739600000000000);
    ck_assert_int_eq(walg_files_writer_add_file(w, "/pg_wal", &d, &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_begin_tar_set(w, "backup_label.tar.lz4", &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_add_tar_entry(w, "tablespace_map", &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_add_tar_entry(w, "backup_label", &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_begin_tar_set(w, "part_001.tar.lz4", &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_add_tar_entry(w, "/", &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_add_tar_entry(w, "/PG_VERSION", &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_add_tar_entry(w, "/base/5/1259", &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_add_tar_entry(w, "/pg_wal", &err), BK_OK);
}

START_TEST(test_files_metadata_writer)
{
    struct walg_files_writer *w = NULL;
    struct bk_sink *sink = NULL;
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    struct walg_file_desc d = { 0 };
    char *want = slurp(FIX "files_metadata_local.json", NULL);
    bk_buf_init(&out, 1 << 20);
    ck_assert_int_eq(bk_sink_buf_new(&sink, &out, &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_new(&w, sink, &err), BK_OK);
    write_fixture_files(w);
    ck_assert_int_eq(walg_files_writer_add_file(w, "/late", &d, &err), BK_EINTERNAL);
    ck_assert_str_eq(err.message, "files must be added before tar sets");
    ck_assert_int_eq(walg_files_writer_finish(w, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&out), want);
    walg_files_writer_free(w);

    /* empty sections are omitted like Go's omitempty */
    bk_buf_reset(&out);
    ck_assert_int_eq(walg_files_writer_new(&w, sink, &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_finish(w, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&out), "{}");
    walg_files_writer_free(w);
    bk_buf_reset(&out);
    ck_assert_int_eq(walg_files_writer_new(&w, sink, &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_add_tar_entry(w, "x", &err), BK_EINTERNAL);
    ck_assert_int_eq(walg_files_writer_begin_tar_set(w, "part_001.tar.zst", &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_finish(w, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&out), "{\"TarFileSets\":{\"part_001.tar.zst\":[]}}");
    walg_files_writer_free(w);
    bk_sink_free(sink);
    bk_buf_free(&out);
    free(want);
}
END_TEST

START_TEST(test_files_metadata_reader_chunked)
{
    struct walg_files_meta_cbs cbs = { count_file, count_tar };
    struct bk_error err = BK_ERROR_INIT;
    struct bk_sink *reader = NULL;
    char log[1024] = "";
    size_t len;
    char *text = slurp(FIX "files_metadata_local.json", &len);
    const char *want = "F / 00 1748739601500000000 0;F /PG_VERSION 00 1746093600123456000 0;"
                       "F /base/5/1259 10 1748739599000000000 12 corrupt;F /pg_wal 00 1748739600000000000 0;"
                       "T backup_label.tar.lz4 tablespace_map;T backup_label.tar.lz4 backup_label;"
                       "T part_001.tar.lz4 /;T part_001.tar.lz4 /PG_VERSION;T part_001.tar.lz4 /base/5/1259;"
                       "T part_001.tar.lz4 /pg_wal;";
    ck_assert_int_eq(walg_files_meta_reader_new(&reader, &cbs, log, "fm", &err), BK_OK);
    for (size_t i = 0; i < len; i++)
        ck_assert_int_eq(bk_sink_write(reader, text + i, 1, &err), BK_OK);
    ck_assert_int_eq(bk_sink_finish(reader, &err), BK_OK);
    bk_sink_free(reader);
    ck_assert_str_eq(log, want);
    log[0] = '\0';
    ck_assert_int_eq(walg_files_meta_parse_buf(text, len, &cbs, log, "fm", &err), BK_OK);
    ck_assert_str_eq(log, want);
    free(text);
}
END_TEST

START_TEST(test_files_metadata_reader_bad)
{
    static const struct {
        const char *json;
        const char *message;
    } cases[] = {
        { "{\"Files\":{\"/a\":{\"IsSkipped\":\"no\"}}}", "files metadata field \"IsSkipped\" of \"/a\" must be a boolean" },
        { "{\"Files\":{\"/a\":{\"UpdatesCount\":-1}}}",
          "files metadata field \"UpdatesCount\" of \"/a\" must be a non-negative integer" },
        { "{\"Files\":{\"/a\":{\"UpdatesCount\":\"1\"}}}",
          "files metadata field \"UpdatesCount\" of \"/a\" must be a number" },
        { "{\"Files\":{\"/a\":{\"MTime\":\"now\"}}}", "files metadata field \"MTime\" of \"/a\" must be an RFC 3339 time" },
        { "{\"Files\":[]}", "files metadata field \"Files\" must be an object" },
        { "{\"Files\":{\"/a\":true}}", "files metadata entry \"/a\" must be an object" },
        { "{\"TarFileSets\":{\"part_001.tar.lz4\":[1]}}",
          "files metadata tar set \"part_001.tar.lz4\" must be an array of strings" },
        { "{\"TarFileSets\":{\"part_001.tar.lz4\":\"/a\"}}",
          "files metadata tar set \"part_001.tar.lz4\" must be an array of strings" },
        { "{\"Files\":{\"/a\":{\"IsSkipped\":true}", "files metadata is not valid JSON: truncated" },
        { "[]", "files metadata must be a JSON object" },
        { "{\"Files\":{\"/a\":{}},}", "files metadata is not valid JSON: unexpected '}' at byte 19" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bk_error err = BK_ERROR_INIT;
        ck_assert_msg(walg_files_meta_parse_buf(cases[i].json, strlen(cases[i].json), NULL, NULL, "fm", &err) ==
                      BK_EINVAL, "%s", cases[i].json);
        ck_assert_str_eq(err.message, cases[i].message);
        ck_assert_str_eq(err.object, "fm");
    }
}
END_TEST

START_TEST(test_files_metadata_skips_other_keys)
{
    struct walg_files_meta_cbs cbs = { count_file, count_tar };
    struct bk_error err = BK_ERROR_INIT;
    char log[1024] = "";
    const char *j = "{\"DatabasesByNames\":{\"db\":{\"oid\":5,\"tables_new\":{\"s.t\":{\"oid\":1,\"relfilenode\":2,"
                    "\"subtables\":{}}}}},\"files\":{\"/a\":null,\"/b\":{\"X\":[{}],\"UpdatesCount\":18446744073709551615}},"
                    "\"TarFileSets\":null}";
    ck_assert_int_eq(walg_files_meta_parse_buf(j, strlen(j), &cbs, log, "fm", &err), BK_OK);
    ck_assert_str_eq(log, "F /a 00 0 0;F /b 00 0 18446744073709551615;");
}
END_TEST

/* Writer -> reader with no buffer in between: 200,000 entries stream through. */
struct counter {
    size_t files;
    size_t tar_entries;
    uint64_t updates_sum;
};

static int count_only_file(void *payload, const char *name, const struct walg_file_desc *d, struct bk_error *err)
{
    struct counter *c = payload;
    (void)name;
    (void)err;
    c->files++;
    c->updates_sum += d->updates_count;
    return BK_OK;
}

static int count_only_tar(void *payload, const char *tar, const char *entry, struct bk_error *err)
{
    (void)tar;
    (void)entry;
    (void)err;
    ((struct counter *)payload)->tar_entries++;
    return BK_OK;
}

START_TEST(test_files_metadata_streaming_large)
{
    struct walg_files_meta_cbs cbs = { count_only_file, count_only_tar };
    struct counter c = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    struct bk_sink *reader = NULL;
    struct walg_files_writer *w = NULL;
    char name[64];
    ck_assert_int_eq(walg_files_meta_reader_new(&reader, &cbs, &c, "fm", &err), BK_OK);
    ck_assert_int_eq(walg_files_writer_new(&w, reader, &err), BK_OK);
    for (size_t i = 0; i < 200000; i++) {
        struct walg_file_desc d = { .mtime_ns = (int64_t)i * 1000, .updates_count = i };
        snprintf(name, sizeof(name), "/base/16384/%zu", i);
        ck_assert_int_eq(walg_files_writer_add_file(w, name, &d, &err), BK_OK);
    }
    ck_assert_int_eq(walg_files_writer_begin_tar_set(w, "part_001.tar.lz4", &err), BK_OK);
    for (size_t i = 0; i < 200000; i++) {
        snprintf(name, sizeof(name), "/base/16384/%zu", i);
        ck_assert_int_eq(walg_files_writer_add_tar_entry(w, name, &err), BK_OK);
    }
    ck_assert_int_eq(walg_files_writer_finish(w, &err), BK_OK);
    ck_assert_int_eq(bk_sink_finish(reader, &err), BK_OK);
    ck_assert_uint_eq(c.files, 200000);
    ck_assert_uint_eq(c.tar_entries, 200000);
    ck_assert_uint_eq(c.updates_sum, UINT64_C(199999) * 200000 / 2);
    walg_files_writer_free(w);
    bk_sink_free(reader);
}
END_TEST

/* ---- backupd_file_hashes.json ---- */

static int log_hash(void *payload, const char *name, const char *sha, uint64_t size, struct bk_error *err)
{
    char *log = payload;
    (void)err;
    snprintf(log + strlen(log), 1024 - strlen(log), "%s %.8s %llu;", name, sha, (unsigned long long)size);
    return BK_OK;
}

START_TEST(test_file_hashes_round_trip)
{
    static const char sha_a[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    static const char sha_b[] = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    struct walg_hashes_writer *w = NULL;
    struct bk_sink *sink = NULL;
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    char log[1024] = "";
    bk_buf_init(&out, 1 << 20);
    ck_assert_int_eq(bk_sink_buf_new(&sink, &out, &err), BK_OK);
    ck_assert_int_eq(walg_hashes_writer_new(&w, sink, &err), BK_OK);
    ck_assert_int_eq(walg_hashes_writer_add(w, "/PG_VERSION", sha_b, 3, &err), BK_OK);
    ck_assert_int_eq(walg_hashes_writer_add(w, "/base/1/<x>", sha_a, 0, &err), BK_OK);
    ck_assert_int_eq(walg_hashes_writer_add(w, "/bad", "E3B0", 0, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "\"E3B0\" is not a SHA-256 hex digest");
    ck_assert_int_eq(walg_hashes_writer_finish(w, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&out),
                     "{\"Version\":1,\"Algorithm\":\"sha256\",\"Files\":{\"/PG_VERSION\":{\"sha256\":\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\",\"size\":3},"
                     "\"/base/1/\\u003cx\\u003e\":{\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0}}}");
    ck_assert_int_eq(walg_hashes_parse_buf(out.data, out.len, log_hash, log, "h", &err), BK_OK);
    ck_assert_str_eq(log, "/PG_VERSION 2cf24dba 3;/base/1/<x> e3b0c442 0;");
    walg_hashes_writer_free(w);
    bk_sink_free(sink);
    bk_buf_free(&out);
}
END_TEST

START_TEST(test_file_hashes_bad)
{
    struct bk_error err = BK_ERROR_INIT;
    const char *v2 = "{\"Version\":2,\"Files\":{}}";
    const char *algo = "{\"Version\":1,\"Algorithm\":\"md5\",\"Files\":{}}";
    const char *nosize = "{\"Files\":{\"/a\":{\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}}}";
    const char *badsha = "{\"Files\":{\"/a\":{\"sha256\":\"xyz\",\"size\":1}}}";
    ck_assert_int_eq(walg_hashes_parse_buf(v2, strlen(v2), NULL, NULL, "h", &err), BK_EUNSUPPORTED);
    ck_assert_str_eq(err.message, "file hashes version 2 is not supported (newest known: 1)");
    ck_assert_int_eq(walg_hashes_parse_buf(algo, strlen(algo), NULL, NULL, "h", &err), BK_EUNSUPPORTED);
    ck_assert_str_eq(err.message, "file hashes algorithm \"md5\" is not supported");
    ck_assert_int_eq(walg_hashes_parse_buf(nosize, strlen(nosize), NULL, NULL, "h", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "file hashes entry \"/a\" needs \"sha256\" and \"size\"");
    ck_assert_int_eq(walg_hashes_parse_buf(badsha, strlen(badsha), NULL, NULL, "h", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "file hashes entry \"/a\" has a \"sha256\" that is not 64 lower-case hex digits");
    ck_assert_int_eq(walg_hashes_parse_buf("{\"Files\":{", 10, NULL, NULL, "h", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "file hashes is not valid JSON: truncated");
}
END_TEST

static Suite *walg_meta_files_suite(void)
{
    Suite *s = suite_create("walg_meta_files");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_files_metadata_writer);
    tcase_add_test(tc, test_files_metadata_reader_chunked);
    tcase_add_test(tc, test_files_metadata_reader_bad);
    tcase_add_test(tc, test_files_metadata_skips_other_keys);
    tcase_add_test(tc, test_files_metadata_streaming_large);
    tcase_add_test(tc, test_file_hashes_round_trip);
    tcase_add_test(tc, test_file_hashes_bad);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(walg_meta_files_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

/*
 * wal-push engine (backupd/engine/wal_push.c) against the local driver in a temp dir: stored
 * bytes decompress to the exact file, re-push of identical content succeeds, different content
 * is refused with the object untouched (under any extension), names are validated, and other
 * .ready files are pushed in the background with markers that make the next call return at once.
 */
#include <check.h>

#include "helpers/wal_testlib.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bk_crypto.h"
#include "bk_log.h"
#include "bk_sink.h"
#include "codec.h"
#include "storage.h"
#include "storage_config.h"
#include "wal_push.h"

#define SEG (16u * 1024 * 1024)

static char tmp_root[256];
static char pg_wal[512];
static char repo[512];
static struct storage *st;

/* ---- fixtures ---- */


/* A 16 MiB segment as PostgreSQL 15 writes it: page headers (XLOG_PAGE_MAGIC 0xD110, long
 * header on page 0) and compressible, seeded filler. */
static uint8_t *make_segment(const char *name, unsigned seed)
{
    uint8_t *seg = malloc(SEG);
    uint32_t tli;
    uint64_t start;
    uint32_t x = seed * 2654435761u + 1;
    static const char *const words[] = { "INSERT ", "pgbench_accounts ", "abalance ", "filler ", "UPDATE " };
    ck_assert_ptr_nonnull(seg);
    wal_test_parse_name(name, &tli, &start);
    for (size_t page = 0; page < SEG / 8192; page++) {
        uint8_t *p = seg + page * 8192;
        size_t hdr = wal_test_page_header(p, page, tli, start);
        for (size_t off = hdr; off < 8192;) {
            x = x * 1103515245u + 12345u;
            const char *w = words[(x >> 16) % 5];
            size_t n = strlen(w);
            if (n > 8192 - off)
                n = 8192 - off;
            memcpy(p + off, w, n);
            off += n;
            if (off + 4 <= 8192 && ((x >> 8) & 3) == 0) {
                memcpy(p + off, &x, 4);
                off += 4;
            }
        }
    }
    return seg;
}

static void wal_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", pg_wal, name);
}

static void obj_path(char *out, size_t cap, const char *key)
{
    snprintf(out, cap, "%s/%s", repo, key);
}

static uint8_t *put_segment(const char *name, unsigned seed)
{
    char path[768];
    uint8_t *seg = make_segment(name, seed);
    wal_path(path, sizeof(path), name);
    wal_test_write_file(path, seg, SEG);
    return seg;
}

static void mark_ready(const char *name)
{
    char path[768];
    snprintf(path, sizeof(path), "%s/archive_status/%s.ready", pg_wal, name);
    wal_test_write_file(path, "", 0);
}

/* Decompressed content of a stored object. */
static uint8_t *fetch_object(const char *key, enum codec_id codec, size_t *len)
{
    struct bk_buf buf;
    struct bk_sink *sink = NULL, *head = NULL;
    struct bk_error err = BK_ERROR_INIT;
    uint8_t *copy;
    bk_buf_init(&buf, 64u * 1024 * 1024);
    ck_assert_int_eq(bk_sink_buf_new(&sink, &buf, &err), BK_OK);
    ck_assert_int_eq(codec_decompress_new(&head, codec, sink, &err), BK_OK);
    ck_assert_int_eq(storage_get(st, key, 0, 0, head, &err), BK_OK);
    ck_assert_int_eq(bk_sink_finish(head, &err), BK_OK);
    bk_sink_free(head);
    copy = malloc(buf.len + 1);
    memcpy(copy, buf.data, buf.len);
    *len = buf.len;
    bk_buf_free(&buf);
    return copy;
}

static void store_object(const char *key, enum codec_id codec, const void *data, size_t len)
{
    struct bk_sink *put = NULL, *head = NULL;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(storage_put_stream(&put, st, key, NULL, &err), BK_OK);
    ck_assert_int_eq(codec_compress_new(&head, codec, NULL, put, &err), BK_OK);
    ck_assert_int_eq(bk_sink_write(head, data, len, &err), BK_OK);
    ck_assert_int_eq(bk_sink_finish(head, &err), BK_OK);
    bk_sink_free(head);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void setup(void)
{
    struct storage_config cfg;
    struct bk_error err = BK_ERROR_INIT;
    char url[600];
    char dir[600];
    const char *base = getenv("TEST_TMP") != NULL ? getenv("TEST_TMP") : "/tmp";
    snprintf(tmp_root, sizeof(tmp_root), "%s/wal_push_test.XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
    snprintf(pg_wal, sizeof(pg_wal), "%s/pg_wal", tmp_root);
    snprintf(repo, sizeof(repo), "%s/repo", tmp_root);
    ck_assert_int_eq(mkdir(pg_wal, 0700), 0);
    snprintf(dir, sizeof(dir), "%s/archive_status", pg_wal);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(mkdir(repo, 0700), 0);
    snprintf(url, sizeof(url), "file://%s", repo);
    storage_config_init(&cfg);
    ck_assert_int_eq(storage_config_parse_url(&cfg, url, &err), BK_OK);
    ck_assert_int_eq(storage_open(&st, &cfg, &err), BK_OK);
    storage_config_free(&cfg);
}

static void teardown(void)
{
    char cmd[600];
    storage_close(st);
    st = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
    ck_assert_int_eq(system(cmd), 0);
}

static struct wal_push_opts solo_opts(void)
{
    struct wal_push_opts o = WAL_PUSH_OPTS_INIT;
    o.concurrency = 1;
    return o;
}

/* ---- tests ---- */

START_TEST(push_stores_exact_bytes_as_zst)
{
    const char *name = "000000010000000000000003";
    struct wal_push_opts opts = solo_opts();
    struct wal_push_result res;
    struct bk_error err = BK_ERROR_INIT;
    char path[768];
    uint8_t *seg = put_segment(name, 1);
    uint8_t *got;
    size_t len;
    wal_path(path, sizeof(path), name);
    ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
    ck_assert_int_eq(res.outcome, WAL_PUSH_UPLOADED);
    ck_assert_str_eq(res.key, "wal_005/000000010000000000000003.zst");
    ck_assert_uint_eq(res.bytes, SEG);
    ck_assert_uint_gt(res.stored_bytes, 0);
    ck_assert_uint_lt(res.stored_bytes, SEG / 2);
    got = fetch_object("wal_005/000000010000000000000003.zst", CODEC_ZSTD, &len);
    ck_assert_uint_eq(len, SEG);
    ck_assert_int_eq(memcmp(got, seg, SEG), 0);
    {
        /* the object is a plain zstd frame: magic 28 B5 2F FD, as WAL-G writes */
        char obj[768];
        size_t olen;
        uint8_t *raw;
        obj_path(obj, sizeof(obj), "wal_005/000000010000000000000003.zst");
        raw = wal_test_read_file(obj, &olen);
        ck_assert_uint_eq(olen, res.stored_bytes);
        ck_assert_int_eq(memcmp(raw, "\x28\xB5\x2F\xFD", 4), 0);
        free(raw);
    }
    free(got);
    free(seg);
}
END_TEST

START_TEST(push_honours_each_method)
{
    static const struct { enum codec_id id; const char *key; } cases[] = {
        { CODEC_LZ4, "wal_005/000000010000000000000004.lz4" },
        { CODEC_LZMA, "wal_005/000000010000000000000005.lzma" },
        { CODEC_BROTLI, "wal_005/000000010000000000000006.br" },
        { CODEC_NONE, "wal_005/000000010000000000000007" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wal_push_opts opts = solo_opts();
        struct wal_push_result res;
        struct bk_error err = BK_ERROR_INIT;
        char name[25], path[768];
        uint8_t *seg, *got;
        size_t len;
        snprintf(name, sizeof(name), "00000001000000000000000%zu", i + 4);
        seg = put_segment(name, (unsigned)i + 10);
        wal_path(path, sizeof(path), name);
        opts.codec = cases[i].id;
        ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
        ck_assert_str_eq(res.key, cases[i].key);
        got = fetch_object(cases[i].key, cases[i].id, &len);
        ck_assert_uint_eq(len, SEG);
        ck_assert_int_eq(memcmp(got, seg, SEG), 0);
        free(got);
        free(seg);
    }
}
END_TEST

START_TEST(repush_identical_succeeds_without_rewriting)
{
    const char *name = "000000010000000000000003";
    struct wal_push_opts opts = solo_opts();
    struct wal_push_result res;
    struct bk_error err = BK_ERROR_INIT;
    char path[768], obj[768];
    struct stat before, after;
    uint8_t *seg = put_segment(name, 2);
    wal_path(path, sizeof(path), name);
    obj_path(obj, sizeof(obj), "wal_005/000000010000000000000003.zst");
    ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
    ck_assert_int_eq(stat(obj, &before), 0);
    ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
    ck_assert_int_eq(res.outcome, WAL_PUSH_ALREADY_ARCHIVED);
    ck_assert_str_eq(res.key, "wal_005/000000010000000000000003.zst");
    ck_assert_uint_eq(res.stored_bytes, 0);
    ck_assert_int_eq(stat(obj, &after), 0);
    ck_assert_uint_eq(after.st_ino, before.st_ino);   /* not replaced */
    free(seg);
}
END_TEST

START_TEST(different_content_is_refused_and_object_kept)
{
    const char *name = "000000010000000000000003";
    struct wal_push_opts opts = solo_opts();
    struct bk_error err = BK_ERROR_INIT;
    char path[768], obj[768];
    uint8_t *seg = put_segment(name, 3);
    uint8_t *stored_before, *stored_after;
    size_t len_before, len_after;
    wal_path(path, sizeof(path), name);
    obj_path(obj, sizeof(obj), "wal_005/000000010000000000000003.zst");
    ck_assert_int_eq(wal_push_file(st, path, &opts, NULL, &err), BK_OK);
    stored_before = wal_test_read_file(obj, &len_before);
    seg[SEG - 1] ^= 0x5A;   /* one byte differs */
    wal_test_write_file(path, seg, SEG);
    ck_assert_int_eq(wal_push_file(st, path, &opts, NULL, &err), BK_ECONFLICT);
    ck_assert_int_eq(err.code, BK_ECONFLICT);
    ck_assert_str_eq(err.message, "wal_005/000000010000000000000003 already exists with different content; refusing to overwrite");
    ck_assert_str_eq(err.object, "wal_005/000000010000000000000003.zst");
    stored_after = wal_test_read_file(obj, &len_after);
    ck_assert_uint_eq(len_after, len_before);
    ck_assert_int_eq(memcmp(stored_after, stored_before, len_before), 0);
    free(stored_before);
    free(stored_after);
    free(seg);
}
END_TEST

START_TEST(existing_object_under_other_extension_is_compared)
{
    struct wal_push_opts opts = solo_opts();
    struct wal_push_result res;
    struct bk_error err = BK_ERROR_INIT;
    char path[768], zst[768], lz4[768];
    uint8_t *seg = put_segment("000000010000000000000003", 4);
    uint8_t *other = make_segment("000000010000000000000003", 5);
    size_t len;
    uint8_t *kept;
    /* identical content stored by WAL-G as .lz4: success, and no second object */
    store_object("wal_005/000000010000000000000003.lz4", CODEC_LZ4, seg, SEG);
    wal_path(path, sizeof(path), "000000010000000000000003");
    obj_path(zst, sizeof(zst), "wal_005/000000010000000000000003.zst");
    ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
    ck_assert_int_eq(res.outcome, WAL_PUSH_ALREADY_ARCHIVED);
    ck_assert_str_eq(res.key, "wal_005/000000010000000000000003.lz4");
    ck_assert(!exists(zst));
    /* different content under .lz4: refused, nothing written under .zst */
    free(put_segment("000000010000000000000004", 6));
    store_object("wal_005/000000010000000000000004.lz4", CODEC_LZ4, other, SEG);
    wal_path(path, sizeof(path), "000000010000000000000004");
    ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_ECONFLICT);
    ck_assert_str_eq(err.message, "wal_005/000000010000000000000004 already exists with different content; refusing to overwrite");
    obj_path(zst, sizeof(zst), "wal_005/000000010000000000000004.zst");
    ck_assert(!exists(zst));
    obj_path(lz4, sizeof(lz4), "wal_005/000000010000000000000004.lz4");
    ck_assert(exists(lz4));
    kept = fetch_object("wal_005/000000010000000000000004.lz4", CODEC_LZ4, &len);
    ck_assert_uint_eq(len, SEG);
    ck_assert_int_eq(memcmp(kept, other, SEG), 0);
    free(kept);
    free(other);
    free(seg);
}
END_TEST

START_TEST(bad_names_are_rejected)
{
    static const char *const bad[] = { "RECOVERYXLOG", "00000001000000000000000g", "0000000100000000000000031",
                                       "00000001.HISTORY", "000000010000000000000003.partial.zst", "foo" };
    struct wal_push_opts opts = solo_opts();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bk_error err = BK_ERROR_INIT;
        char path[768], want[128];
        wal_path(path, sizeof(path), bad[i]);
        wal_test_write_file(path, "x", 1);
        ck_assert_int_eq(wal_push_file(st, path, &opts, NULL, &err), BK_EINVAL);
        snprintf(want, sizeof(want), "\"%s\" is not a WAL file name", bad[i]);
        ck_assert_str_eq(err.message, want);
    }
    {
        char dir[768];
        snprintf(dir, sizeof(dir), "%s/wal_005", repo);
        ck_assert(!exists(dir));
    }
}
END_TEST

START_TEST(history_partial_and_backup_files_are_pushed)
{
    static const char *const names[] = { "00000002.history", "000000010000000000000009.partial",
                                         "000000010000000000000003.00000028.backup" };
    static const char *const text = "1\t0/9000000\tno recovery target specified\n";
    struct wal_push_opts opts = solo_opts();
    for (size_t i = 0; i < 3; i++) {
        struct bk_error err = BK_ERROR_INIT;
        struct wal_push_result res;
        char path[768], key[128];
        size_t len;
        uint8_t *got;
        wal_path(path, sizeof(path), names[i]);
        wal_test_write_file(path, text, strlen(text));
        ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
        snprintf(key, sizeof(key), "wal_005/%s.zst", names[i]);
        ck_assert_str_eq(res.key, key);
        got = fetch_object(key, CODEC_ZSTD, &len);
        ck_assert_uint_eq(len, strlen(text));
        ck_assert_int_eq(memcmp(got, text, len), 0);
        free(got);
        /* a history file is never overwritten either */
        wal_test_write_file(path, "2\t0/A000000\tother\n", 18);
        ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_ECONFLICT);
    }
}
END_TEST

START_TEST(missing_file_and_readonly_codec)
{
    struct wal_push_opts opts = solo_opts();
    struct bk_error err = BK_ERROR_INIT;
    char path[768];
    wal_path(path, sizeof(path), "00000001000000000000000A");
    ck_assert_int_eq(wal_push_file(st, path, &opts, NULL, &err), BK_ENOTFOUND);
    free(put_segment("00000001000000000000000A", 7));
    opts.codec = CODEC_LZO;
    ck_assert_int_eq(wal_push_file(st, path, &opts, NULL, &err), BK_EUNSUPPORTED);
    ck_assert_str_eq(err.message, "lzo compression is not supported; it is read-only");
}
END_TEST

static unsigned count_dir(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    unsigned n = 0;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name), slen = strlen(suffix);
        if (de->d_name[0] != '.' && len >= slen && strcmp(de->d_name + len - slen, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

START_TEST(ready_files_are_pushed_in_background_with_markers)
{
    static const char *const names[] = { "000000010000000000000003", "000000010000000000000004",
                                         "000000010000000000000005", "000000010000000000000006",
                                         "00000001000000000000000B" };
    struct wal_push_opts opts = WAL_PUSH_OPTS_INIT;
    struct wal_push_result res;
    struct bk_error err = BK_ERROR_INIT;
    char path[768], marker[768], status[768], text[600];
    uint8_t *segs[5];
    for (int i = 0; i < 5; i++) {
        segs[i] = put_segment(names[i], 20u + (unsigned)i);
        mark_ready(names[i]);
    }
    opts.max_background = 3;   /* 03 is pushed by the call, 04..06 in the background, 0B waits */
    wal_path(path, sizeof(path), names[0]);
    ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
    ck_assert_int_eq(res.outcome, WAL_PUSH_UPLOADED);
    ck_assert_uint_eq(res.background_pushed, 3);
    ck_assert_uint_eq(res.background_failed, 0);
    for (int i = 0; i < 5; i++) {
        char key[64], obj[768];
        snprintf(key, sizeof(key), "wal_005/%s.zst", names[i]);
        obj_path(obj, sizeof(obj), key);
        ck_assert_msg(exists(obj) == (i < 4), "object %s", key);
    }
    /* markers: one per background file, none for the requested one; PostgreSQL's
     * archive_status is left alone (no .done written, every .ready still there) */
    snprintf(marker, sizeof(marker), "%s/.backupd/pushed", pg_wal);
    ck_assert_uint_eq(count_dir(marker, ""), 3);
    snprintf(status, sizeof(status), "%s/archive_status", pg_wal);
    ck_assert_uint_eq(count_dir(status, ".ready"), 5);
    ck_assert_uint_eq(count_dir(status, ".done"), 0);
    {
        uint8_t digest[BK_SHA256_LEN];
        char hex[65], want[200];
        size_t len;
        uint8_t *m;
        snprintf(marker, sizeof(marker), "%s/.backupd/pushed/%s", pg_wal, names[1]);
        m = wal_test_read_file(marker, &len);
        ck_assert_ptr_nonnull(m);
        snprintf(text, sizeof(text), "%.*s", (int)len, (char *)m);
        bk_sha256(segs[1], SEG, digest);
        bk_hex_encode(digest, BK_SHA256_LEN, hex);
        snprintf(want, sizeof(want), "sha256 %s\nkey wal_005/%s.zst\n", hex, names[1]);
        ck_assert_ptr_nonnull(strstr(text, want));
        ck_assert_ptr_nonnull(strstr(text, "size 16777216\n"));
        free(m);
    }
    /* PostgreSQL's own call for 04: answered from the marker, which is then consumed */
    wal_path(path, sizeof(path), names[1]);
    ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
    ck_assert_int_eq(res.outcome, WAL_PUSH_FROM_MARKER);
    ck_assert_uint_eq(res.bytes, SEG);
    ck_assert_uint_eq(res.background_pushed, 0);
    ck_assert(!exists(marker));
    /* 05 changed since its push (new mtime): the marker is not trusted, content is compared */
    {
        struct timespec times[2] = { { 0, UTIME_OMIT }, { 1000000000, 0 } };
        wal_path(path, sizeof(path), names[2]);
        ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
        opts.concurrency = 1;
        ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
        ck_assert_int_eq(res.outcome, WAL_PUSH_ALREADY_ARCHIVED);
    }
    for (int i = 0; i < 5; i++)
        free(segs[i]);
}
END_TEST

START_TEST(concurrency_one_pushes_only_the_file)
{
    struct wal_push_opts opts = solo_opts();
    struct wal_push_result res;
    struct bk_error err = BK_ERROR_INIT;
    char path[768], obj[768];
    uint8_t *a = put_segment("000000010000000000000003", 30);
    uint8_t *b = put_segment("000000010000000000000004", 31);
    mark_ready("000000010000000000000003");
    mark_ready("000000010000000000000004");
    wal_path(path, sizeof(path), "000000010000000000000003");
    ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
    ck_assert_uint_eq(res.background_pushed, 0);
    obj_path(obj, sizeof(obj), "wal_005/000000010000000000000004.zst");
    ck_assert(!exists(obj));
    free(a);
    free(b);
}
END_TEST

START_TEST(background_failure_does_not_fail_the_call)
{
    struct wal_push_opts opts = WAL_PUSH_OPTS_INIT;
    struct wal_push_result res;
    struct bk_error err = BK_ERROR_INIT;
    char path[768], marker[768];
    uint8_t *a = put_segment("000000010000000000000003", 40);
    uint8_t *b = put_segment("000000010000000000000004", 41);
    uint8_t *other = make_segment("000000010000000000000004", 42);
    store_object("wal_005/000000010000000000000004.zst", CODEC_ZSTD, other, SEG);   /* conflict */
    mark_ready("000000010000000000000003");
    mark_ready("000000010000000000000004");
    wal_path(path, sizeof(path), "000000010000000000000003");
    ck_assert_int_eq(wal_push_file(st, path, &opts, &res, &err), BK_OK);
    ck_assert_uint_eq(res.background_pushed, 0);
    ck_assert_uint_eq(res.background_failed, 1);
    snprintf(marker, sizeof(marker), "%s/.backupd/pushed/000000010000000000000004", pg_wal);
    ck_assert(!exists(marker));
    free(a);
    free(b);
    free(other);
}
END_TEST

static Suite *wal_push_suite(void)
{
    Suite *s = suite_create("wal_push");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, push_stores_exact_bytes_as_zst);
    tcase_add_test(tc, push_honours_each_method);
    tcase_add_test(tc, repush_identical_succeeds_without_rewriting);
    tcase_add_test(tc, different_content_is_refused_and_object_kept);
    tcase_add_test(tc, existing_object_under_other_extension_is_compared);
    tcase_add_test(tc, bad_names_are_rejected);
    tcase_add_test(tc, history_partial_and_backup_files_are_pushed);
    tcase_add_test(tc, missing_file_and_readonly_codec);
    tcase_add_test(tc, ready_files_are_pushed_in_background_with_markers);
    tcase_add_test(tc, concurrency_one_pushes_only_the_file);
    tcase_add_test(tc, background_failure_does_not_fail_the_call);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wal_push_suite());
    int failed;
    bk_log_configure(BK_LOG_WARN, BK_LOG_TEXT, "wal_push_test");
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

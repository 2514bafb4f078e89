/*
 * wal-fetch engine (restore/wal_fetch.c, restore/wal_prefetch.c) against the local driver in a
 * temp dir: byte-exact round trips for every codec and file kind, a WAL-E .lzo segment, "not
 * archived", corrupt objects that must not reach the destination, the prefetch cache (filled
 * synchronously and by the detached process, then served by rename), locks, and an unreachable
 * S3 endpoint that must fail within the deadline.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bk_log.h"
#include "bk_sink.h"
#include "bk_time.h"
#include "codec.h"
#include "storage.h"
#include "storage_config.h"
#include "wal_fetch.h"

#define SEG (16u * 1024 * 1024)
#define WALE_FIXTURE "/work/shared/fixtures/walg/wale_000000010000000000000024.decrypted.lzo"

static char tmp_root[256];
static char pg_wal[512];
static char repo[512];
static char dest[600];
static char state_dir[600];
static struct storage_config cfg;
static struct storage *st;


/* A 16 MiB PostgreSQL 15 segment (XLOG_PAGE_MAGIC 0xD110) for `name`; header_tli 0 = the name's. */
static uint8_t *make_segment_tli(const char *name, unsigned seed, unsigned header_tli)
{
    uint8_t *seg = malloc(SEG);
    uint32_t tli;
    uint64_t start;
    uint32_t x = seed * 2654435761u + 7;
    ck_assert_ptr_nonnull(seg);
    wal_test_parse_name(name, &tli, &start);
    if (header_tli != 0)
        tli = header_tli;
    for (size_t page = 0; page < SEG / 8192; page++) {
        uint8_t *p = seg + page * 8192;
        size_t hdr = wal_test_page_header(p, page, tli, start);
        for (size_t off = hdr; off < 8192; off++) {
            if ((off & 63) == 0)
                x = x * 1103515245u + 12345u;
            p[off] = (uint8_t)("WAL record body "[(off + (x >> 20)) & 15]);
        }
    }
    return seg;
}

static uint8_t *make_segment(const char *name, unsigned seed) { return make_segment_tli(name, seed, 0); }

static bool exists(const char *path) { return access(path, F_OK) == 0; }

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

static uint8_t *store_segment(const char *name, unsigned seed)
{
    char key[64];
    uint8_t *seg = make_segment(name, seed);
    snprintf(key, sizeof(key), "wal_005/%s.zst", name);
    store_object(key, CODEC_ZSTD, seg, SEG);
    return seg;
}

static void assert_dest_is(const uint8_t *want, size_t want_len)
{
    size_t len = 0;
    uint8_t *got = wal_test_read_file(dest, &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(len, want_len);
    ck_assert_int_eq(memcmp(got, want, want_len), 0);
    free(got);
}

/* Nothing but expected entries in pg_wal: no temp file left beside the destination. */
static unsigned count_tmp_in(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    unsigned n = 0;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".backupd-tmp-") != NULL)
            n++;
    closedir(d);
    return n;
}

/* Temp files beside the destination or in its state dir (<pg_wal>/.backupd). */
static unsigned count_tmp_files(const char *dir)
{
    char sub[700];
    snprintf(sub, sizeof(sub), "%s/.backupd", dir);
    return count_tmp_in(dir) + count_tmp_in(sub);
}

static struct wal_fetch_opts plain_opts(void)
{
    struct wal_fetch_opts o = WAL_FETCH_OPTS_INIT;
    o.prefetch = 0;
    return o;
}

static void setup(void)
{
    struct bk_error err = BK_ERROR_INIT;
    char url[600];
    const char *base = getenv("TEST_TMP") != NULL ? getenv("TEST_TMP") : "/tmp";
    snprintf(tmp_root, sizeof(tmp_root), "%s/wal_fetch_test.XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
    snprintf(pg_wal, sizeof(pg_wal), "%s/pg_wal", tmp_root);
    snprintf(repo, sizeof(repo), "%s/repo", tmp_root);
    snprintf(dest, sizeof(dest), "%s/RECOVERYXLOG", pg_wal);
    snprintf(state_dir, sizeof(state_dir), "%s/.backupd", pg_wal);
    ck_assert_int_eq(mkdir(pg_wal, 0700), 0);
    ck_assert_int_eq(mkdir(repo, 0700), 0);
    snprintf(url, sizeof(url), "file://%s", repo);
    storage_config_init(&cfg);
    ck_assert_int_eq(storage_config_parse_url(&cfg, url, &err), BK_OK);
    ck_assert_int_eq(storage_open(&st, &cfg, &err), BK_OK);
}

static void teardown(void)
{
    char cmd[600];
    storage_close(st);
    st = NULL;
    storage_config_free(&cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- round trips ---- */

START_TEST(segment_round_trip_every_codec)
{
    static const enum codec_id codecs[] = { CODEC_ZSTD, CODEC_LZ4, CODEC_LZMA, CODEC_BROTLI, CODEC_NONE };
    static const char *const keys[] = { "wal_005/000000010000000000000003.zst", "wal_005/000000010000000000000004.lz4",
                                        "wal_005/000000010000000000000005.lzma", "wal_005/000000010000000000000006.br",
                                        "wal_005/000000010000000000000007" };
    for (size_t i = 0; i < 5; i++) {
        struct wal_fetch_opts opts = plain_opts();
        struct wal_fetch_result res;
        struct bk_error err = BK_ERROR_INIT;
        char name[25];
        uint8_t *seg;
        snprintf(name, sizeof(name), "%.24s", keys[i] + 8);
        seg = make_segment(name, (unsigned)i + 1);
        store_object(keys[i], codecs[i], seg, SEG);
        ck_assert_int_eq(wal_fetch_file(st, name, dest, &opts, &res, &err), BK_OK);
        ck_assert_str_eq(res.key, keys[i]);
        ck_assert_uint_eq(res.bytes, SEG);
        ck_assert(!res.from_cache);
        ck_assert_int_eq(res.prefetch_pid, 0);
        assert_dest_is(seg, SEG);
        ck_assert_uint_eq(count_tmp_files(pg_wal), 0);
        free(seg);
    }
}
END_TEST

START_TEST(history_and_backup_label_round_trip)
{
    static const char *const text = "1\t0/3000000\tno recovery target specified\n";
    struct wal_fetch_opts opts = plain_opts();
    struct wal_fetch_result res;
    struct bk_error err = BK_ERROR_INIT;
    char hist_dest[700];
    snprintf(hist_dest, sizeof(hist_dest), "%s/RECOVERYHISTORY", pg_wal);
    store_object("wal_005/00000002.history.lz4", CODEC_LZ4, text, strlen(text));
    ck_assert_int_eq(wal_fetch_file(st, "00000002.history", hist_dest, &opts, &res, &err), BK_OK);
    ck_assert_str_eq(res.key, "wal_005/00000002.history.lz4");
    ck_assert_uint_eq(res.bytes, strlen(text));
    {
        size_t len;
        uint8_t *got = wal_test_read_file(hist_dest, &len);
        ck_assert_uint_eq(len, strlen(text));
        ck_assert_int_eq(memcmp(got, text, len), 0);
        free(got);
    }
    store_object("wal_005/000000010000000000000003.00000028.backup.zst", CODEC_ZSTD, text, strlen(text));
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000003.00000028.backup", dest, &opts, &res, &err), BK_OK);
    assert_dest_is((const uint8_t *)text, strlen(text));
}
END_TEST

START_TEST(wale_lzo_segment_is_read)
{
    struct wal_fetch_opts opts = plain_opts();
    struct wal_fetch_result res;
    struct bk_error err = BK_ERROR_INIT;
    char obj[700];
    size_t len;
    uint8_t *lzo = wal_test_read_file(WALE_FIXTURE, &len);
    uint8_t *got;
    ck_assert_ptr_nonnull(lzo);
    snprintf(obj, sizeof(obj), "%s/wal_005", repo);
    ck_assert_int_eq(mkdir(obj, 0700), 0);
    snprintf(obj, sizeof(obj), "%s/wal_005/000000010000000000000024.lzo", repo);
    wal_test_write_file(obj, lzo, len);
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000024", dest, &opts, &res, &err), BK_OK);
    ck_assert_str_eq(res.key, "wal_005/000000010000000000000024.lzo");
    ck_assert_uint_eq(res.bytes, 16777216);
    ck_assert_uint_eq(res.stored_bytes, len);
    got = wal_test_read_file(dest, &len);
    ck_assert_uint_eq(len, 16777216);
    ck_assert_int_eq(got[0] | got[1] << 8, 0xD093);       /* PostgreSQL 9.x page magic */
    ck_assert_int_eq(got[4], 1);                          /* timeline 1 */
    ck_assert_int_eq(got[11], 0x24);                      /* page address 0/24000000 */
    free(got);
    free(lzo);
    {
        /* the extension that worked is tried first next time */
        char memo[700];
        size_t mlen;
        uint8_t *m;
        snprintf(memo, sizeof(memo), "%s/fetch_ext", state_dir);
        m = wal_test_read_file(memo, &mlen);
        ck_assert_ptr_nonnull(m);
        ck_assert_uint_eq(mlen, 3);
        ck_assert_int_eq(memcmp(m, "lzo", 3), 0);
        free(m);
    }
}
END_TEST

/* ---- failures ---- */

START_TEST(missing_object_is_not_found)
{
    struct wal_fetch_opts opts = plain_opts();
    struct bk_error err = BK_ERROR_INIT;
    char want[600];
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000003", dest, &opts, NULL, &err), BK_ENOTFOUND);
    snprintf(want, sizeof(want), "\"000000010000000000000003\" is not in the archive "
             "(no wal_005/000000010000000000000003[.lz4|.lzma|.br|.lzo|.zst] in file://%s)", repo);
    ck_assert_str_eq(err.message, want);
    ck_assert_int_eq(bk_code_exit_status(err.code), 74);
    ck_assert(!exists(dest));
    ck_assert_uint_eq(count_tmp_files(pg_wal), 0);
    ck_assert_int_eq(wal_fetch_file(st, "00000005.history", dest, &opts, NULL, &err), BK_ENOTFOUND);
    {
        /* a local failure is never "not archived", even when errno is ENOENT */
        char nodir[700];
        uint8_t *seg = store_segment("000000010000000000000003", 5);
        snprintf(nodir, sizeof(nodir), "%s/missing-dir/RECOVERYXLOG", tmp_root);
        ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000003", nodir, &opts, NULL, &err), BK_EIO);
        ck_assert_int_eq(err.sys_errno, ENOENT);
        free(seg);
    }
}
END_TEST

START_TEST(bad_names_are_rejected)
{
    static const char *const bad[] = { "RECOVERYXLOG", "0000000100000000000000zz", "00000001.history.zst", "" };
    struct wal_fetch_opts opts = plain_opts();
    for (size_t i = 0; i < 4; i++) {
        struct bk_error err = BK_ERROR_INIT;
        char want[128];
        ck_assert_int_eq(wal_fetch_file(st, bad[i], dest, &opts, NULL, &err), BK_EINVAL);
        snprintf(want, sizeof(want), "\"%s\" is not a WAL file name", bad[i]);
        ck_assert_str_eq(err.message, want);
    }
    ck_assert(!exists(dest));
}
END_TEST

START_TEST(corrupt_objects_never_reach_dest)
{
    struct wal_fetch_opts opts = plain_opts();
    struct bk_error err = BK_ERROR_INIT;
    char obj[700];
    size_t len;
    uint8_t *seg = store_segment("000000010000000000000003", 50);
    uint8_t *raw;
    /* 1: truncated zstd object */
    snprintf(obj, sizeof(obj), "%s/wal_005/000000010000000000000003.zst", repo);
    raw = wal_test_read_file(obj, &len);
    wal_test_write_file(obj, raw, len / 2);
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000003", dest, &opts, NULL, &err), BK_ECORRUPT);
    ck_assert(!exists(dest));
    ck_assert_uint_eq(count_tmp_files(pg_wal), 0);
    free(raw);
    /* 2: a segment stored under the wrong name (page address of 03 under 04) */
    store_object("wal_005/000000010000000000000004.zst", CODEC_ZSTD, seg, SEG);
    bk_error_clear(&err);
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000004", dest, &opts, NULL, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "wal_005/000000010000000000000004.zst has page address 0/3000000, expected 0/4000000 for its name");
    ck_assert(!exists(dest));
    free(seg);
    /* 3: header timeline newer than the name's */
    seg = make_segment_tli("000000010000000000000005", 51, 2);
    store_object("wal_005/000000010000000000000005.zst", CODEC_ZSTD, seg, SEG);
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000005", dest, &opts, NULL, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "wal_005/000000010000000000000005.zst has page timeline 2, which does not fit timeline 1 of its name");
    free(seg);
    /* 4: too short (1 MiB), and zero-filled (no header) */
    seg = make_segment("000000010000000000000006", 52);
    store_object("wal_005/000000010000000000000006.zst", CODEC_ZSTD, seg, 1024 * 1024);
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000006", dest, &opts, NULL, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "\"wal_005/000000010000000000000006.zst\" decompressed to 1048576 bytes, expected a 16777216-byte segment");
    memset(seg, 0, SEG);
    store_object("wal_005/000000010000000000000007.zst", CODEC_ZSTD, seg, SEG);
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000007", dest, &opts, NULL, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "wal_005/000000010000000000000007.zst does not start with a WAL segment header (magic 0x0000, info 0x0000)");
    free(seg);
    /* 5: configured for 1 MiB segments, the object holds 16 MiB */
    seg = store_segment("000000010000000000000008", 53);
    opts.seg_size = 1024 * 1024;
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000008", dest, &opts, NULL, &err), BK_ECORRUPT);
    {
        char want[900];
        snprintf(want, sizeof(want), "fetching \"000000010000000000000008\" from file://%s: "
                 "\"wal_005/000000010000000000000008.zst\" decompresses to more than 1048576 bytes", repo);
        ck_assert_str_eq(err.message, want);
    }
    ck_assert(!exists(dest));
    ck_assert_uint_eq(count_tmp_files(pg_wal), 0);
    free(seg);
}
END_TEST

START_TEST(a_timeline_switch_segment_is_accepted)
{
    /* the first segment of timeline 2 starts as a copy of timeline 1's: page tli 1 is fine */
    struct wal_fetch_opts opts = plain_opts();
    struct bk_error err = BK_ERROR_INIT;
    uint8_t *seg = make_segment_tli("000000020000000000000005", 60, 1);
    store_object("wal_005/000000020000000000000005.zst", CODEC_ZSTD, seg, SEG);
    ck_assert_int_eq(wal_fetch_file(st, "000000020000000000000005", dest, &opts, NULL, &err), BK_OK);
    assert_dest_is(seg, SEG);
    free(seg);
}
END_TEST

START_TEST(unreachable_storage_fails_within_deadline)
{
    struct storage_config s3;
    struct storage *s3st = NULL;
    struct wal_fetch_opts opts = plain_opts();
    struct bk_error err = BK_ERROR_INIT;
    int64_t start;
    int64_t elapsed;
    const long deadline_ms = 1500;
    storage_config_init(&s3);
    ck_assert_int_eq(storage_config_parse_url(&s3, "s3://walbucket/cluster1", &err), BK_OK);
    s3.s3_endpoint = strdup("http://127.0.0.1:1");
    s3.s3_region = strdup("us-east-1");
    s3.s3_force_path_style = true;
    s3.s3_access_key_id = strdup("AKIDTEST");
    s3.s3_secret_access_key = strdup("secret-test-key");
    s3.http.max_attempts = 1000;           /* only the deadline stops the retries */
    s3.http.deadline_ms = deadline_ms;
    s3.http.request_timeout_ms = deadline_ms;
    ck_assert_int_eq(storage_open(&s3st, &s3, &err), BK_OK);
    opts.deadline_ms = deadline_ms;
    start = bk_time_mono_ms();
    ck_assert_int_eq(wal_fetch_file(s3st, "000000010000000000000003", dest, &opts, NULL, &err), BK_ETIMEOUT);
    elapsed = bk_time_mono_ms() - start;
    ck_assert_int_lt(elapsed, deadline_ms + 2000);
    ck_assert_ptr_nonnull(strstr(err.message, "gave up fetching \"000000010000000000000003\" from s3://walbucket/cluster1 after "));
    ck_assert_ptr_nonnull(strstr(err.message, "(deadline 1500 ms)"));
    ck_assert_int_ne(bk_code_exit_status(err.code), 74);
    ck_assert(!exists(dest));
    storage_close(s3st);
    storage_config_free(&s3);
}
END_TEST

/* ---- prefetch ---- */

START_TEST(prefetch_fills_cache_and_fetch_takes_it)
{
    struct wal_fetch_opts opts = plain_opts();
    struct wal_prefetch_result pres;
    struct wal_fetch_result res;
    struct bk_error err = BK_ERROR_INIT;
    char cached[700], key[64];
    uint8_t *segs[4];
    int64_t start;
    for (int i = 0; i < 4; i++) {
        char name[25];
        snprintf(name, sizeof(name), "00000001000000000000000%d", i + 3);
        segs[i] = store_segment(name, 70u + (unsigned)i);
    }
    opts.prefetch = 2;
    ck_assert_int_eq(wal_prefetch_run(st, "000000010000000000000003", state_dir, &opts, &pres, &err), BK_OK);
    ck_assert_uint_eq(pres.fetched, 2);
    ck_assert_uint_eq(pres.present, 0);
    ck_assert_uint_eq(pres.missing, 0);
    snprintf(cached, sizeof(cached), "%s/prefetch/000000010000000000000004", state_dir);
    ck_assert(exists(cached));
    snprintf(cached, sizeof(cached), "%s/prefetch/000000010000000000000006", state_dir);
    ck_assert(!exists(cached));
    /* the object is gone from storage: only the cache can serve it now */
    snprintf(key, sizeof(key), "wal_005/000000010000000000000004.zst");
    ck_assert_int_eq(storage_remove(st, key, &err), BK_OK);
    start = bk_time_mono_ms();
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000004", dest, &opts, &res, &err), BK_OK);
    ck_assert_int_lt(bk_time_mono_ms() - start, 50);
    ck_assert(res.from_cache);
    ck_assert_str_eq(res.key, "");
    assert_dest_is(segs[1], SEG);
    snprintf(cached, sizeof(cached), "%s/prefetch/000000010000000000000004", state_dir);
    ck_assert(!exists(cached));   /* moved, not copied */
    /* a second run skips what is cached and prunes what recovery has passed */
    ck_assert_int_eq(wal_prefetch_run(st, "000000010000000000000004", state_dir, &opts, &pres, &err), BK_OK);
    ck_assert_uint_eq(pres.present, 1);     /* 05 */
    ck_assert_uint_eq(pres.fetched, 1);     /* 06 */
    for (int i = 0; i < 4; i++)
        free(segs[i]);
}
END_TEST

START_TEST(prefetch_stops_at_the_first_missing_segment)
{
    struct wal_fetch_opts opts = plain_opts();
    struct wal_prefetch_result pres;
    struct bk_error err = BK_ERROR_INIT;
    uint8_t *a = store_segment("000000010000000000000006", 80);
    /* after a gap, beyond the first batch of 4 parallel tries: never reached */
    uint8_t *b = store_segment("00000001000000000000000D", 81);
    char cached[700];
    opts.prefetch = 8;
    ck_assert_int_eq(wal_prefetch_run(st, "000000010000000000000005", state_dir, &opts, &pres, &err), BK_OK);
    ck_assert_uint_eq(pres.fetched, 1);
    ck_assert_uint_ge(pres.missing, 1);
    ck_assert_uint_le(pres.missing, 3);
    ck_assert_uint_eq(pres.failed, 0);
    ck_assert_uint_eq(pres.present, 0);
    snprintf(cached, sizeof(cached), "%s/prefetch/00000001000000000000000D", state_dir);
    ck_assert(!exists(cached));
    free(a);
    free(b);
}
END_TEST

START_TEST(prefetch_respects_live_locks_and_takes_stale_ones)
{
    struct wal_fetch_opts opts = plain_opts();
    struct wal_prefetch_result pres;
    struct bk_error err = BK_ERROR_INIT;
    char lock[700], cached[700], text[32];
    uint8_t *a = store_segment("000000010000000000000004", 90);
    uint8_t *b = store_segment("000000010000000000000005", 91);
    opts.prefetch = 2;
    snprintf(lock, sizeof(lock), "%s/prefetch/running", state_dir);
    ck_assert_int_eq(system((snprintf(cached, sizeof(cached), "mkdir -p '%s'", lock), cached)), 0);
    /* 04 is locked by a live process (us): skipped; 05's lock holder is dead: taken over */
    snprintf(lock, sizeof(lock), "%s/prefetch/running/000000010000000000000004", state_dir);
    snprintf(text, sizeof(text), "%d\n", (int)getpid());
    wal_test_write_file(lock, text, strlen(text));
    snprintf(lock, sizeof(lock), "%s/prefetch/running/000000010000000000000005", state_dir);
    wal_test_write_file(lock, "2147483646\n", 11);
    ck_assert_int_eq(wal_prefetch_run(st, "000000010000000000000003", state_dir, &opts, &pres, &err), BK_OK);
    ck_assert_uint_eq(pres.present, 1);
    ck_assert_uint_eq(pres.fetched, 1);
    snprintf(cached, sizeof(cached), "%s/prefetch/000000010000000000000004", state_dir);
    ck_assert(!exists(cached));
    snprintf(cached, sizeof(cached), "%s/prefetch/000000010000000000000005", state_dir);
    ck_assert(exists(cached));
    ck_assert(!exists(lock));   /* released after the fetch */
    free(a);
    free(b);
}
END_TEST

START_TEST(a_bad_cache_file_is_dropped_and_storage_used)
{
    struct wal_fetch_opts opts = plain_opts();
    struct wal_fetch_result res;
    struct bk_error err = BK_ERROR_INIT;
    char cached[700];
    uint8_t *seg = store_segment("000000010000000000000004", 95);
    snprintf(cached, sizeof(cached), "%s/prefetch", state_dir);
    ck_assert_int_eq(system((snprintf(dest, sizeof(dest), "mkdir -p '%s'", cached), dest)), 0);
    snprintf(dest, sizeof(dest), "%s/RECOVERYXLOG", pg_wal);
    snprintf(cached, sizeof(cached), "%s/prefetch/000000010000000000000004", state_dir);
    wal_test_write_file(cached, seg, SEG / 2);   /* e.g. left by a crash without fsync */
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000004", dest, &opts, &res, &err), BK_OK);
    ck_assert(!res.from_cache);
    ck_assert_str_eq(res.key, "wal_005/000000010000000000000004.zst");
    assert_dest_is(seg, SEG);
    ck_assert(!exists(cached));
    free(seg);
}
END_TEST

START_TEST(fetch_starts_a_detached_prefetch)
{
    struct wal_fetch_opts opts = plain_opts();
    struct wal_fetch_result res;
    struct bk_error err = BK_ERROR_INIT;
    char c4[700], c5[700], c6[700];
    uint8_t *segs[3];
    int64_t start;
    for (int i = 0; i < 3; i++) {
        char name[25];
        snprintf(name, sizeof(name), "00000001000000000000000%d", i + 3);
        segs[i] = store_segment(name, 100u + (unsigned)i);
    }
    opts.prefetch = 2;
    opts.prefetch_storage = &cfg;
    start = bk_time_mono_ms();
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000003", dest, &opts, &res, &err), BK_OK);
    ck_assert_int_gt(res.prefetch_pid, 0);
    ck_assert(!res.from_cache);
    assert_dest_is(segs[0], SEG);
    snprintf(c4, sizeof(c4), "%s/prefetch/000000010000000000000004", state_dir);
    snprintf(c5, sizeof(c5), "%s/prefetch/000000010000000000000005", state_dir);
    snprintf(c6, sizeof(c6), "%s/prefetch/000000010000000000000006", state_dir);
    while ((!exists(c4) || !exists(c5)) && bk_time_mono_ms() - start < 20000)
        nanosleep(&(struct timespec){ 0, 20 * 1000000L }, NULL);
    ck_assert(exists(c4));
    ck_assert(exists(c5));
    ck_assert(!exists(c6));
    {
        /* the prefetch process is our child: it ends by itself, successfully */
        int status = -1;
        ck_assert_int_eq(waitpid(res.prefetch_pid, &status, 0), res.prefetch_pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    opts.prefetch = 0;
    ck_assert_int_eq(wal_fetch_file(st, "000000010000000000000005", dest, &opts, &res, &err), BK_OK);
    ck_assert(res.from_cache);
    assert_dest_is(segs[2], SEG);
    for (int i = 0; i < 3; i++)
        free(segs[i]);
}
END_TEST

static Suite *wal_fetch_suite(void)
{
    Suite *s = suite_create("wal_fetch");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, segment_round_trip_every_codec);
    tcase_add_test(tc, history_and_backup_label_round_trip);
    tcase_add_test(tc, wale_lzo_segment_is_read);
    tcase_add_test(tc, missing_object_is_not_found);
    tcase_add_test(tc, bad_names_are_rejected);
    tcase_add_test(tc, corrupt_objects_never_reach_dest);
    tcase_add_test(tc, a_timeline_switch_segment_is_accepted);
    tcase_add_test(tc, unreachable_storage_fails_within_deadline);
    tcase_add_test(tc, prefetch_fills_cache_and_fetch_takes_it);
    tcase_add_test(tc, prefetch_stops_at_the_first_missing_segment);
    tcase_add_test(tc, prefetch_respects_live_locks_and_takes_stale_ones);
    tcase_add_test(tc, a_bad_cache_file_is_dropped_and_storage_used);
    tcase_add_test(tc, fetch_starts_a_detached_prefetch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wal_fetch_suite());
    int failed;
    bk_log_configure(BK_LOG_WARN, BK_LOG_TEXT, "wal_fetch_test");
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

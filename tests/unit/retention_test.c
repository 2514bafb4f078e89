/* retention: delete retain/before on a crafted file:// repository; backup-mark. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "retention.h"
#include "storage.h"
#include "storage_config.h"
#include "walg_meta.h"
#include "walg_names.h"

static char root[64];
static struct storage *st;

static const char *empty_env(const char *name) { (void)name; return NULL; }

static void put_backup(const char *seg, int64_t mtime_s, bool permanent, uint64_t start_lsn, uint64_t finish_lsn)
{
    struct bk_error err = BK_ERROR_INIT;
    struct walg_metadata m;
    struct bk_buf json;
    char key[256], path[512];
    struct timespec ts[2] = { { mtime_s, 0 }, { mtime_s, 0 } };
    memset(&m, 0, sizeof(m));
    m.pg_version = 150000;
    m.start_lsn = start_lsn;
    m.finish_lsn = finish_lsn;
    m.is_permanent = permanent;
    bk_buf_init(&json, 65536);
    ck_assert_int_eq(walg_metadata_write(&m, &json, &err), BK_OK);
    snprintf(key, sizeof(key), "basebackups_005/base_%s/metadata.json", seg);
    ck_assert_int_eq(storage_put_buf(st, key, json.data, json.len, NULL, &err), BK_OK);
    snprintf(key, sizeof(key), "basebackups_005/base_%s/tar_partitions/part_001.tar.zst", seg);
    ck_assert_int_eq(storage_put_buf(st, key, "x", 1, NULL, &err), BK_OK);
    snprintf(key, sizeof(key), "basebackups_005/base_%s_backup_stop_sentinel.json", seg);
    ck_assert_int_eq(storage_put_buf(st, key, "{}", 2, NULL, &err), BK_OK);
    snprintf(path, sizeof(path), "%s/%s", root, key);
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
    bk_buf_free(&json);
}

static bool exists(const char *key)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", root, key);
    return stat(path, &sb) == 0;
}

static void setup(void)
{
    struct storage_config cfg;
    struct bk_error err = BK_ERROR_INIT;
    char url[96];
    snprintf(root, sizeof(root), "/tmp/retention-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(url, sizeof(url), "file://%s", root);
    storage_config_init(&cfg);
    ck_assert_int_eq(storage_config_load(&cfg, url, empty_env, &err), BK_OK);
    ck_assert_int_eq(storage_open(&st, &cfg, &err), BK_OK);
    storage_config_free(&cfg);
    put_backup("000000010000000000000002", 1000, false, 0x02000028, 0x02000100);
    put_backup("000000010000000000000004", 2000, true, 0x04000028, 0x04000100);
    put_backup("000000010000000000000006", 3000, false, 0x06000028, 0x06000100);
    put_backup("000000010000000000000008", 4000, false, 0x08000028, 0x08000100);
    for (int seg = 1; seg <= 10; seg++) {
        char key[128];
        snprintf(key, sizeof(key), "wal_005/0000000100000000000000%02X.zst", seg);
        ck_assert_int_eq(storage_put_buf(st, key, "w", 1, NULL, &err), BK_OK);
    }
    ck_assert_int_eq(storage_put_buf(st, "wal_005/00000002.history.zst", "h", 1, NULL, &err), BK_OK);
}

static void teardown(void)
{
    char cmd[128];
    storage_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

static char report_text[8192];
static void collect(void *payload, const char *line)
{
    (void)payload;
    strncat(report_text, line, sizeof(report_text) - strlen(report_text) - 2);
    strcat(report_text, "\n");
}

START_TEST(test_retain_dry_run_deletes_nothing)
{
    struct retention_opts o = { RETENTION_RETAIN, 2, NULL, 0, false, 0 };
    struct retention_result r;
    struct bk_error err = BK_ERROR_INIT;
    report_text[0] = '\0';
    ck_assert_int_eq(retention_run(&r, st, &o, collect, NULL, &err), BK_OK);
    ck_assert_uint_eq(r.backups_deleted, 1);
    ck_assert_uint_eq(r.wal_deleted, 4);
    ck_assert(exists("basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json"));
    ck_assert(exists("wal_005/000000010000000000000001.zst"));
    ck_assert_msg(strstr(report_text, "would delete backup base_000000010000000000000002\n") != NULL, "%s", report_text);
    ck_assert_msg(strstr(report_text, "keep backup base_000000010000000000000004 (permanent)\n") != NULL, "%s", report_text);
    ck_assert_msg(strstr(report_text, "(dry run: add --confirm to delete)") != NULL, "%s", report_text);
}
END_TEST

START_TEST(test_retain_confirmed_keeps_needed_wal)
{
    struct retention_opts o = { RETENTION_RETAIN, 2, NULL, 0, true, 0 };
    struct retention_result r;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(retention_run(&r, st, &o, NULL, NULL, &err), BK_OK);
    ck_assert_uint_eq(r.backups_deleted, 1);
    ck_assert_uint_eq(r.backups_kept, 3);
    ck_assert(!exists("basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json"));
    ck_assert(!exists("basebackups_005/base_000000010000000000000002/metadata.json"));
    ck_assert(exists("basebackups_005/base_000000010000000000000004_backup_stop_sentinel.json"));
    ck_assert(exists("basebackups_005/base_000000010000000000000006/tar_partitions/part_001.tar.zst"));
    /* below the boundary (segment 6) WAL goes, except the permanent backup's segment 4 */
    ck_assert(!exists("wal_005/000000010000000000000001.zst"));
    ck_assert(!exists("wal_005/000000010000000000000003.zst"));
    ck_assert(!exists("wal_005/000000010000000000000005.zst"));
    ck_assert(exists("wal_005/000000010000000000000004.zst"));
    ck_assert(exists("wal_005/000000010000000000000006.zst"));
    ck_assert(exists("wal_005/00000001000000000000000A.zst"));
    ck_assert(exists("wal_005/00000002.history.zst"));
}
END_TEST

START_TEST(test_before_name_and_bad_input)
{
    struct retention_opts o = { RETENTION_BEFORE_NAME, 0, "base_000000010000000000000008", 0, true, 0 };
    struct retention_opts missing = { RETENTION_BEFORE_NAME, 0, "base_0000000100000000000000FF", 0, true, 0 };
    struct retention_opts zero = { RETENTION_RETAIN, 0, NULL, 0, true, 0 };
    struct retention_opts all = { RETENTION_BEFORE_TIME, 0, NULL, 5000LL * 1000000, true, 0 };
    struct retention_result r;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(retention_run(&r, st, &missing, NULL, NULL, &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.message, "backup \"base_0000000100000000000000FF\" not found");
    ck_assert_int_eq(retention_run(&r, st, &zero, NULL, NULL, &err), BK_EINVAL);
    ck_assert_int_eq(retention_run(&r, st, &all, NULL, NULL, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "every backup is older than the given time; refusing to delete them all");
    ck_assert(exists("basebackups_005/base_000000010000000000000002_backup_stop_sentinel.json"));
    ck_assert_int_eq(retention_run(&r, st, &o, NULL, NULL, &err), BK_OK);
    ck_assert_uint_eq(r.backups_deleted, 2);   /* 02 and 06; 04 is permanent */
    ck_assert(exists("basebackups_005/base_000000010000000000000004_backup_stop_sentinel.json"));
    ck_assert(!exists("basebackups_005/base_000000010000000000000006_backup_stop_sentinel.json"));
    ck_assert(!exists("wal_005/000000010000000000000007.zst"));
    ck_assert(exists("wal_005/000000010000000000000008.zst"));
}
END_TEST

START_TEST(test_backup_mark)
{
    struct bk_error err = BK_ERROR_INIT;
    struct retention_opts o = { RETENTION_RETAIN, 1, NULL, 0, true, 0 };
    struct retention_result r;
    ck_assert_int_eq(retention_mark(st, "base_000000010000000000000006", true, &err), BK_OK);
    ck_assert_int_eq(retention_mark(st, "base_000000010000000000000004", false, &err), BK_OK);
    ck_assert_int_eq(retention_mark(st, "base_0000000100000000000000EE", true, &err), BK_ENOTFOUND);
    ck_assert_msg(retention_run(&r, st, &o, NULL, NULL, &err) == BK_OK, "retention: %s", err.message);
    ck_assert(exists("basebackups_005/base_000000010000000000000006_backup_stop_sentinel.json"));
    ck_assert(!exists("basebackups_005/base_000000010000000000000004_backup_stop_sentinel.json"));
    ck_assert(exists("wal_005/000000010000000000000006.zst"));   /* permanent 06's own segment */
    ck_assert(!exists("wal_005/000000010000000000000005.zst"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("retention");
    TCase *tc = tcase_create("retention");
    SRunner *sr;
    int failed;
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_retain_dry_run_deletes_nothing);
    tcase_add_test(tc, test_retain_confirmed_keeps_needed_wal);
    tcase_add_test(tc, test_before_name_and_bad_input);
    tcase_add_test(tc, test_backup_mark);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

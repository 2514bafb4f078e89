/*
 * Suite "walg_catalog": the catalog walker over a file:// storage root in a temp dir: only
 * basebackups_005/<B>_backup_stop_sentinel.json count as backups (folders, metadata and stray
 * objects do not), LastModified drives LATEST, metadata.json is optional unless --detail needs
 * it, sentinels and files_metadata.json are read back through the storage API.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "storage.h"
#include "storage_config.h"
#include "walg_catalog.h"
#include "walg_names.h"

#define FIX "tests/fixtures/walg/"

static char repo[256];
static struct storage_config cfg;
static struct storage *st;

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
    *len_out = (size_t)len;
    return data;
}

static void put(const char *key, const char *data, size_t len, long mtime_s)
{
    struct bk_error err = BK_ERROR_INIT;
    char path[512];
    struct timeval tv[2] = { { mtime_s, 0 }, { mtime_s, 0 } };
    ck_assert_msg(storage_put_buf(st, key, data, len, NULL, &err) == BK_OK, "%s", err.message);
    snprintf(path, sizeof(path), "%s/%s", repo, key);
    ck_assert_int_eq(utimes(path, tv), 0);
}

static void put_fixture(const char *key, const char *fixture, long mtime_s)
{
    size_t len;
    char *data = slurp(fixture, &len);
    put(key, data, len, mtime_s);
    free(data);
}

static void setup(void)
{
    struct bk_error err = BK_ERROR_INIT;
    char url[300];
    snprintf(repo, sizeof(repo), "/tmp/walg_catalog_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(repo));
    snprintf(url, sizeof(url), "file://%s", repo);
    storage_config_init(&cfg);
    ck_assert_int_eq(storage_config_parse_url(&cfg, url, &err), BK_OK);
    ck_assert_msg(storage_open(&st, &cfg, &err) == BK_OK, "%s", err.message);
}

static void teardown(void)
{
    char cmd[400];
    storage_close(st);
    storage_config_free(&cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", repo);
    ck_assert_int_eq(system(cmd), 0);
}

static void populate(void)
{
    const char *a = "base_0000000100000003000000A2";
    const char *b = "base_0000000100000003000000B0_D_0000000100000003000000A2";
    char key[WALG_KEY_CAP];
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(walg_key_sentinel(key, sizeof(key), a, &err), BK_OK);
    put_fixture(key, FIX "sentinel_v2_local.json", 1748739620);
    ck_assert_int_eq(walg_key_metadata(key, sizeof(key), a, &err), BK_OK);
    put_fixture(key, FIX "metadata_local.json", 1748739619);
    ck_assert_int_eq(walg_key_files_metadata(key, sizeof(key), a, &err), BK_OK);
    put_fixture(key, FIX "files_metadata_local.json", 1748739619);
    ck_assert_int_eq(walg_key_tar_part(key, sizeof(key), a, 1, "lz4", &err), BK_OK);
    put(key, "x", 1, 1748739610);
    ck_assert_int_eq(walg_key_sentinel(key, sizeof(key), b, &err), BK_OK);
    put_fixture(key, FIX "sentinel_v2_delta_tablespaces.json", 1748826010);
    /* not backups: an in-progress folder, a stray object, a nested sentinel-looking key */
    put("basebackups_005/base_0000000100000004000000C0/tar_partitions/part_001.tar.lz4", "y", 1, 1748900000);
    put("basebackups_005/notes.txt", "z", 1, 1748900000);
    put("basebackups_005/base_0000000100000004000000C0/x_backup_stop_sentinel.json", "{}", 2, 1748900000);
}

START_TEST(test_list_and_latest)
{
    struct walg_list_entry *e = NULL;
    struct bk_error err = BK_ERROR_INIT;
    size_t n = 0;
    char name[WALG_BACKUP_NAME_CAP];
    populate();
    ck_assert_msg(walg_catalog_list(st, &e, &n, &err) == BK_OK, "%s", err.message);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(e[0].backup_name, "base_0000000100000003000000A2");
    ck_assert_int_eq(e[0].modified_us, INT64_C(1748739620000000));
    ck_assert_str_eq(e[0].wal_file_name, "0000000100000003000000A2");
    ck_assert_str_eq(e[1].backup_name, "base_0000000100000003000000B0_D_0000000100000003000000A2");
    ck_assert_str_eq(walg_list_latest(e, n)->backup_name, "base_0000000100000003000000B0_D_0000000100000003000000A2");

    /* metadata.json is optional, except for --detail */
    ck_assert_int_eq(walg_catalog_load_metadata(st, e, n, false, &err), BK_OK);
    ck_assert(e[0].has_metadata);
    ck_assert_uint_eq(e[0].meta.start_lsn, UINT64_C(15602810920));
    ck_assert(!e[1].has_metadata);
    ck_assert_int_eq(walg_catalog_load_metadata(st, e, n, true, &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.message,
                     "backup \"base_0000000100000003000000B0_D_0000000100000003000000A2\" has no metadata.json");
    walg_list_entries_free(e, n);

    ck_assert_int_eq(walg_catalog_resolve(st, "LATEST", name, sizeof(name), &err), BK_OK);
    ck_assert_str_eq(name, "base_0000000100000003000000B0_D_0000000100000003000000A2");
    ck_assert_int_eq(walg_catalog_resolve(st, "base_0000000100000003000000A2", name, sizeof(name), &err), BK_OK);
    ck_assert_str_eq(name, "base_0000000100000003000000A2");
    ck_assert_int_eq(walg_catalog_resolve(st, "base_0000000100000004000000C0", name, sizeof(name), &err),
                     BK_ENOTFOUND);
    ck_assert_str_eq(err.message, "backup \"base_0000000100000004000000C0\" does not exist");
}
END_TEST

START_TEST(test_empty_root)
{
    struct walg_list_entry *e = NULL;
    struct bk_error err = BK_ERROR_INIT;
    size_t n = 7;
    char name[WALG_BACKUP_NAME_CAP];
    ck_assert_msg(walg_catalog_list(st, &e, &n, &err) == BK_OK, "%s", err.message);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(e);
    walg_list_entries_free(e, n);
    ck_assert_int_eq(walg_catalog_resolve(st, "LATEST", name, sizeof(name), &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.message, "no backups found");
}
END_TEST

static int count_files(void *payload, const char *name, const struct walg_file_desc *d, struct bk_error *err)
{
    (void)name;
    (void)d;
    (void)err;
    (*(int *)payload)++;
    return BK_OK;
}

START_TEST(test_read_objects)
{
    struct walg_sentinel s = { 0 };
    struct walg_metadata m = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    struct walg_files_meta_cbs cbs = { count_files, NULL };
    int files = 0;
    populate();
    ck_assert_int_eq(walg_catalog_read_sentinel(st, "base_0000000100000003000000B0_D_0000000100000003000000A2", &s,
                                                &err), BK_OK);
    ck_assert_str_eq(s.delta_from, "base_0000000100000003000000A2");
    ck_assert_uint_eq(s.spec->tablespaces_len, 2);
    ck_assert_int_eq(walg_catalog_read_metadata(st, "base_0000000100000003000000A2", &m, &err), BK_OK);
    ck_assert_str_eq(m.hostname, "acid-db-0");
    ck_assert_int_eq(walg_catalog_read_files_metadata(st, "base_0000000100000003000000A2", &cbs, &files, &err),
                     BK_OK);
    ck_assert_int_eq(files, 4);
    ck_assert_int_eq(walg_catalog_read_sentinel(st, "base_0000000100000004000000C0", &s, &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.message, "backup \"base_0000000100000004000000C0\" does not exist");
    ck_assert_str_eq(err.object, "basebackups_005/base_0000000100000004000000C0_backup_stop_sentinel.json");
    ck_assert_int_eq(walg_catalog_read_files_metadata(st, "base_0000000100000004000000C0", &cbs, &files, &err),
                     BK_ENOTFOUND);
    /* a half-written sentinel is a parse error naming the object */
    put("basebackups_005/base_0000000100000005000000D0_backup_stop_sentinel.json", "{\"LSN\":1", 8, 1748900000);
    ck_assert_int_eq(walg_catalog_read_sentinel(st, "base_0000000100000005000000D0", &s, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "sentinel is not valid JSON: truncated");
    ck_assert_str_eq(err.object, "basebackups_005/base_0000000100000005000000D0_backup_stop_sentinel.json");
    walg_sentinel_free(&s);
    walg_metadata_free(&m);
}
END_TEST

static Suite *walg_catalog_suite(void)
{
    Suite *s = suite_create("walg_catalog");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_list_and_latest);
    tcase_add_test(tc, test_empty_root);
    tcase_add_test(tc, test_read_objects);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(walg_catalog_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

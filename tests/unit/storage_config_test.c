/* storage_config: URLs and WAL-G/Spilo environment variables, fed from a table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"
#include "storage_config.h"

static const char *const *env_table;

static const char *table_lookup(const char *name)
{
    for (size_t i = 0; env_table[i] != NULL; i += 2)
        if (strcmp(env_table[i], name) == 0)
            return env_table[i + 1];
    return NULL;
}

static int load(struct storage_config *cfg, const char *url, const char *const *env, struct bk_error *err)
{
    env_table = env;
    storage_config_init(cfg);
    return storage_config_load(cfg, url, table_lookup, err);
}

START_TEST(test_spilo_s3_env)
{
    static const char *const env[] = {
        "WALG_S3_PREFIX", "s3://bucket/spilo/acid-db/0a1b/wal/15",
        "WALE_S3_PREFIX", "s3://bucket/spilo/acid-db/0a1b/wal/15",
        "AWS_ENDPOINT", "https+path://minio.local:9000",
        "AWS_REGION", "eu-central-1",
        "AWS_ACCESS_KEY_ID", "AKID", "AWS_SECRET_ACCESS_KEY", "SECRET",
        "WALG_S3_SSE", "AES256", "WALG_UPLOAD_CONCURRENCY", "7", NULL };
    struct storage_config cfg;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(load(&cfg, NULL, env, &err), BK_OK);
    ck_assert_str_eq(cfg.scheme, "s3");
    ck_assert_str_eq(cfg.bucket, "bucket");
    ck_assert_str_eq(cfg.prefix, "spilo/acid-db/0a1b/wal/15");
    ck_assert_str_eq(cfg.s3_endpoint, "https://minio.local:9000");
    ck_assert(cfg.s3_force_path_style);
    ck_assert_str_eq(cfg.s3_region, "eu-central-1");
    ck_assert_str_eq(cfg.s3_sse, "AES256");
    ck_assert_uint_eq(cfg.parallelism, 7);
    storage_config_free(&cfg);
}
END_TEST

START_TEST(test_conflicting_prefixes)
{
    static const char *const env[] = { "WALG_S3_PREFIX", "s3://a/x", "WALG_GS_PREFIX", "gs://b/y", NULL };
    struct storage_config cfg;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(load(&cfg, NULL, env, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "both WALG_S3_PREFIX and WALG_GS_PREFIX are set; set exactly one storage prefix");
    storage_config_free(&cfg);
}
END_TEST

START_TEST(test_no_storage)
{
    static const char *const env[] = { NULL };
    struct storage_config cfg;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(load(&cfg, NULL, env, &err), BK_EINVAL);
    ck_assert(strstr(err.message, "no storage configured") == err.message);
    storage_config_free(&cfg);
}
END_TEST

START_TEST(test_file_prefix_and_urls)
{
    static const char *const env[] = { "WALG_FILE_PREFIX", "/var/backups/pg", NULL };
    static const char *const empty[] = { NULL };
    struct storage_config cfg;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(load(&cfg, NULL, env, &err), BK_OK);
    ck_assert_str_eq(cfg.scheme, "file");
    ck_assert_str_eq(cfg.prefix, "/var/backups/pg");
    storage_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "gs://bkt/a/b/", empty, &err), BK_OK);
    ck_assert_str_eq(cfg.scheme, "gs");
    ck_assert_str_eq(cfg.prefix, "a/b");
    storage_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "ftp://x/y", empty, &err), BK_EUNSUPPORTED);
    ck_assert_str_eq(err.message, "unknown storage scheme \"ftp\" in \"ftp://x/y\" (known: s3, azure, gs, file)");
    storage_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "s3:///nobucket", empty, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "storage URL \"s3:///nobucket\" has no bucket or container");
    storage_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "file://relative/path", empty, &err), BK_EINVAL);
    storage_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "azure://c/p", empty, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "AZURE_STORAGE_ACCOUNT is not set");
    storage_config_free(&cfg);
}
END_TEST

START_TEST(test_bad_tuning_and_pairs)
{
    static const char *const bad_part[] = { "BACKUP_PART_SIZE", "10", NULL };
    static const char *const half_irsa[] = { "AWS_ROLE_ARN", "arn:aws:iam::1:role/x", NULL };
    static const char *const half_keys[] = { "AWS_ACCESS_KEY_ID", "AKID", NULL };
    struct storage_config cfg;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(load(&cfg, "s3://b/p", bad_part, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "BACKUP_PART_SIZE must be between 1KiB and 5GiB");
    storage_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "s3://b/p", half_irsa, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE must be set together");
    storage_config_free(&cfg);
    ck_assert_int_eq(load(&cfg, "s3://b/p", half_keys, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    storage_config_free(&cfg);
}
END_TEST

START_TEST(test_key_validation)
{
    static const char *const empty[] = { NULL };
    struct storage_config cfg;
    struct storage *st = NULL;
    struct storage_stat info;
    struct bk_error err = BK_ERROR_INIT;
    char dir[] = "/tmp/bk-keytest-XXXXXX";
    char url[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(url, sizeof(url), "file://%s", dir);
    ck_assert_int_eq(load(&cfg, url, empty, &err), BK_OK);
    ck_assert_int_eq(storage_open(&st, &cfg, &err), BK_OK);
    ck_assert_int_eq(storage_stat(st, "a/../../etc/passwd", &info, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "object key \"a/../../etc/passwd\" has a \".\" or \"..\" component");
    ck_assert_int_eq(storage_stat(st, "/etc/passwd", &info, &err), BK_EINVAL);
    ck_assert_int_eq(storage_put_buf(st, "", "x", 1, NULL, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "object key is empty");
    storage_close(st);
    storage_config_free(&cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("storage_config");
    TCase *tc = tcase_create("config");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, test_spilo_s3_env);
    tcase_add_test(tc, test_conflicting_prefixes);
    tcase_add_test(tc, test_no_storage);
    tcase_add_test(tc, test_file_prefix_and_urls);
    tcase_add_test(tc, test_bad_tuning_and_pairs);
    tcase_add_test(tc, test_key_validation);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

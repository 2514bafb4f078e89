/*
 * One conformance suite for every storage driver. The driver under test comes from the
 * environment exactly as backupctl would read it (STORAGE_TEST_URL plus the driver's own
 * variables), so tests/run_conformance.sh runs this binary once per driver: temp dir, s3rver
 * behind the SigV4 proxy, azurite, and the fake GCS server. Part size should be small
 * (BACKUP_PART_SIZE=256KiB) so multipart paths run on small objects.
 * STORAGE_TEST_BAD_VAR/STORAGE_TEST_BAD_VALUE name a credential to spoil for the auth test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bk_sink.h"
#include "bk_time.h"
#include "storage.h"
#include "storage_config.h"

static struct storage *st;
static char run_prefix[96];
static size_t part_size;

static const char *env_lookup(const char *name) { return getenv(name); }

static struct storage *open_from_env(struct bk_error *err, int *rc_out)
{
    struct storage_config cfg;
    struct storage *s = NULL;
    int rc;
    storage_config_init(&cfg);
    rc = storage_config_load(&cfg, getenv("STORAGE_TEST_URL"), env_lookup, err);
    if (rc == BK_OK)
        rc = storage_open(&s, &cfg, err);
    storage_config_free(&cfg);
    *rc_out = rc;
    return s;
}

static void setup(void)
{
    struct bk_error err = BK_ERROR_INIT;
    int rc;
    st = open_from_env(&err, &rc);
    ck_assert_msg(rc == BK_OK, "storage_open: %s", err.message);
    part_size = (size_t)storage_part_size(st);
    snprintf(run_prefix, sizeof(run_prefix), "run-%d-%lld", (int)getpid(), (long long)bk_time_now_us());
}

static void teardown(void)
{
    storage_close(st);
    st = NULL;
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

static void key_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", run_prefix, name);
}

/* Uploads len pattern bytes in uneven chunks, reads them back and compares. */
static void roundtrip(const char *name, size_t len, unsigned seed)
{
    struct bk_error err = BK_ERROR_INIT;
    struct bk_sink *sink = NULL;
    struct bk_buf got;
    struct storage_stat info;
    char key[512];
    uint8_t *data = malloc(len ? len : 1);
    size_t off = 0, chunk = 1;
    int rc;
    ck_assert_ptr_nonnull(data);
    fill_pattern(data, len, seed);
    key_of(key, sizeof(key), name);
    rc = storage_put_stream(&sink, st, key, NULL, &err);
    ck_assert_msg(rc == BK_OK, "put_stream: %s", err.message);
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        rc = bk_sink_write(sink, data + off, n, &err);
        ck_assert_msg(rc == BK_OK, "write at %zu: %s", off, err.message);
        off += n;
        chunk = chunk * 3 + 7;
    }
    rc = bk_sink_finish(sink, &err);
    ck_assert_msg(rc == BK_OK, "finish %s (%zu bytes): %s", key, len, err.message);
    bk_sink_free(sink);

    rc = storage_stat(st, key, &info, &err);
    ck_assert_msg(rc == BK_OK, "stat: %s", err.message);
    ck_assert_uint_eq(info.size, len);
    ck_assert_msg(info.mtime_us > 0, "mtime missing");

    bk_buf_init(&got, len + 16);
    rc = storage_get_buf(st, key, &got, &err);
    ck_assert_msg(rc == BK_OK, "get: %s", err.message);
    ck_assert_uint_eq(got.len, len);
    ck_assert_msg(len == 0 || memcmp(got.data, data, len) == 0, "content of %s differs", key);
    bk_buf_free(&got);
    free(data);
}

START_TEST(test_zero_bytes) { roundtrip("zero.bin", 0, 1); }
END_TEST
START_TEST(test_one_byte) { roundtrip("one.bin", 1, 2); }
END_TEST
START_TEST(test_exactly_one_part) { roundtrip("one-part.bin", part_size, 3); }
END_TEST
START_TEST(test_part_plus_one) { roundtrip("part-plus-one.bin", part_size + 1, 4); }
END_TEST
START_TEST(test_three_and_half_parts) { roundtrip("three-half.bin", part_size * 3 + part_size / 2, 5); }
END_TEST
START_TEST(test_three_parts_plus_one) { roundtrip("three-plus-one.bin", part_size * 3 + 1, 6); }
END_TEST
START_TEST(test_odd_names)
{
    roundtrip("dir with space/file name.bin", 1000, 7);
    roundtrip("plus+sign/a+b=c&d.bin", 1000, 8);
    roundtrip("unicode/\xc3\xbcnic\xc3\xb6" "de-\xe6\x97\xa5\xe6\x9c\xac.bin", 1000, 9);
}
END_TEST

START_TEST(test_all_byte_values)
{
    struct bk_error err = BK_ERROR_INIT;
    uint8_t data[512];
    struct bk_buf got;
    char key[256];
    for (int i = 0; i < 512; i++)
        data[i] = (uint8_t)(i & 0xff);
    key_of(key, sizeof(key), "binary.bin");
    ck_assert_int_eq(storage_put_buf(st, key, data, sizeof(data), NULL, &err), BK_OK);
    bk_buf_init(&got, 4096);
    ck_assert_int_eq(storage_get_buf(st, key, &got, &err), BK_OK);
    ck_assert_uint_eq(got.len, sizeof(data));
    ck_assert_mem_eq(got.data, data, sizeof(data));
    bk_buf_free(&got);
}
END_TEST

START_TEST(test_missing_object)
{
    struct bk_error err = BK_ERROR_INIT;
    struct storage_stat info;
    struct bk_buf got;
    char key[256];
    bool exists = true;
    key_of(key, sizeof(key), "does-not-exist");
    ck_assert_int_eq(storage_stat(st, key, &info, &err), BK_ENOTFOUND);
    ck_assert_int_eq(err.code, BK_ENOTFOUND);
    bk_buf_init(&got, 1024);
    bk_error_clear(&err);
    ck_assert_int_eq(storage_get_buf(st, key, &got, &err), BK_ENOTFOUND);
    ck_assert_uint_eq(got.len, 0);
    ck_assert_msg(strstr(err.message, "does-not-exist") != NULL || strstr(err.object, "does-not-exist") != NULL,
                  "error does not name the object: %s", err.message);
    ck_assert_int_eq(storage_exists(st, key, &exists, &err), BK_OK);
    ck_assert(!exists);
    /* deleting a missing object is not an error */
    ck_assert_int_eq(storage_remove(st, key, &err), BK_OK);
    bk_buf_free(&got);
}
END_TEST

START_TEST(test_byte_range)
{
    struct bk_error err = BK_ERROR_INIT;
    size_t len = part_size + 1000;
    uint8_t *data = malloc(len);
    struct bk_buf got;
    struct bk_sink *sink = NULL;
    char key[256];
    fill_pattern(data, len, 11);
    key_of(key, sizeof(key), "range.bin");
    ck_assert_int_eq(storage_put_buf(st, key, data, len, NULL, &err), BK_OK);
    bk_buf_init(&got, len);
    ck_assert_int_eq(bk_sink_buf_new(&sink, &got, &err), BK_OK);
    ck_assert_int_eq(storage_get(st, key, 100, 50, sink, &err), BK_OK);
    ck_assert_uint_eq(got.len, 50);
    ck_assert_mem_eq(got.data, data + 100, 50);
    bk_buf_reset(&got);
    ck_assert_int_eq(storage_get(st, key, len - 10, 0, sink, &err), BK_OK);
    ck_assert_uint_eq(got.len, 10);
    ck_assert_mem_eq(got.data, data + len - 10, 10);
    bk_sink_free(sink);
    bk_buf_free(&got);
    free(data);
}
END_TEST

START_TEST(test_overwrite)
{
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf got;
    char key[256];
    key_of(key, sizeof(key), "overwrite.txt");
    ck_assert_int_eq(storage_put_buf(st, key, "first version", 13, NULL, &err), BK_OK);
    ck_assert_int_eq(storage_put_buf(st, key, "second", 6, NULL, &err), BK_OK);
    bk_buf_init(&got, 1024);
    ck_assert_int_eq(storage_get_buf(st, key, &got, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&got), "second");
    bk_buf_free(&got);
}
END_TEST

START_TEST(test_aborted_upload_leaves_nothing)
{
    struct bk_error err = BK_ERROR_INIT;
    struct bk_sink *sink = NULL;
    struct storage_stat info;
    struct storage_list *it = NULL;
    const struct storage_entry *e;
    char key[256], prefix[256];
    size_t len = part_size * 2 + part_size / 2;
    uint8_t *data = malloc(len);
    int rc, seen = 0;
    fill_pattern(data, len, 12);
    key_of(key, sizeof(key), "aborted/half.bin");
    ck_assert_int_eq(storage_put_stream(&sink, st, key, NULL, &err), BK_OK);
    ck_assert_int_eq(bk_sink_write(sink, data, len, &err), BK_OK);
    bk_sink_abort(sink);      /* the producer failed midway */
    bk_sink_free(sink);
    ck_assert_int_eq(storage_stat(st, key, &info, &err), BK_ENOTFOUND);
    /* freeing an unfinished sink also aborts */
    ck_assert_int_eq(storage_put_stream(&sink, st, key, NULL, &err), BK_OK);
    ck_assert_int_eq(bk_sink_write(sink, data, len, &err), BK_OK);
    bk_sink_free(sink);
    ck_assert_int_eq(storage_stat(st, key, &info, &err), BK_ENOTFOUND);
    snprintf(prefix, sizeof(prefix), "%s/aborted/", run_prefix);
    ck_assert_int_eq(storage_list_new(&it, st, prefix, true, &err), BK_OK);
    while ((rc = storage_list_next(it, &e, &err)) == 1)
        seen++;
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(seen, 0);
    storage_list_free(it);
    free(data);
}
END_TEST

#define MANY 2500

static int count_listing(const char *prefix, bool recursive, char *first_dir_out, size_t cap)
{
    struct bk_error err = BK_ERROR_INIT;
    struct storage_list *it = NULL;
    const struct storage_entry *e;
    char last[512] = "";
    int rc, n = 0;
    ck_assert_int_eq(storage_list_new(&it, st, prefix, recursive, &err), BK_OK);
    while ((rc = storage_list_next(it, &e, &err)) == 1) {
        ck_assert_msg(strcmp(e->key, last) > 0, "listing out of order: \"%s\" after \"%s\"", e->key, last);
        snprintf(last, sizeof(last), "%s", e->key);
        if (e->is_prefix && first_dir_out != NULL && first_dir_out[0] == '\0')
            snprintf(first_dir_out, cap, "%s", e->key);
        n++;
    }
    ck_assert_msg(rc == 0, "list failed: %s", err.message);
    storage_list_free(it);
    return n;
}

START_TEST(test_list_pages_and_delete_many)
{
    struct bk_error err = BK_ERROR_INIT;
    char **keys = calloc(MANY, sizeof(*keys));
    char prefix[256], dir[512] = "", expect_dir[256];
    for (int i = 0; i < MANY; i++) {
        char key[256];
        snprintf(key, sizeof(key), "%s/many/obj-%05d", run_prefix, i);
        keys[i] = strdup(key);
        ck_assert_msg(storage_put_buf(st, keys[i], key, strlen(key), NULL, &err) == BK_OK, "put %d: %s", i, err.message);
    }
    snprintf(prefix, sizeof(prefix), "%s/many/", run_prefix);
    ck_assert_int_eq(count_listing(prefix, true, NULL, 0), MANY);
    snprintf(prefix, sizeof(prefix), "%s/many/obj-012", run_prefix);
    ck_assert_int_eq(count_listing(prefix, true, NULL, 0), 100);
    /* non-recursive listing of the run folder shows "many/" as a folder */
    snprintf(prefix, sizeof(prefix), "%s/", run_prefix);
    ck_assert_int_eq(count_listing(prefix, false, dir, sizeof(dir)), 1);
    snprintf(expect_dir, sizeof(expect_dir), "%s/many/", run_prefix);
    ck_assert_str_eq(dir, expect_dir);

    ck_assert_msg(storage_remove_many(st, (const char *const *)keys, MANY, &err) == BK_OK, "remove_many: %s", err.message);
    snprintf(prefix, sizeof(prefix), "%s/many/", run_prefix);
    ck_assert_int_eq(count_listing(prefix, true, NULL, 0), 0);
    for (int i = 0; i < MANY; i++)
        free(keys[i]);
    free(keys);
}
END_TEST

START_TEST(test_bad_credentials_rejected)
{
    const char *var = getenv("STORAGE_TEST_BAD_VAR");
    const char *value = getenv("STORAGE_TEST_BAD_VALUE");
    struct bk_error err = BK_ERROR_INIT;
    struct storage *bad;
    char key[256];
    int rc;
    if (var == NULL || value == NULL) {
        printf("skipped: %s has no credentials to spoil\n", getenv("STORAGE_TEST_URL"));
        return;
    }
    setenv(var, value, 1);
    bad = open_from_env(&err, &rc);
    if (rc == BK_OK) {
        key_of(key, sizeof(key), "should-not-exist.txt");
        rc = storage_put_buf(bad, key, "x", 1, NULL, &err);
        storage_close(bad);
    }
    ck_assert_msg(rc == BK_EAUTH || rc == BK_EDENIED, "wrong %s was not rejected: rc=%s %s", var,
                  bk_code_name(rc), err.message);
    ck_assert_msg(err.server_code[0] != '\0' || err.http_status != 0, "no server code in: %s", err.message);
    ck_assert_msg(strstr(err.message, value) == NULL, "the secret appears in the error");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("storage_conformance");
    TCase *tc = tcase_create("driver");
    SRunner *sr;
    int failed;
    if (getenv("STORAGE_TEST_URL") == NULL) {
        fprintf(stderr, "STORAGE_TEST_URL is not set\n");
        return 2;
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_zero_bytes);
    tcase_add_test(tc, test_one_byte);
    tcase_add_test(tc, test_exactly_one_part);
    tcase_add_test(tc, test_part_plus_one);
    tcase_add_test(tc, test_three_and_half_parts);
    tcase_add_test(tc, test_three_parts_plus_one);
    tcase_add_test(tc, test_odd_names);
    tcase_add_test(tc, test_all_byte_values);
    tcase_add_test(tc, test_missing_object);
    tcase_add_test(tc, test_byte_range);
    tcase_add_test(tc, test_overwrite);
    tcase_add_test(tc, test_aborted_upload_leaves_nothing);
    tcase_add_test(tc, test_list_pages_and_delete_many);
    tcase_add_test(tc, test_bad_credentials_rejected);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

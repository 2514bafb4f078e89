/* lib/util: time formats, parsing, encodings, buffers, error formatting and sink chains. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_buf.h"
#include "bk_crypto.h"
#include "bk_error.h"
#include "bk_sink.h"
#include "bk_str.h"
#include "bk_time.h"

START_TEST(test_rfc3339_format_like_go)
{
    char out[64];
    /* 2025-06-01T01:00:02.123456Z */
    int64_t us = 1748739602LL * 1000000 + 123456;
    bk_time_format_rfc3339(us, 6, out, sizeof(out));
    ck_assert_str_eq(out, "2025-06-01T01:00:02.123456Z");
    bk_time_format_rfc3339(1748739602LL * 1000000 + 120000, 6, out, sizeof(out));
    ck_assert_str_eq(out, "2025-06-01T01:00:02.12Z");
    bk_time_format_rfc3339(1748739602LL * 1000000, 6, out, sizeof(out));
    ck_assert_str_eq(out, "2025-06-01T01:00:02Z");
    bk_time_format_rfc3339(us, 3, out, sizeof(out));
    ck_assert_str_eq(out, "2025-06-01T01:00:02.123Z");
    bk_time_format_rfc3339(us, 0, out, sizeof(out));
    ck_assert_str_eq(out, "2025-06-01T01:00:02Z");
    /* Go's zero time, which WAL-G writes for an unknown start_time */
    bk_time_format_rfc3339(-62135596800LL * 1000000, 6, out, sizeof(out));
    ck_assert_str_eq(out, "0001-01-01T00:00:00Z");
}
END_TEST

START_TEST(test_rfc3339_parse)
{
    struct bk_error err = BK_ERROR_INIT;
    int64_t us = 0;
    ck_assert_int_eq(bk_time_parse_rfc3339("2025-06-01T01:00:02.123456Z", &us, &err), BK_OK);
    ck_assert_int_eq(us, 1748739602LL * 1000000 + 123456);
    ck_assert_int_eq(bk_time_parse_rfc3339("2025-06-01T03:00:02+02:00", &us, &err), BK_OK);
    ck_assert_int_eq(us, 1748739602LL * 1000000);
    ck_assert_int_eq(bk_time_parse_rfc3339("2025-12-19t12:40:33-08:00", &us, &err), BK_OK);
    ck_assert_int_eq(us, 1766176833LL * 1000000);
    ck_assert_int_eq(bk_time_parse_rfc3339("2025-06-01T01:00:02", &us, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "time \"2025-06-01T01:00:02\" has no time zone (add Z or an offset such as +00:00)");
    ck_assert_int_eq(bk_time_parse_rfc3339("2025-02-31T00:00:00Z", &us, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "time \"2025-02-31T00:00:00Z\" is not a valid date");
    ck_assert_int_eq(bk_time_parse_rfc3339("yesterday", &us, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "time \"yesterday\" is not RFC 3339 (expected e.g. 2026-01-02T03:04:05Z)");
    ck_assert_int_eq(bk_time_parse_rfc3339("2024-02-29T00:00:00+00:00", &us, &err), BK_OK);
}
END_TEST

START_TEST(test_parse_numbers)
{
    struct bk_error err = BK_ERROR_INIT;
    uint64_t size = 0;
    int64_t n = 0;
    bool b = false;
    ck_assert_int_eq(bk_parse_size("8MiB", "BACKUP_PART_SIZE", &size, &err), BK_OK);
    ck_assert_uint_eq(size, 8u * 1024 * 1024);
    ck_assert_int_eq(bk_parse_size("256k", "x", &size, &err), BK_OK);
    ck_assert_uint_eq(size, 262144);
    ck_assert_int_eq(bk_parse_size("12parsecs", "BACKUP_PART_SIZE", &size, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "BACKUP_PART_SIZE \"12parsecs\" has an unknown unit");
    ck_assert_int_eq(bk_parse_size("-5", "x", &size, &err), BK_EINVAL);
    ck_assert_int_eq(bk_parse_int64("42", 0, 100, "n", &n, &err), BK_OK);
    ck_assert_int_eq(n, 42);
    ck_assert_int_eq(bk_parse_int64("420", 0, 100, "retries", &n, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "retries 420 is out of range [0, 100]");
    ck_assert_int_eq(bk_parse_int64("4x", 0, 100, "retries", &n, &err), BK_EINVAL);
    ck_assert_int_eq(bk_parse_bool("TRUE", "b", &b, &err), BK_OK);
    ck_assert(b);
    ck_assert_int_eq(bk_parse_bool("maybe", "AWS_S3_FORCE_PATH_STYLE", &b, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "AWS_S3_FORCE_PATH_STYLE \"maybe\" is not a boolean");
}
END_TEST

START_TEST(test_encodings)
{
    struct bk_error err = BK_ERROR_INIT;
    uint8_t digest[BK_SHA256_LEN];
    char hex[65], b64[64];
    uint8_t back[64];
    size_t back_len = 0;
    struct bk_buf buf;
    bk_sha256("abc", 3, digest);
    bk_hex_encode(digest, sizeof(digest), hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    bk_md5("", 0, digest);
    bk_base64_encode(digest, BK_MD5_LEN, b64);
    ck_assert_str_eq(b64, "1B2M2Y8AsgTpgAmY7PhCfg==");
    bk_base64url_encode((const uint8_t *)"\xfb\xff", 2, b64);
    ck_assert_str_eq(b64, "-_8");
    ck_assert_int_eq(bk_base64_decode("aGVsbG8=", back, sizeof(back), &back_len, &err), BK_OK);
    ck_assert_uint_eq(back_len, 5);
    ck_assert_mem_eq(back, "hello", 5);
    ck_assert_int_eq(bk_base64_decode("aGV*bG8=", back, sizeof(back), &back_len, &err), BK_EINVAL);
    bk_buf_init(&buf, 1024);
    ck_assert_int_eq(bk_uri_encode(&buf, "a b/ü+~", true, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&buf), "a%20b/%C3%BC%2B~");
    bk_buf_free(&buf);
}
END_TEST

START_TEST(test_buf_cap_enforced)
{
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf buf;
    bk_buf_init(&buf, 8);
    ck_assert_int_eq(bk_buf_append(&buf, "12345678", 8, &err), BK_OK);
    ck_assert_int_eq(bk_buf_append(&buf, "9", 1, &err), BK_ENOMEM);
    ck_assert_str_eq(err.message, "buffer limit of 8 bytes exceeded");
    ck_assert_uint_eq(buf.len, 8);
    bk_buf_free(&buf);
}
END_TEST

START_TEST(test_error_format_and_wrap)
{
    struct bk_error err = BK_ERROR_INIT;
    char line[512];
    bk_error_set(&err, BK_ESERVER, "s3_put_object", "wal_005/x.zst", "PUT wal_005/x.zst: SlowDown: reduce your rate");
    err.http_status = 503;
    snprintf(err.server_code, sizeof(err.server_code), "SlowDown");
    bk_error_wrap(&err, "wal-push");
    bk_error_format(&err, line, sizeof(line));
    ck_assert_str_eq(line, "s3_put_object: wal-push: PUT wal_005/x.zst: SlowDown: reduce your rate [HTTP 503 SlowDown]");
    ck_assert_int_eq(bk_code_exit_status(BK_ENOTFOUND), 74);
    ck_assert_int_eq(bk_code_exit_status(BK_EINVAL), 2);
    ck_assert_str_eq(bk_code_name(BK_ECONFLICT), "BK_ECONFLICT");
    ck_assert(bk_code_retryable(BK_ETHROTTLED));
    ck_assert(!bk_code_retryable(BK_EAUTH));
}
END_TEST

START_TEST(test_digest_sink_chain)
{
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    struct bk_sink *tail = NULL, *head = NULL;
    struct bk_sink_digest_result res;
    bk_buf_init(&out, 1024);
    ck_assert_int_eq(bk_sink_buf_new(&tail, &out, &err), BK_OK);
    ck_assert_int_eq(bk_sink_digest_new(&head, tail, &res, &err), BK_OK);
    ck_assert_int_eq(bk_sink_write(head, "a", 1, &err), BK_OK);
    ck_assert_int_eq(bk_sink_write(head, "bc", 2, &err), BK_OK);
    ck_assert_int_eq(bk_sink_finish(head, &err), BK_OK);
    ck_assert_str_eq(res.sha256_hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert_uint_eq(res.bytes, 3);
    ck_assert_str_eq(bk_buf_str(&out), "abc");
    bk_sink_free(head);
    bk_buf_free(&out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");
    SRunner *sr;
    int failed;
    tcase_add_test(tc, test_rfc3339_format_like_go);
    tcase_add_test(tc, test_rfc3339_parse);
    tcase_add_test(tc, test_parse_numbers);
    tcase_add_test(tc, test_encodings);
    tcase_add_test(tc, test_buf_cap_enforced);
    tcase_add_test(tc, test_error_format_and_wrap);
    tcase_add_test(tc, test_digest_sink_chain);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

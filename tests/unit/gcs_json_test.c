/*
 * GCS JSON API replies (storage/gcs/gcs_json.c) and small helpers: object resources with string
 * sizes and RFC 3339 times, list pages whose items and prefixes are merged in byte order with
 * the next page token, GCS and OAuth error bodies, JSON string escaping, object URLs with every
 * byte of the name percent-encoded, and CRC32C against the standard check value.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../storage/gcs/gcs_internal.h"

#define LIT(text) text, sizeof(text) - 1   /* a literal and its length */

START_TEST(test_parse_object)
{
    static const char body[] =
        "{\"kind\":\"storage#object\",\"name\":\"base/a\",\"bucket\":\"b\",\"generation\":\"1700000000123456\","
        "\"size\":\"1000000\",\"md5Hash\":\"dUxfkO2APy+kaWc75RxImA==\",\"crc32c\":\"1iSQkQ==\","
        "\"etag\":\"CKih16GjycICEAE=\",\"updated\":\"2024-05-01T10:20:30.123Z\"}\n";
    struct gcs_object_info info;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(gcs_json_parse_object(&info, body, strlen(body), "base/a", &err), BK_OK);
    ck_assert_uint_eq(info.size, 1000000);
    ck_assert_int_eq(info.mtime_us, 1714558830123000LL);
    ck_assert_str_eq(info.etag, "CKih16GjycICEAE=");
    ck_assert_str_eq(info.md5_b64, "dUxfkO2APy+kaWc75RxImA==");
    ck_assert_str_eq(info.crc32c_b64, "1iSQkQ==");

    /* numeric size, no etag (falls back to md5), no checksums at all */
    ck_assert_int_eq(gcs_json_parse_object(&info, LIT("{\"size\":5,\"md5Hash\":\"XUFAKrxLKna5cZ2REBfFkg==\"}"), "k", &err), BK_OK);
    ck_assert_uint_eq(info.size, 5);
    ck_assert_str_eq(info.etag, "XUFAKrxLKna5cZ2REBfFkg==");
    ck_assert_int_eq(gcs_json_parse_object(&info, LIT("{\"size\":\"0\"}"), "k", &err), BK_OK);
    ck_assert_str_eq(info.md5_b64, "");
    ck_assert_str_eq(info.crc32c_b64, "");

    ck_assert_int_eq(gcs_json_parse_object(&info, LIT("{\"name\":\"k\"}"), "k", &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "object metadata for \"k\" has no valid \"size\"");
    ck_assert_int_eq(gcs_json_parse_object(&info, LIT("{\"size\":\"-1\"}"), "k", &err), BK_EPROTO);
    ck_assert_int_eq(gcs_json_parse_object(&info, LIT("{\"size\":\"12x\"}"), "k", &err), BK_EPROTO);
    ck_assert_int_eq(gcs_json_parse_object(&info, LIT("{\"size\":\"1\",\"updated\":\"yesterday\"}"), "k", &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "object metadata for \"k\" has a bad \"updated\" time: "
                                  "time \"yesterday\" is not RFC 3339 (expected e.g. 2026-01-02T03:04:05Z)");
    ck_assert_int_eq(gcs_json_parse_object(&info, LIT("{\"size\":1} trailing"), "k", &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "object metadata for \"k\" is not JSON (19 bytes)");
    ck_assert_int_eq(gcs_json_parse_object(&info, LIT(""), "k", &err), BK_EPROTO);
}
END_TEST

START_TEST(test_parse_list_merges_in_byte_order)
{
    static const char body[] =
        "{\"kind\":\"storage#objects\",\"nextPageToken\":\"CgNiL2Q=\","
        "\"prefixes\":[\"p/b/\",\"p/d/\"],"
        "\"items\":[{\"name\":\"p/a\",\"size\":\"1\",\"updated\":\"2024-01-01T00:00:00Z\",\"etag\":\"E1\"},"
        "{\"name\":\"p/c\",\"size\":\"22\",\"updated\":\"2024-01-01T00:00:01.5Z\",\"etag\":\"E2\"},"
        "{\"name\":\"p/\\u00e9\",\"size\":\"3\",\"etag\":\"E3\"}]}";
    struct storage_list_page page;
    struct bk_error err = BK_ERROR_INIT;
    memset(&page, 0, sizeof(page));
    ck_assert_int_eq(gcs_json_parse_list(&page, body, strlen(body), "p/", &err), BK_OK);
    ck_assert_uint_eq(page.len, 5);
    ck_assert_str_eq(page.entries[0].key, "p/a");
    ck_assert_uint_eq(page.entries[0].size, 1);
    ck_assert_int_eq(page.entries[0].mtime_us, 1704067200000000LL);
    ck_assert_str_eq(page.entries[0].etag, "E1");
    ck_assert(!page.entries[0].is_prefix);
    ck_assert_str_eq(page.entries[1].key, "p/b/");
    ck_assert(page.entries[1].is_prefix);
    ck_assert_str_eq(page.entries[2].key, "p/c");
    ck_assert_int_eq(page.entries[2].mtime_us, 1704067201500000LL);
    ck_assert_str_eq(page.entries[3].key, "p/d/");
    ck_assert(page.entries[3].is_prefix);
    ck_assert_str_eq(page.entries[4].key, "p/\xc3\xa9");
    ck_assert_str_eq(page.next_token, "CgNiL2Q=");
    storage_list_page_clear(&page);

    ck_assert_int_eq(gcs_json_parse_list(&page, LIT("{\"kind\":\"storage#objects\"}"), "none/", &err), BK_OK);
    ck_assert_uint_eq(page.len, 0);
    ck_assert_ptr_null(page.next_token);
    ck_assert_int_eq(gcs_json_parse_list(&page, LIT("{\"items\":{}}"), "x/", &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "listing of \"x/\" has a non-array \"items\"");
    ck_assert_int_eq(gcs_json_parse_list(&page, LIT("{\"items\":[{\"size\":\"1\"}]}"), "x/", &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "listing of \"x/\" has an item without a name");
    ck_assert_int_eq(gcs_json_parse_list(&page, LIT("{\"prefixes\":[7]}"), "x/", &err), BK_EPROTO);
    ck_assert_int_eq(gcs_json_parse_list(&page, LIT("<html/>"), "x/", &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "listing of \"x/\" is not a JSON object");
    storage_list_page_clear(&page);
}
END_TEST

START_TEST(test_parse_error_bodies)
{
    struct gcs_error_body e;
    static const char gcs[] =
        "{\"error\":{\"code\":404,\"message\":\"No such object: b/k\",\"errors\":[{\"message\":\"No such object: b/k\","
        "\"domain\":\"global\",\"reason\":\"notFound\"}]}}";
    static const char long_text[] = "x234567890123456789012345678901234567890123456789012345678901234567890123456789"
                                    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
                                    "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
                                    "tail that does not fit";
    gcs_json_parse_error(&e, LIT(gcs));
    ck_assert_str_eq(e.reason, "notFound");
    ck_assert_str_eq(e.message, "No such object: b/k");
    gcs_json_parse_error(&e, LIT("{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}"));
    ck_assert_str_eq(e.reason, "invalid_grant");
    ck_assert_str_eq(e.message, "Invalid JWT Signature.");
    gcs_json_parse_error(&e, LIT("\nInvalid request. According to the Content-Range header, the upload offset is 5.\nmore"));
    ck_assert_str_eq(e.reason, "");
    ck_assert_str_eq(e.message, "Invalid request. According to the Content-Range header, the upload offset is 5.");
    gcs_json_parse_error(&e, NULL, 0);
    ck_assert_str_eq(e.reason, "");
    ck_assert_str_eq(e.message, "");
    gcs_json_parse_error(&e, LIT("{\"error\":{\"code\":503,\"message\":\"Backend Error\",\"status\":\"UNAVAILABLE\"}}"));
    ck_assert_str_eq(e.reason, "UNAVAILABLE");
    ck_assert_str_eq(e.message, "Backend Error");
    gcs_json_parse_error(&e, LIT(long_text));          /* truncated to the field, still terminated */
    ck_assert_uint_eq(strlen(e.message), sizeof(e.message) - 1);
    ck_assert_int_eq(strncmp(e.message, long_text, sizeof(e.message) - 1), 0);
}
END_TEST

START_TEST(test_json_string_and_urls)
{
    struct bk_buf b;
    struct bk_error err = BK_ERROR_INIT;
    struct gcs_driver d;
    char *url = NULL;
    bk_buf_init(&b, 1024);
    ck_assert_int_eq(gcs_json_append_string(&b, "a\"b\\c\n\x01/\xc3\xa9", &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&b), "\"a\\\"b\\\\c\\u000a\\u0001/\xc3\xa9\"");
    bk_buf_free(&b);

    memset(&d, 0, sizeof(d));
    d.endpoint = (char *)"http://127.0.0.1:4443";
    d.bucket = (char *)"backups";
    ck_assert_int_eq(gcs_url(&url, &d, "/storage/v1", "base/a b+c/\xc3\xa9~.x", NULL, &err), BK_OK);
    ck_assert_str_eq(url, "http://127.0.0.1:4443/storage/v1/b/backups/o/base%2Fa%20b%2Bc%2F%C3%A9~.x");
    free(url);
    ck_assert_int_eq(gcs_url(&url, &d, "/upload/storage/v1", NULL, "uploadType=media&name=x", &err), BK_OK);
    ck_assert_str_eq(url, "http://127.0.0.1:4443/upload/storage/v1/b/backups/o?uploadType=media&name=x");
    free(url);
}
END_TEST

START_TEST(test_crc32c)
{
    /* the CRC-32C check value (RFC 3720 / iSCSI) and GCS's base64 form for "hello" */
    ck_assert_uint_eq(gcs_crc32c_update(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(gcs_crc32c_update(gcs_crc32c_update(0, "1234", 4), "56789", 5), 0xE3069283u);
    ck_assert_uint_eq(gcs_crc32c_update(0, "", 0), 0);
    ck_assert_uint_eq(gcs_crc32c_update(0, "hello", 5), 0x9A71BB4Cu);
}
END_TEST

static Suite *gcs_json_suite(void)
{
    Suite *s = suite_create("gcs_json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_object);
    tcase_add_test(tc, test_parse_list_merges_in_byte_order);
    tcase_add_test(tc, test_parse_error_bodies);
    tcase_add_test(tc, test_json_string_and_urls);
    tcase_add_test(tc, test_crc32c);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gcs_json_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

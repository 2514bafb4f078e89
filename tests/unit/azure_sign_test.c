/*
 * Unit tests for storage/azure/azure_sign.c: exact SharedKey strings to sign for fixed
 * requests (written out by hand from Microsoft's "Authorize with Shared Key" rules), the
 * Authorization header with the azurite well-known key (HMAC values computed independently
 * with Python's hmac module), and three requests signed by @azure/storage-blob 12.34.0's own
 * policy (captured with tests/servers/azsign-crosscheck.js) that our signer must reproduce.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../storage/azure/azure_internal.h"

#define AZURITE_ACCOUNT "devstoreaccount1"
#define AZURITE_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define FIXED_DATE "Sun, 11 Oct 2009 21:49:13 GMT"
#define FIXED_UNIX 1255297753

/* "Name: value" lines into h; NULL-terminated list. */
static void headers_fill(struct bk_http_headers *h, const char *const *lines)
{
    struct bk_error err = BK_ERROR_INIT;
    bk_http_headers_init(h);
    for (; *lines != NULL; lines += 2)
        ck_assert_int_eq(bk_http_headers_add(h, lines[0], lines[1], &err), BK_OK);
}

/* String to sign for req with "x-ms-date: FIXED_DATE" as the signer adds it. */
static char *string_to_sign(const char *account, const char *method, const char *url,
                            const char *const *header_lines, size_t content_length)
{
    struct bk_http_headers headers, extra;
    struct bk_buf out;
    struct bk_error err = BK_ERROR_INIT;
    struct azure_sign_request req = { method, url, &headers, &extra, content_length };
    char *copy;
    headers_fill(&headers, header_lines);
    bk_http_headers_init(&extra);
    ck_assert_int_eq(bk_http_headers_add(&extra, "x-ms-date", FIXED_DATE, &err), BK_OK);
    bk_buf_init(&out, 1 << 20);
    ck_assert_int_eq(azure_sign_string_to_sign(&out, account, &req, &err), BK_OK);
    copy = strdup(bk_buf_str(&out));
    bk_buf_free(&out);
    bk_http_headers_free(&headers);
    bk_http_headers_free(&extra);
    return copy;
}

START_TEST(test_get_blob_range)
{
    static const char *const h[] = { "x-ms-range", "bytes=0-1023", "x-ms-version", "2021-08-06", NULL };
    char *s = string_to_sign(AZURITE_ACCOUNT, "GET",
                             "http://127.0.0.1:10000/devstoreaccount1/backups/wal_005/000000010000000000000001.lz4",
                             h, 0);
    ck_assert_str_eq(s, "GET\n\n\n\n\n\n\n\n\n\n\n\n"
                        "x-ms-date:" FIXED_DATE "\n"
                        "x-ms-range:bytes=0-1023\n"
                        "x-ms-version:2021-08-06\n"
                        "/devstoreaccount1/devstoreaccount1/backups/wal_005/000000010000000000000001.lz4");
    free(s);
}
END_TEST

START_TEST(test_put_blob_encoded_path)
{
    static const char *const h[] = { "x-ms-blob-type", "BlockBlob", "Content-Type", "application/octet-stream",
                                     "Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==", "x-ms-version", "2021-08-06", NULL };
    char *s = string_to_sign("myaccount", "PUT",
                             "https://myaccount.blob.core.windows.net/mycontainer/base/file%20%2B%C3%A9.bin",
                             h, 5);
    /* the path is signed as sent (percent-encoded); Content-Length, MD5 and type in place */
    ck_assert_str_eq(s, "PUT\n\n\n5\nXUFAKrxLKna5cZ2REBfFkg==\napplication/octet-stream\n\n\n\n\n\n\n"
                        "x-ms-blob-type:BlockBlob\n"
                        "x-ms-date:" FIXED_DATE "\n"
                        "x-ms-version:2021-08-06\n"
                        "/myaccount/mycontainer/base/file%20%2B%C3%A9.bin");
    free(s);
}
END_TEST

START_TEST(test_put_block_query_decoded)
{
    static const char *const h[] = { "Content-MD5", "ywjKSnu1+Wg8GRM6hIcspw==", "x-ms-version", "2021-08-06", NULL };
    char *s = string_to_sign(AZURITE_ACCOUNT, "PUT",
                             "http://127.0.0.1:10000/devstoreaccount1/backups/big?comp=block&blockid=%2B%2B%2F%2FYQ%3D%3D",
                             h, 4);
    ck_assert_str_eq(s, "PUT\n\n\n4\nywjKSnu1+Wg8GRM6hIcspw==\n\n\n\n\n\n\n\n"
                        "x-ms-date:" FIXED_DATE "\n"
                        "x-ms-version:2021-08-06\n"
                        "/devstoreaccount1/devstoreaccount1/backups/big\nblockid:++//YQ==\ncomp:block");
    free(s);
}
END_TEST

START_TEST(test_list_blobs_query_sorted)
{
    static const char *const h[] = { "x-ms-version", "2021-08-06", NULL };
    char *s = string_to_sign("myaccount", "GET",
                             "https://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=list"
                             "&maxresults=1000&prefix=a%20b%2Bc%2F&delimiter=%2F&marker=2%21",
                             h, 0);
    ck_assert_str_eq(s, "GET\n\n\n\n\n\n\n\n\n\n\n\n"
                        "x-ms-date:" FIXED_DATE "\n"
                        "x-ms-version:2021-08-06\n"
                        "/myaccount/mycontainer\ncomp:list\ndelimiter:/\nmarker:2!\nmaxresults:1000\n"
                        "prefix:a b+c/\nrestype:container");
    free(s);
}
END_TEST

START_TEST(test_zero_length_put_signs_empty)
{
    static const char *const h[] = { "x-ms-blob-type", "BlockBlob", "x-ms-version", "2021-08-06", NULL };
    char *s = string_to_sign("acct", "PUT", "https://acct.blob.core.windows.net/c/empty", h, 0);
    ck_assert_str_eq(s, "PUT\n\n\n\n\n\n\n\n\n\n\n\n"
                        "x-ms-blob-type:BlockBlob\nx-ms-date:" FIXED_DATE "\nx-ms-version:2021-08-06\n"
                        "/acct/c/empty");
    free(s);
}
END_TEST

START_TEST(test_header_canonicalization)
{
    static const char *const h[] = { "X-MS-Meta-Tag", "  two \t  words  ", "x-ms-version", "2021-08-06",
                                     "Content-Language", "en", NULL };
    char *s = string_to_sign("acct", "DELETE", "https://acct.blob.core.windows.net/c/k", h, 0);
    /* names lower-cased and sorted, whitespace runs folded, values trimmed */
    ck_assert_str_eq(s, "DELETE\n\nen\n\n\n\n\n\n\n\n\n\n"
                        "x-ms-date:" FIXED_DATE "\nx-ms-meta-tag:two words\nx-ms-version:2021-08-06\n"
                        "/acct/c/k");
    free(s);
}
END_TEST

START_TEST(test_repeated_query_and_empty_path)
{
    static const char *const h[] = { NULL };
    char *s = string_to_sign("acct", "GET", "https://acct.blob.core.windows.net?comp=list&B=2&b=1", h, 0);
    /* a name given twice (any case) is one line with its values sorted and comma-joined */
    ck_assert_str_eq(s, "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" FIXED_DATE "\n/acct/\nb:1,2\ncomp:list");
    free(s);
}
END_TEST

START_TEST(test_authorization_azurite_key)
{
    struct azure_shared_key sk;
    struct bk_error err = BK_ERROR_INIT;
    char auth[AZURE_AUTH_CAP];
    static const char *const h[] = { "x-ms-range", "bytes=0-1023", "x-ms-version", "2021-08-06", NULL };
    char *s = string_to_sign(AZURITE_ACCOUNT, "GET",
                             "http://127.0.0.1:10000/devstoreaccount1/backups/wal_005/000000010000000000000001.lz4",
                             h, 0);
    ck_assert_int_eq(azure_shared_key_init(&sk, AZURITE_ACCOUNT, AZURITE_KEY, &err), BK_OK);
    ck_assert_uint_eq(sk.key_len, 64);
    azure_sign_authorization(auth, sizeof(auth), &sk, s);
    ck_assert_str_eq(auth, "SharedKey devstoreaccount1:i4UcCG081U25HX8idfFGXd4uf2L9IY46fOQdXlolQ9w=");
    free(s);

    static const char *const h2[] = { "Content-MD5", "ywjKSnu1+Wg8GRM6hIcspw==", "x-ms-version", "2021-08-06", NULL };
    s = string_to_sign(AZURITE_ACCOUNT, "PUT",
                       "http://127.0.0.1:10000/devstoreaccount1/backups/big?comp=block&blockid=%2B%2B%2F%2FYQ%3D%3D",
                       h2, 4);
    azure_sign_authorization(auth, sizeof(auth), &sk, s);
    ck_assert_str_eq(auth, "SharedKey devstoreaccount1:g0RaMRxObZywsp6no0Mjgy2pySBJvY8Hfr9aWMPGS/c=");
    free(s);
    azure_shared_key_clear(&sk);
    for (size_t i = 0; i < sizeof(sk.key); i++)
        ck_assert_uint_eq(sk.key[i], 0);
}
END_TEST

START_TEST(test_add_headers_uses_date)
{
    struct azure_shared_key sk;
    struct bk_error err = BK_ERROR_INIT;
    struct bk_http_headers headers, extra;
    static const char *const h[] = { "x-ms-blob-type", "BlockBlob", "Content-Type", "application/octet-stream",
                                     "Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==", "x-ms-version", "2021-08-06", NULL };
    struct azure_sign_request req = { "PUT", "https://myaccount.blob.core.windows.net/mycontainer/base/file%20%2B%C3%A9.bin",
                                      &headers, NULL, 5 };
    headers_fill(&headers, h);
    bk_http_headers_init(&extra);
    /* the azurite key under another account name: the name is part of the header only */
    ck_assert_int_eq(azure_shared_key_init(&sk, "myaccount", AZURITE_KEY, &err), BK_OK);
    ck_assert_int_eq(azure_sign_add_headers(&extra, &sk, &req, FIXED_UNIX, &err), BK_OK);
    ck_assert_uint_eq(extra.len, 2);
    ck_assert_str_eq(extra.lines[0], "x-ms-date: " FIXED_DATE);
    ck_assert_str_eq(extra.lines[1], "Authorization: SharedKey myaccount:SVb92bgep5/5jO814+H99EuUyBJeM5MOeE137iePvFY=");
    bk_http_headers_free(&extra);
    bk_http_headers_free(&headers);
}
END_TEST

/* Requests signed by @azure/storage-blob 12.34.0 (node tests/servers/azsign-crosscheck.js):
 * every header it sent except Authorization, and the Authorization it computed. */
struct sdk_case {
    const char *method;
    const char *url;
    const char *headers[20];
    size_t body_len;
    const char *authorization;
};

#define SDK_UA "azsdk-js-azure-storage-blob/12.34.0 core-rest-pipeline/1.24.0 Node/20.20.2 (Linux 6.18.44-fc-v657; x64)"

static const struct sdk_case sdk_cases[] = {
    { "PUT",
      "http://127.0.0.1:10000/devstoreaccount1/backups/dir/file%20one.bin?comp=block&blockid=%2B%2B%2F%2FYQ%3D%3D",
      { "Content-Type", "application/octet-stream", "x-ms-version", "2026-10-06", "Content-Length", "5",
        "Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==", "Accept", "application/xml", "User-Agent", SDK_UA,
        "x-ms-client-request-id", "4b810c5b-0417-44d0-8006-7b16c38083d4",
        "x-ms-date", "Wed, 25 Nov 2026 06:15:24 GMT", NULL },
      5, "SharedKey devstoreaccount1:Xt00BZK9zKGTyKpJkYEZ8dKidLWkxatR6N1Ldi5I3lE=" },
    { "GET", "http://127.0.0.1:10000/devstoreaccount1/backups/dir/file%20one.bin",
      { "x-ms-version", "2026-10-06", "Accept", "application/xml", "x-ms-range", "bytes=100-149",
        "User-Agent", SDK_UA, "x-ms-client-request-id", "0950ba8f-6cd1-4ff2-9327-3699954f070e",
        "x-ms-date", "Wed, 25 Nov 2026 06:15:24 GMT", NULL },
      0, "SharedKey devstoreaccount1:QwMbReeaPEKSjxWW9f6SYsoz0RIONQ6DsX8LgqpxXts=" },
    { "GET",
      "http://127.0.0.1:10000/devstoreaccount1/backups?comp=list&prefix=a%20b%2Bc%2F&maxresults=1000&restype=container&delimiter=%2F",
      { "x-ms-version", "2026-10-06", "Accept", "application/xml", "User-Agent", SDK_UA,
        "x-ms-client-request-id", "cb7c3f17-ac94-4d18-9f92-1400284b3078",
        "x-ms-date", "Wed, 25 Nov 2026 06:15:24 GMT", NULL },
      0, "SharedKey devstoreaccount1:IPGqqueqxvlrA6hvw+DFt04h+2ZFpgQO6YQj5J9S384=" },
};

START_TEST(test_matches_azure_sdk)
{
    const struct sdk_case *c = &sdk_cases[_i];
    struct azure_shared_key sk;
    struct bk_error err = BK_ERROR_INIT;
    struct bk_http_headers headers;
    struct bk_buf sts;
    struct azure_sign_request req = { c->method, c->url, &headers, NULL, c->body_len };
    char auth[AZURE_AUTH_CAP];
    headers_fill(&headers, c->headers);
    bk_buf_init(&sts, 1 << 20);
    ck_assert_int_eq(azure_shared_key_init(&sk, AZURITE_ACCOUNT, AZURITE_KEY, &err), BK_OK);
    ck_assert_int_eq(azure_sign_string_to_sign(&sts, AZURITE_ACCOUNT, &req, &err), BK_OK);
    azure_sign_authorization(auth, sizeof(auth), &sk, bk_buf_str(&sts));
    ck_assert_str_eq(auth, c->authorization);
    bk_buf_free(&sts);
    bk_http_headers_free(&headers);
}
END_TEST

START_TEST(test_bad_keys_rejected_without_echo)
{
    struct azure_shared_key sk;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(azure_shared_key_init(&sk, "acct", "not*base64!", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "the azure storage access key is not valid base64 (check AZURE_STORAGE_ACCESS_KEY)");
    ck_assert_ptr_null(strstr(err.message, "not*base64"));
    ck_assert_int_eq(azure_shared_key_init(&sk, "acct", "", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "the azure storage access key is empty");
    ck_assert_int_eq(azure_shared_key_init(&sk, "", AZURITE_KEY, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "the azure storage account name is empty (set AZURE_STORAGE_ACCOUNT)");
}
END_TEST

START_TEST(test_http_dates)
{
    struct bk_error err = BK_ERROR_INIT;
    char out[AZURE_DATE_CAP];
    int64_t t = 0;
    azure_format_http_date(FIXED_UNIX, out, sizeof(out));
    ck_assert_str_eq(out, FIXED_DATE);
    azure_format_http_date(0, out, sizeof(out));
    ck_assert_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    ck_assert_int_eq(azure_parse_http_date(FIXED_DATE, &t, &err), BK_OK);
    ck_assert_int_eq(t, FIXED_UNIX);
    ck_assert_int_eq(azure_parse_http_date("Wed, 25 Nov 2026 06:15:24 GMT", &t, &err), BK_OK);
    ck_assert_int_eq(t, 1795587324);
    ck_assert_int_eq(azure_parse_http_date("2009-10-11T21:49:13Z", &t, &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "\"2009-10-11T21:49:13Z\" is not an RFC 1123 date");
    ck_assert_int_eq(azure_parse_http_date("Sun, 11 Foo 2009 21:49:13 GMT", &t, &err), BK_EPROTO);
    ck_assert_int_eq(azure_parse_http_date("Sun, 11 Oct 2009 21:49:13 GMT trailing", &t, &err), BK_EPROTO);
}
END_TEST

START_TEST(test_percent_decode)
{
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    bk_buf_init(&out, 1024);
    ck_assert_int_eq(azure_percent_decode(&out, "a%20b+c%2F%C3%A9", 16, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&out), "a b+c/\xc3\xa9");
    bk_buf_reset(&out);
    ck_assert_int_eq(azure_percent_decode(&out, "bad%2", 5, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "bad percent escape at offset 3");
    ck_assert_int_eq(azure_percent_decode(&out, "%zz", 3, &err), BK_EINVAL);
    bk_buf_free(&out);
}
END_TEST

static Suite *azure_sign_suite(void)
{
    Suite *s = suite_create("azure_sign");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_get_blob_range);
    tcase_add_test(tc, test_put_blob_encoded_path);
    tcase_add_test(tc, test_put_block_query_decoded);
    tcase_add_test(tc, test_list_blobs_query_sorted);
    tcase_add_test(tc, test_zero_length_put_signs_empty);
    tcase_add_test(tc, test_header_canonicalization);
    tcase_add_test(tc, test_repeated_query_and_empty_path);
    tcase_add_test(tc, test_authorization_azurite_key);
    tcase_add_test(tc, test_add_headers_uses_date);
    tcase_add_loop_test(tc, test_matches_azure_sdk, 0, (int)(sizeof(sdk_cases) / sizeof(sdk_cases[0])));
    tcase_add_test(tc, test_bad_keys_rejected_without_echo);
    tcase_add_test(tc, test_http_dates);
    tcase_add_test(tc, test_percent_decode);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(azure_sign_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

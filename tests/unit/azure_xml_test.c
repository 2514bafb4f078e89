/*
 * Unit tests for storage/azure/azure_xml.c: List Blobs pages (blobs, prefixes, encoded names,
 * markers), <Error> bodies, block ids and the Put Block List body. Expected block ids are the
 * base64 of the fixed-width strings, computed independently (Python base64).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../storage/azure/azure_internal.h"

static const char list_xml[] =
    "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<EnumerationResults ServiceEndpoint=\"http://127.0.0.1:10000/devstoreaccount1\" ContainerName=\"backups\">"
    "<Prefix>base/</Prefix><MaxResults>1000</MaxResults><Delimiter>/</Delimiter>"
    "<Blobs>"
    "<Blob><Name>base/a b+c.bin</Name><Properties>"
    "<Creation-Time>Sun, 11 Oct 2009 21:49:13 GMT</Creation-Time>"
    "<Last-Modified>Sun, 11 Oct 2009 21:49:13 GMT</Last-Modified>"
    "<Etag>0x8CBFF45D8A29A19</Etag><Content-Length>1048577</Content-Length>"
    "<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType>"
    "</Properties></Blob>"
    "<BlobPrefix><Name>base/dir/</Name></BlobPrefix>"
    "<Blob><Name Encoded=\"true\">base/%EF%BF%BEodd</Name><Properties>"
    "<Last-Modified>Thu, 01 Jan 1970 00:00:01 GMT</Last-Modified>"
    "<Etag>\"0x1\"</Etag><Content-Length>0</Content-Length></Properties></Blob>"
    "<Blob><Name>base/\xc3\xa9t\xc3\xa9 &amp; co</Name><Properties>"
    "<Last-Modified>Wed, 25 Nov 2026 06:15:24 GMT</Last-Modified><Content-Length>7</Content-Length>"
    "</Properties></Blob>"
    "</Blobs>"
    "<NextMarker>2!88!MDAwMDE0IWJhc2Uvenp6IQ--</NextMarker>"
    "</EnumerationResults>";

START_TEST(test_list_page)
{
    struct storage_list_page page;
    struct bk_error err = BK_ERROR_INIT;
    memset(&page, 0, sizeof(page));
    ck_assert_int_eq(azure_xml_parse_list(list_xml, sizeof(list_xml) - 1, &page, &err), BK_OK);
    ck_assert_uint_eq(page.len, 4);
    ck_assert_str_eq(page.entries[0].key, "base/a b+c.bin");
    ck_assert_uint_eq(page.entries[0].size, 1048577);
    ck_assert_int_eq(page.entries[0].mtime_us, 1255297753LL * 1000000);
    ck_assert_str_eq(page.entries[0].etag, "0x8CBFF45D8A29A19");
    ck_assert(!page.entries[0].is_prefix);
    ck_assert_str_eq(page.entries[1].key, "base/dir/");
    ck_assert(page.entries[1].is_prefix);
    ck_assert_uint_eq(page.entries[1].size, 0);
    ck_assert_str_eq(page.entries[2].key, "base/\xef\xbf\xbeodd");
    ck_assert_uint_eq(page.entries[2].size, 0);
    ck_assert_int_eq(page.entries[2].mtime_us, 1000000);
    ck_assert_str_eq(page.entries[2].etag, "0x1");
    ck_assert_str_eq(page.entries[3].key, "base/\xc3\xa9t\xc3\xa9 & co");
    ck_assert_uint_eq(page.entries[3].size, 7);
    ck_assert_str_eq(page.entries[3].etag, "");
    ck_assert_ptr_nonnull(page.next_token);
    ck_assert_str_eq(page.next_token, "2!88!MDAwMDE0IWJhc2Uvenp6IQ--");
    storage_list_page_clear(&page);
}
END_TEST

START_TEST(test_list_last_page)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ContainerName=\"backups\">"
        "<Blobs /><NextMarker /></EnumerationResults>";
    struct storage_list_page page;
    struct bk_error err = BK_ERROR_INIT;
    memset(&page, 0, sizeof(page));
    ck_assert_int_eq(azure_xml_parse_list(xml, sizeof(xml) - 1, &page, &err), BK_OK);
    ck_assert_uint_eq(page.len, 0);
    ck_assert_ptr_null(page.next_token);
    storage_list_page_clear(&page);
}
END_TEST

START_TEST(test_list_rejects_bad_bodies)
{
    static const char not_xml[] = "<html>502 Bad Gateway";
    static const char wrong_root[] = "<Error><Code>X</Code></Error>";
    static const char bad_length[] =
        "<EnumerationResults><Blobs><Blob><Name>k</Name><Properties><Content-Length>12x</Content-Length>"
        "</Properties></Blob></Blobs></EnumerationResults>";
    static const char bad_date[] =
        "<EnumerationResults><Blobs><Blob><Name>k</Name><Properties><Last-Modified>yesterday</Last-Modified>"
        "</Properties></Blob></Blobs></EnumerationResults>";
    static const char no_name[] =
        "<EnumerationResults><Blobs><Blob><Properties /></Blob></Blobs></EnumerationResults>";
    struct storage_list_page page;
    struct bk_error err = BK_ERROR_INIT;
    memset(&page, 0, sizeof(page));
    ck_assert_int_eq(azure_xml_parse_list(not_xml, sizeof(not_xml) - 1, &page, &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "list blobs reply is not an EnumerationResults document");
    ck_assert_int_eq(azure_xml_parse_list(wrong_root, sizeof(wrong_root) - 1, &page, &err), BK_EPROTO);
    ck_assert_int_eq(azure_xml_parse_list("", 0, &page, &err), BK_EPROTO);
    ck_assert_int_eq(azure_xml_parse_list(bad_length, sizeof(bad_length) - 1, &page, &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "list blobs returned Content-Length \"12x\"");
    ck_assert_str_eq(err.object, "k");
    ck_assert_int_eq(azure_xml_parse_list(bad_date, sizeof(bad_date) - 1, &page, &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "\"yesterday\" is not an RFC 1123 date");
    ck_assert_int_eq(azure_xml_parse_list(no_name, sizeof(no_name) - 1, &page, &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "list blobs returned a blob without a name");
    ck_assert_uint_eq(page.len, 0);
    storage_list_page_clear(&page);
}
END_TEST

START_TEST(test_error_body)
{
    static const char xml[] =
        "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>"
        "<Message>Server failed to authenticate the request. Make sure the value of the Authorization "
        "header is formed correctly including the signature.\nRequestId:8a4e\nTime:2026-11-25T06:15:24Z</Message>"
        "<AuthenticationErrorDetail>The MAC signature found in the HTTP request 'c2VjcmV0' is not the same"
        "</AuthenticationErrorDetail></Error>";
    char code[64], message[256];
    azure_xml_parse_error(xml, sizeof(xml) - 1, code, sizeof(code), message, sizeof(message));
    ck_assert_str_eq(code, "AuthenticationFailed");
    /* first line only; the detail that quotes the signature is never read */
    ck_assert_str_eq(message, "Server failed to authenticate the request. Make sure the value of the "
                              "Authorization header is formed correctly including the signature.");
    azure_xml_parse_error("", 0, code, sizeof(code), message, sizeof(message));
    ck_assert_str_eq(code, "");
    ck_assert_str_eq(message, "");
    azure_xml_parse_error("<html/>", 7, code, sizeof(code), message, sizeof(message));
    ck_assert_str_eq(code, "");
    ck_assert_str_eq(message, "");
}
END_TEST

START_TEST(test_block_ids)
{
    char id[32];
    azure_block_id(0x0badf00d, 1, id, sizeof(id));
    ck_assert_str_eq(id, "MGJhZGYwMGQtMDAwMDAwMDAx");          /* base64("0badf00d-000000001") */
    azure_block_id(0x0badf00d, 50000, id, sizeof(id));
    ck_assert_str_eq(id, "MGJhZGYwMGQtMDAwMDUwMDAw");          /* base64("0badf00d-000050000") */
    ck_assert_uint_eq(strlen(id), 24);
}
END_TEST

START_TEST(test_block_list_body)
{
    struct bk_buf body;
    struct bk_error err = BK_ERROR_INIT;
    bk_buf_init(&body, 4096);
    ck_assert_int_eq(azure_xml_block_list(&body, 0x0badf00d, 2, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&body),
                     "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BlockList>"
                     "<Latest>MGJhZGYwMGQtMDAwMDAwMDAx</Latest>"
                     "<Latest>MGJhZGYwMGQtMDAwMDAwMDAy</Latest></BlockList>");
    /* bounded by the buffer cap */
    body.max_cap = 100;
    ck_assert_int_eq(azure_xml_block_list(&body, 1, 50, &err), BK_ENOMEM);
    bk_buf_free(&body);
}
END_TEST

static Suite *azure_xml_suite(void)
{
    Suite *s = suite_create("azure_xml");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_list_page);
    tcase_add_test(tc, test_list_last_page);
    tcase_add_test(tc, test_list_rejects_bad_bodies);
    tcase_add_test(tc, test_error_body);
    tcase_add_test(tc, test_block_ids);
    tcase_add_test(tc, test_block_list_body);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(azure_xml_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * S3/STS XML readers and the escaper (storage/s3/s3_xml.c) on replies shaped like the
 * examples in the S3 and STS API references: ListObjectsV2, Error, multipart initiate,
 * DeleteObjects results and AssumeRoleWithWebIdentity, plus malformed input.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../storage/s3/s3_internal.h"

#define LIST_NS "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"

static int parse_list(const char *xml, struct storage_list_page *page, struct bk_error *err)
{
    memset(page, 0, sizeof(*page));
    return s3_xml_parse_list(xml, strlen(xml), page, err);
}

START_TEST(test_list_merges_prefixes_and_contents)
{
    const char *xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" LIST_NS
        "<Name>backups</Name><Prefix>base/</Prefix><KeyCount>4</KeyCount><MaxKeys>1000</MaxKeys>"
        "<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
        "<Contents><Key>base/b.json</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>base/a &amp; b </Key><LastModified>2009-10-12T17:50:31Z</LastModified>"
        "<ETag>\"x-2\"</ETag><Size>0</Size></Contents>"
        "<CommonPrefixes><Prefix>base/c/</Prefix></CommonPrefixes>"
        "<CommonPrefixes><Prefix>base/a/</Prefix></CommonPrefixes>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        "</ListBucketResult>";
    struct storage_list_page page;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(parse_list(xml, &page, &err), BK_OK);
    ck_assert_uint_eq(page.len, 4);
    ck_assert_str_eq(page.entries[0].key, "base/a & b ");   /* spaces in keys are kept */
    ck_assert_str_eq(page.entries[1].key, "base/a/");
    ck_assert(page.entries[1].is_prefix);
    ck_assert_str_eq(page.entries[2].key, "base/b.json");
    ck_assert_uint_eq(page.entries[2].size, 434234);
    ck_assert_int_eq(page.entries[2].mtime_us, 1255369830000000LL);
    ck_assert_str_eq(page.entries[2].etag, "fba9dede5f27731c9771645a39863328");
    ck_assert(!page.entries[2].is_prefix);
    ck_assert_str_eq(page.entries[3].key, "base/c/");
    ck_assert_str_eq(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    storage_list_page_clear(&page);
}
END_TEST

START_TEST(test_list_last_page_and_errors)
{
    struct storage_list_page page;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(parse_list(LIST_NS "<IsTruncated>false</IsTruncated></ListBucketResult>", &page, &err), BK_OK);
    ck_assert_uint_eq(page.len, 0);
    ck_assert_ptr_null(page.next_token);
    storage_list_page_clear(&page);
    ck_assert_int_eq(parse_list(LIST_NS "<IsTruncated>true</IsTruncated></ListBucketResult>", &page, &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "list reply is truncated but has no <NextContinuationToken>");
    storage_list_page_clear(&page);
    ck_assert_int_eq(parse_list(LIST_NS "<Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
                                &page, &err), BK_EPROTO);
    ck_assert_str_eq(err.object, "k");
    storage_list_page_clear(&page);
    ck_assert_int_eq(parse_list("<Error><Code>AccessDenied</Code></Error>", &page, &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "list reply has root <Error>, expected <ListBucketResult>");
    storage_list_page_clear(&page);
    ck_assert_int_eq(parse_list("not xml at all", &page, &err), BK_EPROTO);
    storage_list_page_clear(&page);
}
END_TEST

START_TEST(test_error_bodies)
{
    char code[64], message[256];
    const char *s3 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                     "<Message>The resource you requested does not exist</Message>"
                     "<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>";
    const char *sts = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
                      "<Code>InvalidIdentityToken</Code><Message>Token is bad</Message></Error>"
                      "<RequestId>x</RequestId></ErrorResponse>";
    ck_assert(s3_xml_parse_error(s3, strlen(s3), code, sizeof(code), message, sizeof(message)));
    ck_assert_str_eq(code, "NoSuchKey");
    ck_assert_str_eq(message, "The resource you requested does not exist");
    ck_assert(s3_xml_parse_error(sts, strlen(sts), code, sizeof(code), message, sizeof(message)));
    ck_assert_str_eq(code, "InvalidIdentityToken");
    ck_assert_str_eq(message, "Token is bad");
    ck_assert(!s3_xml_parse_error("", 0, code, sizeof(code), message, sizeof(message)));
    ck_assert_str_eq(code, "");
    ck_assert(!s3_xml_parse_error("<html>502</html>", 16, code, sizeof(code), message, sizeof(message)));
}
END_TEST

START_TEST(test_xxe_entities_not_expanded)
{
    char code[64], message[256];
    const char *xml = "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                      "<Error><Code>C</Code><Message>&x;</Message></Error>";
    s3_xml_parse_error(xml, strlen(xml), code, sizeof(code), message, sizeof(message));
    ck_assert_ptr_null(strstr(message, "root:"));
}
END_TEST

START_TEST(test_upload_id)
{
    char *id = NULL;
    struct bk_error err = BK_ERROR_INIT;
    const char *xml = "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                      "<Bucket>example-bucket</Bucket><Key>example-object</Key>"
                      "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
                      "</InitiateMultipartUploadResult>";
    ck_assert_int_eq(s3_xml_parse_upload_id(xml, strlen(xml), &id, &err), BK_OK);
    ck_assert_str_eq(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
    free(id);
    ck_assert_int_eq(s3_xml_parse_upload_id("<InitiateMultipartUploadResult/>", 33, &id, &err), BK_EPROTO);
    ck_assert_ptr_null(id);
}
END_TEST

START_TEST(test_delete_result)
{
    struct s3_delete_failure f;
    struct bk_error err = BK_ERROR_INIT;
    const char *xml = "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                      "<Deleted><Key>sample1.txt</Key></Deleted>"
                      "<Error><Key>sample2.txt</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
                      "<Error><Key>sample3.txt</Key><Code>InternalError</Code><Message>x</Message></Error>"
                      "</DeleteResult>";
    ck_assert_int_eq(s3_xml_parse_delete_result(xml, strlen(xml), &f, &err), BK_OK);
    ck_assert_uint_eq(f.n_deleted, 1);
    ck_assert_uint_eq(f.n_errors, 2);
    ck_assert_str_eq(f.key, "sample2.txt");
    ck_assert_str_eq(f.code, "AccessDenied");
    ck_assert_str_eq(f.message, "Access Denied");
}
END_TEST

START_TEST(test_sts_credentials)
{
    struct s3_creds c;
    struct bk_error err = BK_ERROR_INIT;
    const char *xml =
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
        "  <AssumeRoleWithWebIdentityResult>\n"
        "    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>\n"
        "    <Credentials>\n"
        "      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>\n"
        "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
        "      <Expiration>2014-10-24T23:00:23Z</Expiration>\n"
        "      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
        "    </Credentials>\n"
        "  </AssumeRoleWithWebIdentityResult>\n"
        "</AssumeRoleWithWebIdentityResponse>";
    ck_assert_int_eq(s3_xml_parse_sts_creds(xml, strlen(xml), &c, &err), BK_OK);
    ck_assert_str_eq(c.access_key_id, "ASgeIAIOSFODNN7EXAMPLE");
    ck_assert_str_eq(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    ck_assert_str_eq(c.session_token, "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE");
    ck_assert_int_eq(c.expires_us, 1414191623000000LL);
    s3_creds_clear(&c);
    ck_assert_ptr_null(c.secret_access_key);
    ck_assert_int_eq(s3_xml_parse_sts_creds("<AssumeRoleWithWebIdentityResponse/>", 36, &c, &err), BK_EPROTO);
    ck_assert_ptr_null(c.access_key_id);
}
END_TEST

START_TEST(test_escape)
{
    struct bk_buf out;
    struct bk_error err = BK_ERROR_INIT;
    bk_buf_init(&out, 1024);
    ck_assert_int_eq(s3_xml_escape(&out, "a&b<c>d\"e'f\tg \xc3\xa9", &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&out), "a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g \xc3\xa9");
    bk_buf_reset(&out);
    ck_assert_int_eq(s3_xml_escape(&out, "bell\x07", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "key holds control character 0x07 that XML 1.0 cannot carry");
    bk_buf_free(&out);
}
END_TEST

START_TEST(test_http_date_and_etag)
{
    int64_t us = 0;
    char etag[64];
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(s3_parse_http_date("Wed, 12 Oct 2009 17:50:00 GMT", &us, &err), BK_OK);
    ck_assert_int_eq(us, 1255369800000000LL);
    ck_assert_int_eq(s3_parse_http_date("12/10/2009", &us, &err), BK_EPROTO);
    ck_assert_int_eq(s3_parse_http_date("Wed, 12 Foo 2009 17:50:00 GMT", &us, &err), BK_EPROTO);
    s3_etag_unquote("\"abc-3\"", etag, sizeof(etag));
    ck_assert_str_eq(etag, "abc-3");
    s3_etag_unquote("plain", etag, sizeof(etag));
    ck_assert_str_eq(etag, "plain");
}
END_TEST

static Suite *s3_xml_suite(void)
{
    Suite *s = suite_create("s3_xml");
    TCase *tc = tcase_create("replies");
    tcase_add_test(tc, test_list_merges_prefixes_and_contents);
    tcase_add_test(tc, test_list_last_page_and_errors);
    tcase_add_test(tc, test_error_bodies);
    tcase_add_test(tc, test_xxe_entities_not_expanded);
    tcase_add_test(tc, test_upload_id);
    tcase_add_test(tc, test_delete_result);
    tcase_add_test(tc, test_sts_credentials);
    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_http_date_and_etag);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(s3_xml_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

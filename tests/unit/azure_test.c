/*
 * Unit tests for the Azure Blob driver (storage/azure/azure.c) against a scripted in-process
 * HTTP server: the exact requests it sends (method, path, query, x-ms-* headers, SAS in the
 * query, block ids, block list body) and how it maps replies (status, x-ms-error-code, XML
 * <Code>, Content-MD5 echo) to codes and messages. Interop with the real protocol is covered
 * by the conformance suite and tests/e2e/crosscheck_azure.sh on azurite.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../storage/azure/azure_internal.h"

#define AZURITE_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define MAX_REQ 8

/* ---- a one-connection-at-a-time scripted HTTP server ---- */

static struct {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    const char *replies[MAX_REQ];   /* one per request, in order; the last repeats */
    size_t n_replies;
    char requests[MAX_REQ][8192];   /* head and body of each request */
    size_t n_requests;
} fake;

static void *fake_serve(void *arg)
{
    (void)arg;
    for (;;) {
        char buf[8192];
        size_t used = 0;
        long body_len = 0;
        char *head_end = NULL;
        const char *reply;
        int c = accept(fake.fd, NULL, NULL);
        if (c < 0)
            return NULL;
        while (used < sizeof(buf) - 1) {
            ssize_t n = read(c, buf + used, sizeof(buf) - 1 - used);
            if (n <= 0)
                break;
            used += (size_t)n;
            buf[used] = '\0';
            if (head_end == NULL && (head_end = strstr(buf, "\r\n\r\n")) != NULL) {
                const char *cl = strcasestr(buf, "\r\nContent-Length:");
                body_len = cl != NULL && cl < head_end ? atol(cl + 17) : 0;
            }
            if (head_end != NULL && used >= (size_t)(head_end + 4 - buf) + (size_t)body_len)
                break;
        }
        buf[used] = '\0';
        pthread_mutex_lock(&fake.lock);
        if (fake.n_requests < MAX_REQ)
            snprintf(fake.requests[fake.n_requests], sizeof(fake.requests[0]), "%s", buf);
        reply = fake.replies[fake.n_requests < fake.n_replies ? fake.n_requests : fake.n_replies - 1];
        fake.n_requests++;
        pthread_mutex_unlock(&fake.lock);
        if (write(c, reply, strlen(reply)) < 0)
            perror("fake write");
        close(c);
    }
}

static void fake_start(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    memset(&fake, 0, sizeof(fake));
    pthread_mutex_init(&fake.lock, NULL);
    fake.fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fake.fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(listen(fake.fd, 8), 0);
    getsockname(fake.fd, (struct sockaddr *)&addr, &len);
    fake.port = ntohs(addr.sin_port);
    pthread_create(&fake.thread, NULL, fake_serve, NULL);
}

static void fake_stop(void)
{
    shutdown(fake.fd, SHUT_RDWR);
    close(fake.fd);
    pthread_join(fake.thread, NULL);
    pthread_mutex_destroy(&fake.lock);
}

static void fake_script(const char *r1, const char *r2, const char *r3)
{
    pthread_mutex_lock(&fake.lock);
    fake.replies[0] = r1;
    fake.replies[1] = r2 != NULL ? r2 : r1;
    fake.replies[2] = r3 != NULL ? r3 : fake.replies[1];
    fake.n_replies = 3;
    fake.n_requests = 0;
    pthread_mutex_unlock(&fake.lock);
}

/* A reply with the right Content-Length; HEAD-style replies give head_len and no body. */
static char reply_bufs[16][2048];
static size_t reply_next;
static const char *reply(const char *status_line, const char *headers, const char *body, long head_len)
{
    char *out = reply_bufs[reply_next++ % 16];
    snprintf(out, sizeof(reply_bufs[0]), "HTTP/1.1 %s\r\n%sConnection: close\r\nContent-Length: %ld\r\n\r\n%s",
             status_line, headers, head_len >= 0 ? head_len : (long)strlen(body), head_len >= 0 ? "" : body);
    return out;
}
#define REPLY(status_line, headers, body) reply(status_line, headers, body, -1)
#define REPLY_HEAD(status_line, headers, len) reply(status_line, headers, "", len)

/* ---- driver under test ---- */

static struct storage_driver *open_driver(const char *key, const char *sas)
{
    struct storage_config cfg;
    struct storage_driver *drv = NULL;
    struct bk_error err = BK_ERROR_INIT;
    char endpoint[128];
    storage_config_init(&cfg);
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/devstoreaccount1/", fake.port);
    cfg.scheme = strdup("azure");
    cfg.bucket = strdup("backups");
    cfg.az_account = strdup("devstoreaccount1");
    cfg.az_endpoint = strdup(endpoint);
    cfg.az_access_key = key != NULL ? strdup(key) : NULL;
    cfg.az_sas_token = sas != NULL ? strdup(sas) : NULL;
    cfg.http.max_attempts = 1;
    ck_assert_int_eq(storage_azure_ops.open(&drv, &cfg, &err), BK_OK);
    storage_config_free(&cfg);
    return drv;
}

/* The first line of request i must be exactly line (given with its CRLF). */
#define ck_assert_request_line(i, line) \
    ck_assert_str_eq(first_line(fake.requests[i]), line)
static const char *first_line(const char *request)
{
    static char buf[1024];
    size_t n = strcspn(request, "\n");
    snprintf(buf, sizeof(buf), "%.*s\n", (int)n, request);
    return buf;
}

static void setup(void) { fake_start(); }
static void teardown(void) { fake_stop(); }

START_TEST(test_stat_ok)
{
    struct storage_driver *drv = open_driver(AZURITE_KEY, NULL);
    struct storage_stat st;
    struct bk_error err = BK_ERROR_INIT;
    fake_script(REPLY_HEAD("200 OK", "Last-Modified: Sun, 11 Oct 2009 21:49:13 GMT\r\nETag: \"0x8CBFF45D8A29A19\"\r\n",
                           1234), NULL, NULL);
    ck_assert_int_eq(storage_azure_ops.stat(drv, "dir/k", &st, &err), BK_OK);
    ck_assert_uint_eq(st.size, 1234);
    ck_assert_int_eq(st.mtime_us, 1255297753LL * 1000000);
    ck_assert_str_eq(st.etag, "0x8CBFF45D8A29A19");
    ck_assert_request_line(0, "HEAD /devstoreaccount1/backups/dir/k HTTP/1.1\r\n");
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "\r\nx-ms-version: 2021-08-06\r\n"));
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "\r\nx-ms-date: "));
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "\r\nAuthorization: SharedKey devstoreaccount1:"));
    storage_azure_ops.close(drv);
}
END_TEST

START_TEST(test_stat_errors_from_header)
{
    struct storage_driver *drv = open_driver(AZURITE_KEY, NULL);
    struct storage_stat st;
    struct bk_error err = BK_ERROR_INIT;
    fake_script(REPLY_HEAD("403 Server failed to authenticate the request", "x-ms-error-code: AuthenticationFailed\r\n", 0),
                REPLY_HEAD("404 The specified blob does not exist", "x-ms-error-code: BlobNotFound\r\n", 0), NULL);
    ck_assert_int_eq(storage_azure_ops.stat(drv, "dir/k", &st, &err), BK_EAUTH);
    ck_assert_str_eq(err.op, "azure_get_blob_properties");
    ck_assert_str_eq(err.object, "dir/k");
    ck_assert_int_eq(err.http_status, 403);
    ck_assert_str_eq(err.server_code, "AuthenticationFailed");
    ck_assert_str_eq(err.message, "HEAD dir/k: HTTP 403 AuthenticationFailed");
    ck_assert_str_eq(err.hint, "check AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_ACCESS_KEY");
    ck_assert(!err.retryable);
    ck_assert_int_eq(storage_azure_ops.stat(drv, "dir/k", &st, &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.server_code, "BlobNotFound");
    ck_assert_int_eq(err.http_status, 404);
    storage_azure_ops.close(drv);
}
END_TEST

START_TEST(test_get_range_streams)
{
    struct storage_driver *drv = open_driver(AZURITE_KEY, NULL);
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf out;
    struct bk_sink *sink = NULL;
    uint64_t delivered = 99;
    bk_buf_init(&out, 1024);
    ck_assert_int_eq(bk_sink_buf_new(&sink, &out, &err), BK_OK);
    fake_script(REPLY("206 Partial Content", "Content-Range: bytes 5-9/20\r\n", "hello"),
                REPLY("200 OK", "", "whole"), NULL);
    ck_assert_int_eq(storage_azure_ops.get(drv, "k", 5, 5, sink, &delivered, &err), BK_OK);
    ck_assert_uint_eq(delivered, 5);
    ck_assert_str_eq(bk_buf_str(&out), "hello");
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "GET /devstoreaccount1/backups/k HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "\r\nx-ms-range: bytes=5-9\r\n"));
    /* a server that ignores the range must not pass for a ranged read */
    ck_assert_int_eq(storage_azure_ops.get(drv, "k", 5, 0, sink, &delivered, &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "get blob \"k\" ignored the requested range (HTTP 200)");
    ck_assert_ptr_nonnull(strstr(fake.requests[1], "\r\nx-ms-range: bytes=5-\r\n"));
    bk_sink_free(sink);
    bk_buf_free(&out);
    storage_azure_ops.close(drv);
}
END_TEST

START_TEST(test_put_blob_md5)
{
    struct storage_driver *drv = open_driver(AZURITE_KEY, NULL);
    struct bk_error err = BK_ERROR_INIT;
    fake_script(REPLY("201 Created", "Content-MD5: XUFAKrxLKna5cZ2REBfFkg==\r\n", ""),
                REPLY("201 Created", "Content-MD5: AAAAAAAAAAAAAAAAAAAAAA==\r\n", ""), NULL);
    ck_assert_int_eq(storage_azure_ops.put_single(drv, "a b+c", "hello", 5, NULL, &err), BK_OK);
    ck_assert_request_line(0, "PUT /devstoreaccount1/backups/a%20b%2Bc HTTP/1.1\r\n");
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "\r\nx-ms-blob-type: BlockBlob\r\n"));
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "\r\nContent-MD5: XUFAKrxLKna5cZ2REBfFkg==\r\n"));
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "\r\nContent-Type: application/octet-stream\r\n"));
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "\r\n\r\nhello"));
    ck_assert_int_eq(storage_azure_ops.put_single(drv, "a b+c", "hello", 5, NULL, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "the service stored \"a b+c\" with Content-MD5 AAAAAAAAAAAAAAAAAAAAAA==, "
                                  "expected XUFAKrxLKna5cZ2REBfFkg==");
    storage_azure_ops.close(drv);
}
END_TEST

START_TEST(test_sas_in_query_never_in_errors)
{
    struct storage_driver *drv = open_driver(NULL, "?sv=2021-08-06&sp=rw&sig=SECRETSIG%3D\n");
    struct bk_error err = BK_ERROR_INIT;
    fake_script(REPLY("403 Forbidden", "Content-Type: application/xml\r\n",
                      "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationFailure</Code>"
                      "<Message>Signature did not match for sig=SECRETSIG%3D.\nRequestId:1</Message></Error>"),
                NULL, NULL);
    ck_assert_int_eq(storage_azure_ops.put_single(drv, "k", "x", 1, NULL, &err), BK_EAUTH);
    ck_assert_request_line(0, "PUT /devstoreaccount1/backups/k?sv=2021-08-06&sp=rw&sig=SECRETSIG%3D HTTP/1.1\r\n");
    ck_assert_ptr_null(strstr(fake.requests[0], "Authorization:"));
    ck_assert_str_eq(err.server_code, "AuthorizationFailure");
    ck_assert_str_eq(err.message, "PUT k: AuthorizationFailure: Signature did not match for");
    ck_assert_str_eq(err.hint, "check AZURE_STORAGE_SAS_TOKEN (signature, expiry, permissions)");
    ck_assert_ptr_null(strstr(err.message, "SECRETSIG"));
    ck_assert_ptr_null(strstr(err.object, "SECRETSIG"));
    storage_azure_ops.close(drv);
}
END_TEST

START_TEST(test_list_query_and_page)
{
    struct storage_driver *drv = open_driver(AZURITE_KEY, NULL);
    struct storage_list_page page;
    struct bk_error err = BK_ERROR_INIT;
    memset(&page, 0, sizeof(page));
    fake_script(REPLY("200 OK", "Content-Type: application/xml\r\n",
                      "<EnumerationResults><Blobs><BlobPrefix><Name>a b/sub/</Name></BlobPrefix></Blobs>"
                      "<NextMarker>next!</NextMarker></EnumerationResults>"),
                NULL, NULL);
    ck_assert_int_eq(storage_azure_ops.list_page(drv, "a b/", "/", "tok!", &page, &err), BK_OK);
    ck_assert_request_line(0, "GET /devstoreaccount1/backups?restype=container&comp=list&maxresults=1000"
                                        "&prefix=a%20b%2F&delimiter=%2F&marker=tok%21 HTTP/1.1\r\n");
    ck_assert_uint_eq(page.len, 1);
    ck_assert_str_eq(page.entries[0].key, "a b/sub/");
    ck_assert(page.entries[0].is_prefix);
    ck_assert_str_eq(page.next_token, "next!");
    storage_list_page_clear(&page);
    storage_azure_ops.close(drv);
}
END_TEST

START_TEST(test_remove_missing)
{
    struct storage_driver *drv = open_driver(AZURITE_KEY, NULL);
    struct bk_error err = BK_ERROR_INIT;
    fake_script(REPLY("404 Not Found", "x-ms-error-code: BlobNotFound\r\n", ""),
                REPLY("404 Not Found", "x-ms-error-code: ContainerNotFound\r\n", ""), NULL);
    ck_assert_int_eq(storage_azure_ops.remove(drv, "gone", &err), BK_OK);
    ck_assert_request_line(0, "DELETE /devstoreaccount1/backups/gone HTTP/1.1\r\n");
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "\r\nx-ms-delete-snapshots: include\r\n"));
    ck_assert_int_eq(storage_azure_ops.remove(drv, "gone", &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.server_code, "ContainerNotFound");
    storage_azure_ops.close(drv);
}
END_TEST

/* The blockid query value of request i, decoded. */
static void block_id_of(size_t i, char *out, size_t cap)
{
    struct bk_buf b;
    struct bk_error err = BK_ERROR_INIT;
    const char *p = strstr(fake.requests[i], "blockid=");
    ck_assert_ptr_nonnull(p);
    p += 8;
    bk_buf_init(&b, 256);
    ck_assert_int_eq(azure_percent_decode(&b, p, strcspn(p, " &"), &err), BK_OK);
    snprintf(out, cap, "%s", bk_buf_str(&b));
    bk_buf_free(&b);
}

START_TEST(test_multipart_upload)
{
    struct storage_driver *drv = open_driver(AZURITE_KEY, NULL);
    struct storage_upload *up = NULL;
    struct bk_error err = BK_ERROR_INIT;
    struct storage_put_opts opts = { "application/x-tar" };
    char id1[64], id2[64], want[256];
    fake_script(REPLY("201 Created", "Content-MD5: XUFAKrxLKna5cZ2REBfFkg==\r\n", ""), NULL, NULL);
    ck_assert_int_eq(storage_azure_ops.upload_begin(drv, "big", &opts, &up, &err), BK_OK);
    ck_assert_uint_eq(fake.n_requests, 0);   /* nothing to create server-side */
    ck_assert_int_eq(storage_azure_ops.upload_part(up, 1, "hello", 5, false, &err), BK_OK);
    ck_assert_int_eq(storage_azure_ops.upload_part(up, 2, "hello", 5, true, &err), BK_OK);
    ck_assert_int_eq(storage_azure_ops.upload_complete(up, &err), BK_OK);
    ck_assert_uint_eq(fake.n_requests, 3);
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "PUT /devstoreaccount1/backups/big?comp=block&blockid="));
    ck_assert_ptr_nonnull(strstr(fake.requests[0], "\r\nContent-MD5: XUFAKrxLKna5cZ2REBfFkg==\r\n"));
    block_id_of(0, id1, sizeof(id1));
    block_id_of(1, id2, sizeof(id2));
    ck_assert_uint_eq(strlen(id1), 24);
    ck_assert_uint_eq(strlen(id2), 24);
    ck_assert_str_ne(id1, id2);
    ck_assert_request_line(2, "PUT /devstoreaccount1/backups/big?comp=blocklist HTTP/1.1\r\n");
    ck_assert_ptr_nonnull(strstr(fake.requests[2], "\r\nx-ms-blob-content-type: application/x-tar\r\n"));
    snprintf(want, sizeof(want), "\r\n\r\n<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BlockList>"
             "<Latest>%s</Latest><Latest>%s</Latest></BlockList>", id1, id2);
    ck_assert_ptr_nonnull(strstr(fake.requests[2], want));
    storage_azure_ops.close(drv);
}
END_TEST

START_TEST(test_multipart_limits)
{
    struct storage_driver *drv = open_driver(AZURITE_KEY, NULL);
    struct storage_upload *up = NULL;
    struct bk_error err = BK_ERROR_INIT;
    fake_script(REPLY("201 Created", "", ""), NULL, NULL);
    ck_assert_int_eq(storage_azure_ops.upload_begin(drv, "big", NULL, &up, &err), BK_OK);
    ck_assert_int_eq(storage_azure_ops.upload_part(up, 50001, "x", 1, false, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "part 50001 of \"big\" is beyond azure's limit of 50000 blocks per blob");
    ck_assert_str_eq(err.hint, "raise BACKUP_PART_SIZE so the object fits in 50000 parts");
    ck_assert_uint_eq(fake.n_requests, 0);
    ck_assert_int_eq(storage_azure_ops.upload_part(up, 1, "x", 1, false, &err), BK_OK);
    ck_assert_int_eq(storage_azure_ops.upload_part(up, 3, "x", 1, true, &err), BK_OK);
    ck_assert_int_eq(storage_azure_ops.upload_complete(up, &err), BK_EINTERNAL);
    ck_assert_str_eq(err.message, "cannot commit \"big\": 1 of 3 parts were not stored");
    ck_assert_uint_eq(fake.n_requests, 2);   /* no Put Block List was sent */
    storage_azure_ops.upload_abort(up);      /* frees; nothing to delete server-side */
    ck_assert_uint_eq(fake.n_requests, 2);
    storage_azure_ops.close(drv);
}
END_TEST

START_TEST(test_open_errors)
{
    struct storage_config cfg;
    struct storage_driver *drv = NULL;
    struct bk_error err = BK_ERROR_INIT;
    storage_config_init(&cfg);
    cfg.scheme = strdup("azure");
    cfg.bucket = strdup("backups");
    cfg.az_account = strdup("acct");
    ck_assert_int_eq(storage_azure_ops.open(&drv, &cfg, &err), BK_EAUTH);
    ck_assert_str_eq(err.message, "no azure credentials: set AZURE_STORAGE_ACCESS_KEY or AZURE_STORAGE_SAS_TOKEN");
    cfg.az_access_key = strdup("%%%not-base64");
    ck_assert_int_eq(storage_azure_ops.open(&drv, &cfg, &err), BK_EINVAL);
    ck_assert_ptr_null(strstr(err.message, "not-base64"));
    cfg.part_size_bytes = 4000ull * 1024 * 1024 + 1;
    ck_assert_int_eq(storage_azure_ops.open(&drv, &cfg, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "BACKUP_PART_SIZE 4194304001 is above azure's block limit of 4000 MiB");
    cfg.part_size_bytes = 4000ull * 1024 * 1024;
    ck_assert_int_eq(storage_azure_ops.open(&drv, &cfg, &err), BK_EINVAL);   /* the key again */
    ck_assert_ptr_null(strstr(err.message, "not-base64"));
    free(cfg.bucket);
    cfg.bucket = strdup("");
    ck_assert_int_eq(storage_azure_ops.open(&drv, &cfg, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "the azure url names no container (azure://<container>/<prefix>)");
    ck_assert_ptr_null(drv);
    storage_config_free(&cfg);
}
END_TEST

static Suite *azure_suite(void)
{
    Suite *s = suite_create("azure");
    TCase *tc = tcase_create("driver");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stat_ok);
    tcase_add_test(tc, test_stat_errors_from_header);
    tcase_add_test(tc, test_get_range_streams);
    tcase_add_test(tc, test_put_blob_md5);
    tcase_add_test(tc, test_sas_in_query_never_in_errors);
    tcase_add_test(tc, test_list_query_and_page);
    tcase_add_test(tc, test_remove_missing);
    tcase_add_test(tc, test_multipart_upload);
    tcase_add_test(tc, test_multipart_limits);
    tcase_add_test(tc, test_open_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(azure_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

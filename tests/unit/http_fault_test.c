/*
 * bk_http against a scripted fault server (tests/servers/fault-server.js, started here):
 * 503/429 are retried and succeed within the budget, give up past it with the server's code;
 * a body cut mid-way is retried before any byte reaches the caller's sink, and resumed by the
 * storage front end after; a stalled response trips the stall timeout; a PUT whose connection
 * is reset is re-sent whole from its buffer.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bk_crypto.h"
#include "bk_http.h"
#include "bk_log.h"
#include "bk_time.h"

static pid_t server_pid;
static char base_url[64];
static char run_tag[32];

static void start_server(void)
{
    int port = 20000 + (int)(getpid() % 20000);
    int pipefd[2];
    char line[16] = "";
    ck_assert_int_eq(pipe(pipefd), 0);
    server_pid = fork();
    if (server_pid == 0) {
        char port_s[16];
        snprintf(port_s, sizeof(port_s), "%d", port);
        setenv("PORT", port_s, 1);
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        execlp("node", "node", "tests/servers/fault-server.js", (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    ck_assert_int_gt(read(pipefd[0], line, sizeof(line) - 1), 0);
    close(pipefd[0]);
    snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", port);
    snprintf(run_tag, sizeof(run_tag), "t%lld", (long long)bk_time_now_us());
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
}

static struct bk_http_client *client_with(int attempts, long stall_s)
{
    struct bk_http_opts opts = BK_HTTP_OPTS_INIT;
    struct bk_http_client *c = NULL;
    struct bk_error err = BK_ERROR_INIT;
    opts.max_attempts = attempts;
    opts.backoff_base_ms = 10;
    opts.backoff_max_ms = 50;
    opts.stall_timeout_s = stall_s;
    ck_assert_int_eq(bk_http_client_new(&c, &opts, &err), BK_OK);
    return c;
}

static int do_get(struct bk_http_client *c, const char *path, struct bk_http_response *resp,
                  struct bk_sink *sink, struct bk_error *err)
{
    char url[256];
    struct bk_http_request req = { 0 };
    snprintf(url, sizeof(url), "%s%s", base_url, path);
    req.op = "test_get";
    req.object = path;
    req.method = "GET";
    req.url = url;
    req.response_sink = sink;
    return bk_http_do(c, &req, resp, err);
}

START_TEST(test_503_retried_then_ok)
{
    struct bk_http_client *c = client_with(5, 10);
    struct bk_http_response resp;
    struct bk_error err = BK_ERROR_INIT;
    char path[128];
    snprintf(path, sizeof(path), "/status/503/2/%s-a", run_tag);
    bk_http_response_init(&resp);
    ck_assert_int_eq(do_get(c, path, &resp, NULL, &err), BK_OK);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(resp.attempts, 3);
    ck_assert(strncmp(bk_buf_str(&resp.body), "ok-", 3) == 0);
    bk_http_response_free(&resp);
    bk_http_client_free(c);
}
END_TEST

START_TEST(test_429_gives_up_past_budget)
{
    struct bk_http_client *c = client_with(3, 10);
    struct bk_http_response resp;
    struct bk_error err = BK_ERROR_INIT;
    struct bk_http_request req = { 0 };
    char path[128], url[256];
    snprintf(path, sizeof(path), "/status/429/10/%s-b", run_tag);
    snprintf(url, sizeof(url), "%s%s", base_url, path);
    req.op = "test_get";
    req.object = "obj-b";
    req.method = "GET";
    req.url = url;
    bk_http_response_init(&resp);
    ck_assert_int_eq(bk_http_do(c, &req, &resp, &err), BK_OK);   /* a reply arrived: the caller maps it */
    ck_assert_int_eq(resp.status, 429);
    ck_assert_int_eq(resp.attempts, 3);
    ck_assert_int_eq(bk_http_error_from_response(&err, &req, &resp, "Injected429", "injected failure 3"), BK_ETHROTTLED);
    ck_assert_int_eq(err.http_status, 429);
    ck_assert_str_eq(err.server_code, "Injected429");
    ck_assert_str_eq(err.object, "obj-b");
    ck_assert_msg(strstr(err.message, "after 3 attempts") != NULL, "message: %s", err.message);
    bk_http_response_free(&resp);
    bk_http_client_free(c);
}
END_TEST

START_TEST(test_cut_body_retried_before_first_byte_to_sink)
{
    /* the buffer (no sink) path: a cut body is simply retried */
    struct bk_http_client *c = client_with(4, 10);
    struct bk_http_response resp;
    struct bk_error err = BK_ERROR_INIT;
    char path[128];
    uint8_t want[BK_SHA256_LEN], got[BK_SHA256_LEN];
    uint8_t payload[100000];
    for (int i = 0; i < 100000; i++)
        payload[i] = (uint8_t)((i * 7 + 3) & 0xff);
    snprintf(path, sizeof(path), "/cut/2/%s-c", run_tag);
    bk_http_response_init(&resp);
    ck_assert_int_eq(do_get(c, path, &resp, NULL, &err), BK_OK);
    ck_assert_int_eq(resp.attempts, 3);
    ck_assert_uint_eq(resp.body.len, 100000);
    bk_sha256(payload, sizeof(payload), want);
    bk_sha256(resp.body.data, resp.body.len, got);
    ck_assert_mem_eq(got, want, sizeof(want));
    bk_http_response_free(&resp);
    bk_http_client_free(c);
}
END_TEST

START_TEST(test_cut_body_to_sink_not_retried)
{
    /* once bytes reached the sink, bk_http stops and reports them; the storage front end resumes */
    struct bk_http_client *c = client_with(4, 10);
    struct bk_http_response resp;
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf got;
    struct bk_sink *sink = NULL;
    char path[128];
    int rc;
    bk_buf_init(&got, 200000);
    ck_assert_int_eq(bk_sink_buf_new(&sink, &got, &err), BK_OK);
    snprintf(path, sizeof(path), "/cut/1/%s-d", run_tag);
    bk_http_response_init(&resp);
    rc = do_get(c, path, &resp, sink, &err);
    ck_assert_int_eq(rc, BK_ENET);
    ck_assert(err.retryable);
    ck_assert_int_eq(resp.attempts, 1);
    ck_assert_uint_eq(resp.body_bytes_to_sink, 30000);
    ck_assert_uint_eq(got.len, 30000);
    bk_sink_free(sink);
    bk_buf_free(&got);
    bk_http_response_free(&resp);
    bk_http_client_free(c);
}
END_TEST

START_TEST(test_stall_times_out_then_succeeds)
{
    struct bk_http_client *c = client_with(3, 1);
    struct bk_http_response resp;
    struct bk_error err = BK_ERROR_INIT;
    char path[128];
    int64_t t0 = bk_time_mono_ms();
    snprintf(path, sizeof(path), "/stall/1/%s-e", run_tag);
    bk_http_response_init(&resp);
    ck_assert_int_eq(do_get(c, path, &resp, NULL, &err), BK_OK);
    ck_assert_int_eq(resp.attempts, 2);
    ck_assert_str_eq(bk_buf_str(&resp.body), "0123456789abcdefghij");
    ck_assert_int_lt(bk_time_mono_ms() - t0, 8000);
    bk_http_response_free(&resp);
    bk_http_client_free(c);
}
END_TEST

START_TEST(test_stall_gives_up_with_timeout)
{
    struct bk_http_client *c = client_with(2, 1);
    struct bk_http_response resp;
    struct bk_error err = BK_ERROR_INIT;
    char path[128];
    snprintf(path, sizeof(path), "/stall/5/%s-f", run_tag);
    bk_http_response_init(&resp);
    ck_assert_int_eq(do_get(c, path, &resp, NULL, &err), BK_ETIMEOUT);
    ck_assert_msg(strstr(err.message, "failed after 2 attempts") != NULL, "message: %s", err.message);
    ck_assert_str_eq(err.op, "test_get");
    bk_http_response_free(&resp);
    bk_http_client_free(c);
}
END_TEST

START_TEST(test_reset_put_resent_whole)
{
    struct bk_http_client *c = client_with(4, 10);
    struct bk_http_response resp;
    struct bk_error err = BK_ERROR_INIT;
    struct bk_http_request req = { 0 };
    char url[256], count_path[128], expect_hex[65];
    uint8_t body[300000], digest[BK_SHA256_LEN];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 31 + 1);
    snprintf(url, sizeof(url), "%s/reset-put/2/%s-g", base_url, run_tag);
    req.op = "test_put";
    req.method = "PUT";
    req.url = url;
    req.body = body;
    req.body_len = sizeof(body);
    bk_http_response_init(&resp);
    ck_assert_int_eq(bk_http_do(c, &req, &resp, &err), BK_OK);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(resp.attempts, 3);
    bk_http_response_free(&resp);
    /* the server saw the whole body on the attempt that succeeded */
    bk_sha256(body, sizeof(body), digest);
    bk_hex_encode(digest, sizeof(digest), expect_hex);
    snprintf(count_path, sizeof(count_path), "/count/%s-g", run_tag);
    bk_http_response_init(&resp);
    ck_assert_int_eq(do_get(c, count_path, &resp, NULL, &err), BK_OK);
    ck_assert_msg(strstr(bk_buf_str(&resp.body), expect_hex) != NULL, "server body hash: %s", bk_buf_str(&resp.body));
    ck_assert_msg(strstr(bk_buf_str(&resp.body), "\"count\":3") != NULL, "count: %s", bk_buf_str(&resp.body));
    bk_http_response_free(&resp);
    bk_http_client_free(c);
}
END_TEST

START_TEST(test_connection_refused_gives_up)
{
    struct bk_http_client *c = client_with(3, 10);
    struct bk_http_response resp;
    struct bk_error err = BK_ERROR_INIT;
    struct bk_http_request req = { 0 };
    req.op = "test_get";
    req.object = "k";
    req.method = "GET";
    req.url = "http://127.0.0.1:1/x?sig=SECRETSIG";
    bk_http_response_init(&resp);
    ck_assert_int_eq(bk_http_do(c, &req, &resp, &err), BK_ENET);
    ck_assert_msg(strstr(err.message, "failed after 3 attempts") != NULL, "message: %s", err.message);
    ck_assert_msg(strstr(err.message, "SECRETSIG") == NULL, "query string leaked: %s", err.message);
    bk_http_response_free(&resp);
    bk_http_client_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_fault");
    TCase *tc = tcase_create("faults");
    SRunner *sr;
    int failed;
    bk_log_configure(BK_LOG_ERROR, BK_LOG_TEXT, "http_fault_test");
    tcase_add_unchecked_fixture(tc, start_server, stop_server);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_503_retried_then_ok);
    tcase_add_test(tc, test_429_gives_up_past_budget);
    tcase_add_test(tc, test_cut_body_retried_before_first_byte_to_sink);
    tcase_add_test(tc, test_cut_body_to_sink_not_retried);
    tcase_add_test(tc, test_stall_times_out_then_succeeds);
    tcase_add_test(tc, test_stall_gives_up_with_timeout);
    tcase_add_test(tc, test_reset_put_resent_whole);
    tcase_add_test(tc, test_connection_refused_gives_up);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

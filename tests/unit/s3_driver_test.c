/*
 * The S3 driver against s3rver behind tests/servers/sigv4-proxy.js, which checks every
 * signature, Content-MD5 and plays STS. The suite starts its own servers (ports
 * S3_DRIVER_TEST_PORT and +1, default 4578/4579) unless S3_PROXY_URL is already set, and
 * reads the proxy's request log (/__proxy/stats) to check what went over the wire.
 */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bk_crypto.h"
#include "bk_http.h"
#include "bk_log.h"
#include "bk_sink.h"
#include "bk_time.h"
#include "storage.h"
#include "storage_config.h"

static char test_tmp[256];
static bool started_servers;
static char run_prefix[64];

/* ---- environment: getenv plus per-test overrides ---- */

static const char *override_names[8];
static const char *override_values[8];

static const char *env_lookup(const char *name)
{
    for (int i = 0; i < 8 && override_names[i] != NULL; i++)
        if (strcmp(override_names[i], name) == 0)
            return override_values[i];
    return getenv(name);
}

static void env_override(const char *name, const char *value)
{
    for (int i = 0; i < 8; i++) {
        if (override_names[i] == NULL || strcmp(override_names[i], name) == 0) {
            override_names[i] = name;
            override_values[i] = value;
            return;
        }
    }
    ck_abort_msg("too many overrides");
}

static void load_env_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    ck_assert_msg(f != NULL, "cannot read %s", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *eq, *v;
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "export ", 7) != 0 || (eq = strchr(line, '=')) == NULL)
            continue;
        *eq = '\0';
        v = eq + 1;
        if (v[0] == '\'' && v[strlen(v) - 1] == '\'') {
            v[strlen(v) - 1] = '\0';
            v++;
        }
        setenv(line + 7, v, 1);
    }
    fclose(f);
}

static void servers_start(void)
{
    char cmd[1024];
    const char *port = getenv("S3_DRIVER_TEST_PORT");
    int p = port != NULL ? atoi(port) : 4578;
    if (getenv("S3_PROXY_URL") != NULL)
        return;
    snprintf(test_tmp, sizeof(test_tmp), "/tmp/s3-driver-test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(test_tmp));
    snprintf(cmd, sizeof(cmd), "TEST_TMP=%s S3RVER_PORT=%d S3_PROXY_PORT=%d bash tests/servers/start_s3.sh >%s/start.log 2>&1",
             test_tmp, p, p + 1, test_tmp);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof(cmd), "cat %s/start.log >&2", test_tmp);
        (void)system(cmd);
        ck_abort_msg("tests/servers/start_s3.sh failed");
    }
    started_servers = true;
    snprintf(cmd, sizeof(cmd), "%s/s3.env", test_tmp);
    load_env_file(cmd);
}

static void servers_stop(void)
{
    char cmd[1024];
    if (!started_servers)
        return;
    snprintf(cmd, sizeof(cmd), "TEST_TMP=%s bash tests/servers/stop_servers.sh; rm -rf %s", test_tmp, test_tmp);
    (void)system(cmd);
}

/* ---- proxy control ---- */

static json_object *proxy_call(const char *method, const char *path, const char *body)
{
    struct bk_http_client *http = NULL;
    struct bk_http_request req;
    struct bk_http_response resp;
    struct bk_error err = BK_ERROR_INIT;
    char url[512];
    json_object *obj;
    snprintf(url, sizeof(url), "%s%s", getenv("S3_PROXY_URL"), path);
    ck_assert_int_eq(bk_http_client_new(&http, NULL, &err), BK_OK);
    memset(&req, 0, sizeof(req));
    req.op = "test_proxy";
    req.method = method;
    req.url = url;
    req.body = body;
    req.body_len = body != NULL ? strlen(body) : 0;
    bk_http_response_init(&resp);
    ck_assert_int_eq(bk_http_do(http, &req, &resp, &err), BK_OK);
    ck_assert_int_eq(resp.status, 200);
    obj = json_tokener_parse(bk_buf_str(&resp.body));
    ck_assert_ptr_nonnull(obj);
    bk_http_response_free(&resp);
    bk_http_client_free(http);
    return obj;
}

static void proxy_config(const char *json)
{
    json_object_put(proxy_call("POST", "/__proxy/config", json));
}

static int64_t stat_field(json_object *stats, const char *name)
{
    json_object *v = NULL;
    ck_assert(json_object_object_get_ex(stats, name, &v));
    return json_object_get_int64(v);
}

/* Counts logged requests whose method matches and whose query contains `query_part`
 * ("" = any); *with_md5 counts those that carried Content-MD5. */
static int count_logged(json_object *stats, const char *method, const char *query_part, int *with_md5)
{
    json_object *log = NULL;
    int n = 0;
    ck_assert(json_object_object_get_ex(stats, "log", &log));
    if (with_md5 != NULL)
        *with_md5 = 0;
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        json_object *e = json_object_array_get_idx(log, i), *m, *q, *md5;
        json_object_object_get_ex(e, "method", &m);
        json_object_object_get_ex(e, "query", &q);
        json_object_object_get_ex(e, "contentMd5", &md5);
        if (strcmp(json_object_get_string(m), method) != 0 || strstr(json_object_get_string(q), query_part) == NULL)
            continue;
        n++;
        if (with_md5 != NULL && json_object_get_boolean(md5))
            (*with_md5)++;
    }
    return n;
}

/* ---- storage helpers ---- */

static struct storage *open_store(int *rc_out, struct bk_error *err)
{
    struct storage_config cfg;
    struct storage *st = NULL;
    int rc;
    char url[256];
    snprintf(url, sizeof(url), "s3://backups/%s", run_prefix);
    storage_config_init(&cfg);
    rc = storage_config_load(&cfg, url, env_lookup, err);
    if (rc == BK_OK)
        rc = storage_open(&st, &cfg, err);
    storage_config_free(&cfg);
    *rc_out = rc;
    return st;
}

static struct storage *must_open(void)
{
    struct bk_error err = BK_ERROR_INIT;
    int rc;
    struct storage *st = open_store(&rc, &err);
    ck_assert_msg(rc == BK_OK, "open: %s", err.message);
    return st;
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
}

static void put_stream(struct storage *st, const char *key, const uint8_t *data, size_t len, size_t chunk)
{
    struct bk_sink *w = NULL;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(storage_put_stream(&w, st, key, NULL, &err), BK_OK);
    for (size_t off = 0; off < len; off += chunk)
        ck_assert_msg(bk_sink_write(w, data + off, len - off < chunk ? len - off : chunk, &err) == BK_OK,
                      "write: %s", err.message);
    ck_assert_msg(bk_sink_finish(w, &err) == BK_OK, "finish: %s", err.message);
    bk_sink_free(w);
}

static void expect_content(struct storage *st, const char *key, const uint8_t *data, size_t len)
{
    struct bk_buf got;
    struct bk_error err = BK_ERROR_INIT;
    bk_buf_init(&got, len + 16);
    ck_assert_msg(storage_get_buf(st, key, &got, &err) == BK_OK, "get %s: %s", key, err.message);
    ck_assert_uint_eq(got.len, len);
    ck_assert(memcmp(got.data, data, len) == 0);
    bk_buf_free(&got);
}

static void setup(void)
{
    snprintf(run_prefix, sizeof(run_prefix), "driver-test/%d-%lld", (int)getpid(), (long long)bk_time_now_us());
    memset(override_names, 0, sizeof(override_names));
    env_override("BACKUP_PART_SIZE", "256KiB");
    env_override("BACKUP_HTTP_BACKOFF_BASE_MS", "10");
    proxy_config("{\"batchDelete501\":false,\"corruptEtag\":0,\"stsDurationS\":3600,\"resetStats\":true}");
}

/* ---- tests ---- */

START_TEST(test_put_get_stat_single)
{
    struct storage *st = must_open();
    struct storage_stat info;
    struct bk_error err = BK_ERROR_INIT;
    uint8_t data[1000], md5[BK_MD5_LEN];
    char md5_hex[33];
    json_object *stats;
    int with_md5;
    fill(data, sizeof(data), 1);
    ck_assert_int_eq(storage_put_buf(st, "one.bin", data, sizeof(data), NULL, &err), BK_OK);
    expect_content(st, "one.bin", data, sizeof(data));
    ck_assert_int_eq(storage_stat(st, "one.bin", &info, &err), BK_OK);
    ck_assert_uint_eq(info.size, 1000);
    bk_md5(data, sizeof(data), md5);
    bk_hex_encode(md5, sizeof(md5), md5_hex);
    ck_assert_str_eq(info.etag, md5_hex);
    ck_assert(info.mtime_us > 1600000000LL * 1000000);
    stats = proxy_call("GET", "/__proxy/stats", NULL);
    ck_assert_int_eq(count_logged(stats, "PUT", "", &with_md5), 1);
    ck_assert_int_eq(with_md5, 1);
    ck_assert_int_eq(stat_field(stats, "rejected"), 0);
    json_object_put(stats);
    storage_close(st);
}
END_TEST

START_TEST(test_multipart_parallel_parts_with_md5)
{
    struct storage *st;
    size_t len = 4 * 256 * 1024 + 777;
    uint8_t *data = malloc(len);
    json_object *stats;
    int with_md5;
    env_override("BACKUP_UPLOAD_CONCURRENCY", "4");
    st = must_open();
    fill(data, len, 2);
    put_stream(st, "big.bin", data, len, 100000);
    expect_content(st, "big.bin", data, len);
    stats = proxy_call("GET", "/__proxy/stats", NULL);
    ck_assert_int_eq(count_logged(stats, "POST", "uploads", NULL), 1);
    ck_assert_int_eq(count_logged(stats, "PUT", "partNumber=", &with_md5), 5);
    ck_assert_int_eq(with_md5, 5);
    ck_assert_int_eq(count_logged(stats, "POST", "uploadId=", NULL), 1);
    ck_assert_int_eq(stat_field(stats, "rejected"), 0);
    json_object_put(stats);
    free(data);
    storage_close(st);
}
END_TEST

START_TEST(test_ranged_get)
{
    struct storage *st = must_open();
    struct bk_error err = BK_ERROR_INIT;
    struct bk_buf got;
    struct bk_sink *sink = NULL;
    uint8_t data[5000];
    fill(data, sizeof(data), 3);
    ck_assert_int_eq(storage_put_buf(st, "range.bin", data, sizeof(data), NULL, &err), BK_OK);
    bk_buf_init(&got, 10000);
    ck_assert_int_eq(bk_sink_buf_new(&sink, &got, &err), BK_OK);
    ck_assert_int_eq(storage_get(st, "range.bin", 1234, 100, sink, &err), BK_OK);
    ck_assert_uint_eq(got.len, 100);
    ck_assert(memcmp(got.data, data + 1234, 100) == 0);
    bk_buf_reset(&got);
    ck_assert_int_eq(storage_get(st, "range.bin", 4990, 0, sink, &err), BK_OK);
    ck_assert_uint_eq(got.len, 10);
    ck_assert(memcmp(got.data, data + 4990, 10) == 0);
    bk_sink_free(sink);
    bk_buf_free(&got);
    storage_close(st);
}
END_TEST

START_TEST(test_missing_object_codes)
{
    struct storage *st = must_open();
    struct bk_error err = BK_ERROR_INIT;
    struct storage_stat info;
    struct bk_buf got;
    ck_assert_int_eq(storage_stat(st, "nope/missing.bin", &info, &err), BK_ENOTFOUND);
    ck_assert_int_eq(err.http_status, 404);
    ck_assert_str_eq(err.op, "s3_head_object");
    bk_buf_init(&got, 100);
    bk_error_clear(&err);
    ck_assert_int_eq(storage_get_buf(st, "nope/missing.bin", &got, &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.server_code, "NoSuchKey");
    ck_assert_str_eq(err.op, "s3_get_object");
    ck_assert_ptr_nonnull(strstr(err.object, "nope/missing.bin"));
    bk_buf_free(&got);
    ck_assert_int_eq(storage_remove(st, "nope/missing.bin", &err), BK_OK);
    storage_close(st);
}
END_TEST

START_TEST(test_wrong_secret_is_auth_error_without_secret)
{
    struct storage *st;
    struct bk_error err = BK_ERROR_INIT;
    char line[1024];
    env_override("AWS_SECRET_ACCESS_KEY", "wrong-secret-value-1234");
    st = must_open();
    ck_assert_int_eq(storage_put_buf(st, "denied.bin", "x", 1, NULL, &err), BK_EAUTH);
    ck_assert_str_eq(err.server_code, "SignatureDoesNotMatch");
    ck_assert_int_eq(err.http_status, 403);
    ck_assert_str_eq(err.op, "s3_put_object");
    bk_error_format(&err, line, sizeof(line));
    ck_assert_ptr_nonnull(strstr(line, "SignatureDoesNotMatch"));
    ck_assert_ptr_null(strstr(line, "wrong-secret-value-1234"));
    ck_assert_ptr_null(strstr(line, "Signature="));
    storage_close(st);
    env_override("AWS_SECRET_ACCESS_KEY", NULL);
    env_override("AWS_ACCESS_KEY_ID", "AKIDNOTKNOWN");
    env_override("AWS_SECRET_ACCESS_KEY", getenv("AWS_SECRET_ACCESS_KEY"));
    st = must_open();
    ck_assert_int_eq(storage_put_buf(st, "denied.bin", "x", 1, NULL, &err), BK_EAUTH);
    ck_assert_str_eq(err.server_code, "InvalidAccessKeyId");
    storage_close(st);
}
END_TEST

START_TEST(test_listing_delimiter_and_odd_names)
{
    struct storage *st = must_open();
    struct bk_error err = BK_ERROR_INIT;
    struct storage_list *it = NULL;
    const struct storage_entry *e;
    const char *keys[] = { "d/a b+c=d \xc3\xa9t\xc3\xa9.txt", "d/sub/x", "d/sub2/y", "d/z" };
    const char *want[] = { "d/a b+c=d \xc3\xa9t\xc3\xa9.txt", "d/sub/", "d/sub2/", "d/z" };
    int n = 0;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(storage_put_buf(st, keys[i], keys[i], strlen(keys[i]), NULL, &err), BK_OK);
    expect_content(st, keys[0], (const uint8_t *)keys[0], strlen(keys[0]));
    ck_assert_int_eq(storage_list_new(&it, st, "d/", false, &err), BK_OK);
    while (storage_list_next(it, &e, &err) == 1) {
        ck_assert_int_lt(n, 4);
        ck_assert_str_eq(e->key, want[n]);
        ck_assert_int_eq(e->is_prefix, n == 1 || n == 2);
        n++;
    }
    ck_assert_int_eq(n, 4);
    storage_list_free(it);
    ck_assert_int_eq(storage_list_new(&it, st, "d/", true, &err), BK_OK);
    n = 0;
    while (storage_list_next(it, &e, &err) == 1)
        ck_assert_str_eq(e->key, keys[n++]);
    ck_assert_int_eq(n, 4);
    storage_list_free(it);
    storage_close(st);
}
END_TEST

static void put_keys(struct storage *st, const char *const *keys, int n)
{
    struct bk_error err = BK_ERROR_INIT;
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(storage_put_buf(st, keys[i], "k", 1, NULL, &err), BK_OK);
}

static void expect_gone(struct storage *st, const char *const *keys, int n)
{
    struct bk_error err = BK_ERROR_INIT;
    bool exists;
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(storage_exists(st, keys[i], &exists, &err), BK_OK);
        ck_assert_msg(!exists, "%s still exists", keys[i]);
    }
}

START_TEST(test_batch_delete_sends_md5)
{
    struct storage *st = must_open();
    struct bk_error err = BK_ERROR_INIT;
    const char *keys[] = { "del/1", "del/2 x", "del/3&<>", "del/never-existed" };
    json_object *stats;
    int with_md5, n;
    put_keys(st, keys, 3);
    ck_assert_msg(storage_remove_many(st, keys, 4, &err) == BK_OK, "%s", err.message);
    expect_gone(st, keys, 3);
    stats = proxy_call("GET", "/__proxy/stats", NULL);
    /* s3rver sometimes answers a concurrent multi-delete with 500: then bk_http retries */
    n = count_logged(stats, "POST", "delete", &with_md5);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(with_md5, n);
    ck_assert_int_eq(count_logged(stats, "DELETE", "", NULL), 0);
    json_object_put(stats);
    storage_close(st);
}
END_TEST

START_TEST(test_batch_delete_falls_back_on_not_implemented)
{
    struct storage *st = must_open();
    struct bk_error err = BK_ERROR_INIT;
    const char *keys[] = { "nb/1", "nb/2", "nb/3" };
    json_object *stats;
    proxy_config("{\"batchDelete501\":true}");
    put_keys(st, keys, 3);
    ck_assert_msg(storage_remove_many(st, keys, 2, &err) == BK_OK, "%s", err.message);
    ck_assert_msg(storage_remove_many(st, keys + 2, 1, &err) == BK_OK, "%s", err.message);
    expect_gone(st, keys, 3);
    stats = proxy_call("GET", "/__proxy/stats", NULL);
    /* one refused batch, then single deletes only - the driver remembers */
    ck_assert_int_eq(stat_field(stats, "deleteObjects"), 1);
    ck_assert_int_eq(count_logged(stats, "DELETE", "", NULL), 3);
    json_object_put(stats);
    storage_close(st);
}
END_TEST

START_TEST(test_batch_delete_disabled_by_config)
{
    struct storage *st;
    struct bk_error err = BK_ERROR_INIT;
    const char *keys[] = { "nd/1", "nd/2" };
    json_object *stats;
    env_override("BACKUP_S3_BATCH_DELETE", "false");
    st = must_open();
    put_keys(st, keys, 2);
    ck_assert_int_eq(storage_remove_many(st, keys, 2, &err), BK_OK);
    expect_gone(st, keys, 2);
    stats = proxy_call("GET", "/__proxy/stats", NULL);
    ck_assert_int_eq(stat_field(stats, "deleteObjects"), 0);
    ck_assert_int_eq(count_logged(stats, "DELETE", "", NULL), 2);
    json_object_put(stats);
    storage_close(st);
}
END_TEST

START_TEST(test_etag_mismatch_is_corrupt)
{
    struct storage *st = must_open();
    struct bk_error err = BK_ERROR_INIT;
    size_t len = 3 * 256 * 1024;
    uint8_t *data = malloc(len);
    struct bk_sink *w = NULL;
    json_object *stats;
    bool exists;
    int rc = BK_OK;
    fill(data, len, 4);
    proxy_config("{\"corruptEtag\":1}");
    ck_assert_int_eq(storage_put_buf(st, "etag.bin", data, 100, NULL, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.op, "s3_put_object");
    ck_assert_ptr_nonnull(strstr(err.message, "00000000000000000000000000000000"));
    /* multipart: the corrupt part fails the upload, which is aborted */
    proxy_config("{\"corruptEtag\":1}");
    ck_assert_int_eq(storage_put_stream(&w, st, "etag-mp.bin", NULL, &err), BK_OK);
    rc = bk_sink_write(w, data, len, &err);
    if (rc == BK_OK)
        rc = bk_sink_finish(w, &err);
    ck_assert_int_eq(rc, BK_ECORRUPT);
    ck_assert_str_eq(err.op, "s3_upload_part");
    bk_sink_free(w);
    ck_assert_int_eq(storage_exists(st, "etag-mp.bin", &exists, &err), BK_OK);
    ck_assert(!exists);
    stats = proxy_call("GET", "/__proxy/stats", NULL);
    ck_assert_int_eq(count_logged(stats, "DELETE", "uploadId=", NULL), 1);
    json_object_put(stats);
    free(data);
    storage_close(st);
}
END_TEST

START_TEST(test_web_identity_caches_and_refreshes)
{
    struct storage *st;
    struct bk_error err = BK_ERROR_INIT;
    json_object *stats;
    env_override("AWS_ACCESS_KEY_ID", NULL);
    env_override("AWS_SECRET_ACCESS_KEY", NULL);
    env_override("AWS_ROLE_ARN", getenv("S3_TEST_ROLE_ARN"));
    env_override("AWS_WEB_IDENTITY_TOKEN_FILE", getenv("S3_TEST_WEB_IDENTITY_TOKEN_FILE"));
    env_override("AWS_STS_ENDPOINT", getenv("S3_TEST_STS_ENDPOINT"));
    st = must_open();
    ck_assert_msg(storage_put_buf(st, "irsa.bin", "abc", 3, NULL, &err) == BK_OK, "%s", err.message);
    expect_content(st, "irsa.bin", (const uint8_t *)"abc", 3);
    ck_assert_int_eq(storage_remove(st, "irsa.bin", &err), BK_OK);
    stats = proxy_call("GET", "/__proxy/stats", NULL);
    ck_assert_int_eq(stat_field(stats, "sts"), 1);     /* three requests, one STS call */
    ck_assert_int_eq(stat_field(stats, "rejected"), 0);
    json_object_put(stats);
    storage_close(st);

    /* credentials that expire within the refresh margin are renewed before each request */
    proxy_config("{\"stsDurationS\":120,\"resetStats\":true}");
    st = must_open();
    ck_assert_int_eq(storage_put_buf(st, "irsa2.bin", "abc", 3, NULL, &err), BK_OK);
    ck_assert_int_eq(storage_remove(st, "irsa2.bin", &err), BK_OK);
    stats = proxy_call("GET", "/__proxy/stats", NULL);
    ck_assert_int_eq(stat_field(stats, "sts"), 2);
    json_object_put(stats);
    storage_close(st);
}
END_TEST

START_TEST(test_web_identity_bad_token)
{
    struct storage *st;
    struct bk_error err = BK_ERROR_INIT;
    char path[512], line[1024];
    FILE *f;
    snprintf(path, sizeof(path), "%s.bad", getenv("S3_TEST_WEB_IDENTITY_TOKEN_FILE"));
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("eyJhbGciOiJub25lIn0.not-the-token.\n", f);
    fclose(f);
    env_override("AWS_ACCESS_KEY_ID", NULL);
    env_override("AWS_SECRET_ACCESS_KEY", NULL);
    env_override("AWS_ROLE_ARN", getenv("S3_TEST_ROLE_ARN"));
    env_override("AWS_WEB_IDENTITY_TOKEN_FILE", path);
    env_override("AWS_STS_ENDPOINT", getenv("S3_TEST_STS_ENDPOINT"));
    st = must_open();
    ck_assert_int_eq(storage_put_buf(st, "irsa-bad.bin", "abc", 3, NULL, &err), BK_EAUTH);
    ck_assert_str_eq(err.server_code, "InvalidIdentityToken");
    bk_error_format(&err, line, sizeof(line));
    ck_assert_ptr_null(strstr(line, "not-the-token"));
    storage_close(st);
    unlink(path);
}
END_TEST

START_TEST(test_aborted_stream_leaves_nothing)
{
    struct storage *st = must_open();
    struct bk_error err = BK_ERROR_INIT;
    size_t len = 2 * 256 * 1024 + 5;
    uint8_t *data = malloc(len);
    struct bk_sink *w = NULL;
    bool exists;
    fill(data, len, 5);
    ck_assert_int_eq(storage_put_stream(&w, st, "aborted.bin", NULL, &err), BK_OK);
    ck_assert_int_eq(bk_sink_write(w, data, len, &err), BK_OK);
    bk_sink_abort(w);
    bk_sink_free(w);
    ck_assert_int_eq(storage_exists(st, "aborted.bin", &exists, &err), BK_OK);
    ck_assert(!exists);
    free(data);
    storage_close(st);
}
END_TEST

START_TEST(test_virtual_host_style_and_object_headers)
{
    struct storage *st;
    struct bk_error err = BK_ERROR_INIT;
    char endpoint[128];
    size_t len = 2 * 256 * 1024 + 1;
    uint8_t *data = malloc(len);
    json_object *stats, *log = NULL;
    int signed_sse = 0;
    /* http://backups.localhost:<port>/key - libcurl resolves *.localhost to loopback */
    snprintf(endpoint, sizeof(endpoint), "http://localhost:%s", strrchr(getenv("S3_PROXY_URL"), ':') + 1);
    env_override("AWS_ENDPOINT", endpoint);
    env_override("AWS_S3_FORCE_PATH_STYLE", "false");
    env_override("WALG_S3_SSE", "AES256");
    env_override("WALG_S3_STORAGE_CLASS", "STANDARD_IA");
    st = must_open();
    fill(data, len, 6);
    ck_assert_msg(storage_put_buf(st, "vhost.bin", data, 10, NULL, &err) == BK_OK, "%s", err.message);
    put_stream(st, "vhost-mp.bin", data, len, len);
    expect_content(st, "vhost-mp.bin", data, len);
    stats = proxy_call("GET", "/__proxy/stats", NULL);
    ck_assert_int_eq(stat_field(stats, "rejected"), 0);
    ck_assert(json_object_object_get_ex(stats, "log", &log));
    for (size_t i = 0; i < json_object_array_length(log); i++) {
        json_object *e = json_object_array_get_idx(log, i), *path, *query, *sh;
        const char *q;
        json_object_object_get_ex(e, "path", &path);
        json_object_object_get_ex(e, "query", &query);
        json_object_object_get_ex(e, "signedHeaders", &sh);
        q = json_object_get_string(query);
        /* no bucket in the path: it is in the host name */
        ck_assert_msg(strncmp(json_object_get_string(path), "/backups/", 9) != 0, "path style used: %s",
                      json_object_get_string(path));
        if (strstr(json_object_get_string(sh), "x-amz-server-side-encryption") != NULL) {
            ck_assert_ptr_nonnull(strstr(json_object_get_string(sh), "x-amz-storage-class"));
            ck_assert_msg(strstr(q, "partNumber=") == NULL, "SSE header on a part");
            signed_sse++;
        }
    }
    ck_assert_int_eq(signed_sse, 2);   /* the single PUT and CreateMultipartUpload */
    json_object_put(stats);
    free(data);
    storage_close(st);
}
END_TEST

static Suite *s3_driver_suite(void)
{
    Suite *s = suite_create("s3_driver");
    TCase *tc = tcase_create("s3rver");
    tcase_add_unchecked_fixture(tc, servers_start, servers_stop);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_put_get_stat_single);
    tcase_add_test(tc, test_multipart_parallel_parts_with_md5);
    tcase_add_test(tc, test_ranged_get);
    tcase_add_test(tc, test_missing_object_codes);
    tcase_add_test(tc, test_wrong_secret_is_auth_error_without_secret);
    tcase_add_test(tc, test_listing_delimiter_and_odd_names);
    tcase_add_test(tc, test_batch_delete_sends_md5);
    tcase_add_test(tc, test_batch_delete_falls_back_on_not_implemented);
    tcase_add_test(tc, test_batch_delete_disabled_by_config);
    tcase_add_test(tc, test_etag_mismatch_is_corrupt);
    tcase_add_test(tc, test_web_identity_caches_and_refreshes);
    tcase_add_test(tc, test_web_identity_bad_token);
    tcase_add_test(tc, test_aborted_stream_leaves_nothing);
    tcase_add_test(tc, test_virtual_host_style_and_object_headers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(s3_driver_suite());
    int failed;
    bk_log_configure(BK_LOG_ERROR, BK_LOG_TEXT, "s3_driver_test");
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Google Cloud Storage driver ("gs://bucket/prefix") over the JSON API: the ops table, open and
 * close, object metadata (stat), listing pages, ranged downloads streamed to a sink, and deletes.
 * Uploads (media and resumable) live in gcs_upload.c, tokens in gcs_auth.c, JSON in gcs_json.c.
 * Features: none - resumable uploads take their chunks in order, one at a time.
 */
#include "gcs_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "bk_crypto.h"
#include "bk_log.h"
#include "bk_str.h"
#include "bk_time.h"

#define LIST_REPLY_MAX_BYTES (16u * 1024 * 1024)

static struct gcs_driver *driver_of(struct storage_driver *drv)
{
    return (struct gcs_driver *)drv;
}

/* ---- helpers shared with gcs_upload.c ---- */

int gcs_url(char **out, const struct gcs_driver *d, const char *api, const char *key,
            const char *query, struct bk_error *err)
{
    struct bk_buf url;
    int rc;
    *out = NULL;
    bk_buf_init(&url, 16 * 1024);
    if ((rc = bk_buf_append_str(&url, d->endpoint, err)) != BK_OK ||
        (rc = bk_buf_append_str(&url, api, err)) != BK_OK ||
        (rc = bk_buf_append_str(&url, "/b/", err)) != BK_OK ||
        (rc = bk_uri_encode(&url, d->bucket, false, err)) != BK_OK ||
        (rc = bk_buf_append_str(&url, "/o", err)) != BK_OK)
        goto out;
    if (key != NULL && ((rc = bk_buf_append_str(&url, "/", err)) != BK_OK ||
                        (rc = bk_uri_encode(&url, key, false, err)) != BK_OK))
        goto out;
    if (query != NULL && ((rc = bk_buf_append_str(&url, "?", err)) != BK_OK ||
                          (rc = bk_buf_append_str(&url, query, err)) != BK_OK))
        goto out;
    rc = bk_strdup(out, bk_buf_str(&url), err);
out:
    bk_buf_free(&url);
    return rc;
}

int gcs_request(struct gcs_driver *d, struct bk_http_request *req, struct bk_http_response *resp,
                struct bk_error *err)
{
    int rc;
    req->sign = gcs_auth_sign;
    req->sign_ctx = d->auth;
    rc = bk_http_do(d->http, req, resp, err);
    if (rc == BK_OK && resp->status == 401) {
        /* the token may have been revoked or expired early: fetch a fresh one, once */
        bk_log_debug("gcs_auth", "%s \"%s\": HTTP 401, refreshing the access token", req->op,
                     req->object != NULL ? req->object : "");
        gcs_auth_invalidate(d->auth);
        rc = bk_http_do(d->http, req, resp, err);
    }
    return rc;
}

int gcs_error_from_response(struct bk_error *err, const struct bk_http_request *req,
                            const struct bk_http_response *resp)
{
    struct gcs_error_body body;
    const char *reason = body.reason;
    const char *message = body.message;
    char attempts[32] = "";
    int code = bk_http_status_to_code(resp->status);
    const char *object = req->object != NULL ? req->object : "";

    gcs_json_parse_error(&body, (const char *)resp->body.data, resp->body.len);
    if (strcmp(reason, "rateLimitExceeded") == 0 || strcmp(reason, "userRateLimitExceeded") == 0)
        code = BK_ETHROTTLED;
    if (resp->attempts > 1)
        snprintf(attempts, sizeof(attempts), " (after %d attempts)", resp->attempts);
    bk_error_set(err, code, req->op, object, "%s \"%s\" failed: HTTP %ld%s%s%s%s%s", req->method,
                 object, resp->status, reason[0] ? " " : "", reason, message[0] ? ": " : "",
                 message, attempts);
    err->http_status = (int)resp->status;
    snprintf(err->server_code, sizeof(err->server_code), "%s", reason);
    if (code == BK_EAUTH)
        bk_error_set_hint(err, "check GOOGLE_APPLICATION_CREDENTIALS (service-account key) or the instance's service account");
    else if (code == BK_EDENIED)
        bk_error_set_hint(err, "the service account needs roles/storage.objectAdmin (or objectCreator + objectViewer) on the bucket");
    return code;
}

void gcs_backoff_sleep(const struct gcs_driver *d, int attempt)
{
    long ceiling = d->backoff_base_ms;
    unsigned seed = (unsigned)bk_time_now_us() ^ (unsigned)attempt;
    long wait_ms;
    for (int i = 1; i < attempt && ceiling < d->backoff_max_ms; i++)
        ceiling *= 2;
    if (ceiling > d->backoff_max_ms)
        ceiling = d->backoff_max_ms;
    wait_ms = ceiling > 0 ? (long)((unsigned long)rand_r(&seed) % (unsigned long)(ceiling + 1)) : 0;
    if (wait_ms > 0) {
        struct timespec ts = { wait_ms / 1000, (wait_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
}

/* ---- open / close ---- */

static void gcs_close(struct storage_driver *drv)
{
    struct gcs_driver *d = driver_of(drv);
    if (d == NULL)
        return;
    gcs_auth_free(d->auth);
    bk_http_client_free(d->http);
    free(d->endpoint);
    free(d->bucket);
    free(d);
}

static int gcs_open(struct storage_driver **out, const struct storage_config *cfg,
                    struct bk_error *err)
{
    struct gcs_driver *d = NULL;
    struct bk_http_opts http_opts = cfg->http;
    struct gcs_auth_opts auth_opts;
    const char *endpoint = cfg->gcs_endpoint != NULL && cfg->gcs_endpoint[0] != '\0' ? cfg->gcs_endpoint : GCS_DEFAULT_ENDPOINT;
    size_t n;
    int rc;

    if (cfg->bucket == NULL || cfg->bucket[0] == '\0')
        return bk_error_set(err, BK_EINVAL, "gcs_open", NULL, "a gs:// URL needs a bucket name");
    if (strncmp(endpoint, "https://", 8) != 0 && strncmp(endpoint, "http://", 7) != 0)
        return bk_error_set(err, BK_EINVAL, "gcs_open", endpoint, "GCS endpoint \"%s\" is not an http(s) URL", endpoint);
    if (cfg->part_size_bytes % GCS_CHUNK_GRANULE_BYTES != 0)
        return bk_error_set(err, BK_EINVAL, "gcs_open", cfg->bucket,
                            "part size %llu is not a multiple of 256 KiB, which GCS resumable uploads require",
                            (unsigned long long)cfg->part_size_bytes);
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return bk_error_set(err, BK_ENOMEM, "gcs_open", cfg->bucket, "out of memory");
    d->base.ops = &storage_gcs_ops;
    d->part_size_bytes = cfg->part_size_bytes > 0 ? cfg->part_size_bytes : STORAGE_DEFAULT_PART_SIZE;
    d->max_attempts = cfg->http.max_attempts > 0 ? cfg->http.max_attempts : 5;
    d->backoff_base_ms = cfg->http.backoff_base_ms > 0 ? cfg->http.backoff_base_ms : 200;
    d->backoff_max_ms = cfg->http.backoff_max_ms > 0 ? cfg->http.backoff_max_ms : 10000;
    if ((rc = bk_strdup(&d->bucket, cfg->bucket, err)) != BK_OK ||
        (rc = bk_strdup(&d->endpoint, endpoint, err)) != BK_OK)
        goto fail;
    n = strlen(d->endpoint);
    while (n > 0 && d->endpoint[n - 1] == '/')
        d->endpoint[--n] = '\0';
    if (http_opts.ca_file == NULL)
        http_opts.ca_file = cfg->ca_file;
    if ((rc = bk_http_client_new(&d->http, &http_opts, err)) != BK_OK)
        goto fail;
    memset(&auth_opts, 0, sizeof(auth_opts));
    auth_opts.credentials_file = cfg->gcs_credentials_file;
    auth_opts.metadata_url = cfg->gcs_metadata_url;
    auth_opts.http = d->http;
    if ((rc = gcs_auth_new(&d->auth, &auth_opts, err)) != BK_OK)
        goto fail;
    bk_log_debug("gcs_open", "bucket \"%s\" at %s, %s credentials", d->bucket, d->endpoint,
                 cfg->gcs_credentials_file != NULL ? "service-account key" : "metadata-server");
    *out = &d->base;
    return BK_OK;
fail:
    gcs_close(&d->base);
    return rc;
}

/* ---- stat ---- */

/* GETs the object resource; used by stat and by get's end-of-object check. */
static int fetch_object_info(struct gcs_driver *d, const char *key, const char *op,
                             struct gcs_object_info *info, struct bk_error *err)
{
    struct bk_http_request req;
    struct bk_http_response resp;
    char *url = NULL;
    int rc;

    bk_http_response_init(&resp);
    if ((rc = gcs_url(&url, d, "/storage/v1", key, NULL, err)) != BK_OK)
        goto out;
    memset(&req, 0, sizeof(req));
    req.op = op;
    req.object = key;
    req.method = "GET";
    req.url = url;
    if ((rc = gcs_request(d, &req, &resp, err)) != BK_OK)
        goto out;
    if (resp.status != 200) {
        rc = gcs_error_from_response(err, &req, &resp);
        goto out;
    }
    rc = gcs_json_parse_object(info, (const char *)resp.body.data, resp.body.len, key, err);
out:
    bk_http_response_free(&resp);
    free(url);
    return rc;
}

static int gcs_stat(struct storage_driver *drv, const char *key, struct storage_stat *out,
                    struct bk_error *err)
{
    struct gcs_object_info info;
    int rc = fetch_object_info(driver_of(drv), key, "gcs_stat", &info, err);
    if (rc != BK_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    out->size = info.size;
    out->mtime_us = info.mtime_us;
    snprintf(out->etag, sizeof(out->etag), "%s", info.etag);
    return BK_OK;
}

/* ---- list ---- */

static int append_param(struct bk_buf *q, const char *name, const char *value, struct bk_error *err)
{
    int rc = BK_OK;
    if (q->len > 0)
        rc = bk_buf_append(q, "&", 1, err);
    if (rc == BK_OK)
        rc = bk_buf_append_str(q, name, err);
    if (rc == BK_OK)
        rc = bk_buf_append(q, "=", 1, err);
    if (rc == BK_OK)
        rc = bk_uri_encode(q, value, false, err);
    return rc;
}

static int gcs_list_page(struct storage_driver *drv, const char *prefix, const char *delimiter,
                         const char *token, struct storage_list_page *page, struct bk_error *err)
{
    struct gcs_driver *d = driver_of(drv);
    struct bk_http_request req;
    struct bk_http_response resp;
    struct bk_buf query;
    char *url = NULL;
    int rc;

    bk_http_response_init(&resp);
    bk_buf_init(&query, 16 * 1024);
    if ((rc = append_param(&query, "maxResults", "1000", err)) != BK_OK ||
        (prefix != NULL && prefix[0] != '\0' && (rc = append_param(&query, "prefix", prefix, err)) != BK_OK) ||
        (delimiter != NULL && (rc = append_param(&query, "delimiter", delimiter, err)) != BK_OK) ||
        (token != NULL && (rc = append_param(&query, "pageToken", token, err)) != BK_OK))
        goto out;
    if ((rc = gcs_url(&url, d, "/storage/v1", NULL, bk_buf_str(&query), err)) != BK_OK)
        goto out;
    memset(&req, 0, sizeof(req));
    req.op = "gcs_list";
    req.object = prefix != NULL ? prefix : "";
    req.method = "GET";
    req.url = url;
    req.max_body_bytes = LIST_REPLY_MAX_BYTES;
    if ((rc = gcs_request(d, &req, &resp, err)) != BK_OK)
        goto out;
    if (resp.status != 200) {
        rc = gcs_error_from_response(err, &req, &resp);
        goto out;
    }
    rc = gcs_json_parse_list(page, (const char *)resp.body.data, resp.body.len, req.object, err);
out:
    bk_http_response_free(&resp);
    bk_buf_free(&query);
    free(url);
    return rc;
}

/* ---- get ---- */

/* Forwards downloaded bytes to the caller's sink and hashes them (full-object reads only).
 * Lives on get's stack; next stays NULL so nothing ever frees the caller's sink through it. */
struct hash_tee {
    struct bk_sink base;
    struct bk_sink *dst;
    EVP_MD_CTX *md5;    /* NULL = forward only */
    uint32_t crc32c;
};

static int hash_tee_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    struct hash_tee *t = (struct hash_tee *)sink;
    if (t->md5 != NULL) {
        EVP_DigestUpdate(t->md5, data, len);
        t->crc32c = gcs_crc32c_update(t->crc32c, data, len);
    }
    return bk_sink_write(t->dst, data, len, err);
}

static void hash_tee_free(struct bk_sink *sink)
{
    (void)sink;
}

static const struct bk_sink_ops hash_tee_ops = { "gcs-download", hash_tee_write, NULL, NULL, hash_tee_free };

/* Finds "<name>=<value>" in the x-goog-hash headers (GCS sends one header per hash, or one
 * comma-separated header); copies the value. */
static bool find_goog_hash(const struct bk_http_headers *h, const char *name, char *out, size_t out_cap)
{
    size_t name_len = strlen(name);
    for (size_t i = 0; i < h->len; i++) {
        const char *p = h->lines[i];
        if (strncasecmp(p, "x-goog-hash:", 12) != 0)
            continue;
        for (p += 12; *p != '\0'; p++) {
            size_t n = 0;
            while (*p == ' ' || *p == ',')
                p++;
            if (strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
                p += name_len + 1;
                while (p[n] != '\0' && p[n] != ',' && p[n] != ' ' && n + 1 < out_cap)
                    n++;
                memcpy(out, p, n);
                out[n] = '\0';
                return true;
            }
            p = strchr(p, ',');
            if (p == NULL)
                break;
        }
    }
    return false;
}

/* Compares a full download with the md5 (else crc32c) the server sent in x-goog-hash, if any. */
static int check_download_hash(struct hash_tee *tee, const struct bk_http_response *resp,
                               const char *key, struct bk_error *err)
{
    const char *enc = bk_http_headers_get(&resp->headers, "x-goog-stored-content-encoding");
    uint8_t digest[BK_MD5_LEN];
    uint8_t be[4];
    char ours[32];
    char theirs[32];
    unsigned int dlen = 0;

    if (enc != NULL && strcmp(enc, "identity") != 0)
        return BK_OK;   /* served transcoded: the hashes describe the stored bytes */
    if (find_goog_hash(&resp->headers, "md5", theirs, sizeof(theirs))) {
        EVP_DigestFinal_ex(tee->md5, digest, &dlen);
        bk_base64_encode(digest, sizeof(digest), ours);
        if (strcmp(ours, theirs) != 0)
            return bk_error_set(err, BK_ECORRUPT, "gcs_get", key,
                                "downloaded \"%s\" has MD5 %s but the server says %s", key, ours, theirs);
    } else if (find_goog_hash(&resp->headers, "crc32c", theirs, sizeof(theirs))) {
        be[0] = (uint8_t)(tee->crc32c >> 24);
        be[1] = (uint8_t)(tee->crc32c >> 16);
        be[2] = (uint8_t)(tee->crc32c >> 8);
        be[3] = (uint8_t)tee->crc32c;
        bk_base64_encode(be, sizeof(be), ours);
        if (strcmp(ours, theirs) != 0)
            return bk_error_set(err, BK_ECORRUPT, "gcs_get", key,
                                "downloaded \"%s\" has CRC32C %s but the server says %s", key, ours, theirs);
    }
    return BK_OK;
}

static int gcs_get(struct storage_driver *drv, const char *key, uint64_t offset, uint64_t length,
                   struct bk_sink *dst, uint64_t *delivered, struct bk_error *err)
{
    struct gcs_driver *d = driver_of(drv);
    struct bk_http_request req;
    struct bk_http_response resp;
    struct bk_http_headers headers;
    struct hash_tee tee;
    char *url = NULL;
    char range[64];
    bool ranged = offset > 0 || length > 0;
    int rc;

    *delivered = 0;
    bk_http_response_init(&resp);
    bk_http_headers_init(&headers);
    memset(&tee, 0, sizeof(tee));
    tee.base.ops = &hash_tee_ops;
    tee.dst = dst;
    if (!ranged && (tee.md5 = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex(tee.md5, EVP_md5(), NULL) != 1) {
        EVP_MD_CTX_free(tee.md5);
        tee.md5 = NULL;
    }
    if ((rc = gcs_url(&url, d, "/storage/v1", key, "alt=media", err)) != BK_OK)
        goto out;
    if (ranged) {
        if (length > 0)
            snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)offset,
                     (unsigned long long)(offset + length - 1));
        else
            snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)offset);
        if ((rc = bk_http_headers_add(&headers, "Range", range, err)) != BK_OK)
            goto out;
    }
    memset(&req, 0, sizeof(req));
    req.op = "gcs_get";
    req.object = key;
    req.method = "GET";
    req.url = url;
    req.headers = &headers;
    req.response_sink = &tee.base;
    rc = gcs_request(d, &req, &resp, err);
    *delivered = resp.body_bytes_to_sink;
    if (rc != BK_OK)
        goto out;
    if (resp.status == 416) {
        /* a read that starts exactly at the end (resume after the last byte, empty object) */
        struct gcs_object_info info;
        if ((rc = fetch_object_info(d, key, "gcs_get", &info, err)) != BK_OK)
            goto out;
        if (info.size != offset)
            rc = bk_error_set(err, BK_EINVAL, "gcs_get", key, "range at byte %llu is past the end of \"%s\" (%llu bytes)",
                              (unsigned long long)offset, key, (unsigned long long)info.size);
        goto out;
    }
    if (resp.status != 200 && resp.status != 206) {
        rc = gcs_error_from_response(err, &req, &resp);
        goto out;
    }
    if (ranged && offset > 0 && resp.status == 200) {
        rc = bk_error_set(err, BK_EPROTO, "gcs_get", key, "server ignored the Range header for \"%s\"", key);
        goto out;
    }
    if (!ranged && tee.md5 != NULL)
        rc = check_download_hash(&tee, &resp, key, err);
out:
    EVP_MD_CTX_free(tee.md5);
    bk_http_headers_free(&headers);
    bk_http_response_free(&resp);
    free(url);
    return rc;
}

/* ---- remove ---- */

int gcs_remove(struct storage_driver *drv, const char *key, struct bk_error *err)
{
    struct gcs_driver *d = driver_of(drv);
    struct bk_http_request req;
    struct bk_http_response resp;
    char *url = NULL;
    int rc;

    bk_http_response_init(&resp);
    if ((rc = gcs_url(&url, d, "/storage/v1", key, NULL, err)) != BK_OK)
        goto out;
    memset(&req, 0, sizeof(req));
    req.op = "gcs_remove";
    req.object = key;
    req.method = "DELETE";
    req.url = url;
    if ((rc = gcs_request(d, &req, &resp, err)) != BK_OK)
        goto out;
    if (resp.status != 204 && resp.status != 200 && resp.status != 404)
        rc = gcs_error_from_response(err, &req, &resp);
out:
    bk_http_response_free(&resp);
    free(url);
    return rc;
}

const struct storage_driver_ops storage_gcs_ops = {
    .version = STORAGE_DRIVER_VERSION,
    .scheme = "gs",
    .features = 0,
    .open = gcs_open,
    .close = gcs_close,
    .stat = gcs_stat,
    .list_page = gcs_list_page,
    .get = gcs_get,
    .put_single = gcs_put_single,
    .upload_begin = gcs_upload_begin,
    .upload_part = gcs_upload_part,
    .upload_complete = gcs_upload_complete,
    .upload_abort = gcs_upload_abort,
    .remove = gcs_remove,
    .remove_many = NULL,
};

/*
 * Azure Blob storage driver ("azure://container/prefix"): Put Blob for small objects, Put
 * Block + Put Block List for large ones (parts in parallel), Get Blob with x-ms-range, Get
 * Blob Properties, List Blobs and Delete Blob over bk_http. Authenticates with SharedKey
 * (azure_sign.c) or a SAS token carried in the query. Not for: retries (bk_http), buffering
 * parts (storage.c), or XML details (azure_xml.c).
 */
#include "azure_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "bk_crypto.h"
#include "bk_log.h"
#include "bk_str.h"
#include "bk_time.h"

#define AZURE_LIST_MAX_RESULTS 1000
#define AZURE_LIST_BODY_CAP (8u * 1024 * 1024)
#define AZURE_URL_CAP (64u * 1024)
#define AZURE_BLOCK_LIST_CAP (4u * 1024 * 1024)   /* 50,000 ids of 41 bytes fit */

struct azure_driver {
    struct storage_driver base;
    struct bk_http_client *http;
    struct azure_shared_key sk;   /* used when use_key */
    bool use_key;
    char *sas;                    /* SAS token without '?', secret; NULL with SharedKey */
    char *base_url;               /* "<endpoint>/<encoded container>" */
    char *container;
};

struct azure_upload {
    struct storage_upload base;
    char *key;
    char *content_type;
    uint32_t nonce;               /* makes block ids unique to this upload */
    pthread_mutex_t lock;         /* guards the fields below */
    uint8_t *done;                /* done[part_no - 1] once the block is stored */
    unsigned done_cap;
    unsigned last_part;           /* number of the part flagged is_last; 0 until then */
};

/* One request: what az_do needs besides the driver. */
struct az_call {
    const char *op;               /* "azure_put_blob" */
    const char *key;              /* blob name, NULL for container requests */
    const char *object;           /* named in errors; NULL = key */
    const char *method;
    const char *query;            /* without '?', already encoded; may be NULL */
    struct bk_http_headers *headers;   /* request headers; x-ms-version is added here */
    const void *body;
    size_t body_len;
    bool send_body;
    struct bk_sink *sink;         /* 2xx body goes here; NULL = into resp->body */
    size_t max_body_bytes;
};

/* ---- URLs, signing, errors ---- */

static int az_build_url(const struct azure_driver *drv, const char *key, const char *query,
                        struct bk_buf *url, struct bk_error *err)
{
    int rc = bk_buf_append_str(url, drv->base_url, err);
    bool has_query = query != NULL && query[0] != '\0';
    if (rc == BK_OK && key != NULL) {
        rc = bk_buf_append_str(url, "/", err);
        if (rc == BK_OK)
            rc = bk_uri_encode(url, key, true, err);
    }
    if (rc == BK_OK && has_query)
        rc = bk_buf_printf(url, err, "?%s", query);
    if (rc == BK_OK && drv->sas != NULL)
        rc = bk_buf_printf(url, err, "%s%s", has_query ? "&" : "?", drv->sas);
    return rc;
}

static int az_sign(void *ctx, const struct bk_http_request *req, struct bk_http_headers *extra,
                   struct bk_error *err)
{
    const struct azure_driver *drv = ctx;
    struct azure_sign_request sr = { req->method, req->url, req->headers, NULL, req->body_len };
    return azure_sign_add_headers(extra, &drv->sk, &sr, bk_time_now_us() / 1000000, err);
}

/* Azure answers a bad signature with 403 AuthenticationFailed; azurite (3.37) answers it with
 * 403 AuthorizationFailure, which Azure also uses for SAS/firewall refusals. Both mean "these
 * credentials do not let you in", so both are BK_EAUTH; AuthorizationPermissionMismatch (RBAC)
 * stays BK_EDENIED. */
static bool server_code_is_auth(const char *code)
{
    return strcmp(code, "AuthenticationFailed") == 0 || strcmp(code, "AuthorizationFailure") == 0 ||
           strcmp(code, "InvalidAuthenticationInfo") == 0 ||
           strcmp(code, "NoAuthenticationInformation") == 0;
}

/* Fills err from a non-2xx reply: operation, blob, status, x-ms-error-code (or the XML
 * <Code>) and the first line of <Message>. Never quotes the URL's query (SAS token). */
static int az_error(const struct azure_driver *drv, const struct bk_http_request *req,
                    const struct bk_http_response *resp, struct bk_error *err)
{
    char code[64], message[256];
    const char *header_code = bk_http_headers_get(&resp->headers, "x-ms-error-code");
    char *sig;
    int rc;
    azure_xml_parse_error((const char *)resp->body.data, resp->body.len, code, sizeof(code),
                          message, sizeof(message));
    if (header_code != NULL && header_code[0] != '\0')
        snprintf(code, sizeof(code), "%s", header_code);
    /* a server quoting a signed query must not leak it into logs */
    if ((sig = strstr(message, "sig=")) != NULL) {
        *sig = '\0';
        while (sig > message && (sig[-1] == ' ' || sig[-1] == ':'))
            *--sig = '\0';
    }
    rc = bk_http_error_from_response(err, req, resp, code[0] != '\0' ? code : NULL,
                                     message[0] != '\0' ? message : NULL);
    if (server_code_is_auth(code) || resp->status == 401) {
        err->code = BK_EAUTH;
        err->retryable = false;
        bk_error_set_hint(err, drv->use_key
                          ? "check AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_ACCESS_KEY"
                          : "check AZURE_STORAGE_SAS_TOKEN (signature, expiry, permissions)");
        rc = BK_EAUTH;
    } else if (strcmp(code, "OperationTimedOut") == 0) {
        err->code = BK_ETHROTTLED;
        err->retryable = true;
        rc = BK_ETHROTTLED;
    }
    return rc;
}

/* Sends call; BK_OK only for a 2xx reply, otherwise err is filled by az_error. */
static int az_do(struct azure_driver *drv, const struct az_call *call,
                 struct bk_http_response *resp, struct bk_error *err)
{
    struct bk_buf url;
    struct bk_http_request req;
    int rc;

    bk_buf_init(&url, AZURE_URL_CAP);
    if ((rc = az_build_url(drv, call->key, call->query, &url, err)) != BK_OK)
        goto out;
    if ((rc = bk_http_headers_add(call->headers, "x-ms-version", AZURE_API_VERSION, err)) != BK_OK)
        goto out;
    memset(&req, 0, sizeof(req));
    req.op = call->op;
    req.object = call->object != NULL ? call->object : call->key;
    req.method = call->method;
    req.url = bk_buf_str(&url);
    req.headers = call->headers;
    req.sign = drv->use_key ? az_sign : NULL;
    req.sign_ctx = drv;
    req.body = call->body;
    req.body_len = call->body_len;
    req.send_body = call->send_body;
    req.response_sink = call->sink;
    req.max_body_bytes = call->max_body_bytes;
    if ((rc = bk_http_do(drv->http, &req, resp, err)) != BK_OK)
        goto out;
    if (resp->status < 200 || resp->status > 299)
        rc = az_error(drv, &req, resp, err);
out:
    bk_buf_free(&url);
    return rc;
}

/* Content-MD5 value (base64) of data. out holds 25 bytes. */
static void az_md5_b64(const void *data, size_t len, char *out)
{
    uint8_t md5[BK_MD5_LEN];
    bk_md5(data, len, md5);
    bk_base64_encode(md5, sizeof(md5), out);
}

/* The service echoes the transactional Content-MD5 it computed; a difference means the bytes
 * it stored are not the ones we sent. */
static int az_check_md5(const struct bk_http_response *resp, const char *sent, const char *op,
                        const char *key, struct bk_error *err)
{
    const char *got = bk_http_headers_get(&resp->headers, "Content-MD5");
    if (got == NULL || strcmp(got, sent) == 0)
        return BK_OK;
    return bk_error_set(err, BK_ECORRUPT, op, key,
                        "the service stored \"%s\" with Content-MD5 %s, expected %s", key, got, sent);
}

/* ---- open / close ---- */

static void az_close(struct storage_driver *base)
{
    struct azure_driver *drv = (struct azure_driver *)base;
    if (drv == NULL)
        return;
    bk_http_client_free(drv->http);
    azure_shared_key_clear(&drv->sk);
    bk_secret_free(drv->sas);
    free(drv->base_url);
    free(drv->container);
    free(drv);
}

static bool str_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static int az_open(struct storage_driver **out, const struct storage_config *cfg,
                   struct bk_error *err)
{
    struct azure_driver *drv = NULL;
    struct bk_buf url;
    int rc = BK_OK;

    bk_buf_init(&url, AZURE_URL_CAP);
    if (!str_set(cfg->bucket)) {
        rc = bk_error_set(err, BK_EINVAL, "azure_open", NULL,
                          "the azure url names no container (azure://<container>/<prefix>)");
        goto out;
    }
    drv = calloc(1, sizeof(*drv));
    if (drv == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "azure_open", cfg->bucket, "out of memory");
        goto out;
    }
    drv->base.ops = &storage_azure_ops;
    if (cfg->part_size_bytes > AZURE_MAX_BLOCK_BYTES) {
        /* every request body is at most one part; Put Blob allows 5000 MiB, Put Block 4000 */
        rc = bk_error_set(err, BK_EINVAL, "azure_open", cfg->bucket,
                          "BACKUP_PART_SIZE %llu is above azure's block limit of 4000 MiB",
                          (unsigned long long)cfg->part_size_bytes);
        goto out;
    }
    if (str_set(cfg->az_access_key)) {
        /* WAL-G's order: the account key wins over a SAS token */
        if ((rc = azure_shared_key_init(&drv->sk, cfg->az_account, cfg->az_access_key, err)) != BK_OK)
            goto out;
        drv->use_key = true;
    } else if (str_set(cfg->az_sas_token)) {
        const char *t = cfg->az_sas_token[0] == '?' ? cfg->az_sas_token + 1 : cfg->az_sas_token;
        size_t len = strlen(t);
        while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
            len--;
        drv->sas = strndup(t, len);
        if (drv->sas == NULL) {
            rc = bk_error_set(err, BK_ENOMEM, "azure_open", cfg->bucket, "out of memory");
            goto out;
        }
    } else {
        rc = bk_error_set(err, BK_EAUTH, "azure_open", cfg->bucket,
                          "no azure credentials: set AZURE_STORAGE_ACCESS_KEY or "
                          "AZURE_STORAGE_SAS_TOKEN");
        goto out;
    }
    if (str_set(cfg->az_endpoint)) {
        size_t len = strlen(cfg->az_endpoint);
        while (len > 0 && cfg->az_endpoint[len - 1] == '/')
            len--;
        rc = bk_buf_append(&url, cfg->az_endpoint, len, err);
    } else if (str_set(cfg->az_account)) {
        rc = bk_buf_printf(&url, err, "https://%s.blob.core.windows.net", cfg->az_account);
    } else {
        rc = bk_error_set(err, BK_EINVAL, "azure_open", cfg->bucket,
                          "set AZURE_STORAGE_ACCOUNT (or AZURE_STORAGE_ENDPOINT)");
    }
    if (rc == BK_OK)
        rc = bk_buf_append_str(&url, "/", err);
    if (rc == BK_OK)
        rc = bk_uri_encode(&url, cfg->bucket, false, err);
    if (rc != BK_OK)
        goto out;
    if ((rc = bk_strdup(&drv->base_url, bk_buf_str(&url), err)) != BK_OK ||
        (rc = bk_strdup(&drv->container, cfg->bucket, err)) != BK_OK)
        goto out;
    if ((rc = bk_http_client_new(&drv->http, &cfg->http, err)) != BK_OK)
        goto out;
    azure_xml_init();
    *out = &drv->base;
    drv = NULL;
out:
    az_close(drv != NULL ? &drv->base : NULL);
    bk_buf_free(&url);
    return rc;
}

/* ---- stat / get ---- */

static int az_stat(struct storage_driver *base, const char *key, struct storage_stat *out,
                   struct bk_error *err)
{
    struct azure_driver *drv = (struct azure_driver *)base;
    struct bk_http_headers headers;
    struct bk_http_response resp;
    struct az_call call = { "azure_get_blob_properties", key, NULL, "HEAD", NULL, &headers, NULL, 0,
                            false, NULL, 0 };
    const char *v;
    int64_t mtime_s = 0;
    int64_t size = 0;
    int rc;

    bk_http_headers_init(&headers);
    bk_http_response_init(&resp);
    if ((rc = az_do(drv, &call, &resp, err)) != BK_OK)
        goto out;
    memset(out, 0, sizeof(*out));
    v = bk_http_headers_get(&resp.headers, "Content-Length");
    if (v == NULL || bk_parse_int64(v, 0, INT64_MAX, "Content-Length", &size, err) != BK_OK) {
        rc = bk_error_set(err, BK_EPROTO, call.op, key,
                          "get blob properties of \"%s\" returned no valid Content-Length", key);
        goto out;
    }
    out->size = (uint64_t)size;
    v = bk_http_headers_get(&resp.headers, "Last-Modified");
    if (v != NULL && (rc = azure_parse_http_date(v, &mtime_s, err)) != BK_OK)
        goto out;
    out->mtime_us = mtime_s * 1000000;
    v = bk_http_headers_get(&resp.headers, "ETag");
    if (v != NULL) {
        size_t len;
        snprintf(out->etag, sizeof(out->etag), "%s", v[0] == '"' ? v + 1 : v);
        len = strlen(out->etag);
        if (len > 0 && out->etag[len - 1] == '"')
            out->etag[len - 1] = '\0';
    }
out:
    bk_http_response_free(&resp);
    bk_http_headers_free(&headers);
    return rc;
}

static int az_get(struct storage_driver *base, const char *key, uint64_t offset, uint64_t length,
                  struct bk_sink *dst, uint64_t *delivered, struct bk_error *err)
{
    struct azure_driver *drv = (struct azure_driver *)base;
    struct bk_http_headers headers;
    struct bk_http_response resp;
    struct az_call call = { "azure_get_blob", key, NULL, "GET", NULL, &headers, NULL, 0, false, dst, 0 };
    bool ranged = offset > 0 || length > 0;
    int rc = BK_OK;

    *delivered = 0;
    bk_http_headers_init(&headers);
    bk_http_response_init(&resp);
    if (ranged) {
        char range[64];
        if (length > 0)
            snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)offset,
                     (unsigned long long)(offset + length - 1));
        else
            snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)offset);
        if ((rc = bk_http_headers_add(&headers, "x-ms-range", range, err)) != BK_OK)
            goto out;
    }
    rc = az_do(drv, &call, &resp, err);
    *delivered = resp.body_bytes_to_sink;
    if (rc == BK_OK && ranged && resp.status != 206)
        rc = bk_error_set(err, BK_EPROTO, call.op, key,
                          "get blob \"%s\" ignored the requested range (HTTP %ld)", key, resp.status);
out:
    bk_http_response_free(&resp);
    bk_http_headers_free(&headers);
    return rc;
}

/* ---- list ---- */

static int az_add_query_param(struct bk_buf *q, const char *name, const char *value,
                              struct bk_error *err)
{
    int rc;
    if (value == NULL || value[0] == '\0')
        return BK_OK;
    if ((rc = bk_buf_printf(q, err, "&%s=", name)) != BK_OK)
        return rc;
    return bk_uri_encode(q, value, false, err);
}

static int az_list_page(struct storage_driver *base, const char *prefix, const char *delimiter,
                        const char *token, struct storage_list_page *page, struct bk_error *err)
{
    struct azure_driver *drv = (struct azure_driver *)base;
    struct bk_http_headers headers;
    struct bk_http_response resp;
    struct bk_buf query;
    struct az_call call = { "azure_list_blobs", NULL, prefix != NULL ? prefix : "", "GET", NULL,
                            &headers, NULL, 0, false, NULL, AZURE_LIST_BODY_CAP };
    int rc;

    bk_http_headers_init(&headers);
    bk_http_response_init(&resp);
    bk_buf_init(&query, AZURE_URL_CAP);
    if ((rc = bk_buf_printf(&query, err, "restype=container&comp=list&maxresults=%d",
                            AZURE_LIST_MAX_RESULTS)) != BK_OK ||
        (rc = az_add_query_param(&query, "prefix", prefix, err)) != BK_OK ||
        (rc = az_add_query_param(&query, "delimiter", delimiter, err)) != BK_OK ||
        (rc = az_add_query_param(&query, "marker", token, err)) != BK_OK)
        goto out;
    call.query = bk_buf_str(&query);
    if ((rc = az_do(drv, &call, &resp, err)) != BK_OK)
        goto out;
    rc = azure_xml_parse_list((const char *)resp.body.data, resp.body.len, page, err);
out:
    bk_buf_free(&query);
    bk_http_response_free(&resp);
    bk_http_headers_free(&headers);
    return rc;
}

/* ---- put ---- */

static int az_put_single(struct storage_driver *base, const char *key, const void *data,
                         size_t len, const struct storage_put_opts *opts, struct bk_error *err)
{
    struct azure_driver *drv = (struct azure_driver *)base;
    struct bk_http_headers headers;
    struct bk_http_response resp;
    struct az_call call = { "azure_put_blob", key, NULL, "PUT", NULL, &headers, data, len, true,
                            NULL, 0 };
    const char *type = opts != NULL && opts->content_type != NULL ? opts->content_type
                                                                 : "application/octet-stream";
    char md5[32];
    int rc;

    bk_http_headers_init(&headers);
    bk_http_response_init(&resp);
    az_md5_b64(data, len, md5);
    if ((rc = bk_http_headers_add(&headers, "x-ms-blob-type", "BlockBlob", err)) != BK_OK ||
        (rc = bk_http_headers_add(&headers, "Content-Type", type, err)) != BK_OK ||
        (rc = bk_http_headers_add(&headers, "Content-MD5", md5, err)) != BK_OK)
        goto out;
    if ((rc = az_do(drv, &call, &resp, err)) != BK_OK)
        goto out;
    rc = az_check_md5(&resp, md5, call.op, key, err);
out:
    bk_http_response_free(&resp);
    bk_http_headers_free(&headers);
    return rc;
}

static void az_upload_free(struct azure_upload *up)
{
    if (up == NULL)
        return;
    pthread_mutex_destroy(&up->lock);
    free(up->done);
    free(up->content_type);
    free(up->key);
    free(up);
}

static uint32_t az_new_nonce(const void *salt)
{
    uint32_t nonce = 0;
    if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != (ssize_t)sizeof(nonce))
        nonce = (uint32_t)bk_time_now_us() ^ (uint32_t)(uintptr_t)salt;
    return nonce;
}

static int az_upload_begin(struct storage_driver *base, const char *key,
                           const struct storage_put_opts *opts, struct storage_upload **out,
                           struct bk_error *err)
{
    struct azure_upload *up = calloc(1, sizeof(*up));
    const char *type = opts != NULL && opts->content_type != NULL ? opts->content_type
                                                                 : "application/octet-stream";
    int rc = BK_OK;
    if (up == NULL)
        return bk_error_set(err, BK_ENOMEM, "azure_upload_begin", key, "out of memory");
    pthread_mutex_init(&up->lock, NULL);
    up->base.drv = base;
    up->key = strdup(key);
    up->content_type = strdup(type);
    if (up->key == NULL || up->content_type == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "azure_upload_begin", key, "out of memory");
        goto out;
    }
    up->nonce = az_new_nonce(up);
    /* nothing to create server-side: blocks are staged by Put Block under this blob name */
    *out = &up->base;
    up = NULL;
out:
    az_upload_free(up);
    return rc;
}

/* Records part_no as stored. */
static int az_upload_mark(struct azure_upload *up, unsigned part_no, bool is_last,
                          struct bk_error *err)
{
    int rc = BK_OK;
    pthread_mutex_lock(&up->lock);
    if (part_no > up->done_cap) {
        unsigned cap = up->done_cap == 0 ? 64 : up->done_cap;
        uint8_t *grown;
        while (cap < part_no)
            cap *= 2;
        if (cap > AZURE_MAX_BLOCKS)
            cap = AZURE_MAX_BLOCKS;
        grown = realloc(up->done, cap);
        if (grown == NULL) {
            rc = bk_error_set(err, BK_ENOMEM, "azure_put_block", up->key, "out of memory");
            goto out;
        }
        memset(grown + up->done_cap, 0, cap - up->done_cap);
        up->done = grown;
        up->done_cap = cap;
    }
    up->done[part_no - 1] = 1;
    if (is_last)
        up->last_part = part_no;
out:
    pthread_mutex_unlock(&up->lock);
    return rc;
}

static int az_upload_part(struct storage_upload *base, unsigned part_no, const void *data,
                          size_t len, bool is_last, struct bk_error *err)
{
    struct azure_upload *up = (struct azure_upload *)base;
    struct azure_driver *drv = (struct azure_driver *)base->drv;
    struct bk_http_headers headers;
    struct bk_http_response resp;
    struct bk_buf query;
    struct az_call call = { "azure_put_block", up->key, NULL, "PUT", NULL, &headers, data, len, true,
                            NULL, 0 };
    char id[32], md5[32];
    int rc;

    bk_http_headers_init(&headers);
    bk_http_response_init(&resp);
    bk_buf_init(&query, 256);
    if (part_no < 1 || part_no > AZURE_MAX_BLOCKS) {
        rc = bk_error_set(err, BK_EINVAL, call.op, up->key,
                          "part %u of \"%s\" is beyond azure's limit of %u blocks per blob",
                          part_no, up->key, AZURE_MAX_BLOCKS);
        bk_error_set_hint(err, "raise BACKUP_PART_SIZE so the object fits in %u parts",
                          AZURE_MAX_BLOCKS);
        goto out;
    }
    azure_block_id(up->nonce, part_no, id, sizeof(id));
    az_md5_b64(data, len, md5);
    if ((rc = bk_buf_append_str(&query, "comp=block&blockid=", err)) != BK_OK ||
        (rc = bk_uri_encode(&query, id, false, err)) != BK_OK ||
        (rc = bk_http_headers_add(&headers, "Content-MD5", md5, err)) != BK_OK)
        goto out;
    call.query = bk_buf_str(&query);
    if ((rc = az_do(drv, &call, &resp, err)) != BK_OK)
        goto out;
    if ((rc = az_check_md5(&resp, md5, call.op, up->key, err)) != BK_OK)
        goto out;
    rc = az_upload_mark(up, part_no, is_last, err);
out:
    bk_buf_free(&query);
    bk_http_response_free(&resp);
    bk_http_headers_free(&headers);
    return rc;
}

static int az_upload_complete(struct storage_upload *base, struct bk_error *err)
{
    struct azure_upload *up = (struct azure_upload *)base;
    struct azure_driver *drv = (struct azure_driver *)base->drv;
    struct bk_http_headers headers;
    struct bk_http_response resp;
    struct bk_buf body;
    struct az_call call = { "azure_put_block_list", up->key, NULL, "PUT", "comp=blocklist", &headers,
                            NULL, 0, true, NULL, 0 };
    unsigned n_parts, missing = 0;
    char md5[32];
    int rc;

    bk_http_headers_init(&headers);
    bk_http_response_init(&resp);
    bk_buf_init(&body, AZURE_BLOCK_LIST_CAP);
    pthread_mutex_lock(&up->lock);
    n_parts = up->last_part;
    for (unsigned i = 0; i < n_parts; i++)
        if (i >= up->done_cap || up->done[i] == 0)
            missing++;
    pthread_mutex_unlock(&up->lock);
    if (n_parts == 0 || missing > 0) {
        rc = bk_error_set(err, BK_EINTERNAL, call.op, up->key,
                          "cannot commit \"%s\": %u of %u parts were not stored%s", up->key,
                          missing, n_parts, n_parts == 0 ? " (no part was flagged last)" : "");
        goto out;
    }
    if ((rc = azure_xml_block_list(&body, up->nonce, n_parts, err)) != BK_OK)
        goto out;
    az_md5_b64(body.data, body.len, md5);
    if ((rc = bk_http_headers_add(&headers, "Content-MD5", md5, err)) != BK_OK ||
        (rc = bk_http_headers_add(&headers, "x-ms-blob-content-type", up->content_type, err)) != BK_OK)
        goto out;
    call.body = body.data;
    call.body_len = body.len;
    if ((rc = az_do(drv, &call, &resp, err)) != BK_OK)
        goto out;
    bk_log_debug("azure_commit", "committed \"%s\" from %u blocks", up->key, n_parts);
out:
    bk_buf_free(&body);
    bk_http_response_free(&resp);
    bk_http_headers_free(&headers);
    if (rc == BK_OK)
        az_upload_free(up);
    return rc;
}

static void az_upload_abort(struct storage_upload *base)
{
    /* uncommitted blocks are never visible and the service drops them after a week (or at
     * the next commit of this blob name), so there is nothing to delete */
    az_upload_free((struct azure_upload *)base);
}

/* ---- remove ---- */

static int az_remove(struct storage_driver *base, const char *key, struct bk_error *err)
{
    struct azure_driver *drv = (struct azure_driver *)base;
    struct bk_http_headers headers;
    struct bk_http_response resp;
    struct az_call call = { "azure_delete_blob", key, NULL, "DELETE", NULL, &headers, NULL, 0, false,
                            NULL, 0 };
    int rc;

    bk_http_headers_init(&headers);
    bk_http_response_init(&resp);
    if ((rc = bk_http_headers_add(&headers, "x-ms-delete-snapshots", "include", err)) != BK_OK)
        goto out;
    rc = az_do(drv, &call, &resp, err);
    /* a missing blob is already deleted; a missing container is a configuration error */
    if (rc == BK_ENOTFOUND && resp.status == 404 && strcmp(err->server_code, "ContainerNotFound") != 0) {
        bk_error_clear(err);
        rc = BK_OK;
    }
out:
    bk_http_response_free(&resp);
    bk_http_headers_free(&headers);
    return rc;
}

const struct storage_driver_ops storage_azure_ops = {
    .version = STORAGE_DRIVER_VERSION,
    .scheme = "azure",
    .features = STORAGE_FEAT_PARALLEL_PARTS,
    .open = az_open,
    .close = az_close,
    .stat = az_stat,
    .list_page = az_list_page,
    .get = az_get,
    .put_single = az_put_single,
    .upload_begin = az_upload_begin,
    .upload_part = az_upload_part,
    .upload_complete = az_upload_complete,
    .upload_abort = az_upload_abort,
    .remove = az_remove,
    .remove_many = NULL,   /* Blob Batch needs multipart/mixed bodies; the front end loops */
};

/*
 * One S3 request end to end: URL (virtual-host or path style), fixed headers (Host,
 * x-amz-content-sha256 of the buffered body, Content-MD5, SSE, storage class), a SigV4
 * signature made fresh before every attempt by bk_http's sign callback, and the mapping
 * of S3 error replies to bk codes. Credentials are copied per request and wiped after it.
 */
#include "s3_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bk_str.h"
#include "bk_time.h"

struct s3_sign_ctx {
    const struct s3_creds *creds;
    const char *path;       /* encoded path as sent */
    const char *query;
    const char *region;
};

/* Called by bk_http before each attempt: adds x-amz-date, the session token and the
 * Authorization header computed over every fixed header of the request. */
static int s3_sign_cb(void *ctx, const struct bk_http_request *req, struct bk_http_headers *extra,
                      struct bk_error *err)
{
    struct s3_sign_ctx *c = ctx;
    struct bk_http_headers to_sign;
    struct s3_sign_output out;
    struct s3_sign_input in;
    char amz_date[17];
    int rc = BK_OK;

    if (c->creds->access_key_id == NULL)
        return BK_OK;   /* anonymous access to a public bucket */
    bk_http_headers_init(&to_sign);
    s3_sign_output_init(&out);
    s3_sign_format_amz_date(bk_time_now_us() / 1000000, amz_date);
    for (size_t i = 0; req->headers != NULL && i < req->headers->len; i++) {
        const char *line = req->headers->lines[i];
        const char *colon = strchr(line, ':');
        char name[128];
        if (colon == NULL || (size_t)(colon - line) >= sizeof(name))
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(colon - line), line);
        if ((rc = bk_http_headers_add(&to_sign, name, bk_http_headers_get(req->headers, name), err)) != BK_OK)
            goto out;
    }
    if ((rc = bk_http_headers_add(&to_sign, "x-amz-date", amz_date, err)) != BK_OK ||
        (rc = bk_http_headers_add(extra, "x-amz-date", amz_date, err)) != BK_OK)
        goto out;
    if (c->creds->session_token != NULL &&
        ((rc = bk_http_headers_add(&to_sign, "x-amz-security-token", c->creds->session_token, err)) != BK_OK ||
         (rc = bk_http_headers_add(extra, "x-amz-security-token", c->creds->session_token, err)) != BK_OK))
        goto out;
    memset(&in, 0, sizeof(in));
    in.method = req->method;
    in.path = c->path;
    in.query = c->query;
    in.headers = &to_sign;
    in.payload_hash = bk_http_headers_get(req->headers, "x-amz-content-sha256");
    in.amz_date = amz_date;
    in.region = c->region;
    in.service = "s3";
    in.access_key_id = c->creds->access_key_id;
    in.secret_access_key = c->creds->secret_access_key;
    if (in.payload_hash == NULL)
        in.payload_hash = S3_UNSIGNED_PAYLOAD;
    if ((rc = s3_sign_compute(&out, &in, err)) != BK_OK) {
        bk_error_wrap(err, req->op);
        goto out;
    }
    rc = bk_http_headers_add(extra, "Authorization", bk_buf_str(&out.authorization), err);
out:
    s3_sign_output_free(&out);
    /* the token was copied into to_sign's lines */
    for (size_t i = 0; i < to_sign.len; i++)
        memset(to_sign.lines[i], 0, strlen(to_sign.lines[i]));
    bk_http_headers_free(&to_sign);
    return rc;
}

static bool code_is_auth(const char *code)
{
    static const char *codes[] = { "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                                   "InvalidToken", "TokenRefreshRequired", "AuthorizationHeaderMalformed",
                                   "RequestTimeTooSkewed", "MissingSecurityHeader", "InvalidSecurity" };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

int s3_error_from_reply(struct bk_error *err, const struct s3_call *call,
                        const struct bk_http_response *resp, const char *code, const char *message)
{
    struct bk_http_request req;
    int rc;
    memset(&req, 0, sizeof(req));
    req.op = call->op;
    req.object = call->key != NULL ? call->key : call->label;
    req.method = call->method;
    req.url = "";
    rc = bk_http_error_from_response(err, &req, resp, code != NULL && code[0] != '\0' ? code : NULL,
                                     message != NULL && message[0] != '\0' ? message : NULL);
    if (code != NULL && code[0] != '\0') {
        if (code_is_auth(code))
            rc = BK_EAUTH;
        else if (strcmp(code, "NoSuchKey") == 0 || strcmp(code, "NoSuchBucket") == 0 ||
                 strcmp(code, "NoSuchUpload") == 0)
            rc = BK_ENOTFOUND;
        else if (strcmp(code, "NotImplemented") == 0)
            rc = BK_EUNSUPPORTED;
        else if (strcmp(code, "SlowDown") == 0)
            rc = BK_ETHROTTLED;
        else if (strcmp(code, "BadDigest") == 0 || strcmp(code, "XAmzContentSHA256Mismatch") == 0 ||
                 strcmp(code, "InvalidDigest") == 0)
            rc = BK_ECORRUPT;
        else if (resp->status >= 200 && resp->status < 300)
            rc = BK_ESERVER;   /* an <Error> inside a 200 reply: S3 says retry */
    } else if (resp->status == 501) {
        rc = BK_EUNSUPPORTED;
    }
    err->code = rc;
    err->retryable = bk_code_retryable(rc);
    return rc;
}

void s3_etag_unquote(const char *value, char *out, size_t out_cap)
{
    size_t n;
    if (value == NULL)
        value = "";
    n = strlen(value);
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"')
        snprintf(out, out_cap, "%.*s", (int)(n - 2), value + 1);
    else
        snprintf(out, out_cap, "%s", value);
}

int s3_parse_http_date(const char *text, int64_t *out_us, struct bk_error *err)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char wday[4], mon[4];
    int day, year, hh, mm, ss;
    struct tm tm;
    const char *m;
    if (text == NULL ||
        sscanf(text, "%3s, %d %3s %d %d:%d:%d", wday, &day, mon, &year, &hh, &mm, &ss) != 7 ||
        (m = strstr(months, mon)) == NULL || strlen(mon) != 3 || (m - months) % 3 != 0)
        return bk_error_set(err, BK_EPROTO, "s3_head_object", NULL, "bad HTTP date \"%s\"",
                            text != NULL ? text : "");
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    *out_us = (int64_t)timegm(&tm) * 1000000;
    return BK_OK;
}

/* Path as sent: [/base][/bucket]/key, with the key encoded ('/' kept). */
static int s3_build_path(struct bk_buf *path, const struct s3_driver *drv, const char *key,
                         struct bk_error *err)
{
    int rc = bk_buf_append_str(path, drv->base_path, err);
    if (rc == BK_OK && drv->path_style)
        rc = bk_buf_printf(path, err, "/%s", drv->bucket);
    if (rc == BK_OK && (key != NULL || !drv->path_style))
        rc = bk_buf_append_str(path, "/", err);
    if (rc == BK_OK && key != NULL)
        rc = bk_uri_encode(path, key, true, err);
    return rc;
}

int s3_call_do(struct s3_driver *drv, const struct s3_call *call, struct bk_http_response *resp,
               struct bk_error *err)
{
    struct bk_buf path, url, host;
    struct bk_http_headers headers;
    struct bk_http_request req;
    struct s3_creds creds;
    struct s3_sign_ctx sign_ctx;
    char payload_hash[65], md5_b64[25];
    int rc;

    memset(&creds, 0, sizeof(creds));
    bk_buf_init(&path, 8192);
    bk_buf_init(&url, 16384);
    bk_buf_init(&host, 1024);
    bk_http_headers_init(&headers);
    if ((rc = s3_build_path(&path, drv, call->key, err)) != BK_OK)
        goto out;
    if (drv->path_style)
        rc = bk_buf_append_str(&host, drv->host, err);
    else
        rc = bk_buf_printf(&host, err, "%s.%s", drv->bucket, drv->host);
    if (rc != BK_OK ||
        (rc = bk_buf_printf(&url, err, "%s://%s%s%s%s", drv->scheme, bk_buf_str(&host), bk_buf_str(&path),
                            call->query != NULL && call->query[0] != '\0' ? "?" : "",
                            call->query != NULL ? call->query : "")) != BK_OK)
        goto out;

    s3_sign_payload_hash(call->body, call->body_len, payload_hash);
    if ((rc = bk_http_headers_add(&headers, "Host", bk_buf_str(&host), err)) != BK_OK ||
        (rc = bk_http_headers_add(&headers, "x-amz-content-sha256", payload_hash, err)) != BK_OK)
        goto out;
    if (call->content_md5) {
        s3_sign_content_md5(call->body, call->body_len, md5_b64, NULL);
        if ((rc = bk_http_headers_add(&headers, "Content-MD5", md5_b64, err)) != BK_OK)
            goto out;
    }
    if (call->content_type != NULL &&
        (rc = bk_http_headers_add(&headers, "Content-Type", call->content_type, err)) != BK_OK)
        goto out;
    if (call->range != NULL && (rc = bk_http_headers_add(&headers, "Range", call->range, err)) != BK_OK)
        goto out;
    if (call->object_headers) {
        if (drv->sse != NULL &&
            (rc = bk_http_headers_add(&headers, "x-amz-server-side-encryption", drv->sse, err)) != BK_OK)
            goto out;
        if (drv->sse_kms_key_id != NULL &&
            (rc = bk_http_headers_add(&headers, "x-amz-server-side-encryption-aws-kms-key-id",
                                      drv->sse_kms_key_id, err)) != BK_OK)
            goto out;
        if (drv->storage_class != NULL &&
            (rc = bk_http_headers_add(&headers, "x-amz-storage-class", drv->storage_class, err)) != BK_OK)
            goto out;
    }
    /* credentials are fetched (and refreshed) before the request, so the sign callback
     * never blocks on STS while a connection is held */
    if ((rc = s3_creds_provider_get(&drv->creds, &creds, err)) != BK_OK) {
        bk_error_wrap(err, call->op);
        goto out;
    }
    sign_ctx.creds = &creds;
    sign_ctx.path = bk_buf_str(&path);
    sign_ctx.query = call->query;
    sign_ctx.region = drv->region;

    memset(&req, 0, sizeof(req));
    req.op = call->op;
    req.object = call->key != NULL ? call->key : call->label;
    req.method = call->method;
    req.url = bk_buf_str(&url);
    req.headers = &headers;
    req.sign = s3_sign_cb;
    req.sign_ctx = &sign_ctx;
    req.body = call->body;
    req.body_len = call->body_len;
    req.response_sink = call->sink;
    req.max_body_bytes = call->max_body_bytes;
    if ((rc = bk_http_do(drv->http, &req, resp, err)) != BK_OK)
        goto out;
    if (resp->status < 200 || resp->status >= 300) {
        char code[64], message[256];
        bool parsed = s3_xml_parse_error((const char *)resp->body.data, resp->body.len, code, sizeof(code),
                                         message, sizeof(message));
        rc = s3_error_from_reply(err, call, resp, parsed ? code : NULL, parsed ? message : NULL);
    }
out:
    s3_creds_clear(&creds);
    bk_buf_free(&path);
    bk_buf_free(&url);
    bk_buf_free(&host);
    bk_http_headers_free(&headers);
    return rc;
}

/*
 * The S3 driver: AWS S3 and S3-compatible stores (MinIO, Ceph RGW, R2, ...) over our own
 * SigV4 signing. Entry file: the ops table, open/close, and one function per operation
 * (HEAD, ListObjectsV2, ranged GET, PUT, multipart upload, DELETE, DeleteObjects).
 * Request plumbing is in s3_request.c, XML in s3_xml.c, credentials in s3_sts.c.
 */
#include "s3_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bk_log.h"
#include "bk_str.h"

#define S3_MAX_PARTS 10000
#define S3_XML_REPLY_CAP (8 * 1024 * 1024)

struct s3_upload {
    struct storage_upload base;      /* first */
    char *key;
    char *upload_id;
    char *query_id;                  /* "uploadId=<encoded>" */
    pthread_mutex_t lock;            /* guards etags and max_part */
    char **etags;                    /* [part_no - 1], quoted as S3 returned them */
    size_t etags_cap;
    unsigned max_part;
};

static struct s3_driver *s3_of(struct storage_driver *drv)
{
    return (struct s3_driver *)drv;
}

/* ---- open / close ---- */

static bool bucket_dns_compatible(const char *bucket, bool https)
{
    size_t n = strlen(bucket);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = bucket[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
        if (c == '.' && https)
            return false;   /* *.s3 wildcard certificates do not cover dotted names */
    }
    return bucket[0] != '-' && bucket[n - 1] != '-';
}

/* "https://host:port/base/" -> scheme, host, base path. */
static int s3_parse_endpoint(struct s3_driver *s3, const char *endpoint, struct bk_error *err)
{
    const char *sep = strstr(endpoint, "://");
    const char *host, *slash;
    int rc;
    size_t base_len;
    if (sep == NULL || !((sep - endpoint == 4 && strncasecmp(endpoint, "http", 4) == 0) ||
                         (sep - endpoint == 5 && strncasecmp(endpoint, "https", 5) == 0)))
        return bk_error_set(err, BK_EINVAL, "s3_open", "AWS_ENDPOINT",
                            "endpoint \"%s\" must start with http:// or https://", endpoint);
    host = sep + 3;
    slash = strchr(host, '/');
    if ((slash != NULL ? (size_t)(slash - host) : strlen(host)) == 0)
        return bk_error_set(err, BK_EINVAL, "s3_open", "AWS_ENDPOINT", "endpoint \"%s\" has no host", endpoint);
    if ((s3->scheme = strndup(endpoint, (size_t)(sep - endpoint))) == NULL ||
        (s3->host = strndup(host, slash != NULL ? (size_t)(slash - host) : strlen(host))) == NULL)
        return bk_error_set(err, BK_ENOMEM, "s3_open", NULL, "out of memory");
    for (char *p = s3->scheme; *p != '\0'; p++)
        *p = (char)(*p | 0x20);
    base_len = slash != NULL ? strlen(slash) : 0;
    while (base_len > 0 && slash[base_len - 1] == '/')
        base_len--;
    rc = BK_OK;
    if ((s3->base_path = strndup(slash != NULL ? slash : "", base_len)) == NULL)
        rc = bk_error_set(err, BK_ENOMEM, "s3_open", NULL, "out of memory");
    return rc;
}

static int dup_or_null(char **out, const char *text, struct bk_error *err)
{
    *out = NULL;
    return text != NULL && text[0] != '\0' ? bk_strdup(out, text, err) : BK_OK;
}

static void s3_close(struct storage_driver *drv)
{
    struct s3_driver *s3 = s3_of(drv);
    if (s3 == NULL)
        return;
    if (s3->creds_ready)
        s3_creds_provider_destroy(&s3->creds);
    bk_http_client_free(s3->http);
    free(s3->scheme);
    free(s3->host);
    free(s3->base_path);
    free(s3->bucket);
    free(s3->region);
    free(s3->sse);
    free(s3->sse_kms_key_id);
    free(s3->storage_class);
    free(s3);
}

static int s3_open(struct storage_driver **out, const struct storage_config *cfg, struct bk_error *err)
{
    struct s3_driver *s3 = calloc(1, sizeof(*s3));
    struct s3_creds_provider_opts copts;
    struct bk_http_opts http_opts = cfg->http;
    const char *region = cfg->s3_region != NULL && cfg->s3_region[0] != '\0' ? cfg->s3_region : "us-east-1";
    int rc;

    if (s3 == NULL)
        return bk_error_set(err, BK_ENOMEM, "s3_open", NULL, "out of memory");
    s3->base.ops = &storage_s3_ops;
    if (cfg->bucket == NULL || cfg->bucket[0] == '\0') {
        rc = bk_error_set(err, BK_EINVAL, "s3_open", NULL, "no bucket given (s3://bucket/prefix)");
        goto fail;
    }
    if ((rc = bk_strdup(&s3->bucket, cfg->bucket, err)) != BK_OK ||
        (rc = bk_strdup(&s3->region, region, err)) != BK_OK ||
        (rc = dup_or_null(&s3->sse, cfg->s3_sse, err)) != BK_OK ||
        (rc = dup_or_null(&s3->sse_kms_key_id, cfg->s3_sse_kms_key_id, err)) != BK_OK ||
        (rc = dup_or_null(&s3->storage_class, cfg->s3_storage_class, err)) != BK_OK)
        goto fail;
    if (s3->sse != NULL && strcmp(s3->sse, "AES256") != 0 && strcmp(s3->sse, "aws:kms") != 0) {
        rc = bk_error_set(err, BK_EINVAL, "s3_open", "WALG_S3_SSE",
                          "server-side encryption \"%s\" is not AES256 or aws:kms", s3->sse);
        goto fail;
    }
    if (cfg->s3_endpoint != NULL && cfg->s3_endpoint[0] != '\0') {
        rc = s3_parse_endpoint(s3, cfg->s3_endpoint, err);
    } else {
        char aws[128];
        snprintf(aws, sizeof(aws), "https://s3.%s.amazonaws.com%s", region,
                 strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
        rc = s3_parse_endpoint(s3, aws, err);
    }
    if (rc != BK_OK)
        goto fail;
    s3->path_style = cfg->s3_force_path_style ||
                     !bucket_dns_compatible(s3->bucket, strcmp(s3->scheme, "https") == 0);
    s3->batch_delete_configured = cfg->s3_batch_delete;
    http_opts.ca_file = cfg->ca_file != NULL ? cfg->ca_file : cfg->http.ca_file;
    if ((rc = bk_http_client_new(&s3->http, &http_opts, err)) != BK_OK)
        goto fail;
    memset(&copts, 0, sizeof(copts));
    copts.access_key_id = cfg->s3_access_key_id;
    copts.secret_access_key = cfg->s3_secret_access_key;
    copts.session_token = cfg->s3_session_token;
    copts.role_arn = cfg->s3_role_arn;
    copts.token_file = cfg->s3_web_identity_token_file;
    copts.sts_endpoint = cfg->s3_sts_endpoint;
    copts.region = region;
    copts.http = s3->http;
    if ((rc = s3_creds_provider_init(&s3->creds, &copts, err)) != BK_OK)
        goto fail;
    s3->creds_ready = true;
    if (cfg->s3_role_arn == NULL && cfg->s3_access_key_id == NULL)
        bk_log(BK_LOG_WARN, "s3_open", "no AWS credentials configured: requests to bucket \"%s\" are sent unsigned",
               s3->bucket);
    bk_log_debug("s3_open", "bucket \"%s\" at %s://%s%s (%s style, region %s)", s3->bucket, s3->scheme,
                 s3->host, s3->base_path, s3->path_style ? "path" : "virtual-host", s3->region);
    *out = &s3->base;
    return BK_OK;
fail:
    s3_close(&s3->base);
    return rc;
}

/* ---- reads ---- */

static int s3_stat(struct storage_driver *drv, const char *key, struct storage_stat *out,
                   struct bk_error *err)
{
    struct bk_http_response resp;
    struct s3_call call = { .op = "s3_head_object", .key = key, .method = "HEAD" };
    const char *v;
    int rc;

    bk_http_response_init(&resp);
    memset(out, 0, sizeof(*out));
    rc = s3_call_do(s3_of(drv), &call, &resp, err);
    if (rc != BK_OK) {
        if (resp.status == 404) {   /* HEAD has no body to name the error */
            bk_error_set(err, BK_ENOTFOUND, call.op, key, "object \"%s\" not found (HTTP 404)", key);
            err->http_status = 404;
            rc = BK_ENOTFOUND;
        }
        goto out;
    }
    if ((v = bk_http_headers_get(&resp.headers, "Content-Length")) == NULL ||
        bk_parse_int64(v, 0, INT64_MAX, "Content-Length", (int64_t *)&out->size, err) != BK_OK) {
        rc = bk_error_set(err, BK_EPROTO, call.op, key, "HEAD reply has no valid Content-Length");
        goto out;
    }
    if ((v = bk_http_headers_get(&resp.headers, "Last-Modified")) != NULL &&
        (rc = s3_parse_http_date(v, &out->mtime_us, err)) != BK_OK) {
        bk_error_wrap(err, key);
        goto out;
    }
    s3_etag_unquote(bk_http_headers_get(&resp.headers, "ETag"), out->etag, sizeof(out->etag));
out:
    bk_http_response_free(&resp);
    return rc;
}

static int query_add(struct bk_buf *q, const char *name, const char *value, struct bk_error *err)
{
    int rc = bk_buf_printf(q, err, "%s%s=", q->len > 0 ? "&" : "", name);
    return rc == BK_OK ? bk_uri_encode(q, value, false, err) : rc;
}

static int s3_list_page(struct storage_driver *drv, const char *prefix, const char *delimiter,
                        const char *token, struct storage_list_page *page, struct bk_error *err)
{
    struct s3_driver *s3 = s3_of(drv);
    struct bk_http_response resp;
    struct bk_buf query;
    struct s3_call call = { .op = "s3_list_objects", .method = "GET", .label = prefix,
                            .max_body_bytes = S3_XML_REPLY_CAP };
    int rc;

    bk_http_response_init(&resp);
    bk_buf_init(&query, 64 * 1024);
    if ((rc = query_add(&query, "list-type", "2", err)) != BK_OK ||
        (prefix != NULL && prefix[0] != '\0' && (rc = query_add(&query, "prefix", prefix, err)) != BK_OK) ||
        (delimiter != NULL && (rc = query_add(&query, "delimiter", delimiter, err)) != BK_OK) ||
        (token != NULL && (rc = query_add(&query, "continuation-token", token, err)) != BK_OK))
        goto out;
    call.query = bk_buf_str(&query);
    if ((rc = s3_call_do(s3, &call, &resp, err)) != BK_OK)
        goto out;
    rc = s3_xml_parse_list((const char *)resp.body.data, resp.body.len, page, err);
    if (rc != BK_OK)
        snprintf(err->object, sizeof(err->object), "%s", prefix != NULL ? prefix : "");
out:
    bk_buf_free(&query);
    bk_http_response_free(&resp);
    return rc;
}

static int s3_get(struct storage_driver *drv, const char *key, uint64_t offset, uint64_t length,
                  struct bk_sink *dst, uint64_t *delivered, struct bk_error *err)
{
    struct bk_http_response resp;
    struct s3_call call = { .op = "s3_get_object", .key = key, .method = "GET", .sink = dst };
    char range[64];
    int rc;

    bk_http_response_init(&resp);
    if (length > 0)
        snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)offset,
                 (unsigned long long)(offset + length - 1));
    else
        snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)offset);
    if (offset > 0 || length > 0)
        call.range = range;
    rc = s3_call_do(s3_of(drv), &call, &resp, err);
    *delivered = resp.body_bytes_to_sink;
    if (rc == BK_OK && call.range != NULL && resp.status != 206)
        rc = bk_error_set(err, BK_EPROTO, call.op, key,
                          "asked for %s but the server answered HTTP %ld without Content-Range", range,
                          resp.status);
    bk_http_response_free(&resp);
    return rc;
}

/* ---- writes ---- */

/* Compares the ETag S3 returned for a single PUT or a part with the MD5 we computed.
 * SSE-KMS objects (and some gateways) carry ETags that are not an MD5: only a 32-hex
 * ETag is compared. */
static int s3_check_etag(struct s3_driver *s3, const char *op, const char *key, unsigned part_no,
                         const char *etag_header, const char *md5_hex, struct bk_error *err)
{
    char etag[128];
    bool hex32 = true;
    s3_etag_unquote(etag_header, etag, sizeof(etag));
    if (strlen(etag) != 32)
        hex32 = false;
    for (size_t i = 0; hex32 && i < 32; i++)
        if (!((etag[i] >= '0' && etag[i] <= '9') || (etag[i] >= 'a' && etag[i] <= 'f') ||
              (etag[i] >= 'A' && etag[i] <= 'F')))
            hex32 = false;
    if (!hex32 || (s3->sse != NULL && strcmp(s3->sse, "aws:kms") == 0))
        return BK_OK;
    if (strcasecmp(etag, md5_hex) != 0) {
        char what[32] = "object";
        if (part_no > 0)
            snprintf(what, sizeof(what), "part %u", part_no);
        return bk_error_set(err, BK_ECORRUPT, op, key, "%s: stored ETag %s differs from the MD5 %s of the bytes sent",
                            what, etag, md5_hex);
    }
    return BK_OK;
}

static int s3_put_single(struct storage_driver *drv, const char *key, const void *data, size_t len,
                         const struct storage_put_opts *opts, struct bk_error *err)
{
    struct s3_driver *s3 = s3_of(drv);
    struct bk_http_response resp;
    struct s3_call call = { .op = "s3_put_object", .key = key, .method = "PUT", .body = data,
                            .body_len = len, .content_md5 = true, .object_headers = true };
    char md5_hex[33];
    int rc;

    call.content_type = opts != NULL && opts->content_type != NULL ? opts->content_type
                                                                    : "application/octet-stream";
    bk_http_response_init(&resp);
    s3_sign_content_md5(data, len, NULL, md5_hex);
    rc = s3_call_do(s3, &call, &resp, err);
    if (rc == BK_OK)
        rc = s3_check_etag(s3, call.op, key, 0, bk_http_headers_get(&resp.headers, "ETag"), md5_hex, err);
    bk_http_response_free(&resp);
    return rc;
}

static void s3_upload_free(struct s3_upload *up)
{
    if (up == NULL)
        return;
    for (size_t i = 0; i < up->etags_cap; i++)
        free(up->etags[i]);
    free(up->etags);
    free(up->key);
    free(up->upload_id);
    free(up->query_id);
    pthread_mutex_destroy(&up->lock);
    free(up);
}

static int s3_upload_begin(struct storage_driver *drv, const char *key, const struct storage_put_opts *opts,
                           struct storage_upload **out, struct bk_error *err)
{
    struct s3_driver *s3 = s3_of(drv);
    struct bk_http_response resp;
    struct bk_buf query;
    struct s3_call call = { .op = "s3_create_multipart_upload", .key = key, .method = "POST",
                            .query = "uploads", .object_headers = true };
    struct s3_upload *up = calloc(1, sizeof(*up));
    int rc;

    bk_http_response_init(&resp);
    bk_buf_init(&query, 8192);
    if (up == NULL)
        return bk_error_set(err, BK_ENOMEM, call.op, key, "out of memory");
    pthread_mutex_init(&up->lock, NULL);
    up->base.drv = drv;
    call.content_type = opts != NULL && opts->content_type != NULL ? opts->content_type
                                                                    : "application/octet-stream";
    if ((rc = bk_strdup(&up->key, key, err)) != BK_OK || (rc = s3_call_do(s3, &call, &resp, err)) != BK_OK)
        goto out;
    if ((rc = s3_xml_parse_upload_id((const char *)resp.body.data, resp.body.len, &up->upload_id, err)) != BK_OK) {
        snprintf(err->object, sizeof(err->object), "%s", key);
        goto out;
    }
    if ((rc = query_add(&query, "uploadId", up->upload_id, err)) != BK_OK)
        goto out;
    up->query_id = (char *)query.data;
    query.data = NULL;
    *out = &up->base;
out:
    bk_buf_free(&query);
    bk_http_response_free(&resp);
    if (rc != BK_OK)
        s3_upload_free(up);
    return rc;
}

static int s3_upload_part(struct storage_upload *upload, unsigned part_no, const void *data, size_t len,
                          bool is_last, struct bk_error *err)
{
    struct s3_upload *up = (struct s3_upload *)upload;
    struct s3_driver *s3 = s3_of(up->base.drv);
    struct bk_http_response resp;
    struct s3_call call = { .op = "s3_upload_part", .key = up->key, .method = "PUT", .body = data,
                            .body_len = len, .content_md5 = true };
    char query[1024], md5_hex[33], *etag = NULL;
    const char *etag_header;
    int rc;

    (void)is_last;
    if (part_no < 1 || part_no > S3_MAX_PARTS)
        return bk_error_set(err, BK_EINVAL, call.op, up->key, "part number %u is outside 1..%d", part_no,
                            S3_MAX_PARTS);
    snprintf(query, sizeof(query), "partNumber=%u&%s", part_no, up->query_id);
    call.query = query;
    bk_http_response_init(&resp);
    s3_sign_content_md5(data, len, NULL, md5_hex);
    if ((rc = s3_call_do(s3, &call, &resp, err)) != BK_OK)
        goto out;
    etag_header = bk_http_headers_get(&resp.headers, "ETag");
    if (etag_header == NULL || etag_header[0] == '\0') {
        rc = bk_error_set(err, BK_EPROTO, call.op, up->key, "part %u reply has no ETag", part_no);
        goto out;
    }
    if ((rc = s3_check_etag(s3, call.op, up->key, part_no, etag_header, md5_hex, err)) != BK_OK)
        goto out;
    if ((rc = bk_strdup(&etag, etag_header, err)) != BK_OK)
        goto out;
    pthread_mutex_lock(&up->lock);
    if (part_no > up->etags_cap) {
        size_t cap = up->etags_cap == 0 ? 64 : up->etags_cap;
        char **grown;
        while (cap < part_no)
            cap *= 2;
        grown = realloc(up->etags, cap * sizeof(*grown));
        if (grown == NULL) {
            pthread_mutex_unlock(&up->lock);
            rc = bk_error_set(err, BK_ENOMEM, call.op, up->key, "out of memory");
            goto out;
        }
        memset(grown + up->etags_cap, 0, (cap - up->etags_cap) * sizeof(*grown));
        up->etags = grown;
        up->etags_cap = cap;
    }
    free(up->etags[part_no - 1]);
    up->etags[part_no - 1] = etag;
    etag = NULL;
    if (part_no > up->max_part)
        up->max_part = part_no;
    pthread_mutex_unlock(&up->lock);
out:
    free(etag);
    bk_http_response_free(&resp);
    return rc;
}

static int s3_upload_complete(struct storage_upload *upload, struct bk_error *err)
{
    struct s3_upload *up = (struct s3_upload *)upload;
    struct s3_driver *s3 = s3_of(up->base.drv);
    struct bk_http_response resp;
    struct bk_buf body;
    struct s3_call call = { .op = "s3_complete_multipart_upload", .key = up->key, .method = "POST",
                            .query = up->query_id, .content_type = "application/xml",
                            .max_body_bytes = S3_XML_REPLY_CAP };
    char code[64], message[256];
    int rc;

    bk_http_response_init(&resp);
    bk_buf_init(&body, (size_t)S3_MAX_PARTS * 128 + 4096);
    pthread_mutex_lock(&up->lock);
    rc = up->max_part == 0 ? bk_error_set(err, BK_EINTERNAL, call.op, up->key, "no part was uploaded")
                           : bk_buf_append_str(&body, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">", err);
    for (unsigned i = 1; rc == BK_OK && i <= up->max_part; i++) {
        if (up->etags[i - 1] == NULL) {
            rc = bk_error_set(err, BK_EINTERNAL, call.op, up->key, "part %u of %u was never uploaded", i,
                              up->max_part);
            break;
        }
        rc = bk_buf_printf(&body, err, "<Part><PartNumber>%u</PartNumber><ETag>", i);
        if (rc == BK_OK)
            rc = s3_xml_escape(&body, up->etags[i - 1], err);
        if (rc == BK_OK)
            rc = bk_buf_append_str(&body, "</ETag></Part>", err);
    }
    pthread_mutex_unlock(&up->lock);
    if (rc != BK_OK || (rc = bk_buf_append_str(&body, "</CompleteMultipartUpload>", err)) != BK_OK)
        goto out;
    call.body = body.data;
    call.body_len = body.len;
    if ((rc = s3_call_do(s3, &call, &resp, err)) != BK_OK)
        goto out;
    /* S3 may answer 200 and report the failure in the body */
    if (s3_xml_parse_error((const char *)resp.body.data, resp.body.len, code, sizeof(code), message,
                           sizeof(message))) {
        rc = s3_error_from_reply(err, &call, &resp, code, message);
        goto out;
    }
out:
    bk_buf_free(&body);
    bk_http_response_free(&resp);
    if (rc == BK_OK)
        s3_upload_free(up);
    return rc;
}

static void s3_upload_abort(struct storage_upload *upload)
{
    struct s3_upload *up = (struct s3_upload *)upload;
    struct bk_http_response resp;
    struct bk_error err = BK_ERROR_INIT;
    struct s3_call call = { .op = "s3_abort_multipart_upload", .key = up->key, .method = "DELETE",
                            .query = up->query_id };
    bk_http_response_init(&resp);
    if (s3_call_do(s3_of(up->base.drv), &call, &resp, &err) != BK_OK && resp.status != 404)
        bk_log_error(BK_LOG_WARN, "s3_abort_multipart_upload", &err);
    bk_http_response_free(&resp);
    s3_upload_free(up);
}

/* ---- deletes ---- */

static int s3_remove(struct storage_driver *drv, const char *key, struct bk_error *err)
{
    struct bk_http_response resp;
    struct s3_call call = { .op = "s3_delete_object", .key = key, .method = "DELETE" };
    int rc;
    bk_http_response_init(&resp);
    rc = s3_call_do(s3_of(drv), &call, &resp, err);
    if (rc != BK_OK && resp.status == 404 && strcmp(err->server_code, "NoSuchBucket") != 0) {
        bk_error_clear(err);
        rc = BK_OK;
    }
    bk_http_response_free(&resp);
    return rc;
}

static int s3_remove_each(struct storage_driver *drv, const char *const *keys, size_t n_keys,
                          struct bk_error *err)
{
    for (size_t i = 0; i < n_keys; i++) {
        int rc = s3_remove(drv, keys[i], err);
        if (rc != BK_OK)
            return rc;
    }
    return BK_OK;
}

static int s3_remove_many(struct storage_driver *drv, const char *const *keys, size_t n_keys,
                          struct bk_error *err)
{
    struct s3_driver *s3 = s3_of(drv);
    struct bk_http_response resp;
    struct bk_buf body;
    struct s3_delete_failure failure;
    struct s3_call call = { .op = "s3_delete_objects", .method = "POST", .query = "delete",
                            .content_type = "application/xml", .content_md5 = true,
                            .max_body_bytes = S3_XML_REPLY_CAP };
    int rc = BK_OK;

    if (n_keys == 0)
        return BK_OK;
    if (!s3->batch_delete_configured || __atomic_load_n(&s3->batch_delete_off, __ATOMIC_ACQUIRE))
        return s3_remove_each(drv, keys, n_keys, err);
    if (n_keys > 1000)
        return bk_error_set(err, BK_EINVAL, call.op, keys[0], "%zu keys in one batch (at most 1000)", n_keys);
    call.label = keys[0];
    bk_http_response_init(&resp);
    bk_buf_init(&body, n_keys * 6200 + 1024);
    rc = bk_buf_append_str(&body, "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>", err);
    for (size_t i = 0; rc == BK_OK && i < n_keys; i++) {
        rc = bk_buf_append_str(&body, "<Object><Key>", err);
        if (rc == BK_OK)
            rc = s3_xml_escape(&body, keys[i], err);
        if (rc == BK_OK)
            rc = bk_buf_append_str(&body, "</Key></Object>", err);
    }
    if (rc != BK_OK || (rc = bk_buf_append_str(&body, "</Delete>", err)) != BK_OK)
        goto out;
    call.body = body.data;
    call.body_len = body.len;
    rc = s3_call_do(s3, &call, &resp, err);
    if (rc == BK_EUNSUPPORTED || (rc != BK_OK && resp.status == 501)) {
        if (!__atomic_exchange_n(&s3->batch_delete_off, 1, __ATOMIC_ACQ_REL))
            bk_log(BK_LOG_WARN, "s3_delete_objects",
                   "bucket \"%s\" does not implement DeleteObjects (HTTP %ld %s); deleting one key at a time",
                   s3->bucket, resp.status, err->server_code);
        bk_error_clear(err);
        rc = s3_remove_each(drv, keys, n_keys, err);
        goto out;
    }
    if (rc != BK_OK)
        goto out;
    if ((rc = s3_xml_parse_delete_result((const char *)resp.body.data, resp.body.len, &failure, err)) != BK_OK)
        goto out;
    if (failure.n_errors > 0) {
        struct bk_http_response as_error = resp;
        as_error.status = 200;
        rc = s3_error_from_reply(err, &(struct s3_call){ .op = call.op, .key = failure.key, .method = "POST" },
                                 &as_error, failure.code, failure.message);
        if (strcmp(failure.code, "NoSuchKey") == 0)
            rc = BK_OK;   /* a missing key counts as deleted */
        else
            bk_error_wrap(err, failure.n_errors > 1 ? "first of several failed deletes" : "delete failed");
        if (rc == BK_OK)
            bk_error_clear(err);
    }
out:
    bk_buf_free(&body);
    bk_http_response_free(&resp);
    return rc;
}

const struct storage_driver_ops storage_s3_ops = {
    .version = STORAGE_DRIVER_VERSION,
    .scheme = "s3",
    .features = STORAGE_FEAT_PARALLEL_PARTS | STORAGE_FEAT_BATCH_DELETE,
    .open = s3_open,
    .close = s3_close,
    .stat = s3_stat,
    .list_page = s3_list_page,
    .get = s3_get,
    .put_single = s3_put_single,
    .upload_begin = s3_upload_begin,
    .upload_part = s3_upload_part,
    .upload_complete = s3_upload_complete,
    .upload_abort = s3_upload_abort,
    .remove = s3_remove,
    .remove_many = s3_remove_many,
};

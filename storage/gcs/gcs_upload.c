/*
 * Uploads for the GCS driver: small objects in one media upload (uploadType=media), larger ones
 * as a resumable upload (uploadType=resumable: session URI from Location, chunks that are
 * multiples of 256 KiB, 308 Resume Incomplete with Range, status queries and resends from the
 * server's committed offset after a dropped connection, DELETE to cancel). Every finished object
 * is checked against the MD5 (else CRC32C) and size of what we sent; a mismatch deletes it.
 */
#include "gcs_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bk_crypto.h"
#include "bk_log.h"
#include "bk_str.h"

/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), byte-at-a-time table. */
static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
    0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
    0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
    0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
    0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
    0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
    0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
    0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
    0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
    0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
    0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
    0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
    0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
    0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
    0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
    0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
    0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
    0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
    0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
    0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
    0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
    0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
    0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
    0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
    0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
    0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
    0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
    0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
    0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
    0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
    0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
    0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
    0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t gcs_crc32c_update(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = crc32c_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

static void crc32c_base64(uint32_t crc, char out[16])
{
    uint8_t be[4] = { (uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc };
    bk_base64_encode(be, sizeof(be), out);
}

struct gcs_upload {
    struct storage_upload base;
    struct gcs_driver *d;
    char *key;
    char *session_uri;          /* a credential in itself; bk_http logs URLs without the query */
    uint64_t sent;              /* bytes of the parts accepted so far = next part's first byte */
    uint64_t committed;         /* bytes the server reported as persisted */
    EVP_MD_CTX *md5;            /* running MD5 of the parts, in order */
    uint32_t crc32c;
    bool finalized;
    struct gcs_object_info object;   /* the finished object, once finalized */
};

/* What we sent, to compare with the finished object. */
struct sent_object {
    const char *key;
    uint64_t size;
    uint8_t md5[BK_MD5_LEN];
    uint32_t crc32c;
};

/* Checks a finished object against what we sent; deletes it when it differs. */
static int verify_object(struct gcs_driver *d, const struct sent_object *sent,
                         const struct gcs_object_info *obj, struct bk_error *err)
{
    const char *key = sent->key;
    char md5_b64[32];
    char crc_b64[16];
    struct bk_error ignored = BK_ERROR_INIT;
    int rc = BK_OK;

    bk_base64_encode(sent->md5, BK_MD5_LEN, md5_b64);
    crc32c_base64(sent->crc32c, crc_b64);
    if (obj->size != sent->size)
        rc = bk_error_set(err, BK_ECORRUPT, "gcs_verify", key, "GCS stored %" PRIu64 " bytes for \"%s\" but we sent %" PRIu64,
                          obj->size, key, sent->size);
    else if (obj->md5_b64[0] != '\0' && strcmp(obj->md5_b64, md5_b64) != 0)
        rc = bk_error_set(err, BK_ECORRUPT, "gcs_verify", key, "GCS reports md5Hash %s for \"%s\" but we sent MD5 %s",
                          obj->md5_b64, key, md5_b64);
    else if (obj->md5_b64[0] == '\0' && obj->crc32c_b64[0] != '\0' && strcmp(obj->crc32c_b64, crc_b64) != 0)
        rc = bk_error_set(err, BK_ECORRUPT, "gcs_verify", key, "GCS reports crc32c %s for \"%s\" but we sent CRC32C %s",
                          obj->crc32c_b64, key, crc_b64);
    else if (obj->md5_b64[0] == '\0' && obj->crc32c_b64[0] == '\0')
        bk_log_debug("gcs_verify", "\"%s\": the server sent no md5Hash or crc32c; only the size was checked", key);
    if (rc == BK_ECORRUPT) {
        /* never leave an object that looks complete but holds other bytes */
        size_t used = strlen(err->message);
        if (gcs_remove(&d->base, key, &ignored) == BK_OK)
            snprintf(err->message + used, sizeof(err->message) - used, "; the object was deleted");
    }
    return rc;
}

/* ---- single request ---- */

int gcs_put_single(struct storage_driver *drv, const char *key, const void *data, size_t len,
                   const struct storage_put_opts *opts, struct bk_error *err)
{
    struct gcs_driver *d = (struct gcs_driver *)drv;
    struct bk_http_request req;
    struct bk_http_response resp;
    struct bk_http_headers headers;
    struct bk_buf query;
    struct gcs_object_info obj;
    struct sent_object sent;
    char md5_b64[32];
    char crc_b64[16];
    char hash[80];
    char *url = NULL;
    int rc;

    sent.key = key;
    sent.size = len;
    bk_md5(data, len, sent.md5);
    sent.crc32c = gcs_crc32c_update(0, data, len);
    bk_base64_encode(sent.md5, sizeof(sent.md5), md5_b64);
    crc32c_base64(sent.crc32c, crc_b64);
    snprintf(hash, sizeof(hash), "crc32c=%s,md5=%s", crc_b64, md5_b64);
    bk_http_response_init(&resp);
    bk_http_headers_init(&headers);
    bk_buf_init(&query, 16 * 1024);
    if ((rc = bk_buf_append_str(&query, "uploadType=media&name=", err)) != BK_OK ||
        (rc = bk_uri_encode(&query, key, false, err)) != BK_OK ||
        (rc = gcs_url(&url, d, "/upload/storage/v1", NULL, bk_buf_str(&query), err)) != BK_OK)
        goto out;
    if ((rc = bk_http_headers_add(&headers, "Content-Type",
                                  opts != NULL && opts->content_type != NULL ? opts->content_type : "application/octet-stream", err)) != BK_OK ||
        (rc = bk_http_headers_add(&headers, "X-Goog-Hash", hash, err)) != BK_OK)
        goto out;
    memset(&req, 0, sizeof(req));
    req.op = "gcs_put";
    req.object = key;
    req.method = "POST";
    req.url = url;
    req.headers = &headers;
    req.body = data;
    req.body_len = len;
    req.send_body = true;
    if ((rc = gcs_request(d, &req, &resp, err)) != BK_OK)
        goto out;
    if (resp.status != 200 && resp.status != 201) {
        rc = gcs_error_from_response(err, &req, &resp);
        goto out;
    }
    if ((rc = gcs_json_parse_object(&obj, (const char *)resp.body.data, resp.body.len, key, err)) != BK_OK)
        goto out;
    rc = verify_object(d, &sent, &obj, err);
out:
    bk_buf_free(&query);
    bk_http_headers_free(&headers);
    bk_http_response_free(&resp);
    free(url);
    return rc;
}

/* ---- resumable ---- */

static void upload_free(struct gcs_upload *u)
{
    if (u == NULL)
        return;
    EVP_MD_CTX_free(u->md5);
    bk_secret_free(u->session_uri);
    free(u->key);
    free(u);
}

int gcs_upload_begin(struct storage_driver *drv, const char *key,
                     const struct storage_put_opts *opts, struct storage_upload **out,
                     struct bk_error *err)
{
    struct gcs_driver *d = (struct gcs_driver *)drv;
    const char *ctype = opts != NULL && opts->content_type != NULL ? opts->content_type : "application/octet-stream";
    struct gcs_upload *u = NULL;
    struct bk_http_request req;
    struct bk_http_response resp;
    struct bk_http_headers headers;
    struct bk_buf query;
    struct bk_buf body;
    const char *location;
    char *url = NULL;
    int rc;

    bk_http_response_init(&resp);
    bk_http_headers_init(&headers);
    bk_buf_init(&query, 16 * 1024);
    bk_buf_init(&body, 16 * 1024);
    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "gcs_upload_begin", key, "out of memory");
        goto out;
    }
    u->base.drv = drv;
    u->d = d;
    if ((rc = bk_strdup(&u->key, key, err)) != BK_OK)
        goto out;
    u->md5 = EVP_MD_CTX_new();
    if (u->md5 == NULL || EVP_DigestInit_ex(u->md5, EVP_md5(), NULL) != 1) {
        rc = bk_error_set(err, BK_ENOMEM, "gcs_upload_begin", key, "cannot set up MD5");
        goto out;
    }
    if ((rc = bk_buf_append_str(&query, "uploadType=resumable&name=", err)) != BK_OK ||
        (rc = bk_uri_encode(&query, key, false, err)) != BK_OK ||
        (rc = gcs_url(&url, d, "/upload/storage/v1", NULL, bk_buf_str(&query), err)) != BK_OK)
        goto out;
    if ((rc = bk_buf_append_str(&body, "{\"name\":", err)) != BK_OK ||
        (rc = gcs_json_append_string(&body, key, err)) != BK_OK ||
        (rc = bk_buf_append_str(&body, ",\"contentType\":", err)) != BK_OK ||
        (rc = gcs_json_append_string(&body, ctype, err)) != BK_OK ||
        (rc = bk_buf_append_str(&body, "}", err)) != BK_OK)
        goto out;
    if ((rc = bk_http_headers_add(&headers, "Content-Type", "application/json; charset=UTF-8", err)) != BK_OK ||
        (rc = bk_http_headers_add(&headers, "X-Upload-Content-Type", ctype, err)) != BK_OK)
        goto out;
    memset(&req, 0, sizeof(req));
    req.op = "gcs_upload_begin";
    req.object = key;
    req.method = "POST";
    req.url = url;
    req.headers = &headers;
    req.body = body.data;
    req.body_len = body.len;
    if ((rc = gcs_request(d, &req, &resp, err)) != BK_OK)
        goto out;
    if (resp.status != 200 && resp.status != 201) {
        rc = gcs_error_from_response(err, &req, &resp);
        goto out;
    }
    location = bk_http_headers_get(&resp.headers, "Location");
    if (location == NULL || (strncmp(location, "https://", 8) != 0 && strncmp(location, "http://", 7) != 0)) {
        rc = bk_error_set(err, BK_EPROTO, "gcs_upload_begin", key, "resumable upload of \"%s\" got no session URI (Location)", key);
        goto out;
    }
    if ((rc = bk_strdup(&u->session_uri, location, err)) != BK_OK)
        goto out;
    *out = &u->base;
    u = NULL;
out:
    upload_free(u);
    bk_buf_free(&body);
    bk_buf_free(&query);
    bk_http_headers_free(&headers);
    bk_http_response_free(&resp);
    free(url);
    return rc;
}

/* Committed byte count from a 308 reply: "Range: bytes=0-N" means N+1, no Range means 0. */
static int parse_committed(const struct bk_http_response *resp, const char *key, uint64_t *out,
                           struct bk_error *err)
{
    const char *range = bk_http_headers_get(&resp->headers, "Range");
    unsigned long long last;
    char *end = NULL;
    if (range == NULL) {
        *out = 0;
        return BK_OK;
    }
    if (strncmp(range, "bytes=0-", 8) != 0 || range[8] < '0' || range[8] > '9')
        return bk_error_set(err, BK_EPROTO, "gcs_upload_part", key, "unexpected Range \"%.40s\" in a 308 reply for \"%s\"", range, key);
    last = strtoull(range + 8, &end, 10);
    if (*end != '\0' && *end != '\r' && *end != ' ')
        return bk_error_set(err, BK_EPROTO, "gcs_upload_part", key, "unexpected Range \"%.40s\" in a 308 reply for \"%s\"", range, key);
    *out = (uint64_t)last + 1;
    return BK_OK;
}

/* The part being sent: bytes [start, end) of the object; is_last closes the upload. */
struct part_span {
    uint64_t start;
    uint64_t end;
    bool is_last;
};

/* Applies a 308 or 2xx reply for the part to the upload state. */
static int apply_reply(struct gcs_upload *u, const struct bk_http_response *resp,
                       const struct part_span *span, struct bk_error *err)
{
    uint64_t committed = 0;
    int rc;
    if (resp->status == 200 || resp->status == 201) {
        if (!span->is_last)
            return bk_error_set(err, BK_EPROTO, "gcs_upload_part", u->key,
                                "GCS finished the upload of \"%s\" before its last part was sent", u->key);
        if ((rc = gcs_json_parse_object(&u->object, (const char *)resp->body.data, resp->body.len, u->key, err)) != BK_OK)
            return rc;
        u->finalized = true;
        u->committed = u->object.size;
        return BK_OK;
    }
    if ((rc = parse_committed(resp, u->key, &committed, err)) != BK_OK)
        return rc;
    if (committed < span->start || committed > span->end)
        return bk_error_set(err, BK_EPROTO, "gcs_upload_part", u->key,
                            "GCS reports %" PRIu64 " bytes persisted for \"%s\", outside the part we sent (bytes %" PRIu64 "-%" PRIu64 "); data was lost",
                            committed, u->key, span->start, span->end);
    u->committed = committed;
    return BK_OK;
}

/* One PUT to the session URI: a chunk, a finalize or a status query. req is filled for error
 * reporting (its headers are gone once session_put returns). */
struct session_put {
    const char *op;
    char content_range[96];
    char goog_hash[80];         /* "" = no X-Goog-Hash */
    const void *body;
    size_t body_len;
    bool http_retries;          /* status queries only: chunks are resent by gcs_upload_part */
    struct bk_http_request req;
};

static int session_put(struct gcs_upload *u, struct session_put *sp, struct bk_http_response *resp,
                       struct bk_error *err)
{
    struct bk_http_headers headers;
    int rc;
    bk_http_headers_init(&headers);
    if ((rc = bk_http_headers_add(&headers, "Content-Range", sp->content_range, err)) != BK_OK ||
        (sp->goog_hash[0] != '\0' && (rc = bk_http_headers_add(&headers, "X-Goog-Hash", sp->goog_hash, err)) != BK_OK))
        goto out;
    memset(&sp->req, 0, sizeof(sp->req));
    sp->req.op = sp->op;
    sp->req.object = u->key;
    sp->req.method = "PUT";
    sp->req.url = u->session_uri;
    sp->req.headers = &headers;
    sp->req.body = sp->body;
    sp->req.body_len = sp->body_len;
    sp->req.send_body = true;
    sp->req.no_retry = !sp->http_retries;
    rc = gcs_request(u->d, &sp->req, resp, err);
out:
    sp->req.headers = NULL;
    bk_http_headers_free(&headers);
    return rc;
}

/* Sends the rest of the part from the server's committed offset: Content-Range "bytes a-b/N",
 * N being "*" for middle parts and the total for the last one ("bytes * /<total>" with no body
 * when only the finalize is missing). */
static int send_chunk(struct gcs_upload *u, const uint8_t *part, const struct part_span *span,
                      struct session_put *sp, struct bk_http_response *resp, struct bk_error *err)
{
    uint64_t first = u->committed;
    size_t len = (size_t)(span->end - first);
    char total[32] = "*";
    memset(sp, 0, sizeof(*sp));
    sp->op = "gcs_upload_part";
    sp->body = part + (first - span->start);
    sp->body_len = len;
    if (span->is_last)
        snprintf(total, sizeof(total), "%" PRIu64, span->end);
    if (len == 0)
        snprintf(sp->content_range, sizeof(sp->content_range), "bytes */%s", total);
    else
        snprintf(sp->content_range, sizeof(sp->content_range), "bytes %" PRIu64 "-%" PRIu64 "/%s",
                 first, span->end - 1, total);
    if (span->is_last) {
        /* the final request carries the whole object's checksums, as GCS's own clients do */
        uint8_t md5[BK_MD5_LEN];
        char md5_b64[32];
        char crc_b64[16];
        unsigned int n = 0;
        EVP_MD_CTX *copy = EVP_MD_CTX_new();
        if (copy != NULL && EVP_MD_CTX_copy_ex(copy, u->md5) == 1 && EVP_DigestFinal_ex(copy, md5, &n) == 1) {
            bk_base64_encode(md5, sizeof(md5), md5_b64);
            crc32c_base64(u->crc32c, crc_b64);
            snprintf(sp->goog_hash, sizeof(sp->goog_hash), "crc32c=%s,md5=%s", crc_b64, md5_b64);
        }
        EVP_MD_CTX_free(copy);
    }
    return session_put(u, sp, resp, err);
}

static bool status_retryable(long status)
{
    return status == 408 || status == 429 || status >= 500;
}

/* Asks the session how much it has (after a failed chunk): an empty PUT, "bytes * / *". */
static int query_status(struct gcs_upload *u, const struct part_span *span, struct bk_error *err)
{
    struct bk_http_response resp;
    struct session_put sp;
    int rc;
    bk_http_response_init(&resp);
    memset(&sp, 0, sizeof(sp));
    sp.op = "gcs_upload_status";
    snprintf(sp.content_range, sizeof(sp.content_range), "bytes */*");
    sp.http_retries = true;
    rc = session_put(u, &sp, &resp, err);
    if (rc == BK_OK) {
        if (resp.status == 308 || resp.status == 200 || resp.status == 201)
            rc = apply_reply(u, &resp, span, err);
        else
            rc = gcs_error_from_response(err, &sp.req, &resp);
    }
    bk_http_response_free(&resp);
    return rc;
}

int gcs_upload_part(struct storage_upload *up, unsigned part_no, const void *data, size_t len,
                    bool is_last, struct bk_error *err)
{
    struct gcs_upload *u = (struct gcs_upload *)up;
    struct gcs_driver *d = u->d;
    struct part_span span = { u->sent, u->sent + len, is_last };
    int failures = 0;
    int rc = BK_OK;

    if (u->finalized || u->committed != span.start)
        return bk_error_set(err, BK_EINTERNAL, "gcs_upload_part", u->key,
                            "part %u of \"%s\" sent out of order (server has %" PRIu64 " bytes, part starts at %" PRIu64 ")",
                            part_no, u->key, u->committed, span.start);
    if (!is_last && len % GCS_CHUNK_GRANULE_BYTES != 0)
        return bk_error_set(err, BK_EINVAL, "gcs_upload_part", u->key,
                            "part %u of \"%s\" has %zu bytes; GCS needs multiples of 256 KiB before the last part", part_no, u->key, len);
    if (len > 0)
        EVP_DigestUpdate(u->md5, data, len);
    u->crc32c = gcs_crc32c_update(u->crc32c, data, len);

    /* a middle part is done when all its bytes are persisted; the last when the object exists */
    while (!u->finalized && !(!is_last && u->committed == span.end)) {
        struct bk_http_response resp;
        struct session_put sp;
        uint64_t before = u->committed;
        bool failed;

        bk_http_response_init(&resp);
        rc = send_chunk(u, data, &span, &sp, &resp, err);
        if (rc == BK_OK && (resp.status == 308 || resp.status == 200 || resp.status == 201)) {
            rc = apply_reply(u, &resp, &span, err);
            /* a 308 that moved nothing forward counts as a failed attempt */
            failed = rc == BK_OK && !u->finalized && u->committed == before && u->committed != span.end;
            if (failed)
                bk_error_set(err, BK_EPROTO, "gcs_upload_part", u->key, "GCS accepted none of bytes %" PRIu64 "-%" PRIu64 " of \"%s\"",
                             before, span.end, u->key);
        } else if (rc == BK_OK) {
            rc = gcs_error_from_response(err, &sp.req, &resp);
            failed = status_retryable(resp.status);
        } else {
            failed = err->retryable;   /* dropped connection, timeout; not a token failure */
        }
        bk_http_response_free(&resp);
        if (!failed) {
            if (rc != BK_OK)
                return rc;
            continue;
        }
        if (++failures >= d->max_attempts) {
            size_t used = strlen(err->message);
            snprintf(err->message + used, sizeof(err->message) - used, " (part %u, after %d attempts)", part_no, failures);
            return err->code != BK_OK ? err->code : BK_EPROTO;
        }
        bk_log(BK_LOG_WARN, "gcs_upload_retry", "part %u of \"%s\" at byte %" PRIu64 ": %s; checking the session and resending (attempt %d of %d)",
               part_no, u->key, u->committed, err->message, failures + 1, d->max_attempts);
        gcs_backoff_sleep(d, failures);
        rc = query_status(u, &span, err);
        if (rc != BK_OK && !err->retryable)
            return rc;
        bk_error_clear(err);
    }
    u->sent = span.end;
    return BK_OK;
}

int gcs_upload_complete(struct storage_upload *up, struct bk_error *err)
{
    struct gcs_upload *u = (struct gcs_upload *)up;
    struct sent_object sent;
    unsigned int n = 0;
    int rc;
    if (!u->finalized) {
        /* no part was flagged last: close the session at the bytes sent so far */
        if ((rc = gcs_upload_part(up, 0, NULL, 0, true, err)) != BK_OK)
            return rc;
    }
    sent.key = u->key;
    sent.size = u->sent;
    sent.crc32c = u->crc32c;
    if (EVP_DigestFinal_ex(u->md5, sent.md5, &n) != 1)
        return bk_error_set(err, BK_EINTERNAL, "gcs_upload_complete", u->key, "MD5 finalisation failed");
    EVP_DigestInit_ex(u->md5, EVP_md5(), NULL);   /* leave it usable should abort follow */
    rc = verify_object(u->d, &sent, &u->object, err);
    if (rc != BK_OK)
        return rc;
    bk_log_debug("gcs_upload", "uploaded \"%s\": %" PRIu64 " bytes, md5Hash %s", u->key, u->sent, u->object.md5_b64);
    upload_free(u);
    return BK_OK;
}

void gcs_upload_abort(struct storage_upload *up)
{
    struct gcs_upload *u = (struct gcs_upload *)up;
    if (u == NULL)
        return;
    if (u->session_uri != NULL && !u->finalized) {
        /* the session URI is the credential; GCS answers 499 to a cancelled session */
        struct bk_http_request req;
        struct bk_http_response resp;
        struct bk_error ignored = BK_ERROR_INIT;
        bk_http_response_init(&resp);
        memset(&req, 0, sizeof(req));
        req.op = "gcs_upload_abort";
        req.object = u->key;
        req.method = "DELETE";
        req.url = u->session_uri;
        req.no_retry = true;
        if (bk_http_do(u->d->http, &req, &resp, &ignored) == BK_OK && resp.status != 499 &&
            resp.status != 204 && resp.status != 200 && resp.status != 404 && resp.status != 410)
            bk_log(BK_LOG_WARN, "gcs_upload_abort", "cancelling the upload of \"%s\" returned HTTP %ld", u->key, resp.status);
        bk_http_response_free(&resp);
    }
    upload_free(u);
}

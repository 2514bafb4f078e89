/*
 * AWS Signature Version 4 over bk_crypto (OpenSSL): canonical request, string to sign,
 * signing key and Authorization header. Pure computation with no clock and no I/O, so the
 * AWS test-suite vectors can be replayed exactly (tests/unit/s3_sign_test.c). The driver
 * decides which headers are signed; this file only canonicalises what it is given.
 */
#include "s3_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bk_crypto.h"
#include "bk_str.h"

#define SIGN_ALGORITHM "AWS4-HMAC-SHA256"

struct sign_header {
    char *name;      /* lowercase */
    char *value;     /* trimmed, inner runs of spaces collapsed */
    size_t order;    /* input position: keeps duplicates in order when sorting */
};

struct sign_param {
    char *name;      /* encoded */
    char *value;     /* encoded */
};

void s3_sign_output_init(struct s3_sign_output *out)
{
    bk_buf_init(&out->canonical_request, 1024 * 1024);
    bk_buf_init(&out->string_to_sign, 4096);
    bk_buf_init(&out->signed_headers, 64 * 1024);
    bk_buf_init(&out->authorization, 64 * 1024);
    out->signature[0] = '\0';
}

void s3_sign_output_free(struct s3_sign_output *out)
{
    if (out == NULL)
        return;
    bk_buf_free(&out->canonical_request);
    bk_buf_free(&out->string_to_sign);
    bk_buf_free(&out->signed_headers);
    bk_buf_free(&out->authorization);
}

void s3_sign_format_amz_date(int64_t unix_s, char out[17])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void s3_sign_payload_hash(const void *data, size_t len, char out[65])
{
    uint8_t digest[BK_SHA256_LEN];
    bk_sha256(data != NULL ? data : "", len, digest);
    bk_hex_encode(digest, sizeof(digest), out);
}

void s3_sign_content_md5(const void *data, size_t len, char b64_out[25], char hex_out[33])
{
    uint8_t digest[BK_MD5_LEN];
    bk_md5(data != NULL ? data : "", len, digest);
    if (b64_out != NULL)
        bk_base64_encode(digest, sizeof(digest), b64_out);
    if (hex_out != NULL)
        bk_hex_encode(digest, sizeof(digest), hex_out);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes in text[0..len) and re-encodes every byte that is not unreserved
 * (and not '/' when keep_slash), upper-case hex: the SigV4 UriEncode of the decoded value. */
static int sign_uri_canonical(struct bk_buf *out, const char *text, size_t len, bool keep_slash,
                              struct bk_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        int rc;
        if (c == '%' && i + 2 < len && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            c = (unsigned char)(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        }
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            rc = bk_buf_append(out, &c, 1, err);
        } else {
            char enc[3] = { '%', hex[c >> 4], hex[c & 0xf] };
            rc = bk_buf_append(out, enc, 3, err);
        }
        if (rc != BK_OK)
            return rc;
    }
    return BK_OK;
}

static int sign_strdup_canonical(char **out, const char *text, size_t len, struct bk_error *err)
{
    struct bk_buf buf;
    int rc;
    bk_buf_init(&buf, 64 * 1024);
    rc = sign_uri_canonical(&buf, text, len, false, err);
    if (rc == BK_OK)
        rc = bk_buf_append(&buf, "", 0, err);   /* make sure data is allocated */
    if (rc != BK_OK) {
        bk_buf_free(&buf);
        return rc;
    }
    *out = (char *)buf.data;
    return BK_OK;
}

static int param_cmp(const void *a, const void *b)
{
    const struct sign_param *pa = a, *pb = b;
    int c = strcmp(pa->name, pb->name);
    return c != 0 ? c : strcmp(pa->value, pb->value);
}

static int sign_canonical_query(struct bk_buf *out, const char *query, struct bk_error *err)
{
    struct sign_param *params = NULL;
    size_t n = 0, cap = 0;
    int rc = BK_OK;
    const char *p = query != NULL ? query : "";

    while (*p != '\0') {
        size_t seg = strcspn(p, "&");
        if (seg > 0) {
            const char *eq = memchr(p, '=', seg);
            size_t name_len = eq != NULL ? (size_t)(eq - p) : seg;
            if (n == cap) {
                size_t new_cap = cap == 0 ? 8 : cap * 2;
                struct sign_param *grown = realloc(params, new_cap * sizeof(*grown));
                if (grown == NULL) {
                    rc = bk_error_set(err, BK_ENOMEM, "s3_sign", NULL, "out of memory");
                    goto out;
                }
                params = grown;
                cap = new_cap;
            }
            params[n].name = NULL;
            params[n].value = NULL;
            n++;
            if ((rc = sign_strdup_canonical(&params[n - 1].name, p, name_len, err)) != BK_OK)
                goto out;
            if (eq != NULL)
                rc = sign_strdup_canonical(&params[n - 1].value, eq + 1, seg - name_len - 1, err);
            else
                rc = sign_strdup_canonical(&params[n - 1].value, "", 0, err);
            if (rc != BK_OK)
                goto out;
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    if (n > 1)
        qsort(params, n, sizeof(*params), param_cmp);
    for (size_t i = 0; i < n; i++) {
        if ((rc = bk_buf_printf(out, err, "%s%s=%s", i > 0 ? "&" : "", params[i].name,
                                params[i].value)) != BK_OK)
            goto out;
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(params[i].name);
        free(params[i].value);
    }
    free(params);
    return rc;
}

static int header_cmp(const void *a, const void *b)
{
    const struct sign_header *ha = a, *hb = b;
    int c = strcmp(ha->name, hb->name);
    if (c != 0)
        return c;
    return ha->order < hb->order ? -1 : (ha->order > hb->order ? 1 : 0);
}

/* "Name:  a   b  " -> name "name", value "a b". */
static int header_split(struct sign_header *h, const char *line, size_t order, struct bk_error *err)
{
    const char *colon = strchr(line, ':');
    const char *v;
    size_t name_len, w = 0;
    if (colon == NULL || colon == line)
        return bk_error_set(err, BK_EINVAL, "s3_sign", NULL, "header line without a name");
    name_len = (size_t)(colon - line);
    while (name_len > 0 && (line[name_len - 1] == ' ' || line[name_len - 1] == '\t'))
        name_len--;
    h->order = order;
    h->name = malloc(name_len + 1);
    h->value = malloc(strlen(colon + 1) + 1);
    if (h->name == NULL || h->value == NULL)
        return bk_error_set(err, BK_ENOMEM, "s3_sign", NULL, "out of memory");
    for (size_t i = 0; i < name_len; i++)
        h->name[i] = (char)tolower((unsigned char)line[i]);
    h->name[name_len] = '\0';
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    for (; *v != '\0'; v++) {
        char c = *v == '\t' ? ' ' : *v;
        if (c == '\r' || c == '\n')
            c = ' ';
        if (c == ' ' && (w == 0 || h->value[w - 1] == ' '))
            continue;
        h->value[w++] = c;
    }
    while (w > 0 && h->value[w - 1] == ' ')
        w--;
    h->value[w] = '\0';
    return BK_OK;
}

static int sign_canonical_headers(struct bk_buf *creq, struct bk_buf *signed_headers,
                                  const struct bk_http_headers *headers, struct bk_error *err)
{
    size_t n = headers != NULL ? headers->len : 0;
    struct sign_header *list = NULL;
    int rc = BK_OK;
    bool first = true;

    if (n == 0)
        return bk_error_set(err, BK_EINVAL, "s3_sign", NULL, "no headers to sign (host is required)");
    list = calloc(n, sizeof(*list));
    if (list == NULL)
        return bk_error_set(err, BK_ENOMEM, "s3_sign", NULL, "out of memory");
    for (size_t i = 0; i < n; i++)
        if ((rc = header_split(&list[i], headers->lines[i], i, err)) != BK_OK)
            goto out;
    qsort(list, n, sizeof(*list), header_cmp);
    for (size_t i = 0; i < n; i++) {
        bool same_as_prev = i > 0 && strcmp(list[i].name, list[i - 1].name) == 0;
        if (same_as_prev) {
            rc = bk_buf_printf(creq, err, ",%s", list[i].value);
        } else {
            if (i > 0 && (rc = bk_buf_append_str(creq, "\n", err)) != BK_OK)
                goto out;
            rc = bk_buf_printf(creq, err, "%s:%s", list[i].name, list[i].value);
            if (rc == BK_OK)
                rc = bk_buf_printf(signed_headers, err, "%s%s", first ? "" : ";", list[i].name);
            first = false;
        }
        if (rc != BK_OK)
            goto out;
    }
    rc = bk_buf_append_str(creq, "\n", err);
out:
    for (size_t i = 0; i < n; i++) {
        free(list[i].name);
        free(list[i].value);
    }
    free(list);
    return rc;
}

static bool amz_date_valid(const char *d)
{
    if (d == NULL || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)d[i]))
            return false;
    return true;
}

int s3_sign_compute(struct s3_sign_output *out, const struct s3_sign_input *in, struct bk_error *err)
{
    uint8_t digest[BK_SHA256_LEN];
    uint8_t key[BK_SHA256_LEN];
    uint8_t next[BK_SHA256_LEN];
    char creq_hex[65];
    char date[9];
    char *k_secret = NULL;
    size_t secret_len;
    int rc;
    const char *path = in->path != NULL && in->path[0] != '\0' ? in->path : "/";

    bk_buf_reset(&out->canonical_request);
    bk_buf_reset(&out->string_to_sign);
    bk_buf_reset(&out->signed_headers);
    bk_buf_reset(&out->authorization);
    if (!amz_date_valid(in->amz_date))
        return bk_error_set(err, BK_EINVAL, "s3_sign", NULL, "bad x-amz-date \"%s\"",
                            in->amz_date != NULL ? in->amz_date : "");
    if (in->access_key_id == NULL || in->secret_access_key == NULL)
        return bk_error_set(err, BK_EAUTH, "s3_sign", NULL, "no credentials to sign with");
    memcpy(date, in->amz_date, 8);
    date[8] = '\0';

    /* 1. canonical request */
    if ((rc = bk_buf_printf(&out->canonical_request, err, "%s\n", in->method)) != BK_OK ||
        (rc = sign_uri_canonical(&out->canonical_request, path, strlen(path), true, err)) != BK_OK ||
        (rc = bk_buf_append_str(&out->canonical_request, "\n", err)) != BK_OK ||
        (rc = sign_canonical_query(&out->canonical_request, in->query, err)) != BK_OK ||
        (rc = bk_buf_append_str(&out->canonical_request, "\n", err)) != BK_OK ||
        (rc = sign_canonical_headers(&out->canonical_request, &out->signed_headers, in->headers,
                                     err)) != BK_OK ||
        (rc = bk_buf_printf(&out->canonical_request, err, "\n%s\n%s", bk_buf_str(&out->signed_headers),
                            in->payload_hash)) != BK_OK)
        return rc;

    /* 2. string to sign */
    bk_sha256(out->canonical_request.data, out->canonical_request.len, digest);
    bk_hex_encode(digest, sizeof(digest), creq_hex);
    if ((rc = bk_buf_printf(&out->string_to_sign, err, SIGN_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s",
                            in->amz_date, date, in->region, in->service, creq_hex)) != BK_OK)
        return rc;

    /* 3. signing key and signature; the key material is wiped afterwards */
    secret_len = strlen(in->secret_access_key) + 4;
    k_secret = malloc(secret_len + 1);
    if (k_secret == NULL)
        return bk_error_set(err, BK_ENOMEM, "s3_sign", NULL, "out of memory");
    snprintf(k_secret, secret_len + 1, "AWS4%s", in->secret_access_key);
    bk_hmac_sha256(k_secret, secret_len, date, strlen(date), key);
    bk_secret_free(k_secret);
    bk_hmac_sha256(key, sizeof(key), in->region, strlen(in->region), next);
    bk_hmac_sha256(next, sizeof(next), in->service, strlen(in->service), key);
    bk_hmac_sha256(key, sizeof(key), "aws4_request", 12, next);
    bk_hmac_sha256(next, sizeof(next), out->string_to_sign.data, out->string_to_sign.len, digest);
    memset(key, 0, sizeof(key));
    memset(next, 0, sizeof(next));
    bk_hex_encode(digest, sizeof(digest), out->signature);

    /* 4. Authorization header value */
    return bk_buf_printf(&out->authorization, err,
                         SIGN_ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                         in->access_key_id, date, in->region, in->service,
                         bk_buf_str(&out->signed_headers), out->signature);
}

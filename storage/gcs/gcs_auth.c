/*
 * Access tokens for the GCS driver: from a service-account JSON key (an RS256 JWT signed with
 * OpenSSL EVP and exchanged at the key's token_uri, RFC 7523 jwt-bearer grant) or, without a key
 * file, from the GCE/GKE metadata server. Tokens are cached and refreshed 5 minutes before they
 * expire; one mutex serialises fetches. Keys, JWTs and tokens never reach logs or error texts.
 */
#include "gcs_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "bk_crypto.h"
#include "bk_log.h"
#include "bk_str.h"

#define KEY_FILE_MAX_BYTES (64 * 1024)
#define TOKEN_REPLY_MAX_BYTES (64 * 1024)

/* ---- service-account key ---- */

void gcs_service_account_clear(struct gcs_service_account *sa)
{
    if (sa == NULL)
        return;
    free(sa->client_email);
    bk_secret_free(sa->private_key_pem);
    free(sa->token_uri);
    memset(sa, 0, sizeof(*sa));
}

static const char *json_str(struct json_object *obj, const char *name)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int gcs_service_account_parse(struct gcs_service_account *out, const char *json, size_t len,
                              const char *what, struct bk_error *err)
{
    struct json_tokener *tok = NULL;
    struct json_object *obj = NULL;
    const char *type;
    const char *email;
    const char *key;
    const char *uri;
    int rc = BK_OK;

    memset(out, 0, sizeof(*out));
    tok = json_tokener_new();
    if (tok == NULL)
        return bk_error_set(err, BK_ENOMEM, "gcs_credentials", what, "out of memory");
    if (len <= KEY_FILE_MAX_BYTES)
        obj = json_tokener_parse_ex(tok, json, (int)len);
    if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
        rc = bk_error_set(err, BK_EINVAL, "gcs_credentials", what, "credentials file \"%s\" is not a JSON object", what);
        goto out;
    }
    type = json_str(obj, "type");
    if (type != NULL && strcmp(type, "service_account") != 0) {
        rc = bk_error_set(err, BK_EUNSUPPORTED, "gcs_credentials", what,
                          "credentials file \"%s\" has type \"%.40s\"; only \"service_account\" keys are supported", what, type);
        goto out;
    }
    email = json_str(obj, "client_email");
    key = json_str(obj, "private_key");
    uri = json_str(obj, "token_uri");
    if (email == NULL || email[0] == '\0') {
        rc = bk_error_set(err, BK_EINVAL, "gcs_credentials", what, "credentials file \"%s\" has no \"client_email\"", what);
        goto out;
    }
    if (key == NULL || strstr(key, "-----BEGIN") == NULL) {
        rc = bk_error_set(err, BK_EINVAL, "gcs_credentials", what, "credentials file \"%s\" has no PEM \"private_key\"", what);
        goto out;
    }
    if (uri != NULL && strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0) {
        rc = bk_error_set(err, BK_EINVAL, "gcs_credentials", what, "credentials file \"%s\" has a \"token_uri\" that is not an http(s) URL", what);
        goto out;
    }
    if ((rc = bk_strdup(&out->client_email, email, err)) != BK_OK ||
        (rc = bk_strdup(&out->private_key_pem, key, err)) != BK_OK ||
        (rc = bk_strdup(&out->token_uri, uri != NULL ? uri : GCS_DEFAULT_TOKEN_URI, err)) != BK_OK)
        goto out;
out:
    if (obj != NULL) {
        /* json-c holds its own copy of the key; wipe it before the object is freed */
        key = json_str(obj, "private_key");
        if (key != NULL)
            OPENSSL_cleanse((char *)key, strlen(key));
        json_object_put(obj);
    }
    json_tokener_free(tok);
    if (rc != BK_OK)
        gcs_service_account_clear(out);
    return rc;
}

int gcs_service_account_load(struct gcs_service_account *out, const char *path,
                             struct bk_error *err)
{
    FILE *f = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = BK_OK;

    memset(out, 0, sizeof(*out));
    f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        return bk_error_set_errno(err, e, "gcs_credentials", path, "cannot open credentials file \"%s\"", path);
    }
    text = malloc(KEY_FILE_MAX_BYTES + 1);
    if (text == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "gcs_credentials", path, "out of memory");
        goto out;
    }
    len = fread(text, 1, KEY_FILE_MAX_BYTES + 1, f);
    if (ferror(f)) {
        rc = bk_error_set(err, BK_EIO, "gcs_credentials", path, "cannot read credentials file \"%s\"", path);
        goto out;
    }
    if (len > KEY_FILE_MAX_BYTES) {
        rc = bk_error_set(err, BK_EINVAL, "gcs_credentials", path, "credentials file \"%s\" is larger than %d bytes", path, KEY_FILE_MAX_BYTES);
        goto out;
    }
    rc = gcs_service_account_parse(out, text, len, path, err);
out:
    if (text != NULL) {
        OPENSSL_cleanse(text, KEY_FILE_MAX_BYTES + 1);
        free(text);
    }
    fclose(f);
    return rc;
}

/* ---- JWT ---- */

static int append_b64url(struct bk_buf *out, const void *data, size_t len, struct bk_error *err)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *enc = malloc(cap);
    int rc;
    if (enc == NULL)
        return bk_error_set(err, BK_ENOMEM, "gcs_jwt", NULL, "out of memory");
    size_t n = bk_base64url_encode(data, len, enc);
    rc = bk_buf_append(out, enc, n, err);
    free(enc);
    return rc;
}

int gcs_jwt_build(char **out, const struct gcs_service_account *sa, int64_t iat_s,
                  struct bk_error *err)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    struct bk_buf claims;
    struct bk_buf jwt;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    int rc;

    *out = NULL;
    bk_buf_init(&claims, 16 * 1024);
    bk_buf_init(&jwt, 32 * 1024);
    if ((rc = bk_buf_append_str(&claims, "{\"iss\":", err)) != BK_OK ||
        (rc = gcs_json_append_string(&claims, sa->client_email, err)) != BK_OK ||
        (rc = bk_buf_append_str(&claims, ",\"scope\":", err)) != BK_OK ||
        (rc = gcs_json_append_string(&claims, GCS_SCOPE_READ_WRITE, err)) != BK_OK ||
        (rc = bk_buf_append_str(&claims, ",\"aud\":", err)) != BK_OK ||
        (rc = gcs_json_append_string(&claims, sa->token_uri, err)) != BK_OK ||
        (rc = bk_buf_printf(&claims, err, ",\"iat\":%lld,\"exp\":%lld}", (long long)iat_s,
                            (long long)(iat_s + GCS_JWT_LIFETIME_S))) != BK_OK)
        goto out;
    if ((rc = append_b64url(&jwt, header, strlen(header), err)) != BK_OK ||
        (rc = bk_buf_append(&jwt, ".", 1, err)) != BK_OK ||
        (rc = append_b64url(&jwt, claims.data, claims.len, err)) != BK_OK)
        goto out;

    bio = BIO_new_mem_buf(sa->private_key_pem, -1);
    if (bio == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "gcs_jwt", sa->client_email, "out of memory");
        goto out;
    }
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (pkey == NULL || EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
        rc = bk_error_set(err, BK_EINVAL, "gcs_jwt", sa->client_email,
                          "the private_key of \"%s\" is not a PEM RSA private key", sa->client_email);
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_DigestSign(md, NULL, &sig_len, jwt.data, jwt.len) != 1) {
        rc = bk_error_set(err, BK_EINTERNAL, "gcs_jwt", sa->client_email, "cannot set up RS256 signing");
        goto out;
    }
    sig = malloc(sig_len);
    if (sig == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "gcs_jwt", sa->client_email, "out of memory");
        goto out;
    }
    if (EVP_DigestSign(md, sig, &sig_len, jwt.data, jwt.len) != 1) {
        rc = bk_error_set(err, BK_EINTERNAL, "gcs_jwt", sa->client_email, "RS256 signing failed");
        goto out;
    }
    if ((rc = bk_buf_append(&jwt, ".", 1, err)) != BK_OK ||
        (rc = append_b64url(&jwt, sig, sig_len, err)) != BK_OK)
        goto out;
    rc = bk_strdup(out, (const char *)jwt.data, err);
out:
    ERR_clear_error();
    free(sig);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    if (jwt.data != NULL)
        OPENSSL_cleanse(jwt.data, jwt.len);
    bk_buf_free(&jwt);
    bk_buf_free(&claims);
    return rc;
}

/* ---- token replies ---- */

int gcs_token_parse(char **token_out, int64_t *expires_in_s, const char *body, size_t len,
                    const char *source, struct bk_error *err)
{
    struct json_tokener *tok = NULL;
    struct json_object *obj = NULL;
    struct json_object *v;
    const char *token;
    const char *type;
    int64_t expires;
    int rc = BK_OK;

    *token_out = NULL;
    *expires_in_s = 0;
    tok = json_tokener_new();
    if (tok == NULL)
        return bk_error_set(err, BK_ENOMEM, "gcs_token", source, "out of memory");
    if (body != NULL && len > 0 && len <= TOKEN_REPLY_MAX_BYTES)
        obj = json_tokener_parse_ex(tok, body, (int)len);
    if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
        rc = bk_error_set(err, BK_EPROTO, "gcs_token", source, "token reply from %s is not a JSON object", source);
        goto out;
    }
    token = json_str(obj, "access_token");
    if (token == NULL || token[0] == '\0') {
        rc = bk_error_set(err, BK_EPROTO, "gcs_token", source, "token reply from %s has no \"access_token\"", source);
        goto out;
    }
    for (const char *p = token; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            rc = bk_error_set(err, BK_EPROTO, "gcs_token", source, "token reply from %s has an \"access_token\" with invalid characters", source);
            goto out;
        }
    }
    if (!json_object_object_get_ex(obj, "expires_in", &v) || !json_object_is_type(v, json_type_int) ||
        (expires = json_object_get_int64(v)) <= 0) {
        rc = bk_error_set(err, BK_EPROTO, "gcs_token", source, "token reply from %s has no positive integer \"expires_in\"", source);
        goto out;
    }
    type = json_str(obj, "token_type");
    if (type != NULL && strcasecmp(type, "Bearer") != 0) {
        rc = bk_error_set(err, BK_EPROTO, "gcs_token", source, "token reply from %s has token_type \"%.20s\", not \"Bearer\"", source, type);
        goto out;
    }
    if ((rc = bk_strdup(token_out, token, err)) != BK_OK)
        goto out;
    *expires_in_s = expires;
out:
    if (obj != NULL) {
        token = json_str(obj, "access_token");
        if (token != NULL)
            OPENSSL_cleanse((char *)token, strlen(token));
        json_object_put(obj);
    }
    json_tokener_free(tok);
    return rc;
}

/* ---- the cached token source ---- */

struct gcs_auth {
    pthread_mutex_t lock;
    struct bk_http_client *http;
    struct gcs_service_account sa;     /* client_email NULL = metadata server */
    char *metadata_token_url;
    int64_t (*now_s)(void);
    char *token;                       /* secret */
    int64_t refresh_at_s;              /* fetch a new token from this time on */
    unsigned fetches;
};

static int64_t wall_clock_s(void)
{
    return (int64_t)time(NULL);
}

int gcs_auth_new(struct gcs_auth **out, const struct gcs_auth_opts *opts, struct bk_error *err)
{
    struct gcs_auth *a = calloc(1, sizeof(*a));
    const char *meta = opts->metadata_url != NULL && opts->metadata_url[0] != '\0' ? opts->metadata_url : GCS_DEFAULT_METADATA_URL;
    size_t meta_len;
    int rc = BK_OK;

    if (a == NULL)
        return bk_error_set(err, BK_ENOMEM, "gcs_auth", NULL, "out of memory");
    a->http = opts->http;
    a->now_s = opts->now_s != NULL ? opts->now_s : wall_clock_s;
    if (opts->credentials_file != NULL && opts->credentials_file[0] != '\0') {
        if ((rc = gcs_service_account_load(&a->sa, opts->credentials_file, err)) != BK_OK)
            goto fail;
    } else {
        meta_len = strlen(meta);
        while (meta_len > 0 && meta[meta_len - 1] == '/')
            meta_len--;
        a->metadata_token_url = malloc(meta_len + sizeof(GCS_METADATA_TOKEN_PATH));
        if (a->metadata_token_url == NULL) {
            rc = bk_error_set(err, BK_ENOMEM, "gcs_auth", NULL, "out of memory");
            goto fail;
        }
        memcpy(a->metadata_token_url, meta, meta_len);
        memcpy(a->metadata_token_url + meta_len, GCS_METADATA_TOKEN_PATH, sizeof(GCS_METADATA_TOKEN_PATH));
    }
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return BK_OK;
fail:
    gcs_service_account_clear(&a->sa);
    free(a);
    return rc;
}

void gcs_auth_free(struct gcs_auth *auth)
{
    if (auth == NULL)
        return;
    pthread_mutex_destroy(&auth->lock);
    gcs_service_account_clear(&auth->sa);
    free(auth->metadata_token_url);
    bk_secret_free(auth->token);
    free(auth);
}

/* Turns a failed token reply into BK_EAUTH (rejected credentials) or another code. */
static int token_http_error(struct bk_error *err, const char *source, const char *who,
                            const struct bk_http_response *resp)
{
    struct gcs_error_body body;
    int code = bk_http_status_to_code(resp->status);
    if (resp->status == 400 || resp->status == 401 || resp->status == 403 || resp->status == 404)
        code = BK_EAUTH;
    gcs_json_parse_error(&body, (const char *)resp->body.data, resp->body.len);
    bk_error_set(err, code, "gcs_token", who, "token request to %s for \"%s\" failed: HTTP %ld%s%s%s%s",
                 source, who, resp->status, body.reason[0] ? " " : "", body.reason,
                 body.message[0] ? ": " : "", body.message);
    err->http_status = (int)resp->status;
    snprintf(err->server_code, sizeof(err->server_code), "%s", body.reason);
    return code;
}

/* Fetches a new token into a->token. Called with a->lock held. */
static int auth_fetch(struct gcs_auth *a, struct bk_error *err)
{
    struct bk_http_headers headers;
    struct bk_http_response resp;
    struct bk_buf form;
    struct bk_http_request req;
    char *jwt = NULL;
    char *token = NULL;
    char source[512];
    const char *who;
    int64_t now = a->now_s();
    int64_t expires_in = 0;
    int rc;

    bk_http_headers_init(&headers);
    bk_http_response_init(&resp);
    bk_buf_init(&form, 64 * 1024);
    memset(&req, 0, sizeof(req));
    req.headers = &headers;
    req.max_body_bytes = TOKEN_REPLY_MAX_BYTES;
    if (a->sa.client_email != NULL) {
        who = a->sa.client_email;
        bk_http_url_for_log(a->sa.token_uri, source, sizeof(source));
        if ((rc = gcs_jwt_build(&jwt, &a->sa, now, err)) != BK_OK)
            goto out;
        if ((rc = bk_buf_append_str(&form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=", err)) != BK_OK ||
            (rc = bk_buf_append_str(&form, jwt, err)) != BK_OK ||
            (rc = bk_http_headers_add(&headers, "Content-Type", "application/x-www-form-urlencoded", err)) != BK_OK)
            goto out;
        req.op = "gcs_token";
        req.object = who;
        req.method = "POST";
        req.url = a->sa.token_uri;
        req.body = form.data;
        req.body_len = form.len;
    } else {
        who = "default service account";
        bk_http_url_for_log(a->metadata_token_url, source, sizeof(source));
        if ((rc = bk_http_headers_add(&headers, "Metadata-Flavor", "Google", err)) != BK_OK)
            goto out;
        req.op = "gcs_metadata_token";
        req.object = who;
        req.method = "GET";
        req.url = a->metadata_token_url;
    }
    rc = bk_http_do(a->http, &req, &resp, err);
    if (rc != BK_OK) {
        if (a->sa.client_email == NULL) {
            char cause[sizeof(err->message)];
            snprintf(cause, sizeof(cause), "%s", err->message);
            rc = bk_error_set(err, BK_EAUTH, "gcs_metadata_token", who,
                              "no GCS credentials: no key file is configured and the metadata server %s did not answer (%s)",
                              source, cause);
            bk_error_set_hint(err, "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file");
        }
        goto out;
    }
    if (resp.status != 200) {
        rc = token_http_error(err, source, who, &resp);
        goto out;
    }
    if ((rc = gcs_token_parse(&token, &expires_in, (const char *)resp.body.data, resp.body.len, source, err)) != BK_OK)
        goto out;
    bk_secret_free(a->token);
    a->token = token;
    token = NULL;
    /* refresh 5 minutes early, or halfway through a token that lives less than 10 minutes */
    a->refresh_at_s = now + (expires_in > 2 * GCS_TOKEN_REFRESH_MARGIN_S ? expires_in - GCS_TOKEN_REFRESH_MARGIN_S : expires_in / 2);
    a->fetches++;
    bk_log_debug("gcs_token", "fetched an access token for \"%s\" from %s, valid for %lld s", who, source, (long long)expires_in);
out:
    if (form.data != NULL)
        OPENSSL_cleanse(form.data, form.len);
    bk_buf_free(&form);
    bk_secret_free(jwt);
    bk_secret_free(token);
    if (resp.body.data != NULL)
        OPENSSL_cleanse(resp.body.data, resp.body.len);
    bk_http_response_free(&resp);
    bk_http_headers_free(&headers);
    return rc;
}

int gcs_auth_sign(void *ctx, const struct bk_http_request *req, struct bk_http_headers *extra,
                  struct bk_error *err)
{
    struct gcs_auth *a = ctx;
    int rc = BK_OK;
    (void)req;
    pthread_mutex_lock(&a->lock);
    if (a->token == NULL || a->now_s() >= a->refresh_at_s)
        rc = auth_fetch(a, err);
    if (rc == BK_OK) {
        size_t len = strlen(a->token) + sizeof("Bearer ");
        char *value = malloc(len);
        if (value == NULL) {
            rc = bk_error_set(err, BK_ENOMEM, "gcs_auth", NULL, "out of memory");
        } else {
            snprintf(value, len, "Bearer %s", a->token);
            rc = bk_http_headers_add(extra, "Authorization", value, err);
            bk_secret_free(value);
        }
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

void gcs_auth_invalidate(struct gcs_auth *auth)
{
    pthread_mutex_lock(&auth->lock);
    bk_secret_free(auth->token);
    auth->token = NULL;
    pthread_mutex_unlock(&auth->lock);
}

unsigned gcs_auth_fetch_count(struct gcs_auth *auth)
{
    unsigned n;
    pthread_mutex_lock(&auth->lock);
    n = auth->fetches;
    pthread_mutex_unlock(&auth->lock);
    return n;
}

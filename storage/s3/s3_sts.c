/*
 * Credentials for the S3 driver: static keys (with an optional session token) or IRSA web
 * identity, where the Kubernetes-projected token file is exchanged at STS with
 * AssumeRoleWithWebIdentity (an unsigned form POST) for temporary keys. Those are cached
 * and refreshed S3_CREDS_REFRESH_MARGIN_S before they expire; one mutex serialises refresh.
 * No secret is ever put into an error message or a log line.
 */
#include "s3_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_log.h"
#include "bk_str.h"
#include "bk_time.h"

#define STS_TOKEN_MAX_BYTES (64 * 1024)

void s3_creds_clear(struct s3_creds *creds)
{
    if (creds == NULL)
        return;
    free(creds->access_key_id);
    bk_secret_free(creds->secret_access_key);
    bk_secret_free(creds->session_token);
    memset(creds, 0, sizeof(*creds));
}

int s3_creds_copy(struct s3_creds *dst, const struct s3_creds *src, struct bk_error *err)
{
    memset(dst, 0, sizeof(*dst));
    dst->expires_us = src->expires_us;
    if ((src->access_key_id != NULL && (dst->access_key_id = strdup(src->access_key_id)) == NULL) ||
        (src->secret_access_key != NULL &&
         (dst->secret_access_key = strdup(src->secret_access_key)) == NULL) ||
        (src->session_token != NULL && (dst->session_token = strdup(src->session_token)) == NULL)) {
        s3_creds_clear(dst);
        return bk_error_set(err, BK_ENOMEM, "s3_credentials", NULL, "out of memory");
    }
    return BK_OK;
}

static int dup_opt(char **out, const char *text, struct bk_error *err)
{
    *out = NULL;
    return text != NULL ? bk_strdup(out, text, err) : BK_OK;
}

int s3_creds_provider_init(struct s3_creds_provider *p, const struct s3_creds_provider_opts *opts,
                           struct bk_error *err)
{
    int rc;
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->http = opts->http;
    if (opts->role_arn != NULL) {
        char url[512];
        char name[64];
        if (opts->token_file == NULL) {
            rc = bk_error_set(err, BK_EINVAL, "s3_open", "AWS_WEB_IDENTITY_TOKEN_FILE",
                              "a role ARN needs a web identity token file");
            goto fail;
        }
        p->web_identity = true;
        if (opts->sts_endpoint != NULL)
            snprintf(url, sizeof(url), "%s", opts->sts_endpoint);
        else
            snprintf(url, sizeof(url), "https://sts.%s.amazonaws.com/",
                     opts->region != NULL ? opts->region : "us-east-1");
        snprintf(name, sizeof(name), "backupd-%lld", (long long)(bk_time_now_us() / 1000000));
        if ((rc = bk_strdup(&p->role_arn, opts->role_arn, err)) != BK_OK ||
            (rc = bk_strdup(&p->token_file, opts->token_file, err)) != BK_OK ||
            (rc = bk_strdup(&p->sts_url, url, err)) != BK_OK ||
            (rc = bk_strdup(&p->session_name, name, err)) != BK_OK)
            goto fail;
        return BK_OK;
    }
    if ((rc = dup_opt(&p->current.access_key_id, opts->access_key_id, err)) != BK_OK ||
        (rc = dup_opt(&p->current.secret_access_key, opts->secret_access_key, err)) != BK_OK ||
        (rc = dup_opt(&p->current.session_token, opts->session_token, err)) != BK_OK)
        goto fail;
    return BK_OK;
fail:
    s3_creds_provider_destroy(p);
    return rc;
}

void s3_creds_provider_destroy(struct s3_creds_provider *p)
{
    if (p == NULL)
        return;
    s3_creds_clear(&p->current);
    free(p->role_arn);
    free(p->token_file);
    free(p->sts_url);
    free(p->session_name);
    p->role_arn = p->token_file = p->sts_url = p->session_name = NULL;
    pthread_mutex_destroy(&p->lock);
}

/* Reads the projected service-account token (re-read at each refresh: kubelet rotates it). */
static int sts_read_token(struct bk_buf *token, const char *path, struct bk_error *err)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    int rc = BK_OK;
    if (f == NULL)
        return bk_error_set_errno(err, errno, "s3_sts_assume_role", path,
                                  "cannot open web identity token file \"%s\"", path);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if ((rc = bk_buf_append(token, chunk, n, err)) != BK_OK)
            break;
    if (rc == BK_OK && ferror(f))
        rc = bk_error_set_errno(err, errno, "s3_sts_assume_role", path,
                                "cannot read web identity token file \"%s\"", path);
    fclose(f);
    if (rc == BK_ENOMEM)
        return bk_error_set(err, BK_EINVAL, "s3_sts_assume_role", path,
                            "web identity token file \"%s\" is larger than %d bytes", path,
                            STS_TOKEN_MAX_BYTES);
    while (rc == BK_OK && token->len > 0 &&
           (token->data[token->len - 1] == '\n' || token->data[token->len - 1] == '\r' ||
            token->data[token->len - 1] == ' '))
        token->data[--token->len] = '\0';
    if (rc == BK_OK && token->len == 0)
        rc = bk_error_set(err, BK_EAUTH, "s3_sts_assume_role", path,
                          "web identity token file \"%s\" is empty", path);
    return rc;
}

static int sts_form_add(struct bk_buf *form, const char *name, const char *value, struct bk_error *err)
{
    int rc = bk_buf_printf(form, err, "%s%s=", form->len > 0 ? "&" : "", name);
    return rc == BK_OK ? bk_uri_encode(form, value, false, err) : rc;
}

static bool sts_auth_code(const char *code)
{
    static const char *codes[] = { "InvalidIdentityToken", "ExpiredTokenException", "AccessDenied",
                                   "IDPRejectedClaim", "InvalidClientTokenId", "IDPCommunicationError" };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/* One AssumeRoleWithWebIdentity call; on success *out holds the new credentials. */
static int sts_assume_role(struct s3_creds_provider *p, struct s3_creds *out, struct bk_error *err)
{
    struct bk_buf token, form;
    struct bk_http_headers headers;
    struct bk_http_response resp;
    struct bk_http_request req;
    int rc;

    bk_buf_init(&token, STS_TOKEN_MAX_BYTES);
    bk_buf_init(&form, 2 * STS_TOKEN_MAX_BYTES);
    bk_http_headers_init(&headers);
    bk_http_response_init(&resp);
    if ((rc = sts_read_token(&token, p->token_file, err)) != BK_OK)
        goto out;
    if ((rc = sts_form_add(&form, "Action", "AssumeRoleWithWebIdentity", err)) != BK_OK ||
        (rc = sts_form_add(&form, "Version", "2011-06-15", err)) != BK_OK ||
        (rc = sts_form_add(&form, "RoleArn", p->role_arn, err)) != BK_OK ||
        (rc = sts_form_add(&form, "RoleSessionName", p->session_name, err)) != BK_OK ||
        (rc = sts_form_add(&form, "WebIdentityToken", bk_buf_str(&token), err)) != BK_OK)
        goto out;
    if ((rc = bk_http_headers_add(&headers, "Content-Type", "application/x-www-form-urlencoded", err)) != BK_OK ||
        (rc = bk_http_headers_add(&headers, "Accept", "application/xml", err)) != BK_OK)
        goto out;
    memset(&req, 0, sizeof(req));
    req.op = "s3_sts_assume_role";
    req.object = p->role_arn;
    req.method = "POST";
    req.url = p->sts_url;
    req.headers = &headers;
    req.body = form.data;
    req.body_len = form.len;
    if ((rc = bk_http_do(p->http, &req, &resp, err)) != BK_OK)
        goto out;
    if (resp.status < 200 || resp.status >= 300) {
        char code[64], message[256];
        bool parsed = s3_xml_parse_error((const char *)resp.body.data, resp.body.len, code,
                                         sizeof(code), message, sizeof(message));
        rc = bk_http_error_from_response(err, &req, &resp, parsed ? code : NULL,
                                         parsed ? message : NULL);
        if (parsed && sts_auth_code(code)) {
            rc = err->code = BK_EAUTH;
            err->retryable = false;
        }
        goto out;
    }
    rc = s3_xml_parse_sts_creds((const char *)resp.body.data, resp.body.len, out, err);
out:
    /* the token and the form carry the identity token: wipe before freeing */
    if (token.data != NULL)
        memset(token.data, 0, token.cap);
    if (form.data != NULL)
        memset(form.data, 0, form.cap);
    if (resp.body.data != NULL)
        memset(resp.body.data, 0, resp.body.cap);
    bk_buf_free(&token);
    bk_buf_free(&form);
    bk_http_headers_free(&headers);
    bk_http_response_free(&resp);
    return rc;
}

int s3_creds_provider_get(struct s3_creds_provider *p, struct s3_creds *out, struct bk_error *err)
{
    int rc = BK_OK;
    pthread_mutex_lock(&p->lock);
    if (p->web_identity &&
        (p->current.access_key_id == NULL ||
         bk_time_now_us() + (int64_t)S3_CREDS_REFRESH_MARGIN_S * 1000000 >= p->current.expires_us)) {
        struct s3_creds fresh;
        rc = sts_assume_role(p, &fresh, err);
        if (rc == BK_OK) {
            s3_creds_clear(&p->current);
            p->current = fresh;
            p->refreshes++;
            bk_log_debug("s3_credentials", "assumed role %s with web identity; credentials expire in %lld s",
                         p->role_arn, (long long)((fresh.expires_us - bk_time_now_us()) / 1000000));
        }
    }
    if (rc == BK_OK)
        rc = s3_creds_copy(out, &p->current, err);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

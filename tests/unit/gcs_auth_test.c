/*
 * GCS access tokens (storage/gcs/gcs_auth.c): the RS256 JWT for a fixed time (header and claims
 * byte for byte, signature verified with the public half of a key generated for the run, and
 * refused by another key), service-account key parsing, token-reply parsing with clear BK_EPROTO
 * errors, and the cached token source against a scripted local HTTP responder (one fetch per
 * lifetime, refresh 5 minutes early, re-fetch after invalidate, metadata-server mode, errors).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../storage/gcs/gcs_internal.h"
#include "bk_crypto.h"
#include "bk_str.h"

#define EMAIL "backup@proj-1.iam.gserviceaccount.com"
#define GOOGLE_TOKEN_URI "https://oauth2.googleapis.com/token"
#define IAT 1700000000
/* base64url of {"alg":"RS256","typ":"JWT"} and of the claims below, computed independently */
#define HEADER_B64 "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
#define CLAIMS_JSON "{\"iss\":\"backup@proj-1.iam.gserviceaccount.com\",\"scope\":\"https://www.googleapis.com/auth/devstorage.read_write\",\"aud\":\"https://oauth2.googleapis.com/token\",\"iat\":1700000000,\"exp\":1700003600}"
#define CLAIMS_B64 "eyJpc3MiOiJiYWNrdXBAcHJvai0xLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwic2NvcGUiOiJodHRwczovL3d3dy5nb29nbGVhcGlzLmNvbS9hdXRoL2RldnN0b3JhZ2UucmVhZF93cml0ZSIsImF1ZCI6Imh0dHBzOi8vb2F1dGgyLmdvb2dsZWFwaXMuY29tL3Rva2VuIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9"

static EVP_PKEY *test_key;       /* generated once per run; never written to disk */
static EVP_PKEY *other_key;
static char *test_key_pem;

static char *pem_of(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    char *copy;
    long n;
    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(bio, &data);
    copy = strndup(data, (size_t)n);
    BIO_free(bio);
    return copy;
}

static void keys_setup(void)
{
    test_key = EVP_RSA_gen(2048);
    other_key = EVP_RSA_gen(2048);
    ck_assert_ptr_nonnull(test_key);
    ck_assert_ptr_nonnull(other_key);
    test_key_pem = pem_of(test_key);
}

static void keys_teardown(void)
{
    EVP_PKEY_free(test_key);
    EVP_PKEY_free(other_key);
    free(test_key_pem);
}

static struct gcs_service_account make_sa(const char *email, const char *uri)
{
    struct gcs_service_account sa;
    sa.client_email = (char *)email;
    sa.private_key_pem = test_key_pem;
    sa.token_uri = (char *)uri;
    return sa;
}

/* base64url (no padding) -> bytes, through the standard decoder */
static size_t b64url_decode(const char *text, size_t len, uint8_t *out, size_t out_cap)
{
    char std[4096];
    size_t n = 0;
    size_t got = 0;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_uint_lt(len + 4, sizeof(std));
    for (size_t i = 0; i < len; i++)
        std[n++] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
    while (n % 4 != 0)
        std[n++] = '=';
    std[n] = '\0';
    ck_assert_int_eq(bk_base64_decode(std, out, out_cap, &got, &err), BK_OK);
    return got;
}

static int verify_jwt(const char *jwt, EVP_PKEY *key)
{
    const char *last_dot = strrchr(jwt, '.');
    uint8_t sig[1024];
    size_t sig_len = b64url_decode(last_dot + 1, strlen(last_dot + 1), sig, sizeof(sig));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok;
    ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    ok = EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)jwt, (size_t)(last_dot - jwt));
    EVP_MD_CTX_free(md);
    return ok;
}

START_TEST(test_jwt_exact_and_verifies)
{
    struct gcs_service_account sa = make_sa(EMAIL, GOOGLE_TOKEN_URI);
    struct bk_error err = BK_ERROR_INIT;
    char *jwt = NULL;
    const char *dot1;
    const char *dot2;
    uint8_t claims[1024];
    size_t claims_len;

    ck_assert_int_eq(gcs_jwt_build(&jwt, &sa, IAT, &err), BK_OK);
    dot1 = strchr(jwt, '.');
    dot2 = strchr(dot1 + 1, '.');
    ck_assert_ptr_nonnull(dot2);
    ck_assert_ptr_null(strchr(dot2 + 1, '.'));
    ck_assert_int_eq((int)(dot1 - jwt), (int)strlen(HEADER_B64));
    ck_assert_int_eq(strncmp(jwt, HEADER_B64 ".", strlen(HEADER_B64) + 1), 0);
    ck_assert_int_eq((int)(dot2 - dot1 - 1), (int)strlen(CLAIMS_B64));
    ck_assert_int_eq(strncmp(dot1 + 1, CLAIMS_B64 ".", strlen(CLAIMS_B64) + 1), 0);
    claims_len = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), claims, sizeof(claims) - 1);
    claims[claims_len] = '\0';
    ck_assert_str_eq((const char *)claims, CLAIMS_JSON);
    /* base64url alphabet, no padding, and a 2048-bit signature (342 chars) */
    ck_assert_ptr_null(strpbrk(jwt, "+/= "));
    ck_assert_int_eq((int)strlen(dot2 + 1), 342);
    ck_assert_int_eq(verify_jwt(jwt, test_key), 1);
    ck_assert_int_eq(verify_jwt(jwt, other_key), 0);
    /* a changed claim no longer matches the signature */
    jwt[strlen(HEADER_B64) + 5] ^= 1;
    ck_assert_int_eq(verify_jwt(jwt, test_key), 0);
    bk_secret_free(jwt);
}
END_TEST

START_TEST(test_jwt_escapes_and_token_uri)
{
    struct gcs_service_account sa = make_sa("we\"ird@x", "http://127.0.0.1:4443/token");
    struct bk_error err = BK_ERROR_INIT;
    char *jwt = NULL;
    uint8_t claims[1024];
    size_t n;
    const char *dot1;
    const char *dot2;
    ck_assert_int_eq(gcs_jwt_build(&jwt, &sa, 1, &err), BK_OK);
    dot1 = strchr(jwt, '.');
    dot2 = strchr(dot1 + 1, '.');
    n = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), claims, sizeof(claims) - 1);
    claims[n] = '\0';
    ck_assert_str_eq((const char *)claims,
                     "{\"iss\":\"we\\\"ird@x\",\"scope\":\"https://www.googleapis.com/auth/devstorage.read_write\","
                     "\"aud\":\"http://127.0.0.1:4443/token\",\"iat\":1,\"exp\":3601}");
    ck_assert_int_eq(verify_jwt(jwt, test_key), 1);
    bk_secret_free(jwt);
}
END_TEST

START_TEST(test_jwt_rejects_non_rsa_keys)
{
    struct gcs_service_account sa = make_sa(EMAIL, GOOGLE_TOKEN_URI);
    struct bk_error err = BK_ERROR_INIT;
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    char *ec_pem = pem_of(ec);
    char *jwt = (char *)"untouched";

    sa.private_key_pem = (char *)"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    ck_assert_int_eq(gcs_jwt_build(&jwt, &sa, IAT, &err), BK_EINVAL);
    ck_assert_ptr_null(jwt);
    ck_assert_str_eq(err.op, "gcs_jwt");
    ck_assert_str_eq(err.message, "the private_key of \"" EMAIL "\" is not a PEM RSA private key");
    sa.private_key_pem = ec_pem;
    ck_assert_int_eq(gcs_jwt_build(&jwt, &sa, IAT, &err), BK_EINVAL);
    ck_assert_ptr_null(jwt);
    ck_assert_ptr_null(strstr(err.message, "BEGIN"));
    free(ec_pem);
    EVP_PKEY_free(ec);
}
END_TEST

/* ---- key files ---- */

static char *key_json(const char *type, const char *email, bool with_key, const char *uri)
{
    struct bk_buf b;
    struct bk_error err = BK_ERROR_INIT;
    bk_buf_init(&b, 1 << 20);
    bk_buf_append_str(&b, "{", &err);
    if (type != NULL)
        bk_buf_printf(&b, &err, "\"type\":\"%s\",", type);
    if (email != NULL)
        bk_buf_printf(&b, &err, "\"client_email\":\"%s\",", email);
    if (uri != NULL)
        bk_buf_printf(&b, &err, "\"token_uri\":\"%s\",", uri);
    if (with_key) {
        bk_buf_append_str(&b, "\"private_key\":", &err);
        gcs_json_append_string(&b, test_key_pem, &err);
        bk_buf_append_str(&b, ",", &err);
    }
    bk_buf_append_str(&b, "\"project_id\":\"proj-1\"}", &err);
    return (char *)b.data;
}

START_TEST(test_service_account_parse)
{
    struct gcs_service_account sa;
    struct bk_error err = BK_ERROR_INIT;
    char *j = key_json("service_account", EMAIL, true, "http://127.0.0.1:4443/token");

    ck_assert_int_eq(gcs_service_account_parse(&sa, j, strlen(j), "key.json", &err), BK_OK);
    ck_assert_str_eq(sa.client_email, EMAIL);
    ck_assert_str_eq(sa.private_key_pem, test_key_pem);
    ck_assert_str_eq(sa.token_uri, "http://127.0.0.1:4443/token");
    gcs_service_account_clear(&sa);
    ck_assert_ptr_null(sa.private_key_pem);
    free(j);

    j = key_json(NULL, EMAIL, true, NULL);     /* no type, no token_uri: Google's defaults */
    ck_assert_int_eq(gcs_service_account_parse(&sa, j, strlen(j), "key.json", &err), BK_OK);
    ck_assert_str_eq(sa.token_uri, GOOGLE_TOKEN_URI);
    gcs_service_account_clear(&sa);
    free(j);

    j = key_json("authorized_user", EMAIL, true, NULL);
    ck_assert_int_eq(gcs_service_account_parse(&sa, j, strlen(j), "key.json", &err), BK_EUNSUPPORTED);
    ck_assert_str_eq(err.message, "credentials file \"key.json\" has type \"authorized_user\"; only \"service_account\" keys are supported");
    ck_assert_ptr_null(sa.client_email);
    free(j);

    j = key_json("service_account", NULL, true, NULL);
    ck_assert_int_eq(gcs_service_account_parse(&sa, j, strlen(j), "key.json", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "credentials file \"key.json\" has no \"client_email\"");
    free(j);

    j = key_json("service_account", EMAIL, false, NULL);
    ck_assert_int_eq(gcs_service_account_parse(&sa, j, strlen(j), "key.json", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "credentials file \"key.json\" has no PEM \"private_key\"");
    free(j);

    j = key_json("service_account", EMAIL, true, "ftp://x/token");
    ck_assert_int_eq(gcs_service_account_parse(&sa, j, strlen(j), "key.json", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "credentials file \"key.json\" has a \"token_uri\" that is not an http(s) URL");
    free(j);

    ck_assert_int_eq(gcs_service_account_parse(&sa, "[1,2]", 5, "key.json", &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "credentials file \"key.json\" is not a JSON object");
    ck_assert_int_eq(gcs_service_account_parse(&sa, "{\"type\":", 8, "key.json", &err), BK_EINVAL);
    ck_assert_str_eq(err.op, "gcs_credentials");
    ck_assert_str_eq(err.object, "key.json");
}
END_TEST

START_TEST(test_service_account_load)
{
    struct gcs_service_account sa;
    struct bk_error err = BK_ERROR_INIT;
    char path[] = "/tmp/gcs_auth_test_XXXXXX";
    int fd = mkstemp(path);
    char *j = key_json("service_account", EMAIL, true, NULL);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq((int)write(fd, j, strlen(j)), (int)strlen(j));
    close(fd);
    ck_assert_int_eq(gcs_service_account_load(&sa, path, &err), BK_OK);
    ck_assert_str_eq(sa.client_email, EMAIL);
    gcs_service_account_clear(&sa);
    unlink(path);
    ck_assert_int_eq(gcs_service_account_load(&sa, path, &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.object, path);
    {
        char expect[256];
        snprintf(expect, sizeof(expect), "cannot open credentials file \"%s\": No such file or directory", path);
        ck_assert_str_eq(err.message, expect);
    }
    free(j);
}
END_TEST

/* ---- token replies ---- */

static int parse_reply(const char *body, char **token, int64_t *exp, struct bk_error *err)
{
    return gcs_token_parse(token, exp, body, strlen(body), "https://oauth2.googleapis.com/token", err);
}

START_TEST(test_token_parse)
{
    struct bk_error err = BK_ERROR_INIT;
    char *tok = NULL;
    int64_t exp = -1;
    static const struct {
        const char *body;
        const char *message;
    } bad[] = {
        { "<html>502</html>", "token reply from https://oauth2.googleapis.com/token is not a JSON object" },
        { "[\"ya29.x\"]", "token reply from https://oauth2.googleapis.com/token is not a JSON object" },
        { "{\"expires_in\":3599,\"token_type\":\"Bearer\"}", "token reply from https://oauth2.googleapis.com/token has no \"access_token\"" },
        { "{\"access_token\":\"\",\"expires_in\":3599}", "token reply from https://oauth2.googleapis.com/token has no \"access_token\"" },
        { "{\"access_token\":42,\"expires_in\":3599}", "token reply from https://oauth2.googleapis.com/token has no \"access_token\"" },
        { "{\"access_token\":\"ya29 x\",\"expires_in\":3599}", "token reply from https://oauth2.googleapis.com/token has an \"access_token\" with invalid characters" },
        { "{\"access_token\":\"ya29.x\"}", "token reply from https://oauth2.googleapis.com/token has no positive integer \"expires_in\"" },
        { "{\"access_token\":\"ya29.x\",\"expires_in\":\"3599\"}", "token reply from https://oauth2.googleapis.com/token has no positive integer \"expires_in\"" },
        { "{\"access_token\":\"ya29.x\",\"expires_in\":0}", "token reply from https://oauth2.googleapis.com/token has no positive integer \"expires_in\"" },
        { "{\"access_token\":\"ya29.x\",\"expires_in\":3599,\"token_type\":\"MAC\"}", "token reply from https://oauth2.googleapis.com/token has token_type \"MAC\", not \"Bearer\"" },
    };

    ck_assert_int_eq(parse_reply("{\"access_token\":\"ya29.c.abc-_.~\",\"expires_in\":3599,\"token_type\":\"Bearer\"}", &tok, &exp, &err), BK_OK);
    ck_assert_str_eq(tok, "ya29.c.abc-_.~");
    ck_assert_int_eq(exp, 3599);
    bk_secret_free(tok);
    ck_assert_int_eq(parse_reply("{\"access_token\":\"t\",\"expires_in\":60,\"token_type\":\"bearer\",\"scope\":\"x\"}", &tok, &exp, &err), BK_OK);
    ck_assert_str_eq(tok, "t");
    ck_assert_int_eq(exp, 60);
    bk_secret_free(tok);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tok = (char *)"untouched";
        bk_error_clear(&err);
        ck_assert_int_eq(parse_reply(bad[i].body, &tok, &exp, &err), BK_EPROTO);
        ck_assert_ptr_null(tok);
        ck_assert_str_eq(err.message, bad[i].message);
        ck_assert_str_eq(err.op, "gcs_token");
    }
    ck_assert_int_eq(gcs_token_parse(&tok, &exp, NULL, 0, "metadata", &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "token reply from metadata is not a JSON object");
}
END_TEST

/* ---- a scripted HTTP responder for the token source ---- */

#define MAX_EXCHANGES 8

struct responder {
    int fd;
    int port;
    pthread_t thread;
    char replies[MAX_EXCHANGES][1024];
    int n_replies;
    char requests[MAX_EXCHANGES][4096];
    int n_requests;
};

static void responder_reply(struct responder *r, int status, const char *body)
{
    snprintf(r->replies[r->n_replies++], sizeof(r->replies[0]),
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             status, strlen(body), body);
}

static void *responder_main(void *arg)
{
    struct responder *r = arg;
    for (;;) {
        char buf[4096];
        size_t len = 0;
        char *end;
        long body_len = 0;
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        for (;;) {
            ssize_t n = read(c, buf + len, sizeof(buf) - 1 - len);
            if (n <= 0)
                break;
            len += (size_t)n;
            buf[len] = '\0';
            end = strstr(buf, "\r\n\r\n");
            if (end == NULL)
                continue;
            {
                char *cl = strcasestr(buf, "Content-Length:");
                body_len = cl != NULL && cl < end ? strtol(cl + 15, NULL, 10) : 0;
            }
            if (len >= (size_t)(end + 4 - buf) + (size_t)body_len)
                break;
        }
        buf[len] = '\0';
        if (r->n_requests < MAX_EXCHANGES) {
            snprintf(r->requests[r->n_requests], sizeof(r->requests[0]), "%s", buf);
            {
                int i = r->n_requests < r->n_replies ? r->n_requests : r->n_replies - 1;
                ssize_t w = write(c, r->replies[i], strlen(r->replies[i]));
                (void)w;
            }
            r->n_requests++;
        }
        close(c);
    }
}

static void responder_start(struct responder *r)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(r->fd, 0);
    ck_assert_int_eq(bind(r->fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(listen(r->fd, 8), 0);
    getsockname(r->fd, (struct sockaddr *)&addr, &alen);
    r->port = ntohs(addr.sin_port);
    ck_assert_int_eq(pthread_create(&r->thread, NULL, responder_main, r), 0);
}

static void responder_stop(struct responder *r)
{
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->thread, NULL);
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

static struct bk_http_client *client_new(void)
{
    struct bk_http_opts opts = BK_HTTP_OPTS_INIT;
    struct bk_http_client *c = NULL;
    struct bk_error err = BK_ERROR_INIT;
    opts.max_attempts = 1;
    opts.connect_timeout_ms = 2000;
    ck_assert_int_eq(bk_http_client_new(&c, &opts, &err), BK_OK);
    return c;
}

/* Writes a key file whose token_uri points at the responder; returns its path (static). */
static const char *write_key_file(int port)
{
    static char path[64];
    char uri[64];
    char *j;
    int fd;
    snprintf(path, sizeof(path), "/tmp/gcs_auth_key_XXXXXX");
    fd = mkstemp(path);
    snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/token", port);
    j = key_json("service_account", EMAIL, true, uri);
    ck_assert_int_eq((int)write(fd, j, strlen(j)), (int)strlen(j));
    close(fd);
    free(j);
    return path;
}

static const char *sign_once(struct gcs_auth *auth, struct bk_http_headers *h, struct bk_error *err, int *rc)
{
    bk_http_headers_reset(h);
    *rc = gcs_auth_sign(auth, NULL, h, err);
    return bk_http_headers_get(h, "Authorization");
}

START_TEST(test_auth_caches_and_refreshes)
{
    struct responder r;
    struct gcs_auth_opts opts;
    struct gcs_auth *auth = NULL;
    struct bk_http_headers h;
    struct bk_error err = BK_ERROR_INIT;
    struct gcs_service_account sa;
    char *jwt = NULL;
    char expect[256];
    const char *path;
    const char *body;
    int rc;

    memset(&r, 0, sizeof(r));
    responder_reply(&r, 200, "{\"access_token\":\"tok-1\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    responder_reply(&r, 200, "{\"access_token\":\"tok-2\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    responder_reply(&r, 200, "{\"access_token\":\"tok-3\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    responder_start(&r);
    path = write_key_file(r.port);
    memset(&opts, 0, sizeof(opts));
    opts.credentials_file = path;
    opts.http = client_new();
    opts.now_s = fake_clock;
    fake_now = IAT;
    bk_http_headers_init(&h);
    ck_assert_int_eq(gcs_auth_new(&auth, &opts, &err), BK_OK);
    ck_assert_uint_eq(gcs_auth_fetch_count(auth), 0);   /* lazy: nothing fetched at open */

    ck_assert_str_eq(sign_once(auth, &h, &err, &rc), "Bearer tok-1");
    ck_assert_int_eq(rc, BK_OK);
    ck_assert_int_eq(r.n_requests, 1);
    ck_assert_int_eq(strncmp(r.requests[0], "POST /token HTTP/1.1\r\n", 22), 0);
    ck_assert_ptr_nonnull(strcasestr(r.requests[0], "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
    /* the body is exactly the jwt-bearer grant with the JWT for the clock's time */
    snprintf(expect, sizeof(expect), "http://127.0.0.1:%d/token", r.port);
    sa = make_sa(EMAIL, expect);
    ck_assert_int_eq(gcs_jwt_build(&jwt, &sa, IAT, &err), BK_OK);
    body = strstr(r.requests[0], "\r\n\r\n") + 4;
    ck_assert_int_eq(strncmp(body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=", 75), 0);
    ck_assert_str_eq(body + 75, jwt);
    bk_secret_free(jwt);

    fake_now = IAT + 3299;                       /* still 301 s of life left: cached */
    ck_assert_str_eq(sign_once(auth, &h, &err, &rc), "Bearer tok-1");
    ck_assert_uint_eq(gcs_auth_fetch_count(auth), 1);
    fake_now = IAT + 3300;                       /* 5 minutes before expiry: refresh */
    ck_assert_str_eq(sign_once(auth, &h, &err, &rc), "Bearer tok-2");
    ck_assert_uint_eq(gcs_auth_fetch_count(auth), 2);
    ck_assert_str_eq(sign_once(auth, &h, &err, &rc), "Bearer tok-2");
    gcs_auth_invalidate(auth);                   /* after a 401 */
    ck_assert_str_eq(sign_once(auth, &h, &err, &rc), "Bearer tok-3");
    ck_assert_uint_eq(gcs_auth_fetch_count(auth), 3);
    ck_assert_int_eq(r.n_requests, 3);

    gcs_auth_free(auth);
    bk_http_headers_free(&h);
    bk_http_client_free(opts.http);
    responder_stop(&r);
    unlink(path);
}
END_TEST

START_TEST(test_auth_metadata_server)
{
    struct responder r;
    struct gcs_auth_opts opts;
    struct gcs_auth *auth = NULL;
    struct bk_http_headers h;
    struct bk_error err = BK_ERROR_INIT;
    char url[64];
    int rc;

    memset(&r, 0, sizeof(r));
    responder_reply(&r, 200, "{\"access_token\":\"meta-1\",\"expires_in\":600,\"token_type\":\"Bearer\"}");
    responder_reply(&r, 200, "{\"access_token\":\"meta-2\",\"expires_in\":600,\"token_type\":\"Bearer\"}");
    responder_start(&r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", r.port);
    memset(&opts, 0, sizeof(opts));
    opts.metadata_url = url;
    opts.http = client_new();
    opts.now_s = fake_clock;
    fake_now = IAT;
    bk_http_headers_init(&h);
    ck_assert_int_eq(gcs_auth_new(&auth, &opts, &err), BK_OK);
    ck_assert_str_eq(sign_once(auth, &h, &err, &rc), "Bearer meta-1");
    ck_assert_int_eq(strncmp(r.requests[0], "GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1\r\n", 74), 0);
    ck_assert_ptr_nonnull(strstr(r.requests[0], "\r\nMetadata-Flavor: Google\r\n"));
    fake_now = IAT + 299;                        /* 600 s token: refreshed after half its life */
    ck_assert_str_eq(sign_once(auth, &h, &err, &rc), "Bearer meta-1");
    fake_now = IAT + 300;
    ck_assert_str_eq(sign_once(auth, &h, &err, &rc), "Bearer meta-2");
    gcs_auth_free(auth);
    bk_http_headers_free(&h);
    bk_http_client_free(opts.http);
    responder_stop(&r);
}
END_TEST

START_TEST(test_auth_errors)
{
    struct responder r;
    struct gcs_auth_opts opts;
    struct gcs_auth *auth = NULL;
    struct bk_http_headers h;
    struct bk_error err = BK_ERROR_INIT;
    char expect[384];
    const char *path;
    int rc;

    memset(&r, 0, sizeof(r));
    responder_reply(&r, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}");
    responder_reply(&r, 200, "<html>oops</html>");
    responder_reply(&r, 200, "{\"access_token\":\"ok\",\"expires_in\":3600}");
    responder_start(&r);
    path = write_key_file(r.port);
    memset(&opts, 0, sizeof(opts));
    opts.credentials_file = path;
    opts.http = client_new();
    opts.now_s = fake_clock;
    fake_now = IAT;
    bk_http_headers_init(&h);
    ck_assert_int_eq(gcs_auth_new(&auth, &opts, &err), BK_OK);

    ck_assert_ptr_null(sign_once(auth, &h, &err, &rc));
    ck_assert_int_eq(rc, BK_EAUTH);
    ck_assert_int_eq(err.code, BK_EAUTH);
    ck_assert_int_eq(err.http_status, 400);
    ck_assert_str_eq(err.server_code, "invalid_grant");
    ck_assert_str_eq(err.object, EMAIL);
    snprintf(expect, sizeof(expect), "token request to http://127.0.0.1:%d/token for \"" EMAIL "\" failed: HTTP 400 invalid_grant: Invalid JWT Signature.", r.port);
    ck_assert_str_eq(err.message, expect);

    ck_assert_ptr_null(sign_once(auth, &h, &err, &rc));
    ck_assert_int_eq(rc, BK_EPROTO);
    snprintf(expect, sizeof(expect), "token reply from http://127.0.0.1:%d/token is not a JSON object", r.port);
    ck_assert_str_eq(err.message, expect);

    ck_assert_str_eq(sign_once(auth, &h, &err, &rc), "Bearer ok");   /* recovers on the next call */
    ck_assert_uint_eq(gcs_auth_fetch_count(auth), 1);
    gcs_auth_free(auth);
    bk_http_client_free(opts.http);

    /* no key file and nothing listening where the metadata server should be */
    memset(&opts, 0, sizeof(opts));
    opts.metadata_url = "http://127.0.0.1:9";
    opts.http = client_new();
    ck_assert_int_eq(gcs_auth_new(&auth, &opts, &err), BK_OK);
    ck_assert_ptr_null(sign_once(auth, &h, &err, &rc));
    ck_assert_int_eq(rc, BK_EAUTH);
    {
        const char *prefix = "no GCS credentials: no key file is configured and the metadata server "
                             "http://127.0.0.1:9/computeMetadata/v1/instance/service-accounts/default/token did not answer (";
        ck_assert_int_eq(strncmp(err.message, prefix, strlen(prefix)), 0);
    }
    ck_assert_str_eq(err.hint, "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file");
    gcs_auth_free(auth);
    bk_http_client_free(opts.http);

    /* a missing key file fails at open, naming the file */
    memset(&opts, 0, sizeof(opts));
    opts.credentials_file = "/nonexistent/key.json";
    ck_assert_int_eq(gcs_auth_new(&auth, &opts, &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.object, "/nonexistent/key.json");

    bk_http_headers_free(&h);
    responder_stop(&r);
    unlink(path);
}
END_TEST

static Suite *gcs_auth_suite(void)
{
    Suite *s = suite_create("gcs_auth");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, keys_setup, keys_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_jwt_exact_and_verifies);
    tcase_add_test(tc, test_jwt_escapes_and_token_uri);
    tcase_add_test(tc, test_jwt_rejects_non_rsa_keys);
    tcase_add_test(tc, test_service_account_parse);
    tcase_add_test(tc, test_service_account_load);
    tcase_add_test(tc, test_token_parse);
    tcase_add_test(tc, test_auth_caches_and_refreshes);
    tcase_add_test(tc, test_auth_metadata_server);
    tcase_add_test(tc, test_auth_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gcs_auth_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * libcurl-based HTTP client shared by the cloud drivers; see bk_http.h for the contract.
 * Not for: parsing service-specific error bodies (drivers do that) or signing (callbacks).
 */
#include "bk_http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "bk_log.h"
#include "bk_time.h"

#define HTTP_POOL_CAP 32
#define HTTP_DEFAULT_BODY_CAP (1024 * 1024)
#define HTTP_ERROR_BODY_CAP (64 * 1024)

struct bk_http_client {
    struct bk_http_opts opts;
    char *ca_file;
    pthread_mutex_t lock;
    CURL *pool[HTTP_POOL_CAP];
    size_t pool_len;
    unsigned rand_state;
};

static pthread_once_t curl_init_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_OK;

static void curl_init_global(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- headers ---- */

void bk_http_headers_init(struct bk_http_headers *h)
{
    h->lines = NULL;
    h->len = 0;
    h->cap = 0;
}

void bk_http_headers_reset(struct bk_http_headers *h)
{
    for (size_t i = 0; i < h->len; i++)
        free(h->lines[i]);
    h->len = 0;
}

void bk_http_headers_free(struct bk_http_headers *h)
{
    if (h == NULL)
        return;
    bk_http_headers_reset(h);
    free(h->lines);
    h->lines = NULL;
    h->cap = 0;
}

static int headers_add_line(struct bk_http_headers *h, char *line, struct bk_error *err)
{
    if (h->len == h->cap) {
        size_t cap = h->cap == 0 ? 16 : h->cap * 2;
        char **grown = realloc(h->lines, cap * sizeof(*grown));
        if (grown == NULL) {
            free(line);
            return bk_error_set(err, BK_ENOMEM, "http_headers_add", NULL, "out of memory");
        }
        h->lines = grown;
        h->cap = cap;
    }
    h->lines[h->len++] = line;
    return BK_OK;
}

int bk_http_headers_add(struct bk_http_headers *h, const char *name, const char *value,
                        struct bk_error *err)
{
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = malloc(len);
    if (line == NULL)
        return bk_error_set(err, BK_ENOMEM, "http_headers_add", NULL, "out of memory");
    snprintf(line, len, "%s: %s", name, value);
    return headers_add_line(h, line, err);
}

const char *bk_http_headers_get(const struct bk_http_headers *h, const char *name)
{
    size_t name_len = strlen(name);
    for (size_t i = 0; i < h->len; i++) {
        const char *line = h->lines[i];
        if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *v = line + name_len + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
    }
    return NULL;
}

/* ---- response ---- */

void bk_http_response_init(struct bk_http_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    bk_http_headers_init(&resp->headers);
    bk_buf_init(&resp->body, HTTP_DEFAULT_BODY_CAP);
}

void bk_http_response_free(struct bk_http_response *resp)
{
    if (resp == NULL)
        return;
    bk_http_headers_free(&resp->headers);
    bk_buf_free(&resp->body);
}

/* ---- client ---- */

int bk_http_client_new(struct bk_http_client **out, const struct bk_http_opts *opts,
                       struct bk_error *err)
{
    struct bk_http_client *c;
    pthread_once(&curl_init_once, curl_init_global);
    if (curl_init_result != CURLE_OK)
        return bk_error_set(err, BK_EINTERNAL, "http_client_new", NULL, "curl_global_init failed: %s",
                            curl_easy_strerror(curl_init_result));
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return bk_error_set(err, BK_ENOMEM, "http_client_new", NULL, "out of memory");
    if (opts != NULL) {
        c->opts = *opts;
    } else {
        struct bk_http_opts defaults = BK_HTTP_OPTS_INIT;
        c->opts = defaults;
    }
    if (c->opts.max_attempts < 1)
        c->opts.max_attempts = 1;
    if (c->opts.ca_file != NULL) {
        c->ca_file = strdup(c->opts.ca_file);
        if (c->ca_file == NULL) {
            free(c);
            return bk_error_set(err, BK_ENOMEM, "http_client_new", NULL, "out of memory");
        }
    }
    c->opts.ca_file = c->ca_file;
    if (c->opts.insecure_skip_verify)
        bk_log(BK_LOG_WARN, "http_tls", "TLS certificate verification is disabled");
    pthread_mutex_init(&c->lock, NULL);
    c->rand_state = (unsigned)bk_time_now_us() ^ (unsigned)(uintptr_t)c;
    *out = c;
    return BK_OK;
}

void bk_http_client_free(struct bk_http_client *client)
{
    if (client == NULL)
        return;
    for (size_t i = 0; i < client->pool_len; i++)
        curl_easy_cleanup(client->pool[i]);
    pthread_mutex_destroy(&client->lock);
    free(client->ca_file);
    free(client);
}

static CURL *pool_take(struct bk_http_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->pool_len > 0)
        h = c->pool[--c->pool_len];
    pthread_mutex_unlock(&c->lock);
    if (h == NULL)
        h = curl_easy_init();
    return h;
}

static void pool_return(struct bk_http_client *c, CURL *h)
{
    pthread_mutex_lock(&c->lock);
    if (c->pool_len < HTTP_POOL_CAP) {
        c->pool[c->pool_len++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (h != NULL)
        curl_easy_cleanup(h);
}

static long random_below(struct bk_http_client *c, long bound)
{
    unsigned r;
    if (bound <= 0)
        return 0;
    pthread_mutex_lock(&c->lock);
    r = (unsigned)rand_r(&c->rand_state);
    pthread_mutex_unlock(&c->lock);
    return (long)(r % (unsigned long)bound);
}

/* ---- one attempt ---- */

struct attempt_state {
    const struct bk_http_request *req;
    struct bk_http_response *resp;
    CURL *curl;
    size_t upload_pos;
    size_t body_cap;
    int sink_rc;
    struct bk_error sink_err;
    bool body_overflow;
};

static size_t on_read(char *dst, size_t size, size_t nitems, void *userdata)
{
    struct attempt_state *st = userdata;
    size_t want = size * nitems;
    size_t left = st->req->body_len - st->upload_pos;
    size_t n = left < want ? left : want;
    if (n > 0) {
        memcpy(dst, (const char *)st->req->body + st->upload_pos, n);
        st->upload_pos += n;
    }
    return n;
}

static int on_seek(void *userdata, curl_off_t offset, int origin)
{
    struct attempt_state *st = userdata;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > st->req->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    st->upload_pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
    struct attempt_state *st = userdata;
    size_t len = size * nitems;
    size_t trimmed = len;
    char *line;
    struct bk_error ignored = BK_ERROR_INIT;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* a new status line (after 100-continue or a redirect): start over */
        bk_http_headers_reset(&st->resp->headers);
        return len;
    }
    while (trimmed > 0 && (data[trimmed - 1] == '\r' || data[trimmed - 1] == '\n'))
        trimmed--;
    if (trimmed == 0 || memchr(data, ':', trimmed) == NULL)
        return len;
    line = malloc(trimmed + 1);
    if (line == NULL)
        return 0;
    memcpy(line, data, trimmed);
    line[trimmed] = '\0';
    if (headers_add_line(&st->resp->headers, line, &ignored) != BK_OK)
        return 0;
    return len;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct attempt_state *st = userdata;
    size_t len = size * nmemb;
    long status = 0;
    curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300 && st->req->response_sink != NULL) {
        st->sink_rc = bk_sink_write(st->req->response_sink, data, len, &st->sink_err);
        if (st->sink_rc != BK_OK)
            return 0;
        st->resp->body_bytes_to_sink += len;
        return len;
    }
    if (st->resp->body.len + len > st->body_cap) {
        if (status >= 200 && status < 300) {
            st->body_overflow = true;
            return 0;
        }
        /* keep the start of an oversized error body; drop the rest */
        size_t room = st->body_cap > st->resp->body.len ? st->body_cap - st->resp->body.len : 0;
        if (room > 0)
            bk_buf_append(&st->resp->body, data, room, NULL);
        return len;
    }
    if (bk_buf_append(&st->resp->body, data, len, NULL) != BK_OK) {
        st->body_overflow = true;
        return 0;
    }
    return len;
}

static bool header_is_secret(const char *line)
{
    static const char *secret_names[] = { "authorization:", "x-amz-security-token:", "x-ms-",
                                          "x-goog-api-key:", "proxy-authorization:", "cookie:",
                                          "set-cookie:", "metadata-flavor:",
                                          "x-guploader-uploadid:" /* GCS upload sessions accept chunks without a token */ };
    for (size_t i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++) {
        if (strncasecmp(line, secret_names[i], strlen(secret_names[i])) == 0)
            return true;
    }
    return false;
}

/* Trace output with credentials redacted: header names stay, secret values never appear. */
static int on_debug(CURL *handle, curl_infotype type, char *data, size_t size, void *userptr)
{
    const char *dir;
    (void)handle;
    (void)userptr;
    if (type == CURLINFO_HEADER_OUT)
        dir = ">";
    else if (type == CURLINFO_HEADER_IN)
        dir = "<";
    else
        return 0;
    while (size > 0) {
        const char *eol = memchr(data, '\n', size);
        size_t line_len = eol != NULL ? (size_t)(eol - data) + 1 : size;
        size_t shown = line_len;
        char line[512];
        while (shown > 0 && (data[shown - 1] == '\n' || data[shown - 1] == '\r'))
            shown--;
        if (shown >= sizeof(line))
            shown = sizeof(line) - 1;
        memcpy(line, data, shown);
        line[shown] = '\0';
        if (shown > 0) {
            if (strncasecmp(line, "location:", 9) == 0 && strchr(line, '?') != NULL) {
                /* a resumable-upload session URI is a credential: keep only its path */
                char *q = strchr(line, '?');
                snprintf(q, sizeof(line) - (size_t)(q - line), "?[query redacted]");
            } else if (header_is_secret(line)) {
                char *colon = strchr(line, ':');
                if (colon != NULL)
                    snprintf(colon, sizeof(line) - (size_t)(colon - line), ": [redacted]");
            } else if (strncmp(line, "GET ", 4) == 0 || strncmp(line, "PUT ", 4) == 0 ||
                       strncmp(line, "POST ", 5) == 0 || strncmp(line, "DELETE ", 7) == 0 ||
                       strncmp(line, "HEAD ", 5) == 0) {
                char *q = strchr(line, '?');   /* SAS tokens live in the query */
                if (q != NULL) {
                    char *sp = strchr(q, ' ');
                    char tail[64] = "";
                    if (sp != NULL)
                        snprintf(tail, sizeof(tail), "%s", sp);
                    snprintf(q, sizeof(line) - (size_t)(q - line), "?[query redacted]%s", tail);
                }
            }
            bk_log(BK_LOG_TRACE, "http", "%s %s", dir, line);
        }
        data += line_len;
        size -= line_len;
    }
    return 0;
}

static int append_slist(struct curl_slist **list, const char *line, struct bk_error *err)
{
    struct curl_slist *next = curl_slist_append(*list, line);
    if (next == NULL)
        return bk_error_set(err, BK_ENOMEM, "http_request", NULL, "out of memory");
    *list = next;
    return BK_OK;
}

static int transport_code(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return BK_ETIMEOUT;
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
        return BK_EAUTH;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return BK_EINVAL;
    case CURLE_OUT_OF_MEMORY:
        return BK_ENOMEM;
    default:
        return BK_ENET;
    }
}

static bool status_retryable(long status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504 ||
           status == 408;
}

static int run_attempt(struct bk_http_client *c, CURL *curl, const struct bk_http_request *req,
                       struct bk_http_response *resp, struct attempt_state *st,
                       CURLcode *cc_out, char *curl_msg, size_t curl_msg_cap, struct bk_error *err)
{
    struct bk_http_headers extra;
    struct curl_slist *list = NULL;
    int rc = BK_OK;
    bool has_body = req->body_len > 0 || req->send_body || strcmp(req->method, "PUT") == 0 ||
                    strcmp(req->method, "POST") == 0;
    char errbuf[CURL_ERROR_SIZE] = "";

    bk_http_headers_init(&extra);
    if (req->sign != NULL) {
        rc = req->sign(req->sign_ctx, req, &extra, err);
        if (rc != BK_OK)
            goto out;
    }
    if (req->headers != NULL) {
        for (size_t i = 0; i < req->headers->len; i++)
            if ((rc = append_slist(&list, req->headers->lines[i], err)) != BK_OK)
                goto out;
    }
    for (size_t i = 0; i < extra.len; i++)
        if ((rc = append_slist(&list, extra.lines[i], err)) != BK_OK)
            goto out;
    /* no 100-continue round trip; the body is in memory and retried as a whole */
    if ((rc = append_slist(&list, "Expect:", err)) != BK_OK)
        goto out;
    if (has_body && bk_http_headers_get(req->headers ? req->headers : &extra, "Content-Type") == NULL &&
        bk_http_headers_get(&extra, "Content-Type") == NULL)
        if ((rc = append_slist(&list, "Content-Type:", err)) != BK_OK)
            goto out;

    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, c->opts.stall_timeout_s > 0 ? c->opts.stall_timeout_s : 60L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, c->opts.request_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "backupd/0.1");
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, c->opts.insecure_skip_verify ? 0L : 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, c->opts.insecure_skip_verify ? 0L : 2L);
    if (c->opts.ca_file != NULL)
        curl_easy_setopt(curl, CURLOPT_CAINFO, c->opts.ca_file);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, st);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, st);
    if (bk_log_enabled(BK_LOG_TRACE)) {
        curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, on_debug);
        curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
    }
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (has_body) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, st);
        curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(curl, CURLOPT_SEEKDATA, st);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    }

    *cc_out = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    snprintf(curl_msg, curl_msg_cap, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(*cc_out));
out:
    curl_slist_free_all(list);
    bk_http_headers_free(&extra);
    return rc;
}

int bk_http_do(struct bk_http_client *client, const struct bk_http_request *req,
               struct bk_http_response *resp, struct bk_error *err)
{
    CURL *curl = NULL;
    int rc = BK_OK;
    int64_t started_ms = bk_time_mono_ms();
    char url_for_log[512];
    const struct bk_http_opts *o = &client->opts;

    bk_http_url_for_log(req->url, url_for_log, sizeof(url_for_log));
    curl = pool_take(client);
    if (curl == NULL)
        return bk_error_set(err, BK_ENOMEM, req->op, req->object, "cannot create a curl handle");

    for (int attempt = 1;; attempt++) {
        struct attempt_state st;
        CURLcode cc = CURLE_OK;
        char curl_msg[CURL_ERROR_SIZE + 64];
        char reason[CURL_ERROR_SIZE + 96];
        bool retry = false;
        long wait_ms;

        memset(&st, 0, sizeof(st));
        st.req = req;
        st.resp = resp;
        st.curl = curl;
        st.body_cap = req->response_sink != NULL ? HTTP_ERROR_BODY_CAP
                      : (req->max_body_bytes > 0 ? req->max_body_bytes : HTTP_DEFAULT_BODY_CAP);
        resp->body.max_cap = st.body_cap;
        bk_buf_reset(&resp->body);
        bk_http_headers_reset(&resp->headers);
        resp->status = 0;
        resp->attempts = attempt;

        rc = run_attempt(client, curl, req, resp, &st, &cc, curl_msg, sizeof(curl_msg), err);
        if (rc != BK_OK)
            break;
        if (st.sink_rc != BK_OK) {
            *err = st.sink_err;
            rc = st.sink_rc;
            break;
        }
        if (st.body_overflow) {
            rc = bk_error_set(err, BK_EPROTO, req->op, req->object,
                              "response body larger than %zu bytes", st.body_cap);
            break;
        }
        if (cc != CURLE_OK) {
            snprintf(reason, sizeof(reason), "%s", curl_msg);
            rc = transport_code(cc);
            retry = bk_code_retryable(rc);
        } else if (status_retryable(resp->status)) {
            snprintf(reason, sizeof(reason), "HTTP %ld", resp->status);
            retry = true;
            rc = BK_OK;
        } else {
            rc = BK_OK;
            break;
        }
        if (!retry || req->no_retry || resp->body_bytes_to_sink > 0 || attempt >= o->max_attempts) {
            if (cc != CURLE_OK)
                rc = bk_error_set(err, rc, req->op, req->object,
                                  "%s %s failed after %d attempt%s: %s", req->method, url_for_log,
                                  attempt, attempt == 1 ? "" : "s", reason);
            break;
        }
        /* exponential backoff with full jitter; Retry-After wins when larger */
        {
            long ceiling = o->backoff_base_ms;
            for (int i = 1; i < attempt && ceiling < o->backoff_max_ms; i++)
                ceiling *= 2;
            if (ceiling > o->backoff_max_ms)
                ceiling = o->backoff_max_ms;
            wait_ms = random_below(client, ceiling + 1);
            const char *retry_after = bk_http_headers_get(&resp->headers, "Retry-After");
            if (retry_after != NULL && isdigit((unsigned char)retry_after[0])) {
                long ra = atol(retry_after) * 1000;
                if (ra > wait_ms)
                    wait_ms = ra < o->backoff_max_ms ? ra : o->backoff_max_ms;
            }
        }
        if (o->deadline_ms > 0 && bk_time_mono_ms() - started_ms + wait_ms > o->deadline_ms) {
            rc = bk_error_set(err, BK_ETIMEOUT, req->op, req->object,
                              "%s %s gave up after %d attempt%s within the %ld ms deadline: %s",
                              req->method, url_for_log, attempt, attempt == 1 ? "" : "s",
                              o->deadline_ms, reason);
            if (resp->status != 0)
                err->http_status = (int)resp->status;
            break;
        }
        bk_log(BK_LOG_WARN, "http_retry", "%s \"%s\": %s; retrying in %ld ms (attempt %d of %d)",
               req->op, req->object != NULL ? req->object : url_for_log, reason, wait_ms,
               attempt + 1, o->max_attempts);
        if (wait_ms > 0) {
            struct timespec ts = { wait_ms / 1000, (wait_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    pool_return(client, curl);
    return rc;
}

int bk_http_status_to_code(long status)
{
    if (status == 400 || status == 416 || status == 411)
        return BK_EINVAL;
    if (status == 401)
        return BK_EAUTH;
    if (status == 403)
        return BK_EDENIED;
    if (status == 404)
        return BK_ENOTFOUND;
    if (status == 409 || status == 412)
        return BK_ECONFLICT;
    if (status == 429)
        return BK_ETHROTTLED;
    if (status == 408)
        return BK_ETIMEOUT;
    if (status >= 500 && status < 600)
        return BK_ESERVER;
    return BK_EPROTO;
}

int bk_http_error_from_response(struct bk_error *err, const struct bk_http_request *req,
                                const struct bk_http_response *resp, const char *server_code,
                                const char *server_message)
{
    int code = bk_http_status_to_code(resp->status);
    char url_for_log[512];
    bk_http_url_for_log(req->url, url_for_log, sizeof(url_for_log));
    if (server_code != NULL && (strcmp(server_code, "SlowDown") == 0 || strcmp(server_code, "ServerBusy") == 0))
        code = BK_ETHROTTLED;
    if (server_message != NULL && server_message[0] != '\0')
        bk_error_set(err, code, req->op, req->object, "%s %s: %s%s%s", req->method,
                     req->object != NULL ? req->object : url_for_log,
                     server_code != NULL ? server_code : "", server_code != NULL ? ": " : "",
                     server_message);
    else
        bk_error_set(err, code, req->op, req->object, "%s %s: HTTP %ld%s%s", req->method,
                     req->object != NULL ? req->object : url_for_log, resp->status,
                     server_code != NULL ? " " : "", server_code != NULL ? server_code : "");
    err->http_status = (int)resp->status;
    if (server_code != NULL)
        snprintf(err->server_code, sizeof(err->server_code), "%s", server_code);
    if (resp->attempts > 1) {
        size_t used = strlen(err->message);
        snprintf(err->message + used, sizeof(err->message) - used, " (after %d attempts)", resp->attempts);
    }
    return code;
}

void bk_http_url_for_log(const char *url, char *out, size_t out_cap)
{
    size_t n = strcspn(url, "?#");
    if (n >= out_cap)
        n = out_cap - 1;
    memcpy(out, url, n);
    out[n] = '\0';
}

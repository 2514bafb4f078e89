/*
 * HTTP over libcurl, written once for every cloud driver: a thread-safe client with a pool
 * of reusable curl handles (connection reuse), connect/stall/overall timeouts, bounded
 * retries with exponential backoff and full jitter, TLS verification on by default, and
 * redaction of credentials in every trace line.
 *
 * Retries: an attempt is retried on a transport failure (refused, reset, timeout, dropped
 * mid-body) or HTTP 429/500/502/503/504, up to opts.max_attempts, as long as no response
 * body byte has been handed to the caller's sink. Request bodies are always fully buffered
 * by the caller, so a retry re-sends the same bytes. The sign callback runs before each
 * attempt so time-stamped signatures stay fresh.
 */
#ifndef BK_HTTP_H
#define BK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_error.h"
#include "bk_sink.h"

struct bk_http_opts {
    long connect_timeout_ms;    /* default 10000 */
    long stall_timeout_s;       /* abort when under 1 byte/s for this long; default 60 */
    long request_timeout_ms;    /* whole request incl. body; 0 = none (large bodies) */
    int max_attempts;           /* total attempts incl. the first; default 5 */
    long backoff_base_ms;       /* first retry waits up to this; default 200 */
    long backoff_max_ms;        /* cap per wait; default 10000 */
    long deadline_ms;           /* give up (BK_ETIMEOUT) once this much time passed; 0 = none */
    const char *ca_file;        /* extra CA bundle for private endpoints; NULL = system */
    bool insecure_skip_verify;  /* only for tests; logs a warning */
};

#define BK_HTTP_OPTS_INIT { 10000, 60, 0, 5, 200, 10000, 0, NULL, false }

/* An ordered list of "Name: value" header lines; owned strings. */
struct bk_http_headers {
    char **lines;
    size_t len;
    size_t cap;
};

void bk_http_headers_init(struct bk_http_headers *h);
void bk_http_headers_free(struct bk_http_headers *h);
void bk_http_headers_reset(struct bk_http_headers *h);
int bk_http_headers_add(struct bk_http_headers *h, const char *name, const char *value,
                        struct bk_error *err);
/* Value of the first header with this name (case-insensitive), or NULL. Borrowed. */
const char *bk_http_headers_get(const struct bk_http_headers *h, const char *name);

struct bk_http_request;

/* Called before every attempt; adds authentication headers to `extra` (already reset).
 * May return BK_EAUTH etc. to stop without sending. */
typedef int (*bk_http_sign_cb)(void *ctx, const struct bk_http_request *req,
                               struct bk_http_headers *extra, struct bk_error *err);

struct bk_http_request {
    const char *op;                  /* operation for errors/logs: "s3_put_object" */
    const char *object;              /* object key for errors; may be NULL */
    const char *method;              /* "GET", "PUT", ... */
    const char *url;                 /* full URL; logged without its query string */
    const struct bk_http_headers *headers;   /* fixed headers; may be NULL */
    bk_http_sign_cb sign;            /* may be NULL */
    void *sign_ctx;
    const void *body;                /* request body, fully buffered; may be NULL */
    size_t body_len;
    bool send_body;                  /* true to send a body even when body_len == 0 */
    struct bk_sink *response_sink;   /* 2xx response bodies stream here; NULL = into resp->body */
    size_t max_body_bytes;           /* cap for resp->body (error bodies always); 0 = 1 MiB */
    bool no_retry;                   /* e.g. non-idempotent requests */
};

struct bk_http_response {
    long status;                     /* last HTTP status, 0 if none */
    struct bk_http_headers headers;  /* response headers of the last attempt */
    struct bk_buf body;              /* body when not streamed, and every non-2xx body */
    uint64_t body_bytes_to_sink;     /* bytes handed to response_sink */
    int attempts;
};

void bk_http_response_init(struct bk_http_response *resp);
void bk_http_response_free(struct bk_http_response *resp);

struct bk_http_client;

int bk_http_client_new(struct bk_http_client **out, const struct bk_http_opts *opts,
                       struct bk_error *err);
void bk_http_client_free(struct bk_http_client *client);

/*
 * Performs the request with retries. Returns BK_OK whenever an HTTP response was received
 * (the caller maps resp->status, using its own error-body parser); a transport failure that
 * outlived its retries returns BK_ENET or BK_ETIMEOUT with "failed after N attempts: ...".
 * An error from the response sink is returned as is, without retry.
 * Thread-safe: many threads may call it on one client at once.
 */
int bk_http_do(struct bk_http_client *client, const struct bk_http_request *req,
               struct bk_http_response *resp, struct bk_error *err);

/* Maps a non-2xx status to a code: 400 EINVAL, 401 EAUTH, 403 EDENIED, 404 ENOTFOUND,
 * 409/412 ECONFLICT, 416 EINVAL, 429 ETHROTTLED, 5xx ESERVER, else EPROTO. */
int bk_http_status_to_code(long status);

/* Fills err from a failed response: code from the status, the given server code and message
 * (either may be NULL), op and object from req. Returns the code. */
int bk_http_error_from_response(struct bk_error *err, const struct bk_http_request *req,
                                const struct bk_http_response *resp, const char *server_code,
                                const char *server_message);

/* Copies url into out without its query string (for logs and errors). */
void bk_http_url_for_log(const char *url, char *out, size_t out_cap);

#endif

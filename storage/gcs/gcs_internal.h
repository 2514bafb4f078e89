/*
 * Folder-private interface of the Google Cloud Storage ("gs") driver: the driver struct shared by
 * gcs.c (ops table, metadata, listing, reads, deletes) and gcs_upload.c (media and resumable
 * uploads), the access-token source in gcs_auth.c and the JSON readers in gcs_json.c.
 * Only files in storage/gcs/ and the unit tests include it.
 */
#ifndef GCS_INTERNAL_H
#define GCS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_http.h"
#include "storage_driver.h"

#define GCS_DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define GCS_DEFAULT_METADATA_URL "http://metadata.google.internal"
#define GCS_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define GCS_SCOPE_READ_WRITE "https://www.googleapis.com/auth/devstorage.read_write"
#define GCS_METADATA_TOKEN_PATH "/computeMetadata/v1/instance/service-accounts/default/token"
#define GCS_CHUNK_GRANULE_BYTES (256u * 1024)    /* resumable chunks are multiples of this */
#define GCS_JWT_LIFETIME_S 3600
#define GCS_TOKEN_REFRESH_MARGIN_S 300           /* refresh this long before expiry */
#define GCS_LIST_PAGE_MAX 1000

/* ---- gcs_auth.c: service-account keys, JWTs, access tokens ---- */

/* The parts of a service-account JSON key we use. Owned strings; private_key_pem is a secret. */
struct gcs_service_account {
    char *client_email;
    char *private_key_pem;
    char *token_uri;           /* default GCS_DEFAULT_TOKEN_URI */
};

/* Parses a key file's text. what names the file in errors. BK_EINVAL for a malformed key,
 * BK_EUNSUPPORTED for a key whose "type" is not "service_account". Never quotes the key. */
int gcs_service_account_parse(struct gcs_service_account *out, const char *json, size_t len,
                              const char *what, struct bk_error *err);
/* Reads and parses the file (at most 64 KiB). BK_ENOTFOUND/BK_EIO for unreadable files. */
int gcs_service_account_load(struct gcs_service_account *out, const char *path,
                             struct bk_error *err);
/* Frees the strings (the key is zeroed first); NULL-safe. */
void gcs_service_account_clear(struct gcs_service_account *sa);

/* Builds the RS256-signed JWT assertion for the token endpoint, issued at iat_s (seconds since
 * the epoch): header {"alg":"RS256","typ":"JWT"}, claims {"iss","scope","aud","iat","exp"} with
 * scope GCS_SCOPE_READ_WRITE, aud = token_uri, exp = iat + 3600. *out is the caller's and holds
 * a credential: free it with bk_secret_free. BK_EINVAL if the key is not an RSA PEM key. */
int gcs_jwt_build(char **out, const struct gcs_service_account *sa, int64_t iat_s,
                  struct bk_error *err);

/* Parses a token endpoint / metadata server reply {"access_token","expires_in","token_type"}.
 * source names the endpoint in errors. BK_EPROTO for anything but a usable Bearer token.
 * *token_out is the caller's secret (bk_secret_free). */
int gcs_token_parse(char **token_out, int64_t *expires_in_s, const char *body, size_t len,
                    const char *source, struct bk_error *err);

/* A cached access token, refreshed GCS_TOKEN_REFRESH_MARGIN_S before it expires. Thread-safe:
 * one fetch at a time, other threads wait for it and reuse the result. */
struct gcs_auth;

struct gcs_auth_opts {
    const char *credentials_file;   /* service-account key; NULL = metadata server */
    const char *metadata_url;       /* NULL = GCS_DEFAULT_METADATA_URL */
    struct bk_http_client *http;    /* borrowed; must outlive the auth */
    int64_t (*now_s)(void);         /* clock for tests; NULL = wall clock */
};

/* Loads and checks the key file now (so a bad key fails at open); fetches tokens lazily. */
int gcs_auth_new(struct gcs_auth **out, const struct gcs_auth_opts *opts, struct bk_error *err);
void gcs_auth_free(struct gcs_auth *auth);

/* bk_http_sign_cb: adds "Authorization: Bearer <token>", fetching a token when needed.
 * ctx is the struct gcs_auth. Errors from the token fetch are returned (BK_EAUTH ...). */
int gcs_auth_sign(void *ctx, const struct bk_http_request *req, struct bk_http_headers *extra,
                  struct bk_error *err);
/* Drops the cached token (after a 401) so the next sign fetches a new one. */
void gcs_auth_invalidate(struct gcs_auth *auth);
/* Number of tokens fetched so far (for tests and debug logs). */
unsigned gcs_auth_fetch_count(struct gcs_auth *auth);

/* ---- gcs_json.c: JSON API replies ---- */

struct gcs_object_info {
    uint64_t size;
    int64_t mtime_us;          /* from "updated" */
    char etag[128];
    char md5_b64[32];          /* "" when absent (composite objects) */
    char crc32c_b64[16];       /* "" when absent */
};

/* Parses an object resource. key names the object in errors. BK_EPROTO when malformed. */
int gcs_json_parse_object(struct gcs_object_info *out, const char *body, size_t len,
                          const char *key, struct bk_error *err);

/* Appends a list reply's items and prefixes to page, merged in byte order, and sets the next
 * page token. prefix names the listing in errors. BK_EPROTO when malformed. */
int gcs_json_parse_list(struct storage_list_page *page, const char *body, size_t len,
                        const char *prefix, struct bk_error *err);

struct gcs_error_body {
    char reason[64];           /* errors[0].reason, or OAuth's "error"; "" if none */
    char message[256];         /* error.message, OAuth's error_description, or a text line */
};

/* Reads a GCS error body {"error":{"message","errors":[{"reason"}]}}, an OAuth error body
 * {"error","error_description"} or plain text (first line). Never fails; fields may be "". */
void gcs_json_parse_error(struct gcs_error_body *out, const char *body, size_t len);

/* Appends text as a JSON string literal (with quotes) to out. */
int gcs_json_append_string(struct bk_buf *out, const char *text, struct bk_error *err);

/* ---- gcs.c: the driver and its request helpers ---- */

struct gcs_driver {
    struct storage_driver base;
    struct bk_http_client *http;
    struct gcs_auth *auth;
    char *endpoint;            /* no trailing '/' */
    char *bucket;
    uint64_t part_size_bytes;
    int max_attempts;          /* chunk retries (resumable uploads) */
    long backoff_base_ms;
    long backoff_max_ms;
};

/* "<endpoint><api>/b/<bucket>/o[/<key>][?query]" with bucket and key percent-encoded ('/' too).
 * key may be NULL (collection URL); query (already encoded) may be NULL. *out is the caller's. */
int gcs_url(char **out, const struct gcs_driver *d, const char *api, const char *key,
            const char *query, struct bk_error *err);

/* bk_http_do with the bearer token; on 401 drops the cached token and tries once more. */
int gcs_request(struct gcs_driver *d, struct bk_http_request *req, struct bk_http_response *resp,
                struct bk_error *err);

/* Fills err from a non-2xx reply: code from the status, reason and message from the body. */
int gcs_error_from_response(struct bk_error *err, const struct bk_http_request *req,
                            const struct bk_http_response *resp);

/* Sleeps before chunk retry number attempt (1-based): full jitter, exponential, capped. */
void gcs_backoff_sleep(const struct gcs_driver *d, int attempt);

int gcs_remove(struct storage_driver *drv, const char *key, struct bk_error *err);

/* ---- gcs_upload.c: uploads (ops of the table in gcs.c) ---- */

int gcs_put_single(struct storage_driver *drv, const char *key, const void *data, size_t len,
                   const struct storage_put_opts *opts, struct bk_error *err);
int gcs_upload_begin(struct storage_driver *drv, const char *key,
                     const struct storage_put_opts *opts, struct storage_upload **out,
                     struct bk_error *err);
int gcs_upload_part(struct storage_upload *up, unsigned part_no, const void *data, size_t len,
                    bool is_last, struct bk_error *err);
int gcs_upload_complete(struct storage_upload *up, struct bk_error *err);
void gcs_upload_abort(struct storage_upload *up);

/* CRC32C (Castagnoli) as GCS computes it; start with crc = 0 and chain calls. */
uint32_t gcs_crc32c_update(uint32_t crc, const void *data, size_t len);

#endif

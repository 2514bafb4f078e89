/*
 * Private to storage/s3/: the SigV4 signer (s3_sign.c), the XML readers and writers
 * (s3_xml.c) and the credential provider with STS AssumeRoleWithWebIdentity (s3_sts.c).
 * Nothing outside this folder includes it except the S3 unit tests.
 */
#ifndef S3_INTERNAL_H
#define S3_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_error.h"
#include "bk_http.h"
#include "storage_driver.h"

#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* ---- SigV4 (s3_sign.c) ---- */

/* One request to sign. headers holds exactly the headers to sign ("Name: value" lines,
 * any case, any order, duplicates allowed); host must be among them. path and query are
 * as sent on the wire: they are percent-decoded and re-encoded with RFC 3986 rules, so
 * both raw and already-encoded input give the canonical form. The path is not normalised
 * ("." and ".." stay), as S3 requires; the AWS test-suite vectors used here agree. */
struct s3_sign_input {
    const char *method;            /* "GET" */
    const char *path;              /* "/bucket/key", "" = "/" */
    const char *query;             /* "a=1&b" without '?', NULL or "" = none */
    const struct bk_http_headers *headers;
    const char *payload_hash;      /* lowercase hex SHA-256, or "UNSIGNED-PAYLOAD" */
    const char *amz_date;          /* "20150830T123600Z" (ISO 8601 basic, UTC) */
    const char *region;            /* "us-east-1" */
    const char *service;           /* "s3"; "service" in the AWS test suite */
    const char *access_key_id;
    const char *secret_access_key; /* secret */
};

/* Everything the signer computes; canonical_request and string_to_sign are for tests and
 * for matching a server's SignatureDoesNotMatch reply. They hold no secret. */
struct s3_sign_output {
    struct bk_buf canonical_request;
    struct bk_buf string_to_sign;
    struct bk_buf signed_headers;  /* "host;x-amz-date" */
    struct bk_buf authorization;   /* full Authorization header value */
    char signature[65];
};

void s3_sign_output_init(struct s3_sign_output *out);
void s3_sign_output_free(struct s3_sign_output *out);

/* Computes canonical request, string to sign, signature and Authorization value.
 * BK_EINVAL for a malformed header line or date; BK_ENOMEM. */
int s3_sign_compute(struct s3_sign_output *out, const struct s3_sign_input *in, struct bk_error *err);

/* "20150830T123600Z" for a Unix time in seconds; out must hold 17 bytes. */
void s3_sign_format_amz_date(int64_t unix_s, char out[17]);

/* Lowercase hex SHA-256 of data; out must hold 65 bytes. */
void s3_sign_payload_hash(const void *data, size_t len, char out[65]);

/* Base64 MD5 for Content-MD5 (out 25 bytes) and lowercase hex MD5 for ETag checks (33). */
void s3_sign_content_md5(const void *data, size_t len, char b64_out[25], char hex_out[33]);

/* ---- XML (s3_xml.c) ---- */

/* Reads <Error><Code/><Message/></Error> (S3) or <ErrorResponse><Error>... (STS). Returns
 * true when a Code was found; code/message are "" otherwise. Never fails. */
bool s3_xml_parse_error(const char *body, size_t len, char *code, size_t code_cap, char *message,
                        size_t message_cap);

/* ListObjectsV2 result -> page (Contents and CommonPrefixes merged in byte order) and the
 * next continuation token (NULL when not truncated). BK_EPROTO on a malformed reply. */
int s3_xml_parse_list(const char *body, size_t len, struct storage_list_page *page,
                      struct bk_error *err);

/* InitiateMultipartUploadResult -> UploadId (caller frees). */
int s3_xml_parse_upload_id(const char *body, size_t len, char **upload_id, struct bk_error *err);

/* DeleteResult: counts <Error> entries and copies the first one's Key/Code/Message. */
struct s3_delete_failure {
    size_t n_errors;
    size_t n_deleted;
    char key[1025];
    char code[64];
    char message[256];
};
int s3_xml_parse_delete_result(const char *body, size_t len, struct s3_delete_failure *out,
                               struct bk_error *err);

/* STS AssumeRoleWithWebIdentityResponse -> credentials (caller frees with s3_creds_clear). */
struct s3_creds {
    char *access_key_id;
    char *secret_access_key;   /* secret */
    char *session_token;       /* secret; NULL when none */
    int64_t expires_us;        /* 0 = never (static keys) */
};
int s3_xml_parse_sts_creds(const char *body, size_t len, struct s3_creds *out, struct bk_error *err);

/* Appends text with &, <, >, ", ' escaped. BK_EINVAL when text holds a character that
 * XML 1.0 cannot carry (control characters other than tab, CR, LF). */
int s3_xml_escape(struct bk_buf *out, const char *text, struct bk_error *err);

/* ---- credentials (s3_sts.c) ---- */

void s3_creds_clear(struct s3_creds *creds);   /* frees and zeroes secrets; NULL-safe */
int s3_creds_copy(struct s3_creds *dst, const struct s3_creds *src, struct bk_error *err);

/* Static keys, or web identity (IRSA): AssumeRoleWithWebIdentity at sts_endpoint with the
 * token read fresh from token_file at every refresh. Credentials are cached until
 * S3_CREDS_REFRESH_MARGIN_S before they expire. Thread-safe: one refresh at a time,
 * other callers wait for it and share its result. */
#define S3_CREDS_REFRESH_MARGIN_S 300

struct s3_creds_provider {
    pthread_mutex_t lock;
    bool web_identity;
    struct s3_creds current;
    char *role_arn;
    char *token_file;
    char *sts_url;             /* POST target */
    char *session_name;
    struct bk_http_client *http;   /* borrowed */
    unsigned refreshes;        /* STS calls made (for tests and debug logs) */
};

struct s3_creds_provider_opts {
    const char *access_key_id;        /* static keys (may be NULL: anonymous) */
    const char *secret_access_key;
    const char *session_token;
    const char *role_arn;             /* web identity when set */
    const char *token_file;
    const char *sts_endpoint;         /* NULL = https://sts.<region>.amazonaws.com */
    const char *region;
    struct bk_http_client *http;
};

int s3_creds_provider_init(struct s3_creds_provider *p, const struct s3_creds_provider_opts *opts,
                           struct bk_error *err);
void s3_creds_provider_destroy(struct s3_creds_provider *p);
/* Copies current credentials into *out (caller clears), refreshing them first when needed.
 * access_key_id is NULL in *out for anonymous access. BK_EAUTH when STS refuses. */
int s3_creds_provider_get(struct s3_creds_provider *p, struct s3_creds *out, struct bk_error *err);

/* ---- the driver and its requests (s3.c, s3_request.c) ---- */

struct s3_driver {
    struct storage_driver base;      /* first: the front end sees only this */
    struct bk_http_client *http;
    struct s3_creds_provider creds;
    bool creds_ready;                /* creds initialised (and to be destroyed) */
    char *scheme;                    /* "https" or "http" */
    char *host;                      /* endpoint authority: "s3.eu-west-1.amazonaws.com", "127.0.0.1:4569" */
    char *base_path;                 /* endpoint path without trailing '/', usually "" */
    char *bucket;
    char *region;
    bool path_style;
    char *sse;                       /* "AES256" | "aws:kms" | NULL */
    char *sse_kms_key_id;
    char *storage_class;
    bool batch_delete_configured;
    int batch_delete_off;            /* set (atomically) once the store answered NotImplemented */
};

/* One S3 request. query is already percent-encoded ("uploadId=abc&partNumber=1"). */
struct s3_call {
    const char *op;                  /* "s3_put_object" */
    const char *key;                 /* full object key; NULL for bucket-level requests */
    const char *label;               /* names the target in errors when key is NULL */
    const char *method;
    const char *query;
    const void *body;
    size_t body_len;
    const char *content_type;        /* sent and signed when set */
    bool content_md5;                /* send Content-MD5 of the body */
    bool object_headers;             /* SSE and storage-class headers (PUT, CreateMultipartUpload) */
    const char *range;               /* "bytes=10-19" */
    struct bk_sink *sink;            /* 2xx body streams here */
    size_t max_body_bytes;
};

/* Builds, signs (fresh x-amz-date per attempt) and sends the request. Returns BK_OK for a
 * 2xx reply; otherwise fills err with the op, key, HTTP status and S3's Code/Message and
 * returns the mapped code (auth codes -> BK_EAUTH, NoSuchKey -> BK_ENOTFOUND,
 * NotImplemented -> BK_EUNSUPPORTED, SlowDown -> BK_ETHROTTLED). resp keeps the status. */
int s3_call_do(struct s3_driver *drv, const struct s3_call *call, struct bk_http_response *resp,
               struct bk_error *err);

/* Maps an S3 error reply that arrived with a 2xx status (CompleteMultipartUpload) or any
 * status into err; returns the code. */
int s3_error_from_reply(struct bk_error *err, const struct s3_call *call,
                        const struct bk_http_response *resp, const char *code, const char *message);

/* "Wed, 12 Oct 2009 17:50:00 GMT" -> microseconds. BK_EPROTO when malformed. */
int s3_parse_http_date(const char *text, int64_t *out_us, struct bk_error *err);

/* Strips the quotes of an ETag value into out. */
void s3_etag_unquote(const char *value, char *out, size_t out_cap);

#endif

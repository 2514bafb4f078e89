/*
 * Folder-private declarations of the Azure Blob driver: SharedKey signing (azure_sign.c) and
 * the XML bodies it reads and writes (azure_xml.c). Only storage/azure/ and its unit tests
 * include this header; nothing here is part of the storage API.
 */
#ifndef AZURE_INTERNAL_H
#define AZURE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_error.h"
#include "bk_http.h"
#include "storage_driver.h"

#define AZURE_API_VERSION "2021-08-06"   /* x-ms-version; azurite 3.37 accepts it */
#define AZURE_KEY_CAP 128                 /* decoded account keys are 64 bytes */
#define AZURE_AUTH_CAP 384                /* "SharedKey <account>:<44 chars>" */
#define AZURE_DATE_CAP 32                 /* "Sun, 11 Oct 2009 21:49:13 GMT" */
#define AZURE_MAX_BLOCKS 50000u           /* committed blocks per blob */
#define AZURE_MAX_BLOCK_BYTES (4000ull * 1024 * 1024)   /* Put Block, version 2019-12-12+ */
#define AZURE_BLOCK_ID_RAW_LEN 18         /* bytes before base64: 24 chars, no '=' */

/* ---- signing (azure_sign.c) ---- */

/* The account name and its decoded key. key is a secret: clear with azure_shared_key_clear. */
struct azure_shared_key {
    char account[256];
    uint8_t key[AZURE_KEY_CAP];
    size_t key_len;
};

/* Decodes the base64 account key. BK_EINVAL (never quoting the key) when it is not base64
 * or is empty; BK_EINVAL when account is empty or too long. */
int azure_shared_key_init(struct azure_shared_key *sk, const char *account, const char *key_b64,
                          struct bk_error *err);
/* Wipes the key bytes. NULL-safe. */
void azure_shared_key_clear(struct azure_shared_key *sk);

/* What the string to sign is built from. Header lists may be NULL; names match
 * case-insensitively. content_length 0 signs as "" (rule since version 2015-02-21). */
struct azure_sign_request {
    const char *method;                      /* "GET", "PUT", "HEAD", "DELETE" */
    const char *url;                         /* full URL as sent (path percent-encoded) */
    const struct bk_http_headers *headers;   /* fixed request headers */
    const struct bk_http_headers *extra;     /* headers added while signing (x-ms-date) */
    size_t content_length;
};

/* Builds the SharedKey string to sign: the verb, eleven standard header values, the
 * canonicalized x-ms-* headers and the canonicalized resource "/<account><path>" followed
 * by the decoded query parameters, names lower-cased and sorted. out is reset first. */
int azure_sign_string_to_sign(struct bk_buf *out, const char *account,
                              const struct azure_sign_request *req, struct bk_error *err);

/* "SharedKey <account>:<base64 HMAC-SHA256(key, string_to_sign)>" into out (AZURE_AUTH_CAP). */
void azure_sign_authorization(char *out, size_t out_cap, const struct azure_shared_key *sk,
                              const char *string_to_sign);

/* Adds "x-ms-date: <date>" and "Authorization: ..." to extra for a request made at unix_s. */
int azure_sign_add_headers(struct bk_http_headers *extra, const struct azure_shared_key *sk,
                           const struct azure_sign_request *req, int64_t unix_s,
                           struct bk_error *err);

/* RFC 1123 date, always in English and GMT: "Sun, 11 Oct 2009 21:49:13 GMT". */
void azure_format_http_date(int64_t unix_s, char *out, size_t out_cap);
/* Parses that format back; BK_EINVAL (naming the text) otherwise. */
int azure_parse_http_date(const char *text, int64_t *out_unix_s, struct bk_error *err);

/* Percent-decodes len bytes of text, appending to out ('+' stays '+'). BK_EINVAL on a bad
 * escape. */
int azure_percent_decode(struct bk_buf *out, const char *text, size_t len, struct bk_error *err);

/* ---- XML (azure_xml.c) ---- */

/* Initialises libxml2 once (idempotent, thread-safe). */
void azure_xml_init(void);

/* Parses a List Blobs response into page (entries in document order; blobs and, with a
 * delimiter, BlobPrefix entries with is_prefix). An empty NextMarker leaves next_token NULL.
 * BK_EPROTO naming the problem when the body is not a List Blobs result. */
int azure_xml_parse_list(const char *xml, size_t len, struct storage_list_page *page,
                         struct bk_error *err);

/* Reads <Error><Code>..</Code><Message>..</Message></Error>. Fills code and message (first
 * line only) with "" when absent; never fails. */
void azure_xml_parse_error(const char *xml, size_t len, char *code, size_t code_cap,
                           char *message, size_t message_cap);

/* Block id for part_no (1-based) of an upload with this nonce: base64 of an 18-byte
 * fixed-width string, so every id of a blob has the same length. out holds 25 bytes. */
void azure_block_id(uint32_t nonce, unsigned part_no, char *out, size_t out_cap);

/* Put Block List body: <?xml ...?><BlockList><Latest>id</Latest>...</BlockList> for parts
 * 1..n_parts. out is reset first. */
int azure_xml_block_list(struct bk_buf *out, uint32_t nonce, unsigned n_parts,
                         struct bk_error *err);

#endif

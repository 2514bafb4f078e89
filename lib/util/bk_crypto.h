/*
 * Hashing and encoding helpers over OpenSSL: SHA-256, MD5, HMAC-SHA256, hex, base64.
 * Output buffers are caller-owned with the sizes given; nothing here allocates.
 */
#ifndef BK_CRYPTO_H
#define BK_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "bk_error.h"

#define BK_SHA256_LEN 32
#define BK_MD5_LEN 16

void bk_sha256(const void *data, size_t len, uint8_t out[BK_SHA256_LEN]);
void bk_md5(const void *data, size_t len, uint8_t out[BK_MD5_LEN]);
void bk_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    uint8_t out[BK_SHA256_LEN]);
/* Lower-case hex; out must hold 2*len+1 bytes. */
void bk_hex_encode(const uint8_t *data, size_t len, char *out);
/* Standard base64 with padding; out must hold 4*((len+2)/3)+1 bytes. Returns chars written. */
size_t bk_base64_encode(const uint8_t *data, size_t len, char *out);
/* URL-safe base64 without padding (JWT); out as above. */
size_t bk_base64url_encode(const uint8_t *data, size_t len, char *out);
/* Decodes standard base64 (padding optional, whitespace not allowed). BK_EINVAL on bad input. */
int bk_base64_decode(const char *text, uint8_t *out, size_t out_cap, size_t *out_len,
                     struct bk_error *err);

#endif

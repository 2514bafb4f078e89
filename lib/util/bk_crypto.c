/* OpenSSL-backed digests and encodings; see bk_crypto.h. */
#include "bk_crypto.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static void digest_once(const EVP_MD *md, const void *data, size_t len, uint8_t *out)
{
    unsigned int out_len = 0;
    EVP_Digest(data, len, out, &out_len, md, NULL);
}

void bk_sha256(const void *data, size_t len, uint8_t out[BK_SHA256_LEN])
{
    digest_once(EVP_sha256(), data, len, out);
}

void bk_md5(const void *data, size_t len, uint8_t out[BK_MD5_LEN])
{
    digest_once(EVP_md5(), data, len, out);
}

void bk_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    uint8_t out[BK_SHA256_LEN])
{
    unsigned int out_len = 0;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}

void bk_hex_encode(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0xf];
    }
    out[2 * len] = '\0';
}

size_t bk_base64_encode(const uint8_t *data, size_t len, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

size_t bk_base64url_encode(const uint8_t *data, size_t len, char *out)
{
    size_t n = bk_base64_encode(data, len, out);
    while (n > 0 && out[n - 1] == '=')
        out[--n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return n;
}

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int bk_base64_decode(const char *text, uint8_t *out, size_t out_cap, size_t *out_len,
                     struct bk_error *err)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t used = 0;
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == '=')
        len--;
    for (size_t i = 0; i < len; i++) {
        int v = base64_value(text[i]);
        if (v < 0)
            return bk_error_set(err, BK_EINVAL, "base64_decode", NULL,
                                "invalid base64 character at offset %zu", i);
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (used >= out_cap)
                return bk_error_set(err, BK_EINVAL, "base64_decode", NULL, "decoded value too long");
            out[used++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = used;
    return BK_OK;
}

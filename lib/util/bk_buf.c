/* Capped growable buffer; see bk_buf.h. */
#include "bk_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bk_buf_init(struct bk_buf *buf, size_t max_cap)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
    buf->max_cap = max_cap;
}

void bk_buf_free(struct bk_buf *buf)
{
    if (buf == NULL)
        return;
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void bk_buf_reset(struct bk_buf *buf)
{
    buf->len = 0;
    if (buf->data != NULL)
        buf->data[0] = '\0';
}

int bk_buf_reserve(struct bk_buf *buf, size_t total, struct bk_error *err)
{
    size_t want;
    uint8_t *grown;
    if (total + 1 <= buf->cap)
        return BK_OK;
    if (total > buf->max_cap)
        return bk_error_set(err, BK_ENOMEM, "bk_buf_reserve", NULL,
                            "buffer limit of %zu bytes exceeded", buf->max_cap);
    want = buf->cap == 0 ? 256 : buf->cap;
    while (want < total + 1)
        want *= 2;
    if (want > buf->max_cap + 1)
        want = buf->max_cap + 1;
    grown = realloc(buf->data, want);
    if (grown == NULL)
        return bk_error_set(err, BK_ENOMEM, "bk_buf_reserve", NULL, "out of memory for %zu bytes", want);
    buf->data = grown;
    buf->cap = want;
    return BK_OK;
}

int bk_buf_append(struct bk_buf *buf, const void *data, size_t len, struct bk_error *err)
{
    int rc = bk_buf_reserve(buf, buf->len + len, err);
    if (rc != BK_OK)
        return rc;
    if (len > 0)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return BK_OK;
}

int bk_buf_append_str(struct bk_buf *buf, const char *text, struct bk_error *err)
{
    return bk_buf_append(buf, text, strlen(text), err);
}

int bk_buf_printf(struct bk_buf *buf, struct bk_error *err, const char *fmt, ...)
{
    va_list ap;
    int need;
    int rc;
    va_start(ap, fmt);
    need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return bk_error_set(err, BK_EINVAL, "bk_buf_printf", NULL, "bad format");
    rc = bk_buf_reserve(buf, buf->len + (size_t)need, err);
    if (rc != BK_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)buf->data + buf->len, (size_t)need + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)need;
    return BK_OK;
}

const char *bk_buf_str(const struct bk_buf *buf)
{
    return buf->data != NULL ? (const char *)buf->data : "";
}

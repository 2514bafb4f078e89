/*
 * Growable byte buffer with a hard cap fixed at creation (curl's dynbuf idea): appends past
 * max_cap fail with BK_ENOMEM instead of growing without bound.
 */
#ifndef BK_BUF_H
#define BK_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "bk_error.h"

struct bk_buf {
    uint8_t *data;   /* owned; NUL-terminated after every append for text use */
    size_t len;
    size_t cap;      /* allocated */
    size_t max_cap;  /* never grows past this */
};

void bk_buf_init(struct bk_buf *buf, size_t max_cap);
/* Frees the storage; the struct may be re-initialised. NULL-safe. */
void bk_buf_free(struct bk_buf *buf);
void bk_buf_reset(struct bk_buf *buf);
int bk_buf_reserve(struct bk_buf *buf, size_t total, struct bk_error *err);
int bk_buf_append(struct bk_buf *buf, const void *data, size_t len, struct bk_error *err);
int bk_buf_append_str(struct bk_buf *buf, const char *text, struct bk_error *err);
int bk_buf_printf(struct bk_buf *buf, struct bk_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Text view (always NUL-terminated, "" when empty); borrowed. */
const char *bk_buf_str(const struct bk_buf *buf);

#endif

/*
 * Streaming (push) JSON tokenizer for documents too large to hold as a tree, such as
 * files_metadata.json with hundreds of thousands of entries. Bytes are fed in any chunking; each
 * token is reported to a callback as it completes. Memory is bounded by the longest string/number
 * (max_token) plus a fixed nesting stack. Folder-private (lib/archive).
 */
#ifndef WALG_JSON_STREAM_H
#define WALG_JSON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_error.h"

#define WALG_JSTREAM_MAX_DEPTH 64

enum walg_jev {
    WALG_JEV_BEGIN_OBJECT,
    WALG_JEV_END_OBJECT,
    WALG_JEV_BEGIN_ARRAY,
    WALG_JEV_END_ARRAY,
    WALG_JEV_KEY,        /* text = decoded key (UTF-8, NUL-terminated) */
    WALG_JEV_STRING,     /* text = decoded string */
    WALG_JEV_NUMBER,     /* text = the number as written (grammar already checked) */
    WALG_JEV_TRUE,
    WALG_JEV_FALSE,
    WALG_JEV_NULL
};

/* text is borrowed until the callback returns; NULL for structural events. A non-zero return
 * stops parsing and is returned by walg_jstream_feed/end. */
typedef int (*walg_jev_cb)(void *payload, enum walg_jev ev, const char *text, size_t len,
                           struct bk_error *err);

struct walg_jstream {
    walg_jev_cb cb;
    void *payload;
    const char *what;          /* "files metadata" in messages */
    const char *object;        /* key for err->object */
    int state;
    bool string_is_key;
    int esc;                   /* 0, 1 after '\\', 2..5 reading \u digits */
    uint32_t u_acc;
    uint32_t high_surrogate;   /* pending \uD800-\uDBFF, 0 if none */
    const char *literal;       /* "true" / "false" / "null" being matched */
    size_t literal_pos;
    int depth;
    char stack[WALG_JSTREAM_MAX_DEPTH];   /* 'o' or 'a' */
    struct bk_buf tok;
    uint64_t offset;           /* bytes consumed so far */
};

/* max_token bounds one string or number (bytes after decoding). */
void walg_jstream_init(struct walg_jstream *s, walg_jev_cb cb, void *payload, const char *what,
                       const char *object, size_t max_token);
/* BK_EINVAL "<what> is not valid JSON: unexpected 'x' at byte N" and friends. */
int walg_jstream_feed(struct walg_jstream *s, const void *data, size_t len, struct bk_error *err);
/* End of input: BK_EINVAL "<what> is not valid JSON: truncated" unless one complete value was read. */
int walg_jstream_end(struct walg_jstream *s, struct bk_error *err);
void walg_jstream_free(struct walg_jstream *s);

#endif

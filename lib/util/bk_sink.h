/*
 * Push-style byte pipelines, after PostgreSQL's astreamer: each stage is a sink that takes
 * bytes and forwards what it produces to the next stage. Chains are built back to front
 * (storage writer first, then the compressor that wraps it, then the tar writer).
 *
 * Contract for stage authors:
 *   write  - consume all of data (forward output with bk_sink_write(s->next, ...));
 *   finish - flush buffered output into next; the wrapper then finishes next;
 *   abort  - drop state (abort a multipart upload); the wrapper then aborts next;
 *   free   - free this stage only; the wrapper walks the chain.
 * A chain is owned by whoever holds its head; bk_sink_free(head) frees every stage.
 */
#ifndef BK_SINK_H
#define BK_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_error.h"

struct bk_sink;

struct bk_sink_ops {
    const char *name;
    int (*write)(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err);
    int (*finish)(struct bk_sink *sink, struct bk_error *err);   /* may be NULL */
    void (*abort)(struct bk_sink *sink);                          /* may be NULL */
    void (*free)(struct bk_sink *sink);
};

struct bk_sink {
    const struct bk_sink_ops *ops;
    struct bk_sink *next;   /* NULL for the last stage */
};

int bk_sink_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err);
/* Finishes every stage from sink to the end of the chain, in order. */
int bk_sink_finish(struct bk_sink *sink, struct bk_error *err);
/* Aborts every stage, in order. Cannot fail. NULL-safe. */
void bk_sink_abort(struct bk_sink *sink);
/* Frees every stage of the chain. NULL-safe. */
void bk_sink_free(struct bk_sink *sink);

/* Ready-made stages. Each takes ownership of `next` only in the sense that the chain is freed
 * as a whole by bk_sink_free(head). */

/* Writes to an open fd (not closed by the sink). */
int bk_sink_fd_new(struct bk_sink **out, int fd, const char *name_for_errors, struct bk_error *err);
/* Appends into a caller-owned bk_buf (its max_cap bounds memory). */
int bk_sink_buf_new(struct bk_sink **out, struct bk_buf *buf, struct bk_error *err);
/* Discards bytes. */
int bk_sink_null_new(struct bk_sink **out, struct bk_error *err);

/* Counts bytes and computes SHA-256 of what passes through, then forwards to next (may be
 * NULL: then it is a terminal stage). Results readable after finish. */
struct bk_sink_digest_result {
    uint64_t bytes;
    char sha256_hex[65];
};
int bk_sink_digest_new(struct bk_sink **out, struct bk_sink *next,
                       struct bk_sink_digest_result *result, struct bk_error *err);

#endif

/*
 * Folder-private part of the codec module: the per-codec constructors that codec.c's table
 * dispatches to, and the small state block every codec stage starts with (so write/finish
 * after a failure, a finish or an abort are refused the same way in every codec).
 * Nothing outside lib/archive/codec*.c includes this header.
 */
#ifndef CODEC_INTERNAL_H
#define CODEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_error.h"
#include "bk_sink.h"
#include "codec.h"

/* Size of the output buffer most stages fill before forwarding to next. */
#define CODEC_CHUNK_CAP ((size_t)64 * 1024)

enum codec_stage_state {
    CODEC_STAGE_OPEN = 0,
    CODEC_STAGE_FINISHED,   /* finish succeeded; nothing more may be written */
    CODEC_STAGE_FAILED,     /* a write or finish failed; the stream is unusable */
    CODEC_STAGE_ABORTED     /* abort ran; library state is released */
};

/* First member of every codec stage (after which comes codec-specific state). */
struct codec_stage {
    struct bk_sink base;        /* first: the sink wrappers cast to it */
    const char *op;             /* "zstd_compress", "lzo_decompress": bk_error op */
    enum codec_stage_state state;
};

/* BK_OK when the stage may take another write/finish; otherwise BK_EINTERNAL (after finish or
 * abort) or BK_ECORRUPT (after a failure), with a message naming the stage. */
int codec_stage_check(struct codec_stage *st, struct bk_error *err);

/* Marks the stage failed when rc is an error; returns rc unchanged. */
int codec_stage_result(struct codec_stage *st, int rc);

/* Forwards len bytes of output to the next stage (no-op when len is 0). */
int codec_stage_forward(struct codec_stage *st, const void *data, size_t len, struct bk_error *err);

/* Readers of concatenated frames (zstd, lz4) gather the 4 bytes that follow the end of a
 * frame here, across writes, so bytes that are not a frame magic are reported as garbage after
 * the end rather than as a damaged frame. */
struct codec_magic_gate {
    uint8_t buf[4];
    size_t len;
};

/* Moves up to 4 - gate->len bytes of input (p, len: advanced) into the gate; true once it
 * holds 4 bytes. */
bool codec_magic_gather(struct codec_magic_gate *gate, const uint8_t **p, size_t *len);

/* Little-endian value of the 4 gathered bytes. */
uint32_t codec_magic_value(const struct codec_magic_gate *gate);

/* Constructors, one pair per codec file. opts is never NULL here (codec.c fills defaults), and
 * next is never NULL. On success *out owns its buffers; on failure nothing is left allocated. */
int codec_none_compress_new(struct bk_sink **out, const struct codec_opts *opts,
                            struct bk_sink *next, struct bk_error *err);
int codec_none_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err);
int codec_zstd_compress_new(struct bk_sink **out, const struct codec_opts *opts,
                            struct bk_sink *next, struct bk_error *err);
int codec_zstd_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err);
int codec_lz4_compress_new(struct bk_sink **out, const struct codec_opts *opts,
                           struct bk_sink *next, struct bk_error *err);
int codec_lz4_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err);
int codec_lzma_compress_new(struct bk_sink **out, const struct codec_opts *opts,
                            struct bk_sink *next, struct bk_error *err);
int codec_lzma_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err);
int codec_brotli_compress_new(struct bk_sink **out, const struct codec_opts *opts,
                              struct bk_sink *next, struct bk_error *err);
int codec_brotli_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err);
int codec_lzo_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err);

#endif

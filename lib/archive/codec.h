/*
 * Compression codecs as pipeline stages (bk_sink): one table indexed by enum codec_id, one
 * file per codec (codec_<name>.c). Compressors and decompressors stream with fixed buffers:
 * memory does not grow with the input. A decompressor's finish fails with BK_ECORRUPT on a
 * truncated or damaged stream. WAL-G compatibility (walg-layout.md 2.3): one frame per object
 * for lz4; zstd frames may be concatenated on read; lzma is the "alone" format; lzo is lzop.
 */
#ifndef CODEC_H
#define CODEC_H

#include <stdbool.h>

#include "bk_error.h"
#include "bk_sink.h"

enum codec_id {
    CODEC_NONE = 0,   /* raw bytes, no extension */
    CODEC_LZ4,
    CODEC_LZMA,
    CODEC_BROTLI,
    CODEC_LZO,
    CODEC_ZSTD,
    CODEC_COUNT
};

struct codec_info {
    enum codec_id id;
    const char *name;        /* "zstd", "lz4", "lzma", "brotli", "lzo", "none" (WALG_COMPRESSION_METHOD) */
    const char *ext;         /* "zst", "lz4", "lzma", "br", "lzo", "" */
    bool can_compress;
    bool can_decompress;
};

struct codec_opts {
    int level;               /* 0 = codec default (zstd 3, lz4 fast, brotli 3) */
    int threads;             /* zstd workers; 0 = single-threaded */
};
#define CODEC_OPTS_INIT { 0, 0 }

const struct codec_info *codec_get(enum codec_id id);
/* By method name ("zstd", "lz4", ...); NULL if unknown. */
const struct codec_info *codec_by_name(const char *name);
/* By file extension without the dot ("zst"); "" gives CODEC_NONE; NULL if unknown. */
const struct codec_info *codec_by_ext(const char *ext);

/* The order WAL-G tries extensions on fetch: lz4, lzma, br, lzo, zst, then none. */
extern const enum codec_id codec_fetch_order[];
extern const unsigned codec_fetch_order_len;

/* New stage that compresses what is written and forwards to next. BK_EUNSUPPORTED when the
 * codec cannot compress ("lzo compression is not supported; it is read-only"). */
int codec_compress_new(struct bk_sink **out, enum codec_id id, const struct codec_opts *opts,
                       struct bk_sink *next, struct bk_error *err);
/* New stage that decompresses what is written and forwards to next. */
int codec_decompress_new(struct bk_sink **out, enum codec_id id, struct bk_sink *next,
                         struct bk_error *err);

#endif

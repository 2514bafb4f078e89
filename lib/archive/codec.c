/*
 * The codec table (indexed by enum codec_id), lookups by method name and file extension, the
 * WAL-G fetch order, and the dispatch of codec_compress_new/codec_decompress_new to the
 * per-codec files. Also the small state helpers every codec stage shares (codec_internal.h).
 * No compression happens here.
 */
#include "codec.h"

#include <string.h>

#include "codec_internal.h"

typedef int (*codec_compress_ctor)(struct bk_sink **out, const struct codec_opts *opts,
                                   struct bk_sink *next, struct bk_error *err);
typedef int (*codec_decompress_ctor)(struct bk_sink **out, struct bk_sink *next,
                                     struct bk_error *err);

struct codec_row {
    struct codec_info info;
    codec_compress_ctor compress_new;      /* NULL: read-only codec */
    codec_decompress_ctor decompress_new;
};

static const struct codec_row codec_table[CODEC_COUNT] = {
    [CODEC_NONE]   = { { CODEC_NONE, "none", "", true, true },
                       codec_none_compress_new, codec_none_decompress_new },
    [CODEC_LZ4]    = { { CODEC_LZ4, "lz4", "lz4", true, true },
                       codec_lz4_compress_new, codec_lz4_decompress_new },
    [CODEC_LZMA]   = { { CODEC_LZMA, "lzma", "lzma", true, true },
                       codec_lzma_compress_new, codec_lzma_decompress_new },
    [CODEC_BROTLI] = { { CODEC_BROTLI, "brotli", "br", true, true },
                       codec_brotli_compress_new, codec_brotli_decompress_new },
    [CODEC_LZO]    = { { CODEC_LZO, "lzo", "lzo", false, true },
                       NULL, codec_lzo_decompress_new },
    [CODEC_ZSTD]   = { { CODEC_ZSTD, "zstd", "zst", true, true },
                       codec_zstd_compress_new, codec_zstd_decompress_new },
};

/* WAL-G v3.0.5 tries lz4, lzma, gz, br, lzo, zst, then the bare name; gz is not supported. */
const enum codec_id codec_fetch_order[] = {
    CODEC_LZ4, CODEC_LZMA, CODEC_BROTLI, CODEC_LZO, CODEC_ZSTD, CODEC_NONE
};
const unsigned codec_fetch_order_len = sizeof(codec_fetch_order) / sizeof(codec_fetch_order[0]);

const struct codec_info *codec_get(enum codec_id id)
{
    if ((int)id < 0 || id >= CODEC_COUNT)
        return NULL;
    return &codec_table[id].info;
}

const struct codec_info *codec_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    for (int i = 0; i < CODEC_COUNT; i++) {
        if (strcmp(codec_table[i].info.name, name) == 0)
            return &codec_table[i].info;
    }
    return NULL;
}

const struct codec_info *codec_by_ext(const char *ext)
{
    if (ext == NULL)
        return NULL;
    for (int i = 0; i < CODEC_COUNT; i++) {
        if (strcmp(codec_table[i].info.ext, ext) == 0)
            return &codec_table[i].info;
    }
    return NULL;
}

int codec_compress_new(struct bk_sink **out, enum codec_id id, const struct codec_opts *opts,
                       struct bk_sink *next, struct bk_error *err)
{
    static const struct codec_opts default_opts = CODEC_OPTS_INIT;
    const struct codec_info *info = codec_get(id);

    *out = NULL;
    if (info == NULL)
        return bk_error_set(err, BK_EINVAL, "codec_compress_new", NULL, "unknown codec id %d",
                            (int)id);
    if (next == NULL)
        return bk_error_set(err, BK_EINVAL, "codec_compress_new", info->name,
                            "%s compressor needs a next stage", info->name);
    if (codec_table[id].compress_new == NULL)
        return bk_error_set(err, BK_EUNSUPPORTED, "codec_compress_new", info->name,
                            "%s compression is not supported; it is read-only", info->name);
    if (opts == NULL)
        opts = &default_opts;
    if (opts->threads < 0)
        return bk_error_set(err, BK_EINVAL, "codec_compress_new", info->name,
                            "%s thread count %d is negative", info->name, opts->threads);
    return codec_table[id].compress_new(out, opts, next, err);
}

int codec_decompress_new(struct bk_sink **out, enum codec_id id, struct bk_sink *next,
                         struct bk_error *err)
{
    const struct codec_info *info = codec_get(id);

    *out = NULL;
    if (info == NULL)
        return bk_error_set(err, BK_EINVAL, "codec_decompress_new", NULL, "unknown codec id %d",
                            (int)id);
    if (next == NULL)
        return bk_error_set(err, BK_EINVAL, "codec_decompress_new", info->name,
                            "%s decompressor needs a next stage", info->name);
    return codec_table[id].decompress_new(out, next, err);
}

/* ---- shared stage helpers (codec_internal.h) ---- */

int codec_stage_check(struct codec_stage *st, struct bk_error *err)
{
    switch (st->state) {
    case CODEC_STAGE_OPEN:
        return BK_OK;
    case CODEC_STAGE_FINISHED:
        return bk_error_set(err, BK_EINTERNAL, st->op, NULL, "%s stage is already finished",
                            st->base.ops->name);
    case CODEC_STAGE_ABORTED:
        return bk_error_set(err, BK_EINTERNAL, st->op, NULL, "%s stage was aborted",
                            st->base.ops->name);
    case CODEC_STAGE_FAILED:
    default:
        return bk_error_set(err, BK_ECORRUPT, st->op, NULL, "%s stage failed earlier",
                            st->base.ops->name);
    }
}

int codec_stage_result(struct codec_stage *st, int rc)
{
    if (rc != BK_OK && st->state == CODEC_STAGE_OPEN)
        st->state = CODEC_STAGE_FAILED;
    return rc;
}

int codec_stage_forward(struct codec_stage *st, const void *data, size_t len, struct bk_error *err)
{
    if (len == 0)
        return BK_OK;
    return bk_sink_write(st->base.next, data, len, err);
}

bool codec_magic_gather(struct codec_magic_gate *gate, const uint8_t **p, size_t *len)
{
    size_t take = sizeof(gate->buf) - gate->len;
    if (take > *len)
        take = *len;
    memcpy(gate->buf + gate->len, *p, take);
    gate->len += take;
    *p += take;
    *len -= take;
    return gate->len == sizeof(gate->buf);
}

uint32_t codec_magic_value(const struct codec_magic_gate *gate)
{
    return (uint32_t)gate->buf[0] | ((uint32_t)gate->buf[1] << 8) | ((uint32_t)gate->buf[2] << 16) |
           ((uint32_t)gate->buf[3] << 24);
}

/*
 * zstd stages over libzstd's streaming API. The compressor writes one frame per stream with
 * the content checksum on (level and worker threads from codec_opts). The decompressor reads
 * any number of concatenated frames, skippable frames included, as WAL-G's klauspost reader
 * does; a 0-byte input is an empty stream. Windows above 2^27 bytes (128 MiB) are refused.
 */
#include "codec_internal.h"

#include <stdbool.h>
#include <stdlib.h>

#include <zstd.h>
#include <zstd_errors.h>

/* Largest window a frame may ask for: WAL-G writes 8 MiB; 2^27 is libzstd's default limit. */
#define ZSTD_WINDOW_LOG_MAX 27

struct zstd_stage {
    struct codec_stage st;
    ZSTD_CCtx *cctx;          /* compressor only */
    ZSTD_DCtx *dctx;          /* decompressor only */
    uint8_t *out;
    size_t out_cap;
    bool frame_open;          /* decompressor: inside a frame that has not ended yet */
    unsigned long long frames_done;
    struct codec_magic_gate gate;   /* decompressor: magic of the frame after the first */
};

static void zstd_release(struct zstd_stage *zs)
{
    ZSTD_freeCCtx(zs->cctx);
    zs->cctx = NULL;
    ZSTD_freeDCtx(zs->dctx);
    zs->dctx = NULL;
    free(zs->out);
    zs->out = NULL;
}

static void zstd_abort(struct bk_sink *sink)
{
    struct zstd_stage *zs = (struct zstd_stage *)sink;
    zstd_release(zs);
    zs->st.state = CODEC_STAGE_ABORTED;
}

static void zstd_free(struct bk_sink *sink)
{
    struct zstd_stage *zs = (struct zstd_stage *)sink;
    zstd_release(zs);
    free(zs);
}

/* ---- compressor ---- */

/* Runs one ZSTD_compressStream2 step at a time until `in` is consumed (continue) or the frame
 * is complete (end), forwarding each step's output. */
static int zstd_compress_run(struct zstd_stage *zs, ZSTD_inBuffer *in, ZSTD_EndDirective mode,
                             struct bk_error *err)
{
    for (;;) {
        ZSTD_outBuffer o = { zs->out, zs->out_cap, 0 };
        size_t remaining = ZSTD_compressStream2(zs->cctx, &o, in, mode);
        if (ZSTD_isError(remaining))
            return bk_error_set(err, BK_EINTERNAL, zs->st.op, NULL, "zstd compression failed: %s",
                                ZSTD_getErrorName(remaining));
        int rc = codec_stage_forward(&zs->st, zs->out, o.pos, err);
        if (rc != BK_OK)
            return rc;
        if (mode == ZSTD_e_end ? remaining == 0 : in->pos == in->size)
            return BK_OK;
    }
}

static int zstd_compress_write(struct bk_sink *sink, const void *data, size_t len,
                               struct bk_error *err)
{
    struct zstd_stage *zs = (struct zstd_stage *)sink;
    int rc = codec_stage_check(&zs->st, err);
    if (rc != BK_OK)
        return rc;
    ZSTD_inBuffer in = { data, len, 0 };
    return codec_stage_result(&zs->st, zstd_compress_run(zs, &in, ZSTD_e_continue, err));
}

static int zstd_compress_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct zstd_stage *zs = (struct zstd_stage *)sink;
    int rc = codec_stage_check(&zs->st, err);
    if (rc != BK_OK)
        return rc;
    ZSTD_inBuffer in = { NULL, 0, 0 };
    rc = zstd_compress_run(zs, &in, ZSTD_e_end, err);
    if (rc == BK_OK)
        zs->st.state = CODEC_STAGE_FINISHED;
    return codec_stage_result(&zs->st, rc);
}

static const struct bk_sink_ops zstd_compress_ops = {
    "zstd-compress", zstd_compress_write, zstd_compress_finish, zstd_abort, zstd_free
};

static int zstd_set(struct zstd_stage *zs, ZSTD_cParameter param, int value, const char *what,
                    int code, struct bk_error *err)
{
    size_t r = ZSTD_CCtx_setParameter(zs->cctx, param, value);
    if (ZSTD_isError(r))
        return bk_error_set(err, code, zs->st.op, NULL, "zstd %s %d rejected: %s", what, value,
                            ZSTD_getErrorName(r));
    return BK_OK;
}

int codec_zstd_compress_new(struct bk_sink **out, const struct codec_opts *opts,
                            struct bk_sink *next, struct bk_error *err)
{
    int rc = BK_OK;
    int level = opts->level == 0 ? ZSTD_CLEVEL_DEFAULT : opts->level;
    struct zstd_stage *zs = calloc(1, sizeof(*zs));

    if (zs == NULL)
        return bk_error_set(err, BK_ENOMEM, "zstd_compress", NULL, "out of memory");
    zs->st.base.ops = &zstd_compress_ops;
    zs->st.base.next = next;
    zs->st.op = "zstd_compress";
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
        rc = bk_error_set(err, BK_EINVAL, zs->st.op, NULL, "zstd level %d is outside %d..%d",
                          level, ZSTD_minCLevel(), ZSTD_maxCLevel());
        goto out;
    }
    zs->out_cap = ZSTD_CStreamOutSize();
    zs->out = malloc(zs->out_cap);
    zs->cctx = ZSTD_createCCtx();
    if (zs->out == NULL || zs->cctx == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, zs->st.op, NULL, "out of memory");
        goto out;
    }
    rc = zstd_set(zs, ZSTD_c_compressionLevel, level, "level", BK_EINVAL, err);
    if (rc == BK_OK)
        rc = zstd_set(zs, ZSTD_c_checksumFlag, 1, "checksum flag", BK_EINTERNAL, err);
    if (rc == BK_OK && opts->threads > 0)
        rc = zstd_set(zs, ZSTD_c_nbWorkers, opts->threads, "worker count", BK_EUNSUPPORTED, err);
out:
    if (rc != BK_OK) {
        zstd_free(&zs->st.base);
        return rc;
    }
    *out = &zs->st.base;
    return BK_OK;
}

/* ---- decompressor ---- */

#define ZSTD_FRAME_MAGIC 0xFD2FB528u
#define ZSTD_SKIPPABLE_MASK 0xFFFFFFF0u
#define ZSTD_SKIPPABLE_MAGIC 0x184D2A50u

/* Decodes from p until it is consumed or a frame ends (then *used may be < len), forwarding
 * the output; loops while the output buffer comes back full. */
static int zstd_feed(struct zstd_stage *zs, const uint8_t *p, size_t len, size_t *used,
                     struct bk_error *err)
{
    ZSTD_inBuffer in = { p, len, 0 };
    int rc = BK_OK;
    for (;;) {
        ZSTD_outBuffer o = { zs->out, zs->out_cap, 0 };
        size_t pos_before = in.pos;
        size_t hint = ZSTD_decompressStream(zs->dctx, &o, &in);
        if (ZSTD_isError(hint)) {
            if (ZSTD_getErrorCode(hint) == ZSTD_error_frameParameter_windowTooLarge)
                rc = bk_error_set(err, BK_EUNSUPPORTED, zs->st.op, NULL,
                                  "zstd frame needs a window over %u MiB",
                                  (1u << ZSTD_WINDOW_LOG_MAX) >> 20);
            else
                rc = bk_error_set(err, BK_ECORRUPT, zs->st.op, NULL, "corrupt zstd stream: %s",
                                  ZSTD_getErrorName(hint));
            break;
        }
        /* hint 0: a frame just ended (and all its output is out) */
        if (hint == 0) {
            zs->frame_open = false;
            zs->frames_done++;
        } else if (in.pos > pos_before) {
            zs->frame_open = true;
        }
        rc = codec_stage_forward(&zs->st, zs->out, o.pos, err);
        if (rc != BK_OK || hint == 0)
            break;
        if (in.pos == in.size && o.pos < o.size)
            break;
    }
    *used = in.pos;
    return rc;
}

static int zstd_decompress_write(struct bk_sink *sink, const void *data, size_t len,
                                 struct bk_error *err)
{
    struct zstd_stage *zs = (struct zstd_stage *)sink;
    const uint8_t *p = data;
    int rc = codec_stage_check(&zs->st, err);

    while (rc == BK_OK && len > 0) {
        size_t used = 0;
        if (!zs->frame_open && zs->frames_done > 0) {
            /* between frames: only another frame (or a skippable one) may follow */
            if (!codec_magic_gather(&zs->gate, &p, &len))
                break;
            uint32_t magic = codec_magic_value(&zs->gate);
            zs->gate.len = 0;
            if (magic != ZSTD_FRAME_MAGIC &&
                (magic & ZSTD_SKIPPABLE_MASK) != ZSTD_SKIPPABLE_MAGIC) {
                rc = bk_error_set(err, BK_ECORRUPT, zs->st.op, NULL,
                                  "garbage after the end of the zstd stream");
                break;
            }
            rc = zstd_feed(zs, zs->gate.buf, sizeof(zs->gate.buf), &used, err);
            continue;
        }
        rc = zstd_feed(zs, p, len, &used, err);
        p += used;
        len -= used;
    }
    return codec_stage_result(&zs->st, rc);
}

static int zstd_decompress_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct zstd_stage *zs = (struct zstd_stage *)sink;
    int rc = codec_stage_check(&zs->st, err);
    if (rc != BK_OK)
        return rc;
    if (zs->frame_open || zs->gate.len > 0)
        rc = bk_error_set(err, BK_ECORRUPT, zs->st.op, NULL, "truncated zstd stream");
    else
        zs->st.state = CODEC_STAGE_FINISHED;
    return codec_stage_result(&zs->st, rc);
}

static const struct bk_sink_ops zstd_decompress_ops = {
    "zstd-decompress", zstd_decompress_write, zstd_decompress_finish, zstd_abort, zstd_free
};

int codec_zstd_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err)
{
    int rc = BK_OK;
    struct zstd_stage *zs = calloc(1, sizeof(*zs));

    if (zs == NULL)
        return bk_error_set(err, BK_ENOMEM, "zstd_decompress", NULL, "out of memory");
    zs->st.base.ops = &zstd_decompress_ops;
    zs->st.base.next = next;
    zs->st.op = "zstd_decompress";
    zs->out_cap = ZSTD_DStreamOutSize();
    zs->out = malloc(zs->out_cap);
    zs->dctx = ZSTD_createDCtx();
    if (zs->out == NULL || zs->dctx == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, zs->st.op, NULL, "out of memory");
        goto out;
    }
    size_t r = ZSTD_DCtx_setParameter(zs->dctx, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX);
    if (ZSTD_isError(r))
        rc = bk_error_set(err, BK_EINTERNAL, zs->st.op, NULL, "zstd window limit rejected: %s",
                          ZSTD_getErrorName(r));
out:
    if (rc != BK_OK) {
        zstd_free(&zs->st.base);
        return rc;
    }
    *out = &zs->st.base;
    return BK_OK;
}

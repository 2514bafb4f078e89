/*
 * lz4 stages over liblz4's frame API (LZ4F). The compressor writes exactly one frame per
 * stream the way WAL-G does (walg-layout.md 2.3): independent 4 MiB blocks, content checksum
 * on, no block checksum, no content size, so the header is 04 22 4D 18 64 70 B9. WAL-G's
 * reader stops after the first frame; this decompressor, like the lz4 tool, decodes every
 * concatenated (and skippable) frame until the input ends. A 0-byte input is an empty stream.
 */
#include "codec_internal.h"

#include <stdbool.h>
#include <stdlib.h>

#include <lz4frame.h>

/* Input is fed to LZ4F in pieces of this size, so the output buffer is bounded. */
#define LZ4_PIECE_CAP ((size_t)64 * 1024)

struct lz4_stage {
    struct codec_stage st;
    LZ4F_cctx *cctx;          /* compressor only */
    LZ4F_dctx *dctx;          /* decompressor only */
    LZ4F_preferences_t prefs;
    uint8_t *out;
    size_t out_cap;
    size_t out_len;           /* compressor: bytes waiting in out (the frame header at first) */
    bool frame_open;          /* decompressor: inside a frame that has not ended yet */
    unsigned long long frames_done;
    struct codec_magic_gate gate;   /* decompressor: magic of the frame after the first */
};

static void lz4_release(struct lz4_stage *ls)
{
    if (ls->cctx != NULL)
        LZ4F_freeCompressionContext(ls->cctx);
    ls->cctx = NULL;
    if (ls->dctx != NULL)
        LZ4F_freeDecompressionContext(ls->dctx);
    ls->dctx = NULL;
    free(ls->out);
    ls->out = NULL;
}

static void lz4_abort(struct bk_sink *sink)
{
    struct lz4_stage *ls = (struct lz4_stage *)sink;
    lz4_release(ls);
    ls->st.state = CODEC_STAGE_ABORTED;
}

static void lz4_free(struct bk_sink *sink)
{
    struct lz4_stage *ls = (struct lz4_stage *)sink;
    lz4_release(ls);
    free(ls);
}

/* ---- compressor ---- */

static int lz4_flush_out(struct lz4_stage *ls, struct bk_error *err)
{
    int rc = codec_stage_forward(&ls->st, ls->out, ls->out_len, err);
    ls->out_len = 0;
    return rc;
}

static int lz4_compress_write(struct bk_sink *sink, const void *data, size_t len,
                              struct bk_error *err)
{
    struct lz4_stage *ls = (struct lz4_stage *)sink;
    const uint8_t *p = data;
    int rc = codec_stage_check(&ls->st, err);

    while (rc == BK_OK && len > 0) {
        size_t piece = len < LZ4_PIECE_CAP ? len : LZ4_PIECE_CAP;
        size_t n = LZ4F_compressUpdate(ls->cctx, ls->out + ls->out_len, ls->out_cap - ls->out_len,
                                       p, piece, NULL);
        if (LZ4F_isError(n)) {
            rc = bk_error_set(err, BK_EINTERNAL, ls->st.op, NULL, "lz4 compression failed: %s",
                              LZ4F_getErrorName(n));
            break;
        }
        ls->out_len += n;
        p += piece;
        len -= piece;
        /* LZ4F returns output only when a 4 MiB block completes: forward it at once, so the
         * buffer always has room for the next piece's worst case. */
        if (n > 0)
            rc = lz4_flush_out(ls, err);
    }
    return codec_stage_result(&ls->st, rc);
}

static int lz4_compress_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct lz4_stage *ls = (struct lz4_stage *)sink;
    int rc = codec_stage_check(&ls->st, err);
    if (rc != BK_OK)
        return rc;
    size_t n = LZ4F_compressEnd(ls->cctx, ls->out + ls->out_len, ls->out_cap - ls->out_len, NULL);
    if (LZ4F_isError(n)) {
        rc = bk_error_set(err, BK_EINTERNAL, ls->st.op, NULL, "lz4 compression failed: %s",
                          LZ4F_getErrorName(n));
    } else {
        ls->out_len += n;
        rc = lz4_flush_out(ls, err);
    }
    if (rc == BK_OK)
        ls->st.state = CODEC_STAGE_FINISHED;
    return codec_stage_result(&ls->st, rc);
}

static const struct bk_sink_ops lz4_compress_ops = {
    "lz4-compress", lz4_compress_write, lz4_compress_finish, lz4_abort, lz4_free
};

int codec_lz4_compress_new(struct bk_sink **out, const struct codec_opts *opts,
                           struct bk_sink *next, struct bk_error *err)
{
    int rc = BK_OK;
    struct lz4_stage *ls = calloc(1, sizeof(*ls));

    if (ls == NULL)
        return bk_error_set(err, BK_ENOMEM, "lz4_compress", NULL, "out of memory");
    ls->st.base.ops = &lz4_compress_ops;
    ls->st.base.next = next;
    ls->st.op = "lz4_compress";
    if (opts->level < 0 || opts->level > LZ4F_compressionLevel_max()) {
        rc = bk_error_set(err, BK_EINVAL, ls->st.op, NULL, "lz4 level %d is outside 0..%d",
                          opts->level, LZ4F_compressionLevel_max());
        goto out;
    }
    ls->prefs.frameInfo.blockSizeID = LZ4F_max4MB;
    ls->prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    ls->prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    ls->prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
    ls->prefs.frameInfo.frameType = LZ4F_frame;
    ls->prefs.frameInfo.contentSize = 0;
    ls->prefs.compressionLevel = opts->level;   /* 0: fast (lz4 default); 3..12: HC */
    ls->prefs.autoFlush = 0;
    /* Worst case of one update (a full buffered block plus a piece), with room for the
     * header that stays in out until the first block is forwarded. */
    ls->out_cap = LZ4F_compressBound(LZ4_PIECE_CAP, &ls->prefs) + LZ4F_HEADER_SIZE_MAX;
    ls->out = malloc(ls->out_cap);
    LZ4F_errorCode_t e = LZ4F_createCompressionContext(&ls->cctx, LZ4F_VERSION);
    if (ls->out == NULL || LZ4F_isError(e)) {
        rc = bk_error_set(err, BK_ENOMEM, ls->st.op, NULL, "out of memory");
        goto out;
    }
    /* The header waits in out until the first output (or finish) forwards it. */
    size_t n = LZ4F_compressBegin(ls->cctx, ls->out, ls->out_cap, &ls->prefs);
    if (LZ4F_isError(n)) {
        rc = bk_error_set(err, BK_EINTERNAL, ls->st.op, NULL, "lz4 frame header failed: %s",
                          LZ4F_getErrorName(n));
        goto out;
    }
    ls->out_len = n;
out:
    if (rc != BK_OK) {
        lz4_free(&ls->st.base);
        return rc;
    }
    *out = &ls->st.base;
    return BK_OK;
}

/* ---- decompressor ---- */

#define LZ4_FRAME_MAGIC 0x184D2204u
#define LZ4_SKIPPABLE_MASK 0xFFFFFFF0u
#define LZ4_SKIPPABLE_MAGIC 0x184D2A50u

/* Decodes from p until it is consumed or a frame ends (then *used may be < len), forwarding
 * the output; loops while the output buffer comes back full. */
static int lz4_feed(struct lz4_stage *ls, const uint8_t *p, size_t len, size_t *used,
                    struct bk_error *err)
{
    *used = 0;
    for (;;) {
        size_t dst_len = ls->out_cap;
        size_t src_len = len - *used;
        size_t hint = LZ4F_decompress(ls->dctx, ls->out, &dst_len, p + *used, &src_len, NULL);
        if (LZ4F_isError(hint))
            return bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL, "corrupt lz4 stream: %s",
                                LZ4F_getErrorName(hint));
        *used += src_len;
        if (hint == 0) {
            ls->frame_open = false;    /* a frame ended; the context is ready for the next */
            ls->frames_done++;
        } else if (src_len > 0) {
            ls->frame_open = true;
        }
        int rc = codec_stage_forward(&ls->st, ls->out, dst_len, err);
        if (rc != BK_OK || hint == 0)
            return rc;
        if (*used == len && dst_len < ls->out_cap)
            return BK_OK;
    }
}

static int lz4_decompress_write(struct bk_sink *sink, const void *data, size_t len,
                                struct bk_error *err)
{
    struct lz4_stage *ls = (struct lz4_stage *)sink;
    const uint8_t *p = data;
    int rc = codec_stage_check(&ls->st, err);

    while (rc == BK_OK && len > 0) {
        size_t used = 0;
        if (!ls->frame_open && ls->frames_done > 0) {
            /* between frames: only another frame (or a skippable one) may follow */
            if (!codec_magic_gather(&ls->gate, &p, &len))
                break;
            uint32_t magic = codec_magic_value(&ls->gate);
            ls->gate.len = 0;
            if (magic != LZ4_FRAME_MAGIC && (magic & LZ4_SKIPPABLE_MASK) != LZ4_SKIPPABLE_MAGIC) {
                rc = bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL,
                                  "garbage after the end of the lz4 stream");
                break;
            }
            rc = lz4_feed(ls, ls->gate.buf, sizeof(ls->gate.buf), &used, err);
            continue;
        }
        rc = lz4_feed(ls, p, len, &used, err);
        p += used;
        len -= used;
    }
    return codec_stage_result(&ls->st, rc);
}

static int lz4_decompress_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct lz4_stage *ls = (struct lz4_stage *)sink;
    int rc = codec_stage_check(&ls->st, err);
    if (rc != BK_OK)
        return rc;
    if (ls->frame_open || ls->gate.len > 0)
        rc = bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL, "truncated lz4 stream");
    else
        ls->st.state = CODEC_STAGE_FINISHED;
    return codec_stage_result(&ls->st, rc);
}

static const struct bk_sink_ops lz4_decompress_ops = {
    "lz4-decompress", lz4_decompress_write, lz4_decompress_finish, lz4_abort, lz4_free
};

int codec_lz4_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err)
{
    int rc = BK_OK;
    struct lz4_stage *ls = calloc(1, sizeof(*ls));

    if (ls == NULL)
        return bk_error_set(err, BK_ENOMEM, "lz4_decompress", NULL, "out of memory");
    ls->st.base.ops = &lz4_decompress_ops;
    ls->st.base.next = next;
    ls->st.op = "lz4_decompress";
    ls->out_cap = CODEC_CHUNK_CAP;
    ls->out = malloc(ls->out_cap);
    LZ4F_errorCode_t e = LZ4F_createDecompressionContext(&ls->dctx, LZ4F_VERSION);
    if (ls->out == NULL || LZ4F_isError(e))
        rc = bk_error_set(err, BK_ENOMEM, ls->st.op, NULL, "out of memory");
    if (rc != BK_OK) {
        lz4_free(&ls->st.base);
        return rc;
    }
    *out = &ls->st.base;
    return BK_OK;
}

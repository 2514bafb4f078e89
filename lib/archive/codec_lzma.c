/*
 * lzma stages over liblzma's "LZMA alone" (.lzma) coder, the format WAL-G's ulikunitz/xz/lzma
 * writes and reads (walg-layout.md 2.3): a 13-byte header (props 0x5D = lc3 lp0 pb2, 8 MiB
 * dictionary, size FF*8 = unknown) and data that ends with the end-of-stream marker. Not .xz.
 * The decompressor stops at the end marker; bytes after it are an error.
 */
#include "codec_internal.h"

#include <stdbool.h>
#include <stdlib.h>

#include <lzma.h>

#define LZMA_DICT_BYTES ((uint32_t)8 << 20)          /* what WAL-G writes */
#define LZMA_DECODE_MEMLIMIT ((uint64_t)128 << 20)   /* covers xz -9's 64 MiB dictionary */

struct lzma_stage {
    struct codec_stage st;
    lzma_stream strm;
    bool strm_live;           /* strm holds liblzma state that lzma_end must release */
    bool ended;               /* decompressor: the end-of-stream marker was read */
    uint8_t *out;
    size_t out_cap;
};

static void lzma_stage_release(struct lzma_stage *ls)
{
    if (ls->strm_live)
        lzma_end(&ls->strm);
    ls->strm_live = false;
    free(ls->out);
    ls->out = NULL;
}

static void lzma_stage_abort(struct bk_sink *sink)
{
    struct lzma_stage *ls = (struct lzma_stage *)sink;
    lzma_stage_release(ls);
    ls->st.state = CODEC_STAGE_ABORTED;
}

static void lzma_stage_free(struct bk_sink *sink)
{
    struct lzma_stage *ls = (struct lzma_stage *)sink;
    lzma_stage_release(ls);
    free(ls);
}

/* Maps a liblzma failure to a code and a message naming the codec. */
static int lzma_stage_error(struct lzma_stage *ls, lzma_ret ret, struct bk_error *err)
{
    switch (ret) {
    case LZMA_MEM_ERROR:
        return bk_error_set(err, BK_ENOMEM, ls->st.op, NULL, "out of memory in liblzma");
    case LZMA_MEMLIMIT_ERROR:
        return bk_error_set(err, BK_EUNSUPPORTED, ls->st.op, NULL,
                            "lzma stream needs more than %u MiB to decode",
                            (unsigned)(LZMA_DECODE_MEMLIMIT >> 20));
    case LZMA_FORMAT_ERROR:
        return bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL,
                            "corrupt lzma stream: not an lzma alone header");
    case LZMA_OPTIONS_ERROR:
        return bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL,
                            "corrupt lzma stream: unsupported header options");
    case LZMA_DATA_ERROR:
        return bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL, "corrupt lzma stream: data error");
    default:
        return bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL,
                            "corrupt lzma stream: liblzma code %d", (int)ret);
    }
}

/* ---- compressor ---- */

/* Runs lzma_code until the input is consumed (LZMA_RUN) or the stream ends (LZMA_FINISH). */
static int lzma_compress_run(struct lzma_stage *ls, const void *data, size_t len,
                             lzma_action action, struct bk_error *err)
{
    ls->strm.next_in = data;
    ls->strm.avail_in = len;
    for (;;) {
        ls->strm.next_out = ls->out;
        ls->strm.avail_out = ls->out_cap;
        lzma_ret ret = lzma_code(&ls->strm, action);
        if (ret != LZMA_OK && ret != LZMA_STREAM_END) {
            if (ret == LZMA_MEM_ERROR)
                return lzma_stage_error(ls, ret, err);
            return bk_error_set(err, BK_EINTERNAL, ls->st.op, NULL,
                                "lzma compression failed: liblzma code %d", (int)ret);
        }
        int rc = codec_stage_forward(&ls->st, ls->out, ls->out_cap - ls->strm.avail_out, err);
        if (rc != BK_OK)
            return rc;
        if (action == LZMA_FINISH ? ret == LZMA_STREAM_END : ls->strm.avail_in == 0)
            return BK_OK;
    }
}

static int lzma_compress_write(struct bk_sink *sink, const void *data, size_t len,
                               struct bk_error *err)
{
    struct lzma_stage *ls = (struct lzma_stage *)sink;
    int rc = codec_stage_check(&ls->st, err);
    if (rc != BK_OK)
        return rc;
    return codec_stage_result(&ls->st, lzma_compress_run(ls, data, len, LZMA_RUN, err));
}

static int lzma_compress_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct lzma_stage *ls = (struct lzma_stage *)sink;
    int rc = codec_stage_check(&ls->st, err);
    if (rc != BK_OK)
        return rc;
    rc = lzma_compress_run(ls, NULL, 0, LZMA_FINISH, err);
    if (rc == BK_OK)
        ls->st.state = CODEC_STAGE_FINISHED;
    return codec_stage_result(&ls->st, rc);
}

static const struct bk_sink_ops lzma_compress_ops = {
    "lzma-compress", lzma_compress_write, lzma_compress_finish, lzma_stage_abort, lzma_stage_free
};

static int lzma_stage_alloc(struct lzma_stage **out, const struct bk_sink_ops *ops,
                            const char *op, struct bk_sink *next, struct bk_error *err)
{
    static const lzma_stream strm_init = LZMA_STREAM_INIT;
    struct lzma_stage *ls = calloc(1, sizeof(*ls));

    if (ls == NULL)
        return bk_error_set(err, BK_ENOMEM, op, NULL, "out of memory");
    ls->st.base.ops = ops;
    ls->st.base.next = next;
    ls->st.op = op;
    ls->strm = strm_init;
    ls->out_cap = CODEC_CHUNK_CAP;
    ls->out = malloc(ls->out_cap);
    if (ls->out == NULL) {
        free(ls);
        return bk_error_set(err, BK_ENOMEM, op, NULL, "out of memory");
    }
    *out = ls;
    return BK_OK;
}

int codec_lzma_compress_new(struct bk_sink **out, const struct codec_opts *opts,
                            struct bk_sink *next, struct bk_error *err)
{
    struct lzma_stage *ls = NULL;
    lzma_options_lzma lz;
    int preset = opts->level == 0 ? (int)LZMA_PRESET_DEFAULT : opts->level;
    int rc = lzma_stage_alloc(&ls, &lzma_compress_ops, "lzma_compress", next, err);

    if (rc != BK_OK)
        return rc;
    if (preset < 1 || preset > 9) {
        rc = bk_error_set(err, BK_EINVAL, ls->st.op, NULL, "lzma level %d is outside 1..9",
                          opts->level);
        goto out;
    }
    if (lzma_lzma_preset(&lz, (uint32_t)preset)) {
        rc = bk_error_set(err, BK_EINTERNAL, ls->st.op, NULL, "liblzma has no preset %d", preset);
        goto out;
    }
    /* The header WAL-G writes: 0x5D, 8 MiB dictionary, whatever the preset would pick. */
    lz.dict_size = LZMA_DICT_BYTES;
    lz.lc = 3;
    lz.lp = 0;
    lz.pb = 2;
    lzma_ret ret = lzma_alone_encoder(&ls->strm, &lz);
    if (ret != LZMA_OK) {
        rc = ret == LZMA_MEM_ERROR ? lzma_stage_error(ls, ret, err)
                                   : bk_error_set(err, BK_EINTERNAL, ls->st.op, NULL,
                                                  "lzma encoder setup failed: liblzma code %d",
                                                  (int)ret);
        goto out;
    }
    ls->strm_live = true;
out:
    if (rc != BK_OK) {
        lzma_stage_free(&ls->st.base);
        return rc;
    }
    *out = &ls->st.base;
    return BK_OK;
}

/* ---- decompressor ---- */

static int lzma_decompress_write(struct bk_sink *sink, const void *data, size_t len,
                                 struct bk_error *err)
{
    struct lzma_stage *ls = (struct lzma_stage *)sink;
    int rc = codec_stage_check(&ls->st, err);
    if (rc != BK_OK)
        return rc;
    if (ls->ended)
        return codec_stage_result(&ls->st, bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL,
                                  "garbage after the end of the lzma stream"));

    ls->strm.next_in = data;
    ls->strm.avail_in = len;
    for (;;) {
        ls->strm.next_out = ls->out;
        ls->strm.avail_out = ls->out_cap;
        lzma_ret ret = lzma_code(&ls->strm, LZMA_RUN);
        if (ret != LZMA_OK && ret != LZMA_STREAM_END) {
            rc = lzma_stage_error(ls, ret, err);
            break;
        }
        rc = codec_stage_forward(&ls->st, ls->out, ls->out_cap - ls->strm.avail_out, err);
        if (rc != BK_OK)
            break;
        if (ret == LZMA_STREAM_END) {
            ls->ended = true;
            if (ls->strm.avail_in > 0)
                rc = bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL,
                                  "garbage after the end of the lzma stream");
            break;
        }
        /* A full output buffer may leave decoded bytes inside liblzma: go round again. */
        if (ls->strm.avail_in == 0 && ls->strm.avail_out > 0)
            break;
    }
    return codec_stage_result(&ls->st, rc);
}

static int lzma_decompress_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct lzma_stage *ls = (struct lzma_stage *)sink;
    int rc = codec_stage_check(&ls->st, err);
    if (rc != BK_OK)
        return rc;
    /* A stream with an exact size in its header may end without a marker: LZMA_FINISH lets
     * liblzma say so; anything short of LZMA_STREAM_END here is a truncated stream. */
    ls->strm.next_in = NULL;
    ls->strm.avail_in = 0;
    while (!ls->ended) {
        ls->strm.next_out = ls->out;
        ls->strm.avail_out = ls->out_cap;
        lzma_ret ret = lzma_code(&ls->strm, LZMA_FINISH);
        size_t produced = ls->out_cap - ls->strm.avail_out;
        if (ret == LZMA_STREAM_END)
            ls->ended = true;
        else if (ret != LZMA_OK || produced == 0) {
            rc = bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL, "truncated lzma stream");
            break;
        }
        rc = codec_stage_forward(&ls->st, ls->out, produced, err);
        if (rc != BK_OK)
            break;
    }
    if (rc == BK_OK)
        ls->st.state = CODEC_STAGE_FINISHED;
    return codec_stage_result(&ls->st, rc);
}

static const struct bk_sink_ops lzma_decompress_ops = {
    "lzma-decompress", lzma_decompress_write, lzma_decompress_finish, lzma_stage_abort,
    lzma_stage_free
};

int codec_lzma_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err)
{
    struct lzma_stage *ls = NULL;
    int rc = lzma_stage_alloc(&ls, &lzma_decompress_ops, "lzma_decompress", next, err);

    if (rc != BK_OK)
        return rc;
    lzma_ret ret = lzma_alone_decoder(&ls->strm, LZMA_DECODE_MEMLIMIT);
    if (ret != LZMA_OK) {
        rc = ret == LZMA_MEM_ERROR ? lzma_stage_error(ls, ret, err)
                                   : bk_error_set(err, BK_EINTERNAL, ls->st.op, NULL,
                                                  "lzma decoder setup failed: liblzma code %d",
                                                  (int)ret);
        lzma_stage_free(&ls->st.base);
        return rc;
    }
    ls->strm_live = true;
    *out = &ls->st.base;
    return BK_OK;
}

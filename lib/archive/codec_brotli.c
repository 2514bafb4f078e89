/*
 * brotli stages over libbrotlienc/libbrotlidec's streaming API. The output is a raw brotli
 * stream (brotli has no magic), what WAL-G's cbrotli writer produces; quality 3 by default as
 * in WAL-G, window left at the library default (4 MiB). The decompressor stops at the end of
 * the stream; bytes after it are an error, and large-window streams are refused.
 */
#include "codec_internal.h"

#include <stdbool.h>
#include <stdlib.h>

#include <brotli/decode.h>
#include <brotli/encode.h>

#define BROTLI_DEFAULT_LEVEL 3   /* WAL-G's cbrotli quality */

struct brotli_stage {
    struct codec_stage st;
    BrotliEncoderState *enc;      /* compressor only */
    BrotliDecoderState *dec;      /* decompressor only */
    bool ended;                   /* decompressor: the stream's last meta-block was read */
    uint8_t *out;
    size_t out_cap;
};

static void brotli_release(struct brotli_stage *bs)
{
    if (bs->enc != NULL)
        BrotliEncoderDestroyInstance(bs->enc);
    bs->enc = NULL;
    if (bs->dec != NULL)
        BrotliDecoderDestroyInstance(bs->dec);
    bs->dec = NULL;
    free(bs->out);
    bs->out = NULL;
}

static void brotli_abort(struct bk_sink *sink)
{
    struct brotli_stage *bs = (struct brotli_stage *)sink;
    brotli_release(bs);
    bs->st.state = CODEC_STAGE_ABORTED;
}

static void brotli_free(struct bk_sink *sink)
{
    struct brotli_stage *bs = (struct brotli_stage *)sink;
    brotli_release(bs);
    free(bs);
}

static int brotli_alloc(struct brotli_stage **out, const struct bk_sink_ops *ops, const char *op,
                        struct bk_sink *next, struct bk_error *err)
{
    struct brotli_stage *bs = calloc(1, sizeof(*bs));
    if (bs == NULL)
        return bk_error_set(err, BK_ENOMEM, op, NULL, "out of memory");
    bs->st.base.ops = ops;
    bs->st.base.next = next;
    bs->st.op = op;
    bs->out_cap = CODEC_CHUNK_CAP;
    bs->out = malloc(bs->out_cap);
    if (bs->out == NULL) {
        free(bs);
        return bk_error_set(err, BK_ENOMEM, op, NULL, "out of memory");
    }
    *out = bs;
    return BK_OK;
}

/* ---- compressor ---- */

/* Runs the encoder until the input is consumed and no output is pending (PROCESS) or the
 * stream is complete (FINISH). */
static int brotli_compress_run(struct brotli_stage *bs, const uint8_t *data, size_t len,
                               BrotliEncoderOperation op, struct bk_error *err)
{
    size_t avail_in = len;
    const uint8_t *next_in = data;
    for (;;) {
        size_t avail_out = bs->out_cap;
        uint8_t *next_out = bs->out;
        if (!BrotliEncoderCompressStream(bs->enc, op, &avail_in, &next_in, &avail_out, &next_out,
                                         NULL))
            return bk_error_set(err, BK_EINTERNAL, bs->st.op, NULL, "brotli compression failed");
        int rc = codec_stage_forward(&bs->st, bs->out, bs->out_cap - avail_out, err);
        if (rc != BK_OK)
            return rc;
        if (BrotliEncoderHasMoreOutput(bs->enc))
            continue;
        if (op == BROTLI_OPERATION_FINISH ? BrotliEncoderIsFinished(bs->enc) : avail_in == 0)
            return BK_OK;
    }
}

static int brotli_compress_write(struct bk_sink *sink, const void *data, size_t len,
                                 struct bk_error *err)
{
    struct brotli_stage *bs = (struct brotli_stage *)sink;
    int rc = codec_stage_check(&bs->st, err);
    if (rc != BK_OK)
        return rc;
    return codec_stage_result(&bs->st,
                              brotli_compress_run(bs, data, len, BROTLI_OPERATION_PROCESS, err));
}

static int brotli_compress_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct brotli_stage *bs = (struct brotli_stage *)sink;
    int rc = codec_stage_check(&bs->st, err);
    if (rc != BK_OK)
        return rc;
    rc = brotli_compress_run(bs, NULL, 0, BROTLI_OPERATION_FINISH, err);
    if (rc == BK_OK)
        bs->st.state = CODEC_STAGE_FINISHED;
    return codec_stage_result(&bs->st, rc);
}

static const struct bk_sink_ops brotli_compress_ops = {
    "brotli-compress", brotli_compress_write, brotli_compress_finish, brotli_abort, brotli_free
};

int codec_brotli_compress_new(struct bk_sink **out, const struct codec_opts *opts,
                              struct bk_sink *next, struct bk_error *err)
{
    struct brotli_stage *bs = NULL;
    int level = opts->level == 0 ? BROTLI_DEFAULT_LEVEL : opts->level;
    int rc = brotli_alloc(&bs, &brotli_compress_ops, "brotli_compress", next, err);

    if (rc != BK_OK)
        return rc;
    if (level < 1 || level > BROTLI_MAX_QUALITY) {
        rc = bk_error_set(err, BK_EINVAL, bs->st.op, NULL, "brotli level %d is outside 1..%d",
                          level, BROTLI_MAX_QUALITY);
        goto out;
    }
    bs->enc = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (bs->enc == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, bs->st.op, NULL, "out of memory");
        goto out;
    }
    if (!BrotliEncoderSetParameter(bs->enc, BROTLI_PARAM_QUALITY, (uint32_t)level))
        rc = bk_error_set(err, BK_EINVAL, bs->st.op, NULL, "brotli level %d rejected", level);
out:
    if (rc != BK_OK) {
        brotli_free(&bs->st.base);
        return rc;
    }
    *out = &bs->st.base;
    return BK_OK;
}

/* ---- decompressor ---- */

static int brotli_decompress_write(struct bk_sink *sink, const void *data, size_t len,
                                   struct bk_error *err)
{
    struct brotli_stage *bs = (struct brotli_stage *)sink;
    int rc = codec_stage_check(&bs->st, err);
    if (rc != BK_OK)
        return rc;
    if (bs->ended)
        return codec_stage_result(&bs->st, bk_error_set(err, BK_ECORRUPT, bs->st.op, NULL,
                                  "garbage after the end of the brotli stream"));

    size_t avail_in = len;
    const uint8_t *next_in = data;
    for (;;) {
        size_t avail_out = bs->out_cap;
        uint8_t *next_out = bs->out;
        BrotliDecoderResult res = BrotliDecoderDecompressStream(bs->dec, &avail_in, &next_in,
                                                                &avail_out, &next_out, NULL);
        if (res == BROTLI_DECODER_RESULT_ERROR) {
            rc = bk_error_set(err, BK_ECORRUPT, bs->st.op, NULL, "corrupt brotli stream: %s",
                              BrotliDecoderErrorString(BrotliDecoderGetErrorCode(bs->dec)));
            break;
        }
        rc = codec_stage_forward(&bs->st, bs->out, bs->out_cap - avail_out, err);
        if (rc != BK_OK)
            break;
        if (res == BROTLI_DECODER_RESULT_SUCCESS) {
            bs->ended = true;
            if (avail_in > 0)
                rc = bk_error_set(err, BK_ECORRUPT, bs->st.op, NULL,
                                  "garbage after the end of the brotli stream");
            break;
        }
        if (res == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
            break;
        /* BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT: go round with an empty buffer. */
    }
    return codec_stage_result(&bs->st, rc);
}

static int brotli_decompress_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct brotli_stage *bs = (struct brotli_stage *)sink;
    int rc = codec_stage_check(&bs->st, err);
    if (rc != BK_OK)
        return rc;
    if (!bs->ended)
        rc = bk_error_set(err, BK_ECORRUPT, bs->st.op, NULL, "truncated brotli stream");
    else
        bs->st.state = CODEC_STAGE_FINISHED;
    return codec_stage_result(&bs->st, rc);
}

static const struct bk_sink_ops brotli_decompress_ops = {
    "brotli-decompress", brotli_decompress_write, brotli_decompress_finish, brotli_abort,
    brotli_free
};

int codec_brotli_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err)
{
    struct brotli_stage *bs = NULL;
    int rc = brotli_alloc(&bs, &brotli_decompress_ops, "brotli_decompress", next, err);

    if (rc != BK_OK)
        return rc;
    bs->dec = BrotliDecoderCreateInstance(NULL, NULL, NULL);
    if (bs->dec == NULL) {
        brotli_free(&bs->st.base);
        return bk_error_set(err, BK_ENOMEM, "brotli_decompress", NULL, "out of memory");
    }
    *out = &bs->st.base;
    return BK_OK;
}

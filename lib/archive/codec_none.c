/*
 * The "none" codec (WALG_COMPRESSION_METHOD=none, objects without an extension): a
 * pass-through stage that forwards every write unchanged. It holds no buffer; it exists so the
 * pipeline builder never special-cases "no compression".
 */
#include "codec_internal.h"

#include <stdlib.h>

struct none_stage {
    struct codec_stage st;
};

static int none_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    struct codec_stage *st = (struct codec_stage *)sink;
    int rc = codec_stage_check(st, err);
    if (rc != BK_OK)
        return rc;
    return codec_stage_result(st, codec_stage_forward(st, data, len, err));
}

static int none_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct codec_stage *st = (struct codec_stage *)sink;
    int rc = codec_stage_check(st, err);
    if (rc != BK_OK)
        return rc;
    st->state = CODEC_STAGE_FINISHED;
    return BK_OK;
}

static void none_abort(struct bk_sink *sink)
{
    ((struct codec_stage *)sink)->state = CODEC_STAGE_ABORTED;
}

static void none_free(struct bk_sink *sink)
{
    free(sink);
}

static const struct bk_sink_ops none_compress_ops = {
    "none-compress", none_write, none_finish, none_abort, none_free
};
static const struct bk_sink_ops none_decompress_ops = {
    "none-decompress", none_write, none_finish, none_abort, none_free
};

static int none_new(struct bk_sink **out, const struct bk_sink_ops *ops, const char *op,
                    struct bk_sink *next, struct bk_error *err)
{
    struct none_stage *ns = calloc(1, sizeof(*ns));
    if (ns == NULL)
        return bk_error_set(err, BK_ENOMEM, op, NULL, "out of memory");
    ns->st.base.ops = ops;
    ns->st.base.next = next;
    ns->st.op = op;
    *out = &ns->st.base;
    return BK_OK;
}

int codec_none_compress_new(struct bk_sink **out, const struct codec_opts *opts,
                            struct bk_sink *next, struct bk_error *err)
{
    (void)opts;
    return none_new(out, &none_compress_ops, "none_compress", next, err);
}

int codec_none_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err)
{
    return none_new(out, &none_decompress_ops, "none_decompress", next, err);
}

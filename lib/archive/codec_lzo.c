/*
 * Read-only lzo codec: the lzop file format as WAL-E writes it (`lzop` piped into gpg), so
 * objects archived by WAL-E can be restored. Parses the lzop header (magic, versions, method,
 * flags, name, header checksum, optional extra field), then blocks of (uncompressed length,
 * compressed length, checksums, data) decoded with liblzo2's lzo1x_decompress_safe, checking
 * every checksum the header announces. Streams with two fixed 256 KiB block buffers.
 */
#include "codec_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lzo/lzo1x.h>

/* lzop 1.04's header flags (conf.h) */
#define LZOP_F_ADLER32_D     0x00000001u
#define LZOP_F_ADLER32_C     0x00000002u
#define LZOP_F_H_EXTRA_FIELD 0x00000040u
#define LZOP_F_CRC32_D       0x00000100u
#define LZOP_F_CRC32_C       0x00000200u
#define LZOP_F_MULTIPART     0x00000400u
#define LZOP_F_H_FILTER      0x00000800u
#define LZOP_F_H_CRC32       0x00001000u
#define LZOP_F_RESERVED      0x000FC000u   /* not in F_MASK, F_OS_MASK or F_CS_MASK */

#define LZOP_VERSION_MIN     0x0900u       /* older files are rejected by lzop too */
#define LZOP_VERSION_NEW     0x0940u       /* adds version_needed, level, mtime_high */
#define LZOP_VERSION_MAX     0x1040u       /* lzop 1.04: newer "needed" versions are refused */
#define LZOP_BLOCK_CAP       ((size_t)256 * 1024)   /* lzop's BLOCK_SIZE */
#define LZOP_BLOCK_MAX       ((uint32_t)64 << 20)   /* lzop's MAX_BLOCK_SIZE: above is damage */
#define LZOP_SPLIT_MARK      0xFFFFFFFFu
/* magic 9 + fixed fields 29 + filter 4 + name 255 + checksum 4 */
#define LZOP_HEADER_CAP      301

static const uint8_t lzop_magic[9] = { 0x89, 0x4C, 0x5A, 0x4F, 0x00, 0x0D, 0x0A, 0x1A, 0x0A };

enum lzo_phase {
    LZO_HEADER,        /* gathering the header into fields[] */
    LZO_EXTRA_LEN,     /* extra field: 4-byte length */
    LZO_EXTRA_DATA,    /* extra field: skipped, checksummed */
    LZO_EXTRA_SUM,     /* extra field: 4-byte checksum */
    LZO_BLOCK_HEAD,    /* lengths and checksums of the next block */
    LZO_BLOCK_DATA,    /* compressed bytes of the block */
    LZO_END            /* the zero-length end mark was read */
};

struct lzo_stage {
    struct codec_stage st;
    enum lzo_phase phase;
    uint8_t fields[LZOP_HEADER_CAP];   /* header, extra length/checksum or block head so far */
    size_t fields_len;
    uint32_t flags;
    uint32_t extra_left;               /* extra field bytes still to skip */
    uint32_t extra_sum;                /* running checksum of the extra field */
    uint32_t dst_len, src_len;         /* current block */
    uint32_t d_adler, d_crc, c_adler, c_crc;
    uint64_t block_no;                 /* 1-based, for messages */
    uint8_t *in;                       /* compressed block, LZOP_BLOCK_CAP */
    size_t in_len;
    uint8_t *out;                      /* decompressed block, LZOP_BLOCK_CAP */
};

static uint32_t be16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }
static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static bool lzo_header_uses_crc32(const struct lzo_stage *ls)
{
    return (ls->flags & LZOP_F_H_CRC32) != 0;
}

static uint32_t lzo_header_sum(bool crc32, uint32_t sum, const uint8_t *p, size_t len)
{
    return crc32 ? lzo_crc32(sum, p, len) : lzo_adler32(sum, p, len);
}

static int lzo_corrupt(struct lzo_stage *ls, struct bk_error *err, const char *what)
{
    return bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL, "corrupt lzo stream: %s", what);
}

/* Walks the header gathered so far. Sets *need to the total length required to go on, or to
 * 0 when the header is complete and valid. */
static int lzo_header_parse(struct lzo_stage *ls, size_t *need, struct bk_error *err)
{
    const uint8_t *h = ls->fields;
    size_t have = ls->fields_len;
    size_t off = 0;

#define LZO_NEED(n)                 \
    do {                            \
        if (have < off + (n)) {     \
            *need = off + (n);      \
            return BK_OK;           \
        }                           \
    } while (0)

    LZO_NEED(sizeof(lzop_magic));
    if (memcmp(h, lzop_magic, sizeof(lzop_magic)) != 0)
        return lzo_corrupt(ls, err, "bad lzop magic");
    off = sizeof(lzop_magic);
    LZO_NEED(4);
    uint32_t version = be16(h + off);
    off += 4;   /* version, lib_version */
    if (version < LZOP_VERSION_MIN)
        return lzo_corrupt(ls, err, "lzop header version is too old");
    if (version >= LZOP_VERSION_NEW) {
        LZO_NEED(2);
        uint32_t needed = be16(h + off);
        off += 2;
        if (needed > LZOP_VERSION_MAX)
            return bk_error_set(err, BK_EUNSUPPORTED, ls->st.op, NULL,
                                "lzo stream needs lzop version %x.%03x to extract",
                                needed >> 12, needed & 0xFFF);
        if (needed < LZOP_VERSION_MIN)
            return lzo_corrupt(ls, err, "bad lzop version needed to extract");
    }
    LZO_NEED(1);
    uint32_t method = h[off];
    off += version >= LZOP_VERSION_NEW ? 2 : 1;   /* method, level */
    LZO_NEED(4);
    uint32_t flags = be32(h + off);
    off += 4;
    if (flags & LZOP_F_H_FILTER)
        off += 4;
    off += version >= LZOP_VERSION_NEW ? 12 : 8;  /* mode, mtime_low, mtime_high */
    LZO_NEED(1);
    off += 1 + h[off];                            /* name length, name */
    LZO_NEED(4);
    ls->flags = flags;
    uint32_t sum = lzo_header_uses_crc32(ls) ? 0 : 1;
    sum = lzo_header_sum(lzo_header_uses_crc32(ls), sum, h + sizeof(lzop_magic),
                         off - sizeof(lzop_magic));
    if (sum != be32(h + off))
        return lzo_corrupt(ls, err, "lzop header checksum mismatch");
#undef LZO_NEED

    if (method < 1 || method > 3)   /* M_LZO1X_1, M_LZO1X_1_15, M_LZO1X_999 */
        return bk_error_set(err, BK_EUNSUPPORTED, ls->st.op, NULL,
                            "lzo method %u is not supported (only lzo1x)", method);
    if (flags & LZOP_F_RESERVED)
        return lzo_corrupt(ls, err, "unknown lzop header flags");
    if (flags & LZOP_F_H_FILTER)
        return bk_error_set(err, BK_EUNSUPPORTED, ls->st.op, NULL,
                            "lzop filters are not supported");
    if (flags & LZOP_F_MULTIPART)
        return bk_error_set(err, BK_EUNSUPPORTED, ls->st.op, NULL,
                            "multi-part lzop files are not supported");
    *need = 0;
    return BK_OK;
}

/* Walks the block head gathered so far (lengths, then the checksums the flags announce).
 * Sets *need as lzo_header_parse does; an end mark moves to LZO_END. */
static int lzo_block_head_parse(struct lzo_stage *ls, size_t *need, struct bk_error *err)
{
    const uint8_t *h = ls->fields;
    if (ls->fields_len < 4) {
        *need = 4;
        return BK_OK;
    }
    ls->dst_len = be32(h);
    if (ls->dst_len == 0) {
        ls->phase = LZO_END;
        *need = 0;
        return BK_OK;
    }
    if (ls->dst_len == LZOP_SPLIT_MARK)
        return bk_error_set(err, BK_EUNSUPPORTED, ls->st.op, NULL,
                            "split lzop files are not supported");
    if (ls->dst_len > LZOP_BLOCK_MAX)
        return lzo_corrupt(ls, err, "block length over 64 MiB");
    if (ls->dst_len > LZOP_BLOCK_CAP)
        return bk_error_set(err, BK_EUNSUPPORTED, ls->st.op, NULL,
                            "lzo block %llu of %u bytes is over lzop's 256 KiB block size",
                            (unsigned long long)ls->block_no, ls->dst_len);
    if (ls->fields_len < 8) {
        *need = 8;
        return BK_OK;
    }
    ls->src_len = be32(h + 4);
    if (ls->src_len == 0 || ls->src_len > ls->dst_len)
        return lzo_corrupt(ls, err, "bad compressed block length");

    bool packed = ls->src_len < ls->dst_len;
    size_t total = 8;
    total += (ls->flags & LZOP_F_ADLER32_D) ? 4 : 0;
    total += (ls->flags & LZOP_F_CRC32_D) ? 4 : 0;
    total += (packed && (ls->flags & LZOP_F_ADLER32_C)) ? 4 : 0;
    total += (packed && (ls->flags & LZOP_F_CRC32_C)) ? 4 : 0;
    if (ls->fields_len < total) {
        *need = total;
        return BK_OK;
    }
    size_t off = 8;
    if (ls->flags & LZOP_F_ADLER32_D) {
        ls->d_adler = be32(h + off);
        off += 4;
    }
    if (ls->flags & LZOP_F_CRC32_D) {
        ls->d_crc = be32(h + off);
        off += 4;
    }
    if (packed && (ls->flags & LZOP_F_ADLER32_C)) {
        ls->c_adler = be32(h + off);
        off += 4;
    }
    if (packed && (ls->flags & LZOP_F_CRC32_C))
        ls->c_crc = be32(h + off);
    *need = 0;
    return BK_OK;
}

static int lzo_checksum_mismatch(struct lzo_stage *ls, const char *which, struct bk_error *err)
{
    return bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL,
                        "corrupt lzo stream: %s checksum mismatch in block %llu", which,
                        (unsigned long long)ls->block_no);
}

/* Checks, decompresses and forwards the complete block in ls->in. */
static int lzo_block_emit(struct lzo_stage *ls, struct bk_error *err)
{
    const uint8_t *data = ls->in;
    if (ls->src_len < ls->dst_len) {
        if ((ls->flags & LZOP_F_ADLER32_C) && lzo_adler32(1, ls->in, ls->src_len) != ls->c_adler)
            return lzo_checksum_mismatch(ls, "compressed-data adler32", err);
        if ((ls->flags & LZOP_F_CRC32_C) && lzo_crc32(0, ls->in, ls->src_len) != ls->c_crc)
            return lzo_checksum_mismatch(ls, "compressed-data crc32", err);
        lzo_uint out_len = ls->dst_len;
        int r = lzo1x_decompress_safe(ls->in, ls->src_len, ls->out, &out_len, NULL);
        if (r != LZO_E_OK || out_len != ls->dst_len)
            return bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL,
                                "corrupt lzo stream: block %llu does not decompress (lzo error %d)",
                                (unsigned long long)ls->block_no, r);
        data = ls->out;
    }
    if ((ls->flags & LZOP_F_ADLER32_D) && lzo_adler32(1, data, ls->dst_len) != ls->d_adler)
        return lzo_checksum_mismatch(ls, "adler32", err);
    if ((ls->flags & LZOP_F_CRC32_D) && lzo_crc32(0, data, ls->dst_len) != ls->d_crc)
        return lzo_checksum_mismatch(ls, "crc32", err);
    return codec_stage_forward(&ls->st, data, ls->dst_len, err);
}

/* Copies up to need - fields_len bytes of input into fields. */
static void lzo_gather(struct lzo_stage *ls, size_t need, const uint8_t **p, size_t *len)
{
    size_t take = need - ls->fields_len;
    if (take > *len)
        take = *len;
    memcpy(ls->fields + ls->fields_len, *p, take);
    ls->fields_len += take;
    *p += take;
    *len -= take;
}

/* Consumes as much of p/len as the current phase takes; at most one phase change per call. */
static int lzo_step(struct lzo_stage *ls, const uint8_t **p, size_t *len, struct bk_error *err)
{
    size_t need = 0;
    int rc = BK_OK;
    bool crc = lzo_header_uses_crc32(ls);

    switch (ls->phase) {
    case LZO_HEADER:
        rc = lzo_header_parse(ls, &need, err);
        if (rc == BK_OK && need > 0) {
            lzo_gather(ls, need, p, len);
        } else if (rc == BK_OK) {
            ls->fields_len = 0;
            ls->phase = (ls->flags & LZOP_F_H_EXTRA_FIELD) ? LZO_EXTRA_LEN : LZO_BLOCK_HEAD;
            ls->block_no = 1;
        }
        return rc;
    case LZO_EXTRA_LEN:
    case LZO_EXTRA_SUM:
        lzo_gather(ls, 4, p, len);
        if (ls->fields_len < 4)
            return BK_OK;
        ls->fields_len = 0;
        if (ls->phase == LZO_EXTRA_SUM) {
            if (be32(ls->fields) != ls->extra_sum)
                return lzo_corrupt(ls, err, "lzop extra field checksum mismatch");
            ls->phase = LZO_BLOCK_HEAD;
            return BK_OK;
        }
        ls->extra_left = be32(ls->fields);
        ls->extra_sum = lzo_header_sum(crc, crc ? 0 : 1, ls->fields, 4);
        ls->phase = LZO_EXTRA_DATA;
        return BK_OK;
    case LZO_EXTRA_DATA: {
        size_t take = *len < ls->extra_left ? *len : ls->extra_left;
        ls->extra_sum = lzo_header_sum(crc, ls->extra_sum, *p, take);
        ls->extra_left -= (uint32_t)take;
        *p += take;
        *len -= take;
        if (ls->extra_left == 0)
            ls->phase = LZO_EXTRA_SUM;
        return BK_OK;
    }
    case LZO_BLOCK_HEAD:
        rc = lzo_block_head_parse(ls, &need, err);
        if (rc == BK_OK && need > 0) {
            lzo_gather(ls, need, p, len);
        } else if (rc == BK_OK) {
            ls->fields_len = 0;
            if (ls->phase == LZO_BLOCK_HEAD) {
                ls->phase = LZO_BLOCK_DATA;
                ls->in_len = 0;
            }
        }
        return rc;
    case LZO_BLOCK_DATA: {
        size_t take = ls->src_len - ls->in_len;
        if (take > *len)
            take = *len;
        memcpy(ls->in + ls->in_len, *p, take);
        ls->in_len += take;
        *p += take;
        *len -= take;
        if (ls->in_len < ls->src_len)
            return BK_OK;
        rc = lzo_block_emit(ls, err);
        ls->block_no++;
        ls->phase = LZO_BLOCK_HEAD;
        return rc;
    }
    case LZO_END:
    default:
        return bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL,
                            "garbage after the end of the lzo stream");
    }
}

static int lzo_decompress_write(struct bk_sink *sink, const void *data, size_t len,
                                struct bk_error *err)
{
    struct lzo_stage *ls = (struct lzo_stage *)sink;
    const uint8_t *p = data;
    int rc = codec_stage_check(&ls->st, err);

    /* The header and block heads parse complete once their last byte is in, so a phase
     * change can need one more step with no input left. */
    while (rc == BK_OK && (len > 0 || ls->phase == LZO_HEADER || ls->phase == LZO_BLOCK_HEAD)) {
        enum lzo_phase before = ls->phase;
        size_t len_before = len, fields_before = ls->fields_len;
        rc = lzo_step(ls, &p, &len, err);
        if (len == len_before && ls->phase == before && ls->fields_len == fields_before)
            break;   /* waiting for input */
    }
    return codec_stage_result(&ls->st, rc);
}

static int lzo_decompress_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct lzo_stage *ls = (struct lzo_stage *)sink;
    int rc = codec_stage_check(&ls->st, err);
    if (rc != BK_OK)
        return rc;
    if (ls->phase != LZO_END)
        rc = bk_error_set(err, BK_ECORRUPT, ls->st.op, NULL, "truncated lzo stream");
    else
        ls->st.state = CODEC_STAGE_FINISHED;
    return codec_stage_result(&ls->st, rc);
}

static void lzo_release(struct lzo_stage *ls)
{
    free(ls->in);
    ls->in = NULL;
    free(ls->out);
    ls->out = NULL;
}

static void lzo_abort(struct bk_sink *sink)
{
    struct lzo_stage *ls = (struct lzo_stage *)sink;
    lzo_release(ls);
    ls->st.state = CODEC_STAGE_ABORTED;
}

static void lzo_free(struct bk_sink *sink)
{
    struct lzo_stage *ls = (struct lzo_stage *)sink;
    lzo_release(ls);
    free(ls);
}

static const struct bk_sink_ops lzo_decompress_ops = {
    "lzo-decompress", lzo_decompress_write, lzo_decompress_finish, lzo_abort, lzo_free
};

int codec_lzo_decompress_new(struct bk_sink **out, struct bk_sink *next, struct bk_error *err)
{
    if (lzo_init() != LZO_E_OK)
        return bk_error_set(err, BK_EINTERNAL, "lzo_decompress", NULL,
                            "liblzo2 failed to initialise");
    struct lzo_stage *ls = calloc(1, sizeof(*ls));
    if (ls == NULL)
        return bk_error_set(err, BK_ENOMEM, "lzo_decompress", NULL, "out of memory");
    ls->st.base.ops = &lzo_decompress_ops;
    ls->st.base.next = next;
    ls->st.op = "lzo_decompress";
    ls->phase = LZO_HEADER;
    ls->in = malloc(LZOP_BLOCK_CAP);
    ls->out = malloc(LZOP_BLOCK_CAP);
    if (ls->in == NULL || ls->out == NULL) {
        lzo_free(&ls->st.base);
        return bk_error_set(err, BK_ENOMEM, "lzo_decompress", NULL, "out of memory");
    }
    *out = &ls->st.base;
    return BK_OK;
}

/*
 * Suite "codec": round trips of every compressing codec over sizes 0, 1, 1000 and 1 MiB
 * (random and repetitive) written in chunks of 1, 7, 512 and 65536 bytes; the frame bytes
 * WAL-G needs (lz4 one frame, zstd checksum, lzma alone header); interop with the zstd, lz4,
 * xz and lzop tools; truncated, damaged and trailing-garbage inputs; lookups; and lzo
 * (read-only) against WAL-G's WAL-E test segment. Runs from the repository root.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lzo/lzo1x.h>
#include <zstd.h>

#include "bk_buf.h"
#include "bk_sink.h"
#include "codec.h"
#include "helpers/codec_testlib.h"

#define MIB ((size_t)1 << 20)
#define OUT_MAX TESTLIB_OUT_MAX
#define PACK(...) testlib_transcode(true, __VA_ARGS__)
#define UNPACK(...) testlib_transcode(false, __VA_ARGS__)

static const size_t chunk_sizes[] = { 1, 7, 512, 65536 };
#define CHUNK_COUNT 4
static const enum codec_id packers[] = { CODEC_ZSTD, CODEC_LZ4, CODEC_LZMA, CODEC_BROTLI,
                                         CODEC_NONE };
#define PACKER_COUNT 5

/* ---- helpers ---- */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* lz4: WAL-G's header and exactly one frame (blocks, end mark, 4-byte checksum at the end). */
static void check_lz4_frame(const uint8_t *c, size_t len)
{
    static const uint8_t head[7] = { 0x04, 0x22, 0x4D, 0x18, 0x64, 0x70, 0xB9 };
    ck_assert_uint_ge(len, 15);
    ck_assert_mem_eq(c, head, 7);
    size_t pos = 7;
    for (;;) {
        ck_assert_uint_le(pos + 4, len);
        uint32_t bs = le32(c + pos);
        pos += 4;
        if (bs == 0)
            break;
        ck_assert_uint_le(bs & 0x7FFFFFFFu, 4u << 20);
        pos += bs & 0x7FFFFFFFu;
    }
    ck_assert_uint_eq(pos + 4, len);   /* content checksum, then nothing */
}

static void check_zstd_frame(const uint8_t *c, size_t len)
{
    static const uint8_t magic[4] = { 0x28, 0xB5, 0x2F, 0xFD };
    ck_assert_uint_ge(len, 9);
    ck_assert_mem_eq(c, magic, 4);
    ck_assert_uint_eq((c[4] >> 2) & 1, 1);                   /* Content_Checksum_flag */
    ck_assert_uint_eq(ZSTD_findFrameCompressedSize(c, len), len);   /* one frame */
}

static void check_lzma_header(const uint8_t *c, size_t len)
{
    static const uint8_t head[13] = { 0x5D, 0x00, 0x00, 0x80, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,
                                      0xFF, 0xFF, 0xFF, 0xFF };
    ck_assert_uint_ge(len, 13);
    ck_assert_mem_eq(c, head, 13);
}

/* ---- round trips ---- */

START_TEST(test_roundtrip)
{
    enum codec_id id = packers[_i / CHUNK_COUNT];
    size_t chunk = chunk_sizes[_i % CHUNK_COUNT];
    static const size_t sizes[] = { 0, 1, 1000, MIB, MIB };
    for (int s = 0; s < 5; s++) {
        int kind = s == 4 ? 1 : 0;
        uint8_t *in = testlib_make_input(kind, sizes[s]);
        struct bk_buf packed, unpacked;
        struct bk_error err = BK_ERROR_INIT;

        int rc = PACK(id, NULL, in, sizes[s], chunk, &packed, &err);
        ck_assert_msg(rc == BK_OK, "%s compress: %s", codec_get(id)->name, err.message);
        if (id == CODEC_LZ4)
            check_lz4_frame(packed.data, packed.len);
        else if (id == CODEC_ZSTD)
            check_zstd_frame(packed.data, packed.len);
        else if (id == CODEC_LZMA)
            check_lzma_header(packed.data, packed.len);
        else if (id == CODEC_NONE) {
            ck_assert_uint_eq(packed.len, sizes[s]);
            ck_assert(sizes[s] == 0 || memcmp(packed.data, in, sizes[s]) == 0);
        }
        if (kind == 1 && id != CODEC_NONE)
            ck_assert_uint_lt(packed.len, sizes[s] / 20);   /* it did compress */

        rc = UNPACK(id, NULL, packed.data, packed.len, chunk, &unpacked, &err);
        ck_assert_msg(rc == BK_OK, "%s decompress: %s", codec_get(id)->name, err.message);
        ck_assert_uint_eq(unpacked.len, sizes[s]);
        ck_assert(sizes[s] == 0 || memcmp(unpacked.data, in, sizes[s]) == 0);
        bk_buf_free(&packed);
        bk_buf_free(&unpacked);
        free(in);
    }
}
END_TEST

START_TEST(test_levels_and_threads)
{
    static const struct { enum codec_id id; int level; int threads; } cases[] = {
        { CODEC_ZSTD, 19, 0 }, { CODEC_ZSTD, 1, 2 }, { CODEC_ZSTD, -5, 0 }, { CODEC_LZ4, 9, 0 },
        { CODEC_LZMA, 1, 0 }, { CODEC_LZMA, 9, 0 }, { CODEC_BROTLI, 11, 0 },
    };
    uint8_t *in = testlib_make_input(1, 3 * MIB);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct codec_opts opts = { cases[i].level, cases[i].threads };
        struct bk_buf packed, unpacked;
        struct bk_error err = BK_ERROR_INIT;
        ck_assert_int_eq(PACK(cases[i].id, &opts, in, 3 * MIB, 100000, &packed, &err), BK_OK);
        if (cases[i].id == CODEC_ZSTD)
            check_zstd_frame(packed.data, packed.len);
        if (cases[i].id == CODEC_LZ4)
            check_lz4_frame(packed.data, packed.len);
        if (cases[i].id == CODEC_LZMA)
            check_lzma_header(packed.data, packed.len);
        ck_assert_int_eq(UNPACK(cases[i].id, NULL, packed.data, packed.len, 4096, &unpacked,
                                &err), BK_OK);
        ck_assert_uint_eq(unpacked.len, 3 * MIB);
        ck_assert_mem_eq(unpacked.data, in, 3 * MIB);
        bk_buf_free(&packed);
        bk_buf_free(&unpacked);
    }
    free(in);
}
END_TEST

START_TEST(test_bad_options)
{
    static const struct { enum codec_id id; int level; int threads; const char *msg; } cases[] = {
        { CODEC_ZSTD, 23, 0, "zstd level 23 is outside" },
        { CODEC_LZ4, 13, 0, "lz4 level 13 is outside 0..12" },
        { CODEC_LZ4, -1, 0, "lz4 level -1 is outside 0..12" },
        { CODEC_LZMA, 10, 0, "lzma level 10 is outside 1..9" },
        { CODEC_BROTLI, 12, 0, "brotli level 12 is outside 1..11" },
        { CODEC_ZSTD, 0, -1, "zstd thread count -1 is negative" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bk_sink *next = NULL, *stage = (struct bk_sink *)1;
        struct bk_error err = BK_ERROR_INIT;
        struct codec_opts opts = { cases[i].level, cases[i].threads };
        ck_assert_int_eq(bk_sink_null_new(&next, &err), BK_OK);
        ck_assert_int_eq(codec_compress_new(&stage, cases[i].id, &opts, next, &err), BK_EINVAL);
        ck_assert_ptr_null(stage);
        ck_assert_msg(strncmp(err.message, cases[i].msg, strlen(cases[i].msg)) == 0,
                      "got \"%s\"", err.message);
        bk_sink_free(next);
    }
}
END_TEST

/* ---- lookups ---- */

START_TEST(test_lookup)
{
    static const struct { const char *name, *ext; enum codec_id id; bool packs; } rows[] = {
        { "zstd", "zst", CODEC_ZSTD, true }, { "lz4", "lz4", CODEC_LZ4, true },
        { "lzma", "lzma", CODEC_LZMA, true }, { "brotli", "br", CODEC_BROTLI, true },
        { "lzo", "lzo", CODEC_LZO, false }, { "none", "", CODEC_NONE, true },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct codec_info *by_ext = codec_by_ext(rows[i].ext);
        const struct codec_info *by_name = codec_by_name(rows[i].name);
        ck_assert_ptr_nonnull(by_ext);
        ck_assert_ptr_eq(by_ext, by_name);
        ck_assert_ptr_eq(by_ext, codec_get(rows[i].id));
        ck_assert_int_eq(by_ext->id, rows[i].id);
        ck_assert_str_eq(by_ext->name, rows[i].name);
        ck_assert_str_eq(by_ext->ext, rows[i].ext);
        ck_assert_int_eq(by_ext->can_compress, rows[i].packs);
        ck_assert_int_eq(by_ext->can_decompress, true);
    }
    static const char *unknown_ext[] = { "gz", ".zst", "zstd", "ZST", NULL };
    static const char *unknown_name[] = { "gzip", "zst", "", "ZSTD", NULL };
    for (int i = 0; i < 5; i++) {
        ck_assert_ptr_null(codec_by_ext(unknown_ext[i]));
        ck_assert_ptr_null(codec_by_name(unknown_name[i]));
    }
    ck_assert_ptr_null(codec_get(CODEC_COUNT));
    ck_assert_ptr_null(codec_get((enum codec_id)-1));

    static const enum codec_id order[] = { CODEC_LZ4, CODEC_LZMA, CODEC_BROTLI, CODEC_LZO,
                                           CODEC_ZSTD, CODEC_NONE };
    ck_assert_uint_eq(codec_fetch_order_len, 6);
    for (unsigned i = 0; i < 6; i++)
        ck_assert_int_eq(codec_fetch_order[i], order[i]);
}
END_TEST

START_TEST(test_lzo_compress_unsupported)
{
    struct bk_sink *next = NULL, *stage = (struct bk_sink *)1;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(bk_sink_null_new(&next, &err), BK_OK);
    ck_assert_int_eq(codec_compress_new(&stage, CODEC_LZO, NULL, next, &err), BK_EUNSUPPORTED);
    ck_assert_ptr_null(stage);
    ck_assert_str_eq(err.message, "lzo compression is not supported; it is read-only");
    ck_assert_int_eq(codec_compress_new(&stage, CODEC_COUNT, NULL, next, &err), BK_EINVAL);
    ck_assert_int_eq(codec_decompress_new(&stage, CODEC_ZSTD, NULL, &err), BK_EINVAL);
    bk_sink_free(next);
}
END_TEST

/* ---- damaged inputs ---- */

static const enum codec_id damage_codecs[] = { CODEC_ZSTD, CODEC_LZ4, CODEC_LZMA, CODEC_BROTLI };

/* Decodes data and expects rc with exactly msg. */
static void expect_decode(enum codec_id id, const uint8_t *data, size_t len, size_t chunk,
                          int rc_want, const char *msg)
{
    struct bk_buf out;
    struct bk_error err = BK_ERROR_INIT;
    int rc = UNPACK(id, NULL, data, len, chunk, &out, &err);
    ck_assert_msg(rc == rc_want, "%s len %zu: rc %d (%s), want %d", codec_get(id)->name, len, rc,
                  err.message, rc_want);
    if (msg != NULL)
        ck_assert_str_eq(err.message, msg);
    bk_buf_free(&out);
}

START_TEST(test_truncated)
{
    enum codec_id id = damage_codecs[_i];
    const char *name = codec_get(id)->name;
    char msg[64];
    uint8_t *in = testlib_make_input(1, MIB);
    struct bk_buf packed;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(PACK(id, NULL, in, MIB, 65536, &packed, &err), BK_OK);
    snprintf(msg, sizeof(msg), "truncated %s stream", name);

    const size_t cuts[] = { packed.len - 1, packed.len / 2, 3 };
    for (int c = 0; c < 3; c++) {
        for (int k = 0; k < CHUNK_COUNT; k++)
            expect_decode(id, packed.data, cuts[c], chunk_sizes[k], BK_ECORRUPT, msg);
    }
    /* 0 bytes: zstd and lz4 read an empty object as empty content (WAL-G's readers do). */
    if (id == CODEC_ZSTD || id == CODEC_LZ4)
        expect_decode(id, packed.data, 0, 1, BK_OK, NULL);
    else
        expect_decode(id, packed.data, 0, 1, BK_ECORRUPT, msg);
    bk_buf_free(&packed);
    free(in);
}
END_TEST

START_TEST(test_garbage_after_end)
{
    enum codec_id id = damage_codecs[_i];
    char msg[96];
    uint8_t *in = testlib_make_input(0, 5000);
    struct bk_buf packed;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(PACK(id, NULL, in, 5000, 512, &packed, &err), BK_OK);
    static const char junk[] = "this is not a frame at all";
    ck_assert_int_eq(bk_buf_append(&packed, junk, sizeof(junk) - 1, &err), BK_OK);

    snprintf(msg, sizeof(msg), "garbage after the end of the %s stream", codec_get(id)->name);
    for (int k = 0; k < CHUNK_COUNT; k++)
        expect_decode(id, packed.data, packed.len, chunk_sizes[k], BK_ECORRUPT, msg);
    bk_buf_free(&packed);
    free(in);
}
END_TEST

START_TEST(test_corrupt)
{
    enum codec_id id = damage_codecs[_i];
    uint8_t *in = testlib_make_input(1, MIB);
    struct bk_buf packed;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(PACK(id, NULL, in, MIB, 65536, &packed, &err), BK_OK);
    /* Flip one byte in the middle of the payload. zstd and lz4 catch it by checksum; lzma
     * and brotli have none, and for this fixed input the decoder trips over the damage. */
    packed.data[packed.len / 2] ^= 0x55;
    struct bk_buf out;
    int rc = UNPACK(id, NULL, packed.data, packed.len, 512, &out, &err);
    ck_assert_int_eq(rc, BK_ECORRUPT);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "corrupt %s stream: ", codec_get(id)->name);
    ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0, "got \"%s\"", err.message);
    bk_buf_free(&out);
    bk_buf_free(&packed);
    free(in);
}
END_TEST

START_TEST(test_checksum_messages)
{
    uint8_t *in = testlib_make_input(1, MIB);
    struct bk_buf packed, out;
    struct bk_error err = BK_ERROR_INIT;

    /* zstd: damage the 4-byte content checksum at the very end */
    ck_assert_int_eq(PACK(CODEC_ZSTD, NULL, in, MIB, 65536, &packed, &err), BK_OK);
    packed.data[packed.len - 1] ^= 1;
    ck_assert_int_eq(UNPACK(CODEC_ZSTD, NULL, packed.data, packed.len, 7, &out, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "corrupt zstd stream: Restored data doesn't match checksum");
    bk_buf_free(&out);
    bk_buf_free(&packed);

    /* lz4: same, xxh32 content checksum */
    ck_assert_int_eq(PACK(CODEC_LZ4, NULL, in, MIB, 65536, &packed, &err), BK_OK);
    packed.data[packed.len - 1] ^= 1;
    ck_assert_int_eq(UNPACK(CODEC_LZ4, NULL, packed.data, packed.len, 7, &out, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "corrupt lz4 stream: ERROR_contentChecksum_invalid");
    bk_buf_free(&out);
    bk_buf_free(&packed);
    free(in);
}
END_TEST

/* ---- frames: concatenation, skippable frames, stage states ---- */

START_TEST(test_concatenated_frames)
{
    uint8_t *a = testlib_make_input(0, 300000), *b = testlib_make_input(1, 200000);
    static const uint8_t skip[] = { 0x50, 0x2A, 0x4D, 0x18, 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o' };
    enum codec_id ids[] = { CODEC_ZSTD, CODEC_LZ4 };
    for (int i = 0; i < 2; i++) {
        struct bk_buf pa, pb, out;
        struct bk_error err = BK_ERROR_INIT;
        ck_assert_int_eq(PACK(ids[i], NULL, a, 300000, 65536, &pa, &err), BK_OK);
        ck_assert_int_eq(PACK(ids[i], NULL, b, 200000, 65536, &pb, &err), BK_OK);
        /* frame a, skippable frame, frame b (0x184D2A50 is skippable in both formats) */
        ck_assert_int_eq(bk_buf_append(&pa, skip, sizeof(skip), &err), BK_OK);
        ck_assert_int_eq(bk_buf_append(&pa, pb.data, pb.len, &err), BK_OK);
        for (int k = 0; k < CHUNK_COUNT; k++) {
            ck_assert_int_eq(UNPACK(ids[i], NULL, pa.data, pa.len, chunk_sizes[k], &out, &err),
                             BK_OK);
            ck_assert_uint_eq(out.len, 500000);
            ck_assert_mem_eq(out.data, a, 300000);
            ck_assert_mem_eq(out.data + 300000, b, 200000);
            bk_buf_free(&out);
        }
        /* a skippable frame alone is an empty stream */
        ck_assert_int_eq(UNPACK(ids[i], NULL, skip, sizeof(skip), 1, &out, &err), BK_OK);
        ck_assert_uint_eq(out.len, 0);
        bk_buf_free(&out);
        bk_buf_free(&pa);
        bk_buf_free(&pb);
    }
    free(a);
    free(b);
}
END_TEST

START_TEST(test_stage_states)
{
    struct bk_buf out;
    struct bk_sink *buf_sink = NULL, *stage = NULL;
    struct bk_error err = BK_ERROR_INIT;

    /* write after finish */
    bk_buf_init(&out, OUT_MAX);
    ck_assert_int_eq(bk_sink_buf_new(&buf_sink, &out, &err), BK_OK);
    ck_assert_int_eq(codec_compress_new(&stage, CODEC_ZSTD, NULL, buf_sink, &err), BK_OK);
    ck_assert_int_eq(bk_sink_write(stage, "abc", 3, &err), BK_OK);
    ck_assert_int_eq(bk_sink_finish(stage, &err), BK_OK);
    ck_assert_int_eq(bk_sink_write(stage, "abc", 3, &err), BK_EINTERNAL);
    ck_assert_str_eq(err.message, "zstd-compress stage is already finished");
    ck_assert_str_eq(err.op, "zstd_compress");
    bk_sink_free(stage);
    bk_buf_free(&out);

    /* a failed decoder stays failed */
    bk_buf_init(&out, OUT_MAX);
    ck_assert_int_eq(bk_sink_buf_new(&buf_sink, &out, &err), BK_OK);
    ck_assert_int_eq(codec_decompress_new(&stage, CODEC_LZ4, buf_sink, &err), BK_OK);
    ck_assert_int_eq(bk_sink_write(stage, "not lz4 at all", 14, &err), BK_ECORRUPT);
    ck_assert_int_eq(bk_sink_finish(stage, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "lz4-decompress stage failed earlier");
    bk_sink_free(stage);
    bk_buf_free(&out);

    /* abort mid-stream releases the codec state; later writes are refused; free is clean */
    for (int id = 0; id < CODEC_COUNT; id++) {
        bk_buf_init(&out, OUT_MAX);
        ck_assert_int_eq(bk_sink_buf_new(&buf_sink, &out, &err), BK_OK);
        int rc = id == CODEC_LZO ? codec_decompress_new(&stage, (enum codec_id)id, buf_sink, &err)
                                 : codec_compress_new(&stage, (enum codec_id)id, NULL, buf_sink,
                                                      &err);
        ck_assert_int_eq(rc, BK_OK);
        if (id != CODEC_LZO)
            ck_assert_int_eq(bk_sink_write(stage, "0123456789", 10, &err), BK_OK);
        bk_sink_abort(stage);
        ck_assert_int_eq(bk_sink_write(stage, "x", 1, &err), BK_EINTERNAL);
        bk_sink_free(stage);
        bk_buf_free(&out);
    }
}
END_TEST

/* ---- interop with the command-line tools ---- */

START_TEST(test_tools_decode_ours)
{
    static const struct { enum codec_id id; const char *tool, *cmd; } tools[] = {
        { CODEC_ZSTD, "zstd", "zstd -q -dc -- %s" },
        { CODEC_LZ4, "lz4", "lz4 -q -dc -- %s" },
        { CODEC_LZMA, "xz", "xz --format=lzma -dc -- %s" },
    };
    char path[32];
    testlib_temp_path(path);
    uint8_t *rnd = testlib_make_input(0, MIB), *rep = testlib_make_input(1, 5 * MIB);
    for (int t = 0; t < 3; t++) {
        if (!testlib_have_tool(tools[t].tool)) {
            fprintf(stderr, "codec_test: %s not installed, interop check skipped\n", tools[t].tool);
            continue;
        }
        for (int kind = 0; kind < 2; kind++) {
            const uint8_t *in = kind ? rep : rnd;
            size_t len = kind ? 5 * MIB : MIB;
            struct bk_buf packed, out;
            struct bk_error err = BK_ERROR_INIT;
            char cmd[256];
            ck_assert_int_eq(PACK(tools[t].id, NULL, in, len, 65536, &packed, &err), BK_OK);
            testlib_write_file(path, packed.data, packed.len);
            snprintf(cmd, sizeof(cmd), tools[t].cmd, path);
            testlib_run_tool(cmd, &out);
            ck_assert_uint_eq(out.len, len);
            ck_assert_mem_eq(out.data, in, len);
            bk_buf_free(&out);
            bk_buf_free(&packed);
        }
    }
    unlink(path);
    free(rnd);
    free(rep);
}
END_TEST

START_TEST(test_we_decode_tools)
{
    static const struct { enum codec_id id; const char *tool, *cmd; int rc; } tools[] = {
        { CODEC_ZSTD, "zstd", "zstd -q -c -- %s", BK_OK },
        { CODEC_ZSTD, "zstd", "zstd -q -19 --long=27 -c -- %s", BK_OK },
        /* size unknown on stdin: the frame asks for a 256 MiB window, over our 128 MiB limit */
        { CODEC_ZSTD, "zstd", "zstd -q --long=28 -c < %s", BK_EUNSUPPORTED },
        { CODEC_LZ4, "lz4", "lz4 -q -c -- %s", BK_OK },     /* linked blocks, the tool default */
        { CODEC_LZ4, "lz4", "lz4 -q -9 -BD -B4 --no-frame-crc -c -- %s", BK_OK },
        { CODEC_LZMA, "xz", "xz --format=lzma -c -- %s", BK_OK },
        { CODEC_LZMA, "xz", "xz --format=lzma -9 -c -- %s", BK_OK },
    };
    char path[32];
    testlib_temp_path(path);
    uint8_t *in = testlib_make_input(1, 6 * MIB);
    testlib_write_file(path, in, 6 * MIB);
    for (size_t t = 0; t < sizeof(tools) / sizeof(tools[0]); t++) {
        if (!testlib_have_tool(tools[t].tool))
            continue;
        struct bk_buf packed, out;
        struct bk_error err = BK_ERROR_INIT;
        char cmd[256];
        snprintf(cmd, sizeof(cmd), tools[t].cmd, path);
        testlib_run_tool(cmd, &packed);
        int rc = UNPACK(tools[t].id, NULL, packed.data, packed.len, 7, &out, &err);
        ck_assert_msg(rc == tools[t].rc, "%s: %d %s", cmd, rc, err.message);
        if (rc == BK_OK) {
            ck_assert_uint_eq(out.len, 6 * MIB);
            ck_assert_mem_eq(out.data, in, 6 * MIB);
        } else {
            ck_assert_str_eq(err.message, "zstd frame needs a window over 128 MiB");
        }
        bk_buf_free(&out);
        bk_buf_free(&packed);
    }
    unlink(path);
    free(in);
}
END_TEST

/* ---- lzo ---- */

#define WALE_LZO "../shared/fixtures/walg/wale_000000010000000000000024.decrypted.lzo"
/* sha256 of `lzop -dc` of the fixture, computed once with lzop 1.04 */
#define WALE_SHA256 "f101196b2b0c77de3d14339c36a7b9d92b097a718bfce5adf5aa84034783ccb0"

/* Decodes an lzo stream through lzo -> sha256 -> buffer; returns rc. */
static int lzo_decode(const uint8_t *data, size_t len, size_t chunk, struct bk_buf *out,
                      struct bk_sink_digest_result *dig, struct bk_error *err)
{
    struct bk_sink *buf_sink = NULL, *digest = NULL, *stage = NULL;
    bk_buf_init(out, OUT_MAX);
    ck_assert_int_eq(bk_sink_buf_new(&buf_sink, out, err), BK_OK);
    ck_assert_int_eq(bk_sink_digest_new(&digest, buf_sink, dig, err), BK_OK);
    ck_assert_int_eq(codec_decompress_new(&stage, CODEC_LZO, digest, err), BK_OK);
    int rc = testlib_feed(stage, data, len, chunk, err);
    bk_sink_free(stage);
    return rc;
}

START_TEST(test_lzo_wale_fixture)
{
    size_t len = 0;
    uint8_t *lzo = testlib_read_file(WALE_LZO, &len);
    struct bk_buf out;
    struct bk_sink_digest_result dig;
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_uint_eq(len, 88645);
    int rc = lzo_decode(lzo, len, chunk_sizes[_i], &out, &dig, &err);
    ck_assert_msg(rc == BK_OK, "%s", err.message);
    ck_assert_uint_eq(out.len, 16777216);
    ck_assert_uint_eq(dig.bytes, 16777216);
    /* XLOG_PAGE_MAGIC 0xD093 (PostgreSQL 9.5/9.6), little-endian, then info 0x0006, tli 1 */
    static const uint8_t page[8] = { 0x93, 0xD0, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00 };
    ck_assert_mem_eq(out.data, page, 8);
    ck_assert_str_eq(dig.sha256_hex, WALE_SHA256);
    bk_buf_free(&out);
    free(lzo);
}
END_TEST

START_TEST(test_lzo_wale_damaged)
{
    static const struct { size_t off; uint8_t x; const char *msg; } flips[] = {
        { 0x1A, 0x01, "corrupt lzo stream: lzop header checksum mismatch" },  /* mtime */
        { 0x00, 0x01, "corrupt lzo stream: bad lzop magic" },
        { 0x2F, 0x10, "corrupt lzo stream: adler32 checksum mismatch in block 1" }, /* stored sum */
        { 0x46, 0x20, "corrupt lzo stream: adler32 checksum mismatch in block 1" }, /* literal */
        { 0x2B, 0x40, "corrupt lzo stream: bad compressed block length" },
    };
    size_t len = 0;
    uint8_t *lzo = testlib_read_file(WALE_LZO, &len);
    for (size_t f = 0; f < sizeof(flips) / sizeof(flips[0]); f++) {
        struct bk_buf out;
        struct bk_sink_digest_result dig;
        struct bk_error err = BK_ERROR_INIT;
        lzo[flips[f].off] ^= flips[f].x;
        for (int k = 0; k < CHUNK_COUNT; k++) {
            ck_assert_int_eq(lzo_decode(lzo, len, chunk_sizes[k], &out, &dig, &err), BK_ECORRUPT);
            ck_assert_str_eq(err.message, flips[f].msg);
            ck_assert_str_eq(err.op, "lzo_decompress");
            bk_buf_free(&out);
        }
        lzo[flips[f].off] ^= flips[f].x;
    }
    /* a damaged block deep inside */
    struct bk_buf out;
    struct bk_sink_digest_result dig;
    struct bk_error err = BK_ERROR_INIT;
    lzo[len / 2] ^= 0xFF;
    ck_assert_int_eq(lzo_decode(lzo, len, 65536, &out, &dig, &err), BK_ECORRUPT);
    ck_assert_msg(strncmp(err.message, "corrupt lzo stream: ", 20) == 0, "%s", err.message);
    bk_buf_free(&out);
    lzo[len / 2] ^= 0xFF;
    /* truncated, and trailing garbage */
    ck_assert_int_eq(lzo_decode(lzo, len - 1, 512, &out, &dig, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "truncated lzo stream");
    bk_buf_free(&out);
    ck_assert_int_eq(lzo_decode(lzo, 20, 1, &out, &dig, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "truncated lzo stream");
    bk_buf_free(&out);
    ck_assert_int_eq(lzo_decode(lzo, 0, 1, &out, &dig, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "truncated lzo stream");
    bk_buf_free(&out);
    uint8_t *longer = malloc(len + 3);
    memcpy(longer, lzo, len);
    memcpy(longer + len, "xyz", 3);
    ck_assert_int_eq(lzo_decode(longer, len + 3, 7, &out, &dig, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "garbage after the end of the lzo stream");
    bk_buf_free(&out);
    free(longer);
    free(lzo);
}
END_TEST

/* lzop's own variants: checksum kinds, methods, stored (incompressible) blocks, stdin. */
START_TEST(test_lzo_lzop_variants)
{
    static const char *opts[] = { "", "--crc32", "-F", "-1", "-9", "-9 -F" };
    if (!testlib_have_tool("lzop")) {
        fprintf(stderr, "codec_test: lzop not installed, variants skipped\n");
        return;
    }
    char path[32];
    testlib_temp_path(path);
    size_t len = 700000;
    uint8_t *in = testlib_make_input(1, len);
    uint8_t *rnd = testlib_make_input(0, 300000);
    memcpy(in + 300000, rnd, 300000);   /* 256 KiB blocks: one compressible, one stored */
    testlib_write_file(path, in, len);
    for (size_t o = 0; o < sizeof(opts) / sizeof(opts[0]); o++) {
        for (int from_stdin = 0; from_stdin < 2; from_stdin++) {
            struct bk_buf packed, out;
            struct bk_sink_digest_result dig;
            struct bk_error err = BK_ERROR_INIT;
            char cmd[256];
            snprintf(cmd, sizeof(cmd), from_stdin ? "lzop %s -c < %s" : "lzop %s -c -- %s",
                     opts[o], path);
            testlib_run_tool(cmd, &packed);
            int rc = lzo_decode(packed.data, packed.len, 7, &out, &dig, &err);
            ck_assert_msg(rc == BK_OK, "%s: %s", cmd, err.message);
            ck_assert_uint_eq(out.len, len);
            ck_assert_mem_eq(out.data, in, len);
            bk_buf_free(&out);
            bk_buf_free(&packed);
        }
    }
    unlink(path);
    free(in);
    free(rnd);
}
END_TEST

/* A hand-built lzop file with every checksum flag, a name and an extra field: the parts
 * lzop's defaults never write. */
static void put32(struct bk_buf *b, uint32_t v)
{
    struct bk_error err = BK_ERROR_INIT;
    uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    ck_assert_int_eq(bk_buf_append(b, p, 4, &err), BK_OK);
}

static void build_lzop(struct bk_buf *b, const uint8_t *data, size_t len, bool crc_header)
{
    struct bk_error err = BK_ERROR_INIT;
    static const uint8_t magic[9] = { 0x89, 0x4C, 0x5A, 0x4F, 0x00, 0x0D, 0x0A, 0x1A, 0x0A };
    uint32_t flags = 0x03000000u | 0x1u | 0x2u | 0x100u | 0x200u | 0x40u |
                     (crc_header ? 0x1000u : 0);
    uint8_t h[64];
    size_t n = 0;
    bk_buf_init(b, OUT_MAX);
    ck_assert_int_eq(bk_buf_append(b, magic, 9, &err), BK_OK);
    h[n++] = 0x10; h[n++] = 0x40;           /* version 1.040 */
    h[n++] = 0x20; h[n++] = 0xA0;           /* lib version */
    h[n++] = 0x09; h[n++] = 0x40;           /* needed */
    h[n++] = 1; h[n++] = 5;                 /* method LZO1X_1, level */
    h[n++] = (uint8_t)(flags >> 24); h[n++] = (uint8_t)(flags >> 16);
    h[n++] = (uint8_t)(flags >> 8); h[n++] = (uint8_t)flags;
    memset(h + n, 0, 12);                   /* mode, mtime low/high */
    n += 12;
    h[n++] = 3; h[n++] = 'w'; h[n++] = 'a'; h[n++] = 'l';
    ck_assert_int_eq(bk_buf_append(b, h, n, &err), BK_OK);
    put32(b, crc_header ? lzo_crc32(0, h, n) : lzo_adler32(1, h, n));
    /* extra field: length, bytes, checksum over both */
    uint8_t extra[4 + 5] = { 0, 0, 0, 5, 'e', 'x', 't', 'r', 'a' };
    ck_assert_int_eq(bk_buf_append(b, extra, sizeof(extra), &err), BK_OK);
    put32(b, crc_header ? lzo_crc32(0, extra, 9) : lzo_adler32(1, extra, 9));

    static uint8_t wrk[LZO1X_1_MEM_COMPRESS];
    uint8_t *cbuf = malloc(256 * 1024 + 256 * 1024 / 16 + 64 + 3);
    for (size_t off = 0; off < len; off += 256 * 1024) {
        size_t bl = len - off < 256 * 1024 ? len - off : 256 * 1024;
        lzo_uint clen = 0;
        ck_assert_int_eq(lzo1x_1_compress(data + off, bl, cbuf, &clen, wrk), LZO_E_OK);
        bool packed = clen < bl;
        put32(b, (uint32_t)bl);
        put32(b, packed ? (uint32_t)clen : (uint32_t)bl);
        put32(b, lzo_adler32(1, data + off, bl));
        put32(b, lzo_crc32(0, data + off, bl));
        if (packed) {
            put32(b, lzo_adler32(1, cbuf, clen));
            put32(b, lzo_crc32(0, cbuf, clen));
        }
        ck_assert_int_eq(bk_buf_append(b, packed ? cbuf : data + off, packed ? clen : bl, &err),
                         BK_OK);
    }
    put32(b, 0);
    free(cbuf);
}

START_TEST(test_lzo_all_flags)
{
    ck_assert_int_eq(lzo_init(), LZO_E_OK);
    size_t len = 600000;
    uint8_t *in = testlib_make_input(1, len);
    uint8_t *rnd = testlib_make_input(0, 300000);
    memcpy(in + 262144, rnd, 262144);      /* second block stored: no compressed checksums */
    for (int crc_header = 0; crc_header < 2; crc_header++) {
        struct bk_buf file, out;
        struct bk_sink_digest_result dig;
        struct bk_error err = BK_ERROR_INIT;
        build_lzop(&file, in, len, crc_header);
        for (int k = 0; k < CHUNK_COUNT; k++) {
            int rc = lzo_decode(file.data, file.len, chunk_sizes[k], &out, &dig, &err);
            ck_assert_msg(rc == BK_OK, "%s", err.message);
            ck_assert_uint_eq(out.len, len);
            ck_assert_mem_eq(out.data, in, len);
            bk_buf_free(&out);
        }
        if (testlib_have_tool("lzop")) {   /* lzop agrees the hand-built file is valid */
            char path[32];
            testlib_temp_path(path);
            testlib_write_file(path, file.data, file.len);
            char cmd[128];
            snprintf(cmd, sizeof(cmd), "lzop -dc < %s", path);
            testlib_run_tool(cmd, &out);
            ck_assert_uint_eq(out.len, len);
            ck_assert_mem_eq(out.data, in, len);
            bk_buf_free(&out);
            unlink(path);
        }
        /* header 9+28+4 bytes, extra field 4+5+4 (41..53), block head 54..77: damage each
         * checksummed part (d_adler 62, d_crc 66, c_adler 70, c_crc 74) */
        static const struct { size_t off; const char *msg; } flips[] = {
            { 46, "corrupt lzo stream: lzop extra field checksum mismatch" },
            { 52, "corrupt lzo stream: lzop extra field checksum mismatch" },
            { 75, "corrupt lzo stream: compressed-data crc32 checksum mismatch in block 1" },
            { 71, "corrupt lzo stream: compressed-data adler32 checksum mismatch in block 1" },
            { 67, "corrupt lzo stream: crc32 checksum mismatch in block 1" },
            { 63, "corrupt lzo stream: adler32 checksum mismatch in block 1" },
        };
        for (size_t f = 0; f < sizeof(flips) / sizeof(flips[0]); f++) {
            file.data[flips[f].off] ^= 0x01;
            ck_assert_int_eq(lzo_decode(file.data, file.len, 512, &out, &dig, &err), BK_ECORRUPT);
            ck_assert_str_eq(err.message, flips[f].msg);
            bk_buf_free(&out);
            file.data[flips[f].off] ^= 0x01;
        }
        bk_buf_free(&file);
    }
    free(in);
    free(rnd);
}
END_TEST

START_TEST(test_lzo_unsupported)
{
    struct bk_buf file, out;
    struct bk_sink_digest_result dig;
    struct bk_error err = BK_ERROR_INIT;
    uint8_t *in = testlib_make_input(1, 1000);
    ck_assert_int_eq(lzo_init(), LZO_E_OK);
    build_lzop(&file, in, 1000, false);
    /* method 0x1E (NRV2A) with a valid header checksum */
    file.data[15] = 0x1E;
    uint32_t sum = lzo_adler32(1, file.data + 9, 28);
    file.data[37] = (uint8_t)(sum >> 24); file.data[38] = (uint8_t)(sum >> 16);
    file.data[39] = (uint8_t)(sum >> 8); file.data[40] = (uint8_t)sum;
    ck_assert_int_eq(lzo_decode(file.data, file.len, 1, &out, &dig, &err), BK_EUNSUPPORTED);
    ck_assert_str_eq(err.message, "lzo method 30 is not supported (only lzo1x)");
    bk_buf_free(&out);
    bk_buf_free(&file);
    free(in);
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_lookup);
    tcase_add_test(tc, test_lzo_compress_unsupported);
    tcase_add_test(tc, test_bad_options);
    tcase_add_loop_test(tc, test_roundtrip, 0, PACKER_COUNT * CHUNK_COUNT);
    tcase_add_test(tc, test_levels_and_threads);
    tcase_add_loop_test(tc, test_truncated, 0, 4);
    tcase_add_loop_test(tc, test_garbage_after_end, 0, 4);
    tcase_add_loop_test(tc, test_corrupt, 0, 4);
    tcase_add_test(tc, test_checksum_messages);
    tcase_add_test(tc, test_concatenated_frames);
    tcase_add_test(tc, test_stage_states);
    tcase_add_test(tc, test_tools_decode_ours);
    tcase_add_test(tc, test_we_decode_tools);
    tcase_add_loop_test(tc, test_lzo_wale_fixture, 0, CHUNK_COUNT);
    tcase_add_test(tc, test_lzo_wale_damaged);
    tcase_add_test(tc, test_lzo_lzop_variants);
    tcase_add_test(tc, test_lzo_all_flags);
    tcase_add_test(tc, test_lzo_unsupported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(codec_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

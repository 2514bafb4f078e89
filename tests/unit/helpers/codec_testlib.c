/*
 * Helpers for the codec tests; see codec_testlib.h. Test-only code: it asserts with Check
 * instead of returning errors for things that are the test's own fault (files, tools), so
 * call it only from inside a running Check test.
 */
#include "codec_testlib.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint8_t *testlib_make_input(int kind, size_t len)
{
    static const char pat[] = "0000000100000003000000A2 wal record; ";
    uint8_t *p = malloc(len ? len : 1);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++) {
        if (kind == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[i] = (uint8_t)(x >> 24);
        } else {
            p[i] = (uint8_t)pat[(i + i / 4096) % (sizeof(pat) - 1)];
        }
    }
    return p;
}

int testlib_feed(struct bk_sink *head, const uint8_t *data, size_t len, size_t chunk,
                 struct bk_error *err)
{
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        int rc = bk_sink_write(head, data + off, n, err);
        if (rc != BK_OK)
            return rc;
    }
    return bk_sink_finish(head, err);
}

int testlib_transcode(bool compress, enum codec_id id, const struct codec_opts *opts,
                      const uint8_t *data, size_t len, size_t chunk, struct bk_buf *out,
                      struct bk_error *err)
{
    struct bk_sink *buf_sink = NULL, *stage = NULL;
    bk_buf_init(out, TESTLIB_OUT_MAX);
    ck_assert_int_eq(bk_sink_buf_new(&buf_sink, out, err), BK_OK);
    int rc = compress ? codec_compress_new(&stage, id, opts, buf_sink, err)
                      : codec_decompress_new(&stage, id, buf_sink, err);
    if (rc != BK_OK) {
        bk_sink_free(buf_sink);
        return rc;
    }
    rc = testlib_feed(stage, data, len, chunk, err);
    if (rc != BK_OK)
        bk_sink_abort(stage);
    bk_sink_free(stage);
    return rc;
}

bool testlib_have_tool(const char *name)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

void testlib_temp_path(char *path)
{
    snprintf(path, 32, "%s", "/tmp/codec_test_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

void testlib_write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

uint8_t *testlib_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (tests run from the repository root)", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    uint8_t *p = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

void testlib_run_tool(const char *cmd, struct bk_buf *out)
{
    struct bk_error err = BK_ERROR_INIT;
    uint8_t tmp[65536];
    size_t n;
    bk_buf_init(out, TESTLIB_OUT_MAX);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while ((n = fread(tmp, 1, sizeof(tmp), p)) > 0)
        ck_assert_int_eq(bk_buf_append(out, tmp, n, &err), BK_OK);
    ck_assert_msg(pclose(p) == 0, "tool failed: %s", cmd);
}

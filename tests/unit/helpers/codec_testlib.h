/*
 * Helpers for tests/unit/codec_test.c (and any suite that pushes bytes through codec stages):
 * deterministic inputs, chunked feeding of a sink chain, one-stage transcoding into a buffer,
 * and running command-line tools. Failures abort the current Check test.
 */
#ifndef CODEC_TESTLIB_H
#define CODEC_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_sink.h"
#include "codec.h"

#define TESTLIB_OUT_MAX ((size_t)64 << 20)   /* cap of every buffer the helpers fill */

/* Deterministic input of len bytes (malloc'd, caller frees): kind 0 = random bytes
 * (xorshift), kind 1 = repetitive text. */
uint8_t *testlib_make_input(int kind, size_t len);

/* Writes data into head in chunks of `chunk` bytes, then finishes the chain. */
int testlib_feed(struct bk_sink *head, const uint8_t *data, size_t len, size_t chunk,
                 struct bk_error *err);

/* Runs data through one codec stage (compressor when compress, opts may be NULL) into out,
 * which is initialised here; the caller frees it with bk_buf_free even on failure. */
int testlib_transcode(bool compress, enum codec_id id, const struct codec_opts *opts,
                      const uint8_t *data, size_t len, size_t chunk, struct bk_buf *out,
                      struct bk_error *err);

/* True when `name` is on PATH. */
bool testlib_have_tool(const char *name);

/* Creates an empty temp file; path must be a writable array of at least 32 bytes. */
void testlib_temp_path(char *path);

void testlib_write_file(const char *path, const uint8_t *data, size_t len);

/* Whole file, malloc'd; *len set. Fails the test when it cannot be read. */
uint8_t *testlib_read_file(const char *path, size_t *len);

/* Runs cmd through the shell and collects its stdout into out (initialised here); fails the
 * test when the command exits non-zero. */
void testlib_run_tool(const char *cmd, struct bk_buf *out);

#endif

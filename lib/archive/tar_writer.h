/*
 * Streaming tar writer: turns "directory / file header + file bytes" calls into a tar
 * stream pushed into a bk_sink (usually a compressor stage). Headers are laid out the way
 * Go's archive/tar writes them (what WAL-G produces and reads): ustar when every field fits
 * (long names split into prefix/name), otherwise a PAX 'x' header before the ustar header.
 * File data is not buffered: each write_data call is forwarded as is.
 */
#ifndef TAR_WRITER_H
#define TAR_WRITER_H

#include <stdint.h>

#include "bk_error.h"
#include "bk_sink.h"
#include "tar_member.h"

struct tar_writer;

struct tar_writer_opts {
    uint32_t uid;   /* uid/gid written by begin_file/add_dir; uname/gname are always "" */
    uint32_t gid;
};
#define TAR_WRITER_OPTS_INIT { 0, 0 }

/* New writer that pushes into sink. The sink is borrowed: the writer never finishes,
 * aborts or frees it (the caller owns the chain). opts may be NULL (uid = gid = 0). */
int tar_writer_new(struct tar_writer **out, struct bk_sink *sink, const struct tar_writer_opts *opts,
                   struct bk_error *err);
/* NULL-safe; does not touch the sink. */
void tar_writer_free(struct tar_writer *tw);

/* Directory entry, written as given (no '/' is appended). mode & 07777 is stored. */
int tar_writer_add_dir(struct tar_writer *tw, const char *name, uint32_t mode, int64_t mtime,
                       struct bk_error *err);

/* Starts a regular file of exactly `size` bytes. Follow with write_data calls and one
 * end_file (also for size 0). */
int tar_writer_begin_file(struct tar_writer *tw, const char *name, uint32_t mode, uint64_t size,
                          int64_t mtime, struct bk_error *err);

/* Passthrough: writes the header(s) for any member as parsed by tar_reader (name, type,
 * linkname, mode, uid/gid, uname/gname, mtime, devices). For types that carry data
 * (tar_type_has_data) m->size bytes must follow through write_data + end_file; for
 * header-only types the member is complete on return (m->size must then be 0).
 * BK_EINVAL when a field cannot be encoded (device numbers >= 8^7). */
int tar_writer_begin_member(struct tar_writer *tw, const struct tar_member *m, struct bk_error *err);

/* File bytes for the current member. BK_EINVAL ("... more than the declared size") when
 * len exceeds tar_writer_remaining(): a file that grew while being read must be cut at the
 * size declared in its header (read at most remaining bytes). */
int tar_writer_write_data(struct tar_writer *tw, const void *data, size_t len, struct bk_error *err);

/* Bytes still owed for the current member (0 when none is open). */
uint64_t tar_writer_remaining(const struct tar_writer *tw);

/* Closes the current member. If fewer bytes than declared were written (the file shrank
 * while being read), the rest is filled with zeros so the stream stays a valid tar, then
 * padding to 512 follows. How the shortfall is reported depends on zero_filled:
 *   zero_filled != NULL: receives the number of zero bytes filled in; BK_OK is returned
 *                        and the caller decides (warn like pg_basebackup, fail like WAL-G);
 *   zero_filled == NULL: a shortfall returns BK_ECORRUPT "file \"x\" shrank while being
 *                        archived: N of M bytes written" (the stream is still consistent). */
int tar_writer_end_file(struct tar_writer *tw, uint64_t *zero_filled, struct bk_error *err);

/* Writes the end-of-archive marker (two zero blocks, no record padding, as Go's Writer.Close)
 * and refuses further members. Does not finish the sink. */
int tar_writer_finish(struct tar_writer *tw, struct bk_error *err);

/* Bytes pushed into the sink so far (headers, data, padding). */
uint64_t tar_writer_offset(const struct tar_writer *tw);

#endif

/*
 * Push-style tar parser, after PostgreSQL's astreamer_tar: a terminal bk_sink that takes
 * tar bytes in any chunking and calls a handler for each member (begin, data, end) and once
 * at the end of the archive, so later stages never parse tar. Reads ustar, PAX ('x' path,
 * linkpath, size, uid, gid, mtime, uname, gname; 'g' ignored), GNU long names ('L'/'K') and
 * base-256 numbers, like Go's archive/tar (what WAL-G uses). Every member type is passed on;
 * deciding what to do with links, devices or unsafe names is the handler's job.
 */
#ifndef TAR_READER_H
#define TAR_READER_H

#include <stddef.h>

#include "bk_error.h"
#include "bk_sink.h"
#include "tar_member.h"

/* Handler callbacks. Each returns BK_OK or a negative code (with err filled); the reader
 * stops at the first failure and returns that code from bk_sink_write/finish unchanged.
 * The member and its strings are borrowed and stay valid until end_member returns. */
struct tar_handler_ops {
    int (*begin_member)(const struct tar_member *m, void *payload, struct bk_error *err);
    /* Member data in stream-sized pieces (never more than m->size in total). */
    int (*member_data)(const void *data, size_t len, void *payload, struct bk_error *err);
    /* Called after all data and its padding have arrived (also for header-only members). */
    int (*end_member)(void *payload, struct bk_error *err);
    /* Called once from finish, after the trailer was verified (or found missing, which is
     * accepted: walg-layout.md 7.15). */
    int (*end_archive)(void *payload, struct bk_error *err);
    /* May be NULL. Called when the stream is abandoned: by bk_sink_abort, and by the reader
     * itself on any failure (corrupt or truncated stream, or a callback's error), so a
     * half-written member can be discarded. May run more than once: make it idempotent. */
    void (*abort)(void *payload);
};

struct tar_reader_opts {
    const struct tar_handler_ops *ops;   /* required; borrowed, must outlive the reader */
    void *payload;                       /* passed to every callback */
    const char *name_for_errors;         /* object named in errors ("part_001.tar.lz4"); may be NULL */
};
#define TAR_READER_OPTS_INIT { NULL, NULL, NULL }

/* New terminal sink (next = NULL). Errors it returns on its own:
 *   BK_ECORRUPT "bad tar header checksum at offset N", bad numeric fields, bad PAX records,
 *               "truncated tar: ..." (stream ends inside a header, extended header, data or
 *               padding), "unexpected data after the end of the tar archive at offset N"
 *               (only zero bytes may follow the end marker, as WAL-G's readTrailingZeros),
 *               extended header over 1 MiB;
 *   BK_EINTERNAL when written to after a failure or after finish. */
int tar_reader_new(struct bk_sink **out, const struct tar_reader_opts *opts, struct bk_error *err);

#endif

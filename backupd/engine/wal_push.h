/*
 * wal-push, the engine behind archive_command: uploads one WAL file (segment, .history,
 * .partial, .backup) to wal_005/<name>.<ext> the way WAL-G lays it out, never overwrites
 * different content, and pushes other waiting .ready files of the same pg_wal in parallel,
 * recording each success in <pg_wal>/.backupd/pushed/<name> so PostgreSQL's own later call for
 * that file returns at once. PostgreSQL's archive_status directory is only read, never written.
 */
#ifndef WAL_PUSH_H
#define WAL_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "bk_error.h"
#include "codec.h"
#include "storage.h"

#define WAL_PUSH_DEFAULT_CONCURRENCY 4
#define WAL_PUSH_DEFAULT_MAX_BACKGROUND 32     /* WAL-G's TOTAL_BG_UPLOADED_LIMIT */
#define WAL_PUSH_STATUS_DIR ".backupd"          /* inside pg_wal */
#define WAL_PUSH_MARKER_DIR ".backupd/pushed"   /* inside pg_wal: one marker per pushed file */

struct wal_push_opts {
    enum codec_id codec;        /* compression of new objects; default CODEC_ZSTD */
    int level;                  /* codec level; 0 = the codec's default */
    unsigned concurrency;       /* uploads in flight, the requested file included (WAL-G's
                                 * WALG_UPLOAD_CONCURRENCY); 1 = no background pushes */
    unsigned max_background;    /* other .ready files taken per call; 0 = none */
};
#define WAL_PUSH_OPTS_INIT { CODEC_ZSTD, 1, WAL_PUSH_DEFAULT_CONCURRENCY, WAL_PUSH_DEFAULT_MAX_BACKGROUND }

enum wal_push_outcome {
    WAL_PUSH_UPLOADED = 0,      /* a new object was written */
    WAL_PUSH_ALREADY_ARCHIVED,  /* an identical object was already stored (any extension) */
    WAL_PUSH_FROM_MARKER        /* pushed earlier in the background; nothing was sent now */
};

struct wal_push_result {
    enum wal_push_outcome outcome;
    uint64_t bytes;             /* size of the local file */
    uint64_t stored_bytes;      /* compressed bytes uploaded; 0 unless UPLOADED */
    char key[256];              /* object written or found ("" for FROM_MARKER) */
    int64_t elapsed_ms;         /* the whole call, background pushes included */
    unsigned background_pushed; /* other .ready files archived (or found archived) by this call */
    unsigned background_failed; /* logged as warnings; PostgreSQL retries them itself */
};

/*
 * Archives the file at `path` (what PostgreSQL passes as %p; its base name must be a WAL file
 * name, else BK_EINVAL "\"x\" is not a WAL file name"). Reads the file in fixed-size chunks,
 * so memory does not grow with the file. Logs one info line per file archived or found.
 *
 * Returns BK_OK when the file is archived (newly, or identical content was already stored, or a
 * valid marker says a background push stored it); BK_ECONFLICT when wal_005/<name> exists with
 * different content (the object is left untouched); BK_ENOTFOUND / BK_EIO for the local file;
 * storage and codec errors as returned by those layers. out may be NULL.
 *
 * Background pushes (when opts->concurrency > 1 and the file sits in a pg_wal with an
 * archive_status/ directory) are best-effort: their failures are logged as warnings and do not
 * change the result. The call returns when every started upload has finished.
 * Thread safety: concurrent calls for different pg_wal directories are safe.
 */
int wal_push_file(struct storage *st, const char *path, const struct wal_push_opts *opts,
                  struct wal_push_result *out, struct bk_error *err);

#endif

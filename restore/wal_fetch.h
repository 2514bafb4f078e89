/*
 * wal-fetch, the engine behind restore_command: fetches one WAL file (segment, .history,
 * .partial, .backup) from wal_005/ trying every extension WAL-G readers try, decompresses it
 * into a temp file beside the destination, checks a segment's size and first page header, then
 * renames it into place. After a segment it can start a detached process that prefetches the
 * next segments into <dir of dest>/.backupd/prefetch/, which later fetches take by rename.
 */
#ifndef WAL_FETCH_H
#define WAL_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_error.h"
#include "storage.h"
#include "walg_names.h"

#define WAL_FETCH_DEFAULT_PREFETCH 8
#define WAL_FETCH_DEFAULT_DEADLINE_MS 60000
#define WAL_FETCH_STATE_DIR ".backupd"          /* beside the destination (pg_wal) */
#define WAL_FETCH_PREFETCH_SUBDIR "prefetch"    /* <state dir>/prefetch/<name> */
#define WAL_FETCH_MAX_PREFETCH 64

/* PostgreSQL's first page header of a segment (XLogLongPageHeaderData), little-endian. */
#define WAL_LONG_HEADER_LEN 40
#define WAL_XLP_LONG_HEADER 0x0002

struct wal_fetch_opts {
    uint64_t seg_size;          /* WAL segment size; 0 = 16 MiB */
    unsigned prefetch;          /* segments to prefetch after a segment; 0 = none */
    long deadline_ms;           /* bounds the whole fetch, waits and attempts; 0 = none. Open the
                                 * storage with http.deadline_ms set too, so no request outlives it */
    /* How the background prefetch process opens its own storage (it never shares the caller's
     * connections). NULL disables prefetching. Borrowed; only read before wal_fetch_file returns. */
    const struct storage_config *prefetch_storage;
};
#define WAL_FETCH_OPTS_INIT { WALG_DEFAULT_SEG_SIZE, 0, WAL_FETCH_DEFAULT_DEADLINE_MS, NULL }

struct wal_fetch_result {
    uint64_t bytes;             /* size of the file written to dest */
    uint64_t stored_bytes;      /* size of the object downloaded; 0 when served from the cache */
    char key[256];              /* object read ("" when served from the cache) */
    bool from_cache;            /* taken from the prefetch cache by rename */
    int prefetch_pid;           /* pid of the prefetch process started, 0 if none: a child of
                                 * the caller, which a long-lived caller reaps (waitpid) */
    int64_t elapsed_ms;
};

/*
 * Fetches `name` (PostgreSQL's %f) into `dest` (%p). Extensions are tried in codec_fetch_order
 * (lz4, lzma, br, lzo, zst, none), after the one that worked last time in this directory.
 * Segments are first looked up in the prefetch cache (waiting, within the deadline, for a
 * prefetch of that very segment that is still running).
 *
 * Returns BK_OK once dest holds the complete, fsynced file; BK_EINVAL for a name that is not a
 * WAL file name; BK_ENOTFOUND when no object exists under any extension (PostgreSQL's "not
 * archived"); BK_ECORRUPT when the object does not decompress, or a segment is not seg_size
 * bytes or its first page header does not fit its name; BK_ETIMEOUT when the deadline passed;
 * storage errors (BK_ENET, BK_EAUTH, ...) otherwise, wrapped with the storage named. On any
 * error dest is neither created nor changed. Logs one info line on success; errors are left
 * to the caller. out may be NULL.
 *
 * The prefetch process is started with fork() + setsid() and is not waited for; call this
 * from a single-threaded process (backupctl), and reap out->prefetch_pid if you live on. Only
 * when fewer than half of the next opts->prefetch segments are cached or being fetched is a
 * new process started.
 */
int wal_fetch_file(struct storage *st, const char *name, const char *dest,
                   const struct wal_fetch_opts *opts, struct wal_fetch_result *out,
                   struct bk_error *err);

struct wal_prefetch_result {
    unsigned fetched;           /* downloaded into the cache */
    unsigned present;           /* already cached, or being fetched by another process */
    unsigned missing;           /* not (yet) archived; later segments are not tried */
    unsigned failed;            /* other errors (logged as warnings) */
};

/*
 * What the background process runs, callable synchronously (tests): fetches the opts->prefetch
 * segments after `name` on its timeline into <state_dir>/prefetch/<segment> (temp + fsync +
 * rename, each checked like wal_fetch_file), up to 4 at a time. A segment already cached or
 * locked by a live process (<state_dir>/prefetch/running/<segment>, O_EXCL) is skipped; locks
 * of dead processes or older than 10 minutes are taken over. Cached segments older than `name`
 * are deleted. Returns BK_OK unless the cache directory cannot be prepared.
 */
int wal_prefetch_run(struct storage *st, const char *name, const char *state_dir,
                     const struct wal_fetch_opts *opts, struct wal_prefetch_result *out,
                     struct bk_error *err);

/* "<dir of dest>/.backupd" into out. */
void wal_fetch_state_dir(const char *dest, char *out, size_t out_cap);

/* Checks the first WAL_LONG_HEADER_LEN bytes of segment `name` (24-hex, or .partial): magic
 * non-zero, long-header flag set, 1 <= xlp_tli <= the name's timeline (the first segment of a
 * new timeline starts as a copy of the old one), xlp_pageaddr = the segment's start LSN, and
 * xlp_seg_size = seg_size. BK_ECORRUPT naming `what` otherwise. */
int wal_segment_header_check(const uint8_t *header, size_t len, const char *name,
                             uint64_t seg_size, const char *what, struct bk_error *err);

#endif

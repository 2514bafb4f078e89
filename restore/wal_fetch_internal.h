/*
 * Folder-private glue between wal_fetch.c (one fetch, cache lookup) and wal_prefetch.c
 * (background prefetch, locks). Nothing outside restore/wal_*.c includes this header.
 */
#ifndef WAL_FETCH_INTERNAL_H
#define WAL_FETCH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "wal_fetch.h"

#define WAL_FETCH_TMP_MARK ".backupd-tmp-"      /* <state dir>/<dest name>.backupd-tmp-XXXXXX */
#define WAL_PREFETCH_LOCK_SUBDIR "running"
#define WAL_PREFETCH_LOCK_STALE_S 600

/* Downloads `name` (kind from walg_wal_name_check) into path: temp file beside it, checks,
 * fsync, rename. Deadline counted from start_ms. state_dir holds the "extension that worked
 * last" memo (may be NULL). Fills res->bytes, stored_bytes, key. Never leaves path changed on
 * error. */
int wal_fetch_to_path(struct storage *st, const char *name, enum walg_wal_kind kind,
                      const char *path, const struct wal_fetch_opts *opts, int64_t start_ms,
                      const char *state_dir, struct wal_fetch_result *res, struct bk_error *err);

/* Checks a complete segment file on disk (size and first page header). */
int wal_fetch_check_file(const char *path, const char *name, uint64_t seg_size,
                         struct bk_error *err);


/* True when the lock file exists, its holder process is alive and it is not stale. */
bool wal_prefetch_lock_busy(const char *lock_path);

/* Starts the detached prefetch process for the segments after name; returns its pid, or 0
 * when it could not be started (logged as a warning: prefetching is an optimisation). */
pid_t wal_prefetch_spawn(const char *name, const char *state_dir, const struct wal_fetch_opts *opts);

#endif

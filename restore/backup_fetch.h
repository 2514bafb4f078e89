/*
 * backup-fetch: restores a WAL-G-layout base backup (ours, WAL-G's, or WAL-E's) into an empty
 * directory: regular tar partitions first (several in parallel), then backup_label.tar and
 * pg_control.tar last, honouring files_metadata.json the way WAL-G does; every entry passes the
 * extractor's path checks, so nothing is written outside DEST. Optionally writes the recovery
 * settings (restore_command through backupctl wal-fetch, recovery targets, recovery.signal).
 */
#ifndef BACKUP_FETCH_H
#define BACKUP_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "bk_error.h"
#include "storage.h"
#include "walg_names.h"

struct backup_fetch_recovery {
    bool enabled;                    /* write recovery.signal + settings */
    const char *restore_command;     /* full command; NULL = none written */
    const char *target_time;         /* RFC 3339, validated */
    const char *target_lsn;          /* X/Y */
    const char *target_xid;
    const char *target_name;
    const char *target_action;       /* promote | pause | shutdown */
    int target_inclusive;            /* -1 = default, 0 = false, 1 = true */
    const char *target_timeline;     /* "latest" by default */
};

struct backup_fetch_opts {
    const char *dest;
    const char *backup;              /* name or "LATEST" */
    unsigned concurrency;            /* parts restored at once; 0 = 4 */
    bool fsync;                      /* fsync files and directories (default true) */
    struct backup_fetch_recovery recovery;
};

struct backup_fetch_result {
    char name[WALG_BACKUP_NAME_CAP];
    unsigned parts;
    uint64_t files;
    uint64_t bytes;
    int64_t duration_ms;
};

/* Resolves "LATEST" to the backup whose sentinel has the newest LastModified (WAL-G's rule).
 * BK_ENOTFOUND when there is none. */
int backup_fetch_resolve(char *out, size_t out_cap, struct storage *st, const char *name,
                         struct bk_error *err);

int backup_fetch_run(struct backup_fetch_result *out, struct storage *st,
                     const struct backup_fetch_opts *opts, struct bk_error *err);

#endif

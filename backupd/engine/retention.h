/*
 * Retention: `delete retain N` and `delete before NAME|TIME`, and `backup-mark`. Safer than
 * WAL-G's delete: only objects under basebackups_005/<B>/ and wal_005/ are touched (never other
 * keys that happen to hold a WAL-like name), permanent backups and the WAL they need stay, WAL is
 * only removed below the start segment of the oldest backup kept (whatever its timeline), and a
 * backup's sentinel is deleted first so a half-deleted backup is never listed.
 */
#ifndef RETENTION_H
#define RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "bk_error.h"
#include "storage.h"

enum retention_mode { RETENTION_RETAIN, RETENTION_BEFORE_NAME, RETENTION_BEFORE_TIME };

struct retention_opts {
    enum retention_mode mode;
    unsigned retain;          /* RETAIN: newest N backups kept (>= 1) */
    const char *name;         /* BEFORE_NAME: backups older than this one go */
    int64_t time_us;          /* BEFORE_TIME: backups whose sentinel is older than this go */
    bool confirm;             /* false = dry run: report only */
    uint64_t wal_segment_size;
};

/* One line per decision ("delete backup X", "keep backup Y (permanent)", summary). */
typedef void (*retention_report_cb)(void *payload, const char *line);

struct retention_result {
    unsigned backups_deleted;
    unsigned backups_kept;
    uint64_t wal_deleted;
    uint64_t objects_deleted;
};

int retention_run(struct retention_result *out, struct storage *st, const struct retention_opts *opts,
                  retention_report_cb report, void *payload, struct bk_error *err);

/* Rewrites <B>/metadata.json with is_permanent set or cleared. BK_ENOTFOUND when the backup
 * or its metadata.json does not exist. */
int retention_mark(struct storage *st, const char *backup, bool permanent, struct bk_error *err);

#endif

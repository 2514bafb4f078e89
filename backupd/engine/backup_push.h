/*
 * backup-push: a base backup over the replication protocol (BASE_BACKUP), repacked on the fly
 * into WAL-G's remote-mode layout: basebackups_005/<B>/tar_partitions/part_NNN.tar.<ext>
 * (split at a size threshold, never splitting a file), pg_control.tar.<ext> (global/pg_control
 * held back so a restore writes it last), files_metadata.json, our backupd_file_hashes.json
 * (SHA-256 per file), the server's backup_manifest (checked against what streamed), metadata.json,
 * and the sentinel last, so an unfinished backup is never listed. Memory stays bounded: one
 * part's compressor and upload buffers, whatever the database size.
 */
#ifndef BACKUP_PUSH_H
#define BACKUP_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "bk_error.h"
#include "codec.h"
#include "pg_basebackup_stream.h"
#include "storage.h"
#include "walg_names.h"

struct backup_push_opts {
    const char *conninfo;            /* libpq conninfo; replication is added by the client */
    enum codec_id codec;             /* CODEC_ZSTD by default */
    struct codec_opts codec_opts;
    uint64_t part_threshold_bytes;   /* file bytes per part before a new part starts (WAL-G: 1 GiB) */
    enum pgbb_checkpoint checkpoint;
    bool permanent;
    bool verify_manifest;            /* compare every streamed file with backup_manifest */
    const char *user_data;           /* JSON text or NULL */
    const char *hostname;            /* recorded in the sentinel; NULL = gethostname() */
    const char *data_dir;            /* the source's PGDATA as restores will see it (Spec base_prefix) */
};
#define BACKUP_PUSH_OPTS_INIT { NULL, CODEC_ZSTD, CODEC_OPTS_INIT, 1073741823ULL, PGBB_CHECKPOINT_FAST, \
                                false, true, NULL, NULL, "/home/postgres/pgdata/pgroot/data" }

struct backup_push_result {
    char name[WALG_BACKUP_NAME_CAP];
    uint64_t start_lsn;
    uint64_t finish_lsn;
    uint32_t timeline;
    uint64_t uncompressed_bytes;     /* file data put in the tars */
    uint64_t compressed_bytes;       /* bytes uploaded for the tar objects */
    unsigned parts;
    uint64_t files;
    int64_t duration_ms;
};

/* Runs one backup. On failure nothing is listed (no sentinel) and the objects already written
 * under the backup's folder are removed on a best-effort basis. */
int backup_push_run(struct backup_push_result *out, struct storage *st,
                    const struct backup_push_opts *opts, struct bk_error *err);

#endif

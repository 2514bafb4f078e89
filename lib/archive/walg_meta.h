/*
 * The JSON objects of one WAL-G backup (walg-layout.md 1.4-1.6, errata 7.1-7.4): the sentinel
 * <B>_backup_stop_sentinel.json, <B>/metadata.json, <B>/files_metadata.json, plus our own
 * <B>/backupd_file_hashes.json. Writers emit WAL-G v3.0.5's exact bytes (compact, WAL-G's key
 * order, integers as integers, uint64 safe). Readers accept V2, V1 and WAL-E sentinels and reject
 * wrong types with BK_EINVAL "<what> field \"<key>\" must be ...". Storage access lives elsewhere
 * (walg_catalog.h); files_metadata and file hashes stream through bk_sinks with bounded memory.
 */
#ifndef WALG_META_H
#define WALG_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_error.h"
#include "bk_sink.h"

/* ---- tablespace spec ("Spec") ---- */

struct walg_tablespace {
    char *name;        /* symlink name under pg_tblspc = tablespace OID as text */
    char *location;    /* "loc": absolute target directory */
    char *link;        /* "link": "pg_tblspc/<name>" */
};

struct walg_spec {
    char *base_prefix;                     /* PGDATA (one trailing '/' dropped on write) */
    struct walg_tablespace *tablespaces;   /* in "tablespaces" array order */
    size_t tablespaces_len;
};

/* Everything is owned by the struct (malloc'd strings); a zeroed struct is valid and empty. */
struct walg_sentinel {
    bool has_lsn;                /* "LSN": backup start LSN; null when absent */
    uint64_t lsn;
    bool has_delta_lsn;          /* "DeltaLSN" (V1 "DeltaFromLSN") */
    uint64_t delta_lsn;
    char *delta_from;            /* "DeltaFrom": parent name; NULL for a full backup */
    char *delta_full_name;       /* "DeltaFullName" */
    bool has_delta_count;        /* "DeltaCount" */
    int64_t delta_count;
    int64_t pg_version;          /* "PgVersion", e.g. 160004 */
    bool has_finish_lsn;         /* "FinishLSN" */
    uint64_t finish_lsn;
    bool has_system_identifier;  /* "SystemIdentifier" (omitted when unknown) */
    uint64_t system_identifier;
    int64_t uncompressed_size;   /* "UncompressedSize" */
    int64_t compressed_size;     /* "CompressedSize" */
    int64_t data_catalog_size;   /* "DataCatalogSize" (omitted when 0) */
    struct walg_spec *spec;      /* "Spec": NULL writes null (local mode without tablespaces) */
    char *user_data;             /* "UserData": JSON text, NULL = unset (key omitted) */
    bool files_metadata_disabled;/* "FilesMetadataDisabled" (omitted when false) */
    /* V2 tail */
    int64_t version;             /* "Version": 2 on write; 0 when absent on read (V1, WAL-E) */
    bool has_start_time;
    int64_t start_time_us;       /* "StartTime" */
    bool has_finish_time;
    int64_t finish_time_us;      /* "FinishTime" */
    char *date_fmt;              /* "DateFmt": NULL writes WALG_DATE_FMT */
    char *hostname;              /* "Hostname" */
    char *data_dir;              /* "DataDir" */
    bool is_permanent;           /* "IsPermanent" (push-time copy; metadata.json is authoritative) */
    /* read-only legacy information */
    bool has_files;              /* V1: "Files"/"TarFileSets" inside the sentinel; parse the same
                                    bytes with walg_files_meta_parse_buf to get them */
    bool is_wale;                /* WAL-E sentinel (wal_segment_backup_stop present) */
    char *wale_stop_segment;     /* "wal_segment_backup_stop" */
    char *wale_stop_offset;      /* "wal_segment_offset_backup_stop" (string or number, as text) */
    bool has_wale_expanded_size;
    int64_t wale_expanded_size_bytes;   /* "expanded_size_bytes" */
};

struct walg_metadata {
    bool has_start_time;         /* "start_time"; absent/zero writes Go's zero time */
    int64_t start_time_us;
    bool has_finish_time;        /* "finish_time" */
    int64_t finish_time_us;
    char *date_fmt;              /* "date_fmt": NULL writes WALG_DATE_FMT */
    char *hostname;              /* "hostname" */
    char *data_dir;              /* "data_dir" */
    int64_t pg_version;          /* "pg_version" */
    uint64_t start_lsn;          /* "start_lsn" */
    uint64_t finish_lsn;         /* "finish_lsn" */
    bool is_permanent;           /* "is_permanent": authoritative permanence flag */
    bool has_system_identifier;  /* "system_identifier": null when unknown */
    uint64_t system_identifier;
    int64_t uncompressed_size;   /* "uncompressed_size" */
    int64_t compressed_size;     /* "compressed_size" */
    char *user_data;             /* "user_data": JSON text, NULL = omitted */
};

/* Free owned members and zero the struct. NULL-safe. */
void walg_spec_free(struct walg_spec *spec);
void walg_sentinel_free(struct walg_sentinel *s);
void walg_metadata_free(struct walg_metadata *m);

/* Appends the sentinel as WAL-G v3.0.5 writes it (SentinelV2, compact, no newline) to out.
 * BK_EINVAL for user data that is not JSON ("sentinel user data is not valid JSON: ..."), a spec
 * without base_prefix, or inconsistent delta fields (DeltaFrom without DeltaLSN/DeltaFullName/
 * DeltaCount). Version is always written as 2. */
int walg_sentinel_write(const struct walg_sentinel *s, struct bk_buf *out, struct bk_error *err);
/* Parses a sentinel (V2, V1, WAL-E; keys matched case-insensitively like Go). object names the
 * storage key in errors. BK_EINVAL: "sentinel is not valid JSON: ...", "sentinel must be a JSON
 * object", "sentinel field \"FinishLSN\" must be a number", "sentinel field \"Spec\" has no
 * \"base_prefix\"", "sentinel has DeltaFrom but no DeltaLSN". out is freed first. */
int walg_sentinel_parse(const char *data, size_t len, const char *object, struct walg_sentinel *out,
                        struct bk_error *err);

/* Appends metadata.json as WAL-G writes it. BK_EINVAL for non-JSON user data. */
int walg_metadata_write(const struct walg_metadata *m, struct bk_buf *out, struct bk_error *err);
/* BK_EINVAL "metadata field \"start_lsn\" must be a number" etc. out is freed first. */
int walg_metadata_parse(const char *data, size_t len, const char *object, struct walg_metadata *out,
                        struct bk_error *err);
/* metadata.json content for a sentinel (as WAL-G derives one from the other); copies strings. */
int walg_metadata_from_sentinel(const struct walg_sentinel *s, struct walg_metadata *out,
                                struct bk_error *err);

/* Go's canonical form of user data JSON (sorted keys, float64 numbers), malloc'd into *out.
 * BK_EINVAL "user data is not valid JSON: <reason>". */
int walg_user_data_canonical(const char *text, char **out, struct bk_error *err);

/* ---- files_metadata.json (streamed both ways) ---- */

struct walg_file_desc {
    bool is_incremented;         /* "IsIncremented": the tar entry is an increment */
    bool is_skipped;             /* "IsSkipped": unchanged vs. the delta base, not in the tars */
    int64_t mtime_ns;            /* "MTime", written in UTC with Go's RFC3339Nano trimming */
    bool has_corrupt_blocks;     /* "CorruptBlocks" present (write: count + list) */
    int64_t corrupt_blocks_count;
    const uint32_t *some_corrupt_blocks;   /* write only; borrowed */
    size_t some_corrupt_blocks_len;
    uint64_t updates_count;      /* "UpdatesCount" */
};

/* Writer: call add_file for every entry (all files first), then begin_tar_set/add_tar_entry per
 * tar object, then finish. Keys appear in the order given (Go sorts map keys: pass sorted names
 * for byte-identical output). Empty sections are omitted, as Go's omitempty does. Output is
 * buffered (64 KiB) and written to dst; dst is written to but not finished. */
struct walg_files_writer;
int walg_files_writer_new(struct walg_files_writer **out, struct bk_sink *dst, struct bk_error *err);
int walg_files_writer_add_file(struct walg_files_writer *w, const char *name,
                               const struct walg_file_desc *desc, struct bk_error *err);
int walg_files_writer_begin_tar_set(struct walg_files_writer *w, const char *tar_name,
                                    struct bk_error *err);
int walg_files_writer_add_tar_entry(struct walg_files_writer *w, const char *entry_name,
                                    struct bk_error *err);
int walg_files_writer_finish(struct walg_files_writer *w, struct bk_error *err);
void walg_files_writer_free(struct walg_files_writer *w);

/* Reader callbacks; either may be NULL. Strings are borrowed for the call. A non-zero return
 * stops the parse and is returned. */
struct walg_files_meta_cbs {
    int (*on_file)(void *payload, const char *name, const struct walg_file_desc *desc,
                   struct bk_error *err);
    int (*on_tar_entry)(void *payload, const char *tar_name, const char *entry_name,
                        struct bk_error *err);
};
/* A sink that parses files_metadata.json as bytes arrive (storage_get into it, then
 * bk_sink_finish). Other top-level keys (DatabasesByNames, or a V1 sentinel's own fields) are
 * skipped. BK_EINVAL "files metadata field \"IsSkipped\" of \"/base/1/2\" must be a boolean",
 * "files metadata is not valid JSON: truncated". The caller owns *out (bk_sink_free). */
int walg_files_meta_reader_new(struct bk_sink **out, const struct walg_files_meta_cbs *cbs,
                               void *payload, const char *object, struct bk_error *err);
int walg_files_meta_parse_buf(const void *data, size_t len, const struct walg_files_meta_cbs *cbs,
                              void *payload, const char *object, struct bk_error *err);

/* ---- backupd_file_hashes.json (ours; WAL-G ignores it) ----
 * {"Version":1,"Algorithm":"sha256","Files":{"<tar entry name>":{"sha256":"<64 hex>","size":N},...}} */
#define WALG_FILE_HASHES_VERSION 1

struct walg_hashes_writer;
int walg_hashes_writer_new(struct walg_hashes_writer **out, struct bk_sink *dst, struct bk_error *err);
/* sha256_hex: 64 lower-case hex digits (BK_EINVAL otherwise). */
int walg_hashes_writer_add(struct walg_hashes_writer *w, const char *name, const char *sha256_hex,
                           uint64_t size, struct bk_error *err);
int walg_hashes_writer_finish(struct walg_hashes_writer *w, struct bk_error *err);
void walg_hashes_writer_free(struct walg_hashes_writer *w);

typedef int (*walg_hash_cb)(void *payload, const char *name, const char *sha256_hex, uint64_t size,
                            struct bk_error *err);
/* BK_EUNSUPPORTED for a newer Version; BK_EINVAL for bad types or a bad digest. */
int walg_hashes_reader_new(struct bk_sink **out, walg_hash_cb cb, void *payload, const char *object,
                           struct bk_error *err);
int walg_hashes_parse_buf(const void *data, size_t len, walg_hash_cb cb, void *payload,
                          const char *object, struct bk_error *err);

#endif

/*
 * WAL-G object layout, names only (walg-layout.md sections 1.1-1.3, 1.7, 2.1): LSNs, WAL segment
 * file names, the names PostgreSQL hands to archive_command/restore_command, backup names
 * (base_<24hex>[_D_<24hex>][_<8hex>]) and the object keys under the storage root.
 * Pure string and integer functions: nothing here touches storage or allocates.
 */
#ifndef WALG_NAMES_H
#define WALG_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_error.h"
#include "codec.h"

#define WALG_BASEBACKUPS_DIR "basebackups_005/"
#define WALG_WAL_DIR "wal_005/"
#define WALG_SENTINEL_SUFFIX "_backup_stop_sentinel.json"
#define WALG_METADATA_NAME "metadata.json"
#define WALG_FILES_METADATA_NAME "files_metadata.json"
/* Our own per-backup object (SHA-256 + size per tar entry); WAL-G ignores it. */
#define WALG_FILE_HASHES_NAME "backupd_file_hashes.json"
#define WALG_TAR_DIR "tar_partitions/"
#define WALG_DATE_FMT "%Y-%m-%dT%H:%M:%S.%fZ"

#define WALG_DEFAULT_SEG_SIZE (16u * 1024 * 1024)
#define WALG_MIN_SEG_SIZE (1u * 1024 * 1024)
#define WALG_MAX_SEG_SIZE (1024u * 1024 * 1024)

#define WALG_WAL_NAME_LEN 24
#define WALG_LSN_STR_CAP 18       /* "FFFFFFFF/FFFFFFFF" + NUL */
#define WALG_BACKUP_NAME_CAP 80   /* longest: "base_" + 24 + "_D_" + 24 + "_" + 8 = 65 chars */
#define WALG_KEY_CAP 256          /* every key built here fits (root prefix not included) */

/* ---- LSNs ---- */

/* "X/Y" with 1-8 hex digits each side (either case), as pg_lsn accepts.
 * BK_EINVAL: "\"<text>\" is not an LSN (expected e.g. 3/A2000028)". */
int walg_lsn_parse(const char *text, uint64_t *out, struct bk_error *err);
/* "%X/%X" like PostgreSQL and WAL-G's LSN.String(); out_cap >= WALG_LSN_STR_CAP. */
void walg_lsn_format(uint64_t lsn, char *out, size_t out_cap);

/* ---- segments ---- */

/* BK_EINVAL unless seg_size is a power of two in [1 MiB, 1 GiB]. */
int walg_seg_size_check(uint64_t seg_size, struct bk_error *err);
/* Segment holding lsn, and the first LSN of a segment. seg_size must pass walg_seg_size_check. */
uint64_t walg_lsn_to_segno(uint64_t lsn, uint64_t seg_size);
uint64_t walg_segno_to_lsn(uint64_t segno, uint64_t seg_size);
/* "%08X%08X%08X" of timeline, segno / (2^32/seg_size), segno % (2^32/seg_size) into out[25]. */
void walg_wal_name_format(uint32_t timeline, uint64_t segno, uint64_t seg_size, char out[25]);
/* Parses a 24-hex segment name (upper-case, exactly 24 chars). BK_EINVAL when it is not one, or
 * when its low part is too large for seg_size ("...is not a WAL segment name for 16 MiB segments"). */
int walg_wal_name_parse(const char *name, uint64_t seg_size, uint32_t *timeline, uint64_t *segno,
                        struct bk_error *err);
/* Name of the segment after `name` on the same timeline (for prefetch). BK_EINVAL if name is not
 * a segment name or is the last possible segment. */
int walg_wal_name_next(const char *name, uint64_t seg_size, char out[25], struct bk_error *err);

/* What PostgreSQL passes as %f to archive_command / restore_command. */
enum walg_wal_kind {
    WALG_WAL_SEGMENT = 0,   /* 000000010000000300000041 */
    WALG_WAL_HISTORY,       /* 00000002.history */
    WALG_WAL_PARTIAL,       /* 000000010000000300000041.partial */
    WALG_WAL_BACKUP_LABEL   /* 0000000100000003000000A2.00000028.backup */
};
/* Classifies a file name; anything else is BK_EINVAL "\"<name>\" is not a WAL file name".
 * Hex must be upper-case, as PostgreSQL writes it. */
int walg_wal_name_check(const char *name, enum walg_wal_kind *kind, struct bk_error *err);
/* Timeline of any of the four kinds (the first 8 hex digits). Same errors as walg_wal_name_check. */
int walg_wal_name_timeline(const char *name, uint32_t *timeline, struct bk_error *err);

/* ---- backup names ---- */

struct walg_backup_name {
    char wal_file_name[25];      /* first 24-hex group: start segment on the start timeline */
    uint32_t timeline;           /* from characters 5..12 */
    bool is_delta;
    char delta_base_wal[25];     /* the 24 hex after "_D_" (first group of the parent's name) */
    bool has_wale_offset;        /* WAL-E form base_<24>_<8hex> */
    uint32_t wale_offset;
};

/* Whole-string match of base_[0-9A-F]{24}(_D_[0-9A-F]{24})?(_[0-9A-F]{8})? .
 * BK_EINVAL "\"<name>\" is not a backup name". */
int walg_backup_name_parse(const char *name, struct walg_backup_name *out, struct bk_error *err);
/* "base_<wal name>" or, with delta_parent (any backup name), "base_<wal name>_D_<parent's first
 * 24-hex group>". BK_EINVAL if the parent name holds no 24-hex group. out_cap >= WALG_BACKUP_NAME_CAP. */
int walg_backup_name_format(uint32_t timeline, uint64_t segno, uint64_t seg_size,
                            const char *delta_parent, char *out, size_t out_cap, struct bk_error *err);
/* backup-list's wal_file_name column: the first run of 24 [0-9A-F] in text, else 24 'Z's. */
void walg_wal_file_name_of(const char *text, char out[25]);
/* Backup name from a key "<...>basebackups_005/<B>_backup_stop_sentinel.json" (or a bare
 * "<B>_backup_stop_sentinel.json"); false when key is not a sentinel key. */
bool walg_sentinel_key_to_name(const char *key, char *out, size_t out_cap);

/* ---- object keys (relative to the storage root) ---- */

/* basebackups_005/<B>_backup_stop_sentinel.json */
int walg_key_sentinel(char *out, size_t out_cap, const char *backup, struct bk_error *err);
/* basebackups_005/<B>/metadata.json */
int walg_key_metadata(char *out, size_t out_cap, const char *backup, struct bk_error *err);
/* basebackups_005/<B>/files_metadata.json */
int walg_key_files_metadata(char *out, size_t out_cap, const char *backup, struct bk_error *err);
/* basebackups_005/<B>/backupd_file_hashes.json */
int walg_key_file_hashes(char *out, size_t out_cap, const char *backup, struct bk_error *err);
/* basebackups_005/<B>/tar_partitions/ */
int walg_key_tar_dir(char *out, size_t out_cap, const char *backup, struct bk_error *err);
/* basebackups_005/<B>/tar_partitions/part_%03d.tar[.<ext>] (part_no >= 1; ext "" = none) */
int walg_key_tar_part(char *out, size_t out_cap, const char *backup, unsigned part_no,
                      const char *ext, struct bk_error *err);
/* basebackups_005/<B>/tar_partitions/pg_control.tar[.<ext>] */
int walg_key_pg_control(char *out, size_t out_cap, const char *backup, const char *ext,
                        struct bk_error *err);
/* basebackups_005/<B>/tar_partitions/backup_label.tar[.<ext>] */
int walg_key_backup_label(char *out, size_t out_cap, const char *backup, const char *ext,
                          struct bk_error *err);
/* wal_005/<wal file name>[.<ext>]; the name must pass walg_wal_name_check. */
int walg_key_wal(char *out, size_t out_cap, const char *wal_name, const char *ext,
                 struct bk_error *err);

/* Codec of a stored object from the extension after the last dot of its base name
 * (walg-layout.md 1.9): none/"tar"/"" (and raw .history/.partial/.backup) -> CODEC_NONE; lz4, lzma,
 * zst, br, lzo -> that codec. Anything else (e.g. WAL-G's decode-only "gz") is BK_EUNSUPPORTED
 * "unsupported compression extension \"<ext>\" of \"<key>\"". */
int walg_object_codec(const char *key, enum codec_id *out, struct bk_error *err);

#endif

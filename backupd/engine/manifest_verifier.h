/*
 * Checks a streamed base backup against PostgreSQL's backup_manifest (PG 13+). The manifest
 * arrives after the archives, so the verifier works in two steps: while tar members stream by,
 * it records each regular file's size and checksum (it is fed member events, so it plugs in as
 * a tar-reader handler); at the end, manifest_verifier_check() parses the manifest (json-c),
 * checks the manifest's own SHA-256 and compares it with what was recorded.
 */
#ifndef MANIFEST_VERIFIER_H
#define MANIFEST_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_error.h"
#include "tar_reader.h"

/* Per-file checksum algorithms of BASE_BACKUP's MANIFEST_CHECKSUMS option. */
enum manifest_checksum {
    MANIFEST_CHECKSUM_NONE = 0,
    MANIFEST_CHECKSUM_CRC32C,
    MANIFEST_CHECKSUM_SHA224,
    MANIFEST_CHECKSUM_SHA256,
    MANIFEST_CHECKSUM_SHA384,
    MANIFEST_CHECKSUM_SHA512,
};

/* "NONE", "CRC32C", "SHA224", "SHA256", "SHA384", "SHA512" (the spelling PostgreSQL uses);
 * NULL for a value outside the enum. */
const char *manifest_checksum_name(enum manifest_checksum checksum);
/* Case-insensitive inverse of manifest_checksum_name; BK_EINVAL for anything else. */
int manifest_checksum_parse(const char *text, enum manifest_checksum *out, struct bk_error *err);

struct manifest_verifier_opts {
    enum manifest_checksum checksum;  /* computed while streaming; must be what the server used */
    uint64_t system_identifier;       /* 0 = not checked; else compared with a v2 manifest's
                                         "System-Identifier" (PG 17+) */
};
#define MANIFEST_VERIFIER_OPTS_INIT { .checksum = MANIFEST_CHECKSUM_SHA256, .system_identifier = 0 }

/* Outcome of manifest_verifier_check. Counts cover every file, even after the first problem. */
struct manifest_verify_report {
    size_t files_in_manifest;
    size_t files_streamed;     /* regular members recorded (ignored ones not counted) */
    size_t files_ok;           /* size and checksum (if any) match */
    size_t mismatched;         /* size or checksum differs */
    size_t missing;            /* in the manifest, not streamed */
    size_t unexpected;         /* streamed, not in the manifest */
    size_t ignored;            /* streamed members the manifest never lists (pg_wal/...) */
    int manifest_version;      /* 1 (PG 13-16) or 2 (PG 17+) */
    uint32_t wal_timeline;     /* first "WAL-Ranges" entry; 0 when absent */
    uint64_t wal_start_lsn;
    uint64_t wal_end_lsn;
};

struct manifest_verifier;

/* Creates an empty verifier; *out is owned by the caller (manifest_verifier_free).
 * BK_EINVAL for a bad checksum value, BK_ENOMEM. */
int manifest_verifier_new(struct manifest_verifier **out, const struct manifest_verifier_opts *opts,
                          struct bk_error *err);
/* NULL-safe. */
void manifest_verifier_free(struct manifest_verifier *verifier);

/* Members that follow belong to the archive of this tablespace: 0 = main data directory (base.tar),
 * else the tablespace oid, whose members the manifest lists as "pg_tblspc/<oid>/<member>". */
int manifest_verifier_archive_begin(struct manifest_verifier *verifier, uint32_t tablespace_oid,
                                    struct bk_error *err);

/* One regular-file member: begin (tar member name; a leading "./" or "/" is dropped), any number of
 * data chunks (member contents only, no tar padding), end. Do not call these for directories,
 * links or other entry types: the manifest lists regular files only.
 * Members under "pg_wal/" are counted as ignored (the manifest covers WAL with WAL-Ranges).
 * Errors: BK_EINTERNAL for calls out of order, BK_ENOMEM. (A member streamed twice is reported
 * by manifest_verifier_check as unexpected.) */
int manifest_verifier_file_begin(struct manifest_verifier *verifier, const char *member_name,
                                 struct bk_error *err);
int manifest_verifier_file_data(struct manifest_verifier *verifier, const void *data, size_t len,
                                struct bk_error *err);
int manifest_verifier_file_end(struct manifest_verifier *verifier, struct bk_error *err);

/* Parses the manifest bytes (borrowed) and compares. Returns 0 only when the manifest checksum is
 * right and every file matches with nothing missing or unexpected. BK_ECORRUPT for any mismatch
 * (err->object names the first bad path; the report has all counts) and for a manifest that does
 * not parse or fails its own checksum; BK_EINVAL when the manifest uses a checksum algorithm
 * other than opts.checksum; BK_EINTERNAL when a member is still open. report may be NULL. */
int manifest_verifier_check(struct manifest_verify_report *report,
                            struct manifest_verifier *verifier, const void *manifest,
                            size_t manifest_len, struct bk_error *err);

/* Ready-made tar_reader handler (payload = the verifier): regular members go to
 * file_begin/data/end, other member types are skipped, abort drops an open member. Call
 * manifest_verifier_archive_begin before each archive's reader. Usage:
 *   opts.ops = &manifest_verifier_tar_ops; opts.payload = verifier; tar_reader_new(&sink, &opts, err); */
extern const struct tar_handler_ops manifest_verifier_tar_ops;

/* After manifest_verifier_file_end: copies the SHA-256 of the member just ended and returns true,
 * when the verifier computes SHA-256 and recorded that member (pg_wal/ members are ignored).
 * Lets a caller that keeps its own per-file SHA-256 list hash every byte once. */
bool manifest_verifier_last_sha256(const struct manifest_verifier *verifier, uint8_t out[32]);

/* CRC-32C (Castagnoli) as PostgreSQL computes it; start with crc = 0. Exposed for tests. */
uint32_t manifest_crc32c_update(uint32_t crc, const void *data, size_t len);

#endif

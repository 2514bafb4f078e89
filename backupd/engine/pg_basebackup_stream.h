/*
 * Streaming base backup over PostgreSQL's replication protocol (libpq, replication=true):
 * IDENTIFY_SYSTEM, SHOW wal_segment_size, BASE_BACKUP, then each server archive (base.tar,
 * <oid>.tar) is pushed into a bk_sink the caller's handler supplies, followed by backup_manifest.
 * Servers 15+ get the options-list syntax and the single COPY stream ('n'/'d'/'p'/'m' messages);
 * 13 and 14 get the legacy syntax with one COPY per archive. Older servers are refused.
 * Not here: tar parsing, compression, upload (the handler's sink chain does that).
 */
#ifndef PG_BASEBACKUP_STREAM_H
#define PG_BASEBACKUP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_error.h"
#include "bk_sink.h"
#include "manifest_verifier.h"

#define PGBB_MIN_SERVER_VERSION 130000   /* MANIFEST needs 13 */
#define PGBB_NEW_SYNTAX_VERSION 150000   /* BASE_BACKUP ( ... ) and the 'n'/'d'/'m' stream */

enum pgbb_checkpoint { PGBB_CHECKPOINT_FAST = 0, PGBB_CHECKPOINT_SPREAD };

struct pgbb_opts {
    const char *label;                    /* backup_label's LABEL; required, < 1024 bytes, no
                                             control characters (quotes are escaped) */
    enum pgbb_checkpoint checkpoint;
    bool wait_for_archive;                /* WAIT (15+) / no NOWAIT (13-14): the server waits until
                                             the WAL up to the stop LSN is archived */
    bool manifest;                        /* MANIFEST 'yes' */
    enum manifest_checksum manifest_checksums;
    bool progress;                        /* PROGRESS: the server estimates sizes first */
    bool verify_checksums;                /* false = VERIFY_CHECKSUMS false / NOVERIFY_CHECKSUMS */
    uint32_t max_rate_kbps;               /* MAX_RATE in kB/s; 0 = unlimited, else 32..1048576 */
    int connect_timeout_s;                /* used unless the conninfo sets connect_timeout */
};
#define PGBB_OPTS_INIT {                                                                         \
    .label = "backupd", .checkpoint = PGBB_CHECKPOINT_FAST, .wait_for_archive = true,            \
    .manifest = true, .manifest_checksums = MANIFEST_CHECKSUM_SHA256, .progress = true,          \
    .verify_checksums = true, .max_rate_kbps = 0, .connect_timeout_s = 30 }

struct pgbb_tablespace {
    uint32_t oid;         /* 0 for the main data directory */
    char *location;       /* owned by the result; NULL for the main data directory */
    int64_t size_kb;      /* server estimate (PROGRESS), -1 when not sent */
};

/* One server archive, lent to the handler for the duration of the callback. */
struct pgbb_archive {
    const char *name;          /* "base.tar", "16384.tar" */
    uint32_t tablespace_oid;   /* 0 = main data directory */
    const char *location;      /* "" for the main data directory */
    size_t index;              /* 0-based, in stream order */
};

/* Callbacks; payload is handler->payload. The stream only calls bk_sink_write on the sinks it is
 * given: finishing, aborting and freeing them is the handler's job (in archive_end/archive_abort
 * and manifest_end/manifest_abort), because one chain may span several archives.
 * Sequence per archive: archive_begin, writes, then exactly one of archive_end (the server went on
 * normally after the archive) or archive_abort (the backup failed while it was open). A begin that
 * fails gets neither: the handler cleans up before returning the error. Same for the manifest.
 * An archive_end that fails ends the backup with its code (no abort follows). */
struct pgbb_handler {
    /* Required. *out = where this archive's raw tar bytes go. */
    int (*archive_begin)(struct bk_sink **out, const struct pgbb_archive *archive, void *payload,
                         struct bk_error *err);
    /* Required. Every byte of the archive has been written. */
    int (*archive_end)(const struct pgbb_archive *archive, void *payload, struct bk_error *err);
    /* Optional. The backup failed while the archive was open (after a successful begin). */
    void (*archive_abort)(const struct pgbb_archive *archive, void *payload);
    /* Optional (without it the manifest is read and dropped). *out receives backup_manifest. */
    int (*manifest_begin)(struct bk_sink **out, void *payload, struct bk_error *err);
    int (*manifest_end)(void *payload, struct bk_error *err);    /* required with manifest_begin */
    void (*manifest_abort)(void *payload);
    /* Optional. done_bytes: archive bytes so far; total_bytes: server estimate (0 if unknown). */
    void (*progress)(uint64_t done_bytes, uint64_t total_bytes, void *payload);
    void *payload;
};

struct pgbb_result {
    uint64_t system_identifier;     /* IDENTIFY_SYSTEM */
    uint32_t identify_timeline;
    uint64_t identify_xlogpos;
    int server_version_num;         /* 150004 */
    uint32_t wal_segment_size;      /* bytes */
    uint64_t start_lsn;             /* BASE_BACKUP's first result set */
    uint32_t timeline;              /* start timeline: the one the backup name uses */
    uint64_t stop_lsn;              /* final result set */
    uint32_t stop_timeline;
    struct pgbb_tablespace *tablespaces;   /* server order: tablespaces, main directory last */
    size_t tablespaces_len;
    size_t archives_len;            /* archives streamed */
    uint64_t archive_bytes;         /* tar bytes streamed, all archives */
    uint64_t manifest_bytes;        /* 0 without a manifest */
    char label[1024];
};

/* Frees what a result owns; the struct may be reused. NULL-safe. */
void pgbb_result_clear(struct pgbb_result *result);

/*
 * Takes one base backup. conninfo is a libpq keyword/value string or URI (replication=true is
 * added; connect_timeout and keepalives get defaults it may override). *out is filled as the
 * backup goes (clear it with pgbb_result_clear even on failure). Blocking; not thread-safe for
 * one handler, independent calls may run in parallel.
 * Errors: BK_ENET (cannot connect, connection lost), BK_ETIMEOUT (connect timeout), BK_EAUTH
 * (authentication rejected), BK_EDENIED (no REPLICATION privilege), BK_EUNSUPPORTED (server < 13,
 * or the command was not understood), BK_EPROTO (unexpected reply), BK_ECORRUPT (the server found
 * page checksum failures, SQLSTATE XX001), BK_ESERVER (other server errors), BK_EINVAL (bad
 * options or server not configured for backups), or whatever a handler callback returned.
 * err->server_code holds the SQLSTATE when the server sent one. err never contains the password.
 */
int pgbb_run(struct pgbb_result *out, const char *conninfo, const struct pgbb_opts *opts,
             const struct pgbb_handler *handler, struct bk_error *err);

/* The BASE_BACKUP command for a server version (exposed for tests). BK_EINVAL for bad options
 * (label, rate range, checksum value), BK_EUNSUPPORTED below 13, BK_ENOMEM if out_cap is short. */
int pgbb_build_command(char *out, size_t out_cap, int server_version_num,
                       const struct pgbb_opts *opts, struct bk_error *err);

/* "16/B374D848" -> 0x16B374D848. BK_EPROTO on bad text. */
int pgbb_lsn_parse(const char *text, uint64_t *out, struct bk_error *err);

/* SHOW wal_segment_size text ("16MB", "1GB", "16777216") -> bytes; must be a power of two from
 * 1 MB to 1 GB. BK_EPROTO otherwise. */
int pgbb_wal_segment_size_parse(const char *text, uint32_t *out, struct bk_error *err);

/* WAL-G backup name of a streamed backup (walg-layout.md 1.2): "base_" + the 24-hex WAL file
 * name of segment start_lsn / wal_segment_size on the start timeline. out_cap >= 30. */
int pgbb_backup_name(char *out, size_t out_cap, const struct pgbb_result *result,
                     struct bk_error *err);

/* Replaces every occurrence of the conninfo's password (keyword form, URI user:password@, also
 * when the conninfo does not parse) in text with "***". Exposed for tests. */
void pgbb_redact_password(char *text, size_t text_cap, const char *conninfo);

#endif

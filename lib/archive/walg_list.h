/*
 * backup-list rendering shaped exactly like WAL-G v3.0.5 (walg-layout.md 3.1, 3.2): the tabwriter
 * table (header "backup_name modified wal_file_name storage_name", Go tabwriter padding 1), --json
 * (Go json.Encoder output), --detail (metadata.json fields; LSNs as X/Y in the table), plus our own
 * extended mode. Pure rendering over arrays of structs; walg_catalog.h fills them from storage.
 */
#ifndef WALG_LIST_H
#define WALG_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_error.h"
#include "walg_meta.h"

struct walg_list_entry {
    char *backup_name;         /* owned */
    int64_t modified_us;       /* sentinel object's LastModified (0 = unknown: printed "-") */
    char wal_file_name[25];    /* first 24-hex group of the name, or 24 'Z's */
    char *storage_name;        /* owned; NULL means "default" */
    bool has_metadata;         /* meta was read from <B>/metadata.json */
    struct walg_metadata meta;
};

/* Frees every entry's members and the array itself. NULL-safe. */
void walg_list_entries_free(struct walg_list_entry *entries, size_t n);
/* Fills name, wal_file_name (walg_wal_file_name_of) and modified; copies name. */
int walg_list_entry_init(struct walg_list_entry *e, const char *backup_name, int64_t modified_us,
                         struct bk_error *err);

enum walg_list_style {
    WALG_LIST_PLAIN = 0,   /* backup-list */
    WALG_LIST_DETAIL,      /* backup-list --detail: every entry needs has_metadata */
    WALG_LIST_EXTENDED     /* ours: detail + timeline and sizes; metadata optional ("-") */
};

struct walg_list_opts {
    enum walg_list_style style;
    bool json;             /* --json */
    bool pretty;           /* with json: Go's 4-space indent (the ASCII --pretty table is not done) */
};
#define WALG_LIST_OPTS_INIT { WALG_LIST_PLAIN, false, false }

/* In place. PLAIN: by modified ascending. DETAIL/EXTENDED: by metadata start_time when every entry
 * has one, else by modified. Ties: by name, so the order is deterministic (WAL-G's is not). */
void walg_list_sort(struct walg_list_entry *entries, size_t n, enum walg_list_style style);
/* LATEST: greatest modified; ties go to the greater name (the later listing position). NULL if n == 0. */
const struct walg_list_entry *walg_list_latest(const struct walg_list_entry *entries, size_t n);

/* Appends the rendering of entries (in the given order) to out. Nothing for n == 0, as WAL-G
 * prints nothing (its "No backups found" goes to stderr). DETAIL with an entry lacking metadata:
 * BK_ENOTFOUND "backup \"<B>\" has no metadata.json". */
int walg_list_render(const struct walg_list_entry *entries, size_t n, const struct walg_list_opts *opts,
                     struct bk_buf *out, struct bk_error *err);

/* Parses WAL-G's backup-list --json [--detail] output (an array of objects) into *out (caller
 * frees with walg_list_entries_free). BK_EINVAL "backup list entry field \"start_lsn\" must be a
 * number" etc. */
int walg_list_parse_json(const char *data, size_t len, const char *object, struct walg_list_entry **out,
                         size_t *out_len, struct bk_error *err);

#endif

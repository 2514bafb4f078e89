/*
 * Safe tar extraction into a target directory: the tar_reader handler used by restore.
 * Every name goes through extract_path_check; files are created by walking from a dirfd on
 * DEST with O_NOFOLLOW, so nothing is written outside DEST, not even through a symlink that
 * was already on disk. Links, devices and fifos are refused unless the policy below allows
 * them. WAL-G's rules are kept where they are safe (a leading '/' means "inside DEST").
 */
#ifndef EXTRACT_H
#define EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_error.h"
#include "bk_sink.h"
#include "tar_reader.h"

/* A set of tar entry names (hash set of copies). Build it single-threaded, then it may be
 * read by several extractors at once. */
struct extract_name_set;

int extract_name_set_new(struct extract_name_set **out, struct bk_error *err);
/* Adds a copy of name; adding an existing name is a no-op. */
int extract_name_set_add(struct extract_name_set *set, const char *name, struct bk_error *err);
bool extract_name_set_contains(const struct extract_name_set *set, const char *name);
size_t extract_name_set_count(const struct extract_name_set *set);
/* NULL-safe. */
void extract_name_set_free(struct extract_name_set *set);

struct extract_opts {
    const char *dest;          /* existing target directory (a fresh one for a restore) */
    bool allow_symlinks;       /* default false: WAL-G tars contain none. When true, only
                                * relative targets that provably stay inside DEST */
    bool fsync;                /* default true: fsync each file at close and every directory
                                * that got entries at the end of the archive */
    /* Non-directory entries whose *raw* tar name is not in this set are skipped (WAL-G's
     * files_metadata.json "Files" filter: the caller adds the Files keys plus
     * "/global/pg_control", "backup_label", "tablespace_map"). NULL: restore everything.
     * Directories are always restored. Borrowed. */
    const struct extract_name_set *only_names;
    /* Entries whose *normalised* path (extract_path_check output, e.g. "global/pg_control")
     * is in this set are skipped and counted as deferred, so the caller can restore them
     * last from another archive. Borrowed; NULL: none. */
    const struct extract_name_set *defer_names;
};
#define EXTRACT_OPTS_INIT { NULL, false, true, NULL, NULL }

struct extract_stats {
    uint64_t files;            /* regular files written */
    uint64_t dirs;             /* directory entries applied */
    uint64_t links;            /* symlinks and hard links created */
    uint64_t bytes;            /* file bytes written */
    uint64_t skipped;          /* not in only_names */
    uint64_t deferred;         /* in defer_names */
};

struct extract;

/* Opens DEST (must be an existing directory; BK_ENOTFOUND otherwise). opts is copied;
 * the name sets it points to are borrowed. One extractor serves one stream at a time;
 * it may be reused for several archives in sequence. */
int extract_new(struct extract **out, const struct extract_opts *opts, struct bk_error *err);
/* Removes a partially written file if a member was interrupted. NULL-safe. */
void extract_free(struct extract *ex);

/* The tar_reader callbacks; payload is the struct extract. */
const struct tar_handler_ops *extract_handler_ops(void);

/* Convenience: a tar_reader sink (terminal stage) that extracts into ex. ex is borrowed and
 * must outlive the sink. Errors name name_for_errors (may be NULL). */
int extract_reader_new(struct bk_sink **out, struct extract *ex, const char *name_for_errors,
                       struct bk_error *err);

const struct extract_stats *extract_get_stats(const struct extract *ex);

/* The one place that decides whether a tar entry name is acceptable, and what it means.
 * Writes the normalised path relative to DEST into out: leading '/' (WAL-G local mode),
 * "./" and repeated '/' and "." components dropped; "" stands for DEST itself.
 * out_cap must be at least strlen(entry_name) + 1. Errors (all BK_EINVAL, object = name):
 *   "tar entry has an empty name"
 *   "tar entry \"../x\" escapes the target directory"       ('..' leaves DEST)
 *   "tar entry \"a/../b\" contains a \"..\" component"         (any other '..')
 * A NUL cannot occur: the reader delivers C strings and refuses NUL in PAX names. */
int extract_path_check(char *out, size_t out_cap, const char *entry_name, struct bk_error *err);

#endif

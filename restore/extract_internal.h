/*
 * Folder-private helpers of the extractor (restore/extract*.c only): the symlink target
 * rule that goes with extract_path_check, kept next to it in extract_path.c.
 */
#ifndef EXTRACT_INTERNAL_H
#define EXTRACT_INTERNAL_H

#include "bk_error.h"

/* Accepts a symlink target only when it provably resolves inside DEST whatever the other
 * links in DEST point to: relative, all ".." components first (they climb only through the
 * real directories that hold the link), then plain names going down. rel_link is the link's
 * normalised path. BK_EINVAL naming entry_name otherwise. */
int extract_symlink_target_check(const char *rel_link, const char *target, const char *entry_name,
                                 struct bk_error *err);

#endif

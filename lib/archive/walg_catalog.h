/*
 * Reads the backup catalog of one WAL-G storage root: which backups exist (one sentinel per
 * backup in basebackups_005/, listed non-recursively as WAL-G does), their sentinels,
 * metadata.json and files_metadata.json. Fills the structs that walg_list.h renders.
 * Thread safety: as the storage handle; no state of its own.
 */
#ifndef WALG_CATALOG_H
#define WALG_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "bk_error.h"
#include "storage.h"
#include "walg_list.h"
#include "walg_meta.h"

#define WALG_SENTINEL_MAX_BYTES (64u * 1024 * 1024)   /* a V1 sentinel may embed Files */
#define WALG_METADATA_MAX_BYTES (16u * 1024 * 1024)

/* Every object basebackups_005/<B>_backup_stop_sentinel.json (contents not read), in listing
 * order, with the sentinel's LastModified. *out is owned by the caller (walg_list_entries_free);
 * *out is non-NULL even when *out_len is 0. */
int walg_catalog_list(struct storage *st, struct walg_list_entry **out, size_t *out_len, struct bk_error *err);

/* Reads <B>/metadata.json into each entry. A missing file leaves has_metadata false unless
 * require_all, which fails with BK_ENOTFOUND "backup \"<B>\" has no metadata.json" (backup-list
 * --detail behaviour). Other read or parse errors always fail. */
int walg_catalog_load_metadata(struct storage *st, struct walg_list_entry *entries, size_t n, bool require_all,
                               struct bk_error *err);

/* BK_ENOTFOUND when the backup (its sentinel) does not exist; BK_EINVAL when it does not parse. */
int walg_catalog_read_sentinel(struct storage *st, const char *backup, struct walg_sentinel *out,
                               struct bk_error *err);
int walg_catalog_read_metadata(struct storage *st, const char *backup, struct walg_metadata *out,
                               struct bk_error *err);
/* Streams <B>/files_metadata.json through the callbacks (bounded memory). BK_ENOTFOUND if absent. */
int walg_catalog_read_files_metadata(struct storage *st, const char *backup, const struct walg_files_meta_cbs *cbs,
                                     void *payload, struct bk_error *err);

/* "LATEST" (greatest sentinel LastModified) or an existing backup name into out.
 * BK_ENOTFOUND "no backups found" / "backup \"<B>\" does not exist". */
int walg_catalog_resolve(struct storage *st, const char *name_or_latest, char *out, size_t out_cap,
                         struct bk_error *err);

#endif

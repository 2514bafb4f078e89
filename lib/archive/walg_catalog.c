/*
 * Backup catalog walker over the storage API: lists basebackups_005/ non-recursively, keeps the
 * *_backup_stop_sentinel.json objects, and reads sentinels, metadata.json and files_metadata.json
 * on demand. Rendering is walg_list.c's job; parsing is walg_meta*.c's.
 */
#include "walg_catalog.h"

#include <stdlib.h>
#include <string.h>

#include "walg_names.h"

int walg_catalog_list(struct storage *st, struct walg_list_entry **out, size_t *out_len, struct bk_error *err)
{
    struct storage_list *it = NULL;
    struct walg_list_entry *entries = NULL;
    size_t n = 0, cap = 16;
    int rc;
    *out = NULL;
    *out_len = 0;
    entries = calloc(cap, sizeof(*entries));
    if (entries == NULL)
        return bk_error_set(err, BK_ENOMEM, "walg_catalog_list", NULL, "out of memory");
    rc = storage_list_new(&it, st, WALG_BASEBACKUPS_DIR, false, err);
    while (rc == BK_OK) {
        const struct storage_entry *entry = NULL;
        char name[WALG_KEY_CAP];
        const char *rest;
        rc = storage_list_next(it, &entry, err);
        if (rc <= 0)
            break;
        rc = BK_OK;
        rest = entry->key;
        if (strncmp(rest, WALG_BASEBACKUPS_DIR, strlen(WALG_BASEBACKUPS_DIR)) == 0)
            rest += strlen(WALG_BASEBACKUPS_DIR);
        if (entry->is_prefix || strchr(rest, '/') != NULL || !walg_sentinel_key_to_name(rest, name, sizeof(name)))
            continue;
        if (n == cap) {
            struct walg_list_entry *grown = realloc(entries, 2 * cap * sizeof(*entries));
            if (grown == NULL) {
                rc = bk_error_set(err, BK_ENOMEM, "walg_catalog_list", NULL, "out of memory");
                break;
            }
            memset(grown + cap, 0, cap * sizeof(*grown));
            entries = grown;
            cap *= 2;
        }
        rc = walg_list_entry_init(&entries[n], name, entry->mtime_us, err);
        if (rc == BK_OK)
            n++;
    }
    storage_list_free(it);
    if (rc < 0) {
        walg_list_entries_free(entries, n);
        return rc;
    }
    *out = entries;
    *out_len = n;
    return BK_OK;
}

static int read_small(struct storage *st, const char *key, size_t max_bytes, struct bk_buf *buf,
                      struct bk_error *err)
{
    bk_buf_init(buf, max_bytes);
    return storage_get_buf(st, key, buf, err);
}

int walg_catalog_read_sentinel(struct storage *st, const char *backup, struct walg_sentinel *out,
                               struct bk_error *err)
{
    char key[WALG_KEY_CAP];
    struct bk_buf buf;
    int rc = walg_key_sentinel(key, sizeof(key), backup, err);
    if (rc != BK_OK)
        return rc;
    rc = read_small(st, key, WALG_SENTINEL_MAX_BYTES, &buf, err);
    if (rc == BK_ENOTFOUND)
        bk_error_set(err, BK_ENOTFOUND, "walg_catalog_read_sentinel", key, "backup \"%s\" does not exist",
                     backup);
    if (rc == BK_OK)
        rc = walg_sentinel_parse((const char *)buf.data, buf.len, key, out, err);
    bk_buf_free(&buf);
    return rc;
}

int walg_catalog_read_metadata(struct storage *st, const char *backup, struct walg_metadata *out,
                               struct bk_error *err)
{
    char key[WALG_KEY_CAP];
    struct bk_buf buf;
    int rc = walg_key_metadata(key, sizeof(key), backup, err);
    if (rc != BK_OK)
        return rc;
    rc = read_small(st, key, WALG_METADATA_MAX_BYTES, &buf, err);
    if (rc == BK_ENOTFOUND)
        bk_error_set(err, BK_ENOTFOUND, "walg_catalog_read_metadata", key, "backup \"%s\" has no metadata.json",
                     backup);
    if (rc == BK_OK)
        rc = walg_metadata_parse((const char *)buf.data, buf.len, key, out, err);
    bk_buf_free(&buf);
    return rc;
}

int walg_catalog_load_metadata(struct storage *st, struct walg_list_entry *entries, size_t n, bool require_all,
                               struct bk_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = walg_catalog_read_metadata(st, entries[i].backup_name, &entries[i].meta, err);
        if (rc == BK_ENOTFOUND && !require_all) {
            entries[i].has_metadata = false;
            continue;
        }
        if (rc != BK_OK)
            return rc;
        entries[i].has_metadata = true;
    }
    return BK_OK;
}

int walg_catalog_read_files_metadata(struct storage *st, const char *backup, const struct walg_files_meta_cbs *cbs,
                                     void *payload, struct bk_error *err)
{
    char key[WALG_KEY_CAP];
    struct bk_sink *reader = NULL;
    int rc = walg_key_files_metadata(key, sizeof(key), backup, err);
    if (rc != BK_OK)
        return rc;
    rc = walg_files_meta_reader_new(&reader, cbs, payload, key, err);
    if (rc == BK_OK)
        rc = storage_get(st, key, 0, 0, reader, err);
    if (rc == BK_OK)
        rc = bk_sink_finish(reader, err);
    bk_sink_free(reader);
    return rc;
}

int walg_catalog_resolve(struct storage *st, const char *name_or_latest, char *out, size_t out_cap,
                         struct bk_error *err)
{
    struct walg_list_entry *entries = NULL;
    size_t n = 0;
    const char *found = NULL;
    int rc = walg_catalog_list(st, &entries, &n, err);
    if (rc != BK_OK)
        return rc;
    if (strcmp(name_or_latest, "LATEST") == 0) {
        const struct walg_list_entry *latest = walg_list_latest(entries, n);
        if (latest == NULL)
            rc = bk_error_set(err, BK_ENOTFOUND, "walg_catalog_resolve", WALG_BASEBACKUPS_DIR, "no backups found");
        else
            found = latest->backup_name;
    } else {
        for (size_t i = 0; i < n && found == NULL; i++) {
            if (strcmp(entries[i].backup_name, name_or_latest) == 0)
                found = entries[i].backup_name;
        }
        if (found == NULL)
            rc = bk_error_set(err, BK_ENOTFOUND, "walg_catalog_resolve", NULL, "backup \"%.200s\" does not exist",
                              name_or_latest);
    }
    if (found != NULL && strlen(found) >= out_cap)
        rc = bk_error_set(err, BK_EINVAL, "walg_catalog_resolve", NULL, "backup name longer than %zu bytes",
                          out_cap);
    else if (found != NULL)
        memcpy(out, found, strlen(found) + 1);
    walg_list_entries_free(entries, n);
    return rc;
}

/* Retention and backup-mark; see retention.h. */
#include "retention.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_log.h"
#include "walg_catalog.h"
#include "walg_list.h"
#include "walg_meta.h"
#include "walg_names.h"

#define DELETE_BATCH 1000

static void say(retention_report_cb report, void *payload, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(retention_report_cb report, void *payload, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (report != NULL)
        report(payload, line);
}

static int cmp_modified(const void *a, const void *b)
{
    const struct walg_list_entry *x = a, *y = b;
    if (x->modified_us != y->modified_us)
        return x->modified_us < y->modified_us ? -1 : 1;
    return strcmp(x->backup_name, y->backup_name);
}

struct key_batch {
    char *keys[DELETE_BATCH];
    size_t len;
};

static int batch_flush(struct key_batch *b, struct storage *st, bool confirm, struct bk_error *err)
{
    int rc = BK_OK;
    if (confirm && b->len > 0)
        rc = storage_remove_many(st, (const char *const *)b->keys, b->len, err);
    for (size_t i = 0; i < b->len; i++)
        free(b->keys[i]);
    b->len = 0;
    return rc;
}

static int batch_add(struct key_batch *b, struct storage *st, bool confirm, const char *key, struct bk_error *err)
{
    if ((b->keys[b->len] = strdup(key)) == NULL)
        return bk_error_set(err, BK_ENOMEM, "delete", key, "out of memory");
    b->len++;
    return b->len == DELETE_BATCH ? batch_flush(b, st, confirm, err) : BK_OK;
}

/* Sentinel first (the backup disappears from listings), then its folder. */
static int delete_backup(struct storage *st, const char *name, bool confirm, uint64_t *objects,
                         struct bk_error *err)
{
    struct key_batch *batch = calloc(1, sizeof(*batch));
    struct storage_list *it = NULL;
    const struct storage_entry *e;
    char key[WALG_KEY_CAP];
    int rc;
    if (batch == NULL)
        return bk_error_set(err, BK_ENOMEM, "delete", name, "out of memory");
    if ((rc = walg_key_sentinel(key, sizeof(key), name, err)) != BK_OK)
        goto out;
    if (confirm && (rc = storage_remove(st, key, err)) != BK_OK)
        goto out;
    (*objects)++;
    snprintf(key, sizeof(key), "%s%s/", WALG_BASEBACKUPS_DIR, name);
    if ((rc = storage_list_new(&it, st, key, true, err)) != BK_OK)
        goto out;
    while ((rc = storage_list_next(it, &e, err)) == 1) {
        (*objects)++;
        if ((rc = batch_add(batch, st, confirm, e->key, err)) != BK_OK)
            goto out;
    }
    if (rc == 0)
        rc = batch_flush(batch, st, confirm, err);
out:
    batch_flush(batch, st, false, &(struct bk_error)BK_ERROR_INIT);
    free(batch);
    storage_list_free(it);
    return rc < 0 ? rc : BK_OK;
}

struct wal_range {
    uint64_t first;   /* segno, inclusive */
    uint64_t last;
};

int retention_run(struct retention_result *out, struct storage *st, const struct retention_opts *opts,
                  retention_report_cb report, void *payload, struct bk_error *err)
{
    struct walg_list_entry *entries = NULL;
    size_t n = 0;
    bool *doomed = NULL;
    struct wal_range *keep_ranges = NULL;
    size_t n_ranges = 0;
    struct key_batch *batch = NULL;
    struct storage_list *it = NULL;
    const struct storage_entry *e;
    uint64_t seg_size = opts->wal_segment_size ? opts->wal_segment_size : WALG_DEFAULT_SEG_SIZE;
    uint64_t boundary_segno = 0;
    bool have_boundary = false;
    size_t cut = 0;          /* entries[0..cut) are candidates for deletion */
    int rc;

    memset(out, 0, sizeof(*out));
    if (opts->mode == RETENTION_RETAIN && opts->retain < 1)
        return bk_error_set(err, BK_EINVAL, "delete", NULL, "retain needs at least 1 backup to keep");
    if ((rc = walg_catalog_list(st, &entries, &n, err)) != BK_OK)
        return rc;
    if ((rc = walg_catalog_load_metadata(st, entries, n, false, err)) != BK_OK)
        goto out;
    qsort(entries, n, sizeof(*entries), cmp_modified);   /* oldest first */
    if (opts->mode == RETENTION_RETAIN) {
        cut = n > opts->retain ? n - opts->retain : 0;
    } else if (opts->mode == RETENTION_BEFORE_NAME) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            if (strcmp(entries[i].backup_name, opts->name) == 0) {
                cut = i;
                found = true;
            }
        if (!found) {
            rc = bk_error_set(err, BK_ENOTFOUND, "delete", opts->name, "backup \"%s\" not found", opts->name);
            goto out;
        }
    } else {
        while (cut < n && entries[cut].modified_us < opts->time_us)
            cut++;
        if (cut == n && n > 0) {
            rc = bk_error_set(err, BK_EINVAL, "delete", NULL,
                              "every backup is older than the given time; refusing to delete them all");
            goto out;
        }
    }
    doomed = calloc(n ? n : 1, sizeof(*doomed));
    keep_ranges = calloc(n ? n : 1, sizeof(*keep_ranges));
    batch = calloc(1, sizeof(*batch));
    if (doomed == NULL || keep_ranges == NULL || batch == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "delete", NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct walg_backup_name bn;
        uint32_t tli;
        uint64_t segno;
        bool permanent = entries[i].has_metadata && entries[i].meta.is_permanent;
        if (walg_backup_name_parse(entries[i].backup_name, &bn, err) != BK_OK ||
            walg_wal_name_parse(bn.wal_file_name, seg_size, &tli, &segno, err) != BK_OK) {
            rc = BK_EINVAL;
            goto out;
        }
        doomed[i] = i < cut && !permanent;
        if (doomed[i]) {
            say(report, payload, "%s backup %s", opts->confirm ? "delete" : "would delete", entries[i].backup_name);
            continue;
        }
        say(report, payload, "keep backup %s%s", entries[i].backup_name, permanent ? " (permanent)" : "");
        if (i >= cut) {
            /* the oldest backup kept by the rule bounds the WAL that may go */
            if (!have_boundary || segno < boundary_segno)
                boundary_segno = segno;
            have_boundary = true;
        } else if (entries[i].has_metadata) {
            /* a permanent backup older than the boundary keeps the WAL of its own run */
            uint64_t first = walg_lsn_to_segno(entries[i].meta.start_lsn ? entries[i].meta.start_lsn - 1 : 0, seg_size);
            uint64_t last = walg_lsn_to_segno(entries[i].meta.finish_lsn ? entries[i].meta.finish_lsn - 1 : 0, seg_size);
            keep_ranges[n_ranges++] = (struct wal_range){ first, last };
        } else {
            keep_ranges[n_ranges++] = (struct wal_range){ segno, UINT64_MAX };
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!doomed[i])
            continue;
        if ((rc = delete_backup(st, entries[i].backup_name, opts->confirm, &out->objects_deleted, err)) != BK_OK)
            goto out;
        out->backups_deleted++;
    }
    out->backups_kept = (unsigned)(n - out->backups_deleted);
    if (!have_boundary) {
        say(report, payload, "no backup is kept by the rule: no WAL is deleted");
        goto summary;
    }
    if ((rc = storage_list_new(&it, st, WALG_WAL_DIR, true, err)) != BK_OK)
        goto out;
    while ((rc = storage_list_next(it, &e, err)) == 1) {
        const char *base = e->key + strlen(WALG_WAL_DIR);
        char name[25];
        uint32_t tli;
        uint64_t segno;
        bool keep = false;
        struct bk_error ignored = BK_ERROR_INIT;
        if (strlen(base) < 24)
            continue;
        memcpy(name, base, 24);
        name[24] = '\0';
        /* only names that start with a WAL segment name count; .history and others stay */
        if (walg_wal_name_parse(name, seg_size, &tli, &segno, &ignored) != BK_OK || segno >= boundary_segno)
            continue;
        for (size_t r = 0; r < n_ranges && !keep; r++)
            keep = segno >= keep_ranges[r].first && segno <= keep_ranges[r].last;
        if (keep)
            continue;
        out->wal_deleted++;
        out->objects_deleted++;
        if ((rc = batch_add(batch, st, opts->confirm, e->key, err)) != BK_OK)
            goto out;
    }
    if (rc < 0)
        goto out;
    if ((rc = batch_flush(batch, st, opts->confirm, err)) != BK_OK)
        goto out;
summary:
    say(report, payload, "%s %u backup%s and %llu WAL object%s (%llu objects); %u backup%s kept%s",
        opts->confirm ? "deleted" : "would delete", out->backups_deleted, out->backups_deleted == 1 ? "" : "s",
        (unsigned long long)out->wal_deleted, out->wal_deleted == 1 ? "" : "s",
        (unsigned long long)out->objects_deleted, out->backups_kept, out->backups_kept == 1 ? "" : "s",
        opts->confirm ? "" : " (dry run: add --confirm to delete)");
    rc = BK_OK;
out:
    if (batch != NULL)
        batch_flush(batch, st, false, &(struct bk_error)BK_ERROR_INIT);
    free(batch);
    storage_list_free(it);
    free(doomed);
    free(keep_ranges);
    walg_list_entries_free(entries, n);
    return rc;
}

int retention_mark(struct storage *st, const char *backup, bool permanent, struct bk_error *err)
{
    struct walg_metadata meta;
    struct bk_buf json;
    struct storage_put_opts po = STORAGE_PUT_OPTS_INIT;
    char key[WALG_KEY_CAP];
    bool exists = false;
    int rc;
    memset(&meta, 0, sizeof(meta));
    bk_buf_init(&json, WALG_METADATA_MAX_BYTES);
    if ((rc = walg_key_sentinel(key, sizeof(key), backup, err)) != BK_OK ||
        (rc = storage_exists(st, key, &exists, err)) != BK_OK)
        goto out;
    if (!exists) {
        rc = bk_error_set(err, BK_ENOTFOUND, "backup_mark", key, "backup \"%s\" not found", backup);
        goto out;
    }
    if ((rc = walg_catalog_read_metadata(st, backup, &meta, err)) != BK_OK)
        goto out;
    meta.is_permanent = permanent;
    po.content_type = "application/json";
    if ((rc = walg_metadata_write(&meta, &json, err)) != BK_OK ||
        (rc = walg_key_metadata(key, sizeof(key), backup, err)) != BK_OK ||
        (rc = storage_put_buf(st, key, json.data, json.len, &po, err)) != BK_OK)
        goto out;
out:
    walg_metadata_free(&meta);
    bk_buf_free(&json);
    return rc;
}

/*
 * backup-list output as WAL-G v3.0.5 prints it (internal/printlist + postgres BackupDetail):
 * Go text/tabwriter(minwidth 0, tabwidth 0, padding 1, ' ') for tables, json.Encoder for --json.
 * Also reads WAL-G's --json output back (interop and golden tests). No storage access here.
 */
#include "walg_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json.h>

#include "bk_time.h"
#include "walg_json.h"
#include "walg_names.h"

#define LIST_MAX_BYTES (256u * 1024 * 1024)
#define GO_ZERO_TIME "0001-01-01T00:00:00Z"

void walg_list_entries_free(struct walg_list_entry *entries, size_t n)
{
    if (entries == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(entries[i].backup_name);
        free(entries[i].storage_name);
        walg_metadata_free(&entries[i].meta);
    }
    free(entries);
}

int walg_list_entry_init(struct walg_list_entry *e, const char *backup_name, int64_t modified_us,
                         struct bk_error *err)
{
    memset(e, 0, sizeof(*e));
    e->backup_name = strdup(backup_name);
    if (e->backup_name == NULL)
        return bk_error_set(err, BK_ENOMEM, "walg_list_entry_init", NULL, "out of memory");
    e->modified_us = modified_us;
    walg_wal_file_name_of(backup_name, e->wal_file_name);
    return BK_OK;
}

/* ---- ordering ---- */

static int cmp_entries(const void *a, const void *b, void *ctx)
{
    const struct walg_list_entry *x = a, *y = b;
    bool by_start_time = *(const bool *)ctx;
    int64_t tx = by_start_time ? x->meta.start_time_us : x->modified_us;
    int64_t ty = by_start_time ? y->meta.start_time_us : y->modified_us;
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(x->backup_name, y->backup_name);
}

void walg_list_sort(struct walg_list_entry *entries, size_t n, enum walg_list_style style)
{
    bool all_start = style != WALG_LIST_PLAIN;
    for (size_t i = 0; i < n && all_start; i++)
        all_start = entries[i].has_metadata && entries[i].meta.has_start_time;
    qsort_r(entries, n, sizeof(*entries), cmp_entries, &all_start);
}

const struct walg_list_entry *walg_list_latest(const struct walg_list_entry *entries, size_t n)
{
    const struct walg_list_entry *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct walg_list_entry *e = &entries[i];
        if (best == NULL || e->modified_us > best->modified_us ||
            (e->modified_us == best->modified_us && strcmp(e->backup_name, best->backup_name) > 0))
            best = e;
    }
    return best;
}

/* ---- tabwriter ---- */

static size_t rune_count(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    }
    return n;
}

/* Go text/tabwriter with minwidth 0, padding 1, padchar ' ', flags 0, every row having the same
 * cell count: each column but the last is as wide as its widest cell plus one space. */
static int tab_render(char *const *cells, size_t rows, size_t cols, struct bk_buf *out, struct bk_error *err)
{
    size_t *widths = calloc(cols, sizeof(*widths));
    int rc = BK_OK;
    if (widths == NULL)
        return bk_error_set(err, BK_ENOMEM, "walg_list_render", NULL, "out of memory");
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c + 1 < cols; c++) {
            size_t w = rune_count(cells[r * cols + c]) + 1;
            if (w > widths[c])
                widths[c] = w;
        }
    }
    for (size_t r = 0; r < rows && rc == BK_OK; r++) {
        for (size_t c = 0; c < cols && rc == BK_OK; c++) {
            const char *cell = cells[r * cols + c];
            rc = bk_buf_append_str(out, cell, err);
            for (size_t pad = rune_count(cell); c + 1 < cols && pad < widths[c] && rc == BK_OK; pad++)
                rc = bk_buf_append(out, " ", 1, err);
        }
        if (rc == BK_OK)
            rc = bk_buf_append(out, "\n", 1, err);
    }
    free(widths);
    return rc;
}

/* internal.FormatTime: RFC 3339 seconds, "-" for Go's zero time. */
static char *fmt_time(bool has, int64_t us)
{
    char tmp[48];
    if (!has)
        return strdup("-");
    bk_time_format_rfc3339(us, 0, tmp, sizeof(tmp));
    return strdup(tmp);
}

static char *fmt_u64(uint64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
    return strdup(tmp);
}

static char *fmt_i64(int64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    return strdup(tmp);
}

static char *fmt_lsn(uint64_t v)
{
    char tmp[WALG_LSN_STR_CAP];
    walg_lsn_format(v, tmp, sizeof(tmp));
    return strdup(tmp);
}

static const char *const plain_cols[] = { "backup_name", "modified", "wal_file_name", "storage_name" };
static const char *const detail_cols[] = { "start_time", "finish_time", "hostname", "data_dir", "pg_version",
                                           "start_lsn", "finish_lsn", "is_permanent" };
static const char *const extended_cols[] = { "timeline", "uncompressed_size", "compressed_size" };
#define N_PLAIN (sizeof(plain_cols) / sizeof(plain_cols[0]))
#define N_DETAIL (sizeof(detail_cols) / sizeof(detail_cols[0]))
#define N_EXT (sizeof(extended_cols) / sizeof(extended_cols[0]))

static const char *storage_of(const struct walg_list_entry *e)
{
    return e->storage_name != NULL ? e->storage_name : "default";
}

static uint32_t timeline_of(const struct walg_list_entry *e)
{
    struct walg_backup_name parsed;
    struct bk_error ignored = BK_ERROR_INIT;
    if (walg_backup_name_parse(e->backup_name, &parsed, &ignored) == BK_OK)
        return parsed.timeline;
    return 0;
}

/* Fills one table row (cols cells) with malloc'd strings; NULL cells mean out of memory. */
static void table_row(char **row, const struct walg_list_entry *e, enum walg_list_style style)
{
    const struct walg_metadata *m = &e->meta;
    bool meta = e->has_metadata;
    size_t c = 0;
    row[c++] = strdup(e->backup_name);
    row[c++] = fmt_time(e->modified_us != 0, e->modified_us);
    row[c++] = strdup(e->wal_file_name);
    row[c++] = strdup(storage_of(e));
    if (style == WALG_LIST_PLAIN)
        return;
    row[c++] = meta ? fmt_time(m->has_start_time, m->start_time_us) : strdup("-");
    row[c++] = meta ? fmt_time(m->has_finish_time, m->finish_time_us) : strdup("-");
    row[c++] = strdup(meta && m->hostname != NULL ? m->hostname : (meta ? "" : "-"));
    row[c++] = strdup(meta && m->data_dir != NULL ? m->data_dir : (meta ? "" : "-"));
    row[c++] = meta ? fmt_i64(m->pg_version) : strdup("-");
    row[c++] = meta ? fmt_lsn(m->start_lsn) : strdup("-");
    row[c++] = meta ? fmt_lsn(m->finish_lsn) : strdup("-");
    row[c++] = strdup(meta ? (m->is_permanent ? "true" : "false") : "-");
    if (style != WALG_LIST_EXTENDED)
        return;
    row[c++] = fmt_u64(timeline_of(e));
    row[c++] = meta ? fmt_i64(m->uncompressed_size) : strdup("-");
    row[c++] = meta ? fmt_i64(m->compressed_size) : strdup("-");
}

static int render_table(const struct walg_list_entry *entries, size_t n, enum walg_list_style style,
                        struct bk_buf *out, struct bk_error *err)
{
    size_t cols = N_PLAIN + (style != WALG_LIST_PLAIN ? N_DETAIL : 0) + (style == WALG_LIST_EXTENDED ? N_EXT : 0);
    size_t total = (n + 1) * cols;
    char **cells = calloc(total, sizeof(*cells));
    int rc = BK_OK;
    if (cells == NULL)
        return bk_error_set(err, BK_ENOMEM, "walg_list_render", NULL, "out of memory");
    for (size_t c = 0; c < cols; c++) {
        const char *h = c < N_PLAIN ? plain_cols[c]
                        : c < N_PLAIN + N_DETAIL ? detail_cols[c - N_PLAIN] : extended_cols[c - N_PLAIN - N_DETAIL];
        cells[c] = strdup(h);
    }
    for (size_t i = 0; i < n; i++)
        table_row(cells + (i + 1) * cols, &entries[i], style);
    for (size_t i = 0; i < total; i++) {
        if (cells[i] == NULL) {
            rc = bk_error_set(err, BK_ENOMEM, "walg_list_render", NULL, "out of memory");
            goto out;
        }
    }
    rc = tab_render(cells, n + 1, cols, out, err);
out:
    for (size_t i = 0; i < total; i++)
        free(cells[i]);
    free(cells);
    return rc;
}

/* ---- JSON ---- */

static void json_time(struct walg_jw *w, bool has, int64_t us)
{
    if (has)
        walg_jw_time_us(w, us);
    else
        walg_jw_string(w, GO_ZERO_TIME);
}

static void json_entry(struct walg_jw *w, const struct walg_list_entry *e, enum walg_list_style style)
{
    const struct walg_metadata *m = &e->meta;
    walg_jw_begin_object(w);
    walg_jw_key(w, "backup_name");
    walg_jw_string(w, e->backup_name);
    walg_jw_key(w, "time");
    json_time(w, e->modified_us != 0, e->modified_us);
    walg_jw_key(w, "wal_file_name");
    walg_jw_string(w, e->wal_file_name);
    walg_jw_key(w, "storage_name");
    walg_jw_string(w, storage_of(e));
    if (style != WALG_LIST_PLAIN && e->has_metadata) {
        walg_jw_key(w, "start_time");
        json_time(w, m->has_start_time, m->start_time_us);
        walg_jw_key(w, "finish_time");
        json_time(w, m->has_finish_time, m->finish_time_us);
        walg_jw_key(w, "date_fmt");
        walg_jw_string(w, m->date_fmt);
        walg_jw_key(w, "hostname");
        walg_jw_string(w, m->hostname);
        walg_jw_key(w, "data_dir");
        walg_jw_string(w, m->data_dir);
        walg_jw_key(w, "pg_version");
        walg_jw_i64(w, m->pg_version);
        walg_jw_key(w, "start_lsn");
        walg_jw_u64(w, m->start_lsn);
        walg_jw_key(w, "finish_lsn");
        walg_jw_u64(w, m->finish_lsn);
        walg_jw_key(w, "is_permanent");
        walg_jw_bool(w, m->is_permanent);
        walg_jw_key(w, "system_identifier");
        if (m->has_system_identifier)
            walg_jw_u64(w, m->system_identifier);
        else
            walg_jw_null(w);
        walg_jw_key(w, "uncompressed_size");
        walg_jw_i64(w, m->uncompressed_size);
        walg_jw_key(w, "compressed_size");
        walg_jw_i64(w, m->compressed_size);
        if (m->user_data != NULL) {
            walg_jw_key(w, "user_data");
            walg_jw_json_text(w, m->user_data, "user data");
        }
    }
    if (style == WALG_LIST_EXTENDED) {
        walg_jw_key(w, "timeline");
        walg_jw_u64(w, timeline_of(e));
    }
    walg_jw_end_object(w);
}

static int render_json(const struct walg_list_entry *entries, size_t n, const struct walg_list_opts *opts,
                       struct bk_buf *out, struct bk_error *err)
{
    struct walg_jw w;
    int rc;
    walg_jw_init(&w, NULL, LIST_MAX_BYTES, opts->pretty);
    walg_jw_begin_array(&w);
    for (size_t i = 0; i < n && w.rc == BK_OK; i++)
        json_entry(&w, &entries[i], opts->style);
    walg_jw_end_array(&w);
    rc = walg_jw_finish(&w, err);
    if (rc == BK_OK)
        rc = bk_buf_append(out, w.buf.data, w.buf.len, err);
    if (rc == BK_OK)
        rc = bk_buf_append(out, "\n", 1, err);   /* json.Encoder ends each value with a newline */
    walg_jw_free(&w);
    return rc;
}

int walg_list_render(const struct walg_list_entry *entries, size_t n, const struct walg_list_opts *opts,
                     struct bk_buf *out, struct bk_error *err)
{
    if (n == 0)
        return BK_OK;
    if (opts->style == WALG_LIST_DETAIL) {
        for (size_t i = 0; i < n; i++) {
            if (!entries[i].has_metadata)
                return bk_error_set(err, BK_ENOTFOUND, "walg_list_render", entries[i].backup_name,
                                    "backup \"%s\" has no metadata.json", entries[i].backup_name);
        }
    }
    if (opts->json)
        return render_json(entries, n, opts, out, err);
    return render_table(entries, n, opts->style, out, err);
}

/* ---- reading WAL-G's --json output ---- */

static int parse_entry(const struct walg_jctx *c, struct json_object *obj, struct walg_list_entry *e,
                       struct bk_error *err)
{
    bool present = false;
    bool has_time = false;
    char *wal = NULL;
    int rc = BK_OK;
    if (json_object_get_type(obj) != json_type_object)
        return bk_error_set(err, BK_EINVAL, c->op, c->object, "backup list entries must be JSON objects");
    json_object_object_foreach(obj, key, val) {
        if (strcasecmp(key, "backup_name") == 0) {
            rc = walg_jget_str(c, val, key, &present, &e->backup_name, err);
        } else if (strcasecmp(key, "time") == 0) {
            rc = walg_jget_time(c, val, key, &has_time, &e->modified_us, err);
        } else if (strcasecmp(key, "wal_file_name") == 0) {
            rc = walg_jget_str(c, val, key, &present, &wal, err);
        } else if (strcasecmp(key, "storage_name") == 0) {
            rc = walg_jget_str(c, val, key, &present, &e->storage_name, err);
        } else {
            e->has_metadata = true;
            rc = walg_metadata_field(c, &e->meta, key, val, err);
        }
        if (rc != BK_OK)
            goto out;
    }
    if (e->backup_name == NULL) {
        rc = bk_error_set(err, BK_EINVAL, c->op, c->object, "backup list entry has no \"backup_name\"");
        goto out;
    }
    if (wal != NULL && strlen(wal) == 24)
        memcpy(e->wal_file_name, wal, 25);
    else
        walg_wal_file_name_of(e->backup_name, e->wal_file_name);
out:
    free(wal);
    return rc;
}

int walg_list_parse_json(const char *data, size_t len, const char *object, struct walg_list_entry **out,
                         size_t *out_len, struct bk_error *err)
{
    const struct walg_jctx c = { "backup list entry", object, "walg_list_parse_json" };
    struct json_object *root = NULL;
    struct walg_list_entry *entries = NULL;
    size_t n = 0;
    int rc;
    *out = NULL;
    *out_len = 0;
    rc = walg_json_parse(data, len, "backup list", object, &root, err);
    if (rc != BK_OK)
        goto out;
    if (json_object_get_type(root) != json_type_array) {
        rc = bk_error_set(err, BK_EINVAL, c.op, object, "backup list must be a JSON array");
        goto out;
    }
    n = json_object_array_length(root);
    entries = calloc(n > 0 ? n : 1, sizeof(*entries));
    if (entries == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, c.op, object, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rc = parse_entry(&c, json_object_array_get_idx(root, i), &entries[i], err);
        if (rc != BK_OK)
            goto out;
    }
    *out = entries;
    *out_len = n;
    entries = NULL;
out:
    walg_list_entries_free(entries, n);
    json_object_put(root);
    return rc;
}

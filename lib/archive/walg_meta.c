/*
 * Sentinel and metadata.json: WAL-G v3.0.5's exact writer (key order of BackupSentinelDtoV2 and
 * ExtendedMetadataDto, Spec keys sorted as Go marshals its map) and tolerant readers for V2, V1
 * and WAL-E sentinels (keys matched case-insensitively, null = absent, wrong types refused).
 * files_metadata.json and our file hashes live in walg_meta_files.c.
 */
#include "walg_meta.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json.h>

#include "walg_json.h"
#include "walg_names.h"

#define SENTINEL_MAX_BYTES (64u * 1024 * 1024)
#define GO_ZERO_TIME "0001-01-01T00:00:00Z"

/* ---- freeing ---- */

void walg_spec_free(struct walg_spec *spec)
{
    if (spec == NULL)
        return;
    for (size_t i = 0; i < spec->tablespaces_len; i++) {
        free(spec->tablespaces[i].name);
        free(spec->tablespaces[i].location);
        free(spec->tablespaces[i].link);
    }
    free(spec->tablespaces);
    free(spec->base_prefix);
    memset(spec, 0, sizeof(*spec));
}

void walg_sentinel_free(struct walg_sentinel *s)
{
    if (s == NULL)
        return;
    free(s->delta_from);
    free(s->delta_full_name);
    walg_spec_free(s->spec);
    free(s->spec);
    free(s->user_data);
    free(s->date_fmt);
    free(s->hostname);
    free(s->data_dir);
    free(s->wale_stop_segment);
    free(s->wale_stop_offset);
    memset(s, 0, sizeof(*s));
}

void walg_metadata_free(struct walg_metadata *m)
{
    if (m == NULL)
        return;
    free(m->date_fmt);
    free(m->hostname);
    free(m->data_dir);
    free(m->user_data);
    memset(m, 0, sizeof(*m));
}

int walg_user_data_canonical(const char *text, char **out, struct bk_error *err)
{
    return walg_json_canonical(text, "user data", out, err);
}

/* ---- writing ---- */

/* One trailing '/' dropped, as WAL-G's utility.NormalizePath does. */
static void jw_path(struct walg_jw *w, const char *path)
{
    size_t len = path != NULL ? strlen(path) : 0;
    if (len > 0 && path[len - 1] == '/')
        len--;
    walg_jw_string_n(w, path != NULL ? path : "", len);
}

struct spec_key {
    const char *key;
    int kind;        /* 0 base_prefix, 1 tablespaces, 2 a tablespace entry */
    size_t index;
};

static int cmp_spec_key(const void *a, const void *b)
{
    return strcmp(((const struct spec_key *)a)->key, ((const struct spec_key *)b)->key);
}

/* Go marshals the spec from a map[string]interface{}: every key sorted byte-wise. */
static void jw_spec(struct walg_jw *w, const struct walg_spec *spec)
{
    size_t n = spec->tablespaces_len + 2;
    struct spec_key *keys;
    struct bk_error err = BK_ERROR_INIT;
    if (spec->base_prefix == NULL || spec->base_prefix[0] == '\0') {
        bk_error_set(&err, BK_EINVAL, "walg_sentinel_write", NULL, "sentinel spec has no base_prefix");
        walg_jw_fail(w, &err);
        return;
    }
    keys = calloc(n, sizeof(*keys));
    if (keys == NULL) {
        bk_error_set(&err, BK_ENOMEM, "walg_sentinel_write", NULL, "out of memory");
        walg_jw_fail(w, &err);
        return;
    }
    keys[0] = (struct spec_key){ "base_prefix", 0, 0 };
    keys[1] = (struct spec_key){ "tablespaces", 1, 0 };
    for (size_t i = 0; i < spec->tablespaces_len; i++) {
        const char *name = spec->tablespaces[i].name;
        keys[i + 2] = (struct spec_key){ name != NULL ? name : "", 2, i };
    }
    qsort(keys, n, sizeof(*keys), cmp_spec_key);
    walg_jw_begin_object(w);
    for (size_t i = 0; i < n; i++) {
        walg_jw_key(w, keys[i].key);
        if (keys[i].kind == 0) {
            jw_path(w, spec->base_prefix);
        } else if (keys[i].kind == 1) {
            walg_jw_begin_array(w);
            for (size_t t = 0; t < spec->tablespaces_len; t++)
                walg_jw_string(w, spec->tablespaces[t].name);
            walg_jw_end_array(w);
        } else {
            const struct walg_tablespace *ts = &spec->tablespaces[keys[i].index];
            walg_jw_begin_object(w);
            walg_jw_key(w, "loc");
            jw_path(w, ts->location);
            walg_jw_key(w, "link");
            walg_jw_string(w, ts->link);
            walg_jw_end_object(w);
        }
    }
    walg_jw_end_object(w);
    free(keys);
}

static void jw_time_or_zero(struct walg_jw *w, bool has, int64_t us)
{
    if (has)
        walg_jw_time_us(w, us);
    else
        walg_jw_string(w, GO_ZERO_TIME);
}

static int finish_into(struct walg_jw *w, struct bk_buf *out, struct bk_error *err)
{
    int rc = walg_jw_finish(w, err);
    if (rc == BK_OK)
        rc = bk_buf_append(out, w->buf.data, w->buf.len, err);
    walg_jw_free(w);
    return rc;
}

int walg_sentinel_write(const struct walg_sentinel *s, struct bk_buf *out, struct bk_error *err)
{
    struct walg_jw w;
    if (s->delta_from != NULL && (!s->has_delta_lsn || s->delta_full_name == NULL || !s->has_delta_count))
        return bk_error_set(err, BK_EINVAL, "walg_sentinel_write", NULL,
                            "sentinel has DeltaFrom but not all of DeltaLSN, DeltaFullName, DeltaCount");
    walg_jw_init(&w, NULL, SENTINEL_MAX_BYTES, false);
    walg_jw_begin_object(&w);
    walg_jw_key(&w, "LSN");
    if (s->has_lsn)
        walg_jw_u64(&w, s->lsn);
    else
        walg_jw_null(&w);
    if (s->has_delta_lsn) {
        walg_jw_key(&w, "DeltaLSN");
        walg_jw_u64(&w, s->delta_lsn);
    }
    if (s->delta_from != NULL) {
        walg_jw_key(&w, "DeltaFrom");
        walg_jw_string(&w, s->delta_from);
    }
    if (s->delta_full_name != NULL) {
        walg_jw_key(&w, "DeltaFullName");
        walg_jw_string(&w, s->delta_full_name);
    }
    if (s->has_delta_count) {
        walg_jw_key(&w, "DeltaCount");
        walg_jw_i64(&w, s->delta_count);
    }
    walg_jw_key(&w, "PgVersion");
    walg_jw_i64(&w, s->pg_version);
    walg_jw_key(&w, "FinishLSN");
    if (s->has_finish_lsn)
        walg_jw_u64(&w, s->finish_lsn);
    else
        walg_jw_null(&w);
    if (s->has_system_identifier) {
        walg_jw_key(&w, "SystemIdentifier");
        walg_jw_u64(&w, s->system_identifier);
    }
    walg_jw_key(&w, "UncompressedSize");
    walg_jw_i64(&w, s->uncompressed_size);
    walg_jw_key(&w, "CompressedSize");
    walg_jw_i64(&w, s->compressed_size);
    if (s->data_catalog_size != 0) {
        walg_jw_key(&w, "DataCatalogSize");
        walg_jw_i64(&w, s->data_catalog_size);
    }
    walg_jw_key(&w, "Spec");
    if (s->spec != NULL)
        jw_spec(&w, s->spec);
    else
        walg_jw_null(&w);
    if (s->user_data != NULL) {
        walg_jw_key(&w, "UserData");
        walg_jw_json_text(&w, s->user_data, "sentinel user data");
    }
    if (s->files_metadata_disabled) {
        walg_jw_key(&w, "FilesMetadataDisabled");
        walg_jw_bool(&w, true);
    }
    walg_jw_key(&w, "ChkpNum");
    walg_jw_null(&w);
    walg_jw_key(&w, "Version");
    walg_jw_i64(&w, 2);
    walg_jw_key(&w, "StartTime");
    jw_time_or_zero(&w, s->has_start_time, s->start_time_us);
    walg_jw_key(&w, "FinishTime");
    jw_time_or_zero(&w, s->has_finish_time, s->finish_time_us);
    walg_jw_key(&w, "DateFmt");
    walg_jw_string(&w, s->date_fmt != NULL ? s->date_fmt : WALG_DATE_FMT);
    walg_jw_key(&w, "Hostname");
    walg_jw_string(&w, s->hostname);
    walg_jw_key(&w, "DataDir");
    walg_jw_string(&w, s->data_dir);
    walg_jw_key(&w, "IsPermanent");
    walg_jw_bool(&w, s->is_permanent);
    walg_jw_end_object(&w);
    return finish_into(&w, out, err);
}

int walg_metadata_write(const struct walg_metadata *m, struct bk_buf *out, struct bk_error *err)
{
    struct walg_jw w;
    walg_jw_init(&w, NULL, SENTINEL_MAX_BYTES, false);
    walg_jw_begin_object(&w);
    walg_jw_key(&w, "start_time");
    jw_time_or_zero(&w, m->has_start_time, m->start_time_us);
    walg_jw_key(&w, "finish_time");
    jw_time_or_zero(&w, m->has_finish_time, m->finish_time_us);
    walg_jw_key(&w, "date_fmt");
    walg_jw_string(&w, m->date_fmt != NULL ? m->date_fmt : WALG_DATE_FMT);
    walg_jw_key(&w, "hostname");
    walg_jw_string(&w, m->hostname);
    walg_jw_key(&w, "data_dir");
    walg_jw_string(&w, m->data_dir);
    walg_jw_key(&w, "pg_version");
    walg_jw_i64(&w, m->pg_version);
    walg_jw_key(&w, "start_lsn");
    walg_jw_u64(&w, m->start_lsn);
    walg_jw_key(&w, "finish_lsn");
    walg_jw_u64(&w, m->finish_lsn);
    walg_jw_key(&w, "is_permanent");
    walg_jw_bool(&w, m->is_permanent);
    walg_jw_key(&w, "system_identifier");
    if (m->has_system_identifier)
        walg_jw_u64(&w, m->system_identifier);
    else
        walg_jw_null(&w);
    walg_jw_key(&w, "uncompressed_size");
    walg_jw_i64(&w, m->uncompressed_size);
    walg_jw_key(&w, "compressed_size");
    walg_jw_i64(&w, m->compressed_size);
    if (m->user_data != NULL) {
        walg_jw_key(&w, "user_data");
        walg_jw_json_text(&w, m->user_data, "metadata user data");
    }
    walg_jw_end_object(&w);
    return finish_into(&w, out, err);
}

static int dup_or_null(char **dst, const char *src, struct bk_error *err)
{
    *dst = NULL;
    if (src == NULL)
        return BK_OK;
    *dst = strdup(src);
    if (*dst == NULL)
        return bk_error_set(err, BK_ENOMEM, "walg_metadata_from_sentinel", NULL, "out of memory");
    return BK_OK;
}

int walg_metadata_from_sentinel(const struct walg_sentinel *s, struct walg_metadata *out, struct bk_error *err)
{
    int rc;
    memset(out, 0, sizeof(*out));
    out->has_start_time = s->has_start_time;
    out->start_time_us = s->start_time_us;
    out->has_finish_time = s->has_finish_time;
    out->finish_time_us = s->finish_time_us;
    out->pg_version = s->pg_version;
    out->start_lsn = s->lsn;
    out->finish_lsn = s->finish_lsn;
    out->is_permanent = s->is_permanent;
    out->has_system_identifier = s->has_system_identifier;
    out->system_identifier = s->system_identifier;
    out->uncompressed_size = s->uncompressed_size;
    out->compressed_size = s->compressed_size;
    rc = dup_or_null(&out->date_fmt, s->date_fmt, err);
    if (rc == BK_OK)
        rc = dup_or_null(&out->hostname, s->hostname, err);
    if (rc == BK_OK)
        rc = dup_or_null(&out->data_dir, s->data_dir, err);
    if (rc == BK_OK)
        rc = dup_or_null(&out->user_data, s->user_data, err);
    if (rc != BK_OK)
        walg_metadata_free(out);
    return rc;
}

/* ---- reading ---- */

static int spec_error(const struct walg_jctx *c, const char *field, const char *what, struct bk_error *err)
{
    return bk_error_set(err, BK_EINVAL, c->op, c->object, "%s field \"%s\" %s", c->what, field, what);
}

static int spec_parse(const struct walg_jctx *c, const char *field, struct json_object *v,
                      struct walg_spec **out, struct bk_error *err)
{
    struct walg_spec *spec = NULL;
    struct json_object *base, *names;
    size_t n = 0;
    int rc = BK_OK;
    *out = NULL;
    if (json_object_get_type(v) != json_type_object)
        return spec_error(c, field, "must be an object", err);
    base = json_object_object_get(v, "base_prefix");
    if (json_object_get_type(base) != json_type_string)
        return spec_error(c, field, "has no \"base_prefix\"", err);
    names = json_object_object_get(v, "tablespaces");
    if (json_object_get_type(names) == json_type_array)
        n = json_object_array_length(names);
    spec = calloc(1, sizeof(*spec));
    if (spec == NULL || (n > 0 && (spec->tablespaces = calloc(n, sizeof(*spec->tablespaces))) == NULL)) {
        rc = bk_error_set(err, BK_ENOMEM, c->op, c->object, "out of memory");
        goto out;
    }
    spec->base_prefix = strdup(json_object_get_string(base));
    if (spec->base_prefix == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, c->op, c->object, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *name = json_object_array_get_idx(names, i);
        struct json_object *entry, *loc, *link;
        struct walg_tablespace *ts = &spec->tablespaces[i];
        if (json_object_get_type(name) != json_type_string) {
            rc = spec_error(c, field, "has a tablespace name that is not a string", err);
            goto out;
        }
        spec->tablespaces_len = i + 1;
        entry = json_object_object_get(v, json_object_get_string(name));
        loc = json_object_object_get(entry, "loc");
        link = json_object_object_get(entry, "link");
        if (json_object_get_type(entry) != json_type_object || json_object_get_type(loc) != json_type_string ||
            json_object_get_type(link) != json_type_string) {
            rc = bk_error_set(err, BK_EINVAL, c->op, c->object,
                              "%s field \"%s\" has no loc/link for tablespace \"%.64s\"", c->what, field,
                              json_object_get_string(name));
            goto out;
        }
        ts->name = strdup(json_object_get_string(name));
        ts->location = strdup(json_object_get_string(loc));
        ts->link = strdup(json_object_get_string(link));
        if (ts->name == NULL || ts->location == NULL || ts->link == NULL) {
            rc = bk_error_set(err, BK_ENOMEM, c->op, c->object, "out of memory");
            goto out;
        }
    }
    *out = spec;
    spec = NULL;
out:
    walg_spec_free(spec);
    free(spec);
    return rc;
}

enum sentinel_field {
    F_UNKNOWN, F_LSN, F_DELTA_LSN, F_DELTA_FROM_LSN, F_DELTA_FROM, F_DELTA_FULL_NAME, F_DELTA_COUNT,
    F_PG_VERSION, F_FINISH_LSN, F_SYSTEM_IDENTIFIER, F_UNCOMPRESSED_SIZE, F_COMPRESSED_SIZE,
    F_DATA_CATALOG_SIZE, F_SPEC, F_USER_DATA, F_FILES_METADATA_DISABLED, F_VERSION, F_START_TIME,
    F_FINISH_TIME, F_DATE_FMT, F_HOSTNAME, F_DATA_DIR, F_IS_PERMANENT, F_FILES, F_TAR_FILE_SETS,
    F_WALE_STOP_SEGMENT, F_WALE_STOP_OFFSET, F_WALE_EXPANDED_SIZE
};

static const struct {
    const char *name;
    enum sentinel_field id;
} sentinel_fields[] = {
    { "LSN", F_LSN }, { "DeltaLSN", F_DELTA_LSN }, { "DeltaFromLSN", F_DELTA_FROM_LSN },
    { "DeltaFrom", F_DELTA_FROM }, { "DeltaFullName", F_DELTA_FULL_NAME }, { "DeltaCount", F_DELTA_COUNT },
    { "PgVersion", F_PG_VERSION }, { "FinishLSN", F_FINISH_LSN }, { "SystemIdentifier", F_SYSTEM_IDENTIFIER },
    { "UncompressedSize", F_UNCOMPRESSED_SIZE }, { "CompressedSize", F_COMPRESSED_SIZE },
    { "DataCatalogSize", F_DATA_CATALOG_SIZE }, { "Spec", F_SPEC }, { "UserData", F_USER_DATA },
    { "FilesMetadataDisabled", F_FILES_METADATA_DISABLED }, { "Version", F_VERSION },
    { "StartTime", F_START_TIME }, { "FinishTime", F_FINISH_TIME }, { "DateFmt", F_DATE_FMT },
    { "Hostname", F_HOSTNAME }, { "DataDir", F_DATA_DIR }, { "IsPermanent", F_IS_PERMANENT },
    { "Files", F_FILES }, { "TarFileSets", F_TAR_FILE_SETS },
    { "wal_segment_backup_stop", F_WALE_STOP_SEGMENT },
    { "wal_segment_offset_backup_stop", F_WALE_STOP_OFFSET },
    { "expanded_size_bytes", F_WALE_EXPANDED_SIZE },
};

static enum sentinel_field sentinel_field_of(const char *key)
{
    for (size_t i = 0; i < sizeof(sentinel_fields) / sizeof(sentinel_fields[0]); i++) {
        if (strcasecmp(key, sentinel_fields[i].name) == 0)
            return sentinel_fields[i].id;
    }
    return F_UNKNOWN;
}

/* WAL-E wrote the offset as psql gave it: usually a string, a number is accepted too. */
static int wale_text(const struct walg_jctx *c, struct json_object *v, const char *field, char **out,
                     struct bk_error *err)
{
    bool present;
    if (json_object_get_type(v) == json_type_int) {
        free(*out);
        *out = strdup(json_object_get_string(v));
        return *out != NULL ? BK_OK : bk_error_set(err, BK_ENOMEM, c->op, c->object, "out of memory");
    }
    return walg_jget_str(c, v, field, &present, out, err);
}

static int sentinel_field(const struct walg_jctx *c, struct walg_sentinel *s, const char *key,
                          struct json_object *v, bool *has_delta_from_lsn, uint64_t *delta_from_lsn,
                          struct bk_error *err)
{
    bool present = false, ignored_b;
    switch (sentinel_field_of(key)) {
    case F_LSN: return walg_jget_u64(c, v, key, &s->has_lsn, &s->lsn, err);
    case F_DELTA_LSN: return walg_jget_u64(c, v, key, &s->has_delta_lsn, &s->delta_lsn, err);
    case F_DELTA_FROM_LSN: return walg_jget_u64(c, v, key, has_delta_from_lsn, delta_from_lsn, err);
    case F_DELTA_FROM: return walg_jget_str(c, v, key, &present, &s->delta_from, err);
    case F_DELTA_FULL_NAME: return walg_jget_str(c, v, key, &present, &s->delta_full_name, err);
    case F_DELTA_COUNT: return walg_jget_i64(c, v, key, &s->has_delta_count, &s->delta_count, err);
    case F_PG_VERSION: return walg_jget_i64(c, v, key, &present, &s->pg_version, err);
    case F_FINISH_LSN: return walg_jget_u64(c, v, key, &s->has_finish_lsn, &s->finish_lsn, err);
    case F_SYSTEM_IDENTIFIER:
        return walg_jget_u64(c, v, key, &s->has_system_identifier, &s->system_identifier, err);
    case F_UNCOMPRESSED_SIZE: return walg_jget_i64(c, v, key, &present, &s->uncompressed_size, err);
    case F_COMPRESSED_SIZE: return walg_jget_i64(c, v, key, &present, &s->compressed_size, err);
    case F_DATA_CATALOG_SIZE: return walg_jget_i64(c, v, key, &present, &s->data_catalog_size, err);
    case F_SPEC:
        walg_spec_free(s->spec);
        free(s->spec);
        s->spec = NULL;
        if (json_object_get_type(v) == json_type_null)
            return BK_OK;
        return spec_parse(c, key, v, &s->spec, err);
    case F_USER_DATA:
        free(s->user_data);
        s->user_data = NULL;
        if (json_object_get_type(v) == json_type_null)
            return BK_OK;
        return walg_json_canonical_object(v, &s->user_data, err);
    case F_FILES_METADATA_DISABLED:
        return walg_jget_bool(c, v, key, &present, &s->files_metadata_disabled, err);
    case F_VERSION: return walg_jget_i64(c, v, key, &present, &s->version, err);
    case F_START_TIME: return walg_jget_time(c, v, key, &s->has_start_time, &s->start_time_us, err);
    case F_FINISH_TIME: return walg_jget_time(c, v, key, &s->has_finish_time, &s->finish_time_us, err);
    case F_DATE_FMT: return walg_jget_str(c, v, key, &present, &s->date_fmt, err);
    case F_HOSTNAME: return walg_jget_str(c, v, key, &present, &s->hostname, err);
    case F_DATA_DIR: return walg_jget_str(c, v, key, &present, &s->data_dir, err);
    case F_IS_PERMANENT: return walg_jget_bool(c, v, key, &ignored_b, &s->is_permanent, err);
    case F_FILES:
    case F_TAR_FILE_SETS:
        if (json_object_get_type(v) == json_type_null)
            return BK_OK;
        if (json_object_get_type(v) != json_type_object)
            return bk_error_set(err, BK_EINVAL, c->op, c->object, "%s field \"%s\" must be an object", c->what,
                                key);
        s->has_files = true;
        return BK_OK;
    case F_WALE_STOP_SEGMENT:
        s->is_wale = true;
        return walg_jget_str(c, v, key, &present, &s->wale_stop_segment, err);
    case F_WALE_STOP_OFFSET: return wale_text(c, v, key, &s->wale_stop_offset, err);
    case F_WALE_EXPANDED_SIZE:
        return walg_jget_i64(c, v, key, &s->has_wale_expanded_size, &s->wale_expanded_size_bytes, err);
    case F_UNKNOWN:
        break;
    }
    return BK_OK;   /* ChkpNum, DeltaChkpNum and unknown keys are ignored, as Go does */
}

int walg_sentinel_parse(const char *data, size_t len, const char *object, struct walg_sentinel *out,
                        struct bk_error *err)
{
    const struct walg_jctx c = { "sentinel", object, "walg_sentinel_parse" };
    struct json_object *root = NULL;
    bool has_delta_from_lsn = false;
    uint64_t delta_from_lsn = 0;
    int rc;
    walg_sentinel_free(out);
    rc = walg_json_parse(data, len, "sentinel", object, &root, err);
    if (rc != BK_OK)
        goto out;
    if (json_object_get_type(root) != json_type_object) {
        rc = bk_error_set(err, BK_EINVAL, c.op, object, "sentinel must be a JSON object");
        goto out;
    }
    json_object_object_foreach(root, key, val) {
        rc = sentinel_field(&c, out, key, val, &has_delta_from_lsn, &delta_from_lsn, err);
        if (rc != BK_OK)
            goto out;
    }
    if (!out->has_delta_lsn && has_delta_from_lsn) {
        out->has_delta_lsn = true;
        out->delta_lsn = delta_from_lsn;
    }
    if (out->delta_from != NULL && !out->has_delta_lsn) {
        rc = bk_error_set(err, BK_EINVAL, c.op, object, "sentinel has DeltaFrom but no DeltaLSN");
        goto out;
    }
    if (out->delta_from != NULL && (out->delta_full_name == NULL || !out->has_delta_count)) {
        rc = bk_error_set(err, BK_EINVAL, c.op, object, "sentinel has DeltaFrom but no %s",
                          out->delta_full_name == NULL ? "DeltaFullName" : "DeltaCount");
        goto out;
    }
out:
    json_object_put(root);
    if (rc != BK_OK)
        walg_sentinel_free(out);
    return rc;
}

enum metadata_field {
    M_UNKNOWN, M_START_TIME, M_FINISH_TIME, M_DATE_FMT, M_HOSTNAME, M_DATA_DIR, M_PG_VERSION, M_START_LSN,
    M_FINISH_LSN, M_IS_PERMANENT, M_SYSTEM_IDENTIFIER, M_UNCOMPRESSED_SIZE, M_COMPRESSED_SIZE, M_USER_DATA
};

static const struct {
    const char *name;
    enum metadata_field id;
} metadata_fields[] = {
    { "start_time", M_START_TIME }, { "finish_time", M_FINISH_TIME }, { "date_fmt", M_DATE_FMT },
    { "hostname", M_HOSTNAME }, { "data_dir", M_DATA_DIR }, { "pg_version", M_PG_VERSION },
    { "start_lsn", M_START_LSN }, { "finish_lsn", M_FINISH_LSN }, { "is_permanent", M_IS_PERMANENT },
    { "system_identifier", M_SYSTEM_IDENTIFIER }, { "uncompressed_size", M_UNCOMPRESSED_SIZE },
    { "compressed_size", M_COMPRESSED_SIZE }, { "user_data", M_USER_DATA },
};

int walg_metadata_field(const struct walg_jctx *c, struct walg_metadata *m, const char *key,
                        struct json_object *v, struct bk_error *err)
{
    enum metadata_field id = M_UNKNOWN;
    bool present = false;
    for (size_t i = 0; i < sizeof(metadata_fields) / sizeof(metadata_fields[0]); i++) {
        if (strcasecmp(key, metadata_fields[i].name) == 0)
            id = metadata_fields[i].id;
    }
    switch (id) {
    case M_START_TIME: return walg_jget_time(c, v, key, &m->has_start_time, &m->start_time_us, err);
    case M_FINISH_TIME: return walg_jget_time(c, v, key, &m->has_finish_time, &m->finish_time_us, err);
    case M_DATE_FMT: return walg_jget_str(c, v, key, &present, &m->date_fmt, err);
    case M_HOSTNAME: return walg_jget_str(c, v, key, &present, &m->hostname, err);
    case M_DATA_DIR: return walg_jget_str(c, v, key, &present, &m->data_dir, err);
    case M_PG_VERSION: return walg_jget_i64(c, v, key, &present, &m->pg_version, err);
    case M_START_LSN: return walg_jget_u64(c, v, key, &present, &m->start_lsn, err);
    case M_FINISH_LSN: return walg_jget_u64(c, v, key, &present, &m->finish_lsn, err);
    case M_IS_PERMANENT: return walg_jget_bool(c, v, key, &present, &m->is_permanent, err);
    case M_SYSTEM_IDENTIFIER:
        return walg_jget_u64(c, v, key, &m->has_system_identifier, &m->system_identifier, err);
    case M_UNCOMPRESSED_SIZE: return walg_jget_i64(c, v, key, &present, &m->uncompressed_size, err);
    case M_COMPRESSED_SIZE: return walg_jget_i64(c, v, key, &present, &m->compressed_size, err);
    case M_USER_DATA:
        free(m->user_data);
        m->user_data = NULL;
        if (json_object_get_type(v) == json_type_null)
            return BK_OK;
        return walg_json_canonical_object(v, &m->user_data, err);
    case M_UNKNOWN:
        break;
    }
    return BK_OK;
}

int walg_metadata_parse(const char *data, size_t len, const char *object, struct walg_metadata *out,
                        struct bk_error *err)
{
    const struct walg_jctx c = { "metadata", object, "walg_metadata_parse" };
    struct json_object *root = NULL;
    int rc;
    walg_metadata_free(out);
    rc = walg_json_parse(data, len, "metadata", object, &root, err);
    if (rc != BK_OK)
        goto out;
    if (json_object_get_type(root) != json_type_object) {
        rc = bk_error_set(err, BK_EINVAL, c.op, object, "metadata must be a JSON object");
        goto out;
    }
    json_object_object_foreach(root, key, val) {
        rc = walg_metadata_field(&c, out, key, val, err);
        if (rc != BK_OK)
            goto out;
    }
out:
    json_object_put(root);
    if (rc != BK_OK)
        walg_metadata_free(out);
    return rc;
}

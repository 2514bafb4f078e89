/*
 * files_metadata.json (WAL-G's per-file list, walg-layout.md 1.6) and our backupd_file_hashes.json,
 * both written and read as streams: a big database has hundreds of thousands of entries, so the
 * writers emit entry by entry into a bk_sink and the readers are sinks driven by the push
 * tokenizer in walg_json_stream.c. Memory stays bounded by the longest name.
 */
#include "walg_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bk_time.h"
#include "walg_json.h"
#include "walg_json_stream.h"

#define WRITER_MAX_BUF (16u * 1024 * 1024)
#define MAX_TOKEN (1u * 1024 * 1024)

static int jw_status(struct walg_jw *jw, struct bk_error *err)
{
    if (jw->rc != BK_OK && err != NULL)
        *err = jw->err;
    return jw->rc;
}

/* ---- files_metadata.json writer ---- */

enum { SEC_NONE, SEC_FILES, SEC_TARS, SEC_DONE };

struct walg_files_writer {
    struct walg_jw jw;
    int section;
    bool in_tar;
};

int walg_files_writer_new(struct walg_files_writer **out, struct bk_sink *dst, struct bk_error *err)
{
    struct walg_files_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return bk_error_set(err, BK_ENOMEM, "walg_files_writer_new", NULL, "out of memory");
    walg_jw_init(&w->jw, dst, WRITER_MAX_BUF, false);
    walg_jw_begin_object(&w->jw);
    *out = w;
    return BK_OK;
}

void walg_files_writer_free(struct walg_files_writer *w)
{
    if (w == NULL)
        return;
    walg_jw_free(&w->jw);
    free(w);
}

int walg_files_writer_add_file(struct walg_files_writer *w, const char *name, const struct walg_file_desc *d,
                               struct bk_error *err)
{
    if (w->section > SEC_FILES)
        return bk_error_set(err, BK_EINTERNAL, "walg_files_writer_add_file", name,
                            "files must be added before tar sets");
    if (w->section == SEC_NONE) {
        walg_jw_key(&w->jw, "Files");
        walg_jw_begin_object(&w->jw);
        w->section = SEC_FILES;
    }
    walg_jw_key(&w->jw, name);
    walg_jw_begin_object(&w->jw);
    walg_jw_key(&w->jw, "IsIncremented");
    walg_jw_bool(&w->jw, d->is_incremented);
    walg_jw_key(&w->jw, "IsSkipped");
    walg_jw_bool(&w->jw, d->is_skipped);
    walg_jw_key(&w->jw, "MTime");
    walg_jw_time_ns(&w->jw, d->mtime_ns);
    if (d->has_corrupt_blocks) {
        walg_jw_key(&w->jw, "CorruptBlocks");
        walg_jw_begin_object(&w->jw);
        walg_jw_key(&w->jw, "CorruptBlocksCount");
        walg_jw_i64(&w->jw, d->corrupt_blocks_count);
        walg_jw_key(&w->jw, "SomeCorruptBlocks");
        walg_jw_begin_array(&w->jw);
        for (size_t i = 0; i < d->some_corrupt_blocks_len; i++)
            walg_jw_u64(&w->jw, d->some_corrupt_blocks[i]);
        walg_jw_end_array(&w->jw);
        walg_jw_end_object(&w->jw);
    }
    walg_jw_key(&w->jw, "UpdatesCount");
    walg_jw_u64(&w->jw, d->updates_count);
    walg_jw_end_object(&w->jw);
    return jw_status(&w->jw, err);
}

int walg_files_writer_begin_tar_set(struct walg_files_writer *w, const char *tar_name, struct bk_error *err)
{
    if (w->section == SEC_DONE)
        return bk_error_set(err, BK_EINTERNAL, "walg_files_writer_begin_tar_set", tar_name,
                            "files metadata writer already finished");
    if (w->section == SEC_FILES)
        walg_jw_end_object(&w->jw);
    if (w->section != SEC_TARS) {
        walg_jw_key(&w->jw, "TarFileSets");
        walg_jw_begin_object(&w->jw);
        w->section = SEC_TARS;
    }
    if (w->in_tar)
        walg_jw_end_array(&w->jw);
    walg_jw_key(&w->jw, tar_name);
    walg_jw_begin_array(&w->jw);
    w->in_tar = true;
    return jw_status(&w->jw, err);
}

int walg_files_writer_add_tar_entry(struct walg_files_writer *w, const char *entry_name, struct bk_error *err)
{
    if (!w->in_tar)
        return bk_error_set(err, BK_EINTERNAL, "walg_files_writer_add_tar_entry", entry_name,
                            "no tar set begun");
    walg_jw_string(&w->jw, entry_name);
    return jw_status(&w->jw, err);
}

int walg_files_writer_finish(struct walg_files_writer *w, struct bk_error *err)
{
    if (w->section == SEC_DONE)
        return bk_error_set(err, BK_EINTERNAL, "walg_files_writer_finish", NULL, "already finished");
    if (w->in_tar)
        walg_jw_end_array(&w->jw);
    if (w->section == SEC_FILES || w->section == SEC_TARS)
        walg_jw_end_object(&w->jw);
    walg_jw_end_object(&w->jw);
    w->section = SEC_DONE;
    w->in_tar = false;
    return walg_jw_finish(&w->jw, err);
}

/* ---- shared reader plumbing ---- */

/* Skips one value: call with the first event of the value; returns true once it is consumed. */
struct skipper {
    int depth;
};

static bool skip_event(struct skipper *sk, enum walg_jev ev)
{
    if (ev == WALG_JEV_BEGIN_OBJECT || ev == WALG_JEV_BEGIN_ARRAY)
        sk->depth++;
    else if (ev == WALG_JEV_END_OBJECT || ev == WALG_JEV_END_ARRAY)
        sk->depth--;
    return sk->depth == 0;
}

/* Whole-text unsigned decimal (what the tokenizer called a number); false for '-', '.', 'e'. */
static bool parse_u64_text(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    if (*text == '\0')
        return false;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

static int copy_text(struct bk_buf *dst, const char *text, size_t len, struct bk_error *err)
{
    bk_buf_reset(dst);
    return bk_buf_append(dst, text, len, err);
}

/* ---- files_metadata.json reader ---- */

enum {
    R_START, R_ROOT, R_SKIP, R_FILES_VALUE, R_FILES, R_FILE_VALUE, R_ENTRY, R_ENTRY_VALUE, R_TARS_VALUE,
    R_TARS, R_TAR_VALUE, R_TAR_ARRAY, R_END
};

enum { FLD_OTHER, FLD_INCREMENTED, FLD_SKIPPED, FLD_MTIME, FLD_UPDATES, FLD_CORRUPT };

struct files_reader {
    struct bk_sink base;
    struct walg_jstream js;
    struct walg_files_meta_cbs cbs;
    void *payload;
    char object[256];
    int state;
    int skip_return;
    struct skipper sk;
    struct bk_buf name;
    int field;
    struct walg_file_desc desc;
};

static int fr_error(struct files_reader *r, const char *field, const char *expected, struct bk_error *err)
{
    return bk_error_set(err, BK_EINVAL, "walg_files_meta_parse", r->object,
                        "files metadata field \"%s\" of \"%.200s\" must be %s", field, bk_buf_str(&r->name),
                        expected);
}

static const char *field_name(int field)
{
    switch (field) {
    case FLD_INCREMENTED: return "IsIncremented";
    case FLD_SKIPPED: return "IsSkipped";
    case FLD_MTIME: return "MTime";
    default: return "UpdatesCount";
    }
}

static int fr_entry_value(struct files_reader *r, enum walg_jev ev, const char *text, struct bk_error *err)
{
    const char *fname = field_name(r->field);
    if (ev == WALG_JEV_NULL)
        return BK_OK;
    switch (r->field) {
    case FLD_INCREMENTED:
    case FLD_SKIPPED:
        if (ev != WALG_JEV_TRUE && ev != WALG_JEV_FALSE)
            return fr_error(r, fname, "a boolean", err);
        *(r->field == FLD_INCREMENTED ? &r->desc.is_incremented : &r->desc.is_skipped) = ev == WALG_JEV_TRUE;
        return BK_OK;
    case FLD_MTIME: {
        struct bk_error ignored = BK_ERROR_INIT;
        int64_t us;
        if (ev != WALG_JEV_STRING || bk_time_parse_rfc3339(text, &us, &ignored) != BK_OK)
            return fr_error(r, fname, "an RFC 3339 time", err);
        r->desc.mtime_ns = us * 1000;
        return BK_OK;
    }
    default:
        if (ev != WALG_JEV_NUMBER)
            return fr_error(r, fname, "a number", err);
        if (!parse_u64_text(text, &r->desc.updates_count))
            return fr_error(r, fname, "a non-negative integer", err);
        return BK_OK;
    }
}

static int fr_emit_file(struct files_reader *r, struct bk_error *err)
{
    if (r->cbs.on_file == NULL)
        return BK_OK;
    return r->cbs.on_file(r->payload, bk_buf_str(&r->name), &r->desc, err);
}

static void fr_skip(struct files_reader *r, int return_to)
{
    r->state = R_SKIP;
    r->skip_return = return_to;
    r->sk.depth = 0;
}

static int files_event(void *payload, enum walg_jev ev, const char *text, size_t len, struct bk_error *err)
{
    struct files_reader *r = payload;
    switch (r->state) {
    case R_START:
        if (ev != WALG_JEV_BEGIN_OBJECT)
            return bk_error_set(err, BK_EINVAL, "walg_files_meta_parse", r->object,
                                "files metadata must be a JSON object");
        r->state = R_ROOT;
        return BK_OK;
    case R_ROOT:
        if (ev == WALG_JEV_END_OBJECT) {
            r->state = R_END;
        } else if (strcasecmp(text, "Files") == 0) {
            r->state = R_FILES_VALUE;
        } else if (strcasecmp(text, "TarFileSets") == 0) {
            r->state = R_TARS_VALUE;
        } else {
            fr_skip(r, R_ROOT);
        }
        return BK_OK;
    case R_SKIP:
        if (skip_event(&r->sk, ev))
            r->state = r->skip_return;
        return BK_OK;
    case R_FILES_VALUE:
    case R_TARS_VALUE:
        if (ev == WALG_JEV_NULL) {
            r->state = R_ROOT;
            return BK_OK;
        }
        if (ev != WALG_JEV_BEGIN_OBJECT)
            return bk_error_set(err, BK_EINVAL, "walg_files_meta_parse", r->object,
                                "files metadata field \"%s\" must be an object",
                                r->state == R_FILES_VALUE ? "Files" : "TarFileSets");
        r->state = r->state == R_FILES_VALUE ? R_FILES : R_TARS;
        return BK_OK;
    case R_FILES:
    case R_TARS:
        if (ev == WALG_JEV_END_OBJECT) {
            r->state = R_ROOT;
            return BK_OK;
        }
        r->state = r->state == R_FILES ? R_FILE_VALUE : R_TAR_VALUE;
        return copy_text(&r->name, text, len, err);
    case R_FILE_VALUE:
        memset(&r->desc, 0, sizeof(r->desc));
        if (ev == WALG_JEV_NULL) {
            r->state = R_FILES;
            return fr_emit_file(r, err);
        }
        if (ev != WALG_JEV_BEGIN_OBJECT)
            return bk_error_set(err, BK_EINVAL, "walg_files_meta_parse", r->object,
                                "files metadata entry \"%.200s\" must be an object", bk_buf_str(&r->name));
        r->state = R_ENTRY;
        return BK_OK;
    case R_ENTRY:
        if (ev == WALG_JEV_END_OBJECT) {
            r->state = R_FILES;
            return fr_emit_file(r, err);
        }
        r->field = strcasecmp(text, "IsIncremented") == 0 ? FLD_INCREMENTED
                   : strcasecmp(text, "IsSkipped") == 0 ? FLD_SKIPPED
                   : strcasecmp(text, "MTime") == 0 ? FLD_MTIME
                   : strcasecmp(text, "UpdatesCount") == 0 ? FLD_UPDATES
                   : strcasecmp(text, "CorruptBlocks") == 0 ? FLD_CORRUPT : FLD_OTHER;
        if (r->field == FLD_OTHER || r->field == FLD_CORRUPT)
            fr_skip(r, R_ENTRY);
        else
            r->state = R_ENTRY_VALUE;
        return BK_OK;
    case R_ENTRY_VALUE:
        r->state = R_ENTRY;
        return fr_entry_value(r, ev, text, err);
    case R_TAR_VALUE:
        if (ev == WALG_JEV_NULL) {
            r->state = R_TARS;
            return BK_OK;
        }
        if (ev != WALG_JEV_BEGIN_ARRAY)
            break;
        r->state = R_TAR_ARRAY;
        return BK_OK;
    case R_TAR_ARRAY:
        if (ev == WALG_JEV_END_ARRAY) {
            r->state = R_TARS;
            return BK_OK;
        }
        if (ev != WALG_JEV_STRING)
            break;
        if (r->cbs.on_tar_entry == NULL)
            return BK_OK;
        return r->cbs.on_tar_entry(r->payload, bk_buf_str(&r->name), text, err);
    default:
        return BK_OK;
    }
    return bk_error_set(err, BK_EINVAL, "walg_files_meta_parse", r->object,
                        "files metadata tar set \"%.200s\" must be an array of strings", bk_buf_str(&r->name));
}

/* The skip state also needs to see the value's first event: handled by fr_skip leaving depth 0
 * and skip_event counting it (a scalar ends the skip at once, a container when it closes). Also
 * remembers that a non-null CorruptBlocks was present. */
static int files_event_outer(void *payload, enum walg_jev ev, const char *text, size_t len, struct bk_error *err)
{
    struct files_reader *r = payload;
    if (r->state == R_SKIP && r->sk.depth == 0 && r->skip_return == R_ENTRY && r->field == FLD_CORRUPT &&
        ev != WALG_JEV_NULL)
        r->desc.has_corrupt_blocks = true;
    return files_event(payload, ev, text, len, err);
}

static int fr_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    return walg_jstream_feed(&((struct files_reader *)sink)->js, data, len, err);
}

static int fr_finish(struct bk_sink *sink, struct bk_error *err)
{
    return walg_jstream_end(&((struct files_reader *)sink)->js, err);
}

static void fr_free(struct bk_sink *sink)
{
    struct files_reader *r = (struct files_reader *)sink;
    walg_jstream_free(&r->js);
    bk_buf_free(&r->name);
    free(r);
}

static const struct bk_sink_ops files_reader_ops = { "files-metadata-reader", fr_write, fr_finish, NULL, fr_free };

int walg_files_meta_reader_new(struct bk_sink **out, const struct walg_files_meta_cbs *cbs, void *payload,
                               const char *object, struct bk_error *err)
{
    struct files_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return bk_error_set(err, BK_ENOMEM, "walg_files_meta_reader_new", object, "out of memory");
    r->base.ops = &files_reader_ops;
    if (cbs != NULL)
        r->cbs = *cbs;
    r->payload = payload;
    snprintf(r->object, sizeof(r->object), "%s", object != NULL ? object : "");
    bk_buf_init(&r->name, MAX_TOKEN);
    walg_jstream_init(&r->js, files_event_outer, r, "files metadata", r->object, MAX_TOKEN);
    *out = &r->base;
    return BK_OK;
}

static int parse_with_sink(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    int rc = bk_sink_write(sink, data, len, err);
    if (rc == BK_OK)
        rc = bk_sink_finish(sink, err);
    bk_sink_free(sink);
    return rc;
}

int walg_files_meta_parse_buf(const void *data, size_t len, const struct walg_files_meta_cbs *cbs, void *payload,
                              const char *object, struct bk_error *err)
{
    struct bk_sink *sink = NULL;
    int rc = walg_files_meta_reader_new(&sink, cbs, payload, object, err);
    if (rc != BK_OK)
        return rc;
    return parse_with_sink(sink, data, len, err);
}

/* ---- backupd_file_hashes.json ---- */

struct walg_hashes_writer {
    struct walg_jw jw;
    bool finished;
};

static bool is_sha256_hex(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    }
    return n == 64;
}

int walg_hashes_writer_new(struct walg_hashes_writer **out, struct bk_sink *dst, struct bk_error *err)
{
    struct walg_hashes_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return bk_error_set(err, BK_ENOMEM, "walg_hashes_writer_new", NULL, "out of memory");
    walg_jw_init(&w->jw, dst, WRITER_MAX_BUF, false);
    walg_jw_begin_object(&w->jw);
    walg_jw_key(&w->jw, "Version");
    walg_jw_i64(&w->jw, WALG_FILE_HASHES_VERSION);
    walg_jw_key(&w->jw, "Algorithm");
    walg_jw_string(&w->jw, "sha256");
    walg_jw_key(&w->jw, "Files");
    walg_jw_begin_object(&w->jw);
    *out = w;
    return BK_OK;
}

int walg_hashes_writer_add(struct walg_hashes_writer *w, const char *name, const char *sha256_hex, uint64_t size,
                           struct bk_error *err)
{
    if (w->finished)
        return bk_error_set(err, BK_EINTERNAL, "walg_hashes_writer_add", name, "already finished");
    if (!is_sha256_hex(sha256_hex))
        return bk_error_set(err, BK_EINVAL, "walg_hashes_writer_add", name,
                            "\"%.80s\" is not a SHA-256 hex digest", sha256_hex);
    walg_jw_key(&w->jw, name);
    walg_jw_begin_object(&w->jw);
    walg_jw_key(&w->jw, "sha256");
    walg_jw_string(&w->jw, sha256_hex);
    walg_jw_key(&w->jw, "size");
    walg_jw_u64(&w->jw, size);
    walg_jw_end_object(&w->jw);
    return jw_status(&w->jw, err);
}

int walg_hashes_writer_finish(struct walg_hashes_writer *w, struct bk_error *err)
{
    if (w->finished)
        return bk_error_set(err, BK_EINTERNAL, "walg_hashes_writer_finish", NULL, "already finished");
    w->finished = true;
    walg_jw_end_object(&w->jw);
    walg_jw_end_object(&w->jw);
    return walg_jw_finish(&w->jw, err);
}

void walg_hashes_writer_free(struct walg_hashes_writer *w)
{
    if (w == NULL)
        return;
    walg_jw_free(&w->jw);
    free(w);
}

enum { H_START, H_ROOT, H_SKIP, H_VERSION, H_ALGORITHM, H_FILES_VALUE, H_FILES, H_FILE_VALUE, H_ENTRY,
       H_SHA, H_SIZE, H_END };

struct hashes_reader {
    struct bk_sink base;
    struct walg_jstream js;
    walg_hash_cb cb;
    void *payload;
    char object[256];
    int state;
    int skip_return;
    struct skipper sk;
    struct bk_buf name;
    char sha[65];
    bool has_size;
    uint64_t size;
};

static int hr_error(struct hashes_reader *r, const char *fmt_what, struct bk_error *err)
{
    return bk_error_set(err, BK_EINVAL, "walg_hashes_parse", r->object, "file hashes entry \"%.200s\" %s",
                        bk_buf_str(&r->name), fmt_what);
}

static int hashes_event(void *payload, enum walg_jev ev, const char *text, size_t len, struct bk_error *err)
{
    struct hashes_reader *r = payload;
    uint64_t v;
    switch (r->state) {
    case H_START:
        if (ev != WALG_JEV_BEGIN_OBJECT)
            return bk_error_set(err, BK_EINVAL, "walg_hashes_parse", r->object, "file hashes must be a JSON object");
        r->state = H_ROOT;
        return BK_OK;
    case H_ROOT:
        if (ev == WALG_JEV_END_OBJECT) {
            r->state = H_END;
        } else if (strcmp(text, "Version") == 0) {
            r->state = H_VERSION;
        } else if (strcmp(text, "Algorithm") == 0) {
            r->state = H_ALGORITHM;
        } else if (strcmp(text, "Files") == 0) {
            r->state = H_FILES_VALUE;
        } else {
            r->state = H_SKIP;
            r->skip_return = H_ROOT;
            r->sk.depth = 0;
        }
        return BK_OK;
    case H_SKIP:
        if (skip_event(&r->sk, ev))
            r->state = r->skip_return;
        return BK_OK;
    case H_VERSION:
        r->state = H_ROOT;
        if (ev != WALG_JEV_NUMBER || !parse_u64_text(text, &v))
            return bk_error_set(err, BK_EINVAL, "walg_hashes_parse", r->object,
                                "file hashes field \"Version\" must be a non-negative integer");
        if (v > WALG_FILE_HASHES_VERSION)
            return bk_error_set(err, BK_EUNSUPPORTED, "walg_hashes_parse", r->object,
                                "file hashes version %s is not supported (newest known: %d)", text,
                                WALG_FILE_HASHES_VERSION);
        return BK_OK;
    case H_ALGORITHM:
        r->state = H_ROOT;
        if (ev != WALG_JEV_STRING || strcmp(text, "sha256") != 0)
            return bk_error_set(err, BK_EUNSUPPORTED, "walg_hashes_parse", r->object,
                                "file hashes algorithm \"%.32s\" is not supported", ev == WALG_JEV_STRING ? text : "?");
        return BK_OK;
    case H_FILES_VALUE:
        if (ev != WALG_JEV_BEGIN_OBJECT)
            return bk_error_set(err, BK_EINVAL, "walg_hashes_parse", r->object,
                                "file hashes field \"Files\" must be an object");
        r->state = H_FILES;
        return BK_OK;
    case H_FILES:
        if (ev == WALG_JEV_END_OBJECT) {
            r->state = H_ROOT;
            return BK_OK;
        }
        r->state = H_FILE_VALUE;
        return copy_text(&r->name, text, len, err);
    case H_FILE_VALUE:
        if (ev != WALG_JEV_BEGIN_OBJECT)
            return hr_error(r, "must be an object", err);
        r->sha[0] = '\0';
        r->has_size = false;
        r->state = H_ENTRY;
        return BK_OK;
    case H_ENTRY:
        if (ev == WALG_JEV_END_OBJECT) {
            r->state = H_FILES;
            if (r->sha[0] == '\0' || !r->has_size)
                return hr_error(r, "needs \"sha256\" and \"size\"", err);
            return r->cb != NULL ? r->cb(r->payload, bk_buf_str(&r->name), r->sha, r->size, err) : BK_OK;
        }
        if (strcmp(text, "sha256") == 0) {
            r->state = H_SHA;
        } else if (strcmp(text, "size") == 0) {
            r->state = H_SIZE;
        } else {
            r->state = H_SKIP;
            r->skip_return = H_ENTRY;
            r->sk.depth = 0;
        }
        return BK_OK;
    case H_SHA:
        r->state = H_ENTRY;
        if (ev != WALG_JEV_STRING || !is_sha256_hex(text))
            return hr_error(r, "has a \"sha256\" that is not 64 lower-case hex digits", err);
        memcpy(r->sha, text, 65);
        return BK_OK;
    case H_SIZE:
        r->state = H_ENTRY;
        if (ev != WALG_JEV_NUMBER || !parse_u64_text(text, &r->size))
            return hr_error(r, "has a \"size\" that is not a non-negative integer", err);
        r->has_size = true;
        return BK_OK;
    default:
        return BK_OK;
    }
}

static int hr_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    return walg_jstream_feed(&((struct hashes_reader *)sink)->js, data, len, err);
}

static int hr_finish(struct bk_sink *sink, struct bk_error *err)
{
    return walg_jstream_end(&((struct hashes_reader *)sink)->js, err);
}

static void hr_free(struct bk_sink *sink)
{
    struct hashes_reader *r = (struct hashes_reader *)sink;
    walg_jstream_free(&r->js);
    bk_buf_free(&r->name);
    free(r);
}

static const struct bk_sink_ops hashes_reader_ops = { "file-hashes-reader", hr_write, hr_finish, NULL, hr_free };

int walg_hashes_reader_new(struct bk_sink **out, walg_hash_cb cb, void *payload, const char *object,
                           struct bk_error *err)
{
    struct hashes_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return bk_error_set(err, BK_ENOMEM, "walg_hashes_reader_new", object, "out of memory");
    r->base.ops = &hashes_reader_ops;
    r->cb = cb;
    r->payload = payload;
    snprintf(r->object, sizeof(r->object), "%s", object != NULL ? object : "");
    bk_buf_init(&r->name, MAX_TOKEN);
    walg_jstream_init(&r->js, hashes_event, r, "file hashes", r->object, MAX_TOKEN);
    *out = &r->base;
    return BK_OK;
}

int walg_hashes_parse_buf(const void *data, size_t len, walg_hash_cb cb, void *payload, const char *object,
                          struct bk_error *err)
{
    struct bk_sink *sink = NULL;
    int rc = walg_hashes_reader_new(&sink, cb, payload, object, err);
    if (rc != BK_OK)
        return rc;
    return parse_with_sink(sink, data, len, err);
}

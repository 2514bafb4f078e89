/*
 * JSON helpers shared by the WAL-G layout modules (walg_meta*, walg_list): a writer that emits
 * exactly what Go's encoding/json emits (key order chosen by the caller, HTML-safe string escapes,
 * uint64 integers, Go float formatting, optional 4-space indent), buffered into a bk_buf and
 * optionally drained into a bk_sink; and typed json-c readers with "<what> field \"K\" must be ..."
 * errors. Folder-private: included only by lib/archive/walg_*.c and unit tests.
 */
#ifndef WALG_JSON_H
#define WALG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_error.h"
#include "bk_sink.h"

struct json_object;

#define WALG_JW_MAX_DEPTH 64
#define WALG_JW_FLUSH_AT (64u * 1024)

/* Writer with a sticky error: after the first failure every call is a no-op and
 * walg_jw_finish returns the error. Not thread-safe. */
struct walg_jw {
    struct bk_buf buf;        /* pending output; owned */
    struct bk_sink *sink;     /* NULL: everything stays in buf; borrowed otherwise */
    bool pretty;              /* Go's SetIndent("", "    ") */
    int depth;
    bool after_key;
    bool has_items[WALG_JW_MAX_DEPTH + 1];
    int rc;
    struct bk_error err;
};

/* sink NULL: output accumulates in w->buf (bounded by max_cap). With a sink, the buffer is drained
 * into it every WALG_JW_FLUSH_AT bytes and by walg_jw_finish (the sink itself is not finished). */
void walg_jw_init(struct walg_jw *w, struct bk_sink *sink, size_t max_cap, bool pretty);
/* Flushes to the sink (if any) and returns the first error, copied into err. */
int walg_jw_finish(struct walg_jw *w, struct bk_error *err);
/* Frees the buffer. NULL-safe. */
void walg_jw_free(struct walg_jw *w);

void walg_jw_begin_object(struct walg_jw *w);
void walg_jw_end_object(struct walg_jw *w);
void walg_jw_begin_array(struct walg_jw *w);
void walg_jw_end_array(struct walg_jw *w);
void walg_jw_key(struct walg_jw *w, const char *key);
void walg_jw_string(struct walg_jw *w, const char *text);          /* NULL writes "" */
void walg_jw_string_n(struct walg_jw *w, const char *text, size_t len);
void walg_jw_u64(struct walg_jw *w, uint64_t v);
void walg_jw_i64(struct walg_jw *w, int64_t v);
void walg_jw_bool(struct walg_jw *w, bool v);
void walg_jw_null(struct walg_jw *w);
/* Go time.Time MarshalJSON of a UTC time: RFC 3339 with the fraction trimmed. */
void walg_jw_time_us(struct walg_jw *w, int64_t us);
void walg_jw_time_ns(struct walg_jw *w, int64_t ns);
/* Re-emits `text` (valid JSON, e.g. user data) the way Go re-marshals an interface{}: object keys
 * sorted, numbers as float64. Parse failures become the sticky error (BK_EINVAL). */
void walg_jw_json_text(struct walg_jw *w, const char *text, const char *what);
/* Emits an already-parsed json-c value the Go way (see walg_jw_json_text). */
void walg_jw_json_object(struct walg_jw *w, const struct json_object *v);
/* Records an error from the caller's own checks; later calls become no-ops. */
void walg_jw_fail(struct walg_jw *w, const struct bk_error *err);

/* Go strconv.FormatFloat(v, 'f' or 'e', -1, 64) as encoding/json picks it. out_cap >= 32. */
void walg_json_format_go_float(double v, char *out, size_t out_cap);
/* Go's "%X/%X" formatting lives in walg_names.h (walg_lsn_format). */

/* Parses a whole buffer with json-c in strict mode (trailing whitespace allowed).
 * BK_EINVAL "<what> is not valid JSON: <reason>" (reason "truncated" for an incomplete document).
 * On success *out belongs to the caller (json_object_put). */
int walg_json_parse(const char *data, size_t len, const char *what, const char *object,
                    struct json_object **out, struct bk_error *err);
/* Validates `text` as JSON and returns Go's canonical re-serialisation in *out (malloc'd).
 * BK_EINVAL "<what> is not valid JSON: <reason>". */
int walg_json_canonical(const char *text, const char *what, char **out, struct bk_error *err);
/* Canonical text of a json-c value (malloc'd). */
int walg_json_canonical_object(const struct json_object *v, char **out, struct bk_error *err);

/* Typed field readers. A JSON null (or v == NULL) means "absent": *present = false, return 0.
 * Errors are BK_EINVAL "<what> field \"<field>\" must be <a number|...>", object = ctx->object. */
struct walg_jctx {
    const char *what;      /* "sentinel", "metadata", "backup list entry" */
    const char *object;    /* storage key for err->object, may be NULL */
    const char *op;        /* err->op */
};
int walg_jget_u64(const struct walg_jctx *c, const struct json_object *v, const char *field, bool *present,
                  uint64_t *out, struct bk_error *err);
int walg_jget_i64(const struct walg_jctx *c, const struct json_object *v, const char *field, bool *present,
                  int64_t *out, struct bk_error *err);
int walg_jget_bool(const struct walg_jctx *c, const struct json_object *v, const char *field, bool *present,
                   bool *out, struct bk_error *err);
/* *out is malloc'd (replacing and freeing any previous value) when present. */
int walg_jget_str(const struct walg_jctx *c, const struct json_object *v, const char *field, bool *present,
                  char **out, struct bk_error *err);
/* RFC 3339 string to microseconds. */
int walg_jget_time(const struct walg_jctx *c, const struct json_object *v, const char *field, bool *present,
                   int64_t *out_us, struct bk_error *err);

/* One metadata.json key (case-insensitive) into m; unknown keys are ignored. Shared by
 * walg_meta.c and walg_list.c (backup-list --detail --json rows carry the same keys). */
struct walg_metadata;
int walg_metadata_field(const struct walg_jctx *c, struct walg_metadata *m, const char *key,
                        struct json_object *v, struct bk_error *err);

#endif

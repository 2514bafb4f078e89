/*
 * Go-compatible JSON output and typed json-c input for the WAL-G layout modules. The writer
 * reproduces encoding/json byte for byte for the values we emit (string escapes with HTML-safe
 * \u003c/\u003e/\u0026, \u2028/\u2029, U+FFFD for bad UTF-8; integers as integers; interface{}
 * values with sorted keys and float64 numbers). It is not a general JSON library.
 */
#include "walg_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json.h>

#include "bk_time.h"
#include "walg_json_stream.h"

#define PARSE_DEPTH (WALG_JSTREAM_MAX_DEPTH + 8)

/* ---- writer core ---- */

void walg_jw_init(struct walg_jw *w, struct bk_sink *sink, size_t max_cap, bool pretty)
{
    memset(w, 0, sizeof(*w));
    bk_buf_init(&w->buf, max_cap);
    w->sink = sink;
    w->pretty = pretty;
}

void walg_jw_free(struct walg_jw *w)
{
    if (w == NULL)
        return;
    bk_buf_free(&w->buf);
}

void walg_jw_fail(struct walg_jw *w, const struct bk_error *err)
{
    if (w->rc != BK_OK)
        return;
    w->err = *err;
    w->rc = err->code != BK_OK ? err->code : BK_EINTERNAL;
}

static void drain(struct walg_jw *w)
{
    int rc;
    if (w->rc != BK_OK || w->sink == NULL || w->buf.len == 0)
        return;
    rc = bk_sink_write(w->sink, w->buf.data, w->buf.len, &w->err);
    if (rc != BK_OK) {
        w->rc = rc;
        return;
    }
    bk_buf_reset(&w->buf);
}

static void put(struct walg_jw *w, const void *data, size_t len)
{
    int rc;
    if (w->rc != BK_OK)
        return;
    rc = bk_buf_append(&w->buf, data, len, &w->err);
    if (rc != BK_OK) {
        w->rc = rc;
        return;
    }
    if (w->buf.len >= WALG_JW_FLUSH_AT)
        drain(w);
}

static void put_str(struct walg_jw *w, const char *s)
{
    put(w, s, strlen(s));
}

int walg_jw_finish(struct walg_jw *w, struct bk_error *err)
{
    if (w->rc == BK_OK && w->depth != 0) {
        bk_error_set(&w->err, BK_EINTERNAL, "walg_jw_finish", NULL, "json writer finished at depth %d",
                     w->depth);
        w->rc = BK_EINTERNAL;
    }
    drain(w);
    if (w->rc != BK_OK && err != NULL)
        *err = w->err;
    return w->rc;
}

static void newline_indent(struct walg_jw *w, int depth)
{
    put(w, "\n", 1);
    for (int i = 0; i < depth; i++)
        put(w, "    ", 4);
}

/* Separator and indentation before a value or key at the current depth. */
static void before_item(struct walg_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    if (w->has_items[w->depth])
        put(w, ",", 1);
    if (w->pretty)
        newline_indent(w, w->depth);
    w->has_items[w->depth] = true;
}

static void open_container(struct walg_jw *w, char c)
{
    before_item(w);
    if (w->rc != BK_OK)
        return;
    if (w->depth >= WALG_JW_MAX_DEPTH) {
        bk_error_set(&w->err, BK_EINVAL, "walg_jw", NULL, "JSON nesting deeper than %d", WALG_JW_MAX_DEPTH);
        w->rc = BK_EINVAL;
        return;
    }
    put(w, &c, 1);
    w->depth++;
    w->has_items[w->depth] = false;
}

static void close_container(struct walg_jw *w, char c)
{
    if (w->rc != BK_OK)
        return;
    if (w->depth == 0) {
        bk_error_set(&w->err, BK_EINTERNAL, "walg_jw", NULL, "unbalanced JSON container");
        w->rc = BK_EINTERNAL;
        return;
    }
    if (w->pretty && w->has_items[w->depth])
        newline_indent(w, w->depth - 1);
    w->depth--;
    put(w, &c, 1);
}

void walg_jw_begin_object(struct walg_jw *w) { open_container(w, '{'); }
void walg_jw_end_object(struct walg_jw *w) { close_container(w, '}'); }
void walg_jw_begin_array(struct walg_jw *w) { open_container(w, '['); }
void walg_jw_end_array(struct walg_jw *w) { close_container(w, ']'); }

/* ---- strings ---- */

/* Decodes one UTF-8 sequence the way Go's utf8.DecodeRune does; -1 for an invalid byte. */
static int32_t decode_utf8(const unsigned char *s, size_t len, size_t *size)
{
    unsigned char c = s[0];
    int32_t r;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    *size = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        r = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        r = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        r = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    if (len < need + 1)
        return -1;
    for (size_t i = 1; i <= need; i++) {
        unsigned char b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return -1;
        r = (r << 6) | (b & 0x3F);
    }
    *size = need + 1;
    return r;
}

void walg_jw_string_n(struct walg_jw *w, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)text;
    size_t start = 0, i = 0;
    before_item(w);
    put(w, "\"", 1);
    while (i < len && w->rc == BK_OK) {
        unsigned char b = s[i];
        char esc[8];
        size_t esc_len = 0, size = 1;
        if (b < 0x80) {
            if (b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&') {
                i++;
                continue;
            }
            esc[0] = '\\';
            esc_len = 2;
            switch (b) {
            case '"': case '\\': esc[1] = (char)b; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default:
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[b >> 4];
                esc[5] = hex[b & 0xF];
                esc_len = 6;
            }
        } else {
            int32_t r = decode_utf8(s + i, len - i, &size);
            if (r == -1) {
                memcpy(esc, "\\ufffd", 6);
                esc_len = 6;
            } else if (r == 0x2028 || r == 0x2029) {
                memcpy(esc, r == 0x2028 ? "\\u2028" : "\\u2029", 6);
                esc_len = 6;
            } else {
                i += size;
                continue;
            }
        }
        put(w, text + start, i - start);
        put(w, esc, esc_len);
        i += size;
        start = i;
    }
    put(w, text + start, len - start);
    put(w, "\"", 1);
}

void walg_jw_string(struct walg_jw *w, const char *text)
{
    if (text == NULL)
        text = "";
    walg_jw_string_n(w, text, strlen(text));
}

void walg_jw_key(struct walg_jw *w, const char *key)
{
    walg_jw_string(w, key);
    put(w, w->pretty ? ": " : ":", w->pretty ? 2 : 1);
    w->after_key = true;
}

/* ---- scalars ---- */

void walg_jw_u64(struct walg_jw *w, uint64_t v)
{
    char tmp[24];
    before_item(w);
    snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
    put_str(w, tmp);
}

void walg_jw_i64(struct walg_jw *w, int64_t v)
{
    char tmp[24];
    before_item(w);
    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    put_str(w, tmp);
}

void walg_jw_bool(struct walg_jw *w, bool v)
{
    before_item(w);
    put_str(w, v ? "true" : "false");
}

void walg_jw_null(struct walg_jw *w)
{
    before_item(w);
    put_str(w, "null");
}

void walg_jw_time_us(struct walg_jw *w, int64_t us)
{
    char tmp[48];
    bk_time_format_rfc3339(us, 6, tmp, sizeof(tmp));
    walg_jw_string(w, tmp);
}

void walg_jw_time_ns(struct walg_jw *w, int64_t ns)
{
    int64_t secs = ns >= 0 ? ns / 1000000000 : -((-(ns + 1)) / 1000000000) - 1;
    int64_t frac = ns - secs * 1000000000;
    time_t t = (time_t)secs;
    struct tm tm;
    char base[32], fraction[16] = "", tmp[64];
    gmtime_r(&t, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac != 0) {
        int len = snprintf(fraction, sizeof(fraction), ".%09lld", (long long)frac);
        while (len > 1 && fraction[len - 1] == '0')
            fraction[--len] = '\0';
    }
    snprintf(tmp, sizeof(tmp), "%s%sZ", base, fraction);
    walg_jw_string(w, tmp);
}

void walg_json_format_go_float(double v, char *out, size_t out_cap)
{
    char tmp[40], digits[24];
    int prec, exp10, n_digits = 0;
    const char *p;
    double abs_v = fabs(v);
    bool neg = signbit(v) != 0;
    size_t o = 0;

    if (abs_v == 0) {
        snprintf(out, out_cap, "%s", neg ? "-0" : "0");
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, abs_v);
        if (strtod(tmp, NULL) == abs_v)
            break;
    }
    /* tmp is "d[.ddd]e[+-]XX" */
    for (p = tmp; *p != 'e'; p++) {
        if (*p != '.')
            digits[n_digits++] = *p;
    }
    digits[n_digits] = '\0';
    exp10 = atoi(p + 1);
    char res[64];
    if (neg)
        res[o++] = '-';
    if (abs_v < 1e-6 || abs_v >= 1e21) {
        res[o++] = digits[0];
        if (n_digits > 1) {
            res[o++] = '.';
            memcpy(res + o, digits + 1, (size_t)n_digits - 1);
            o += (size_t)n_digits - 1;
        }
        /* Go writes at least two exponent digits, then encoding/json turns e-07 into e-7. */
        if (exp10 < 0 && exp10 > -10)
            o += (size_t)snprintf(res + o, sizeof(res) - o, "e-%d", -exp10);
        else
            o += (size_t)snprintf(res + o, sizeof(res) - o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 >= 0) {
        for (int i = 0; i <= exp10; i++)
            res[o++] = i < n_digits ? digits[i] : '0';
        if (n_digits > exp10 + 1) {
            res[o++] = '.';
            for (int i = exp10 + 1; i < n_digits; i++)
                res[o++] = digits[i];
        }
    } else {
        res[o++] = '0';
        res[o++] = '.';
        for (int i = 0; i < -exp10 - 1; i++)
            res[o++] = '0';
        memcpy(res + o, digits, (size_t)n_digits);
        o += (size_t)n_digits;
    }
    res[o] = '\0';
    snprintf(out, out_cap, "%s", res);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void walg_jw_json_object(struct walg_jw *w, const struct json_object *cv)
{
    struct json_object *v = (struct json_object *)cv;   /* json-c getters are not const-correct */
    char num[40];
    if (w->rc != BK_OK)
        return;
    switch (json_object_get_type(v)) {
    case json_type_null:
        walg_jw_null(w);
        break;
    case json_type_boolean:
        walg_jw_bool(w, json_object_get_boolean(v) != 0);
        break;
    case json_type_double:
        before_item(w);
        walg_json_format_go_float(json_object_get_double(v), num, sizeof(num));
        put_str(w, num);
        break;
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        double d = i >= 0 ? (double)json_object_get_uint64(v) : (double)i;
        before_item(w);
        walg_json_format_go_float(d, num, sizeof(num));
        put_str(w, num);
        break;
    }
    case json_type_string:
        walg_jw_string_n(w, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(v);
        walg_jw_begin_array(w);
        for (size_t i = 0; i < n && w->rc == BK_OK; i++)
            walg_jw_json_object(w, json_object_array_get_idx(v, i));
        walg_jw_end_array(w);
        break;
    }
    case json_type_object: {
        size_t n = (size_t)json_object_object_length(v), k = 0;
        const char **keys = calloc(n > 0 ? n : 1, sizeof(*keys));
        if (keys == NULL) {
            bk_error_set(&w->err, BK_ENOMEM, "walg_jw", NULL, "out of memory");
            w->rc = BK_ENOMEM;
            return;
        }
        json_object_object_foreach(v, key, val) {
            (void)val;
            if (k < n)
                keys[k++] = key;
        }
        qsort(keys, k, sizeof(*keys), cmp_str);
        walg_jw_begin_object(w);
        for (size_t i = 0; i < k && w->rc == BK_OK; i++) {
            walg_jw_key(w, keys[i]);
            walg_jw_json_object(w, json_object_object_get(v, keys[i]));
        }
        walg_jw_end_object(w);
        free(keys);
        break;
    }
    }
}

void walg_jw_json_text(struct walg_jw *w, const char *text, const char *what)
{
    struct json_object *obj = NULL;
    struct bk_error err = BK_ERROR_INIT;
    if (w->rc != BK_OK)
        return;
    if (walg_json_parse(text, strlen(text), what, NULL, &obj, &err) != BK_OK) {
        walg_jw_fail(w, &err);
        return;
    }
    walg_jw_json_object(w, obj);
    json_object_put(obj);
}

/* ---- parsing ---- */

static bool only_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    }
    return true;
}

static int ignore_event(void *payload, enum walg_jev ev, const char *text, size_t len, struct bk_error *err)
{
    (void)payload; (void)ev; (void)text; (void)len; (void)err;
    return BK_OK;
}

static int validate_strict(const char *data, size_t len, const char *what, const char *object,
                           struct bk_error *err)
{
    struct walg_jstream js;
    int rc;
    walg_jstream_init(&js, ignore_event, NULL, what, object, len + 1);
    rc = walg_jstream_feed(&js, data, len, err);
    if (rc == BK_OK)
        rc = walg_jstream_end(&js, err);
    walg_jstream_free(&js);
    if (rc != BK_OK && err != NULL)
        snprintf(err->op, sizeof(err->op), "walg_json_parse");
    return rc;
}

int walg_json_parse(const char *data, size_t len, const char *what, const char *object,
                    struct json_object **out, struct bk_error *err)
{
    struct json_tokener *tok = NULL;
    struct json_object *obj = NULL;
    enum json_tokener_error jerr;
    int rc = BK_OK;
    *out = NULL;
    if (len > INT32_MAX - 1) {
        rc = bk_error_set(err, BK_EINVAL, "walg_json_parse", object, "%s is too large to parse (%zu bytes)",
                          what, len);
        goto out;
    }
    if (only_space(data, len)) {
        rc = bk_error_set(err, BK_EINVAL, "walg_json_parse", object, "%s is not valid JSON: empty", what);
        goto out;
    }
    /* json-c accepts more than JSON (single quotes, comments...): the strict tokenizer decides
     * validity and gives the messages; json-c only builds the tree. */
    rc = validate_strict(data, len, what, object, err);
    if (rc != BK_OK)
        goto out;
    tok = json_tokener_new_ex(PARSE_DEPTH);
    if (tok == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "walg_json_parse", object, "out of memory");
        goto out;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, data, (int)len);
    jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_success) {
        size_t end = json_tokener_get_parse_end(tok);
        if (!only_space(data + end, len - end)) {
            rc = bk_error_set(err, BK_EINVAL, "walg_json_parse", object,
                              "%s is not valid JSON: unexpected data after the value at byte %zu", what, end);
            goto out;
        }
    } else if (jerr == json_tokener_continue) {
        /* Only a bare number may still be open; "\0" ends it. Anything else was cut short. */
        obj = json_tokener_parse_ex(tok, "", 1);
        if (json_tokener_get_error(tok) != json_tokener_success || obj == NULL) {
            rc = bk_error_set(err, BK_EINVAL, "walg_json_parse", object, "%s is not valid JSON: truncated",
                              what);
            goto out;
        }
    } else {
        rc = bk_error_set(err, BK_EINVAL, "walg_json_parse", object, "%s is not valid JSON: %s at byte %zu",
                          what, json_tokener_error_desc(jerr), json_tokener_get_parse_end(tok));
        goto out;
    }
    *out = obj;
    obj = NULL;
out:
    json_object_put(obj);
    if (tok != NULL)
        json_tokener_free(tok);
    return rc;
}

int walg_json_canonical_object(const struct json_object *v, char **out, struct bk_error *err)
{
    struct walg_jw w;
    int rc;
    *out = NULL;
    walg_jw_init(&w, NULL, 64u * 1024 * 1024, false);
    walg_jw_json_object(&w, v);
    rc = walg_jw_finish(&w, err);
    if (rc == BK_OK) {
        *out = strdup(bk_buf_str(&w.buf));
        if (*out == NULL)
            rc = bk_error_set(err, BK_ENOMEM, "walg_json_canonical", NULL, "out of memory");
    }
    walg_jw_free(&w);
    return rc;
}

int walg_json_canonical(const char *text, const char *what, char **out, struct bk_error *err)
{
    struct json_object *obj = NULL;
    int rc;
    *out = NULL;
    rc = walg_json_parse(text, strlen(text), what, NULL, &obj, err);
    if (rc == BK_OK)
        rc = walg_json_canonical_object(obj, out, err);
    json_object_put(obj);
    return rc;
}

/* ---- typed readers ---- */

static int type_error(const struct walg_jctx *c, const char *field, const char *expected, struct bk_error *err)
{
    return bk_error_set(err, BK_EINVAL, c->op, c->object, "%s field \"%s\" must be %s", c->what, field, expected);
}

static bool is_null(const struct json_object *v)
{
    return v == NULL || json_object_get_type((struct json_object *)v) == json_type_null;
}

int walg_jget_u64(const struct walg_jctx *c, const struct json_object *cv, const char *field, bool *present,
                  uint64_t *out, struct bk_error *err)
{
    struct json_object *v = (struct json_object *)cv;
    *present = false;
    if (is_null(v))
        return BK_OK;
    if (json_object_get_type(v) == json_type_double)
        return type_error(c, field, "a non-negative integer", err);
    if (json_object_get_type(v) != json_type_int)
        return type_error(c, field, "a number", err);
    if (json_object_get_int64(v) < 0)
        return type_error(c, field, "a non-negative integer", err);
    *out = json_object_get_uint64(v);
    *present = true;
    return BK_OK;
}

int walg_jget_i64(const struct walg_jctx *c, const struct json_object *cv, const char *field, bool *present,
                  int64_t *out, struct bk_error *err)
{
    struct json_object *v = (struct json_object *)cv;
    *present = false;
    if (is_null(v))
        return BK_OK;
    if (json_object_get_type(v) == json_type_double)
        return type_error(c, field, "an integer", err);
    if (json_object_get_type(v) != json_type_int)
        return type_error(c, field, "a number", err);
    if (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
        return type_error(c, field, "an integer below 2^63", err);
    *out = json_object_get_int64(v);
    *present = true;
    return BK_OK;
}

int walg_jget_bool(const struct walg_jctx *c, const struct json_object *cv, const char *field, bool *present,
                   bool *out, struct bk_error *err)
{
    struct json_object *v = (struct json_object *)cv;
    *present = false;
    if (is_null(v))
        return BK_OK;
    if (json_object_get_type(v) != json_type_boolean)
        return type_error(c, field, "a boolean", err);
    *out = json_object_get_boolean(v) != 0;
    *present = true;
    return BK_OK;
}

int walg_jget_str(const struct walg_jctx *c, const struct json_object *cv, const char *field, bool *present,
                  char **out, struct bk_error *err)
{
    struct json_object *v = (struct json_object *)cv;
    char *copy;
    *present = false;
    if (is_null(v))
        return BK_OK;
    if (json_object_get_type(v) != json_type_string)
        return type_error(c, field, "a string", err);
    copy = strdup(json_object_get_string(v));
    if (copy == NULL)
        return bk_error_set(err, BK_ENOMEM, c->op, c->object, "out of memory");
    free(*out);
    *out = copy;
    *present = true;
    return BK_OK;
}

int walg_jget_time(const struct walg_jctx *c, const struct json_object *cv, const char *field, bool *present,
                   int64_t *out_us, struct bk_error *err)
{
    struct json_object *v = (struct json_object *)cv;
    struct bk_error ignored = BK_ERROR_INIT;
    *present = false;
    if (is_null(v))
        return BK_OK;
    if (json_object_get_type(v) != json_type_string ||
        bk_time_parse_rfc3339(json_object_get_string(v), out_us, &ignored) != BK_OK)
        return type_error(c, field, "an RFC 3339 time", err);
    *present = true;
    return BK_OK;
}

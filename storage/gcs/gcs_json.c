/*
 * JSON readers for the GCS driver (json-c): object resources, list pages, error bodies (both the
 * JSON API's {"error":{...}} and OAuth's {"error":"...","error_description":"..."}), plus a JSON
 * string writer. Pure functions over a buffer: no I/O, no HTTP, so the unit tests can feed them
 * any reply. Token replies are parsed in gcs_auth.c, next to the secrets they carry.
 */
#include "gcs_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json.h>

#include "bk_time.h"

/* Parses body as one JSON value; NULL when it is not JSON. */
static struct json_object *json_parse_buf(const char *body, size_t len)
{
    struct json_tokener *tok;
    struct json_object *obj;
    if (body == NULL || len == 0 || len > INT32_MAX)
        return NULL;
    tok = json_tokener_new();
    if (tok == NULL)
        return NULL;
    obj = json_tokener_parse_ex(tok, body, (int)len);
    if (obj != NULL && json_tokener_get_parse_end(tok) < len) {
        /* trailing bytes other than whitespace mean this was not one JSON document */
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
            if (body[i] != ' ' && body[i] != '\n' && body[i] != '\r' && body[i] != '\t') {
                json_object_put(obj);
                obj = NULL;
                break;
            }
        }
    }
    json_tokener_free(tok);
    return obj;
}

static const char *json_get_string(struct json_object *obj, const char *name)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* GCS sends int64 fields ("size", "generation") as decimal strings; accept numbers too. */
static int json_get_u64(struct json_object *obj, const char *name, uint64_t *out)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, name, &v))
        return BK_ENOTFOUND;
    if (json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (n < 0)
            return BK_EINVAL;
        *out = (uint64_t)n;
        return BK_OK;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end = NULL;
        unsigned long long n;
        if (s[0] < '0' || s[0] > '9')
            return BK_EINVAL;
        n = strtoull(s, &end, 10);
        if (*end != '\0')
            return BK_EINVAL;
        *out = (uint64_t)n;
        return BK_OK;
    }
    return BK_EINVAL;
}

/* Fills info from one object resource (already parsed). */
static int object_from_json(struct gcs_object_info *out, struct json_object *obj, const char *key,
                            struct bk_error *err)
{
    const char *s;
    struct bk_error terr = BK_ERROR_INIT;
    memset(out, 0, sizeof(*out));
    if (!json_object_is_type(obj, json_type_object))
        return bk_error_set(err, BK_EPROTO, "gcs_parse_object", key, "object metadata for \"%s\" is not a JSON object", key);
    if (json_get_u64(obj, "size", &out->size) != BK_OK)
        return bk_error_set(err, BK_EPROTO, "gcs_parse_object", key, "object metadata for \"%s\" has no valid \"size\"", key);
    if ((s = json_get_string(obj, "updated")) != NULL && bk_time_parse_rfc3339(s, &out->mtime_us, &terr) != BK_OK)
        return bk_error_set(err, BK_EPROTO, "gcs_parse_object", key, "object metadata for \"%s\" has a bad \"updated\" time: %s", key, terr.message);
    if ((s = json_get_string(obj, "etag")) != NULL)
        snprintf(out->etag, sizeof(out->etag), "%s", s);
    if ((s = json_get_string(obj, "md5Hash")) != NULL) {
        if (strlen(s) >= sizeof(out->md5_b64))
            return bk_error_set(err, BK_EPROTO, "gcs_parse_object", key, "object metadata for \"%s\" has an oversized \"md5Hash\"", key);
        snprintf(out->md5_b64, sizeof(out->md5_b64), "%s", s);
    }
    if ((s = json_get_string(obj, "crc32c")) != NULL) {
        if (strlen(s) >= sizeof(out->crc32c_b64))
            return bk_error_set(err, BK_EPROTO, "gcs_parse_object", key, "object metadata for \"%s\" has an oversized \"crc32c\"", key);
        snprintf(out->crc32c_b64, sizeof(out->crc32c_b64), "%s", s);
    }
    if (out->etag[0] == '\0')
        snprintf(out->etag, sizeof(out->etag), "%s", out->md5_b64);
    return BK_OK;
}

int gcs_json_parse_object(struct gcs_object_info *out, const char *body, size_t len,
                          const char *key, struct bk_error *err)
{
    struct json_object *obj = json_parse_buf(body, len);
    int rc;
    if (obj == NULL)
        return bk_error_set(err, BK_EPROTO, "gcs_parse_object", key, "object metadata for \"%s\" is not JSON (%zu bytes)", key, len);
    rc = object_from_json(out, obj, key, err);
    json_object_put(obj);
    return rc;
}

int gcs_json_parse_list(struct storage_list_page *page, const char *body, size_t len,
                        const char *prefix, struct bk_error *err)
{
    struct json_object *obj = json_parse_buf(body, len);
    struct json_object *items = NULL;
    struct json_object *prefixes = NULL;
    size_t n_items = 0;
    size_t n_prefixes = 0;
    size_t i = 0;
    size_t j = 0;
    const char *token;
    int rc = BK_OK;

    if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
        rc = bk_error_set(err, BK_EPROTO, "gcs_list", prefix, "listing of \"%s\" is not a JSON object", prefix);
        goto out;
    }
    if (json_object_object_get_ex(obj, "items", &items)) {
        if (!json_object_is_type(items, json_type_array)) {
            rc = bk_error_set(err, BK_EPROTO, "gcs_list", prefix, "listing of \"%s\" has a non-array \"items\"", prefix);
            goto out;
        }
        n_items = json_object_array_length(items);
    }
    if (json_object_object_get_ex(obj, "prefixes", &prefixes)) {
        if (!json_object_is_type(prefixes, json_type_array)) {
            rc = bk_error_set(err, BK_EPROTO, "gcs_list", prefix, "listing of \"%s\" has a non-array \"prefixes\"", prefix);
            goto out;
        }
        n_prefixes = json_object_array_length(prefixes);
    }
    /* GCS returns items and prefixes as two sorted arrays; merge them into one byte order */
    while (i < n_items || j < n_prefixes) {
        const char *item_name = NULL;
        const char *pfx = NULL;
        struct json_object *item = NULL;
        if (i < n_items) {
            item = json_object_array_get_idx(items, i);
            if (!json_object_is_type(item, json_type_object) || (item_name = json_get_string(item, "name")) == NULL) {
                rc = bk_error_set(err, BK_EPROTO, "gcs_list", prefix, "listing of \"%s\" has an item without a name", prefix);
                goto out;
            }
        }
        if (j < n_prefixes) {
            struct json_object *p = json_object_array_get_idx(prefixes, j);
            if (!json_object_is_type(p, json_type_string)) {
                rc = bk_error_set(err, BK_EPROTO, "gcs_list", prefix, "listing of \"%s\" has a non-string prefix", prefix);
                goto out;
            }
            pfx = json_object_get_string(p);
        }
        if (pfx == NULL || (item_name != NULL && strcmp(item_name, pfx) < 0)) {
            struct gcs_object_info info;
            if ((rc = object_from_json(&info, item, item_name, err)) != BK_OK)
                goto out;
            if ((rc = storage_list_page_add(page, item_name, info.size, info.mtime_us, info.etag, false, err)) != BK_OK)
                goto out;
            i++;
        } else {
            if ((rc = storage_list_page_add(page, pfx, 0, 0, NULL, true, err)) != BK_OK)
                goto out;
            j++;
        }
    }
    token = json_get_string(obj, "nextPageToken");
    rc = storage_list_page_set_token(page, token, err);
out:
    if (obj != NULL)
        json_object_put(obj);
    return rc;
}

/* Copies the first line of a text body, trimmed, for non-JSON errors. */
static void copy_first_line(const char *body, size_t len, char *out, size_t out_cap)
{
    size_t n = 0;
    while (len > 0 && (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t')) {
        body++;
        len--;
    }
    while (n < len && body[n] != '\n' && body[n] != '\r')
        n++;
    if (n >= out_cap)
        n = out_cap - 1;
    memcpy(out, body, n);
    out[n] = '\0';
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)out[k] < 0x20)
            out[k] = ' ';
}

void gcs_json_parse_error(struct gcs_error_body *out, const char *body, size_t len)
{
    struct json_object *obj;
    struct json_object *e;
    out->reason[0] = '\0';
    out->message[0] = '\0';
    if (body == NULL || len == 0)
        return;
    obj = json_parse_buf(body, len);
    if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
        if (obj != NULL)
            json_object_put(obj);
        copy_first_line(body, len, out->message, sizeof(out->message));
        return;
    }
    if (json_object_object_get_ex(obj, "error", &e)) {
        if (json_object_is_type(e, json_type_object)) {
            struct json_object *errors;
            const char *m = json_get_string(e, "message");
            if (m != NULL)
                snprintf(out->message, sizeof(out->message), "%s", m);
            if (json_object_object_get_ex(e, "errors", &errors) && json_object_is_type(errors, json_type_array) &&
                json_object_array_length(errors) > 0) {
                const char *r = json_get_string(json_object_array_get_idx(errors, 0), "reason");
                if (r != NULL)
                    snprintf(out->reason, sizeof(out->reason), "%s", r);
            }
            if (out->reason[0] == '\0' && json_get_string(e, "status") != NULL)
                snprintf(out->reason, sizeof(out->reason), "%s", json_get_string(e, "status"));
        } else if (json_object_is_type(e, json_type_string)) {
            const char *d = json_get_string(obj, "error_description");
            snprintf(out->reason, sizeof(out->reason), "%s", json_object_get_string(e));
            if (d != NULL)
                snprintf(out->message, sizeof(out->message), "%s", d);
        }
    }
    json_object_put(obj);
}

int gcs_json_append_string(struct bk_buf *out, const char *text, struct bk_error *err)
{
    int rc = bk_buf_append(out, "\"", 1, err);
    for (const unsigned char *p = (const unsigned char *)text; rc == BK_OK && *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = { '\\', (char)*p };
            rc = bk_buf_append(out, esc, 2, err);
        } else if (*p < 0x20) {
            rc = bk_buf_printf(out, err, "\\u%04x", *p);
        } else {
            rc = bk_buf_append(out, p, 1, err);
        }
    }
    if (rc == BK_OK)
        rc = bk_buf_append(out, "\"", 1, err);
    return rc;
}

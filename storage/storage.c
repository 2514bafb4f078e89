/*
 * Storage front end: joins keys to the URL prefix, validates keys, turns a byte stream into
 * single or multipart uploads (parts in parallel, bounded memory), resumes interrupted
 * downloads, and walks listings page by page. Drivers only move single requests.
 */
#include "storage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_log.h"
#include "bk_str.h"
#include "storage_internal.h"
#include "storage_registry.h"

#define GET_MAX_RESUMES 5
#define REMOVE_BATCH 1000

int storage_key_check(const char *key, struct bk_error *err)
{
    const char *seg = key;
    if (key == NULL || key[0] == '\0')
        return bk_error_set(err, BK_EINVAL, "storage_key", "", "object key is empty");
    if (key[0] == '/')
        return bk_error_set(err, BK_EINVAL, "storage_key", key, "object key \"%s\" starts with '/'", key);
    for (;;) {
        size_t n = strcspn(seg, "/");
        if ((n == 2 && seg[0] == '.' && seg[1] == '.') || (n == 1 && seg[0] == '.'))
            return bk_error_set(err, BK_EINVAL, "storage_key", key,
                                "object key \"%s\" has a \".\" or \"..\" component", key);
        if (seg[n] == '\0')
            break;
        seg += n + 1;
    }
    if (strlen(key) > 1024)
        return bk_error_set(err, BK_EINVAL, "storage_key", key, "object key is longer than 1024 bytes");
    return BK_OK;
}

/* Full object name: root + key (key may be "" for listings of the whole root). */
int storage_key_join(char **out, const struct storage *st, const char *key, struct bk_error *err)
{
    size_t len = strlen(st->root) + strlen(key) + 1;
    *out = malloc(len);
    if (*out == NULL)
        return bk_error_set(err, BK_ENOMEM, "storage_key", key, "out of memory");
    snprintf(*out, len, "%s%s", st->root, key);
    return BK_OK;
}

int storage_open(struct storage **out, const struct storage_config *cfg, struct bk_error *err)
{
    struct storage *st = NULL;
    const struct storage_driver_ops *ops = NULL;
    int rc;

    if (cfg->scheme == NULL)
        return bk_error_set(err, BK_EINVAL, "storage_open", NULL, "no storage configured");
    rc = storage_registry_find(&ops, cfg->scheme, err);
    if (rc != BK_OK)
        return rc;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return bk_error_set(err, BK_ENOMEM, "storage_open", NULL, "out of memory");
    st->ops = ops;
    st->part_size = cfg->part_size_bytes > 0 ? (size_t)cfg->part_size_bytes : STORAGE_DEFAULT_PART_SIZE;
    st->parallelism = cfg->parallelism > 0 ? cfg->parallelism : STORAGE_DEFAULT_PARALLELISM;
    {
        const char *prefix = cfg->prefix != NULL ? cfg->prefix : "";
        size_t len = strlen(prefix) + 2;
        st->root = malloc(len);
        if (st->root == NULL) {
            rc = bk_error_set(err, BK_ENOMEM, "storage_open", NULL, "out of memory");
            goto fail;
        }
        snprintf(st->root, len, "%s%s", prefix, prefix[0] != '\0' && strcmp(cfg->scheme, "file") != 0 ? "/" : "");
    }
    if (strcmp(cfg->scheme, "file") == 0)
        snprintf(st->describe, sizeof(st->describe), "file://%s", cfg->prefix ? cfg->prefix : "");
    else
        snprintf(st->describe, sizeof(st->describe), "%s://%s%s%s", cfg->scheme,
                 cfg->bucket ? cfg->bucket : "", cfg->prefix && cfg->prefix[0] ? "/" : "",
                 cfg->prefix ? cfg->prefix : "");
    /* the local driver roots itself at the directory; keys are then relative to it */
    if (strcmp(cfg->scheme, "file") == 0)
        st->root[0] = '\0';
    rc = ops->open(&st->drv, cfg, err);
    if (rc != BK_OK)
        goto fail;
    *out = st;
    return BK_OK;
fail:
    free(st->root);
    free(st);
    return rc;
}

void storage_close(struct storage *st)
{
    if (st == NULL)
        return;
    if (st->drv != NULL)
        st->ops->close(st->drv);
    free(st->root);
    free(st);
}

const char *storage_describe(const struct storage *st) { return st->describe; }
uint64_t storage_part_size(const struct storage *st) { return st->part_size; }
unsigned storage_parallelism(const struct storage *st) { return st->parallelism; }

int storage_stat(struct storage *st, const char *key, struct storage_stat *out, struct bk_error *err)
{
    char *full = NULL;
    int rc = storage_key_check(key, err);
    if (rc != BK_OK)
        return rc;
    if ((rc = storage_key_join(&full, st, key, err)) != BK_OK)
        return rc;
    memset(out, 0, sizeof(*out));
    rc = st->ops->stat(st->drv, full, out, err);
    free(full);
    return rc;
}

int storage_exists(struct storage *st, const char *key, bool *out, struct bk_error *err)
{
    struct storage_stat info;
    int rc = storage_stat(st, key, &info, err);
    *out = rc == BK_OK;
    if (rc == BK_ENOTFOUND) {
        bk_error_clear(err);
        return BK_OK;
    }
    return rc;
}

int storage_get(struct storage *st, const char *key, uint64_t offset, uint64_t length,
                struct bk_sink *dst, struct bk_error *err)
{
    char *full = NULL;
    uint64_t done = 0;
    int rc = storage_key_check(key, err);
    if (rc != BK_OK)
        return rc;
    if ((rc = storage_key_join(&full, st, key, err)) != BK_OK)
        return rc;
    for (int resumes = 0;; resumes++) {
        uint64_t delivered = 0;
        uint64_t want = length > 0 ? length - done : 0;
        rc = st->ops->get(st->drv, full, offset + done, want, dst, &delivered, err);
        done += delivered;
        if (rc == BK_OK || (length > 0 && done >= length))
            break;
        /* the HTTP layer retries failures before the first byte; here we resume mid-body */
        if (!err->retryable || delivered == 0 || resumes >= GET_MAX_RESUMES)
            break;
        bk_log(BK_LOG_WARN, "storage_get_resume", "resuming \"%s\" at byte %llu after: %s", key,
               (unsigned long long)(offset + done), err->message);
        bk_error_clear(err);
    }
    if (rc == BK_OK || (length > 0 && done >= length))
        rc = BK_OK;
    free(full);
    return rc;
}

int storage_get_buf(struct storage *st, const char *key, struct bk_buf *buf, struct bk_error *err)
{
    struct bk_sink *sink = NULL;
    int rc = bk_sink_buf_new(&sink, buf, err);
    if (rc != BK_OK)
        return rc;
    rc = storage_get(st, key, 0, 0, sink, err);
    bk_sink_free(sink);
    return rc;
}

int storage_remove(struct storage *st, const char *key, struct bk_error *err)
{
    char *full = NULL;
    int rc = storage_key_check(key, err);
    if (rc != BK_OK)
        return rc;
    if ((rc = storage_key_join(&full, st, key, err)) != BK_OK)
        return rc;
    rc = st->ops->remove(st->drv, full, err);
    free(full);
    return rc;
}

int storage_remove_many(struct storage *st, const char *const *keys, size_t n_keys,
                        struct bk_error *err)
{
    char **full = NULL;
    int rc = BK_OK;
    size_t joined = 0;
    if (st->ops->remove_many == NULL || (st->ops->features & STORAGE_FEAT_BATCH_DELETE) == 0) {
        for (size_t i = 0; i < n_keys; i++)
            if ((rc = storage_remove(st, keys[i], err)) != BK_OK)
                return rc;
        return BK_OK;
    }
    full = calloc(n_keys > REMOVE_BATCH ? REMOVE_BATCH : (n_keys ? n_keys : 1), sizeof(*full));
    if (full == NULL)
        return bk_error_set(err, BK_ENOMEM, "storage_remove_many", NULL, "out of memory");
    for (size_t start = 0; start < n_keys && rc == BK_OK; start += REMOVE_BATCH) {
        size_t batch = n_keys - start < REMOVE_BATCH ? n_keys - start : REMOVE_BATCH;
        for (joined = 0; joined < batch; joined++) {
            if ((rc = storage_key_check(keys[start + joined], err)) != BK_OK ||
                (rc = storage_key_join(&full[joined], st, keys[start + joined], err)) != BK_OK)
                break;
        }
        if (rc == BK_OK)
            rc = st->ops->remove_many(st->drv, (const char *const *)full, batch, err);
        for (size_t i = 0; i < joined; i++) {
            free(full[i]);
            full[i] = NULL;
        }
    }
    free(full);
    return rc;
}

/* ---- listing ---- */

struct storage_list {
    struct storage *st;
    char *prefix_full;
    bool recursive;
    struct storage_list_page page;
    size_t pos;
    bool started;
    bool done;
    struct storage_entry current;
};

int storage_list_new(struct storage_list **out, struct storage *st, const char *prefix,
                     bool recursive, struct bk_error *err)
{
    struct storage_list *it = calloc(1, sizeof(*it));
    int rc;
    if (it == NULL)
        return bk_error_set(err, BK_ENOMEM, "storage_list", prefix, "out of memory");
    if (prefix == NULL)
        prefix = "";
    if (prefix[0] == '/' || strstr(prefix, "..") != NULL) {
        free(it);
        return bk_error_set(err, BK_EINVAL, "storage_list", prefix, "list prefix \"%s\" is not a relative key prefix", prefix);
    }
    it->st = st;
    it->recursive = recursive;
    rc = storage_key_join(&it->prefix_full, st, prefix, err);
    if (rc != BK_OK) {
        free(it);
        return rc;
    }
    *out = it;
    return BK_OK;
}

int storage_list_next(struct storage_list *it, const struct storage_entry **entry,
                      struct bk_error *err)
{
    size_t root_len = strlen(it->st->root);
    while (it->pos >= it->page.len) {
        char *token = NULL;
        int rc;
        if (it->done || (it->started && it->page.next_token == NULL))
            return 0;
        if (it->page.next_token != NULL && (token = strdup(it->page.next_token)) == NULL)
            return bk_error_set(err, BK_ENOMEM, "storage_list", it->prefix_full, "out of memory");
        storage_list_page_clear(&it->page);
        it->pos = 0;
        rc = it->st->ops->list_page(it->st->drv, it->prefix_full, it->recursive ? NULL : "/",
                                    token, &it->page, err);
        free(token);
        it->started = true;
        if (rc != BK_OK) {
            it->done = true;
            return rc;
        }
    }
    it->current = it->page.entries[it->pos++];
    if (strncmp(it->current.key, it->st->root, root_len) == 0)
        it->current.key += root_len;
    *entry = &it->current;
    return 1;
}

void storage_list_free(struct storage_list *it)
{
    if (it == NULL)
        return;
    storage_list_page_clear(&it->page);
    free(it->prefix_full);
    free(it);
}

int storage_list_page_add(struct storage_list_page *page, const char *key, uint64_t size,
                          int64_t mtime_us, const char *etag, bool is_prefix, struct bk_error *err)
{
    struct storage_entry *e;
    if (page->len == page->cap) {
        size_t cap = page->cap == 0 ? 64 : page->cap * 2;
        struct storage_entry *grown = realloc(page->entries, cap * sizeof(*grown));
        if (grown == NULL)
            return bk_error_set(err, BK_ENOMEM, "storage_list", key, "out of memory");
        page->entries = grown;
        page->cap = cap;
    }
    e = &page->entries[page->len];
    memset(e, 0, sizeof(*e));
    e->key = strdup(key);
    if (e->key == NULL)
        return bk_error_set(err, BK_ENOMEM, "storage_list", key, "out of memory");
    e->size = size;
    e->mtime_us = mtime_us;
    e->is_prefix = is_prefix;
    if (etag != NULL) {
        size_t n = strlen(etag);
        if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"')
            snprintf(e->etag, sizeof(e->etag), "%.*s", (int)(n - 2), etag + 1);
        else
            snprintf(e->etag, sizeof(e->etag), "%s", etag);
    }
    page->len++;
    return BK_OK;
}

int storage_list_page_set_token(struct storage_list_page *page, const char *token,
                                struct bk_error *err)
{
    free(page->next_token);
    page->next_token = NULL;
    if (token == NULL || token[0] == '\0')
        return BK_OK;
    page->next_token = strdup(token);
    if (page->next_token == NULL)
        return bk_error_set(err, BK_ENOMEM, "storage_list", NULL, "out of memory");
    return BK_OK;
}

void storage_list_page_clear(struct storage_list_page *page)
{
    for (size_t i = 0; i < page->len; i++)
        free(page->entries[i].key);
    free(page->entries);
    free(page->next_token);
    memset(page, 0, sizeof(*page));
}

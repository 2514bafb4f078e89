/*
 * The extractor's naming rules: extract_path_check (the one function that decides what a tar
 * entry name means under DEST), the symlink target rule, and the name sets used for WAL-G's
 * files filter and for deferred entries. Pure string work: no file system access here.
 */
#include "extract.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extract_internal.h"

int extract_path_check(char *out, size_t out_cap, const char *entry_name, struct bk_error *err)
{
    const char *p = entry_name;
    size_t out_len = 0;
    long depth = 0;
    bool has_dotdot = false;
    bool escapes = false;

    if (entry_name == NULL || entry_name[0] == '\0')
        return bk_error_set(err, BK_EINVAL, "extract_path_check", "", "tar entry has an empty name");
    if (out_cap < strlen(entry_name) + 1)
        return bk_error_set(err, BK_EINTERNAL, "extract_path_check", entry_name,
                            "path buffer too small for tar entry \"%s\"", entry_name);
    while (*p != '\0') {
        const char *start = p;
        size_t len;
        while (*p != '\0' && *p != '/')
            p++;
        len = (size_t)(p - start);
        if (*p == '/')
            p++;
        if (len == 0 || (len == 1 && start[0] == '.'))
            continue;   /* leading '/', "//", "./" */
        if (len == 2 && start[0] == '.' && start[1] == '.') {
            has_dotdot = true;
            if (--depth < 0)
                escapes = true;
            continue;
        }
        depth++;
        if (out_len > 0)
            out[out_len++] = '/';
        memcpy(out + out_len, start, len);
        out_len += len;
    }
    out[out_len] = '\0';
    if (escapes)
        return bk_error_set(err, BK_EINVAL, "extract_path_check", entry_name,
                            "tar entry \"%s\" escapes the target directory", entry_name);
    if (has_dotdot)
        return bk_error_set(err, BK_EINVAL, "extract_path_check", entry_name,
                            "tar entry \"%s\" contains a \"..\" component", entry_name);
    return BK_OK;
}

int extract_symlink_target_check(const char *rel_link, const char *target, const char *entry_name,
                                 struct bk_error *err)
{
    long parent_depth = 0;
    long ups = 0;
    bool went_down = false;
    const char *p = target;

    if (target[0] == '\0')
        return bk_error_set(err, BK_EINVAL, "extract", entry_name,
                            "tar entry \"%s\" is a symbolic link with an empty target", entry_name);
    if (target[0] == '/')
        return bk_error_set(err, BK_EINVAL, "extract", entry_name,
                            "tar entry \"%s\" is a symbolic link to \"%s\" outside the target directory",
                            entry_name, target);
    for (const char *c = rel_link; *c != '\0'; c++) {
        if (*c == '/')
            parent_depth++;
    }
    while (*p != '\0') {
        const char *start = p;
        size_t len;
        while (*p != '\0' && *p != '/')
            p++;
        len = (size_t)(p - start);
        if (*p == '/')
            p++;
        if (len == 0 || (len == 1 && start[0] == '.'))
            continue;
        if (len == 2 && start[0] == '.' && start[1] == '.') {
            if (went_down)
                return bk_error_set(err, BK_EINVAL, "extract", entry_name,
                                    "tar entry \"%s\" is a symbolic link to \"%s\", which cannot be proven "
                                    "to stay inside the target directory (\"..\" after a name)",
                                    entry_name, target);
            ups++;
            continue;
        }
        went_down = true;
    }
    if (ups > parent_depth)
        return bk_error_set(err, BK_EINVAL, "extract", entry_name,
                            "tar entry \"%s\" is a symbolic link to \"%s\" outside the target directory",
                            entry_name, target);
    return BK_OK;
}

/* ---- name set: open addressing, FNV-1a, load factor <= 1/2 ---- */

struct extract_name_set {
    char **slots;
    size_t cap;     /* power of two */
    size_t count;
};

static uint64_t hash_name(const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *name != '\0'; name++) {
        h ^= (unsigned char)*name;
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t find_slot(char *const *slots, size_t cap, const char *name)
{
    size_t i = (size_t)hash_name(name) & (cap - 1);
    while (slots[i] != NULL && strcmp(slots[i], name) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

int extract_name_set_new(struct extract_name_set **out, struct bk_error *err)
{
    struct extract_name_set *set = calloc(1, sizeof(*set));
    *out = NULL;
    if (set == NULL)
        return bk_error_set(err, BK_ENOMEM, "extract_name_set_new", NULL, "out of memory");
    set->cap = 64;
    set->slots = calloc(set->cap, sizeof(*set->slots));
    if (set->slots == NULL) {
        free(set);
        return bk_error_set(err, BK_ENOMEM, "extract_name_set_new", NULL, "out of memory");
    }
    *out = set;
    return BK_OK;
}

static int grow(struct extract_name_set *set, struct bk_error *err)
{
    size_t cap = set->cap * 2;
    char **slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return bk_error_set(err, BK_ENOMEM, "extract_name_set_add", NULL, "out of memory");
    for (size_t i = 0; i < set->cap; i++) {
        if (set->slots[i] != NULL)
            slots[find_slot(slots, cap, set->slots[i])] = set->slots[i];
    }
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
    return BK_OK;
}

int extract_name_set_add(struct extract_name_set *set, const char *name, struct bk_error *err)
{
    size_t i;
    char *copy;
    if ((set->count + 1) * 2 > set->cap) {
        int rc = grow(set, err);
        if (rc != BK_OK)
            return rc;
    }
    i = find_slot(set->slots, set->cap, name);
    if (set->slots[i] != NULL)
        return BK_OK;
    copy = strdup(name);
    if (copy == NULL)
        return bk_error_set(err, BK_ENOMEM, "extract_name_set_add", name, "out of memory");
    set->slots[i] = copy;
    set->count++;
    return BK_OK;
}

bool extract_name_set_contains(const struct extract_name_set *set, const char *name)
{
    return set->slots[find_slot(set->slots, set->cap, name)] != NULL;
}

size_t extract_name_set_count(const struct extract_name_set *set)
{
    return set->count;
}

void extract_name_set_free(struct extract_name_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->cap; i++)
        free(set->slots[i]);
    free(set->slots);
    free(set);
}

/*
 * Local directory driver (file:///path, WALG_FILE_PREFIX). Puts are atomic: data goes to a
 * hidden temp file in the target directory, is fsynced, renamed into place, and the directory
 * is fsynced, so a crash never leaves a visible partial object. Listings walk the tree and
 * return keys in byte order, one bounded page at a time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bk_fs.h"
#include "bk_str.h"
#include "storage_driver.h"

#define LOCAL_TMP_PREFIX ".backupd-tmp-"
#define LOCAL_PAGE_CAP 1000
#define LOCAL_IO_CHUNK (1024 * 1024)

struct local_driver {
    struct storage_driver base;
    char *root;
};

struct local_upload {
    struct storage_upload base;
    char *final_path;
    char *tmp_path;
    int fd;
};

static int path_for(char *out, size_t cap, const struct local_driver *d, const char *key,
                    struct bk_error *err)
{
    if ((size_t)snprintf(out, cap, "%s/%s", d->root, key) >= cap)
        return bk_error_set(err, BK_EINVAL, "local_path", key, "path for \"%s\" is too long", key);
    return BK_OK;
}

/* Creates the directories above a file path. */
static int mkdir_parents(const char *path, struct bk_error *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return BK_OK;
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    return bk_mkdir_p(dir, 0750, "local_mkdir", err);
}

static int fsync_parent_dir(const char *path, const char *key, struct bk_error *err)
{
    char dir[PATH_MAX];
    char *slash;
    int fd;
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        return BK_OK;
    *slash = '\0';
    fd = open(dir[0] != '\0' ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return bk_error_set_errno(err, errno, "local_fsync_dir", key, "cannot open directory \"%s\"", dir);
    if (fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        return bk_error_set_errno(err, saved, "local_fsync_dir", key, "cannot fsync directory \"%s\"", dir);
    }
    close(fd);
    return BK_OK;
}

static int local_open(struct storage_driver **out, const struct storage_config *cfg, struct bk_error *err)
{
    struct local_driver *d;
    char probe[PATH_MAX];
    struct stat sb;
    int rc;
    if (cfg->prefix == NULL || cfg->prefix[0] != '/')
        return bk_error_set(err, BK_EINVAL, "local_open", cfg->prefix, "local storage needs an absolute directory");
    snprintf(probe, sizeof(probe), "%s/", cfg->prefix);
    if ((rc = mkdir_parents(probe, err)) != BK_OK)
        return rc;
    if (stat(cfg->prefix, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return bk_error_set(err, BK_EINVAL, "local_open", cfg->prefix, "\"%s\" is not a directory", cfg->prefix);
    d = calloc(1, sizeof(*d));
    if (d == NULL || (d->root = strdup(cfg->prefix)) == NULL) {
        free(d);
        return bk_error_set(err, BK_ENOMEM, "local_open", cfg->prefix, "out of memory");
    }
    d->base.ops = &storage_local_ops;
    *out = &d->base;
    return BK_OK;
}

static void local_close(struct storage_driver *drv)
{
    struct local_driver *d = (struct local_driver *)drv;
    if (d == NULL)
        return;
    free(d->root);
    free(d);
}

static void etag_for(const struct stat *sb, char *out, size_t cap)
{
    snprintf(out, cap, "%llx-%llx", (unsigned long long)sb->st_size,
             (unsigned long long)sb->st_mtim.tv_sec * 1000000000ULL + (unsigned long long)sb->st_mtim.tv_nsec);
}

static int64_t mtime_us(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000 + sb->st_mtim.tv_nsec / 1000;
}

static int local_stat(struct storage_driver *drv, const char *key, struct storage_stat *out, struct bk_error *err)
{
    char path[PATH_MAX];
    struct stat sb;
    int rc = path_for(path, sizeof(path), (struct local_driver *)drv, key, err);
    if (rc != BK_OK)
        return rc;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return bk_error_set(err, BK_ENOTFOUND, "local_stat", key, "object \"%s\" not found", key);
        return bk_error_set_errno(err, errno, "local_stat", key, "cannot stat \"%s\"", key);
    }
    if (!S_ISREG(sb.st_mode))
        return bk_error_set(err, BK_ENOTFOUND, "local_stat", key, "object \"%s\" not found", key);
    out->size = (uint64_t)sb.st_size;
    out->mtime_us = mtime_us(&sb);
    etag_for(&sb, out->etag, sizeof(out->etag));
    return BK_OK;
}

/* ---- listing: a bounded max-heap keeps the LOCAL_PAGE_CAP smallest keys above the token ---- */

struct key_heap {
    struct storage_entry *items;
    size_t len;
};

static void heap_swap(struct storage_entry *a, struct storage_entry *b)
{
    struct storage_entry t = *a;
    *a = *b;
    *b = t;
}

static void heap_sift_down(struct key_heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->len && strcmp(h->items[l].key, h->items[m].key) > 0) m = l;
        if (r < h->len && strcmp(h->items[r].key, h->items[m].key) > 0) m = r;
        if (m == i)
            return;
        heap_swap(&h->items[i], &h->items[m]);
        i = m;
    }
}

static int heap_offer(struct key_heap *h, const char *key, const struct stat *sb, bool is_prefix,
                      struct bk_error *err)
{
    struct storage_entry e;
    if (h->len == LOCAL_PAGE_CAP + 1 && strcmp(key, h->items[0].key) >= 0)
        return BK_OK;
    memset(&e, 0, sizeof(e));
    e.key = strdup(key);
    if (e.key == NULL)
        return bk_error_set(err, BK_ENOMEM, "local_list", key, "out of memory");
    e.is_prefix = is_prefix;
    if (sb != NULL) {
        e.size = (uint64_t)sb->st_size;
        e.mtime_us = mtime_us(sb);
        etag_for(sb, e.etag, sizeof(e.etag));
    }
    if (h->len == LOCAL_PAGE_CAP + 1) {
        free(h->items[0].key);
        h->items[0] = e;
        heap_sift_down(h, 0);
        return BK_OK;
    }
    h->items[h->len] = e;
    for (size_t i = h->len++; i > 0 && strcmp(h->items[(i - 1) / 2].key, h->items[i].key) < 0; i = (i - 1) / 2)
        heap_swap(&h->items[i], &h->items[(i - 1) / 2]);
    return BK_OK;
}

struct walk_ctx {
    struct local_driver *d;
    const char *prefix;       /* full key prefix */
    const char *token;        /* keys must sort after this */
    bool recursive;
    struct key_heap heap;
};

static int walk_dir(struct walk_ctx *w, const char *rel_dir, struct bk_error *err)
{
    char path[PATH_MAX];
    DIR *dir;
    struct dirent *de;
    int rc = BK_OK;
    snprintf(path, sizeof(path), "%s/%s", w->d->root, rel_dir);
    dir = opendir(path);
    if (dir == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return BK_OK;
        return bk_error_set_errno(err, errno, "local_list", rel_dir, "cannot read directory \"%s\"", path);
    }
    while ((de = readdir(dir)) != NULL && rc == BK_OK) {
        char key[PATH_MAX];
        char full[PATH_MAX];
        struct stat sb;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strncmp(de->d_name, LOCAL_TMP_PREFIX, strlen(LOCAL_TMP_PREFIX)) == 0)
            continue;
        snprintf(key, sizeof(key), "%s%s", rel_dir, de->d_name);
        snprintf(full, sizeof(full), "%s/%s", w->d->root, key);
        if (lstat(full, &sb) != 0)
            continue;   /* removed while we walked */
        if (S_ISDIR(sb.st_mode)) {
            size_t klen = strlen(key);
            if (klen + 2 >= sizeof(key))
                continue;
            key[klen] = '/';
            key[klen + 1] = '\0';
            if (bk_str_starts_with(w->prefix, key)) {
                rc = walk_dir(w, key, err);          /* still above the prefix's directory */
            } else if (bk_str_starts_with(key, w->prefix)) {
                if (w->recursive)
                    rc = walk_dir(w, key, err);
                else if (w->token == NULL || strcmp(key, w->token) > 0)
                    rc = heap_offer(&w->heap, key, NULL, true, err);
            }
            continue;
        }
        if (!S_ISREG(sb.st_mode) || !bk_str_starts_with(key, w->prefix))
            continue;
        if (w->token != NULL && strcmp(key, w->token) <= 0)
            continue;
        rc = heap_offer(&w->heap, key, &sb, false, err);
    }
    closedir(dir);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct storage_entry *)a)->key, ((const struct storage_entry *)b)->key);
}

static int local_list_page(struct storage_driver *drv, const char *prefix, const char *delimiter,
                           const char *token, struct storage_list_page *page, struct bk_error *err)
{
    struct walk_ctx w;
    char start_dir[PATH_MAX];
    const char *slash = strrchr(prefix, '/');
    int rc;
    memset(&w, 0, sizeof(w));
    w.d = (struct local_driver *)drv;
    w.prefix = prefix;
    w.token = token;
    w.recursive = delimiter == NULL;
    w.heap.items = calloc(LOCAL_PAGE_CAP + 1, sizeof(*w.heap.items));
    if (w.heap.items == NULL)
        return bk_error_set(err, BK_ENOMEM, "local_list", prefix, "out of memory");
    snprintf(start_dir, sizeof(start_dir), "%.*s", slash != NULL ? (int)(slash - prefix + 1) : 0, prefix);
    rc = walk_dir(&w, start_dir, err);
    if (rc == BK_OK) {
        bool more = w.heap.len > LOCAL_PAGE_CAP;
        qsort(w.heap.items, w.heap.len, sizeof(*w.heap.items), entry_cmp);
        if (more) {
            free(w.heap.items[LOCAL_PAGE_CAP].key);
            w.heap.len = LOCAL_PAGE_CAP;
        }
        page->entries = w.heap.items;
        page->len = w.heap.len;
        page->cap = LOCAL_PAGE_CAP + 1;
        w.heap.items = NULL;
        if (more)
            rc = storage_list_page_set_token(page, page->entries[page->len - 1].key, err);
    }
    if (w.heap.items != NULL) {
        for (size_t i = 0; i < w.heap.len; i++)
            free(w.heap.items[i].key);
        free(w.heap.items);
    }
    return rc;
}

static int local_get(struct storage_driver *drv, const char *key, uint64_t offset, uint64_t length,
                     struct bk_sink *dst, uint64_t *delivered, struct bk_error *err)
{
    char path[PATH_MAX];
    uint8_t *buf = NULL;
    struct stat sb;
    uint64_t end;
    int fd = -1;
    int rc = path_for(path, sizeof(path), (struct local_driver *)drv, key, err);
    *delivered = 0;
    if (rc != BK_OK)
        return rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return bk_error_set(err, BK_ENOTFOUND, "local_get", key, "object \"%s\" not found", key);
        return bk_error_set_errno(err, errno, "local_get", key, "cannot open \"%s\"", key);
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = bk_error_set(err, BK_ENOTFOUND, "local_get", key, "object \"%s\" not found", key);
        goto out;
    }
    if (offset > (uint64_t)sb.st_size || (offset == (uint64_t)sb.st_size && offset > 0 && length > 0)) {
        rc = bk_error_set(err, BK_EINVAL, "local_get", key, "range start %llu is beyond the end of \"%s\" (%lld bytes)",
                          (unsigned long long)offset, key, (long long)sb.st_size);
        goto out;
    }
    end = length > 0 && offset + length < (uint64_t)sb.st_size ? offset + length : (uint64_t)sb.st_size;
    buf = malloc(LOCAL_IO_CHUNK);
    if (buf == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "local_get", key, "out of memory");
        goto out;
    }
    while (offset < end) {
        size_t want = end - offset < LOCAL_IO_CHUNK ? (size_t)(end - offset) : LOCAL_IO_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = bk_error_set_errno(err, errno, "local_get", key, "cannot read \"%s\"", key);
            goto out;
        }
        if (n == 0) {
            rc = bk_error_set(err, BK_ECORRUPT, "local_get", key, "\"%s\" shrank while being read", key);
            goto out;
        }
        if ((rc = bk_sink_write(dst, buf, (size_t)n, err)) != BK_OK)
            goto out;
        offset += (uint64_t)n;
        *delivered += (uint64_t)n;
    }
out:
    free(buf);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len, const char *key, struct bk_error *err)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bk_error_set_errno(err, errno, "local_put", key, "cannot write \"%s\"", key);
        p += n;
        len -= (size_t)n;
    }
    return BK_OK;
}

static int local_upload_begin(struct storage_driver *drv, const char *key, const struct storage_put_opts *opts,
                              struct storage_upload **out, struct bk_error *err)
{
    struct local_upload *up = NULL;
    char path[PATH_MAX];
    char tmp[PATH_MAX + 64];
    char *slash;
    int rc = path_for(path, sizeof(path), (struct local_driver *)drv, key, err);
    (void)opts;
    if (rc != BK_OK)
        return rc;
    if ((rc = mkdir_parents(path, err)) != BK_OK)
        return rc;
    snprintf(tmp, sizeof(tmp), "%s", path);
    slash = strrchr(tmp, '/');
    snprintf(slash + 1, sizeof(tmp) - (size_t)(slash + 1 - tmp), "%sXXXXXX", LOCAL_TMP_PREFIX);
    up = calloc(1, sizeof(*up));
    if (up == NULL)
        return bk_error_set(err, BK_ENOMEM, "local_put", key, "out of memory");
    up->base.drv = drv;
    up->fd = mkstemp(tmp);
    if (up->fd < 0) {
        rc = bk_error_set_errno(err, errno, "local_put", key, "cannot create a temporary file for \"%s\"", key);
        free(up);
        return rc;
    }
    up->tmp_path = strdup(tmp);
    up->final_path = strdup(path);
    if (up->tmp_path == NULL || up->final_path == NULL) {
        unlink(tmp);
        close(up->fd);
        free(up->tmp_path);
        free(up->final_path);
        free(up);
        return bk_error_set(err, BK_ENOMEM, "local_put", key, "out of memory");
    }
    fchmod(up->fd, 0640);
    *out = &up->base;
    return BK_OK;
}

static int local_upload_part(struct storage_upload *upload, unsigned part_no, const void *data, size_t len,
                             bool is_last, struct bk_error *err)
{
    struct local_upload *up = (struct local_upload *)upload;
    (void)part_no;
    (void)is_last;
    return write_all(up->fd, data, len, up->final_path, err);
}

static void local_upload_abort(struct storage_upload *upload)
{
    struct local_upload *up = (struct local_upload *)upload;
    if (up == NULL)
        return;
    if (up->fd >= 0)
        close(up->fd);
    unlink(up->tmp_path);
    free(up->tmp_path);
    free(up->final_path);
    free(up);
}

static int local_upload_complete(struct storage_upload *upload, struct bk_error *err)
{
    struct local_upload *up = (struct local_upload *)upload;
    int rc;
    if (fsync(up->fd) != 0)
        return bk_error_set_errno(err, errno, "local_put", up->final_path, "cannot fsync \"%s\"", up->final_path);
    if (close(up->fd) != 0) {
        up->fd = -1;
        return bk_error_set_errno(err, errno, "local_put", up->final_path, "cannot close \"%s\"", up->final_path);
    }
    up->fd = -1;
    if (rename(up->tmp_path, up->final_path) != 0)
        return bk_error_set_errno(err, errno, "local_put", up->final_path, "cannot rename into \"%s\"", up->final_path);
    rc = fsync_parent_dir(up->final_path, up->final_path, err);
    if (rc != BK_OK)
        return rc;
    free(up->tmp_path);
    free(up->final_path);
    free(up);
    return BK_OK;
}

static int local_put_single(struct storage_driver *drv, const char *key, const void *data, size_t len,
                            const struct storage_put_opts *opts, struct bk_error *err)
{
    struct storage_upload *up = NULL;
    int rc = local_upload_begin(drv, key, opts, &up, err);
    if (rc != BK_OK)
        return rc;
    rc = local_upload_part(up, 1, data, len, true, err);
    if (rc == BK_OK)
        rc = local_upload_complete(up, err);
    if (rc != BK_OK)
        local_upload_abort(up);
    return rc;
}

static int local_remove(struct storage_driver *drv, const char *key, struct bk_error *err)
{
    struct local_driver *d = (struct local_driver *)drv;
    char path[PATH_MAX];
    int rc = path_for(path, sizeof(path), d, key, err);
    if (rc != BK_OK)
        return rc;
    if (unlink(path) != 0 && errno != ENOENT)
        return bk_error_set_errno(err, errno, "local_remove", key, "cannot delete \"%s\"", key);
    /* tidy empty parent directories, never the root itself */
    for (char *slash = strrchr(path, '/'); slash != NULL && (size_t)(slash - path) > strlen(d->root);
         slash = strrchr(path, '/')) {
        *slash = '\0';
        if (rmdir(path) != 0)
            break;
    }
    return BK_OK;
}

const struct storage_driver_ops storage_local_ops = {
    .version = STORAGE_DRIVER_VERSION,
    .scheme = "file",
    .features = 0,
    .open = local_open,
    .close = local_close,
    .stat = local_stat,
    .list_page = local_list_page,
    .get = local_get,
    .put_single = local_put_single,
    .upload_begin = local_upload_begin,
    .upload_part = local_upload_part,
    .upload_complete = local_upload_complete,
    .upload_abort = local_upload_abort,
    .remove = local_remove,
    .remove_many = NULL,
};

/*
 * The extractor: a tar_reader handler that writes members beneath DEST. Every path is
 * checked by extract_path_check, then reached by walking from a dirfd on DEST with
 * O_NOFOLLOW (parents created 0700), so a symlink on disk is never followed. Files are
 * replaced, never written through; a failed file is removed. Not thread-safe per object.
 */
#include "extract.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bk_buf.h"
#include "extract_internal.h"

#define MODE_MASK (07777 & ~(S_ISUID | S_ISGID))
/* With fsync on, writeback of each file is started every this many bytes (sync_file_range,
 * SYNC_FILE_RANGE_WRITE), so the disk works while we decompress and the fsync at the end of
 * the file has little left to wait for. Only a hint: the fsync still decides durability. */
#define WRITEBACK_KICK_BYTES ((uint64_t)8 * 1024 * 1024)

struct dir_mode {
    char *rel;
    uint32_t mode;
};

struct extract {
    struct extract_opts opts;
    char *dest;
    int dest_fd;
    struct extract_stats stats;
    /* current member */
    struct bk_buf entry;          /* raw name, for errors */
    char *rel;                    /* normalised path */
    size_t rel_cap;
    const char *base;             /* last component of rel (points into rel) */
    int fd;                       /* file being written, -1 when none */
    uint64_t fd_written;          /* bytes written to fd */
    uint64_t fd_kicked;           /* writeback started for [0, fd_kicked) (fsync mode) */
    uint32_t mode;
    /* parent directory cache: the dir of the last file written */
    struct bk_buf cache_rel;
    int cache_fd;
    /* directories to fsync and directory modes to apply at the end of the archive */
    char **sync_dirs;
    size_t sync_len, sync_cap;
    struct dir_mode *chmods;
    size_t chmod_len, chmod_cap;
};

static int sys_error(struct bk_error *err, int sys_errno, const char *entry, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(struct bk_error *err, const char *entry, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* errno-based failure; the code follows errno (ENOSPC -> BK_ENOSPC). */
static int sys_error(struct bk_error *err, int sys_errno, const char *entry, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return bk_error_set_errno(err, sys_errno, "extract", entry, "%s", msg);
}

/* An entry the policy does not allow: BK_EINVAL naming the entry. */
static int refuse(struct bk_error *err, const char *entry, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return bk_error_set(err, BK_EINVAL, "extract", entry, "%s", msg);
}

static int add_sync_dir(struct extract *ex, const char *rel, size_t rel_len, struct bk_error *err)
{
    char *copy;
    if (!ex->opts.fsync)
        return BK_OK;
    if (ex->sync_len > 0 && strlen(ex->sync_dirs[ex->sync_len - 1]) == rel_len
        && memcmp(ex->sync_dirs[ex->sync_len - 1], rel, rel_len) == 0)
        return BK_OK;
    if (ex->sync_len == ex->sync_cap) {
        size_t cap = ex->sync_cap == 0 ? 16 : ex->sync_cap * 2;
        char **grown = realloc(ex->sync_dirs, cap * sizeof(*grown));
        if (grown == NULL)
            return bk_error_set(err, BK_ENOMEM, "extract", NULL, "out of memory");
        ex->sync_dirs = grown;
        ex->sync_cap = cap;
    }
    copy = strndup(rel, rel_len);
    if (copy == NULL)
        return bk_error_set(err, BK_ENOMEM, "extract", NULL, "out of memory");
    ex->sync_dirs[ex->sync_len++] = copy;
    return BK_OK;
}

/* Opens directory rel_dir ("" = DEST) without following any symlink; with create, missing
 * components are made 0700. *out is a new fd the caller closes. */
static int walk_dir(struct extract *ex, const char *rel_dir, bool create, int *out, struct bk_error *err)
{
    const char *entry = bk_buf_str(&ex->entry);
    char *path = NULL;
    char *comp;
    int cur = -1;
    int rc = BK_OK;
    *out = -1;
    path = strdup(rel_dir);
    cur = dup(ex->dest_fd);
    if (path == NULL || cur < 0) {
        rc = bk_error_set(err, BK_ENOMEM, "extract", entry, "out of memory or descriptors");
        goto out;
    }
    comp = path;
    while (*comp != '\0') {
        char *slash = strchr(comp, '/');
        int next;
        struct stat st;
        if (slash != NULL)
            *slash = '\0';
        next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            if (mkdirat(cur, comp, 0700) == 0) {
                rc = add_sync_dir(ex, path, comp == path ? 0 : (size_t)(comp - path - 1), err);
                if (rc != BK_OK)
                    goto out;
            } else if (errno != EEXIST) {
                rc = sys_error(err, errno, entry, "cannot create directory \"%s\" for tar entry \"%s\"",
                               path, entry);
                goto out;
            }
            next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            int e = errno;
            if ((e == ELOOP || e == ENOTDIR) && fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                if (S_ISLNK(st.st_mode))
                    rc = refuse(err, entry, "tar entry \"%s\" has a symbolic link in its path (\"%s\"); "
                                "refusing to write through it", entry, path);
                else
                    rc = refuse(err, entry, "tar entry \"%s\" needs \"%s\" to be a directory, but it is not",
                                entry, path);
            } else {
                rc = sys_error(err, e, entry, "cannot open directory \"%s\" for tar entry \"%s\"", path, entry);
            }
            goto out;
        }
        close(cur);
        cur = next;
        if (slash == NULL)
            break;
        *slash = '/';
        comp = slash + 1;
    }
    *out = cur;
    cur = -1;
out:
    if (cur >= 0)
        close(cur);
    free(path);
    return rc;
}

/* Splits ex->rel into parent and base and returns the (cached) parent fd, borrowed. */
static int parent_of_current(struct extract *ex, int *out, struct bk_error *err)
{
    char *slash = strrchr(ex->rel, '/');
    int fd = -1;
    int rc;
    if (slash != NULL)
        *slash = '\0';
    ex->base = slash != NULL ? slash + 1 : ex->rel;
    if (ex->cache_fd >= 0 && strcmp(bk_buf_str(&ex->cache_rel), slash != NULL ? ex->rel : "") == 0) {
        rc = BK_OK;
        fd = ex->cache_fd;
    } else {
        rc = walk_dir(ex, slash != NULL ? ex->rel : "", true, &fd, err);
        if (rc == BK_OK) {
            if (ex->cache_fd >= 0)
                close(ex->cache_fd);
            ex->cache_fd = fd;
            bk_buf_reset(&ex->cache_rel);
            rc = bk_buf_append_str(&ex->cache_rel, slash != NULL ? ex->rel : "", err);
        }
    }
    if (slash != NULL)
        *slash = '/';
    *out = fd;
    return rc;
}

static int record_parent_sync(struct extract *ex, struct bk_error *err)
{
    size_t parent_len = ex->base == ex->rel ? 0 : (size_t)(ex->base - ex->rel - 1);
    return add_sync_dir(ex, ex->rel, parent_len, err);
}

/* Makes room for a new non-directory at ex->base: an existing file, link or fifo there is
 * unlinked (never opened or followed); a directory is refused. */
static int clear_target(struct extract *ex, int pfd, struct bk_error *err)
{
    const char *entry = bk_buf_str(&ex->entry);
    struct stat st;
    if (fstatat(pfd, ex->base, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? BK_OK
                               : sys_error(err, errno, entry, "cannot inspect \"%s\" for tar entry \"%s\"", ex->rel, entry);
    if (S_ISDIR(st.st_mode))
        return refuse(err, entry, "tar entry \"%s\" would replace the directory \"%s\"", entry, ex->rel);
    if (unlinkat(pfd, ex->base, 0) != 0 && errno != ENOENT)
        return sys_error(err, errno, entry, "cannot replace \"%s\" for tar entry \"%s\"", ex->rel, entry);
    return BK_OK;
}

static void remove_partial(struct extract *ex)
{
    if (ex->fd < 0)
        return;
    close(ex->fd);
    ex->fd = -1;
    if (ex->cache_fd >= 0 && ex->base != NULL)
        unlinkat(ex->cache_fd, ex->base, 0);
}

static int open_file(struct extract *ex, const struct tar_member *m, struct bk_error *err)
{
    int pfd;
    int rc = parent_of_current(ex, &pfd, err);
    if (rc != BK_OK)
        return rc;
    /* O_EXCL first: a fresh DEST costs no extra syscall; whatever is in the way is
     * unlinked, never opened (a planted fifo would block, a symlink would lead out). */
    ex->fd = openat(pfd, ex->base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (ex->fd < 0 && errno == EEXIST) {
        rc = clear_target(ex, pfd, err);
        if (rc != BK_OK)
            return rc;
        ex->fd = openat(pfd, ex->base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (ex->fd < 0)
        return sys_error(err, errno, m->name, "cannot create \"%s\" for tar entry \"%s\"", ex->rel, m->name);
    ex->mode = m->mode & MODE_MASK;
    ex->fd_written = 0;
    ex->fd_kicked = 0;
    return BK_OK;
}

static int make_dir(struct extract *ex, const struct tar_member *m, struct bk_error *err)
{
    uint32_t mode = m->mode & MODE_MASK;
    int fd = -1;
    int rc = BK_OK;
    if (ex->rel[0] == '\0') {
        fd = dup(ex->dest_fd);
        if (fd < 0)
            rc = sys_error(err, errno, m->name, "cannot open \"%s\" for tar entry \"%s\"", ex->dest, m->name);
    } else {
        rc = walk_dir(ex, ex->rel, true, &fd, err);
    }
    if (rc != BK_OK)
        goto out;
    if (fchmod(fd, mode | S_IRWXU) != 0) {
        rc = sys_error(err, errno, m->name, "cannot chmod \"%s\" for tar entry \"%s\"", ex->rel, m->name);
        goto out;
    }
    if ((mode & S_IRWXU) != S_IRWXU) {
        /* Kept writable while entries may still land in it; the real mode comes at the end. */
        if (ex->chmod_len == ex->chmod_cap) {
            size_t cap = ex->chmod_cap == 0 ? 8 : ex->chmod_cap * 2;
            struct dir_mode *grown = realloc(ex->chmods, cap * sizeof(*grown));
            if (grown == NULL) {
                rc = bk_error_set(err, BK_ENOMEM, "extract", NULL, "out of memory");
                goto out;
            }
            ex->chmods = grown;
            ex->chmod_cap = cap;
        }
        ex->chmods[ex->chmod_len].rel = strdup(ex->rel);
        if (ex->chmods[ex->chmod_len].rel == NULL) {
            rc = bk_error_set(err, BK_ENOMEM, "extract", NULL, "out of memory");
            goto out;
        }
        ex->chmods[ex->chmod_len++].mode = mode;
    }
    ex->stats.dirs++;
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int make_symlink(struct extract *ex, const struct tar_member *m, struct bk_error *err)
{
    int pfd;
    int made;
    int rc = extract_symlink_target_check(ex->rel, m->linkname, m->name, err);
    if (rc == BK_OK)
        rc = parent_of_current(ex, &pfd, err);
    if (rc != BK_OK)
        return rc;
    made = symlinkat(m->linkname, pfd, ex->base);
    if (made != 0 && errno == EEXIST) {
        rc = clear_target(ex, pfd, err);
        if (rc != BK_OK)
            return rc;
        made = symlinkat(m->linkname, pfd, ex->base);
    }
    if (made != 0)
        return sys_error(err, errno, m->name, "cannot create symbolic link \"%s\" for tar entry \"%s\"", ex->rel,
                         m->name);
    ex->stats.links++;
    return record_parent_sync(ex, err);
}

static int make_hardlink(struct extract *ex, const struct tar_member *m, struct bk_error *err)
{
    size_t cap = strlen(m->linkname) + 1;
    char *target = malloc(cap);
    char *slash;
    const char *tbase;
    int tfd = -1;
    int pfd;
    int made;
    struct stat st;
    struct bk_error ignored = BK_ERROR_INIT;
    int rc = BK_OK;
    if (target == NULL)
        return bk_error_set(err, BK_ENOMEM, "extract", m->name, "out of memory");
    if (m->linkname[0] == '\0' || extract_path_check(target, cap, m->linkname, &ignored) != BK_OK
        || target[0] == '\0') {
        rc = refuse(err, m->name, "tar entry \"%s\" is a hard link to \"%s\" outside the target directory",
                    m->name, m->linkname);
        goto out;
    }
    slash = strrchr(target, '/');
    if (slash != NULL)
        *slash = '\0';
    tbase = slash != NULL ? slash + 1 : target;
    /* The target must already be a regular file beneath DEST, reached without symlinks. */
    if (walk_dir(ex, slash != NULL ? target : "", false, &tfd, &ignored) != BK_OK
        || fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
        rc = refuse(err, m->name, "tar entry \"%s\" is a hard link to \"%s\", which is not an extracted regular file",
                    m->name, m->linkname);
        goto out;
    }
    rc = parent_of_current(ex, &pfd, err);
    if (rc != BK_OK)
        goto out;
    made = linkat(tfd, tbase, pfd, ex->base, 0);
    if (made != 0 && errno == EEXIST) {
        rc = clear_target(ex, pfd, err);
        if (rc != BK_OK)
            goto out;
        made = linkat(tfd, tbase, pfd, ex->base, 0);
    }
    if (made != 0) {
        rc = sys_error(err, errno, m->name, "cannot create hard link \"%s\" for tar entry \"%s\"", ex->rel, m->name);
        goto out;
    }
    ex->stats.links++;
    rc = record_parent_sync(ex, err);
out:
    if (tfd >= 0)
        close(tfd);
    free(target);
    return rc;
}

/* Filters: WAL-G's Files set on the raw name; deferral on the normalised path. */
static bool skip_entry(struct extract *ex, const struct tar_member *m)
{
    if (ex->opts.only_names != NULL && !extract_name_set_contains(ex->opts.only_names, m->name)) {
        ex->stats.skipped++;
        return true;
    }
    if (ex->opts.defer_names != NULL && extract_name_set_contains(ex->opts.defer_names, ex->rel)) {
        ex->stats.deferred++;
        return true;
    }
    return false;
}

static int on_begin(const struct tar_member *m, void *payload, struct bk_error *err)
{
    struct extract *ex = payload;
    size_t need = strlen(m->name) + 1;
    int rc;
    ex->base = NULL;
    bk_buf_reset(&ex->entry);
    rc = bk_buf_append_str(&ex->entry, m->name, err);
    if (rc != BK_OK)
        return rc;
    if (need > ex->rel_cap) {
        char *grown = realloc(ex->rel, need);
        if (grown == NULL)
            return bk_error_set(err, BK_ENOMEM, "extract", m->name, "out of memory");
        ex->rel = grown;
        ex->rel_cap = need;
    }
    rc = extract_path_check(ex->rel, ex->rel_cap, m->name, err);
    if (rc != BK_OK)
        return rc;
    if (m->type == TAR_TYPE_DIRECTORY)
        return make_dir(ex, m, err);
    switch (m->type) {
    case TAR_TYPE_REGULAR:
    case TAR_TYPE_HARDLINK:
        break;
    case TAR_TYPE_SYMLINK:
        if (!ex->opts.allow_symlinks)
            return refuse(err, m->name, "tar entry \"%s\" is a symbolic link; symbolic links are not restored",
                          m->name);
        break;
    case TAR_TYPE_CHAR:
    case TAR_TYPE_BLOCK:
    case TAR_TYPE_FIFO:
        return refuse(err, m->name, "tar entry \"%s\" is a %s; device files and fifos are not restored",
                      m->name, tar_type_name(m->type));
    case TAR_TYPE_DIRECTORY:
    case TAR_TYPE_OTHER:
        return refuse(err, m->name, "tar entry \"%s\" has the unsupported type '%c'", m->name, m->typeflag);
    }
    if (ex->rel[0] == '\0')
        return refuse(err, m->name, "tar entry \"%s\" names the target directory itself but is a %s",
                      m->name, tar_type_name(m->type));
    if (skip_entry(ex, m))
        return BK_OK;
    if (m->type == TAR_TYPE_SYMLINK)
        return make_symlink(ex, m, err);
    if (m->type == TAR_TYPE_HARDLINK)
        return make_hardlink(ex, m, err);
    return open_file(ex, m, err);
}

static int on_data(const void *data, size_t len, void *payload, struct bk_error *err)
{
    struct extract *ex = payload;
    const char *entry = bk_buf_str(&ex->entry);
    const char *p = data;
    if (ex->fd < 0)
        return BK_OK;   /* skipped or deferred entry */
    while (len > 0) {
        ssize_t n = write(ex->fd, p, len);
        if (n < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            remove_partial(ex);
            return sys_error(err, e, entry, "cannot write \"%s\" for tar entry \"%s\"", ex->rel, entry);
        }
        p += n;
        len -= (size_t)n;
        ex->stats.bytes += (uint64_t)n;
        ex->fd_written += (uint64_t)n;
    }
    if (ex->opts.fsync && ex->fd_written - ex->fd_kicked >= WRITEBACK_KICK_BYTES) {
        /* errors ignored on purpose: a filesystem without it just waits in fsync */
        (void)sync_file_range(ex->fd, (off_t)ex->fd_kicked, (off_t)(ex->fd_written - ex->fd_kicked),
                              SYNC_FILE_RANGE_WRITE);
        ex->fd_kicked = ex->fd_written;
    }
    return BK_OK;
}

static int on_end(void *payload, struct bk_error *err)
{
    struct extract *ex = payload;
    const char *entry = bk_buf_str(&ex->entry);
    int fd = ex->fd;
    const char *what = NULL;
    int e = 0;
    if (fd < 0)
        return BK_OK;
    if (fchmod(fd, ex->mode) != 0) {
        what = "chmod";
        e = errno;
    } else if (ex->opts.fsync && fsync(fd) != 0) {
        what = "fsync";
        e = errno;
    }
    if (what != NULL) {
        remove_partial(ex);
        return sys_error(err, e, entry, "cannot %s \"%s\" for tar entry \"%s\"", what, ex->rel, entry);
    }
    ex->fd = -1;
    if (close(fd) != 0) {
        e = errno;
        unlinkat(ex->cache_fd, ex->base, 0);
        return sys_error(err, e, entry, "cannot close \"%s\" for tar entry \"%s\"", ex->rel, entry);
    }
    ex->stats.files++;
    return record_parent_sync(ex, err);
}

static int compare_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int compare_mode_desc(const void *a, const void *b)
{
    return strcmp(((const struct dir_mode *)b)->rel, ((const struct dir_mode *)a)->rel);
}

static void clear_lists(struct extract *ex)
{
    for (size_t i = 0; i < ex->sync_len; i++)
        free(ex->sync_dirs[i]);
    ex->sync_len = 0;
    for (size_t i = 0; i < ex->chmod_len; i++)
        free(ex->chmods[i].rel);
    ex->chmod_len = 0;
}

/* fsyncs every directory that got entries, then applies the directory modes that were
 * held back (deepest first, so a parent never loses its permissions before its children). */
static int on_end_archive(void *payload, struct bk_error *err)
{
    struct extract *ex = payload;
    int rc = BK_OK;
    int fd = -1;
    if (ex->cache_fd >= 0) {
        close(ex->cache_fd);
        ex->cache_fd = -1;
    }
    if (ex->sync_len > 1)
        qsort(ex->sync_dirs, ex->sync_len, sizeof(*ex->sync_dirs), compare_str_ptr);
    for (size_t i = 0; i < ex->sync_len && rc == BK_OK; i++) {
        if (i > 0 && strcmp(ex->sync_dirs[i], ex->sync_dirs[i - 1]) == 0)
            continue;
        rc = walk_dir(ex, ex->sync_dirs[i], false, &fd, err);
        if (rc == BK_OK && fsync(fd) != 0)
            rc = sys_error(err, errno, ex->sync_dirs[i], "cannot fsync directory \"%s\"", ex->sync_dirs[i]);
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    if (ex->chmod_len > 1)
        qsort(ex->chmods, ex->chmod_len, sizeof(*ex->chmods), compare_mode_desc);
    for (size_t i = 0; i < ex->chmod_len && rc == BK_OK; i++) {
        if (ex->chmods[i].rel[0] == '\0')
            fd = dup(ex->dest_fd);
        else
            rc = walk_dir(ex, ex->chmods[i].rel, false, &fd, err);
        if (rc == BK_OK && (fd < 0 || fchmod(fd, ex->chmods[i].mode) != 0))
            rc = sys_error(err, errno, ex->chmods[i].rel, "cannot chmod directory \"%s\"", ex->chmods[i].rel);
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    clear_lists(ex);
    return rc;
}

static void on_abort(void *payload)
{
    remove_partial(payload);
}

static const struct tar_handler_ops extract_ops = {
    on_begin, on_data, on_end, on_end_archive, on_abort
};

const struct tar_handler_ops *extract_handler_ops(void)
{
    return &extract_ops;
}

int extract_new(struct extract **out, const struct extract_opts *opts, struct bk_error *err)
{
    struct extract *ex = NULL;
    int rc = BK_OK;
    *out = NULL;
    if (opts == NULL || opts->dest == NULL || opts->dest[0] == '\0')
        return bk_error_set(err, BK_EINVAL, "extract_new", NULL, "no target directory given");
    ex = calloc(1, sizeof(*ex));
    if (ex == NULL)
        return bk_error_set(err, BK_ENOMEM, "extract_new", opts->dest, "out of memory");
    ex->opts = *opts;
    ex->fd = -1;
    ex->cache_fd = -1;
    ex->dest_fd = -1;
    bk_buf_init(&ex->entry, 1024 * 1024 + 1);
    bk_buf_init(&ex->cache_rel, 1024 * 1024 + 1);
    ex->dest = strdup(opts->dest);
    if (ex->dest == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "extract_new", opts->dest, "out of memory");
        goto out;
    }
    ex->opts.dest = ex->dest;
    ex->dest_fd = open(opts->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ex->dest_fd < 0) {
        rc = bk_error_set_errno(err, errno, "extract_new", opts->dest, "cannot open target directory \"%s\"",
                                opts->dest);
        goto out;
    }
    *out = ex;
    ex = NULL;
out:
    extract_free(ex);
    return rc;
}

void extract_free(struct extract *ex)
{
    if (ex == NULL)
        return;
    remove_partial(ex);
    clear_lists(ex);
    free(ex->sync_dirs);
    free(ex->chmods);
    if (ex->cache_fd >= 0)
        close(ex->cache_fd);
    if (ex->dest_fd >= 0)
        close(ex->dest_fd);
    bk_buf_free(&ex->entry);
    bk_buf_free(&ex->cache_rel);
    free(ex->rel);
    free(ex->dest);
    free(ex);
}

int extract_reader_new(struct bk_sink **out, struct extract *ex, const char *name_for_errors,
                       struct bk_error *err)
{
    struct tar_reader_opts opts = TAR_READER_OPTS_INIT;
    opts.ops = &extract_ops;
    opts.payload = ex;
    opts.name_for_errors = name_for_errors;
    return tar_reader_new(out, &opts, err);
}

const struct extract_stats *extract_get_stats(const struct extract *ex)
{
    return &ex->stats;
}

/*
 * wal-push: one WAL file -> codec -> storage writer, streamed in fixed chunks. Before writing it
 * looks for the name under every extension a reader would try and compares content (SHA-256 of
 * the decompressed object) instead of overwriting. Other .ready files of the same pg_wal are
 * pushed by worker threads; each success leaves a marker (size, mtime, inode, SHA-256) that lets
 * PostgreSQL's later archive_command call for that file return after one stat.
 */
#include "wal_push.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bk_fs.h"
#include "bk_log.h"
#include "bk_sink.h"
#include "bk_str.h"
#include "bk_time.h"
#include "walg_names.h"

#define PUSH_CHUNK ((size_t)1024 * 1024)
#define PUSH_NAME_CAP 64
#define MARKER_CAP 512
#define MARKER_TMP_PREFIX ".tmp-"
#define MARKER_TMP_MAX_AGE_S 600

struct push_job {
    char name[PUSH_NAME_CAP];
    char path[PATH_MAX];
    bool background;
    int rc;
    struct bk_error err;
    struct wal_push_result res;
};

struct push_ctx {
    struct storage *st;
    const struct wal_push_opts *opts;
    char marker_dir[PATH_MAX];      /* <pg_wal>/.backupd/pushed */
    struct push_job *jobs;
    size_t n_jobs;
    size_t next_job;
    pthread_mutex_t lock;
};

/* ---- a pass-through stage that counts bytes (compressed size of an upload) ---- */

struct count_sink {
    struct bk_sink base;
    uint64_t *count;
};

static int count_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    struct count_sink *cs = (struct count_sink *)sink;
    *cs->count += len;
    return bk_sink_write(sink->next, data, len, err);
}

static void count_free(struct bk_sink *sink) { free(sink); }

static const struct bk_sink_ops count_ops = { "count", count_write, NULL, NULL, count_free };

static int count_sink_new(struct bk_sink **out, uint64_t *count, struct bk_sink *next,
                          struct bk_error *err)
{
    struct count_sink *cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return bk_error_set(err, BK_ENOMEM, "wal_push", NULL, "out of memory");
    cs->base.ops = &count_ops;
    cs->base.next = next;
    cs->count = count;
    *out = &cs->base;
    return BK_OK;
}

/* ---- small file helpers ---- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* Directory part of path ("." when there is none). */
static void dir_name(const char *path, char *out, size_t out_cap)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(out, out_cap, ".");
    else if (slash == path)
        snprintf(out, out_cap, "/");
    else
        snprintf(out, out_cap, "%.*s", (int)(slash - path), path);
}

static int64_t stat_mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

/* Streams the open file from offset 0 into sink (not finished here). */
static int file_stream(int fd, const char *path, uint8_t *buf, struct bk_sink *sink, uint64_t *bytes,
                       struct bk_error *err)
{
    *bytes = 0;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return bk_error_set_errno(err, errno, "wal_push_read", path, "cannot seek \"%s\"", path);
    for (;;) {
        ssize_t n = read(fd, buf, PUSH_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bk_error_set_errno(err, errno, "wal_push_read", path, "cannot read \"%s\"", path);
        if (n == 0)
            return BK_OK;
        *bytes += (uint64_t)n;
        int rc = bk_sink_write(sink, buf, (size_t)n, err);
        if (rc != BK_OK)
            return rc;
    }
}

/* ---- markers: <pg_wal>/.backupd/pushed/<name> ---- */

/* Writes the marker with temp + rename so a reader never sees half of one. No fsync: a marker
 * lost in a crash only costs one more existence check on the next call. */
static int marker_write(const struct push_ctx *ctx, const struct push_job *job, const struct stat *sb,
                        const char *sha256_hex, struct bk_error *err)
{
    char path[PATH_MAX];
    char tmp[PATH_MAX];
    char text[MARKER_CAP];
    int fd = -1;
    int rc = BK_OK;
    int len = snprintf(text, sizeof(text), "size %" PRIu64 "\nmtime_ns %" PRId64 "\nino %" PRIu64
                       "\nsha256 %s\nkey %s\n", (uint64_t)sb->st_size, stat_mtime_ns(sb),
                       (uint64_t)sb->st_ino, sha256_hex, job->res.key);
    snprintf(path, sizeof(path), "%s/%s", ctx->marker_dir, job->name);
    snprintf(tmp, sizeof(tmp), "%s/" MARKER_TMP_PREFIX "%s-%d-%lu", ctx->marker_dir, job->name,
             (int)getpid(), (unsigned long)pthread_self());
    if ((rc = bk_mkdir_p(ctx->marker_dir, 0700, "wal_push_mkdir", err)) != BK_OK)
        return rc;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return bk_error_set_errno(err, errno, "wal_push_marker", tmp, "cannot create \"%s\"", tmp);
    if (write(fd, text, (size_t)len) != len) {
        rc = bk_error_set_errno(err, errno, "wal_push_marker", tmp, "cannot write \"%s\"", tmp);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = bk_error_set_errno(err, errno, "wal_push_marker", tmp, "cannot write \"%s\"", tmp);
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        rc = bk_error_set_errno(err, errno, "wal_push_marker", path, "cannot rename into \"%s\"", path);
out:
    if (fd >= 0)
        close(fd);
    if (rc != BK_OK)
        unlink(tmp);
    return rc;
}

/* True when a marker for name exists and describes the file as it is now (size, mtime to the
 * nanosecond, inode). A WAL file is never rewritten in place under the same name while it
 * waits for archiving; a recycled segment gets a new name and a new mtime. */
static bool marker_matches(const char *marker_dir, const char *name, const struct stat *sb)
{
    char path[PATH_MAX];
    char text[MARKER_CAP];
    unsigned long long size, ino;
    long long mtime_ns;
    ssize_t n;
    int fd;
    snprintf(path, sizeof(path), "%s/%s", marker_dir, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return false;
    text[n] = '\0';
    if (sscanf(text, "size %llu\nmtime_ns %lld\nino %llu\n", &size, &mtime_ns, &ino) != 3)
        return false;
    return size == (unsigned long long)sb->st_size && mtime_ns == (long long)stat_mtime_ns(sb) &&
           ino == (unsigned long long)sb->st_ino;
}

/* Removes markers whose WAL file is gone (archived and recycled) and old temp files. */
static void marker_prune(const char *marker_dir, const char *pg_wal)
{
    DIR *dir = opendir(marker_dir);
    struct dirent *de;
    int64_t now_s = bk_time_now_us() / 1000000;
    if (dir == NULL)
        return;
    while ((de = readdir(dir)) != NULL) {
        char path[PATH_MAX];
        struct stat sb;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", marker_dir, de->d_name);
        if (bk_str_starts_with(de->d_name, MARKER_TMP_PREFIX)) {
            if (stat(path, &sb) == 0 && now_s - sb.st_mtim.tv_sec > MARKER_TMP_MAX_AGE_S)
                unlink(path);
            continue;
        }
        char wal[PATH_MAX];
        snprintf(wal, sizeof(wal), "%s/%s", pg_wal, de->d_name);
        if (stat(wal, &sb) != 0 && errno == ENOENT)
            unlink(path);
    }
    closedir(dir);
}

/* ---- one file ---- */

/* Looks for wal_005/<name> under the configured extension first, then every other extension
 * wal-fetch tries. BK_OK with found=false when there is none. */
static int push_find_existing(struct storage *st, const char *name, enum codec_id preferred,
                              char *key, size_t key_cap, enum codec_id *codec, bool *found,
                              struct bk_error *err)
{
    enum codec_id order[CODEC_COUNT + 1];
    unsigned n = 0;
    order[n++] = preferred;
    for (unsigned i = 0; i < codec_fetch_order_len; i++)
        if (codec_fetch_order[i] != preferred)
            order[n++] = codec_fetch_order[i];
    *found = false;
    for (unsigned i = 0; i < n; i++) {
        struct storage_stat info;
        int rc = walg_key_wal(key, key_cap, name, codec_get(order[i])->ext, err);
        if (rc != BK_OK)
            return rc;
        rc = storage_stat(st, key, &info, err);
        if (rc == BK_ENOTFOUND) {
            bk_error_clear(err);
            continue;
        }
        if (rc != BK_OK)
            return rc;
        *codec = order[i];
        *found = true;
        return BK_OK;
    }
    key[0] = '\0';
    return BK_OK;
}

/* SHA-256 of the local file and of the stored object after decompression; BK_ECONFLICT when
 * they differ. */
static int push_compare_existing(struct storage *st, const char *name, const char *key,
                                 enum codec_id codec, int fd, const char *path, uint8_t *buf,
                                 char *local_sha_out, struct bk_error *err)
{
    struct bk_sink_digest_result local = { 0, "" };
    struct bk_sink_digest_result remote = { 0, "" };
    struct bk_sink *local_sink = NULL;
    struct bk_sink *remote_digest = NULL;
    struct bk_sink *remote_head = NULL;
    uint64_t bytes = 0;
    int rc;
    if ((rc = bk_sink_digest_new(&local_sink, NULL, &local, err)) != BK_OK)
        goto out;
    if ((rc = file_stream(fd, path, buf, local_sink, &bytes, err)) != BK_OK ||
        (rc = bk_sink_finish(local_sink, err)) != BK_OK)
        goto out;
    if ((rc = bk_sink_digest_new(&remote_digest, NULL, &remote, err)) != BK_OK)
        goto out;
    if ((rc = codec_decompress_new(&remote_head, codec, remote_digest, err)) != BK_OK)
        goto out;
    remote_digest = NULL;   /* owned by the chain now */
    if ((rc = storage_get(st, key, 0, 0, remote_head, err)) != BK_OK ||
        (rc = bk_sink_finish(remote_head, err)) != BK_OK) {
        bk_error_wrap(err, "reading the stored copy to compare");
        goto out;
    }
    snprintf(local_sha_out, 65, "%s", local.sha256_hex);
    if (local.bytes != remote.bytes || strcmp(local.sha256_hex, remote.sha256_hex) != 0) {
        rc = bk_error_set(err, BK_ECONFLICT, "wal_push", key,
                          WALG_WAL_DIR "%s already exists with different content; refusing to overwrite",
                          name);
        bk_error_set_hint(err, "stored: %" PRIu64 " bytes sha256 %.16s..., local: %" PRIu64
                          " bytes sha256 %.16s...; two clusters may share this storage prefix",
                          remote.bytes, remote.sha256_hex, local.bytes, local.sha256_hex);
    }
out:
    bk_sink_free(local_sink);
    bk_sink_free(remote_digest);
    bk_sink_free(remote_head);
    return rc;
}

/* Compresses and uploads the open file; when sha_out is given also hashes the raw bytes. */
static int push_upload(struct storage *st, const struct wal_push_opts *opts, const char *key, int fd,
                       const char *path, uint8_t *buf, char *sha_out, uint64_t *bytes,
                       uint64_t *stored, struct bk_error *err)
{
    struct codec_opts copts = CODEC_OPTS_INIT;
    struct bk_sink_digest_result digest = { 0, "" };
    struct bk_sink *head = NULL;     /* owns the whole chain built so far */
    struct bk_sink *stage = NULL;
    int rc;
    copts.level = opts->level;
    *stored = 0;
    if ((rc = storage_put_stream(&head, st, key, NULL, err)) != BK_OK)
        goto out;
    if ((rc = count_sink_new(&stage, stored, head, err)) != BK_OK)
        goto out;
    head = stage;
    if ((rc = codec_compress_new(&stage, opts->codec, &copts, head, err)) != BK_OK)
        goto out;
    head = stage;
    if (sha_out != NULL) {
        if ((rc = bk_sink_digest_new(&stage, head, &digest, err)) != BK_OK)
            goto out;
        head = stage;
    }
    rc = file_stream(fd, path, buf, head, bytes, err);
    if (rc == BK_OK)
        rc = bk_sink_finish(head, err);
    if (rc != BK_OK)
        bk_sink_abort(head);
    else if (sha_out != NULL)
        snprintf(sha_out, 65, "%s", digest.sha256_hex);
out:
    bk_sink_free(head);
    return rc;
}

static void push_one(struct push_ctx *ctx, struct push_job *job)
{
    const struct wal_push_opts *opts = ctx->opts;
    struct bk_error *err = &job->err;
    struct stat sb;
    char sha[65] = "";
    uint8_t *buf = NULL;
    enum codec_id found_codec = CODEC_NONE;
    bool found = false;
    int64_t start_ms = bk_time_mono_ms();
    int fd = open(job->path, O_RDONLY | O_CLOEXEC);
    int rc;
    if (fd < 0) {
        rc = bk_error_set_errno(err, errno, "wal_push", job->path, "cannot open \"%s\"", job->path);
        goto out;
    }
    if (fstat(fd, &sb) != 0) {
        rc = bk_error_set_errno(err, errno, "wal_push", job->path, "cannot stat \"%s\"", job->path);
        goto out;
    }
    job->res.bytes = (uint64_t)sb.st_size;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    buf = malloc(PUSH_CHUNK);
    if (buf == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "wal_push", job->name, "out of memory");
        goto out;
    }
    rc = push_find_existing(ctx->st, job->name, opts->codec, job->res.key, sizeof(job->res.key),
                            &found_codec, &found, err);
    if (rc != BK_OK)
        goto out;
    if (found) {
        rc = push_compare_existing(ctx->st, job->name, job->res.key, found_codec, fd, job->path, buf, sha, err);
        if (rc != BK_OK)
            goto out;
        job->res.outcome = WAL_PUSH_ALREADY_ARCHIVED;
    } else {
        rc = walg_key_wal(job->res.key, sizeof(job->res.key), job->name, codec_get(opts->codec)->ext, err);
        if (rc != BK_OK)
            goto out;
        rc = push_upload(ctx->st, opts, job->res.key, fd, job->path, buf,
                         job->background ? sha : NULL, &job->res.bytes, &job->res.stored_bytes, err);
        if (rc != BK_OK)
            goto out;
        job->res.outcome = WAL_PUSH_UPLOADED;
    }
    if (job->background) {
        struct bk_error merr = BK_ERROR_INIT;
        if (marker_write(ctx, job, &sb, sha, &merr) != BK_OK)
            bk_log_error(BK_LOG_WARN, "wal_push_marker", &merr);
    }
    job->res.elapsed_ms = bk_time_mono_ms() - start_ms;
    if (job->res.outcome == WAL_PUSH_ALREADY_ARCHIVED)
        bk_log(BK_LOG_INFO, "wal_push", "%s already archived as %s with identical content (%" PRIu64
               " bytes, %" PRId64 " ms)%s", job->name, job->res.key, job->res.bytes,
               job->res.elapsed_ms, job->background ? " [background]" : "");
    else
        bk_log(BK_LOG_INFO, "wal_push", "pushed %s to %s (%" PRIu64 " bytes, %" PRIu64
               " stored, %" PRId64 " ms)%s", job->name, job->res.key, job->res.bytes,
               job->res.stored_bytes, job->res.elapsed_ms, job->background ? " [background]" : "");
out:
    if (rc != BK_OK && err->object[0] == '\0')
        snprintf(err->object, sizeof(err->object), "%s", job->name);
    job->rc = rc;
    free(buf);
    if (fd >= 0)
        close(fd);
}

/* ---- background candidates: other .ready files of the same pg_wal ---- */

/* History files first (PostgreSQL archives them first too), then by name = oldest first. */
static int job_order(const void *a, const void *b)
{
    const struct push_job *x = a, *y = b;
    bool hx = bk_str_ends_with(x->name, ".history"), hy = bk_str_ends_with(y->name, ".history");
    if (hx != hy)
        return hx ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int push_collect_ready(struct push_ctx *ctx, const char *pg_wal, const char *main_name,
                              struct bk_error *err)
{
    char status[PATH_MAX];
    DIR *dir;
    struct dirent *de;
    size_t cap = 1;
    size_t n = 1;
    int rc = BK_OK;
    snprintf(status, sizeof(status), "%s/archive_status", pg_wal);
    dir = opendir(status);
    if (dir == NULL)
        return BK_OK;   /* not a pg_wal: nothing else to push */
    while ((de = readdir(dir)) != NULL) {
        char name[PUSH_NAME_CAP];
        enum walg_wal_kind kind;
        struct bk_error ignored = BK_ERROR_INIT;
        struct stat sb;
        size_t len = strlen(de->d_name);
        if (len <= 6 || len - 6 >= sizeof(name) || !bk_str_ends_with(de->d_name, ".ready"))
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)(len - 6), de->d_name);
        if (strcmp(name, main_name) == 0 || walg_wal_name_check(name, &kind, &ignored) != BK_OK)
            continue;
        if (n == cap) {
            size_t grown_cap = cap * 2 + 16;
            struct push_job *grown = realloc(ctx->jobs, grown_cap * sizeof(*grown));
            if (grown == NULL) {
                rc = bk_error_set(err, BK_ENOMEM, "wal_push", status, "out of memory");
                break;
            }
            ctx->jobs = grown;
            cap = grown_cap;
        }
        struct push_job *job = &ctx->jobs[n];
        memset(job, 0, sizeof(*job));
        snprintf(job->name, sizeof(job->name), "%s", name);
        snprintf(job->path, sizeof(job->path), "%s/%s", pg_wal, name);
        job->background = true;
        if (stat(job->path, &sb) != 0 || marker_matches(ctx->marker_dir, name, &sb))
            continue;   /* gone, or already pushed by an earlier call */
        n++;
    }
    closedir(dir);
    if (n > 1)
        qsort(ctx->jobs + 1, n - 1, sizeof(*ctx->jobs), job_order);
    ctx->n_jobs = n - 1 > ctx->opts->max_background ? ctx->opts->max_background + 1 : n;
    return rc;
}

static void *push_worker(void *arg)
{
    struct push_ctx *ctx = arg;
    for (;;) {
        struct push_job *job = NULL;
        pthread_mutex_lock(&ctx->lock);
        if (ctx->next_job < ctx->n_jobs)
            job = &ctx->jobs[ctx->next_job++];
        pthread_mutex_unlock(&ctx->lock);
        if (job == NULL)
            return NULL;
        push_one(ctx, job);
        if (job->background && job->rc != BK_OK)
            bk_log_error(BK_LOG_WARN, "wal_push_background", &job->err);
    }
}

/* Runs every job on up to opts->concurrency threads (the caller's thread is one of them). */
static void push_run_jobs(struct push_ctx *ctx)
{
    pthread_t threads[64];
    unsigned n_threads = 0;
    unsigned want = ctx->opts->concurrency > 64 ? 64 : ctx->opts->concurrency;
    if (want > ctx->n_jobs)
        want = (unsigned)ctx->n_jobs;
    ctx->next_job = 1;   /* jobs[0] (the requested file) runs first, on this thread */
    for (unsigned i = 1; i < want; i++)
        if (pthread_create(&threads[n_threads], NULL, push_worker, ctx) == 0)
            n_threads++;
    push_one(ctx, &ctx->jobs[0]);
    push_worker(ctx);
    for (unsigned i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
}

int wal_push_file(struct storage *st, const char *path, const struct wal_push_opts *opts,
                  struct wal_push_result *out, struct bk_error *err)
{
    static const struct wal_push_opts default_opts = WAL_PUSH_OPTS_INIT;
    struct push_ctx ctx;
    struct stat sb;
    char pg_wal[PATH_MAX];
    const char *name = base_name(path);
    enum walg_wal_kind kind;
    int64_t start_ms = bk_time_mono_ms();
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    if (opts == NULL)
        opts = &default_opts;
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if ((rc = walg_wal_name_check(name, &kind, err)) != BK_OK)
        return rc;
    if (!codec_get(opts->codec)->can_compress)
        return bk_error_set(err, BK_EUNSUPPORTED, "wal_push", codec_get(opts->codec)->name,
                            "%s compression is not supported; it is read-only", codec_get(opts->codec)->name);
    dir_name(path, pg_wal, sizeof(pg_wal));
    ctx.st = st;
    ctx.opts = opts;
    snprintf(ctx.marker_dir, sizeof(ctx.marker_dir), "%s/" WAL_PUSH_MARKER_DIR, pg_wal);
    if (stat(path, &sb) != 0)
        return bk_error_set_errno(err, errno, "wal_push", path, "cannot stat \"%s\"", path);

    /* pushed earlier in the background: one stat and one small read, then done */
    if (marker_matches(ctx.marker_dir, name, &sb)) {
        char marker[PATH_MAX];
        snprintf(marker, sizeof(marker), "%s/%s", ctx.marker_dir, name);
        unlink(marker);   /* single use: PostgreSQL marks the file .done after this call */
        if (out != NULL) {
            out->outcome = WAL_PUSH_FROM_MARKER;
            out->bytes = (uint64_t)sb.st_size;
            out->elapsed_ms = bk_time_mono_ms() - start_ms;
        }
        bk_log(BK_LOG_INFO, "wal_push", "%s already archived by an earlier background push (%" PRIu64
               " bytes, %" PRId64 " ms)", name, (uint64_t)sb.st_size, bk_time_mono_ms() - start_ms);
        return BK_OK;
    }

    ctx.jobs = calloc(1, sizeof(*ctx.jobs));
    if (ctx.jobs == NULL)
        return bk_error_set(err, BK_ENOMEM, "wal_push", name, "out of memory");
    snprintf(ctx.jobs[0].name, sizeof(ctx.jobs[0].name), "%s", name);
    snprintf(ctx.jobs[0].path, sizeof(ctx.jobs[0].path), "%s", path);
    ctx.n_jobs = 1;
    if (opts->concurrency > 1 && opts->max_background > 0) {
        marker_prune(ctx.marker_dir, pg_wal);
        if ((rc = push_collect_ready(&ctx, pg_wal, name, err)) != BK_OK)
            goto out;
    }
    if (pthread_mutex_init(&ctx.lock, NULL) != 0) {
        rc = bk_error_set(err, BK_EINTERNAL, "wal_push", name, "cannot create a mutex");
        goto out;
    }
    push_run_jobs(&ctx);
    pthread_mutex_destroy(&ctx.lock);

    rc = ctx.jobs[0].rc;
    if (rc != BK_OK)
        *err = ctx.jobs[0].err;
    if (out != NULL) {
        *out = ctx.jobs[0].res;
        for (size_t i = 1; i < ctx.n_jobs; i++) {
            if (ctx.jobs[i].rc == BK_OK)
                out->background_pushed++;
            else
                out->background_failed++;
        }
        out->elapsed_ms = bk_time_mono_ms() - start_ms;
    }
out:
    free(ctx.jobs);
    return rc;
}

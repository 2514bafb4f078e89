/*
 * WAL prefetch: a detached process (fork, setsid) downloads the segments after the one
 * just fetched into <pg_wal>/.backupd/prefetch/, so recovery does not wait on the network for
 * each segment. One O_EXCL lock file per segment keeps concurrent prefetchers (one is started
 * per restore_command call) from downloading the same segment twice.
 */
#include "wal_fetch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bk_fs.h"
#include "bk_log.h"
#include "bk_str.h"
#include "bk_time.h"
#include "storage.h"
#include "wal_fetch_internal.h"

#define PREFETCH_MAX_THREADS 4
#define PREFETCH_LOG_NAME "prefetch.log"
#define PREFETCH_LOG_MAX_BYTES (1024 * 1024)

struct prefetch_ctx {
    struct storage *st;
    const struct wal_fetch_opts *opts;
    const char *state_dir;
    char cache_dir[PATH_MAX];
    char names[WAL_FETCH_MAX_PREFETCH][25];
    unsigned n_names;
    unsigned next;
    unsigned stop_at;        /* first index found missing: later ones are not tried */
    pthread_mutex_t lock;
    struct wal_prefetch_result res;
};

bool wal_prefetch_lock_busy(const char *lock_path)
{
    char text[32] = "";
    struct stat sb;
    long pid;
    ssize_t n;
    int fd = open(lock_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = fstat(fd, &sb) == 0 ? read(fd, text, sizeof(text) - 1) : -1;
    close(fd);
    if (n < 0)
        return false;
    if (time(NULL) - sb.st_mtim.tv_sec > WAL_PREFETCH_LOCK_STALE_S)
        return false;
    text[n] = '\0';
    pid = strtol(text, NULL, 10);
    if (n == 0 || pid <= 0)
        return time(NULL) - sb.st_mtim.tv_sec < 2;   /* being written right now */
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Creates the lock with O_EXCL; takes over a stale one once. */
static bool lock_take(const char *lock_path)
{
    for (int tries = 0; tries < 2; tries++) {
        int fd = open(lock_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            char text[32];
            int len = snprintf(text, sizeof(text), "%d\n", (int)getpid());
            bool ok = write(fd, text, (size_t)len) == len;
            close(fd);
            if (!ok)
                unlink(lock_path);
            return ok;
        }
        if (errno != EEXIST || wal_prefetch_lock_busy(lock_path))
            return false;
        unlink(lock_path);   /* holder died or hung: take it over */
    }
    return false;
}

/* Deletes cached segments that sort before `name` (recovery has passed them) and old temps. */
static void cache_prune(const char *cache_dir, const char *name)
{
    DIR *dir = opendir(cache_dir);
    struct dirent *de;
    time_t now = time(NULL);
    if (dir == NULL)
        return;
    while ((de = readdir(dir)) != NULL) {
        char path[PATH_MAX];
        struct stat sb;
        enum walg_wal_kind kind;
        struct bk_error ignored = BK_ERROR_INIT;
        snprintf(path, sizeof(path), "%s/%s", cache_dir, de->d_name);
        if (strstr(de->d_name, WAL_FETCH_TMP_MARK) != NULL) {
            if (stat(path, &sb) == 0 && now - sb.st_mtim.tv_sec > WAL_PREFETCH_LOCK_STALE_S)
                unlink(path);
            continue;
        }
        if (walg_wal_name_check(de->d_name, &kind, &ignored) != BK_OK || kind != WALG_WAL_SEGMENT)
            continue;
        /* compare the log/segment part: older segments of any timeline are no longer needed */
        if (strcmp(de->d_name + 8, name + 8) <= 0)
            unlink(path);
    }
    closedir(dir);
}

static void prefetch_one(struct prefetch_ctx *ctx, unsigned idx)
{
    const char *name = ctx->names[idx];
    char cached[PATH_MAX];
    char lock[PATH_MAX];
    struct wal_fetch_result res;
    struct bk_error err = BK_ERROR_INIT;
    int64_t start_ms = bk_time_mono_ms();
    int rc;
    snprintf(cached, sizeof(cached), "%s/%s", ctx->cache_dir, name);
    snprintf(lock, sizeof(lock), "%s/" WAL_PREFETCH_LOCK_SUBDIR "/%s", ctx->cache_dir, name);
    memset(&res, 0, sizeof(res));
    if (access(cached, F_OK) == 0 || !lock_take(lock)) {
        pthread_mutex_lock(&ctx->lock);
        ctx->res.present++;
        pthread_mutex_unlock(&ctx->lock);
        return;
    }
    if (access(cached, F_OK) == 0)   /* finished by another process between the checks */
        rc = BK_EEXISTS;
    else
        rc = wal_fetch_to_path(ctx->st, name, WALG_WAL_SEGMENT, cached, ctx->opts, start_ms,
                               ctx->state_dir, &res, &err);
    unlink(lock);
    pthread_mutex_lock(&ctx->lock);
    if (rc == BK_OK) {
        ctx->res.fetched++;
        bk_log_debug("wal_prefetch", "prefetched %s (%llu bytes, %lld ms)", name,
                     (unsigned long long)res.bytes, (long long)(bk_time_mono_ms() - start_ms));
    } else if (rc == BK_EEXISTS) {
        ctx->res.present++;
    } else if (rc == BK_ENOTFOUND) {
        ctx->res.missing++;
        if (idx < ctx->stop_at)
            ctx->stop_at = idx;
    } else {
        ctx->res.failed++;
        bk_log_error(BK_LOG_WARN, "wal_prefetch", &err);
    }
    pthread_mutex_unlock(&ctx->lock);
}

static void *prefetch_worker(void *arg)
{
    struct prefetch_ctx *ctx = arg;
    for (;;) {
        unsigned idx;
        pthread_mutex_lock(&ctx->lock);
        idx = ctx->next < ctx->n_names && ctx->next < ctx->stop_at ? ctx->next++ : UINT32_MAX;
        pthread_mutex_unlock(&ctx->lock);
        if (idx == UINT32_MAX)
            return NULL;
        prefetch_one(ctx, idx);
    }
}

int wal_prefetch_run(struct storage *st, const char *name, const char *state_dir,
                     const struct wal_fetch_opts *opts, struct wal_prefetch_result *out,
                     struct bk_error *err)
{
    struct prefetch_ctx *ctx = NULL;
    pthread_t threads[PREFETCH_MAX_THREADS];
    unsigned n_threads = 0;
    char lock_dir[PATH_MAX];
    uint64_t seg_size = opts->seg_size != 0 ? opts->seg_size : WALG_DEFAULT_SEG_SIZE;
    int rc;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return bk_error_set(err, BK_ENOMEM, "wal_prefetch", name, "out of memory");
    ctx->st = st;
    ctx->opts = opts;
    ctx->state_dir = state_dir;
    ctx->stop_at = UINT32_MAX;
    snprintf(ctx->cache_dir, sizeof(ctx->cache_dir), "%s/" WAL_FETCH_PREFETCH_SUBDIR, state_dir);
    snprintf(lock_dir, sizeof(lock_dir), "%s/" WAL_PREFETCH_LOCK_SUBDIR, ctx->cache_dir);
    if ((rc = bk_mkdir_p(lock_dir, 0700, "wal_fetch_mkdir", err)) != BK_OK)
        goto out;
    {
        const char *prev = name;
        unsigned want = opts->prefetch > WAL_FETCH_MAX_PREFETCH ? WAL_FETCH_MAX_PREFETCH : opts->prefetch;
        for (ctx->n_names = 0; ctx->n_names < want; ctx->n_names++) {
            if ((rc = walg_wal_name_next(prev, seg_size, ctx->names[ctx->n_names], err)) != BK_OK)
                goto out;
            prev = ctx->names[ctx->n_names];
        }
    }
    cache_prune(ctx->cache_dir, name);
    cache_prune(state_dir, name);   /* only old temp files there: no segment is kept in it */
    if (pthread_mutex_init(&ctx->lock, NULL) != 0) {
        rc = bk_error_set(err, BK_EINTERNAL, "wal_prefetch", name, "cannot create a mutex");
        goto out;
    }
    for (unsigned i = 1; i < PREFETCH_MAX_THREADS && i < ctx->n_names; i++)
        if (pthread_create(&threads[n_threads], NULL, prefetch_worker, ctx) == 0)
            n_threads++;
    prefetch_worker(ctx);
    for (unsigned i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&ctx->lock);
    if (out != NULL)
        *out = ctx->res;
    rc = BK_OK;
out:
    free(ctx);
    return rc;
}

/* ---- the detached process ---- */

/* stdin/stdout to /dev/null (a caller reading our output must not wait for the prefetch),
 * stderr appended to <state>/prefetch.log (restarted past 1 MiB), every other fd closed. */
static void child_redirect(const char *state_dir)
{
    char log_path[PATH_MAX];
    struct stat sb;
    int null_fd = open("/dev/null", O_RDWR);
    int log_fd;
    int flags = O_WRONLY | O_CREAT | O_APPEND;
    snprintf(log_path, sizeof(log_path), "%s/" PREFETCH_LOG_NAME, state_dir);
    if (stat(log_path, &sb) == 0 && sb.st_size > PREFETCH_LOG_MAX_BYTES)
        flags |= O_TRUNC;
    log_fd = open(log_path, flags, 0600);
    if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
        dup2(null_fd, STDOUT_FILENO);
    }
    dup2(log_fd >= 0 ? log_fd : null_fd, STDERR_FILENO);
    closefrom(3);
}

pid_t wal_prefetch_spawn(const char *name, const char *state_dir, const struct wal_fetch_opts *opts)
{
    struct bk_error err = BK_ERROR_INIT;
    pid_t pid;
    if (bk_mkdir_p(state_dir, 0700, "wal_fetch_mkdir", &err) != BK_OK) {
        bk_log_error(BK_LOG_WARN, "wal_prefetch", &err);
        return 0;
    }
    fflush(stdout);
    fflush(stderr);
    /* One fork, not two: restore_command waits for us, and the parent must not wait for an
     * intermediate process to be scheduled (that cost milliseconds on a busy host). The child
     * is ours until we exit; backupctl exits right away and init adopts it. */
    pid = fork();
    if (pid < 0) {
        bk_log(BK_LOG_WARN, "wal_prefetch", "cannot start the prefetch process: %s", strerror(errno));
        return 0;
    }
    if (pid > 0)
        return pid;
    /* the prefetch process: a new session, out of the restore_command's process group, so a
     * `timeout` wrapper that signals the group does not kill it. It never returns into the
     * caller's stack (it is a copy of it): it ends with _exit. */
    {
        struct storage *st = NULL;
        struct wal_prefetch_result res;
        int rc;
        (void)setsid();
        child_redirect(state_dir);
        rc = storage_open(&st, opts->prefetch_storage, &err);
        if (rc == BK_OK)
            rc = wal_prefetch_run(st, name, state_dir, opts, &res, &err);
        if (rc != BK_OK)
            bk_log_error(BK_LOG_WARN, "wal_prefetch", &err);
        else
            bk_log_debug("wal_prefetch", "after %s: %u fetched, %u present, %u missing, %u failed",
                         name, res.fetched, res.present, res.missing, res.failed);
        storage_close(st);
        _exit(rc == BK_OK ? 0 : 1);
    }
}

/*
 * wal-fetch: storage get -> (count) -> codec decompress -> size/header check -> temp file beside
 * the destination -> fsync -> rename. Extensions are tried in WAL-G's order, only "not found"
 * moves on to the next one: any other error stops the fetch, so an unreachable store is never
 * mistaken for "not archived". Segments are taken from the prefetch cache when present.
 */
#include "wal_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bk_fs.h"
#include "bk_log.h"
#include "bk_sink.h"
#include "bk_time.h"
#include "codec.h"
#include "wal_fetch_internal.h"

#define FETCH_MEMO_NAME "fetch_ext"        /* <state dir>/fetch_ext: extension that worked last */
#define FETCH_NONSEG_MAX ((uint64_t)64 * 1024 * 1024)
#define CACHE_POLL_US 5000

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

int wal_segment_header_check(const uint8_t *header, size_t len, const char *name,
                             uint64_t seg_size, const char *what, struct bk_error *err)
{
    char seg_name[25];
    uint32_t name_tli, magic, info, tli, hdr_seg_size;
    uint64_t segno, pageaddr;
    int rc;
    snprintf(seg_name, sizeof(seg_name), "%.24s", name);
    if ((rc = walg_wal_name_parse(seg_name, seg_size, &name_tli, &segno, err)) != BK_OK)
        return rc;
    if (len < WAL_LONG_HEADER_LEN)
        return bk_error_set(err, BK_ECORRUPT, "wal_fetch_check", what,
                            "%s is too short for a WAL page header (%zu bytes)", what, len);
    magic = le16(header);
    info = le16(header + 2);
    tli = le32(header + 4);
    pageaddr = le64(header + 8);
    hdr_seg_size = le32(header + 32);
    if (magic == 0 || (info & WAL_XLP_LONG_HEADER) == 0)
        return bk_error_set(err, BK_ECORRUPT, "wal_fetch_check", what,
                            "%s does not start with a WAL segment header (magic 0x%04X, info 0x%04X)",
                            what, magic, info);
    if (tli == 0 || tli > name_tli)
        return bk_error_set(err, BK_ECORRUPT, "wal_fetch_check", what,
                            "%s has page timeline %" PRIu32 ", which does not fit timeline %" PRIu32
                            " of its name", what, tli, name_tli);
    if (pageaddr != walg_segno_to_lsn(segno, seg_size))
        return bk_error_set(err, BK_ECORRUPT, "wal_fetch_check", what,
                            "%s has page address %X/%X, expected %X/%X for its name", what,
                            (unsigned)(pageaddr >> 32), (unsigned)pageaddr,
                            (unsigned)(walg_segno_to_lsn(segno, seg_size) >> 32),
                            (unsigned)walg_segno_to_lsn(segno, seg_size));
    if (hdr_seg_size != seg_size)
        return bk_error_set(err, BK_ECORRUPT, "wal_fetch_check", what,
                            "%s was written with %" PRIu32 "-byte segments, expected %" PRIu64
                            " (BACKUP_WAL_SEGMENT_SIZE)", what, hdr_seg_size, seg_size);
    return BK_OK;
}

void wal_fetch_state_dir(const char *dest, char *out, size_t out_cap)
{
    const char *slash = strrchr(dest, '/');
    if (slash == NULL)
        snprintf(out, out_cap, WAL_FETCH_STATE_DIR);
    else
        snprintf(out, out_cap, "%.*s/" WAL_FETCH_STATE_DIR, (int)(slash - dest), dest);
}

int wal_fetch_check_file(const char *path, const char *name, uint64_t seg_size,
                         struct bk_error *err)
{
    uint8_t header[WAL_LONG_HEADER_LEN];
    struct stat sb;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bk_error_set_errno(err, errno, "wal_fetch_check", path, "cannot open \"%s\"", path);
    if (fstat(fd, &sb) != 0 || (n = pread(fd, header, sizeof(header), 0)) < 0) {
        int saved = errno;
        close(fd);
        return bk_error_set_errno(err, saved, "wal_fetch_check", path, "cannot read \"%s\"", path);
    }
    close(fd);
    if ((uint64_t)sb.st_size != seg_size)
        return bk_error_set(err, BK_ECORRUPT, "wal_fetch_check", path, "\"%s\" holds %lld bytes, expected %"
                            PRIu64, path, (long long)sb.st_size, seg_size);
    return wal_segment_header_check(header, (size_t)n, name, seg_size, path, err);
}

/* ---- stages: byte counter (stored size) and WAL checker (size cap, first bytes kept) ---- */

struct count_sink {
    struct bk_sink base;
    uint64_t *count;
};

static int count_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    *((struct count_sink *)sink)->count += len;
    return bk_sink_write(sink->next, data, len, err);
}

struct check_sink {
    struct bk_sink base;
    const char *key;
    uint64_t max_bytes;
    uint64_t bytes;
    uint8_t head[WAL_LONG_HEADER_LEN];
};

static int check_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    struct check_sink *cs = (struct check_sink *)sink;
    if (len > cs->max_bytes - cs->bytes)
        return bk_error_set(err, BK_ECORRUPT, "wal_fetch", cs->key,
                            "\"%s\" decompresses to more than %" PRIu64 " bytes", cs->key, cs->max_bytes);
    if (cs->bytes < sizeof(cs->head)) {
        size_t take = sizeof(cs->head) - (size_t)cs->bytes;
        memcpy(cs->head + cs->bytes, data, len < take ? len : take);
    }
    cs->bytes += len;
    return bk_sink_write(sink->next, data, len, err);
}

static void stage_free(struct bk_sink *sink) { free(sink); }

static const struct bk_sink_ops count_ops = { "count", count_write, NULL, NULL, stage_free };
static const struct bk_sink_ops check_ops = { "wal-check", check_write, NULL, NULL, stage_free };

/* ---- "extension that worked last" memo (WAL-G keeps ~/.walg_decompressor_cache) ---- */

static enum codec_id memo_read(const char *state_dir)
{
    char path[PATH_MAX];
    char text[16] = "";
    const struct codec_info *info;
    ssize_t n;
    int fd;
    snprintf(path, sizeof(path), "%s/" FETCH_MEMO_NAME, state_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CODEC_COUNT;
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return CODEC_COUNT;
    text[n] = '\0';
    text[strcspn(text, "\n")] = '\0';
    info = codec_by_name(text);
    return info != NULL ? info->id : CODEC_COUNT;
}

static void memo_write(const char *state_dir, enum codec_id id)
{
    char path[PATH_MAX];
    char tmp[PATH_MAX];
    struct bk_error ignored = BK_ERROR_INIT;
    const char *name = codec_get(id)->name;
    int fd;
    if (memo_read(state_dir) == id || bk_mkdir_p(state_dir, 0700, "wal_fetch_mkdir", &ignored) != BK_OK)
        return;
    snprintf(path, sizeof(path), "%s/" FETCH_MEMO_NAME, state_dir);
    snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (write(fd, name, strlen(name)) == (ssize_t)strlen(name) && close(fd) == 0) {
        if (rename(tmp, path) != 0)
            unlink(tmp);
        return;
    }
    close(fd);
    unlink(tmp);
}

/* ---- fetch from storage ---- */

/* A local file error. Never BK_ENOTFOUND (say, the destination directory is missing): that code
 * means "not archived" to the caller and to PostgreSQL. */
static int local_error(struct bk_error *err, int sys_errno, const char *path, const char *what)
{
    bk_error_set_errno(err, sys_errno, "wal_fetch", path, "cannot %s \"%s\"", what, path);
    if (err->code == BK_ENOTFOUND)
        err->code = BK_EIO;
    return err->code;
}

/* One extension: get + decompress into fd (truncated first). BK_ENOTFOUND when absent. */
static int fetch_attempt(struct storage *st, const char *key, enum codec_id codec, int fd,
                         const char *tmp, struct check_sink *check_tpl, uint64_t *stored,
                         struct bk_error *err)
{
    struct bk_sink *head = NULL;     /* owns the whole chain built so far */
    struct bk_sink *stage = NULL;
    struct check_sink *check = NULL;
    struct count_sink *count = NULL;
    int rc;
    *stored = 0;
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
        return local_error(err, errno, tmp, "truncate");
    if ((rc = bk_sink_fd_new(&head, fd, tmp, err)) != BK_OK)
        goto out;
    check = calloc(1, sizeof(*check));
    if (check == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "wal_fetch", key, "out of memory");
        goto out;
    }
    *check = *check_tpl;
    check->base.ops = &check_ops;
    check->base.next = head;
    check->key = key;
    head = &check->base;
    if ((rc = codec_decompress_new(&stage, codec, head, err)) != BK_OK)
        goto out;
    head = stage;
    count = calloc(1, sizeof(*count));
    if (count == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "wal_fetch", key, "out of memory");
        goto out;
    }
    count->base.ops = &count_ops;
    count->base.next = head;
    count->count = stored;
    head = &count->base;
    rc = storage_get(st, key, 0, 0, head, err);
    if (rc == BK_OK)
        rc = bk_sink_finish(head, err);
    if (rc == BK_OK)
        *check_tpl = *check;   /* hand back bytes and the first page header */
    else if (rc != BK_ENOTFOUND)
        bk_sink_abort(head);
out:
    bk_sink_free(head);
    return rc;
}

static bool deadline_passed(const struct wal_fetch_opts *opts, int64_t start_ms)
{
    return opts->deadline_ms > 0 && bk_time_mono_ms() - start_ms >= opts->deadline_ms;
}

/* BK_ETIMEOUT naming the storage and the deadline; the storage's own timeout message, when
 * there is one in err, is kept after a colon. */
static int deadline_error(struct storage *st, const char *name, const struct wal_fetch_opts *opts,
                          int64_t start_ms, struct bk_error *err)
{
    char cause[sizeof(err->message)];
    snprintf(cause, sizeof(cause), "%s", err->code == BK_ETIMEOUT ? err->message : "");
    return bk_error_set(err, BK_ETIMEOUT, "wal_fetch", name,
                        "gave up fetching \"%s\" from %s after %" PRId64 " ms (deadline %ld ms)%s%s",
                        name, storage_describe(st), bk_time_mono_ms() - start_ms, opts->deadline_ms,
                        cause[0] != '\0' ? ": " : "", cause);
}

int wal_fetch_to_path(struct storage *st, const char *name, enum walg_wal_kind kind,
                      const char *path, const struct wal_fetch_opts *opts, int64_t start_ms,
                      const char *state_dir, struct wal_fetch_result *res, struct bk_error *err)
{
    enum codec_id order[CODEC_COUNT + 1];
    enum codec_id memo = state_dir != NULL ? memo_read(state_dir) : CODEC_COUNT;
    bool is_segment = kind == WALG_WAL_SEGMENT || kind == WALG_WAL_PARTIAL;
    char tmp[PATH_MAX];
    char key[WALG_KEY_CAP] = "";
    unsigned n = 0;
    int fd = -1;
    int rc = BK_ENOTFOUND;

    if (memo < CODEC_COUNT)
        order[n++] = memo;
    for (unsigned i = 0; i < codec_fetch_order_len; i++)
        if (codec_fetch_order[i] != memo)
            order[n++] = codec_fetch_order[i];
    /* the temp file lives in the state dir (a subdirectory of the destination's directory, so
     * the rename stays on one filesystem): one killed by a `timeout` wrapper is pruned there
     * later instead of lingering in pg_wal */
    if (state_dir != NULL && (mkdir(state_dir, 0700) == 0 || errno == EEXIST)) {
        const char *base = strrchr(path, '/');
        snprintf(tmp, sizeof(tmp), "%s/%s" WAL_FETCH_TMP_MARK "XXXXXX", state_dir,
                 base != NULL ? base + 1 : path);
    } else {
        snprintf(tmp, sizeof(tmp), "%s" WAL_FETCH_TMP_MARK "XXXXXX", path);
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = local_error(err, errno, path, "create a temp file beside");
        tmp[0] = '\0';
        goto out;
    }
    for (unsigned i = 0; i < n; i++) {
        struct check_sink check;
        uint64_t stored = 0;
        memset(&check, 0, sizeof(check));
        check.max_bytes = is_segment ? opts->seg_size : FETCH_NONSEG_MAX;
        if (deadline_passed(opts, start_ms)) {
            bk_error_clear(err);
            rc = deadline_error(st, name, opts, start_ms, err);
            goto out;
        }
        if ((rc = walg_key_wal(key, sizeof(key), name, codec_get(order[i])->ext, err)) != BK_OK)
            goto out;
        rc = fetch_attempt(st, key, order[i], fd, tmp, &check, &stored, err);
        if (rc == BK_ENOTFOUND) {
            bk_error_clear(err);
            continue;
        }
        if (rc != BK_OK) {
            char context[PATH_MAX];
            if (rc == BK_ETIMEOUT && opts->deadline_ms > 0) {
                rc = deadline_error(st, name, opts, start_ms, err);
                goto out;
            }
            snprintf(context, sizeof(context), "fetching \"%s\" from %s", name, storage_describe(st));
            bk_error_wrap(err, context);
            goto out;
        }
        if (is_segment && check.bytes != opts->seg_size) {
            rc = bk_error_set(err, BK_ECORRUPT, "wal_fetch", key, "\"%s\" decompressed to %" PRIu64
                              " bytes, expected a %" PRIu64 "-byte segment", key, check.bytes, opts->seg_size);
            goto out;
        }
        if (is_segment && (rc = wal_segment_header_check(check.head, sizeof(check.head), name,
                                                         opts->seg_size, key, err)) != BK_OK)
            goto out;
        if (fsync(fd) != 0) {
            rc = local_error(err, errno, tmp, "fsync");
            goto out;
        }
        if (close(fd) != 0) {
            fd = -1;
            rc = local_error(err, errno, tmp, "write");
            goto out;
        }
        fd = -1;
        if (rename(tmp, path) != 0) {
            rc = local_error(err, errno, path, "rename into");
            goto out;
        }
        tmp[0] = '\0';
        res->bytes = check.bytes;
        res->stored_bytes = stored;
        snprintf(res->key, sizeof(res->key), "%s", key);
        if (state_dir != NULL && order[i] != memo)
            memo_write(state_dir, order[i]);
        rc = BK_OK;
        goto out;
    }
    rc = bk_error_set(err, BK_ENOTFOUND, "wal_fetch", name,
                      "\"%s\" is not in the archive (no " WALG_WAL_DIR "%s[.lz4|.lzma|.br|.lzo|.zst] in %s)",
                      name, name, storage_describe(st));
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0] != '\0')
        unlink(tmp);
    return rc;
}

/* ---- prefetch cache ---- */

/* Moves <state>/prefetch/<name> to dest when it is there and sound. Waits while a live prefetch
 * of this very segment runs (bounded by the deadline). BK_ENOTFOUND = fetch it yourself. */
static int cache_take(const char *state_dir, const char *name, const char *dest,
                      const struct wal_fetch_opts *opts, int64_t start_ms)
{
    char cached[PATH_MAX];
    char lock[PATH_MAX];
    long wait_ms = opts->deadline_ms > 0 ? opts->deadline_ms : WAL_FETCH_DEFAULT_DEADLINE_MS;
    snprintf(cached, sizeof(cached), "%s/" WAL_FETCH_PREFETCH_SUBDIR "/%s", state_dir, name);
    snprintf(lock, sizeof(lock), "%s/" WAL_FETCH_PREFETCH_SUBDIR "/" WAL_PREFETCH_LOCK_SUBDIR "/%s",
             state_dir, name);
    for (;;) {
        if (access(cached, F_OK) == 0) {
            struct bk_error cerr = BK_ERROR_INIT;
            if (wal_fetch_check_file(cached, name, opts->seg_size, &cerr) != BK_OK) {
                bk_log_error(BK_LOG_WARN, "wal_fetch_cache", &cerr);
                unlink(cached);
                return BK_ENOTFOUND;
            }
            if (rename(cached, dest) == 0)
                return BK_OK;
            bk_log(BK_LOG_WARN, "wal_fetch_cache", "cannot move \"%s\" to \"%s\": %s", cached, dest,
                   strerror(errno));
            return BK_ENOTFOUND;
        }
        if (!wal_prefetch_lock_busy(lock) || bk_time_mono_ms() - start_ms >= wait_ms)
            return BK_ENOTFOUND;
        nanosleep(&(struct timespec){ 0, CACHE_POLL_US * 1000L }, NULL);
    }
}

/* True when fewer than half of the next opts->prefetch segments are cached or being fetched:
 * only then is a prefetch process started, so in steady recovery one process fetches a batch
 * instead of one process (fork + fork) being paid for on every call. */
static bool prefetch_wanted(const char *state_dir, const char *name, const struct wal_fetch_opts *opts)
{
    char next[25];
    const char *prev = name;
    unsigned ready = 0;
    for (unsigned i = 0; i < opts->prefetch; i++) {
        char path[PATH_MAX];
        struct bk_error ignored = BK_ERROR_INIT;
        if (walg_wal_name_next(prev, opts->seg_size, next, &ignored) != BK_OK)
            break;
        snprintf(path, sizeof(path), "%s/" WAL_FETCH_PREFETCH_SUBDIR "/%s", state_dir, next);
        if (access(path, F_OK) == 0)
            ready++;
        else {
            snprintf(path, sizeof(path), "%s/" WAL_FETCH_PREFETCH_SUBDIR "/" WAL_PREFETCH_LOCK_SUBDIR "/%s",
                     state_dir, next);
            if (wal_prefetch_lock_busy(path))
                ready++;
        }
        prev = next;
    }
    return ready * 2 < opts->prefetch;
}

int wal_fetch_file(struct storage *st, const char *name, const char *dest,
                   const struct wal_fetch_opts *opts, struct wal_fetch_result *out,
                   struct bk_error *err)
{
    static const struct wal_fetch_opts default_opts = WAL_FETCH_OPTS_INIT;
    struct wal_fetch_opts o;
    struct wal_fetch_result res;
    char state_dir[PATH_MAX];
    enum walg_wal_kind kind;
    int64_t start_ms = bk_time_mono_ms();
    int rc;

    memset(&res, 0, sizeof(res));
    o = opts != NULL ? *opts : default_opts;
    if (o.seg_size == 0)
        o.seg_size = WALG_DEFAULT_SEG_SIZE;
    if (o.prefetch > WAL_FETCH_MAX_PREFETCH)
        o.prefetch = WAL_FETCH_MAX_PREFETCH;
    if ((rc = walg_wal_name_check(name, &kind, err)) != BK_OK)
        return rc;
    if ((rc = walg_seg_size_check(o.seg_size, err)) != BK_OK)
        return rc;
    if (kind == WALG_WAL_SEGMENT || kind == WALG_WAL_PARTIAL) {
        uint32_t tli;
        uint64_t segno;
        char seg_name[25];
        snprintf(seg_name, sizeof(seg_name), "%.24s", name);
        if ((rc = walg_wal_name_parse(seg_name, o.seg_size, &tli, &segno, err)) != BK_OK)
            return rc;
    }
    wal_fetch_state_dir(dest, state_dir, sizeof(state_dir));

    if (kind == WALG_WAL_SEGMENT && cache_take(state_dir, name, dest, &o, start_ms) == BK_OK) {
        res.from_cache = true;
        res.bytes = o.seg_size;
    } else {
        rc = wal_fetch_to_path(st, name, kind, dest, &o, start_ms, state_dir, &res, err);
        if (rc != BK_OK)
            return rc;
    }
    if (kind == WALG_WAL_SEGMENT && o.prefetch > 0 && o.prefetch_storage != NULL &&
        prefetch_wanted(state_dir, name, &o))
        res.prefetch_pid = (int)wal_prefetch_spawn(name, state_dir, &o);
    res.elapsed_ms = bk_time_mono_ms() - start_ms;
    if (res.from_cache)
        bk_log(BK_LOG_INFO, "wal_fetch", "fetched %s from the prefetch cache (%" PRIu64 " bytes, %"
               PRId64 " ms)", name, res.bytes, res.elapsed_ms);
    else
        bk_log(BK_LOG_INFO, "wal_fetch", "fetched %s from %s (%" PRIu64 " bytes, %" PRIu64
               " stored, %" PRId64 " ms)", name, res.key, res.bytes, res.stored_bytes, res.elapsed_ms);
    if (out != NULL)
        *out = res;
    return BK_OK;
}

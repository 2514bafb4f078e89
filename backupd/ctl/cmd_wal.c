/*
 * `backupctl wal-push PATH` (archive_command) and `backupctl wal-fetch NAME DEST`
 * (restore_command): read the WAL-G and BACKUP_* variables, open the storage and call the
 * engines. wal-fetch also decides the exit status PostgreSQL sees when a fetch fails during
 * archive recovery (see docs/drivers/wal.md, "Exit status").
 */
#include "ctl.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bk_log.h"
#include "bk_str.h"
#include "wal_fetch.h"
#include "wal_push.h"

#define WAL_PUSH_USAGE "backupctl wal-push [--repo URL] PATH"
#define WAL_FETCH_USAGE "backupctl wal-fetch [--repo URL] [--prefetch N | --no-prefetch] NAME DEST"

/* Exit status for a failed wal-fetch that must stop archive recovery: PostgreSQL treats a
 * restore_command status above 125 as fatal (wait_result_is_any_signal) and aborts recovery
 * instead of taking the failure as "end of archive" and promoting on incomplete WAL. */
#define WAL_FETCH_EXIT_STOP_RECOVERY 200

static int env_number(const char *const names[], size_t n_names, int64_t min, int64_t max,
                      int64_t *out, struct bk_error *err)
{
    for (size_t i = 0; i < n_names; i++) {
        const char *v = ctl_env(names[i]);
        if (v != NULL && v[0] != '\0')
            return bk_parse_int64(v, min, max, names[i], out, err);
    }
    return BK_OK;
}

static int wal_push_opts_load(struct wal_push_opts *opts, struct bk_error *err)
{
    static const char *const conc[] = { "BACKUP_WAL_PUSH_CONCURRENCY", "WALG_UPLOAD_CONCURRENCY" };
    static const char *const bg[] = { "BACKUP_WAL_PUSH_MAX_BACKGROUND", "TOTAL_BG_UPLOADED_LIMIT" };
    static const char *const level[] = { "BACKUP_WAL_COMPRESSION_LEVEL" };
    const char *method = ctl_env("WALG_COMPRESSION_METHOD");
    int64_t n;
    int rc;
    if (method != NULL && method[0] != '\0') {
        const struct codec_info *info = codec_by_name(method);
        if (info == NULL || !info->can_compress)
            return bk_error_set(err, BK_EINVAL, "wal_push_config", "WALG_COMPRESSION_METHOD",
                                "WALG_COMPRESSION_METHOD \"%s\" is not one of lz4, zstd, lzma, brotli, none",
                                method);
        opts->codec = info->id;
    }
    n = opts->level;
    if ((rc = env_number(level, 1, -7, 22, &n, err)) != BK_OK)
        return rc;
    opts->level = (int)n;
    n = opts->concurrency;
    if ((rc = env_number(conc, 2, 1, 64, &n, err)) != BK_OK)
        return rc;
    opts->concurrency = (unsigned)n;
    n = opts->max_background;
    if ((rc = env_number(bg, 2, 0, 4096, &n, err)) != BK_OK)
        return rc;
    opts->max_background = (unsigned)n;
    return BK_OK;
}

int cmd_wal_push(int argc, char **argv, struct bk_error *err)
{
    struct wal_push_opts opts = WAL_PUSH_OPTS_INIT;
    struct storage *st = NULL;
    const char *repo = NULL;
    const char *path = NULL;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc)
            repo = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return ctl_usage_error(err, WAL_PUSH_USAGE, "unknown option \"%s\"", argv[i]);
        else if (path == NULL)
            path = argv[i];
        else
            return ctl_usage_error(err, WAL_PUSH_USAGE, "unexpected argument \"%s\"", argv[i]);
    }
    if (path == NULL)
        return ctl_usage_error(err, WAL_PUSH_USAGE, "wal-push needs the path of a WAL file (%%p)");
    if ((rc = wal_push_opts_load(&opts, err)) != BK_OK)
        return rc;
    if ((rc = ctl_open_storage(&st, repo, err)) != BK_OK)
        return rc;
    rc = wal_push_file(st, path, &opts, NULL, err);
    storage_close(st);
    return rc;
}

/* ---- wal-fetch ---- */

enum fetch_on_error { FETCH_ON_ERROR_AUTO = 0, FETCH_ON_ERROR_STOP, FETCH_ON_ERROR_CONTINUE };

static int wal_fetch_opts_load(struct wal_fetch_opts *opts, enum fetch_on_error *on_error,
                               struct bk_error *err)
{
    static const char *const prefetch[] = { "BACKUP_WAL_PREFETCH" };
    static const char *const deadline[] = { "BACKUP_WAL_FETCH_DEADLINE_MS" };
    const char *v = ctl_env("BACKUP_WAL_SEGMENT_SIZE");
    int64_t n;
    int rc;
    if (v != NULL && v[0] != '\0') {
        if ((rc = bk_parse_size(v, "BACKUP_WAL_SEGMENT_SIZE", &opts->seg_size, err)) != BK_OK)
            return rc;
        if ((rc = walg_seg_size_check(opts->seg_size, err)) != BK_OK)
            return rc;
    }
    n = WAL_FETCH_DEFAULT_PREFETCH;
    if ((rc = env_number(prefetch, 1, 0, WAL_FETCH_MAX_PREFETCH, &n, err)) != BK_OK)
        return rc;
    opts->prefetch = (unsigned)n;
    n = opts->deadline_ms;
    if ((rc = env_number(deadline, 1, 0, 86400000, &n, err)) != BK_OK)
        return rc;
    opts->deadline_ms = (long)n;
    v = ctl_env("BACKUP_WAL_FETCH_ON_ERROR");
    *on_error = FETCH_ON_ERROR_AUTO;
    if (v != NULL && strcmp(v, "stop") == 0)
        *on_error = FETCH_ON_ERROR_STOP;
    else if (v != NULL && strcmp(v, "continue") == 0)
        *on_error = FETCH_ON_ERROR_CONTINUE;
    else if (v != NULL && v[0] != '\0' && strcmp(v, "auto") != 0)
        return bk_error_set(err, BK_EINVAL, "wal_fetch_config", "BACKUP_WAL_FETCH_ON_ERROR",
                            "BACKUP_WAL_FETCH_ON_ERROR \"%s\" is not one of auto, stop, continue", v);
    return BK_OK;
}

/* Storage config with the fetch deadline applied to every request. */
static int fetch_storage_config(struct storage_config *cfg, const char *repo, long deadline_ms,
                                struct bk_error *err)
{
    int rc = storage_config_load(cfg, repo, ctl_env, err);
    if (rc != BK_OK || deadline_ms <= 0)
        return rc;
    if (cfg->http.deadline_ms == 0 || cfg->http.deadline_ms > deadline_ms)
        cfg->http.deadline_ms = deadline_ms;
    if (cfg->http.request_timeout_ms == 0 || cfg->http.request_timeout_ms > deadline_ms)
        cfg->http.request_timeout_ms = deadline_ms;
    if (cfg->http.connect_timeout_ms > deadline_ms)
        cfg->http.connect_timeout_ms = deadline_ms;
    return BK_OK;
}

/* True when dest is <PGDATA>/pg_wal/... of a cluster in archive recovery that is not a standby:
 * there a failed fetch reported as "not available" would end recovery early and promote. */
static bool in_archive_recovery(const char *dest)
{
    char pgdata[PATH_MAX];
    char probe[PATH_MAX + 32];
    const char *slash = strrchr(dest, '/');
    size_t dir_len = slash != NULL ? (size_t)(slash - dest) : 0;
    if (slash == NULL || dir_len < 6 || strncmp(dest + dir_len - 6, "pg_wal", 6) != 0 ||
        (dir_len > 6 && dest[dir_len - 7] != '/'))
        return false;
    if (dir_len == 6)
        snprintf(pgdata, sizeof(pgdata), ".");
    else
        snprintf(pgdata, sizeof(pgdata), "%.*s", (int)(dir_len - 7), dest);
    if (pgdata[0] == '\0')
        snprintf(pgdata, sizeof(pgdata), "/");
    snprintf(probe, sizeof(probe), "%s/standby.signal", pgdata);
    if (access(probe, F_OK) == 0)
        return false;
    snprintf(probe, sizeof(probe), "%s/recovery.signal", pgdata);
    return access(probe, F_OK) == 0;
}

int cmd_wal_fetch(int argc, char **argv, struct bk_error *err)
{
    struct wal_fetch_opts opts = WAL_FETCH_OPTS_INIT;
    struct storage_config cfg;
    struct storage *st = NULL;
    enum fetch_on_error on_error = FETCH_ON_ERROR_AUTO;
    const char *repo = NULL;
    const char *name = NULL;
    const char *dest = NULL;
    const char *prefetch_arg = NULL;
    bool no_prefetch = false;
    int rc;

    storage_config_init(&cfg);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc) {
            repo = argv[++i];
        } else if (strcmp(argv[i], "--prefetch") == 0 && i + 1 < argc) {
            prefetch_arg = argv[++i];
        } else if (strcmp(argv[i], "--no-prefetch") == 0) {
            no_prefetch = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            rc = ctl_usage_error(err, WAL_FETCH_USAGE, "unknown option \"%s\"", argv[i]);
            goto out;
        } else if (name == NULL) {
            name = argv[i];
        } else if (dest == NULL) {
            dest = argv[i];
        } else {
            rc = ctl_usage_error(err, WAL_FETCH_USAGE, "unexpected argument \"%s\"", argv[i]);
            goto out;
        }
    }
    if (name == NULL || dest == NULL) {
        rc = ctl_usage_error(err, WAL_FETCH_USAGE, "wal-fetch needs a WAL file name (%%f) and a destination (%%p)");
        goto out;
    }
    if ((rc = wal_fetch_opts_load(&opts, &on_error, err)) != BK_OK)
        goto out;
    if (prefetch_arg != NULL) {
        int64_t n;
        if ((rc = bk_parse_int64(prefetch_arg, 0, WAL_FETCH_MAX_PREFETCH, "--prefetch", &n, err)) != BK_OK)
            goto out;
        opts.prefetch = (unsigned)n;
    }
    if (no_prefetch)
        opts.prefetch = 0;
    if ((rc = fetch_storage_config(&cfg, repo, opts.deadline_ms, err)) != BK_OK)
        goto out;
    if ((rc = storage_open(&st, &cfg, err)) != BK_OK)
        goto out;
    opts.prefetch_storage = opts.prefetch > 0 ? &cfg : NULL;
    rc = wal_fetch_file(st, name, dest, &opts, NULL, err);
    if (rc == BK_ETIMEOUT && opts.deadline_ms > 0)
        bk_error_set_hint(err, "check that %s is reachable; BACKUP_WAL_FETCH_DEADLINE_MS=%ld bounds each fetch",
                          storage_describe(st), opts.deadline_ms);
out:
    storage_close(st);
    storage_config_free(&cfg);
    if (rc != BK_OK && rc != BK_ENOTFOUND && dest != NULL &&
        (on_error == FETCH_ON_ERROR_STOP || (on_error == FETCH_ON_ERROR_AUTO && in_archive_recovery(dest)))) {
        /* The one place backupctl picks its own exit status: no bk_code maps above 125 (on
         * purpose: bk_codes.h), and this status must; main honours err->exit_status. */
        bk_error_set_hint(err, "exiting with status %d so that PostgreSQL stops recovery instead of "
                          "ending it on incomplete WAL", WAL_FETCH_EXIT_STOP_RECOVERY);
        err->exit_status = WAL_FETCH_EXIT_STOP_RECOVERY;
    }
    return rc;
}

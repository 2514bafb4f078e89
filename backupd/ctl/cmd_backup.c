/*
 * backupctl backup-push, backup-fetch and backup-list: option parsing and output only; the work
 * is in backupd/engine/backup_push.c, restore/backup_fetch.c and lib/archive/walg_list.c.
 */
#include "ctl.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup_fetch.h"
#include "backup_push.h"
#include "bk_log.h"
#include "bk_str.h"
#include "walg_list.h"
#include "walg_meta.h"

#define PUSH_USAGE "backupctl backup-push [--repo URL] [-d CONNINFO] [--compression zstd|lz4|lzma|brotli] " \
                   "[--level N] [--threads N] [--tar-size-threshold SIZE] [--spread-checkpoint] [--permanent] " \
                   "[--user-data JSON] [--no-verify-manifest] [PGDATA]"
#define FETCH_USAGE "backupctl backup-fetch [--repo URL] [--concurrency N] [--no-fsync] [--no-recovery-conf] " \
                    "[--target-time T | --target-lsn X/Y | --target-xid XID | --target-name NAME] " \
                    "[--target-action promote|pause|shutdown] [--target-exclusive] [--restore-command CMD] DEST NAME|LATEST"
#define LIST_USAGE "backupctl backup-list [--repo URL] [--json] [--detail] [--pretty] [--extended]"

static const char *arg_value(int argc, char **argv, int *i, const char *usage, struct bk_error *err)
{
    if (*i + 1 >= argc) {
        ctl_usage_error(err, usage, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* Appends text to out (as one POSIX shell word when quote: '...', a ' written as '\'', and every
 * '%' doubled so PostgreSQL's %f/%p substitution leaves it alone). False when it does not fit.
 * (Bug fix: the default restore_command used to paste this program's path unquoted and the
 * repository URL between bare single quotes, so a space, a quote or a '%' in either made a
 * restore_command that ran something else or nothing.) */
static bool append_cmd(char *out, size_t out_cap, size_t *len, const char *text, bool quote)
{
    size_t n = *len;
    if (quote) {
        if (n + 1 >= out_cap)
            return false;
        out[n++] = '\'';
    }
    for (; *text != '\0'; text++) {
        const char *piece = !quote ? NULL : *text == '\'' ? "'\\''" : *text == '%' ? "%%" : NULL;
        size_t k = piece != NULL ? strlen(piece) : 1;
        if (n + k >= out_cap)
            return false;
        memcpy(out + n, piece != NULL ? piece : text, k);
        n += k;
    }
    if (quote) {
        if (n + 1 >= out_cap)
            return false;
        out[n++] = '\'';
    }
    out[n] = '\0';
    *len = n;
    return true;
}

int cmd_backup_push(int argc, char **argv, struct bk_error *err)
{
    struct backup_push_opts opts = BACKUP_PUSH_OPTS_INIT;
    struct backup_push_result res;
    struct storage *st = NULL;
    const char *repo = NULL;
    const char *method = ctl_env("WALG_BACKUP_COMPRESSION_METHOD");
    const char *v;
    int rc;
    if (method == NULL || method[0] == '\0')
        method = ctl_env("WALG_COMPRESSION_METHOD");
    opts.conninfo = "";
    if ((v = ctl_env("WALG_TAR_SIZE_THRESHOLD")) != NULL && v[0] != '\0' &&
        (rc = bk_parse_size(v, "WALG_TAR_SIZE_THRESHOLD", &opts.part_threshold_bytes, err)) != BK_OK)
        return rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int64_t n;
        if (strcmp(a, "--repo") == 0) {
            if ((repo = arg_value(argc, argv, &i, PUSH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(a, "-d") == 0 || strcmp(a, "--conninfo") == 0) {
            if ((opts.conninfo = arg_value(argc, argv, &i, PUSH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(a, "--compression") == 0) {
            if ((method = arg_value(argc, argv, &i, PUSH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(a, "--level") == 0) {
            if ((v = arg_value(argc, argv, &i, PUSH_USAGE, err)) == NULL) return BK_EINVAL;
            if ((rc = bk_parse_int64(v, -7, 22, "--level", &n, err)) != BK_OK) return rc;
            opts.codec_opts.level = (int)n;
        } else if (strcmp(a, "--threads") == 0) {
            if ((v = arg_value(argc, argv, &i, PUSH_USAGE, err)) == NULL) return BK_EINVAL;
            if ((rc = bk_parse_int64(v, 0, 64, "--threads", &n, err)) != BK_OK) return rc;
            opts.codec_opts.threads = (int)n;
        } else if (strcmp(a, "--tar-size-threshold") == 0) {
            if ((v = arg_value(argc, argv, &i, PUSH_USAGE, err)) == NULL) return BK_EINVAL;
            if ((rc = bk_parse_size(v, "--tar-size-threshold", &opts.part_threshold_bytes, err)) != BK_OK) return rc;
        } else if (strcmp(a, "--spread-checkpoint") == 0) {
            opts.checkpoint = PGBB_CHECKPOINT_SPREAD;
        } else if (strcmp(a, "--permanent") == 0) {
            opts.permanent = true;
        } else if (strcmp(a, "--user-data") == 0) {
            if ((opts.user_data = arg_value(argc, argv, &i, PUSH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(a, "--no-verify-manifest") == 0) {
            opts.verify_manifest = false;
        } else if (a[0] == '-') {
            return ctl_usage_error(err, PUSH_USAGE, "unknown option \"%s\"", a);
        } else {
            opts.data_dir = a;   /* WAL-G's positional PGDATA: recorded as the data directory */
        }
    }
    if (method != NULL && method[0] != '\0') {
        const struct codec_info *ci = codec_by_name(method);
        if (ci == NULL || !ci->can_compress)
            return ctl_usage_error(err, PUSH_USAGE, "compression \"%s\" is not one of zstd, lz4, lzma, brotli", method);
        opts.codec = ci->id;
    }
    if (opts.user_data != NULL) {
        char *canonical = NULL;
        if ((rc = walg_user_data_canonical(opts.user_data, &canonical, err)) != BK_OK)
            return rc;
        free(canonical);
    }
    if ((rc = ctl_open_storage(&st, repo, err)) != BK_OK)
        return rc;
    rc = backup_push_run(&res, st, &opts, err);
    if (rc == BK_OK) {
        bk_log(BK_LOG_INFO, "backup_push", "backup %s done: %u parts, %llu files, %llu MiB read, %llu MiB stored, %.1f s",
               res.name, res.parts, (unsigned long long)res.files, (unsigned long long)(res.uncompressed_bytes >> 20),
               (unsigned long long)(res.compressed_bytes >> 20), res.duration_ms / 1000.0);
        printf("%s\n", res.name);
    }
    storage_close(st);
    return rc;
}

int cmd_backup_fetch(int argc, char **argv, struct bk_error *err)
{
    struct backup_fetch_opts opts;
    struct backup_fetch_result res;
    struct storage *st = NULL;
    const char *repo = NULL;
    const char *positional[2] = { NULL, NULL };
    int n_pos = 0;
    char restore_cmd[4 * PATH_MAX + 64];
    char self[PATH_MAX];
    const char *v;
    int rc;
    memset(&opts, 0, sizeof(opts));
    opts.fsync = true;
    opts.recovery.enabled = true;
    opts.recovery.target_inclusive = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--repo") == 0) {
            if ((repo = arg_value(argc, argv, &i, FETCH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(a, "--concurrency") == 0) {
            int64_t n;
            if ((v = arg_value(argc, argv, &i, FETCH_USAGE, err)) == NULL) return BK_EINVAL;
            if ((rc = bk_parse_int64(v, 1, 32, "--concurrency", &n, err)) != BK_OK) return rc;
            opts.concurrency = (unsigned)n;
        } else if (strcmp(a, "--no-fsync") == 0) {
            opts.fsync = false;
        } else if (strcmp(a, "--no-recovery-conf") == 0) {
            opts.recovery.enabled = false;
        } else if (strcmp(a, "--target-time") == 0) {
            if ((opts.recovery.target_time = arg_value(argc, argv, &i, FETCH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(a, "--target-lsn") == 0) {
            if ((opts.recovery.target_lsn = arg_value(argc, argv, &i, FETCH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(a, "--target-xid") == 0) {
            if ((opts.recovery.target_xid = arg_value(argc, argv, &i, FETCH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(a, "--target-name") == 0) {
            if ((opts.recovery.target_name = arg_value(argc, argv, &i, FETCH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(a, "--target-action") == 0) {
            if ((opts.recovery.target_action = arg_value(argc, argv, &i, FETCH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(a, "--target-exclusive") == 0) {
            opts.recovery.target_inclusive = 0;
        } else if (strcmp(a, "--restore-command") == 0) {
            if ((opts.recovery.restore_command = arg_value(argc, argv, &i, FETCH_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (a[0] == '-') {
            return ctl_usage_error(err, FETCH_USAGE, "unknown option \"%s\"", a);
        } else if (n_pos < 2) {
            positional[n_pos++] = a;
        } else {
            return ctl_usage_error(err, FETCH_USAGE, "unexpected argument \"%s\"", a);
        }
    }
    if (n_pos != 2)
        return ctl_usage_error(err, FETCH_USAGE, "backup-fetch needs DEST and a backup name or LATEST");
    opts.dest = positional[0];
    opts.backup = positional[1];
    if (opts.recovery.enabled && opts.recovery.restore_command == NULL) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
            return bk_error_set(err, BK_EIO, "backup_fetch", NULL, "cannot find this program's path for restore_command");
        self[n] = '\0';
        size_t len = 0;
        size_t cap = sizeof(restore_cmd);
        if (!append_cmd(restore_cmd, cap, &len, self, true) || !append_cmd(restore_cmd, cap, &len, " wal-fetch", false) ||
            (repo != NULL && (!append_cmd(restore_cmd, cap, &len, " --repo ", false) ||
                              !append_cmd(restore_cmd, cap, &len, repo, true))) ||
            !append_cmd(restore_cmd, cap, &len, " \"%f\" \"%p\"", false))
            return bk_error_set(err, BK_EINVAL, "backup_fetch", NULL,
                                "this program's path and --repo make a restore_command too long; give --restore-command");
        opts.recovery.restore_command = restore_cmd;
    }
    if ((rc = ctl_open_storage(&st, repo, err)) != BK_OK)
        return rc;
    rc = backup_fetch_run(&res, st, &opts, err);
    if (rc == BK_OK)
        bk_log(BK_LOG_INFO, "backup_fetch", "restored %s: %u objects, %llu files, %llu MiB in %.1f s (%.0f MiB/s)",
               res.name, res.parts, (unsigned long long)res.files, (unsigned long long)(res.bytes >> 20),
               res.duration_ms / 1000.0, res.duration_ms > 0 ? (res.bytes / 1048576.0) / (res.duration_ms / 1000.0) : 0.0);
    storage_close(st);
    return rc;
}

int cmd_backup_list(int argc, char **argv, struct bk_error *err)
{
    struct walg_list_opts lo = { WALG_LIST_PLAIN, false, false };
    struct walg_list_entry *entries = NULL;
    size_t n = 0, cap = 0;
    struct storage *st = NULL;
    struct storage_list *it = NULL;
    const struct storage_entry *e;
    struct bk_buf out, meta_buf;
    const char *repo = NULL;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repo") == 0) {
            if ((repo = arg_value(argc, argv, &i, LIST_USAGE, err)) == NULL) return BK_EINVAL;
        } else if (strcmp(argv[i], "--json") == 0) {
            lo.json = true;
        } else if (strcmp(argv[i], "--detail") == 0) {
            lo.style = WALG_LIST_DETAIL;
        } else if (strcmp(argv[i], "--extended") == 0) {
            lo.style = WALG_LIST_EXTENDED;
        } else if (strcmp(argv[i], "--pretty") == 0) {
            lo.pretty = true;
        } else {
            return ctl_usage_error(err, LIST_USAGE, "unknown argument \"%s\"", argv[i]);
        }
    }
    bk_buf_init(&out, 256u * 1024 * 1024);
    bk_buf_init(&meta_buf, 1024 * 1024);
    if ((rc = ctl_open_storage(&st, repo, err)) != BK_OK)
        goto out;
    if ((rc = storage_list_new(&it, st, WALG_BASEBACKUPS_DIR, false, err)) != BK_OK)
        goto out;
    while ((rc = storage_list_next(it, &e, err)) == 1) {
        char name[WALG_BACKUP_NAME_CAP];
        if (e->is_prefix || !walg_sentinel_key_to_name(e->key, name, sizeof(name)))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            struct walg_list_entry *grown = realloc(entries, ncap * sizeof(*grown));
            if (grown == NULL) {
                rc = bk_error_set(err, BK_ENOMEM, "backup_list", NULL, "out of memory");
                goto out;
            }
            entries = grown;
            cap = ncap;
        }
        if ((rc = walg_list_entry_init(&entries[n], name, e->mtime_us, err)) != BK_OK)
            goto out;
        n++;
        if (lo.style != WALG_LIST_PLAIN) {
            char key[WALG_KEY_CAP];
            bk_buf_reset(&meta_buf);
            if ((rc = walg_key_metadata(key, sizeof(key), name, err)) != BK_OK)
                goto out;
            rc = storage_get_buf(st, key, &meta_buf, err);
            if (rc == BK_ENOTFOUND && lo.style == WALG_LIST_EXTENDED) {
                bk_error_clear(err);
                continue;
            }
            if (rc != BK_OK || (rc = walg_metadata_parse((const char *)meta_buf.data, meta_buf.len, key,
                                                         &entries[n - 1].meta, err)) != BK_OK)
                goto out;
            entries[n - 1].has_metadata = true;
        }
    }
    if (rc < 0)
        goto out;
    if (n == 0) {
        bk_log(BK_LOG_WARN, "backup_list", "no backups found in %s", storage_describe(st));
        rc = BK_OK;
        goto out;
    }
    walg_list_sort(entries, n, lo.style);
    if ((rc = walg_list_render(entries, n, &lo, &out, err)) != BK_OK)
        goto out;
    fwrite(out.data, 1, out.len, stdout);
out:
    walg_list_entries_free(entries, n);
    storage_list_free(it);
    storage_close(st);
    bk_buf_free(&out);
    bk_buf_free(&meta_buf);
    return rc < 0 ? rc : BK_OK;
}

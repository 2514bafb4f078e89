/*
 * backup-fetch engine; see backup_fetch.h. Each tar object streams through
 *   storage_get -> decompress (codec by extension) -> tar reader -> extractor
 * so no object is ever held in memory; parts run on worker threads, each with its own chain.
 */
#include "backup_fetch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bk_log.h"
#include "bk_str.h"
#include "bk_time.h"
#include "codec.h"
#include "extract.h"
#include "walg_catalog.h"
#include "walg_meta.h"

#define SENTINEL_CAP (4u * 1024 * 1024)

struct part_list {
    char **keys;
    size_t len;
    size_t cap;
};

static void part_list_free(struct part_list *pl)
{
    for (size_t i = 0; i < pl->len; i++)
        free(pl->keys[i]);
    free(pl->keys);
    memset(pl, 0, sizeof(*pl));
}

static int part_list_add(struct part_list *pl, const char *key, struct bk_error *err)
{
    if (pl->len == pl->cap) {
        size_t cap = pl->cap ? pl->cap * 2 : 16;
        char **grown = realloc(pl->keys, cap * sizeof(*grown));
        if (grown == NULL)
            return bk_error_set(err, BK_ENOMEM, "backup_fetch", key, "out of memory");
        pl->keys = grown;
        pl->cap = cap;
    }
    if ((pl->keys[pl->len] = strdup(key)) == NULL)
        return bk_error_set(err, BK_ENOMEM, "backup_fetch", key, "out of memory");
    pl->len++;
    return BK_OK;
}

int backup_fetch_resolve(char *out, size_t out_cap, struct storage *st, const char *name,
                         struct bk_error *err)
{
    struct walg_backup_name parsed;
    int rc;
    if (strcmp(name, "LATEST") != 0 && (rc = walg_backup_name_parse(name, &parsed, err)) != BK_OK)
        return rc;
    return walg_catalog_resolve(st, name, out, out_cap, err);
}

static int dest_prepare(const char *dest, struct bk_error *err)
{
    DIR *dir;
    struct dirent *de;
    if (mkdir(dest, 0700) == 0)
        return BK_OK;
    if (errno != EEXIST)
        return bk_error_set_errno(err, errno, "backup_fetch", dest, "cannot create \"%s\"", dest);
    dir = opendir(dest);
    if (dir == NULL)
        return bk_error_set_errno(err, errno, "backup_fetch", dest, "cannot open \"%s\"", dest);
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            closedir(dir);
            return bk_error_set(err, BK_EEXISTS, "backup_fetch", dest,
                                "target directory \"%s\" is not empty", dest);
        }
    }
    closedir(dir);
    chmod(dest, 0700);
    return BK_OK;
}

static int on_files_entry(void *payload, const char *name, const struct walg_file_desc *desc,
                          struct bk_error *err)
{
    (void)desc;
    return extract_name_set_add(payload, name, err);
}

/* files_metadata.json: WAL-G restores only the regular files it lists (plus three utility names). */
static int load_file_filter(struct extract_name_set **out, struct storage *st, const char *name,
                            const struct walg_sentinel *s, struct bk_error *err)
{
    static const char *utility[] = { "/global/pg_control", "backup_label", "tablespace_map" };
    struct walg_files_meta_cbs cbs = { on_files_entry, NULL };
    struct extract_name_set *set = NULL;
    struct bk_sink *reader = NULL;
    char key[WALG_KEY_CAP];
    int rc;
    *out = NULL;
    if (s->files_metadata_disabled)
        return BK_OK;
    if ((rc = extract_name_set_new(&set, err)) != BK_OK)
        return rc;
    if ((rc = walg_key_files_metadata(key, sizeof(key), name, err)) != BK_OK ||
        (rc = walg_files_meta_reader_new(&reader, &cbs, set, key, err)) != BK_OK)
        goto out;
    rc = storage_get(st, key, 0, 0, reader, err);
    if (rc == BK_OK)
        rc = bk_sink_finish(reader, err);
    if (rc == BK_ENOTFOUND && s->version < 2) {
        bk_log(BK_LOG_WARN, "backup_fetch", "%s has no files_metadata.json (older WAL-G or WAL-E backup): restoring every file", name);
        bk_error_clear(err);
        rc = BK_OK;
        goto out;
    }
    if (rc == BK_ENOTFOUND)
        bk_error_wrap(err, "backup is incomplete: files_metadata.json is missing");
    if (rc != BK_OK)
        goto out;
    if (extract_name_set_count(set) == 0)
        goto out;                       /* empty Files: everything is restored */
    for (size_t i = 0; i < 3 && rc == BK_OK; i++)
        rc = extract_name_set_add(set, utility[i], err);
    if (rc == BK_OK) {
        *out = set;
        set = NULL;
    }
out:
    bk_sink_free(reader);
    extract_name_set_free(set);
    return rc;
}

struct fetch_job {
    struct storage *st;
    const struct backup_fetch_opts *opts;
    const struct extract_name_set *filter;
    struct part_list *parts;
    size_t next;
    pthread_mutex_t mu;
    int rc;
    struct bk_error err;
    uint64_t files;
    uint64_t bytes;
};

/* One tar object: storage -> decompress -> tar reader -> extractor. */
static int restore_one(struct fetch_job *job, const char *key, struct bk_error *err)
{
    struct extract_opts eo = EXTRACT_OPTS_INIT;
    struct extract *ex = NULL;
    struct bk_sink *reader = NULL, *decomp = NULL;
    enum codec_id codec;
    int64_t t0 = bk_time_mono_ms();
    int rc;
    if ((rc = walg_object_codec(key, &codec, err)) != BK_OK)
        return rc;
    eo.dest = job->opts->dest;
    eo.fsync = job->opts->fsync;
    eo.only_names = job->filter;
    if ((rc = extract_new(&ex, &eo, err)) != BK_OK)
        return rc;
    if ((rc = extract_reader_new(&reader, ex, key, err)) != BK_OK)
        goto out;
    if ((rc = codec_decompress_new(&decomp, codec, reader, err)) != BK_OK) {
        bk_sink_free(reader);
        goto out;
    }
    rc = storage_get(job->st, key, 0, 0, decomp, err);
    if (rc == BK_OK)
        rc = bk_sink_finish(decomp, err);
    if (rc != BK_OK) {
        bk_sink_abort(decomp);
        if (err->object[0] == '\0' || strstr(err->message, key) == NULL) {
            char ctx[WALG_KEY_CAP + 16];
            snprintf(ctx, sizeof(ctx), "restoring %s", key);
            bk_error_wrap(err, ctx);
        }
    } else {
        const struct extract_stats *stats = extract_get_stats(ex);
        pthread_mutex_lock(&job->mu);
        job->files += stats->files;
        job->bytes += stats->bytes;
        pthread_mutex_unlock(&job->mu);
        bk_log(BK_LOG_INFO, "backup_fetch", "%s: %llu files, %llu MiB in %lld ms", key,
               (unsigned long long)stats->files, (unsigned long long)(stats->bytes >> 20),
               (long long)(bk_time_mono_ms() - t0));
    }
    bk_sink_free(decomp);
out:
    extract_free(ex);
    return rc;
}

static void *fetch_worker(void *arg)
{
    struct fetch_job *job = arg;
    for (;;) {
        struct bk_error err = BK_ERROR_INIT;
        const char *key;
        int rc;
        pthread_mutex_lock(&job->mu);
        if (job->rc != BK_OK || job->next >= job->parts->len) {
            pthread_mutex_unlock(&job->mu);
            return NULL;
        }
        key = job->parts->keys[job->next++];
        pthread_mutex_unlock(&job->mu);
        rc = restore_one(job, key, &err);
        if (rc != BK_OK) {
            pthread_mutex_lock(&job->mu);
            if (job->rc == BK_OK) {
                job->rc = rc;
                job->err = err;
            }
            pthread_mutex_unlock(&job->mu);
            return NULL;
        }
    }
}

static int append_setting(FILE *f, const char *name, const char *value)
{
    fprintf(f, "%s = '", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            fputc('\'', f);
        fputc(*p, f);
    }
    return fprintf(f, "'\n") < 0 ? -1 : 0;
}

static int write_recovery(const struct backup_fetch_opts *opts, const char *name, struct bk_error *err)
{
    const struct backup_fetch_recovery *r = &opts->recovery;
    char path[4096];
    FILE *f;
    int fd;
    int64_t us;
    if (r->target_time != NULL && bk_time_parse_rfc3339(r->target_time, &us, err) != BK_OK)
        return BK_EINVAL;
    snprintf(path, sizeof(path), "%s/postgresql.auto.conf", opts->dest);
    f = fopen(path, "a");
    if (f == NULL)
        return bk_error_set_errno(err, errno, "backup_fetch", path, "cannot open \"%s\"", path);
    fprintf(f, "\n# recovery settings written by backupctl backup-fetch from %s\n", name);
    if (r->restore_command != NULL)
        append_setting(f, "restore_command", r->restore_command);
    if (r->target_time != NULL)
        append_setting(f, "recovery_target_time", r->target_time);
    if (r->target_lsn != NULL)
        append_setting(f, "recovery_target_lsn", r->target_lsn);
    if (r->target_xid != NULL)
        append_setting(f, "recovery_target_xid", r->target_xid);
    if (r->target_name != NULL)
        append_setting(f, "recovery_target_name", r->target_name);
    if (r->target_time || r->target_lsn || r->target_xid || r->target_name)
        append_setting(f, "recovery_target_action", r->target_action ? r->target_action : "promote");
    if (r->target_inclusive >= 0)
        append_setting(f, "recovery_target_inclusive", r->target_inclusive ? "true" : "false");
    append_setting(f, "recovery_target_timeline", r->target_timeline ? r->target_timeline : "latest");
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        int saved = errno;
        fclose(f);
        return bk_error_set_errno(err, saved, "backup_fetch", path, "cannot write \"%s\"", path);
    }
    fclose(f);
    snprintf(path, sizeof(path), "%s/recovery.signal", opts->dest);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return bk_error_set_errno(err, errno, "backup_fetch", path, "cannot create \"%s\"", path);
    fsync(fd);
    close(fd);
    return BK_OK;
}

static int validate_recovery(const struct backup_fetch_recovery *r, struct bk_error *err)
{
    int64_t us;
    int targets = (r->target_time != NULL) + (r->target_lsn != NULL) + (r->target_xid != NULL) + (r->target_name != NULL);
    if (!r->enabled)
        return BK_OK;
    if (targets > 1)
        return bk_error_set(err, BK_EINVAL, "backup_fetch", NULL, "give at most one recovery target (time, lsn, xid or name)");
    if (r->target_time != NULL && bk_time_parse_rfc3339(r->target_time, &us, err) != BK_OK)
        return BK_EINVAL;
    if (r->target_action != NULL && strcmp(r->target_action, "promote") != 0 &&
        strcmp(r->target_action, "pause") != 0 && strcmp(r->target_action, "shutdown") != 0)
        return bk_error_set(err, BK_EINVAL, "backup_fetch", NULL,
                            "recovery target action \"%s\" is not promote, pause or shutdown", r->target_action);
    if (r->target_lsn != NULL) {
        uint64_t lsn;
        if (walg_lsn_parse(r->target_lsn, &lsn, err) != BK_OK)
            return BK_EINVAL;
    }
    return BK_OK;
}

int backup_fetch_run(struct backup_fetch_result *out, struct storage *st,
                     const struct backup_fetch_opts *opts, struct bk_error *err)
{
    struct walg_sentinel sentinel;
    struct extract_name_set *filter = NULL;
    struct part_list parts = { 0 }, last = { 0 };
    struct storage_list *it = NULL;
    const struct storage_entry *e;
    struct bk_buf buf;
    struct fetch_job job;
    pthread_t threads[32];
    unsigned n_threads = 0;
    char name[WALG_BACKUP_NAME_CAP];
    char key[WALG_KEY_CAP];
    int64_t t0 = bk_time_mono_ms();
    int rc;

    memset(&sentinel, 0, sizeof(sentinel));
    memset(out, 0, sizeof(*out));
    memset(&job, 0, sizeof(job));
    bk_buf_init(&buf, SENTINEL_CAP);
    pthread_mutex_init(&job.mu, NULL);

    if ((rc = validate_recovery(&opts->recovery, err)) != BK_OK)
        goto out;
    if ((rc = backup_fetch_resolve(name, sizeof(name), st, opts->backup, err)) != BK_OK)
        goto out;
    if ((rc = walg_key_sentinel(key, sizeof(key), name, err)) != BK_OK ||
        (rc = storage_get_buf(st, key, &buf, err)) != BK_OK ||
        (rc = walg_sentinel_parse((const char *)buf.data, buf.len, key, &sentinel, err)) != BK_OK)
        goto out;
    if (sentinel.delta_from != NULL) {
        rc = bk_error_set(err, BK_EUNSUPPORTED, "backup_fetch", name,
                          "%s is a delta backup (from %s); restoring delta chains is not supported yet", name, sentinel.delta_from);
        goto out;
    }
    if ((rc = load_file_filter(&filter, st, name, &sentinel, err)) != BK_OK)
        goto out;
    if ((rc = walg_key_tar_dir(key, sizeof(key), name, err)) != BK_OK ||
        (rc = storage_list_new(&it, st, key, true, err)) != BK_OK)
        goto out;
    while ((rc = storage_list_next(it, &e, err)) == 1) {
        const char *base = strrchr(e->key, '/') ? strrchr(e->key, '/') + 1 : e->key;
        enum codec_id codec;
        if ((rc = walg_object_codec(e->key, &codec, err)) != BK_OK)
            goto out;
        if (strncmp(base, "pg_control.tar", 14) == 0 || strncmp(base, "backup_label.tar", 16) == 0)
            rc = part_list_add(&last, e->key, err);
        else
            rc = part_list_add(&parts, e->key, err);
        if (rc != BK_OK)
            goto out;
    }
    if (rc < 0)
        goto out;
    if (parts.len == 0) {
        rc = bk_error_set(err, BK_ECORRUPT, "backup_fetch", key, "backup %s has no tar partitions to extract", name);
        goto out;
    }
    if (last.len == 0 && !sentinel.is_wale) {
        rc = bk_error_set(err, BK_ECORRUPT, "backup_fetch", key, "backup %s has no pg_control.tar or backup_label.tar", name);
        goto out;
    }
    if ((rc = dest_prepare(opts->dest, err)) != BK_OK)
        goto out;
    bk_log(BK_LOG_INFO, "backup_fetch", "restoring %s (%zu parts) from %s into %s", name, parts.len,
           storage_describe(st), opts->dest);

    job.st = st;
    job.opts = opts;
    job.filter = filter;
    job.parts = &parts;
    n_threads = opts->concurrency > 0 ? opts->concurrency : 4;
    if (n_threads > 32)
        n_threads = 32;
    if (n_threads > parts.len)
        n_threads = (unsigned)parts.len;
    for (unsigned i = 0; i < n_threads; i++) {
        if (pthread_create(&threads[i], NULL, fetch_worker, &job) != 0) {
            n_threads = i;
            break;
        }
    }
    for (unsigned i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    /* Bug fix: when not even one worker could be started, no part was restored, yet pg_control
     * and the recovery settings used to be written and the restore reported success. */
    if (n_threads == 0 && job.rc == BK_OK) {
        rc = bk_error_set(err, BK_EINTERNAL, "backup_fetch", name, "cannot start a restore thread for %s", name);
        goto out;
    }
    if (job.rc != BK_OK) {
        *err = job.err;
        rc = job.rc;
        goto out;
    }
    /* pg_control (and backup_label) only after every regular part succeeded */
    for (size_t i = 0; i < last.len; i++)
        if ((rc = restore_one(&job, last.keys[i], err)) != BK_OK)
            goto out;
    if (opts->recovery.enabled && (rc = write_recovery(opts, name, err)) != BK_OK)
        goto out;
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->parts = (unsigned)(parts.len + last.len);
    out->files = job.files;
    out->bytes = job.bytes;
    out->duration_ms = bk_time_mono_ms() - t0;
out:
    storage_list_free(it);
    part_list_free(&parts);
    part_list_free(&last);
    extract_name_set_free(filter);
    walg_sentinel_free(&sentinel);
    bk_buf_free(&buf);
    pthread_mutex_destroy(&job.mu);
    return rc;
}

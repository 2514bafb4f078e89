/*
 * `backupctl storage ls|put|get|rm|stat|check URL`: a thin CLI over the storage layer, for
 * operators and for cross-checks with other clients. put/get/rm/stat take the object URL
 * (s3://bucket/path/key); ls and check take a prefix URL.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bk_log.h"
#include "bk_sink.h"
#include "bk_time.h"

#define STORAGE_USAGE "backupctl storage ls [--dirs] URL | put URL FILE|- | get URL FILE|- | rm URL | stat URL | check URL"

/* Splits "scheme://bucket/a/b/key" into a root URL and the last component as key. */
static int split_object_url(const char *url, char *root, size_t root_cap, const char **key,
                            struct bk_error *err)
{
    const char *sep = strstr(url, "://");
    const char *slash = strrchr(url, '/');
    if (sep == NULL || slash == NULL || slash <= sep + 2 || slash[1] == '\0')
        return bk_error_set(err, BK_EINVAL, "storage", url, "\"%s\" does not name an object (scheme://bucket/key)", url);
    if (strncmp(url, "file://", 7) != 0 && strchr(sep + 3, '/') == NULL)
        return bk_error_set(err, BK_EINVAL, "storage", url, "\"%s\" does not name an object", url);
    snprintf(root, root_cap, "%.*s", (int)(slash - url), url);
    if (strcmp(root, "file://") == 0)
        snprintf(root, root_cap, "file:///");
    *key = slash + 1;
    return BK_OK;
}

static int storage_cmd_ls(int argc, char **argv, struct bk_error *err)
{
    struct storage *st = NULL;
    struct storage_list *it = NULL;
    const struct storage_entry *e;
    bool dirs = false;
    const char *url = NULL;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dirs") == 0)
            dirs = true;
        else if (url == NULL)
            url = argv[i];
        else
            return ctl_usage_error(err, STORAGE_USAGE, "unexpected argument \"%s\"", argv[i]);
    }
    if (url == NULL)
        return ctl_usage_error(err, STORAGE_USAGE, "storage ls needs a URL");
    if ((rc = ctl_open_storage(&st, url, err)) != BK_OK)
        return rc;
    if ((rc = storage_list_new(&it, st, "", !dirs, err)) != BK_OK)
        goto out;
    while ((rc = storage_list_next(it, &e, err)) == 1) {
        char when[40];
        if (e->is_prefix) {
            printf("%-24s %12s  %s\n", "", "DIR", e->key);
            continue;
        }
        bk_time_format_rfc3339(e->mtime_us, 0, when, sizeof(when));
        printf("%-24s %12llu  %s\n", when, (unsigned long long)e->size, e->key);
    }
out:
    storage_list_free(it);
    storage_close(st);
    return rc < 0 ? rc : BK_OK;
}

static int storage_cmd_put(int argc, char **argv, struct bk_error *err)
{
    struct storage *st = NULL;
    struct bk_sink *sink = NULL;
    char root[2048];
    const char *key;
    uint8_t *buf = NULL;
    int fd = -1;
    int rc;
    uint64_t total = 0;
    if (argc != 3)
        return ctl_usage_error(err, STORAGE_USAGE, "storage put needs URL and FILE");
    if ((rc = split_object_url(argv[1], root, sizeof(root), &key, err)) != BK_OK)
        return rc;
    fd = strcmp(argv[2], "-") == 0 ? STDIN_FILENO : open(argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bk_error_set_errno(err, errno, "storage_put", argv[2], "cannot open \"%s\"", argv[2]);
    if ((rc = ctl_open_storage(&st, root, err)) != BK_OK)
        goto out;
    if ((rc = storage_put_stream(&sink, st, key, NULL, err)) != BK_OK)
        goto out;
    buf = malloc(1024 * 1024);
    if (buf == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "storage_put", key, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, 1024 * 1024);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = bk_error_set_errno(err, errno, "storage_put", argv[2], "cannot read \"%s\"", argv[2]);
            break;
        }
        if (n == 0) {
            rc = bk_sink_finish(sink, err);
            break;
        }
        total += (uint64_t)n;
        if ((rc = bk_sink_write(sink, buf, (size_t)n, err)) != BK_OK)
            break;
    }
    if (rc != BK_OK)
        bk_sink_abort(sink);
    else
        bk_log(BK_LOG_INFO, "storage_put", "uploaded %llu bytes to \"%s\"", (unsigned long long)total, key);
out:
    bk_sink_free(sink);
    free(buf);
    storage_close(st);
    if (fd > STDIN_FILENO)
        close(fd);
    return rc;
}

static int storage_cmd_get(int argc, char **argv, struct bk_error *err)
{
    struct storage *st = NULL;
    struct bk_sink *sink = NULL;
    char root[2048];
    char tmp[4096] = "";
    const char *key;
    int fd = -1;
    int rc;
    bool to_stdout;
    if (argc != 3)
        return ctl_usage_error(err, STORAGE_USAGE, "storage get needs URL and FILE");
    if ((rc = split_object_url(argv[1], root, sizeof(root), &key, err)) != BK_OK)
        return rc;
    to_stdout = strcmp(argv[2], "-") == 0;
    if ((rc = ctl_open_storage(&st, root, err)) != BK_OK)
        return rc;
    if (to_stdout) {
        fd = STDOUT_FILENO;
    } else {
        /* write beside the target and rename, so a failed download leaves no partial file */
        snprintf(tmp, sizeof(tmp), "%s.backupctl-XXXXXX", argv[2]);
        fd = mkstemp(tmp);
        if (fd < 0) {
            rc = bk_error_set_errno(err, errno, "storage_get", argv[2], "cannot create \"%s\"", tmp);
            tmp[0] = '\0';
            goto out;
        }
    }
    if ((rc = bk_sink_fd_new(&sink, fd, to_stdout ? "stdout" : argv[2], err)) != BK_OK)
        goto out;
    rc = storage_get(st, key, 0, 0, sink, err);
    if (rc == BK_OK && !to_stdout) {
        if (fsync(fd) != 0 || rename(tmp, argv[2]) != 0)
            rc = bk_error_set_errno(err, errno, "storage_get", argv[2], "cannot write \"%s\"", argv[2]);
        else
            tmp[0] = '\0';
    }
out:
    bk_sink_free(sink);
    if (fd > STDOUT_FILENO)
        close(fd);
    if (tmp[0] != '\0')
        unlink(tmp);
    storage_close(st);
    return rc;
}

static int storage_cmd_rm(int argc, char **argv, struct bk_error *err)
{
    struct storage *st = NULL;
    char root[2048];
    const char *key;
    int rc;
    if (argc != 2)
        return ctl_usage_error(err, STORAGE_USAGE, "storage rm needs URL");
    if ((rc = split_object_url(argv[1], root, sizeof(root), &key, err)) != BK_OK)
        return rc;
    if ((rc = ctl_open_storage(&st, root, err)) != BK_OK)
        return rc;
    rc = storage_remove(st, key, err);
    storage_close(st);
    return rc;
}

static int storage_cmd_stat(int argc, char **argv, struct bk_error *err)
{
    struct storage *st = NULL;
    struct storage_stat info;
    char root[2048];
    char when[40];
    const char *key;
    int rc;
    if (argc != 2)
        return ctl_usage_error(err, STORAGE_USAGE, "storage stat needs URL");
    if ((rc = split_object_url(argv[1], root, sizeof(root), &key, err)) != BK_OK)
        return rc;
    if ((rc = ctl_open_storage(&st, root, err)) != BK_OK)
        return rc;
    rc = storage_stat(st, key, &info, err);
    if (rc == BK_OK) {
        bk_time_format_rfc3339(info.mtime_us, 3, when, sizeof(when));
        printf("size: %llu\nmodified: %s\netag: %s\n", (unsigned long long)info.size, when, info.etag);
    }
    storage_close(st);
    return rc;
}

/* Writes, reads back, lists and deletes a probe object; says which step failed. */
static int storage_cmd_check(int argc, char **argv, struct bk_error *err)
{
    struct storage *st = NULL;
    struct storage_list *it = NULL;
    const struct storage_entry *e;
    struct bk_buf got;
    char key[128];
    char payload[256];
    bool listed = false;
    bool exists = true;
    int rc;
    const char *step = "open";
    bk_buf_init(&got, 4096);
    if (argc != 2)
        return ctl_usage_error(err, STORAGE_USAGE, "storage check needs URL");
    snprintf(key, sizeof(key), ".backupctl-check-%d-%lld", (int)getpid(), (long long)bk_time_now_us());
    snprintf(payload, sizeof(payload), "backupctl storage check probe %s\n", key);
    if ((rc = ctl_open_storage(&st, argv[1], err)) != BK_OK)
        goto out;
    step = "write";
    if ((rc = storage_put_buf(st, key, payload, strlen(payload), NULL, err)) != BK_OK)
        goto out;
    printf("ok - write %s\n", key);
    step = "read";
    if ((rc = storage_get_buf(st, key, &got, err)) != BK_OK)
        goto out;
    if (got.len != strlen(payload) || memcmp(got.data, payload, got.len) != 0) {
        rc = bk_error_set(err, BK_ECORRUPT, "storage_check", key, "read back %zu bytes that differ from the %zu written", got.len, strlen(payload));
        goto out;
    }
    printf("ok - read back %zu bytes\n", got.len);
    step = "list";
    if ((rc = storage_list_new(&it, st, ".backupctl-check-", true, err)) != BK_OK)
        goto out;
    while ((rc = storage_list_next(it, &e, err)) == 1)
        if (strcmp(e->key, key) == 0)
            listed = true;
    if (rc < 0)
        goto out;
    if (!listed) {
        rc = bk_error_set(err, BK_ECORRUPT, "storage_check", key, "probe object is missing from the listing");
        goto out;
    }
    printf("ok - listed\n");
    step = "delete";
    if ((rc = storage_remove(st, key, err)) != BK_OK)
        goto out;
    if ((rc = storage_exists(st, key, &exists, err)) != BK_OK)
        goto out;
    if (exists) {
        rc = bk_error_set(err, BK_ECORRUPT, "storage_check", key, "probe object still exists after delete");
        goto out;
    }
    printf("ok - deleted\nstorage check passed: %s\n", storage_describe(st));
out:
    if (rc < 0) {
        char context[64];
        snprintf(context, sizeof(context), "storage check failed at step \"%s\"", step);
        bk_error_wrap(err, context);
        if (st != NULL && strcmp(step, "write") != 0 && strcmp(step, "open") != 0)
            storage_remove(st, key, &(struct bk_error)BK_ERROR_INIT);
    }
    storage_list_free(it);
    bk_buf_free(&got);
    storage_close(st);
    return rc < 0 ? rc : BK_OK;
}

int cmd_storage(int argc, char **argv, struct bk_error *err)
{
    static const struct ctl_command subs[] = {
        { "ls", "list objects", storage_cmd_ls },
        { "put", "upload a file or stdin", storage_cmd_put },
        { "get", "download to a file or stdout", storage_cmd_get },
        { "rm", "delete an object", storage_cmd_rm },
        { "stat", "show size, time and etag", storage_cmd_stat },
        { "check", "write, read, list and delete a probe object", storage_cmd_check },
    };
    if (argc < 2)
        return ctl_usage_error(err, STORAGE_USAGE, "storage needs a subcommand");
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1, err);
    return ctl_usage_error(err, STORAGE_USAGE, "unknown storage subcommand \"%s\"", argv[1]);
}

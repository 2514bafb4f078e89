/*
 * backupctl delete (retain N | before NAME|TIME) and backup-mark: option parsing and output;
 * the rules are in backupd/engine/retention.c. delete is a dry run unless --confirm.
 */
#include "ctl.h"

#include <stdio.h>
#include <string.h>

#include "bk_log.h"
#include "bk_str.h"
#include "bk_time.h"
#include "retention.h"

#define DELETE_USAGE "backupctl delete [--repo URL] retain N | before NAME|TIME [--confirm]"
#define MARK_USAGE "backupctl backup-mark [--repo URL] NAME [--impermanent]"

static void print_line(void *payload, const char *line)
{
    (void)payload;
    printf("%s\n", line);
}

int cmd_delete(int argc, char **argv, struct bk_error *err)
{
    struct retention_opts opts;
    struct retention_result res;
    struct storage *st = NULL;
    const char *repo = NULL;
    const char *words[3] = { NULL, NULL, NULL };
    int n_words = 0;
    int rc;
    memset(&opts, 0, sizeof(opts));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--confirm") == 0)
            opts.confirm = true;
        else if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc)
            repo = argv[++i];
        else if (argv[i][0] == '-')
            return ctl_usage_error(err, DELETE_USAGE, "unknown option \"%s\"", argv[i]);
        else if (n_words < 3)
            words[n_words++] = argv[i];
        else
            return ctl_usage_error(err, DELETE_USAGE, "unexpected argument \"%s\"", argv[i]);
    }
    if (n_words != 2)
        return ctl_usage_error(err, DELETE_USAGE, "delete needs \"retain N\" or \"before NAME|TIME\"");
    if (strcmp(words[0], "retain") == 0) {
        int64_t n;
        if ((rc = bk_parse_int64(words[1], 1, 100000, "retain count", &n, err)) != BK_OK)
            return rc;
        opts.mode = RETENTION_RETAIN;
        opts.retain = (unsigned)n;
    } else if (strcmp(words[0], "before") == 0) {
        if (strncmp(words[1], "base_", 5) == 0) {
            opts.mode = RETENTION_BEFORE_NAME;
            opts.name = words[1];
        } else {
            opts.mode = RETENTION_BEFORE_TIME;
            if ((rc = bk_time_parse_rfc3339(words[1], &opts.time_us, err)) != BK_OK) {
                bk_error_set_hint(err, "give a backup name (base_...) or an RFC 3339 time");
                return rc;
            }
        }
    } else {
        return ctl_usage_error(err, DELETE_USAGE, "unknown delete mode \"%s\"", words[0]);
    }
    if ((rc = ctl_open_storage(&st, repo, err)) != BK_OK)
        return rc;
    rc = retention_run(&res, st, &opts, print_line, NULL, err);
    storage_close(st);
    return rc;
}

int cmd_backup_mark(int argc, char **argv, struct bk_error *err)
{
    struct storage *st = NULL;
    const char *repo = NULL;
    const char *name = NULL;
    bool permanent = true;
    int rc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--impermanent") == 0 || strcmp(argv[i], "-i") == 0)
            permanent = false;
        else if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc)
            repo = argv[++i];
        else if (argv[i][0] == '-')
            return ctl_usage_error(err, MARK_USAGE, "unknown option \"%s\"", argv[i]);
        else if (name == NULL)
            name = argv[i];
        else
            return ctl_usage_error(err, MARK_USAGE, "unexpected argument \"%s\"", argv[i]);
    }
    if (name == NULL)
        return ctl_usage_error(err, MARK_USAGE, "backup-mark needs a backup name");
    if ((rc = ctl_open_storage(&st, repo, err)) != BK_OK)
        return rc;
    rc = retention_mark(st, name, permanent, err);
    if (rc == BK_OK)
        printf("%s is now %s\n", name, permanent ? "permanent" : "impermanent");
    storage_close(st);
    return rc;
}

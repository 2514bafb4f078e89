/*
 * backupctl: the CLI entry point. Parses global options, configures logging, dispatches to a
 * command, and maps the returned code to an exit status with one error line (plus a hint).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_log.h"
#include "ctl.h"

static const struct ctl_command commands[] = {
    { "backup-push", "take a base backup over the replication protocol", cmd_backup_push },
    { "backup-fetch", "restore a base backup into an empty directory (PITR settings)", cmd_backup_fetch },
    { "backup-list", "list backups like wal-g backup-list", cmd_backup_list },
    { "backup-mark", "mark a backup permanent (or --impermanent)", cmd_backup_mark },
    { "delete", "retention: retain N | before NAME|TIME (dry run unless --confirm)", cmd_delete },
    { "storage", "ls|put|get|rm|stat|check objects in a storage URL", cmd_storage },
    /* WAL archiving (cmd_wal.c) */
    { "wal-push", "archive one WAL file (archive_command 'backupctl wal-push %p')", cmd_wal_push },
    { "wal-fetch", "restore one WAL file (restore_command 'backupctl wal-fetch %f %p')", cmd_wal_fetch },
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: backupctl [-v|-vv] [--log-level LEVEL] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nstorage is chosen by URL or by WAL-G's variables (WALG_S3_PREFIX, WALG_AZ_PREFIX,\n"
                 "WALG_GS_PREFIX, WALG_FILE_PREFIX); see docs/storage.md.\n");
}

int main(int argc, char **argv)
{
    struct bk_error err = BK_ERROR_INIT;
    enum bk_log_level level = BK_LOG_INFO;
    const char *env_level = getenv("BACKUP_LOG_LEVEL");
    int i = 1;
    int rc;

    if (env_level != NULL && bk_log_level_parse(env_level, &level) != BK_OK) {
        fprintf(stderr, "backupctl: error: BACKUP_LOG_LEVEL \"%s\" is not one of error, warn, info, debug, trace\n", env_level);
        return 2;
    }
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0) {
            level = BK_LOG_DEBUG;
        } else if (strcmp(argv[i], "-vv") == 0) {
            level = BK_LOG_TRACE;
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            if (bk_log_level_parse(argv[++i], &level) != BK_OK) {
                fprintf(stderr, "backupctl: error: --log-level \"%s\" is not one of error, warn, info, debug, trace\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            print_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "backupctl: error: unknown option \"%s\"\n", argv[i]);
            print_usage(stderr);
            return 2;
        }
    }
    bk_log_configure(level, BK_LOG_TEXT, "backupctl");
    if (i >= argc) {
        print_usage(stderr);
        return 2;
    }
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
        if (strcmp(argv[i], commands[c].name) != 0)
            continue;
        rc = commands[c].run(argc - i, argv + i, &err);
        if (rc == BK_OK)
            return 0;
        bk_log_error(BK_LOG_ERROR, argv[i], &err);
        return err.exit_status != 0 ? err.exit_status : bk_code_exit_status(rc);
    }
    fprintf(stderr, "backupctl: error: unknown command \"%s\"\n", argv[i]);
    print_usage(stderr);
    return 2;
}

/*
 * backupctl internals (layer 4): the command table and helpers shared by cmd_*.c files.
 * Only this layer reads the environment; it passes configuration down as structs.
 */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>

#include "bk_error.h"
#include "storage.h"
#include "storage_config.h"

struct ctl_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv, struct bk_error *err);
};

/* Environment lookup handed to lower layers (getenv). */
const char *ctl_env(const char *name);

/* Opens the storage named by url, or by WAL-G's *_PREFIX variables when url is NULL. */
int ctl_open_storage(struct storage **out, const char *url, struct bk_error *err);

/* Usage error: fills err with BK_EINVAL and the command's usage line as hint. */
int ctl_usage_error(struct bk_error *err, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int cmd_storage(int argc, char **argv, struct bk_error *err);
int cmd_backup_push(int argc, char **argv, struct bk_error *err);
int cmd_backup_fetch(int argc, char **argv, struct bk_error *err);
int cmd_backup_list(int argc, char **argv, struct bk_error *err);
int cmd_delete(int argc, char **argv, struct bk_error *err);
int cmd_backup_mark(int argc, char **argv, struct bk_error *err);

/* WAL archiving (cmd_wal.c) */
int cmd_wal_push(int argc, char **argv, struct bk_error *err);
int cmd_wal_fetch(int argc, char **argv, struct bk_error *err);

#endif

/* Helpers shared by backupctl's commands: environment, storage opening, usage errors. */
#include "ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *ctl_env(const char *name)
{
    return getenv(name);
}

int ctl_open_storage(struct storage **out, const char *url, struct bk_error *err)
{
    struct storage_config cfg;
    int rc;
    storage_config_init(&cfg);
    rc = storage_config_load(&cfg, url, ctl_env, err);
    if (rc == BK_OK)
        rc = storage_open(out, &cfg, err);
    storage_config_free(&cfg);
    return rc;
}

int ctl_usage_error(struct bk_error *err, const char *usage, const char *fmt, ...)
{
    va_list ap;
    char msg[256];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bk_error_set(err, BK_EINVAL, "usage", NULL, "%s", msg);
    bk_error_set_hint(err, "usage: %s", usage);
    return BK_EINVAL;
}

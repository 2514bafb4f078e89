/* Filesystem helpers; see bk_fs.h. */
#include "bk_fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

int bk_mkdir_p(const char *dir, mode_t mode, const char *op, struct bk_error *err)
{
    char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof(buf), "%s", dir) >= sizeof(buf))
        return bk_error_set(err, BK_EINVAL, op, dir, "path \"%s\" is too long", dir);
    for (char *p = buf + 1;; p++) {
        char saved;
        if (*p != '/' && *p != '\0')
            continue;
        saved = *p;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return bk_error_set_errno(err, errno, op, buf, "cannot create directory \"%s\"", buf);
        *p = saved;
        if (saved == '\0')
            break;
    }
    return BK_OK;
}

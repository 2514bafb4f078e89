/* Small filesystem helpers shared by the local driver and the WAL engines. */
#ifndef BK_FS_H
#define BK_FS_H

#include <sys/types.h>

#include "bk_error.h"

/* mkdir -p: creates dir and every missing parent with mode; existing ones are fine.
 * op names the caller's operation in errors. */
int bk_mkdir_p(const char *dir, mode_t mode, const char *op, struct bk_error *err);

#endif

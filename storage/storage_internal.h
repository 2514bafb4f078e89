/* Front-end internals shared by storage.c and storage_writer.c only. */
#ifndef STORAGE_INTERNAL_H
#define STORAGE_INTERNAL_H

#include "storage_driver.h"

struct storage {
    const struct storage_driver_ops *ops;
    struct storage_driver *drv;
    char *root;                 /* prefix + '/' or "" */
    char describe[600];
    size_t part_size;
    unsigned parallelism;
};

int storage_key_check(const char *key, struct bk_error *err);
int storage_key_join(char **out, const struct storage *st, const char *key, struct bk_error *err);

#endif

/* Looks a driver up by URL scheme; used by storage.c only. */
#ifndef STORAGE_REGISTRY_H
#define STORAGE_REGISTRY_H

#include "storage_driver.h"

int storage_registry_find(const struct storage_driver_ops **out, const char *scheme,
                          struct bk_error *err);

#endif

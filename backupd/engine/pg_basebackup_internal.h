/* Folder-private helpers shared by pg_basebackup_stream.c and pg_basebackup_text.c. */
#ifndef PG_BASEBACKUP_INTERNAL_H
#define PG_BASEBACKUP_INTERNAL_H

#include <stdint.h>

/* Whole string must be decimal digits with a value <= max; returns 0 or -1. */
int pgbb_uint_parse(const char *text, uint64_t max, uint64_t *out);

#endif

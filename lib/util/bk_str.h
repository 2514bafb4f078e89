/*
 * Small string helpers: checked number parsing, size parsing ("8MiB"), URI encoding, and
 * safe copies. Nothing here allocates unless it says so.
 */
#ifndef BK_STR_H
#define BK_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_error.h"

/* Whole string must be a decimal integer in [min, max]; what names the value in errors. */
int bk_parse_int64(const char *text, int64_t min, int64_t max, const char *what, int64_t *out,
                   struct bk_error *err);
/* "1048576", "64k", "8MiB", "1G" (binary units). */
int bk_parse_size(const char *text, const char *what, uint64_t *out, struct bk_error *err);
/* "true/false/1/0/yes/no/on/off". */
int bk_parse_bool(const char *text, const char *what, bool *out, struct bk_error *err);

/* RFC 3986 percent-encoding; unreserved chars kept; '/' kept when keep_slash. */
int bk_uri_encode(struct bk_buf *out, const char *text, bool keep_slash, struct bk_error *err);

bool bk_str_starts_with(const char *text, const char *prefix);
bool bk_str_ends_with(const char *text, const char *suffix);
/* strdup that reports BK_ENOMEM. */
int bk_strdup(char **out, const char *text, struct bk_error *err);
/* Frees and zeroes a heap string holding a secret. NULL-safe. */
void bk_secret_free(char *secret);

#endif

/*
 * Time formats: RFC 3339 as WAL-G writes it (UTC, 'Z', microseconds with trailing zeros
 * trimmed), parsing of RFC 3339 with offsets, and HTTP dates.
 */
#ifndef BK_TIME_H
#define BK_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bk_error.h"

/* Microseconds since the Unix epoch. */
int64_t bk_time_now_us(void);
/* Monotonic milliseconds, for deadlines and durations. */
int64_t bk_time_mono_ms(void);
/* Go-style RFC 3339 with fraction trimmed: "2025-06-01T01:00:02.123456Z" / "...:02Z".
 * frac_digits: 6 (WAL-G metadata), 3 (backup-list --json), 0 (seconds). */
void bk_time_format_rfc3339(int64_t us, int frac_digits, char *out, size_t out_cap);
/* Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" ('t'/'z'/space also accepted).
 * BK_EINVAL naming the problem otherwise; a time without zone is refused. */
int bk_time_parse_rfc3339(const char *text, int64_t *out_us, struct bk_error *err);

#endif

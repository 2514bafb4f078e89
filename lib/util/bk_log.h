/*
 * Logging to stderr: text for backupctl, JSON lines for backupd. Thread-safe (one write per
 * line). There is deliberately no way to format a struct bk_secret: secrets never reach logs.
 */
#ifndef BK_LOG_H
#define BK_LOG_H

#include "bk_error.h"

enum bk_log_level { BK_LOG_ERROR = 0, BK_LOG_WARN, BK_LOG_INFO, BK_LOG_DEBUG, BK_LOG_TRACE };
enum bk_log_format { BK_LOG_TEXT = 0, BK_LOG_JSON };

/* Set once by main before threads start. */
void bk_log_configure(enum bk_log_level level, enum bk_log_format format, const char *program);
/* Parses "error|warn|info|debug|trace"; returns BK_EINVAL for anything else. */
int bk_log_level_parse(const char *text, enum bk_log_level *out);
enum bk_log_level bk_log_get_level(void);
bool bk_log_enabled(enum bk_log_level level);

/* event: short machine-friendly name ("wal_push", "http_retry"). */
void bk_log(enum bk_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Logs err as one line (plus "hint: ..." when set) at the given level. */
void bk_log_error(enum bk_log_level level, const char *event, const struct bk_error *err);

#define bk_log_debug(event, ...) do { if (bk_log_enabled(BK_LOG_DEBUG)) bk_log(BK_LOG_DEBUG, event, __VA_ARGS__); } while (0)
#define bk_log_trace(event, ...) do { if (bk_log_enabled(BK_LOG_TRACE)) bk_log(BK_LOG_TRACE, event, __VA_ARGS__); } while (0)

#endif

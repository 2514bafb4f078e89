/* stderr logger; one fputs per line so lines from threads never interleave. */
#include "bk_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum bk_log_level log_level = BK_LOG_INFO;
static enum bk_log_format log_format = BK_LOG_TEXT;
static const char *log_program = "backupctl";

static const char *level_names[] = { "error", "warn", "info", "debug", "trace" };

void bk_log_configure(enum bk_log_level level, enum bk_log_format format, const char *program)
{
    log_level = level;
    log_format = format;
    if (program != NULL)
        log_program = program;
}

int bk_log_level_parse(const char *text, enum bk_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *out = (enum bk_log_level)i;
            return BK_OK;
        }
    }
    return BK_EINVAL;
}

enum bk_log_level bk_log_get_level(void) { return log_level; }

bool bk_log_enabled(enum bk_log_level level) { return level <= log_level; }

static void json_escape_into(char *out, size_t cap, const char *in)
{
    size_t used = 0;
    for (; *in != '\0' && used + 7 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\') {
            out[used++] = '\\';
            out[used++] = (char)c;
        } else if (c < 0x20) {
            used += (size_t)snprintf(out + used, cap - used, "\\u%04x", c);
        } else {
            out[used++] = (char)c;
        }
    }
    out[used] = '\0';
}

static void emit(enum bk_log_level level, const char *event, const char *text)
{
    char line[2048];
    if (log_format == BK_LOG_JSON) {
        char esc[1536];
        char ts[40];
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        json_escape_into(esc, sizeof(esc), text);
        snprintf(line, sizeof(line), "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":\"%s\",\"msg\":\"%s\"}\n",
                 ts, now.tv_nsec / 1000000, level_names[level], event, esc);
    } else {
        snprintf(line, sizeof(line), "%s: %s: %s\n", log_program, level_names[level], text);
    }
    fputs(line, stderr);
}

void bk_log(enum bk_log_level level, const char *event, const char *fmt, ...)
{
    char text[1536];
    va_list ap;
    if (!bk_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    emit(level, event, text);
}

void bk_log_error(enum bk_log_level level, const char *event, const struct bk_error *err)
{
    char text[1024];
    if (!bk_log_enabled(level))
        return;
    bk_error_format(err, text, sizeof(text));
    emit(level, event, text);
    if (err->hint[0] != '\0')
        bk_log(level, event, "hint: %s", err->hint);
}

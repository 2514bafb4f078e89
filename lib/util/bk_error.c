/* Error recording and formatting; see bk_error.h. Never allocates. */
#include "bk_error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void copy_field(char *dst, size_t cap, const char *src)
{
    if (src == NULL) {
        dst[0] = '\0';
        return;
    }
    snprintf(dst, cap, "%s", src);
}

static int set_va(struct bk_error *err, int code, const char *op, const char *object,
                  const char *fmt, va_list ap)
{
    if (err == NULL)
        return code;
    err->code = code;
    copy_field(err->op, sizeof(err->op), op);
    copy_field(err->object, sizeof(err->object), object);
    err->http_status = 0;
    err->sys_errno = 0;
    err->server_code[0] = '\0';
    err->hint[0] = '\0';
    err->exit_status = 0;
    err->retryable = bk_code_retryable(code);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    return code;
}

int bk_error_set(struct bk_error *err, int code, const char *op, const char *object,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_va(err, code, op, object, fmt, ap);
    va_end(ap);
    return code;
}

int bk_error_set_errno(struct bk_error *err, int sys_errno, const char *op, const char *object,
                       const char *fmt, ...)
{
    int code = bk_code_from_errno(sys_errno);
    va_list ap;
    va_start(ap, fmt);
    set_va(err, code, op, object, fmt, ap);
    va_end(ap);
    if (err != NULL) {
        size_t used = strlen(err->message);
        err->sys_errno = sys_errno;
        snprintf(err->message + used, sizeof(err->message) - used, ": %s", strerror(sys_errno));
    }
    return code;
}

int bk_error_wrap(struct bk_error *err, const char *context)
{
    char old[sizeof(err->message)];
    if (err == NULL)
        return BK_EINTERNAL;
    memcpy(old, err->message, sizeof(old));
    snprintf(err->message, sizeof(err->message), "%s: %s", context, old);
    return err->code;
}

void bk_error_set_hint(struct bk_error *err, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
    va_end(ap);
}

void bk_error_clear(struct bk_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}

int bk_code_from_errno(int sys_errno)
{
    switch (sys_errno) {
    case ENOENT: case ENOTDIR: return BK_ENOTFOUND;
    case EEXIST: return BK_EEXISTS;
    case ENOSPC: case EDQUOT: return BK_ENOSPC;
    case ENOMEM: return BK_ENOMEM;
    case EACCES: case EPERM: return BK_EDENIED;
    case EINVAL: case ENAMETOOLONG: return BK_EINVAL;
    case ETIMEDOUT: return BK_ETIMEOUT;
    case ECONNREFUSED: case ECONNRESET: case EPIPE: return BK_ENET;
    default: return BK_EIO;
    }
}

const char *bk_code_name(int code)
{
    switch (code) {
#define BK_CODE(name, value, exit_status, retryable) case value: return #name;
#include "bk_codes.h"
#undef BK_CODE
    default: return "BK_EUNKNOWN";
    }
}

int bk_code_exit_status(int code)
{
    switch (code) {
#define BK_CODE(name, value, exit_status, retryable) case value: return exit_status;
#include "bk_codes.h"
#undef BK_CODE
    default: return 1;
    }
}

bool bk_code_retryable(int code)
{
    switch (code) {
#define BK_CODE(name, value, exit_status, retryable) case value: return retryable;
#include "bk_codes.h"
#undef BK_CODE
    default: return false;
    }
}

void bk_error_format(const struct bk_error *err, char *out, size_t out_cap)
{
    size_t used = 0;
    if (out_cap == 0)
        return;
    out[0] = '\0';
    if (err == NULL)
        return;
#define APPEND(...) do { if (used < out_cap) { int n_ = snprintf(out + used, out_cap - used, __VA_ARGS__); \
        if (n_ > 0) used += (size_t)n_; } } while (0)
    if (err->op[0] != '\0')
        APPEND("%s: ", err->op);
    APPEND("%s", err->message[0] != '\0' ? err->message : bk_code_name(err->code));
    if (err->object[0] != '\0' && strstr(err->message, err->object) == NULL)
        APPEND(" (object \"%s\")", err->object);
    if (err->http_status != 0)
        APPEND(" [HTTP %d%s%s]", err->http_status, err->server_code[0] ? " " : "", err->server_code);
#undef APPEND
}

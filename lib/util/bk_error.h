/*
 * Error model: functions return 0 or a negative enum bk_code and fill a caller-owned
 * struct bk_error. Recording an error never allocates. An error is logged once, by the
 * layer that decides what to do; lower layers only fill it and return.
 */
#ifndef BK_ERROR_H
#define BK_ERROR_H

#include <stdbool.h>
#include <stddef.h>

enum bk_code {
#define BK_CODE(name, value, exit_status, retryable) name = (value),
#include "bk_codes.h"
#undef BK_CODE
};

struct bk_error {
    int code;               /* the value that was returned */
    char op[48];            /* "s3_upload_part" */
    char object[512];       /* key or path; never a URL carrying credentials */
    int http_status;        /* 0 if none */
    int sys_errno;          /* 0 if none */
    char server_code[64];   /* "SlowDown", "AuthenticationFailed" */
    bool retryable;
    char message[384];      /* lowercase, no trailing period */
    char hint[160];         /* optional advice, "" if none */
    int exit_status;        /* 0 = from code; a program layer may choose another (wal-fetch's 200) */
};

#define BK_ERROR_INIT {0}

/* Records code, operation, object and a printf-style message; returns code so callers can
 * write `return bk_error_set(...)`. op and object may be NULL. */
int bk_error_set(struct bk_error *err, int code, const char *op, const char *object,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Like bk_error_set, and records errno's value and text (": <strerror>" is appended). */
int bk_error_set_errno(struct bk_error *err, int sys_errno, const char *op, const char *object,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Prefixes the message with "<context>: " and keeps code, object and server details. */
int bk_error_wrap(struct bk_error *err, const char *context);

void bk_error_set_hint(struct bk_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void bk_error_clear(struct bk_error *err);

/* Maps an errno value to the closest code (ENOENT -> BK_ENOTFOUND, ENOSPC -> BK_ENOSPC ...). */
int bk_code_from_errno(int sys_errno);

const char *bk_code_name(int code);
int bk_code_exit_status(int code);
bool bk_code_retryable(int code);

/* One line for humans: "<op>: <message> (object "<o>", HTTP 503 SlowDown)". Always
 * NUL-terminates; truncates to out_cap. */
void bk_error_format(const struct bk_error *err, char *out, size_t out_cap);

#endif

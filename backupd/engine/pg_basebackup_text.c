/*
 * Text helpers of the BASE_BACKUP client: the command in both dialects, LSN and
 * wal_segment_size parsing, the WAL-G backup name, and scrubbing the password out of libpq
 * messages. No I/O here, so all of it is unit-tested without a server.
 */
#include "pg_basebackup_stream.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "bk_str.h"
#include "pg_basebackup_internal.h"
#include "walg_names.h"

#define PGBB_MAX_SECRETS 6

/* ---- small parsers ---- */

int pgbb_lsn_parse(const char *text, uint64_t *out, struct bk_error *err)
{
    unsigned int hi = 0, lo = 0;
    int used = 0;
    if (text == NULL || sscanf(text, "%X/%X%n", &hi, &lo, &used) != 2 || text[used] != '\0' ||
        !isxdigit((unsigned char)text[0]))
        return bk_error_set(err, BK_EPROTO, "pgbb_lsn_parse", NULL, "invalid LSN \"%.40s\"",
                            text != NULL ? text : "");
    *out = (uint64_t)hi << 32 | lo;
    return BK_OK;
}

int pgbb_uint_parse(const char *text, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;
    if (text == NULL || !isdigit((unsigned char)text[0]))
        return -1;
    v = strtoull(text, &end, 10);
    if (*end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

int pgbb_wal_segment_size_parse(const char *text, uint32_t *out, struct bk_error *err)
{
    static const struct { const char *unit; uint64_t mult; } units[] = {
        { "", 1 }, { "B", 1 }, { "kB", 1024 }, { "MB", 1024 * 1024 }, { "GB", 1024 * 1024 * 1024 },
    };
    char digits[32];
    size_t n = 0;
    uint64_t v = 0;

    while (text != NULL && isdigit((unsigned char)text[n]) && n < sizeof(digits) - 1) {
        digits[n] = text[n];
        n++;
    }
    digits[n] = '\0';
    if (n > 0 && pgbb_uint_parse(digits, UINT32_MAX, &v) == 0) {
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            uint64_t bytes = v * units[i].mult;
            if (strcmp(text + n, units[i].unit) != 0)
                continue;
            if (bytes >= (1u << 20) && bytes <= (1u << 30) && (bytes & (bytes - 1)) == 0) {
                *out = (uint32_t)bytes;
                return BK_OK;
            }
        }
    }
    return bk_error_set(err, BK_EPROTO, "pgbb_wal_segment_size_parse", NULL,
                        "invalid wal_segment_size \"%.40s\" (a power of two from 1MB to 1GB)",
                        text != NULL ? text : "");
}

int pgbb_backup_name(char *out, size_t out_cap, const struct pgbb_result *result,
                     struct bk_error *err)
{
    /* remote mode: the segment holding the start LSN on the start timeline (walg-layout.md 1.2) */
    if (result->timeline == 0)
        return bk_error_set(err, BK_EINVAL, "pgbb_backup_name", NULL, "backup name needs a timeline");
    if (walg_seg_size_check(result->wal_segment_size, err) != BK_OK)
        return BK_EINVAL;
    return walg_backup_name_format(result->timeline,
                                   walg_lsn_to_segno(result->start_lsn, result->wal_segment_size),
                                   result->wal_segment_size, NULL, out, out_cap, err);
}

/* ---- password redaction ---- */

static void pgbb_replace_all(char *text, size_t cap, const char *secret)
{
    static const char mask[] = "***";
    size_t slen = strlen(secret), mlen = sizeof(mask) - 1;
    char *p = text;

    if (slen == 0)
        return;
    while ((p = strstr(p, secret)) != NULL) {
        size_t len = strlen(text), tail = strlen(p + slen), at = (size_t)(p - text);
        if (at + mlen >= cap) {            /* not even the mask fits: cut here */
            *p = '\0';
            return;
        }
        if (len - slen + mlen >= cap)      /* no room to grow: cut the tail */
            tail = cap - 1 - at - mlen;
        memmove(p + mlen, p + slen, tail);
        memcpy(p, mask, mlen);
        p[mlen + tail] = '\0';
        p += mlen;
    }
}

static int pgbb_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Adds a heap copy of text[0..len) and, when it has %XX escapes, its decoded form. */
static void pgbb_secret_add(char **secrets, size_t *n, const char *text, size_t len)
{
    char *raw, *dec;
    size_t j = 0;
    if (len == 0 || *n + 2 > PGBB_MAX_SECRETS || (raw = strndup(text, len)) == NULL)
        return;
    secrets[(*n)++] = raw;
    if (strchr(raw, '%') == NULL && strchr(raw, '\\') == NULL)
        return;
    if ((dec = malloc(len + 1)) == NULL)
        return;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '%' && i + 2 < len && pgbb_hexval(raw[i + 1]) >= 0 &&
            pgbb_hexval(raw[i + 2]) >= 0) {
            dec[j++] = (char)(pgbb_hexval(raw[i + 1]) * 16 + pgbb_hexval(raw[i + 2]));
            i += 2;
        } else if (raw[i] == '\\' && i + 1 < len) {
            dec[j++] = raw[++i];
        } else {
            dec[j++] = raw[i];
        }
    }
    dec[j] = '\0';
    secrets[(*n)++] = dec;
}

/* Finds password values in a conninfo without trusting it to parse: keyword form
 * (password = 'x y' / password=x) anywhere, including URI query strings, and URI user:pw@. */
static size_t pgbb_secrets_find(char **secrets, const char *conninfo)
{
    size_t n = 0;
    const char *p = conninfo, *scheme;
    PQconninfoOption *parsed = PQconninfoParse(conninfo, NULL);

    for (PQconninfoOption *o = parsed; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            pgbb_secret_add(secrets, &n, o->val, strlen(o->val));
    }
    PQconninfoFree(parsed);
    while ((p = strcasestr(p, "password")) != NULL) {
        const char *v = p + 8, *end;
        while (*v == ' ' || *v == '\t')
            v++;
        p += 8;
        if (*v != '=')
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '\'') {
            for (end = ++v; *end != '\0' && *end != '\''; end++)
                if (*end == '\\' && end[1] != '\0')
                    end++;
        } else {
            for (end = v; *end != '\0' && !isspace((unsigned char)*end) && *end != '&'; end++)
                ;
        }
        pgbb_secret_add(secrets, &n, v, (size_t)(end - v));
    }
    if ((scheme = strstr(conninfo, "://")) != NULL) {
        const char *auth = scheme + 3, *at = NULL, *colon;
        for (const char *q = auth; *q != '\0' && *q != '/' && *q != '?'; q++)
            if (*q == '@')
                at = q;
        colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon != NULL)
            pgbb_secret_add(secrets, &n, colon + 1, (size_t)(at - colon - 1));
    }
    return n;
}

void pgbb_redact_password(char *text, size_t text_cap, const char *conninfo)
{
    char *secrets[PGBB_MAX_SECRETS] = { 0 };
    size_t n;
    if (text == NULL || text_cap == 0 || conninfo == NULL)
        return;
    n = pgbb_secrets_find(secrets, conninfo);
    for (size_t i = 0; i < n; i++) {
        pgbb_replace_all(text, text_cap, secrets[i]);
        bk_secret_free(secrets[i]);
    }
}

/* ---- command ---- */

static int pgbb_append(char *out, size_t out_cap, size_t *used, const char *text)
{
    size_t n = strlen(text);
    if (*used + n + 1 > out_cap)
        return -1;
    memcpy(out + *used, text, n + 1);
    *used += n;
    return 0;
}

int pgbb_build_command(char *out, size_t out_cap, int server_version_num,
                       const struct pgbb_opts *opts, struct bk_error *err)
{
    char label[2 * 1024 + 3], num[64];
    const char *checksum = manifest_checksum_name(opts->manifest_checksums);
    bool v15 = server_version_num >= PGBB_NEW_SYNTAX_VERSION;
    size_t used = 0, j = 0;
    int bad = 0;

    if (server_version_num < PGBB_MIN_SERVER_VERSION)
        return bk_error_set(err, BK_EUNSUPPORTED, "pgbb_build_command", NULL,
                            "server version %d is not supported (PostgreSQL 13 or later needed)",
                            server_version_num);
    if (opts->label == NULL || opts->label[0] == '\0' || strlen(opts->label) >= 1024)
        return bk_error_set(err, BK_EINVAL, "pgbb_build_command", NULL,
                            "backup label must have 1 to 1023 bytes");
    if (checksum == NULL)
        return bk_error_set(err, BK_EINVAL, "pgbb_build_command", NULL,
                            "invalid manifest checksum algorithm %d", (int)opts->manifest_checksums);
    if (opts->max_rate_kbps != 0 && (opts->max_rate_kbps < 32 || opts->max_rate_kbps > 1048576))
        return bk_error_set(err, BK_EINVAL, "pgbb_build_command", NULL,
                            "max rate %" PRIu32 " kB/s is outside 32..1048576", opts->max_rate_kbps);
    label[j++] = '\'';
    for (const char *p = opts->label; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return bk_error_set(err, BK_EINVAL, "pgbb_build_command", NULL,
                                "backup label must not contain control characters");
        if (*p == '\'')
            label[j++] = '\'';
        label[j++] = *p;
    }
    label[j++] = '\'';
    label[j] = '\0';

    bad |= pgbb_append(out, out_cap, &used, v15 ? "BASE_BACKUP ( LABEL " : "BASE_BACKUP LABEL ");
    bad |= pgbb_append(out, out_cap, &used, label);
    if (opts->progress)
        bad |= pgbb_append(out, out_cap, &used, v15 ? ", PROGRESS" : " PROGRESS");
    if (v15) {
        bad |= pgbb_append(out, out_cap, &used, opts->checkpoint == PGBB_CHECKPOINT_FAST
                                                     ? ", CHECKPOINT 'fast'" : ", CHECKPOINT 'spread'");
        if (!opts->wait_for_archive)
            bad |= pgbb_append(out, out_cap, &used, ", WAIT false");
        bad |= pgbb_append(out, out_cap, &used, ", WAL false");
    } else {
        if (opts->checkpoint == PGBB_CHECKPOINT_FAST)
            bad |= pgbb_append(out, out_cap, &used, " FAST");
        if (!opts->wait_for_archive)
            bad |= pgbb_append(out, out_cap, &used, " NOWAIT");
    }
    if (opts->manifest) {
        snprintf(num, sizeof(num), v15 ? ", MANIFEST 'yes', MANIFEST_CHECKSUMS '%s'"
                                       : " MANIFEST 'yes' MANIFEST_CHECKSUMS '%s'", checksum);
        bad |= pgbb_append(out, out_cap, &used, num);
    }
    bad |= pgbb_append(out, out_cap, &used, v15 ? ", TABLESPACE_MAP true" : " TABLESPACE_MAP");
    if (!opts->verify_checksums)
        bad |= pgbb_append(out, out_cap, &used, v15 ? ", VERIFY_CHECKSUMS false" : " NOVERIFY_CHECKSUMS");
    if (opts->max_rate_kbps != 0) {
        snprintf(num, sizeof(num), v15 ? ", MAX_RATE %" PRIu32 : " MAX_RATE %" PRIu32, opts->max_rate_kbps);
        bad |= pgbb_append(out, out_cap, &used, num);
    }
    if (v15)
        bad |= pgbb_append(out, out_cap, &used, ", TARGET 'client' )");
    if (bad)
        return bk_error_set(err, BK_ENOMEM, "pgbb_build_command", NULL,
                            "command does not fit in %zu bytes", out_cap);
    return BK_OK;
}


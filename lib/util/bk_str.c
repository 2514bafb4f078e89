/* String helpers; see bk_str.h. */
#include "bk_str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int bk_parse_int64(const char *text, int64_t min, int64_t max, const char *what, int64_t *out,
                   struct bk_error *err)
{
    char *end = NULL;
    long long value;
    if (text == NULL || text[0] == '\0')
        return bk_error_set(err, BK_EINVAL, "parse", what, "%s is empty", what);
    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return bk_error_set(err, BK_EINVAL, "parse", what, "%s \"%s\" is not a whole number", what, text);
    if (value < min || value > max)
        return bk_error_set(err, BK_EINVAL, "parse", what, "%s %lld is out of range [%lld, %lld]",
                            what, value, (long long)min, (long long)max);
    *out = value;
    return BK_OK;
}

int bk_parse_size(const char *text, const char *what, uint64_t *out, struct bk_error *err)
{
    char *end = NULL;
    unsigned long long value;
    uint64_t mult = 1;
    if (text == NULL || text[0] == '\0' || text[0] == '-')
        return bk_error_set(err, BK_EINVAL, "parse", what, "%s \"%s\" is not a size", what, text ? text : "");
    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno != 0 || end == text)
        return bk_error_set(err, BK_EINVAL, "parse", what, "%s \"%s\" is not a size", what, text);
    if (*end != '\0') {
        if (strcasecmp(end, "k") == 0 || strcasecmp(end, "kb") == 0 || strcasecmp(end, "kib") == 0)
            mult = 1024ULL;
        else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "mb") == 0 || strcasecmp(end, "mib") == 0)
            mult = 1024ULL * 1024;
        else if (strcasecmp(end, "g") == 0 || strcasecmp(end, "gb") == 0 || strcasecmp(end, "gib") == 0)
            mult = 1024ULL * 1024 * 1024;
        else
            return bk_error_set(err, BK_EINVAL, "parse", what, "%s \"%s\" has an unknown unit", what, text);
    }
    if (value > UINT64_MAX / mult)
        return bk_error_set(err, BK_EINVAL, "parse", what, "%s \"%s\" is too large", what, text);
    *out = value * mult;
    return BK_OK;
}

int bk_parse_bool(const char *text, const char *what, bool *out, struct bk_error *err)
{
    static const char *truthy[] = { "true", "1", "yes", "on" };
    static const char *falsy[] = { "false", "0", "no", "off" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, truthy[i]) == 0) { *out = true; return BK_OK; }
        if (strcasecmp(text, falsy[i]) == 0) { *out = false; return BK_OK; }
    }
    return bk_error_set(err, BK_EINVAL, "parse", what, "%s \"%s\" is not a boolean", what, text);
}

int bk_uri_encode(struct bk_buf *out, const char *text, bool keep_slash, struct bk_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        unsigned char c = *p;
        int rc;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            rc = bk_buf_append(out, p, 1, err);
        } else {
            char enc[3] = { '%', hex[c >> 4], hex[c & 0xf] };
            rc = bk_buf_append(out, enc, 3, err);
        }
        if (rc != BK_OK)
            return rc;
    }
    return BK_OK;
}

bool bk_str_starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

bool bk_str_ends_with(const char *text, const char *suffix)
{
    size_t tl = strlen(text), sl = strlen(suffix);
    return tl >= sl && memcmp(text + tl - sl, suffix, sl) == 0;
}

int bk_strdup(char **out, const char *text, struct bk_error *err)
{
    *out = strdup(text != NULL ? text : "");
    if (*out == NULL)
        return bk_error_set(err, BK_ENOMEM, "strdup", NULL, "out of memory");
    return BK_OK;
}

void bk_secret_free(char *secret)
{
    if (secret == NULL)
        return;
    /* volatile write so the compiler keeps the wipe */
    for (volatile char *p = secret; *p != '\0'; p++)
        *p = '\0';
    free(secret);
}

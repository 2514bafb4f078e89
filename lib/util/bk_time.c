/* Time helpers; see bk_time.h. */
#include "bk_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

int64_t bk_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t bk_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bk_time_format_rfc3339(int64_t us, int frac_digits, char *out, size_t out_cap)
{
    time_t secs = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    int64_t frac = us - (int64_t)secs * 1000000;
    struct tm tm;
    char base[32];
    char fraction[16] = "";
    gmtime_r(&secs, &tm);
    /* not strftime's %Y: it prints year 1 (Go's zero time) as "1", not "0001" */
    snprintf(base, sizeof(base), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (frac_digits > 0) {
        int64_t scaled = frac;
        int len;
        for (int d = 6; d > frac_digits; d--)
            scaled /= 10;
        len = snprintf(fraction, sizeof(fraction), ".%0*lld", frac_digits, (long long)scaled);
        while (len > 1 && fraction[len - 1] == '0')
            fraction[--len] = '\0';
        if (len == 1)
            fraction[0] = '\0';
    }
    snprintf(out, out_cap, "%s%sZ", base, fraction);
}

static int read_digits(const char **p, int count, int *out)
{
    int value = 0;
    for (int i = 0; i < count; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        value = value * 10 + ((*p)[i] - '0');
    }
    *p += count;
    *out = value;
    return 0;
}

/* Days from civil date, valid for the proleptic Gregorian calendar (H. Hinnant's method). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

int bk_time_parse_rfc3339(const char *text, int64_t *out_us, struct bk_error *err)
{
    const char *p = text;
    int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0;
    int64_t frac_us = 0;
    if (read_digits(&p, 4, &y) || *p++ != '-' || read_digits(&p, 2, &mo) || *p++ != '-' ||
        read_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        goto bad;
    p++;
    if (read_digits(&p, 2, &h) || *p++ != ':' || read_digits(&p, 2, &mi) || *p++ != ':' ||
        read_digits(&p, 2, &s))
        goto bad;
    if (*p == '.') {
        int digits = 0;
        p++;
        if (!isdigit((unsigned char)*p))
            goto bad;
        while (isdigit((unsigned char)*p)) {
            if (digits < 6) {
                frac_us = frac_us * 10 + (*p - '0');
                digits++;
            }
            p++;
        }
        while (digits++ < 6)
            frac_us *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (read_digits(&p, 2, &oh) || *p++ != ':' || read_digits(&p, 2, &om))
            goto bad;
    } else {
        return bk_error_set(err, BK_EINVAL, "parse_time", text,
                            "time \"%s\" has no time zone (add Z or an offset such as +00:00)", text);
    }
    if (*p != '\0')
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60 ||
        oh > 23 || om > 59)
        return bk_error_set(err, BK_EINVAL, "parse_time", text, "time \"%s\" is not a valid date", text);
    {
        int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
        secs -= sign * (oh * 3600 + om * 60);
        *out_us = secs * 1000000 + frac_us;
    }
    return BK_OK;
bad:
    return bk_error_set(err, BK_EINVAL, "parse_time", text,
                        "time \"%s\" is not RFC 3339 (expected e.g. 2026-01-02T03:04:05Z)", text);
}

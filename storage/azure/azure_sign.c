/*
 * Azure Storage "SharedKey" request signing (Blob service, version 2009-09-19 and later):
 * the string to sign, its canonicalized x-ms-* headers and resource, the HMAC-SHA256 with
 * the decoded account key, and the RFC 1123 dates the scheme uses. Not for SAS tokens: those
 * are signed by whoever issued them and only ride along in the query string.
 */
#include "azure_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bk_crypto.h"

/* The standard headers of the string to sign, in order, after the verb. */
static const char *const sign_std_headers[] = {
    "Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type",
    "Date", "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range",
};

struct sign_pair {
    char *name;
    char *value;
};

int azure_shared_key_init(struct azure_shared_key *sk, const char *account, const char *key_b64,
                          struct bk_error *err)
{
    int rc;
    memset(sk, 0, sizeof(*sk));
    if (account == NULL || account[0] == '\0')
        return bk_error_set(err, BK_EINVAL, "azure_open", NULL,
                            "the azure storage account name is empty (set AZURE_STORAGE_ACCOUNT)");
    if (strlen(account) >= sizeof(sk->account))
        return bk_error_set(err, BK_EINVAL, "azure_open", NULL,
                            "the azure storage account name is longer than %zu bytes",
                            sizeof(sk->account) - 1);
    snprintf(sk->account, sizeof(sk->account), "%s", account);
    if (key_b64 == NULL || key_b64[0] == '\0')
        return bk_error_set(err, BK_EINVAL, "azure_open", NULL,
                            "the azure storage access key is empty");
    rc = bk_base64_decode(key_b64, sk->key, sizeof(sk->key), &sk->key_len, err);
    if (rc != BK_OK || sk->key_len == 0) {
        azure_shared_key_clear(sk);
        /* the decoder's message names an offset only; say which setting is wrong */
        return bk_error_set(err, BK_EINVAL, "azure_open", NULL,
                            "the azure storage access key is not valid base64 "
                            "(check AZURE_STORAGE_ACCESS_KEY)");
    }
    return BK_OK;
}

void azure_shared_key_clear(struct azure_shared_key *sk)
{
    if (sk == NULL)
        return;
    for (volatile uint8_t *p = sk->key; p < sk->key + sizeof(sk->key); p++)
        *p = 0;
    sk->key_len = 0;
}

/* ---- dates ---- */

static const char *const day_names[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month_names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void azure_format_http_date(int64_t unix_s, char *out, size_t out_cap)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    /* by hand, not strftime: %a/%b follow the locale and the service wants English */
    snprintf(out, out_cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[tm.tm_wday],
             tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

int azure_parse_http_date(const char *text, int64_t *out_unix_s, struct bk_error *err)
{
    char day[4], mon[4], zone[4];
    int mday, year, hour, min, sec, used = 0;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(text, "%3s, %d %3s %d %d:%d:%d %3s%n", day, &mday, mon, &year, &hour, &min, &sec,
               zone, &used) != 8 || text[used] != '\0' || strcmp(zone, "GMT") != 0)
        goto bad;
    tm.tm_mon = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, month_names[i]) == 0)
            tm.tm_mon = i;
    if (tm.tm_mon < 0 || mday < 1 || mday > 31 || year < 1970 || hour > 23 || min > 59 || sec > 60)
        goto bad;
    tm.tm_mday = mday;
    tm.tm_year = year - 1900;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    *out_unix_s = (int64_t)timegm(&tm);
    return BK_OK;
bad:
    return bk_error_set(err, BK_EPROTO, "azure_parse_date", NULL,
                        "\"%.64s\" is not an RFC 1123 date", text);
}

/* ---- helpers ---- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int percent_decode(struct bk_buf *out, const char *text, size_t len, bool plus_is_space,
                          struct bk_error *err)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        int rc;
        if (c == '%') {
            int hi = i + 2 < len ? hex_value(text[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(text[i + 2]) : -1;
            char b;
            if (hi < 0 || lo < 0)
                return bk_error_set(err, BK_EINVAL, "azure_percent_decode", NULL,
                                    "bad percent escape at offset %zu", i);
            b = (char)(hi * 16 + lo);
            rc = bk_buf_append(out, &b, 1, err);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            rc = bk_buf_append(out, " ", 1, err);
        } else {
            rc = bk_buf_append(out, &c, 1, err);
        }
        if (rc != BK_OK)
            return rc;
    }
    return BK_OK;
}

int azure_percent_decode(struct bk_buf *out, const char *text, size_t len, struct bk_error *err)
{
    return percent_decode(out, text, len, false, err);
}

/* Query strings also decode '+' to a space, as the service (and azurite) do. */
static int query_decode(struct bk_buf *out, const char *text, size_t len, struct bk_error *err)
{
    return percent_decode(out, text, len, true, err);
}

static void pairs_free(struct sign_pair *pairs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].name);
        free(pairs[i].value);
    }
    free(pairs);
}

static int pair_compare(const void *a, const void *b)
{
    const struct sign_pair *pa = a, *pb = b;
    int c = strcmp(pa->name, pb->name);
    return c != 0 ? c : strcmp(pa->value, pb->value);
}

/* Appends a pair, taking ownership of name and value (freed here on failure). */
static int pairs_push(struct sign_pair **pairs, size_t *n, size_t *cap, char *name, char *value,
                      struct bk_error *err)
{
    if (name == NULL || value == NULL)
        goto oom;
    if (*n == *cap) {
        size_t grown_cap = *cap == 0 ? 8 : *cap * 2;
        struct sign_pair *grown = realloc(*pairs, grown_cap * sizeof(*grown));
        if (grown == NULL)
            goto oom;
        *pairs = grown;
        *cap = grown_cap;
    }
    (*pairs)[*n].name = name;
    (*pairs)[*n].value = value;
    (*n)++;
    return BK_OK;
oom:
    free(name);
    free(value);
    return bk_error_set(err, BK_ENOMEM, "azure_sign", NULL, "out of memory");
}

/* Header value for the string to sign: first match in headers, then extra; "" if absent. */
static const char *header_value(const struct azure_sign_request *req, const char *name)
{
    const char *v = NULL;
    if (req->headers != NULL)
        v = bk_http_headers_get(req->headers, name);
    if (v == NULL && req->extra != NULL)
        v = bk_http_headers_get(req->extra, name);
    return v != NULL ? v : "";
}

/* Lower-cased name; value trimmed with runs of linear whitespace folded to one space. */
static int canonical_header(const char *line, char **name_out, char **value_out)
{
    const char *colon = strchr(line, ':');
    const char *v;
    size_t name_len, j = 0;
    char *name, *value;
    *name_out = NULL;
    *value_out = NULL;
    if (colon == NULL)
        return -1;
    name_len = (size_t)(colon - line);
    while (name_len > 0 && isspace((unsigned char)line[name_len - 1]))
        name_len--;
    name = malloc(name_len + 1);
    value = malloc(strlen(colon) + 1);
    if (name == NULL || value == NULL) {
        free(name);
        free(value);
        return -1;
    }
    for (size_t i = 0; i < name_len; i++)
        name[i] = (char)tolower((unsigned char)line[i]);
    name[name_len] = '\0';
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    for (; *v != '\0'; v++) {
        bool space = *v == ' ' || *v == '\t' || *v == '\r' || *v == '\n';
        if (space && (j == 0 || value[j - 1] == ' '))
            continue;
        value[j++] = space ? ' ' : *v;
    }
    while (j > 0 && value[j - 1] == ' ')
        j--;
    value[j] = '\0';
    *name_out = name;
    *value_out = value;
    return 0;
}

static int collect_ms_headers(const struct bk_http_headers *h, struct sign_pair **pairs, size_t *n,
                              size_t *cap, struct bk_error *err)
{
    if (h == NULL)
        return BK_OK;
    for (size_t i = 0; i < h->len; i++) {
        char *name, *value;
        int rc;
        if (strncasecmp(h->lines[i], "x-ms-", 5) != 0)
            continue;
        if (canonical_header(h->lines[i], &name, &value) != 0)
            return bk_error_set(err, BK_ENOMEM, "azure_sign", NULL, "out of memory");
        if ((rc = pairs_push(pairs, n, cap, name, value, err)) != BK_OK)
            return rc;
    }
    return BK_OK;
}

static char *buf_take_string(struct bk_buf *b)
{
    char *s = strdup(bk_buf_str(b));
    bk_buf_reset(b);
    return s;
}

/* Splits the query into decoded pairs with lower-case names. */
static int collect_query(const char *query, struct sign_pair **pairs, size_t *n, size_t *cap,
                         struct bk_error *err)
{
    struct bk_buf tmp;
    int rc = BK_OK;
    bk_buf_init(&tmp, 64 * 1024);
    while (*query != '\0') {
        size_t piece_len = strcspn(query, "&#");
        const char *eq = memchr(query, '=', piece_len);
        size_t name_len = eq != NULL ? (size_t)(eq - query) : piece_len;
        char *name, *value;
        if (name_len > 0) {
            if ((rc = query_decode(&tmp, query, name_len, err)) != BK_OK)
                goto out;
            name = buf_take_string(&tmp);
            if (name != NULL)
                for (char *p = name; *p != '\0'; p++)
                    *p = (char)tolower((unsigned char)*p);
            if (eq != NULL)
                rc = query_decode(&tmp, eq + 1, piece_len - name_len - 1, err);
            value = buf_take_string(&tmp);
            if (rc != BK_OK) {
                free(name);
                free(value);
                goto out;
            }
            if ((rc = pairs_push(pairs, n, cap, name, value, err)) != BK_OK)
                goto out;
        }
        query += piece_len;
        if (*query == '#')
            break;
        if (*query == '&')
            query++;
    }
out:
    bk_buf_free(&tmp);
    return rc;
}

/* Appends "\n<name>:<v1>,<v2>..." per distinct name of the sorted pairs, or "<name>:<v>\n"
 * per header when as_headers. */
static int append_pairs(struct bk_buf *out, const struct sign_pair *pairs, size_t n,
                        bool as_headers, struct bk_error *err)
{
    int rc = BK_OK;
    for (size_t i = 0; i < n && rc == BK_OK; i++) {
        bool same_as_prev = i > 0 && strcmp(pairs[i].name, pairs[i - 1].name) == 0;
        bool same_as_next = i + 1 < n && strcmp(pairs[i].name, pairs[i + 1].name) == 0;
        if (same_as_prev)
            rc = bk_buf_printf(out, err, ",%s", pairs[i].value);
        else if (as_headers)
            rc = bk_buf_printf(out, err, "%s:%s", pairs[i].name, pairs[i].value);
        else
            rc = bk_buf_printf(out, err, "\n%s:%s", pairs[i].name, pairs[i].value);
        if (rc == BK_OK && as_headers && !same_as_next)
            rc = bk_buf_append_str(out, "\n", err);
    }
    return rc;
}

int azure_sign_string_to_sign(struct bk_buf *out, const char *account,
                              const struct azure_sign_request *req, struct bk_error *err)
{
    struct sign_pair *hdrs = NULL, *query = NULL;
    size_t n_hdrs = 0, cap_hdrs = 0, n_query = 0, cap_query = 0;
    const char *path, *path_end, *scheme_end;
    int rc;

    bk_buf_reset(out);
    if ((rc = bk_buf_printf(out, err, "%s\n", req->method)) != BK_OK)
        goto out;
    for (size_t i = 0; i < sizeof(sign_std_headers) / sizeof(sign_std_headers[0]); i++) {
        const char *name = sign_std_headers[i];
        if (strcmp(name, "Content-Length") == 0) {
            if (req->content_length > 0)
                rc = bk_buf_printf(out, err, "%zu\n", req->content_length);
            else
                rc = bk_buf_append_str(out, "\n", err);
        } else {
            rc = bk_buf_printf(out, err, "%s\n", header_value(req, name));
        }
        if (rc != BK_OK)
            goto out;
    }

    if ((rc = collect_ms_headers(req->headers, &hdrs, &n_hdrs, &cap_hdrs, err)) != BK_OK ||
        (rc = collect_ms_headers(req->extra, &hdrs, &n_hdrs, &cap_hdrs, err)) != BK_OK)
        goto out;
    if (n_hdrs > 0)
        qsort(hdrs, n_hdrs, sizeof(*hdrs), pair_compare);
    if ((rc = append_pairs(out, hdrs, n_hdrs, true, err)) != BK_OK)
        goto out;

    /* canonicalized resource: "/<account><encoded path>" then the sorted query */
    scheme_end = strstr(req->url, "://");
    path = scheme_end != NULL ? scheme_end + 3 : req->url;
    path += strcspn(path, "/?#");
    path_end = path + strcspn(path, "?#");
    if ((rc = bk_buf_printf(out, err, "/%s", account)) != BK_OK)
        goto out;
    if (path_end == path)
        rc = bk_buf_append_str(out, "/", err);
    else
        rc = bk_buf_append(out, path, (size_t)(path_end - path), err);
    if (rc != BK_OK)
        goto out;
    if (*path_end == '?') {
        if ((rc = collect_query(path_end + 1, &query, &n_query, &cap_query, err)) != BK_OK)
            goto out;
        if (n_query > 0)
            qsort(query, n_query, sizeof(*query), pair_compare);
        rc = append_pairs(out, query, n_query, false, err);
    }
out:
    pairs_free(hdrs, n_hdrs);
    pairs_free(query, n_query);
    return rc;
}

void azure_sign_authorization(char *out, size_t out_cap, const struct azure_shared_key *sk,
                              const char *string_to_sign)
{
    uint8_t mac[BK_SHA256_LEN];
    char mac_b64[4 * ((BK_SHA256_LEN + 2) / 3) + 1];
    bk_hmac_sha256(sk->key, sk->key_len, string_to_sign, strlen(string_to_sign), mac);
    bk_base64_encode(mac, sizeof(mac), mac_b64);
    snprintf(out, out_cap, "SharedKey %s:%s", sk->account, mac_b64);
}

int azure_sign_add_headers(struct bk_http_headers *extra, const struct azure_shared_key *sk,
                           const struct azure_sign_request *req, int64_t unix_s,
                           struct bk_error *err)
{
    char date[AZURE_DATE_CAP];
    char auth[AZURE_AUTH_CAP];
    struct bk_buf sts;
    struct azure_sign_request with_date = *req;
    int rc;

    bk_buf_init(&sts, 256 * 1024);
    azure_format_http_date(unix_s, date, sizeof(date));
    if ((rc = bk_http_headers_add(extra, "x-ms-date", date, err)) != BK_OK)
        goto out;
    with_date.extra = extra;
    if ((rc = azure_sign_string_to_sign(&sts, sk->account, &with_date, err)) != BK_OK)
        goto out;
    azure_sign_authorization(auth, sizeof(auth), sk, bk_buf_str(&sts));
    rc = bk_http_headers_add(extra, "Authorization", auth, err);
out:
    bk_buf_free(&sts);
    return rc;
}

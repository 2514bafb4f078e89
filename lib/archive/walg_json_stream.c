/*
 * Push tokenizer for large JSON documents (see walg_json_stream.h). A byte-at-a-time state
 * machine: strings are decoded into one bounded token buffer (lone surrogates and bad escapes
 * follow Go: U+FFFD), numbers are checked against the JSON grammar, and containers only cost one
 * byte of nesting stack. It validates syntax; meaning is the callback's business.
 */
#include "walg_json_stream.h"

#include <string.h>

enum {
    S_VALUE,            /* a value must follow (top level, after ':' or ',' in an array) */
    S_VALUE_OR_CLOSE,   /* just after '[' */
    S_KEY_OR_CLOSE,     /* just after '{' */
    S_KEY,              /* after ',' in an object */
    S_COLON,
    S_COMMA_OR_CLOSE,
    S_STRING,
    S_NUMBER,
    S_LITERAL,
    S_DONE
};

void walg_jstream_init(struct walg_jstream *s, walg_jev_cb cb, void *payload, const char *what,
                       const char *object, size_t max_token)
{
    memset(s, 0, sizeof(*s));
    s->cb = cb;
    s->payload = payload;
    s->what = what;
    s->object = object;
    s->state = S_VALUE;
    bk_buf_init(&s->tok, max_token);
}

void walg_jstream_free(struct walg_jstream *s)
{
    if (s == NULL)
        return;
    bk_buf_free(&s->tok);
}

static int syntax_error(struct walg_jstream *s, unsigned char c, struct bk_error *err)
{
    if (c >= 0x20 && c < 0x7f)
        return bk_error_set(err, BK_EINVAL, "walg_jstream", s->object,
                            "%s is not valid JSON: unexpected '%c' at byte %llu", s->what, c,
                            (unsigned long long)s->offset);
    return bk_error_set(err, BK_EINVAL, "walg_jstream", s->object,
                        "%s is not valid JSON: unexpected byte 0x%02x at byte %llu", s->what, c,
                        (unsigned long long)s->offset);
}

static int emit(struct walg_jstream *s, enum walg_jev ev, struct bk_error *err)
{
    const char *text = NULL;
    size_t len = 0;
    if (ev == WALG_JEV_KEY || ev == WALG_JEV_STRING || ev == WALG_JEV_NUMBER) {
        text = bk_buf_str(&s->tok);
        len = s->tok.len;
    }
    return s->cb(s->payload, ev, text, len, err);
}

/* State after a complete value. */
static void value_done(struct walg_jstream *s)
{
    s->state = s->depth == 0 ? S_DONE : S_COMMA_OR_CLOSE;
}

static int tok_append(struct walg_jstream *s, const void *data, size_t len, struct bk_error *err)
{
    if (s->tok.len + len > s->tok.max_cap)
        return bk_error_set(err, BK_EINVAL, "walg_jstream", s->object,
                            "%s has a string or number longer than %zu bytes at byte %llu", s->what,
                            s->tok.max_cap, (unsigned long long)s->offset);
    return bk_buf_append(&s->tok, data, len, err);
}

static int append_rune(struct walg_jstream *s, uint32_t r, struct bk_error *err)
{
    unsigned char b[4];
    size_t n;
    if (r < 0x80) {
        b[0] = (unsigned char)r;
        n = 1;
    } else if (r < 0x800) {
        b[0] = (unsigned char)(0xC0 | (r >> 6));
        b[1] = (unsigned char)(0x80 | (r & 0x3F));
        n = 2;
    } else if (r < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (r >> 12));
        b[1] = (unsigned char)(0x80 | ((r >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (r & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (r >> 18));
        b[1] = (unsigned char)(0x80 | ((r >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((r >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (r & 0x3F));
        n = 4;
    }
    return tok_append(s, b, n, err);
}

/* A high surrogate not followed by a low one becomes U+FFFD, as in Go. */
static int flush_surrogate(struct walg_jstream *s, struct bk_error *err)
{
    if (s->high_surrogate == 0)
        return BK_OK;
    s->high_surrogate = 0;
    return append_rune(s, 0xFFFD, err);
}

static int unicode_escape_done(struct walg_jstream *s, struct bk_error *err)
{
    uint32_t u = s->u_acc;
    int rc;
    if (s->high_surrogate != 0 && u >= 0xDC00 && u <= 0xDFFF) {
        uint32_t r = 0x10000 + ((s->high_surrogate - 0xD800) << 10) + (u - 0xDC00);
        s->high_surrogate = 0;
        return append_rune(s, r, err);
    }
    rc = flush_surrogate(s, err);
    if (rc != BK_OK)
        return rc;
    if (u >= 0xD800 && u <= 0xDBFF) {
        s->high_surrogate = u;
        return BK_OK;
    }
    if (u >= 0xDC00 && u <= 0xDFFF)
        u = 0xFFFD;
    return append_rune(s, u, err);
}

static int string_byte(struct walg_jstream *s, unsigned char c, struct bk_error *err)
{
    int rc;
    if (s->esc == 1) {
        static const char from[] = "\"\\/bfnrt";
        static const char to[] = "\"\\/\b\f\n\r\t";
        const char *hit = c != '\0' ? strchr(from, c) : NULL;
        if (c == 'u') {
            s->esc = 2;
            s->u_acc = 0;
            return BK_OK;
        }
        if (hit == NULL)
            return syntax_error(s, c, err);
        s->esc = 0;
        rc = flush_surrogate(s, err);
        if (rc != BK_OK)
            return rc;
        return tok_append(s, &to[hit - from], 1, err);
    }
    if (s->esc >= 2) {
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return syntax_error(s, c, err);
        s->u_acc = (s->u_acc << 4) | d;
        if (++s->esc < 6)
            return BK_OK;
        s->esc = 0;
        return unicode_escape_done(s, err);
    }
    if (c == '\\') {
        s->esc = 1;
        return BK_OK;
    }
    if (c < 0x20)
        return syntax_error(s, c, err);
    rc = flush_surrogate(s, err);
    if (rc != BK_OK)
        return rc;
    if (c == '"') {
        rc = emit(s, s->string_is_key ? WALG_JEV_KEY : WALG_JEV_STRING, err);
        if (rc != BK_OK)
            return rc;
        if (s->string_is_key)
            s->state = S_COLON;
        else
            value_done(s);
        return BK_OK;
    }
    return tok_append(s, &c, 1, err);
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_ok(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (*p >= '0' && *p <= '9')
            p++;
    } else {
        return false;
    }
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static int number_done(struct walg_jstream *s, struct bk_error *err)
{
    int rc;
    if (!number_ok(bk_buf_str(&s->tok)))
        return bk_error_set(err, BK_EINVAL, "walg_jstream", s->object,
                            "%s is not valid JSON: bad number \"%.40s\" at byte %llu", s->what,
                            bk_buf_str(&s->tok), (unsigned long long)s->offset);
    rc = emit(s, WALG_JEV_NUMBER, err);
    if (rc == BK_OK)
        value_done(s);
    return rc;
}

static int push(struct walg_jstream *s, char kind, struct bk_error *err)
{
    if (s->depth >= WALG_JSTREAM_MAX_DEPTH)
        return bk_error_set(err, BK_EINVAL, "walg_jstream", s->object,
                            "%s is not valid JSON: nested deeper than %d at byte %llu", s->what,
                            WALG_JSTREAM_MAX_DEPTH, (unsigned long long)s->offset);
    s->stack[s->depth++] = kind;
    return BK_OK;
}

/* c starts a value (state S_VALUE or S_VALUE_OR_CLOSE). */
static int start_value(struct walg_jstream *s, unsigned char c, struct bk_error *err)
{
    int rc;
    switch (c) {
    case '{':
        rc = push(s, 'o', err);
        if (rc == BK_OK)
            rc = emit(s, WALG_JEV_BEGIN_OBJECT, err);
        s->state = S_KEY_OR_CLOSE;
        return rc;
    case '[':
        rc = push(s, 'a', err);
        if (rc == BK_OK)
            rc = emit(s, WALG_JEV_BEGIN_ARRAY, err);
        s->state = S_VALUE_OR_CLOSE;
        return rc;
    case '"':
        bk_buf_reset(&s->tok);
        s->string_is_key = false;
        s->esc = 0;
        s->high_surrogate = 0;
        s->state = S_STRING;
        return BK_OK;
    case 't': s->literal = "true"; break;
    case 'f': s->literal = "false"; break;
    case 'n': s->literal = "null"; break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            bk_buf_reset(&s->tok);
            s->state = S_NUMBER;
            return tok_append(s, &c, 1, err);
        }
        return syntax_error(s, c, err);
    }
    s->literal_pos = 1;
    s->state = S_LITERAL;
    return BK_OK;
}

static int close_container(struct walg_jstream *s, unsigned char c, struct bk_error *err)
{
    char want = c == '}' ? 'o' : 'a';
    int rc;
    if (s->depth == 0 || s->stack[s->depth - 1] != want)
        return syntax_error(s, c, err);
    s->depth--;
    rc = emit(s, c == '}' ? WALG_JEV_END_OBJECT : WALG_JEV_END_ARRAY, err);
    value_done(s);
    return rc;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int step(struct walg_jstream *s, unsigned char c, struct bk_error *err)
{
    switch (s->state) {
    case S_STRING:
        return string_byte(s, c, err);
    case S_NUMBER:
        if ((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')
            return tok_append(s, &c, 1, err);
        {
            int rc = number_done(s, err);
            if (rc != BK_OK)
                return rc;
        }
        return step(s, c, err);
    case S_LITERAL:
        if (c != (unsigned char)s->literal[s->literal_pos])
            return syntax_error(s, c, err);
        if (s->literal[++s->literal_pos] == '\0') {
            enum walg_jev ev = s->literal[0] == 't' ? WALG_JEV_TRUE
                               : s->literal[0] == 'f' ? WALG_JEV_FALSE : WALG_JEV_NULL;
            int rc = emit(s, ev, err);
            value_done(s);
            return rc;
        }
        return BK_OK;
    default:
        break;
    }
    if (is_space(c))
        return BK_OK;
    switch (s->state) {
    case S_VALUE:
        return start_value(s, c, err);
    case S_VALUE_OR_CLOSE:
        if (c == ']')
            return close_container(s, c, err);
        return start_value(s, c, err);
    case S_KEY_OR_CLOSE:
        if (c == '}')
            return close_container(s, c, err);
        /* fall through */
    case S_KEY:
        if (c != '"')
            return syntax_error(s, c, err);
        bk_buf_reset(&s->tok);
        s->string_is_key = true;
        s->esc = 0;
        s->high_surrogate = 0;
        s->state = S_STRING;
        return BK_OK;
    case S_COLON:
        if (c != ':')
            return syntax_error(s, c, err);
        s->state = S_VALUE;
        return BK_OK;
    case S_COMMA_OR_CLOSE:
        if (c == '}' || c == ']')
            return close_container(s, c, err);
        if (c != ',')
            return syntax_error(s, c, err);
        s->state = s->stack[s->depth - 1] == 'o' ? S_KEY : S_VALUE;
        return BK_OK;
    default: /* S_DONE */
        return syntax_error(s, c, err);
    }
}

int walg_jstream_feed(struct walg_jstream *s, const void *data, size_t len, struct bk_error *err)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        int rc = step(s, p[i], err);
        if (rc != BK_OK)
            return rc;
        s->offset++;
    }
    return BK_OK;
}

int walg_jstream_end(struct walg_jstream *s, struct bk_error *err)
{
    if (s->state == S_NUMBER && s->depth == 0) {
        int rc = number_done(s, err);
        if (rc != BK_OK)
            return rc;
    }
    if (s->state != S_DONE)
        return bk_error_set(err, BK_EINVAL, "walg_jstream", s->object, "%s is not valid JSON: %s", s->what,
                            s->state == S_VALUE && s->depth == 0 ? "empty" : "truncated");
    return BK_OK;
}

/*
 * Push-style tar parser (see tar_reader.h): a byte-at-a-time-safe state machine that
 * gathers 512-byte headers across writes, folds PAX / GNU long-name headers into the next
 * member, forwards member data without copying, and checks the trailer. Parsing rules follow
 * Go's archive/tar Reader (format detection, checksums, header-only types, PAX records).
 * Not for writing tars (tar_writer.c) and not for deciding what is safe to extract.
 */
#include "tar_reader.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_buf.h"
#include "tar_internal.h"

enum tr_state { TR_HEADER = 0, TR_EXT_DATA, TR_DATA, TR_PAD, TR_END, TR_DONE, TR_FAILED };
enum tr_after_pad { TR_AFTER_EXT = 0, TR_AFTER_MEMBER };

/* Values from extended headers waiting for the next member. */
struct pending {
    bool any;                 /* an extended header was seen since the last member */
    uint64_t first_offset;    /* offset of the first of them */
    bool path, linkpath, uname, gname, gnu_name, gnu_link, size, uid, gid, mtime, sparse;
    struct bk_buf path_buf, linkpath_buf, uname_buf, gname_buf, gnu_name_buf, gnu_link_buf;
    uint64_t size_value;
    uint32_t uid_value, gid_value;
    int64_t mtime_value;
};

struct tar_reader {
    struct bk_sink base;
    const struct tar_handler_ops *ops;
    void *payload;
    char name[256];
    enum tr_state state;
    enum tr_after_pad after_pad;
    uint64_t offset;             /* bytes consumed */
    uint8_t block[TAR_BLOCK_SIZE];
    size_t block_len;
    uint64_t block_offset;       /* stream offset of the block being gathered */
    bool zero_seen;              /* one all-zero header block seen */
    char ext_kind;               /* 'x', 'g', 'L' or 'K' while reading extended data */
    uint64_t ext_offset;
    struct bk_buf ext;
    struct pending pend;
    struct tar_member member;    /* the member being delivered */
    bool in_member;              /* begin_member returned, end_member not yet called */
    char ustar_name[TAR_LEN_PREFIX + 1 + TAR_LEN_NAME + 1];
    char ustar_link[TAR_LEN_LINKNAME + 1];
    char ustar_uname[TAR_LEN_UNAME + 1];
    char ustar_gname[TAR_LEN_GNAME + 1];
    uint64_t remaining;          /* data (or extended data) bytes still due */
    uint64_t pad;                /* padding bytes still due */
};

static uint64_t pad_of(uint64_t size)
{
    return (TAR_BLOCK_SIZE - size % TAR_BLOCK_SIZE) % TAR_BLOCK_SIZE;
}

static int corrupt(struct tar_reader *tr, struct bk_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int corrupt(struct tar_reader *tr, struct bk_error *err, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return bk_error_set(err, BK_ECORRUPT, "tar_read", tr->name, "%s", msg);
}

/* Copies a NUL-terminated-or-full header field. */
static void field_string(char *dst, const uint8_t *field, size_t len)
{
    size_t n = 0;
    while (n < len && field[n] != '\0')
        n++;
    memcpy(dst, field, n);
    dst[n] = '\0';
}

static int set_buf(struct bk_buf *buf, const char *data, size_t len, struct bk_error *err)
{
    bk_buf_reset(buf);
    return bk_buf_append(buf, data, len, err);
}

static bool parse_decimal_u64(const char *text, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t value = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        if (value > (max - (uint64_t)(text[i] - '0')) / 10)
            return false;
        value = value * 10 + (uint64_t)(text[i] - '0');
    }
    *out = value;
    return true;
}

/* PAX time "[-]seconds[.fraction]": the whole seconds are kept. */
static bool parse_pax_time(const char *text, size_t len, int64_t *out)
{
    bool negative = len > 0 && text[0] == '-';
    size_t start = negative ? 1 : 0;
    size_t end = start;
    uint64_t secs;
    while (end < len && text[end] != '.')
        end++;
    for (size_t i = end + 1; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
    }
    if (!parse_decimal_u64(text + start, end - start, (uint64_t)INT64_MAX, &secs))
        return false;
    *out = negative ? -(int64_t)secs : (int64_t)secs;
    return true;
}

static int pax_record(struct tar_reader *tr, const char *key, size_t key_len, const char *value,
                      size_t value_len, struct bk_error *err)
{
    struct pending *p = &tr->pend;
    bool is_string = (key_len == 4 && memcmp(key, "path", 4) == 0)
                     || (key_len == 8 && memcmp(key, "linkpath", 8) == 0)
                     || (key_len == 5 && memcmp(key, "uname", 5) == 0)
                     || (key_len == 5 && memcmp(key, "gname", 5) == 0);
    uint64_t number;
    if (is_string && memchr(value, '\0', value_len) != NULL)
        return corrupt(tr, err, "bad pax record (NUL in a name) in the extended header at offset %" PRIu64,
                       tr->ext_offset);
    if (key_len == 4 && memcmp(key, "path", 4) == 0) {
        p->path = true;
        return set_buf(&p->path_buf, value, value_len, err);
    }
    if (key_len == 8 && memcmp(key, "linkpath", 8) == 0) {
        p->linkpath = true;
        return set_buf(&p->linkpath_buf, value, value_len, err);
    }
    if (key_len == 5 && memcmp(key, "uname", 5) == 0) {
        p->uname = true;
        return set_buf(&p->uname_buf, value, value_len, err);
    }
    if (key_len == 5 && memcmp(key, "gname", 5) == 0) {
        p->gname = true;
        return set_buf(&p->gname_buf, value, value_len, err);
    }
    if (key_len == 4 && memcmp(key, "size", 4) == 0) {
        if (!parse_decimal_u64(value, value_len, (uint64_t)INT64_MAX, &number))
            return corrupt(tr, err, "bad pax size record in the extended header at offset %" PRIu64,
                           tr->ext_offset);
        p->size = true;
        p->size_value = number;
        return BK_OK;
    }
    if ((key_len == 3 && memcmp(key, "uid", 3) == 0) || (key_len == 3 && memcmp(key, "gid", 3) == 0)) {
        if (!parse_decimal_u64(value, value_len, UINT32_MAX, &number))
            return corrupt(tr, err, "bad pax uid/gid record in the extended header at offset %" PRIu64,
                           tr->ext_offset);
        if (key[0] == 'u') {
            p->uid = true;
            p->uid_value = (uint32_t)number;
        } else {
            p->gid = true;
            p->gid_value = (uint32_t)number;
        }
        return BK_OK;
    }
    if (key_len == 5 && memcmp(key, "mtime", 5) == 0) {
        if (!parse_pax_time(value, value_len, &p->mtime_value))
            return corrupt(tr, err, "bad pax mtime record in the extended header at offset %" PRIu64,
                           tr->ext_offset);
        p->mtime = true;
        return BK_OK;
    }
    if (key_len > 11 && memcmp(key, "GNU.sparse.", 11) == 0)
        p->sparse = true;   /* the data is a sparse map, not the file: never pass it as regular */
    return BK_OK;           /* other keys (atime, ctime, xattrs ...) are not used */
}

/* Go's parsePAX / parsePAXRecord: "<len> <key>=<value>\n" repeated. */
static int parse_pax(struct tar_reader *tr, struct bk_error *err)
{
    const char *data = (const char *)tr->ext.data;
    size_t left = tr->ext.len;
    while (left > 0) {
        const char *space = memchr(data, ' ', left < 24 ? left : 24);
        uint64_t rec_len;
        const char *rec;
        const char *eq;
        size_t body_len;
        int rc;
        if (space == NULL || !parse_decimal_u64(data, (size_t)(space - data), left, &rec_len)
            || rec_len < 5 || rec_len <= (uint64_t)(space - data) + 1 || data[rec_len - 1] != '\n')
            return corrupt(tr, err, "bad pax record in the extended header at offset %" PRIu64, tr->ext_offset);
        rec = space + 1;
        body_len = (size_t)rec_len - (size_t)(rec - data) - 1;
        eq = memchr(rec, '=', body_len);
        if (eq == NULL || eq == rec || memchr(rec, '\0', (size_t)(eq - rec)) != NULL)
            return corrupt(tr, err, "bad pax record in the extended header at offset %" PRIu64, tr->ext_offset);
        rc = pax_record(tr, rec, (size_t)(eq - rec), eq + 1, body_len - (size_t)(eq - rec) - 1, err);
        if (rc != BK_OK)
            return rc;
        data += rec_len;
        left -= (size_t)rec_len;
    }
    return BK_OK;
}

static int ext_complete(struct tar_reader *tr, struct bk_error *err)
{
    const char *data = (const char *)tr->ext.data;
    size_t len = tr->ext.len;
    const char *nul = len > 0 ? memchr(data, '\0', len) : NULL;
    size_t text_len = nul != NULL ? (size_t)(nul - data) : len;
    switch (tr->ext_kind) {
    case 'x':
        return parse_pax(tr, err);
    case 'L':
        tr->pend.gnu_name = true;
        return set_buf(&tr->pend.gnu_name_buf, data != NULL ? data : "", text_len, err);
    case 'K':
        tr->pend.gnu_link = true;
        return set_buf(&tr->pend.gnu_link_buf, data != NULL ? data : "", text_len, err);
    default:
        return BK_OK;   /* 'g': global PAX header, ignored */
    }
}

static enum tar_type type_of(char flag, const char *name)
{
    size_t n = strlen(name);
    switch (flag) {
    case '0': case '7': return TAR_TYPE_REGULAR;
    case '\0': return (n > 0 && name[n - 1] == '/') ? TAR_TYPE_DIRECTORY : TAR_TYPE_REGULAR;
    case '1': return TAR_TYPE_HARDLINK;
    case '2': return TAR_TYPE_SYMLINK;
    case '3': return TAR_TYPE_CHAR;
    case '4': return TAR_TYPE_BLOCK;
    case '5': return TAR_TYPE_DIRECTORY;
    case '6': return TAR_TYPE_FIFO;
    default: return TAR_TYPE_OTHER;
    }
}

static int number_field(struct tar_reader *tr, size_t off, size_t len, const char *what, int64_t min,
                        int64_t max, int64_t *out, struct bk_error *err)
{
    if (!tar_parse_number(tr->block + off, len, out) || *out < min || *out > max)
        return bk_error_set(err, BK_ECORRUPT, "tar_read", tr->name,
                            "bad %s field in the tar header at offset %" PRIu64, what, tr->block_offset);
    return BK_OK;
}

static int end_member(struct tar_reader *tr, struct bk_error *err)
{
    tr->in_member = false;
    tr->state = TR_HEADER;
    return tr->ops->end_member(tr->payload, err);
}

static int member_header(struct tar_reader *tr, struct bk_error *err)
{
    struct tar_member *m = &tr->member;
    struct pending *p = &tr->pend;
    const uint8_t *b = tr->block;
    bool ustar = memcmp(b + TAR_OFF_MAGIC, "ustar\0", 6) == 0;
    bool gnu = memcmp(b + TAR_OFF_MAGIC, "ustar  \0", 8) == 0;
    int64_t mode, uid, gid, size, mtime, devmajor = 0, devminor = 0;
    char flag = (char)b[TAR_OFF_TYPEFLAG];
    int rc;

    rc = number_field(tr, TAR_OFF_MODE, TAR_LEN_MODE, "mode", INT64_MIN, INT64_MAX, &mode, err);
    if (rc == BK_OK)
        rc = number_field(tr, TAR_OFF_UID, TAR_LEN_UID, "uid", 0, UINT32_MAX, &uid, err);
    if (rc == BK_OK)
        rc = number_field(tr, TAR_OFF_GID, TAR_LEN_GID, "gid", 0, UINT32_MAX, &gid, err);
    if (rc == BK_OK)
        rc = number_field(tr, TAR_OFF_SIZE, TAR_LEN_SIZE, "size", 0, INT64_MAX, &size, err);
    if (rc == BK_OK)
        rc = number_field(tr, TAR_OFF_MTIME, TAR_LEN_MTIME, "mtime", INT64_MIN, INT64_MAX, &mtime, err);
    if (rc != BK_OK)
        return rc;
    if ((ustar || gnu) && (flag == '3' || flag == '4')) {
        rc = number_field(tr, TAR_OFF_DEVMAJOR, TAR_LEN_DEVMAJOR, "devmajor", 0, UINT32_MAX, &devmajor, err);
        if (rc == BK_OK)
            rc = number_field(tr, TAR_OFF_DEVMINOR, TAR_LEN_DEVMINOR, "devminor", 0, UINT32_MAX, &devminor,
                              err);
        if (rc != BK_OK)
            return rc;
    }

    /* Name: ustar prefix + name, then GNU long name, then PAX path (Go's order of merging). */
    tr->ustar_name[0] = '\0';
    if (ustar && b[TAR_OFF_PREFIX] != '\0') {
        size_t prefix_len;
        field_string(tr->ustar_name, b + TAR_OFF_PREFIX, TAR_LEN_PREFIX);
        prefix_len = strlen(tr->ustar_name);
        tr->ustar_name[prefix_len] = '/';
        tr->ustar_name[prefix_len + 1] = '\0';
    }
    field_string(tr->ustar_name + strlen(tr->ustar_name), b + TAR_OFF_NAME, TAR_LEN_NAME);
    field_string(tr->ustar_link, b + TAR_OFF_LINKNAME, TAR_LEN_LINKNAME);
    tr->ustar_uname[0] = '\0';
    tr->ustar_gname[0] = '\0';
    if (ustar || gnu) {
        field_string(tr->ustar_uname, b + TAR_OFF_UNAME, TAR_LEN_UNAME);
        field_string(tr->ustar_gname, b + TAR_OFF_GNAME, TAR_LEN_GNAME);
    }

    memset(m, 0, sizeof(*m));
    m->name = p->path ? bk_buf_str(&p->path_buf) : p->gnu_name ? bk_buf_str(&p->gnu_name_buf) : tr->ustar_name;
    m->linkname = p->linkpath ? bk_buf_str(&p->linkpath_buf)
                  : p->gnu_link ? bk_buf_str(&p->gnu_link_buf) : tr->ustar_link;
    m->uname = p->uname ? bk_buf_str(&p->uname_buf) : tr->ustar_uname;
    m->gname = p->gname ? bk_buf_str(&p->gname_buf) : tr->ustar_gname;
    m->typeflag = flag;
    m->type = p->sparse ? TAR_TYPE_OTHER : type_of(flag, m->name);
    if (p->sparse)
        m->typeflag = 'S';
    m->mode = (uint32_t)((uint64_t)mode & 07777);
    m->uid = p->uid ? p->uid_value : (uint32_t)uid;
    m->gid = p->gid ? p->gid_value : (uint32_t)gid;
    m->mtime = p->mtime ? p->mtime_value : mtime;
    m->size = p->size ? p->size_value : (uint64_t)size;
    if (!tar_type_has_data(m->type))
        m->size = 0;   /* Go's isHeaderOnlyType: the size field is ignored */
    m->devmajor = (uint32_t)devmajor;
    m->devminor = (uint32_t)devminor;
    m->header_offset = p->any ? p->first_offset : tr->block_offset;
    p->any = p->path = p->linkpath = p->uname = p->gname = false;
    p->gnu_name = p->gnu_link = p->size = p->uid = p->gid = p->mtime = p->sparse = false;

    rc = tr->ops->begin_member(m, tr->payload, err);
    if (rc != BK_OK)
        return rc;
    tr->in_member = true;
    if (m->size == 0)
        return end_member(tr, err);
    tr->state = TR_DATA;
    tr->after_pad = TR_AFTER_MEMBER;
    tr->remaining = m->size;
    tr->pad = pad_of(m->size);
    return BK_OK;
}

static int on_header(struct tar_reader *tr, struct bk_error *err)
{
    const uint8_t *b = tr->block;
    int64_t stored, size;
    char flag;
    int rc;
    if (tar_block_is_zero(b)) {
        if (tr->pend.any)
            return corrupt(tr, err, "tar extended header at offset %" PRIu64 " is not followed by an entry",
                           tr->pend.first_offset);
        if (tr->zero_seen)
            tr->state = TR_END;
        tr->zero_seen = true;
        return BK_OK;
    }
    if (tr->zero_seen)
        return corrupt(tr, err, "tar header at offset %" PRIu64 " follows an end-of-archive block",
                       tr->block_offset);
    if (!tar_parse_number(b + TAR_OFF_CHKSUM, TAR_LEN_CHKSUM, &stored)
        || (stored != (int64_t)tar_checksum_unsigned(b) && stored != tar_checksum_signed(b)))
        return corrupt(tr, err, "bad tar header checksum at offset %" PRIu64, tr->block_offset);
    flag = (char)b[TAR_OFF_TYPEFLAG];
    if (flag != 'x' && flag != 'g' && flag != 'L' && flag != 'K')
        return member_header(tr, err);

    rc = number_field(tr, TAR_OFF_SIZE, TAR_LEN_SIZE, "size", 0, INT64_MAX, &size, err);
    if (rc != BK_OK)
        return rc;
    if (size > TAR_EXT_HEADER_MAX)
        return bk_error_set(err, BK_ECORRUPT, "tar_read", tr->name,
                            "tar extended header at offset %" PRIu64 " is too large (%" PRId64 " bytes)",
                            tr->block_offset, size);
    if (flag != 'g' && !tr->pend.any) {
        tr->pend.any = true;
        tr->pend.first_offset = tr->block_offset;
    }
    tr->ext_kind = flag;
    tr->ext_offset = tr->block_offset;
    bk_buf_reset(&tr->ext);
    tr->remaining = (uint64_t)size;
    tr->pad = pad_of((uint64_t)size);
    tr->after_pad = TR_AFTER_EXT;
    if (size > 0) {
        tr->state = TR_EXT_DATA;
        return bk_buf_reserve(&tr->ext, (size_t)size, err);
    }
    return ext_complete(tr, err);
}

/* Called when data (or extended data) is complete: go through padding, then act. */
static int after_data(struct tar_reader *tr, struct bk_error *err)
{
    if (tr->pad > 0) {
        tr->state = TR_PAD;
        return BK_OK;
    }
    tr->state = TR_HEADER;
    if (tr->after_pad == TR_AFTER_EXT)
        return ext_complete(tr, err);
    return end_member(tr, err);
}

static int step(struct tar_reader *tr, const uint8_t *data, size_t len, size_t *used, struct bk_error *err)
{
    size_t take;
    int rc = BK_OK;
    switch (tr->state) {
    case TR_HEADER:
        if (tr->block_len == 0)
            tr->block_offset = tr->offset;
        take = TAR_BLOCK_SIZE - tr->block_len;
        take = take < len ? take : len;
        memcpy(tr->block + tr->block_len, data, take);
        tr->block_len += take;
        *used = take;
        if (tr->block_len == TAR_BLOCK_SIZE) {
            tr->block_len = 0;
            rc = on_header(tr, err);
        }
        return rc;
    case TR_EXT_DATA:
        take = tr->remaining < len ? (size_t)tr->remaining : len;
        *used = take;
        rc = bk_buf_append(&tr->ext, data, take, err);
        tr->remaining -= take;
        if (rc == BK_OK && tr->remaining == 0)
            rc = after_data(tr, err);
        return rc;
    case TR_DATA:
        take = tr->remaining < len ? (size_t)tr->remaining : len;
        *used = take;
        rc = tr->ops->member_data(data, take, tr->payload, err);
        tr->remaining -= take;
        if (rc == BK_OK && tr->remaining == 0)
            rc = after_data(tr, err);
        return rc;
    case TR_PAD:
        take = tr->pad < len ? (size_t)tr->pad : len;
        *used = take;
        tr->pad -= take;
        if (tr->pad == 0)
            rc = after_data(tr, err);
        return rc;
    case TR_END:
        for (size_t i = 0; i < len; i++) {
            if (data[i] != 0)
                return corrupt(tr, err, "unexpected data after the end of the tar archive at offset %" PRIu64,
                               tr->offset + i);
        }
        *used = len;
        return BK_OK;
    case TR_DONE:
    case TR_FAILED:
        break;
    }
    return bk_error_set(err, BK_EINTERNAL, "tar_read", tr->name, "tar stream written to after it ended");
}

static void fail(struct tar_reader *tr)
{
    tr->state = TR_FAILED;
    if (tr->ops->abort != NULL)
        tr->ops->abort(tr->payload);
}

static int reader_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    struct tar_reader *tr = (struct tar_reader *)sink;
    const uint8_t *p = data;
    if (tr->state == TR_FAILED)
        return bk_error_set(err, BK_EINTERNAL, "tar_read", tr->name, "tar stream written to after a failure");
    while (len > 0) {
        size_t used = 0;
        int rc = step(tr, p, len, &used, err);
        tr->offset += used;
        if (rc != BK_OK) {
            fail(tr);
            return rc;
        }
        p += used;
        len -= used;
    }
    return BK_OK;
}

static int reader_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct tar_reader *tr = (struct tar_reader *)sink;
    int rc = BK_OK;
    switch (tr->state) {
    case TR_HEADER:
        if (tr->block_len > 0)
            rc = corrupt(tr, err, "truncated tar: stream ends inside the header at offset %" PRIu64,
                         tr->block_offset);
        else if (tr->pend.any)
            rc = corrupt(tr, err, "truncated tar: stream ends after the extended header at offset %" PRIu64,
                         tr->pend.first_offset);
        break;
    case TR_EXT_DATA:
        rc = corrupt(tr, err, "truncated tar: stream ends inside the extended header at offset %" PRIu64,
                     tr->ext_offset);
        break;
    case TR_DATA:
    case TR_PAD:
        if (tr->after_pad == TR_AFTER_EXT)
            rc = corrupt(tr, err, "truncated tar: stream ends inside the extended header at offset %" PRIu64,
                         tr->ext_offset);
        else
            rc = bk_error_set(err, BK_ECORRUPT, "tar_read", tr->name,
                              "truncated tar: stream ends inside the data of \"%s\" (header at offset %" PRIu64
                              ")", tr->member.name, tr->member.header_offset);
        break;
    case TR_END:
        break;
    case TR_DONE:
    case TR_FAILED:
        return bk_error_set(err, BK_EINTERNAL, "tar_read", tr->name, "tar stream finished twice or after a failure");
    }
    if (rc == BK_OK)
        rc = tr->ops->end_archive(tr->payload, err);
    if (rc != BK_OK) {
        fail(tr);
        return rc;
    }
    tr->state = TR_DONE;
    return BK_OK;
}

static void reader_abort(struct bk_sink *sink)
{
    struct tar_reader *tr = (struct tar_reader *)sink;
    if (tr->state != TR_DONE && tr->ops->abort != NULL)
        tr->ops->abort(tr->payload);
    tr->state = TR_FAILED;
}

static void reader_free(struct bk_sink *sink)
{
    struct tar_reader *tr = (struct tar_reader *)sink;
    bk_buf_free(&tr->ext);
    bk_buf_free(&tr->pend.path_buf);
    bk_buf_free(&tr->pend.linkpath_buf);
    bk_buf_free(&tr->pend.uname_buf);
    bk_buf_free(&tr->pend.gname_buf);
    bk_buf_free(&tr->pend.gnu_name_buf);
    bk_buf_free(&tr->pend.gnu_link_buf);
    free(tr);
}

static const struct bk_sink_ops reader_ops = { "tar-read", reader_write, reader_finish, reader_abort, reader_free };

int tar_reader_new(struct bk_sink **out, const struct tar_reader_opts *opts, struct bk_error *err)
{
    struct tar_reader *tr;
    *out = NULL;
    if (opts == NULL || opts->ops == NULL || opts->ops->begin_member == NULL || opts->ops->member_data == NULL
        || opts->ops->end_member == NULL || opts->ops->end_archive == NULL)
        return bk_error_set(err, BK_EINTERNAL, "tar_reader_new", NULL, "tar reader needs all handler callbacks");
    tr = calloc(1, sizeof(*tr));
    if (tr == NULL)
        return bk_error_set(err, BK_ENOMEM, "tar_reader_new", NULL, "out of memory");
    tr->base.ops = &reader_ops;
    tr->ops = opts->ops;
    tr->payload = opts->payload;
    snprintf(tr->name, sizeof(tr->name), "%s", opts->name_for_errors != NULL ? opts->name_for_errors : "");
    bk_buf_init(&tr->ext, TAR_EXT_HEADER_MAX);
    bk_buf_init(&tr->pend.path_buf, TAR_EXT_HEADER_MAX);
    bk_buf_init(&tr->pend.linkpath_buf, TAR_EXT_HEADER_MAX);
    bk_buf_init(&tr->pend.uname_buf, TAR_EXT_HEADER_MAX);
    bk_buf_init(&tr->pend.gname_buf, TAR_EXT_HEADER_MAX);
    bk_buf_init(&tr->pend.gnu_name_buf, TAR_EXT_HEADER_MAX);
    bk_buf_init(&tr->pend.gnu_link_buf, TAR_EXT_HEADER_MAX);
    *out = &tr->base;
    return BK_OK;
}

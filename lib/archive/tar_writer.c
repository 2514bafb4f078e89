/*
 * Streaming tar writer (see tar_writer.h). Header layout mirrors Go's archive/tar Writer:
 * ustar when every field fits (a long ASCII name split at a '/' into prefix + name),
 * else a PAX 'x' header named "<dir>/PaxHeaders.0/<file>" carrying sorted records, then a
 * ustar header whose too-long strings are cut and too-big numbers written as 0.
 * Not for reading tars (tar_reader.c) and not thread-safe: one writer per stream.
 */
#include "tar_writer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_buf.h"
#include "tar_internal.h"

enum tw_state { TW_IDLE = 0, TW_IN_FILE, TW_FINISHED, TW_FAILED };

struct tar_writer {
    struct bk_sink *sink;          /* borrowed */
    struct tar_writer_opts opts;
    enum tw_state state;
    uint64_t offset;
    uint64_t declared;             /* size of the open member */
    uint64_t written;
    struct bk_buf name;            /* name of the open member, for errors */
    struct bk_buf pax;             /* PAX records of the member being written */
};

static const uint8_t zero_block[TAR_BLOCK_SIZE];

static int emit(struct tar_writer *tw, const void *data, size_t len, struct bk_error *err)
{
    int rc = bk_sink_write(tw->sink, data, len, err);
    if (rc != BK_OK) {
        tw->state = TW_FAILED;
        return rc;
    }
    tw->offset += len;
    return BK_OK;
}

static int emit_zeros(struct tar_writer *tw, uint64_t count, struct bk_error *err)
{
    while (count > 0) {
        size_t n = count > sizeof(zero_block) ? sizeof(zero_block) : (size_t)count;
        int rc = emit(tw, zero_block, n, err);
        if (rc != BK_OK)
            return rc;
        count -= n;
    }
    return BK_OK;
}

static uint64_t pad_of(uint64_t size)
{
    return (TAR_BLOCK_SIZE - size % TAR_BLOCK_SIZE) % TAR_BLOCK_SIZE;
}

static bool is_ascii(const char *text)
{
    for (; *text != '\0'; text++) {
        if ((unsigned char)*text >= 0x80)
            return false;
    }
    return true;
}

/* Go's toASCII, cut to cap-1 bytes: drops every non-ASCII byte. */
static void copy_ascii(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; *src != '\0' && n + 1 < cap; src++) {
        if ((unsigned char)*src < 0x80)
            dst[n++] = *src;
    }
    dst[n] = '\0';
}

/* Go's splitUSTARPath: *prefix_len is where the '/' separating prefix and name sits. */
static bool split_ustar(const char *name, size_t *prefix_len)
{
    size_t total = strlen(name);
    size_t length = total;
    size_t i;
    if (length <= TAR_LEN_NAME || !is_ascii(name))
        return false;
    if (length > TAR_LEN_PREFIX + 1)
        length = TAR_LEN_PREFIX + 1;
    else if (name[length - 1] == '/')
        length--;
    for (i = length; i > 0 && name[i - 1] != '/'; i--)
        ;
    if (i == 0)
        return false;
    i--;   /* index of the '/' */
    if (i == 0 || total - i - 1 > TAR_LEN_NAME || total - i - 1 == 0 || i > TAR_LEN_PREFIX)
        return false;
    *prefix_len = i;
    return true;
}

/* Go's formatPAXRecord: "<len> key=value\n" where len counts the whole record. */
static int pax_add(struct bk_buf *pax, const char *key, const char *value, struct bk_error *err)
{
    size_t size = strlen(key) + strlen(value) + 3;
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%zu", size);
    size += (size_t)n;
    n = snprintf(digits, sizeof(digits), "%zu", size);
    if ((size_t)n + strlen(key) + strlen(value) + 3 != size)
        size++;
    return bk_buf_printf(pax, err, "%zu %s=%s\n", size, key, value);
}

static char flag_of(const struct tar_member *m)
{
    switch (m->type) {
    case TAR_TYPE_REGULAR: return '0';
    case TAR_TYPE_HARDLINK: return '1';
    case TAR_TYPE_SYMLINK: return '2';
    case TAR_TYPE_CHAR: return '3';
    case TAR_TYPE_BLOCK: return '4';
    case TAR_TYPE_DIRECTORY: return '5';
    case TAR_TYPE_FIFO: return '6';
    case TAR_TYPE_OTHER: break;
    }
    return m->typeflag;
}

/* Field checks of Go's Header.allowedFormats, reduced to what we write: which values need a
 * PAX record, and whether plain ustar can hold them all. */
struct field_plan {
    bool ustar_ok;
    bool split;
    size_t prefix_len;
    bool pax_path, pax_linkpath, pax_uname, pax_gname, pax_uid, pax_gid, pax_size, pax_mtime;
};

static void plan_fields(struct field_plan *p, const struct tar_member *m, const char *linkname,
                        const char *uname, const char *gname)
{
    memset(p, 0, sizeof(*p));
    p->ustar_ok = true;
    if (!is_ascii(m->name) || strlen(m->name) > TAR_LEN_NAME) {
        p->pax_path = true;
        p->split = split_ustar(m->name, &p->prefix_len);
        if (!p->split)
            p->ustar_ok = false;
    }
    p->pax_linkpath = !is_ascii(linkname) || strlen(linkname) > TAR_LEN_LINKNAME;
    p->pax_uname = !is_ascii(uname) || strlen(uname) > TAR_LEN_UNAME;
    p->pax_gname = !is_ascii(gname) || strlen(gname) > TAR_LEN_GNAME;
    p->pax_uid = !tar_octal_fits(TAR_LEN_UID, m->uid);
    p->pax_gid = !tar_octal_fits(TAR_LEN_GID, m->gid);
    p->pax_size = !tar_octal_fits(TAR_LEN_SIZE, (int64_t)m->size);
    p->pax_mtime = !tar_octal_fits(TAR_LEN_MTIME, m->mtime);
    if (p->pax_linkpath || p->pax_uname || p->pax_gname || p->pax_uid || p->pax_gid || p->pax_size
        || p->pax_mtime)
        p->ustar_ok = false;
}

static int build_pax(struct tar_writer *tw, const struct field_plan *p, const struct tar_member *m,
                     const char *linkname, const char *uname, const char *gname, struct bk_error *err)
{
    char num[32];
    int rc = BK_OK;
    bk_buf_reset(&tw->pax);
    /* Keys in byte order, as Go sorts them. */
    if (rc == BK_OK && p->pax_gid) {
        snprintf(num, sizeof(num), "%" PRIu32, m->gid);
        rc = pax_add(&tw->pax, "gid", num, err);
    }
    if (rc == BK_OK && p->pax_gname)
        rc = pax_add(&tw->pax, "gname", gname, err);
    if (rc == BK_OK && p->pax_linkpath)
        rc = pax_add(&tw->pax, "linkpath", linkname, err);
    if (rc == BK_OK && p->pax_mtime) {
        snprintf(num, sizeof(num), "%" PRId64, m->mtime);
        rc = pax_add(&tw->pax, "mtime", num, err);
    }
    if (rc == BK_OK && p->pax_path)
        rc = pax_add(&tw->pax, "path", m->name, err);
    if (rc == BK_OK && p->pax_size) {
        snprintf(num, sizeof(num), "%" PRIu64, m->size);
        rc = pax_add(&tw->pax, "size", num, err);
    }
    if (rc == BK_OK && p->pax_uid) {
        snprintf(num, sizeof(num), "%" PRIu32, m->uid);
        rc = pax_add(&tw->pax, "uid", num, err);
    }
    if (rc == BK_OK && p->pax_uname)
        rc = pax_add(&tw->pax, "uname", uname, err);
    if (rc != BK_OK)
        return bk_error_set(err, BK_EINVAL, "tar_write_header", m->name,
                            "pax header of tar entry \"%s\" is too large", m->name);
    return BK_OK;
}

static void set_magic(uint8_t *blk)
{
    memcpy(blk + TAR_OFF_MAGIC, "ustar\0", TAR_LEN_MAGIC);
    memcpy(blk + TAR_OFF_VERSION, "00", TAR_LEN_VERSION);
}

/* Go's writeRawFile for the 'x' member: name "<dir>/PaxHeaders.0/<file>" (ASCII, at most
 * 100 bytes, trailing '/' dropped), mode/uid/gid/mtime 0. */
static int write_pax_member(struct tar_writer *tw, const char *name, struct bk_error *err)
{
    uint8_t blk[TAR_BLOCK_SIZE];
    char pax_name[TAR_LEN_NAME + 1];
    const char *slash = strrchr(name, '/');
    size_t dir_len = slash == NULL ? 0 : (size_t)(slash - name) + 1;
    const char *file = name + dir_len;
    char *joined = NULL;
    size_t joined_len;
    int rc;
    joined_len = dir_len + strlen("PaxHeaders.0") + 1 + strlen(file) + 1;
    joined = malloc(joined_len);
    if (joined == NULL)
        return bk_error_set(err, BK_ENOMEM, "tar_write_header", name, "out of memory");
    snprintf(joined, joined_len, "%.*sPaxHeaders.0%s%s", (int)dir_len, name, file[0] ? "/" : "", file);
    copy_ascii(pax_name, sizeof(pax_name), joined);
    free(joined);
    for (size_t n = strlen(pax_name); n > 0 && pax_name[n - 1] == '/'; n--)
        pax_name[n - 1] = '\0';
    memset(blk, 0, sizeof(blk));
    tar_put_string(blk + TAR_OFF_NAME, TAR_LEN_NAME, pax_name);
    tar_put_octal(blk + TAR_OFF_MODE, TAR_LEN_MODE, 0);
    tar_put_octal(blk + TAR_OFF_UID, TAR_LEN_UID, 0);
    tar_put_octal(blk + TAR_OFF_GID, TAR_LEN_GID, 0);
    tar_put_octal(blk + TAR_OFF_SIZE, TAR_LEN_SIZE, (int64_t)tw->pax.len);
    tar_put_octal(blk + TAR_OFF_MTIME, TAR_LEN_MTIME, 0);
    blk[TAR_OFF_TYPEFLAG] = 'x';
    set_magic(blk);
    tar_put_checksum(blk);
    rc = emit(tw, blk, sizeof(blk), err);
    if (rc == BK_OK)
        rc = emit(tw, tw->pax.data, tw->pax.len, err);
    if (rc == BK_OK)
        rc = emit_zeros(tw, pad_of(tw->pax.len), err);
    return rc;
}

static void put_ascii_field(uint8_t *field, size_t len, const char *text)
{
    char buf[TAR_LEN_NAME + 2];
    copy_ascii(buf, len + 1 < sizeof(buf) ? len + 1 : sizeof(buf), text);
    tar_put_string(field, len, buf);
}

static int write_headers(struct tar_writer *tw, const struct tar_member *m, struct bk_error *err)
{
    uint8_t blk[TAR_BLOCK_SIZE];
    struct field_plan plan;
    const char *linkname = m->linkname != NULL ? m->linkname : "";
    const char *uname = m->uname != NULL ? m->uname : "";
    const char *gname = m->gname != NULL ? m->gname : "";
    int rc;

    if (m->name == NULL || m->name[0] == '\0')
        return bk_error_set(err, BK_EINVAL, "tar_write_header", "", "tar entry has an empty name");
    if (m->size > (uint64_t)INT64_MAX)
        return bk_error_set(err, BK_EINVAL, "tar_write_header", m->name,
                            "tar entry \"%s\" is too large (%" PRIu64 " bytes)", m->name, m->size);
    if (!tar_octal_fits(TAR_LEN_DEVMAJOR, m->devmajor) || !tar_octal_fits(TAR_LEN_DEVMINOR, m->devminor))
        return bk_error_set(err, BK_EINVAL, "tar_write_header", m->name,
                            "device numbers of tar entry \"%s\" do not fit a tar header", m->name);
    if (!tar_type_has_data(m->type) && m->size != 0)
        return bk_error_set(err, BK_EINVAL, "tar_write_header", m->name,
                            "tar entry \"%s\" is a %s and cannot carry %" PRIu64 " bytes of data",
                            m->name, tar_type_name(m->type), m->size);

    plan_fields(&plan, m, linkname, uname, gname);
    if (!plan.ustar_ok) {
        rc = build_pax(tw, &plan, m, linkname, uname, gname, err);
        if (rc == BK_OK)
            rc = write_pax_member(tw, m->name, err);
        if (rc != BK_OK)
            return rc;
    }

    memset(blk, 0, sizeof(blk));
    if (plan.ustar_ok && plan.split) {
        tar_put_string(blk + TAR_OFF_NAME, TAR_LEN_NAME, m->name + plan.prefix_len + 1);
        memcpy(blk + TAR_OFF_PREFIX, m->name, plan.prefix_len);
    } else {
        put_ascii_field(blk + TAR_OFF_NAME, TAR_LEN_NAME, m->name);
    }
    put_ascii_field(blk + TAR_OFF_LINKNAME, TAR_LEN_LINKNAME, linkname);
    tar_put_octal(blk + TAR_OFF_MODE, TAR_LEN_MODE, m->mode & 07777);
    tar_put_octal(blk + TAR_OFF_UID, TAR_LEN_UID, m->uid);
    tar_put_octal(blk + TAR_OFF_GID, TAR_LEN_GID, m->gid);
    tar_put_octal(blk + TAR_OFF_SIZE, TAR_LEN_SIZE, (int64_t)m->size);
    tar_put_octal(blk + TAR_OFF_MTIME, TAR_LEN_MTIME, m->mtime);
    blk[TAR_OFF_TYPEFLAG] = (uint8_t)flag_of(m);
    set_magic(blk);
    put_ascii_field(blk + TAR_OFF_UNAME, TAR_LEN_UNAME, uname);
    put_ascii_field(blk + TAR_OFF_GNAME, TAR_LEN_GNAME, gname);
    tar_put_octal(blk + TAR_OFF_DEVMAJOR, TAR_LEN_DEVMAJOR, m->devmajor);
    tar_put_octal(blk + TAR_OFF_DEVMINOR, TAR_LEN_DEVMINOR, m->devminor);
    tar_put_checksum(blk);
    return emit(tw, blk, sizeof(blk), err);
}

int tar_writer_new(struct tar_writer **out, struct bk_sink *sink, const struct tar_writer_opts *opts,
                   struct bk_error *err)
{
    struct tar_writer *tw;
    *out = NULL;
    if (sink == NULL)
        return bk_error_set(err, BK_EINTERNAL, "tar_writer_new", NULL, "tar writer needs a sink");
    tw = calloc(1, sizeof(*tw));
    if (tw == NULL)
        return bk_error_set(err, BK_ENOMEM, "tar_writer_new", NULL, "out of memory");
    tw->sink = sink;
    if (opts != NULL)
        tw->opts = *opts;
    bk_buf_init(&tw->name, 64 * 1024);
    bk_buf_init(&tw->pax, TAR_EXT_HEADER_MAX);
    *out = tw;
    return BK_OK;
}

void tar_writer_free(struct tar_writer *tw)
{
    if (tw == NULL)
        return;
    bk_buf_free(&tw->name);
    bk_buf_free(&tw->pax);
    free(tw);
}

static int check_idle(struct tar_writer *tw, const char *op, const char *name, struct bk_error *err)
{
    switch (tw->state) {
    case TW_IDLE:
        return BK_OK;
    case TW_IN_FILE:
        return bk_error_set(err, BK_EINTERNAL, op, name, "tar entry \"%s\" started before \"%s\" was ended",
                            name, bk_buf_str(&tw->name));
    case TW_FINISHED:
        return bk_error_set(err, BK_EINTERNAL, op, name,
                            "tar entry \"%s\" added after the end of the archive", name);
    case TW_FAILED:
        break;
    }
    return bk_error_set(err, BK_EINTERNAL, op, name, "tar writer used after a failed write");
}

int tar_writer_begin_member(struct tar_writer *tw, const struct tar_member *m, struct bk_error *err)
{
    const char *name = m->name != NULL ? m->name : "";
    int rc = check_idle(tw, "tar_writer_begin_member", name, err);
    if (rc != BK_OK)
        return rc;
    bk_buf_reset(&tw->name);
    rc = bk_buf_append_str(&tw->name, name, err);
    if (rc != BK_OK)
        return rc;
    rc = write_headers(tw, m, err);
    if (rc != BK_OK)
        return rc;
    if (tar_type_has_data(m->type)) {
        tw->state = TW_IN_FILE;
        tw->declared = m->size;
        tw->written = 0;
    }
    return BK_OK;
}

int tar_writer_begin_file(struct tar_writer *tw, const char *name, uint32_t mode, uint64_t size,
                          int64_t mtime, struct bk_error *err)
{
    struct tar_member m;
    memset(&m, 0, sizeof(m));
    m.name = name;
    m.type = TAR_TYPE_REGULAR;
    m.typeflag = '0';
    m.mode = mode;
    m.size = size;
    m.mtime = mtime;
    m.uid = tw->opts.uid;
    m.gid = tw->opts.gid;
    return tar_writer_begin_member(tw, &m, err);
}

int tar_writer_add_dir(struct tar_writer *tw, const char *name, uint32_t mode, int64_t mtime,
                       struct bk_error *err)
{
    struct tar_member m;
    memset(&m, 0, sizeof(m));
    m.name = name;
    m.type = TAR_TYPE_DIRECTORY;
    m.typeflag = '5';
    m.mode = mode;
    m.mtime = mtime;
    m.uid = tw->opts.uid;
    m.gid = tw->opts.gid;
    return tar_writer_begin_member(tw, &m, err);
}

int tar_writer_write_data(struct tar_writer *tw, const void *data, size_t len, struct bk_error *err)
{
    const char *name = bk_buf_str(&tw->name);
    int rc;
    if (tw->state != TW_IN_FILE)
        return bk_error_set(err, BK_EINTERNAL, "tar_writer_write_data", NULL,
                            "tar data written outside of a file entry");
    if (len > tw->declared - tw->written)
        return bk_error_set(err, BK_EINVAL, "tar_writer_write_data", name,
                            "file \"%s\" is larger than the %" PRIu64 " bytes declared in its tar header",
                            name, tw->declared);
    rc = emit(tw, data, len, err);
    if (rc != BK_OK)
        return rc;
    tw->written += len;
    return BK_OK;
}

uint64_t tar_writer_remaining(const struct tar_writer *tw)
{
    return tw->state == TW_IN_FILE ? tw->declared - tw->written : 0;
}

int tar_writer_end_file(struct tar_writer *tw, uint64_t *zero_filled, struct bk_error *err)
{
    const char *name = bk_buf_str(&tw->name);
    uint64_t missing;
    int rc;
    if (tw->state != TW_IN_FILE)
        return bk_error_set(err, BK_EINTERNAL, "tar_writer_end_file", NULL, "no tar file entry is open");
    missing = tw->declared - tw->written;
    rc = emit_zeros(tw, missing + pad_of(tw->declared), err);
    if (rc != BK_OK)
        return rc;
    tw->state = TW_IDLE;
    if (zero_filled != NULL) {
        *zero_filled = missing;
        return BK_OK;
    }
    if (missing > 0)
        return bk_error_set(err, BK_ECORRUPT, "tar_writer_end_file", name,
                            "file \"%s\" shrank while being archived: %" PRIu64 " of %" PRIu64
                            " bytes written", name, tw->written, tw->declared);
    return BK_OK;
}

int tar_writer_finish(struct tar_writer *tw, struct bk_error *err)
{
    int rc;
    if (tw->state == TW_IN_FILE)
        return bk_error_set(err, BK_EINTERNAL, "tar_writer_finish", bk_buf_str(&tw->name),
                            "tar archive finished while \"%s\" is still open", bk_buf_str(&tw->name));
    rc = check_idle(tw, "tar_writer_finish", "", err);
    if (rc != BK_OK)
        return rc;
    rc = emit_zeros(tw, 2 * TAR_BLOCK_SIZE, err);
    if (rc != BK_OK)
        return rc;
    tw->state = TW_FINISHED;
    return BK_OK;
}

uint64_t tar_writer_offset(const struct tar_writer *tw)
{
    return tw->offset;
}

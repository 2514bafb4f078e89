/* Chain wrappers and the small generic sinks (fd, buffer, null, digest). */
#include "bk_sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

int bk_sink_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    if (sink == NULL)
        return bk_error_set(err, BK_EINTERNAL, "bk_sink_write", NULL, "write to a missing sink");
    if (len == 0)
        return BK_OK;
    return sink->ops->write(sink, data, len, err);
}

int bk_sink_finish(struct bk_sink *sink, struct bk_error *err)
{
    for (; sink != NULL; sink = sink->next) {
        if (sink->ops->finish != NULL) {
            int rc = sink->ops->finish(sink, err);
            if (rc != BK_OK)
                return rc;
        }
    }
    return BK_OK;
}

void bk_sink_abort(struct bk_sink *sink)
{
    for (; sink != NULL; sink = sink->next) {
        if (sink->ops->abort != NULL)
            sink->ops->abort(sink);
    }
}

void bk_sink_free(struct bk_sink *sink)
{
    while (sink != NULL) {
        struct bk_sink *next = sink->next;
        sink->ops->free(sink);
        sink = next;
    }
}

/* ---- fd sink ---- */

struct fd_sink {
    struct bk_sink base;
    int fd;
    char name[256];
};

static int fd_sink_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    struct fd_sink *fs = (struct fd_sink *)sink;
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fs->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return bk_error_set_errno(err, errno, "write_file", fs->name, "cannot write \"%s\"", fs->name);
        }
        p += n;
        len -= (size_t)n;
    }
    return BK_OK;
}

static void free_self(struct bk_sink *sink) { free(sink); }

static const struct bk_sink_ops fd_sink_ops = { "fd", fd_sink_write, NULL, NULL, free_self };

int bk_sink_fd_new(struct bk_sink **out, int fd, const char *name_for_errors, struct bk_error *err)
{
    struct fd_sink *fs = calloc(1, sizeof(*fs));
    if (fs == NULL)
        return bk_error_set(err, BK_ENOMEM, "bk_sink_fd_new", NULL, "out of memory");
    fs->base.ops = &fd_sink_ops;
    fs->fd = fd;
    snprintf(fs->name, sizeof(fs->name), "%s", name_for_errors ? name_for_errors : "");
    *out = &fs->base;
    return BK_OK;
}

/* ---- buffer sink ---- */

struct buf_sink {
    struct bk_sink base;
    struct bk_buf *buf;
};

static int buf_sink_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    return bk_buf_append(((struct buf_sink *)sink)->buf, data, len, err);
}

static const struct bk_sink_ops buf_sink_ops = { "buffer", buf_sink_write, NULL, NULL, free_self };

int bk_sink_buf_new(struct bk_sink **out, struct bk_buf *buf, struct bk_error *err)
{
    struct buf_sink *bs = calloc(1, sizeof(*bs));
    if (bs == NULL)
        return bk_error_set(err, BK_ENOMEM, "bk_sink_buf_new", NULL, "out of memory");
    bs->base.ops = &buf_sink_ops;
    bs->buf = buf;
    *out = &bs->base;
    return BK_OK;
}

/* ---- null sink ---- */

static int null_sink_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    (void)sink; (void)data; (void)len; (void)err;
    return BK_OK;
}

static const struct bk_sink_ops null_sink_ops = { "null", null_sink_write, NULL, NULL, free_self };

int bk_sink_null_new(struct bk_sink **out, struct bk_error *err)
{
    struct bk_sink *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return bk_error_set(err, BK_ENOMEM, "bk_sink_null_new", NULL, "out of memory");
    s->ops = &null_sink_ops;
    *out = s;
    return BK_OK;
}

/* ---- digest sink ---- */

struct digest_sink {
    struct bk_sink base;
    EVP_MD_CTX *md;
    struct bk_sink_digest_result *result;
};

static int digest_sink_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    struct digest_sink *ds = (struct digest_sink *)sink;
    if (EVP_DigestUpdate(ds->md, data, len) != 1)
        return bk_error_set(err, BK_EINTERNAL, "sha256_update", NULL, "openssl digest update failed");
    ds->result->bytes += len;
    if (sink->next != NULL)
        return bk_sink_write(sink->next, data, len, err);
    return BK_OK;
}

static int digest_sink_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct digest_sink *ds = (struct digest_sink *)sink;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_DigestFinal_ex(ds->md, md, &md_len) != 1)
        return bk_error_set(err, BK_EINTERNAL, "sha256_final", NULL, "openssl digest final failed");
    for (unsigned int i = 0; i < md_len && i < 32; i++)
        snprintf(ds->result->sha256_hex + 2 * i, 3, "%02x", md[i]);
    return BK_OK;
}

static void digest_sink_free(struct bk_sink *sink)
{
    struct digest_sink *ds = (struct digest_sink *)sink;
    EVP_MD_CTX_free(ds->md);
    free(ds);
}

static const struct bk_sink_ops digest_sink_ops = {
    "sha256", digest_sink_write, digest_sink_finish, NULL, digest_sink_free
};

int bk_sink_digest_new(struct bk_sink **out, struct bk_sink *next,
                       struct bk_sink_digest_result *result, struct bk_error *err)
{
    struct digest_sink *ds = calloc(1, sizeof(*ds));
    if (ds == NULL)
        return bk_error_set(err, BK_ENOMEM, "bk_sink_digest_new", NULL, "out of memory");
    ds->md = EVP_MD_CTX_new();
    if (ds->md == NULL || EVP_DigestInit_ex(ds->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ds->md);
        free(ds);
        return bk_error_set(err, BK_EINTERNAL, "bk_sink_digest_new", NULL, "openssl digest init failed");
    }
    memset(result, 0, sizeof(*result));
    ds->result = result;
    ds->base.ops = &digest_sink_ops;
    ds->base.next = next;
    *out = &ds->base;
    return BK_OK;
}

/*
 * Test support for pg_basebackup_stream_test.c (included once, from there only): a sink that
 * writes each streamed archive to a file and parses it as tar for the manifest verifier (and can
 * corrupt a member or fail on purpose), the handler that records callbacks, the re-verification
 * through lib/archive's tar_reader, and the scripted fake walsender process.
 */
#ifndef PG_BASEBACKUP_STREAM_SUPPORT_H
#define PG_BASEBACKUP_STREAM_SUPPORT_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bk_buf.h"
#include "bk_sink.h"
#include "manifest_verifier.h"
#include "pg_basebackup_stream.h"
#include "tar_reader.h"

/* A sink that writes the archive to a file and parses it as tar, feeding regular members to a
 * manifest verifier and listing every member name. Can flip the first byte of one member, and
 * fail after a number of bytes. */
struct tar_sink {
    struct bk_sink base;
    int fd;
    FILE *members;
    struct manifest_verifier *verifier;
    const char *corrupt_name;
    bool *corrupted;
    uint64_t fail_after;       /* 0 = never */
    uint64_t written;
    uint8_t hdr[512];
    size_t hdr_len;
    uint64_t remaining;        /* member data left */
    uint64_t pad;              /* padding left after the data */
    bool regular;
    bool corrupt_this;
};

static uint64_t tar_octal(const uint8_t *field, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len && field[i] >= '0' && field[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(field[i] - '0');
    return v;
}

static int tar_header(struct tar_sink *ts, struct bk_error *err)
{
    char name[256 + 2];
    uint64_t size;
    bool zero = true;
    int rc = BK_OK;

    for (size_t i = 0; i < 512 && zero; i++)
        zero = ts->hdr[i] == 0;
    if (zero)
        return BK_OK;
    if (ts->hdr[345] != '\0')
        snprintf(name, sizeof(name), "%.155s/%.100s", (const char *)ts->hdr + 345, (const char *)ts->hdr);
    else
        snprintf(name, sizeof(name), "%.100s", (const char *)ts->hdr);
    size = tar_octal(ts->hdr + 124, 12);
    fprintf(ts->members, "%s\n", name);
    ts->regular = ts->hdr[156] == '0' || ts->hdr[156] == '\0';
    ts->remaining = size;
    ts->pad = (512 - size % 512) % 512;
    ts->corrupt_this = ts->corrupt_name != NULL && strcmp(name, ts->corrupt_name) == 0 && size > 0;
    if (ts->regular) {
        rc = manifest_verifier_file_begin(ts->verifier, name, err);
        if (rc == BK_OK && size == 0)
            rc = manifest_verifier_file_end(ts->verifier, err);
    }
    return rc;
}

static int tar_parse(struct tar_sink *ts, uint8_t *data, size_t len, struct bk_error *err)
{
    int rc = BK_OK;
    while (len > 0 && rc == BK_OK) {
        size_t n;
        if (ts->remaining > 0) {
            n = len < ts->remaining ? len : (size_t)ts->remaining;
            if (ts->corrupt_this) {
                data[0] ^= 0x01;
                ts->corrupt_this = false;
                *ts->corrupted = true;
            }
            if (ts->regular)
                rc = manifest_verifier_file_data(ts->verifier, data, n, err);
            ts->remaining -= n;
            if (rc == BK_OK && ts->remaining == 0 && ts->regular)
                rc = manifest_verifier_file_end(ts->verifier, err);
        } else if (ts->pad > 0) {
            n = len < ts->pad ? len : (size_t)ts->pad;
            ts->pad -= n;
        } else {
            n = 512 - ts->hdr_len < len ? 512 - ts->hdr_len : len;
            memcpy(ts->hdr + ts->hdr_len, data, n);
            ts->hdr_len += n;
            if (ts->hdr_len == 512) {
                ts->hdr_len = 0;
                rc = tar_header(ts, err);
            }
        }
        data += n;
        len -= n;
    }
    return rc;
}

static int tar_sink_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    struct tar_sink *ts = (struct tar_sink *)sink;
    uint8_t *copy = malloc(len);
    int rc;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, data, len);
    rc = tar_parse(ts, copy, len, err);
    if (rc == BK_OK && write(ts->fd, copy, len) != (ssize_t)len)
        rc = bk_error_set_errno(err, errno, "tar_sink_write", NULL, "write failed");
    free(copy);
    ts->written += len;
    if (rc == BK_OK && ts->fail_after != 0 && ts->written >= ts->fail_after)
        rc = bk_error_set(err, BK_EIO, "tar_sink_write", NULL, "injected failure");
    return rc;
}

static void tar_sink_free(struct bk_sink *sink)
{
    struct tar_sink *ts = (struct tar_sink *)sink;
    close(ts->fd);
    fclose(ts->members);
    free(ts);
}

static const struct bk_sink_ops tar_sink_ops = { .name = "test-tar", .write = tar_sink_write,
                                                 .free = tar_sink_free };

struct backup_ctx {
    char dir[512];
    char tmp_root[64];         /* set when no PG_TEST_OUTDIR: removed by ctx_free */
    struct manifest_verifier *verifier;
    struct bk_sink *sink;
    struct bk_buf manifest;
    struct bk_sink *manifest_sink;
    const char *corrupt_name;
    bool corrupted;
    uint64_t fail_after;
    int fail_begin_index;      /* -1 = never */
    int begins, ends, aborts, manifest_ends, progress_calls;
    uint64_t last_done, last_total;
    char names[4][64];
    uint32_t oids[4];
};

static int ctx_archive_begin(struct bk_sink **out, const struct pgbb_archive *a, void *payload,
                             struct bk_error *err)
{
    struct backup_ctx *c = payload;
    struct tar_sink *ts;
    char path[700];

    if (c->begins < 4) {
        snprintf(c->names[c->begins], sizeof(c->names[0]), "%s", a->name);
        c->oids[c->begins] = a->tablespace_oid;
    }
    ck_assert_uint_eq(a->index, (size_t)c->begins);
    if (c->begins++ == c->fail_begin_index)
        return bk_error_set(err, BK_ENOSPC, "ctx_archive_begin", a->name, "injected failure");
    ts = calloc(1, sizeof(*ts));
    ck_assert_ptr_nonnull(ts);
    ts->base.ops = &tar_sink_ops;
    snprintf(path, sizeof(path), "%s/%s", c->dir, a->name);
    ts->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(ts->fd, 0);
    snprintf(path, sizeof(path), "%s/%s.members", c->dir, a->name);
    ts->members = fopen(path, "w");
    ck_assert_ptr_nonnull(ts->members);
    ts->verifier = c->verifier;
    ts->corrupt_name = c->corrupt_name;
    ts->corrupted = &c->corrupted;
    ts->fail_after = c->fail_after;
    c->sink = &ts->base;
    *out = c->sink;
    return manifest_verifier_archive_begin(c->verifier, a->tablespace_oid, err);
}

static int ctx_archive_end(const struct pgbb_archive *a, void *payload, struct bk_error *err)
{
    struct backup_ctx *c = payload;
    struct tar_sink *ts = (struct tar_sink *)c->sink;
    int rc = BK_OK;
    (void)a;
    c->ends++;
    if (ts->remaining != 0 || ts->hdr_len != 0)
        rc = bk_error_set(err, BK_ECORRUPT, "ctx_archive_end", a->name, "archive ends inside a member");
    bk_sink_free(c->sink);
    c->sink = NULL;
    return rc;
}

static void ctx_archive_abort(const struct pgbb_archive *a, void *payload)
{
    struct backup_ctx *c = payload;
    (void)a;
    c->aborts++;
    bk_sink_free(c->sink);
    c->sink = NULL;
}

static int ctx_manifest_begin(struct bk_sink **out, void *payload, struct bk_error *err)
{
    struct backup_ctx *c = payload;
    int rc = bk_sink_buf_new(&c->manifest_sink, &c->manifest, err);
    *out = c->manifest_sink;
    return rc;
}

static int ctx_manifest_end(void *payload, struct bk_error *err)
{
    struct backup_ctx *c = payload;
    char path[600];
    FILE *f;
    (void)err;
    c->manifest_ends++;
    bk_sink_free(c->manifest_sink);
    c->manifest_sink = NULL;
    snprintf(path, sizeof(path), "%s/backup_manifest", c->dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(c->manifest.data, 1, c->manifest.len, f), c->manifest.len);
    fclose(f);
    return BK_OK;
}

static void ctx_manifest_abort(void *payload)
{
    struct backup_ctx *c = payload;
    bk_sink_free(c->manifest_sink);
    c->manifest_sink = NULL;
}

static void ctx_progress(uint64_t done, uint64_t total, void *payload)
{
    struct backup_ctx *c = payload;
    ck_assert_uint_ge(done, c->last_done);
    c->progress_calls++;
    c->last_done = done;
    c->last_total = total;
}

static void ctx_init(struct backup_ctx *c, const char *name, enum manifest_checksum checksum)
{
    struct manifest_verifier_opts vopts = MANIFEST_VERIFIER_OPTS_INIT;
    struct bk_error err = BK_ERROR_INIT;
    const char *base = getenv("PG_TEST_OUTDIR");

    memset(c, 0, sizeof(*c));
    c->fail_begin_index = -1;
    if (base == NULL) {
        snprintf(c->tmp_root, sizeof(c->tmp_root), "/tmp/bbstream.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(c->tmp_root));
        base = c->tmp_root;
    }
    snprintf(c->dir, sizeof(c->dir), "%s/%s", base, name);
    ck_assert(mkdir(c->dir, 0755) == 0 || errno == EEXIST);
    vopts.checksum = checksum;
    ck_assert_int_eq(manifest_verifier_new(&c->verifier, &vopts, &err), BK_OK);
    bk_buf_init(&c->manifest, 64u << 20);
}

static void ctx_free(struct backup_ctx *c)
{
    manifest_verifier_free(c->verifier);
    bk_buf_free(&c->manifest);
    if (c->tmp_root[0] != '\0') {
        DIR *d = opendir(c->dir);
        struct dirent *e;
        char path[800];
        while (d != NULL && (e = readdir(d)) != NULL) {
            snprintf(path, sizeof(path), "%s/%s", c->dir, e->d_name);
            if (e->d_name[0] != '.')
                unlink(path);
        }
        if (d != NULL)
            closedir(d);
        rmdir(c->dir);
        rmdir(c->tmp_root);
    }
}

static const struct pgbb_handler ctx_handler = {
    .archive_begin = ctx_archive_begin, .archive_end = ctx_archive_end,
    .archive_abort = ctx_archive_abort, .manifest_begin = ctx_manifest_begin,
    .manifest_end = ctx_manifest_end, .manifest_abort = ctx_manifest_abort,
    .progress = ctx_progress,
};

static int run_backup(struct backup_ctx *c, struct pgbb_result *r, const char *conninfo,
                      enum manifest_checksum checksum, struct bk_error *err)
{
    struct pgbb_opts opts = PGBB_OPTS_INIT;
    struct pgbb_handler h = ctx_handler;
    opts.label = "bbstream test";
    opts.manifest_checksums = checksum;
    h.payload = c;
    return pgbb_run(r, conninfo, &opts, &h, err);
}

static uint64_t env_u64(const char *name)
{
    const char *v = getenv(name);
    ck_assert_msg(v != NULL, "%s not set", name);
    return strtoull(v, NULL, 10);
}

/* Second opinion: re-reads the archive files written to dir through lib/archive's tar_reader
 * with manifest_verifier_tar_ops and checks them against the manifest. */
static int reverify_files(const struct backup_ctx *c, enum manifest_checksum checksum,
                          struct manifest_verify_report *rep, struct bk_error *err)
{
    struct manifest_verifier_opts vopts = MANIFEST_VERIFIER_OPTS_INIT;
    struct manifest_verifier *v = NULL;
    DIR *d = opendir(c->dir);
    struct dirent *e;
    int rc;

    ck_assert_ptr_nonnull(d);
    vopts.checksum = checksum;
    ck_assert_int_eq(manifest_verifier_new(&v, &vopts, err), BK_OK);
    while ((e = readdir(d)) != NULL) {
        struct tar_reader_opts topts = TAR_READER_OPTS_INIT;
        struct bk_sink *reader = NULL;
        char path[800], buf[65536];
        ssize_t n;
        int fd;
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".tar") != 0)
            continue;
        ck_assert_int_eq(manifest_verifier_archive_begin(
                             v, strcmp(e->d_name, "base.tar") == 0 ? 0 : (uint32_t)strtoul(e->d_name, NULL, 10),
                             err), BK_OK);
        topts.ops = &manifest_verifier_tar_ops;
        topts.payload = v;
        topts.name_for_errors = e->d_name;
        ck_assert_int_eq(tar_reader_new(&reader, &topts, err), BK_OK);
        snprintf(path, sizeof(path), "%s/%s", c->dir, e->d_name);
        fd = open(path, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            ck_assert_int_eq(bk_sink_write(reader, buf, (size_t)n, err), BK_OK);
        close(fd);
        ck_assert_int_eq(bk_sink_finish(reader, err), BK_OK);
        bk_sink_free(reader);
    }
    closedir(d);
    rc = manifest_verifier_check(rep, v, c->manifest.data, c->manifest.len, err);
    manifest_verifier_free(v);
    return rc;
}

/* ---- scripted fake walsender (tests/tools/fake_walsender.py) ---- */

static int fake_port;
static pid_t fake_pid;

static void fake_start(void)
{
    const char *script = getenv("PG_TEST_FAKE_WALSENDER");
    static char path[512];
    int fds[2];
    FILE *f;

    if (script == NULL) {   /* __FILE__ is tests/unit/...: the script is in tests/tools/ */
        snprintf(path, sizeof(path), "%.*s/../tools/fake_walsender.py",
                 (int)(strrchr(__FILE__, '/') != NULL ? strrchr(__FILE__, '/') - __FILE__ : 1),
                 strrchr(__FILE__, '/') != NULL ? __FILE__ : ".");
        script = path;
    }
    if (access(script, R_OK) != 0 || pipe(fds) != 0)
        return;
    fake_pid = fork();
    if (fake_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execlp("python3", "python3", script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    if (f == NULL || fscanf(f, "%d", &fake_port) != 1)
        fake_port = 0;
    if (f != NULL)
        fclose(f);
}

static void fake_stop(void)
{
    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, NULL, 0);
    }
}

/* Runs one scenario; returns false (and prints why) when the fake server is not available. */
static bool fake_run(struct backup_ctx *c, struct pgbb_result *r, const char *scenario, int *rc,
                     struct bk_error *err)
{
    char conninfo[256];
    if (fake_port == 0) {
        printf("skipped: fake walsender %s (python3 or tests/tools/fake_walsender.py not found; "
               "run from the repository root or set PG_TEST_FAKE_WALSENDER)\n", scenario);
        return false;
    }
    ctx_init(c, scenario, MANIFEST_CHECKSUM_SHA256);
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=tester sslmode=disable "
             "gssencmode=disable application_name=%s", fake_port, scenario);
    *rc = run_backup(c, r, conninfo, MANIFEST_CHECKSUM_SHA256, err);
    return true;
}

#endif

/*
 * pg_basebackup_stream: command text, parsers, password redaction and connection errors run
 * everywhere; the backups themselves need a server and run only when PG_TEST_CONNINFO is set
 * (tests/e2e/basebackup_stream_test.sh sets it and the PG_TEST_* variables read below).
 * Archives are written to $PG_TEST_OUTDIR/<case>/ with a "<archive>.members" listing so the
 * script can compare them with `tar -tf` and pg_verifybackup. The "fake" cases run everywhere
 * against tests/tools/fake_walsender.py (python3): the 13/14 dialect and protocol failures.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bk_buf.h"
#include "bk_sink.h"
#include "manifest_verifier.h"
#include "pg_basebackup_stream.h"
#include "tar_reader.h"

/* ---------------------------------------------------------------- offline */

static const char *build(int version, const struct pgbb_opts *opts, int *rc)
{
    static char cmd[1024];
    struct bk_error err = BK_ERROR_INIT;
    cmd[0] = '\0';
    *rc = pgbb_build_command(cmd, sizeof(cmd), version, opts, &err);
    return cmd;
}

START_TEST(test_command_v15_default)
{
    struct pgbb_opts opts = PGBB_OPTS_INIT;
    int rc;
    ck_assert_str_eq(build(150004, &opts, &rc),
                     "BASE_BACKUP ( LABEL 'backupd', PROGRESS, CHECKPOINT 'fast', WAL false, "
                     "MANIFEST 'yes', MANIFEST_CHECKSUMS 'SHA256', TABLESPACE_MAP true, "
                     "TARGET 'client' )");
    ck_assert_int_eq(rc, BK_OK);
    ck_assert_str_eq(build(170000, &opts, &rc), build(150000, &opts, &rc));
}
END_TEST

START_TEST(test_command_v15_options)
{
    struct pgbb_opts opts = PGBB_OPTS_INIT;
    int rc;
    opts.label = "it's";
    opts.checkpoint = PGBB_CHECKPOINT_SPREAD;
    opts.wait_for_archive = false;
    opts.manifest_checksums = MANIFEST_CHECKSUM_CRC32C;
    opts.verify_checksums = false;
    opts.max_rate_kbps = 1024;
    ck_assert_str_eq(build(150000, &opts, &rc),
                     "BASE_BACKUP ( LABEL 'it''s', PROGRESS, CHECKPOINT 'spread', WAIT false, "
                     "WAL false, MANIFEST 'yes', MANIFEST_CHECKSUMS 'CRC32C', TABLESPACE_MAP true, "
                     "VERIFY_CHECKSUMS false, MAX_RATE 1024, TARGET 'client' )");
    ck_assert_int_eq(rc, BK_OK);
    opts.manifest = false;
    opts.progress = false;
    ck_assert_str_eq(build(160002, &opts, &rc),
                     "BASE_BACKUP ( LABEL 'it''s', CHECKPOINT 'spread', WAIT false, WAL false, "
                     "TABLESPACE_MAP true, VERIFY_CHECKSUMS false, MAX_RATE 1024, TARGET 'client' )");
}
END_TEST

START_TEST(test_command_legacy)
{
    struct pgbb_opts opts = PGBB_OPTS_INIT;
    int rc;
    ck_assert_str_eq(build(140010, &opts, &rc),
                     "BASE_BACKUP LABEL 'backupd' PROGRESS FAST MANIFEST 'yes' "
                     "MANIFEST_CHECKSUMS 'SHA256' TABLESPACE_MAP");
    ck_assert_int_eq(rc, BK_OK);
    opts.wait_for_archive = false;
    opts.verify_checksums = false;
    opts.max_rate_kbps = 32;
    opts.manifest_checksums = MANIFEST_CHECKSUM_NONE;
    ck_assert_str_eq(build(130000, &opts, &rc),
                     "BASE_BACKUP LABEL 'backupd' PROGRESS FAST NOWAIT MANIFEST 'yes' "
                     "MANIFEST_CHECKSUMS 'NONE' TABLESPACE_MAP NOVERIFY_CHECKSUMS MAX_RATE 32");
    ck_assert_int_eq(rc, BK_OK);
}
END_TEST

START_TEST(test_command_refused)
{
    struct pgbb_opts opts = PGBB_OPTS_INIT;
    char small[40];
    struct bk_error err = BK_ERROR_INIT;
    int rc;

    build(120000, &opts, &rc);
    ck_assert_int_eq(rc, BK_EUNSUPPORTED);
    opts.label = "two\nlines";
    build(150000, &opts, &rc);
    ck_assert_int_eq(rc, BK_EINVAL);
    opts.label = "";
    build(150000, &opts, &rc);
    ck_assert_int_eq(rc, BK_EINVAL);
    opts.label = "x";
    opts.max_rate_kbps = 31;
    build(150000, &opts, &rc);
    ck_assert_int_eq(rc, BK_EINVAL);
    opts.max_rate_kbps = 1048577;
    build(150000, &opts, &rc);
    ck_assert_int_eq(rc, BK_EINVAL);
    opts.max_rate_kbps = 0;
    ck_assert_int_eq(pgbb_build_command(small, sizeof(small), 150000, &opts, &err), BK_ENOMEM);
    ck_assert_str_eq(err.op, "pgbb_build_command");
}
END_TEST

START_TEST(test_lsn_parse)
{
    struct bk_error err = BK_ERROR_INIT;
    uint64_t lsn = 1;
    ck_assert_int_eq(pgbb_lsn_parse("16/B374D848", &lsn, &err), BK_OK);
    ck_assert_uint_eq(lsn, UINT64_C(0x16B374D848));
    ck_assert_int_eq(pgbb_lsn_parse("0/0", &lsn, &err), BK_OK);
    ck_assert_uint_eq(lsn, 0);
    ck_assert_int_eq(pgbb_lsn_parse("FFFFFFFF/FFFFFFFF", &lsn, &err), BK_OK);
    ck_assert_uint_eq(lsn, UINT64_MAX);
    ck_assert_int_eq(pgbb_lsn_parse("x/1", &lsn, &err), BK_EPROTO);
    ck_assert_int_eq(pgbb_lsn_parse("1/", &lsn, &err), BK_EPROTO);
    ck_assert_int_eq(pgbb_lsn_parse("1/2 ", &lsn, &err), BK_EPROTO);
    ck_assert_int_eq(pgbb_lsn_parse(" 1/2", &lsn, &err), BK_EPROTO);
    ck_assert_str_eq(err.message, "invalid LSN \" 1/2\"");
}
END_TEST

START_TEST(test_wal_segment_size_parse)
{
    static const struct { const char *text; int rc; uint32_t bytes; } cases[] = {
        { "16MB", BK_OK, 16u << 20 }, { "1GB", BK_OK, 1u << 30 }, { "64MB", BK_OK, 64u << 20 },
        { "1024kB", BK_OK, 1u << 20 }, { "16777216", BK_OK, 16u << 20 }, { "1MB", BK_OK, 1u << 20 },
        { "15MB", BK_EPROTO, 0 }, { "2GB", BK_EPROTO, 0 }, { "512kB", BK_EPROTO, 0 },
        { "", BK_EPROTO, 0 }, { "16 MB", BK_EPROTO, 0 }, { "16mb", BK_EPROTO, 0 }, { "MB", BK_EPROTO, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bk_error err = BK_ERROR_INIT;
        uint32_t out = 0;
        ck_assert_msg(pgbb_wal_segment_size_parse(cases[i].text, &out, &err) == cases[i].rc,
                      "case \"%s\"", cases[i].text);
        ck_assert_uint_eq(out, cases[i].bytes);
    }
}
END_TEST

START_TEST(test_backup_name)
{
    struct pgbb_result r = { .timeline = 1, .start_lsn = 0x3000028, .wal_segment_size = 16u << 20 };
    struct bk_error err = BK_ERROR_INIT;
    char name[40];

    ck_assert_int_eq(pgbb_backup_name(name, sizeof(name), &r, &err), BK_OK);
    ck_assert_str_eq(name, "base_000000010000000000000003");
    r.timeline = 0x2A;
    r.start_lsn = UINT64_C(0x1B2000000);
    ck_assert_int_eq(pgbb_backup_name(name, sizeof(name), &r, &err), BK_OK);
    ck_assert_str_eq(name, "base_0000002A00000001000000B2");
    r.timeline = 1;
    r.wal_segment_size = 64u << 20;
    r.start_lsn = UINT64_C(0x108000000);   /* segment 66 = xlogid 1, seg 2 */
    ck_assert_int_eq(pgbb_backup_name(name, sizeof(name), &r, &err), BK_OK);
    ck_assert_str_eq(name, "base_000000010000000100000002");
    ck_assert_int_eq(pgbb_backup_name(name, 29, &r, &err), BK_EINVAL);
    r.wal_segment_size = 0;
    ck_assert_int_eq(pgbb_backup_name(name, sizeof(name), &r, &err), BK_EINVAL);
}
END_TEST

START_TEST(test_redact_password)
{
    char msg[128];

    snprintf(msg, sizeof(msg), "FATAL: user x pw s3cret! and s3cret");
    pgbb_redact_password(msg, sizeof(msg), "host=h password=s3cret! user=x");
    ck_assert_str_eq(msg, "FATAL: user x pw *** and s3cret");   /* "s3cret!" is the secret */
    snprintf(msg, sizeof(msg), "got 'pa ss' here");
    pgbb_redact_password(msg, sizeof(msg), "password = 'pa ss' host=h");
    ck_assert_str_eq(msg, "got '***' here");
    snprintf(msg, sizeof(msg), "raw p%%40ss decoded p@ss");
    pgbb_redact_password(msg, sizeof(msg), "postgresql://u:p%40ss@h:5432/db");
    ck_assert_str_eq(msg, "raw *** decoded ***");
    snprintf(msg, sizeof(msg), "missing \"=\" after \"junk\" near abc");
    pgbb_redact_password(msg, sizeof(msg), "password=abc junk");   /* does not parse */
    ck_assert_str_eq(msg, "missing \"=\" after \"junk\" near ***");
    snprintf(msg, sizeof(msg), "q=zz");
    pgbb_redact_password(msg, sizeof(msg), "postgres://h/db?password=zz&sslmode=off");
    ck_assert_str_eq(msg, "q=***");
    snprintf(msg, 8, "a_a_a_");          /* a 1-byte secret grows to 3 bytes: truncated, no overflow */
    pgbb_redact_password(msg, 8, "password=a");
    ck_assert_str_eq(msg, "***_***");
}
END_TEST

static int null_archive_begin(struct bk_sink **out, const struct pgbb_archive *a, void *p,
                              struct bk_error *err)
{
    (void)a;
    (void)p;
    return bk_sink_null_new(out, err);
}

static int null_archive_end(const struct pgbb_archive *a, void *p, struct bk_error *err)
{
    (void)a;
    (void)p;
    (void)err;
    return BK_OK;
}

START_TEST(test_connect_refused_hides_password)
{
    struct pgbb_opts opts = PGBB_OPTS_INIT;
    struct pgbb_handler handler = { .archive_begin = null_archive_begin, .archive_end = null_archive_end };
    struct pgbb_result result;
    struct bk_error err = BK_ERROR_INIT;

    ck_assert_int_eq(pgbb_run(&result, "host=127.0.0.1 port=1 user=u password=hunter2xyz", &opts,
                              &handler, &err), BK_ENET);
    ck_assert_str_eq(err.op, "pgbb_connect");
    ck_assert_str_eq(err.object, "127.0.0.1:1");
    ck_assert_ptr_nonnull(strstr(err.message, "could not connect: connection to server at"));
    ck_assert_ptr_null(strstr(err.message, "hunter2xyz"));
    ck_assert(err.retryable);
    pgbb_result_clear(&result);

    ck_assert_int_eq(pgbb_run(&result, "host=127.0.0.1 password=hunter2xyz bogus", &opts, &handler,
                              &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "invalid connection string");
    ck_assert_int_eq(pgbb_run(&result, "host=127.0.0.1 bogus", &opts, &handler, &err), BK_EINVAL);
    ck_assert_str_eq(err.message,
                     "invalid connection string: missing \"=\" after \"bogus\" in connection info string");
    handler.archive_end = NULL;
    ck_assert_int_eq(pgbb_run(&result, "host=127.0.0.1", &opts, &handler, &err), BK_EINVAL);
    pgbb_result_clear(&result);
}
END_TEST

/* ---------------------------------------------------------------- with a server */

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

/* A full, verified backup of the server behind conninfo; shared by the primary/standby cases. */
static void check_full_backup(const char *conninfo, const char *name, enum manifest_checksum checksum,
                              bool primary)
{
    struct backup_ctx c;
    struct pgbb_result r;
    struct manifest_verify_report rep;
    struct bk_error err = BK_ERROR_INIT;
    size_t ts_expected = (size_t)env_u64("PG_TEST_TABLESPACES");
    char bname[40];
    int rc;

    ctx_init(&c, name, checksum);
    rc = run_backup(&c, &r, conninfo, checksum, &err);
    ck_assert_msg(rc == BK_OK, "backup: %s", err.message);
    ck_assert_int_ge(r.server_version_num, 150000);
    ck_assert_int_eq(r.server_version_num, (int)env_u64("PG_TEST_SERVER_VERSION_NUM"));
    ck_assert_uint_eq(r.wal_segment_size, 16u << 20);
    ck_assert_uint_eq(r.system_identifier, env_u64("PG_TEST_SYSID"));
    ck_assert_uint_eq(r.timeline, 1);
    ck_assert_uint_eq(r.stop_timeline, 1);
    ck_assert_uint_eq(r.identify_timeline, 1);
    ck_assert_uint_ne(r.start_lsn, 0);
    ck_assert_uint_gt(r.stop_lsn, r.start_lsn);
    ck_assert_str_eq(r.label, "bbstream test");
    ck_assert_uint_eq(r.tablespaces_len, ts_expected);
    ck_assert_uint_eq(r.tablespaces[ts_expected - 1].oid, 0);
    ck_assert_ptr_null(r.tablespaces[ts_expected - 1].location);
    ck_assert_int_gt(r.tablespaces[ts_expected - 1].size_kb, 0);
    ck_assert_uint_eq(r.archives_len, ts_expected);
    ck_assert_int_eq(c.begins, (int)ts_expected);
    ck_assert_int_eq(c.ends, (int)ts_expected);
    ck_assert_int_eq(c.aborts, 0);
    ck_assert_int_eq(c.manifest_ends, 1);
    ck_assert_str_eq(c.names[ts_expected - 1], "base.tar");
    ck_assert_uint_eq(c.oids[ts_expected - 1], 0);
    for (size_t i = 0; i + 1 < ts_expected; i++) {
        char want[32];
        ck_assert_uint_eq(c.oids[i], r.tablespaces[i].oid);
        snprintf(want, sizeof(want), "%" PRIu32 ".tar", r.tablespaces[i].oid);
        ck_assert_str_eq(c.names[i], want);
        ck_assert_ptr_nonnull(r.tablespaces[i].location);
    }
    ck_assert_uint_eq(r.manifest_bytes, c.manifest.len);
    ck_assert_int_ge(c.progress_calls, 2);
    ck_assert_uint_eq(c.last_done, r.archive_bytes);
    ck_assert_uint_gt(c.last_total, 0);

    rc = manifest_verifier_check(&rep, c.verifier, c.manifest.data, c.manifest.len, &err);
    ck_assert_msg(rc == BK_OK, "verify: %s", err.message);
    ck_assert_uint_gt(rep.files_in_manifest, 100);
    ck_assert_uint_eq(rep.files_ok, rep.files_in_manifest);
    ck_assert_uint_eq(rep.files_streamed, rep.files_in_manifest);
    ck_assert_uint_eq(rep.mismatched + rep.missing + rep.unexpected, 0);
    ck_assert_uint_eq(rep.ignored, 0);
    ck_assert_int_eq(rep.manifest_version, 1);
    ck_assert_uint_eq(rep.wal_timeline, 1);
    ck_assert_uint_eq(rep.wal_start_lsn, r.start_lsn);
    ck_assert_uint_eq(rep.wal_end_lsn, r.stop_lsn);

    memset(&rep, 0, sizeof(rep));
    rc = reverify_files(&c, checksum, &rep, &err);
    ck_assert_msg(rc == BK_OK, "re-verify with tar_reader: %s", err.message);
    ck_assert_uint_eq(rep.files_ok, rep.files_in_manifest);

    ck_assert_int_eq(pgbb_backup_name(bname, sizeof(bname), &r, &err), BK_OK);
    if (primary) {
        /* the name must be the WAL file the server itself names for the start LSN */
        PGconn *conn = PQconnectdb(conninfo);
        char sql[128];
        PGresult *res;
        ck_assert_int_eq(PQstatus(conn), CONNECTION_OK);
        snprintf(sql, sizeof(sql), "select 'base_' || pg_walfile_name('%X/%X')",
                 (unsigned)(r.start_lsn >> 32), (unsigned)r.start_lsn);
        res = PQexec(conn, sql);
        ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
        ck_assert_str_eq(bname, PQgetvalue(res, 0, 0));
        PQclear(res);
        PQfinish(conn);
    }
    printf("%s: %s start %X/%X stop %X/%X, %zu files, %" PRIu64 " bytes\n", name, bname,
           (unsigned)(r.start_lsn >> 32), (unsigned)r.start_lsn, (unsigned)(r.stop_lsn >> 32),
           (unsigned)r.stop_lsn, rep.files_in_manifest, r.archive_bytes);
    pgbb_result_clear(&r);
    ctx_free(&c);
}

START_TEST(test_primary_sha256)
{
    check_full_backup(getenv("PG_TEST_CONNINFO"), "primary", MANIFEST_CHECKSUM_SHA256, true);
}
END_TEST

START_TEST(test_primary_crc32c)
{
    check_full_backup(getenv("PG_TEST_CONNINFO"), "primary-crc32c", MANIFEST_CHECKSUM_CRC32C, true);
}
END_TEST

START_TEST(test_standby)
{
    const char *conninfo = getenv("PG_TEST_CONNINFO_STANDBY");
    if (conninfo == NULL) {
        printf("skipped: standby backup (PG_TEST_CONNINFO_STANDBY not set)\n");
        return;
    }
    check_full_backup(conninfo, "standby", MANIFEST_CHECKSUM_SHA256, false);
}
END_TEST

START_TEST(test_corrupt_member)
{
    struct backup_ctx c;
    struct pgbb_result r;
    struct manifest_verify_report rep;
    struct bk_error err = BK_ERROR_INIT;
    int rc;

    ctx_init(&c, "corrupt", MANIFEST_CHECKSUM_SHA256);
    c.corrupt_name = "PG_VERSION";
    rc = run_backup(&c, &r, getenv("PG_TEST_CONNINFO"), MANIFEST_CHECKSUM_SHA256, &err);
    ck_assert_msg(rc == BK_OK, "backup: %s", err.message);
    ck_assert(c.corrupted);
    rc = manifest_verifier_check(&rep, c.verifier, c.manifest.data, c.manifest.len, &err);
    ck_assert_int_eq(rc, BK_ECORRUPT);
    ck_assert_str_eq(err.object, "PG_VERSION");
    ck_assert_str_eq(err.message, "backup does not match its manifest (1 mismatched, 0 missing, "
                                  "0 unexpected): \"PG_VERSION\": checksum differs from the manifest");
    ck_assert_uint_eq(rep.mismatched, 1);
    ck_assert_uint_eq(rep.files_ok, rep.files_in_manifest - 1);
    /* the corrupted byte is in the written archive too */
    ck_assert_int_eq(reverify_files(&c, MANIFEST_CHECKSUM_SHA256, &rep, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.object, "PG_VERSION");
    pgbb_result_clear(&r);
    ctx_free(&c);
}
END_TEST

START_TEST(test_handler_failures)
{
    struct backup_ctx c;
    struct pgbb_result r;
    struct bk_error err = BK_ERROR_INIT;
    int rc;

    /* archive_begin fails for the second archive: nothing to abort, its code comes back */
    ctx_init(&c, "fail-begin", MANIFEST_CHECKSUM_SHA256);
    c.fail_begin_index = 1;
    rc = run_backup(&c, &r, getenv("PG_TEST_CONNINFO"), MANIFEST_CHECKSUM_SHA256, &err);
    ck_assert_int_eq(rc, BK_ENOSPC);
    ck_assert_str_eq(err.message, "injected failure");
    ck_assert_int_eq(c.begins, 2);
    ck_assert_int_eq(c.ends, 1);
    ck_assert_int_eq(c.aborts, 0);
    ck_assert_int_eq(c.manifest_ends, 0);
    pgbb_result_clear(&r);
    ctx_free(&c);

    /* the sink fails inside the first archive: the open archive is aborted */
    ctx_init(&c, "fail-write", MANIFEST_CHECKSUM_SHA256);
    c.fail_after = 100000;
    rc = run_backup(&c, &r, getenv("PG_TEST_CONNINFO"), MANIFEST_CHECKSUM_SHA256, &err);
    ck_assert_int_eq(rc, BK_EIO);
    ck_assert_int_eq(c.begins, 1);
    ck_assert_int_eq(c.ends, 0);
    ck_assert_int_eq(c.aborts, 1);
    pgbb_result_clear(&r);
    ctx_free(&c);

    /* the server is not left with a stuck backup */
    check_full_backup(getenv("PG_TEST_CONNINFO"), "after-failures", MANIFEST_CHECKSUM_SHA256, true);
}
END_TEST

static void check_connect_error(const char *var, int code, const char *secret)
{
    struct pgbb_opts opts = PGBB_OPTS_INIT;
    struct pgbb_handler handler = { .archive_begin = null_archive_begin, .archive_end = null_archive_end };
    struct pgbb_result r;
    struct bk_error err = BK_ERROR_INIT;
    const char *conninfo = getenv(var);

    if (conninfo == NULL) {
        printf("skipped: %s not set\n", var);
        return;
    }
    ck_assert_int_eq(pgbb_run(&r, conninfo, &opts, &handler, &err), code);
    ck_assert_str_eq(err.op, "pgbb_connect");
    if (secret != NULL)
        ck_assert_msg(strstr(err.message, secret) == NULL, "password leaked: %s", err.message);
    printf("%s: %s\n", var, err.message);
    pgbb_result_clear(&r);
}

START_TEST(test_auth_failure)
{
    check_connect_error("PG_TEST_CONNINFO_BADPW", BK_EAUTH, getenv("PG_TEST_BADPW"));
}
END_TEST

START_TEST(test_no_replication_privilege)
{
    check_connect_error("PG_TEST_CONNINFO_NOREPL", BK_EDENIED, NULL);
}
END_TEST

/* ---------------------------------------------------------------- scripted fake server */

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

static void fake_check_complete(struct backup_ctx *c, struct pgbb_result *r, int version)
{
    struct manifest_verify_report rep;
    struct bk_error err = BK_ERROR_INIT;
    struct stat st;
    char path[700];

    ck_assert_int_eq(r->server_version_num, version);
    ck_assert_uint_eq(r->system_identifier, UINT64_C(7300000000000000042));
    ck_assert_uint_eq(r->identify_xlogpos, 0x2000000);
    ck_assert_uint_eq(r->start_lsn, 0x2000028);
    ck_assert_uint_eq(r->stop_lsn, 0x2000100);
    ck_assert_uint_eq(r->tablespaces_len, 2);
    ck_assert_uint_eq(r->tablespaces[0].oid, 16385);
    ck_assert_str_eq(r->tablespaces[0].location, "/srv/ts1");
    ck_assert_int_eq(r->tablespaces[0].size_kb, 20);
    ck_assert_uint_eq(r->tablespaces[1].oid, 0);
    ck_assert_int_eq(r->tablespaces[1].size_kb, 30);
    ck_assert_str_eq(c->names[0], "16385.tar");
    ck_assert_uint_eq(c->oids[0], 16385);
    ck_assert_str_eq(c->names[1], "base.tar");
    ck_assert_int_eq(c->ends, 2);
    ck_assert_int_eq(c->aborts, 0);
    ck_assert_int_eq(c->manifest_ends, 1);
    ck_assert_uint_eq(c->last_total, 50 * 1024);
    ck_assert_uint_eq(c->last_done, r->archive_bytes);
    snprintf(path, sizeof(path), "%s/base.tar", c->dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size % 512, 0);
    ck_assert_int_eq(manifest_verifier_check(&rep, c->verifier, c->manifest.data, c->manifest.len, &err),
                     BK_OK);
    ck_assert_uint_eq(rep.files_in_manifest, 5);
    ck_assert_uint_eq(rep.files_ok, 5);
    ck_assert_uint_eq(rep.wal_end_lsn, r->stop_lsn);
    ck_assert_int_eq(reverify_files(c, MANIFEST_CHECKSUM_SHA256, &rep, &err), BK_OK);
    ck_assert_uint_eq(rep.files_ok, 5);
}

START_TEST(test_fake_legacy_ok)
{
    struct backup_ctx c;
    struct pgbb_result r;
    struct bk_error err = BK_ERROR_INIT;
    int rc;
    if (!fake_run(&c, &r, "legacy_ok", &rc, &err))
        return;
    ck_assert_msg(rc == BK_OK, "%s", err.message);
    fake_check_complete(&c, &r, 140009);
    pgbb_result_clear(&r);
    ctx_free(&c);
}
END_TEST

START_TEST(test_fake_v15_ok)
{
    struct backup_ctx c;
    struct pgbb_result r;
    struct bk_error err = BK_ERROR_INIT;
    int rc;
    if (!fake_run(&c, &r, "v15_ok", &rc, &err))
        return;
    ck_assert_msg(rc == BK_OK, "%s", err.message);
    fake_check_complete(&c, &r, 150004);
    ck_assert_int_ge(c.progress_calls, 5);   /* start, 'p' x2, end of each archive */
    pgbb_result_clear(&r);
    ctx_free(&c);
}
END_TEST

START_TEST(test_fake_legacy_mid_error)
{
    struct backup_ctx c;
    struct pgbb_result r;
    struct bk_error err = BK_ERROR_INIT;
    int rc;
    if (!fake_run(&c, &r, "legacy_mid_error", &rc, &err))
        return;
    ck_assert_int_eq(rc, BK_ESERVER);
    ck_assert_str_eq(err.server_code, "58030");
    ck_assert_str_eq(err.message, "base backup failed: ERROR: could not read file \"base/1/1259\": "
                                  "Input/output error");
    ck_assert_int_eq(c.begins, 2);
    ck_assert_int_eq(c.ends, 1);      /* the tablespace archive was complete */
    ck_assert_int_eq(c.aborts, 1);    /* base.tar was not */
    ck_assert_int_eq(c.manifest_ends, 0);
    pgbb_result_clear(&r);
    ctx_free(&c);
}
END_TEST

START_TEST(test_fake_legacy_checksum_failure)
{
    struct backup_ctx c;
    struct pgbb_result r;
    struct bk_error err = BK_ERROR_INIT;
    int rc;
    if (!fake_run(&c, &r, "legacy_checksum", &rc, &err))
        return;
    ck_assert_int_eq(rc, BK_ECORRUPT);
    ck_assert_str_eq(err.server_code, "XX001");
    ck_assert_str_eq(err.message, "base backup failed at the end: ERROR: checksum verification "
                                  "failure during base backup");
    ck_assert_int_eq(c.ends, 2);
    ck_assert_int_eq(c.manifest_ends, 1);
    ck_assert_uint_eq(r.stop_lsn, 0x2000100);
    pgbb_result_clear(&r);
    ctx_free(&c);
}
END_TEST

START_TEST(test_fake_protocol_failures)
{
    static const struct { const char *scenario; int code; const char *message; int ends, aborts; } cases[] = {
        { "v15_unknown_msg", BK_EPROTO, "unexpected reply from the server: unknown copy message type", 1, 1 },
        { "v15_bad_location", BK_EPROTO, "unexpected reply from the server: archive for an unknown tablespace", 1, 0 },
        { "v15_drop", BK_ENET, "receiving the backup failed: server closed the connection unexpectedly "
                               "This probably means the server terminated abnormally before or while "
                               "processing the request.", 1, 1 },
        { "old", BK_EUNSUPPORTED, "server version 120005 is not supported (PostgreSQL 13 or later needed)", 0, 0 },
        { "bad_sysid", BK_EPROTO, "unexpected reply from the server: IDENTIFY_SYSTEM systemid or timeline is not a number", 0, 0 },
        { "syntax", BK_EUNSUPPORTED, "could not get the start position: ERROR: syntax error", 0, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct backup_ctx c;
        struct pgbb_result r;
        struct bk_error err = BK_ERROR_INIT;
        char want[64];
        int rc;
        if (!fake_run(&c, &r, cases[i].scenario, &rc, &err))
            return;
        ck_assert_msg(rc == cases[i].code, "%s: rc %d: %s", cases[i].scenario, rc, err.message);
        if (cases[i].message != NULL)
            ck_assert_str_eq(err.message, cases[i].message);
        ck_assert_msg(c.ends == cases[i].ends && c.aborts == cases[i].aborts, "%s: ends %d aborts %d",
                      cases[i].scenario, c.ends, c.aborts);
        snprintf(want, sizeof(want), "127.0.0.1:%d", fake_port);
        ck_assert_str_eq(err.object, want);
        pgbb_result_clear(&r);
        ctx_free(&c);
    }
}
END_TEST

static Suite *pg_basebackup_stream_suite(void)
{
    Suite *s = suite_create("pg_basebackup_stream");
    TCase *tc = tcase_create("offline");

    tcase_add_test(tc, test_command_v15_default);
    tcase_add_test(tc, test_command_v15_options);
    tcase_add_test(tc, test_command_legacy);
    tcase_add_test(tc, test_command_refused);
    tcase_add_test(tc, test_lsn_parse);
    tcase_add_test(tc, test_wal_segment_size_parse);
    tcase_add_test(tc, test_backup_name);
    tcase_add_test(tc, test_redact_password);
    tcase_add_test(tc, test_connect_refused_hides_password);
    suite_add_tcase(s, tc);

    tc = tcase_create("fake");
    tcase_add_unchecked_fixture(tc, fake_start, fake_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fake_legacy_ok);
    tcase_add_test(tc, test_fake_v15_ok);
    tcase_add_test(tc, test_fake_legacy_mid_error);
    tcase_add_test(tc, test_fake_legacy_checksum_failure);
    tcase_add_test(tc, test_fake_protocol_failures);
    suite_add_tcase(s, tc);

    if (getenv("PG_TEST_CONNINFO") == NULL) {
        printf("skipped: pg_basebackup_stream server cases (PG_TEST_CONNINFO not set; "
               "tests/e2e/basebackup_stream_test.sh sets it)\n");
        return s;
    }
    tc = tcase_create("server");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_primary_sha256);
    tcase_add_test(tc, test_primary_crc32c);
    tcase_add_test(tc, test_standby);
    tcase_add_test(tc, test_corrupt_member);
    tcase_add_test(tc, test_handler_failures);
    tcase_add_test(tc, test_auth_failure);
    tcase_add_test(tc, test_no_replication_privilege);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pg_basebackup_stream_suite());
    int failed;
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * pg_basebackup_stream: command text, parsers, password redaction and connection errors run
 * everywhere; the backups themselves need a server and run only when PG_TEST_CONNINFO is set
 * (tests/e2e/basebackup_stream_test.sh sets it and the PG_TEST_* variables read below).
 * Archives are written to $PG_TEST_OUTDIR/<case>/ with a "<archive>.members" listing so the
 * script can compare them with `tar -tf` and pg_verifybackup. The "fake" cases run everywhere
 * against tests/tools/fake_walsender.py (python3): the 13/14 dialect and protocol failures.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bk_buf.h"
#include "bk_sink.h"
#include "manifest_verifier.h"
#include "pg_basebackup_stream.h"
#include "pg_basebackup_stream_support.h"

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

/*
 * BASE_BACKUP client over libpq's replication mode: connects, identifies the system, issues the
 * command in the dialect of the server's major version and routes archive, manifest and progress
 * messages to the caller's handler. Errors carry the SQLSTATE (server_code) and never the
 * password from the conninfo. Blocking libpq calls; TCP keepalives catch a dead server.
 * Not here: what happens to the bytes (the handler's sinks) and manifest checks (manifest_verifier).
 */
#include "pg_basebackup_stream.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "bk_log.h"
#include "bk_str.h"
#include "pg_basebackup_internal.h"

#define PGBB_PROGRESS_STEP_BYTES (8u << 20)   /* pre-15 servers send no 'p' messages */

struct pgbb_state {
    PGconn *conn;
    const char *conninfo;
    const struct pgbb_opts *opts;
    const struct pgbb_handler *handler;
    struct pgbb_result *out;
    char object[256];            /* "host:port", used as err->object */
    struct pgbb_archive archive;
    char archive_name[256];
    char archive_location[1024];
    bool archive_open;
    struct bk_sink *sink;
    bool manifest_open;
    struct bk_sink *manifest_sink;   /* NULL: manifest is dropped */
    uint64_t total_bytes;
    uint64_t next_progress;
};

/* ---- errors ---- */

/* libpq messages are multi-line ("...\n\tIs the server running...\n"): make them one line. */
static void pgbb_one_line(char *out, size_t out_cap, const char *msg)
{
    size_t j = 0;
    bool space = false;
    for (const char *p = msg != NULL ? msg : ""; *p != '\0' && j + 1 < out_cap; p++) {
        if (isspace((unsigned char)*p)) {
            space = j > 0;
            continue;
        }
        if (space && j + 2 < out_cap)
            out[j++] = ' ';
        space = false;
        out[j++] = *p;
    }
    out[j] = '\0';
}

static int pgbb_code_from_sqlstate(const char *sqlstate)
{
    if (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "57P", 3) == 0)
        return BK_ENET;            /* connection exception, admin/crash shutdown */
    if (strncmp(sqlstate, "28", 2) == 0)
        return BK_EAUTH;           /* invalid authorization specification / password */
    if (strcmp(sqlstate, "42501") == 0)
        return BK_EDENIED;         /* insufficient privilege */
    if (strcmp(sqlstate, "42601") == 0 || strcmp(sqlstate, "0A000") == 0)
        return BK_EUNSUPPORTED;    /* syntax error, feature not supported */
    if (strcmp(sqlstate, "XX001") == 0)
        return BK_ECORRUPT;        /* data corrupted: page checksum failures */
    if (strncmp(sqlstate, "55", 2) == 0 || strncmp(sqlstate, "22", 2) == 0 ||
        strncmp(sqlstate, "42", 2) == 0)
        return BK_EINVAL;          /* wal_level too low, bad option value, ... */
    return BK_ESERVER;
}

/* Connection failures carry no SQLSTATE in libpq's API, so the (English) text is matched. */
static int pgbb_code_from_connect_message(const char *msg)
{
    if (strstr(msg, "timeout expired") != NULL)
        return BK_ETIMEOUT;
    if (strstr(msg, "replication role") != NULL || strstr(msg, "to start WAL sender") != NULL ||
        strstr(msg, "REPLICATION attribute") != NULL)
        return BK_EDENIED;
    if (strstr(msg, "authentication failed") != NULL || strstr(msg, "no password supplied") != NULL ||
        strstr(msg, "pg_hba.conf") != NULL || strstr(msg, "password") != NULL ||
        (strstr(msg, "role \"") != NULL && strstr(msg, "does not exist") != NULL) ||
        strstr(msg, "SCRAM") != NULL || strstr(msg, "certificate") != NULL)
        return BK_EAUTH;
    return BK_ENET;
}

/* Records a failure of a connection or a result. res may be NULL (connection-level error). */
static int pgbb_fail(struct pgbb_state *st, const PGresult *res, const char *op, const char *context,
                     struct bk_error *err)
{
    const char *sqlstate = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *text = res != NULL ? PQresultErrorMessage(res) : NULL;
    char msg[320];
    int code;

    if (text == NULL || text[0] == '\0')
        text = PQerrorMessage(st->conn);
    pgbb_one_line(msg, sizeof(msg), text);
    pgbb_redact_password(msg, sizeof(msg), st->conninfo);
    if (sqlstate != NULL && sqlstate[0] != '\0')
        code = pgbb_code_from_sqlstate(sqlstate);
    else if (PQstatus(st->conn) == CONNECTION_BAD)
        code = BK_ENET;
    else
        code = BK_EPROTO;
    bk_error_set(err, code, op, st->object, "%s: %s", context, msg[0] != '\0' ? msg : "no message");
    if (err != NULL && sqlstate != NULL)
        snprintf(err->server_code, sizeof(err->server_code), "%s", sqlstate);
    return code;
}

static int pgbb_proto(struct pgbb_state *st, const char *op, struct bk_error *err, const char *what)
{
    return bk_error_set(err, BK_EPROTO, op, st->object, "unexpected reply from the server: %s", what);
}

/* ---- connection and the simple commands ---- */

/* Server NOTICEs ("WAL archiving is not enabled ...") go to our log instead of libpq's stderr. */
static void pgbb_notice(void *arg, const char *message)
{
    char line[512];
    (void)arg;
    pgbb_one_line(line, sizeof(line), message);
    bk_log(BK_LOG_INFO, "pg_notice", "%s", line);
}

static int pgbb_connect(struct pgbb_state *st, struct bk_error *err)
{
    char timeout[16], msg[320];
    const char *keys[9], *vals[9];
    int n = 0, code;
    bool secret = false;
    char *errmsg = NULL;
    PQconninfoOption *parsed = PQconninfoParse(st->conninfo, &errmsg);

    if (parsed == NULL) {
        /* the parser quotes pieces of the string back: leave its text out if it may hold a secret */
        secret = strcasestr(st->conninfo, "password") != NULL || strchr(st->conninfo, '@') != NULL;
        pgbb_one_line(msg, sizeof(msg), errmsg != NULL ? errmsg : "out of memory");
        pgbb_redact_password(msg, sizeof(msg), st->conninfo);
        PQfreemem(errmsg);
        return bk_error_set(err, BK_EINVAL, "pgbb_connect", "conninfo",
                            "invalid connection string%s%s", secret ? "" : ": ", secret ? "" : msg);
    }
    PQconninfoFree(parsed);
    if (st->opts->connect_timeout_s > 0) {
        snprintf(timeout, sizeof(timeout), "%d", st->opts->connect_timeout_s);
        keys[n] = "connect_timeout", vals[n++] = timeout;
    }
    keys[n] = "keepalives", vals[n++] = "1";
    keys[n] = "keepalives_idle", vals[n++] = "30";
    keys[n] = "keepalives_interval", vals[n++] = "10";
    keys[n] = "keepalives_count", vals[n++] = "6";
    keys[n] = "fallback_application_name", vals[n++] = "backupd";
    keys[n] = "dbname", vals[n++] = st->conninfo;    /* expanded: its settings override the above */
    keys[n] = "replication", vals[n++] = "true";     /* after dbname: always wins */
    keys[n] = NULL, vals[n] = NULL;

    st->conn = PQconnectdbParams(keys, vals, 1);
    if (st->conn == NULL)
        return bk_error_set(err, BK_ENOMEM, "pgbb_connect", NULL, "out of memory");
    snprintf(st->object, sizeof(st->object), "%s:%s",
             PQhost(st->conn) != NULL ? PQhost(st->conn) : "", PQport(st->conn) != NULL ? PQport(st->conn) : "");
    if (PQstatus(st->conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(st->conn, pgbb_notice, NULL);
        return BK_OK;
    }
    pgbb_one_line(msg, sizeof(msg), PQerrorMessage(st->conn));
    pgbb_redact_password(msg, sizeof(msg), st->conninfo);
    code = pgbb_code_from_connect_message(msg);
    return bk_error_set(err, code, "pgbb_connect", st->object, "could not connect: %s", msg);
}

/* Runs a command that must return exactly one row of at least min_fields columns. */
static int pgbb_exec_row(PGresult **out, struct pgbb_state *st, const char *sql, int min_fields,
                         struct bk_error *err)
{
    PGresult *res = PQexec(st->conn, sql);
    char what[128];

    *out = NULL;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        int rc = pgbb_fail(st, res, "pgbb_exec", sql, err);
        PQclear(res);
        return rc;
    }
    if (PQntuples(res) != 1 || PQnfields(res) < min_fields) {
        snprintf(what, sizeof(what), "%s returned %d rows of %d columns", sql, PQntuples(res),
                 PQnfields(res));
        PQclear(res);
        return pgbb_proto(st, "pgbb_exec", err, what);
    }
    *out = res;
    return BK_OK;
}

static int pgbb_identify(struct pgbb_state *st, struct bk_error *err)
{
    PGresult *res = NULL;
    uint64_t v = 0;
    int rc;

    st->out->server_version_num = PQserverVersion(st->conn);
    if (st->out->server_version_num < PGBB_MIN_SERVER_VERSION)
        return bk_error_set(err, BK_EUNSUPPORTED, "pgbb_identify", st->object,
                            "server version %d is not supported (PostgreSQL 13 or later needed)",
                            st->out->server_version_num);
    rc = pgbb_exec_row(&res, st, "IDENTIFY_SYSTEM", 3, err);
    if (rc != BK_OK)
        goto out;
    if (pgbb_uint_parse(PQgetvalue(res, 0, 0), UINT64_MAX, &st->out->system_identifier) != 0 ||
        pgbb_uint_parse(PQgetvalue(res, 0, 1), UINT32_MAX, &v) != 0 || v == 0) {
        rc = pgbb_proto(st, "pgbb_identify", err, "IDENTIFY_SYSTEM systemid or timeline is not a number");
        goto out;
    }
    st->out->identify_timeline = (uint32_t)v;
    rc = pgbb_lsn_parse(PQgetvalue(res, 0, 2), &st->out->identify_xlogpos, err);
    if (rc != BK_OK)
        goto out;
    PQclear(res);
    res = NULL;
    rc = pgbb_exec_row(&res, st, "SHOW wal_segment_size", 1, err);
    if (rc != BK_OK)
        goto out;
    rc = pgbb_wal_segment_size_parse(PQgetvalue(res, 0, 0), &st->out->wal_segment_size, err);
out:
    if (rc != BK_OK && err != NULL && err->object[0] == '\0')
        snprintf(err->object, sizeof(err->object), "%s", st->object);
    PQclear(res);
    return rc;
}

/* ---- archives and manifest ---- */

static void pgbb_report_progress(struct pgbb_state *st)
{
    if (st->handler->progress != NULL)
        st->handler->progress(st->out->archive_bytes, st->total_bytes, st->handler->payload);
}

static int pgbb_archive_open(struct pgbb_state *st, const char *name, const char *location,
                             struct bk_error *err)
{
    const struct pgbb_tablespace *ts = NULL;
    int rc;

    for (size_t i = 0; i < st->out->tablespaces_len; i++) {
        const char *loc = st->out->tablespaces[i].location;
        if ((loc == NULL && location[0] == '\0') || (loc != NULL && strcmp(loc, location) == 0)) {
            ts = &st->out->tablespaces[i];
            break;
        }
    }
    if (ts == NULL || name[0] == '\0' || strchr(name, '/') != NULL)
        return pgbb_proto(st, "pgbb_archive_open", err, "archive for an unknown tablespace");
    snprintf(st->archive_name, sizeof(st->archive_name), "%s", name);
    snprintf(st->archive_location, sizeof(st->archive_location), "%s", location);
    st->archive.name = st->archive_name;
    st->archive.location = st->archive_location;
    st->archive.tablespace_oid = ts->oid;
    st->archive.index = st->out->archives_len;
    st->sink = NULL;
    rc = st->handler->archive_begin(&st->sink, &st->archive, st->handler->payload, err);
    if (rc != BK_OK)
        return rc;
    if (st->sink == NULL)
        return bk_error_set(err, BK_EINTERNAL, "pgbb_archive_open", name,
                            "archive_begin returned no sink");
    st->archive_open = true;
    st->out->archives_len++;
    return BK_OK;
}

static int pgbb_archive_close(struct pgbb_state *st, struct bk_error *err)
{
    if (!st->archive_open)
        return BK_OK;
    st->archive_open = false;
    st->sink = NULL;
    pgbb_report_progress(st);
    return st->handler->archive_end(&st->archive, st->handler->payload, err);
}

static int pgbb_manifest_open(struct pgbb_state *st, struct bk_error *err)
{
    int rc = BK_OK;
    st->manifest_sink = NULL;
    if (st->handler->manifest_begin != NULL) {
        rc = st->handler->manifest_begin(&st->manifest_sink, st->handler->payload, err);
        if (rc != BK_OK)
            return rc;
        if (st->manifest_sink == NULL)
            return bk_error_set(err, BK_EINTERNAL, "pgbb_manifest_open", "backup_manifest",
                                "manifest_begin returned no sink");
    }
    st->manifest_open = true;
    return BK_OK;
}

static int pgbb_manifest_close(struct pgbb_state *st, struct bk_error *err)
{
    if (!st->manifest_open)
        return BK_OK;
    st->manifest_open = false;
    if (st->manifest_sink == NULL || st->handler->manifest_end == NULL)
        return BK_OK;
    st->manifest_sink = NULL;
    return st->handler->manifest_end(st->handler->payload, err);
}

/* Called on every failure: the handler aborts whatever it had open. */
static void pgbb_abort_open(struct pgbb_state *st)
{
    if (st->archive_open && st->handler->archive_abort != NULL)
        st->handler->archive_abort(&st->archive, st->handler->payload);
    if (st->manifest_open && st->manifest_sink != NULL && st->handler->manifest_abort != NULL)
        st->handler->manifest_abort(st->handler->payload);
    st->archive_open = false;
    st->manifest_open = false;
}

static int pgbb_data(struct pgbb_state *st, const char *data, size_t len, struct bk_error *err)
{
    if (st->manifest_open) {
        st->out->manifest_bytes += len;
        return st->manifest_sink != NULL ? bk_sink_write(st->manifest_sink, data, len, err) : BK_OK;
    }
    if (!st->archive_open)
        return pgbb_proto(st, "pgbb_data", err, "data outside an archive");
    st->out->archive_bytes += len;
    if (st->out->archive_bytes >= st->next_progress) {
        st->next_progress = st->out->archive_bytes + PGBB_PROGRESS_STEP_BYTES;
        pgbb_report_progress(st);
    }
    return bk_sink_write(st->sink, data, len, err);
}

/* One CopyData message of the 15+ stream: type byte, then payload. */
static int pgbb_stream_message(struct pgbb_state *st, const char *msg, size_t len, struct bk_error *err)
{
    const char *name, *location;
    int rc;

    switch (msg[0]) {
    case 'n':
        name = msg + 1;
        location = memchr(name, '\0', len - 1);
        if (location != NULL)
            location++;
        if (location == NULL || memchr(location, '\0', len - (size_t)(location - msg)) == NULL)
            return pgbb_proto(st, "pgbb_stream", err, "malformed new-archive message");
        if (st->manifest_open)
            return pgbb_proto(st, "pgbb_stream", err, "archive after the manifest");
        rc = pgbb_archive_close(st, err);
        return rc != BK_OK ? rc : pgbb_archive_open(st, name, location, err);
    case 'd':
        return pgbb_data(st, msg + 1, len - 1, err);
    case 'p':
        if (len != 9)
            return pgbb_proto(st, "pgbb_stream", err, "malformed progress message");
        pgbb_report_progress(st);
        return BK_OK;
    case 'm':
        if (st->manifest_open)
            return pgbb_proto(st, "pgbb_stream", err, "second manifest");
        rc = pgbb_archive_close(st, err);
        return rc != BK_OK ? rc : pgbb_manifest_open(st, err);
    default:
        return pgbb_proto(st, "pgbb_stream", err, "unknown copy message type");
    }
}

/* A result that must start a COPY stream; consumes res. */
static int pgbb_expect_copy(struct pgbb_state *st, PGresult *res, struct bk_error *err)
{
    int rc = BK_OK;
    if (PQresultStatus(res) != PGRES_COPY_OUT)
        rc = PQresultStatus(res) == PGRES_FATAL_ERROR
                 ? pgbb_fail(st, res, "pgbb_copy", "base backup failed", err)
                 : pgbb_proto(st, "pgbb_copy", err, "no COPY stream where one was due");
    PQclear(res);
    return rc;
}

/* Reads CopyData until the COPY ends (CopyDone or an error: the caller's next PQgetResult tells
 * which). stream: 15+ typed messages; else raw bytes of the open archive or manifest. */
static int pgbb_copy_loop(struct pgbb_state *st, bool stream, struct bk_error *err)
{
    for (;;) {
        char *buf = NULL;
        int rc, n = PQgetCopyData(st->conn, &buf, 0);
        if (n == -1)
            return BK_OK;
        if (n < 0)
            return pgbb_fail(st, NULL, "pgbb_copy", "receiving the backup failed", err);
        if (n == 0) {
            PQfreemem(buf);
            continue;
        }
        rc = stream ? pgbb_stream_message(st, buf, (size_t)n, err) : pgbb_data(st, buf, (size_t)n, err);
        PQfreemem(buf);
        if (rc != BK_OK)
            return rc;
    }
}

/* After a COPY ended: an error result means the open archive/manifest is incomplete. Only when
 * the server went on normally are they closed (handler's *_end). Returns the next result. */
static int pgbb_after_copy(PGresult **next, struct pgbb_state *st, struct bk_error *err)
{
    int rc;
    *next = PQgetResult(st->conn);
    if (PQresultStatus(*next) == PGRES_FATAL_ERROR) {
        rc = pgbb_fail(st, *next, "pgbb_copy", "base backup failed", err);
        PQclear(*next);
        *next = NULL;
        return rc;
    }
    rc = pgbb_archive_close(st, err);
    if (rc == BK_OK)
        rc = pgbb_manifest_close(st, err);
    if (rc != BK_OK) {
        PQclear(*next);
        *next = NULL;
    }
    return rc;
}

/* Result with one row: LSN text, timeline. */
static int pgbb_read_position(struct pgbb_state *st, PGresult *res, const char *what, uint64_t *lsn,
                              uint32_t *tli, struct bk_error *err)
{
    uint64_t v = 0;
    char msg[96];
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(msg, sizeof(msg), "could not get the %s position", what);
        return PQresultStatus(res) == PGRES_FATAL_ERROR ? pgbb_fail(st, res, "pgbb_position", msg, err)
                                                        : pgbb_proto(st, "pgbb_position", err, msg);
    }
    if (PQntuples(res) != 1 || PQnfields(res) < 2 ||
        pgbb_uint_parse(PQgetvalue(res, 0, 1), UINT32_MAX, &v) != 0 || v == 0) {
        snprintf(msg, sizeof(msg), "malformed %s position", what);
        return pgbb_proto(st, "pgbb_position", err, msg);
    }
    *tli = (uint32_t)v;
    return pgbb_lsn_parse(PQgetvalue(res, 0, 0), lsn, err);
}

static int pgbb_read_tablespaces(struct pgbb_state *st, PGresult *res, struct bk_error *err)
{
    int rows = PQntuples(res);
    struct pgbb_result *out = st->out;
    uint64_t v;

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return PQresultStatus(res) == PGRES_FATAL_ERROR
                   ? pgbb_fail(st, res, "pgbb_tablespaces", "could not get the tablespace list", err)
                   : pgbb_proto(st, "pgbb_tablespaces", err, "no tablespace list");
    if (rows < 1 || PQnfields(res) < 3)
        return pgbb_proto(st, "pgbb_tablespaces", err, "malformed tablespace list");
    out->tablespaces = calloc((size_t)rows, sizeof(*out->tablespaces));
    if (out->tablespaces == NULL)
        return bk_error_set(err, BK_ENOMEM, "pgbb_tablespaces", NULL, "out of memory");
    for (int i = 0; i < rows; i++) {
        struct pgbb_tablespace *ts = &out->tablespaces[i];
        out->tablespaces_len++;
        ts->size_kb = -1;
        if (!PQgetisnull(res, i, 2) && pgbb_uint_parse(PQgetvalue(res, i, 2), INT64_MAX, &v) == 0) {
            ts->size_kb = (int64_t)v;
            st->total_bytes += v * 1024;
        }
        if (PQgetisnull(res, i, 0))
            continue;    /* the main data directory */
        if (pgbb_uint_parse(PQgetvalue(res, i, 0), UINT32_MAX, &v) != 0 || v == 0 ||
            PQgetisnull(res, i, 1))
            return pgbb_proto(st, "pgbb_tablespaces", err, "malformed tablespace row");
        ts->oid = (uint32_t)v;
        ts->location = strdup(PQgetvalue(res, i, 1));
        if (ts->location == NULL)
            return bk_error_set(err, BK_ENOMEM, "pgbb_tablespaces", NULL, "out of memory");
    }
    return BK_OK;
}

/* 13-14: one COPY per tablespace in list order (archives named as pg_basebackup names them),
 * then one for the manifest. *next = the result that follows. */
static int pgbb_receive_legacy(PGresult **next, struct pgbb_state *st, struct bk_error *err)
{
    size_t parts = st->out->tablespaces_len + (st->opts->manifest ? 1 : 0);
    PGresult *res = PQgetResult(st->conn);
    char name[32];
    int rc = BK_OK;

    for (size_t i = 0; i < parts && rc == BK_OK; i++) {
        rc = pgbb_expect_copy(st, res, err);
        res = NULL;
        if (rc == BK_OK && i < st->out->tablespaces_len) {
            const struct pgbb_tablespace *ts = &st->out->tablespaces[i];
            if (ts->oid == 0)
                snprintf(name, sizeof(name), "base.tar");
            else
                snprintf(name, sizeof(name), "%" PRIu32 ".tar", ts->oid);
            rc = pgbb_archive_open(st, name, ts->location != NULL ? ts->location : "", err);
        } else if (rc == BK_OK) {
            rc = pgbb_manifest_open(st, err);
        }
        if (rc == BK_OK)
            rc = pgbb_copy_loop(st, false, err);
        if (rc == BK_OK)
            rc = pgbb_after_copy(&res, st, err);
    }
    *next = res;
    return rc;
}

/* 15+: one COPY carrying every archive and the manifest. */
static int pgbb_receive_stream(PGresult **next, struct pgbb_state *st, struct bk_error *err)
{
    int rc = pgbb_expect_copy(st, PQgetResult(st->conn), err);
    *next = NULL;
    if (rc == BK_OK)
        rc = pgbb_copy_loop(st, true, err);
    if (rc == BK_OK)
        rc = pgbb_after_copy(next, st, err);
    return rc;
}

/* ---- entry point ---- */

void pgbb_result_clear(struct pgbb_result *result)
{
    if (result == NULL)
        return;
    for (size_t i = 0; i < result->tablespaces_len; i++)
        free(result->tablespaces[i].location);
    free(result->tablespaces);
    memset(result, 0, sizeof(*result));
}

int pgbb_run(struct pgbb_result *out, const char *conninfo, const struct pgbb_opts *opts,
             const struct pgbb_handler *handler, struct bk_error *err)
{
    struct pgbb_state st = { .conninfo = conninfo != NULL ? conninfo : "", .opts = opts,
                             .handler = handler, .out = out, .next_progress = PGBB_PROGRESS_STEP_BYTES };
    PGresult *res = NULL;
    char cmd[4096];
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(st.object, sizeof(st.object), "postgres");
    if (handler == NULL || handler->archive_begin == NULL || handler->archive_end == NULL ||
        (handler->manifest_begin != NULL && handler->manifest_end == NULL)) {
        rc = bk_error_set(err, BK_EINVAL, "pgbb_run", NULL,
                          "handler needs archive_begin, archive_end and, with manifest_begin, manifest_end");
        goto out;
    }
    snprintf(out->label, sizeof(out->label), "%s", opts->label != NULL ? opts->label : "");
    /* options are checked before connecting (the version only picks the dialect) */
    rc = pgbb_build_command(cmd, sizeof(cmd), PGBB_NEW_SYNTAX_VERSION, opts, err);
    if (rc != BK_OK)
        goto out;
    rc = pgbb_connect(&st, err);
    if (rc != BK_OK)
        goto out;
    rc = pgbb_identify(&st, err);
    if (rc != BK_OK)
        goto out;
    rc = pgbb_build_command(cmd, sizeof(cmd), out->server_version_num, opts, err);
    if (rc != BK_OK)
        goto out;
    if (PQsendQuery(st.conn, cmd) != 1) {
        rc = pgbb_fail(&st, NULL, "pgbb_run", "could not send BASE_BACKUP", err);
        goto out;
    }
    res = PQgetResult(st.conn);
    rc = pgbb_read_position(&st, res, "start", &out->start_lsn, &out->timeline, err);
    PQclear(res);
    res = NULL;
    if (rc != BK_OK)
        goto out;
    res = PQgetResult(st.conn);
    rc = pgbb_read_tablespaces(&st, res, err);
    PQclear(res);
    res = NULL;
    if (rc != BK_OK)
        goto out;
    pgbb_report_progress(&st);
    if (out->server_version_num >= PGBB_NEW_SYNTAX_VERSION)
        rc = pgbb_receive_stream(&res, &st, err);
    else
        rc = pgbb_receive_legacy(&res, &st, err);
    if (rc != BK_OK)
        goto out;
    rc = pgbb_read_position(&st, res, "stop", &out->stop_lsn, &out->stop_timeline, err);
    PQclear(res);
    res = NULL;
    if (rc != BK_OK)
        goto out;
    /* CommandComplete, or the error the server raises at the very end (checksum failures) */
    while ((res = PQgetResult(st.conn)) != NULL) {
        if (PQresultStatus(res) == PGRES_FATAL_ERROR)
            rc = pgbb_fail(&st, res, "pgbb_run", "base backup failed at the end", err);
        else if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = pgbb_proto(&st, "pgbb_run", err, "result after the stop position");
        PQclear(res);
        res = NULL;
        if (rc != BK_OK)
            goto out;
    }
out:
    if (rc != BK_OK)
        pgbb_abort_open(&st);
    PQclear(res);
    PQfinish(st.conn);    /* on failure this ends the walsender, which aborts the backup */
    return rc;
}

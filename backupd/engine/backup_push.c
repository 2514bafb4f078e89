/*
 * backup-push engine; see backup_push.h. The server's tar stream goes through our tar reader,
 * whose member events are re-emitted into WAL-G tar partitions:
 *   BASE_BACKUP archive -> tar_reader -> (repack) -> tar_writer -> codec -> size count -> upload
 * while every file's bytes also feed the SHA-256 list, files_metadata.json and the manifest check.
 */
#include "backup_push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bk_log.h"
#include "bk_time.h"
#include "manifest_verifier.h"
#include "tar_reader.h"
#include "tar_writer.h"
#include "walg_meta.h"

#define PG_CONTROL_NAME "global/pg_control"
#define MANIFEST_CAP (512u * 1024 * 1024)

struct push_state {
    struct storage *st;
    const struct backup_push_opts *opts;
    struct pgbb_result *pg;            /* filled progressively by pgbb_run */
    const char *ext;
    char name[WALG_BACKUP_NAME_CAP];
    bool named;

    /* current part */
    struct tar_writer *tw;
    struct bk_sink *part_chain;        /* codec -> counter -> upload */
    struct bk_sink_digest_result part_count;
    unsigned part_no;
    uint64_t part_file_bytes;
    bool part_has_files;

    /* current archive and member */
    uint32_t archive_oid;
    struct bk_sink *archive_reader;
    bool member_open;
    bool member_to_control;
    bool member_in_part;
    char member_name[4096];
    uint64_t member_size;
    int64_t member_mtime;
    bool member_own_sha;               /* hash here; otherwise the manifest verifier's SHA-256 is reused */
    EVP_MD_CTX *sha;

    struct bk_buf pg_control;
    int64_t pg_control_mtime;
    uint32_t pg_control_mode;

    struct bk_sink *files_upload;
    struct walg_files_writer *files_writer;
    struct bk_sink *hashes_upload;
    struct walg_hashes_writer *hashes_writer;
    struct manifest_verifier *verifier;
    struct bk_buf manifest;
    struct bk_sink *manifest_sink;

    struct walg_spec spec;
    uint64_t uncompressed;
    uint64_t compressed;
    uint64_t files;
    int64_t last_progress_ms;
};

static int ensure_named(struct push_state *ps, struct bk_error *err)
{
    int rc;
    if (ps->named)
        return BK_OK;
    rc = pgbb_backup_name(ps->name, sizeof(ps->name), ps->pg, err);
    if (rc == BK_OK)
        ps->named = true;
    return rc;
}

static int open_meta_uploads(struct push_state *ps, struct bk_error *err)
{
    char key[WALG_KEY_CAP];
    int rc;
    if (ps->files_writer != NULL)
        return BK_OK;
    if ((rc = walg_key_files_metadata(key, sizeof(key), ps->name, err)) != BK_OK ||
        (rc = storage_put_stream(&ps->files_upload, ps->st, key, NULL, err)) != BK_OK ||
        (rc = walg_files_writer_new(&ps->files_writer, ps->files_upload, err)) != BK_OK)
        return rc;
    if ((rc = walg_key_file_hashes(key, sizeof(key), ps->name, err)) != BK_OK ||
        (rc = storage_put_stream(&ps->hashes_upload, ps->st, key, NULL, err)) != BK_OK ||
        (rc = walg_hashes_writer_new(&ps->hashes_writer, ps->hashes_upload, err)) != BK_OK)
        return rc;
    return BK_OK;
}

/* Builds tar_writer -> codec -> counter -> upload for the next part. */
static int part_open(struct push_state *ps, struct bk_error *err)
{
    char key[WALG_KEY_CAP];
    struct bk_sink *upload = NULL, *counter = NULL, *codec = NULL;
    int rc;
    if ((rc = walg_key_tar_part(key, sizeof(key), ps->name, ++ps->part_no, ps->ext, err)) != BK_OK)
        return rc;
    if ((rc = storage_put_stream(&upload, ps->st, key, NULL, err)) != BK_OK)
        return rc;
    if ((rc = bk_sink_digest_new(&counter, upload, &ps->part_count, err)) != BK_OK) {
        bk_sink_free(upload);
        return rc;
    }
    if ((rc = codec_compress_new(&codec, ps->opts->codec, &ps->opts->codec_opts, counter, err)) != BK_OK) {
        bk_sink_free(counter);
        return rc;
    }
    ps->part_chain = codec;
    ps->part_file_bytes = 0;
    ps->part_has_files = false;
    return tar_writer_new(&ps->tw, ps->part_chain, NULL, err);
}

static int part_close(struct push_state *ps, struct bk_error *err)
{
    int rc;
    if (ps->tw == NULL)
        return BK_OK;
    rc = tar_writer_finish(ps->tw, err);
    if (rc == BK_OK)
        rc = bk_sink_finish(ps->part_chain, err);
    tar_writer_free(ps->tw);
    ps->tw = NULL;
    if (rc == BK_OK) {
        ps->compressed += ps->part_count.bytes;
        bk_log_debug("backup_push", "part %u: %llu file bytes, %llu bytes stored", ps->part_no,
                     (unsigned long long)ps->part_file_bytes, (unsigned long long)ps->part_count.bytes);
    } else {
        bk_sink_abort(ps->part_chain);
    }
    bk_sink_free(ps->part_chain);
    ps->part_chain = NULL;
    return rc;
}

static void member_path(struct push_state *ps, const char *raw, char *out, size_t cap)
{
    while (raw[0] == '.' && raw[1] == '/')
        raw += 2;
    while (raw[0] == '/')
        raw++;
    if (ps->archive_oid != 0)
        snprintf(out, cap, "pg_tblspc/%u/%s", ps->archive_oid, raw);
    else
        snprintf(out, cap, "%s", raw);
}

static int repack_begin(const struct tar_member *m, void *payload, struct bk_error *err)
{
    struct push_state *ps = payload;
    char name[4096];
    int rc;
    member_path(ps, m->name, name, sizeof(name));
    if (name[0] == '\0')
        return BK_OK;                       /* the archive's own root entry */
    if (m->type == TAR_TYPE_SYMLINK) {
        /* pg_tblspc/<oid> links: tablespaces travel as their own archives and are described
         * in the sentinel's Spec; WAL-G's extractor mishandles links, so tars carry none */
        return BK_OK;
    }
    if (m->type != TAR_TYPE_REGULAR && m->type != TAR_TYPE_DIRECTORY)
        return bk_error_set(err, BK_EPROTO, "backup_push", m->name,
                            "server sent an unexpected %s entry \"%s\"", tar_type_name(m->type), m->name);
    if (ps->tw == NULL && (rc = part_open(ps, err)) != BK_OK)
        return rc;
    if (m->type == TAR_TYPE_DIRECTORY) {
        size_t n = strlen(name);
        while (n > 0 && name[n - 1] == '/')
            name[--n] = '\0';
        return tar_writer_add_dir(ps->tw, name, m->mode, m->mtime, err);
    }
    snprintf(ps->member_name, sizeof(ps->member_name), "%s", name);
    ps->member_size = m->size;
    ps->member_mtime = m->mtime;
    ps->member_open = true;
    ps->member_to_control = strcmp(name, PG_CONTROL_NAME) == 0;
    ps->member_in_part = !ps->member_to_control;
    /* each byte is hashed once: the verifier's SHA-256 serves our list too, except where it
     * ignores a member (the main directory's pg_wal/, mirrored from manifest_verifier.c) */
    ps->member_own_sha = ps->verifier == NULL || (ps->archive_oid == 0 && strncmp(name, "pg_wal/", 7) == 0);
    if (ps->member_own_sha && EVP_DigestInit_ex(ps->sha, EVP_sha256(), NULL) != 1)
        return bk_error_set(err, BK_EINTERNAL, "backup_push", name, "sha256 init failed");
    if (ps->verifier != NULL && (rc = manifest_verifier_file_begin(ps->verifier, m->name, err)) != BK_OK)
        return rc;
    if (ps->member_to_control) {
        ps->pg_control_mtime = m->mtime;
        ps->pg_control_mode = m->mode;
        bk_buf_reset(&ps->pg_control);
        return BK_OK;
    }
    /* a file is never split: a new part starts before it once the threshold is passed */
    if (ps->part_has_files && ps->part_file_bytes >= ps->opts->part_threshold_bytes) {
        if ((rc = part_close(ps, err)) != BK_OK || (rc = part_open(ps, err)) != BK_OK)
            return rc;
    }
    ps->part_has_files = true;
    return tar_writer_begin_file(ps->tw, name, m->mode, m->size, m->mtime, err);
}

static int repack_data(const void *data, size_t len, void *payload, struct bk_error *err)
{
    struct push_state *ps = payload;
    int rc;
    if (!ps->member_open)
        return BK_OK;
    if (ps->member_own_sha)
        EVP_DigestUpdate(ps->sha, data, len);
    if (ps->verifier != NULL && (rc = manifest_verifier_file_data(ps->verifier, data, len, err)) != BK_OK)
        return rc;
    ps->uncompressed += len;
    if (ps->member_to_control)
        return bk_buf_append(&ps->pg_control, data, len, err);
    ps->part_file_bytes += len;
    return tar_writer_write_data(ps->tw, data, len, err);
}

static int repack_end(void *payload, struct bk_error *err)
{
    struct push_state *ps = payload;
    struct walg_file_desc desc;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char hex[65];
    int rc;
    int64_t now_ms;
    if (!ps->member_open)
        return BK_OK;
    ps->member_open = false;
    if (ps->member_in_part && (rc = tar_writer_end_file(ps->tw, NULL, err)) != BK_OK)
        return rc;
    if (ps->verifier != NULL && (rc = manifest_verifier_file_end(ps->verifier, err)) != BK_OK)
        return rc;
    if (ps->member_own_sha)
        EVP_DigestFinal_ex(ps->sha, md, &md_len);
    else if (!manifest_verifier_last_sha256(ps->verifier, md))
        return bk_error_set(err, BK_EINTERNAL, "backup_push", ps->member_name,
                            "the manifest verifier kept no SHA-256 for this file");
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    memset(&desc, 0, sizeof(desc));
    desc.mtime_ns = ps->member_mtime * 1000000000LL;
    if ((rc = walg_files_writer_add_file(ps->files_writer, ps->member_name, &desc, err)) != BK_OK ||
        (rc = walg_hashes_writer_add(ps->hashes_writer, ps->member_name, hex, ps->member_size, err)) != BK_OK)
        return rc;
    ps->files++;
    now_ms = bk_time_mono_ms();
    if (now_ms - ps->last_progress_ms >= 5000) {
        ps->last_progress_ms = now_ms;
        bk_log(BK_LOG_INFO, "backup_push", "%s: %llu files, %llu MiB read, %llu MiB stored so far",
               ps->name, (unsigned long long)ps->files, (unsigned long long)(ps->uncompressed >> 20),
               (unsigned long long)((ps->compressed + ps->part_count.bytes) >> 20));
    }
    return BK_OK;
}

static int repack_end_archive(void *payload, struct bk_error *err)
{
    (void)payload;
    (void)err;
    return BK_OK;
}

static const struct tar_handler_ops repack_ops = {
    .begin_member = repack_begin,
    .member_data = repack_data,
    .end_member = repack_end,
    .end_archive = repack_end_archive,
    .abort = NULL,
};

static int on_archive_begin(struct bk_sink **out, const struct pgbb_archive *archive, void *payload,
                            struct bk_error *err)
{
    struct push_state *ps = payload;
    struct tar_reader_opts ro = TAR_READER_OPTS_INIT;
    int rc;
    if ((rc = ensure_named(ps, err)) != BK_OK || (rc = open_meta_uploads(ps, err)) != BK_OK)
        return rc;
    ps->archive_oid = archive->tablespace_oid;
    if (archive->tablespace_oid != 0) {
        struct walg_tablespace *grown = realloc(ps->spec.tablespaces,
                                                (ps->spec.tablespaces_len + 1) * sizeof(*grown));
        char oid[16], link[64];
        if (grown == NULL)
            return bk_error_set(err, BK_ENOMEM, "backup_push", archive->name, "out of memory");
        ps->spec.tablespaces = grown;
        snprintf(oid, sizeof(oid), "%u", archive->tablespace_oid);
        snprintf(link, sizeof(link), "pg_tblspc/%u", archive->tablespace_oid);
        grown[ps->spec.tablespaces_len].name = strdup(oid);
        grown[ps->spec.tablespaces_len].location = strdup(archive->location);
        grown[ps->spec.tablespaces_len].link = strdup(link);
        ps->spec.tablespaces_len++;
    }
    if (ps->verifier != NULL && (rc = manifest_verifier_archive_begin(ps->verifier, archive->tablespace_oid, err)) != BK_OK)
        return rc;
    ro.ops = &repack_ops;
    ro.payload = ps;
    ro.name_for_errors = archive->name;
    rc = tar_reader_new(&ps->archive_reader, &ro, err);
    if (rc == BK_OK)
        *out = ps->archive_reader;
    return rc;
}

static int on_archive_end(const struct pgbb_archive *archive, void *payload, struct bk_error *err)
{
    struct push_state *ps = payload;
    int rc = bk_sink_finish(ps->archive_reader, err);
    (void)archive;
    bk_sink_free(ps->archive_reader);
    ps->archive_reader = NULL;
    return rc;
}

static void on_archive_abort(const struct pgbb_archive *archive, void *payload)
{
    struct push_state *ps = payload;
    (void)archive;
    bk_sink_abort(ps->archive_reader);
    bk_sink_free(ps->archive_reader);
    ps->archive_reader = NULL;
}

static int on_manifest_begin(struct bk_sink **out, void *payload, struct bk_error *err)
{
    struct push_state *ps = payload;
    int rc = bk_sink_buf_new(&ps->manifest_sink, &ps->manifest, err);
    if (rc == BK_OK)
        *out = ps->manifest_sink;
    return rc;
}

static int on_manifest_end(void *payload, struct bk_error *err)
{
    (void)payload;
    (void)err;
    return BK_OK;
}

static int upload_pg_control(struct push_state *ps, struct bk_error *err)
{
    char key[WALG_KEY_CAP];
    struct bk_sink *upload = NULL, *codec = NULL;
    struct tar_writer *tw = NULL;
    int rc;
    if (ps->pg_control.len == 0)
        return bk_error_set(err, BK_EPROTO, "backup_push", PG_CONTROL_NAME, "the server sent no global/pg_control");
    if ((rc = walg_key_pg_control(key, sizeof(key), ps->name, ps->ext, err)) != BK_OK ||
        (rc = storage_put_stream(&upload, ps->st, key, NULL, err)) != BK_OK)
        return rc;
    if ((rc = codec_compress_new(&codec, ps->opts->codec, &ps->opts->codec_opts, upload, err)) != BK_OK) {
        bk_sink_free(upload);
        return rc;
    }
    if ((rc = tar_writer_new(&tw, codec, NULL, err)) == BK_OK &&
        (rc = tar_writer_begin_file(tw, PG_CONTROL_NAME, ps->pg_control_mode, ps->pg_control.len, ps->pg_control_mtime, err)) == BK_OK &&
        (rc = tar_writer_write_data(tw, ps->pg_control.data, ps->pg_control.len, err)) == BK_OK &&
        (rc = tar_writer_end_file(tw, NULL, err)) == BK_OK &&
        (rc = tar_writer_finish(tw, err)) == BK_OK)
        rc = bk_sink_finish(codec, err);
    if (rc != BK_OK)
        bk_sink_abort(codec);
    tar_writer_free(tw);
    bk_sink_free(codec);
    return rc;
}

static int put_json(struct push_state *ps, const char *key, const struct bk_buf *body, struct bk_error *err)
{
    struct storage_put_opts po = STORAGE_PUT_OPTS_INIT;
    po.content_type = "application/json";
    return storage_put_buf(ps->st, key, body->data, body->len, &po, err);
}

/* Best effort: remove what a failed backup left under its folder (no sentinel exists). */
static void remove_partial_backup(struct push_state *ps)
{
    struct bk_error ignored = BK_ERROR_INIT;
    struct storage_list *it = NULL;
    const struct storage_entry *e;
    char prefix[WALG_KEY_CAP];
    if (!ps->named)
        return;
    snprintf(prefix, sizeof(prefix), "%s%s/", WALG_BASEBACKUPS_DIR, ps->name);
    if (storage_list_new(&it, ps->st, prefix, true, &ignored) != BK_OK)
        return;
    while (storage_list_next(it, &e, &ignored) == 1)
        storage_remove(ps->st, e->key, &ignored);
    storage_list_free(it);
}

int backup_push_run(struct backup_push_result *out, struct storage *st,
                    const struct backup_push_opts *opts, struct bk_error *err)
{
    struct push_state ps;
    struct pgbb_result pg;
    struct pgbb_opts pgo = PGBB_OPTS_INIT;
    struct pgbb_handler handler;
    struct walg_sentinel sentinel;
    struct walg_metadata meta;
    struct bk_buf json;
    char hostname[256] = "";
    char key[WALG_KEY_CAP];
    int64_t start_us = bk_time_now_us();
    int64_t t0 = bk_time_mono_ms();
    const struct codec_info *ci = codec_get(opts->codec);
    int rc;

    memset(&ps, 0, sizeof(ps));
    memset(&pg, 0, sizeof(pg));
    memset(&sentinel, 0, sizeof(sentinel));
    memset(&meta, 0, sizeof(meta));
    memset(out, 0, sizeof(*out));
    bk_buf_init(&json, 16 * 1024 * 1024);
    bk_buf_init(&ps.pg_control, 64 * 1024);
    bk_buf_init(&ps.manifest, MANIFEST_CAP);
    ps.st = st;
    ps.opts = opts;
    ps.pg = &pg;
    ps.ext = ci != NULL ? ci->ext : "";
    ps.last_progress_ms = t0;
    ps.sha = EVP_MD_CTX_new();
    if (ci == NULL || !ci->can_compress) {
        rc = bk_error_set(err, BK_EUNSUPPORTED, "backup_push", NULL, "codec cannot compress");
        goto out;
    }
    if (ps.sha == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "backup_push", NULL, "out of memory");
        goto out;
    }
    if (opts->verify_manifest) {
        struct manifest_verifier_opts mo = MANIFEST_VERIFIER_OPTS_INIT;
        if ((rc = manifest_verifier_new(&ps.verifier, &mo, err)) != BK_OK)
            goto out;
    }
    pgo.checkpoint = opts->checkpoint;
    pgo.manifest = true;
    pgo.wait_for_archive = true;
    memset(&handler, 0, sizeof(handler));
    handler.archive_begin = on_archive_begin;
    handler.archive_end = on_archive_end;
    handler.archive_abort = on_archive_abort;
    handler.manifest_begin = on_manifest_begin;
    handler.manifest_end = on_manifest_end;
    handler.payload = &ps;

    bk_log(BK_LOG_INFO, "backup_push", "starting base backup to %s", storage_describe(st));
    rc = pgbb_run(&pg, opts->conninfo, &pgo, &handler, err);
    if (rc == BK_OK)
        rc = part_close(&ps, err);
    if (rc != BK_OK)
        goto out;
    if (ps.verifier != NULL) {
        struct manifest_verify_report report;
        rc = manifest_verifier_check(&report, ps.verifier, ps.manifest.data, ps.manifest.len, err);
        if (rc != BK_OK) {
            bk_error_wrap(err, "backup manifest check failed");
            goto out;
        }
        bk_log(BK_LOG_INFO, "backup_push", "%s: backup_manifest verified: %zu files match", ps.name, report.files_ok);
    }
    if ((rc = upload_pg_control(&ps, err)) != BK_OK)
        goto out;
    snprintf(key, sizeof(key), "%s%s/backup_manifest", WALG_BASEBACKUPS_DIR, ps.name);
    if ((rc = put_json(&ps, key, &ps.manifest, err)) != BK_OK)
        goto out;
    if ((rc = walg_files_writer_finish(ps.files_writer, err)) != BK_OK ||
        (rc = bk_sink_finish(ps.files_upload, err)) != BK_OK ||
        (rc = walg_hashes_writer_finish(ps.hashes_writer, err)) != BK_OK ||
        (rc = bk_sink_finish(ps.hashes_upload, err)) != BK_OK)
        goto out;

    if (opts->hostname != NULL)
        snprintf(hostname, sizeof(hostname), "%s", opts->hostname);
    else
        gethostname(hostname, sizeof(hostname) - 1);
    ps.spec.base_prefix = (char *)(opts->data_dir != NULL ? opts->data_dir : "");
    sentinel.has_lsn = true;
    sentinel.lsn = pg.start_lsn;
    sentinel.pg_version = pg.server_version_num;
    sentinel.has_finish_lsn = true;
    sentinel.finish_lsn = pg.stop_lsn;
    sentinel.has_system_identifier = pg.system_identifier != 0;
    sentinel.system_identifier = pg.system_identifier;
    sentinel.uncompressed_size = (int64_t)ps.uncompressed;
    sentinel.compressed_size = (int64_t)ps.compressed;
    sentinel.spec = &ps.spec;
    sentinel.user_data = (char *)opts->user_data;
    sentinel.version = 2;
    sentinel.has_start_time = true;
    sentinel.start_time_us = start_us;
    sentinel.has_finish_time = true;
    sentinel.finish_time_us = bk_time_now_us();
    sentinel.hostname = hostname;
    sentinel.data_dir = (char *)(opts->data_dir != NULL ? opts->data_dir : "");
    sentinel.is_permanent = opts->permanent;

    if ((rc = walg_metadata_from_sentinel(&sentinel, &meta, err)) != BK_OK ||
        (rc = walg_metadata_write(&meta, &json, err)) != BK_OK ||
        (rc = walg_key_metadata(key, sizeof(key), ps.name, err)) != BK_OK ||
        (rc = put_json(&ps, key, &json, err)) != BK_OK)
        goto out;
    bk_buf_reset(&json);
    /* the sentinel goes last: its existence is what makes the backup exist */
    if ((rc = walg_sentinel_write(&sentinel, &json, err)) != BK_OK ||
        (rc = walg_key_sentinel(key, sizeof(key), ps.name, err)) != BK_OK ||
        (rc = put_json(&ps, key, &json, err)) != BK_OK)
        goto out;

    snprintf(out->name, sizeof(out->name), "%s", ps.name);
    out->start_lsn = pg.start_lsn;
    out->finish_lsn = pg.stop_lsn;
    out->timeline = pg.timeline;
    out->uncompressed_bytes = ps.uncompressed;
    out->compressed_bytes = ps.compressed;
    out->parts = ps.part_no;
    out->files = ps.files;
    out->duration_ms = bk_time_mono_ms() - t0;
out:
    if (rc != BK_OK) {
        if (ps.tw != NULL) {
            tar_writer_free(ps.tw);
            ps.tw = NULL;
        }
        bk_sink_abort(ps.part_chain);
        bk_sink_abort(ps.files_upload);
        bk_sink_abort(ps.hashes_upload);
        remove_partial_backup(&ps);
    }
    bk_sink_free(ps.part_chain);
    walg_files_writer_free(ps.files_writer);
    bk_sink_free(ps.files_upload);
    walg_hashes_writer_free(ps.hashes_writer);
    bk_sink_free(ps.hashes_upload);
    bk_sink_free(ps.manifest_sink);
    manifest_verifier_free(ps.verifier);
    for (size_t i = 0; i < ps.spec.tablespaces_len; i++) {
        free(ps.spec.tablespaces[i].name);
        free(ps.spec.tablespaces[i].location);
        free(ps.spec.tablespaces[i].link);
    }
    free(ps.spec.tablespaces);
    walg_metadata_free(&meta);
    EVP_MD_CTX_free(ps.sha);
    bk_buf_free(&json);
    bk_buf_free(&ps.pg_control);
    bk_buf_free(&ps.manifest);
    pgbb_result_clear(&pg);
    return rc;
}

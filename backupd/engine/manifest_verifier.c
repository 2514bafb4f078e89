/*
 * Backup-manifest verification for streamed base backups: records size + checksum of every
 * regular tar member while it streams (CRC-32C here, SHA-2 through OpenSSL EVP), then parses
 * backup_manifest with json-c and compares. Rules follow pg_verifybackup: the manifest's own
 * SHA-256 covers everything up to its second-to-last newline; pg_wal/ is not listed.
 * Not here: tar parsing (the caller feeds member events) and WAL checks (WAL-Ranges is reported).
 */
#include "manifest_verifier.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "bk_crypto.h"

#define MV_DIGEST_MAX 64
#define MV_PREFIX_CAP 32

struct mv_entry {
    char *path;
    uint64_t size;
    uint8_t digest[MV_DIGEST_MAX];
    bool seen;
};

struct manifest_verifier {
    struct manifest_verifier_opts opts;
    const EVP_MD *md;          /* NULL for NONE and CRC32C */
    size_t digest_len;
    char prefix[MV_PREFIX_CAP];
    struct mv_entry *entries;
    size_t entries_len;
    size_t entries_cap;
    size_t ignored;
    /* the member being streamed */
    bool tar_regular;          /* manifest_verifier_tar_ops: current member is a regular file */
    bool in_file;
    bool ignoring;
    struct mv_entry cur;
    EVP_MD_CTX *ctx;
    uint32_t crc;
    bool last_recorded;        /* the member ended last was recorded (not ignored) */
};

/* first problem found by check; later ones only count */
struct mv_problem {
    int code;
    char path[256];
    char what[96];
};

static const char *const mv_checksum_names[] = {
    [MANIFEST_CHECKSUM_NONE] = "NONE",     [MANIFEST_CHECKSUM_CRC32C] = "CRC32C",
    [MANIFEST_CHECKSUM_SHA224] = "SHA224", [MANIFEST_CHECKSUM_SHA256] = "SHA256",
    [MANIFEST_CHECKSUM_SHA384] = "SHA384", [MANIFEST_CHECKSUM_SHA512] = "SHA512",
};

const char *manifest_checksum_name(enum manifest_checksum checksum)
{
    if ((unsigned)checksum >= sizeof(mv_checksum_names) / sizeof(mv_checksum_names[0]))
        return NULL;
    return mv_checksum_names[checksum];
}

int manifest_checksum_parse(const char *text, enum manifest_checksum *out, struct bk_error *err)
{
    for (size_t i = 0; i < sizeof(mv_checksum_names) / sizeof(mv_checksum_names[0]); i++) {
        if (text != NULL && strcasecmp(text, mv_checksum_names[i]) == 0) {
            *out = (enum manifest_checksum)i;
            return BK_OK;
        }
    }
    return bk_error_set(err, BK_EINVAL, "manifest_checksum_parse", text,
                        "unknown manifest checksum algorithm \"%s\" (NONE, CRC32C, SHA224, "
                        "SHA256, SHA384 or SHA512)", text != NULL ? text : "");
}

/* ---- CRC-32C, slice-by-8, reflected polynomial 0x82F63B78 ---- */

static uint32_t mv_crc_table[8][256];
static int mv_crc_ready;

static void mv_crc_init(void)
{
    /* idempotent: concurrent first calls compute the same values */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        mv_crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            mv_crc_table[t][i] = (mv_crc_table[t - 1][i] >> 8) ^
                                 mv_crc_table[0][mv_crc_table[t - 1][i] & 0xff];
    __atomic_store_n(&mv_crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t manifest_crc32c_update(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (!__atomic_load_n(&mv_crc_ready, __ATOMIC_ACQUIRE))
        mv_crc_init();
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                      (uint32_t)p[7] << 24;
        crc = mv_crc_table[7][lo & 0xff] ^ mv_crc_table[6][(lo >> 8) & 0xff] ^
              mv_crc_table[5][(lo >> 16) & 0xff] ^ mv_crc_table[4][lo >> 24] ^
              mv_crc_table[3][hi & 0xff] ^ mv_crc_table[2][(hi >> 8) & 0xff] ^
              mv_crc_table[1][(hi >> 16) & 0xff] ^ mv_crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = mv_crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- streaming side ---- */

int manifest_verifier_new(struct manifest_verifier **out, const struct manifest_verifier_opts *opts,
                          struct bk_error *err)
{
    struct manifest_verifier *v = NULL;
    int rc = BK_OK;

    *out = NULL;
    if (manifest_checksum_name(opts->checksum) == NULL) {
        rc = bk_error_set(err, BK_EINVAL, "manifest_verifier_new", NULL,
                          "invalid checksum algorithm %d", (int)opts->checksum);
        goto out;
    }
    v = calloc(1, sizeof(*v));
    if (v == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "manifest_verifier_new", NULL, "out of memory");
        goto out;
    }
    v->opts = *opts;
    if (opts->checksum == MANIFEST_CHECKSUM_CRC32C) {
        v->digest_len = 4;
    } else if (opts->checksum != MANIFEST_CHECKSUM_NONE) {
        v->md = EVP_get_digestbyname(manifest_checksum_name(opts->checksum));
        v->ctx = EVP_MD_CTX_new();
        if (v->md == NULL || v->ctx == NULL) {
            rc = bk_error_set(err, BK_EUNSUPPORTED, "manifest_verifier_new", NULL,
                              "openssl has no digest %s", manifest_checksum_name(opts->checksum));
            goto out;
        }
        v->digest_len = (size_t)EVP_MD_get_size(v->md);
    }
    *out = v;
    v = NULL;
out:
    manifest_verifier_free(v);
    return rc;
}

void manifest_verifier_free(struct manifest_verifier *verifier)
{
    if (verifier == NULL)
        return;
    for (size_t i = 0; i < verifier->entries_len; i++)
        free(verifier->entries[i].path);
    free(verifier->entries);
    free(verifier->cur.path);
    EVP_MD_CTX_free(verifier->ctx);
    free(verifier);
}

int manifest_verifier_archive_begin(struct manifest_verifier *verifier, uint32_t tablespace_oid,
                                    struct bk_error *err)
{
    if (verifier->in_file)
        return bk_error_set(err, BK_EINTERNAL, "manifest_verifier_archive_begin", verifier->cur.path,
                            "archive begins while member \"%s\" is open", verifier->cur.path);
    if (tablespace_oid == 0)
        verifier->prefix[0] = '\0';
    else
        snprintf(verifier->prefix, sizeof(verifier->prefix), "pg_tblspc/%" PRIu32 "/", tablespace_oid);
    return BK_OK;
}

int manifest_verifier_file_begin(struct manifest_verifier *verifier, const char *member_name,
                                 struct bk_error *err)
{
    const char *name = member_name;
    size_t len;

    if (verifier->in_file)
        return bk_error_set(err, BK_EINTERNAL, "manifest_verifier_file_begin", member_name,
                            "member \"%s\" begins while \"%s\" is open", member_name,
                            verifier->cur.path);
    while (strncmp(name, "./", 2) == 0)
        name += 2;
    while (*name == '/')
        name++;
    len = strlen(verifier->prefix) + strlen(name) + 1;
    verifier->cur.path = malloc(len);
    if (verifier->cur.path == NULL)
        return bk_error_set(err, BK_ENOMEM, "manifest_verifier_file_begin", member_name, "out of memory");
    snprintf(verifier->cur.path, len, "%s%s", verifier->prefix, name);
    verifier->cur.size = 0;
    verifier->in_file = true;
    verifier->last_recorded = false;
    verifier->ignoring = verifier->prefix[0] == '\0' && strncmp(name, "pg_wal/", 7) == 0;
    verifier->crc = 0;
    if (verifier->md != NULL && !verifier->ignoring &&
        EVP_DigestInit_ex(verifier->ctx, verifier->md, NULL) != 1)
        return bk_error_set(err, BK_EINTERNAL, "manifest_verifier_file_begin", member_name,
                            "digest init failed");
    return BK_OK;
}

int manifest_verifier_file_data(struct manifest_verifier *verifier, const void *data, size_t len,
                                struct bk_error *err)
{
    if (!verifier->in_file)
        return bk_error_set(err, BK_EINTERNAL, "manifest_verifier_file_data", NULL,
                            "member data outside a member");
    verifier->cur.size += len;
    if (verifier->ignoring || len == 0)
        return BK_OK;
    if (verifier->opts.checksum == MANIFEST_CHECKSUM_CRC32C)
        verifier->crc = manifest_crc32c_update(verifier->crc, data, len);
    else if (verifier->md != NULL && EVP_DigestUpdate(verifier->ctx, data, len) != 1)
        return bk_error_set(err, BK_EINTERNAL, "manifest_verifier_file_data", verifier->cur.path,
                            "digest update failed");
    return BK_OK;
}

int manifest_verifier_file_end(struct manifest_verifier *verifier, struct bk_error *err)
{
    int rc = BK_OK;

    if (!verifier->in_file)
        return bk_error_set(err, BK_EINTERNAL, "manifest_verifier_file_end", NULL,
                            "member end outside a member");
    if (verifier->ignoring) {
        verifier->ignored++;
        goto out;
    }
    if (verifier->opts.checksum == MANIFEST_CHECKSUM_CRC32C) {
        /* PostgreSQL stores the CRC's four bytes in host order (memcpy); we record little-endian
         * and check both orders */
        for (int i = 0; i < 4; i++)
            verifier->cur.digest[i] = (uint8_t)(verifier->crc >> (8 * i));
    } else if (verifier->md != NULL &&
               EVP_DigestFinal_ex(verifier->ctx, verifier->cur.digest, NULL) != 1) {
        rc = bk_error_set(err, BK_EINTERNAL, "manifest_verifier_file_end", verifier->cur.path,
                          "digest final failed");
        goto out;
    }
    if (verifier->entries_len == verifier->entries_cap) {
        size_t cap = verifier->entries_cap == 0 ? 256 : verifier->entries_cap * 2;
        struct mv_entry *grown = realloc(verifier->entries, cap * sizeof(*grown));
        if (grown == NULL) {
            rc = bk_error_set(err, BK_ENOMEM, "manifest_verifier_file_end", verifier->cur.path,
                              "out of memory");
            goto out;
        }
        verifier->entries = grown;
        verifier->entries_cap = cap;
    }
    verifier->entries[verifier->entries_len++] = verifier->cur;
    verifier->cur.path = NULL;   /* moved into entries */
    verifier->last_recorded = true;
out:
    free(verifier->cur.path);
    verifier->cur.path = NULL;
    verifier->in_file = false;
    return rc;
}

/* ---- tar_reader handler ---- */

static int mv_tar_begin(const struct tar_member *m, void *payload, struct bk_error *err)
{
    struct manifest_verifier *v = payload;
    v->tar_regular = m->type == TAR_TYPE_REGULAR;
    return v->tar_regular ? manifest_verifier_file_begin(v, m->name, err) : BK_OK;
}

static int mv_tar_data(const void *data, size_t len, void *payload, struct bk_error *err)
{
    struct manifest_verifier *v = payload;
    return v->tar_regular ? manifest_verifier_file_data(v, data, len, err) : BK_OK;
}

static int mv_tar_end(void *payload, struct bk_error *err)
{
    struct manifest_verifier *v = payload;
    if (!v->tar_regular)
        return BK_OK;
    v->tar_regular = false;
    return manifest_verifier_file_end(v, err);
}

static int mv_tar_end_archive(void *payload, struct bk_error *err)
{
    (void)payload;
    (void)err;
    return BK_OK;
}

static void mv_tar_abort(void *payload)
{
    struct manifest_verifier *v = payload;
    v->tar_regular = false;
    v->in_file = false;
    free(v->cur.path);
    v->cur.path = NULL;
}

const struct tar_handler_ops manifest_verifier_tar_ops = {
    .begin_member = mv_tar_begin, .member_data = mv_tar_data, .end_member = mv_tar_end,
    .end_archive = mv_tar_end_archive, .abort = mv_tar_abort,
};

/* ---- check side ---- */

static int mv_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct mv_entry *)a)->path, ((const struct mv_entry *)b)->path);
}

static int mv_hex_decode(const char *hex, uint8_t *out, size_t out_cap, size_t *out_len)
{
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > out_cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = isxdigit((unsigned char)hex[2 * i]) ? hex[2 * i] : -1;
        int lo = isxdigit((unsigned char)hex[2 * i + 1]) ? hex[2 * i + 1] : -1;
        if (hi < 0 || lo < 0)
            return -1;
        hi = isdigit(hi) ? hi - '0' : (tolower(hi) - 'a' + 10);
        lo = isdigit(lo) ? lo - '0' : (tolower(lo) - 'a' + 10);
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    *out_len = n / 2;
    return 0;
}

static int mv_lsn_parse(const char *text, uint64_t *out)
{
    unsigned int hi, lo;
    int used = 0;
    if (text == NULL || sscanf(text, "%X/%X%n", &hi, &lo, &used) != 2 || text[used] != '\0')
        return -1;
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}

static void mv_problem_note(struct mv_problem *problem, int code, const char *path, const char *what)
{
    if (problem->code != BK_OK)
        return;
    problem->code = code;
    snprintf(problem->path, sizeof(problem->path), "%s", path);
    snprintf(problem->what, sizeof(problem->what), "%s", what);
}

/* The manifest's last line carries the SHA-256 of every byte up to the second-to-last newline. */
static int mv_check_manifest_checksum(const char *buf, size_t len, const char *expected_hex,
                                      struct bk_error *err)
{
    size_t newlines = 0, last = 0, penultimate = 0;
    uint8_t actual[BK_SHA256_LEN], expected[BK_SHA256_LEN];
    size_t expected_len = 0;

    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            newlines++;
            penultimate = last;
            last = i;
        }
    }
    if (newlines < 2 || last != len - 1)
        return bk_error_set(err, BK_ECORRUPT, "manifest_verifier_check", "backup_manifest",
                            "backup manifest is not newline-terminated text of at least 2 lines");
    if (expected_hex == NULL)
        return bk_error_set(err, BK_ECORRUPT, "manifest_verifier_check", "backup_manifest",
                            "backup manifest has no Manifest-Checksum");
    if (strlen(expected_hex) != 2 * BK_SHA256_LEN ||
        mv_hex_decode(expected_hex, expected, sizeof(expected), &expected_len) != 0)
        return bk_error_set(err, BK_ECORRUPT, "manifest_verifier_check", "backup_manifest",
                            "invalid Manifest-Checksum \"%.80s\"", expected_hex);
    bk_sha256(buf, penultimate + 1, actual);
    if (memcmp(actual, expected, BK_SHA256_LEN) != 0)
        return bk_error_set(err, BK_ECORRUPT, "manifest_verifier_check", "backup_manifest",
                            "backup manifest checksum mismatch");
    return BK_OK;
}

static const char *mv_get_string(json_object *obj, const char *key)
{
    json_object *val = NULL;
    if (!json_object_object_get_ex(obj, key, &val) || !json_object_is_type(val, json_type_string))
        return NULL;
    return json_object_get_string(val);
}

/* Path of one "Files" entry: "Path", or hex "Encoded-Path" for names that are not UTF-8. */
static int mv_file_path(json_object *file, char *out, size_t out_cap)
{
    const char *path = mv_get_string(file, "Path");
    const char *encoded = mv_get_string(file, "Encoded-Path");
    size_t n = 0;

    if (path != NULL) {
        if (strlen(path) >= out_cap)
            return -1;
        memcpy(out, path, strlen(path) + 1);
        return 0;
    }
    if (encoded == NULL || mv_hex_decode(encoded, (uint8_t *)out, out_cap - 1, &n) != 0 ||
        memchr(out, '\0', n) != NULL)
        return -1;
    out[n] = '\0';
    return 0;
}

static bool mv_digest_equal(const struct manifest_verifier *v, const uint8_t *expected, size_t len,
                            const uint8_t *actual)
{
    if (len != v->digest_len)
        return false;
    if (memcmp(expected, actual, len) == 0)
        return true;
    /* CRC-32C from a server of the other byte order */
    return v->opts.checksum == MANIFEST_CHECKSUM_CRC32C && expected[0] == actual[3] &&
           expected[1] == actual[2] && expected[2] == actual[1] && expected[3] == actual[0];
}

/* Compares one "Files" entry; returns BK_OK or a fatal code (bad manifest, wrong algorithm). */
static int mv_check_file(struct manifest_verifier *v, json_object *file,
                         struct manifest_verify_report *report, struct mv_problem *problem,
                         struct bk_error *err)
{
    char path[4096];
    json_object *size_obj = NULL;
    const char *algorithm, *checksum;
    struct mv_entry key, *found;
    uint8_t expected[MV_DIGEST_MAX];
    size_t expected_len = 0;
    enum manifest_checksum algo = MANIFEST_CHECKSUM_NONE;

    if (!json_object_is_type(file, json_type_object) || mv_file_path(file, path, sizeof(path)) != 0 ||
        !json_object_object_get_ex(file, "Size", &size_obj) ||
        !json_object_is_type(size_obj, json_type_int) || json_object_get_int64(size_obj) < 0)
        return bk_error_set(err, BK_ECORRUPT, "manifest_verifier_check", "backup_manifest",
                            "backup manifest has a Files entry without a valid Path and Size");
    algorithm = mv_get_string(file, "Checksum-Algorithm");
    checksum = mv_get_string(file, "Checksum");
    if (algorithm != NULL) {
        if (manifest_checksum_parse(algorithm, &algo, err) != BK_OK || algo != v->opts.checksum)
            return bk_error_set(err, BK_EINVAL, "manifest_verifier_check", path,
                                "backup manifest uses checksum %s but the verifier computed %s",
                                algorithm, manifest_checksum_name(v->opts.checksum));
        if (checksum == NULL || mv_hex_decode(checksum, expected, sizeof(expected), &expected_len) != 0)
            return bk_error_set(err, BK_ECORRUPT, "manifest_verifier_check", path,
                                "backup manifest has an invalid checksum for \"%s\"", path);
    }
    report->files_in_manifest++;
    key.path = path;
    found = v->entries_len == 0 ? NULL
                                : bsearch(&key, v->entries, v->entries_len, sizeof(key), mv_entry_cmp);
    if (found == NULL) {
        report->missing++;
        mv_problem_note(problem, BK_ECORRUPT, path, "file in the manifest was not streamed");
        return BK_OK;
    }
    while (found > v->entries && strcmp(found[-1].path, path) == 0)
        found--;   /* duplicates: the first one stands for the group */
    found->seen = true;
    if (found->size != (uint64_t)json_object_get_int64(size_obj)) {
        report->mismatched++;
        mv_problem_note(problem, BK_ECORRUPT, path, "size differs from the manifest");
    } else if (algorithm != NULL && !mv_digest_equal(v, expected, expected_len, found->digest)) {
        report->mismatched++;
        mv_problem_note(problem, BK_ECORRUPT, path, "checksum differs from the manifest");
    } else {
        report->files_ok++;
    }
    return BK_OK;
}

static void mv_read_wal_range(json_object *root, struct manifest_verify_report *report)
{
    json_object *ranges = NULL, *first, *tli = NULL;
    if (!json_object_object_get_ex(root, "WAL-Ranges", &ranges) ||
        !json_object_is_type(ranges, json_type_array) || json_object_array_length(ranges) == 0)
        return;
    first = json_object_array_get_idx(ranges, 0);
    if (json_object_object_get_ex(first, "Timeline", &tli) && json_object_is_type(tli, json_type_int))
        report->wal_timeline = (uint32_t)json_object_get_int64(tli);
    if (mv_lsn_parse(mv_get_string(first, "Start-LSN"), &report->wal_start_lsn) != 0 ||
        mv_lsn_parse(mv_get_string(first, "End-LSN"), &report->wal_end_lsn) != 0) {
        report->wal_start_lsn = 0;
        report->wal_end_lsn = 0;
    }
}

int manifest_verifier_check(struct manifest_verify_report *report,
                            struct manifest_verifier *verifier, const void *manifest,
                            size_t manifest_len, struct bk_error *err)
{
    struct manifest_verify_report local;
    struct mv_problem problem = { .code = BK_OK };
    struct json_tokener *tok = NULL;
    json_object *root = NULL, *version = NULL, *files = NULL, *sysid = NULL;
    int rc = BK_OK;

    if (report == NULL)
        report = &local;
    memset(report, 0, sizeof(*report));
    if (verifier->in_file) {
        rc = bk_error_set(err, BK_EINTERNAL, "manifest_verifier_check", verifier->cur.path,
                          "member \"%s\" is still open", verifier->cur.path);
        goto out;
    }
    report->files_streamed = verifier->entries_len;
    report->ignored = verifier->ignored;
    tok = json_tokener_new();
    if (tok == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "manifest_verifier_check", "backup_manifest", "out of memory");
        goto out;
    }
    if (manifest_len > INT32_MAX ||
        (root = json_tokener_parse_ex(tok, manifest, (int)manifest_len)) == NULL ||
        json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(root, json_type_object)) {
        rc = bk_error_set(err, BK_ECORRUPT, "manifest_verifier_check", "backup_manifest",
                          "backup manifest is not a JSON object");
        goto out;
    }
    rc = mv_check_manifest_checksum(manifest, manifest_len, mv_get_string(root, "Manifest-Checksum"), err);
    if (rc != BK_OK)
        goto out;
    if (!json_object_object_get_ex(root, "PostgreSQL-Backup-Manifest-Version", &version) ||
        !json_object_is_type(version, json_type_int) || json_object_get_int(version) < 1 ||
        json_object_get_int(version) > 2) {
        rc = bk_error_set(err, BK_EUNSUPPORTED, "manifest_verifier_check", "backup_manifest",
                          "unsupported backup manifest version (1 and 2 are known)");
        goto out;
    }
    report->manifest_version = json_object_get_int(version);
    if (verifier->opts.system_identifier != 0 &&
        json_object_object_get_ex(root, "System-Identifier", &sysid) &&
        (uint64_t)json_object_get_uint64(sysid) != verifier->opts.system_identifier) {
        rc = bk_error_set(err, BK_ECORRUPT, "manifest_verifier_check", "backup_manifest",
                          "backup manifest is for system %" PRIu64 ", expected %" PRIu64,
                          (uint64_t)json_object_get_uint64(sysid), verifier->opts.system_identifier);
        goto out;
    }
    if (!json_object_object_get_ex(root, "Files", &files) || !json_object_is_type(files, json_type_array)) {
        rc = bk_error_set(err, BK_ECORRUPT, "manifest_verifier_check", "backup_manifest",
                          "backup manifest has no Files array");
        goto out;
    }
    mv_read_wal_range(root, report);
    if (verifier->entries_len > 0)
        qsort(verifier->entries, verifier->entries_len, sizeof(verifier->entries[0]), mv_entry_cmp);
    for (size_t i = 0; i < verifier->entries_len; i++)
        verifier->entries[i].seen = false;   /* check may run more than once */
    for (size_t i = 1; i < verifier->entries_len; i++) {
        if (strcmp(verifier->entries[i - 1].path, verifier->entries[i].path) == 0) {
            verifier->entries[i].seen = true;   /* counted here, not again below */
            report->unexpected++;
            mv_problem_note(&problem, BK_ECORRUPT, verifier->entries[i].path,
                            "member streamed more than once");
        }
    }
    for (size_t i = 0; i < json_object_array_length(files); i++) {
        rc = mv_check_file(verifier, json_object_array_get_idx(files, i), report, &problem, err);
        if (rc != BK_OK)
            goto out;
    }
    for (size_t i = 0; i < verifier->entries_len; i++) {
        if (!verifier->entries[i].seen) {
            report->unexpected++;
            mv_problem_note(&problem, BK_ECORRUPT, verifier->entries[i].path,
                            "streamed file is not in the manifest");
        }
    }
    if (problem.code != BK_OK) {
        rc = bk_error_set(err, problem.code, "manifest_verifier_check", problem.path,
                          "backup does not match its manifest (%zu mismatched, %zu missing, "
                          "%zu unexpected): \"%s\": %s", report->mismatched, report->missing,
                          report->unexpected, problem.path, problem.what);
    }
out:
    json_object_put(root);
    if (tok != NULL)
        json_tokener_free(tok);
    return rc;
}

bool manifest_verifier_last_sha256(const struct manifest_verifier *verifier, uint8_t out[32])
{
    if (!verifier->last_recorded || verifier->opts.checksum != MANIFEST_CHECKSUM_SHA256 ||
        verifier->entries_len == 0)
        return false;
    memcpy(out, verifier->entries[verifier->entries_len - 1].digest, 32);
    return true;
}

/*
 * WAL-G names and keys: LSN text, segment numbers, WAL file names, backup names and the object
 * keys of one storage root. The rules are WAL-G v3.0.5's and PostgreSQL's (xlog_internal.h),
 * restated in walg-layout.md 1.2, 1.7, 1.9 and 2.1. No allocation, no storage access.
 */
#include "walg_names.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool is_upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static bool all_upper_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_upper_hex(s[i]))
            return false;
    }
    return true;
}

/* n hex digits (any case) to an integer; the caller has checked they are hex. */
static uint64_t hex_value(const char *s, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
        v = (v << 4) | d;
    }
    return v;
}

/* ---- LSNs ---- */

static size_t hex_run(const char *s)
{
    size_t n = 0;
    while ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'A' && s[n] <= 'F') || (s[n] >= 'a' && s[n] <= 'f'))
        n++;
    return n;
}

int walg_lsn_parse(const char *text, uint64_t *out, struct bk_error *err)
{
    size_t hi_len = hex_run(text);
    size_t lo_len;
    if (hi_len == 0 || hi_len > 8 || text[hi_len] != '/')
        goto bad;
    lo_len = hex_run(text + hi_len + 1);
    if (lo_len == 0 || lo_len > 8 || text[hi_len + 1 + lo_len] != '\0')
        goto bad;
    *out = (hex_value(text, hi_len) << 32) | hex_value(text + hi_len + 1, lo_len);
    return BK_OK;
bad:
    return bk_error_set(err, BK_EINVAL, "walg_lsn_parse", NULL,
                        "\"%.64s\" is not an LSN (expected e.g. 3/A2000028)", text);
}

void walg_lsn_format(uint64_t lsn, char *out, size_t out_cap)
{
    snprintf(out, out_cap, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xFFFFFFFFu));
}

/* ---- segments ---- */

int walg_seg_size_check(uint64_t seg_size, struct bk_error *err)
{
    if (seg_size < WALG_MIN_SEG_SIZE || seg_size > WALG_MAX_SEG_SIZE || (seg_size & (seg_size - 1)) != 0)
        return bk_error_set(err, BK_EINVAL, "walg_seg_size_check", NULL,
                            "WAL segment size %" PRIu64 " is not a power of two between 1 MiB and 1 GiB",
                            seg_size);
    return BK_OK;
}

static uint64_t segs_per_id(uint64_t seg_size)
{
    return UINT64_C(0x100000000) / seg_size;
}

uint64_t walg_lsn_to_segno(uint64_t lsn, uint64_t seg_size)
{
    return lsn / seg_size;
}

uint64_t walg_segno_to_lsn(uint64_t segno, uint64_t seg_size)
{
    return segno * seg_size;
}

void walg_wal_name_format(uint32_t timeline, uint64_t segno, uint64_t seg_size, char out[25])
{
    uint64_t per_id = segs_per_id(seg_size);
    snprintf(out, 25, "%08X%08X%08X", (unsigned)timeline, (unsigned)(segno / per_id),
             (unsigned)(segno % per_id));
}

int walg_wal_name_parse(const char *name, uint64_t seg_size, uint32_t *timeline, uint64_t *segno,
                        struct bk_error *err)
{
    uint64_t per_id, log_id, seg;
    int rc = walg_seg_size_check(seg_size, err);
    if (rc != BK_OK)
        return rc;
    if (strlen(name) != WALG_WAL_NAME_LEN || !all_upper_hex(name, WALG_WAL_NAME_LEN))
        return bk_error_set(err, BK_EINVAL, "walg_wal_name_parse", NULL,
                            "\"%.64s\" is not a WAL segment name", name);
    per_id = segs_per_id(seg_size);
    log_id = hex_value(name + 8, 8);
    seg = hex_value(name + 16, 8);
    if (seg >= per_id)
        return bk_error_set(err, BK_EINVAL, "walg_wal_name_parse", NULL,
                            "\"%s\" is not a WAL segment name for %" PRIu64 " MiB segments", name,
                            seg_size / (1024 * 1024));
    *timeline = (uint32_t)hex_value(name, 8);
    *segno = log_id * per_id + seg;
    return BK_OK;
}

int walg_wal_name_next(const char *name, uint64_t seg_size, char out[25], struct bk_error *err)
{
    uint32_t timeline;
    uint64_t segno;
    int rc = walg_wal_name_parse(name, seg_size, &timeline, &segno, err);
    if (rc != BK_OK)
        return rc;
    if (segno == walg_lsn_to_segno(UINT64_MAX, seg_size))
        return bk_error_set(err, BK_EINVAL, "walg_wal_name_next", NULL,
                            "\"%s\" is the last possible WAL segment", name);
    walg_wal_name_format(timeline, segno + 1, seg_size, out);
    return BK_OK;
}

int walg_wal_name_check(const char *name, enum walg_wal_kind *kind, struct bk_error *err)
{
    size_t len = strlen(name);
    if (len == 24 && all_upper_hex(name, 24)) {
        *kind = WALG_WAL_SEGMENT;
        return BK_OK;
    }
    if (len == 16 && all_upper_hex(name, 8) && strcmp(name + 8, ".history") == 0) {
        *kind = WALG_WAL_HISTORY;
        return BK_OK;
    }
    if (len == 32 && all_upper_hex(name, 24) && strcmp(name + 24, ".partial") == 0) {
        *kind = WALG_WAL_PARTIAL;
        return BK_OK;
    }
    if (len == 40 && all_upper_hex(name, 24) && name[24] == '.' && all_upper_hex(name + 25, 8) &&
        strcmp(name + 33, ".backup") == 0) {
        *kind = WALG_WAL_BACKUP_LABEL;
        return BK_OK;
    }
    return bk_error_set(err, BK_EINVAL, "walg_wal_name_check", NULL, "\"%.64s\" is not a WAL file name",
                        name);
}

int walg_wal_name_timeline(const char *name, uint32_t *timeline, struct bk_error *err)
{
    enum walg_wal_kind kind;
    int rc = walg_wal_name_check(name, &kind, err);
    if (rc != BK_OK)
        return rc;
    *timeline = (uint32_t)hex_value(name, 8);
    return BK_OK;
}

/* ---- backup names ---- */

int walg_backup_name_parse(const char *name, struct walg_backup_name *out, struct bk_error *err)
{
    const char *p = name;
    memset(out, 0, sizeof(*out));
    if (strncmp(p, "base_", 5) != 0 || strlen(p) < 29 || !all_upper_hex(p + 5, 24))
        goto bad;
    memcpy(out->wal_file_name, p + 5, 24);
    out->timeline = (uint32_t)hex_value(p + 5, 8);
    p += 29;
    if (strncmp(p, "_D_", 3) == 0) {
        if (strlen(p) < 27 || !all_upper_hex(p + 3, 24))
            goto bad;
        out->is_delta = true;
        memcpy(out->delta_base_wal, p + 3, 24);
        p += 27;
    }
    if (*p == '_') {
        if (strlen(p) != 9 || !all_upper_hex(p + 1, 8))
            goto bad;
        out->has_wale_offset = true;
        out->wale_offset = (uint32_t)hex_value(p + 1, 8);
        p += 9;
    }
    if (*p != '\0')
        goto bad;
    return BK_OK;
bad:
    memset(out, 0, sizeof(*out));
    return bk_error_set(err, BK_EINVAL, "walg_backup_name_parse", NULL, "\"%.100s\" is not a backup name",
                        name);
}

/* Leftmost run of 24 upper-case hex digits, like WAL-G's [0-9A-F]{24} regexp; NULL if none. */
static const char *find_wal_group(const char *text)
{
    size_t run = 0;
    for (size_t i = 0; text[i] != '\0'; i++) {
        run = is_upper_hex(text[i]) ? run + 1 : 0;
        if (run == 24)
            return text + i - 23;
    }
    return NULL;
}

void walg_wal_file_name_of(const char *text, char out[25])
{
    const char *group = find_wal_group(text);
    if (group != NULL)
        memcpy(out, group, 24);
    else
        memset(out, 'Z', 24);
    out[24] = '\0';
}

int walg_backup_name_format(uint32_t timeline, uint64_t segno, uint64_t seg_size,
                            const char *delta_parent, char *out, size_t out_cap, struct bk_error *err)
{
    char wal[25];
    const char *parent_group = NULL;
    int n;
    int rc = walg_seg_size_check(seg_size, err);
    if (rc != BK_OK)
        return rc;
    if (delta_parent != NULL) {
        parent_group = find_wal_group(delta_parent);
        if (parent_group == NULL)
            return bk_error_set(err, BK_EINVAL, "walg_backup_name_format", NULL,
                                "delta parent \"%.100s\" is not a backup name", delta_parent);
    }
    walg_wal_name_format(timeline, segno, seg_size, wal);
    if (parent_group != NULL)
        n = snprintf(out, out_cap, "base_%s_D_%.24s", wal, parent_group);
    else
        n = snprintf(out, out_cap, "base_%s", wal);
    if (n < 0 || (size_t)n >= out_cap)
        return bk_error_set(err, BK_EINVAL, "walg_backup_name_format", NULL,
                            "backup name does not fit in %zu bytes", out_cap);
    return BK_OK;
}

bool walg_sentinel_key_to_name(const char *key, char *out, size_t out_cap)
{
    const char *base = strrchr(key, '/');
    size_t len, suffix_len = strlen(WALG_SENTINEL_SUFFIX);
    base = base != NULL ? base + 1 : key;
    len = strlen(base);
    if (len <= suffix_len || strcmp(base + len - suffix_len, WALG_SENTINEL_SUFFIX) != 0 ||
        len - suffix_len >= out_cap)
        return false;
    memcpy(out, base, len - suffix_len);
    out[len - suffix_len] = '\0';
    return true;
}

/* ---- object keys ---- */

/* A backup name used in a key: non-empty, no '/', no control characters. */
static int check_backup_for_key(const char *backup, const char *op, struct bk_error *err)
{
    if (backup == NULL || backup[0] == '\0' || strchr(backup, '/') != NULL || strcmp(backup, ".") == 0 ||
        strcmp(backup, "..") == 0)
        return bk_error_set(err, BK_EINVAL, op, NULL, "\"%.100s\" cannot be used as a backup name",
                            backup != NULL ? backup : "");
    for (const char *p = backup; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20)
            return bk_error_set(err, BK_EINVAL, op, NULL, "backup name contains a control character");
    }
    return BK_OK;
}

static int check_ext(const char *ext, const char *op, struct bk_error *err)
{
    if (ext != NULL && (strchr(ext, '/') != NULL || strchr(ext, '.') != NULL))
        return bk_error_set(err, BK_EINVAL, op, NULL, "\"%.32s\" is not a file extension", ext);
    return BK_OK;
}

static int key_fit(int n, size_t out_cap, const char *op, struct bk_error *err)
{
    if (n < 0 || (size_t)n >= out_cap)
        return bk_error_set(err, BK_EINVAL, op, NULL, "object key does not fit in %zu bytes", out_cap);
    return BK_OK;
}

/* "." + ext, or "" when ext is NULL or empty. */
static const char *dot_or_empty(const char *ext)
{
    return ext != NULL && ext[0] != '\0' ? "." : "";
}

int walg_key_sentinel(char *out, size_t out_cap, const char *backup, struct bk_error *err)
{
    int rc = check_backup_for_key(backup, "walg_key_sentinel", err);
    if (rc != BK_OK)
        return rc;
    return key_fit(snprintf(out, out_cap, WALG_BASEBACKUPS_DIR "%s" WALG_SENTINEL_SUFFIX, backup), out_cap,
                   "walg_key_sentinel", err);
}

static int key_in_backup(char *out, size_t out_cap, const char *backup, const char *leaf, const char *op,
                         struct bk_error *err)
{
    int rc = check_backup_for_key(backup, op, err);
    if (rc != BK_OK)
        return rc;
    return key_fit(snprintf(out, out_cap, WALG_BASEBACKUPS_DIR "%s/%s", backup, leaf), out_cap, op, err);
}

int walg_key_metadata(char *out, size_t out_cap, const char *backup, struct bk_error *err)
{
    return key_in_backup(out, out_cap, backup, WALG_METADATA_NAME, "walg_key_metadata", err);
}

int walg_key_files_metadata(char *out, size_t out_cap, const char *backup, struct bk_error *err)
{
    return key_in_backup(out, out_cap, backup, WALG_FILES_METADATA_NAME, "walg_key_files_metadata", err);
}

int walg_key_file_hashes(char *out, size_t out_cap, const char *backup, struct bk_error *err)
{
    return key_in_backup(out, out_cap, backup, WALG_FILE_HASHES_NAME, "walg_key_file_hashes", err);
}

int walg_key_tar_dir(char *out, size_t out_cap, const char *backup, struct bk_error *err)
{
    return key_in_backup(out, out_cap, backup, WALG_TAR_DIR, "walg_key_tar_dir", err);
}

int walg_key_tar_part(char *out, size_t out_cap, const char *backup, unsigned part_no, const char *ext,
                      struct bk_error *err)
{
    char leaf[96];
    int rc = check_ext(ext, "walg_key_tar_part", err);
    if (rc != BK_OK)
        return rc;
    if (part_no == 0)
        return bk_error_set(err, BK_EINVAL, "walg_key_tar_part", NULL, "tar part numbers start at 1");
    rc = key_fit(snprintf(leaf, sizeof(leaf), WALG_TAR_DIR "part_%03u.tar%s%s", part_no, dot_or_empty(ext),
                          ext != NULL ? ext : ""),
                 sizeof(leaf), "walg_key_tar_part", err);
    if (rc != BK_OK)
        return rc;
    return key_in_backup(out, out_cap, backup, leaf, "walg_key_tar_part", err);
}

static int special_tar(char *out, size_t out_cap, const char *backup, const char *stem, const char *ext,
                       const char *op, struct bk_error *err)
{
    char leaf[96];
    int rc = check_ext(ext, op, err);
    if (rc != BK_OK)
        return rc;
    rc = key_fit(snprintf(leaf, sizeof(leaf), WALG_TAR_DIR "%s.tar%s%s", stem, dot_or_empty(ext),
                          ext != NULL ? ext : ""),
                 sizeof(leaf), op, err);
    if (rc != BK_OK)
        return rc;
    return key_in_backup(out, out_cap, backup, leaf, op, err);
}

int walg_key_pg_control(char *out, size_t out_cap, const char *backup, const char *ext, struct bk_error *err)
{
    return special_tar(out, out_cap, backup, "pg_control", ext, "walg_key_pg_control", err);
}

int walg_key_backup_label(char *out, size_t out_cap, const char *backup, const char *ext,
                          struct bk_error *err)
{
    return special_tar(out, out_cap, backup, "backup_label", ext, "walg_key_backup_label", err);
}

int walg_key_wal(char *out, size_t out_cap, const char *wal_name, const char *ext, struct bk_error *err)
{
    enum walg_wal_kind kind;
    int rc = walg_wal_name_check(wal_name, &kind, err);
    if (rc != BK_OK)
        return rc;
    rc = check_ext(ext, "walg_key_wal", err);
    if (rc != BK_OK)
        return rc;
    return key_fit(snprintf(out, out_cap, WALG_WAL_DIR "%s%s%s", wal_name, dot_or_empty(ext),
                            ext != NULL ? ext : ""),
                   out_cap, "walg_key_wal", err);
}

/* ---- extension -> codec ---- */

/* Extensions that mean "stored raw" besides codec.c's own "" (v3.0.8's dangling dot for "none"):
 * a plain ".tar", and PostgreSQL's own suffixes on an uncompressed WAL-side file. */
static const char *const raw_exts[] = { "tar", "history", "partial", "backup" };

int walg_object_codec(const char *key, enum codec_id *out, struct bk_error *err)
{
    const char *base = strrchr(key, '/');
    const char *dot;
    const struct codec_info *info;
    base = base != NULL ? base + 1 : key;
    dot = strrchr(base, '.');
    if (dot == NULL) {
        *out = CODEC_NONE;
        return BK_OK;
    }
    for (size_t i = 0; i < sizeof(raw_exts) / sizeof(raw_exts[0]); i++) {
        if (strcmp(dot + 1, raw_exts[i]) == 0) {
            *out = CODEC_NONE;
            return BK_OK;
        }
    }
    info = codec_by_ext(dot + 1);
    if (info == NULL || !info->can_decompress)
        return bk_error_set(err, BK_EUNSUPPORTED, "walg_object_codec", key,
                            "unsupported compression extension \"%.32s\" of \"%.200s\"", dot + 1, key);
    *out = info->id;
    return BK_OK;
}

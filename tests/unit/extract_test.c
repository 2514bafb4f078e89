/*
 * Suite "extract": extract_path_check's table; every refusal (.., symlinks out and in,
 * hard links, devices, fifos, a pre-planted symlinked directory) with exact code, message
 * and object, checking that nothing appears outside DEST; WAL-G's leading '/' landing inside
 * DEST; the files filter and deferred names; modes; a full disk (a 1 MiB tmpfs in a private
 * mount namespace, skipped when that is not permitted). Fixtures: tests/fixtures/tar/.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bk_buf.h"
#include "bk_sink.h"
#include "extract.h"
#include "tar_writer.h"

#define FIXTURES "tests/fixtures/tar/"

static char root[64];
static char dest[128];
static char outside[128];

static void sandbox_setup(void)
{
    char path[256];
    FILE *fp;
    snprintf(root, sizeof(root), "/tmp/extract_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(dest, sizeof(dest), "%s/dest", root);
    snprintf(outside, sizeof(outside), "%s/outside", root);
    ck_assert_int_eq(mkdir(dest, 0755), 0);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    snprintf(path, sizeof(path), "%s/secret", outside);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("secret\n", fp);
    fclose(fp);
}

static void sandbox_teardown(void)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", root);
}

static const char *in_root(const char *rel)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 512, "%s/%s", root, rel);
    return p;
}

static bool exists(const char *rel)
{
    struct stat st;
    return lstat(in_root(rel), &st) == 0;
}

static unsigned mode_of(const char *rel)
{
    struct stat st;
    ck_assert_int_eq(lstat(in_root(rel), &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *data = malloc(4 << 20);
    ck_assert_ptr_nonnull(fp);
    *len = fread(data, 1, (4 << 20) - 1, fp);
    data[*len] = '\0';
    fclose(fp);
    return data;
}

static void expect_content(const char *rel, const char *want)
{
    size_t len;
    char *got = slurp(in_root(rel), &len);
    ck_assert_str_eq(got, want);
    free(got);
}

/* Only "secret" lives in outside/, and it is unchanged. */
static void expect_outside_untouched(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "test \"$(ls -A %s)\" = secret", outside);
    ck_assert_int_eq(system(cmd), 0);
    expect_content("outside/secret", "secret\n");
}

static int run_extract(const uint8_t *data, size_t len, size_t chunk, const struct extract_opts *opts,
                       struct extract_stats *stats, struct bk_error *err)
{
    struct extract *ex = NULL;
    struct bk_sink *r = NULL;
    int rc = extract_new(&ex, opts, err);
    if (rc == BK_OK)
        rc = extract_reader_new(&r, ex, "fixture.tar", err);
    for (size_t off = 0; off < len && rc == BK_OK; off += chunk)
        rc = bk_sink_write(r, data + off, len - off < chunk ? len - off : chunk, err);
    if (rc == BK_OK)
        rc = bk_sink_finish(r, err);
    else
        bk_sink_abort(r);
    if (stats != NULL && ex != NULL)
        *stats = *extract_get_stats(ex);
    bk_sink_free(r);
    extract_free(ex);
    return rc;
}

static int run_fixture(const char *name, const struct extract_opts *opts, struct bk_error *err)
{
    char path[256];
    size_t len;
    char *data;
    int rc;
    snprintf(path, sizeof(path), FIXTURES "%s", name);
    data = slurp(path, &len);
    rc = run_extract((const uint8_t *)data, len, 512, opts, NULL, err);
    free(data);
    return rc;
}

static struct extract_opts opts_default(void)
{
    struct extract_opts o = EXTRACT_OPTS_INIT;
    o.dest = dest;
    return o;
}

static void expect_refusal(const char *fixture, bool allow_symlinks, const char *object, const char *message)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    o.allow_symlinks = allow_symlinks;
    ck_assert_int_eq(run_fixture(fixture, &o, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, message);
    ck_assert_str_eq(err.object, object);
    expect_outside_untouched();
}

/* In-memory archives built with our writer. */
struct arc {
    struct bk_buf out;
    struct bk_sink *sink;
    struct tar_writer *tw;
    struct bk_error err;
};

static void arc_open(struct arc *a)
{
    memset(a, 0, sizeof(*a));
    bk_buf_init(&a->out, 8 << 20);
    ck_assert_int_eq(bk_sink_buf_new(&a->sink, &a->out, &a->err), BK_OK);
    ck_assert_int_eq(tar_writer_new(&a->tw, a->sink, NULL, &a->err), BK_OK);
}

static void arc_file(struct arc *a, const char *name, uint32_t mode, const char *data)
{
    ck_assert_int_eq(tar_writer_begin_file(a->tw, name, mode, strlen(data), 0, &a->err), BK_OK);
    ck_assert_int_eq(tar_writer_write_data(a->tw, data, strlen(data), &a->err), BK_OK);
    ck_assert_int_eq(tar_writer_end_file(a->tw, NULL, &a->err), BK_OK);
}

static void arc_dir(struct arc *a, const char *name, uint32_t mode)
{
    ck_assert_int_eq(tar_writer_add_dir(a->tw, name, mode, 0, &a->err), BK_OK);
}

static void arc_special(struct arc *a, const char *name, enum tar_type type, char flag, const char *linkname)
{
    struct tar_member m = { 0 };
    m.name = name;
    m.type = type;
    m.typeflag = flag;
    m.linkname = linkname;
    m.mode = 0777;
    ck_assert_int_eq(tar_writer_begin_member(a->tw, &m, &a->err), BK_OK);
}

static void arc_close(struct arc *a)
{
    tar_writer_free(a->tw);
    bk_sink_free(a->sink);
    bk_buf_free(&a->out);
}

static int arc_extract(struct arc *a, const struct extract_opts *o, struct extract_stats *stats, struct bk_error *err)
{
    ck_assert_int_eq(tar_writer_finish(a->tw, &a->err), BK_OK);
    return run_extract(a->out.data, a->out.len, 4096, o, stats, err);
}

/* ---- tests ---- */

START_TEST(test_path_check_table)
{
    static const struct { const char *in; int code; const char *out; } cases[] = {
        { "/etc/passwd", BK_OK, "etc/passwd" },
        { "./a/b", BK_OK, "a/b" },
        { "a//b/./c/", BK_OK, "a/b/c" },
        { "/", BK_OK, "" },
        { "./", BK_OK, "" },
        { ".", BK_OK, "" },
        { "..foo/...", BK_OK, "..foo/..." },
        { "", BK_EINVAL, "tar entry has an empty name" },
        { "../etc/passwd", BK_EINVAL, "tar entry \"../etc/passwd\" escapes the target directory" },
        { "a/../../x", BK_EINVAL, "tar entry \"a/../../x\" escapes the target directory" },
        { "/..", BK_EINVAL, "tar entry \"/..\" escapes the target directory" },
        { "a/../b", BK_EINVAL, "tar entry \"a/../b\" contains a \"..\" component" },
        { "a/..", BK_EINVAL, "tar entry \"a/..\" contains a \"..\" component" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bk_error err = BK_ERROR_INIT;
        char out[64];
        int rc = extract_path_check(out, sizeof(out), cases[i].in, &err);
        ck_assert_int_eq(rc, cases[i].code);
        if (rc == BK_OK) {
            ck_assert_str_eq(out, cases[i].out);
        } else {
            ck_assert_str_eq(err.message, cases[i].out);
            ck_assert_str_eq(err.object, cases[i].in);
        }
    }
}
END_TEST

START_TEST(test_dotdot_refused)
{
    expect_refusal("dotdot.tar", false, "../etc/passwd", "tar entry \"../etc/passwd\" escapes the target directory");
    expect_refusal("dotdot_nested.tar", false, "a/../../x", "tar entry \"a/../../x\" escapes the target directory");
    expect_refusal("dotdot_inside.tar", false, "a/../b", "tar entry \"a/../b\" contains a \"..\" component");
    ck_assert(!exists("etc"));
    ck_assert(!exists("x"));
    ck_assert(!exists("dest/a"));
    ck_assert(!exists("dest/b"));
}
END_TEST

START_TEST(test_absolute_lands_inside)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    ck_assert_int_eq(run_fixture("absolute.tar", &o, &err), BK_OK);
    expect_content("dest/etc/passwd", "root:x:0:0\n");
    ck_assert_uint_eq(mode_of("dest/etc/passwd"), 0644);
    ck_assert_uint_eq(mode_of("dest/etc"), 0700);
    expect_outside_untouched();
}
END_TEST

START_TEST(test_symlinks)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    char target[64];
    ssize_t n;
    expect_refusal("symlink_abs.tar", false, "etc_link",
                   "tar entry \"etc_link\" is a symbolic link; symbolic links are not restored");
    expect_refusal("symlink_abs.tar", true, "etc_link",
                   "tar entry \"etc_link\" is a symbolic link to \"/etc\" outside the target directory");
    expect_refusal("symlink_dotdot.tar", true, "a/up",
                   "tar entry \"a/up\" is a symbolic link to \"../../outside\" outside the target directory");
    expect_refusal("symlink_then_write.tar", false, "evil",
                   "tar entry \"evil\" is a symbolic link; symbolic links are not restored");
    expect_refusal("symlink_then_write.tar", true, "evil",
                   "tar entry \"evil\" is a symbolic link to \"../outside\" outside the target directory");
    ck_assert(!exists("dest/evil"));
    /* a link inside DEST: refused by default, created when allowed */
    expect_refusal("symlink_inside.tar", false, "data/link",
                   "tar entry \"data/link\" is a symbolic link; symbolic links are not restored");
    o.allow_symlinks = true;
    ck_assert_int_eq(run_fixture("symlink_inside.tar", &o, &err), BK_OK);
    ck_assert_int_eq(run_fixture("symlink_inside.tar", &o, &err), BK_OK);   /* replaces its own links */
    n = readlink(in_root("dest/data/link"), target, sizeof(target) - 1);
    ck_assert_int_eq(n, 1);
    target[n] = '\0';
    ck_assert_str_eq(target, "f");
    expect_content("dest/top", "inside\n");
}
END_TEST

START_TEST(test_symlink_allowed_edge_cases)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    struct arc a;
    o.allow_symlinks = true;
    /* ".." after a name cannot be checked without trusting other links */
    arc_open(&a);
    arc_special(&a, "x/l", TAR_TYPE_SYMLINK, '2', "y/../..");
    ck_assert_int_eq(arc_extract(&a, &o, NULL, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "tar entry \"x/l\" is a symbolic link to \"y/../..\", which cannot be proven "
                                  "to stay inside the target directory (\"..\" after a name)");
    arc_close(&a);
    /* climbing exactly to DEST is fine; writing through a link we created is not */
    arc_open(&a);
    arc_dir(&a, "sub", 0700);
    arc_special(&a, "sub/up", TAR_TYPE_SYMLINK, '2', "..");
    arc_file(&a, "sub/up/x", 0600, "through\n");
    ck_assert_int_eq(arc_extract(&a, &o, NULL, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "tar entry \"sub/up/x\" has a symbolic link in its path (\"sub/up\"); "
                                  "refusing to write through it");
    ck_assert(!exists("dest/x"));
    arc_close(&a);
}
END_TEST

START_TEST(test_hardlinks)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    struct stat f, h;
    expect_refusal("hardlink_outside.tar", false, "h",
                   "tar entry \"h\" is a hard link to \"../outside/secret\" outside the target directory");
    expect_refusal("hardlink_abs.tar", false, "h",
                   "tar entry \"h\" is a hard link to \"/etc/passwd\", which is not an extracted regular file");
    ck_assert(!exists("dest/h"));
    ck_assert_int_eq(run_fixture("hardlink_inside.tar", &o, &err), BK_OK);
    ck_assert_int_eq(run_fixture("hardlink_inside.tar", &o, &err), BK_OK);
    ck_assert_int_eq(stat(in_root("dest/f"), &f), 0);
    ck_assert_int_eq(stat(in_root("dest/h"), &h), 0);
    ck_assert_uint_eq(f.st_ino, h.st_ino);
    ck_assert_uint_eq(f.st_nlink, 2);
    ck_assert_uint_eq(f.st_mode & 07777, 0640);
    expect_content("dest/h", "shared\n");
}
END_TEST

START_TEST(test_devices_and_fifos_refused)
{
    expect_refusal("chardev.tar", false, "dev/null",
                   "tar entry \"dev/null\" is a character device; device files and fifos are not restored");
    expect_refusal("blockdev.tar", false, "dev/sda",
                   "tar entry \"dev/sda\" is a block device; device files and fifos are not restored");
    expect_refusal("fifo.tar", false, "fifo", "tar entry \"fifo\" is a fifo; device files and fifos are not restored");
    ck_assert(!exists("dest/dev"));
    ck_assert(!exists("dest/fifo"));
}
END_TEST

START_TEST(test_preplanted_symlinks)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    struct arc a;
    struct stat st;
    /* a symlinked directory on disk is never written through */
    ck_assert_int_eq(symlink(outside, in_root("dest/planted")), 0);
    expect_refusal("planted_dir_write.tar", false, "planted/x",
                   "tar entry \"planted/x\" has a symbolic link in its path (\"planted\"); refusing to write through it");
    ck_assert(!exists("outside/x"));
    /* a symlink or fifo at a file's own path is replaced, not followed or opened */
    ck_assert_int_eq(symlink(in_root("outside/secret"), in_root("dest/victim")), 0);
    ck_assert_int_eq(mkfifo(in_root("dest/pipe"), 0600), 0);
    arc_open(&a);
    arc_file(&a, "victim", 0600, "new\n");
    arc_file(&a, "pipe", 0600, "data\n");
    ck_assert_int_eq(arc_extract(&a, &o, NULL, &err), BK_OK);
    ck_assert_int_eq(lstat(in_root("dest/victim"), &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    expect_content("dest/victim", "new\n");
    expect_content("dest/pipe", "data\n");
    expect_outside_untouched();
    arc_close(&a);
}
END_TEST

START_TEST(test_other_refusals)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    struct arc a;
    arc_open(&a);
    arc_dir(&a, "x", 0700);
    arc_file(&a, "x", 0600, "file\n");
    ck_assert_int_eq(arc_extract(&a, &o, NULL, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "tar entry \"x\" would replace the directory \"x\"");
    arc_close(&a);
    arc_open(&a);
    arc_file(&a, "f", 0600, "file\n");
    arc_file(&a, "f/g", 0600, "below a file\n");
    ck_assert_int_eq(arc_extract(&a, &o, NULL, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "tar entry \"f/g\" needs \"f\" to be a directory, but it is not");
    arc_close(&a);
    arc_open(&a);
    arc_file(&a, "/", 0600, "");
    ck_assert_int_eq(arc_extract(&a, &o, NULL, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "tar entry \"/\" names the target directory itself but is a regular file");
    arc_close(&a);
    arc_open(&a);
    arc_special(&a, "vol", TAR_TYPE_OTHER, 'V', "");
    ck_assert_int_eq(tar_writer_end_file(a.tw, NULL, &a.err), BK_OK);
    ck_assert_int_eq(arc_extract(&a, &o, NULL, &err), BK_EINVAL);
    ck_assert_str_eq(err.message, "tar entry \"vol\" has the unsupported type 'V'");
    ck_assert_str_eq(err.object, "vol");
    arc_close(&a);
}
END_TEST

START_TEST(test_walg_layout_chunks)
{
    static const size_t chunks[] = { 1, 7, 512, 4096 };
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    struct extract_stats stats;
    struct arc a;
    char big[70000];
    o.fsync = (_i % 2) == 0;
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    arc_open(&a);
    arc_dir(&a, "/", 0700);
    arc_file(&a, "/PG_VERSION", 0600, "16\n");
    arc_dir(&a, "/base", 0700);
    arc_dir(&a, "/base/1", 0700);
    arc_file(&a, "/base/1/1259", 0600, big);
    arc_file(&a, "/base/1/1259_fsm", 0600, "");
    arc_dir(&a, "/pg_wal", 0700);
    ck_assert_int_eq(tar_writer_finish(a.tw, &a.err), BK_OK);
    ck_assert_int_eq(run_extract(a.out.data, a.out.len, chunks[_i], &o, &stats, &err), BK_OK);
    ck_assert_uint_eq(mode_of("dest"), 0700);
    expect_content("dest/PG_VERSION", "16\n");
    expect_content("dest/base/1/1259", big);
    expect_content("dest/base/1/1259_fsm", "");
    ck_assert_uint_eq(mode_of("dest/pg_wal"), 0700);
    ck_assert_uint_eq(stats.files, 3);
    ck_assert_uint_eq(stats.dirs, 4);
    ck_assert_uint_eq(stats.bytes, sizeof(big) - 1 + 3);
    arc_close(&a);
}
END_TEST

START_TEST(test_files_filter_and_defer)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    struct extract_name_set *only = NULL, *defer = NULL;
    struct extract_stats stats;
    struct arc a;
    ck_assert_int_eq(extract_name_set_new(&only, &err), BK_OK);
    ck_assert_int_eq(extract_name_set_new(&defer, &err), BK_OK);
    for (int i = 0; i < 200; i++) {   /* forces the set to grow */
        char name[32];
        snprintf(name, sizeof(name), "/base/1/%d", 10000 + i);
        ck_assert_int_eq(extract_name_set_add(only, name, &err), BK_OK);
    }
    ck_assert_int_eq(extract_name_set_add(only, "/a", &err), BK_OK);
    ck_assert_int_eq(extract_name_set_add(only, "/dir/b", &err), BK_OK);
    ck_assert_int_eq(extract_name_set_add(only, "backup_label", &err), BK_OK);
    ck_assert_int_eq(extract_name_set_add(only, "/global/pg_control", &err), BK_OK);
    ck_assert_int_eq(extract_name_set_add(only, "/a", &err), BK_OK);
    ck_assert_uint_eq(extract_name_set_count(only), 204);
    ck_assert(!extract_name_set_contains(only, "a"));
    ck_assert_int_eq(extract_name_set_add(defer, "global/pg_control", &err), BK_OK);
    o.only_names = only;
    o.defer_names = defer;
    arc_open(&a);
    arc_dir(&a, "/", 0700);
    arc_file(&a, "/a", 0600, "a\n");
    arc_file(&a, "/b", 0600, "b\n");      /* not listed: dropped, as WAL-G does */
    arc_dir(&a, "/dir", 0700);
    arc_dir(&a, "/c", 0750);              /* directories are always restored */
    arc_file(&a, "/dir/b", 0600, "dir b\n");
    arc_file(&a, "backup_label", 0600, "label\n");
    arc_file(&a, "/global/pg_control", 0600, "control\n");
    ck_assert_int_eq(arc_extract(&a, &o, &stats, &err), BK_OK);
    expect_content("dest/a", "a\n");
    expect_content("dest/dir/b", "dir b\n");
    expect_content("dest/backup_label", "label\n");
    ck_assert(!exists("dest/b"));
    ck_assert(!exists("dest/global"));
    ck_assert_uint_eq(mode_of("dest/c"), 0750);
    ck_assert_uint_eq(stats.files, 3);
    ck_assert_uint_eq(stats.skipped, 1);
    ck_assert_uint_eq(stats.deferred, 1);
    arc_close(&a);
    extract_name_set_free(only);
    extract_name_set_free(defer);
}
END_TEST

START_TEST(test_modes)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    struct arc a;
    ck_assert_int_eq(run_fixture("modes.tar", &o, &err), BK_OK);
    ck_assert_uint_eq(mode_of("dest/d"), 0750);
    ck_assert_uint_eq(mode_of("dest/d/suid"), 0755);
    ck_assert_uint_eq(mode_of("dest/d/ro"), 0400);
    /* a read-only directory still receives its entries; its mode is applied at the end */
    arc_open(&a);
    arc_dir(&a, "ro", 0500);
    arc_dir(&a, "ro/inner", 0555);
    arc_file(&a, "ro/inner/f", 0644, "f\n");
    ck_assert_int_eq(arc_extract(&a, &o, NULL, &err), BK_OK);
    ck_assert_uint_eq(mode_of("dest/ro"), 0500);
    ck_assert_uint_eq(mode_of("dest/ro/inner"), 0555);
    expect_content("dest/ro/inner/f", "f\n");
    ck_assert_int_eq(chmod(in_root("dest/ro/inner"), 0700), 0);
    ck_assert_int_eq(chmod(in_root("dest/ro"), 0700), 0);
    arc_close(&a);
}
END_TEST

START_TEST(test_truncated_removes_partial_file)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    struct arc a;
    char big[100001];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    arc_open(&a);
    arc_file(&a, "done", 0600, "complete\n");
    arc_file(&a, "partial", 0600, big);
    ck_assert_int_eq(run_extract(a.out.data, 1024 + 512 + 50000, 4096, &o, NULL, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "truncated tar: stream ends inside the data of \"partial\" (header at offset 1024)");
    ck_assert_str_eq(err.object, "fixture.tar");
    expect_content("dest/done", "complete\n");
    ck_assert(!exists("dest/partial"));
    arc_close(&a);
}
END_TEST

START_TEST(test_disk_full)
{
    struct extract_opts o = opts_default();
    struct bk_error err = BK_ERROR_INIT;
    struct arc a;
    char *big = malloc(2 << 20);
    char full[160];
    snprintf(full, sizeof(full), "%s/full", root);
    ck_assert_int_eq(mkdir(full, 0755), 0);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0
        || mount("tmpfs", full, "tmpfs", 0, "size=1m") != 0) {
        fprintf(stderr, "extract: test_disk_full skipped: cannot mount a 1 MiB tmpfs here (%s)\n", strerror(errno));
        free(big);
        return;
    }
    memset(big, 'F', (2 << 20) - 1);
    big[(2 << 20) - 1] = '\0';
    o.dest = full;
    arc_open(&a);
    arc_file(&a, "small", 0600, "fits\n");
    arc_file(&a, "big", 0600, big);
    ck_assert_int_eq(arc_extract(&a, &o, NULL, &err), BK_ENOSPC);
    ck_assert_str_eq(err.message, "cannot write \"big\" for tar entry \"big\": No space left on device");
    ck_assert_str_eq(err.object, "big");
    ck_assert_int_eq(err.sys_errno, ENOSPC);
    expect_content("full/small", "fits\n");
    ck_assert(!exists("full/big"));
    arc_close(&a);
    free(big);
    ck_assert_int_eq(umount2(full, MNT_DETACH), 0);
}
END_TEST

START_TEST(test_missing_dest)
{
    struct extract_opts o = EXTRACT_OPTS_INIT;
    struct extract *ex = NULL;
    struct bk_error err = BK_ERROR_INIT;
    o.dest = "/nonexistent/extract_test";
    ck_assert_int_eq(extract_new(&ex, &o, &err), BK_ENOTFOUND);
    ck_assert_str_eq(err.message, "cannot open target directory \"/nonexistent/extract_test\": No such file or directory");
    ck_assert_ptr_null(ex);
}
END_TEST

static Suite *extract_suite(void)
{
    Suite *s = suite_create("extract");
    TCase *tc = tcase_create("extract");
    tcase_add_checked_fixture(tc, sandbox_setup, sandbox_teardown);
    tcase_add_test(tc, test_path_check_table);
    tcase_add_test(tc, test_dotdot_refused);
    tcase_add_test(tc, test_absolute_lands_inside);
    tcase_add_test(tc, test_symlinks);
    tcase_add_test(tc, test_symlink_allowed_edge_cases);
    tcase_add_test(tc, test_hardlinks);
    tcase_add_test(tc, test_devices_and_fifos_refused);
    tcase_add_test(tc, test_preplanted_symlinks);
    tcase_add_test(tc, test_other_refusals);
    tcase_add_loop_test(tc, test_walg_layout_chunks, 0, 4);
    tcase_add_test(tc, test_files_filter_and_defer);
    tcase_add_test(tc, test_modes);
    tcase_add_test(tc, test_truncated_removes_partial_file);
    tcase_add_test(tc, test_disk_full);
    tcase_add_test(tc, test_missing_dest);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(extract_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Suite "tar": tar_writer output checked byte for byte (whole header blocks built here by
 * hand) and through GNU tar (`tar -tvf`, `tar -xf`); tar_reader fed our output and GNU tar's
 * (gnu and pax formats, long names) in chunks of 1, 7, 512 and 4096 bytes; base-256 sizes;
 * truncated streams, bad checksums, trailing garbage, missing end marker; shrunk/grown files.
 * Runs from the repository root; needs GNU tar in PATH.
 */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bk_buf.h"
#include "bk_sink.h"
#include "tar_reader.h"
#include "tar_writer.h"

#define OUT_MAX ((size_t)16 << 20)

static const size_t chunk_sizes[] = { 1, 7, 512, 4096 };
#define CHUNK_COUNT 4

/* ---- writer helpers ---- */

struct wfix {
    struct bk_buf out;
    struct bk_sink *sink;
    struct tar_writer *tw;
    struct bk_error err;
};

static void wfix_open(struct wfix *f)
{
    memset(f, 0, sizeof(*f));
    bk_buf_init(&f->out, OUT_MAX);
    ck_assert_int_eq(bk_sink_buf_new(&f->sink, &f->out, &f->err), BK_OK);
    ck_assert_int_eq(tar_writer_new(&f->tw, f->sink, NULL, &f->err), BK_OK);
}

static void wfix_close(struct wfix *f)
{
    tar_writer_free(f->tw);
    bk_sink_free(f->sink);
    bk_buf_free(&f->out);
}

static void add_file(struct wfix *f, const char *name, uint32_t mode, const char *data, int64_t mtime)
{
    size_t len = strlen(data);
    ck_assert_int_eq(tar_writer_begin_file(f->tw, name, mode, len, mtime, &f->err), BK_OK);
    ck_assert_int_eq(tar_writer_write_data(f->tw, data, len, &f->err), BK_OK);
    ck_assert_int_eq(tar_writer_end_file(f->tw, NULL, &f->err), BK_OK);
}

/* The small WAL-G local-mode style archive used by several tests. */
static void build_small(struct wfix *f)
{
    wfix_open(f);
    ck_assert_int_eq(tar_writer_add_dir(f->tw, "/", 0700, 1700000000, &f->err), BK_OK);
    add_file(f, "/PG_VERSION", 0600, "16\n", 1700000000);
    ck_assert_int_eq(tar_writer_add_dir(f->tw, "/global", 0700, 1700000000, &f->err), BK_OK);
    add_file(f, "/global/pg_control", 0600, "control!", 1700000001);
    ck_assert_int_eq(tar_writer_finish(f->tw, &f->err), BK_OK);
}

/* A ustar header block as Go's archive/tar writes it, built field by field. */
static void expect_header(uint8_t *b, const char *name, const char *mode, const char *size, const char *mtime,
                          char flag)
{
    unsigned sum = 0;
    memset(b, 0, 512);
    memcpy(b, name, strlen(name));
    memcpy(b + 100, mode, 8);
    memcpy(b + 108, "0000000", 8);
    memcpy(b + 116, "0000000", 8);
    memcpy(b + 124, size, 12);
    memcpy(b + 136, mtime, 12);
    b[156] = (uint8_t)flag;
    memcpy(b + 257, "ustar\0" "00", 8);
    memcpy(b + 329, "0000000", 8);
    memcpy(b + 337, "0000000", 8);
    memset(b + 148, ' ', 8);
    for (int i = 0; i < 512; i++)
        sum += b[i];
    snprintf((char *)b + 148, 8, "%06o", sum);
    b[155] = ' ';
}

static char *write_temp(const uint8_t *data, size_t len)
{
    char *path = strdup("/tmp/tar_test_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static char *run_capture(const char *cmd)
{
    char *out = calloc(1, 65536);
    size_t used = 0;
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (used < 65535) {
        size_t n = fread(out + used, 1, 65535 - used, p);
        if (n == 0)
            break;
        used += n;
    }
    ck_assert_int_eq(pclose(p), 0);
    return out;
}

/* ---- reader helpers: events recorded as text ---- */

struct log {
    struct bk_buf text;
    int fail_begin_at;    /* begin_member number that fails with BK_EIO (0 = never) */
    int begins;
    int aborts;
};

static int log_begin(const struct tar_member *m, void *payload, struct bk_error *err)
{
    struct log *l = payload;
    static const char types[] = "rhlcbdfo";
    if (++l->begins == l->fail_begin_at)
        return bk_error_set(err, BK_EIO, "test", m->name, "handler refused \"%s\"", m->name);
    return bk_buf_printf(&l->text, err, "B %s %c %" PRIu64 " %o %" PRId64 " %" PRIu32 "/%" PRIu32 " [%s] @%" PRIu64 "\n",
                         m->name, types[m->type], m->size, (unsigned)m->mode, m->mtime, m->uid, m->gid,
                         m->linkname, m->header_offset);
}

static int log_data(const void *data, size_t len, void *payload, struct bk_error *err)
{
    struct log *l = payload;
    return bk_buf_append(&l->text, data, len, err);
}

static int log_end(void *payload, struct bk_error *err)
{
    return bk_buf_append_str(&((struct log *)payload)->text, "|E\n", err);
}

static int log_end_archive(void *payload, struct bk_error *err)
{
    return bk_buf_append_str(&((struct log *)payload)->text, "A\n", err);
}

static void log_abort(void *payload)
{
    ((struct log *)payload)->aborts++;
}

static const struct tar_handler_ops log_ops = { log_begin, log_data, log_end, log_end_archive, log_abort };

/* Parses data in chunks; returns the code of the first failing write/finish. */
static int parse(const uint8_t *data, size_t len, size_t chunk, struct log *l, struct bk_error *err)
{
    struct tar_reader_opts opts = TAR_READER_OPTS_INIT;
    struct bk_sink *r = NULL;
    int rc = BK_OK;
    bk_buf_init(&l->text, OUT_MAX);
    opts.ops = &log_ops;
    opts.payload = l;
    opts.name_for_errors = "test.tar";
    ck_assert_int_eq(tar_reader_new(&r, &opts, err), BK_OK);
    for (size_t off = 0; off < len && rc == BK_OK; off += chunk)
        rc = bk_sink_write(r, data + off, len - off < chunk ? len - off : chunk, err);
    if (rc == BK_OK)
        rc = bk_sink_finish(r, err);
    bk_sink_free(r);
    return rc;
}

static const char small_events[] =
    "B / d 0 700 1700000000 0/0 [] @0\n|E\n"
    "B /PG_VERSION r 3 600 1700000000 0/0 [] @512\n16\n|E\n"
    "B /global d 0 700 1700000000 0/0 [] @1536\n|E\n"
    "B /global/pg_control r 8 600 1700000001 0/0 [] @2048\ncontrol!|E\n"
    "A\n";

/* ---- writer tests ---- */

START_TEST(test_writer_bytes_exact)
{
    struct wfix f;
    uint8_t want[512];
    build_small(&f);
    ck_assert_uint_eq(f.out.len, 512 + 1024 + 512 + 1024 + 1024);
    ck_assert_uint_eq(tar_writer_offset(f.tw), f.out.len);
    expect_header(want, "/", "0000700", "00000000000", "14524770400", '5');
    ck_assert_mem_eq(f.out.data, want, 512);
    expect_header(want, "/PG_VERSION", "0000600", "00000000003", "14524770400", '0');
    ck_assert_mem_eq(f.out.data + 512, want, 512);
    ck_assert_mem_eq(f.out.data + 1024, "16\n\0\0", 5);
    for (size_t i = 1024 + 3; i < 1536; i++)
        ck_assert_uint_eq(f.out.data[i], 0);
    expect_header(want, "/global/pg_control", "0000600", "00000000010", "14524770401", '0');
    ck_assert_mem_eq(f.out.data + 2048, want, 512);
    for (size_t i = f.out.len - 1024; i < f.out.len; i++)
        ck_assert_uint_eq(f.out.data[i], 0);
    wfix_close(&f);
}
END_TEST

START_TEST(test_writer_gnu_tar_lists_and_extracts)
{
    struct wfix f;
    char cmd[512];
    char *path, *listing, *content, dir[] = "/tmp/tar_test_x_XXXXXX";
    build_small(&f);
    path = write_temp(f.out.data, f.out.len);
    snprintf(cmd, sizeof(cmd), "TZ=UTC tar --numeric-owner -tvf %s 2>/dev/null", path);
    listing = run_capture(cmd);
    ck_assert_str_eq(listing,
                     "drwx------ 0/0               0 2023-11-14 22:13 /\n"
                     "-rw------- 0/0               3 2023-11-14 22:13 /PG_VERSION\n"
                     "drwx------ 0/0               0 2023-11-14 22:13 /global\n"
                     "-rw------- 0/0               8 2023-11-14 22:13 /global/pg_control\n");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd), "tar -xf %s -C %s 2>/dev/null && cat %s/global/pg_control %s/PG_VERSION", path,
             dir, dir, dir);
    content = run_capture(cmd);
    ck_assert_str_eq(content, "control!16\n");
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    unlink(path);
    free(path);
    free(listing);
    free(content);
    wfix_close(&f);
}
END_TEST

START_TEST(test_writer_long_names)
{
    struct wfix f;
    char flat[121], split[160], cmd[256], expect[512];
    struct log l = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    char *path, *listing;
    memset(flat, 'a', 120);
    flat[120] = '\0';
    /* 49 + '/' + 90 = 140 bytes: ustar prefix/name split, no PAX */
    memset(split, 'p', 49);
    split[49] = '/';
    memset(split + 50, 'n', 90);
    split[140] = '\0';
    wfix_open(&f);
    add_file(&f, flat, 0644, "x", 0);
    add_file(&f, split, 0644, "y", 0);
    ck_assert_int_eq(tar_writer_finish(f.tw, &f.err), BK_OK);
    /* member 1: PAX header "PaxHeaders.0/aaa..." cut to 100 bytes, record "130 path=<120 a>\n" */
    ck_assert_uint_eq(f.out.data[156], 'x');
    ck_assert_mem_eq(f.out.data, "PaxHeaders.0/aaaa", 17);
    ck_assert_uint_eq(f.out.data[99], 'a');
    ck_assert_mem_eq(f.out.data + 124, "00000000202\0", 12);
    ck_assert_mem_eq(f.out.data + 512, "130 path=aaaa", 13);
    ck_assert_uint_eq(f.out.data[512 + 129], '\n');
    ck_assert_uint_eq(f.out.data[1024 + 156], '0');
    ck_assert_mem_eq(f.out.data + 1024, flat, 100);
    /* member 2 starts at 2048: ustar only, prefix at 345 */
    ck_assert_uint_eq(f.out.data[2048 + 156], '0');
    ck_assert_mem_eq(f.out.data + 2048, split + 50, 90);
    ck_assert_mem_eq(f.out.data + 2048 + 345, split, 49);
    ck_assert_uint_eq(f.out.data[2048 + 345 + 49], 0);
    ck_assert_int_eq(parse(f.out.data, f.out.len, 7, &l, &err), BK_OK);
    snprintf(expect, sizeof(expect), "B %s r 1 644 0 0/0 [] @0\nx|E\nB %s r 1 644 0 0/0 [] @2048\ny|E\nA\n", flat,
             split);
    ck_assert_str_eq(bk_buf_str(&l.text), expect);
    path = write_temp(f.out.data, f.out.len);
    snprintf(cmd, sizeof(cmd), "tar -tf %s", path);
    listing = run_capture(cmd);
    snprintf(expect, sizeof(expect), "%s\n%s\n", flat, split);
    ck_assert_str_eq(listing, expect);
    unlink(path);
    free(path);
    free(listing);
    bk_buf_free(&l.text);
    wfix_close(&f);
}
END_TEST

START_TEST(test_writer_size_8gib_uses_pax)
{
    struct wfix f;
    struct log l = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    uint64_t size = (uint64_t)8 << 30;
    wfix_open(&f);
    ck_assert_int_eq(tar_writer_begin_file(f.tw, "big", 0600, size, 0, &f.err), BK_OK);
    ck_assert_uint_eq(tar_writer_remaining(f.tw), size);
    ck_assert_uint_eq(f.out.len, 1536);
    ck_assert_mem_eq(f.out.data, "PaxHeaders.0/big\0", 17);
    ck_assert_mem_eq(f.out.data + 512, "19 size=8589934592\n\0", 20);
    ck_assert_mem_eq(f.out.data + 1024 + 124, "00000000000\0", 12);
    /* the reader takes the size from the PAX record (fed the headers only: truncated) */
    ck_assert_int_eq(parse(f.out.data, f.out.len, 512, &l, &err), BK_ECORRUPT);
    ck_assert_str_eq(bk_buf_str(&l.text), "B big r 8589934592 600 0 0/0 [] @0\n");
    ck_assert_str_eq(err.message, "truncated tar: stream ends inside the data of \"big\" (header at offset 0)");
    bk_buf_free(&l.text);
    /* one byte less than 8 GiB still fits the octal field */
    wfix_close(&f);
    wfix_open(&f);
    ck_assert_int_eq(tar_writer_begin_file(f.tw, "big", 0600, size - 1, 0, &f.err), BK_OK);
    ck_assert_uint_eq(f.out.len, 512);
    ck_assert_mem_eq(f.out.data + 124, "77777777777\0", 12);
    wfix_close(&f);
}
END_TEST

START_TEST(test_writer_file_shrank_and_grew)
{
    struct wfix f;
    struct log l = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    uint64_t filled = 99;
    char data[600];
    memset(data, 'd', sizeof(data));
    wfix_open(&f);
    /* shrank, caller handles it */
    ck_assert_int_eq(tar_writer_begin_file(f.tw, "f", 0600, 1000, 0, &f.err), BK_OK);
    ck_assert_int_eq(tar_writer_write_data(f.tw, data, 600, &f.err), BK_OK);
    ck_assert_uint_eq(tar_writer_remaining(f.tw), 400);
    ck_assert_int_eq(tar_writer_end_file(f.tw, &filled, &f.err), BK_OK);
    ck_assert_uint_eq(filled, 400);
    ck_assert_uint_eq(f.out.len, 512 + 1024);
    ck_assert_uint_eq(f.out.data[512 + 599], 'd');
    for (size_t i = 512 + 600; i < 1536; i++)
        ck_assert_uint_eq(f.out.data[i], 0);
    /* shrank, strict mode: BK_ECORRUPT but the stream stays valid */
    ck_assert_int_eq(tar_writer_begin_file(f.tw, "g", 0600, 10, 0, &f.err), BK_OK);
    ck_assert_int_eq(tar_writer_write_data(f.tw, "abc", 3, &f.err), BK_OK);
    ck_assert_int_eq(tar_writer_end_file(f.tw, NULL, &f.err), BK_ECORRUPT);
    ck_assert_str_eq(f.err.message, "file \"g\" shrank while being archived: 3 of 10 bytes written");
    ck_assert_str_eq(f.err.object, "g");
    /* grew: refused, nothing written, the caller cuts at remaining() */
    ck_assert_int_eq(tar_writer_begin_file(f.tw, "h", 0600, 2, 0, &f.err), BK_OK);
    ck_assert_int_eq(tar_writer_write_data(f.tw, "xyz", 3, &f.err), BK_EINVAL);
    ck_assert_str_eq(f.err.message, "file \"h\" is larger than the 2 bytes declared in its tar header");
    ck_assert_int_eq(tar_writer_write_data(f.tw, "xy", 2, &f.err), BK_OK);
    ck_assert_int_eq(tar_writer_end_file(f.tw, NULL, &f.err), BK_OK);
    ck_assert_int_eq(tar_writer_finish(f.tw, &f.err), BK_OK);
    ck_assert_int_eq(parse(f.out.data, f.out.len, 4096, &l, &err), BK_OK);
    ck_assert_uint_eq(l.text.len, strlen("B f r 1000 600 0 0/0 [] @0\n") + 1000 + 3
                      + strlen("B g r 10 600 0 0/0 [] @1536\nabc") + 7 + 3
                      + strlen("B h r 2 600 0 0/0 [] @2560\nxy|E\nA\n"));
    ck_assert_ptr_nonnull(memmem(l.text.data, l.text.len, "B g r 10 600 0 0/0 [] @1536\nabc\0\0\0\0\0\0\0|E\n"
                                 "B h r 2 600 0 0/0 [] @2560\nxy|E\nA\n", 75));
    bk_buf_free(&l.text);
    wfix_close(&f);
}
END_TEST

START_TEST(test_writer_passthrough_and_misuse)
{
    struct wfix f;
    struct log l = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    struct tar_member m = { 0 };
    m.name = "pg_tblspc/16400/PG_16/link";
    m.linkname = "../target";
    m.uname = "postgres";
    m.gname = "postgres";
    m.type = TAR_TYPE_SYMLINK;
    m.mode = 0777;
    m.mtime = 5;
    m.uid = 26;
    m.gid = 26;
    wfix_open(&f);
    ck_assert_int_eq(tar_writer_begin_member(f.tw, &m, &f.err), BK_OK);
    ck_assert_uint_eq(f.out.data[156], '2');
    ck_assert_str_eq((char *)f.out.data + 157, "../target");
    ck_assert_str_eq((char *)f.out.data + 265, "postgres");
    ck_assert_mem_eq(f.out.data + 108, "0000032\0", 8);
    m.size = 3;
    ck_assert_int_eq(tar_writer_begin_member(f.tw, &m, &f.err), BK_EINVAL);
    ck_assert_str_eq(f.err.message,
                     "tar entry \"pg_tblspc/16400/PG_16/link\" is a symbolic link and cannot carry 3 bytes of data");
    ck_assert_int_eq(tar_writer_begin_file(f.tw, "a", 0600, 1, 0, &f.err), BK_OK);
    ck_assert_int_eq(tar_writer_add_dir(f.tw, "d", 0700, 0, &f.err), BK_EINTERNAL);
    ck_assert_str_eq(f.err.message, "tar entry \"d\" started before \"a\" was ended");
    ck_assert_int_eq(tar_writer_finish(f.tw, &f.err), BK_EINTERNAL);
    ck_assert_int_eq(tar_writer_write_data(f.tw, "1", 1, &f.err), BK_OK);
    ck_assert_int_eq(tar_writer_end_file(f.tw, NULL, &f.err), BK_OK);
    ck_assert_int_eq(tar_writer_finish(f.tw, &f.err), BK_OK);
    ck_assert_int_eq(tar_writer_add_dir(f.tw, "d", 0700, 0, &f.err), BK_EINTERNAL);
    ck_assert_int_eq(parse(f.out.data, f.out.len, 1, &l, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&l.text), "B pg_tblspc/16400/PG_16/link l 0 777 5 26/26 [../target] @0\n|E\n"
                                          "B a r 1 600 0 0/0 [] @512\n1|E\nA\n");
    bk_buf_free(&l.text);
    wfix_close(&f);
}
END_TEST

/* ---- reader tests ---- */

START_TEST(test_reader_chunks)
{
    struct wfix f;
    struct log l = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    size_t chunk = chunk_sizes[_i];
    build_small(&f);
    ck_assert_int_eq(parse(f.out.data, f.out.len, chunk, &l, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&l.text), small_events);
    ck_assert_int_eq(l.aborts, 0);
    bk_buf_free(&l.text);
    wfix_close(&f);
}
END_TEST

/* GNU tar archive with 'L' and 'K' long names (format gnu) or PAX records (format pax). */
static uint8_t *gnu_tar_archive(const char *format, size_t *len, char *longdir, char *longfile)
{
    char dir[] = "/tmp/tar_test_g_XXXXXX", cmd[2048], path[1024];
    char target[131];
    FILE *fp;
    uint8_t *data = malloc(OUT_MAX);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    memset(longdir, 'd', 110);
    longdir[110] = '\0';
    snprintf(longfile, 256, "%s/%0120d", longdir, 7);
    memset(target, 't', 130);
    target[130] = '\0';
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/%s && printf hello > %s/%s && ln -s %s %s/%s/ln && "
             "cd %s && tar --format=%s --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner "
             "--mode=u=rw,go= -cf %s/out.tar %s", dir, longdir, dir, longfile, target, dir, longdir, dir, format,
             dir, longdir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/out.tar", dir);
    fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    *len = fread(data, 1, OUT_MAX, fp);
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    return data;
}

static void check_gnu_events(const char *text, const char *longdir, const char *longfile)
{
    char dirname[128], fname[300], lname[200], target[131];
    memset(target, 't', 130);
    target[130] = '\0';
    snprintf(dirname, sizeof(dirname), "B %s/ d 0 ", longdir);
    snprintf(fname, sizeof(fname), "B %s r 5 600 0 0/0 [] @", longfile);
    snprintf(lname, sizeof(lname), "B %s/ln l 0 ", longdir);
    ck_assert_ptr_nonnull(strstr(text, dirname));
    ck_assert_ptr_nonnull(strstr(text, fname));
    ck_assert_ptr_nonnull(strstr(text, lname));
    ck_assert_ptr_nonnull(strstr(text, target));
    ck_assert_ptr_nonnull(strstr(text, "hello|E\n"));
    ck_assert_str_eq(text + strlen(text) - 2, "A\n");
}

START_TEST(test_reader_gnu_long_names)
{
    struct bk_error err = BK_ERROR_INIT;
    char longdir[128], longfile[256];
    size_t len;
    uint8_t *data = gnu_tar_archive("gnu", &len, longdir, longfile);
    ck_assert_ptr_nonnull(memmem(data, len, "././@LongLink", 13));
    for (int c = 0; c < CHUNK_COUNT; c++) {
        struct log l = { 0 };
        ck_assert_int_eq(parse(data, len, chunk_sizes[c], &l, &err), BK_OK);
        check_gnu_events(bk_buf_str(&l.text), longdir, longfile);
        bk_buf_free(&l.text);
    }
    free(data);
}
END_TEST

START_TEST(test_reader_pax_from_gnu_tar)
{
    struct bk_error err = BK_ERROR_INIT;
    char longdir[128], longfile[256];
    size_t len;
    uint8_t *data = gnu_tar_archive("pax", &len, longdir, longfile);
    ck_assert_ptr_nonnull(memmem(data, len, " path=", 6));
    for (int c = 0; c < CHUNK_COUNT; c++) {
        struct log l = { 0 };
        ck_assert_int_eq(parse(data, len, chunk_sizes[c], &l, &err), BK_OK);
        check_gnu_events(bk_buf_str(&l.text), longdir, longfile);
        bk_buf_free(&l.text);
    }
    free(data);
}
END_TEST

static void rechecksum(uint8_t *b)
{
    unsigned sum = 0;
    memset(b + 148, ' ', 8);
    for (int i = 0; i < 512; i++)
        sum += b[i];
    snprintf((char *)b + 148, 8, "%06o", sum);
    b[155] = ' ';
}

START_TEST(test_reader_base256_size)
{
    struct wfix f;
    struct log l = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    wfix_open(&f);
    add_file(&f, "b", 0600, "0123456789", 0);
    ck_assert_int_eq(tar_writer_finish(f.tw, &f.err), BK_OK);
    memset(f.out.data + 124, 0, 12);
    f.out.data[124] = 0x80;
    f.out.data[135] = 10;
    rechecksum(f.out.data);
    ck_assert_int_eq(parse(f.out.data, f.out.len, 7, &l, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&l.text), "B b r 10 600 0 0/0 [] @0\n0123456789|E\nA\n");
    bk_buf_free(&l.text);
    /* a negative base-256 size is corrupt */
    f.out.data[124] = 0xff;
    rechecksum(f.out.data);
    ck_assert_int_eq(parse(f.out.data, f.out.len, 512, &l, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "bad size field in the tar header at offset 0");
    bk_buf_free(&l.text);
    wfix_close(&f);
}
END_TEST

/* PostgreSQL's server tar (src/port/tar.c): octal fields end in a space instead of a NUL and
 * the checksum is 7 digits and a space. */
START_TEST(test_reader_pg_style_numbers)
{
    struct wfix f;
    struct log l = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    unsigned sum = 0;
    uint8_t *b;
    wfix_open(&f);
    add_file(&f, "base/1/112", 0600, "pg", 1700000000);
    ck_assert_int_eq(tar_writer_finish(f.tw, &f.err), BK_OK);
    b = f.out.data;
    memcpy(b + 100, "0000600 ", 8);
    memcpy(b + 108, "0000012 ", 8);
    memcpy(b + 116, "0000012 ", 8);
    memcpy(b + 124, "00000000002 ", 12);
    memcpy(b + 136, "14524770400 ", 12);
    memset(b + 148, ' ', 8);
    for (int i = 0; i < 512; i++)
        sum += b[i];
    snprintf((char *)b + 148, 8, "%07o", sum);
    b[155] = ' ';
    ck_assert_int_eq(parse(f.out.data, f.out.len, 7, &l, &err), BK_OK);
    ck_assert_str_eq(bk_buf_str(&l.text), "B base/1/112 r 2 600 1700000000 10/10 [] @0\npg|E\nA\n");
    bk_buf_free(&l.text);
    wfix_close(&f);
}
END_TEST

START_TEST(test_reader_truncated)
{
    struct wfix f;
    struct bk_error err = BK_ERROR_INIT;
    static const struct { size_t len; const char *msg; } cases[] = {
        { 100, "truncated tar: stream ends inside the header at offset 0" },
        { 1000, "truncated tar: stream ends inside the header at offset 512" },
        { 1024 + 2, "truncated tar: stream ends inside the data of \"/PG_VERSION\" (header at offset 512)" },
        { 1024 + 100, "truncated tar: stream ends inside the data of \"/PG_VERSION\" (header at offset 512)" },
        { 2560 + 4, "truncated tar: stream ends inside the data of \"/global/pg_control\" (header at offset 2048)" },
    };
    build_small(&f);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int c = 0; c < CHUNK_COUNT; c++) {
            struct log l = { 0 };
            ck_assert_int_eq(parse(f.out.data, cases[i].len, chunk_sizes[c], &l, &err), BK_ECORRUPT);
            ck_assert_str_eq(err.message, cases[i].msg);
            ck_assert_str_eq(err.object, "test.tar");
            ck_assert_int_eq(l.aborts, 1);
            ck_assert_ptr_null(strstr(bk_buf_str(&l.text), "A\n"));
            bk_buf_free(&l.text);
        }
    }
    wfix_close(&f);
}
END_TEST

START_TEST(test_reader_truncated_extended_header)
{
    struct wfix f;
    struct log l = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    char name[201];
    memset(name, 'q', 200);
    name[200] = '\0';
    wfix_open(&f);
    add_file(&f, name, 0600, "z", 0);
    ck_assert_int_eq(parse(f.out.data, 600, 7, &l, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "truncated tar: stream ends inside the extended header at offset 0");
    bk_buf_free(&l.text);
    ck_assert_int_eq(parse(f.out.data, 1024, 7, &l, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "truncated tar: stream ends after the extended header at offset 0");
    bk_buf_free(&l.text);
    wfix_close(&f);
}
END_TEST

START_TEST(test_reader_bad_checksum)
{
    struct wfix f;
    struct log l = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    build_small(&f);
    f.out.data[2048 + 10] ^= 0x01;   /* a name byte of /global/pg_control */
    ck_assert_int_eq(parse(f.out.data, f.out.len, 4096, &l, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "bad tar header checksum at offset 2048");
    ck_assert_int_eq(l.aborts, 1);
    bk_buf_free(&l.text);
    wfix_close(&f);
}
END_TEST

START_TEST(test_reader_trailer)
{
    struct wfix f;
    struct bk_error err = BK_ERROR_INIT;
    uint8_t *padded;
    build_small(&f);
    /* 10 KiB record padding with zeros is fine */
    padded = calloc(1, 10240);
    memcpy(padded, f.out.data, f.out.len);
    for (int c = 0; c < CHUNK_COUNT; c++) {
        struct log l = { 0 };
        ck_assert_int_eq(parse(padded, 10240, chunk_sizes[c], &l, &err), BK_OK);
        ck_assert_str_eq(bk_buf_str(&l.text), small_events);
        bk_buf_free(&l.text);
        /* one non-zero byte after the end marker is not (WAL-G readTrailingZeros) */
        padded[9000] = 'x';
        ck_assert_int_eq(parse(padded, 10240, chunk_sizes[c], &l, &err), BK_ECORRUPT);
        ck_assert_str_eq(err.message, "unexpected data after the end of the tar archive at offset 9000");
        ck_assert_ptr_null(strstr(bk_buf_str(&l.text), "A\n"));
        padded[9000] = 0;
        bk_buf_free(&l.text);
        /* missing end marker (walg-layout 7.15), and a lone zero block, are accepted */
        ck_assert_int_eq(parse(f.out.data, f.out.len - 1024, chunk_sizes[c], &l, &err), BK_OK);
        ck_assert_str_eq(bk_buf_str(&l.text), small_events);
        bk_buf_free(&l.text);
        ck_assert_int_eq(parse(f.out.data, f.out.len - 512, chunk_sizes[c], &l, &err), BK_OK);
        ck_assert_str_eq(bk_buf_str(&l.text), small_events);
        bk_buf_free(&l.text);
    }
    /* a header after a single zero block is corrupt */
    memcpy(padded, f.out.data, 2048);
    memset(padded + 2048, 0, 512);
    memcpy(padded + 2560, f.out.data + 2048, 1024);
    {
        struct log l = { 0 };
        ck_assert_int_eq(parse(padded, 3584, 512, &l, &err), BK_ECORRUPT);
        ck_assert_str_eq(err.message, "tar header at offset 2560 follows an end-of-archive block");
        bk_buf_free(&l.text);
        /* an empty stream is an empty archive */
        ck_assert_int_eq(parse(padded, 0, 512, &l, &err), BK_OK);
        ck_assert_str_eq(bk_buf_str(&l.text), "A\n");
        bk_buf_free(&l.text);
    }
    free(padded);
    wfix_close(&f);
}
END_TEST

START_TEST(test_reader_handler_error_and_pax_errors)
{
    struct wfix f;
    struct log l = { 0 };
    struct bk_error err = BK_ERROR_INIT;
    char name[201];
    build_small(&f);
    l.fail_begin_at = 2;
    ck_assert_int_eq(parse(f.out.data, f.out.len, 512, &l, &err), BK_EIO);
    ck_assert_str_eq(err.message, "handler refused \"/PG_VERSION\"");
    ck_assert_int_eq(l.aborts, 1);
    bk_buf_free(&l.text);
    wfix_close(&f);
    /* a PAX record whose length does not match */
    memset(name, 'q', 200);
    name[200] = '\0';
    wfix_open(&f);
    add_file(&f, name, 0600, "z", 0);
    ck_assert_int_eq(tar_writer_finish(f.tw, &f.err), BK_OK);
    ck_assert_mem_eq(f.out.data + 512, "210 path=", 9);
    f.out.data[512 + 1] = '0';   /* "200 path=..." */
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(parse(f.out.data, f.out.len, 1, &l, &err), BK_ECORRUPT);
    ck_assert_str_eq(err.message, "bad pax record in the extended header at offset 0");
    bk_buf_free(&l.text);
    wfix_close(&f);
}
END_TEST

static Suite *tar_suite(void)
{
    Suite *s = suite_create("tar");
    TCase *w = tcase_create("writer");
    TCase *r = tcase_create("reader");
    tcase_add_test(w, test_writer_bytes_exact);
    tcase_add_test(w, test_writer_gnu_tar_lists_and_extracts);
    tcase_add_test(w, test_writer_long_names);
    tcase_add_test(w, test_writer_size_8gib_uses_pax);
    tcase_add_test(w, test_writer_file_shrank_and_grew);
    tcase_add_test(w, test_writer_passthrough_and_misuse);
    tcase_add_loop_test(r, test_reader_chunks, 0, CHUNK_COUNT);
    tcase_add_test(r, test_reader_gnu_long_names);
    tcase_add_test(r, test_reader_pax_from_gnu_tar);
    tcase_add_test(r, test_reader_base256_size);
    tcase_add_test(r, test_reader_pg_style_numbers);
    tcase_add_test(r, test_reader_truncated);
    tcase_add_test(r, test_reader_truncated_extended_header);
    tcase_add_test(r, test_reader_bad_checksum);
    tcase_add_test(r, test_reader_trailer);
    tcase_add_test(r, test_reader_handler_error_and_pax_errors);
    tcase_set_timeout(r, 60);
    suite_add_tcase(s, w);
    suite_add_tcase(s, r);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tar_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

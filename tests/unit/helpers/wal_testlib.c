/* See wal_testlib.h. */
#include "wal_testlib.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void put_le16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_le32(uint8_t *p, uint32_t v) { put_le16(p, v & 0xFFFF); put_le16(p + 2, v >> 16); }
static void put_le64(uint8_t *p, uint64_t v) { put_le32(p, (uint32_t)v); put_le32(p + 4, (uint32_t)(v >> 32)); }

size_t wal_test_page_header(uint8_t *p, size_t page, uint32_t tli, uint64_t seg_start)
{
    size_t hdr = page == 0 ? 40 : 24;
    memset(p, 0, hdr);
    put_le16(p, 0xD110);
    put_le16(p + 2, page == 0 ? 0x0002 : 0);
    put_le32(p + 4, tli);
    put_le64(p + 8, seg_start + page * 8192);
    if (page == 0) {
        put_le64(p + 24, 7311234567890123456ull);
        put_le32(p + 32, WAL_TEST_SEG_SIZE);
        put_le32(p + 36, 8192);
    }
    return hdr;
}

void wal_test_parse_name(const char *name, uint32_t *tli, uint64_t *seg_start)
{
    unsigned t, hi, lo;
    ck_assert_int_eq(sscanf(name, "%8X%8X%8X", &t, &hi, &lo), 3);
    *tli = t;
    *seg_start = ((uint64_t)hi << 32) + (uint64_t)lo * WAL_TEST_SEG_SIZE;
}

void wal_test_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

uint8_t *wal_test_read_file(const char *path, size_t *len)
{
    struct stat sb;
    uint8_t *data;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    ck_assert_int_eq(fstat(fd, &sb), 0);
    data = malloc((size_t)sb.st_size + 1);
    ck_assert_int_eq(read(fd, data, (size_t)sb.st_size), sb.st_size);
    close(fd);
    *len = (size_t)sb.st_size;
    return data;
}

/* Shared by the WAL unit suites: PostgreSQL 15 page headers for synthetic segments, and small
 * whole-file helpers. */
#ifndef WAL_TESTLIB_H
#define WAL_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#define WAL_TEST_SEG_SIZE (16u * 1024 * 1024)

/* Writes the header of page `page` of a 16 MiB segment starting at LSN seg_start on timeline
 * tli (XLOG_PAGE_MAGIC 0xD110; long header on page 0). Returns the header's length. */
size_t wal_test_page_header(uint8_t *page_start, size_t page, uint32_t tli, uint64_t seg_start);
/* Parses a 24-hex segment name into timeline and start LSN (check assertion on failure). */
void wal_test_parse_name(const char *name, uint32_t *tli, uint64_t *seg_start);
void wal_test_write_file(const char *path, const void *data, size_t len);
/* Whole file into a malloc'ed buffer (caller frees), NULL if it cannot be opened. */
uint8_t *wal_test_read_file(const char *path, size_t *len);

#endif

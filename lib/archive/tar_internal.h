/*
 * Folder-private helpers shared by tar_reader.c and tar_writer.c: the ustar header layout
 * (POSIX.1-1988 field offsets), number fields (octal and GNU base-256) and the checksum.
 * Not part of the public API; only lib/archive/tar_*.c include it.
 */
#ifndef TAR_INTERNAL_H
#define TAR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Field offsets and lengths inside a 512-byte header block. */
#define TAR_OFF_NAME      0
#define TAR_LEN_NAME      100
#define TAR_OFF_MODE      100
#define TAR_LEN_MODE      8
#define TAR_OFF_UID       108
#define TAR_LEN_UID       8
#define TAR_OFF_GID       116
#define TAR_LEN_GID       8
#define TAR_OFF_SIZE      124
#define TAR_LEN_SIZE      12
#define TAR_OFF_MTIME     136
#define TAR_LEN_MTIME     12
#define TAR_OFF_CHKSUM    148
#define TAR_LEN_CHKSUM    8
#define TAR_OFF_TYPEFLAG  156
#define TAR_OFF_LINKNAME  157
#define TAR_LEN_LINKNAME  100
#define TAR_OFF_MAGIC     257
#define TAR_LEN_MAGIC     6
#define TAR_OFF_VERSION   263
#define TAR_LEN_VERSION   2
#define TAR_OFF_UNAME     265
#define TAR_LEN_UNAME     32
#define TAR_OFF_GNAME     297
#define TAR_LEN_GNAME     32
#define TAR_OFF_DEVMAJOR  329
#define TAR_LEN_DEVMAJOR  8
#define TAR_OFF_DEVMINOR  337
#define TAR_LEN_DEVMINOR  8
#define TAR_OFF_PREFIX    345
#define TAR_LEN_PREFIX    155

/* Limit for one extended header's data (PAX 'x'/'g', GNU 'L'/'K'); bounds reader memory. */
#define TAR_EXT_HEADER_MAX (1024 * 1024)

/* Sum of the header bytes with the checksum field taken as eight spaces. */
uint64_t tar_checksum_unsigned(const uint8_t *block);
int64_t tar_checksum_signed(const uint8_t *block);

/* Parses an octal field (leading/trailing spaces and NULs ignored, empty = 0) or a GNU
 * base-256 field (high bit of the first byte set; negative values allowed). False when
 * the field holds anything else or the value does not fit in int64. */
bool tar_parse_number(const uint8_t *field, size_t len, int64_t *out);

/* True when 0 <= value < 8^(len-1): fits as len-1 octal digits plus a NUL. */
bool tar_octal_fits(size_t len, int64_t value);

/* Writes value as len-1 zero-padded octal digits and a NUL (Go's formatOctal); a value
 * that does not fit is written as 0, the caller having put it into a PAX record. */
void tar_put_octal(uint8_t *field, size_t len, int64_t value);

/* Copies at most len bytes of text; NUL-pads when shorter (a full field has no NUL). */
void tar_put_string(uint8_t *field, size_t len, const char *text);

/* Fills the checksum field of a complete header as "%06o\0 ". */
void tar_put_checksum(uint8_t *block);

bool tar_block_is_zero(const uint8_t *block);

#endif

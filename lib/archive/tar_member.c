/*
 * Tar header primitives shared by the reader and the writer: member type helpers
 * (tar_member.h) and the number/checksum field codecs (tar_internal.h). Field encodings
 * follow Go's archive/tar, which is what WAL-G reads and writes with.
 */
#include "tar_member.h"

#include <string.h>

#include "tar_internal.h"

bool tar_type_has_data(enum tar_type type)
{
    return type == TAR_TYPE_REGULAR || type == TAR_TYPE_OTHER;
}

const char *tar_type_name(enum tar_type type)
{
    switch (type) {
    case TAR_TYPE_REGULAR: return "regular file";
    case TAR_TYPE_HARDLINK: return "hard link";
    case TAR_TYPE_SYMLINK: return "symbolic link";
    case TAR_TYPE_CHAR: return "character device";
    case TAR_TYPE_BLOCK: return "block device";
    case TAR_TYPE_DIRECTORY: return "directory";
    case TAR_TYPE_FIFO: return "fifo";
    case TAR_TYPE_OTHER: break;
    }
    return "special entry";
}

uint64_t tar_checksum_unsigned(const uint8_t *block)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < 512; i++) {
        if (i >= TAR_OFF_CHKSUM && i < TAR_OFF_CHKSUM + TAR_LEN_CHKSUM)
            sum += ' ';
        else
            sum += block[i];
    }
    return sum;
}

int64_t tar_checksum_signed(const uint8_t *block)
{
    int64_t sum = 0;
    for (size_t i = 0; i < 512; i++) {
        if (i >= TAR_OFF_CHKSUM && i < TAR_OFF_CHKSUM + TAR_LEN_CHKSUM)
            sum += ' ';
        else
            sum += (int8_t)block[i];
    }
    return sum;
}

static bool parse_base256(const uint8_t *field, size_t len, int64_t *out)
{
    /* Go's parseNumeric: big-endian two's complement after the 0x80 marker bit; a negative
     * number (0x40 set) is read through an inversion mask, using -a-1 == ~a. */
    uint8_t inv = (field[0] & 0x40) != 0 ? 0xff : 0x00;
    uint64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t byte = (uint8_t)(field[i] ^ inv);
        if (i == 0)
            byte &= 0x7f;
        if ((value >> 56) != 0)
            return false;
        value = (value << 8) | byte;
    }
    if ((value >> 63) != 0)
        return false;
    *out = inv != 0 ? ~(int64_t)value : (int64_t)value;
    return true;
}

bool tar_parse_number(const uint8_t *field, size_t len, int64_t *out)
{
    size_t start = 0;
    size_t end = len;
    uint64_t value = 0;
    if (len > 0 && (field[0] & 0x80) != 0)
        return parse_base256(field, len, out);
    while (start < end && (field[start] == ' ' || field[start] == '\0'))
        start++;
    while (end > start && (field[end - 1] == ' ' || field[end - 1] == '\0'))
        end--;
    for (size_t i = start; i < end; i++) {
        if (field[i] < '0' || field[i] > '7')
            return false;
        if (value > (uint64_t)INT64_MAX >> 3)
            return false;
        value = (value << 3) | (uint64_t)(field[i] - '0');
    }
    if (value > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)value;
    return true;
}

bool tar_octal_fits(size_t len, int64_t value)
{
    if (value < 0)
        return false;
    if ((len - 1) * 3 >= 63)
        return true;
    return (uint64_t)value < ((uint64_t)1 << ((len - 1) * 3));
}

void tar_put_octal(uint8_t *field, size_t len, int64_t value)
{
    uint64_t v = tar_octal_fits(len, value) ? (uint64_t)value : 0;
    for (size_t i = len - 1; i > 0; i--) {
        field[i - 1] = (uint8_t)('0' + (v & 7));
        v >>= 3;
    }
    field[len - 1] = '\0';
}

void tar_put_string(uint8_t *field, size_t len, const char *text)
{
    size_t n = strlen(text);
    if (n > len)
        n = len;
    memcpy(field, text, n);
    if (n < len)
        memset(field + n, 0, len - n);
}

void tar_put_checksum(uint8_t *block)
{
    uint64_t sum = tar_checksum_unsigned(block);
    tar_put_octal(block + TAR_OFF_CHKSUM, 7, (int64_t)sum);
    block[TAR_OFF_CHKSUM + 7] = ' ';
}

bool tar_block_is_zero(const uint8_t *block)
{
    for (size_t i = 0; i < 512; i++) {
        if (block[i] != 0)
            return false;
    }
    return true;
}

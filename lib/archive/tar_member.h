/*
 * One tar member as the reader reports it and the writer can re-emit it: the meeting point
 * of tar_reader (bytes -> member events) and tar_writer (members -> bytes). Only the fields
 * our restore and backup paths use are kept; extended-header details (PAX, GNU long names,
 * ustar prefix, base-256 numbers) are already folded in.
 */
#ifndef TAR_MEMBER_H
#define TAR_MEMBER_H

#include <stdbool.h>
#include <stdint.h>

#define TAR_BLOCK_SIZE 512

enum tar_type {
    TAR_TYPE_REGULAR = 0,   /* '0', '\0' (name without trailing '/'), '7' contiguous */
    TAR_TYPE_HARDLINK,      /* '1' */
    TAR_TYPE_SYMLINK,       /* '2' */
    TAR_TYPE_CHAR,          /* '3' */
    TAR_TYPE_BLOCK,         /* '4' */
    TAR_TYPE_DIRECTORY,     /* '5', or '\0' with a name ending in '/' (old V7 style) */
    TAR_TYPE_FIFO,          /* '6' */
    TAR_TYPE_OTHER          /* anything else ('S' sparse, 'V' label, 'D' dumpdir ...) */
};

struct tar_member {
    const char *name;       /* full entry name as stored (PAX path / GNU 'L' / prefix "/" name) */
    const char *linkname;   /* link target for links, "" otherwise */
    const char *uname;      /* "" when absent */
    const char *gname;      /* "" when absent */
    enum tar_type type;
    char typeflag;          /* the raw header byte, for TAR_TYPE_OTHER and passthrough */
    uint32_t mode;          /* mode field & 07777 */
    uint64_t size;          /* bytes of data that follow; 0 for header-only types */
    int64_t mtime;          /* seconds since the epoch */
    uint32_t uid;
    uint32_t gid;
    uint32_t devmajor;
    uint32_t devminor;
    uint64_t header_offset; /* stream offset of the member's first header block (extended
                             * headers included); filled by the reader, ignored by the writer */
};

/* True when a member of this type is followed by data blocks (regular and unknown types);
 * links, directories, devices and fifos are header-only, as in Go's archive/tar. */
bool tar_type_has_data(enum tar_type type);

/* "regular file", "directory", "symbolic link", "hard link", "character device",
 * "block device", "fifo", "special entry"; static storage. */
const char *tar_type_name(enum tar_type type);

#endif

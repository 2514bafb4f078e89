/*
 * The one list of error codes: name, value, process exit status, retryable by default.
 * Included as an X-macro by bk_error.h and bk_error.c; callers test codes, never message text.
 * Exit 74 (EX_IOERR) for "not found" matches WAL-G: PostgreSQL's restore_command treats any
 * status below 126 as "segment not available", so no code here maps to 126 or above.
 */
BK_CODE(BK_OK,           0,   0, false)
BK_CODE(BK_EINVAL,      -1,   2, false) /* bad input: flags, config, names, JSON, tar entries */
BK_CODE(BK_ENOTFOUND,   -2,  74, false) /* object, file or backup does not exist */
BK_CODE(BK_EEXISTS,     -3,   1, false) /* refused to overwrite */
BK_CODE(BK_EAUTH,       -4,   1, false) /* credentials rejected or missing */
BK_CODE(BK_ETHROTTLED,  -5,   1, true)  /* 429, SlowDown, ServerBusy */
BK_CODE(BK_ETIMEOUT,    -6,   1, true)  /* connect or transfer timeout, deadline passed */
BK_CODE(BK_ENET,        -7,   1, true)  /* connection refused, reset, dropped mid-body */
BK_CODE(BK_ESERVER,     -8,   1, true)  /* 5xx */
BK_CODE(BK_EIO,         -9,   1, false) /* local I/O error */
BK_CODE(BK_ENOMEM,     -10,   1, false)
BK_CODE(BK_EUNSUPPORTED,-11,  2, false) /* scheme, codec or feature not available */
BK_CODE(BK_ECORRUPT,   -12,   1, false) /* checksum, size or format mismatch */
BK_CODE(BK_ECONFLICT,  -13,   1, false) /* different content already stored under the name */
BK_CODE(BK_ENOSPC,     -14,   1, false) /* local disk full */
BK_CODE(BK_EPROTO,     -15,   1, false) /* server reply we cannot parse or do not expect */
BK_CODE(BK_EDENIED,    -16,   1, false) /* authorised but forbidden (403) */
BK_CODE(BK_EINTERNAL,  -17,   1, false) /* a bug: an invariant did not hold */

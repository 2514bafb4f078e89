/*
 * Public storage API: one object store behind a URL (s3://bucket/prefix, azure://container/prefix,
 * gs://bucket/prefix, file:///path). Keys given here are relative to the URL's prefix and use
 * '/' separators. Callers never learn which driver they have.
 *
 * Thread safety: one struct storage may be used from many threads at once; a writer sink
 * or a list iterator belongs to one thread.
 */
#ifndef STORAGE_H
#define STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bk_buf.h"
#include "bk_error.h"
#include "bk_http.h"
#include "bk_sink.h"

#define STORAGE_DEFAULT_PART_SIZE (8u * 1024 * 1024)
#define STORAGE_MIN_PART_SIZE (5u * 1024 * 1024)   /* S3's floor; tests may lower it */
#define STORAGE_DEFAULT_PARALLELISM 4

/* Everything a driver may need, filled by storage_config_load (storage_config.h) or by hand.
 * Strings are owned by the struct; free with storage_config_free. Secrets are marked. */
struct storage_config {
    char *scheme;          /* "file", "s3", "azure", "gs" */
    char *bucket;          /* bucket / container; "" for file */
    char *prefix;          /* path inside the bucket (no leading/trailing '/'), or directory for file */

    /* tuning (all drivers) */
    uint64_t part_size_bytes;      /* multipart threshold and part size */
    unsigned parallelism;          /* parts in flight per upload */
    struct bk_http_opts http;      /* timeouts, retries, CA file (http.ca_file points at ca_file) */
    char *ca_file;

    /* S3 */
    char *s3_endpoint;             /* "https://host:port"; NULL = AWS */
    char *s3_region;               /* default "us-east-1" */
    bool s3_force_path_style;
    char *s3_access_key_id;
    char *s3_secret_access_key;    /* secret */
    char *s3_session_token;        /* secret */
    char *s3_role_arn;             /* IRSA: AssumeRoleWithWebIdentity */
    char *s3_web_identity_token_file;
    char *s3_sts_endpoint;         /* default https://sts.<region>.amazonaws.com */
    char *s3_sse;                  /* "AES256" | "aws:kms" | NULL */
    char *s3_sse_kms_key_id;
    char *s3_storage_class;
    bool s3_batch_delete;          /* default true; false = one DELETE per key */

    /* Azure */
    char *az_account;
    char *az_access_key;           /* secret (base64) */
    char *az_sas_token;            /* secret */
    char *az_endpoint;             /* default https://<account>.blob.core.windows.net */

    /* GCS */
    char *gcs_credentials_file;    /* service-account JSON key; NULL = metadata server */
    char *gcs_endpoint;            /* default https://storage.googleapis.com */
    char *gcs_metadata_url;        /* default http://metadata.google.internal */
};

void storage_config_init(struct storage_config *cfg);
void storage_config_free(struct storage_config *cfg);

struct storage_stat {
    uint64_t size;
    int64_t mtime_us;      /* last modified, microseconds since epoch */
    char etag[128];        /* as the server gives it, quotes removed; "" if none */
};

struct storage_entry {
    char *key;             /* relative to the storage root */
    uint64_t size;
    int64_t mtime_us;
    char etag[128];
    bool is_prefix;        /* a "directory" (only in non-recursive listings) */
};

struct storage_put_opts {
    const char *content_type;   /* NULL = application/octet-stream */
};
#define STORAGE_PUT_OPTS_INIT { NULL }

struct storage;

/* Opens the driver named by cfg->scheme. BK_EUNSUPPORTED names the known schemes. */
int storage_open(struct storage **out, const struct storage_config *cfg, struct bk_error *err);
void storage_close(struct storage *st);
/* "s3://bucket/prefix" without credentials; borrowed. */
const char *storage_describe(const struct storage *st);
uint64_t storage_part_size(const struct storage *st);
unsigned storage_parallelism(const struct storage *st);

/* BK_ENOTFOUND when missing. */
int storage_stat(struct storage *st, const char *key, struct storage_stat *out, struct bk_error *err);
int storage_exists(struct storage *st, const char *key, bool *out, struct bk_error *err);

/* Streams the object (or bytes [offset, offset+length); length 0 = to the end) into dst.
 * dst is written to but not finished. A connection dropped mid-body is resumed from the
 * last byte delivered, within the retry budget. BK_ENOTFOUND when missing. */
int storage_get(struct storage *st, const char *key, uint64_t offset, uint64_t length,
                struct bk_sink *dst, struct bk_error *err);
/* Reads a whole (small) object into buf, bounded by buf->max_cap. */
int storage_get_buf(struct storage *st, const char *key, struct bk_buf *buf, struct bk_error *err);

/* Returns a sink: bytes written are uploaded (multipart above the part size, parts in
 * parallel, memory bounded by part size x (parallelism + 1)). bk_sink_finish commits the
 * object; bk_sink_abort discards it (no visible object). bk_sink_free releases the sink and
 * aborts the upload if it was neither finished nor aborted. The caller owns *out. */
int storage_put_stream(struct bk_sink **out, struct storage *st, const char *key,
                       const struct storage_put_opts *opts, struct bk_error *err);
int storage_put_buf(struct storage *st, const char *key, const void *data, size_t len,
                    const struct storage_put_opts *opts, struct bk_error *err);

/* Deleting a missing object succeeds. */
int storage_remove(struct storage *st, const char *key, struct bk_error *err);
/* Deletes keys in batches where the store supports it; missing keys succeed. On failure
 * err names the first key that failed. */
int storage_remove_many(struct storage *st, const char *const *keys, size_t n_keys,
                        struct bk_error *err);

/* Listing, as an iterator over pages: at most one page is held in memory.
 * recursive=false returns the direct children of prefix, sub-folders as is_prefix entries.
 * Order: lexicographic by key within the store's own order (S3/Azure/GCS: byte order). */
struct storage_list;
int storage_list_new(struct storage_list **out, struct storage *st, const char *prefix,
                     bool recursive, struct bk_error *err);
/* Returns 1 and sets *entry (borrowed until the next call), 0 at the end, or an error. */
int storage_list_next(struct storage_list *it, const struct storage_entry **entry,
                      struct bk_error *err);
void storage_list_free(struct storage_list *it);

#endif

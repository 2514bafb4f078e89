/*
 * The driver interface: one versioned table of function pointers per driver, one entry file
 * per driver (storage/<name>/<name>.c). Only drivers and storage.c include this header.
 *
 * Keys passed to drivers are full object names (the URL prefix already joined); list results
 * must be full object names too - the front end strips the prefix.
 * Errors: fill err (op, object = key, http_status, server_code, message) and return a code.
 * BK_ENOTFOUND must be returned for missing objects by stat and get.
 */
#ifndef STORAGE_DRIVER_H
#define STORAGE_DRIVER_H

#include "storage.h"

#define STORAGE_DRIVER_VERSION 1

enum storage_feature {
    STORAGE_FEAT_PARALLEL_PARTS = 1u << 0,   /* upload_part may run concurrently */
    STORAGE_FEAT_BATCH_DELETE   = 1u << 1,   /* remove_many is implemented */
};

/* A driver instance; drivers embed it as the first member of their own struct. */
struct storage_driver {
    const struct storage_driver_ops *ops;
};

/* An upload in progress; drivers embed it first in their own struct. */
struct storage_upload {
    struct storage_driver *drv;
};

struct storage_list_page {
    struct storage_entry *entries;   /* keys are full object names */
    size_t len;
    size_t cap;
    char *next_token;                /* NULL when this was the last page */
};

/* Appends one entry (copies key). */
int storage_list_page_add(struct storage_list_page *page, const char *key, uint64_t size,
                          int64_t mtime_us, const char *etag, bool is_prefix, struct bk_error *err);
int storage_list_page_set_token(struct storage_list_page *page, const char *token,
                                struct bk_error *err);
void storage_list_page_clear(struct storage_list_page *page);

struct storage_driver_ops {
    unsigned version;              /* STORAGE_DRIVER_VERSION */
    const char *scheme;            /* "file", "s3", "azure", "gs" */
    uint32_t features;             /* enum storage_feature bits */

    int (*open)(struct storage_driver **out, const struct storage_config *cfg,
                struct bk_error *err);
    void (*close)(struct storage_driver *drv);                 /* NULL-safe */

    int (*stat)(struct storage_driver *drv, const char *key, struct storage_stat *out,
                struct bk_error *err);
    /* One page of keys starting with prefix. delimiter NULL = recursive; "/" = direct
     * children, sub-folders as is_prefix entries ending in '/'. token NULL = first page. */
    int (*list_page)(struct storage_driver *drv, const char *prefix, const char *delimiter,
                     const char *token, struct storage_list_page *page, struct bk_error *err);
    /* Streams bytes [offset, offset+length) (length 0 = to the end) into dst; *delivered
     * counts bytes handed to dst, also on failure, so the front end can resume. */
    int (*get)(struct storage_driver *drv, const char *key, uint64_t offset, uint64_t length,
               struct bk_sink *dst, uint64_t *delivered, struct bk_error *err);

    /* Whole object in one request (len <= part size). */
    int (*put_single)(struct storage_driver *drv, const char *key, const void *data, size_t len,
                      const struct storage_put_opts *opts, struct bk_error *err);
    /* Multipart: begin, parts numbered from 1 (all but the last exactly part size; the part
     * flagged is_last is sent after every other part returned), complete, abort.
     * complete frees the upload on success only; abort always frees it and cannot fail. */
    int (*upload_begin)(struct storage_driver *drv, const char *key,
                        const struct storage_put_opts *opts, struct storage_upload **out,
                        struct bk_error *err);
    int (*upload_part)(struct storage_upload *up, unsigned part_no, const void *data, size_t len,
                       bool is_last, struct bk_error *err);
    int (*upload_complete)(struct storage_upload *up, struct bk_error *err);
    void (*upload_abort)(struct storage_upload *up);

    /* Missing keys succeed. */
    int (*remove)(struct storage_driver *drv, const char *key, struct bk_error *err);
    /* Optional (STORAGE_FEAT_BATCH_DELETE); n_keys <= 1000. */
    int (*remove_many)(struct storage_driver *drv, const char *const *keys, size_t n_keys,
                       struct bk_error *err);
};

/* Driver tables, defined in storage/<name>/<name>.c. */
extern const struct storage_driver_ops storage_local_ops;
extern const struct storage_driver_ops storage_s3_ops;
extern const struct storage_driver_ops storage_azure_ops;
extern const struct storage_driver_ops storage_gcs_ops;

#endif

/*
 * Builds a storage_config from a URL and/or WAL-G's environment variables
 * (WALG_S3_PREFIX, WALE_S3_PREFIX, WALG_AZ_PREFIX, WALG_GS_PREFIX, WALE_GS_PREFIX,
 * WALG_FILE_PREFIX, AWS_*, AZURE_STORAGE_*, GOOGLE_APPLICATION_CREDENTIALS, and our own
 * BACKUP_* tuning variables). The environment is read through the lookup function the
 * program passes in (getenv in main, a table in tests): nothing below layer 4 calls getenv.
 */
#ifndef STORAGE_CONFIG_H
#define STORAGE_CONFIG_H

#include "storage.h"

typedef const char *(*storage_env_lookup)(const char *name);

/* url may be NULL: then the WAL-G prefix variables pick the store (exactly one must be set).
 * Returns BK_EINVAL naming the bad variable or URL part. cfg must be initialised. */
int storage_config_load(struct storage_config *cfg, const char *url, storage_env_lookup env,
                        struct bk_error *err);

/* Parses just the URL into scheme/bucket/prefix. */
int storage_config_parse_url(struct storage_config *cfg, const char *url, struct bk_error *err);

#endif

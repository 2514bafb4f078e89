/*
 * URL and environment parsing for storage_config. The program passes the environment in
 * (storage_env_lookup), so tests can feed a table and nothing below main calls getenv.
 * Variable names follow WAL-G where WAL-G has one, so we drop in where Spilo configures WAL-G.
 */
#include "storage_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bk_str.h"

void storage_config_init(struct storage_config *cfg)
{
    struct bk_http_opts http = BK_HTTP_OPTS_INIT;
    memset(cfg, 0, sizeof(*cfg));
    cfg->part_size_bytes = STORAGE_DEFAULT_PART_SIZE;
    cfg->parallelism = STORAGE_DEFAULT_PARALLELISM;
    cfg->http = http;
    cfg->s3_batch_delete = true;
}

void storage_config_free(struct storage_config *cfg)
{
    if (cfg == NULL)
        return;
    char **plain[] = { &cfg->scheme, &cfg->bucket, &cfg->prefix, &cfg->ca_file, &cfg->s3_endpoint,
                       &cfg->s3_region, &cfg->s3_access_key_id, &cfg->s3_role_arn,
                       &cfg->s3_web_identity_token_file, &cfg->s3_sts_endpoint, &cfg->s3_sse,
                       &cfg->s3_sse_kms_key_id, &cfg->s3_storage_class, &cfg->az_account,
                       &cfg->az_endpoint, &cfg->gcs_credentials_file, &cfg->gcs_endpoint,
                       &cfg->gcs_metadata_url };
    char **secret[] = { &cfg->s3_secret_access_key, &cfg->s3_session_token, &cfg->az_access_key,
                        &cfg->az_sas_token };
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        free(*plain[i]);
        *plain[i] = NULL;
    }
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        bk_secret_free(*secret[i]);
        *secret[i] = NULL;
    }
}

static int set_str(char **field, const char *value, struct bk_error *err)
{
    char *copy = NULL;
    int rc = bk_strdup(&copy, value, err);
    if (rc != BK_OK)
        return rc;
    free(*field);
    *field = copy;
    return BK_OK;
}

static int set_secret(char **field, const char *value, struct bk_error *err)
{
    char *copy = NULL;
    int rc = bk_strdup(&copy, value, err);
    if (rc != BK_OK)
        return rc;
    bk_secret_free(*field);
    *field = copy;
    return BK_OK;
}

int storage_config_parse_url(struct storage_config *cfg, const char *url, struct bk_error *err)
{
    static const char *schemes[] = { "s3", "azure", "gs", "file" };
    const char *sep = strstr(url, "://");
    const char *rest;
    char scheme[16];
    size_t scheme_len;
    int rc;

    if (sep == NULL) {
        /* WAL-G's WALG_FILE_PREFIX is a bare directory path */
        if (url[0] == '/') {
            int rc_file = set_str(&cfg->scheme, "file", err);
            if (rc_file == BK_OK)
                rc_file = set_str(&cfg->bucket, "", err);
            if (rc_file == BK_OK)
                rc_file = set_str(&cfg->prefix, url, err);
            return rc_file;
        }
        return bk_error_set(err, BK_EINVAL, "storage_url", url,
                            "storage URL \"%s\" has no scheme (use s3://, azure://, gs:// or file:///)", url);
    }
    scheme_len = (size_t)(sep - url);
    if (scheme_len == 0 || scheme_len >= sizeof(scheme))
        return bk_error_set(err, BK_EINVAL, "storage_url", url, "storage URL \"%s\" has a bad scheme", url);
    memcpy(scheme, url, scheme_len);
    scheme[scheme_len] = '\0';
    for (char *c = scheme; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    if (strcmp(scheme, "az") == 0 || strcmp(scheme, "wasb") == 0)
        snprintf(scheme, sizeof(scheme), "azure");
    if (strcmp(scheme, "gcs") == 0)
        snprintf(scheme, sizeof(scheme), "gs");
    rc = BK_EUNSUPPORTED;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strcmp(scheme, schemes[i]) == 0)
            rc = BK_OK;
    if (rc != BK_OK)
        return bk_error_set(err, BK_EUNSUPPORTED, "storage_url", url,
                            "unknown storage scheme \"%s\" in \"%s\" (known: s3, azure, gs, file)", scheme, url);
    if ((rc = set_str(&cfg->scheme, scheme, err)) != BK_OK)
        return rc;
    rest = sep + 3;
    if (strcmp(scheme, "file") == 0) {
        size_t len = strlen(rest);
        if (rest[0] != '/')
            return bk_error_set(err, BK_EINVAL, "storage_url", url,
                                "file URL \"%s\" must name an absolute path (file:///path)", url);
        while (len > 1 && rest[len - 1] == '/')
            len--;
        free(cfg->prefix);
        cfg->prefix = strndup(rest, len);
        if (cfg->prefix == NULL)
            return bk_error_set(err, BK_ENOMEM, "storage_url", url, "out of memory");
        return set_str(&cfg->bucket, "", err);
    }
    {
        size_t bucket_len = strcspn(rest, "/");
        const char *path = rest + bucket_len;
        size_t path_len;
        if (bucket_len == 0)
            return bk_error_set(err, BK_EINVAL, "storage_url", url, "storage URL \"%s\" has no bucket or container", url);
        if (strchr(url, '?') != NULL || strchr(url, '#') != NULL)
            return bk_error_set(err, BK_EINVAL, "storage_url", NULL,
                                "storage URL must not carry a query string (credentials belong in variables)");
        free(cfg->bucket);
        cfg->bucket = strndup(rest, bucket_len);
        while (*path == '/')
            path++;
        path_len = strlen(path);
        while (path_len > 0 && path[path_len - 1] == '/')
            path_len--;
        free(cfg->prefix);
        cfg->prefix = strndup(path, path_len);
        if (cfg->bucket == NULL || cfg->prefix == NULL)
            return bk_error_set(err, BK_ENOMEM, "storage_url", url, "out of memory");
        if (strstr(cfg->prefix, "//") != NULL)
            return bk_error_set(err, BK_EINVAL, "storage_url", url, "storage URL \"%s\" has an empty path component", url);
    }
    return BK_OK;
}

static const char *env_get(storage_env_lookup env, const char *name)
{
    const char *v = env(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* WAL-E style endpoints: "https+path://host:port" -> https://host:port, path style */
static int parse_s3_endpoint(struct storage_config *cfg, const char *value, struct bk_error *err)
{
    const char *plus = strchr(value, '+');
    const char *sep = strstr(value, "://");
    if (plus != NULL && sep != NULL && plus < sep) {
        char buf[1024];
        const char *convention = plus + 1;
        if (strncmp(convention, "path", 4) == 0)
            cfg->s3_force_path_style = true;
        else if (strncmp(convention, "virtualhost", 11) == 0)
            cfg->s3_force_path_style = false;
        else
            return bk_error_set(err, BK_EINVAL, "storage_config", "AWS_ENDPOINT",
                                "endpoint \"%s\" has an unknown addressing convention", value);
        snprintf(buf, sizeof(buf), "%.*s%s", (int)(plus - value), value, sep);
        return set_str(&cfg->s3_endpoint, buf, err);
    }
    if (sep == NULL)
        return bk_error_set(err, BK_EINVAL, "storage_config", "AWS_ENDPOINT",
                            "endpoint \"%s\" must start with http:// or https://", value);
    return set_str(&cfg->s3_endpoint, value, err);
}

static int load_number(storage_env_lookup env, const char *name, int64_t min, int64_t max,
                       int64_t *out, bool *found, struct bk_error *err)
{
    const char *v = env_get(env, name);
    *found = v != NULL;
    if (v == NULL)
        return BK_OK;
    return bk_parse_int64(v, min, max, name, out, err);
}

static int load_tuning(struct storage_config *cfg, storage_env_lookup env, struct bk_error *err)
{
    const char *v;
    int64_t n;
    bool found;
    int rc;
    if ((v = env_get(env, "BACKUP_PART_SIZE")) != NULL) {
        uint64_t size;
        if ((rc = bk_parse_size(v, "BACKUP_PART_SIZE", &size, err)) != BK_OK)
            return rc;
        if (size < 1024 || size > 5ULL * 1024 * 1024 * 1024)
            return bk_error_set(err, BK_EINVAL, "storage_config", "BACKUP_PART_SIZE",
                                "BACKUP_PART_SIZE must be between 1KiB and 5GiB");
        cfg->part_size_bytes = size;
    }
    const char *conc_names[] = { "BACKUP_UPLOAD_CONCURRENCY", "WALG_UPLOAD_CONCURRENCY" };
    for (size_t i = 0; i < 2; i++) {
        if ((rc = load_number(env, conc_names[i], 1, 64, &n, &found, err)) != BK_OK)
            return rc;
        if (found) {
            cfg->parallelism = (unsigned)n;
            break;
        }
    }
    if ((rc = load_number(env, "BACKUP_HTTP_RETRIES", 0, 100, &n, &found, err)) != BK_OK)
        return rc;
    if (found)
        cfg->http.max_attempts = (int)n + 1;
    if ((rc = load_number(env, "BACKUP_HTTP_CONNECT_TIMEOUT_MS", 1, 600000, &n, &found, err)) != BK_OK)
        return rc;
    if (found)
        cfg->http.connect_timeout_ms = (long)n;
    if ((rc = load_number(env, "BACKUP_HTTP_STALL_TIMEOUT_S", 1, 3600, &n, &found, err)) != BK_OK)
        return rc;
    if (found)
        cfg->http.stall_timeout_s = (long)n;
    if ((rc = load_number(env, "BACKUP_HTTP_REQUEST_TIMEOUT_MS", 0, 86400000, &n, &found, err)) != BK_OK)
        return rc;
    if (found)
        cfg->http.request_timeout_ms = (long)n;
    if ((rc = load_number(env, "BACKUP_HTTP_BACKOFF_BASE_MS", 0, 600000, &n, &found, err)) != BK_OK)
        return rc;
    if (found)
        cfg->http.backoff_base_ms = (long)n;
    if ((rc = load_number(env, "BACKUP_HTTP_BACKOFF_MAX_MS", 0, 600000, &n, &found, err)) != BK_OK)
        return rc;
    if (found)
        cfg->http.backoff_max_ms = (long)n;
    if ((rc = load_number(env, "BACKUP_HTTP_DEADLINE_MS", 0, 86400000, &n, &found, err)) != BK_OK)
        return rc;
    if (found)
        cfg->http.deadline_ms = (long)n;
    if ((v = env_get(env, "BACKUP_CA_FILE")) != NULL || (v = env_get(env, "WALG_S3_CA_CERT_FILE")) != NULL) {
        if ((rc = set_str(&cfg->ca_file, v, err)) != BK_OK)
            return rc;
    }
    cfg->http.ca_file = cfg->ca_file;
    return BK_OK;
}

static int load_s3(struct storage_config *cfg, storage_env_lookup env, struct bk_error *err)
{
    const char *v;
    int rc = BK_OK;
    if ((v = env_get(env, "AWS_ENDPOINT")) != NULL || (v = env_get(env, "WALE_S3_ENDPOINT")) != NULL)
        if ((rc = parse_s3_endpoint(cfg, v, err)) != BK_OK)
            return rc;
    v = env_get(env, "AWS_REGION");
    if (v == NULL)
        v = env_get(env, "AWS_DEFAULT_REGION");
    if ((rc = set_str(&cfg->s3_region, v != NULL ? v : "us-east-1", err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "AWS_S3_FORCE_PATH_STYLE")) != NULL &&
        (rc = bk_parse_bool(v, "AWS_S3_FORCE_PATH_STYLE", &cfg->s3_force_path_style, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "AWS_ACCESS_KEY_ID")) != NULL && (rc = set_str(&cfg->s3_access_key_id, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "AWS_SECRET_ACCESS_KEY")) != NULL && (rc = set_secret(&cfg->s3_secret_access_key, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "AWS_SESSION_TOKEN")) != NULL && (rc = set_secret(&cfg->s3_session_token, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "AWS_ROLE_ARN")) != NULL && (rc = set_str(&cfg->s3_role_arn, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "AWS_WEB_IDENTITY_TOKEN_FILE")) != NULL && (rc = set_str(&cfg->s3_web_identity_token_file, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "AWS_STS_ENDPOINT")) != NULL && (rc = set_str(&cfg->s3_sts_endpoint, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "WALG_S3_SSE")) != NULL && (rc = set_str(&cfg->s3_sse, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "WALG_S3_SSE_KMS_ID")) != NULL && (rc = set_str(&cfg->s3_sse_kms_key_id, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "WALG_S3_STORAGE_CLASS")) != NULL && (rc = set_str(&cfg->s3_storage_class, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "BACKUP_S3_BATCH_DELETE")) != NULL &&
        (rc = bk_parse_bool(v, "BACKUP_S3_BATCH_DELETE", &cfg->s3_batch_delete, err)) != BK_OK)
        return rc;
    if ((cfg->s3_role_arn == NULL) != (cfg->s3_web_identity_token_file == NULL))
        return bk_error_set(err, BK_EINVAL, "storage_config", "AWS_ROLE_ARN",
                            "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE must be set together");
    if ((cfg->s3_access_key_id == NULL) != (cfg->s3_secret_access_key == NULL))
        return bk_error_set(err, BK_EINVAL, "storage_config", "AWS_ACCESS_KEY_ID",
                            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    return BK_OK;
}

static int load_azure(struct storage_config *cfg, storage_env_lookup env, struct bk_error *err)
{
    const char *v;
    int rc;
    if ((v = env_get(env, "AZURE_STORAGE_ACCOUNT")) == NULL)
        return bk_error_set(err, BK_EINVAL, "storage_config", "AZURE_STORAGE_ACCOUNT",
                            "AZURE_STORAGE_ACCOUNT is not set");
    if ((rc = set_str(&cfg->az_account, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "AZURE_STORAGE_ACCESS_KEY")) != NULL && (rc = set_secret(&cfg->az_access_key, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "AZURE_STORAGE_SAS_TOKEN")) != NULL && (rc = set_secret(&cfg->az_sas_token, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "AZURE_STORAGE_ENDPOINT")) != NULL) {
        if ((rc = set_str(&cfg->az_endpoint, v, err)) != BK_OK)
            return rc;
    } else if ((v = env_get(env, "AZURE_ENDPOINT_SUFFIX")) != NULL) {
        char buf[512];
        snprintf(buf, sizeof(buf), "https://%s.blob.%s", cfg->az_account, v);
        if ((rc = set_str(&cfg->az_endpoint, buf, err)) != BK_OK)
            return rc;
    }
    if (cfg->az_access_key == NULL && cfg->az_sas_token == NULL)
        return bk_error_set(err, BK_EINVAL, "storage_config", "AZURE_STORAGE_ACCESS_KEY",
                            "set AZURE_STORAGE_ACCESS_KEY or AZURE_STORAGE_SAS_TOKEN");
    return BK_OK;
}

static int load_gcs(struct storage_config *cfg, storage_env_lookup env, struct bk_error *err)
{
    const char *v;
    int rc;
    if ((v = env_get(env, "GOOGLE_APPLICATION_CREDENTIALS")) != NULL && (rc = set_str(&cfg->gcs_credentials_file, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "GCS_ENDPOINT")) != NULL && (rc = set_str(&cfg->gcs_endpoint, v, err)) != BK_OK)
        return rc;
    if ((v = env_get(env, "GCE_METADATA_HOST")) != NULL) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%s%s", strstr(v, "://") ? "" : "http://", v);
        if ((rc = set_str(&cfg->gcs_metadata_url, buf, err)) != BK_OK)
            return rc;
    }
    return BK_OK;
}

int storage_config_load(struct storage_config *cfg, const char *url, storage_env_lookup env,
                        struct bk_error *err)
{
    static const char *prefix_vars[] = { "WALG_S3_PREFIX", "WALE_S3_PREFIX", "WALG_AZ_PREFIX",
                                         "WALG_GS_PREFIX", "WALE_GS_PREFIX", "WALG_FILE_PREFIX" };
    int rc;
    if (url == NULL) {
        const char *found_name = NULL;
        const char *found = NULL;
        for (size_t i = 0; i < sizeof(prefix_vars) / sizeof(prefix_vars[0]); i++) {
            const char *v = env_get(env, prefix_vars[i]);
            if (v == NULL)
                continue;
            /* WALG_ and WALE_ forms of the same store may both be set (Spilo does) */
            if (found != NULL && !(strcmp(found, v) == 0))
                return bk_error_set(err, BK_EINVAL, "storage_config", prefix_vars[i],
                                    "both %s and %s are set; set exactly one storage prefix",
                                    found_name, prefix_vars[i]);
            found = v;
            found_name = prefix_vars[i];
        }
        if (found == NULL)
            return bk_error_set(err, BK_EINVAL, "storage_config", NULL,
                                "no storage configured: pass a URL or set WALG_S3_PREFIX, WALG_AZ_PREFIX, WALG_GS_PREFIX or WALG_FILE_PREFIX");
        url = found;
        if (strcmp(found_name, "WALG_AZ_PREFIX") == 0 && strncmp(url, "azure://", 8) != 0)
            return bk_error_set(err, BK_EINVAL, "storage_config", found_name,
                                "WALG_AZ_PREFIX must start with azure://");
    }
    if ((rc = storage_config_parse_url(cfg, url, err)) != BK_OK)
        return rc;
    if ((rc = load_tuning(cfg, env, err)) != BK_OK)
        return rc;
    if (strcmp(cfg->scheme, "s3") == 0)
        return load_s3(cfg, env, err);
    if (strcmp(cfg->scheme, "azure") == 0)
        return load_azure(cfg, env, err);
    if (strcmp(cfg->scheme, "gs") == 0)
        return load_gcs(cfg, env, err);
    return BK_OK;
}

/*
 * The driver registry: a fixed, NULL-terminated list, no self-registration. Driver tables are
 * declared weak so that a build without a driver still links and says "<x> support not built".
 */
#include "storage_registry.h"

#include <string.h>

extern const struct storage_driver_ops storage_local_ops __attribute__((weak));
extern const struct storage_driver_ops storage_s3_ops __attribute__((weak));
extern const struct storage_driver_ops storage_azure_ops __attribute__((weak));
extern const struct storage_driver_ops storage_gcs_ops __attribute__((weak));

struct registry_slot {
    const char *scheme;
    const struct storage_driver_ops *ops;
};

int storage_registry_find(const struct storage_driver_ops **out, const char *scheme,
                          struct bk_error *err)
{
    const struct registry_slot slots[] = {
        { "file", &storage_local_ops },
        { "s3", &storage_s3_ops },
        { "azure", &storage_azure_ops },
        { "gs", &storage_gcs_ops },
        { NULL, NULL },
    };
    for (const struct registry_slot *s = slots; s->scheme != NULL; s++) {
        if (strcmp(s->scheme, scheme) != 0)
            continue;
        if (s->ops == NULL)
            return bk_error_set(err, BK_EUNSUPPORTED, "storage_open", NULL,
                                "%s support not built", scheme);
        if (s->ops->version != STORAGE_DRIVER_VERSION || s->ops->open == NULL ||
            s->ops->stat == NULL || s->ops->list_page == NULL || s->ops->get == NULL ||
            s->ops->put_single == NULL || s->ops->upload_begin == NULL ||
            s->ops->upload_part == NULL || s->ops->upload_complete == NULL ||
            s->ops->upload_abort == NULL || s->ops->remove == NULL)
            return bk_error_set(err, BK_EINTERNAL, "storage_open", NULL,
                                "driver \"%s\" has version %u or lacks a required operation",
                                scheme, s->ops->version);
        *out = s->ops;
        return BK_OK;
    }
    return bk_error_set(err, BK_EUNSUPPORTED, "storage_open", NULL,
                        "unknown storage scheme \"%s\" (known: file, s3, azure, gs)", scheme);
}

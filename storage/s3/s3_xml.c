/*
 * Reads the XML replies of S3 and STS with libxml2 (ListObjectsV2, errors, multipart
 * initiate, DeleteObjects results, AssumeRoleWithWebIdentity) and escapes text for the
 * bodies we send. Elements are matched by local name, so namespaces do not matter.
 * Parsing never touches the network and never expands entities (no XXE).
 */
#include "s3_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "bk_str.h"
#include "bk_time.h"

#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

static xmlDocPtr xml_read(const char *body, size_t len)
{
    pthread_once(&xml_once, xml_init);
    if (body == NULL || len == 0 || len > (size_t)0x7fffffff)
        return NULL;
    return xmlReadMemory(body, (int)len, "s3.xml", NULL, XML_OPTS);
}

static bool xml_is(const xmlNode *node, const char *name)
{
    return node != NULL && node->type == XML_ELEMENT_NODE &&
           strcmp((const char *)node->name, name) == 0;
}

static xmlNode *xml_child(const xmlNode *parent, const char *name)
{
    for (xmlNode *c = parent != NULL ? parent->children : NULL; c != NULL; c = c->next)
        if (xml_is(c, name))
            return c;
    return NULL;
}

/* Text of a child element, trimmed of surrounding whitespace, into a fixed buffer.
 * Returns false when the element is missing. */
static bool xml_child_text(const xmlNode *parent, const char *name, char *out, size_t out_cap)
{
    xmlNode *c = xml_child(parent, name);
    xmlChar *text;
    const char *s;
    size_t n;
    if (out_cap > 0)
        out[0] = '\0';
    if (c == NULL)
        return false;
    text = xmlNodeGetContent(c);
    if (text == NULL)
        return true;
    s = (const char *)text;
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
        n--;
    if (out_cap > 0)
        snprintf(out, out_cap, "%.*s", (int)n, s);
    xmlFree(text);
    return true;
}

/* Same, allocated (caller frees); keys may be up to 1024 bytes and tokens longer. */
static int xml_child_strdup(const xmlNode *parent, const char *name, char **out, bool keep_space,
                            struct bk_error *err)
{
    xmlNode *c = xml_child(parent, name);
    xmlChar *text;
    const char *s;
    size_t n;
    *out = NULL;
    if (c == NULL)
        return BK_OK;
    text = xmlNodeGetContent(c);
    s = text != NULL ? (const char *)text : "";
    n = strlen(s);
    if (!keep_space) {
        while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') {
            s++;
            n--;
        }
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
            n--;
    }
    *out = strndup(s, n);
    if (text != NULL)
        xmlFree(text);
    if (*out == NULL)
        return bk_error_set(err, BK_ENOMEM, "s3_xml", NULL, "out of memory");
    return BK_OK;
}

bool s3_xml_parse_error(const char *body, size_t len, char *code, size_t code_cap, char *message,
                        size_t message_cap)
{
    xmlDocPtr doc;
    xmlNode *root, *error = NULL;
    bool found = false;
    if (code_cap > 0)
        code[0] = '\0';
    if (message_cap > 0)
        message[0] = '\0';
    doc = xml_read(body, len);
    if (doc == NULL)
        return false;
    root = xmlDocGetRootElement(doc);
    if (xml_is(root, "Error"))
        error = root;
    else if (xml_is(root, "ErrorResponse"))
        error = xml_child(root, "Error");
    if (error != NULL) {
        found = xml_child_text(error, "Code", code, code_cap) && code_cap > 0 && code[0] != '\0';
        xml_child_text(error, "Message", message, message_cap);
    }
    xmlFreeDoc(doc);
    return found;
}

struct list_item {
    char *key;
    uint64_t size;
    int64_t mtime_us;
    char etag[128];
    bool is_prefix;
};

static int list_item_cmp(const void *a, const void *b)
{
    return strcmp(((const struct list_item *)a)->key, ((const struct list_item *)b)->key);
}

int s3_xml_parse_list(const char *body, size_t len, struct storage_list_page *page,
                      struct bk_error *err)
{
    xmlDocPtr doc = xml_read(body, len);
    xmlNode *root;
    struct list_item *items = NULL;
    size_t n = 0, cap = 0;
    char truncated[16];
    char *token = NULL;
    int rc = BK_OK;

    if (doc == NULL)
        return bk_error_set(err, BK_EPROTO, "s3_list_objects", NULL, "list reply is not XML");
    root = xmlDocGetRootElement(doc);
    if (!xml_is(root, "ListBucketResult")) {
        rc = bk_error_set(err, BK_EPROTO, "s3_list_objects", NULL,
                          "list reply has root <%s>, expected <ListBucketResult>",
                          root != NULL ? (const char *)root->name : "");
        goto out;
    }
    for (xmlNode *c = root->children; c != NULL; c = c->next) {
        bool is_prefix = xml_is(c, "CommonPrefixes");
        char num[32];
        char date[64];
        if (!is_prefix && !xml_is(c, "Contents"))
            continue;
        if (n == cap) {
            size_t new_cap = cap == 0 ? 64 : cap * 2;
            struct list_item *grown = realloc(items, new_cap * sizeof(*grown));
            if (grown == NULL) {
                rc = bk_error_set(err, BK_ENOMEM, "s3_list_objects", NULL, "out of memory");
                goto out;
            }
            items = grown;
            cap = new_cap;
        }
        memset(&items[n], 0, sizeof(items[n]));
        n++;
        /* keys keep their spaces: "a " and "a" are different objects */
        if ((rc = xml_child_strdup(c, is_prefix ? "Prefix" : "Key", &items[n - 1].key, true, err)) != BK_OK)
            goto out;
        if (items[n - 1].key == NULL) {
            rc = bk_error_set(err, BK_EPROTO, "s3_list_objects", NULL, "list entry without <%s>",
                              is_prefix ? "Prefix" : "Key");
            goto out;
        }
        items[n - 1].is_prefix = is_prefix;
        if (is_prefix)
            continue;
        if (xml_child_text(c, "Size", num, sizeof(num))) {
            int64_t size = 0;
            if ((rc = bk_parse_int64(num, 0, INT64_MAX, "Size", &size, err)) != BK_OK) {
                rc = bk_error_set(err, BK_EPROTO, "s3_list_objects", items[n - 1].key,
                                  "list entry has a bad <Size> \"%s\"", num);
                goto out;
            }
            items[n - 1].size = (uint64_t)size;
        }
        if (xml_child_text(c, "LastModified", date, sizeof(date)) && date[0] != '\0' &&
            bk_time_parse_rfc3339(date, &items[n - 1].mtime_us, err) != BK_OK) {
            rc = bk_error_set(err, BK_EPROTO, "s3_list_objects", items[n - 1].key,
                              "list entry has a bad <LastModified> \"%s\"", date);
            goto out;
        }
        xml_child_text(c, "ETag", items[n - 1].etag, sizeof(items[n - 1].etag));
    }
    /* S3 orders Contents and CommonPrefixes each by key; one page is one sorted list */
    if (n > 1)
        qsort(items, n, sizeof(*items), list_item_cmp);
    for (size_t i = 0; i < n; i++) {
        rc = storage_list_page_add(page, items[i].key, items[i].size, items[i].mtime_us,
                                   items[i].etag, items[i].is_prefix, err);
        if (rc != BK_OK)
            goto out;
    }
    xml_child_text(root, "IsTruncated", truncated, sizeof(truncated));
    if (strcmp(truncated, "true") == 0) {
        if ((rc = xml_child_strdup(root, "NextContinuationToken", &token, false, err)) != BK_OK)
            goto out;
        if (token == NULL || token[0] == '\0') {
            rc = bk_error_set(err, BK_EPROTO, "s3_list_objects", NULL,
                              "list reply is truncated but has no <NextContinuationToken>");
            goto out;
        }
        rc = storage_list_page_set_token(page, token, err);
    } else {
        rc = storage_list_page_set_token(page, NULL, err);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(items[i].key);
    free(items);
    free(token);
    xmlFreeDoc(doc);
    return rc;
}

int s3_xml_parse_upload_id(const char *body, size_t len, char **upload_id, struct bk_error *err)
{
    xmlDocPtr doc = xml_read(body, len);
    xmlNode *root;
    int rc = BK_OK;
    *upload_id = NULL;
    if (doc == NULL)
        return bk_error_set(err, BK_EPROTO, "s3_create_multipart_upload", NULL, "reply is not XML");
    root = xmlDocGetRootElement(doc);
    if (xml_is(root, "InitiateMultipartUploadResult"))
        rc = xml_child_strdup(root, "UploadId", upload_id, false, err);
    if (rc == BK_OK && (*upload_id == NULL || (*upload_id)[0] == '\0')) {
        free(*upload_id);
        *upload_id = NULL;
        rc = bk_error_set(err, BK_EPROTO, "s3_create_multipart_upload", NULL,
                          "reply has no <InitiateMultipartUploadResult><UploadId>");
    }
    xmlFreeDoc(doc);
    return rc;
}

int s3_xml_parse_delete_result(const char *body, size_t len, struct s3_delete_failure *out,
                               struct bk_error *err)
{
    xmlDocPtr doc = xml_read(body, len);
    xmlNode *root;
    int rc = BK_OK;
    memset(out, 0, sizeof(*out));
    if (doc == NULL)
        return bk_error_set(err, BK_EPROTO, "s3_delete_objects", NULL, "reply is not XML");
    root = xmlDocGetRootElement(doc);
    if (!xml_is(root, "DeleteResult")) {
        rc = bk_error_set(err, BK_EPROTO, "s3_delete_objects", NULL,
                          "reply has root <%s>, expected <DeleteResult>",
                          root != NULL ? (const char *)root->name : "");
        goto out;
    }
    for (xmlNode *c = root->children; c != NULL; c = c->next) {
        if (xml_is(c, "Deleted")) {
            out->n_deleted++;
        } else if (xml_is(c, "Error")) {
            if (out->n_errors == 0) {
                xml_child_text(c, "Key", out->key, sizeof(out->key));
                xml_child_text(c, "Code", out->code, sizeof(out->code));
                xml_child_text(c, "Message", out->message, sizeof(out->message));
            }
            out->n_errors++;
        }
    }
out:
    xmlFreeDoc(doc);
    return rc;
}

int s3_xml_parse_sts_creds(const char *body, size_t len, struct s3_creds *out, struct bk_error *err)
{
    xmlDocPtr doc = xml_read(body, len);
    xmlNode *root, *result, *creds;
    char expiration[64];
    int rc = BK_OK;
    memset(out, 0, sizeof(*out));
    if (doc == NULL)
        return bk_error_set(err, BK_EPROTO, "s3_sts_assume_role", NULL, "STS reply is not XML");
    root = xmlDocGetRootElement(doc);
    result = xml_child(root, "AssumeRoleWithWebIdentityResult");
    creds = xml_child(result, "Credentials");
    if (!xml_is(root, "AssumeRoleWithWebIdentityResponse") || creds == NULL) {
        rc = bk_error_set(err, BK_EPROTO, "s3_sts_assume_role", NULL,
                          "STS reply has no <AssumeRoleWithWebIdentityResult><Credentials>");
        goto out;
    }
    if ((rc = xml_child_strdup(creds, "AccessKeyId", &out->access_key_id, false, err)) != BK_OK ||
        (rc = xml_child_strdup(creds, "SecretAccessKey", &out->secret_access_key, false, err)) != BK_OK ||
        (rc = xml_child_strdup(creds, "SessionToken", &out->session_token, false, err)) != BK_OK)
        goto out;
    if (out->access_key_id == NULL || out->secret_access_key == NULL || out->session_token == NULL ||
        !xml_child_text(creds, "Expiration", expiration, sizeof(expiration))) {
        rc = bk_error_set(err, BK_EPROTO, "s3_sts_assume_role", NULL,
                          "STS credentials lack AccessKeyId, SecretAccessKey, SessionToken or Expiration");
        goto out;
    }
    if (bk_time_parse_rfc3339(expiration, &out->expires_us, err) != BK_OK) {
        rc = bk_error_set(err, BK_EPROTO, "s3_sts_assume_role", NULL,
                          "STS credentials have a bad <Expiration> \"%s\"", expiration);
        goto out;
    }
out:
    if (rc != BK_OK)
        s3_creds_clear(out);
    xmlFreeDoc(doc);
    return rc;
}

int s3_xml_escape(struct bk_buf *out, const char *text, struct bk_error *err)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        const char *rep = NULL;
        int rc;
        switch (*p) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        case '\r': rep = "&#13;"; break;
        case '\n': rep = "&#10;"; break;
        case '\t': rep = "&#9;"; break;
        default:
            if (*p < 0x20)
                return bk_error_set(err, BK_EINVAL, "s3_xml", text,
                                    "key holds control character 0x%02x that XML 1.0 cannot carry", *p);
        }
        rc = rep != NULL ? bk_buf_append_str(out, rep, err) : bk_buf_append(out, p, 1, err);
        if (rc != BK_OK)
            return rc;
    }
    return BK_OK;
}

/*
 * XML bodies of the Azure Blob REST API, read with libxml2: List Blobs results (into a
 * storage_list_page), <Error> bodies (code and first message line), and the Put Block List
 * request body with its fixed-width block ids. Not for HTTP or signing.
 * Parsing never touches the network (XML_PARSE_NONET) and never expands entities.
 */
#include "azure_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "bk_crypto.h"

#define XML_PARSE_FLAGS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

void azure_xml_init(void)
{
    xmlInitParser();
}

static bool node_is(const xmlNode *n, const char *name)
{
    return n != NULL && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child_named(const xmlNode *parent, const char *name)
{
    for (xmlNode *c = parent != NULL ? parent->children : NULL; c != NULL; c = c->next)
        if (node_is(c, name))
            return c;
    return NULL;
}

/* Text of the named child (caller frees with xmlFree), or NULL when absent. */
static char *child_text(const xmlNode *parent, const char *name)
{
    xmlNode *c = child_named(parent, name);
    return c != NULL ? (char *)xmlNodeGetContent(c) : NULL;
}

static xmlDoc *parse_doc(const char *xml, size_t len)
{
    if (xml == NULL || len == 0 || len > (size_t)INT32_MAX)
        return NULL;
    return xmlReadMemory(xml, (int)len, "azure.xml", NULL, XML_PARSE_FLAGS);
}

/* Blob names with characters XML cannot carry come back as <Name Encoded="true">%xx</Name>. */
static int entry_name(const xmlNode *name_node, struct bk_buf *out, struct bk_error *err)
{
    xmlChar *text = xmlNodeGetContent(name_node);
    xmlChar *encoded = xmlGetProp(name_node, (const xmlChar *)"Encoded");
    int rc;
    bk_buf_reset(out);
    if (text == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "azure_list", NULL, "out of memory");
    } else if (encoded != NULL && strcmp((const char *)encoded, "true") == 0) {
        rc = azure_percent_decode(out, (const char *)text, strlen((const char *)text), err);
        if (rc != BK_OK)
            rc = bk_error_set(err, BK_EPROTO, "azure_list", (const char *)text,
                              "list blobs returned an encoded name that does not decode");
    } else {
        rc = bk_buf_append_str(out, (const char *)text, err);
    }
    xmlFree(text);
    xmlFree(encoded);
    return rc;
}

static int add_blob(const xmlNode *blob, struct storage_list_page *page, struct bk_buf *name,
                    struct bk_error *err)
{
    xmlNode *props = child_named(blob, "Properties");
    xmlNode *name_node = child_named(blob, "Name");
    char *length = NULL, *modified = NULL, *etag = NULL;
    const char *tag;
    uint64_t size = 0;
    int64_t mtime_s = 0;
    char etag_clean[128] = "";
    int rc;

    if (name_node == NULL) {
        rc = bk_error_set(err, BK_EPROTO, "azure_list", NULL, "list blobs returned a blob without a name");
        goto out;
    }
    if ((rc = entry_name(name_node, name, err)) != BK_OK)
        goto out;
    length = child_text(props, "Content-Length");
    modified = child_text(props, "Last-Modified");
    etag = child_text(props, "Etag");
    if (length != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(length, &end, 10);
        if (errno != 0 || end == length || *end != '\0') {
            rc = bk_error_set(err, BK_EPROTO, "azure_list", bk_buf_str(name),
                              "list blobs returned Content-Length \"%.32s\"", length);
            goto out;
        }
        size = v;
    }
    if (modified != NULL && (rc = azure_parse_http_date(modified, &mtime_s, err)) != BK_OK)
        goto out;
    if (etag != NULL) {
        size_t len;
        tag = etag[0] == '"' ? etag + 1 : etag;
        snprintf(etag_clean, sizeof(etag_clean), "%s", tag);
        len = strlen(etag_clean);
        if (len > 0 && etag_clean[len - 1] == '"')
            etag_clean[len - 1] = '\0';
    }
    rc = storage_list_page_add(page, bk_buf_str(name), size, mtime_s * 1000000, etag_clean, false, err);
out:
    xmlFree(length);
    xmlFree(modified);
    xmlFree(etag);
    return rc;
}

int azure_xml_parse_list(const char *xml, size_t len, struct storage_list_page *page,
                         struct bk_error *err)
{
    xmlDoc *doc = parse_doc(xml, len);
    xmlNode *root, *blobs;
    char *marker = NULL;
    struct bk_buf name;
    int rc = BK_OK;

    bk_buf_init(&name, 64 * 1024);
    root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
    if (!node_is(root, "EnumerationResults")) {
        rc = bk_error_set(err, BK_EPROTO, "azure_list", NULL,
                          "list blobs reply is not an EnumerationResults document");
        goto out;
    }
    blobs = child_named(root, "Blobs");
    for (xmlNode *c = blobs != NULL ? blobs->children : NULL; c != NULL; c = c->next) {
        if (node_is(c, "Blob")) {
            rc = add_blob(c, page, &name, err);
        } else if (node_is(c, "BlobPrefix")) {
            xmlNode *name_node = child_named(c, "Name");
            if (name_node == NULL)
                rc = bk_error_set(err, BK_EPROTO, "azure_list", NULL,
                                  "list blobs returned a prefix without a name");
            else if ((rc = entry_name(name_node, &name, err)) == BK_OK)
                rc = storage_list_page_add(page, bk_buf_str(&name), 0, 0, "", true, err);
        }
        if (rc != BK_OK)
            goto out;
    }
    marker = child_text(root, "NextMarker");
    if (marker != NULL && marker[0] != '\0')
        rc = storage_list_page_set_token(page, marker, err);
out:
    xmlFree(marker);
    bk_buf_free(&name);
    xmlFreeDoc(doc);
    return rc;
}

void azure_xml_parse_error(const char *xml, size_t len, char *code, size_t code_cap,
                           char *message, size_t message_cap)
{
    xmlDoc *doc = parse_doc(xml, len);
    xmlNode *root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
    char *c = NULL, *m = NULL;
    code[0] = '\0';
    message[0] = '\0';
    if (node_is(root, "Error")) {
        c = child_text(root, "Code");
        m = child_text(root, "Message");
        if (c != NULL)
            snprintf(code, code_cap, "%s", c);
        if (m != NULL) {
            /* the service appends "\nRequestId:...\nTime:..."; keep the sentence only */
            size_t line = strcspn(m, "\r\n");
            snprintf(message, message_cap, "%.*s", (int)line, m);
        }
    }
    xmlFree(c);
    xmlFree(m);
    xmlFreeDoc(doc);
}

void azure_block_id(uint32_t nonce, unsigned part_no, char *out, size_t out_cap)
{
    char raw[AZURE_BLOCK_ID_RAW_LEN + 1];
    char b64[4 * ((AZURE_BLOCK_ID_RAW_LEN + 2) / 3) + 1];
    /* 8 hex digits, '-', 9 decimal digits: the same 18 bytes for every part */
    snprintf(raw, sizeof(raw), "%08" PRIx32 "-%09u", nonce, part_no % 1000000000u);
    bk_base64_encode((const uint8_t *)raw, AZURE_BLOCK_ID_RAW_LEN, b64);
    snprintf(out, out_cap, "%s", b64);
}

int azure_xml_block_list(struct bk_buf *out, uint32_t nonce, unsigned n_parts,
                         struct bk_error *err)
{
    int rc;
    bk_buf_reset(out);
    rc = bk_buf_append_str(out, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BlockList>", err);
    for (unsigned part = 1; part <= n_parts && rc == BK_OK; part++) {
        char id[32];
        azure_block_id(nonce, part, id, sizeof(id));
        rc = bk_buf_printf(out, err, "<Latest>%s</Latest>", id);
    }
    if (rc == BK_OK)
        rc = bk_buf_append_str(out, "</BlockList>", err);
    return rc;
}

/* vattach.c - the libvirt side of attached volumes (see vattach.h). */
#include "agent/vattach.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <stdlib.h>
#include <string.h>

#include "agent/domain.h"
#include "common/util.h"
#include "common/banned.h"

static void lv_err(struct st_err *err, const char *what, const char *name)
{
    const char *msg = virGetLastErrorMessage();
    st_err_set(err, ST_ERR_INTERNAL, "%s '%s' failed: %s", what, name,
               msg ? msg : "unknown libvirt error");
}

void vattach_secret_usage(const char *host_id, const char *attachment_id, struct st_buf *out)
{
    st_buf_addf(out, VATTACH_SECRET_PREFIX "%s-%s", host_id, attachment_id);
}

static int secret_ensure(virConnectPtr conn, const char *usage, const char *value,
                         struct st_err *err)
{
    virSecretPtr sec = virSecretLookupByUsage(conn, VIR_SECRET_USAGE_TYPE_ISCSI, usage);
    int rc = -1;
    if (!sec) {
        /* The usage id is made of two checked UUIDs: nothing to escape. */
        struct st_buf xml = ST_BUF_INIT;
        st_buf_addf(&xml,
                    "<secret ephemeral='no' private='yes'><description>stratus iSCSI CHAP "
                    "secret</description><usage type='iscsi'><target>%s</target></usage>"
                    "</secret>",
                    usage);
        sec = virSecretDefineXML(conn, xml.buf, 0);
        st_buf_release(&xml);
        if (!sec) {
            lv_err(err, "defining secret", usage);
            return -1;
        }
    }
    if (virSecretSetValue(sec, (const unsigned char *) value, strlen(value), 0) < 0)
        lv_err(err, "setting the value of secret", usage);
    else
        rc = 0;
    virSecretFree(sec);
    return rc;
}

int vattach_prepare(struct virt *v, const char *host_id, const struct model_server *s,
                    struct st_err *err)
{
    virConnectPtr conn = virt_conn(v);
    struct st_buf usage = ST_BUF_INIT;
    int rc = 0;
    for (int i = 0; i < s->nvolumes && rc == 0; i++) {
        const struct model_attachment *a = &s->volumes[i];
        if (a->delete || a->type != MODEL_CONN_ISCSI)
            continue;
        if (!conn) {
            st_err_set(err, ST_ERR_INTERNAL, "no libvirt connection");
            return -1;
        }
        st_buf_reset(&usage);
        vattach_secret_usage(host_id, a->attachment_id, &usage);
        rc = secret_ensure(conn, usage.buf, a->chap_secret, err);
    }
    st_buf_release(&usage);
    return rc;
}

/* The volume disks of an XML document: alias names (after the prefix) and
 * their nodes in 'doc'. */
struct vdisks {
    xmlDocPtr doc;
    xmlXPathContextPtr ctx;
    xmlXPathObjectPtr set;
};

static void vdisks_free(struct vdisks *vd)
{
    if (vd->set)
        xmlXPathFreeObject(vd->set);
    if (vd->ctx)
        xmlXPathFreeContext(vd->ctx);
    if (vd->doc)
        xmlFreeDoc(vd->doc);
    memset(vd, 0, sizeof(*vd));
}

static int vdisks_parse(const char *xml, struct vdisks *vd, struct st_err *err)
{
    memset(vd, 0, sizeof(*vd));
    vd->doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL, XML_PARSE_NONET);
    if (vd->doc)
        vd->ctx = xmlXPathNewContext(vd->doc);
    if (vd->ctx)
        vd->set = xmlXPathEvalExpression(
            BAD_CAST "/domain/devices/disk[alias[starts-with(@name,'" DOMAIN_VOL_ALIAS "')]]",
            vd->ctx);
    if (!vd->set) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot parse a domain's XML");
        vdisks_free(vd);
        return -1;
    }
    return 0;
}

static size_t vdisks_n(const struct vdisks *vd)
{
    return vd->set && vd->set->nodesetval ? (size_t) vd->set->nodesetval->nodeNr : 0;
}

/* The alias of disk 'i' (a string in the document; free with xmlFree). */
static char *vdisks_alias(const struct vdisks *vd, size_t i)
{
    xmlNodePtr n = vd->set->nodesetval->nodeTab[i];
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !xmlStrcmp(c->name, BAD_CAST "alias"))
            return (char *) xmlGetProp(c, BAD_CAST "name");
    return NULL;
}

static bool vdisks_has(const struct vdisks *vd, const char *alias)
{
    bool found = false;
    for (size_t i = 0; i < vdisks_n(vd) && !found; i++) {
        char *a = vdisks_alias(vd, i);
        found = a && !strcmp(a, alias);
        xmlFree(a);
    }
    return found;
}

static int get_xml(virDomainPtr dom, unsigned flags, const char *name, struct vdisks *vd,
                   struct st_err *err)
{
    char *xml = virDomainGetXMLDesc(dom, flags);
    int rc;
    if (!xml) {
        lv_err(err, "reading the XML of domain", name);
        return -1;
    }
    rc = vdisks_parse(xml, vd, err);
    free(xml);
    return rc;
}

int vattach_sync_live(struct virt *v, const char *name, char failed_att[MODEL_ID_MAX],
                      struct st_err *err)
{
    virConnectPtr conn = virt_conn(v);
    virDomainPtr dom;
    struct vdisks live, conf;
    int rc = -1;

    failed_att[0] = '\0';
    if (!conn) {
        st_err_set(err, ST_ERR_INTERNAL, "no libvirt connection");
        return -1;
    }
    dom = virDomainLookupByName(conn, name);
    if (!dom)
        return 0; /* not defined: nothing runs */
    if (virDomainIsActive(dom) != 1 || virDomainIsPersistent(dom) != 1) {
        virDomainFree(dom);
        return 0;
    }
    if (get_xml(dom, 0, name, &live, err) < 0) {
        virDomainFree(dom);
        return -1;
    }
    if (get_xml(dom, VIR_DOMAIN_XML_INACTIVE, name, &conf, err) < 0)
        goto out_live;
    for (size_t i = 0; i < vdisks_n(&conf); i++) {
        char *alias = vdisks_alias(&conf, i);
        xmlBufferPtr b;
        int r;
        if (!alias || vdisks_has(&live, alias)) {
            xmlFree(alias);
            continue;
        }
        /* Without the definition's PCI address: it was handed out for the
         * next boot and may be taken in the running domain. */
        for (xmlNodePtr c = conf.set->nodesetval->nodeTab[i]->children, next; c; c = next) {
            next = c->next;
            if (c->type == XML_ELEMENT_NODE && !xmlStrcmp(c->name, BAD_CAST "address")) {
                xmlUnlinkNode(c);
                xmlFreeNode(c);
            }
        }
        b = xmlBufferCreate();
        xmlNodeDump(b, conf.doc, conf.set->nodesetval->nodeTab[i], 0, 0);
        r = virDomainAttachDeviceFlags(dom, (const char *) xmlBufferContent(b),
                                       VIR_DOMAIN_AFFECT_LIVE);
        xmlBufferFree(b);
        if (r < 0) {
            lv_err(err, "hot-plugging volume disk", alias);
            if (strlen(alias) - strlen(DOMAIN_VOL_ALIAS) < MODEL_ID_MAX)
                memcpy(failed_att, alias + strlen(DOMAIN_VOL_ALIAS),
                       strlen(alias) - strlen(DOMAIN_VOL_ALIAS) + 1);
            xmlFree(alias);
            goto out;
        }
        xmlFree(alias);
    }
    /* An unplug is a request the guest answers in its own time; asked
     * again while it is pending, QEMU refuses: so a refusal here is no
     * failure, the disk is reported attached until it is gone. */
    for (size_t i = 0; i < vdisks_n(&live); i++) {
        char *alias = vdisks_alias(&live, i);
        if (alias && !vdisks_has(&conf, alias))
            (void) virDomainDetachDeviceAlias(dom, alias, VIR_DOMAIN_AFFECT_LIVE);
        xmlFree(alias);
    }
    rc = (int) vdisks_n(&live) + (int) vdisks_n(&conf);
out:
    vdisks_free(&conf);
out_live:
    vdisks_free(&live);
    virDomainFree(dom);
    return rc;
}

json_t *vattach_report(struct virt *v, const char *name, const struct model_server *s,
                       const char *fault_att, const char *fault)
{
    virConnectPtr conn = virt_conn(v);
    json_t *out = json_array();
    struct st_err err = ST_ERR_INIT;
    struct st_buf alias = ST_BUF_INIT;
    struct vdisks vd = {0};
    virDomainPtr dom;
    bool active;

    if (!conn || !s->nvolumes || !(dom = virDomainLookupByName(conn, name)))
        return out;
    active = virDomainIsActive(dom) == 1;
    if (get_xml(dom, active ? 0 : VIR_DOMAIN_XML_INACTIVE, name, &vd, &err) == 0) {
        /* libvirt drops an unplugged disk from the live definition before
         * QEMU closes its image (blockdev-del, then the image's labels put
         * back), all within the job that handles QEMU's DEVICE_DELETED: a
         * disk missing here may still be open.  A call that needs a job of
         * its own (memory stats) returns once that job is over, so that a
         * volume reported detached is free for its next user. */
        for (int i = 0; active && i < s->nvolumes; i++) {
            st_buf_reset(&alias);
            st_buf_addf(&alias, DOMAIN_VOL_ALIAS "%s", s->volumes[i].attachment_id);
            if (!vdisks_has(&vd, alias.buf)) {
                virDomainMemoryStatStruct st[1];
                (void) virDomainMemoryStats(dom, st, 1, 0);
                break;
            }
        }
        for (int i = 0; i < s->nvolumes; i++) {
            st_buf_reset(&alias);
            st_buf_addf(&alias, DOMAIN_VOL_ALIAS "%s", s->volumes[i].attachment_id);
            if (vdisks_has(&vd, alias.buf))
                json_array_append_new(out, json_pack("{s:s, s:s, s:n}", "attachment_id",
                                                     s->volumes[i].attachment_id, "state",
                                                     "attached", "fault"));
            else if (fault_att && !strcmp(fault_att, s->volumes[i].attachment_id))
                json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "attachment_id",
                                                     s->volumes[i].attachment_id, "state",
                                                     "error", "fault", fault ? fault : ""));
        }
        vdisks_free(&vd);
    }
    virDomainFree(dom);
    st_buf_release(&alias);
    return out;
}

static bool usage_desired(const struct model_desired *d, const char *host_id, const char *usage)
{
    struct st_buf u = ST_BUF_INIT;
    bool found = false;
    for (size_t i = 0; i < d->nservers && !found; i++) {
        const struct model_server *s = &d->servers[i];
        for (int k = 0; k < s->nvolumes && !found; k++) {
            if (s->volumes[k].type != MODEL_CONN_ISCSI || s->volumes[k].delete || s->delete)
                continue;
            st_buf_reset(&u);
            vattach_secret_usage(host_id, s->volumes[k].attachment_id, &u);
            found = !strcmp(u.buf, usage);
        }
    }
    st_buf_release(&u);
    return found;
}

int vattach_cleanup_secrets(struct virt *v, const char *host_id, const struct model_desired *d,
                            int *removed, struct st_err *err)
{
    virConnectPtr conn = virt_conn(v);
    virSecretPtr *secs = NULL;
    struct st_buf prefix = ST_BUF_INIT;
    int n, rc = 0;

    if (removed)
        *removed = 0;
    if (!conn || !host_id[0])
        return 0;
    n = virConnectListAllSecrets(conn, &secs, VIR_CONNECT_LIST_SECRETS_NO_EPHEMERAL);
    if (n < 0) {
        lv_err(err, "listing secrets of host", host_id);
        return -1;
    }
    st_buf_addf(&prefix, VATTACH_SECRET_PREFIX "%s-", host_id);
    for (int i = 0; i < n; i++) {
        const char *usage = virSecretGetUsageID(secs[i]);
        if (rc == 0 && virSecretGetUsageType(secs[i]) == VIR_SECRET_USAGE_TYPE_ISCSI && usage &&
            !strncmp(usage, prefix.buf, prefix.len) && !usage_desired(d, host_id, usage)) {
            if (virSecretUndefine(secs[i]) < 0) {
                lv_err(err, "removing secret", usage);
                rc = -1;
            } else if (removed) {
                (*removed)++;
            }
        }
        virSecretFree(secs[i]);
    }
    free(secs);
    st_buf_release(&prefix);
    return rc;
}

int vattach_block_resize(struct virt *v, const struct model_desired *d, const char *volume_id,
                         unsigned long long bytes, struct st_err *err)
{
    virConnectPtr conn = virt_conn(v);
    struct st_buf name = ST_BUF_INIT, alias = ST_BUF_INIT;
    int rc = 0;

    if (!conn)
        return 0;
    for (size_t i = 0; i < d->nservers && rc == 0; i++) {
        const struct model_server *s = &d->servers[i];
        for (int k = 0; k < s->nvolumes && rc == 0; k++) {
            const struct model_attachment *a = &s->volumes[k];
            virDomainPtr dom;
            struct vdisks vd;
            if (a->delete || s->delete || strcmp(a->volume_id, volume_id) ||
                a->type == MODEL_CONN_ISCSI)
                continue;
            st_buf_reset(&name);
            domain_name(s->id, &name);
            if (!(dom = virDomainLookupByName(conn, name.buf)))
                continue;
            if (virDomainIsActive(dom) != 1 || get_xml(dom, 0, name.buf, &vd, err) < 0) {
                virDomainFree(dom);
                continue;
            }
            st_buf_reset(&alias);
            st_buf_addf(&alias, DOMAIN_VOL_ALIAS "%s", a->attachment_id);
            for (size_t j = 0; j < vdisks_n(&vd) && rc == 0; j++) {
                char *al = vdisks_alias(&vd, j);
                xmlNodePtr n = vd.set->nodesetval->nodeTab[j];
                if (al && !strcmp(al, alias.buf)) {
                    for (xmlNodePtr c = n->children; c; c = c->next) {
                        xmlChar *dev;
                        if (c->type != XML_ELEMENT_NODE || xmlStrcmp(c->name, BAD_CAST "target"))
                            continue;
                        dev = xmlGetProp(c, BAD_CAST "dev");
                        if (dev && virDomainBlockResize(dom, (const char *) dev, bytes,
                                                        VIR_DOMAIN_BLOCK_RESIZE_BYTES) == 0)
                            rc = 1;
                        else if (dev) {
                            lv_err(err, "block resize in domain", name.buf);
                            rc = -1;
                        }
                        xmlFree(dev);
                        break;
                    }
                }
                xmlFree(al);
            }
            vdisks_free(&vd);
            virDomainFree(dom);
        }
    }
    st_buf_release(&name);
    st_buf_release(&alias);
    return rc;
}

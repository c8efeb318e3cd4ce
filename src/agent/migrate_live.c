/* migrate_live.c - live migration (see migrate.h): the destination's
 * prepare, the source's virDomainMigrateToURI3 on a thread of its own with
 * the progress, force_complete and abort, and the cleanup of both.
 *
 * The migration thread has its own libvirt connection and touches nothing
 * but its job: the pass (main thread) makes the job, reads its outcome
 * once 'finished' is set, and frees it.  A job still running when the
 * agent stops is left to libvirtd (peer-to-peer: the source's libvirtd
 * drives it); the agent that comes back finds libvirt's job on the domain
 * and follows it. */
#include "agent/migrate.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "agent/instance.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/banned.h"

#define PROGRESS_INTERVAL_NS (NS_PER_S)

/* ------------------------------------------------------------ pure parts */

int migrate_live_disks(const char *xml, const char *inst_dir, char (*out)[16], int *n,
                       int *nfull, struct st_err *err)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                                      XML_PARSE_NOWARNING);
    xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
    xmlXPathObjectPtr set =
        ctx ? xmlXPathEvalExpression(BAD_CAST "/domain/devices/disk[@type='file' and "
                                              "@device='disk' and not(readonly)]",
                                     ctx)
            : NULL;
    size_t dl = strlen(inst_dir);
    int rc = -1;

    *n = 0;
    *nfull = 0;
    if (!set) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot parse a domain's XML");
        goto out;
    }
    for (int i = 0; set->nodesetval && i < set->nodesetval->nodeNr; i++) {
        xmlNodePtr d = set->nodesetval->nodeTab[i];
        char *file = NULL, *dev = NULL;
        for (xmlNodePtr ch = d->children; ch; ch = ch->next) {
            if (ch->type != XML_ELEMENT_NODE)
                continue;
            if (!xmlStrcmp(ch->name, BAD_CAST "source") && !file)
                file = (char *) xmlGetProp(ch, BAD_CAST "file");
            else if (!xmlStrcmp(ch->name, BAD_CAST "target") && !dev)
                dev = (char *) xmlGetProp(ch, BAD_CAST "dev");
        }
        if (file && dev && strlen(dev) < 16 && !strncmp(file, inst_dir, dl) && file[dl] == '/' &&
            !strchr(file + dl + 1, '/')) {
            if (*n == MIG_MAX_DISKS) {
                xmlFree(file);
                xmlFree(dev);
                st_err_set(err, ST_ERR_BAD_REQUEST, "more than %d local disks", MIG_MAX_DISKS);
                goto out;
            }
            memcpy(out[*n], dev, strlen(dev) + 1);
            (*n)++;
            if (strcmp(file + dl + 1, instance_file_name(INSTANCE_DISK)))
                (*nfull)++;
        }
        xmlFree(file);
        xmlFree(dev);
    }
    rc = 0;
out:
    if (set)
        xmlXPathFreeObject(set);
    if (ctx)
        xmlXPathFreeContext(ctx);
    if (doc)
        xmlFreeDoc(doc);
    return rc;
}

int migrate_live_uri(const char *tmpl, const char *addr, struct st_buf *out, struct st_err *err)
{
    const char *pct = strstr(tmpl, "%s");
    bool v6 = strchr(addr, ':') != NULL;
    if (!pct || strchr(pct + 2, '%') || memchr(tmpl, '%', (size_t) (pct - tmpl)) || !addr[0]) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "cannot make a migration URI of '%s' and '%s'", tmpl,
                   addr);
        return -1;
    }
    st_buf_add(out, tmpl, (size_t) (pct - tmpl));
    st_buf_addf(out, v6 ? "[%s]" : "%s", addr);
    st_buf_addf(out, "%s", pct + 2);
    return 0;
}

int migrate_live_params(const struct mig_live_args *a, virTypedParameterPtr *params, int *n,
                        unsigned int *flags, struct st_err *err)
{
    int max = 0;
    const char *disks[MIG_MAX_DISKS + 1];

    *params = NULL;
    *n = 0;
    *flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
             VIR_MIGRATE_UNDEFINE_SOURCE;
    if (a->tls)
        *flags |= VIR_MIGRATE_TLS;
    if (a->block && a->ndisks > 0)
        *flags |= a->full_copy ? VIR_MIGRATE_NON_SHARED_DISK : VIR_MIGRATE_NON_SHARED_INC;
    /* The persistent definition too: with PERSIST_DEST libvirt would
     * otherwise define the source's (its paths, its owner mark). */
    if (virTypedParamsAddString(params, n, &max, VIR_MIGRATE_PARAM_DEST_XML, a->dest_xml) < 0 ||
        virTypedParamsAddString(params, n, &max, VIR_MIGRATE_PARAM_PERSIST_XML, a->dest_xml) < 0 ||
        virTypedParamsAddString(params, n, &max, VIR_MIGRATE_PARAM_URI, a->migrate_uri) < 0)
        goto fail;
    if (a->block && a->ndisks > 0) {
        for (int i = 0; i < a->ndisks && i < MIG_MAX_DISKS; i++)
            disks[i] = a->disks[i];
        disks[a->ndisks < MIG_MAX_DISKS ? a->ndisks : MIG_MAX_DISKS] = NULL;
        if (virTypedParamsAddStringList(params, n, &max, VIR_MIGRATE_PARAM_MIGRATE_DISKS,
                                        disks) < 0 ||
            virTypedParamsAddString(params, n, &max, VIR_MIGRATE_PARAM_DISKS_URI,
                                    a->migrate_uri) < 0)
            goto fail;
    }
    return 0;
fail:
    st_err_set(err, ST_ERR_INTERNAL, "cannot build the migration parameters");
    virTypedParamsFree(*params, *n);
    *params = NULL;
    *n = 0;
    return -1;
}

/* Rewrites every attribute value and text of 'n' and below that starts
 * with "'from'/" to start with "'to'/". */
static void rewrite_paths(xmlNodePtr n, const char *from, const char *to)
{
    size_t fl = strlen(from);
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE) {
            for (xmlAttrPtr a = n->properties; a; a = a->next) {
                xmlChar *v = xmlNodeGetContent((xmlNodePtr) a);
                if (v && !strncmp((char *) v, from, fl) && v[fl] == '/') {
                    struct st_buf nv = ST_BUF_INIT;
                    st_buf_addf(&nv, "%s%s", to, (char *) v + fl);
                    xmlSetProp(n, a->name, BAD_CAST nv.buf);
                    st_buf_release(&nv);
                }
                xmlFree(v);
            }
            rewrite_paths(n->children, from, to);
        } else if (n->type == XML_TEXT_NODE && n->content &&
                   !strncmp((char *) n->content, from, fl) && n->content[fl] == '/') {
            struct st_buf nv = ST_BUF_INIT;
            st_buf_addf(&nv, "%s%s", to, (char *) n->content + fl);
            xmlNodeSetContent(n, BAD_CAST nv.buf);
            st_buf_release(&nv);
        }
    }
}

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
    for (n = n ? n->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name))
            return n;
    return NULL;
}

/* The instances path of domain XML 'doc' for server 'uuid': what comes
 * before "/UUID/console.log" in its serial console's log (every file of
 * an instance is under INSTANCES/UUID/). */
static int instances_of(xmlDocPtr doc, const char *uuid, struct st_buf *out)
{
    xmlNodePtr log = child(child(child(xmlDocGetRootElement(doc), "devices"), "serial"), "log");
    xmlChar *file = log ? xmlGetProp(log, BAD_CAST "file") : NULL;
    struct st_buf tail = ST_BUF_INIT;
    int rc = -1;
    st_buf_addf(&tail, "/%s/%s", uuid, instance_file_name(INSTANCE_CONSOLE_LOG));
    if (file && strlen((char *) file) > tail.len &&
        !strcmp((char *) file + strlen((char *) file) - tail.len, tail.buf)) {
        st_buf_add(out, (char *) file, strlen((char *) file) - tail.len);
        rc = 0;
    }
    xmlFree(file);
    st_buf_release(&tail);
    return rc;
}

int migrate_live_merge_xml(const char *src_xml, const char *dest_xml, struct st_buf *out,
                           struct st_err *err)
{
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
    xmlDocPtr src = xmlReadMemory(src_xml, (int) strlen(src_xml), "source.xml", NULL, opts);
    xmlDocPtr dst = xmlReadMemory(dest_xml, (int) strlen(dest_xml), "dest.xml", NULL, opts);
    xmlNodePtr sroot = src ? xmlDocGetRootElement(src) : NULL;
    xmlNodePtr droot = dst ? xmlDocGetRootElement(dst) : NULL;
    struct st_buf sp = ST_BUF_INIT, dp = ST_BUF_INIT;
    xmlChar *uuid = NULL, *duuid = NULL, *mem = NULL;
    xmlNodePtr smeta, dmeta;
    int len = 0, rc = -1;

    if (!sroot || !droot) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "migrate: cannot parse the domain XML");
        goto out;
    }
    uuid = child(sroot, "uuid") ? xmlNodeGetContent(child(sroot, "uuid")) : NULL;
    duuid = child(droot, "uuid") ? xmlNodeGetContent(child(droot, "uuid")) : NULL;
    if (!uuid || !duuid || xmlStrcasecmp(uuid, duuid) || !st_is_uuid((char *) uuid)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "migrate: the destination's XML is another domain's");
        goto out;
    }
    if (instances_of(src, (char *) uuid, &sp) < 0 || instances_of(dst, (char *) uuid, &dp) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "migrate: no instance directory in the domain XML");
        goto out;
    }
    rewrite_paths(sroot->children, sp.buf, dp.buf);
    /* The owner mark (and the rest of the stratus metadata): the
     * destination's. */
    smeta = child(sroot, "metadata");
    dmeta = child(droot, "metadata");
    if (dmeta) {
        xmlNodePtr copy = xmlDocCopyNode(dmeta, src, 1);
        if (!copy) {
            st_err_set(err, ST_ERR_INTERNAL, "migrate: out of memory");
            goto out;
        }
        if (smeta) {
            xmlReplaceNode(smeta, copy);
            xmlFreeNode(smeta);
        } else {
            xmlAddChild(sroot, copy);
        }
    }
    xmlDocDumpMemory(src, &mem, &len);
    if (!mem || len <= 0) {
        st_err_set(err, ST_ERR_INTERNAL, "migrate: cannot write the domain XML");
        goto out;
    }
    st_buf_add(out, (char *) mem, (size_t) len);
    rc = 0;
out:
    xmlFree(mem);
    xmlFree(uuid);
    xmlFree(duuid);
    if (src)
        xmlFreeDoc(src);
    if (dst)
        xmlFreeDoc(dst);
    st_buf_release(&sp);
    st_buf_release(&dp);
    return rc;
}

/* ------------------------------------------------------------ jobs */

struct live_job {
    struct live_job *next;
    char mig_id[MODEL_ID_MAX];
    char *uri, *dconnuri, *name;
    virTypedParameterPtr params;
    int nparams;
    unsigned int flags;
    int64_t started_ns, ended_ns;
    bool forced, aborted; /* main thread only */
    /* written by the thread before 'finished' */
    int rc, code;
    char msg[ST_ERR_MSG_MAX];
    atomic_bool finished;
};

static struct live_job *jobs; /* main thread only */

static struct live_job *job_find(const char *mig_id)
{
    for (struct live_job *j = jobs; j; j = j->next)
        if (!strcmp(j->mig_id, mig_id))
            return j;
    return NULL;
}

static void job_free(struct live_job *j)
{
    struct live_job **pp = &jobs;
    while (*pp && *pp != j)
        pp = &(*pp)->next;
    if (*pp)
        *pp = j->next;
    virTypedParamsFree(j->params, j->nparams);
    free(j->uri);
    free(j->dconnuri);
    free(j->name);
    free(j);
}

static void job_record_error(struct live_job *j)
{
    virErrorPtr e = virGetLastError();
    j->code = e ? e->code : 0;
    ST_IGNORE(st_snprintf(j->msg, sizeof(j->msg), "%s",
                          e && e->message ? e->message : "unknown libvirt error"));
}

static void *live_thread(void *opaque)
{
    struct live_job *j = opaque;
    virConnectPtr conn = virConnectOpen(j->uri);
    virDomainPtr dom = conn ? virDomainLookupByName(conn, j->name) : NULL;
    j->rc = -1;
    if (!dom)
        job_record_error(j);
    else if (virDomainMigrateToURI3(dom, j->dconnuri, j->params, (unsigned) j->nparams,
                                    j->flags) < 0)
        job_record_error(j);
    else
        j->rc = 0;
    if (dom)
        virDomainFree(dom);
    if (conn)
        virConnectClose(conn);
    j->ended_ns = st_mono_ns();
    atomic_store(&j->finished, true);
    return NULL;
}

/* ------------------------------------------------------------ helpers */

static virDomainPtr dom_of(struct ctx *c)
{
    virConnectPtr conn = virt_conn(c->r->virt);
    return conn ? virDomainLookupByName(conn, c->name.buf) : NULL;
}

/* libvirt's job on the domain: its statistics into 'progress' (may be
 * NULL).  Returns true while a job is active. */
static bool job_stats(virDomainPtr dom, json_t *progress)
{
    static const struct {
        const char *field, *key;
    } keys[] = {
        {VIR_DOMAIN_JOB_MEMORY_TOTAL, "memory_total_bytes"},
        {VIR_DOMAIN_JOB_MEMORY_PROCESSED, "memory_processed_bytes"},
        {VIR_DOMAIN_JOB_MEMORY_REMAINING, "memory_remaining_bytes"},
        {VIR_DOMAIN_JOB_DISK_TOTAL, "disk_total_bytes"},
        {VIR_DOMAIN_JOB_DISK_PROCESSED, "disk_processed_bytes"},
        {VIR_DOMAIN_JOB_DISK_REMAINING, "disk_remaining_bytes"},
    };
    virTypedParameterPtr p = NULL;
    int np = 0, type = VIR_DOMAIN_JOB_NONE;
    if (!dom || virDomainGetJobStats(dom, &type, &p, &np, 0) < 0)
        return false;
    if (progress && type != VIR_DOMAIN_JOB_NONE) {
        for (size_t i = 0; i < ST_ARRAY_SIZE(keys); i++) {
            unsigned long long v = 0;
            if (virTypedParamsGetULLong(p, np, keys[i].field, &v) == 1)
                json_object_set_new(progress, keys[i].key, json_integer((json_int_t) v));
        }
    }
    virTypedParamsFree(p, np);
    return type != VIR_DOMAIN_JOB_NONE;
}

static void set_outcome(struct ctx *c, struct mig_srv *m, const char *outcome, const char *error)
{
    struct st_err err = ST_ERR_INIT;
    json_t *mk = migrate_marker_load(c->inst, m->id);
    json_object_set_new(mk, "outcome", json_string(outcome));
    if (error)
        json_object_set_new(mk, "error", json_string(error));
    if (migrate_marker_save(c->inst, m->id, mk, &err) < 0 && log_rl_allow(&c->r->rl))
        log_errorx(MOD, "server '%s': %s", c->s->id, err.msg);
    json_decref(mk);
    migrate_set_state(m, outcome);
    json_object_clear(m->extra);
    if (error)
        json_object_set_new(m->extra, "error", json_string(error));
}

/* ------------------------------------------------------------ destination */

/* The domain XML this host defines when the guest arrives, and where the
 * source reaches it. */
static int live_prepare(struct ctx *c, struct mig_srv *m)
{
    struct reconciler *r = c->r;
    struct st_buf xml = ST_BUF_INIT, duri = ST_BUF_INIT, muri = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    const char *addr = r->opts.migration_address ? r->opts.migration_address : "";

    if (!addr[0]) {
        st_err_set(&err, ST_ERR_BAD_REQUEST,
                   "prepare: this host has no address for incoming migrations ([libvirt] "
                   "live_migration_inbound_addr, [network] local_ip)");
        goto fail;
    }
    if (reconcile_domain_xml(c, &xml, &err) < 0 ||
        migrate_live_uri(r->opts.live_migration_uri ? r->opts.live_migration_uri
                                                    : "qemu+tls://%s/system",
                         addr, &duri, &err) < 0 ||
        migrate_live_uri("tcp://%s", addr, &muri, &err) < 0)
        goto fail;
    /* What the pass compares with once the guest is here (defined by
     * libvirt from this very XML: nothing to redefine). */
    if (st_write_file(instance_path(c->inst, INSTANCE_DOMAIN_XML), xml.buf, xml.len, 0644,
                      &err) < 0)
        goto fail;
    json_object_set_new(m->extra, "dest_xml", json_string(xml.buf));
    json_object_set_new(m->extra, "dest_uri", json_string(duri.buf));
    json_object_set_new(m->extra, "migrate_uri", json_string(muri.buf));
    if (strcmp(m->state, "prepared")) {
        migrate_set_state(m, "prepared");
        log_info(MOD, "server '%s': migration '%s': prepared for the guest from %s", c->s->id,
                 m->id, c->s->migration.peer_host[0] ? c->s->migration.peer_host : "its host");
    }
    goto out;
fail:
    migrate_fail(r, c->s->id, m, &err);
out:
    st_buf_release(&xml);
    st_buf_release(&duri);
    st_buf_release(&muri);
    return 0;
}

/* ------------------------------------------------------------ source */

static int start_job(struct ctx *c, virDomainPtr dom, struct st_err *err)
{
    const struct model_migration *mg = &c->s->migration;
    struct reconciler *r = c->r;
    char disks[MIG_MAX_DISKS][16];
    int ndisks = 0, nfull = 0;
    char *xml = NULL;
    struct st_buf muri = ST_BUF_INIT, dxml = ST_BUF_INIT;
    struct live_job *j = NULL;
    pthread_attr_t attr;
    pthread_t t;
    json_t *mk;
    int rc = -1;

    if (!mg->dest_xml || !mg->dest_uri[0]) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "migrate: no dest_xml or dest_uri from the controller");
        goto out;
    }
    if (mg->migrate_uri[0])
        st_buf_addf(&muri, "%s", mg->migrate_uri);
    else if (!mg->peer_address[0] || migrate_live_uri("tcp://%s", mg->peer_address, &muri, err) < 0) {
        if (!err->msg[0])
            st_err_set(err, ST_ERR_BAD_REQUEST, "migrate: no migrate_uri or peer address");
        goto out;
    }
    xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE);
    if (!xml) {
        st_err_set(err, ST_ERR_INTERNAL, "migrate: cannot read the domain's XML");
        goto out;
    }
    /* libvirt checks the destination's definition against the running
     * guest's ABI (device addresses, the controllers it added): the
     * running definition with the destination's paths and owner mark. */
    if (migrate_live_merge_xml(xml, mg->dest_xml, &dxml, err) < 0)
        goto out;
    if (migrate_live_disks(xml, instance_path(c->inst, INSTANCE_DIR), disks, &ndisks, &nfull,
                           err) < 0)
        goto out;
    j = st_xcalloc(1, sizeof(*j));
    memcpy(j->mig_id, mg->id, strlen(mg->id) + 1);
    j->uri = st_xstrdup(r->opts.libvirt_uri ? r->opts.libvirt_uri : "qemu:///system");
    j->dconnuri = st_xstrdup(mg->dest_uri);
    j->name = st_xstrdup(c->name.buf);
    {
        struct mig_live_args a = {
            .dest_xml = dxml.buf,
            .migrate_uri = muri.buf,
            .disks = (const char(*)[16]) disks,
            .ndisks = ndisks,
            .full_copy = nfull > 0,
            .tls = r->opts.live_migration_tls,
            .block = mg->block_migration,
        };
        if (migrate_live_params(&a, &j->params, &j->nparams, &j->flags, err) < 0)
            goto out;
    }
    mk = migrate_marker_load(c->inst, mg->id);
    json_object_set_new(mk, "started", json_true());
    rc = migrate_marker_save(c->inst, mg->id, mk, err);
    json_decref(mk);
    if (rc < 0)
        goto out;
    rc = -1;
    j->started_ns = st_mono_ns();
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, live_thread, j) != 0) {
        pthread_attr_destroy(&attr);
        st_err_set(err, ST_ERR_INTERNAL, "migrate: cannot start the migration thread");
        goto out;
    }
    pthread_attr_destroy(&attr);
    j->next = jobs;
    jobs = j;
    j = NULL;
    log_info(MOD,
             "server '%s': migration '%s': live migration to %s started (%d local disk(s), %s%s)",
             c->s->id, mg->id, mg->dest_uri, ndisks,
             !mg->block_migration || !ndisks ? "shared storage"
             : nfull                         ? "full disk copy"
                                             : "incremental disk copy",
             r->opts.live_migration_tls ? ", TLS" : "");
    rc = 0;
out:
    if (j) {
        virTypedParamsFree(j->params, j->nparams);
        free(j->uri);
        free(j->dconnuri);
        free(j->name);
        free(j);
    }
    free(xml);
    st_buf_release(&muri);
    st_buf_release(&dxml);
    return rc;
}

/* A job of this agent that finished: its outcome. */
static void job_done(struct ctx *c, struct mig_srv *m, struct live_job *j)
{
    double took = (double) (j->ended_ns - j->started_ns) / 1e9;
    if (j->rc == 0) {
        log_info(MOD, "server '%s': migration '%s': live migration completed in %.1f s",
                 c->s->id, m->id, took);
        set_outcome(c, m, "completed", NULL);
    } else if (j->aborted || j->code == VIR_ERR_OPERATION_ABORTED) {
        log_info(MOD, "server '%s': migration '%s': live migration cancelled after %.1f s: %s",
                 c->s->id, m->id, took, j->msg);
        set_outcome(c, m, "cancelled", NULL);
    } else {
        log_errorx(MOD, "server '%s': migration '%s': live migration failed after %.1f s: %s",
                   c->s->id, m->id, took, j->msg);
        set_outcome(c, m, "failed", j->msg);
    }
    job_free(j);
}

static int live_source(struct ctx *c, struct mig_srv *m)
{
    const struct model_migration *mg = &c->s->migration;
    struct live_job *j = job_find(mg->id);
    struct st_err err = ST_ERR_INIT;
    virDomainPtr dom = NULL;
    json_t *mk = NULL, *progress;
    const char *outcome;

    m->next_ns = 0;
    if (j && atomic_load(&j->finished)) {
        job_done(c, m, j);
        goto out;
    }
    dom = c->vi.state == VIRT_MISSING ? NULL : dom_of(c);
    if (j || (dom && job_stats(dom, NULL))) {
        /* Under way (ours, or libvirt's from before a restart). */
        progress = json_object();
        job_stats(dom, progress);
        json_object_clear(m->extra);
        json_object_set_new(m->extra, "progress", progress);
        if (strcmp(m->state, "running"))
            migrate_set_state(m, "running");
        if (mg->abort && !(j && j->aborted)) {
            if ((!dom || virDomainAbortJob(dom) < 0) && log_rl_allow(&c->r->rl))
                log_warnx(MOD, "server '%s': cannot abort the migration job", c->s->id);
            else
                log_info(MOD, "server '%s': migration '%s': aborting", c->s->id, mg->id);
            if (j)
                j->aborted = true;
        } else if (mg->force_complete && !(j && j->forced)) {
            /* As Nova without post-copy: the paused guest converges. */
            if (virt_pause(c->r->virt, c->name.buf, &err) < 0) {
                if (log_rl_allow(&c->r->rl))
                    log_warnx(MOD, "server '%s': force_complete: %s", c->s->id, err.msg);
            } else {
                log_info(MOD, "server '%s': migration '%s': force_complete: guest paused",
                         c->s->id, mg->id);
            }
            if (j)
                j->forced = true;
        }
        m->next_ns = st_mono_ns() + PROGRESS_INTERVAL_NS;
        goto out;
    }
    mk = migrate_marker_load(c->inst, mg->id);
    outcome = json_string_value(json_object_get(mk, "outcome"));
    if (outcome) {
        if (strcmp(m->state, outcome)) {
            migrate_set_state(m, outcome);
            json_object_clear(m->extra);
            if (json_is_string(json_object_get(mk, "error")))
                json_object_set(m->extra, "error", json_object_get(mk, "error"));
        }
        goto out;
    }
    if (json_is_true(json_object_get(mk, "started"))) {
        /* Our job ended while the agent was away. */
        if (c->vi.state == VIRT_MISSING)
            set_outcome(c, m, "completed", NULL);
        else if (mg->abort)
            set_outcome(c, m, "cancelled", NULL);
        else
            set_outcome(c, m, "failed", "the migration ended while the agent was not running");
        goto out;
    }
    if (mg->abort) {
        set_outcome(c, m, "cancelled", NULL);
        goto out;
    }
    if (!dom || (c->vi.state != VIRT_RUNNING && c->vi.state != VIRT_PAUSED)) {
        set_outcome(c, m, "failed", "the guest is not running on this host");
        goto out;
    }
    if (migrate_backing_off(m))
        goto out;
    if (start_job(c, dom, &err) < 0) {
        migrate_fail(c->r, c->s->id, m, &err);
        goto out;
    }
    migrate_set_state(m, "running");
    json_object_clear(m->extra);
    json_object_set_new(m->extra, "progress", json_object());
    m->next_ns = st_mono_ns() + PROGRESS_INTERVAL_NS;
out:
    json_decref(mk);
    if (dom)
        virDomainFree(dom);
    return 0;
}

/* ------------------------------------------------------------ dispatch */

int migrate_live_step(struct ctx *c, enum mig_phase phase)
{
    const struct model_migration *mg = &c->s->migration;
    struct mig_srv *m = migrate_mem(c->sv, mg->id);
    struct live_job *j;

    switch (phase) {
    case MIG_PHASE_PRE:
        if (mg->state != MODEL_MIGS_CLEANUP && mg->state != MODEL_MIGS_OTHER)
            return 1;
        if (mg->state == MODEL_MIGS_OTHER) {
            struct st_err err = ST_ERR_INIT;
            st_err_set(&err, ST_ERR_BAD_REQUEST, "unknown migration state '%s'", mg->state_name);
            migrate_fail(c->r, c->s->id, m, &err);
            return 0;
        }
        j = job_find(mg->id);
        if (j && !atomic_load(&j->finished)) {
            /* Not while our thread still migrates the guest away: the
             * controller gave up on it, so the job ends first. */
            if (!j->aborted) {
                virDomainPtr dom = dom_of(c);
                if (dom && virDomainAbortJob(dom) == 0)
                    log_info(MOD, "server '%s': migration '%s': aborting (cleanup)", c->s->id,
                             mg->id);
                if (dom)
                    virDomainFree(dom);
                j->aborted = true;
            }
            m->next_ns = st_mono_ns() + PROGRESS_INTERVAL_NS;
            return 0;
        }
        if (j)
            job_free(j);
        json_object_clear(m->extra);
        return migrate_cleanup_step(c, m);
    case MIG_PHASE_LOADED:
        if (mg->role == MODEL_MIG_SOURCE && mg->state == MODEL_MIGS_MIGRATE)
            return live_source(c, m);
        if (mg->role == MODEL_MIG_DEST && mg->state == MODEL_MIGS_PREPARE)
            return migrate_backing_off(m) ? 0 : 1;
        return 0;
    case MIG_PHASE_DOMAIN:
        if (mg->role == MODEL_MIG_DEST && mg->state == MODEL_MIGS_PREPARE)
            return live_prepare(c, m);
        return 0;
    }
    return 0;
}

json_t *migrate_live_report(struct reconciler *r, const struct model_server *s, struct srv *sv)
{
    struct mig_srv *m = migrate_mem(sv, s->migration.id);
    json_t *e;
    (void) r;
    e = json_pack("{s:s, s:s}", "id", m->id, "state", m->state[0] ? m->state : "pending");
    json_object_update(e, m->extra);
    return e;
}

/* virt.c - libvirt connection, event loop and domain operations (see
 * virt.h). */
#include "agent/virt.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/domain.h"
#include "common/buf.h"
#include "common/util.h"
#include "common/banned.h"

#define NOVA_NS "http://openstack.org/xmlns/libvirt/nova/1.1"
#define NAME_PREFIX "instance-"

struct virt {
    char *uri;
    virConnectPtr conn;
    int cb_id; /* lifecycle callback id on 'conn', -1 if none */
    int cb_dev; /* device-removed callback id (a detached volume's unplug), -1 if none */
    virt_event_fn on_event;
    void *opaque;
    pthread_t thread;
    bool thread_started;
    atomic_int quit;
};

static pthread_once_t event_once = PTHREAD_ONCE_INIT;
static int event_impl_rc;

static void quiet_errors(void *opaque, virErrorPtr e)
{
    (void) opaque;
    (void) e; /* reported through st_err where they matter */
}

static void register_event_impl(void)
{
    virSetErrorFunc(NULL, quiet_errors);
    event_impl_rc = virEventRegisterDefaultImpl();
}

/* Sets 'err' from libvirt's last error: "WHAT: libvirt's message". */
static void lv_err(struct st_err *err, const char *what, const char *name)
{
    const char *msg = virGetLastErrorMessage();
    if (name)
        st_err_set(err, ST_ERR_INTERNAL, "%s of domain '%s' failed: %s", what, name,
                   msg ? msg : "unknown libvirt error");
    else
        st_err_set(err, ST_ERR_INTERNAL, "%s failed: %s", what,
                   msg ? msg : "unknown libvirt error");
}

static int last_code(void)
{
    virErrorPtr e = virGetLastError();
    return e ? e->code : VIR_ERR_OK;
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    struct virt *v = opaque;
    (void) conn;
    (void) dom;
    (void) event;
    (void) detail;
    if (v->on_event)
        v->on_event(v->opaque);
    return 0;
}

/* A guest released a hot-unplugged disk: the pass that waits for it to
 * report the volume detached should run now, not at the next report
 * interval. */
static void on_device_removed(virConnectPtr conn, virDomainPtr dom, const char *alias,
                              void *opaque)
{
    struct virt *v = opaque;
    (void) conn;
    (void) dom;
    (void) alias;
    if (v->on_event)
        v->on_event(v->opaque);
}

static void *event_loop(void *opaque)
{
    struct virt *v = opaque;
    while (!atomic_load(&v->quit))
        if (virEventRunDefaultImpl() < 0)
            break;
    return NULL;
}

static void wake_noop(int timer, void *opaque)
{
    (void) timer;
    (void) opaque;
}

static void disconnect(struct virt *v)
{
    if (!v->conn)
        return;
    if (v->cb_id >= 0)
        (void) virConnectDomainEventDeregisterAny(v->conn, v->cb_id);
    v->cb_id = -1;
    if (v->cb_dev >= 0)
        (void) virConnectDomainEventDeregisterAny(v->conn, v->cb_dev);
    v->cb_dev = -1;
    virConnectClose(v->conn);
    v->conn = NULL;
}

static int connect_now(struct virt *v, struct st_err *err)
{
    v->conn = virConnectOpen(v->uri);
    if (!v->conn) {
        const char *msg = virGetLastErrorMessage();
        st_err_set(err, ST_ERR_UNAVAILABLE,
                   "cannot connect to libvirt at '%s': %s (is libvirtd running?)", v->uri,
                   msg ? msg : "unknown error");
        return -1;
    }
    /* libvirtd answers keepalives; a dead daemon is noticed within ~30 s
     * even when no call is made. */
    (void) virConnectSetKeepAlive(v->conn, 5, 5);
    v->cb_id = virConnectDomainEventRegisterAny(v->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), v, NULL);
    if (v->cb_id < 0) {
        lv_err(err, "registering for domain events", NULL);
        disconnect(v);
        return -1;
    }
    v->cb_dev = virConnectDomainEventRegisterAny(v->conn, NULL,
                                                 VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                                 VIR_DOMAIN_EVENT_CALLBACK(on_device_removed), v,
                                                 NULL);
    if (v->cb_dev < 0) {
        lv_err(err, "registering for device-removed events", NULL);
        disconnect(v);
        return -1;
    }
    return 0;
}

struct virt *virt_open(const char *uri, virt_event_fn on_event, void *opaque, struct st_err *err)
{
    struct virt *v;
    (void) pthread_once(&event_once, register_event_impl);
    if (event_impl_rc < 0) {
        lv_err(err, "setting up the libvirt event loop", NULL);
        return NULL;
    }
    v = st_xcalloc(1, sizeof(*v));
    v->uri = st_xstrdup(uri);
    v->cb_id = -1;
    v->cb_dev = -1;
    v->on_event = on_event;
    v->opaque = opaque;
    if (connect_now(v, err) < 0) {
        virt_close(v);
        return NULL;
    }
    if (pthread_create(&v->thread, NULL, event_loop, v) != 0) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot start the libvirt event thread");
        virt_close(v);
        return NULL;
    }
    v->thread_started = true;
    return v;
}

void virt_close(struct virt *v)
{
    if (!v)
        return;
    disconnect(v);
    if (v->thread_started) {
        /* A zero timeout makes the loop run at once and see 'quit'. */
        int t;
        atomic_store(&v->quit, 1);
        t = virEventAddTimeout(0, wake_noop, NULL, NULL);
        pthread_join(v->thread, NULL);
        if (t >= 0)
            virEventRemoveTimeout(t);
    }
    free(v->uri);
    free(v);
}

int virt_check(struct virt *v, struct st_err *err)
{
    if (v->conn && virConnectIsAlive(v->conn) == 1)
        return 0;
    disconnect(v);
    return connect_now(v, err);
}

virConnectPtr virt_conn(struct virt *v)
{
    return v->conn;
}

/* 0 and '*dom' when defined, 1 when missing, -1 on error. */
static int lookup(struct virt *v, const char *name, virDomainPtr *dom, struct st_err *err)
{
    if (!v->conn && virt_check(v, err) < 0)
        return -1;
    *dom = virDomainLookupByName(v->conn, name);
    if (*dom)
        return 0;
    if (last_code() == VIR_ERR_NO_DOMAIN)
        return 1;
    lv_err(err, "lookup", name);
    return -1;
}

int virt_state(struct virt *v, const char *name, struct virt_info *out, struct st_err *err)
{
    virDomainPtr dom;
    int state = 0, reason = 0, r;

    memset(out, 0, sizeof(*out));
    r = lookup(v, name, &dom, err);
    if (r < 0)
        return -1;
    if (r == 1) {
        out->state = VIRT_MISSING;
        return 0;
    }
    if (virDomainGetState(dom, &state, &reason, 0) < 0) {
        if (last_code() == VIR_ERR_NO_DOMAIN) {
            out->state = VIRT_MISSING;
            virDomainFree(dom);
            return 0;
        }
        lv_err(err, "getting the state", name);
        virDomainFree(dom);
        return -1;
    }
    out->reason = reason;
    out->persistent = virDomainIsPersistent(dom) == 1;
    switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN:
        out->state = VIRT_RUNNING;
        break;
    case VIR_DOMAIN_PAUSED:
        out->state = VIRT_PAUSED;
        break;
    case VIR_DOMAIN_CRASHED:
        out->state = VIRT_CRASHED;
        break;
    case VIR_DOMAIN_PMSUSPENDED:
        out->state = VIRT_SUSPENDED;
        break;
    default: /* SHUTOFF, NOSTATE */
        out->state = virDomainHasManagedSaveImage(dom, 0) == 1 ? VIRT_SUSPENDED : VIRT_SHUTOFF;
        out->shut_by_guest = state == VIR_DOMAIN_SHUTOFF && reason == VIR_DOMAIN_SHUTOFF_SHUTDOWN;
        break;
    }
    virDomainFree(dom);
    return 0;
}

int virt_power_state(enum virt_state s)
{
    static const int nova[] = {
        [VIRT_MISSING] = 0, [VIRT_RUNNING] = 1,   [VIRT_PAUSED] = 3,
        [VIRT_SHUTOFF] = 4, [VIRT_SUSPENDED] = 7, [VIRT_CRASHED] = 6,
    };
    return (unsigned) s < ST_ARRAY_SIZE(nova) ? nova[s] : 0;
}

const char *virt_state_name(enum virt_state s)
{
    static const char *const names[] = {
        [VIRT_MISSING] = "missing", [VIRT_RUNNING] = "running",     [VIRT_PAUSED] = "paused",
        [VIRT_SHUTOFF] = "shutoff", [VIRT_SUSPENDED] = "suspended", [VIRT_CRASHED] = "crashed",
    };
    return (unsigned) s < ST_ARRAY_SIZE(names) ? names[s] : "unknown";
}

int virt_define(struct virt *v, const char *xml, struct st_err *err)
{
    virDomainPtr dom;
    if (!v->conn && virt_check(v, err) < 0)
        return -1;
    dom = virDomainDefineXMLFlags(v->conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
    if (!dom) {
        lv_err(err, "defining a domain", NULL);
        return -1;
    }
    /* Fencing: only the agent starts a domain, after the controller said
     * so; a host that comes back (evacuated meanwhile) must never have
     * libvirtd start its old copy on its own. */
    {
        int autostart = 0;
        if (virDomainGetAutostart(dom, &autostart) == 0 && autostart &&
            virDomainSetAutostart(dom, 0) < 0) {
            lv_err(err, "turning a domain's autostart off", NULL);
            virDomainFree(dom);
            return -1;
        }
    }
    virDomainFree(dom);
    return 0;
}

/* Runs 'op' on domain 'name'; 'ok_codes' (terminated by VIR_ERR_OK) are
 * libvirt errors that mean "already so" and count as success.  A missing
 * domain is an error unless 'missing_ok'. */
static int domain_op(struct virt *v, const char *name, const char *what, bool missing_ok,
                     int (*op)(virDomainPtr, unsigned), unsigned flags, const int *ok_codes,
                     struct st_err *err)
{
    virDomainPtr dom;
    int r = lookup(v, name, &dom, err);
    if (r < 0)
        return -1;
    if (r == 1) {
        if (missing_ok)
            return 0;
        st_err_set(err, ST_ERR_NOT_FOUND, "%s of domain '%s' failed: it is not defined", what,
                   name);
        return -1;
    }
    r = op(dom, flags);
    if (r < 0) {
        int code = last_code();
        for (const int *c = ok_codes; c && *c != VIR_ERR_OK; c++) {
            if (code == *c) {
                r = 0;
                break;
            }
        }
        if (r < 0 && missing_ok && code == VIR_ERR_NO_DOMAIN)
            r = 0;
        if (r < 0)
            lv_err(err, what, name);
    }
    virDomainFree(dom);
    return r < 0 ? -1 : 0;
}

static int op_start(virDomainPtr dom, unsigned flags)
{
    if (virDomainIsActive(dom) == 1)
        return 0;
    return virDomainCreateWithFlags(dom, flags);
}

static int op_shutdown(virDomainPtr dom, unsigned flags)
{
    return virDomainShutdownFlags(dom, flags);
}

static int op_destroy(virDomainPtr dom, unsigned flags)
{
    if (virDomainIsActive(dom) != 1)
        return 0;
    return virDomainDestroyFlags(dom, flags);
}

static int op_undefine(virDomainPtr dom, unsigned flags)
{
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0 &&
        last_code() != VIR_ERR_OPERATION_INVALID)
        return -1;
    if (virDomainUndefineFlags(dom, flags) == 0)
        return 0;
    /* Older drivers refuse flags they do not know: try the plain call. */
    if (last_code() == VIR_ERR_INVALID_ARG || last_code() == VIR_ERR_NO_SUPPORT)
        return virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                               VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA);
    return -1;
}

static int op_pause(virDomainPtr dom, unsigned flags)
{
    int state = 0, reason = 0;
    (void) flags;
    if (virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED)
        return 0;
    return virDomainSuspend(dom);
}

static int op_resume(virDomainPtr dom, unsigned flags)
{
    int state = 0, reason = 0;
    (void) flags;
    if (virDomainGetState(dom, &state, &reason, 0) == 0 && state != VIR_DOMAIN_PAUSED)
        return 0;
    return virDomainResume(dom);
}

static int op_managed_save(virDomainPtr dom, unsigned flags)
{
    if (virDomainIsActive(dom) != 1)
        return virDomainHasManagedSaveImage(dom, 0) == 1 ? 0 : -1;
    return virDomainManagedSave(dom, flags);
}

static int op_managed_save_remove(virDomainPtr dom, unsigned flags)
{
    if (virDomainHasManagedSaveImage(dom, 0) != 1)
        return 0;
    return virDomainManagedSaveRemove(dom, flags);
}

int virt_start(struct virt *v, const char *name, bool paused, struct st_err *err)
{
    static const int ok[] = {VIR_ERR_OPERATION_INVALID, VIR_ERR_OK};
    return domain_op(v, name, "start", false, op_start, paused ? VIR_DOMAIN_START_PAUSED : 0, ok,
                     err);
}

int virt_shutdown(struct virt *v, const char *name, struct st_err *err)
{
    static const int ok[] = {VIR_ERR_OPERATION_INVALID, VIR_ERR_OK};
    return domain_op(v, name, "ACPI shutdown", true, op_shutdown,
                     VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN, ok, err);
}

int virt_destroy(struct virt *v, const char *name, struct st_err *err)
{
    static const int ok[] = {VIR_ERR_OPERATION_INVALID, VIR_ERR_OK};
    return domain_op(v, name, "destroy", true, op_destroy, 0, ok, err);
}

int virt_undefine(struct virt *v, const char *name, struct st_err *err)
{
    return domain_op(v, name, "undefine", true, op_undefine,
                     VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                         VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM,
                     NULL, err);
}

int virt_pause(struct virt *v, const char *name, struct st_err *err)
{
    return domain_op(v, name, "pause", false, op_pause, 0, NULL, err);
}

int virt_resume(struct virt *v, const char *name, struct st_err *err)
{
    return domain_op(v, name, "resume", false, op_resume, 0, NULL, err);
}

int virt_managed_save(struct virt *v, const char *name, struct st_err *err)
{
    return domain_op(v, name, "managed save", false, op_managed_save, 0, NULL, err);
}

int virt_managed_save_remove(struct virt *v, const char *name, struct st_err *err)
{
    return domain_op(v, name, "removing the managed save image", true, op_managed_save_remove, 0,
                     NULL, err);
}

/* "5B3C...-..." and "5b3c..." name the same UUID: compare hex digits only. */
static bool same_uuid(const char *a, const char *b)
{
    for (;;) {
        while (*a == '-')
            a++;
        while (*b == '-')
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        if ((*a | 0x20) != (*b | 0x20))
            return false;
        a++;
        b++;
    }
}

/* What the persistent definition of 'dom' (the live one if it has none)
 * says about its ownership: the host its stratus metadata names ('owner',
 * "" when none) and, when 'dir' (ending in '/') is not NULL, whether a disk
 * has its file under 'dir'.  -1 when the definition cannot be read. */
static int dom_facts(virDomainPtr dom, const char *dir, char owner[VIRT_ID_MAX],
                     bool *disk_under)
{
    char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    xmlDocPtr doc = NULL;
    xmlXPathContextPtr ctx = NULL;
    xmlXPathObjectPtr o = NULL;
    int rc = -1;

    owner[0] = '\0';
    if (disk_under)
        *disk_under = false;
    if (!xml)
        return -1;
    doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL, XML_PARSE_NONET);
    if (doc)
        ctx = xmlXPathNewContext(doc);
    if (!ctx || xmlXPathRegisterNs(ctx, BAD_CAST "stratus", BAD_CAST DOMAIN_STRATUS_NS) < 0)
        goto out;
    o = xmlXPathEvalExpression(BAD_CAST "/domain/metadata/stratus:host/@uuid", ctx);
    if (o && o->nodesetval && o->nodesetval->nodeNr > 0) {
        xmlChar *u = xmlNodeGetContent(o->nodesetval->nodeTab[0]);
        /* Anything but a UUID names no host we know: not ours either. */
        if (u && st_snprintf(owner, VIRT_ID_MAX, "%s", (const char *) u) < 0)
            ST_IGNORE(st_snprintf(owner, VIRT_ID_MAX, "?"));
        xmlFree(u);
    }
    xmlXPathFreeObject(o);
    o = NULL;
    if (dir) {
        o = xmlXPathEvalExpression(BAD_CAST "/domain/devices/disk/source/@file", ctx);
        for (int i = 0; o && o->nodesetval && i < o->nodesetval->nodeNr && !*disk_under; i++) {
            xmlChar *f = xmlNodeGetContent(o->nodesetval->nodeTab[i]);
            *disk_under = f && !strncmp((const char *) f, dir, strlen(dir)) &&
                          !strstr((const char *) f + strlen(dir), "/../");
            xmlFree(f);
        }
    }
    rc = 0;
out:
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    free(xml);
    return rc;
}

int virt_owner(struct virt *v, const char *name, char out[VIRT_ID_MAX], struct st_err *err)
{
    virDomainPtr dom;
    int r = lookup(v, name, &dom, err);
    out[0] = '\0';
    if (r != 0)
        return r < 0 ? -1 : 0;
    r = dom_facts(dom, NULL, out, NULL);
    if (r < 0) {
        if (last_code() == VIR_ERR_NO_DOMAIN)
            r = 0; /* gone meanwhile */
        else
            lv_err(err, "reading the definition", name);
    }
    virDomainFree(dom);
    return r;
}

int virt_list_servers(struct virt *v, const char *instances_path, const char *host_id,
                      struct virt_server **out, size_t *n, struct st_err *err)
{
    struct st_buf dir = ST_BUF_INIT;
    virDomainPtr *doms = NULL;
    int count;

    *out = NULL;
    *n = 0;
    if (!v->conn && virt_check(v, err) < 0)
        return -1;
    count = virConnectListAllDomains(v->conn, &doms, 0);
    if (count < 0) {
        lv_err(err, "listing the domains", NULL);
        st_buf_release(&dir);
        return -1;
    }
    if (count > 0)
        *out = st_xcalloc((size_t) count, sizeof(**out));
    for (int i = 0; i < count; i++) {
        const char *name = virDomainGetName(doms[i]);
        const char *id = name ? name + strlen(NAME_PREFIX) : NULL;
        char uuid[VIR_UUID_STRING_BUFLEN], owner[VIRT_ID_MAX];
        bool under = false;
        char *meta;
        if (name && !strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) && st_is_uuid(id) &&
            strlen(id) < VIRT_ID_MAX && virDomainGetUUIDString(doms[i], uuid) == 0 &&
            same_uuid(uuid, id)) {
            meta = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT, NOVA_NS, 0);
            st_buf_reset(&dir);
            st_buf_addf(&dir, "%s/%s/", instances_path, id);
            if (meta && dom_facts(doms[i], dir.buf, owner, &under) == 0 &&
                (owner[0] ? same_uuid(owner, host_id) : under)) {
                memcpy((*out)[*n].id, id, strlen(id) + 1);
                (*out)[*n].unmarked = !owner[0];
                (*n)++;
            }
            free(meta);
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    st_buf_release(&dir);
    if (*n == 0) {
        free(*out);
        *out = NULL;
    }
    return 0;
}

/* The text of the first node 'xpath' selects in 'doc', or NULL (xmlFree). */
static char *xpath_text(xmlXPathContextPtr ctx, const char *xpath)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
    char *s = NULL;
    if (o && o->nodesetval && o->nodesetval->nodeNr > 0)
        s = (char *) xmlNodeGetContent(o->nodesetval->nodeTab[0]);
    xmlXPathFreeObject(o);
    return s;
}

int virt_host_info(struct virt *v, json_t *info, struct st_err *err)
{
    virNodeInfo ni;
    unsigned long hv = 0;
    char *caps = NULL, *model = NULL, *vendor = NULL;
    xmlDocPtr doc = NULL;
    xmlXPathContextPtr ctx = NULL;

    if (!v->conn && virt_check(v, err) < 0)
        return -1;
    if (virNodeGetInfo(v->conn, &ni) < 0) {
        lv_err(err, "reading the host's facts", NULL);
        return -1;
    }
    if (virConnectGetVersion(v->conn, &hv) < 0)
        hv = 0;
    caps = virConnectGetCapabilities(v->conn);
    if (caps) {
        doc = xmlReadMemory(caps, (int) strlen(caps), "capabilities.xml", NULL, XML_PARSE_NONET);
        if (doc)
            ctx = xmlXPathNewContext(doc);
        if (ctx) {
            model = xpath_text(ctx, "/capabilities/host/cpu/model");
            vendor = xpath_text(ctx, "/capabilities/host/cpu/vendor");
        }
    }
    json_object_set_new(info, "vcpus", json_integer((json_int_t) ni.cpus));
    json_object_set_new(info, "memory_mb", json_integer((json_int_t) (ni.memory / 1024)));
    json_object_set_new(info, "hypervisor_version", json_integer((json_int_t) hv));
    json_object_set_new(info, "cpu_info",
                        json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i}}", "arch", ni.model, "model",
                                  model ? model : "", "vendor", vendor ? vendor : "", "topology",
                                  "sockets", (int) (ni.sockets * (ni.nodes ? ni.nodes : 1)),
                                  "cores", (int) ni.cores, "threads", (int) ni.threads));
    xmlFree(model);
    xmlFree(vendor);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    free(caps);
    return 0;
}

/* ------------------------------------------------------------ statistics */

struct virt *virt_open_secondary(const char *uri, struct st_err *err)
{
    struct virt *v;
    (void) pthread_once(&event_once, register_event_impl);
    if (event_impl_rc < 0) {
        lv_err(err, "setting up the libvirt event loop", NULL);
        return NULL;
    }
    v = st_xcalloc(1, sizeof(*v));
    v->uri = st_xstrdup(uri);
    v->cb_id = -1;
    v->cb_dev = -1;
    if (connect_now(v, err) < 0) {
        virt_close(v);
        return NULL;
    }
    return v;
}

static int64_t param_ull(virTypedParameterPtr p, int np, const char *fmt, size_t i)
{
    char name[VIR_TYPED_PARAM_FIELD_LENGTH];
    unsigned long long u = 0;
    if (st_snprintf(name, sizeof(name), fmt, i) < 0 ||
        virTypedParamsGetULLong(p, np, name, &u) != 1)
        return -1;
    return u > INT64_MAX ? INT64_MAX : (int64_t) u;
}

static size_t param_count(virTypedParameterPtr p, int np, const char *name)
{
    unsigned int u = 0;
    if (virTypedParamsGetUInt(p, np, name, &u) != 1)
        return 0;
    return u > VIRT_STATS_MAX_DEV ? VIRT_STATS_MAX_DEV : u;
}

static const char *param_str(virTypedParameterPtr p, int np, const char *fmt, size_t i)
{
    char name[VIR_TYPED_PARAM_FIELD_LENGTH];
    const char *s = NULL;
    if (st_snprintf(name, sizeof(name), fmt, i) < 0 ||
        virTypedParamsGetString(p, np, name, &s) != 1)
        return NULL;
    return s;
}

static int power_of(int state)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN:
        return virt_power_state(VIRT_RUNNING);
    case VIR_DOMAIN_PAUSED:
        return virt_power_state(VIRT_PAUSED);
    case VIR_DOMAIN_CRASHED:
        return virt_power_state(VIRT_CRASHED);
    case VIR_DOMAIN_PMSUSPENDED:
        return virt_power_state(VIRT_SUSPENDED);
    case VIR_DOMAIN_SHUTOFF:
        return virt_power_state(VIRT_SHUTOFF);
    default:
        return virt_power_state(VIRT_MISSING);
    }
}

/* Fills 'd' from one record; false when the domain is not ours. */
static bool fill_stats(virDomainStatsRecordPtr rec, const char *instances_path,
                       struct virt_dom_stats *d)
{
    virTypedParameterPtr p = rec->params;
    int np = rec->nparams, state = 0;
    const char *name = virDomainGetName(rec->dom);
    struct st_buf dir = ST_BUF_INIT;
    bool ours = false;
    size_t nblock;

    if (!name || strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) ||
        !st_is_uuid(name + strlen(NAME_PREFIX)) ||
        st_snprintf(d->id, sizeof(d->id), "%s", name + strlen(NAME_PREFIX)) < 0)
        return false;
    st_buf_addf(&dir, "%s/%s/", instances_path, d->id);
    nblock = param_count(p, np, "block.count");
    for (size_t i = 0; i < nblock; i++) {
        const char *path = param_str(p, np, "block.%zu.path", i);
        const char *dev = param_str(p, np, "block.%zu.name", i);
        struct virt_disk_stats *k = &d->disks[d->ndisks];
        if (path && !strncmp(path, dir.buf, dir.len) && !strstr(path + dir.len, "/../"))
            ours = true;
        if (!dev || st_snprintf(k->name, sizeof(k->name), "%s", dev) < 0)
            continue;
        k->rd_bytes = param_ull(p, np, "block.%zu.rd.bytes", i);
        k->rd_reqs = param_ull(p, np, "block.%zu.rd.reqs", i);
        k->wr_bytes = param_ull(p, np, "block.%zu.wr.bytes", i);
        k->wr_reqs = param_ull(p, np, "block.%zu.wr.reqs", i);
        k->errors = param_ull(p, np, "block.%zu.errors", i);
        k->capacity = param_ull(p, np, "block.%zu.capacity", i);
        k->physical = param_ull(p, np, "block.%zu.physical", i);
        d->ndisks++;
    }
    st_buf_release(&dir);
    if (!ours)
        return false;
    (void) virTypedParamsGetInt(p, np, "state.state", &state);
    d->power_state = power_of(state);
    d->active = state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_NOSTATE &&
                state != VIR_DOMAIN_CRASHED && state != VIR_DOMAIN_PMSUSPENDED;
    d->cpu_time = param_ull(p, np, "cpu.time", 0);
    d->mem_maximum = param_ull(p, np, "balloon.maximum", 0);
    d->mem_current = param_ull(p, np, "balloon.current", 0);
    d->mem_rss = param_ull(p, np, "balloon.rss", 0);
    d->nvcpus = param_count(p, np, "vcpu.current");
    for (size_t i = 0; i < d->nvcpus; i++)
        d->vcpu_time[i] = param_ull(p, np, "vcpu.%zu.time", i);
    for (size_t i = 0, nn = param_count(p, np, "net.count"); i < nn; i++) {
        const char *ifname = param_str(p, np, "net.%zu.name", i);
        struct virt_nic_stats *k = &d->nics[d->nnics];
        if (!ifname || st_snprintf(k->name, sizeof(k->name), "%s", ifname) < 0)
            continue;
        k->rx_bytes = param_ull(p, np, "net.%zu.rx.bytes", i);
        k->rx_pkts = param_ull(p, np, "net.%zu.rx.pkts", i);
        k->rx_errs = param_ull(p, np, "net.%zu.rx.errs", i);
        k->rx_drop = param_ull(p, np, "net.%zu.rx.drop", i);
        k->tx_bytes = param_ull(p, np, "net.%zu.tx.bytes", i);
        k->tx_pkts = param_ull(p, np, "net.%zu.tx.pkts", i);
        k->tx_errs = param_ull(p, np, "net.%zu.tx.errs", i);
        k->tx_drop = param_ull(p, np, "net.%zu.tx.drop", i);
        d->nnics++;
    }
    return true;
}

static int cmp_stats(const void *a, const void *b)
{
    return strcmp(((const struct virt_dom_stats *) a)->id, ((const struct virt_dom_stats *) b)->id);
}

int virt_stats(struct virt *v, const char *instances_path, struct virt_dom_stats **out, size_t *n,
               struct st_err *err)
{
    unsigned what = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |
                    VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
    virDomainStatsRecordPtr *recs = NULL;
    int count;

    *out = NULL;
    *n = 0;
    if (virt_check(v, err) < 0)
        return -1;
    /* NOWAIT: a domain busy with a job (a snapshot, a migration of the
     * monitor) gives what it can at once instead of holding the caller up
     * to libvirt's job timeout; its missing figures are absent (-1). */
    count = virConnectGetAllDomainStats(v->conn, what, &recs,
                                        VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (count < 0) {
        lv_err(err, "reading the domains' statistics", NULL);
        return -1;
    }
    if (count > 0)
        *out = st_xcalloc((size_t) count, sizeof(**out));
    for (int i = 0; i < count; i++) {
        memset(&(*out)[*n], 0, sizeof((*out)[*n]));
        if (fill_stats(recs[i], instances_path, &(*out)[*n]))
            (*n)++;
    }
    virDomainStatsRecordListFree(recs);
    if (*n)
        qsort(*out, *n, sizeof(**out), cmp_stats);
    else {
        free(*out);
        *out = NULL;
    }
    return 0;
}

/*
 * domain.c - the libvirt domain XML of a server (see domain.h).
 *
 * Everything here is a pure function of the model, the paths and the options:
 * no libvirt connection, no file system, no clock.  The XML goes through
 * libxml2's xmlTextWriter, which escapes markup; what it does not do is
 * refuse characters XML 1.0 forbids even as references (most C0 controls),
 * which jansson lets through in "\u0001", so every value is passed through
 * xml_clean() first and such characters become U+FFFD.
 *
 * Choices that differ from Nova or need a reason:
 *   - disk cache: "none" for KVM (Nova's default, needs O_DIRECT, which every
 *     real file system of an instance directory has) and "writeback" for
 *     TCG, because the development and CI machines that run TCG may keep
 *     instance directories on tmpfs, where O_DIRECT fails and QEMU would
 *     refuse to open the disk.  writeback still honours the guest's flushes.
 *   - the seed ISO is a CD-ROM on IDE: machine 'pc' (i440fx) has IDE built
 *     in, and every guest kernel sees it without a module in the initramfs,
 *     so cloud-init's ds-identify finds the label at first boot.
 *   - rescue: the rescue disk is the first disk, the root disk the second
 *     (as Nova); ephemeral and swap disks are left out while rescued.
 *   - the CPU topology is taken as a whole from the flavor's extra specs when
 *     any of hw:cpu_sockets/cores/threads is set, else from the image's
 *     hw_cpu_* properties; unset members are derived (sockets first) and the
 *     product must equal the vCPU count.
 */
#include "agent/domain.h"

#include <libxml/xmlwriter.h>
#include <pthread.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "common/banned.h"

#ifndef ST_VERSION
#define ST_VERSION "0.0.0"
#endif

#define NOVA_NS "http://openstack.org/xmlns/libvirt/nova/1.1"
#define DEFAULT_CMDLINE_TAIL "console=tty0 console=ttyS0"

/* Appends 's' to 'out' with every byte sequence that is not valid UTF-8 or
 * not a character XML 1.0 allows replaced by U+FFFD. */
static void xml_clean(const char *s, struct st_buf *out)
{
    const unsigned char *p = (const unsigned char *) s;
    while (*p) {
        uint32_t cp;
        size_t n;
        if (p[0] < 0x80) {
            cp = p[0];
            n = 1;
        } else if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
            cp = ((uint32_t) (p[0] & 0x1f) << 6) | (p[1] & 0x3f);
            n = cp >= 0x80 ? 2 : 0;
        } else if ((p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
            cp = ((uint32_t) (p[0] & 0x0f) << 12) | ((uint32_t) (p[1] & 0x3f) << 6) |
                 (p[2] & 0x3f);
            n = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff) ? 3 : 0;
        } else if ((p[0] & 0xf8) == 0xf0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
                   (p[3] & 0xc0) == 0x80) {
            cp = ((uint32_t) (p[0] & 0x07) << 18) | ((uint32_t) (p[1] & 0x3f) << 12) |
                 ((uint32_t) (p[2] & 0x3f) << 6) | (p[3] & 0x3f);
            n = cp >= 0x10000 && cp <= 0x10ffff ? 4 : 0;
        } else {
            cp = 0;
            n = 0;
        }
        if (n == 0 || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xfffe ||
            cp == 0xffff) {
            st_buf_adds(out, "\xef\xbf\xbd");
            p += n ? n : 1;
            continue;
        }
        st_buf_add(out, p, n);
        p += n;
    }
}

/* The writer and the first failure of any call on it: the helpers below do
 * nothing once a call has failed, so that the builder reads straight and
 * checks once at the end.  libxml2 fails only for lack of memory. */
struct dw {
    xmlTextWriterPtr w;
    int failed;
    struct st_buf tmp; /* scratch for xml_clean() */
};

static const xmlChar *clean(struct dw *d, const char *s)
{
    st_buf_reset(&d->tmp);
    xml_clean(s, &d->tmp);
    return (const xmlChar *) d->tmp.buf;
}

static void check(struct dw *d, int rc)
{
    if (rc < 0)
        d->failed = 1;
}

static void start(struct dw *d, const char *name)
{
    if (!d->failed)
        check(d, xmlTextWriterStartElement(d->w, BAD_CAST name));
}

/* <nova:NAME>, declaring the namespace when 'uri' is non-NULL. */
static void start_nova(struct dw *d, const char *name, const char *uri)
{
    if (!d->failed)
        check(d, xmlTextWriterStartElementNS(d->w, BAD_CAST "nova", BAD_CAST name,
                                             (const xmlChar *) uri));
}

static void end(struct dw *d)
{
    if (!d->failed)
        check(d, xmlTextWriterEndElement(d->w));
}

static void attr(struct dw *d, const char *name, const char *value)
{
    if (!d->failed)
        check(d, xmlTextWriterWriteAttribute(d->w, BAD_CAST name, clean(d, value)));
}

static void attrf(struct dw *d, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void attrf(struct dw *d, const char *name, const char *fmt, ...)
{
    struct st_buf v = ST_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    st_buf_vaddf(&v, fmt, ap);
    va_end(ap);
    attr(d, name, v.buf);
    st_buf_release(&v);
}

static void text(struct dw *d, const char *value)
{
    if (!d->failed)
        check(d, xmlTextWriterWriteString(d->w, clean(d, value)));
}

/* <NAME>VALUE</NAME> */
static void elem(struct dw *d, const char *name, const char *value)
{
    start(d, name);
    text(d, value);
    end(d);
}

static void elemf(struct dw *d, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void elemf(struct dw *d, const char *name, const char *fmt, ...)
{
    struct st_buf v = ST_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    st_buf_vaddf(&v, fmt, ap);
    va_end(ap);
    elem(d, name, v.buf);
    st_buf_release(&v);
}

static void nova_elemf(struct dw *d, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void nova_elemf(struct dw *d, const char *name, const char *fmt, ...)
{
    struct st_buf v = ST_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    st_buf_vaddf(&v, fmt, ap);
    va_end(ap);
    start_nova(d, name, NULL);
    text(d, v.buf);
    end(d);
    st_buf_release(&v);
}

/* <NAME A1="V1" .../>: 'n' attribute name/value pairs follow. */
static void empty(struct dw *d, const char *name, int n, ...)
{
    va_list ap;
    start(d, name);
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *k = va_arg(ap, const char *);
        const char *v = va_arg(ap, const char *);
        attr(d, k, v);
    }
    va_end(ap);
    end(d);
}

void domain_name(const char *server_id, struct st_buf *out)
{
    st_buf_addf(out, "instance-%s", server_id);
}

/* The image the server boots from: the rescue image while rescued. */
static const struct model_image *boot_image(const struct model_server *s)
{
    return s->rescue ? &s->rescue_image : &s->image;
}

struct topology {
    uint32_t sockets, cores, threads;
};

/* Fills 't' and returns 1 when the flavor or image asks for a topology, 0
 * when neither does, -1 when what they ask for cannot be met. */
static int cpu_topology(const struct model_server *s, struct topology *t, struct st_err *err)
{
    static const char *const fkeys[3] = {"hw:cpu_sockets", "hw:cpu_cores", "hw:cpu_threads"};
    static const char *const ikeys[3] = {"hw_cpu_sockets", "hw_cpu_cores", "hw_cpu_threads"};
    const char *const *keys = fkeys;
    const char *v[3];
    uint32_t n[3] = {0, 0, 0}, given = 1, vcpus = (uint32_t) s->flavor.vcpus;
    bool any = false;

    for (int i = 0; i < 3; i++) {
        v[i] = model_extra_spec(&s->flavor, fkeys[i]);
        any |= v[i] != NULL;
    }
    if (!any) {
        keys = ikeys;
        for (int i = 0; i < 3; i++) {
            v[i] = model_image_prop(&s->image, ikeys[i]);
            any |= v[i] != NULL;
        }
    }
    if (!any)
        return 0;
    for (int i = 0; i < 3; i++) {
        if (!v[i])
            continue;
        if (st_parse_u32(v[i], 1, 1024, &n[i]) < 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "invalid CPU topology: %s '%s' is not a number "
                       "from 1 to 1024", keys[i], v[i]);
            return -1;
        }
        given *= n[i];
    }
    /* What is left over goes to the first unset member, sockets first (as
     * Nova prefers sockets, then cores, then threads); the rest are 1. */
    if (vcpus % given == 0) {
        for (int i = 0; i < 3; i++) {
            if (!n[i]) {
                n[i] = vcpus / given;
                given = vcpus;
            }
        }
    }
    if (n[0] * n[1] * n[2] != vcpus || n[0] == 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "invalid CPU topology: %s=%s %s=%s %s=%s does not make %u vCPUs", keys[0],
                   v[0] ? v[0] : "-", keys[1], v[1] ? v[1] : "-", keys[2], v[2] ? v[2] : "-",
                   vcpus);
        return -1;
    }
    t->sockets = n[0];
    t->cores = n[1];
    t->threads = n[2];
    return 1;
}

/* Target device names are handed out per prefix, in the order the disks
 * appear: "vd" for virtio, "sd" for scsi and sata, "hd" for ide. */
struct dev_names {
    int next[3];
};

static int disk_target(struct dev_names *dn, const char *bus, char out[8], struct st_err *err)
{
    static const struct {
        const char *bus, *prefix;
        int slot, max;
    } buses[] = {
        {"virtio", "vd", 0, 26},
        {"scsi", "sd", 1, 26},
        {"sata", "sd", 1, 26},
        /* machine 'pc': two IDE buses of two units, hda..hdd */
        {"ide", "hd", 2, 4},
    };
    for (size_t i = 0; i < ST_ARRAY_SIZE(buses); i++) {
        int k;
        if (strcmp(buses[i].bus, bus))
            continue;
        k = dn->next[buses[i].slot];
        if (k >= buses[i].max) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "too many disks on bus '%s'", bus);
            return -1;
        }
        dn->next[buses[i].slot]++;
        return st_snprintf(out, 8, "%s%c", buses[i].prefix, 'a' + k) < 0 ? -1 : 0;
    }
    st_err_set(err, ST_ERR_BAD_REQUEST,
               "unsupported disk bus '%s' (hw_disk_bus: virtio, scsi, sata or ide)", bus);
    return -1;
}

static bool one_of(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(v, *list))
            return true;
    return false;
}

static void disk(struct dw *d, const char *device, const char *path, const char *format,
                 const char *cache, const char *dev, const char *bus)
{
    start(d, "disk");
    attr(d, "type", "file");
    attr(d, "device", device);
    empty(d, "driver", 3, "name", "qemu", "type", format, "cache", cache);
    empty(d, "source", 1, "file", path);
    empty(d, "target", 2, "dev", dev, "bus", bus);
    if (!strcmp(device, "cdrom"))
        empty(d, "readonly", 0);
    end(d);
}

/* The <disk> of an attached volume.  The portal is "ADDR:PORT" or
 * "[V6ADDR]:PORT" (checked in model_volume.c). */
static int volume_disk(struct dw *d, const struct domain_volume *v, const char *cache,
                       const char *dev, struct st_err *err)
{
    const struct model_attachment *a = v->att;
    const char *fmt = v->format && v->format[0] ? v->format : a->format[0] ? a->format : "raw";
    struct st_buf alias = ST_BUF_INIT;

    if (strcmp(fmt, "qcow2") && strcmp(fmt, "raw")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "volume '%s': unsupported format '%s'", a->volume_id,
                   fmt);
        return -1;
    }
    st_buf_addf(&alias, DOMAIN_VOL_ALIAS "%s", a->attachment_id);
    start(d, "disk");
    switch (a->type) {
    case MODEL_CONN_FILE:
        attr(d, "type", "file");
        attr(d, "device", "disk");
        empty(d, "driver", 3, "name", "qemu", "type", fmt, "cache", cache);
        empty(d, "source", 1, "file", a->path);
        break;
    case MODEL_CONN_BLOCK:
        attr(d, "type", "block");
        attr(d, "device", "disk");
        empty(d, "driver", 3, "name", "qemu", "type", fmt, "cache", cache);
        empty(d, "source", 1, "dev", a->path);
        break;
    case MODEL_CONN_ISCSI: {
        char host[64], port[8];
        const char *colon = strrchr(a->portal, ':');
        size_t hl = colon ? (size_t) (colon - a->portal) : 0;
        const char *h = a->portal;
        if (!colon || hl == 0 || hl >= sizeof(host) || strlen(colon + 1) >= sizeof(port) ||
            !v->secret_usage) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "volume '%s': bad iSCSI portal '%s'",
                       a->volume_id, a->portal);
            st_buf_release(&alias);
            return -1;
        }
        if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
            h++;
            hl -= 2;
        }
        memcpy(host, h, hl);
        host[hl] = '\0';
        memcpy(port, colon + 1, strlen(colon + 1) + 1);
        attr(d, "type", "network");
        attr(d, "device", "disk");
        empty(d, "driver", 3, "name", "qemu", "type", fmt, "cache", cache);
        start(d, "source");
        attr(d, "protocol", "iscsi");
        attrf(d, "name", "%s/%d", a->iqn, a->lun);
        empty(d, "host", 2, "name", host, "port", port);
        start(d, "auth");
        attr(d, "username", a->chap_user);
        empty(d, "secret", 2, "type", "iscsi", "usage", v->secret_usage);
        end(d);
        end(d);
        break;
    }
    }
    empty(d, "target", 2, "dev", dev, "bus", "virtio");
    elem(d, "serial", a->volume_id);
    empty(d, "alias", 1, "name", alias.buf);
    end(d);
    st_buf_release(&alias);
    return 0;
}

/* "2026-11-23T18:00:00Z" -> "2026-11-23 18:00:00", Nova's creationTime;
 * false when 'iso' does not parse. */
static bool creation_time(const char *iso, char out[32])
{
    int64_t us;
    time_t t;
    struct tm tm;
    if (!iso[0] || st_time_parse(iso, &us) < 0)
        return false;
    t = (time_t) (us / 1000000);
    if (!gmtime_r(&t, &tm))
        return false;
    return strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm) > 0;
}

static void write_metadata(struct dw *d, const struct model_server *s, const char *host_id)
{
    char when[32];
    start(d, "metadata");
    start_nova(d, "instance", NOVA_NS);
    start_nova(d, "package", NULL);
    attr(d, "version", ST_VERSION);
    end(d);
    nova_elemf(d, "name", "%s", s->name);
    if (creation_time(s->created_at, when))
        nova_elemf(d, "creationTime", "%s", when);
    start_nova(d, "flavor", NULL);
    attr(d, "name", s->flavor.name[0] ? s->flavor.name : s->flavor.id);
    nova_elemf(d, "memory", "%" PRId64, s->flavor.ram_mb);
    nova_elemf(d, "disk", "%" PRId64, s->flavor.disk_gb);
    nova_elemf(d, "swap", "%" PRId64, s->flavor.swap_mb);
    nova_elemf(d, "ephemeral", "%" PRId64, s->flavor.ephemeral_gb);
    nova_elemf(d, "vcpus", "%d", s->flavor.vcpus);
    end(d);
    start_nova(d, "owner", NULL);
    start_nova(d, "user", NULL);
    attr(d, "uuid", s->user_id);
    text(d, s->user_name);
    end(d);
    start_nova(d, "project", NULL);
    attr(d, "uuid", s->project_id);
    text(d, s->project_name);
    end(d);
    end(d);
    start_nova(d, "root", NULL);
    attr(d, "type", "image");
    attr(d, "uuid", s->image.id);
    end(d);
    if (s->nnics) {
        start_nova(d, "ports", NULL);
        for (int i = 0; i < s->nnics; i++) {
            const struct model_nic *n = &s->nics[i];
            start_nova(d, "port", NULL);
            attr(d, "uuid", n->port_id);
            for (int j = 0; j < n->nips; j++) {
                start_nova(d, "ip", NULL);
                attr(d, "type", "fixed");
                attr(d, "address", n->ips[j].address);
                attr(d, "ipVersion", strchr(n->ips[j].address, ':') ? "6" : "4");
                end(d);
            }
            end(d);
        }
        end(d);
    }
    end(d); /* nova:instance */
    /* The owner: an agent removes only the domains that name its host. */
    if (!d->failed)
        check(d, xmlTextWriterStartElementNS(d->w, BAD_CAST "stratus", BAD_CAST "host",
                                             BAD_CAST DOMAIN_STRATUS_NS));
    attr(d, "uuid", host_id);
    end(d);
    end(d); /* metadata */
}

static void write_sysinfo(struct dw *d, const struct model_server *s)
{
    static const struct {
        const char *name, *value;
    } fixed[] = {
        {"manufacturer", "OpenStack Foundation"},
        {"product", "OpenStack Nova"},
        {"version", ST_VERSION},
    };
    start(d, "sysinfo");
    attr(d, "type", "smbios");
    start(d, "system");
    for (size_t i = 0; i < ST_ARRAY_SIZE(fixed); i++) {
        start(d, "entry");
        attr(d, "name", fixed[i].name);
        text(d, fixed[i].value);
        end(d);
    }
    start(d, "entry");
    attr(d, "name", "serial");
    text(d, s->id);
    end(d);
    start(d, "entry");
    attr(d, "name", "uuid");
    text(d, s->id);
    end(d);
    start(d, "entry");
    attr(d, "name", "family");
    text(d, "Virtual Machine");
    end(d);
    end(d);
    end(d);
}

static int write_os(struct dw *d, const struct model_server *s, const struct domain_paths *paths,
                    const char *root_dev, struct st_err *err)
{
    start(d, "os");
    start(d, "type");
    attr(d, "arch", "x86_64");
    attr(d, "machine", "pc");
    text(d, "hvm");
    end(d);
    if (paths->kernel) {
        const char *cmdline = model_image_prop(boot_image(s), "os_command_line");
        elem(d, "kernel", paths->kernel);
        if (paths->initrd)
            elem(d, "initrd", paths->initrd);
        if (cmdline)
            elem(d, "cmdline", cmdline);
        else
            elemf(d, "cmdline", "root=/dev/%s " DEFAULT_CMDLINE_TAIL, root_dev);
    } else {
        if (paths->initrd) {
            st_err_set(err, ST_ERR_INTERNAL, "domain of server '%s': an initrd without a kernel",
                       s->id);
            return -1;
        }
        empty(d, "boot", 1, "dev", "hd");
    }
    empty(d, "smbios", 1, "mode", "sysinfo");
    end(d);
    return 0;
}

static int write_cpu(struct dw *d, const struct model_server *s, bool kvm, struct st_err *err)
{
    struct topology t;
    int has = cpu_topology(s, &t, err);
    if (has < 0)
        return -1;
    if (!kvm && !has)
        return 0; /* TCG: QEMU's default CPU model, nothing to say */
    start(d, "cpu");
    if (kvm)
        attr(d, "mode", "host-model");
    if (has) {
        start(d, "topology");
        attrf(d, "sockets", "%u", t.sockets);
        attrf(d, "cores", "%u", t.cores);
        attrf(d, "threads", "%u", t.threads);
        end(d);
    }
    end(d);
    return 0;
}

static int write_devices(struct dw *d, const struct model_server *s,
                         const struct domain_paths *paths, const struct domain_opts *opts,
                         const char *bus, bool kvm, struct st_err *err)
{
    static const char *const vif_models[] = {"virtio", "e1000", "e1000e", "rtl8139",
                                             "ne2k_pci", "pcnet", NULL};
    static const char *const video_models[] = {"cirrus", "vga", "virtio", "qxl", "bochs",
                                               "none", NULL};
    static const char *const scsi_models[] = {"virtio-scsi", "lsilogic", "lsisas1068",
                                              "buslogic", "vmpvscsi", NULL};
    const char *cache = kvm ? "none" : "writeback";
    const char *vif_prop = model_image_prop(&s->image, "hw_vif_model");
    const char *video = model_image_prop(&s->image, "hw_video_model");
    const char *scsi_model = model_image_prop(boot_image(s), "hw_scsi_model");
    struct dev_names dn = {{0, 0, 0}};
    char dev[8];

    if (!video)
        video = "cirrus";
    if (!scsi_model)
        scsi_model = "virtio-scsi";
    if (!one_of(video, video_models)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "unsupported hw_video_model '%s'", video);
        return -1;
    }
    if (!one_of(scsi_model, scsi_models)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "unsupported hw_scsi_model '%s'", scsi_model);
        return -1;
    }
    if (vif_prop && !one_of(vif_prop, vif_models)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "unsupported hw_vif_model '%s'", vif_prop);
        return -1;
    }

    start(d, "devices");
    if (s->rescue) {
        if (!paths->rescue_disk) {
            st_err_set(err, ST_ERR_INTERNAL, "domain of server '%s': rescued without a rescue disk",
                       s->id);
            return -1;
        }
        if (disk_target(&dn, bus, dev, err) < 0)
            return -1;
        disk(d, "disk", paths->rescue_disk, "qcow2", cache, dev, bus);
    }
    {
        const struct domain_volume *boot = NULL;
        for (int i = 0; i < paths->nvolumes; i++)
            if (paths->volumes[i].att->boot_index == 0)
                boot = &paths->volumes[i];
        if (boot) {
            /* The boot volume is the first virtio disk, whatever the
             * image's bus, and the server has no root disk of its own. */
            if (disk_target(&dn, "virtio", dev, err) < 0 ||
                volume_disk(d, boot, cache, dev, err) < 0)
                return -1;
        } else {
            if (disk_target(&dn, bus, dev, err) < 0)
                return -1;
            disk(d, "disk", paths->disk, "qcow2", cache, dev, bus);
        }
    }
    if (!s->rescue && paths->disk_local) {
        if (disk_target(&dn, bus, dev, err) < 0)
            return -1;
        disk(d, "disk", paths->disk_local, "qcow2", cache, dev, bus);
    }
    if (!s->rescue && paths->disk_swap) {
        if (disk_target(&dn, bus, dev, err) < 0)
            return -1;
        disk(d, "disk", paths->disk_swap, "qcow2", cache, dev, bus);
    }
    {
        /* Attached volumes on the device the controller chose (vdb, vdc,
         * ...), unless a disk of the server's own has it: then the next
         * free virtio name. */
        unsigned used = 0;
        int own = dn.next[0]; /* virtio names the server's own disks took */
        for (int i = 0; i < own && i < 26; i++)
            used |= 1u << i;
        for (int i = 0; i < paths->nvolumes; i++) {
            const struct model_attachment *a = paths->volumes[i].att;
            int k = a->device[2] - 'a';
            if (a->boot_index == 0)
                continue;
            if (strncmp(a->device, "vd", 2) || (used & (1u << k))) {
                for (k = 0; k < 26 && (used & (1u << k)); k++)
                    ;
                if (k == 26) {
                    st_err_set(err, ST_ERR_BAD_REQUEST, "too many disks on bus 'virtio'");
                    return -1;
                }
            }
            used |= 1u << k;
            if (st_snprintf(dev, sizeof(dev), "vd%c", 'a' + k) < 0 ||
                volume_disk(d, &paths->volumes[i], cache, dev, err) < 0)
                return -1;
        }
    }
    if (paths->seed) {
        if (disk_target(&dn, "ide", dev, err) < 0)
            return -1;
        disk(d, "cdrom", paths->seed, "raw", cache, dev, "ide");
    }
    if (!strcmp(bus, "scsi"))
        empty(d, "controller", 3, "type", "scsi", "index", "0", "model", scsi_model);

    for (int i = 0; i < s->nnics; i++) {
        const struct model_nic *n = &s->nics[i];
        const char *model = vif_prop ? vif_prop : n->vif_model;
        if (!one_of(model, vif_models)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "unsupported vif model '%s' of port '%s'", model,
                       n->port_id);
            return -1;
        }
        start(d, "interface");
        attr(d, "type", "bridge");
        empty(d, "mac", 1, "address", n->mac);
        empty(d, "source", 1, "bridge", n->bridge);
        empty(d, "target", 1, "dev", n->tap);
        empty(d, "model", 1, "type", model);
        if (n->mtu > 0) {
            start(d, "mtu");
            attrf(d, "size", "%d", n->mtu);
            end(d);
        }
        end(d);
    }

    /* The serial console: a UNIX socket for the console relay (QEMU
     * listens, never waits for a client), logged to console.log whoever
     * is connected; or a pty. */
    start(d, "serial");
    attr(d, "type", paths->console_socket ? "unix" : "pty");
    if (paths->console_socket)
        empty(d, "source", 2, "mode", "bind", "path", paths->console_socket);
    if (paths->console_log)
        empty(d, "log", 2, "file", paths->console_log, "append", "on");
    end(d);
    start(d, "console");
    attr(d, "type", paths->console_socket ? "unix" : "pty");
    if (paths->console_socket)
        empty(d, "source", 2, "mode", "bind", "path", paths->console_socket);
    empty(d, "target", 2, "type", "serial", "port", "0");
    end(d);

    if (opts->vnc_listen) {
        empty(d, "input", 2, "type", "tablet", "bus", "usb");
        if (!strcmp(opts->vnc_listen, "none")) {
            /* No listener: the agent's console relay opens a connection to
             * the VNC server through libvirt (agent/console.c).  Not a UNIX
             * socket in the instance directory: QEMU runs as another user
             * and may not bind there. */
            start(d, "graphics");
            attr(d, "type", "vnc");
            empty(d, "listen", 1, "type", "none");
            end(d);
        } else {
            empty(d, "graphics", 3, "type", "vnc", "autoport", "yes", "listen", opts->vnc_listen);
        }
        start(d, "video");
        empty(d, "model", 1, "type", video);
        end(d);
    }

    start(d, "memballoon");
    attr(d, "model", "virtio");
    if (opts->memballoon_period > 0) {
        start(d, "stats");
        attrf(d, "period", "%d", opts->memballoon_period);
        end(d);
    }
    end(d);

    start(d, "rng");
    attr(d, "model", "virtio");
    start(d, "backend");
    attr(d, "model", "random");
    text(d, "/dev/urandom");
    end(d);
    end(d);

    end(d); /* devices */
    return 0;
}

static void init_libxml(void)
{
    xmlInitParser();
}

int domain_xml_render(const struct model_server *s, const struct domain_paths *paths,
                      const struct domain_opts *opts, struct st_buf *out, struct st_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct dw d = {NULL, 0, ST_BUF_INIT};
    struct st_buf name = ST_BUF_INIT;
    xmlBufferPtr xbuf = NULL;
    const char *bus;
    const char *os_type = model_image_prop(&s->image, "os_type");
    bool kvm;
    int rc = -1;
    char root_dev[8];
    struct dev_names dn = {{0, 0, 0}};

    if (!opts->virt_type ||
        (strcmp(opts->virt_type, "kvm") && strcmp(opts->virt_type, "qemu"))) {
        st_err_set(err, ST_ERR_INTERNAL, "domain of server '%s': virt_type '%s' is not kvm or qemu",
                   s->id, opts->virt_type ? opts->virt_type : "(null)");
        return -1;
    }
    if (!paths->disk && !model_boot_volume(s)) {
        st_err_set(err, ST_ERR_INTERNAL, "domain of server '%s': no root disk", s->id);
        return -1;
    }
    if (!opts->host_id || !st_is_uuid(opts->host_id)) {
        st_err_set(err, ST_ERR_INTERNAL, "domain of server '%s': no owning host id", s->id);
        return -1;
    }
    kvm = !strcmp(opts->virt_type, "kvm");
    bus = model_image_prop(boot_image(s), "hw_disk_bus");
    if (!bus && s->rescue)
        bus = model_image_prop(&s->image, "hw_disk_bus");
    if (!bus)
        bus = "virtio";
    /* The name of the first disk, for the default kernel command line. */
    if (disk_target(&dn, bus, root_dev, err) < 0)
        return -1;

    (void) pthread_once(&once, init_libxml);
    xbuf = xmlBufferCreate();
    if (!xbuf || !(d.w = xmlNewTextWriterMemory(xbuf, 0))) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot create an XML writer");
        goto out;
    }
    check(&d, xmlTextWriterSetIndent(d.w, 1));
    check(&d, xmlTextWriterSetIndentString(d.w, BAD_CAST "  "));
    domain_name(s->id, &name);

    start(&d, "domain");
    attr(&d, "type", opts->virt_type);
    elem(&d, "name", name.buf);
    elem(&d, "uuid", s->id);
    write_metadata(&d, s, opts->host_id);
    for (int i = 0; i < 2; i++) {
        char kib[24];
        start(&d, i ? "currentMemory" : "memory");
        attr(&d, "unit", "KiB");
        if (st_snprintf(kib, sizeof(kib), "%" PRId64, s->flavor.ram_mb * 1024) < 0)
            d.failed = 1;
        else
            text(&d, kib);
        end(&d);
    }
    elemf(&d, "vcpu", "%d", s->flavor.vcpus);
    write_sysinfo(&d, s);
    if (write_os(&d, s, paths, root_dev, err) < 0)
        goto out;
    start(&d, "features");
    empty(&d, "acpi", 0);
    empty(&d, "apic", 0);
    end(&d);
    if (write_cpu(&d, s, kvm, err) < 0)
        goto out;
    start(&d, "clock");
    attr(&d, "offset", os_type && !strcmp(os_type, "windows") ? "localtime" : "utc");
    empty(&d, "timer", 2, "name", "pit", "tickpolicy", "delay");
    empty(&d, "timer", 2, "name", "rtc", "tickpolicy", "catchup");
    empty(&d, "timer", 2, "name", "hpet", "present", "no");
    end(&d);
    elem(&d, "on_poweroff", "destroy");
    elem(&d, "on_reboot", "restart");
    elem(&d, "on_crash", "destroy");
    if (write_devices(&d, s, paths, opts, bus, kvm, err) < 0)
        goto out;
    end(&d); /* domain */
    if (!d.failed)
        check(&d, xmlTextWriterEndDocument(d.w));
    if (d.failed) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot write the domain XML of server '%s'", s->id);
        goto out;
    }
    xmlFreeTextWriter(d.w); /* flushes into xbuf */
    d.w = NULL;
    st_buf_add(out, xmlBufferContent(xbuf), (size_t) xmlBufferLength(xbuf));
    rc = 0;
out:
    if (d.w)
        xmlFreeTextWriter(d.w);
    if (xbuf)
        xmlBufferFree(xbuf);
    st_buf_release(&d.tmp);
    st_buf_release(&name);
    return rc;
}

int domain_volume_xml(const struct domain_volume *v, const char *dev, const char *virt_type,
                      struct st_buf *out, struct st_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct dw d = {NULL, 0, ST_BUF_INIT};
    xmlBufferPtr xbuf = NULL;
    int rc = -1;

    (void) pthread_once(&once, init_libxml);
    xbuf = xmlBufferCreate();
    if (!xbuf || !(d.w = xmlNewTextWriterMemory(xbuf, 0))) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot create an XML writer");
        goto out;
    }
    check(&d, xmlTextWriterSetIndent(d.w, 1));
    check(&d, xmlTextWriterSetIndentString(d.w, BAD_CAST "  "));
    if (volume_disk(&d, v, virt_type && !strcmp(virt_type, "kvm") ? "none" : "writeback", dev,
                    err) < 0)
        goto out;
    if (!d.failed)
        check(&d, xmlTextWriterEndDocument(d.w));
    if (d.failed) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot write the disk XML of volume '%s'",
                   v->att->volume_id);
        goto out;
    }
    xmlFreeTextWriter(d.w);
    d.w = NULL;
    st_buf_add(out, xmlBufferContent(xbuf), (size_t) xmlBufferLength(xbuf));
    rc = 0;
out:
    if (d.w)
        xmlFreeTextWriter(d.w);
    if (xbuf)
        xmlBufferFree(xbuf);
    st_buf_release(&d.tmp);
    return rc;
}

/* options.c - the agent's option table and derived values (see options.h). */
#include "agent/options.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/banned.h"

const struct cfg_opt agent_opts[] = {
    {"DEFAULT", "data_dir", CFG_STR, "/var/lib/stratus", 0, 0,
     "Directory of the agent's files. On the all-in-one host this is the controller's data "
     "directory, where bootstrap leaves the host secret (DATA_DIR/hosts/HOST.secret). "
     "--data-dir overrides it."},
    {"DEFAULT", "controller", CFG_STR, "", 0, 0,
     "Base URL of the controller's API, e.g. http://192.0.2.10:5000. --controller overrides "
     "it; one of the two is required."},
    {"DEFAULT", "host", CFG_STR, "", 0, 0,
     "Name of this host as the controller knows it. Empty: the machine's hostname."},
    {"DEFAULT", "credential", CFG_STR, "", 0, 0,
     "File holding this host's secret (stratus-manage host add). Empty: "
     "DATA_DIR/hosts/HOST.secret."},
    {"DEFAULT", "instances_path", CFG_STR, "", 0, 0,
     "Directory of the instance directories and of the image cache (_base). Empty: "
     "DATA_DIR/instances. QEMU (user libvirt-qemu) must be able to traverse every directory "
     "above it."},
    {"DEFAULT", "log_level", CFG_STR, "info", 0, 0,
     "Least severe level logged: debug, info, warning or error."},
    {"DEFAULT", "log_file", CFG_STR, "", 0, 0, "File to append the log to. Empty: standard error."},
    {"DEFAULT", "report_interval", CFG_INT, "10", 1, 300,
     "Seconds between two reports (the heartbeat) when nothing happens. The controller's "
     "answer to registration may set a different value."},
    {"DEFAULT", "base_image_unused_seconds", CFG_INT, "3600", 0, 31536000,
     "Seconds a cached image in _base stays after no server of this host uses it any more."},
    {"DEFAULT", "shutdown_timeout", CFG_INT, "60", 0, 3600,
     "Seconds a clean (ACPI) shutdown may take, when a server is stopped or resized, before "
     "it is powered off."},
    {"libvirt", "uri", CFG_STR, "qemu:///system", 0, 0, "libvirt connection URI."},
    {"libvirt", "virt_type", CFG_STR, "auto", 0, 0,
     "kvm, qemu (TCG emulation) or auto: kvm when /dev/kvm works and the CPU shows vmx or "
     "svm, else qemu."},
    {"libvirt", "vnc_listen", CFG_STR, "none", 0, 0,
     "Address the VNC servers of the guests listen on. none: no listener at all; the "
     "remote consoles (noVNC) reach them through libvirt (virDomainOpenGraphicsFD) in the "
     "agent's console relay only."},
    {"libvirt", "seed", CFG_STR, "auto", 0, 0,
     "What a server without a config drive gets to configure itself from: auto (a NoCloud "
     "seed, a CD-ROM labelled cidata) or none (no seed disk: the guest asks the metadata "
     "service at 169.254.169.254). A server created with config_drive=true always gets its "
     "config drive."},
    {"libvirt", "mem_stats_period_seconds", CFG_INT, "10", 0, 3600,
     "Seconds between the memory balloon's statistics updates. 0: off."},
    {"libvirt", "live_migration_uri", CFG_STR, "qemu+tls://%s/system", 0, 0,
     "libvirt URI of a peer host's libvirtd for peer-to-peer live migration; %s is replaced "
     "by the peer's address (its host_ip). The destination reports it with its own address; "
     "the source's libvirtd connects there with its client certificate."},
    {"libvirt", "live_migration_tls", CFG_BOOL, "true", 0, 0,
     "Migrate the guest's memory and its local disks (NBD) over QEMU's native TLS "
     "(VIR_MIGRATE_TLS), with the certificates in /etc/pki/qemu of both hosts."},
    {"libvirt", "live_migration_inbound_addr", CFG_STR, "", 0, 0,
     "Address of this host that incoming live migrations use (libvirt URI, QEMU's "
     "migration stream and NBD disk copy). Empty: [network] local_ip (or the address that "
     "reaches the controller)."},
    {"metrics", "listen", CFG_STR, "", 0, 0,
     "Address and port of the Prometheus listener (GET /metrics, text format 0.0.4): "
     "ADDR:PORT or [ADDR]:PORT, e.g. 127.0.0.1:9361; port 0 picks a free port. It has no "
     "authentication: keep it on loopback or a management address. Empty: no metrics "
     "listener. --metrics-listen overrides it."},
    {"network", "physical_interface_mappings", CFG_STR, "", 0, 0,
     "Provider networks and their uplinks: PHYSNET:IFACE[,PHYSNET:IFACE...]. A flat network "
     "on PHYSNET bridges IFACE itself, a vlan network IFACE.VID."},
    {"network", "local_ip", CFG_STR, "", 0, 0,
     "Address of this host for tunnels (VXLAN endpoint) and the controller's records. "
     "Empty: the address the host reaches the controller from."},
    {"volume", "backends", CFG_STR, "file", 0, 0,
     "Volume backends this host serves, comma-separated: file (qcow2 files in file_pool), lvm "
     "(thin LVs in lvm_volume_group's thin pool stratus-pool). Registered with the controller as "
     "the volume services HOST@BACKEND."},
    {"volume", "file_pool", CFG_STR, "", 0, 0,
     "Directory of the file backend's volumes (volume-ID.qcow2) and snapshots "
     "(snapshot-ID.qcow2). Empty: DATA_DIR/volumes. QEMU (user libvirt-qemu) must be able to "
     "traverse every directory above it."},
    {"volume", "backup_dir", CFG_STR, "", 0, 0,
     "Directory of volume backups (backup-ID.qcow2 and its backup-ID.json). Empty: "
     "DATA_DIR/backups."},
    {"volume", "lvm_volume_group", CFG_STR, "", 0, 0,
     "Volume group of the lvm backend; it must hold a thin pool named stratus-pool."},
    {"volume", "iscsi", CFG_BOOL, "false", 0, 0,
     "Tell the controller that attachments of this host's volumes should go over iSCSI even "
     "when the guest runs on this host (the volume type's extra spec iscsi=true does the same "
     "per type)."},
    {"volume", "iscsi_portal", CFG_STR, "127.0.0.1:3260", 0, 0,
     "ADDR:PORT where this host's iSCSI targets (tgt) are reached. The agent starts tgtd "
     "listening there when no tgtd runs."},
};
const size_t agent_opts_count = sizeof(agent_opts) / sizeof(agent_opts[0]);

struct cfg *agent_config(const char *config_file, const struct agent_flags *flags,
                         struct st_err *err)
{
    struct cfg *cfg = cfg_new(agent_opts, agent_opts_count);
    static const struct agent_flags none;
    const char *vt, *url;
    enum log_level lvl;

    if (!flags)
        flags = &none;
    if ((config_file && cfg_load_file(cfg, config_file, err) < 0) ||
        (flags->data_dir && cfg_set(cfg, "DEFAULT", "data_dir", flags->data_dir, err) < 0) ||
        (flags->controller && cfg_set(cfg, "DEFAULT", "controller", flags->controller, err) < 0) ||
        (flags->host && cfg_set(cfg, "DEFAULT", "host", flags->host, err) < 0) ||
        (flags->credential && cfg_set(cfg, "DEFAULT", "credential", flags->credential, err) < 0) ||
        (flags->log_level && cfg_set(cfg, "DEFAULT", "log_level", flags->log_level, err) < 0) ||
        (flags->log_file && cfg_set(cfg, "DEFAULT", "log_file", flags->log_file, err) < 0) ||
        (flags->metrics_listen &&
         cfg_set(cfg, "metrics", "listen", flags->metrics_listen, err) < 0))
        goto fail;
    vt = cfg_str(cfg, "libvirt", "virt_type");
    if (!st_streq(vt, "auto") && !st_streq(vt, "kvm") && !st_streq(vt, "qemu")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "invalid [libvirt] virt_type '%s': expected auto, kvm or qemu", vt);
        goto fail;
    }
    vt = cfg_str(cfg, "libvirt", "seed");
    if (!st_streq(vt, "auto") && !st_streq(vt, "none")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid [libvirt] seed '%s': expected auto or none",
                   vt);
        goto fail;
    }
    vt = cfg_str(cfg, "libvirt", "live_migration_uri");
    {
        const char *pct = strchr(vt, '%');
        if (!pct || pct[1] != 's' || strchr(pct + 2, '%')) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "invalid [libvirt] live_migration_uri '%s': want one %%s (the address)",
                       vt);
            goto fail;
        }
    }
    if (log_level_parse(cfg_str(cfg, "DEFAULT", "log_level"), &lvl) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid log level '%s'",
                   cfg_str(cfg, "DEFAULT", "log_level"));
        goto fail;
    }
    url = cfg_str(cfg, "DEFAULT", "controller");
    if (url && *url && strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "invalid controller URL '%s': expected http://HOST:PORT or https://...", url);
        goto fail;
    }
    {
        const char *h = cfg_str(cfg, "DEFAULT", "host");
        for (const char *p = h; p && *p; p++) {
            if (!isalnum((unsigned char) *p) && !strchr("._-", *p)) {
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "invalid host name '%s': only letters, digits, '.', '_' and '-'", h);
                goto fail;
            }
        }
    }
    return cfg;
fail:
    cfg_free(cfg);
    return NULL;
}

char *agent_host_name(const struct cfg *cfg)
{
    const char *h = cfg_str(cfg, "DEFAULT", "host");
    char name[256];
    if (h && *h)
        return st_xstrdup(h);
    if (gethostname(name, sizeof(name)) < 0)
        return st_xstrdup("localhost");
    name[sizeof(name) - 1] = '\0';
    return st_xstrdup(name);
}

char *agent_instances_path(const struct cfg *cfg)
{
    const char *p = cfg_str(cfg, "DEFAULT", "instances_path");
    if (p && *p)
        return st_xstrdup(p);
    return st_xasprintf("%s/instances", cfg_str(cfg, "DEFAULT", "data_dir"));
}

char *agent_credential_path(const struct cfg *cfg, const char *host)
{
    const char *p = cfg_str(cfg, "DEFAULT", "credential");
    if (p && *p)
        return st_xstrdup(p);
    return st_xasprintf("%s/hosts/%s.secret", cfg_str(cfg, "DEFAULT", "data_dir"), host);
}

char *agent_read_secret(const char *path, struct st_err *err)
{
    struct st_buf b = ST_BUF_INIT;
    size_t start = 0, end;
    char *s;

    if (st_read_file(path, 4096, &b, err) < 0) {
        st_buf_release(&b);
        return NULL;
    }
    end = b.len;
    while (start < end && isspace((unsigned char) b.buf[start]))
        start++;
    while (end > start && isspace((unsigned char) b.buf[end - 1]))
        end--;
    /* The secret goes into an HTTP header: only base64url (and standard
     * base64) characters are allowed, so it cannot break the header. */
    for (size_t i = start; i < end; i++) {
        char c = b.buf[i];
        if (!isalnum((unsigned char) c) && !strchr("-_+/=", c)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "the host secret in '%s' is not base64url", path);
            explicit_bzero(b.buf, b.len);
            st_buf_release(&b);
            return NULL;
        }
    }
    if (end == start) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "the host secret file '%s' is empty", path);
        st_buf_release(&b);
        return NULL;
    }
    s = st_xstrndup(b.buf + start, end - start);
    explicit_bzero(b.buf, b.len);
    st_buf_release(&b);
    return s;
}

static bool kvm_works(const char *dev)
{
    int fd = open(dev, O_RDWR | O_CLOEXEC);
    int v;
    if (fd < 0)
        return false;
    v = ioctl(fd, KVM_GET_API_VERSION, 0);
    close(fd);
    return v == KVM_API_VERSION;
}

static bool cpu_has_virt(const char *cpuinfo)
{
    struct st_buf b = ST_BUF_INIT;
    struct st_err e = ST_ERR_INIT;
    bool found = false;
    if (st_read_file(cpuinfo, 64u << 20, &b, &e) < 0) {
        st_buf_release(&b);
        return false;
    }
    for (char *line = b.buf; line && *line && !found;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strncmp(line, "flags", 5)) {
            /* Whole words only: " vmx " or " svm " (or at the end). */
            for (char *p = strchr(line, ':'); p && *p; p++) {
                if ((*p == ' ' || *p == ':') &&
                    (!strncmp(p + 1, "vmx", 3) || !strncmp(p + 1, "svm", 3)) &&
                    (p[4] == ' ' || p[4] == '\0')) {
                    found = true;
                    break;
                }
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    st_buf_release(&b);
    return found;
}

const char *agent_virt_type(const char *configured, const char *kvm_dev, const char *cpuinfo)
{
    if (st_streq(configured, "kvm"))
        return "kvm";
    if (st_streq(configured, "qemu"))
        return "qemu";
    /* The CPU flags first: a broken /dev/kvm is better not touched at all. */
    return cpu_has_virt(cpuinfo) && kvm_works(kvm_dev) ? "kvm" : "qemu";
}

bool agent_dev_rw_for(const struct stat *st, uid_t uid, gid_t gid, const gid_t *groups,
                      int ngroups)
{
    bool in_group = st->st_gid == gid;
    if (uid == 0)
        return true;
    if (st->st_uid == uid) /* the owner's bits apply, and only those */
        return (st->st_mode & (S_IRUSR | S_IWUSR)) == (S_IRUSR | S_IWUSR);
    for (int i = 0; i < ngroups && !in_group; i++)
        in_group = groups[i] == st->st_gid;
    if (in_group)
        return (st->st_mode & (S_IRGRP | S_IWGRP)) == (S_IRGRP | S_IWGRP);
    return (st->st_mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH);
}

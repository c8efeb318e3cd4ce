/* dhcp.c - dnsmasq per network (see dhcp.h). */
#include "agent/dhcp.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/netns.h"
#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

#define LEASE_TIME "86400s"

void dhcp_files_init(struct dhcp_files *f)
{
    st_buf_init(&f->conf, 0);
    st_buf_init(&f->hosts, 0);
    st_buf_init(&f->opts, 0);
}

void dhcp_files_release(struct dhcp_files *f)
{
    st_buf_release(&f->conf);
    st_buf_release(&f->hosts);
    st_buf_release(&f->opts);
}

/* "10.0.0.0/24" -> "10.0.0.0" and "255.255.255.0" (IPv4) or "64" (IPv6). */
static void range_of(const struct model_subnet *sn, char addr[MODEL_ADDR_MAX], char mask[24])
{
    const char *slash = strchr(sn->cidr, '/');
    size_t n = slash ? (size_t) (slash - sn->cidr) : strlen(sn->cidr);
    memcpy(addr, sn->cidr, n);
    addr[n] = '\0';
    if (sn->ip_version == 4) {
        struct in_addr m;
        m.s_addr = sn->prefixlen ? htonl(~0u << (32 - sn->prefixlen)) : 0;
        if (!inet_ntop(AF_INET, &m, mask, 24))
            mask[0] = '\0';
    } else {
        ST_IGNORE(st_snprintf(mask, 24, "%d", sn->prefixlen));
    }
}

/* The first label of a host name: dnsmasq wants a plain name here (a
 * dotted one must match its configured domain, and we configure none). */
static void short_name(const char *h, char out[64])
{
    size_t n = strcspn(h, ".");
    memcpy(out, h, n);
    out[n] = '\0';
}

/* The DHCP port's IPv4 address on subnet 'sn' (the next hop to the metadata
 * proxy of its namespace), or NULL. */
static const char *dhcp_address_on(const struct model_dhcp *dh, const struct model_subnet *sn)
{
    for (int i = 0; i < dh->nips; i++)
        if (dh->ips[i].family == AF_INET &&
            (!dh->ips[i].subnet_id[0] || !strcmp(dh->ips[i].subnet_id, sn->id)))
            return dh->ips[i].address;
    return NULL;
}

void dhcp_render(const struct model_network *n, const char *dir, struct dhcp_files *out)
{
    const struct model_dhcp *dh = n->dhcp;

    st_buf_addf(&out->conf,
                "# stratus-agent: DHCP of network %s (generated; do not edit)\n"
                "no-hosts\nno-resolv\nport=0\nbind-interfaces\ninterface=%s\n"
                "except-interface=lo\nleasefile-ro\ndhcp-authoritative\n"
                "pid-file=%s/pid\ndhcp-hostsfile=%s/hosts\ndhcp-optsfile=%s/opts\n",
                n->id, dh->ns_if, dir, dir, dir);
    for (size_t i = 0; i < dh->nsubnets; i++) {
        const struct model_subnet *sn = &dh->subnets[i];
        char addr[MODEL_ADDR_MAX], mask[24];
        if (!sn->enable_dhcp)
            continue;
        range_of(sn, addr, mask);
        st_buf_addf(&out->conf, "dhcp-range=set:subnet-%s,%s,static,%s,%s\n", sn->id, addr, mask,
                    LEASE_TIME);
    }
    if (n->mtu)
        st_buf_addf(&out->conf, "dhcp-option-force=option:mtu,%d\n", n->mtu);
    /* A constant: a limit that followed the host list would change the
     * configuration, and so restart dnsmasq, with every new port. */
    st_buf_addf(&out->conf, "dhcp-lease-max=%d\n", MODEL_MAX_DHCP_HOSTS);

    st_buf_addf(&out->hosts, "# stratus-agent: DHCP hosts of network %s\n", n->id);
    for (size_t i = 0; i < dh->nhosts; i++) {
        const struct model_dhcp_host *h = &dh->hosts[i];
        char name[64];
        short_name(h->hostname, name);
        if (h->family == AF_INET6)
            st_buf_addf(&out->hosts, "%s,[%s]", h->mac, h->ip);
        else
            st_buf_addf(&out->hosts, "%s,%s", h->mac, h->ip);
        if (name[0])
            st_buf_addf(&out->hosts, ",%s", name);
        st_buf_addch(&out->hosts, '\n');
    }

    st_buf_addf(&out->opts, "# stratus-agent: DHCP options of network %s\n", n->id);
    for (size_t i = 0; i < dh->nsubnets; i++) {
        const struct model_subnet *sn = &dh->subnets[i];
        if (!sn->enable_dhcp)
            continue;
        if (sn->ip_version == 4) {
            /* An empty router option tells dnsmasq to send none (it would
             * offer its own address otherwise). */
            st_buf_addf(&out->opts, "tag:subnet-%s,option:router%s%s\n", sn->id,
                        sn->gateway_ip[0] ? "," : "", sn->gateway_ip);
            if (sn->ndns) {
                st_buf_addf(&out->opts, "tag:subnet-%s,option:dns-server", sn->id);
                for (int k = 0; k < sn->ndns; k++)
                    st_buf_addf(&out->opts, ",%s", sn->dns[k]);
                st_buf_addch(&out->opts, '\n');
            }
            const char *md_via = sn->isolated_metadata ? dhcp_address_on(dh, sn) : NULL;
            if (sn->nroutes || md_via) {
                static const char *const opt[] = {"option:classless-static-route", "249"};
                for (size_t o = 0; o < ST_ARRAY_SIZE(opt); o++) {
                    st_buf_addf(&out->opts, "tag:subnet-%s,%s", sn->id, opt[o]);
                    /* The metadata service through the DHCP port's namespace,
                     * where the agent's proxy listens (metadata_proxy.h). */
                    if (md_via)
                        st_buf_addf(&out->opts, ",169.254.169.254/32,%s", md_via);
                    for (int k = 0; k < sn->nroutes; k++)
                        st_buf_addf(&out->opts, ",%s,%s", sn->routes[k].destination,
                                    sn->routes[k].nexthop);
                    if (sn->gateway_ip[0])
                        st_buf_addf(&out->opts, ",0.0.0.0/0,%s", sn->gateway_ip);
                    st_buf_addch(&out->opts, '\n');
                }
            }
        } else if (sn->ndns) {
            st_buf_addf(&out->opts, "tag:subnet-%s,option6:dns-server", sn->id);
            for (int k = 0; k < sn->ndns; k++)
                st_buf_addf(&out->opts, ",[%s]", sn->dns[k]);
            st_buf_addch(&out->opts, '\n');
        }
    }
}

/* ---- processes ---- */

static char *net_dir(const char *state_dir, const char *network_id)
{
    return st_xasprintf("%s/dhcp/%s", state_dir, network_id);
}

/* True if /proc/PID/cmdline is a dnsmasq given "--conf-file=CONF" and the
 * process is not a zombie. */
static bool is_our_dnsmasq(pid_t pid, const char *conf)
{
    struct st_buf b = ST_BUF_INIT;
    char path[64], want[4200];
    bool ok = false;
    const char *base;
    if (st_snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid) < 0 ||
        st_read_file(path, 4096, &b, NULL) < 0)
        goto out;
    {
        const char *rp = strrchr(b.buf, ')');
        if (!rp || rp[1] != ' ' || rp[2] == 'Z' || rp[2] == 'X')
            goto out;
    }
    st_buf_reset(&b);
    if (st_snprintf(path, sizeof(path), "/proc/%d/cmdline", (int) pid) < 0 ||
        st_read_file(path, 65536, &b, NULL) < 0 ||
        st_snprintf(want, sizeof(want), "--conf-file=%s", conf) < 0)
        goto out;
    base = strrchr(b.buf, '/');
    base = base ? base + 1 : b.buf;
    if (strcmp(base, "dnsmasq"))
        goto out;
    for (size_t off = strlen(b.buf) + 1; off < b.len; off += strlen(b.buf + off) + 1)
        if (!strcmp(b.buf + off, want))
            ok = true;
out:
    st_buf_release(&b);
    return ok;
}

static pid_t read_pid(const char *dir, const char *conf)
{
    struct st_buf b = ST_BUF_INIT;
    char *path = st_xasprintf("%s/pid", dir);
    uint32_t pid = 0;
    if (st_read_file(path, 64, &b, NULL) == 0) {
        while (b.len && (b.buf[b.len - 1] == '\n' || b.buf[b.len - 1] == ' '))
            st_buf_truncate(&b, b.len - 1);
        if (st_parse_u32(b.buf, 2, 1u << 22, &pid) < 0 || !is_our_dnsmasq((pid_t) pid, conf))
            pid = 0;
    }
    st_buf_release(&b);
    free(path);
    return (pid_t) pid;
}

pid_t dhcp_running(const char *state_dir, const char *network_id)
{
    char *dir = net_dir(state_dir, network_id);
    char *conf = st_xasprintf("%s/conf", dir);
    pid_t pid = read_pid(dir, conf);
    free(conf);
    free(dir);
    return pid;
}

/* True when process 'pid' runs in namespace 'netns' (/run/netns/NAME): a
 * dnsmasq left in a namespace that was deleted (by hand, or by an agent
 * that took it for its own) and made again serves nobody. */
static bool in_netns(pid_t pid, const char *netns)
{
    char proc[64], named[128];
    struct stat a, b;
    return st_snprintf(proc, sizeof(proc), "/proc/%d/ns/net", (int) pid) >= 0 &&
           st_snprintf(named, sizeof(named), "%s/%s", NETNS_RUN_DIR, netns) >= 0 &&
           stat(proc, &a) == 0 && stat(named, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Stops 'pid' (a dnsmasq with our conf): SIGTERM, then SIGKILL. */
static void kill_dnsmasq(pid_t pid, const char *conf)
{
    if (kill(pid, SIGTERM) < 0)
        return;
    for (int i = 0; i < 100; i++) {
        if (!is_our_dnsmasq(pid, conf))
            return;
        sleep_ms(10);
    }
    (void) kill(pid, SIGKILL);
    for (int i = 0; i < 100 && is_our_dnsmasq(pid, conf); i++)
        sleep_ms(10);
}

/* Writes 'data' to DIR/NAME if it differs; sets '*changed'. */
static int update_file(const char *dir, const char *name, const struct st_buf *data,
                       bool *changed, struct st_err *err)
{
    char *path = st_xasprintf("%s/%s", dir, name);
    struct st_buf cur = ST_BUF_INIT;
    int rc = 0;
    *changed = st_read_file(path, 64u << 20, &cur, NULL) < 0 || cur.len != data->len ||
               memcmp(cur.buf, data->buf, data->len) != 0;
    if (*changed)
        rc = st_write_file(path, data->buf, data->len, 0644, err);
    st_buf_release(&cur);
    free(path);
    return rc;
}

static int start(const struct model_network *n, const char *dir, const char *conf,
                 const char *dnsmasq, struct st_err *err)
{
    struct st_cmd *cmd = cmd_new(dnsmasq ? dnsmasq : "dnsmasq");
    char *pidfile = st_xasprintf("%s/pid", dir);
    int rc;
    (void) unlink(pidfile);
    free(pidfile);
    cmd_argf(cmd, "--conf-file=%s", conf);
    cmd_set_timeout(cmd, 30);
    rc = netns_exec(n->dhcp_ns, cmd, NULL, NULL, err);
    cmd_free(cmd);
    return rc;
}

int dhcp_ensure(const struct model_network *n, const char *state_dir, const char *dnsmasq,
                enum dhcp_action *action, struct st_err *err)
{
    struct dhcp_files f;
    char *dir = net_dir(state_dir, n->id);
    char *conf = st_xasprintf("%s/conf", dir);
    bool conf_changed = false, hosts_changed = false, opts_changed = false;
    enum dhcp_action act = DHCP_NOTHING;
    pid_t pid;
    int rc = -1;

    dhcp_files_init(&f);
    if (!n->dhcp) {
        st_err_set(err, ST_ERR_INTERNAL, "network '%s' has no DHCP", n->id);
        goto out;
    }
    if (st_mkdir_p(dir, 0755, err) < 0)
        goto out;
    /* dnsmasq re-reads the files after dropping its privileges. */
    (void) chmod(dir, 0755);
    dhcp_render(n, dir, &f);
    if (update_file(dir, "hosts", &f.hosts, &hosts_changed, err) < 0 ||
        update_file(dir, "opts", &f.opts, &opts_changed, err) < 0 ||
        update_file(dir, "conf", &f.conf, &conf_changed, err) < 0)
        goto out;
    pid = read_pid(dir, conf);
    if (pid && (conf_changed || !in_netns(pid, n->dhcp_ns))) {
        kill_dnsmasq(pid, conf);
        pid = 0;
        act = DHCP_RESTARTED;
    }
    if (!pid) {
        if (start(n, dir, conf, dnsmasq, err) < 0)
            goto out;
        if (act == DHCP_NOTHING)
            act = DHCP_STARTED;
    } else if (hosts_changed || opts_changed) {
        if (kill(pid, SIGHUP) < 0) {
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot signal dnsmasq %d", (int) pid);
            goto out;
        }
        act = DHCP_RELOADED;
    }
    rc = 0;
out:
    if (action)
        *action = act;
    dhcp_files_release(&f);
    free(conf);
    free(dir);
    return rc;
}

static int rm_files(const char *dir, struct st_err *err)
{
    static const char *const names[] = {"conf", "hosts", "opts", "pid"};
    for (size_t i = 0; i < ST_ARRAY_SIZE(names); i++) {
        char *p = st_xasprintf("%s/%s", dir, names[i]);
        int e = unlink(p) < 0 && errno != ENOENT ? errno : 0;
        if (e) {
            st_err_sys(err, e, ST_ERR_INTERNAL, "cannot remove '%s'", p);
            free(p);
            return -1;
        }
        free(p);
    }
    if (rmdir(dir) < 0 && errno != ENOENT) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot remove '%s'", dir);
        return -1;
    }
    return 0;
}

int dhcp_stop(const char *state_dir, const char *network_id, struct st_err *err)
{
    char *dir = net_dir(state_dir, network_id);
    char *conf = st_xasprintf("%s/conf", dir);
    pid_t pid = read_pid(dir, conf);
    int rc;
    if (pid)
        kill_dnsmasq(pid, conf);
    rc = rm_files(dir, err);
    free(conf);
    free(dir);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

int dhcp_list(const char *state_dir, char ***ids, size_t *n, struct st_err *err)
{
    char *path = st_xasprintf("%s/dhcp", state_dir);
    DIR *d = opendir(path);
    struct dirent *de;
    size_t alloc = 0;
    *ids = NULL;
    *n = 0;
    if (!d) {
        int e = errno;
        free(path);
        if (e == ENOENT)
            return 0;
        st_err_sys(err, e, ST_ERR_INTERNAL, "cannot list the DHCP directories");
        return -1;
    }
    while ((de = readdir(d))) {
        if (!st_is_uuid(de->d_name))
            continue;
        if (*n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            *ids = st_xrealloc(*ids, alloc * sizeof(**ids));
        }
        (*ids)[(*n)++] = st_xstrdup(de->d_name);
    }
    closedir(d);
    free(path);
    if (*n)
        qsort(*ids, *n, sizeof(**ids), cmp_names);
    return 0;
}

void dhcp_list_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

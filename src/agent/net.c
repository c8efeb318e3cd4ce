/* net.c - the network driver's reconciler (see net.h): options, conntrack
 * zones, the host id, nft rulesets, ownership marks, links, networks,
 * ports, routers and the pass.  Removing leftovers is in net_gc.c; what the
 * two share is in net_internal.h. */
#include "agent/net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/dhcp.h"
#include "agent/netlink.h"
#include "agent/net_internal.h"
#include "agent/netns.h"
#include "agent/nft.h"
#include "common/json.h"
#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- options ---- */

static bool ifname_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= NL_IFNAME_MAX)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char) *s) && !strchr("_.-", *s))
            return false;
    return true;
}

static int parse_mappings(struct net_state *ns, const char *spec, struct st_err *err)
{
    const char *p = spec;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        char item[128];
        char *colon;
        if (len == 0 || len >= sizeof(item)) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "invalid physical_interface_mappings '%s': want PHYSNET:IFACE,...", spec);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        colon = strchr(item, ':');
        if (!colon || colon == item || !ifname_ok(colon + 1) ||
            (size_t) (colon - item) >= sizeof(ns->maps[0].physnet) || ns->nmaps >= MAX_MAPPINGS) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "invalid physical_interface_mappings entry '%s': want PHYSNET:IFACE", item);
            return -1;
        }
        *colon = '\0';
        for (size_t i = 0; i < ns->nmaps; i++)
            if (!strcmp(ns->maps[i].physnet, item)) {
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "physical network '%s' is mapped twice", item);
                return -1;
            }
        memcpy(ns->maps[ns->nmaps].physnet, item, strlen(item) + 1);
        memcpy(ns->maps[ns->nmaps].iface, colon + 1, strlen(colon + 1) + 1);
        ns->nmaps++;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

const char *net_mapped_iface(const struct net_state *ns, const char *physnet)
{
    for (size_t i = 0; i < ns->nmaps; i++)
        if (!strcmp(ns->maps[i].physnet, physnet))
            return ns->maps[i].iface;
    return NULL;
}

/* ---- conntrack zones ---- */

static char *zones_path(const struct net_state *ns)
{
    return st_xasprintf("%s/zones.json", ns->state_dir);
}

static void zones_load(struct net_state *ns)
{
    struct st_buf b = ST_BUF_INIT;
    char *path = zones_path(ns);
    json_t *doc = NULL, *v;
    const char *k;
    if (st_read_file(path, 1 << 20, &b, NULL) == 0)
        doc = st_json_parse(b.buf, b.len, NULL);
    json_object_foreach(json_object_get(doc, "zones"), k, v)
    {
        if (!st_is_uuid(k) || strlen(k) >= MODEL_ID_MAX || !json_is_integer(v) ||
            json_integer_value(v) < 1 || json_integer_value(v) > ZONE_MAX)
            continue;
        ns->zones = st_xrealloc(ns->zones, (ns->nzones + 1) * sizeof(*ns->zones));
        memcpy(ns->zones[ns->nzones].net_id, k, strlen(k) + 1);
        ns->zones[ns->nzones].zone = (uint16_t) json_integer_value(v);
        ns->nzones++;
    }
    json_decref(doc);
    st_buf_release(&b);
    free(path);
}

static int zones_save(const struct net_state *ns, struct st_err *err)
{
    json_t *z = json_object();
    struct st_buf b = ST_BUF_INIT;
    char *path = zones_path(ns);
    int rc;
    for (size_t i = 0; i < ns->nzones; i++)
        json_object_set_new(z, ns->zones[i].net_id, json_integer(ns->zones[i].zone));
    json_t *doc = json_pack("{s:o}", "zones", z);
    st_json_dump(doc, &b);
    st_buf_addch(&b, '\n');
    rc = st_mkdir_p(ns->state_dir, 0755, err);
    if (rc == 0)
        rc = st_write_file(path, b.buf, b.len, 0644, err);
    json_decref(doc);
    st_buf_release(&b);
    free(path);
    return rc;
}

/* Gives each network of 'd' a zone (kept across passes and restarts),
 * forgets those of networks no longer desired, and fills 'out'. */
static int zones_sync(struct net_state *ns, const struct model_desired *d, uint16_t *out,
                      struct st_err *err)
{
    bool changed = false;
    size_t w = 0;
    for (size_t i = 0; i < ns->nzones; i++) {
        if (model_find_network(d, ns->zones[i].net_id))
            ns->zones[w++] = ns->zones[i];
        else
            changed = true;
    }
    ns->nzones = w;
    for (size_t i = 0; i < d->nnetworks; i++) {
        size_t j;
        for (j = 0; j < ns->nzones; j++)
            if (!strcmp(ns->zones[j].net_id, d->networks[i].id))
                break;
        if (j == ns->nzones) {
            /* The lowest free zone. */
            uint16_t z = 1;
            for (bool clash = true; clash;) {
                clash = false;
                for (size_t k = 0; k < ns->nzones; k++)
                    if (ns->zones[k].zone == z) {
                        clash = true;
                        z++;
                    }
            }
            ns->zones = st_xrealloc(ns->zones, (ns->nzones + 1) * sizeof(*ns->zones));
            memcpy(ns->zones[ns->nzones].net_id, d->networks[i].id,
                   sizeof(ns->zones[ns->nzones].net_id));
            ns->zones[ns->nzones].zone = z;
            ns->nzones++;
            changed = true;
        }
        out[i] = ns->zones[j].zone;
    }
    return changed ? zones_save(ns, err) : 0;
}

/* ---- the host's id, kept for a teardown by a later process ---- */

static char *host_id_path(const struct net_state *ns)
{
    return st_xasprintf("%s/host_id", ns->state_dir);
}

/* The id STATE_DIR/host_id remembers into 'out' ("" when none). */
static void host_id_load(const struct net_state *ns, char out[MODEL_ID_MAX])
{
    struct st_buf b = ST_BUF_INIT;
    char *path = host_id_path(ns);
    out[0] = '\0';
    if (st_read_file(path, 256, &b, NULL) == 0) {
        while (b.len && isspace((unsigned char) b.buf[b.len - 1]))
            st_buf_truncate(&b, b.len - 1);
        if (st_is_uuid(b.buf) && b.len < MODEL_ID_MAX)
            memcpy(out, b.buf, b.len + 1);
    }
    st_buf_release(&b);
    free(path);
}

/* Remembers 'host_id' in STATE_DIR/host_id when it is not what is there. */
static int host_id_save(const struct net_state *ns, const char *host_id, struct st_err *err)
{
    char have[MODEL_ID_MAX], *path, *text;
    int rc;
    host_id_load(ns, have);
    if (!strcmp(have, host_id))
        return 0;
    path = host_id_path(ns);
    text = st_xasprintf("%s\n", host_id);
    rc = st_mkdir_p(ns->state_dir, 0755, err);
    if (rc == 0)
        rc = st_write_file(path, text, strlen(text), 0644, err);
    free(text);
    free(path);
    return rc;
}

/* Takes the host id of 'd' when it has one (net-apply; the agent set the
 * same at registration). */
static int host_id_sync(struct net_state *ns, const struct model_desired *d, struct st_err *err)
{
    if (!d->host_id[0] || !strcmp(ns->host_id, d->host_id))
        return 0;
    return net_set_host_id(ns, d->host_id, err);
}

/* ---- nft rulesets, applied as differences ---- */

static struct applied *applied_get(struct net_state *ns, const char *key)
{
    for (size_t i = 0; i < ns->napplied; i++)
        if (!strcmp(ns->applied[i].key, key))
            return &ns->applied[i];
    ns->applied = st_xrealloc(ns->applied, (ns->napplied + 1) * sizeof(*ns->applied));
    memset(&ns->applied[ns->napplied], 0, sizeof(*ns->applied));
    memcpy(ns->applied[ns->napplied].key, key, strlen(key) + 1);
    /* The host's namespace lives as long as the agent: keep its sockets. */
    ns->applied[ns->napplied].nft = nft_state_new(key[0] == '\0');
    return &ns->applied[ns->napplied++];
}

static void applied_forget(struct net_state *ns, bool only_unseen)
{
    size_t w = 0;
    for (size_t i = 0; i < ns->napplied; i++) {
        if (!only_unseen || !ns->applied[i].seen) {
            nft_state_free(ns->applied[i].nft);
            continue;
        }
        ns->applied[i].seen = false;
        ns->applied[w++] = ns->applied[i];
    }
    ns->napplied = w;
}

/* Brings 'netns' (NULL: host) to ruleset 'rs' (taken; NULL: building it
 * failed with 'err' set), by a difference against what was applied there
 * last when nothing else changed the ruleset since, whole otherwise (see
 * nft_state_apply).  't0': when building 'rs' began. */
static int nft_sync(struct pass *p, const char *netns, struct nft_ruleset *rs, int64_t t0,
                    struct st_err *err)
{
    struct applied *a = applied_get(p->ns, netns ? netns : "");
    enum nft_applied how = NFT_APPLIED_NONE;
    int rc = -1;
    a->seen = true;
    if (rs)
        rc = nft_state_apply(a->nft, netns, rs, &how, err);
    if (how != NFT_APPLIED_NONE)
        p->ns->stats.nft_applied++;
    if (how == NFT_APPLIED_WHOLE)
        p->ns->stats.nft_whole++;
    p->ns->stats.nft_ns += st_mono_ns() - t0;
    return rc;
}

/* ---- ownership ---- */

int net_owner_alias(const char *host_id, char out[NET_OWNER_ALIAS_MAX], struct st_err *err)
{
    if (!host_id || !st_is_uuid(host_id) ||
        st_snprintf(out, NET_OWNER_ALIAS_MAX, OWNER_PREFIX "%s", host_id) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid host id '%s': want a UUID",
                   host_id ? host_id : "(none)");
        return -1;
    }
    return 0;
}

enum net_owner net_owner_of(const char *alias, const char *own_alias)
{
    if (own_alias && own_alias[0] && !strcmp(alias, own_alias))
        return NET_OWNER_MINE;
    if (!alias[0] || !strcmp(alias, LEGACY_ALIAS))
        return NET_OWNER_UNMARKED;
    return NET_OWNER_OTHER;
}

static int set_alias(struct nl_sock *s, const char *name, const struct net_state *ns,
                     struct st_err *err)
{
    struct nl_link_change c = NL_LINK_CHANGE_INIT;
    c.alias = ns->alias;
    return nl_link_set(s, name, &c, err);
}

/* Before a pass changes link 'l' (in 's') that one of its desired objects
 * names: ours goes on; an unmarked one (made before ownership marks, or
 * left half-made by a crash between its creation and its marking) is
 * adopted, since our own desired state names it; one marked by another
 * host, or by anything else, is refused and left alone. */
static int claim_link(struct pass *p, struct nl_sock *s, const struct nl_link *l,
                      struct st_err *err)
{
    switch (net_owner_of(l->alias, p->ns->alias)) {
    case NET_OWNER_MINE:
        return 0;
    case NET_OWNER_UNMARKED:
        return set_alias(s, l->name, p->ns, err);
    case NET_OWNER_OTHER:
        break;
    }
    st_err_set(err, ST_ERR_CONFLICT, "'%s' is not this host's (its alias is '%s'): left alone",
               l->name, l->alias);
    return -1;
}

/* claim_link() for the tap of a port of this host's servers.  libvirt makes
 * it, a tun device, unmarked: the driver marks it, so that another agent
 * leaves it alone, but never removes it (net_remove_leftovers() takes only
 * bridges, VXLAN devices, VLAN devices and veths).  Anything else under a
 * port's tap name (a veth standing in for a guest, as in the tests) is used
 * but not marked, so that it is never taken for one of the driver's veths. */
static int claim_port_tap(struct pass *p, const struct nl_link *tap, struct st_err *err)
{
    if (strcmp(tap->kind_name, "tun") &&
        net_owner_of(tap->alias, p->ns->alias) == NET_OWNER_UNMARKED)
        return 0;
    return claim_link(p, p->host, tap, err);
}

/* The owner of the namespace 's' is in: the alias of its loopback (a
 * namespace has no attribute of its own, and this one lives and dies with
 * it).  'alias' gets it ("" when none). */
int net_ns_alias(struct nl_sock *s, char *alias, size_t n, struct st_err *err)
{
    struct nl_link lo;
    int rc = nl_link_get(s, "lo", &lo, err);
    if (rc < 0)
        return -1;
    ST_IGNORE(st_snprintf(alias, n, "%s", rc ? lo.alias : ""));
    return 0;
}

/* claim_link() for namespace 'nsname' ('s'), before anything in it
 * changes: a namespace of ours just made has no mark yet and is marked. */
int net_claim_ns(struct pass *p, struct nl_sock *s, const char *nsname, struct st_err *err)
{
    char alias[sizeof(((struct nl_link *) 0)->alias)];
    struct nl_link_change c = NL_LINK_CHANGE_INIT;
    if (net_ns_alias(s, alias, sizeof(alias), err) < 0)
        return -1;
    switch (net_owner_of(alias, p->ns->alias)) {
    case NET_OWNER_MINE:
        return 0;
    case NET_OWNER_UNMARKED:
        c.alias = p->ns->alias;
        return nl_link_set(s, "lo", &c, err);
    case NET_OWNER_OTHER:
        break;
    }
    st_err_set(err, ST_ERR_CONFLICT,
               "namespace '%s' is not this host's (its loopback's alias is '%s'): left alone",
               nsname, alias);
    return -1;
}

/* Records that the pass left the unmarked leftover 'what' alone. */
void net_note_unmarked(struct net_state *ns, const char *kind, const char *name)
{
    char what[sizeof(ns->notes[0].what)];
    if (st_snprintf(what, sizeof(what), "%s '%s'", kind, name) < 0)
        return;
    ns->stats.unmarked++;
    for (size_t i = 0; i < ns->nnotes; i++)
        if (!strcmp(ns->notes[i].what, what)) {
            ns->notes[i].seen = true;
            return;
        }
    ns->notes = st_xrealloc(ns->notes, (ns->nnotes + 1) * sizeof(*ns->notes));
    memcpy(ns->notes[ns->nnotes].what, what, sizeof(what));
    ns->notes[ns->nnotes].seen = true;
    ns->nnotes++;
}

/* Forgets the notes of leftovers that are gone; lists the new ones in
 * 'fresh' ('first' is the number of notes before the pass). */
static void notes_settle(struct net_state *ns, size_t first)
{
    size_t w = 0;
    ns->nfresh = 0;
    free(ns->fresh);
    ns->fresh = st_xcalloc(ns->nnotes + 1, sizeof(*ns->fresh));
    for (size_t i = 0; i < ns->nnotes; i++) {
        bool fresh = i >= first;
        if (!ns->notes[i].seen)
            continue;
        ns->notes[i].seen = false;
        ns->notes[w] = ns->notes[i];
        if (fresh)
            ns->fresh[ns->nfresh++] = ns->notes[w].what;
        w++;
    }
    ns->nnotes = w;
}

size_t net_unmarked_new(const struct net_state *ns, const char *const **what)
{
    *what = ns->fresh;
    return ns->nfresh;
}

/* ---- links ---- */

/* Deletes every link of namespace socket 's' but loopback and 'keep'. */
static int prune_links(struct nl_sock *s, const char *const *keep, size_t nkeep,
                       struct net_state *ns, struct st_err *err)
{
    struct nl_dump *dump = nl_dump_start(s, NL_DUMP_LINKS, 0, err);
    const struct nl_entry *e;
    int rc = 0;
    if (!dump)
        return -1;
    while ((e = nl_dump_next(dump))) {
        bool wanted = !strcmp(e->u.link.name, "lo");
        for (size_t i = 0; i < nkeep && !wanted; i++)
            wanted = !strcmp(keep[i], e->u.link.name);
        if (wanted)
            continue;
        if (nl_link_del(s, e->u.link.name, err) < 0) {
            rc = -1;
            break;
        }
        ns->stats.removed++;
    }
    nl_dump_done(dump);
    return rc;
}

/* A veth with 'tap' on the bridge 'bridge_idx' of the host and 'inner'
 * (MAC 'mac', MTU 'mtu' when > 0) in namespace 'nsname' ('nsock').  A half
 * pair, or one whose inner end moved away, is made again. */
static int ensure_veth(struct pass *p, const char *nsname, struct nl_sock *nsock, const char *tap,
                       const char *inner, const char *mac, int mtu, int bridge_idx,
                       struct st_err *err)
{
    struct nl_link lt, li;
    int ht = nl_link_get(p->host, tap, &lt, err), hi;
    if (ht < 0)
        return -1;
    hi = nl_link_get(nsock, inner, &li, err);
    if (hi < 0)
        return -1;
    if (ht && lt.kind != NL_KIND_VETH) {
        st_err_set(err, ST_ERR_CONFLICT, "'%s' exists and is not a veth (%s)", tap,
                   lt.kind_name[0] ? lt.kind_name : "device");
        return -1;
    }
    if (ht && claim_link(p, p->host, &lt, err) < 0)
        return -1;
    if (ht != hi) {
        /* Half a pair: its other end was deleted or moved.  Start over.
         * (The inner end is in a namespace of ours.) */
        if ((ht && nl_link_del_owned(p->host, tap, p->ns->alias, err) < 0) ||
            (hi && nl_link_del(nsock, inner, err) < 0))
            return -1;
        ht = hi = 0;
    }
    if (!ht) {
        char path[128];
        int fd;
        struct nl_link_spec spec = {
            .name = tap, .kind = NL_KIND_VETH, .mtu = mtu > 0 ? mtu : 0, .master = bridge_idx,
            .up = true, .peer = inner, .peer_mac = mac,
        };
        if (st_snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, nsname) < 0) {
            st_err_set(err, ST_ERR_INTERNAL, "namespace path too long");
            return -1;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot open namespace '%s'", nsname);
            return -1;
        }
        spec.peer_netns_fd = fd;
        ht = nl_link_add(p->host, &spec, err);
        close(fd);
        if (ht < 0)
            return -1;
        p->ns->stats.links_created++;
        if (set_alias(p->host, tap, p->ns, err) < 0 || nl_link_get(p->host, tap, &lt, err) < 0 ||
            nl_link_get(nsock, inner, &li, err) < 0)
            return -1;
    }
    if (lt.master != bridge_idx && nl_link_set_master(p->host, tap, bridge_idx, err) < 0)
        return -1;
    if (mtu > 0 && lt.mtu != mtu && nl_link_set_mtu(p->host, tap, mtu, err) < 0)
        return -1;
    if (!(lt.flags & IFF_UP) && nl_link_set_up(p->host, tap, true, err) < 0)
        return -1;
    if (strcmp(li.mac, mac) && nl_link_set_mac(nsock, inner, mac, err) < 0)
        return -1;
    if (mtu > 0 && li.mtu != mtu && nl_link_set_mtu(nsock, inner, mtu, err) < 0)
        return -1;
    if (!(li.flags & IFF_UP) && nl_link_set_up(nsock, inner, true, err) < 0)
        return -1;
    return 0;
}

/* The addresses of 'ifname' in 's' become exactly 'want' (global scope
 * only: link-local addresses are the kernel's). */
struct want_addr {
    const char *addr;
    int prefixlen;
};

static int sync_addrs(struct nl_sock *s, const char *ifname, const struct want_addr *want,
                      size_t nwant, struct st_err *err)
{
    struct nl_link l;
    struct nl_dump *dump;
    const struct nl_entry *e;
    bool *have = st_xcalloc(nwant ? nwant : 1, sizeof(*have));
    int rc = -1;
    if (nl_link_get(s, ifname, &l, err) <= 0) {
        if (!st_err_is_set(err))
            st_err_set(err, ST_ERR_NOT_FOUND, "link '%s' not found", ifname);
        goto out;
    }
    dump = nl_dump_start(s, NL_DUMP_ADDRS, 0, err);
    if (!dump)
        goto out;
    while ((e = nl_dump_next(dump))) {
        const struct nl_addr *a = &e->u.addr;
        bool wanted = false;
        if (a->ifindex != l.ifindex || a->scope != RT_SCOPE_UNIVERSE)
            continue;
        for (size_t i = 0; i < nwant; i++)
            if (!strcmp(want[i].addr, a->addr) && want[i].prefixlen == a->prefixlen) {
                have[i] = wanted = true;
            }
        if (!wanted && nl_addr_del(s, ifname, a->addr, a->prefixlen, err) < 0) {
            nl_dump_done(dump);
            goto out;
        }
    }
    nl_dump_done(dump);
    for (size_t i = 0; i < nwant; i++)
        if (!have[i] && nl_addr_add(s, ifname, want[i].addr, want[i].prefixlen, err) < 0)
            goto out;
    rc = 0;
out:
    free(have);
    return rc;
}

static int fixed_addrs(const struct model_fixed_ip *ips, int nips, struct want_addr *out)
{
    for (int i = 0; i < nips; i++)
        out[i] = (struct want_addr){ips[i].address, ips[i].prefixlen};
    return nips;
}

/* ---- networks ---- */

static int lo_up(struct nl_sock *s, struct st_err *err)
{
    return nl_link_set_up(s, "lo", true, err);
}

/* The uplink a network needs: its name and, for VLAN, its parent. */
static int uplink_of(struct pass *p, const struct model_network *n, char name[NL_IFNAME_MAX],
                     const char **parent, struct st_err *err)
{
    const char *iface;
    name[0] = '\0';
    *parent = NULL;
    switch (n->type) {
    case MODEL_NET_LOCAL:
        return 0;
    case MODEL_NET_VXLAN:
        if (!p->ns->local_ip[0]) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "VXLAN network needs [network] local_ip on this host");
            return -1;
        }
        memcpy(name, n->vxlan, strlen(n->vxlan) + 1);
        return 0;
    case MODEL_NET_FLAT:
    case MODEL_NET_VLAN:
        iface = net_mapped_iface(p->ns, n->physical_network);
        if (!iface) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "physical network '%s' has no interface mapping on this host",
                       n->physical_network);
            return -1;
        }
        if (n->type == MODEL_NET_FLAT) {
            memcpy(name, iface, strlen(iface) + 1);
            return 0;
        }
        *parent = iface;
        if (st_snprintf(name, NL_IFNAME_MAX, "%s.%lld", iface, (long long) n->segmentation_id) <
            0) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "VLAN device name '%s.%lld' is too long", iface,
                       (long long) n->segmentation_id);
            return -1;
        }
        return 0;
    }
    return 0;
}

/* Exactly one all-zeros FDB entry per peer on the VXLAN device (head-end
 * replication of broadcasts and unknown unicast, no multicast), and, as
 * Neutron's l2population, one entry per MAC of the network on another host
 * with that host's VTEP ('vxlan_fdb').  Learning is off on the device, so
 * every entry with a remote there is this agent's. */
static int sync_fdb(struct pass *p, const struct model_network *n, int vx_idx,
                    struct st_err *err)
{
    static const char zero[] = "00:00:00:00:00:00";
    struct nl_dump *dump = nl_dump_start(p->host, NL_DUMP_FDB, 0, err);
    const struct nl_entry *e;
    bool *have = st_xcalloc(n->npeers ? n->npeers : 1, sizeof(*have));
    bool *have_mac = st_xcalloc(n->nfdb ? n->nfdb : 1, sizeof(*have_mac));
    int rc = -1;
    if (!dump)
        goto out;
    while ((e = nl_dump_next(dump))) {
        const struct nl_fdb *f = &e->u.fdb;
        bool wanted = false, is_zero = !strcmp(f->mac, zero);
        if (f->ifindex != vx_idx || !f->dst[0])
            continue;
        for (size_t i = 0; is_zero && i < n->npeers; i++)
            if (!strcmp(n->vxlan_peers[i], f->dst))
                have[i] = wanted = true;
        for (size_t i = 0; !is_zero && i < n->nfdb; i++)
            if (!strcmp(n->vxlan_fdb[i].mac, f->mac) && !strcmp(n->vxlan_fdb[i].dst, f->dst))
                have_mac[i] = wanted = true;
        if (!wanted && nl_fdb_del(p->host, n->vxlan, f->mac, f->dst, err) < 0) {
            nl_dump_done(dump);
            goto out;
        }
    }
    nl_dump_done(dump);
    for (size_t i = 0; i < n->npeers; i++)
        if (!have[i] && nl_fdb_append(p->host, n->vxlan, zero, n->vxlan_peers[i], err) < 0)
            goto out;
    for (size_t i = 0; i < n->nfdb; i++)
        if (!have_mac[i] &&
            nl_fdb_append(p->host, n->vxlan, n->vxlan_fdb[i].mac, n->vxlan_fdb[i].dst, err) < 0)
            goto out;
    rc = 0;
out:
    free(have);
    free(have_mac);
    return rc;
}

/* Makes sure link 'name' is up and enslaved to 'bridge_idx'. */
static int attach(struct pass *p, const struct nl_link *l, int bridge_idx, struct st_err *err)
{
    if (l->master != bridge_idx && nl_link_set_master(p->host, l->name, bridge_idx, err) < 0)
        return -1;
    if (!(l->flags & IFF_UP) && nl_link_set_up(p->host, l->name, true, err) < 0)
        return -1;
    return 0;
}

static int ensure_dhcp(struct pass *p, const struct model_network *n, int bridge_idx,
                       struct st_err *err)
{
    const struct model_dhcp *dh = n->dhcp;
    struct want_addr want[MODEL_MAX_IPS];
    const char *keep[] = {dh->ns_if};
    struct nl_sock *s;
    int rc = -1;
    if (netns_add(n->dhcp_ns, err) < 0)
        return -1;
    s = nl_open(n->dhcp_ns, err);
    if (!s)
        return -1;
    if (net_claim_ns(p, s, n->dhcp_ns, err) < 0 || lo_up(s, err) < 0 ||
        prune_links(s, keep, 1, p->ns, err) < 0 ||
        ensure_veth(p, n->dhcp_ns, s, dh->tap, dh->ns_if, dh->mac, n->mtu, bridge_idx, err) < 0 ||
        sync_addrs(s, dh->ns_if, want, (size_t) fixed_addrs(dh->ips, dh->nips, want), err) < 0)
        goto out;
    /* Close before dnsmasq may need a restart: nothing of ours should
     * hold the namespace longer than needed. */
    nl_close(s);
    s = NULL;
    if (dhcp_ensure(n, p->ns->state_dir, p->ns->dnsmasq, NULL, err) < 0)
        goto out;
    rc = 0;
out:
    nl_close(s);
    return rc;
}

static void host_sysctl(const char *iface, const char *key, const char *value)
{
    char path[128];
    struct stat sb;
    if (st_snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", iface, key) < 0 ||
        stat(path, &sb) < 0)
        return; /* no IPv6 on this host */
    if (st_snprintf(path, sizeof(path), "net/ipv6/conf/%s/%s", iface, key) < 0)
        return;
    ST_IGNORE(netns_sysctl_set(NULL, path, value, NULL));
}

static int ensure_network(struct pass *p, const struct model_network *n, struct st_err *err)
{
    char up_name[NL_IFNAME_MAX];
    const char *parent;
    struct nl_link br, up;
    int rc;

    if (uplink_of(p, n, up_name, &parent, err) < 0)
        return -1;
    /* A VLAN uplink first: on a kernel without 802.1Q nothing else of the
     * network is made. */
    if (n->type == MODEL_NET_VLAN) {
        struct nl_link par;
        rc = nl_link_get(p->host, parent, &par, err);
        if (rc <= 0) {
            if (rc == 0)
                st_err_set(err, ST_ERR_NOT_FOUND,
                           "interface '%s' of physical network '%s' not found", parent,
                           n->physical_network);
            return -1;
        }
        rc = nl_link_get(p->host, up_name, &up, err);
        if (rc < 0 || (rc && claim_link(p, p->host, &up, err) < 0))
            return -1;
        if (rc == 0) {
            struct nl_link_spec spec = {.name = up_name, .kind = NL_KIND_VLAN,
                                        .link = par.ifindex,
                                        .vid = (uint16_t) n->segmentation_id,
                                        .peer_netns_fd = -1};
            if (nl_link_add(p->host, &spec, err) < 0) {
                if (err && err->kind == ST_ERR_NOT_IMPLEMENTED) {
                    char msg[ST_ERR_MSG_MAX];
                    memcpy(msg, err->msg, sizeof(msg));
                    st_err_clear(err);
                    st_err_set(err, ST_ERR_NOT_IMPLEMENTED, "skipped: %s", msg);
                }
                return -1;
            }
            p->ns->stats.links_created++;
            if (set_alias(p->host, up_name, p->ns, err) < 0)
                return -1;
        }
    }

    rc = nl_link_get(p->host, n->bridge, &br, err);
    if (rc < 0)
        return -1;
    if (rc && br.kind != NL_KIND_BRIDGE) {
        st_err_set(err, ST_ERR_CONFLICT, "'%s' exists and is not a bridge", n->bridge);
        return -1;
    }
    if (rc && claim_link(p, p->host, &br, err) < 0)
        return -1;
    if (!rc) {
        struct nl_link_spec spec = {.name = n->bridge, .kind = NL_KIND_BRIDGE, .up = true,
                                    .br_nf_call = true, .peer_netns_fd = -1};
        if (nl_link_add(p->host, &spec, err) < 0 || set_alias(p->host, n->bridge, p->ns, err) < 0 ||
            nl_link_get(p->host, n->bridge, &br, err) < 0)
            return -1;
        p->ns->stats.links_created++;
        /* The host takes no part in tenant networks: no address, no
         * router advertisements from guests. */
        host_sysctl(n->bridge, "disable_ipv6", "1");
    }
    if (br.br_nf_call != 1) {
        struct nl_link_change c = NL_LINK_CHANGE_INIT;
        c.br_nf_call = 1;
        if (nl_link_set(p->host, n->bridge, &c, err) < 0)
            return -1;
    }
    if (!(br.flags & IFF_UP) && nl_link_set_up(p->host, n->bridge, true, err) < 0)
        return -1;

    switch (n->type) {
    case MODEL_NET_LOCAL:
        break;
    case MODEL_NET_FLAT:
    case MODEL_NET_VLAN:
        rc = nl_link_get(p->host, up_name, &up, err);
        if (rc <= 0) {
            if (rc == 0)
                st_err_set(err, ST_ERR_NOT_FOUND,
                           "interface '%s' of physical network '%s' not found", up_name,
                           n->physical_network);
            return -1;
        }
        if (up.master && up.master != br.ifindex) {
            st_err_set(err, ST_ERR_CONFLICT,
                       "interface '%s' of physical network '%s' is already enslaved elsewhere",
                       up_name, n->physical_network);
            return -1;
        }
        if (attach(p, &up, br.ifindex, err) < 0)
            return -1;
        break;
    case MODEL_NET_VXLAN:
        rc = nl_link_get(p->host, up_name, &up, err);
        if (rc < 0 || (rc && claim_link(p, p->host, &up, err) < 0))
            return -1;
        if (rc && (up.kind != NL_KIND_VXLAN || up.vni != (uint32_t) n->segmentation_id)) {
            if (nl_link_del_owned(p->host, up_name, p->ns->alias, err) < 0)
                return -1;
            rc = 0;
        }
        if (!rc) {
            struct nl_link_spec spec = {.name = up_name, .kind = NL_KIND_VXLAN,
                                        .vni = (uint32_t) n->segmentation_id,
                                        .local = p->ns->local_ip, .mtu = n->mtu,
                                        .master = br.ifindex, .up = true,
                                        .peer_netns_fd = -1};
            if (nl_link_add(p->host, &spec, err) < 0 ||
                set_alias(p->host, up_name, p->ns, err) < 0 ||
                nl_link_get(p->host, up_name, &up, err) < 0)
                return -1;
            p->ns->stats.links_created++;
        }
        if (attach(p, &up, br.ifindex, err) < 0 || sync_fdb(p, n, up.ifindex, err) < 0)
            return -1;
        break;
    }
    if (n->dhcp && ensure_dhcp(p, n, br.ifindex, err) < 0)
        return -1;
    return 0;
}

static json_t *status_entry(const char *id, const char *status, const struct st_err *e)
{
    return json_pack("{s:s, s:s, s:o}", "id", id, "status", status, "error",
                     st_json_str_or_null(e && st_err_is_set(e) ? e->msg : NULL));
}

/* ---- the link cache ---- */

static int link_cmp(const void *a, const void *b)
{
    return strcmp(((const struct nl_link *) a)->name, ((const struct nl_link *) b)->name);
}

void net_links_forget(struct link_cache *lc)
{
    free(lc->v);
    *lc = (struct link_cache){0};
}

int net_links_load(struct pass *p, struct st_err *err)
{
    struct link_cache *lc = &p->links;
    size_t alloc = 0;
    struct nl_dump *dump;
    const struct nl_entry *e;

    if (lc->loaded)
        return 0;
    dump = nl_dump_start(p->host, NL_DUMP_LINKS, 0, err);
    if (!dump)
        return -1;
    while ((e = nl_dump_next(dump))) {
        if (lc->n == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            lc->v = st_xrealloc(lc->v, alloc * sizeof(*lc->v));
        }
        lc->v[lc->n++] = e->u.link;
    }
    nl_dump_done(dump);
    qsort(lc->v, lc->n, sizeof(*lc->v), link_cmp);
    lc->loaded = true;
    return 0;
}

/* nl_link_get() through the cache: 1 and 'out', 0 when absent, -1. */
static int cached_link(struct pass *p, const char *name, struct nl_link *out, struct st_err *err)
{
    struct nl_link key;
    const struct nl_link *l;
    if (net_links_load(p, err) < 0)
        return -1;
    if (st_snprintf(key.name, sizeof(key.name), "%s", name) < 0)
        return 0; /* longer than any link name */
    l = bsearch(&key, p->links.v, p->links.n, sizeof(*p->links.v), link_cmp);
    if (!l)
        return 0;
    *out = *l;
    return 1;
}

/* ---- ports ---- */

static json_t *port_status(struct pass *p, const struct model_port *port)
{
    struct st_err e = ST_ERR_INIT;
    struct nl_link tap, br;
    const char *status = "DOWN";
    size_t idx;
    int rc;
    for (idx = 0; idx < p->d->nnetworks; idx++)
        if (!strcmp(p->d->networks[idx].id, port->network_id))
            break;
    if (idx == p->d->nnetworks) {
        st_err_set(&e, ST_ERR_BAD_REQUEST, "network '%s' is not in the desired state",
                   port->network_id);
        goto out;
    }
    if (!p->net_ok[idx]) {
        st_err_set(&e, ST_ERR_UNAVAILABLE, "network '%s' is in error", port->network_id);
        goto out;
    }
    for (size_t i = 0; i < port->nsecurity_groups; i++)
        if (port->port_security && !model_find_secgroup(p->d, port->security_groups[i])) {
            st_err_set(&e, ST_ERR_BAD_REQUEST, "security group '%s' is not in the desired state",
                       port->security_groups[i]);
            goto out;
        }
    /* The bridges were made before the cache is loaded (networks come
     * first); a tap is libvirt's, made when its domain starts, and the end
     * of a pass that started domains looks again (net_port_status). */
    rc = cached_link(p, port->tap, &tap, &e);
    if (rc <= 0)
        goto out; /* no tap yet: the server is not running here */
    /* libvirt makes a tap, names it, adds it to the bridge and only then
     * sets it up: one down and in no bridge is still libvirt's to finish
     * (for a guest coming in by live migration, libvirtd does it without
     * this agent asking), and taking it first fails libvirt's own
     * add (EBUSY) and with it the guest's start.  An up tap outside its
     * bridge lost it (a bridge made again) and is put back. */
    if (!strcmp(tap.kind_name, "tun") && !(tap.flags & IFF_UP) && !tap.master)
        goto out;
    if (claim_port_tap(p, &tap, &e) < 0)
        goto out;
    if (cached_link(p, p->d->networks[idx].bridge, &br, &e) <= 0)
        goto out;
    if (attach(p, &tap, br.ifindex, &e) < 0)
        goto out;
    status = "ACTIVE";
out:
    return status_entry(port->id, status, &e);
}

/* ---- routers ---- */

static int router_leg(struct pass *p, const struct model_router *r, struct nl_sock *s,
                      const struct model_router_port *leg, const struct want_addr *extra,
                      size_t nextra, struct st_err *err)
{
    struct want_addr want[MODEL_MAX_IPS + MODEL_MAX_FIPS];
    struct nl_link br;
    size_t n, idx;
    for (idx = 0; idx < p->d->nnetworks; idx++)
        if (!strcmp(p->d->networks[idx].id, leg->network_id))
            break;
    if (idx == p->d->nnetworks) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "network '%s' of port '%s' is not in the desired state",
                   leg->network_id, leg->port_id);
        return -1;
    }
    if (!p->net_ok[idx]) {
        st_err_set(err, ST_ERR_UNAVAILABLE, "network '%s' of port '%s' is in error",
                   leg->network_id, leg->port_id);
        return -1;
    }
    if (nl_link_get(p->host, p->d->networks[idx].bridge, &br, err) <= 0) {
        if (!st_err_is_set(err))
            st_err_set(err, ST_ERR_NOT_FOUND, "bridge '%s' not found", p->d->networks[idx].bridge);
        return -1;
    }
    if (ensure_veth(p, r->netns, s, leg->tap, leg->ifname, leg->mac, p->d->networks[idx].mtu,
                    br.ifindex, err) < 0)
        return -1;
    n = (size_t) fixed_addrs(leg->ips, leg->nips, want);
    for (size_t i = 0; i < nextra; i++)
        want[n++] = extra[i];
    return sync_addrs(s, leg->ifname, want, n, err);
}

struct want_route {
    char dst[MODEL_CIDR_MAX];
    const char *via;
    const char *dev;
};

static int sync_routes(struct nl_sock *s, const struct want_route *want, size_t nwant,
                       struct st_err *err)
{
    static const int fams[] = {AF_INET, AF_INET6};
    bool *have = st_xcalloc(nwant ? nwant : 1, sizeof(*have));
    int rc = -1;
    for (size_t f = 0; f < ST_ARRAY_SIZE(fams); f++) {
        struct nl_dump *dump = nl_dump_start(s, NL_DUMP_ROUTES, fams[f], err);
        const struct nl_entry *e;
        if (!dump)
            goto out;
        while ((e = nl_dump_next(dump))) {
            const struct nl_route *rt = &e->u.route;
            bool wanted = false;
            if (rt->table != RT_TABLE_MAIN || rt->protocol != RTPROT_STATIC)
                continue;
            for (size_t i = 0; i < nwant; i++)
                if (!strcmp(want[i].dst, rt->dst) && !strcmp(want[i].via, rt->gateway))
                    have[i] = wanted = true;
            if (!wanted &&
                nl_route_del(s, rt->dst, rt->gateway[0] ? rt->gateway : NULL, NULL, err) < 0) {
                nl_dump_done(dump);
                goto out;
            }
        }
        nl_dump_done(dump);
    }
    for (size_t i = 0; i < nwant; i++)
        if (!have[i] && nl_route_add(s, want[i].dst, want[i].via, want[i].dev, err) < 0)
            goto out;
    rc = 0;
out:
    free(have);
    return rc;
}

static int ensure_router(struct pass *p, const struct model_router *r, struct st_err *err)
{
    const char **keep = st_xcalloc(r->ninterfaces + 1, sizeof(*keep));
    struct want_addr *fips = st_xcalloc(r->nfloating_ips + 1, sizeof(*fips));
    struct want_route *routes = st_xcalloc(r->nroutes + 1, sizeof(*routes));
    struct nl_sock *s = NULL;
    int64_t t0;
    size_t nkeep = 0, nroutes = 0;
    int rc = -1;

    if (netns_add(r->netns, err) < 0)
        goto out;
    s = nl_open(r->netns, err);
    if (!s || net_claim_ns(p, s, r->netns, err) < 0 || lo_up(s, err) < 0 ||
        netns_sysctl_set(r->netns, "net.ipv4.ip_forward", "1", err) < 0)
        goto out;
    ST_IGNORE(netns_sysctl_set(r->netns, "net.ipv6.conf.all.forwarding", "1", NULL));
    if (r->has_gateway)
        keep[nkeep++] = r->gateway.ifname;
    for (size_t i = 0; i < r->ninterfaces; i++)
        keep[nkeep++] = r->interfaces[i].ifname;
    if (prune_links(s, keep, nkeep, p->ns, err) < 0)
        goto out;
    if (r->has_gateway) {
        for (size_t i = 0; i < r->nfloating_ips; i++)
            fips[i] = (struct want_addr){r->floating_ips[i].floating_ip, 32};
        if (router_leg(p, r, s, &r->gateway, fips, r->nfloating_ips, err) < 0)
            goto out;
    }
    for (size_t i = 0; i < r->ninterfaces; i++)
        if (router_leg(p, r, s, &r->interfaces[i], NULL, 0, err) < 0)
            goto out;
    if (r->has_gateway && r->gateway_ip[0]) {
        bool v6 = strchr(r->gateway_ip, ':') != NULL;
        routes = st_xrealloc(routes, (r->nroutes + 2) * sizeof(*routes));
        memcpy(routes[nroutes].dst, v6 ? "::/0" : "0.0.0.0/0", v6 ? 5 : 10);
        routes[nroutes].via = r->gateway_ip;
        routes[nroutes].dev = r->gateway.ifname;
        nroutes++;
    }
    for (size_t i = 0; i < r->nroutes; i++) {
        memcpy(routes[nroutes].dst, r->routes[i].destination, sizeof(routes[nroutes].dst));
        routes[nroutes].via = r->routes[i].nexthop;
        routes[nroutes].dev = NULL;
        nroutes++;
    }
    if (sync_routes(s, routes, nroutes, err) < 0)
        goto out;
    nl_close(s);
    s = NULL;
    t0 = st_mono_ns();
    if (nft_sync(p, r->netns, nft_router_ruleset(p->ns->host_id, r, err), t0, err) < 0)
        goto out;
    rc = 0;
out:
    nl_close(s);
    free(keep);
    free(fips);
    free(routes);
    return rc;
}

/* ---- the pass ---- */

static int need_owner(const struct net_state *ns, struct st_err *err)
{
    if (ns->host_id[0])
        return 0;
    st_err_set(err, ST_ERR_UNAVAILABLE,
               "the network driver has no host id yet (the agent learns it at registration)");
    return -1;
}

int net_set_host_id(struct net_state *ns, const char *host_id, struct st_err *err)
{
    char alias[NET_OWNER_ALIAS_MAX];
    if (net_owner_alias(host_id, alias, err) < 0 || host_id_save(ns, host_id, err) < 0)
        return -1;
    memcpy(ns->host_id, host_id, strlen(host_id) + 1);
    memcpy(ns->alias, alias, sizeof(alias));
    return 0;
}

const char *net_host_id(const struct net_state *ns)
{
    return ns->host_id;
}

/* br_netfilter makes bridged IP traffic visible to the inet hooks, which
 * the security groups need.  Debian builds it as a module that nothing
 * loads by itself; try once. */
static void check_br_netfilter(struct net_state *ns)
{
    struct stat sb;
    if (ns->br_nf_checked)
        return;
    ns->br_nf_checked = true;
    if (stat("/proc/sys/net/bridge", &sb) == 0)
        return;
    struct st_cmd *cmd = cmd_new("modprobe");
    cmd_arg(cmd, "br_netfilter");
    cmd_set_timeout(cmd, 30);
    ST_IGNORE(cmd_run(cmd, NULL, NULL, NULL, NULL));
    cmd_free(cmd);
}

int net_reconcile(struct net_state *ns, const struct model_desired *d, json_t *report,
                  struct st_err *err)
{
    struct pass p = {.ns = ns, .d = d};
    json_t *nets = json_array(), *ports = json_array(), *routers = json_array();
    uint16_t *zones = st_xcalloc(d->nnetworks + 1, sizeof(*zones));
    struct st_err e = ST_ERR_INIT;
    int64_t start = st_mono_ns(), t0;
    size_t nnotes;
    int rc = -1;

    memset(&ns->stats, 0, sizeof(ns->stats));
    p.net_ok = st_xcalloc(d->nnetworks + 1, sizeof(*p.net_ok));
    if (host_id_sync(ns, d, err) < 0 || need_owner(ns, err) < 0)
        goto out;
    check_br_netfilter(ns);
    p.host = nl_open(NULL, err);
    if (!p.host)
        goto out;
    if (zones_sync(ns, d, zones, err) < 0)
        goto out;

    for (size_t i = 0; i < d->nnetworks; i++) {
        st_err_clear(&e);
        p.net_ok[i] = ensure_network(&p, &d->networks[i], &e) == 0;
        json_array_append_new(nets, status_entry(d->networks[i].id,
                                                 p.net_ok[i] ? "ACTIVE" : "ERROR", &e));
    }
    for (size_t i = 0; i < d->nports; i++)
        json_array_append_new(ports, port_status(&p, &d->ports[i]));
    for (size_t i = 0; i < d->nrouters; i++) {
        st_err_clear(&e);
        bool ok = ensure_router(&p, &d->routers[i], &e) == 0;
        json_array_append_new(routers,
                              status_entry(d->routers[i].id, ok ? "ACTIVE" : "ERROR", &e));
    }

    /* The host's rules last: every bridge they name exists by now. */
    t0 = st_mono_ns();
    rc = nft_sync(&p, NULL, nft_host_ruleset(ns->host_id, d, zones, err), t0, err);
    st_err_clear(&e);
    nnotes = ns->nnotes;
    if (net_remove_leftovers(&p, d, &e) < 0 && rc == 0) {
        /* A leftover that cannot go is retried next pass; say it once. */
        if (err && !st_err_is_set(err))
            *err = e;
        rc = -1;
    }
    notes_settle(ns, nnotes);
    applied_forget(ns, true);
out:
    json_object_set_new(report, "networks", nets);
    json_object_set_new(report, "ports", ports);
    json_object_set_new(report, "routers", routers);
    net_links_forget(&p.links);
    nl_close(p.host);
    free(zones);
    free(p.net_ok);
    ns->stats.total_ns = st_mono_ns() - start;
    return rc;
}

int net_port_status(struct net_state *ns, const struct model_desired *d, json_t *report,
                    struct st_err *err)
{
    struct pass p = {.ns = ns, .d = d};
    json_t *ports = json_array();
    json_t *nets = json_object_get(report, "networks");
    p.net_ok = st_xcalloc(d->nnetworks + 1, sizeof(*p.net_ok));
    /* A network is usable when the last pass said so. */
    for (size_t i = 0; i < d->nnetworks; i++) {
        size_t j;
        json_t *e;
        json_array_foreach(nets, j, e)
        {
            if (st_streq(json_string_value(json_object_get(e, "id")), d->networks[i].id))
                p.net_ok[i] = st_streq(json_string_value(json_object_get(e, "status")), "ACTIVE");
        }
    }
    p.host = need_owner(ns, err) == 0 ? nl_open(NULL, err) : NULL;
    if (p.host) {
        for (size_t i = 0; i < d->nports; i++)
            json_array_append_new(ports, port_status(&p, &d->ports[i]));
        net_links_forget(&p.links);
        nl_close(p.host);
    }
    json_object_set_new(report, "ports", ports);
    free(p.net_ok);
    return p.host ? 0 : -1;
}

const struct net_stats *net_last_stats(const struct net_state *ns)
{
    return &ns->stats;
}

int net_teardown_all(struct net_state *ns, struct st_err *err)
{
    struct pass p = {.ns = ns};
    char *zp;
    size_t first;
    int rc;
    if (need_owner(ns, err) < 0)
        return -1;
    p.host = nl_open(NULL, err);
    if (!p.host)
        return -1;
    first = ns->nnotes;
    rc = net_remove_leftovers(&p, NULL, err);
    notes_settle(ns, first);
    net_links_forget(&p.links);
    nl_close(p.host);
    /* Only the tables of this host (none if it never learnt its id). */
    if (ns->host_id[0] && nft_host_teardown(ns->host_id, NULL, rc == 0 ? err : NULL) < 0)
        rc = -1;
    applied_forget(ns, false);
    free(ns->zones);
    ns->zones = NULL;
    ns->nzones = 0;
    zp = zones_path(ns);
    (void) unlink(zp);
    free(zp);
    zp = host_id_path(ns);
    (void) unlink(zp);
    free(zp);
    ns->host_id[0] = '\0';
    ns->alias[0] = '\0';
    zp = st_xasprintf("%s/dhcp", ns->state_dir);
    (void) rmdir(zp);
    free(zp);
    return rc;
}

struct net_state *net_new(const struct net_opts *opts, struct st_err *err)
{
    struct net_state *ns = st_xcalloc(1, sizeof(*ns));
    if (!opts->state_dir || opts->state_dir[0] != '/') {
        st_err_set(err, ST_ERR_BAD_REQUEST, "the network state directory must be absolute");
        goto fail;
    }
    ns->state_dir = st_xstrdup(opts->state_dir);
    ns->local_ip = st_xstrdup(opts->local_ip ? opts->local_ip : "");
    ns->dnsmasq = opts->dnsmasq ? st_xstrdup(opts->dnsmasq) : NULL;
    if (ns->local_ip[0]) {
        unsigned char bin[16];
        if (inet_pton(AF_INET, ns->local_ip, bin) != 1 &&
            inet_pton(AF_INET6, ns->local_ip, bin) != 1) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "invalid [network] local_ip '%s'", ns->local_ip);
            goto fail;
        }
    }
    if (parse_mappings(ns, opts->physical_interface_mappings, err) < 0)
        goto fail;
    zones_load(ns);
    {
        /* The owner given, else the one a former process remembered. */
        char kept[MODEL_ID_MAX];
        host_id_load(ns, kept);
        if (opts->host_id ? net_set_host_id(ns, opts->host_id, err) < 0
                          : kept[0] && net_set_host_id(ns, kept, err) < 0)
            goto fail;
    }
    return ns;
fail:
    net_free(ns);
    return NULL;
}

void net_free(struct net_state *ns)
{
    if (!ns)
        return;
    applied_forget(ns, false);
    free(ns->applied);
    free(ns->notes);
    free(ns->fresh);
    free(ns->zones);
    free(ns->state_dir);
    free(ns->local_ip);
    free(ns->dnsmasq);
    free(ns);
}

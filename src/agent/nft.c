/* nft.c - nftables batches of the network driver (see nft.h). */
#include "agent/nft.h"

#include <arpa/inet.h>
#include <nftables/libnftables.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/netlink.h"
#include "agent/netns.h"
#include "common/util.h"
#include "common/banned.h"

/* The base chains, as data (STYLE §13).  'table' names the table kind. */
enum nft_table { T_BRIDGE, T_INET, T_ROUTER };

struct base_chain {
    enum nft_table table;
    const char *name;
    const char *type;     /* filter, nat */
    const char *hook;
    const char *priority; /* a named priority or a number */
    const char *comment;
};

static const struct base_chain base_chains[] = {
    {T_BRIDGE, "forward", "filter", "forward", "filter",
     "frames from ports with port security, to their anti-spoofing chains"},
    {T_BRIDGE, "input", "filter", "input", "filter",
     "frames from ports to the host itself, to the same chains"},
    {T_INET, "prerouting", "filter", "prerouting", "raw",
     "a conntrack zone per network; stateless ports untracked"},
    {T_INET, "from_ports", "filter", "forward", "0",
     "egress: (bridge . source address) names the sending port"},
    {T_INET, "to_ports", "filter", "forward", "1",
     "ingress: (bridge . destination address) names the receiving port"},
    {T_ROUTER, "prerouting", "nat", "prerouting", "dstnat", "floating IPs: DNAT"},
    {T_ROUTER, "output", "nat", "output", "-100", "floating IPs: DNAT of local traffic"},
    {T_ROUTER, "postrouting", "nat", "postrouting", "srcnat",
     "floating IPs and the gateway: SNAT"},
};

static const char *const table_family[] = {"bridge", "inet", "ip"};

static const struct base_chain *base_chain(enum nft_table t, const char *name)
{
    for (size_t i = 0; i < ST_ARRAY_SIZE(base_chains); i++)
        if (base_chains[i].table == t && !strcmp(base_chains[i].name, name))
            return &base_chains[i];
    return NULL;
}

/* Opens base chain 'name' of table 't'; the caller adds rules and "\t}\n". */
static void open_base(struct st_buf *out, enum nft_table t, const char *name)
{
    const struct base_chain *c = base_chain(t, name);
    st_buf_addf(out, "\tchain %s {\n\t\tcomment \"%s\"\n", c->name, c->comment);
    st_buf_addf(out, "\t\ttype %s hook %s priority %s; policy accept;\n", c->type, c->hook,
                c->priority);
}

static void preamble(struct st_buf *out, enum nft_table t)
{
    /* Works whether the table exists or not: add is a no-op if it does. */
    st_buf_addf(out, "table %s stratus\ndelete table %s stratus\n", table_family[t],
                table_family[t]);
}

/* ---- host: ordering and lookups ---- */

struct port_ref {
    const struct model_port *p;
    const struct model_network *net;
    size_t net_index;
};

static int cmp_port_ref(const void *a, const void *b)
{
    return strcmp(((const struct port_ref *) a)->p->id, ((const struct port_ref *) b)->p->id);
}

/* The ports of 'd' with port security whose network is known, sorted by
 * id so that the batch does not depend on the controller's order. */
static struct port_ref *secured_ports(const struct model_desired *d, size_t *n)
{
    struct port_ref *v = st_xcalloc(d->nports ? d->nports : 1, sizeof(*v));
    *n = 0;
    for (size_t i = 0; i < d->nports; i++) {
        const struct model_port *p = &d->ports[i];
        if (!p->port_security)
            continue;
        for (size_t j = 0; j < d->nnetworks; j++) {
            if (!strcmp(d->networks[j].id, p->network_id)) {
                v[(*n)++] = (struct port_ref){p, &d->networks[j], j};
                break;
            }
        }
    }
    qsort(v, *n, sizeof(*v), cmp_port_ref);
    return v;
}

/* The IPv6 link-local address a MAC gives by EUI-64 (RFC 4291). */
static void link_local(const char *mac, char out[MODEL_ADDR_MAX])
{
    unsigned char m[6], a[16] = {0xfe, 0x80};
    out[0] = '\0';
    if (nl_parse_mac(mac, m) < 0)
        return;
    a[8] = m[0] ^ 0x02;
    a[9] = m[1];
    a[10] = m[2];
    a[11] = 0xff;
    a[12] = 0xfe;
    a[13] = m[3];
    a[14] = m[4];
    a[15] = m[5];
    if (!inet_ntop(AF_INET6, a, out, MODEL_ADDR_MAX))
        out[0] = '\0';
}

/* A (MAC, address) binding of a port, for its anti-spoofing chain. */
struct binding {
    const char *mac;
    char ip[MODEL_CIDR_MAX]; /* address, or CIDR for a pair */
    int family;
    bool single;             /* one address (dispatch key) */
};

static size_t port_bindings(const struct model_port *p, struct binding *b, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < p->nips && n < max; i++, n++) {
        b[n].mac = p->mac;
        b[n].family = p->ips[i].family;
        b[n].single = true;
        ST_IGNORE(st_snprintf(b[n].ip, sizeof(b[n].ip), "%s", p->ips[i].address));
    }
    for (int i = 0; i < p->npairs && n < max; i++, n++) {
        const struct model_address_pair *ap = &p->pairs[i];
        bool host = ap->prefixlen == (ap->family == AF_INET ? 32 : 128);
        b[n].mac = ap->mac;
        b[n].family = ap->family;
        b[n].single = host;
        if (host) {
            /* "10.0.0.7/32" -> "10.0.0.7" */
            const char *slash = strchr(ap->ip, '/');
            ST_IGNORE(st_snprintf(b[n].ip, sizeof(b[n].ip), "%.*s",
                                  (int) (slash ? (size_t) (slash - ap->ip) : strlen(ap->ip)),
                                  ap->ip));
        } else {
            ST_IGNORE(st_snprintf(b[n].ip, sizeof(b[n].ip), "%s", ap->ip));
        }
    }
    return n;
}

#define MAX_BINDINGS (MODEL_MAX_IPS + MODEL_MAX_PAIRS)

/* ---- host: the bridge table ---- */

static void render_port_spoof(struct st_buf *out, const struct model_port *p)
{
    struct binding b[MAX_BINDINGS];
    size_t nb = port_bindings(p, b, MAX_BINDINGS);
    char ll[MODEL_ADDR_MAX];

    st_buf_addf(out, "\tchain port-%s {\n", p->id);
    st_buf_adds(out, "\t\tudp sport 67 udp dport 68 drop comment \"DHCP server in a guest\"\n");
    st_buf_adds(out, "\t\tudp sport 547 udp dport 546 drop comment \"DHCPv6 server in a guest\"\n");
    st_buf_adds(out, "\t\ticmpv6 type nd-router-advert drop comment \"router advertisement from "
                     "a guest\"\n");
    st_buf_addf(out,
                "\t\tether saddr %s ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp "
                "dport 67 accept comment \"DHCP request\"\n",
                p->mac);
    for (size_t i = 0; i < nb; i++) {
        if (b[i].family == AF_INET) {
            st_buf_addf(out, "\t\tether saddr %s ip saddr %s accept\n", b[i].mac, b[i].ip);
            st_buf_addf(out, "\t\tether saddr %s arp saddr ether %s arp saddr ip %s accept\n",
                        b[i].mac, b[i].mac, b[i].ip);
        } else {
            st_buf_addf(out, "\t\tether saddr %s ip6 saddr %s accept\n", b[i].mac, b[i].ip);
        }
    }
    /* ARP probes (RFC 5227) carry sender address 0.0.0.0: DHCP clients
     * check an offered address with them. */
    st_buf_addf(out,
                "\t\tether saddr %s arp saddr ether %s arp saddr ip 0.0.0.0 accept comment "
                "\"ARP probe\"\n",
                p->mac, p->mac);
    link_local(p->mac, ll);
    st_buf_addf(out, "\t\tether saddr %s ip6 saddr %s accept comment \"link-local\"\n", p->mac,
                ll);
    for (int i = 0; i < p->npairs; i++) {
        if (strcmp(p->pairs[i].mac, p->mac)) {
            link_local(p->pairs[i].mac, ll);
            st_buf_addf(out, "\t\tether saddr %s ip6 saddr %s accept comment \"link-local\"\n",
                        p->pairs[i].mac, ll);
        }
    }
    st_buf_addf(out,
                "\t\tether saddr %s ip6 saddr :: icmpv6 type { nd-neighbor-solicit, "
                "mld2-listener-report } accept comment \"IPv6 duplicate address detection\"\n",
                p->mac);
    st_buf_adds(out, "\t\tdrop\n\t}\n");
}

static void render_bridge_table(struct st_buf *out, const struct port_ref *ports, size_t n)
{
    static const char *const bases[] = {"forward", "input"};
    st_buf_adds(out, "table bridge stratus {\n\tcomment \"stratus-agent: anti-spoofing of the "
                     "ports of this host (generated; do not edit)\"\n");
    for (size_t c = 0; c < ST_ARRAY_SIZE(bases); c++) {
        open_base(out, T_BRIDGE, bases[c]);
        if (n) {
            st_buf_adds(out, "\t\tiifname vmap {");
            for (size_t i = 0; i < n; i++)
                st_buf_addf(out, "%s \"%s\" : jump port-%s", i ? "," : "", ports[i].p->tap,
                            ports[i].p->id);
            st_buf_adds(out, " }\n");
        }
        st_buf_adds(out, "\t}\n");
    }
    for (size_t i = 0; i < n; i++)
        render_port_spoof(out, ports[i].p);
    st_buf_adds(out, "}\n");
}

/* ---- host: the inet table ---- */

/* A dispatch entry: (bridge . address) -> port chain. */
struct dispatch {
    const char *bridge;
    const char *addr;
    const char *port_id;
    int family;
    size_t order;
};

static int cmp_dispatch(const void *a, const void *b)
{
    const struct dispatch *x = a, *y = b;
    int c = strcmp(x->bridge, y->bridge);
    if (!c)
        c = strcmp(x->addr, y->addr);
    if (!c)
        c = x->order < y->order ? -1 : x->order > y->order;
    return c;
}

/* Collects the single-address bindings of 'ports' of 'family' into a
 * sorted, duplicate-free list (an address claimed twice on one bridge
 * goes to the first port in id order: two equal keys would make nft
 * refuse the whole batch).  Returns the count. */
static size_t collect_dispatch(const struct port_ref *ports, size_t n, int family,
                               struct dispatch **out, struct binding (*b)[MAX_BINDINGS],
                               const size_t *nb)
{
    size_t k = 0, total = 0, w = 0;
    for (size_t i = 0; i < n; i++)
        total += nb[i];
    *out = st_xcalloc(total ? total : 1, sizeof(**out));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nb[i]; j++)
            if (b[i][j].family == family && b[i][j].single) {
                (*out)[k] = (struct dispatch){ports[i].net->bridge, b[i][j].ip, ports[i].p->id,
                                              family, k};
                k++;
            }
    qsort(*out, k, sizeof(**out), cmp_dispatch);
    for (size_t i = 0; i < k; i++) {
        if (w && !strcmp((*out)[w - 1].bridge, (*out)[i].bridge) &&
            !strcmp((*out)[w - 1].addr, (*out)[i].addr))
            continue;
        (*out)[w++] = (*out)[i];
    }
    return w;
}

static void render_vmap(struct st_buf *out, const char *dir_if, const char *dir_addr,
                        const char *chain_prefix, const struct dispatch *v, size_t n)
{
    if (!n)
        return;
    st_buf_addf(out, "\t\t%s . %s %s vmap {", dir_if, v[0].family == AF_INET ? "ip" : "ip6",
                dir_addr);
    for (size_t i = 0; i < n; i++)
        st_buf_addf(out, "%s \"%s\" . %s : jump %s-%s", i ? "," : "", v[i].bridge, v[i].addr,
                    chain_prefix, v[i].port_id);
    st_buf_adds(out, " }\n");
}

static bool port_stateless(const struct model_desired *d, const struct model_port *p)
{
    size_t found = 0;
    for (size_t i = 0; i < p->nsecurity_groups; i++) {
        const struct model_secgroup *g = model_find_secgroup(d, p->security_groups[i]);
        if (!g)
            continue;
        if (g->stateful)
            return false;
        found++;
    }
    return found > 0;
}

static const char *l4_name(int proto)
{
    switch (proto) {
    case 6:
        return "tcp";
    case 17:
        return "udp";
    case 132:
        return "sctp";
    case 33:
        return "dccp";
    case 136:
        return "udplite";
    default:
        return NULL;
    }
}

static void render_rule(struct st_buf *out, const struct model_sg_rule *r)
{
    bool v4 = r->family == AF_INET;
    const char *ip = v4 ? "ip" : "ip6";
    const char *peer = r->direction == MODEL_SG_INGRESS ? "saddr" : "daddr";
    const char *l4 = l4_name(r->protocol);

    st_buf_addf(out, "\t\tmeta nfproto %s", v4 ? "ipv4" : "ipv6");
    /* "0.0.0.0/0" and "::/0" mean any address: no match needed. */
    if (r->remote_ip_prefix[0] && !strstr(r->remote_ip_prefix, "/0"))
        st_buf_addf(out, " %s %s %s", ip, peer, r->remote_ip_prefix);
    else if (r->remote_group_id[0])
        st_buf_addf(out, " %s %s @g%c-%s", ip, peer, v4 ? '4' : '6', r->remote_group_id);
    if (r->protocol >= 0) {
        if (l4 && r->port_min > 0) {
            if (r->port_min == r->port_max)
                st_buf_addf(out, " %s dport %d", l4, r->port_min);
            else
                st_buf_addf(out, " %s dport %d-%d", l4, r->port_min, r->port_max);
        } else if ((r->protocol == 1 || r->protocol == 58) && r->port_min >= 0) {
            const char *icmp = r->protocol == 1 ? "icmp" : "icmpv6";
            st_buf_addf(out, " %s type %d", icmp, r->port_min);
            if (r->port_max >= 0)
                st_buf_addf(out, " %s code %d", icmp, r->port_max);
        } else {
            st_buf_addf(out, " meta l4proto %d", r->protocol);
        }
    }
    st_buf_addf(out, " accept comment \"rule %s\"\n", r->id);
}

static void render_group_chains(struct st_buf *out, const struct model_secgroup *g)
{
    static const enum model_sg_dir dirs[] = {MODEL_SG_INGRESS, MODEL_SG_EGRESS};
    for (size_t k = 0; k < ST_ARRAY_SIZE(dirs); k++) {
        st_buf_addf(out, "\tchain sg-%s-%s {\n", g->id,
                    dirs[k] == MODEL_SG_INGRESS ? "ingress" : "egress");
        for (size_t i = 0; i < g->nrules; i++)
            if (g->rules[i].direction == dirs[k])
                render_rule(out, &g->rules[i]);
        st_buf_adds(out, "\t}\n");
    }
}

static bool group_used(const struct port_ref *ports, size_t n, const char *gid)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ports[i].p->nsecurity_groups; j++)
            if (!strcmp(ports[i].p->security_groups[j], gid))
                return true;
    return false;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The remote group ids of the rules of the groups 'ports' use, sorted and
 * unique (a group the controller did not send gets an empty set). */
static size_t remote_groups(const struct model_desired *d, const struct port_ref *ports, size_t n,
                            const char ***out)
{
    size_t k = 0, total = 0, w = 0;
    for (size_t i = 0; i < d->nsecgroups; i++)
        total += d->secgroups[i].nrules;
    *out = st_xcalloc(total ? total : 1, sizeof(**out));
    for (size_t i = 0; i < d->nsecgroups; i++) {
        const struct model_secgroup *g = &d->secgroups[i];
        if (!group_used(ports, n, g->id))
            continue;
        for (size_t j = 0; j < g->nrules; j++)
            if (g->rules[j].remote_group_id[0])
                (*out)[k++] = g->rules[j].remote_group_id;
    }
    qsort(*out, k, sizeof(**out), cmp_cstr);
    for (size_t i = 0; i < k; i++)
        if (!w || strcmp((*out)[w - 1], (*out)[i]))
            (*out)[w++] = (*out)[i];
    return w;
}

static void render_member_set(struct st_buf *out, const struct model_desired *d, const char *gid,
                              int family)
{
    const struct model_secgroup *g = model_find_secgroup(d, gid);
    size_t n = 0;
    st_buf_addf(out, "\tset g%c-%s {\n\t\ttype %s\n", family == AF_INET ? '4' : '6', gid,
                family == AF_INET ? "ipv4_addr" : "ipv6_addr");
    for (size_t i = 0; g && i < g->nmembers; i++) {
        if (g->member_family[i] != family)
            continue;
        /* Members are unique addresses in the controller's list; a
         * duplicate would make nft refuse the set, so skip repeats. */
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = g->member_family[j] == family && !strcmp(g->member_ips[j], g->member_ips[i]);
        if (dup)
            continue;
        st_buf_addf(out, "%s%s", n ? ", " : "\t\telements = { ", g->member_ips[i]);
        n++;
    }
    if (n)
        st_buf_adds(out, " }\n");
    st_buf_adds(out, "\t}\n");
}

static void render_port_sg(struct st_buf *out, const struct model_desired *d,
                           const struct model_port *p, bool stateless)
{
    static const char *const dirs[] = {"from", "to"};
    for (size_t k = 0; k < 2; k++) {
        bool egress = k == 0;
        st_buf_addf(out, "\tchain %s-%s {\n", dirs[k], p->id);
        if (!stateless) {
            st_buf_adds(out, "\t\tct state established,related accept\n");
            st_buf_adds(out, "\t\tct state invalid drop\n");
        }
        if (egress) {
            st_buf_adds(out, "\t\tudp sport 68 udp dport 67 accept comment \"DHCP\"\n");
            st_buf_adds(out, "\t\tudp sport 546 udp dport 547 accept comment \"DHCPv6\"\n");
            st_buf_adds(out, "\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, "
                             "nd-neighbor-advert, mld-listener-report, mld2-listener-report } "
                             "accept comment \"IPv6 neighbour discovery\"\n");
        } else {
            st_buf_adds(out, "\t\tudp sport 67 udp dport 68 accept comment \"DHCP\"\n");
            st_buf_adds(out, "\t\tudp sport 547 udp dport 546 accept comment \"DHCPv6\"\n");
            st_buf_adds(out, "\t\ticmpv6 type { nd-router-advert, nd-neighbor-solicit, "
                             "nd-neighbor-advert, mld-listener-query } accept comment \"IPv6 "
                             "neighbour discovery\"\n");
        }
        for (size_t i = 0; i < p->nsecurity_groups; i++) {
            if (!model_find_secgroup(d, p->security_groups[i]))
                continue;
            st_buf_addf(out, "\t\tjump sg-%s-%s\n", p->security_groups[i],
                        egress ? "egress" : "ingress");
        }
        st_buf_adds(out, "\t\tdrop\n\t}\n");
    }
}

static void render_inet_table(struct st_buf *out, const struct model_desired *d,
                              const uint16_t *zones, const struct port_ref *ports, size_t n)
{
    struct binding(*b)[MAX_BINDINGS] = st_xcalloc(n ? n : 1, sizeof(*b));
    size_t *nb = st_xcalloc(n ? n : 1, sizeof(*nb));
    struct dispatch *v4, *v6;
    size_t n4, n6, nzones = 0, nremote;
    const char **remote;
    bool *stateless = st_xcalloc(n ? n : 1, sizeof(*stateless));
    bool any_stateless = false;

    for (size_t i = 0; i < n; i++) {
        nb[i] = port_bindings(ports[i].p, b[i], MAX_BINDINGS);
        stateless[i] = port_stateless(d, ports[i].p);
        any_stateless |= stateless[i];
    }
    n4 = collect_dispatch(ports, n, AF_INET, &v4, b, nb);
    n6 = collect_dispatch(ports, n, AF_INET6, &v6, b, nb);

    st_buf_adds(out, "table inet stratus {\n\tcomment \"stratus-agent: security groups of the "
                     "ports of this host (generated; do not edit)\"\n");
    nremote = remote_groups(d, ports, n, &remote);
    for (size_t i = 0; i < nremote; i++) {
        render_member_set(out, d, remote[i], AF_INET);
        render_member_set(out, d, remote[i], AF_INET6);
    }

    /* Zones: one per network that has a secured port here. */
    open_base(out, T_INET, "prerouting");
    for (size_t j = 0; j < d->nnetworks; j++) {
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            used = ports[i].net_index == j;
        if (!used)
            continue;
        st_buf_addf(out, "%s \"%s\" : %u", nzones ? "," : "\t\tct zone set iifname map {",
                    d->networks[j].bridge, (unsigned) zones[j]);
        nzones++;
    }
    if (nzones)
        st_buf_adds(out, " }\n");
    if (any_stateless) {
        for (size_t i = 0; i < n; i++) {
            if (!stateless[i])
                continue;
            for (size_t j = 0; j < nb[i]; j++) {
                const char *ip = b[i][j].family == AF_INET ? "ip" : "ip6";
                st_buf_addf(out, "\t\tiifname \"%s\" %s saddr %s notrack\n",
                            ports[i].net->bridge, ip, b[i][j].ip);
                st_buf_addf(out, "\t\tiifname \"%s\" %s daddr %s notrack\n",
                            ports[i].net->bridge, ip, b[i][j].ip);
            }
        }
    }
    st_buf_adds(out, "\t}\n");

    open_base(out, T_INET, "from_ports");
    render_vmap(out, "iifname", "saddr", "from", v4, n4);
    render_vmap(out, "iifname", "saddr", "from", v6, n6);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nb[i]; j++)
            if (!b[i][j].single)
                st_buf_addf(out, "\t\tiifname \"%s\" %s saddr %s jump from-%s\n",
                            ports[i].net->bridge, b[i][j].family == AF_INET ? "ip" : "ip6",
                            b[i][j].ip, ports[i].p->id);
    st_buf_adds(out, "\t}\n");

    open_base(out, T_INET, "to_ports");
    render_vmap(out, "oifname", "daddr", "to", v4, n4);
    render_vmap(out, "oifname", "daddr", "to", v6, n6);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < nb[i]; j++)
            if (!b[i][j].single)
                st_buf_addf(out, "\t\toifname \"%s\" %s daddr %s jump to-%s\n",
                            ports[i].net->bridge, b[i][j].family == AF_INET ? "ip" : "ip6",
                            b[i][j].ip, ports[i].p->id);
    st_buf_adds(out, "\t}\n");

    /* Group chains first: port chains jump to them. */
    for (size_t i = 0; i < d->nsecgroups; i++)
        if (group_used(ports, n, d->secgroups[i].id))
            render_group_chains(out, &d->secgroups[i]);
    for (size_t i = 0; i < n; i++)
        render_port_sg(out, d, ports[i].p, stateless[i]);
    st_buf_adds(out, "}\n");

    free(remote);
    free(v4);
    free(v6);
    free(b);
    free(nb);
    free(stateless);
}

void nft_render_host(const struct model_desired *d, const uint16_t *zones, struct st_buf *out)
{
    size_t n;
    struct port_ref *ports = secured_ports(d, &n);
    st_buf_adds(out, "# stratus-agent host firewall (generated; do not edit)\n");
    preamble(out, T_BRIDGE);
    preamble(out, T_INET);
    /* No port to protect: no table at all, so that a host without ports
     * carries no rule of ours. */
    if (n) {
        render_bridge_table(out, ports, n);
        render_inet_table(out, d, zones, ports, n);
    }
    free(ports);
}

void nft_render_host_teardown(struct st_buf *out)
{
    preamble(out, T_BRIDGE);
    preamble(out, T_INET);
}

/* ---- routers ---- */

/* "10.0.0.5"/24 -> "10.0.0.0/24" (IPv4 only). */
static bool ipv4_network(const char *addr, int plen, char out[MODEL_CIDR_MAX])
{
    struct in_addr a;
    char s[INET_ADDRSTRLEN];
    if (inet_pton(AF_INET, addr, &a) != 1 || plen < 0 || plen > 32)
        return false;
    a.s_addr &= plen ? htonl(~0u << (32 - plen)) : 0;
    return inet_ntop(AF_INET, &a, s, sizeof(s)) &&
           st_snprintf(out, MODEL_CIDR_MAX, "%s/%d", s, plen) >= 0;
}

static const char *gateway_v4(const struct model_router *r)
{
    for (int i = 0; r->has_gateway && i < r->gateway.nips; i++)
        if (r->gateway.ips[i].family == AF_INET)
            return r->gateway.ips[i].address;
    return NULL;
}

void nft_render_router(const struct model_router *r, struct st_buf *out)
{
    const char *gw = gateway_v4(r);
    st_buf_addf(out, "# stratus-agent router %s (generated; do not edit)\n", r->id);
    preamble(out, T_ROUTER);
    st_buf_addf(out,
                "table ip stratus {\n\tcomment \"stratus-agent: NAT of router %s (generated; "
                "do not edit)\"\n",
                r->id);
    open_base(out, T_ROUTER, "prerouting");
    for (size_t i = 0; gw && i < r->nfloating_ips; i++)
        st_buf_addf(out, "\t\tip daddr %s dnat to %s\n", r->floating_ips[i].floating_ip,
                    r->floating_ips[i].fixed_ip);
    st_buf_adds(out, "\t}\n");
    open_base(out, T_ROUTER, "output");
    for (size_t i = 0; gw && i < r->nfloating_ips; i++)
        st_buf_addf(out, "\t\tip daddr %s dnat to %s\n", r->floating_ips[i].floating_ip,
                    r->floating_ips[i].fixed_ip);
    st_buf_adds(out, "\t}\n");
    open_base(out, T_ROUTER, "postrouting");
    if (gw) {
        for (size_t i = 0; i < r->nfloating_ips; i++)
            st_buf_addf(out, "\t\toifname \"%s\" ip saddr %s snat to %s\n", r->gateway.ifname,
                        r->floating_ips[i].fixed_ip, r->floating_ips[i].floating_ip);
        if (r->enable_snat) {
            /* The internal subnets, each once (two legs on one subnet
             * would repeat it, and nft refuses duplicate elements). */
            char(*nets)[MODEL_CIDR_MAX] =
                st_xcalloc(r->ninterfaces * MODEL_MAX_IPS + 1, sizeof(*nets));
            size_t n = 0;
            for (size_t i = 0; i < r->ninterfaces; i++) {
                for (int j = 0; j < r->interfaces[i].nips; j++) {
                    const struct model_fixed_ip *ip = &r->interfaces[i].ips[j];
                    bool dup = false;
                    if (ip->family != AF_INET ||
                        !ipv4_network(ip->address, ip->prefixlen, nets[n]))
                        continue;
                    for (size_t k = 0; k < n && !dup; k++)
                        dup = !strcmp(nets[k], nets[n]);
                    if (!dup)
                        n++;
                }
            }
            if (n) {
                st_buf_addf(out, "\t\toifname \"%s\" ip saddr { ", r->gateway.ifname);
                for (size_t k = 0; k < n; k++)
                    st_buf_addf(out, "%s%s", k ? ", " : "", nets[k]);
                st_buf_addf(out, " } snat to %s\n", gw);
            }
            free(nets);
        }
        /* An internal VM reaching a neighbour's floating IP: without this,
         * the neighbour would answer directly and the reply would miss the
         * reverse NAT.  Only traffic from inside: a client outside must
         * keep its address. */
        st_buf_addf(out,
                    "\t\tiifname != \"%s\" oifname != \"%s\" ct status dnat masquerade comment "
                    "\"floating IP of a neighbour (hairpin)\"\n",
                    r->gateway.ifname, r->gateway.ifname);
    }
    st_buf_adds(out, "\t}\n}\n");
}

/* ---- applying ---- */

struct apply_ctx {
    const char *batch;
    bool list;
    struct st_buf *out;
};

static int apply_fn(void *opaque, struct st_err *err)
{
    struct apply_ctx *a = opaque;
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    int rc;
    if (!ctx) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot create an nftables context");
        return -1;
    }
    if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0) {
        nft_ctx_free(ctx);
        st_err_set(err, ST_ERR_INTERNAL, "cannot buffer nftables output");
        return -1;
    }
    rc = nft_run_cmd_from_buffer(ctx, a->batch);
    if (rc != 0) {
        const char *e = nft_ctx_get_error_buffer(ctx);
        size_t len = e ? strlen(e) : 0;
        /* The first lines say what failed; the message has a size limit. */
        while (len && (e[len - 1] == '\n' || e[len - 1] == ' '))
            len--;
        st_err_set(err, ST_ERR_INTERNAL, "nftables refused the batch: %.*s",
                   (int) (len > 400 ? 400 : len), e ? e : "");
    } else if (a->out) {
        st_buf_adds(a->out, nft_ctx_get_output_buffer(ctx));
    }
    nft_ctx_free(ctx);
    return rc == 0 ? 0 : -1;
}

int nft_apply(const char *netns, const char *batch, struct st_err *err)
{
    struct apply_ctx a = {batch, false, NULL};
    return netns_call(netns, apply_fn, &a, err);
}

int nft_list(const char *netns, const char *cmd, struct st_buf *out, struct st_err *err)
{
    struct apply_ctx a = {cmd, true, out};
    if (strncmp(cmd, "list ", 5)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "not a list command: '%s'", cmd);
        return -1;
    }
    return netns_call(netns, apply_fn, &a, err);
}

/* nft.c - nftables rulesets of the network driver: built as data, rendered
 * whole or as a difference, applied in one transaction (see nft.h). */
#include "agent/nft.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/netlink.h"
#include "agent/netns.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- the ruleset as data ---- */

enum nft_table { T_BRIDGE, T_INET, T_ROUTER };

static const char *const table_family[] = {"bridge", "inet", "ip"};

enum obj_kind { O_SET, O_MAP, O_CHAIN };

/* A set, map or chain.  'items' are the elements of a set or map (sorted
 * and unique once the ruleset is finished) or the rules of a chain (in
 * order).  'spec' is what goes between the braces of "add set|map|chain
 * ... { }": the type of a set, the hook of a base chain, a comment; NULL
 * for a plain chain without comment. */
struct nobj {
    enum obj_kind kind;
    char *name;
    char *spec;
    char **items;
    size_t n, cap;
};

struct ntable {
    enum nft_table t;
    char name[24];
    char *comment;
    bool present;       /* false: the table must not exist */
    bool shared;        /* in a namespace other agents may share: its
                           comment must name the owner before a replace */
    struct nobj **objs; /* in declaration order: sets and maps, then chains */
    size_t nobjs, cap;
    size_t *by_name; /* indices into objs sorted by name (finish) */
};

struct nft_ruleset {
    char owner[64];  /* "stratus host <host id>": every comment starts so */
    char title[128]; /* the first line of a batch */
    struct ntable tables[2];
    size_t ntables;
};

static struct nobj *obj_add(struct ntable *t, enum obj_kind kind, const char *name,
                            const char *spec)
{
    struct nobj *o = st_xcalloc(1, sizeof(*o));
    o->kind = kind;
    o->name = st_xstrdup(name);
    o->spec = spec ? st_xstrdup(spec) : NULL;
    if (t->nobjs == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 32;
        t->objs = st_xrealloc(t->objs, t->cap * sizeof(*t->objs));
    }
    t->objs[t->nobjs++] = o;
    return o;
}

static void item_take(struct nobj *o, char *s)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 8;
        o->items = st_xrealloc(o->items, o->cap * sizeof(*o->items));
    }
    o->items[o->n++] = s;
}

static void item_addf(struct nobj *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void item_addf(struct nobj *o, const char *fmt, ...)
{
    struct st_buf b = ST_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    st_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    item_take(o, st_buf_detach(&b, NULL));
}

static void obj_free(struct nobj *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        free(o->items[i]);
    free(o->items);
    free(o->name);
    free(o->spec);
    free(o);
}

void nft_ruleset_free(struct nft_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->ntables; i++) {
        struct ntable *t = &rs->tables[i];
        for (size_t j = 0; j < t->nobjs; j++)
            obj_free(t->objs[j]);
        free(t->objs);
        free(t->by_name);
        free(t->comment);
    }
    free(rs);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The key of a map element "KEY : VALUE": its length. */
static size_t map_key_len(const char *item)
{
    const char *sep = strstr(item, " : ");
    return sep ? (size_t) (sep - item) : strlen(item);
}

/* Sorts the elements of a set or map and drops repeats: two equal
 * elements (or, in a map, two values for one key) would make nft refuse
 * the batch.  Of a map's repeated keys the smallest "KEY : VALUE" stays. */
static void obj_finish(struct nobj *o)
{
    size_t w = 0;
    bool sorted = true;
    if (o->kind == O_CHAIN || !o->n)
        return;
    /* Most sets are filled in order already (ports sorted by id): a
     * pass with 1,000 ports should not pay a sort of each. */
    for (size_t i = 1; i < o->n && sorted; i++)
        sorted = strcmp(o->items[i - 1], o->items[i]) < 0;
    if (!sorted)
        qsort(o->items, o->n, sizeof(*o->items), cmp_str);
    for (size_t i = 0; i < o->n; i++) {
        bool dup = false;
        if (w) {
            const char *prev = o->items[w - 1], *cur = o->items[i];
            if (o->kind == O_MAP) {
                size_t k = map_key_len(prev);
                dup = k == map_key_len(cur) && !strncmp(prev, cur, k);
            } else {
                dup = !strcmp(prev, cur);
            }
        }
        if (dup)
            free(o->items[i]);
        else
            o->items[w++] = o->items[i];
    }
    o->n = w;
}

static const struct ntable *sort_table; /* qsort has no context argument */

static int cmp_obj_index(const void *a, const void *b)
{
    return strcmp(sort_table->objs[*(const size_t *) a]->name,
                  sort_table->objs[*(const size_t *) b]->name);
}

static void ruleset_finish(struct nft_ruleset *rs)
{
    for (size_t i = 0; i < rs->ntables; i++) {
        struct ntable *t = &rs->tables[i];
        t->by_name = st_xcalloc(t->nobjs + 1, sizeof(*t->by_name));
        for (size_t j = 0; j < t->nobjs; j++) {
            obj_finish(t->objs[j]);
            t->by_name[j] = j;
        }
        sort_table = t;
        qsort(t->by_name, t->nobjs, sizeof(*t->by_name), cmp_obj_index);
        sort_table = NULL;
    }
}

static bool host_id_ok(const char *host_id)
{
    return host_id && st_is_uuid(host_id);
}

static void no_host_id(struct st_err *err)
{
    st_err_set(err, ST_ERR_BAD_REQUEST,
               "the desired state names no host id (host_id): the agent cannot mark its "
               "nftables tables as its own");
}

/* A new ruleset of host 'host_id', or NULL. */
static struct nft_ruleset *ruleset_new(const char *host_id, struct st_err *err)
{
    struct nft_ruleset *rs;
    if (!host_id_ok(host_id)) {
        no_host_id(err);
        return NULL;
    }
    rs = st_xcalloc(1, sizeof(*rs));
    ST_IGNORE(st_snprintf(rs->owner, sizeof(rs->owner), "stratus host %s", host_id));
    for (char *c = rs->owner; *c; c++)
        *c = (char) tolower((unsigned char) *c);
    return rs;
}

static struct ntable *table_add(struct nft_ruleset *rs, enum nft_table t, const char *name,
                                const char *what)
{
    struct ntable *tb = &rs->tables[rs->ntables++];
    tb->t = t;
    ST_IGNORE(st_snprintf(tb->name, sizeof(tb->name), "%s", name));
    tb->comment = st_xasprintf("%s: %s (generated; do not edit)", rs->owner, what);
    tb->present = true;
    return tb;
}

/* ---- fixed chains, as data (STYLE §13) ---- */

struct fixed_chain {
    enum nft_table table;
    const char *name;
    const char *type; /* filter, nat; NULL: a regular chain */
    const char *hook;
    const char *priority; /* a named priority or a number */
    const char *comment;
};

static const struct fixed_chain fixed_chains[] = {
    {T_BRIDGE, "forward", "filter", "forward", "filter",
     "frames from ports with port security, to port_check"},
    {T_BRIDGE, "input", "filter", "input", "filter",
     "frames from ports to the host itself, to the same chain"},
    {T_BRIDGE, "port_check", NULL, NULL, NULL,
     "a frame from a port: only its MACs with their addresses"},
    {T_BRIDGE, "port_pairs", NULL, NULL, NULL, "allowed address pairs with a prefix"},
    {T_INET, "prerouting", "filter", "prerouting", "raw",
     "a conntrack zone per network; stateless ports untracked"},
    {T_INET, "notrack_pairs", NULL, NULL, NULL,
     "stateless ports' address pairs with a prefix: untracked"},
    {T_INET, "from_ports", "filter", "forward", "0",
     "egress: (bridge . source address) names the sending port"},
    {T_INET, "from_pairs", NULL, NULL, NULL,
     "egress of address pairs with a prefix, to their port's chain"},
    {T_INET, "to_ports", "filter", "forward", "1",
     "ingress: (bridge . destination address) names the receiving port"},
    {T_INET, "to_pairs", NULL, NULL, NULL,
     "ingress of address pairs with a prefix, to their port's chain"},
    {T_INET, "egress", NULL, NULL, NULL, "from a port: state, implicit rules, its groups"},
    {T_INET, "egress_implicit", NULL, NULL, NULL, "DHCP and neighbour discovery out"},
    {T_INET, "egress_groups", NULL, NULL, NULL, "the egress rules of the port's groups"},
    {T_INET, "ingress", NULL, NULL, NULL, "to a port: state, implicit rules, its groups"},
    {T_INET, "ingress_implicit", NULL, NULL, NULL, "DHCP and neighbour discovery in"},
    {T_INET, "ingress_groups", NULL, NULL, NULL, "the ingress rules of the port's groups"},
    {T_ROUTER, "prerouting", "nat", "prerouting", "dstnat", "floating IPs: DNAT"},
    {T_ROUTER, "output", "nat", "output", "-100", "floating IPs: DNAT of local traffic"},
    {T_ROUTER, "postrouting", "nat", "postrouting", "srcnat", "floating IPs and the gateway: SNAT"},
};

/* Declares fixed chain 'name' of 't' (from the table above). */
static struct nobj *fixed(struct ntable *t, const char *name)
{
    const struct fixed_chain *c = NULL;
    struct nobj *o;
    char *spec;
    for (size_t i = 0; i < ST_ARRAY_SIZE(fixed_chains) && !c; i++)
        if (fixed_chains[i].table == t->t && !strcmp(fixed_chains[i].name, name))
            c = &fixed_chains[i];
    if (!c)
        abort(); /* a name missing from the table: a programming error */
    if (c->type)
        spec = st_xasprintf("type %s hook %s priority %s; policy accept; comment \"%s\";", c->type,
                            c->hook, c->priority, c->comment);
    else
        spec = st_xasprintf("comment \"%s\";", c->comment);
    o = obj_add(t, O_CHAIN, name, spec);
    free(spec);
    return o;
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
 * id so that the ruleset does not depend on the controller's order. */
static struct port_ref *secured_ports(const struct model_desired *d, size_t *n)
{
    struct port_ref *v = st_xcalloc(d && d->nports ? d->nports : 1, sizeof(*v));
    *n = 0;
    for (size_t i = 0; d && i < d->nports; i++) {
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

/* A (MAC, address) binding of a port, for its anti-spoofing. */
struct binding {
    const char *mac;
    char ip[MODEL_CIDR_MAX]; /* address, or CIDR for a pair */
    int family;
    bool single; /* one address (a set element) */
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

static bool port_has_prefix_pair(const struct binding *b, size_t nb)
{
    for (size_t i = 0; i < nb; i++)
        if (!b[i].single)
            return true;
    return false;
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

/* ---- host: the bridge table ---- */

static void build_bridge_table(struct nft_ruleset *rs, const char *name,
                               const struct port_ref *ports, size_t n)
{
    struct ntable *t = table_add(rs, T_BRIDGE, name, "anti-spoofing of the ports of this host");
    struct nobj *taps = obj_add(t, O_SET, "port_taps", "type ifname;");
    struct nobj *macs = obj_add(t, O_SET, "port_macs", "type ifname . ether_addr;");
    struct nobj *ip4 = obj_add(t, O_SET, "port_ip4", "type ifname . ether_addr . ipv4_addr;");
    struct nobj *arp4 =
        obj_add(t, O_SET, "port_arp4", "type ifname . ether_addr . ether_addr . ipv4_addr;");
    struct nobj *ip6 = obj_add(t, O_SET, "port_ip6", "type ifname . ether_addr . ipv6_addr;");
    struct nobj *c;
    static const char *const bases[] = {"forward", "input"};

    t->shared = true;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bases); i++)
        item_addf(fixed(t, bases[i]), "iifname @port_taps jump port_check");
    c = fixed(t, "port_check");
    item_addf(c, "udp sport 67 udp dport 68 drop comment \"DHCP server in a guest\"");
    item_addf(c, "udp sport 547 udp dport 546 drop comment \"DHCPv6 server in a guest\"");
    item_addf(c, "icmpv6 type nd-router-advert drop comment \"router advertisement from a "
                 "guest\"");
    item_addf(c, "iifname . ether saddr @port_macs ip saddr 0.0.0.0 ip daddr 255.255.255.255 "
                 "udp sport 68 udp dport 67 accept comment \"DHCP request\"");
    item_addf(c, "iifname . ether saddr . ip saddr @port_ip4 accept comment \"the port's "
                 "IPv4 addresses from their MACs\"");
    item_addf(c, "iifname . ether saddr . arp saddr ether . arp saddr ip @port_arp4 accept "
                 "comment \"ARP for them\"");
    /* ARP probes (RFC 5227) carry sender address 0.0.0.0: DHCP clients
     * check an offered address with them. */
    item_addf(c, "iifname . ether saddr @port_macs arp saddr ip 0.0.0.0 iifname . arp saddr "
                 "ether @port_macs accept comment \"ARP probe\"");
    item_addf(c, "iifname . ether saddr . ip6 saddr @port_ip6 accept comment \"the port's "
                 "IPv6 addresses, link-local included\"");
    item_addf(c, "iifname . ether saddr @port_macs ip6 saddr :: icmpv6 type { "
                 "nd-neighbor-solicit, mld2-listener-report } accept comment \"IPv6 duplicate "
                 "address detection\"");
    item_addf(c, "jump port_pairs");
    item_addf(c, "drop");
    c = fixed(t, "port_pairs");

    for (size_t i = 0; i < n; i++) {
        const struct model_port *p = ports[i].p;
        struct binding b[MAX_BINDINGS];
        size_t nb = port_bindings(p, b, MAX_BINDINGS);
        char ll[MODEL_ADDR_MAX];

        item_addf(taps, "\"%s\"", p->tap);
        item_addf(macs, "\"%s\" . %s", p->tap, p->mac);
        for (size_t j = 0; j < nb; j++) {
            if (b[j].single && b[j].family == AF_INET) {
                item_addf(ip4, "\"%s\" . %s . %s", p->tap, b[j].mac, b[j].ip);
                item_addf(arp4, "\"%s\" . %s . %s . %s", p->tap, b[j].mac, b[j].mac, b[j].ip);
            } else if (b[j].single) {
                item_addf(ip6, "\"%s\" . %s . %s", p->tap, b[j].mac, b[j].ip);
            } else if (b[j].family == AF_INET) {
                item_addf(c, "iifname \"%s\" ether saddr %s ip saddr %s accept", p->tap, b[j].mac,
                          b[j].ip);
                item_addf(c,
                          "iifname \"%s\" ether saddr %s arp saddr ether %s arp saddr ip %s "
                          "accept",
                          p->tap, b[j].mac, b[j].mac, b[j].ip);
            } else {
                item_addf(c, "iifname \"%s\" ether saddr %s ip6 saddr %s accept", p->tap, b[j].mac,
                          b[j].ip);
            }
        }
        link_local(p->mac, ll);
        if (ll[0])
            item_addf(ip6, "\"%s\" . %s . %s", p->tap, p->mac, ll);
        for (int j = 0; j < p->npairs; j++) {
            link_local(p->pairs[j].mac, ll);
            if (ll[0])
                item_addf(ip6, "\"%s\" . %s . %s", p->tap, p->pairs[j].mac, ll);
        }
    }
}

/* ---- host: the inet table ---- */

/* A dispatch entry: (bridge . address) -> port. */
struct dispatch {
    const char *bridge;
    const char *addr;
    size_t port; /* index into the sorted ports */
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

/* The single-address bindings of 'ports' of 'family', sorted and without
 * repeats: an address claimed twice on one bridge goes to the first port
 * in id order, as the port's own vmap entry did before.  Returns the
 * count. */
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
                (*out)[k] = (struct dispatch){ports[i].net->bridge, b[i][j].ip, i, family, k};
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

static void add_rule(struct nobj *c, const struct model_sg_rule *r)
{
    struct st_buf out = ST_BUF_INIT;
    bool v4 = r->family == AF_INET;
    const char *ip = v4 ? "ip" : "ip6";
    const char *peer = r->direction == MODEL_SG_INGRESS ? "saddr" : "daddr";
    const char *l4 = l4_name(r->protocol);

    st_buf_addf(&out, "meta nfproto %s", v4 ? "ipv4" : "ipv6");
    /* "0.0.0.0/0" and "::/0" mean any address: no match needed. */
    if (r->remote_ip_prefix[0] && !strstr(r->remote_ip_prefix, "/0"))
        st_buf_addf(&out, " %s %s %s", ip, peer, r->remote_ip_prefix);
    else if (r->remote_group_id[0])
        st_buf_addf(&out, " %s %s @g%c-%s", ip, peer, v4 ? '4' : '6', r->remote_group_id);
    if (r->protocol >= 0) {
        if (l4 && r->port_min > 0) {
            if (r->port_min == r->port_max)
                st_buf_addf(&out, " %s dport %d", l4, r->port_min);
            else
                st_buf_addf(&out, " %s dport %d-%d", l4, r->port_min, r->port_max);
        } else if ((r->protocol == 1 || r->protocol == 58) && r->port_min >= 0) {
            const char *icmp = r->protocol == 1 ? "icmp" : "icmpv6";
            st_buf_addf(&out, " %s type %d", icmp, r->port_min);
            if (r->port_max >= 0)
                st_buf_addf(&out, " %s code %d", icmp, r->port_max);
        } else {
            st_buf_addf(&out, " meta l4proto %d", r->protocol);
        }
    }
    st_buf_addf(&out, " accept comment \"rule %s\"", r->id);
    item_take(c, st_buf_detach(&out, NULL));
}

static bool port_in_group(const struct model_port *p, const char *gid)
{
    for (size_t j = 0; j < p->nsecurity_groups; j++)
        if (!strcmp(p->security_groups[j], gid))
            return true;
    return false;
}

static bool group_used(const struct port_ref *ports, size_t n, const char *gid)
{
    for (size_t i = 0; i < n; i++)
        if (port_in_group(ports[i].p, gid))
            return true;
    return false;
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
    qsort(*out, k, sizeof(**out), cmp_str);
    for (size_t i = 0; i < k; i++)
        if (!w || strcmp((*out)[w - 1], (*out)[i]))
            (*out)[w++] = (*out)[i];
    return w;
}

/* Chains from-<port> and to-<port> of a port reached by a prefix of an
 * address pair: the whole egress and ingress of that one port. */
static void build_port_chains(struct ntable *t, const struct model_desired *d,
                              const struct model_port *p, bool stateless)
{
    static const char *const dirs[] = {"from", "to"};
    for (size_t k = 0; k < 2; k++) {
        bool egress = k == 0;
        char name[MODEL_ID_MAX + 8];
        struct nobj *c;
        ST_IGNORE(st_snprintf(name, sizeof(name), "%s-%s", dirs[k], p->id));
        c = obj_add(t, O_CHAIN, name, NULL);
        if (!stateless) {
            item_addf(c, "ct state established,related accept");
            item_addf(c, "ct state invalid drop");
        }
        item_addf(c, "jump %s", egress ? "egress_implicit" : "ingress_implicit");
        for (size_t i = 0; i < p->nsecurity_groups; i++) {
            if (!model_find_secgroup(d, p->security_groups[i]))
                continue;
            item_addf(c, "jump sg-%s-%s", p->security_groups[i], egress ? "egress" : "ingress");
        }
        item_addf(c, "drop");
    }
}

/* The ingress, egress and implicit chains, with the state rules keyed
 * by (bridge . address): 'dir_if' "iifname" and 'dir_addr' "saddr" for
 * egress, "oifname" and "daddr" for ingress. */
static void build_direction(struct ntable *t, bool egress, const struct model_desired *d,
                            const struct port_ref *ports, size_t n)
{
    const char *dir_if = egress ? "iifname" : "oifname";
    const char *dir_addr = egress ? "saddr" : "daddr";
    const char *name = egress ? "egress" : "ingress";
    char buf[32];
    struct nobj *c = fixed(t, name), *implicit, *groups;

    for (int v6 = 0; v6 < 2; v6++) {
        item_addf(c, "%s . %s %s @stateful%c ct state established,related accept", dir_if,
                  v6 ? "ip6" : "ip", dir_addr, v6 ? '6' : '4');
        item_addf(c, "%s . %s %s @stateful%c ct state invalid drop", dir_if, v6 ? "ip6" : "ip",
                  dir_addr, v6 ? '6' : '4');
    }
    item_addf(c, "jump %s_implicit", name);
    item_addf(c, "jump %s_groups", name);
    item_addf(c, "drop");

    ST_IGNORE(st_snprintf(buf, sizeof(buf), "%s_implicit", name));
    implicit = fixed(t, buf);
    if (egress) {
        item_addf(implicit, "udp sport 68 udp dport 67 accept comment \"DHCP\"");
        item_addf(implicit, "udp sport 546 udp dport 547 accept comment \"DHCPv6\"");
        item_addf(implicit, "icmpv6 type { nd-router-solicit, nd-neighbor-solicit, "
                            "nd-neighbor-advert, mld-listener-report, mld2-listener-report } "
                            "accept comment \"IPv6 neighbour discovery\"");
    } else {
        item_addf(implicit, "udp sport 67 udp dport 68 accept comment \"DHCP\"");
        item_addf(implicit, "udp sport 547 udp dport 546 accept comment \"DHCPv6\"");
        item_addf(implicit, "icmpv6 type { nd-router-advert, nd-neighbor-solicit, "
                            "nd-neighbor-advert, mld-listener-query } accept comment \"IPv6 "
                            "neighbour discovery\"");
    }

    ST_IGNORE(st_snprintf(buf, sizeof(buf), "%s_groups", name));
    groups = fixed(t, buf);
    for (size_t i = 0; i < d->nsecgroups; i++) {
        const char *gid = d->secgroups[i].id;
        if (!group_used(ports, n, gid))
            continue;
        item_addf(groups, "%s . ip %s @p4-%s jump sg-%s-%s", dir_if, dir_addr, gid, gid, name);
        item_addf(groups, "%s . ip6 %s @p6-%s jump sg-%s-%s", dir_if, dir_addr, gid, gid, name);
    }
}

static void build_inet_table(struct nft_ruleset *rs, const char *tname,
                             const struct model_desired *d, const uint16_t *zones,
                             const struct port_ref *ports, size_t n)
{
    struct ntable *t = table_add(rs, T_INET, tname, "security groups of the ports of this host");
    struct binding(*b)[MAX_BINDINGS] = st_xcalloc(n ? n : 1, sizeof(*b));
    size_t *nb = st_xcalloc(n ? n : 1, sizeof(*nb));
    bool *stateless = st_xcalloc(n ? n : 1, sizeof(*stateless));
    struct nobj **pset = st_xcalloc(2 * d->nsecgroups + 1, sizeof(*pset));
    struct nobj *zmap, *addr[2], *stateful[2], *notrack[2], *c, *pairs[2], *ntpairs;
    struct dispatch *v[2];
    size_t nv[2], nremote;
    const char **remote;

    t->shared = true;
    for (size_t i = 0; i < n; i++) {
        nb[i] = port_bindings(ports[i].p, b[i], MAX_BINDINGS);
        stateless[i] = port_stateless(d, ports[i].p);
    }
    nv[0] = collect_dispatch(ports, n, AF_INET, &v[0], b, nb);
    nv[1] = collect_dispatch(ports, n, AF_INET6, &v[1], b, nb);

    /* Sets and maps first: rules name them. */
    zmap = obj_add(t, O_MAP, "zones", "typeof iifname : ct zone;");
    for (int f = 0; f < 2; f++) {
        const char *type = f ? "type ifname . ipv6_addr;" : "type ifname . ipv4_addr;";
        char name[16];
        ST_IGNORE(st_snprintf(name, sizeof(name), "addr%c", f ? '6' : '4'));
        addr[f] = obj_add(t, O_SET, name, type);
        ST_IGNORE(st_snprintf(name, sizeof(name), "stateful%c", f ? '6' : '4'));
        stateful[f] = obj_add(t, O_SET, name, type);
        ST_IGNORE(st_snprintf(name, sizeof(name), "notrack%c", f ? '6' : '4'));
        notrack[f] = obj_add(t, O_SET, name, type);
    }
    nremote = remote_groups(d, ports, n, &remote);
    for (size_t i = 0; i < nremote; i++) {
        const struct model_secgroup *g = model_find_secgroup(d, remote[i]);
        for (int f = 0; f < 2; f++) {
            char name[MODEL_ID_MAX + 4];
            struct nobj *s;
            ST_IGNORE(st_snprintf(name, sizeof(name), "g%c-%s", f ? '6' : '4', remote[i]));
            s = obj_add(t, O_SET, name, f ? "type ipv6_addr;" : "type ipv4_addr;");
            for (size_t j = 0; g && j < g->nmembers; j++)
                if (g->member_family[j] == (f ? AF_INET6 : AF_INET))
                    item_addf(s, "%s", g->member_ips[j]);
        }
    }
    for (size_t i = 0; i < d->nsecgroups; i++) {
        const char *gid = d->secgroups[i].id;
        char name[MODEL_ID_MAX + 4];
        if (!group_used(ports, n, gid))
            continue;
        ST_IGNORE(st_snprintf(name, sizeof(name), "p4-%s", gid));
        pset[2 * i] = obj_add(t, O_SET, name, "type ifname . ipv4_addr;");
        ST_IGNORE(st_snprintf(name, sizeof(name), "p6-%s", gid));
        pset[2 * i + 1] = obj_add(t, O_SET, name, "type ifname . ipv6_addr;");
    }

    /* Zones: one per network that has a secured port here. */
    for (size_t j = 0; j < d->nnetworks; j++) {
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            used = ports[i].net_index == j;
        if (used)
            item_addf(zmap, "\"%s\" : %u", d->networks[j].bridge, (unsigned) zones[j]);
    }
    /* Who owns each address: state and groups of the first port that
     * claims it. */
    for (int f = 0; f < 2; f++) {
        for (size_t k = 0; k < nv[f]; k++) {
            const struct dispatch *e = &v[f][k];
            const struct model_port *p = ports[e->port].p;
            item_addf(addr[f], "\"%s\" . %s", e->bridge, e->addr);
            if (!stateless[e->port])
                item_addf(stateful[f], "\"%s\" . %s", e->bridge, e->addr);
            for (size_t i = 0; i < d->nsecgroups; i++)
                if (pset[2 * i] && port_in_group(p, d->secgroups[i].id))
                    item_addf(pset[2 * i + (size_t) f], "\"%s\" . %s", e->bridge, e->addr);
        }
    }

    c = fixed(t, "prerouting");
    item_addf(c, "ct zone set iifname map @zones");
    for (int f = 0; f < 2; f++) {
        item_addf(c, "iifname . %s saddr @notrack%c notrack", f ? "ip6" : "ip", f ? '6' : '4');
        item_addf(c, "iifname . %s daddr @notrack%c notrack", f ? "ip6" : "ip", f ? '6' : '4');
    }
    item_addf(c, "jump notrack_pairs");
    ntpairs = fixed(t, "notrack_pairs");
    c = fixed(t, "from_ports");
    item_addf(c, "iifname . ip saddr @addr4 jump egress");
    item_addf(c, "iifname . ip6 saddr @addr6 jump egress");
    item_addf(c, "jump from_pairs");
    pairs[0] = fixed(t, "from_pairs");
    c = fixed(t, "to_ports");
    item_addf(c, "oifname . ip daddr @addr4 jump ingress");
    item_addf(c, "oifname . ip6 daddr @addr6 jump ingress");
    item_addf(c, "jump to_pairs");
    pairs[1] = fixed(t, "to_pairs");
    build_direction(t, true, d, ports, n);
    build_direction(t, false, d, ports, n);

    for (size_t i = 0; i < n; i++) {
        const char *br = ports[i].net->bridge, *id = ports[i].p->id;
        for (size_t j = 0; j < nb[i]; j++) {
            const struct binding *x = &b[i][j];
            const char *ip = x->family == AF_INET ? "ip" : "ip6";
            if (stateless[i] && x->single) {
                item_addf(notrack[x->family == AF_INET6], "\"%s\" . %s", br, x->ip);
            } else if (stateless[i]) {
                item_addf(ntpairs, "iifname \"%s\" %s saddr %s notrack", br, ip, x->ip);
                item_addf(ntpairs, "iifname \"%s\" %s daddr %s notrack", br, ip, x->ip);
            }
            if (!x->single) {
                item_addf(pairs[0], "iifname \"%s\" %s saddr %s jump from-%s", br, ip, x->ip, id);
                item_addf(pairs[1], "oifname \"%s\" %s daddr %s jump to-%s", br, ip, x->ip, id);
            }
        }
    }

    /* Group chains, then the chains of ports with prefix pairs. */
    for (size_t i = 0; i < d->nsecgroups; i++) {
        const struct model_secgroup *g = &d->secgroups[i];
        static const enum model_sg_dir dirs[] = {MODEL_SG_INGRESS, MODEL_SG_EGRESS};
        if (!pset[2 * i])
            continue;
        for (size_t k = 0; k < ST_ARRAY_SIZE(dirs); k++) {
            char name[MODEL_ID_MAX + 12];
            ST_IGNORE(st_snprintf(name, sizeof(name), "sg-%s-%s", g->id,
                                  dirs[k] == MODEL_SG_INGRESS ? "ingress" : "egress"));
            c = obj_add(t, O_CHAIN, name, NULL);
            for (size_t j = 0; j < g->nrules; j++)
                if (g->rules[j].direction == dirs[k])
                    add_rule(c, &g->rules[j]);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (port_has_prefix_pair(b[i], nb[i]))
            build_port_chains(t, d, ports[i].p, stateless[i]);

    free(remote);
    free(v[0]);
    free(v[1]);
    free(pset);
    free(b);
    free(nb);
    free(stateless);
}

struct nft_ruleset *nft_host_ruleset(const char *host_id, const struct model_desired *d,
                                     const uint16_t *zones, struct st_err *err)
{
    static const struct model_desired none;
    struct nft_ruleset *rs;
    struct port_ref *ports;
    char name[24];
    size_t n;
    if (!d)
        d = &none;
    ports = secured_ports(d, &n);
    if (!host_id_ok(host_id) && n == 0) {
        /* Without an id the agent cannot name its tables, and without a
         * port it needs none: nothing to manage (an older controller). */
        free(ports);
        return st_xcalloc(1, sizeof(*rs));
    }
    rs = ruleset_new(host_id, err);
    if (!rs) {
        free(ports);
        return NULL;
    }
    ST_IGNORE(st_snprintf(rs->title, sizeof(rs->title),
                          "# stratus-agent host firewall, %s (generated; do not edit)", rs->owner));
    /* "stratus-" and the id's first 8 hex digits (ruleset_new checked it). */
    ST_IGNORE(st_snprintf(name, sizeof(name), "stratus-%.8s", rs->owner + strlen("stratus host ")));
    build_bridge_table(rs, name, ports, n);
    build_inet_table(rs, name, d, zones, ports, n);
    /* No port to protect: no table at all, so that a host without ports
     * carries no rule of ours. */
    rs->tables[0].present = rs->tables[1].present = n > 0;
    free(ports);
    ruleset_finish(rs);
    return rs;
}

void nft_render_host_teardown(const char *host_id, struct st_buf *out)
{
    struct nft_ruleset *rs = nft_host_ruleset(host_id, NULL, NULL, NULL);
    if (rs && rs->ntables)
        nft_render_whole(rs, out);
    nft_ruleset_free(rs);
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

struct nft_ruleset *nft_router_ruleset(const char *host_id, const struct model_router *r,
                                       struct st_err *err)
{
    struct nft_ruleset *rs = ruleset_new(host_id, err);
    const char *gw = gateway_v4(r);
    struct ntable *t;
    struct nobj *dnat, *snat, *pre, *out, *post;
    char *what;
    if (!rs)
        return NULL;
    ST_IGNORE(st_snprintf(rs->title, sizeof(rs->title),
                          "# stratus-agent router %s (generated; do not edit)", r->id));
    what = st_xasprintf("NAT of router %s", r->id);
    t = table_add(rs, T_ROUTER, "stratus", what);
    free(what);
    dnat = obj_add(t, O_MAP, "fip_dnat", "type ipv4_addr : ipv4_addr;");
    snat = obj_add(t, O_MAP, "fip_snat", "type ipv4_addr : ipv4_addr;");
    pre = fixed(t, "prerouting");
    out = fixed(t, "output");
    post = fixed(t, "postrouting");
    if (gw) {
        for (size_t i = 0; i < r->nfloating_ips; i++) {
            item_addf(dnat, "%s : %s", r->floating_ips[i].floating_ip, r->floating_ips[i].fixed_ip);
            item_addf(snat, "%s : %s", r->floating_ips[i].fixed_ip, r->floating_ips[i].floating_ip);
        }
        item_addf(pre, "dnat to ip daddr map @fip_dnat");
        item_addf(out, "dnat to ip daddr map @fip_dnat");
        item_addf(post, "oifname \"%s\" snat to ip saddr map @fip_snat", r->gateway.ifname);
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
                    if (ip->family != AF_INET || !ipv4_network(ip->address, ip->prefixlen, nets[n]))
                        continue;
                    for (size_t k = 0; k < n && !dup; k++)
                        dup = !strcmp(nets[k], nets[n]);
                    if (!dup)
                        n++;
                }
            }
            if (n) {
                struct st_buf s = ST_BUF_INIT;
                st_buf_addf(&s, "oifname \"%s\" ip saddr { ", r->gateway.ifname);
                for (size_t k = 0; k < n; k++)
                    st_buf_addf(&s, "%s%s", k ? ", " : "", nets[k]);
                st_buf_addf(&s, " } snat to %s", gw);
                item_take(post, st_buf_detach(&s, NULL));
            }
            free(nets);
        }
        /* An internal VM reaching a neighbour's floating IP: without this,
         * the neighbour would answer directly and the reply would miss the
         * reverse NAT.  Only traffic from inside: a client outside must
         * keep its address. */
        item_addf(post,
                  "iifname != \"%s\" oifname != \"%s\" ct status dnat masquerade comment "
                  "\"floating IP of a neighbour (hairpin)\"",
                  r->gateway.ifname, r->gateway.ifname);
    }
    ruleset_finish(rs);
    return rs;
}

/* ---- rendering ---- */

static const char *kind_word(enum obj_kind k)
{
    return k == O_SET ? "set" : k == O_MAP ? "map" : "chain";
}

static void cmd_declare(struct st_buf *out, const struct ntable *t, const struct nobj *o)
{
    st_buf_addf(out, "add %s %s %s %s", kind_word(o->kind), table_family[t->t], t->name, o->name);
    if (o->spec)
        st_buf_addf(out, " { %s }", o->spec);
    st_buf_addch(out, '\n');
}

static void cmd_rules(struct st_buf *out, const struct ntable *t, const struct nobj *o)
{
    for (size_t i = 0; i < o->n; i++)
        st_buf_addf(out, "add rule %s %s %s %s\n", table_family[t->t], t->name, o->name,
                    o->items[i]);
}

/* "VERB element F T S { a, b }" of the 'n' elements 'items'. */
static void cmd_elements(struct st_buf *out, const char *verb, const struct ntable *t,
                         const struct nobj *o, char *const *items, size_t n)
{
    if (!n)
        return;
    st_buf_addf(out, "%s element %s %s %s { ", verb, table_family[t->t], t->name, o->name);
    for (size_t i = 0; i < n; i++)
        st_buf_addf(out, "%s%s", i ? ", " : "", items[i]);
    st_buf_adds(out, " }\n");
}

/* The phases of a batch, in the order the kernel needs them within one
 * transaction: new objects exist before rules and elements name them;
 * elements go before others take their keys; references go before the
 * objects they point at. */
enum phase {
    P_DECLARE,      /* add table, add set/map, add chain */
    P_FLUSH,        /* flush chain (changed) */
    P_DEL_ELEMENTS, /* delete element */
    P_RULES,        /* add rule (new and changed chains) */
    P_ADD_ELEMENTS, /* add element */
    P_FLUSH_GONE,   /* flush chain (removed) */
    P_DEL_CHAINS,   /* delete chain */
    P_DEL_SETS,     /* delete set/map */
    P_DEL_TABLES,   /* delete table */
    P_COUNT,
};

static void table_create(struct st_buf *ph, const struct ntable *t)
{
    st_buf_addf(&ph[P_DECLARE], "add table %s %s { comment \"%s\"; }\n", table_family[t->t],
                t->name, t->comment);
    for (size_t i = 0; i < t->nobjs; i++) {
        const struct nobj *o = t->objs[i];
        cmd_declare(&ph[P_DECLARE], t, o);
        if (o->kind == O_CHAIN)
            cmd_rules(&ph[P_RULES], t, o);
        else
            cmd_elements(&ph[P_ADD_ELEMENTS], "add", t, o, o->items, o->n);
    }
}

static void phases_join(struct st_buf *ph, struct st_buf *out)
{
    for (int i = 0; i < P_COUNT; i++) {
        st_buf_add(out, ph[i].buf, ph[i].len);
        st_buf_release(&ph[i]);
    }
}

void nft_render_whole(const struct nft_ruleset *rs, struct st_buf *out)
{
    struct st_buf ph[P_COUNT];
    for (int i = 0; i < P_COUNT; i++)
        ph[i] = (struct st_buf) ST_BUF_INIT;
    st_buf_addf(out, "%s\n", rs->title);
    /* Works whether the table exists or not: add is a no-op if it does. */
    for (size_t i = 0; i < rs->ntables; i++)
        st_buf_addf(out, "table %s %s\ndelete table %s %s\n", table_family[rs->tables[i].t],
                    rs->tables[i].name, table_family[rs->tables[i].t], rs->tables[i].name);
    for (size_t i = 0; i < rs->ntables; i++)
        if (rs->tables[i].present)
            table_create(ph, &rs->tables[i]);
    phases_join(ph, out);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool chain_same(const struct nobj *a, const struct nobj *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i], b->items[i]))
            return false;
    return true;
}

/* The elements of 'a' missing from 'b' (both sorted), into 'out'. */
static size_t elements_missing(const struct nobj *a, const struct nobj *b, char **out)
{
    size_t i = 0, j = 0, n = 0;
    while (i < a->n) {
        int c = j < b->n ? strcmp(a->items[i], b->items[j]) : -1;
        if (c < 0)
            out[n++] = a->items[i++];
        else if (c > 0)
            j++;
        else
            i++, j++;
    }
    return n;
}

/* The difference of one table present in both. */
static int table_diff(struct st_buf *ph, const struct ntable *ft, const struct ntable *tt)
{
    size_t i = 0, j = 0;
    if (strcmp(ft->comment, tt->comment) || ft->t != tt->t || strcmp(ft->name, tt->name))
        return -1;
    while (i < ft->nobjs || j < tt->nobjs) {
        const struct nobj *a = i < ft->nobjs ? ft->objs[ft->by_name[i]] : NULL;
        const struct nobj *b = j < tt->nobjs ? tt->objs[tt->by_name[j]] : NULL;
        int c = !a ? 1 : !b ? -1 : strcmp(a->name, b->name);
        if (c < 0) { /* gone */
            if (a->kind == O_CHAIN) {
                st_buf_addf(&ph[P_FLUSH_GONE], "flush chain %s %s %s\n", table_family[ft->t],
                            ft->name, a->name);
                st_buf_addf(&ph[P_DEL_CHAINS], "delete chain %s %s %s\n", table_family[ft->t],
                            ft->name, a->name);
            } else {
                st_buf_addf(&ph[P_DEL_SETS], "delete %s %s %s %s\n", kind_word(a->kind),
                            table_family[ft->t], ft->name, a->name);
            }
            i++;
            continue;
        }
        if (c > 0) { /* new */
            cmd_declare(&ph[P_DECLARE], tt, b);
            if (b->kind == O_CHAIN)
                cmd_rules(&ph[P_RULES], tt, b);
            else
                cmd_elements(&ph[P_ADD_ELEMENTS], "add", tt, b, b->items, b->n);
            j++;
            continue;
        }
        if (a->kind != b->kind || !same_str(a->spec, b->spec))
            return -1;
        if (a->kind == O_CHAIN) {
            if (!chain_same(a, b)) {
                st_buf_addf(&ph[P_FLUSH], "flush chain %s %s %s\n", table_family[tt->t], tt->name,
                            b->name);
                cmd_rules(&ph[P_RULES], tt, b);
            }
        } else {
            char **v = st_xcalloc((a->n > b->n ? a->n : b->n) + 1, sizeof(*v));
            size_t n = elements_missing(a, b, v);
            cmd_elements(&ph[P_DEL_ELEMENTS], "delete", tt, a, v, n);
            n = elements_missing(b, a, v);
            cmd_elements(&ph[P_ADD_ELEMENTS], "add", tt, b, v, n);
            free(v);
        }
        i++;
        j++;
    }
    return 0;
}

int nft_render_diff(const struct nft_ruleset *from, const struct nft_ruleset *to,
                    struct st_buf *out)
{
    struct st_buf ph[P_COUNT], all = ST_BUF_INIT;
    int rc = 0;
    for (int i = 0; i < P_COUNT; i++)
        ph[i] = (struct st_buf) ST_BUF_INIT;
    if (strcmp(from->owner, to->owner) || from->ntables != to->ntables)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < to->ntables; i++) {
        const struct ntable *ft = &from->tables[i], *tt = &to->tables[i];
        if (ft->t != tt->t || strcmp(ft->name, tt->name))
            rc = -1;
        else if (!ft->present && tt->present)
            table_create(ph, tt);
        else if (ft->present && !tt->present)
            st_buf_addf(&ph[P_DEL_TABLES], "delete table %s %s\n", table_family[ft->t], ft->name);
        else if (ft->present)
            rc = table_diff(ph, ft, tt);
    }
    phases_join(ph, &all);
    if (rc == 0 && all.len) {
        st_buf_addf(out, "%s\n# changes only\n", to->title);
        st_buf_add(out, all.buf, all.len);
        rc = 1;
    }
    st_buf_release(&all);
    return rc;
}

/* ---- applying ---- */

struct apply_ctx {
    const char *batch;
    bool terse;
    struct st_buf *out;
    struct nft_ctx **keep; /* a context to use and keep (made here if NULL) */
};

static int apply_fn(void *opaque, struct st_err *err)
{
    struct apply_ctx *a = opaque;
    struct nft_ctx *ctx = a->keep ? *a->keep : NULL;
    int rc;
    if (!ctx) {
        ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx) {
            st_err_set(err, ST_ERR_INTERNAL, "cannot create an nftables context");
            return -1;
        }
        if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0) {
            nft_ctx_free(ctx);
            st_err_set(err, ST_ERR_INTERNAL, "cannot buffer nftables output");
            return -1;
        }
        if (a->keep)
            *a->keep = ctx;
    }
    if (a->terse)
        nft_ctx_output_set_flags(ctx, nft_ctx_output_get_flags(ctx) | NFT_CTX_OUTPUT_TERSE);
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
    if (a->keep && rc == 0) {
        /* Empties both buffers for the next batch. */
        (void) nft_ctx_get_output_buffer(ctx);
        (void) nft_ctx_get_error_buffer(ctx);
    } else {
        /* After a refused batch, a new context: nothing of it is kept. */
        nft_ctx_free(ctx);
        if (a->keep)
            *a->keep = NULL;
    }
    return rc == 0 ? 0 : -1;
}

int nft_apply(const char *netns, const char *batch, struct st_err *err)
{
    struct apply_ctx a = {batch, false, NULL, NULL};
    return netns_call(netns, apply_fn, &a, err);
}

static int list_cmd(const char *netns, const char *cmd, bool terse, struct st_buf *out,
                    struct st_err *err)
{
    struct apply_ctx a = {cmd, terse, out, NULL};
    if (strncmp(cmd, "list ", 5)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "not a list command: '%s'", cmd);
        return -1;
    }
    return netns_call(netns, apply_fn, &a, err);
}

int nft_list(const char *netns, const char *cmd, struct st_buf *out, struct st_err *err)
{
    return list_cmd(netns, cmd, false, out, err);
}

/* Checks that each shared table of 'rs' that exists in 'netns' carries
 * the owner of 'rs' in its comment. */
static int check_owner(const char *netns, const struct nft_ruleset *rs, struct st_err *err)
{
    struct st_buf tables = ST_BUF_INIT, one = ST_BUF_INIT, want = ST_BUF_INIT;
    bool any = false;
    int rc = -1;
    for (size_t i = 0; i < rs->ntables; i++)
        any |= rs->tables[i].shared;
    if (!any)
        return 0;
    st_buf_addch(&tables, '\n');
    if (list_cmd(netns, "list tables", false, &tables, err) < 0)
        goto out;
    for (size_t i = 0; i < rs->ntables; i++) {
        const struct ntable *t = &rs->tables[i];
        char cmd[64];
        if (!t->shared)
            continue;
        st_buf_reset(&want);
        st_buf_addf(&want, "\ntable %s %s\n", table_family[t->t], t->name);
        if (!strstr(tables.buf, want.buf))
            continue;
        st_buf_reset(&one);
        ST_IGNORE(st_snprintf(cmd, sizeof(cmd), "list table %s %s", table_family[t->t], t->name));
        if (list_cmd(netns, cmd, true, &one, err) < 0)
            goto out;
        st_buf_reset(&want);
        st_buf_addf(&want, "comment \"%s:", rs->owner);
        if (!strstr(one.buf, want.buf)) {
            st_err_set(err, ST_ERR_CONFLICT,
                       "nftables table '%s %s' is not this host's (its comment does not say "
                       "'%s'): leaving it alone",
                       table_family[t->t], t->name, rs->owner);
            goto out;
        }
    }
    rc = 0;
out:
    st_buf_release(&tables);
    st_buf_release(&one);
    st_buf_release(&want);
    return rc;
}

struct nft_state {
    struct nft_ruleset *applied; /* what the kernel holds, or NULL: unknown */
    uint32_t genid;              /* the generation right after it */
    char checked[64];            /* the owner whose tables a whole replace
                                    checked, "" if none */
    bool keep_open;              /* the sockets below are kept between calls */
    struct nft_ctx *ctx;         /* libnftables context, made in the namespace */
    struct nl_sock *gen;         /* NETLINK_NETFILTER socket for the generation */
};

struct nft_state *nft_state_new(bool keep_open)
{
    struct nft_state *st = st_xcalloc(1, sizeof(*st));
    st->keep_open = keep_open;
    return st;
}

void nft_state_free(struct nft_state *st)
{
    if (!st)
        return;
    nft_ruleset_free(st->applied);
    if (st->ctx)
        nft_ctx_free(st->ctx);
    nl_close(st->gen);
    free(st);
}

static int state_genid(struct nft_state *st, const char *netns, uint32_t *out)
{
    if (!st->keep_open)
        return nl_nft_genid(netns, out, NULL);
    if (!st->gen && !(st->gen = nl_open_nft(netns, NULL)))
        return -1;
    if (nl_nft_genid_sock(st->gen, out, NULL) == 0)
        return 0;
    nl_close(st->gen); /* broken: a new one next time */
    st->gen = NULL;
    return -1;
}

static int state_run(struct nft_state *st, const char *netns, const char *batch, struct st_err *err)
{
    struct apply_ctx a = {batch, false, NULL, st->keep_open ? &st->ctx : NULL};
    return netns_call(netns, apply_fn, &a, err);
}

/* After a batch applied on generation 'before' (have: it is known):
 * remembers 'rs' and the generation, which must be the next one -- any
 * other commit in between may have touched our tables, and the next call
 * replaces them whole. */
static void remember(struct nft_state *st, const char *netns, struct nft_ruleset *rs, bool have,
                     uint32_t before)
{
    uint32_t after;
    nft_ruleset_free(st->applied);
    st->applied = NULL;
    if (have && state_genid(st, netns, &after) == 0 && after == before + 1) {
        st->applied = rs;
        st->genid = after;
    } else {
        nft_ruleset_free(rs);
    }
}

int nft_state_apply(struct nft_state *st, const char *netns, struct nft_ruleset *rs,
                    enum nft_applied *how, struct st_err *err)
{
    struct st_buf b = ST_BUF_INIT;
    uint32_t gen = 0;
    bool have = state_genid(st, netns, &gen) == 0;
    int rc = -1;

    *how = NFT_APPLIED_NONE;
    if (!rs->ntables) {
        /* Nothing to manage (nft_host_ruleset without a host id). */
        nft_ruleset_free(rs);
        return 0;
    }
    if (st->applied && have && gen == st->genid) {
        int d = nft_render_diff(st->applied, rs, &b);
        if (d == 0) {
            /* Equal: keep the new one, it is the same. */
            nft_ruleset_free(st->applied);
            st->applied = rs;
            rc = 0;
            goto out;
        }
        if (d > 0 && state_run(st, netns, b.buf, NULL) == 0) {
            *how = NFT_APPLIED_DIFF;
            remember(st, netns, rs, have, gen);
            rc = 0;
            goto out;
        }
        /* A difference of another shape, or one the kernel refused (which
         * changed nothing): replace whole. */
        st_buf_reset(&b);
    }
    if (strcmp(st->checked, rs->owner) && check_owner(netns, rs, err) < 0)
        goto fail;
    nft_render_whole(rs, &b);
    if (state_run(st, netns, b.buf, err) < 0)
        goto fail;
    memcpy(st->checked, rs->owner, sizeof(st->checked));
    *how = NFT_APPLIED_WHOLE;
    remember(st, netns, rs, have, gen);
    rc = 0;
    goto out;
fail:
    nft_ruleset_free(st->applied);
    st->applied = NULL;
    nft_ruleset_free(rs);
out:
    st_buf_release(&b);
    return rc;
}

int nft_host_teardown(const char *host_id, const char *netns, struct st_err *err)
{
    struct nft_ruleset *rs;
    struct nft_state *st;
    enum nft_applied how;
    int rc;
    if (!host_id_ok(host_id)) {
        no_host_id(err);
        return -1;
    }
    rs = nft_host_ruleset(host_id, NULL, NULL, err);
    if (!rs)
        return -1;
    st = nft_state_new(false);
    rc = nft_state_apply(st, netns, rs, &how, err);
    nft_state_free(st);
    return rc;
}

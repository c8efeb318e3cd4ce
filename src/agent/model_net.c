/* model_net.c - parsing and checking of the networking lists of the
 * desired state (networks, ports, security groups, routers) and their
 * lookups; see model.h, and model_internal.h for what model.c lends. */
#include "agent/model_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- Networking lists (docs/agent-protocol.md, "Networking in the
 * desired state").  Structure is checked here, strictly: a value that is
 * malformed refuses the whole document, as for servers.  References
 * between the lists (a port's network, a router leg's network, a port's
 * groups) are checked by the network reconciler, which fails only the
 * resource concerned. */

void model_ifname(const char *prefix, const char *id, char out[MODEL_IFNAME_MAX])
{
    size_t p = strlen(prefix), i;
    /* Callers pass fixed prefixes of at most 4 characters. */
    for (i = 0; i < p && i < 4; i++)
        out[i] = prefix[i];
    for (size_t j = 0; j < 11 && id[j]; j++, i++)
        out[i] = (char) tolower((unsigned char) id[j]);
    out[i] = '\0';
}

/* A UUID, lower-cased so that the names derived from it are canonical. */
static int copy_netid(json_t *o, const char *key, bool required, char *dst, struct st_err *err)
{
    if (model_copy_id(o, key, required, dst, err) < 0)
        return -1;
    model_lower(dst);
    return 0;
}

/* Parses the address 's' of family 'want' (0: either) into its canonical
 * text 'out'.  Returns its family, or 0 when it is not an address. */
static int addr_canon(const char *s, int want, char out[MODEL_ADDR_MAX])
{
    unsigned char bin[16];
    static const int fams[] = {AF_INET, AF_INET6};
    for (size_t i = 0; i < ST_ARRAY_SIZE(fams); i++) {
        if (want && want != fams[i])
            continue;
        if (inet_pton(fams[i], s, bin) == 1 &&
            inet_ntop(fams[i], bin, out, MODEL_ADDR_MAX) != NULL)
            return fams[i];
    }
    return 0;
}

/* Parses "ADDR/PLEN" (or a bare address when 'bare_ok', then a host
 * prefix) of family 'want' (0: either).  With 'strict' a CIDR with host
 * bits set is refused; without, they are cleared (Neutron normalises
 * remote_ip_prefix the same way).  Returns the family, or 0. */
static int cidr_canon(const char *s, int want, bool bare_ok, bool strict,
                      char out[MODEL_CIDR_MAX], int *plen_out)
{
    char addr[MODEL_CIDR_MAX], canon[MODEL_ADDR_MAX];
    unsigned char bin[16];
    const char *slash = strchr(s, '/');
    uint32_t plen;
    int fam;
    size_t alen = slash ? (size_t) (slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(addr))
        return 0;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    fam = addr_canon(addr, want, canon);
    if (!fam)
        return 0;
    if (!slash) {
        if (!bare_ok)
            return 0;
        plen = fam == AF_INET ? 32 : 128;
    } else if (st_parse_u32(slash + 1, 0, fam == AF_INET ? 32 : 128, &plen) < 0) {
        return 0;
    }
    if (inet_pton(fam, canon, bin) != 1)
        return 0;
    for (uint32_t bit = plen; bit < (fam == AF_INET ? 32u : 128u); bit++) {
        unsigned char m = (unsigned char) (0x80u >> (bit % 8));
        if (bin[bit / 8] & m) {
            if (strict)
                return 0;
            bin[bit / 8] &= (unsigned char) ~m;
        }
    }
    if (!inet_ntop(fam, bin, canon, sizeof(canon)) ||
        st_snprintf(out, MODEL_CIDR_MAX, "%s/%u", canon, plen) < 0)
        return 0;
    *plen_out = (int) plen;
    return fam;
}

/* A unicast MAC address, lower-cased in place. */
static bool unicast_mac_ok(char *s)
{
    unsigned v;
    if (!model_mac_ok(s))
        return false;
    if (sscanf(s, "%2x", &v) != 1 || (v & 1))
        return false;
    return strcmp(s, "00:00:00:00:00:00") != 0;
}

static int get_mac(json_t *o, const char *key, bool required, char mac[18], struct st_err *err)
{
    if (model_copy_str(o, key, required, mac, 18, err) < 0)
        return -1;
    if (mac[0] && !unicast_mac_ok(mac))
        return model_bad(err, key, "not a unicast MAC address");
    return 0;
}

static int get_addr(json_t *o, const char *key, bool required, int want,
                    char out[MODEL_ADDR_MAX], int *family, struct st_err *err)
{
    char raw[MODEL_ADDR_MAX];
    int fam;
    if (model_copy_str(o, key, required, raw, sizeof(raw), err) < 0)
        return -1;
    out[0] = '\0';
    if (!raw[0]) {
        if (family)
            *family = 0;
        return 0;
    }
    fam = addr_canon(raw, want, out);
    if (!fam)
        return model_bad(err, key, "not an IP address");
    if (family)
        *family = fam;
    return 0;
}

static int parse_fixed_ips(json_t *o, struct model_fixed_ip *ips, int *nips, struct st_err *err)
{
    json_t *arr, *ip;
    size_t i;
    if (model_get_array(o, "fixed_ips", MODEL_MAX_IPS, &arr, err) < 0)
        return -1;
    json_array_foreach(arr, i, ip)
    {
        struct model_fixed_ip *m = &ips[*nips];
        int64_t plen = 0;
        if (!json_is_object(ip))
            return model_bad(err, "fixed_ips", "not an object");
        if (get_addr(ip, "ip_address", true, 0, m->address, &m->family, err) < 0 ||
            copy_netid(ip, "subnet_id", false, m->subnet_id, err) < 0 ||
            model_get_int(ip, "prefixlen", false, 1, m->family == AF_INET ? 32 : 128, &plen,
                          err) < 0)
            return -1;
        m->prefixlen = plen ? (int) plen : (m->family == AF_INET ? 32 : 128);
        (*nips)++;
    }
    return 0;
}

static int parse_route(json_t *o, struct model_route *r, struct st_err *err)
{
    char raw[MODEL_CIDR_MAX];
    int plen, nfam = 0;
    if (!json_is_object(o))
        return model_bad(err, "routes", "not an object");
    if (model_copy_str(o, "destination", true, raw, sizeof(raw), err) < 0)
        return -1;
    r->family = cidr_canon(raw, 0, false, true, r->destination, &plen);
    if (!r->family)
        return model_bad(err, "destination", "not a CIDR without host bits");
    if (get_addr(o, "nexthop", true, r->family, r->nexthop, &nfam, err) < 0)
        return -1;
    return 0;
}

static bool hostname_ok(const char *s)
{
    size_t label = 0;
    if (!*s || strlen(s) > 63)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char) *p) && *p != '-')
            return false;
        if (label == 0 && *p == '-')
            return false;
        label++;
    }
    return label > 0 && s[strlen(s) - 1] != '-';
}

static int parse_subnet(json_t *o, struct model_subnet *sn, struct st_err *err)
{
    char raw[MODEL_CIDR_MAX];
    json_t *arr, *v;
    size_t i;
    int64_t ver = 0;
    int fam, f2 = 0;
    if (!json_is_object(o))
        return model_bad(err, "subnets", "not an object");
    if (copy_netid(o, "id", true, sn->id, err) < 0 ||
        model_copy_str(o, "cidr", true, raw, sizeof(raw), err) < 0 ||
        model_get_int(o, "ip_version", true, 4, 6, &ver, err) < 0)
        return -1;
    if (ver != 4 && ver != 6)
        return model_bad(err, "ip_version", "not 4 or 6");
    sn->ip_version = (int) ver;
    fam = ver == 4 ? AF_INET : AF_INET6;
    if (!cidr_canon(raw, fam, false, true, sn->cidr, &sn->prefixlen))
        return model_bad(err, "cidr", "not a CIDR of the subnet's version without host bits");
    if (get_addr(o, "gateway_ip", false, fam, sn->gateway_ip, &f2, err) < 0)
        return -1;
    v = json_object_get(o, "enable_dhcp");
    if (v && !json_is_boolean(v))
        return model_bad(err, "enable_dhcp", "not a boolean");
    sn->enable_dhcp = !v || json_is_true(v);
    v = json_object_get(o, "isolated_metadata");
    if (v && !json_is_boolean(v))
        return model_bad(err, "isolated_metadata", "not a boolean");
    sn->isolated_metadata = json_is_true(v);
    if (model_get_array(o, "dns_nameservers", MODEL_MAX_DNS, &arr, err) < 0)
        return -1;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !addr_canon(json_string_value(v), 0, sn->dns[sn->ndns]))
            return model_bad(err, "dns_nameservers", "not an IP address");
        sn->ndns++;
    }
    if (model_get_array(o, "host_routes", MODEL_MAX_ROUTES, &arr, err) < 0)
        return -1;
    json_array_foreach(arr, i, v)
    {
        if (parse_route(v, &sn->routes[sn->nroutes], err) < 0)
            return -1;
        if (sn->routes[sn->nroutes].family != fam)
            return model_bad(err, "host_routes", "not of the subnet's version");
        sn->nroutes++;
    }
    if (model_get_array(o, "allocation_pools", MODEL_MAX_POOLS, &arr, err) < 0)
        return -1;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_object(v) ||
            get_addr(v, "start", true, fam, sn->pools[sn->npools].start, &f2, err) < 0 ||
            get_addr(v, "end", true, fam, sn->pools[sn->npools].end, &f2, err) < 0)
            return st_err_is_set(err) ? -1 : model_bad(err, "allocation_pools", NULL);
        sn->npools++;
    }
    return 0;
}

static void dhcp_free(struct model_dhcp *dh)
{
    if (!dh)
        return;
    free(dh->subnets);
    free(dh->hosts);
    free(dh);
}

static int parse_dhcp(json_t *o, struct model_dhcp *dh, struct st_err *err)
{
    json_t *arr, *v;
    size_t i;
    if (!json_is_object(o))
        return model_bad(err, "dhcp", "not an object");
    if (copy_netid(o, "port_id", true, dh->port_id, err) < 0 ||
        get_mac(o, "mac_address", true, dh->mac, err) < 0 ||
        parse_fixed_ips(o, dh->ips, &dh->nips, err) < 0)
        return -1;
    model_ifname("tap", dh->port_id, dh->tap);
    model_ifname("ns-", dh->port_id, dh->ns_if);
    if (model_get_array(o, "subnets", MODEL_MAX_SUBNETS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        dh->subnets = st_xcalloc(json_array_size(arr), sizeof(*dh->subnets));
    json_array_foreach(arr, i, v)
    {
        if (parse_subnet(v, &dh->subnets[i], err) < 0)
            return -1;
        dh->nsubnets++;
    }
    if (model_get_array(o, "hosts", MODEL_MAX_DHCP_HOSTS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        dh->hosts = st_xcalloc(json_array_size(arr), sizeof(*dh->hosts));
    json_array_foreach(arr, i, v)
    {
        struct model_dhcp_host *h = &dh->hosts[i];
        if (!json_is_object(v))
            return model_bad(err, "hosts", "not an object");
        if (get_mac(v, "mac_address", true, h->mac, err) < 0 ||
            get_addr(v, "ip_address", true, 0, h->ip, &h->family, err) < 0 ||
            model_copy_str(v, "hostname", false, h->hostname, sizeof(h->hostname), err) < 0)
            return -1;
        if (h->hostname[0] && !hostname_ok(h->hostname))
            return model_bad(err, "hostname", "not a host name");
        dh->nhosts++;
    }
    return 0;
}

static int parse_network(json_t *o, struct model_network *n, struct st_err *err)
{
    const char *type;
    json_t *arr, *v;
    int64_t mtu = 0;
    size_t i;
    if (!json_is_object(o))
        return model_bad(err, "network", "not an object");
    if (copy_netid(o, "id", true, n->id, err) < 0 ||
        model_copy_str(o, "physical_network", false, n->physical_network,
                       sizeof(n->physical_network), err) < 0 ||
        model_get_int(o, "mtu", false, 0, 65535, &mtu, err) < 0)
        return -1;
    if (mtu && mtu < 68)
        return model_bad(err, "mtu", "out of range");
    n->mtu = (int) mtu;
    for (const char *p = n->physical_network; *p; p++)
        if (!isalnum((unsigned char) *p) && !strchr("_.-", *p))
            return model_bad(err, "physical_network", "bad characters");
    type = json_string_value(json_object_get(o, "network_type"));
    if (!type)
        return model_bad(err, "network_type", "missing");
    if (!strcmp(type, "local"))
        n->type = MODEL_NET_LOCAL;
    else if (!strcmp(type, "flat"))
        n->type = MODEL_NET_FLAT;
    else if (!strcmp(type, "vlan"))
        n->type = MODEL_NET_VLAN;
    else if (!strcmp(type, "vxlan"))
        n->type = MODEL_NET_VXLAN;
    else
        return model_bad(err, "network_type", "not local, flat, vlan or vxlan");
    switch (n->type) {
    case MODEL_NET_VLAN:
        if (model_get_int(o, "segmentation_id", true, 1, 4094, &n->segmentation_id, err) < 0)
            return -1;
        /* A VLAN needs a physical network too. */
        __attribute__((fallthrough));
    case MODEL_NET_FLAT:
        if (!n->physical_network[0])
            return model_bad(err, "physical_network", "missing");
        break;
    case MODEL_NET_VXLAN:
        if (model_get_int(o, "segmentation_id", true, 1, 16777215, &n->segmentation_id, err) < 0)
            return -1;
        if (st_snprintf(n->vxlan, sizeof(n->vxlan), "vxlan-%lld",
                        (long long) n->segmentation_id) < 0)
            return model_bad(err, "segmentation_id", NULL);
        break;
    case MODEL_NET_LOCAL:
        break;
    }
    v = json_object_get(o, "external");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return model_bad(err, "external", "not a boolean");
    n->external = json_is_true(v);
    model_ifname("brq", n->id, n->bridge);
    if (st_snprintf(n->dhcp_ns, sizeof(n->dhcp_ns), "qdhcp-%s", n->id) < 0)
        return model_bad(err, "id", NULL);
    if (model_get_array(o, "vxlan_peers", MODEL_MAX_PEERS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        n->vxlan_peers = st_xcalloc(json_array_size(arr), sizeof(*n->vxlan_peers));
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !addr_canon(json_string_value(v), 0, n->vxlan_peers[i]))
            return model_bad(err, "vxlan_peers", "not an IP address");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(n->vxlan_peers[j], n->vxlan_peers[i]))
                return model_bad(err, "vxlan_peers", "duplicate address");
        n->npeers++;
    }
    if (model_get_array(o, "vxlan_fdb", MODEL_MAX_FDB, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        n->vxlan_fdb = st_xcalloc(json_array_size(arr), sizeof(*n->vxlan_fdb));
    json_array_foreach(arr, i, v)
    {
        struct model_fdb *f = &n->vxlan_fdb[i];
        const char *mac = json_string_value(json_object_get(v, "mac_address"));
        const char *dst = json_string_value(json_object_get(v, "vtep_ip"));
        if (!mac || st_snprintf(f->mac, sizeof(f->mac), "%s", mac) < 0 || !unicast_mac_ok(f->mac))
            return model_bad(err, "vxlan_fdb", "not a unicast MAC address");
        if (!dst || !addr_canon(dst, 0, f->dst))
            return model_bad(err, "vxlan_fdb", "not an IP address");
        n->nfdb++;
    }
    v = json_object_get(o, "dhcp");
    if (v && !json_is_null(v)) {
        n->dhcp = st_xcalloc(1, sizeof(*n->dhcp));
        if (parse_dhcp(v, n->dhcp, err) < 0)
            return -1;
    }
    return 0;
}

void model_network_release(struct model_network *n)
{
    free(n->vxlan_peers);
    free(n->vxlan_fdb);
    dhcp_free(n->dhcp);
}

static int parse_port(json_t *o, struct model_port *p, struct st_err *err)
{
    json_t *arr, *v;
    size_t i;
    if (!json_is_object(o))
        return model_bad(err, "port", "not an object");
    if (copy_netid(o, "id", true, p->id, err) < 0 ||
        copy_netid(o, "network_id", true, p->network_id, err) < 0 ||
        get_mac(o, "mac_address", true, p->mac, err) < 0 ||
        parse_fixed_ips(o, p->ips, &p->nips, err) < 0)
        return -1;
    model_ifname("tap", p->id, p->tap);
    v = json_object_get(o, "port_security_enabled");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return model_bad(err, "port_security_enabled", "not a boolean");
    p->port_security = !v || json_is_null(v) || json_is_true(v);
    if (model_get_array(o, "security_groups", MODEL_MAX_PORT_SGS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        p->security_groups = st_xcalloc(json_array_size(arr), sizeof(*p->security_groups));
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !st_is_uuid(json_string_value(v)))
            return model_bad(err, "security_groups", "not a UUID");
        memcpy(p->security_groups[i], json_string_value(v), json_string_length(v) + 1);
        model_lower(p->security_groups[i]);
        p->nsecurity_groups++;
    }
    if (model_get_array(o, "allowed_address_pairs", MODEL_MAX_PAIRS, &arr, err) < 0)
        return -1;
    json_array_foreach(arr, i, v)
    {
        struct model_address_pair *ap = &p->pairs[p->npairs];
        char raw[MODEL_CIDR_MAX];
        if (!json_is_object(v))
            return model_bad(err, "allowed_address_pairs", "not an object");
        if (model_copy_str(v, "ip_address", true, raw, sizeof(raw), err) < 0 ||
            get_mac(v, "mac_address", false, ap->mac, err) < 0)
            return -1;
        ap->family = cidr_canon(raw, 0, true, false, ap->ip, &ap->prefixlen);
        if (!ap->family)
            return model_bad(err, "allowed_address_pairs", "not an address or CIDR");
        if (!ap->mac[0])
            memcpy(ap->mac, p->mac, sizeof(ap->mac));
        p->npairs++;
    }
    return 0;
}

/* The IANA number of a Neutron protocol name or number; -1 when unknown. */
static int protocol_number(const char *s)
{
    static const struct {
        const char *name;
        int num;
    } names[] = {
        {"icmp", 1},    {"igmp", 2},      {"tcp", 6},   {"egp", 8},     {"udp", 17},
        {"ipv6-encap", 41}, {"ipv6-route", 43}, {"ipv6-frag", 44}, {"rsvp", 46},
        {"gre", 47},    {"esp", 50},      {"ah", 51},   {"icmpv6", 58}, {"ipv6-icmp", 58},
        {"ipv6-nonxt", 59}, {"ipv6-opts", 60}, {"ospf", 89}, {"pgm", 113}, {"vrrp", 112},
        {"l2tp", 115},  {"sctp", 132},    {"udplite", 136}, {"dccp", 33},
    };
    uint32_t n;
    for (size_t i = 0; i < ST_ARRAY_SIZE(names); i++)
        if (!strcmp(s, names[i].name))
            return names[i].num;
    if (st_parse_u32(s, 0, 255, &n) == 0)
        return (int) n;
    return -1;
}

static int parse_sg_rule(json_t *o, struct model_sg_rule *r, struct st_err *err)
{
    const char *dir, *eth;
    json_t *v;
    int64_t pmin = -1, pmax = -1;
    char raw[MODEL_CIDR_MAX];
    int plen;
    if (!json_is_object(o))
        return model_bad(err, "rules", "not an object");
    if (copy_netid(o, "id", true, r->id, err) < 0 ||
        copy_netid(o, "remote_group_id", false, r->remote_group_id, err) < 0 ||
        model_copy_str(o, "remote_ip_prefix", false, raw, sizeof(raw), err) < 0)
        return -1;
    dir = json_string_value(json_object_get(o, "direction"));
    if (dir && !strcmp(dir, "ingress"))
        r->direction = MODEL_SG_INGRESS;
    else if (dir && !strcmp(dir, "egress"))
        r->direction = MODEL_SG_EGRESS;
    else
        return model_bad(err, "direction", "not ingress or egress");
    eth = json_string_value(json_object_get(o, "ethertype"));
    if (eth && !strcmp(eth, "IPv4"))
        r->family = AF_INET;
    else if (eth && !strcmp(eth, "IPv6"))
        r->family = AF_INET6;
    else
        return model_bad(err, "ethertype", "not IPv4 or IPv6");
    v = json_object_get(o, "protocol");
    r->protocol = -1;
    /* Neutron takes "any" for no protocol, as null. */
    if (v && !json_is_null(v) && !(json_is_string(v) && !strcmp(json_string_value(v), "any"))) {
        if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 255)
            r->protocol = (int) json_integer_value(v);
        else if (json_is_string(v) && json_string_length(v) < 16)
            r->protocol = protocol_number(json_string_value(v));
        if (r->protocol < 0)
            return model_bad(err, "protocol", "unknown");
        /* "icmp" with ethertype IPv6 means ICMPv6, as in Neutron. */
        if (r->protocol == 1 && r->family == AF_INET6)
            r->protocol = 58;
        if (r->protocol == 58 && r->family == AF_INET)
            return model_bad(err, "protocol", "ICMPv6 with ethertype IPv4");
    }
    if (model_get_int(o, "port_range_min", false, 0, 65535, &pmin, err) < 0 ||
        model_get_int(o, "port_range_max", false, 0, 65535, &pmax, err) < 0)
        return -1;
    r->port_min = (int) pmin;
    r->port_max = (int) pmax;
    switch (r->protocol) {
    case 6:
    case 17:
    case 132:
    case 33:
    case 136:
        /* Ports: both or min alone (one port), min <= max, never 0. */
        if (pmin == 0 || pmax == 0 || (pmin < 0 && pmax >= 0) ||
            (pmin >= 0 && pmax >= 0 && pmin > pmax))
            return model_bad(err, "port_range", "not a valid port range");
        if (pmin >= 0 && pmax < 0)
            r->port_max = (int) pmin;
        break;
    case 1:
    case 58:
        /* ICMP type in min, code in max; a code needs a type. */
        if (pmin > 255 || pmax > 255 || (pmin < 0 && pmax >= 0))
            return model_bad(err, "port_range", "not a valid ICMP type and code");
        break;
    default:
        if (pmin >= 0 || pmax >= 0)
            return model_bad(err, "port_range", "only for tcp, udp, sctp, dccp, udplite and icmp");
    }
    if (raw[0]) {
        if (!cidr_canon(raw, r->family, true, false, r->remote_ip_prefix, &plen))
            return model_bad(err, "remote_ip_prefix", "not a CIDR of the rule's ethertype");
        if (r->remote_group_id[0])
            return model_bad(err, "remote_ip_prefix", "and remote_group_id both given");
    }
    return 0;
}

void model_secgroup_release(struct model_secgroup *g)
{
    free(g->rules);
    free(g->member_ips);
    free(g->member_family);
}

static int parse_secgroup(json_t *o, struct model_secgroup *g, struct st_err *err)
{
    json_t *arr, *v;
    size_t i;
    if (!json_is_object(o))
        return model_bad(err, "security_group", "not an object");
    if (copy_netid(o, "id", true, g->id, err) < 0)
        return -1;
    v = json_object_get(o, "stateful");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return model_bad(err, "stateful", "not a boolean");
    g->stateful = !v || json_is_null(v) || json_is_true(v);
    if (model_get_array(o, "rules", MODEL_MAX_SG_RULES, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        g->rules = st_xcalloc(json_array_size(arr), sizeof(*g->rules));
    json_array_foreach(arr, i, v)
    {
        if (parse_sg_rule(v, &g->rules[i], err) < 0)
            return -1;
        g->nrules++;
    }
    if (model_get_array(o, "member_ips", MODEL_MAX_SG_MEMBERS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr)) {
        g->member_ips = st_xcalloc(json_array_size(arr), sizeof(*g->member_ips));
        g->member_family = st_xcalloc(json_array_size(arr), sizeof(*g->member_family));
    }
    json_array_foreach(arr, i, v)
    {
        int fam = json_is_string(v) ? addr_canon(json_string_value(v), 0, g->member_ips[i]) : 0;
        if (!fam)
            return model_bad(err, "member_ips", "not an IP address");
        g->member_family[i] = fam;
        g->nmembers++;
    }
    return 0;
}

static int parse_router_port(json_t *o, const char *prefix, struct model_router_port *rp,
                             struct st_err *err)
{
    if (!json_is_object(o))
        return model_bad(err, "router port", "not an object");
    if (copy_netid(o, "port_id", true, rp->port_id, err) < 0 ||
        copy_netid(o, "network_id", true, rp->network_id, err) < 0 ||
        get_mac(o, "mac_address", true, rp->mac, err) < 0 ||
        parse_fixed_ips(o, rp->ips, &rp->nips, err) < 0)
        return -1;
    model_ifname(prefix, rp->port_id, rp->ifname);
    model_ifname("tap", rp->port_id, rp->tap);
    return 0;
}

void model_router_release(struct model_router *r)
{
    free(r->interfaces);
    free(r->routes);
    free(r->floating_ips);
}

static int parse_router(json_t *o, struct model_router *r, struct st_err *err)
{
    json_t *arr, *v, *gw;
    size_t i;
    if (!json_is_object(o))
        return model_bad(err, "router", "not an object");
    if (copy_netid(o, "id", true, r->id, err) < 0)
        return -1;
    if (st_snprintf(r->netns, sizeof(r->netns), "qrouter-%s", r->id) < 0)
        return model_bad(err, "router id", NULL);
    gw = json_object_get(o, "gateway");
    if (gw && !json_is_null(gw)) {
        int fam = 0;
        if (parse_router_port(gw, "qg-", &r->gateway, err) < 0 ||
            get_addr(gw, "gateway_ip", false, 0, r->gateway_ip, &fam, err) < 0)
            return -1;
        v = json_object_get(gw, "enable_snat");
        if (v && !json_is_null(v) && !json_is_boolean(v))
            return model_bad(err, "enable_snat", "not a boolean");
        r->enable_snat = !v || json_is_null(v) || json_is_true(v);
        r->has_gateway = true;
    }
    if (model_get_array(o, "interfaces", MODEL_MAX_ROUTER_IFACES, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        r->interfaces = st_xcalloc(json_array_size(arr), sizeof(*r->interfaces));
    json_array_foreach(arr, i, v)
    {
        if (parse_router_port(v, "qr-", &r->interfaces[i], err) < 0)
            return -1;
        r->ninterfaces++;
    }
    if (model_get_array(o, "routes", MODEL_MAX_ROUTER_ROUTES, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        r->routes = st_xcalloc(json_array_size(arr), sizeof(*r->routes));
    json_array_foreach(arr, i, v)
    {
        if (parse_route(v, &r->routes[i], err) < 0)
            return -1;
        r->nroutes++;
    }
    if (model_get_array(o, "floating_ips", MODEL_MAX_FIPS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        r->floating_ips = st_xcalloc(json_array_size(arr), sizeof(*r->floating_ips));
    json_array_foreach(arr, i, v)
    {
        struct model_floating_ip *f = &r->floating_ips[i];
        int fam;
        if (!json_is_object(v))
            return model_bad(err, "floating_ips", "not an object");
        if (copy_netid(v, "id", true, f->id, err) < 0 ||
            get_addr(v, "floating_ip_address", true, AF_INET, f->floating_ip, &fam, err) < 0 ||
            get_addr(v, "fixed_ip_address", true, AF_INET, f->fixed_ip, &fam, err) < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r->floating_ips[j].floating_ip, f->floating_ip) ||
                !strcmp(r->floating_ips[j].fixed_ip, f->fixed_ip))
                return model_bad(err, "floating_ips", "an address used twice");
        r->nfloating_ips++;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Refuses duplicate ids within a list and two resources whose derived
 * names collide (two ports whose ids share their first 11 characters
 * would share a tap): one of them would silently be the other. */
static int check_unique(struct model_desired *d, struct st_err *err)
{
    size_t n = d->nnetworks + 2 * d->nports + d->nsecgroups + d->nrouters, k = 0;
    const char **names;
    char(*tmp)[MODEL_NETNS_MAX + 8];
    int rc = 0;
    for (size_t i = 0; i < d->nnetworks; i++)
        n += d->networks[i].dhcp ? 1 : 0;
    for (size_t i = 0; i < d->nrouters; i++)
        n += d->routers[i].ninterfaces + (d->routers[i].has_gateway ? 1 : 0);
    if (n == 0)
        return 0;
    names = st_xcalloc(n, sizeof(*names));
    tmp = st_xcalloc(n, sizeof(*tmp));
#define ADD(fmt, ...)                                                                              \
    do {                                                                                           \
        ST_IGNORE(st_snprintf(tmp[k], sizeof(tmp[k]), fmt, __VA_ARGS__));                          \
        names[k] = tmp[k];                                                                         \
        k++;                                                                                       \
    } while (0)
    for (size_t i = 0; i < d->nnetworks; i++) {
        ADD("net %s", d->networks[i].bridge);
        if (d->networks[i].dhcp)
            ADD("tap %s", d->networks[i].dhcp->tap);
    }
    for (size_t i = 0; i < d->nports; i++) {
        ADD("tap %s", d->ports[i].tap);
        ADD("port %s", d->ports[i].id);
    }
    for (size_t i = 0; i < d->nsecgroups; i++)
        ADD("sg %s", d->secgroups[i].id);
    for (size_t i = 0; i < d->nrouters; i++) {
        ADD("router %s", d->routers[i].id);
        if (d->routers[i].has_gateway)
            ADD("tap %s", d->routers[i].gateway.tap);
        for (size_t j = 0; j < d->routers[i].ninterfaces; j++)
            ADD("tap %s", d->routers[i].interfaces[j].tap);
    }
#undef ADD
    qsort(names, k, sizeof(*names), cmp_str);
    for (size_t i = 1; i < k; i++) {
        if (!strcmp(names[i - 1], names[i])) {
            rc = model_bad(err, "document: duplicate id or colliding interface name", names[i]);
            break;
        }
    }
    free(names);
    free(tmp);
    return rc;
}
static int parse_network_v(json_t *o, void *p, struct st_err *err)
{
    return parse_network(o, p, err);
}
static int parse_port_v(json_t *o, void *p, struct st_err *err)
{
    return parse_port(o, p, err);
}
static int parse_secgroup_v(json_t *o, void *p, struct st_err *err)
{
    return parse_secgroup(o, p, err);
}
static int parse_router_v(json_t *o, void *p, struct st_err *err)
{
    return parse_router(o, p, err);
}

int model_parse_net_lists(json_t *doc, struct model_desired *d, struct st_err *err)
{
    if (model_parse_list(doc, "networks", MODEL_MAX_NETWORKS, sizeof(*d->networks),
                         (void **) &d->networks, &d->nnetworks, parse_network_v, err) < 0 ||
        model_parse_list(doc, "ports", MODEL_MAX_PORTS, sizeof(*d->ports), (void **) &d->ports,
                         &d->nports, parse_port_v, err) < 0 ||
        model_parse_list(doc, "security_groups", MODEL_MAX_SECGROUPS, sizeof(*d->secgroups),
                         (void **) &d->secgroups, &d->nsecgroups, parse_secgroup_v, err) < 0 ||
        model_parse_list(doc, "routers", MODEL_MAX_ROUTERS, sizeof(*d->routers),
                         (void **) &d->routers, &d->nrouters, parse_router_v, err) < 0)
        return -1;
    return check_unique(d, err);
}

const struct model_network *model_find_network(const struct model_desired *d, const char *id)
{
    for (size_t i = 0; i < d->nnetworks; i++)
        if (!strcmp(d->networks[i].id, id))
            return &d->networks[i];
    return NULL;
}

const struct model_secgroup *model_find_secgroup(const struct model_desired *d, const char *id)
{
    for (size_t i = 0; i < d->nsecgroups; i++)
        if (!strcmp(d->secgroups[i].id, id))
            return &d->secgroups[i];
    return NULL;
}

const char *model_net_type_name(enum model_net_type t)
{
    static const char *const names[] = {"local", "flat", "vlan", "vxlan"};
    return (unsigned) t < ST_ARRAY_SIZE(names) ? names[t] : "unknown";
}

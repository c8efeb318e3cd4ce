/*
 * render.c (metadata) - the texts a guest reads about itself (see
 * render.h): NoCloud YAML, the config drive / metadata service JSON as Nova
 * writes it, and the two trees of the metadata service.  Moved here from
 * the agent's seed.c so that the agent's seeds and stratusd's metadata API
 * share them.
 *
 * YAML is written by hand, but every string goes out as a double-quoted
 * scalar with escapes (yaml_str()), so that nothing a user can put into a
 * name or a key (quotes, '#', ': ', newlines, NEL, U+2028) can change the
 * structure.  MAC and IP addresses are quoted too: YAML 1.1 reads an
 * unquoted 12:34:56 as a base-60 integer.
 *
 * What cloud-init 22.4 does with it (cloudinit/sources/DataSourceNoCloud.py,
 * DataSourceConfigDrive.py, DataSourceOpenStack.py, helpers/openstack.py,
 * net/network_state.py):
 *   - NoCloud needs both meta-data and user-data on a filesystem labelled
 *     "cidata"; network-config is optional.  In v2, an "ethernets" entry
 *     matched by MAC without set-name takes the name of the NIC that has
 *     that MAC; routes must say "to: 0.0.0.0/0" ("default" is refused),
 *     and the IPv6 default route is "gateway6" (see v2_nic()).
 *   - The config drive reader takes the newest version directory it knows
 *     under openstack/ (2018-08-27 is its newest), "latest" otherwise;
 *     meta_data.json must hold "uuid"; network_data.json network types
 *     ipv4, ipv6, ipv4_dhcp and ipv6_dhcp map to static, static6, dhcp4 and
 *     dhcp6; DNS comes from each network's and the top-level "services".
 *   - The OpenStack datasource reads http://169.254.169.254/openstack, picks
 *     the newest version it knows from that listing, and reads the same
 *     files under it; the EC2 datasource walks /VERSION/meta-data/ (a
 *     directory listing is one name a line, subdirectories with a trailing
 *     '/', public keys as "INDEX=NAME").
 */
#include "metadata/render.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/banned.h"

/* ------------------------------------------------------------------ */
/* YAML */

/* Decodes one UTF-8 sequence at 'p'; returns its length (0 if invalid). */
static size_t utf8_next(const unsigned char *p, uint32_t *cp)
{
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80) {
        *cp = ((uint32_t) (p[0] & 0x1f) << 6) | (p[1] & 0x3f);
        return *cp >= 0x80 ? 2 : 0;
    }
    if ((p[0] & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
        *cp = ((uint32_t) (p[0] & 0x0f) << 12) | ((uint32_t) (p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        return *cp >= 0x800 && (*cp < 0xd800 || *cp > 0xdfff) ? 3 : 0;
    }
    if ((p[0] & 0xf8) == 0xf0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
        (p[3] & 0xc0) == 0x80) {
        *cp = ((uint32_t) (p[0] & 0x07) << 18) | ((uint32_t) (p[1] & 0x3f) << 12) |
              ((uint32_t) (p[2] & 0x3f) << 6) | (p[3] & 0x3f);
        return *cp >= 0x10000 && *cp <= 0x10ffff ? 4 : 0;
    }
    return 0;
}

/* Appends the first 'len' bytes of 's' as a YAML double-quoted scalar.
 * Everything outside printable ASCII that YAML treats specially is escaped:
 * C0 and C1 controls and DEL (\n, \t, \xNN), NEL (\N), the line and
 * paragraph separators (\L, \P), the BOM and the non-characters U+FFFE and
 * U+FFFF (\uXXXX).  Other characters are kept as UTF-8.  Returns false when
 * 's' is not valid UTF-8 (nothing can represent that). */
static bool yaml_strn(struct st_buf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s, *e = p + len;
    st_buf_addch(out, '"');
    while (p < e) {
        uint32_t cp;
        size_t n = utf8_next(p, &cp);
        if (n == 0 || p + n > e)
            return false;
        switch (cp) {
        case '"':
            st_buf_adds(out, "\\\"");
            break;
        case '\\':
            st_buf_adds(out, "\\\\");
            break;
        case '\n':
            st_buf_adds(out, "\\n");
            break;
        case '\t':
            st_buf_adds(out, "\\t");
            break;
        case '\r':
            st_buf_adds(out, "\\r");
            break;
        case 0x85:
            st_buf_adds(out, "\\N");
            break;
        case 0x2028:
            st_buf_adds(out, "\\L");
            break;
        case 0x2029:
            st_buf_adds(out, "\\P");
            break;
        default:
            if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
                st_buf_addf(out, "\\x%02X", (unsigned) cp);
            else if (cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
                st_buf_addf(out, "\\u%04X", (unsigned) cp);
            else
                st_buf_add(out, p, n);
        }
        p += n;
    }
    st_buf_addch(out, '"');
    return true;
}

static bool yaml_str(struct st_buf *out, const char *s)
{
    return yaml_strn(out, s, strlen(s));
}

int mdr_nocloud_meta_data(const struct model_server *s, struct st_buf *out, struct st_err *err)
{
    struct st_buf b = ST_BUF_INIT;
    bool ok = true;

    st_buf_adds(&b, "instance-id: ");
    ok &= yaml_str(&b, s->id);
    st_buf_adds(&b, "\nlocal-hostname: ");
    ok &= yaml_str(&b, s->hostname);
    st_buf_adds(&b, "\nhostname: ");
    ok &= yaml_str(&b, s->hostname);
    st_buf_addch(&b, '\n');
    if (s->key_data) {
        /* One entry a line: cloud-init writes each entry as one line of
         * authorized_keys. */
        const char *p = s->key_data;
        bool first = true;
        while (*p) {
            size_t n = strcspn(p, "\n");
            size_t m = n;
            if (m && p[m - 1] == '\r')
                m--;
            if (m) {
                if (first)
                    st_buf_adds(&b, "public-keys:\n");
                first = false;
                st_buf_adds(&b, "  - ");
                ok &= yaml_strn(&b, p, m);
                st_buf_addch(&b, '\n');
            }
            p += n + (p[n] == '\n');
        }
    }
    if (!ok) {
        st_buf_release(&b);
        st_err_set(err, ST_ERR_BAD_REQUEST, "meta-data of server '%s': not valid UTF-8", s->id);
        return -1;
    }
    st_buf_add(out, b.buf, b.len);
    st_buf_release(&b);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Addresses */

/* 4 or 6 for an IP address, 0 for anything else. */
static int ip_family(const char *s)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, s, a) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, a) == 1)
        return 6;
    return 0;
}

/* The netmask of a prefix length, dotted for IPv4, as an address for IPv6
 * ("ffff:ffff:ffff:ffff::"), as Nova writes both. */
static void netmask(int family, int prefixlen, char out[INET6_ADDRSTRLEN])
{
    unsigned char m[16] = {0};
    int bytes = family == 4 ? 4 : 16;
    for (int i = 0; i < bytes; i++) {
        int bits = prefixlen - 8 * i;
        m[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (unsigned char) (0xff << (8 - bits));
    }
    if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, m, out, INET6_ADDRSTRLEN))
        out[0] = '\0';
}

/* Splits "NET/LEN" into its normalised network address, family and length. */
static int parse_cidr(const char *cidr, char net[INET6_ADDRSTRLEN], int *family, int *plen)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned char a[16];
    const char *slash = strchr(cidr, '/');
    uint32_t len;
    int bytes;
    if (!slash || (size_t) (slash - cidr) >= sizeof(addr))
        return -1;
    memcpy(addr, cidr, (size_t) (slash - cidr));
    addr[slash - cidr] = '\0';
    if (inet_pton(AF_INET, addr, a) == 1)
        *family = 4;
    else if (inet_pton(AF_INET6, addr, a) == 1)
        *family = 6;
    else
        return -1;
    bytes = *family == 4 ? 4 : 16;
    if (st_parse_u32(slash + 1, 0, (uint32_t) bytes * 8, &len) < 0)
        return -1;
    for (int i = 0; i < bytes; i++) {
        int bits = (int) len - 8 * i;
        a[i] &= bits >= 8 ? 0xff : bits <= 0 ? 0 : (unsigned char) (0xff << (8 - bits));
    }
    if (!inet_ntop(*family == 4 ? AF_INET : AF_INET6, a, net, INET6_ADDRSTRLEN))
        return -1;
    *plen = (int) len;
    return 0;
}

/* Checks the addresses of an IP of port 'n' before anything is written. */
static int check_ip(const struct model_nic *n, const struct model_ip *ip, struct st_err *err)
{
    int fam = ip_family(ip->address);
    if (!fam || ip->prefixlen > (fam == 4 ? 32 : 128)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "port '%s': invalid address '%s/%d'", n->port_id,
                   ip->address, ip->prefixlen);
        return -1;
    }
    if (ip->gateway[0] && ip_family(ip->gateway) != fam) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "port '%s': invalid gateway '%s'", n->port_id,
                   ip->gateway);
        return -1;
    }
    for (int i = 0; i < ip->ndns; i++) {
        if (!ip_family(ip->dns[i])) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "port '%s': invalid DNS server '%s'", n->port_id,
                       ip->dns[i]);
            return -1;
        }
    }
    for (int i = 0; i < ip->nroutes; i++) {
        char net[INET6_ADDRSTRLEN];
        int rfam, plen;
        if (parse_cidr(ip->routes[i].destination, net, &rfam, &plen) < 0 || rfam != fam ||
            ip_family(ip->routes[i].nexthop) != fam) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "port '%s': invalid host route '%s' via '%s'",
                       n->port_id, ip->routes[i].destination, ip->routes[i].nexthop);
            return -1;
        }
    }
    return 0;
}

static int check_nics(const struct model_server *s, struct st_err *err)
{
    for (int i = 0; i < s->nnics; i++)
        for (int j = 0; j < s->nics[i].nips; j++)
            if (check_ip(&s->nics[i], &s->nics[i].ips[j], err) < 0)
                return -1;
    return 0;
}

/* A host route that only repeats the default route of an IP with a
 * gateway: left out, a second default route would be refused. */
static bool route_is_default(const struct model_ip *ip, int i)
{
    char net[INET6_ADDRSTRLEN];
    int fam, plen;
    return ip->gateway[0] && parse_cidr(ip->routes[i].destination, net, &fam, &plen) == 0 &&
           plen == 0;
}

/* ------------------------------------------------------------------ */
/* NoCloud network-config, version 2 */

static void v2_list_item(struct st_buf *b, const char *indent, const char *s)
{
    st_buf_addf(b, "%s- ", indent);
    (void) yaml_str(b, s); /* checked addresses: ASCII */
    st_buf_addch(b, '\n');
}

static void v2_nic(const struct model_nic *n, int idx, struct st_buf *b)
{
    bool dhcp4 = false, dhcp6 = false, any_addr = false, any_route = false, any_dns = false;
    bool default4 = false;
    const char *dns[MODEL_MAX_IPS * MODEL_MAX_DNS];
    int ndns = 0;

    st_buf_addf(b, "  nic%d:\n    match:\n      macaddress: ", idx);
    (void) yaml_str(b, n->mac);
    st_buf_addch(b, '\n');
    if (n->mtu > 0)
        st_buf_addf(b, "    mtu: %d\n", n->mtu);
    for (int i = 0; i < n->nips; i++) {
        const struct model_ip *ip = &n->ips[i];
        if (ip->enable_dhcp) {
            if (ip_family(ip->address) == 4)
                dhcp4 = true;
            else
                dhcp6 = true;
        }
    }
    if (dhcp4)
        st_buf_adds(b, "    dhcp4: true\n");
    if (dhcp6)
        st_buf_adds(b, "    dhcp6: true\n");
    /* Static addresses, then their routes, then their DNS servers; what a
     * DHCP subnet has (routes, DNS) comes from the DHCP server. */
    for (int i = 0; i < n->nips; i++) {
        struct st_buf a = ST_BUF_INIT;
        if (n->ips[i].enable_dhcp)
            continue;
        if (!any_addr)
            st_buf_adds(b, "    addresses:\n");
        any_addr = true;
        st_buf_addf(&a, "%s/%d", n->ips[i].address, n->ips[i].prefixlen);
        v2_list_item(b, "      ", a.buf);
        st_buf_release(&a);
    }
    /* The IPv6 default route as gateway6: cloud-init 22.4 normalises a
     * route twice and loses a prefix of 0 the second time, so that
     * "to: ::/0" becomes ::/64 with the ENI and networkd renderers.  IPv4
     * keeps its netmask and "to: 0.0.0.0/0" stays the default route. */
    for (int i = 0; i < n->nips; i++) {
        const struct model_ip *ip = &n->ips[i];
        if (!ip->enable_dhcp && ip->gateway[0] && ip_family(ip->address) == 6) {
            st_buf_adds(b, "    gateway6: ");
            (void) yaml_str(b, ip->gateway);
            st_buf_addch(b, '\n');
            break;
        }
    }
    for (int i = 0; i < n->nips; i++) {
        const struct model_ip *ip = &n->ips[i];
        bool v6 = ip_family(ip->address) == 6;
        if (ip->enable_dhcp)
            continue;
        if (ip->gateway[0] && !v6 && !default4) {
            if (!any_route)
                st_buf_adds(b, "    routes:\n");
            any_route = true;
            st_buf_adds(b, "      - to: \"0.0.0.0/0\"\n        via: ");
            (void) yaml_str(b, ip->gateway);
            st_buf_addch(b, '\n');
            default4 = true;
        }
        for (int r = 0; r < ip->nroutes; r++) {
            char net[INET6_ADDRSTRLEN];
            int fam, plen;
            if (route_is_default(ip, r) ||
                parse_cidr(ip->routes[r].destination, net, &fam, &plen) < 0)
                continue;
            if (!any_route)
                st_buf_adds(b, "    routes:\n");
            any_route = true;
            st_buf_addf(b, "      - to: \"%s/%d\"\n        via: ", net, plen);
            (void) yaml_str(b, ip->routes[r].nexthop);
            st_buf_addch(b, '\n');
        }
        for (int k = 0; k < ip->ndns; k++) {
            bool dup = false;
            for (int m = 0; m < ndns; m++)
                dup |= !strcmp(dns[m], ip->dns[k]);
            if (!dup)
                dns[ndns++] = ip->dns[k];
        }
    }
    for (int m = 0; m < ndns; m++) {
        if (!any_dns)
            st_buf_adds(b, "    nameservers:\n      addresses:\n");
        any_dns = true;
        v2_list_item(b, "        ", dns[m]);
    }
}

int mdr_nocloud_network_config(const struct model_server *s, struct st_buf *out,
                                struct st_err *err)
{
    if (!s->nnics)
        return 0;
    if (check_nics(s, err) < 0)
        return -1;
    st_buf_adds(out, "version: 2\nethernets:\n");
    for (int i = 0; i < s->nnics; i++)
        v2_nic(&s->nics[i], i, out);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Config drive */

/* json_string() that records a failure (a string that is not UTF-8) in
 * '*ok' instead of returning NULL into a setter. */
static json_t *jstr(const char *s, bool *ok)
{
    json_t *j = json_string(s);
    if (!j) {
        *ok = false;
        return json_null();
    }
    return j;
}

static int dump_json(json_t *doc, bool ok, const char *what, const char *id,
                     struct st_buf *out, struct st_err *err)
{
    char *text = ok ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    if (!text) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "%s of server '%s': cannot encode (not UTF-8?)", what,
                   id);
        return -1;
    }
    st_buf_adds(out, text);
    st_buf_addch(out, '\n');
    free(text);
    return 0;
}

int mdr_meta_data(const struct model_server *s, const char *random_seed, bool admin_pass,
                  struct st_buf *out, struct st_err *err)
{
    json_t *md = json_object();
    bool ok = true;

    json_object_set_new(md, "uuid", jstr(s->id, &ok));
    if (s->metadata && json_object_size(s->metadata))
        json_object_set(md, "meta", s->metadata);
    if (s->key_name[0] && s->key_data) {
        json_t *pk = json_object(), *keys = json_array(), *k = json_object();
        json_object_set_new(pk, s->key_name, jstr(s->key_data, &ok));
        json_object_set_new(md, "public_keys", pk);
        json_object_set_new(k, "name", jstr(s->key_name, &ok));
        json_object_set_new(k, "type", json_string("ssh"));
        json_object_set_new(k, "data", jstr(s->key_data, &ok));
        json_array_append_new(keys, k);
        json_object_set_new(md, "keys", keys);
    }
    json_object_set_new(md, "hostname", jstr(s->hostname, &ok));
    json_object_set_new(md, "name", jstr(s->name, &ok));
    json_object_set_new(md, "launch_index", json_integer(s->launch_index));
    json_object_set_new(md, "availability_zone",
                        s->availability_zone[0] ? jstr(s->availability_zone, &ok) : json_null());
    if (random_seed)
        json_object_set_new(md, "random_seed", jstr(random_seed, &ok));
    json_object_set_new(md, "project_id", jstr(s->project_id, &ok));
    json_object_set_new(md, "devices", json_array());
    if (admin_pass && s->admin_pass)
        json_object_set_new(md, "admin_pass", jstr(s->admin_pass, &ok));
    return dump_json(md, ok, "meta_data.json", s->id, out, err);
}

void mdr_vendor_data(struct st_buf *out)
{
    st_buf_adds(out, "{}\n");
}

static json_t *route_json(const char *network, const char *mask, const char *gateway)
{
    json_t *r = json_object();
    json_object_set_new(r, "network", json_string(network));
    json_object_set_new(r, "netmask", json_string(mask));
    json_object_set_new(r, "gateway", json_string(gateway));
    return r;
}

static json_t *dns_json(const char *address)
{
    json_t *d = json_object();
    json_object_set_new(d, "type", json_string("dns"));
    json_object_set_new(d, "address", json_string(address));
    return d;
}

static void add_service(json_t *services, const char *address)
{
    size_t i;
    json_t *v;
    json_array_foreach(services, i, v)
    {
        if (st_streq(json_string_value(json_object_get(v, "address")), address))
            return;
    }
    json_array_append_new(services, dns_json(address));
}

int mdr_network_data(const struct model_server *s, struct st_buf *out,
                                  struct st_err *err)
{
    json_t *doc, *links, *networks, *services;
    int netno = 0;

    if (check_nics(s, err) < 0)
        return -1;
    doc = json_object();
    links = json_array();
    networks = json_array();
    services = json_array();
    for (int i = 0; i < s->nnics; i++) {
        const struct model_nic *n = &s->nics[i];
        json_t *link = json_object();
        json_object_set_new(link, "id", json_string(n->tap));
        json_object_set_new(link, "vif_id", json_string(n->port_id));
        json_object_set_new(link, "type", json_string("phy"));
        json_object_set_new(link, "mtu", n->mtu > 0 ? json_integer(n->mtu) : json_null());
        json_object_set_new(link, "ethernet_mac_address", json_string(n->mac));
        json_array_append_new(links, link);

        for (int j = 0; j < n->nips; j++) {
            const struct model_ip *ip = &n->ips[j];
            int fam = ip_family(ip->address);
            json_t *net = json_object();
            char id[24], mask[INET6_ADDRSTRLEN];

            if (st_snprintf(id, sizeof(id), "network%d", netno++) < 0)
                id[0] = '\0'; /* cannot happen: 24 bytes hold any int */
            json_object_set_new(net, "id", json_string(id));
            if (ip->enable_dhcp) {
                /* As Nova: the DHCP server tells the rest. */
                json_object_set_new(net, "type", json_string(fam == 4 ? "ipv4_dhcp" : "ipv6_dhcp"));
                json_object_set_new(net, "link", json_string(n->tap));
                json_object_set_new(net, "network_id", json_string(n->network_id));
            } else {
                json_t *routes = json_array(), *nsvc = json_array();
                json_object_set_new(net, "type", json_string(fam == 4 ? "ipv4" : "ipv6"));
                json_object_set_new(net, "link", json_string(n->tap));
                json_object_set_new(net, "ip_address", json_string(ip->address));
                netmask(fam, ip->prefixlen, mask);
                json_object_set_new(net, "netmask", json_string(mask));
                if (ip->gateway[0])
                    json_array_append_new(routes, fam == 4 ? route_json("0.0.0.0", "0.0.0.0",
                                                                        ip->gateway)
                                                           : route_json("::", "::", ip->gateway));
                for (int r = 0; r < ip->nroutes; r++) {
                    char rnet[INET6_ADDRSTRLEN], rmask[INET6_ADDRSTRLEN];
                    int rfam, plen;
                    if (route_is_default(ip, r) ||
                        parse_cidr(ip->routes[r].destination, rnet, &rfam, &plen) < 0)
                        continue;
                    netmask(rfam, plen, rmask);
                    json_array_append_new(routes, route_json(rnet, rmask, ip->routes[r].nexthop));
                }
                json_object_set_new(net, "routes", routes);
                json_object_set_new(net, "network_id", json_string(n->network_id));
                for (int k = 0; k < ip->ndns; k++)
                    json_array_append_new(nsvc, dns_json(ip->dns[k]));
                json_object_set_new(net, "services", nsvc);
            }
            for (int k = 0; k < ip->ndns; k++)
                add_service(services, ip->dns[k]);
            json_array_append_new(networks, net);
        }
    }
    json_object_set_new(doc, "links", links);
    json_object_set_new(doc, "networks", networks);
    json_object_set_new(doc, "services", services);
    return dump_json(doc, true, "network_data.json", s->id, out, err);
}

/* ------------------------------------------------------------------ */
/* The metadata service's trees */

/* The OpenStack versions Nova lists (nova/api/metadata/base.py), oldest
 * first; cloud-init picks the newest it knows. */
static const char *const os_versions[] = {
    "2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30",
    "2016-10-06", "2017-02-22", "2018-08-27", "latest",
};
/* EC2 versions: the one Nova's EC2 tree is modelled on, and latest. */
static const char *const ec2_versions[] = {"2009-04-04", "latest"};

bool mdr_openstack_version(const char *v)
{
    for (size_t i = 0; i < ST_ARRAY_SIZE(os_versions); i++)
        if (!strcmp(v, os_versions[i]))
            return true;
    return false;
}

bool mdr_ec2_version(const char *v)
{
    for (size_t i = 0; i < ST_ARRAY_SIZE(ec2_versions); i++)
        if (!strcmp(v, ec2_versions[i]))
            return true;
    return false;
}

static void list_lines(struct st_buf *out, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (names[i])
            st_buf_addf(out, "%s%s", i && out->len ? "\n" : "", names[i]);
}

static int not_found(const char *path, struct st_err *err)
{
    st_err_set(err, ST_ERR_NOT_FOUND, "metadata path '/%s' not found", path);
    return -1;
}

/* EC2's instance id: "i-" and the first 8 hex digits of the server id
 * (Nova derives it from its integer id; cloud-init only compares it). */
static void ec2_id(const char *prefix, const char *uuid, struct st_buf *out)
{
    int n = 0;
    st_buf_adds(out, prefix);
    for (const char *p = uuid; *p && n < 8; p++)
        if (*p != '-') {
            st_buf_addch(out, *p);
            n++;
        }
}

static int openstack_tree(const struct mdr_instance *in, const char *rest, struct st_buf *out,
                          const char **ctype, const char *path, struct st_err *err)
{
    const struct model_server *s = in->server;
    if (!*rest) {
        const char *names[] = {"meta_data.json",    "password",
                               "vendor_data.json",  "network_data.json",
                               "vendor_data2.json", s->user_data ? "user_data" : NULL};
        list_lines(out, names, ST_ARRAY_SIZE(names));
        *ctype = "text/plain";
        return 0;
    }
    if (!strcmp(rest, "meta_data.json")) {
        *ctype = "application/json";
        return mdr_meta_data(s, in->random_seed, false, out, err);
    }
    if (!strcmp(rest, "network_data.json")) {
        *ctype = "application/json";
        return mdr_network_data(s, out, err);
    }
    if (!strcmp(rest, "vendor_data.json") || !strcmp(rest, "vendor_data2.json")) {
        *ctype = "application/json";
        mdr_vendor_data(out);
        return 0;
    }
    if (!strcmp(rest, "password")) {
        *ctype = "text/plain";
        if (in->password)
            st_buf_adds(out, in->password);
        return 0;
    }
    if (!strcmp(rest, "user_data") && s->user_data) {
        *ctype = "application/octet-stream";
        st_buf_add(out, s->user_data, s->user_data_len);
        return 0;
    }
    return not_found(path, err);
}

static int ec2_meta(const struct mdr_instance *in, const char *rest, struct st_buf *out,
                    const char *path, struct st_err *err)
{
    const struct model_server *s = in->server;
    bool key = s->key_name[0] && s->key_data;

    if (!*rest) {
        const char *names[] = {"ami-id", "ami-launch-index", "hostname", "instance-id",
                               "instance-type", "local-hostname",
                               in->local_ipv4 ? "local-ipv4" : NULL, "placement/",
                               "public-hostname", in->public_ipv4 ? "public-ipv4" : NULL,
                               key ? "public-keys/" : NULL, "reservation-id"};
        list_lines(out, names, ST_ARRAY_SIZE(names));
    } else if (!strcmp(rest, "ami-id")) {
        ec2_id("ami-", s->image.id, out);
    } else if (!strcmp(rest, "ami-launch-index")) {
        st_buf_addf(out, "%d", s->launch_index);
    } else if (!strcmp(rest, "hostname") || !strcmp(rest, "local-hostname") ||
               !strcmp(rest, "public-hostname")) {
        st_buf_adds(out, s->hostname);
    } else if (!strcmp(rest, "instance-id")) {
        ec2_id("i-", s->id, out);
    } else if (!strcmp(rest, "instance-type")) {
        st_buf_adds(out, s->flavor.name);
    } else if (!strcmp(rest, "local-ipv4") && in->local_ipv4) {
        st_buf_adds(out, in->local_ipv4);
    } else if (!strcmp(rest, "public-ipv4") && in->public_ipv4) {
        st_buf_adds(out, in->public_ipv4);
    } else if (!strcmp(rest, "placement")) {
        st_buf_adds(out, "availability-zone");
    } else if (!strcmp(rest, "placement/availability-zone")) {
        st_buf_adds(out, s->availability_zone[0] ? s->availability_zone : "nova");
    } else if (!strcmp(rest, "reservation-id")) {
        ec2_id("r-", s->id, out);
    } else if (key && !strcmp(rest, "public-keys")) {
        st_buf_addf(out, "0=%s", s->key_name);
    } else if (key && !strcmp(rest, "public-keys/0")) {
        st_buf_adds(out, "openssh-key");
    } else if (key && !strcmp(rest, "public-keys/0/openssh-key")) {
        st_buf_adds(out, s->key_data);
    } else {
        return not_found(path, err);
    }
    return 0;
}

int mdr_lookup(const struct mdr_instance *in, const char *path, struct st_buf *out,
               const char **content_type, struct st_err *err)
{
    char first[32];
    size_t n = strcspn(path, "/");
    const char *rest = path[n] ? path + n + 1 : "";

    *content_type = "text/plain";
    if (!*path) {
        list_lines(out, ec2_versions, ST_ARRAY_SIZE(ec2_versions));
        return 0;
    }
    if (n >= sizeof(first))
        return not_found(path, err);
    memcpy(first, path, n);
    first[n] = '\0';
    if (!strcmp(first, "openstack")) {
        size_t m = strcspn(rest, "/");
        char ver[32];
        if (!*rest) {
            list_lines(out, os_versions, ST_ARRAY_SIZE(os_versions));
            return 0;
        }
        if (m >= sizeof(ver))
            return not_found(path, err);
        memcpy(ver, rest, m);
        ver[m] = '\0';
        if (!mdr_openstack_version(ver))
            return not_found(path, err);
        return openstack_tree(in, rest[m] ? rest + m + 1 : "", out, content_type, path, err);
    }
    if (!mdr_ec2_version(first))
        return not_found(path, err);
    if (!*rest) {
        const char *names[] = {"meta-data/", in->server->user_data ? "user-data" : NULL};
        list_lines(out, names, ST_ARRAY_SIZE(names));
        return 0;
    }
    if (!strcmp(rest, "user-data")) {
        if (!in->server->user_data)
            return not_found(path, err);
        *content_type = "application/octet-stream";
        st_buf_add(out, in->server->user_data, in->server->user_data_len);
        return 0;
    }
    if (!strcmp(rest, "meta-data"))
        return ec2_meta(in, "", out, path, err);
    if (!strncmp(rest, "meta-data/", 10))
        return ec2_meta(in, rest + 10, out, path, err);
    return not_found(path, err);
}

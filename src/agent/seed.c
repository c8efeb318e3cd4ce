/*
 * seed.c - what a guest reads at first boot (see seed.h): the NoCloud files
 * (YAML), the config drive files (JSON, as Nova writes them) and the ISO
 * image that carries either.
 *
 * The text renderers are pure.  Only seed_build() adds something that is
 * not a function of the model: the config drive's "random_seed" (512 bytes
 * from the kernel, as Nova writes it), so that the golden tests of
 * seed_configdrive_meta_data() stay stable.
 *
 * YAML is written by hand, but every string goes out as a double-quoted
 * scalar with escapes (yaml_str()), so that nothing a user can put into a
 * name or a key (quotes, '#', ': ', newlines, NEL, U+2028) can change the
 * structure.  MAC and IP addresses are quoted too: YAML 1.1 reads an
 * unquoted 12:34:56 as a base-60 integer.
 *
 * What cloud-init 22.4 does with it (cloudinit/sources/DataSourceNoCloud.py,
 * DataSourceConfigDrive.py, helpers/openstack.py, net/network_state.py):
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
 */
#include "agent/seed.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define LIBISOFS_WITHOUT_LIBBURN
#include <libisofs/libisofs.h>
#include <pthread.h>

#include "common/util.h"
#include "common/banned.h"

#define SEED_MODE 0600  /* holds admin_pass and user data; libvirt relabels it */
#define SEED_MAX_FILES 64
#define RANDOM_SEED_BYTES 512

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

int seed_nocloud_meta_data(const struct model_server *s, struct st_buf *out, struct st_err *err)
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

int seed_nocloud_network_config(const struct model_server *s, struct st_buf *out,
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

/* meta_data.json, with "random_seed" when 'seed' is non-NULL. */
static int meta_data_json(const struct model_server *s, const char *seed, struct st_buf *out,
                          struct st_err *err)
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
    if (seed)
        json_object_set_new(md, "random_seed", jstr(seed, &ok));
    json_object_set_new(md, "project_id", jstr(s->project_id, &ok));
    json_object_set_new(md, "devices", json_array());
    if (s->admin_pass)
        json_object_set_new(md, "admin_pass", jstr(s->admin_pass, &ok));
    return dump_json(md, ok, "meta_data.json", s->id, out, err);
}

int seed_configdrive_meta_data(const struct model_server *s, struct st_buf *out,
                               struct st_err *err)
{
    return meta_data_json(s, NULL, out, err);
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

int seed_configdrive_network_data(const struct model_server *s, struct st_buf *out,
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
/* ISO 9660 */

static int iso_ready; /* iso_init()'s result, once */

static void iso_setup(void)
{
    /* bit 0: leave the process's locale alone; names are UTF-8. */
    iso_ready = iso_init_with_flag(1);
    if (iso_ready > 0) {
        (void) iso_set_local_charset("UTF-8", 0);
        (void) iso_set_msgs_severities("NEVER", "NEVER", "stratus-agent");
    }
}

static int iso_fail(struct st_err *err, const char *path, const char *what, int code)
{
    st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': %s: %s", path, what,
               iso_error_to_msg(code));
    return -1;
}

/* Checks an in-image path: relative, no empty, "." or ".." component. */
static bool image_path_ok(const char *p)
{
    if (!*p || *p == '/')
        return false;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || n > 255 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

/* Adds 'f' to 'image', creating its parent directories. */
static int add_file(IsoImage *image, const struct seed_file *f, const char *path,
                    struct st_err *err)
{
    IsoDir *dir = iso_image_get_root(image);
    const char *p = f->path;
    IsoStream *stream = NULL;
    unsigned char *copy;
    char name[256];
    int rc;

    for (;;) {
        size_t n = strcspn(p, "/");
        IsoNode *node = NULL;
        memcpy(name, p, n);
        name[n] = '\0';
        if (!p[n])
            break;
        p += n + 1;
        rc = iso_dir_get_node(dir, name, &node);
        if (rc < 0)
            return iso_fail(err, path, f->path, rc);
        if (rc == 1) {
            if (!ISO_NODE_IS_DIR(node)) {
                st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': '%s' is a file",
                           path, name);
                return -1;
            }
            dir = (IsoDir *) node;
            continue;
        }
        rc = iso_image_add_new_dir(image, dir, name, &dir);
        if (rc < 0)
            return iso_fail(err, path, f->path, rc);
    }
    copy = st_xmalloc(f->len ? f->len : 1);
    if (f->len)
        memcpy(copy, f->data, f->len);
    rc = iso_memory_stream_new(copy, f->len, &stream);
    if (rc < 0) {
        free(copy);
        return iso_fail(err, path, f->path, rc);
    }
    rc = iso_image_add_new_file(image, dir, name, stream, NULL);
    if (rc < 0) {
        iso_stream_unref(stream);
        return iso_fail(err, path, f->path, rc);
    }
    return 0;
}

int seed_write_iso(const char *path, const char *label, const struct seed_file *files,
                   size_t nfiles, struct st_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    IsoImage *image = NULL;
    IsoWriteOpts *opts = NULL;
    struct burn_source *src = NULL;
    struct st_buf data = ST_BUF_INIT;
    unsigned char block[2048];
    int rc = -1, n;

    if (!label[0] || strlen(label) > 32) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': bad label '%s'", path,
                   label);
        return -1;
    }
    if (nfiles > SEED_MAX_FILES) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': too many files", path);
        return -1;
    }
    for (size_t i = 0; i < nfiles; i++) {
        if (!image_path_ok(files[i].path)) {
            st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': bad file name '%s'",
                       path, files[i].path);
            return -1;
        }
    }
    (void) pthread_once(&once, iso_setup);
    if (iso_ready <= 0)
        return iso_fail(err, path, "iso_init", iso_ready);

    n = iso_image_new(label, &image);
    if (n < 0) {
        iso_fail(err, path, "iso_image_new", n);
        goto out;
    }
    iso_image_set_publisher_id(image, "stratus");
    for (size_t i = 0; i < nfiles; i++)
        if (add_file(image, &files[i], path, err) < 0)
            goto out;

    n = iso_write_opts_new(&opts, 0);
    if (n < 0) {
        iso_fail(err, path, "iso_write_opts_new", n);
        goto out;
    }
    (void) iso_write_opts_set_iso_level(opts, 3);
    (void) iso_write_opts_set_rockridge(opts, 1);
    (void) iso_write_opts_set_joliet(opts, 1);
    /* Keep the label as given ("config-2" is not made of d-characters);
     * blkid, and so ds-identify, must see it exactly. */
    (void) iso_write_opts_set_relaxed_vol_atts(opts, 1);
    /* Read-only files of root, whoever runs the agent. */
    (void) iso_write_opts_set_replace_mode(opts, 2, 2, 2, 2);
    (void) iso_write_opts_set_default_dir_mode(opts, 0555);
    (void) iso_write_opts_set_default_file_mode(opts, 0444);
    (void) iso_write_opts_set_default_uid(opts, 0);
    (void) iso_write_opts_set_default_gid(opts, 0);
    n = iso_image_create_burn_source(image, opts, &src);
    if (n < 0) {
        src = NULL;
        iso_fail(err, path, "iso_image_create_burn_source", n);
        goto out;
    }
    while ((n = src->read_xt(src, block, sizeof(block))) == (int) sizeof(block))
        st_buf_add(&data, block, sizeof(block));
    if (n != 0 || (off_t) data.len != src->get_size(src)) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': the image stream failed",
                   path);
        goto out;
    }
    rc = st_write_file(path, data.buf, data.len, SEED_MODE, err);
out:
    if (src) {
        if (rc < 0 && src->cancel)
            src->cancel(src);
        src->free_data(src);
        free(src);
    }
    iso_write_opts_free(opts);
    if (image)
        iso_image_unref(image);
    st_buf_release(&data);
    return rc;
}

/* ------------------------------------------------------------------ */

int seed_build(const struct model_server *s, const char *path, struct st_err *err)
{
    struct st_buf meta = ST_BUF_INIT, net = ST_BUF_INIT, seed = ST_BUF_INIT;
    struct seed_file files[12];
    size_t nfiles = 0;
    int rc = -1;
    static const char empty[] = "";
    static const char empty_json[] = "{}\n";

    if (s->config_drive) {
        static const char *const dirs[] = {"openstack/2018-08-27", "openstack/latest"};
        static const char *const names[] = {"meta_data.json", "network_data.json",
                                            "vendor_data.json", "vendor_data2.json",
                                            "user_data"};
        unsigned char rnd[RANDOM_SEED_BYTES];
        char paths[ST_ARRAY_SIZE(dirs)][ST_ARRAY_SIZE(names)][48];

        st_random(rnd, sizeof(rnd));
        st_base64_encode(rnd, sizeof(rnd), &seed);
        explicit_bzero(rnd, sizeof(rnd));
        if (meta_data_json(s, seed.buf, &meta, err) < 0 ||
            seed_configdrive_network_data(s, &net, err) < 0)
            goto out;
        for (size_t d = 0; d < ST_ARRAY_SIZE(dirs); d++) {
            for (size_t k = 0; k < ST_ARRAY_SIZE(names); k++) {
                const void *data;
                size_t len;
                if (k == 4 && !s->user_data)
                    continue;
                if (st_snprintf(paths[d][k], sizeof(paths[d][k]), "%s/%s", dirs[d], names[k]) < 0)
                    goto out; /* cannot happen: the names are fixed */
                switch (k) {
                case 0:
                    data = meta.buf, len = meta.len;
                    break;
                case 1:
                    data = net.buf, len = net.len;
                    break;
                case 2:
                case 3:
                    data = empty_json, len = sizeof(empty_json) - 1;
                    break;
                default:
                    data = s->user_data, len = s->user_data_len;
                }
                files[nfiles++] = (struct seed_file){paths[d][k], data, len};
            }
        }
        rc = seed_write_iso(path, "config-2", files, nfiles, err);
    } else {
        if (seed_nocloud_meta_data(s, &meta, err) < 0 ||
            seed_nocloud_network_config(s, &net, err) < 0)
            goto out;
        files[nfiles++] = (struct seed_file){"meta-data", meta.buf, meta.len};
        files[nfiles++] = (struct seed_file){"user-data", s->user_data ? (const void *) s->user_data
                                                                       : (const void *) empty,
                                             s->user_data ? s->user_data_len : 0};
        if (s->nnics)
            files[nfiles++] = (struct seed_file){"network-config", net.buf, net.len};
        rc = seed_write_iso(path, "cidata", files, nfiles, err);
    }
out:
    if (meta.len)
        explicit_bzero(meta.buf, meta.len); /* admin_pass */
    st_buf_release(&meta);
    st_buf_release(&net);
    if (seed.len)
        explicit_bzero(seed.buf, seed.len);
    st_buf_release(&seed);
    return rc;
}

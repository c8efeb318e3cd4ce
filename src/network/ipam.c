/* ipam.c - address arithmetic: parsing, CIDRs, pools, EUI-64, MACs. */
#include "network/ipam.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/banned.h"

static int bits(int version)
{
    return version == 4 ? 32 : 128;
}

static ipam_u128 host_mask(int version, int prefixlen)
{
    int hb = bits(version) - prefixlen;
    if (hb <= 0)
        return 0;
    if (hb >= 128)
        return ~(ipam_u128) 0;
    return ((ipam_u128) 1 << hb) - 1;
}

int ipam_addr_parse(const char *s, struct ipam_addr *a)
{
    unsigned char b[16];
    if (!s || !*s || strlen(s) >= IPAM_ADDR_STRLEN)
        return -1;
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, b) == 1) {
        a->version = 4;
        for (int i = 0; i < 4; i++)
            a->v = (a->v << 8) | b[i];
        return 0;
    }
    if (inet_pton(AF_INET6, s, b) == 1) {
        a->version = 6;
        for (int i = 0; i < 16; i++)
            a->v = (a->v << 8) | b[i];
        return 0;
    }
    return -1;
}

void ipam_addr_format(const struct ipam_addr *a, char out[IPAM_ADDR_STRLEN])
{
    unsigned char b[16];
    int n = a->version == 4 ? 4 : 16;
    ipam_u128 v = a->v;
    for (int i = n - 1; i >= 0; i--) {
        b[i] = (unsigned char) (v & 0xff);
        v >>= 8;
    }
    if (!inet_ntop(a->version == 4 ? AF_INET : AF_INET6, b, out, IPAM_ADDR_STRLEN))
        out[0] = '\0';
}

int ipam_addr_cmp(const struct ipam_addr *a, const struct ipam_addr *b)
{
    if (a->version != b->version)
        return a->version < b->version ? -1 : 1;
    return a->v < b->v ? -1 : a->v > b->v ? 1 : 0;
}

int ipam_cidr_parse(const char *s, struct ipam_cidr *c, bool *host_bits)
{
    char addr[IPAM_ADDR_STRLEN];
    const char *slash;
    uint32_t len;

    if (host_bits)
        *host_bits = false;
    if (!s || !(slash = strchr(s, '/')) || (size_t) (slash - s) >= sizeof(addr))
        return -1;
    memcpy(addr, s, (size_t) (slash - s));
    addr[slash - s] = '\0';
    memset(c, 0, sizeof(*c));
    if (ipam_addr_parse(addr, &c->net) < 0)
        return -1;
    if (!isdigit((unsigned char) slash[1]) ||
        st_parse_u32(slash + 1, 0, (uint32_t) bits(c->net.version), &len) < 0)
        return -1;
    c->prefixlen = (int) len;
    ipam_u128 hm = host_mask(c->net.version, c->prefixlen);
    if ((c->net.v & hm) && host_bits)
        *host_bits = true;
    c->net.v &= ~hm;
    return 0;
}

void ipam_cidr_format(const struct ipam_cidr *c, char out[IPAM_CIDR_STRLEN])
{
    char a[IPAM_ADDR_STRLEN];
    ipam_addr_format(&c->net, a);
    snprintf(out, IPAM_CIDR_STRLEN, "%s/%d", a, c->prefixlen);
}

struct ipam_addr ipam_cidr_first(const struct ipam_cidr *c)
{
    return c->net;
}

struct ipam_addr ipam_cidr_last(const struct ipam_cidr *c)
{
    struct ipam_addr a = c->net;
    a.v |= host_mask(a.version, c->prefixlen);
    return a;
}

bool ipam_cidr_contains(const struct ipam_cidr *c, const struct ipam_addr *a)
{
    return a->version == c->net.version &&
           (a->v & ~host_mask(a->version, c->prefixlen)) == c->net.v;
}

bool ipam_cidr_overlap(const struct ipam_cidr *a, const struct ipam_cidr *b)
{
    const struct ipam_cidr *wide = a->prefixlen <= b->prefixlen ? a : b;
    const struct ipam_cidr *narrow = wide == a ? b : a;
    return ipam_cidr_contains(wide, &narrow->net);
}

char *ipam_cidr_check(const char *s)
{
    struct ipam_cidr c;
    bool host;
    char canon[IPAM_CIDR_STRLEN];
    if (!s || strpbrk(s, " \t\r\n") || ipam_cidr_parse(s, &c, &host) < 0)
        return st_xasprintf("'%s' is not a valid IP subnet", s ? s : "None");
    ipam_cidr_format(&c, canon);
    if (host || (c.net.version == 4 && strcmp(canon, s)))
        return st_xasprintf("'%s' isn't a recommended IP subnet, '%s' is recommended", s, canon);
    return NULL;
}

bool ipam_usable(const struct ipam_cidr *c, const struct ipam_addr *a)
{
    if (!ipam_cidr_contains(c, a))
        return false;
    if (c->net.version == 4 && c->prefixlen < 31) {
        struct ipam_addr last = ipam_cidr_last(c);
        return a->v != c->net.v && a->v != last.v;
    }
    if (c->net.version == 6 && c->prefixlen < 127)
        return a->v != c->net.v; /* the subnet-router anycast address */
    return true;
}

/* The range of addresses pools may cover: Neutron leaves out the network
 * address, and for IPv4 the broadcast address. */
static void pool_bounds(const struct ipam_cidr *c, struct ipam_addr *lo, struct ipam_addr *hi)
{
    *lo = ipam_cidr_first(c);
    *hi = ipam_cidr_last(c);
    if (c->net.version == 4 && c->prefixlen >= 31)
        return;
    if (c->net.version == 6 && c->prefixlen == 128)
        return;
    lo->v++;
    if (c->net.version == 4)
        hi->v--;
}

static void add_pool(json_t *arr, ipam_u128 first, ipam_u128 last, int version)
{
    struct ipam_addr a = {version, first}, b = {version, last};
    char s[IPAM_ADDR_STRLEN], e[IPAM_ADDR_STRLEN];
    ipam_addr_format(&a, s);
    ipam_addr_format(&b, e);
    json_array_append_new(arr, json_pack("{s:s, s:s}", "start", s, "end", e));
}

json_t *ipam_default_pools(const struct ipam_cidr *c, const struct ipam_addr *gw)
{
    struct ipam_addr lo, hi;
    json_t *arr = json_array();
    pool_bounds(c, &lo, &hi);
    if (lo.v > hi.v)
        return arr;
    if (gw && gw->version == c->net.version && gw->v >= lo.v && gw->v <= hi.v) {
        if (gw->v > lo.v)
            add_pool(arr, lo.v, gw->v - 1, lo.version);
        if (gw->v < hi.v)
            add_pool(arr, gw->v + 1, hi.v, lo.version);
    } else {
        add_pool(arr, lo.v, hi.v, lo.version);
    }
    return arr;
}

static void pool_text(const struct ipam_pool *p, char out[2 * IPAM_ADDR_STRLEN + 2])
{
    char s[IPAM_ADDR_STRLEN], e[IPAM_ADDR_STRLEN];
    ipam_addr_format(&p->first, s);
    ipam_addr_format(&p->last, e);
    snprintf(out, 2 * IPAM_ADDR_STRLEN + 2, "%s-%s", s, e);
}

int ipam_pools_parse(json_t *pools, const struct ipam_cidr *c, const struct ipam_addr *gw,
                     struct ipam_pool *out, size_t max, size_t *n, struct st_err *err)
{
    struct ipam_addr lo, hi;
    char cidr[IPAM_CIDR_STRLEN], t1[2 * IPAM_ADDR_STRLEN + 2], t2[2 * IPAM_ADDR_STRLEN + 2];
    size_t i;
    json_t *p;

    *n = 0;
    ipam_cidr_format(c, cidr);
    if (!json_is_array(pools)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for allocation_pools. Reason: Invalid data format for IP "
                   "pool: it must be a list.");
        return -1;
    }
    if (json_array_size(pools) > max) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for allocation_pools. Reason: more than %zu pools.", max);
        return -1;
    }
    pool_bounds(c, &lo, &hi);
    json_array_foreach(pools, i, p)
    {
        const char *s = json_string_value(json_object_get(p, "start"));
        const char *e = json_string_value(json_object_get(p, "end"));
        struct ipam_pool *q = &out[i];
        if (!json_is_object(p) || !s || !e || json_object_size(p) != 2) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for allocation_pools. Reason: Invalid data format for IP "
                       "pool: '%s'.",
                       "each pool needs exactly 'start' and 'end'");
            return -1;
        }
        if (ipam_addr_parse(s, &q->first) < 0 || ipam_addr_parse(e, &q->last) < 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for allocation_pools. Reason: '%s' is not a valid IP "
                       "address.",
                       ipam_addr_parse(s, &q->first) < 0 ? s : e);
            return -1;
        }
        if (q->first.version != c->net.version || q->last.version != c->net.version) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for operation: IP allocation pool %s-%s does not match "
                       "the IP version of subnet %s.",
                       s, e, cidr);
            st_err_set_type(err, "InvalidInput");
            return -1;
        }
        if (q->first.v > q->last.v) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for operation: The allocation pool %s-%s has its start "
                       "after its end.",
                       s, e);
            st_err_set_type(err, "InvalidAllocationPool");
            return -1;
        }
        if (q->first.v < lo.v || q->last.v > hi.v) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "The allocation pool %s-%s spans beyond the subnet cidr %s.", s, e, cidr);
            st_err_set_type(err, "OutOfBoundsAllocationPool");
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (out[j].first.v <= q->last.v && q->first.v <= out[j].last.v) {
                pool_text(&out[j], t1);
                pool_text(q, t2);
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "Found overlapping allocation pools: %s and %s for subnet %s.", t1, t2,
                           cidr);
                st_err_set_type(err, "OverlappingAllocationPools");
                return -1;
            }
        }
        if (gw && gw->version == c->net.version && gw->v >= q->first.v && gw->v <= q->last.v) {
            char g[IPAM_ADDR_STRLEN];
            ipam_addr_format(gw, g);
            pool_text(q, t1);
            st_err_set(err, ST_ERR_CONFLICT, "Gateway ip %s conflicts with allocation pool %s.", g,
                       t1);
            st_err_set_type(err, "GatewayConflictWithAllocationPools");
            return -1;
        }
        *n = i + 1;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char) tolower((unsigned char) c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int mac_bytes(const char *s, unsigned char b[6])
{
    if (!s || strlen(s) != 17)
        return -1;
    for (int i = 0; i < 6; i++) {
        int h = hexval(s[i * 3]), l = hexval(s[i * 3 + 1]);
        if (h < 0 || l < 0)
            return -1;
        if (i < 5 && s[i * 3 + 2] != ':' && s[i * 3 + 2] != '-')
            return -1;
        if (i < 5 && s[i * 3 + 2] != s[2])
            return -1; /* one separator throughout */
        b[i] = (unsigned char) (h << 4 | l);
    }
    return 0;
}

int ipam_eui64(const struct ipam_cidr *c, const char *mac, struct ipam_addr *out)
{
    unsigned char b[6];
    ipam_u128 iid;
    if (c->net.version != 6 || c->prefixlen > 64 || mac_bytes(mac, b) < 0)
        return -1;
    iid = (ipam_u128) (b[0] ^ 0x02) << 56 | (ipam_u128) b[1] << 48 | (ipam_u128) b[2] << 40 |
          (ipam_u128) 0xff << 32 | (ipam_u128) 0xfe << 24 | (ipam_u128) b[3] << 16 |
          (ipam_u128) b[4] << 8 | b[5];
    out->version = 6;
    out->v = c->net.v | iid;
    return 0;
}

void ipam_mac_random(char out[18])
{
    unsigned char r[3];
    st_random(r, sizeof(r));
    snprintf(out, 18, "fa:16:3e:%02x:%02x:%02x", r[0], r[1], r[2]);
}

int ipam_mac_normalize(const char *in, char out[18])
{
    unsigned char b[6];
    bool zero = true, bcast = true;
    if (mac_bytes(in, b) < 0)
        return -1;
    for (int i = 0; i < 6; i++) {
        zero &= b[i] == 0;
        bcast &= b[i] == 0xff;
    }
    if (zero || bcast || (b[0] & 1))
        return -1;
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
    return 0;
}

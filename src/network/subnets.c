/*
 * subnets.c - Neutron subnets: CIDR, gateway and allocation pools checked
 * and defaulted as Neutron does (the gateway is the first address, the
 * pools the rest), no two overlapping subnets on one network (CIDRs may
 * overlap across networks), DNS servers and host routes, and the DHCP port
 * kept in step with the subnets that want DHCP.
 */
#include "network/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define MAX_HOST_ROUTES 20

#define SUBNET_COLS                                                                                \
    "s.id, s.network_id, s.project_id, s.name, s.description, s.ip_version, s.cidr,"               \
    " s.gateway_ip, s.enable_dhcp, s.ipv6_ra_mode, s.ipv6_address_mode, s.allocation_pools,"       \
    " s.dns_nameservers, s.host_routes, s.revision_number, s.created_at, s.updated_at,"            \
    " n.shared, n.external"

enum {
    C_ID,
    C_NET,
    C_PROJECT,
    C_NAME,
    C_DESC,
    C_VERSION,
    C_CIDR,
    C_GW,
    C_DHCP,
    C_RA,
    C_ADDR,
    C_POOLS,
    C_DNS,
    C_ROUTES,
    C_REV,
    C_CREATED,
    C_UPDATED,
    C_SHARED,
    C_EXTERNAL,
};

static const char *const ipv6_modes[] = {"slaac", "dhcpv6-stateful", "dhcpv6-stateless"};

/* Fills 'r' from the current row of a SELECT of id, network_id, project_id,
 * cidr, gateway_ip, enable_dhcp, ipv6_address_mode, allocation_pools. */
static int row_fill(struct store_stmt *s, struct net_subnet_row *r, struct st_err *err)
{
    json_t *pools;
    struct st_err ignored = ST_ERR_INIT;
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", store_text(s, 0));
    snprintf(r->network_id, sizeof(r->network_id), "%s", store_text(s, 1));
    snprintf(r->project_id, sizeof(r->project_id), "%s", store_text(s, 2));
    if (ipam_cidr_parse(store_text(s, 3), &r->cidr, NULL) < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "subnet %s has a bad stored cidr", r->id);
        return -1;
    }
    r->has_gateway = store_text(s, 4) && ipam_addr_parse(store_text(s, 4), &r->gateway) == 0;
    r->enable_dhcp = store_int(s, 5) != 0;
    if (store_text(s, 6))
        snprintf(r->ipv6_address_mode, sizeof(r->ipv6_address_mode), "%s", store_text(s, 6));
    pools = net_json_col(s, 7, json_array());
    /* Stored pools were checked when written; the gateway is not re-checked. */
    if (ipam_pools_parse(pools, &r->cidr, NULL, r->pools, NET_MAX_POOLS, &r->npools, &ignored) < 0)
        r->npools = 0;
    json_decref(pools);
    return 0;
}

#define ROW_COLS                                                                                   \
    "id, network_id, project_id, cidr, gateway_ip, enable_dhcp, ipv6_address_mode,"                \
    " allocation_pools"

int net_subnet_load(struct store_conn *c, const char *id, struct net_subnet_row *r,
                    struct st_err *err)
{
    struct store_stmt *s =
        store_query(c, err, "SELECT " ROW_COLS " FROM subnets WHERE id = ?", STORE_ARGS(P(id)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0 && row_fill(s, r, err) < 0)
        rc = -1;
    store_done(s);
    if (rc == 0)
        net_not_found(err, "subnet", id);
    return rc > 0 ? 0 : -1;
}

int net_subnets_of(struct store_conn *c, const char *network_id, struct net_subnet_row **out,
                   size_t *n, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT " ROW_COLS " FROM subnets WHERE network_id = ?"
                                       " ORDER BY created_at, id",
                                       STORE_ARGS(P(network_id)));
    size_t alloc = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0) {
        if (*n == alloc) {
            alloc = alloc ? 2 * alloc : 4;
            *out = st_xrealloc(*out, alloc * sizeof(**out));
        }
        if (row_fill(s, &(*out)[*n], err) < 0) {
            rc = -1;
            break;
        }
        (*n)++;
    }
    store_done(s);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

static json_t *subnet_json(struct store_conn *c, struct store_stmt *s, struct st_err *err)
{
    json_t *o = json_object();
    struct ipam_cidr cidr;
    const char *id = store_text(s, C_ID);
    if (net_std_attrs(c, o, id, store_text(s, C_PROJECT), store_text(s, C_DESC),
                      store_int(s, C_REV), store_int(s, C_CREATED), store_int(s, C_UPDATED),
                      err) < 0) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "name", json_string(store_text(s, C_NAME)));
    json_object_set_new(o, "network_id", json_string(store_text(s, C_NET)));
    json_object_set_new(o, "ip_version", json_integer(store_int(s, C_VERSION)));
    json_object_set_new(o, "cidr", json_string(store_text(s, C_CIDR)));
    json_object_set_new(o, "gateway_ip", net_text(s, C_GW));
    json_object_set_new(o, "enable_dhcp", json_boolean(store_int(s, C_DHCP)));
    json_object_set_new(o, "ipv6_ra_mode", net_text(s, C_RA));
    json_object_set_new(o, "ipv6_address_mode", net_text(s, C_ADDR));
    json_object_set_new(o, "allocation_pools", net_json_col(s, C_POOLS, json_array()));
    json_object_set_new(o, "dns_nameservers", net_json_col(s, C_DNS, json_array()));
    json_object_set_new(o, "host_routes", net_json_col(s, C_ROUTES, json_array()));
    json_object_set_new(o, "subnetpool_id", json_null());
    json_object_set_new(o, "segment_id", json_null());
    json_object_set_new(o, "service_types", json_array());
    if (ipam_cidr_parse(store_text(s, C_CIDR), &cidr, NULL) == 0)
        json_object_set_new(o, "prefixlen", json_integer(cidr.prefixlen));
    return o;
}

static bool subnet_visible(const struct auth_ctx *ctx, struct store_stmt *s)
{
    return ctx->is_admin || store_int(s, C_SHARED) || store_int(s, C_EXTERNAL) ||
           (ctx->project_scoped && st_streq(store_text(s, C_PROJECT), ctx->project_id));
}

json_t *net_subnet_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT " SUBNET_COLS " FROM subnets s JOIN networks n ON"
                                       " n.id = s.network_id WHERE s.id = ?",
                                       STORE_ARGS(P(id)));
    json_t *o = NULL;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0 &&
        net_may_read(ctx, store_text(s, C_PROJECT),
                     store_int(s, C_SHARED) || store_int(s, C_EXTERNAL), "subnet", id, err) == 0)
        o = subnet_json(c, s, err);
    else if (rc == 0)
        net_not_found(err, "subnet", id);
    store_done(s);
    return o;
}

/* Subnets of networks the caller may see. */
static json_t *subnet_row(struct store_conn *c, struct store_stmt *s, void *arg,
                          struct st_err *err)
{
    const struct auth_ctx *ctx = arg;
    return subnet_visible(ctx, s) ? subnet_json(c, s, err) : NULL;
}

json_t *net_subnet_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    return store_collect(c, err, subnet_row, (void *) ctx,
                         "SELECT " SUBNET_COLS " FROM subnets s JOIN networks n ON"
                         " n.id = s.network_id ORDER BY s.created_at, s.id",
                         STORE_NOARGS);
}

/* ---- validation ---------------------------------------------------------- */

static int check_dns(json_t *dns, int version, struct st_err *err)
{
    size_t i, j;
    json_t *v;
    if (!json_is_array(dns)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for dns_nameservers. Reason: it must be a list.");
        return -1;
    }
    if (json_array_size(dns) > NET_MAX_DNS) {
        net_err(err, ST_ERR_BAD_REQUEST, "DNSNameServersExhausted",
                "Unable to complete operation for subnet. The number of DNS nameservers "
                "exceeds the limit %d.",
                NET_MAX_DNS);
        return -1;
    }
    json_array_foreach(dns, i, v)
    {
        struct ipam_addr a;
        const char *s = json_string_value(v);
        if (!s || ipam_addr_parse(s, &a) < 0) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "Invalid input for dns_nameservers. Reason: '%s' is not a valid nameserver.",
                    s ? s : "");
            return -1;
        }
        (void) version;
        for (j = 0; j < i; j++)
            if (st_streq(json_string_value(json_array_get(dns, j)), s)) {
                net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                        "Invalid input for dns_nameservers. Reason: Duplicate nameserver '%s'.", s);
                return -1;
            }
    }
    return 0;
}

static int check_routes(json_t *routes, int version, struct st_err *err)
{
    size_t i;
    json_t *v;
    if (!json_is_array(routes)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for host_routes. Reason: it must be a list.");
        return -1;
    }
    if (json_array_size(routes) > MAX_HOST_ROUTES) {
        net_err(err, ST_ERR_BAD_REQUEST, "HostRoutesExhausted",
                "Unable to complete operation for subnet. The number of host routes exceeds "
                "the limit %d.",
                MAX_HOST_ROUTES);
        return -1;
    }
    json_array_foreach(routes, i, v)
    {
        const char *d = json_string_value(json_object_get(v, "destination"));
        const char *h = json_string_value(json_object_get(v, "nexthop"));
        struct ipam_cidr dc;
        struct ipam_addr ha;
        if (!json_is_object(v) || json_object_size(v) != 2 || !d || !h ||
            ipam_cidr_parse(d, &dc, NULL) < 0 || ipam_addr_parse(h, &ha) < 0) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "Invalid input for host_routes. Reason: Invalid data format for hostroute: "
                    "each needs a 'destination' CIDR and a 'nexthop' address.");
            return -1;
        }
        if (dc.net.version != version || ha.version != version) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: host route %s via %s does not match the IP "
                    "version %d of the subnet.",
                    d, h, version);
            return -1;
        }
    }
    return 0;
}

/* The gateway of a request: absent (the first address), null (none) or an
 * address on the subnet that is neither its network nor broadcast address. */
static int check_gateway(json_t *in, const struct ipam_cidr *cidr, bool *has, struct ipam_addr *gw,
                         bool *given, struct st_err *err)
{
    json_t *v = json_object_get(in, "gateway_ip");
    *given = v != NULL;
    if (!v) {
        *has = true;
        *gw = cidr->net;
        gw->v++;
        if (!ipam_usable(cidr, gw))
            *has = false;
        return 0;
    }
    if (json_is_null(v)) {
        *has = false;
        return 0;
    }
    if (!json_is_string(v) || ipam_addr_parse(json_string_value(v), gw) < 0) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for gateway_ip. Reason: '%s' is not a valid IP address.",
                json_is_string(v) ? json_string_value(v) : "value");
        return -1;
    }
    if (gw->version != cidr->net.version) {
        net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                "Invalid input for operation: gateway_ip '%s' does not match the ip_version "
                "'%d'.",
                json_string_value(v), cidr->net.version);
        return -1;
    }
    if (ipam_cidr_contains(cidr, gw) && !ipam_usable(cidr, gw)) {
        net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                "Invalid input for operation: Gateway is not valid on subnet.");
        return -1;
    }
    *has = true;
    return 0;
}

static int check_ipv6_modes(json_t *in, int version, const char **ra, const char **addr,
                            struct st_err *err)
{
    bool has_ra, has_addr;
    if (net_get_str(in, "ipv6_ra_mode", 32, true, ra, &has_ra, err) < 0 ||
        net_get_str(in, "ipv6_address_mode", 32, true, addr, &has_addr, err) < 0)
        return -1;
    for (int k = 0; k < 2; k++) {
        const char *m = k ? *addr : *ra;
        bool ok = !m;
        for (size_t i = 0; m && i < ST_ARRAY_SIZE(ipv6_modes); i++)
            ok |= !strcmp(m, ipv6_modes[i]);
        if (!ok) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "Invalid input for %s. Reason: '%s' is not in ['dhcpv6-stateful', "
                    "'dhcpv6-stateless', 'slaac', None].",
                    k ? "ipv6_address_mode" : "ipv6_ra_mode", m);
            return -1;
        }
    }
    if ((*ra || *addr) && version != 6) {
        net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                "Invalid input for operation: ipv6_ra_mode and ipv6_address_mode are only "
                "valid for IPv6 subnets.");
        return -1;
    }
    if (*ra && *addr && strcmp(*ra, *addr)) {
        net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                "Invalid input for operation: ipv6_ra_mode set to '%s' with ipv6_address_mode "
                "set to '%s' is not valid. If both attributes are set, they must be the same "
                "value.",
                *ra, *addr);
        return -1;
    }
    return 0;
}

static char *dumps(json_t *j)
{
    return json_dumps(j, JSON_COMPACT);
}

static const char *const create_keys[] = {
    "network_id",
    "cidr",
    "ip_version",
    "name",
    "description",
    "gateway_ip",
    "enable_dhcp",
    "dns_nameservers",
    "host_routes",
    "allocation_pools",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "project_id",
    "tenant_id",
    "tags",
    "subnetpool_id",
    "use_default_subnetpool",
    "use_default_subnet_pool",
    "prefixlen",
    "segment_id",
    "service_types",
};

json_t *net_subnet_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                          struct st_err *err)
{
    char project[AUTH_ID_MAX], id[37], cidr_text[IPAM_CIDR_STRLEN], gw_text[IPAM_ADDR_STRLEN];
    const char *network_id = NULL, *cidr_s = NULL, *name = "", *desc = "", *ra = NULL, *addr = NULL,
               *pool_id = NULL, *seg = NULL;
    int64_t version = 4, now = net_now();
    bool dhcp = true, has_gw, gw_given, dflt_pool = false;
    json_t *dns = json_object_get(in, "dns_nameservers");
    json_t *routes = json_object_get(in, "host_routes");
    json_t *pools = json_object_get(in, "allocation_pools");
    json_t *tags = json_object_get(in, "tags"), *st = json_object_get(in, "service_types");
    json_t *pools_out = NULL;
    struct ipam_cidr cidr;
    struct ipam_addr gw;
    struct ipam_pool parsed[NET_MAX_POOLS];
    struct net_row net;
    struct net_subnet_row *others = NULL;
    size_t nothers = 0, npools;
    char *msg, *pools_text = NULL, *dns_text = NULL, *routes_text = NULL;
    json_t *out = NULL;

    if (net_check_keys(in, create_keys, ST_ARRAY_SIZE(create_keys), err) < 0 ||
        net_owner(ctx, in, project, err) < 0 ||
        net_get_str(in, "network_id", 36, false, &network_id, NULL, err) < 0 ||
        net_get_str(in, "cidr", IPAM_CIDR_STRLEN, true, &cidr_s, NULL, err) < 0 ||
        net_get_int(in, "ip_version", 4, 6, &version, NULL, err) < 0 ||
        net_get_str(in, "name", NET_NAME_MAX, false, &name, NULL, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, NULL, err) < 0 ||
        net_get_bool(in, "enable_dhcp", &dhcp, NULL, err) < 0 ||
        net_get_str(in, "subnetpool_id", 64, true, &pool_id, NULL, err) < 0 ||
        net_get_str(in, "segment_id", 64, true, &seg, NULL, err) < 0 ||
        net_get_bool(in, "use_default_subnetpool", &dflt_pool, NULL, err) < 0 ||
        net_get_bool(in, "use_default_subnet_pool", &dflt_pool, NULL, err) < 0)
        return NULL;
    if (!network_id) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Failed to parse request. Required attribute 'network_id' not specified");
        return NULL;
    }
    if (version != 4 && version != 6) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for ip_version. Reason: %lld is not in [4, 6].",
                (long long) version);
        return NULL;
    }
    if (pool_id || dflt_pool) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad subnet request: subnet pools are not supported by this cloud.");
        return NULL;
    }
    if (seg) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad subnet request: network segments are not supported by this cloud.");
        return NULL;
    }
    if (st && (!json_is_array(st) || json_array_size(st))) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad subnet request: service types are not supported by this cloud.");
        return NULL;
    }
    if (!cidr_s) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad subnet request: a subnetpool must be specified in the absence of a cidr.");
        return NULL;
    }
    if ((msg = ipam_cidr_check(cidr_s))) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest", "Invalid input for cidr. Reason: %s.",
                msg);
        free(msg);
        return NULL;
    }
    if (ipam_cidr_parse(cidr_s, &cidr, NULL) < 0)
        return NULL; /* checked above */
    ipam_cidr_format(&cidr, cidr_text);
    if (cidr.net.version != version) {
        net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                "Invalid input for operation: cidr '%s' does not match the ip_version '%lld'.",
                cidr_s, (long long) version);
        return NULL;
    }
    if (cidr.prefixlen == 0) {
        net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                "Invalid input for operation: %s is not allowed as subnet CIDR.", cidr_text);
        return NULL;
    }
    if (check_gateway(in, &cidr, &has_gw, &gw, &gw_given, err) < 0 ||
        check_ipv6_modes(in, (int) version, &ra, &addr, err) < 0 ||
        (dns && !json_is_null(dns) && check_dns(dns, (int) version, err) < 0) ||
        (routes && !json_is_null(routes) && check_routes(routes, (int) version, err) < 0) ||
        (tags && net_tags_check(tags, err) < 0))
        return NULL;
    if (pools && !json_is_null(pools)) {
        if (ipam_pools_parse(pools, &cidr, has_gw ? &gw : NULL, parsed, NET_MAX_POOLS, &npools,
                             err) < 0)
            return NULL;
        pools_out = json_array();
        for (size_t i = 0; i < npools; i++) {
            char a[IPAM_ADDR_STRLEN], b[IPAM_ADDR_STRLEN];
            ipam_addr_format(&parsed[i].first, a);
            ipam_addr_format(&parsed[i].last, b);
            json_array_append_new(pools_out, json_pack("{s:s, s:s}", "start", a, "end", b));
        }
    } else {
        pools_out = ipam_default_pools(&cidr, has_gw ? &gw : NULL);
    }
    if (has_gw)
        ipam_addr_format(&gw, gw_text);
    pools_text = dumps(pools_out);
    dns_text = dns && json_is_array(dns) ? dumps(dns) : st_xstrdup("[]");
    routes_text = routes && json_is_array(routes) ? dumps(routes) : st_xstrdup("[]");
    st_uuid(id);

    if (store_begin(c, err) < 0)
        goto out;
    if (net_network_load(c, network_id, &net, err) < 0 ||
        net_may_read(ctx, net.project_id, net.shared || net.external, "network", network_id, err) <
            0)
        goto fail;
    if (!ctx->is_admin && !st_streq(net.project_id, project)) {
        net_err(err, ST_ERR_FORBIDDEN, "PolicyNotAuthorized",
                "(rule:create_subnet and rule:admin_or_network_owner) is disallowed by policy");
        goto fail;
    }
    /* Takes the network's row first: subnets of one network are made one
     * at a time, so the overlap check below cannot race. */
    if (store_exec(c, err,
                   "UPDATE networks SET revision_number = revision_number + 1, updated_at = ?"
                   " WHERE id = ?",
                   STORE_ARGS(P(now), P(network_id))) < 0 ||
        net_quota_check(c, project, NET_Q_SUBNET, 1, err) < 0 ||
        net_subnets_of(c, network_id, &others, &nothers, err) < 0)
        goto fail;
    for (size_t i = 0; i < nothers; i++) {
        if (ipam_cidr_overlap(&cidr, &others[i].cidr)) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: Requested subnet with cidr: %s for network: "
                    "%s overlaps with another subnet.",
                    cidr_text, network_id);
            goto fail;
        }
    }
    if (store_exec(c, err,
                   "INSERT INTO subnets (id, network_id, project_id, name, description,"
                   " ip_version, cidr, gateway_ip, enable_dhcp, ipv6_ra_mode, ipv6_address_mode,"
                   " allocation_pools, dns_nameservers, host_routes, created_at, updated_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   STORE_ARGS(P(id), P(network_id), P(project), P(name), P(desc), P(version),
                              P(cidr_text), P(has_gw ? gw_text : NULL), P((int) dhcp), P(ra),
                              P(addr), P(pools_text), P(dns_text), P(routes_text), P(now),
                              P(now))) < 0 ||
        (tags && net_tags_replace(c, id, tags, err) < 0) || net_dhcp_sync(c, network_id, err) < 0 ||
        net_changed(c, err) < 0)
        goto fail;
    if (net_commit(c, err) < 0)
        goto out;
    out = net_subnet_get(c, ctx, id, err);
    goto out;
fail:
    store_rollback(c);
out:
    (void) gw_given;
    free(others);
    free(pools_text);
    free(dns_text);
    free(routes_text);
    json_decref(pools_out);
    return out;
}

static const char *const update_keys[] = {
    "name",        "description",      "gateway_ip",    "enable_dhcp", "dns_nameservers",
    "host_routes", "allocation_pools", "service_types",
};

json_t *net_subnet_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          json_t *in, struct st_err *err)
{
    struct net_subnet_row r;
    struct net_row net;
    const char *name = NULL, *desc = NULL;
    bool has_name = false, has_desc = false, dhcp = true, has_dhcp = false, has_gw = false,
         gw_given = false;
    json_t *dns = json_object_get(in, "dns_nameservers");
    json_t *routes = json_object_get(in, "host_routes");
    json_t *pools = json_object_get(in, "allocation_pools");
    json_t *st = json_object_get(in, "service_types");
    json_t *pools_json = NULL;
    struct ipam_addr gw;
    struct ipam_pool parsed[NET_MAX_POOLS];
    size_t npools;
    char gw_text[IPAM_ADDR_STRLEN] = "";
    char *pools_text = NULL, *dns_text = NULL, *routes_text = NULL;
    json_t *out = NULL;

    if (net_check_keys(in, update_keys, ST_ARRAY_SIZE(update_keys), err) < 0 ||
        net_get_str(in, "name", NET_NAME_MAX, false, &name, &has_name, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, &has_desc, err) < 0 ||
        net_get_bool(in, "enable_dhcp", &dhcp, &has_dhcp, err) < 0)
        return NULL;
    if (st && (!json_is_array(st) || json_array_size(st))) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad subnet request: service types are not supported by this cloud.");
        return NULL;
    }
    if (store_begin(c, err) < 0)
        return NULL;
    if (net_subnet_load(c, id, &r, err) < 0 || net_network_load(c, r.network_id, &net, err) < 0 ||
        net_may_write(ctx, r.project_id, net.shared || net.external, "subnet", id, err) < 0)
        goto fail;
    if (json_object_get(in, "gateway_ip")) {
        if (check_gateway(in, &r.cidr, &has_gw, &gw, &gw_given, err) < 0)
            goto fail;
    } else {
        has_gw = r.has_gateway;
        gw = r.gateway;
    }
    if (has_gw)
        ipam_addr_format(&gw, gw_text);
    if (dns && !json_is_null(dns) && check_dns(dns, r.cidr.net.version, err) < 0)
        goto fail;
    if (routes && !json_is_null(routes) && check_routes(routes, r.cidr.net.version, err) < 0)
        goto fail;
    if (pools && !json_is_null(pools)) {
        if (ipam_pools_parse(pools, &r.cidr, has_gw ? &gw : NULL, parsed, NET_MAX_POOLS, &npools,
                             err) < 0)
            goto fail;
        pools_json = json_array();
        for (size_t i = 0; i < npools; i++) {
            char a[IPAM_ADDR_STRLEN], b[IPAM_ADDR_STRLEN];
            ipam_addr_format(&parsed[i].first, a);
            ipam_addr_format(&parsed[i].last, b);
            json_array_append_new(pools_json, json_pack("{s:s, s:s}", "start", a, "end", b));
        }
        pools_text = dumps(pools_json);
    } else if (json_object_get(in, "gateway_ip") && has_gw) {
        /* A new gateway must stay out of the pools in force. */
        for (size_t i = 0; i < r.npools; i++) {
            if (gw.version == r.pools[i].first.version && gw.v >= r.pools[i].first.v &&
                gw.v <= r.pools[i].last.v) {
                char a[IPAM_ADDR_STRLEN], b[IPAM_ADDR_STRLEN];
                ipam_addr_format(&r.pools[i].first, a);
                ipam_addr_format(&r.pools[i].last, b);
                net_err(err, ST_ERR_CONFLICT, "GatewayConflictWithAllocationPools",
                        "Gateway ip %s conflicts with allocation pool %s-%s.", gw_text, a, b);
                goto fail;
            }
        }
    }
    if (dns)
        dns_text = json_is_array(dns) ? dumps(dns) : st_xstrdup("[]");
    if (routes)
        routes_text = json_is_array(routes) ? dumps(routes) : st_xstrdup("[]");
    if (store_exec(c, err,
                   "UPDATE subnets SET name = CASE WHEN ? = 1 THEN ? ELSE name END,"
                   " description = CASE WHEN ? = 1 THEN ? ELSE description END,"
                   " enable_dhcp = CASE WHEN ? = 1 THEN ? ELSE enable_dhcp END,"
                   " gateway_ip = ?,"
                   " allocation_pools = COALESCE(?, allocation_pools),"
                   " dns_nameservers = COALESCE(?, dns_nameservers),"
                   " host_routes = COALESCE(?, host_routes),"
                   " revision_number = revision_number + 1, updated_at = ? WHERE id = ?",
                   STORE_ARGS(P((int) has_name), P(name), P((int) has_desc), P(desc),
                              P((int) has_dhcp), P((int) dhcp), P(has_gw ? gw_text : NULL),
                              P(pools_text), P(dns_text), P(routes_text), P(net_now()), P(id))) <
            0 ||
        net_dhcp_sync(c, r.network_id, err) < 0 || net_changed(c, err) < 0)
        goto fail;
    if (net_commit(c, err) < 0)
        goto out;
    out = net_subnet_get(c, ctx, id, err);
    goto out;
fail:
    store_rollback(c);
out:
    json_decref(pools_json);
    free(pools_text);
    free(dns_text);
    free(routes_text);
    return out;
}

int net_subnet_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct st_err *err)
{
    struct net_subnet_row r;
    struct net_row net;
    int64_t busy = 0;

    if (store_begin(c, err) < 0)
        return -1;
    if (net_subnet_load(c, id, &r, err) < 0 || net_network_load(c, r.network_id, &net, err) < 0 ||
        net_may_write(ctx, r.project_id, net.shared || net.external, "subnet", id, err) < 0)
        goto fail;
    if (store_get_int(c, err, &busy,
                      "SELECT COUNT(*) FROM ip_allocations a JOIN ports p ON p.id = a.port_id"
                      " WHERE a.subnet_id = ? AND p.device_owner <> 'network:dhcp'",
                      STORE_ARGS(P(id))) < 0)
        goto fail;
    if (busy > 0) {
        net_err(err, ST_ERR_CONFLICT, "SubnetInUse",
                "Unable to complete operation on subnet %s: One or more ports have an IP "
                "allocation from this subnet.",
                id);
        goto fail;
    }
    if (store_exec(c, err, "DELETE FROM ip_allocations WHERE subnet_id = ?", STORE_ARGS(P(id))) <
            0 ||
        store_exec(c, err, "DELETE FROM subnets WHERE id = ?", STORE_ARGS(P(id))) < 0 ||
        net_tags_drop(c, id, err) < 0 ||
        store_exec(c, err,
                   "UPDATE networks SET revision_number = revision_number + 1, updated_at = ?"
                   " WHERE id = ?",
                   STORE_ARGS(P(net_now()), P(r.network_id))) < 0 ||
        net_dhcp_sync(c, r.network_id, err) < 0 || net_changed(c, err) < 0)
        goto fail;
    return net_commit(c, err);
fail:
    store_rollback(c);
    return -1;
}

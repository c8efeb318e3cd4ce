/*
 * desired.c - the network part of a host's desired state
 * (docs/agent-protocol.md, "Networking in the desired state"): the networks
 * the host needs (a bound port, its DHCP server, a router leg), the ports
 * bound to it with their anti-spoofing data, the security groups those
 * ports use with every member address, and the routers it runs; and the
 * statuses agents report back, which also place DHCP servers and routers
 * that had no host yet.
 *
 * Lists are sorted by id so that the document is the same for the same
 * state (agents compare; tests keep golden files).
 */
#include "network/network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "network/internal.h"
#include "common/banned.h"

/* The ports an agent plugs: servers' NICs. */
#define BOUND "p.device_owner LIKE 'compute:%'"

static json_t *strings(struct store_conn *c, const char *sql, const struct store_param *p, size_t n,
                       struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, sql, p, n);
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        if (store_text(s, 0))
            json_array_append_new(arr, json_string(store_text(s, 0)));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* [{"ip_address", "prefixlen", "subnet_id"}] of a port. */
static json_t *leg_ips(struct store_conn *c, const char *port, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT a.ip_address, s.cidr, a.subnet_id FROM"
                                       " ip_allocations a JOIN subnets s ON s.id = a.subnet_id"
                                       " WHERE a.port_id = ? ORDER BY s.ip_version, s.created_at,"
                                       " a.subnet_id, a.ip_address",
                                       STORE_ARGS(P(port)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        struct ipam_cidr cc;
        int len = ipam_cidr_parse(store_text(s, 1), &cc, NULL) == 0 ? cc.prefixlen : 0;
        json_array_append_new(arr, json_pack("{s:s, s:i, s:s}", "ip_address", store_text(s, 0),
                                             "prefixlen", len, "subnet_id", store_text(s, 2)));
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- networks -------------------------------------------------------------- */

static json_t *dhcp_doc(struct store_conn *c, const char *network, struct st_err *err)
{
    struct store_stmt *s;
    char port[37] = "", mac[18] = "";
    json_t *fixed = NULL, *subnets = NULL, *hosts = NULL;
    int rc;

    s = store_query(c, err,
                    "SELECT id, mac_address FROM ports WHERE network_id = ? AND device_owner ="
                    " 'network:dhcp' ORDER BY created_at, id",
                    STORE_ARGS(P(network)));
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0) {
        snprintf(port, sizeof(port), "%s", store_text(s, 0));
        snprintf(mac, sizeof(mac), "%s", store_text(s, 1));
    }
    store_done(s);
    if (rc <= 0)
        return rc < 0 ? NULL : json_null();
    if (!(fixed = leg_ips(c, port, err)))
        goto fail;
    /* isolated_metadata: no router interface on the subnet, so DHCP routes
     * 169.254.169.254 to the DHCP port, whose namespace answers it (Neutron's
     * enable_isolated_metadata). */
    s = store_query(c, err,
                    "SELECT id, cidr, ip_version, gateway_ip, enable_dhcp, dns_nameservers,"
                    " host_routes, allocation_pools, NOT EXISTS (SELECT 1 FROM router_ports rp"
                    " JOIN ip_allocations ra ON ra.port_id = rp.port_id WHERE rp.port_type ="
                    " 'network:router_interface' AND ra.subnet_id = subnets.id) FROM subnets"
                    " WHERE network_id = ? ORDER BY id",
                    STORE_ARGS(P(network)));
    if (!s)
        goto fail;
    subnets = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(store_text(s, 0)));
        json_object_set_new(o, "cidr", json_string(store_text(s, 1)));
        json_object_set_new(o, "ip_version", json_integer(store_int(s, 2)));
        json_object_set_new(o, "gateway_ip", net_text(s, 3));
        json_object_set_new(o, "enable_dhcp", json_boolean(store_int(s, 4)));
        json_object_set_new(o, "dns_nameservers", net_json_col(s, 5, json_array()));
        json_object_set_new(o, "host_routes", net_json_col(s, 6, json_array()));
        json_object_set_new(o, "allocation_pools", net_json_col(s, 7, json_array()));
        json_object_set_new(o, "isolated_metadata", json_boolean(store_int(s, 8)));
        json_array_append_new(subnets, o);
    }
    store_done(s);
    if (rc < 0)
        goto fail;
    /* Every other port of the network gets a static entry per address. */
    s = store_query(c, err,
                    "SELECT p.mac_address, a.ip_address, sv.hostname FROM ports p JOIN"
                    " ip_allocations a ON a.port_id = p.id JOIN subnets sn ON sn.id = a.subnet_id"
                    " LEFT JOIN servers sv ON sv.id = p.device_id AND p.device_owner LIKE"
                    " 'compute:%' WHERE p.network_id = ? AND p.id <> ? AND sn.enable_dhcp = 1"
                    " ORDER BY a.ip_address, p.mac_address",
                    STORE_ARGS(P(network), P(port)));
    if (!s)
        goto fail;
    hosts = json_array();
    while ((rc = store_next(s, err)) > 0) {
        char name[300];
        const char *h = store_text(s, 2);
        if (h && *h) {
            snprintf(name, sizeof(name), "%s", h);
        } else {
            /* Neutron's "host-10-0-0-5". */
            snprintf(name, sizeof(name), "host-%s", store_text(s, 1));
            for (char *p = name; *p; p++)
                if (*p == '.' || *p == ':')
                    *p = '-';
        }
        json_array_append_new(hosts, json_pack("{s:s, s:s, s:s}", "mac_address", store_text(s, 0),
                                               "ip_address", store_text(s, 1), "hostname", name));
    }
    store_done(s);
    if (rc < 0)
        goto fail;
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "port_id", port, "mac_address", mac, "fixed_ips",
                     fixed, "subnets", subnets, "hosts", hosts);
fail:
    json_decref(fixed);
    json_decref(subnets);
    json_decref(hosts);
    return NULL;
}

/* The hosts a network must reach: those with a server port on it, its DHCP
 * host, and the hosts of routers attached to it. */
#define NEEDS_NETWORK                                                                              \
    "(EXISTS (SELECT 1 FROM ports p WHERE p.network_id = ? AND " BOUND                             \
    " AND (p.host = h.name OR p.migrating_host = h.name)) OR h.name IN (SELECT n.dhcp_host"       \
    " FROM networks n WHERE n.id = ?"                                                              \
    " AND EXISTS (SELECT 1 FROM ports d WHERE d.network_id = n.id AND d.device_owner ="            \
    " 'network:dhcp')) OR h.name IN (SELECT r.host FROM routers r JOIN router_ports rp ON"         \
    " rp.router_id = r.id JOIN ports p ON p.id = rp.port_id WHERE p.network_id = ? AND"            \
    " r.admin_state_up = 1))"

/* The ports of VXLAN network 'net' bound to other hosts (servers' NICs,
 * DHCP and router legs) and their hosts' VTEPs: a new array of
 * {"mac_address", "vtep_ip"}. */
static json_t *vxlan_fdb(struct store_conn *c, const char *host, const char *net,
                         struct st_err *err)
{
    struct store_stmt *s = store_query(
        c, err,
        "SELECT p.mac_address, h.vtep_ip FROM ports p JOIN hosts h ON h.name = p.host WHERE"
        " p.network_id = ? AND p.host <> ? AND h.vtep_ip IS NOT NULL AND h.vtep_ip <> '' AND"
        " (" BOUND " OR p.device_owner IN ('network:dhcp', 'network:router_interface',"
        " 'network:router_gateway')) ORDER BY p.mac_address, h.vtep_ip",
        STORE_ARGS(P(net), P(host)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "mac_address", store_text(s, 0),
                                             "vtep_ip", store_text(s, 1)));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *network_doc(struct store_conn *c, const char *host, struct store_stmt *s,
                           struct st_err *err)
{
    const char *id = store_text(s, 0), *type = store_text(s, 1);
    json_t *peers, *dhcp = json_null(), *fdb_doc = NULL;
    json_t *o;

    if (!strcmp(type, "vxlan")) {
        peers = strings(c,
                        "SELECT DISTINCT h.vtep_ip FROM hosts h WHERE h.name <> ? AND"
                        " h.vtep_ip IS NOT NULL AND h.vtep_ip <> '' AND " NEEDS_NETWORK
                        " ORDER BY h.vtep_ip",
                        STORE_ARGS(P(host), P(id), P(id), P(id)), err);
    } else {
        peers = json_array();
    }
    if (!peers)
        return NULL;
    if (!strcmp(type, "vxlan")) {
        /* l2population: where each MAC on the network lives, so the agent
         * sends unicast straight to its host's VTEP (no flooding). */
        json_t *fdb = vxlan_fdb(c, host, id, err);
        if (!fdb) {
            json_decref(peers);
            return NULL;
        }
        fdb_doc = fdb;
    }
    if (st_streq(store_text(s, 6), host)) {
        json_decref(dhcp);
        if (!(dhcp = dhcp_doc(c, id, err))) {
            json_decref(peers);
            return NULL;
        }
    }
    o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "network_type", json_string(type));
    json_object_set_new(o, "physical_network", net_text(s, 2));
    json_object_set_new(o, "segmentation_id",
                        store_isnull(s, 3) ? json_null() : json_integer(store_int(s, 3)));
    json_object_set_new(o, "mtu", json_integer(store_int(s, 4)));
    json_object_set_new(o, "external", json_boolean(store_int(s, 5)));
    json_object_set_new(o, "vxlan_peers", peers);
    if (fdb_doc)
        json_object_set_new(o, "vxlan_fdb", fdb_doc);
    json_object_set_new(o, "dhcp", dhcp);
    return o;
}

static json_t *networks(struct store_conn *c, const char *host, struct st_err *err)
{
    struct store_stmt *s = store_query(
        c, err,
        "SELECT n.id, n.network_type, n.physical_network, n.segmentation_id, n.mtu, n.external,"
        " n.dhcp_host FROM networks n WHERE n.id IN (SELECT p.network_id FROM ports p WHERE"
        " (p.host = ? OR p.migrating_host = ?) AND " BOUND ") OR (n.dhcp_host = ? AND EXISTS"
        " (SELECT 1 FROM ports d"
        " WHERE d.network_id = n.id AND d.device_owner = 'network:dhcp')) OR n.id IN (SELECT"
        " p.network_id FROM router_ports rp JOIN routers r ON r.id = rp.router_id JOIN ports p"
        " ON p.id = rp.port_id WHERE r.host = ? AND r.admin_state_up = 1) ORDER BY n.id",
        STORE_ARGS(P(host), P(host), P(host), P(host)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *o = network_doc(c, host, s, err);
        if (!o) {
            rc = -1;
            break;
        }
        json_array_append_new(arr, o);
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- ports and groups ------------------------------------------------------ */

static json_t *ports(struct store_conn *c, const char *host, json_t *groups_used,
                     struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT p.id, p.network_id, p.mac_address,"
                                       " p.port_security_enabled FROM ports p WHERE (p.host = ?"
                                       " OR p.migrating_host = ?) AND " BOUND " ORDER BY p.id",
                                       STORE_ARGS(P(host), P(host)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        const char *id = store_text(s, 0);
        bool portsec = store_int(s, 3) != 0;
        json_t *ips = leg_ips(c, id, err), *groups = NULL, *pairs = NULL, *g;
        struct store_stmt *q;
        size_t i;
        if (!ips) {
            rc = -1;
            break;
        }
        groups = strings(c,
                         "SELECT security_group_id FROM port_security_groups WHERE port_id = ?"
                         " ORDER BY security_group_id",
                         STORE_ARGS(P(id)), err);
        q = groups ? store_query(c, err,
                                 "SELECT ip_address, mac_address FROM allowed_address_pairs"
                                 " WHERE port_id = ? ORDER BY ip_address, mac_address",
                                 STORE_ARGS(P(id)))
                   : NULL;
        if (q) {
            pairs = json_array();
            while ((rc = store_next(q, err)) > 0)
                json_array_append_new(pairs, json_pack("{s:s, s:s}", "ip_address", store_text(q, 0),
                                                       "mac_address", store_text(q, 1)));
            store_done(q);
        }
        if (!groups || !q || rc < 0) {
            json_decref(ips);
            json_decref(groups);
            json_decref(pairs);
            rc = -1;
            break;
        }
        if (portsec)
            json_array_foreach(groups, i, g)
                json_object_set_new(groups_used, json_string_value(g), json_true());
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o, s:b, s:o, s:o}", "id", id,
                                             "network_id", store_text(s, 1), "mac_address",
                                             store_text(s, 2), "fixed_ips", ips,
                                             "port_security_enabled", portsec, "security_groups",
                                             groups, "allowed_address_pairs", pairs));
        rc = 1;
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *group_doc(struct store_conn *c, const char *id, json_t *more, struct st_err *err)
{
    struct store_stmt *s;
    json_t *rules = NULL, *members = NULL;
    int stateful = 1, rc;

    s = store_query(c, err, "SELECT stateful FROM security_groups WHERE id = ?", STORE_ARGS(P(id)));
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        stateful = (int) store_int(s, 0);
    store_done(s);
    if (rc <= 0)
        return rc < 0 ? NULL : json_null();
    s = store_query(c, err,
                    "SELECT id, direction, ethertype, protocol, port_range_min, port_range_max,"
                    " remote_ip_prefix, remote_group_id FROM security_group_rules WHERE"
                    " security_group_id = ? ORDER BY id",
                    STORE_ARGS(P(id)));
    if (!s)
        return NULL;
    rules = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *r = json_object();
        json_object_set_new(r, "id", json_string(store_text(s, 0)));
        json_object_set_new(r, "direction", json_string(store_text(s, 1)));
        json_object_set_new(r, "ethertype", json_string(store_text(s, 2)));
        json_object_set_new(r, "protocol", net_text(s, 3));
        json_object_set_new(r, "port_range_min",
                            store_isnull(s, 4) ? json_null() : json_integer(store_int(s, 4)));
        json_object_set_new(r, "port_range_max",
                            store_isnull(s, 5) ? json_null() : json_integer(store_int(s, 5)));
        json_object_set_new(r, "remote_ip_prefix", net_text(s, 6));
        json_object_set_new(r, "remote_group_id", net_text(s, 7));
        if (store_text(s, 7))
            json_object_set_new(more, store_text(s, 7), json_true());
        json_array_append_new(rules, r);
    }
    store_done(s);
    if (rc < 0)
        goto fail;
    members = strings(c,
                      "SELECT DISTINCT a.ip_address FROM port_security_groups pg JOIN"
                      " ip_allocations a ON a.port_id = pg.port_id WHERE pg.security_group_id = ?"
                      " ORDER BY a.ip_address",
                      STORE_ARGS(P(id)), err);
    if (!members)
        goto fail;
    return json_pack("{s:s, s:b, s:o, s:o}", "id", id, "stateful", stateful, "rules", rules,
                     "member_ips", members);
fail:
    json_decref(rules);
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *) a, "id"));
    const char *y = json_string_value(json_object_get(*(json_t *const *) b, "id"));
    return strcmp(x ? x : "", y ? y : "");
}

/* Sorts an array of objects by their "id" (in place). */
static void sort_by_id(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = st_xcalloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), cmp_id);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

static json_t *groups(struct store_conn *c, json_t *used, struct st_err *err)
{
    json_t *arr = json_array(), *more = json_object(), *scratch = json_object(), *v;
    const char *k;
    /* The groups the ports use, then those their rules name as remote
     * groups (their members are needed; their own remotes are not). */
    for (int pass = 0; pass < 2; pass++) {
        json_t *todo = pass ? more : used;
        json_object_foreach(todo, k, v)
        {
            json_t *doc;
            if (pass && json_object_get(used, k))
                continue;
            doc = group_doc(c, k, pass ? scratch : more, err);
            if (!doc)
                goto fail;
            if (json_is_null(doc))
                json_decref(doc);
            else
                json_array_append_new(arr, doc);
        }
    }
    json_decref(more);
    json_decref(scratch);
    sort_by_id(arr);
    return arr;
fail:
    json_decref(more);
    json_decref(scratch);
    json_decref(arr);
    return NULL;
}

/* ---- routers --------------------------------------------------------------- */

static json_t *router_doc(struct store_conn *c, struct store_stmt *s, struct st_err *err)
{
    const char *id = store_text(s, 0), *gw_port = store_text(s, 2);
    json_t *gw = json_null(), *ifaces = NULL, *routes = NULL, *fips = NULL;
    struct store_stmt *q;
    int rc;

    if (gw_port) {
        json_t *ips = leg_ips(c, gw_port, err);
        char mac[18] = "", gateway[IPAM_ADDR_STRLEN] = "";
        if (!ips)
            goto fail;
        q = store_query(c, err, "SELECT mac_address FROM ports WHERE id = ?",
                        STORE_ARGS(P(gw_port)));
        if (q && store_next(q, err) > 0)
            snprintf(mac, sizeof(mac), "%s", store_text(q, 0));
        store_done(q);
        /* The next hop out: the gateway of the first IPv4 subnet of the leg. */
        q = store_query(c, err,
                        "SELECT s.gateway_ip FROM ip_allocations a JOIN subnets s ON s.id ="
                        " a.subnet_id WHERE a.port_id = ? AND s.gateway_ip IS NOT NULL ORDER BY"
                        " s.ip_version, s.created_at, s.id",
                        STORE_ARGS(P(gw_port)));
        if (q && store_next(q, err) > 0)
            snprintf(gateway, sizeof(gateway), "%s", store_text(q, 0));
        store_done(q);
        gw = json_pack("{s:s, s:s, s:s, s:o, s:o, s:b}", "network_id", store_text(s, 1), "port_id",
                       gw_port, "mac_address", mac, "fixed_ips", ips, "gateway_ip",
                       gateway[0] ? json_string(gateway) : json_null(), "enable_snat",
                       (int) store_int(s, 3));
    }
    q = store_query(c, err,
                    "SELECT p.id, p.network_id, p.mac_address FROM router_ports rp JOIN ports p"
                    " ON p.id = rp.port_id WHERE rp.router_id = ? AND rp.port_type ="
                    " 'network:router_interface' ORDER BY p.id",
                    STORE_ARGS(P(id)));
    if (!q)
        goto fail;
    ifaces = json_array();
    while ((rc = store_next(q, err)) > 0) {
        json_t *ips = leg_ips(c, store_text(q, 0), err);
        if (!ips) {
            rc = -1;
            break;
        }
        json_array_append_new(ifaces, json_pack("{s:s, s:s, s:s, s:o}", "port_id", store_text(q, 0),
                                                "network_id", store_text(q, 1), "mac_address",
                                                store_text(q, 2), "fixed_ips", ips));
    }
    store_done(q);
    if (rc < 0)
        goto fail;
    q = store_query(c, err,
                    "SELECT destination, nexthop FROM router_routes WHERE router_id = ? ORDER BY"
                    " destination, nexthop",
                    STORE_ARGS(P(id)));
    if (!q)
        goto fail;
    routes = json_array();
    while ((rc = store_next(q, err)) > 0)
        json_array_append_new(routes, json_pack("{s:s, s:s}", "destination", store_text(q, 0),
                                                "nexthop", store_text(q, 1)));
    store_done(q);
    if (rc < 0)
        goto fail;
    q = store_query(c, err,
                    "SELECT id, floating_ip_address, fixed_ip_address FROM floatingips WHERE"
                    " router_id = ? AND fixed_ip_address IS NOT NULL ORDER BY id",
                    STORE_ARGS(P(id)));
    if (!q)
        goto fail;
    fips = json_array();
    while ((rc = store_next(q, err)) > 0)
        json_array_append_new(fips, json_pack("{s:s, s:s, s:s}", "id", store_text(q, 0),
                                              "floating_ip_address", store_text(q, 1),
                                              "fixed_ip_address", store_text(q, 2)));
    store_done(q);
    if (rc < 0)
        goto fail;
    return json_pack("{s:s, s:o, s:o, s:o, s:o}", "id", id, "gateway", gw, "interfaces", ifaces,
                     "routes", routes, "floating_ips", fips);
fail:
    json_decref(gw);
    json_decref(ifaces);
    json_decref(routes);
    json_decref(fips);
    return NULL;
}

static json_t *routers(struct store_conn *c, const char *host, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, gw_network_id, gw_port_id, enable_snat FROM"
                                       " routers WHERE host = ? AND admin_state_up = 1 ORDER BY"
                                       " id",
                                       STORE_ARGS(P(host)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *o = router_doc(c, s, err);
        if (!o) {
            rc = -1;
            break;
        }
        json_array_append_new(arr, o);
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *net_host_desired(struct store_conn *c, const char *host, struct st_err *err)
{
    json_t *used = json_object(), *n = NULL, *p = NULL, *g = NULL, *r = NULL;
    if (!(n = networks(c, host, err)) || !(p = ports(c, host, used, err)) ||
        !(g = groups(c, used, err)) || !(r = routers(c, host, err))) {
        json_decref(used);
        json_decref(n);
        json_decref(p);
        json_decref(g);
        return NULL;
    }
    json_decref(used);
    return json_pack("{s:o, s:o, s:o, s:o}", "networks", n, "ports", p, "security_groups", g,
                     "routers", r);
}

/* ---- reports ----------------------------------------------------------------- */

static bool status_ok(const char *s)
{
    return s && (!strcmp(s, "ACTIVE") || !strcmp(s, "DOWN") || !strcmp(s, "ERROR") ||
                 !strcmp(s, "BUILD"));
}

/* Places DHCP servers and routers that have no host on the first host that
 * is up (the reporting one is).  Returns 1 when something moved. */
static int place(struct store_conn *c, struct st_err *err)
{
    char host[256];
    int64_t n1, n2;
    if (net_pick_host(c, host, sizeof(host), err) < 0)
        return -1;
    if (!host[0])
        return 0;
    n1 = store_exec(c, err,
                    "UPDATE ports SET host = ? WHERE host IS NULL AND device_owner ="
                    " 'network:dhcp' AND network_id IN (SELECT id FROM networks WHERE dhcp_host"
                    " IS NULL)",
                    STORE_ARGS(P(host)));
    if (n1 < 0 || store_exec(c, err, "UPDATE networks SET dhcp_host = ? WHERE dhcp_host IS NULL",
                             STORE_ARGS(P(host))) < 0)
        return -1;
    n2 = store_exec(c, err,
                    "UPDATE ports SET host = ? WHERE host IS NULL AND device_id IN (SELECT id"
                    " FROM routers WHERE host IS NULL) AND device_owner IN"
                    " ('network:router_interface', 'network:router_gateway')",
                    STORE_ARGS(P(host)));
    if (n2 < 0)
        return -1;
    int64_t n3 =
        store_exec(c, err, "UPDATE routers SET host = ? WHERE host IS NULL", STORE_ARGS(P(host)));
    if (n3 < 0)
        return -1;
    return n1 + n2 + n3 > 0;
}

int net_host_report(struct store_conn *c, const char *host, json_t *report, struct st_err *err)
{
    static const struct {
        const char *key, *sql;
    } kinds[] = {
        {"networks", "UPDATE networks SET status = ? WHERE id = ? AND status <> ?"},
        {"ports", "UPDATE ports SET status = ? WHERE id = ? AND host = ? AND status <> ?"},
        {"routers", "UPDATE routers SET status = ? WHERE id = ? AND host = ? AND status <> ?"},
    };
    int moved;
    for (size_t k = 0; k < ST_ARRAY_SIZE(kinds); k++) {
        json_t *list = json_object_get(report, kinds[k].key), *e;
        size_t i;
        if (!list)
            continue;
        if (!json_is_array(list) || json_array_size(list) > 100000) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "'%s' must be an array", kinds[k].key);
            return -1;
        }
        json_array_foreach(list, i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            const char *status = json_string_value(json_object_get(e, "status"));
            int64_t n;
            if (!id || !st_is_uuid(id) || !status_ok(status))
                continue;
            if (k == 0)
                n = store_exec(c, err, kinds[k].sql, STORE_ARGS(P(status), P(id), P(status)));
            else
                n = store_exec(c, err, kinds[k].sql,
                               STORE_ARGS(P(status), P(id), P(host), P(status)));
            if (n < 0)
                return -1;
        }
    }
    moved = place(c, err);
    if (moved < 0)
        return -1;
    return moved ? net_changed(c, err) : 0;
}

/*
 * routers.c - Neutron routers: the external gateway (a network:router_gateway
 * port on an external network, SNAT on or off), interfaces (a
 * network:router_interface port holding a subnet's gateway address, or a
 * port the user made), static routes whose next hop must be on a connected
 * subnet, and the host the router runs on, chosen once.
 */
#include "network/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define MAX_ROUTES 30

#define ROUTER_COLS                                                                                \
    "id, project_id, name, description, admin_state_up, status, gw_network_id, gw_port_id,"        \
    " enable_snat, revision_number, created_at, updated_at"

struct router_row {
    char id[37], project_id[AUTH_ID_MAX], host[256], gw_network[37], gw_port[37];
    bool enable_snat;
};

static int router_load(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       struct router_row *r, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, project_id, host, gw_network_id, gw_port_id,"
                                       " enable_snat FROM routers WHERE id = ?",
                                       STORE_ARGS(P(id)));
    int rc;
    if (!s)
        return -1;
    memset(r, 0, sizeof(*r));
    rc = store_next(s, err);
    if (rc > 0) {
        snprintf(r->id, sizeof(r->id), "%s", store_text(s, 0));
        snprintf(r->project_id, sizeof(r->project_id), "%s", store_text(s, 1));
        if (store_text(s, 2))
            snprintf(r->host, sizeof(r->host), "%s", store_text(s, 2));
        if (store_text(s, 3))
            snprintf(r->gw_network, sizeof(r->gw_network), "%s", store_text(s, 3));
        if (store_text(s, 4))
            snprintf(r->gw_port, sizeof(r->gw_port), "%s", store_text(s, 4));
        r->enable_snat = store_int(s, 5) != 0;
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        net_not_found(err, "router", id);
        return -1;
    }
    return net_may_read(ctx, r->project_id, false, "router", id, err);
}

static json_t *routes_json(struct store_conn *c, const char *id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT destination, nexthop FROM router_routes WHERE"
                                       " router_id = ? ORDER BY destination, nexthop",
                                       STORE_ARGS(P(id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "destination", store_text(s, 0),
                                             "nexthop", store_text(s, 1)));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *router_json(struct store_conn *c, struct store_stmt *s, struct st_err *err)
{
    const char *id = store_text(s, 0);
    json_t *o = json_object(), *routes = NULL, *gw = json_null();
    if (net_std_attrs(c, o, id, store_text(s, 1), store_text(s, 3), store_int(s, 9),
                      store_int(s, 10), store_int(s, 11), err) < 0 ||
        !(routes = routes_json(c, id, err)))
        goto fail;
    if (store_text(s, 6)) {
        json_t *ips = json_array();
        if (store_text(s, 7)) {
            json_decref(ips);
            if (!(ips = net_port_fixed_ips(c, store_text(s, 7), err)))
                goto fail;
        }
        gw = json_pack("{s:s, s:b, s:o}", "network_id", store_text(s, 6), "enable_snat",
                       (int) store_int(s, 8), "external_fixed_ips", ips);
    }
    json_object_set_new(o, "name", json_string(store_text(s, 2)));
    json_object_set_new(o, "admin_state_up", json_boolean(store_int(s, 4)));
    json_object_set_new(o, "status", json_string(store_text(s, 5)));
    json_object_set_new(o, "external_gateway_info", gw);
    json_object_set_new(o, "routes", routes);
    return o;
fail:
    json_decref(routes);
    json_decref(o);
    return NULL;
}

json_t *net_router_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       struct st_err *err)
{
    struct router_row r;
    struct store_stmt *s;
    json_t *o = NULL;
    if (router_load(c, ctx, id, &r, err) < 0)
        return NULL;
    s = store_query(c, err, "SELECT " ROUTER_COLS " FROM routers WHERE id = ?", STORE_ARGS(P(id)));
    if (!s)
        return NULL;
    if (store_next(s, err) > 0)
        o = router_json(c, s, err);
    else
        net_not_found(err, "router", id);
    store_done(s);
    return o;
}

static json_t *router_row(struct store_conn *c, struct store_stmt *s, void *arg,
                          struct st_err *err)
{
    (void) arg;
    return router_json(c, s, err);
}

json_t *net_router_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    const char *scope = policy_scope(ctx);
    return store_collect(c, err, router_row, NULL,
                         "SELECT " ROUTER_COLS " FROM routers WHERE (CAST(? AS TEXT) IS NULL OR"
                         " project_id = ?) ORDER BY created_at, id",
                         STORE_ARGS(P(scope), P(scope)));
}

/* ---- gateway ------------------------------------------------------------- */

static int gateway_remove(struct store_conn *c, const struct router_row *r, struct st_err *err)
{
    int64_t fips = 0;
    if (!r->gw_network[0])
        return 0;
    if (store_get_int(c, err, &fips, "SELECT COUNT(*) FROM floatingips WHERE router_id = ?",
                      STORE_ARGS(P(r->id))) < 0)
        return -1;
    if (fips > 0) {
        net_err(err, ST_ERR_CONFLICT, "RouterExternalGatewayInUseByFloatingIp",
                "Gateway cannot be updated for router %s, since a gateway to external network "
                "%s is required by one or more floating IPs.",
                r->id, r->gw_network);
        return -1;
    }
    if (store_exec(c, err,
                   "UPDATE routers SET gw_network_id = NULL, gw_port_id = NULL WHERE id = ?",
                   STORE_ARGS(P(r->id))) < 0)
        return -1;
    if (r->gw_port[0] && net_port_remove(c, r->gw_port, err) < 0)
        return -1;
    return 0;
}

/* Applies an "external_gateway_info" (object or null) to router 'r'. */
static int gateway_set(struct store_conn *c, const struct auth_ctx *ctx, struct router_row *r,
                       json_t *info, struct st_err *err)
{
    const char *network_id = NULL;
    bool snat = true, has_snat;
    json_t *ips = json_object_get(info, "external_fixed_ips");
    struct net_row net;
    char port[37];

    if (!info || json_is_null(info) || (json_is_object(info) && !json_object_size(info)))
        return gateway_remove(c, r, err);
    if (!json_is_object(info)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for external_gateway_info. Reason: it must be a dictionary.");
        return -1;
    }
    static const char *const keys[] = {"network_id", "enable_snat", "external_fixed_ips",
                                       "qos_policy_id"};
    if (net_check_keys(info, keys, ST_ARRAY_SIZE(keys), err) < 0 ||
        net_get_str(info, "network_id", 36, false, &network_id, NULL, err) < 0 ||
        net_get_bool(info, "enable_snat", &snat, &has_snat, err) < 0)
        return -1;
    if (json_object_get(info, "qos_policy_id") &&
        !json_is_null(json_object_get(info, "qos_policy_id"))) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest", "QoS policies are not supported.");
        return -1;
    }
    if (!network_id) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for external_gateway_info. Reason: network_id is required.");
        return -1;
    }
    if (!ctx->is_admin && (has_snat || ips)) {
        net_forbidden_attr(err, "update_router",
                           has_snat ? "external_gateway_info:enable_snat"
                                    : "external_gateway_info:external_fixed_ips");
        return -1;
    }
    if (ips && !json_is_null(ips) && !json_is_array(ips)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for external_fixed_ips. Reason: it must be a list.");
        return -1;
    }
    if (net_network_load(c, network_id, &net, err) < 0 ||
        net_may_read(ctx, net.project_id, net.shared || net.external, "network", network_id, err) <
            0)
        return -1;
    if (!net.external) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad router request: Network %s is not an external network.", network_id);
        return -1;
    }
    if (!strcmp(r->gw_network, network_id) && r->gw_port[0]) {
        /* Same network: SNAT and addresses change in place. */
        if (ips && json_is_array(ips) &&
            net_port_set_ips(c, r->gw_port, network_id, "", "network:router_gateway", ips, err) < 0)
            return -1;
        r->enable_snat = has_snat ? snat : r->enable_snat;
        return store_exec(c, err, "UPDATE routers SET enable_snat = ? WHERE id = ?",
                          STORE_ARGS(P((int) r->enable_snat), P(r->id))) < 0
                   ? -1
                   : 0;
    }
    if (gateway_remove(c, r, err) < 0)
        return -1;
    json_t *none = json_array();
    struct net_port_spec spec = {
        .network_id = network_id,
        .project_id = "",
        .device_id = r->id,
        .device_owner = "network:router_gateway",
        .host = r->host[0] ? r->host : NULL,
        .fixed_ips = ips && json_is_array(ips) && json_array_size(ips) ? ips : NULL,
        .security_groups = none,
        .port_security = 0,
        .admin_state_up = true,
    };
    int rc = net_port_insert(c, ctx, &spec, port, err);
    json_decref(none);
    if (rc < 0)
        return -1;
    if (store_exec(c, err,
                   "INSERT INTO router_ports (port_id, router_id, port_type) VALUES (?, ?,"
                   " 'network:router_gateway')",
                   STORE_ARGS(P(port), P(r->id))) < 0 ||
        store_exec(
            c, err,
            "UPDATE routers SET gw_network_id = ?, gw_port_id = ?, enable_snat = ? WHERE"
            " id = ?",
            STORE_ARGS(P(network_id), P(port), P((int) (has_snat ? snat : true)), P(r->id))) < 0)
        return -1;
    snprintf(r->gw_network, sizeof(r->gw_network), "%s", network_id);
    snprintf(r->gw_port, sizeof(r->gw_port), "%s", port);
    return 0;
}

/* ---- routes -------------------------------------------------------------- */

/* The CIDRs the router is connected to (interfaces and gateway). */
static int connected(struct store_conn *c, const char *router_id, struct ipam_cidr *out, size_t max,
                     size_t *n, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT DISTINCT s.cidr FROM router_ports rp JOIN"
                                       " ip_allocations a ON a.port_id = rp.port_id JOIN subnets"
                                       " s ON s.id = a.subnet_id WHERE rp.router_id = ?",
                                       STORE_ARGS(P(router_id)));
    int rc;
    *n = 0;
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0)
        if (*n < max && ipam_cidr_parse(store_text(s, 0), &out[*n], NULL) == 0)
            (*n)++;
    store_done(s);
    return rc < 0 ? -1 : 0;
}

static int check_routes(struct store_conn *c, const char *router_id, json_t *routes,
                        struct st_err *err)
{
    struct ipam_cidr conn[64];
    size_t nconn, i;
    json_t *v;
    if (!json_is_array(routes)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for routes. Reason: it must be a list.");
        return -1;
    }
    if (json_array_size(routes) > MAX_ROUTES) {
        net_err(err, ST_ERR_BAD_REQUEST, "RoutesExhausted",
                "Unable to complete operation for %s. The number of routes exceeds the maximum "
                "%d.",
                router_id, MAX_ROUTES);
        return -1;
    }
    if (connected(c, router_id, conn, ST_ARRAY_SIZE(conn), &nconn, err) < 0)
        return -1;
    json_array_foreach(routes, i, v)
    {
        const char *d = json_string_value(json_object_get(v, "destination"));
        const char *h = json_string_value(json_object_get(v, "nexthop"));
        struct ipam_cidr dc;
        struct ipam_addr ha;
        bool ok = false;
        if (!json_is_object(v) || !d || !h || ipam_cidr_parse(d, &dc, NULL) < 0 ||
            ipam_addr_parse(h, &ha) < 0) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "Invalid input for routes. Reason: Invalid data format for hostroute: each "
                    "needs a 'destination' CIDR and a 'nexthop' address.");
            return -1;
        }
        for (size_t k = 0; k < nconn && !ok; k++)
            ok = ipam_cidr_contains(&conn[k], &ha);
        if (!ok) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidRoutes",
                    "Invalid format for routes: [{'destination': '%s', 'nexthop': '%s'}], the "
                    "nexthop is not connected with router",
                    d, h);
            return -1;
        }
    }
    return 0;
}

static int routes_apply(struct store_conn *c, const char *router_id, json_t *routes, bool add,
                        bool replace, struct st_err *err)
{
    size_t i;
    json_t *v;
    if (replace && store_exec(c, err, "DELETE FROM router_routes WHERE router_id = ?",
                              STORE_ARGS(P(router_id))) < 0)
        return -1;
    json_array_foreach(routes, i, v)
    {
        struct ipam_cidr dc;
        char dest[IPAM_CIDR_STRLEN];
        const char *h = json_string_value(json_object_get(v, "nexthop"));
        if (ipam_cidr_parse(json_string_value(json_object_get(v, "destination")), &dc, NULL) < 0)
            continue;
        ipam_cidr_format(&dc, dest);
        if (add ? store_exec(c, err,
                             "INSERT INTO router_routes (router_id, destination, nexthop)"
                             " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                             STORE_ARGS(P(router_id), P(dest), P(h))) < 0
                : store_exec(c, err,
                             "DELETE FROM router_routes WHERE router_id = ? AND destination = ?"
                             " AND nexthop = ?",
                             STORE_ARGS(P(router_id), P(dest), P(h))) < 0)
            return -1;
    }
    return 0;
}

static int touch(struct store_conn *c, const char *id, struct st_err *err)
{
    return store_exec(c, err,
                      "UPDATE routers SET revision_number = revision_number + 1, updated_at = ?"
                      " WHERE id = ?",
                      STORE_ARGS(P(net_now()), P(id))) < 0
               ? -1
               : 0;
}

/* ---- create, update, delete ------------------------------------------------ */

static int check_dvr_ha(json_t *in, struct st_err *err)
{
    static const char *const attrs[] = {"distributed", "ha"};
    for (size_t i = 0; i < ST_ARRAY_SIZE(attrs); i++) {
        bool v = false;
        if (net_get_bool(in, attrs[i], &v, NULL, err) < 0)
            return -1;
        if (v) {
            net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                    "Bad router request: %s routers are not supported by this cloud.",
                    i ? "HA" : "Distributed");
            return -1;
        }
    }
    return 0;
}

static const char *const create_keys[] = {
    "name",
    "description",
    "admin_state_up",
    "external_gateway_info",
    "project_id",
    "tenant_id",
    "tags",
    "distributed",
    "ha",
    "availability_zone_hints",
};

json_t *net_router_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                          struct st_err *err)
{
    char project[AUTH_ID_MAX];
    const char *name = "", *desc = "";
    bool up = true;
    int64_t now = net_now();
    json_t *gw = json_object_get(in, "external_gateway_info"), *tags = json_object_get(in, "tags");
    struct router_row r;

    memset(&r, 0, sizeof(r));
    if (net_check_keys(in, create_keys, ST_ARRAY_SIZE(create_keys), err) < 0 ||
        net_owner(ctx, in, project, err) < 0 ||
        net_get_str(in, "name", NET_NAME_MAX, false, &name, NULL, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, NULL, err) < 0 ||
        net_get_bool(in, "admin_state_up", &up, NULL, err) < 0 || check_dvr_ha(in, err) < 0 ||
        (tags && net_tags_check(tags, err) < 0))
        return NULL;
    st_uuid(r.id);
    snprintf(r.project_id, sizeof(r.project_id), "%s", project);
    if (store_begin(c, err) < 0)
        return NULL;
    if (net_quota_check(c, project, NET_Q_ROUTER, 1, err) < 0 ||
        net_pick_host(c, r.host, sizeof(r.host), err) < 0 ||
        store_exec(c, err,
                   "INSERT INTO routers (id, project_id, name, description, admin_state_up,"
                   " host, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   STORE_ARGS(P(r.id), P(project), P(name), P(desc), P((int) up),
                              P(r.host[0] ? r.host : NULL), P(now), P(now))) < 0 ||
        (gw && gateway_set(c, ctx, &r, gw, err) < 0) ||
        (tags && net_tags_replace(c, r.id, tags, err) < 0) || net_changed(c, err) < 0)
        goto fail;
    if (net_commit(c, err) < 0)
        return NULL;
    return net_router_get(c, ctx, r.id, err);
fail:
    store_rollback(c);
    return NULL;
}

static const char *const update_keys[] = {
    "name", "description", "admin_state_up", "external_gateway_info", "routes", "distributed", "ha",
};

json_t *net_router_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          json_t *in, struct st_err *err)
{
    struct router_row r;
    const char *name = NULL, *desc = NULL;
    bool has_name = false, has_desc = false, up = false, has_up = false;
    json_t *gw = json_object_get(in, "external_gateway_info");
    json_t *routes = json_object_get(in, "routes");

    if (net_check_keys(in, update_keys, ST_ARRAY_SIZE(update_keys), err) < 0 ||
        net_get_str(in, "name", NET_NAME_MAX, false, &name, &has_name, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, &has_desc, err) < 0 ||
        net_get_bool(in, "admin_state_up", &up, &has_up, err) < 0 || check_dvr_ha(in, err) < 0)
        return NULL;
    if (store_begin(c, err) < 0)
        return NULL;
    if (router_load(c, ctx, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, false, "router", id, err) < 0)
        goto fail;
    if (json_object_get(in, "external_gateway_info") && gateway_set(c, ctx, &r, gw, err) < 0)
        goto fail;
    if (routes) {
        json_t *list = json_is_null(routes) ? json_array() : json_incref(routes);
        int rc =
            check_routes(c, id, list, err) < 0 || routes_apply(c, id, list, true, true, err) < 0
                ? -1
                : 0;
        json_decref(list);
        if (rc < 0)
            goto fail;
    }
    if (store_exec(c, err,
                   "UPDATE routers SET name = CASE WHEN ? = 1 THEN ? ELSE name END,"
                   " description = CASE WHEN ? = 1 THEN ? ELSE description END,"
                   " admin_state_up = CASE WHEN ? = 1 THEN ? ELSE admin_state_up END"
                   " WHERE id = ?",
                   STORE_ARGS(P((int) has_name), P(name), P((int) has_desc), P(desc),
                              P((int) has_up), P((int) up), P(id))) < 0 ||
        touch(c, id, err) < 0 || net_changed(c, err) < 0)
        goto fail;
    if (net_commit(c, err) < 0)
        return NULL;
    return net_router_get(c, ctx, id, err);
fail:
    store_rollback(c);
    return NULL;
}

json_t *net_router_extraroutes(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                               json_t *in, bool add, struct st_err *err)
{
    struct router_row r;
    json_t *routes = json_object_get(in, "routes");
    if (!json_is_array(routes)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for routes. Reason: a list of routes is required.");
        return NULL;
    }
    if (store_begin(c, err) < 0)
        return NULL;
    if (router_load(c, ctx, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, false, "router", id, err) < 0 ||
        (add && check_routes(c, id, routes, err) < 0) ||
        routes_apply(c, id, routes, add, false, err) < 0 || touch(c, id, err) < 0 ||
        net_changed(c, err) < 0)
        goto fail;
    if (add) {
        int64_t n = 0;
        if (store_get_int(c, err, &n, "SELECT COUNT(*) FROM router_routes WHERE router_id = ?",
                          STORE_ARGS(P(id))) < 0)
            goto fail;
        if (n > MAX_ROUTES) {
            net_err(err, ST_ERR_BAD_REQUEST, "RoutesExhausted",
                    "Unable to complete operation for %s. The number of routes exceeds the "
                    "maximum %d.",
                    id, MAX_ROUTES);
            goto fail;
        }
    }
    if (net_commit(c, err) < 0)
        return NULL;
    return net_router_get(c, ctx, id, err);
fail:
    store_rollback(c);
    return NULL;
}

int net_router_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct st_err *err)
{
    struct router_row r;
    int64_t n = 0;
    if (store_begin(c, err) < 0)
        return -1;
    if (router_load(c, ctx, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, false, "router", id, err) < 0 ||
        store_get_int(c, err, &n,
                      "SELECT COUNT(*) FROM router_ports WHERE router_id = ? AND port_type ="
                      " 'network:router_interface'",
                      STORE_ARGS(P(id))) < 0)
        goto fail;
    if (n > 0) {
        net_err(err, ST_ERR_CONFLICT, "RouterInUse", "Router %s still has ports", id);
        goto fail;
    }
    if (gateway_remove(c, &r, err) < 0 ||
        store_exec(c, err, "DELETE FROM routers WHERE id = ?", STORE_ARGS(P(id))) < 0 ||
        net_tags_drop(c, id, err) < 0 || net_changed(c, err) < 0)
        goto fail;
    return net_commit(c, err);
fail:
    store_rollback(c);
    return -1;
}

/* ---- interfaces ------------------------------------------------------------ */

static json_t *interface_info(struct store_conn *c, const struct router_row *r, const char *port,
                              struct st_err *err)
{
    json_t *ips = net_port_fixed_ips(c, port, err), *ids, *e;
    struct store_stmt *s;
    char network[37] = "";
    size_t i;
    if (!ips)
        return NULL;
    s = store_query(c, err, "SELECT network_id FROM ports WHERE id = ?", STORE_ARGS(P(port)));
    if (s && store_next(s, err) > 0)
        snprintf(network, sizeof(network), "%s", store_text(s, 0));
    store_done(s);
    ids = json_array();
    json_array_foreach(ips, i, e) json_array_append(ids, json_object_get(e, "subnet_id"));
    const char *first = json_string_value(json_array_get(ids, 0));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "id", r->id, "tenant_id",
                          r->project_id, "project_id", r->project_id, "port_id", port, "subnet_id",
                          first ? first : "", "subnet_ids", ids, "network_id", network);
    json_decref(ips);
    return o;
}

/* The subnets already on the router, for the duplicate and overlap checks. */
static int check_new_subnet(struct store_conn *c, const struct router_row *r,
                            const struct net_subnet_row *sub, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT s.id, s.cidr FROM router_ports rp JOIN"
                                       " ip_allocations a ON a.port_id = rp.port_id JOIN subnets"
                                       " s ON s.id = a.subnet_id WHERE rp.router_id = ? AND"
                                       " rp.port_type = 'network:router_interface'",
                                       STORE_ARGS(P(r->id)));
    int rc;
    char cidr[IPAM_CIDR_STRLEN];
    if (!s)
        return -1;
    ipam_cidr_format(&sub->cidr, cidr);
    while ((rc = store_next(s, err)) > 0) {
        struct ipam_cidr other;
        if (!strcmp(store_text(s, 0), sub->id)) {
            net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                    "Bad router request: Router already has a port on subnet %s.", sub->id);
            rc = -1;
            break;
        }
        if (ipam_cidr_parse(store_text(s, 1), &other, NULL) == 0 &&
            ipam_cidr_overlap(&other, &sub->cidr)) {
            net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                    "Bad router request: Cidr %s of subnet %s overlaps with cidr %s of subnet "
                    "%s.",
                    cidr, sub->id, store_text(s, 1), store_text(s, 0));
            rc = -1;
            break;
        }
    }
    store_done(s);
    return rc < 0 ? -1 : 0;
}

static int interface_add(struct store_conn *c, const struct auth_ctx *ctx,
                         const struct router_row *r, const char *subnet_id, const char *port_id,
                         char port[37], struct st_err *err)
{
    struct net_subnet_row sub;
    struct net_row net;
    if (subnet_id) {
        char gw[IPAM_ADDR_STRLEN];
        if (net_subnet_load(c, subnet_id, &sub, err) < 0 ||
            net_network_load(c, sub.network_id, &net, err) < 0 ||
            net_may_read(ctx, sub.project_id, net.shared || net.external, "subnet", subnet_id,
                         err) < 0)
            return -1;
        if (!sub.has_gateway) {
            net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                    "Bad router request: Subnet for router interface must have a gateway IP.");
            return -1;
        }
        if (check_new_subnet(c, r, &sub, err) < 0)
            return -1;
        ipam_addr_format(&sub.gateway, gw);
        json_t *fixed = json_pack("[{s:s, s:s}]", "subnet_id", subnet_id, "ip_address", gw);
        json_t *none = json_array();
        struct net_port_spec spec = {
            .network_id = sub.network_id,
            .project_id = sub.project_id,
            .device_id = r->id,
            .device_owner = "network:router_interface",
            .host = r->host[0] ? r->host : NULL,
            .fixed_ips = fixed,
            .security_groups = none,
            .port_security = 0,
            .admin_state_up = true,
        };
        int rc = net_port_insert(c, ctx, &spec, port, err);
        json_decref(fixed);
        json_decref(none);
        if (rc < 0)
            return -1;
    } else {
        struct store_stmt *s = store_query(c, err,
                                           "SELECT project_id, device_id, network_id FROM ports"
                                           " WHERE id = ?",
                                           STORE_ARGS(P(port_id)));
        char owner[AUTH_ID_MAX] = "", device[256] = "", network[37] = "";
        json_t *ips, *e;
        size_t i;
        int rc;
        if (!s)
            return -1;
        rc = store_next(s, err);
        if (rc > 0) {
            snprintf(owner, sizeof(owner), "%s", store_text(s, 0));
            snprintf(device, sizeof(device), "%s", store_text(s, 1));
            snprintf(network, sizeof(network), "%s", store_text(s, 2));
        }
        store_done(s);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            net_not_found(err, "port", port_id);
            return -1;
        }
        if (net_may_write(ctx, owner, false, "port", port_id, err) < 0)
            return -1;
        if (device[0]) {
            net_err(err, ST_ERR_CONFLICT, "PortInUse",
                    "Unable to complete operation on port %s for network %s. Port already has an "
                    "attached device %s.",
                    port_id, network, device);
            return -1;
        }
        if (!(ips = net_port_fixed_ips(c, port_id, err)))
            return -1;
        if (!json_array_size(ips)) {
            json_decref(ips);
            net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                    "Bad router request: Router port must have at least one fixed IP.");
            return -1;
        }
        json_array_foreach(ips, i, e)
        {
            if (net_subnet_load(c, json_string_value(json_object_get(e, "subnet_id")), &sub, err) <
                    0 ||
                check_new_subnet(c, r, &sub, err) < 0) {
                json_decref(ips);
                return -1;
            }
        }
        json_decref(ips);
        if (store_exec(c, err,
                       "UPDATE ports SET device_id = ?, device_owner = 'network:router_interface',"
                       " host = ?, revision_number = revision_number + 1, updated_at = ? WHERE"
                       " id = ?",
                       STORE_ARGS(P(r->id), P(r->host[0] ? r->host : NULL), P(net_now()),
                                  P(port_id))) < 0 ||
            store_exec(c, err, "DELETE FROM port_security_groups WHERE port_id = ?",
                       STORE_ARGS(P(port_id))) < 0)
            return -1;
        snprintf(port, 37, "%s", port_id);
    }
    return store_exec(c, err,
                      "INSERT INTO router_ports (port_id, router_id, port_type) VALUES (?, ?,"
                      " 'network:router_interface')",
                      STORE_ARGS(P(port), P(r->id))) < 0
               ? -1
               : 0;
}

/* Refuses to take away a subnet that floating IPs or routes rely on. */
static int interface_in_use(struct store_conn *c, const struct router_row *r, const char *port,
                            struct st_err *err)
{
    json_t *ips = net_port_fixed_ips(c, port, err), *e, *routes = NULL, *rt;
    size_t i, k;
    int rc = -1;
    if (!ips)
        return -1;
    routes = routes_json(c, r->id, err);
    if (!routes)
        goto out;
    json_array_foreach(ips, i, e)
    {
        struct net_subnet_row sub;
        const char *sid = json_string_value(json_object_get(e, "subnet_id"));
        struct store_stmt *s;
        int found = 0;
        if (net_subnet_load(c, sid, &sub, err) < 0)
            goto out;
        s = store_query(c, err,
                        "SELECT fixed_ip_address FROM floatingips WHERE router_id = ? AND"
                        " fixed_ip_address IS NOT NULL",
                        STORE_ARGS(P(r->id)));
        if (!s)
            goto out;
        while (!found && store_next(s, err) > 0) {
            struct ipam_addr a;
            found = ipam_addr_parse(store_text(s, 0), &a) == 0 && ipam_cidr_contains(&sub.cidr, &a);
        }
        store_done(s);
        if (found) {
            net_err(err, ST_ERR_CONFLICT, "RouterInterfaceInUseByFloatingIP",
                    "Router interface for subnet %s on router %s cannot be deleted, as it is "
                    "required by one or more floating IPs.",
                    sid, r->id);
            goto out;
        }
        json_array_foreach(routes, k, rt)
        {
            struct ipam_addr a;
            if (ipam_addr_parse(json_string_value(json_object_get(rt, "nexthop")), &a) == 0 &&
                ipam_cidr_contains(&sub.cidr, &a)) {
                net_err(err, ST_ERR_CONFLICT, "RouterInterfaceInUseByRoute",
                        "Router interface for subnet %s on router %s cannot be deleted, as it is "
                        "required by one or more routes.",
                        sid, r->id);
                goto out;
            }
        }
    }
    rc = 0;
out:
    json_decref(ips);
    json_decref(routes);
    return rc;
}

static int interface_find(struct store_conn *c, const struct router_row *r, const char *subnet_id,
                          const char *port_id, char port[37], struct st_err *err)
{
    struct store_stmt *s;
    int rc;
    if (port_id && subnet_id) {
        s = store_query(c, err,
                        "SELECT rp.port_id FROM router_ports rp JOIN ip_allocations a ON"
                        " a.port_id = rp.port_id WHERE rp.router_id = ? AND rp.port_id = ? AND"
                        " a.subnet_id = ? AND rp.port_type = 'network:router_interface'",
                        STORE_ARGS(P(r->id), P(port_id), P(subnet_id)));
    } else if (port_id) {
        s = store_query(c, err,
                        "SELECT rp.port_id FROM router_ports rp WHERE rp.router_id = ? AND"
                        " rp.port_id = ? AND rp.port_type = 'network:router_interface'",
                        STORE_ARGS(P(r->id), P(port_id)));
    } else {
        s = store_query(c, err,
                        "SELECT rp.port_id FROM router_ports rp JOIN ip_allocations a ON"
                        " a.port_id = rp.port_id WHERE rp.router_id = ? AND a.subnet_id = ? AND"
                        " rp.port_type = 'network:router_interface'",
                        STORE_ARGS(P(r->id), P(subnet_id)));
    }
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        snprintf(port, 37, "%s", store_text(s, 0));
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (port_id)
            net_err(err, ST_ERR_NOT_FOUND, "RouterInterfaceNotFound",
                    "Router %s does not have an interface with id %s", r->id, port_id);
        else
            net_err(err, ST_ERR_NOT_FOUND, "RouterInterfaceNotFoundForSubnet",
                    "Router %s has no interface on subnet %s", r->id, subnet_id);
        return -1;
    }
    return 0;
}

json_t *net_router_interface(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                             json_t *in, bool add, struct st_err *err)
{
    static const char *const keys[] = {"subnet_id", "port_id"};
    const char *subnet_id = NULL, *port_id = NULL;
    struct router_row r;
    char port[37];
    json_t *info = NULL;

    if (net_check_keys(in, keys, ST_ARRAY_SIZE(keys), err) < 0 ||
        net_get_str(in, "subnet_id", 36, true, &subnet_id, NULL, err) < 0 ||
        net_get_str(in, "port_id", 36, true, &port_id, NULL, err) < 0)
        return NULL;
    if (!subnet_id && !port_id) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad router request: Either subnet_id or port_id must be specified.");
        return NULL;
    }
    if (add && subnet_id && port_id) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad router request: Cannot specify both subnet-id and port-id.");
        return NULL;
    }
    if (store_begin(c, err) < 0)
        return NULL;
    if (router_load(c, ctx, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, false, "router", id, err) < 0)
        goto fail;
    if (add) {
        if (interface_add(c, ctx, &r, subnet_id, port_id, port, err) < 0 ||
            !(info = interface_info(c, &r, port, err)))
            goto fail;
    } else {
        if (interface_find(c, &r, subnet_id, port_id, port, err) < 0 ||
            interface_in_use(c, &r, port, err) < 0 || !(info = interface_info(c, &r, port, err)) ||
            net_port_remove(c, port, err) < 0)
            goto fail;
    }
    if (touch(c, id, err) < 0 || net_changed(c, err) < 0)
        goto fail;
    if (net_commit(c, err) < 0) {
        json_decref(info);
        return NULL;
    }
    return info;
fail:
    json_decref(info);
    store_rollback(c);
    return NULL;
}

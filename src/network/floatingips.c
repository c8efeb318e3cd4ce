/*
 * floatingips.c - floating IPs: an address on an external network, held by
 * a network:floatingip port (UNIQUE per external network through the
 * address allocation and the floatingips key), associated with a fixed
 * IPv4 address of a port reachable through a router whose gateway is on
 * that external network.
 */
#include "network/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define FIP_COLS                                                                                   \
    "id, project_id, description, floating_network_id, floating_port_id,"                          \
    " floating_ip_address, port_id, fixed_ip_address, router_id, status, revision_number,"         \
    " created_at, updated_at"

static json_t *port_details(struct store_conn *c, const char *port, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT name, network_id, mac_address, admin_state_up,"
                                       " status, device_id, device_owner FROM ports WHERE id = ?",
                                       STORE_ARGS(P(port)));
    json_t *o = NULL;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "name", store_text(s, 0), "network_id",
                      store_text(s, 1), "mac_address", store_text(s, 2), "admin_state_up",
                      (int) store_int(s, 3), "status", store_text(s, 4), "device_id",
                      store_text(s, 5), "device_owner", store_text(s, 6));
    store_done(s);
    if (rc == 0)
        return json_null();
    return o;
}

static json_t *fip_json(struct store_conn *c, struct store_stmt *s, struct st_err *err)
{
    json_t *o = json_object(), *details = json_null();
    if (net_std_attrs(c, o, store_text(s, 0), store_text(s, 1), store_text(s, 2), store_int(s, 10),
                      store_int(s, 11), store_int(s, 12), err) < 0)
        goto fail;
    if (store_text(s, 6)) {
        json_decref(details);
        if (!(details = port_details(c, store_text(s, 6), err)))
            goto fail;
    }
    json_object_set_new(o, "floating_network_id", json_string(store_text(s, 3)));
    json_object_set_new(o, "floating_ip_address", json_string(store_text(s, 5)));
    json_object_set_new(o, "port_id", net_text(s, 6));
    json_object_set_new(o, "fixed_ip_address", net_text(s, 7));
    json_object_set_new(o, "router_id", net_text(s, 8));
    json_object_set_new(o, "status", json_string(store_text(s, 9)));
    json_object_set_new(o, "port_details", details);
    return o;
fail:
    json_decref(details);
    json_decref(o);
    return NULL;
}

struct fip_row {
    char id[37], project_id[AUTH_ID_MAX], network_id[37], port[37], address[IPAM_ADDR_STRLEN];
};

static int fip_load(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    struct fip_row *r, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, project_id, floating_network_id,"
                                       " floating_port_id, floating_ip_address FROM floatingips"
                                       " WHERE id = ?",
                                       STORE_ARGS(P(id)));
    int rc;
    if (!s)
        return -1;
    memset(r, 0, sizeof(*r));
    rc = store_next(s, err);
    if (rc > 0) {
        snprintf(r->id, sizeof(r->id), "%s", store_text(s, 0));
        snprintf(r->project_id, sizeof(r->project_id), "%s", store_text(s, 1));
        snprintf(r->network_id, sizeof(r->network_id), "%s", store_text(s, 2));
        snprintf(r->port, sizeof(r->port), "%s", store_text(s, 3));
        snprintf(r->address, sizeof(r->address), "%s", store_text(s, 4));
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        net_not_found(err, "floatingip", id);
        return -1;
    }
    return net_may_read(ctx, r->project_id, false, "floatingip", id, err);
}

json_t *net_fip_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    struct st_err *err)
{
    struct fip_row r;
    struct store_stmt *s;
    json_t *o = NULL;
    if (fip_load(c, ctx, id, &r, err) < 0)
        return NULL;
    s = store_query(c, err, "SELECT " FIP_COLS " FROM floatingips WHERE id = ?", STORE_ARGS(P(id)));
    if (!s)
        return NULL;
    if (store_next(s, err) > 0)
        o = fip_json(c, s, err);
    else
        net_not_found(err, "floatingip", id);
    store_done(s);
    return o;
}

static json_t *fip_row(struct store_conn *c, struct store_stmt *s, void *arg,
                       struct st_err *err)
{
    (void) arg;
    return fip_json(c, s, err);
}

json_t *net_fip_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    const char *scope = policy_scope(ctx);
    return store_collect(c, err, fip_row, NULL,
                         "SELECT " FIP_COLS " FROM floatingips WHERE (CAST(? AS TEXT) IS NULL OR"
                         " project_id = ?) ORDER BY created_at, id",
                         STORE_ARGS(P(scope), P(scope)));
}

/* Associates floating IP 'r' with 'port_id' (and 'fixed' among its
 * addresses, or its only IPv4 one); 'port_id' NULL disassociates. */
static int associate(struct store_conn *c, const struct auth_ctx *ctx, const struct fip_row *r,
                     const char *port_id, const char *fixed, struct st_err *err)
{
    struct store_stmt *s;
    char owner[AUTH_ID_MAX] = "", dev_owner[256] = "", ip[IPAM_ADDR_STRLEN] = "", subnet[37] = "";
    char router[37] = "";
    json_t *ips = NULL, *e;
    size_t i, nv4 = 0;
    int rc;

    if (!port_id)
        return store_exec(c, err,
                          "UPDATE floatingips SET port_id = NULL, fixed_ip_address = NULL,"
                          " router_id = NULL, status = 'DOWN' WHERE id = ?",
                          STORE_ARGS(P(r->id))) < 0
                   ? -1
                   : 0;
    s = store_query(c, err, "SELECT project_id, device_owner FROM ports WHERE id = ?",
                    STORE_ARGS(P(port_id)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        snprintf(owner, sizeof(owner), "%s", store_text(s, 0));
        snprintf(dev_owner, sizeof(dev_owner), "%s", store_text(s, 1));
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0 || net_may_read(ctx, owner, false, "port", port_id, err) < 0) {
        if (rc == 0)
            net_not_found(err, "port", port_id);
        return -1;
    }
    if (strcmp(owner, r->project_id)) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad floatingip request: Cannot create floating IP and bind it to Port %s, since "
                "that port is owned by a different tenant.",
                port_id);
        return -1;
    }
    if (!strncmp(dev_owner, "network:", 8)) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad floatingip request: Port %s has owner %s and cannot have a floating IP.",
                port_id, dev_owner);
        return -1;
    }
    if (!(ips = net_port_fixed_ips(c, port_id, err)))
        return -1;
    json_array_foreach(ips, i, e)
    {
        const char *a = json_string_value(json_object_get(e, "ip_address"));
        struct ipam_addr pa, fa;
        if (ipam_addr_parse(a, &pa) < 0 || pa.version != 4)
            continue;
        if (fixed && (ipam_addr_parse(fixed, &fa) < 0 || ipam_addr_cmp(&pa, &fa)))
            continue;
        nv4++;
        snprintf(ip, sizeof(ip), "%s", a);
        snprintf(subnet, sizeof(subnet), "%s", json_string_value(json_object_get(e, "subnet_id")));
    }
    json_decref(ips);
    if (fixed && !nv4) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad floatingip request: Port %s does not have fixed ip %s.", port_id, fixed);
        return -1;
    }
    if (!nv4) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad floatingip request: Cannot add floating IP to port %s that has no fixed "
                "IPv4 addresses.",
                port_id);
        return -1;
    }
    if (nv4 > 1) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad floatingip request: Port %s has multiple fixed IPv4 addresses. Must provide "
                "a specific IPv4 address when assigning a floating IP.",
                port_id);
        return -1;
    }
    s = store_query(c, err,
                    "SELECT r.id FROM routers r JOIN router_ports rp ON rp.router_id = r.id JOIN"
                    " ip_allocations a ON a.port_id = rp.port_id WHERE r.gw_network_id = ? AND"
                    " rp.port_type = 'network:router_interface' AND a.subnet_id = ?"
                    " ORDER BY r.created_at, r.id",
                    STORE_ARGS(P(r->network_id), P(subnet)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        snprintf(router, sizeof(router), "%s", store_text(s, 0));
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        net_err(err, ST_ERR_NOT_FOUND, "ExternalGatewayForFloatingIPNotFound",
                "External network %s is not reachable from subnet %s.  Therefore, cannot "
                "associate Port %s with a Floating IP.",
                r->network_id, subnet, port_id);
        return -1;
    }
    {
        char other[37] = "";
        s = store_query(c, err,
                        "SELECT id FROM floatingips WHERE floating_network_id = ? AND port_id = ?"
                        " AND fixed_ip_address = ? AND id <> ?",
                        STORE_ARGS(P(r->network_id), P(port_id), P(ip), P(r->id)));
        if (!s)
            return -1;
        rc = store_next(s, err);
        if (rc > 0)
            snprintf(other, sizeof(other), "%s", store_text(s, 0));
        store_done(s);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            net_err(err, ST_ERR_CONFLICT, "FloatingIPPortAlreadyAssociated",
                    "Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as "
                    "that fixed IP already has a floating IP on external network %s.",
                    r->address, r->id, port_id, ip, r->network_id);
            return -1;
        }
    }
    return store_exec(c, err,
                      "UPDATE floatingips SET port_id = ?, fixed_ip_address = ?, router_id = ?,"
                      " status = 'ACTIVE' WHERE id = ?",
                      STORE_ARGS(P(port_id), P(ip), P(router), P(r->id))) < 0
               ? -1
               : 0;
}

static const char *const create_keys[] = {
    "floating_network_id", "floating_ip_address", "subnet_id", "port_id", "fixed_ip_address",
    "description",         "project_id",          "tenant_id", "tags",
};

json_t *net_fip_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                       struct st_err *err)
{
    char project[AUTH_ID_MAX], port[37];
    const char *network_id = NULL, *address = NULL, *subnet_id = NULL, *port_id = NULL,
               *fixed = NULL, *desc = "";
    bool has_addr;
    json_t *tags = json_object_get(in, "tags"), *want = NULL, *none = NULL, *ips = NULL;
    struct net_row net;
    struct net_subnet_row *subs = NULL;
    size_t nsubs = 0, nv4 = 0;
    struct fip_row r;
    int64_t now = net_now();

    memset(&r, 0, sizeof(r));
    if (net_check_keys(in, create_keys, ST_ARRAY_SIZE(create_keys), err) < 0 ||
        net_owner(ctx, in, project, err) < 0 ||
        net_get_str(in, "floating_network_id", 36, false, &network_id, NULL, err) < 0 ||
        net_get_str(in, "floating_ip_address", IPAM_ADDR_STRLEN, true, &address, &has_addr, err) <
            0 ||
        net_get_str(in, "subnet_id", 36, true, &subnet_id, NULL, err) < 0 ||
        net_get_str(in, "port_id", 36, true, &port_id, NULL, err) < 0 ||
        net_get_str(in, "fixed_ip_address", IPAM_ADDR_STRLEN, true, &fixed, NULL, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, NULL, err) < 0 ||
        (tags && net_tags_check(tags, err) < 0))
        return NULL;
    if (!network_id) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Failed to parse request. Required attribute 'floating_network_id' not "
                "specified");
        return NULL;
    }
    if (address && !ctx->is_admin) {
        net_forbidden_attr(err, "create_floatingip", "floating_ip_address");
        return NULL;
    }
    st_uuid(r.id);
    snprintf(r.project_id, sizeof(r.project_id), "%s", project);
    snprintf(r.network_id, sizeof(r.network_id), "%s", network_id);
    if (store_begin(c, err) < 0)
        return NULL;
    if (net_network_load(c, network_id, &net, err) < 0 ||
        net_may_read(ctx, net.project_id, net.shared || net.external, "network", network_id, err) <
            0)
        goto fail;
    if (!net.external) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad floatingip request: Network %s is not a valid external network.", network_id);
        goto fail;
    }
    if (net_subnets_of(c, network_id, &subs, &nsubs, err) < 0)
        goto fail;
    for (size_t i = 0; i < nsubs; i++)
        nv4 += subs[i].cidr.net.version == 4;
    if (!nv4) {
        net_err(err, ST_ERR_BAD_REQUEST, "BadRequest",
                "Bad floatingip request: Network %s does not contain any IPv4 subnet.", network_id);
        goto fail;
    }
    if (net_quota_check(c, project, NET_Q_FLOATINGIP, 1, err) < 0)
        goto fail;
    if (address || subnet_id) {
        want = json_array();
        json_t *e = json_object();
        if (address)
            json_object_set_new(e, "ip_address", json_string(address));
        if (subnet_id)
            json_object_set_new(e, "subnet_id", json_string(subnet_id));
        json_array_append_new(want, e);
    }
    none = json_array();
    struct net_port_spec spec = {
        .network_id = network_id,
        .project_id = "",
        .device_id = r.id,
        .device_owner = "network:floatingip",
        .fixed_ips = want,
        .v4_only = true,
        .security_groups = none,
        .port_security = 0,
        .admin_state_up = true,
    };
    if (net_port_insert(c, ctx, &spec, port, err) < 0 || !(ips = net_port_fixed_ips(c, port, err)))
        goto fail;
    if (!json_array_size(ips)) {
        net_err(err, ST_ERR_CONFLICT, "IpAddressGenerationFailure",
                "No more IP addresses available on network %s.", network_id);
        goto fail;
    }
    snprintf(r.address, sizeof(r.address), "%s",
             json_string_value(json_object_get(json_array_get(ips, 0), "ip_address")));
    snprintf(r.port, sizeof(r.port), "%s", port);
    if (store_exec(c, err,
                   "INSERT INTO floatingips (id, project_id, description, floating_network_id,"
                   " floating_port_id, floating_ip_address, created_at, updated_at) VALUES (?,"
                   " ?, ?, ?, ?, ?, ?, ?)",
                   STORE_ARGS(P(r.id), P(project), P(desc), P(network_id), P(port), P(r.address),
                              P(now), P(now))) < 0 ||
        (port_id && associate(c, ctx, &r, port_id, fixed, err) < 0) ||
        (tags && net_tags_replace(c, r.id, tags, err) < 0) || net_changed(c, err) < 0)
        goto fail;
    json_decref(want);
    json_decref(none);
    json_decref(ips);
    free(subs);
    if (net_commit(c, err) < 0)
        return NULL;
    return net_fip_get(c, ctx, r.id, err);
fail:
    json_decref(want);
    json_decref(none);
    json_decref(ips);
    free(subs);
    store_rollback(c);
    return NULL;
}

json_t *net_fip_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id, json_t *in,
                       struct st_err *err)
{
    static const char *const keys[] = {"port_id", "fixed_ip_address", "description"};
    const char *port_id = NULL, *fixed = NULL, *desc = NULL;
    bool has_port = false, has_desc = false;
    struct fip_row r;

    if (net_check_keys(in, keys, ST_ARRAY_SIZE(keys), err) < 0 ||
        net_get_str(in, "port_id", 36, true, &port_id, &has_port, err) < 0 ||
        net_get_str(in, "fixed_ip_address", IPAM_ADDR_STRLEN, true, &fixed, NULL, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, &has_desc, err) < 0)
        return NULL;
    if (store_begin(c, err) < 0)
        return NULL;
    if (fip_load(c, ctx, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, false, "floatingip", id, err) < 0 ||
        (has_port && associate(c, ctx, &r, port_id, fixed, err) < 0) ||
        store_exec(c, err,
                   "UPDATE floatingips SET description = CASE WHEN ? = 1 THEN ? ELSE description"
                   " END, revision_number = revision_number + 1, updated_at = ? WHERE id = ?",
                   STORE_ARGS(P((int) has_desc), P(desc), P(net_now()), P(id))) < 0 ||
        net_changed(c, err) < 0)
        goto fail;
    if (net_commit(c, err) < 0)
        return NULL;
    return net_fip_get(c, ctx, id, err);
fail:
    store_rollback(c);
    return NULL;
}

int net_fip_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                   struct st_err *err)
{
    struct fip_row r;
    if (store_begin(c, err) < 0)
        return -1;
    if (fip_load(c, ctx, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, false, "floatingip", id, err) < 0 ||
        store_exec(c, err, "DELETE FROM floatingips WHERE id = ?", STORE_ARGS(P(id))) < 0 ||
        net_port_remove(c, r.port, err) < 0 || net_tags_drop(c, id, err) < 0 ||
        net_changed(c, err) < 0)
        goto fail;
    return net_commit(c, err);
fail:
    store_rollback(c);
    return -1;
}

int net_fip_find(struct store_conn *c, const struct auth_ctx *ctx, const char *address, char id[37],
                 char port[37], struct st_err *err)
{
    struct store_stmt *s;
    int rc;
    if (ctx->is_admin)
        s = store_query(c, err,
                        "SELECT id, port_id FROM floatingips WHERE floating_ip_address = ?"
                        " ORDER BY created_at, id",
                        STORE_ARGS(P(address)));
    else
        s = store_query(c, err,
                        "SELECT id, port_id FROM floatingips WHERE floating_ip_address = ? AND"
                        " project_id = ? ORDER BY created_at, id",
                        STORE_ARGS(P(address), P(ctx->project_id)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        snprintf(id, 37, "%s", store_text(s, 0));
        snprintf(port, 37, "%s", store_text(s, 1) ? store_text(s, 1) : "");
    }
    store_done(s);
    if (rc == 0)
        net_err(err, ST_ERR_NOT_FOUND, "FloatingIPNotFound",
                "Floating IP not found for address %s.", address);
    return rc > 0 ? 0 : -1;
}

int net_fip_associate(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      const char *port_id, const char *fixed, struct st_err *err)
{
    struct fip_row r;
    if (fip_load(c, ctx, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, false, "floatingip", id, err) < 0 ||
        associate(c, ctx, &r, port_id, fixed, err) < 0)
        return -1;
    return store_exec(c, err,
                      "UPDATE floatingips SET revision_number = revision_number + 1,"
                      " updated_at = ? WHERE id = ?",
                      STORE_ARGS(P(net_now()), P(id))) < 0
               ? -1
               : 0;
}

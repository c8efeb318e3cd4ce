/*
 * servers.c - what the compute service asks of networking (network.h): as
 * its port provider (net_compute_ports, compute/ports.h), the ports of a
 * server (made for it, or given and bound to it), its NICs as the agent
 * protocol describes them, and the release of everything when it goes; for
 * the compute API, a server's addresses and groups as Nova shows them,
 * interface attach and detach, floating IPs and security groups through
 * server actions.
 *
 * Errors follow Nova's mapping of Neutron's, since these calls answer Nova
 * requests: a network, port or group that cannot be found is 400 at server
 * creation; a port in use, or an ambiguous "auto", 409; port quota 403.
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

static void as_bad_request(struct st_err *err)
{
    if (err && (err->kind == ST_ERR_NOT_FOUND || err->kind == ST_ERR_FORBIDDEN))
        err->kind = ST_ERR_BAD_REQUEST;
}

/* "auto": the project's only network, else the only shared one (external
 * networks are not for servers).  Sets 'out' to "" when there is none. */
static int auto_network(struct store_conn *c, const struct auth_ctx *ctx, char out[37],
                        struct st_err *err)
{
    static const char *const sql[] = {
        "SELECT id FROM networks WHERE project_id = ? AND external = 0 ORDER BY created_at, id",
        "SELECT id FROM networks WHERE shared = 1 AND external = 0 AND project_id <> ? ORDER BY"
        " created_at, id",
    };
    out[0] = '\0';
    for (size_t i = 0; i < ST_ARRAY_SIZE(sql); i++) {
        struct store_stmt *s = store_query(c, err, sql[i], STORE_ARGS(P(ctx->project_id)));
        int rc, n = 0;
        if (!s)
            return -1;
        while ((rc = store_next(s, err)) > 0) {
            if (n++ == 0)
                snprintf(out, 37, "%s", store_text(s, 0));
        }
        store_done(s);
        if (rc < 0)
            return -1;
        if (n > 1) {
            net_err(err, ST_ERR_CONFLICT, "NetworkAmbiguous",
                    "Multiple possible networks found, use a Network ID to be more specific.");
            return -1;
        }
        if (n == 1)
            return 0;
    }
    return 0;
}

static int64_t next_index(struct store_conn *c, const char *server_id, struct st_err *err)
{
    int64_t n = 0;
    if (store_get_int(c, err, &n,
                      "SELECT COALESCE(MAX(device_index), -1) + 1 FROM ports WHERE device_id = ?",
                      STORE_ARGS(P(server_id))) < 0)
        return -1;
    return n;
}

static int server_az(struct store_conn *c, const char *server_id, char *out, size_t n,
                     struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, "SELECT availability_zone FROM servers WHERE id = ?",
                                       STORE_ARGS(P(server_id)));
    int rc;
    snprintf(out, n, "nova");
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0 && store_text(s, 0) && *store_text(s, 0))
        snprintf(out, n, "%s", store_text(s, 0));
    store_done(s);
    return rc < 0 ? -1 : 0;
}

/* Binds an existing port to the server. */
static int bind_port(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                     const char *host, const char *owner, const char *port_id, int64_t index,
                     struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT project_id, device_id, network_id FROM ports"
                                       " WHERE id = ?",
                                       STORE_ARGS(P(port_id)));
    char project[AUTH_ID_MAX] = "", device[256] = "", network[37] = "";
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        snprintf(project, sizeof(project), "%s", store_text(s, 0));
        snprintf(device, sizeof(device), "%s", store_text(s, 1));
        snprintf(network, sizeof(network), "%s", store_text(s, 2));
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0 || net_may_write(ctx, project, false, "port", port_id, err) < 0) {
        st_err_clear(err);
        net_err(err, ST_ERR_BAD_REQUEST, "PortNotFound", "Port %s could not be found.", port_id);
        return -1;
    }
    if (device[0]) {
        net_err(err, ST_ERR_CONFLICT, "PortInUse", "Port %s is still in use.", port_id);
        return -1;
    }
    return store_exec(c, err,
                      "UPDATE ports SET device_id = ?, device_owner = ?, host = ?,"
                      " server_owned = 0, device_index = ?, revision_number = revision_number"
                      " + 1, updated_at = ? WHERE id = ?",
                      STORE_ARGS(P(server_id), P(owner), P(host && *host ? host : NULL), P(index),
                                 P(net_now()), P(port_id))) < 0
               ? -1
               : 0;
}

/* Makes a port for the server on 'network_id'. */
static int make_port(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                     const char *host, const char *owner, const char *network_id,
                     const char *fixed_ip, json_t *groups, int64_t index, char port[37],
                     struct st_err *err)
{
    struct net_row net;
    struct net_subnet_row *subs = NULL;
    size_t nsubs = 0;
    json_t *fixed = NULL;
    int rc;

    if (net_network_load(c, network_id, &net, err) < 0 ||
        net_may_read(ctx, net.project_id, net.shared || net.external, "network", network_id, err) <
            0) {
        as_bad_request(err);
        return -1;
    }
    if (!ctx->is_admin && !net.shared && strcmp(net.project_id, ctx->project_id)) {
        net_err(err, ST_ERR_BAD_REQUEST, "NetworkNotFound", "Network %s could not be found.",
                network_id);
        return -1;
    }
    if (net_subnets_of(c, network_id, &subs, &nsubs, err) < 0)
        return -1;
    free(subs);
    if (!nsubs) {
        net_err(err, ST_ERR_BAD_REQUEST, "NetworkRequiresSubnet",
                "Network %s requires a subnet in order to boot instances on.", network_id);
        return -1;
    }
    if (groups && json_array_size(groups) && !net.port_security) {
        net_err(err, ST_ERR_BAD_REQUEST, "SecurityGroupCannotBeApplied",
                "Network requires port_security_enabled and subnet associated in order to apply "
                "security groups.");
        return -1;
    }
    if (net_quota_check(c, ctx->project_id, NET_Q_PORT, 1, err) < 0) {
        st_err_clear(err);
        net_err(err, ST_ERR_OVER_QUOTA, "OverQuota", "Maximum number of ports exceeded");
        return -1;
    }
    if (fixed_ip)
        fixed = json_pack("[{s:s}]", "ip_address", fixed_ip);
    struct net_port_spec spec = {
        .network_id = network_id,
        .project_id = ctx->project_id,
        .device_id = server_id,
        .device_owner = owner,
        .host = host,
        .fixed_ips = fixed,
        .security_groups = groups,
        .port_security = -1,
        .admin_state_up = true,
        .server_owned = true,
        .device_index = index,
    };
    rc = net_port_insert(c, ctx, &spec, port, err);
    json_decref(fixed);
    if (rc < 0 && err &&
        (st_streq(err->type, "InvalidIpForSubnet") || st_streq(err->type, "InvalidIpForNetwork")))
        err->kind = ST_ERR_BAD_REQUEST;
    return rc;
}

/* The group ids of a Nova "security_groups" list ([{"name": ...}]), or
 * NULL for the default. */
static int resolve_groups(struct store_conn *c, const struct auth_ctx *ctx, json_t *groups,
                          json_t **out, struct st_err *err)
{
    size_t i;
    json_t *g;
    *out = NULL;
    if (!groups || json_is_null(groups))
        return 0;
    if (!json_is_array(groups)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'security_groups'");
        return -1;
    }
    *out = json_array();
    json_array_foreach(groups, i, g)
    {
        const char *name = json_is_string(g) ? json_string_value(g)
                                             : json_string_value(json_object_get(g, "name"));
        char id[37];
        if (!name) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'security_groups'");
            goto fail;
        }
        if (net_sg_resolve(c, ctx, ctx->project_id, name, id, err) < 0) {
            if (err && err->kind == ST_ERR_NOT_FOUND) {
                st_err_clear(err);
                st_err_set(err, ST_ERR_BAD_REQUEST, "Security group %s not found for project %s.",
                           name, ctx->project_id);
            }
            goto fail;
        }
        json_array_append_new(*out, json_string(id));
    }
    return 0;
fail:
    json_decref(*out);
    *out = NULL;
    return -1;
}

int net_server_ports_create(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                            const char *host, const char *az,
                            const struct compute_nic_request *nics,
                            size_t nnics, json_t *security_groups, struct st_err *err)
{
    char owner[300], port[37], picked[37];
    json_t *groups = NULL;
    int rc = -1;

    if (!nnics)
        return 0;
    snprintf(owner, sizeof(owner), "compute:%s", az && *az ? az : "nova");
    if (resolve_groups(c, ctx, security_groups, &groups, err) < 0)
        return -1;
    for (size_t i = 0; i < nnics; i++) {
        const struct compute_nic_request *n = &nics[i];
        const char *network = n->network_id;
        if (n->port_id) {
            if (bind_port(c, ctx, server_id, host, owner, n->port_id, (int64_t) i, err) < 0)
                goto out;
            continue;
        }
        if (network && !strcmp(network, "auto")) {
            if (auto_network(c, ctx, picked, err) < 0)
                goto out;
            if (!picked[0])
                continue; /* nothing to plug into: no NIC, as Nova without a network */
            network = picked;
        }
        if (!network) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "A network or a port is required for each NIC");
            goto out;
        }
        if (make_port(c, ctx, server_id, host, owner, network, n->fixed_ip, groups, (int64_t) i,
                      port, err) < 0)
            goto out;
    }
    rc = net_changed(c, err);
out:
    json_decref(groups);
    return rc;
}

/* ---- views --------------------------------------------------------------- */

/* Subnet details for the NIC list, by subnet id. */
static json_t *subnet_doc(struct store_conn *c, const char *subnet_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT cidr, gateway_ip, dns_nameservers, host_routes,"
                                       " enable_dhcp, ip_version FROM subnets WHERE id = ?",
                                       STORE_ARGS(P(subnet_id)));
    json_t *o = NULL;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0) {
        struct ipam_cidr cc;
        o = json_object();
        json_object_set_new(o, "cidr", json_string(store_text(s, 0)));
        json_object_set_new(
            o, "prefixlen",
            json_integer(ipam_cidr_parse(store_text(s, 0), &cc, NULL) == 0 ? cc.prefixlen : 0));
        json_object_set_new(o, "gateway", net_text(s, 1));
        json_object_set_new(o, "dns_nameservers", net_json_col(s, 2, json_array()));
        json_object_set_new(o, "host_routes", net_json_col(s, 3, json_array()));
        json_object_set_new(o, "enable_dhcp", json_boolean(store_int(s, 4)));
        json_object_set_new(o, "ip_version", json_integer(store_int(s, 5)));
    } else if (rc == 0) {
        o = json_object();
    }
    store_done(s);
    return o;
}

json_t *net_server_nics(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT p.id, p.mac_address, p.network_id, n.mtu FROM"
                                       " ports p JOIN networks n ON n.id = p.network_id WHERE"
                                       " p.device_id = ? AND p.device_owner LIKE 'compute:%'"
                                       " ORDER BY p.device_index, p.created_at, p.id",
                                       STORE_ARGS(P(server_id)));
    json_t *arr = json_array();
    int rc;
    if (!s) {
        json_decref(arr);
        return NULL;
    }
    while ((rc = store_next(s, err)) > 0) {
        const char *id = store_text(s, 0), *net = store_text(s, 2);
        char bridge[16], tap[16];
        json_t *ips = net_port_fixed_ips(c, id, err), *e, *fixed = json_array();
        size_t i;
        if (!ips) {
            json_decref(fixed);
            rc = -1;
            break;
        }
        json_array_foreach(ips, i, e)
        {
            json_t *sub = subnet_doc(c, json_string_value(json_object_get(e, "subnet_id")), err);
            if (!sub) {
                rc = -1;
                break;
            }
            static const char *const keys[] = {"prefixlen",       "gateway",     "cidr",
                                               "dns_nameservers", "host_routes", "enable_dhcp"};
            json_t *f = json_object();
            json_object_set(f, "ip_address", json_object_get(e, "ip_address"));
            for (size_t k = 0; k < ST_ARRAY_SIZE(keys); k++) {
                json_t *v = json_object_get(sub, keys[k]);
                json_object_set_new(f, keys[k], v ? json_incref(v) : json_null());
            }
            json_object_set(f, "subnet_id", json_object_get(e, "subnet_id"));
            json_decref(sub);
            if (f)
                json_array_append_new(fixed, f);
        }
        json_decref(ips);
        if (rc < 0) {
            json_decref(fixed);
            break;
        }
        snprintf(bridge, sizeof(bridge), "brq%.11s", net);
        snprintf(tap, sizeof(tap), "tap%.11s", id);
        json_array_append_new(arr,
                              json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:o}", "port_id", id,
                                        "mac_address", store_text(s, 1), "network_id", net, "mtu",
                                        (json_int_t) store_int(s, 3), "vif_model", "virtio",
                                        "bridge", bridge, "tap", tap, "fixed_ips", fixed));
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *net_server_addresses(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT p.id, p.mac_address, n.name, n.id FROM ports p"
                                       " JOIN networks n ON n.id = p.network_id WHERE"
                                       " p.device_id = ? AND p.device_owner LIKE 'compute:%'"
                                       " ORDER BY p.device_index, p.created_at, p.id",
                                       STORE_ARGS(P(server_id)));
    json_t *out = json_object();
    int rc;
    if (!s) {
        json_decref(out);
        return NULL;
    }
    while ((rc = store_next(s, err)) > 0) {
        const char *port = store_text(s, 0), *mac = store_text(s, 1);
        const char *label =
            store_text(s, 2) && *store_text(s, 2) ? store_text(s, 2) : store_text(s, 3);
        json_t *list = json_object_get(out, label), *ips, *e;
        struct store_stmt *q;
        size_t i;
        if (!list) {
            list = json_array();
            json_object_set_new(out, label, list);
        }
        if (!(ips = net_port_fixed_ips(c, port, err))) {
            rc = -1;
            break;
        }
        json_array_foreach(ips, i, e)
        {
            struct ipam_addr a;
            const char *ip = json_string_value(json_object_get(e, "ip_address"));
            int version = ipam_addr_parse(ip, &a) == 0 ? a.version : 4;
            json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:s}", "version", version,
                                                  "addr", ip, "OS-EXT-IPS:type", "fixed",
                                                  "OS-EXT-IPS-MAC:mac_addr", mac));
        }
        json_decref(ips);
        q = store_query(c, err,
                        "SELECT floating_ip_address FROM floatingips WHERE port_id = ? ORDER BY"
                        " created_at, id",
                        STORE_ARGS(P(port)));
        if (!q) {
            rc = -1;
            break;
        }
        while ((rc = store_next(q, err)) > 0)
            json_array_append_new(list, json_pack("{s:i, s:s, s:s, s:s}", "version", 4, "addr",
                                                  store_text(q, 0), "OS-EXT-IPS:type", "floating",
                                                  "OS-EXT-IPS-MAC:mac_addr", mac));
        store_done(q);
        if (rc < 0)
            break;
    }
    store_done(s);
    if (rc < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *net_server_security_groups(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT DISTINCT g.name FROM ports p JOIN"
                                       " port_security_groups pg ON pg.port_id = p.id JOIN"
                                       " security_groups g ON g.id = pg.security_group_id WHERE"
                                       " p.device_id = ? AND p.device_owner LIKE 'compute:%'"
                                       " ORDER BY g.name",
                                       STORE_ARGS(P(server_id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, json_pack("{s:s}", "name", store_text(s, 0)));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *net_server_interfaces(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, network_id, mac_address, status,"
                                       " admin_state_up FROM ports WHERE device_id = ? AND"
                                       " device_owner LIKE 'compute:%' ORDER BY device_index,"
                                       " created_at, id",
                                       STORE_ARGS(P(server_id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *ips = net_port_fixed_ips(c, store_text(s, 0), err);
        if (!ips) {
            rc = -1;
            break;
        }
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:o}", "port_id", store_text(s, 0), "net_id",
                           store_text(s, 1), "mac_addr", store_text(s, 2), "port_state",
                           store_int(s, 4) ? store_text(s, 3) : "DOWN", "fixed_ips", ips));
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- release, attach, detach -------------------------------------------- */

/* Deletes a port the server made, or unbinds one it was given. */
static int release_port(struct store_conn *c, const char *port, bool made, struct st_err *err)
{
    if (made)
        return net_port_remove(c, port, err);
    if (net_fip_port_gone(c, port, true, err) < 0)
        return -1;
    return store_exec(c, err,
                      "UPDATE ports SET device_id = '', device_owner = '', host = NULL, status ="
                      " 'DOWN', device_index = 0, revision_number = revision_number + 1,"
                      " updated_at = ? WHERE id = ?",
                      STORE_ARGS(P(net_now()), P(port))) < 0
               ? -1
               : 0;
}

int net_server_ports_release(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, server_owned FROM ports WHERE device_id = ?"
                                       " AND device_owner LIKE 'compute:%'",
                                       STORE_ARGS(P(server_id)));
    json_t *ports = json_object(), *v;
    const char *k;
    int rc;
    if (!s) {
        json_decref(ports);
        return -1;
    }
    while ((rc = store_next(s, err)) > 0)
        json_object_set_new(ports, store_text(s, 0), json_boolean(store_int(s, 1)));
    store_done(s);
    if (rc < 0)
        goto fail;
    json_object_foreach(ports, k, v)
    {
        if (release_port(c, k, json_is_true(v), err) < 0)
            goto fail;
    }
    json_decref(ports);
    return net_changed(c, err);
fail:
    json_decref(ports);
    return -1;
}

char *net_server_attach(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                        const char *host, const char *network_id, const char *port_id,
                        const char *fixed_ip, struct st_err *err)
{
    char az[256], owner[300], port[37], picked[37];
    int64_t index;

    if (network_id && port_id) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Must not input both network_id and port_id");
        return NULL;
    }
    if (fixed_ip && !network_id) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "fixed_ips requires a net_id");
        return NULL;
    }
    if (store_begin(c, err) < 0)
        return NULL;
    if (server_az(c, server_id, az, sizeof(az), err) < 0 ||
        (index = next_index(c, server_id, err)) < 0)
        goto fail;
    snprintf(owner, sizeof(owner), "compute:%s", az);
    if (port_id) {
        if (bind_port(c, ctx, server_id, host, owner, port_id, index, err) < 0)
            goto fail;
        snprintf(port, sizeof(port), "%s", port_id);
    } else {
        if (!network_id) {
            if (auto_network(c, ctx, picked, err) < 0)
                goto fail;
            if (!picked[0]) {
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "No network is available to attach an interface to.");
                goto fail;
            }
            network_id = picked;
        }
        if (make_port(c, ctx, server_id, host, owner, network_id, fixed_ip, NULL, index, port,
                      err) < 0)
            goto fail;
    }
    if (net_changed(c, err) < 0 || net_commit(c, err) < 0)
        return NULL;
    return st_xstrdup(port);
fail:
    store_rollback(c);
    return NULL;
}

int net_server_detach(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                      const char *port_id, struct st_err *err)
{
    struct store_stmt *s;
    int rc;
    bool made = false;
    char project[AUTH_ID_MAX] = "";

    if (store_begin(c, err) < 0)
        return -1;
    s = store_query(c, err,
                    "SELECT server_owned, project_id FROM ports WHERE id = ? AND device_id = ?"
                    " AND device_owner LIKE 'compute:%'",
                    STORE_ARGS(P(port_id), P(server_id)));
    if (!s)
        goto fail;
    rc = store_next(s, err);
    if (rc > 0) {
        made = store_int(s, 0) != 0;
        snprintf(project, sizeof(project), "%s", store_text(s, 1));
    }
    store_done(s);
    if (rc < 0)
        goto fail;
    if (rc == 0) {
        net_err(err, ST_ERR_NOT_FOUND, "PortNotFound", "Port %s is not attached to server %s.",
                port_id, server_id);
        goto fail;
    }
    if (!ctx->is_admin && !st_streq(project, ctx->project_id)) {
        net_err(err, ST_ERR_FORBIDDEN, "PolicyNotAuthorized", "Port %s belongs to another project.",
                port_id);
        goto fail;
    }
    if (release_port(c, port_id, made, err) < 0 || net_changed(c, err) < 0)
        goto fail;
    return net_commit(c, err);
fail:
    store_rollback(c);
    return -1;
}

/* ---- actions -------------------------------------------------------------- */

int net_server_floating_ip(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                           const char *address, const char *fixed_address, bool add,
                           struct st_err *err)
{
    char fip[37], current[37], port[37] = "";
    struct store_stmt *s;
    int rc;

    if (store_begin(c, err) < 0)
        return -1;
    if (net_fip_find(c, ctx, address, fip, current, err) < 0)
        goto fail;
    if (!add) {
        int64_t mine = 0;
        if (current[0] && store_get_int(c, err, &mine,
                                        "SELECT COUNT(*) FROM ports WHERE id = ? AND device_id = ?",
                                        STORE_ARGS(P(current), P(server_id))) < 0)
            goto fail;
        if (!mine) {
            net_err(err, ST_ERR_CONFLICT, "FloatingIPNotAssociated",
                    "Floating IP %s is not associated with instance %s.", address, server_id);
            goto fail;
        }
        if (net_fip_associate(c, ctx, fip, NULL, NULL, err) < 0)
            goto fail;
    } else {
        /* The port holding 'fixed_address', or the first NIC with IPv4. */
        s = store_query(c, err,
                        "SELECT p.id, a.ip_address FROM ports p JOIN ip_allocations a ON"
                        " a.port_id = p.id JOIN subnets sn ON sn.id = a.subnet_id WHERE"
                        " p.device_id = ? AND p.device_owner LIKE 'compute:%' AND"
                        " sn.ip_version = 4 ORDER BY p.device_index, p.created_at, p.id",
                        STORE_ARGS(P(server_id)));
        if (!s)
            goto fail;
        while ((rc = store_next(s, err)) > 0) {
            if (!fixed_address || !strcmp(store_text(s, 1), fixed_address)) {
                snprintf(port, sizeof(port), "%s", store_text(s, 0));
                break;
            }
        }
        store_done(s);
        if (rc < 0)
            goto fail;
        if (!port[0]) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       fixed_address ? "Specified fixed address not assigned to instance"
                                     : "Instance network is not ready yet");
            goto fail;
        }
        if (net_fip_associate(c, ctx, fip, port, fixed_address, err) < 0) {
            if (err && err->kind == ST_ERR_NOT_FOUND &&
                st_streq(err->type, "ExternalGatewayForFloatingIPNotFound"))
                err->kind = ST_ERR_BAD_REQUEST;
            goto fail;
        }
    }
    if (net_changed(c, err) < 0)
        goto fail;
    return net_commit(c, err);
fail:
    store_rollback(c);
    return -1;
}

int net_server_security_group(struct store_conn *c, const struct auth_ctx *ctx,
                              const char *server_id, const char *group, bool add,
                              struct st_err *err)
{
    char id[37];
    int64_t n = 0, have = 0;

    if (store_begin(c, err) < 0)
        return -1;
    if (net_sg_resolve(c, ctx, ctx->project_id, group, id, err) < 0) {
        if (err && err->kind == ST_ERR_NOT_FOUND) {
            st_err_clear(err);
            st_err_set(err, ST_ERR_NOT_FOUND, "Security group %s not found for project %s.", group,
                       ctx->project_id);
        }
        goto fail;
    }
    if (store_get_int(c, err, &have,
                      "SELECT COUNT(*) FROM ports p JOIN port_security_groups pg ON pg.port_id ="
                      " p.id WHERE p.device_id = ? AND p.device_owner LIKE 'compute:%' AND"
                      " pg.security_group_id = ?",
                      STORE_ARGS(P(server_id), P(id))) < 0)
        goto fail;
    if (add && have) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Security group %s is already associated with the instance %s", group,
                   server_id);
        goto fail;
    }
    if (!add && !have) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Security group %s not associated with the instance %s",
                   group, server_id);
        goto fail;
    }
    if (add)
        n = store_exec(c, err,
                       "INSERT INTO port_security_groups (port_id, security_group_id) SELECT id,"
                       " ? FROM ports WHERE device_id = ? AND device_owner LIKE 'compute:%' AND"
                       " port_security_enabled = 1 ON CONFLICT DO NOTHING",
                       STORE_ARGS(P(id), P(server_id)));
    else
        n = store_exec(c, err,
                       "DELETE FROM port_security_groups WHERE security_group_id = ? AND port_id"
                       " IN (SELECT id FROM ports WHERE device_id = ? AND device_owner LIKE"
                       " 'compute:%')",
                       STORE_ARGS(P(id), P(server_id)));
    if (n < 0 || net_changed(c, err) < 0)
        goto fail;
    return net_commit(c, err);
fail:
    store_rollback(c);
    return -1;
}

int net_server_ports_bind(struct store_conn *c, const char *server_id, const char *host,
                          struct st_err *err)
{
    if (store_exec(c, err,
                   "UPDATE ports SET host = ?, revision_number = revision_number + 1,"
                   " updated_at = ? WHERE device_id = ? AND device_owner LIKE 'compute:%'",
                   STORE_ARGS(P(host && *host ? host : NULL), P(net_now()), P(server_id))) < 0)
        return -1;
    return net_changed(c, err);
}

/* ---- the port provider --------------------------------------------------- */

/* A migration moves server 'server_id': its NICs bound to 'host', also
 * plugged on 'migrating_host' while a live migration prepares there
 * (Neutron's binding:profile migrating_to).  Every host's FDB follows. */
static int net_server_ports_migrate(struct store_conn *c, const char *server_id,
                                    const char *host, const char *migrating_host,
                                    struct st_err *err)
{
    if (store_exec(c, err,
                   "UPDATE ports SET migrating_host = ? WHERE device_id = ? AND device_owner"
                   " LIKE 'compute:%'",
                   STORE_ARGS(P(migrating_host), P(server_id))) < 0)
        return -1;
    return net_server_ports_bind(c, server_id, host, err);
}

const struct compute_ports_ops net_compute_ports = {
    .create = net_server_ports_create,
    .release = net_server_ports_release,
    .nics = net_server_nics,
    .host_desired = net_host_desired, /* desired.c */
    .host_report = net_host_report,   /* desired.c */
    .bind = net_server_ports_migrate,
};

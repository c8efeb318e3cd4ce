/*
 * networks.c - Neutron networks: their segments (type, physical network,
 * segmentation id) claimed through network_segments' key, from the
 * configured tenant ranges or, for admins, the provider attributes; their
 * MTU; where their DHCP server runs; and their deletion, which takes the
 * DHCP port with it but refuses while other ports remain.
 */
#include "network/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define VXLAN_OVERHEAD 50

#define NETWORK_COLS                                                                               \
    "id, project_id, name, description, admin_state_up, status, shared, external,"                 \
    " port_security_enabled, network_type, physical_network, segmentation_id, mtu,"                \
    " revision_number, created_at, updated_at"

enum {
    C_ID,
    C_PROJECT,
    C_NAME,
    C_DESC,
    C_ADMIN_UP,
    C_STATUS,
    C_SHARED,
    C_EXTERNAL,
    C_PORTSEC,
    C_TYPE,
    C_PHYSNET,
    C_SEGID,
    C_MTU,
    C_REV,
    C_CREATED,
    C_UPDATED,
};

int net_network_load(struct store_conn *c, const char *id, struct net_row *r, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, project_id, network_type,"
                                       " physical_network, segmentation_id, mtu, shared,"
                                       " external, port_security_enabled, admin_state_up,"
                                       " dhcp_host FROM networks WHERE id = ?",
                                       STORE_ARGS(P(id)));
    int rc;
    if (!s)
        return -1;
    memset(r, 0, sizeof(*r));
    rc = store_next(s, err);
    if (rc > 0) {
        snprintf(r->id, sizeof(r->id), "%s", store_text(s, 0));
        snprintf(r->project_id, sizeof(r->project_id), "%s", store_text(s, 1));
        snprintf(r->network_type, sizeof(r->network_type), "%s", store_text(s, 2));
        if (store_text(s, 3))
            snprintf(r->physical_network, sizeof(r->physical_network), "%s", store_text(s, 3));
        r->segmentation_id = store_int(s, 4);
        r->mtu = store_int(s, 5);
        r->shared = store_int(s, 6) != 0;
        r->external = store_int(s, 7) != 0;
        r->port_security = store_int(s, 8) != 0;
        r->admin_state_up = store_int(s, 9) != 0;
        if (store_text(s, 10))
            snprintf(r->dhcp_host, sizeof(r->dhcp_host), "%s", store_text(s, 10));
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        net_not_found(err, "network", id);
        return -1;
    }
    return 0;
}

static json_t *network_json(struct store_conn *c, const struct auth_ctx *ctx, struct store_stmt *s,
                            struct st_err *err)
{
    const char *id = store_text(s, C_ID);
    json_t *o = json_object(), *subnets = json_array();
    struct store_stmt *q;
    bool up = store_int(s, C_ADMIN_UP) != 0;
    int rc;

    q = store_query(c, err, "SELECT id FROM subnets WHERE network_id = ? ORDER BY created_at, id",
                    STORE_ARGS(P(id)));
    if (!q)
        goto fail;
    while ((rc = store_next(q, err)) > 0)
        json_array_append_new(subnets, json_string(store_text(q, 0)));
    store_done(q);
    if (rc < 0)
        goto fail;
    if (net_std_attrs(c, o, id, store_text(s, C_PROJECT), store_text(s, C_DESC),
                      store_int(s, C_REV), store_int(s, C_CREATED), store_int(s, C_UPDATED),
                      err) < 0)
        goto fail;
    json_object_set_new(o, "name", json_string(store_text(s, C_NAME)));
    json_object_set_new(o, "admin_state_up", json_boolean(up));
    json_object_set_new(o, "status", json_string(up ? store_text(s, C_STATUS) : "DOWN"));
    json_object_set_new(o, "subnets", subnets);
    subnets = NULL;
    json_object_set_new(o, "shared", json_boolean(store_int(s, C_SHARED)));
    json_object_set_new(o, "router:external", json_boolean(store_int(s, C_EXTERNAL)));
    json_object_set_new(o, "port_security_enabled", json_boolean(store_int(s, C_PORTSEC)));
    json_object_set_new(o, "mtu", json_integer(store_int(s, C_MTU)));
    if (ctx->is_admin) {
        /* Neutron shows the provider attributes to admins only. */
        json_object_set_new(o, "provider:network_type", json_string(store_text(s, C_TYPE)));
        json_object_set_new(o, "provider:physical_network", net_text(s, C_PHYSNET));
        json_object_set_new(o, "provider:segmentation_id",
                            store_isnull(s, C_SEGID) ? json_null()
                                                     : json_integer(store_int(s, C_SEGID)));
    }
    return o;
fail:
    json_decref(subnets);
    json_decref(o);
    return NULL;
}

static bool network_visible(const struct auth_ctx *ctx, const char *project_id, bool shared,
                            bool external)
{
    return ctx->is_admin || shared || external ||
           (ctx->project_scoped && st_streq(project_id, ctx->project_id));
}

json_t *net_network_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, "SELECT " NETWORK_COLS " FROM networks WHERE id = ?",
                                       STORE_ARGS(P(id)));
    json_t *o = NULL;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0 &&
        net_may_read(ctx, store_text(s, C_PROJECT),
                     store_int(s, C_SHARED) || store_int(s, C_EXTERNAL), "network", id, err) == 0)
        o = network_json(c, ctx, s, err);
    else if (rc == 0)
        net_not_found(err, "network", id);
    store_done(s);
    return o;
}

static json_t *network_row(struct store_conn *c, struct store_stmt *s, void *arg,
                           struct st_err *err)
{
    const struct auth_ctx *ctx = arg;
    if (!network_visible(ctx, store_text(s, C_PROJECT), store_int(s, C_SHARED),
                         store_int(s, C_EXTERNAL)))
        return NULL;
    return network_json(c, ctx, s, err);
}

json_t *net_network_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    const char *scope = policy_scope(ctx);
    return store_collect(c, err, network_row, (void *) ctx,
                         "SELECT " NETWORK_COLS " FROM networks WHERE CAST(? AS TEXT) IS NULL OR"
                         " project_id = ? OR shared = 1 OR external = 1 ORDER BY created_at, id",
                         STORE_ARGS(P(scope), P(scope)));
}

/* ---- segments ------------------------------------------------------------ */

/* Claims a segment for 'network_id': 1 when claimed, 0 when taken. */
static int segment_claim(struct store_conn *c, const char *type, const char *physnet, int64_t segid,
                         const char *network_id, struct st_err *err)
{
    int64_t n = store_exec(c, err,
                           "INSERT INTO network_segments (network_type, physical_network,"
                           " segmentation_id, network_id) VALUES (?, ?, ?, ?)"
                           " ON CONFLICT DO NOTHING",
                           STORE_ARGS(P(type), P(physnet ? physnet : ""), P(segid), P(network_id)));
    return n < 0 ? -1 : n > 0;
}

/* Claims the lowest free id of 'r' for a network of 'type'.  The query
 * only proposes; the key decides, so a lost race tries the next one.
 * Returns 1 with *out, 0 when the range is full. */
static int segment_alloc(struct store_conn *c, const char *type, const struct net_range *r,
                         const char *network_id, int64_t *out, struct st_err *err)
{
    int64_t cand = r->lo;
    for (int tries = 0; tries < 64; tries++) {
        int rc;
        if (cand < r->lo || cand > r->hi)
            return 0;
        rc = segment_claim(c, type, r->physnet, cand, network_id, err);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            *out = cand;
            return 1;
        }
        /* The next gap after the taken ones. */
        rc = store_get_int(c, err, &cand,
                           "SELECT MIN(s.segmentation_id + 1) FROM network_segments s WHERE"
                           " s.network_type = ? AND s.physical_network = ? AND"
                           " s.segmentation_id >= ? AND s.segmentation_id < ? AND NOT EXISTS"
                           " (SELECT 1 FROM network_segments t WHERE t.network_type ="
                           " s.network_type AND t.physical_network = s.physical_network AND"
                           " t.segmentation_id = s.segmentation_id + 1)",
                           STORE_ARGS(P(type), P(r->physnet), P(r->lo), P(r->hi)));
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
    }
    net_err(err, ST_ERR_UNAVAILABLE, "NoNetworkAvailable",
            "Unable to create the network. No tenant network is available for allocation.");
    return -1;
}

struct segment {
    char type[8];
    char physnet[NET_PHYSNET_MAX];
    bool has_segid;
    int64_t segid;
};

static bool flat_allowed(const char *physnet)
{
    const struct net_conf *nc = net_conf();
    if (nc->flat_any)
        return true;
    for (int i = 0; i < nc->nflat; i++)
        if (!strcmp(nc->flat[i], physnet))
            return true;
    return false;
}

static const struct net_range *vlan_physnet(const char *physnet)
{
    const struct net_conf *nc = net_conf();
    for (int i = 0; i < nc->nvlan; i++)
        if (!strcmp(nc->vlan[i].physnet, physnet))
            return &nc->vlan[i];
    return NULL;
}

/* Checks the provider attributes of a request. */
static int provider_check(struct segment *sg, struct st_err *err)
{
    if (!strcmp(sg->type, "local")) {
        if (sg->physnet[0] || sg->has_segid) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: %s prohibited for local provider network.",
                    sg->physnet[0] ? "physical_network" : "segmentation_id");
            return -1;
        }
    } else if (!strcmp(sg->type, "flat")) {
        if (sg->has_segid) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: segmentation_id prohibited for flat provider "
                    "network.");
            return -1;
        }
        if (!sg->physnet[0]) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: physical_network required for flat provider "
                    "network.");
            return -1;
        }
        if (!flat_allowed(sg->physnet)) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: physical_network '%s' unknown for flat "
                    "provider network.",
                    sg->physnet);
            return -1;
        }
    } else if (!strcmp(sg->type, "vlan")) {
        if (sg->physnet[0] && !vlan_physnet(sg->physnet)) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: physical_network '%s' unknown for VLAN "
                    "provider network.",
                    sg->physnet);
            return -1;
        }
        if (sg->has_segid && (sg->segid < 1 || sg->segid > 4094)) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: segmentation_id out of range (1 through "
                    "4094).");
            return -1;
        }
        if (sg->has_segid && !sg->physnet[0]) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: segmentation_id requires physical_network "
                    "for VLAN provider network.");
            return -1;
        }
    } else if (!strcmp(sg->type, "vxlan")) {
        if (sg->physnet[0]) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: provider:physical_network specified for "
                    "VXLAN network.");
            return -1;
        }
        if (sg->has_segid && (sg->segid < 1 || sg->segid > (1 << 24) - 1)) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: segmentation_id out of range (1 through "
                    "16777215).");
            return -1;
        }
    } else {
        net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                "Invalid input for operation: network_type value '%s' not supported.", sg->type);
        return -1;
    }
    return 0;
}

/* Claims the segment of a provider network (given or allocated). */
static int provider_claim(struct store_conn *c, struct segment *sg, const char *network_id,
                          struct st_err *err)
{
    const struct net_conf *nc = net_conf();
    int rc;
    if (!strcmp(sg->type, "local"))
        return 0;
    if (!strcmp(sg->type, "flat")) {
        rc = segment_claim(c, "flat", sg->physnet, 0, network_id, err);
        if (rc == 0)
            net_err(err, ST_ERR_CONFLICT, "FlatNetworkInUse",
                    "Unable to create the flat network. Physical network %s is in use.",
                    sg->physnet);
        return rc > 0 ? 0 : -1;
    }
    if (sg->has_segid) {
        rc = segment_claim(c, sg->type, sg->physnet, sg->segid, network_id, err);
        if (rc == 0) {
            if (!strcmp(sg->type, "vlan"))
                net_err(err, ST_ERR_CONFLICT, "VlanIdInUse",
                        "Unable to create the network. The VLAN %lld on physical network %s "
                        "is in use.",
                        (long long) sg->segid, sg->physnet);
            else
                net_err(err, ST_ERR_CONFLICT, "TunnelIdInUse",
                        "Unable to create the network. The tunnel ID %lld is in use.",
                        (long long) sg->segid);
        }
        return rc > 0 ? 0 : -1;
    }
    /* A provider type without an id: from the configured ranges. */
    const struct net_range *ranges = !strcmp(sg->type, "vlan") ? nc->vlan : nc->vni;
    int n = !strcmp(sg->type, "vlan") ? nc->nvlan : nc->nvni;
    for (int i = 0; i < n; i++) {
        if (!ranges[i].hi || (sg->physnet[0] && strcmp(sg->physnet, ranges[i].physnet)))
            continue;
        rc = segment_alloc(c, sg->type, &ranges[i], network_id, &sg->segid, err);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            sg->has_segid = true;
            snprintf(sg->physnet, sizeof(sg->physnet), "%s", ranges[i].physnet);
            return 0;
        }
    }
    net_err(err, ST_ERR_UNAVAILABLE, "NoNetworkAvailable",
            "Unable to create the network. No tenant network is available for allocation.");
    return -1;
}

/* A project network: the first tenant type with a free segment. */
static int tenant_claim(struct store_conn *c, struct segment *sg, const char *network_id,
                        struct st_err *err)
{
    const struct net_conf *nc = net_conf();
    for (int t = 0; t < nc->ntenant_types; t++) {
        const char *type = nc->tenant_types[t];
        const struct net_range *ranges = !strcmp(type, "vlan") ? nc->vlan : nc->vni;
        int n = !strcmp(type, "vlan") ? nc->nvlan : nc->nvni;
        memset(sg, 0, sizeof(*sg));
        snprintf(sg->type, sizeof(sg->type), "%s", type);
        if (!strcmp(type, "local"))
            return 0;
        for (int i = 0; i < n; i++) {
            int rc;
            if (!ranges[i].hi)
                continue;
            rc = segment_alloc(c, type, &ranges[i], network_id, &sg->segid, err);
            if (rc < 0)
                return -1;
            if (rc > 0) {
                sg->has_segid = true;
                snprintf(sg->physnet, sizeof(sg->physnet), "%s", ranges[i].physnet);
                return 0;
            }
        }
    }
    net_err(err, ST_ERR_UNAVAILABLE, "NoNetworkAvailable",
            "Unable to create the network. No tenant network is available for allocation.");
    return -1;
}

static int64_t max_mtu(const char *type)
{
    int64_t m = net_conf()->physnet_mtu;
    return !strcmp(type, "vxlan") ? m - VXLAN_OVERHEAD : m;
}

static int check_mtu(json_t *in, const char *type, int64_t *mtu, bool *present, struct st_err *err)
{
    int64_t max = max_mtu(type);
    if (net_get_int(in, "mtu", 68, 65535, mtu, present, err) < 0)
        return -1;
    if (*present && *mtu > max) {
        net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                "Invalid input for operation: Requested MTU is too big, maximum is %lld.",
                (long long) max);
        return -1;
    }
    return 0;
}

static const char *const create_keys[] = {
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "port_security_enabled",
    "mtu",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "project_id",
    "tenant_id",
    "tags",
    "availability_zone_hints",
};

json_t *net_network_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                           struct st_err *err)
{
    char project[AUTH_ID_MAX], id[37], host[256], sgid[37];
    const char *name = "", *desc = "", *ptype = NULL, *physnet = NULL;
    bool up = true, shared = false, external = false, portsec = true, has_mtu;
    bool has_type, has_phys, has_seg;
    int64_t mtu = 0, segid = 0, now = net_now();
    json_t *tags = json_object_get(in, "tags"),
           *azh = json_object_get(in, "availability_zone_hints");
    struct segment sg;

    memset(&sg, 0, sizeof(sg));
    if (net_check_keys(in, create_keys, ST_ARRAY_SIZE(create_keys), err) < 0 ||
        net_owner(ctx, in, project, err) < 0 ||
        net_get_str(in, "name", NET_NAME_MAX, false, &name, NULL, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, NULL, err) < 0 ||
        net_get_bool(in, "admin_state_up", &up, NULL, err) < 0 ||
        net_get_bool(in, "shared", &shared, NULL, err) < 0 ||
        net_get_bool(in, "router:external", &external, NULL, err) < 0 ||
        net_get_bool(in, "port_security_enabled", &portsec, NULL, err) < 0 ||
        net_get_str(in, "provider:network_type", 16, false, &ptype, &has_type, err) < 0 ||
        net_get_str(in, "provider:physical_network", NET_PHYSNET_MAX - 1, true, &physnet, &has_phys,
                    err) < 0 ||
        net_get_int(in, "provider:segmentation_id", 0, INT32_MAX, &segid, &has_seg, err) < 0)
        return NULL;
    if (tags && net_tags_check(tags, err) < 0)
        return NULL;
    if (azh && !json_is_array(azh)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for availability_zone_hints. Reason: it must be a list.");
        return NULL;
    }
    if (!ctx->is_admin) {
        /* Neutron's policy looks at attributes set to other than their
         * default: "shared": false is anybody's. */
        const char *attr = has_type   ? "provider:network_type"
                           : has_phys ? "provider:physical_network"
                           : has_seg  ? "provider:segmentation_id"
                           : shared   ? "shared"
                           : external ? "router:external"
                                      : NULL;
        if (attr) {
            net_forbidden_attr(err, "create_network", attr);
            return NULL;
        }
    }
    if ((has_phys || has_seg) && !has_type) {
        net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                "Invalid input for operation: provider:network_type required.");
        return NULL;
    }
    if (has_type) {
        snprintf(sg.type, sizeof(sg.type), "%s", ptype);
        if (physnet)
            snprintf(sg.physnet, sizeof(sg.physnet), "%s", physnet);
        sg.has_segid = has_seg;
        sg.segid = segid;
        if (provider_check(&sg, err) < 0)
            return NULL;
    }
    st_uuid(id);
    if (store_begin(c, err) < 0)
        return NULL;
    if (net_quota_check(c, project, NET_Q_NETWORK, 1, err) < 0)
        goto fail;
    /* The row first (segments refer to it), with a placeholder type. */
    if (store_exec(c, err,
                   "INSERT INTO networks (id, project_id, name, description, admin_state_up,"
                   " shared, external, port_security_enabled, network_type, mtu, created_at,"
                   " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'local', 0, ?, ?)",
                   STORE_ARGS(P(id), P(project), P(name), P(desc), P((int) up), P((int) shared),
                              P((int) external), P((int) portsec), P(now), P(now))) < 0)
        goto fail;
    if ((has_type ? provider_claim(c, &sg, id, err) : tenant_claim(c, &sg, id, err)) < 0)
        goto fail;
    if (check_mtu(in, sg.type, &mtu, &has_mtu, err) < 0)
        goto fail;
    if (!has_mtu)
        mtu = max_mtu(sg.type);
    if (net_pick_host(c, host, sizeof(host), err) < 0)
        goto fail;
    if (store_exec(c, err,
                   "UPDATE networks SET network_type = ?, physical_network = ?,"
                   " segmentation_id = ?, mtu = ?, dhcp_host = ? WHERE id = ?",
                   STORE_ARGS(P(sg.type), P(sg.physnet[0] ? sg.physnet : NULL),
                              sg.has_segid ? P(sg.segid) : store_ptext(NULL), P(mtu),
                              P(host[0] ? host : NULL), P(id))) < 0)
        goto fail;
    if (tags && net_tags_replace(c, id, tags, err) < 0)
        goto fail;
    /* Neutron makes the project's default group when it first acts. */
    if (net_sg_default(c, project, sgid, err) < 0)
        goto fail;
    if (net_changed(c, err) < 0 || net_commit(c, err) < 0)
        return NULL;
    return net_network_get(c, ctx, id, err);
fail:
    store_rollback(c);
    return NULL;
}

static const char *const update_keys[] = {
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "port_security_enabled",
    "mtu",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "availability_zone_hints",
};

json_t *net_network_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           json_t *in, struct st_err *err)
{
    struct net_row r;
    const char *name = NULL, *desc = NULL;
    bool up = false, shared = false, external = false, portsec = false, has_up = false,
         has_shared = false, has_ext = false, has_ps = false, has_mtu = false, has_name = false,
         has_desc = false;
    int64_t mtu = 0, other = 0;

    if (net_check_keys(in, update_keys, ST_ARRAY_SIZE(update_keys), err) < 0)
        return NULL;
    if (store_begin(c, err) < 0)
        return NULL;
    if (net_network_load(c, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, r.shared || r.external, "network", id, err) < 0)
        goto fail;
    if (json_object_get(in, "provider:network_type") ||
        json_object_get(in, "provider:physical_network") ||
        json_object_get(in, "provider:segmentation_id")) {
        if (!ctx->is_admin)
            net_forbidden_attr(err, "update_network", "provider:network_type");
        else
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: Plugin does not support updating provider "
                    "attributes.");
        goto fail;
    }
    if (net_get_str(in, "name", NET_NAME_MAX, false, &name, &has_name, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, &has_desc, err) < 0 ||
        net_get_bool(in, "admin_state_up", &up, &has_up, err) < 0 ||
        net_get_bool(in, "shared", &shared, &has_shared, err) < 0 ||
        net_get_bool(in, "router:external", &external, &has_ext, err) < 0 ||
        net_get_bool(in, "port_security_enabled", &portsec, &has_ps, err) < 0 ||
        check_mtu(in, r.network_type, &mtu, &has_mtu, err) < 0)
        goto fail;
    if ((has_shared || has_ext) && !ctx->is_admin) {
        net_forbidden_attr(err, "update_network", has_shared ? "shared" : "router:external");
        goto fail;
    }
    if (has_shared && !shared && r.shared) {
        if (store_get_int(c, err, &other,
                          "SELECT COUNT(*) FROM ports WHERE network_id = ? AND project_id <> ?"
                          " AND project_id <> ''",
                          STORE_ARGS(P(id), P(r.project_id))) < 0)
            goto fail;
        if (other > 0) {
            net_err(err, ST_ERR_CONFLICT, "InvalidSharedSetting",
                    "Unable to reconfigure sharing settings for network %s. Multiple tenants "
                    "are using it.",
                    id);
            goto fail;
        }
    }
    if (store_exec(c, err,
                   "UPDATE networks SET name = CASE WHEN ? = 1 THEN ? ELSE name END,"
                   " description = CASE WHEN ? = 1 THEN ? ELSE description END,"
                   " admin_state_up = CASE WHEN ? = 1 THEN ? ELSE admin_state_up END,"
                   " shared = CASE WHEN ? = 1 THEN ? ELSE shared END,"
                   " external = CASE WHEN ? = 1 THEN ? ELSE external END,"
                   " port_security_enabled = CASE WHEN ? = 1 THEN ? ELSE port_security_enabled"
                   " END, mtu = CASE WHEN ? = 1 THEN ? ELSE mtu END,"
                   " revision_number = revision_number + 1, updated_at = ? WHERE id = ?",
                   STORE_ARGS(P((int) has_name), P(name), P((int) has_desc), P(desc),
                              P((int) has_up), P((int) up), P((int) has_shared), P((int) shared),
                              P((int) has_ext), P((int) external), P((int) has_ps),
                              P((int) portsec), P((int) has_mtu), P(mtu), P(net_now()), P(id))) < 0)
        goto fail;
    if (net_changed(c, err) < 0 || net_commit(c, err) < 0)
        return NULL;
    return net_network_get(c, ctx, id, err);
fail:
    store_rollback(c);
    return NULL;
}

int net_network_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       struct st_err *err)
{
    struct net_row r;
    struct store_stmt *s;
    json_t *ids = json_array(), *v;
    int64_t busy = 0;
    size_t i;
    int rc;

    if (store_begin(c, err) < 0)
        goto out;
    if (net_network_load(c, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, r.shared || r.external, "network", id, err) < 0)
        goto fail;
    /* Neutron deletes the ports it keeps for itself (DHCP); any other
     * port, a router's legs included, keeps the network in use. */
    if (store_get_int(c, err, &busy,
                      "SELECT COUNT(*) FROM ports WHERE network_id = ? AND device_owner <>"
                      " 'network:dhcp'",
                      STORE_ARGS(P(id))) < 0)
        goto fail;
    if (busy > 0) {
        net_err(err, ST_ERR_CONFLICT, "NetworkInUse",
                "Unable to complete operation on network %s. There are one or more ports still "
                "in use on the network.",
                id);
        goto fail;
    }
    s = store_query(c, err, "SELECT id FROM ports WHERE network_id = ?", STORE_ARGS(P(id)));
    if (!s)
        goto fail;
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(ids, json_string(store_text(s, 0)));
    store_done(s);
    if (rc < 0)
        goto fail;
    json_array_foreach(ids, i, v)
    {
        if (net_port_remove(c, json_string_value(v), err) < 0)
            goto fail;
    }
    json_array_clear(ids);
    s = store_query(c, err, "SELECT id FROM subnets WHERE network_id = ?", STORE_ARGS(P(id)));
    if (!s)
        goto fail;
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(ids, json_string(store_text(s, 0)));
    store_done(s);
    if (rc < 0)
        goto fail;
    json_array_foreach(ids, i, v)
    {
        if (net_tags_drop(c, json_string_value(v), err) < 0)
            goto fail;
    }
    if (store_exec(c, err, "DELETE FROM subnets WHERE network_id = ?", STORE_ARGS(P(id))) < 0 ||
        store_exec(c, err, "DELETE FROM networks WHERE id = ?", STORE_ARGS(P(id))) < 0 ||
        net_tags_drop(c, id, err) < 0 || net_changed(c, err) < 0)
        goto fail;
    json_decref(ids);
    return net_commit(c, err);
fail:
    store_rollback(c);
out:
    json_decref(ids);
    return -1;
}

/*
 * common.c - what the network module's files share: the configuration,
 * time and JSON helpers, access rules in Neutron's shapes, host bumps,
 * tags, quotas, and the placement of DHCP servers and routers.
 */
#include "network/internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "store/revision.h"
#include "common/banned.h"

/* ---- configuration ------------------------------------------------------ */

static struct net_conf conf;
static bool conf_loaded;
static pthread_once_t conf_once = PTHREAD_ONCE_INIT;

static const char *const quota_names[NET_Q__COUNT] = {
    "network",
    "subnet",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
    "rbac_policy",
    "subnetpool",
};
/* The [quota] options of the resources stratus has. */
static const char *const quota_options[NET_Q__COUNT] = {
    "networks",
    "subnets",
    "ports",
    "routers",
    "floating_ips",
    "security_groups",
    "security_group_rules",
    NULL,
    NULL,
};
static const int64_t quota_defaults[NET_Q__COUNT] = {100, 100, 500, 10, 50, 10, 100, 10, -1};

const char *net_quota_name(enum net_quota_res r)
{
    return r < NET_Q__COUNT ? quota_names[r] : "";
}

/* Calls 'fn' for each comma-separated, trimmed, non-empty item of 's'. */
static int each_item(const char *s, const char *opt,
                     int (*fn)(const char *item, void *arg, struct st_err *err), void *arg,
                     struct st_err *err)
{
    char *copy = st_xstrdup(s ? s : ""), *p = copy;
    int rc = 0;
    while (p && rc == 0) {
        char *comma = strchr(p, ',');
        char *item = p, *end;
        if (comma)
            *comma = '\0';
        p = comma ? comma + 1 : NULL;
        while (isspace((unsigned char) *item))
            item++;
        end = item + strlen(item);
        while (end > item && isspace((unsigned char) end[-1]))
            *--end = '\0';
        if (*item)
            rc = fn(item, arg, err);
    }
    if (rc < 0 && !st_err_is_set(err))
        st_err_set(err, ST_ERR_BAD_REQUEST, "option [network] %s: invalid value '%s'", opt, s);
    free(copy);
    return rc;
}

static int add_type(const char *item, void *arg, struct st_err *err)
{
    struct net_conf *nc = arg;
    if (strcmp(item, "vxlan") && strcmp(item, "vlan") && strcmp(item, "local")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "option [network] tenant_network_types: unknown type '%s' (vxlan, vlan or "
                   "local)",
                   item);
        return -1;
    }
    if (nc->ntenant_types >= (int) ST_ARRAY_SIZE(nc->tenant_types))
        return -1;
    snprintf(nc->tenant_types[nc->ntenant_types++], sizeof(nc->tenant_types[0]), "%s", item);
    return 0;
}

/* "LO:HI" into r->lo, r->hi within [1, max]. */
static int parse_range(const char *s, int64_t max, struct net_range *r)
{
    char buf[64];
    char *colon;
    int64_t lo, hi;
    if (st_snprintf(buf, sizeof(buf), "%s", s) < 0 || !(colon = strchr(buf, ':')))
        return -1;
    *colon = '\0';
    if (st_parse_i64(buf, 1, max, &lo) < 0 || st_parse_i64(colon + 1, 1, max, &hi) < 0 || lo > hi)
        return -1;
    r->lo = lo;
    r->hi = hi;
    return 0;
}

static int add_vni(const char *item, void *arg, struct st_err *err)
{
    struct net_conf *nc = arg;
    (void) err;
    if (nc->nvni >= NET_MAX_RANGES)
        return -1;
    memset(&nc->vni[nc->nvni], 0, sizeof(nc->vni[0]));
    if (parse_range(item, (1 << 24) - 1, &nc->vni[nc->nvni]) < 0)
        return -1;
    nc->nvni++;
    return 0;
}

static int add_vlan(const char *item, void *arg, struct st_err *err)
{
    struct net_conf *nc = arg;
    struct net_range *r;
    const char *colon = strchr(item, ':');
    size_t n = colon ? (size_t) (colon - item) : strlen(item);
    (void) err;
    if (nc->nvlan >= NET_MAX_RANGES || !n || n >= NET_PHYSNET_MAX)
        return -1;
    r = &nc->vlan[nc->nvlan];
    memset(r, 0, sizeof(*r));
    memcpy(r->physnet, item, n);
    if (colon && parse_range(colon + 1, 4094, r) < 0)
        return -1;
    nc->nvlan++;
    return 0;
}

static int add_flat(const char *item, void *arg, struct st_err *err)
{
    struct net_conf *nc = arg;
    (void) err;
    if (!strcmp(item, "*")) {
        nc->flat_any = true;
        return 0;
    }
    if (nc->nflat >= NET_MAX_RANGES || strlen(item) >= NET_PHYSNET_MAX)
        return -1;
    snprintf(nc->flat[nc->nflat++], NET_PHYSNET_MAX, "%s", item);
    return 0;
}

static int conf_parse(struct net_conf *nc, const char *types, const char *vni, const char *vlan,
                      const char *flat, struct st_err *err)
{
    if (each_item(types, "tenant_network_types", add_type, nc, err) < 0 ||
        each_item(vni, "vni_ranges", add_vni, nc, err) < 0 ||
        each_item(vlan, "network_vlan_ranges", add_vlan, nc, err) < 0 ||
        each_item(flat, "flat_networks", add_flat, nc, err) < 0)
        return -1;
    return 0;
}

static void conf_defaults(void)
{
    struct st_err err = ST_ERR_INIT;
    if (conf_loaded)
        return;
    memset(&conf, 0, sizeof(conf));
    (void) conf_parse(&conf, "vxlan", "1001:2000", "physnet1:100:200", "*", &err);
    conf.physnet_mtu = 1500;
    conf.service_down_time = 60;
    memcpy(conf.quota, quota_defaults, sizeof(conf.quota));
}

const struct net_conf *net_conf(void)
{
    pthread_once(&conf_once, conf_defaults);
    return &conf;
}

int net_configure(const struct cfg *cfg, struct st_err *err)
{
    struct net_conf nc;
    memset(&nc, 0, sizeof(nc));
    if (conf_parse(&nc, cfg_str(cfg, "network", "tenant_network_types"),
                   cfg_str(cfg, "network", "vni_ranges"),
                   cfg_str(cfg, "network", "network_vlan_ranges"),
                   cfg_str(cfg, "network", "flat_networks"), err) < 0)
        return -1;
    nc.physnet_mtu = cfg_int(cfg, "network", "global_physnet_mtu");
    nc.service_down_time = cfg_int(cfg, "compute", "service_down_time");
    for (int i = 0; i < NET_Q__COUNT; i++)
        nc.quota[i] =
            quota_options[i] ? cfg_int(cfg, "quota", quota_options[i]) : quota_defaults[i];
    pthread_once(&conf_once, conf_defaults);
    conf = nc;
    conf_loaded = true;
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

int64_t net_now(void)
{
    return st_now_us() / 1000000;
}

json_t *net_time(int64_t secs)
{
    char t[32];
    st_time_iso(secs * 1000000, 0, t);
    return json_string(t);
}

json_t *net_text(struct store_stmt *s, int col)
{
    return st_json_str_or_null(store_text(s, col));
}

json_t *net_json_col(struct store_stmt *s, int col, json_t *dflt)
{
    const char *t = store_text(s, col);
    json_t *j = t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
    if (!j)
        return dflt;
    json_decref(dflt);
    return j;
}

int net_std_attrs(struct store_conn *c, json_t *o, const char *id, const char *project_id,
                  const char *description, int64_t revision, int64_t created, int64_t updated,
                  struct st_err *err)
{
    json_t *tags = net_tags_json(c, id, err);
    if (!tags)
        return -1;
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "project_id", json_string(project_id ? project_id : ""));
    json_object_set_new(o, "tenant_id", json_string(project_id ? project_id : ""));
    json_object_set_new(o, "description", json_string(description ? description : ""));
    json_object_set_new(o, "created_at", net_time(created));
    json_object_set_new(o, "updated_at", net_time(updated));
    json_object_set_new(o, "revision_number", json_integer(revision));
    json_object_set_new(o, "tags", tags);
    return 0;
}

int net_get_str(json_t *in, const char *key, size_t max, bool null_ok, const char **out,
                bool *present, struct st_err *err)
{
    json_t *v = json_object_get(in, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return 0;
    if (json_is_null(v)) {
        if (null_ok) {
            *out = NULL;
            return 0;
        }
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for %s. Reason: 'None' is not a valid string.", key);
        return -1;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for %s. Reason: it is not a valid string.", key);
        return -1;
    }
    if (json_string_length(v) > max) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for %s. Reason: '%.40s' exceeds maximum length of %zu.", key,
                json_string_value(v), max);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int net_get_int(json_t *in, const char *key, int64_t min, int64_t max, int64_t *out, bool *present,
                struct st_err *err)
{
    json_t *v = json_object_get(in, key);
    int64_t n;
    if (present)
        *present = v != NULL;
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (!json_is_string(v) ||
               st_parse_i64(json_string_value(v), INT64_MIN, INT64_MAX, &n) < 0) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for %s. Reason: it is not an integer.", key);
        return -1;
    }
    if (n < min || n > max) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for %s. Reason: %lld is not in range %lld through %lld.", key,
                (long long) n, (long long) min, (long long) max);
        return -1;
    }
    *out = n;
    return 0;
}

int net_get_bool(json_t *in, const char *key, bool *out, bool *present, struct st_err *err)
{
    json_t *v = json_object_get(in, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v) && st_parse_bool(json_string_value(v), out) == 0)
        return 0;
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
        *out = json_integer_value(v) == 1;
        return 0;
    }
    net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
            "Invalid input for %s. Reason: '%s' cannot be converted to boolean.", key,
            json_is_string(v) ? json_string_value(v) : "value");
    return -1;
}

int net_check_keys(json_t *in, const char *const *known, size_t n, struct st_err *err)
{
    struct st_buf bad = ST_BUF_INIT;
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        bool ok = false;
        for (size_t i = 0; i < n && !ok; i++)
            ok = !strcmp(k, known[i]);
        if (!ok)
            st_buf_addf(&bad, "%s%s", bad.len ? ", " : "", k);
    }
    if (bad.len) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest", "Unrecognized attribute(s) '%s'",
                bad.buf);
        st_buf_release(&bad);
        return -1;
    }
    return 0;
}

void net_err(struct st_err *err, enum st_err_kind kind, const char *type, const char *fmt, ...)
{
    char msg[ST_ERR_MSG_MAX];
    va_list ap;
    if (st_err_is_set(err))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    st_err_set(err, kind, "%s", msg);
    st_err_set_type(err, type);
}

/* Neutron's "not found" for each kind of resource: message and type. */
static const struct {
    const char *what, *fmt, *type;
} not_found[] = {
    {"network", "Network %s could not be found.", "NetworkNotFound"},
    {"subnet", "Subnet %s could not be found.", "SubnetNotFound"},
    {"port", "Port %s could not be found.", "PortNotFound"},
    {"router", "Router %s could not be found", "RouterNotFound"},
    {"floatingip", "Floating IP %s could not be found", "FloatingIPNotFound"},
    {"security group", "Security group %s does not exist", "SecurityGroupNotFound"},
    {"security group rule", "Security group rule %s does not exist", "SecurityGroupRuleNotFound"},
};

void net_not_found(struct st_err *err, const char *what, const char *id)
{
    for (size_t i = 0; i < ST_ARRAY_SIZE(not_found); i++) {
        if (!strcmp(what, not_found[i].what)) {
            char msg[ST_ERR_MSG_MAX];
            snprintf(msg, sizeof(msg), not_found[i].fmt, id);
            net_err(err, ST_ERR_NOT_FOUND, not_found[i].type, "%s", msg);
            return;
        }
    }
    net_err(err, ST_ERR_NOT_FOUND, "NotFound", "%s %s could not be found.", what, id);
}

/* Gives an answer of the policy rules Neutron's words. */
static void typed(struct st_err *err, const char *what, const char *id)
{
    if (!err)
        return;
    if (err->kind == ST_ERR_NOT_FOUND) {
        st_err_clear(err);
        net_not_found(err, what, id);
    } else if (err->kind == ST_ERR_FORBIDDEN) {
        st_err_set_type(err, "PolicyNotAuthorized");
    }
}

int net_may_read(const struct auth_ctx *ctx, const char *project_id, bool shared, const char *what,
                 const char *id, struct st_err *err)
{
    struct st_err local = ST_ERR_INIT;
    if (policy_read(ctx, shared ? NULL : project_id, what, id, &local) == 0)
        return 0;
    typed(&local, what, id);
    if (err && !st_err_is_set(err))
        *err = local;
    return -1;
}

int net_may_write(const struct auth_ctx *ctx, const char *project_id, bool shared, const char *what,
                  const char *id, struct st_err *err)
{
    if (net_may_read(ctx, project_id, shared, what, id, err) < 0)
        return -1;
    if (ctx->is_admin)
        return 0;
    if (!ctx->project_scoped || !st_streq(project_id, ctx->project_id)) {
        /* Visible (shared) but not the caller's. */
        net_err(err, ST_ERR_FORBIDDEN, "PolicyNotAuthorized",
                "(rule:update_%s and rule:admin_or_owner) is disallowed by policy", what);
        return -1;
    }
    struct st_err local = ST_ERR_INIT;
    if (policy_write(ctx, project_id, what, id, &local) < 0) {
        typed(&local, what, id);
        if (err && !st_err_is_set(err))
            *err = local;
        return -1;
    }
    return 0;
}

void net_forbidden_attr(struct st_err *err, const char *action, const char *attr)
{
    net_err(err, ST_ERR_FORBIDDEN, "PolicyNotAuthorized",
            "(rule:%s and rule:%s:%s) is disallowed by policy", action, action, attr);
}

int net_owner(const struct auth_ctx *ctx, json_t *in, char out[AUTH_ID_MAX], struct st_err *err)
{
    const char *p = json_string_value(json_object_get(in, "project_id"));
    const char *t = json_string_value(json_object_get(in, "tenant_id"));
    json_t *pv = json_object_get(in, "project_id"), *tv = json_object_get(in, "tenant_id");

    if ((pv && !json_is_string(pv)) || (tv && !json_is_string(tv))) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for project_id. Reason: it must be a string.");
        return -1;
    }
    if (p && t && strcmp(p, t)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "'project_id' and 'tenant_id' do not match");
        return -1;
    }
    if (!p)
        p = t;
    if (p && (!*p || strlen(p) >= AUTH_ID_MAX)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for project_id. Reason: '%.64s' is not a valid project id.", p);
        return -1;
    }
    if (p && !st_streq(p, ctx->project_id) && !ctx->is_admin) {
        net_err(err, ST_ERR_FORBIDDEN, "PolicyNotAuthorized",
                "Specifying 'project_id' or 'tenant_id' other than the authenticated project "
                "in request requires admin privileges");
        return -1;
    }
    if (!p && !ctx->project_scoped) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "A project-scoped token or a project_id is required");
        return -1;
    }
    if (policy_write(ctx, ctx->project_id, "project", ctx->project_id, err) < 0) {
        st_err_set_type(err, "PolicyNotAuthorized");
        return -1;
    }
    snprintf(out, AUTH_ID_MAX, "%s", p ? p : ctx->project_id);
    return 0;
}

int net_changed(struct store_conn *c, struct st_err *err)
{
    return revision_bump_all(c, err);
}

int net_commit(struct store_conn *c, struct st_err *err)
{
    if (store_commit(c, err) < 0) {
        store_rollback(c);
        return -1;
    }
    revision_notify();
    return 0;
}

/* ---- tags ---------------------------------------------------------------- */

json_t *net_tags_json(struct store_conn *c, const char *id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT tag FROM network_tags WHERE resource_id = ?"
                                       " ORDER BY tag",
                                       STORE_ARGS(P(id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, json_string(store_text(s, 0)));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int net_tags_check(json_t *tags, struct st_err *err)
{
    size_t i;
    json_t *v;
    if (!json_is_array(tags) || json_array_size(tags) > NET_MAX_TAGS) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for tags. Reason: it must be a list of at most %d strings.",
                NET_MAX_TAGS);
        return -1;
    }
    json_array_foreach(tags, i, v)
    {
        const char *t = json_string_value(v);
        if (!t || !*t || strlen(t) > NET_TAG_MAX || strchr(t, ',') ||
            strlen(t) != json_string_length(v)) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "Invalid input for tags. Reason: a tag is 1 to %d characters without a "
                    "comma.",
                    NET_TAG_MAX);
            return -1;
        }
    }
    return 0;
}

int net_tags_drop(struct store_conn *c, const char *id, struct st_err *err)
{
    return store_exec(c, err, "DELETE FROM network_tags WHERE resource_id = ?", STORE_ARGS(P(id))) <
                   0
               ? -1
               : 0;
}

int net_tags_replace(struct store_conn *c, const char *id, json_t *tags, struct st_err *err)
{
    size_t i;
    json_t *v;
    if (net_tags_check(tags, err) < 0 || net_tags_drop(c, id, err) < 0)
        return -1;
    json_array_foreach(tags, i, v)
    {
        if (store_exec(c, err,
                       "INSERT INTO network_tags (resource_id, tag) VALUES (?, ?)"
                       " ON CONFLICT DO NOTHING",
                       STORE_ARGS(P(id), P(json_string_value(v)))) < 0)
            return -1;
    }
    return 0;
}

/* ---- quotas -------------------------------------------------------------- */

static const char *const usage_sql[NET_Q__COUNT] = {
    "SELECT COUNT(*) FROM networks WHERE project_id = ?",
    "SELECT COUNT(*) FROM subnets WHERE project_id = ?",
    "SELECT COUNT(*) FROM ports WHERE project_id = ?",
    "SELECT COUNT(*) FROM routers WHERE project_id = ?",
    "SELECT COUNT(*) FROM floatingips WHERE project_id = ?",
    "SELECT COUNT(*) FROM security_groups WHERE project_id = ?",
    "SELECT COUNT(*) FROM security_group_rules WHERE project_id = ?",
    NULL,
    NULL,
};

static int64_t quota_limit(struct store_conn *c, const char *project_id, enum net_quota_res r,
                           struct st_err *err)
{
    int64_t v;
    int rc = store_get_int(c, err, &v,
                           "SELECT hard_limit FROM network_quotas WHERE project_id = ? AND"
                           " resource = ?",
                           STORE_ARGS(P(project_id), P(quota_names[r])));
    if (rc < 0)
        return INT64_MIN;
    return rc > 0 ? v : net_conf()->quota[r];
}

static int64_t quota_used(struct store_conn *c, const char *project_id, enum net_quota_res r,
                          struct st_err *err)
{
    int64_t v = 0;
    if (!usage_sql[r])
        return 0;
    if (store_get_int(c, err, &v, usage_sql[r], STORE_ARGS(P(project_id))) < 0)
        return -1;
    return v;
}

/* Quotas are checked by counting inside the write transaction that then
 * inserts.  SQLite serialises write transactions (BEGIN IMMEDIATE), so two
 * creations cannot both pass the count.  XXX PostgreSQL needs a lock on the
 * project (SELECT ... FOR UPDATE on a per-project row) here. */
int net_quota_check(struct store_conn *c, const char *project_id, enum net_quota_res r,
                    int64_t want, struct st_err *err)
{
    int64_t lim, used;
    if (!project_id || !*project_id)
        return 0; /* service ports (gateways, floating IPs) count for nobody */
    lim = quota_limit(c, project_id, r, err);
    if (lim == INT64_MIN)
        return -1;
    if (lim < 0)
        return 0;
    used = quota_used(c, project_id, r, err);
    if (used < 0)
        return -1;
    if (used + want > lim) {
        net_err(err, ST_ERR_CONFLICT, "OverQuota", "Quota exceeded for resources: ['%s'].",
                quota_names[r]);
        return -1;
    }
    return 0;
}

static int quota_access(const struct auth_ctx *ctx, const char *project_id, struct st_err *err)
{
    if (!project_id || !*project_id || strlen(project_id) >= AUTH_ID_MAX) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest", "Invalid project id");
        return -1;
    }
    if (policy_read(ctx, project_id, "quota", project_id, err) < 0) {
        st_err_set_type(err, err->kind == ST_ERR_NOT_FOUND ? "NotFound" : "PolicyNotAuthorized");
        return -1;
    }
    return 0;
}

json_t *net_quota_get(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                      bool details, bool defaults, struct st_err *err)
{
    json_t *o;
    if (quota_access(ctx, project_id, err) < 0)
        return NULL;
    o = json_object();
    for (int i = 0; i < NET_Q__COUNT; i++) {
        int64_t lim = defaults ? net_conf()->quota[i] : quota_limit(c, project_id, i, err);
        int64_t used = details ? quota_used(c, project_id, i, err) : 0;
        if (lim == INT64_MIN || used < 0) {
            json_decref(o);
            return NULL;
        }
        if (details)
            json_object_set_new(o, quota_names[i],
                                json_pack("{s:I, s:I, s:I}", "limit", (json_int_t) lim, "used",
                                          (json_int_t) used, "reserved", (json_int_t) 0));
        else
            json_object_set_new(o, quota_names[i], json_integer(lim));
    }
    if (!details) {
        json_object_set_new(o, "project_id", json_string(project_id));
        json_object_set_new(o, "tenant_id", json_string(project_id));
    }
    return o;
}

json_t *net_quota_set(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                      json_t *in, struct st_err *err)
{
    const char *k;
    json_t *v;
    if (quota_access(ctx, project_id, err) < 0)
        return NULL;
    if (policy_admin(ctx, "update_quota", err) < 0) {
        st_err_set_type(err, "PolicyNotAuthorized");
        return NULL;
    }
    /* Check everything before writing anything. */
    json_object_foreach(in, k, v)
    {
        bool known = false;
        if (!strcmp(k, "force") || !strcmp(k, "check_limit") || !strcmp(k, "project_id") ||
            !strcmp(k, "tenant_id"))
            continue;
        for (int i = 0; i < NET_Q__COUNT; i++)
            known |= !strcmp(k, quota_names[i]);
        if (!known) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest", "Unrecognized attribute(s) '%s'", k);
            return NULL;
        }
        int64_t n;
        if (jget_int(in, k, true, -1, INT32_MAX, &n, err) < 0) {
            st_err_set_type(err, "HTTPBadRequest");
            return NULL;
        }
    }
    if (store_begin(c, err) < 0)
        return NULL;
    json_object_foreach(in, k, v)
    {
        int64_t n;
        bool known = false;
        for (int i = 0; i < NET_Q__COUNT; i++)
            known |= !strcmp(k, quota_names[i]);
        if (!known)
            continue;
        if (jget_int(in, k, true, -1, INT32_MAX, &n, err) < 0 ||
            store_exec(c, err,
                       "INSERT INTO network_quotas (project_id, resource, hard_limit) VALUES"
                       " (?, ?, ?) ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit"
                       " = excluded.hard_limit",
                       STORE_ARGS(P(project_id), P(k), P(n))) < 0) {
            store_rollback(c);
            return NULL;
        }
    }
    if (store_commit(c, err) < 0) {
        store_rollback(c);
        return NULL;
    }
    json_t *o = net_quota_get(c, ctx, project_id, false, false, err);
    if (o) {
        json_object_del(o, "project_id");
        json_object_del(o, "tenant_id");
    }
    return o;
}

int net_quota_reset(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                    struct st_err *err)
{
    if (quota_access(ctx, project_id, err) < 0)
        return -1;
    if (policy_admin(ctx, "delete_quota", err) < 0) {
        st_err_set_type(err, "PolicyNotAuthorized");
        return -1;
    }
    return store_exec(c, err, "DELETE FROM network_quotas WHERE project_id = ?",
                      STORE_ARGS(P(project_id))) < 0
               ? -1
               : 0;
}

json_t *net_quota_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    struct store_stmt *s;
    json_t *ids = json_array(), *arr = NULL, *v;
    size_t i;
    int rc;
    if (policy_admin(ctx, "get_quota", err) < 0) {
        st_err_set_type(err, "PolicyNotAuthorized");
        goto out;
    }
    s = store_query(c, err, "SELECT DISTINCT project_id FROM network_quotas ORDER BY project_id",
                    STORE_NOARGS);
    if (!s)
        goto out;
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(ids, json_string(store_text(s, 0)));
    store_done(s);
    if (rc < 0)
        goto out;
    arr = json_array();
    json_array_foreach(ids, i, v)
    {
        json_t *q = net_quota_get(c, ctx, json_string_value(v), false, false, err);
        if (!q) {
            json_decref(arr);
            arr = NULL;
            goto out;
        }
        json_array_append_new(arr, q);
    }
out:
    json_decref(ids);
    return arr;
}

/* ---- placement ------------------------------------------------------------ */

int net_pick_host(struct store_conn *c, char *out, size_t n, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT name FROM hosts WHERE enabled = 1 AND"
                                       " forced_down = 0 AND last_seen IS NOT NULL AND"
                                       " last_seen >= ? ORDER BY created_at, name LIMIT 1",
                                       STORE_ARGS(P(net_now() - net_conf()->service_down_time)));
    int rc;
    out[0] = '\0';
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        snprintf(out, n, "%s", store_text(s, 0));
    store_done(s);
    return rc < 0 ? -1 : 0;
}

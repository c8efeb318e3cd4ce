/*
 * secgroups.c - security groups and their rules.  Each project has one
 * default group, made on first use with Neutron's default rules (egress to
 * anywhere over IPv4 and IPv6, ingress only from members of the group);
 * default_security_groups' key makes that race-free while other groups may
 * share names.  A rule's shape is its fingerprint, unique per group, so a
 * duplicate is refused by the store (SecurityGroupRuleExists).
 */
#include "network/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define SG_COLS                                                                                    \
    "id, project_id, name, description, stateful, revision_number, created_at, updated_at"
#define RULE_COLS                                                                                  \
    "r.id, r.project_id, r.security_group_id, r.direction, r.ethertype, r.protocol,"               \
    " r.port_range_min, r.port_range_max, r.remote_ip_prefix, r.remote_group_id,"                  \
    " r.description, r.revision_number, r.created_at, r.updated_at, g.project_id"

enum {
    R_ID,
    R_PROJECT,
    R_SG,
    R_DIR,
    R_ETHER,
    R_PROTO,
    R_MIN,
    R_MAX,
    R_PREFIX,
    R_RGROUP,
    R_DESC,
    R_REV,
    R_CREATED,
    R_UPDATED,
    R_SG_PROJECT
};

/* IANA numbers of the protocol names Neutron accepts. */
static const struct {
    const char *name;
    int num;
} protocols[] = {
    {"ah", 51},         {"dccp", 33},      {"egp", 8},       {"esp", 50},        {"gre", 47},
    {"hopopt", 0},      {"icmp", 1},       {"igmp", 2},      {"ipip", 4},        {"ipv6-encap", 41},
    {"ipv6-frag", 44},  {"ipv6-icmp", 58}, {"icmpv6", 58},   {"ipv6-nonxt", 59}, {"ipv6-opts", 60},
    {"ipv6-route", 43}, {"ospf", 89},      {"pgm", 113},     {"rsvp", 46},       {"sctp", 132},
    {"tcp", 6},         {"udp", 17},       {"udplite", 136}, {"vrrp", 112},
};

/* The number of a protocol name or number, or -1. */
static int proto_num(const char *p)
{
    uint32_t n;
    for (size_t i = 0; i < ST_ARRAY_SIZE(protocols); i++)
        if (!strcasecmp(p, protocols[i].name))
            return protocols[i].num;
    if (st_parse_u32(p, 0, 255, &n) == 0)
        return (int) n;
    return -1;
}

static json_t *rule_json(struct store_conn *c, struct store_stmt *s, struct st_err *err)
{
    json_t *o = json_object();
    const char *prefix = store_text(s, R_PREFIX);
    if (net_std_attrs(c, o, store_text(s, R_ID), store_text(s, R_PROJECT), store_text(s, R_DESC),
                      store_int(s, R_REV), store_int(s, R_CREATED), store_int(s, R_UPDATED),
                      err) < 0) {
        json_decref(o);
        return NULL;
    }
    /* Rules have no tags in Neutron. */
    json_object_del(o, "tags");
    json_object_set_new(o, "security_group_id", json_string(store_text(s, R_SG)));
    json_object_set_new(o, "direction", json_string(store_text(s, R_DIR)));
    json_object_set_new(o, "ethertype", json_string(store_text(s, R_ETHER)));
    json_object_set_new(o, "protocol", net_text(s, R_PROTO));
    json_object_set_new(o, "port_range_min",
                        store_isnull(s, R_MIN) ? json_null() : json_integer(store_int(s, R_MIN)));
    json_object_set_new(o, "port_range_max",
                        store_isnull(s, R_MAX) ? json_null() : json_integer(store_int(s, R_MAX)));
    json_object_set_new(o, "remote_ip_prefix", net_text(s, R_PREFIX));
    json_object_set_new(o, "remote_group_id", net_text(s, R_RGROUP));
    json_object_set_new(o, "remote_address_group_id", json_null());
    if (prefix) {
        struct ipam_cidr cc;
        char norm[IPAM_CIDR_STRLEN];
        if (ipam_cidr_parse(prefix, &cc, NULL) == 0) {
            ipam_cidr_format(&cc, norm);
            json_object_set_new(o, "normalized_cidr", json_string(norm));
        }
    } else {
        json_object_set_new(o, "normalized_cidr", json_null());
    }
    return o;
}

static json_t *rules_of(struct store_conn *c, const char *sg, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT " RULE_COLS " FROM security_group_rules r JOIN"
                                       " security_groups g ON g.id = r.security_group_id WHERE"
                                       " r.security_group_id = ? ORDER BY r.created_at,"
                                       " r.direction, r.ethertype, r.id",
                                       STORE_ARGS(P(sg)));
    json_t *arr = json_array();
    int rc;
    if (!s) {
        json_decref(arr);
        return NULL;
    }
    while ((rc = store_next(s, err)) > 0) {
        json_t *o = rule_json(c, s, err);
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

static json_t *sg_json(struct store_conn *c, struct store_stmt *s, struct st_err *err)
{
    json_t *o = json_object(), *rules;
    const char *id = store_text(s, 0);
    if (net_std_attrs(c, o, id, store_text(s, 1), store_text(s, 3), store_int(s, 5),
                      store_int(s, 6), store_int(s, 7), err) < 0 ||
        !(rules = rules_of(c, id, err))) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "name", json_string(store_text(s, 2)));
    json_object_set_new(o, "stateful", json_boolean(store_int(s, 4)));
    json_object_set_new(o, "security_group_rules", rules);
    return o;
}

/* ---- rules --------------------------------------------------------------- */

struct rule {
    const char *direction, *ethertype, *protocol, *remote_ip_prefix, *remote_group_id;
    const char *description;
    bool has_min, has_max;
    int64_t min, max;
};

/* The shape of a rule, as the duplicate check compares them. */
static void fingerprint(const struct rule *r, struct st_buf *out)
{
    char norm[IPAM_CIDR_STRLEN] = "";
    struct ipam_cidr cc;
    if (r->remote_ip_prefix && ipam_cidr_parse(r->remote_ip_prefix, &cc, NULL) == 0)
        ipam_cidr_format(&cc, norm);
    else if (r->remote_ip_prefix)
        snprintf(norm, sizeof(norm), "%s", r->remote_ip_prefix);
    st_buf_addf(out, "%s|%s|%d|", r->direction, r->ethertype,
                r->protocol ? proto_num(r->protocol) : -1);
    if (r->has_min)
        st_buf_addf(out, "%lld", (long long) r->min);
    st_buf_addch(out, '|');
    if (r->has_max)
        st_buf_addf(out, "%lld", (long long) r->max);
    st_buf_addf(out, "|%s|%s", norm, r->remote_group_id ? r->remote_group_id : "");
}

static int insert_rule(struct store_conn *c, const char *sg, const char *project,
                       const struct rule *r, char id[37], struct st_err *err)
{
    struct st_buf fp = ST_BUF_INIT;
    int64_t now = net_now(), n;
    fingerprint(r, &fp);
    st_uuid(id);
    n = store_exec(c, err,
                   "INSERT INTO security_group_rules (id, project_id, security_group_id,"
                   " direction, ethertype, protocol, port_range_min, port_range_max,"
                   " remote_ip_prefix, remote_group_id, description, fingerprint, created_at,"
                   " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                   " ON CONFLICT DO NOTHING",
                   STORE_ARGS(P(id), P(project), P(sg), P(r->direction), P(r->ethertype),
                              P(r->protocol), r->has_min ? P(r->min) : store_ptext(NULL),
                              r->has_max ? P(r->max) : store_ptext(NULL), P(r->remote_ip_prefix),
                              P(r->remote_group_id), P(r->description ? r->description : ""),
                              P(fp.buf), P(now), P(now)));
    if (n == 0) {
        char other[37] = "";
        struct store_stmt *s = store_query(c, err,
                                           "SELECT id FROM security_group_rules WHERE"
                                           " security_group_id = ? AND fingerprint = ?",
                                           STORE_ARGS(P(sg), P(fp.buf)));
        if (s && store_next(s, err) > 0)
            snprintf(other, sizeof(other), "%s", store_text(s, 0));
        store_done(s);
        net_err(err, ST_ERR_CONFLICT, "SecurityGroupRuleExists",
                "Security group rule already exists. Rule id is %s.", other);
    }
    st_buf_release(&fp);
    return n > 0 ? 0 : -1;
}

int net_sg_default(struct store_conn *c, const char *project_id, char out[37], struct st_err *err)
{
    struct store_stmt *s;
    char id[37], rid[37];
    int64_t now = net_now(), n;
    int rc;

    for (int pass = 0; pass < 2; pass++) {
        s = store_query(c, err,
                        "SELECT security_group_id FROM default_security_groups WHERE project_id ="
                        " ?",
                        STORE_ARGS(P(project_id)));
        if (!s)
            return -1;
        rc = store_next(s, err);
        if (rc > 0)
            snprintf(out, 37, "%s", store_text(s, 0));
        store_done(s);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
        if (pass)
            break;
        /* The group, then the claim: whoever claims first keeps theirs,
         * the other drops its own. */
        st_uuid(id);
        if (store_exec(c, err,
                       "INSERT INTO security_groups (id, project_id, name, description,"
                       " created_at, updated_at) VALUES (?, ?, 'default', 'Default security"
                       " group', ?, ?)",
                       STORE_ARGS(P(id), P(project_id), P(now), P(now))) < 0)
            return -1;
        n = store_exec(c, err,
                       "INSERT INTO default_security_groups (project_id, security_group_id)"
                       " VALUES (?, ?) ON CONFLICT DO NOTHING",
                       STORE_ARGS(P(project_id), P(id)));
        if (n < 0)
            return -1;
        if (n == 0) {
            if (store_exec(c, err, "DELETE FROM security_groups WHERE id = ?", STORE_ARGS(P(id))) <
                0)
                return -1;
            continue;
        }
        static const char *const ethers[] = {"IPv4", "IPv6"};
        for (int i = 0; i < 2; i++) {
            struct rule eg = {.direction = "egress", .ethertype = ethers[i]};
            struct rule in = {
                .direction = "ingress", .ethertype = ethers[i], .remote_group_id = id};
            if (insert_rule(c, id, project_id, &eg, rid, err) < 0 ||
                insert_rule(c, id, project_id, &in, rid, err) < 0)
                return -1;
        }
        snprintf(out, 37, "%s", id);
        return 0;
    }
    st_err_set(err, ST_ERR_INTERNAL, "the default security group of %s vanished", project_id);
    return -1;
}

int net_sg_resolve(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                   const char *id_or_name, char out[37], struct st_err *err)
{
    struct store_stmt *s;
    int rc, n = 0;

    (void) ctx;
    if (!strcmp(id_or_name, "default"))
        return net_sg_default(c, project_id, out, err);
    s = store_query(c, err,
                    "SELECT id FROM security_groups WHERE project_id = ? AND (id = ? OR name = ?)"
                    " ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END",
                    STORE_ARGS(P(project_id), P(id_or_name), P(id_or_name), P(id_or_name)));
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0) {
        if (n == 0)
            snprintf(out, 37, "%s", store_text(s, 0));
        if (n == 0 && !strcmp(store_text(s, 0), id_or_name)) {
            n = 1;
            break;
        }
        n++;
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (n == 0) {
        net_not_found(err, "security group", id_or_name);
        return -1;
    }
    if (n > 1) {
        net_err(err, ST_ERR_CONFLICT, "DuplicateSecurityGroup",
                "Multiple security groups named '%s' exist; use an id.", id_or_name);
        return -1;
    }
    return 0;
}

struct sg_row {
    char id[37], project_id[AUTH_ID_MAX], name[NET_NAME_MAX + 1];
    bool is_default;
};

static int sg_load(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                   struct sg_row *r, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT g.id, g.project_id, g.name, d.project_id FROM"
                                       " security_groups g LEFT JOIN default_security_groups d"
                                       " ON d.security_group_id = g.id WHERE g.id = ?",
                                       STORE_ARGS(P(id)));
    int rc;
    if (!s)
        return -1;
    memset(r, 0, sizeof(*r));
    rc = store_next(s, err);
    if (rc > 0) {
        snprintf(r->id, sizeof(r->id), "%s", store_text(s, 0));
        snprintf(r->project_id, sizeof(r->project_id), "%s", store_text(s, 1));
        snprintf(r->name, sizeof(r->name), "%s", store_text(s, 2));
        r->is_default = !store_isnull(s, 3);
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        net_not_found(err, "security group", id);
        return -1;
    }
    return net_may_read(ctx, r->project_id, false, "security group", id, err);
}

static int parse_rule(json_t *in, struct rule *r, struct st_err *err)
{
    const char *proto = NULL;
    json_t *pv = json_object_get(in, "protocol");
    int num = -1;
    memset(r, 0, sizeof(*r));
    r->ethertype = "IPv4";
    if (net_get_str(in, "direction", 16, false, &r->direction, NULL, err) < 0 ||
        net_get_str(in, "ethertype", 16, false, &r->ethertype, NULL, err) < 0 ||
        net_get_str(in, "remote_ip_prefix", IPAM_CIDR_STRLEN, true, &r->remote_ip_prefix, NULL,
                    err) < 0 ||
        net_get_str(in, "remote_group_id", 36, true, &r->remote_group_id, NULL, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &r->description, NULL, err) < 0 ||
        net_get_int(in, "port_range_min", 0, 65535, &r->min, &r->has_min, err) < 0 ||
        net_get_int(in, "port_range_max", 0, 65535, &r->max, &r->has_max, err) < 0)
        return -1;
    if (r->has_min && json_is_null(json_object_get(in, "port_range_min")))
        r->has_min = false;
    if (r->has_max && json_is_null(json_object_get(in, "port_range_max")))
        r->has_max = false;
    if (!r->direction || (strcmp(r->direction, "ingress") && strcmp(r->direction, "egress"))) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for direction. Reason: '%s' is not in ['ingress', 'egress'].",
                r->direction ? r->direction : "None");
        return -1;
    }
    if (strcmp(r->ethertype, "IPv4") && strcmp(r->ethertype, "IPv6")) {
        net_err(err, ST_ERR_BAD_REQUEST, "SecurityGroupRuleInvalidEtherType",
                "Security group rule for ethertype '%s' not supported. Allowed values are "
                "['IPv4', 'IPv6'].",
                r->ethertype);
        return -1;
    }
    if (pv && json_is_integer(pv)) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%lld", (long long) json_integer_value(pv));
        json_object_set_new(in, "protocol", json_string(buf));
        pv = json_object_get(in, "protocol");
    }
    if (pv && !json_is_null(pv)) {
        if (net_get_str(in, "protocol", 32, true, &proto, NULL, err) < 0)
            return -1;
        if (!strcasecmp(proto, "any"))
            proto = NULL;
        else if ((num = proto_num(proto)) < 0) {
            net_err(err, ST_ERR_BAD_REQUEST, "SecurityGroupRuleInvalidProtocol",
                    "Security group rule protocol %s not supported. Only protocol values "
                    "[None, 'ah', 'dccp', 'egp', 'esp', 'gre', 'icmp', 'igmp', 'ipv6-encap', "
                    "'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', "
                    "'ipv6-route', 'ospf', 'pgm', 'rsvp', 'sctp', 'tcp', 'udp', 'udplite', "
                    "'vrrp'] and integer representations [0 to 255] are supported.",
                    proto);
            return -1;
        }
    }
    r->protocol = proto;
    if ((r->has_min || r->has_max) && !proto) {
        net_err(err, ST_ERR_BAD_REQUEST, "SecurityGroupProtocolRequiredWithPorts",
                "Must also specify protocol if port range is given.");
        return -1;
    }
    if (num == 6 || num == 17 || num == 33 || num == 132 || num == 136) {
        if (r->has_min && !r->has_max) {
            r->has_max = true;
            r->max = r->min;
        }
        if ((r->has_min && r->min < 1) || (r->has_max && r->max < 1) ||
            (r->has_max && !r->has_min) || (r->has_min && r->min > r->max)) {
            net_err(err, ST_ERR_BAD_REQUEST, "SecurityGroupInvalidPortRange",
                    "For TCP/UDP protocols, port_range_min must be <= port_range_max");
            return -1;
        }
    } else if (num == 1 || num == 58) {
        if ((r->has_min && r->min > 255) || (r->has_max && r->max > 255)) {
            net_err(err, ST_ERR_BAD_REQUEST, "SecurityGroupInvalidIcmpValue",
                    "Invalid value for ICMP %s (%s) %lld. It must be 0 to 255.",
                    r->has_min && r->min > 255 ? "type" : "code",
                    r->has_min && r->min > 255 ? "port-range-min" : "port-range-max",
                    (long long) (r->has_min && r->min > 255 ? r->min : r->max));
            return -1;
        }
        if (r->has_max && !r->has_min) {
            net_err(err, ST_ERR_BAD_REQUEST, "SecurityGroupMissingIcmpType",
                    "ICMP code (port-range-max) %lld is provided but ICMP type (port-range-min) "
                    "is missing.",
                    (long long) r->max);
            return -1;
        }
    } else if (r->has_min || r->has_max) {
        net_err(err, ST_ERR_BAD_REQUEST, "SecurityGroupInvalidProtocolForPort",
                "Invalid protocol %s for port range, only supported for TCP, UDP, UDPLITE, SCTP "
                "and DCCP.",
                proto);
        return -1;
    }
    if (r->remote_ip_prefix && r->remote_group_id) {
        net_err(err, ST_ERR_BAD_REQUEST, "SecurityGroupRemoteGroupAndRemoteIpPrefix",
                "Only remote_ip_prefix or remote_group_id may be provided.");
        return -1;
    }
    if (r->remote_ip_prefix) {
        struct ipam_cidr cc;
        struct ipam_addr a;
        int version;
        if (ipam_cidr_parse(r->remote_ip_prefix, &cc, NULL) == 0)
            version = cc.net.version;
        else if (ipam_addr_parse(r->remote_ip_prefix, &a) == 0)
            version = a.version;
        else {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "Invalid input for remote_ip_prefix. Reason: '%s' is not a valid IP "
                    "subnet.",
                    r->remote_ip_prefix);
            return -1;
        }
        if ((version == 4) != !strcmp(r->ethertype, "IPv4")) {
            net_err(err, ST_ERR_BAD_REQUEST, "SecurityGroupRuleParameterConflict",
                    "Conflicting value ethertype %s for CIDR %s", r->ethertype,
                    r->remote_ip_prefix);
            return -1;
        }
    }
    return 0;
}

static const char *const rule_keys[] = {
    "security_group_id", "direction",      "ethertype",        "protocol",
    "port_range_min",    "port_range_max", "remote_ip_prefix", "remote_group_id",
    "description",       "project_id",     "tenant_id",        "remote_address_group_id",
};

static json_t *rule_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        bool check, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT " RULE_COLS " FROM security_group_rules r JOIN"
                                       " security_groups g ON g.id = r.security_group_id WHERE"
                                       " r.id = ?",
                                       STORE_ARGS(P(id)));
    json_t *o = NULL;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0 && (!check || net_may_read(ctx, store_text(s, R_SG_PROJECT), false,
                                          "security group rule", id, err) == 0))
        o = rule_json(c, s, err);
    else if (rc == 0)
        net_not_found(err, "security group rule", id);
    store_done(s);
    return o;
}

json_t *net_sgr_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                       struct st_err *err)
{
    char project[AUTH_ID_MAX], id[37];
    const char *sg_id = NULL;
    struct sg_row g, remote;
    struct rule r;
    json_t *rag = json_object_get(in, "remote_address_group_id");

    if (net_check_keys(in, rule_keys, ST_ARRAY_SIZE(rule_keys), err) < 0 ||
        net_owner(ctx, in, project, err) < 0 ||
        net_get_str(in, "security_group_id", 36, false, &sg_id, NULL, err) < 0 ||
        parse_rule(in, &r, err) < 0)
        return NULL;
    if (rag && !json_is_null(rag)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Address groups are not supported by this cloud.");
        return NULL;
    }
    if (!sg_id) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Failed to parse request. Required attribute 'security_group_id' not "
                "specified");
        return NULL;
    }
    if (store_begin(c, err) < 0)
        return NULL;
    if (sg_load(c, ctx, sg_id, &g, err) < 0 ||
        net_may_write(ctx, g.project_id, false, "security group", sg_id, err) < 0)
        goto fail;
    if (r.remote_group_id && sg_load(c, ctx, r.remote_group_id, &remote, err) < 0)
        goto fail;
    if (net_quota_check(c, g.project_id, NET_Q_SECURITY_GROUP_RULE, 1, err) < 0 ||
        insert_rule(c, sg_id, g.project_id, &r, id, err) < 0 ||
        store_exec(c, err,
                   "UPDATE security_groups SET revision_number = revision_number + 1,"
                   " updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(net_now()), P(sg_id))) < 0 ||
        net_changed(c, err) < 0)
        goto fail;
    if (net_commit(c, err) < 0)
        return NULL;
    return rule_get(c, ctx, id, false, err);
fail:
    store_rollback(c);
    return NULL;
}

json_t *net_sgr_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    struct st_err *err)
{
    return rule_get(c, ctx, id, true, err);
}

static json_t *rule_row(struct store_conn *c, struct store_stmt *s, void *arg,
                        struct st_err *err)
{
    (void) arg;
    return rule_json(c, s, err);
}

json_t *net_sgr_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    const char *scope = policy_scope(ctx);
    return store_collect(c, err, rule_row, NULL,
                         "SELECT " RULE_COLS " FROM security_group_rules r JOIN security_groups g"
                         " ON g.id = r.security_group_id WHERE (CAST(? AS TEXT) IS NULL OR"
                         " g.project_id = ?) ORDER BY r.created_at, r.id",
                         STORE_ARGS(P(scope), P(scope)));
}

int net_sgr_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                   struct st_err *err)
{
    json_t *rule;
    char sg[37];
    struct sg_row g;
    if (store_begin(c, err) < 0)
        return -1;
    rule = rule_get(c, ctx, id, true, err);
    if (!rule)
        goto fail;
    snprintf(sg, sizeof(sg), "%s", json_string_value(json_object_get(rule, "security_group_id")));
    json_decref(rule);
    if (sg_load(c, ctx, sg, &g, err) < 0 ||
        net_may_write(ctx, g.project_id, false, "security group rule", id, err) < 0 ||
        store_exec(c, err, "DELETE FROM security_group_rules WHERE id = ?", STORE_ARGS(P(id))) <
            0 ||
        store_exec(c, err,
                   "UPDATE security_groups SET revision_number = revision_number + 1,"
                   " updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(net_now()), P(sg))) < 0 ||
        net_changed(c, err) < 0)
        goto fail;
    return net_commit(c, err);
fail:
    store_rollback(c);
    return -1;
}

/* ---- groups -------------------------------------------------------------- */

static json_t *sg_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct st_err *err)
{
    struct sg_row r;
    struct store_stmt *s;
    json_t *o = NULL;
    if (sg_load(c, ctx, id, &r, err) < 0)
        return NULL;
    s = store_query(c, err, "SELECT " SG_COLS " FROM security_groups WHERE id = ?",
                    STORE_ARGS(P(id)));
    if (!s)
        return NULL;
    if (store_next(s, err) > 0)
        o = sg_json(c, s, err);
    else
        net_not_found(err, "security group", id);
    store_done(s);
    return o;
}

/* Makes the caller's default group exist (Neutron does it on listing). */
static int ensure_caller_default(struct store_conn *c, const struct auth_ctx *ctx,
                                 struct st_err *err)
{
    char id[37];
    int64_t one;
    int rc;
    if (!ctx->project_scoped)
        return 0;
    rc = store_get_int(c, err, &one, "SELECT 1 FROM default_security_groups WHERE project_id = ?",
                       STORE_ARGS(P(ctx->project_id)));
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (store_begin(c, err) < 0)
        return -1;
    if (net_sg_default(c, ctx->project_id, id, err) < 0) {
        store_rollback(c);
        return -1;
    }
    return net_commit(c, err);
}

json_t *net_sg_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                   struct st_err *err)
{
    return sg_get(c, ctx, id, err);
}

static json_t *sg_row(struct store_conn *c, struct store_stmt *s, void *arg, struct st_err *err)
{
    (void) arg;
    return sg_json(c, s, err);
}

json_t *net_sg_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    const char *scope = policy_scope(ctx);
    if (ensure_caller_default(c, ctx, err) < 0)
        return NULL;
    return store_collect(c, err, sg_row, NULL,
                         "SELECT " SG_COLS " FROM security_groups WHERE (CAST(? AS TEXT) IS NULL"
                         " OR project_id = ?) ORDER BY created_at, id",
                         STORE_ARGS(P(scope), P(scope)));
}

static const char *const sg_keys[] = {
    "name", "description", "stateful", "project_id", "tenant_id", "tags",
};

json_t *net_sg_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                      struct st_err *err)
{
    char project[AUTH_ID_MAX], id[37], dflt[37], rid[37];
    const char *name = "", *desc = "";
    bool stateful = true;
    int64_t now = net_now();
    json_t *tags = json_object_get(in, "tags");

    if (net_check_keys(in, sg_keys, ST_ARRAY_SIZE(sg_keys), err) < 0 ||
        net_owner(ctx, in, project, err) < 0 ||
        net_get_str(in, "name", NET_NAME_MAX, false, &name, NULL, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, NULL, err) < 0 ||
        net_get_bool(in, "stateful", &stateful, NULL, err) < 0 ||
        (tags && net_tags_check(tags, err) < 0))
        return NULL;
    if (store_begin(c, err) < 0)
        return NULL;
    if (net_sg_default(c, project, dflt, err) < 0)
        goto fail;
    if (!strcmp(name, "default")) {
        net_err(err, ST_ERR_CONFLICT, "SecurityGroupDefaultAlreadyExists",
                "Default security group already exists.");
        goto fail;
    }
    if (net_quota_check(c, project, NET_Q_SECURITY_GROUP, 1, err) < 0)
        goto fail;
    st_uuid(id);
    if (store_exec(
            c, err,
            "INSERT INTO security_groups (id, project_id, name, description, stateful,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            STORE_ARGS(P(id), P(project), P(name), P(desc), P((int) stateful), P(now), P(now))) < 0)
        goto fail;
    static const char *const ethers[] = {"IPv4", "IPv6"};
    for (int i = 0; i < 2; i++) {
        struct rule eg = {.direction = "egress", .ethertype = ethers[i]};
        if (insert_rule(c, id, project, &eg, rid, err) < 0)
            goto fail;
    }
    if ((tags && net_tags_replace(c, id, tags, err) < 0) || net_commit(c, err) < 0)
        goto fail;
    return sg_get(c, ctx, id, err);
fail:
    store_rollback(c);
    return NULL;
}

json_t *net_sg_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id, json_t *in,
                      struct st_err *err)
{
    static const char *const keys[] = {"name", "description", "stateful"};
    struct sg_row r;
    const char *name = NULL, *desc = NULL;
    bool has_name = false, has_desc = false, stateful = false, has_stateful = false;

    if (net_check_keys(in, keys, ST_ARRAY_SIZE(keys), err) < 0 ||
        net_get_str(in, "name", NET_NAME_MAX, false, &name, &has_name, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, &has_desc, err) < 0 ||
        net_get_bool(in, "stateful", &stateful, &has_stateful, err) < 0)
        return NULL;
    if (store_begin(c, err) < 0)
        return NULL;
    if (sg_load(c, ctx, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, false, "security group", id, err) < 0)
        goto fail;
    if (r.is_default && has_name && strcmp(name, "default")) {
        net_err(err, ST_ERR_CONFLICT, "SecurityGroupCannotUpdateDefault",
                "Updating default security group not allowed.");
        goto fail;
    }
    if (!r.is_default && has_name && !strcmp(name, "default")) {
        net_err(err, ST_ERR_CONFLICT, "SecurityGroupDefaultAlreadyExists",
                "Default security group already exists.");
        goto fail;
    }
    if (store_exec(c, err,
                   "UPDATE security_groups SET name = CASE WHEN ? = 1 THEN ? ELSE name END,"
                   " description = CASE WHEN ? = 1 THEN ? ELSE description END,"
                   " stateful = CASE WHEN ? = 1 THEN ? ELSE stateful END,"
                   " revision_number = revision_number + 1, updated_at = ? WHERE id = ?",
                   STORE_ARGS(P((int) has_name), P(name), P((int) has_desc), P(desc),
                              P((int) has_stateful), P((int) stateful), P(net_now()), P(id))) < 0 ||
        net_changed(c, err) < 0)
        goto fail;
    if (net_commit(c, err) < 0)
        return NULL;
    return sg_get(c, ctx, id, err);
fail:
    store_rollback(c);
    return NULL;
}

int net_sg_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                  struct st_err *err)
{
    struct sg_row r;
    int64_t used = 0;
    if (store_begin(c, err) < 0)
        return -1;
    if (sg_load(c, ctx, id, &r, err) < 0 ||
        net_may_write(ctx, r.project_id, false, "security group", id, err) < 0)
        goto fail;
    if (r.is_default && !ctx->is_admin) {
        net_err(err, ST_ERR_CONFLICT, "SecurityGroupCannotRemoveDefault",
                "Insufficient rights for removing default security group.");
        goto fail;
    }
    if (store_get_int(c, err, &used,
                      "SELECT COUNT(*) FROM port_security_groups WHERE security_group_id = ?",
                      STORE_ARGS(P(id))) < 0)
        goto fail;
    if (used > 0) {
        net_err(err, ST_ERR_CONFLICT, "SecurityGroupInUse", "Security Group %s in use.", id);
        goto fail;
    }
    if (store_exec(c, err, "DELETE FROM security_groups WHERE id = ?", STORE_ARGS(P(id))) < 0 ||
        net_tags_drop(c, id, err) < 0 || net_changed(c, err) < 0)
        goto fail;
    return net_commit(c, err);
fail:
    store_rollback(c);
    return -1;
}

/*
 * ports.c - Neutron ports: the MAC (random fa:16:3e:xx:xx:xx, retried on
 * the UNIQUE(network_id, mac_address) key) and the fixed IPs (a row each,
 * claimed through UNIQUE(subnet_id, ip_address): the first free address of
 * the pools, or the one asked for), security groups, allowed address pairs
 * and the binding; the DHCP port of each network; the API's port calls.
 *
 * Claims use INSERT ... ON CONFLICT DO NOTHING and look at the row count,
 * so that a lost race never aborts the caller's transaction (PostgreSQL
 * would) and the next candidate can be tried in the same one.
 */
#include "network/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define MAC_TRIES 16
#define ALLOC_TRIES 256

#define PORT_COLS                                                                                  \
    "p.id, p.network_id, p.project_id, p.name, p.description, p.mac_address,"                      \
    " p.admin_state_up, p.status, p.device_id, p.device_owner, p.host, p.vnic_type,"               \
    " p.binding_profile, p.port_security_enabled, p.revision_number, p.created_at,"                \
    " p.updated_at, n.project_id"

enum {
    C_ID,
    C_NET,
    C_PROJECT,
    C_NAME,
    C_DESC,
    C_MAC,
    C_ADMIN_UP,
    C_STATUS,
    C_DEVICE_ID,
    C_OWNER,
    C_HOST,
    C_VNIC,
    C_PROFILE,
    C_PORTSEC,
    C_REV,
    C_CREATED,
    C_UPDATED,
    C_NET_PROJECT,
};

static bool starts(const char *s, const char *prefix)
{
    return s && !strncmp(s, prefix, strlen(prefix));
}

/* ---- addresses ----------------------------------------------------------- */

static int cmp_u128(const void *a, const void *b)
{
    ipam_u128 x = *(const ipam_u128 *) a, y = *(const ipam_u128 *) b;
    return x < y ? -1 : x > y;
}

/* The addresses taken on a subnet, sorted. */
static int taken(struct store_conn *c, const char *subnet_id, ipam_u128 **out, size_t *n,
                 struct st_err *err)
{
    struct store_stmt *s =
        store_query(c, err, "SELECT ip_address FROM ip_allocations WHERE subnet_id = ?",
                    STORE_ARGS(P(subnet_id)));
    size_t alloc = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0) {
        struct ipam_addr a;
        if (ipam_addr_parse(store_text(s, 0), &a) < 0)
            continue;
        if (*n == alloc) {
            alloc = alloc ? 2 * alloc : 64;
            *out = st_xrealloc(*out, alloc * sizeof(**out));
        }
        (*out)[(*n)++] = a.v;
    }
    store_done(s);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    if (*n)
        qsort(*out, *n, sizeof(**out), cmp_u128);
    return 0;
}

/* 1 claimed, 0 taken. */
static int claim(struct store_conn *c, const struct net_subnet_row *s, const char *port_id,
                 const char *ip, struct st_err *err)
{
    int64_t n = store_exec(c, err,
                           "INSERT INTO ip_allocations (subnet_id, ip_address, port_id, network_id)"
                           " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                           STORE_ARGS(P(s->id), P(ip), P(port_id), P(s->network_id)));
    return n < 0 ? -1 : n > 0;
}

static bool slaac(const struct net_subnet_row *s)
{
    return s->cidr.net.version == 6 && (!strcmp(s->ipv6_address_mode, "slaac") ||
                                        !strcmp(s->ipv6_address_mode, "dhcpv6-stateless"));
}

int net_ip_allocate(struct store_conn *c, const struct net_subnet_row *s, const char *port_id,
                    const char *mac, const char *want, bool router_port, char out[IPAM_ADDR_STRLEN],
                    struct st_err *err)
{
    struct ipam_addr a;
    ipam_u128 *used = NULL;
    size_t nused = 0, idx = 0;
    int tries = 0, rc;

    if (want) {
        if (ipam_addr_parse(want, &a) < 0 ||
            !(ipam_usable(&s->cidr, &a) ||
              (router_port && s->has_gateway && ipam_addr_cmp(&a, &s->gateway) == 0))) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidIpForSubnet",
                    "IP address %s is not a valid IP for the specified subnet.", want);
            return -1;
        }
        ipam_addr_format(&a, out);
        rc = claim(c, s, port_id, out, err);
        if (rc == 0)
            net_err(err, ST_ERR_CONFLICT, "IpAddressAlreadyAllocated",
                    "IP address %s already allocated in subnet %s", out, s->id);
        return rc > 0 ? 0 : -1;
    }
    if (slaac(s) && !router_port) {
        if (ipam_eui64(&s->cidr, mac, &a) < 0) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: subnet %s is not a /64 or less, so SLAAC "
                    "cannot address it.",
                    s->id);
            return -1;
        }
        ipam_addr_format(&a, out);
        rc = claim(c, s, port_id, out, err);
        if (rc == 0)
            net_err(err, ST_ERR_CONFLICT, "IpAddressAlreadyAllocated",
                    "IP address %s already allocated in subnet %s", out, s->id);
        return rc > 0 ? 0 : -1;
    }
    /* The first free address of the pools, in order.  'used' is only a
     * hint: the key decides, and a lost race moves on. */
    if (taken(c, s->id, &used, &nused, err) < 0)
        return -1;
    for (size_t p = 0; p < s->npools; p++) {
        ipam_u128 cand = s->pools[p].first.v;
        idx = 0;
        while (idx < nused && used[idx] < cand)
            idx++;
        while (cand <= s->pools[p].last.v && tries < ALLOC_TRIES) {
            if (idx < nused && used[idx] == cand) {
                idx++;
                cand++;
                continue;
            }
            a.version = s->cidr.net.version;
            a.v = cand;
            ipam_addr_format(&a, out);
            rc = claim(c, s, port_id, out, err);
            tries++;
            if (rc < 0) {
                free(used);
                return -1;
            }
            if (rc > 0) {
                free(used);
                return 0;
            }
            cand++;
            if (cand == 0)
                break; /* wrapped at the top of the IPv6 space */
        }
    }
    free(used);
    net_err(err, ST_ERR_CONFLICT, "IpAddressGenerationFailure",
            "No more IP addresses available on network %s.", s->network_id);
    return -1;
}

json_t *net_port_fixed_ips(struct store_conn *c, const char *port_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT a.subnet_id, a.ip_address FROM ip_allocations a"
                                       " JOIN subnets s ON s.id = a.subnet_id WHERE a.port_id = ?"
                                       " ORDER BY s.ip_version, s.created_at, a.subnet_id,"
                                       " a.ip_address",
                                       STORE_ARGS(P(port_id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "subnet_id", store_text(s, 0),
                                             "ip_address", store_text(s, 1)));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* One entry of a "fixed_ips" request: the subnet it names or implies, and
 * the address if one is asked for. */
struct ip_req {
    const struct net_subnet_row *subnet;
    const char *ip;
    bool keep; /* update: an address the port already has */
    char kept[IPAM_ADDR_STRLEN];
};

static int parse_fixed_ips(json_t *fixed, const char *network_id, struct net_subnet_row *subs,
                           size_t nsubs, struct ip_req *reqs, size_t *nreqs, struct st_err *err)
{
    size_t i;
    json_t *e;
    *nreqs = 0;
    if (!json_is_array(fixed) || json_array_size(fixed) > NET_MAX_FIXED_IPS) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for fixed_ips. Reason: it must be a list of at most %d entries.",
                NET_MAX_FIXED_IPS);
        return -1;
    }
    json_array_foreach(fixed, i, e)
    {
        const char *sid = json_string_value(json_object_get(e, "subnet_id"));
        const char *ip = json_string_value(json_object_get(e, "ip_address"));
        struct ip_req *r = &reqs[i];
        const char *k;
        json_t *v;
        memset(r, 0, sizeof(*r));
        if (!json_is_object(e) || (!sid && !ip)) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "Invalid input for fixed_ips. Reason: each entry needs a subnet_id or an "
                    "ip_address.");
            return -1;
        }
        json_object_foreach(e, k, v)
        {
            if ((strcmp(k, "subnet_id") && strcmp(k, "ip_address")) || !json_is_string(v)) {
                net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                        "Invalid input for fixed_ips. Reason: Unrecognized attribute or value "
                        "'%s'.",
                        k);
                return -1;
            }
        }
        if (ip) {
            struct ipam_addr a;
            if (ipam_addr_parse(ip, &a) < 0) {
                net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                        "Invalid input for ip_address. Reason: '%s' is not a valid IP address.",
                        ip);
                return -1;
            }
            for (size_t j = 0; !sid && j < nsubs; j++)
                if (ipam_cidr_contains(&subs[j].cidr, &a))
                    r->subnet = &subs[j];
        }
        for (size_t j = 0; sid && j < nsubs; j++)
            if (!strcmp(subs[j].id, sid))
                r->subnet = &subs[j];
        if (!r->subnet && sid) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidInput",
                    "Invalid input for operation: Failed to create port on network %s, because "
                    "fixed_ips included invalid subnet %s.",
                    network_id, sid);
            return -1;
        }
        if (!r->subnet) {
            net_err(err, ST_ERR_BAD_REQUEST, "InvalidIpForNetwork",
                    "IP address %s is not a valid IP for any of the subnets on the specified "
                    "network.",
                    ip);
            return -1;
        }
        r->ip = ip;
        (*nreqs)++;
    }
    return 0;
}

/* Automatic addresses: one from the first IPv4 subnet with room, one from
 * the first stateful IPv6 subnet, and the SLAAC address of every SLAAC
 * subnet (Neutron's rule). */
static int auto_ips(struct store_conn *c, const char *port_id, const char *mac,
                    struct net_subnet_row *subs, size_t nsubs, bool v4_only, struct st_err *err)
{
    bool v4_done = false, v6_done = false, v4_tried = false, v6_tried = false;
    char ip[IPAM_ADDR_STRLEN];
    struct st_err last = ST_ERR_INIT;
    for (size_t i = 0; i < nsubs; i++) {
        struct net_subnet_row *s = &subs[i];
        struct st_err e = ST_ERR_INIT;
        bool v4 = s->cidr.net.version == 4;
        if (v4_only && !v4)
            continue;
        if (!v4 && slaac(s)) {
            if (net_ip_allocate(c, s, port_id, mac, NULL, false, ip, err) < 0)
                return -1;
            continue;
        }
        if ((v4 && v4_done) || (!v4 && v6_done))
            continue;
        if (v4)
            v4_tried = true;
        else
            v6_tried = true;
        if (net_ip_allocate(c, s, port_id, mac, NULL, false, ip, &e) == 0) {
            if (v4)
                v4_done = true;
            else
                v6_done = true;
        } else if (!st_streq(e.type, "IpAddressGenerationFailure")) {
            *err = e;
            return -1;
        } else {
            last = e;
        }
    }
    if ((v4_tried && !v4_done) || (v6_tried && !v6_done)) {
        *err = last;
        return -1;
    }
    return 0;
}

/* ---- groups and pairs ---------------------------------------------------- */

static int pairs_check(json_t *pairs, struct st_err *err)
{
    size_t i, j;
    json_t *p;
    if (!json_is_array(pairs)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for allowed_address_pairs. Reason: it must be a list.");
        return -1;
    }
    if (json_array_size(pairs) > NET_MAX_PAIRS) {
        net_err(err, ST_ERR_BAD_REQUEST, "AllowedAddressPairExhausted",
                "The number of allowed address pair exceeds the maximum %d.", NET_MAX_PAIRS);
        return -1;
    }
    json_array_foreach(pairs, i, p)
    {
        const char *ip = json_string_value(json_object_get(p, "ip_address"));
        json_t *mac = json_object_get(p, "mac_address");
        struct ipam_addr a;
        struct ipam_cidr cc;
        char norm[18];
        if (!json_is_object(p) || !ip) {
            net_err(err, ST_ERR_BAD_REQUEST, "AllowedAddressPairsMissingIP",
                    "AllowedAddressPair must contain ip_address");
            return -1;
        }
        if (ipam_addr_parse(ip, &a) < 0 && ipam_cidr_parse(ip, &cc, NULL) < 0) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "Invalid input for ip_address. Reason: '%s' is not a valid IP address or "
                    "CIDR.",
                    ip);
            return -1;
        }
        if (mac && !json_is_null(mac) &&
            (!json_is_string(mac) || ipam_mac_normalize(json_string_value(mac), norm) < 0)) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "Invalid input for mac_address. Reason: '%s' is not a valid MAC address.",
                    json_is_string(mac) ? json_string_value(mac) : "value");
            return -1;
        }
        for (j = 0; j < i; j++) {
            json_t *q = json_array_get(pairs, j);
            if (st_streq(json_string_value(json_object_get(q, "ip_address")), ip) &&
                json_equal(json_object_get(q, "mac_address"), mac)) {
                net_err(err, ST_ERR_BAD_REQUEST, "DuplicateAddressPairInRequest",
                        "Request contains duplicate address pair: mac_address %s ip_address %s.",
                        json_is_string(mac) ? json_string_value(mac) : "None", ip);
                return -1;
            }
        }
    }
    return 0;
}

static int pairs_insert(struct store_conn *c, const char *port_id, const char *port_mac,
                        json_t *pairs, struct st_err *err)
{
    size_t i;
    json_t *p;
    json_array_foreach(pairs, i, p)
    {
        const char *mac = json_string_value(json_object_get(p, "mac_address"));
        char norm[18];
        if (!mac || ipam_mac_normalize(mac, norm) < 0)
            snprintf(norm, sizeof(norm), "%s", port_mac);
        if (store_exec(c, err,
                       "INSERT INTO allowed_address_pairs (port_id, ip_address, mac_address)"
                       " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                       STORE_ARGS(P(port_id),
                                  P(json_string_value(json_object_get(p, "ip_address"))),
                                  P(norm))) < 0)
            return -1;
    }
    return 0;
}

static int groups_insert(struct store_conn *c, const char *port_id, json_t *ids, struct st_err *err)
{
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (store_exec(c, err,
                       "INSERT INTO port_security_groups (port_id, security_group_id) VALUES"
                       " (?, ?) ON CONFLICT DO NOTHING",
                       STORE_ARGS(P(port_id), P(json_string_value(v)))) < 0)
            return -1;
    }
    return 0;
}

/* ---- insert, remove ------------------------------------------------------ */

int net_port_insert(struct store_conn *c, const struct auth_ctx *ctx,
                    const struct net_port_spec *spec, char id_out[37], struct st_err *err)
{
    struct net_row net;
    struct net_subnet_row *subs = NULL;
    struct ip_req reqs[NET_MAX_FIXED_IPS];
    size_t nsubs = 0, nreqs = 0;
    char mac[18], id[37], dflt[37];
    bool portsec;
    int64_t now = net_now();
    char *profile = NULL;
    int rc = -1;

    (void) ctx;
    if (net_network_load(c, spec->network_id, &net, err) < 0 ||
        net_subnets_of(c, spec->network_id, &subs, &nsubs, err) < 0)
        return -1;
    portsec = spec->port_security < 0 ? net.port_security : spec->port_security > 0;
    if (spec->fixed_ips && !spec->no_fixed_ips &&
        parse_fixed_ips(spec->fixed_ips, spec->network_id, subs, nsubs, reqs, &nreqs, err) < 0)
        goto out;
    if (!portsec && spec->security_groups && json_array_size(spec->security_groups)) {
        net_err(err, ST_ERR_BAD_REQUEST, "PortSecurityAndIPRequiredForSecurityGroups",
                "Port security must be enabled and port must have an IP address in order to use "
                "security groups.");
        goto out;
    }
    if (!portsec && spec->allowed_address_pairs && json_array_size(spec->allowed_address_pairs)) {
        net_err(err, ST_ERR_CONFLICT, "AddressPairAndPortSecurityRequired",
                "Port Security must be enabled in order to have allowed address pairs on a "
                "port.");
        goto out;
    }
    if (spec->allowed_address_pairs && pairs_check(spec->allowed_address_pairs, err) < 0)
        goto out;
    if (spec->mac_address && ipam_mac_normalize(spec->mac_address, mac) < 0) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for mac_address. Reason: '%s' is not a valid MAC address.",
                spec->mac_address);
        goto out;
    }
    profile = spec->binding_profile
                  ? json_dumps(spec->binding_profile, JSON_COMPACT | JSON_SORT_KEYS)
                  : st_xstrdup("{}");
    st_uuid(id);
    for (int t = 0;; t++) {
        int64_t n;
        if (!spec->mac_address)
            ipam_mac_random(mac);
        n = store_exec(
            c, err,
            "INSERT INTO ports (id, network_id, project_id, name, description,"
            " mac_address, admin_state_up, device_id, device_owner, host, vnic_type,"
            " binding_profile, port_security_enabled, server_owned, device_index,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            STORE_ARGS(
                P(id), P(spec->network_id), P(spec->project_id ? spec->project_id : ""),
                P(spec->name ? spec->name : ""), P(spec->description ? spec->description : ""),
                P(mac), P((int) spec->admin_state_up), P(spec->device_id ? spec->device_id : ""),
                P(spec->device_owner ? spec->device_owner : ""),
                P(spec->host && *spec->host ? spec->host : NULL),
                P(spec->vnic_type ? spec->vnic_type : "normal"), P(profile), P((int) portsec),
                P((int) spec->server_owned), P(spec->device_index), P(now), P(now)));
        if (n < 0)
            goto out;
        if (n > 0)
            break;
        if (spec->mac_address || t >= MAC_TRIES) {
            net_err(err, ST_ERR_CONFLICT, "MacAddressInUse",
                    "Unable to complete operation for network %s. The mac address %s is in use.",
                    spec->network_id, mac);
            goto out;
        }
    }
    /* Addresses. */
    if (spec->fixed_ips && !spec->no_fixed_ips) {
        bool router = starts(spec->device_owner, "network:router");
        for (size_t i = 0; i < nreqs; i++) {
            char ip[IPAM_ADDR_STRLEN];
            if (net_ip_allocate(c, reqs[i].subnet, id, mac, reqs[i].ip, router, ip, err) < 0)
                goto out;
        }
    } else if (!spec->no_fixed_ips) {
        if (auto_ips(c, id, mac, subs, nsubs, spec->v4_only, err) < 0)
            goto out;
    }
    /* Groups: those asked for; else the default group of the port's
     * project, except on the ports Neutron keeps for itself. */
    if (portsec) {
        if (spec->security_groups) {
            if (groups_insert(c, id, spec->security_groups, err) < 0)
                goto out;
        } else if (!starts(spec->device_owner, "network:") && spec->project_id &&
                   *spec->project_id) {
            json_t *one;
            if (net_sg_default(c, spec->project_id, dflt, err) < 0)
                goto out;
            one = json_pack("[s]", dflt);
            rc = groups_insert(c, id, one, err);
            json_decref(one);
            if (rc < 0)
                goto out;
            rc = -1;
        }
    }
    if (spec->allowed_address_pairs &&
        pairs_insert(c, id, mac, spec->allowed_address_pairs, err) < 0)
        goto out;
    snprintf(id_out, 37, "%s", id);
    rc = 0;
out:
    free(profile);
    free(subs);
    return rc;
}

int net_fip_port_gone(struct store_conn *c, const char *port_id, bool all, struct st_err *err)
{
    if (all)
        return store_exec(c, err,
                          "UPDATE floatingips SET port_id = NULL, fixed_ip_address = NULL,"
                          " router_id = NULL, status = 'DOWN', revision_number = revision_number"
                          " + 1, updated_at = ? WHERE port_id = ?",
                          STORE_ARGS(P(net_now()), P(port_id))) < 0
                   ? -1
                   : 0;
    return store_exec(c, err,
                      "UPDATE floatingips SET port_id = NULL, fixed_ip_address = NULL,"
                      " router_id = NULL, status = 'DOWN', revision_number = revision_number + 1,"
                      " updated_at = ? WHERE port_id = ? AND fixed_ip_address NOT IN (SELECT"
                      " ip_address FROM ip_allocations WHERE port_id = ?)",
                      STORE_ARGS(P(net_now()), P(port_id), P(port_id))) < 0
               ? -1
               : 0;
}

int net_port_remove(struct store_conn *c, const char *id, struct st_err *err)
{
    if (net_fip_port_gone(c, id, true, err) < 0 ||
        store_exec(c, err, "DELETE FROM ports WHERE id = ?", STORE_ARGS(P(id))) < 0 ||
        net_tags_drop(c, id, err) < 0)
        return -1;
    return 0;
}

int net_port_set_ips(struct store_conn *c, const char *port_id, const char *network_id,
                     const char *mac, const char *device_owner, json_t *fixed_ips,
                     struct st_err *err)
{
    struct net_subnet_row *subs = NULL;
    struct ip_req reqs[NET_MAX_FIXED_IPS];
    size_t nsubs = 0, nreqs = 0, i;
    json_t *cur = NULL, *e;
    bool router = starts(device_owner, "network:router");
    int rc = -1;

    if (net_subnets_of(c, network_id, &subs, &nsubs, err) < 0 ||
        parse_fixed_ips(fixed_ips, network_id, subs, nsubs, reqs, &nreqs, err) < 0)
        goto out;
    cur = net_port_fixed_ips(c, port_id, err);
    if (!cur)
        goto out;
    /* Keep what is asked for again: the same address, or an address on a
     * subnet named without one. */
    for (size_t r = 0; r < nreqs; r++) {
        json_array_foreach(cur, i, e)
        {
            const char *sid = json_string_value(json_object_get(e, "subnet_id"));
            const char *ip = json_string_value(json_object_get(e, "ip_address"));
            bool used = json_is_true(json_object_get(e, "kept"));
            if (used || strcmp(sid, reqs[r].subnet->id))
                continue;
            if (reqs[r].ip) {
                struct ipam_addr a, b;
                if (ipam_addr_parse(ip, &a) < 0 || ipam_addr_parse(reqs[r].ip, &b) < 0 ||
                    ipam_addr_cmp(&a, &b))
                    continue;
            }
            reqs[r].keep = true;
            snprintf(reqs[r].kept, sizeof(reqs[r].kept), "%s", ip);
            json_object_set_new(e, "kept", json_true());
            break;
        }
    }
    json_array_foreach(cur, i, e)
    {
        if (json_is_true(json_object_get(e, "kept")))
            continue;
        if (store_exec(c, err,
                       "DELETE FROM ip_allocations WHERE port_id = ? AND subnet_id = ? AND"
                       " ip_address = ?",
                       STORE_ARGS(P(port_id), P(json_string_value(json_object_get(e, "subnet_id"))),
                                  P(json_string_value(json_object_get(e, "ip_address"))))) < 0)
            goto out;
    }
    for (size_t r = 0; r < nreqs; r++) {
        char ip[IPAM_ADDR_STRLEN];
        if (reqs[r].keep)
            continue;
        if (net_ip_allocate(c, reqs[r].subnet, port_id, mac, reqs[r].ip, router, ip, err) < 0)
            goto out;
    }
    if (net_fip_port_gone(c, port_id, false, err) < 0)
        goto out;
    rc = 0;
out:
    json_decref(cur);
    free(subs);
    return rc;
}

/* ---- DHCP ports ---------------------------------------------------------- */

int net_dhcp_sync(struct store_conn *c, const char *network_id, struct st_err *err)
{
    struct net_row net;
    struct net_subnet_row *subs = NULL;
    size_t nsubs = 0, ndhcp = 0;
    struct store_stmt *s;
    char port[37] = "", mac[18] = "", device[64];
    json_t *have = NULL;
    int rc = -1, r;

    if (net_network_load(c, network_id, &net, err) < 0 ||
        net_subnets_of(c, network_id, &subs, &nsubs, err) < 0)
        goto out;
    for (size_t i = 0; i < nsubs; i++)
        ndhcp += subs[i].enable_dhcp;
    s = store_query(c, err,
                    "SELECT id, mac_address FROM ports WHERE network_id = ? AND device_owner ="
                    " 'network:dhcp' ORDER BY created_at, id",
                    STORE_ARGS(P(network_id)));
    if (!s)
        goto out;
    r = store_next(s, err);
    if (r > 0) {
        snprintf(port, sizeof(port), "%s", store_text(s, 0));
        snprintf(mac, sizeof(mac), "%s", store_text(s, 1));
    }
    store_done(s);
    if (r < 0)
        goto out;
    if (!ndhcp) {
        rc = port[0] ? net_port_remove(c, port, err) : 0;
        goto out;
    }
    if (!port[0]) {
        json_t *fixed = json_array(), *none = json_array();
        struct net_port_spec spec = {
            .network_id = network_id,
            .project_id = net.project_id,
            .device_owner = "network:dhcp",
            .host = net.dhcp_host,
            .fixed_ips = fixed,
            .no_fixed_ips = true,
            .security_groups = none,
            .port_security = 0,
            .admin_state_up = true,
        };
        snprintf(device, sizeof(device), "dhcp-%s", network_id);
        spec.device_id = device;
        r = net_port_insert(c, NULL, &spec, port, err);
        json_decref(fixed);
        json_decref(none);
        if (r < 0)
            goto out;
        s = store_query(c, err, "SELECT mac_address FROM ports WHERE id = ?", STORE_ARGS(P(port)));
        if (!s)
            goto out;
        if (store_next(s, err) > 0)
            snprintf(mac, sizeof(mac), "%s", store_text(s, 0));
        store_done(s);
    }
    have = net_port_fixed_ips(c, port, err);
    if (!have)
        goto out;
    for (size_t i = 0; i < nsubs; i++) {
        bool has = false;
        size_t k;
        json_t *e;
        json_array_foreach(have, k, e) has |=
            st_streq(json_string_value(json_object_get(e, "subnet_id")), subs[i].id);
        if (subs[i].enable_dhcp && !has) {
            char ip[IPAM_ADDR_STRLEN];
            struct st_err e2 = ST_ERR_INIT;
            /* A full subnet leaves DHCP without an address there rather
             * than failing the change that asked for it. */
            if (net_ip_allocate(c, &subs[i], port, mac, NULL, false, ip, &e2) < 0 &&
                !st_streq(e2.type, "IpAddressGenerationFailure")) {
                *err = e2;
                goto out;
            }
        } else if (!subs[i].enable_dhcp && has) {
            if (store_exec(c, err, "DELETE FROM ip_allocations WHERE port_id = ? AND subnet_id = ?",
                           STORE_ARGS(P(port), P(subs[i].id))) < 0)
                goto out;
        }
    }
    rc = 0;
out:
    json_decref(have);
    free(subs);
    return rc;
}

/* ---- representation ------------------------------------------------------ */

static json_t *port_row_json(struct store_conn *c, const struct auth_ctx *ctx, struct store_stmt *s,
                             struct st_err *err)
{
    const char *id = store_text(s, C_ID);
    json_t *o = json_object(), *fixed = NULL, *groups = json_array(), *pairs = json_array();
    struct store_stmt *q;
    bool up = store_int(s, C_ADMIN_UP) != 0;
    const char *host = store_text(s, C_HOST);
    int rc;

    if (!(fixed = net_port_fixed_ips(c, id, err)))
        goto fail;
    q = store_query(c, err,
                    "SELECT security_group_id FROM port_security_groups WHERE port_id = ?"
                    " ORDER BY security_group_id",
                    STORE_ARGS(P(id)));
    if (!q)
        goto fail;
    while ((rc = store_next(q, err)) > 0)
        json_array_append_new(groups, json_string(store_text(q, 0)));
    store_done(q);
    if (rc < 0)
        goto fail;
    q = store_query(c, err,
                    "SELECT ip_address, mac_address FROM allowed_address_pairs WHERE port_id = ?"
                    " ORDER BY ip_address, mac_address",
                    STORE_ARGS(P(id)));
    if (!q)
        goto fail;
    while ((rc = store_next(q, err)) > 0)
        json_array_append_new(pairs, json_pack("{s:s, s:s}", "ip_address", store_text(q, 0),
                                               "mac_address", store_text(q, 1)));
    store_done(q);
    if (rc < 0)
        goto fail;
    if (net_std_attrs(c, o, id, store_text(s, C_PROJECT), store_text(s, C_DESC),
                      store_int(s, C_REV), store_int(s, C_CREATED), store_int(s, C_UPDATED),
                      err) < 0)
        goto fail;
    json_object_set_new(o, "name", json_string(store_text(s, C_NAME)));
    json_object_set_new(o, "network_id", json_string(store_text(s, C_NET)));
    json_object_set_new(o, "mac_address", json_string(store_text(s, C_MAC)));
    json_object_set_new(o, "admin_state_up", json_boolean(up));
    json_object_set_new(o, "status", json_string(up ? store_text(s, C_STATUS) : "DOWN"));
    json_object_set_new(o, "device_id", json_string(store_text(s, C_DEVICE_ID)));
    json_object_set_new(o, "device_owner", json_string(store_text(s, C_OWNER)));
    json_object_set_new(o, "fixed_ips", fixed);
    fixed = NULL;
    json_object_set_new(o, "security_groups", groups);
    groups = NULL;
    json_object_set_new(o, "allowed_address_pairs", pairs);
    pairs = NULL;
    json_object_set_new(o, "port_security_enabled", json_boolean(store_int(s, C_PORTSEC)));
    json_object_set_new(o, "binding:vnic_type", json_string(store_text(s, C_VNIC)));
    if (ctx->is_admin) {
        /* As Neutron's policy: the binding details are for admins. */
        json_object_set_new(o, "binding:host_id", json_string(host ? host : ""));
        json_object_set_new(o, "binding:profile", net_json_col(s, C_PROFILE, json_object()));
        json_object_set_new(o, "binding:vif_type", json_string(host ? "bridge" : "unbound"));
        json_object_set_new(o, "binding:vif_details",
                            host ? json_pack("{s:b, s:s}", "port_filter", 1, "connectivity", "l2")
                                 : json_object());
    }
    return o;
fail:
    json_decref(fixed);
    json_decref(groups);
    json_decref(pairs);
    json_decref(o);
    return NULL;
}

/* Ports are their project's, and visible to the owner of their network. */
static bool port_visible(const struct auth_ctx *ctx, struct store_stmt *s)
{
    return ctx->is_admin ||
           (ctx->project_scoped && (st_streq(store_text(s, C_PROJECT), ctx->project_id) ||
                                    st_streq(store_text(s, C_NET_PROJECT), ctx->project_id)));
}

json_t *net_port_json(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT " PORT_COLS " FROM ports p JOIN networks n ON"
                                       " n.id = p.network_id WHERE p.id = ?",
                                       STORE_ARGS(P(id)));
    json_t *o = NULL;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0) {
        if (port_visible(ctx, s))
            o = port_row_json(c, ctx, s, err);
        else
            net_not_found(err, "port", id);
    } else if (rc == 0) {
        net_not_found(err, "port", id);
    }
    store_done(s);
    return o;
}

json_t *net_port_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                     struct st_err *err)
{
    json_t *o = net_port_json(c, ctx, id, err);
    if (o && !ctx->is_admin && !ctx->is_reader) {
        json_decref(o);
        net_err(err, ST_ERR_FORBIDDEN, "PolicyNotAuthorized",
                "(rule:get_port) is disallowed by policy");
        return NULL;
    }
    return o;
}

static json_t *port_row(struct store_conn *c, struct store_stmt *s, void *arg,
                        struct st_err *err)
{
    const struct auth_ctx *ctx = arg;
    return port_visible(ctx, s) ? port_row_json(c, ctx, s, err) : NULL;
}

json_t *net_port_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    const char *scope = policy_scope(ctx);
    return store_collect(c, err, port_row, (void *) ctx,
                         "SELECT " PORT_COLS " FROM ports p JOIN networks n ON n.id = p.network_id"
                         " WHERE CAST(? AS TEXT) IS NULL OR p.project_id = ? OR n.project_id = ?"
                         " ORDER BY p.created_at, p.id",
                         STORE_ARGS(P(scope), P(scope), P(scope)));
}

/* ---- the API's calls ------------------------------------------------------ */

/* The ids of the groups a request names (ids or names), checked. */
static json_t *resolve_groups(struct store_conn *c, const struct auth_ctx *ctx,
                              const char *project_id, json_t *groups, struct st_err *err)
{
    json_t *ids, *v;
    size_t i;
    if (!json_is_array(groups) || json_array_size(groups) > 64) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for security_groups. Reason: it must be a list.");
        return NULL;
    }
    ids = json_array();
    json_array_foreach(groups, i, v)
    {
        char id[37];
        if (!json_is_string(v)) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "Invalid input for security_groups. Reason: it must be a list of ids.");
            json_decref(ids);
            return NULL;
        }
        if (net_sg_resolve(c, ctx, project_id, json_string_value(v), id, err) < 0) {
            json_decref(ids);
            return NULL;
        }
        json_array_append_new(ids, json_string(id));
    }
    return ids;
}

static const char *const create_keys[] = {
    "network_id",
    "name",
    "description",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "security_groups",
    "port_security_enabled",
    "allowed_address_pairs",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
    "project_id",
    "tenant_id",
    "tags",
};

static int check_vnic(const char *v, struct st_err *err)
{
    if (v && strcmp(v, "normal")) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for binding:vnic_type. Reason: '%s' is not in ['normal'].", v);
        return -1;
    }
    return 0;
}

json_t *net_port_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                        struct st_err *err)
{
    char project[AUTH_ID_MAX], id[37];
    const char *network_id = NULL, *name = "", *desc = "", *mac = NULL, *device_id = "",
               *owner = "", *host = NULL, *vnic = NULL;
    bool up = true, portsec = true, has_portsec, has_host;
    json_t *fixed = json_object_get(in, "fixed_ips"),
           *groups = json_object_get(in, "security_groups");
    json_t *pairs = json_object_get(in, "allowed_address_pairs");
    json_t *profile = json_object_get(in, "binding:profile"), *tags = json_object_get(in, "tags");
    json_t *group_ids = NULL;
    struct net_row net;

    if (net_check_keys(in, create_keys, ST_ARRAY_SIZE(create_keys), err) < 0 ||
        net_owner(ctx, in, project, err) < 0 ||
        net_get_str(in, "network_id", 36, false, &network_id, NULL, err) < 0 ||
        net_get_str(in, "name", NET_NAME_MAX, false, &name, NULL, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, NULL, err) < 0 ||
        net_get_str(in, "mac_address", 32, false, &mac, NULL, err) < 0 ||
        net_get_str(in, "device_id", NET_NAME_MAX, false, &device_id, NULL, err) < 0 ||
        net_get_str(in, "device_owner", NET_NAME_MAX, false, &owner, NULL, err) < 0 ||
        net_get_str(in, "binding:host_id", NET_NAME_MAX, false, &host, &has_host, err) < 0 ||
        net_get_str(in, "binding:vnic_type", 32, false, &vnic, NULL, err) < 0 ||
        net_get_bool(in, "admin_state_up", &up, NULL, err) < 0 ||
        net_get_bool(in, "port_security_enabled", &portsec, &has_portsec, err) < 0 ||
        check_vnic(vnic, err) < 0 || (tags && net_tags_check(tags, err) < 0))
        return NULL;
    if (!network_id) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Failed to parse request. Required attribute 'network_id' not specified");
        return NULL;
    }
    if (profile && !json_is_object(profile)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for binding:profile. Reason: it must be a dictionary.");
        return NULL;
    }
    if (!ctx->is_admin && (has_host || profile)) {
        net_forbidden_attr(err, "create_port", has_host ? "binding:host_id" : "binding:profile");
        return NULL;
    }
    if (pairs && json_is_null(pairs))
        pairs = NULL;
    if (store_begin(c, err) < 0)
        return NULL;
    if (net_network_load(c, network_id, &net, err) < 0 ||
        net_may_read(ctx, net.project_id, net.shared || net.external, "network", network_id, err) <
            0)
        goto fail;
    if (!ctx->is_admin && !net.shared && strcmp(net.project_id, project)) {
        net_err(err, ST_ERR_FORBIDDEN, "NotAuthorized",
                "Tenant %s not allowed to create port on this network", project);
        goto fail;
    }
    if (!ctx->is_admin && starts(owner, "network:") && strcmp(net.project_id, project)) {
        net_forbidden_attr(err, "create_port", "device_owner");
        goto fail;
    }
    if (groups && !json_is_null(groups) &&
        !(group_ids = resolve_groups(c, ctx, project, groups, err)))
        goto fail;
    if (net_quota_check(c, project, NET_Q_PORT, 1, err) < 0)
        goto fail;
    struct net_port_spec spec = {
        .network_id = network_id,
        .project_id = project,
        .name = name,
        .description = desc,
        .mac_address = mac,
        .device_id = device_id,
        .device_owner = owner,
        .host = host,
        .vnic_type = vnic,
        .binding_profile = profile,
        .fixed_ips = fixed && !json_is_null(fixed) ? fixed : NULL,
        .no_fixed_ips = json_is_array(fixed) && json_array_size(fixed) == 0,
        .security_groups = group_ids,
        .allowed_address_pairs = pairs,
        .port_security = has_portsec ? portsec : -1,
        .admin_state_up = up,
    };
    if (!has_portsec && !net.port_security && group_ids && json_array_size(group_ids))
        spec.port_security = 1; /* asking for groups asks for port security */
    if (net_port_insert(c, ctx, &spec, id, err) < 0 ||
        (tags && net_tags_replace(c, id, tags, err) < 0) || net_changed(c, err) < 0)
        goto fail;
    json_decref(group_ids);
    group_ids = NULL;
    if (net_commit(c, err) < 0)
        return NULL;
    return net_port_json(c, ctx, id, err);
fail:
    json_decref(group_ids);
    store_rollback(c);
    return NULL;
}

struct port_row {
    char id[37], network_id[37], project_id[AUTH_ID_MAX], mac[18], owner[256], device_id[256];
    char net_project[AUTH_ID_MAX];
    bool portsec;
};

static int port_load(struct store_conn *c, const char *id, struct port_row *r, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT p.id, p.network_id, p.project_id, p.mac_address,"
                                       " p.device_owner, p.device_id, p.port_security_enabled,"
                                       " n.project_id FROM ports p JOIN networks n ON n.id ="
                                       " p.network_id WHERE p.id = ?",
                                       STORE_ARGS(P(id)));
    int rc;
    if (!s)
        return -1;
    memset(r, 0, sizeof(*r));
    rc = store_next(s, err);
    if (rc > 0) {
        snprintf(r->id, sizeof(r->id), "%s", store_text(s, 0));
        snprintf(r->network_id, sizeof(r->network_id), "%s", store_text(s, 1));
        snprintf(r->project_id, sizeof(r->project_id), "%s", store_text(s, 2));
        snprintf(r->mac, sizeof(r->mac), "%s", store_text(s, 3));
        snprintf(r->owner, sizeof(r->owner), "%s", store_text(s, 4));
        snprintf(r->device_id, sizeof(r->device_id), "%s", store_text(s, 5));
        r->portsec = store_int(s, 6) != 0;
        snprintf(r->net_project, sizeof(r->net_project), "%s", store_text(s, 7));
    }
    store_done(s);
    if (rc == 0)
        net_not_found(err, "port", id);
    return rc > 0 ? 0 : -1;
}

/* Ports of a project, and those on a network the caller owns, for the
 * network's owner as Neutron allows. */
static int port_writable(const struct auth_ctx *ctx, const struct port_row *r, struct st_err *err)
{
    if (ctx->is_admin)
        return 0;
    if (ctx->project_scoped && st_streq(r->net_project, ctx->project_id) &&
        !st_streq(r->project_id, ctx->project_id))
        return policy_write(ctx, r->net_project, "port", r->id, err);
    return net_may_write(ctx, r->project_id, false, "port", r->id, err);
}

static const char *const update_keys[] = {
    "name",
    "description",
    "admin_state_up",
    "fixed_ips",
    "device_id",
    "device_owner",
    "security_groups",
    "port_security_enabled",
    "allowed_address_pairs",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
    "mac_address",
};

json_t *net_port_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        json_t *in, struct st_err *err)
{
    struct port_row r;
    const char *name = NULL, *desc = NULL, *device_id = NULL, *owner = NULL, *host = NULL,
               *vnic = NULL, *mac = NULL;
    bool has_name = false, has_desc = false, has_dev = false, has_owner = false, has_host = false,
         has_vnic = false, has_mac = false, up = false, has_up = false, portsec = false,
         has_portsec = false;
    json_t *fixed = json_object_get(in, "fixed_ips"),
           *groups = json_object_get(in, "security_groups");
    json_t *pairs = json_object_get(in, "allowed_address_pairs");
    json_t *profile = json_object_get(in, "binding:profile"), *group_ids = NULL;
    char *profile_text = NULL, norm[18] = "";
    int64_t ngroups = 0, npairs = 0;

    if (net_check_keys(in, update_keys, ST_ARRAY_SIZE(update_keys), err) < 0 ||
        net_get_str(in, "name", NET_NAME_MAX, false, &name, &has_name, err) < 0 ||
        net_get_str(in, "description", NET_DESC_MAX, false, &desc, &has_desc, err) < 0 ||
        net_get_str(in, "device_id", NET_NAME_MAX, false, &device_id, &has_dev, err) < 0 ||
        net_get_str(in, "device_owner", NET_NAME_MAX, false, &owner, &has_owner, err) < 0 ||
        net_get_str(in, "binding:host_id", NET_NAME_MAX, false, &host, &has_host, err) < 0 ||
        net_get_str(in, "binding:vnic_type", 32, false, &vnic, &has_vnic, err) < 0 ||
        net_get_str(in, "mac_address", 32, false, &mac, &has_mac, err) < 0 ||
        net_get_bool(in, "admin_state_up", &up, &has_up, err) < 0 ||
        net_get_bool(in, "port_security_enabled", &portsec, &has_portsec, err) < 0 ||
        check_vnic(vnic, err) < 0)
        return NULL;
    if (!ctx->is_admin && (has_host || profile || has_mac)) {
        net_forbidden_attr(err, "update_port",
                           has_host  ? "binding:host_id"
                           : profile ? "binding:profile"
                                     : "mac_address");
        return NULL;
    }
    if (profile && !json_is_object(profile)) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for binding:profile. Reason: it must be a dictionary.");
        return NULL;
    }
    if (has_mac && ipam_mac_normalize(mac, norm) < 0) {
        net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                "Invalid input for mac_address. Reason: '%s' is not a valid MAC address.", mac);
        return NULL;
    }
    if (pairs && !json_is_null(pairs) && pairs_check(pairs, err) < 0)
        return NULL;
    if (store_begin(c, err) < 0)
        return NULL;
    if (port_load(c, id, &r, err) < 0 || port_writable(ctx, &r, err) < 0)
        goto fail;
    if (has_owner && !ctx->is_admin && starts(owner, "network:") &&
        !st_streq(r.net_project, ctx->project_id)) {
        net_forbidden_attr(err, "update_port", "device_owner");
        goto fail;
    }
    if (groups && !json_is_null(groups) &&
        !(group_ids = resolve_groups(c, ctx, r.project_id, groups, err)))
        goto fail;
    if (groups && json_is_null(groups))
        group_ids = json_array();
    if (has_mac) {
        int64_t n = store_exec(c, err,
                               "UPDATE ports SET mac_address = ? WHERE id = ? AND NOT EXISTS"
                               " (SELECT 1 FROM ports q WHERE q.network_id = ? AND"
                               " q.mac_address = ? AND q.id <> ?)",
                               STORE_ARGS(P(norm), P(id), P(r.network_id), P(norm), P(id)));
        if (n < 0)
            goto fail;
        if (n == 0) {
            net_err(err, ST_ERR_CONFLICT, "MacAddressInUse",
                    "Unable to complete operation for network %s. The mac address %s is in use.",
                    r.network_id, norm);
            goto fail;
        }
        snprintf(r.mac, sizeof(r.mac), "%s", norm);
    }
    if (fixed && !json_is_null(fixed) &&
        net_port_set_ips(c, id, r.network_id, r.mac, has_owner ? owner : r.owner, fixed, err) < 0)
        goto fail;
    if (group_ids) {
        if (store_exec(c, err, "DELETE FROM port_security_groups WHERE port_id = ?",
                       STORE_ARGS(P(id))) < 0 ||
            groups_insert(c, id, group_ids, err) < 0)
            goto fail;
    }
    if (pairs) {
        if (store_exec(c, err, "DELETE FROM allowed_address_pairs WHERE port_id = ?",
                       STORE_ARGS(P(id))) < 0 ||
            (json_is_array(pairs) && pairs_insert(c, id, r.mac, pairs, err) < 0))
            goto fail;
    }
    if (profile)
        profile_text = json_dumps(profile, JSON_COMPACT | JSON_SORT_KEYS);
    if (store_exec(c, err,
                   "UPDATE ports SET name = CASE WHEN ? = 1 THEN ? ELSE name END,"
                   " description = CASE WHEN ? = 1 THEN ? ELSE description END,"
                   " admin_state_up = CASE WHEN ? = 1 THEN ? ELSE admin_state_up END,"
                   " device_id = CASE WHEN ? = 1 THEN ? ELSE device_id END,"
                   " device_owner = CASE WHEN ? = 1 THEN ? ELSE device_owner END,"
                   " host = CASE WHEN ? = 1 THEN ? ELSE host END,"
                   " vnic_type = CASE WHEN ? = 1 THEN ? ELSE vnic_type END,"
                   " binding_profile = COALESCE(?, binding_profile),"
                   " port_security_enabled = CASE WHEN ? = 1 THEN ? ELSE port_security_enabled"
                   " END, revision_number = revision_number + 1, updated_at = ? WHERE id = ?",
                   STORE_ARGS(P((int) has_name), P(name), P((int) has_desc), P(desc),
                              P((int) has_up), P((int) up), P((int) has_dev), P(device_id),
                              P((int) has_owner), P(owner), P((int) has_host),
                              P(host && *host ? host : NULL), P((int) has_vnic), P(vnic),
                              P(profile_text), P((int) has_portsec), P((int) portsec), P(net_now()),
                              P(id))) < 0)
        goto fail;
    /* Port security off leaves no room for groups or pairs. */
    if (store_get_int(c, err, &ngroups,
                      "SELECT COUNT(*) FROM port_security_groups WHERE port_id = ?",
                      STORE_ARGS(P(id))) < 0 ||
        store_get_int(c, err, &npairs,
                      "SELECT COUNT(*) FROM allowed_address_pairs WHERE port_id = ?",
                      STORE_ARGS(P(id))) < 0)
        goto fail;
    if (has_portsec && !portsec && ngroups) {
        net_err(err, ST_ERR_BAD_REQUEST, "PortSecurityAndIPRequiredForSecurityGroups",
                "Port has security group associated. Cannot disable port security or ip address "
                "until security group is removed");
        goto fail;
    }
    if (!(has_portsec ? portsec : r.portsec) && (npairs || ngroups)) {
        if (npairs)
            net_err(err, ST_ERR_CONFLICT, "AddressPairAndPortSecurityRequired",
                    "Port Security must be enabled in order to have allowed address pairs on a "
                    "port.");
        else
            net_err(err, ST_ERR_BAD_REQUEST, "PortSecurityAndIPRequiredForSecurityGroups",
                    "Port security must be enabled and port must have an IP address in order to "
                    "use security groups.");
        goto fail;
    }
    if (net_changed(c, err) < 0)
        goto fail;
    free(profile_text);
    json_decref(group_ids);
    if (net_commit(c, err) < 0)
        return NULL;
    return net_port_json(c, ctx, id, err);
fail:
    free(profile_text);
    json_decref(group_ids);
    store_rollback(c);
    return NULL;
}

int net_port_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    struct st_err *err)
{
    struct port_row r;
    if (store_begin(c, err) < 0)
        return -1;
    if (port_load(c, id, &r, err) < 0 || port_writable(ctx, &r, err) < 0)
        goto fail;
    if (!strcmp(r.owner, "network:router_interface") ||
        !strcmp(r.owner, "network:router_gateway") || !strcmp(r.owner, "network:floatingip")) {
        net_err(err, ST_ERR_CONFLICT, "ServicePortInUse",
                "Port %s cannot be deleted directly via the port API: has device owner %s.", id,
                r.owner);
        goto fail;
    }
    if (net_port_remove(c, id, err) < 0 || net_changed(c, err) < 0)
        goto fail;
    return net_commit(c, err);
fail:
    store_rollback(c);
    return -1;
}

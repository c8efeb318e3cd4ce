/*
 * internal.h - what the files of the network module share with one another
 * and with nobody else: the configuration as parsed, time and JSON helpers,
 * tags, quotas, placement, the default security group, and the port
 * primitives that subnets, routers, floating IPs and servers build on.
 *
 * None of these functions opens or ends a transaction: they run inside the
 * caller's.  The functions of neutron.h and network.h that change state own
 * their transaction, except where network.h says otherwise.
 */
#ifndef ST_NETWORK_INTERNAL_H
#define ST_NETWORK_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "identity/policy.h"
#include "network/ipam.h"
#include "network/neutron.h"
#include "store/store.h"

#define NET_NAME_MAX 255
#define NET_DESC_MAX 255
#define NET_MAX_FIXED_IPS 16
#define NET_MAX_PAIRS 16
#define NET_MAX_POOLS 16
#define NET_MAX_ROUTES 64
#define NET_MAX_DNS 5
#define NET_MAX_TAGS 50
#define NET_TAG_MAX 255

#define NET_MAX_RANGES 16
#define NET_PHYSNET_MAX 64

struct net_range {
    char physnet[NET_PHYSNET_MAX]; /* "" for VXLAN */
    int64_t lo, hi;                /* 0, 0: a physnet listed without a range */
};

struct net_conf {
    char tenant_types[4][8]; /* "vxlan", "vlan", "local", in order of preference */
    int ntenant_types;
    struct net_range vni[NET_MAX_RANGES];
    int nvni;
    struct net_range vlan[NET_MAX_RANGES];
    int nvlan;
    char flat[NET_MAX_RANGES][NET_PHYSNET_MAX];
    int nflat;
    bool flat_any;               /* flat_networks = * */
    int64_t physnet_mtu;         /* global_physnet_mtu */
    int64_t service_down_time;   /* seconds: a host is up while younger */
    int64_t quota[NET_Q__COUNT]; /* defaults per project */
};

/* The configuration in force: net_configure()'s, or the defaults. */
const struct net_conf *net_conf(void);

/* Now, in seconds; the Neutron time stamp of 'secs'. */
int64_t net_now(void);
json_t *net_time(int64_t secs);
/* JSON of a possibly NULL text column: the string or null. */
json_t *net_text(struct store_stmt *s, int col);
/* A stored JSON column, or 'dflt' (stolen) when absent or malformed. */
json_t *net_json_col(struct store_stmt *s, int col, json_t *dflt);
/* Adds the standard attributes to 'o': id, project_id and tenant_id,
 * description, created_at, updated_at, revision_number and tags (which it
 * reads; -1 on error). */
int net_std_attrs(struct store_conn *c, json_t *o, const char *id, const char *project_id,
                  const char *description, int64_t revision, int64_t created, int64_t updated,
                  struct st_err *err) __attribute__((warn_unused_result));
/* Reads a string attribute of at most 'max' characters (null counts as
 * absent unless 'null_ok', then *out is NULL). */
int net_get_str(json_t *in, const char *key, size_t max, bool null_ok, const char **out,
                bool *present, struct st_err *err) __attribute__((warn_unused_result));
/* Reads an integer attribute (or a string of one) in [min, max]. */
int net_get_int(json_t *in, const char *key, int64_t min, int64_t max, int64_t *out, bool *present,
                struct st_err *err) __attribute__((warn_unused_result));
/* Reads a Neutron boolean: JSON true/false, or "true"/"True"/"1"... */
int net_get_bool(json_t *in, const char *key, bool *out, bool *present, struct st_err *err)
    __attribute__((warn_unused_result));
/* 400 "Unrecognized attribute(s) 'a, b'" for keys of 'in' not in 'known'. */
int net_check_keys(json_t *in, const char *const *known, size_t n, struct st_err *err)
    __attribute__((warn_unused_result));
/* Sets 'err' with a Neutron exception name. */
void net_err(struct st_err *err, enum st_err_kind kind, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 404 in Neutron's words for resource kind 'what' ("network", "subnet",
 * "port", "router", "floatingip", "security group", "security group
 * rule"). */
void net_not_found(struct st_err *err, const char *what, const char *id);

/* Who may see and change what (the rules are policy.h's; these apply them
 * to Neutron's shapes).  'shared' is true for a resource every project may
 * read (a shared or external network and its subnets). */
int net_may_read(const struct auth_ctx *ctx, const char *project_id, bool shared, const char *what,
                 const char *id, struct st_err *err) __attribute__((warn_unused_result));
int net_may_write(const struct auth_ctx *ctx, const char *project_id, bool shared, const char *what,
                  const char *id, struct st_err *err) __attribute__((warn_unused_result));
/* The project a new resource belongs to: the caller's, or for an admin the
 * "project_id"/"tenant_id" of the request.  403 when another is asked for
 * by a non-admin. */
int net_owner(const struct auth_ctx *ctx, json_t *in, char out[AUTH_ID_MAX], struct st_err *err)
    __attribute__((warn_unused_result));
/* A 403 in Neutron's words for an attribute only admins may set. */
void net_forbidden_attr(struct st_err *err, const char *action, const char *attr);

/* Every change an agent realises bumps every host (network.h). */
int net_changed(struct store_conn *c, struct st_err *err) __attribute__((warn_unused_result));
/* Ends a transaction that may have bumped hosts: commits and wakes the
 * long-polls, or rolls back. */
int net_commit(struct store_conn *c, struct st_err *err) __attribute__((warn_unused_result));

/* Tags of any resource (standard-attr-tag). */
json_t *net_tags_json(struct store_conn *c, const char *id, struct st_err *err);
int net_tags_replace(struct store_conn *c, const char *id, json_t *tags, struct st_err *err)
    __attribute__((warn_unused_result));
int net_tags_drop(struct store_conn *c, const char *id, struct st_err *err)
    __attribute__((warn_unused_result));
/* Checks a "tags" request value: an array of at most NET_MAX_TAGS strings. */
int net_tags_check(json_t *tags, struct st_err *err) __attribute__((warn_unused_result));

/* 409 OverQuota when 'project_id' would hold more than its limit of
 * 'res' after adding 'want'. */
int net_quota_check(struct store_conn *c, const char *project_id, enum net_quota_res res,
                    int64_t want, struct st_err *err) __attribute__((warn_unused_result));

/* The first registered host that is up and enabled (by registration
 * order), into 'out'; "" when none is. */
int net_pick_host(struct store_conn *c, char *out, size_t n, struct st_err *err)
    __attribute__((warn_unused_result));

/* The id of 'project_id''s default security group, created (with
 * Neutron's default rules) on first use, race-free. */
int net_sg_default(struct store_conn *c, const char *project_id, char out[37], struct st_err *err)
    __attribute__((warn_unused_result));

/* A network's row as the other files need it. */
struct net_row {
    char id[37];
    char project_id[AUTH_ID_MAX];
    char network_type[8];
    char physical_network[NET_PHYSNET_MAX];
    int64_t segmentation_id; /* 0: none */
    int64_t mtu;
    bool shared, external, port_security, admin_state_up;
    char dhcp_host[256];
};
/* Loads network 'id' (NOT_FOUND "NetworkNotFound" when absent; no access
 * check). */
int net_network_load(struct store_conn *c, const char *id, struct net_row *r, struct st_err *err)
    __attribute__((warn_unused_result));

/* A subnet's row. */
struct net_subnet_row {
    char id[37];
    char network_id[37];
    char project_id[AUTH_ID_MAX];
    struct ipam_cidr cidr;
    bool has_gateway;
    struct ipam_addr gateway;
    bool enable_dhcp;
    char ipv6_address_mode[24];
    struct ipam_pool pools[NET_MAX_POOLS];
    size_t npools;
};
int net_subnet_load(struct store_conn *c, const char *id, struct net_subnet_row *r,
                    struct st_err *err) __attribute__((warn_unused_result));
/* The subnets of a network, in creation order; *n of them in a new array
 * (free()). */
int net_subnets_of(struct store_conn *c, const char *network_id, struct net_subnet_row **out,
                   size_t *n, struct st_err *err) __attribute__((warn_unused_result));

/* What a new port is made of (ports, DHCP, router legs, floating IPs,
 * servers).  Strings are borrowed. */
struct net_port_spec {
    const char *network_id;
    const char *project_id;
    const char *name, *description;
    const char *mac_address; /* NULL: random */
    const char *device_id, *device_owner;
    const char *host;        /* binding:host_id, or NULL */
    const char *vnic_type;   /* NULL: "normal" */
    json_t *binding_profile; /* NULL: {} */
    json_t *fixed_ips;       /* request list, or NULL: automatic */
    bool no_fixed_ips;       /* "fixed_ips": [] */
    bool v4_only;            /* automatic: one IPv4 address only (floating IPs) */
    json_t *security_groups; /* ids (already checked), or NULL: the default */
    json_t *allowed_address_pairs;
    int port_security; /* -1: the network's */
    bool admin_state_up;
    bool server_owned;
    int64_t device_index;
};
/* Inserts the port, its addresses, groups and pairs.  Returns 0 and the
 * new id in 'id_out'.  Errors: 409 MacAddressInUse, IpAddressAlreadyAllocated,
 * IpAddressGenerationFailure; 400 InvalidIpForSubnet/InvalidIpForNetwork. */
int net_port_insert(struct store_conn *c, const struct auth_ctx *ctx,
                    const struct net_port_spec *spec, char id_out[37], struct st_err *err)
    __attribute__((warn_unused_result));
/* Deletes a port and what hangs on it (addresses, groups, pairs, tags),
 * disassociating floating IPs that pointed at it. */
int net_port_remove(struct store_conn *c, const char *id, struct st_err *err)
    __attribute__((warn_unused_result));
/* Replaces a port's addresses with 'fixed_ips' (a request list; entries
 * naming only a subnet keep the address the port has there). */
int net_port_set_ips(struct store_conn *c, const char *port_id, const char *network_id,
                     const char *mac, const char *device_owner, json_t *fixed_ips,
                     struct st_err *err) __attribute__((warn_unused_result));
/* Allocates one address on subnet 's' for 'port_id': 'want' (NULL: the
 * first free one in the pools).  'out' gets the address text. */
int net_ip_allocate(struct store_conn *c, const struct net_subnet_row *s, const char *port_id,
                    const char *mac, const char *want, bool router_port, char out[IPAM_ADDR_STRLEN],
                    struct st_err *err) __attribute__((warn_unused_result));
/* The fixed IPs of a port: [{"subnet_id", "ip_address"}] (new array). */
json_t *net_port_fixed_ips(struct store_conn *c, const char *port_id, struct st_err *err);
/* Keeps the DHCP port of a network in step with its subnets: one port
 * (network:dhcp) with an address on every subnet that has DHCP enabled,
 * none when no subnet has. */
int net_dhcp_sync(struct store_conn *c, const char *network_id, struct st_err *err)
    __attribute__((warn_unused_result));
/* Disassociates floating IPs whose fixed address the port no longer has
 * (or every one of the port's, when 'all'). */
int net_fip_port_gone(struct store_conn *c, const char *port_id, bool all, struct st_err *err)
    __attribute__((warn_unused_result));
/* The floating IP at 'address' that 'ctx' may use: its id, and the port it
 * is associated with ("" when none).  NOT_FOUND otherwise. */
int net_fip_find(struct store_conn *c, const struct auth_ctx *ctx, const char *address, char id[37],
                 char port[37], struct st_err *err) __attribute__((warn_unused_result));
/* Associates floating IP 'id' with 'port_id' ('fixed': one of its
 * addresses, or NULL for its only IPv4 one); 'port_id' NULL disassociates.
 * Errors as the API's floating IP update. */
int net_fip_associate(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      const char *port_id, const char *fixed, struct st_err *err)
    __attribute__((warn_unused_result));
/* Checks that the caller may use security group 'id_or_name' for a port of
 * 'project_id'; stores its id. */
int net_sg_resolve(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                   const char *id_or_name, char out[37], struct st_err *err)
    __attribute__((warn_unused_result));

/* The port of 'port_id' as the API shows it (new reference). */
json_t *net_port_json(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct st_err *err);

#endif

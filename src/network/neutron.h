/*
 * neutron.h - the network module as the Neutron API (api/network*.c) uses
 * it: networks, subnets, ports, routers, floating IPs, security groups and
 * rules, quotas and tags, each in Neutron's representation (a JSON object
 * with every standard attribute: project_id and tenant_id, created_at,
 * updated_at, revision_number, description, tags).
 *
 * Request bodies are passed unwrapped ('in' is the object under "network",
 * "port", ...).  Lists return every resource the caller may see, in
 * creation order; filtering, sorting, paging and field selection are the
 * API layer's.  Errors carry Neutron's exception name in err->type
 * ("NetworkNotFound", "IpAddressAlreadyAllocated", "NetworkInUse",
 * "OverQuota", ...), which the API renders as a NeutronError.
 *
 * Every function that changes state runs in its own transaction, bumps the
 * revision of every host when an agent must act (revision_bump_all), and
 * wakes the long-polls after the commit (revision_notify).
 *
 * Access: another project's resource is invisible (404) unless shared; a
 * visible resource the caller does not own is read-only (403).  Admins see
 * and change everything, and alone may set provider:*, shared,
 * router:external, binding:*, and a network:* device_owner.
 */
#ifndef ST_NETWORK_NEUTRON_H
#define ST_NETWORK_NEUTRON_H

#include <jansson.h>
#include <stdbool.h>

#include "common/config.h"
#include "common/err.h"
#include "identity/policy.h"
#include "store/store.h"

/* Quota resources, in the order Neutron lists them. */
enum net_quota_res {
    NET_Q_NETWORK,
    NET_Q_SUBNET,
    NET_Q_PORT,
    NET_Q_ROUTER,
    NET_Q_FLOATINGIP,
    NET_Q_SECURITY_GROUP,
    NET_Q_SECURITY_GROUP_RULE,
    NET_Q_RBAC_POLICY, /* listed for clients; no such resource here */
    NET_Q_SUBNETPOOL,  /* idem */
    NET_Q__COUNT
};
/* Neutron's name of a quota resource ("network", "floatingip", ...). */
const char *net_quota_name(enum net_quota_res r);

/* Reads [network] (tenant_network_types, vni_ranges, network_vlan_ranges,
 * flat_networks, global_physnet_mtu), the network quotas of [quota] and
 * [compute] service_down_time.  Call once at start, before any request;
 * without it the defaults of api/options.c apply. */
int net_configure(const struct cfg *cfg, struct st_err *err) __attribute__((warn_unused_result));

/* Networks. */
json_t *net_network_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                           struct st_err *err);
json_t *net_network_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        struct st_err *err);
json_t *net_network_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);
json_t *net_network_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           json_t *in, struct st_err *err);
/* 409 NetworkInUse while ports other than its DHCP port remain. */
int net_network_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       struct st_err *err) __attribute__((warn_unused_result));

/* Subnets. */
json_t *net_subnet_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                          struct st_err *err);
json_t *net_subnet_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       struct st_err *err);
json_t *net_subnet_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);
json_t *net_subnet_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          json_t *in, struct st_err *err);
int net_subnet_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct st_err *err) __attribute__((warn_unused_result));

/* Ports. */
json_t *net_port_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                        struct st_err *err);
json_t *net_port_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                     struct st_err *err);
json_t *net_port_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);
json_t *net_port_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        json_t *in, struct st_err *err);
int net_port_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    struct st_err *err) __attribute__((warn_unused_result));

/* Routers, their interfaces ({"subnet_id"} or {"port_id"}; the reply is
 * Neutron's {"id", "port_id", "subnet_id", "subnet_ids", "network_id",
 * "project_id", "tenant_id"}) and extra routes ({"router": {"routes"}}). */
json_t *net_router_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                          struct st_err *err);
json_t *net_router_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       struct st_err *err);
json_t *net_router_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);
json_t *net_router_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          json_t *in, struct st_err *err);
int net_router_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct st_err *err) __attribute__((warn_unused_result));
json_t *net_router_interface(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                             json_t *in, bool add, struct st_err *err);
/* add_extraroutes / remove_extraroutes: 'in' is the "router" object with
 * "routes"; returns the router. */
json_t *net_router_extraroutes(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                               json_t *in, bool add, struct st_err *err);

/* Floating IPs. */
json_t *net_fip_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                       struct st_err *err);
json_t *net_fip_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    struct st_err *err);
json_t *net_fip_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);
json_t *net_fip_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id, json_t *in,
                       struct st_err *err);
int net_fip_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                   struct st_err *err) __attribute__((warn_unused_result));

/* Security groups and rules.  Listing or reading groups creates the
 * caller's default group first, as Neutron does. */
json_t *net_sg_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                      struct st_err *err);
json_t *net_sg_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                   struct st_err *err);
json_t *net_sg_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);
json_t *net_sg_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id, json_t *in,
                      struct st_err *err);
int net_sg_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                  struct st_err *err) __attribute__((warn_unused_result));
json_t *net_sgr_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                       struct st_err *err);
json_t *net_sgr_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    struct st_err *err);
json_t *net_sgr_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);
int net_sgr_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                   struct st_err *err) __attribute__((warn_unused_result));

/* Quotas: {"network": 100, ...}; with 'details' {"network": {"limit",
 * "used", "reserved"}, ...}; 'defaults' the defaults whatever is set.
 * Setting and resetting is for admins. */
json_t *net_quota_get(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                      bool details, bool defaults, struct st_err *err);
json_t *net_quota_set(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                      json_t *in, struct st_err *err);
int net_quota_reset(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                    struct st_err *err) __attribute__((warn_unused_result));
/* Admin: every project with a limit of its own, with its quotas. */
json_t *net_quota_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);

/* Tags of a resource of 'collection' ("networks", "subnets", "ports",
 * "routers", "floatingips", "security-groups").  Reading needs the
 * resource to be visible, changing it to be writable. */
json_t *net_tags_get(struct store_conn *c, const struct auth_ctx *ctx, const char *collection,
                     const char *id, struct st_err *err);
/* Replaces all tags (array), or with 'tags' NULL removes them all. */
json_t *net_tags_set(struct store_conn *c, const struct auth_ctx *ctx, const char *collection,
                     const char *id, json_t *tags, struct st_err *err);
/* Adds (add), removes (!add) one tag; 'check' only tests its presence
 * (NOT_FOUND when absent). */
int net_tag_one(struct store_conn *c, const struct auth_ctx *ctx, const char *collection,
                const char *id, const char *tag, bool add, bool check, struct st_err *err)
    __attribute__((warn_unused_result));

/* For the compute service, beside network.h: a server moved to (or found)
 * another host, so its ports are bound there ('host' NULL unbinds them).
 * Runs in the caller's transaction and bumps every host; the caller wakes
 * the long-polls (revision_notify) after its commit. */
int net_server_ports_bind(struct store_conn *c, const char *server_id, const char *host,
                          struct st_err *err) __attribute__((warn_unused_result));

#endif

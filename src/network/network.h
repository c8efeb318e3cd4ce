/*
 * network.h - Neutron's model in the controller: networks, subnets, ports
 * (IP and MAC allocation as transactions guarded by unique constraints),
 * routers, floating IPs, security groups and rules, quotas.  This header is
 * what the rest of the controller uses for servers: the port provider that
 * compute calls through compute/ports.h (net_compute_ports: ports of a
 * server, its NICs, and the network part of a host's desired state and of
 * its reports), and the server views and actions the compute API
 * (api/servers.c) calls directly (addresses, groups, interfaces, floating
 * IPs).  The Neutron REST API (api/network*.c) uses the rest of the module's
 * functions through its own headers.  Compute itself never includes this
 * header: the program registers net_compute_ports at start-up.
 *
 * Changing anything an agent realises bumps the revision of every host
 * (revision_bump_all, store/revision.h): networks span hosts, and the
 * deployments stratus aims at have few hosts, so precision is not worth its
 * complexity here.
 */
#ifndef ST_NETWORK_H
#define ST_NETWORK_H

#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"
#include "compute/ports.h"
#include "identity/policy.h"
#include "store/store.h"

/* Network as compute's port provider (compute/ports.h): net_server_ports_create,
 * net_server_ports_release, net_server_nics, net_host_desired and
 * net_host_report below. */
extern const struct compute_ports_ops net_compute_ports;

/* Creates (or takes over) the ports of a new server, in the caller's
 * transaction: device_id = server id, device_owner "compute:<az>",
 * binding:host_id = host (may be NULL when the server found no host),
 * security groups by name or id ('security_groups' is a JSON array of
 * {"name": ...}, or NULL for the project's "default", created on first use).
 * 'networks' "auto" picks the project's only network, or a shared one (none:
 * no NIC).  Returns 0, or -1 with 400/404/409 for a bad network, port or
 * address, 403 over quota. */
int net_server_ports_create(struct store_conn *c, const struct auth_ctx *ctx,
                            const char *server_id, const char *host, const char *az,
                            const struct compute_nic_request *nics, size_t nnics,
                            json_t *security_groups, struct st_err *err)
    __attribute__((warn_unused_result));

/* The NICs of a server as the agent protocol's "nics" list (new array). */
json_t *net_server_nics(struct store_conn *c, const char *server_id, struct st_err *err);

/* The "addresses" of a server view: {"net-name": [{"version", "addr",
 * "OS-EXT-IPS:type": "fixed" | "floating", "OS-EXT-IPS-MAC:mac_addr"}]}
 * (new object), and its security group names [{"name": ...}] (new array). */
json_t *net_server_addresses(struct store_conn *c, const char *server_id, struct st_err *err);
json_t *net_server_security_groups(struct store_conn *c, const char *server_id,
                                   struct st_err *err);

/* A server is being deleted: ports it created are deleted, ports the user
 * gave are unbound (device_id/owner cleared), floating IPs disassociated. */
int net_server_ports_release(struct store_conn *c, const char *server_id, struct st_err *err)
    __attribute__((warn_unused_result));

/* os-interface: attach a port (existing 'port_id', or a new one on
 * 'network_id' with optional 'fixed_ip') to a server; detach one.  The
 * attach returns the port id (new string). */
char *net_server_attach(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                        const char *host, const char *network_id, const char *port_id,
                        const char *fixed_ip, struct st_err *err);
int net_server_detach(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                      const char *port_id, struct st_err *err)
    __attribute__((warn_unused_result));
/* os-interface list/show: [{"port_id", "net_id", "mac_addr", "port_state",
 * "fixed_ips": [{"subnet_id", "ip_address"}]}] (new array). */
json_t *net_server_interfaces(struct store_conn *c, const char *server_id, struct st_err *err);

/* Server actions addFloatingIp / removeFloatingIp, addSecurityGroup /
 * removeSecurityGroup (by name or id), on all the server's ports. */
int net_server_floating_ip(struct store_conn *c, const struct auth_ctx *ctx,
                           const char *server_id, const char *address, const char *fixed_address,
                           bool add, struct st_err *err) __attribute__((warn_unused_result));
int net_server_security_group(struct store_conn *c, const struct auth_ctx *ctx,
                              const char *server_id, const char *group, bool add,
                              struct st_err *err) __attribute__((warn_unused_result));

/* The networking part of a host's desired state: an object with the lists
 * "networks", "ports", "security_groups", "routers" of docs/agent-protocol.md
 * (new reference). */
json_t *net_host_desired(struct store_conn *c, const char *host, struct st_err *err);
/* Applies the "networks", "ports" and "routers" statuses of a report. */
int net_host_report(struct store_conn *c, const char *host, json_t *report, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

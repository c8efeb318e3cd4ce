/*
 * ports.h - how compute sees the networking of its servers (ARCHITECTURE
 * §9): a small provider interface that the network module implements.
 *
 * Compute owns servers, network owns ports.  Compute needs five things from
 * network, each inside compute's own transaction: create and release a
 * server's ports, list its NICs for the agent, and network's half of a host's
 * desired state and of its report.  It reaches them only through the table
 * below, which the program registers once at start-up, before it serves a
 * request (stratusd: compute_ports_register(&net_compute_ports)).  So
 * compute links without network, network includes nothing of compute but
 * this header, and the dependencies point one way (ARCHITECTURE §8):
 * api -> {compute, network} -> store.
 *
 * Until a provider is registered, every call fails with ST_ERR_INTERNAL: a
 * program that forgot to wire network in gets 500s, never a desired state
 * without networks (which an agent would act on by tearing them down).
 */
#ifndef ST_COMPUTE_PORTS_H
#define ST_COMPUTE_PORTS_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"
#include "identity/policy.h"
#include "store/store.h"

/* A NIC asked for at server creation ("networks" of POST /servers); strings
 * borrowed. */
struct compute_nic_request {
    const char *network_id; /* a network id, "auto", or NULL when port_id is given */
    const char *port_id;    /* an existing port to bind */
    const char *fixed_ip;   /* optional address on network_id */
};

/* A port provider.  Every member must be implemented; each runs in the
 * caller's transaction and fills 'err' once on failure. */
struct compute_ports_ops {
    /* Creates (or takes over) the ports of new server 'server_id':
     * device_id = server id, device_owner "compute:<az>", bound to 'host'
     * (NULL when the server found no host); 'security_groups' is a JSON
     * array of {"name": ...}, or NULL for the project's default group.
     * A network_id of "auto" picks the project's only network, or a shared
     * one.  No NICs: nothing to do.  Returns 0, or -1 with 400/404/409 for a
     * bad network, port or address, 403 over quota. */
    int (*create)(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                  const char *host, const char *az, const struct compute_nic_request *nics,
                  size_t nnics, json_t *security_groups, struct st_err *err);
    /* Server 'server_id' is gone: the ports made for it are deleted, ports
     * the user gave are unbound, floating IPs disassociated. */
    int (*release)(struct store_conn *c, const char *server_id, struct st_err *err);
    /* The NICs of a server as the agent protocol's "nics" list (new array). */
    json_t *(*nics)(struct store_conn *c, const char *server_id, struct st_err *err);
    /* The networking part of a host's desired state: an object whose members
     * ("networks", "ports", ...) join the document of docs/agent-protocol.md
     * (new reference). */
    json_t *(*host_desired)(struct store_conn *c, const char *host, struct st_err *err);
    /* Applies the networking statuses of a host's report.  Returns -1 on
     * error, else 0 or more. */
    int (*host_report)(struct store_conn *c, const char *host, json_t *report, struct st_err *err);
    /* Binds the server's NICs to 'host' and marks them also desired on
     * 'migrating_host' (NULL: none), as a migration moves the server;
     * every host's desired state changes (l2population). */
    int (*bind)(struct store_conn *c, const char *server_id, const char *host,
                const char *migrating_host, struct st_err *err);
};

/* Makes 'ops' (borrowed, static) compute's port provider.  Call it once,
 * before any thread serves a request; calling it again replaces the
 * provider. */
void compute_ports_register(const struct compute_ports_ops *ops);

#endif

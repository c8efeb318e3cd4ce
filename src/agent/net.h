/*
 * net.h - the agent's network driver: converges the networking part of the
 * desired state (networks, ports, security groups, routers; see
 * docs/agent-protocol.md) into Linux bridges, VXLAN/VLAN uplinks,
 * namespaces, veths, dnsmasq and nftables on this host (ARCHITECTURE §5),
 * and says what is.
 *
 * Level-triggered and idempotent, like the rest of the reconciler: every
 * pass starts from what it finds (netlink dumps, /run/netns, pidfiles, the
 * nftables generation), never from what it remembers, so a bridge, tap,
 * namespace, dnsmasq or nft chain removed by hand comes back at the next
 * pass, and whatever the agent finds of its own that is no longer desired
 * (bridges brq*, vxlan-* devices, namespaces qdhcp-* and qrouter-*, their
 * veths and dnsmasq, the ports' nft set elements) is removed.  What it
 * keeps in memory only saves work: per namespace, the nft ruleset it
 * applied last with the nftables generation after it (a pass applies only
 * the difference to the new ruleset while the generation has not moved,
 * and replaces its tables whole when it has, so a rule deleted by hand is
 * noticed; see nft.h), and nothing else.  Conntrack zones are numbered per
 * network and kept in STATE_DIR/zones.json, so that a restart does not
 * renumber them (which would drop established connections); the host id
 * of the desired state, which the nft tables carry, in STATE_DIR/host_id,
 * so that a teardown by another process removes this host's tables only.
 *
 * Per pass, in order: networks (uplink, then bridge, then DHCP namespace,
 * veth and dnsmasq), ports (a tap that exists is enslaved to its bridge),
 * routers (namespace, legs, addresses, routes, ip_forward, NAT table), the
 * host's nft tables, then the removal of what is not desired.  A failure
 * makes that network, port or router ERROR/DOWN in the report, with the
 * message; it never stops the others.  A network whose uplink cannot exist
 * on this kernel (a VLAN without 802.1Q) is skipped whole, and says so.
 *
 * In the agent's pass (reconcile.c): net_reconcile() before the servers
 * converge, so that the bridges libvirt plugs taps into exist when domains
 * start, and net_port_status() after them, so that the ports of servers
 * started in this pass are reported ACTIVE at once.
 */
#ifndef ST_AGENT_NET_H
#define ST_AGENT_NET_H

#include <jansson.h>
#include <stdint.h>

#include "agent/model.h"
#include "common/err.h"

struct net_opts {
    const char *state_dir;  /* absolute; DHCP files and zones.json, e.g.
                               DATA_DIR/network */
    const char *physical_interface_mappings; /* "physnet1:eth1,physnet2:eth2"
                                                ([network] of the agent's
                                                config); NULL or "": none */
    const char *local_ip;   /* VTEP address for VXLAN; NULL or "": VXLAN
                               networks are an error */
    const char *dnsmasq;    /* program, NULL: "dnsmasq" */
};

/* Figures of the last pass, for logs and benchmarks. */
struct net_stats {
    int64_t total_ns;       /* the whole pass */
    int64_t nft_ns;         /* rendering and applying nft batches */
    int nft_applied;        /* batches applied (not skipped as unchanged) */
    int nft_whole;          /* of which tables replaced whole (not a difference) */
    int links_created;      /* links created */
    int removed;            /* leftovers removed */
};

struct net_state;

/* A driver with 'opts' (strings copied).  Checks the interface mappings
 * (PHYSNET:IFACE, names at most 15 characters) and local_ip.  Returns a new
 * state (net_free) or NULL with BAD_REQUEST. */
struct net_state *net_new(const struct net_opts *opts, struct st_err *err);
void net_free(struct net_state *ns);

/* One pass towards the networking part of 'd'.  Adds to the object
 * 'report' (the body of POST .../report) the members "networks",
 * "ports" and "routers": [{"id", "status", "error"}], statuses ACTIVE or
 * ERROR (networks, routers) and ACTIVE or DOWN (ports), "error" null or the
 * message.  Returns 0, or -1 with 'err' when the pass could not run at all
 * or the host's security-group rules could not be applied (the report is
 * filled as far as it went in both cases; log 'err' once). */
int net_reconcile(struct net_state *ns, const struct model_desired *d, json_t *report,
                  struct st_err *err) __attribute__((warn_unused_result));

/* Recomputes only the "ports" member of 'report' (filled by
 * net_reconcile() of the same pass, whose "networks" it reads): a tap that
 * appeared since (libvirt creates it when the domain starts) is enslaved
 * to its bridge if needed and its port reported ACTIVE.  For the end of a
 * pass that started servers.  Returns -1 with 'err' when netlink cannot be
 * opened ("ports" is then empty). */
int net_port_status(struct net_state *ns, const struct model_desired *d, json_t *report,
                    struct st_err *err) __attribute__((warn_unused_result));

/* The figures of the last net_reconcile(). */
const struct net_stats *net_last_stats(const struct net_state *ns);

/* Removes everything the driver may have made on this host, desired or
 * not: namespaces qdhcp-* and qrouter-* (with their dnsmasq and veths),
 * bridges brq*, vxlan-* devices and VLAN uplinks it created, the host nft
 * tables of this host's id (STATE_DIR/host_id), the DHCP files.  For tests and for decommissioning a host. */
int net_teardown_all(struct net_state *ns, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

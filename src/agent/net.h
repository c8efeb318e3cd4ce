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
 * Ownership (ARCHITECTURE §9).  Several agents may share one machine (the
 * all-in-one cloud and a test's; simulated hosts), each for a host of its
 * own controller, and host names are not unique across controllers (the
 * tests' agents take the machine's name too): the owner is the host's id,
 * the UUID its controller gave it (docs/agent-protocol.md).  Every link
 * the driver makes (bridge, VXLAN device, VLAN uplink, veth tap) carries
 * the alias (IFLA_IFALIAS) "stratus host <host id>", set right after the
 * link is made, and so does the loopback of every namespace it makes
 * (qdhcp-, qrouter-): a namespace has no attribute of its own, a file
 * beside it (/run/...) could outlive it or be left behind, and a name with
 * a host prefix would break the names the protocol fixes; the loopback's
 * alias lives and dies with the namespace and is read with the netlink
 * socket the driver opens there anyway.  The taps libvirt makes for the
 * servers' ports get the mark when the driver first sees them (and stay
 * libvirt's to remove).  dnsmasq
 * needs none: its pidfile and configuration are under the agent's own
 * STATE_DIR, and a dnsmasq counts as ours only when its command line names
 * that configuration.  Before the driver changes or deletes something that
 * exists it checks the mark: its own goes on; one of another host is never
 * touched (a desired object that would need it is ERROR: the names derive
 * from ids, so this takes two clouds with equal VNIs, or equal id
 * prefixes); an unmarked one (made before these marks, or half-made by a
 * crash between creation and marking) is adopted when this host's desired
 * state names it, and otherwise left alone and listed once
 * (net_unmarked_new()) for the caller to log: which agent made it cannot
 * be known, so removing it is for an operator.
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
    const char *host_id;    /* the owner (a UUID), NULL: net_set_host_id()
                               later, before the first pass */
};

/* Figures of the last pass, for logs and benchmarks. */
struct net_stats {
    int64_t total_ns;       /* the whole pass */
    int64_t nft_ns;         /* rendering and applying nft batches */
    int nft_applied;        /* batches applied (not skipped as unchanged) */
    int nft_whole;          /* of which tables replaced whole (not a difference) */
    int links_created;      /* links created */
    int removed;            /* leftovers removed */
    int unmarked;           /* unmarked leftovers left alone */
};

struct net_state;

/* "stratus host " + a host id, and room for it. */
#define NET_OWNER_ALIAS_MAX 64
/* Whose an object is, by its mark (an alias). */
enum net_owner {
    NET_OWNER_MINE,     /* the mark of this host */
    NET_OWNER_UNMARKED, /* none, or the "stratus" of agents before marks */
    NET_OWNER_OTHER,    /* another host's, or an alias we never write */
};
/* The mark of host 'host_id' (a UUID) into 'out'; BAD_REQUEST otherwise. */
int net_owner_alias(const char *host_id, char out[NET_OWNER_ALIAS_MAX], struct st_err *err)
    __attribute__((warn_unused_result));
/* Whose 'alias' is, for the host whose mark is 'own_alias'.  Pure. */
enum net_owner net_owner_of(const char *alias, const char *own_alias);

/* A driver with 'opts' (strings copied).  Checks the interface mappings
 * (PHYSNET:IFACE, names at most 15 characters) and local_ip.  Returns a new
 * state (net_free) or NULL with BAD_REQUEST. */
struct net_state *net_new(const struct net_opts *opts, struct st_err *err);
void net_free(struct net_state *ns);
/* Sets the owner (a UUID; BAD_REQUEST otherwise).  The passes and the
 * teardown refuse to run (UNAVAILABLE) until it is set. */
int net_set_host_id(struct net_state *ns, const char *host_id, struct st_err *err)
    __attribute__((warn_unused_result));
/* The owner, "" when not set. */
const char *net_host_id(const struct net_state *ns);

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

/* The unmarked leftovers the last pass (or teardown) saw and that the
 * passes before it had not ("link 'brq0123456789a'", "namespace
 * 'qdhcp-…'"), for the caller to log once each; left alone.  '*what' is
 * valid until the next pass.  Returns their number. */
size_t net_unmarked_new(const struct net_state *ns, const char *const **what);

/* Removes everything of this host's the driver made, desired or not:
 * namespaces qdhcp-* and qrouter-* (with their dnsmasq and veths), bridges
 * brq*, vxlan-* devices and VLAN uplinks carrying its mark, the host nft
 * tables of this host's id (also remembered in STATE_DIR/host_id), the DHCP
 * files; another host's objects and unmarked ones stay.
 * For tests and for decommissioning a host. */
int net_teardown_all(struct net_state *ns, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

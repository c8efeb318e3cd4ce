/*
 * nft.h - the agent's nftables rules (ARCHITECTURE §5 and §9, STYLE §13):
 * pure builders from the desired state to a ruleset held as data, pure
 * renderers from rulesets to nft batch text (a whole replace, or the
 * difference between two rulesets), and the apply side that hands one
 * batch to libnftables as one transaction, inside the right network
 * namespace, and remembers what it applied there.
 *
 * Incremental by design (ARCHITECTURE §9).  A transaction that adds rules
 * or jumps makes the kernel re-validate every chain reachable from the
 * table's base chains, and anonymous sets slow every lookup of a set by
 * name: both grow with the ports of the host.  So the chains are fixed
 * and few, and everything per port is an element of a named set or map,
 * matched by concatenations such as (iifname . ip saddr).  Plugging a port
 * is one batch of element adds (no rule, no chain, nothing removed);
 * unplugging it, element deletes; a security-group rule change, a flush
 * and refill of that group's chains.  The whole tables are replaced only
 * when the agent does not know what the kernel holds.  A transaction that
 * removes anything leaves the old objects to be retired after an RCU grace
 * period (~15 ms), and the kernel makes the release of any nfnetlink
 * socket wait for that: the host's state keeps its sockets open
 * (nft_state_new), so that a removal costs no more than an add.
 *
 * Ownership (ARCHITECTURE §9).  Several agents may share one namespace
 * (an all-in-one cloud and a test's; simulated hosts), so the host tables
 * carry the host's id: their names are "stratus-" + the first 8 hex
 * digits of the host id, their comments start "stratus host <host id>:",
 * and an agent replaces or removes a host table only when its comment
 * names its own host (a table of that name with another comment is
 * refused with CONFLICT, and left alone).  The host id is the UUID of the
 * controller's host record, sent as "host_id" in the desired state
 * (docs/agent-protocol.md).  Router tables ("ip stratus") live in the
 * router's own namespace, which the agent owns whole; they carry the same
 * comment but are not checked.  Tables of an older agent ("bridge
 * stratus", "inet stratus", without an id) are not touched.
 *
 * Host tables (the namespace of the bridges), one per family:
 *
 *  - table bridge stratus-<h>: stateless anti-spoofing.  Base chains
 *    "forward" and "input" send each frame coming from a port with port
 *    security (iifname in set port_taps) to chain port_check, which drops
 *    DHCP and DHCPv6 replies and router advertisements from guests, then
 *    accepts only what matches the port's bindings: set port_macs (tap .
 *    the port's own MAC: DHCP requests, ARP probes, IPv6 DAD), port_ip4
 *    (tap . MAC . IPv4 address, for the fixed IPs and single-address
 *    pairs), port_arp4 (tap . MAC . ARP sender MAC . ARP sender IP),
 *    port_ip6 (tap . MAC . IPv6 address, with the link-local address of
 *    each MAC); allowed address pairs with a prefix are rules in chain
 *    port_pairs.  Everything else from the port is dropped.  No conntrack
 *    here: bridge-family "ct" needs nf_conntrack_bridge, absent on some
 *    kernels.
 *
 *  - table inet stratus-<h>: the stateful security groups, reached by
 *    bridged IPv4/IPv6 through br_netfilter (each bridge has
 *    nf_call_iptables set), where iifname and oifname are the network's
 *    bridge.  Chain "prerouting" (priority raw) puts each network's
 *    traffic in its own conntrack zone (ct zone set iifname map @zones),
 *    so that equal addresses on two networks never share a connection,
 *    and marks the addresses of stateless ports notrack (sets
 *    notrack4/6).  Base chain "from_ports" (forward, priority 0) sends a
 *    packet whose (iifname . saddr) is in set addr4/addr6 to chain
 *    "egress", "to_ports" (forward, priority 1) one whose (oifname .
 *    daddr) is there to "ingress": anti-spoofing guarantees that an
 *    address on a bridge is the port's, so the pair names the port (an
 *    address claimed twice on one bridge goes to the first port in id
 *    order).  A packet between two ports of this host passes both.
 *    egress/ingress accept established traffic and drop invalid for the
 *    addresses of stateful ports (sets stateful4/6), allow DHCP/ND
 *    implicitly (as Neutron does), then try each group of the host: the
 *    addresses of the ports in group G are sets p4-<G>/p6-<G>, and a
 *    match jumps to G's chain "sg-<G>-ingress|egress", whose rules
 *    accept; whatever falls through is dropped.  Remote groups are sets
 *    g4-<G>/g6-<G> of the members' addresses.  A port with an address
 *    pair that has a prefix keeps a chain of its own, "from-<port id>"
 *    and "to-<port id>", reached by rules in from_pairs/to_pairs after
 *    the single addresses, as the rule order of the whole-chain design
 *    had it.
 *
 * Router tables, in the router's namespace: table ip stratus with
 * prerouting/output DNAT of each floating IP to its fixed IP (map
 * fip_dnat) and postrouting SNAT of each fixed IP to its floating IP (map
 * fip_snat) and (enable_snat) of the internal subnets to the gateway
 * address when leaving by qg-, plus masquerade of DNATed traffic from
 * inside that stays inside (hairpin).  A floating IP is two elements.
 *
 * Batches: a whole replace first creates then deletes each managed table
 * ("table T" then "delete table T", the idiom that works whether T
 * exists or not), then declares it from scratch; a difference adds new
 * sets and chains, flushes and refills changed chains, deletes and adds
 * elements, and removes what is gone, in an order the kernel accepts in
 * one transaction.  Either way a failure changes nothing.  Base and fixed
 * chains come from a data table in nft.c.
 *
 * Golden tests: tests/data/nft/<case>.json (a desired state) ->
 * <case>.nft (the whole host batch, then each router's), and
 * <case>.json of the form {"before": DESIRED, "after": DESIRED} ->
 * <case>.nft (the difference).
 */
#ifndef ST_AGENT_NFT_H
#define ST_AGENT_NFT_H

#include <stdint.h>

#include "agent/model.h"
#include "common/buf.h"
#include "common/err.h"

/* The tables one namespace should hold (opaque): their sets and maps
 * with elements, their chains with rules.  Immutable once built. */
struct nft_ruleset;

/* The host ruleset of the ports of 'd' for host 'host_id' (a UUID; its
 * first 8 hex digits name the tables).  'zones' has one conntrack zone
 * (1..65535) per network of 'd' (zones[i] for d->networks[i]).  Ports
 * whose network is not in 'd', and groups a port names that are not in
 * 'd', are left out (the reconciler reports them).  Without a port with
 * port security the ruleset holds no table (applying it removes them).
 * Deterministic: the same model gives the same ruleset whatever the order
 * of the controller's lists.  Returns a new ruleset (nft_ruleset_free),
 * or NULL with BAD_REQUEST when 'host_id' is not a UUID and there are
 * ports to protect (without ports and without an id: a ruleset that
 * manages no table at all, for an older controller). */
struct nft_ruleset *nft_host_ruleset(const char *host_id, const struct model_desired *d,
                                     const uint16_t *zones, struct st_err *err);

/* The ruleset of router 'r' (for its namespace) of host 'host_id'.
 * Returns a new ruleset, or NULL with BAD_REQUEST as above. */
struct nft_ruleset *nft_router_ruleset(const char *host_id, const struct model_router *r,
                                       struct st_err *err);

void nft_ruleset_free(struct nft_ruleset *rs);

/* Appends to 'out' the batch that replaces the tables of 'rs' whole (and
 * removes those 'rs' holds no more). */
void nft_render_whole(const struct nft_ruleset *rs, struct st_buf *out);

/* Appends to 'out' the batch that turns 'from' (as applied) into 'to':
 * element adds and deletes, chains flushed and refilled, objects added
 * and removed.  Returns 1 when it appended a batch, 0 when the two are
 * the same (nothing appended), -1 when they differ in shape (another
 * host, a table comment, a set's type or a chain's hook): the caller
 * replaces whole.  Both must be built for the same namespace. */
int nft_render_diff(const struct nft_ruleset *from, const struct nft_ruleset *to,
                    struct st_buf *out);

/* The batch that removes the host tables of 'host_id' (nft_render_whole
 * of a host without ports); nothing when 'host_id' is not a UUID. */
void nft_render_host_teardown(const char *host_id, struct st_buf *out);

/* What one namespace holds as far as this agent knows: the ruleset it
 * applied last there and the nftables generation right after. */
struct nft_state;

/* A state that knows nothing yet.  With 'keep_open' it keeps its
 * libnftables context and a netlink socket for the generation open
 * between calls: the kernel makes the release of any nfnetlink socket
 * wait until the objects the last commit removed are retired (an RCU
 * grace period, ~10-15 ms), which a removal would otherwise pay at once.
 * Only for a namespace that outlives the state and is always the same
 * (the host's); a router's namespace may be made again under its name. */
struct nft_state *nft_state_new(bool keep_open);
void nft_state_free(struct nft_state *st);

enum nft_applied {
    NFT_APPLIED_NONE,  /* already there: no batch */
    NFT_APPLIED_DIFF,  /* a difference against the last ruleset */
    NFT_APPLIED_WHOLE, /* the tables replaced whole */
};

/* Brings namespace 'netns' (a /run/netns name; NULL: the caller's) to
 * 'rs', taking ownership of 'rs'.  When 'st' knows what it applied and
 * the nftables generation has not moved since (nobody else committed
 * anything in the namespace), it applies the difference, or nothing;
 * otherwise, or when the kernel refuses the difference, it replaces the
 * tables whole -- after checking, the first time, that the host tables
 * of that name that exist carry this host's id (CONFLICT if not).
 * '*how' says which.  On failure nothing changed, 'st' forgets what it
 * knew (the next call replaces whole) and 'err' says why. */
int nft_state_apply(struct nft_state *st, const char *netns, struct nft_ruleset *rs,
                    enum nft_applied *how, struct st_err *err) __attribute__((warn_unused_result));

/* Removes the host tables of 'host_id' from namespace 'netns', those
 * whose comment names 'host_id' only (a table of the same name owned by
 * another host stays, and the call fails with CONFLICT). */
int nft_host_teardown(const char *host_id, const char *netns, struct st_err *err)
    __attribute__((warn_unused_result));

/* Applies 'batch' as one libnftables transaction inside namespace 'netns'
 * (NULL: the caller's).  On failure nothing changed and 'err' carries
 * nft's error text. */
int nft_apply(const char *netns, const char *batch, struct st_err *err)
    __attribute__((warn_unused_result));

/* Runs the read-only nft command 'cmd' ("list table inet stratus-0a1b2c3d")
 * inside 'netns' and appends its output to 'out'. */
int nft_list(const char *netns, const char *cmd, struct st_buf *out, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

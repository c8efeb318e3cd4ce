/*
 * nft.h - the agent's nftables rules (ARCHITECTURE §5, STYLE §13): pure
 * renderers from the desired state to nft batch text, and one apply
 * function that hands a batch to libnftables as one transaction, inside
 * the right network namespace.
 *
 * Host tables (the namespace of the bridges), one per family, each with a
 * comment, rendered together as one batch:
 *
 *  - table bridge stratus: stateless anti-spoofing.  Base chains "forward"
 *    and "input" send each frame coming from a port with port security to
 *    that port's chain "port-<port id>" (a verdict map on iifname = tap),
 *    which accepts only the port's MAC (or a pair's) with its addresses in
 *    IP, IPv6 and ARP, DHCP requests, IPv6 DAD and the link-local address
 *    from its MAC; DHCP and DHCPv6 replies and router advertisements from
 *    the guest are dropped, and so is every other frame.  No conntrack here:
 *    bridge-family "ct" needs nf_conntrack_bridge, absent on some kernels.
 *
 *  - table inet stratus: the stateful security groups, reached by bridged
 *    IPv4/IPv6 through br_netfilter (each bridge has nf_call_iptables set),
 *    where iifname and oifname are the network's bridge.  Chain
 *    "prerouting" (priority raw) puts each network's traffic in its own
 *    conntrack zone (ct zone set iifname map { bridge : zone }), so that
 *    equal addresses on two networks never share a connection, and marks
 *    the traffic of stateless ports notrack.  Base chain "from_ports"
 *    (forward, priority 0) dispatches on (iifname . saddr) to
 *    "from-<port id>" (the port's egress), and "to_ports" (forward,
 *    priority 1) on (oifname . daddr) to "to-<port id>" (its ingress):
 *    anti-spoofing guarantees that an address on a bridge is the port's, so
 *    the pair names the port.  A packet between two ports of this host
 *    passes both.  Port chains accept established traffic, drop invalid,
 *    allow DHCP/ND implicitly (as Neutron does), then jump to each of the
 *    port's groups' chains "sg-<group id>-ingress|egress", whose rules
 *    accept; whatever falls through is dropped.  Remote groups are sets
 *    "g4-<group id>"/"g6-<group id>" of the members' addresses.
 *
 * Router tables, in the router's namespace: table ip stratus with
 * prerouting/output DNAT of each floating IP to its fixed IP, and
 * postrouting SNAT of each fixed IP to its floating IP and (enable_snat)
 * of the internal subnets to the gateway address when leaving by qg-, plus
 * masquerade of DNATed traffic from inside that stays inside (hairpin).
 *
 * Every batch first creates then deletes its tables ("table T" then
 * "delete table T", the idiom that works whether T exists or not), then
 * declares them whole: one transaction replaces the old rules, so a
 * failure changes nothing, and chains of ports, groups or routers that are
 * no longer desired disappear with it.  Base chains come from a data table
 * in nft.c.
 *
 * Golden tests: tests/data/nft/<case>.json (a desired state) ->
 * <case>.nft (the host batch, then each router's batch).
 */
#ifndef ST_AGENT_NFT_H
#define ST_AGENT_NFT_H

#include <stdint.h>

#include "agent/model.h"
#include "common/buf.h"
#include "common/err.h"

/* Appends the host batch for the ports of 'd' to 'out'.  'zones' has one
 * conntrack zone (1..65535) per network of 'd' (zones[i] for
 * d->networks[i]).  Ports whose network is not in 'd', and groups a port
 * names that are not in 'd', are left out (the reconciler reports them).
 * Deterministic: the same model gives the same bytes.  Without a port
 * with port security the batch only removes the tables. */
void nft_render_host(const struct model_desired *d, const uint16_t *zones, struct st_buf *out);

/* Appends the batch of router 'r' (for its namespace) to 'out'. */
void nft_render_router(const struct model_router *r, struct st_buf *out);

/* The batch that removes the host tables (net_teardown_all). */
void nft_render_host_teardown(struct st_buf *out);

/* Applies 'batch' as one libnftables transaction inside namespace 'netns'
 * (a /run/netns name; NULL: the caller's).  On failure nothing changed and
 * 'err' carries nft's error text. */
int nft_apply(const char *netns, const char *batch, struct st_err *err)
    __attribute__((warn_unused_result));

/* Runs the read-only nft command 'cmd' ("list table inet stratus") inside
 * 'netns' and appends its output to 'out'. */
int nft_list(const char *netns, const char *cmd, struct st_buf *out, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

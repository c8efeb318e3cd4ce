/*
 * metadata_proxy.h - the metadata proxy of each qdhcp and qrouter
 * namespace of this host (Neutron's neutron-ns-metadata-proxy, in the
 * agent): guests reach http://169.254.169.254/ there, and the proxy forwards
 * what they ask to the controller's metadata API with the identity it
 * vouches for, signed (metadata/sign.h).
 *
 * Per namespace: 169.254.169.254/32 on its loopback, and a listening TCP
 * socket on 169.254.169.254:80 made inside it (netns_call(): a thread that
 * enters the namespace, opens the socket and leaves; the socket stays in the
 * namespace) and served by a libmicrohttpd daemon of its own (a thread per
 * connection; each request is one blocking libcurl call to the controller).
 *   - qdhcp-<network>: guests reach it through DHCP option 121 on subnets
 *     without a router (dhcp.c).  A request is forwarded only when its
 *     source address is the fixed address of a port of that network (the
 *     DHCP host entries); anything else gets 404 here.
 *   - qrouter-<router>: guests reach it through their default route.  The
 *     network is the one of the router interface whose subnet holds the
 *     source address; none: 404 here.
 * The controller then finds the port with that address on that network.  A
 * guest cannot borrow another's address: its port's anti-spoofing rules
 * (nft.c) drop frames with any other source address before they reach the
 * namespace.
 *
 * The guest's request is never passed on as it came: only its method, its
 * path (a plain character set; anything else is 404) and, for a POST of the
 * password, its body (at most 4 KiB) go into a new request.
 */
#ifndef ST_AGENT_METADATA_PROXY_H
#define ST_AGENT_METADATA_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "agent/model.h"
#include "common/err.h"

#define MDP_ADDRESS "169.254.169.254"
#define MDP_PORT 80

struct mdp;

/* Proxies forwarding to the controller at 'controller_url' (copied);
 * 'port' is the port to listen on in each namespace (MDP_PORT; tests may
 * pick another). */
struct mdp *mdp_new(const char *controller_url, int port);
/* Stops every proxy (closing their sockets, so that the namespaces can go). */
void mdp_free(struct mdp *p);

/* Makes the proxies match 'd': one for each network this host serves DHCP
 * for and each router it runs, whose namespace exists; the others stop.  A
 * namespace made again since (another inode) gets a new socket.  The
 * mappings and the secret ('d->metadata_secret') are updated in place; with
 * no secret every proxy stops.  Errors of one namespace do not stop the
 * others: the first is returned (-1 with 'err') after all were tried. */
int mdp_sync(struct mdp *p, const struct model_desired *d, struct st_err *err)
    __attribute__((warn_unused_result));

/* Requests forwarded and refused (no such port here) since the start. */
void mdp_counts(const struct mdp *p, uint64_t *forwarded, uint64_t *refused);

#endif

/* net_internal.h - what the files of the network driver share with one
 * another and with nobody else (net.h is the agent's view): the driver's
 * state, one pass and its link cache, and the helpers one file calls in
 * the other.
 *
 *   net.c       options, conntrack zones, the host id, nft rulesets,
 *               ownership, links, networks, ports, routers and the pass
 *   net_gc.c    leftovers: links and namespaces of ours the desired state
 *               no longer names */
#ifndef ST_AGENT_NET_INTERNAL_H
#define ST_AGENT_NET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/model.h"
#include "agent/net.h"
#include "agent/netlink.h"
#include "agent/nft.h"
#include "common/err.h"

/* Ownership (net.h).  The alias of every link the driver makes, and of the
 * loopback of every namespace it makes, is OWNER_PREFIX + the host id.
 * LEGACY_ALIAS is what agents wrote before ownership: it names no host. */
#define OWNER_PREFIX "stratus host "
#define LEGACY_ALIAS "stratus"
#define MAX_MAPPINGS 64
#define ZONE_MAX 65535

struct mapping {
    char physnet[64];
    char iface[NL_IFNAME_MAX];
};

struct zone {
    char net_id[MODEL_ID_MAX];
    uint16_t zone;
};

/* An unmarked leftover seen by a pass ("link brqX", "namespace qdhcp-Y"),
 * kept while it is there so that it is reported once. */
struct note {
    char what[96];
    bool seen;
};

/* What the agent applied in a namespace ("" is the host). */
struct applied {
    char key[MODEL_NETNS_MAX];
    struct nft_state *nft;
    bool seen;
};

struct net_state {
    char *state_dir;
    char *local_ip;
    char *dnsmasq;
    struct mapping maps[MAX_MAPPINGS];
    size_t nmaps;
    struct zone *zones;
    size_t nzones;
    struct applied *applied;
    size_t napplied;
    char host_id[MODEL_ID_MAX]; /* the host's id: what we make carries it; "" until set */
    bool br_nf_checked;
    struct net_stats stats;
    char alias[NET_OWNER_ALIAS_MAX]; /* OWNER_PREFIX + host_id */
    struct note *notes;
    size_t nnotes;
    const char **fresh; /* what of 'notes' the last pass saw first */
    size_t nfresh;
};

/* One pass. */
/* The host namespace's links, from one dump, sorted by name: a pass that
 * looked up each port's tap and bridge with its own RTM_GETLINK spent
 * 40 ms of kernel time at 1,000 ports (rtnl_fill_ifinfo), against 3 ms
 * for everything else.  Loaded at the first lookup; links the pass makes
 * after that are not in it, which its users allow for (see below). */
struct link_cache {
    struct nl_link *v;
    size_t n;
    bool loaded;
};

struct pass {
    struct net_state *ns;
    const struct model_desired *d;
    struct nl_sock *host;
    bool *net_ok;            /* per network of d */
    struct link_cache links;
};


/* ---- net.c -------------------------------------------------------------- */

/* The interface the physical network 'physnet' is mapped to, NULL when none. */
const char *net_mapped_iface(const struct net_state *ns, const char *physnet);
/* The owner of the namespace 's' is in: the alias of its loopback (a
 * namespace has no attribute of its own, and this one lives and dies with
 * it).  'alias' gets it ("" when none). */
int net_ns_alias(struct nl_sock *s, char *alias, size_t n, struct st_err *err)
    __attribute__((warn_unused_result));
/* Marks namespace 'nsname' ('s') as ours before anything in it changes: a
 * namespace of ours just made has no mark yet and is marked. */
int net_claim_ns(struct pass *p, struct nl_sock *s, const char *nsname, struct st_err *err)
    __attribute__((warn_unused_result));
/* Records that the pass left the unmarked leftover 'kind' 'name' alone. */
void net_note_unmarked(struct net_state *ns, const char *kind, const char *name);
/* Loads the link cache of pass 'p' (the host namespace's links, from one dump). */
int net_links_load(struct pass *p, struct st_err *err) __attribute__((warn_unused_result));
void net_links_forget(struct link_cache *lc);

/* ---- net_gc.c ----------------------------------------------------------- */

/* Removes what is ours and not in 'd' (NULL: everything ours).  What
 * another host marked is not looked at; what nobody marked is left alone
 * and noted.  Keeps going after a failure and reports the first. */
int net_remove_leftovers(struct pass *p, const struct model_desired *d, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

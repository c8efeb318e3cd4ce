/*
 * netlink.h - the agent's one netlink module (STYLE §12), over libmnl:
 * links (bridge, veth pair, VXLAN, 802.1Q VLAN), their state (up/down,
 * master, MTU, MAC, namespace, alias), addresses, routes, bridge FDB
 * entries of VXLAN devices, and a dump iterator (start/next/done) over
 * links, addresses, routes and FDB entries.  Also the nftables ruleset
 * generation id (NETLINK_NETFILTER), which nft.c uses to notice that
 * someone changed the ruleset.
 *
 * Every operation is idempotent where that has a meaning: creating a link
 * or address that exists (EEXIST), deleting one that does not (ENODEV,
 * EADDRNOTAVAIL, ESRCH, ENOENT) succeed.  Errors carry the kernel's
 * extended-ack text when it gives one ("Unknown device type").
 *
 * A socket belongs to one network namespace: nl_open(NAME) creates it in
 * a short-lived thread that entered /run/netns/NAME (netns_call), and the
 * socket works on that namespace from any thread afterwards.
 *
 * Requests are built by nl_build_*() into a caller's buffer without being
 * sent, so that tests can compare their bytes with golden files
 * (tests/data/netlink/<case>.hex); the nl_* operations build, send, and
 * wait for the kernel's acknowledgement.
 */
#ifndef ST_AGENT_NETLINK_H
#define ST_AGENT_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define NL_IFNAME_MAX 16
#define NL_ADDR_MAX 46
#define NL_BUF_SIZE 8192  /* enough for any request built here */

struct nl_sock;

/* A route netlink socket in namespace 'netns' (a /run/netns name; NULL:
 * the caller's).  Returns a new socket (nl_close), or NULL with 'err'. */
struct nl_sock *nl_open(const char *netns, struct st_err *err);
void nl_close(struct nl_sock *s);

enum nl_link_kind { NL_KIND_OTHER, NL_KIND_BRIDGE, NL_KIND_VETH, NL_KIND_VXLAN, NL_KIND_VLAN };

/* What nl_link_add() creates.  Unused members are 0/NULL. */
struct nl_link_spec {
    const char *name;        /* required, 1..15 characters */
    enum nl_link_kind kind;  /* not NL_KIND_OTHER */
    int mtu;                 /* 0: the kernel's default */
    const char *mac;         /* "aa:bb:cc:dd:ee:ff", NULL: random */
    int master;              /* ifindex of a bridge to enslave to, 0: none */
    bool up;
    /* bridge */
    bool br_nf_call;         /* bridged IPv4/IPv6 through the inet hooks
                                (IFLA_BR_NF_CALL_IP{,6}TABLES) */
    /* veth */
    const char *peer;        /* the other end's name */
    int peer_netns_fd;       /* namespace fd for the other end; < 0: same */
    const char *peer_mac;
    /* vxlan and vlan */
    int link;                /* ifindex of the underlay (vxlan, 0: none) or
                                of the parent (vlan, required) */
    uint32_t vni;            /* vxlan: 1..16777215 */
    const char *local;       /* vxlan: local VTEP address, NULL: none */
    uint16_t dstport;        /* vxlan: UDP port, 0 means 4789 */
    uint16_t vid;            /* vlan: 1..4094 */
};

/* Renders the RTM_NEWLINK request creating 'spec' into 'buf' ('size'
 * bytes, NL_BUF_SIZE is enough) with sequence number 'seq' and port id 0.
 * Returns its length, or -1 with BAD_REQUEST when 'spec' is incomplete or
 * malformed. */
int nl_build_link_add(void *buf, size_t size, uint32_t seq, const struct nl_link_spec *spec,
                      struct st_err *err) __attribute__((warn_unused_result));

/* Creates a link.  One that exists with that name is success (the caller
 * checks what it is with nl_link_get()).  A VLAN device on a kernel without
 * 802.1Q support fails with NOT_IMPLEMENTED and a message that says so. */
int nl_link_add(struct nl_sock *s, const struct nl_link_spec *spec, struct st_err *err)
    __attribute__((warn_unused_result));
/* Deletes link 'name' (a veth takes its peer with it); absent is success. */
int nl_link_del(struct nl_sock *s, const char *name, struct st_err *err)
    __attribute__((warn_unused_result));
/* The ownership check before a deletion: deletes link 'name' only when its
 * alias (IFLA_IFALIAS, where the network driver writes its owner's mark) is
 * exactly 'alias' (non-empty).  Absent is success.  A link with another
 * alias, or none, is left alone: -1 with CONFLICT naming the alias found.
 * The deletion addresses the link looked at by its index, so a link made
 * again under that name meanwhile is not taken. */
int nl_link_del_owned(struct nl_sock *s, const char *name, const char *alias, struct st_err *err)
    __attribute__((warn_unused_result));

/* A link as the kernel reports it. */
struct nl_link {
    int ifindex;
    char name[NL_IFNAME_MAX];
    enum nl_link_kind kind;
    char kind_name[16];      /* IFLA_INFO_KIND, "" for a physical device */
    unsigned flags;          /* IFF_UP, ... */
    int mtu;
    char mac[18];            /* "" when none */
    int master;              /* ifindex, 0: none */
    int link;                /* parent or peer ifindex, 0: none */
    char alias[64];
    int br_nf_call;          /* bridges: IFLA_BR_NF_CALL_IPTABLES, -1 unknown */
    uint32_t vni;            /* vxlan */
    uint16_t vid;            /* vlan */
};

/* Looks up 'name'.  Returns 1 and fills 'out', 0 when there is no such
 * link, or -1 with 'err'. */
int nl_link_get(struct nl_sock *s, const char *name, struct nl_link *out, struct st_err *err)
    __attribute__((warn_unused_result));

/* Changes to an existing link; members left at NL_KEEP (or NULL) are not
 * touched. */
#define NL_KEEP (-2)
struct nl_link_change {
    int up;                  /* 1 up, 0 down */
    int mtu;                 /* > 0 */
    const char *mac;
    int master;              /* ifindex, 0: release from its bridge */
    int netns_fd;            /* move the link into this namespace */
    const char *alias;       /* "" clears it */
    int br_nf_call;          /* bridges: 1 or 0 */
};
#define NL_LINK_CHANGE_INIT {NL_KEEP, NL_KEEP, NULL, NL_KEEP, NL_KEEP, NULL, NL_KEEP}

int nl_build_link_set(void *buf, size_t size, uint32_t seq, const char *name,
                      const struct nl_link_change *c, struct st_err *err)
    __attribute__((warn_unused_result));
int nl_link_set(struct nl_sock *s, const char *name, const struct nl_link_change *c,
                struct st_err *err) __attribute__((warn_unused_result));
/* Shorthands for one change each. */
int nl_link_set_up(struct nl_sock *s, const char *name, bool up, struct st_err *err)
    __attribute__((warn_unused_result));
int nl_link_set_master(struct nl_sock *s, const char *name, int master, struct st_err *err)
    __attribute__((warn_unused_result));
int nl_link_set_mtu(struct nl_sock *s, const char *name, int mtu, struct st_err *err)
    __attribute__((warn_unused_result));
int nl_link_set_mac(struct nl_sock *s, const char *name, const char *mac, struct st_err *err)
    __attribute__((warn_unused_result));
int nl_link_set_netns(struct nl_sock *s, const char *name, int netns_fd, struct st_err *err)
    __attribute__((warn_unused_result));

/* Adds or deletes address 'addr' (IPv4 or IPv6 text) with 'prefixlen' on
 * link 'ifname'.  Adding one that is there, deleting one that is not,
 * succeed. */
int nl_addr_add(struct nl_sock *s, const char *ifname, const char *addr, int prefixlen,
                struct st_err *err) __attribute__((warn_unused_result));
int nl_addr_del(struct nl_sock *s, const char *ifname, const char *addr, int prefixlen,
                struct st_err *err) __attribute__((warn_unused_result));

/* Adds (or replaces: NLM_F_REPLACE, so a changed next hop converges) the
 * route to 'dst' ("10.0.0.0/24", "0.0.0.0/0" or "default" for IPv4's
 * default, "::/0" for IPv6's) via 'gateway' (NULL: on-link) out of
 * 'oif' (NULL: the kernel picks), in the main table.  Deleting a route
 * that is not there succeeds. */
int nl_route_add(struct nl_sock *s, const char *dst, const char *gateway, const char *oif,
                 struct st_err *err) __attribute__((warn_unused_result));
int nl_route_del(struct nl_sock *s, const char *dst, const char *gateway, const char *oif,
                 struct st_err *err) __attribute__((warn_unused_result));

/* Appends (NLM_F_APPEND) or deletes the FDB entry 'mac' -> remote 'dst' on
 * VXLAN device 'ifname' (mac "00:00:00:00:00:00" is the flooding entry of
 * a peer). */
int nl_build_fdb(void *buf, size_t size, uint32_t seq, bool add, int ifindex, const char *mac,
                 const char *dst, struct st_err *err) __attribute__((warn_unused_result));
int nl_fdb_append(struct nl_sock *s, const char *ifname, const char *mac, const char *dst,
                  struct st_err *err) __attribute__((warn_unused_result));
int nl_fdb_del(struct nl_sock *s, const char *ifname, const char *mac, const char *dst,
               struct st_err *err) __attribute__((warn_unused_result));

/* The dump iterator.  nl_dump_start() asks the kernel for every object of
 * one kind (restarting when the kernel says the dump was interrupted);
 * nl_dump_next() gives them one at a time (the pointer is valid until the
 * next call) and NULL at the end; nl_dump_done() frees the iterator. */
enum nl_dump_kind { NL_DUMP_LINKS, NL_DUMP_ADDRS, NL_DUMP_ROUTES, NL_DUMP_FDB };

struct nl_addr {
    int ifindex;
    int family;              /* AF_INET or AF_INET6 */
    char addr[NL_ADDR_MAX];
    int prefixlen;
    int scope;               /* RT_SCOPE_* */
};

struct nl_route {
    int family;
    char dst[NL_ADDR_MAX + 4]; /* "10.0.0.0/24", "0.0.0.0/0" */
    char gateway[NL_ADDR_MAX]; /* "" when on-link */
    int oif;
    int table;
    int protocol;            /* RTPROT_* */
    int type;                /* RTN_UNICAST, ... */
};

struct nl_fdb {
    int ifindex;
    char mac[18];
    char dst[NL_ADDR_MAX];   /* remote VTEP, "" when none */
    int master;
    unsigned state;          /* NUD_* */
};

struct nl_entry {
    enum nl_dump_kind kind;
    union {
        struct nl_link link;
        struct nl_addr addr;
        struct nl_route route;
        struct nl_fdb fdb;
    } u;
};

struct nl_dump;
/* 'family' filters addresses and routes (AF_INET, AF_INET6, 0: both);
 * FDB dumps are of AF_BRIDGE. */
struct nl_dump *nl_dump_start(struct nl_sock *s, enum nl_dump_kind kind, int family,
                              struct st_err *err);
const struct nl_entry *nl_dump_next(struct nl_dump *d);
void nl_dump_done(struct nl_dump *d);

/* The nftables ruleset generation id of namespace 'netns' (NULL: the
 * caller's): it changes with every committed nft transaction. */
int nl_nft_genid(const char *netns, uint32_t *genid, struct st_err *err)
    __attribute__((warn_unused_result));

/* The same on a NETLINK_NETFILTER socket of namespace 'netns' opened once
 * with nl_open_nft() (nl_close() it): for a caller that must not close one
 * after each nft commit, since the release of any nfnetlink socket waits
 * until the kernel has retired what the last commit removed (an RCU grace
 * period, ~10-15 ms). */
struct nl_sock *nl_open_nft(const char *netns, struct st_err *err);
int nl_nft_genid_sock(struct nl_sock *s, uint32_t *genid, struct st_err *err)
    __attribute__((warn_unused_result));

/* Parses "aa:bb:cc:dd:ee:ff" into 6 bytes; -1 when malformed. */
int nl_parse_mac(const char *s, unsigned char out[6]);

#endif

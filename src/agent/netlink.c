/* netlink.c - rtnetlink over libmnl for the network driver (see netlink.h). */
#include "agent/netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/netns.h"
#include "common/util.h"
#include "common/banned.h"

#define RECV_BUF_SIZE 65536
#define DUMP_RETRIES 5

struct nl_sock {
    struct mnl_socket *mnl;
    uint32_t portid;
    uint32_t seq;
};

/* ---- opening, in a namespace ---- */

struct open_ctx {
    int proto;
    struct mnl_socket *mnl;
};

static int open_fn(void *arg, struct st_err *err)
{
    struct open_ctx *o = arg;
    int one = 1;
    o->mnl = mnl_socket_open2(o->proto, SOCK_CLOEXEC);
    if (!o->mnl) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot open a netlink socket");
        return -1;
    }
    if (mnl_socket_bind(o->mnl, 0, MNL_SOCKET_AUTOPID) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot bind a netlink socket");
        mnl_socket_close(o->mnl);
        o->mnl = NULL;
        return -1;
    }
    /* Error texts from the kernel, and no echo of our request in them.
     * Both are best effort: old kernels lack them. */
    (void) mnl_socket_setsockopt(o->mnl, NETLINK_EXT_ACK, &one, sizeof(one));
    (void) mnl_socket_setsockopt(o->mnl, NETLINK_CAP_ACK, &one, sizeof(one));
    return 0;
}

static struct nl_sock *open_proto(const char *netns, int proto, struct st_err *err)
{
    struct open_ctx o = {.proto = proto};
    struct nl_sock *s;
    if (netns_call(netns, open_fn, &o, err) < 0)
        return NULL;
    s = st_xcalloc(1, sizeof(*s));
    s->mnl = o.mnl;
    s->portid = mnl_socket_get_portid(o.mnl);
    s->seq = (uint32_t) time(NULL);
    return s;
}

struct nl_sock *nl_open(const char *netns, struct st_err *err)
{
    return open_proto(netns, NETLINK_ROUTE, err);
}

void nl_close(struct nl_sock *s)
{
    if (!s)
        return;
    mnl_socket_close(s->mnl);
    free(s);
}

/* ---- helpers ---- */

int nl_parse_mac(const char *s, unsigned char out[6])
{
    unsigned v[6];
    char tail;
    if (!s || strlen(s) != 17 ||
        sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        out[i] = (unsigned char) v[i];
    return 0;
}

static void format_mac(const unsigned char *m, size_t len, char out[18])
{
    if (len != 6) {
        out[0] = '\0';
        return;
    }
    ST_IGNORE(st_snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
                          m[4], m[5]));
}

/* Parses 'addr' as IPv4 or IPv6 into 'bin'; returns the family or 0. */
static int parse_ip(const char *addr, unsigned char bin[16])
{
    if (addr && inet_pton(AF_INET, addr, bin) == 1)
        return AF_INET;
    if (addr && inet_pton(AF_INET6, addr, bin) == 1)
        return AF_INET6;
    return 0;
}

static bool ifname_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= IFNAMSIZ)
        return false;
    for (const char *p = name; *p; p++)
        if (*p <= ' ' || *p == '/' || *p == ':' || (unsigned char) *p >= 0x7f)
            return false;
    return true;
}

static int bad_spec(struct st_err *err, const char *what, const char *name)
{
    st_err_set(err, ST_ERR_BAD_REQUEST, "netlink request for '%s': %s", name ? name : "(none)",
               what);
    return -1;
}

static struct nlmsghdr *put_header(void *buf, size_t size, uint16_t type, uint16_t flags,
                                   uint32_t seq)
{
    struct nlmsghdr *nlh;
    memset(buf, 0, size < NL_BUF_SIZE ? size : NL_BUF_SIZE);
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = seq;
    nlh->nlmsg_pid = 0;
    return nlh;
}

/* mnl_attr_put_check and friends return false when the buffer is full. */
#define PUT(call)                                                                                  \
    do {                                                                                           \
        if (!(call))                                                                               \
            return bad_spec(err, "request too large", name);                                       \
    } while (0)

/* ---- requests and replies ---- */

static bool is_get(uint16_t type)
{
    return type == RTM_GETLINK || type == RTM_GETADDR || type == RTM_GETROUTE ||
           type == RTM_GETNEIGH;
}

/* Sends the request in 'buf' and reads until its acknowledgement.  Data
 * messages answering it go to 'cb' (may be NULL).  Returns 0 when the
 * exchange took place, with '*kerr' the kernel's errno (0: success) and
 * 'extack' its message if any; -1 with 'err' when the socket failed. */
static int transact(struct nl_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, int *kerr,
                    char *extack, size_t extack_size, struct st_err *err)
{
    char *rbuf;
    uint32_t seq = ++s->seq;
    bool done = false;
    int rc = -1;

    *kerr = 0;
    if (extack_size)
        extack[0] = '\0';
    nlh->nlmsg_seq = seq;
    nlh->nlmsg_pid = 0;
    /* NLM_F_DUMP shares its bits with NLM_F_EXCL and NLM_F_REPLACE: only a
     * GET (RTM_GET*, NFT_MSG_GET*) can be a dump. */
    if (!(is_get(nlh->nlmsg_type) && (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP))
        nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(s->mnl, nlh, nlh->nlmsg_len) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot send a netlink request");
        return -1;
    }
    rbuf = st_xmalloc(RECV_BUF_SIZE);
    while (!done) {
        ssize_t n = mnl_socket_recvfrom(s->mnl, rbuf, RECV_BUF_SIZE);
        struct nlmsghdr *m = (struct nlmsghdr *) rbuf;
        int left;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot read a netlink reply");
            goto out;
        }
        left = (int) n;
        for (; mnl_nlmsg_ok(m, left); m = mnl_nlmsg_next(m, &left)) {
            if (m->nlmsg_seq != seq || (m->nlmsg_pid && m->nlmsg_pid != s->portid))
                continue;
            if (m->nlmsg_type == NLMSG_DONE) {
                /* A dump that failed half-way ends with its error here. */
                if (m->nlmsg_len >= mnl_nlmsg_size(sizeof(int)) && *kerr == 0) {
                    int e;
                    memcpy(&e, mnl_nlmsg_get_payload(m), sizeof(e));
                    *kerr = e < 0 ? -e : 0;
                }
                done = true;
                break;
            }
            if (m->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
                if (m->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
                    break;
                *kerr = -e->error;
                if ((m->nlmsg_flags & NLM_F_ACK_TLVS) && extack_size) {
                    /* With NETLINK_CAP_ACK the request is not echoed: the
                     * TLVs follow the original header. */
                    size_t off = sizeof(*e);
                    if (!(m->nlmsg_flags & NLM_F_CAPPED))
                        off += e->msg.nlmsg_len - sizeof(e->msg);
                    const struct nlattr *a;
                    mnl_attr_for_each(a, m, off)
                    {
                        if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
                            mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
                            ST_IGNORE(st_snprintf(extack, extack_size, "%s",
                                                  mnl_attr_get_str(a)));
                    }
                }
                done = true;
                break;
            }
            if (m->nlmsg_flags & NLM_F_DUMP_INTR) {
                *kerr = EINTR;
            }
            if (cb && cb(m, data) < MNL_CB_OK) {
                st_err_set(err, ST_ERR_INTERNAL, "malformed netlink reply");
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(rbuf);
    return rc;
}

/* Turns a kernel errno into 'err': "what: text (strerror)". */
static int kernel_error(struct st_err *err, int kerr, const char *extack, const char *fmt,
                        const char *subject)
{
    char what[160];
    if (st_snprintf(what, sizeof(what), fmt, subject) < 0)
        what[0] = '\0';
    if (extack[0])
        st_err_set(err, ST_ERR_INTERNAL, "%s: %s (%s)", what, extack, strerror(kerr));
    else
        st_err_set(err, ST_ERR_INTERNAL, "%s: %s", what, strerror(kerr));
    err->sys_errno = kerr;
    return -1;
}

/* A request whose reply is only an acknowledgement; the errnos in
 * 'ok_errnos' (0-terminated) count as success. */
static int simple(struct nl_sock *s, struct nlmsghdr *nlh, const int *ok_errnos,
                  const char *fmt, const char *subject, struct st_err *err)
{
    char extack[256];
    int kerr;
    if (transact(s, nlh, NULL, NULL, &kerr, extack, sizeof(extack), err) < 0)
        return -1;
    if (kerr == 0)
        return 0;
    for (const int *e = ok_errnos; e && *e; e++)
        if (kerr == *e)
            return 0;
    return kernel_error(err, kerr, extack, fmt, subject);
}

/* ---- attribute parsing ---- */

struct attr_tb {
    const struct nlattr **tb;
    unsigned max;
};

static int attr_cb(const struct nlattr *a, void *data)
{
    struct attr_tb *t = data;
    unsigned type = mnl_attr_get_type(a);
    if (type <= t->max)
        t->tb[type] = a;
    return MNL_CB_OK;
}

static void parse_nested(const struct nlattr *nest, const struct nlattr **tb, unsigned max)
{
    struct attr_tb t = {tb, max};
    memset(tb, 0, (max + 1) * sizeof(*tb));
    if (nest)
        (void) mnl_attr_parse_nested(nest, attr_cb, &t);
}

static const char *attr_str(const struct nlattr *a)
{
    if (!a || mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
        return "";
    return mnl_attr_get_str(a);
}

static uint32_t attr_u32(const struct nlattr *a)
{
    return a && mnl_attr_get_payload_len(a) >= 4 ? mnl_attr_get_u32(a) : 0;
}

static enum nl_link_kind kind_of(const char *k)
{
    if (!strcmp(k, "bridge"))
        return NL_KIND_BRIDGE;
    if (!strcmp(k, "veth"))
        return NL_KIND_VETH;
    if (!strcmp(k, "vxlan"))
        return NL_KIND_VXLAN;
    if (!strcmp(k, "vlan"))
        return NL_KIND_VLAN;
    return NL_KIND_OTHER;
}

static int parse_link(const struct nlmsghdr *nlh, struct nl_link *l)
{
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[IFLA_MAX + 1] = {0};
    const struct nlattr *info[IFLA_INFO_MAX + 1];
    struct attr_tb t = {tb, IFLA_MAX};
    if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
        return -1;
    memset(l, 0, sizeof(*l));
    l->br_nf_call = -1;
    if (mnl_attr_parse(nlh, sizeof(*ifi), attr_cb, &t) < MNL_CB_OK)
        return -1;
    l->ifindex = ifi->ifi_index;
    l->flags = ifi->ifi_flags;
    ST_IGNORE(st_snprintf(l->name, sizeof(l->name), "%s", attr_str(tb[IFLA_IFNAME])));
    l->mtu = (int) attr_u32(tb[IFLA_MTU]);
    l->master = (int) attr_u32(tb[IFLA_MASTER]);
    l->link = (int) attr_u32(tb[IFLA_LINK]);
    ST_IGNORE(st_snprintf(l->alias, sizeof(l->alias), "%s", attr_str(tb[IFLA_IFALIAS])));
    if (tb[IFLA_ADDRESS])
        format_mac(mnl_attr_get_payload(tb[IFLA_ADDRESS]),
                   mnl_attr_get_payload_len(tb[IFLA_ADDRESS]), l->mac);
    parse_nested(tb[IFLA_LINKINFO], info, IFLA_INFO_MAX);
    ST_IGNORE(st_snprintf(l->kind_name, sizeof(l->kind_name), "%s",
                          attr_str(info[IFLA_INFO_KIND])));
    l->kind = kind_of(l->kind_name);
    if (info[IFLA_INFO_DATA]) {
        if (l->kind == NL_KIND_BRIDGE) {
            const struct nlattr *br[IFLA_BR_MAX + 1];
            parse_nested(info[IFLA_INFO_DATA], br, IFLA_BR_MAX);
            if (br[IFLA_BR_NF_CALL_IPTABLES])
                l->br_nf_call = mnl_attr_get_u8(br[IFLA_BR_NF_CALL_IPTABLES]);
        } else if (l->kind == NL_KIND_VXLAN) {
            const struct nlattr *vx[IFLA_VXLAN_MAX + 1];
            parse_nested(info[IFLA_INFO_DATA], vx, IFLA_VXLAN_MAX);
            l->vni = attr_u32(vx[IFLA_VXLAN_ID]);
        } else if (l->kind == NL_KIND_VLAN) {
            const struct nlattr *vl[IFLA_VLAN_MAX + 1];
            parse_nested(info[IFLA_INFO_DATA], vl, IFLA_VLAN_MAX);
            if (vl[IFLA_VLAN_ID])
                l->vid = mnl_attr_get_u16(vl[IFLA_VLAN_ID]);
        }
    }
    return 0;
}

/* ---- links ---- */

static bool put_mac(struct nlmsghdr *nlh, size_t size, uint16_t type, const char *mac)
{
    unsigned char m[6];
    if (nl_parse_mac(mac, m) < 0)
        return false;
    return mnl_attr_put_check(nlh, size, type, 6, m);
}

int nl_build_link_add(void *buf, size_t size, uint32_t seq, const struct nl_link_spec *spec,
                      struct st_err *err)
{
    const char *name = spec->name;
    struct nlmsghdr *nlh;
    struct ifinfomsg *ifi;
    struct nlattr *linkinfo, *data;
    static const char *const kinds[] = {"", "bridge", "veth", "vxlan", "vlan"};
    unsigned char bin[16];

    if (size < NL_BUF_SIZE)
        return bad_spec(err, "buffer too small", name);
    if (!ifname_ok(name))
        return bad_spec(err, "invalid interface name", name);
    if (spec->kind == NL_KIND_OTHER || (unsigned) spec->kind >= ST_ARRAY_SIZE(kinds))
        return bad_spec(err, "unknown link kind", name);
    if (spec->mtu && (spec->mtu < 68 || spec->mtu > 65535))
        return bad_spec(err, "MTU out of range", name);
    nlh = put_header(buf, size, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, seq);
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    if (spec->up) {
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
    }
    PUT(mnl_attr_put_strz_check(nlh, size, IFLA_IFNAME, name));
    if (spec->mtu)
        PUT(mnl_attr_put_u32_check(nlh, size, IFLA_MTU, (uint32_t) spec->mtu));
    if (spec->mac && !put_mac(nlh, size, IFLA_ADDRESS, spec->mac))
        return bad_spec(err, "invalid MAC address", name);
    if (spec->master > 0)
        PUT(mnl_attr_put_u32_check(nlh, size, IFLA_MASTER, (uint32_t) spec->master));
    if (spec->kind == NL_KIND_VLAN) {
        if (spec->link <= 0)
            return bad_spec(err, "a VLAN device needs its parent", name);
        PUT(mnl_attr_put_u32_check(nlh, size, IFLA_LINK, (uint32_t) spec->link));
    }
    linkinfo = mnl_attr_nest_start_check(nlh, size, IFLA_LINKINFO);
    PUT(linkinfo);
    PUT(mnl_attr_put_strz_check(nlh, size, IFLA_INFO_KIND, kinds[spec->kind]));
    switch (spec->kind) {
    case NL_KIND_BRIDGE:
        if (spec->br_nf_call) {
            data = mnl_attr_nest_start_check(nlh, size, IFLA_INFO_DATA);
            PUT(data);
            PUT(mnl_attr_put_u8_check(nlh, size, IFLA_BR_NF_CALL_IPTABLES, 1));
            PUT(mnl_attr_put_u8_check(nlh, size, IFLA_BR_NF_CALL_IP6TABLES, 1));
            mnl_attr_nest_end(nlh, data);
        }
        break;
    case NL_KIND_VETH: {
        struct ifinfomsg *pifi;
        if (!ifname_ok(spec->peer))
            return bad_spec(err, "a veth needs a valid peer name", name);
        data = mnl_attr_nest_start_check(nlh, size, IFLA_INFO_DATA);
        PUT(data);
        struct nlattr *peer = mnl_attr_nest_start_check(nlh, size, VETH_INFO_PEER);
        PUT(peer);
        /* The peer's ifinfomsg sits inside the attribute. */
        if (mnl_nlmsg_size(nlh->nlmsg_len) + sizeof(*pifi) > size)
            return bad_spec(err, "request too large", name);
        pifi = (struct ifinfomsg *) ((char *) nlh + nlh->nlmsg_len);
        memset(pifi, 0, sizeof(*pifi));
        pifi->ifi_family = AF_UNSPEC;
        nlh->nlmsg_len += MNL_ALIGN(sizeof(*pifi));
        PUT(mnl_attr_put_strz_check(nlh, size, IFLA_IFNAME, spec->peer));
        if (spec->mtu)
            PUT(mnl_attr_put_u32_check(nlh, size, IFLA_MTU, (uint32_t) spec->mtu));
        if (spec->peer_mac && !put_mac(nlh, size, IFLA_ADDRESS, spec->peer_mac))
            return bad_spec(err, "invalid peer MAC address", name);
        if (spec->peer_netns_fd >= 0)
            PUT(mnl_attr_put_u32_check(nlh, size, IFLA_NET_NS_FD,
                                       (uint32_t) spec->peer_netns_fd));
        mnl_attr_nest_end(nlh, peer);
        mnl_attr_nest_end(nlh, data);
        break;
    }
    case NL_KIND_VXLAN: {
        int fam = 0;
        if (spec->vni < 1 || spec->vni > 16777215)
            return bad_spec(err, "VNI out of range", name);
        if (spec->local) {
            fam = parse_ip(spec->local, bin);
            if (!fam)
                return bad_spec(err, "invalid local address", name);
        }
        data = mnl_attr_nest_start_check(nlh, size, IFLA_INFO_DATA);
        PUT(data);
        PUT(mnl_attr_put_u32_check(nlh, size, IFLA_VXLAN_ID, spec->vni));
        if (fam == AF_INET)
            PUT(mnl_attr_put_check(nlh, size, IFLA_VXLAN_LOCAL, 4, bin));
        else if (fam == AF_INET6)
            PUT(mnl_attr_put_check(nlh, size, IFLA_VXLAN_LOCAL6, 16, bin));
        if (spec->link > 0)
            PUT(mnl_attr_put_u32_check(nlh, size, IFLA_VXLAN_LINK, (uint32_t) spec->link));
        PUT(mnl_attr_put_u16_check(nlh, size, IFLA_VXLAN_PORT,
                                   htons(spec->dstport ? spec->dstport : 4789)));
        PUT(mnl_attr_put_u8_check(nlh, size, IFLA_VXLAN_LEARNING, 0));
        mnl_attr_nest_end(nlh, data);
        break;
    }
    case NL_KIND_VLAN:
        if (spec->vid < 1 || spec->vid > 4094)
            return bad_spec(err, "VLAN id out of range", name);
        data = mnl_attr_nest_start_check(nlh, size, IFLA_INFO_DATA);
        PUT(data);
        PUT(mnl_attr_put_u16_check(nlh, size, IFLA_VLAN_ID, spec->vid));
        mnl_attr_nest_end(nlh, data);
        break;
    case NL_KIND_OTHER:
        break;
    }
    mnl_attr_nest_end(nlh, linkinfo);
    return (int) nlh->nlmsg_len;
}

int nl_link_add(struct nl_sock *s, const struct nl_link_spec *spec, struct st_err *err)
{
    char buf[NL_BUF_SIZE], extack[256];
    int kerr;
    if (nl_build_link_add(buf, sizeof(buf), 0, spec, err) < 0)
        return -1;
    if (transact(s, (struct nlmsghdr *) buf, NULL, NULL, &kerr, extack, sizeof(extack), err) <
        0)
        return -1;
    if (kerr == 0 || kerr == EEXIST)
        return 0;
    if (spec->kind == NL_KIND_VLAN && kerr == EOPNOTSUPP) {
        st_err_set(err, ST_ERR_NOT_IMPLEMENTED,
                   "cannot create VLAN device '%s': this kernel has no 802.1Q VLAN support "
                   "(module 8021q)",
                   spec->name);
        err->sys_errno = kerr;
        return -1;
    }
    return kernel_error(err, kerr, extack, "cannot create link '%s'", spec->name);
}

int nl_link_del(struct nl_sock *s, const char *name, struct st_err *err)
{
    char buf[NL_BUF_SIZE];
    struct nlmsghdr *nlh;
    struct ifinfomsg *ifi;
    static const int ok[] = {ENODEV, 0};
    if (!ifname_ok(name))
        return bad_spec(err, "invalid interface name", name);
    nlh = put_header(buf, sizeof(buf), RTM_DELLINK, NLM_F_REQUEST, 0);
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    PUT(mnl_attr_put_strz_check(nlh, sizeof(buf), IFLA_IFNAME, name));
    return simple(s, nlh, ok, "cannot delete link '%s'", name, err);
}

struct link_reply {
    struct nl_link *out;
    bool found;
};

int nl_link_del_owned(struct nl_sock *s, const char *name, const char *alias, struct st_err *err)
{
    char buf[NL_BUF_SIZE];
    struct nlmsghdr *nlh;
    struct ifinfomsg *ifi;
    struct nl_link l;
    static const int ok[] = {ENODEV, 0};
    int rc;
    if (!alias || !alias[0])
        return bad_spec(err, "deletion without an owner alias", name);
    rc = nl_link_get(s, name, &l, err);
    if (rc <= 0)
        return rc; /* absent: nothing to do */
    if (strcmp(l.alias, alias)) {
        st_err_set(err, ST_ERR_CONFLICT, "link '%s' is not ours (its alias is '%s'): left alone",
                   name, l.alias);
        return -1;
    }
    /* By index: a link made again under this name since the look-up is
     * another link, and not checked. */
    nlh = put_header(buf, sizeof(buf), RTM_DELLINK, NLM_F_REQUEST, 0);
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = l.ifindex;
    return simple(s, nlh, ok, "cannot delete link '%s'", name, err);
}

static int link_reply_cb(const struct nlmsghdr *nlh, void *data)
{
    struct link_reply *r = data;
    if (!r->found && parse_link(nlh, r->out) == 0)
        r->found = true;
    return MNL_CB_OK;
}

int nl_link_get(struct nl_sock *s, const char *name, struct nl_link *out, struct st_err *err)
{
    char buf[NL_BUF_SIZE], extack[256];
    struct nlmsghdr *nlh;
    struct ifinfomsg *ifi;
    struct link_reply r = {out, false};
    int kerr;
    if (!ifname_ok(name))
        return bad_spec(err, "invalid interface name", name);
    nlh = put_header(buf, sizeof(buf), RTM_GETLINK, NLM_F_REQUEST, 0);
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    PUT(mnl_attr_put_strz_check(nlh, sizeof(buf), IFLA_IFNAME, name));
    PUT(mnl_attr_put_u32_check(nlh, sizeof(buf), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS));
    if (transact(s, nlh, link_reply_cb, &r, &kerr, extack, sizeof(extack), err) < 0)
        return -1;
    if (kerr == ENODEV)
        return 0;
    if (kerr)
        return kernel_error(err, kerr, extack, "cannot look up link '%s'", name);
    return r.found ? 1 : 0;
}

int nl_build_link_set(void *buf, size_t size, uint32_t seq, const char *name,
                      const struct nl_link_change *c, struct st_err *err)
{
    struct nlmsghdr *nlh;
    struct ifinfomsg *ifi;
    if (size < NL_BUF_SIZE)
        return bad_spec(err, "buffer too small", name);
    if (!ifname_ok(name))
        return bad_spec(err, "invalid interface name", name);
    nlh = put_header(buf, size, RTM_NEWLINK, NLM_F_REQUEST, seq);
    ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    if (c->up != NL_KEEP) {
        ifi->ifi_change = IFF_UP;
        ifi->ifi_flags = c->up ? IFF_UP : 0;
    }
    PUT(mnl_attr_put_strz_check(nlh, size, IFLA_IFNAME, name));
    if (c->mtu != NL_KEEP) {
        if (c->mtu < 68 || c->mtu > 65535)
            return bad_spec(err, "MTU out of range", name);
        PUT(mnl_attr_put_u32_check(nlh, size, IFLA_MTU, (uint32_t) c->mtu));
    }
    if (c->mac && !put_mac(nlh, size, IFLA_ADDRESS, c->mac))
        return bad_spec(err, "invalid MAC address", name);
    if (c->master != NL_KEEP)
        PUT(mnl_attr_put_u32_check(nlh, size, IFLA_MASTER, (uint32_t) c->master));
    if (c->netns_fd != NL_KEEP)
        PUT(mnl_attr_put_u32_check(nlh, size, IFLA_NET_NS_FD, (uint32_t) c->netns_fd));
    if (c->alias)
        PUT(mnl_attr_put_check(nlh, size, IFLA_IFALIAS, strlen(c->alias), c->alias));
    if (c->br_nf_call != NL_KEEP) {
        struct nlattr *li = mnl_attr_nest_start_check(nlh, size, IFLA_LINKINFO), *data;
        PUT(li);
        PUT(mnl_attr_put_strz_check(nlh, size, IFLA_INFO_KIND, "bridge"));
        data = mnl_attr_nest_start_check(nlh, size, IFLA_INFO_DATA);
        PUT(data);
        PUT(mnl_attr_put_u8_check(nlh, size, IFLA_BR_NF_CALL_IPTABLES, c->br_nf_call ? 1 : 0));
        PUT(mnl_attr_put_u8_check(nlh, size, IFLA_BR_NF_CALL_IP6TABLES, c->br_nf_call ? 1 : 0));
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, li);
    }
    return (int) nlh->nlmsg_len;
}

int nl_link_set(struct nl_sock *s, const char *name, const struct nl_link_change *c,
                struct st_err *err)
{
    char buf[NL_BUF_SIZE];
    if (nl_build_link_set(buf, sizeof(buf), 0, name, c, err) < 0)
        return -1;
    return simple(s, (struct nlmsghdr *) buf, NULL, "cannot change link '%s'", name, err);
}

int nl_link_set_up(struct nl_sock *s, const char *name, bool up, struct st_err *err)
{
    struct nl_link_change c = NL_LINK_CHANGE_INIT;
    c.up = up;
    return nl_link_set(s, name, &c, err);
}

int nl_link_set_master(struct nl_sock *s, const char *name, int master, struct st_err *err)
{
    struct nl_link_change c = NL_LINK_CHANGE_INIT;
    c.master = master;
    return nl_link_set(s, name, &c, err);
}

int nl_link_set_mtu(struct nl_sock *s, const char *name, int mtu, struct st_err *err)
{
    struct nl_link_change c = NL_LINK_CHANGE_INIT;
    c.mtu = mtu;
    return nl_link_set(s, name, &c, err);
}

int nl_link_set_mac(struct nl_sock *s, const char *name, const char *mac, struct st_err *err)
{
    struct nl_link_change c = NL_LINK_CHANGE_INIT;
    c.mac = mac;
    return nl_link_set(s, name, &c, err);
}

int nl_link_set_netns(struct nl_sock *s, const char *name, int netns_fd, struct st_err *err)
{
    struct nl_link_change c = NL_LINK_CHANGE_INIT;
    c.netns_fd = netns_fd;
    return nl_link_set(s, name, &c, err);
}

/* ---- addresses ---- */

/* The ifindex of 'name': > 0, 0 when there is no such link ('err' set
 * only when 'must_exist'), -1 on failure. */
static int ifindex_of(struct nl_sock *s, const char *name, bool must_exist, struct st_err *err)
{
    struct nl_link l;
    int rc = nl_link_get(s, name, &l, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (must_exist) {
            st_err_set(err, ST_ERR_NOT_FOUND, "link '%s' not found", name);
            if (err)
                err->sys_errno = ENODEV;
            return -1;
        }
        return 0;
    }
    return l.ifindex;
}

static int addr_req(struct nl_sock *s, bool add, const char *ifname, const char *addr,
                    int prefixlen, struct st_err *err)
{
    char buf[NL_BUF_SIZE];
    const char *name = ifname;
    unsigned char bin[16];
    struct nlmsghdr *nlh;
    struct ifaddrmsg *ifa;
    int fam = parse_ip(addr, bin), idx;
    static const int ok_add[] = {EEXIST, 0};
    static const int ok_del[] = {EADDRNOTAVAIL, ENODEV, 0};
    if (!fam || prefixlen < 0 || prefixlen > (fam == AF_INET ? 32 : 128))
        return bad_spec(err, "invalid address", ifname);
    idx = ifindex_of(s, ifname, add, err);
    if (idx <= 0)
        return idx;
    nlh = put_header(buf, sizeof(buf), add ? RTM_NEWADDR : RTM_DELADDR,
                     NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0), 0);
    ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = (unsigned char) fam;
    ifa->ifa_prefixlen = (unsigned char) prefixlen;
    ifa->ifa_index = (unsigned) idx;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    PUT(mnl_attr_put_check(nlh, sizeof(buf), IFA_LOCAL, fam == AF_INET ? 4 : 16, bin));
    PUT(mnl_attr_put_check(nlh, sizeof(buf), IFA_ADDRESS, fam == AF_INET ? 4 : 16, bin));
    if (fam == AF_INET6 && add) /* usable at once: no duplicate detection delay */
        PUT(mnl_attr_put_u32_check(nlh, sizeof(buf), IFA_FLAGS, IFA_F_NODAD));
    return simple(s, nlh, add ? ok_add : ok_del,
                  add ? "cannot add an address to '%s'" : "cannot remove an address from '%s'",
                  ifname, err);
}

int nl_addr_add(struct nl_sock *s, const char *ifname, const char *addr, int prefixlen,
                struct st_err *err)
{
    return addr_req(s, true, ifname, addr, prefixlen, err);
}

int nl_addr_del(struct nl_sock *s, const char *ifname, const char *addr, int prefixlen,
                struct st_err *err)
{
    return addr_req(s, false, ifname, addr, prefixlen, err);
}

/* ---- routes ---- */

static int route_req(struct nl_sock *s, bool add, const char *dst, const char *gateway,
                     const char *oif, struct st_err *err)
{
    char buf[NL_BUF_SIZE], addr[NL_ADDR_MAX];
    const char *name = dst;
    unsigned char dbin[16] = {0}, gbin[16];
    struct nlmsghdr *nlh;
    struct rtmsg *rtm;
    const char *slash;
    uint32_t plen;
    int fam, gfam = 0, idx = 0;
    static const int ok_add[] = {EEXIST, 0};
    static const int ok_del[] = {ESRCH, ENOENT, ENODEV, 0};

    if (!dst)
        return bad_spec(err, "no destination", "route");
    if (!strcmp(dst, "default"))
        dst = "0.0.0.0/0";
    slash = strchr(dst, '/');
    if (!slash || (size_t) (slash - dst) >= sizeof(addr))
        return bad_spec(err, "destination is not a CIDR", name);
    memcpy(addr, dst, (size_t) (slash - dst));
    addr[slash - dst] = '\0';
    fam = parse_ip(addr, dbin);
    if (!fam || st_parse_u32(slash + 1, 0, fam == AF_INET ? 32 : 128, &plen) < 0)
        return bad_spec(err, "destination is not a CIDR", name);
    if (gateway) {
        gfam = parse_ip(gateway, gbin);
        if (gfam != fam)
            return bad_spec(err, "gateway of another family", name);
    }
    if (oif) {
        idx = ifindex_of(s, oif, add, err);
        if (idx <= 0)
            return idx;
    }
    nlh = put_header(buf, sizeof(buf), add ? RTM_NEWROUTE : RTM_DELROUTE,
                     NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0), 0);
    rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = (unsigned char) fam;
    rtm->rtm_dst_len = (unsigned char) plen;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = add ? RTPROT_STATIC : RTPROT_UNSPEC;
    rtm->rtm_scope = add ? (gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK) : RT_SCOPE_NOWHERE;
    rtm->rtm_type = add ? RTN_UNICAST : RTN_UNSPEC;
    if (plen)
        PUT(mnl_attr_put_check(nlh, sizeof(buf), RTA_DST, fam == AF_INET ? 4 : 16, dbin));
    if (gateway)
        PUT(mnl_attr_put_check(nlh, sizeof(buf), RTA_GATEWAY, fam == AF_INET ? 4 : 16, gbin));
    if (idx)
        PUT(mnl_attr_put_u32_check(nlh, sizeof(buf), RTA_OIF, (uint32_t) idx));
    return simple(s, nlh, add ? ok_add : ok_del,
                  add ? "cannot add the route to '%s'" : "cannot delete the route to '%s'", name,
                  err);
}

int nl_route_add(struct nl_sock *s, const char *dst, const char *gateway, const char *oif,
                 struct st_err *err)
{
    return route_req(s, true, dst, gateway, oif, err);
}

int nl_route_del(struct nl_sock *s, const char *dst, const char *gateway, const char *oif,
                 struct st_err *err)
{
    return route_req(s, false, dst, gateway, oif, err);
}

/* ---- FDB ---- */

int nl_build_fdb(void *buf, size_t size, uint32_t seq, bool add, int ifindex, const char *mac,
                 const char *dst, struct st_err *err)
{
    const char *name = "fdb";
    struct nlmsghdr *nlh;
    struct ndmsg *nd;
    unsigned char bin[16];
    int fam = parse_ip(dst, bin);
    if (size < NL_BUF_SIZE)
        return bad_spec(err, "buffer too small", name);
    if (!fam || ifindex <= 0)
        return bad_spec(err, "invalid FDB entry", name);
    nlh = put_header(buf, size, add ? RTM_NEWNEIGH : RTM_DELNEIGH,
                     NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_APPEND : 0), seq);
    nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
    nd->ndm_family = AF_BRIDGE;
    nd->ndm_ifindex = ifindex;
    nd->ndm_state = NUD_NOARP | NUD_PERMANENT;
    nd->ndm_flags = NTF_SELF;
    if (!put_mac(nlh, size, NDA_LLADDR, mac))
        return bad_spec(err, "invalid MAC address", name);
    PUT(mnl_attr_put_check(nlh, size, NDA_DST, fam == AF_INET ? 4 : 16, bin));
    return (int) nlh->nlmsg_len;
}

static int fdb_req(struct nl_sock *s, bool add, const char *ifname, const char *mac,
                   const char *dst, struct st_err *err)
{
    char buf[NL_BUF_SIZE];
    static const int ok_add[] = {EEXIST, 0};
    static const int ok_del[] = {ENOENT, ENODEV, 0};
    int idx = ifindex_of(s, ifname, add, err);
    if (idx <= 0)
        return idx;
    if (nl_build_fdb(buf, sizeof(buf), 0, add, idx, mac, dst, err) < 0)
        return -1;
    return simple(s, (struct nlmsghdr *) buf, add ? ok_add : ok_del,
                  add ? "cannot add an FDB entry to '%s'" : "cannot delete an FDB entry of '%s'",
                  ifname, err);
}

int nl_fdb_append(struct nl_sock *s, const char *ifname, const char *mac, const char *dst,
                  struct st_err *err)
{
    return fdb_req(s, true, ifname, mac, dst, err);
}

int nl_fdb_del(struct nl_sock *s, const char *ifname, const char *mac, const char *dst,
               struct st_err *err)
{
    return fdb_req(s, false, ifname, mac, dst, err);
}

/* ---- dumps ---- */

struct nl_dump {
    struct nl_entry *items;
    size_t n, alloc, pos;
    enum nl_dump_kind kind;
    int family;
};

static struct nl_entry *dump_push(struct nl_dump *d)
{
    if (d->n == d->alloc) {
        d->alloc = d->alloc ? d->alloc * 2 : 32;
        d->items = st_xrealloc(d->items, d->alloc * sizeof(*d->items));
    }
    memset(&d->items[d->n], 0, sizeof(d->items[d->n]));
    d->items[d->n].kind = d->kind;
    return &d->items[d->n++];
}

static void format_ip(int fam, const struct nlattr *a, char out[NL_ADDR_MAX])
{
    out[0] = '\0';
    if (!a || mnl_attr_get_payload_len(a) < (fam == AF_INET ? 4u : 16u) ||
        !inet_ntop(fam, mnl_attr_get_payload(a), out, NL_ADDR_MAX))
        out[0] = '\0';
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
    struct nl_dump *d = data;
    switch (d->kind) {
    case NL_DUMP_LINKS: {
        struct nl_link l;
        if (parse_link(nlh, &l) == 0)
            dump_push(d)->u.link = l;
        break;
    }
    case NL_DUMP_ADDRS: {
        const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[IFA_MAX + 1] = {0};
        struct attr_tb t = {tb, IFA_MAX};
        struct nl_addr *a;
        if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)) ||
            mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, &t) < MNL_CB_OK)
            break;
        if (d->family && ifa->ifa_family != d->family)
            break;
        a = &dump_push(d)->u.addr;
        a->ifindex = (int) ifa->ifa_index;
        a->family = ifa->ifa_family;
        a->prefixlen = ifa->ifa_prefixlen;
        a->scope = ifa->ifa_scope;
        format_ip(a->family, tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS], a->addr);
        break;
    }
    case NL_DUMP_ROUTES: {
        const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[RTA_MAX + 1] = {0};
        struct attr_tb t = {tb, RTA_MAX};
        struct nl_route *r;
        char dst[NL_ADDR_MAX];
        if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)) ||
            mnl_attr_parse(nlh, sizeof(*rtm), attr_cb, &t) < MNL_CB_OK)
            break;
        if (d->family && rtm->rtm_family != d->family)
            break;
        r = &dump_push(d)->u.route;
        r->family = rtm->rtm_family;
        r->table = tb[RTA_TABLE] ? (int) attr_u32(tb[RTA_TABLE]) : rtm->rtm_table;
        r->protocol = rtm->rtm_protocol;
        r->type = rtm->rtm_type;
        r->oif = (int) attr_u32(tb[RTA_OIF]);
        format_ip(r->family, tb[RTA_DST], dst);
        if (!dst[0])
            ST_IGNORE(st_snprintf(dst, sizeof(dst), "%s",
                                  r->family == AF_INET ? "0.0.0.0" : "::"));
        ST_IGNORE(st_snprintf(r->dst, sizeof(r->dst), "%s/%u", dst, rtm->rtm_dst_len));
        format_ip(r->family, tb[RTA_GATEWAY], r->gateway);
        break;
    }
    case NL_DUMP_FDB: {
        const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *tb[NDA_MAX + 1] = {0};
        struct attr_tb t = {tb, NDA_MAX};
        struct nl_fdb *f;
        if (nlh->nlmsg_type != RTM_NEWNEIGH || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nd)) ||
            mnl_attr_parse(nlh, sizeof(*nd), attr_cb, &t) < MNL_CB_OK)
            break;
        if (nd->ndm_family != AF_BRIDGE)
            break;
        f = &dump_push(d)->u.fdb;
        f->ifindex = nd->ndm_ifindex;
        f->state = nd->ndm_state;
        f->master = (int) attr_u32(tb[NDA_MASTER]);
        if (tb[NDA_LLADDR])
            format_mac(mnl_attr_get_payload(tb[NDA_LLADDR]),
                       mnl_attr_get_payload_len(tb[NDA_LLADDR]), f->mac);
        if (tb[NDA_DST])
            format_ip(mnl_attr_get_payload_len(tb[NDA_DST]) == 4 ? AF_INET : AF_INET6,
                      tb[NDA_DST], f->dst);
        break;
    }
    }
    return MNL_CB_OK;
}

struct nl_dump *nl_dump_start(struct nl_sock *s, enum nl_dump_kind kind, int family,
                              struct st_err *err)
{
    static const uint16_t types[] = {RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH};
    struct nl_dump *d = st_xcalloc(1, sizeof(*d));
    char buf[NL_BUF_SIZE], extack[256];
    d->kind = kind;
    d->family = family;
    for (int attempt = 0; attempt < DUMP_RETRIES; attempt++) {
        struct nlmsghdr *nlh = put_header(buf, sizeof(buf), types[kind],
                                          NLM_F_REQUEST | NLM_F_DUMP, 0);
        int kerr;
        switch (kind) {
        case NL_DUMP_LINKS: {
            struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
            ifi->ifi_family = AF_UNSPEC;
            mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
            break;
        }
        case NL_DUMP_ADDRS: {
            struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
            ifa->ifa_family = (unsigned char) family;
            break;
        }
        case NL_DUMP_ROUTES: {
            struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
            rtm->rtm_family = (unsigned char) family;
            break;
        }
        case NL_DUMP_FDB: {
            struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
            nd->ndm_family = AF_BRIDGE;
            break;
        }
        }
        d->n = 0;
        if (transact(s, nlh, dump_cb, d, &kerr, extack, sizeof(extack), err) < 0) {
            nl_dump_done(d);
            return NULL;
        }
        if (kerr == EINTR)
            continue; /* the kernel's tables changed during the dump */
        if (kerr) {
            kernel_error(err, kerr, extack, "netlink dump %s failed",
                         kind == NL_DUMP_LINKS   ? "of links"
                         : kind == NL_DUMP_ADDRS ? "of addresses"
                         : kind == NL_DUMP_FDB   ? "of FDB entries"
                                                 : "of routes");
            nl_dump_done(d);
            return NULL;
        }
        return d;
    }
    st_err_set(err, ST_ERR_UNAVAILABLE, "netlink dump interrupted %d times", DUMP_RETRIES);
    nl_dump_done(d);
    return NULL;
}

const struct nl_entry *nl_dump_next(struct nl_dump *d)
{
    return d->pos < d->n ? &d->items[d->pos++] : NULL;
}

void nl_dump_done(struct nl_dump *d)
{
    if (!d)
        return;
    free(d->items);
    free(d);
}

/* ---- nftables generation ---- */

struct genid_reply {
    uint32_t id;
    bool found;
};

static int genid_cb(const struct nlmsghdr *nlh, void *data)
{
    struct genid_reply *g = data;
    const struct nlattr *tb[NFTA_GEN_MAX + 1] = {0};
    struct attr_tb t = {tb, NFTA_GEN_MAX};
    if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWGEN ||
        mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, &t) < MNL_CB_OK)
        return MNL_CB_OK;
    if (tb[NFTA_GEN_ID] && mnl_attr_get_payload_len(tb[NFTA_GEN_ID]) == 4) {
        g->id = ntohl(mnl_attr_get_u32(tb[NFTA_GEN_ID]));
        g->found = true;
    }
    return MNL_CB_OK;
}

struct nl_sock *nl_open_nft(const char *netns, struct st_err *err)
{
    return open_proto(netns, NETLINK_NETFILTER, err);
}

int nl_nft_genid_sock(struct nl_sock *s, uint32_t *genid, struct st_err *err)
{
    char buf[NL_BUF_SIZE], extack[256];
    struct nlmsghdr *nlh;
    struct nfgenmsg *nfg;
    struct genid_reply g = {0, false};
    int kerr;
    nlh = put_header(buf, sizeof(buf), (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN,
                     NLM_F_REQUEST, 0);
    nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    if (transact(s, nlh, genid_cb, &g, &kerr, extack, sizeof(extack), err) < 0)
        return -1;
    if (kerr) {
        kernel_error(err, kerr, extack, "cannot read the nftables generation%s", "");
        return -1;
    }
    if (!g.found) {
        st_err_set(err, ST_ERR_INTERNAL, "no nftables generation in the kernel's reply");
        return -1;
    }
    *genid = g.id;
    return 0;
}

int nl_nft_genid(const char *netns, uint32_t *genid, struct st_err *err)
{
    struct nl_sock *s = nl_open_nft(netns, err);
    int rc;
    if (!s)
        return -1;
    rc = nl_nft_genid_sock(s, genid, err);
    nl_close(s);
    return rc;
}

/* test-netlink.c - the agent's netlink module (netlink.c).
 *
 * Golden bytes: the requests nl_build_*() renders (sequence 1, port id 0)
 * must equal tests/data/netlink/<case>.hex, a hex dump of 16 bytes a line.
 * The VLAN request is checked here because this project's development
 * kernels cannot create VLAN devices.  Then, when the test may make a
 * network namespace (root), the operations run for real in a throw-away
 * one: bridge, veth, VXLAN and its FDB, addresses, routes, the dump
 * iterator, idempotent repeats, the VLAN error where 802.1Q is
 * missing, and the ownership check that refuses to delete a link marked
 * by another host. */
#include "testutil.h"

#include "golden.h"

#include <linux/if.h>
#include <sys/socket.h>

#include "agent/netlink.h"
#include "common/util.h"
#include "common/banned.h"

static void hexdump(const unsigned char *p, size_t n, struct st_buf *out)
{
    for (size_t i = 0; i < n; i += 16) {
        st_buf_addf(out, "%04zx:", i);
        for (size_t j = i; j < n && j < i + 16; j++)
            st_buf_addf(out, " %02x", p[j]);
        st_buf_addch(out, '\n');
    }
}

static void check_bytes(const char *name, const unsigned char *buf, int len)
{
    struct st_buf hex = ST_BUF_INIT;
    char *path = tu_data_path("netlink", name, "hex");
    assert_true(len > 16);
    hexdump(buf, (size_t) len, &hex);
    tu_golden(path, hex.buf, "test-netlink");
    st_buf_release(&hex);
    free(path);
}

static void t01_vlan_request(void **state)
{
    unsigned char buf[NL_BUF_SIZE];
    struct st_err err = ST_ERR_INIT;
    struct nl_link_spec spec = {.name = "eth1.100", .kind = NL_KIND_VLAN, .link = 2,
                                .vid = 100, .peer_netns_fd = -1};
    (void) state;
    check_bytes("vlan", buf, nl_build_link_add(buf, sizeof(buf), 1, &spec, &err));
}

static void t02_vxlan_request(void **state)
{
    unsigned char buf[NL_BUF_SIZE];
    struct st_err err = ST_ERR_INIT;
    struct nl_link_spec spec = {.name = "vxlan-1001", .kind = NL_KIND_VXLAN, .vni = 1001,
                                .local = "192.0.2.10", .mtu = 1450, .master = 7, .up = true,
                                .peer_netns_fd = -1};
    (void) state;
    check_bytes("vxlan", buf, nl_build_link_add(buf, sizeof(buf), 1, &spec, &err));
}

static void t03_veth_request(void **state)
{
    unsigned char buf[NL_BUF_SIZE];
    struct st_err err = ST_ERR_INIT;
    struct nl_link_spec spec = {.name = "tapd1000000-00", .kind = NL_KIND_VETH, .mtu = 1450,
                                .master = 7, .up = true, .peer = "ns-d1000000-00",
                                .peer_netns_fd = 5, .peer_mac = "fa:16:3e:00:0d:01"};
    (void) state;
    check_bytes("veth", buf, nl_build_link_add(buf, sizeof(buf), 1, &spec, &err));
}

static void t04_bridge_fdb_set_requests(void **state)
{
    unsigned char buf[NL_BUF_SIZE];
    struct st_err err = ST_ERR_INIT;
    struct nl_link_spec spec = {.name = "brqa1000000-00", .kind = NL_KIND_BRIDGE, .up = true,
                                .br_nf_call = true, .peer_netns_fd = -1};
    struct nl_link_change c = NL_LINK_CHANGE_INIT;
    (void) state;
    check_bytes("bridge", buf, nl_build_link_add(buf, sizeof(buf), 1, &spec, &err));
    check_bytes("fdb-append",
                buf, nl_build_fdb(buf, sizeof(buf), 1, true, 9, "00:00:00:00:00:00", "192.0.2.11",
                                  &err));
    c.master = 7;
    c.up = 1;
    c.alias = "stratus";
    check_bytes("link-set", buf, nl_build_link_set(buf, sizeof(buf), 1, "tapb1000000-00", &c, &err));
}

static void t05_bad_requests(void **state)
{
    unsigned char buf[NL_BUF_SIZE];
    static const struct nl_link_spec bad[] = {
        {.name = "", .kind = NL_KIND_BRIDGE},
        {.name = "sixteen-chars-xx", .kind = NL_KIND_BRIDGE},
        {.name = "a/b", .kind = NL_KIND_BRIDGE},
        {.name = "ok", .kind = NL_KIND_OTHER},
        {.name = "vx", .kind = NL_KIND_VXLAN, .vni = 0},
        {.name = "vx", .kind = NL_KIND_VXLAN, .vni = 16777216},
        {.name = "vx", .kind = NL_KIND_VXLAN, .vni = 5, .local = "192.0.2.300"},
        {.name = "v.1", .kind = NL_KIND_VLAN, .vid = 1},
        {.name = "v.1", .kind = NL_KIND_VLAN, .vid = 4095, .link = 2},
        {.name = "ve", .kind = NL_KIND_VETH},
        {.name = "ve", .kind = NL_KIND_VETH, .peer = "p", .peer_mac = "fa:16:3e"},
        {.name = "br", .kind = NL_KIND_BRIDGE, .mtu = 10},
    };
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        struct st_err err = ST_ERR_INIT;
        struct nl_link_spec s = bad[i];
        s.peer_netns_fd = -1;
        if (nl_build_link_add(buf, sizeof(buf), 1, &s, &err) != -1)
            fail_msg("bad spec %zu accepted", i);
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    }
    {
        struct st_err err = ST_ERR_INIT;
        assert_int_equal(nl_build_fdb(buf, sizeof(buf), 1, true, 9, "zz", "192.0.2.1", &err), -1);
    }
}

/* ---- live, in a scratch namespace ---- */

struct live {
    struct st_err err;
    char what[128];
};

#define LIVE(cond)                                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ST_IGNORE(st_snprintf(l->what, sizeof(l->what), "line %d: %s", __LINE__, #cond));    \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static bool dump_has(struct nl_sock *s, enum nl_dump_kind kind, int family,
                     bool (*match)(const struct nl_entry *, const void *), const void *arg)
{
    struct st_err err = ST_ERR_INIT;
    struct nl_dump *d = nl_dump_start(s, kind, family, &err);
    const struct nl_entry *e;
    bool found = false;
    if (!d)
        return false;
    while ((e = nl_dump_next(d)))
        found |= match(e, arg);
    nl_dump_done(d);
    return found;
}

static bool link_named(const struct nl_entry *e, const void *name)
{
    return !strcmp(e->u.link.name, name);
}

static bool addr_is(const struct nl_entry *e, const void *addr)
{
    return !strcmp(e->u.addr.addr, addr);
}

static bool route_to(const struct nl_entry *e, const void *dst)
{
    return !strcmp(e->u.route.dst, dst);
}

static bool fdb_to(const struct nl_entry *e, const void *dst)
{
    return !strcmp(e->u.fdb.mac, "00:00:00:00:00:00") && !strcmp(e->u.fdb.dst, dst);
}

static int live_fn(void *opaque)
{
    struct live *l = opaque;
    struct st_err *err = &l->err;
    struct nl_sock *s = nl_open(NULL, err);
    struct nl_link br, ve, vx;
    int rc = -1;
    struct nl_link_spec bspec = {.name = "brqtest", .kind = NL_KIND_BRIDGE, .up = true,
                                 .br_nf_call = true, .peer_netns_fd = -1};
    struct nl_link_spec vspec = {.name = "taptest", .kind = NL_KIND_VETH, .up = true,
                                 .peer = "ns-test", .peer_netns_fd = -1, .mtu = 1400,
                                 .peer_mac = "fa:16:3e:00:00:77"};
    struct nl_link_spec xspec = {.name = "vxlan-42", .kind = NL_KIND_VXLAN, .vni = 42,
                                 .local = "192.0.2.10", .peer_netns_fd = -1};
    struct nl_link_spec lspec = {.name = "taptest.5", .kind = NL_KIND_VLAN, .vid = 5,
                                 .peer_netns_fd = -1};

    LIVE(s);
    LIVE(nl_link_set_up(s, "lo", true, err) == 0);
    LIVE(nl_link_add(s, &bspec, err) == 0);
    LIVE(nl_link_add(s, &bspec, err) == 0); /* EEXIST is success */
    LIVE(nl_link_get(s, "brqtest", &br, err) == 1);
    LIVE(br.kind == NL_KIND_BRIDGE && br.br_nf_call == 1 && (br.flags & IFF_UP));
    vspec.master = br.ifindex;
    LIVE(nl_link_add(s, &vspec, err) == 0);
    LIVE(nl_link_get(s, "taptest", &ve, err) == 1);
    LIVE(ve.kind == NL_KIND_VETH && ve.master == br.ifindex && ve.mtu == 1400);
    LIVE(nl_link_get(s, "ns-test", &ve, err) == 1 && !strcmp(ve.mac, "fa:16:3e:00:00:77"));
    LIVE(nl_link_set_mac(s, "ns-test", "fa:16:3e:00:00:78", err) == 0);
    LIVE(nl_link_set_mtu(s, "ns-test", 1300, err) == 0);
    LIVE(nl_link_set_up(s, "ns-test", true, err) == 0);
    LIVE(nl_link_get(s, "ns-test", &ve, err) == 1 && !strcmp(ve.mac, "fa:16:3e:00:00:78") &&
         ve.mtu == 1300);
    LIVE(nl_link_get(s, "nothere", &ve, err) == 0);
    /* addresses and routes */
    LIVE(nl_addr_add(s, "ns-test", "10.77.0.2", 24, err) == 0);
    LIVE(nl_addr_add(s, "ns-test", "10.77.0.2", 24, err) == 0);
    LIVE(nl_addr_add(s, "ns-test", "2001:db8:77::2", 64, err) == 0);
    LIVE(dump_has(s, NL_DUMP_ADDRS, AF_INET, addr_is, "10.77.0.2"));
    LIVE(dump_has(s, NL_DUMP_ADDRS, AF_INET6, addr_is, "2001:db8:77::2"));
    LIVE(!dump_has(s, NL_DUMP_ADDRS, AF_INET6, addr_is, "10.77.0.2"));
    LIVE(nl_route_add(s, "default", "10.77.0.1", "ns-test", err) == 0);
    LIVE(nl_route_add(s, "0.0.0.0/0", "10.77.0.254", NULL, err) == 0); /* replaces */
    LIVE(nl_route_add(s, "192.168.5.0/24", "10.77.0.253", NULL, err) == 0);
    LIVE(dump_has(s, NL_DUMP_ROUTES, AF_INET, route_to, "0.0.0.0/0"));
    LIVE(dump_has(s, NL_DUMP_ROUTES, AF_INET, route_to, "192.168.5.0/24"));
    LIVE(nl_route_del(s, "192.168.5.0/24", "10.77.0.253", NULL, err) == 0);
    LIVE(nl_route_del(s, "192.168.5.0/24", "10.77.0.253", NULL, err) == 0);
    LIVE(!dump_has(s, NL_DUMP_ROUTES, AF_INET, route_to, "192.168.5.0/24"));
    LIVE(nl_addr_del(s, "ns-test", "10.77.0.2", 24, err) == 0);
    LIVE(nl_addr_del(s, "ns-test", "10.77.0.2", 24, err) == 0);
    LIVE(!dump_has(s, NL_DUMP_ADDRS, AF_INET, addr_is, "10.77.0.2"));
    LIVE(nl_addr_add(s, "nothere", "10.77.0.2", 24, err) == -1 && err->kind == ST_ERR_NOT_FOUND);
    st_err_clear(err);
    /* vxlan and its FDB */
    xspec.master = br.ifindex;
    LIVE(nl_link_add(s, &xspec, err) == 0);
    LIVE(nl_link_get(s, "vxlan-42", &vx, err) == 1 && vx.kind == NL_KIND_VXLAN && vx.vni == 42);
    LIVE(nl_fdb_append(s, "vxlan-42", "00:00:00:00:00:00", "192.0.2.11", err) == 0);
    LIVE(nl_fdb_append(s, "vxlan-42", "00:00:00:00:00:00", "192.0.2.12", err) == 0);
    LIVE(nl_fdb_append(s, "vxlan-42", "00:00:00:00:00:00", "192.0.2.12", err) == 0);
    LIVE(dump_has(s, NL_DUMP_FDB, 0, fdb_to, "192.0.2.11"));
    LIVE(dump_has(s, NL_DUMP_FDB, 0, fdb_to, "192.0.2.12"));
    LIVE(nl_fdb_del(s, "vxlan-42", "00:00:00:00:00:00", "192.0.2.11", err) == 0);
    LIVE(nl_fdb_del(s, "vxlan-42", "00:00:00:00:00:00", "192.0.2.11", err) == 0);
    LIVE(!dump_has(s, NL_DUMP_FDB, 0, fdb_to, "192.0.2.11"));
    /* VLAN: created where 802.1Q exists, a clear error where not */
    lspec.link = ve.ifindex;
    if (nl_link_add(s, &lspec, err) == 0) {
        LIVE(nl_link_get(s, "taptest.5", &vx, err) == 1 && vx.kind == NL_KIND_VLAN && vx.vid == 5);
        printf("# 802.1Q present: VLAN device created\n");
    } else {
        LIVE(err->kind == ST_ERR_NOT_IMPLEMENTED && strstr(err->msg, "802.1Q"));
        printf("# %s\n", err->msg);
        st_err_clear(err);
    }
    /* the dump iterator sees them all; deletion is idempotent */
    LIVE(dump_has(s, NL_DUMP_LINKS, 0, link_named, "vxlan-42"));
    LIVE(nl_link_del(s, "taptest", err) == 0);
    LIVE(nl_link_get(s, "ns-test", &ve, err) == 0); /* the peer went too */
    LIVE(nl_link_del(s, "taptest", err) == 0);
    LIVE(nl_link_del(s, "brqtest", err) == 0);
    LIVE(!dump_has(s, NL_DUMP_LINKS, 0, link_named, "brqtest"));
    rc = 0;
out:
    nl_close(s);
    return rc;
}

static void t06_live(void **state)
{
    struct live l = {ST_ERR_INIT, ""};
    int rc;
    (void) state;
    rc = tu_scratch_netns(live_fn, &l);
    if (rc == 1) {
        printf("# not root: live netlink test skipped\n");
        return;
    }
    if (rc != 0)
        fail_msg("%s: %s", l.what, l.err.msg);
}

/* The ownership check before a deletion (nl_link_del_owned): a link whose
 * alias names another host, or that has no alias, is refused and stays;
 * one with the caller's alias goes; an absent one is success. */
#define MINE "stratus host 11111111-1111-4111-8111-111111111111"
#define THEIRS "stratus host 22222222-2222-4222-8222-222222222222"

static int owned_fn(void *opaque)
{
    struct live *l = opaque;
    struct st_err *err = &l->err;
    struct nl_sock *s = nl_open(NULL, err);
    struct nl_link br;
    struct nl_link_change c = NL_LINK_CHANGE_INIT;
    int rc = -1;
    struct nl_link_spec bspec = {.name = "brqowned", .kind = NL_KIND_BRIDGE,
                                 .peer_netns_fd = -1};

    LIVE(s);
    LIVE(nl_link_add(s, &bspec, err) == 0);
    /* no alias: not known to be ours */
    LIVE(nl_link_del_owned(s, "brqowned", MINE, err) == -1 && err->kind == ST_ERR_CONFLICT);
    st_err_clear(err);
    LIVE(nl_link_get(s, "brqowned", &br, err) == 1);
    /* another host's */
    c.alias = THEIRS;
    LIVE(nl_link_set(s, "brqowned", &c, err) == 0);
    LIVE(nl_link_get(s, "brqowned", &br, err) == 1 && !strcmp(br.alias, THEIRS));
    LIVE(nl_link_del_owned(s, "brqowned", MINE, err) == -1 && err->kind == ST_ERR_CONFLICT &&
         strstr(err->msg, THEIRS));
    st_err_clear(err);
    LIVE(nl_link_get(s, "brqowned", &br, err) == 1);
    /* no owner given: refused before anything is looked at */
    LIVE(nl_link_del_owned(s, "brqowned", "", err) == -1 && err->kind == ST_ERR_BAD_REQUEST);
    st_err_clear(err);
    LIVE(nl_link_get(s, "brqowned", &br, err) == 1);
    /* ours */
    c.alias = MINE;
    LIVE(nl_link_set(s, "brqowned", &c, err) == 0);
    LIVE(nl_link_del_owned(s, "brqowned", MINE, err) == 0);
    LIVE(nl_link_get(s, "brqowned", &br, err) == 0);
    LIVE(nl_link_del_owned(s, "brqowned", MINE, err) == 0); /* absent */
    rc = 0;
out:
    nl_close(s);
    return rc;
}

static void t08_del_owned(void **state)
{
    struct live l = {ST_ERR_INIT, ""};
    int rc;
    (void) state;
    rc = tu_scratch_netns(owned_fn, &l);
    if (rc == 1) {
        printf("# not root: live ownership test skipped\n");
        return;
    }
    if (rc != 0)
        fail_msg("%s: %s", l.what, l.err.msg);
}

static int genid_fn(void *opaque)
{
    struct st_err *err = opaque;
    uint32_t a, b;
    if (nl_nft_genid(NULL, &a, err) < 0 || nl_nft_genid(NULL, &b, err) < 0)
        return -1;
    return a == b ? 0 : -1;
}

static void t07_nft_genid(void **state)
{
    struct st_err err = ST_ERR_INIT;
    int rc;
    (void) state;
    rc = tu_scratch_netns(genid_fn, &err);
    if (rc == 1)
        return;
    if (rc != 0)
        fail_msg("%s", err.msg);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(t01_vlan_request),   cmocka_unit_test(t02_vxlan_request),
    cmocka_unit_test(t03_veth_request),   cmocka_unit_test(t04_bridge_fdb_set_requests),
    cmocka_unit_test(t05_bad_requests),   cmocka_unit_test(t06_live),
    cmocka_unit_test(t07_nft_genid),      cmocka_unit_test(t08_del_owned),
};

static const struct tu_known_bug known_bugs[] = {};

int main(void)
{
    return TU_RUN("netlink", tests, known_bugs);
}

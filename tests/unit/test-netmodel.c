/* test-netmodel.c - the networking lists of the desired state in model_net.c
 * (docs/agent-protocol.md, "Networking in the desired state"): a good
 * document parses into canonical values and id-derived names; hostile
 * ones are refused whole, naming the field. */
#include "testutil.h"

#include <sys/socket.h>

#include "agent/model.h"
#include "agent/net.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

static struct model_desired *parse_text(const char *text, struct st_err *err)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    struct model_desired *d;
    if (!doc)
        fail_msg("test JSON: %d: %s: %s", je.line, je.text, text);
    d = model_desired_parse(doc, err);
    json_decref(doc);
    return d;
}

static void t01_good(void **state)
{
    struct st_err err = ST_ERR_INIT;
    char *path = st_xasprintf("%s/tests/data/nft/basic.json", tu_srcdir());
    struct st_buf text = ST_BUF_INIT;
    struct model_desired *d;
    const struct model_network *n;
    const struct model_port *p;
    const struct model_router *r;
    (void) state;
    assert_int_equal(st_read_file(path, 1 << 20, &text, &err), 0);
    d = parse_text(text.buf, &err);
    if (!d)
        fail_msg("%s", err.msg);
    assert_int_equal(d->nnetworks, 2);
    assert_int_equal(d->nports, 3);
    assert_int_equal(d->nsecgroups, 2);
    assert_int_equal(d->nrouters, 1);
    n = model_find_network(d, "6e5d4c3b-2a19-4876-a5b4-c3d2e1f0a9b8");
    assert_non_null(n);
    assert_int_equal(n->type, MODEL_NET_VXLAN);
    assert_string_equal(model_net_type_name(n->type), "vxlan");
    assert_string_equal(n->bridge, "brq6e5d4c3b-2a");
    assert_string_equal(n->vxlan, "vxlan-1001");
    assert_string_equal(n->dhcp_ns, "qdhcp-6e5d4c3b-2a19-4876-a5b4-c3d2e1f0a9b8");
    assert_int_equal(n->mtu, 1450);
    assert_int_equal(n->npeers, 1);
    assert_null(n->dhcp);
    p = &d->ports[0];
    assert_string_equal(p->tap, "tap59cfa0b8-2f");
    assert_true(p->port_security);
    assert_int_equal(p->nips, 2);
    assert_int_equal(p->ips[1].family, AF_INET6);
    assert_int_equal(p->npairs, 2);
    assert_string_equal(p->pairs[0].ip, "10.0.0.100/32");
    assert_string_equal(p->pairs[0].mac, "fa:16:3e:11:22:33"); /* the port's */
    assert_string_equal(p->pairs[1].ip, "192.168.50.0/24");
    assert_false(d->ports[2].port_security);
    assert_int_equal(d->secgroups[0].nrules, 7);
    assert_int_equal(d->secgroups[0].rules[3].protocol, 6);
    assert_int_equal(d->secgroups[0].rules[4].port_min, 8);
    assert_int_equal(d->secgroups[0].rules[4].port_max, 0);
    assert_int_equal(d->secgroups[0].rules[6].protocol, 112);
    assert_int_equal(d->secgroups[1].rules[0].protocol, 58); /* icmp + IPv6 */
    assert_int_equal(d->secgroups[0].nmembers, 4);
    r = &d->routers[0];
    assert_string_equal(r->netns, "qrouter-e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b");
    assert_true(r->has_gateway);
    assert_true(r->enable_snat);
    assert_string_equal(r->gateway.ifname, "qg-c0ffee00-11");
    assert_string_equal(r->gateway.tap, "tapc0ffee00-11");
    assert_string_equal(r->interfaces[0].ifname, "qr-d00dfeed-11");
    assert_string_equal(r->routes[0].destination, "192.168.5.0/24");
    assert_string_equal(r->floating_ips[0].floating_ip, "203.0.113.5");
    model_desired_free(d);
    st_buf_release(&text);
    free(path);
}

/* Canonical forms: upper-case ids, MACs and IPv6 addresses are lowered,
 * remote prefixes lose their host bits, missing lists are empty. */
static void t02_canonical(void **state)
{
    struct st_err err = ST_ERR_INIT;
    struct model_desired *d = parse_text(
        "{\"host\": \"h\", \"revision\": 1,"
        " \"networks\": [{\"id\": \"6E5D4C3B-2A19-4876-A5B4-C3D2E1F0A9B8\","
        "   \"network_type\": \"local\"}],"
        " \"ports\": [{\"id\": \"59CFA0B8-2F5C-481A-89A8-7A8711B368A2\","
        "   \"network_id\": \"6e5d4c3b-2a19-4876-a5b4-c3d2e1f0a9b8\","
        "   \"mac_address\": \"FA:16:3E:AA:BB:CC\","
        "   \"fixed_ips\": [{\"ip_address\": \"2001:DB8:0::0:5\", \"prefixlen\": 64}]}],"
        " \"security_groups\": [{\"id\": \"0d3f2a1e-5b6c-4d7e-8f90-a1b2c3d4e5f6\","
        "   \"rules\": [{\"id\": \"a0000000-0000-4000-8000-000000000001\","
        "     \"direction\": \"ingress\", \"ethertype\": \"IPv4\","
        "     \"remote_ip_prefix\": \"10.1.2.3/8\"}]}]}",
        &err);
    (void) state;
    if (!d)
        fail_msg("%s", err.msg);
    assert_string_equal(d->networks[0].bridge, "brq6e5d4c3b-2a");
    assert_string_equal(d->ports[0].tap, "tap59cfa0b8-2f");
    assert_string_equal(d->ports[0].mac, "fa:16:3e:aa:bb:cc");
    assert_string_equal(d->ports[0].ips[0].address, "2001:db8::5");
    assert_true(d->ports[0].port_security); /* default */
    assert_string_equal(d->secgroups[0].rules[0].remote_ip_prefix, "10.0.0.0/8");
    assert_int_equal(d->secgroups[0].rules[0].protocol, -1);
    assert_true(d->secgroups[0].stateful);
    assert_int_equal(d->nrouters, 0);
    model_desired_free(d);
}

/* Hostile or broken documents: refused whole, the message names the field. */
struct bad {
    const char *lists; /* members added to {"host", "revision"} */
    const char *want;  /* a substring of the error */
};

#define NET "\"6e5d4c3b-2a19-4876-a5b4-c3d2e1f0a9b8\""
#define NET_OK "{\"id\": " NET ", \"network_type\": \"local\"}"
#define PORT(extra)                                                                                \
    "\"ports\": [{\"id\": \"59cfa0b8-2f5c-481a-89a8-7a8711b368a2\", \"network_id\": " NET         \
    ", \"mac_address\": \"fa:16:3e:00:00:01\"" extra "}]"
#define RULE(extra)                                                                                \
    "\"security_groups\": [{\"id\": \"0d3f2a1e-5b6c-4d7e-8f90-a1b2c3d4e5f6\", \"rules\": "      \
    "[{\"id\": \"a0000000-0000-4000-8000-000000000001\", \"direction\": \"ingress\", "           \
    "\"ethertype\": \"IPv4\"" extra "}]}]"
#define ROUTER(extra) "\"routers\": [{\"id\": \"e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b\"" extra "}]"

static const struct bad bads[] = {
    {"\"networks\": {}", "networks"},
    {"\"networks\": [42]", "network"},
    {"\"networks\": [{\"id\": \"../../etc\", \"network_type\": \"local\"}]", "id"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"gre\"}]", "network_type"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"vlan\", \"physical_network\": \"p\"}]",
     "segmentation_id"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"vlan\", \"physical_network\": \"p\","
     " \"segmentation_id\": 4095}]",
     "segmentation_id"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"flat\"}]", "physical_network"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"flat\", \"physical_network\": \"a b\"}]",
     "physical_network"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"vxlan\", \"segmentation_id\": 16777216}]",
     "segmentation_id"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"local\", \"mtu\": 20}]", "mtu"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"local\", \"vxlan_peers\": [\"x\"]}]",
     "vxlan_peers"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"local\","
     " \"vxlan_peers\": [\"192.0.2.1\", \"192.0.2.1\"]}]",
     "duplicate"},
    {"\"networks\": [" NET_OK ", " NET_OK "]", "duplicate"},
    /* two networks whose ids share 11 characters would share a bridge */
    {"\"networks\": [" NET_OK ", {\"id\": \"6e5d4c3b-2aff-4876-a5b4-c3d2e1f0a9b8\","
     " \"network_type\": \"local\"}]",
     "brq6e5d4c3b-2a"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"local\", \"dhcp\": {"
     "\"port_id\": \"d1000000-0000-4000-8000-000000000001\", \"mac_address\": \"fa:16:3e:00:00:02\","
     " \"subnets\": [{\"id\": \"71000000-0000-4000-8000-000000000001\", \"cidr\": \"10.0.0.1/24\","
     " \"ip_version\": 4}]}}]",
     "cidr"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"local\", \"dhcp\": {"
     "\"port_id\": \"d1000000-0000-4000-8000-000000000001\", \"mac_address\": \"fa:16:3e:00:00:02\","
     " \"subnets\": [{\"id\": \"71000000-0000-4000-8000-000000000001\", \"cidr\": \"10.0.0.0/24\","
     " \"ip_version\": 6}]}}]",
     "cidr"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"local\", \"dhcp\": {"
     "\"port_id\": \"d1000000-0000-4000-8000-000000000001\", \"mac_address\": \"fa:16:3e:00:00:02\","
     " \"hosts\": [{\"mac_address\": \"fa:16:3e:00:00:03\", \"ip_address\": \"10.0.0.3\","
     " \"hostname\": \"a,b\\n--dhcp-script=/bin/sh\"}]}}]",
     "hostname"},
    {"\"networks\": [{\"id\": " NET ", \"network_type\": \"local\", \"dhcp\": {"
     "\"port_id\": \"d1000000-0000-4000-8000-000000000001\", \"mac_address\": \"fa:16:3e:00:00:02\","
     " \"subnets\": [{\"id\": \"71000000-0000-4000-8000-000000000001\", \"cidr\": \"10.0.0.0/24\","
     " \"ip_version\": 4, \"host_routes\": [{\"destination\": \"2001:db8::/64\","
     " \"nexthop\": \"10.0.0.1\"}]}]}}]",
     "nexthop"},
    {"\"networks\": [" NET_OK "], " PORT(", \"mac_address\": \"ff:ff:ff:ff:ff:ff\""), "mac_address"},
    {"\"networks\": [" NET_OK "], \"ports\": [{\"id\": \"59cfa0b8-2f5c-481a-89a8-7a8711b368a2\","
     " \"network_id\": " NET ", \"mac_address\": \"01:00:5e:00:00:01\"}]",
     "unicast"},
    {"\"networks\": [" NET_OK "], " PORT(", \"fixed_ips\": [{\"ip_address\": \"10.0.0.256\"}]"),
     "ip_address"},
    {"\"networks\": [" NET_OK "], " PORT(", \"fixed_ips\": [{\"ip_address\": \"10.0.0.5\","
                                         " \"prefixlen\": 33}]"),
     "prefixlen"},
    {"\"networks\": [" NET_OK "], " PORT(", \"security_groups\": [\"default\"]"), "security_groups"},
    {"\"networks\": [" NET_OK "], " PORT(", \"port_security_enabled\": \"yes\""),
     "port_security_enabled"},
    {"\"networks\": [" NET_OK "], " PORT(", \"allowed_address_pairs\": [{\"ip_address\": \"x/8\"}]"),
     "allowed_address_pairs"},
    {RULE(", \"direction\": \"sideways\""), "direction"},
    {RULE(", \"ethertype\": \"IPX\""), "ethertype"},
    {RULE(", \"protocol\": \"smtp\""), "protocol"},
    {RULE(", \"protocol\": 256"), "protocol"},
    {RULE(", \"protocol\": \"tcp\", \"port_range_min\": 90, \"port_range_max\": 80"), "port_range"},
    {RULE(", \"protocol\": \"tcp\", \"port_range_max\": 80"), "port_range"},
    {RULE(", \"protocol\": \"icmp\", \"port_range_min\": 300"), "port_range"},
    {RULE(", \"protocol\": \"gre\", \"port_range_min\": 1"), "port_range"},
    {RULE(", \"protocol\": \"ipv6-icmp\""), "ICMPv6"},
    {RULE(", \"remote_ip_prefix\": \"2001:db8::/32\""), "remote_ip_prefix"},
    {RULE(", \"remote_ip_prefix\": \"10.0.0.0/8\", \"remote_group_id\": "
          "\"0d3f2a1e-5b6c-4d7e-8f90-a1b2c3d4e5f6\""),
     "remote_ip_prefix"},
    {"\"security_groups\": [{\"id\": \"0d3f2a1e-5b6c-4d7e-8f90-a1b2c3d4e5f6\","
     " \"member_ips\": [\"10.0.0.1; drop\"]}]",
     "member_ips"},
    {ROUTER(", \"gateway\": {\"network_id\": " NET ", \"port_id\": "
            "\"c0ffee00-1111-4222-8333-444455556666\", \"mac_address\": \"fa:16:3e:00:00:01\","
            " \"gateway_ip\": \"not-an-ip\"}"),
     "gateway_ip"},
    {ROUTER(", \"routes\": [{\"destination\": \"192.168.5.1/24\", \"nexthop\": \"10.0.0.254\"}]"),
     "destination"},
    {ROUTER(", \"floating_ips\": [{\"id\": \"f0000000-0000-4000-8000-000000000001\","
            " \"floating_ip_address\": \"2001:db8::5\", \"fixed_ip_address\": \"10.0.0.5\"}]"),
     "floating_ip_address"},
    {ROUTER(", \"floating_ips\": [{\"id\": \"f0000000-0000-4000-8000-000000000001\","
            " \"floating_ip_address\": \"203.0.113.5\", \"fixed_ip_address\": \"10.0.0.5\"},"
            " {\"id\": \"f0000000-0000-4000-8000-000000000002\","
            " \"floating_ip_address\": \"203.0.113.5\", \"fixed_ip_address\": \"10.0.0.6\"}]"),
     "floating_ips"},
    {ROUTER(", \"interfaces\": [{\"port_id\": \"c0ffee00-1111-4222-8333-444455556666\","
            " \"network_id\": " NET ", \"mac_address\": \"fa:16:3e:00:00:01\"},"
            " {\"port_id\": \"c0ffee00-1111-4222-8333-444455556667\","
            " \"network_id\": " NET ", \"mac_address\": \"fa:16:3e:00:00:02\"}]"),
     "tapc0ffee00-11"},
};

static void t03_hostile(void **state)
{
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bads); i++) {
        struct st_err err = ST_ERR_INIT;
        char *text = st_xasprintf("{\"host\": \"h\", \"revision\": 1, %s}", bads[i].lists);
        struct model_desired *d = parse_text(text, &err);
        if (d)
            fail_msg("case %zu parsed: %s", i, text);
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
        if (!strstr(err.msg, bads[i].want))
            fail_msg("case %zu: '%s' does not mention '%s'", i, err.msg, bads[i].want);
        free(text);
    }
}

/* Lists longer than their limits are refused before anything is parsed. */
static void t04_limits(void **state)
{
    struct st_err err = ST_ERR_INIT;
    json_t *doc = json_pack("{s:s, s:i}", "host", "h", "revision", 1);
    json_t *peers = json_array(), *net;
    struct model_desired *d;
    (void) state;
    for (int i = 0; i <= MODEL_MAX_PEERS; i++)
        json_array_append_new(peers, json_sprintf("10.%d.%d.1", i / 256, i % 256));
    net = json_pack("{s:s, s:s, s:o}", "id", "6e5d4c3b-2a19-4876-a5b4-c3d2e1f0a9b8",
                    "network_type", "local", "vxlan_peers", peers);
    json_object_set_new(doc, "networks", json_pack("[o]", net));
    d = model_desired_parse(doc, &err);
    assert_null(d);
    assert_non_null(strstr(err.msg, "too many"));
    json_decref(doc);
}

/* A server's NIC names must be the ones derived from its ids. */
static void t05_nic_names(void **state)
{
    struct st_err err = ST_ERR_INIT;
    char *path = st_xasprintf("%s/tests/data/domain/two-nics.json", tu_srcdir());
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je), *nic, *wrap;
    struct model_desired *d;
    (void) state;
    assert_non_null(doc);
    nic = json_array_get(json_object_get(json_object_get(doc, "server"), "nics"), 0);
    assert_non_null(nic);
    json_object_set_new(nic, "tap", json_string("vnet0"));
    wrap = json_pack("{s:s, s:i, s:[O]}", "host", "h", "revision", 1, "servers",
                     json_object_get(doc, "server"));
    d = model_desired_parse(wrap, &err);
    assert_null(d);
    assert_non_null(strstr(err.msg, "nic.tap"));
    json_decref(wrap);
    json_decref(doc);
    free(path);
}

/* The desired state's host id, and the owner marks made of it
 * (net.h): whose is a link or namespace by its alias. */
static void t06_owner(void **state)
{
    struct st_err err = ST_ERR_INIT;
    char mine[NET_OWNER_ALIAS_MAX], theirs[NET_OWNER_ALIAS_MAX];
    struct model_desired *d;
    (void) state;
    d = parse_text("{\"host\": \"vm\", \"host_id\": \"11111111-1111-4111-8111-111111111111\","
                   " \"revision\": 1}",
                   &err);
    assert_non_null(d);
    assert_string_equal(d->host_id, "11111111-1111-4111-8111-111111111111");
    model_desired_free(d);
    d = parse_text("{\"host\": \"vm\", \"revision\": 1}", &err);
    assert_non_null(d);
    assert_string_equal(d->host_id, ""); /* optional */
    model_desired_free(d);
    assert_null(parse_text("{\"host\": \"vm\", \"host_id\": \"vm\", \"revision\": 1}", &err));
    assert_non_null(strstr(err.msg, "host_id"));
    st_err_clear(&err);

    assert_int_equal(net_owner_alias("11111111-1111-4111-8111-111111111111", mine, &err), 0);
    assert_string_equal(mine, "stratus host 11111111-1111-4111-8111-111111111111");
    assert_int_equal(net_owner_alias("22222222-2222-4222-8222-222222222222", theirs, &err), 0);
    assert_int_equal(net_owner_alias("vm", theirs + 0, &err), -1); /* a name is not an id */
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_int_equal(net_owner_alias("22222222-2222-4222-8222-222222222222", theirs, NULL), 0);
    assert_int_equal(net_owner_of(mine, mine), NET_OWNER_MINE);
    assert_int_equal(net_owner_of(theirs, mine), NET_OWNER_OTHER);
    assert_int_equal(net_owner_of("", mine), NET_OWNER_UNMARKED);
    assert_int_equal(net_owner_of("stratus", mine), NET_OWNER_UNMARKED); /* before the marks */
    assert_int_equal(net_owner_of("uplink to the lab", mine), NET_OWNER_OTHER);
    /* without an own mark, nothing is ours */
    assert_int_equal(net_owner_of(mine, ""), NET_OWNER_OTHER);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(t01_good),    cmocka_unit_test(t02_canonical), cmocka_unit_test(t03_hostile),
    cmocka_unit_test(t04_limits),  cmocka_unit_test(t05_nic_names), cmocka_unit_test(t06_owner),
};

static const struct tu_known_bug known_bugs[] = {};

int main(void)
{
    return TU_RUN("netmodel", tests, known_bugs);
}

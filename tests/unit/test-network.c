/* test-network.c - network/ipam.h and network/{neutron,network}.h over a
 * real (SQLite) store: address arithmetic, CIDR, gateway and pool
 * validation, MACs; IP allocation (first free, pools, exhaustion, two
 * connections racing for one address or for the next free one); the
 * default security group and its rules, made once even when two
 * connections race; and the network part of a host's desired state for a
 * small topology, against golden files tests/data/network/<case>.json
 * (ST_TEST_REGENERATE=1 rewrites them for review, STYLE §14). */
#include "testutil.h"

#include <pthread.h>
#include <regex.h>

#include "common/json.h"
#include "common/util.h"
#include "compute/host.h"
#include "store/revision.h"
#include "network/ipam.h"
#include "network/network.h"
#include "network/neutron.h"
#include "store/store.h"
#include "common/banned.h"

/* ---- fixtures ------------------------------------------------------------- */

struct fx {
    char *dir;
    struct store *st;
    struct store_conn *c;
    struct auth_ctx admin, alice;
};

static void make_ctx(struct auth_ctx *ctx, const char *project, const char *role)
{
    memset(ctx, 0, sizeof(*ctx));
    snprintf(ctx->user_id, sizeof(ctx->user_id), "user-of-%s", project);
    snprintf(ctx->project_id, sizeof(ctx->project_id), "%s", project);
    ctx->project_scoped = true;
    snprintf(ctx->roles[0].name, sizeof(ctx->roles[0].name), "%s", role);
    ctx->nroles = 1;
    policy_set_flags(ctx);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct st_err err = ST_ERR_INIT;
    char db[4200];
    f->dir = tu_mkdtemp();
    snprintf(db, sizeof(db), "%s/stratus.db", f->dir);
    f->st = store_open(db, 4, &err);
    if (!f->st || store_migrate(f->st, &err) < 0 || !(f->c = store_acquire(f->st, &err)))
        fail_msg("store: %s", err.msg);
    make_ctx(&f->admin, "p-admin", "admin");
    make_ctx(&f->alice, "p-alice", "member");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_release(f->st, f->c);
    store_close(f->st);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad JSON in the test: %s: %s", text, je.text);
    return j;
}

/* Creates with 'fn' from JSON text; fails the test on error. */
static json_t *make(struct fx *f, const struct auth_ctx *ctx,
                    json_t *(*fn)(struct store_conn *, const struct auth_ctx *, json_t *,
                                  struct st_err *),
                    const char *text)
{
    struct st_err err = ST_ERR_INIT;
    json_t *in = parse(text), *o = fn(f->c, ctx, in, &err);
    json_decref(in);
    if (!o)
        fail_msg("create %s: %s (%s)", text, err.msg, err.type);
    return o;
}

/* Expects creation to fail with 'status' and Neutron type 'type'. */
static void refused(struct fx *f, const struct auth_ctx *ctx,
                    json_t *(*fn)(struct store_conn *, const struct auth_ctx *, json_t *,
                                  struct st_err *),
                    const char *text, int status, const char *type)
{
    struct st_err err = ST_ERR_INIT;
    json_t *in = parse(text), *o = fn(f->c, ctx, in, &err);
    json_decref(in);
    if (o) {
        json_decref(o);
        fail_msg("accepted: %s", text);
    }
    if (st_err_status(err.kind) != status || strcmp(err.type, type))
        fail_msg("%s: got %d %s (%s), want %d %s", text, st_err_status(err.kind), err.type, err.msg,
                 status, type);
}

static const char *sval(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static char *fmt(const char *f, const char *a, const char *b)
{
    return st_xasprintf(f, a, b ? b : "");
}

/* A network with one subnet; returns the network (caller frees) and the
 * subnet id in 'subnet'. */
static json_t *net_with_subnet(struct fx *f, const struct auth_ctx *ctx, const char *name,
                               const char *subnet_extra, char subnet[37])
{
    char *text;
    json_t *net, *sub;
    text = fmt("{\"name\": \"%s\"%s}", name, NULL);
    net = make(f, ctx, net_network_create, text);
    free(text);
    text = st_xasprintf("{\"network_id\": \"%s\", \"ip_version\": 4, %s}", sval(net, "id"),
                        subnet_extra);
    sub = make(f, ctx, net_subnet_create, text);
    free(text);
    snprintf(subnet, 37, "%s", sval(sub, "id"));
    json_decref(sub);
    return net;
}

static const char *first_ip(json_t *port)
{
    return sval(json_array_get(json_object_get(port, "fixed_ips"), 0), "ip_address");
}

/* ---- ipam ----------------------------------------------------------------- */

static void t01_addresses(void **state)
{
    struct ipam_addr a, b;
    char out[IPAM_ADDR_STRLEN];
    (void) state;
    assert_int_equal(ipam_addr_parse("10.0.0.5", &a), 0);
    assert_int_equal(a.version, 4);
    assert_true(a.v == 0x0a000005);
    ipam_addr_format(&a, out);
    assert_string_equal(out, "10.0.0.5");
    assert_int_equal(ipam_addr_parse("FD00::0001", &b), 0);
    ipam_addr_format(&b, out);
    assert_string_equal(out, "fd00::1");
    assert_int_equal(ipam_addr_cmp(&a, &b), -1);
    assert_int_equal(ipam_addr_parse("10.0.0.256", &a), -1);
    assert_int_equal(ipam_addr_parse("10.0.0.0/24", &a), -1);
    assert_int_equal(ipam_addr_parse("", &a), -1);
    assert_int_equal(ipam_addr_parse(" 10.0.0.1", &a), -1);
}

static void t02_cidrs(void **state)
{
    struct ipam_cidr c, d;
    struct ipam_addr a;
    bool host;
    char out[IPAM_CIDR_STRLEN], *msg;
    (void) state;
    assert_int_equal(ipam_cidr_parse("10.0.0.7/24", &c, &host), 0);
    assert_true(host);
    ipam_cidr_format(&c, out);
    assert_string_equal(out, "10.0.0.0/24");
    assert_int_equal(ipam_cidr_parse("10.0.0.0/33", &c, NULL), -1);
    assert_int_equal(ipam_cidr_parse("10.0.0.0/", &c, NULL), -1);
    assert_int_equal(ipam_cidr_parse("10.0.0.0/-1", &c, NULL), -1);
    assert_int_equal(ipam_cidr_parse("10.0.0.0", &c, NULL), -1);
    assert_int_equal(ipam_cidr_parse("fd00::/129", &c, NULL), -1);
    assert_null(ipam_cidr_check("10.0.0.0/24"));
    assert_null(ipam_cidr_check("fd00::/64"));
    msg = ipam_cidr_check("10.0.0.1/24");
    assert_string_equal(msg, "'10.0.0.1/24' isn't a recommended IP subnet, '10.0.0.0/24' is "
                             "recommended");
    free(msg);
    msg = ipam_cidr_check("banana");
    assert_string_equal(msg, "'banana' is not a valid IP subnet");
    free(msg);
    assert_int_equal(ipam_cidr_parse("10.0.0.0/24", &c, NULL), 0);
    assert_int_equal(ipam_cidr_parse("10.0.0.128/25", &d, NULL), 0);
    assert_true(ipam_cidr_overlap(&c, &d) && ipam_cidr_overlap(&d, &c));
    assert_int_equal(ipam_cidr_parse("10.0.1.0/24", &d, NULL), 0);
    assert_false(ipam_cidr_overlap(&c, &d));
    assert_int_equal(ipam_addr_parse("10.0.0.0", &a), 0);
    assert_false(ipam_usable(&c, &a)); /* network address */
    a.v = 0x0a0000ff;
    assert_false(ipam_usable(&c, &a)); /* broadcast */
    a.v = 0x0a000001;
    assert_true(ipam_usable(&c, &a));
    a.v = 0x0a000101;
    assert_false(ipam_usable(&c, &a)); /* outside */
}

static json_t *pools_of(const char *cidr, const char *gw)
{
    struct ipam_cidr c;
    struct ipam_addr g;
    assert_int_equal(ipam_cidr_parse(cidr, &c, NULL), 0);
    if (gw)
        assert_int_equal(ipam_addr_parse(gw, &g), 0);
    return ipam_default_pools(&c, gw ? &g : NULL);
}

static void assert_json(json_t *j, const char *want)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, want);
    free(s);
    json_decref(j);
}

static void t03_default_pools(void **state)
{
    (void) state;
    assert_json(pools_of("10.0.0.0/24", "10.0.0.1"),
                "[{\"end\":\"10.0.0.254\",\"start\":\"10.0.0.2\"}]");
    assert_json(pools_of("10.0.0.0/24", "10.0.0.254"),
                "[{\"end\":\"10.0.0.253\",\"start\":\"10.0.0.1\"}]");
    assert_json(pools_of("10.0.0.0/24", "10.0.0.100"),
                "[{\"end\":\"10.0.0.99\",\"start\":\"10.0.0.1\"},"
                "{\"end\":\"10.0.0.254\",\"start\":\"10.0.0.101\"}]");
    assert_json(pools_of("10.0.0.0/24", NULL), "[{\"end\":\"10.0.0.254\",\"start\":\"10.0.0.1\"}]");
    assert_json(pools_of("10.0.0.0/24", "192.0.2.1"),
                "[{\"end\":\"10.0.0.254\",\"start\":\"10.0.0.1\"}]");
    assert_json(pools_of("10.0.0.0/31", NULL), "[{\"end\":\"10.0.0.1\",\"start\":\"10.0.0.0\"}]");
    assert_json(pools_of("fd00::/64", "fd00::1"),
                "[{\"end\":\"fd00::ffff:ffff:ffff:ffff\",\"start\":\"fd00::2\"}]");
}

static void pool_refused(const char *pools, const char *gw, int status, const char *type)
{
    struct ipam_cidr c;
    struct ipam_addr g;
    struct ipam_pool out[8];
    size_t n;
    struct st_err err = ST_ERR_INIT;
    json_t *j = parse(pools);
    assert_int_equal(ipam_cidr_parse("10.0.0.0/24", &c, NULL), 0);
    assert_int_equal(ipam_addr_parse(gw, &g), 0);
    if (ipam_pools_parse(j, &c, &g, out, 8, &n, &err) == 0)
        fail_msg("accepted pools %s", pools);
    json_decref(j);
    assert_int_equal(st_err_status(err.kind), status);
    if (type)
        assert_string_equal(err.type, type);
}

static void t04_pool_validation(void **state)
{
    struct ipam_cidr c;
    struct ipam_addr g;
    struct ipam_pool out[8];
    size_t n;
    struct st_err err = ST_ERR_INIT;
    json_t *j;
    (void) state;
    assert_int_equal(ipam_cidr_parse("10.0.0.0/24", &c, NULL), 0);
    assert_int_equal(ipam_addr_parse("10.0.0.1", &g), 0);
    j = parse("[{\"start\": \"10.0.0.10\", \"end\": \"10.0.0.20\"},"
              " {\"start\": \"10.0.0.30\", \"end\": \"10.0.0.30\"}]");
    assert_int_equal(ipam_pools_parse(j, &c, &g, out, 8, &n, &err), 0);
    json_decref(j);
    assert_int_equal(n, 2);
    assert_true(out[1].first.v == out[1].last.v);
    pool_refused("[{\"start\": \"10.0.0.1\", \"end\": \"10.0.0.9\"}]", "10.0.0.1", 409,
                 "GatewayConflictWithAllocationPools");
    pool_refused("[{\"start\": \"10.0.0.0\", \"end\": \"10.0.0.9\"}]", "10.0.0.1", 400,
                 "OutOfBoundsAllocationPool");
    pool_refused("[{\"start\": \"10.0.0.200\", \"end\": \"10.0.0.255\"}]", "10.0.0.1", 400,
                 "OutOfBoundsAllocationPool");
    pool_refused("[{\"start\": \"10.0.0.20\", \"end\": \"10.0.0.10\"}]", "10.0.0.1", 400,
                 "InvalidAllocationPool");
    pool_refused("[{\"start\": \"10.0.0.10\", \"end\": \"10.0.0.20\"},"
                 " {\"start\": \"10.0.0.20\", \"end\": \"10.0.0.30\"}]",
                 "10.0.0.1", 400, "OverlappingAllocationPools");
    pool_refused("[{\"start\": \"fd00::1\", \"end\": \"fd00::2\"}]", "10.0.0.1", 400,
                 "InvalidInput");
    pool_refused("[{\"start\": \"10.0.0.x\", \"end\": \"10.0.0.2\"}]", "10.0.0.1", 400, NULL);
    pool_refused("[{\"start\": \"10.0.0.2\"}]", "10.0.0.1", 400, NULL);
    pool_refused("{\"start\": \"10.0.0.2\"}", "10.0.0.1", 400, NULL);
}

static void t05_macs(void **state)
{
    char m[18];
    regex_t re;
    (void) state;
    assert_int_equal(
        regcomp(&re, "^fa:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$", REG_EXTENDED | REG_NOSUB),
        0);
    for (int i = 0; i < 100; i++) {
        ipam_mac_random(m);
        assert_int_equal(regexec(&re, m, 0, NULL, 0), 0);
    }
    regfree(&re);
    assert_int_equal(ipam_mac_normalize("FA:16:3E:0A:0B:0C", m), 0);
    assert_string_equal(m, "fa:16:3e:0a:0b:0c");
    assert_int_equal(ipam_mac_normalize("fa-16-3e-0a-0b-0c", m), 0);
    assert_string_equal(m, "fa:16:3e:0a:0b:0c");
    assert_int_equal(ipam_mac_normalize("fa:16:3e-0a:0b:0c", m), -1);
    assert_int_equal(ipam_mac_normalize("00:00:00:00:00:00", m), -1);
    assert_int_equal(ipam_mac_normalize("ff:ff:ff:ff:ff:ff", m), -1);
    assert_int_equal(ipam_mac_normalize("01:00:5e:00:00:01", m), -1); /* multicast */
    assert_int_equal(ipam_mac_normalize("fa:16:3e:0a:0b", m), -1);
    assert_int_equal(ipam_mac_normalize("fa:16:3e:0a:0b:0g", m), -1);
}

static void t06_eui64(void **state)
{
    struct ipam_cidr c;
    struct ipam_addr a;
    char out[IPAM_ADDR_STRLEN];
    (void) state;
    assert_int_equal(ipam_cidr_parse("fd00:1::/64", &c, NULL), 0);
    assert_int_equal(ipam_eui64(&c, "fa:16:3e:01:02:03", &a), 0);
    ipam_addr_format(&a, out);
    assert_string_equal(out, "fd00:1::f816:3eff:fe01:203");
    assert_int_equal(ipam_cidr_parse("fd00:1::/96", &c, NULL), 0);
    assert_int_equal(ipam_eui64(&c, "fa:16:3e:01:02:03", &a), -1);
}

/* ---- subnets -------------------------------------------------------------- */

static void t07_subnet_validation(void **state)
{
    struct fx *f = *state;
    char sub[37], *text;
    json_t *net = net_with_subnet(f, &f->alice, "n", "\"cidr\": \"10.0.0.0/24\"", sub);
    json_t *s = NULL;
    struct st_err err = ST_ERR_INIT;
    const char *id = sval(net, "id");

#define SUBNET(extra) (free(text), text = st_xasprintf("{\"network_id\": \"%s\", " extra "}", id))
    text = NULL;
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.0.0.0/25\"");
    refused(f, &f->alice, net_subnet_create, text, 400, "InvalidInput"); /* overlap */
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.0.0.0/33\"");
    refused(f, &f->alice, net_subnet_create, text, 400, "HTTPBadRequest");
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.1.0.1/24\"");
    refused(f, &f->alice, net_subnet_create, text, 400, "HTTPBadRequest");
    SUBNET("\"ip_version\": 6, \"cidr\": \"10.1.0.0/24\"");
    refused(f, &f->alice, net_subnet_create, text, 400, "InvalidInput");
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.1.0.0/24\", \"gateway_ip\": \"10.1.0.0\"");
    refused(f, &f->alice, net_subnet_create, text, 400, "InvalidInput");
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.1.0.0/24\", \"gateway_ip\": \"10.1.0.300\"");
    refused(f, &f->alice, net_subnet_create, text, 400, "HTTPBadRequest");
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.1.0.0/24\", \"dns_nameservers\": [\"x\"]");
    refused(f, &f->alice, net_subnet_create, text, 400, "HTTPBadRequest");
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.1.0.0/24\", \"host_routes\": [{\"destination\":"
           " \"fd00::/64\", \"nexthop\": \"10.1.0.9\"}]");
    refused(f, &f->alice, net_subnet_create, text, 400, "InvalidInput");
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.1.0.0/24\", \"bogus\": 1");
    refused(f, &f->alice, net_subnet_create, text, 400, "HTTPBadRequest");
    /* Accepted: a gateway inside a given pool's gaps, a gateway-less one. */
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.1.0.0/24\", \"gateway_ip\": \"10.1.0.254\"");
    s = make(f, &f->alice, net_subnet_create, text);
    assert_json(json_incref(json_object_get(s, "allocation_pools")),
                "[{\"end\":\"10.1.0.253\",\"start\":\"10.1.0.1\"}]");
    json_decref(s);
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.2.0.0/24\", \"gateway_ip\": null");
    s = make(f, &f->alice, net_subnet_create, text);
    assert_true(json_is_null(json_object_get(s, "gateway_ip")));
    json_decref(s);
    /* The same CIDR on another network is fine. */
    json_t *other = net_with_subnet(f, &f->alice, "n2", "\"cidr\": \"10.0.0.0/24\"", sub);
    json_decref(other);
    /* Another project's network is invisible. */
    struct auth_ctx bob;
    make_ctx(&bob, "p-bob", "member");
    SUBNET("\"ip_version\": 4, \"cidr\": \"10.9.0.0/24\"");
    refused(f, &bob, net_subnet_create, text, 404, "NetworkNotFound");
    assert_null(net_network_get(f->c, &bob, id, &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    assert_string_equal(err.type, "NetworkNotFound");
#undef SUBNET
    free(text);
    json_decref(net);
}

/* ---- allocation ------------------------------------------------------------ */

static json_t *port_on(struct fx *f, const char *net, const char *fixed)
{
    char *text =
        st_xasprintf("{\"network_id\": \"%s\"%s%s}", net, fixed ? ", " : "", fixed ? fixed : "");
    json_t *p = make(f, &f->alice, net_port_create, text);
    free(text);
    return p;
}

static void t08_first_free(void **state)
{
    struct fx *f = *state;
    char sub[37], *text;
    json_t *net = net_with_subnet(f, &f->alice, "n", "\"cidr\": \"10.0.0.0/24\"", sub);
    const char *id = sval(net, "id");
    json_t *p1, *p2, *p3, *p4;

    /* The DHCP port took 10.0.0.2. */
    p1 = port_on(f, id, NULL);
    assert_string_equal(first_ip(p1), "10.0.0.3");
    p2 = port_on(f, id, "\"fixed_ips\": [{\"ip_address\": \"10.0.0.5\"}]");
    assert_string_equal(first_ip(p2), "10.0.0.5");
    p3 = port_on(f, id, NULL);
    assert_string_equal(first_ip(p3), "10.0.0.4");
    p4 = port_on(f, id, NULL);
    assert_string_equal(first_ip(p4), "10.0.0.6"); /* skips the taken .5 */
    /* A freed address is the first free one again. */
    struct st_err err = ST_ERR_INIT;
    assert_int_equal(net_port_delete(f->c, &f->alice, sval(p1, "id"), &err), 0);
    json_decref(p1);
    p1 = port_on(f, id, NULL);
    assert_string_equal(first_ip(p1), "10.0.0.3");
    /* Asking for one in use, outside, or the broadcast address. */
    text = st_xasprintf("{\"network_id\": \"%s\", \"fixed_ips\": [{\"ip_address\": \"10.0.0.5\"}]}",
                        id);
    refused(f, &f->alice, net_port_create, text, 409, "IpAddressAlreadyAllocated");
    free(text);
    text = st_xasprintf("{\"network_id\": \"%s\", \"fixed_ips\": [{\"ip_address\": \"10.9.0.5\"}]}",
                        id);
    refused(f, &f->alice, net_port_create, text, 400, "InvalidIpForNetwork");
    free(text);
    text = st_xasprintf("{\"network_id\": \"%s\", \"fixed_ips\": [{\"subnet_id\": \"%s\","
                        " \"ip_address\": \"10.0.0.255\"}]}",
                        id, sub);
    refused(f, &f->alice, net_port_create, text, 400, "InvalidIpForSubnet");
    free(text);
    text = st_xasprintf("{\"network_id\": \"%s\", \"mac_address\": \"%s\"}", id,
                        sval(p2, "mac_address"));
    refused(f, &f->alice, net_port_create, text, 409, "MacAddressInUse");
    free(text);
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    json_decref(p4);
    json_decref(net);
}

static void t09_pools_and_exhaustion(void **state)
{
    struct fx *f = *state;
    char sub[37], *text;
    json_t *net = net_with_subnet(f, &f->alice, "n",
                                  "\"cidr\": \"10.0.0.0/24\", \"enable_dhcp\": false,"
                                  " \"allocation_pools\": [{\"start\": \"10.0.0.20\", \"end\":"
                                  " \"10.0.0.21\"}, {\"start\": \"10.0.0.40\", \"end\":"
                                  " \"10.0.0.40\"}]",
                                  sub);
    const char *id = sval(net, "id");
    json_t *p[3];
    static const char *const want[] = {"10.0.0.20", "10.0.0.21", "10.0.0.40"};
    for (int i = 0; i < 3; i++) {
        p[i] = port_on(f, id, NULL);
        assert_string_equal(first_ip(p[i]), want[i]);
    }
    text = st_xasprintf("{\"network_id\": \"%s\"}", id);
    refused(f, &f->alice, net_port_create, text, 409, "IpAddressGenerationFailure");
    free(text);
    /* Outside the pools but inside the CIDR is fine when asked for. */
    json_t *q = port_on(f, id, "\"fixed_ips\": [{\"ip_address\": \"10.0.0.99\"}]");
    assert_string_equal(first_ip(q), "10.0.0.99");
    json_decref(q);
    for (int i = 0; i < 3; i++)
        json_decref(p[i]);
    json_decref(net);
}

struct racer {
    struct fx *f;
    const char *network_id;
    const char *fixed; /* NULL: automatic */
    pthread_barrier_t *go;
    json_t *port;
    struct st_err err;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = store_acquire(r->f->st, &err);
    char *text;
    json_t *in;
    if (!c)
        return NULL;
    text = r->fixed ? st_xasprintf("{\"network_id\": \"%s\", \"fixed_ips\": [{\"ip_address\":"
                                   " \"%s\"}]}",
                                   r->network_id, r->fixed)
                    : st_xasprintf("{\"network_id\": \"%s\"}", r->network_id);
    in = json_loads(text, 0, NULL);
    pthread_barrier_wait(r->go);
    r->port = net_port_create(c, &r->f->alice, in, &r->err);
    json_decref(in);
    free(text);
    store_release(r->f->st, c);
    return NULL;
}

static void run_race(struct fx *f, const char *net, const char *fixed, struct racer r[2])
{
    pthread_t t[2];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    for (int i = 0; i < 2; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i] = (struct racer){f, net, fixed, &go, NULL, ST_ERR_INIT};
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
}

static void t10_race_same_address(void **state)
{
    struct fx *f = *state;
    char sub[37];
    json_t *net = net_with_subnet(f, &f->alice, "n", "\"cidr\": \"10.0.0.0/24\"", sub);
    struct racer r[2];
    int64_t n = 0;
    struct st_err err = ST_ERR_INIT;

    for (int round = 0; round < 5; round++) {
        char ip[16];
        snprintf(ip, sizeof(ip), "10.0.0.%d", 100 + round);
        run_race(f, sval(net, "id"), ip, r);
        assert_true((r[0].port != NULL) != (r[1].port != NULL));
        struct racer *loser = r[0].port ? &r[1] : &r[0];
        assert_int_equal(loser->err.kind, ST_ERR_CONFLICT);
        assert_string_equal(loser->err.type, "IpAddressAlreadyAllocated");
        json_decref(r[0].port);
        json_decref(r[1].port);
        assert_int_equal(store_get_int(f->c, &err, &n,
                                       "SELECT COUNT(*) FROM ip_allocations WHERE ip_address = ?",
                                       STORE_ARGS(P(ip))),
                         1);
        assert_int_equal(n, 1);
    }
    /* Racing for the next free address: both get one, never the same. */
    for (int round = 0; round < 5; round++) {
        run_race(f, sval(net, "id"), NULL, r);
        assert_non_null(r[0].port);
        assert_non_null(r[1].port);
        assert_string_not_equal(first_ip(r[0].port), first_ip(r[1].port));
        json_decref(r[0].port);
        json_decref(r[1].port);
    }
    json_decref(net);
}

/* ---- security groups --------------------------------------------------------- */

static void t11_default_group(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    json_t *groups = net_sg_list(f->c, &f->alice, &err), *g, *rules, *r;
    const char *gid;
    size_t i;
    int egress4 = 0, egress6 = 0, ingress4 = 0, ingress6 = 0;

    assert_non_null(groups);
    assert_int_equal(json_array_size(groups), 1);
    g = json_array_get(groups, 0);
    assert_string_equal(sval(g, "name"), "default");
    assert_string_equal(sval(g, "project_id"), "p-alice");
    gid = sval(g, "id");
    rules = json_object_get(g, "security_group_rules");
    assert_int_equal(json_array_size(rules), 4);
    json_array_foreach(rules, i, r)
    {
        bool v4 = !strcmp(sval(r, "ethertype"), "IPv4");
        assert_true(json_is_null(json_object_get(r, "protocol")));
        assert_true(json_is_null(json_object_get(r, "remote_ip_prefix")));
        if (!strcmp(sval(r, "direction"), "egress")) {
            assert_true(json_is_null(json_object_get(r, "remote_group_id")));
            v4 ? egress4++ : egress6++;
        } else {
            assert_string_equal(sval(r, "remote_group_id"), gid);
            v4 ? ingress4++ : ingress6++;
        }
    }
    assert_true(egress4 == 1 && egress6 == 1 && ingress4 == 1 && ingress6 == 1);
    /* A second listing does not make a second group. */
    json_t *again = net_sg_list(f->c, &f->alice, &err);
    assert_int_equal(json_array_size(again), 1);
    assert_string_equal(sval(json_array_get(again, 0), "id"), gid);
    json_decref(again);
    /* Its name is fixed, and only an admin may delete it. */
    json_t *in = parse("{\"name\": \"other\"}");
    assert_null(net_sg_update(f->c, &f->alice, gid, in, &err));
    assert_string_equal(err.type, "SecurityGroupCannotUpdateDefault");
    json_decref(in);
    st_err_clear(&err);
    assert_int_equal(net_sg_delete(f->c, &f->alice, gid, &err), -1);
    assert_string_equal(err.type, "SecurityGroupCannotRemoveDefault");
    refused(f, &f->alice, net_sg_create, "{\"name\": \"default\"}", 409,
            "SecurityGroupDefaultAlreadyExists");
    /* Rules: duplicates, conflicts, ranges. */
    char *text = st_xasprintf("{\"security_group_id\": \"%s\", \"direction\": \"egress\"}", gid);
    refused(f, &f->alice, net_sgr_create, text, 409, "SecurityGroupRuleExists");
    free(text);
    text = st_xasprintf("{\"security_group_id\": \"%s\", \"direction\": \"ingress\","
                        " \"ethertype\": \"IPv4\", \"remote_ip_prefix\": \"::/0\"}",
                        gid);
    refused(f, &f->alice, net_sgr_create, text, 400, "SecurityGroupRuleParameterConflict");
    free(text);
    text = st_xasprintf("{\"security_group_id\": \"%s\", \"direction\": \"ingress\","
                        " \"protocol\": \"tcp\", \"port_range_min\": 80, \"port_range_max\": 22}",
                        gid);
    refused(f, &f->alice, net_sgr_create, text, 400, "SecurityGroupInvalidPortRange");
    free(text);
    text = st_xasprintf("{\"security_group_id\": \"%s\", \"direction\": \"ingress\","
                        " \"protocol\": \"gre\", \"port_range_min\": 1}",
                        gid);
    refused(f, &f->alice, net_sgr_create, text, 400, "SecurityGroupInvalidProtocolForPort");
    free(text);
    text = st_xasprintf("{\"security_group_id\": \"%s\", \"direction\": \"ingress\","
                        " \"protocol\": \"tcp\", \"port_range_min\": 22, \"port_range_max\": 22,"
                        " \"remote_ip_prefix\": \"192.0.2.0/24\"}",
                        gid);
    json_t *rule = make(f, &f->alice, net_sgr_create, text);
    free(text);
    assert_string_equal(sval(rule, "normalized_cidr"), "192.0.2.0/24");
    json_decref(rule);
    json_decref(groups);
}

struct sg_racer {
    struct fx *f;
    pthread_barrier_t *go;
    char id[37];
    int rc;
};

static void *sg_race(void *arg)
{
    struct sg_racer *r = arg;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = store_acquire(r->f->st, &err);
    json_t *groups;
    if (!c)
        return NULL;
    pthread_barrier_wait(r->go);
    groups = net_sg_list(c, &r->f->alice, &err);
    r->rc = groups ? 0 : -1;
    if (groups)
        snprintf(r->id, sizeof(r->id), "%s", sval(json_array_get(groups, 0), "id"));
    json_decref(groups);
    store_release(r->f->st, c);
    return NULL;
}

static void t12_default_group_race(void **state)
{
    struct fx *f = *state;
    struct sg_racer r[2];
    pthread_t t[2];
    pthread_barrier_t go;
    int64_t n = 0;
    struct st_err err = ST_ERR_INIT;
    pthread_barrier_init(&go, NULL, 2);
    for (int i = 0; i < 2; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].f = f;
        r[i].go = &go;
        assert_int_equal(pthread_create(&t[i], NULL, sg_race, &r[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    assert_int_equal(r[0].rc, 0);
    assert_int_equal(r[1].rc, 0);
    assert_string_equal(r[0].id, r[1].id);
    assert_int_equal(store_get_int(f->c, &err, &n,
                                   "SELECT COUNT(*) FROM security_groups WHERE project_id = ?",
                                   STORE_ARGS(P("p-alice"))),
                     1);
    assert_int_equal(n, 1);
}

/* ---- networks ----------------------------------------------------------------- */

static void t13_network_rules(void **state)
{
    struct fx *f = *state;
    char sub[37], *text;
    json_t *net, *port, *o;
    struct st_err err = ST_ERR_INIT;

    refused(f, &f->alice, net_network_create, "{\"provider:network_type\": \"vlan\"}", 403,
            "PolicyNotAuthorized");
    refused(f, &f->alice, net_network_create, "{\"shared\": true}", 403, "PolicyNotAuthorized");
    refused(f, &f->admin, net_network_create,
            "{\"provider:network_type\": \"vlan\", \"provider:physical_network\": \"nope\"}", 400,
            "InvalidInput");
    o = make(f, &f->admin, net_network_create,
             "{\"provider:network_type\": \"vlan\", \"provider:physical_network\": \"physnet1\"}");
    assert_string_equal(sval(o, "provider:network_type"), "vlan");
    assert_int_equal(json_integer_value(json_object_get(o, "provider:segmentation_id")), 100);
    assert_int_equal(json_integer_value(json_object_get(o, "mtu")), 1500);
    json_decref(o);
    refused(f, &f->admin, net_network_create,
            "{\"provider:network_type\": \"vlan\", \"provider:physical_network\": \"physnet1\","
            " \"provider:segmentation_id\": 100}",
            409, "VlanIdInUse");
    o = make(f, &f->admin, net_network_create,
             "{\"provider:network_type\": \"flat\", \"provider:physical_network\": \"physnet2\"}");
    json_decref(o);
    refused(f, &f->admin, net_network_create,
            "{\"provider:network_type\": \"flat\", \"provider:physical_network\": \"physnet2\"}",
            409, "FlatNetworkInUse");
    refused(f, &f->alice, net_network_create, "{\"mtu\": 9000}", 400, "InvalidInput");
    /* In use: a port that is not the DHCP port keeps the network. */
    net = net_with_subnet(f, &f->alice, "n", "\"cidr\": \"10.0.0.0/24\"", sub);
    port = port_on(f, sval(net, "id"), NULL);
    assert_int_equal(net_network_delete(f->c, &f->alice, sval(net, "id"), &err), -1);
    assert_string_equal(err.type, "NetworkInUse");
    assert_int_equal(st_err_status(err.kind), 409);
    st_err_clear(&err);
    assert_int_equal(net_subnet_delete(f->c, &f->alice, sub, &err), -1);
    assert_string_equal(err.type, "SubnetInUse");
    st_err_clear(&err);
    assert_int_equal(net_port_delete(f->c, &f->alice, sval(port, "id"), &err), 0);
    assert_int_equal(net_network_delete(f->c, &f->alice, sval(net, "id"), &err), 0);
    text = NULL;
    free(text);
    json_decref(port);
    json_decref(net);
}

/* ---- desired state ------------------------------------------------------------- */

static bool regenerate(void)
{
    const char *r = getenv("ST_TEST_REGENERATE");
    return r && *r && strcmp(r, "0");
}

static void golden(const char *name, const char *have)
{
    char *path = st_xasprintf("%s/tests/data/network/%s.json", tu_srcdir(), name);
    struct st_buf want = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    if (regenerate()) {
        if (st_write_file(path, have, strlen(have), 0644, &err) < 0)
            fail_msg("%s", err.msg);
        printf("# regenerated %s\n", path);
    }
    if (st_read_file(path, 1 << 20, &want, &err) < 0)
        fail_msg("%s (run with ST_TEST_REGENERATE=1 to create it)", err.msg);
    if (strcmp(want.buf, have)) {
        printf("# got:\n");
        for (const char *p = have; *p;) {
            size_t n = strcspn(p, "\n");
            printf("# %.*s\n", (int) n, p);
            p += n + (p[n] == '\n');
        }
        fail_msg("%s differs: run `ST_TEST_REGENERATE=1 meson test test-network` and review "
                 "the diff",
                 path);
    }
    st_buf_release(&want);
    free(path);
}

/* Replaces every occurrence of 'from' in 'b' by 'to'. */
static void replace_all(struct st_buf *b, const char *from, const char *to)
{
    struct st_buf out = ST_BUF_INIT;
    const char *p = b->buf, *q;
    size_t n = strlen(from);
    if (!n)
        return;
    while ((q = strstr(p, from))) {
        st_buf_add(&out, p, (size_t) (q - p));
        st_buf_adds(&out, to);
        p = q + n;
    }
    st_buf_adds(&out, p);
    st_buf_release(b);
    *b = out;
}

/* Ids and MACs are random: the known ones become names, the others
 * placeholders; arrays are then sorted so that the text is stable. */
static json_t *canon(json_t *j)
{
    size_t i, n;
    json_t *v;
    const char *k;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) canon(v);
    } else if (json_is_array(j) && (n = json_array_size(j)) > 1) {
        char **text = calloc(n, sizeof(*text));
        json_array_foreach(j, i, v)
        {
            canon(v);
            text[i] = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        }
        for (i = 0; i < n; i++)
            for (size_t m = i + 1; m < n; m++)
                if (strcmp(text[m], text[i]) < 0) {
                    char *t = text[i];
                    text[i] = text[m];
                    text[m] = t;
                }
        json_array_clear(j);
        for (i = 0; i < n; i++) {
            json_array_append_new(j, json_loads(text[i], JSON_DECODE_ANY, NULL));
            free(text[i]);
        }
        free(text);
    }
    return j;
}

static char *render(json_t *desired, json_t *names)
{
    struct st_buf b = ST_BUF_INIT;
    const char *k;
    json_t *v;
    regex_t uuid, mac;
    regmatch_t m;
    char *s = json_dumps(desired, JSON_COMPACT | JSON_SORT_KEYS);
    st_buf_adds(&b, s);
    free(s);
    json_object_foreach(names, k, v)
    {
        /* Interface names are made of the first 11 characters of ids. */
        char from[32], to[64];
        snprintf(from, sizeof(from), "brq%.11s\"", k);
        snprintf(to, sizeof(to), "brq<%s>\"", json_string_value(v));
        replace_all(&b, from, to);
        snprintf(from, sizeof(from), "tap%.11s\"", k);
        snprintf(to, sizeof(to), "tap<%s>\"", json_string_value(v));
        replace_all(&b, from, to);
        replace_all(&b, k, json_string_value(v));
    }
    assert_int_equal(regcomp(&uuid, "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                             REG_EXTENDED),
                     0);
    assert_int_equal(regcomp(&mac, "fa:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}", REG_EXTENDED),
                     0);
    for (regex_t *re = &uuid;; re = &mac) {
        while (regexec(re, b.buf, 1, &m, 0) == 0) {
            char *found = st_xstrndup(b.buf + m.rm_so, (size_t) (m.rm_eo - m.rm_so));
            replace_all(&b, found, re == &uuid ? "<id>" : "<mac>");
            free(found);
        }
        if (re == &mac)
            break;
    }
    regfree(&uuid);
    regfree(&mac);
    json_t *j = json_loads(b.buf, 0, NULL);
    assert_non_null(j);
    canon(j);
    s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    st_buf_release(&b);
    char *out = st_xasprintf("%s\n", s);
    free(s);
    return out;
}

static void host_up(struct fx *f, const char *name, const char *vtep)
{
    struct st_buf secret = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    /* cpu_info given: host_register() leaks the {} it makes up otherwise. */
    json_t *info = json_pack("{s:s, s:s, s:i, s:i, s:i, s:{}}", "host_ip", vtep, "vtep_ip", vtep,
                             "vcpus", 2, "memory_mb", 4096, "local_gb", 20, "cpu_info");
    if (host_add(f->c, name, &secret, &err) < 0)
        fail_msg("host_add: %s", err.msg);
    json_t *r = host_register(f->c, NULL, name, info, &err);
    if (!r)
        fail_msg("host_register: %s", err.msg);
    json_decref(r);
    json_decref(info);
    st_buf_release(&secret);
}

static void name(json_t *names, json_t *o, const char *key, const char *as)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (v)
        json_object_set_new(names, v, json_string(as));
}

static void t14_desired(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    json_t *names = json_object(), *net, *ext, *r, *web, *rule, *ports, *o, *in, *d;
    char sub[37], extsub[37], *text, *out;
    const char *server = "5e7e7000-0000-4000-8000-000000000001";
    char dflt[37];

    host_up(f, "host1", "192.0.2.10");
    host_up(f, "host2", "192.0.2.11");
    net = net_with_subnet(f, &f->alice, "net1",
                          "\"cidr\": \"10.0.0.0/24\", \"dns_nameservers\": [\"192.0.2.53\"],"
                          " \"host_routes\": [{\"destination\": \"192.168.0.0/16\", \"nexthop\":"
                          " \"10.0.0.254\"}]",
                          sub);
    name(names, net, "id", "NET1");
    json_object_set_new(names, sub, json_string("SUB1"));
    ext = make(f, &f->admin, net_network_create,
               "{\"name\": \"public\", \"router:external\": true, \"provider:network_type\":"
               " \"flat\", \"provider:physical_network\": \"physnet1\"}");
    name(names, ext, "id", "EXT");
    text = st_xasprintf("{\"network_id\": \"%s\", \"ip_version\": 4, \"cidr\":"
                        " \"203.0.113.0/24\", \"enable_dhcp\": false}",
                        sval(ext, "id"));
    o = make(f, &f->admin, net_subnet_create, text);
    free(text);
    snprintf(extsub, sizeof(extsub), "%s", sval(o, "id"));
    name(names, o, "id", "EXTSUB");
    json_decref(o);
    /* A group that lets the default group's members in on 22. */
    web = make(f, &f->alice, net_sg_create, "{\"name\": \"web\"}");
    name(names, web, "id", "WEB");
    json_t *groups = net_sg_list(f->c, &f->alice, &err);
    snprintf(dflt, sizeof(dflt), "%s",
             sval(json_array_get(groups, 0), "name")[0] == 'd'
                 ? sval(json_array_get(groups, 0), "id")
                 : sval(json_array_get(groups, 1), "id"));
    json_decref(groups);
    json_object_set_new(names, dflt, json_string("DEFAULT"));
    text = st_xasprintf("{\"security_group_id\": \"%s\", \"direction\": \"ingress\", \"protocol\":"
                        " \"tcp\", \"port_range_min\": 22, \"port_range_max\": 22,"
                        " \"remote_group_id\": \"%s\"}",
                        sval(web, "id"), dflt);
    rule = make(f, &f->alice, net_sgr_create, text);
    free(text);
    json_decref(rule);
    /* The router: placed on host1, the first host up. */
    r = make(f, &f->alice, net_router_create, "{\"name\": \"r1\"}");
    name(names, r, "id", "R1");
    text = st_xasprintf("{\"subnet_id\": \"%s\"}", sub);
    in = parse(text);
    free(text);
    o = net_router_interface(f->c, &f->alice, sval(r, "id"), in, true, &err);
    json_decref(in);
    if (!o)
        fail_msg("add_router_interface: %s", err.msg);
    json_decref(o);
    text = st_xasprintf("{\"external_gateway_info\": {\"network_id\": \"%s\"}, \"routes\":"
                        " [{\"destination\": \"192.168.0.0/16\", \"nexthop\": \"10.0.0.254\"}]}",
                        sval(ext, "id"));
    in = parse(text);
    free(text);
    o = net_router_update(f->c, &f->alice, sval(r, "id"), in, &err);
    json_decref(in);
    if (!o)
        fail_msg("router update: %s", err.msg);
    json_decref(o);
    /* A server on host2 with two NICs: one on net1 with both groups, and
     * a port made beforehand with an address pair. */
    json_t *pre = port_on(f, sval(net, "id"),
                          "\"name\": \"pre\", \"allowed_address_pairs\": [{\"ip_address\":"
                          " \"10.0.0.128/25\"}]");
    name(names, pre, "id", "PRE");
    struct compute_nic_request nics[] = {
        {sval(net, "id"), NULL, "10.0.0.10"},
        {NULL, sval(pre, "id"), NULL},
    };
    json_t *sgs = json_pack("[{s:s}, {s:s}]", "name", "default", "name", "web");
    assert_int_equal(store_begin(f->c, &err), 0);
    if (net_server_ports_create(f->c, &f->alice, server, "host2", "nova", nics, 2, sgs, &err) < 0)
        fail_msg("net_server_ports_create: %s", err.msg);
    assert_int_equal(store_commit(f->c, &err), 0);
    json_decref(sgs);
    json_object_set_new(names, server, json_string("SERVER"));
    ports = net_server_interfaces(f->c, server, &err);
    assert_int_equal(json_array_size(ports), 2);
    name(names, json_array_get(ports, 0), "port_id", "NIC0");
    json_decref(ports);
    /* A floating IP for the server's first address. */
    text = st_xasprintf("{\"floating_network_id\": \"%s\"}", sval(ext, "id"));
    o = make(f, &f->alice, net_fip_create, text);
    free(text);
    name(names, o, "id", "FIP");
    json_decref(o);
    assert_int_equal(
        net_server_floating_ip(f->c, &f->alice, server, "203.0.113.3", NULL, true, &err), 0);

    /* The Nova views. */
    o = net_server_addresses(f->c, server, &err);
    out = render(o, names);
    golden("server-addresses", out);
    free(out);
    json_decref(o);
    o = net_server_nics(f->c, server, &err);
    assert_non_null(o);
    assert_string_equal(sval(json_array_get(o, 0), "network_id"), sval(net, "id"));
    out = render(o, names);
    golden("server-nics", out);
    free(out);
    json_decref(o);

    d = net_host_desired(f->c, "host1", &err);
    assert_non_null(d);
    out = render(d, names);
    golden("desired-host1", out);
    free(out);
    json_decref(d);
    d = net_host_desired(f->c, "host2", &err);
    assert_non_null(d);
    out = render(d, names);
    golden("desired-host2", out);
    free(out);
    json_decref(d);

    /* Reports: a port's status, from its own host only. */
    text = st_xasprintf("{\"ports\": [{\"id\": \"%s\", \"status\": \"ACTIVE\"}]}", sval(pre, "id"));
    in = parse(text);
    free(text);
    assert_int_equal(net_host_report(f->c, "host1", in, &err), 0);
    o = net_port_get(f->c, &f->alice, sval(pre, "id"), &err);
    assert_string_equal(sval(o, "status"), "DOWN");
    json_decref(o);
    assert_int_equal(net_host_report(f->c, "host2", in, &err), 0);
    o = net_port_get(f->c, &f->alice, sval(pre, "id"), &err);
    assert_string_equal(sval(o, "status"), "ACTIVE");
    json_decref(o);
    json_decref(in);

    /* The server moves to host1: its ports follow. */
    assert_int_equal(store_begin(f->c, &err), 0);
    assert_int_equal(net_server_ports_bind(f->c, server, "host1", &err), 0);
    assert_int_equal(store_commit(f->c, &err), 0);
    d = net_host_desired(f->c, "host1", &err);
    assert_int_equal(json_array_size(json_object_get(d, "ports")), 2);
    json_decref(d);
    d = net_host_desired(f->c, "host2", &err);
    assert_int_equal(json_array_size(json_object_get(d, "networks")), 0);
    json_decref(d);

    /* Release: the port made for the server goes, the given one stays,
     * unbound, and the floating IP lets go. */
    assert_int_equal(store_begin(f->c, &err), 0);
    assert_int_equal(net_server_ports_release(f->c, server, &err), 0);
    assert_int_equal(store_commit(f->c, &err), 0);
    ports = net_server_interfaces(f->c, server, &err);
    assert_int_equal(json_array_size(ports), 0);
    json_decref(ports);
    o = net_port_get(f->c, &f->alice, sval(pre, "id"), &err);
    assert_string_equal(sval(o, "device_id"), "");
    json_decref(o);
    d = net_host_desired(f->c, "host2", &err);
    assert_int_equal(json_array_size(json_object_get(d, "ports")), 0);
    json_decref(d);

    json_decref(pre);
    json_decref(r);
    json_decref(web);
    json_decref(ext);
    json_decref(net);
    json_decref(names);
}

/* No host is up: DHCP and routers wait, and the first report places them. */
static void t15_placement_on_report(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    char sub[37];
    json_t *net = net_with_subnet(f, &f->alice, "n", "\"cidr\": \"10.0.0.0/24\"", sub), *d;
    json_t *empty = json_object();
    struct st_buf secret = ST_BUF_INIT;
    int64_t rev1, rev2;

    d = net_host_desired(f->c, "late", &err);
    assert_int_equal(json_array_size(json_object_get(d, "networks")), 0);
    json_decref(d);
    assert_int_equal(host_add(f->c, "late", &secret, &err), 0);
    st_buf_release(&secret);
    json_t *info = json_pack("{s:i, s:i, s:i, s:{}}", "vcpus", 1, "memory_mb", 1024, "local_gb", 1,
                             "cpu_info");
    json_decref(host_register(f->c, NULL, "late", info, &err));
    json_decref(info);
    rev1 = revision_get(f->c, "late", &err);
    assert_int_equal(net_host_report(f->c, "late", empty, &err), 0);
    rev2 = revision_get(f->c, "late", &err);
    assert_true(rev2 > rev1);
    d = net_host_desired(f->c, "late", &err);
    assert_int_equal(json_array_size(json_object_get(d, "networks")), 1);
    assert_true(
        json_is_object(json_object_get(json_array_get(json_object_get(d, "networks"), 0), "dhcp")));
    json_decref(d);
    json_decref(empty);
    json_decref(net);
}

/* The registration reply and the desired state carry the host's id, the
 * UUID of its row: the agent marks what it makes with it, because two
 * clouds on one machine may both call their host by the machine's name. */
static void t16_host_id(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct st_buf secret = ST_BUF_INIT;
    json_t *info = json_pack("{s:i, s:i, s:i, s:{}}", "vcpus", 1, "memory_mb", 1024, "local_gb", 1,
                             "cpu_info");
    json_t *r1, *r2, *r3, *d;
    int64_t n = 0;

    compute_ports_register(&net_compute_ports); /* as stratusd wires it */
    assert_int_equal(host_add(f->c, "ha", &secret, &err), 0);
    assert_int_equal(host_add(f->c, "hb", &secret, &err), 0);
    r1 = host_register(f->c, NULL, "ha", info, &err);
    r2 = host_register(f->c, NULL, "hb", info, &err);
    assert_non_null(r1);
    assert_non_null(r2);
    assert_true(st_is_uuid(sval(r1, "host_id")));
    assert_true(st_is_uuid(sval(r2, "host_id")));
    assert_string_not_equal(sval(r1, "host_id"), sval(r2, "host_id"));
    assert_int_equal(store_get_int(f->c, &err, &n,
                                   "SELECT COUNT(*) FROM hosts WHERE name = ? AND id = ?",
                                   STORE_ARGS(P("ha"), P(sval(r1, "host_id")))),
                     1);
    assert_int_equal(n, 1);
    /* A new secret keeps the id. */
    assert_int_equal(host_add(f->c, "ha", &secret, &err), 0);
    r3 = host_register(f->c, NULL, "ha", info, &err);
    assert_non_null(r3);
    assert_string_equal(sval(r3, "host_id"), sval(r1, "host_id"));
    d = host_desired(f->c, "ha", &err);
    if (!d)
        fail_msg("host_desired: %s", err.msg);
    assert_string_equal(sval(d, "host_id"), sval(r1, "host_id"));
    json_decref(d);
    json_decref(r1);
    json_decref(r2);
    json_decref(r3);
    json_decref(info);
    st_buf_release(&secret);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_addresses),
        cmocka_unit_test(t02_cidrs),
        cmocka_unit_test(t03_default_pools),
        cmocka_unit_test(t04_pool_validation),
        cmocka_unit_test(t05_macs),
        cmocka_unit_test(t06_eui64),
        cmocka_unit_test_setup_teardown(t07_subnet_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(t08_first_free, setup, teardown),
        cmocka_unit_test_setup_teardown(t09_pools_and_exhaustion, setup, teardown),
        cmocka_unit_test_setup_teardown(t10_race_same_address, setup, teardown),
        cmocka_unit_test_setup_teardown(t11_default_group, setup, teardown),
        cmocka_unit_test_setup_teardown(t12_default_group_race, setup, teardown),
        cmocka_unit_test_setup_teardown(t13_network_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(t14_desired, setup, teardown),
        cmocka_unit_test_setup_teardown(t15_placement_on_report, setup, teardown),
        cmocka_unit_test_setup_teardown(t16_host_id, setup, teardown),
    };
    static const struct tu_known_bug bugs[] = {};
    return TU_RUN("network", tests, bugs);
}

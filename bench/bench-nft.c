/*
 * bench-nft - the agent's host firewall alone (src/agent/nft.c), with
 * PORTS ports present, and the floor under every nft batch, through the
 * agent's own functions in the current network namespace:
 *  - the host tables of PORTS ports replaced whole (what a first pass or a
 *    pass after someone else's commit does);
 *  - plugging one more port, as a pass does it: the ruleset built from the
 *    desired state (pure), then nft_state_apply() (the difference against
 *    the last ruleset, one libnftables transaction, the generation read
 *    before and after); and unplugging it again;
 *  - nft_ctx_new() + nft_ctx_free() alone;
 *  - an incremental transaction that only adds (a chain and a rule to an
 *    existing table);
 *  - the whole-replace idiom ("table T", "delete table T", then T
 *    declared whole) on a table of one base chain;
 *  - deleting an empty table: any transaction that removes something may
 *    wait for the kernel to retire the old objects (an RCU grace period).
 * Prints one line per figure: median and 90th percentile of N runs, in ms.
 *
 *   bench-nft [N [PORTS]]      (default 20 runs, 1000 ports)
 *
 * Needs CAP_NET_ADMIN; run it in a network namespace of its own.
 */
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/model.h"
#include "agent/nft.h"
#include "common/util.h"
#include "common/banned.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, unsigned n)
{
    qsort(t, n, sizeof(double), cmp);
    printf("%s: p50 %.1f, p90 %.1f ms (%u times)\n", what, t[(n + 1) / 2 - 1],
           t[(n * 9 + 9) / 10 - 1], n);
}

#define T "inet stratus_bench_floor"

static const char replace_batch[] = "table " T "\ndelete table " T "\ntable " T " {\n"
                                    "\tchain forward {\n"
                                    "\t\ttype filter hook forward priority 0; policy accept;\n"
                                    "\t\tct state established,related accept\n"
                                    "\t}\n}\n";

/* Runs 'batch' through nft_apply; the time in ms, or -1. */
static double timed(const char *batch)
{
    struct st_err err = ST_ERR_INIT;
    int64_t t0 = st_mono_ns();
    if (nft_apply(NULL, batch, &err) < 0) {
        fprintf(stderr, "bench-nft: %s\n", err.msg);
        return -1;
    }
    return (double) (st_mono_ns() - t0) / 1e6;
}

#define HOST_ID "bec40000-0000-4000-8000-000000000001" /* not network.sh's */
#define NET_ID "a1000000-0000-4000-8000-000000000001"
#define GROUP_ID "51000000-0000-4000-8000-000000000001"

/* A desired state with 'nports' ports with port security on one network,
 * in one stateful group of 3 rules (one with the group as remote). */
static struct model_desired *desired(uint32_t nports)
{
    json_t *ports = json_array(), *members = json_array(), *doc;
    struct st_err err = ST_ERR_INIT;
    struct model_desired *d;
    for (uint32_t i = 0; i < nports; i++) {
        char id[48], mac[24], ip[24];
        snprintf(id, sizeof(id), "b%07x-0000-4000-8000-000000000000", i);
        snprintf(mac, sizeof(mac), "fa:16:3e:%02x:%02x:%02x", i >> 16 & 255, i >> 8 & 255, i & 255);
        snprintf(ip, sizeof(ip), "10.%u.%u.%u", 10 + i / 62500, i / 250 % 250, 1 + i % 250);
        json_array_append_new(ports,
                              json_pack("{s:s, s:s, s:s, s:[{s:s, s:i}], s:b, s:[s], s:[]}", "id",
                                        id, "network_id", NET_ID, "mac_address", mac, "fixed_ips",
                                        "ip_address", ip, "prefixlen", 8, "port_security_enabled",
                                        1, "security_groups", GROUP_ID, "allowed_address_pairs"));
        json_array_append_new(members, json_string(ip));
    }
    doc = json_pack("{s:s, s:s, s:i, s:[{s:s, s:s, s:i, s:b, s:[]}], s:o, s:[{s:s, s:b, s:o, s:["
                    "{s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]}]}",
                    "host", "bench", "host_id", HOST_ID, "revision", 1, "networks", "id", NET_ID,
                    "network_type", "local", "mtu", 1450, "external", 0, "vxlan_peers", "ports",
                    ports, "security_groups", "id", GROUP_ID, "stateful", 1, "member_ips", members,
                    "rules", "id", "61000000-0000-4000-8000-000000000001", "direction", "egress",
                    "ethertype", "IPv4", "id", "61000000-0000-4000-8000-000000000002", "direction",
                    "ingress", "ethertype", "IPv4", "remote_group_id", GROUP_ID, "id",
                    "61000000-0000-4000-8000-000000000003", "direction", "ingress", "ethertype",
                    "IPv4", "protocol", "icmp", "remote_ip_prefix", "0.0.0.0/0");
    d = doc ? model_desired_parse(doc, &err) : NULL;
    if (!d)
        fprintf(stderr, "bench-nft: %s\n", doc ? err.msg : "cannot build the desired state");
    json_decref(doc);
    return d;
}

/* Brings the namespace to the host ruleset of 'd' as a pass does; the
 * whole time and that of building the ruleset, in ms; -1 on failure. */
static double pass_nft(struct nft_state *st, const struct model_desired *d, double *build_ms,
                       enum nft_applied want)
{
    static const uint16_t zones[] = {1};
    struct st_err err = ST_ERR_INIT;
    enum nft_applied how;
    int64_t t0 = st_mono_ns(), t1;
    struct nft_ruleset *rs = nft_host_ruleset(HOST_ID, d, zones, &err);
    t1 = st_mono_ns();
    if (!rs || nft_state_apply(st, NULL, rs, &how, &err) < 0) {
        fprintf(stderr, "bench-nft: %s\n", err.msg);
        return -1;
    }
    if (how != want) {
        fprintf(stderr, "bench-nft: applied %s, not %s\n",
                how == NFT_APPLIED_WHOLE ? "whole" : "a difference",
                want == NFT_APPLIED_WHOLE ? "whole" : "a difference");
        return -1;
    }
    if (build_ms)
        *build_ms = (double) (t1 - t0) / 1e6;
    return (double) (st_mono_ns() - t0) / 1e6;
}

/* The agent's own batches with 'nports' ports present. */
static int bench_ports(uint32_t n, uint32_t nports)
{
    struct model_desired *base = desired(nports), *plus = desired(nports + 1);
    struct nft_state *st = nft_state_new(true);
    double *plug = st_xcalloc(n, sizeof(double)), *plug_b = st_xcalloc(n, sizeof(double));
    double *unplug = st_xcalloc(n, sizeof(double)), *unplug_b = st_xcalloc(n, sizeof(double));
    double whole_t, whole_b;
    char what[160];
    int rc = -1;

    if (!base || !plus)
        goto out;
    if ((whole_t = pass_nft(st, base, &whole_b, NFT_APPLIED_WHOLE)) < 0)
        goto out;
    for (uint32_t i = 0; i < n; i++)
        if ((plug[i] = pass_nft(st, plus, &plug_b[i], NFT_APPLIED_DIFF)) < 0 ||
            (unplug[i] = pass_nft(st, base, &unplug_b[i], NFT_APPLIED_DIFF)) < 0)
            goto out;
    printf("nft, %u ports: the host tables replaced whole: %.1f ms, of which building the "
           "ruleset %.1f ms\n",
           nports, whole_t, whole_b);
    snprintf(what, sizeof(what),
             "nft, %u ports present: plugging one more (ruleset built, difference applied)",
             nports);
    report(what, plug, n);
    snprintf(what, sizeof(what), "nft, %u ports present: ... of which building the ruleset",
             nports);
    report(what, plug_b, n);
    snprintf(what, sizeof(what), "nft, %u ports present: unplugging it again", nports);
    report(what, unplug, n);
    snprintf(what, sizeof(what), "nft, %u ports present: ... of which building the ruleset",
             nports);
    report(what, unplug_b, n);
    rc = 0;
out:
    if (nft_host_teardown(HOST_ID, NULL, NULL) < 0)
        rc = -1;
    nft_state_free(st);
    model_desired_free(base);
    model_desired_free(plus);
    free(plug);
    free(plug_b);
    free(unplug);
    free(unplug_b);
    return rc;
}

int main(int argc, char **argv)
{
    uint32_t n = 20, nports = 1000;
    double *ctx_t, *add_t, *rep_t, *del_t;
    char batch[256];
    int rc = 1;

    if (argc > 3 || (argc >= 2 && st_parse_u32(argv[1], 1, 100000, &n) < 0) ||
        (argc == 3 && st_parse_u32(argv[2], 1, MODEL_MAX_PORTS - 1, &nports) < 0)) {
        fputs("usage: bench-nft [N [PORTS]]\n", stderr);
        return 2;
    }
    if (bench_ports(n, nports) < 0)
        return 1;
    ctx_t = st_xcalloc(n, sizeof(double));
    add_t = st_xcalloc(n, sizeof(double));
    rep_t = st_xcalloc(n, sizeof(double));
    del_t = st_xcalloc(n, sizeof(double));
    if (timed(replace_batch) < 0)
        goto out;
    for (uint32_t i = 0; i < n; i++) {
        int64_t t0 = st_mono_ns();
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx) {
            fputs("bench-nft: cannot create an nftables context\n", stderr);
            goto out;
        }
        nft_ctx_free(ctx);
        ctx_t[i] = (double) (st_mono_ns() - t0) / 1e6;
        snprintf(batch, sizeof(batch), "add chain " T " port%u\nadd rule " T " port%u accept\n", i,
                 i);
        if ((add_t[i] = timed(batch)) < 0 || (rep_t[i] = timed(replace_batch)) < 0)
            goto out;
    }
    if (timed("delete table " T "\n") < 0)
        goto out;
    for (uint32_t i = 0; i < n; i++)
        if (timed("add table " T "\n") < 0 || (del_t[i] = timed("delete table " T "\n")) < 0)
            goto out;
    report("nft floor: nft_ctx_new + nft_ctx_free alone", ctx_t, n);
    report("nft floor: a transaction that only adds (a chain and a rule)", add_t, n);
    report("nft floor: the whole-replace idiom on a table of one base chain", rep_t, n);
    report("nft floor: deleting an empty table (a removal waits for the kernel)", del_t, n);
    rc = 0;
out:
    if (rc)
        ST_IGNORE(timed("delete table " T "\n") < 0);
    free(ctx_t);
    free(add_t);
    free(rep_t);
    free(del_t);
    return rc;
}

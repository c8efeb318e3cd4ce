/*
 * bench-nft - the floor under every nft batch the agent applies, through
 * the agent's own nft_apply() in the current network namespace:
 *  - nft_ctx_new() + nft_ctx_free() alone;
 *  - an incremental transaction that only adds (a chain and a rule to an
 *    existing table);
 *  - the agent's replace idiom ("table T", "delete table T", then T
 *    declared whole) on a table of one base chain;
 *  - deleting an empty table: any transaction that removes something
 *    waits for the kernel to retire the old objects (an RCU grace period),
 *    which is the floor of the replace idiom.
 * Prints one line per figure: median and 90th percentile of N runs, in ms.
 *
 *   bench-nft [N]      (default 20)
 *
 * Needs CAP_NET_ADMIN; run it in a network namespace of its own.
 */
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>

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

int main(int argc, char **argv)
{
    uint32_t n = 20;
    double *ctx_t, *add_t, *rep_t, *del_t;
    char batch[256];
    int rc = 1;

    if (argc > 2 || (argc == 2 && st_parse_u32(argv[1], 1, 100000, &n) < 0)) {
        fputs("usage: bench-nft [N]\n", stderr);
        return 2;
    }
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
    report("nft floor: the agent's replace idiom on a table of one base chain", rep_t, n);
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

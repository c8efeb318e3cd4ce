/* net-apply - drives the agent's network driver (src/agent/net.c) once,
 * for tests/integration/t007-agent-net.sh and for measuring it.
 *
 *   net-apply [--state-dir DIR] [--host-id UUID] [--mappings PHYSNET:IFACE,...]
 *             [--local-ip IP] [--passes N] [--stats] DESIRED.json...
 *   net-apply [--state-dir DIR] [--host-id UUID] --teardown
 *
 * The driver works for host --host-id (the owner of what it makes), else
 * for the "host_id" of each desired state, else for the one the state
 * directory remembers (STATE_DIR/host_id).
 * Reads each desired state (docs/agent-protocol.md) in turn and runs
 * net_reconcile() N times (default 1) on it, all in one process, as the
 * agent would across revisions; prints the report of the last pass as
 * JSON on stdout.  --stats prints each pass's figures on stderr.  Exit
 * status 0 when every pass returned 0, 1 otherwise (the report is printed
 * anyway), 2 on bad usage or a desired state that does not parse. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/model.h"
#include "agent/net.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

static void usage(void)
{
    fputs("usage: net-apply [--state-dir DIR] [--host-id UUID] [--mappings PHYSNET:IFACE,...]\n"
          "                 [--local-ip IP] [--passes N] [--stats] DESIRED.json...\n"
          "       net-apply [--state-dir DIR] [--host-id UUID] --teardown\n",
          stderr);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state-dir", required_argument, NULL, 's'}, {"mappings", required_argument, NULL, 'm'},
        {"local-ip", required_argument, NULL, 'l'},  {"passes", required_argument, NULL, 'n'},
        {"stats", no_argument, NULL, 'S'},           {"teardown", no_argument, NULL, 't'},
        {"host-id", required_argument, NULL, 'H'},   {NULL, 0, NULL, 0},
    };
    struct net_opts opts = {.state_dir = "/var/lib/stratus/network"};
    struct st_err err = ST_ERR_INIT;
    struct st_buf text = ST_BUF_INIT, out = ST_BUF_INIT;
    struct model_desired *d = NULL;
    struct net_state *ns = NULL;
    json_t *doc = NULL, *report = NULL;
    bool stats = false, teardown = false;
    uint32_t passes = 1;
    int c, rc = 2;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            opts.state_dir = optarg;
            break;
        case 'm':
            opts.physical_interface_mappings = optarg;
            break;
        case 'l':
            opts.local_ip = optarg;
            break;
        case 'n':
            if (st_parse_u32(optarg, 1, 100000, &passes) < 0) {
                usage();
                return 2;
            }
            break;
        case 'S':
            stats = true;
            break;
        case 't':
            teardown = true;
            break;
        case 'H':
            opts.host_id = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    if ((teardown && optind != argc) || (!teardown && optind >= argc)) {
        usage();
        return 2;
    }
    ns = net_new(&opts, &err);
    if (!ns) {
        fprintf(stderr, "net-apply: %s\n", err.msg);
        return 2;
    }
    if (teardown) {
        rc = net_teardown_all(ns, &err) < 0 ? 1 : 0;
        if (rc)
            fprintf(stderr, "net-apply: teardown: %s\n", err.msg);
        goto out;
    }
    rc = 0;
    for (int f = optind; f < argc; f++) {
        st_buf_reset(&text);
        json_decref(doc);
        model_desired_free(d);
        d = NULL;
        if (st_read_file(argv[f], 64u << 20, &text, &err) < 0 ||
            !(doc = st_json_parse(text.buf, text.len, &err)) ||
            !(d = model_desired_parse(doc, &err))) {
            fprintf(stderr, "net-apply: %s: %s\n", argv[f], err.msg);
            rc = 2;
            goto out;
        }
        for (uint32_t i = 0; i < passes; i++) {
            const struct net_stats *s;
            json_decref(report);
            report = json_object();
            st_err_clear(&err);
            if (net_reconcile(ns, d, report, &err) < 0) {
                fprintf(stderr, "net-apply: %s: pass %u: %s\n", argv[f], i + 1, err.msg);
                rc = 1;
            }
            s = net_last_stats(ns);
            /* As the agent does at the end of a pass that started servers. */
            st_err_clear(&err);
            if (net_port_status(ns, d, report, &err) < 0) {
                fprintf(stderr, "net-apply: %s: ports: %s\n", argv[f], err.msg);
                rc = 1;
            }
            if (stats)
                fprintf(stderr,
                        "net-apply: %s: pass %u: %.3f ms total, %.3f ms nft (%d batches "
                        "applied, %d whole), %d links created, %d leftovers removed, %d "
                        "unmarked left alone\n",
                        argv[f], i + 1, (double) s->total_ns / 1e6, (double) s->nft_ns / 1e6,
                        s->nft_applied, s->nft_whole, s->links_created, s->removed, s->unmarked);
        }
    }
    st_json_dump(report, &out);
    printf("%s\n", out.buf);
out:
    json_decref(report);
    json_decref(doc);
    model_desired_free(d);
    net_free(ns);
    st_buf_release(&text);
    st_buf_release(&out);
    return rc;
}

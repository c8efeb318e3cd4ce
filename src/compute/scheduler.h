/*
 * scheduler.h - picks a host for a server and claims its capacity, inside
 * the caller's write transaction (so two claims never both take the last
 * room; ARCHITECTURE §3).  Filters: the host is enabled, not forced down,
 * heartbeating, in the requested availability zone (the zone of its
 * aggregates, compute/aggregate.h), is the forced host if one is named
 * ("zone:host", admin only), has room for the vCPUs, RAM and disk under the
 * allocation ratios, and honours the hints: same_host (a host that runs one
 * of the named servers), different_host (none of them), as Nova's
 * SameHostFilter and DifferentHostFilter.  Weighers: free RAM and free
 * vCPUs, each normalised to [0, 1] over the hosts that passed and summed
 * (Nova's RAMWeigher and CPUWeigher, multipliers 1), so servers spread over
 * hosts; the first name wins a tie.
 */
#ifndef ST_COMPUTE_SCHEDULER_H
#define ST_COMPUTE_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "compute/server.h"
#include "store/store.h"

struct sched_request {
    int64_t vcpus;
    int64_t ram_mb;
    int64_t disk_gb;
    const char *availability_zone; /* NULL: any */
    const char *force_host;        /* NULL: any */
    const char *const *same_host;  /* server ids (os:scheduler_hints), or NULL */
    size_t n_same_host;
    const char *const *different_host;
    size_t n_different_host;
};
#define SCHED_MAX_HINTS 64

/* Chooses a host: 1 with its name in 'host', 0 when none fits, -1 on error.
 * The claim is the server row the caller inserts with that host in the same
 * transaction. */
int sched_claim(struct store_conn *c, const struct compute_conf *conf,
                const struct sched_request *req, char *host, size_t n, struct st_err *err)
    __attribute__((warn_unused_result));
/* Would 'host' fit 'req' if server 'exclude' (being resized) gave back what
 * it holds?  1 yes, 0 no, -1 error. */
int sched_fits(struct store_conn *c, const struct compute_conf *conf, const char *host,
               const char *exclude, const struct sched_request *req, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

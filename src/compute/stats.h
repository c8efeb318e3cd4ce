/*
 * stats.h - the figures agents measure on their guests (libvirt's domain
 * statistics) as the controller keeps them: the last set per server, for
 * Nova's GET /servers/{id}/diagnostics, the free disk of each host (Nova's
 * disk_available_least), and counts of servers by status for the metrics.
 *
 * Why in the report: Nova answers diagnostics synchronously from the
 * compute host, but here the controller never talks to libvirt and nothing
 * slow runs on the request path (ARCHITECTURE §3).  The agent already
 * reports every report_interval seconds; each report carries "stats" for
 * the running domains of the host, and the controller keeps the last ones.
 * Diagnostics then read one row: an answer in microseconds whatever the
 * host is doing, never a hung request when an agent is down, at the price
 * of figures up to report_interval old (they carry the time they were
 * taken).  A task per request (like the console log) would have made every
 * diagnostics call wait a long-poll round trip.
 *
 * Wire format of a report's "stats" (docs/agent-protocol.md):
 *   [{"id": UUID, "cpu_time": NS, "vcpus": [NS, ...],
 *     "memory": {"maximum": KIB, "current": KIB, "rss": KIB},
 *     "disks": [{"name", "read_bytes", "read_requests", "write_bytes",
 *                "write_requests", "errors"}],
 *     "nics": [{"name", "mac_address", "rx_bytes", "rx_packets", "rx_errors",
 *               "rx_drop", "tx_bytes", "tx_packets", "tx_errors", "tx_drop"}]}]
 * where any figure libvirt did not give is absent; and "capacity":
 * {"disk_available_least": GB}.
 */
#ifndef ST_COMPUTE_STATS_H
#define ST_COMPUTE_STATS_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"
#include "store/store.h"

#define STATS_MAX_DEVICES 64 /* disks, NICs, vCPUs kept per server */

/* Applies the "stats" and "capacity" members of host 'host''s report,
 * inside the caller's transaction.  Entries for servers that are not on
 * 'host', or malformed, are skipped; only the figures named above are kept,
 * each checked for type and range.  -1 with 'err' on a store error. */
int server_stats_apply(struct store_conn *c, const char *host, json_t *report, struct st_err *err)
    __attribute__((warn_unused_result));

/* The last figures of server 'id' (no access check: the caller has loaded
 * the server).  Returns 1 with '*stats' (new reference), '*at' (epoch
 * seconds) and the reporting host's virt_type ("qemu", "kvm"; "" if
 * unknown) in 'virt_type', 0 when there are none, -1 with 'err'. */
int server_stats_get(struct store_conn *c, const char *id, json_t **stats, int64_t *at,
                     char *virt_type, size_t n, struct st_err *err)
    __attribute__((warn_unused_result));

/* The number of servers in each Nova status: a new object {"ACTIVE": 3,
 * ...} (only statuses with servers), or NULL with 'err'. */
json_t *server_status_counts(struct store_conn *c, struct st_err *err);

#endif

/*
 * host.h - hypervisor hosts as the controller sees them: their credentials,
 * capacity and heartbeat, the desired state document itself, and the
 * reports that move servers through their states (docs/agent-protocol.md).
 *
 * The revisions of hosts' desired state and the wake-up of long-polls are
 * in store/revision.h, below compute and network, which both bump them.
 */
#ifndef ST_COMPUTE_HOST_H
#define ST_COMPUTE_HOST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "compute/server.h"
#include "store/store.h"

#define HOST_NAME_MAX_LEN 255

/* Creates host 'name' with a new secret (or gives an existing one a new
 * secret); appends the secret to 'secret'.  Bootstrap and `host add`. */
int host_add(struct store_conn *c, const char *name, struct st_buf *secret, struct st_err *err)
    __attribute__((warn_unused_result));
/* Checks "Authorization: Bearer SECRET"; fills 'name' with the host it
 * belongs to.  UNAUTHORIZED otherwise. */
int host_authenticate(struct store_conn *c, const char *authorization, char *name, size_t n,
                      struct st_err *err) __attribute__((warn_unused_result));
/* A valid host name: [A-Za-z0-9._-], 1..255. */
bool host_name_ok(const char *name);

/* POST /internal/v1/hosts/{host}: records capacity and the heartbeat.
 * Returns the reply body, whose report_interval (10 s, less when 'conf'
 * has a [compute] service_down_time under 30 s: a third of it) keeps a
 * live host up.  'conf' may be NULL. */
json_t *host_register(struct store_conn *c, const struct compute_conf *conf, const char *name,
                      json_t *info, struct st_err *err);

/* The desired state document of a host (new reference). */
json_t *host_desired(struct store_conn *c, const char *name, struct st_err *err);
/* The SERVER document of server 'server_id' as the desired state gives it
 * (for the metadata service, which renders it as the agent's seed does);
 * NOT_FOUND when there is none.  Returns a new reference. */
json_t *host_server_doc(struct store_conn *c, const char *server_id, struct st_err *err);
/* Applies a report; returns the reply body.  Pending console-log results
 * wake their waiters. */
json_t *host_report(struct store_conn *c, const struct compute_conf *conf, const char *name,
                    json_t *report, struct st_err *err);

/* May this host write data into image 'image_id' (a snapshot task of its
 * targets it)?  1 yes, 0 no, -1 error. */
int host_may_upload(struct store_conn *c, const char *name, const char *image_id,
                    struct st_err *err);

/* True when a host's last heartbeat is recent enough. */
bool host_is_up(int64_t last_seen, const struct compute_conf *conf);

/* Hypervisors and services (os-hypervisors, os-services): new arrays of
 * objects with the host columns and usage sums as Nova's resource tracker
 * counts them: every server placed on the host, memory_mb_used including
 * [compute] reserved_host_memory_mb, current_workload the servers with a
 * task under way, disk_available_least from the agent's last report. */
json_t *host_list(struct store_conn *c, const struct compute_conf *conf, struct st_err *err);
/* Enables/disables a host (os-services); 'reason' may be NULL. */
int host_set_enabled(struct store_conn *c, const char *name, bool enabled, const char *reason,
                     struct st_err *err) __attribute__((warn_unused_result));
int host_set_forced_down(struct store_conn *c, const char *name, bool down, struct st_err *err)
    __attribute__((warn_unused_result));

/* Waits (up to 'timeout_ms') for task 'task_id' to finish; returns its
 * status ("done", "failed", "pending") and fills result/error. */
int host_task_wait(struct store *st, const char *task_id, int timeout_ms, json_t **result,
                   char **error, struct st_err *err) __attribute__((warn_unused_result));

#endif

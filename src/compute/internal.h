/*
 * internal.h - what the files of the compute module share with one another
 * and with nobody else: the calls of the port provider, and the pieces the
 * server files (server.c, server_lifecycle.c, server_action.c, quota.c) and
 * host.c build on.  None of these functions opens or ends a transaction:
 * they run inside the caller's.
 */
#ifndef ST_COMPUTE_INTERNAL_H
#define ST_COMPUTE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "compute/ports.h"
#include "identity/policy.h"
#include "store/store.h"

/* ---- the port provider (ports.c) ---------------------------------------- */

/* Calls of the registered struct compute_ports_ops (ports.h), member for
 * member; ST_ERR_INTERNAL while none is registered. */
int compute_ports_create(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                         const char *host, const char *az, const struct compute_nic_request *nics,
                         size_t nnics, json_t *security_groups, struct st_err *err)
    __attribute__((warn_unused_result));
int compute_ports_release(struct store_conn *c, const char *server_id, struct st_err *err)
    __attribute__((warn_unused_result));
json_t *compute_ports_nics(struct store_conn *c, const char *server_id, struct st_err *err);
json_t *compute_ports_host_desired(struct store_conn *c, const char *host, struct st_err *err);
int compute_ports_host_report(struct store_conn *c, const char *host, json_t *report,
                              struct st_err *err) __attribute__((warn_unused_result));
int compute_ports_bind(struct store_conn *c, const char *server_id, const char *host,
                       const char *migrating_host, struct st_err *err)
    __attribute__((warn_unused_result));

/* ---- servers ------------------------------------------------------------ */

struct server_rec;
struct compute_conf;

/* Server JSON kept in a column (flavor, images, task args): compact, keys
 * sorted.  Returns a new string. */
static inline char *compute_json_dumps(json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

/* server.c: CONFLICT if 'r' is locked and the caller is no admin. */
int server_check_lock(const struct auth_ctx *ctx, const struct server_rec *r,
                      struct st_err *err) __attribute__((warn_unused_result));
/* server.c: loads a server the caller may write (server_get, then
 * policy_write); on success 'r' is the caller's to release. */
int server_load_writable(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         struct server_rec *r, struct st_err *err)
    __attribute__((warn_unused_result));

/* server_lifecycle.c: the flavor 'ref' names, if the caller may use it, as
 * the JSON copy a server keeps (new reference); BAD_REQUEST for an unknown
 * or disabled one, as Nova answers a bad flavorRef. */
json_t *server_boot_flavor(struct store_conn *c, const struct auth_ctx *ctx, const char *ref,
                           struct st_err *err);
/* server_lifecycle.c: the active image 'ref' names, if the caller may boot
 * it, with its kernel and ramdisk: {"image": ..., "kernel": ... | null,
 * "ramdisk": ... | null} (new reference). */
json_t *server_boot_images(struct store_conn *c, const struct auth_ctx *ctx, const char *ref,
                           struct st_err *err);
/* server_lifecycle.c: checks a "metadata" object (NULL passes): keys and
 * values of at most 255, at most SERVER_MAX_METADATA items. */
int server_check_metadata(json_t *meta, struct st_err *err) __attribute__((warn_unused_result));
/* server_lifecycle.c: sets (inserts or replaces) the items of 'meta'. */
int server_set_metadata(struct store_conn *c, const char *id, json_t *meta, struct st_err *err)
    __attribute__((warn_unused_result));
/* server_lifecycle.c: removes a server that no host holds (never
 * scheduled, or its agent confirmed the delete), releasing its ports. */
int server_purge(struct store_conn *c, const char *id, struct st_err *err)
    __attribute__((warn_unused_result));

/* server_action.c: records an instance action and its single event,
 * started now. */
int server_action_start(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                        const char *host, const char *action, const char *request_id,
                        struct st_err *err) __attribute__((warn_unused_result));
/* server_action.c: finishes the server's open instance-action events with
 * 'result' ("Success"/"Error") and optional 'details'. */
int server_actions_finish(struct store_conn *c, const char *server_id, const char *result,
                          const char *details, struct st_err *err)
    __attribute__((warn_unused_result));

/* quota.c: OVER_QUOTA naming the first resource that 'n' more servers with
 * 'vcpus' and 'ram' in all would exceed in 'project_id'. */
int compute_quota_check(struct store_conn *c, const struct compute_conf *conf,
                        const char *project_id, int64_t n, int64_t vcpus, int64_t ram,
                        struct st_err *err) __attribute__((warn_unused_result));

#endif

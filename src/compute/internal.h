/*
 * internal.h - what the files of the compute module share with one another
 * and with nobody else.  None of these functions opens or ends a
 * transaction: they run inside the caller's.
 */
#ifndef ST_COMPUTE_INTERNAL_H
#define ST_COMPUTE_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

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

/* ---- servers ------------------------------------------------------------ */

/* Finishes the server's open instance-action events with 'result'
 * ("Success"/"Error") and optional 'details'. */
int server_actions_finish(struct store_conn *c, const char *server_id, const char *result,
                          const char *details, struct st_err *err)
    __attribute__((warn_unused_result));
/* Removes a server that no host holds (never scheduled, or its agent
 * confirmed the delete), releasing its ports. */
int server_purge(struct store_conn *c, const char *id, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

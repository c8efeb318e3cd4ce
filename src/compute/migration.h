/*
 * migration.h - servers moving between hosts: cold migration, resize to
 * another host, live migration and evacuation (Nova's migrations), as
 * docs/agent-protocol.md "Migration" describes the wire contract.
 *
 * A migration is a row of the migrations table.  While it is active, the
 * server is in the desired state of both its hosts, each with the
 * "migration" object of its role (migration_doc()); the hosts' reports
 * (migration_report()) advance it.  Everything here runs inside the
 * caller's transaction and bumps the revisions of the hosts whose desired
 * state it changes; the caller commits and calls revision_notify().
 *
 * Capacity: the scheduler counts an active migration's claim on the host
 * the server is not on (the new flavor on the destination until the server
 * moves there, the old flavor on the source until the move is confirmed or
 * reverted), so concurrent boots never take the room a migration holds.
 */
#ifndef ST_COMPUTE_MIGRATION_H
#define ST_COMPUTE_MIGRATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "compute/server.h"
#include "identity/policy.h"
#include "store/store.h"

/* A valid name for a migration file (the agents' instance files):
 * ^[a-z][a-z0-9._-]{0,63}$, never a path. */
bool migration_file_name_ok(const char *name);

/* Is 'status' one where the migration is still under way (Nova's
 * in-progress statuses)? */
bool migration_status_in_progress(const char *status);

/* Cold migration (new_flavor NULL) or resize to another host (new_flavor
 * the flavor JSON copy, the server row already carrying it and 'old'
 * the flavor it had) of server 'r' to host 'dest', within the caller's
 * server_action transaction: the migration row, the source's "export"
 * and task_state resize_prep.  CONFLICT when a migration is under way. */
int migration_start_cold(struct store_conn *c, const struct auth_ctx *ctx,
                         const struct server_rec *r, const char *dest, json_t *old_flavor,
                         json_t *new_flavor, struct st_err *err)
    __attribute__((warn_unused_result));
/* Live migration of 'r' to 'dest': the destination's "prepare", the
 * server's ports also desired there. */
int migration_start_live(struct store_conn *c, const struct auth_ctx *ctx,
                         const struct server_rec *r, const char *dest, bool block,
                         struct st_err *err) __attribute__((warn_unused_result));
/* Evacuation of 'r' (whose host is down) to 'dest': the server moves at
 * once, its disk generation bumped, the destination "rebuild"s it; its
 * ports and volume attachments follow. */
int migration_start_evacuate(struct store_conn *c, const struct auth_ctx *ctx,
                             const struct server_rec *r, const char *dest, struct st_err *err)
    __attribute__((warn_unused_result));

/* Picks the destination of a migration of 'r' needing vcpus/ram/disk:
 * 'host' when given (it must exist: BAD_REQUEST otherwise, and differ from
 * the source unless 'same_ok'), else the scheduler's choice among the other
 * hosts (in the server's zone), or the source itself when 'same_ok' and no
 * other fits.  Returns 1 with the name in 'out', 0 when none fits, -1. */
int migration_pick_host(struct store_conn *c, const struct compute_conf *conf,
                        const struct server_rec *r, const char *host, int64_t vcpus,
                        int64_t ram, int64_t disk, bool same_ok, char *out, size_t n,
                        struct st_err *err) __attribute__((warn_unused_result));

/* confirmResize / revertResize of a server with a finished cold migration
 * or cross-host resize: 1 when there was one (handled), 0 when the server
 * has none (the in-place resize path applies), -1 on error. */
int migration_confirm(struct store_conn *c, const struct server_rec *r, struct st_err *err)
    __attribute__((warn_unused_result));
int migration_revert(struct store_conn *c, const struct server_rec *r, struct st_err *err)
    __attribute__((warn_unused_result));

/* The "migration" member of server 'server_id' in the desired state of
 * 'host' (new reference; json null when that host's role has nothing to
 * do).  NULL on error. */
json_t *migration_doc(struct store_conn *c, const char *server_id, const char *host,
                      struct st_err *err);
/* SQL condition (one '?' for the host, then one more for the host) that
 * selects the servers an active migration puts in a host's desired state
 * besides its own: "s.id IN (...)". */
#define MIGRATION_DESIRED_SERVERS                                                                  \
    "s.id IN (SELECT m.server_id FROM migrations m WHERE m.active = 1 AND"                         \
    " ((m.source_compute = ? AND m.source_state IS NOT NULL) OR (m.dest_compute = ? AND"         \
    " m.dest_state IS NOT NULL)))"

/* Applies the "migration" object of one server of a host's report (the
 * fencing rule: only from the migration's source or destination while it is
 * active and only for the state that host's role is in).  Sets *bump when
 * 'host''s desired state changed (others are bumped here).  Returns 1 when
 * the migration moved on (the caller then ignores the rest of that
 * server's report, which describes the step before), 0, or -1.  Then, after the
 * server's report: migration_after_report() finishes an evacuation whose
 * rebuild settled. */
int migration_report(struct store_conn *c, const char *host, json_t *server_report, bool *bump,
                     struct st_err *err) __attribute__((warn_unused_result));
int migration_after_report(struct store_conn *c, const char *host, const char *server_id,
                           struct st_err *err) __attribute__((warn_unused_result));

/* A server is being deleted: its active migration ends ("error"), so the
 * other host drops it from its desired state. */
int migration_server_deleted(struct store_conn *c, const char *server_id, struct st_err *err)
    __attribute__((warn_unused_result));

/* Migrations as records with every column Nova shows (new array of
 * objects: id, uuid, server_id, project_id, user_id, migration_type,
 * status, source_compute, source_node, dest_compute, dest_node, dest_host,
 * progress object, created_at, updated_at as epoch seconds, active). */
struct migration_query {
    const char *host, *status, *migration_type, *instance_uuid, *source_compute;
    const char *project_id, *user_id;
    int64_t changes_since, changes_before; /* epoch s, -1 unset */
    const char *marker;                    /* uuid */
    int64_t limit;                         /* -1 none */
    bool live_in_progress;                 /* servers/{id}/migrations */
};
void migration_query_init(struct migration_query *q);
json_t *migration_list(struct store_conn *c, const struct migration_query *q, struct st_err *err);

/* force_complete / abort of in-progress live migration 'mid' (Nova's
 * integer id) of server 'server_id': NOT_FOUND unless it is one, CONFLICT
 * in a state where it cannot be done. */
int migration_force_complete(struct store_conn *c, const char *server_id, int64_t mid,
                             struct st_err *err) __attribute__((warn_unused_result));
int migration_abort(struct store_conn *c, const char *server_id, int64_t mid,
                    struct st_err *err) __attribute__((warn_unused_result));

/* May 'host' write (put) or read file data of migration 'uuid' now: the
 * source while it exports, the destination while it imports?  0 yes,
 * -1 with NOT_FOUND otherwise. */
int migration_file_access(struct store_conn *c, const char *host, const char *uuid, bool put,
                          struct st_err *err) __attribute__((warn_unused_result));
/* Does migration 'uuid' still need its files (export or import under
 * way)?  1 yes, 0 no, -1 error. */
int migration_files_needed(struct store_conn *c, const char *uuid, struct st_err *err);

#endif

/*
 * volume.h - Cinder's domain logic (ARCHITECTURE §6): volumes, volume types
 * and their extra specs, snapshots, backups, attachments, volume services
 * (the backends hosts register), quotas; the volume half of a host's desired
 * state and report.  api/volume*.c call these; compute reaches volume only
 * through compute/volumes.h, which this module implements
 * (vol_compute_volumes).
 *
 * Every function runs its own transaction unless it says "in the caller's
 * transaction", applies the caller's scope (an admin sees all projects) and
 * fills 'err' once.  JSON results are new references shaped as Cinder's
 * bodies' inner objects ({"volume": X} -> X), with the admin-only
 * attributes for admins.  States follow Cinder's: creating -> available ->
 * attaching -> in-use -> detaching -> available; deleting; extending;
 * backing-up; restoring-backup; downloading; uploading; error.
 */
#ifndef ST_VOLUME_H
#define ST_VOLUME_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "compute/volumes.h"
#include "identity/policy.h"
#include "store/store.h"

/* Process-wide settings, set once before serving (stratusd). */
struct vol_conf {
    int64_t service_down_time; /* seconds without a heartbeat: a host is down */
    const char *default_az;    /* "nova" */
};
void vol_configure(const struct vol_conf *conf);

/* compute's provider (compute/volumes.h). */
extern const struct compute_volumes_ops vol_compute_volumes;

/* Default quotas of a project (Cinder's defaults). */
#define VOL_QUOTA_VOLUMES 10
#define VOL_QUOTA_GIGABYTES 1000
#define VOL_QUOTA_SNAPSHOTS 10
#define VOL_QUOTA_BACKUPS 10
#define VOL_QUOTA_BACKUP_GIGABYTES 1000
#define VOL_MAX_SIZE_GB 16384

/* ---- volumes ------------------------------------------------------------ */

/* POST /volumes: 'in' is the "volume" object (size, name, description,
 * metadata, volume_type, availability_zone, snapshot_id, source_volid,
 * imageRef, backup_id).  Returns the new volume (status creating, or error
 * when no backend can hold it). */
json_t *vol_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                   struct st_err *err);
json_t *vol_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                struct st_err *err);
/* Every volume the caller may see ('all_tenants' for admins: all projects,
 * else only the admin's own), oldest first; the API filters and pages. */
json_t *vol_list(struct store_conn *c, const struct auth_ctx *ctx, bool all_tenants,
                 struct st_err *err);
/* PUT /volumes/{id}: name, description, metadata. */
json_t *vol_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id, json_t *in,
                   struct st_err *err);
/* DELETE: refused (400) while attached or in a busy state, or with
 * snapshots unless 'cascade'. */
int vol_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id, bool cascade,
               bool force, struct st_err *err) __attribute__((warn_unused_result));
/* POST /volumes/{id}/action: 'name' is the action key ("os-extend", ...),
 * 'args' its value.  '*out' receives a body for actions that return one
 * (os-volume_upload_image), else NULL.  Returns the HTTP status (200 or
 * 202), or -1. */
int vol_action(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
               const char *name, json_t *args, json_t **out, struct st_err *err);
/* Volume metadata: 'replace' drops the keys not in 'meta'.  Returns the
 * whole metadata afterwards. */
json_t *vol_metadata_set(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         json_t *meta, bool replace, struct st_err *err);
int vol_metadata_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        const char *key, struct st_err *err) __attribute__((warn_unused_result));

/* ---- types -------------------------------------------------------------- */

json_t *vol_type_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);
/* By id or name; "default" is the default type. */
json_t *vol_type_get(struct store_conn *c, const struct auth_ctx *ctx, const char *ref,
                     struct st_err *err);
json_t *vol_type_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                        struct st_err *err);
json_t *vol_type_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        json_t *in, struct st_err *err);
int vol_type_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    struct st_err *err) __attribute__((warn_unused_result));
/* Sets the extra specs of 'specs'; returns all of them. */
json_t *vol_type_specs_set(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           json_t *specs, struct st_err *err);
int vol_type_spec_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         const char *key, struct st_err *err) __attribute__((warn_unused_result));

/* ---- snapshots ------------------------------------------------------------ */

json_t *vol_snapshot_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                            struct st_err *err);
json_t *vol_snapshot_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         struct st_err *err);
json_t *vol_snapshot_list(struct store_conn *c, const struct auth_ctx *ctx, bool all_tenants,
                          struct st_err *err);
json_t *vol_snapshot_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                            json_t *in, struct st_err *err);
int vol_snapshot_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        struct st_err *err) __attribute__((warn_unused_result));
/* os-reset_status of a snapshot (admin). */
int vol_snapshot_reset(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       const char *status, struct st_err *err) __attribute__((warn_unused_result));

/* ---- backups ---------------------------------------------------------------- */

json_t *vol_backup_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                          struct st_err *err);
json_t *vol_backup_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       struct st_err *err);
json_t *vol_backup_list(struct store_conn *c, const struct auth_ctx *ctx, bool all_tenants,
                        struct st_err *err);
json_t *vol_backup_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          json_t *in, struct st_err *err);
int vol_backup_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      bool force, struct st_err *err) __attribute__((warn_unused_result));
/* POST /backups/{id}/restore: into 'volume_id' (NULL: a new volume named
 * 'name').  Returns {"backup_id", "volume_id", "volume_name"}. */
json_t *vol_backup_restore(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           const char *volume_id, const char *name, struct st_err *err);

/* ---- attachments ------------------------------------------------------------ */

/* A server as the attach calls need it; strings borrowed. */
struct vol_server {
    const char *id, *project_id, *host;
};
/* Nova's POST os-volume_attachments: attaches 'volume_id' (which the caller
 * must see: 404 otherwise) to server 's' at 'device' (NULL: the next free
 * vdX).  400 when the volume is not available (in-use: attached already).
 * Returns the attachment as Nova shows it ({"id", "serverId", "volumeId",
 * "device", "delete_on_termination", ...}). */
json_t *vol_attach(struct store_conn *c, const struct auth_ctx *ctx, const struct vol_server *s,
                   const char *volume_id, const char *device, bool delete_on_termination,
                   struct st_err *err);
/* Nova's DELETE: starts detaching (404 when not attached to the server). */
int vol_detach(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
               const char *volume_id, struct st_err *err) __attribute__((warn_unused_result));
/* Nova's list (volume_id NULL) or show of a server's attachments. */
json_t *vol_server_attachments(struct store_conn *c, const char *server_id,
                               const char *volume_id, struct st_err *err);
/* Cinder's attachment records (3.27): all the caller may see, or one. */
json_t *vol_attachment_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);
json_t *vol_attachment_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           struct st_err *err);

/* ---- services, quotas, limits -------------------------------------------------- */

/* os-services: cinder-scheduler, and cinder-volume HOST@BACKEND and
 * cinder-backup HOST for every registered backend. */
json_t *vol_services(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);
/* The quota set of 'project_id' ({"id", "volumes", ...}); with 'usage'
 * each value is {"limit", "in_use", "reserved"}; 'defaults' ignores the
 * project's own limits. */
json_t *vol_quota_get(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                      bool usage, bool defaults, struct st_err *err);
/* PUT os-quota-sets (admin): sets the limits of 'set'; returns the set. */
json_t *vol_quota_set(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                      json_t *set, struct st_err *err);
int vol_quota_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                     struct st_err *err) __attribute__((warn_unused_result));
/* GET /limits: {"rate": [], "absolute": {...}} of the caller's project. */
json_t *vol_limits(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err);

#endif

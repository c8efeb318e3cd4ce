/*
 * internal.h - what the files of the volume module share and nobody else:
 * the volume row and its JSON, the scheduler, quotas, host revisions.
 * None of these opens or ends a transaction: they run inside the caller's.
 */
#ifndef ST_VOLUME_INTERNAL_H
#define ST_VOLUME_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/util.h"
#include "identity/policy.h"
#include "store/store.h"
#include "volume/volume.h"

extern struct vol_conf vol_settings;

static inline int64_t vol_now(void)
{
    return st_now_us() / 1000000;
}

/* A volume row (volumes.c); strings owned, freed by vol_rec_release. */
struct vol_rec {
    char *id, *project_id, *user_id, *name, *host, *backend, *status, *previous_status;
    char *type_id, *type_name, *image_id;
    int64_t size, actual_size;
    bool delete_requested, bootable, readonly;
    json_t *location; /* reported, or NULL */
};
void vol_rec_release(struct vol_rec *r);
/* Loads volume 'id' (any project); NOT_FOUND "Volume %s could not be found." */
int vol_load(struct store_conn *c, const char *id, struct vol_rec *r, struct st_err *err)
    __attribute__((warn_unused_result));
/* Loads a volume the caller may see / change. */
int vol_load_readable(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct vol_rec *r, struct st_err *err) __attribute__((warn_unused_result));
int vol_load_writable(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct vol_rec *r, struct st_err *err) __attribute__((warn_unused_result));
/* The volume as Cinder shows it (detail). */
json_t *vol_json(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                 struct st_err *err);

/* Sets a volume's status (and updated_at). */
int vol_set_status(struct store_conn *c, const char *id, const char *status, struct st_err *err)
    __attribute__((warn_unused_result));
/* Bumps the revision of 'host' (NULL: nothing). */
int vol_bump(struct store_conn *c, const char *host, struct st_err *err)
    __attribute__((warn_unused_result));

/* Over-quota error (413, VolumeSizeExceedsAvailableQuota and friends) when
 * 'project_id' would exceed a limit with these additions. */
int vol_quota_check(struct store_conn *c, const char *project_id, int64_t volumes,
                    int64_t gigabytes, int64_t snapshots, int64_t backups, int64_t backup_gb,
                    struct st_err *err) __attribute__((warn_unused_result));

/* Picks an up, enabled host with 'backend' and room for 'size' GiB,
 * 'prefer' (may be NULL) first; NOT_FOUND-free: returns 0 with host[0] ==
 * '\0' when none. */
int vol_schedule(struct store_conn *c, const char *backend, const char *prefer, int64_t size,
                 char host[256], struct st_err *err) __attribute__((warn_unused_result));

/* Creates a volume row inside the caller's transaction: the core of
 * vol_create, also used by boot (attach.c) and restore (backup.c).
 * 'source' is the desired state's source (borrowed, may be NULL); 'prefer'
 * a host to place it on.  Writes the new id into 'id'. */
struct vol_new {
    const char *name, *description, *type_ref, *az;
    int64_t size;
    json_t *metadata;       /* borrowed, may be NULL */
    json_t *source;         /* borrowed, may be NULL */
    json_t *image_metadata; /* borrowed, may be NULL */
    const char *snapshot_id, *source_volid, *image_id, *backup_id;
    const char *prefer_host;
    const char *status;     /* NULL: creating */
    bool bootable;
};
int vol_insert(struct store_conn *c, const struct auth_ctx *ctx, const struct vol_new *n,
               char id[37], struct st_err *err) __attribute__((warn_unused_result));

/* The image 'ref' as a volume source: {"type": "image", "image": {...}}
 * after the checks Cinder makes (active, fits in 'size' GiB: 400). */
json_t *vol_image_source(struct store_conn *c, const struct auth_ctx *ctx, const char *ref,
                         int64_t size, json_t **image_metadata, struct st_err *err);

/* Adds a task for the agent of 'host' (kind "volume_*"); 'args' borrowed.
 * Writes the task id into 'task_id' (may be NULL). */
int vol_task_add(struct store_conn *c, const char *host, const char *volume_id,
                 const char *kind, json_t *args, char task_id[37], struct st_err *err)
    __attribute__((warn_unused_result));

/* The JSON text of a column, or 'dflt' (a new reference) when unset. */
json_t *vol_parse(const char *text, json_t *dflt);
/* ISO 8601 of epoch seconds, or JSON null for 0. */
json_t *vol_time(int64_t t);

/* desired.c: the members of vol_compute_volumes about hosts. */
json_t *vol_host_desired(struct store_conn *c, const char *host, struct st_err *err);
int vol_host_report(struct store_conn *c, const char *host, json_t *report, bool *bump,
                    struct st_err *err) __attribute__((warn_unused_result));
int vol_host_register(struct store_conn *c, const char *host, json_t *info, struct st_err *err)
    __attribute__((warn_unused_result));
int vol_task_done(struct store_conn *c, const char *host, const char *task_id, const char *kind,
                  json_t *args, bool ok, json_t *result, const char *error, struct st_err *err)
    __attribute__((warn_unused_result));

/* volumes.c: the type 'ref' (an id or a name; NULL, "" and "default" mean
 * "file") into 'id', the backend it names (extra spec volume_backend_name,
 * else the type's name) into 'backend', and into '*iscsi' (unless NULL)
 * whether its spec iscsi is true.  NOT_FOUND when there is no such type. */
int vol_type_resolve(struct store_conn *c, const char *ref, char id[37], char backend[64],
                     bool *iscsi, struct st_err *err) __attribute__((warn_unused_result));

#endif

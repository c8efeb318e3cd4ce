/*
 * volumes.c - volumes: create (empty, from an image, a snapshot, another
 * volume or a backup), show and list, update, delete, metadata, services;
 * the scheduler, the types and the quota checks the other files share.
 * The actions (POST .../action) are in volume_action.c.
 *
 * The API writes intent and returns: a new volume is a row in 'creating'
 * placed on a host; that host's agent sees it in its desired state
 * (desired.c) and its report moves the status on.
 */
#include "volume/volume.h"

#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "image/image.h"
#include "store/revision.h"
#include "volume/internal.h"
#include "common/banned.h"

struct vol_conf vol_settings = {75, "nova"};

void vol_configure(const struct vol_conf *conf)
{
    vol_settings = *conf;
    if (!vol_settings.default_az)
        vol_settings.default_az = "nova";
}

json_t *vol_parse(const char *text, json_t *dflt)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (!j)
        return dflt;
    json_decref(dflt);
    return j;
}

json_t *vol_time(int64_t t)
{
    char buf[32];
    if (!t)
        return json_null();
    st_time_iso(t * 1000000, 6, buf);
    /* Cinder's times carry no zone: "2026-12-03T14:00:00.000000". */
    if (buf[0] && buf[strlen(buf) - 1] == 'Z')
        buf[strlen(buf) - 1] = '\0';
    return json_string(buf);
}

static char *dup_or_null(const char *s)
{
    return s ? st_xstrdup(s) : NULL;
}

void vol_rec_release(struct vol_rec *r)
{
    free(r->id);
    free(r->project_id);
    free(r->user_id);
    free(r->name);
    free(r->host);
    free(r->backend);
    free(r->status);
    free(r->previous_status);
    free(r->type_id);
    free(r->type_name);
    free(r->image_id);
    json_decref(r->location);
    memset(r, 0, sizeof(*r));
}

int vol_load(struct store_conn *c, const char *id, struct vol_rec *r, struct st_err *err)
{
    struct store_stmt *s;
    int rc;
    memset(r, 0, sizeof(*r));
    s = store_query(c, err,
                    "SELECT v.id, v.project_id, v.user_id, v.name, v.host, v.backend, v.status,"
                    " v.previous_status, v.type_id, t.name, v.size, v.actual_size,"
                    " v.delete_requested, v.bootable, v.readonly, v.location, v.image_id"
                    " FROM volumes v JOIN volume_types t ON t.id = v.type_id WHERE v.id = ?",
                    STORE_ARGS(P(id)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        r->id = st_xstrdup(store_text(s, 0));
        r->project_id = st_xstrdup(store_text(s, 1));
        r->user_id = st_xstrdup(store_text(s, 2));
        r->name = dup_or_null(store_text(s, 3));
        r->host = dup_or_null(store_text(s, 4));
        r->backend = st_xstrdup(store_text(s, 5));
        r->status = st_xstrdup(store_text(s, 6));
        r->previous_status = dup_or_null(store_text(s, 7));
        r->type_id = st_xstrdup(store_text(s, 8));
        r->type_name = st_xstrdup(store_text(s, 9));
        r->size = store_int(s, 10);
        r->actual_size = store_int(s, 11);
        r->delete_requested = store_int(s, 12) != 0;
        r->bootable = store_int(s, 13) != 0;
        r->readonly = store_int(s, 14) != 0;
        r->location = store_text(s, 15) ? json_loads(store_text(s, 15), 0, NULL) : NULL;
        r->image_id = dup_or_null(store_text(s, 16));
    }
    store_done(s);
    if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume %s could not be found.", id);
    return rc > 0 ? 0 : -1;
}

int vol_load_readable(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct vol_rec *r, struct st_err *err)
{
    if (vol_load(c, id, r, err) < 0)
        return -1;
    if (!ctx->is_admin && !(ctx->project_scoped && !strcmp(ctx->project_id, r->project_id))) {
        vol_rec_release(r);
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume %s could not be found.", id);
        return -1;
    }
    return 0;
}

int vol_load_writable(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      struct vol_rec *r, struct st_err *err)
{
    if (vol_load_readable(c, ctx, id, r, err) < 0)
        return -1;
    if (!ctx->is_admin && !ctx->is_member) {
        vol_rec_release(r);
        st_err_set(err, ST_ERR_FORBIDDEN, "Policy doesn't allow changing volume %s.", id);
        return -1;
    }
    return 0;
}

int vol_set_status(struct store_conn *c, const char *id, const char *status, struct st_err *err)
{
    return store_exec(c, err, "UPDATE volumes SET status = ?, updated_at = ? WHERE id = ?",
                      STORE_ARGS(P(status), P(vol_now()), P(id))) < 0
               ? -1
               : 0;
}

int vol_bump(struct store_conn *c, const char *host, struct st_err *err)
{
    return host ? revision_bump(c, host, err) : 0;
}

int vol_task_add(struct store_conn *c, const char *host, const char *volume_id,
                 const char *kind, json_t *args, char task_id[37], struct st_err *err)
{
    char id[37];
    char *text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
    int64_t n;
    st_uuid(id);
    /* tasks.server_id names the object the task is about: the volume. */
    n = store_exec(c, err,
                   "INSERT INTO tasks (id, host, server_id, kind, args, created_at) VALUES"
                   " (?, ?, ?, ?, ?, ?)",
                   STORE_ARGS(P(id), P(host), P(volume_id), P(kind), P(text), P(vol_now())));
    free(text);
    if (n < 0 || vol_bump(c, host, err) < 0)
        return -1;
    if (task_id)
        memcpy(task_id, id, 37);
    return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *attachments_of(struct store_conn *c, const char *volume_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, server_id, host, device, attached_at FROM"
                                       " volume_attachments WHERE volume_id = ? AND status IN"
                                       " ('attached', 'detaching')",
                                       STORE_ARGS(P(volume_id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        /* Cinder names the device as Nova's mountpoint: /dev/vdb. */
        const char *dev = store_text(s, 3);
        json_t *jdev;
        if (!dev)
            jdev = json_null();
        else if (dev[0] == '/')
            jdev = json_string(dev);
        else {
            char *full = st_xasprintf("/dev/%s", dev);
            jdev = json_string(full);
            free(full);
        }
        json_array_append_new(
            arr, json_pack("{s:o, s:s, s:o, s:o, s:s, s:o, s:s}", "server_id",
                           st_json_str_or_null(store_text(s, 1)), "attachment_id",
                           store_text(s, 0), "attached_at", vol_time(store_int(s, 4)),
                           "host_name", st_json_str_or_null(store_text(s, 2)), "volume_id",
                           volume_id, "device", jdev, "id", volume_id));
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *vol_row_json(struct store_conn *c, struct store_stmt *s, void *arg,
                            struct st_err *err)
{
    const struct auth_ctx *ctx = arg;
    const char *id = store_text(s, 0);
    json_t *att = attachments_of(c, id, err), *o;
    if (!att)
        return NULL;
    o = json_pack(
        "{s:s, s:o, s:o, s:I, s:o, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b,"
        " s:o, s:o, s:o, s:o, s:o}",
        "id", id, "name", st_json_str_or_null(store_text(s, 3)), "description",
        st_json_str_or_null(store_text(s, 4)), "size", (json_int_t) store_int(s, 5),
        "volume_type", st_json_str_or_null(store_text(s, 6)), "availability_zone",
        store_text(s, 9), "status", store_text(s, 10), "bootable",
        store_int(s, 11) ? "true" : "false", "metadata",
        vol_parse(store_text(s, 13), json_object()), "snapshot_id",
        st_json_str_or_null(store_text(s, 15)), "source_volid",
        st_json_str_or_null(store_text(s, 16)), "created_at", vol_time(store_int(s, 17)),
        "updated_at", vol_time(store_int(s, 18)), "attachments", att, "encrypted", 0,
        "multiattach", 0, "replication_status", json_null(), "consistencygroup_id", json_null(),
        "user_id", json_string(store_text(s, 2)), "links", json_array(), "migration_status",
        json_null());
    json_object_set_new(o, "os-vol-tenant-attr:tenant_id", json_string(store_text(s, 1)));
    json_object_set_new(o, "group_id", json_null());
    json_object_set_new(o, "shared_targets", json_false());
    json_object_set_new(o, "service_uuid", json_null());
    if (store_text(s, 14))
        json_object_set_new(o, "volume_image_metadata",
                            vol_parse(store_text(s, 14), json_object()));
    if (ctx && ctx->is_admin) {
        char host[600];
        if (store_text(s, 7) &&
            st_snprintf(host, sizeof(host), "%s@%s#%s", store_text(s, 7), store_text(s, 8),
                        store_text(s, 8)) >= 0)
            json_object_set_new(o, "os-vol-host-attr:host", json_string(host));
        else
            json_object_set_new(o, "os-vol-host-attr:host", json_null());
        json_object_set_new(o, "os-vol-mig-status-attr:migstat", json_null());
        json_object_set_new(o, "os-vol-mig-status-attr:name_id", json_null());
    }
    return o;
}

#define VOL_SELECT                                                                                 \
    "SELECT v.id, v.project_id, v.user_id, v.name, v.description, v.size, t.name, v.host,"       \
    " v.backend, v.availability_zone, v.status, v.bootable, v.readonly, v.metadata,"             \
    " v.image_metadata, v.snapshot_id, v.source_volid, v.created_at, v.updated_at, v.fault"      \
    " FROM volumes v JOIN volume_types t ON t.id = v.type_id"

json_t *vol_json(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                 struct st_err *err)
{
    json_t *arr = store_collect(c, err, vol_row_json, (void *) ctx, VOL_SELECT " WHERE v.id = ?",
                                STORE_ARGS(P(id)));
    json_t *o;
    if (!arr)
        return NULL;
    o = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    if (!o)
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume %s could not be found.", id);
    return o;
}

json_t *vol_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                struct st_err *err)
{
    struct vol_rec r;
    if (vol_load_readable(c, ctx, id, &r, err) < 0)
        return NULL;
    vol_rec_release(&r);
    return vol_json(c, ctx, id, err);
}

json_t *vol_list(struct store_conn *c, const struct auth_ctx *ctx, bool all_tenants,
                 struct st_err *err)
{
    const char *scope = ctx->is_admin && all_tenants ? NULL : ctx->project_id;
    return store_collect(c, err, vol_row_json, (void *) ctx,
                         VOL_SELECT " WHERE (CAST(? AS TEXT) IS NULL OR v.project_id = ?)"
                                    " ORDER BY v.created_at, v.id",
                         STORE_ARGS(P(scope), P(scope)));
}

/* ---- quotas ---------------------------------------------------------------- */

static const struct {
    const char *name;
    int64_t dflt;
} quota_resources[] = {
    {"volumes", VOL_QUOTA_VOLUMES},     {"gigabytes", VOL_QUOTA_GIGABYTES},
    {"snapshots", VOL_QUOTA_SNAPSHOTS}, {"backups", VOL_QUOTA_BACKUPS},
    {"backup_gigabytes", VOL_QUOTA_BACKUP_GIGABYTES}, {"per_volume_gigabytes", -1},
    {"groups", 10},
};

static int quota_limit(struct store_conn *c, const char *project_id, size_t i, bool defaults,
                       int64_t *out, struct st_err *err)
{
    int rc;
    *out = quota_resources[i].dflt;
    if (defaults)
        return 0;
    rc = store_get_int(c, err, out,
                       "SELECT hard_limit FROM volume_quotas WHERE project_id = ? AND resource = ?",
                       STORE_ARGS(P(project_id), P(quota_resources[i].name)));
    return rc < 0 ? -1 : 0;
}

/* In use: volumes and their GiB (snapshots count their size as Cinder's
 * gigabytes do), snapshots, backups and their GiB. */
static int quota_usage(struct store_conn *c, const char *project_id, int64_t use[7],
                       struct st_err *err)
{
    int64_t vg = 0, sg = 0;
    memset(use, 0, 7 * sizeof(int64_t));
    if (store_get_int(c, err, &use[0], "SELECT COUNT(*) FROM volumes WHERE project_id = ?",
                      STORE_ARGS(P(project_id))) < 0 ||
        store_get_int(c, err, &vg,
                      "SELECT COALESCE(SUM(size), 0) FROM volumes WHERE project_id = ?",
                      STORE_ARGS(P(project_id))) < 0 ||
        store_get_int(c, err, &use[2],
                      "SELECT COUNT(*) FROM volume_snapshots WHERE project_id = ?",
                      STORE_ARGS(P(project_id))) < 0 ||
        store_get_int(c, err, &sg,
                      "SELECT COALESCE(SUM(size), 0) FROM volume_snapshots WHERE project_id = ?",
                      STORE_ARGS(P(project_id))) < 0 ||
        store_get_int(c, err, &use[3], "SELECT COUNT(*) FROM volume_backups WHERE project_id = ?",
                      STORE_ARGS(P(project_id))) < 0 ||
        store_get_int(c, err, &use[4],
                      "SELECT COALESCE(SUM(size), 0) FROM volume_backups WHERE project_id = ?",
                      STORE_ARGS(P(project_id))) < 0)
        return -1;
    use[1] = vg + sg;
    return 0;
}

int vol_quota_check(struct store_conn *c, const char *project_id, int64_t volumes,
                    int64_t gigabytes, int64_t snapshots, int64_t backups, int64_t backup_gb,
                    struct st_err *err)
{
    int64_t use[7], lim[7], add[7] = {volumes, gigabytes, snapshots, backups, backup_gb, 0, 0};
    if (quota_usage(c, project_id, use, err) < 0)
        return -1;
    for (size_t i = 0; i < 5; i++)
        if (quota_limit(c, project_id, i, false, &lim[i], err) < 0)
            return -1;
    if (quota_limit(c, project_id, 5, false, &lim[5], err) < 0)
        return -1;
    if (gigabytes > 0 && lim[5] >= 0 && gigabytes > lim[5] && volumes > 0) {
        st_err_set(err, ST_ERR_TOO_LARGE,
                   "VolumeSizeExceedsLimit: Requested volume size %lldG is larger than maximum "
                   "allowed limit %lldG.",
                   (long long) gigabytes, (long long) lim[5]);
        return -1;
    }
    if (lim[1] >= 0 && gigabytes > 0 && use[1] + gigabytes > lim[1]) {
        st_err_set(err, ST_ERR_TOO_LARGE,
                   "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds "
                   "allowed gigabytes quota. Requested %lldG, quota is %lldG and %lldG has been "
                   "consumed.",
                   (long long) gigabytes, (long long) lim[1], (long long) use[1]);
        return -1;
    }
    if (lim[4] >= 0 && backup_gb > 0 && use[4] + backup_gb > lim[4]) {
        st_err_set(err, ST_ERR_TOO_LARGE,
                   "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed "
                   "Backup gigabytes quota. Requested %lldG, quota is %lldG and %lldG has been "
                   "consumed.",
                   (long long) backup_gb, (long long) lim[4], (long long) use[4]);
        return -1;
    }
    for (size_t i = 0; i < 4; i++) {
        static const char *const what[] = {"VolumeLimitExceeded: Maximum number of volumes",
                                           NULL,
                                           "SnapshotLimitExceeded: Maximum number of snapshots",
                                           "BackupLimitExceeded: Maximum number of backups"};
        if (!what[i] || add[i] <= 0 || lim[i] < 0 || use[i] + add[i] <= lim[i])
            continue;
        st_err_set(err, ST_ERR_TOO_LARGE, "%s allowed (%lld) exceeded", what[i],
                   (long long) lim[i]);
        return -1;
    }
    return 0;
}

json_t *vol_quota_get(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                      bool usage, bool defaults, struct st_err *err)
{
    int64_t use[7];
    json_t *o;
    if (!ctx->is_admin && !(ctx->project_scoped && !strcmp(ctx->project_id, project_id))) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Policy doesn't allow reading the quotas of %s.",
                   project_id);
        return NULL;
    }
    if (quota_usage(c, project_id, use, err) < 0)
        return NULL;
    o = json_pack("{s:s}", "id", project_id);
    for (size_t i = 0; i < ST_ARRAY_SIZE(quota_resources); i++) {
        int64_t lim;
        if (quota_limit(c, project_id, i, defaults, &lim, err) < 0) {
            json_decref(o);
            return NULL;
        }
        if (usage)
            json_object_set_new(o, quota_resources[i].name,
                                json_pack("{s:I, s:I, s:i}", "limit", (json_int_t) lim,
                                          "in_use", (json_int_t) (i < 5 ? use[i] : 0),
                                          "reserved", 0));
        else
            json_object_set_new(o, quota_resources[i].name, json_integer(lim));
    }
    return o;
}

json_t *vol_quota_set(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                      json_t *set, struct st_err *err)
{
    const char *k;
    json_t *v, *out;
    if (policy_admin(ctx, "update volume quotas", err) < 0)
        return NULL;
    if (!json_is_object(set)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Missing required element 'quota_set' in request body.");
        return NULL;
    }
    if (store_begin(c, err) < 0)
        return NULL;
    json_object_foreach(set, k, v)
    {
        size_t i;
        json_int_t n;
        if (!strcmp(k, "tenant_id") || !strcmp(k, "id"))
            continue;
        for (i = 0; i < ST_ARRAY_SIZE(quota_resources); i++)
            if (!strcmp(k, quota_resources[i].name))
                break;
        if (i == ST_ARRAY_SIZE(quota_resources)) {
            /* Per-type quotas (volumes_TYPE, ...) are accepted and ignored. */
            if (!strncmp(k, "volumes_", 8) || !strncmp(k, "gigabytes_", 10) ||
                !strncmp(k, "snapshots_", 10))
                continue;
            st_err_set(err, ST_ERR_BAD_REQUEST, "Bad key(s) in quota set: %s", k);
            goto fail;
        }
        if (json_is_integer(v))
            n = json_integer_value(v);
        else if (json_is_string(v)) {
            int64_t p;
            if (st_parse_i64(json_string_value(v), -1, INT32_MAX, &p) < 0) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "Quota %s must be an integer", k);
                goto fail;
            }
            n = p;
        } else {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Quota %s must be an integer", k);
            goto fail;
        }
        if (n < -1) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Quota limit %s must be -1 or greater.", k);
            goto fail;
        }
        if (store_exec(c, err,
                       "INSERT INTO volume_quotas (project_id, resource, hard_limit) VALUES"
                       " (?, ?, ?) ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit ="
                       " excluded.hard_limit",
                       STORE_ARGS(P(project_id), P(k), P((int64_t) n))) < 0)
            goto fail;
    }
    if (store_commit(c, err) < 0)
        goto fail;
    out = vol_quota_get(c, ctx, project_id, false, false, err);
    if (out)
        json_object_del(out, "id");
    return out;
fail:
    store_rollback(c);
    return NULL;
}

int vol_quota_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *project_id,
                     struct st_err *err)
{
    if (policy_admin(ctx, "delete volume quotas", err) < 0)
        return -1;
    return store_exec(c, err, "DELETE FROM volume_quotas WHERE project_id = ?",
                      STORE_ARGS(P(project_id))) < 0
               ? -1
               : 0;
}

json_t *vol_limits(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    int64_t use[7], lim[5];
    if (quota_usage(c, ctx->project_id, use, err) < 0)
        return NULL;
    for (size_t i = 0; i < 5; i++)
        if (quota_limit(c, ctx->project_id, i, false, &lim[i], err) < 0)
            return NULL;
    return json_pack("{s:[], s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "rate",
                     "absolute", "maxTotalVolumes", (json_int_t) lim[0], "maxTotalVolumeGigabytes",
                     (json_int_t) lim[1], "maxTotalSnapshots", (json_int_t) lim[2],
                     "maxTotalBackups", (json_int_t) lim[3], "maxTotalBackupGigabytes",
                     (json_int_t) lim[4], "totalVolumesUsed", (json_int_t) use[0],
                     "totalGigabytesUsed", (json_int_t) use[1], "totalSnapshotsUsed",
                     (json_int_t) use[2], "totalBackupsUsed", (json_int_t) use[3],
                     "totalBackupGigabytesUsed", (json_int_t) use[4]);
}

/* ---- scheduler ---------------------------------------------------------------- */

int vol_schedule(struct store_conn *c, const char *backend, const char *prefer, int64_t size,
                 char host[256], struct st_err *err)
{
    int64_t since = vol_now() - vol_settings.service_down_time;
    struct store_stmt *s = store_query(
        c, err,
        "SELECT vs.host FROM volume_services vs JOIN hosts h ON h.name = vs.host"
        " WHERE vs.backend = ? AND vs.enabled = 1 AND h.enabled = 1 AND h.forced_down = 0"
        " AND h.last_seen >= ? AND (vs.total_gb = 0 OR vs.free_gb >= ?)"
        " ORDER BY CASE WHEN vs.host = ? THEN 0 ELSE 1 END, vs.free_gb DESC, vs.host",
        STORE_ARGS(P(backend), P(since), P(size), P(prefer ? prefer : "")));
    int rc;
    host[0] = '\0';
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        ST_IGNORE(st_snprintf(host, 256, "%s", store_text(s, 0)));
    store_done(s);
    return rc < 0 ? -1 : 0;
}

/* ---- types ----------------------------------------------------------------------- */

/* The backend a type names (extra spec volume_backend_name, else the type's
 * name) into 'out'. */
int vol_type_resolve(struct store_conn *c, const char *ref, char id[37], char backend[64],
                     bool *iscsi, struct st_err *err)
{
    struct store_stmt *s;
    int rc;
    if (!ref || !strcmp(ref, "default") || !*ref)
        ref = "file";
    s = store_query(c, err,
                    "SELECT t.id, t.name, (SELECT value FROM volume_type_specs WHERE type_id ="
                    " t.id AND key = 'volume_backend_name'), (SELECT value FROM"
                    " volume_type_specs WHERE type_id = t.id AND key = 'iscsi') FROM volume_types"
                    " t WHERE t.id = ? OR t.name = ? ORDER BY CASE WHEN t.id = ? THEN 0 ELSE 1 END",
                    STORE_ARGS(P(ref), P(ref), P(ref)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        ST_IGNORE(st_snprintf(id, 37, "%s", store_text(s, 0)));
        ST_IGNORE(st_snprintf(backend, 64, "%s",
                              store_text(s, 2) ? store_text(s, 2) : store_text(s, 1)));
        if (iscsi)
            *iscsi = store_text(s, 3) && (!strcasecmp(store_text(s, 3), "true") ||
                                          !strcasecmp(store_text(s, 3), "<is> True"));
    }
    store_done(s);
    if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume type with name %s could not be found.", ref);
    return rc > 0 ? 0 : -1;
}

static json_t *type_row(struct store_conn *c, struct store_stmt *s, void *arg, struct st_err *err)
{
    json_t *specs = json_object(), *o;
    struct store_stmt *q;
    int rc;
    (void) arg;
    q = store_query(c, err, "SELECT key, value FROM volume_type_specs WHERE type_id = ?",
                    STORE_ARGS(P(store_text(s, 0))));
    if (!q) {
        json_decref(specs);
        return NULL;
    }
    while ((rc = store_next(q, err)) > 0)
        json_object_set_new(specs, store_text(q, 0), json_string(store_text(q, 1)));
    store_done(q);
    if (rc < 0) {
        json_decref(specs);
        return NULL;
    }
    o = json_pack("{s:s, s:s, s:o, s:b, s:b, s:o, s:n}", "id", store_text(s, 0), "name",
                  store_text(s, 1), "description", st_json_str_or_null(store_text(s, 2)),
                  "is_public", (int) store_int(s, 3), "os-volume-type-access:is_public",
                  (int) store_int(s, 3), "extra_specs", specs, "qos_specs_id");
    return o;
}

json_t *vol_type_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    return store_collect(c, err, type_row, NULL,
                         "SELECT id, name, description, is_public FROM volume_types WHERE"
                         " is_public = 1 OR ? = 1 ORDER BY name",
                         STORE_ARGS(P((int) ctx->is_admin)));
}

json_t *vol_type_get(struct store_conn *c, const struct auth_ctx *ctx, const char *ref,
                     struct st_err *err)
{
    json_t *arr, *o;
    (void) ctx;
    if (!strcmp(ref, "default"))
        ref = "file";
    arr = store_collect(c, err, type_row, NULL,
                        "SELECT id, name, description, is_public FROM volume_types WHERE id = ?"
                        " OR name = ?",
                        STORE_ARGS(P(ref), P(ref)));
    if (!arr)
        return NULL;
    o = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    if (!o)
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume type %s could not be found.", ref);
    return o;
}

static int specs_write(struct store_conn *c, const char *id, json_t *specs, struct st_err *err)
{
    const char *k;
    json_t *v;
    if (!specs)
        return 0;
    if (!json_is_object(specs) || json_object_size(specs) > 64) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "extra_specs must be an object");
        return -1;
    }
    json_object_foreach(specs, k, v)
    {
        if (!json_is_string(v) || !*k || strlen(k) > 255 || json_string_length(v) > 255) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input received: extra spec %s must be a string of at most 255",
                       k);
            return -1;
        }
        if (store_exec(c, err,
                       "INSERT INTO volume_type_specs (type_id, key, value) VALUES (?, ?, ?) ON"
                       " CONFLICT (type_id, key) DO UPDATE SET value = excluded.value",
                       STORE_ARGS(P(id), P(k), P(json_string_value(v)))) < 0)
            return -1;
    }
    return 0;
}

json_t *vol_type_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                        struct st_err *err)
{
    const char *name = NULL, *desc = NULL;
    bool pub = true;
    json_t *specs = json_object_get(in, "extra_specs");
    char id[37];
    if (policy_admin(ctx, "create volume types", err) < 0 ||
        jget_str(in, "name", true, 255, &name, err) < 0 ||
        jget_str(in, "description", false, 255, &desc, err) < 0)
        return NULL;
    if (json_is_boolean(json_object_get(in, "os-volume-type-access:is_public")))
        pub = json_is_true(json_object_get(in, "os-volume-type-access:is_public"));
    if (!*name) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input received: name must not be empty");
        return NULL;
    }
    st_uuid(id);
    if (store_begin(c, err) < 0)
        return NULL;
    if (store_exec(c, err,
                   "INSERT INTO volume_types (id, name, description, is_public, created_at)"
                   " VALUES (?, ?, ?, ?, ?)",
                   STORE_ARGS(P(id), P(name), P(desc), P((int) pub), P(vol_now()))) < 0) {
        store_rollback(c);
        if (err->kind == ST_ERR_CONFLICT) {
            st_err_clear(err);
            st_err_set(err, ST_ERR_CONFLICT, "Volume Type %s already exists.", name);
        }
        return NULL;
    }
    if (specs_write(c, id, specs, err) < 0 || store_commit(c, err) < 0) {
        store_rollback(c);
        return NULL;
    }
    return vol_type_get(c, ctx, id, err);
}

json_t *vol_type_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        json_t *in, struct st_err *err)
{
    const char *name = NULL, *desc = NULL;
    bool set_desc = false;
    json_t *t, *pub = json_object_get(in, "is_public");
    if (policy_admin(ctx, "update volume types", err) < 0 ||
        jget_str(in, "name", false, 255, &name, err) < 0 ||
        jget_str_n(in, "description", false, 255, &desc, &set_desc, err) < 0)
        return NULL;
    t = vol_type_get(c, ctx, id, err);
    if (!t)
        return NULL;
    if (store_exec(c, err,
                   "UPDATE volume_types SET name = COALESCE(?, name), description = CASE WHEN"
                   " ? = 1 THEN ? ELSE description END, is_public = CASE WHEN ? >= 0 THEN ?"
                   " ELSE is_public END WHERE id = ?",
                   STORE_ARGS(P(name), P((int) set_desc), P(desc),
                              P(json_is_boolean(pub) ? 1 : -1), P((int) json_is_true(pub)),
                              P(json_string_value(json_object_get(t, "id"))))) < 0) {
        json_decref(t);
        return NULL;
    }
    id = json_string_value(json_object_get(t, "id"));
    json_t *out = vol_type_get(c, ctx, id, err);
    json_decref(t);
    if (out)
        json_object_del(out, "os-volume-type-access:is_public");
    if (out)
        json_object_del(out, "qos_specs_id");
    return out;
}

int vol_type_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    struct st_err *err)
{
    int64_t n = 0;
    json_t *t;
    int rc;
    if (policy_admin(ctx, "delete volume types", err) < 0)
        return -1;
    t = vol_type_get(c, ctx, id, err);
    if (!t)
        return -1;
    id = json_string_value(json_object_get(t, "id"));
    if (store_get_int(c, err, &n, "SELECT COUNT(*) FROM volumes WHERE type_id = ?",
                      STORE_ARGS(P(id))) < 0) {
        json_decref(t);
        return -1;
    }
    if (n > 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Target volume type %s is still in use.", id);
        json_decref(t);
        return -1;
    }
    rc = store_exec(c, err, "DELETE FROM volume_types WHERE id = ?", STORE_ARGS(P(id))) < 0
             ? -1
             : 0;
    json_decref(t);
    return rc;
}

json_t *vol_type_specs_set(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           json_t *specs, struct st_err *err)
{
    json_t *t, *out;
    if (policy_admin(ctx, "set volume type extra specs", err) < 0)
        return NULL;
    t = vol_type_get(c, ctx, id, err);
    if (!t)
        return NULL;
    if (specs_write(c, json_string_value(json_object_get(t, "id")), specs, err) < 0) {
        json_decref(t);
        return NULL;
    }
    json_decref(t);
    t = vol_type_get(c, ctx, id, err);
    if (!t)
        return NULL;
    out = json_incref(json_object_get(t, "extra_specs"));
    json_decref(t);
    return out;
}

int vol_type_spec_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         const char *key, struct st_err *err)
{
    json_t *t;
    int64_t n;
    if (policy_admin(ctx, "delete volume type extra specs", err) < 0)
        return -1;
    t = vol_type_get(c, ctx, id, err);
    if (!t)
        return -1;
    n = store_exec(c, err, "DELETE FROM volume_type_specs WHERE type_id = ? AND key = ?",
                   STORE_ARGS(P(json_string_value(json_object_get(t, "id"))), P(key)));
    json_decref(t);
    if (n == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume Type %s has no extra specs with key %s.", id,
                   key);
    return n > 0 ? 0 : -1;
}

/* ---- create -------------------------------------------------------------------- */

json_t *vol_image_source(struct store_conn *c, const struct auth_ctx *ctx, const char *ref,
                         int64_t size, json_t **image_metadata, struct st_err *err)
{
    struct st_err local = ST_ERR_INIT;
    json_t *img = st_is_uuid(ref) ? image_get(c, ctx, ref, &local) : NULL, *meta, *props, *v;
    const char *k;
    int64_t bytes, vsize, min_disk;
    if (!img) {
        if (local.kind != ST_ERR_NONE && local.kind != ST_ERR_NOT_FOUND) {
            *err = local;
            return NULL;
        }
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid image identifier or unable to access "
                                            "requested image.");
        return NULL;
    }
    if (!st_streq(json_string_value(json_object_get(img, "status")), "active")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Image %s is not active.", ref);
        json_decref(img);
        return NULL;
    }
    bytes = json_integer_value(json_object_get(img, "size"));
    vsize = json_integer_value(json_object_get(img, "virtual_size"));
    min_disk = json_integer_value(json_object_get(img, "min_disk"));
    if (vsize < bytes)
        vsize = bytes;
    if (vsize > size * 1024 * 1024 * 1024 || min_disk > size) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input received: Size of specified image %lldGB is larger than "
                   "volume size %lldGB.",
                   (long long) ((vsize + (1 << 30) - 1) >> 30), (long long) size);
        json_decref(img);
        return NULL;
    }
    props = json_object();
    json_object_foreach(img, k, v)
    {
        /* The image's own properties, as in a server's desired "image". */
        static const char *const core[] = {
            "id", "name", "status", "visibility", "owner", "size", "virtual_size", "checksum",
            "os_hash_algo", "os_hash_value", "disk_format", "container_format", "min_disk",
            "min_ram", "protected", "os_hidden", "tags", "created_at", "updated_at", "self",
            "file", "schema"};
        bool is_core = false;
        for (size_t i = 0; i < ST_ARRAY_SIZE(core); i++)
            is_core |= !strcmp(k, core[i]);
        if (!is_core && json_is_string(v))
            json_object_set(props, k, v);
    }
    meta = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(img, "id"),
                     "name", json_object_get(img, "name"), "disk_format",
                     json_object_get(img, "disk_format"), "container_format",
                     json_object_get(img, "container_format"), "size",
                     json_object_get(img, "size"), "checksum", json_object_get(img, "checksum"),
                     "min_disk", json_object_get(img, "min_disk"), "min_ram",
                     json_object_get(img, "min_ram"));
    if (image_metadata) {
        json_t *im = json_object();
        json_object_set(im, "image_id", json_object_get(img, "id"));
        json_object_set(im, "image_name", json_object_get(img, "name"));
        json_object_set(im, "checksum", json_object_get(img, "checksum"));
        json_object_set(im, "disk_format", json_object_get(img, "disk_format"));
        json_object_set(im, "container_format", json_object_get(img, "container_format"));
        json_object_set_new(im, "size", json_sprintf("%lld", (long long) bytes));
        json_object_set_new(im, "min_disk", json_sprintf("%lld", (long long) min_disk));
        json_object_foreach(props, k, v)
            json_object_set(im, k, v);
        *image_metadata = im;
    }
    json_object_set_new(meta, "properties", props);
    json_decref(img);
    return json_pack("{s:s, s:o}", "type", "image", "image", meta);
}

int vol_insert(struct store_conn *c, const struct auth_ctx *ctx, const struct vol_new *n,
               char id[37], struct st_err *err)
{
    char type_id[37], backend[64], host[256];
    char *meta = NULL, *src = NULL, *imeta = NULL;
    const char *status = n->status ? n->status : "creating";
    int64_t now = vol_now();
    int64_t rc;

    if (n->size < 1 || n->size > VOL_MAX_SIZE_GB) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input received: Volume size '%lld' must be an integer and greater "
                   "than 0.",
                   (long long) n->size);
        return -1;
    }
    if (n->az && strcmp(n->az, vol_settings.default_az)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input received: Availability zone '%s' is invalid.", n->az);
        return -1;
    }
    if (vol_type_resolve(c, n->type_ref, type_id, backend, NULL, err) < 0) {
        if (err->kind == ST_ERR_NOT_FOUND && n->type_ref) {
            /* Cinder answers an unknown volume_type with 404 VolumeTypeNotFound. */
        }
        return -1;
    }
    if (vol_quota_check(c, ctx->project_id, 1, n->size, 0, 0, 0, err) < 0 ||
        vol_schedule(c, backend, n->prefer_host, n->size, host, err) < 0)
        return -1;
    st_uuid(id);
    if (n->metadata)
        meta = json_dumps(n->metadata, JSON_COMPACT | JSON_SORT_KEYS);
    if (n->source)
        src = json_dumps(n->source, JSON_COMPACT | JSON_SORT_KEYS);
    if (n->image_metadata)
        imeta = json_dumps(n->image_metadata, JSON_COMPACT | JSON_SORT_KEYS);
    rc = store_exec(
        c, err,
        "INSERT INTO volumes (id, project_id, user_id, name, description, size, type_id, host,"
        " backend, availability_zone, status, bootable, metadata, image_metadata, source,"
        " snapshot_id, source_volid, image_id, backup_id, fault, created_at, updated_at) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, '{}'), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        STORE_ARGS(P(id), P(ctx->project_id), P(ctx->user_id), P(n->name), P(n->description),
                   P(n->size), P(type_id), P(host[0] ? host : NULL), P(backend),
                   P(vol_settings.default_az), P(host[0] ? status : "error"),
                   P((int) n->bootable), P(meta), P(imeta), P(src), P(n->snapshot_id),
                   P(n->source_volid), P(n->image_id), P(n->backup_id),
                   P(host[0] ? NULL : "No valid backend was found."), P(now), P(now)));
    free(meta);
    free(src);
    free(imeta);
    if (rc < 0 || vol_bump(c, host[0] ? host : NULL, err) < 0)
        return -1;
    return 0;
}

/* The host and size of a snapshot (the caller's) into 'host' and '*size',
 * with the status that allows a volume from it. */
static int snapshot_source(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           char host[256], int64_t *size, char type_id[37], struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT s.status, s.size, v.host, s.project_id, v.type_id"
                                       " FROM volume_snapshots s JOIN volumes v ON v.id ="
                                       " s.volume_id WHERE s.id = ?",
                                       STORE_ARGS(P(id)));
    int rc;
    bool ok = false, mine = false;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        ok = st_streq(store_text(s, 0), "available");
        mine = ctx->is_admin || st_streq(store_text(s, 3), ctx->project_id);
        *size = store_int(s, 1);
        ST_IGNORE(st_snprintf(host, 256, "%s", store_text(s, 2) ? store_text(s, 2) : ""));
        ST_IGNORE(st_snprintf(type_id, 37, "%s", store_text(s, 4)));
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0 || !mine) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Snapshot %s could not be found.", id);
        return -1;
    }
    if (!ok) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid snapshot: Originating snapshot status must be one of 'available' "
                   "values");
        return -1;
    }
    return 0;
}

json_t *vol_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                   struct st_err *err)
{
    struct vol_new n;
    char id[37], host[256] = "", type_id[37] = "";
    json_t *source = NULL, *imeta = NULL, *size = json_object_get(in, "size");
    const char *image_ref = NULL;
    int64_t src_size = 0;

    memset(&n, 0, sizeof(n));
    if (!ctx->is_admin && !ctx->is_member) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Policy doesn't allow volume:create to be performed.");
        return NULL;
    }
    if (jget_str(in, json_object_get(in, "name") ? "name" : "display_name", false, 255, &n.name,
                 err) < 0 ||
        jget_str(in, json_object_get(in, "description") ? "description" : "display_description",
                 false, 255, &n.description, err) < 0 ||
        jget_str(in, "volume_type", false, 255, &n.type_ref, err) < 0 ||
        jget_str(in, "availability_zone", false, 255, &n.az, err) < 0 ||
        jget_str(in, "snapshot_id", false, 64, &n.snapshot_id, err) < 0 ||
        jget_str(in, "source_volid", false, 64, &n.source_volid, err) < 0 ||
        jget_str(in, "backup_id", false, 64, &n.backup_id, err) < 0 ||
        jget_str(in, "imageRef", false, 255, &image_ref, err) < 0)
        return NULL;
    if (!image_ref && jget_str(in, "image_id", false, 255, &image_ref, err) < 0)
        return NULL;
    if (json_is_integer(size))
        n.size = json_integer_value(size);
    else if (json_is_string(size)) {
        if (st_parse_i64(json_string_value(size), 1, VOL_MAX_SIZE_GB, &n.size) < 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input received: Volume size '%s' must be an integer and "
                       "greater than 0.",
                       json_string_value(size));
            return NULL;
        }
    } else if (size && !json_is_null(size)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute size.");
        return NULL;
    }
    n.metadata = json_object_get(in, "metadata");
    if (n.metadata && !json_is_object(n.metadata)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute metadata.");
        return NULL;
    }
    if (store_begin(c, err) < 0)
        return NULL;
    if (n.snapshot_id) {
        if (snapshot_source(c, ctx, n.snapshot_id, host, &src_size, type_id, err) < 0)
            goto fail;
        source = json_pack("{s:s, s:s}", "type", "snapshot", "id", n.snapshot_id);
        if (!n.type_ref)
            n.type_ref = type_id;
    } else if (n.source_volid) {
        struct vol_rec r;
        if (vol_load_readable(c, ctx, n.source_volid, &r, err) < 0)
            goto fail;
        if (strcmp(r.status, "available") && strcmp(r.status, "in-use")) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid volume: Volume %s status must be available or in-use, but "
                       "current status is: %s.",
                       r.id, r.status);
            vol_rec_release(&r);
            goto fail;
        }
        src_size = r.size;
        ST_IGNORE(st_snprintf(host, sizeof(host), "%s", r.host ? r.host : ""));
        ST_IGNORE(st_snprintf(type_id, sizeof(type_id), "%s", r.type_id));
        vol_rec_release(&r);
        if (!n.type_ref)
            n.type_ref = type_id;
        source = json_pack("{s:s, s:s}", "type", "volume", "id", n.source_volid);
    } else if (n.backup_id) {
        json_t *b = vol_backup_get(c, ctx, n.backup_id, err);
        if (!b)
            goto fail;
        if (!st_streq(json_string_value(json_object_get(b, "status")), "available")) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid backup: Backup status must be available");
            json_decref(b);
            goto fail;
        }
        src_size = json_integer_value(json_object_get(b, "size"));
        json_decref(b);
        source = json_pack("{s:s, s:s}", "type", "backup", "id", n.backup_id);
    }
    if (!n.size)
        n.size = src_size;
    if (src_size && n.size < src_size) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input received: Volume size '%lld'GB cannot be smaller than the "
                   "source size '%lld'GB. They must be >= original size.",
                   (long long) n.size, (long long) src_size);
        goto fail;
    }
    if (image_ref && !source) {
        if (n.size < 1) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input received: Volume size '0' must be an integer and greater "
                       "than 0.");
            goto fail;
        }
        source = vol_image_source(c, ctx, image_ref, n.size, &imeta, err);
        if (!source)
            goto fail;
        n.image_id = json_string_value(json_object_get(json_object_get(source, "image"), "id"));
        n.image_metadata = imeta;
        n.bootable = true;
    }
    n.source = source;
    n.prefer_host = host[0] ? host : NULL;
    if (n.snapshot_id || n.source_volid) {
        /* The file backend copies locally: the volume goes where its source
         * is, or nowhere. */
        n.prefer_host = host;
    }
    if (vol_insert(c, ctx, &n, id, err) < 0)
        goto fail;
    if ((n.snapshot_id || n.source_volid) && host[0]) {
        /* Check it landed on the source's host. */
        struct vol_rec r;
        if (vol_load(c, id, &r, err) < 0)
            goto fail;
        if (!st_streq(r.host, host) &&
            store_exec(c, err,
                       "UPDATE volumes SET host = NULL, status = 'error', fault = 'The source''s"
                       " backend is not available.' WHERE id = ?",
                       STORE_ARGS(P(id))) < 0) {
            vol_rec_release(&r);
            goto fail;
        }
        vol_rec_release(&r);
    }
    if (store_commit(c, err) < 0)
        goto fail;
    revision_notify();
    json_decref(source);
    json_decref(imeta);
    return vol_json(c, ctx, id, err);
fail:
    store_rollback(c);
    json_decref(source);
    json_decref(imeta);
    return NULL;
}

/* ---- update, delete ------------------------------------------------------------ */

static int check_metadata(json_t *meta, struct st_err *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(meta) || json_object_size(meta) > 128) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input received: metadata must be an object");
        return -1;
    }
    json_object_foreach(meta, k, v)
    {
        if (!*k || strlen(k) > 255 || !json_is_string(v) || json_string_length(v) > 255) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input received: metadata keys and values must be strings of "
                       "1 to 255 characters");
            return -1;
        }
    }
    return 0;
}

json_t *vol_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id, json_t *in,
                   struct st_err *err)
{
    const char *name = NULL, *desc = NULL;
    bool set_name = false, set_desc = false;
    json_t *meta = json_object_get(in, "metadata");
    char *mtext = NULL;
    struct vol_rec r;
    int64_t n;

    /* cinderclient (and so OSC) send the v1 names display_name and
     * display_description; Cinder takes both. */
    if (jget_str_n(in, json_object_get(in, "name") ? "name" : "display_name", false, 255, &name,
                   &set_name, err) < 0 ||
        jget_str_n(in, json_object_get(in, "description") ? "description" : "display_description",
                   false, 255, &desc, &set_desc, err) < 0 ||
        (meta && check_metadata(meta, err) < 0))
        return NULL;
    if (!set_name && !set_desc && !meta) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input received: nothing to update");
        return NULL;
    }
    if (vol_load_writable(c, ctx, id, &r, err) < 0)
        return NULL;
    vol_rec_release(&r);
    if (meta)
        mtext = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    n = store_exec(c, err,
                   "UPDATE volumes SET name = CASE WHEN ? = 1 THEN ? ELSE name END, description"
                   " = CASE WHEN ? = 1 THEN ? ELSE description END, metadata = COALESCE(?,"
                   " metadata), updated_at = ? WHERE id = ?",
                   STORE_ARGS(P((int) set_name), P(name), P((int) set_desc), P(desc), P(mtext),
                              P(vol_now()), P(id)));
    free(mtext);
    if (n < 0)
        return NULL;
    return vol_json(c, ctx, id, err);
}

json_t *vol_metadata_set(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         json_t *meta, bool replace, struct st_err *err)
{
    struct store_stmt *s;
    json_t *cur = NULL;
    char *text;
    struct vol_rec r;
    int rc;
    if (check_metadata(meta, err) < 0 || vol_load_writable(c, ctx, id, &r, err) < 0)
        return NULL;
    vol_rec_release(&r);
    s = store_query(c, err, "SELECT metadata FROM volumes WHERE id = ?", STORE_ARGS(P(id)));
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        cur = vol_parse(store_text(s, 0), json_object());
    store_done(s);
    if (rc <= 0)
        return NULL;
    if (replace)
        json_object_clear(cur);
    json_object_update(cur, meta);
    text = json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS);
    rc = store_exec(c, err, "UPDATE volumes SET metadata = ?, updated_at = ? WHERE id = ?",
                    STORE_ARGS(P(text), P(vol_now()), P(id))) < 0
             ? -1
             : 0;
    free(text);
    if (rc < 0) {
        json_decref(cur);
        return NULL;
    }
    return cur;
}

int vol_metadata_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        const char *key, struct st_err *err)
{
    json_t *cur = vol_metadata_set(c, ctx, id, json_object(), false, err), *none;
    int rc;
    if (!cur)
        return -1;
    if (!json_object_get(cur, key)) {
        json_decref(cur);
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume %s has no metadata with key %s.", id, key);
        return -1;
    }
    json_object_del(cur, key);
    none = vol_metadata_set(c, ctx, id, cur, true, err);
    rc = none ? 0 : -1;
    json_decref(none);
    json_decref(cur);
    return rc;
}

int vol_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id, bool cascade,
               bool force, struct st_err *err)
{
    static const char *const deletable[] = {"available", "error", "error_restoring",
                                            "error_extending", "error_managing"};
    struct vol_rec r;
    int64_t snaps = 0, atts = 0, busy = 0;
    bool ok = force && ctx->is_admin;
    int rc = -1;

    if (vol_load_writable(c, ctx, id, &r, err) < 0)
        return -1;
    if (!strcmp(r.status, "deleting")) {
        vol_rec_release(&r);
        return 0;
    }
    for (size_t i = 0; i < ST_ARRAY_SIZE(deletable); i++)
        ok |= !strcmp(r.status, deletable[i]);
    if (store_begin(c, err) < 0)
        goto out;
    if (store_get_int(c, err, &atts, "SELECT COUNT(*) FROM volume_attachments WHERE volume_id = ?",
                      STORE_ARGS(P(id))) < 0 ||
        store_get_int(c, err, &snaps, "SELECT COUNT(*) FROM volume_snapshots WHERE volume_id = ?",
                      STORE_ARGS(P(id))) < 0 ||
        store_get_int(c, err, &busy,
                      "SELECT COUNT(*) FROM volume_snapshots WHERE volume_id = ? AND status NOT"
                      " IN ('available', 'error', 'deleting')",
                      STORE_ARGS(P(id))) < 0)
        goto rollback;
    if (!ok || atts > 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid volume: Volume status must be available or error or "
                   "error_restoring or error_extending or error_managing and must not be "
                   "migrating, attached, belong to a group, have snapshots, awaiting a transfer, "
                   "or be disassociated from snapshots after volume transfer.");
        goto rollback;
    }
    if (snaps > 0 && (!cascade || busy > 0)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid volume: Volume %s still has %lld dependent snapshots.", id,
                   (long long) snaps);
        goto rollback;
    }
    if (!r.host) {
        if (store_exec(c, err, "DELETE FROM volume_snapshots WHERE volume_id = ?",
                       STORE_ARGS(P(id))) < 0 ||
            store_exec(c, err, "DELETE FROM volumes WHERE id = ?", STORE_ARGS(P(id))) < 0)
            goto rollback;
    } else if (store_exec(c, err,
                          "UPDATE volume_snapshots SET status = 'deleting', delete_requested = 1,"
                          " updated_at = ? WHERE volume_id = ?",
                          STORE_ARGS(P(vol_now()), P(id))) < 0 ||
               store_exec(c, err,
                          "UPDATE volumes SET status = 'deleting', delete_requested = 1,"
                          " updated_at = ? WHERE id = ?",
                          STORE_ARGS(P(vol_now()), P(id))) < 0 ||
               vol_bump(c, r.host, err) < 0) {
        goto rollback;
    }
    if (store_commit(c, err) < 0)
        goto rollback;
    revision_notify();
    rc = 0;
    goto out;
rollback:
    store_rollback(c);
out:
    vol_rec_release(&r);
    return rc;
}

/* ---- services ----------------------------------------------------------------------- */

json_t *vol_services(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    struct store_stmt *s;
    json_t *arr, *seen_hosts = json_object();
    int64_t since = vol_now() - vol_settings.service_down_time;
    int rc;
    if (policy_admin(ctx, "list volume services", err) < 0) {
        json_decref(seen_hosts);
        return NULL;
    }
    s = store_query(c, err,
                    "SELECT vs.host, vs.backend, vs.enabled, vs.disabled_reason, h.last_seen,"
                    " h.availability_zone, vs.updated_at FROM volume_services vs JOIN hosts h ON"
                    " h.name = vs.host ORDER BY vs.host, vs.backend",
                    STORE_NOARGS);
    if (!s) {
        json_decref(seen_hosts);
        return NULL;
    }
    arr = json_array();
    /* The scheduler is part of stratusd: always up. */
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:n, s:b}", "binary",
                                         "cinder-scheduler", "host", "stratusd", "zone",
                                         vol_settings.default_az, "status", "enabled", "state",
                                         "up", "updated_at", vol_time(vol_now()),
                                         "disabled_reason", "frozen", 0));
    while ((rc = store_next(s, err)) > 0) {
        char hb[600];
        const char *host = store_text(s, 0);
        bool up = !store_isnull(s, 4) && store_int(s, 4) >= since;
        int64_t seen = store_isnull(s, 4) ? store_int(s, 6) : store_int(s, 4);
        ST_IGNORE(st_snprintf(hb, sizeof(hb), "%s@%s", host, store_text(s, 1)));
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b, s:s, s:s}", "binary",
                           "cinder-volume", "host", hb, "zone", store_text(s, 5), "status",
                           store_int(s, 2) ? "enabled" : "disabled", "state", up ? "up" : "down",
                           "updated_at", vol_time(seen), "disabled_reason",
                           st_json_str_or_null(store_text(s, 3)), "frozen", 0,
                           "replication_status", "disabled", "backend_state",
                           up ? "up" : "down"));
        if (!json_object_get(seen_hosts, host)) {
            json_object_set_new(seen_hosts, host, json_true());
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:n, s:b}", "binary",
                               "cinder-backup", "host", host, "zone", store_text(s, 5),
                               "status", "enabled", "state", up ? "up" : "down", "updated_at",
                               vol_time(seen), "disabled_reason", "frozen", 0));
        }
    }
    store_done(s);
    json_decref(seen_hosts);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

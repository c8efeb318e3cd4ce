/*
 * snapshots.c - volume snapshots and backups.
 *
 * A snapshot lives beside its volume on the volume's host: a row in
 * 'creating' that the host's desired state lists under the volume, made
 * available by the report.  A backup is a task (volume_backup) of the
 * volume's host, whose agent writes it outside the backend (its backup
 * directory) and reports its size; the volume is 'backing-up' meanwhile.
 * Restore makes a volume whose desired source is the backup (new volume), or
 * a volume_restore task (existing volume).
 */
#include "volume/volume.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "store/revision.h"
#include "volume/internal.h"
#include "common/banned.h"

static bool mine(const struct auth_ctx *ctx, const char *project_id)
{
    return ctx->is_admin || (ctx->project_scoped && st_streq(ctx->project_id, project_id));
}

static bool may_write(const struct auth_ctx *ctx)
{
    return ctx->is_admin || ctx->is_member;
}

static bool truthy(json_t *v)
{
    bool b = false;
    if (json_is_boolean(v))
        return json_is_true(v);
    return json_is_string(v) && st_parse_bool(json_string_value(v), &b) == 0 && b;
}

/* ---- snapshots ------------------------------------------------------------ */

#define SNAP_SELECT                                                                                \
    "SELECT id, volume_id, project_id, name, description, size, status, metadata, created_at,"   \
    " updated_at FROM volume_snapshots"

static json_t *snap_row(struct store_conn *c, struct store_stmt *s, void *arg, struct st_err *err)
{
    (void) c;
    (void) arg;
    (void) err;
    const char *st = store_text(s, 6);
    return json_pack("{s:s, s:s, s:o, s:o, s:I, s:s, s:o, s:o, s:o, s:s, s:s}", "id",
                     store_text(s, 0), "volume_id", store_text(s, 1), "name",
                     st_json_str_or_null(store_text(s, 3)), "description",
                     st_json_str_or_null(store_text(s, 4)), "size", (json_int_t) store_int(s, 5),
                     "status", st, "metadata", vol_parse(store_text(s, 7), json_object()),
                     "created_at", vol_time(store_int(s, 8)), "updated_at",
                     vol_time(store_int(s, 9)), "os-extended-snapshot-attributes:progress",
                     !strcmp(st, "available") ? "100%" : "0%",
                     "os-extended-snapshot-attributes:project_id", store_text(s, 2));
}

json_t *vol_snapshot_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         struct st_err *err)
{
    json_t *arr = store_collect(c, err, snap_row, NULL, SNAP_SELECT " WHERE id = ?",
                                STORE_ARGS(P(id)));
    json_t *o;
    if (!arr)
        return NULL;
    o = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    if (o && !mine(ctx, json_string_value(json_object_get(
                            o, "os-extended-snapshot-attributes:project_id")))) {
        json_decref(o);
        o = NULL;
    }
    if (!o)
        st_err_set(err, ST_ERR_NOT_FOUND, "Snapshot %s could not be found.", id);
    return o;
}

json_t *vol_snapshot_list(struct store_conn *c, const struct auth_ctx *ctx, bool all_tenants,
                          struct st_err *err)
{
    const char *scope = ctx->is_admin && all_tenants ? NULL : ctx->project_id;
    return store_collect(c, err, snap_row, NULL,
                         SNAP_SELECT " WHERE (CAST(? AS TEXT) IS NULL OR project_id = ?)"
                                     " ORDER BY created_at, id",
                         STORE_ARGS(P(scope), P(scope)));
}

json_t *vol_snapshot_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                            struct st_err *err)
{
    const char *vid = NULL, *name = NULL, *desc = NULL;
    json_t *meta = json_object_get(in, "metadata");
    struct vol_rec r;
    char id[37], *mtext = NULL;
    bool force = truthy(json_object_get(in, "force"));
    int64_t now = vol_now(), n;

    if (jget_str(in, "volume_id", true, 64, &vid, err) < 0 ||
        jget_str(in, "name", false, 255, &name, err) < 0 ||
        jget_str(in, "description", false, 255, &desc, err) < 0)
        return NULL;
    if (!name && jget_str(in, "display_name", false, 255, &name, err) < 0)
        return NULL;
    if (meta && !json_is_object(meta)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute metadata.");
        return NULL;
    }
    if (vol_load_writable(c, ctx, vid, &r, err) < 0)
        return NULL;
    if (strcmp(r.status, "available") && !(force && !strcmp(r.status, "in-use"))) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid volume: Volume %s status must be available, but current status is: "
                   "%s.",
                   vid, r.status);
        vol_rec_release(&r);
        return NULL;
    }
    if (store_begin(c, err) < 0) {
        vol_rec_release(&r);
        return NULL;
    }
    if (vol_quota_check(c, r.project_id, 0, r.size, 1, 0, 0, err) < 0)
        goto fail;
    st_uuid(id);
    if (meta)
        mtext = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    n = store_exec(c, err,
                   "INSERT INTO volume_snapshots (id, volume_id, project_id, user_id, name,"
                   " description, size, status, metadata, created_at, updated_at) VALUES"
                   " (?, ?, ?, ?, ?, ?, ?, 'creating', COALESCE(?, '{}'), ?, ?)",
                   STORE_ARGS(P(id), P(vid), P(r.project_id), P(ctx->user_id), P(name), P(desc),
                              P(r.size), P(mtext), P(now), P(now)));
    free(mtext);
    if (n < 0 || vol_bump(c, r.host, err) < 0 || store_commit(c, err) < 0)
        goto fail;
    revision_notify();
    vol_rec_release(&r);
    {
        json_t *o = vol_snapshot_get(c, ctx, id, err);
        if (o) {
            json_object_del(o, "os-extended-snapshot-attributes:progress");
            json_object_del(o, "os-extended-snapshot-attributes:project_id");
        }
        return o;
    }
fail:
    store_rollback(c);
    vol_rec_release(&r);
    return NULL;
}

json_t *vol_snapshot_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                            json_t *in, struct st_err *err)
{
    const char *name = NULL, *desc = NULL;
    bool set_name = false, set_desc = false;
    json_t *o = vol_snapshot_get(c, ctx, id, err);
    if (!o)
        return NULL;
    json_decref(o);
    if (!may_write(ctx)) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Policy doesn't allow changing snapshot %s.", id);
        return NULL;
    }
    if (jget_str_n(in, json_object_get(in, "name") ? "name" : "display_name", false, 255, &name,
                   &set_name, err) < 0 ||
        jget_str_n(in, json_object_get(in, "description") ? "description" : "display_description",
                   false, 255, &desc, &set_desc, err) < 0)
        return NULL;
    if (store_exec(c, err,
                   "UPDATE volume_snapshots SET name = CASE WHEN ? = 1 THEN ? ELSE name END,"
                   " description = CASE WHEN ? = 1 THEN ? ELSE description END, updated_at = ?"
                   " WHERE id = ?",
                   STORE_ARGS(P((int) set_name), P(name), P((int) set_desc), P(desc),
                              P(vol_now()), P(id))) < 0)
        return NULL;
    o = vol_snapshot_get(c, ctx, id, err);
    if (o) {
        json_object_del(o, "os-extended-snapshot-attributes:progress");
        json_object_del(o, "os-extended-snapshot-attributes:project_id");
    }
    return o;
}

int vol_snapshot_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        struct st_err *err)
{
    json_t *o = vol_snapshot_get(c, ctx, id, err);
    struct vol_rec r;
    const char *st;
    int64_t deps = 0;
    int rc = -1;
    if (!o)
        return -1;
    if (!may_write(ctx)) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Policy doesn't allow deleting snapshot %s.", id);
        json_decref(o);
        return -1;
    }
    st = json_string_value(json_object_get(o, "status"));
    if (!strcmp(st, "deleting")) {
        json_decref(o);
        return 0;
    }
    if (strcmp(st, "available") && strcmp(st, "error")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid snapshot: Volume Snapshot status must be available or error");
        json_decref(o);
        return -1;
    }
    if (vol_load(c, json_string_value(json_object_get(o, "volume_id")), &r, err) < 0) {
        json_decref(o);
        return -1;
    }
    if (store_begin(c, err) < 0)
        goto out;
    /* A volume still being made from it holds it. */
    if (store_get_int(c, err, &deps,
                      "SELECT COUNT(*) FROM volumes WHERE snapshot_id = ? AND status ="
                      " 'creating'",
                      STORE_ARGS(P(id))) < 0)
        goto rollback;
    if (deps > 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid snapshot: a volume is being created from snapshot %s.", id);
        goto rollback;
    }
    if (!r.host) {
        if (store_exec(c, err, "DELETE FROM volume_snapshots WHERE id = ?", STORE_ARGS(P(id))) < 0)
            goto rollback;
    } else if (store_exec(c, err,
                          "UPDATE volume_snapshots SET status = 'deleting', delete_requested = 1,"
                          " updated_at = ? WHERE id = ?",
                          STORE_ARGS(P(vol_now()), P(id))) < 0 ||
               vol_bump(c, r.host, err) < 0)
        goto rollback;
    if (store_commit(c, err) < 0)
        goto rollback;
    revision_notify();
    rc = 0;
    goto out;
rollback:
    store_rollback(c);
out:
    vol_rec_release(&r);
    json_decref(o);
    return rc;
}

int vol_snapshot_reset(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       const char *status, struct st_err *err)
{
    int64_t n;
    if (policy_admin(ctx, "reset the status of snapshots", err) < 0)
        return -1;
    if (strcmp(status, "available") && strcmp(status, "error") && strcmp(status, "creating") &&
        strcmp(status, "deleting") && strcmp(status, "error_deleting")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input received: status %s", status);
        return -1;
    }
    n = store_exec(c, err, "UPDATE volume_snapshots SET status = ?, updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(status), P(vol_now()), P(id)));
    if (n == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Snapshot %s could not be found.", id);
    return n > 0 ? 0 : -1;
}

/* ---- backups ------------------------------------------------------------------- */

#define BACKUP_SELECT                                                                              \
    "SELECT id, volume_id, snapshot_id, project_id, user_id, name, description, size,"           \
    " size_bytes, status, availability_zone, metadata, fail_reason, created_at, updated_at,"     \
    " host FROM volume_backups"

static json_t *backup_row(struct store_conn *c, struct store_stmt *s, void *arg,
                          struct st_err *err)
{
    json_t *o;
    (void) c;
    (void) arg;
    (void) err;
    o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:i,"
                  " s:s, s:b, s:b, s:[]}",
                  "id", store_text(s, 0), "volume_id", store_text(s, 1), "snapshot_id",
                  st_json_str_or_null(store_text(s, 2)), "name",
                  st_json_str_or_null(store_text(s, 5)), "description",
                  st_json_str_or_null(store_text(s, 6)), "size", (json_int_t) store_int(s, 7),
                  "status", store_text(s, 9), "availability_zone", store_text(s, 10), "metadata",
                  vol_parse(store_text(s, 11), json_object()), "fail_reason",
                  st_json_str_or_null(store_text(s, 12)), "created_at",
                  vol_time(store_int(s, 13)), "updated_at", vol_time(store_int(s, 14)),
                  "data_timestamp", vol_time(store_int(s, 13)), "object_count",
                  store_isnull(s, 8) ? 0 : 1, "container", "backups", "is_incremental", 0,
                  "has_dependent_backups", 0, "links");
    json_object_set_new(o, "os-backup-project-attr:project_id", json_string(store_text(s, 3)));
    json_object_set_new(o, "user_id", json_string(store_text(s, 4)));
    return o;
}

json_t *vol_backup_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       struct st_err *err)
{
    json_t *arr = store_collect(c, err, backup_row, NULL, BACKUP_SELECT " WHERE id = ?",
                                STORE_ARGS(P(id)));
    json_t *o;
    if (!arr)
        return NULL;
    o = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    if (o && !mine(ctx, json_string_value(json_object_get(o, "os-backup-project-attr:project_id")))) {
        json_decref(o);
        o = NULL;
    }
    if (!o)
        st_err_set(err, ST_ERR_NOT_FOUND, "Backup %s could not be found.", id);
    return o;
}

json_t *vol_backup_list(struct store_conn *c, const struct auth_ctx *ctx, bool all_tenants,
                        struct st_err *err)
{
    const char *scope = ctx->is_admin && all_tenants ? NULL : ctx->project_id;
    return store_collect(c, err, backup_row, NULL,
                         BACKUP_SELECT " WHERE (CAST(? AS TEXT) IS NULL OR project_id = ?)"
                                       " ORDER BY created_at, id",
                         STORE_ARGS(P(scope), P(scope)));
}

json_t *vol_backup_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                          struct st_err *err)
{
    const char *vid = NULL, *name = NULL, *desc = NULL, *snap = NULL;
    json_t *meta = json_object_get(in, "metadata"), *args;
    struct vol_rec r;
    char id[37], task[37], *mtext = NULL;
    bool force = truthy(json_object_get(in, "force"));
    int64_t now = vol_now(), n;

    if (jget_str(in, "volume_id", true, 64, &vid, err) < 0 ||
        jget_str(in, "name", false, 255, &name, err) < 0 ||
        jget_str(in, "description", false, 255, &desc, err) < 0 ||
        jget_str(in, "snapshot_id", false, 64, &snap, err) < 0)
        return NULL;
    if (truthy(json_object_get(in, "incremental"))) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid backup: incremental backups are not supported yet; make a full one.");
        return NULL;
    }
    if (meta && !json_is_object(meta)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute metadata.");
        return NULL;
    }
    if (vol_load_writable(c, ctx, vid, &r, err) < 0)
        return NULL;
    if (strcmp(r.status, "available") && !(force && !strcmp(r.status, "in-use"))) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid volume: Volume to be backed up must be available or in-use, but "
                   "the current status is \"%s\".",
                   r.status);
        vol_rec_release(&r);
        return NULL;
    }
    if (!r.host) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid volume: volume %s has no host.", vid);
        vol_rec_release(&r);
        return NULL;
    }
    if (store_begin(c, err) < 0) {
        vol_rec_release(&r);
        return NULL;
    }
    if (vol_quota_check(c, r.project_id, 0, 0, 0, 1, r.size, err) < 0)
        goto fail;
    st_uuid(id);
    args = json_pack("{s:s, s:s}", "volume_id", vid, "backup_id", id);
    if (snap)
        json_object_set_new(args, "snapshot_id", json_string(snap));
    if (vol_task_add(c, r.host, vid, "volume_backup", args, task, err) < 0) {
        json_decref(args);
        goto fail;
    }
    json_decref(args);
    if (meta)
        mtext = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    n = store_exec(c, err,
                   "INSERT INTO volume_backups (id, volume_id, snapshot_id, project_id, user_id,"
                   " name, description, size, host, availability_zone, status, metadata, task_id,"
                   " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'creating',"
                   " COALESCE(?, '{}'), ?, ?, ?)",
                   STORE_ARGS(P(id), P(vid), P(snap), P(r.project_id), P(ctx->user_id), P(name),
                              P(desc), P(r.size), P(r.host), P(vol_settings.default_az), P(mtext),
                              P(task), P(now), P(now)));
    free(mtext);
    if (n < 0 ||
        store_exec(c, err,
                   "UPDATE volumes SET previous_status = status, status = 'backing-up',"
                   " updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(now), P(vid))) < 0 ||
        store_commit(c, err) < 0)
        goto fail;
    revision_notify();
    vol_rec_release(&r);
    return json_pack("{s:s, s:o, s:[]}", "id", id, "name", st_json_str_or_null(name), "links");
fail:
    store_rollback(c);
    vol_rec_release(&r);
    return NULL;
}

json_t *vol_backup_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          json_t *in, struct st_err *err)
{
    const char *name = NULL, *desc = NULL;
    bool set_name = false, set_desc = false;
    json_t *o = vol_backup_get(c, ctx, id, err);
    if (!o)
        return NULL;
    json_decref(o);
    if (jget_str_n(in, "name", false, 255, &name, &set_name, err) < 0 ||
        jget_str_n(in, "description", false, 255, &desc, &set_desc, err) < 0)
        return NULL;
    if (store_exec(c, err,
                   "UPDATE volume_backups SET name = CASE WHEN ? = 1 THEN ? ELSE name END,"
                   " description = CASE WHEN ? = 1 THEN ? ELSE description END, updated_at = ?"
                   " WHERE id = ?",
                   STORE_ARGS(P((int) set_name), P(name), P((int) set_desc), P(desc),
                              P(vol_now()), P(id))) < 0)
        return NULL;
    o = vol_backup_get(c, ctx, id, err);
    if (!o)
        return NULL;
    json_t *out = json_pack("{s:O, s:O, s:[]}", "id", json_object_get(o, "id"), "name",
                            json_object_get(o, "name"), "links");
    json_decref(o);
    return out;
}

int vol_backup_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      bool force, struct st_err *err)
{
    json_t *o = vol_backup_get(c, ctx, id, err);
    const char *st;
    char host[256] = "";
    struct store_stmt *s;
    int rc = -1;
    if (!o)
        return -1;
    st = json_string_value(json_object_get(o, "status"));
    if (strcmp(st, "available") && strcmp(st, "error") && !(force && ctx->is_admin)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid backup: Backup status must be available or error");
        json_decref(o);
        return -1;
    }
    if (store_begin(c, err) < 0) {
        json_decref(o);
        return -1;
    }
    s = store_query(c, err, "SELECT host FROM volume_backups WHERE id = ?", STORE_ARGS(P(id)));
    if (!s)
        goto fail;
    if (store_next(s, err) > 0 && store_text(s, 0))
        ST_IGNORE(st_snprintf(host, sizeof(host), "%s", store_text(s, 0)));
    store_done(s);
    /* The row goes now; its host's desired "backups" no longer names it,
     * so the agent removes the files (docs/agent-protocol.md, "Volumes"). */
    if (store_exec(c, err, "DELETE FROM volume_backups WHERE id = ?", STORE_ARGS(P(id))) < 0 ||
        vol_bump(c, host[0] ? host : NULL, err) < 0)
        goto fail;
    if (store_commit(c, err) < 0)
        goto fail;
    revision_notify();
    rc = 0;
    json_decref(o);
    return rc;
fail:
    store_rollback(c);
    json_decref(o);
    return -1;
}

json_t *vol_backup_restore(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           const char *volume_id, const char *name, struct st_err *err)
{
    json_t *b = vol_backup_get(c, ctx, id, err), *out = NULL;
    char vid[37], host[256] = "";
    struct store_stmt *s;
    int64_t size;
    if (!b)
        return NULL;
    if (!st_streq(json_string_value(json_object_get(b, "status")), "available")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid backup: Backup status must be available");
        json_decref(b);
        return NULL;
    }
    size = json_integer_value(json_object_get(b, "size"));
    if (store_begin(c, err) < 0) {
        json_decref(b);
        return NULL;
    }
    s = store_query(c, err, "SELECT host FROM volume_backups WHERE id = ?", STORE_ARGS(P(id)));
    if (!s)
        goto fail;
    if (store_next(s, err) > 0 && store_text(s, 0))
        ST_IGNORE(st_snprintf(host, sizeof(host), "%s", store_text(s, 0)));
    store_done(s);
    if (!volume_id) {
        struct vol_new n;
        char vname[300];
        json_t *src = json_pack("{s:s, s:s}", "type", "backup", "id", id);
        memset(&n, 0, sizeof(n));
        if (!name) {
            ST_IGNORE(st_snprintf(vname, sizeof(vname), "restore_backup_%s", id));
            name = vname;
        }
        n.name = name;
        n.size = size;
        n.source = src;
        n.backup_id = id;
        n.prefer_host = host[0] ? host : NULL;
        n.status = "restoring-backup";
        int rc = vol_insert(c, ctx, &n, vid, err);
        json_decref(src);
        if (rc < 0)
            goto fail;
    } else {
        struct vol_rec r;
        json_t *args;
        if (vol_load_writable(c, ctx, volume_id, &r, err) < 0)
            goto fail;
        if (strcmp(r.status, "available")) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid volume: Volume to be restored to must be available");
            vol_rec_release(&r);
            goto fail;
        }
        if (r.size < size) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid volume: volume size %lldGB is too small to restore backup of "
                       "size %lldGB.",
                       (long long) r.size, (long long) size);
            vol_rec_release(&r);
            goto fail;
        }
        args = json_pack("{s:s, s:s}", "volume_id", volume_id, "backup_id", id);
        if (vol_task_add(c, r.host, volume_id, "volume_restore", args, NULL, err) < 0 ||
            store_exec(c, err,
                       "UPDATE volumes SET status = 'restoring-backup', backup_id = ?,"
                       " updated_at = ? WHERE id = ?",
                       STORE_ARGS(P(id), P(vol_now()), P(volume_id))) < 0) {
            json_decref(args);
            vol_rec_release(&r);
            goto fail;
        }
        json_decref(args);
        ST_IGNORE(st_snprintf(vid, sizeof(vid), "%s", volume_id));
        name = NULL;
        vol_rec_release(&r);
    }
    if (store_exec(c, err,
                   "UPDATE volume_backups SET status = 'restoring', updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(vol_now()), P(id))) < 0 ||
        store_commit(c, err) < 0)
        goto fail;
    revision_notify();
    {
        json_t *v = vol_json(c, ctx, vid, err);
        if (v) {
            const char *vn = json_string_value(json_object_get(v, "name"));
            out = json_pack("{s:s, s:s, s:s}", "backup_id", id, "volume_id", vid, "volume_name",
                            vn ? vn : "");
            json_decref(v);
        }
    }
    json_decref(b);
    return out;
fail:
    store_rollback(c);
    json_decref(b);
    return NULL;
}

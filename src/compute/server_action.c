/*
 * server_action.c - server actions (POST /servers/{id}/action: power,
 * reboot, lock, rebuild, rescue, resize, snapshot, console output), each a
 * change of intent, and for the agent a task or a bump of the host's
 * revision; and the instance-action log (os-instance-actions) that every
 * action, creation and deletion writes.
 */
#include "compute/server.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "compute/host.h"
#include "compute/internal.h"
#include "compute/migration.h"
#include "compute/scheduler.h"
#include "image/image.h"
#include "store/revision.h"
#include "compute/console.h"
#include "common/banned.h"

/* ---- instance actions --------------------------------------------------- */

/* Records an action and its single event, started now. */
int server_action_start(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                        const char *host, const char *action, const char *request_id,
                        struct st_err *err)
{
    char id[37];
    struct st_buf event = ST_BUF_INIT;
    int64_t now = st_now_us() / 1000000;
    int rc;
    st_uuid(id);
    st_buf_addf(&event, "compute_%s", action);
    rc = store_exec(c, err,
                    "INSERT INTO instance_actions (id, server_id, request_id, action, user_id,"
                    " project_id, start_time, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    STORE_ARGS(P(id), P(server_id), P(request_id ? request_id : id), P(action),
                               P(ctx->user_id), P(ctx->project_id), P(now), P(now))) < 0 ||
                 store_exec(c, err,
                            "INSERT INTO instance_action_events (action_id, event, host,"
                            " start_time) VALUES (?, ?, ?, ?)",
                            STORE_ARGS(P(id), P(event.buf), P(host), P(now))) < 0
             ? -1
             : 0;
    st_buf_release(&event);
    return rc;
}

int server_actions_finish(struct store_conn *c, const char *server_id, const char *result,
                          const char *details, struct st_err *err)
{
    int64_t now = st_now_us() / 1000000;
    return store_exec(c, err,
                      "UPDATE instance_action_events SET finish_time = ?, result = ?, details = ?"
                      " WHERE finish_time IS NULL AND action_id IN (SELECT id FROM"
                      " instance_actions WHERE server_id = ?)",
                      STORE_ARGS(P(now), P(result), P(details), P(server_id))) < 0 ||
                   store_exec(c, err,
                              "UPDATE instance_actions SET updated_at = ? WHERE server_id = ?"
                              " AND updated_at < ?",
                              STORE_ARGS(P(now), P(server_id), P(now))) < 0
               ? -1
               : 0;
}

static json_t *time_json(int64_t secs, bool frac)
{
    char t[32];
    if (!secs)
        return json_null();
    st_time_iso(secs * 1000000, frac ? 6 : 0, t);
    if (frac) {
        /* Nova prints instance action times without the zone suffix. */
        size_t n = strlen(t);
        if (n && t[n - 1] == 'Z')
            t[n - 1] = '\0';
    }
    return json_string(t);
}

static json_t *action_json(struct store_stmt *s)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "action", store_text(s, 0),
                     "instance_uuid", store_text(s, 1), "request_id", store_text(s, 2),
                     "user_id", st_json_str_or_null(store_text(s, 3)), "project_id",
                     st_json_str_or_null(store_text(s, 4)), "message",
                     st_json_str_or_null(store_text(s, 5)), "start_time",
                     time_json(store_int(s, 6), true), "updated_at",
                     time_json(store_int(s, 7), true));
}

/* Actions may be read by whoever may read the server, even once deleted. */
static int action_access(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         struct st_err *err)
{
    struct store_stmt *s;
    int rc;
    char project[AUTH_ID_MAX] = "";
    s = store_query(c, err,
                    "SELECT project_id FROM servers WHERE id = ? UNION ALL SELECT project_id"
                    " FROM instance_actions WHERE server_id = ? LIMIT 1",
                    STORE_ARGS(P(id), P(id)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0 && store_text(s, 0))
        ST_IGNORE(st_snprintf(project, sizeof(project), "%s", store_text(s, 0)));
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0 || policy_read(ctx, project, "instance", id, err) < 0) {
        st_err_clear(err);
        st_err_set(err, ST_ERR_NOT_FOUND, "Instance %s could not be found.", id);
        return -1;
    }
    return 0;
}

json_t *server_actions_list(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                            struct st_err *err)
{
    struct store_stmt *s;
    json_t *arr;
    int rc;
    if (action_access(c, ctx, id, err) < 0)
        return NULL;
    s = store_query(c, err,
                    "SELECT action, server_id, request_id, user_id, project_id, message,"
                    " start_time, updated_at FROM instance_actions WHERE server_id = ?"
                    " ORDER BY start_time DESC, id DESC",
                    STORE_ARGS(P(id)));
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, action_json(s));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *server_action_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          const char *request_id, struct st_err *err)
{
    struct store_stmt *s;
    json_t *a = NULL, *events;
    char action_id[37] = "";
    int rc;
    if (action_access(c, ctx, id, err) < 0)
        return NULL;
    s = store_query(c, err,
                    "SELECT action, server_id, request_id, user_id, project_id, message,"
                    " start_time, updated_at, id FROM instance_actions WHERE server_id = ? AND"
                    " request_id = ? ORDER BY start_time DESC LIMIT 1",
                    STORE_ARGS(P(id), P(request_id)));
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0) {
        a = action_json(s);
        ST_IGNORE(st_snprintf(action_id, sizeof(action_id), "%s", store_text(s, 8)));
    }
    store_done(s);
    if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Action %s could not be found.", request_id);
    if (!a)
        return NULL;
    s = store_query(c, err,
                    "SELECT event, start_time, finish_time, result, host, details FROM"
                    " instance_action_events WHERE action_id = ? ORDER BY start_time",
                    STORE_ARGS(P(action_id)));
    if (!s) {
        json_decref(a);
        return NULL;
    }
    events = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *e = json_pack("{s:s, s:o, s:o, s:o}", "event", store_text(s, 0), "start_time",
                              time_json(store_int(s, 1), true), "finish_time",
                              store_isnull(s, 2) ? json_null() : time_json(store_int(s, 2), true),
                              "result", st_json_str_or_null(store_text(s, 3)));
        json_object_set_new(e, "host", st_json_str_or_null(store_text(s, 4)));
        json_object_set_new(e, "details", st_json_str_or_null(store_text(s, 5)));
        json_array_append_new(events, e);
    }
    store_done(s);
    json_object_set_new(a, "events", events);
    if (rc < 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}


/* ---- actions ------------------------------------------------------------ */

void server_action_result_release(struct server_action_result *res)
{
    free(res->image_id);
    free(res->admin_pass);
    free(res->task_id);
    memset(res, 0, sizeof(*res));
}

static void new_password(char out[13])
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    unsigned char rnd[12];
    st_random(rnd, sizeof(rnd));
    for (int i = 0; i < 12; i++)
        out[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    out[12] = '\0';
}

static void conflict_state(const struct server_rec *r, const char *action, struct st_err *err)
{
    st_err_set(err, ST_ERR_CONFLICT,
               "Cannot '%s' instance %s while it is in vm_state %s%s%s", action, r->id,
               r->vm_state, r->task_state ? " and task_state " : "",
               r->task_state ? r->task_state : "");
}

static bool vm_in(const struct server_rec *r, const char *const *states)
{
    for (; *states; states++)
        if (!strcmp(r->vm_state, *states))
            return true;
    return false;
}

/* Inserts a task for the server's host. */
static int add_task(struct store_conn *c, const struct server_rec *r, const char *kind,
                    json_t *args, char *id_out, struct st_err *err)
{
    char id[37];
    char *text = compute_json_dumps(args);
    int rc;
    st_uuid(id);
    rc = store_exec(c, err,
                    "INSERT INTO tasks (id, host, server_id, kind, args, created_at) VALUES"
                    " (?, ?, ?, ?, ?, ?)",
                    STORE_ARGS(P(id), P(r->host), P(r->id), P(kind), P(text),
                               P(st_now_us() / 1000000))) < 0
             ? -1
             : 0;
    free(text);
    if (id_out)
        memcpy(id_out, id, sizeof(id));
    return rc;
}

/* The snapshot image: queued, owned by the server's project, inheriting the
 * boot properties (kernel, ramdisk, command line, hw_*) as Nova does. */
static char *snapshot_image(struct store_conn *c, const struct server_rec *r, json_t *args,
                            struct st_err *err)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    json_t *meta = json_object_get(args, "metadata");
    json_t *img = json_object_get(r->image, "image");
    json_t *props = json_object_get(img, "properties"), *in, *created;
    struct auth_ctx owner;
    const char *k;
    json_t *v;
    char *id = NULL;

    if (!name || !*name || strlen(name) > 255) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'name' of createImage");
        return NULL;
    }
    if (meta && server_check_metadata(meta, err) < 0)
        return NULL;
    in = json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", name, "disk_format", "qcow2",
                   "container_format", "bare", "visibility", "private", "min_disk",
                   (json_int_t) json_integer_value(json_object_get(r->flavor, "disk")));
    json_object_foreach(props, k, v)
    {
        if (!strcmp(k, "base_image_ref") || !strcmp(k, "image_type") ||
            !strcmp(k, "instance_uuid") || !strcmp(k, "owner_project_name") ||
            !strcmp(k, "owner_user_name") || !strcmp(k, "user_id"))
            continue;
        json_object_set(in, k, v);
    }
    json_object_foreach(meta, k, v) json_object_set(in, k, v);
    json_object_set_new(in, "image_type", json_string("snapshot"));
    json_object_set_new(in, "instance_uuid", json_string(r->id));
    json_object_set_new(in, "user_id", json_string(r->user_id));
    if (r->image_id)
        json_object_set_new(in, "base_image_ref", json_string(r->image_id));
    /* Created as the server's project, whoever asks (an admin may). */
    memset(&owner, 0, sizeof(owner));
    ST_IGNORE(st_snprintf(owner.project_id, sizeof(owner.project_id), "%s", r->project_id));
    ST_IGNORE(st_snprintf(owner.user_id, sizeof(owner.user_id), "%s", r->user_id));
    owner.project_scoped = true;
    owner.is_member = owner.is_reader = true;
    created = image_create_in_tx(c, &owner, in, err);
    json_decref(in);
    if (created)
        id = st_xstrdup(json_string_value(json_object_get(created, "id")));
    json_decref(created);
    return id;
}

/* migrate, os-migrateLive, evacuate: the destination, then the migration
 * (compute/migration.h), inside server_action()'s transaction. */
static int server_migrate(struct store_conn *c, const struct compute_conf *conf,
                          const struct auth_ctx *ctx, const struct server_rec *r,
                          enum server_action_kind kind, json_t *args,
                          struct server_action_result *res, struct st_err *err)
{
    const char *host = json_string_value(json_object_get(args, "host"));
    int64_t v = json_integer_value(json_object_get(r->flavor, "vcpus"));
    int64_t ram = json_integer_value(json_object_get(r->flavor, "ram"));
    int64_t d = json_integer_value(json_object_get(r->flavor, "disk")) +
                json_integer_value(json_object_get(r->flavor, "ephemeral")) +
                (json_integer_value(json_object_get(r->flavor, "swap")) + 1023) / 1024;
    char dest[256];
    int rc;

    if (kind == SA_EVACUATE) {
        struct store_stmt *s = store_query(c, err,
                                           "SELECT last_seen, forced_down FROM hosts WHERE name"
                                           " = ?",
                                           STORE_ARGS(P(r->host)));
        bool up = false;
        if (!s)
            return -1;
        if (store_next(s, err) > 0)
            up = !store_int(s, 1) && !store_isnull(s, 0) && host_is_up(store_int(s, 0), conf);
        store_done(s);
        if (st_err_is_set(err))
            return -1;
        if (up) {
            st_err_set(err, ST_ERR_CONFLICT, "Compute service of %s is still in use.", r->host);
            return -1;
        }
    }
    if (host && !strcmp(host, r->host) && kind != SA_LIVE_MIGRATE) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   kind == SA_EVACUATE ? "The target host can't be the same one."
                                       : "Cannot migrate to the host where the server exists.");
        return -1;
    }
    rc = migration_pick_host(c, conf, r, host, v, ram, d, false, dest, sizeof(dest), err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "No valid host was found. %s",
                   host ? "The requested host has no room for the server or is not up."
                        : "There are not enough hosts available.");
        return -1;
    }
    if (kind == SA_MIGRATE)
        return migration_start_cold(c, ctx, r, dest, NULL, NULL, err);
    if (kind == SA_LIVE_MIGRATE) {
        /* Instance disks are local to their host: only a block migration
         * can move them (Nova's InvalidSharedStorage otherwise). */
        if (json_is_false(json_object_get(args, "block_migration"))) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "%s is not on shared storage: Shared storage live-migration requires"
                       " either shared storage or boot-from-volume with no local disks.",
                       dest);
            return -1;
        }
        return migration_start_live(c, ctx, r, dest, true, err);
    }
    if (migration_start_evacuate(c, ctx, r, dest, err) < 0)
        return -1;
    {
        char pass[13];
        const char *given = json_string_value(json_object_get(args, "adminPass"));
        new_password(pass);
        res->admin_pass = st_xstrdup(given ? given : pass);
    }
    return 0;
}

int server_action(struct store_conn *c, const struct compute_conf *conf,
                  const struct auth_ctx *ctx, const char *id, enum server_action_kind kind,
                  json_t *args, const char *request_id, struct server_action_result *res,
                  struct st_err *err)
{
    static const char *const any_state[] = {"active", "stopped", "paused", "suspended", "error",
                                            "rescued", "resized", "building", NULL};
    static const char *const active[] = {"active", NULL};
    static const char *const stopped[] = {"stopped", NULL};
    static const char *const paused[] = {"paused", NULL};
    static const char *const suspended[] = {"suspended", NULL};
    static const char *const rescued[] = {"rescued", NULL};
    static const char *const resized[] = {"resized", NULL};
    static const char *const rebootable[] = {"active", "stopped", "paused", "suspended", "error",
                                             "rescued", NULL};
    static const char *const rebuildable[] = {"active", "stopped", "error", NULL};
    static const char *const active_stopped[] = {"active", "stopped", NULL};
    static const char *const snapshottable[] = {"active", "stopped", "paused", "suspended",
                                                NULL};
    static const char *const live_ok[] = {"active", "paused", NULL};
    static const char *const evacuable[] = {"active", "stopped", "error", NULL};
    struct server_rec r;
    const char *name = NULL, *const *allowed = any_state;
    const char *new_task = NULL, *new_power = NULL;
    bool needs_host = true, no_task_ok = false, bump = true;
    int64_t now = st_now_us() / 1000000;
    char task_id[37] = "";
    int rc = -1;

    memset(res, 0, sizeof(*res));
    switch (kind) {
    case SA_START: name = "start", allowed = stopped, new_task = "powering-on",
                   new_power = "running"; break;
    case SA_STOP: name = "stop", allowed = rebootable, new_task = "powering-off",
                  new_power = "stopped"; break;
    case SA_REBOOT: name = "reboot", allowed = rebootable; break;
    case SA_PAUSE: name = "pause", allowed = active, new_task = "pausing",
                   new_power = "paused"; break;
    case SA_UNPAUSE: name = "unpause", allowed = paused, new_task = "unpausing",
                     new_power = "running"; break;
    case SA_SUSPEND: name = "suspend", allowed = active, new_task = "suspending",
                     new_power = "suspended"; break;
    case SA_RESUME: name = "resume", allowed = suspended, new_task = "resuming",
                    new_power = "running"; break;
    case SA_LOCK: name = "lock", needs_host = false, bump = false; break;
    case SA_UNLOCK: name = "unlock", needs_host = false, bump = false; break;
    case SA_REBUILD: name = "rebuild", allowed = rebuildable, new_task = "rebuilding"; break;
    case SA_RESCUE: name = "rescue", allowed = rebuildable, new_task = "rescuing"; break;
    case SA_UNRESCUE: name = "unrescue", allowed = rescued, new_task = "unrescuing"; break;
    case SA_RESIZE: name = "resize", allowed = active_stopped, new_task = "resize_prep"; break;
    case SA_CONFIRM_RESIZE: name = "confirmResize", allowed = resized; break;
    case SA_REVERT_RESIZE: name = "revertResize", allowed = resized,
                           new_task = "resize_reverting"; break;
    case SA_CREATE_IMAGE: name = "createImage", allowed = snapshottable,
                          new_task = "image_snapshot"; break;
    case SA_CONSOLE_OUTPUT: name = "getConsoleOutput", bump = true; break;
    case SA_FORCE_DELETE:
        return server_delete(c, conf, ctx, id, true, request_id, err);
    case SA_MIGRATE: name = "migrate", allowed = active_stopped; break;
    case SA_LIVE_MIGRATE: name = "live-migration", allowed = live_ok; break;
    case SA_EVACUATE: name = "evacuate", allowed = evacuable; break;
    }
    if (server_get(c, ctx, id, &r, err) < 0)
        return -1;
    if ((kind == SA_MIGRATE || kind == SA_LIVE_MIGRATE || kind == SA_EVACUATE) &&
        !ctx->is_admin) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Policy doesn't allow os_compute_api:%s to be performed.",
                   kind == SA_EVACUATE        ? "os-evacuate"
                   : kind == SA_LIVE_MIGRATE ? "os-migrate-server:migrate_live"
                                             : "os-migrate-server:migrate");
        goto out;
    }
    if (kind == SA_CONSOLE_OUTPUT) {
        if (policy_read(ctx, r.project_id, "instance", id, err) < 0)
            goto out;
    } else if (policy_write(ctx, r.project_id, "instance", id, err) < 0) {
        goto out;
    }
    if (kind == SA_UNLOCK) {
        if (r.locked && !ctx->is_admin && r.locked_by && !strcmp(r.locked_by, "admin")) {
            st_err_set(err, ST_ERR_FORBIDDEN, "Instance %s is locked by an admin", id);
            goto out;
        }
    } else if (kind != SA_LOCK && kind != SA_CONSOLE_OUTPUT &&
               server_check_lock(ctx, &r, err) < 0) {
        goto out;
    }
    if (!vm_in(&r, allowed) || (r.task_state && !no_task_ok && kind != SA_LOCK &&
                                kind != SA_UNLOCK && kind != SA_CONSOLE_OUTPUT &&
                                !(kind == SA_REBOOT && (!strcmp(r.task_state, "rebooting") ||
                                                        !strcmp(r.task_state, "rebooting_hard"))))) {
        conflict_state(&r, name, err);
        goto out;
    }
    if (needs_host && !r.host) {
        conflict_state(&r, name, err);
        goto out;
    }
    if (kind == SA_CONSOLE_OUTPUT) {
        json_int_t length = -1;
        json_t *l = json_object_get(args, "length");
        if (json_is_integer(l))
            length = json_integer_value(l);
        else if (json_is_string(l)) {
            int64_t v;
            if (st_parse_i64(json_string_value(l), -1, INT32_MAX, &v) < 0) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'length'");
                goto out;
            }
            length = v;
        } else if (l && !json_is_null(l)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'length'");
            goto out;
        }
        if (length < -1) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'length'");
            goto out;
        }
        json_t *targs = length >= 0 ? json_pack("{s:I}", "length", length) : json_object();
        if (store_begin(c, err) < 0) {
            json_decref(targs);
            goto out;
        }
        rc = add_task(c, &r, "console_log", targs, task_id, err) < 0 ||
                     revision_bump(c, r.host, err) < 0 || store_commit(c, err) < 0
                 ? -1
                 : 0;
        json_decref(targs);
        if (rc < 0) {
            store_rollback(c);
            goto out;
        }
        revision_notify();
        res->task_id = st_xstrdup(task_id); /* the API layer waits for it */
        goto out;
    }

    if (store_begin(c, err) < 0)
        goto out;
    if (server_action_start(c, ctx, id, r.host, name, request_id, err) < 0)
        goto rollback;
    /* A console URL given out before the disk, the flavor or the host
     * changed is void (console.h). */
    if ((kind == SA_REBUILD || kind == SA_RESIZE || kind == SA_REVERT_RESIZE ||
         kind == SA_RESCUE || kind == SA_UNRESCUE || kind == SA_MIGRATE ||
         kind == SA_LIVE_MIGRATE || kind == SA_EVACUATE) &&
        console_revoke(c, id, err) < 0)
        goto rollback;
    switch (kind) {
    case SA_REBOOT: {
        const char *type = json_string_value(json_object_get(args, "type"));
        json_t *targs;
        bool hard;
        if (!type || (strcasecmp(type, "SOFT") && strcasecmp(type, "HARD"))) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field 'type': expected SOFT or HARD");
            goto rollback;
        }
        hard = !strcasecmp(type, "HARD");
        if (!hard && strcmp(r.vm_state, "active")) {
            conflict_state(&r, "reboot", err);
            goto rollback;
        }
        new_task = hard ? "rebooting_hard" : "rebooting";
        targs = json_pack("{s:s, s:i}", "type", hard ? "HARD" : "SOFT", "timeout",
                          conf->reboot_timeout);
        int trc = add_task(c, &r, "reboot", targs, NULL, err);
        json_decref(targs);
        if (trc < 0)
            goto rollback;
        /* A hard reboot brings a stopped or paused server back running. */
        new_power = "running";
        break;
    }
    case SA_LOCK: {
        const char *reason = json_string_value(json_object_get(args, "locked_reason"));
        if (reason && strlen(reason) > 255) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "locked_reason is longer than 255 characters");
            goto rollback;
        }
        if (store_exec(c, err,
                       "UPDATE servers SET locked = 1, locked_by = ?, locked_reason = ?,"
                       " updated_at = ? WHERE id = ?",
                       STORE_ARGS(P(ctx->is_admin && strcmp(ctx->project_id, r.project_id)
                                        ? "admin"
                                        : "owner"),
                                  P(reason), P(now), P(id))) < 0)
            goto rollback;
        break;
    }
    case SA_UNLOCK:
        if (store_exec(c, err,
                       "UPDATE servers SET locked = 0, locked_by = NULL, locked_reason = NULL,"
                       " updated_at = ? WHERE id = ?",
                       STORE_ARGS(P(now), P(id))) < 0)
            goto rollback;
        break;
    case SA_REBUILD: {
        const char *ref = json_string_value(json_object_get(args, "imageRef"));
        const char *new_name = json_string_value(json_object_get(args, "name"));
        json_t *images, *meta = json_object_get(args, "metadata");
        char *text;
        char pass[13];
        if (!ref) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'imageRef': it is "
                                                "required");
            goto rollback;
        }
        if (new_name && (!*new_name || strlen(new_name) > 255)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'name'");
            goto rollback;
        }
        if (meta && server_check_metadata(meta, err) < 0)
            goto rollback;
        images = server_boot_images(c, ctx, ref, err);
        if (!images)
            goto rollback;
        text = compute_json_dumps(images);
        int64_t x = store_exec(c, err,
                               "UPDATE servers SET image = ?, image_id = ?, disk_generation ="
                               " disk_generation + 1, fault = NULL WHERE id = ?",
                               STORE_ARGS(P(text),
                                          P(json_string_value(json_object_get(
                                              json_object_get(images, "image"), "id"))),
                                          P(id)));
        free(text);
        json_decref(images);
        if (x < 0)
            goto rollback;
        if (new_name && store_exec(c, err, "UPDATE servers SET name = ? WHERE id = ?",
                                   STORE_ARGS(P(new_name), P(id))) < 0)
            goto rollback;
        if (meta && (store_exec(c, err, "DELETE FROM server_metadata WHERE server_id = ?",
                                STORE_ARGS(P(id))) < 0 ||
                     server_set_metadata(c, id, meta, err) < 0))
            goto rollback;
        /* An errored server is rebuilt to running. */
        if (!strcmp(r.vm_state, "error"))
            new_power = "running";
        new_password(pass);
        res->admin_pass = st_xstrdup(pass);
        break;
    }
    case SA_RESCUE: {
        const char *ref = json_string_value(json_object_get(args, "rescue_image_ref"));
        json_t *images;
        char *text;
        char pass[13];
        images = server_boot_images(c, ctx, ref ? ref : (r.image_id ? r.image_id : ""), err);
        if (!images)
            goto rollback;
        text = compute_json_dumps(images);
        int64_t x = store_exec(c, err, "UPDATE servers SET rescue_image = ? WHERE id = ?",
                               STORE_ARGS(P(text), P(id)));
        free(text);
        json_decref(images);
        if (x < 0)
            goto rollback;
        new_power = "running";
        new_password(pass);
        res->admin_pass = st_xstrdup(json_is_string(json_object_get(args, "adminPass"))
                                         ? json_string_value(json_object_get(args, "adminPass"))
                                         : pass);
        break;
    }
    case SA_UNRESCUE:
        if (store_exec(c, err, "UPDATE servers SET rescue_image = NULL WHERE id = ?",
                       STORE_ARGS(P(id))) < 0)
            goto rollback;
        break;
    case SA_RESIZE: {
        const char *ref = json_string_value(json_object_get(args, "flavorRef"));
        json_t *nf;
        char *ntext, *otext;
        int64_t nv, nr, nd, ov, orr;
        if (!ref) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'flavorRef': it is "
                                                "required");
            goto rollback;
        }
        nf = server_boot_flavor(c, ctx, ref, err);
        if (!nf)
            goto rollback;
        if (st_streq(json_string_value(json_object_get(nf, "id")),
                     json_string_value(json_object_get(r.flavor, "id")))) {
            json_decref(nf);
            st_err_set(err, ST_ERR_BAD_REQUEST, "When resizing, instances must change flavor!");
            goto rollback;
        }
        nv = json_integer_value(json_object_get(nf, "vcpus"));
        nr = json_integer_value(json_object_get(nf, "ram"));
        nd = json_integer_value(json_object_get(nf, "disk"));
        ov = json_integer_value(json_object_get(r.flavor, "vcpus"));
        orr = json_integer_value(json_object_get(r.flavor, "ram"));
        if (nd < json_integer_value(json_object_get(r.flavor, "disk"))) {
            json_decref(nf);
            st_err_set(err, ST_ERR_BAD_REQUEST, "Resizing to a smaller disk flavor is not "
                                                "allowed.");
            goto rollback;
        }
        if (compute_quota_check(c, conf, r.project_id, 0, nv > ov ? nv - ov : 0,
                                nr > orr ? nr - orr : 0, err) < 0) {
            json_decref(nf);
            goto rollback;
        }
        int64_t ndisk = nd + json_integer_value(json_object_get(nf, "ephemeral")) +
                        (json_integer_value(json_object_get(nf, "swap")) + 1023) / 1024;
        /* The scheduler chooses: another host when one fits, else this
         * one if [compute] allow_resize_to_same_host (migration.h). */
        char dest[256] = "";
        int fits = migration_pick_host(c, conf, &r, NULL, nv, nr, ndisk,
                                       conf->allow_resize_to_same_host, dest, sizeof(dest), err);
        if (fits > 0 && strcmp(dest, r.host)) {
            ntext = compute_json_dumps(nf);
            otext = compute_json_dumps(r.flavor);
            int64_t y = store_exec(c, err,
                                   "UPDATE servers SET old_flavor = ?, flavor = ?, vcpus = ?,"
                                   " memory_mb = ?, disk_gb = ? WHERE id = ?",
                                   STORE_ARGS(P(otext), P(ntext), P(nv), P(nr), P(ndisk),
                                              P(id)));
            free(ntext);
            free(otext);
            if (y < 0 || migration_start_cold(c, ctx, &r, dest, r.flavor, nf, err) < 0) {
                json_decref(nf);
                goto rollback;
            }
            json_decref(nf);
            new_task = NULL;
            break;
        }
        if (fits <= 0) {
            json_decref(nf);
            if (fits == 0)
                st_err_set(err, ST_ERR_BAD_REQUEST, "No valid host was found. The host of "
                                                    "the server has no room for flavor %s.",
                           ref);
            goto rollback;
        }
        ntext = compute_json_dumps(nf);
        otext = compute_json_dumps(r.flavor);
        int64_t x = store_exec(c, err,
                               "UPDATE servers SET old_flavor = ?, flavor = ?, vcpus = ?,"
                               " memory_mb = ?, disk_gb = ?, resize_state = 'resizing'"
                               " WHERE id = ?",
                               STORE_ARGS(P(otext), P(ntext), P(nv), P(nr),
                                          P(nd + json_integer_value(
                                                     json_object_get(nf, "ephemeral")) +
                                            (json_integer_value(json_object_get(nf, "swap")) +
                                             1023) / 1024),
                                          P(id)));
        free(ntext);
        free(otext);
        json_decref(nf);
        if (x < 0)
            goto rollback;
        break;
    }
    case SA_CONFIRM_RESIZE: {
        int x = migration_confirm(c, &r, err);
        if (x < 0)
            goto rollback;
        if (x > 0)
            break;
        if (store_exec(c, err,
                       "UPDATE servers SET resize_state = 'confirming', vm_state = CASE"
                       " desired_power WHEN 'stopped' THEN 'stopped' ELSE 'active' END,"
                       " old_flavor = NULL WHERE id = ?",
                       STORE_ARGS(P(id))) < 0 ||
            server_actions_finish(c, id, "Success", NULL, err) < 0)
            goto rollback;
        break;
    }
    case SA_REVERT_RESIZE: {
        int64_t ov, orr, od;
        char *otext;
        int m = migration_revert(c, &r, err);
        if (m < 0)
            goto rollback;
        if (m > 0) {
            new_task = NULL;
            break;
        }
        if (!r.old_flavor) {
            conflict_state(&r, name, err);
            goto rollback;
        }
        ov = json_integer_value(json_object_get(r.old_flavor, "vcpus"));
        orr = json_integer_value(json_object_get(r.old_flavor, "ram"));
        od = json_integer_value(json_object_get(r.old_flavor, "disk")) +
             json_integer_value(json_object_get(r.old_flavor, "ephemeral")) +
             (json_integer_value(json_object_get(r.old_flavor, "swap")) + 1023) / 1024;
        otext = compute_json_dumps(r.old_flavor);
        /* The current flavor becomes the one being reverted from. */
        char *ctext = compute_json_dumps(r.flavor);
        int64_t x = store_exec(c, err,
                               "UPDATE servers SET flavor = ?, old_flavor = ?, vcpus = ?,"
                               " memory_mb = ?, disk_gb = ?, resize_state = 'reverting'"
                               " WHERE id = ?",
                               STORE_ARGS(P(otext), P(ctext), P(ov), P(orr), P(od), P(id)));
        free(otext);
        free(ctext);
        if (x < 0)
            goto rollback;
        break;
    }
    case SA_CREATE_IMAGE: {
        json_t *targs;
        char *image_id = snapshot_image(c, &r, args, err);
        if (!image_id)
            goto rollback;
        targs = json_pack("{s:s}", "image_id", image_id);
        int trc = add_task(c, &r, "snapshot", targs, NULL, err);
        json_decref(targs);
        res->image_id = image_id;
        if (trc < 0)
            goto rollback;
        break;
    }
    case SA_MIGRATE:
    case SA_LIVE_MIGRATE:
    case SA_EVACUATE:
        if (server_migrate(c, conf, ctx, &r, kind, args, res, err) < 0)
            goto rollback;
        break;
    default:
        break;
    }
    if (new_task && store_exec(c, err, "UPDATE servers SET task_state = ? WHERE id = ?",
                               STORE_ARGS(P(new_task), P(id))) < 0)
        goto rollback;
    if (new_power && store_exec(c, err,
                                "UPDATE servers SET desired_power = ?, power_generation ="
                                " power_generation + 1 WHERE id = ?",
                                STORE_ARGS(P(new_power), P(id))) < 0)
        goto rollback;
    if (store_exec(c, err, "UPDATE servers SET updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(now), P(id))) < 0)
        goto rollback;
    if (kind == SA_LOCK || kind == SA_UNLOCK) {
        if (server_actions_finish(c, id, "Success", NULL, err) < 0)
            goto rollback;
    }
    if (bump && r.host && revision_bump(c, r.host, err) < 0)
        goto rollback;
    if (store_commit(c, err) < 0)
        goto rollback;
    revision_notify();
    rc = 0;
    goto out;
rollback:
    store_rollback(c);
    server_action_result_release(res);
out:
    server_rec_release(&r);
    return rc;
}

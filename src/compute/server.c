/*
 * server.c - Nova servers: creation (validation, quota, scheduling claim in
 * one transaction), reads for the API views, and every action as a change of
 * intent plus a bump of the host's revision.
 */
#include "compute/server.h"

#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "compute/flavor.h"
#include "compute/host.h"
#include "compute/internal.h"
#include "compute/scheduler.h"
#include "image/image.h"
#include "store/revision.h"
#include "common/banned.h"

#define SERVER_MAX_METADATA 128
#define SERVER_MAX_TAGS 50
#define SERVER_MAX_USER_DATA 65535

/* ---- records ------------------------------------------------------------ */

#define SERVER_COLUMNS                                                                         \
    "s.id, s.name, s.description, s.hostname, s.project_id, s.user_id, s.host, s.image_id,"    \
    " s.image, s.flavor, s.old_flavor, s.key_name, s.user_data, s.availability_zone,"          \
    " s.config_drive, s.vm_state, s.task_state, s.power_state, s.desired_power,"               \
    " s.delete_requested, s.disk_generation, s.rescue_image, s.resize_state, s.locked,"        \
    " s.locked_reason, s.locked_by, s.launch_index, s.reservation_id, s.fault, s.access_ipv4," \
    " s.access_ipv6, s.launched_at, s.terminated_at, s.created_at, s.updated_at,"              \
    " h.hypervisor_hostname, h.last_seen"

static char *dup_col(struct store_stmt *s, int col)
{
    const char *t = store_text(s, col);
    return t ? st_xstrdup(t) : NULL;
}

static json_t *json_col(struct store_stmt *s, int col)
{
    const char *t = store_text(s, col);
    return t ? json_loads(t, 0, NULL) : NULL;
}

static void fill_rec(struct store_stmt *s, const struct compute_conf *conf,
                     struct server_rec *r)
{
    memset(r, 0, sizeof(*r));
    r->id = dup_col(s, 0);
    r->name = dup_col(s, 1);
    r->description = dup_col(s, 2);
    r->hostname = dup_col(s, 3);
    r->project_id = dup_col(s, 4);
    r->user_id = dup_col(s, 5);
    r->host = dup_col(s, 6);
    r->image_id = dup_col(s, 7);
    r->image = json_col(s, 8);
    r->flavor = json_col(s, 9);
    r->old_flavor = json_col(s, 10);
    r->key_name = dup_col(s, 11);
    r->user_data = dup_col(s, 12);
    r->availability_zone = dup_col(s, 13);
    r->config_drive = store_int(s, 14) != 0;
    r->vm_state = dup_col(s, 15);
    r->task_state = dup_col(s, 16);
    r->power_state = (int) store_int(s, 17);
    r->desired_power = dup_col(s, 18);
    r->delete_requested = store_int(s, 19) != 0;
    r->disk_generation = store_int(s, 20);
    r->rescue_image = json_col(s, 21);
    r->resize_state = dup_col(s, 22);
    r->locked = store_int(s, 23) != 0;
    r->locked_reason = dup_col(s, 24);
    r->locked_by = dup_col(s, 25);
    r->launch_index = (int) store_int(s, 26);
    r->reservation_id = dup_col(s, 27);
    r->fault = json_col(s, 28);
    r->access_ipv4 = dup_col(s, 29);
    r->access_ipv6 = dup_col(s, 30);
    r->launched_at = store_int(s, 31);
    r->terminated_at = store_int(s, 32);
    r->created_at = store_int(s, 33);
    r->updated_at = store_int(s, 34);
    r->hypervisor_hostname = dup_col(s, 35);
    r->host_up = !store_isnull(s, 36) && host_is_up(store_int(s, 36), conf);
    if (!r->image)
        r->image = json_object();
    if (!r->flavor)
        r->flavor = json_object();
}

void server_rec_release(struct server_rec *r)
{
    char **strs[] = {&r->id,        &r->name,          &r->description,   &r->hostname,
                     &r->project_id, &r->user_id,      &r->host,          &r->image_id,
                     &r->key_name,  &r->user_data,     &r->availability_zone, &r->vm_state,
                     &r->task_state, &r->desired_power, &r->resize_state,  &r->locked_reason,
                     &r->locked_by, &r->reservation_id, &r->access_ipv4,   &r->access_ipv6,
                     &r->hypervisor_hostname};
    for (size_t i = 0; i < ST_ARRAY_SIZE(strs); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    json_decref(r->image);
    json_decref(r->flavor);
    json_decref(r->old_flavor);
    json_decref(r->rescue_image);
    json_decref(r->fault);
    json_decref(r->metadata);
    json_decref(r->tags);
    json_decref(r->addresses);
    json_decref(r->security_groups);
    r->image = r->flavor = r->old_flavor = r->rescue_image = r->fault = NULL;
    r->metadata = r->tags = r->addresses = r->security_groups = NULL;
}

static int load_extras(struct store_conn *c, struct server_rec *r, struct st_err *err)
{
    struct store_stmt *s;
    int rc;
    r->metadata = json_object();
    r->tags = json_array();
    s = store_query(c, err, "SELECT key, value FROM server_metadata WHERE server_id = ?",
                    STORE_ARGS(P(r->id)));
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0)
        json_object_set_new(r->metadata, store_text(s, 0), json_string(store_text(s, 1)));
    store_done(s);
    if (rc < 0)
        return -1;
    s = store_query(c, err, "SELECT tag FROM server_tags WHERE server_id = ? ORDER BY tag",
                    STORE_ARGS(P(r->id)));
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(r->tags, json_string(store_text(s, 0)));
    store_done(s);
    return rc < 0 ? -1 : 0;
}

/* The conf is needed only for host liveness; reads without one treat every
 * host as up. */
static const struct compute_conf default_conf = {16.0, 1.5, 1.0, 512, 60, 10, 20, 51200, 60,
                                                 "nova"};

static int load_raw(struct store_conn *c, const char *id, struct server_rec *r,
                    struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT " SERVER_COLUMNS " FROM servers s LEFT JOIN hosts"
                                       " h ON h.name = s.host WHERE s.id = ?",
                                       STORE_ARGS(P(id)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        fill_rec(s, &default_conf, r);
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Instance %s could not be found.", id);
        return -1;
    }
    if (load_extras(c, r, err) < 0) {
        server_rec_release(r);
        return -1;
    }
    return 0;
}

int server_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
               struct server_rec *out, struct st_err *err)
{
    memset(out, 0, sizeof(*out));
    if (load_raw(c, id, out, err) < 0)
        return -1;
    if (policy_read(ctx, out->project_id, "instance", id, err) < 0) {
        server_rec_release(out);
        st_err_clear(err);
        st_err_set(err, ST_ERR_NOT_FOUND, "Instance %s could not be found.", id);
        return -1;
    }
    return 0;
}

const char *server_status(const struct server_rec *r)
{
    const char *vm = r->vm_state ? r->vm_state : "";
    const char *task = r->task_state ? r->task_state : "";

    if (!strncmp(task, "rebuild", 7))
        return "REBUILD";
    if (!strcmp(vm, "building"))
        return "BUILD";
    if (!strcmp(vm, "active")) {
        if (!strcmp(task, "rebooting") || !strcmp(task, "reboot_pending") ||
            !strcmp(task, "reboot_started"))
            return "REBOOT";
        if (!strcmp(task, "rebooting_hard") || !strcmp(task, "reboot_pending_hard") ||
            !strcmp(task, "reboot_started_hard"))
            return "HARD_REBOOT";
        if (!strncmp(task, "resize_", 7) && strcmp(task, "resize_reverting"))
            return "RESIZE";
        if (!strcmp(task, "migrating"))
            return "MIGRATING";
        return "ACTIVE";
    }
    if (!strcmp(vm, "stopped"))
        return !strncmp(task, "resize_", 7) ? "RESIZE" : "SHUTOFF";
    if (!strcmp(vm, "paused"))
        return "PAUSED";
    if (!strcmp(vm, "suspended"))
        return "SUSPENDED";
    if (!strcmp(vm, "rescued"))
        return "RESCUE";
    if (!strcmp(vm, "resized"))
        return !strcmp(task, "resize_reverting") ? "REVERT_RESIZE" : "VERIFY_RESIZE";
    if (!strcmp(vm, "error"))
        return "ERROR";
    if (!strcmp(vm, "deleted"))
        return "DELETED";
    return "UNKNOWN";
}

/* ---- instance actions --------------------------------------------------- */

/* Records an action and its single event, started now. */
static int action_start(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
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

/* ---- quotas ------------------------------------------------------------- */

static const char *const quota_resources[] = {"instances", "cores", "ram"};

int64_t compute_quota_limit(struct store_conn *c, const struct compute_conf *conf,
                            const char *project_id, const char *resource, struct st_err *err)
{
    int64_t v = -1;
    int rc = store_get_int(c, err, &v,
                           "SELECT hard_limit FROM quotas WHERE project_id = ? AND resource = ?",
                           STORE_ARGS(P(project_id), P(resource)));
    if (rc < 0)
        return INT64_MIN;
    if (rc > 0)
        return v;
    if (!strcmp(resource, "instances"))
        return conf->default_quota_instances;
    if (!strcmp(resource, "cores"))
        return conf->default_quota_cores;
    return conf->default_quota_ram;
}

static int quota_used(struct store_conn *c, const char *project_id, int64_t used[3],
                      struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT COUNT(*), COALESCE(SUM(vcpus), 0),"
                                       " COALESCE(SUM(memory_mb), 0) FROM servers WHERE"
                                       " project_id = ?",
                                       STORE_ARGS(P(project_id)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        for (int i = 0; i < 3; i++)
            used[i] = store_int(s, i);
    store_done(s);
    return rc < 0 ? -1 : 0;
}

json_t *compute_quota_usage(struct store_conn *c, const struct compute_conf *conf,
                            const char *project_id, struct st_err *err)
{
    int64_t used[3] = {0, 0, 0};
    json_t *o;
    if (quota_used(c, project_id, used, err) < 0)
        return NULL;
    o = json_object();
    for (int i = 0; i < 3; i++) {
        int64_t lim = compute_quota_limit(c, conf, project_id, quota_resources[i], err);
        if (lim == INT64_MIN) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, quota_resources[i],
                            json_pack("{s:I, s:I, s:i}", "limit", (json_int_t) lim, "in_use",
                                      (json_int_t) used[i], "reserved", 0));
    }
    return o;
}

int compute_quota_set(struct store_conn *c, const char *project_id, const char *resource,
                      int64_t limit, struct st_err *err)
{
    return store_exec(c, err,
                      "INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)"
                      " ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit ="
                      " excluded.hard_limit",
                      STORE_ARGS(P(project_id), P(resource), P(limit))) < 0
               ? -1
               : 0;
}

/* OVER_QUOTA naming the first resource the request would exceed. */
static int quota_check(struct store_conn *c, const struct compute_conf *conf,
                       const char *project_id, int64_t n, int64_t vcpus, int64_t ram,
                       struct st_err *err)
{
    int64_t used[3], want[3] = {n, vcpus, ram};
    if (quota_used(c, project_id, used, err) < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        int64_t lim = compute_quota_limit(c, conf, project_id, quota_resources[i], err);
        if (lim == INT64_MIN)
            return -1;
        if (lim >= 0 && want[i] > 0 && used[i] + want[i] > lim) {
            st_err_set(err, ST_ERR_OVER_QUOTA,
                       "Quota exceeded for %s: Requested %lld, but already used %lld of %lld "
                       "%s",
                       quota_resources[i], (long long) want[i], (long long) used[i],
                       (long long) lim, quota_resources[i]);
            return -1;
        }
    }
    return 0;
}

/* ---- creation ----------------------------------------------------------- */

/* A hostname as Nova accepts it from 2.90: an RFC 1123 label. */
static int check_hostname(const char *h, struct st_err *err)
{
    size_t n = strlen(h);
    bool ok = n > 0 && n <= 63 && h[0] != '-' && h[n - 1] != '-';
    for (const char *p = h; ok && *p; p++)
        ok = isalnum((unsigned char) *p) || *p == '-';
    if (!ok)
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field 'hostname': '%s' is not a valid hostname", h);
    return ok ? 0 : -1;
}

/* Nova's sanitised hostname: lower case, [a-z0-9-], at most 63. */
static void make_hostname(const char *name, char out[64])
{
    size_t n = 0;
    bool dash = false;
    for (const char *p = name; *p && n < 63; p++) {
        unsigned char ch = (unsigned char) *p;
        if (isalnum(ch)) {
            out[n++] = (char) tolower(ch);
            dash = false;
        } else if ((ch == '-' || ch == ' ' || ch == '_' || ch == '.') && n && !dash) {
            out[n++] = '-';
            dash = true;
        }
    }
    while (n && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    if (!n)
        ST_IGNORE(st_snprintf(out, 64, "server"));
}

/* The flavor the caller may use (compute/flavor.c decides who sees which), as
 * the JSON copy a server keeps; 400 for an unknown or disabled one, as Nova
 * answers a bad flavorRef. */
static json_t *flavor_for_boot(struct store_conn *c, const struct auth_ctx *ctx,
                               const char *ref, struct st_err *err)
{
    const char *id = strrchr(ref, '/') ? strrchr(ref, '/') + 1 : ref;
    struct st_err local = ST_ERR_INIT;
    json_t *f = flavor_get(c, ctx, id, &local);
    if (!f) {
        if (local.kind != ST_ERR_NOT_FOUND) {
            *err = local;
            return NULL;
        }
        st_err_set(err, ST_ERR_BAD_REQUEST, "Flavor %s could not be found.", id);
        return NULL;
    }
    if (json_is_true(json_object_get(f, "disabled"))) {
        json_decref(f);
        st_err_set(err, ST_ERR_BAD_REQUEST, "Flavor %s is disabled.", id);
        return NULL;
    }
    if (!json_is_object(json_object_get(f, "extra_specs")))
        json_object_set_new(f, "extra_specs", json_object());
    return f;
}

/* Image metadata as the agent needs it: a subset of the Glance record. */
static json_t *image_meta(json_t *img)
{
    json_t *props = json_object(), *v;
    const char *k;
    static const char *const core[] = {"id", "name", "status", "visibility", "owner", "size",
                                       "virtual_size", "checksum", "os_hash_algo",
                                       "os_hash_value", "disk_format", "container_format",
                                       "min_disk", "min_ram", "protected", "os_hidden", "tags",
                                       "created_at", "updated_at", "self", "file", "schema"};
    json_object_foreach(img, k, v)
    {
        bool is_core = false;
        for (size_t i = 0; i < ST_ARRAY_SIZE(core); i++)
            is_core |= !strcmp(k, core[i]);
        if (!is_core && json_is_string(v))
            json_object_set(props, k, v);
    }
    return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:o}", "id",
                     json_object_get(img, "id"), "name", json_object_get(img, "name"),
                     "disk_format", json_object_get(img, "disk_format"), "container_format",
                     json_object_get(img, "container_format"), "size",
                     json_object_get(img, "size"), "checksum", json_object_get(img, "checksum"),
                     "min_disk", json_object_get(img, "min_disk"), "min_ram",
                     json_object_get(img, "min_ram"), "properties", props);
}

/* An active image the caller may boot, with its kernel and ramdisk:
 * {"image": ..., "kernel": ... | null, "ramdisk": ... | null}. */
static json_t *boot_images(struct store_conn *c, const struct auth_ctx *ctx, const char *ref,
                           struct st_err *err)
{
    const char *id = strrchr(ref, '/') ? strrchr(ref, '/') + 1 : ref;
    struct st_err local = ST_ERR_INIT;
    json_t *img, *out;
    const char *parts[] = {"kernel_id", "ramdisk_id"};
    const char *names[] = {"kernel", "ramdisk"};

    img = st_is_uuid(id) ? image_get(c, ctx, id, &local) : NULL;
    if (!img || strcmp(json_string_value(json_object_get(img, "status")), "active")) {
        json_decref(img);
        if (local.kind != ST_ERR_NONE && local.kind != ST_ERR_NOT_FOUND) {
            *err = local;
            return NULL;
        }
        st_err_set(err, ST_ERR_BAD_REQUEST, "Image %s could not be found.", id);
        return NULL;
    }
    out = json_pack("{s:o}", "image", image_meta(img));
    for (int i = 0; i < 2; i++) {
        const char *pid = json_string_value(json_object_get(img, parts[i]));
        json_t *p;
        if (!pid || !*pid) {
            json_object_set_new(out, names[i], json_null());
            continue;
        }
        st_err_clear(&local);
        p = st_is_uuid(pid) ? image_get(c, ctx, pid, &local) : NULL;
        if (!p || strcmp(json_string_value(json_object_get(p, "status")), "active")) {
            json_decref(p);
            json_decref(out);
            json_decref(img);
            st_err_set(err, ST_ERR_BAD_REQUEST, "Image %s refers to %s %s, which could not be "
                       "found.", id, names[i], pid);
            return NULL;
        }
        json_object_set_new(out, names[i], image_meta(p));
        json_decref(p);
    }
    json_decref(img);
    return out;
}

static int check_metadata(json_t *meta, struct st_err *err)
{
    const char *k;
    json_t *v;
    if (!meta)
        return 0;
    if (!json_is_object(meta)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'metadata': not an object");
        return -1;
    }
    if (json_object_size(meta) > SERVER_MAX_METADATA) {
        st_err_set(err, ST_ERR_OVER_QUOTA, "Quota exceeded for metadata_items: at most %d",
                   SERVER_MAX_METADATA);
        return -1;
    }
    json_object_foreach(meta, k, v)
    {
        if (!*k || strlen(k) > 255 || !json_is_string(v) || json_string_length(v) > 255) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field 'metadata': keys must be 1-255 characters and "
                       "values strings of at most 255");
            return -1;
        }
    }
    return 0;
}

static int set_metadata(struct store_conn *c, const char *id, json_t *meta, struct st_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        if (store_exec(c, err,
                       "INSERT INTO server_metadata (server_id, key, value) VALUES (?, ?, ?)"
                       " ON CONFLICT (server_id, key) DO UPDATE SET value = excluded.value",
                       STORE_ARGS(P(id), P(k), P(json_string_value(v)))) < 0)
            return -1;
    }
    return 0;
}

static json_t *fault_json(int code, const char *message, const char *details)
{
    char t[32];
    st_time_iso(st_now_us(), 0, t);
    return json_pack("{s:i, s:s, s:s, s:s}", "code", code, "message", message, "details",
                     details ? details : "", "created", t);
}

static char *dumps(json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

json_t *server_create(struct store_conn *c, const struct compute_conf *conf,
                      const struct auth_ctx *ctx, const struct server_create *req,
                      struct st_err *err)
{
    json_t *images = NULL, *flavor = NULL, *ids = NULL;
    char *key_data = NULL, *flavor_text = NULL, *image_text = NULL;
    char reservation[16], hostname[64];
    int64_t vcpus, ram, disk, root, min_disk, min_ram, now = st_now_us() / 1000000;
    const char *az = req->availability_zone;

    if (policy_write(ctx, ctx->project_id, "project", ctx->project_id, err) < 0)
        return NULL;
    if (check_metadata(req->metadata, err) < 0)
        return NULL;
    if (req->hostname && check_hostname(req->hostname, err) < 0)
        return NULL;
    if (req->user_data) {
        struct st_buf ud = ST_BUF_INIT;
        int bad = st_base64_decode(req->user_data, strlen(req->user_data), &ud) < 0;
        size_t n = ud.len;
        st_buf_release(&ud);
        if (bad || n > SERVER_MAX_USER_DATA) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "User data must be valid base64 of at most %d bytes once decoded",
                       SERVER_MAX_USER_DATA);
            return NULL;
        }
    }
    struct compute_nic_request nics[16];
    size_t nnics = 0;
    if (json_is_string(req->networks) && !strcmp(json_string_value(req->networks), "auto")) {
        nics[nnics++] = (struct compute_nic_request){"auto", NULL, NULL};
    } else if (json_is_array(req->networks)) {
        size_t i;
        json_t *n;
        if (json_array_size(req->networks) > ST_ARRAY_SIZE(nics)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "At most %zu networks per server",
                       ST_ARRAY_SIZE(nics));
            return NULL;
        }
        json_array_foreach(req->networks, i, n)
        {
            const char *uuid = json_string_value(json_object_get(n, "uuid"));
            const char *port = json_string_value(json_object_get(n, "port"));
            const char *fixed = json_string_value(json_object_get(n, "fixed_ip"));
            if (!json_is_object(n) || (!uuid && !port) ||
                (uuid && !st_is_uuid(uuid)) || (port && !st_is_uuid(port))) {
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "Invalid input for field 'networks': each needs a uuid or a port");
                return NULL;
            }
            nics[nnics++] = (struct compute_nic_request){uuid, port, fixed};
        }
    }
    images = boot_images(c, ctx, req->image_ref, err);
    if (!images)
        goto fail;
    flavor = flavor_for_boot(c, ctx, req->flavor_ref, err);
    if (!flavor)
        goto fail;
    vcpus = json_integer_value(json_object_get(flavor, "vcpus"));
    ram = json_integer_value(json_object_get(flavor, "ram"));
    root = json_integer_value(json_object_get(flavor, "disk"));
    disk = root + json_integer_value(json_object_get(flavor, "ephemeral")) +
           (json_integer_value(json_object_get(flavor, "swap")) + 1023) / 1024;
    {
        json_t *img = json_object_get(images, "image");
        int64_t img_size = json_integer_value(json_object_get(img, "size"));
        min_disk = json_integer_value(json_object_get(img, "min_disk"));
        min_ram = json_integer_value(json_object_get(img, "min_ram"));
        if (root > 0 && min_disk > root) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Flavor's disk is too small for requested image. Flavor disk is "
                       "%lld GiB, minimum disk is %lld GiB.",
                       (long long) root, (long long) min_disk);
            goto fail;
        }
        if (root > 0 && img_size > root * 1024 * 1024 * 1024) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Flavor's disk is too small for requested image. Flavor disk is "
                       "%lld bytes, image is %lld bytes.",
                       (long long) (root * 1024 * 1024 * 1024), (long long) img_size);
            goto fail;
        }
        if (min_ram > ram) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Flavor's memory is too small for requested image.");
            goto fail;
        }
    }
    if (req->key_name) {
        struct store_stmt *s = store_query(c, err,
                                           "SELECT public_key FROM keypairs WHERE user_id = ?"
                                           " AND name = ?",
                                           STORE_ARGS(P(ctx->user_id), P(req->key_name)));
        if (!s)
            goto fail;
        if (store_next(s, err) > 0)
            key_data = st_xstrdup(store_text(s, 0));
        store_done(s);
        if (!key_data) {
            if (!st_err_is_set(err))
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid key_name provided.");
            goto fail;
        }
    }
    if (az && *az) {
        int64_t one;
        int r = store_get_int(c, err, &one,
                              "SELECT 1 FROM hosts WHERE availability_zone = ? LIMIT 1",
                              STORE_ARGS(P(az)));
        if (r < 0)
            goto fail;
        if (r == 0 && strcmp(az, conf->default_az)) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "The requested availability zone is not available");
            goto fail;
        }
    } else {
        az = NULL;
    }

    flavor_text = dumps(flavor);
    image_text = dumps(images);
    snprintf(reservation, sizeof(reservation), "r-%08x", (unsigned) (st_now_us() & 0xffffffff));
    if (store_begin(c, err) < 0)
        goto fail;
    if (quota_check(c, conf, ctx->project_id, req->max_count, vcpus * req->max_count,
                    ram * req->max_count, err) < 0) {
        /* Nova tries min_count before giving up. */
        if (err->kind != ST_ERR_OVER_QUOTA || req->min_count == req->max_count)
            goto rollback;
        st_err_clear(err);
        if (quota_check(c, conf, ctx->project_id, req->min_count, vcpus * req->min_count,
                        ram * req->min_count, err) < 0)
            goto rollback;
    }
    ids = json_array();
    for (int i = 0; i < req->max_count; i++) {
        char id[37];
        struct st_buf name = ST_BUF_INIT;
        char host[HOST_NAME_MAX_LEN + 1] = "";
        const char *vm_state = "building", *task_state = "spawning";
        char *fault = NULL;
        struct sched_request sr = {vcpus, ram, disk, az};
        st_err_clear(err);
        st_uuid(id);
        if (req->max_count > 1)
            st_buf_addf(&name, "%s-%d", req->name, i + 1);
        else
            st_buf_adds(&name, req->name);
        if (req->hostname && req->max_count == 1)
            ST_IGNORE(st_snprintf(hostname, sizeof(hostname), "%s", req->hostname));
        else
            make_hostname(name.buf, hostname);
        int r = sched_claim(c, conf, &sr, host, sizeof(host), err);
        if (r < 0) {
            st_buf_release(&name);
            goto rollback;
        }
        if (r == 0) {
            json_t *f = fault_json(500, "No valid host was found. ",
                                   "There are not enough hosts available.");
            vm_state = "error";
            task_state = NULL;
            fault = dumps(f);
            json_decref(f);
        }
        int64_t rc = store_exec(
            c, err,
            "INSERT INTO servers (id, name, description, hostname, project_id, user_id, host,"
            " image_id, image, flavor, vcpus, memory_mb, disk_gb, key_name, key_data, user_data,"
            " config_drive, availability_zone, vm_state, task_state, launch_index,"
            " reservation_id, fault, access_ipv4, access_ipv6, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?)",
            STORE_ARGS(P(id), P(name.buf), P(req->description), P(hostname), P(ctx->project_id),
                       P(ctx->user_id), P(r > 0 ? host : NULL),
                       P(json_string_value(
                           json_object_get(json_object_get(images, "image"), "id"))),
                       P(image_text), P(flavor_text), P(vcpus), P(ram), P(disk),
                       P(req->key_name), P(key_data), P(req->user_data),
                       P((int) req->config_drive), P(az ? az : conf->default_az), P(vm_state),
                       P(task_state), P(i), P(reservation), P(fault), P(req->access_ipv4),
                       P(req->access_ipv6), P(now), P(now)));
        free(fault);
        st_buf_release(&name);
        if (rc < 0 || set_metadata(c, id, req->metadata ? req->metadata : NULL, err) < 0)
            goto rollback;
        if (compute_ports_create(c, ctx, id, r > 0 ? host : NULL, az ? az : conf->default_az,
                                 nics, nnics, req->security_groups, err) < 0)
            goto rollback;
        for (size_t t = 0; req->tags && t < json_array_size(req->tags); t++)
            if (store_exec(c, err,
                           "INSERT INTO server_tags (server_id, tag) VALUES (?, ?)"
                           " ON CONFLICT DO NOTHING",
                           STORE_ARGS(P(id), P(json_string_value(
                                                 json_array_get(req->tags, t))))) < 0)
                goto rollback;
        if (action_start(c, ctx, id, r > 0 ? host : NULL, "create", req->request_id, err) < 0)
            goto rollback;
        if (r == 0 &&
            server_actions_finish(c, id, "Error", "No valid host was found.", err) < 0)
            goto rollback;
        if (r > 0 && revision_bump(c, host, err) < 0)
            goto rollback;
        json_array_append_new(ids, json_string(id));
    }
    if (store_commit(c, err) < 0)
        goto rollback;
    revision_notify();
    goto out;
rollback:
    store_rollback(c);
fail:
    json_decref(ids);
    ids = NULL;
out:
    json_decref(images);
    json_decref(flavor);
    free(key_data);
    free(flavor_text);
    free(image_text);
    return ids;
}

/* ---- listing ------------------------------------------------------------ */

void server_query_init(struct server_query *q)
{
    memset(q, 0, sizeof(*q));
    q->changes_since = -1;
    q->limit = -1;
    q->sort_key = "created_at";
}

void server_list_free(struct server_rec *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        server_rec_release(&recs[i]);
    free(recs);
}

/* Nova status -> the vm_state it stands for (for the status filter). */
static const char *status_vm_state(const char *status)
{
    static const struct {
        const char *status, *vm;
    } map[] = {{"ACTIVE", "active"},   {"BUILD", "building"},     {"SHUTOFF", "stopped"},
               {"PAUSED", "paused"},   {"SUSPENDED", "suspended"}, {"RESCUE", "rescued"},
               {"ERROR", "error"},     {"VERIFY_RESIZE", "resized"}, {"DELETED", "deleted"},
               {"REBOOT", "active"},   {"HARD_REBOOT", "active"}, {"RESIZE", "active"},
               {"REBUILD", "active"}};
    for (size_t i = 0; i < ST_ARRAY_SIZE(map); i++)
        if (!strcasecmp(status, map[i].status))
            return map[i].vm;
    return NULL;
}

int server_list(struct store_conn *c, const struct compute_conf *conf, const struct auth_ctx *ctx,
                const struct server_query *q, struct server_rec **out, size_t *n, bool *more,
                struct st_err *err)
{
    struct st_buf sql = ST_BUF_INIT;
    struct store_param p[STORE_MAX_PARAMS];
    size_t np = 0, alloc = 0;
    struct store_stmt *s = NULL;
    struct server_rec *recs = NULL;
    regex_t re;
    bool have_re = false, found_marker = !q->marker;
    int rc = -1, step;
    static const char *const sort_keys[] = {"created_at", "name", "updated_at", "id",
                                            "vm_state", "task_state", "launched_at",
                                            "hostname", "host", "display_name", "uuid"};

    *out = NULL;
    *n = 0;
    *more = false;
    st_buf_adds(&sql, "SELECT " SERVER_COLUMNS " FROM servers s LEFT JOIN hosts h ON"
                      " h.name = s.host WHERE 1 = 1");
    if (!ctx->is_admin || !q->all_tenants) {
        st_buf_adds(&sql, " AND s.project_id = ?");
        p[np++] = store_ptext(ctx->is_admin && q->project_id ? q->project_id : ctx->project_id);
    } else if (q->project_id) {
        st_buf_adds(&sql, " AND s.project_id = ?");
        p[np++] = store_ptext(q->project_id);
    }
    if (q->status) {
        const char *vm = status_vm_state(q->status);
        st_buf_adds(&sql, " AND s.vm_state = ?");
        p[np++] = store_ptext(vm ? vm : "no-such-state");
    }
    if (q->image) {
        st_buf_adds(&sql, " AND s.image_id = ?");
        p[np++] = store_ptext(strrchr(q->image, '/') ? strrchr(q->image, '/') + 1 : q->image);
    }
    if (q->host && ctx->is_admin) {
        st_buf_adds(&sql, " AND s.host = ?");
        p[np++] = store_ptext(q->host);
    }
    if (q->changes_since >= 0) {
        st_buf_adds(&sql, " AND s.updated_at >= ?");
        p[np++] = store_pint(q->changes_since);
    }
    {
        const char *key = "created_at";
        for (size_t i = 0; q->sort_key && i < ST_ARRAY_SIZE(sort_keys); i++)
            if (!strcmp(q->sort_key, sort_keys[i]))
                key = sort_keys[i];
        if (q->sort_key && strcmp(key, q->sort_key)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid sort key: %s", q->sort_key);
            goto out;
        }
        if (!strcmp(key, "display_name"))
            key = "name";
        if (!strcmp(key, "uuid"))
            key = "id";
        st_buf_addf(&sql, " ORDER BY s.%s %s, s.id %s", key, q->sort_asc ? "ASC" : "DESC",
                    q->sort_asc ? "ASC" : "DESC");
    }
    if (q->name_regex) {
        if (regcomp(&re, q->name_regex, REG_EXTENDED | REG_NOSUB) != 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid name filter regex: %s", q->name_regex);
            goto out;
        }
        have_re = true;
    }
    s = store_query(c, err, sql.buf, p, np);
    if (!s)
        goto out;
    while ((step = store_next(s, err)) > 0) {
        struct server_rec r;
        if (!found_marker) {
            found_marker = !strcmp(store_text(s, 0), q->marker);
            continue;
        }
        if (have_re && regexec(&re, store_text(s, 1), 0, NULL, 0) != 0)
            continue;
        if (q->flavor) {
            json_t *f = json_col(s, 9);
            bool match = f && st_streq(json_string_value(json_object_get(f, "id")), q->flavor);
            json_decref(f);
            if (!match)
                continue;
        }
        if (q->limit >= 0 && (int64_t) *n >= q->limit) {
            *more = true;
            break;
        }
        fill_rec(s, conf, &r);
        if (*n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            recs = st_xrealloc(recs, alloc * sizeof(*recs));
        }
        recs[(*n)++] = r;
    }
    store_done(s);
    s = NULL;
    if (step < 0)
        goto out;
    if (!found_marker) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "marker [%s] not found", q->marker);
        goto out;
    }
    for (size_t i = 0; i < *n; i++)
        if (load_extras(c, &recs[i], err) < 0)
            goto out;
    rc = 0;
out:
    store_done(s);
    if (have_re)
        regfree(&re);
    st_buf_release(&sql);
    if (rc < 0) {
        server_list_free(recs, *n);
        *n = 0;
        recs = NULL;
    }
    *out = recs;
    return rc;
}

/* ---- changes ------------------------------------------------------------ */

static int check_lock(const struct auth_ctx *ctx, const struct server_rec *r, struct st_err *err)
{
    if (r->locked && !ctx->is_admin) {
        st_err_set(err, ST_ERR_CONFLICT, "Instance %s is locked", r->id);
        return -1;
    }
    return 0;
}

static int load_writable(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         struct server_rec *r, struct st_err *err)
{
    if (server_get(c, ctx, id, r, err) < 0)
        return -1;
    if (policy_write(ctx, r->project_id, "instance", id, err) < 0) {
        server_rec_release(r);
        return -1;
    }
    return 0;
}

int server_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                  const char *name, const char *hostname, const char *description,
                  bool set_description, struct st_err *err)
{
    struct server_rec r;
    int rc = -1;
    int64_t now = st_now_us() / 1000000;
    if (load_writable(c, ctx, id, &r, err) < 0)
        return -1;
    if (check_lock(ctx, &r, err) < 0)
        goto out;
    if (store_begin(c, err) < 0)
        goto out;
    if (hostname && check_hostname(hostname, err) < 0) {
        store_rollback(c);
        goto out;
    }
    if ((name && store_exec(c, err, "UPDATE servers SET name = ?, updated_at = ? WHERE id = ?",
                            STORE_ARGS(P(name), P(now), P(id))) < 0) ||
        (hostname &&
         store_exec(c, err, "UPDATE servers SET hostname = ?, updated_at = ? WHERE id = ?",
                    STORE_ARGS(P(hostname), P(now), P(id))) < 0) ||
        (set_description &&
         store_exec(c, err, "UPDATE servers SET description = ?, updated_at = ? WHERE id = ?",
                    STORE_ARGS(P(description), P(now), P(id))) < 0) ||
        store_commit(c, err) < 0) {
        store_rollback(c);
        goto out;
    }
    rc = 0;
out:
    server_rec_release(&r);
    return rc;
}

int server_purge(struct store_conn *c, const char *id, struct st_err *err)
{
    return compute_ports_release(c, id, err) < 0 ||
                   store_exec(c, err, "DELETE FROM tasks WHERE server_id = ?",
                              STORE_ARGS(P(id))) < 0 ||
                   server_actions_finish(c, id, "Success", NULL, err) < 0 ||
                   store_exec(c, err, "DELETE FROM servers WHERE id = ?", STORE_ARGS(P(id))) < 0
               ? -1
               : 0;
}

int server_delete(struct store_conn *c, const struct compute_conf *conf,
                  const struct auth_ctx *ctx, const char *id, bool force, const char *request_id,
                  struct st_err *err)
{
    struct server_rec r;
    int rc = -1;
    (void) conf;
    (void) force;
    if (load_writable(c, ctx, id, &r, err) < 0)
        return -1;
    if (check_lock(ctx, &r, err) < 0)
        goto out;
    if (store_begin(c, err) < 0)
        goto out;
    if (action_start(c, ctx, id, r.host, "delete", request_id, err) < 0)
        goto rollback;
    if (!r.host) {
        if (server_purge(c, id, err) < 0)
            goto rollback;
    } else if (store_exec(c, err,
                          "UPDATE servers SET delete_requested = 1, task_state = 'deleting',"
                          " updated_at = ? WHERE id = ?",
                          STORE_ARGS(P(st_now_us() / 1000000), P(id))) < 0 ||
               revision_bump(c, r.host, err) < 0) {
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
    server_rec_release(&r);
    return rc;
}

int server_metadata_set(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        json_t *meta, bool replace, struct st_err *err)
{
    struct server_rec r;
    int rc = -1;
    if (check_metadata(meta, err) < 0 || load_writable(c, ctx, id, &r, err) < 0)
        return -1;
    if (check_lock(ctx, &r, err) < 0)
        goto out;
    if (!replace && json_object_size(r.metadata) + json_object_size(meta) >
                        SERVER_MAX_METADATA) {
        json_t *merged = json_deep_copy(r.metadata);
        json_object_update(merged, meta);
        size_t total = json_object_size(merged);
        json_decref(merged);
        if (total > SERVER_MAX_METADATA) {
            st_err_set(err, ST_ERR_OVER_QUOTA, "Quota exceeded for metadata_items: at most %d",
                       SERVER_MAX_METADATA);
            goto out;
        }
    }
    if (store_begin(c, err) < 0)
        goto out;
    if ((replace && store_exec(c, err, "DELETE FROM server_metadata WHERE server_id = ?",
                               STORE_ARGS(P(id))) < 0) ||
        set_metadata(c, id, meta, err) < 0 ||
        store_exec(c, err, "UPDATE servers SET updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(st_now_us() / 1000000), P(id))) < 0 ||
        (r.host && revision_bump(c, r.host, err) < 0) || store_commit(c, err) < 0) {
        store_rollback(c);
        goto out;
    }
    revision_notify();
    rc = 0;
out:
    server_rec_release(&r);
    return rc;
}

int server_metadata_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           const char *key, struct st_err *err)
{
    struct server_rec r;
    int64_t n;
    int rc = -1;
    if (load_writable(c, ctx, id, &r, err) < 0)
        return -1;
    if (check_lock(ctx, &r, err) < 0)
        goto out;
    n = store_exec(c, err, "DELETE FROM server_metadata WHERE server_id = ? AND key = ?",
                   STORE_ARGS(P(id), P(key)));
    if (n == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Metadata item was not found");
    rc = n > 0 ? 0 : -1;
out:
    server_rec_release(&r);
    return rc;
}

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
    char *text = dumps(args);
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
    if (meta && check_metadata(meta, err) < 0)
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
    }
    if (server_get(c, ctx, id, &r, err) < 0)
        return -1;
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
    } else if (kind != SA_LOCK && kind != SA_CONSOLE_OUTPUT && check_lock(ctx, &r, err) < 0) {
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
    if (action_start(c, ctx, id, r.host, name, request_id, err) < 0)
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
        if (meta && check_metadata(meta, err) < 0)
            goto rollback;
        images = boot_images(c, ctx, ref, err);
        if (!images)
            goto rollback;
        text = dumps(images);
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
                     set_metadata(c, id, meta, err) < 0))
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
        images = boot_images(c, ctx, ref ? ref : (r.image_id ? r.image_id : ""), err);
        if (!images)
            goto rollback;
        text = dumps(images);
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
        nf = flavor_for_boot(c, ctx, ref, err);
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
        if (quota_check(c, conf, r.project_id, 0, nv > ov ? nv - ov : 0,
                        nr > orr ? nr - orr : 0, err) < 0) {
            json_decref(nf);
            goto rollback;
        }
        int fits = sched_fits(c, conf, r.host, id,
                              &(struct sched_request){nv, nr,
                                                     nd + json_integer_value(json_object_get(
                                                              nf, "ephemeral")) +
                                                         (json_integer_value(json_object_get(
                                                              nf, "swap")) + 1023) / 1024,
                                                     NULL},
                              err);
        if (fits <= 0) {
            json_decref(nf);
            if (fits == 0)
                st_err_set(err, ST_ERR_BAD_REQUEST, "No valid host was found. The host of "
                                                    "the server has no room for flavor %s.",
                           ref);
            goto rollback;
        }
        ntext = dumps(nf);
        otext = dumps(r.flavor);
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
    case SA_CONFIRM_RESIZE:
        if (store_exec(c, err,
                       "UPDATE servers SET resize_state = 'confirming', vm_state = CASE"
                       " desired_power WHEN 'stopped' THEN 'stopped' ELSE 'active' END,"
                       " old_flavor = NULL WHERE id = ?",
                       STORE_ARGS(P(id))) < 0 ||
            server_actions_finish(c, id, "Success", NULL, err) < 0)
            goto rollback;
        break;
    case SA_REVERT_RESIZE: {
        int64_t ov, orr, od;
        char *otext;
        if (!r.old_flavor) {
            conflict_state(&r, name, err);
            goto rollback;
        }
        ov = json_integer_value(json_object_get(r.old_flavor, "vcpus"));
        orr = json_integer_value(json_object_get(r.old_flavor, "ram"));
        od = json_integer_value(json_object_get(r.old_flavor, "disk")) +
             json_integer_value(json_object_get(r.old_flavor, "ephemeral")) +
             (json_integer_value(json_object_get(r.old_flavor, "swap")) + 1023) / 1024;
        otext = dumps(r.old_flavor);
        /* The current flavor becomes the one being reverted from. */
        char *ctext = dumps(r.flavor);
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

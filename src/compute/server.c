/*
 * server.c - Nova servers as records: loading one (server_get) or a page of
 * them (server_list) for the API views, and Nova's status of a record.
 * Beside it: server_lifecycle.c creates, updates and deletes servers,
 * server_action.c runs their actions and keeps the instance-action log,
 * quota.c counts what a project uses.
 */
#include "compute/server.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/util.h"
#include "compute/host.h"
#include "compute/internal.h"
#include "common/banned.h"

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
        if (!strcmp(task, "resize_reverting"))
            return "REVERT_RESIZE"; /* until back where it was (Nova's too) */
        if (!strncmp(task, "resize_", 7))
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

/* ---- for the writers (server_lifecycle.c, server_action.c) -------------- */

int server_check_lock(const struct auth_ctx *ctx, const struct server_rec *r, struct st_err *err)
{
    if (r->locked && !ctx->is_admin) {
        st_err_set(err, ST_ERR_CONFLICT, "Instance %s is locked", r->id);
        return -1;
    }
    return 0;
}

int server_load_writable(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
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


/*
 * migrations.c (api) - Nova's migration API and the agents' migration file
 * transfer (migrations.h).  Shapes follow Nova's views and Tempest's
 * schemas (compute v2_1, v2_23, v2_59 migrations.list_migrations): the
 * fields that a microversion adds appear from that microversion on.
 */
#include "api/migrations.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "compute/migration.h"
#include "compute/server.h"
#include "store/revision.h"
#include "common/banned.h"

#define V21 "/compute/v2.1"
#define IV1 "/internal/v1"

static const struct compute_conf *conf_of(const struct api_req *req)
{
    return req->app->compute;
}

/* ---- actions ---------------------------------------------------------------- */

int migrations_is_action(const char *key)
{
    return !strcmp(key, "migrate") || !strcmp(key, "os-migrateLive") || !strcmp(key, "evacuate");
}

/* Checks that 'args' has only the keys in 'allowed' (NULL-terminated). */
static int only_keys(json_t *args, const char *action, const char *const *allowed,
                     struct st_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(args, k, v)
    {
        const char *const *a = allowed;
        while (*a && strcmp(*a, k))
            a++;
        if (!*a) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field/attribute %s. Value: %s. Additional properties"
                       " are not allowed ('%s' was unexpected)",
                       action, k, k);
            return -1;
        }
    }
    return 0;
}

/* A host member: absent, null or a host name. */
static int host_arg(json_t *args, const char *action, const char **host, struct st_err *err)
{
    json_t *h = json_object_get(args, "host");
    *host = NULL;
    if (!h || json_is_null(h))
        return 0;
    if (!json_is_string(h) || !*json_string_value(h) || strlen(json_string_value(h)) > 255) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute host of %s.",
                   action);
        return -1;
    }
    *host = json_string_value(h);
    return 0;
}

/* Nova's boolean parameter: true/false, or their strings. */
static int bool_arg(json_t *v, bool *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes") ||
            !strcasecmp(s, "on")) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no") ||
            !strcasecmp(s, "off")) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int check_migrate(const struct api_req *req, json_t *args, json_t *norm,
                         struct st_err *err)
{
    static const char *const keys[] = {"host", NULL};
    const char *host;
    if (json_is_null(args))
        return 0;
    if (!api_mv(req, 2, 56)) {
        if (json_object_size(args)) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field/attribute migrate. Value: %s. Additional"
                       " properties are not allowed",
                       "object");
            return -1;
        }
        return 0;
    }
    if (only_keys(args, "migrate", keys, err) < 0 || host_arg(args, "migrate", &host, err) < 0)
        return -1;
    if (host)
        json_object_set_new(norm, "host", json_string(host));
    return 0;
}

static int check_live(const struct api_req *req, json_t *args, json_t *norm, struct st_err *err)
{
    static const char *const old_keys[] = {"host", "block_migration", "disk_over_commit", NULL};
    static const char *const keys_25[] = {"host", "block_migration", NULL};
    static const char *const keys_30[] = {"host", "block_migration", "force", NULL};
    json_t *bm = json_object_get(args, "block_migration");
    const char *host;
    bool b = true, force = false;
    if (!json_is_object(args)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for os-migrateLive: expected an object");
        return -1;
    }
    if (only_keys(args, "os-migrateLive",
                  !api_mv(req, 2, 25)                          ? old_keys
                  : api_mv(req, 2, 30) && !api_mv(req, 2, 68) ? keys_30
                                                               : keys_25,
                  err) < 0)
        return -1;
    if (!json_object_get(args, "host") || !bm ||
        (!api_mv(req, 2, 25) && !json_object_get(args, "disk_over_commit"))) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for os-migrateLive: 'host' and 'block_migration'%s are"
                   " required",
                   api_mv(req, 2, 25) ? "" : " and 'disk_over_commit'");
        return -1;
    }
    if (host_arg(args, "os-migrateLive", &host, err) < 0)
        return -1;
    if (!(api_mv(req, 2, 25) && json_is_string(bm) && !strcmp(json_string_value(bm), "auto")) &&
        bool_arg(bm, &b) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute block_migration: expected %s",
                   api_mv(req, 2, 25) ? "a boolean or 'auto'" : "a boolean");
        return -1;
    }
    /* 'auto': the disks are local, so a block migration. */
    if (json_object_get(args, "force") && bool_arg(json_object_get(args, "force"), &force) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute force");
        return -1;
    }
    if (host)
        json_object_set_new(norm, "host", json_string(host));
    json_object_set_new(norm, "block_migration", json_boolean(b));
    return 0;
}

static int check_evacuate(const struct api_req *req, json_t *args, json_t *norm,
                          struct st_err *err)
{
    static const char *const old_keys[] = {"host", "adminPass", "onSharedStorage", NULL};
    static const char *const keys_14[] = {"host", "adminPass", NULL};
    static const char *const keys_29[] = {"host", "adminPass", "force", NULL};
    json_t *pass = json_object_get(args, "adminPass");
    const char *host;
    bool shared = false;
    if (!json_is_object(args)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for evacuate: expected an object");
        return -1;
    }
    if (only_keys(args, "evacuate",
                  !api_mv(req, 2, 14)                          ? old_keys
                  : api_mv(req, 2, 29) && !api_mv(req, 2, 68) ? keys_29
                                                               : keys_14,
                  err) < 0 ||
        host_arg(args, "evacuate", &host, err) < 0)
        return -1;
    if (!api_mv(req, 2, 14)) {
        if (bool_arg(json_object_get(args, "onSharedStorage"), &shared) < 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for evacuate: 'onSharedStorage' is required");
            return -1;
        }
        if (shared) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid state of instance files on shared storage: the hosts share no"
                       " instance storage.");
            return -1;
        }
    }
    if (pass && (!json_is_string(pass) || strlen(json_string_value(pass)) > 255)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute adminPass.");
        return -1;
    }
    if (host)
        json_object_set_new(norm, "host", json_string(host));
    if (pass)
        json_object_set(norm, "adminPass", pass);
    return 0;
}

int migrations_action(struct api_req *req, struct api_resp *resp, const char *key, json_t *args,
                      struct st_err *err)
{
    struct server_action_result res;
    enum server_action_kind kind = !strcmp(key, "migrate")          ? SA_MIGRATE
                                   : !strcmp(key, "os-migrateLive") ? SA_LIVE_MIGRATE
                                                                    : SA_EVACUATE;
    json_t *norm = json_object();
    int rc;
    if (!json_is_object(args) && !json_is_null(args)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for action '%s'", key);
        json_decref(norm);
        return -1;
    }
    rc = kind == SA_MIGRATE        ? check_migrate(req, args, norm, err)
         : kind == SA_LIVE_MIGRATE ? check_live(req, args, norm, err)
                                   : check_evacuate(req, args, norm, err);
    if (rc == 0)
        rc = server_action(req->db, conf_of(req), &req->auth, api_param(req, 0), kind, norm,
                           req->request_id, &res, err);
    json_decref(norm);
    if (rc < 0)
        return -1;
    if (kind == SA_EVACUATE)
        api_reply(resp, 200,
                  api_mv(req, 2, 14) || !res.admin_pass
                      ? NULL
                      : json_pack("{s:s}", "adminPass", res.admin_pass));
    else
        api_reply(resp, 202, NULL);
    server_action_result_release(&res);
    return 0;
}

/* ---- views -------------------------------------------------------------------- */

/* Nova prints migration times without a zone: 2016-06-23T14:42:02.000000. */
static json_t *mig_time(json_t *secs)
{
    char t[32];
    size_t n;
    st_time_iso(json_integer_value(secs) * 1000000, 6, t);
    n = strlen(t);
    if (n && t[n - 1] == 'Z')
        t[n - 1] = '\0';
    return json_string(t);
}

static void links(const struct api_req *req, json_t *o, json_t *m)
{
    struct st_buf self = ST_BUF_INIT, book = ST_BUF_INIT;
    const char *sid = json_string_value(json_object_get(m, "server_id"));
    json_int_t id = json_integer_value(json_object_get(m, "id"));
    st_buf_addf(&self, "%s%s/servers/%s/migrations/%lld", req->base_url.buf, V21, sid,
                (long long) id);
    st_buf_addf(&book, "%s/compute/servers/%s/migrations/%lld", req->base_url.buf, sid,
                (long long) id);
    json_object_set_new(o, "links",
                        json_pack("[{s:s, s:s}, {s:s, s:s}]", "href", self.buf, "rel", "self",
                                  "href", book.buf, "rel", "bookmark"));
    st_buf_release(&self);
    st_buf_release(&book);
}

/* An os-migrations entry as microversion 'req' shows it. */
static json_t *list_view(const struct api_req *req, json_t *m)
{
    const char *type = json_string_value(json_object_get(m, "migration_type"));
    const char *status = json_string_value(json_object_get(m, "status"));
    json_t *o = json_object();
    json_object_set(o, "id", json_object_get(m, "id"));
    json_object_set(o, "status", json_object_get(m, "status"));
    json_object_set(o, "instance_uuid", json_object_get(m, "server_id"));
    json_object_set(o, "source_node", json_object_get(m, "source_node"));
    json_object_set(o, "source_compute", json_object_get(m, "source_compute"));
    json_object_set(o, "dest_node", json_object_get(m, "dest_node"));
    json_object_set(o, "dest_compute", json_object_get(m, "dest_compute"));
    json_object_set(o, "dest_host", json_object_get(m, "dest_host"));
    /* Nova's integer flavor ids: stratus's flavors have none. */
    json_object_set_new(o, "old_instance_type_id", json_null());
    json_object_set_new(o, "new_instance_type_id", json_null());
    json_object_set_new(o, "created_at", mig_time(json_object_get(m, "created_at")));
    json_object_set_new(o, "updated_at", mig_time(json_object_get(m, "updated_at")));
    if (api_mv(req, 2, 23)) {
        json_object_set(o, "migration_type", json_object_get(m, "migration_type"));
        if (!strcmp(type, "live-migration") && migration_status_in_progress(status))
            links(req, o, m);
    }
    if (api_mv(req, 2, 59))
        json_object_set(o, "uuid", json_object_get(m, "uuid"));
    if (api_mv(req, 2, 80)) {
        json_object_set(o, "user_id", json_object_get(m, "user_id"));
        json_object_set(o, "project_id", json_object_get(m, "project_id"));
    }
    return o;
}

/* A servers/{id}/migrations entry (2.23+). */
static json_t *server_view(const struct api_req *req, json_t *m)
{
    static const char *const bytes[] = {"memory_total_bytes", "memory_processed_bytes",
                                        "memory_remaining_bytes", "disk_total_bytes",
                                        "disk_processed_bytes", "disk_remaining_bytes", NULL};
    json_t *progress = json_object_get(m, "progress");
    json_t *o = json_object();
    json_object_set(o, "id", json_object_get(m, "id"));
    json_object_set(o, "server_uuid", json_object_get(m, "server_id"));
    json_object_set(o, "status", json_object_get(m, "status"));
    json_object_set(o, "source_compute", json_object_get(m, "source_compute"));
    json_object_set(o, "source_node", json_object_get(m, "source_node"));
    json_object_set(o, "dest_compute", json_object_get(m, "dest_compute"));
    json_object_set(o, "dest_node", json_object_get(m, "dest_node"));
    json_object_set(o, "dest_host", json_object_get(m, "dest_host"));
    for (const char *const *b = bytes; *b; b++) {
        json_t *v = json_object_get(progress, *b);
        json_object_set_new(o, *b, json_is_integer(v) ? json_incref(v) : json_null());
    }
    json_object_set_new(o, "created_at", mig_time(json_object_get(m, "created_at")));
    json_object_set_new(o, "updated_at", mig_time(json_object_get(m, "updated_at")));
    if (api_mv(req, 2, 59))
        json_object_set(o, "uuid", json_object_get(m, "uuid"));
    if (api_mv(req, 2, 80)) {
        json_object_set(o, "user_id", json_object_get(m, "user_id"));
        json_object_set(o, "project_id", json_object_get(m, "project_id"));
    }
    return o;
}

/* ---- os-migrations -------------------------------------------------------------- */

static int parse_time_arg(const char *v, const char *name, int64_t *out, struct st_err *err)
{
    int64_t us;
    if (st_time_parse(v, &us) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for query parameters %s. Value: %s.",
                   name, v);
        return -1;
    }
    *out = us / 1000000;
    return 0;
}

static int os_migrations(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct migration_query q;
    const char *v;
    json_t *list, *out, *m;
    size_t i;

    migration_query_init(&q);
    q.host = api_query(req, "host");
    q.status = api_query(req, "status");
    q.migration_type = api_query(req, "migration_type");
    q.instance_uuid = api_query(req, "instance_uuid");
    q.source_compute = api_query(req, "source_compute");
    if (api_mv(req, 2, 59)) {
        if ((v = api_query(req, "changes-since")) &&
            parse_time_arg(v, "changes-since", &q.changes_since, err) < 0)
            return -1;
        q.marker = api_query(req, "marker");
        if ((v = api_query(req, "limit")) && st_parse_i64(v, 0, 1000, &q.limit) < 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for query parameters limit. Value: %s.", v);
            return -1;
        }
    }
    if (api_mv(req, 2, 66) && (v = api_query(req, "changes-before")) &&
        parse_time_arg(v, "changes-before", &q.changes_before, err) < 0)
        return -1;
    if (q.changes_since >= 0 && q.changes_before >= 0 && q.changes_before < q.changes_since) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "The value of changes-since must be less than or equal to changes-before.");
        return -1;
    }
    if (api_mv(req, 2, 80)) {
        q.user_id = api_query(req, "user_id");
        q.project_id = api_query(req, "project_id");
    }
    list = migration_list(req->db, &q, err);
    if (!list)
        return -1;
    out = json_array();
    json_array_foreach(list, i, m) json_array_append_new(out, list_view(req, m));
    json_decref(list);
    api_reply(resp, 200, json_pack("{s:o}", "migrations", out));
    return 0;
}

/* ---- servers/{id}/migrations ------------------------------------------------------- */

/* The server must exist for the caller (404 otherwise) and the
 * microversion serve the call (Nova: 404 below it). */
static int server_ok(struct api_req *req, int minor, struct st_err *err)
{
    struct server_rec r;
    if (!api_mv(req, 2, minor)) {
        st_err_set(err, ST_ERR_NOT_FOUND, "The resource could not be found.");
        return -1;
    }
    if (server_get(req->db, &req->auth, api_param(req, 0), &r, err) < 0)
        return -1;
    server_rec_release(&r);
    return 0;
}

static int mig_id(const struct api_req *req, int64_t *id, struct st_err *err)
{
    if (st_parse_i64(api_param(req, 1), 1, INT64_MAX, id) < 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Migration %s could not be found.", api_param(req, 1));
        return -1;
    }
    return 0;
}

static int server_migrations(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct migration_query q;
    json_t *list, *out, *m;
    size_t i;
    if (server_ok(req, 23, err) < 0)
        return -1;
    migration_query_init(&q);
    q.instance_uuid = api_param(req, 0);
    q.live_in_progress = true;
    list = migration_list(req->db, &q, err);
    if (!list)
        return -1;
    out = json_array();
    json_array_foreach(list, i, m) json_array_append_new(out, server_view(req, m));
    json_decref(list);
    api_reply(resp, 200, json_pack("{s:o}", "migrations", out));
    return 0;
}

static int server_migration_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct migration_query q;
    json_t *list, *m, *found = NULL;
    int64_t id;
    size_t i;
    if (server_ok(req, 23, err) < 0 || mig_id(req, &id, err) < 0)
        return -1;
    migration_query_init(&q);
    q.instance_uuid = api_param(req, 0);
    q.live_in_progress = true;
    list = migration_list(req->db, &q, err);
    if (!list)
        return -1;
    json_array_foreach(list, i, m) if (json_integer_value(json_object_get(m, "id")) == id) found =
        m;
    if (!found) {
        json_decref(list);
        st_err_set(err, ST_ERR_NOT_FOUND,
                   "In-progress live migration %lld is not found for server %s.", (long long) id,
                   api_param(req, 0));
        return -1;
    }
    api_reply(resp, 200, json_pack("{s:o}", "migration", server_view(req, found)));
    json_decref(list);
    return 0;
}

/* Runs 'fn' on migration {mid} of server {id} in a transaction. */
static int live_control(struct api_req *req, int minor,
                        int (*fn)(struct store_conn *, const char *, int64_t, struct st_err *),
                        struct st_err *err)
{
    int64_t id;
    if (server_ok(req, minor, err) < 0 || mig_id(req, &id, err) < 0)
        return -1;
    if (store_begin(req->db, err) < 0)
        return -1;
    if (fn(req->db, api_param(req, 0), id, err) < 0 || store_commit(req->db, err) < 0) {
        store_rollback(req->db);
        return -1;
    }
    revision_notify();
    return 0;
}

static int server_migration_action(struct api_req *req, struct api_resp *resp,
                                   struct st_err *err)
{
    json_t *body = api_body_json(req, err);
    if (!body)
        return -1;
    if (json_object_size(body) != 1 || !json_object_get(body, "force_complete")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input: expected {\"force_complete\": null}");
        return -1;
    }
    if (live_control(req, 22, migration_force_complete, err) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

static int server_migration_abort(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (live_control(req, 24, migration_abort, err) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

/* ---- the agents' file transfer --------------------------------------------------------- */

struct file_upload {
    int fd;
    char part[PATH_MAX], final[PATH_MAX];
    uint64_t written, limit;
};

/* DATA_DIR/migrations/{id}[/name] into 'out'. */
static int file_path(const struct api_req *req, const char *name, char *out, size_t n,
                     struct st_err *err)
{
    int rc = name ? st_snprintf(out, n, "%s/migrations/%s/%s", req->app->data_dir,
                                api_param(req, 0), name)
                  : st_snprintf(out, n, "%s/migrations/%s", req->app->data_dir,
                                api_param(req, 0));
    if (rc < 0)
        st_err_set(err, ST_ERR_INTERNAL, "migration file path too long");
    return rc;
}

/* The id is a migration of this host in the right state, the name valid. */
static int file_check(struct api_req *req, bool put, struct st_err *err)
{
    struct store_conn *c;
    if (!st_is_uuid(api_param(req, 0))) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Migration %s could not be found.", api_param(req, 0));
        return -1;
    }
    if (!migration_file_name_ok(api_param(req, 1))) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid migration file name: expected ^[a-z][a-z0-9._-]{0,63}$");
        return -1;
    }
    c = api_db(req, err);
    if (!c)
        return -1;
    return migration_file_access(c, req->host_name, api_param(req, 0), put, err);
}

static int upload_begin(struct api_req *req, struct st_err *err)
{
    struct file_upload *up;
    char dir[PATH_MAX];
    if (file_check(req, true, err) < 0 || file_path(req, NULL, dir, sizeof(dir), err) < 0)
        return -1;
    api_db_release(req);
    if (st_mkdir_p(dir, 0700, err) < 0)
        return -1;
    up = calloc(1, sizeof(*up));
    if (!up) {
        st_err_set(err, ST_ERR_INTERNAL, "out of memory");
        return -1;
    }
    up->limit = (uint64_t) conf_of(req)->migration_max_file_gb << 30;
    if (file_path(req, api_param(req, 1), up->final, sizeof(up->final), err) < 0 ||
        st_snprintf(up->part, sizeof(up->part), "%s.part", up->final) < 0) {
        if (!st_err_is_set(err))
            st_err_set(err, ST_ERR_INTERNAL, "migration file path too long");
        free(up);
        return -1;
    }
    up->fd = open(up->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (up->fd < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create %s", up->part);
        free(up);
        return -1;
    }
    req->stream = up;
    return 0;
}

static int upload_data(struct api_req *req, const char *data, size_t len, struct st_err *err)
{
    struct file_upload *up = req->stream;
    if (up->written + len > up->limit) {
        st_err_set(err, ST_ERR_TOO_LARGE,
                   "Migration file larger than [compute] migration_max_file_gb.");
        return -1;
    }
    while (len) {
        ssize_t w = write(up->fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot write %s", up->part);
            return -1;
        }
        data += w;
        len -= (size_t) w;
        up->written += (uint64_t) w;
    }
    return 0;
}

static void upload_abort(struct api_req *req)
{
    struct file_upload *up = req->stream;
    if (!up)
        return;
    close(up->fd);
    unlink(up->part);
    free(up);
    req->stream = NULL;
}

static int upload_finish(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct file_upload *up = req->stream;
    int rc = 0;
    if (!up) {
        st_err_set(err, ST_ERR_INTERNAL, "no upload under way");
        return -1;
    }
    if (fsync(up->fd) < 0 || close(up->fd) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot write %s", up->part);
        rc = -1;
    } else if (rename(up->part, up->final) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot rename %s", up->part);
        rc = -1;
    }
    if (rc < 0)
        unlink(up->part);
    free(up);
    req->stream = NULL;
    req->stream_done = true;
    if (rc < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

static const struct api_stream_ops upload_ops = {upload_begin, upload_data, upload_abort};

static int file_get(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    char path[PATH_MAX];
    struct stat st;
    int fd;
    if (file_check(req, false, err) < 0 ||
        file_path(req, api_param(req, 1), path, sizeof(path), err) < 0)
        return -1;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        st_err_set(err, ST_ERR_NOT_FOUND, "Migration %s has no file %s.", api_param(req, 0),
                   api_param(req, 1));
        return -1;
    }
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    return api_resp_file(resp, fd, 0, (uint64_t) st.st_size, err);
}

/* Removes the regular files of 'dir' and the directory. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    rmdir(dir);
}

void migrations_files_gc(struct api_req *req)
{
    struct st_err ignored = ST_ERR_INIT;
    char top[PATH_MAX], dir[PATH_MAX];
    struct store_conn *c;
    struct dirent *e;
    DIR *d;
    if (st_snprintf(top, sizeof(top), "%s/migrations", req->app->data_dir) < 0)
        return;
    d = opendir(top);
    if (!d)
        return;
    c = api_db(req, &ignored);
    while (c && (e = readdir(d))) {

        if (!st_is_uuid(e->d_name) || migration_files_needed(c, e->d_name, &ignored) != 0)
            continue;
        if (st_snprintf(dir, sizeof(dir), "%s/%s", top, e->d_name) >= 0)
            remove_dir(dir);
    }
    closedir(d);
}

#define A ROUTE_AUTH
#define AA (ROUTE_AUTH | ROUTE_ADMIN)
const struct route migration_routes[] = {
    {"GET", V21 "/os-migrations", os_migrations, AA, SVC_COMPUTE, NULL},
    {"GET", V21 "/servers/{id}/migrations", server_migrations, AA, SVC_COMPUTE, NULL},
    {"GET", V21 "/servers/{id}/migrations/{mid}", server_migration_show, AA, SVC_COMPUTE, NULL},
    {"DELETE", V21 "/servers/{id}/migrations/{mid}", server_migration_abort, AA, SVC_COMPUTE,
     NULL},
    {"POST", V21 "/servers/{id}/migrations/{mid}/action", server_migration_action, AA,
     SVC_COMPUTE, NULL},
    {"GET", IV1 "/migrations/{id}/files/{name}", file_get, ROUTE_HOST, SVC_INTERNAL, NULL},
    {"PUT", IV1 "/migrations/{id}/files/{name}", upload_finish, ROUTE_HOST, SVC_INTERNAL,
     &upload_ops},
};
const size_t migration_routes_count = sizeof(migration_routes) / sizeof(migration_routes[0]);

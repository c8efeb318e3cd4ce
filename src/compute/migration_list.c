/*
 * migration_list.c - reading migrations for the API (os-migrations,
 * servers/{id}/migrations), the live-migration controls (force_complete,
 * abort) and the checks of the internal file transfer (migration.h).
 */
#include "compute/migration.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "compute/internal.h"
#include "store/revision.h"
#include "common/banned.h"

void migration_query_init(struct migration_query *q)
{
    memset(q, 0, sizeof(*q));
    q->changes_since = q->changes_before = -1;
    q->limit = -1;
}

/* Adds " AND <cond>" with one text parameter. */
static void add_cond(struct st_buf *sql, struct store_param *p, size_t *np, const char *cond,
                     const char *value)
{
    st_buf_addf(sql, " AND %s", cond);
    p[(*np)++] = store_ptext(value);
}

json_t *migration_list(struct store_conn *c, const struct migration_query *q, struct st_err *err)
{
    struct st_buf sql = ST_BUF_INIT;
    struct store_param p[16];
    size_t np = 0;
    struct store_stmt *s;
    json_t *arr = NULL;
    int rc;

    st_buf_addf(&sql, "SELECT id, uuid, server_id, project_id, user_id, migration_type,"
                      " status, source_compute, source_node, dest_compute, dest_node,"
                      " dest_host, progress, created_at, updated_at, active FROM migrations"
                      " WHERE 1 = 1");
    if (q->host) {
        st_buf_addf(&sql, " AND (source_compute = ? OR dest_compute = ?)");
        p[np++] = store_ptext(q->host);
        p[np++] = store_ptext(q->host);
    }
    if (q->status)
        add_cond(&sql, p, &np, "status = ?", q->status);
    if (q->migration_type)
        add_cond(&sql, p, &np, "migration_type = ?", q->migration_type);
    if (q->instance_uuid)
        add_cond(&sql, p, &np, "server_id = ?", q->instance_uuid);
    if (q->source_compute)
        add_cond(&sql, p, &np, "source_compute = ?", q->source_compute);
    if (q->project_id)
        add_cond(&sql, p, &np, "project_id = ?", q->project_id);
    if (q->user_id)
        add_cond(&sql, p, &np, "user_id = ?", q->user_id);
    if (q->changes_since >= 0) {
        st_buf_addf(&sql, " AND updated_at >= ?");
        p[np++] = store_pint(q->changes_since);
    }
    if (q->changes_before >= 0) {
        st_buf_addf(&sql, " AND updated_at <= ?");
        p[np++] = store_pint(q->changes_before);
    }
    if (q->live_in_progress)
        st_buf_addf(&sql, " AND migration_type = 'live-migration' AND status IN ('queued',"
                          " 'preparing', 'running', 'cancelling')");
    if (q->marker) {
        /* Nova sorts by created_at, id descending: the page goes on below
         * the marker. */
        struct store_stmt *m = store_query(c, err, "SELECT id FROM migrations WHERE uuid = ?",
                                           STORE_ARGS(P(q->marker)));
        int64_t mid = -1;
        if (!m)
            goto out;
        rc = store_next(m, err);
        if (rc > 0)
            mid = store_int(m, 0);
        store_done(m);
        if (rc < 0)
            goto out;
        if (rc == 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Marker %s could not be found.", q->marker);
            goto out;
        }
        st_buf_addf(&sql, " AND id < ?");
        p[np++] = store_pint(mid);
    }
    st_buf_addf(&sql, " ORDER BY created_at DESC, id DESC");
    if (q->limit >= 0)
        st_buf_addf(&sql, " LIMIT %lld", (long long) q->limit);
    s = store_query(c, err, sql.buf, p, np);
    if (!s)
        goto out;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *progress = store_text(s, 12) ? json_loads(store_text(s, 12), 0, NULL) : NULL;
        json_t *o = json_pack(
            "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:I, s:I, s:b}",
            "id", (json_int_t) store_int(s, 0), "uuid", store_text(s, 1), "server_id",
            store_text(s, 2), "project_id", store_text(s, 3), "user_id", store_text(s, 4),
            "migration_type", store_text(s, 5), "status", store_text(s, 6), "source_compute",
            store_text(s, 7), "source_node", st_json_str_or_null(store_text(s, 8)),
            "dest_compute", store_text(s, 9), "dest_node", st_json_str_or_null(store_text(s, 10)),
            "dest_host", st_json_str_or_null(store_text(s, 11)), "progress",
            progress ? progress : json_object(), "created_at", (json_int_t) store_int(s, 13),
            "updated_at", (json_int_t) store_int(s, 14), "active", (int) store_int(s, 15));
        json_array_append_new(arr, o);
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        arr = NULL;
    }
out:
    st_buf_release(&sql);
    return arr;
}

/* The in-progress live migration 'mid' of 'server_id': its status into
 * 'status' and its hosts; NOT_FOUND as Nova words it otherwise. */
static int live_in_progress(struct store_conn *c, const char *server_id, int64_t mid,
                            char *status, size_t n, char *source, char *dest, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT status, source_compute, dest_compute FROM"
                                       " migrations WHERE id = ? AND server_id = ? AND"
                                       " migration_type = 'live-migration' AND active = 1",
                                       STORE_ARGS(P(mid), P(server_id)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        ST_IGNORE(st_snprintf(status, n, "%s", store_text(s, 0)));
        ST_IGNORE(st_snprintf(source, 256, "%s", store_text(s, 1)));
        ST_IGNORE(st_snprintf(dest, 256, "%s", store_text(s, 2)));
    }
    store_done(s);
    if (rc == 0 || (rc > 0 && !migration_status_in_progress(status))) {
        st_err_set(err, ST_ERR_NOT_FOUND,
                   "In-progress live migration %lld is not found for server %s.",
                   (long long) mid, server_id);
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

int migration_force_complete(struct store_conn *c, const char *server_id, int64_t mid,
                             struct st_err *err)
{
    char status[24], source[256], dest[256];
    if (live_in_progress(c, server_id, mid, status, sizeof(status), source, dest, err) < 0)
        return -1;
    if (strcmp(status, "running")) {
        st_err_set(err, ST_ERR_CONFLICT,
                   "Migration %lld state of instance %s is %s. Cannot force_complete while the"
                   " migration is in this state.",
                   (long long) mid, server_id, status);
        return -1;
    }
    return store_exec(c, err,
                      "UPDATE migrations SET force_complete = 1, updated_at = ? WHERE id = ?",
                      STORE_ARGS(P(st_now_us() / 1000000), P(mid))) < 0 ||
                   revision_bump(c, source, err) < 0
               ? -1
               : 0;
}

int migration_abort(struct store_conn *c, const char *server_id, int64_t mid,
                    struct st_err *err)
{
    char status[24], source[256], dest[256];
    int64_t now = st_now_us() / 1000000;
    if (live_in_progress(c, server_id, mid, status, sizeof(status), source, dest, err) < 0)
        return -1;
    if (!strcmp(status, "cancelling")) {
        st_err_set(err, ST_ERR_CONFLICT,
                   "Migration %lld state of instance %s is %s. Cannot abort while the migration"
                   " is in this state.",
                   (long long) mid, server_id, status);
        return -1;
    }
    if (strcmp(status, "running")) {
        /* Nothing runs yet on the source: cancelled at once, the destination
         * cleans up what it prepared. */
        return store_exec(c, err,
                          "UPDATE migrations SET status = 'cancelled', source_state = NULL,"
                          " dest_state = 'cleanup', updated_at = ? WHERE id = ?",
                          STORE_ARGS(P(now), P(mid))) < 0 ||
                       store_exec(c, err,
                                  "UPDATE ports SET migrating_host = NULL WHERE device_id = ?",
                                  STORE_ARGS(P(server_id))) < 0 ||
                       store_exec(c, err,
                                  "UPDATE servers SET task_state = NULL, updated_at = ? WHERE"
                                  " id = ? AND task_state = 'migrating'",
                                  STORE_ARGS(P(now), P(server_id))) < 0 ||
                       server_actions_finish(c, server_id, "Success", "aborted", err) < 0 ||
                       revision_bump_all(c, err) < 0
                   ? -1
                   : 0;
    }
    return store_exec(c, err,
                      "UPDATE migrations SET abort_requested = 1, status = 'cancelling',"
                      " updated_at = ? WHERE id = ?",
                      STORE_ARGS(P(now), P(mid))) < 0 ||
                   revision_bump(c, source, err) < 0
               ? -1
               : 0;
}

int migration_file_access(struct store_conn *c, const char *host, const char *uuid, bool put,
                          struct st_err *err)
{
    struct store_stmt *s = store_query(
        c, err,
        put ? "SELECT 1 FROM migrations WHERE uuid = ? AND source_compute = ? AND active = 1"
              " AND source_state = 'export'"
            : "SELECT 1 FROM migrations WHERE uuid = ? AND dest_compute = ? AND active = 1"
              " AND dest_state = 'import'",
        STORE_ARGS(P(uuid), P(host)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    store_done(s);
    if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Migration %s has no files for host %s now.", uuid,
                   host);
    return rc > 0 ? 0 : -1;
}

int migration_files_needed(struct store_conn *c, const char *uuid, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT 1 FROM migrations WHERE uuid = ? AND active = 1"
                                       " AND status IN ('pre-migrating', 'migrating',"
                                       " 'post-migrating')",
                                       STORE_ARGS(P(uuid)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    store_done(s);
    return rc;
}

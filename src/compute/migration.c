/*
 * migration.c - the migrations of servers between hosts (migration.h):
 * starting them from server actions, the per-host "migration" object of the
 * desired state, and the reports that move them through Nova's statuses.
 * The listing for the API and the file-transfer checks are in
 * migration_list.c.
 */
#include "compute/migration.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "compute/internal.h"
#include "compute/scheduler.h"
#include "compute/volumes.h"
#include "store/revision.h"
#include "common/banned.h"

bool migration_file_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 64 || !islower((unsigned char) name[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!islower((unsigned char) name[i]) && !isdigit((unsigned char) name[i]) &&
            !strchr("._-", name[i]))
            return false;
    return true;
}

bool migration_status_in_progress(const char *status)
{
    static const char *const done[] = {"confirmed", "reverted", "error",     "failed",
                                       "completed", "cancelled", "done", "finished", NULL};
    for (const char *const *d = done; *d; d++)
        if (!strcmp(status, *d))
            return false;
    return true;
}

/* One active migration row, as the state machine reads it. */
struct mig {
    int64_t id;
    char uuid[37], server_id[37], type[24], status[24], final_status[24];
    char source[256], dest[256];
    char source_state[16], dest_state[16]; /* "" for NULL */
    bool active, block, force_complete, abort_requested;
};

#define MIG_COLS                                                                                   \
    "SELECT id, uuid, server_id, migration_type, status, COALESCE(final_status, ''),"            \
    " source_compute, dest_compute, COALESCE(source_state, ''), COALESCE(dest_state, ''),"      \
    " active, block_migration, force_complete, abort_requested FROM migrations"

static void copy_col(char *dst, size_t n, struct store_stmt *s, int col)
{
    ST_IGNORE(st_snprintf(dst, n, "%s", store_text(s, col) ? store_text(s, col) : ""));
}

/* Loads the first row of MIG_COLS + 'where'.  1 found, 0 not, -1 error. */
static int mig_load(struct store_conn *c, struct mig *m, const char *sql,
                    const struct store_param *p, size_t np, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, sql, p, np);
    int rc;
    if (!s)
        return -1;
    memset(m, 0, sizeof(*m));
    rc = store_next(s, err);
    if (rc > 0) {
        m->id = store_int(s, 0);
        copy_col(m->uuid, sizeof(m->uuid), s, 1);
        copy_col(m->server_id, sizeof(m->server_id), s, 2);
        copy_col(m->type, sizeof(m->type), s, 3);
        copy_col(m->status, sizeof(m->status), s, 4);
        copy_col(m->final_status, sizeof(m->final_status), s, 5);
        copy_col(m->source, sizeof(m->source), s, 6);
        copy_col(m->dest, sizeof(m->dest), s, 7);
        copy_col(m->source_state, sizeof(m->source_state), s, 8);
        copy_col(m->dest_state, sizeof(m->dest_state), s, 9);
        m->active = store_int(s, 10) != 0;
        m->block = store_int(s, 11) != 0;
        m->force_complete = store_int(s, 12) != 0;
        m->abort_requested = store_int(s, 13) != 0;
    }
    store_done(s);
    return rc;
}

static int mig_active_of(struct store_conn *c, const char *server_id, struct mig *m,
                         struct st_err *err)
{
    return mig_load(c, m, MIG_COLS " WHERE server_id = ? AND active = 1",
                    STORE_ARGS(P(server_id)), err);
}

static bool is_cold(const struct mig *m)
{
    return !strcmp(m->type, "migration") || !strcmp(m->type, "resize");
}

static const char *state_or_null(const char *s)
{
    return *s ? s : NULL;
}

/* Sets the migration's status and both role states (NULL: nothing to do)
 * and bumps both hosts. */
static int mig_set(struct store_conn *c, const struct mig *m, const char *status,
                   const char *source_state, const char *dest_state, bool active,
                   struct st_err *err)
{
    if (store_exec(c, err,
                   "UPDATE migrations SET status = ?, source_state = ?, dest_state = ?, active ="
                   " ?, updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(status), P(source_state), P(dest_state), P((int) active),
                              P(st_now_us() / 1000000), P(m->id))) < 0)
        return -1;
    return revision_bump(c, m->source, err) < 0 || revision_bump(c, m->dest, err) < 0 ? -1 : 0;
}

static int server_set_host(struct store_conn *c, const char *id, const char *host,
                           struct st_err *err)
{
    return store_exec(c, err, "UPDATE servers SET host = ?, updated_at = ? WHERE id = ?",
                      STORE_ARGS(P(host), P(st_now_us() / 1000000), P(id))) < 0
               ? -1
               : 0;
}

static int server_set_task(struct store_conn *c, const char *id, const char *task,
                           struct st_err *err)
{
    return store_exec(c, err, "UPDATE servers SET task_state = ?, updated_at = ? WHERE id = ?",
                      STORE_ARGS(P(task), P(st_now_us() / 1000000), P(id))) < 0
               ? -1
               : 0;
}

/* The server back to the vm_state its desired power stands for, no task. */
static int server_settle(struct store_conn *c, const char *id, const char *result,
                         const char *details, struct st_err *err)
{
    return store_exec(c, err,
                      "UPDATE servers SET vm_state = CASE desired_power WHEN 'stopped' THEN"
                      " 'stopped' WHEN 'paused' THEN 'paused' WHEN 'suspended' THEN 'suspended'"
                      " ELSE 'active' END, task_state = NULL, updated_at = ? WHERE id = ?",
                      STORE_ARGS(P(st_now_us() / 1000000), P(id))) < 0 ||
                   server_actions_finish(c, id, result, details, err) < 0
               ? -1
               : 0;
}

/* A flavor's claim: vCPUs, RAM, disk (root + ephemeral + swap in GiB). */
static void flavor_claim(json_t *f, int64_t *v, int64_t *r, int64_t *d)
{
    *v = json_integer_value(json_object_get(f, "vcpus"));
    *r = json_integer_value(json_object_get(f, "ram"));
    *d = json_integer_value(json_object_get(f, "disk")) +
         json_integer_value(json_object_get(f, "ephemeral")) +
         (json_integer_value(json_object_get(f, "swap")) + 1023) / 1024;
}

static int host_node(struct store_conn *c, const char *host, struct st_buf *node,
                     struct st_buf *ip, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT COALESCE(hypervisor_hostname, name),"
                                       " COALESCE(NULLIF(host_ip, ''), vtep_ip) FROM hosts WHERE"
                                       " name = ?",
                                       STORE_ARGS(P(host)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        st_buf_addf(node, "%s", store_text(s, 0));
        if (ip && store_text(s, 1))
            st_buf_addf(ip, "%s", store_text(s, 1));
    }
    store_done(s);
    if (rc == 0)
        st_err_set(err, ST_ERR_BAD_REQUEST, "Compute host %s could not be found.", host);
    return rc > 0 ? 0 : -1;
}

static int has_volumes(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT 1 FROM volume_attachments WHERE server_id = ?",
                                       STORE_ARGS(P(server_id)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    store_done(s);
    return rc;
}

/* Inserts the migration row of 'r' (with its claims) and returns its id. */
static int mig_insert(struct store_conn *c, const struct auth_ctx *ctx,
                      const struct server_rec *r, const char *type, const char *status,
                      const char *dest, const char *source_state, const char *dest_state,
                      bool block, json_t *old_flavor, json_t *new_flavor, struct mig *out,
                      struct st_err *err)
{
    struct st_buf snode = ST_BUF_INIT, dnode = ST_BUF_INIT, dip = ST_BUF_INIT;
    int64_t now = st_now_us() / 1000000, id = 1;
    int64_t sv = 0, sr = 0, sd = 0, dv, dr, dd;
    char *otext = NULL, *ntext = NULL;
    struct store_stmt *s;
    char uuid[37];
    int rc = -1, v;

    /* An evacuation takes the volumes along (the provider's rehome, in
     * migration_start_evacuate); a cold or live migration cannot yet. */
    v = has_volumes(c, r->id, err);
    if (v < 0)
        return -1;
    if (v > 0 &&
        (strcmp(type, "evacuation") || !compute_volumes() || !compute_volumes()->rehome)) {
        st_err_set(err, ST_ERR_CONFLICT,
                   "Cannot move instance %s: it has volumes attached (evacuation takes them"
                   " along; cold and live migration and resize do not yet).",
                   r->id);
        return -1;
    }
    if (mig_active_of(c, r->id, out, err) != 0) {
        if (!st_err_is_set(err))
            st_err_set(err, ST_ERR_CONFLICT, "Instance %s has migration %s in progress.", r->id,
                       out->uuid);
        return -1;
    }
    if (host_node(c, r->host, &snode, NULL, err) < 0 ||
        host_node(c, dest, &dnode, &dip, err) < 0)
        goto out;
    s = store_query(c, err, "SELECT COALESCE(MAX(id), 0) + 1 FROM migrations", STORE_NOARGS);
    if (!s)
        goto out;
    if (store_next(s, err) > 0)
        id = store_int(s, 0);
    store_done(s);
    st_uuid(uuid);
    flavor_claim(new_flavor ? new_flavor : r->flavor, &dv, &dr, &dd);
    if (old_flavor)
        flavor_claim(old_flavor, &sv, &sr, &sd);
    else
        flavor_claim(r->flavor, &sv, &sr, &sd);
    if (old_flavor)
        otext = compute_json_dumps(old_flavor);
    if (new_flavor)
        ntext = compute_json_dumps(new_flavor);
    if (store_exec(c, err,
                   "INSERT INTO migrations (id, uuid, server_id, project_id, user_id,"
                   " migration_type, status, source_compute, source_node, dest_compute,"
                   " dest_node, dest_host, source_state, dest_state, block_migration,"
                   " old_flavor, new_flavor, src_vcpus, src_memory_mb, src_disk_gb, dst_vcpus,"
                   " dst_memory_mb, dst_disk_gb, created_at, updated_at) VALUES (?, ?, ?, ?, ?,"
                   " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   STORE_ARGS(P(id), P(uuid), P(r->id), P(r->project_id),
                              P(ctx->user_id[0] ? ctx->user_id : r->user_id), P(type),
                              P(status), P(r->host), P(snode.buf), P(dest), P(dnode.buf),
                              P(dip.len ? dip.buf : NULL), P(source_state), P(dest_state),
                              P((int) block), P(otext), P(ntext), P(sv), P(sr), P(sd), P(dv),
                              P(dr), P(dd), P(now), P(now))) < 0)
        goto out;
    if (mig_active_of(c, r->id, out, err) <= 0) {
        if (!st_err_is_set(err))
            st_err_set(err, ST_ERR_INTERNAL, "migration %s vanished", uuid);
        goto out;
    }
    rc = revision_bump(c, r->host, err) < 0 || revision_bump(c, dest, err) < 0 ? -1 : 0;
out:
    free(otext);
    free(ntext);
    st_buf_release(&snode);
    st_buf_release(&dnode);
    st_buf_release(&dip);
    return rc;
}

int migration_start_cold(struct store_conn *c, const struct auth_ctx *ctx,
                         const struct server_rec *r, const char *dest, json_t *old_flavor,
                         json_t *new_flavor, struct st_err *err)
{
    struct mig m;
    return mig_insert(c, ctx, r, new_flavor ? "resize" : "migration", "pre-migrating", dest,
                      "export", NULL, false, old_flavor, new_flavor, &m, err) < 0 ||
                   server_set_task(c, r->id, "resize_prep", err) < 0
               ? -1
               : 0;
}

int migration_start_live(struct store_conn *c, const struct auth_ctx *ctx,
                         const struct server_rec *r, const char *dest, bool block,
                         struct st_err *err)
{
    struct mig m;
    return mig_insert(c, ctx, r, "live-migration", "preparing", dest, NULL, "prepare", block,
                      NULL, NULL, &m, err) < 0 ||
                   compute_ports_bind(c, r->id, r->host, dest, err) < 0 ||
                   server_set_task(c, r->id, "migrating", err) < 0
               ? -1
               : 0;
}

int migration_start_evacuate(struct store_conn *c, const struct auth_ctx *ctx,
                             const struct server_rec *r, const char *dest, struct st_err *err)
{
    struct mig m;
    if (mig_insert(c, ctx, r, "evacuation", "pre-migrating", dest, NULL, "rebuild", false, NULL,
                   NULL, &m, err) < 0)
        return -1;
    /* The source is down: it gets nothing; the destination builds afresh,
     * with the server's volumes attached there (mig_insert let only an
     * evacuation with a provider through when it has some). */
    if (store_exec(c, err,
                   "UPDATE servers SET host = ?, disk_generation = disk_generation + 1,"
                   " task_state = 'rebuilding', fault = NULL, updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(dest), P(st_now_us() / 1000000), P(r->id))) < 0)
        return -1;
    if (compute_volumes() && compute_volumes()->rehome &&
        compute_volumes()->rehome(c, r->id, r->host, dest, err) < 0)
        return -1;
    return compute_ports_bind(c, r->id, dest, NULL, err);
}

int migration_pick_host(struct store_conn *c, const struct compute_conf *conf,
                        const struct server_rec *r, const char *host, int64_t vcpus,
                        int64_t ram, int64_t disk, bool same_ok, char *out, size_t n,
                        struct st_err *err)
{
    const char *self[1] = {r->id};
    struct sched_request req = {vcpus, ram, disk, NULL, NULL, NULL, 0, self, 1};
    int rc;
    if (host) {
        struct st_buf node = ST_BUF_INIT;
        rc = host_node(c, host, &node, NULL, err);
        st_buf_release(&node);
        if (rc < 0)
            return -1;
        if (!strcmp(host, r->host) && !same_ok) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Unable to migrate instance (%s) to current host (%s).", r->id, host);
            return -1;
        }
        req.force_host = host;
        if (!strcmp(host, r->host)) {
            req.n_different_host = 0;
            return sched_fits(c, conf, host, r->id, &req, err) > 0 &&
                           st_snprintf(out, n, "%s", host) >= 0
                       ? 1
                       : 0;
        }
    } else {
        req.availability_zone = r->availability_zone;
    }
    rc = sched_claim(c, conf, &req, out, n, err);
    if (rc == 0 && !host && same_ok) {
        req.n_different_host = 0;
        rc = sched_fits(c, conf, r->host, r->id, &req, err);
        if (rc > 0 && st_snprintf(out, n, "%s", r->host) < 0)
            rc = 0;
    }
    return rc;
}

int migration_confirm(struct store_conn *c, const struct server_rec *r, struct st_err *err)
{
    struct mig m;
    int rc = mig_active_of(c, r->id, &m, err);
    if (rc <= 0 || !is_cold(&m))
        return rc < 0 ? -1 : 0;
    if (strcmp(m.status, "finished")) {
        st_err_set(err, ST_ERR_CONFLICT, "Migration %s of instance %s is %s, not finished.",
                   m.uuid, r->id, m.status);
        return -1;
    }
    if (mig_set(c, &m, "confirming", "cleanup", NULL, true, err) < 0 ||
        store_exec(c, err,
                   "UPDATE servers SET vm_state = CASE desired_power WHEN 'stopped' THEN"
                   " 'stopped' ELSE 'active' END, old_flavor = NULL, resize_state = NULL"
                   " WHERE id = ?",
                   STORE_ARGS(P(r->id))) < 0 ||
        server_actions_finish(c, r->id, "Success", NULL, err) < 0)
        return -1;
    return 1;
}

int migration_revert(struct store_conn *c, const struct server_rec *r, struct st_err *err)
{
    struct mig m;
    int rc = mig_active_of(c, r->id, &m, err);
    if (rc <= 0 || !is_cold(&m))
        return rc < 0 ? -1 : 0;
    if (strcmp(m.status, "finished")) {
        st_err_set(err, ST_ERR_CONFLICT, "Migration %s of instance %s is %s, not finished.",
                   m.uuid, r->id, m.status);
        return -1;
    }
    if (store_exec(c, err, "UPDATE migrations SET final_status = 'reverted' WHERE id = ?",
                   STORE_ARGS(P(m.id))) < 0 ||
        mig_set(c, &m, "reverting", "hold", "cleanup", true, err) < 0)
        return -1;
    if (r->old_flavor) {
        /* The old flavor is the server's again (its claim with it). */
        int64_t v, ram, d;
        char *otext = compute_json_dumps(r->old_flavor);
        flavor_claim(r->old_flavor, &v, &ram, &d);
        rc = store_exec(c, err,
                        "UPDATE servers SET flavor = ?, old_flavor = NULL, vcpus = ?, memory_mb ="
                        " ?, disk_gb = ? WHERE id = ?",
                        STORE_ARGS(P(otext), P(v), P(ram), P(d), P(r->id))) < 0
                 ? -1
                 : 0;
        free(otext);
        if (rc < 0)
            return -1;
    }
    return server_set_task(c, r->id, "resize_reverting", err) < 0 ? -1 : 1;
}

/* ---- the desired state ---------------------------------------------------- */

static json_t *peer_doc(struct store_conn *c, const char *host, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT name, id, COALESCE(NULLIF(host_ip, ''), vtep_ip)"
                                       " FROM hosts WHERE name = ?",
                                       STORE_ARGS(P(host)));
    json_t *o = NULL;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        o = json_pack("{s:s, s:s, s:o}", "host", store_text(s, 0), "host_id", store_text(s, 1),
                      "address", st_json_str_or_null(store_text(s, 2)));
    else if (rc == 0)
        o = json_pack("{s:s, s:n, s:n}", "host", host, "host_id", "address");
    store_done(s);
    return o;
}

json_t *migration_doc(struct store_conn *c, const char *server_id, const char *host,
                      struct st_err *err)
{
    struct store_stmt *s = store_query(
        c, err,
        "SELECT uuid, migration_type, source_compute, dest_compute, source_state, dest_state,"
        " block_migration, dest_xml, dest_uri, migrate_uri, force_complete, abort_requested,"
        " files FROM migrations WHERE server_id = ? AND active = 1",
        STORE_ARGS(P(server_id)));
    json_t *o = NULL, *peer;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc <= 0) {
        store_done(s);
        return rc < 0 ? NULL : json_null();
    }
    const char *type = store_text(s, 1);
    bool src = !strcmp(store_text(s, 2), host), dst = !strcmp(store_text(s, 3), host);
    const char *state = src ? store_text(s, 4) : dst ? store_text(s, 5) : NULL;
    if (!state) {
        store_done(s);
        return json_null();
    }
    peer = peer_doc(c, src ? store_text(s, 3) : store_text(s, 2), err);
    if (!peer) {
        store_done(s);
        return NULL;
    }
    bool live = !strcmp(type, "live-migration");
    o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", store_text(s, 0), "kind",
                  live ? "live" : !strcmp(type, "evacuation") ? "evacuation" : "cold", "role",
                  src ? "source" : "dest", "state", state, "peer", peer);
    if (live) {
        json_object_set_new(o, "block_migration", json_boolean(store_int(s, 6)));
        json_object_set_new(o, "dest_xml", st_json_str_or_null(src ? store_text(s, 7) : NULL));
        json_object_set_new(o, "dest_uri", st_json_str_or_null(src ? store_text(s, 8) : NULL));
        json_object_set_new(o, "migrate_uri",
                            st_json_str_or_null(src ? store_text(s, 9) : NULL));
        json_object_set_new(o, "force_complete", json_boolean(src && store_int(s, 10)));
        json_object_set_new(o, "abort", json_boolean(src && store_int(s, 11)));
    }
    if (dst && !live && store_text(s, 12)) {
        json_t *files = json_loads(store_text(s, 12), 0, NULL);
        json_object_set_new(o, "files", files ? files : json_array());
    }
    store_done(s);
    return o;
}

/* ---- reports -------------------------------------------------------------- */

/* The files an exporting source reports: [{"name", "size", "sha256"}],
 * names checked; a new compact string or NULL with BAD_REQUEST. */
static char *files_text(json_t *files, struct st_err *err)
{
    json_t *out = json_array(), *f;
    size_t i;
    char *text;
    if (!json_is_array(files) || json_array_size(files) > 64)
        goto bad;
    json_array_foreach(files, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        json_t *size = json_object_get(f, "size");
        if (!migration_file_name_ok(name) || !sha || strlen(sha) != 64 ||
            !json_is_integer(size) || json_integer_value(size) < 0)
            goto bad;
        json_array_append_new(out, json_pack("{s:s, s:O, s:s}", "name", name, "size", size,
                                             "sha256", sha));
    }
    text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return text;
bad:
    json_decref(out);
    st_err_set(err, ST_ERR_BAD_REQUEST, "migration files must be [{name, size, sha256}]");
    return NULL;
}

/* A host's report that its step failed: "failed" (or "error"). */
static bool failed_state(const char *state)
{
    return !strcmp(state, "failed") || !strcmp(state, "error");
}

static int mig_error(struct store_conn *c, const struct mig *m, const char *error,
                     struct st_err *err)
{
    return store_exec(c, err,
                      "UPDATE migrations SET error = ?, final_status = 'error' WHERE id = ?",
                      STORE_ARGS(P(error ? error : "the host reported a failure"), P(m->id))) <
                   0
               ? -1
               : 0;
}

static int report_cold(struct store_conn *c, const struct mig *m, bool src, const char *state,
                       json_t *mo, struct st_err *err)
{
    const char *error = json_string_value(json_object_get(mo, "error"));
    const char *sid = m->server_id;
    if (src && !strcmp(m->source_state, "export")) {
        if (!strcmp(state, "exported")) {
            char *files = files_text(json_object_get(mo, "files"), err);
            int rc;
            if (!files)
                return -1;
            rc = store_exec(c, err, "UPDATE migrations SET files = ? WHERE id = ?",
                            STORE_ARGS(P(files), P(m->id))) < 0
                     ? -1
                     : 0;
            free(files);
            /* Step 2: the server moves; the source keeps its copy. */
            return rc < 0 || mig_set(c, m, "post-migrating", "hold", "import", true, err) < 0 ||
                           server_set_host(c, sid, m->dest, err) < 0 ||
                           compute_ports_bind(c, sid, m->dest, NULL, err) < 0 ||
                           server_set_task(c, sid, "resize_finish", err) < 0
                       ? -1
                       : 0;
        }
        if (failed_state(state))
            return mig_error(c, m, error, err) < 0 ||
                           mig_set(c, m, "error", "restore", NULL, true, err) < 0
                       ? -1
                       : 0;
        if (!strcmp(m->status, "pre-migrating"))
            return mig_set(c, m, "migrating", "export", NULL, true, err) < 0 ||
                           server_set_task(c, sid, "resize_migrating", err) < 0
                       ? -1
                       : 0;
        return 0;
    }
    if (!src && !strcmp(m->dest_state, "import")) {
        if (!strcmp(state, "imported"))
            return mig_set(c, m, "finished", "hold", NULL, true, err) < 0 ||
                           store_exec(c, err,
                                      "UPDATE servers SET vm_state = 'resized', task_state ="
                                      " NULL, updated_at = ? WHERE id = ?",
                                      STORE_ARGS(P(st_now_us() / 1000000), P(sid))) < 0 ||
                           server_actions_finish(c, sid, "Success", NULL, err) < 0
                       ? -1
                       : 0;
        if (failed_state(state))
            return mig_error(c, m, error, err) < 0 ||
                           mig_set(c, m, "error", "hold", "cleanup", true, err) < 0
                       ? -1
                       : 0;
        return 0;
    }
    if (!src && !strcmp(m->dest_state, "cleanup") && !strcmp(state, "cleaned"))
        /* Revert (or a failed import), step 4: back to the source. */
        return mig_set(c, m, m->status, "restore", NULL, true, err) < 0 ||
                       server_set_host(c, sid, m->source, err) < 0 ||
                       compute_ports_bind(c, sid, m->source, NULL, err) < 0
                   ? -1
                   : 0;
    if (src && !strcmp(m->source_state, "restore") && !strcmp(state, "restored")) {
        const char *final = *m->final_status ? m->final_status : "reverted";
        /* Undo what a resize changed if it did not get as far as revert. */
        if (!strcmp(m->type, "resize") &&
            store_exec(c, err,
                       "UPDATE servers SET flavor = (SELECT old_flavor FROM migrations WHERE id"
                       " = ?), vcpus = (SELECT src_vcpus FROM migrations WHERE id = ?),"
                       " memory_mb = (SELECT src_memory_mb FROM migrations WHERE id = ?),"
                       " disk_gb = (SELECT src_disk_gb FROM migrations WHERE id = ?) WHERE id ="
                       " ? AND old_flavor IS NOT NULL",
                       STORE_ARGS(P(m->id), P(m->id), P(m->id), P(m->id), P(sid))) < 0)
            return -1;
        return mig_set(c, m, final, NULL, NULL, false, err) < 0 ||
                       store_exec(c, err,
                                  "UPDATE servers SET old_flavor = NULL, resize_state = NULL"
                                  " WHERE id = ?",
                                  STORE_ARGS(P(sid))) < 0 ||
                       server_settle(c, sid, strcmp(final, "error") ? "Success" : "Error",
                                     strcmp(final, "error") ? NULL : "the migration failed",
                                     err) < 0
                   ? -1
                   : 0;
    }
    if (src && !strcmp(m->source_state, "cleanup") && !strcmp(state, "cleaned"))
        return mig_set(c, m, "confirmed", NULL, NULL, false, err);
    return 0;
}

static int report_live(struct store_conn *c, const struct mig *m, bool src, const char *state,
                       json_t *mo, struct st_err *err)
{
    const char *error = json_string_value(json_object_get(mo, "error"));
    const char *sid = m->server_id;
    if (!src && !strcmp(m->dest_state, "prepare") && !strcmp(m->status, "preparing")) {
        if (!strcmp(state, "prepared")) {
            const char *xml = json_string_value(json_object_get(mo, "dest_xml"));
            const char *uri = json_string_value(json_object_get(mo, "dest_uri"));
            const char *muri = json_string_value(json_object_get(mo, "migrate_uri"));
            if (!xml || strlen(xml) > 1 << 20 || (uri && strlen(uri) > 512) ||
                (muri && strlen(muri) > 512)) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "prepared needs dest_xml (at most 1 MiB)");
                return -1;
            }
            if (store_exec(c, err,
                           "UPDATE migrations SET dest_xml = ?, dest_uri = ?, migrate_uri = ?"
                           " WHERE id = ?",
                           STORE_ARGS(P(xml), P(uri), P(muri), P(m->id))) < 0)
                return -1;
            return mig_set(c, m, "running", "migrate", "prepare", true, err);
        }
        if (failed_state(state))
            return mig_error(c, m, error, err) < 0 ||
                           mig_set(c, m, "failed", NULL, "cleanup", true, err) < 0 ||
                           compute_ports_bind(c, sid, m->source, NULL, err) < 0 ||
                           server_settle(c, sid, "Error", error, err) < 0
                       ? -1
                       : 0;
        return 0;
    }
    if (src && !strcmp(m->source_state, "migrate")) {
        json_t *progress = json_object_get(mo, "progress");
        if (json_is_object(progress)) {
            json_t *p = json_object(), *v;
            const char *k;
            char *text;
            json_object_foreach(progress, k, v) if (json_is_integer(v) && strlen(k) < 40 &&
                                                    json_object_size(p) < 16)
                json_object_set(p, k, v);
            text = json_dumps(p, JSON_COMPACT);
            json_decref(p);
            int rc = store_exec(c, err,
                                "UPDATE migrations SET progress = ?, updated_at = ? WHERE id = ?",
                                STORE_ARGS(P(text), P(st_now_us() / 1000000), P(m->id))) < 0
                         ? -1
                         : 0;
            free(text);
            if (rc < 0)
                return -1;
        }
        if (!strcmp(state, "completed"))
            /* Step 3: the guest runs on the destination now. */
            return mig_set(c, m, "completed", "cleanup", NULL, true, err) < 0 ||
                           server_set_host(c, sid, m->dest, err) < 0 ||
                           compute_ports_bind(c, sid, m->dest, NULL, err) < 0 ||
                           server_settle(c, sid, "Success", NULL, err) < 0
                       ? -1
                       : 0;
        if (failed_state(state) || !strcmp(state, "cancelled")) {
            bool failed = failed_state(state);
            if (failed && mig_error(c, m, error, err) < 0)
                return -1;
            return mig_set(c, m, failed ? "failed" : "cancelled", NULL, "cleanup", true, err) < 0 ||
                           compute_ports_bind(c, sid, m->source, NULL, err) < 0 ||
                           server_settle(c, sid, failed ? "Error" : "Success", error, err) < 0
                       ? -1
                       : 0;
        }
        return 0;
    }
    if (src && !strcmp(m->source_state, "cleanup") && !strcmp(state, "cleaned"))
        return mig_set(c, m, m->status, NULL, state_or_null(m->dest_state),
                       *m->dest_state != '\0', err);
    if (!src && !strcmp(m->dest_state, "cleanup") && !strcmp(state, "cleaned"))
        return mig_set(c, m, m->status, state_or_null(m->source_state), NULL,
                       *m->source_state != '\0', err);
    return 0;
}

int migration_report(struct store_conn *c, const char *host, json_t *rep, bool *bump,
                     struct st_err *err)
{
    const char *sid = json_string_value(json_object_get(rep, "id"));
    json_t *mo = json_object_get(rep, "migration");
    const char *id = json_string_value(json_object_get(mo, "id"));
    const char *state = json_string_value(json_object_get(mo, "state"));
    struct mig m;
    bool src;
    int rc;

    if (!json_is_object(mo) || !sid || !id || !state || !st_is_uuid(id))
        return 0;
    rc = mig_load(c, &m, MIG_COLS " WHERE uuid = ? AND server_id = ? AND active = 1",
                  STORE_ARGS(P(id), P(sid)), err);
    if (rc <= 0)
        return rc; /* fenced: not an active migration of this server */
    if (!strcmp(m.source, host))
        src = true;
    else if (!strcmp(m.dest, host))
        src = false;
    else
        return 0;
    if (is_cold(&m))
        rc = report_cold(c, &m, src, state, mo, err);
    else if (!strcmp(m.type, "live-migration"))
        rc = report_live(c, &m, src, state, mo, err);
    else
        rc = 0;
    if (rc < 0)
        return -1;
    /* Did the migration move on?  Then the rest of this server's report
     * describes the step before (a guest not started yet, say) and must
     * not be read as the server's own news.  Only then has a host's
     * desired state changed (mig_set bumped both): a report of progress
     * alone bumps nothing, else each report would wake its own host for
     * a pass whose report bumps again, hundreds of times a second for as
     * long as a migration runs. */
    struct mig after;
    rc = mig_load(c, &after, MIG_COLS " WHERE id = ?", STORE_ARGS(P(m.id)), err);
    if (rc < 0)
        return -1;
    rc = rc == 0 || strcmp(after.status, m.status) || strcmp(after.source_state, m.source_state) ||
                 strcmp(after.dest_state, m.dest_state) || after.active != m.active
             ? 1
             : 0;
    if (rc)
        *bump = true;
    return rc;
}

int migration_after_report(struct store_conn *c, const char *host, const char *server_id,
                           struct st_err *err)
{
    struct store_stmt *s;
    struct mig m;
    int rc = mig_load(c, &m,
                      MIG_COLS " WHERE server_id = ? AND active = 1 AND migration_type ="
                               " 'evacuation' AND dest_compute = ?",
                      STORE_ARGS(P(server_id), P(host)), err);
    char vm[32] = "";
    bool task = false;
    if (rc <= 0)
        return rc;
    s = store_query(c, err, "SELECT vm_state, task_state FROM servers WHERE id = ? AND host = ?",
                    STORE_ARGS(P(server_id), P(host)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        copy_col(vm, sizeof(vm), s, 0);
        task = store_text(s, 1) && *store_text(s, 1);
    }
    store_done(s);
    if (rc <= 0 || task)
        return rc;
    return mig_set(c, &m, strcmp(vm, "error") ? "done" : "failed", NULL, NULL, false, err);
}

int migration_server_deleted(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct mig m;
    int rc = mig_active_of(c, server_id, &m, err);
    if (rc <= 0)
        return rc;
    return mig_set(c, &m, "error", NULL, NULL, false, err);
}

/*
 * desired.c - volume's half of the agent protocol (docs/agent-protocol.md,
 * "Volumes"): the "volume_backends" of a registration become volume
 * services; the desired state lists the volumes whose backend is on the
 * host, with their snapshots and iSCSI exports; the report's "volumes" and
 * each server's "volumes" move Cinder statuses; volume tasks finish.
 *
 * Every step is idempotent: a report is applied to what the store says
 * now, so a repeated or stale one changes nothing it should not.
 */
#include "volume/volume.h"

#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "store/revision.h"
#include "volume/internal.h"
#include "common/banned.h"

#define LVM_TYPE_ID "5b9a3a2e-0d6c-4e51-9d3c-6a2f8a1f0f02"

int vol_host_register(struct store_conn *c, const char *host, json_t *info, struct st_err *err)
{
    json_t *backends = json_object_get(info, "volume_backends"), *b;
    size_t i;
    int64_t now = vol_now();
    if (!backends)
        return 0;
    if (!json_is_array(backends) || json_array_size(backends) > 16) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "volume_backends must be an array of at most 16");
        return -1;
    }
    if (store_exec(c, err, "DELETE FROM volume_services WHERE host = ?", STORE_ARGS(P(host))) < 0)
        return -1;
    json_array_foreach(backends, i, b)
    {
        const char *name = NULL;
        int64_t total = 0, free_gb = 0;
        bool iscsi = false;
        if (jget_str(b, "name", true, 32, &name, err) < 0 ||
            jget_int(b, "total_gb", false, 0, INT64_C(1) << 40, &total, err) < 0 ||
            jget_int(b, "free_gb", false, 0, INT64_C(1) << 40, &free_gb, err) < 0 ||
            jget_bool(b, "iscsi", false, &iscsi, err) < 0)
            return -1;
        if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name) || !*name) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "invalid volume backend name '%s'", name);
            return -1;
        }
        if (store_exec(c, err,
                       "INSERT INTO volume_services (host, backend, total_gb, free_gb, iscsi,"
                       " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (host, backend) DO"
                       " UPDATE SET total_gb = excluded.total_gb, free_gb = excluded.free_gb,"
                       " iscsi = excluded.iscsi, updated_at = excluded.updated_at",
                       STORE_ARGS(P(host), P(name), P(total), P(free_gb), P((int) iscsi),
                                  P(now))) < 0)
            return -1;
        /* The type 'lvm' comes with the first host that has the backend. */
        if (!strcmp(name, "lvm") &&
            (store_exec(c, err,
                        "INSERT INTO volume_types (id, name, description, is_public, created_at)"
                        " VALUES (?, 'lvm', 'thin LVs in a volume group', 1, ?) ON CONFLICT DO"
                        " NOTHING",
                        STORE_ARGS(P(LVM_TYPE_ID), P(now))) < 0 ||
             store_exec(c, err,
                        "INSERT INTO volume_type_specs (type_id, key, value) SELECT id,"
                        " 'volume_backend_name', 'lvm' FROM volume_types WHERE name = 'lvm' ON"
                        " CONFLICT DO NOTHING",
                        STORE_NOARGS) < 0))
            return -1;
    }
    return 0;
}

/* ---- desired ---------------------------------------------------------------- */

static json_t *snapshots_of(struct store_conn *c, const char *volume_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, delete_requested FROM volume_snapshots WHERE"
                                       " volume_id = ? ORDER BY created_at, id",
                                       STORE_ARGS(P(volume_id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, json_pack("{s:s, s:b}", "id", store_text(s, 0), "delete",
                                             (int) store_int(s, 1)));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *exports_of(struct store_conn *c, const char *volume_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, chap_user, chap_secret FROM volume_attachments"
                                       " WHERE volume_id = ? AND transport = 'iscsi' AND status"
                                       " <> 'detaching'",
                                       STORE_ARGS(P(volume_id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "attachment_id",
                                             store_text(s, 0), "chap_user",
                                             store_text(s, 1) ? store_text(s, 1) : "",
                                             "chap_secret",
                                             store_text(s, 2) ? store_text(s, 2) : ""));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static json_t *desired_row(struct store_conn *c, struct store_stmt *s, void *arg,
                           struct st_err *err)
{
    const char *id = store_text(s, 0);
    json_t *snaps, *exps;
    (void) arg;
    snaps = snapshots_of(c, id, err);
    if (!snaps)
        return NULL;
    exps = exports_of(c, id, err);
    if (!exps) {
        json_decref(snaps);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:I, s:b, s:o, s:o, s:o}", "id", id, "backend",
                     store_text(s, 1), "size", (json_int_t) store_int(s, 2), "delete",
                     (int) store_int(s, 3), "source", vol_parse(store_text(s, 4), json_null()),
                     "snapshots", snaps, "exports", exps);
}

static json_t *backup_row(struct store_conn *c, struct store_stmt *s, void *arg,
                          struct st_err *err)
{
    (void) c;
    (void) arg;
    (void) err;
    return json_pack("{s:s}", "id", store_text(s, 0));
}

json_t *vol_host_desired(struct store_conn *c, const char *host, struct st_err *err)
{
    /* A volume in 'error' that its host never made is not listed: the agent
     * would only report it again.  Everything else on the host is. */
    json_t *vols = store_collect(c, err, desired_row, NULL,
                                 "SELECT id, backend, size, delete_requested, source FROM"
                                 " volumes WHERE host = ? ORDER BY created_at, id",
                                 STORE_ARGS(P(host)));
    if (!vols)
        return NULL;
    /* The backups whose files are on this host, in any status (one being
     * made is listed before its task runs): the agent removes the backup
     * files that this list does not name. */
    json_t *backups = store_collect(c, err, backup_row, NULL,
                                    "SELECT id FROM volume_backups WHERE host = ? ORDER BY"
                                    " created_at, id",
                                    STORE_ARGS(P(host)));
    if (!backups) {
        json_decref(vols);
        return NULL;
    }
    return json_pack("{s:o, s:o}", "volumes", vols, "backups", backups);
}

/* ---- report ------------------------------------------------------------------- */

/* Bumps the hosts of the servers attached to 'volume_id' (their desired
 * state carries its location or export). */
static int bump_servers_of(struct store_conn *c, const char *volume_id, const char *attachment,
                           struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT DISTINCT host FROM volume_attachments WHERE"
                                       " volume_id = ? AND (CAST(? AS TEXT) IS NULL OR id = ?)"
                                       " AND host IS NOT NULL",
                                       STORE_ARGS(P(volume_id), P(attachment), P(attachment)));
    json_t *hosts = json_array(), *h;
    size_t i;
    int rc;
    if (!s) {
        json_decref(hosts);
        return -1;
    }
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(hosts, json_string(store_text(s, 0)));
    store_done(s);
    json_array_foreach(hosts, i, h)
    {
        if (rc >= 0 && revision_bump(c, json_string_value(h), err) < 0)
            rc = -1;
    }
    json_decref(hosts);
    return rc < 0 ? -1 : 0;
}

static char *fault_text(json_t *fault)
{
    const char *m = json_is_string(fault) ? json_string_value(fault)
                                          : json_string_value(json_object_get(fault, "message"));
    char *t;
    if (!m)
        m = "the volume backend reported an error";
    t = st_xstrdup(m);
    if (strlen(t) > 1000)
        t[1000] = '\0';
    st_utf8_sanitize(t);
    return t;
}

static int apply_snapshots(struct store_conn *c, const char *volume_id, json_t *snaps,
                           struct st_err *err)
{
    size_t i;
    json_t *e;
    json_array_foreach(snaps, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *st = json_string_value(json_object_get(e, "state"));
        int64_t n = 0;
        if (!id || !st)
            continue;
        if (!strcmp(st, "available")) {
            n = store_exec(c, err,
                           "UPDATE volume_snapshots SET status = 'available', fault = NULL,"
                           " updated_at = ? WHERE id = ? AND volume_id = ? AND status ="
                           " 'creating'",
                           STORE_ARGS(P(vol_now()), P(id), P(volume_id)));
        } else if (!strcmp(st, "error")) {
            char *f = fault_text(json_object_get(e, "fault"));
            n = store_exec(c, err,
                           "UPDATE volume_snapshots SET status = CASE WHEN delete_requested = 1"
                           " THEN 'error_deleting' ELSE 'error' END, fault = ?, updated_at = ?"
                           " WHERE id = ? AND volume_id = ? AND status IN ('creating',"
                           " 'deleting')",
                           STORE_ARGS(P(f), P(vol_now()), P(id), P(volume_id)));
            free(f);
        } else if (!strcmp(st, "gone")) {
            n = store_exec(c, err,
                           "DELETE FROM volume_snapshots WHERE id = ? AND volume_id = ? AND"
                           " delete_requested = 1",
                           STORE_ARGS(P(id), P(volume_id)));
        }
        if (n < 0)
            return -1;
    }
    return 0;
}

static int apply_exports(struct store_conn *c, const char *volume_id, json_t *exps,
                         struct st_err *err)
{
    size_t i;
    json_t *e;
    json_array_foreach(exps, i, e)
    {
        const char *att = json_string_value(json_object_get(e, "attachment_id"));
        json_t *x;
        char *text;
        int64_t n;
        json_t *one;
        if (!att || !json_is_string(json_object_get(e, "iqn")))
            continue;
        one = json_integer(1);
        x = json_pack("{s:O, s:O, s:O}", "portal",
                      json_object_get(e, "portal") ? json_object_get(e, "portal") : json_null(),
                      "iqn", json_object_get(e, "iqn"), "lun",
                      json_object_get(e, "lun") ? json_object_get(e, "lun") : one);
        /* What the target serves: a file backend's qcow2 bytes, or raw. */
        if (json_is_string(json_object_get(e, "format")))
            json_object_set(x, "format", json_object_get(e, "format"));
        json_decref(one);
        text = json_dumps(x, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(x);
        n = store_exec(c, err,
                       "UPDATE volume_attachments SET export = ?, updated_at = ? WHERE id = ? AND"
                       " volume_id = ? AND (export IS NULL OR export <> ?)",
                       STORE_ARGS(P(text), P(vol_now()), P(att), P(volume_id), P(text)));
        free(text);
        if (n < 0 || (n > 0 && bump_servers_of(c, volume_id, att, err) < 0))
            return -1;
    }
    return 0;
}

/* The status a volume returns to after a piece of work: in-use while it has
 * an attachment that is attached, attaching while one is on its way. */
static int settled_status(struct store_conn *c, const char *id, const char **out,
                          struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT status FROM volume_attachments WHERE volume_id = ?",
                                       STORE_ARGS(P(id)));
    int rc;
    *out = "available";
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        *out = !strcmp(store_text(s, 0), "attached")    ? "in-use"
               : !strcmp(store_text(s, 0), "detaching") ? "detaching"
                                                        : "attaching";
    store_done(s);
    return rc < 0 ? -1 : 0;
}

static int apply_volume(struct store_conn *c, const char *host, json_t *e, bool *bump,
                        struct st_err *err)
{
    const char *id = json_string_value(json_object_get(e, "id"));
    const char *st = json_string_value(json_object_get(e, "state"));
    json_t *loc = json_object_get(e, "location");
    int64_t size = json_integer_value(json_object_get(e, "size"));
    struct vol_rec r;
    int64_t now = vol_now();
    int rc = 0;

    if (!id || !st || !st_is_uuid(id))
        return 0;
    if (vol_load(c, id, &r, err) < 0) {
        if (err->kind == ST_ERR_NOT_FOUND) {
            st_err_clear(err);
            return 0;
        }
        return -1;
    }
    if (!st_streq(r.host, host))
        goto out;
    if (!strcmp(st, "gone")) {
        if (r.delete_requested) {
            rc = store_exec(c, err, "DELETE FROM volume_snapshots WHERE volume_id = ?",
                            STORE_ARGS(P(id))) < 0 ||
                         store_exec(c, err, "DELETE FROM volume_attachments WHERE volume_id = ?",
                                    STORE_ARGS(P(id))) < 0 ||
                         store_exec(c, err, "DELETE FROM volumes WHERE id = ?",
                                    STORE_ARGS(P(id))) < 0
                     ? -1
                     : 0;
            *bump = true;
        } else if (strcmp(r.status, "creating") && strcmp(r.status, "restoring-backup") &&
                   strcmp(r.status, "downloading") && strcmp(r.status, "error")) {
            rc = store_exec(c, err,
                            "UPDATE volumes SET status = 'error', fault = 'The volume is gone"
                            " from its backend.', location = NULL, updated_at = ? WHERE id = ?",
                            STORE_ARGS(P(now), P(id))) < 0
                     ? -1
                     : 0;
        }
        goto out;
    }
    if (!strcmp(st, "error")) {
        char *f = fault_text(json_object_get(e, "fault"));
        const char *ns = !strcmp(r.status, "extending")  ? "error_extending"
                         : !strcmp(r.status, "deleting") ? "error_deleting"
                         : !strcmp(r.status, "restoring-backup") ? "error_restoring"
                                                          : "error";
        if (!strcmp(r.status, "creating") || !strcmp(r.status, "extending") ||
            !strcmp(r.status, "deleting") || !strcmp(r.status, "restoring-backup") ||
            !strcmp(r.status, "downloading"))
            rc = store_exec(c, err,
                            "UPDATE volumes SET status = ?, fault = ?, updated_at = ? WHERE id = ?",
                            STORE_ARGS(P(ns), P(f), P(now), P(id))) < 0
                     ? -1
                     : 0;
        free(f);
        if (rc == 0 && !strcmp(r.status, "restoring-backup"))
            rc = store_exec(c, err,
                            "UPDATE volume_backups SET status = 'available' WHERE id = (SELECT"
                            " backup_id FROM volumes WHERE id = ?) AND status = 'restoring'",
                            STORE_ARGS(P(id))) < 0
                     ? -1
                     : 0;
        goto out;
    }
    if (!strcmp(st, "creating") && !strcmp(r.status, "creating") && r.image_id) {
        /* Cinder's name for a volume whose image is being copied in. */
        rc = vol_set_status(c, id, "downloading", err);
        goto out;
    }
    if (strcmp(st, "available"))
        goto out; /* creating: still at work */
    {
        char *ltext = json_is_object(loc) ? json_dumps(loc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        bool new_loc = ltext && (!r.location || !json_equal(r.location, loc));
        if (store_exec(c, err,
                       "UPDATE volumes SET actual_size = ?, location = COALESCE(?, location)"
                       " WHERE id = ?",
                       STORE_ARGS(P(size), P(ltext), P(id))) < 0) {
            free(ltext);
            rc = -1;
            goto out;
        }
        free(ltext);
        if (new_loc && bump_servers_of(c, id, NULL, err) < 0) {
            rc = -1;
            goto out;
        }
    }
    if (!strcmp(r.status, "restoring-backup")) {
        /* Into an existing volume: its volume_restore task ends it. */
        int64_t pending = 0;
        if (store_get_int(c, err, &pending,
                          "SELECT COUNT(*) FROM tasks WHERE server_id = ? AND kind ="
                          " 'volume_restore' AND status = 'pending'",
                          STORE_ARGS(P(id))) < 0) {
            rc = -1;
            goto out;
        }
        if (pending > 0)
            goto out;
    }
    if (!strcmp(r.status, "creating") || !strcmp(r.status, "downloading") ||
        !strcmp(r.status, "restoring-backup") ||
        (!strcmp(r.status, "extending") && size >= r.size)) {
        const char *ns;
        if (settled_status(c, id, &ns, err) < 0) {
            rc = -1;
            goto out;
        }
        rc = store_exec(c, err,
                        "UPDATE volumes SET status = ?, fault = NULL, previous_status = NULL,"
                        " updated_at = ? WHERE id = ?",
                        STORE_ARGS(P(ns), P(now), P(id))) < 0
                 ? -1
                 : 0;
        if (rc == 0 && !strcmp(r.status, "restoring-backup"))
            rc = store_exec(c, err,
                            "UPDATE volume_backups SET status = 'available', updated_at = ? WHERE"
                            " id = (SELECT backup_id FROM volumes WHERE id = ?) AND status ="
                            " 'restoring'",
                            STORE_ARGS(P(now), P(id))) < 0
                     ? -1
                     : 0;
    }
out:
    if (rc == 0 && json_is_array(json_object_get(e, "snapshots")))
        rc = apply_snapshots(c, id, json_object_get(e, "snapshots"), err);
    if (rc == 0 && json_is_array(json_object_get(e, "exports")))
        rc = apply_exports(c, id, json_object_get(e, "exports"), err);
    vol_rec_release(&r);
    return rc;
}

/* A server's reported "volumes": attaching -> attached (volume in-use);
 * an error ends the attachment; detaching and not listed -> gone. */
static int apply_server(struct store_conn *c, const char *host, json_t *srv, bool *bump,
                        struct st_err *err)
{
    const char *sid = json_string_value(json_object_get(srv, "id"));
    json_t *vols = json_object_get(srv, "volumes"), *e;
    struct store_stmt *s;
    json_t *atts = json_array();
    size_t i, j;
    int rc;
    int64_t now = vol_now();

    if (!sid || !json_is_array(vols)) {
        json_decref(atts);
        return 0; /* an agent that knows no volumes says nothing about them */
    }
    s = store_query(c, err,
                    "SELECT id, volume_id, status FROM volume_attachments WHERE server_id = ?"
                    " AND host = ?",
                    STORE_ARGS(P(sid), P(host)));
    if (!s) {
        json_decref(atts);
        return -1;
    }
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(atts, json_pack("{s:s, s:s, s:s}", "id", store_text(s, 0), "vol",
                                              store_text(s, 1), "status", store_text(s, 2)));
    store_done(s);
    if (rc < 0)
        goto fail;
    json_array_foreach(atts, i, e)
    {
        const char *aid = json_string_value(json_object_get(e, "id"));
        const char *vid = json_string_value(json_object_get(e, "vol"));
        const char *ast = json_string_value(json_object_get(e, "status"));
        json_t *rep = NULL, *v;
        json_array_foreach(vols, j, v)
        {
            if (st_streq(json_string_value(json_object_get(v, "attachment_id")), aid))
                rep = v;
        }
        const char *state = rep ? json_string_value(json_object_get(rep, "state")) : NULL;
        if (!strcmp(ast, "detaching") && !rep) {
            const char *ns = "available";
            if (store_exec(c, err, "DELETE FROM volume_attachments WHERE id = ?",
                           STORE_ARGS(P(aid))) < 0 ||
                store_exec(c, err,
                           "UPDATE volumes SET status = ?, updated_at = ? WHERE id = ? AND"
                           " status = 'detaching'",
                           STORE_ARGS(P(ns), P(now), P(vid))) < 0)
                goto fail;
            *bump = true;
            {
                struct vol_rec r;
                if (vol_load(c, vid, &r, err) == 0) {
                    if (!st_streq(r.host, host) && vol_bump(c, r.host, err) < 0) {
                        vol_rec_release(&r);
                        goto fail;
                    }
                    vol_rec_release(&r);
                } else if (err->kind == ST_ERR_NOT_FOUND) {
                    st_err_clear(err);
                } else {
                    goto fail;
                }
            }
        } else if (!strcmp(ast, "attaching") && st_streq(state, "attached")) {
            if (store_exec(c, err,
                           "UPDATE volume_attachments SET status = 'attached', attached_at = ?,"
                           " fault = NULL, updated_at = ? WHERE id = ?",
                           STORE_ARGS(P(now), P(now), P(aid))) < 0 ||
                store_exec(c, err,
                           "UPDATE volumes SET status = 'in-use', updated_at = ? WHERE id = ? AND"
                           " status = 'attaching'",
                           STORE_ARGS(P(now), P(vid))) < 0)
                goto fail;
        } else if (!strcmp(ast, "attaching") && st_streq(state, "error")) {
            char *f = fault_text(json_object_get(rep, "fault"));
            /* As Cinder: the attachment ends, the volume is available again
             * (the reason stays on the volume). */
            int64_t n1 = store_exec(c, err, "DELETE FROM volume_attachments WHERE id = ?",
                                    STORE_ARGS(P(aid)));
            int64_t n2 = n1 < 0 ? -1
                                : store_exec(c, err,
                                             "UPDATE volumes SET status = 'available', fault = ?,"
                                             " updated_at = ? WHERE id = ? AND status ="
                                             " 'attaching'",
                                             STORE_ARGS(P(f), P(now), P(vid)));
            free(f);
            if (n2 < 0)
                goto fail;
            *bump = true;
        }
    }
    json_decref(atts);
    return 0;
fail:
    json_decref(atts);
    return -1;
}

int vol_host_report(struct store_conn *c, const char *host, json_t *report, bool *bump,
                    struct st_err *err)
{
    json_t *vols = json_object_get(report, "volumes");
    json_t *servers = json_object_get(report, "servers");
    size_t i;
    json_t *e;
    if ((vols && !json_is_array(vols)) || json_array_size(vols) > 10000) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "volumes must be an array of at most 10000");
        return -1;
    }
    json_array_foreach(vols, i, e)
    {
        if (json_is_object(e) && apply_volume(c, host, e, bump, err) < 0)
            return -1;
    }
    json_array_foreach(servers, i, e)
    {
        if (json_is_object(e) && apply_server(c, host, e, bump, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- tasks ---------------------------------------------------------------------- */

int vol_task_done(struct store_conn *c, const char *host, const char *task_id, const char *kind,
                  json_t *args, bool ok, json_t *result, const char *error, struct st_err *err)
{
    const char *vid = json_string_value(json_object_get(args, "volume_id"));
    const char *bid = json_string_value(json_object_get(args, "backup_id"));
    const char *img = json_string_value(json_object_get(args, "image_id"));
    int64_t now = vol_now();
    (void) host;
    (void) task_id;
    if (!vid)
        return 0;
    /* The volume returns to where it was: available, or in-use. */
    const char *back =
        "UPDATE volumes SET status = COALESCE(previous_status, 'available'),"
        " previous_status = NULL, updated_at = ? WHERE id = ? AND status = ?";
    if (!strcmp(kind, "volume_backup")) {
        json_t *sz = json_object_get(result, "size");
        const char *sum = json_string_value(json_object_get(result, "checksum"));
        char *f = !ok ? st_xstrdup(error ? error : "the backup failed") : NULL;
        int64_t n = store_exec(c, err,
                               "UPDATE volume_backups SET status = ?, size_bytes = ?, checksum ="
                               " ?, fail_reason = ?, updated_at = ? WHERE id = ? AND status ="
                               " 'creating'",
                               STORE_ARGS(P(ok ? "available" : "error"),
                                          json_is_integer(sz)
                                              ? P((int64_t) json_integer_value(sz))
                                              : store_ptext(NULL),
                                          P(sum), P(f), P(now), P(bid ? bid : "")));
        free(f);
        if (n < 0)
            return -1;
        return store_exec(c, err, back, STORE_ARGS(P(now), P(vid), P("backing-up"))) < 0 ? -1 : 0;
    }
    if (!strcmp(kind, "volume_restore")) {
        if (store_exec(c, err,
                       "UPDATE volume_backups SET status = 'available', updated_at = ? WHERE id ="
                       " ? AND status = 'restoring'",
                       STORE_ARGS(P(now), P(bid ? bid : ""))) < 0)
            return -1;
        return store_exec(c, err,
                          "UPDATE volumes SET status = ?, fault = ?, updated_at = ? WHERE id = ?"
                          " AND status = 'restoring-backup'",
                          STORE_ARGS(P(ok ? "available" : "error_restoring"),
                                     P(ok ? NULL : error), P(now), P(vid))) < 0
                   ? -1
                   : 0;
    }
    if (!strcmp(kind, "volume_upload_image")) {
        /* A failed upload leaves no half image behind. */
        if (!ok && img &&
            store_exec(c, err, "DELETE FROM images WHERE id = ? AND status IN ('queued', 'saving')",
                       STORE_ARGS(P(img))) < 0)
            return -1;
        return store_exec(c, err, back, STORE_ARGS(P(now), P(vid), P("uploading"))) < 0 ? -1 : 0;
    }
    return 0;
}

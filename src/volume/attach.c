/*
 * attach.c - attachments: Nova's attach and detach of a volume to a server
 * (os-volume_attachments and block_device_mapping_v2 at boot), Cinder's
 * attachment records, and the halves of compute's volume provider that
 * concern servers (compute/volumes.h).
 *
 * An attachment is one row per volume (UNIQUE volume_id: no multiattach,
 * and two attaches of one volume cannot both win).  It starts 'attaching'
 * with its device and transport chosen here: a file or block device when
 * the volume lives on the server's host, else iSCSI with CHAP credentials
 * made here; it becomes 'attached' when the server's host reports it, and
 * 'detaching' rows go when the report no longer lists them (desired.c).
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

/* How many disks of its own a server has (root unless it boots from a
 * volume, ephemeral, swap, config drive): volumes come after them. */
static int local_disks(struct store_conn *c, const char *server_id, bool boot_volume,
                       struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT flavor, config_drive FROM servers WHERE id = ?",
                                       STORE_ARGS(P(server_id)));
    int n = boot_volume ? 0 : 1, rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        json_t *f = vol_parse(store_text(s, 0), json_object());
        n += json_integer_value(json_object_get(f, "OS-FLV-EXT-DATA:ephemeral")) > 0 ||
             json_integer_value(json_object_get(f, "ephemeral")) > 0;
        n += json_integer_value(json_object_get(f, "swap")) > 0;
        n += store_int(s, 1) != 0;
        json_decref(f);
    }
    store_done(s);
    return rc < 0 ? -1 : n;
}

/* The first vdX from index 'first' that no attachment of the server uses. */
static int next_device(struct store_conn *c, const char *server_id, int first, char dev[8],
                       struct st_err *err)
{
    bool used[26] = {false};
    struct store_stmt *s = store_query(c, err,
                                       "SELECT device FROM volume_attachments WHERE server_id = ?",
                                       STORE_ARGS(P(server_id)));
    int rc;
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0) {
        const char *d = store_text(s, 0);
        if (d && strlen(d) == 3 && d[0] == 'v' && d[1] == 'd' && d[2] >= 'a' && d[2] <= 'z')
            used[d[2] - 'a'] = true;
    }
    store_done(s);
    if (rc < 0)
        return -1;
    for (int i = first; i < 26; i++)
        if (!used[i])
            return st_snprintf(dev, 8, "vd%c", 'a' + i) < 0 ? -1 : 0;
    st_err_set(err, ST_ERR_BAD_REQUEST, "No free disk device names for server %s.", server_id);
    return -1;
}

/* iSCSI for this pair: another host, a type with iscsi=true, or a backend
 * registered with "iscsi": true. */
static int wants_iscsi(struct store_conn *c, const struct vol_rec *v, const char *server_host,
                       bool *out, struct st_err *err)
{
    int64_t n = 0;
    *out = !st_streq(v->host, server_host);
    if (*out)
        return 0;
    if (store_get_int(c, err, &n,
                      "SELECT COUNT(*) FROM volume_type_specs WHERE type_id = ? AND key = 'iscsi'"
                      " AND LOWER(value) IN ('true', '<is> true', '1', 'yes')",
                      STORE_ARGS(P(v->type_id))) < 0)
        return -1;
    if (n == 0 && store_get_int(c, err, &n,
                                "SELECT COUNT(*) FROM volume_services WHERE host = ? AND backend"
                                " = ? AND iscsi = 1",
                                STORE_ARGS(P(v->host), P(v->backend))) < 0)
        return -1;
    *out = n > 0;
    return 0;
}

/* The transport of a new attachment 'att_id' of volume 'v' to a server on
 * 'server_host' (NULL: none yet): "iscsi" with fresh CHAP credentials in
 * 'user' and 'secret' when wants_iscsi() says so, else "block" or "file"
 * as the volume's location is (and 'user', 'secret' empty). */
static int attach_transport(struct store_conn *c, const struct vol_rec *v,
                            const char *server_host, const char *att_id,
                            const char **transport, char user[16], char secret[33],
                            struct st_err *err)
{
    bool iscsi = false;
    user[0] = secret[0] = '\0';
    if (server_host && wants_iscsi(c, v, server_host, &iscsi, err) < 0)
        return -1;
    if (iscsi) {
        unsigned char raw[16];
        struct st_buf hex = ST_BUF_INIT;
        st_random(raw, sizeof(raw));
        st_hex_encode(raw, sizeof(raw), &hex);
        ST_IGNORE(st_snprintf(secret, 33, "%s", hex.buf));
        explicit_bzero(raw, sizeof(raw));
        st_buf_release(&hex);
        ST_IGNORE(st_snprintf(user, 16, "att-%.8s", att_id));
        *transport = "iscsi";
    } else if (v->location &&
               st_streq(json_string_value(json_object_get(v->location, "type")), "block")) {
        *transport = "block";
    } else {
        *transport = "file";
    }
    return 0;
}

/* Inserts an attachment of volume 'v' (status checked by the caller) to
 * server 's'; in the caller's transaction. */
static int attach_insert(struct store_conn *c, const struct vol_server *s, struct vol_rec *v,
                         int boot_index, bool dot, char att_id[37], char dev[8],
                         struct st_err *err)
{
    const char *transport = "file";
    char user[16] = "", secret[33] = "";
    int first;
    int64_t now = vol_now();
    int64_t n;
    bool iscsi;

    if (!v->host) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid volume: volume %s has no backend.", v->id);
        return -1;
    }
    first = local_disks(c, s->id, boot_index == 0, err);
    if (first < 0)
        return -1;
    if (boot_index == 0) {
        if (st_snprintf(dev, 8, "vda") < 0)
            return -1;
    } else if (next_device(c, s->id, first, dev, err) < 0) {
        return -1;
    }
    st_uuid(att_id);
    if (attach_transport(c, v, s->host, att_id, &transport, user, secret, err) < 0)
        return -1;
    iscsi = !strcmp(transport, "iscsi");
    n = store_exec(c, err,
                   "INSERT INTO volume_attachments (id, volume_id, server_id, host, device,"
                   " boot_index, delete_on_termination, status, transport, chap_user,"
                   " chap_secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?,"
                   " 'attaching', ?, ?, ?, ?, ?)",
                   STORE_ARGS(P(att_id), P(v->id), P(s->id), P(s->host), P(dev),
                              boot_index >= 0 ? P((int64_t) boot_index) : store_ptext(NULL),
                              P((int) dot), P(transport), P(iscsi ? user : NULL),
                              P(iscsi ? secret : NULL), P(now), P(now)));
    explicit_bzero(secret, sizeof(secret));
    if (n < 0) {
        if (err->kind == ST_ERR_CONFLICT) {
            st_err_clear(err);
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid volume: volume %s is already attached or being attached.",
                       v->id);
        }
        return -1;
    }
    if (store_exec(c, err,
                   "UPDATE volumes SET status = 'attaching', previous_status = 'available',"
                   " updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(now), P(v->id))) < 0 ||
        vol_bump(c, s->host, err) < 0 ||
        (!st_streq(s->host, v->host) && vol_bump(c, v->host, err) < 0))
        return -1;
    return 0;
}

static json_t *nova_att(const char *att_id, const char *volume_id, const char *server_id,
                        const char *dev, bool dot)
{
    char d[16];
    ST_IGNORE(st_snprintf(d, sizeof(d), "/dev/%s", dev ? dev : ""));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:n}", "attachment_id", att_id, "volumeId",
                     volume_id, "serverId", server_id, "id", volume_id, "device", d,
                     "delete_on_termination", dot, "tag");
}

json_t *vol_attach(struct store_conn *c, const struct auth_ctx *ctx, const struct vol_server *s,
                   const char *volume_id, const char *device, bool delete_on_termination,
                   struct st_err *err)
{
    struct vol_rec v;
    char att[37], dev[8];
    json_t *out = NULL;
    (void) device; /* as Nova's libvirt driver: the next free name is used */

    if (!s->host) {
        st_err_set(err, ST_ERR_CONFLICT,
                   "Cannot 'attach_volume' instance %s while it has no host.", s->id);
        return NULL;
    }
    if (vol_load_writable(c, ctx, volume_id, &v, err) < 0)
        return NULL;
    if (!ctx->is_admin && strcmp(v.project_id, s->project_id)) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume %s could not be found.", volume_id);
        goto out;
    }
    if (strcmp(v.status, "available")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid volume: volume %s status must be 'available', not '%s'.", volume_id,
                   v.status);
        goto out;
    }
    if (store_begin(c, err) < 0)
        goto out;
    if (attach_insert(c, s, &v, -1, delete_on_termination, att, dev, err) < 0 ||
        store_commit(c, err) < 0) {
        store_rollback(c);
        goto out;
    }
    revision_notify();
    out = nova_att(att, volume_id, s->id, dev, delete_on_termination);
out:
    vol_rec_release(&v);
    return out;
}

int vol_detach(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
               const char *volume_id, struct st_err *err)
{
    struct store_stmt *s;
    char status[32] = "", host[256] = "", vhost[256] = "";
    int64_t boot = -1;
    int rc;
    (void) ctx;
    s = store_query(c, err,
                    "SELECT a.status, a.host, v.host, COALESCE(a.boot_index, -1) FROM"
                    " volume_attachments a JOIN volumes v ON v.id = a.volume_id WHERE"
                    " a.server_id = ? AND a.volume_id = ?",
                    STORE_ARGS(P(server_id), P(volume_id)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        ST_IGNORE(st_snprintf(status, sizeof(status), "%s", store_text(s, 0)));
        ST_IGNORE(st_snprintf(host, sizeof(host), "%s", store_text(s, 1) ? store_text(s, 1) : ""));
        ST_IGNORE(st_snprintf(vhost, sizeof(vhost), "%s", store_text(s, 2) ? store_text(s, 2) : ""));
        boot = store_int(s, 3);
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume %s is not attached to server %s.", volume_id,
                   server_id);
        return -1;
    }
    if (boot == 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Can't detach root device volume");
        return -1;
    }
    if (!strcmp(status, "detaching"))
        return 0;
    if (strcmp(status, "attached") && strcmp(status, "attaching")) {
        st_err_set(err, ST_ERR_CONFLICT, "Volume %s is %s.", volume_id, status);
        return -1;
    }
    if (store_begin(c, err) < 0)
        return -1;
    if (store_exec(c, err,
                   "UPDATE volume_attachments SET status = 'detaching', updated_at = ? WHERE"
                   " server_id = ? AND volume_id = ?",
                   STORE_ARGS(P(vol_now()), P(server_id), P(volume_id))) < 0 ||
        vol_set_status(c, volume_id, "detaching", err) < 0 ||
        vol_bump(c, host[0] ? host : NULL, err) < 0 ||
        (strcmp(host, vhost) && vol_bump(c, vhost[0] ? vhost : NULL, err) < 0) ||
        store_commit(c, err) < 0) {
        store_rollback(c);
        return -1;
    }
    revision_notify();
    return 0;
}

json_t *vol_server_attachments(struct store_conn *c, const char *server_id,
                               const char *volume_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, volume_id, device, delete_on_termination FROM"
                                       " volume_attachments WHERE server_id = ? AND"
                                       " (CAST(? AS TEXT) IS NULL OR volume_id = ?) ORDER BY"
                                       " device",
                                       STORE_ARGS(P(server_id), P(volume_id), P(volume_id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, nova_att(store_text(s, 0), store_text(s, 1), server_id,
                                            store_text(s, 2), store_int(s, 3) != 0));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    if (volume_id && !json_array_size(arr)) {
        json_decref(arr);
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume %s is not attached to server %s.", volume_id,
                   server_id);
        return NULL;
    }
    return arr;
}

static json_t *cinder_att_row(struct store_conn *c, struct store_stmt *s, void *arg,
                              struct st_err *err)
{
    const struct auth_ctx *ctx = arg;
    (void) c;
    (void) err;
    if (!ctx->is_admin && !st_streq(store_text(s, 6), ctx->project_id))
        return NULL;
    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:s, s:n}", "id", store_text(s, 0),
                     "volume_id", store_text(s, 1), "instance",
                     st_json_str_or_null(store_text(s, 2)), "status", store_text(s, 3),
                     "attached_at", vol_time(store_int(s, 4)), "detached_at", json_null(),
                     "attach_mode", store_text(s, 5), "connection_info");
}

#define ATT_SELECT                                                                                 \
    "SELECT a.id, a.volume_id, a.server_id, a.status, COALESCE(a.attached_at, 0), a.mode,"      \
    " v.project_id FROM volume_attachments a JOIN volumes v ON v.id = a.volume_id"

json_t *vol_attachment_list(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    return store_collect(c, err, cinder_att_row, (void *) ctx, ATT_SELECT " ORDER BY a.created_at",
                         STORE_NOARGS);
}

json_t *vol_attachment_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           struct st_err *err)
{
    json_t *arr = store_collect(c, err, cinder_att_row, (void *) ctx, ATT_SELECT " WHERE a.id = ?",
                                STORE_ARGS(P(id)));
    json_t *o;
    if (!arr)
        return NULL;
    o = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    if (!o)
        st_err_set(err, ST_ERR_NOT_FOUND, "Attachment %s could not be found.", id);
    return o;
}

/* ---- compute's provider: boot, release, the server's part ------------------ */

static int boot_image(struct store_conn *c, const struct auth_ctx *ctx,
                      const struct compute_bdm *bdms, size_t n, char image_id[37],
                      struct st_err *err)
{
    image_id[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const struct compute_bdm *b = &bdms[i];
        if (b->boot_index != 0)
            continue;
        if (!strcmp(b->source_type, "image"))
            return st_snprintf(image_id, 37, "%s", b->uuid ? b->uuid : "") < 0 ? -1 : 0;
        if (!strcmp(b->source_type, "volume")) {
            struct vol_rec r;
            if (!b->uuid || vol_load_readable(c, ctx, b->uuid, &r, err) < 0) {
                if (!b->uuid)
                    st_err_set(err, ST_ERR_BAD_REQUEST, "Block device mapping is invalid: no uuid");
                else {
                    st_err_clear(err);
                    st_err_set(err, ST_ERR_BAD_REQUEST, "Block Device Mapping is Invalid: "
                               "failed to get volume %s.", b->uuid);
                }
                return -1;
            }
            ST_IGNORE(st_snprintf(image_id, 37, "%s", r.image_id ? r.image_id : ""));
            vol_rec_release(&r);
            return 0;
        }
        if (!strcmp(b->source_type, "snapshot")) {
            struct store_stmt *s = store_query(c, err,
                                               "SELECT v.image_id FROM volume_snapshots s JOIN"
                                               " volumes v ON v.id = s.volume_id WHERE s.id = ?",
                                               STORE_ARGS(P(b->uuid ? b->uuid : "")));
            if (!s)
                return -1;
            if (store_next(s, err) > 0 && store_text(s, 0))
                ST_IGNORE(st_snprintf(image_id, 37, "%s", store_text(s, 0)));
            store_done(s);
            return 0;
        }
    }
    return 0;
}

static int boot(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                const char *host, const struct compute_bdm *bdms, size_t n, struct st_err *err)
{
    const char *project = ctx->project_id;
    struct vol_server s = {server_id, project, host};
    for (size_t i = 0; i < n; i++) {
        const struct compute_bdm *b = &bdms[i];
        char vid[37], att[37], dev[8];
        struct vol_rec v;
        int rc;
        if (strcmp(b->destination_type, "volume"))
            continue;
        if (!strcmp(b->source_type, "volume")) {
            if (!b->uuid || !st_is_uuid(b->uuid)) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "Block Device Mapping is Invalid: missing "
                                                    "volume id.");
                return -1;
            }
            if (vol_load_writable(c, ctx, b->uuid, &v, err) < 0) {
                st_err_clear(err);
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "Block Device Mapping is Invalid: failed to get volume %s.", b->uuid);
                return -1;
            }
            if (strcmp(v.status, "available")) {
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "Invalid volume: volume %s status must be 'available', not '%s'.",
                           b->uuid, v.status);
                vol_rec_release(&v);
                return -1;
            }
        } else {
            struct vol_new nv;
            json_t *src = NULL, *imeta = NULL;
            memset(&nv, 0, sizeof(nv));
            nv.size = b->volume_size;
            nv.type_ref = b->volume_type;
            nv.prefer_host = host;
            if (!strcmp(b->source_type, "image")) {
                src = vol_image_source(c, ctx, b->uuid ? b->uuid : "", nv.size, &imeta, err);
                if (!src)
                    return -1;
                nv.image_id = b->uuid;
                nv.image_metadata = imeta;
                nv.bootable = true;
            } else if (!strcmp(b->source_type, "snapshot")) {
                src = json_pack("{s:s, s:s}", "type", "snapshot", "id", b->uuid ? b->uuid : "");
                nv.snapshot_id = b->uuid;
            } else if (strcmp(b->source_type, "blank")) {
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "Block Device Mapping is Invalid: source_type %s", b->source_type);
                return -1;
            }
            nv.source = src;
            rc = vol_insert(c, ctx, &nv, vid, err);
            json_decref(src);
            json_decref(imeta);
            if (rc < 0 || vol_load(c, vid, &v, err) < 0)
                return -1;
            /* Attached at once: made, then attached, by its reports. */
        }
        rc = attach_insert(c, &s, &v, b->boot_index, b->delete_on_termination, att, dev, err);
        if (rc == 0 && b->source_type && strcmp(b->source_type, "volume")) {
            /* A new volume stays 'creating' until its host reports it. */
            rc = vol_set_status(c, v.id, "creating", err);
        }
        vol_rec_release(&v);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int release(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT a.volume_id, a.delete_on_termination, v.host FROM"
                                       " volume_attachments a JOIN volumes v ON v.id ="
                                       " a.volume_id WHERE a.server_id = ?",
                                       STORE_ARGS(P(server_id)));
    json_t *list = json_array(), *e;
    size_t i;
    int rc;
    if (!s) {
        json_decref(list);
        return -1;
    }
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(list, json_pack("{s:s, s:b, s:o}", "id", store_text(s, 0), "dot",
                                              (int) store_int(s, 1), "host",
                                              st_json_str_or_null(store_text(s, 2))));
    store_done(s);
    if (rc < 0)
        goto fail;
    if (store_exec(c, err, "DELETE FROM volume_attachments WHERE server_id = ?",
                   STORE_ARGS(P(server_id))) < 0)
        goto fail;
    json_array_foreach(list, i, e)
    {
        const char *vid = json_string_value(json_object_get(e, "id"));
        const char *host = json_string_value(json_object_get(e, "host"));
        if (json_is_true(json_object_get(e, "dot"))) {
            if (store_exec(c, err,
                           "UPDATE volume_snapshots SET status = 'deleting', delete_requested ="
                           " 1 WHERE volume_id = ?",
                           STORE_ARGS(P(vid))) < 0 ||
                store_exec(c, err,
                           "UPDATE volumes SET status = 'deleting', delete_requested = 1,"
                           " updated_at = ? WHERE id = ?",
                           STORE_ARGS(P(vol_now()), P(vid))) < 0)
                goto fail;
        } else if (store_exec(c, err,
                              "UPDATE volumes SET status = CASE WHEN status IN ('in-use',"
                              " 'attaching', 'detaching') THEN 'available' ELSE status END,"
                              " updated_at = ? WHERE id = ?",
                              STORE_ARGS(P(vol_now()), P(vid))) < 0) {
            goto fail;
        }
        if (vol_bump(c, host, err) < 0)
            goto fail;
    }
    json_decref(list);
    return 0;
fail:
    json_decref(list);
    return -1;
}

/* Whether host 'host' is up: it has a heartbeat within service_down_time
 * and is not forced down (as the volume scheduler sees hosts). */
static int host_up(struct store_conn *c, const char *host, bool *up, struct st_err *err)
{
    int64_t n = 0;
    if (store_get_int(c, err, &n,
                      "SELECT COUNT(*) FROM hosts WHERE name = ? AND forced_down = 0 AND"
                      " last_seen >= ?",
                      STORE_ARGS(P(host), P(vol_now() - vol_settings.service_down_time))) < 0)
        return -1;
    *up = n > 0;
    return 0;
}

/* One attachment of a server being rehomed. */
struct rehome_att {
    char id[37], volume_id[37], status[16], device[8], mode[8], vhost[256];
    int64_t boot_index; /* -1: NULL */
    bool dot;
};

static int rehome_one(struct store_conn *c, const char *server_id, const char *old_host,
                      const char *host, const struct rehome_att *a, struct st_err *err)
{
    const char *transport = "file";
    char att[37], user[16] = "", secret[33] = "";
    int64_t now = vol_now();
    struct vol_rec v;
    bool iscsi;
    int rc = -1;

    if (vol_load(c, a->volume_id, &v, err) < 0)
        return -1;
    if (!strcmp(a->status, "detaching")) {
        /* Its detach is as good as done: the server is built afresh
         * without it, and the old host is gone. */
        if (store_exec(c, err, "DELETE FROM volume_attachments WHERE id = ?",
                       STORE_ARGS(P(a->id))) < 0 ||
            store_exec(c, err,
                       "UPDATE volumes SET status = 'available', updated_at = ? WHERE id = ? AND"
                       " status = 'detaching'",
                       STORE_ARGS(P(now), P(v.id))) < 0 ||
            vol_bump(c, v.host, err) < 0)
            goto out;
        rc = 0;
        goto out;
    }
    /* A new attachment (Nova's evacuate makes one too): a new id is a new
     * iSCSI target, so the old one, and any session the old host still
     * has on it, goes with the old row. */
    st_uuid(att);
    if (attach_transport(c, &v, host, att, &transport, user, secret, err) < 0)
        goto out;
    iscsi = !strcmp(transport, "iscsi");
    if (store_exec(c, err, "DELETE FROM volume_attachments WHERE id = ?",
                   STORE_ARGS(P(a->id))) < 0 ||
        store_exec(c, err,
                   "INSERT INTO volume_attachments (id, volume_id, server_id, host, device,"
                   " boot_index, delete_on_termination, status, mode, transport, chap_user,"
                   " chap_secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?,"
                   " 'attaching', ?, ?, ?, ?, ?, ?)",
                   STORE_ARGS(P(att), P(v.id), P(server_id), P(host), P(a->device),
                              a->boot_index >= 0 ? P(a->boot_index) : store_ptext(NULL),
                              P((int) a->dot), P(a->mode), P(transport), P(iscsi ? user : NULL),
                              P(iscsi ? secret : NULL), P(now), P(now))) < 0 ||
        store_exec(c, err,
                   "UPDATE volumes SET status = 'attaching', updated_at = ? WHERE id = ? AND"
                   " status IN ('in-use', 'attaching')",
                   STORE_ARGS(P(now), P(v.id))) < 0 ||
        vol_bump(c, old_host, err) < 0 || vol_bump(c, host, err) < 0 ||
        vol_bump(c, v.host, err) < 0)
        goto out;
    rc = 0;
out:
    explicit_bzero(secret, sizeof(secret));
    vol_rec_release(&v);
    return rc;
}

static int rehome(struct store_conn *c, const char *server_id, const char *old_host,
                  const char *host, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT a.id, a.volume_id, a.status, a.device,"
                                       " COALESCE(a.boot_index, -1), a.delete_on_termination,"
                                       " a.mode, v.host FROM volume_attachments a JOIN volumes v"
                                       " ON v.id = a.volume_id WHERE a.server_id = ? ORDER BY"
                                       " a.device",
                                       STORE_ARGS(P(server_id)));
    struct rehome_att *atts = NULL;
    size_t n = 0;
    int rc;

    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0) {
        struct rehome_att *a;
        atts = st_xrealloc(atts, (n + 1) * sizeof(*atts));
        a = &atts[n++];
        memset(a, 0, sizeof(*a));
        ST_IGNORE(st_snprintf(a->id, sizeof(a->id), "%s", store_text(s, 0)));
        ST_IGNORE(st_snprintf(a->volume_id, sizeof(a->volume_id), "%s", store_text(s, 1)));
        ST_IGNORE(st_snprintf(a->status, sizeof(a->status), "%s", store_text(s, 2)));
        ST_IGNORE(st_snprintf(a->device, sizeof(a->device), "%s",
                              store_text(s, 3) ? store_text(s, 3) : ""));
        a->boot_index = store_int(s, 4);
        a->dot = store_int(s, 5) != 0;
        ST_IGNORE(st_snprintf(a->mode, sizeof(a->mode), "%s",
                              store_text(s, 6) ? store_text(s, 6) : "rw"));
        ST_IGNORE(st_snprintf(a->vhost, sizeof(a->vhost), "%s",
                              store_text(s, 7) ? store_text(s, 7) : ""));
    }
    store_done(s);
    /* Every volume that must follow can, or nothing changes. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct rehome_att *a = &atts[i];
        bool up = false;
        if (!strcmp(a->status, "detaching"))
            continue; /* ends: it need not follow */
        if (!a->vhost[0] || !strcmp(a->vhost, old_host) || host_up(c, a->vhost, &up, err) < 0 ||
            !up) {
            if (!st_err_is_set(err))
                st_err_set(err, ST_ERR_CONFLICT,
                           "Volume %s is on host %s, which is down: it cannot follow server %s.",
                           a->volume_id, a->vhost[0] ? a->vhost : "(none)", server_id);
            rc = -1;
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (rehome_one(c, server_id, old_host, host, &atts[i], err) < 0)
            rc = -1;
    free(atts);
    return rc < 0 ? -1 : 0;
}

/* The connection of an attachment for the agent, or NULL while the
 * volume's host has not reported what it needs (location or export). */
static json_t *connection(const char *transport, json_t *location, json_t *export,
                          const char *user, const char *secret)
{
    if (!strcmp(transport, "iscsi")) {
        if (!json_is_object(export) || !json_object_get(export, "iqn"))
            return NULL;
        json_t *o = json_pack("{s:s, s:O, s:O, s:O, s:s, s:s}", "type", "iscsi", "portal",
                              json_object_get(export, "portal"), "iqn",
                              json_object_get(export, "iqn"), "lun",
                              json_object_get(export, "lun"), "chap_user", user ? user : "",
                              "chap_secret", secret ? secret : "");
        if (o && json_object_get(export, "format"))
            json_object_set(o, "format", json_object_get(export, "format"));
        return o;
    }
    if (!json_is_object(location) || !json_object_get(location, "path"))
        return NULL;
    return json_deep_copy(location);
}

static json_t *server_volumes(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT a.id, a.volume_id, a.device, a.boot_index,"
                                       " a.transport, v.location, a.export, a.chap_user,"
                                       " a.chap_secret, a.status FROM volume_attachments a JOIN"
                                       " volumes v ON v.id = a.volume_id WHERE a.server_id = ?"
                                       " ORDER BY a.device",
                                       STORE_ARGS(P(server_id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *loc = vol_parse(store_text(s, 5), json_null());
        json_t *exp = vol_parse(store_text(s, 6), json_null());
        json_t *conn = connection(store_text(s, 4), loc, exp, store_text(s, 7), store_text(s, 8));
        bool del = !strcmp(store_text(s, 9), "detaching");
        json_decref(loc);
        json_decref(exp);
        if (!conn && !del)
            continue; /* not ready on the volume's side yet */
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:o, s:o, s:b}", "attachment_id", store_text(s, 0),
                           "volume_id", store_text(s, 1), "device", store_text(s, 2),
                           "boot_index",
                           store_isnull(s, 3) ? json_null() : json_integer(store_int(s, 3)),
                           "connection", conn ? conn : json_null(), "delete", del));
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static int boot_ready(struct store_conn *c, const char *server_id, bool *ready,
                      struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT a.transport, v.location, a.export, a.chap_user,"
                                       " a.chap_secret FROM volume_attachments a JOIN volumes v"
                                       " ON v.id = a.volume_id WHERE a.server_id = ? AND"
                                       " a.boot_index = 0 AND a.status <> 'detaching'",
                                       STORE_ARGS(P(server_id)));
    int rc;
    *ready = true;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        json_t *loc = vol_parse(store_text(s, 1), json_null());
        json_t *exp = vol_parse(store_text(s, 2), json_null());
        json_t *conn =
            connection(store_text(s, 0), loc, exp, store_text(s, 3), store_text(s, 4));
        *ready = conn != NULL;
        json_decref(conn);
        json_decref(loc);
        json_decref(exp);
    }
    store_done(s);
    return rc < 0 ? -1 : 0;
}

static json_t *attached(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT volume_id, delete_on_termination FROM"
                                       " volume_attachments WHERE server_id = ? ORDER BY device",
                                       STORE_ARGS(P(server_id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, json_pack("{s:s, s:b}", "id", store_text(s, 0),
                                             "delete_on_termination", (int) store_int(s, 1)));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

const struct compute_volumes_ops vol_compute_volumes = {
    .boot_image = boot_image,
    .boot = boot,
    .release = release,
    .rehome = rehome,
    .server_volumes = server_volumes,
    .boot_ready = boot_ready,
    .attached = attached,
    .host_desired = vol_host_desired,
    .host_report = vol_host_report,
    .host_register = vol_host_register,
    .task_done = vol_task_done,
};

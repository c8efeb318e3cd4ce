/*
 * volume_action.c - the actions of a volume (POST .../volumes/{id}/action,
 * vol_action()): extend, bootable, readonly, upload to image, retype,
 * reset status, and Nova's reserve/attach/detach bookkeeping.  Like the
 * rest of the module they write intent: the host's agent does the work
 * and its report moves the status on.
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

/* ---- actions -------------------------------------------------------------------- */

static int bad_status(const struct vol_rec *r, const char *want, struct st_err *err)
{
    st_err_set(err, ST_ERR_BAD_REQUEST,
               "Invalid volume: Volume %s status must be %s, but current status is: %s.", r->id,
               want, r->status);
    return -1;
}

static int act_extend(struct store_conn *c, const struct auth_ctx *ctx, struct vol_rec *r,
                      json_t *args, struct st_err *err)
{
    json_t *ns = json_object_get(args, "new_size");
    int64_t size = 0;
    bool attached = !strcmp(r->status, "in-use");
    if (json_is_integer(ns))
        size = json_integer_value(ns);
    else if (!json_is_string(ns) ||
             st_parse_i64(json_string_value(ns), 1, VOL_MAX_SIZE_GB, &size) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute new_size.");
        return -1;
    }
    if (strcmp(r->status, "available") && strcmp(r->status, "in-use"))
        return bad_status(r, "available or in-use", err);
    if (size <= r->size) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input received: New size for extend must be greater than current "
                   "size. (current: %lld, extended: %lld).",
                   (long long) r->size, (long long) size);
        return -1;
    }
    if (size > VOL_MAX_SIZE_GB) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input received: new_size is too large");
        return -1;
    }
    if (vol_quota_check(c, ctx->project_id, 0, size - r->size, 0, 0, 0, err) < 0)
        return -1;
    return store_exec(c, err,
                      "UPDATE volumes SET size = ?, status = 'extending', previous_status = ?,"
                      " updated_at = ? WHERE id = ?",
                      STORE_ARGS(P(size), P(attached ? "in-use" : "available"), P(vol_now()),
                                 P(r->id))) < 0
               ? -1
               : vol_bump(c, r->host, err);
}

static int act_upload(struct store_conn *c, const struct auth_ctx *ctx, struct vol_rec *r,
                      json_t *args, json_t **out, struct st_err *err)
{
    const char *name = NULL, *fmt = "raw", *cfmt = "bare";
    json_t *in, *img, *targs;
    bool force = false;
    char task[37];
    if (jget_str(args, "image_name", true, 255, &name, err) < 0 ||
        jget_str(args, "disk_format", false, 32, &fmt, err) < 0 ||
        jget_str(args, "container_format", false, 32, &cfmt, err) < 0)
        return -1;
    if (json_is_true(json_object_get(args, "force")) ||
        (json_is_string(json_object_get(args, "force")) &&
         !strcasecmp(json_string_value(json_object_get(args, "force")), "true")))
        force = true;
    if (strcmp(fmt, "raw") && strcmp(fmt, "qcow2")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid disk-format '%s' is specified. Allowed disk-formats are raw, qcow2.",
                   fmt);
        return -1;
    }
    if (strcmp(r->status, "available") && !(force && !strcmp(r->status, "in-use")))
        return bad_status(r, "available", err);
    in = json_pack("{s:s, s:s, s:s}", "name", name, "disk_format", fmt, "container_format",
                   cfmt);
    img = image_create_in_tx(c, ctx, in, err);
    json_decref(in);
    if (!img)
        return -1;
    targs = json_pack("{s:s, s:O, s:s}", "volume_id", r->id, "image_id",
                      json_object_get(img, "id"), "disk_format", fmt);
    if (vol_task_add(c, r->host, r->id, "volume_upload_image", targs, task, err) < 0 ||
        store_exec(c, err,
                   "UPDATE volumes SET previous_status = status, status = 'uploading',"
                   " updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(vol_now()), P(r->id))) < 0) {
        json_decref(targs);
        json_decref(img);
        return -1;
    }
    json_decref(targs);
    *out = json_pack("{s:{s:s, s:I, s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:s}}",
                     "os-volume_upload_image", "id", r->id, "size", (json_int_t) r->size,
                     "status", "uploading", "display_description", "", "updated_at", "",
                     "image_id", json_object_get(img, "id"), "image_name",
                     json_object_get(img, "name"), "disk_format", fmt, "container_format", cfmt,
                     "volume_type", r->type_name);
    json_object_set_new(json_object_get(*out, "os-volume_upload_image"), "visibility",
                        json_string("private"));
    json_object_set_new(json_object_get(*out, "os-volume_upload_image"), "protected",
                        json_false());
    json_decref(img);
    return 0;
}

int vol_action(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
               const char *name, json_t *args, json_t **out, struct st_err *err)
{
    struct vol_rec r;
    int rc = -1, status = 202;
    *out = NULL;
    if (vol_load_writable(c, ctx, id, &r, err) < 0)
        return -1;
    if (store_begin(c, err) < 0)
        goto out;
    if (!strcmp(name, "os-extend")) {
        rc = act_extend(c, ctx, &r, args, err);
    } else if (!strcmp(name, "os-set_bootable")) {
        json_t *b = json_object_get(args, "bootable");
        bool v = json_is_true(b);
        if (json_is_string(b) && st_parse_bool(json_string_value(b), &v) < 0)
            b = NULL;
        if (!json_is_boolean(b) && !json_is_string(b)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute bootable.");
        } else {
            rc = store_exec(c, err, "UPDATE volumes SET bootable = ?, updated_at = ? WHERE id = ?",
                            STORE_ARGS(P((int) v), P(vol_now()), P(id))) < 0
                     ? -1
                     : 0;
            status = 200;
        }
    } else if (!strcmp(name, "os-update_readonly_flag")) {
        json_t *b = json_object_get(args, "readonly");
        bool v = json_is_true(b);
        if (json_is_string(b) && st_parse_bool(json_string_value(b), &v) < 0)
            b = NULL;
        if (!json_is_boolean(b) && !json_is_string(b))
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute readonly.");
        else {
            json_t *m = json_pack("{s:s}", "readonly", v ? "True" : "False");
            char *mt;
            json_t *cur = NULL;
            struct store_stmt *s = store_query(c, err, "SELECT metadata FROM volumes WHERE id = ?",
                                               STORE_ARGS(P(id)));
            if (s && store_next(s, err) > 0)
                cur = vol_parse(store_text(s, 0), json_object());
            store_done(s);
            if (!cur)
                cur = json_object();
            json_object_update(cur, m);
            mt = json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS);
            rc = store_exec(c, err,
                            "UPDATE volumes SET readonly = ?, metadata = ?, updated_at = ?"
                            " WHERE id = ?",
                            STORE_ARGS(P((int) v), P(mt), P(vol_now()), P(id))) < 0
                     ? -1
                     : 0;
            free(mt);
            json_decref(cur);
            json_decref(m);
        }
    } else if (!strcmp(name, "os-volume_upload_image")) {
        rc = act_upload(c, ctx, &r, args, out, err);
        status = 202;
    } else if (!strcmp(name, "os-retype")) {
        const char *nt = NULL;
        char tid[37], backend[64];
        if (jget_str(args, "new_type", true, 255, &nt, err) == 0 &&
            vol_type_resolve(c, nt, tid, backend, NULL, err) == 0) {
            if (strcmp(r.status, "available") && strcmp(r.status, "in-use"))
                rc = bad_status(&r, "available or in-use", err);
            else if (strcmp(backend, r.backend))
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "Invalid volume: retype to a type of another backend (%s) needs a "
                           "migration, which stratus does not do.",
                           backend);
            else
                rc = store_exec(c, err,
                                "UPDATE volumes SET type_id = ?, updated_at = ? WHERE id = ?",
                                STORE_ARGS(P(tid), P(vol_now()), P(id))) < 0
                         ? -1
                         : 0;
        }
    } else if (!strcmp(name, "os-reset_status")) {
        const char *st = NULL;
        static const char *const valid[] = {"available", "error", "in-use", "creating",
                                            "deleting", "attaching", "detaching",
                                            "error_deleting", "maintenance", "extending",
                                            "error_extending"};
        bool ok = false;
        if (policy_admin(ctx, "reset the status of volumes", err) == 0 &&
            jget_str(args, "status", false, 32, &st, err) == 0) {
            for (size_t i = 0; st && i < ST_ARRAY_SIZE(valid); i++)
                ok |= !strcmp(st, valid[i]);
            if (st && !ok)
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input received: status %s", st);
            else
                rc = st ? vol_set_status(c, id, st, err) : 0;
        }
    } else if (!strcmp(name, "os-reserve") || !strcmp(name, "os-unreserve") ||
               !strcmp(name, "os-begin_detaching") || !strcmp(name, "os-roll_detaching") ||
               !strcmp(name, "os-initialize_connection") || !strcmp(name, "os-terminate_connection") ||
               !strcmp(name, "os-attach") || !strcmp(name, "os-detach") ||
               !strcmp(name, "os-force_detach")) {
        /* Nova's half of an attach runs inside stratus (attach.c); these
         * exist for clients that call them: accepted, nothing to do. */
        rc = 0;
    } else if (!strcmp(name, "os-force_delete")) {
        store_rollback(c);
        rc = vol_delete(c, ctx, id, true, true, err);
        vol_rec_release(&r);
        return rc < 0 ? -1 : 202;
    } else {
        st_err_set(err, ST_ERR_BAD_REQUEST, "There is no such action: %s", name);
    }
    if (rc < 0 || store_commit(c, err) < 0) {
        store_rollback(c);
        rc = -1;
        goto out;
    }
    revision_notify();
out:
    vol_rec_release(&r);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return status;
}

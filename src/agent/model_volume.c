/* model_volume.c - parsing and checking of the volumes of the desired
 * state and of servers' volume attachments, and their lookups; see
 * model.h, and model_internal.h for what model.c lends. */
#include "agent/model_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- Volumes (docs/agent-protocol.md, "Volumes in the desired state"). */

/* Whether every character of 's' (non-empty) is alphanumeric or in 'extra'. */
static bool chars_ok(const char *s, const char *extra)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char) *s) && !strchr(extra, *s))
            return false;
    return true;
}

/* An absolute path of [A-Za-z0-9/._-] with no ".." component. */
static bool vol_path_ok(const char *p)
{
    if (p[0] != '/' || !chars_ok(p, "/._-"))
        return false;
    for (const char *q = p; (q = strstr(q, "..")); q++)
        if ((q == p || q[-1] == '/') && (q[2] == '/' || q[2] == '\0'))
            return false;
    return true;
}

static bool hex_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isxdigit((unsigned char) *s))
            return false;
    return true;
}

static int parse_chap(json_t *o, char user[MODEL_CHAP_USER_MAX],
                      char secret[MODEL_CHAP_SECRET_MAX], struct st_err *err)
{
    if (model_copy_str(o, "chap_user", true, user, MODEL_CHAP_USER_MAX, err) < 0 ||
        model_copy_str(o, "chap_secret", true, secret, MODEL_CHAP_SECRET_MAX, err) < 0)
        return -1;
    if (!chars_ok(user, "._-"))
        return model_bad(err, "chap_user", user);
    if (!hex_ok(secret) || strlen(secret) < 12)
        return model_bad(err, "chap_secret", "not 12 to 64 hex digits");
    return 0;
}

int model_parse_attachment(json_t *o, struct model_attachment *a, struct st_err *err)
{
    json_t *c, *bi;
    const char *type;
    int64_t lun = 0;
    if (!json_is_object(o))
        return model_bad(err, "volumes", "an attachment is not an object");
    a->boot_index = -1;
    if (model_copy_id(o, "attachment_id", true, a->attachment_id, err) < 0 ||
        model_copy_id(o, "volume_id", true, a->volume_id, err) < 0 ||
        model_copy_str(o, "device", true, a->device, sizeof(a->device), err) < 0)
        return -1;
    model_lower(a->attachment_id);
    model_lower(a->volume_id);
    if (strlen(a->device) != 3 ||
        (strncmp(a->device, "vd", 2) && strncmp(a->device, "sd", 2) &&
         strncmp(a->device, "hd", 2)) ||
        a->device[2] < 'a' || a->device[2] > 'z')
        return model_bad(err, "device", a->device);
    bi = json_object_get(o, "boot_index");
    if (bi && !json_is_null(bi)) {
        if (!json_is_integer(bi) || json_integer_value(bi) < 0 || json_integer_value(bi) > 64)
            return model_bad(err, "boot_index", "out of range");
        a->boot_index = (int) json_integer_value(bi);
    }
    a->delete = json_is_true(json_object_get(o, "delete"));
    c = json_object_get(o, "connection");
    if (!json_is_object(c))
        return model_bad(err, "connection", "missing");
    type = json_string_value(json_object_get(c, "type"));
    if (!type)
        return model_bad(err, "connection.type", "missing");
    if (model_copy_str(c, "format", false, a->format, sizeof(a->format), err) < 0)
        return -1;
    if (a->format[0] && strcmp(a->format, "qcow2") && strcmp(a->format, "raw"))
        return model_bad(err, "connection.format", a->format);
    if (!strcmp(type, "file") || !strcmp(type, "block")) {
        a->type = !strcmp(type, "file") ? MODEL_CONN_FILE : MODEL_CONN_BLOCK;
        if (model_copy_str(c, "path", true, a->path, sizeof(a->path), err) < 0)
            return -1;
        if (!vol_path_ok(a->path))
            return model_bad(err, "connection.path", a->path);
        if (!a->format[0]) {
            const char *f = a->type == MODEL_CONN_FILE ? "qcow2" : "raw";
            memcpy(a->format, f, strlen(f) + 1);
        }
    } else if (!strcmp(type, "iscsi")) {
        a->type = MODEL_CONN_ISCSI;
        if (model_copy_str(c, "portal", true, a->portal, sizeof(a->portal), err) < 0 ||
            model_copy_str(c, "iqn", true, a->iqn, sizeof(a->iqn), err) < 0 ||
            model_get_int(c, "lun", false, 0, 255, &lun, err) < 0 ||
            parse_chap(c, a->chap_user, a->chap_secret, err) < 0)
            return -1;
        a->lun = (int) (lun ? lun : 1);
        if (!chars_ok(a->portal, ".:[]") || !strchr(a->portal, ':'))
            return model_bad(err, "connection.portal", a->portal);
        if (!chars_ok(a->iqn, ".:-") || strncmp(a->iqn, "iqn.", 4))
            return model_bad(err, "connection.iqn", a->iqn);
    } else {
        return model_bad(err, "connection.type", type);
    }
    return 0;
}

static int parse_volume(json_t *o, struct model_volume *v, struct st_err *err)
{
    json_t *src, *arr, *e;
    size_t i;
    if (!json_is_object(o))
        return model_bad(err, "volumes", "a volume is not an object");
    if (model_copy_id(o, "id", true, v->id, err) < 0 ||
        model_copy_str(o, "backend", true, v->backend, sizeof(v->backend), err) < 0 ||
        model_get_int(o, "size", true, 1, INT64_C(1) << 20, &v->size_gb, err) < 0)
        return -1;
    model_lower(v->id);
    if (!chars_ok(v->backend, "_"))
        return model_bad(err, "backend", v->backend);
    v->delete = json_is_true(json_object_get(o, "delete"));
    src = json_object_get(o, "source");
    if (src && !json_is_null(src)) {
        const char *type = json_string_value(json_object_get(src, "type"));
        if (!json_is_object(src) || !type)
            return model_bad(err, "source", "not an object with a type");
        if (!strcmp(type, "image")) {
            v->source = MODEL_VSRC_IMAGE;
            if (model_parse_image(json_object_get(src, "image"), &v->image, err) < 0)
                return -1;
            if (!v->image.present)
                return model_bad(err, "source.image", "missing");
        } else {
            if (!strcmp(type, "snapshot"))
                v->source = MODEL_VSRC_SNAPSHOT;
            else if (!strcmp(type, "volume"))
                v->source = MODEL_VSRC_VOLUME;
            else if (!strcmp(type, "backup"))
                v->source = MODEL_VSRC_BACKUP;
            else
                return model_bad(err, "source.type", type);
            if (model_copy_id(src, "id", true, v->source_id, err) < 0)
                return -1;
            model_lower(v->source_id);
        }
    }
    if (model_get_array(o, "snapshots", MODEL_MAX_VOL_SNAPSHOTS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        v->snapshots = st_xcalloc(json_array_size(arr), sizeof(*v->snapshots));
    json_array_foreach(arr, i, e)
    {
        if (!json_is_object(e) || model_copy_id(e, "id", true, v->snapshots[i].id, err) < 0)
            return st_err_is_set(err) ? -1 : model_bad(err, "snapshots", NULL);
        model_lower(v->snapshots[i].id);
        v->snapshots[i].delete = json_is_true(json_object_get(e, "delete"));
        v->nsnapshots++;
    }
    if (model_get_array(o, "exports", MODEL_MAX_EXPORTS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        v->exports = st_xcalloc(json_array_size(arr), sizeof(*v->exports));
    json_array_foreach(arr, i, e)
    {
        struct model_vol_export *x = &v->exports[i];
        if (!json_is_object(e) ||
            model_copy_id(e, "attachment_id", true, x->attachment_id, err) < 0 ||
            parse_chap(e, x->chap_user, x->chap_secret, err) < 0)
            return st_err_is_set(err) ? -1 : model_bad(err, "exports", NULL);
        model_lower(x->attachment_id);
        v->nexports++;
    }
    return 0;
}

void model_volume_release(struct model_volume *v)
{
    model_image_release(&v->image);
    free(v->snapshots);
    if (v->exports) {
        explicit_bzero(v->exports, v->nexports * sizeof(*v->exports));
        free(v->exports);
    }
}

static int parse_volume_v(json_t *o, void *p, struct st_err *err)
{
    return parse_volume(o, p, err);
}

int model_parse_vol_lists(json_t *doc, struct model_desired *d, struct st_err *err)
{
    json_t *b, *e;
    size_t i;
    d->has_volumes = json_is_array(json_object_get(doc, "volumes"));
    if (model_parse_list(doc, "volumes", MODEL_MAX_VOLUMES, sizeof(*d->volumes),
                         (void **) &d->volumes, &d->nvolumes, parse_volume_v, err) < 0)
        return -1;
    for (i = 0; i < d->nvolumes; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->volumes[i].id, d->volumes[j].id))
                return model_bad(err, "volumes", "duplicate id");
    if (model_get_array(doc, "backups", MODEL_MAX_VOLUMES * 4, &b, err) < 0)
        return -1;
    d->has_backups = b != NULL;
    if (json_array_size(b))
        d->backups = st_xcalloc(json_array_size(b), sizeof(*d->backups));
    json_array_foreach(b, i, e)
    {
        if (!json_is_object(e) || model_copy_id(e, "id", true, d->backups[i], err) < 0)
            return st_err_is_set(err) ? -1 : model_bad(err, "backups", NULL);
        model_lower(d->backups[i]);
        d->nbackups++;
    }
    return 0;
}

const struct model_volume *model_find_volume(const struct model_desired *d, const char *id)
{
    for (size_t i = 0; i < d->nvolumes; i++)
        if (!strcmp(d->volumes[i].id, id))
            return &d->volumes[i];
    return NULL;
}

const struct model_attachment *model_boot_volume(const struct model_server *s)
{
    for (int i = 0; i < s->nvolumes; i++)
        if (s->volumes[i].boot_index == 0 && !s->volumes[i].delete)
            return &s->volumes[i];
    return NULL;
}

bool model_task_is_volume(const struct model_task *t)
{
    return t->kind == MODEL_TASK_VOLUME_BACKUP || t->kind == MODEL_TASK_VOLUME_RESTORE ||
           t->kind == MODEL_TASK_VOLUME_UPLOAD_IMAGE;
}

/* image.c - Glance v2 images over the store and the image directory. */
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "image/inspect.h"
#include "common/banned.h"

#define IMAGE_MAX_TAGS 128
#define IMAGE_MAX_PROPS 128
#define IMAGE_TAG_MAX 255
#define IMAGE_PROP_VALUE_MAX 65535

static const char *const disk_formats[] = {"raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx",
                                           "iso", "aki",   "ari",  "ami", "ploop"};
static const char *const container_formats[] = {"bare", "ovf", "aki", "ari", "ami",
                                                "ova",  "docker", "compressed"};
static const char *const visibilities[] = {"public", "private", "shared", "community"};

/* Members of the image representation that are not free-form properties. */
static const char *const core_keys[] = {
    "id",           "name",          "status",         "visibility",       "owner",
    "size",         "virtual_size",  "checksum",       "os_hash_algo",     "os_hash_value",
    "disk_format",  "container_format", "min_disk",    "min_ram",          "protected",
    "os_hidden",    "tags",          "created_at",     "updated_at",       "self",
    "file",         "schema",        "locations",      "direct_url",       "deleted",
    "deleted_at",   "stores",
};
/* Core members no client may set. */
static const char *const readonly_keys[] = {
    "status",        "size",       "virtual_size", "checksum",   "os_hash_algo",
    "os_hash_value", "created_at", "updated_at",   "self",       "file",
    "schema",        "locations",  "direct_url",   "deleted",    "deleted_at",
};

#define SELECT_IMAGE                                                                           \
    "SELECT id, name, status, visibility, owner, size, virtual_size, checksum, os_hash_algo,"  \
    " os_hash_value, disk_format, container_format, min_disk, min_ram, protected, os_hidden,"  \
    " created_at, updated_at FROM images"

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

static bool is_core(const char *k)
{
    return in_list(k, core_keys, ST_ARRAY_SIZE(core_keys));
}

static bool is_readonly(const char *k)
{
    return in_list(k, readonly_keys, ST_ARRAY_SIZE(readonly_keys));
}

/* Property names Glance reserves for itself. */
static bool is_reserved_prop(const char *k)
{
    return !strncmp(k, "os_glance", 9);
}

static void not_found(const char *id, struct st_err *err)
{
    st_err_set(err, ST_ERR_NOT_FOUND, "No image found with ID %s", id);
}

static json_t *int_or_null(struct store_stmt *s, int col)
{
    return store_isnull(s, col) ? json_null() : json_integer(store_int(s, col));
}

static json_t *text_or_null(struct store_stmt *s, int col)
{
    return st_json_str_or_null(store_text(s, col));
}

static json_t *time_json(int64_t secs)
{
    char t[32];
    st_time_iso(secs * 1000000, 0, t);
    return json_string(t);
}

/* Builds the representation of the current row, with properties and tags. */
static json_t *row_json(struct store_conn *c, struct store_stmt *s, struct st_err *err)
{
    const char *id = store_text(s, 0);
    json_t *o = json_object(), *tags = json_array();
    struct store_stmt *q;
    int rc;

    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "name", text_or_null(s, 1));
    json_object_set_new(o, "status", json_string(store_text(s, 2)));
    json_object_set_new(o, "visibility", json_string(store_text(s, 3)));
    json_object_set_new(o, "owner", text_or_null(s, 4));
    json_object_set_new(o, "size", int_or_null(s, 5));
    json_object_set_new(o, "virtual_size", int_or_null(s, 6));
    json_object_set_new(o, "checksum", text_or_null(s, 7));
    json_object_set_new(o, "os_hash_algo", text_or_null(s, 8));
    json_object_set_new(o, "os_hash_value", text_or_null(s, 9));
    json_object_set_new(o, "disk_format", text_or_null(s, 10));
    json_object_set_new(o, "container_format", text_or_null(s, 11));
    json_object_set_new(o, "min_disk", json_integer(store_int(s, 12)));
    json_object_set_new(o, "min_ram", json_integer(store_int(s, 13)));
    json_object_set_new(o, "protected", json_boolean(store_int(s, 14)));
    json_object_set_new(o, "os_hidden", json_boolean(store_int(s, 15)));
    json_object_set_new(o, "created_at", time_json(store_int(s, 16)));
    json_object_set_new(o, "updated_at", time_json(store_int(s, 17)));

    q = store_query(c, err, "SELECT tag FROM image_tags WHERE image_id = ? ORDER BY tag",
                    STORE_ARGS(P(id)));
    if (!q)
        goto fail;
    while ((rc = store_next(q, err)) > 0)
        json_array_append_new(tags, json_string(store_text(q, 0)));
    store_done(q);
    if (rc < 0)
        goto fail;
    json_object_set_new(o, "tags", tags);
    tags = NULL;
    q = store_query(c, err, "SELECT name, value FROM image_properties WHERE image_id = ?",
                    STORE_ARGS(P(id)));
    if (!q)
        goto fail;
    while ((rc = store_next(q, err)) > 0)
        json_object_set_new(o, store_text(q, 0), json_string(store_text(q, 1)));
    store_done(q);
    if (rc < 0)
        goto fail;
    return o;
fail:
    json_decref(tags);
    json_decref(o);
    return NULL;
}

/* The one visibility rule.  Admins see everything; others their project's
 * images, public and community ones, and shared ones they are a member of. */
static bool visible(struct store_conn *c, const struct auth_ctx *ctx, const char *owner,
                    const char *visibility, const char *id)
{
    int64_t one;
    struct st_err ignored = ST_ERR_INIT;
    if (ctx->is_admin || st_streq(owner, ctx->project_id))
        return true;
    if (!strcmp(visibility, "public") || !strcmp(visibility, "community"))
        return true;
    if (!strcmp(visibility, "shared"))
        return store_get_int(c, &ignored, &one,
                             "SELECT 1 FROM image_members WHERE image_id = ? AND member_id = ?",
                             STORE_ARGS(P(id), P(ctx->project_id))) > 0;
    return false;
}

struct image_row {
    char id[37];
    char owner[65];
    char visibility[16];
    char status[24];
    char disk_format[16];
    bool protected_;
};

/* Loads the fields access checks need; NOT_FOUND unless visible. */
static int load_row(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    struct image_row *r, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT owner, visibility, status, disk_format, protected"
                                       " FROM images WHERE id = ?",
                                       STORE_ARGS(P(id)));
    int rc;
    if (!s)
        return -1;
    memset(r, 0, sizeof(*r));
    rc = store_next(s, err);
    if (rc > 0) {
        ST_IGNORE(st_snprintf(r->id, sizeof(r->id), "%s", id));
        ST_IGNORE(st_snprintf(r->owner, sizeof(r->owner), "%s",
                           store_text(s, 0) ? store_text(s, 0) : ""));
        ST_IGNORE(st_snprintf(r->visibility, sizeof(r->visibility), "%s", store_text(s, 1)));
        ST_IGNORE(st_snprintf(r->status, sizeof(r->status), "%s", store_text(s, 2)));
        ST_IGNORE(st_snprintf(r->disk_format, sizeof(r->disk_format), "%s",
                           store_text(s, 3) ? store_text(s, 3) : ""));
        r->protected_ = store_int(s, 4) != 0;
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0 || !visible(c, ctx, r->owner, r->visibility, id)) {
        not_found(id, err);
        return -1;
    }
    return 0;
}

/* Writing needs the owner's project (as a member) or an admin. */
static int writable(const struct auth_ctx *ctx, const struct image_row *r, struct st_err *err)
{
    if (ctx->is_admin)
        return 0;
    if (strcmp(r->owner, ctx->project_id)) {
        st_err_set(err, ST_ERR_FORBIDDEN, "You are not permitted to modify image %s.", r->id);
        return -1;
    }
    return policy_write(ctx, r->owner, "image", r->id, err);
}

json_t *image_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                  struct st_err *err)
{
    struct image_row r;
    struct store_stmt *s;
    json_t *o = NULL;
    if (load_row(c, ctx, id, &r, err) < 0)
        return NULL;
    s = store_query(c, err, SELECT_IMAGE " WHERE id = ?", STORE_ARGS(P(id)));
    if (!s)
        return NULL;
    if (store_next(s, err) > 0)
        o = row_json(c, s, err);
    else if (!st_err_is_set(err))
        not_found(id, err);
    store_done(s);
    return o;
}

static int set_props(struct store_conn *c, const char *id, json_t *props, struct st_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v)
    {
        if (store_exec(c, err,
                       "INSERT INTO image_properties (image_id, name, value) VALUES (?, ?, ?)"
                       " ON CONFLICT (image_id, name) DO UPDATE SET value = excluded.value",
                       STORE_ARGS(P(id), P(k), P(json_string_value(v)))) < 0)
            return -1;
    }
    return 0;
}

static int check_prop(const char *k, json_t *v, struct st_err *err)
{
    if (strlen(k) > 255 || !*k) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Property name '%.40s' is empty or too long", k);
        return -1;
    }
    if (is_reserved_prop(k)) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Attribute '%s' is reserved.", k);
        return -1;
    }
    if (!json_is_string(v) || json_string_length(v) > IMAGE_PROP_VALUE_MAX ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Property '%s' must be a string of at most %d characters", k,
                   IMAGE_PROP_VALUE_MAX);
        return -1;
    }
    return 0;
}

static int check_enum(json_t *in, const char *key, const char *const *list, size_t n,
                      const char **out, struct st_err *err)
{
    bool present;
    const char *v = NULL;
    if (jget_str_n(in, key, false, 64, &v, &present, err) < 0)
        return -1;
    if (present && v && !in_list(v, list, n)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid value '%s' for %s", v, key);
        return -1;
    }
    if (present)
        *out = v;
    return 0;
}

static int check_tag(const char *tag, struct st_err *err)
{
    if (!tag || !*tag || strlen(tag) > IMAGE_TAG_MAX) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "A tag must be 1 to %d characters", IMAGE_TAG_MAX);
        return -1;
    }
    return 0;
}

/* Creation, inside a transaction that the caller holds when 'own_tx' is
 * false. */
static json_t *create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in, bool own_tx,
                      struct st_err *err)
{
    const char *name = NULL, *vis = "shared", *dfmt = NULL, *cfmt = NULL, *owner;
    const char *cid = NULL;
    char id[37];
    int64_t min_disk = 0, min_ram = 0, now = st_now_us() / 1000000;
    bool prot = false, hidden = false, present;
    json_t *tags = NULL, *props = json_object(), *out = NULL, *v;
    const char *k;

    if (policy_write(ctx, ctx->project_id, "project", ctx->project_id, err) < 0)
        goto out;
    json_object_foreach(in, k, v)
    {
        if (is_readonly(k)) {
            st_err_set(err, ST_ERR_FORBIDDEN, "Attribute '%s' is read-only.", k);
            goto out;
        }
        if (!is_core(k)) {
            if (check_prop(k, v, err) < 0)
                goto out;
            json_object_set(props, k, v);
        }
    }
    if (json_object_size(props) > IMAGE_MAX_PROPS) {
        st_err_set(err, ST_ERR_OVER_QUOTA, "An image may have at most %d properties",
                   IMAGE_MAX_PROPS);
        goto out;
    }
    if (jget_str_n(in, "name", false, 255, &name, &present, err) < 0 ||
        jget_str(in, "id", false, 36, &cid, err) < 0 ||
        check_enum(in, "visibility", visibilities, ST_ARRAY_SIZE(visibilities), &vis, err) < 0 ||
        check_enum(in, "disk_format", disk_formats, ST_ARRAY_SIZE(disk_formats), &dfmt, err) <
            0 ||
        check_enum(in, "container_format", container_formats, ST_ARRAY_SIZE(container_formats),
                   &cfmt, err) < 0 ||
        jget_int(in, "min_disk", false, 0, INT32_MAX, &min_disk, err) < 0 ||
        jget_int(in, "min_ram", false, 0, INT32_MAX, &min_ram, err) < 0 ||
        jget_bool(in, "protected", false, &prot, err) < 0 ||
        jget_bool(in, "os_hidden", false, &hidden, err) < 0 ||
        jget_arr(in, "tags", false, IMAGE_MAX_TAGS, &tags, err) < 0)
        goto out;
    if (!vis) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid value for visibility: null");
        goto out;
    }
    if (!strcmp(vis, "public") && !ctx->is_admin) {
        st_err_set(err, ST_ERR_FORBIDDEN,
                   "You are not authorized to complete publicize_image action.");
        goto out;
    }
    owner = ctx->project_id;
    if (json_object_get(in, "owner")) {
        const char *o2 = NULL;
        if (jget_str_n(in, "owner", false, 64, &o2, &present, err) < 0)
            goto out;
        if (!st_streq(o2, ctx->project_id) && !ctx->is_admin) {
            st_err_set(err, ST_ERR_FORBIDDEN, "You are not permitted to create images owned by"
                                              " '%s'.", o2 ? o2 : "null");
            goto out;
        }
        owner = o2;
    }
    if (cid) {
        if (!st_is_uuid(cid) || strlen(cid) != 36) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid image id '%s': expected a UUID", cid);
            goto out;
        }
        ST_IGNORE(st_snprintf(id, sizeof(id), "%s", cid));
    } else {
        st_uuid(id);
    }
    size_t i;
    json_array_foreach(tags, i, v)
    {
        if (!json_is_string(v) || check_tag(json_string_value(v), err) < 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Tags must be strings of 1 to %d characters",
                       IMAGE_TAG_MAX);
            goto out;
        }
    }

    if (own_tx && store_begin(c, err) < 0)
        goto out;
    struct st_err local = ST_ERR_INIT;
    if (store_exec(c, &local,
                   "INSERT INTO images (id, name, status, visibility, owner, disk_format,"
                   " container_format, min_disk, min_ram, protected, os_hidden, created_at,"
                   " updated_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   STORE_ARGS(P(id), P(name), P(vis), P(owner), P(dfmt), P(cfmt), P(min_disk),
                              P(min_ram), P((int) prot), P((int) hidden), P(now), P(now))) < 0) {
        if (own_tx)
            store_rollback(c);
        if (local.kind == ST_ERR_CONFLICT)
            st_err_set(err, ST_ERR_CONFLICT, "An image with identifier %s already exists", id);
        else
            *err = local;
        goto out;
    }
    json_array_foreach(tags, i, v)
    {
        if (store_exec(c, err,
                       "INSERT INTO image_tags (image_id, tag) VALUES (?, ?)"
                       " ON CONFLICT DO NOTHING",
                       STORE_ARGS(P(id), P(json_string_value(v)))) < 0) {
            if (own_tx)
                store_rollback(c);
            goto out;
        }
    }
    if (set_props(c, id, props, err) < 0 || (own_tx && store_commit(c, err) < 0)) {
        if (own_tx)
            store_rollback(c);
        goto out;
    }
    out = image_get(c, ctx, id, err);
out:
    json_decref(props);
    return out;
}

json_t *image_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                     struct st_err *err)
{
    return create(c, ctx, in, true, err);
}

json_t *image_create_in_tx(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                           struct st_err *err)
{
    return create(c, ctx, in, false, err);
}

void image_query_init(struct image_query *q)
{
    memset(q, 0, sizeof(*q));
    q->size_min = q->size_max = -1;
    q->protected_ = -1;
    q->os_hidden = -1;
    q->limit = 25;
}

static const char *const sort_columns[] = {
    "name",      "status", "container_format", "disk_format", "size",    "id",
    "created_at", "updated_at", "visibility", "owner",       "min_disk", "min_ram",
    "virtual_size",
};

json_t *image_list(struct store_conn *c, const struct auth_ctx *ctx, const struct image_query *q,
                   bool *more, struct st_err *err)
{
    struct st_buf sql = ST_BUF_INIT;
    struct store_param p[STORE_MAX_PARAMS];
    size_t np = 0;
    struct store_stmt *s = NULL;
    json_t *arr = NULL;
    const char *member_status = q->member_status ? q->member_status : "accepted";
    bool found_marker = !q->marker;
    char *ids = NULL; /* q->id_in split in place; parameters point into it */
    int rc, n = 0;

    *more = false;
    st_buf_adds(&sql, SELECT_IMAGE " WHERE 1 = 1");
#define ADDP(x) (np < STORE_MAX_PARAMS - 1 ? (void) (p[np++] = (x)) : (void) 0)
    if (q->visibility && strcmp(q->visibility, "all") &&
        !in_list(q->visibility, visibilities, ST_ARRAY_SIZE(visibilities))) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid visibility value: %s", q->visibility);
        goto out;
    }
    if (!ctx->is_admin) {
        /* Shared images are listed for their members according to the
         * member status asked for; community ones only when asked for. */
        st_buf_adds(&sql, " AND (owner = ? OR visibility = 'public'");
        ADDP(store_ptext(ctx->project_id));
        if (q->visibility && (!strcmp(q->visibility, "community") || !strcmp(q->visibility, "all")))
            st_buf_adds(&sql, " OR visibility = 'community'");
        st_buf_adds(&sql, " OR (visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members m"
                          " WHERE m.image_id = images.id AND m.member_id = ?");
        ADDP(store_ptext(ctx->project_id));
        if (strcmp(member_status, "all")) {
            st_buf_adds(&sql, " AND m.status = ?");
            ADDP(store_ptext(member_status));
        }
        st_buf_adds(&sql, ")))");
    } else if (!q->visibility) {
        st_buf_adds(&sql, " AND visibility <> 'community'");
    }
    if (q->visibility && strcmp(q->visibility, "all")) {
        st_buf_adds(&sql, " AND visibility = ?");
        ADDP(store_ptext(q->visibility));
    }
#define EQ(field, col)                                                                         \
    do {                                                                                       \
        if (q->field) {                                                                        \
            st_buf_adds(&sql, " AND " col " = ?");                                             \
            ADDP(store_ptext(q->field));                                                       \
        }                                                                                      \
    } while (0)
    EQ(name, "name");
    EQ(status, "status");
    EQ(owner, "owner");
    EQ(disk_format, "disk_format");
    EQ(container_format, "container_format");
#undef EQ
    if (q->size_min >= 0) {
        st_buf_adds(&sql, " AND size >= ?");
        ADDP(store_pint(q->size_min));
    }
    if (q->size_max >= 0) {
        st_buf_adds(&sql, " AND size <= ?");
        ADDP(store_pint(q->size_max));
    }
    if (q->protected_ >= 0) {
        st_buf_adds(&sql, " AND protected = ?");
        ADDP(store_pint(q->protected_));
    }
    st_buf_adds(&sql, " AND os_hidden = ?");
    ADDP(store_pint(q->os_hidden > 0));
    for (int i = 0; i < q->ntags; i++) {
        st_buf_adds(&sql, " AND EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = images.id"
                          " AND t.tag = ?)");
        ADDP(store_ptext(q->tags[i]));
    }
    for (int i = 0; i < q->nprops; i++) {
        st_buf_adds(&sql, " AND EXISTS (SELECT 1 FROM image_properties pr WHERE"
                          " pr.image_id = images.id AND pr.name = ? AND pr.value = ?)");
        ADDP(store_ptext(q->props[i].name));
        ADDP(store_ptext(q->props[i].value));
    }
    if (q->id_in) {
        /* "in:id1,id2": one bound parameter per id. */
        char *save = NULL, *tok;
        int k = 0;
        ids = st_xstrdup(q->id_in);
        st_buf_adds(&sql, " AND id IN (");
        for (tok = strtok_r(ids, ",", &save); tok && np < STORE_MAX_PARAMS - 8;
             tok = strtok_r(NULL, ",", &save)) {
            st_buf_adds(&sql, k++ ? ", ?" : "?");
            ADDP(store_ptext(tok));
        }
        if (!k)
            st_buf_adds(&sql, "NULL");
        st_buf_adds(&sql, ")");
    }
    st_buf_adds(&sql, " ORDER BY ");
    for (int i = 0; i < q->nsort; i++) {
        if (!in_list(q->sort_keys[i], sort_columns, ST_ARRAY_SIZE(sort_columns))) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid sort key: %s", q->sort_keys[i]);
            goto out;
        }
        st_buf_addf(&sql, "%s %s, ", q->sort_keys[i], q->sort_desc[i] ? "DESC" : "ASC");
    }
    if (!q->nsort)
        st_buf_adds(&sql, "created_at DESC, ");
    st_buf_adds(&sql, "id DESC");
#undef ADDP

    s = store_query(c, err, sql.buf, p, np);
    if (!s)
        goto out;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        if (!found_marker) {
            found_marker = !strcmp(store_text(s, 0), q->marker);
            continue;
        }
        if (n == q->limit) {
            *more = true;
            break;
        }
        json_t *o = row_json(c, s, err);
        if (!o) {
            rc = -1;
            break;
        }
        json_array_append_new(arr, o);
        n++;
    }
    if (rc < 0) {
        json_decref(arr);
        arr = NULL;
    } else if (!found_marker) {
        json_decref(arr);
        arr = NULL;
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid marker. Image %s could not be found.",
                   q->marker);
    }
out:
    store_done(s);
    free(ids);
    st_buf_release(&sql);
    return arr;
}

/* Applies one JSON-patch operation to the row and property tables. */
static int patch_op(struct store_conn *c, const struct auth_ctx *ctx, const struct image_row *r,
                    json_t *op, struct st_err *err)
{
    const char *o, *path, *key;
    json_t *value;
    int64_t now = st_now_us() / 1000000;

    if (!json_is_object(op) || jget_str(op, "op", true, 16, &o, err) < 0 ||
        jget_str(op, "path", true, 300, &path, err) < 0)
        return -1;
    if (strcmp(o, "add") && strcmp(o, "replace") && strcmp(o, "remove")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Unsupported patch operation '%s'", o);
        return -1;
    }
    if (path[0] != '/' || !path[1] || strchr(path + 1, '/')) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid JSON pointer for this resource: '%s'", path);
        return -1;
    }
    key = path + 1;
    value = json_object_get(op, "value");
    if (strcmp(o, "remove") && !value) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Operation '%s' needs a value", o);
        return -1;
    }
    if (is_readonly(key) || !strcmp(key, "id")) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Attribute '%s' is read-only.", key);
        return -1;
    }
    if (!is_core(key)) {
        if (!strcmp(o, "remove")) {
            int64_t n = store_exec(c, err,
                                   "DELETE FROM image_properties WHERE image_id = ? AND name = ?",
                                   STORE_ARGS(P(r->id), P(key)));
            if (n < 0)
                return -1;
            if (n == 0) {
                st_err_set(err, ST_ERR_CONFLICT, "Property %s does not exist.", key);
                return -1;
            }
            return 0;
        }
        if (check_prop(key, value, err) < 0)
            return -1;
        int64_t count = 0;
        if (store_get_int(c, err, &count,
                          "SELECT COUNT(*) FROM image_properties WHERE image_id = ?",
                          STORE_ARGS(P(r->id))) < 0)
            return -1;
        if (count >= IMAGE_MAX_PROPS) {
            st_err_set(err, ST_ERR_OVER_QUOTA, "An image may have at most %d properties",
                       IMAGE_MAX_PROPS);
            return -1;
        }
        json_t *one = json_pack("{s:O}", key, value);
        int rc = set_props(c, r->id, one, err);
        json_decref(one);
        return rc;
    }
    if (!strcmp(o, "remove")) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Attribute '%s' is reserved.", key);
        return -1;
    }
    /* Core attributes: add and replace mean the same. */
    json_t *wrap = json_pack("{s:O}", key, value);
    int rc = -1;
    if (!strcmp(key, "name")) {
        const char *name = NULL;
        bool present;
        if (jget_str_n(wrap, "name", false, 255, &name, &present, err) == 0)
            rc = store_exec(c, err, "UPDATE images SET name = ? WHERE id = ?",
                            STORE_ARGS(P(name), P(r->id))) < 0
                     ? -1
                     : 0;
    } else if (!strcmp(key, "visibility")) {
        const char *vis = NULL;
        if (check_enum(wrap, "visibility", visibilities, ST_ARRAY_SIZE(visibilities), &vis,
                       err) < 0 || !vis) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid visibility");
        } else if (!strcmp(vis, "public") && !ctx->is_admin) {
            st_err_set(err, ST_ERR_FORBIDDEN,
                       "You are not authorized to complete publicize_image action.");
        } else {
            rc = store_exec(c, err, "UPDATE images SET visibility = ? WHERE id = ?",
                            STORE_ARGS(P(vis), P(r->id))) < 0
                     ? -1
                     : 0;
        }
    } else if (!strcmp(key, "disk_format") || !strcmp(key, "container_format")) {
        const char *fmt = NULL;
        bool disk = !strcmp(key, "disk_format");
        if (strcmp(r->status, "queued")) {
            st_err_set(err, ST_ERR_FORBIDDEN,
                       "Attribute %s can be only replaced for a queued image.", key);
        } else if (check_enum(wrap, key, disk ? disk_formats : container_formats,
                              disk ? ST_ARRAY_SIZE(disk_formats)
                                   : ST_ARRAY_SIZE(container_formats),
                              &fmt, err) == 0) {
            rc = store_exec(c, err,
                            disk ? "UPDATE images SET disk_format = ? WHERE id = ?"
                                 : "UPDATE images SET container_format = ? WHERE id = ?",
                            STORE_ARGS(P(fmt), P(r->id))) < 0
                     ? -1
                     : 0;
        }
    } else if (!strcmp(key, "min_disk") || !strcmp(key, "min_ram")) {
        int64_t n;
        if (jget_int(wrap, key, true, 0, INT32_MAX, &n, err) == 0)
            rc = store_exec(c, err,
                            !strcmp(key, "min_disk")
                                ? "UPDATE images SET min_disk = ? WHERE id = ?"
                                : "UPDATE images SET min_ram = ? WHERE id = ?",
                            STORE_ARGS(P(n), P(r->id))) < 0
                     ? -1
                     : 0;
    } else if (!strcmp(key, "protected") || !strcmp(key, "os_hidden")) {
        bool b;
        if (jget_bool(wrap, key, true, &b, err) == 0)
            rc = store_exec(c, err,
                            !strcmp(key, "protected")
                                ? "UPDATE images SET protected = ? WHERE id = ?"
                                : "UPDATE images SET os_hidden = ? WHERE id = ?",
                            STORE_ARGS(P((int) b), P(r->id))) < 0
                     ? -1
                     : 0;
    } else if (!strcmp(key, "owner")) {
        const char *owner = NULL;
        bool present;
        if (!ctx->is_admin)
            st_err_set(err, ST_ERR_FORBIDDEN, "Attribute 'owner' is read-only.");
        else if (jget_str_n(wrap, "owner", false, 64, &owner, &present, err) == 0)
            rc = store_exec(c, err, "UPDATE images SET owner = ? WHERE id = ?",
                            STORE_ARGS(P(owner), P(r->id))) < 0
                     ? -1
                     : 0;
    } else if (!strcmp(key, "tags")) {
        json_t *tags;
        size_t i;
        json_t *t;
        if (jget_arr(wrap, "tags", true, IMAGE_MAX_TAGS, &tags, err) == 0) {
            rc = store_exec(c, err, "DELETE FROM image_tags WHERE image_id = ?",
                            STORE_ARGS(P(r->id))) < 0
                     ? -1
                     : 0;
            json_array_foreach(tags, i, t)
            {
                if (rc < 0)
                    break;
                if (!json_is_string(t) || check_tag(json_string_value(t), err) < 0) {
                    st_err_set(err, ST_ERR_BAD_REQUEST, "Tags must be non-empty strings");
                    rc = -1;
                    break;
                }
                rc = store_exec(c, err,
                                "INSERT INTO image_tags (image_id, tag) VALUES (?, ?)"
                                " ON CONFLICT DO NOTHING",
                                STORE_ARGS(P(r->id), P(json_string_value(t)))) < 0
                         ? -1
                         : 0;
            }
        }
    } else {
        st_err_set(err, ST_ERR_FORBIDDEN, "Attribute '%s' is read-only.", key);
    }
    json_decref(wrap);
    if (rc == 0 && store_exec(c, err, "UPDATE images SET updated_at = ? WHERE id = ?",
                              STORE_ARGS(P(now), P(r->id))) < 0)
        rc = -1;
    return rc;
}

json_t *image_patch(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    json_t *ops, struct st_err *err)
{
    struct image_row r;
    size_t i;
    json_t *op;

    if (!json_is_array(ops)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "The request body must be a JSON-patch list");
        return NULL;
    }
    if (json_array_size(ops) > 256) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "At most 256 patch operations at once");
        return NULL;
    }
    if (load_row(c, ctx, id, &r, err) < 0 || writable(ctx, &r, err) < 0)
        return NULL;
    if (store_begin(c, err) < 0)
        return NULL;
    json_array_foreach(ops, i, op)
    {
        if (patch_op(c, ctx, &r, op, err) < 0) {
            store_rollback(c);
            return NULL;
        }
    }
    if (store_commit(c, err) < 0) {
        store_rollback(c);
        return NULL;
    }
    return image_get(c, ctx, id, err);
}

static void image_path(const struct image_files *files, const char *id, bool partial,
                       struct st_buf *out)
{
    st_buf_reset(out);
    if (partial)
        st_buf_addf(out, "%s/.%s.part", files->dir, id);
    else
        st_buf_addf(out, "%s/%s", files->dir, id);
}

int image_delete(struct store_conn *c, const struct auth_ctx *ctx,
                 const struct image_files *files, const char *id, struct st_err *err)
{
    struct image_row r;
    struct st_buf path = ST_BUF_INIT;
    if (load_row(c, ctx, id, &r, err) < 0 || writable(ctx, &r, err) < 0)
        return -1;
    if (r.protected_) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Image %s is protected and cannot be deleted.", id);
        return -1;
    }
    if (store_exec(c, err, "DELETE FROM images WHERE id = ?", STORE_ARGS(P(id))) < 0)
        return -1;
    /* The record is gone first: if the file cannot be removed now, the next
     * start reclaims it (image_recover). */
    image_path(files, id, false, &path);
    (void) unlink(path.buf);
    st_buf_release(&path);
    return 0;
}

int image_set_active(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                     bool active, struct st_err *err)
{
    struct image_row r;
    const char *from = active ? "deactivated" : "active";
    const char *to = active ? "active" : "deactivated";
    if (load_row(c, ctx, id, &r, err) < 0 || writable(ctx, &r, err) < 0)
        return -1;
    if (!strcmp(r.status, to))
        return 0;
    if (strcmp(r.status, from)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Not allowed to %s image in status '%s'",
                   active ? "reactivate" : "deactivate", r.status);
        return -1;
    }
    return store_exec(c, err,
                      "UPDATE images SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
                      STORE_ARGS(P(to), P(st_now_us() / 1000000), P(id), P(from))) < 0
               ? -1
               : 0;
}

int image_tag(struct store_conn *c, const struct auth_ctx *ctx, const char *id, const char *tag,
              bool add, struct st_err *err)
{
    struct image_row r;
    int64_t n;
    if (load_row(c, ctx, id, &r, err) < 0 || writable(ctx, &r, err) < 0)
        return -1;
    if (!add) {
        n = store_exec(c, err, "DELETE FROM image_tags WHERE image_id = ? AND tag = ?",
                       STORE_ARGS(P(id), P(tag)));
        if (n == 0)
            st_err_set(err, ST_ERR_NOT_FOUND, "Tag %s not found", tag);
        return n > 0 ? 0 : -1;
    }
    if (check_tag(tag, err) < 0)
        return -1;
    int64_t count = 0;
    if (store_get_int(c, err, &count, "SELECT COUNT(*) FROM image_tags WHERE image_id = ?",
                      STORE_ARGS(P(id))) < 0)
        return -1;
    if (count >= IMAGE_MAX_TAGS) {
        st_err_set(err, ST_ERR_OVER_QUOTA, "An image may have at most %d tags", IMAGE_MAX_TAGS);
        return -1;
    }
    return store_exec(c, err,
                      "INSERT INTO image_tags (image_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING",
                      STORE_ARGS(P(id), P(tag))) < 0
               ? -1
               : 0;
}

/* ---- members ------------------------------------------------------------ */

static json_t *member_json(struct store_stmt *s)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}", "image_id", store_text(s, 0), "member_id",
                     store_text(s, 1), "status", store_text(s, 2), "created_at",
                     time_json(store_int(s, 3)), "updated_at", time_json(store_int(s, 4)),
                     "schema", "/v2/schemas/member");
}

static json_t *member_fetch(struct store_conn *c, const char *id, const char *member,
                            struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT image_id, member_id, status, created_at,"
                                       " updated_at FROM image_members WHERE image_id = ? AND"
                                       " member_id = ?",
                                       STORE_ARGS(P(id), P(member)));
    json_t *o = NULL;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        o = member_json(s);
    else if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "%s is not a member of image %s", member, id);
    store_done(s);
    return o;
}

static int owner_of_shared(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           struct image_row *r, struct st_err *err)
{
    if (load_row(c, ctx, id, r, err) < 0 || writable(ctx, r, err) < 0)
        return -1;
    if (strcmp(r->visibility, "shared")) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Only shared images have members.");
        return -1;
    }
    return 0;
}

json_t *image_member_add(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         const char *member, struct st_err *err)
{
    struct image_row r;
    struct st_err local = ST_ERR_INIT;
    int64_t now = st_now_us() / 1000000;
    if (owner_of_shared(c, ctx, id, &r, err) < 0)
        return NULL;
    if (!*member || strlen(member) > 64) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid member id");
        return NULL;
    }
    if (store_exec(c, &local,
                   "INSERT INTO image_members (image_id, member_id, status, created_at,"
                   " updated_at) VALUES (?, ?, 'pending', ?, ?)",
                   STORE_ARGS(P(id), P(member), P(now), P(now))) < 0) {
        if (local.kind == ST_ERR_CONFLICT)
            st_err_set(err, ST_ERR_CONFLICT, "Member %s already associated with image %s",
                       member, id);
        else
            *err = local;
        return NULL;
    }
    return member_fetch(c, id, member, err);
}

json_t *image_member_list(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          struct st_err *err)
{
    struct image_row r;
    struct store_stmt *s;
    json_t *arr;
    int rc;
    bool owner;
    if (load_row(c, ctx, id, &r, err) < 0)
        return NULL;
    if (strcmp(r.visibility, "shared")) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Only shared images have members.");
        return NULL;
    }
    owner = ctx->is_admin || !strcmp(r.owner, ctx->project_id);
    s = store_query(c, err,
                    owner ? "SELECT image_id, member_id, status, created_at, updated_at FROM"
                            " image_members WHERE image_id = ? AND ? IS NOT NULL"
                            " ORDER BY member_id"
                          : "SELECT image_id, member_id, status, created_at, updated_at FROM"
                            " image_members WHERE image_id = ? AND member_id = ?",
                    STORE_ARGS(P(id), P(ctx->project_id)));
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, member_json(s));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *image_member_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         const char *member, struct st_err *err)
{
    struct image_row r;
    if (load_row(c, ctx, id, &r, err) < 0)
        return NULL;
    if (!ctx->is_admin && strcmp(r.owner, ctx->project_id) &&
        strcmp(member, ctx->project_id)) {
        st_err_set(err, ST_ERR_NOT_FOUND, "%s is not a member of image %s", member, id);
        return NULL;
    }
    return member_fetch(c, id, member, err);
}

json_t *image_member_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                            const char *member, const char *status, struct st_err *err)
{
    struct image_row r;
    int64_t n;
    if (load_row(c, ctx, id, &r, err) < 0)
        return NULL;
    if (!status || (strcmp(status, "pending") && strcmp(status, "accepted") &&
                    strcmp(status, "rejected"))) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid status: %s", status ? status : "null");
        return NULL;
    }
    /* Only the consumer decides whether it accepts an image. */
    if (strcmp(member, ctx->project_id)) {
        st_err_set(err, ST_ERR_FORBIDDEN, "You are not permitted to modify 'status' on this "
                                          "image member.");
        return NULL;
    }
    n = store_exec(c, err,
                   "UPDATE image_members SET status = ?, updated_at = ? WHERE image_id = ? AND"
                   " member_id = ?",
                   STORE_ARGS(P(status), P(st_now_us() / 1000000), P(id), P(member)));
    if (n < 0)
        return NULL;
    if (n == 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "%s is not a member of image %s", member, id);
        return NULL;
    }
    return member_fetch(c, id, member, err);
}

int image_member_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        const char *member, struct st_err *err)
{
    struct image_row r;
    int64_t n;
    if (owner_of_shared(c, ctx, id, &r, err) < 0)
        return -1;
    n = store_exec(c, err, "DELETE FROM image_members WHERE image_id = ? AND member_id = ?",
                   STORE_ARGS(P(id), P(member)));
    if (n == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "%s is not a member of image %s", member, id);
    return n > 0 ? 0 : -1;
}

/* ---- data --------------------------------------------------------------- */

/* Upload data is gathered into blocks; for each block SHA-512 runs on a
 * second thread while this one does MD5 and the write (one thread doing
 * both digests is the bottleneck of an upload: see bench/image.sh), and
 * the kernel is asked to start writing the file back every few blocks so
 * that the fsync before 'active' has little left to do. */
#define UPLOAD_BLOCK (1u << 20)
#define UPLOAD_WRITEBACK (8u << 20)

struct image_upload {
    char id[37];
    char upload_id[37];
    char disk_format[16];
    struct st_buf part, final;
    int fd;
    uint64_t size, max;     /* bytes written to fd; the limit */
    uint64_t written_back;  /* bytes whose writeback was started */
    unsigned char *blk;     /* UPLOAD_BLOCK bytes, blk_len of them pending */
    size_t blk_len;
    EVP_MD_CTX *md5, *sha512;
};

static void upload_free(struct image_upload *up)
{
    if (!up)
        return;
    if (up->fd >= 0)
        close(up->fd);
    EVP_MD_CTX_free(up->md5);
    EVP_MD_CTX_free(up->sha512);
    free(up->blk);
    st_buf_release(&up->part);
    st_buf_release(&up->final);
    free(up);
}

static void upload_unclaim(struct store_conn *c, struct image_upload *up)
{
    struct st_err ignored = ST_ERR_INIT;
    ST_IGNORE(store_exec(c, &ignored,
                         "UPDATE images SET status = 'queued', upload_id = NULL WHERE id = ? AND"
                         " upload_id = ?",
                         STORE_ARGS(P(up->id), P(up->upload_id))) < 0);
}

struct image_upload *image_upload_begin(struct store_conn *c, const struct auth_ctx *ctx,
                                        const struct image_files *files, const char *id,
                                        struct st_err *err)
{
    struct image_row r;
    struct image_upload *up;
    int64_t n, has_cfmt = 0;

    if (load_row(c, ctx, id, &r, err) < 0 || writable(ctx, &r, err) < 0)
        return NULL;
    if (!r.disk_format[0] ||
        store_get_int(c, err, &has_cfmt,
                      "SELECT container_format IS NOT NULL FROM images WHERE id = ?",
                      STORE_ARGS(P(id))) < 0 ||
        !has_cfmt) {
        if (!st_err_is_set(err))
            st_err_set(err, ST_ERR_BAD_REQUEST, "Properties disk_format, container_format must "
                                                "be set prior to saving data.");
        return NULL;
    }
    up = st_xcalloc(1, sizeof(*up));
    up->fd = -1;
    ST_IGNORE(st_snprintf(up->id, sizeof(up->id), "%s", id));
    ST_IGNORE(st_snprintf(up->disk_format, sizeof(up->disk_format), "%s", r.disk_format));
    st_uuid(up->upload_id);
    up->max = files->max_size;
    up->blk = st_xmalloc(UPLOAD_BLOCK);
    st_buf_init(&up->part, 0);
    st_buf_init(&up->final, 0);
    image_path(files, id, true, &up->part);
    image_path(files, id, false, &up->final);

    n = store_exec(c, err,
                   "UPDATE images SET status = 'saving', upload_id = ?, updated_at = ? WHERE"
                   " id = ? AND status = 'queued'",
                   STORE_ARGS(P(up->upload_id), P(st_now_us() / 1000000), P(id)));
    if (n < 0)
        goto fail;
    if (n == 0) {
        st_err_set(err, ST_ERR_CONFLICT,
                   "Image status transition from %s to saving is not allowed", r.status);
        goto fail;
    }
    up->fd = open(up->part.buf, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (up->fd < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create '%s'", up->part.buf);
        upload_unclaim(c, up);
        goto fail;
    }
    up->md5 = EVP_MD_CTX_new();
    up->sha512 = EVP_MD_CTX_new();
    if (!up->md5 || !up->sha512 || EVP_DigestInit_ex(up->md5, EVP_md5(), NULL) != 1 ||
        EVP_DigestInit_ex(up->sha512, EVP_sha512(), NULL) != 1) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot start the image checksums");
        unlink(up->part.buf);
        upload_unclaim(c, up);
        goto fail;
    }
    return up;
fail:
    upload_free(up);
    return NULL;
}

struct digest_job {
    EVP_MD_CTX *md;
    const void *data;
    size_t len;
    int rc;
};

static void *digest_thread(void *arg)
{
    struct digest_job *j = arg;
    j->rc = EVP_DigestUpdate(j->md, j->data, j->len);
    return NULL;
}

static int write_all(int fd, const unsigned char *p, size_t len, struct st_err *err)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st_err_sys(err, errno, errno == ENOSPC ? ST_ERR_TOO_LARGE : ST_ERR_INTERNAL,
                       "cannot store image data");
            return -1;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/* Digests and writes the pending block. */
static int flush_block(struct image_upload *up, struct st_err *err)
{
    struct digest_job sha = {up->sha512, up->blk, up->blk_len, 0};
    pthread_t t;
    bool threaded;
    int rc = 0;

    if (!up->blk_len)
        return 0;
    threaded = pthread_create(&t, NULL, digest_thread, &sha) == 0;
    if (!threaded)
        digest_thread(&sha);
    if (EVP_DigestUpdate(up->md5, up->blk, up->blk_len) != 1) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot update the image checksums");
        rc = -1;
    }
    if (rc == 0 && write_all(up->fd, up->blk, up->blk_len, err) < 0)
        rc = -1;
    if (threaded)
        pthread_join(t, NULL);
    if (rc == 0 && sha.rc != 1) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot update the image checksums");
        rc = -1;
    }
    if (rc < 0)
        return -1;
    up->size += up->blk_len;
    up->blk_len = 0;
    if (up->size - up->written_back >= UPLOAD_WRITEBACK) {
        /* A hint: the fsync at the end is what makes the data safe. */
        ST_IGNORE(sync_file_range(up->fd, (off_t) up->written_back,
                                  (off_t) (up->size - up->written_back), SYNC_FILE_RANGE_WRITE));
        up->written_back = up->size;
    }
    return 0;
}

int image_upload_write(struct image_upload *up, const void *data, size_t len, struct st_err *err)
{
    const unsigned char *p = data;
    if (up->size + up->blk_len + len > up->max) {
        st_err_set(err, ST_ERR_TOO_LARGE, "Image exceeds the storage limit of %llu bytes.",
                   (unsigned long long) up->max);
        return -1;
    }
    while (len) {
        size_t n = UPLOAD_BLOCK - up->blk_len;
        if (n > len)
            n = len;
        memcpy(up->blk + up->blk_len, p, n);
        up->blk_len += n;
        p += n;
        len -= n;
        if (up->blk_len == UPLOAD_BLOCK && flush_block(up, err) < 0)
            return -1;
    }
    return 0;
}

void image_upload_abort(struct store_conn *c, struct image_upload *up)
{
    if (!up)
        return;
    unlink(up->part.buf);
    if (c)
        upload_unclaim(c, up);
    upload_free(up);
}

static void hex_digest(EVP_MD_CTX *md, struct st_buf *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, d, &n);
    st_hex_encode(d, n, out);
}

json_t *image_upload_finish(struct store_conn *c, struct image_upload *up, struct st_err *err)
{
    struct image_info info;
    struct st_buf md5 = ST_BUF_INIT, sha = ST_BUF_INIT;
    json_t *out = NULL;
    int64_t n;

    if (flush_block(up, err) < 0)
        goto fail;
    if (fsync(up->fd) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot sync image data");
        goto fail;
    }
    if (image_inspect_fd(up->fd, &info, err) < 0 || image_check(&info, up->disk_format, err) < 0)
        goto fail;
    hex_digest(up->md5, &md5);
    hex_digest(up->sha512, &sha);
    if (rename(up->part.buf, up->final.buf) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot publish image data");
        goto fail;
    }
    bool has_vsize = info.format != IMAGE_FMT_KERNEL && info.format != IMAGE_FMT_RAMDISK;
    n = store_exec(c, err,
                   "UPDATE images SET status = 'active', size = ?, virtual_size = ?,"
                   " checksum = ?, os_hash_algo = 'sha512', os_hash_value = ?, upload_id = NULL,"
                   " updated_at = ? WHERE id = ? AND upload_id = ?",
                   STORE_ARGS(P((int64_t) up->size),
                              has_vsize ? P((int64_t) info.virtual_size) : P((const char *) NULL),
                              P(md5.buf), P(sha.buf), P(st_now_us() / 1000000), P(up->id),
                              P(up->upload_id)));
    if (n <= 0) {
        unlink(up->final.buf);
        if (n == 0)
            st_err_set(err, ST_ERR_GONE, "Image %s was deleted during the upload.", up->id);
        goto out;
    }
    /* The caller is the uploader, who may see the image. */
    struct store_stmt *s = store_query(c, err, SELECT_IMAGE " WHERE id = ?", STORE_ARGS(P(up->id)));
    if (s && store_next(s, err) > 0)
        out = row_json(c, s, err);
    store_done(s);
    goto out;
fail:
    unlink(up->part.buf);
    upload_unclaim(c, up);
out:
    st_buf_release(&md5);
    st_buf_release(&sha);
    upload_free(up);
    return out;
}

int image_open_data(struct store_conn *c, const struct auth_ctx *ctx,
                    const struct image_files *files, const char *id, int *fd, uint64_t *size,
                    char md5[33], struct st_err *err)
{
    struct image_row r;
    struct st_buf path = ST_BUF_INIT;
    struct stat st;
    struct store_stmt *s;

    *fd = -1;
    *size = 0;
    md5[0] = '\0';
    if (load_row(c, ctx, id, &r, err) < 0)
        return -1;
    if (!strcmp(r.status, "deactivated") && !ctx->is_admin) {
        st_err_set(err, ST_ERR_FORBIDDEN, "The requested image has been deactivated. Image data "
                                          "download is forbidden.");
        return -1;
    }
    if (strcmp(r.status, "active") && strcmp(r.status, "deactivated"))
        return 0; /* no data yet: 204 */
    s = store_query(c, err, "SELECT checksum FROM images WHERE id = ?", STORE_ARGS(P(id)));
    if (!s)
        return -1;
    if (store_next(s, err) > 0 && store_text(s, 0))
        ST_IGNORE(st_snprintf(md5, 33, "%s", store_text(s, 0)));
    store_done(s);
    image_path(files, id, false, &path);
    *fd = open(path.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (*fd < 0 || fstat(*fd, &st) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "the data of image %s is missing", id);
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        st_buf_release(&path);
        return -1;
    }
    *size = (uint64_t) st.st_size;
    st_buf_release(&path);
    return 0;
}

int image_recover(struct store_conn *c, const struct image_files *files, struct st_err *err)
{
    DIR *d;
    struct dirent *de;
    if (st_mkdir_p(files->dir, 0750, err) < 0)
        return -1;
    if (store_exec(c, err,
                   "UPDATE images SET status = 'queued', upload_id = NULL WHERE status = 'saving'",
                   STORE_NOARGS) < 0)
        return -1;
    d = opendir(files->dir);
    if (!d) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot read '%s'", files->dir);
        return -1;
    }
    /* Partial uploads, and data whose image is gone or never finished
     * (a crash between the record and the file). */
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        int64_t keep = 0;
        if (de->d_name[0] == '.') {
            if (n > 5 && !strcmp(de->d_name + n - 5, ".part"))
                (void) unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        if (!st_is_uuid(de->d_name))
            continue;
        if (store_get_int(c, err, &keep,
                          "SELECT 1 FROM images WHERE id = ? AND status IN ('active',"
                          " 'deactivated')",
                          STORE_ARGS(P(de->d_name))) < 0) {
            closedir(d);
            return -1;
        }
        if (!keep)
            (void) unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
    return 0;
}

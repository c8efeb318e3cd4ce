/*
 * volume.c (api) - Cinder v3 under /volume/v3/{project_id}: volumes and
 * their actions and metadata, types and extra specs, snapshots, backups,
 * attachment records, services, quotas, limits, availability zones; and
 * Nova's os-volume_attachments under /compute/v2.1/servers/{id}.  The logic
 * is in volume/volume.h; this file unwraps and wraps bodies and does what
 * Cinder's API layer does for collections: filters on any attribute
 * (metadata as a dict), sort=key:dir or sort_key/sort_dir, limit/marker
 * with "<collection>_links", the summary view of the non-detail lists.
 */
#include "api/volume.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "compute/server.h"
#include "volume/volume.h"
#include "common/banned.h"

#define V3 "/volume/v3/{project_id}"

static struct store_conn *db(struct api_req *req, struct st_err *err)
{
    return api_db(req, err);
}

/* The object under 'key' of the body. */
static json_t *body_of(struct api_req *req, const char *key, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *o;
    if (!in)
        return NULL;
    o = json_object_get(in, key);
    if (!json_is_object(o)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Missing required element '%s' in request body.",
                   key);
        return NULL;
    }
    return o;
}

static bool query_bool(const struct api_req *req, const char *name)
{
    const char *v = api_query(req, name);
    bool b = false;
    if (!v)
        return false;
    return !*v || (st_parse_bool(v, &b) == 0 && b) || !strcmp(v, "1");
}

static void self_links(struct api_req *req, json_t *o, const char *kind)
{
    const char *id = json_string_value(json_object_get(o, "id"));
    struct st_buf a = ST_BUF_INIT, b = ST_BUF_INIT;
    if (!id)
        return;
    st_buf_addf(&a, "%s/volume/v3/%s/%s/%s", req->base_url.buf, req->auth.project_id, kind, id);
    st_buf_addf(&b, "%s/volume/%s/%s/%s", req->base_url.buf, req->auth.project_id, kind, id);
    json_object_set_new(o, "links", json_pack("[{s:s, s:s}, {s:s, s:s}]", "href", a.buf, "rel",
                                              "self", "href", b.buf, "rel", "bookmark"));
    st_buf_release(&a);
    st_buf_release(&b);
}

/* ---- collections: filter, sort, page ------------------------------------- */

struct listq {
    json_t *filters; /* key -> string */
    json_t *meta;    /* metadata filter or NULL */
    const char *sort;
    const char *sort_key, *sort_dir;
    const char *marker;
    int64_t limit; /* -1: all */
    bool with_count;
    struct st_err *err;
};

static const char *const not_filters[] = {"all_tenants", "sort", "sort_key", "sort_dir", "limit",
                                          "marker", "with_count", "offset", "usage", "is_public",
                                          "fields", NULL};

static void listq_arg(void *arg, const char *k, const char *v)
{
    struct listq *q = arg;
    for (size_t i = 0; not_filters[i]; i++)
        if (!strcmp(k, not_filters[i]))
            goto special;
    if (!strcmp(k, "metadata")) {
        /* cinderclient sends a Python dict's repr: {'k': 'v'} */
        struct st_buf b = ST_BUF_INIT;
        st_buf_adds(&b, v);
        for (size_t i = 0; i < b.len; i++)
            if (b.buf[i] == '\'')
                b.buf[i] = '"';
        json_decref(q->meta);
        q->meta = json_loads(b.buf, 0, NULL);
        st_buf_release(&b);
        if (!json_is_object(q->meta)) {
            json_decref(q->meta);
            q->meta = NULL;
            st_err_set(q->err, ST_ERR_BAD_REQUEST, "Invalid filter: metadata %s", v);
        }
        return;
    }
    if (!strcmp(k, "display_name"))
        k = "name";
    if (!strcmp(k, "project_id") || !strcmp(k, "tenant_id"))
        k = "os-vol-tenant-attr:tenant_id";
    json_object_set_new(q->filters, k, json_string(v));
    return;
special:
    if (!strcmp(k, "sort"))
        q->sort = v;
    else if (!strcmp(k, "sort_key"))
        q->sort_key = v;
    else if (!strcmp(k, "sort_dir"))
        q->sort_dir = v;
    else if (!strcmp(k, "marker"))
        q->marker = v;
    else if (!strcmp(k, "with_count"))
        q->with_count = true;
    else if (!strcmp(k, "limit") && st_parse_i64(v, 0, INT32_MAX, &q->limit) < 0)
        st_err_set(q->err, ST_ERR_BAD_REQUEST, "Invalid input received: limit must be an integer "
                                               "0 or greater and not '%s'",
                   v);
}

static bool value_matches(json_t *have, const char *want)
{
    if (json_is_string(have))
        return !strcmp(json_string_value(have), want) ||
               (!strcasecmp(want, "true") && !strcmp(json_string_value(have), "true")) ||
               (!strcasecmp(want, "false") && !strcmp(json_string_value(have), "false"));
    if (json_is_boolean(have))
        return (json_is_true(have) && (!strcasecmp(want, "true") || !strcmp(want, "1"))) ||
               (json_is_false(have) && (!strcasecmp(want, "false") || !strcmp(want, "0")));
    if (json_is_integer(have)) {
        int64_t n;
        return st_parse_i64(want, INT64_MIN, INT64_MAX, &n) == 0 && n == json_integer_value(have);
    }
    if (json_is_null(have))
        return !strcmp(want, "None") || !*want;
    return false;
}

static bool matches(const struct listq *q, json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach(q->filters, k, v)
    {
        json_t *have = json_object_get(o, k);
        if (!have)
            continue; /* Cinder ignores filters it does not know */
        if (!value_matches(have, json_string_value(v)))
            return false;
    }
    if (q->meta) {
        json_t *m = json_object_get(o, "metadata");
        json_object_foreach(q->meta, k, v)
        {
            json_t *have = json_object_get(m, k);
            if (!have || !json_is_string(v) || !json_equal(have, v))
                return false;
        }
    }
    return true;
}

struct sortkey {
    char key[64];
    bool desc;
};
static __thread struct sortkey tl_keys[4];
static __thread size_t tl_nkeys;

static int cmp_json(json_t *a, json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return (json_integer_value(a) > json_integer_value(b)) -
               (json_integer_value(a) < json_integer_value(b));
    const char *x = json_is_string(a) ? json_string_value(a) : "";
    const char *y = json_is_string(b) ? json_string_value(b) : "";
    return strcmp(x, y);
}

static int cmp_items(const void *pa, const void *pb)
{
    json_t *a = *(json_t *const *) pa, *b = *(json_t *const *) pb;
    for (size_t i = 0; i < tl_nkeys; i++) {
        int r = cmp_json(json_object_get(a, tl_keys[i].key), json_object_get(b, tl_keys[i].key));
        if (r)
            return tl_keys[i].desc ? -r : r;
    }
    return 0;
}

/* Filters, sorts (default: created_at desc, then id, as Cinder) and pages
 * 'all' (taken); sets 'more' when a page ended before the list did.
 * Returns a new array. */
static json_t *apply_listq(struct listq *q, json_t *all, bool *more, struct st_err *err)
{
    size_t n = json_array_size(all), m = 0, i, start = 0;
    json_t **items = calloc(n ? n : 1, sizeof(*items)), *out = json_array();
    *more = false;
    for (i = 0; i < n; i++)
        if (matches(q, json_array_get(all, i)))
            items[m++] = json_array_get(all, i);
    tl_nkeys = 0;
    {
        struct st_buf spec = ST_BUF_INIT;
        if (q->sort)
            st_buf_adds(&spec, q->sort);
        else if (q->sort_key)
            st_buf_addf(&spec, "%s:%s", q->sort_key, q->sort_dir ? q->sort_dir : "desc");
        else
            st_buf_adds(&spec, "created_at:desc,id:desc");
        char *p = spec.buf;
        while (*p && tl_nkeys < ST_ARRAY_SIZE(tl_keys)) {
            size_t len = strcspn(p, ",");
            char one[128];
            char *colon;
            if (len >= sizeof(one))
                len = sizeof(one) - 1;
            memcpy(one, p, len);
            one[len] = '\0';
            colon = strchr(one, ':');
            if (colon)
                *colon = '\0';
            if (colon && strcasecmp(colon + 1, "asc") && strcasecmp(colon + 1, "desc")) {
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "Invalid input received: Invalid sort dirs passed: %s", colon + 1);
                st_buf_release(&spec);
                free(items);
                json_decref(out);
                json_decref(all);
                return NULL;
            }
            if (!strcmp(one, "name"))
                ST_IGNORE(st_snprintf(one, sizeof(one), "name"));
            ST_IGNORE(st_snprintf(tl_keys[tl_nkeys].key, sizeof(tl_keys[0].key), "%s", one));
            tl_keys[tl_nkeys].desc = colon ? !strcasecmp(colon + 1, "desc") : true;
            tl_nkeys++;
            p += len;
            if (*p == ',')
                p++;
        }
        st_buf_release(&spec);
    }
    qsort(items, m, sizeof(*items), cmp_items);
    if (q->marker) {
        for (i = 0; i < m; i++)
            if (st_streq(json_string_value(json_object_get(items[i], "id")), q->marker))
                break;
        if (i == m) {
            st_err_set(err, ST_ERR_NOT_FOUND, "Marker %s could not be found.", q->marker);
            free(items);
            json_decref(out);
            json_decref(all);
            return NULL;
        }
        start = i + 1;
    }
    for (i = start; i < m; i++) {
        if (q->limit >= 0 && (int64_t) json_array_size(out) >= q->limit) {
            *more = true;
            break;
        }
        json_array_append(out, items[i]);
    }
    free(items);
    json_decref(all);
    return out;
}

static void links_next(struct api_req *req, json_t *body, const char *plural, json_t *items)
{
    struct st_buf href = ST_BUF_INIT, key = ST_BUF_INIT;
    json_t *last = json_array_get(items, json_array_size(items) - 1);
    const char *lim = api_query(req, "limit");
    if (!last)
        return;
    st_buf_addf(&href, "%s%s?marker=%s", req->base_url.buf, req->path,
                json_string_value(json_object_get(last, "id")));
    if (lim)
        st_buf_addf(&href, "&limit=%s", lim);
    st_buf_addf(&key, "%s_links", plural);
    json_object_set_new(body, key.buf, json_pack("[{s:s, s:s}]", "href", href.buf, "rel", "next"));
    st_buf_release(&href);
    st_buf_release(&key);
}

/* Replies with a listed collection: 'all' (taken) filtered and paged;
 * 'summary' keeps only id, name and links. */
static int reply_list(struct api_req *req, struct api_resp *resp, json_t *all,
                      const char *plural, const char *kind, bool summary, struct st_err *err)
{
    struct listq q = {json_object(), NULL, NULL, NULL, NULL, NULL, -1, false, err};
    json_t *items, *body, *v;
    size_t i, total;
    bool more;
    if (!all) {
        json_decref(q.filters);
        return -1;
    }
    api_query_each(req, listq_arg, &q);
    if (st_err_is_set(err)) {
        json_decref(q.filters);
        json_decref(q.meta);
        json_decref(all);
        return -1;
    }
    {
        struct listq count_q = q;
        count_q.limit = -1;
        count_q.marker = NULL;
        total = 0;
        for (i = 0; i < json_array_size(all); i++)
            total += matches(&count_q, json_array_get(all, i));
    }
    items = apply_listq(&q, all, &more, err);
    json_decref(q.filters);
    json_decref(q.meta);
    if (!items)
        return -1;
    json_array_foreach(items, i, v)
    {
        if (kind)
            self_links(req, v, kind);
        if (summary) {
            json_t *s = json_pack("{s:O, s:O, s:O}", "id", json_object_get(v, "id"), "name",
                                  json_object_get(v, "name"), "links",
                                  json_object_get(v, "links") ? json_object_get(v, "links")
                                                              : json_array());
            json_array_set_new(items, i, s);
        }
    }
    body = json_pack("{s:o}", plural, items);
    if (more)
        links_next(req, body, plural, items);
    if (q.with_count && api_mv(req, 3, 45))
        json_object_set_new(body, "count", json_integer((json_int_t) total));
    api_reply(resp, 200, body);
    return 0;
}

/* ---- volumes ------------------------------------------------------------- */

static json_t *shape_volume(struct api_req *req, json_t *v)
{
    if (!v)
        return NULL;
    self_links(req, v, "volumes");
    if (api_mv(req, 3, 63))
        json_object_set_new(v, "volume_type_id", json_null());
    return v;
}

/* Create and update answer without the extension attributes of show and
 * detail (os-vol-*), as Cinder. */
static json_t *plain_volume(json_t *v)
{
    static const char *const ext[] = {"os-vol-host-attr:host", "os-vol-mig-status-attr:migstat",
                                      "os-vol-mig-status-attr:name_id",
                                      "os-vol-tenant-attr:tenant_id"};
    for (size_t i = 0; v && i < ST_ARRAY_SIZE(ext); i++)
        json_object_del(v, ext[i]);
    return v;
}

static int volumes_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = body_of(req, "volume", err), *v;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    v = plain_volume(shape_volume(req, vol_create(c, &req->auth, in, err)));
    if (!v)
        return -1;
    api_reply(resp, 202, json_pack("{s:o}", "volume", v));
    return 0;
}

static int volumes_list_any(struct api_req *req, struct api_resp *resp, bool detail,
                            struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *all;
    if (!c)
        return -1;
    all = vol_list(c, &req->auth, query_bool(req, "all_tenants"), err);
    return reply_list(req, resp, all, "volumes", "volumes", !detail, err);
}

static int volumes_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return volumes_list_any(req, resp, false, err);
}

static int volumes_detail(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return volumes_list_any(req, resp, true, err);
}

static int volumes_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *v = c ? shape_volume(req, vol_get(c, &req->auth, api_param(req, 1), err)) : NULL;
    if (!v)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "volume", v));
    return 0;
}

static int volumes_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = body_of(req, "volume", err), *v;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    v = plain_volume(shape_volume(req, vol_update(c, &req->auth, api_param(req, 1), in, err)));
    if (!v)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "volume", v));
    return 0;
}

static int volumes_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    if (!c || vol_delete(c, &req->auth, api_param(req, 1), query_bool(req, "cascade"),
                         query_bool(req, "force"), err) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

static int volumes_action(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *out = NULL;
    struct store_conn *c = db(req, err);
    const char *name;
    int status;
    if (!in || !c)
        return -1;
    if (json_object_size(in) != 1) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Malformed request body: one action expected");
        return -1;
    }
    name = json_object_iter_key(json_object_iter(in));
    status = vol_action(c, &req->auth, api_param(req, 1), name, json_object_get(in, name), &out,
                        err);
    if (status < 0)
        return -1;
    api_reply(resp, status, out);
    return 0;
}

static int volume_metadata_get(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *v = c ? vol_get(c, &req->auth, api_param(req, 1), err) : NULL;
    if (!v)
        return -1;
    api_reply(resp, 200, json_pack("{s:O}", "metadata", json_object_get(v, "metadata")));
    json_decref(v);
    return 0;
}

static int volume_metadata_set_any(struct api_req *req, struct api_resp *resp, bool replace,
                                   struct st_err *err)
{
    json_t *in = api_body_json(req, err), *m;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    m = vol_metadata_set(c, &req->auth, api_param(req, 1), json_object_get(in, "metadata"),
                         replace, err);
    if (!m)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "metadata", m));
    return 0;
}

static int volume_metadata_post(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return volume_metadata_set_any(req, resp, false, err);
}

static int volume_metadata_put(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return volume_metadata_set_any(req, resp, true, err);
}

static int volume_meta_key_get(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *v = c ? vol_get(c, &req->auth, api_param(req, 1), err) : NULL, *val;
    if (!v)
        return -1;
    val = json_object_get(json_object_get(v, "metadata"), api_param(req, 2));
    if (!val) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume %s has no metadata with key %s.",
                   api_param(req, 1), api_param(req, 2));
        json_decref(v);
        return -1;
    }
    api_reply(resp, 200, json_pack("{s:{s:O}}", "meta", api_param(req, 2), val));
    json_decref(v);
    return 0;
}

static int volume_meta_key_put(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *meta, *m;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    meta = json_object_get(in, "meta");
    if (!json_is_object(meta) || json_object_size(meta) != 1 ||
        !json_object_get(meta, api_param(req, 2))) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Request body and URI mismatch");
        return -1;
    }
    m = vol_metadata_set(c, &req->auth, api_param(req, 1), meta, false, err);
    if (!m)
        return -1;
    json_decref(m);
    api_reply(resp, 200, json_pack("{s:O}", "meta", meta));
    return 0;
}

static int volume_meta_key_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    if (!c || vol_metadata_delete(c, &req->auth, api_param(req, 1), api_param(req, 2), err) < 0)
        return -1;
    api_reply(resp, 200, NULL);
    return 0;
}

static int volumes_summary(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *all = c ? vol_list(c, &req->auth, query_bool(req, "all_tenants"), err) : NULL, *v;
    int64_t size = 0;
    size_t i;
    if (!all)
        return -1;
    json_array_foreach(all, i, v)
        size += json_integer_value(json_object_get(v, "size"));
    api_reply(resp, 200,
              json_pack("{s:{s:I, s:I, s:{}}}", "volume-summary", "total_size", (json_int_t) size,
                        "total_count", (json_int_t) json_array_size(all), "metadata"));
    json_decref(all);
    return 0;
}

/* ---- types --------------------------------------------------------------- */

static int types_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *all = c ? vol_type_list(c, &req->auth, err) : NULL;
    if (!all)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "volume_types", all));
    return 0;
}

static int types_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *t = c ? vol_type_get(c, &req->auth, api_param(req, 1), err) : NULL;
    if (!t)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "volume_type", t));
    return 0;
}

static int types_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = body_of(req, "volume_type", err), *t;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    t = vol_type_create(c, &req->auth, in, err);
    if (!t)
        return -1;
    json_object_del(t, "qos_specs_id");
    api_reply(resp, 200, json_pack("{s:o}", "volume_type", t));
    return 0;
}

static int types_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = body_of(req, "volume_type", err), *t;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    t = vol_type_update(c, &req->auth, api_param(req, 1), in, err);
    if (!t)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "volume_type", t));
    return 0;
}

static int types_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    if (!c || vol_type_delete(c, &req->auth, api_param(req, 1), err) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

static int specs_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *t = c ? vol_type_get(c, &req->auth, api_param(req, 1), err) : NULL;
    if (!t)
        return -1;
    api_reply(resp, 200, json_pack("{s:O}", "extra_specs", json_object_get(t, "extra_specs")));
    json_decref(t);
    return 0;
}

static int specs_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *s;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    s = vol_type_specs_set(c, &req->auth, api_param(req, 1), json_object_get(in, "extra_specs"),
                           err);
    if (!s)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "extra_specs", s));
    return 0;
}

static int spec_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *t = c ? vol_type_get(c, &req->auth, api_param(req, 1), err) : NULL, *v;
    if (!t)
        return -1;
    v = json_object_get(json_object_get(t, "extra_specs"), api_param(req, 2));
    if (!v) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Volume Type %s has no extra specs with key %s.",
                   api_param(req, 1), api_param(req, 2));
        json_decref(t);
        return -1;
    }
    api_reply(resp, 200, json_pack("{s:O}", api_param(req, 2), v));
    json_decref(t);
    return 0;
}

static int spec_put(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *s;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    if (json_object_size(in) != 1 || !json_object_get(in, api_param(req, 2))) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Request body and URI mismatch");
        return -1;
    }
    s = vol_type_specs_set(c, &req->auth, api_param(req, 1), in, err);
    if (!s)
        return -1;
    json_decref(s);
    api_reply(resp, 200, json_incref(in));
    return 0;
}

static int spec_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    if (!c || vol_type_spec_delete(c, &req->auth, api_param(req, 1), api_param(req, 2), err) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

/* ---- snapshots -------------------------------------------------------------- */

static int snaps_list_any(struct api_req *req, struct api_resp *resp, bool detail,
                          struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *all = c ? vol_snapshot_list(c, &req->auth, query_bool(req, "all_tenants"), err)
                    : NULL, *v;
    size_t i;
    if (!all)
        return -1;
    if (!detail)
        json_array_foreach(all, i, v)
        {
            json_object_del(v, "os-extended-snapshot-attributes:progress");
            json_object_del(v, "os-extended-snapshot-attributes:project_id");
        }
    return reply_list(req, resp, all, "snapshots", NULL, false, err);
}

static int snaps_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return snaps_list_any(req, resp, false, err);
}

static int snaps_detail(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return snaps_list_any(req, resp, true, err);
}

static int snaps_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = body_of(req, "snapshot", err), *s;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    s = vol_snapshot_create(c, &req->auth, in, err);
    if (!s)
        return -1;
    api_reply(resp, 202, json_pack("{s:o}", "snapshot", s));
    return 0;
}

static int snaps_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *s = c ? vol_snapshot_get(c, &req->auth, api_param(req, 1), err) : NULL;
    if (!s)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "snapshot", s));
    return 0;
}

static int snaps_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = body_of(req, "snapshot", err), *s;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    s = vol_snapshot_update(c, &req->auth, api_param(req, 1), in, err);
    if (!s)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "snapshot", s));
    return 0;
}

static int snaps_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    if (!c || vol_snapshot_delete(c, &req->auth, api_param(req, 1), err) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

static int snaps_action(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *a;
    struct store_conn *c = db(req, err);
    const char *st = NULL;
    if (!in || !c)
        return -1;
    a = json_object_get(in, "os-reset_status");
    if (!a) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "There is no such action");
        return -1;
    }
    if (jget_str(a, "status", true, 32, &st, err) < 0 ||
        vol_snapshot_reset(c, &req->auth, api_param(req, 1), st, err) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

/* ---- backups ----------------------------------------------------------------- */

static int backups_list_any(struct api_req *req, struct api_resp *resp, bool detail,
                            struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *all = c ? vol_backup_list(c, &req->auth, query_bool(req, "all_tenants"), err) : NULL;
    return reply_list(req, resp, all, "backups", "backups", !detail, err);
}

static int backups_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return backups_list_any(req, resp, false, err);
}

static int backups_detail(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return backups_list_any(req, resp, true, err);
}

static int backups_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = body_of(req, "backup", err), *b;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    b = vol_backup_create(c, &req->auth, in, err);
    if (!b)
        return -1;
    self_links(req, b, "backups");
    api_reply(resp, 202, json_pack("{s:o}", "backup", b));
    return 0;
}

static int backups_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *b = c ? vol_backup_get(c, &req->auth, api_param(req, 1), err) : NULL;
    if (!b)
        return -1;
    self_links(req, b, "backups");
    api_reply(resp, 200, json_pack("{s:o}", "backup", b));
    return 0;
}

static int backups_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = body_of(req, "backup", err), *b;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    b = vol_backup_update(c, &req->auth, api_param(req, 1), in, err);
    if (!b)
        return -1;
    self_links(req, b, "backups");
    api_reply(resp, 200, json_pack("{s:o}", "backup", b));
    return 0;
}

static int backups_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    if (!c || vol_backup_delete(c, &req->auth, api_param(req, 1), false, err) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

static int backups_restore(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *r = json_object_get(in, "restore"), *out;
    struct store_conn *c = db(req, err);
    const char *vid = NULL, *name = NULL;
    if (!in || !c)
        return -1;
    if (r && (jget_str(r, "volume_id", false, 64, &vid, err) < 0 ||
              jget_str(r, "name", false, 255, &name, err) < 0))
        return -1;
    out = vol_backup_restore(c, &req->auth, api_param(req, 1), vid, name, err);
    if (!out)
        return -1;
    api_reply(resp, 202, json_pack("{s:o}", "restore", out));
    return 0;
}

static int backups_action(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err);
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    if (json_object_get(in, "os-force_delete")) {
        if (vol_backup_delete(c, &req->auth, api_param(req, 1), true, err) < 0)
            return -1;
        api_reply(resp, 202, NULL);
        return 0;
    }
    st_err_set(err, ST_ERR_BAD_REQUEST, "There is no such action");
    return -1;
}

/* ---- the rest ------------------------------------------------------------------ */

static int services_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *all = c ? vol_services(c, &req->auth, err) : NULL, *v, *out;
    const char *host = api_query(req, "host"), *binary = api_query(req, "binary");
    size_t i;
    if (!all)
        return -1;
    out = json_array();
    json_array_foreach(all, i, v)
    {
        if ((host && !st_streq(json_string_value(json_object_get(v, "host")), host)) ||
            (binary && !st_streq(json_string_value(json_object_get(v, "binary")), binary)))
            continue;
        json_array_append(out, v);
    }
    json_decref(all);
    api_reply(resp, 200, json_pack("{s:o}", "services", out));
    return 0;
}

static int quota_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *q = c ? vol_quota_get(c, &req->auth, api_param(req, 1), query_bool(req, "usage"),
                                  false, err)
                  : NULL;
    if (!q)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "quota_set", q));
    return 0;
}

static int quota_defaults(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *q = c ? vol_quota_get(c, &req->auth, api_param(req, 1), false, true, err) : NULL;
    if (!q)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "quota_set", q));
    return 0;
}

static int quota_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = body_of(req, "quota_set", err), *q;
    struct store_conn *c = db(req, err);
    if (!in || !c)
        return -1;
    q = vol_quota_set(c, &req->auth, api_param(req, 1), in, err);
    if (!q)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "quota_set", q));
    return 0;
}

static int quota_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    if (!c || vol_quota_delete(c, &req->auth, api_param(req, 1), err) < 0)
        return -1;
    api_reply(resp, 200, NULL);
    return 0;
}

static int limits_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *l = c ? vol_limits(c, &req->auth, err) : NULL;
    if (!l)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "limits", l));
    return 0;
}

static int az_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) err;
    (void) req;
    api_reply(resp, 200,
              json_pack("{s:[{s:s, s:{s:b}}]}", "availabilityZoneInfo", "zoneName", "nova",
                        "zoneState", "available", 1));
    return 0;
}

static int attachments_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *all;
    if (!api_mv(req, 3, 27)) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Attachments need microversion 3.27 or later.");
        return -1;
    }
    all = c ? vol_attachment_list(c, &req->auth, err) : NULL;
    return reply_list(req, resp, all, "attachments", NULL, false, err);
}

static int attachments_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *a;
    if (!api_mv(req, 3, 27)) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Attachments need microversion 3.27 or later.");
        return -1;
    }
    a = c ? vol_attachment_get(c, &req->auth, api_param(req, 1), err) : NULL;
    if (!a)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "attachment", a));
    return 0;
}

static int extensions_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) req;
    (void) err;
    api_reply(resp, 200, json_pack("{s:[]}", "extensions"));
    return 0;
}

/* ---- Nova: os-volume_attachments -------------------------------------------------- */

static json_t *shape_nova_att(struct api_req *req, json_t *a, bool show)
{
    json_t *o = json_pack("{s:O, s:O, s:O, s:O}", "id", json_object_get(a, "id"), "serverId",
                          json_object_get(a, "serverId"), "volumeId",
                          json_object_get(a, "volumeId"), "device",
                          json_object_get(a, "device"));
    if (api_mv(req, 2, 70))
        json_object_set_new(o, "tag", json_null());
    if (api_mv(req, 2, 79))
        json_object_set(o, "delete_on_termination", json_object_get(a, "delete_on_termination"));
    if (show && api_mv(req, 2, 89)) {
        json_object_del(o, "id");
        json_object_set(o, "attachment_id", json_object_get(a, "attachment_id"));
        json_object_set(o, "bdm_uuid", json_object_get(a, "attachment_id"));
    }
    return o;
}

/* The server the caller may see (404 otherwise), for the attach calls. */
static int load_server(struct api_req *req, struct server_rec *r, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    if (!c)
        return -1;
    return server_get(c, &req->auth, api_param(req, 0), r, err);
}

static int nova_att_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct server_rec r;
    json_t *all, *out, *v;
    size_t i;
    if (load_server(req, &r, err) < 0)
        return -1;
    all = vol_server_attachments(req->db, r.id, NULL, err);
    server_rec_release(&r);
    if (!all)
        return -1;
    out = json_array();
    json_array_foreach(all, i, v)
        json_array_append_new(out, shape_nova_att(req, v, true));
    json_decref(all);
    api_reply(resp, 200, json_pack("{s:o}", "volumeAttachments", out));
    return 0;
}

static int nova_att_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct server_rec r;
    json_t *all;
    if (load_server(req, &r, err) < 0)
        return -1;
    all = vol_server_attachments(req->db, r.id, api_param(req, 1), err);
    server_rec_release(&r);
    if (!all)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "volumeAttachment",
                                   shape_nova_att(req, json_array_get(all, 0), true)));
    json_decref(all);
    return 0;
}

static int nova_att_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = body_of(req, "volumeAttachment", err), *a;
    const char *vid = NULL, *dev = NULL;
    bool dot = false;
    struct server_rec r;
    struct vol_server s;
    if (!in || jget_str(in, "volumeId", true, 64, &vid, err) < 0 ||
        jget_str(in, "device", false, 64, &dev, err) < 0 ||
        (api_mv(req, 2, 79) && jget_bool(in, "delete_on_termination", false, &dot, err) < 0))
        return -1;
    if (load_server(req, &r, err) < 0)
        return -1;
    if (!req->auth.is_admin && !req->auth.is_member) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Policy doesn't allow attaching volumes.");
        server_rec_release(&r);
        return -1;
    }
    if (r.task_state && *r.task_state) {
        st_err_set(err, ST_ERR_CONFLICT,
                   "Cannot 'attach_volume' instance %s while it is in task_state %s", r.id,
                   r.task_state);
        server_rec_release(&r);
        return -1;
    }
    s.id = r.id;
    s.project_id = r.project_id;
    s.host = r.host;
    a = vol_attach(req->db, &req->auth, &s, vid, dev, dot, err);
    server_rec_release(&r);
    if (!a)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "volumeAttachment", shape_nova_att(req, a, false)));
    json_decref(a);
    return 0;
}

static int nova_att_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct server_rec r;
    int rc;
    if (load_server(req, &r, err) < 0)
        return -1;
    rc = vol_detach(req->db, &req->auth, r.id, api_param(req, 1), err);
    server_rec_release(&r);
    if (rc < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

#define R(m, p, fn) {m, V3 p, fn, ROUTE_AUTH, SVC_VOLUME, NULL}
const struct route volume_routes[] = {
    R("GET", "/volumes", volumes_list),
    R("GET", "/volumes/detail", volumes_detail),
    R("GET", "/volumes/summary", volumes_summary),
    R("POST", "/volumes", volumes_create),
    R("GET", "/volumes/{id}", volumes_show),
    R("PUT", "/volumes/{id}", volumes_update),
    R("DELETE", "/volumes/{id}", volumes_delete),
    R("POST", "/volumes/{id}/action", volumes_action),
    R("GET", "/volumes/{id}/metadata", volume_metadata_get),
    R("POST", "/volumes/{id}/metadata", volume_metadata_post),
    R("PUT", "/volumes/{id}/metadata", volume_metadata_put),
    R("GET", "/volumes/{id}/metadata/{key}", volume_meta_key_get),
    R("PUT", "/volumes/{id}/metadata/{key}", volume_meta_key_put),
    R("DELETE", "/volumes/{id}/metadata/{key}", volume_meta_key_delete),
    R("GET", "/types", types_list),
    R("POST", "/types", types_create),
    R("GET", "/types/{id}", types_show),
    R("PUT", "/types/{id}", types_update),
    R("DELETE", "/types/{id}", types_delete),
    R("GET", "/types/{id}/extra_specs", specs_list),
    R("POST", "/types/{id}/extra_specs", specs_create),
    R("GET", "/types/{id}/extra_specs/{key}", spec_show),
    R("PUT", "/types/{id}/extra_specs/{key}", spec_put),
    R("DELETE", "/types/{id}/extra_specs/{key}", spec_delete),
    R("GET", "/snapshots", snaps_list),
    R("GET", "/snapshots/detail", snaps_detail),
    R("POST", "/snapshots", snaps_create),
    R("GET", "/snapshots/{id}", snaps_show),
    R("PUT", "/snapshots/{id}", snaps_update),
    R("DELETE", "/snapshots/{id}", snaps_delete),
    R("POST", "/snapshots/{id}/action", snaps_action),
    R("GET", "/backups", backups_list),
    R("GET", "/backups/detail", backups_detail),
    R("POST", "/backups", backups_create),
    R("GET", "/backups/{id}", backups_show),
    R("PUT", "/backups/{id}", backups_update),
    R("DELETE", "/backups/{id}", backups_delete),
    R("POST", "/backups/{id}/restore", backups_restore),
    R("POST", "/backups/{id}/action", backups_action),
    R("GET", "/attachments", attachments_list),
    R("GET", "/attachments/detail", attachments_list),
    R("GET", "/attachments/{id}", attachments_show),
    R("GET", "/os-services", services_list),
    R("GET", "/os-quota-sets/{id}", quota_show),
    R("GET", "/os-quota-sets/{id}/defaults", quota_defaults),
    R("PUT", "/os-quota-sets/{id}", quota_update),
    R("DELETE", "/os-quota-sets/{id}", quota_delete),
    R("GET", "/limits", limits_show),
    R("GET", "/os-availability-zone", az_list),
    R("GET", "/extensions", extensions_list),
    {"GET", "/compute/v2.1/servers/{id}/os-volume_attachments", nova_att_list, ROUTE_AUTH,
     SVC_COMPUTE, NULL},
    {"POST", "/compute/v2.1/servers/{id}/os-volume_attachments", nova_att_create, ROUTE_AUTH,
     SVC_COMPUTE, NULL},
    {"GET", "/compute/v2.1/servers/{id}/os-volume_attachments/{vol}", nova_att_show, ROUTE_AUTH,
     SVC_COMPUTE, NULL},
    {"DELETE", "/compute/v2.1/servers/{id}/os-volume_attachments/{vol}", nova_att_delete,
     ROUTE_AUTH, SVC_COMPUTE, NULL},
};
const size_t volume_routes_count = sizeof(volume_routes) / sizeof(volume_routes[0]);

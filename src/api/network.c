/*
 * network.c (api) - Neutron v2.0 under /network/v2.0: the CRUD of networks,
 * subnets, ports, routers, floating IPs, security groups and rules through
 * one set of handlers driven by a table of resources; router interfaces and
 * extra routes; tags; quotas; the extension list.  The logic is in
 * network/neutron.h; this file unwraps and wraps bodies ({"network": ...}),
 * and does what Neutron's API layer does for every collection: filters on
 * any attribute (several values of one key match any of them), fields=,
 * sort_key/sort_dir, limit/marker/page_reverse with "<collection>_links".
 */
#include "api/network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "network/neutron.h"
#include "common/banned.h"

#define V2 "/network/v2.0"
#define PAGE_MAX 10000

struct res {
    const char *collection; /* the path segment */
    const char *key;        /* the body key of one */
    const char *plural;     /* the body key of many */
    json_t *(*create)(struct store_conn *, const struct auth_ctx *, json_t *, struct st_err *);
    json_t *(*get)(struct store_conn *, const struct auth_ctx *, const char *, struct st_err *);
    json_t *(*list)(struct store_conn *, const struct auth_ctx *, struct st_err *);
    json_t *(*update)(struct store_conn *, const struct auth_ctx *, const char *, json_t *,
                      struct st_err *);
    int (*del)(struct store_conn *, const struct auth_ctx *, const char *, struct st_err *);
};

static const struct res resources[] = {
    {"networks", "network", "networks", net_network_create, net_network_get, net_network_list,
     net_network_update, net_network_delete},
    {"subnets", "subnet", "subnets", net_subnet_create, net_subnet_get, net_subnet_list,
     net_subnet_update, net_subnet_delete},
    {"ports", "port", "ports", net_port_create, net_port_get, net_port_list, net_port_update,
     net_port_delete},
    {"routers", "router", "routers", net_router_create, net_router_get, net_router_list,
     net_router_update, net_router_delete},
    {"floatingips", "floatingip", "floatingips", net_fip_create, net_fip_get, net_fip_list,
     net_fip_update, net_fip_delete},
    {"security-groups", "security_group", "security_groups", net_sg_create, net_sg_get, net_sg_list,
     net_sg_update, net_sg_delete},
    {"security-group-rules", "security_group_rule", "security_group_rules", net_sgr_create,
     net_sgr_get, net_sgr_list, NULL, net_sgr_delete},
};

/* The resource a request's path names: the segment after /network/v2.0/. */
static const struct res *res_of(const struct api_req *req)
{
    const char *p = req->path + strlen(V2 "/");
    size_t n = strcspn(p, "/");
    for (size_t i = 0; i < ST_ARRAY_SIZE(resources); i++)
        if (strlen(resources[i].collection) == n && !strncmp(p, resources[i].collection, n))
            return &resources[i];
    return NULL;
}

static struct store_conn *db(struct api_req *req, struct st_err *err)
{
    return api_db(req, err);
}

static void typed(struct st_err *err, const char *type)
{
    if (err && !err->type[0])
        st_err_set_type(err, type);
}

/* The object under 'key' of the request body. */
static json_t *body_of(struct api_req *req, const char *key, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *o;
    if (!in) {
        typed(err, "MalformedRequestBody");
        return NULL;
    }
    o = json_object_get(in, key);
    if (!json_is_object(o)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Unable to find '%s' in request body", key);
        st_err_set_type(err, "HTTPBadRequest");
        return NULL;
    }
    return o;
}

/* ---- query: filters, fields, sorting, paging ------------------------------ */

struct query {
    json_t *filters;   /* key -> [values] */
    json_t *fields;    /* [names] */
    json_t *sort_keys; /* [names] */
    json_t *sort_dirs; /* ["asc" | "desc"] */
    int64_t limit;     /* 0: all */
    const char *marker;
    bool page_reverse;
    struct st_buf keep; /* the query without marker/page_reverse, for links */
    struct st_err *err;
};

static void query_arg(void *arg, const char *k, const char *v)
{
    struct query *q = arg;
    json_t *list;
    if (strcmp(k, "marker") && strcmp(k, "page_reverse")) {
        if (q->keep.len)
            st_buf_addch(&q->keep, '&');
        st_url_escape(k, &q->keep);
        st_buf_addch(&q->keep, '=');
        st_url_escape(v, &q->keep);
    }
    if (st_err_is_set(q->err))
        return;
    if (!strcmp(k, "fields")) {
        json_array_append_new(q->fields, json_string(v));
    } else if (!strcmp(k, "sort_key")) {
        json_array_append_new(q->sort_keys, json_string(v));
    } else if (!strcmp(k, "sort_dir")) {
        if (strcasecmp(v, "asc") && strcasecmp(v, "desc")) {
            st_err_set(q->err, ST_ERR_BAD_REQUEST,
                       "%s is an invalid value for sort_dir, valid values are 'asc' and 'desc'", v);
            st_err_set_type(q->err, "HTTPBadRequest");
        }
        json_array_append_new(q->sort_dirs, json_string(v));
    } else if (!strcmp(k, "limit")) {
        if (st_parse_i64(v, 0, INT32_MAX, &q->limit) < 0) {
            st_err_set(q->err, ST_ERR_BAD_REQUEST,
                       "Limit must be an integer 0 or greater and not '%s'", v);
            st_err_set_type(q->err, "HTTPBadRequest");
        }
    } else if (!strcmp(k, "marker")) {
        q->marker = v;
    } else if (!strcmp(k, "page_reverse")) {
        bool b = false;
        q->page_reverse = st_parse_bool(v, &b) == 0 && b;
    } else {
        const char *key = !strcmp(k, "tenant_id") ? "project_id" : k;
        list = json_object_get(q->filters, key);
        if (!list) {
            list = json_array();
            json_object_set_new(q->filters, key, list);
        }
        json_array_append_new(list, json_string(v));
    }
}

static void query_init(struct query *q, struct st_err *err)
{
    memset(q, 0, sizeof(*q));
    q->filters = json_object();
    q->fields = json_array();
    q->sort_keys = json_array();
    q->sort_dirs = json_array();
    st_buf_init(&q->keep, 0);
    q->err = err;
}

static void query_release(struct query *q)
{
    json_decref(q->filters);
    json_decref(q->fields);
    json_decref(q->sort_keys);
    json_decref(q->sort_dirs);
    st_buf_release(&q->keep);
}

/* Does attribute value 'a' match the query value 'v'? */
static bool value_matches(json_t *a, const char *v)
{
    bool b;
    int64_t n;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return !strcmp(json_string_value(a), v);
    case JSON_TRUE:
    case JSON_FALSE:
        return st_parse_bool(v, &b) == 0 && b == json_is_true(a);
    case JSON_INTEGER:
        return st_parse_i64(v, INT64_MIN, INT64_MAX, &n) == 0 && n == json_integer_value(a);
    case JSON_NULL:
        return !*v || !strcmp(v, "None") || !strcmp(v, "null");
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e)
        {
            if (json_is_string(e) && !strcmp(json_string_value(e), v))
                return true;
        }
        return false;
    }
    default:
        return true; /* objects are not filterable: Neutron ignores them */
    }
}

/* "fixed_ips=ip_address=10.0.0.5" / "subnet_id=..." on a port. */
static bool fixed_ip_matches(json_t *fixed, const char *v)
{
    const char *eq = strchr(v, '=');
    size_t i;
    json_t *e;
    char key[32];
    if (!eq || (size_t) (eq - v) >= sizeof(key))
        return false;
    memcpy(key, v, (size_t) (eq - v));
    key[eq - v] = '\0';
    json_array_foreach(fixed, i, e)
    {
        const char *have;
        if (!strcmp(key, "ip_address_substr")) {
            have = json_string_value(json_object_get(e, "ip_address"));
            if (have && strstr(have, eq + 1))
                return true;
            continue;
        }
        have = json_string_value(json_object_get(e, key));
        if (have && !strcmp(have, eq + 1))
            return true;
    }
    return false;
}

/* Comma-separated tags of 'v': all (any) of them on 'tags'? */
static bool tags_match(json_t *tags, const char *v, bool any)
{
    char *copy = st_xstrdup(v), *save = NULL;
    bool all = true, some = false;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        bool has = value_matches(tags, t);
        all &= has;
        some |= has;
    }
    free(copy);
    return any ? some : all;
}

static bool item_matches(json_t *o, json_t *filters)
{
    const char *k;
    json_t *vals;
    json_object_foreach(filters, k, vals)
    {
        size_t i;
        json_t *v;
        bool ok = false;
        if (!strcmp(k, "tags") || !strcmp(k, "tags-any") || !strcmp(k, "not-tags") ||
            !strcmp(k, "not-tags-any")) {
            json_t *tags = json_object_get(o, "tags");
            bool any = !strcmp(k, "tags-any") || !strcmp(k, "not-tags-any");
            bool neg = !strncmp(k, "not-", 4);
            json_array_foreach(vals, i, v)
            {
                bool m = tags && tags_match(tags, json_string_value(v), any);
                if (neg ? m : !m)
                    return false;
            }
            continue;
        }
        json_t *a = json_object_get(o, k);
        if (!a)
            continue; /* not an attribute of this resource: ignored, as Neutron does */
        json_array_foreach(vals, i, v)
        {
            if (!strcmp(k, "fixed_ips") ? fixed_ip_matches(a, json_string_value(v))
                                        : value_matches(a, json_string_value(v)))
                ok = true;
        }
        if (!ok)
            return false;
    }
    return true;
}

static int json_cmp(json_t *a, json_t *b)
{
    if (!a || json_is_null(a))
        return (!b || json_is_null(b)) ? 0 : -1;
    if (!b || json_is_null(b))
        return 1;
    if (json_is_string(a) && json_is_string(b))
        return strcmp(json_string_value(a), json_string_value(b));
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) < json_integer_value(b)
                   ? -1
                   : json_integer_value(a) > json_integer_value(b);
    if (json_is_boolean(a) && json_is_boolean(b))
        return (int) json_is_true(a) - (int) json_is_true(b);
    return 0;
}

struct sort_spec {
    const char *keys[8];
    bool desc[8];
    int n;
};
static __thread const struct sort_spec *sort_now;

static int sort_cmp(const void *pa, const void *pb)
{
    json_t *a = *(json_t *const *) pa, *b = *(json_t *const *) pb;
    for (int i = 0; i < sort_now->n; i++) {
        int c =
            json_cmp(json_object_get(a, sort_now->keys[i]), json_object_get(b, sort_now->keys[i]));
        if (c)
            return sort_now->desc[i] ? -c : c;
    }
    return 0;
}

static void add_link(json_t *links, const char *rel, const struct api_req *req,
                     const struct query *q, const char *marker, bool reverse)
{
    struct st_buf b = ST_BUF_INIT;
    st_buf_addf(&b, "%s%s?", req->base_url.buf, req->path);
    if (q->keep.len)
        st_buf_addf(&b, "%s&", q->keep.buf);
    st_buf_adds(&b, "marker=");
    st_url_escape(marker, &b);
    if (reverse)
        st_buf_adds(&b, "&page_reverse=True");
    json_array_append_new(links, json_pack("{s:s, s:s}", "rel", rel, "href", b.buf));
    st_buf_release(&b);
}

/* Keeps only the asked-for fields of each object. */
static void select_fields(json_t *o, json_t *fields)
{
    const char *k;
    json_t *v, *keep;
    void *tmp;
    size_t i;
    if (!json_array_size(fields))
        return;
    keep = json_object();
    json_array_foreach(fields, i, v)
    {
        /* openstackclient asks for some fields by openstacksdk's attribute
         * name (port list --long: "security_group_ids"); keep the attribute
         * they stand for too. */
        static const char *const alias[][2] = {
            {"security_group_ids", "security_groups"},
            {"subnet_ids", "subnets"},
            {"is_admin_state_up", "admin_state_up"},
            {"is_shared", "shared"},
            {"is_router_external", "router:external"},
            {"is_port_security_enabled", "port_security_enabled"},
            {"binding_host_id", "binding:host_id"},
            {"provider_network_type", "provider:network_type"},
        };
        json_object_set_new(keep, json_string_value(v), json_true());
        for (size_t a = 0; a < ST_ARRAY_SIZE(alias); a++)
            if (!strcmp(json_string_value(v), alias[a][0]))
                json_object_set_new(keep, alias[a][1], json_true());
    }
    json_object_foreach_safe(o, tmp, k, v)
    {
        if (!json_object_get(keep, k))
            json_object_del(o, k);
    }
    json_decref(keep);
}

/* Applies the query to 'items' (taken) and returns the response body. */
static json_t *list_body(struct api_req *req, const struct res *r, json_t *items, struct query *q,
                         struct st_err *err)
{
    size_t n = json_array_size(items), m = 0, start = 0, end, i;
    json_t **v = st_xcalloc(n ? n : 1, sizeof(*v)), *page, *body = NULL, *links = NULL;
    struct sort_spec spec = {.n = 0};
    size_t nk = json_array_size(q->sort_keys), nd = json_array_size(q->sort_dirs);

    for (i = 0; i < n; i++) {
        json_t *o = json_array_get(items, i);
        if (item_matches(o, q->filters))
            v[m++] = o;
    }
    if (nd && nd != nk) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "The number of sort_keys and sort_dirs must be same");
        st_err_set_type(err, "HTTPBadRequest");
        goto out;
    }
    if (nk > ST_ARRAY_SIZE(spec.keys) - 1) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Too many sort keys");
        st_err_set_type(err, "HTTPBadRequest");
        goto out;
    }
    for (i = 0; i < nk; i++) {
        const char *k = json_string_value(json_array_get(q->sort_keys, i));
        if (n && !json_object_get(json_array_get(items, 0), k)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "%s is an invalid attribute for sort_keys", k);
            st_err_set_type(err, "HTTPBadRequest");
            goto out;
        }
        spec.keys[spec.n] = k;
        spec.desc[spec.n++] =
            nd && !strcasecmp(json_string_value(json_array_get(q->sort_dirs, i)), "desc");
    }
    if (spec.n) {
        spec.keys[spec.n] = "id";
        spec.desc[spec.n] = spec.desc[spec.n - 1];
        spec.n++;
        sort_now = &spec;
        qsort(v, m, sizeof(*v), sort_cmp);
        sort_now = NULL;
    }
    end = m;
    if (q->marker) {
        size_t at = m;
        for (i = 0; i < m && at == m; i++)
            if (st_streq(json_string_value(json_object_get(v[i], "id")), q->marker))
                at = i;
        if (at == m) {
            st_err_set(err, ST_ERR_NOT_FOUND, "Marker %s could not be found.", q->marker);
            st_err_set_type(err, "NotFound");
            goto out;
        }
        if (q->page_reverse)
            end = at;
        else
            start = at + 1;
    }
    if (q->limit > 0) {
        if (q->page_reverse && end - start > (size_t) q->limit)
            start = end - (size_t) q->limit;
        else if (!q->page_reverse && end - start > (size_t) q->limit)
            end = start + (size_t) q->limit;
    }
    page = json_array();
    for (i = start; i < end; i++) {
        json_t *o = json_deep_copy(v[i]);
        select_fields(o, q->fields);
        json_array_append_new(page, o);
    }
    body = json_object();
    json_object_set_new(body, r->plural, page);
    if (q->limit > 0) {
        /* Neutron's links: "next" when the page is full, "previous" when a
         * marker was given. */
        size_t got = end - start;
        links = json_array();
        if (got && got == (size_t) q->limit)
            add_link(links, "next", req, q,
                     json_string_value(json_object_get(v[q->page_reverse ? start : end - 1], "id")),
                     q->page_reverse);
        if (got && q->marker)
            add_link(links, "previous", req, q,
                     json_string_value(json_object_get(v[q->page_reverse ? end - 1 : start], "id")),
                     !q->page_reverse);
        char key[64];
        snprintf(key, sizeof(key), "%s_links", r->plural);
        json_object_set_new(body, key, links);
    }
out:
    free(v);
    json_decref(items);
    return body;
}

/* ---- generic handlers ----------------------------------------------------- */

static int h_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const struct res *r = res_of(req);
    struct store_conn *c = db(req, err);
    struct query q;
    json_t *items, *body;
    if (!c || !r)
        return -1;
    query_init(&q, err);
    api_query_each(req, query_arg, &q);
    if (st_err_is_set(err)) {
        query_release(&q);
        return -1;
    }
    items = r->list(c, &req->auth, err);
    if (!items) {
        query_release(&q);
        return -1;
    }
    body = list_body(req, r, items, &q, err);
    query_release(&q);
    if (!body)
        return -1;
    api_reply(resp, 200, body);
    return 0;
}

static void fields_arg(void *arg, const char *k, const char *v)
{
    if (!strcmp(k, "fields"))
        json_array_append_new(arg, json_string(v));
}

static int reply_one(struct api_req *req, struct api_resp *resp, const struct res *r, int status,
                     json_t *o)
{
    json_t *fields;
    if (!o)
        return -1;
    fields = json_array();
    api_query_each(req, fields_arg, fields);
    select_fields(o, fields);
    json_decref(fields);
    api_reply(resp, status, json_pack("{s:o}", r->key, o));
    return 0;
}

static int h_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const struct res *r = res_of(req);
    struct store_conn *c = db(req, err);
    if (!c || !r)
        return -1;
    return reply_one(req, resp, r, 200, r->get(c, &req->auth, api_param(req, 0), err));
}

static int h_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const struct res *r = res_of(req);
    struct store_conn *c = db(req, err);
    json_t *in, *many;
    if (!c || !r)
        return -1;
    in = api_body_json(req, err);
    if (!in) {
        typed(err, "MalformedRequestBody");
        return -1;
    }
    many = json_object_get(in, r->plural);
    if (json_is_array(many) && !json_object_get(in, r->key)) {
        /* Bulk: all or nothing, undoing what was made when one fails. */
        json_t *out = json_array(), *e;
        size_t i;
        if (json_array_size(many) > 1000) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Too many resources in one request");
            json_decref(out);
            return -1;
        }
        json_array_foreach(many, i, e)
        {
            json_t *o = json_is_object(e) ? r->create(c, &req->auth, e, err) : NULL;
            if (!o) {
                size_t k;
                json_t *done;
                if (!st_err_is_set(err))
                    st_err_set(err, ST_ERR_BAD_REQUEST, "Each item must be an object");
                json_array_foreach(out, k, done)
                {
                    struct st_err ignored = ST_ERR_INIT;
                    (void) r->del(c, &req->auth, json_string_value(json_object_get(done, "id")),
                                  &ignored);
                }
                json_decref(out);
                return -1;
            }
            json_array_append_new(out, o);
        }
        api_reply(resp, 201, json_pack("{s:o}", r->plural, out));
        return 0;
    }
    in = body_of(req, r->key, err);
    if (!in)
        return -1;
    return reply_one(req, resp, r, 201, r->create(c, &req->auth, in, err));
}

static int h_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const struct res *r = res_of(req);
    struct store_conn *c = db(req, err);
    json_t *in;
    if (!c || !r)
        return -1;
    if (!r->update) {
        st_err_set(err, ST_ERR_METHOD_NOT_ALLOWED, "Updating %s is not supported.", r->plural);
        return -1;
    }
    in = body_of(req, r->key, err);
    if (!in)
        return -1;
    return reply_one(req, resp, r, 200, r->update(c, &req->auth, api_param(req, 0), in, err));
}

static int h_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const struct res *r = res_of(req);
    struct store_conn *c = db(req, err);
    if (!c || !r || r->del(c, &req->auth, api_param(req, 0), err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

/* ---- tags ------------------------------------------------------------------ */

static int h_tags_get(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const struct res *r = res_of(req);
    struct store_conn *c = db(req, err);
    json_t *tags;
    if (!c || !r)
        return -1;
    tags = net_tags_get(c, &req->auth, r->collection, api_param(req, 0), err);
    if (!tags)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "tags", tags));
    return 0;
}

static int h_tags_put(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const struct res *r = res_of(req);
    struct store_conn *c = db(req, err);
    json_t *in, *tags;
    if (!c || !r)
        return -1;
    in = api_body_json(req, err);
    if (!in) {
        typed(err, "MalformedRequestBody");
        return -1;
    }
    if (!json_is_array(json_object_get(in, "tags"))) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for tags. Reason: a list is required.");
        st_err_set_type(err, "HTTPBadRequest");
        return -1;
    }
    tags = net_tags_set(c, &req->auth, r->collection, api_param(req, 0),
                        json_object_get(in, "tags"), err);
    if (!tags)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "tags", tags));
    return 0;
}

static int h_tags_clear(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const struct res *r = res_of(req);
    struct store_conn *c = db(req, err);
    json_t *tags;
    if (!c || !r)
        return -1;
    tags = net_tags_set(c, &req->auth, r->collection, api_param(req, 0), NULL, err);
    if (!tags)
        return -1;
    json_decref(tags);
    api_reply(resp, 204, NULL);
    return 0;
}

static int tag_one(struct api_req *req, struct api_resp *resp, bool add, bool check, int status,
                   struct st_err *err)
{
    const struct res *r = res_of(req);
    struct store_conn *c = db(req, err);
    if (!c || !r ||
        net_tag_one(c, &req->auth, r->collection, api_param(req, 0), api_param(req, 1), add, check,
                    err) < 0)
        return -1;
    api_reply(resp, status, NULL);
    return 0;
}

static int h_tag_check(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return tag_one(req, resp, false, true, 204, err);
}

static int h_tag_add(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return tag_one(req, resp, true, false, 201, err);
}

static int h_tag_remove(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return tag_one(req, resp, false, false, 204, err);
}

/* ---- routers ---------------------------------------------------------------- */

static int router_interface(struct api_req *req, struct api_resp *resp, bool add,
                            struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *in, *out;
    if (!c)
        return -1;
    in = api_body_json(req, err);
    if (!in) {
        typed(err, "MalformedRequestBody");
        return -1;
    }
    out = net_router_interface(c, &req->auth, api_param(req, 0), in, add, err);
    if (!out)
        return -1;
    api_reply(resp, 200, out);
    return 0;
}

static int h_add_interface(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return router_interface(req, resp, true, err);
}

static int h_remove_interface(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return router_interface(req, resp, false, err);
}

static int extraroutes(struct api_req *req, struct api_resp *resp, bool add, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *in, *out;
    if (!c || !(in = body_of(req, "router", err)))
        return -1;
    out = net_router_extraroutes(c, &req->auth, api_param(req, 0), in, add, err);
    if (!out)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "router", out));
    return 0;
}

static int h_add_extraroutes(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return extraroutes(req, resp, true, err);
}

static int h_remove_extraroutes(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return extraroutes(req, resp, false, err);
}

/* ---- quotas ------------------------------------------------------------------ */

static int quota_reply(struct api_resp *resp, json_t *q)
{
    if (!q)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "quota", q));
    return 0;
}

static int h_quota_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *arr = c ? net_quota_list(c, &req->auth, err) : NULL;
    if (!arr)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "quotas", arr));
    return 0;
}

static int h_quota_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    return quota_reply(resp, c ? net_quota_get(c, &req->auth, api_param(req, 0), false, false, err)
                               : NULL);
}

static int h_quota_default(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *q = c ? net_quota_get(c, &req->auth, api_param(req, 0), false, true, err) : NULL;
    return quota_reply(resp, q);
}

static int h_quota_details(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    return quota_reply(resp, c ? net_quota_get(c, &req->auth, api_param(req, 0), true, false, err)
                               : NULL);
}

static int h_quota_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    json_t *in = c ? body_of(req, "quota", err) : NULL;
    if (!in)
        return -1;
    return quota_reply(resp, net_quota_set(c, &req->auth, api_param(req, 0), in, err));
}

static int h_quota_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = db(req, err);
    if (!c || net_quota_reset(c, &req->auth, api_param(req, 0), err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

static int h_quota_tenant(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) err;
    api_reply(resp, 200,
              json_pack("{s:{s:s, s:s}}", "tenant", "tenant_id", req->auth.project_id, "project_id",
                        req->auth.project_id));
    return 0;
}

/* ---- extensions and the version root -------------------------------------- */

/* Exactly what this file and network/ implement; clients probe some of
 * these aliases before using a feature. */
static const struct {
    const char *alias, *name, *description;
} extensions[] = {
    {"allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"},
    {"binding", "Port Binding", "Expose port bindings of a virtual port to external application"},
    {"external-net", "Neutron external network",
     "Adds external network attribute to network "
     "resource."},
    {"ext-gw-mode", "Neutron L3 Configurable external gateway mode",
     "Extension of the router abstraction for specifying whether SNAT should occur on the "
     "external gateway"},
    {"extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"},
    {"extraroute-atomic", "Atomically add/remove extra routes",
     "Edit extra routes of a router on server side by atomically adding/removing extra routes"},
    {"fip-port-details", "Floating IP Port Details Extension",
     "Add port_details attribute to Floating IP resource"},
    {"net-mtu", "Network MTU", "Provides MTU attribute for a network resource."},
    {"net-mtu-writable", "Network MTU (writable)",
     "Provides a writable MTU attribute for a network resource."},
    {"pagination", "Pagination support", "Extension that indicates that pagination is enabled."},
    {"port-security", "Port Security", "Provides port security"},
    {"port-security-groups-filtering", "Port filtering on security groups",
     "Provides security groups filtering when listing ports"},
    {"project-id", "project_id field enabled",
     "Extension that indicates that project_id field is enabled."},
    {"provider", "Provider Network", "Expose mapping of virtual networks to physical networks"},
    {"quotas", "Quota management support", "Expose functions for quotas management per tenant"},
    {"quota_details", "Quota details management support",
     "Expose functions for quotas usage statistics per project"},
    {"router", "Neutron L3 Router",
     "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to "
     "external networks via a NAT gateway."},
    {"security-group", "security-group", "The security groups extension."},
    {"security-groups-normalized-cidr", "Security Group Rule normalized CIDR field",
     "Add new field with normalized remote_ip_prefix cidr in SG rule"},
    {"sorting", "Sorting support", "Extension that indicates that sorting is enabled."},
    {"standard-attr-description", "standard-attr-description",
     "Extension to add descriptions to standard attributes"},
    {"standard-attr-revisions", "Resource revision numbers",
     "This extension will display the revision number of neutron resources."},
    {"standard-attr-tag",
     "Tag support for resources with standard attribute: subnet, trunk, "
     "network_segment_range, router, network, policy, subnetpool, port, "
     "security_group, floatingip",
     "Enables to set tag on resources with standard attribute."},
    {"standard-attr-timestamp", "Resource timestamps",
     "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
     "standard attributes."},
    {"stateful-security-group", "Stateful security group",
     "Indicates if the security group is stateful or not"},
    {"tag-ports-during-bulk-creation", "Tag Ports During Bulk Creation",
     "Allow to tag ports during bulk creation"},
};

static json_t *extension_json(size_t i)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:[]}", "alias", extensions[i].alias, "name",
                     extensions[i].name, "description", extensions[i].description, "updated",
                     "2013-01-01T00:00:00-00:00", "links");
}

static int h_extensions(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *arr = json_array();
    (void) req;
    (void) err;
    for (size_t i = 0; i < ST_ARRAY_SIZE(extensions); i++)
        json_array_append_new(arr, extension_json(i));
    api_reply(resp, 200, json_pack("{s:o}", "extensions", arr));
    return 0;
}

static int h_extension(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const char *alias = api_param(req, 0);
    for (size_t i = 0; i < ST_ARRAY_SIZE(extensions); i++) {
        if (!strcmp(extensions[i].alias, alias)) {
            api_reply(resp, 200, json_pack("{s:o}", "extension", extension_json(i)));
            return 0;
        }
    }
    st_err_set(err, ST_ERR_NOT_FOUND, "Extension with alias %s does not exist", alias);
    st_err_set_type(err, "HTTPNotFound");
    return -1;
}

static int h_root(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    static const struct {
        const char *name, *collection;
    } list[] = {{"subnet", "subnets"},
                {"network", "networks"},
                {"port", "ports"},
                {"router", "routers"},
                {"floatingip", "floatingips"},
                {"security_group", "security-groups"},
                {"security_group_rule", "security-group-rules"},
                {"quota", "quotas"}};
    json_t *arr = json_array();
    (void) err;
    for (size_t i = 0; i < ST_ARRAY_SIZE(list); i++) {
        struct st_buf b = ST_BUF_INIT;
        st_buf_addf(&b, "%s" V2 "/%s", req->base_url.buf, list[i].collection);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "name", list[i].name,
                                             "collection", list[i].collection, "links", "href",
                                             b.buf, "rel", "self"));
        st_buf_release(&b);
    }
    api_reply(resp, 200, json_pack("{s:o}", "resources", arr));
    return 0;
}

/* ---- the table ------------------------------------------------------------------ */

#define A ROUTE_AUTH
#define R(method, path, fn)                                                                        \
    {                                                                                              \
        method, V2 path, fn, A, SVC_NETWORK, NULL                                                  \
    }
#define CRUD(coll)                                                                                 \
    R("GET", "/" coll, h_list), R("POST", "/" coll, h_create), R("GET", "/" coll "/{id}", h_show), \
        R("PUT", "/" coll "/{id}", h_update), R("DELETE", "/" coll "/{id}", h_delete)
#define TAGS(coll)                                                                                 \
    R("GET", "/" coll "/{id}/tags", h_tags_get), R("PUT", "/" coll "/{id}/tags", h_tags_put),      \
        R("DELETE", "/" coll "/{id}/tags", h_tags_clear),                                          \
        R("GET", "/" coll "/{id}/tags/{tag}", h_tag_check),                                        \
        R("PUT", "/" coll "/{id}/tags/{tag}", h_tag_add),                                          \
        R("DELETE", "/" coll "/{id}/tags/{tag}", h_tag_remove)

const struct route network_routes[] = {
    R("GET", "", h_root),
    R("GET", "/extensions", h_extensions),
    R("GET", "/extensions/{alias}", h_extension),
    CRUD("networks"),
    TAGS("networks"),
    CRUD("subnets"),
    TAGS("subnets"),
    CRUD("ports"),
    TAGS("ports"),
    R("PUT", "/routers/{id}/add_router_interface", h_add_interface),
    R("PUT", "/routers/{id}/remove_router_interface", h_remove_interface),
    R("PUT", "/routers/{id}/add_extraroutes", h_add_extraroutes),
    R("PUT", "/routers/{id}/remove_extraroutes", h_remove_extraroutes),
    CRUD("routers"),
    TAGS("routers"),
    CRUD("floatingips"),
    TAGS("floatingips"),
    CRUD("security-groups"),
    TAGS("security-groups"),
    R("GET", "/security-group-rules", h_list),
    R("POST", "/security-group-rules", h_create),
    R("GET", "/security-group-rules/{id}", h_show),
    R("DELETE", "/security-group-rules/{id}", h_delete),
    R("GET", "/quotas", h_quota_list),
    R("GET", "/quotas/tenant", h_quota_tenant),
    R("GET", "/quotas/{project_id}", h_quota_show),
    R("PUT", "/quotas/{project_id}", h_quota_update),
    R("DELETE", "/quotas/{project_id}", h_quota_delete),
    R("GET", "/quotas/{project_id}/default", h_quota_default),
    R("GET", "/quotas/{project_id}/details", h_quota_details),
    R("GET", "/quotas/{project_id}/details.json", h_quota_details),
};
const size_t network_routes_count = sizeof(network_routes) / sizeof(network_routes[0]);

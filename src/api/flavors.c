/*
 * flavors.c (api) - Nova's flavor routes under /compute/v2.1: flavors
 * (list, detail, show, create, update of the description from 2.55,
 * delete), the os-flavor-access list and its addTenantAccess /
 * removeTenantAccess actions, and os-extra_specs.  The rules and checks are
 * in compute/flavor.c; this file reads queries and bodies and renders
 * Nova's representation for the request's microversion:
 *   2.55  "description"
 *   2.61  "extra_specs" inline (when the caller may read them)
 *   2.75  "swap" is 0 rather than "" for no swap; unknown query
 *         parameters are refused
 *   2.86  extra specs in Nova's namespaces are validated
 */
#include "api/flavors.h"

#include <string.h>
#include <strings.h>

#include "api/nova.h"
#include "common/json.h"
#include "common/util.h"
#include "compute/flavor.h"
#include "identity/identity.h"
#include "common/banned.h"

/* ---- representation ------------------------------------------------------- */

static json_t *flavor_links(const struct api_req *req, const char *id)
{
    struct st_buf esc = ST_BUF_INIT, self = ST_BUF_INIT, book = ST_BUF_INIT;
    json_t *links;
    st_url_escape(id, &esc);
    st_buf_addf(&self, "%s" NOVA_V21 "/flavors/%s", req->base_url.buf, esc.buf);
    st_buf_addf(&book, "%s/compute/flavors/%s", req->base_url.buf, esc.buf);
    links = json_pack("[{s:s, s:s}, {s:s, s:s}]", "rel", "self", "href", self.buf, "rel",
                      "bookmark", "href", book.buf);
    st_buf_release(&esc);
    st_buf_release(&self);
    st_buf_release(&book);
    return links;
}

/* GET /flavors: id, name, links (and description from 2.55). */
static json_t *view_basic(const struct api_req *req, json_t *f)
{
    const char *id = json_string_value(json_object_get(f, "id"));
    json_t *o = json_pack("{s:s, s:O, s:o}", "id", id, "name", json_object_get(f, "name"),
                          "links", flavor_links(req, id));
    if (api_mv(req, 2, 55))
        json_object_set(o, "description", json_object_get(f, "description"));
    return o;
}

/* Everything else: Nova's ViewBuilder.show(). */
static json_t *view_full(const struct api_req *req, json_t *f)
{
    const char *id = json_string_value(json_object_get(f, "id"));
    json_int_t swap = json_integer_value(json_object_get(f, "swap"));
    json_t *specs = json_object_get(f, "extra_specs");
    json_t *o = json_pack(
        "{s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:o}", "id", id, "name",
        json_object_get(f, "name"), "ram", json_object_get(f, "ram"), "disk",
        json_object_get(f, "disk"), "OS-FLV-EXT-DATA:ephemeral",
        json_object_get(f, "ephemeral"), "OS-FLV-DISABLED:disabled",
        json_object_get(f, "disabled"), "vcpus", json_object_get(f, "vcpus"),
        "os-flavor-access:is_public", json_object_get(f, "is_public"), "rxtx_factor",
        json_object_get(f, "rxtx_factor"), "swap", json_object_get(f, "swap"), "links",
        flavor_links(req, id));
    /* "swap": flavor["swap"] or "" before 2.75. */
    if (swap == 0 && !api_mv(req, 2, 75))
        json_object_set_new(o, "swap", json_string(""));
    if (api_mv(req, 2, 55))
        json_object_set(o, "description", json_object_get(f, "description"));
    if (api_mv(req, 2, 61) && specs)
        json_object_set(o, "extra_specs", specs);
    return o;
}

/* Takes 'f'. */
static int reply_flavor(struct api_req *req, struct api_resp *resp, int status, json_t *f)
{
    if (!f)
        return -1;
    api_reply(resp, status, json_pack("{s:o}", "flavor", view_full(req, f)));
    json_decref(f);
    return 0;
}

/* ---- flavors -------------------------------------------------------------- */

static const char *const list_params[] = {"limit",   "marker",   "is_public", "minRam",
                                          "minDisk", "sort_key", "sort_dir",  NULL};

/* Python's int() for minRam and minDisk. */
static int parse_min(const char *v, const char *name, bool *has, int64_t *out,
                     struct st_err *err)
{
    if (!v)
        return 0;
    if (st_parse_i64(v, INT64_MIN, INT64_MAX, out) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid %s filter [%s]", name, v);
        return -1;
    }
    *has = true;
    return 0;
}

/* Nova's _parse_is_public(), for admins: absent = public only, "none" =
 * all, else a strict boolean. */
static int parse_is_public(const char *v, int *out, struct st_err *err)
{
    static const char *const yes[] = {"1", "t", "true", "on", "y", "yes"};
    static const char *const no[] = {"0", "f", "false", "off", "n", "no"};
    if (!v) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(v, "none")) {
        *out = -1;
        return 0;
    }
    for (size_t i = 0; i < ST_ARRAY_SIZE(yes); i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(v, no[i])) {
            *out = 0;
            return 0;
        }
    }
    st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid is_public filter [%s]", v);
    return -1;
}

static int list_common(struct api_req *req, struct api_resp *resp, bool detail,
                       struct st_err *err)
{
    struct flavor_query q;
    const char *key = api_query(req, "sort_key"), *dir = api_query(req, "sort_dir");
    json_t *arr, *out, *f, *links;
    size_t i;

    flavor_query_init(&q);
    if (api_mv(req, 2, 75) && nova_query_known(req, list_params, err) < 0)
        return -1;
    if (nova_limit_marker(req, &q.limit, &q.marker, err) < 0)
        return -1;
    if (key) {
        for (i = 0; flavor_sort_keys[i]; i++)
            if (!strcmp(key, flavor_sort_keys[i]))
                q.sort_key = flavor_sort_keys[i];
        if (!q.sort_key) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for query parameters sort_key. Value: ['%s']. '%s' is not "
                       "one of ['created_at', 'description', 'disabled', 'ephemeral_gb', "
                       "'flavorid', 'id', 'is_public', 'memory_mb', 'name', 'root_gb', "
                       "'rxtx_factor', 'swap', 'updated_at', 'vcpu_weight', 'vcpus']",
                       key, key);
            return -1;
        }
    }
    if (dir) {
        if (strcmp(dir, "asc") && strcmp(dir, "desc")) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for query parameters sort_dir. Value: ['%s']. '%s' is not "
                       "one of ['asc', 'desc']",
                       dir, dir);
            return -1;
        }
        q.sort_desc = !strcmp(dir, "desc");
    }
    if (req->auth.is_admin && parse_is_public(api_query(req, "is_public"), &q.is_public, err) < 0)
        return -1;
    if (parse_min(api_query(req, "minRam"), "minRam", &q.has_min_ram, &q.min_ram, err) < 0 ||
        parse_min(api_query(req, "minDisk"), "minDisk", &q.has_min_disk, &q.min_disk, err) < 0)
        return -1;

    arr = flavor_list(req->db, &req->auth, &q, err);
    if (!arr)
        return -1;
    out = json_array();
    json_array_foreach(arr, i, f)
        json_array_append_new(out, detail ? view_full(req, f) : view_basic(req, f));
    links = nova_next_links(
        req, detail ? "flavors/detail" : "flavors", json_array_size(arr),
        json_array_size(arr)
            ? json_string_value(json_object_get(json_array_get(arr, json_array_size(arr) - 1),
                                                "id"))
            : NULL);
    json_decref(arr);
    out = json_pack("{s:o}", "flavors", out);
    if (links)
        json_object_set_new(out, "flavors_links", links);
    api_reply(resp, 200, out);
    return 0;
}

static int flavors_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return list_common(req, resp, false, err);
}

static int flavors_detail(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return list_common(req, resp, true, err);
}

static int flavors_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return reply_flavor(req, resp, 200, flavor_get(req->db, &req->auth, api_param(req, 0), err));
}

static int flavors_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = nova_body_member(req, "flavor", err);
    if (!in)
        return -1;
    return reply_flavor(req, resp, 200,
                        flavor_create(req->db, &req->auth, in, api_mv(req, 2, 55), err));
}

static int flavors_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in;
    if (!api_mv(req, 2, 55))
        return nova_no_version(err);
    if (!(in = nova_body_member(req, "flavor", err)))
        return -1;
    return reply_flavor(req, resp, 200,
                        flavor_update(req->db, &req->auth, api_param(req, 0), in, err));
}

static int flavors_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (flavor_delete(req->db, &req->auth, api_param(req, 0), err) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

/* ---- os-flavor-access ----------------------------------------------------- */

static int reply_access(struct api_resp *resp, json_t *list)
{
    if (!list)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "flavor_access", list));
    return 0;
}

static int access_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return reply_access(resp, flavor_access_list(req->db, &req->auth, api_param(req, 0), err));
}

/* {"addTenantAccess": {"tenant": ID}} and removeTenantAccess: the project
 * must exist (Nova asks Keystone: 400 otherwise). */
static int flavor_action(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *body = api_body_json(req, err), *in = NULL, *v;
    const char *action = NULL, *k, *tenant;
    bool add;
    int rc;

    if (!body)
        return -1;
    json_object_foreach(body, k, v)
    {
        if (!strcmp(k, "addTenantAccess") || !strcmp(k, "removeTenantAccess")) {
            action = k;
            in = v;
        }
    }
    if (!action) {
        const char *first = json_object_iter_key(json_object_iter(body));
        st_err_set(err, ST_ERR_BAD_REQUEST, "There is no such action: %s",
                   first ? first : "None");
        return -1;
    }
    if (json_object_size(body) != 1 || !json_is_object(in)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Malformed request body: one action expected");
        return -1;
    }
    json_object_foreach(in, k, v)
    {
        if (strcmp(k, "tenant")) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field/attribute %s. Additional properties are not "
                       "allowed ('%s' was unexpected)",
                       action, k);
            return -1;
        }
    }
    v = json_object_get(in, "tenant");
    if (!v) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute %s. 'tenant' is a required property",
                   action);
        return -1;
    }
    tenant = json_string_value(v);
    if (!tenant || !*tenant || strlen(tenant) > 255) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute tenant. It must be a string of 1 to 255 "
                   "characters");
        return -1;
    }
    add = !strcmp(action, "addTenantAccess");
    rc = idn_exists(req->db, IDN_PROJECT, tenant, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Project ID %s is not a valid project.", tenant);
        return -1;
    }
    return reply_access(resp, add ? flavor_access_add(req->db, &req->auth, api_param(req, 0),
                                                      tenant, api_mv(req, 2, 7), err)
                                  : flavor_access_remove(req->db, &req->auth,
                                                         api_param(req, 0), tenant, err));
}

/* ---- os-extra_specs ------------------------------------------------------- */

static int specs_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *specs = flavor_specs_get(req->db, &req->auth, api_param(req, 0), err);
    if (!specs)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "extra_specs", specs));
    return 0;
}

/* POST: merges; answers with the request body, as Nova does. */
static int specs_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *specs = nova_body_member(req, "extra_specs", err);
    if (!specs || flavor_specs_set(req->db, &req->auth, api_param(req, 0), specs,
                                   api_mv(req, 2, 86), err) < 0)
        return -1;
    api_reply(resp, 200, json_incref(req->json));
    return 0;
}

static int spec_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const char *key = api_param(req, 1);
    json_t *v = flavor_spec_get(req->db, &req->auth, api_param(req, 0), key, err);
    if (!v)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", key, v));
    return 0;
}

/* PUT {KEY: VALUE}: exactly one member, named as in the path. */
static int spec_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *body = api_body_json(req, err);
    const char *key = api_param(req, 1), *k;
    json_t *v, *checked;
    if (!body)
        return -1;
    if (json_object_size(body) != 1) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "%s",
                   json_object_size(body) ? "The request body has too many properties: one "
                                            "extra spec is expected"
                                          : "{} does not have enough properties");
        return -1;
    }
    json_object_foreach(body, k, v)
    {
        if (flavor_spec_check(k, v, &checked, err) < 0)
            return -1;
        json_decref(checked);
    }
    if (!json_object_get(body, key)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Request body and URI mismatch");
        return -1;
    }
    if (flavor_specs_set(req->db, &req->auth, api_param(req, 0), body, api_mv(req, 2, 86),
                         err) < 0)
        return -1;
    api_reply(resp, 200, json_incref(body));
    return 0;
}

/* Nova answers 200 with an empty body here, not 204. */
static int spec_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (flavor_spec_delete(req->db, &req->auth, api_param(req, 0), api_param(req, 1), err) < 0)
        return -1;
    api_reply(resp, 200, NULL);
    return 0;
}

/* Admin-only actions are checked in compute/flavor.c (with Nova's policy
 * names), so no route carries ROUTE_ADMIN. */
#define R(m, p, fn) {m, NOVA_V21 p, fn, ROUTE_AUTH, SVC_COMPUTE, NULL}

const struct route flavor_routes[] = {
    R("GET", "/flavors", flavors_list),
    R("POST", "/flavors", flavors_create),
    R("GET", "/flavors/detail", flavors_detail),
    R("GET", "/flavors/{id}", flavors_show),
    R("PUT", "/flavors/{id}", flavors_update),
    R("DELETE", "/flavors/{id}", flavors_delete),
    R("POST", "/flavors/{id}/action", flavor_action),
    R("GET", "/flavors/{id}/os-flavor-access", access_list),
    R("GET", "/flavors/{id}/os-extra_specs", specs_list),
    R("POST", "/flavors/{id}/os-extra_specs", specs_create),
    R("GET", "/flavors/{id}/os-extra_specs/{key}", spec_show),
    R("PUT", "/flavors/{id}/os-extra_specs/{key}", spec_update),
    R("DELETE", "/flavors/{id}/os-extra_specs/{key}", spec_delete),
};
const size_t flavor_routes_count = sizeof(flavor_routes) / sizeof(flavor_routes[0]);

/*
 * identity.c (api) - Keystone v3 routes under /identity/v3: tokens, the
 * catalog, and the identity resources.  Requests are checked and turned into
 * calls of identity/identity.h; this file adds links, envelopes, statuses and
 * the self-service rules (a user may read itself, list its projects, change
 * its own password, validate and revoke its own tokens).
 */
#include "api/identity.h"

#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "identity/identity.h"
#include "common/banned.h"

#define V3 "/identity/v3"

static void add_links(const struct api_req *req, enum idn_kind kind, json_t *o)
{
    struct st_buf b = ST_BUF_INIT;
    const char *id = json_string_value(json_object_get(o, "id"));
    st_buf_addf(&b, "%s" V3 "/%s/%s", req->base_url.buf, idn_kind_plural(kind), id ? id : "");
    json_object_set_new(o, "links", json_pack("{s:s}", "self", b.buf));
    st_buf_release(&b);
}

static json_t *collection_links(const struct api_req *req)
{
    struct st_buf b = ST_BUF_INIT;
    json_t *j;
    st_buf_addf(&b, "%s%s", req->base_url.buf, req->path);
    j = json_pack("{s:s, s:n, s:n}", "self", b.buf, "previous", "next");
    st_buf_release(&b);
    return j;
}

static void reply_one(struct api_req *req, struct api_resp *resp, int status, enum idn_kind kind,
                      json_t *o)
{
    add_links(req, kind, o);
    api_reply(resp, status, json_pack("{s:o}", idn_kind_name(kind), o));
}

static void reply_list(struct api_req *req, struct api_resp *resp, enum idn_kind kind,
                       json_t *arr)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
        add_links(req, kind, o);
    api_reply(resp, 200, json_pack("{s:o, s:o}", idn_kind_plural(kind), arr, "links",
                                   collection_links(req)));
}

/* ---- tokens ------------------------------------------------------------- */

static int auth_issue(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c;
    struct st_buf token = ST_BUF_INIT;
    struct auth_ctx ctx;
    json_t *body, *auth, *out;
    const char *nocat = api_query(req, "nocatalog");

    if (!(body = api_body_json(req, err)) || jget_obj(body, "auth", true, &auth, err) < 0)
        return -1;
    if (!(c = api_db(req, err)))
        return -1;
    if (identity_issue(req->app->identity, c, auth, &ctx, &token, err) < 0) {
        st_buf_release(&token);
        return -1;
    }
    out = identity_token_json(req->app->identity, c, &ctx, !nocat, err);
    if (!out) {
        st_buf_release(&token);
        return -1;
    }
    api_add_header(resp, "X-Subject-Token", "%s", token.buf);
    st_buf_release(&token);
    api_reply(resp, 201, out);
    return 0;
}

/* Validates X-Subject-Token for the caller: an admin may check any token,
 * others only their own.  A bad subject token is 404, as in Keystone. */
static int subject(struct api_req *req, struct auth_ctx *sub, const char **text,
                   struct st_err *err)
{
    struct st_err local = ST_ERR_INIT;
    struct store_conn *c = api_db(req, err);
    *text = api_header(req, "X-Subject-Token");
    if (!c)
        return -1;
    if (!*text || !**text) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Could not find token.");
        return -1;
    }
    if (identity_validate(req->app->identity, c, *text, sub, &local) < 0) {
        if (local.kind == ST_ERR_UNAUTHORIZED)
            st_err_set(err, ST_ERR_NOT_FOUND, "Could not find token: %.20s...", *text);
        else
            *err = local;
        return -1;
    }
    if (!req->auth.is_admin && strcmp(sub->user_id, req->auth.user_id)) {
        st_err_set(err, ST_ERR_FORBIDDEN,
                   "You are not authorized to perform the requested action: identity:"
                   "validate_token.");
        return -1;
    }
    return 0;
}

static int auth_validate(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct auth_ctx sub;
    const char *text;
    json_t *out;
    if (subject(req, &sub, &text, err) < 0)
        return -1;
    out = identity_token_json(req->app->identity, req->db, &sub, !api_query(req, "nocatalog"),
                              err);
    if (!out)
        return -1;
    api_add_header(resp, "X-Subject-Token", "%s", text);
    api_reply(resp, 200, out);
    return 0;
}

static int auth_revoke(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct auth_ctx sub;
    const char *text;
    if (subject(req, &sub, &text, err) < 0 ||
        identity_revoke(req->app->identity, req->db, text, err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

static int auth_catalog(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *cat;
    if (!req->auth.project_scoped && !req->auth.domain_scoped) {
        st_err_set(err, ST_ERR_FORBIDDEN, "The service catalog is only given to scoped tokens.");
        return -1;
    }
    cat = identity_catalog(req->db, req->auth.project_scoped ? req->auth.project_id : NULL, err);
    if (!cat)
        return -1;
    api_reply(resp, 200, json_pack("{s:o, s:o}", "catalog", cat, "links",
                                   collection_links(req)));
    return 0;
}

static int auth_projects(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *arr = identity_user_projects(req->db, req->auth.user_id, err);
    if (!arr)
        return -1;
    reply_list(req, resp, IDN_PROJECT, arr);
    return 0;
}

static int auth_domains(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) err;
    api_reply(resp, 200, json_pack("{s:[], s:o}", "domains", "links", collection_links(req)));
    return 0;
}

/* ---- generic resource handlers ------------------------------------------ */

/* The kind a route serves, from its pattern "/identity/v3/<plural>...". */
static enum idn_kind route_kind(const struct api_req *req)
{
    const char *p = req->route->pattern + strlen(V3 "/");
    for (int k = 0; k < IDN__COUNT; k++) {
        size_t n = strlen(idn_kind_plural((enum idn_kind) k));
        if (!strncmp(p, idn_kind_plural((enum idn_kind) k), n) && (p[n] == '/' || !p[n]))
            return (enum idn_kind) k;
    }
    return IDN_PROJECT;
}

struct filters {
    struct idn_filter f[32];
    size_t n;
};

static void collect_filter(void *arg, const char *k, const char *v)
{
    struct filters *fs = arg;
    if (fs->n < ST_ARRAY_SIZE(fs->f)) {
        fs->f[fs->n].key = k;
        fs->f[fs->n].value = v;
        fs->n++;
    }
}

static int res_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    enum idn_kind kind = route_kind(req);
    struct filters fs = {.n = 0};
    json_t *arr;
    api_query_each(req, collect_filter, &fs);
    arr = idn_list(req->db, kind, fs.f, fs.n, err);
    if (!arr)
        return -1;
    reply_list(req, resp, kind, arr);
    return 0;
}

static json_t *inner_body(struct api_req *req, enum idn_kind kind, struct st_err *err)
{
    json_t *body = api_body_json(req, err), *in;
    if (!body || jget_obj(body, idn_kind_name(kind), true, &in, err) < 0)
        return NULL;
    return in;
}

/* Projects: an admin lists them all; anyone else sees the projects it holds
 * a role on (others stay invisible rather than forbidden). */
static int project_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *arr, *kept;
    size_t i;
    json_t *p;
    if (req->auth.is_admin)
        return res_list(req, resp, err);
    arr = identity_user_projects(req->db, req->auth.user_id, err);
    if (!arr)
        return -1;
    kept = json_array();
    json_array_foreach(arr, i, p)
    {
        const char *name = api_query(req, "name");
        const char *dom = api_query(req, "domain_id");
        if (name && !st_streq(name, json_string_value(json_object_get(p, "name"))))
            continue;
        if (dom && !st_streq(dom, json_string_value(json_object_get(p, "domain_id"))))
            continue;
        json_array_append(kept, p);
    }
    json_decref(arr);
    reply_list(req, resp, IDN_PROJECT, kept);
    return 0;
}

static int res_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    enum idn_kind kind = route_kind(req);
    json_t *in = inner_body(req, kind, err), *o;
    if (!in)
        return -1;
    o = idn_create(req->app->identity, req->db, kind, in, err);
    if (!o)
        return -1;
    reply_one(req, resp, 201, kind, o);
    return 0;
}

static int res_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    enum idn_kind kind = route_kind(req);
    json_t *o = idn_get(req->db, kind, api_param(req, 0), err);
    if (!o)
        return -1;
    reply_one(req, resp, 200, kind, o);
    return 0;
}

static int res_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    enum idn_kind kind = route_kind(req);
    json_t *in = inner_body(req, kind, err), *o;
    if (!in)
        return -1;
    o = idn_update(req->app->identity, req->db, kind, api_param(req, 0), in, err);
    if (!o)
        return -1;
    reply_one(req, resp, 200, kind, o);
    return 0;
}

static int res_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (idn_delete(req->db, route_kind(req), api_param(req, 0), err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

/* ---- self-service ------------------------------------------------------- */

/* A project is visible to an admin and to those scoped to it. */
static int project_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const char *id = api_param(req, 0);
    if (!req->auth.is_admin && !(req->auth.project_scoped && !strcmp(id, req->auth.project_id))) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Could not find project: %s.", id);
        return -1;
    }
    return res_show(req, resp, err);
}

static int self_or_admin(const struct api_req *req, const char *user_id, const char *action,
                         struct st_err *err)
{
    if (req->auth.is_admin || !strcmp(user_id, req->auth.user_id))
        return 0;
    return policy_admin(&req->auth, action, err);
}

static int user_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (self_or_admin(req, api_param(req, 0), "identity:get_user", err) < 0)
        return -1;
    return res_show(req, resp, err);
}

static int user_projects(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *arr;
    if (self_or_admin(req, api_param(req, 0), "identity:list_user_projects", err) < 0)
        return -1;
    if (idn_exists(req->db, IDN_USER, api_param(req, 0), err) <= 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Could not find user: %s.", api_param(req, 0));
        return -1;
    }
    arr = identity_user_projects(req->db, api_param(req, 0), err);
    if (!arr)
        return -1;
    reply_list(req, resp, IDN_PROJECT, arr);
    return 0;
}

static int user_password(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *user, *body = api_body_json(req, err);
    const char *orig, *pw;
    if (!body)
        return -1;
    if (strcmp(api_param(req, 0), req->auth.user_id)) {
        st_err_set(err, ST_ERR_FORBIDDEN, "You can only change your own password.");
        return -1;
    }
    if (jget_obj(body, "user", true, &user, err) < 0 ||
        jget_str(user, "original_password", true, 4096, &orig, err) < 0 ||
        jget_str(user, "password", true, 4096, &pw, err) < 0)
        return -1;
    if (!*pw) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'password': it is empty");
        return -1;
    }
    if (idn_change_password(req->app->identity, req->db, req->auth.user_id, orig, pw, err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

/* ---- role grants -------------------------------------------------------- */

static const char *grant_target(const struct api_req *req)
{
    return !strncmp(req->route->pattern, V3 "/domains/", strlen(V3 "/domains/")) ? "domain"
                                                                                  : "project";
}

static int grant_put(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (idn_grant(req->db, grant_target(req), api_param(req, 0), api_param(req, 1),
                  api_param(req, 2), err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

static int grant_check(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    int rc = idn_check_grant(req->db, grant_target(req), api_param(req, 0), api_param(req, 1),
                             api_param(req, 2), err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Could not find role assignment with role: %s.",
                   api_param(req, 2));
        return -1;
    }
    api_reply(resp, 204, NULL);
    return 0;
}

static int grant_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (idn_revoke_grant(req->db, grant_target(req), api_param(req, 0), api_param(req, 1),
                         api_param(req, 2), err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

static int grant_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *arr = idn_grant_roles(req->db, grant_target(req), api_param(req, 0),
                                  api_param(req, 1), err);
    if (!arr)
        return -1;
    reply_list(req, resp, IDN_ROLE, arr);
    return 0;
}

static int assignments(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct filters fs = {.n = 0};
    const char *names = api_query(req, "include_names");
    bool include_names = false;
    json_t *arr;
    size_t i;
    json_t *a;

    api_query_each(req, collect_filter, &fs);
    if (!req->auth.is_admin) {
        /* Non-admins may list only their own assignments. */
        const char *uid = NULL;
        for (i = 0; i < fs.n; i++)
            if (!strcmp(fs.f[i].key, "user.id"))
                uid = fs.f[i].value;
        if (!uid || strcmp(uid, req->auth.user_id))
            return policy_admin(&req->auth, "identity:list_role_assignments", err);
    }
    if (names && (!*names || st_parse_bool(names, &include_names) < 0))
        include_names = true; /* "?include_names" alone means true */
    arr = idn_assignments(req->db, fs.f, fs.n, include_names, err);
    if (!arr)
        return -1;
    json_array_foreach(arr, i, a)
    {
        struct st_buf b = ST_BUF_INIT;
        json_t *scope = json_object_get(a, "scope");
        bool dom = json_object_get(scope, "domain") != NULL;
        st_buf_addf(&b, "%s" V3 "/%s/%s/users/%s/roles/%s", req->base_url.buf,
                    dom ? "domains" : "projects",
                    json_string_value(json_object_get(
                        json_object_get(scope, dom ? "domain" : "project"), "id")),
                    json_string_value(json_object_get(json_object_get(a, "user"), "id")),
                    json_string_value(json_object_get(json_object_get(a, "role"), "id")));
        json_object_set_new(a, "links", json_pack("{s:s}", "assignment", b.buf));
        st_buf_release(&b);
    }
    api_reply(resp, 200, json_pack("{s:o, s:o}", "role_assignments", arr, "links",
                                   collection_links(req)));
    return 0;
}

#define A ROUTE_AUTH
#define AA (ROUTE_AUTH | ROUTE_ADMIN)
#define R(m, p, fn, fl) {m, V3 p, fn, fl, SVC_IDENTITY}

const struct route identity_routes[] = {
    R("POST", "/auth/tokens", auth_issue, 0),
    R("GET", "/auth/tokens", auth_validate, A),
    R("DELETE", "/auth/tokens", auth_revoke, A),
    R("GET", "/auth/catalog", auth_catalog, A),
    R("GET", "/auth/projects", auth_projects, A),
    R("GET", "/auth/domains", auth_domains, A),

    R("GET", "/domains", res_list, AA),
    R("POST", "/domains", res_create, AA),
    R("GET", "/domains/{id}", res_show, AA),
    R("PATCH", "/domains/{id}", res_update, AA),
    R("DELETE", "/domains/{id}", res_delete, AA),

    R("GET", "/projects", project_list, A),
    R("POST", "/projects", res_create, AA),
    R("GET", "/projects/{id}", project_show, A),
    R("PATCH", "/projects/{id}", res_update, AA),
    R("DELETE", "/projects/{id}", res_delete, AA),

    R("GET", "/users", res_list, AA),
    R("POST", "/users", res_create, AA),
    R("GET", "/users/{id}", user_show, A),
    R("PATCH", "/users/{id}", res_update, AA),
    R("DELETE", "/users/{id}", res_delete, AA),
    R("POST", "/users/{id}/password", user_password, A),
    R("GET", "/users/{id}/projects", user_projects, A),

    R("GET", "/roles", res_list, AA),
    R("POST", "/roles", res_create, AA),
    R("GET", "/roles/{id}", res_show, AA),
    R("PATCH", "/roles/{id}", res_update, AA),
    R("DELETE", "/roles/{id}", res_delete, AA),

    R("GET", "/regions", res_list, A),
    R("POST", "/regions", res_create, AA),
    R("GET", "/regions/{id}", res_show, A),
    R("PATCH", "/regions/{id}", res_update, AA),
    R("DELETE", "/regions/{id}", res_delete, AA),

    R("GET", "/services", res_list, AA),
    R("POST", "/services", res_create, AA),
    R("GET", "/services/{id}", res_show, AA),
    R("PATCH", "/services/{id}", res_update, AA),
    R("DELETE", "/services/{id}", res_delete, AA),

    R("GET", "/endpoints", res_list, AA),
    R("POST", "/endpoints", res_create, AA),
    R("GET", "/endpoints/{id}", res_show, AA),
    R("PATCH", "/endpoints/{id}", res_update, AA),
    R("DELETE", "/endpoints/{id}", res_delete, AA),

    R("GET", "/projects/{p}/users/{u}/roles", grant_list, AA),
    R("PUT", "/projects/{p}/users/{u}/roles/{r}", grant_put, AA),
    R("GET", "/projects/{p}/users/{u}/roles/{r}", grant_check, AA),
    R("DELETE", "/projects/{p}/users/{u}/roles/{r}", grant_delete, AA),
    R("GET", "/domains/{d}/users/{u}/roles", grant_list, AA),
    R("PUT", "/domains/{d}/users/{u}/roles/{r}", grant_put, AA),
    R("GET", "/domains/{d}/users/{u}/roles/{r}", grant_check, AA),
    R("DELETE", "/domains/{d}/users/{u}/roles/{r}", grant_delete, AA),

    R("GET", "/role_assignments", assignments, A),
};
const size_t identity_routes_count = sizeof(identity_routes) / sizeof(identity_routes[0]);

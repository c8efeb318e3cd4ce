/*
 * keypairs.c (api) - Nova's os-keypairs routes under /compute/v2.1: import
 * or generate, list, show, delete.  The key handling and the rules are in
 * compute/keypair.c; this file reads bodies and queries and shows the
 * members each microversion has:
 *   2.1   create answers 200, delete 202; no "type"
 *   2.2   "type" (ssh or x509) in requests and answers; 201 and 204
 *   2.10  an admin may name another user: "user_id" in the body, and the
 *         user_id query parameter of list, show and delete
 *   2.35  list pages with limit and marker, and "keypairs_links"
 *   2.75  unknown query parameters are refused
 * Generation (no public_key) has the semantics of Nova before 2.92; from
 * 2.92 a public key is required, as in Nova.
 */
#include "api/keypairs.h"

#include <string.h>

#include "api/nova.h"
#include "common/json.h"
#include "common/util.h"
#include "compute/keypair.h"
#include "common/banned.h"

static const char *const show_params[] = {"user_id", NULL};
static const char *const list_params[] = {"user_id", "limit", "marker", NULL};

/* Copies the members 'names' (NULL-terminated) of 'kp' into a new object. */
static json_t *pick(json_t *kp, const char *const *names)
{
    json_t *o = json_object();
    for (size_t i = 0; names[i]; i++) {
        json_t *v = json_object_get(kp, names[i]);
        if (v)
            json_object_set(o, names[i], v);
    }
    return o;
}

/* The owner named by ?user_id= (2.10+), or NULL for the caller. */
static const char *query_user(const struct api_req *req)
{
    return api_mv(req, 2, 10) ? api_query(req, "user_id") : NULL;
}

static int check_query(const struct api_req *req, const char *const *allowed,
                       struct st_err *err)
{
    return api_mv(req, 2, 75) ? nova_query_known(req, allowed, err) : 0;
}

static int string_member(json_t *in, const char *key, const char **out, struct st_err *err)
{
    json_t *v = json_object_get(in, key);
    if (!v)
        return 0;
    if (!json_is_string(v)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute %s. Value: %s. It is not of type "
                   "'string'",
                   key, json_is_null(v) ? "None" : "(not a string)");
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int keypairs_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    static const char *const create_v21[] = {"private_key", "user_id", "name", "public_key",
                                             "fingerprint", NULL};
    static const char *const create_v22[] = {"private_key", "type", "user_id", "name",
                                             "public_key", "fingerprint", NULL};
    json_t *in = nova_body_member(req, "keypair", err), *kp, *v;
    struct keypair_req kr = {NULL, NULL, NULL, NULL};
    const char *k;

    if (!in)
        return -1;
    json_object_foreach(in, k, v)
    {
        bool known = !strcmp(k, "name") || !strcmp(k, "public_key") ||
                     (!strcmp(k, "type") && api_mv(req, 2, 2)) ||
                     (!strcmp(k, "user_id") && api_mv(req, 2, 10));
        if (!known) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field/attribute keypair. Additional properties are "
                       "not allowed ('%s' was unexpected)",
                       k);
            return -1;
        }
    }
    if (!json_object_get(in, "name")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute keypair. 'name' is a required property");
        return -1;
    }
    if (string_member(in, "name", &kr.name, err) < 0 ||
        string_member(in, "public_key", &kr.public_key, err) < 0 ||
        string_member(in, "type", &kr.type, err) < 0 ||
        string_member(in, "user_id", &kr.user_id, err) < 0)
        return -1;
    if (!kr.public_key && api_mv(req, 2, 92)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute keypair. 'public_key' is a required "
                   "property");
        return -1;
    }
    kp = keypair_create(req->db, &req->auth, &kr, err);
    if (!kp)
        return -1;
    api_reply(resp, api_mv(req, 2, 2) ? 201 : 200,
              json_pack("{s:o}", "keypair", pick(kp, api_mv(req, 2, 2) ? create_v22 : create_v21)));
    json_decref(kp);
    return 0;
}

static int keypairs_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    static const char *const index_v21[] = {"name", "public_key", "fingerprint", NULL};
    static const char *const index_v22[] = {"name", "public_key", "fingerprint", "type", NULL};
    const char *marker = NULL;
    int limit = -1;
    json_t *arr, *out, *kp, *links = NULL;
    size_t i;

    if (check_query(req, list_params, err) < 0)
        return -1;
    if (api_mv(req, 2, 35) && nova_limit_marker(req, &limit, &marker, err) < 0)
        return -1;
    arr = keypair_list(req->db, &req->auth, query_user(req), limit, marker, err);
    if (!arr)
        return -1;
    out = json_array();
    json_array_foreach(arr, i, kp)
        json_array_append_new(out, json_pack("{s:o}", "keypair",
                                             pick(kp, api_mv(req, 2, 2) ? index_v22 : index_v21)));
    if (api_mv(req, 2, 35) && json_array_size(arr))
        links = nova_next_links(
            req, "os-keypairs", json_array_size(arr),
            json_string_value(json_object_get(json_array_get(arr, json_array_size(arr) - 1),
                                              "name")));
    json_decref(arr);
    out = json_pack("{s:o}", "keypairs", out);
    if (links)
        json_object_set_new(out, "keypairs_links", links);
    api_reply(resp, 200, out);
    return 0;
}

static int keypairs_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    static const char *const show_v21[] = {"name", "public_key", "fingerprint", "user_id",
                                           "created_at", "id", NULL};
    static const char *const show_v22[] = {"name", "public_key", "fingerprint", "user_id",
                                           "created_at", "id", "type", NULL};
    json_t *kp, *o;

    if (check_query(req, show_params, err) < 0)
        return -1;
    kp = keypair_get(req->db, &req->auth, query_user(req), api_param(req, 0), err);
    if (!kp)
        return -1;
    o = pick(kp, api_mv(req, 2, 2) ? show_v22 : show_v21);
    /* Soft-delete columns of Nova's model, constant here. */
    json_object_set_new(o, "deleted", json_false());
    json_object_set_new(o, "deleted_at", json_null());
    json_object_set_new(o, "updated_at", json_null());
    json_decref(kp);
    api_reply(resp, 200, json_pack("{s:o}", "keypair", o));
    return 0;
}

static int keypairs_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (check_query(req, show_params, err) < 0 ||
        keypair_delete(req->db, &req->auth, query_user(req), api_param(req, 0), err) < 0)
        return -1;
    api_reply(resp, api_mv(req, 2, 2) ? 204 : 202, NULL);
    return 0;
}

#define R(m, p, fn) {m, NOVA_V21 p, fn, ROUTE_AUTH, SVC_COMPUTE, NULL}

const struct route keypair_routes[] = {
    R("GET", "/os-keypairs", keypairs_list),
    R("POST", "/os-keypairs", keypairs_create),
    R("GET", "/os-keypairs/{name}", keypairs_show),
    R("DELETE", "/os-keypairs/{name}", keypairs_delete),
};
const size_t keypair_routes_count = sizeof(keypair_routes) / sizeof(keypair_routes[0]);

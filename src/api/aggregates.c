/*
 * aggregates.c (api) - Nova's os-aggregates under /compute/v2.1, admin only:
 * list, create, show, update, delete, and the actions add_host, remove_host
 * and set_metadata (`openstack aggregate create --zone AZ`, `aggregate add
 * host`, `aggregate set --property`).  The rules are in compute/aggregate.c;
 * "uuid" appears from microversion 2.41, as in Nova.
 */
#include "api/aggregates.h"

#include <string.h>

#include "api/nova.h"
#include "common/json.h"
#include "common/util.h"
#include "compute/aggregate.h"
#include "compute/server.h"
#include "common/banned.h"

static json_t *shape(const struct api_req *req, json_t *agg)
{
    if (agg && !api_mv(req, 2, 41))
        json_object_del(agg, "uuid");
    return agg;
}

static int reply(struct api_req *req, struct api_resp *resp, json_t *agg)
{
    if (!agg)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "aggregate", shape(req, agg)));
    return 0;
}

static const char *default_az(const struct api_req *req)
{
    return req->app->compute->default_az;
}

static int aggregates_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *all = aggregate_list(req->db, err), *a;
    size_t i;
    if (!all)
        return -1;
    json_array_foreach(all, i, a) shape(req, a);
    api_reply(resp, 200, json_pack("{s:o}", "aggregates", all));
    return 0;
}

/* "name" and "availability_zone" of a create or update body. */
static int name_and_zone(json_t *in, bool name_required, const char **name, const char **az,
                         struct st_err *err)
{
    json_t *z = json_object_get(in, "availability_zone");
    *name = NULL;
    *az = NULL;
    if (jget_str(in, "name", name_required, 255, name, err) < 0)
        return -1;
    if (z && !json_is_null(z) && jget_str(in, "availability_zone", false, 255, az, err) < 0)
        return -1;
    if ((*name && !**name) || (*name && (**name == ' ' || (*name)[strlen(*name) - 1] == ' '))) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute name. Value: '%s'.", *name);
        return -1;
    }
    return 0;
}

static int aggregates_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = nova_body_member(req, "aggregate", err);
    const char *name, *az;
    if (!in || name_and_zone(in, true, &name, &az, err) < 0)
        return -1;
    return reply(req, resp, aggregate_create(req->db, name, az, default_az(req), err));
}

static int aggregates_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return reply(req, resp, aggregate_get(req->db, api_param(req, 0), err));
}

static int aggregates_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = nova_body_member(req, "aggregate", err);
    const char *name, *az;
    if (!in || name_and_zone(in, false, &name, &az, err) < 0)
        return -1;
    if (!name && !az) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input: name or availability_zone required");
        return -1;
    }
    return reply(req, resp,
                 aggregate_update(req->db, api_param(req, 0), name, az, default_az(req), err));
}

static int aggregates_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (aggregate_delete(req->db, api_param(req, 0), err) < 0)
        return -1;
    api_reply(resp, 200, NULL);
    return 0;
}

static int aggregates_action(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *body = api_body_json(req, err), *in;
    const char *id = api_param(req, 0), *host;
    if (!body)
        return -1;
    if (json_object_size(body) != 1) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Exactly one action is expected.");
        return -1;
    }
    if ((in = json_object_get(body, "add_host")) || (in = json_object_get(body, "remove_host"))) {
        bool add = json_object_get(body, "add_host") != NULL;
        if (!json_is_object(in) || jget_str(in, "host", true, 255, &host, err) < 0)
            return -1;
        return reply(req, resp,
                     add ? aggregate_add_host(req->db, id, host, default_az(req), err)
                         : aggregate_remove_host(req->db, id, host, default_az(req), err));
    }
    if ((in = json_object_get(body, "set_metadata"))) {
        json_t *meta;
        if (!json_is_object(in) || jget_obj(in, "metadata", true, &meta, err) < 0)
            return -1;
        return reply(req, resp,
                     aggregate_set_metadata(req->db, id, meta, default_az(req), err));
    }
    st_err_set(err, ST_ERR_BAD_REQUEST, "Unknown aggregate action.");
    return -1;
}

#define R(m, p, fn) {m, NOVA_V21 p, fn, ROUTE_AUTH | ROUTE_ADMIN, SVC_COMPUTE, NULL}

const struct route aggregate_routes[] = {
    R("GET", "/os-aggregates", aggregates_list),
    R("POST", "/os-aggregates", aggregates_create),
    R("GET", "/os-aggregates/{id}", aggregates_show),
    R("PUT", "/os-aggregates/{id}", aggregates_update),
    R("DELETE", "/os-aggregates/{id}", aggregates_delete),
    R("POST", "/os-aggregates/{id}/action", aggregates_action),
};
const size_t aggregate_routes_count = sizeof(aggregate_routes) / sizeof(aggregate_routes[0]);

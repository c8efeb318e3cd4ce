/*
 * versions.c - version discovery documents, unauthenticated, as clients
 * expect them at each service root (keystoneauth's discovery reads these to
 * pick an endpoint and a microversion range).
 */
#include "api/api.h"

#include "api/versions.h"
#include "common/banned.h"

static json_t *href(const struct api_req *req, const char *path)
{
    struct st_buf b = ST_BUF_INIT;
    json_t *j;
    st_buf_addf(&b, "%s%s", req->base_url.buf, path);
    j = json_pack("[{s:s, s:s}]", "rel", "self", "href", b.buf);
    st_buf_release(&b);
    return j;
}

static json_t *identity_v3(const struct api_req *req)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:[{s:s, s:s}]}", "id", "v3.14", "status", "stable",
                     "updated", "2020-04-07T00:00:00Z", "links", href(req, "/identity/v3/"),
                     "media-types", "base", "application/json", "type",
                     "application/vnd.openstack.identity-v3+json");
}

static int identity_versions(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) err;
    api_reply(resp, 300, json_pack("{s:{s:[o]}}", "versions", "values", identity_v3(req)));
    return 0;
}

static int identity_version(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) err;
    api_reply(resp, 200, json_pack("{s:o}", "version", identity_v3(req)));
    return 0;
}

static json_t *compute_v21(const struct api_req *req)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", "v2.1", "status", "CURRENT",
                     "version", API_COMPUTE_MAX_VERSION, "min_version", "2.1", "updated",
                     "2013-07-23T11:33:21Z", "links", href(req, "/compute/v2.1/"));
}

static int compute_versions(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) err;
    api_reply(resp, 200, json_pack("{s:[o]}", "versions", compute_v21(req)));
    return 0;
}

static int compute_version(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) err;
    api_reply(resp, 200, json_pack("{s:o}", "version", compute_v21(req)));
    return 0;
}

static int image_versions(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    static const char *const ids[] = {"v2.9", "v2.8", "v2.7", "v2.6", "v2.5", "v2.4",
                                      "v2.3", "v2.2", "v2.1", "v2.0"};
    json_t *arr = json_array();
    (void) err;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "id", ids[i], "status",
                                             i == 0 ? "CURRENT" : "SUPPORTED", "links",
                                             href(req, "/image/v2/")));
    api_reply(resp, 300, json_pack("{s:o}", "versions", arr));
    return 0;
}

static int network_versions(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) err;
    api_reply(resp, 200,
              json_pack("{s:[{s:s, s:s, s:o}]}", "versions", "id", "v2.0", "status", "CURRENT",
                        "links", href(req, "/network/v2.0/")));
    return 0;
}

static json_t *volume_v3(const struct api_req *req)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:[{s:s, s:s}]}", "id", "v3.0", "status",
                     "CURRENT", "version", API_VOLUME_MAX_VERSION, "min_version", "3.0",
                     "updated", "2023-08-31T00:00:00Z", "links", href(req, "/volume/v3/"),
                     "media-types", "base", "application/json", "type",
                     "application/vnd.openstack.volume+json;version=3");
}

static int volume_versions(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) err;
    api_reply(resp, 300, json_pack("{s:[o]}", "versions", volume_v3(req)));
    return 0;
}

/* GET /volume/v3: Cinder answers its versioned root with the list of one. */
static int volume_version(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) err;
    api_reply(resp, 200, json_pack("{s:[o]}", "versions", volume_v3(req)));
    return 0;
}

const struct route version_routes[] = {
    /* The root answers as Keystone does, so an auth URL without /identity
     * also works. */
    {"GET", "/", identity_versions, 0, SVC_ROOT},
    {"GET", "/identity", identity_versions, 0, SVC_IDENTITY},
    {"GET", "/identity/v3", identity_version, 0, SVC_IDENTITY},
    {"GET", "/compute", compute_versions, 0, SVC_COMPUTE},
    {"GET", "/compute/v2.1", compute_version, 0, SVC_COMPUTE},
    {"GET", "/image", image_versions, 0, SVC_IMAGE},
    {"GET", "/image/versions", image_versions, 0, SVC_IMAGE},
    {"GET", "/network", network_versions, 0, SVC_NETWORK},
    {"GET", "/volume", volume_versions, 0, SVC_VOLUME},
    {"GET", "/volume/v3", volume_version, 0, SVC_VOLUME},
};
const size_t version_routes_count = sizeof(version_routes) / sizeof(version_routes[0]);

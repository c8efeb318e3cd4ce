/*
 * internal.c (api) - the agent protocol under /internal/v1
 * (docs/agent-protocol.md): register, long-poll the desired state, report,
 * and image data for hosts.  Every route needs a host secret (ROUTE_HOST)
 * and a host acts only for itself.
 */
#include "api/internal.h"

#include "api/migrations.h"

#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "compute/host.h"
#include "image/image.h"
#include "store/revision.h"
#include "common/banned.h"

#define IV1 "/internal/v1"

static int same_host(const struct api_req *req, struct st_err *err)
{
    if (strcmp(api_param(req, 0), req->host_name)) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Host %s may not act for host %s.", req->host_name,
                   api_param(req, 0));
        return -1;
    }
    return 0;
}

static int hosts_register(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *out;
    if (!in || same_host(req, err) < 0)
        return -1;
    out = host_register(req->db, req->app->compute, req->host_name, in, err);
    if (!out)
        return -1;
    api_reply(resp, 200, out);
    return 0;
}

static int hosts_desired(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const char *a = api_query(req, "after"), *t = api_query(req, "timeout");
    int64_t after = 0, timeout = 30, deadline;
    json_t *doc;

    if (same_host(req, err) < 0)
        return -1;
    if ((a && st_parse_i64(a, 0, INT64_MAX, &after) < 0) ||
        (t && st_parse_i64(t, 0, 60, &timeout) < 0)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "after and timeout must be integers (timeout <= 60)");
        return -1;
    }
    deadline = st_mono_ns() + timeout * 1000000000;
    for (;;) {
        struct store_conn *c = api_db(req, err);
        int64_t rev, left;
        if (!c)
            return -1;
        rev = revision_get(c, req->host_name, err);
        if (rev < 0)
            return -1;
        left = deadline - st_mono_ns();
        if (rev > after || after == 0 || left <= 0 || revision_waits_stopped())
            break;
        /* Wait without holding a store connection. */
        api_db_release(req);
        revision_wait(left > 1000000000 ? 1000 : (int) (left / 1000000) + 1);
    }
    doc = host_desired(req->db, req->host_name, err);
    if (!doc)
        return -1;
    /* The metadata proxy's key, over this authenticated channel. */
    if (req->app->metadata_secret)
        json_object_set_new(doc, "metadata",
                            json_pack("{s:s}", "shared_secret", req->app->metadata_secret));
    api_reply(resp, 200, doc);
    return 0;
}

static int hosts_report(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *out;
    if (!in || same_host(req, err) < 0)
        return -1;
    out = host_report(req->db, req->app->compute, req->host_name, in, err);
    if (!out)
        return -1;
    migrations_files_gc(req); /* migration files no longer needed */
    api_reply(resp, 200, out);
    return 0;
}

/* Hosts read images as an administrator would. */
static void host_ctx(struct auth_ctx *ctx, const char *project)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->project_scoped = true;
    ctx->is_reader = ctx->is_member = true;
    ctx->is_admin = project == NULL;
    if (project)
        ST_IGNORE(st_snprintf(ctx->project_id, sizeof(ctx->project_id), "%s", project));
}

static int image_get_file(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct auth_ctx ctx;
    int fd;
    uint64_t size;
    char md5[33];
    host_ctx(&ctx, NULL);
    if (image_open_data(req->db, &ctx, req->app->images, api_param(req, 0), &fd, &size, md5,
                        err) < 0)
        return -1;
    if (fd < 0) {
        st_err_set(err, ST_ERR_CONFLICT, "Image %s has no data.", api_param(req, 0));
        return -1;
    }
    if (md5[0])
        api_add_header(resp, "Content-MD5", "%s", md5);
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    return api_resp_file(resp, fd, 0, size, err);
}

static int upload_begin(struct api_req *req, struct st_err *err)
{
    struct store_conn *c = api_db(req, err);
    struct auth_ctx ctx;
    struct store_stmt *s;
    char owner[AUTH_ID_MAX] = "";
    int rc;
    if (!c)
        return -1;
    rc = host_may_upload(c, req->host_name, api_param(req, 0), err);
    if (rc <= 0) {
        if (rc == 0)
            st_err_set(err, ST_ERR_FORBIDDEN, "Host %s has no snapshot task for image %s.",
                       req->host_name, api_param(req, 0));
        return -1;
    }
    s = store_query(c, err, "SELECT owner FROM images WHERE id = ?",
                    STORE_ARGS(P(api_param(req, 0))));
    if (!s)
        return -1;
    if (store_next(s, err) > 0 && store_text(s, 0))
        ST_IGNORE(st_snprintf(owner, sizeof(owner), "%s", store_text(s, 0)));
    store_done(s);
    host_ctx(&ctx, owner[0] ? owner : NULL);
    req->stream = image_upload_begin(c, &ctx, req->app->images, api_param(req, 0), err);
    api_db_release(req);
    return req->stream ? 0 : -1;
}

static int upload_data(struct api_req *req, const char *data, size_t len, struct st_err *err)
{
    return image_upload_write(req->stream, data, len, err);
}

static void upload_abort(struct api_req *req)
{
    struct st_err ignored = ST_ERR_INIT;
    if (!req->stream)
        return;
    image_upload_abort(api_db(req, &ignored), req->stream);
    req->stream = NULL;
}

static int upload_finish(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = api_db(req, err);
    json_t *img;
    if (!c)
        return -1;
    img = image_upload_finish(c, req->stream, err);
    req->stream = NULL;
    if (!img) {
        req->stream_done = true;
        return -1;
    }
    json_decref(img);
    api_reply(resp, 204, NULL);
    return 0;
}

static const struct api_stream_ops upload_ops = {upload_begin, upload_data, upload_abort};

#define H ROUTE_HOST
const struct route internal_routes[] = {
    {"POST", IV1 "/hosts/{host}", hosts_register, H, SVC_INTERNAL, NULL},
    {"GET", IV1 "/hosts/{host}/desired", hosts_desired, H, SVC_INTERNAL, NULL},
    {"POST", IV1 "/hosts/{host}/report", hosts_report, H, SVC_INTERNAL, NULL},
    {"GET", IV1 "/images/{id}/file", image_get_file, H, SVC_INTERNAL, NULL},
    {"PUT", IV1 "/images/{id}/file", upload_finish, H, SVC_INTERNAL, &upload_ops},
};
const size_t internal_routes_count = sizeof(internal_routes) / sizeof(internal_routes[0]);

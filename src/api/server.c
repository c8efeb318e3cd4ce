/*
 * server.c - libmicrohttpd glue: per-request state, the body limit (413),
 * route lookup (404/405), the auth middleware (401/403), dispatch, response
 * building, the request log line and the request id.
 */
#include "api/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/metrics.h"
#include "api/router.h"
#include "api/versions.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "compute/host.h"
#include "identity/identity.h"
#include "store/revision.h"
#include "common/banned.h"

struct api_server {
    struct MHD_Daemon *mhd;
    struct app *app;
    struct router *router;
    uint16_t port;
};

struct req_state {
    struct api_req req;
    bool streaming;      /* the body goes to route->stream */
    struct api_resp resp;
    const struct router *router;
    char *scratch;       /* the path, split by the router */
    bool started;        /* first call done */
    bool too_large;
    size_t discarded;
    struct st_err early; /* a fault found before the body was read */
};

/* ---- helpers for handlers ----------------------------------------------- */

const char *api_param(const struct api_req *req, int i)
{
    return i < req->nparams ? req->params[i] : "";
}

static const char *kv_find(const struct api_kv *kv, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(kv[i].name, name))
            return kv[i].value;
    return NULL;
}

const char *api_query(const struct api_req *req, const char *name)
{
    if (!req->mhd)
        return kv_find(req->query, req->nquery, name);
    return MHD_lookup_connection_value(req->mhd, MHD_GET_ARGUMENT_KIND, name);
}

struct query_iter {
    void (*fn)(void *, const char *, const char *);
    void *arg;
};

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct query_iter *it = cls;
    (void) kind;
    it->fn(it->arg, key, value ? value : "");
    return MHD_YES;
}

void api_query_each(const struct api_req *req,
                    void (*fn)(void *arg, const char *k, const char *v), void *arg)
{
    struct query_iter it = {fn, arg};
    if (!req->mhd) {
        for (size_t i = 0; i < req->nquery; i++)
            fn(arg, req->query[i].name, req->query[i].value ? req->query[i].value : "");
        return;
    }
    MHD_get_connection_values(req->mhd, MHD_GET_ARGUMENT_KIND, query_cb, &it);
}

const char *api_header(const struct api_req *req, const char *name)
{
    if (!req->mhd)
        return kv_find(req->headers, req->nheaders, name);
    return MHD_lookup_connection_value(req->mhd, MHD_HEADER_KIND, name);
}

json_t *api_body_json(struct api_req *req, struct st_err *err)
{
    if (!req->json)
        req->json = st_json_parse(req->body.buf, req->body.len, err);
    return req->json;
}

json_t *api_body_json_any(struct api_req *req, struct st_err *err)
{
    if (!req->json)
        req->json = st_json_parse_value(req->body.buf, req->body.len, err);
    return req->json;
}

void api_db_release(struct api_req *req)
{
    if (req->db) {
        store_release(req->app->store, req->db);
        req->db = NULL;
    }
}

struct store_conn *api_db(struct api_req *req, struct st_err *err)
{
    if (!req->db)
        req->db = store_acquire(req->app->store, err);
    return req->db;
}

void api_reply(struct api_resp *resp, int status, json_t *json)
{
    if (resp->json)
        json_decref(resp->json);
    resp->json = json;
    resp->status = status;
}

void api_add_header(struct api_resp *resp, const char *name, const char *fmt, ...)
{
    struct st_buf b = ST_BUF_INIT;
    va_list ap;
    if (resp->nheaders >= API_MAX_HEADERS)
        return;
    va_start(ap, fmt);
    st_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    resp->headers[resp->nheaders].name = st_xstrdup(name);
    resp->headers[resp->nheaders].value = st_buf_detach(&b, NULL);
    resp->nheaders++;
}

int api_resp_file(struct api_resp *resp, int fd, uint64_t offset, uint64_t length,
                  struct st_err *err)
{
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(length, fd, offset);
    if (!r) {
        close(fd);
        st_err_set(err, ST_ERR_INTERNAL, "cannot make a file response");
        return -1;
    }
    if (resp->raw)
        MHD_destroy_response(resp->raw);
    resp->raw = r;
    return 0;
}

/* ---- request lifecycle -------------------------------------------------- */

static void base_url(struct api_req *req)
{
    const char *host;
    if (req->app->public_url && *req->app->public_url) {
        st_buf_adds(&req->base_url, req->app->public_url);
    } else {
        host = api_header(req, MHD_HTTP_HEADER_HOST);
        st_buf_addf(&req->base_url, "http://%s", host && *host ? host : "localhost");
    }
    while (req->base_url.len && req->base_url.buf[req->base_url.len - 1] == '/')
        st_buf_truncate(&req->base_url, req->base_url.len - 1);
}

static struct req_state *req_new(struct app *app, const struct router *router,
                                 struct MHD_Connection *conn, const char *url, const char *method)
{
    struct req_state *rs = st_xcalloc(1, sizeof(*rs));
    struct api_req *req = &rs->req;
    char uuid[37];
    size_t n;

    rs->router = router;
    req->app = app;
    req->mhd = conn;
    req->method = method;
    req->start_ns = st_mono_ns();
    st_uuid(uuid);
    snprintf(req->request_id, sizeof(req->request_id), "req-%s", uuid);
    req->path = st_xstrdup(url && *url ? url : "/");
    n = strlen(req->path);
    while (n > 1 && req->path[n - 1] == '/')
        req->path[--n] = '\0';
    st_buf_init(&req->body, 0);
    st_buf_init(&req->base_url, 0);
    st_buf_init(&rs->resp.body, 0);
    if (conn)
        base_url(req);
    return rs;
}

static void req_free(struct req_state *rs)
{
    if (rs->req.db)
        store_release(rs->req.app->store, rs->req.db);
    json_decref(rs->req.json);
    json_decref(rs->resp.json);
    st_buf_release(&rs->req.body);
    st_buf_release(&rs->req.base_url);
    st_buf_release(&rs->resp.body);
    for (int i = 0; i < rs->resp.nheaders; i++) {
        free(rs->resp.headers[i].name);
        free(rs->resp.headers[i].value);
    }
    if (rs->resp.raw)
        MHD_destroy_response(rs->resp.raw);
    free(rs->req.path);
    free(rs->scratch);
    free(rs);
}

static enum api_service req_service(const struct req_state *rs)
{
    return rs->req.route ? rs->req.route->svc : api_service_of(rs->req.path);
}

static void add_auth_challenge(struct req_state *rs)
{
    api_add_header(&rs->resp, "WWW-Authenticate", "Keystone uri=\"%s/identity\"",
                   rs->req.base_url.buf);
}

/* Microversions (Nova and Cinder): from "OpenStack-API-Version: compute
 * 2.37" or the legacy "X-OpenStack-Nova-API-Version: 2.37"; "latest" is the
 * maximum; none is the minimum.  Out of range: 406; malformed: 400. */
static int negotiate_version(struct req_state *rs, struct st_err *err)
{
    struct api_req *req = &rs->req;
    enum api_service svc = req->route ? req->route->svc : SVC_ROOT;
    const char *service, *legacy = NULL, *v = NULL, *h;
    int min_major, min_minor, max_major, max_minor;
    char word[32], num[32];

    if (svc == SVC_COMPUTE) {
        service = "compute";
        legacy = "X-OpenStack-Nova-API-Version";
        min_major = 2, min_minor = 1;
        max_major = API_COMPUTE_MAX_MAJOR, max_minor = API_COMPUTE_MAX_MINOR;
    } else if (svc == SVC_VOLUME) {
        service = "volume";
        min_major = 3, min_minor = 0;
        max_major = API_VOLUME_MAX_MAJOR, max_minor = API_VOLUME_MAX_MINOR;
    } else {
        return 0;
    }
    req->mv_major = min_major;
    req->mv_minor = min_minor;
    h = api_header(req, "OpenStack-API-Version");
    if (h && sscanf(h, "%31s %31s", word, num) == 2 && !strcasecmp(word, service))
        v = num;
    else if (legacy)
        v = api_header(req, legacy);
    if (v && !strcmp(v, "latest")) {
        req->mv_major = max_major;
        req->mv_minor = max_minor;
    } else if (v) {
        uint32_t maj, min;
        char *dot = strchr(v, '.');
        char majs[16];
        if (!dot || (size_t) (dot - v) >= sizeof(majs)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid API version request string %s", v);
            return -1;
        }
        memcpy(majs, v, (size_t) (dot - v));
        majs[dot - v] = '\0';
        if (st_parse_u32(majs, 0, 99, &maj) < 0 || st_parse_u32(dot + 1, 0, 999, &min) < 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid API version request string %s", v);
            return -1;
        }
        req->mv_major = (int) maj;
        req->mv_minor = (int) min;
        if (!api_mv(req, min_major, min_minor) ||
            (req->mv_major > max_major ||
             (req->mv_major == max_major && req->mv_minor > max_minor))) {
            st_err_set(err, ST_ERR_NOT_ACCEPTABLE,
                       "Version %s is not supported by the API. Minimum is %d.%d and maximum "
                       "is %d.%d.",
                       v, min_major, min_minor, max_major, max_minor);
            return -1;
        }
    }
    api_add_header(&rs->resp, "OpenStack-API-Version", "%s %d.%d", service, req->mv_major,
                   req->mv_minor);
    if (legacy)
        api_add_header(&rs->resp, legacy, "%d.%d", req->mv_major, req->mv_minor);
    api_add_header(&rs->resp, "Vary", "OpenStack-API-Version%s%s", legacy ? ", " : "",
                   legacy ? legacy : "");
    return 0;
}

/* The auth middleware: validate X-Auth-Token once, check the admin flag. */
static int authenticate(struct req_state *rs, struct st_err *err)
{
    struct api_req *req = &rs->req;
    struct store_conn *c;

    if (req->route->flags & ROUTE_HOST) {
        /* Agents only: a Keystone token is no good here, and a host secret
         * is no good on the public routes. */
        c = api_db(req, err);
        if (!c || host_authenticate(c, api_header(req, "Authorization"), req->host_name,
                                    sizeof(req->host_name), err) < 0)
            return -1;
        return 0;
    }
    req->token = api_header(req, "X-Auth-Token");
    if (!req->token || !*req->token) {
        st_err_set(err, ST_ERR_UNAUTHORIZED, "The request you have made requires authentication.");
        return -1;
    }
    c = api_db(req, err);
    if (!c)
        return -1;
    if (identity_validate(req->app->identity, c, req->token, &req->auth, err) < 0)
        return -1;
    req->authed = true;
    if (req->route->flags & ROUTE_ADMIN) {
        struct st_buf action = ST_BUF_INIT;
        int rc;
        st_buf_addf(&action, "%s %s", req->route->method, req->route->pattern);
        rc = policy_admin(&req->auth, action.buf, err);
        st_buf_release(&action);
        return rc;
    }
    return 0;
}

static void dispatch(struct req_state *rs)
{
    struct api_req *req = &rs->req;
    struct st_err err = ST_ERR_INIT;

    if (st_err_is_set(&rs->early)) {
        err = rs->early;
        goto fault;
    }
    if (rs->too_large) {
        st_err_set(&err, ST_ERR_TOO_LARGE, "The request body is larger than %zu bytes.",
                   req->app->max_body);
        goto fault;
    }
    if (!rs->streaming) {
        if (negotiate_version(rs, &err) < 0)
            goto fault;
        if ((req->route->flags & (ROUTE_AUTH | ROUTE_HOST)) && authenticate(rs, &err) < 0)
            goto fault;
    }
    if (req->route->fn(req, &rs->resp, &err) == 0) {
        req->stream_done = true;
        return;
    }
    if (!st_err_is_set(&err))
        st_err_set(&err, ST_ERR_INTERNAL, "The handler failed without saying why.");
fault:
    if (rs->streaming && !req->stream_done && req->route->stream->abort) {
        req->route->stream->abort(req);
        req->stream_done = true;
    }
    if (err.kind == ST_ERR_INTERNAL || err.kind == ST_ERR_UNAVAILABLE)
        log_errorx("api", "%s %s %s: %s", req->request_id, req->method, req->path, err.msg);
    if (err.kind == ST_ERR_UNAUTHORIZED)
        add_auth_challenge(rs);
    api_fault(&rs->resp, req_service(rs), &err);
}

static enum MHD_Result send_response(struct req_state *rs)
{
    struct api_resp *resp = &rs->resp;
    struct MHD_Response *r;
    int status = resp->status;
    enum MHD_Result ret;

    if (resp->raw) {
        r = resp->raw;
        resp->raw = NULL;
    } else if (resp->json) {
        struct st_buf b = ST_BUF_INIT;
        size_t len;
        char *data;
        st_json_dump(resp->json, &b);
        data = st_buf_detach(&b, &len);
        r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!resp->content_type)
            resp->content_type = "application/json";
    } else {
        size_t len;
        char *data = st_buf_detach(&resp->body, &len);
        r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        if (!status)
            status = len ? 200 : 204;
    }
    if (!r)
        return MHD_NO;
    if (!status)
        status = 200;
    resp->status = status;
    if (resp->content_type && status != 204)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    MHD_add_response_header(r, "x-openstack-request-id", rs->req.request_id);
    if (req_service(rs) == SVC_COMPUTE)
        MHD_add_response_header(r, "x-compute-request-id", rs->req.request_id);
    for (int i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
    ret = MHD_queue_response(rs->req.mhd, (unsigned) status, r);
    MHD_destroy_response(r);
    /* The handler is done with the store. */
    if (rs->req.db) {
        store_release(rs->req.app->store, rs->req.db);
        rs->req.db = NULL;
    }
    return ret;
}

static void first_call(struct req_state *rs)
{
    struct api_req *req = &rs->req;
    struct st_buf allow = ST_BUF_INIT;
    const char *cl;

    rs->scratch = st_xstrdup(req->path);
    req->route = router_match(rs->router, req->method, rs->scratch, req->params,
                              &req->nparams, &allow);
    if (!req->route) {
        if (allow.len) {
            st_err_set(&rs->early, ST_ERR_METHOD_NOT_ALLOWED,
                       "The method %s is not allowed for %s.", req->method, req->path);
            api_add_header(&rs->resp, "Allow", "%s", allow.buf);
        } else {
            st_err_set(&rs->early, ST_ERR_NOT_FOUND, "The resource could not be found.");
        }
    }
    st_buf_release(&allow);
    if (req->route && req->route->stream) {
        /* Authenticate before reading the body, then let the route take it. */
        rs->streaming = true;
        if (negotiate_version(rs, &rs->early) < 0 ||
            ((req->route->flags & (ROUTE_AUTH | ROUTE_HOST)) &&
             authenticate(rs, &rs->early) < 0) ||
            req->route->stream->begin(req, &rs->early) < 0)
            req->stream_done = true; /* nothing begun, or begin() undid itself */
        return;
    }
    cl = api_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        int64_t n;
        if (st_parse_i64(cl, 0, INT64_MAX, &n) == 0 && (uint64_t) n > req->app->max_body)
            rs->too_large = true;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct api_server *srv = cls;
    struct req_state *rs = *con_cls;
    (void) version;

    if (!rs) {
        rs = req_new(srv->app, srv->router, conn, url, method);
        *con_cls = rs;
        first_call(rs);
        if (rs->too_large) {
            /* Known from Content-Length: answer now, MHD drops the body. */
            dispatch(rs);
            return send_response(rs);
        }
        return MHD_YES;
    }
    if (*upload_data_size && rs->streaming) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!st_err_is_set(&rs->early) &&
            rs->req.route->stream->data(&rs->req, upload_data, n, &rs->early) < 0) {
            rs->req.route->stream->abort(&rs->req);
            rs->req.stream_done = true;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rs->too_large || rs->req.body.len + n > srv->app->max_body) {
            rs->too_large = true;
            rs->discarded += n;
            /* A chunked body far past the limit: stop reading it. */
            return rs->discarded > 64 * srv->app->max_body ? MHD_NO : MHD_YES;
        }
        st_buf_add(&rs->req.body, upload_data, n);
        return MHD_YES;
    }
    dispatch(rs);
    return send_response(rs);
}

void api_handle(struct app *app, const struct router *r, const struct api_call *call,
                struct api_result *res)
{
    struct req_state *rs = req_new(app, r, NULL, call->path, call->method);
    struct api_resp *resp = &rs->resp;

    rs->req.headers = call->headers;
    rs->req.nheaders = call->nheaders;
    rs->req.query = call->query;
    rs->req.nquery = call->nquery;
    base_url(&rs->req);
    first_call(rs);
    if (rs->streaming) {
        if (!st_err_is_set(&rs->early) && call->body_len &&
            rs->req.route->stream->data(&rs->req, call->body, call->body_len, &rs->early) < 0) {
            rs->req.route->stream->abort(&rs->req);
            rs->req.stream_done = true;
        }
    } else if (!rs->too_large) {
        if (call->body_len > app->max_body)
            rs->too_large = true;
        else
            st_buf_add(&rs->req.body, call->body, call->body_len);
    }
    dispatch(rs);

    memset(res, 0, sizeof(*res));
    st_buf_init(&res->body, 0);
    st_buf_init(&res->headers, 0);
    if (resp->json)
        st_json_dump(resp->json, &res->body);
    else
        st_buf_add(&res->body, resp->body.buf, resp->body.len);
    res->status = resp->status ? resp->status : (res->body.len ? 200 : 204);
    if (resp->json)
        res->json = json_incref(resp->json);
    for (int i = 0; i < resp->nheaders; i++)
        st_buf_addf(&res->headers, "%s: %s\n", resp->headers[i].name, resp->headers[i].value);
    api_metrics_request(app->metrics, rs->req.route, rs->req.method, res->status,
                        st_mono_ns() - rs->req.start_ns);
    req_free(rs);
}

void api_result_release(struct api_result *res)
{
    json_decref(res->json);
    st_buf_release(&res->body);
    st_buf_release(&res->headers);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req_state *rs = *con_cls;
    (void) cls;
    (void) conn;
    if (!rs)
        return;
    if (rs->streaming && !rs->req.stream_done && rs->req.route->stream->abort)
        rs->req.route->stream->abort(&rs->req);
    int64_t ns = st_mono_ns() - rs->req.start_ns;
    double ms = (double) ns / 1e6;
    api_metrics_request(rs->req.app->metrics, rs->req.route, rs->req.method, rs->resp.status, ns);
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        log_info("api", "%s %s %d %.2fms %s", rs->req.method, rs->req.path, rs->resp.status, ms,
                 rs->req.request_id);
    else
        log_info("api", "%s %s %d %.2fms %s (connection ended early: %d)", rs->req.method,
                 rs->req.path, rs->resp.status, ms, rs->req.request_id, (int) toe);
    req_free(rs);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;
    (void) cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    log_debug("http", "%s", line);
}

struct api_server *api_server_start(struct app *app, const char *listen, unsigned max_conns,
                                    struct st_err *err)
{
    struct sockaddr_storage ss;
    struct api_server *srv;
    /* Upgrades: the console proxy's WebSockets (api/consoles.c). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_ALLOW_UPGRADE;

    if (st_parse_listen(listen, &ss, err) < 0)
        return NULL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv = st_xcalloc(1, sizeof(*srv));
    srv->app = app;
    srv->router = router_new();
    api_register_routes(srv->router);
    srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                MHD_OPTION_CONNECTION_LIMIT, max_conns,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 120,
                                MHD_OPTION_THREAD_STACK_SIZE, (size_t) (2u << 20),
                                /* Bigger reads for uploads: the pool is mapped
                                 * lazily, so small requests touch no more. */
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (256u << 10),
                                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned) 1,
                                MHD_OPTION_END);
    if (!srv->mhd) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot listen on %s", listen);
        router_free(srv->router);
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : 0;
    return srv;
}

uint16_t api_server_port(const struct api_server *srv)
{
    return srv->port;
}

void api_server_stop(struct api_server *srv)
{
    if (!srv)
        return;
    /* MHD joins every connection's thread: long-polls must answer now. */
    revision_stop_waits();
    MHD_stop_daemon(srv->mhd);
    router_free(srv->router);
    free(srv);
}

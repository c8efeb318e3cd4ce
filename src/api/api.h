/*
 * api.h - what every API handler sees: the application, the request, the
 * response, and the route table entry that picked the handler.
 *
 * A handler is one function per (method, path pattern); it reads the request
 * (path parameters, query, JSON body, caller's auth context, a store
 * connection borrowed for this request), fills the response, and returns 0;
 * or returns -1 with 'err' set, and the server renders the fault in the
 * style of the route's service (api/fault.c).  Handlers never touch
 * libmicrohttpd directly except through api_resp_file() for streamed bodies.
 */
#ifndef ST_API_H
#define ST_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "identity/policy.h"
#include "store/store.h"

struct cfg;
struct identity;
struct MHD_Connection;
struct MHD_Response;

/* The services of ARCHITECTURE §2, for fault styles and request-id headers. */
enum api_service {
    SVC_ROOT,
    SVC_IDENTITY,
    SVC_COMPUTE,
    SVC_IMAGE,
    SVC_NETWORK,
    SVC_VOLUME,
    SVC_INTERNAL,
};

/* Process-wide state shared by all handlers (read-only after start, or
 * internally synchronised). */
struct image_files;
struct compute_conf;
struct api_metrics;

struct app {
    const struct compute_conf *compute;
    struct cfg *cfg;
    const struct image_files *images; /* image data directory and limits */
    struct store *store;
    struct identity *identity;
    const char *data_dir;
    const char *public_url; /* configured base URL, or NULL: from Host */
    size_t max_body;        /* bytes */
    struct api_metrics *metrics; /* request counters (api/metrics.h), or NULL */
    const char *metadata_secret; /* metadata proxies' key (api/metadata.h), or NULL */
};

#define ROUTE_MAX_PARAMS 6

struct api_req;
struct api_resp;
typedef int (*api_handler)(struct api_req *req, struct api_resp *resp, struct st_err *err);

enum route_flags {
    ROUTE_AUTH = 1 << 0,  /* needs a valid X-Auth-Token */
    ROUTE_ADMIN = 1 << 1, /* and the admin role */
    ROUTE_HOST = 1 << 2,  /* an agent: "Authorization: Bearer <host secret>" */
};

/*
 * A streamed request body (image uploads): not held in memory and not bound
 * by the body limit.  begin() runs once the headers are in and the caller is
 * authenticated; data() gets each chunk; then the route's handler runs to
 * finish.  If begin() or data() fails, the rest of the body is discarded and
 * the error is the response.  abort() undoes whatever begin() started when
 * the request fails or the connection is lost; it is not called after the
 * handler returned 0.  Per-request state lives in req->stream.
 */
struct api_stream_ops {
    int (*begin)(struct api_req *req, struct st_err *err);
    int (*data)(struct api_req *req, const char *data, size_t len, struct st_err *err);
    void (*abort)(struct api_req *req);
};

struct route {
    const char *method;  /* "GET", ...; HEAD is served by GET routes too */
    const char *pattern; /* "/identity/v3/projects/{id}" */
    api_handler fn;
    unsigned flags;      /* ROUTE_* */
    enum api_service svc;
    const struct api_stream_ops *stream; /* NULL: body buffered (max_body) */
};

/* A name/value pair, for requests made without HTTP (tests, fuzzing). */
struct api_kv {
    const char *name;
    const char *value;
};

struct api_req {
    struct app *app;
    struct MHD_Connection *mhd;     /* NULL for an in-process request */
    const struct api_kv *headers;   /* in-process: headers and query */
    size_t nheaders;
    const struct api_kv *query;
    size_t nquery;
    const char *method;
    char *path;                 /* decoded, trailing slash removed */
    const struct route *route;
    const char *params[ROUTE_MAX_PARAMS]; /* values of {x}, in pattern order */
    int nparams;
    struct st_buf body;
    json_t *json;               /* the parsed body (api_body_json) */
    bool authed;                /* 'auth' is valid */
    char host_name[256];        /* ROUTE_HOST: the authenticated host */
    struct auth_ctx auth;
    const char *token;          /* X-Auth-Token as sent */
    struct store_conn *db;      /* borrowed for the request, or NULL */
    char request_id[48];
    struct st_buf base_url;     /* scheme://host[:port] for links */
    int64_t start_ns;
    int mv_major, mv_minor;     /* negotiated microversion (compute, volume) */
    void *stream;               /* streamed-body state (api_stream_ops) */
    bool stream_done;           /* the handler finished the stream */
};

struct api_header {
    char *name;
    char *value;
};

#define API_MAX_HEADERS 16

struct api_resp {
    int status;                 /* 0: 200, or 204 when there is no body */
    json_t *json;               /* body as JSON (owned) ... */
    struct st_buf body;         /* ... or as bytes */
    const char *content_type;   /* default application/json */
    struct api_header headers[API_MAX_HEADERS];
    int nheaders;
    struct MHD_Response *raw;   /* a prepared response (streamed file) */
};

/* Request helpers. */
/* The value of path parameter number 'i' ({x} in pattern order). */
const char *api_param(const struct api_req *req, int i);
/* A query-string argument, or NULL. */
const char *api_query(const struct api_req *req, const char *name);
/* Calls 'fn' for every query argument, in order. */
void api_query_each(const struct api_req *req, void (*fn)(void *arg, const char *k,
                                                           const char *v),
                    void *arg);
/* A request header, or NULL. */
const char *api_header(const struct api_req *req, const char *name);
/* Parses the body as a JSON object once; the result is owned by 'req'. */
json_t *api_body_json(struct api_req *req, struct st_err *err);
/* Parses the body as a JSON object or array (JSON-patch). */
json_t *api_body_json_any(struct api_req *req, struct st_err *err);
/* The store connection for this request, acquired on first use. */
struct store_conn *api_db(struct api_req *req, struct st_err *err);
/* Gives the connection back early (before a long streamed body). */
void api_db_release(struct api_req *req);

/* True when the request's microversion is at least major.minor. */
static inline bool api_mv(const struct api_req *req, int major, int minor)
{
    return req->mv_major > major || (req->mv_major == major && req->mv_minor >= minor);
}

/* Response helpers. */
/* Streams 'length' bytes of 'fd' from 'offset' as the body; takes ownership
 * of 'fd' (closed when sent, or on failure).  Returns -1 with 'err' if the
 * response cannot be made. */
int api_resp_file(struct api_resp *resp, int fd, uint64_t offset, uint64_t length,
                  struct st_err *err) __attribute__((warn_unused_result));
/* Takes ownership of 'json' (which may be NULL for no body). */
void api_reply(struct api_resp *resp, int status, json_t *json);
void api_add_header(struct api_resp *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Renders 'err' as the fault body and status of 'svc' into 'resp'. */
void api_fault(struct api_resp *resp, enum api_service svc, const struct st_err *err);
/* The service whose prefix 'path' falls under. */
enum api_service api_service_of(const char *path);

#endif

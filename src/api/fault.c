/*
 * fault.c - the one place an st_err becomes an HTTP status and an error body,
 * in the dialect of each OpenStack service:
 *   identity  {"error": {"code": 404, "title": "Not Found", "message": "..."}}
 *   compute, volume  {"itemNotFound": {"code": 404, "message": "..."}}
 *   network   {"NeutronError": {"type": "...", "message": "...", "detail": ""}}
 *   image     {"code": 404, "title": "Not Found", "message": "..."} (Glance
 *             sends webob's text; clients read "message" from JSON too)
 */
#include "api/api.h"

#include <string.h>

#include "common/util.h"
#include "common/banned.h"

static const char *status_title(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

/* Neutron's exception names for the kinds, when the handler gave none. */
static const char *neutron_type(const struct st_err *err)
{
    if (err->type[0] && strcmp(err->type, "unique") && strcmp(err->type, "foreign_key"))
        return err->type;
    switch (err->kind) {
    case ST_ERR_NOT_FOUND: return "NotFound";
    case ST_ERR_CONFLICT: return "Conflict";
    case ST_ERR_FORBIDDEN: return "PolicyNotAuthorized";
    case ST_ERR_OVER_QUOTA: return "OverQuota";
    case ST_ERR_UNAUTHORIZED: return "Unauthorized";
    case ST_ERR_METHOD_NOT_ALLOWED: return "HTTPMethodNotAllowed";
    case ST_ERR_UNAVAILABLE: return "ServiceUnavailable";
    default: return err->kind == ST_ERR_BAD_REQUEST ? "BadRequest" : "HTTPInternalServerError";
    }
}

enum api_service api_service_of(const char *path)
{
    static const struct {
        const char *prefix;
        enum api_service svc;
    } map[] = {
        {"/identity", SVC_IDENTITY}, {"/compute", SVC_COMPUTE}, {"/image", SVC_IMAGE},
        {"/network", SVC_NETWORK},   {"/volume", SVC_VOLUME},   {"/internal", SVC_INTERNAL},
    };
    for (size_t i = 0; i < ST_ARRAY_SIZE(map); i++) {
        size_t n = strlen(map[i].prefix);
        if (!strncmp(path, map[i].prefix, n) && (path[n] == '/' || path[n] == '\0'))
            return map[i].svc;
    }
    return SVC_ROOT;
}

void api_fault(struct api_resp *resp, enum api_service svc, const struct st_err *err)
{
    int status = st_err_status(err->kind);
    const char *msg = err->msg[0] ? err->msg : status_title(status);
    json_t *body;

    if (status < 400)
        status = 500;
    switch (svc) {
    case SVC_COMPUTE:
        body = json_pack("{s:{s:i, s:s}}", st_err_key(err->kind), "code", status, "message", msg);
        break;
    case SVC_VOLUME:
        /* Cinder's fault names (cinder/api/openstack/wsgi.py Fault). */
        body = json_pack("{s:{s:i, s:s}}",
                         status == 413   ? "overLimit"
                         : status == 405 ? "badMethod"
                         : status == 415 ? "badMediaType"
                         : status >= 500 && status != 501 && status != 503 ? "computeFault"
                                                                            : st_err_key(err->kind),
                         "code", status, "message", msg);
        break;
    case SVC_NETWORK:
        body = json_pack("{s:{s:s, s:s, s:s}}", "NeutronError", "type", neutron_type(err),
                         "message", msg, "detail", "");
        break;
    case SVC_IMAGE:
        body = json_pack("{s:i, s:s, s:s}", "code", status, "title", status_title(status),
                         "message", msg);
        break;
    default:
        body = json_pack("{s:{s:i, s:s, s:s}}", "error", "code", status, "title",
                         status_title(status), "message", msg);
        break;
    }
    if (!body) /* cannot happen with a UTF-8 message; never send no body */
        body = json_pack("{s:{s:i, s:s}}", "error", "code", status, "message",
                         status_title(status));
    if (resp->json)
        json_decref(resp->json);
    st_buf_reset(&resp->body);
    resp->json = body;
    resp->status = status;
    resp->content_type = "application/json";
}

/*
 * metrics_http.c - GET /metrics on a libmicrohttpd listener of its own (see
 * metrics_http.h).
 */
#include "common/metrics_http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/metrics.h"
#include "common/util.h"
#include "common/banned.h"

#define MX_HTTP_MAX_CONNS 8
#define MX_HTTP_TIMEOUT_S 10

struct mx_http {
    struct MHD_Daemon *mhd;
    mx_http_render_fn render;
    void *opaque;
    uint16_t port;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct mx_http *h = cls;
    static int first_call_mark;
    struct st_buf b = ST_BUF_INIT;
    size_t len;
    char *data;
    (void) version;
    (void) upload_data;

    if (!*con_cls) {
        /* Headers only so far: answer once the (ignored) body is in. */
        *con_cls = &first_call_mark;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* a body is never wanted: drop it */
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0) {
        st_buf_adds(&b, "404 Not Found: only /metrics is served here\n");
        data = st_buf_detach(&b, &len);
        return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", data, len, NULL);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        st_buf_addf(&b, "405 Method Not Allowed: %s /metrics; use GET\n",
                    strlen(method) <= 32 ? method : "this method");
        data = st_buf_detach(&b, &len);
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", data, len,
                     "GET, HEAD");
    }
    h->render(h->opaque, &b);
    data = st_buf_detach(&b, &len);
    return reply(conn, MHD_HTTP_OK, MX_CONTENT_TYPE, data, len, NULL);
}

static void quiet_log(void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    (void) fmt;
    (void) ap; /* bind failures come back through mx_http_start's error */
}

struct mx_http *mx_http_start(const char *listen, mx_http_render_fn render, void *opaque,
                              struct st_err *err)
{
    struct sockaddr_storage ss;
    struct mx_http *h;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    const union MHD_DaemonInfo *info;

    if (st_parse_listen(listen, &ss, err) < 0)
        return NULL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h = st_xcalloc(1, sizeof(*h));
    h->render = render;
    h->opaque = opaque;
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: with SO_REUSEPORT a second
     * daemon could bind the same port and take half the scrapes. */
    h->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) MX_HTTP_MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned) MX_HTTP_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER, quiet_log, NULL, MHD_OPTION_END);
    if (!h->mhd) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot listen for metrics on %s", listen);
        free(h);
        return NULL;
    }
    info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    return h;
}

uint16_t mx_http_port(const struct mx_http *h)
{
    return h ? h->port : 0;
}

void mx_http_stop(struct mx_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->mhd);
    free(h);
}

/*
 * metrics_http.h - the listener that serves GET /metrics (Prometheus text
 * format 0.0.4), shared by stratusd and stratus-agent.
 *
 * It is a libmicrohttpd daemon of its own, apart from any API listener, so
 * that the figures are reachable only where the operator binds it
 * (loopback or a management address): it has no authentication.  One
 * internal polling thread serves every scrape in turn, with a small
 * connection limit and a short timeout; a scrape is rare and cheap, and a
 * slow scraper cannot hold more than a few sockets.  Only GET (and HEAD)
 * of /metrics is served; any other path is 404, any other method on
 * /metrics is 405 with "Allow: GET, HEAD".
 */
#ifndef ST_METRICS_HTTP_H
#define ST_METRICS_HTTP_H

#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* Appends the exposition text to 'out'; called from the listener's thread,
 * one scrape at a time. */
typedef void (*mx_http_render_fn)(void *opaque, struct st_buf *out);

struct mx_http;

/* Starts serving on 'listen' ("ADDR:PORT", "[V6]:PORT"; port 0 picks a
 * free one).  'render' and 'opaque' must outlive the listener.  Returns a
 * new listener or NULL with 'err' (BAD_REQUEST for a bad address, INTERNAL
 * when it cannot bind). */
struct mx_http *mx_http_start(const char *listen, mx_http_render_fn render, void *opaque,
                              struct st_err *err);
/* The port actually bound. */
uint16_t mx_http_port(const struct mx_http *h);
/* Stops the listener (waits for a scrape under way); NULL allowed. */
void mx_http_stop(struct mx_http *h);

#endif

/*
 * metrics.h (api) - stratusd's own figures for Prometheus: requests by
 * route pattern and status, their latency, the time spent in the store,
 * hosts up and servers by status.
 *
 * Requests are counted on the request path (a lock-free lookup and two
 * atomic adds, common/metrics.h), labelled by the route table's pattern,
 * never the raw path, so the number of series is bounded by the table.
 * The rest is read at scrape time: the store's time counters, and one
 * read-only query each for hosts and servers.
 *
 * They are served on a listener of their own ([metrics] listen,
 * common/metrics_http.h), never on the API listener, so tenants do not
 * see them.
 */
#ifndef ST_API_METRICS_H
#define ST_API_METRICS_H

#include <stdint.h>

#include "api/api.h"
#include "common/buf.h"

struct api_metrics;

struct api_metrics *api_metrics_new(void);
/* After the listeners have stopped; NULL allowed. */
void api_metrics_free(struct api_metrics *m);

/* Counts one answered request: 'route' as matched (NULL: none matched),
 * the request's 'method', the response 'status', 'ns' from the request's
 * first byte to the end of its response.  Thread-safe; 'm' may be NULL. */
void api_metrics_request(struct api_metrics *m, const struct route *route, const char *method,
                         int status, int64_t ns);

/* Appends every figure in the text format to 'out'.  'app' gives the
 * store for the scrape-time figures. */
void api_metrics_render(struct api_metrics *m, struct app *app, struct st_buf *out);

/* An mx_http_render_fn over 'app' (a struct app * whose 'metrics' is set). */
void api_metrics_scrape(void *app, struct st_buf *out);

#endif

/*
 * metrics.c (api) - stratusd's figures (see metrics.h).
 */
#include "api/metrics.h"

#include <string.h>

#include "common/metrics.h"
#include "common/util.h"
#include "compute/host.h"
#include "compute/stats.h"
#include "store/store.h"
#include "common/banned.h"

#define NS_PER_S 1e9

struct api_metrics {
    struct mx_registry *reg;
    struct mx_family *requests; /* {method, route, code} */
    struct mx_family *latency;  /* {method, route} */
};

/* Latency buckets, in nanoseconds: 1 ms to 30 s (a long-poll of the agent
 * protocol lasts up to 30 s, an image upload longer). */
static const int64_t latency_bounds[] = {
    1000000,   2500000,   5000000,    10000000,   25000000,   50000000,    100000000,
    250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000, 30000000000,
};

struct api_metrics *api_metrics_new(void)
{
    static const char *const req_labels[] = {"method", "route", "code"};
    static const char *const lat_labels[] = {"method", "route"};
    struct api_metrics *m = st_xcalloc(1, sizeof(*m));
    m->reg = mx_registry_new();
    /* Room for every route with several statuses; past it, figures of new
     * combinations are dropped rather than memory grown. */
    m->requests = mx_family_new(m->reg, MX_COUNTER, "stratus_http_requests_total",
                                "API requests answered, by method, route pattern and status.", 3,
                                req_labels, 1, NULL, 0, 4096);
    m->latency =
        mx_family_new(m->reg, MX_HISTOGRAM, "stratus_http_request_duration_seconds",
                      "Time from a request's arrival to the end of its response, by "
                      "method and route pattern.",
                      2, lat_labels, NS_PER_S, latency_bounds, ST_ARRAY_SIZE(latency_bounds), 1024);
    return m;
}

void api_metrics_free(struct api_metrics *m)
{
    if (!m)
        return;
    mx_registry_free(m->reg);
    free(m);
}

/* The method as a label: a client may send any token, so only the ones
 * HTTP defines are kept as they are. */
static const char *method_label(const char *method)
{
    static const char *const known[] = {"GET",   "HEAD",   "POST",    "PUT",
                                        "PATCH", "DELETE", "OPTIONS", "TRACE"};
    for (size_t i = 0; i < ST_ARRAY_SIZE(known); i++)
        if (st_streq(method, known[i]))
            return known[i];
    return "OTHER";
}

void api_metrics_request(struct api_metrics *m, const struct route *route, const char *method,
                         int status, int64_t ns)
{
    char code[8];
    const char *route_label = route ? route->pattern : "(unmatched)";
    const char *ml = method_label(method);

    if (!m || status < 100 || status > 999)
        return;
    snprintf(code, sizeof(code), "%d", status);
    mx_add(mx_series(m->requests, (const char *const[]){ml, route_label, code}), 1);
    mx_observe(mx_series(m->latency, (const char *const[]){ml, route_label}), ns < 0 ? 0 : ns);
}

/* Hosts up and servers by status, from the store; false when it failed. */
static bool render_store(struct app *app, struct st_buf *out)
{
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = store_acquire(app->store, &err);
    json_t *hosts = NULL, *counts = NULL, *h, *v;
    const char *status;
    uint64_t up = 0;
    size_t i;
    bool ok = false;

    if (!c)
        return false;
    hosts = host_list(c, app->compute, &err);
    if (hosts)
        counts = server_status_counts(c, &err);
    store_release(app->store, c);
    if (!hosts || !counts)
        goto out;
    json_array_foreach(hosts, i, h) up += json_is_true(json_object_get(h, "up"));
    mx_text_family(out, "stratus_hosts", MX_GAUGE, "Compute hosts registered.");
    mx_text_sample_u64(out, "stratus_hosts", 0, NULL, json_array_size(hosts));
    mx_text_family(out, "stratus_hosts_up", MX_GAUGE,
                   "Compute hosts whose agent reported within [compute] service_down_time.");
    mx_text_sample_u64(out, "stratus_hosts_up", 0, NULL, up);
    mx_text_family(out, "stratus_servers", MX_GAUGE, "Servers by Nova status.");
    json_object_foreach(counts, status, v)
    {
        const char *kv[] = {"status", status};
        mx_text_sample_u64(out, "stratus_servers", 1, kv, (uint64_t) json_integer_value(v));
    }
    ok = true;
out:
    json_decref(hosts);
    json_decref(counts);
    return ok;
}

void api_metrics_render(struct api_metrics *m, struct app *app, struct st_buf *out)
{
    uint64_t ns, stmts;
    bool store_ok;

    mx_render(m->reg, out);
    store_ok = render_store(app, out);
    store_time(&ns, &stmts);
    mx_text_family(out, "stratus_db_seconds_total", MX_COUNTER,
                   "Time spent running SQL (prepare, step, begin, commit) by this process.");
    mx_text_sample(out, "stratus_db_seconds_total", 0, NULL, (double) ns / NS_PER_S);
    mx_text_family(out, "stratus_db_statements_total", MX_COUNTER,
                   "SQL statements run by this process.");
    mx_text_sample_u64(out, "stratus_db_statements_total", 0, NULL, stmts);
    mx_text_family(out, "stratus_store_up", MX_GAUGE,
                   "1 when this scrape could read hosts and servers from the store.");
    mx_text_sample_u64(out, "stratus_store_up", 0, NULL, store_ok ? 1 : 0);
}

void api_metrics_scrape(void *opaque, struct st_buf *out)
{
    struct app *app = opaque;
    api_metrics_render(app->metrics, app, out);
}

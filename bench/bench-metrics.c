/*
 * bench-metrics.c - what counting costs on the request path: the lookup of
 * a request's series by route pattern and status and its counter and
 * histogram updates (src/common/metrics.c), in one thread and in several
 * at once on the same series, and the time to render a registry of a few
 * thousand series (a scrape).  Prints figures; never fails on time.
 *
 * Usage: bench-metrics [ROUNDS]   (default 2,000,000 per thread)
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "common/util.h"
#include "common/banned.h"

#define ROUTES 200
#define CODES 4

static const int64_t bounds[] = {1000000,    2500000,    5000000,     10000000,   25000000,
                                 50000000,   100000000,  250000000,   500000000,  1000000000,
                                 2500000000, 5000000000, 10000000000, 30000000000};
static const char *const codes[CODES] = {"200", "202", "404", "409"};

struct run {
    struct mx_family *req, *lat;
    char routes[ROUTES][64];
    long rounds;
    int seed;
};

static void *work(void *arg)
{
    struct run *r = arg;
    unsigned x = (unsigned) r->seed * 2654435761u + 1;
    for (long i = 0; i < r->rounds; i++) {
        const char *route, *code;
        x = x * 1103515245u + 12345u;
        route = r->routes[(x >> 8) % ROUTES];
        code = codes[(x >> 4) % CODES];
        mx_add(mx_series(r->req, (const char *const[]){"GET", route, code}), 1);
        mx_observe(mx_series(r->lat, (const char *const[]){"GET", route}),
                   (int64_t) (x % 50000000));
    }
    return NULL;
}

static double run_threads(struct run *r, int n)
{
    pthread_t t[8];
    struct run runs[8];
    int64_t t0 = st_mono_ns();
    for (int i = 0; i < n; i++) {
        runs[i] = *r;
        runs[i].seed = i + 1;
        pthread_create(&t[i], NULL, work, &runs[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return (double) (st_mono_ns() - t0) / ((double) r->rounds * n);
}

int main(int argc, char **argv)
{
    static const char *const req_labels[] = {"method", "route", "code"};
    static const char *const lat_labels[] = {"method", "route"};
    struct mx_registry *reg = mx_registry_new();
    struct run *r = calloc(1, sizeof(*r));
    struct st_buf b = ST_BUF_INIT;
    int64_t t0;

    r->rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
    for (int i = 0; i < ROUTES; i++)
        snprintf(r->routes[i], sizeof(r->routes[i]), "/compute/v2.1/servers/{id}/thing%d", i);
    r->req = mx_family_new(reg, MX_COUNTER, "req_total", "r", 3, req_labels, 1, NULL, 0, 4096);
    r->lat = mx_family_new(reg, MX_HISTOGRAM, "lat_seconds", "l", 2, lat_labels, 1e9, bounds,
                           sizeof(bounds) / sizeof(bounds[0]), 1024);
    printf("request-path update (lookup + counter + histogram), %d routes x %d codes:\n", ROUTES,
           CODES);
    printf("  first use (series created): %.1f ns per request\n", run_threads(r, 1));
    printf("  1 thread:  %.1f ns per request\n", run_threads(r, 1));
    printf("  2 threads: %.1f ns of wall time per request (the same series, contended)\n",
           run_threads(r, 2));
    printf("  4 threads: %.1f ns of wall time per request\n", run_threads(r, 4));
    t0 = st_mono_ns();
    mx_render(reg, &b);
    printf("render (a scrape) of %d counters and %d histograms: %.2f ms, %zu bytes\n",
           ROUTES * CODES, ROUTES, (double) (st_mono_ns() - t0) / 1e6, b.len);
    st_buf_release(&b);
    mx_registry_free(reg);
    free(r);
    return 0;
}

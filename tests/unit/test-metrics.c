/* test-metrics.c - the metrics registry and the Prometheus text format
 * (src/common/metrics.c): rendering against golden files, label and HELP
 * escaping, number formatting, the bound on series, and exact totals when
 * several threads update the same series. */
#include "testutil.h"

#include <pthread.h>

#include "common/metrics.h"
#include "golden.h"
#include "common/banned.h"

#define NS 1000000000.0

/* A registry with every kind of family, and values that exercise the
 * formatting: escaping, negative gauges, seconds from nanoseconds,
 * histogram buckets including the edges. */
static struct mx_registry *sample_registry(void)
{
    static const char *const req_labels[] = {"method", "route", "code"};
    static const char *const route_label[] = {"route"};
    static const int64_t bounds[] = {5000000, 25000000, 100000000, 1000000000};
    struct mx_registry *r = mx_registry_new();
    struct mx_family *req, *lat, *temp, *db, *up;

    req = mx_family_new(r, MX_COUNTER, "stratus_http_requests_total",
                        "Requests answered, by route pattern and status.", 3, req_labels, 1, NULL,
                        0, 16);
    mx_add(mx_series(req, (const char *const[]){"GET", "/compute/v2.1/servers/{id}", "200"}), 3);
    mx_add(mx_series(req, (const char *const[]){"GET", "/compute/v2.1/servers/{id}", "404"}), 1);
    mx_add(mx_series(req, (const char *const[]){"POST", "/identity/v3/auth/tokens", "201"}), 2);
    /* The same series again: one line, summed. */
    mx_add(mx_series(req, (const char *const[]){"GET", "/compute/v2.1/servers/{id}", "200"}), 4);
    /* Label values with every character the format escapes. */
    mx_add(mx_series(req, (const char *const[]){"GET", "a\"b\\c\nd", "500"}), 1);

    lat = mx_family_new(r, MX_HISTOGRAM, "stratus_http_request_duration_seconds",
                        "Time from the request's first byte to its response.", 1, route_label, NS,
                        bounds, 4, 16);
    struct mx_series *s = mx_series(lat, (const char *const[]){"/identity/v3"});
    mx_observe(s, 1000000);    /* 1 ms: first bucket */
    mx_observe(s, 5000000);    /* 5 ms: on the edge, still the first (le) */
    mx_observe(s, 5000001);    /* just past it */
    mx_observe(s, 2000000000); /* 2 s: only +Inf */
    mx_series(lat, (const char *const[]){"/image/v2"}); /* no observations */

    temp = mx_family_new(r, MX_GAUGE, "stratus_test_offset",
                         "A gauge that goes below zero.\nSecond line, with a \\.", 0, NULL, 1, NULL,
                         0, 1);
    mx_set(mx_series(temp, NULL), 5);
    mx_sub(mx_series(temp, NULL), 12);

    db = mx_family_new(r, MX_COUNTER, "stratus_db_seconds_total", "Time spent in SQL.", 0, NULL, NS,
                       NULL, 0, 1);
    mx_add(mx_series(db, NULL), 1500000000); /* 1.5 s */
    mx_add(mx_series(db, NULL), 1);          /* and a nanosecond */

    up = mx_family_new(r, MX_GAUGE, "stratus_hosts_up", "Hosts that heartbeat.", 0, NULL, 1, NULL,
                       0, 1);
    (void) up; /* stays 0 */
    return r;
}

static void t01_render_golden(void **state)
{
    struct mx_registry *r = sample_registry();
    struct st_buf b = ST_BUF_INIT;
    char *path = tu_data_path("metrics", "registry", "prom");
    (void) state;
    mx_render(r, &b);
    tu_golden(path, b.buf, "test-metrics");
    free(path);
    st_buf_release(&b);
    mx_registry_free(r);
}

static void t02_writer_numbers(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    const char *kv[] = {"instance", "5b3c", "device", "vda"};
    (void) state;
    mx_text_family(&b, "x", MX_GAUGE, "h");
    mx_text_sample(&b, "x", 0, NULL, 0.1);
    mx_text_sample(&b, "x", 0, NULL, 1e-9);
    mx_text_sample(&b, "x", 0, NULL, 123456789.0);
    mx_text_sample(&b, "x", 0, NULL, -2.5);
    mx_text_sample(&b, "x", 0, NULL, 1.0 / 0.0);
    mx_text_sample(&b, "x", 0, NULL, -1.0 / 0.0);
    mx_text_sample(&b, "x", 0, NULL, 0.0 / 0.0);
    mx_text_sample(&b, "x", 0, NULL, 1e300);
    mx_text_sample_u64(&b, "x", 2, kv, UINT64_MAX);
    assert_string_equal(b.buf, "# HELP x h\n"
                               "# TYPE x gauge\n"
                               "x 0.1\n"
                               "x 1e-09\n"
                               "x 123456789\n"
                               "x -2.5\n"
                               "x +Inf\n"
                               "x -Inf\n"
                               "x NaN\n"
                               "x 1e+300\n"
                               "x{instance=\"5b3c\",device=\"vda\"} 18446744073709551615\n");
    st_buf_release(&b);
}

static void t03_series_are_bounded(void **state)
{
    static const char *const labels[] = {"path"};
    struct mx_registry *r = mx_registry_new();
    struct mx_family *f = mx_family_new(r, MX_COUNTER, "c_total", "c", 1, labels, 1, NULL, 0, 3);
    struct st_buf b = ST_BUF_INIT;
    char v[16];
    (void) state;
    for (int i = 0; i < 10; i++) {
        snprintf(v, sizeof(v), "/p%d", i);
        mx_add(mx_series(f, (const char *const[]){v}), 1); /* NULL past 3: ignored */
    }
    assert_non_null(mx_series(f, (const char *const[]){"/p0"})); /* existing ones still found */
    assert_null(mx_series(f, (const char *const[]){"/p9"}));
    assert_null(mx_series(NULL, NULL));
    mx_add(NULL, 1);
    mx_observe(NULL, 1);
    mx_render(r, &b);
    assert_string_equal(b.buf, "# HELP c_total c\n"
                               "# TYPE c_total counter\n"
                               "c_total{path=\"/p0\"} 1\n"
                               "c_total{path=\"/p1\"} 1\n"
                               "c_total{path=\"/p2\"} 1\n");
    st_buf_release(&b);
    mx_registry_free(r);
}

#define THREADS 4
#define ROUNDS 20000

struct worker {
    struct mx_family *counter, *hist;
    int n;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    char route[16];
    for (int i = 0; i < ROUNDS; i++) {
        /* A few series created concurrently, the same ones by every thread. */
        snprintf(route, sizeof(route), "/r%d", i % 7);
        mx_add(mx_series(w->counter, (const char *const[]){route}), 1);
        mx_observe(mx_series(w->hist, NULL), (int64_t) (i % 3) * 10);
    }
    return NULL;
}

static void t04_threads_lose_nothing(void **state)
{
    static const char *const labels[] = {"route"};
    static const int64_t bounds[] = {5, 15};
    struct mx_registry *r = mx_registry_new();
    struct worker w = {
        .counter = mx_family_new(r, MX_COUNTER, "n_total", "n", 1, labels, 1, NULL, 0, 64),
        .hist = mx_family_new(r, MX_HISTOGRAM, "h", "h", 0, NULL, 1, bounds, 2, 1),
    };
    pthread_t t[THREADS];
    struct st_buf b = ST_BUF_INIT, want = ST_BUF_INIT;
    (void) state;
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, work, &w), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    mx_render(r, &b);
    /* Each of 0, 10, 20 is observed ROUNDS/3 (+1 for the first ones) times
     * per thread; buckets are cumulative and +Inf equals the count. */
    {
        uint64_t n0 = 0, n10 = 0, n20 = 0;
        for (int i = 0; i < ROUNDS; i++)
            *(i % 3 == 0 ? &n0 : i % 3 == 1 ? &n10 : &n20) += 1;
        st_buf_addf(&want,
                    "# HELP h h\n# TYPE h histogram\n"
                    "h_bucket{le=\"5\"} %llu\nh_bucket{le=\"15\"} %llu\n"
                    "h_bucket{le=\"+Inf\"} %llu\nh_sum %llu\nh_count %llu\n",
                    (unsigned long long) (n0 * THREADS),
                    (unsigned long long) ((n0 + n10) * THREADS),
                    (unsigned long long) ((n0 + n10 + n20) * THREADS),
                    (unsigned long long) ((n10 * 10 + n20 * 20) * THREADS),
                    (unsigned long long) ((n0 + n10 + n20) * THREADS));
    }
    assert_non_null(strstr(b.buf, want.buf));
    for (int k = 0; k < 7; k++) {
        char line[64];
        uint64_t per = 0;
        for (int i = 0; i < ROUNDS; i++)
            per += i % 7 == k;
        snprintf(line, sizeof(line), "n_total{route=\"/r%d\"} %llu\n", k,
                 (unsigned long long) (per * THREADS));
        assert_non_null(strstr(b.buf, line));
    }
    st_buf_release(&b);
    st_buf_release(&want);
    mx_registry_free(r);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_render_golden),
        cmocka_unit_test(t02_writer_numbers),
        cmocka_unit_test(t03_series_are_bounded),
        cmocka_unit_test(t04_threads_lose_nothing),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("metrics", tests, known_bugs);
}

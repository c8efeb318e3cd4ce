/* test-stats.c - the guests' figures the agents report (src/compute/
 * stats.c) and the hypervisor figures Nova shows (host_list in
 * src/compute/host.c): what a report stores and what it refuses, the
 * diagnostics read, Nova's counting of used memory and workload, and the
 * store's SQL time counter. */
#include "testutil.h"

#include "common/json.h"
#include "common/util.h"
#include "compute/host.h"
#include "compute/ports.h"
#include "compute/server.h"
#include "compute/stats.h"
#include "network/network.h"
#include "store/store.h"
#include "common/banned.h"

#define S1 "11111111-1111-4111-8111-111111111111"
#define S2 "22222222-2222-4222-8222-222222222222"
#define S3 "33333333-3333-4333-8333-333333333333"

static const struct compute_conf conf = {16.0, 1.5, 1.0, 512, 60, 10, 20, 51200, 60, "nova"};

struct fx {
    char *dir;
    struct store *st;
    struct store_conn *c;
};

static void host_up(struct fx *f, const char *name)
{
    struct st_buf secret = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    json_t *info = json_pack("{s:i, s:i, s:i, s:{}}", "vcpus", 4, "memory_mb", 8192, "local_gb",
                             100, "cpu_info");
    json_t *r;
    if (host_add(f->c, name, &secret, &err) < 0)
        fail_msg("host_add: %s", err.msg);
    r = host_register(f->c, NULL, name, info, &err);
    if (!r)
        fail_msg("host_register: %s", err.msg);
    json_decref(r);
    json_decref(info);
    st_buf_release(&secret);
}

static void server_on(struct fx *f, const char *id, const char *host, const char *vm,
                      const char *task)
{
    struct st_err err = ST_ERR_INIT;
    if (store_exec(f->c, &err,
                   "INSERT INTO servers (id, name, hostname, project_id, user_id, host, flavor,"
                   " vcpus, memory_mb, disk_gb, vm_state, task_state, created_at, updated_at)"
                   " VALUES (?, 'vm', 'vm', 'p', 'u', ?, '{}', 2, 256, 1, ?, ?, 1, 1)",
                   STORE_ARGS(P(id), P(host), P(vm), P(task))) < 0)
        fail_msg("insert: %s", err.msg);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct st_err err = ST_ERR_INIT;
    char db[4200];
    /* Reports go through the network too, as in stratusd. */
    compute_ports_register(&net_compute_ports);
    f->dir = tu_mkdtemp();
    snprintf(db, sizeof(db), "%s/stratus.db", f->dir);
    f->st = store_open(db, 2, &err);
    if (!f->st || store_migrate(f->st, &err) < 0 || !(f->c = store_acquire(f->st, &err)))
        fail_msg("store: %s", err.msg);
    host_up(f, "host1");
    host_up(f, "host2");
    server_on(f, S1, "host1", "active", NULL);
    server_on(f, S2, "host2", "active", NULL);
    server_on(f, S3, "host1", "active", "rebooting");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_release(f->st, f->c);
    store_close(f->st);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void report(struct fx *f, const char *host, const char *text)
{
    struct st_err err = ST_ERR_INIT;
    json_t *in = json_loads(text, 0, NULL), *out;
    assert_non_null(in);
    out = host_report(f->c, &conf, host, in, &err);
    if (!out)
        fail_msg("host_report: %s", err.msg);
    json_decref(out);
    json_decref(in);
}

/* The stored figures of 'id' as compact JSON with sorted keys, or "". */
static char *stored(struct fx *f, const char *id)
{
    struct st_err err = ST_ERR_INIT;
    json_t *j = NULL;
    int64_t at = 0;
    char vt[16];
    char *s;
    int rc = server_stats_get(f->c, id, &j, &at, vt, sizeof(vt), &err);
    assert_true(rc >= 0);
    if (rc == 0)
        return st_xstrdup("");
    assert_true(at > 0);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static void t01_report_keeps_checked_figures(void **state)
{
    struct fx *f = *state;
    char *s;
    report(f, "host1",
           "{\"revision\": 1, \"servers\": [], \"tasks\": [], \"stats\": ["
           " {\"id\": \"" S1 "\", \"cpu_time\": 5000, \"vcpus\": [3000, -1, \"x\"],"
           "  \"memory\": {\"maximum\": 262144, \"current\": 262144, \"rss\": -5, \"extra\": 1},"
           "  \"disks\": [{\"name\": \"vda\", \"read_bytes\": 10, \"write_bytes\": 1.5},"
           "              {\"read_bytes\": 1}],"
           "  \"nics\": [{\"name\": \"tapabc\", \"mac_address\": \"fa:16:3e:00:00:01\","
           "             \"rx_bytes\": 7, \"tx_bytes\": 8}],"
           "  \"unknown\": \"dropped\"},"
           " {\"id\": \"" S2 "\", \"cpu_time\": 1},"
           " {\"id\": \"not-a-uuid\", \"cpu_time\": 1},"
           " 17]}");
    s = stored(f, S1);
    /* Negative, fractional and mistyped figures, nameless disks and
     * unknown keys are left out; -1 vCPU times become null. */
    assert_string_equal(s, "{\"cpu_time\":5000,\"disks\":[{\"name\":\"vda\",\"read_bytes\":10}],"
                           "\"memory\":{\"current\":262144,\"maximum\":262144},"
                           "\"nics\":[{\"mac_address\":\"fa:16:3e:00:00:01\",\"name\":\"tapabc\","
                           "\"rx_bytes\":7,\"tx_bytes\":8}],\"vcpus\":[3000,null,null]}");
    free(s);
    /* host1 may not report for a server of host2. */
    s = stored(f, S2);
    assert_string_equal(s, "");
    free(s);
    /* A later report replaces the figures. */
    report(f, "host1", "{\"revision\": 1, \"stats\": [{\"id\": \"" S1 "\", \"cpu_time\": 9000}]}");
    s = stored(f, S1);
    assert_string_equal(s,
                        "{\"cpu_time\":9000,\"disks\":[],\"memory\":{},\"nics\":[],"
                        "\"vcpus\":[]}");
    free(s);
}

static void t02_report_limits(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct st_buf b = ST_BUF_INIT;
    json_t *in, *j = NULL;
    int64_t at;
    char vt[16];

    /* More devices than kept: the first STATS_MAX_DEVICES only. */
    st_buf_addf(&b, "{\"stats\": [{\"id\": \"%s\", \"disks\": [", S1);
    for (int i = 0; i < 100; i++)
        st_buf_addf(&b, "%s{\"name\": \"vd%d\", \"read_bytes\": %d}", i ? "," : "", i, i);
    st_buf_adds(&b, "]}]}");
    report(f, "host1", b.buf);
    assert_int_equal(server_stats_get(f->c, S1, &j, &at, vt, sizeof(vt), &err), 1);
    assert_int_equal(json_array_size(json_object_get(j, "disks")), STATS_MAX_DEVICES);
    json_decref(j);
    st_buf_release(&b);
    /* "stats" must be an array. */
    in = json_pack("{s:s}", "stats", "no");
    assert_null(host_report(f->c, &conf, "host1", in, &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    json_decref(in);
}

static void t03_hypervisor_figures(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    json_t *all, *h1 = NULL, *h;
    size_t i;

    all = host_list(f->c, &conf, &err);
    assert_non_null(all);
    json_array_foreach(
        all, i, h) if (st_streq(json_string_value(json_object_get(h, "name")), "host1")) h1 = h;
    assert_non_null(h1);
    /* Two servers of 256 MiB, plus the reserved 512 as Nova counts it. */
    assert_int_equal(json_integer_value(json_object_get(h1, "memory_mb_used")), 1024);
    assert_int_equal(json_integer_value(json_object_get(h1, "vcpus_used")), 4);
    assert_int_equal(json_integer_value(json_object_get(h1, "running_vms")), 2);
    /* One of them has a task under way. */
    assert_int_equal(json_integer_value(json_object_get(h1, "current_workload")), 1);
    /* Before any measurement: the claims' view (100 GB less 2 used). */
    assert_int_equal(json_integer_value(json_object_get(h1, "disk_available_least")), 98);
    json_decref(all);

    report(f, "host1", "{\"capacity\": {\"disk_available_least\": -3}}");
    all = host_list(f->c, &conf, &err);
    json_array_foreach(
        all, i, h) if (st_streq(json_string_value(json_object_get(h, "name")), "host1")) h1 = h;
    /* Overcommitted disks may make it negative, as in Nova. */
    assert_int_equal(json_integer_value(json_object_get(h1, "disk_available_least")), -3);
    json_decref(all);
}

static void t04_counts_and_cascade(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    json_t *counts = server_status_counts(f->c, &err);
    char *s;
    assert_non_null(counts);
    s = json_dumps(counts, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"ACTIVE\":2,\"REBOOT\":1}");
    free(s);
    json_decref(counts);

    report(f, "host1", "{\"stats\": [{\"id\": \"" S1 "\", \"cpu_time\": 1}]}");
    assert_true(store_exec(f->c, &err, "DELETE FROM servers WHERE id = ?", STORE_ARGS(P(S1))) >= 0);
    s = stored(f, S1);
    assert_string_equal(s, ""); /* gone with its server */
    free(s);
}

static void t05_store_time_grows(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    uint64_t ns0, n0, ns1, n1;
    int64_t v = 0;
    store_time(&ns0, &n0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(
            store_get_int(f->c, &err, &v, "SELECT COUNT(*) FROM servers", STORE_NOARGS), 1);
    store_time(&ns1, &n1);
    assert_int_equal(n1 - n0, 10);
    assert_true(ns1 > ns0);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t01_report_keeps_checked_figures, setup, teardown),
        cmocka_unit_test_setup_teardown(t02_report_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(t03_hypervisor_figures, setup, teardown),
        cmocka_unit_test_setup_teardown(t04_counts_and_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(t05_store_time_grows, setup, teardown),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("stats", tests, known_bugs);
}

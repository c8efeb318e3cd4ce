/*
 * main.c - stratus-agent, the host agent: one per hypervisor host, as root.
 *
 * It registers the host with the controller, then loops: long-poll the
 * desired state of the host (docs/agent-protocol.md), reconcile
 * (reconcile.c), report.  A pass also runs when a libvirt lifecycle event
 * arrives (the long-poll is cut short), when a clean shutdown's deadline
 * or an error's retry comes, and at least every report_interval seconds
 * (the report is the heartbeat).  When the controller cannot be reached it
 * retries with a growing back-off; a 404 (the controller forgot the host)
 * registers again.
 *
 * Threads: main (the loop, the only one that changes anything), the
 * libvirt event loop (virt.c; it only wakes main), the signal thread
 * (sigwait: SIGTERM/SIGINT stop, SIGHUP reopens the log) and the heartbeat
 * thread, which, while a pass is busy for longer than report_interval (an
 * image download, a long qemu-img), repeats the last report with the
 * servers being built marked "building", so the host does not look down.
 * With --metrics-listen, a libmicrohttpd thread serves GET /metrics.
 *
 * Metrics.  Pass counts, durations and faults are counted by main after
 * each pass (atomics, common/metrics.h).  The guests' figures are read
 * at scrape time, in the listener's thread, over a libvirt connection of
 * its own: a sample then carries the time it was taken, as Prometheus
 * assumes (a snapshot cached at each pass would make rates step every
 * report_interval and could be minutes old during a long pass), a scrape
 * never waits for a pass nor touches main's connection, and the cost, one
 * virConnectGetAllDomainStats call, is paid only when someone scrapes.
 * Each report also carries the figures of the pass (for the diagnostics
 * API, compute/stats.h on the controller) and the host's free disk.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent/client.h"
#include "agent/console.h"
#include "agent/model.h"
#include "agent/net.h"
#include "agent/options.h"
#include "agent/reconcile.h"
#include "agent/volume.h"
#include "agent/virt.h"
#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/util.h"
#include "common/banned.h"

#ifdef ST_VERSION
#define AGENT_VERSION ST_VERSION
#else
#define AGENT_VERSION "0.0.0"
#endif
#define MOD "main"
#define NS_PER_S INT64_C(1000000000)
#define LONG_POLL_MAX_S 30
#define BACKOFF_MAX_S 60

static atomic_int stopping;
static int wake_fd = -1;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: stratus-agent --data-dir DIR --controller URL [--config FILE] [--host NAME]\n"
            "                     [--credential FILE] [--log-level LEVEL] [--log-file FILE]\n"
            "                     [--pidfile FILE] [--metrics-listen ADDR:PORT] [--once]\n"
            "\n"
            "The stratus host agent: registers this hypervisor host with the controller and\n"
            "keeps its libvirt domains, disks and seeds as the controller's desired state\n"
            "says. Runs as root, one per host.\n"
            "\n"
            "  --data-dir DIR     agent data directory (default /var/lib/stratus); on the\n"
            "                     all-in-one host the controller's, where the host secret is\n"
            "                     DIR/hosts/HOST.secret\n"
            "  --controller URL   the controller's API, e.g. http://127.0.0.1:5000\n"
            "  --config FILE      INI configuration; flags override it\n"
            "  --host NAME        this host's name (default: the hostname)\n"
            "  --credential FILE  the host secret (default DIR/hosts/HOST.secret)\n"
            "  --log-level LEVEL  debug, info, warning or error (default info)\n"
            "  --log-file FILE    append the log to FILE (default standard error)\n"
            "  --pidfile FILE     write the agent's pid to FILE\n"
            "  --metrics-listen ADDR:PORT\n"
            "                     serve Prometheus metrics (GET /metrics) there; keep it on\n"
            "                     loopback ([metrics] listen)\n"
            "  --once             register, reconcile and report once, then exit\n"
            "  --help-config      print every configuration option with its default\n"
            "  --version          print the version\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop it; SIGHUP reopens the log file.\n");
}

/* ------------------------------------------------------------ waking */

static void wake(void)
{
    uint64_t one = 1;
    (void) !write(wake_fd, &one, sizeof(one));
}

static void drain_wake(void)
{
    uint64_t v;
    while (read(wake_fd, &v, sizeof(v)) > 0)
        ;
}

/* Sleeps up to 'ms' or until woken.  Returns true when woken. */
static bool sleep_wake(int64_t ms)
{
    struct pollfd p = {.fd = wake_fd, .events = POLLIN};
    if (ms < 0)
        ms = 0;
    return poll(&p, 1, ms > INT32_MAX ? INT32_MAX : (int) ms) > 0;
}

static void on_libvirt_event(void *opaque)
{
    (void) opaque;
    wake();
}

struct sigthread {
    sigset_t set;
};

static void *signal_loop(void *opaque)
{
    struct sigthread *st = opaque;
    for (;;) {
        int sig = 0;
        if (sigwait(&st->set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_reopen();
            log_info(MOD, "reopened the log");
            continue;
        }
        if (!atomic_load(&stopping))
            log_info(MOD, "signal %d: stopping", sig);
        atomic_store(&stopping, 1);
        wake();
        return NULL;
    }
}

/* ------------------------------------------------------------ heartbeat */

struct heartbeat {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    json_t *last;         /* the last report (deep copy), or NULL */
    int64_t last_sent_ns; /* when a report last went out (either thread) */
    bool busy;            /* a pass is running */
    bool quit;
    int interval_s;
    struct client *client; /* the heartbeat's own connection */
};

static void hb_sent(struct heartbeat *hb, json_t *report)
{
    pthread_mutex_lock(&hb->lock);
    json_decref(hb->last);
    hb->last = report ? json_deep_copy(report) : NULL;
    hb->last_sent_ns = st_mono_ns();
    pthread_mutex_unlock(&hb->lock);
}

static void hb_busy(struct heartbeat *hb, bool busy)
{
    pthread_mutex_lock(&hb->lock);
    hb->busy = busy;
    pthread_mutex_unlock(&hb->lock);
}

/* reconcile_io.building: marks 'server_id' "building" in the report the
 * heartbeat repeats. */
static void hb_building(void *opaque, const char *server_id)
{
    struct heartbeat *hb = opaque;
    json_t *servers, *e;
    size_t i;
    pthread_mutex_lock(&hb->lock);
    if (!hb->last)
        hb->last = json_pack("{s:I, s:[], s:[]}", "revision", (json_int_t) 0, "servers", "tasks");
    servers = json_object_get(hb->last, "servers");
    json_array_foreach(servers, i, e)
    {
        if (st_streq(json_string_value(json_object_get(e, "id")), server_id)) {
            json_object_set_new(e, "state", json_string("building"));
            json_object_set_new(e, "fault", json_null());
            goto out;
        }
    }
    json_array_append_new(servers, json_pack("{s:s, s:s, s:i}", "id", server_id, "state",
                                             "building", "power_state", 0));
out:
    pthread_mutex_unlock(&hb->lock);
}

static void *heartbeat_loop(void *opaque)
{
    struct heartbeat *hb = opaque;
    struct log_rl rl = LOG_RL_INIT(6, 3);
    pthread_mutex_lock(&hb->lock);
    while (!hb->quit) {
        struct timespec ts;
        json_t *doc = NULL, *reply = NULL;
        struct st_err err = ST_ERR_INIT;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&hb->cond, &hb->lock, &ts);
        if (hb->quit)
            break;
        if (!hb->busy || !hb->last ||
            st_mono_ns() - hb->last_sent_ns < (int64_t) hb->interval_s * NS_PER_S)
            continue;
        doc = json_deep_copy(hb->last);
        hb->last_sent_ns = st_mono_ns();
        pthread_mutex_unlock(&hb->lock);
        if (client_report(hb->client, doc, &reply, &err) < 0 && log_rl_allow(&rl))
            log_warnx(MOD, "heartbeat report failed: %s", err.msg);
        json_decref(reply);
        json_decref(doc);
        pthread_mutex_lock(&hb->lock);
    }
    pthread_mutex_unlock(&hb->lock);
    return NULL;
}

/* ------------------------------------------------------------ I/O for the reconciler */

struct agent_metrics {
    struct mx_registry *reg;
    struct mx_family *passes, *pass_seconds, *faults, *servers;
    json_t *faults_seen;  /* server id -> its fault's message (main only) */
    struct mx_http *http; /* the listener, or NULL */
    struct virt *virt;    /* the listener thread's connection, opened at the first scrape */
    const char *uri, *instances_path;
};

struct agent {
    struct cfg *cfg;
    char *host, *instances_path, *secret;
    char host_id[MODEL_ID_MAX]; /* our host's id in the controller, from registration */
    struct mdp *mdp;            /* the metadata proxies of our namespaces */
    char vtep[64];              /* this host's address for VXLAN, "" if unknown */
    struct net_state *net;
    struct volumes *vol;
    const char *virt_type;
    struct virt *virt;
    struct client *client;
    struct consoles *consoles;  /* console relays (agent/console.c) */
    struct heartbeat hb;
    struct reconciler *rec;
    int report_interval;
    struct agent_metrics mx;
};

static int io_fetch(void *opaque, const struct model_image *img, const char *path,
                    struct st_err *err)
{
    struct agent *a = opaque;
    int64_t t0 = st_mono_ns();
    int rc = client_image_get(a->client, img->id, path, img->checksum, img->size, err);
    if (rc == 0)
        log_info(MOD, "image '%s' (%lld bytes) fetched in %.1f s", img->id, (long long) img->size,
                 (double) (st_mono_ns() - t0) / 1e9);
    return rc;
}

static int io_upload(void *opaque, const char *image_id, const char *path, struct st_err *err)
{
    struct agent *a = opaque;
    return client_image_put(a->client, image_id, path, err);
}

static int io_mig_put(void *opaque, const char *mig_id, const char *name, const char *path,
                      struct st_err *err)
{
    struct agent *a = opaque;
    return client_migration_put(a->client, mig_id, name, path, err);
}

static int io_mig_get(void *opaque, const char *mig_id, const char *name, const char *path,
                      const char *sha256_hex, int64_t size, struct st_err *err)
{
    struct agent *a = opaque;
    return client_migration_get(a->client, mig_id, name, path, sha256_hex, size, err);
}

static void io_building(void *opaque, const char *server_id)
{
    struct agent *a = opaque;
    hb_building(&a->hb, server_id);
}

/* ------------------------------------------------------------ metrics */

/* Pass durations, in nanoseconds: 1 ms to 10 min (an image download). */
static const int64_t pass_bounds[] = {
    1000000,     5000000,     10000000,    50000000,     100000000,    250000000,
    500000000,   1000000000,  2500000000,  5000000000,   10000000000,  30000000000,
    60000000000, 120000000000, 300000000000, 600000000000,
};

/* The states a report gives a server (docs/agent-protocol.md). */
static const char *const report_states[] = {"building", "running",   "shutoff", "paused",
                                            "suspended", "error",    "gone"};

static void metrics_init(struct agent *a)
{
    static const char *const step[] = {"step"};
    static const char *const state[] = {"state"};
    struct agent_metrics *m = &a->mx;
    m->reg = mx_registry_new();
    m->passes = mx_family_new(m->reg, MX_COUNTER, "stratus_agent_passes_total",
                              "Reconcile passes run.", 0, NULL, 1, NULL, 0, 1);
    m->pass_seconds = mx_family_new(
        m->reg, MX_HISTOGRAM, "stratus_agent_pass_duration_seconds",
        "Time a reconcile pass took, with the figures for its report.", 0, NULL, 1e9,
        pass_bounds, ST_ARRAY_SIZE(pass_bounds), 1);
    m->faults = mx_family_new(m->reg, MX_COUNTER, "stratus_agent_faults_total",
                              "Server failures, by the step that failed, counted once per "
                              "distinct failure (a new fault message for the server).",
                              1, step, 1, NULL, 0, 64);
    m->servers = mx_family_new(m->reg, MX_GAUGE, "stratus_agent_servers",
                               "Servers of this host by the state the last report gave them.",
                               1, state, 1, NULL, 0, 16);
    m->faults_seen = json_object();
    m->uri = cfg_str(a->cfg, "libvirt", "uri");
    m->instances_path = a->instances_path;
}

/* Counts a pass that took 'ns' and produced 'report'. */
static void metrics_pass(struct agent *a, int64_t ns, json_t *report)
{
    struct agent_metrics *m = &a->mx;
    uint64_t counts[ST_ARRAY_SIZE(report_states)] = {0};
    json_t *seen = json_object(), *e;
    size_t i;

    mx_add(mx_series(m->passes, NULL), 1);
    mx_observe(mx_series(m->pass_seconds, NULL), ns);
    json_array_foreach(json_object_get(report, "servers"), i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *state = json_string_value(json_object_get(e, "state"));
        json_t *fault = json_object_get(e, "fault");
        const char *msg = json_string_value(json_object_get(fault, "message"));
        const char *stepname = json_string_value(json_object_get(fault, "details"));
        for (size_t k = 0; k < ST_ARRAY_SIZE(report_states); k++)
            counts[k] += st_streq(state, report_states[k]);
        if (!id || !st_streq(state, "error") || !msg)
            continue;
        if (!st_streq(json_string_value(json_object_get(m->faults_seen, id)), msg))
            mx_add(mx_series(m->faults,
                             (const char *const[]){stepname && *stepname ? stepname : "unknown"}),
                   1);
        json_object_set_new(seen, id, json_string(msg));
    }
    /* Only servers still failing are remembered: a recovered one that
     * fails again counts again. */
    json_decref(m->faults_seen);
    m->faults_seen = seen;
    for (size_t k = 0; k < ST_ARRAY_SIZE(report_states); k++)
        mx_set(mx_series(m->servers, (const char *const[]){report_states[k]}),
               (int64_t) counts[k]);
}

/* The MAC of the NIC whose tap is 'tap' in the desired state, or NULL. */
static const char *nic_mac(const struct model_desired *d, const char *id, const char *tap)
{
    const struct model_server *s = d ? model_find_server(d, id) : NULL;
    for (int i = 0; s && i < s->nnics; i++)
        if (!strcmp(s->nics[i].tap, tap))
            return s->nics[i].mac;
    return NULL;
}

static void put_fig(json_t *o, const char *key, int64_t v)
{
    if (v >= 0)
        json_object_set_new(o, key, json_integer((json_int_t) v));
}

/* Adds "uptime" to 'cap': the line uptime(1) prints, as Nova's hypervisor
 * uptime shows it (" 14:31:06 up 36 min,  0 users,  load average: ..."). */
static void add_uptime(json_t *cap)
{
    struct st_buf b = ST_BUF_INIT, out = ST_BUF_INIT;
    struct st_err e = ST_ERR_INIT;
    double up = 0, l1 = 0, l5 = 0, l15 = 0;
    time_t now = time(NULL);
    struct tm tm;
    if (st_read_file("/proc/uptime", 256, &b, &e) < 0 || sscanf(b.buf, "%lf", &up) != 1)
        goto out;
    st_buf_reset(&b);
    if (st_read_file("/proc/loadavg", 256, &b, &e) < 0 ||
        sscanf(b.buf, "%lf %lf %lf", &l1, &l5, &l15) != 3 || !gmtime_r(&now, &tm))
        goto out;
    long mins = (long) up / 60, days = mins / 1440, hm = mins % 1440;
    st_buf_addf(&out, " %02d:%02d:%02d up ", tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (days)
        st_buf_addf(&out, "%ld day%s, ", days, days == 1 ? "" : "s");
    if (hm >= 60)
        st_buf_addf(&out, "%2ld:%02ld", hm / 60, hm % 60);
    else
        st_buf_addf(&out, "%ld min", hm);
    st_buf_addf(&out, ",  0 users,  load average: %.2f, %.2f, %.2f", l1, l5, l15);
    json_object_set_new(cap, "uptime", json_string(out.buf));
out:
    st_buf_release(&b);
    st_buf_release(&out);
}

/* Adds "stats" (the figures of the running domains) and "capacity" (free
 * disk net of the guests' overcommit, Nova's disk_available_least) to
 * 'report'.  Without libvirt the report goes without them. */
static void report_stats(struct agent *a, const struct model_desired *d, json_t *report)
{
    struct virt_dom_stats *st = NULL;
    struct st_err err = ST_ERR_INIT;
    json_t *arr;
    struct statvfs vfs;
    int64_t overcommit = 0;
    size_t n = 0;

    if (virt_stats(a->virt, a->instances_path, &st, &n, &err) < 0) {
        log_debug(MOD, "no statistics in this report: %s", err.msg);
        return;
    }
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct virt_dom_stats *s = &st[i];
        json_t *e, *vcpus, *disks, *nics, *mem;
        for (size_t k = 0; k < s->ndisks; k++)
            if (s->disks[k].capacity > s->disks[k].physical && s->disks[k].physical >= 0)
                overcommit += s->disks[k].capacity - s->disks[k].physical;
        if (!s->active)
            continue;
        vcpus = json_array();
        disks = json_array();
        nics = json_array();
        mem = json_object();
        e = json_pack("{s:s}", "id", s->id);
        put_fig(e, "cpu_time", s->cpu_time);
        for (size_t k = 0; k < s->nvcpus; k++)
            json_array_append_new(vcpus, s->vcpu_time[k] >= 0
                                             ? json_integer((json_int_t) s->vcpu_time[k])
                                             : json_null());
        put_fig(mem, "maximum", s->mem_maximum);
        put_fig(mem, "current", s->mem_current);
        put_fig(mem, "rss", s->mem_rss);
        for (size_t k = 0; k < s->ndisks; k++) {
            const struct virt_disk_stats *k_ = &s->disks[k];
            json_t *o = json_pack("{s:s}", "name", k_->name);
            put_fig(o, "read_bytes", k_->rd_bytes);
            put_fig(o, "read_requests", k_->rd_reqs);
            put_fig(o, "write_bytes", k_->wr_bytes);
            put_fig(o, "write_requests", k_->wr_reqs);
            put_fig(o, "errors", k_->errors);
            json_array_append_new(disks, o);
        }
        for (size_t k = 0; k < s->nnics; k++) {
            const struct virt_nic_stats *k_ = &s->nics[k];
            const char *mac = nic_mac(d, s->id, k_->name);
            json_t *o = json_pack("{s:s}", "name", k_->name);
            if (mac)
                json_object_set_new(o, "mac_address", json_string(mac));
            put_fig(o, "rx_bytes", k_->rx_bytes);
            put_fig(o, "rx_packets", k_->rx_pkts);
            put_fig(o, "rx_errors", k_->rx_errs);
            put_fig(o, "rx_drop", k_->rx_drop);
            put_fig(o, "tx_bytes", k_->tx_bytes);
            put_fig(o, "tx_packets", k_->tx_pkts);
            put_fig(o, "tx_errors", k_->tx_errs);
            put_fig(o, "tx_drop", k_->tx_drop);
            json_array_append_new(nics, o);
        }
        json_object_set_new(e, "vcpus", vcpus);
        json_object_set_new(e, "memory", mem);
        json_object_set_new(e, "disks", disks);
        json_object_set_new(e, "nics", nics);
        json_array_append_new(arr, e);
    }
    json_object_set_new(report, "stats", arr);
    if (statvfs(a->instances_path, &vfs) == 0) {
        int64_t free_bytes = (int64_t) ((uint64_t) vfs.f_bavail * vfs.f_frsize);
        json_object_set_new(report, "capacity",
                            json_pack("{s:I}", "disk_available_least",
                                      (json_int_t) ((free_bytes - overcommit) >> 30)));
        add_uptime(json_object_get(report, "capacity"));
    }
    free(st);
}

/* One per-domain family at scrape time: 'get' gives the value of domain
 * 'd' (device 'k' for per-device families), or < 0 for none. */
enum dom_kind { DOM_ONE, DOM_VCPU, DOM_DISK, DOM_NIC };
struct dom_family {
    const char *name, *help;
    enum mx_type type;
    enum dom_kind kind;
    double divisor;
    int64_t (*get)(const struct virt_dom_stats *d, size_t k);
};

/* clang-format off */
#define DGET(fn, expr) \
    static int64_t fn(const struct virt_dom_stats *d, size_t k) { (void) k; return (expr); }
DGET(g_cpu, d->cpu_time)
DGET(g_vcpu, d->vcpu_time[k])
DGET(g_mem_max, d->mem_maximum < 0 ? -1 : d->mem_maximum * 1024)
DGET(g_mem_cur, d->mem_current < 0 ? -1 : d->mem_current * 1024)
DGET(g_mem_rss, d->mem_rss < 0 ? -1 : d->mem_rss * 1024)
DGET(g_rd_bytes, d->disks[k].rd_bytes)
DGET(g_wr_bytes, d->disks[k].wr_bytes)
DGET(g_rd_reqs, d->disks[k].rd_reqs)
DGET(g_wr_reqs, d->disks[k].wr_reqs)
DGET(g_rx_bytes, d->nics[k].rx_bytes)
DGET(g_tx_bytes, d->nics[k].tx_bytes)
DGET(g_rx_pkts, d->nics[k].rx_pkts)
DGET(g_tx_pkts, d->nics[k].tx_pkts)
DGET(g_rx_errs, d->nics[k].rx_errs)
DGET(g_tx_errs, d->nics[k].tx_errs)
DGET(g_rx_drop, d->nics[k].rx_drop)
DGET(g_tx_drop, d->nics[k].tx_drop)
#undef DGET
/* clang-format on */

static const struct dom_family dom_families[] = {
    {"stratus_domain_cpu_seconds_total", "CPU time used by the guest (libvirt cpu.time).",
     MX_COUNTER, DOM_ONE, 1e9, g_cpu},
    {"stratus_domain_vcpu_seconds_total", "CPU time of each vCPU (libvirt vcpu.N.time).",
     MX_COUNTER, DOM_VCPU, 1e9, g_vcpu},
    {"stratus_domain_memory_maximum_bytes", "The guest's memory size (balloon.maximum).",
     MX_GAUGE, DOM_ONE, 1, g_mem_max},
    {"stratus_domain_memory_current_bytes",
     "Memory the balloon leaves the guest (balloon.current).", MX_GAUGE, DOM_ONE, 1, g_mem_cur},
    {"stratus_domain_memory_rss_bytes", "Resident memory of the QEMU process (balloon.rss).",
     MX_GAUGE, DOM_ONE, 1, g_mem_rss},
    {"stratus_domain_disk_read_bytes_total", "Bytes read by the guest, per disk.", MX_COUNTER,
     DOM_DISK, 1, g_rd_bytes},
    {"stratus_domain_disk_write_bytes_total", "Bytes written by the guest, per disk.",
     MX_COUNTER, DOM_DISK, 1, g_wr_bytes},
    {"stratus_domain_disk_read_requests_total", "Read requests, per disk.", MX_COUNTER, DOM_DISK,
     1, g_rd_reqs},
    {"stratus_domain_disk_write_requests_total", "Write requests, per disk.", MX_COUNTER,
     DOM_DISK, 1, g_wr_reqs},
    {"stratus_domain_network_receive_bytes_total", "Bytes the guest received, per interface.",
     MX_COUNTER, DOM_NIC, 1, g_rx_bytes},
    {"stratus_domain_network_transmit_bytes_total", "Bytes the guest sent, per interface.",
     MX_COUNTER, DOM_NIC, 1, g_tx_bytes},
    {"stratus_domain_network_receive_packets_total", "Packets received, per interface.",
     MX_COUNTER, DOM_NIC, 1, g_rx_pkts},
    {"stratus_domain_network_transmit_packets_total", "Packets sent, per interface.", MX_COUNTER,
     DOM_NIC, 1, g_tx_pkts},
    {"stratus_domain_network_receive_errors_total", "Receive errors, per interface.", MX_COUNTER,
     DOM_NIC, 1, g_rx_errs},
    {"stratus_domain_network_transmit_errors_total", "Transmit errors, per interface.",
     MX_COUNTER, DOM_NIC, 1, g_tx_errs},
    {"stratus_domain_network_receive_drops_total", "Received packets dropped, per interface.",
     MX_COUNTER, DOM_NIC, 1, g_rx_drop},
    {"stratus_domain_network_transmit_drops_total", "Sent packets dropped, per interface.",
     MX_COUNTER, DOM_NIC, 1, g_tx_drop},
};

static void render_domains(struct st_buf *out, const struct virt_dom_stats *st, size_t n)
{
    for (size_t f = 0; f < ST_ARRAY_SIZE(dom_families); f++) {
        const struct dom_family *df = &dom_families[f];
        mx_text_family(out, df->name, df->type, df->help);
        for (size_t i = 0; i < n; i++) {
            const struct virt_dom_stats *d = &st[i];
            size_t nk = df->kind == DOM_VCPU   ? d->nvcpus
                        : df->kind == DOM_DISK ? d->ndisks
                        : df->kind == DOM_NIC  ? d->nnics
                                               : 1;
            if (!d->active)
                continue;
            for (size_t k = 0; k < nk; k++) {
                char idx[24];
                const char *kv[4] = {"instance", d->id, NULL, NULL};
                int64_t v = df->get(d, k);
                if (v < 0)
                    continue;
                if (df->kind == DOM_VCPU) {
                    snprintf(idx, sizeof(idx), "%zu", k);
                    kv[2] = "vcpu";
                    kv[3] = idx;
                } else if (df->kind == DOM_DISK) {
                    kv[2] = "device";
                    kv[3] = d->disks[k].name;
                } else if (df->kind == DOM_NIC) {
                    kv[2] = "interface";
                    kv[3] = d->nics[k].name;
                }
                if (df->divisor == 1)
                    mx_text_sample_u64(out, df->name, kv[2] ? 2 : 1, kv, (uint64_t) v);
                else
                    mx_text_sample(out, df->name, kv[2] ? 2 : 1, kv, (double) v / df->divisor);
            }
        }
    }
}

/* mx_http_render_fn: the listener's thread, one scrape at a time. */
static void scrape(void *opaque, struct st_buf *out)
{
    struct agent *a = opaque;
    struct agent_metrics *m = &a->mx;
    struct st_err err = ST_ERR_INIT;
    struct virt_dom_stats *st = NULL;
    size_t n = 0;
    bool ok;

    mx_render(m->reg, out);
    if (!m->virt)
        m->virt = virt_open_secondary(m->uri, &err);
    ok = m->virt && virt_stats(m->virt, m->instances_path, &st, &n, &err) == 0;
    if (!ok)
        log_debug(MOD, "metrics without the guests' figures: %s", err.msg);
    mx_text_family(out, "stratus_agent_libvirt_up", MX_GAUGE,
                   "1 when this scrape could read the domains' statistics from libvirt.");
    mx_text_sample_u64(out, "stratus_agent_libvirt_up", 0, NULL, ok ? 1 : 0);
    render_domains(out, st, n);
    free(st);
}

/* ------------------------------------------------------------ set-up */

/* Warns when QEMU, which libvirt runs as an unprivileged user, cannot
 * reach the instance directories: every directory above them must be
 * searchable by others. */
static void check_reachable(const char *path)
{
    struct st_buf p = ST_BUF_INIT;
    st_buf_adds(&p, path);
    while (p.len > 1) {
        struct stat sb;
        char *slash;
        if (stat(p.buf, &sb) == 0 && !(sb.st_mode & S_IXOTH)) {
            log_warnx(MOD,
                      "'%s' (mode %04o) is not searchable by other users: QEMU, running as an "
                      "unprivileged user (libvirt-qemu), cannot open the disks under '%s'",
                      p.buf, (unsigned) (sb.st_mode & 07777), path);
            break;
        }
        slash = strrchr(p.buf, '/');
        if (!slash)
            break;
        st_buf_truncate(&p, slash == p.buf ? 1 : (size_t) (slash - p.buf));
    }
    st_buf_release(&p);
}

/* QEMU's user must open /dev/kvm when it exists: otherwise libvirt probes
 * QEMU again on each call (see agent_dev_rw_for()).  Said once, at start,
 * with the fix; scripts/start-libvirt applies it. */
static void check_kvm_access(const char *dev, const char *user)
{
    struct stat sb;
    struct passwd *pw;
    gid_t groups[64];
    int n = (int) (sizeof(groups) / sizeof(groups[0]));

    if (stat(dev, &sb) < 0 || !S_ISCHR(sb.st_mode) || !(pw = getpwnam(user)))
        return;
    if (getgrouplist(user, pw->pw_gid, groups, &n) < 0)
        n = 0;
    if (agent_dev_rw_for(&sb, pw->pw_uid, pw->pw_gid, groups, n))
        return;
    log_warnx(MOD,
              "'%s' (mode %04o, uid %u, gid %u) cannot be opened by '%s', the user QEMU runs as: "
              "libvirt then probes QEMU again at every call, and each domain define or start "
              "takes seconds to minutes; give it the group and mode udev gives it "
              "(chgrp kvm %s && chmod 0660 %s, as scripts/start-libvirt does)",
              dev, (unsigned) (sb.st_mode & 07777), (unsigned) sb.st_uid, (unsigned) sb.st_gid,
              user, dev, dev);
}

static json_t *register_body(struct agent *a, struct st_err *err)
{
    json_t *b = json_object();
    const char *ip = a->vtep;
    struct statvfs vfs;

    if (virt_host_info(a->virt, b, err) < 0)
        goto fail;
    json_object_set_new(b, "hypervisor_type", json_string("QEMU"));
    json_object_set_new(b, "hypervisor_hostname", json_string(a->host));
    json_object_set_new(b, "virt_type", json_string(a->virt_type));
    json_object_set_new(b, "host_ip", json_string(ip));
    json_object_set_new(b, "vtep_ip", json_string(ip));
    json_object_set_new(
        b, "local_gb",
        json_integer(statvfs(a->instances_path, &vfs) == 0
                         ? (json_int_t) ((uint64_t) vfs.f_blocks * vfs.f_frsize >> 30)
                         : 0));
    json_object_set_new(b, "agent_version", json_string(AGENT_VERSION));
    if (a->vol)
        json_object_set_new(b, "volume_backends", vol_backends(a->vol));
    return b;
fail:
    json_decref(b);
    return NULL;
}

static int do_register(struct agent *a, int64_t *revision, struct st_err *err)
{
    json_t *body = register_body(a, err), *reply = NULL;
    int64_t interval = 0;
    const char *id = NULL;
    int rc = -1;
    if (!body)
        return -1;
    if (client_register(a->client, body, &reply, err) < 0)
        goto out;
    if (jget_int(reply, "revision", false, 0, INT64_MAX, revision, err) < 0 ||
        jget_int(reply, "report_interval", false, 1, 3600, &interval, err) < 0 ||
        jget_str(reply, "host_id", true, MODEL_ID_MAX - 1, &id, err) < 0)
        goto out;
    /* The owner mark of everything this agent makes (ARCHITECTURE §9),
     * lower case as the desired state's (model.c). */
    if (strcasecmp(a->host_id, id)) {
        char lower[MODEL_ID_MAX];
        size_t i;
        for (i = 0; id[i]; i++)
            lower[i] = (char) tolower((unsigned char) id[i]);
        lower[i] = '\0';
        if (a->host_id[0])
            log_warnx(MOD,
                      "host '%s' has a new id %s (was %s): what the old id marked is left alone",
                      a->host, lower, a->host_id);
        if (reconcile_set_host_id(a->rec, lower, err) < 0)
            goto out;
        memcpy(a->host_id, lower, i + 1);
    }
    if (interval > 0)
        a->report_interval = (int) interval;
    pthread_mutex_lock(&a->hb.lock);
    a->hb.interval_s = a->report_interval;
    pthread_mutex_unlock(&a->hb.lock);
    rc = 0;
out:
    json_decref(body);
    json_decref(reply);
    return rc;
}

/* ------------------------------------------------------------ the loop */

static int run(struct agent *a, bool once)
{
    struct model_desired *desired = NULL;
    struct log_rl rl = LOG_RL_INIT(10, 5);
    int64_t seen_rev = 0, reg_rev = 0, next_ns = 0, last_report_ns = 0;
    int backoff_s = 1, rc = 1;
    bool registered = false;

    while (!atomic_load(&stopping)) {
        struct st_err err = ST_ERR_INIT;
        json_t *doc = NULL, *report = NULL, *reply = NULL;
        int r;

        if (!registered) {
            if (do_register(a, &reg_rev, &err) < 0)
                goto retry;
            registered = true;
            backoff_s = 1;
            log_info(MOD, "registered host '%s' (id %s, %s) with %s, revision %lld", a->host,
                     a->host_id, a->virt_type, cfg_str(a->cfg, "DEFAULT", "controller"),
                     (long long) reg_rev);
        }

        /* Long-poll: until the revision moves, an event, the next report
         * or the reconciler's own deadline. */
        {
            int64_t now = st_mono_ns();
            int64_t due = last_report_ns + (int64_t) a->report_interval * NS_PER_S;
            int64_t timeout_ns = due - now;
            if (next_ns && next_ns - now < timeout_ns)
                timeout_ns = next_ns - now;
            if (!desired || timeout_ns < 0)
                timeout_ns = 0;
            if (timeout_ns > LONG_POLL_MAX_S * NS_PER_S)
                timeout_ns = LONG_POLL_MAX_S * NS_PER_S;
            r = client_desired(a->client, desired ? seen_rev : 0,
                               (int) ((timeout_ns + NS_PER_S - 1) / NS_PER_S), &doc, &err);
        }
        if (r < 0) {
            if (err.kind == ST_ERR_NOT_FOUND)
                registered = false;
            goto retry;
        }
        if (r == 1) {
            struct model_desired *d = model_desired_parse(doc, &err);
            if (d && (!d->host_id[0] || !strcasecmp(d->host_id, a->host_id)))
                consoles_sync(a->consoles, json_object_get(doc, "consoles"));
            json_decref(doc);
            doc = NULL;
            if (d && d->host_id[0] && strcasecmp(d->host_id, a->host_id)) {
                /* Acting on another host's state would mark its objects
                 * ours: register again to learn who we are. */
                st_err_set(&err, ST_ERR_CONFLICT,
                           "the desired state is for host id %s, this agent registered as %s",
                           d->host_id, a->host_id);
                model_desired_free(d);
                registered = false;
                goto retry;
            }
            if (!d) {
                if (log_rl_allow(&rl))
                    log_errorx(MOD, "refusing the desired state: %s", err.msg);
                st_err_clear(&err);
                if (!desired)
                    goto retry;
            } else {
                if (!desired || d->revision != seen_rev)
                    log_info(MOD, "desired state revision %lld: %zu servers, %zu tasks",
                              (long long) d->revision, d->nservers, d->ntasks);
                model_desired_free(desired);
                desired = d;
                seen_rev = d->revision;
            }
        }
        if (atomic_load(&stopping))
            break;
        if (!desired) {
            /* Woken (a libvirt event) before the first desired state
             * arrived: nothing to reconcile against yet; ask again. */
            drain_wake();
            continue;
        }

        /* Events during the pass wake the next one. */
        drain_wake();
        hb_busy(&a->hb, true);
        {
            int64_t t0 = st_mono_ns();
            report = reconcile_run(a->rec, desired, &next_ns);
            report_stats(a, desired, report);
            metrics_pass(a, st_mono_ns() - t0, report);
        }
        hb_busy(&a->hb, false);
        if (client_report(a->client, report, &reply, &err) < 0) {
            json_decref(report);
            if (err.kind == ST_ERR_NOT_FOUND)
                registered = false;
            goto retry;
        }
        hb_sent(&a->hb, report);
        last_report_ns = st_mono_ns();
        json_decref(report);
        json_decref(reply);
        backoff_s = 1;
        if (once) {
            rc = 0;
            break;
        }
        continue;
    retry:
        if (atomic_load(&stopping))
            break;
        if (log_rl_allow(&rl))
            log_warnx(MOD, "%s (retrying in %d s)", err.msg, backoff_s);
        if (once)
            break;
        sleep_wake((int64_t) backoff_s * 1000);
        backoff_s = backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff_s * 2;
    }
    if (atomic_load(&stopping))
        rc = 0;
    model_desired_free(desired);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"controller", required_argument, NULL, 'C'},
        {"config", required_argument, NULL, 'c'},
        {"host", required_argument, NULL, 'n'},
        {"credential", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'L'},
        {"log-file", required_argument, NULL, 'F'},
        {"pidfile", required_argument, NULL, 'p'},
        {"once", no_argument, NULL, 'o'},
        {"metrics-listen", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {"help-config", no_argument, NULL, 'H'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct agent a;
    struct agent_flags flags = {0};
    const char *config = NULL, *pidfile = NULL;
    struct st_err err = ST_ERR_INIT;
    struct sigthread sigt;
    pthread_t sig_thread, hb_thread;
    bool sig_started = false, hb_started = false, curl_inited = false, pid_written = false;
    char *cred_path = NULL, *lock_path = NULL, *net_dir = NULL, *net_lock_path = NULL;
    enum log_level lvl;
    int opt, rc = 1, lock_fd = -1, net_lock_fd = -1;
    bool once = false;

    memset(&a, 0, sizeof(a));
    pthread_mutex_init(&a.hb.lock, NULL);
    pthread_cond_init(&a.hb.cond, NULL);
    while ((opt = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
        /* clang-format off */
        switch (opt) {
        case 'd': flags.data_dir = optarg; break;
        case 'C': flags.controller = optarg; break;
        case 'c': config = optarg; break;
        case 'n': flags.host = optarg; break;
        case 's': flags.credential = optarg; break;
        case 'L': flags.log_level = optarg; break;
        case 'F': flags.log_file = optarg; break;
        case 'p': pidfile = optarg; break;
        case 'o': once = true; break;
        case 'M': flags.metrics_listen = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("stratus-agent %s\n", AGENT_VERSION); return 0;
        case 'H': {
            struct st_buf b = ST_BUF_INIT;
            cfg_print_sample(agent_opts, agent_opts_count, AGENT_SAMPLE_TITLE, &b);
            fputs(b.buf, stdout);
            st_buf_release(&b);
            return 0;
        }
        default: usage(stderr); return 2;
        }
        /* clang-format on */
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    a.cfg = agent_config(config, &flags, &err);
    if (!a.cfg)
        goto fail;
    (void) log_level_parse(cfg_str(a.cfg, "DEFAULT", "log_level"), &lvl);
    if (log_open(lvl, cfg_str(a.cfg, "DEFAULT", "log_file"), &err) < 0)
        goto fail;
    if (!cfg_str(a.cfg, "DEFAULT", "controller")[0]) {
        st_err_set(&err, ST_ERR_BAD_REQUEST,
                   "no controller: give --controller URL or [DEFAULT] controller");
        goto fail;
    }
    a.host = agent_host_name(a.cfg);
    a.instances_path = agent_instances_path(a.cfg);
    if (a.instances_path[0] != '/') {
        st_err_set(&err, ST_ERR_BAD_REQUEST, "the instances path '%s' must be absolute",
                   a.instances_path);
        goto fail;
    }
    cred_path = agent_credential_path(a.cfg, a.host);
    a.secret = agent_read_secret(cred_path, &err);
    if (!a.secret) {
        struct st_err e = err;
        st_err_clear(&err);
        st_err_set(&err, e.kind,
                   "no secret for host '%s': %s (bootstrap or `stratus-manage host add %s` "
                   "writes it; or give --credential FILE)",
                   a.host, e.msg, a.host);
        goto fail;
    }
    a.virt_type =
        agent_virt_type(cfg_str(a.cfg, "libvirt", "virt_type"), "/dev/kvm", "/proc/cpuinfo");
    a.report_interval = (int) cfg_int(a.cfg, "DEFAULT", "report_interval");
    a.hb.interval_s = a.report_interval;

    if (st_mkdir_p(a.instances_path, 0755, &err) < 0)
        goto fail;
    check_reachable(a.instances_path);
    check_kvm_access("/dev/kvm", "libvirt-qemu");
    /* One agent per instances path: two would fight over every domain. */
    lock_path = st_xasprintf("%s/.stratus-agent.lock", a.instances_path);
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
        st_err_sys(&err, errno, ST_ERR_CONFLICT,
                   "cannot lock '%s' (is another stratus-agent running?)", lock_path);
        goto fail;
    }
    /* And one per network state directory: the dnsmasq configurations and
     * pidfiles there say which dnsmasq is whose, and the conntrack zones
     * are numbered per agent. */
    net_dir = st_xasprintf("%s/network", cfg_str(a.cfg, "DEFAULT", "data_dir"));
    if (st_mkdir_p(net_dir, 0755, &err) < 0)
        goto fail;
    net_lock_path = st_xasprintf("%s/.stratus-agent.lock", net_dir);
    net_lock_fd = open(net_lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (net_lock_fd < 0 || flock(net_lock_fd, LOCK_EX | LOCK_NB) < 0) {
        st_err_sys(&err, errno, ST_ERR_CONFLICT,
                   "cannot lock '%s' (does another stratus-agent use this data directory?)",
                   net_lock_path);
        goto fail;
    }

    /* Signals are taken by the signal thread only: block them before any
     * thread starts so that every thread inherits the mask. */
    sigemptyset(&sigt.set);
    sigaddset(&sigt.set, SIGTERM);
    sigaddset(&sigt.set, SIGINT);
    sigaddset(&sigt.set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigt.set, NULL);
    signal(SIGPIPE, SIG_IGN);
    wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) {
        st_err_sys(&err, errno, ST_ERR_INTERNAL, "cannot create an eventfd");
        goto fail;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        st_err_set(&err, ST_ERR_INTERNAL, "cannot initialise libcurl");
        goto fail;
    }
    curl_inited = true;
    if (pthread_create(&sig_thread, NULL, signal_loop, &sigt) != 0) {
        st_err_set(&err, ST_ERR_INTERNAL, "cannot start the signal thread");
        goto fail;
    }
    sig_started = true;

    a.virt = virt_open(cfg_str(a.cfg, "libvirt", "uri"), on_libvirt_event, NULL, &err);
    if (!a.virt)
        goto fail;
    a.client = client_new(cfg_str(a.cfg, "DEFAULT", "controller"), a.host, a.secret, &err);
    if (!a.client)
        goto fail;
    client_set_wake(a.client, wake_fd, &stopping);
    a.consoles = consoles_new(cfg_str(a.cfg, "DEFAULT", "controller"), a.host, a.secret,
                              a.instances_path, cfg_str(a.cfg, "libvirt", "uri"), &err);
    if (!a.consoles) {
        /* Consoles are not worth refusing to run for. */
        log_warnx(MOD, "no remote consoles: %s", err.msg);
        st_err_clear(&err);
    }
    a.hb.client = client_new(cfg_str(a.cfg, "DEFAULT", "controller"), a.host, a.secret, &err);
    if (!a.hb.client)
        goto fail;
    client_set_wake(a.hb.client, -1, &stopping);
    {
        /* The VTEP address: configured, or the one that reaches the
         * controller; computed once so networking and registration agree. */
        const char *local_ip = cfg_str(a.cfg, "network", "local_ip");
        if (local_ip && *local_ip) {
            if (st_snprintf(a.vtep, sizeof(a.vtep), "%s", local_ip) < 0) {
                st_err_set(&err, ST_ERR_BAD_REQUEST, "[network] local_ip is too long");
                goto fail;
            }
        } else {
            struct st_err e = ST_ERR_INIT;
            if (client_local_ip(a.client, a.vtep, sizeof(a.vtep), &e) < 0)
                log_warnx(MOD, "no VTEP address, VXLAN networks will fail: %s", e.msg);
        }
        struct net_opts nopts = {
            .state_dir = net_dir,
            .physical_interface_mappings = cfg_str(a.cfg, "network",
                                                   "physical_interface_mappings"),
            .local_ip = a.vtep,
        };
        a.net = net_new(&nopts, &err);
        if (!a.net)
            goto fail;
    }
    {
        const char *dd = cfg_str(a.cfg, "DEFAULT", "data_dir");
        const char *fp = cfg_str(a.cfg, "volume", "file_pool");
        const char *bd = cfg_str(a.cfg, "volume", "backup_dir");
        char *pool = *fp ? st_xstrdup(fp) : st_xasprintf("%s/volumes", dd);
        char *backups = *bd ? st_xstrdup(bd) : st_xasprintf("%s/backups", dd);
        struct vol_opts vopts = {
            .backends = cfg_str(a.cfg, "volume", "backends"),
            .file_pool = pool,
            .backup_dir = backups,
            .lvm_vg = cfg_str(a.cfg, "volume", "lvm_volume_group"),
            .iscsi_portal = cfg_str(a.cfg, "volume", "iscsi_portal"),
            .iscsi = cfg_bool(a.cfg, "volume", "iscsi"),
            .state_dir = dd,
            .instances_path = a.instances_path,
        };
        a.vol = vol_new(&vopts, &err);
        free(pool);
        free(backups);
        if (!a.vol)
            goto fail;
    }
    {
        a.mdp = mdp_new(cfg_str(a.cfg, "DEFAULT", "controller"), MDP_PORT);
        struct reconcile_opts ropts = {
            .net = a.net,
            .vol = a.vol,
            .metadata = a.mdp,
            .no_seed = st_streq(cfg_str(a.cfg, "libvirt", "seed"), "none"),
            .instances_path = a.instances_path,
            .virt_type = a.virt_type,
            .vnc_listen = cfg_str(a.cfg, "libvirt", "vnc_listen"),
            .memballoon_period = (int) cfg_int(a.cfg, "libvirt", "mem_stats_period_seconds"),
            .shutdown_timeout = (int) cfg_int(a.cfg, "DEFAULT", "shutdown_timeout"),
            .base_unused_seconds = cfg_int(a.cfg, "DEFAULT", "base_image_unused_seconds"),
            .libvirt_uri = cfg_str(a.cfg, "libvirt", "uri"),
            .live_migration_uri = cfg_str(a.cfg, "libvirt", "live_migration_uri"),
            .live_migration_tls = cfg_bool(a.cfg, "libvirt", "live_migration_tls"),
            .migration_address = *cfg_str(a.cfg, "libvirt", "live_migration_inbound_addr")
                                     ? cfg_str(a.cfg, "libvirt", "live_migration_inbound_addr")
                                     : a.vtep,
        };
        struct reconcile_io io = {
            .fetch = io_fetch,
            .upload = io_upload,
            .mig_put = io_mig_put,
            .mig_get = io_mig_get,
            .building = io_building,
            .opaque = &a,
        };
        a.rec = reconcile_new(&ropts, a.virt, &io);
    }
    metrics_init(&a);
    if (*cfg_str(a.cfg, "metrics", "listen")) {
        a.mx.http = mx_http_start(cfg_str(a.cfg, "metrics", "listen"), scrape, &a, &err);
        if (!a.mx.http)
            goto fail;
        log_info(MOD, "metrics on %s (port %u)", cfg_str(a.cfg, "metrics", "listen"),
                 (unsigned) mx_http_port(a.mx.http));
    }
    if (pthread_create(&hb_thread, NULL, heartbeat_loop, &a.hb) != 0) {
        st_err_set(&err, ST_ERR_INTERNAL, "cannot start the heartbeat thread");
        goto fail;
    }
    hb_started = true;
    if (pidfile) {
        struct st_buf b = ST_BUF_INIT;
        st_buf_addf(&b, "%d\n", (int) getpid());
        if (st_write_file(pidfile, b.buf, b.len, 0644, &err) < 0) {
            st_buf_release(&b);
            goto fail;
        }
        pid_written = true;
        st_buf_release(&b);
    }
    log_info(MOD, "stratus-agent %s for host '%s' (%s, %s), instances in %s, controller %s",
             AGENT_VERSION, a.host, cfg_str(a.cfg, "libvirt", "uri"), a.virt_type, a.instances_path,
             cfg_str(a.cfg, "DEFAULT", "controller"));
    rc = run(&a, once);
    if (rc != 0)
        log_errorx(MOD, "stopped without a successful pass");
    goto out;
fail:
    log_errorx(MOD, "%s", err.msg);
out:
    if (hb_started) {
        pthread_mutex_lock(&a.hb.lock);
        a.hb.quit = true;
        pthread_cond_signal(&a.hb.cond);
        pthread_mutex_unlock(&a.hb.lock);
        pthread_join(hb_thread, NULL);
    }
    if (sig_started) {
        if (!atomic_load(&stopping)) {
            atomic_store(&stopping, 1); /* quietly: it is not a real signal */
            pthread_kill(sig_thread, SIGTERM);
        }
        pthread_join(sig_thread, NULL);
    }
    /* The listener first: a scrape uses its own libvirt connection, whose
     * events the main driver's thread dispatches. */
    mx_http_stop(a.mx.http);
    virt_close(a.mx.virt);
    mx_registry_free(a.mx.reg);
    json_decref(a.mx.faults_seen);
    reconcile_free(a.rec);
    mdp_free(a.mdp);
    net_free(a.net);
    consoles_free(a.consoles);
    vol_free(a.vol);
    client_free(a.client);
    client_free(a.hb.client);
    virt_close(a.virt);
    json_decref(a.hb.last);
    if (curl_inited)
        curl_global_cleanup();
    if (wake_fd >= 0)
        close(wake_fd);
    if (pid_written)
        unlink(pidfile);
    if (lock_fd >= 0)
        close(lock_fd);
    if (net_lock_fd >= 0)
        close(net_lock_fd);
    if (a.secret) {
        explicit_bzero(a.secret, strlen(a.secret));
        free(a.secret);
    }
    free(a.host);
    free(a.instances_path);
    free(cred_path);
    free(lock_path);
    free(net_dir);
    free(net_lock_path);
    cfg_free(a.cfg);
    pthread_mutex_destroy(&a.hb.lock);
    pthread_cond_destroy(&a.hb.cond);
    log_close();
    return rc;
}

/*
 * stats.c - the guests' figures reported by the agents (see stats.h).
 */
#include "compute/stats.h"

#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "compute/server.h"
#include "common/banned.h"

#define NAME_MAX_LEN 64

/* Copies the non-negative integer members 'keys' of 'in' into 'out'. */
static void copy_counters(json_t *in, json_t *out, const char *const *keys)
{
    for (; *keys; keys++) {
        json_t *v = json_object_get(in, *keys);
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            json_object_set(out, *keys, v);
    }
}

static bool short_string(json_t *v, size_t max)
{
    return json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max;
}

/* A device list: objects with a short "name" and the counters 'keys';
 * 'extra' is one more short string member kept (the NIC's MAC), or NULL. */
static json_t *copy_devices(json_t *in, const char *const *keys, const char *extra)
{
    json_t *out = json_array(), *d;
    size_t i;
    if (!json_is_array(in))
        return out;
    json_array_foreach(in, i, d)
    {
        json_t *o, *name = json_object_get(d, "name");
        if (json_array_size(out) >= STATS_MAX_DEVICES)
            break;
        if (!json_is_object(d) || !short_string(name, NAME_MAX_LEN))
            continue;
        o = json_pack("{s:O}", "name", name);
        if (extra && short_string(json_object_get(d, extra), NAME_MAX_LEN))
            json_object_set(o, extra, json_object_get(d, extra));
        copy_counters(d, o, keys);
        json_array_append_new(out, o);
    }
    return out;
}

/* The figures of one entry, checked; NULL when it is not one. */
static json_t *sanitize(json_t *e)
{
    static const char *const cpu[] = {"cpu_time", NULL};
    static const char *const mem[] = {"maximum", "current", "rss", NULL};
    static const char *const disk[] = {"read_bytes",     "read_requests", "write_bytes",
                                       "write_requests", "errors",        NULL};
    static const char *const nic[] = {"rx_bytes",  "rx_packets", "rx_errors",
                                      "rx_drop",   "tx_bytes",   "tx_packets",
                                      "tx_errors", "tx_drop",    NULL};
    json_t *out, *vcpus = json_array(), *v, *m = json_object();
    size_t i;

    if (!json_is_object(e) || !st_is_uuid(json_string_value(json_object_get(e, "id")))) {
        json_decref(vcpus);
        json_decref(m);
        return NULL;
    }
    out = json_object();
    copy_counters(e, out, cpu);
    json_array_foreach(json_object_get(e, "vcpus"), i, v)
    {
        if (i >= STATS_MAX_DEVICES)
            break;
        json_array_append_new(
            vcpus, json_is_integer(v) && json_integer_value(v) >= 0 ? json_incref(v) : json_null());
    }
    json_object_set_new(out, "vcpus", vcpus);
    copy_counters(json_object_get(e, "memory"), m, mem);
    json_object_set_new(out, "memory", m);
    json_object_set_new(out, "disks", copy_devices(json_object_get(e, "disks"), disk, NULL));
    json_object_set_new(out, "nics", copy_devices(json_object_get(e, "nics"), nic, "mac_address"));
    return out;
}

int server_stats_apply(struct store_conn *c, const char *host, json_t *report, struct st_err *err)
{
    json_t *stats = json_object_get(report, "stats");
    json_t *cap = json_object_get(report, "capacity");
    json_t *dal = json_object_get(cap, "disk_available_least");
    int64_t now = st_now_us() / 1000000;
    json_t *e;
    size_t i;

    json_array_foreach(stats, i, e)
    {
        json_t *clean = sanitize(e);
        char *text;
        int64_t n;
        if (!clean)
            continue;
        text = json_dumps(clean, JSON_COMPACT);
        json_decref(clean);
        /* Only for a server of this host: a host reports its own. */
        n = store_exec(
            c, err,
            "INSERT INTO server_stats (server_id, host, stats, updated_at)"
            " SELECT id, host, ?, ? FROM servers WHERE id = ? AND host = ?"
            " ON CONFLICT (server_id) DO UPDATE SET host = excluded.host,"
            " stats = excluded.stats, updated_at = excluded.updated_at",
            STORE_ARGS(P(text), P(now), P(json_string_value(json_object_get(e, "id"))), P(host)));
        free(text);
        if (n < 0)
            return -1;
    }
    if (json_is_integer(dal) && json_integer_value(dal) > -(INT64_C(1) << 40) &&
        json_integer_value(dal) < (INT64_C(1) << 40) &&
        store_exec(c, err, "UPDATE hosts SET disk_available_least = ? WHERE name = ?",
                   STORE_ARGS(P((int64_t) json_integer_value(dal)), P(host))) < 0)
        return -1;
    /* The host's uptime line, for os-hypervisors (bounded, printable). */
    const char *up = json_string_value(json_object_get(cap, "uptime"));
    if (up && strlen(up) < 128 && strspn(up, " 0123456789:.,abcdefghijklmnopqrstuvwxyz") ==
                                      strlen(up) &&
        store_exec(c, err, "UPDATE hosts SET uptime = ? WHERE name = ?",
                   STORE_ARGS(P(up), P(host))) < 0)
        return -1;
    return 0;
}

int server_stats_get(struct store_conn *c, const char *id, json_t **stats, int64_t *at,
                     char *virt_type, size_t n, struct st_err *err)
{
    struct store_stmt *s = store_query(
        c, err,
        "SELECT st.stats, st.updated_at, h.virt_type FROM server_stats st LEFT JOIN hosts h ON"
        " h.name = st.host WHERE st.server_id = ?",
        STORE_ARGS(P(id)));
    int rc;
    *stats = NULL;
    *at = 0;
    if (n)
        virt_type[0] = '\0';
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        *stats = json_loads(store_text(s, 0), 0, NULL);
        *at = store_int(s, 1);
        if (n && st_snprintf(virt_type, n, "%s", store_text(s, 2) ? store_text(s, 2) : "") < 0)
            virt_type[0] = '\0';
        if (!*stats)
            rc = 0; /* cannot happen: we wrote it */
    }
    store_done(s);
    return rc;
}

json_t *server_status_counts(struct store_conn *c, struct st_err *err)
{
    struct store_stmt *s = store_query(
        c, err, "SELECT vm_state, task_state, COUNT(*) FROM servers GROUP BY vm_state, task_state",
        STORE_NOARGS);
    json_t *out;
    int rc;
    if (!s)
        return NULL;
    out = json_object();
    while ((rc = store_next(s, err)) > 0) {
        struct server_rec r;
        const char *status;
        memset(&r, 0, sizeof(r));
        r.vm_state = (char *) store_text(s, 0);
        r.task_state = (char *) store_text(s, 1);
        status = server_status(&r);
        json_object_set_new(
            out, status,
            json_integer(json_integer_value(json_object_get(out, status)) + store_int(s, 2)));
    }
    store_done(s);
    if (rc < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

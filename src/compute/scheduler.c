/* scheduler.c - filters and weighers over the hosts table (scheduler.h). */
#include "compute/scheduler.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "compute/host.h"
#include "common/banned.h"

/* One query gives each host its capacity and what its servers use, with
 * the claims of active migrations on the host their server is not on
 * (compute/migration.h). */
#define HOST_USAGE                                                                             \
    "SELECT h.name, h.vcpus, h.memory_mb, h.local_gb, h.last_seen, h.availability_zone,"       \
    " COALESCE(SUM(s.vcpus), 0), COALESCE(SUM(s.memory_mb), 0), COALESCE(SUM(s.disk_gb), 0)"   \
    " FROM hosts h LEFT JOIN (SELECT id, host, vcpus, memory_mb, disk_gb FROM servers"         \
    " UNION ALL SELECT m.server_id, m.source_compute, m.src_vcpus, m.src_memory_mb,"           \
    " m.src_disk_gb FROM migrations m JOIN servers v ON v.id = m.server_id WHERE m.active = 1" \
    " AND v.host <> m.source_compute UNION ALL SELECT m.server_id, m.dest_compute,"            \
    " m.dst_vcpus, m.dst_memory_mb, m.dst_disk_gb FROM migrations m JOIN servers v ON v.id ="  \
    " m.server_id WHERE m.active = 1 AND v.host <> m.dest_compute) s ON s.host = h.name AND"   \
    " s.id <> ? WHERE h.enabled = 1 AND h.forced_down = 0"

/* The hosts of the servers a hint names (at most SCHED_MAX_HINTS). */
struct hint_hosts {
    char *names[SCHED_MAX_HINTS];
    size_t n;
};

static void hint_hosts_release(struct hint_hosts *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->names[i]);
    h->n = 0;
}

static bool hint_has(const struct hint_hosts *h, const char *host)
{
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->names[i], host))
            return true;
    return false;
}

static int hint_resolve(struct store_conn *c, const char *const *ids, size_t n,
                        struct hint_hosts *out, struct st_err *err)
{
    out->n = 0;
    for (size_t i = 0; i < n && i < SCHED_MAX_HINTS; i++) {
        struct store_stmt *s = store_query(c, err,
                                           "SELECT host FROM servers WHERE id = ? AND host IS"
                                           " NOT NULL",
                                           STORE_ARGS(P(ids[i])));
        int rc;
        if (!s)
            return -1;
        rc = store_next(s, err);
        if (rc > 0 && !hint_has(out, store_text(s, 0)))
            out->names[out->n++] = st_xstrdup(store_text(s, 0));
        store_done(s);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Free capacity of a host that passed the filters, for the weighers. */
struct cand {
    char *name;
    double free_ram, free_vcpus;
};

static bool fits(struct store_stmt *s, const struct compute_conf *conf,
                 const struct sched_request *req, struct cand *out)
{
    int64_t vcpus = store_int(s, 1), mem = store_int(s, 2), disk = store_int(s, 3);
    int64_t used_v = store_int(s, 6), used_m = store_int(s, 7), used_d = store_int(s, 8);
    double ram_cap = (double) mem * conf->ram_allocation_ratio - (double) conf->reserved_host_memory_mb;
    double cpu_cap = (double) vcpus * conf->cpu_allocation_ratio;
    double disk_cap = (double) disk * conf->disk_allocation_ratio;
    if (store_isnull(s, 4) || !host_is_up(store_int(s, 4), conf))
        return false;
    if (req->availability_zone && strcmp(req->availability_zone, store_text(s, 5)))
        return false;
    if (req->force_host && strcmp(req->force_host, store_text(s, 0)))
        return false;
    if ((double) (used_v + req->vcpus) > cpu_cap || (double) (used_m + req->ram_mb) > ram_cap ||
        (double) (used_d + req->disk_gb) > disk_cap)
        return false;
    out->free_ram = ram_cap - (double) (used_m + req->ram_mb);
    out->free_vcpus = cpu_cap - (double) (used_v + req->vcpus);
    return true;
}

/* Nova's normalisation: each weight mapped to [0, 1] over the candidates
 * (all 0 when they are equal). */
static double norm(double v, double lo, double hi)
{
    return hi > lo ? (v - lo) / (hi - lo) : 0.0;
}

int sched_claim(struct store_conn *c, const struct compute_conf *conf,
                const struct sched_request *req, char *host, size_t n, struct st_err *err)
{
    struct hint_hosts same = {.n = 0}, diff = {.n = 0};
    struct cand *cands = NULL;
    size_t nc = 0, cap = 0;
    struct store_stmt *s;
    int rc = -1;

    host[0] = '\0';
    if (hint_resolve(c, req->same_host, req->n_same_host, &same, err) < 0 ||
        hint_resolve(c, req->different_host, req->n_different_host, &diff, err) < 0)
        goto out;
    /* same_host naming only servers without a host (or none known): no host
     * can be "the same", as in Nova's SameHostFilter. */
    if (req->n_same_host && !same.n) {
        rc = 0;
        goto out;
    }
    s = store_query(c, err, HOST_USAGE " GROUP BY h.name ORDER BY h.name", STORE_ARGS(P("")));
    if (!s)
        goto out;
    while ((rc = store_next(s, err)) > 0) {
        struct cand cd;
        const char *name = store_text(s, 0);
        if (!fits(s, conf, req, &cd))
            continue;
        if ((req->n_same_host && !hint_has(&same, name)) || hint_has(&diff, name))
            continue;
        if (nc == cap) {
            cap = cap ? cap * 2 : 16;
            cands = st_xrealloc(cands, cap * sizeof(*cands));
        }
        cd.name = st_xstrdup(name);
        cands[nc++] = cd;
    }
    store_done(s);
    if (rc < 0)
        goto out;
    if (nc) {
        /* Weighers: free RAM and free vCPUs, normalised, multiplier 1 each
         * (Nova's RAMWeigher and CPUWeigher); the first name wins a tie. */
        double rlo = cands[0].free_ram, rhi = rlo, vlo = cands[0].free_vcpus, vhi = vlo;
        double best = -1.0;
        size_t bi = 0;
        for (size_t i = 1; i < nc; i++) {
            rlo = cands[i].free_ram < rlo ? cands[i].free_ram : rlo;
            rhi = cands[i].free_ram > rhi ? cands[i].free_ram : rhi;
            vlo = cands[i].free_vcpus < vlo ? cands[i].free_vcpus : vlo;
            vhi = cands[i].free_vcpus > vhi ? cands[i].free_vcpus : vhi;
        }
        for (size_t i = 0; i < nc; i++) {
            double w = norm(cands[i].free_ram, rlo, rhi) + norm(cands[i].free_vcpus, vlo, vhi);
            if (w > best) {
                best = w;
                bi = i;
            }
        }
        ST_IGNORE(st_snprintf(host, n, "%s", cands[bi].name));
    }
    rc = host[0] ? 1 : 0;
out:
    for (size_t i = 0; i < nc; i++)
        free(cands[i].name);
    free(cands);
    hint_hosts_release(&same);
    hint_hosts_release(&diff);
    return rc;
}

int sched_fits(struct store_conn *c, const struct compute_conf *conf, const char *host,
               const char *exclude, const struct sched_request *req, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, HOST_USAGE " AND h.name = ? GROUP BY h.name",
                                       STORE_ARGS(P(exclude), P(host)));
    int rc, ok = 0;
    struct cand cd;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        ok = fits(s, conf, req, &cd);
    store_done(s);
    return rc < 0 ? -1 : ok;
}

/* scheduler.c - filters and weigher over the hosts table (scheduler.h). */
#include "compute/scheduler.h"

#include <string.h>

#include "common/util.h"
#include "compute/host.h"
#include "common/banned.h"

/* One query gives each host its capacity and what its servers use. */
#define HOST_USAGE                                                                             \
    "SELECT h.name, h.vcpus, h.memory_mb, h.local_gb, h.last_seen, h.availability_zone,"       \
    " COALESCE(SUM(s.vcpus), 0), COALESCE(SUM(s.memory_mb), 0), COALESCE(SUM(s.disk_gb), 0)"   \
    " FROM hosts h LEFT JOIN servers s ON s.host = h.name AND s.id <> ?"                       \
    " WHERE h.enabled = 1 AND h.forced_down = 0"

static bool fits(struct store_stmt *s, const struct compute_conf *conf,
                 const struct sched_request *req, int64_t *free_ram)
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
    if ((double) (used_v + req->vcpus) > cpu_cap || (double) (used_m + req->ram_mb) > ram_cap ||
        (double) (used_d + req->disk_gb) > disk_cap)
        return false;
    *free_ram = (int64_t) (ram_cap - (double) (used_m + req->ram_mb));
    return true;
}

int sched_claim(struct store_conn *c, const struct compute_conf *conf,
                const struct sched_request *req, char *host, size_t n, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, HOST_USAGE " GROUP BY h.name ORDER BY h.name",
                                       STORE_ARGS(P("")));
    int64_t best = -1;
    int rc;
    if (!s)
        return -1;
    host[0] = '\0';
    while ((rc = store_next(s, err)) > 0) {
        int64_t free_ram;
        if (fits(s, conf, req, &free_ram) && free_ram > best) {
            best = free_ram;
            ST_IGNORE(st_snprintf(host, n, "%s", store_text(s, 0)));
        }
    }
    store_done(s);
    if (rc < 0)
        return -1;
    return host[0] ? 1 : 0;
}

int sched_fits(struct store_conn *c, const struct compute_conf *conf, const char *host,
               const char *exclude, const struct sched_request *req, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, HOST_USAGE " AND h.name = ? GROUP BY h.name",
                                       STORE_ARGS(P(exclude), P(host)));
    int rc, ok = 0;
    int64_t free_ram;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        ok = fits(s, conf, req, &free_ram);
    store_done(s);
    return rc < 0 ? -1 : ok;
}

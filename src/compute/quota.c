/*
 * quota.c - compute quotas of a project (instances, cores, ram): limits,
 * usage counted from its servers, and the check that creation and resize
 * make inside their transaction.
 */
#include "compute/server.h"

#include <string.h>

#include "compute/internal.h"
#include "common/banned.h"

static const char *const quota_resources[] = {"instances", "cores", "ram"};

int64_t compute_quota_limit(struct store_conn *c, const struct compute_conf *conf,
                            const char *project_id, const char *resource, struct st_err *err)
{
    int64_t v = -1;
    int rc = store_get_int(c, err, &v,
                           "SELECT hard_limit FROM quotas WHERE project_id = ? AND resource = ?",
                           STORE_ARGS(P(project_id), P(resource)));
    if (rc < 0)
        return INT64_MIN;
    if (rc > 0)
        return v;
    if (!strcmp(resource, "instances"))
        return conf->default_quota_instances;
    if (!strcmp(resource, "cores"))
        return conf->default_quota_cores;
    return conf->default_quota_ram;
}

static int quota_used(struct store_conn *c, const char *project_id, int64_t used[3],
                      struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT COUNT(*), COALESCE(SUM(vcpus), 0),"
                                       " COALESCE(SUM(memory_mb), 0) FROM servers WHERE"
                                       " project_id = ?",
                                       STORE_ARGS(P(project_id)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        for (int i = 0; i < 3; i++)
            used[i] = store_int(s, i);
    store_done(s);
    return rc < 0 ? -1 : 0;
}

json_t *compute_quota_usage(struct store_conn *c, const struct compute_conf *conf,
                            const char *project_id, struct st_err *err)
{
    int64_t used[3] = {0, 0, 0};
    json_t *o;
    if (quota_used(c, project_id, used, err) < 0)
        return NULL;
    o = json_object();
    for (int i = 0; i < 3; i++) {
        int64_t lim = compute_quota_limit(c, conf, project_id, quota_resources[i], err);
        if (lim == INT64_MIN) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, quota_resources[i],
                            json_pack("{s:I, s:I, s:i}", "limit", (json_int_t) lim, "in_use",
                                      (json_int_t) used[i], "reserved", 0));
    }
    return o;
}

int compute_quota_set(struct store_conn *c, const char *project_id, const char *resource,
                      int64_t limit, struct st_err *err)
{
    return store_exec(c, err,
                      "INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)"
                      " ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit ="
                      " excluded.hard_limit",
                      STORE_ARGS(P(project_id), P(resource), P(limit))) < 0
               ? -1
               : 0;
}

/* OVER_QUOTA naming the first resource the request would exceed. */
int compute_quota_check(struct store_conn *c, const struct compute_conf *conf,
                        const char *project_id, int64_t n, int64_t vcpus, int64_t ram,
                        struct st_err *err)
{
    int64_t used[3], want[3] = {n, vcpus, ram};
    if (quota_used(c, project_id, used, err) < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        int64_t lim = compute_quota_limit(c, conf, project_id, quota_resources[i], err);
        if (lim == INT64_MIN)
            return -1;
        if (lim >= 0 && want[i] > 0 && used[i] + want[i] > lim) {
            st_err_set(err, ST_ERR_OVER_QUOTA,
                       "Quota exceeded for %s: Requested %lld, but already used %lld of %lld "
                       "%s",
                       quota_resources[i], (long long) want[i], (long long) used[i],
                       (long long) lim, quota_resources[i]);
            return -1;
        }
    }
    return 0;
}


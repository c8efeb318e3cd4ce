/*
 * compute.c (api) - Nova's operator-facing resources under /compute/v2.1:
 * os-hypervisors, os-services, os-availability-zone, limits, os-quota-sets
 * and server diagnostics.  Hosts come from compute/host.c, quotas from
 * compute/quota.c, the guests' figures from compute/stats.c.
 */
#include "api/compute.h"

#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "compute/host.h"
#include "compute/server.h"
#include "compute/stats.h"
#include "common/banned.h"

#define V21 "/compute/v2.1"

static json_t *iso_time(int64_t secs)
{
    char t[32];
    if (!secs)
        return json_null();
    st_time_iso(secs * 1000000, 6, t);
    t[strlen(t) - 1] = '\0'; /* Nova: no zone suffix here */
    return json_string(t);
}

static json_t *hosts(struct api_req *req, struct st_err *err)
{
    return host_list(req->db, req->app->compute, err);
}

static json_t *hypervisor_view(const struct api_req *req, json_t *h, bool detail)
{
    json_t *o = json_pack("{s:O, s:O, s:s, s:s}", "id", json_object_get(h, "id"),
                          "hypervisor_hostname", json_object_get(h, "hypervisor_hostname"),
                          "state", json_is_true(json_object_get(h, "up")) ? "up" : "down",
                          "status",
                          json_is_true(json_object_get(h, "enabled")) ? "enabled" : "disabled");
    if (!detail)
        return o;
    json_object_set(o, "hypervisor_type", json_object_get(h, "hypervisor_type"));
    json_object_set(o, "hypervisor_version", json_object_get(h, "hypervisor_version"));
    json_object_set(o, "host_ip", json_object_get(h, "host_ip"));
    json_object_set_new(o, "service",
                        json_pack("{s:O, s:O, s:O}", "host", json_object_get(h, "name"), "id",
                                  json_object_get(h, "id"), "disabled_reason",
                                  json_object_get(h, "disabled_reason")));
    if (!api_mv(req, 2, 88)) {
        int64_t mem = json_integer_value(json_object_get(h, "memory_mb"));
        int64_t mem_used = json_integer_value(json_object_get(h, "memory_mb_used"));
        int64_t disk = json_integer_value(json_object_get(h, "local_gb"));
        int64_t disk_used = json_integer_value(json_object_get(h, "local_gb_used"));
        char *cpu = json_dumps(json_object_get(h, "cpu_info"), JSON_COMPACT);
        json_object_set_new(o, "cpu_info", json_string(cpu ? cpu : "{}"));
        free(cpu);
        json_object_set(o, "current_workload", json_object_get(h, "current_workload"));
        json_object_set(o, "disk_available_least", json_object_get(h, "disk_available_least"));
        json_object_set_new(o, "free_disk_gb", json_integer(disk - disk_used));
        json_object_set_new(o, "free_ram_mb", json_integer(mem - mem_used));
        json_object_set(o, "local_gb", json_object_get(h, "local_gb"));
        json_object_set(o, "local_gb_used", json_object_get(h, "local_gb_used"));
        json_object_set(o, "memory_mb", json_object_get(h, "memory_mb"));
        json_object_set(o, "memory_mb_used", json_object_get(h, "memory_mb_used"));
        json_object_set(o, "running_vms", json_object_get(h, "running_vms"));
        json_object_set(o, "vcpus", json_object_get(h, "vcpus"));
        json_object_set(o, "vcpus_used", json_object_get(h, "vcpus_used"));
    }
    return o;
}

static int hypervisors_common(struct api_req *req, struct api_resp *resp, bool detail,
                              struct st_err *err)
{
    json_t *all = hosts(req, err), *out = json_array(), *h;
    const char *match = api_query(req, "hypervisor_hostname_pattern");
    size_t i;
    if (!all) {
        json_decref(out);
        return -1;
    }
    json_array_foreach(all, i, h)
    {
        const char *name = json_string_value(json_object_get(h, "hypervisor_hostname"));
        if (match && !strstr(name, match))
            continue;
        json_array_append_new(out, hypervisor_view(req, h, detail));
    }
    json_decref(all);
    api_reply(resp, 200, json_pack("{s:o}", "hypervisors", out));
    return 0;
}

static int hypervisors_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return hypervisors_common(req, resp, false, err);
}

static int hypervisors_detail(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return hypervisors_common(req, resp, true, err);
}

static int hypervisors_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *all = hosts(req, err), *h, *found = NULL;
    size_t i;
    if (!all)
        return -1;
    json_array_foreach(all, i, h)
    {
        if (st_streq(json_string_value(json_object_get(h, "id")), api_param(req, 0)))
            found = h;
    }
    if (!found) {
        json_decref(all);
        st_err_set(err, ST_ERR_NOT_FOUND, "Hypervisor with ID '%s' could not be found.",
                   api_param(req, 0));
        return -1;
    }
    json_t *v = hypervisor_view(req, found, true);
    if (api_mv(req, 2, 88))
        json_object_set(v, "uptime", json_object_get(found, "uptime"));
    json_decref(all);
    api_reply(resp, 200, json_pack("{s:o}", "hypervisor", v));
    return 0;
}

/* GET /os-hypervisors/{id}/uptime (removed in 2.88, where show has it):
 * the line the host's agent last reported. */
static int hypervisors_uptime(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *all, *h, *found = NULL;
    size_t i;
    if (api_mv(req, 2, 88)) {
        st_err_set(err, ST_ERR_NOT_FOUND, "The uptime API was removed in 2.88.");
        return -1;
    }
    if (!(all = hosts(req, err)))
        return -1;
    json_array_foreach(all, i, h)
    {
        if (st_streq(json_string_value(json_object_get(h, "id")), api_param(req, 0)))
            found = h;
    }
    if (!found) {
        json_decref(all);
        st_err_set(err, ST_ERR_NOT_FOUND, "Hypervisor with ID '%s' could not be found.",
                   api_param(req, 0));
        return -1;
    }
    json_t *v = hypervisor_view(req, found, false);
    json_object_set(v, "uptime", json_object_get(found, "uptime"));
    json_decref(all);
    api_reply(resp, 200, json_pack("{s:o}", "hypervisor", v));
    return 0;
}

static int hypervisors_statistics(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *all, *h;
    size_t i;
    int64_t t[9] = {0};
    if (api_mv(req, 2, 88)) {
        st_err_set(err, ST_ERR_NOT_FOUND, "The statistics API was removed in 2.88.");
        return -1;
    }
    all = hosts(req, err);
    if (!all)
        return -1;
    json_array_foreach(all, i, h)
    {
        t[0] += json_integer_value(json_object_get(h, "vcpus"));
        t[1] += json_integer_value(json_object_get(h, "vcpus_used"));
        t[2] += json_integer_value(json_object_get(h, "memory_mb"));
        t[3] += json_integer_value(json_object_get(h, "memory_mb_used"));
        t[4] += json_integer_value(json_object_get(h, "local_gb"));
        t[5] += json_integer_value(json_object_get(h, "local_gb_used"));
        t[6] += json_integer_value(json_object_get(h, "running_vms"));
        t[7] += json_integer_value(json_object_get(h, "current_workload"));
        t[8] += json_integer_value(json_object_get(h, "disk_available_least"));
    }
    api_reply(resp, 200,
              json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
                        "hypervisor_statistics", "count", (json_int_t) json_array_size(all),
                        "current_workload", (json_int_t) t[7], "disk_available_least",
                        (json_int_t) t[8], "free_disk_gb", (json_int_t) (t[4] - t[5]),
                        "free_ram_mb", (json_int_t) (t[2] - t[3]), "local_gb", (json_int_t) t[4],
                        "local_gb_used", (json_int_t) t[5], "memory_mb", (json_int_t) t[2],
                        "memory_mb_used", (json_int_t) t[3], "running_vms", (json_int_t) t[6],
                        "vcpus", (json_int_t) t[0], "vcpus_used", (json_int_t) t[1]));
    json_decref(all);
    return 0;
}

static json_t *service_view(json_t *h)
{
    return json_pack("{s:O, s:s, s:O, s:O, s:s, s:s, s:o, s:O, s:O}", "id",
                     json_object_get(h, "id"), "binary", "nova-compute", "host",
                     json_object_get(h, "name"), "zone", json_object_get(h, "availability_zone"),
                     "status",
                     json_is_true(json_object_get(h, "enabled")) ? "enabled" : "disabled",
                     "state", json_is_true(json_object_get(h, "up")) ? "up" : "down",
                     "updated_at",
                     iso_time(json_integer_value(json_object_get(h, "last_seen"))),
                     "disabled_reason", json_object_get(h, "disabled_reason"), "forced_down",
                     json_object_get(h, "forced_down"));
}

static int services_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *all = hosts(req, err), *out = json_array(), *h;
    const char *host = api_query(req, "host"), *binary = api_query(req, "binary");
    size_t i;
    if (!all) {
        json_decref(out);
        return -1;
    }
    json_array_foreach(all, i, h)
    {
        if (host && !st_streq(host, json_string_value(json_object_get(h, "name"))))
            continue;
        if (binary && strcmp(binary, "nova-compute"))
            continue;
        json_t *v = service_view(h);
        if (!api_mv(req, 2, 11))
            json_object_del(v, "forced_down");
        json_array_append_new(out, v);
    }
    json_decref(all);
    api_reply(resp, 200, json_pack("{s:o}", "services", out));
    return 0;
}

/* The host named by a service id (2.53+) or by "host" in the body. */
static int service_host(struct api_req *req, const char *id_or_host, char *name, size_t n,
                        struct st_err *err)
{
    json_t *all = hosts(req, err), *h;
    size_t i;
    int found = 0;
    if (!all)
        return -1;
    json_array_foreach(all, i, h)
    {
        if (st_streq(json_string_value(json_object_get(h, "id")), id_or_host) ||
            st_streq(json_string_value(json_object_get(h, "name")), id_or_host)) {
            ST_IGNORE(st_snprintf(name, n, "%s", json_string_value(json_object_get(h, "name"))));
            found = 1;
        }
    }
    json_decref(all);
    if (!found)
        st_err_set(err, ST_ERR_NOT_FOUND, "Service %s could not be found.", id_or_host);
    return found ? 0 : -1;
}

static int reply_service(struct api_req *req, struct api_resp *resp, const char *name,
                         bool legacy, struct st_err *err)
{
    json_t *all = hosts(req, err), *h, *v = NULL;
    size_t i;
    if (!all)
        return -1;
    json_array_foreach(all, i, h)
    {
        if (st_streq(json_string_value(json_object_get(h, "name")), name))
            v = service_view(h);
    }
    json_decref(all);
    if (!v) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Service on host %s could not be found.", name);
        return -1;
    }
    if (legacy) {
        json_t *l = json_pack("{s:O, s:O, s:O}", "host", json_object_get(v, "host"), "binary",
                              json_object_get(v, "binary"), "status", json_object_get(v, "status"));
        if (!json_is_null(json_object_get(v, "disabled_reason")))
            json_object_set(l, "disabled_reason", json_object_get(v, "disabled_reason"));
        json_decref(v);
        v = l;
    }
    api_reply(resp, 200, json_pack("{s:o}", "service", v));
    return 0;
}

static int services_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err);
    const char *what = api_param(req, 0), *status = NULL, *reason = NULL, *host = NULL;
    char name[HOST_NAME_MAX_LEN + 1];
    bool forced, has_forced = json_object_get(in, "forced_down") != NULL;
    bool legacy = !st_is_uuid(what);

    if (!in || jget_str(in, "status", false, 16, &status, err) < 0 ||
        jget_str(in, "disabled_reason", false, 255, &reason, err) < 0 ||
        jget_str(in, "host", false, HOST_NAME_MAX_LEN, &host, err) < 0 ||
        (has_forced && jget_bool(in, "forced_down", true, &forced, err) < 0))
        return -1;
    if (legacy) {
        /* PUT /os-services/enable, disable, disable-log-reason, force-down */
        if (!strcmp(what, "enable"))
            status = "enabled";
        else if (!strcmp(what, "disable") || !strcmp(what, "disable-log-reason"))
            status = "disabled";
        else if (strcmp(what, "force-down")) {
            st_err_set(err, ST_ERR_NOT_FOUND, "Unknown service action %s", what);
            return -1;
        }
        if (!host) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'host'");
            return -1;
        }
        what = host;
    }
    if (service_host(req, what, name, sizeof(name), err) < 0)
        return -1;
    if (status) {
        if (strcmp(status, "enabled") && strcmp(status, "disabled")) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid status: %s", status);
            return -1;
        }
        if (host_set_enabled(req->db, name, !strcmp(status, "enabled"), reason, err) < 0)
            return -1;
    }
    if (has_forced && host_set_forced_down(req->db, name, forced, err) < 0)
        return -1;
    return reply_service(req, resp, name, legacy, err);
}

static int az_common(struct api_req *req, struct api_resp *resp, bool detail,
                     struct st_err *err)
{
    json_t *all = hosts(req, err), *zones = json_object(), *out = json_array(), *h, *z;
    const char *name;
    size_t i;
    if (!all) {
        json_decref(zones);
        json_decref(out);
        return -1;
    }
    json_array_foreach(all, i, h)
    {
        const char *zn = json_string_value(json_object_get(h, "availability_zone"));
        bool up = json_is_true(json_object_get(h, "up")) &&
                  json_is_true(json_object_get(h, "enabled"));
        z = json_object_get(zones, zn);
        if (!z) {
            z = json_pack("{s:s, s:{s:b}, s:o}", "zoneName", zn, "zoneState", "available", up,
                          "hosts", detail ? json_object() : json_null());
            json_object_set_new(zones, zn, z);
        } else if (up) {
            json_object_set_new(json_object_get(z, "zoneState"), "available", json_true());
        }
        if (detail)
            json_object_set_new(
                json_object_get(z, "hosts"), json_string_value(json_object_get(h, "name")),
                json_pack("{s:{s:b, s:b, s:o}}", "nova-compute", "available", up, "active",
                          json_is_true(json_object_get(h, "enabled")), "updated_at",
                          iso_time(json_integer_value(json_object_get(h, "last_seen")))));
    }
    json_object_foreach(zones, name, z) json_array_append(out, z);
    json_decref(zones);
    json_decref(all);
    api_reply(resp, 200, json_pack("{s:o}", "availabilityZoneInfo", out));
    return 0;
}

static int az_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return az_common(req, resp, false, err);
}

static int az_detail(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return az_common(req, resp, true, err);
}

static int limits(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const char *project = req->auth.project_id;
    const char *t = api_query(req, "tenant_id");
    json_t *u, *abs;
    if (t && req->auth.is_admin)
        project = t;
    u = compute_quota_usage(req->db, req->app->compute, project, err);
    if (!u)
        return -1;
#define LIM(r) json_integer_value(json_object_get(json_object_get(u, r), "limit"))
#define USE(r) json_integer_value(json_object_get(json_object_get(u, r), "in_use"))
    abs = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:i}", "maxTotalInstances",
                    LIM("instances"), "maxTotalCores", LIM("cores"), "maxTotalRAMSize",
                    LIM("ram"), "totalInstancesUsed", USE("instances"), "totalCoresUsed",
                    USE("cores"), "totalRAMUsed", USE("ram"), "maxServerMeta", 128,
                    "maxTotalKeypairs", 100, "maxServerGroups", 10, "maxServerGroupMembers",
                    10);
#undef LIM
#undef USE
    if (!api_mv(req, 2, 57)) {
        json_object_set_new(abs, "maxImageMeta", json_integer(128));
        json_object_set_new(abs, "maxPersonality", json_integer(5));
        json_object_set_new(abs, "maxPersonalitySize", json_integer(10240));
    }
    if (!api_mv(req, 2, 36)) {
        json_object_set_new(abs, "maxSecurityGroups", json_integer(10));
        json_object_set_new(abs, "maxSecurityGroupRules", json_integer(20));
        json_object_set_new(abs, "maxTotalFloatingIps", json_integer(10));
        json_object_set_new(abs, "totalFloatingIpsUsed", json_integer(0));
        json_object_set_new(abs, "totalSecurityGroupsUsed", json_integer(0));
        json_object_set_new(abs, "totalServerGroupsUsed", json_integer(0));
    } else {
        json_object_set_new(abs, "totalServerGroupsUsed", json_integer(0));
    }
    json_decref(u);
    api_reply(resp, 200, json_pack("{s:{s:[], s:o}}", "limits", "rate", "absolute", abs));
    return 0;
}

/* Nova's quota_set, with the resources stratus enforces and the fixed
 * limits of the others. */
static json_t *quota_set(const struct api_req *req, json_t *usage, const char *project,
                         bool detail)
{
    json_t *q = json_object();
    const char *r;
    json_t *v;
    json_object_foreach(usage, r, v)
    {
        if (detail)
            json_object_set(q, r, v);
        else
            json_object_set(q, r, json_object_get(v, "limit"));
    }
#define FIXED(name, value)                                                                     \
    json_object_set_new(q, name,                                                               \
                        detail ? json_pack("{s:i, s:i, s:i}", "limit", value, "in_use", 0,     \
                                           "reserved", 0)                                      \
                               : json_integer(value))
    FIXED("metadata_items", 128);
    FIXED("key_pairs", 100);
    FIXED("server_groups", 10);
    FIXED("server_group_members", 10);
    if (!api_mv(req, 2, 57)) {
        FIXED("injected_files", 5);
        FIXED("injected_file_content_bytes", 10240);
        FIXED("injected_file_path_bytes", 255);
    }
    if (!api_mv(req, 2, 36)) {
        FIXED("floating_ips", 10);
        FIXED("fixed_ips", -1);
        FIXED("security_groups", 10);
        FIXED("security_group_rules", 20);
    }
#undef FIXED
    if (project)
        json_object_set_new(q, "id", json_string(project));
    return q;
}

static int quota_access(const struct api_req *req, const char *project, struct st_err *err)
{
    if (req->auth.is_admin || !strcmp(project, req->auth.project_id))
        return 0;
    return policy_admin(&req->auth, "os_compute_api:os-quota-sets:show", err);
}

static int quotas_show_common(struct api_req *req, struct api_resp *resp, bool detail,
                              struct st_err *err)
{
    const char *project = api_param(req, 0);
    json_t *u;
    if (quota_access(req, project, err) < 0)
        return -1;
    u = compute_quota_usage(req->db, req->app->compute, project, err);
    if (!u)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "quota_set", quota_set(req, u, project, detail)));
    json_decref(u);
    return 0;
}

static int quotas_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return quotas_show_common(req, resp, false, err);
}

static int quotas_detail(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return quotas_show_common(req, resp, true, err);
}

static int quotas_defaults(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const struct compute_conf *conf = req->app->compute;
    json_t *u = json_pack("{s:{s:I}, s:{s:I}, s:{s:I}}", "instances", "limit",
                          (json_int_t) conf->default_quota_instances, "cores", "limit",
                          (json_int_t) conf->default_quota_cores, "ram", "limit",
                          (json_int_t) conf->default_quota_ram);
    (void) err;
    api_reply(resp, 200,
              json_pack("{s:o}", "quota_set", quota_set(req, u, api_param(req, 0), false)));
    json_decref(u);
    return 0;
}

static int quotas_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *body = api_body_json(req, err), *in, *u;
    static const char *const known[] = {"instances", "cores", "ram"};
    const char *k;
    json_t *v;
    const char *project = api_param(req, 0);
    if (!body || jget_obj(body, "quota_set", true, &in, err) < 0)
        return -1;
    if (store_begin(req->db, err) < 0)
        return -1;
    json_object_foreach(in, k, v)
    {
        bool ours = false;
        int64_t lim;
        for (size_t i = 0; i < ST_ARRAY_SIZE(known); i++)
            ours |= !strcmp(k, known[i]);
        if (!strcmp(k, "force"))
            continue;
        if (jget_int(in, k, true, -1, INT32_MAX, &lim, err) < 0) {
            store_rollback(req->db);
            return -1;
        }
        if (!ours)
            continue; /* the fixed ones are accepted and kept fixed */
        if (compute_quota_set(req->db, project, k, lim, err) < 0) {
            store_rollback(req->db);
            return -1;
        }
    }
    if (store_commit(req->db, err) < 0) {
        store_rollback(req->db);
        return -1;
    }
    u = compute_quota_usage(req->db, req->app->compute, project, err);
    if (!u)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "quota_set", quota_set(req, u, NULL, false)));
    json_decref(u);
    return 0;
}

static int quotas_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (store_exec(req->db, err, "DELETE FROM quotas WHERE project_id = ?",
                   STORE_ARGS(P(api_param(req, 0)))) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

/* ---- GET /servers/{id}/diagnostics -------------------------------------- */

/* Nova's power_state names (nova.compute.power_state.STATE_MAP). */
static const char *power_state_name(int p)
{
    switch (p) {
    case 1:
        return "running";
    case 3:
        return "paused";
    case 4:
        return "shutdown";
    case 6:
        return "crashed";
    case 7:
        return "suspended";
    default:
        return "pending";
    }
}

/* A figure of 'o', or JSON null when the agent did not have it. */
static json_t *fig(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_incref(v) : json_null();
}

static json_t *fig_div(json_t *o, const char *key, json_int_t d)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer(json_integer_value(v) / d) : json_null();
}

/* The 2.48 shape (nova/api/openstack/compute/views/server_diagnostics.py). */
static json_t *diagnostics_248(const struct server_rec *r, json_t *st, const char *virt_type)
{
    json_t *cpus = json_array(), *disks = json_array(), *nics = json_array(), *v;
    json_t *mem = json_object_get(st, "memory");
    size_t i;

    json_array_foreach(json_object_get(st, "vcpus"), i, v)
        json_array_append_new(cpus, json_pack("{s:I, s:O, s:n}", "id", (json_int_t) i, "time", v,
                                              "utilisation"));
    json_array_foreach(json_object_get(st, "disks"), i, v)
        json_array_append_new(disks, json_pack("{s:o, s:o, s:o, s:o, s:o}", "read_bytes",
                                               fig(v, "read_bytes"), "read_requests",
                                               fig(v, "read_requests"), "write_bytes",
                                               fig(v, "write_bytes"), "write_requests",
                                               fig(v, "write_requests"), "errors_count",
                                               fig(v, "errors")));
    json_array_foreach(json_object_get(st, "nics"), i, v)
    {
        json_t *mac = json_object_get(v, "mac_address");
        json_array_append_new(
            nics, json_pack("{s:O, s:o, s:o, s:o, s:o, s:n, s:o, s:o, s:o, s:o, s:n}",
                            "mac_address", mac ? mac : json_null(), "rx_octets",
                            fig(v, "rx_bytes"), "rx_errors", fig(v, "rx_errors"), "rx_drop",
                            fig(v, "rx_drop"), "rx_packets", fig(v, "rx_packets"), "rx_rate",
                            "tx_octets", fig(v, "tx_bytes"), "tx_errors", fig(v, "tx_errors"),
                            "tx_drop", fig(v, "tx_drop"), "tx_packets", fig(v, "tx_packets"),
                            "tx_rate"));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:I, s:I, s:I, s:{s:o, s:o}, s:o, s:o, s:o}",
                     "state", power_state_name(r->power_state), "driver", "libvirt",
                     "hypervisor", *virt_type ? virt_type : "qemu", "hypervisor_os", "linux",
                     "uptime",
                     r->launched_at ? json_integer(st_now_us() / 1000000 - r->launched_at)
                                    : json_null(),
                     "config_drive", r->config_drive, "num_cpus",
                     (json_int_t) json_array_size(cpus), "num_disks",
                     (json_int_t) json_array_size(disks), "num_nics",
                     (json_int_t) json_array_size(nics), "memory_details", "maximum",
                     fig_div(mem, "maximum", 1024), "used", fig_div(mem, "current", 1024),
                     "cpu_details", cpus, "disk_details", disks, "nic_details", nics);
}

/* Before 2.48 the body was the libvirt driver's own flat dictionary. */
static json_t *diagnostics_legacy(json_t *st)
{
    static const char *const disk_keys[][2] = {
        {"read_requests", "read_req"}, {"read_bytes", "read"},   {"write_requests", "write_req"},
        {"write_bytes", "write"},      {"errors", "errors"},
    };
    static const char *const nic_keys[][2] = {
        {"rx_bytes", "rx"},           {"rx_packets", "rx_packets"}, {"rx_errors", "rx_errors"},
        {"rx_drop", "rx_drop"},       {"tx_bytes", "tx"},           {"tx_packets", "tx_packets"},
        {"tx_errors", "tx_errors"},   {"tx_drop", "tx_drop"},
    };
    json_t *o = json_object(), *v, *mem = json_object_get(st, "memory");
    struct st_buf k = ST_BUF_INIT;
    size_t i;

    json_array_foreach(json_object_get(st, "vcpus"), i, v)
    {
        st_buf_reset(&k);
        st_buf_addf(&k, "cpu%zu_time", i);
        json_object_set(o, k.buf, v);
    }
    if (json_object_get(mem, "maximum"))
        json_object_set(o, "memory", json_object_get(mem, "maximum"));
    if (json_object_get(mem, "current"))
        json_object_set(o, "memory-actual", json_object_get(mem, "current"));
    if (json_object_get(mem, "rss"))
        json_object_set(o, "memory-rss", json_object_get(mem, "rss"));
    json_array_foreach(json_object_get(st, "disks"), i, v)
    {
        for (size_t j = 0; j < ST_ARRAY_SIZE(disk_keys); j++) {
            if (!json_object_get(v, disk_keys[j][0]))
                continue;
            st_buf_reset(&k);
            st_buf_addf(&k, "%s_%s", json_string_value(json_object_get(v, "name")),
                        disk_keys[j][1]);
            json_object_set(o, k.buf, json_object_get(v, disk_keys[j][0]));
        }
    }
    json_array_foreach(json_object_get(st, "nics"), i, v)
    {
        for (size_t j = 0; j < ST_ARRAY_SIZE(nic_keys); j++) {
            if (!json_object_get(v, nic_keys[j][0]))
                continue;
            st_buf_reset(&k);
            st_buf_addf(&k, "%s_%s", json_string_value(json_object_get(v, "name")),
                        nic_keys[j][1]);
            json_object_set(o, k.buf, json_object_get(v, nic_keys[j][0]));
        }
    }
    st_buf_release(&k);
    return o;
}

/* The figures come from the agent's last report (compute/stats.h says why
 * not a live call), so they are at most report_interval old. */
static int server_diagnostics(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct server_rec r;
    json_t *st = NULL;
    int64_t at = 0;
    char virt_type[16];
    int rc;

    if (server_get(req->db, &req->auth, api_param(req, 0), &r, err) < 0)
        return -1;
    if (r.power_state != 1) {
        st_err_set(err, ST_ERR_CONFLICT,
                   "Cannot 'get_diagnostics' instance %s while it is in power state %s", r.id,
                   power_state_name(r.power_state));
        server_rec_release(&r);
        return -1;
    }
    rc = r.host && r.host_up
             ? server_stats_get(req->db, r.id, &st, &at, virt_type, sizeof(virt_type), err)
             : 0;
    if (rc <= 0) {
        if (rc == 0)
            st_err_set(err, ST_ERR_CONFLICT, "Instance %s is not ready", r.id);
        server_rec_release(&r);
        return -1;
    }
    api_reply(resp, 200, api_mv(req, 2, 48) ? diagnostics_248(&r, st, virt_type)
                                            : diagnostics_legacy(st));
    json_decref(st);
    server_rec_release(&r);
    return 0;
}

#define A ROUTE_AUTH
#define AA (ROUTE_AUTH | ROUTE_ADMIN)
#define R(m, p, fn, fl) {m, V21 p, fn, fl, SVC_COMPUTE, NULL}

const struct route compute_routes[] = {
    R("GET", "/os-hypervisors", hypervisors_list, AA),
    R("GET", "/os-hypervisors/detail", hypervisors_detail, AA),
    R("GET", "/os-hypervisors/statistics", hypervisors_statistics, AA),
    R("GET", "/os-hypervisors/{id}", hypervisors_show, AA),
    R("GET", "/os-hypervisors/{id}/uptime", hypervisors_uptime, AA),
    R("GET", "/os-services", services_list, AA),
    R("PUT", "/os-services/{id}", services_update, AA),
    R("GET", "/os-availability-zone", az_list, A),
    R("GET", "/os-availability-zone/detail", az_detail, AA),
    R("GET", "/limits", limits, A),
    R("GET", "/os-quota-sets/{project}", quotas_show, A),
    R("GET", "/os-quota-sets/{project}/detail", quotas_detail, A),
    R("GET", "/os-quota-sets/{project}/defaults", quotas_defaults, A),
    R("PUT", "/os-quota-sets/{project}", quotas_update, AA),
    R("DELETE", "/os-quota-sets/{project}", quotas_delete, AA),
    R("GET", "/servers/{id}/diagnostics", server_diagnostics, AA),
};
const size_t compute_routes_count = sizeof(compute_routes) / sizeof(compute_routes[0]);

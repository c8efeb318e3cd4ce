/* options.c - the controller option table and derived paths. */
#include "api/options.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "compute/server.h"
#include "common/banned.h"

const struct cfg_opt controller_opts[] = {
    {"DEFAULT", "data_dir", CFG_STR, "/var/lib/stratus", 0, 0,
     "Directory for the database, token keys, images and generated files."},
    {"DEFAULT", "listen", CFG_STR, "127.0.0.1:5000", 0, 0,
     "Address and port of the API listener: ADDR:PORT or [ADDR]:PORT. Port 0 picks a free "
     "port."},
    {"DEFAULT", "public_url", CFG_STR, "", 0, 0,
     "Base URL clients use to reach the API, for links in responses (e.g. "
     "http://192.0.2.10:5000). Empty: taken from each request's Host header."},
    {"DEFAULT", "log_level", CFG_STR, "info", 0, 0,
     "Least severe level logged: debug, info, warning or error."},
    {"DEFAULT", "log_file", CFG_STR, "", 0, 0,
     "File to append the log to. Empty: standard error."},
    {"DEFAULT", "user", CFG_STR, "", 0, 0,
     "When started as root, switch to this user (and its groups) before opening any file. "
     "Empty: keep the current user."},
    {"api", "max_body_size", CFG_INT, "1048576", 1024, 1073741824,
     "Largest request body accepted, in bytes; larger ones get 413. Image uploads are "
     "streamed and not bound by it."},
    {"api", "max_connections", CFG_INT, "512", 8, 65536,
     "Most client connections served at once."},
    {"metrics", "listen", CFG_STR, "", 0, 0,
     "Address and port of the Prometheus listener (GET /metrics, text format 0.0.4): "
     "ADDR:PORT or [ADDR]:PORT, e.g. 127.0.0.1:9360; port 0 picks a free port. It is a "
     "listener of its own, apart from the API, and has no authentication: keep it on "
     "loopback or a management address. Empty: no metrics listener. --metrics-listen "
     "overrides it."},
    {"database", "connection", CFG_STR, "", 0, 0,
     "The store: sqlite:///PATH (or a plain file path) for SQLite, or "
     "postgresql://USER@HOST:PORT/DB (any libpq URI, e.g. with ?host=/socket/dir) for "
     "PostgreSQL, which several controllers can share. Empty: DATA_DIR/stratus.db."},
    {"database", "pool_size", CFG_INT, "8", 1, 256,
     "Most database connections held open."},
    {"token", "expiration", CFG_INT, "3600", 60, 604800, "Seconds a token stays valid."},
    {"token", "key_repository", CFG_STR, "", 0, 0,
     "Directory of the token encryption keys. Empty: DATA_DIR/keys/token."},
    {"token", "max_active_keys", CFG_INT, "3", 2, 32,
     "Keys kept by `stratus-manage token rotate`; tokens made with an older key stop "
     "validating once it is pruned."},
    {"image", "max_size", CFG_INT, "1099511627776", 1, INT64_MAX,
     "Largest image upload accepted, in bytes (default 1 TiB)."},
    {"compute", "cpu_allocation_ratio", CFG_STR, "16.0", 0, 0,
     "Virtual CPUs the scheduler places per host CPU."},
    {"compute", "ram_allocation_ratio", CFG_STR, "1.5", 0, 0,
     "Guest RAM the scheduler places per MiB of host RAM."},
    {"compute", "disk_allocation_ratio", CFG_STR, "1.0", 0, 0,
     "Guest disk the scheduler places per GiB of host disk."},
    {"compute", "reserved_host_memory_mb", CFG_INT, "512", 0, 1048576,
     "Host RAM kept out of the scheduler's reach, in MiB."},
    {"compute", "service_down_time", CFG_INT, "60", 5, 3600,
     "Seconds without a heartbeat after which a host counts as down."},
    {"compute", "reboot_timeout", CFG_INT, "60", 0, 3600,
     "Seconds a soft reboot waits for the guest to shut down before it becomes a hard "
     "reboot."},
    {"compute", "default_availability_zone", CFG_STR, "nova", 0, 0,
     "Availability zone of hosts and servers that name none."},
    {"compute", "allow_resize_to_same_host", CFG_BOOL, "true", 0, 0,
     "Let a resize stay on the server's host when no other host fits (another host is "
     "preferred)."},
    {"compute", "migration_max_file_gb", CFG_INT, "64", 1, 65536,
     "Largest file a host may upload for a cold migration, in GiB."},
    {"quota", "instances", CFG_INT, "10", -1, INT32_MAX,
     "Default servers per project (-1: unlimited)."},
    {"quota", "cores", CFG_INT, "20", -1, INT32_MAX,
     "Default vCPUs per project (-1: unlimited)."},
    {"quota", "ram", CFG_INT, "51200", -1, INT32_MAX,
     "Default RAM per project in MiB (-1: unlimited)."},
    {"quota", "networks", CFG_INT, "100", -1, INT32_MAX,
     "Default networks per project (-1: unlimited)."},
    {"quota", "subnets", CFG_INT, "100", -1, INT32_MAX,
     "Default subnets per project (-1: unlimited)."},
    {"quota", "ports", CFG_INT, "500", -1, INT32_MAX,
     "Default ports per project (-1: unlimited)."},
    {"quota", "routers", CFG_INT, "10", -1, INT32_MAX,
     "Default routers per project (-1: unlimited)."},
    {"quota", "floating_ips", CFG_INT, "50", -1, INT32_MAX,
     "Default floating IPs per project (-1: unlimited)."},
    {"quota", "security_groups", CFG_INT, "10", -1, INT32_MAX,
     "Default security groups per project, its default group included (-1: unlimited)."},
    {"quota", "security_group_rules", CFG_INT, "100", -1, INT32_MAX,
     "Default security group rules per project (-1: unlimited)."},
    {"network", "tenant_network_types", CFG_STR, "vxlan", 0, 0,
     "Types of project networks, in order of preference (comma-separated: vxlan, vlan, "
     "local); a project network gets the first type with a free segment."},
    {"network", "vni_ranges", CFG_STR, "1001:2000", 0, 0,
     "VXLAN VNIs for project networks: comma-separated LO:HI ranges."},
    {"network", "network_vlan_ranges", CFG_STR, "physnet1:100:200", 0, 0,
     "Physical networks that carry VLANs, each PHYSNET or PHYSNET:LO:HI (the range serves "
     "project networks); comma-separated."},
    {"network", "flat_networks", CFG_STR, "*", 0, 0,
     "Physical networks admins may make flat networks on (comma-separated); * for any."},
    {"network", "global_physnet_mtu", CFG_INT, "1500", 68, 65535,
     "MTU of the physical networks. VXLAN networks get 50 bytes less."},
    {"console", "token_ttl", CFG_INT, "600", 1, 86400,
     "Seconds a console URL's one-time token stays valid (openstack console url show)."},
    {"console", "novnc_dir", CFG_STR, "/usr/share/novnc", 0, 0,
     "Directory of the noVNC web client served under /console/novnc/ (Debian's novnc "
     "package)."},
    {"metadata", "shared_secret", CFG_STR, "", 0, 0,
     "Key the agents' metadata proxies sign guests' requests with (HMAC-SHA256), handed to "
     "each agent in its desired state. Empty: the one in DATA_DIR/metadata_secret, which "
     "bootstrap (or stratusd) makes when it is absent."},
    {"identity", "password_hash_cost", CFG_INT, "0", 0, 11,
     "yescrypt cost of password hashes (higher is slower). 0: libxcrypt's default (5)."},
};
const size_t controller_opts_count = sizeof(controller_opts) / sizeof(controller_opts[0]);

struct cfg *controller_config(const char *config_file, const char *data_dir, const char *listen,
                              struct st_err *err)
{
    struct cfg *cfg = cfg_new(controller_opts, controller_opts_count);
    if ((config_file && cfg_load_file(cfg, config_file, err) < 0) ||
        (data_dir && cfg_set(cfg, "DEFAULT", "data_dir", data_dir, err) < 0) ||
        (listen && cfg_set(cfg, "DEFAULT", "listen", listen, err) < 0)) {
        cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

char *controller_db_url(const struct cfg *cfg)
{
    const char *c = cfg_str(cfg, "database", "connection");
    if (c && *c)
        return st_xstrdup(c);
    return st_xasprintf("%s/stratus.db", cfg_str(cfg, "DEFAULT", "data_dir"));
}

static int ratio(const struct cfg *cfg, const char *name, double *out, struct st_err *err)
{
    const char *v = cfg_str(cfg, "compute", name);
    char *end = NULL;
    double d = strtod(v, &end);
    if (!*v || *end || d <= 0 || d > 1000) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "option [compute] %s: '%s' is not a ratio", name, v);
        return -1;
    }
    *out = d;
    return 0;
}

int controller_compute_conf(const struct cfg *cfg, struct compute_conf *cc, struct st_err *err)
{
    memset(cc, 0, sizeof(*cc));
    if (ratio(cfg, "cpu_allocation_ratio", &cc->cpu_allocation_ratio, err) < 0 ||
        ratio(cfg, "ram_allocation_ratio", &cc->ram_allocation_ratio, err) < 0 ||
        ratio(cfg, "disk_allocation_ratio", &cc->disk_allocation_ratio, err) < 0)
        return -1;
    cc->reserved_host_memory_mb = cfg_int(cfg, "compute", "reserved_host_memory_mb");
    cc->service_down_time = cfg_int(cfg, "compute", "service_down_time");
    cc->reboot_timeout = (int) cfg_int(cfg, "compute", "reboot_timeout");
    cc->default_az = cfg_str(cfg, "compute", "default_availability_zone");
    cc->allow_resize_to_same_host = cfg_bool(cfg, "compute", "allow_resize_to_same_host");
    cc->migration_max_file_gb = cfg_int(cfg, "compute", "migration_max_file_gb");
    cc->default_quota_instances = cfg_int(cfg, "quota", "instances");
    cc->default_quota_cores = cfg_int(cfg, "quota", "cores");
    cc->default_quota_ram = cfg_int(cfg, "quota", "ram");
    return 0;
}

char *controller_key_dir(const struct cfg *cfg)
{
    const char *c = cfg_str(cfg, "token", "key_repository");
    if (c && *c)
        return st_xstrdup(c);
    return st_xasprintf("%s/keys/token", cfg_str(cfg, "DEFAULT", "data_dir"));
}

/*
 * server.h - Nova servers: the intent the API writes (create, power, delete,
 * rebuild, rescue, resize, snapshot, reboot, lock, metadata) and the states
 * the agents' reports move them through.
 *
 * Every change that an agent must act on bumps its host's revision in the
 * same transaction (host.h), so the agent's long-poll wakes.  Creation is one
 * transaction: quota check, the rows, and the capacity claim of the
 * scheduler; a server no host can take is created in ERROR with Nova's
 * "No valid host was found." fault.
 *
 * Servers come back as 'struct server_rec' (one row, owned strings) for the
 * API views, which render them per microversion.
 */
#ifndef ST_COMPUTE_SERVER_H
#define ST_COMPUTE_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "compute/volumes.h"
#include "identity/policy.h"
#include "store/store.h"

struct compute_conf {
    double cpu_allocation_ratio;  /* 16.0 */
    double ram_allocation_ratio;  /* 1.5 */
    double disk_allocation_ratio; /* 1.0 */
    int64_t reserved_host_memory_mb;
    int64_t service_down_time;    /* seconds */
    int64_t default_quota_instances, default_quota_cores, default_quota_ram;
    int reboot_timeout;           /* seconds before a soft reboot turns hard */
    const char *default_az;       /* "nova" */
    bool allow_resize_to_same_host; /* a resize may stay on its host (default true) */
    int64_t migration_max_file_gb;  /* largest migration file a host may upload */
};

struct server_rec {
    char *id, *name, *description, *hostname, *project_id, *user_id, *host;
    char *image_id;
    json_t *image;      /* {"image": {...}, "kernel": {...}|null, "ramdisk": ...} */
    json_t *flavor;     /* the flavor as booted (id, name, vcpus, ram, disk, ...) */
    json_t *old_flavor; /* during a resize, else NULL */
    char *key_name, *user_data, *availability_zone;
    bool config_drive;
    char *vm_state, *task_state; /* task_state may be NULL */
    int power_state;
    char *desired_power;
    bool delete_requested;
    int64_t disk_generation;
    json_t *rescue_image;
    char *resize_state;
    bool locked;
    char *locked_reason, *locked_by;
    int launch_index;
    char *reservation_id;
    json_t *fault;      /* {"code", "message", "details", "created"} or NULL */
    char *access_ipv4, *access_ipv6;
    int64_t launched_at, terminated_at, created_at, updated_at; /* epoch s, 0 = none */
    json_t *metadata;   /* object */
    json_t *tags;       /* array */
    json_t *addresses;  /* filled by the API layer from network.h, or NULL */
    json_t *security_groups; /* likewise: [{"name"}], or NULL */
    char *hypervisor_hostname; /* of its host, or NULL */
    bool host_up;       /* its host heartbeats */
};

void server_rec_release(struct server_rec *r);

/* Nova's status string for a vm_state/task_state pair. */
const char *server_status(const struct server_rec *r);

/* The request to create servers (POST /servers), checked by the API layer
 * for shape; all strings borrowed. */
struct server_create {
    const char *name;
    const char *hostname;       /* 2.90: as given, else derived from the name */
    const char *description;
    const char *image_ref;
    const char *flavor_ref;
    const char *key_name;
    const char *user_data;      /* base64 */
    const char *availability_zone;
    const char *access_ipv4, *access_ipv6;
    const char *admin_pass;
    json_t *metadata;           /* object of strings, or NULL */
    json_t *tags;               /* array of strings, or NULL */
    json_t *networks;           /* "none", "auto", or an array of {"uuid", "port",
                                   "fixed_ip"}; NULL = none */
    json_t *security_groups;    /* [{"name": ...}] or NULL: the default group */
    bool config_drive;
    int min_count, max_count;
    const char *request_id;
    const struct compute_bdm *bdms; /* block_device_mapping_v2 to volumes */
    size_t nbdms;
    /* os:scheduler_hints same_host / different_host: server ids (borrowed) */
    const char *const *same_host;
    size_t n_same_host;
    const char *const *different_host;
    size_t n_different_host;
};

/* Creates the servers; returns a new array of their ids (min..max of them)
 * or NULL with err (400 bad refs, 403 quota, 404...). */
json_t *server_create(struct store_conn *c, const struct compute_conf *conf,
                      const struct auth_ctx *ctx, const struct server_create *req,
                      struct st_err *err);

/* Loads a server the caller may see (NOT_FOUND otherwise). */
int server_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
               struct server_rec *out, struct st_err *err) __attribute__((warn_unused_result));

struct server_query {
    const char *name_regex;     /* "name" filter: a POSIX extended regex */
    const char *status;         /* Nova status, e.g. ACTIVE */
    const char *image, *flavor, *host, *ip;
    int64_t changes_since;      /* epoch s, -1 unset */
    bool all_tenants;           /* admin only */
    const char *project_id;     /* admin filter */
    const char *sort_key;       /* created_at (default), name, ... */
    bool sort_asc;
    int limit;                  /* -1: no limit */
    const char *marker;
};
void server_query_init(struct server_query *q);
/* Lists visible servers; returns a new array of struct server_rec in
 * '*out' and their count. */
int server_list(struct store_conn *c, const struct compute_conf *conf, const struct auth_ctx *ctx,
                const struct server_query *q, struct server_rec **out, size_t *n, bool *more,
                struct st_err *err) __attribute__((warn_unused_result));
void server_list_free(struct server_rec *recs, size_t n);

/* PUT /servers/{id}: name, hostname (2.90), description. */
int server_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                  const char *name, const char *hostname, const char *description,
                  bool set_description,
                  struct st_err *err) __attribute__((warn_unused_result));
int server_delete(struct store_conn *c, const struct compute_conf *conf,
                  const struct auth_ctx *ctx, const char *id, bool force, const char *request_id,
                  struct st_err *err) __attribute__((warn_unused_result));

/* Server actions (POST /servers/{id}/action).  'args' is the action's JSON
 * value.  Returns 0, or -1 with CONFLICT for an action in the wrong state. */
enum server_action_kind {
    SA_START,
    SA_STOP,
    SA_REBOOT,
    SA_PAUSE,
    SA_UNPAUSE,
    SA_SUSPEND,
    SA_RESUME,
    SA_LOCK,
    SA_UNLOCK,
    SA_REBUILD,
    SA_RESCUE,
    SA_UNRESCUE,
    SA_RESIZE,
    SA_CONFIRM_RESIZE,
    SA_REVERT_RESIZE,
    SA_CREATE_IMAGE,
    SA_CONSOLE_OUTPUT,
    SA_FORCE_DELETE,
    /* compute/migration.h; 'args' as the API layer normalised them:
     * {"host": NAME|null} and, live, {"block_migration": bool}. */
    SA_MIGRATE,
    SA_LIVE_MIGRATE,
    SA_EVACUATE,
};
struct server_action_result {
    char *image_id;      /* createImage */
    char *admin_pass;    /* rebuild, rescue */
    char *task_id;       /* os-getConsoleOutput: the task to wait for */
};
int server_action(struct store_conn *c, const struct compute_conf *conf,
                  const struct auth_ctx *ctx, const char *id, enum server_action_kind kind,
                  json_t *args, const char *request_id, struct server_action_result *res,
                  struct st_err *err) __attribute__((warn_unused_result));
void server_action_result_release(struct server_action_result *res);

/* Metadata: replace all (set_all), merge (update), one key. */
int server_metadata_set(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        json_t *meta, bool replace, struct st_err *err)
    __attribute__((warn_unused_result));
int server_metadata_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           const char *key, struct st_err *err)
    __attribute__((warn_unused_result));

/* Instance actions: list and one (with events). */
json_t *server_actions_list(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                            struct st_err *err);
json_t *server_action_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          const char *request_id, struct st_err *err);

/* Quotas for instances, cores, ram: {"instances": {"limit", "in_use"}, ...}. */
json_t *compute_quota_usage(struct store_conn *c, const struct compute_conf *conf,
                            const char *project_id, struct st_err *err);
int compute_quota_set(struct store_conn *c, const char *project_id, const char *resource,
                      int64_t limit, struct st_err *err) __attribute__((warn_unused_result));
int64_t compute_quota_limit(struct store_conn *c, const struct compute_conf *conf,
                            const char *project_id, const char *resource, struct st_err *err);

#endif

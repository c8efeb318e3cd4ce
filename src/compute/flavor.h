/*
 * flavor.h - Nova flavors: the sizes servers are built with (vCPUs, RAM,
 * root, ephemeral and swap disk), who may use a private flavor (the access
 * list of projects), and the free-form extra specs that tune placement and
 * the guest.
 *
 * Flavors come back as jansson objects in a neutral form, which the API
 * layer turns into Nova's representation for the request's microversion:
 *   {"id", "name", "ram", "vcpus", "disk", "ephemeral", "swap" (integers),
 *    "rxtx_factor" (real), "is_public", "disabled" (booleans),
 *    "description" (string or null), "extra_specs" (object)}
 * "extra_specs" is present only when the caller may read extra specs.
 *
 * Who may see what is decided here, once:
 *   - an admin sees every flavor;
 *   - anyone else sees public flavors and the private ones its project is on
 *     the access list of; any other flavor is NOT_FOUND;
 *   - listings hide disabled flavors from non-admins;
 *   - extra specs are readable by readers and admins (Nova's
 *     os-flavor-extra-specs:index rule); all writes are admin-only.
 * Input objects are checked with Nova's rules and messages (the JSON schemas
 * of nova/api/openstack/compute/schemas/flavor*.py).
 *
 * Ownership: every json_t * returned is a new reference for the caller;
 * json_t * arguments are borrowed.  NULL or -1 always comes with 'err' set.
 */
#ifndef ST_FLAVOR_H
#define ST_FLAVOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "identity/policy.h"
#include "store/store.h"

#define FLAVOR_NAME_MAX 255
#define FLAVOR_ID_MAX 255
#define FLAVOR_DESCRIPTION_MAX 65535 /* characters */
#define FLAVOR_SPEC_KEY_MAX 255
#define FLAVOR_SPEC_VALUE_MAX 255
#define FLAVOR_SPECS_MAX 256 /* extra specs on one flavor */
#define FLAVOR_LIST_MAX 1000 /* Nova's [api] max_limit */
#define FLAVOR_INT_MAX 2147483647

/* POST /flavors: 'in' is the value of "flavor".  'description' allows the
 * "description" member (microversion 2.55).  Admin only.  Returns the new
 * flavor; CONFLICT when the name or id is taken. */
json_t *flavor_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                      bool description, struct st_err *err);
/* The flavor 'id' if the caller may see it; NOT_FOUND otherwise. */
json_t *flavor_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                   struct st_err *err);
/* PUT /flavors/{id} (2.55): 'in' is the value of "flavor", which must hold
 * exactly "description".  Admin only.  Returns the updated flavor. */
json_t *flavor_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      json_t *in, struct st_err *err);
/* Admin only; the access list and extra specs go with the flavor. */
int flavor_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                  struct st_err *err) __attribute__((warn_unused_result));

/* The sort keys GET /flavors accepts, in Nova's order (NULL-terminated). */
extern const char *const flavor_sort_keys[];

struct flavor_query {
    bool has_min_ram, has_min_disk;
    int64_t min_ram, min_disk; /* MB and GB, when has_min_* */
    int is_public;             /* admins only: 1 (default), 0, or -1 for all */
    const char *sort_key;      /* one of flavor_sort_keys; NULL: "flavorid" */
    bool sort_desc;
    int limit;                 /* 0..FLAVOR_LIST_MAX */
    const char *marker;        /* a flavor id, or NULL */
};
void flavor_query_init(struct flavor_query *q);
/* Lists the flavors the caller may see matching 'q' (see the rules above).
 * BAD_REQUEST for an unknown marker.  Returns a new array. */
json_t *flavor_list(struct store_conn *c, const struct auth_ctx *ctx,
                    const struct flavor_query *q, struct st_err *err);

/* os-flavor-access, admin only.  The list is [{"flavor_id", "tenant_id"}].
 * Listing a public flavor's access is NOT_FOUND; adding to a public flavor
 * is CONFLICT when 'strict' (microversion 2.7).  add and remove return the
 * list after the change.  The caller checks that 'project' exists. */
json_t *flavor_access_list(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           struct st_err *err);
json_t *flavor_access_add(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          const char *project, bool strict, struct st_err *err);
json_t *flavor_access_remove(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                             const char *project, struct st_err *err);

/* os-extra_specs.  Reading needs the reader role; writing, admin. */
/* All of them, as an object of strings. */
json_t *flavor_specs_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         struct st_err *err);
/* One, as a JSON string; NOT_FOUND when the flavor has no such key. */
json_t *flavor_spec_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        const char *key, struct st_err *err);
/* Adds or replaces the members of 'specs' (an object of strings or numbers;
 * numbers are stored as Python prints them).  'validate' checks the known
 * namespaces with flavor_spec_validate() (microversion 2.86). */
int flavor_specs_set(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                     json_t *specs, bool validate, struct st_err *err)
    __attribute__((warn_unused_result));
int flavor_spec_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       const char *key, struct st_err *err) __attribute__((warn_unused_result));
/* Checks the form of one extra spec key and value as the schema does:
 * key of 1-255 of [a-zA-Z0-9-_:. ], a string value of at most 255
 * characters or a number (converted into 'out', a new JSON string). */
int flavor_spec_check(const char *key, json_t *value, json_t **out, struct st_err *err)
    __attribute__((warn_unused_result));

/* Nova's extra spec validators (2.86): a key in a namespace Nova knows
 * (hw:, hw_rng:, hw_video:, quota:, resources[N]:, trait[N]:, os:, accel:,
 * aggregate_instance_extra_specs:, capabilities:, pci_passthrough:,
 * vmware:, and the bare group_policy and hide_hypervisor_id) must be a
 * known one and its value of the right form.  Keys elsewhere pass.
 * Implemented in flavor_specs.c. */
int flavor_spec_validate(const char *key, const char *value, struct st_err *err)
    __attribute__((warn_unused_result));

/* Creates the default public flavors that are missing (by name and id):
 * Nova's old m1.tiny/small/medium/large and two small enough for TCG,
 * "tiny" (1 vCPU, 128 MB, 1 GB) and "small" (1 vCPU, 256 MB, 2 GB).
 * Idempotent.  Returns the number created, or -1. */
int flavor_bootstrap(struct store_conn *c, struct st_err *err) __attribute__((warn_unused_result));

#endif

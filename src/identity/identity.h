/*
 * identity.h - Keystone v3 domain logic: authentication, stateless tokens,
 * revocation, the catalog, and the identity resources (domains, projects,
 * users, roles, role assignments, regions, services, endpoints).
 *
 * This layer knows no HTTP.  Resources come back as jansson objects with
 * Keystone's field names and without links; the API layer (api/identity*.c)
 * adds links, envelopes and status codes.  Policy checks are the API layer's
 * job (identity/policy.h), except that authentication itself refuses
 * disabled users, projects and domains.
 */
#ifndef ST_IDENTITY_H
#define ST_IDENTITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "identity/policy.h"
#include "store/store.h"

struct identity_opts {
    const char *key_dir;    /* token keys directory */
    int64_t token_ttl;      /* seconds a token lives */
    int hash_cost;          /* yescrypt cost; 0 = libxcrypt's default */
};

struct identity;

/* Loads the token keys.  'st' is borrowed.  Returns a new handle. */
struct identity *identity_new(struct store *st, const struct identity_opts *opts,
                              struct st_err *err);
void identity_free(struct identity *idn);
/* Re-reads the key directory (after `stratus-manage token rotate`).  The old
 * keys stay in use if the directory cannot be read. */
int identity_reload_keys(struct identity *idn, struct st_err *err)
    __attribute__((warn_unused_result));

/*
 * Authentication.
 */

/* POST /v3/auth/tokens: checks the "auth" object of the request (password or
 * token method, optional scope), fills 'ctx' and appends the new token to
 * 'token'.  'caller' is the context of the X-Auth-Token, used for the token
 * method when the body has no token id (may be NULL). */
int identity_issue(struct identity *idn, struct store_conn *c, json_t *auth,
                   struct auth_ctx *ctx, struct st_buf *token, struct st_err *err)
    __attribute__((warn_unused_result));
/* Validates a token: authentic, unexpired, not revoked, its user, project and
 * domains still enabled; fills 'ctx' with the current roles.  UNAUTHORIZED
 * (401) otherwise, NOT_FOUND for a subject token that fails (Keystone). */
int identity_validate(struct identity *idn, struct store_conn *c, const char *token,
                      struct auth_ctx *ctx, struct st_err *err)
    __attribute__((warn_unused_result));
/* Revokes one token (by its audit id).  The token must be valid. */
int identity_revoke(struct identity *idn, struct store_conn *c, const char *token,
                    struct st_err *err) __attribute__((warn_unused_result));
/* The body of a token response: {"token": {...}} (new reference). */
json_t *identity_token_json(struct identity *idn, struct store_conn *c,
                            const struct auth_ctx *ctx, bool with_catalog, struct st_err *err);
/* The catalog for a project scope (project_id may be NULL): a new array. */
json_t *identity_catalog(struct store_conn *c, const char *project_id, struct st_err *err);
/* Projects 'user_id' holds a role on, enabled ones only: a new array. */
json_t *identity_user_projects(struct store_conn *c, const char *user_id, struct st_err *err);

/*
 * Resources.
 */
enum idn_kind {
    IDN_DOMAIN,
    IDN_PROJECT,
    IDN_USER,
    IDN_ROLE,
    IDN_REGION,
    IDN_SERVICE,
    IDN_ENDPOINT,
    IDN__COUNT
};

/* "project", "projects": the JSON member names of a kind. */
const char *idn_kind_name(enum idn_kind kind);
const char *idn_kind_plural(enum idn_kind kind);

/* A listing filter: query parameter name and value, both borrowed. */
struct idn_filter {
    const char *key;
    const char *value;
};

/* Creates a resource from the JSON object of the request ('in' is the inner
 * object, e.g. the value of "project").  Returns the new resource. */
json_t *idn_create(struct identity *idn, struct store_conn *c, enum idn_kind kind, json_t *in,
                   struct st_err *err);
json_t *idn_get(struct store_conn *c, enum idn_kind kind, const char *id, struct st_err *err);
/* Lists resources matching every filter; unknown filter keys are ignored, as
 * Keystone does.  Returns a new array. */
json_t *idn_list(struct store_conn *c, enum idn_kind kind, const struct idn_filter *filters,
                 size_t nfilters, struct st_err *err);
json_t *idn_update(struct identity *idn, struct store_conn *c, enum idn_kind kind,
                   const char *id, json_t *in, struct st_err *err);
int idn_delete(struct store_conn *c, enum idn_kind kind, const char *id, struct st_err *err)
    __attribute__((warn_unused_result));
/* True when a resource of 'kind' named or numbered 'id' exists. */
int idn_exists(struct store_conn *c, enum idn_kind kind, const char *id, struct st_err *err);

/* Role assignments.  'target_type' is "project" or "domain". */
int idn_grant(struct store_conn *c, const char *target_type, const char *target_id,
              const char *user_id, const char *role_id, struct st_err *err)
    __attribute__((warn_unused_result));
int idn_revoke_grant(struct store_conn *c, const char *target_type, const char *target_id,
                     const char *user_id, const char *role_id, struct st_err *err)
    __attribute__((warn_unused_result));
/* 1 if the grant exists, 0 if not, -1 on error. */
int idn_check_grant(struct store_conn *c, const char *target_type, const char *target_id,
                    const char *user_id, const char *role_id, struct st_err *err);
/* Roles granted on a target to a user: a new array of roles. */
json_t *idn_grant_roles(struct store_conn *c, const char *target_type, const char *target_id,
                        const char *user_id, struct st_err *err);
/* GET /v3/role_assignments with its filters (user.id, scope.project.id,
 * scope.domain.id, role.id) and include_names; effective assignments are the
 * direct ones (there are no groups or inheritance).  A new array of
 * assignments without links. */
json_t *idn_assignments(struct store_conn *c, const struct idn_filter *filters, size_t n,
                        bool include_names, struct st_err *err);

/* A user changing their own password: checks the original one, stores the
 * new hash and revokes the user's tokens. */
int idn_change_password(struct identity *idn, struct store_conn *c, const char *user_id,
                        const char *original, const char *password, struct st_err *err)
    __attribute__((warn_unused_result));

/* Idempotent bootstrap: domain "default", project and user "admin" (with
 * 'password'), roles admin/member/reader, admin's admin role, region
 * 'region', and the catalog of the five services under 'public_url'. */
int identity_bootstrap(struct identity *idn, struct store_conn *c, const char *password,
                       const char *public_url, const char *region, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

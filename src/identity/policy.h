/*
 * policy.h - who may do what: the caller's authenticated context and the one
 * set of rules every service applies (ARCHITECTURE §7).
 *
 *   admin   (role 'admin' on the scoped project) may do everything, in every
 *           project;
 *   member  may read and write its own project's resources;
 *   reader  may only read them.
 * Another project's resource is invisible: the rules answer NOT_FOUND, never
 * FORBIDDEN, for it, so that ids do not leak.
 *
 * Handlers call policy_read()/policy_write()/policy_admin() before acting, and
 * domain queries filter by policy_scope(), which is NULL for an admin.
 */
#ifndef ST_POLICY_H
#define ST_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

#define AUTH_ID_MAX 65
#define AUTH_NAME_MAX 256
#define AUTH_MAX_ROLES 16

enum auth_method { AUTH_M_PASSWORD = 1, AUTH_M_TOKEN = 2 };

struct auth_role {
    char id[AUTH_ID_MAX];
    char name[AUTH_NAME_MAX];
};

struct auth_ctx {
    char user_id[AUTH_ID_MAX];
    char user_name[AUTH_NAME_MAX];
    char user_domain_id[AUTH_ID_MAX];
    char user_domain_name[AUTH_NAME_MAX];
    int64_t password_expires_at; /* 0: never */
    bool project_scoped;         /* false: unscoped token */
    bool domain_scoped;
    char project_id[AUTH_ID_MAX]; /* or the domain id for a domain scope */
    char project_name[AUTH_NAME_MAX];
    char project_domain_id[AUTH_ID_MAX];
    char project_domain_name[AUTH_NAME_MAX];
    struct auth_role roles[AUTH_MAX_ROLES];
    int nroles;
    unsigned methods; /* AUTH_M_* bits */
    int64_t issued_at, expires_at; /* epoch microseconds */
    char audit_id[24];             /* base64url of 16 bytes */
    char parent_audit_id[24];      /* "" unless rescoped from another token */
    bool is_admin, is_member, is_reader;
};

/* Derives is_admin/is_member/is_reader from the role names. */
void policy_set_flags(struct auth_ctx *ctx);
bool policy_has_role(const struct auth_ctx *ctx, const char *name);

/* Admin-only actions: FORBIDDEN for anyone else. */
int policy_admin(const struct auth_ctx *ctx, const char *action, struct st_err *err)
    __attribute__((warn_unused_result));
/* Reading a resource owned by 'project_id' (NULL: a resource every
 * authenticated caller may read): NOT_FOUND for another project's. */
int policy_read(const struct auth_ctx *ctx, const char *project_id, const char *what,
                const char *id, struct st_err *err) __attribute__((warn_unused_result));
/* Writing it: as policy_read, then FORBIDDEN for a reader. */
int policy_write(const struct auth_ctx *ctx, const char *project_id, const char *what,
                 const char *id, struct st_err *err) __attribute__((warn_unused_result));
/* The project a listing is confined to: NULL for an admin (all projects when
 * asked), else the caller's project. */
const char *policy_scope(const struct auth_ctx *ctx);

#endif

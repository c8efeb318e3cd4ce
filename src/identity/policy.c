/* policy.c - the role rules, in one place. */
#include "identity/policy.h"

#include <string.h>

#include "common/banned.h"

bool policy_has_role(const struct auth_ctx *ctx, const char *name)
{
    for (int i = 0; i < ctx->nroles; i++)
        if (!strcmp(ctx->roles[i].name, name))
            return true;
    return false;
}

void policy_set_flags(struct auth_ctx *ctx)
{
    /* Roles imply one another as Keystone's default role hierarchy does:
     * admin implies member, member implies reader. */
    ctx->is_admin = policy_has_role(ctx, "admin");
    ctx->is_member = ctx->is_admin || policy_has_role(ctx, "member");
    ctx->is_reader = ctx->is_member || policy_has_role(ctx, "reader");
}

int policy_admin(const struct auth_ctx *ctx, const char *action, struct st_err *err)
{
    if (ctx && ctx->is_admin)
        return 0;
    st_err_set(err, ST_ERR_FORBIDDEN, "You are not authorized to perform the requested action: %s.",
               action);
    return -1;
}

int policy_read(const struct auth_ctx *ctx, const char *project_id, const char *what,
                const char *id, struct st_err *err)
{
    if (ctx->is_admin)
        return 0;
    if (project_id && !(ctx->project_scoped && !strcmp(project_id, ctx->project_id))) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Could not find %s: %s.", what, id);
        return -1;
    }
    if (!ctx->is_reader) {
        st_err_set(err, ST_ERR_FORBIDDEN, "You are not authorized to read %s %s.", what, id);
        return -1;
    }
    return 0;
}

int policy_write(const struct auth_ctx *ctx, const char *project_id, const char *what,
                 const char *id, struct st_err *err)
{
    if (policy_read(ctx, project_id, what, id, err) < 0)
        return -1;
    if (!ctx->is_member) {
        st_err_set(err, ST_ERR_FORBIDDEN, "You are not authorized to change %s %s.", what, id);
        return -1;
    }
    return 0;
}

const char *policy_scope(const struct auth_ctx *ctx)
{
    return ctx->is_admin ? NULL : ctx->project_id;
}

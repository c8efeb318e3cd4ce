/*
 * assignment.c - role assignments: a user's roles on a project or a domain
 * (grant, revoke, check, list them, as GET /v3/role_assignments shows them),
 * and the projects a user holds a role on.
 */
#include "identity/identity.h"

#include <string.h>

#include "common/buf.h"
#include "identity/internal.h"
#include "common/banned.h"

static const char *assign_type(const char *target_type)
{
    return !strcmp(target_type, "domain") ? "UserDomain" : "UserProject";
}

int idn_grant(struct store_conn *c, const char *target_type, const char *target_id,
              const char *user_id, const char *role_id, struct st_err *err)
{
    bool domain = !strcmp(target_type, "domain");
    int r = idn_exists(c, domain ? IDN_DOMAIN : IDN_PROJECT, target_id, err);
    if (r <= 0) {
        if (r == 0)
            st_err_set(err, ST_ERR_NOT_FOUND, "Could not find %s: %s.", target_type, target_id);
        return -1;
    }
    if (idn_exists(c, IDN_USER, user_id, err) <= 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Could not find user: %s.", user_id);
        return -1;
    }
    if (idn_exists(c, IDN_ROLE, role_id, err) <= 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Could not find role: %s.", role_id);
        return -1;
    }
    if (store_exec(c, err,
                   "INSERT INTO role_assignments (type, actor_id, target_id, role_id)"
                   " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                   STORE_ARGS(P(assign_type(target_type)), P(user_id), P(target_id),
                              P(role_id))) < 0)
        return -1;
    idn_changed();
    return 0;
}

int idn_revoke_grant(struct store_conn *c, const char *target_type, const char *target_id,
                     const char *user_id, const char *role_id, struct st_err *err)
{
    int64_t n =
        store_exec(c, err,
                   "DELETE FROM role_assignments WHERE type = ? AND actor_id = ? AND"
                   " target_id = ? AND role_id = ?",
                   STORE_ARGS(P(assign_type(target_type)), P(user_id), P(target_id), P(role_id)));
    if (n < 0)
        return -1;
    if (n == 0) {
        st_err_set(err, ST_ERR_NOT_FOUND,
                   "Could not find role assignment with role: %s, user "
                   "or group: %s, project, domain, or system: %s.",
                   role_id, user_id, target_id);
        return -1;
    }
    idn_changed();
    return 0;
}

int idn_check_grant(struct store_conn *c, const char *target_type, const char *target_id,
                    const char *user_id, const char *role_id, struct st_err *err)
{
    int64_t one;
    return store_get_int(
        c, err, &one,
        "SELECT 1 FROM role_assignments WHERE type = ? AND actor_id = ? AND"
        " target_id = ? AND role_id = ?",
        STORE_ARGS(P(assign_type(target_type)), P(user_id), P(target_id), P(role_id)));
}

json_t *idn_grant_roles(struct store_conn *c, const char *target_type, const char *target_id,
                        const char *user_id, struct st_err *err)
{
    return idn_select(c, err, IDN_ROLE,
                      " WHERE id IN (SELECT role_id FROM role_assignments WHERE type = ? AND"
                      " actor_id = ? AND target_id = ?) ORDER BY name",
                      STORE_ARGS(P(assign_type(target_type)), P(user_id), P(target_id)));
}

static json_t *id_name(const char *id, const char *name, bool names)
{
    json_t *o = json_pack("{s:s}", "id", id ? id : "");
    if (names && name)
        json_object_set_new(o, "name", json_string(name));
    return o;
}

json_t *idn_assignments(struct store_conn *c, const struct idn_filter *filters, size_t n,
                        bool include_names, struct st_err *err)
{
    struct st_buf sql = ST_BUF_INIT;
    struct store_param p[STORE_MAX_PARAMS];
    size_t np = 0;
    struct store_stmt *s;
    json_t *arr;
    int rc;

    st_buf_adds(&sql,
                "SELECT a.type, a.actor_id, a.target_id, a.role_id, r.name, u.name, u.domain_id,"
                " ud.name, p.name, p.domain_id, pd.name, d.name"
                " FROM role_assignments a"
                " JOIN roles r ON r.id = a.role_id"
                " JOIN users u ON u.id = a.actor_id"
                " JOIN domains ud ON ud.id = u.domain_id"
                " LEFT JOIN projects p ON a.type = 'UserProject' AND p.id = a.target_id"
                " LEFT JOIN domains pd ON pd.id = p.domain_id"
                " LEFT JOIN domains d ON a.type = 'UserDomain' AND d.id = a.target_id"
                " WHERE 1 = 1");
    for (size_t i = 0; i < n && np + 1 < STORE_MAX_PARAMS; i++) {
        const char *k = filters[i].key;
        if (!strcmp(k, "user.id")) {
            st_buf_adds(&sql, " AND a.actor_id = ?");
            p[np++] = store_ptext(filters[i].value);
        } else if (!strcmp(k, "scope.project.id")) {
            st_buf_adds(&sql, " AND a.type = 'UserProject' AND a.target_id = ?");
            p[np++] = store_ptext(filters[i].value);
        } else if (!strcmp(k, "scope.domain.id")) {
            st_buf_adds(&sql, " AND a.type = 'UserDomain' AND a.target_id = ?");
            p[np++] = store_ptext(filters[i].value);
        } else if (!strcmp(k, "role.id")) {
            st_buf_adds(&sql, " AND a.role_id = ?");
            p[np++] = store_ptext(filters[i].value);
        } else if (!strcmp(k, "group.id") || !strcmp(k, "scope.system")) {
            st_buf_adds(&sql, " AND 1 = 0"); /* no groups, no system scope */
        }
    }
    st_buf_adds(&sql, " ORDER BY a.actor_id, a.target_id, r.name");
    s = store_query(c, err, sql.buf, p, np);
    st_buf_release(&sql);
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        bool domain = !strcmp(store_text(s, 0), "UserDomain");
        json_t *user = id_name(store_text(s, 1), store_text(s, 5), include_names);
        json_t *scope_obj;
        if (include_names)
            json_object_set_new(user, "domain", id_name(store_text(s, 6), store_text(s, 7), true));
        if (domain) {
            scope_obj = id_name(store_text(s, 2), store_text(s, 11), include_names);
        } else {
            scope_obj = id_name(store_text(s, 2), store_text(s, 8), include_names);
            if (include_names)
                json_object_set_new(scope_obj, "domain",
                                    id_name(store_text(s, 9), store_text(s, 10), true));
        }
        json_t *a = json_object();
        json_object_set_new(a, "role", id_name(store_text(s, 3), store_text(s, 4), include_names));
        json_object_set_new(a, "user", user);
        json_object_set_new(a, "scope",
                            json_pack("{s:o}", domain ? "domain" : "project", scope_obj));
        json_array_append_new(arr, a);
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

json_t *identity_user_projects(struct store_conn *c, const char *user_id, struct st_err *err)
{
    return idn_select(c, err, IDN_PROJECT,
                      " WHERE enabled = 1 AND id IN (SELECT target_id FROM role_assignments"
                      " WHERE type = 'UserProject' AND actor_id = ?) ORDER BY name",
                      STORE_ARGS(P(user_id)));
}

/*
 * bootstrap.c - `stratus-manage bootstrap`: the domain Default, the admin
 * project and user (with its password), the roles admin, member and reader,
 * the region and the catalog of the five services under the public URL,
 * created or repaired in one transaction, so running it again is harmless.
 */
#include "identity/identity.h"

#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "identity/internal.h"
#include "identity/password.h"
#include "common/banned.h"

/* Finds the id of the row of 'sql' (one text parameter); creates nothing. */
static int lookup_id(struct store_conn *c, const char *sql, const char *arg, char id[AUTH_ID_MAX],
                     struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, sql, STORE_ARGS(P(arg)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        idn_copy_str(id, AUTH_ID_MAX, store_text(s, 0));
    store_done(s);
    return rc;
}

int identity_bootstrap(struct identity *idn, struct store_conn *c, const char *password,
                       const char *public_url, const char *region, struct st_err *err)
{
    static const struct {
        const char *type, *name, *path;
    } services[] = {
        {"identity", "keystone", "/identity"},
        {"compute", "nova", "/compute/v2.1"},
        {"image", "glance", "/image"},
        {"network", "neutron", "/network"},
        {"block-storage", "cinder", "/volume/v3/$(project_id)s"},
    };
    static const char *const roles[] = {"admin", "member", "reader"};
    static const char *const ifaces[] = {"public", "internal", "admin"};
    char project_id[AUTH_ID_MAX], user_id[AUTH_ID_MAX], role_id[AUTH_ID_MAX];
    struct st_buf hash = ST_BUF_INIT, base = ST_BUF_INIT;
    int64_t now = st_now_us() / 1000000;
    int rc = -1, r;

    st_buf_adds(&base, public_url);
    while (base.len && base.buf[base.len - 1] == '/')
        st_buf_truncate(&base, base.len - 1);
    if (password_hash(password, idn->hash_cost, &hash, err) < 0)
        goto out;
    if (store_begin(c, err) < 0)
        goto out;
    if (store_exec(c, err,
                   "INSERT INTO domains (id, name, description, enabled, created_at)"
                   " VALUES ('default', 'Default', 'The default domain', 1, ?)"
                   " ON CONFLICT DO NOTHING",
                   STORE_ARGS(P(now))) < 0)
        goto fail;
    r = lookup_id(c, "SELECT id FROM projects WHERE domain_id = 'default' AND name = ?", "admin",
                  project_id, err);
    if (r < 0)
        goto fail;
    if (r == 0) {
        st_uuid_hex(project_id);
        if (store_exec(c, err,
                       "INSERT INTO projects (id, domain_id, parent_id, name, description,"
                       " enabled, created_at) VALUES (?, 'default', 'default', 'admin',"
                       " 'Bootstrap project for initializing the cloud.', 1, ?)",
                       STORE_ARGS(P(project_id), P(now))) < 0)
            goto fail;
    }
    r = lookup_id(c, "SELECT id FROM users WHERE domain_id = 'default' AND name = ?", "admin",
                  user_id, err);
    if (r < 0)
        goto fail;
    if (r == 0) {
        st_uuid_hex(user_id);
        if (store_exec(c, err,
                       "INSERT INTO users (id, domain_id, name, password_hash, enabled,"
                       " default_project_id, created_at) VALUES (?, 'default', 'admin', ?, 1,"
                       " ?, ?)",
                       STORE_ARGS(P(user_id), P(hash.buf), P(project_id), P(now))) < 0)
            goto fail;
    } else if (store_exec(c, err, "UPDATE users SET password_hash = ?, enabled = 1 WHERE id = ?",
                          STORE_ARGS(P(hash.buf), P(user_id))) < 0) {
        goto fail;
    }
    for (size_t i = 0; i < ST_ARRAY_SIZE(roles); i++) {
        char rid[33];
        st_uuid_hex(rid);
        if (store_exec(c, err,
                       "INSERT INTO roles (id, name, created_at) VALUES (?, ?, ?)"
                       " ON CONFLICT DO NOTHING",
                       STORE_ARGS(P(rid), P(roles[i]), P(now))) < 0)
            goto fail;
    }
    if (lookup_id(c, "SELECT id FROM roles WHERE name = ?", "admin", role_id, err) <= 0) {
        st_err_set(err, ST_ERR_INTERNAL, "the admin role is missing after bootstrap");
        goto fail;
    }
    if (idn_grant(c, "project", project_id, user_id, role_id, err) < 0)
        goto fail;
    if (store_exec(c, err,
                   "INSERT INTO regions (id, description) VALUES (?, '') ON CONFLICT DO NOTHING",
                   STORE_ARGS(P(region))) < 0)
        goto fail;
    for (size_t i = 0; i < ST_ARRAY_SIZE(services); i++) {
        char sid[AUTH_ID_MAX];
        struct st_buf url = ST_BUF_INIT;
        r = lookup_id(c, "SELECT id FROM services WHERE type = ? ORDER BY id LIMIT 1",
                      services[i].type, sid, err);
        if (r < 0)
            goto fail;
        if (r == 0) {
            st_uuid_hex(sid);
            if (store_exec(c, err,
                           "INSERT INTO services (id, type, name, enabled) VALUES (?, ?, ?, 1)",
                           STORE_ARGS(P(sid), P(services[i].type), P(services[i].name))) < 0)
                goto fail;
        }
        st_buf_addf(&url, "%s%s", base.buf, services[i].path);
        for (size_t j = 0; j < ST_ARRAY_SIZE(ifaces); j++) {
            int64_t n = store_exec(c, err,
                                   "UPDATE endpoints SET url = ?, enabled = 1 WHERE"
                                   " service_id = ? AND interface = ? AND region_id = ?",
                                   STORE_ARGS(P(url.buf), P(sid), P(ifaces[j]), P(region)));
            if (n == 0) {
                char eid[33];
                st_uuid_hex(eid);
                n = store_exec(c, err,
                               "INSERT INTO endpoints (id, service_id, interface, region_id,"
                               " url, enabled) VALUES (?, ?, ?, ?, ?, 1)",
                               STORE_ARGS(P(eid), P(sid), P(ifaces[j]), P(region), P(url.buf)));
            }
            if (n < 0) {
                st_buf_release(&url);
                goto fail;
            }
        }
        st_buf_release(&url);
    }
    if (store_commit(c, err) < 0)
        goto fail;
    rc = 0;
    idn_changed();
    goto out;
fail:
    store_rollback(c);
out:
    explicit_bzero(hash.buf, hash.len);
    st_buf_release(&hash);
    st_buf_release(&base);
    return rc;
}

/*
 * identity.c - Keystone authentication over the store: the identity handle
 * and its token keys, issuing tokens (password and token methods, project
 * and domain scopes), validating them (revocation, and a short cache), the
 * token body, and password changes.
 *
 * Beside it in identity/: resource.c (domains, projects, users, roles,
 * regions, services, endpoints), assignment.c (role assignments),
 * catalog.c (the service catalog), bootstrap.c (the first admin and
 * catalog); token.c and password.c are the token format and the password
 * hashes underneath; policy.c the access rules every service applies.
 */
#include "identity/identity.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "identity/internal.h"
#include "identity/password.h"
#include "identity/token.h"
#include "common/banned.h"

/*
 * Validated tokens are cached for a few seconds, so that an authenticated
 * request costs a hash lookup instead of four queries.  Every identity write
 * of this process bumps 'epoch', which invalidates the whole cache at once:
 * a revocation, a disabled user or a removed role takes effect immediately
 * here; another controller process sharing the store (PostgreSQL) sees it
 * within VALIDATION_CACHE_US.  An entry records the epoch read *before* its
 * validation started, so a write racing with a validation leaves a stale
 * entry that can never match.
 */
#define VALIDATION_CACHE_SLOTS 128
#define VALIDATION_CACHE_US (5 * 1000000)

struct cached_token {
    char *token;           /* owned; NULL when the slot is empty */
    struct auth_ctx ctx;
    uint64_t epoch;
    int64_t until;         /* epoch microseconds */
};

static atomic_uint_fast64_t identity_epoch = 1;

void idn_changed(void)
{
    atomic_fetch_add(&identity_epoch, 1);
}

/* ---- the handle --------------------------------------------------------- */

struct identity *identity_new(struct store *st, const struct identity_opts *opts,
                              struct st_err *err)
{
    struct token_keys *keys = token_keys_load(opts->key_dir, err);
    struct identity *idn;
    if (!keys)
        return NULL;
    idn = st_xcalloc(1, sizeof(*idn));
    idn->st = st;
    idn->key_dir = st_xstrdup(opts->key_dir);
    idn->ttl_us = (opts->token_ttl > 0 ? opts->token_ttl : 3600) * 1000000;
    idn->hash_cost = opts->hash_cost;
    idn->keys = keys;
    pthread_rwlock_init(&idn->lock, NULL);
    pthread_mutex_init(&idn->cache_lock, NULL);
    return idn;
}

void identity_free(struct identity *idn)
{
    if (!idn)
        return;
    token_keys_free(idn->keys);
    pthread_rwlock_destroy(&idn->lock);
    if (idn->cache)
        for (int i = 0; i < VALIDATION_CACHE_SLOTS; i++)
            free(idn->cache[i].token);
    free(idn->cache);
    pthread_mutex_destroy(&idn->cache_lock);
    free(idn->key_dir);
    free(idn);
}

int identity_reload_keys(struct identity *idn, struct st_err *err)
{
    struct token_keys *keys = token_keys_load(idn->key_dir, err);
    if (!keys)
        return -1;
    pthread_rwlock_wrlock(&idn->lock);
    token_keys_free(idn->keys);
    idn->keys = keys;
    idn->last_reload_ns = st_mono_ns();
    pthread_rwlock_unlock(&idn->lock);
    return 0;
}

static void unauthorized(struct st_err *err)
{
    st_err_set(err, ST_ERR_UNAUTHORIZED, "The request you have made requires authentication.");
}

void idn_copy_str(char *dst, size_t n, const char *src)
{
    if (st_snprintf(dst, n, "%s", src ? src : "") < 0)
        dst[0] = '\0';
}

/* Fills the user part of 'ctx'; UNAUTHORIZED if the user or its domain is
 * gone or disabled. */
static int load_user(struct store_conn *c, const char *user_id, struct auth_ctx *ctx,
                     struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT u.name, u.enabled, u.domain_id, d.name, d.enabled,"
                                       " u.password_expires_at FROM users u"
                                       " JOIN domains d ON d.id = u.domain_id WHERE u.id = ?",
                                       STORE_ARGS(P(user_id)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0 && store_int(s, 1) && store_int(s, 4)) {
        idn_copy_str(ctx->user_id, sizeof(ctx->user_id), user_id);
        idn_copy_str(ctx->user_name, sizeof(ctx->user_name), store_text(s, 0));
        idn_copy_str(ctx->user_domain_id, sizeof(ctx->user_domain_id), store_text(s, 2));
        idn_copy_str(ctx->user_domain_name, sizeof(ctx->user_domain_name), store_text(s, 3));
        ctx->password_expires_at = store_isnull(s, 5) ? 0 : store_int(s, 5);
        rc = 0;
    } else if (rc >= 0) {
        unauthorized(err);
        rc = -1;
    }
    store_done(s);
    return rc;
}

static void add_role(struct auth_ctx *ctx, const char *id, const char *name)
{
    for (int i = 0; i < ctx->nroles; i++)
        if (!strcmp(ctx->roles[i].id, id))
            return;
    if (ctx->nroles >= AUTH_MAX_ROLES)
        return;
    idn_copy_str(ctx->roles[ctx->nroles].id, AUTH_ID_MAX, id);
    idn_copy_str(ctx->roles[ctx->nroles].name, AUTH_NAME_MAX, name);
    ctx->nroles++;
}

/* Fills the scope and the roles of 'ctx' for a project or domain scope;
 * UNAUTHORIZED if the target is gone or disabled or the user holds no role
 * on it. */
static int load_scope(struct store_conn *c, enum token_scope scope, const char *scope_id,
                      struct auth_ctx *ctx, struct st_err *err)
{
    struct store_stmt *s;
    int rc;

    ctx->project_scoped = scope == TOKEN_PROJECT;
    ctx->domain_scoped = scope == TOKEN_DOMAIN;
    ctx->nroles = 0;
    if (scope == TOKEN_UNSCOPED) {
        policy_set_flags(ctx);
        return 0;
    }
    if (scope == TOKEN_PROJECT)
        s = store_query(c, err,
                        "SELECT p.name, p.enabled, p.domain_id, d.name, d.enabled FROM projects p"
                        " JOIN domains d ON d.id = p.domain_id WHERE p.id = ?",
                        STORE_ARGS(P(scope_id)));
    else
        s = store_query(c, err, "SELECT name, enabled, id, name, enabled FROM domains WHERE id = ?",
                        STORE_ARGS(P(scope_id)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0 && store_int(s, 1) && store_int(s, 4)) {
        idn_copy_str(ctx->project_id, sizeof(ctx->project_id), scope_id);
        idn_copy_str(ctx->project_name, sizeof(ctx->project_name), store_text(s, 0));
        idn_copy_str(ctx->project_domain_id, sizeof(ctx->project_domain_id), store_text(s, 2));
        idn_copy_str(ctx->project_domain_name, sizeof(ctx->project_domain_name), store_text(s, 3));
        rc = 0;
    } else if (rc >= 0) {
        unauthorized(err);
        rc = -1;
    }
    store_done(s);
    if (rc < 0)
        return -1;

    s = store_query(c, err,
                    "SELECT r.id, r.name FROM role_assignments a JOIN roles r ON r.id = a.role_id"
                    " WHERE a.type = ? AND a.actor_id = ? AND a.target_id = ? ORDER BY r.name",
                    STORE_ARGS(P(scope == TOKEN_PROJECT ? "UserProject" : "UserDomain"),
                               P(ctx->user_id), P(scope_id)));
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0)
        add_role(ctx, store_text(s, 0), store_text(s, 1));
    store_done(s);
    if (rc < 0)
        return -1;
    if (ctx->nroles == 0) {
        st_err_set(err, ST_ERR_UNAUTHORIZED, "User %s has no access to %s %s.", ctx->user_id,
                   scope == TOKEN_PROJECT ? "project" : "domain", scope_id);
        return -1;
    }
    /* Keystone's default implied roles: admin -> member -> reader. */
    bool admin = policy_has_role(ctx, "admin");
    bool member = admin || policy_has_role(ctx, "member");
    if (member) {
        s = store_query(c, err, "SELECT id, name FROM roles WHERE name IN (?, ?) ORDER BY name",
                        STORE_ARGS(P(admin ? "member" : "reader"), P("reader")));
        if (!s)
            return -1;
        while ((rc = store_next(s, err)) > 0)
            add_role(ctx, store_text(s, 0), store_text(s, 1));
        store_done(s);
        if (rc < 0)
            return -1;
    }
    policy_set_flags(ctx);
    return 0;
}

static void audit_text(const unsigned char id[16], char out[24])
{
    struct st_buf b = ST_BUF_INIT;
    st_base64url_encode(id, 16, &b);
    idn_copy_str(out, 24, b.buf);
    st_buf_release(&b);
}

static int check_revoked(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    int64_t one;
    int rc = store_get_int(
        c, err, &one,
        "SELECT 1 FROM revocations WHERE audit_id = ? OR audit_id = ?"
        " OR (user_id = ? AND issued_before >= ?)"
        " OR (project_id = ? AND issued_before >= ?) LIMIT 1",
        STORE_ARGS(P(ctx->audit_id),
                   P(ctx->parent_audit_id[0] ? ctx->parent_audit_id : ctx->audit_id),
                   P(ctx->user_id), P(ctx->issued_at), P(ctx->project_id), P(ctx->issued_at)));
    if (rc < 0)
        return -1;
    if (rc > 0) {
        unauthorized(err);
        return -1;
    }
    return 0;
}

/* Decodes 'text' with the current keys, reloading them once (at most every
 * few seconds) if the token names a key this process has not seen: another
 * process may have rotated them. */
static int decode(struct identity *idn, const char *text, struct token *t, struct st_err *err)
{
    int rc;
    bool reload;
    pthread_rwlock_rdlock(&idn->lock);
    rc = token_decode(idn->keys, text, t, err);
    reload = rc < 0 && token_unknown_key(idn->keys, text) &&
             st_mono_ns() - idn->last_reload_ns > 5 * 1000000000LL;
    pthread_rwlock_unlock(&idn->lock);
    if (reload) {
        struct st_err ignored = ST_ERR_INIT;
        if (identity_reload_keys(idn, &ignored) == 0) {
            st_err_clear(err);
            pthread_rwlock_rdlock(&idn->lock);
            rc = token_decode(idn->keys, text, t, err);
            pthread_rwlock_unlock(&idn->lock);
        }
    }
    return rc;
}

static int ctx_from_token(struct store_conn *c, const struct token *t, struct auth_ctx *ctx,
                          struct st_err *err)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->methods = t->methods;
    ctx->issued_at = t->issued_at;
    ctx->expires_at = t->expires_at;
    audit_text(t->audit_id, ctx->audit_id);
    if (t->has_parent)
        audit_text(t->parent_audit_id, ctx->parent_audit_id);
    if (load_user(c, t->user_id, ctx, err) < 0)
        return -1;
    return load_scope(c, t->scope, t->scope_id, ctx, err);
}

static unsigned token_slot(const char *text)
{
    unsigned h = 2166136261u;
    for (; *text; text++)
        h = (h ^ (unsigned char) *text) * 16777619u;
    return h % VALIDATION_CACHE_SLOTS;
}

static bool cache_get(struct identity *idn, const char *text, struct auth_ctx *ctx)
{
    bool hit = false;
    unsigned i = token_slot(text);
    pthread_mutex_lock(&idn->cache_lock);
    if (idn->cache && idn->cache[i].token && !strcmp(idn->cache[i].token, text) &&
        idn->cache[i].epoch == atomic_load(&identity_epoch) &&
        idn->cache[i].until > st_now_us()) {
        *ctx = idn->cache[i].ctx;
        hit = true;
    }
    pthread_mutex_unlock(&idn->cache_lock);
    return hit;
}

static void cache_put(struct identity *idn, const char *text, const struct auth_ctx *ctx,
                      uint64_t epoch)
{
    unsigned i = token_slot(text);
    int64_t until = st_now_us() + VALIDATION_CACHE_US;
    pthread_mutex_lock(&idn->cache_lock);
    if (!idn->cache)
        idn->cache = st_xcalloc(VALIDATION_CACHE_SLOTS, sizeof(*idn->cache));
    free(idn->cache[i].token);
    idn->cache[i].token = st_xstrdup(text);
    idn->cache[i].ctx = *ctx;
    idn->cache[i].epoch = epoch;
    idn->cache[i].until = until < ctx->expires_at ? until : ctx->expires_at;
    pthread_mutex_unlock(&idn->cache_lock);
}

int identity_validate(struct identity *idn, struct store_conn *c, const char *text,
                      struct auth_ctx *ctx, struct st_err *err)
{
    struct token t;
    uint64_t epoch = atomic_load(&identity_epoch);
    if (cache_get(idn, text, ctx))
        return 0;
    if (decode(idn, text, &t, err) < 0)
        return -1;
    if (t.expires_at <= st_now_us()) {
        unauthorized(err);
        return -1;
    }
    if (ctx_from_token(c, &t, ctx, err) < 0 || check_revoked(c, ctx, err) < 0)
        return -1;
    cache_put(idn, text, ctx, epoch);
    return 0;
}

int identity_revoke(struct identity *idn, struct store_conn *c, const char *text,
                    struct st_err *err)
{
    struct auth_ctx ctx;
    char rid[33];
    if (identity_validate(idn, c, text, &ctx, err) < 0)
        return -1;
    st_uuid_hex(rid);
    if (store_exec(c, err,
                   "INSERT INTO revocations (id, audit_id, user_id, project_id, issued_before,"
                   " expires_at) VALUES (?, ?, NULL, NULL, ?, ?)",
                   STORE_ARGS(P(rid), P(ctx.audit_id), P(ctx.issued_at), P(ctx.expires_at))) < 0)
        return -1;
    idn_changed();
    /* Forget revocations that no live token can match any more. */
    return store_exec(c, err, "DELETE FROM revocations WHERE expires_at < ?",
                      STORE_ARGS(P(st_now_us()))) < 0
               ? -1
               : 0;
}

/* Finds a domain by {"id"} or {"name"}; fills 'id'. */
static int find_domain(struct store_conn *c, json_t *dom, char id[AUTH_ID_MAX], struct st_err *err)
{
    const char *did = NULL, *dname = NULL;
    struct store_stmt *s;
    int rc;
    if (!json_is_object(dom)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'domain': expected an object");
        return -1;
    }
    if (jget_str(dom, "id", false, 64, &did, err) < 0 ||
        jget_str(dom, "name", false, 255, &dname, err) < 0)
        return -1;
    if (!did && !dname) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Expecting to find id or name in domain.");
        return -1;
    }
    s = did ? store_query(c, err, "SELECT id FROM domains WHERE id = ?", STORE_ARGS(P(did)))
            : store_query(c, err, "SELECT id FROM domains WHERE name = ?", STORE_ARGS(P(dname)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        idn_copy_str(id, AUTH_ID_MAX, store_text(s, 0));
    store_done(s);
    if (rc == 0) {
        unauthorized(err);
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

/* Resolves {"id"} or {"name", "domain"} of a user or project to an id. */
static int resolve(struct store_conn *c, json_t *obj, enum idn_kind kind, char id[AUTH_ID_MAX],
                   bool *found, struct st_err *err)
{
    const char *oid = NULL, *name = NULL;
    char dom[AUTH_ID_MAX];
    struct store_stmt *s;
    int rc;

    *found = false;
    if (!json_is_object(obj)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field '%s': expected an object",
                   idn_kind_name(kind));
        return -1;
    }
    if (jget_str(obj, "id", false, 64, &oid, err) < 0 ||
        jget_str(obj, "name", false, 255, &name, err) < 0)
        return -1;
    if (oid) {
        idn_copy_str(id, AUTH_ID_MAX, oid);
        *found = idn_exists(c, kind, oid, err) > 0;
        return st_err_is_set(err) ? -1 : 0;
    }
    if (!name) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Expecting to find id or name in %s.",
                   idn_kind_name(kind));
        return -1;
    }
    if (!json_object_get(obj, "domain")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Expecting to find domain in %s.", idn_kind_name(kind));
        return -1;
    }
    if (find_domain(c, json_object_get(obj, "domain"), dom, err) < 0)
        return -1;
    s = store_query(c, err,
                    kind == IDN_USER ? "SELECT id FROM users WHERE name = ? AND domain_id = ?"
                                     : "SELECT id FROM projects WHERE name = ? AND domain_id = ?",
                    STORE_ARGS(P(name), P(dom)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        idn_copy_str(id, AUTH_ID_MAX, store_text(s, 0));
        *found = true;
    }
    store_done(s);
    return rc < 0 ? -1 : 0;
}

static int auth_password(struct store_conn *c, json_t *pw, struct token *t, struct st_err *err)
{
    json_t *user;
    const char *password = NULL;
    char uid[AUTH_ID_MAX] = "";
    bool found;
    char *hash = NULL;
    int ok = 0;

    if (jget_obj(pw, "user", true, &user, err) < 0 ||
        jget_str(user, "password", true, 4096, &password, err) < 0)
        return -1;
    if (resolve(c, user, IDN_USER, uid, &found, err) < 0) {
        if (err->kind == ST_ERR_UNAUTHORIZED)
            (void) password_verify(password, NULL);
        return -1;
    }
    if (found) {
        struct store_stmt *s =
            store_query(c, err, "SELECT password_hash FROM users WHERE id = ?", STORE_ARGS(P(uid)));
        if (!s)
            return -1;
        if (store_next(s, err) > 0 && store_text(s, 0))
            hash = st_xstrdup(store_text(s, 0));
        store_done(s);
    }
    ok = password_verify(password, hash);
    free(hash);
    if (!ok) {
        unauthorized(err);
        return -1;
    }
    idn_copy_str(t->user_id, sizeof(t->user_id), uid);
    t->methods |= AUTH_M_PASSWORD;
    return 0;
}

int identity_issue(struct identity *idn, struct store_conn *c, json_t *auth, struct auth_ctx *ctx,
                   struct st_buf *token, struct st_err *err)
{
    json_t *ident, *methods, *scope = NULL;
    struct token t;
    bool have_pw = false, have_tok = false;
    int64_t now = st_now_us();
    size_t i;
    json_t *m;

    memset(&t, 0, sizeof(t));
    if (!json_is_object(auth)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'auth': expected an object");
        return -1;
    }
    if (jget_obj(auth, "identity", true, &ident, err) < 0 ||
        jget_arr(ident, "methods", true, 4, &methods, err) < 0)
        return -1;
    if (json_array_size(methods) == 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'methods': it is empty");
        return -1;
    }
    json_array_foreach(methods, i, m)
    {
        const char *name = json_string_value(m);
        if (name && !strcmp(name, "password"))
            have_pw = true;
        else if (name && !strcmp(name, "token"))
            have_tok = true;
        else {
            unauthorized(err);
            return -1;
        }
    }
    t.issued_at = now;
    t.expires_at = now + idn->ttl_us;
    st_random(t.audit_id, sizeof(t.audit_id));

    if (have_tok) {
        json_t *tok;
        const char *tid;
        struct token old;
        struct auth_ctx octx;
        if (jget_obj(ident, "token", true, &tok, err) < 0 ||
            jget_str(tok, "id", true, 1024, &tid, err) < 0)
            return -1;
        if (decode(idn, tid, &old, err) < 0 || old.expires_at <= now)
            goto unauth;
        if (ctx_from_token(c, &old, &octx, err) < 0 || check_revoked(c, &octx, err) < 0)
            return -1;
        idn_copy_str(t.user_id, sizeof(t.user_id), old.user_id);
        t.methods = old.methods | AUTH_M_TOKEN;
        t.expires_at = old.expires_at; /* a rescoped token never outlives its parent */
        t.has_parent = true;
        memcpy(t.parent_audit_id, old.has_parent ? old.parent_audit_id : old.audit_id, 16);
    }
    if (have_pw) {
        json_t *pw;
        struct token pt = t;
        if (jget_obj(ident, "password", true, &pw, err) < 0 || auth_password(c, pw, &pt, err) < 0)
            return -1;
        if (have_tok && strcmp(pt.user_id, t.user_id))
            goto unauth;
        t = pt;
    }

    /* Scope. */
    scope = json_object_get(auth, "scope");
    if (json_is_string(scope) && !strcmp(json_string_value(scope), "unscoped")) {
        t.scope = TOKEN_UNSCOPED;
    } else if (json_is_object(scope)) {
        json_t *proj = json_object_get(scope, "project");
        json_t *dom = json_object_get(scope, "domain");
        char sid[AUTH_ID_MAX];
        bool found = false;
        if (proj) {
            if (resolve(c, proj, IDN_PROJECT, sid, &found, err) < 0)
                return -1;
            if (!found)
                goto unauth;
            t.scope = TOKEN_PROJECT;
        } else if (dom) {
            if (find_domain(c, dom, sid, err) < 0)
                return -1;
            t.scope = TOKEN_DOMAIN;
        } else {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field 'scope': expected project or domain (system "
                       "scope is not supported)");
            return -1;
        }
        idn_copy_str(t.scope_id, sizeof(t.scope_id), sid);
    } else if (scope) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'scope'");
        return -1;
    } else {
        /* No scope: the user's default project when it still grants a role
         * (Keystone), else unscoped. */
        struct store_stmt *s =
            store_query(c, err,
                        "SELECT u.default_project_id FROM users u WHERE u.id = ? AND EXISTS"
                        " (SELECT 1 FROM role_assignments a WHERE a.actor_id = u.id AND"
                        " a.type = 'UserProject' AND a.target_id = u.default_project_id)",
                        STORE_ARGS(P(t.user_id)));
        if (!s)
            return -1;
        if (store_next(s, err) > 0 && store_text(s, 0)) {
            t.scope = TOKEN_PROJECT;
            idn_copy_str(t.scope_id, sizeof(t.scope_id), store_text(s, 0));
        }
        store_done(s);
        if (st_err_is_set(err))
            return -1;
    }
    if (ctx_from_token(c, &t, ctx, err) < 0)
        return -1;
    if (have_tok && check_revoked(c, ctx, err) < 0)
        return -1;
    {
        int rc;
        pthread_rwlock_rdlock(&idn->lock);
        rc = token_encode(idn->keys, &t, token, err);
        pthread_rwlock_unlock(&idn->lock);
        return rc;
    }
unauth:
    st_err_clear(err);
    unauthorized(err);
    return -1;
}

/* ---- tokens of a user, the token body, passwords ------------------------ */

int idn_revoke_user(struct identity *idn, struct store_conn *c, const char *user_id,
                    struct st_err *err)
{
    char rid[33];
    int64_t now = st_now_us();
    st_uuid_hex(rid);
    return store_exec(c, err,
                      "INSERT INTO revocations (id, audit_id, user_id, project_id, issued_before,"
                      " expires_at) VALUES (?, NULL, ?, NULL, ?, ?)",
                      STORE_ARGS(P(rid), P(user_id), P(now), P(now + idn->ttl_us))) < 0
               ? -1
               : 0;
}

json_t *identity_token_json(struct identity *idn, struct store_conn *c, const struct auth_ctx *ctx,
                            bool with_catalog, struct st_err *err)
{
    char issued[32], expires[32];
    json_t *tok, *methods = json_array(), *audits = json_array();
    (void) idn;
    st_time_iso(ctx->issued_at, 6, issued);
    st_time_iso(ctx->expires_at, 6, expires);
    if (ctx->methods & AUTH_M_PASSWORD)
        json_array_append_new(methods, json_string("password"));
    if (ctx->methods & AUTH_M_TOKEN)
        json_array_append_new(methods, json_string("token"));
    json_array_append_new(audits, json_string(ctx->audit_id));
    if (ctx->parent_audit_id[0])
        json_array_append_new(audits, json_string(ctx->parent_audit_id));
    tok = json_pack("{s:o, s:{s:s, s:s, s:{s:s, s:s}, s:n}, s:o, s:s, s:s}", "methods", methods,
                    "user", "id", ctx->user_id, "name", ctx->user_name, "domain", "id",
                    ctx->user_domain_id, "name", ctx->user_domain_name, "password_expires_at",
                    "audit_ids", audits, "issued_at", issued, "expires_at", expires);
    if (ctx->project_scoped || ctx->domain_scoped) {
        json_t *roles = json_array();
        for (int i = 0; i < ctx->nroles; i++)
            json_array_append_new(
                roles, json_pack("{s:s, s:s}", "id", ctx->roles[i].id, "name", ctx->roles[i].name));
        json_object_set_new(tok, "roles", roles);
    }
    if (ctx->project_scoped) {
        json_object_set_new(tok, "project",
                            json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", ctx->project_id, "name",
                                      ctx->project_name, "domain", "id", ctx->project_domain_id,
                                      "name", ctx->project_domain_name));
        json_object_set_new(tok, "is_domain", json_false());
    } else if (ctx->domain_scoped) {
        json_object_set_new(
            tok, "domain",
            json_pack("{s:s, s:s}", "id", ctx->project_id, "name", ctx->project_name));
    }
    if (with_catalog && (ctx->project_scoped || ctx->domain_scoped)) {
        json_t *cat = identity_catalog(c, ctx->project_scoped ? ctx->project_id : NULL, err);
        if (!cat) {
            json_decref(tok);
            return NULL;
        }
        json_object_set_new(tok, "catalog", cat);
    }
    return json_pack("{s:o}", "token", tok);
}

int idn_change_password(struct identity *idn, struct store_conn *c, const char *user_id,
                        const char *original, const char *password, struct st_err *err)
{
    struct store_stmt *s;
    struct st_buf hash = ST_BUF_INIT;
    char *old = NULL;
    int rc = -1;

    s = store_query(c, err, "SELECT password_hash FROM users WHERE id = ?", STORE_ARGS(P(user_id)));
    if (!s)
        return -1;
    if (store_next(s, err) > 0 && store_text(s, 0))
        old = st_xstrdup(store_text(s, 0));
    store_done(s);
    if (st_err_is_set(err))
        goto out;
    if (!password_verify(original, old)) {
        unauthorized(err);
        goto out;
    }
    if (password_hash(password, idn->hash_cost, &hash, err) < 0)
        goto out;
    if (store_begin(c, err) < 0)
        goto out;
    if (store_exec(c, err, "UPDATE users SET password_hash = ? WHERE id = ?",
                   STORE_ARGS(P(hash.buf), P(user_id))) < 0 ||
        idn_revoke_user(idn, c, user_id, err) < 0 || store_commit(c, err) < 0) {
        store_rollback(c);
        goto out;
    }
    rc = 0;
    idn_changed();
out:
    free(old);
    explicit_bzero(hash.buf, hash.len);
    st_buf_release(&hash);
    return rc;
}

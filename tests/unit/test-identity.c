/* test-identity.c - Keystone logic over a real temp store: bootstrap and
 * catalog, token issue/validate/expiry/revocation, the rules that
 * invalidate tokens, and the resource CRUD of identity.h. */
#include "testutil.h"

#include "stack.h"

#include "common/json.h"
#include "common/banned.h"

#define COST 1 /* yescrypt's cheapest: these tests hash a lot */

static int setup(void **state)
{
    struct tstack *s = calloc(1, sizeof(*s));
    struct st_err err = ST_ERR_INIT;
    assert_non_null(s);
    if (tstack_open(s, NULL, 3600, COST, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(st_is_uuid(s->admin_user));
    assert_true(st_is_uuid(s->admin_project));
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct tstack *s = *state;
    tstack_close(s);
    free(s);
    return 0;
}

static struct store_conn *conn(struct tstack *s)
{
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = store_acquire(s->st, &err);
    if (!c)
        fail_msg("%s", err.msg);
    return c;
}

static int64_t count(struct store_conn *c, const char *table)
{
    struct st_err err = ST_ERR_INIT;
    char sql[128];
    int64_t n = -1;
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    if (store_get_int(c, &err, &n, sql, STORE_NOARGS) != 1)
        fail_msg("%s", err.msg);
    return n;
}

static json_t *jparse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad test JSON: %s", je.text);
    return j;
}

/* Password auth by names; 'proj' NULL: no scope member. */
static int issue(struct tstack *s, const char *user, const char *password, const char *proj,
                 struct auth_ctx *ctx, struct st_buf *tok, struct st_err *err)
{
    struct store_conn *c = conn(s);
    json_t *auth = json_pack("{s:{s:[s], s:{s:{s:s, s:{s:s}, s:s}}}}", "identity", "methods",
                             "password", "password", "user", "name", user, "domain", "name",
                             "Default", "password", password);
    int rc;
    if (proj)
        json_object_set_new(auth, "scope",
                            json_pack("{s:{s:s, s:{s:s}}}", "project", "name", proj, "domain",
                                      "name", "Default"));
    st_buf_reset(tok);
    rc = identity_issue(s->idn, c, auth, ctx, tok, err);
    json_decref(auth);
    store_release(s->st, c);
    return rc;
}

/* Issues or fails the test. */
static void must_issue(struct tstack *s, const char *user, const char *password, const char *proj,
                       struct auth_ctx *ctx, struct st_buf *tok)
{
    struct st_err err = ST_ERR_INIT;
    if (issue(s, user, password, proj, ctx, tok, &err) < 0)
        fail_msg("issue %s/%s: %s", user, proj ? proj : "-", err.msg);
}

static int validate(struct tstack *s, const char *tok, struct auth_ctx *ctx, struct st_err *err)
{
    struct store_conn *c = conn(s);
    int rc = identity_validate(s->idn, c, tok, ctx, err);
    store_release(s->st, c);
    return rc;
}

static void assert_valid(struct tstack *s, const char *tok)
{
    struct auth_ctx ctx;
    struct st_err err = ST_ERR_INIT;
    if (validate(s, tok, &ctx, &err) < 0)
        fail_msg("token refused: %s", err.msg);
}

static void assert_invalid(struct tstack *s, const char *tok)
{
    struct auth_ctx ctx;
    struct st_err err = ST_ERR_INIT;
    if (validate(s, tok, &ctx, &err) == 0)
        fail_msg("token still accepted");
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
}

/* idn_create from JSON text, or fail. */
static json_t *create(struct tstack *s, enum idn_kind kind, const char *text)
{
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = conn(s);
    json_t *in = jparse(text);
    json_t *o = idn_create(s->idn, c, kind, in, &err);
    json_decref(in);
    store_release(s->st, c);
    if (!o)
        fail_msg("create %s: %s", text, err.msg);
    return o;
}

/* idn_create expected to fail; returns the error kind. */
static enum st_err_kind create_fails(struct tstack *s, enum idn_kind kind, const char *text,
                                     struct st_err *err)
{
    struct store_conn *c = conn(s);
    json_t *in = jparse(text);
    json_t *o = idn_create(s->idn, c, kind, in, err);
    json_decref(in);
    store_release(s->st, c);
    if (o) {
        json_decref(o);
        fail_msg("create %s succeeded", text);
    }
    return err->kind;
}

static json_t *update(struct tstack *s, enum idn_kind kind, const char *id, const char *text,
                      struct st_err *err)
{
    struct store_conn *c = conn(s);
    json_t *in = jparse(text);
    json_t *o = idn_update(s->idn, c, kind, id, in, err);
    json_decref(in);
    store_release(s->st, c);
    return o;
}

static const char *sval(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A user 'name' with 'password' holding 'role' on project 'project_id';
 * the user's id goes to 'id'. */
static void make_user(struct tstack *s, const char *name, const char *password,
                      const char *project_id, const char *role, char id[AUTH_ID_MAX])
{
    struct st_err err = ST_ERR_INIT;
    char text[512], role_id[AUTH_ID_MAX];
    struct store_conn *c;
    json_t *u;
    snprintf(text, sizeof(text), "{\"name\": \"%s\", \"password\": \"%s\"}", name, password);
    u = create(s, IDN_USER, text);
    snprintf(id, AUTH_ID_MAX, "%s", sval(u, "id"));
    json_decref(u);
    if (!role)
        return;
    tstack_lookup(s, "SELECT id FROM roles WHERE name = ?", role, role_id);
    c = conn(s);
    if (idn_grant(c, "project", project_id, id, role_id, &err) < 0)
        fail_msg("%s", err.msg);
    store_release(s->st, c);
}

static void make_project(struct tstack *s, const char *name, char id[AUTH_ID_MAX])
{
    char text[256];
    json_t *p;
    snprintf(text, sizeof(text), "{\"name\": \"%s\"}", name);
    p = create(s, IDN_PROJECT, text);
    snprintf(id, AUTH_ID_MAX, "%s", sval(p, "id"));
    json_decref(p);
}

/* ---- bootstrap and catalog ---------------------------------------------- */

static void t01_bootstrap_contents(void **state)
{
    struct tstack *s = *state;
    struct store_conn *c = conn(s);
    struct st_err err = ST_ERR_INIT;
    int64_t n = 0;
    assert_int_equal(count(c, "domains"), 1);
    assert_int_equal(count(c, "projects"), 1);
    assert_int_equal(count(c, "users"), 1);
    assert_int_equal(count(c, "roles"), 3);
    assert_int_equal(count(c, "role_assignments"), 1);
    assert_int_equal(count(c, "regions"), 1);
    assert_int_equal(count(c, "services"), 5);
    assert_int_equal(count(c, "endpoints"), 15);
    assert_int_equal(store_get_int(c, &err, &n,
                                   "SELECT COUNT(*) FROM roles WHERE name IN"
                                   " ('admin', 'member', 'reader')",
                                   STORE_NOARGS),
                     1);
    assert_int_equal(n, 3);
    /* the admin's password is hashed, not stored */
    {
        struct store_stmt *q = store_query(c, &err, "SELECT password_hash FROM users",
                                           STORE_NOARGS);
        assert_int_equal(store_next(q, &err), 1);
        assert_true(!strncmp(store_text(q, 0), "$y$", 3));
        assert_null(strstr(store_text(q, 0), TSTACK_ADMIN_PASSWORD));
        store_done(q);
    }
    store_release(s->st, c);
}

static void t02_bootstrap_idempotent(void **state)
{
    static const char *const tables[] = {"domains",  "projects", "users",    "roles",
                                         "role_assignments", "regions", "services", "endpoints"};
    struct tstack *s = *state;
    struct store_conn *c = conn(s);
    struct st_err err = ST_ERR_INIT;
    int64_t before[8];
    struct st_buf tok = ST_BUF_INIT;
    struct auth_ctx ctx;
    char pid[AUTH_ID_MAX];

    for (size_t i = 0; i < 8; i++)
        before[i] = count(c, tables[i]);
    assert_int_equal(identity_bootstrap(s->idn, c, TSTACK_ADMIN_PASSWORD, TSTACK_PUBLIC_URL,
                                        "RegionOne", &err),
                     0);
    /* a new URL and password: updated in place, nothing added */
    assert_int_equal(identity_bootstrap(s->idn, c, "new-password", "https://other.example/",
                                        "RegionOne", &err),
                     0);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(count(c, tables[i]), before[i]);
    assert_false(st_err_is_set(&err));
    store_release(s->st, c);
    /* the same admin project id */
    tstack_lookup(s, "SELECT id FROM projects WHERE name = ?", "admin", pid);
    assert_string_equal(pid, s->admin_project);

    assert_int_equal(issue(s, "admin", TSTACK_ADMIN_PASSWORD, "admin", &ctx, &tok, &err), -1);
    must_issue(s, "admin", "new-password", "admin", &ctx, &tok);
    c = conn(s);
    {
        json_t *cat = identity_catalog(c, s->admin_project, &err), *svc, *ep;
        size_t i, j;
        assert_non_null(cat);
        json_array_foreach(cat, i, svc)
            json_array_foreach(json_object_get(svc, "endpoints"), j, ep)
                assert_true(!strncmp(sval(ep, "url"), "https://other.example/", 22));
        json_decref(cat);
    }
    store_release(s->st, c);
    st_buf_release(&tok);
}

static json_t *find_service(json_t *cat, const char *type)
{
    size_t i;
    json_t *svc;
    json_array_foreach(cat, i, svc)
        if (!strcmp(sval(svc, "type"), type))
            return svc;
    return NULL;
}

static void t03_catalog(void **state)
{
    static const char *const want[][2] = {
        {"identity", "http://cloud.example:5000/identity"},
        {"compute", "http://cloud.example:5000/compute/v2.1"},
        {"image", "http://cloud.example:5000/image"},
        {"network", "http://cloud.example:5000/network"},
        {"block-storage", NULL},
    };
    struct tstack *s = *state;
    struct store_conn *c = conn(s);
    struct st_err err = ST_ERR_INIT;
    json_t *cat = identity_catalog(c, s->admin_project, &err), *svc, *ep;
    char volume_url[256];
    size_t i, j;

    assert_non_null(cat);
    assert_int_equal(json_array_size(cat), 5);
    snprintf(volume_url, sizeof(volume_url), "http://cloud.example:5000/volume/v3/%s",
             s->admin_project);
    for (i = 0; i < ST_ARRAY_SIZE(want); i++) {
        int seen = 0;
        svc = find_service(cat, want[i][0]);
        if (!svc)
            fail_msg("no %s service", want[i][0]);
        assert_true(st_is_uuid(sval(svc, "id")));
        assert_int_equal(json_array_size(json_object_get(svc, "endpoints")), 3);
        json_array_foreach(json_object_get(svc, "endpoints"), j, ep) {
            const char *iface = sval(ep, "interface");
            assert_string_equal(sval(ep, "url"), want[i][1] ? want[i][1] : volume_url);
            assert_string_equal(sval(ep, "region"), "RegionOne");
            assert_string_equal(sval(ep, "region_id"), "RegionOne");
            seen |= !strcmp(iface, "public") ? 1 : !strcmp(iface, "internal") ? 2
                  : !strcmp(iface, "admin")  ? 4 : 8;
        }
        assert_int_equal(seen, 7);
    }
    assert_string_equal(sval(find_service(cat, "compute"), "name"), "nova");
    json_decref(cat);

    /* without a project, the endpoint that needs one is left out */
    cat = identity_catalog(c, NULL, &err);
    assert_non_null(cat);
    assert_int_equal(json_array_size(cat), 4);
    assert_null(find_service(cat, "block-storage"));
    json_decref(cat);
    store_release(s->st, c);
}

/* ---- tokens ------------------------------------------------------------- */

static void t04_issue_by_names_and_validate(void **state)
{
    struct tstack *s = *state;
    struct st_buf tok = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct auth_ctx ctx, v;
    int64_t now = st_now_us();
    must_issue(s, "admin", TSTACK_ADMIN_PASSWORD, "admin", &ctx, &tok);
    assert_true(tok.len > 40);
    assert_string_equal(ctx.user_id, s->admin_user);
    assert_string_equal(ctx.user_name, "admin");
    assert_string_equal(ctx.user_domain_id, "default");
    assert_string_equal(ctx.user_domain_name, "Default");
    assert_true(ctx.project_scoped);
    assert_false(ctx.domain_scoped);
    assert_string_equal(ctx.project_id, s->admin_project);
    assert_string_equal(ctx.project_name, "admin");
    assert_true(ctx.is_admin && ctx.is_member && ctx.is_reader);
    assert_true(policy_has_role(&ctx, "admin"));
    assert_true(policy_has_role(&ctx, "member")); /* implied */
    assert_true(policy_has_role(&ctx, "reader"));
    assert_int_equal(ctx.nroles, 3);
    assert_int_equal(ctx.methods, AUTH_M_PASSWORD);
    assert_true(ctx.issued_at >= now - 1000000 && ctx.issued_at <= st_now_us());
    assert_true(ctx.expires_at == ctx.issued_at + 3600 * 1000000LL);
    assert_int_equal(strlen(ctx.audit_id), 22);
    assert_string_equal(ctx.parent_audit_id, "");

    assert_int_equal(validate(s, tok.buf, &v, &err), 0);
    assert_string_equal(v.user_id, ctx.user_id);
    assert_string_equal(v.project_id, ctx.project_id);
    assert_string_equal(v.audit_id, ctx.audit_id);
    assert_true(v.expires_at == ctx.expires_at);
    assert_int_equal(v.nroles, 3);
    assert_true(v.is_admin);
    st_buf_release(&tok);
}

static void t05_issue_by_ids_and_default_project(void **state)
{
    struct tstack *s = *state;
    struct st_buf tok = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct auth_ctx ctx;
    struct store_conn *c = conn(s);
    json_t *auth = json_pack("{s:{s:[s], s:{s:{s:s, s:s}}}, s:{s:{s:s}}}", "identity", "methods",
                             "password", "password", "user", "id", s->admin_user, "password",
                             TSTACK_ADMIN_PASSWORD, "scope", "project", "id", s->admin_project);
    assert_int_equal(identity_issue(s->idn, c, auth, &ctx, &tok, &err), 0);
    assert_true(ctx.project_scoped);
    assert_string_equal(ctx.project_id, s->admin_project);
    json_decref(auth);

    /* no scope: the admin's default project (bootstrap sets it) */
    st_buf_reset(&tok);
    auth = json_pack("{s:{s:[s], s:{s:{s:s, s:s}}}}", "identity", "methods", "password",
                     "password", "user", "id", s->admin_user, "password", TSTACK_ADMIN_PASSWORD);
    assert_int_equal(identity_issue(s->idn, c, auth, &ctx, &tok, &err), 0);
    assert_true(ctx.project_scoped);
    assert_string_equal(ctx.project_id, s->admin_project);
    json_decref(auth);

    /* explicitly unscoped */
    st_buf_reset(&tok);
    auth = json_pack("{s:{s:[s], s:{s:{s:s, s:s}}}, s:s}", "identity", "methods", "password",
                     "password", "user", "id", s->admin_user, "password", TSTACK_ADMIN_PASSWORD,
                     "scope", "unscoped");
    assert_int_equal(identity_issue(s->idn, c, auth, &ctx, &tok, &err), 0);
    assert_false(ctx.project_scoped);
    assert_false(ctx.domain_scoped);
    assert_int_equal(ctx.nroles, 0);
    assert_false(ctx.is_admin);
    json_decref(auth);

    /* domain scope by name */
    st_buf_reset(&tok);
    auth = json_pack("{s:{s:[s], s:{s:{s:s, s:s}}}, s:{s:{s:s}}}", "identity", "methods",
                     "password", "password", "user", "id", s->admin_user, "password",
                     TSTACK_ADMIN_PASSWORD, "scope", "domain", "name", "Default");
    /* admin holds no role on the domain itself */
    assert_int_equal(identity_issue(s->idn, c, auth, &ctx, &tok, &err), -1);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    json_decref(auth);
    store_release(s->st, c);
    st_buf_release(&tok);
}

static void t06_bad_credentials(void **state)
{
    struct tstack *s = *state;
    struct st_buf tok = ST_BUF_INIT;
    struct auth_ctx ctx;
    struct st_err err = ST_ERR_INIT;
    char text[512];
    struct store_conn *c;
    json_t *auth;
    assert_int_equal(issue(s, "admin", "wrong", "admin", &ctx, &tok, &err), -1);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    assert_int_equal(tok.len, 0);
    st_err_clear(&err);
    assert_int_equal(issue(s, "nobody", TSTACK_ADMIN_PASSWORD, "admin", &ctx, &tok, &err), -1);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    st_err_clear(&err);
    assert_int_equal(issue(s, "admin", TSTACK_ADMIN_PASSWORD, "no-such-project", &ctx, &tok,
                           &err),
                     -1);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    st_err_clear(&err);
    assert_int_equal(issue(s, "admin", "", "admin", &ctx, &tok, &err), -1);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);

    /* an unknown domain is the same answer */
    c = conn(s);
    snprintf(text, sizeof(text),
             "{\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\":"
             " {\"name\": \"admin\", \"domain\": {\"name\": \"Nope\"}, \"password\": \"%s\"}}}}",
             TSTACK_ADMIN_PASSWORD);
    auth = jparse(text);
    st_err_clear(&err);
    assert_int_equal(identity_issue(s->idn, c, auth, &ctx, &tok, &err), -1);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    json_decref(auth);
    store_release(s->st, c);
    st_buf_release(&tok);
}

static void t07_malformed_auth(void **state)
{
    static const struct {
        const char *json;
        enum st_err_kind kind;
    } cases[] = {
        {"{}", ST_ERR_BAD_REQUEST},
        {"{\"identity\": {}}", ST_ERR_BAD_REQUEST},
        {"{\"identity\": {\"methods\": []}}", ST_ERR_BAD_REQUEST},
        {"{\"identity\": {\"methods\": \"password\"}}", ST_ERR_BAD_REQUEST},
        {"{\"identity\": {\"methods\": [\"totp\"]}}", ST_ERR_UNAUTHORIZED},
        {"{\"identity\": {\"methods\": [1]}}", ST_ERR_UNAUTHORIZED},
        {"{\"identity\": {\"methods\": [\"password\"]}}", ST_ERR_BAD_REQUEST},
        {"{\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"name\":"
         " \"admin\", \"password\": \"x\"}}}}",
         ST_ERR_BAD_REQUEST}, /* a name needs a domain */
        {"{\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"name\":"
         " \"admin\", \"domain\": {}, \"password\": \"x\"}}}}",
         ST_ERR_BAD_REQUEST},
        {"{\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"name\":"
         " \"admin\", \"domain\": {\"id\": \"default\"}}}}}",
         ST_ERR_BAD_REQUEST}, /* no password */
        {"{\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"name\":"
         " 5, \"domain\": {\"id\": \"default\"}, \"password\": \"x\"}}}}",
         ST_ERR_BAD_REQUEST},
        {"{\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"name\":"
         " \"admin\", \"domain\": {\"id\": \"default\"}, \"password\": \"" TSTACK_ADMIN_PASSWORD
         "\"}}}, \"scope\": {\"system\": {\"all\": true}}}",
         ST_ERR_BAD_REQUEST},
        {"{\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\": {\"name\":"
         " \"admin\", \"domain\": {\"id\": \"default\"}, \"password\": \"" TSTACK_ADMIN_PASSWORD
         "\"}}}, \"scope\": 7}",
         ST_ERR_BAD_REQUEST},
        {"{\"identity\": {\"methods\": [\"token\"], \"token\": {\"id\": \"garbage\"}}}",
         ST_ERR_UNAUTHORIZED},
        {"{\"identity\": {\"methods\": [\"token\"]}}", ST_ERR_BAD_REQUEST},
    };
    struct tstack *s = *state;
    struct store_conn *c = conn(s);
    struct st_buf tok = ST_BUF_INIT;
    struct auth_ctx ctx;
    for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
        struct st_err err = ST_ERR_INIT;
        json_t *auth = jparse(cases[i].json);
        if (identity_issue(s->idn, c, auth, &ctx, &tok, &err) == 0)
            fail_msg("accepted %s", cases[i].json);
        if (err.kind != cases[i].kind)
            fail_msg("%s: got %s (%s)", cases[i].json, st_err_name(err.kind), err.msg);
        assert_int_equal(tok.len, 0);
        json_decref(auth);
    }
    {
        struct st_err err = ST_ERR_INIT;
        json_t *notobj = json_string("auth");
        assert_int_equal(identity_issue(s->idn, c, notobj, &ctx, &tok, &err), -1);
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
        json_decref(notobj);
    }
    store_release(s->st, c);
    st_buf_release(&tok);
}

/* A token made with the stack's own keys, for times the API cannot set. */
static void forge(struct tstack *s, int64_t issued, int64_t expires, struct st_buf *out)
{
    struct st_err err = ST_ERR_INIT;
    struct token_keys *k = token_keys_load(s->keys, &err);
    struct token t;
    assert_non_null(k);
    memset(&t, 0, sizeof(t));
    t.methods = AUTH_M_PASSWORD;
    t.issued_at = issued;
    t.expires_at = expires;
    st_random(t.audit_id, 16);
    snprintf(t.user_id, sizeof(t.user_id), "%s", s->admin_user);
    t.scope = TOKEN_PROJECT;
    snprintf(t.scope_id, sizeof(t.scope_id), "%s", s->admin_project);
    assert_int_equal(token_encode(k, &t, out, &err), 0);
    token_keys_free(k);
}

static void t08_expiry(void **state)
{
    struct tstack *s = *state;
    struct st_buf tok = ST_BUF_INIT;
    int64_t now = st_now_us();
    /* the forged token is good while it has time left... */
    forge(s, now - 1000000, now + 60000000, &tok);
    assert_valid(s, tok.buf);
    /* ...and refused once expired, by a microsecond or a year */
    st_buf_reset(&tok);
    forge(s, now - 7200000000LL, now - 1, &tok);
    assert_invalid(s, tok.buf);
    st_buf_reset(&tok);
    forge(s, 0, 1, &tok);
    assert_invalid(s, tok.buf);
    st_buf_release(&tok);
}

static void t09_short_ttl(void **state)
{
    struct tstack *s = *state;
    struct st_err err = ST_ERR_INIT;
    struct identity_opts o = {.key_dir = s->keys, .token_ttl = 1, .hash_cost = COST};
    struct identity *quick = identity_new(s->st, &o, &err), *keep = s->idn;
    struct st_buf tok = ST_BUF_INIT;
    struct auth_ctx ctx;
    assert_non_null(quick);
    s->idn = quick;
    must_issue(s, "admin", TSTACK_ADMIN_PASSWORD, "admin", &ctx, &tok);
    assert_true(ctx.expires_at - ctx.issued_at == 1000000);
    assert_valid(s, tok.buf);
    usleep(1100000);
    assert_invalid(s, tok.buf);
    /* the other identity handle agrees: expiry is in the token */
    s->idn = keep;
    assert_invalid(s, tok.buf);
    identity_free(quick);
    st_buf_release(&tok);
}

static void t10_revocation(void **state)
{
    struct tstack *s = *state;
    struct st_buf a = ST_BUF_INIT, b = ST_BUF_INIT, un = ST_BUF_INIT, child = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct auth_ctx ctx;
    struct store_conn *c;
    json_t *auth;

    must_issue(s, "admin", TSTACK_ADMIN_PASSWORD, "admin", &ctx, &a);
    must_issue(s, "admin", TSTACK_ADMIN_PASSWORD, "admin", &ctx, &b);
    c = conn(s);
    assert_int_equal(identity_revoke(s->idn, c, a.buf, &err), 0);
    store_release(s->st, c);
    assert_invalid(s, a.buf);
    assert_valid(s, b.buf); /* only that one token */
    /* revoking it again: it is no longer valid */
    c = conn(s);
    assert_int_equal(identity_revoke(s->idn, c, a.buf, &err), -1);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    store_release(s->st, c);

    /* a token rescoped from another dies with its parent */
    must_issue(s, "admin", TSTACK_ADMIN_PASSWORD, NULL, &ctx, &un);
    c = conn(s);
    auth = json_pack("{s:{s:[s], s:{s:s}}, s:{s:{s:s}}}", "identity", "methods", "token", "token",
                     "id", un.buf, "scope", "project", "id", s->admin_project);
    st_err_clear(&err);
    assert_int_equal(identity_issue(s->idn, c, auth, &ctx, &child, &err), 0);
    json_decref(auth);
    assert_int_equal(ctx.methods, AUTH_M_PASSWORD | AUTH_M_TOKEN);
    assert_int_equal(strlen(ctx.parent_audit_id), 22);
    assert_true(ctx.project_scoped);
    assert_valid(s, child.buf);
    assert_int_equal(identity_revoke(s->idn, c, un.buf, &err), 0);
    store_release(s->st, c);
    assert_invalid(s, un.buf);
    assert_invalid(s, child.buf);
    st_buf_release(&a);
    st_buf_release(&b);
    st_buf_release(&un);
    st_buf_release(&child);
}

static void t11_rescope_never_outlives_parent(void **state)
{
    struct tstack *s = *state;
    struct st_buf parent = ST_BUF_INIT, child = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct auth_ctx ctx;
    struct store_conn *c = conn(s);
    int64_t now = st_now_us();
    json_t *auth;
    forge(s, now - 1000000, now + 5000000, &parent); /* 5 s left */
    auth = json_pack("{s:{s:[s], s:{s:s}}, s:{s:{s:s}}}", "identity", "methods", "token", "token",
                     "id", parent.buf, "scope", "project", "id", s->admin_project);
    assert_int_equal(identity_issue(s->idn, c, auth, &ctx, &child, &err), 0);
    assert_true(ctx.expires_at == now + 5000000);
    json_decref(auth);
    /* an expired parent gives nothing */
    st_buf_reset(&parent);
    st_buf_reset(&child);
    forge(s, now - 2000000, now - 1000000, &parent);
    auth = json_pack("{s:{s:[s], s:{s:s}}}", "identity", "methods", "token", "token", "id",
                     parent.buf);
    assert_int_equal(identity_issue(s->idn, c, auth, &ctx, &child, &err), -1);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    json_decref(auth);
    store_release(s->st, c);
    st_buf_release(&parent);
    st_buf_release(&child);
}

static void t12_password_change_revokes(void **state)
{
    struct tstack *s = *state;
    struct st_buf old = ST_BUF_INIT, fresh = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct auth_ctx ctx;
    char uid[AUTH_ID_MAX];
    struct store_conn *c;
    make_user(s, "alice", "alice-pw", s->admin_project, "member", uid);
    must_issue(s, "alice", "alice-pw", "admin", &ctx, &old);
    assert_false(ctx.is_admin);
    assert_true(ctx.is_member);

    /* the original password must be right */
    c = conn(s);
    assert_int_equal(idn_change_password(s->idn, c, uid, "wrong", "alice-new", &err), -1);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    store_release(s->st, c);
    assert_valid(s, old.buf);

    usleep(2000); /* the revocation is "issued before now" */
    c = conn(s);
    st_err_clear(&err);
    assert_int_equal(idn_change_password(s->idn, c, uid, "alice-pw", "alice-new", &err), 0);
    store_release(s->st, c);
    assert_invalid(s, old.buf);
    assert_int_equal(issue(s, "alice", "alice-pw", "admin", &ctx, &fresh, &err), -1);
    usleep(2000);
    must_issue(s, "alice", "alice-new", "admin", &ctx, &fresh);
    assert_valid(s, fresh.buf);

    /* an admin setting the password through an update revokes too */
    st_buf_reset(&old);
    usleep(2000);
    must_issue(s, "alice", "alice-new", "admin", &ctx, &old);
    usleep(2000);
    {
        json_t *o = update(s, IDN_USER, uid, "{\"password\": \"by-admin\"}", &err);
        assert_non_null(o);
        assert_null(json_object_get(o, "password"));
        json_decref(o);
    }
    assert_invalid(s, old.buf);
    must_issue(s, "alice", "by-admin", "admin", &ctx, &fresh);
    st_buf_release(&old);
    st_buf_release(&fresh);
}

static void t13_disabled_user_project_domain(void **state)
{
    struct tstack *s = *state;
    struct st_buf tok = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct auth_ctx ctx;
    char uid[AUTH_ID_MAX], pid[AUTH_ID_MAX];
    json_t *o;
    make_project(s, "proj-b", pid);
    make_user(s, "bob", "bob-pw", pid, "reader", uid);
    must_issue(s, "bob", "bob-pw", "proj-b", &ctx, &tok);
    assert_true(ctx.is_reader);
    assert_false(ctx.is_member);
    assert_int_equal(ctx.nroles, 1);

    /* user disabled: its tokens stop working, none can be issued */
    o = update(s, IDN_USER, uid, "{\"enabled\": false}", &err);
    assert_non_null(o);
    json_decref(o);
    assert_invalid(s, tok.buf);
    {
        struct st_buf t2 = ST_BUF_INIT;
        assert_int_equal(issue(s, "bob", "bob-pw", "proj-b", &ctx, &t2, &err), -1);
        assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
        st_buf_release(&t2);
    }
    /* re-enabled: the (stateless) token is good again */
    st_err_clear(&err);
    o = update(s, IDN_USER, uid, "{\"enabled\": true}", &err);
    json_decref(o);
    assert_valid(s, tok.buf);

    /* project disabled */
    o = update(s, IDN_PROJECT, pid, "{\"enabled\": false}", &err);
    assert_non_null(o);
    json_decref(o);
    assert_invalid(s, tok.buf);
    o = update(s, IDN_PROJECT, pid, "{\"enabled\": true}", &err);
    json_decref(o);
    assert_valid(s, tok.buf);

    /* the role taken away, and given back */
    {
        struct store_conn *c = conn(s);
        char role_id[AUTH_ID_MAX];
        tstack_lookup(s, "SELECT id FROM roles WHERE name = ?", "reader", role_id);
        assert_int_equal(idn_revoke_grant(c, "project", pid, uid, role_id, &err), 0);
        store_release(s->st, c);
        assert_invalid(s, tok.buf);
        c = conn(s);
        assert_int_equal(idn_grant(c, "project", pid, uid, role_id, &err), 0);
        store_release(s->st, c);
        assert_valid(s, tok.buf);
    }
    /* user deleted */
    {
        struct store_conn *c = conn(s);
        assert_int_equal(idn_delete(c, IDN_USER, uid, &err), 0);
        store_release(s->st, c);
        assert_invalid(s, tok.buf);
    }
    st_buf_release(&tok);
}

static void t14_domain_disabled(void **state)
{
    struct tstack *s = *state;
    struct st_err err = ST_ERR_INIT;
    struct st_buf tok = ST_BUF_INIT;
    struct auth_ctx ctx;
    struct store_conn *c;
    json_t *d, *p, *u, *auth, *o;
    char role_id[AUTH_ID_MAX];
    d = create(s, IDN_DOMAIN, "{\"name\": \"Other\"}");
    {
        char text[256];
        snprintf(text, sizeof(text), "{\"name\": \"op\", \"domain_id\": \"%s\"}", sval(d, "id"));
        p = create(s, IDN_PROJECT, text);
        snprintf(text, sizeof(text), "{\"name\": \"ou\", \"domain_id\": \"%s\", \"password\":"
                                     " \"pw\"}",
                 sval(d, "id"));
        u = create(s, IDN_USER, text);
    }
    assert_string_equal(sval(p, "parent_id"), sval(d, "id"));
    tstack_lookup(s, "SELECT id FROM roles WHERE name = ?", "member", role_id);
    c = conn(s);
    assert_int_equal(idn_grant(c, "project", sval(p, "id"), sval(u, "id"), role_id, &err), 0);
    auth = json_pack("{s:{s:[s], s:{s:{s:s, s:{s:s}, s:s}}}, s:{s:{s:s, s:{s:s}}}}", "identity",
                     "methods", "password", "password", "user", "name", "ou", "domain", "name",
                     "Other", "password", "pw", "scope", "project", "name", "op", "domain", "id",
                     sval(d, "id"));
    assert_int_equal(identity_issue(s->idn, c, auth, &ctx, &tok, &err), 0);
    json_decref(auth);
    assert_string_equal(ctx.user_domain_name, "Other");
    assert_string_equal(ctx.project_domain_id, sval(d, "id"));
    store_release(s->st, c);
    assert_valid(s, tok.buf);

    /* an enabled domain cannot be deleted */
    c = conn(s);
    assert_int_equal(idn_delete(c, IDN_DOMAIN, sval(d, "id"), &err), -1);
    assert_int_equal(err.kind, ST_ERR_FORBIDDEN);
    store_release(s->st, c);
    st_err_clear(&err);
    o = update(s, IDN_DOMAIN, sval(d, "id"), "{\"enabled\": false}", &err);
    assert_non_null(o);
    json_decref(o);
    assert_invalid(s, tok.buf);

    /* deleting a disabled domain deletes what it owns */
    c = conn(s);
    assert_int_equal(idn_delete(c, IDN_DOMAIN, sval(d, "id"), &err), 0);
    assert_int_equal(count(c, "domains"), 1);
    assert_int_equal(count(c, "projects"), 1);
    assert_int_equal(count(c, "users"), 1);
    assert_int_equal(count(c, "role_assignments"), 1);
    store_release(s->st, c);
    json_decref(d);
    json_decref(p);
    json_decref(u);
    st_buf_release(&tok);
}

static void t15_no_role_no_scope(void **state)
{
    struct tstack *s = *state;
    struct st_buf tok = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct auth_ctx ctx;
    char uid[AUTH_ID_MAX], pid[AUTH_ID_MAX];
    make_project(s, "lonely", pid);
    make_user(s, "carol", "carol-pw", NULL, NULL, uid);
    assert_int_equal(issue(s, "carol", "carol-pw", "lonely", &ctx, &tok, &err), -1);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    assert_int_equal(tok.len, 0);
    assert_int_equal(issue(s, "carol", "carol-pw", "admin", &ctx, &tok, &err), -1);
    /* she can still get an unscoped token */
    must_issue(s, "carol", "carol-pw", NULL, &ctx, &tok);
    assert_false(ctx.project_scoped);
    assert_false(ctx.is_reader);
    assert_valid(s, tok.buf);
    /* a default project without a role on it does not scope either */
    {
        char text[128];
        json_t *o;
        snprintf(text, sizeof(text), "{\"default_project_id\": \"%s\"}", pid);
        o = update(s, IDN_USER, uid, text, &err);
        assert_non_null(o);
        assert_string_equal(sval(o, "default_project_id"), pid);
        json_decref(o);
        must_issue(s, "carol", "carol-pw", NULL, &ctx, &tok);
        assert_false(ctx.project_scoped);
    }
    st_buf_release(&tok);
}

static void t16_token_json(void **state)
{
    struct tstack *s = *state;
    struct st_buf tok = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct auth_ctx ctx;
    struct store_conn *c;
    json_t *j, *t;
    int64_t us;
    must_issue(s, "admin", TSTACK_ADMIN_PASSWORD, "admin", &ctx, &tok);
    c = conn(s);
    j = identity_token_json(s->idn, c, &ctx, true, &err);
    assert_non_null(j);
    t = json_object_get(j, "token");
    assert_string_equal(json_string_value(json_array_get(json_object_get(t, "methods"), 0)),
                        "password");
    assert_string_equal(sval(json_object_get(t, "user"), "id"), s->admin_user);
    assert_string_equal(sval(json_object_get(json_object_get(t, "user"), "domain"), "name"),
                        "Default");
    assert_string_equal(sval(json_object_get(t, "project"), "id"), s->admin_project);
    assert_true(json_is_false(json_object_get(t, "is_domain")));
    assert_int_equal(json_array_size(json_object_get(t, "roles")), 3);
    assert_int_equal(json_array_size(json_object_get(t, "catalog")), 5);
    assert_string_equal(json_string_value(json_array_get(json_object_get(t, "audit_ids"), 0)),
                        ctx.audit_id);
    assert_int_equal(st_time_parse(sval(t, "expires_at"), &us), 0);
    assert_true(us == ctx.expires_at);
    assert_int_equal(st_time_parse(sval(t, "issued_at"), &us), 0);
    assert_true(us == ctx.issued_at);
    assert_non_null(strchr(sval(t, "expires_at"), 'Z'));
    json_decref(j);
    j = identity_token_json(s->idn, c, &ctx, false, &err);
    assert_null(json_object_get(json_object_get(j, "token"), "catalog"));
    json_decref(j);
    store_release(s->st, c);
    st_buf_release(&tok);
}

static void t17_key_rotation_reload(void **state)
{
    struct tstack *s = *state;
    struct st_err err = ST_ERR_INIT;
    struct st_buf before = ST_BUF_INIT, after = ST_BUF_INIT;
    struct auth_ctx ctx;
    must_issue(s, "admin", TSTACK_ADMIN_PASSWORD, "admin", &ctx, &before);
    /* another process rotates: a token made with key 2 is accepted after
     * an automatic reload */
    assert_int_equal(token_keys_rotate(s->keys, 3, &err), 0);
    {
        int64_t now = st_now_us();
        forge(s, now, now + 60000000, &after);
    }
    assert_valid(s, after.buf);
    assert_valid(s, before.buf);
    /* an explicit reload; new tokens then use key 2 */
    assert_int_equal(identity_reload_keys(s->idn, &err), 0);
    st_buf_reset(&after);
    must_issue(s, "admin", TSTACK_ADMIN_PASSWORD, "admin", &ctx, &after);
    {
        struct st_buf raw = ST_BUF_INIT;
        assert_int_equal(st_base64url_decode(after.buf, after.len, &raw), 0);
        assert_memory_equal(raw.buf + 2, "\0\0\0\2", 4);
        st_buf_release(&raw);
    }
    st_buf_release(&before);
    st_buf_release(&after);
}

/* ---- resources ---------------------------------------------------------- */

static void t18_projects_crud(void **state)
{
    struct tstack *s = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c;
    json_t *p, *o, *list;
    const char *id;
    char pid[AUTH_ID_MAX];

    p = create(s, IDN_PROJECT,
               "{\"name\": \"web\", \"description\": \"the web tier\", \"color\": \"blue\"}");
    id = sval(p, "id");
    assert_true(st_is_uuid(id) && strlen(id) == 32);
    snprintf(pid, sizeof(pid), "%s", id);
    assert_string_equal(sval(p, "name"), "web");
    assert_string_equal(sval(p, "domain_id"), "default");
    assert_string_equal(sval(p, "parent_id"), "default");
    assert_string_equal(sval(p, "description"), "the web tier");
    assert_true(json_is_true(json_object_get(p, "enabled")));
    assert_true(json_is_false(json_object_get(p, "is_domain")));
    assert_string_equal(sval(p, "color"), "blue"); /* extra attributes kept */
    assert_null(json_object_get(p, "links"));      /* the API layer adds those */
    json_decref(p);

    /* duplicate name in the domain */
    assert_int_equal(create_fails(s, IDN_PROJECT, "{\"name\": \"web\"}", &err), ST_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "web"));
    st_err_clear(&err);
    /* validation */
    assert_int_equal(create_fails(s, IDN_PROJECT, "{}", &err), ST_ERR_BAD_REQUEST);
    assert_string_equal(err.msg, "Invalid input for field 'name': it is required");
    st_err_clear(&err);
    assert_int_equal(create_fails(s, IDN_PROJECT, "{\"name\": \"  \"}", &err),
                     ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    assert_int_equal(create_fails(s, IDN_PROJECT, "{\"name\": 7}", &err), ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    assert_int_equal(create_fails(s, IDN_PROJECT, "{\"name\": \"x\", \"enabled\": \"yes\"}", &err),
                     ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    assert_int_equal(create_fails(s, IDN_PROJECT, "{\"name\": \"x\", \"domain_id\": \"nope\"}",
                                  &err),
                     ST_ERR_NOT_FOUND);
    st_err_clear(&err);
    assert_int_equal(create_fails(s, IDN_PROJECT, "{\"name\": \"x\", \"parent_id\": \"nope\"}",
                                  &err),
                     ST_ERR_BAD_REQUEST);

    /* a child project */
    {
        char text[256];
        snprintf(text, sizeof(text), "{\"name\": \"web-child\", \"parent_id\": \"%s\"}", pid);
        p = create(s, IDN_PROJECT, text);
        assert_string_equal(sval(p, "parent_id"), pid);
        json_decref(p);
    }

    /* update */
    st_err_clear(&err);
    o = update(s, IDN_PROJECT, pid, "{\"name\": \"www\", \"description\": \"d2\","
                                    " \"color\": null, \"size\": 3}",
               &err);
    if (!o)
        fail_msg("%s", err.msg);
    assert_string_equal(sval(o, "name"), "www");
    assert_string_equal(sval(o, "description"), "d2");
    assert_int_equal(json_integer_value(json_object_get(o, "size")), 3);
    json_decref(o);
    o = update(s, IDN_PROJECT, pid, "{\"domain_id\": \"default\", \"id\": \"ignored-if-same\"}",
               &err);
    assert_null(o);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    o = update(s, IDN_PROJECT, pid, "{\"domain_id\": \"default\"}", &err); /* unchanged: fine */
    assert_non_null(o);
    json_decref(o);
    o = update(s, IDN_PROJECT, pid, "{\"domain_id\": \"other\"}", &err);
    assert_null(o);
    assert_non_null(strstr(err.msg, "cannot be changed"));
    st_err_clear(&err);
    o = update(s, IDN_PROJECT, pid, "{\"name\": \"admin\"}", &err);
    assert_null(o);
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    st_err_clear(&err);
    o = update(s, IDN_PROJECT, "0123456789abcdef0123456789abcdef", "{\"name\": \"z\"}", &err);
    assert_null(o);
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);

    /* list and filters */
    c = conn(s);
    list = idn_list(c, IDN_PROJECT, NULL, 0, &err);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);
    {
        struct idn_filter byname[] = {{"name", "www"}};
        struct idn_filter bydis[] = {{"enabled", "false"}};
        struct idn_filter unknown[] = {{"flavor", "x"}, {"name", "admin"}};
        struct idn_filter badbool[] = {{"enabled", "perhaps"}};
        list = idn_list(c, IDN_PROJECT, byname, 1, &err);
        assert_int_equal(json_array_size(list), 1);
        assert_string_equal(sval(json_array_get(list, 0), "id"), pid);
        json_decref(list);
        list = idn_list(c, IDN_PROJECT, bydis, 1, &err);
        assert_int_equal(json_array_size(list), 0);
        json_decref(list);
        list = idn_list(c, IDN_PROJECT, unknown, 2, &err); /* unknown keys are ignored */
        assert_int_equal(json_array_size(list), 1);
        json_decref(list);
        assert_null(idn_list(c, IDN_PROJECT, badbool, 1, &err));
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
        st_err_clear(&err);
    }

    /* delete: not while it has a child; then gone */
    assert_int_equal(idn_delete(c, IDN_PROJECT, pid, &err), -1);
    assert_int_equal(err.kind, ST_ERR_FORBIDDEN);
    st_err_clear(&err);
    {
        char child[AUTH_ID_MAX];
        tstack_lookup(s, "SELECT id FROM projects WHERE name = ?", "web-child", child);
        assert_int_equal(idn_delete(c, IDN_PROJECT, child, &err), 0);
    }
    assert_int_equal(idn_delete(c, IDN_PROJECT, pid, &err), 0);
    assert_null(idn_get(c, IDN_PROJECT, pid, &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);
    assert_int_equal(idn_delete(c, IDN_PROJECT, pid, &err), -1);
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    assert_int_equal(idn_exists(c, IDN_PROJECT, pid, &err), 0);
    assert_int_equal(idn_exists(c, IDN_PROJECT, s->admin_project, &err), 1);
    store_release(s->st, c);
}

static void t19_users_crud(void **state)
{
    struct tstack *s = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c;
    json_t *u, *o, *list;
    char uid[AUTH_ID_MAX];
    u = create(s, IDN_USER, "{\"name\": \"dave\", \"password\": \"pw\", \"email\":"
                            " \"dave@example.org\", \"enabled\": true, \"shoe\": 42}");
    snprintf(uid, sizeof(uid), "%s", sval(u, "id"));
    assert_string_equal(sval(u, "email"), "dave@example.org");
    assert_string_equal(sval(u, "domain_id"), "default");
    assert_null(json_object_get(u, "password"));
    assert_null(json_object_get(u, "password_hash"));
    assert_null(json_object_get(u, "description")); /* omitted when NULL */
    assert_true(json_is_null(json_object_get(u, "password_expires_at")));
    assert_int_equal(json_integer_value(json_object_get(u, "shoe")), 42);
    json_decref(u);

    assert_int_equal(create_fails(s, IDN_USER, "{\"name\": \"dave\"}", &err), ST_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "dave"));
    st_err_clear(&err);
    /* a user without a password exists but cannot log in */
    u = create(s, IDN_USER, "{\"name\": \"nopw\"}");
    json_decref(u);
    {
        struct st_buf tok = ST_BUF_INIT;
        struct auth_ctx ctx;
        assert_int_equal(issue(s, "nopw", "", NULL, &ctx, &tok, &err), -1);
        assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
        st_err_clear(&err);
        st_buf_release(&tok);
    }

    o = update(s, IDN_USER, uid, "{\"email\": null, \"description\": \"x\"}", &err);
    assert_non_null(o);
    assert_null(json_object_get(o, "email"));
    assert_string_equal(sval(o, "description"), "x");
    json_decref(o);

    c = conn(s);
    {
        struct idn_filter f[] = {{"name", "dave"}};
        list = idn_list(c, IDN_USER, f, 1, &err);
        assert_int_equal(json_array_size(list), 1);
        json_decref(list);
    }
    list = idn_list(c, IDN_USER, NULL, 0, &err);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);

    /* deleting a user deletes its assignments */
    {
        char role_id[AUTH_ID_MAX];
        tstack_lookup(s, "SELECT id FROM roles WHERE name = ?", "member", role_id);
        assert_int_equal(idn_grant(c, "project", s->admin_project, uid, role_id, &err), 0);
        assert_int_equal(count(c, "role_assignments"), 2);
        assert_int_equal(idn_delete(c, IDN_USER, uid, &err), 0);
        assert_int_equal(count(c, "role_assignments"), 1);
    }
    store_release(s->st, c);
}

static void t20_roles_and_grants(void **state)
{
    struct tstack *s = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c;
    json_t *r, *list, *a;
    char rid[AUTH_ID_MAX], uid[AUTH_ID_MAX];
    r = create(s, IDN_ROLE, "{\"name\": \"observer\"}");
    snprintf(rid, sizeof(rid), "%s", sval(r, "id"));
    assert_true(json_is_null(json_object_get(r, "domain_id")));
    json_decref(r);
    assert_int_equal(create_fails(s, IDN_ROLE, "{\"name\": \"observer\"}", &err), ST_ERR_CONFLICT);
    st_err_clear(&err);
    assert_int_equal(create_fails(s, IDN_ROLE, "{\"name\": \"admin\"}", &err), ST_ERR_CONFLICT);
    st_err_clear(&err);

    make_user(s, "erin", "erin-pw", NULL, NULL, uid);
    c = conn(s);
    assert_int_equal(idn_check_grant(c, "project", s->admin_project, uid, rid, &err), 0);
    assert_int_equal(idn_grant(c, "project", s->admin_project, uid, rid, &err), 0);
    assert_int_equal(idn_grant(c, "project", s->admin_project, uid, rid, &err), 0); /* again */
    assert_int_equal(idn_check_grant(c, "project", s->admin_project, uid, rid, &err), 1);
    list = idn_grant_roles(c, "project", s->admin_project, uid, &err);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(sval(json_array_get(list, 0), "name"), "observer");
    json_decref(list);

    /* unknown user, role or project */
    assert_int_equal(idn_grant(c, "project", s->admin_project, "nobody", rid, &err), -1);
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);
    assert_int_equal(idn_grant(c, "project", s->admin_project, uid, "norole", &err), -1);
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);
    assert_int_equal(idn_grant(c, "project", "noproject", uid, rid, &err), -1);
    st_err_clear(&err);

    /* assignments listing with filters and names */
    {
        struct idn_filter byuser[] = {{"user.id", uid}};
        struct idn_filter byproj[] = {{"scope.project.id", s->admin_project}};
        struct idn_filter bygroup[] = {{"group.id", "g"}};
        list = idn_assignments(c, byuser, 1, true, &err);
        assert_int_equal(json_array_size(list), 1);
        a = json_array_get(list, 0);
        assert_string_equal(sval(json_object_get(a, "role"), "id"), rid);
        assert_string_equal(sval(json_object_get(a, "role"), "name"), "observer");
        assert_string_equal(sval(json_object_get(a, "user"), "name"), "erin");
        assert_string_equal(
            sval(json_object_get(json_object_get(a, "scope"), "project"), "id"), s->admin_project);
        assert_string_equal(
            sval(json_object_get(json_object_get(json_object_get(a, "scope"), "project"),
                                 "domain"),
                 "name"),
            "Default");
        json_decref(list);
        list = idn_assignments(c, byproj, 1, false, &err);
        assert_int_equal(json_array_size(list), 2); /* admin's and erin's */
        assert_null(json_object_get(json_object_get(json_array_get(list, 0), "role"), "name"));
        json_decref(list);
        list = idn_assignments(c, bygroup, 1, false, &err);
        assert_int_equal(json_array_size(list), 0);
        json_decref(list);
    }

    /* a domain grant */
    assert_int_equal(idn_grant(c, "domain", "default", uid, rid, &err), 0);
    assert_int_equal(idn_check_grant(c, "domain", "default", uid, rid, &err), 1);
    assert_int_equal(idn_check_grant(c, "project", "default", uid, rid, &err), 0);

    /* revoke; deleting the role removes what is left */
    assert_int_equal(idn_revoke_grant(c, "project", s->admin_project, uid, rid, &err), 0);
    assert_int_equal(idn_revoke_grant(c, "project", s->admin_project, uid, rid, &err), -1);
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);
    assert_int_equal(idn_delete(c, IDN_ROLE, rid, &err), 0);
    assert_int_equal(idn_check_grant(c, "domain", "default", uid, rid, &err), 0);
    assert_int_equal(count(c, "roles"), 3);
    store_release(s->st, c);
}

static void t21_regions_services_endpoints(void **state)
{
    struct tstack *s = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c;
    json_t *r, *svc, *ep, *o, *list;
    char text[512], sid[AUTH_ID_MAX];

    r = create(s, IDN_REGION, "{\"id\": \"RegionTwo\", \"description\": \"second\"}");
    assert_string_equal(sval(r, "id"), "RegionTwo");
    json_decref(r);
    assert_int_equal(create_fails(s, IDN_REGION, "{\"id\": \"RegionTwo\"}", &err),
                     ST_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "RegionTwo"));
    st_err_clear(&err);
    r = create(s, IDN_REGION, "{\"parent_region_id\": \"RegionTwo\"}"); /* generated id */
    assert_true(st_is_uuid(sval(r, "id")));
    json_decref(r);
    assert_int_equal(create_fails(s, IDN_REGION, "{\"parent_region_id\": \"Nowhere\"}", &err),
                     ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    o = update(s, IDN_REGION, "RegionTwo", "{\"parent_region_id\": \"RegionTwo\"}", &err);
    assert_null(o);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);

    svc = create(s, IDN_SERVICE, "{\"type\": \"dns\", \"name\": \"designate\"}");
    snprintf(sid, sizeof(sid), "%s", sval(svc, "id"));
    assert_true(json_is_true(json_object_get(svc, "enabled")));
    json_decref(svc);
    assert_int_equal(create_fails(s, IDN_SERVICE, "{\"name\": \"typeless\"}", &err),
                     ST_ERR_BAD_REQUEST);
    st_err_clear(&err);

    snprintf(text, sizeof(text),
             "{\"service_id\": \"%s\", \"interface\": \"public\", \"url\": \"http://dns\","
             " \"region\": \"RegionTwo\"}",
             sid);
    ep = create(s, IDN_ENDPOINT, text);
    assert_string_equal(sval(ep, "region_id"), "RegionTwo"); /* the legacy name works */
    assert_string_equal(sval(ep, "region"), "RegionTwo");
    json_decref(ep);
    snprintf(text, sizeof(text),
             "{\"service_id\": \"%s\", \"interface\": \"private\", \"url\": \"http://dns\"}", sid);
    assert_int_equal(create_fails(s, IDN_ENDPOINT, text, &err), ST_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "interface"));
    st_err_clear(&err);
    assert_int_equal(create_fails(s, IDN_ENDPOINT,
                                  "{\"service_id\": \"nosuch\", \"interface\": \"public\","
                                  " \"url\": \"http://x\"}",
                                  &err),
                     ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    snprintf(text, sizeof(text),
             "{\"service_id\": \"%s\", \"interface\": \"admin\", \"url\": \"http://x\","
             " \"region_id\": \"Atlantis\"}",
             sid);
    assert_int_equal(create_fails(s, IDN_ENDPOINT, text, &err), ST_ERR_BAD_REQUEST);
    st_err_clear(&err);

    c = conn(s);
    {
        struct idn_filter f[] = {{"service_id", sid}};
        struct idn_filter g[] = {{"region", "RegionTwo"}};
        struct idn_filter h[] = {{"interface", "internal"}};
        list = idn_list(c, IDN_ENDPOINT, f, 1, &err);
        assert_int_equal(json_array_size(list), 1);
        json_decref(list);
        list = idn_list(c, IDN_ENDPOINT, g, 1, &err);
        assert_int_equal(json_array_size(list), 1);
        json_decref(list);
        list = idn_list(c, IDN_ENDPOINT, h, 1, &err);
        assert_int_equal(json_array_size(list), 5);
        json_decref(list);
    }
    /* the new service is in the catalog; gone once disabled */
    {
        json_t *cat = identity_catalog(c, s->admin_project, &err);
        assert_int_equal(json_array_size(cat), 6);
        json_decref(cat);
    }
    store_release(s->st, c);
    o = update(s, IDN_SERVICE, sid, "{\"enabled\": false}", &err);
    assert_non_null(o);
    json_decref(o);
    c = conn(s);
    {
        json_t *cat = identity_catalog(c, s->admin_project, &err);
        assert_int_equal(json_array_size(cat), 5);
        json_decref(cat);
    }
    /* a region with a child cannot go; one with endpoints can (they lose it) */
    assert_int_equal(idn_delete(c, IDN_REGION, "RegionTwo", &err), -1);
    assert_int_equal(err.kind, ST_ERR_FORBIDDEN);
    st_err_clear(&err);
    /* deleting the service deletes its endpoints */
    assert_int_equal(idn_delete(c, IDN_SERVICE, sid, &err), 0);
    assert_int_equal(count(c, "endpoints"), 15);
    store_release(s->st, c);
}

static void t22_user_projects(void **state)
{
    struct tstack *s = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c;
    char uid[AUTH_ID_MAX], p1[AUTH_ID_MAX], p2[AUTH_ID_MAX];
    json_t *arr, *o;
    make_project(s, "one", p1);
    make_project(s, "two", p2);
    make_user(s, "frank", "pw", p1, "reader", uid);
    c = conn(s);
    {
        char rid[AUTH_ID_MAX];
        tstack_lookup(s, "SELECT id FROM roles WHERE name = ?", "member", rid);
        assert_int_equal(idn_grant(c, "project", p2, uid, rid, &err), 0);
    }
    arr = identity_user_projects(c, uid, &err);
    assert_int_equal(json_array_size(arr), 2);
    assert_string_equal(sval(json_array_get(arr, 0), "name"), "one");
    json_decref(arr);
    store_release(s->st, c);
    o = update(s, IDN_PROJECT, p2, "{\"enabled\": false}", &err);
    json_decref(o);
    c = conn(s);
    arr = identity_user_projects(c, uid, &err);
    assert_int_equal(json_array_size(arr), 1); /* enabled ones only */
    json_decref(arr);
    arr = identity_user_projects(c, "nobody", &err);
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
    store_release(s->st, c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    static const struct CMUnitTest tests[] = {
        T(t01_bootstrap_contents),
        T(t02_bootstrap_idempotent),
        T(t03_catalog),
        T(t04_issue_by_names_and_validate),
        T(t05_issue_by_ids_and_default_project),
        T(t06_bad_credentials),
        T(t07_malformed_auth),
        T(t08_expiry),
        T(t09_short_ttl),
        T(t10_revocation),
        T(t11_rescope_never_outlives_parent),
        T(t12_password_change_revokes),
        T(t13_disabled_user_project_domain),
        T(t14_domain_disabled),
        T(t15_no_role_no_scope),
        T(t16_token_json),
        T(t17_key_rotation_reload),
        T(t18_projects_crud),
        T(t19_users_crud),
        T(t20_roles_and_grants),
        T(t21_regions_services_endpoints),
        T(t22_user_projects),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("identity", tests, known_bugs);
}

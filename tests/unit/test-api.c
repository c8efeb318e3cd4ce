/* test-api.c - the identity API through api_handle(): the same routing,
 * body limit, authentication, handlers and fault rendering as requests from
 * the network, over a bootstrapped temp store. */
#include "testutil.h"

#include <strings.h>

#include "stack.h"

#include "api/metrics.h"
#include "api/router.h"
#include "api/server.h"
#include "common/json.h"
#include "compute/server.h"
#include "common/banned.h"

#define HOST "api.example:5000"

struct fx {
    struct tstack s;
    struct router *r;
    struct app app;
    char admin[1024]; /* an admin token for project admin */
};

struct req {
    const char *method;
    const char *path;
    const char *token;   /* X-Auth-Token or NULL */
    const char *subject; /* X-Subject-Token or NULL */
    const char *body;    /* NULL: none */
    const struct api_kv *query;
    size_t nquery;
};

static struct api_result call(struct fx *f, const struct req *q)
{
    struct api_kv headers[4];
    size_t nh = 0;
    struct api_result res;
    struct api_call c = {
        .method = q->method,
        .path = q->path,
        .query = q->query,
        .nquery = q->nquery,
        .body = q->body,
        .body_len = q->body ? strlen(q->body) : 0,
    };
    headers[nh++] = (struct api_kv){"Host", HOST};
    headers[nh++] = (struct api_kv){"Content-Type", "application/json"};
    if (q->token)
        headers[nh++] = (struct api_kv){"X-Auth-Token", q->token};
    if (q->subject)
        headers[nh++] = (struct api_kv){"X-Subject-Token", q->subject};
    c.headers = headers;
    c.nheaders = nh;
    api_handle(&f->app, f->r, &c, &res);
    return res;
}

/* The value of response header 'name' (case-insensitive), "" if absent. */
static void header(const struct api_result *res, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    const char *p = res->headers.buf;
    out[0] = '\0';
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);
        if (len > nl + 2 && !strncasecmp(p, name, nl) && p[nl] == ':' && p[nl + 1] == ' ') {
            snprintf(out, n, "%.*s", (int) (len - nl - 2), p + nl + 2);
            return;
        }
        p += len + (eol ? 1 : 0);
    }
}

/* {"auth": ...} for a password login by names, scoped to 'project'. */
static char *auth_body(const char *user, const char *password, const char *project)
{
    json_t *b = json_pack("{s:{s:{s:[s], s:{s:{s:s, s:{s:s}, s:s}}}}}", "auth", "identity",
                          "methods", "password", "password", "user", "name", user, "domain",
                          "name", "Default", "password", password);
    char *s;
    if (project)
        json_object_set_new(json_object_get(b, "auth"), "scope",
                            json_pack("{s:{s:s, s:{s:s}}}", "project", "name", project, "domain",
                                      "id", "default"));
    s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

/* Logs in; the token goes to 'out'. */
static void login(struct fx *f, const char *user, const char *password, const char *project,
                  char *out, size_t n)
{
    char *body = auth_body(user, password, project);
    struct req q = {"POST", "/identity/v3/auth/tokens", NULL, NULL, body, NULL, 0};
    struct api_result res = call(f, &q);
    if (res.status != 201)
        fail_msg("login %s: %d %s", user, res.status, res.body.buf);
    header(&res, "X-Subject-Token", out, n);
    assert_true(strlen(out) > 40);
    api_result_release(&res);
    free(body);
}

/* The identity fault shape, exactly: {"error": {"code", "title", "message"}}. */
static void assert_fault(const struct api_result *res, int status, const char *title)
{
    json_t *e;
    if (res->status != status)
        fail_msg("status %d, not %d: %s", res->status, status, res->body.buf);
    assert_non_null(res->json);
    assert_int_equal(json_object_size(res->json), 1);
    e = json_object_get(res->json, "error");
    assert_non_null(e);
    assert_int_equal(json_object_size(e), 3);
    assert_int_equal(json_integer_value(json_object_get(e, "code")), status);
    assert_string_equal(json_string_value(json_object_get(e, "title")), title);
    assert_true(json_is_string(json_object_get(e, "message")));
    assert_true(json_string_length(json_object_get(e, "message")) > 0);
}

static const char *fault_message(const struct api_result *res)
{
    return json_string_value(json_object_get(json_object_get(res->json, "error"), "message"));
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct st_err err = ST_ERR_INIT;
    assert_non_null(f);
    if (tstack_open(&f->s, NULL, 3600, 1, &err) < 0)
        fail_msg("%s", err.msg);
    f->r = router_new();
    api_register_routes(f->r);
    f->app.store = f->s.st;
    f->app.identity = f->s.idn;
    f->app.data_dir = f->s.dir;
    f->app.max_body = 4096;
    *state = f;
    login(f, "admin", TSTACK_ADMIN_PASSWORD, "admin", f->admin, sizeof(f->admin));
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    router_free(f->r);
    tstack_close(&f->s);
    free(f);
    return 0;
}

/* Creates a resource as admin; returns its id in 'id'. */
static void admin_create(struct fx *f, const char *path, const char *body, char *id, size_t n)
{
    struct req q = {"POST", path, f->admin, NULL, body, NULL, 0};
    struct api_result res = call(f, &q);
    json_t *o;
    const char *key;
    if (res.status != 201)
        fail_msg("POST %s: %d %s", path, res.status, res.body.buf);
    json_object_foreach(res.json, key, o)
        snprintf(id, n, "%s", json_string_value(json_object_get(o, "id")));
    api_result_release(&res);
}

/* A user with 'role' on a new project; fills both ids. */
static void member_setup(struct fx *f, const char *name, const char *project, const char *role,
                         char uid[64], char pid[64])
{
    char body[256], path[256], rid[AUTH_ID_MAX];
    struct api_result res;
    struct req q = {"PUT", path, f->admin, NULL, NULL, NULL, 0};
    snprintf(body, sizeof(body), "{\"project\": {\"name\": \"%s\"}}", project);
    admin_create(f, "/identity/v3/projects", body, pid, 64);
    snprintf(body, sizeof(body), "{\"user\": {\"name\": \"%s\", \"password\": \"%s-pw\"}}", name,
             name);
    admin_create(f, "/identity/v3/users", body, uid, 64);
    tstack_lookup(&f->s, "SELECT id FROM roles WHERE name = ?", role, rid);
    snprintf(path, sizeof(path), "/identity/v3/projects/%s/users/%s/roles/%s", pid, uid, rid);
    res = call(f, &q);
    assert_int_equal(res.status, 204);
    api_result_release(&res);
}

/* ---- authentication ----------------------------------------------------- */

static void t01_issue_token(void **state)
{
    struct fx *f = *state;
    char *body = auth_body("admin", TSTACK_ADMIN_PASSWORD, "admin");
    struct req q = {"POST", "/identity/v3/auth/tokens", NULL, NULL, body, NULL, 0};
    struct api_result res = call(f, &q);
    char tok[1024], subject[1024];
    json_t *t;
    assert_int_equal(res.status, 201);
    header(&res, "X-Subject-Token", tok, sizeof(tok));
    assert_true(strlen(tok) > 40);
    t = json_object_get(res.json, "token");
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "user"), "name")),
                        "admin");
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "project"), "id")),
                        f->s.admin_project);
    assert_int_equal(json_array_size(json_object_get(t, "catalog")), 5);
    assert_int_equal(json_array_size(json_object_get(t, "roles")), 3);
    api_result_release(&res);

    /* the new token works */
    {
        struct req v = {"GET", "/identity/v3/auth/tokens", tok, tok, NULL, NULL, 0};
        res = call(f, &v);
        assert_int_equal(res.status, 200);
        header(&res, "X-Subject-Token", subject, sizeof(subject));
        assert_string_equal(subject, tok);
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_object_get(res.json, "token"), "user"),
                                "id")),
                            f->s.admin_user);
        api_result_release(&res);
    }
    /* ?nocatalog leaves the catalog out */
    {
        static const struct api_kv nocat[] = {{"nocatalog", ""}};
        struct req n = {"POST", "/identity/v3/auth/tokens", NULL, NULL, body, nocat, 1};
        res = call(f, &n);
        assert_int_equal(res.status, 201);
        assert_null(json_object_get(json_object_get(res.json, "token"), "catalog"));
        api_result_release(&res);
    }
    /* a wrong password is a 401 with the Keystone challenge */
    free(body);
    body = auth_body("admin", "nope", "admin");
    {
        struct req w = {"POST", "/identity/v3/auth/tokens", NULL, NULL, body, NULL, 0};
        char www[256];
        res = call(f, &w);
        assert_fault(&res, 401, "Unauthorized");
        header(&res, "X-Subject-Token", tok, sizeof(tok));
        assert_string_equal(tok, "");
        header(&res, "WWW-Authenticate", www, sizeof(www));
        assert_string_equal(www, "Keystone uri=\"http://" HOST "/identity\"");
        api_result_release(&res);
    }
    free(body);
}

static void t02_malformed_json_400(void **state)
{
    static const char *const bodies[] = {
        "{", "{\"auth\": }", "not json", "{\"auth\": {}, \"auth\": {}}", "[]", "",
        "{\"auth\": {\"identity\": {\"methods\": [\"password\"]}}}}",
    };
    struct fx *f = *state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bodies); i++) {
        struct req q = {"POST", "/identity/v3/auth/tokens", NULL, NULL, bodies[i], NULL, 0};
        struct api_result res = call(f, &q);
        assert_fault(&res, 400, "Bad Request");
        api_result_release(&res);
    }
    /* the message explains */
    {
        struct req q = {"POST", "/identity/v3/auth/tokens", NULL, NULL, "{\"auth\": ]", NULL, 0};
        struct api_result res = call(f, &q);
        assert_fault(&res, 400, "Bad Request");
        assert_non_null(strstr(fault_message(&res), "Malformed request body"));
        api_result_release(&res);
    }
}

static void t03_wrong_types_and_missing_fields_400(void **state)
{
    static const char *const bodies[] = {
        "{}",                                   /* no auth */
        "{\"auth\": \"password\"}",             /* auth not an object */
        "{\"auth\": {}}",                       /* no identity */
        "{\"auth\": {\"identity\": []}}",
        "{\"auth\": {\"identity\": {\"methods\": \"password\"}}}",
        "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": []}}}",
        "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {}}}}",
        "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\":"
        " {\"name\": 42, \"domain\": {\"id\": \"default\"}, \"password\": \"x\"}}}}}",
        "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\":"
        " {\"name\": \"admin\", \"domain\": {\"id\": \"default\"}, \"password\": 1}}}}}",
        "{\"auth\": {\"identity\": {\"methods\": [\"password\"], \"password\": {\"user\":"
        " {\"name\": \"admin\", \"domain\": {\"id\": \"default\"}}}}}}",
    };
    struct fx *f = *state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bodies); i++) {
        struct req q = {"POST", "/identity/v3/auth/tokens", NULL, NULL, bodies[i], NULL, 0};
        struct api_result res = call(f, &q);
        if (res.status != 400)
            fail_msg("%s: %d %s", bodies[i], res.status, res.body.buf);
        assert_fault(&res, 400, "Bad Request");
        api_result_release(&res);
    }
    /* on a resource: the inner object must be there and typed */
    {
        static const char *const pb[] = {"{}", "{\"project\": []}", "{\"project\": {}}",
                                         "{\"project\": {\"name\": 1}}",
                                         "{\"project\": {\"name\": \"x\", \"enabled\": 1}}"};
        for (size_t i = 0; i < ST_ARRAY_SIZE(pb); i++) {
            struct req q = {"POST", "/identity/v3/projects", f->admin, NULL, pb[i], NULL, 0};
            struct api_result res = call(f, &q);
            assert_fault(&res, 400, "Bad Request");
            api_result_release(&res);
        }
    }
    /* the field is named */
    {
        struct req q = {"POST", "/identity/v3/projects", f->admin, NULL, "{\"project\": {}}",
                        NULL, 0};
        struct api_result res = call(f, &q);
        assert_string_equal(fault_message(&res), "Invalid input for field 'name': it is required");
        api_result_release(&res);
    }
}

static void t04_body_too_large_413(void **state)
{
    struct fx *f = *state;
    struct st_buf big = ST_BUF_INIT;
    struct api_result res;
    st_buf_adds(&big, "{\"auth\": \"");
    while (big.len < f->app.max_body - 2)
        st_buf_addch(&big, 'x');
    st_buf_adds(&big, "\"}");
    assert_int_equal(big.len, f->app.max_body);
    {
        /* exactly the limit: read and judged on its content */
        struct req q = {"POST", "/identity/v3/auth/tokens", NULL, NULL, big.buf, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 400, "Bad Request");
        api_result_release(&res);
    }
    st_buf_truncate(&big, big.len - 2);
    st_buf_adds(&big, "x\"}");
    {
        struct req q = {"POST", "/identity/v3/auth/tokens", NULL, NULL, big.buf, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 413, "Request Entity Too Large");
        api_result_release(&res);
    }
    /* even before authentication */
    {
        struct req q = {"POST", "/identity/v3/projects", NULL, NULL, big.buf, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 413, "Request Entity Too Large");
        api_result_release(&res);
    }
    st_buf_release(&big);
}

static void t05_unknown_path_404(void **state)
{
    static const char *const paths[] = {"/identity/v3/nothing", "/identity/v2.0/tokens",
                                        "/identity/v3/auth/tokens/x", "/nowhere"};
    struct fx *f = *state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(paths); i++) {
        struct req q = {"GET", paths[i], f->admin, NULL, NULL, NULL, 0};
        struct api_result res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
    /* faults take the style of the service the path falls under */
    {
        struct req q = {"GET", "/compute/v2.1/nothing", f->admin, NULL, NULL, NULL, 0};
        struct api_result res = call(f, &q);
        json_t *e = json_object_get(res.json, "itemNotFound");
        assert_int_equal(res.status, 404);
        assert_non_null(e);
        assert_int_equal(json_integer_value(json_object_get(e, "code")), 404);
        api_result_release(&res);
    }
    {
        struct req q = {"GET", "/network/v2.0/nothing", f->admin, NULL, NULL, NULL, 0};
        struct api_result res = call(f, &q);
        json_t *e = json_object_get(res.json, "NeutronError");
        assert_int_equal(res.status, 404);
        assert_non_null(e);
        assert_string_equal(json_string_value(json_object_get(e, "type")), "NotFound");
        api_result_release(&res);
    }
}

static void t06_wrong_method_405(void **state)
{
    struct fx *f = *state;
    char allow[128];
    struct req q = {"PATCH", "/identity/v3/auth/tokens", f->admin, NULL, "{}", NULL, 0};
    struct api_result res = call(f, &q);
    assert_fault(&res, 405, "Method Not Allowed");
    header(&res, "Allow", allow, sizeof(allow));
    assert_string_equal(allow, "POST, GET, HEAD, DELETE");
    api_result_release(&res);
    {
        struct req p = {"PUT", "/identity/v3/users", NULL, NULL, NULL, NULL, 0};
        res = call(f, &p);
        assert_fault(&res, 405, "Method Not Allowed"); /* before authentication */
        header(&res, "Allow", allow, sizeof(allow));
        assert_string_equal(allow, "GET, HEAD, POST");
        api_result_release(&res);
    }
}

static void t07_no_token_401(void **state)
{
    static const char *const paths[] = {"/identity/v3/users", "/identity/v3/projects",
                                        "/identity/v3/auth/catalog", "/identity/v3/regions"};
    struct fx *f = *state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(paths); i++) {
        struct req q = {"GET", paths[i], NULL, NULL, NULL, NULL, 0};
        struct api_result res = call(f, &q);
        char www[256];
        assert_fault(&res, 401, "Unauthorized");
        header(&res, "WWW-Authenticate", www, sizeof(www));
        assert_string_equal(www, "Keystone uri=\"http://" HOST "/identity\"");
        api_result_release(&res);
    }
    /* an empty or forged token is the same */
    {
        struct req q = {"GET", "/identity/v3/users", "", NULL, NULL, NULL, 0};
        struct api_result res = call(f, &q);
        assert_fault(&res, 401, "Unauthorized");
        api_result_release(&res);
    }
    {
        char forged[1024];
        struct req q = {"GET", "/identity/v3/users", forged, NULL, NULL, NULL, 0};
        struct api_result res;
        snprintf(forged, sizeof(forged), "%s", f->admin);
        forged[10] = forged[10] == 'A' ? 'B' : 'A';
        res = call(f, &q);
        assert_fault(&res, 401, "Unauthorized");
        api_result_release(&res);
    }
    /* the versions documents need none */
    {
        struct req q = {"GET", "/identity/v3", NULL, NULL, NULL, NULL, 0};
        struct api_result res = call(f, &q);
        assert_int_equal(res.status, 200);
        api_result_release(&res);
    }
}

static void t08_member_policy(void **state)
{
    struct fx *f = *state;
    char uid[64], pid[64], tok[1024], path[256], other[64];
    struct api_result res;
    member_setup(f, "mia", "mia-proj", "member", uid, pid);
    admin_create(f, "/identity/v3/projects", "{\"project\": {\"name\": \"someone-else\"}}", other,
                 sizeof(other));
    login(f, "mia", "mia-pw", "mia-proj", tok, sizeof(tok));
    {
        struct req q = {"GET", "/identity/v3/users", tok, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 403, "Forbidden");
        api_result_release(&res);
    }
    {
        struct req q = {"POST", "/identity/v3/projects", tok, NULL,
                        "{\"project\": {\"name\": \"mine\"}}", NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 403, "Forbidden");
        api_result_release(&res);
    }
    /* another project is invisible, not forbidden; her own is readable */
    snprintf(path, sizeof(path), "/identity/v3/projects/%s", other);
    {
        struct req q = {"GET", path, tok, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
    snprintf(path, sizeof(path), "/identity/v3/projects/%s", f->s.admin_project);
    {
        struct req q = {"GET", path, tok, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
    snprintf(path, sizeof(path), "/identity/v3/projects/%s", pid);
    {
        struct req q = {"GET", path, tok, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 200);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(res.json, "project"), "name")),
            "mia-proj");
        api_result_release(&res);
    }
    /* herself yes, the admin no */
    snprintf(path, sizeof(path), "/identity/v3/users/%s", uid);
    {
        struct req q = {"GET", path, tok, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 200);
        api_result_release(&res);
    }
    snprintf(path, sizeof(path), "/identity/v3/users/%s", f->s.admin_user);
    {
        struct req q = {"GET", path, tok, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 403, "Forbidden");
        api_result_release(&res);
    }
    /* validating someone else's token */
    {
        struct req q = {"GET", "/identity/v3/auth/tokens", tok, f->admin, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 403, "Forbidden");
        api_result_release(&res);
    }
    /* role assignments: her own only */
    {
        static struct api_kv mine[1];
        struct req q = {"GET", "/identity/v3/role_assignments", tok, NULL, NULL, mine, 1};
        mine[0] = (struct api_kv){"user.id", uid};
        res = call(f, &q);
        assert_int_equal(res.status, 200);
        assert_int_equal(json_array_size(json_object_get(res.json, "role_assignments")), 1);
        api_result_release(&res);
        q.nquery = 0;
        res = call(f, &q);
        assert_fault(&res, 403, "Forbidden");
        api_result_release(&res);
    }
    /* her catalog and projects */
    {
        struct req q = {"GET", "/identity/v3/auth/projects", tok, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 200);
        assert_int_equal(json_array_size(json_object_get(res.json, "projects")), 1);
        api_result_release(&res);
    }
}

static void t09_revoked_token_401(void **state)
{
    struct fx *f = *state;
    char tok[1024], other[1024];
    struct api_result res;
    login(f, "admin", TSTACK_ADMIN_PASSWORD, "admin", tok, sizeof(tok));
    login(f, "admin", TSTACK_ADMIN_PASSWORD, "admin", other, sizeof(other));
    {
        struct req q = {"DELETE", "/identity/v3/auth/tokens", tok, tok, NULL, NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 204);
        assert_int_equal(res.body.len, 0);
        api_result_release(&res);
    }
    {
        struct req q = {"GET", "/identity/v3/users", tok, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 401, "Unauthorized");
        api_result_release(&res);
    }
    /* checking it as a subject: 404, as Keystone answers */
    {
        struct req q = {"GET", "/identity/v3/auth/tokens", other, tok, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
    {
        struct req q = {"GET", "/identity/v3/auth/tokens", other, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found"); /* no subject at all */
        api_result_release(&res);
    }
    /* the other token is untouched */
    {
        struct req q = {"GET", "/identity/v3/users", other, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 200);
        api_result_release(&res);
    }
}

/* ---- resources ---------------------------------------------------------- */

static void t10_project_crud(void **state)
{
    struct fx *f = *state;
    char id[64], path[256], self[256];
    struct api_result res;
    json_t *p;
    {
        struct req q = {"POST", "/identity/v3/projects", f->admin, NULL,
                        "{\"project\": {\"name\": \"web\", \"description\": \"tier\"}}", NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 201);
        p = json_object_get(res.json, "project");
        snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(p, "id")));
        snprintf(self, sizeof(self), "http://" HOST "/identity/v3/projects/%s", id);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(p, "links"), "self")), self);
        api_result_release(&res);
        /* again: a conflict */
        res = call(f, &q);
        assert_fault(&res, 409, "Conflict");
        assert_non_null(strstr(fault_message(&res), "web"));
        api_result_release(&res);
    }
    snprintf(path, sizeof(path), "/identity/v3/projects/%s", id);
    {
        struct req q = {"PATCH", path, f->admin, NULL, "{\"project\": {\"enabled\": false}}",
                        NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 200);
        assert_true(json_is_false(
            json_object_get(json_object_get(res.json, "project"), "enabled")));
        api_result_release(&res);
    }
    {
        static const struct api_kv flt[] = {{"enabled", "false"}};
        struct req q = {"GET", "/identity/v3/projects", f->admin, NULL, NULL, flt, 1};
        json_t *links;
        res = call(f, &q);
        assert_int_equal(res.status, 200);
        assert_int_equal(json_array_size(json_object_get(res.json, "projects")), 1);
        links = json_object_get(res.json, "links");
        assert_string_equal(json_string_value(json_object_get(links, "self")),
                            "http://" HOST "/identity/v3/projects");
        assert_true(json_is_null(json_object_get(links, "next")));
        api_result_release(&res);
    }
    {
        struct req q = {"DELETE", path, f->admin, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 204);
        api_result_release(&res);
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
    {
        struct req q = {"GET", path, f->admin, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
}

static void t11_grants_and_assignments(void **state)
{
    struct fx *f = *state;
    char uid[64], pid[64], path[512], rid[AUTH_ID_MAX];
    struct api_result res;
    member_setup(f, "gus", "gus-proj", "reader", uid, pid);
    tstack_lookup(&f->s, "SELECT id FROM roles WHERE name = ?", "reader", rid);
    snprintf(path, sizeof(path), "/identity/v3/projects/%s/users/%s/roles/%s", pid, uid, rid);
    {
        struct req q = {"GET", path, f->admin, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 204);
        api_result_release(&res);
        q.method = "HEAD";
        res = call(f, &q);
        assert_int_equal(res.status, 204);
        api_result_release(&res);
    }
    {
        static struct api_kv flt[2];
        struct req q = {"GET", "/identity/v3/role_assignments", f->admin, NULL, NULL, flt, 2};
        json_t *a;
        flt[0] = (struct api_kv){"scope.project.id", pid};
        flt[1] = (struct api_kv){"include_names", ""};
        res = call(f, &q);
        assert_int_equal(res.status, 200);
        assert_int_equal(json_array_size(json_object_get(res.json, "role_assignments")), 1);
        a = json_array_get(json_object_get(res.json, "role_assignments"), 0);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(a, "user"), "name")), "gus");
        assert_non_null(strstr(
            json_string_value(json_object_get(json_object_get(a, "links"), "assignment")), path));
        api_result_release(&res);
    }
    {
        struct req q = {"DELETE", path, f->admin, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 204);
        api_result_release(&res);
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
        q.method = "GET";
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
    /* unknown user or role: 404 */
    snprintf(path, sizeof(path), "/identity/v3/projects/%s/users/nobody/roles/%s", pid, rid);
    {
        struct req q = {"PUT", path, f->admin, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
}

static void t12_change_own_password(void **state)
{
    struct fx *f = *state;
    char uid[64], pid[64], tok[1024], path[256];
    struct api_result res;
    member_setup(f, "hal", "hal-proj", "member", uid, pid);
    login(f, "hal", "hal-pw", "hal-proj", tok, sizeof(tok));
    snprintf(path, sizeof(path), "/identity/v3/users/%s/password", f->s.admin_user);
    {
        /* not someone else's */
        struct req q = {"POST", path, tok, NULL,
                        "{\"user\": {\"original_password\": \"hal-pw\", \"password\": \"x\"}}",
                        NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 403, "Forbidden");
        api_result_release(&res);
    }
    snprintf(path, sizeof(path), "/identity/v3/users/%s/password", uid);
    {
        struct req q = {"POST", path, tok, NULL,
                        "{\"user\": {\"original_password\": \"wrong\", \"password\": \"x\"}}",
                        NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 401, "Unauthorized");
        api_result_release(&res);
        q.body = "{\"user\": {\"original_password\": \"hal-pw\", \"password\": \"\"}}";
        res = call(f, &q);
        assert_fault(&res, 400, "Bad Request");
        api_result_release(&res);
        q.body = "{\"user\": {\"original_password\": \"hal-pw\"}}";
        res = call(f, &q);
        assert_fault(&res, 400, "Bad Request");
        api_result_release(&res);
    }
    usleep(2000);
    {
        struct req q = {"POST", path, tok, NULL,
                        "{\"user\": {\"original_password\": \"hal-pw\", \"password\": \"hal-2\"}}",
                        NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 204);
        api_result_release(&res);
    }
    {
        struct req q = {"GET", "/identity/v3/auth/projects", tok, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 401, "Unauthorized"); /* the old token is revoked */
        api_result_release(&res);
    }
    usleep(2000);
    login(f, "hal", "hal-2", "hal-proj", tok, sizeof(tok));
}

static void t13_catalog_and_versions(void **state)
{
    struct fx *f = *state;
    struct api_result res;
    {
        struct req q = {"GET", "/identity/v3/auth/catalog", f->admin, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_int_equal(res.status, 200);
        assert_int_equal(json_array_size(json_object_get(res.json, "catalog")), 5);
        api_result_release(&res);
    }
    {
        struct req q = {"GET", "/identity", NULL, NULL, NULL, NULL, 0};
        json_t *v;
        res = call(f, &q);
        assert_int_equal(res.status, 300);
        v = json_array_get(json_object_get(json_object_get(res.json, "versions"), "values"), 0);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(v, "links"), 0), "href")),
                            "http://" HOST "/identity/v3/");
        api_result_release(&res);
    }
}

/*
 * KNOWN BUG: src/identity/assignment.c idn_grant() checks the target with
 * check_ref(), which reports a missing project as BAD_REQUEST (it is meant
 * for references inside a request body).  For PUT
 * /v3/projects/{p}/users/{u}/roles/{r} the project is in the path, and
 * Keystone answers 404 (ProjectNotFound), as stratus already does for an
 * unknown user or role in the same call.  Fix: in idn_grant, use
 * idn_exists() for the project and set ST_ERR_NOT_FOUND "Could not find
 * project: %s.".
 */
static void t14_grant_unknown_project_404(void **state)
{
    struct fx *f = *state;
    char path[512], rid[AUTH_ID_MAX];
    struct api_result res;
    tstack_lookup(&f->s, "SELECT id FROM roles WHERE name = ?", "member", rid);
    snprintf(path, sizeof(path), "/identity/v3/projects/nosuchproject/users/%s/roles/%s",
             f->s.admin_user, rid);
    {
        struct req q = {"PUT", path, f->admin, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
}

/*
 * KNOWN BUG: src/api/fault.c api_fault(): st_err.msg holds at most 511
 * bytes, and messages that quote user input ("Could not find project:
 * <path segment>") are cut in the middle of a UTF-8 sequence, or quote
 * bytes from the URL that are not UTF-8 at all.  json_pack() refuses
 * invalid UTF-8 and returns NULL, so the fault goes out with its status
 * but no body.  Fix: in api_fault, check json_pack's result and fall back
 * to a sanitised message (invalid sequences replaced by U+FFFD, or the
 * status title); better also make err_vset cut at a character boundary.
 */
static void t15_fault_body_with_non_ascii(void **state)
{
    struct fx *f = *state;
    struct st_buf path = ST_BUF_INIT;
    struct api_result res;
    /* a long non-ASCII id: the message is cut inside a character */
    st_buf_adds(&path, "/identity/v3/projects/");
    for (int i = 0; i < 300; i++)
        st_buf_adds(&path, "\xc3\xa9");
    {
        struct req q = {"GET", path.buf, f->admin, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
    /* a path segment that is not UTF-8 */
    {
        struct req q = {"GET", "/identity/v3/projects/\xff\xfe", f->admin, NULL, NULL, NULL, 0};
        res = call(f, &q);
        assert_fault(&res, 404, "Not Found");
        api_result_release(&res);
    }
    st_buf_release(&path);
}

/*
 * KNOWN BUG: src/common/json.c jget_str_n() compares json_string_length(),
 * a count of bytes, with 'maxlen', which callers and the message ("longer
 * than %zu characters") mean as characters, as Keystone's JSON schemas do
 * (maxLength counts code points).  A user name of 255 non-ASCII characters
 * is refused with 400.  Fix: count UTF-8 code points (bytes that are not
 * 10xxxxxx) for the limit; keep a separate byte bound if storage needs one.
 */
static void t16_name_limit_in_characters(void **state)
{
    struct fx *f = *state;
    struct st_buf body = ST_BUF_INIT;
    struct api_result res;
    st_buf_adds(&body, "{\"user\": {\"name\": \"");
    for (int i = 0; i < 255; i++)
        st_buf_adds(&body, "\xc3\xa9");
    st_buf_adds(&body, "\"}}");
    {
        struct req q = {"POST", "/identity/v3/users", f->admin, NULL, body.buf, NULL, 0};
        res = call(f, &q);
        if (res.status != 201)
            fail_msg("%d %s", res.status, res.body.buf);
        api_result_release(&res);
    }
    st_buf_release(&body);
}

/* Requests are counted by route pattern (never the raw path), method and
 * status; unmatched paths and unknown methods fold into one label value. */
static void t17_requests_counted_by_route(void **state)
{
    static const struct compute_conf conf = {16.0, 1.5, 1.0, 512, 60, 10, 20, 51200, 60, "nova"};
    struct fx *f = *state;
    struct st_buf b = ST_BUF_INIT;
    struct st_buf path = ST_BUF_INIT;
    const struct req reqs[] = {
        {"GET", NULL, f->admin, NULL, NULL, NULL, 0}, /* the admin project, twice */
        {"GET", NULL, f->admin, NULL, NULL, NULL, 0},
        {"GET", "/identity/v3/projects/no-such-project", f->admin, NULL, NULL, NULL, 0},
        {"GET", "/nowhere/at/all", NULL, NULL, NULL, NULL, 0},
        {"BREW", "/identity/v3/projects", f->admin, NULL, NULL, NULL, 0},
    };

    f->app.metrics = api_metrics_new();
    f->app.compute = &conf;
    st_buf_addf(&path, "/identity/v3/projects/%s", f->s.admin_project);
    for (size_t i = 0; i < ST_ARRAY_SIZE(reqs); i++) {
        struct req q = reqs[i];
        struct api_result res;
        if (!q.path)
            q.path = path.buf;
        res = call(f, &q);
        api_result_release(&res);
    }
    api_metrics_render(f->app.metrics, &f->app, &b);
#define HAS(line) \
    do { \
        if (!strstr(b.buf, line "\n")) \
            fail_msg("no line '%s' in:\n%s", line, b.buf); \
    } while (0)
    HAS("stratus_http_requests_total{method=\"GET\",route=\"/identity/v3/projects/{id}\","
        "code=\"200\"} 2");
    HAS("stratus_http_requests_total{method=\"GET\",route=\"/identity/v3/projects/{id}\","
        "code=\"404\"} 1");
    HAS("stratus_http_requests_total{method=\"GET\",route=\"(unmatched)\",code=\"404\"} 1");
    HAS("stratus_http_requests_total{method=\"OTHER\",route=\"(unmatched)\",code=\"405\"} 1");
    HAS("stratus_http_request_duration_seconds_count{method=\"GET\","
        "route=\"/identity/v3/projects/{id}\"} 3");
    HAS("stratus_hosts_up 0");
    HAS("stratus_store_up 1");
#undef HAS
    assert_null(strstr(b.buf, f->s.admin_project)); /* no raw path */
    assert_null(strstr(b.buf, "BREW"));
    st_buf_release(&b);
    st_buf_release(&path);
    api_metrics_free(f->app.metrics);
    f->app.metrics = NULL;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    static const struct CMUnitTest tests[] = {
        T(t01_issue_token),
        T(t02_malformed_json_400),
        T(t03_wrong_types_and_missing_fields_400),
        T(t04_body_too_large_413),
        T(t05_unknown_path_404),
        T(t06_wrong_method_405),
        T(t07_no_token_401),
        T(t08_member_policy),
        T(t09_revoked_token_401),
        T(t10_project_crud),
        T(t11_grants_and_assignments),
        T(t12_change_own_password),
        T(t13_catalog_and_versions),
        T(t14_grant_unknown_project_404),
        T(t15_fault_body_with_non_ascii),
        T(t16_name_limit_in_characters),
        T(t17_requests_counted_by_route),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("api", tests, known_bugs);
}

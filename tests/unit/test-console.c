/* test-console.c - console tokens and sessions (src/compute/console.c):
 * hashed at rest, one use, expiry, bound to server and kind, refused when the
 * asker lost access, revoked with the server; sessions in the desired state. */
#include "testutil.h"

#include "compute/console.h"
#include "store/revision.h"
#include "stack.h"
#include "common/banned.h"

#define SRV "5b3c6a1e-8f2d-4c1a-9e7b-2d4f6a8c0e11"
#define SRV2 "6c4d7b2f-9a3e-4d2b-8f8c-3e5a7b9d1f22"

struct fx {
    struct tstack s;
    struct store_conn *c;
    struct auth_ctx ctx;
};

static void exec_ok(struct store_conn *c, const char *sql, const char *a)
{
    struct st_err err = ST_ERR_INIT;
    if (store_exec(c, &err, sql, STORE_ARGS(P(a))) < 0)
        fail_msg("%s: %s", sql, err.msg);
}

static void add_server(struct fx *f, const char *id, const char *state, int power)
{
    struct st_err err = ST_ERR_INIT;
    if (store_exec(f->c, &err,
                   "INSERT INTO servers (id, name, hostname, project_id, user_id, host, flavor,"
                   " vcpus, memory_mb, disk_gb, vm_state, power_state, created_at, updated_at)"
                   " VALUES (?, 'vm', 'vm', ?, ?, 'h1', '{}', 1, 64, 1, ?, ?, 1, 1)",
                   STORE_ARGS(P(id), P(f->s.admin_project), P(f->s.admin_user), P(state),
                              P(power))) < 0)
        fail_msg("insert server: %s", err.msg);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct st_err err = ST_ERR_INIT;
    if (tstack_open(&f->s, NULL, 3600, 1, &err) < 0)
        fail_msg("tstack: %s", err.msg);
    f->c = store_acquire(f->s.st, &err);
    assert_non_null(f->c);
    exec_ok(f->c,
            "INSERT INTO hosts (name, id, secret_hash, created_at, updated_at)"
            " VALUES (?, 'hid', 'x', 1, 1)",
            "h1");
    add_server(f, SRV, "active", 1);
    add_server(f, SRV2, "active", 1);
    snprintf(f->ctx.user_id, sizeof(f->ctx.user_id), "%s", f->s.admin_user);
    snprintf(f->ctx.project_id, sizeof(f->ctx.project_id), "%s", f->s.admin_project);
    f->ctx.project_scoped = true;
    f->ctx.is_admin = f->ctx.is_member = f->ctx.is_reader = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_release(f->s.st, f->c);
    tstack_close(&f->s);
    free(f);
    return 0;
}

static void make(struct fx *f, const char *srv, const char *kind, int64_t ttl, struct st_buf *tok)
{
    struct st_err err = ST_ERR_INIT;
    st_buf_reset(tok);
    if (console_token_create(f->c, &f->ctx, srv, kind, ttl, tok, &err) < 0)
        fail_msg("create: %s", err.msg);
}

static int use(struct fx *f, const char *tok, const char *kind, struct console_target *t)
{
    struct st_err err = ST_ERR_INIT;
    int rc = console_token_use(f->c, tok, kind, t, &err);
    if (rc < 0)
        assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    return rc;
}

static void t01_token_is_random_hashed_and_one_time(void **state)
{
    struct fx *f = *state;
    struct st_buf a = ST_BUF_INIT, b = ST_BUF_INIT;
    struct console_target t;
    struct st_err err = ST_ERR_INIT;
    struct store_stmt *q;
    char hash[65];

    make(f, SRV, "vnc", 600, &a);
    make(f, SRV, "vnc", 600, &b);
    assert_int_equal(a.len, 43); /* 256 bits, base64url */
    assert_string_not_equal(a.buf, b.buf);
    /* Only the hash is stored. */
    q = store_query(f->c, &err, "SELECT token_hash FROM console_tokens", STORE_NOARGS);
    assert_non_null(q);
    while (store_next(q, &err) > 0) {
        assert_int_equal(strlen(store_text(q, 0)), 64);
        assert_string_not_equal(store_text(q, 0), a.buf);
    }
    store_done(q);
    console_token_hash(a.buf, hash);
    {
        int64_t one = 0;
        assert_int_equal(store_get_int(f->c, &err, &one,
                                       "SELECT 1 FROM console_tokens WHERE token_hash = ?",
                                       STORE_ARGS(P(hash))),
                         1);
    }
    assert_int_equal(use(f, a.buf, "vnc", &t), 0);
    assert_string_equal(t.server_id, SRV);
    assert_string_equal(t.kind, "vnc");
    assert_string_equal(t.host, "h1");
    assert_int_equal(t.power_state, 1);
    assert_int_equal(use(f, a.buf, "vnc", &t), -1); /* second use */
    assert_int_equal(use(f, b.buf, "vnc", &t), 0);
    st_buf_release(&a);
    st_buf_release(&b);
}

static void t02_kind_bound_and_unknown(void **state)
{
    struct fx *f = *state;
    struct st_buf a = ST_BUF_INIT;
    struct console_target t;
    make(f, SRV, "serial", 600, &a);
    assert_int_equal(use(f, a.buf, "vnc", &t), -1);
    assert_int_equal(use(f, a.buf, "serial", &t), 0);
    assert_int_equal(use(f, "", "serial", &t), -1);
    assert_int_equal(use(f, NULL, "serial", &t), -1);
    assert_int_equal(use(f, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "serial", &t), -1);
    st_buf_release(&a);
}

static void t03_expired(void **state)
{
    struct fx *f = *state;
    struct st_buf a = ST_BUF_INIT;
    struct console_target t;
    struct st_err err = ST_ERR_INIT;
    make(f, SRV, "vnc", 600, &a);
    assert_true(store_exec(f->c, &err, "UPDATE console_tokens SET expires_at = ?",
                           STORE_ARGS(P(st_now_us() / 1000000))) >= 0);
    assert_int_equal(use(f, a.buf, "vnc", &t), -1);
    assert_int_equal(console_tokens_prune(f->c, &err), 0);
    {
        int64_t n = -1;
        assert_int_equal(store_get_int(f->c, &err, &n, "SELECT COUNT(*) FROM console_tokens",
                                       STORE_NOARGS),
                         1);
        assert_int_equal(n, 0);
    }
    st_buf_release(&a);
}

static void t04_access_lost(void **state)
{
    struct fx *f = *state;
    struct st_buf a = ST_BUF_INIT, b = ST_BUF_INIT;
    struct console_target t;
    make(f, SRV, "vnc", 600, &a);
    make(f, SRV, "vnc", 600, &b);
    exec_ok(f->c, "UPDATE projects SET enabled = 0 WHERE id = ?", f->s.admin_project);
    assert_int_equal(use(f, a.buf, "vnc", &t), -1);
    exec_ok(f->c, "UPDATE projects SET enabled = 1 WHERE id = ?", f->s.admin_project);
    exec_ok(f->c, "DELETE FROM role_assignments WHERE actor_id = ?", f->s.admin_user);
    assert_int_equal(use(f, b.buf, "vnc", &t), -1);
    st_buf_release(&a);
    st_buf_release(&b);
}

static void t05_not_ready_and_other_server(void **state)
{
    struct fx *f = *state;
    struct st_buf a = ST_BUF_INIT;
    struct console_target t;
    struct st_err err = ST_ERR_INIT;
    exec_ok(f->c, "UPDATE servers SET vm_state = 'stopped' WHERE id = ?", SRV2);
    assert_int_equal(console_token_create(f->c, &f->ctx, SRV2, "vnc", 600, &a, &err), -1);
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    st_err_clear(&err);
    assert_int_equal(console_token_create(f->c, &f->ctx, SRV, "spice", 600, &a, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    exec_ok(f->c, "UPDATE servers SET vm_state = 'active' WHERE id = ?", SRV2);
    make(f, SRV2, "vnc", 600, &a);
    assert_int_equal(use(f, a.buf, "vnc", &t), 0);
    assert_string_equal(t.server_id, SRV2); /* the token names its server */
    st_buf_release(&a);
}

static void t06_revoke_and_sessions(void **state)
{
    struct fx *f = *state;
    struct st_buf a = ST_BUF_INIT, other = ST_BUF_INIT;
    struct console_target t = {.server_id = SRV, .kind = "serial", .host = "h1",
                               .power_state = 1};
    struct st_err err = ST_ERR_INIT;
    int64_t r0, r1;
    json_t *list;

    make(f, SRV, "vnc", 600, &a);
    make(f, SRV2, "vnc", 600, &other);
    r0 = revision_get(f->c, "h1", &err);
    assert_int_equal(console_session_add(f->c, "00112233445566778899aabbccddeeff", &t, &err), 0);
    r1 = revision_get(f->c, "h1", &err);
    assert_true(r1 > r0);
    assert_int_equal(console_session_exists(f->c, "00112233445566778899aabbccddeeff", "h1", &err),
                     1);
    assert_int_equal(console_session_exists(f->c, "00112233445566778899aabbccddeeff", "h2", &err),
                     0);
    list = console_sessions_desired(f->c, "h1", &err);
    assert_non_null(list);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "kind")),
                        "serial");
    json_decref(list);
    /* Deleting (or rebuilding...) the server voids its tokens and sessions
     * and tells the host. */
    assert_int_equal(console_revoke(f->c, SRV, &err), 0);
    assert_true(revision_get(f->c, "h1", &err) > r1);
    assert_int_equal(use(f, a.buf, "vnc", &t), -1);
    list = console_sessions_desired(f->c, "h1", &err);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    /* Another server's token is untouched. */
    assert_int_equal(use(f, other.buf, "vnc", &t), 0);
    /* Sessions end; a controller's restart clears them all. */
    t.server_id[0] = '\0';
    snprintf(t.server_id, sizeof(t.server_id), "%s", SRV2);
    assert_int_equal(console_session_add(f->c, "aa", &t, &err), 0);
    assert_int_equal(console_session_add(f->c, "bb", &t, &err), 0);
    assert_int_equal(console_session_del(f->c, "aa", "h1", &err), 0);
    assert_int_equal(console_session_exists(f->c, "aa", "h1", &err), 0);
    assert_int_equal(console_sessions_reset(f->c, &err), 0);
    assert_int_equal(console_session_exists(f->c, "bb", "h1", &err), 0);
    st_buf_release(&a);
    st_buf_release(&other);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t01_token_is_random_hashed_and_one_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(t02_kind_bound_and_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(t03_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(t04_access_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(t05_not_ready_and_other_server, setup, teardown),
        cmocka_unit_test_setup_teardown(t06_revoke_and_sessions, setup, teardown),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("console", tests, known_bugs);
}

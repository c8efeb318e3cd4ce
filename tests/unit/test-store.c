/* test-store.c - the store over SQLite: migrations, pragmas, constraint
 * errors, STORE_ARGS()/P() binding, the statement cache with nested use,
 * transactions and the connection pool across threads. */
#include "testutil.h"

#include <pthread.h>

#include "common/util.h"
#include "store/migrations.h"
#include "store/store.h"
#include "common/banned.h"

struct fixture {
    char *dir;
    char db[4096];
    struct store *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct st_err err = ST_ERR_INIT;
    assert_non_null(f);
    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    snprintf(f->db, sizeof(f->db), "%s/test.db", f->dir);
    f->st = store_open(f->db, 4, &err);
    if (!f->st)
        fail_msg("%s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->st);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* A scratch table on one connection. */
static struct store_conn *with_table(struct fixture *f)
{
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = store_acquire(f->st, &err);
    assert_non_null(c);
    if (store_exec(c, &err,
                   "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, v)",
                   STORE_NOARGS) < 0)
        fail_msg("%s", err.msg);
    return c;
}

static int64_t count(struct store_conn *c, const char *sql)
{
    struct st_err err = ST_ERR_INIT;
    int64_t n = -1;
    if (store_get_int(c, &err, &n, sql, STORE_NOARGS) != 1)
        fail_msg("%s: %s", sql, err.msg);
    return n;
}

static void t01_migrate_from_empty(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c;
    int v = -1;
    (void) state;

    assert_int_equal(store_schema_version(f->st, &v, &err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(store_migrate(f->st, &err), (int) store_migrations_count);
    assert_false(st_err_is_set(&err));
    assert_int_equal(store_schema_version(f->st, &v, &err), 0);
    assert_int_equal(v, store_schema_latest());
    assert_int_equal(store_schema_latest(), store_migrations[store_migrations_count - 1].version);

    /* Versions are increasing and each one is recorded once. */
    for (size_t i = 1; i < store_migrations_count; i++)
        assert_true(store_migrations[i].version > store_migrations[i - 1].version);
    c = store_acquire(f->st, &err);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM schema_migrations"),
                     (int64_t) store_migrations_count);
    /* the identity tables exist */
    assert_int_equal(count(c, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND"
                              " name IN ('domains', 'projects', 'users', 'roles',"
                              " 'role_assignments', 'regions', 'services', 'endpoints',"
                              " 'revocations')"),
                     9);
    store_release(f->st, c);

    /* A second run applies nothing and changes nothing. */
    assert_int_equal(store_migrate(f->st, &err), 0);
    assert_int_equal(store_schema_version(f->st, &v, &err), 0);
    assert_int_equal(v, store_schema_latest());
    c = store_acquire(f->st, &err);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM schema_migrations"),
                     (int64_t) store_migrations_count);
    store_release(f->st, c);

    /* And a new handle on the same file sees the same version. */
    {
        struct store *again = store_open(f->db, 1, &err);
        assert_non_null(again);
        assert_int_equal(store_migrate(again, &err), 0);
        assert_int_equal(store_schema_version(again, &v, &err), 0);
        assert_int_equal(v, store_schema_latest());
        store_close(again);
    }
}

static void t02_wal_and_foreign_keys(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c[3];
    (void) state;
    /* every connection of the pool, not only the first */
    for (int i = 0; i < 3; i++) {
        struct store_stmt *s;
        c[i] = store_acquire(f->st, &err);
        assert_non_null(c[i]);
        s = store_query(c[i], &err, "PRAGMA journal_mode", STORE_NOARGS);
        assert_non_null(s);
        assert_int_equal(store_next(s, &err), 1);
        assert_string_equal(store_text(s, 0), "wal");
        store_done(s);
        assert_int_equal(count(c[i], "PRAGMA foreign_keys"), 1);
    }
    for (int i = 0; i < 3; i++)
        store_release(f->st, c[i]);
}

static void t03_constraint_is_conflict(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = with_table(f);
    (void) state;
    assert_int_equal(store_exec(c, &err, "INSERT INTO t (name) VALUES (?)", STORE_ARGS(P("a"))),
                     1);
    assert_int_equal(store_exec(c, &err, "INSERT INTO t (name) VALUES (?)", STORE_ARGS(P("a"))),
                     -1);
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    assert_string_equal(err.type, "unique");
    assert_non_null(strstr(err.msg, "UNIQUE"));

    /* a foreign key violation too, with its own type */
    st_err_clear(&err);
    assert_true(store_exec(c, &err,
                           "CREATE TABLE child (id INTEGER PRIMARY KEY,"
                           " parent INTEGER NOT NULL REFERENCES t(id))",
                           STORE_NOARGS) >= 0);
    assert_int_equal(store_exec(c, &err, "INSERT INTO child (parent) VALUES (?)",
                                STORE_ARGS(P(12345))),
                     -1);
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    assert_string_equal(err.type, "foreign_key");

    /* the connection is still usable */
    st_err_clear(&err);
    assert_int_equal(store_exec(c, &err, "INSERT INTO t (name) VALUES (?)", STORE_ARGS(P("b"))),
                     1);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM t"), 2);
    store_release(f->st, c);
}

static void t04_args_binding(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = store_acquire(f->st, &err);
    const char *null_text = NULL;
    char array[8] = "arr";
    char *mutable_text = array;
    int64_t big = INT64_MIN;
    uint32_t u = UINT32_MAX;
    bool yes = true;
    struct store_stmt *s;
    (void) state;

    s = store_query(c, &err,
                    "SELECT typeof(?1), ?1, typeof(?2), ?2, typeof(?3), ?3 IS NULL, typeof(?4), ?4,"
                    " typeof(?5), ?5, typeof(?6), ?6, typeof(?7), ?7, typeof(?8), ?8",
                    STORE_ARGS(P("text"), P(42), P(null_text), P(array), P(big), P(u), P(yes),
                               P(mutable_text)));
    assert_non_null(s);
    assert_int_equal(store_next(s, &err), 1);
    assert_string_equal(store_text(s, 0), "text");
    assert_string_equal(store_text(s, 1), "text");
    assert_string_equal(store_text(s, 2), "integer");
    assert_int_equal(store_int(s, 3), 42);
    assert_string_equal(store_text(s, 4), "null");
    assert_int_equal(store_int(s, 5), 1);
    assert_string_equal(store_text(s, 6), "text"); /* a char array is text */
    assert_string_equal(store_text(s, 7), "arr");
    assert_string_equal(store_text(s, 8), "integer");
    assert_true(store_int(s, 9) == INT64_MIN);
    assert_string_equal(store_text(s, 10), "integer");
    assert_true(store_int(s, 11) == UINT32_MAX);
    assert_string_equal(store_text(s, 12), "integer");
    assert_int_equal(store_int(s, 13), 1);
    assert_string_equal(store_text(s, 14), "text");
    assert_false(store_isnull(s, 15));
    assert_true(store_isnull(s, 4) == false);
    assert_int_equal(store_next(s, &err), 0);
    store_done(s);

    /* NULL columns read back as NULL */
    s = store_query(c, &err, "SELECT NULL, 'x'", STORE_NOARGS);
    assert_int_equal(store_next(s, &err), 1);
    assert_true(store_isnull(s, 0));
    assert_null(store_text(s, 0));
    assert_false(store_isnull(s, 1));
    store_done(s);

    /* binding never interpolates: a quote in a value is just data */
    assert_int_equal(store_get_int(c, &err, &big, "SELECT length(?)",
                                   STORE_ARGS(P("'); DROP TABLE x; --"))),
                     1);
    assert_int_equal(big, 20);
    store_done(NULL);
    store_release(f->st, c);
}

static void t05_nested_same_statement(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = with_table(f);
    static const char q[] = "SELECT id, name FROM t WHERE id >= ? ORDER BY id";
    struct store_stmt *outer;
    int rows = 0, inner_rows = 0;
    (void) state;
    for (int i = 1; i <= 5; i++) {
        char name[8];
        snprintf(name, sizeof(name), "n%d", i);
        assert_int_equal(store_exec(c, &err, "INSERT INTO t (id, name) VALUES (?, ?)",
                                    STORE_ARGS(P(i), P(name))),
                         1);
    }
    outer = store_query(c, &err, q, STORE_ARGS(P(1)));
    assert_non_null(outer);
    while (store_next(outer, &err) > 0) {
        int64_t id = store_int(outer, 0);
        char name[8];
        /* the same SQL text while 'outer' is still running */
        struct store_stmt *inner = store_query(c, &err, q, STORE_ARGS(P(id)));
        assert_non_null(inner);
        assert_ptr_not_equal(inner, outer);
        while (store_next(inner, &err) > 0)
            inner_rows++;
        store_done(inner);
        /* the outer row is intact */
        snprintf(name, sizeof(name), "n%d", (int) id);
        assert_string_equal(store_text(outer, 1), name);
        assert_int_equal(id, ++rows);
    }
    assert_false(st_err_is_set(&err));
    store_done(outer);
    assert_int_equal(rows, 5);
    assert_int_equal(inner_rows, 5 + 4 + 3 + 2 + 1);

    /* the cached statement is reused afterwards, with fresh bindings */
    outer = store_query(c, &err, q, STORE_ARGS(P(5)));
    assert_int_equal(store_next(outer, &err), 1);
    assert_int_equal(store_int(outer, 0), 5);
    assert_int_equal(store_next(outer, &err), 0);
    store_done(outer);
    store_release(f->st, c);
}

static void t06_many_statements(void **state)
{
    /* More distinct statements than cache slots: evictions must not
     * break statements still in use or leak (ASan). */
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = store_acquire(f->st, &err);
    struct store_stmt *held[8];
    (void) state;
    for (int i = 0; i < 8; i++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SELECT %d", i);
        held[i] = store_query(c, &err, sql, STORE_NOARGS);
        assert_non_null(held[i]);
    }
    for (int i = 0; i < 500; i++) {
        char sql[64];
        int64_t v = -1;
        snprintf(sql, sizeof(sql), "SELECT %d + ?", i);
        assert_int_equal(store_get_int(c, &err, &v, sql, STORE_ARGS(P(1))), 1);
        assert_int_equal(v, i + 1);
    }
    for (int i = 0; i < 8; i++) {
        assert_int_equal(store_next(held[i], &err), 1);
        assert_int_equal(store_int(held[i], 0), i);
        store_done(held[i]);
    }
    store_release(f->st, c);
}

static void t07_exec_counts_and_get_int(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = with_table(f);
    int64_t v = 99;
    (void) state;
    assert_int_equal(store_exec(c, &err, "INSERT INTO t (name, v) VALUES ('a', 1), ('b', 1),"
                                         " ('c', 2)",
                                STORE_NOARGS),
                     3);
    assert_int_equal(store_exec(c, &err, "UPDATE t SET v = ? WHERE v = ?", STORE_ARGS(P(5), P(1))),
                     2);
    assert_int_equal(store_exec(c, &err, "DELETE FROM t WHERE name = ?", STORE_ARGS(P("zz"))), 0);
    assert_int_equal(store_get_int(c, &err, &v, "SELECT v FROM t WHERE name = ?",
                                   STORE_ARGS(P("zz"))),
                     0);
    assert_int_equal(v, 99); /* no row: untouched */
    assert_int_equal(store_get_int(c, &err, &v, "SELECT v FROM t WHERE name = ?",
                                   STORE_ARGS(P("c"))),
                     1);
    assert_int_equal(v, 2);
    /* errors */
    assert_int_equal(store_exec(c, &err, "INSERT INTO nosuchtable VALUES (1)", STORE_NOARGS),
                     -1);
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    assert_non_null(strstr(err.msg, "nosuchtable"));
    st_err_clear(&err);
    assert_null(store_query(c, &err, "SELEC 1", STORE_NOARGS));
    assert_true(st_err_is_set(&err));
    st_err_clear(&err);
    /* binding more parameters than the statement has */
    assert_null(store_query(c, &err, "SELECT ?", STORE_ARGS(P(1), P(2))));
    assert_true(st_err_is_set(&err));
    st_err_clear(&err);
    assert_int_equal(store_get_int(c, &err, &v, "SELECT 1", STORE_NOARGS), 1);
    store_release(f->st, c);
}

static void t08_transactions(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = with_table(f), *d;
    (void) state;

    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(store_exec(c, &err, "INSERT INTO t (name) VALUES ('x')", STORE_NOARGS), 1);
    store_rollback(c);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM t"), 0);

    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(store_exec(c, &err, "INSERT INTO t (name) VALUES ('y')", STORE_NOARGS), 1);
    /* another connection does not see it before the commit */
    d = store_acquire(f->st, &err);
    assert_non_null(d);
    assert_int_equal(count(d, "SELECT COUNT(*) FROM t"), 0);
    assert_int_equal(store_commit(c, &err), 0);
    assert_int_equal(count(d, "SELECT COUNT(*) FROM t"), 1);
    assert_int_equal(store_begin_read(d, &err), 0);
    assert_int_equal(count(d, "SELECT COUNT(*) FROM t"), 1);
    store_rollback(d);
    store_rollback(d); /* nothing open: harmless */
    store_release(f->st, d);

    /* releasing a connection rolls back what it left open */
    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(store_exec(c, &err, "INSERT INTO t (name) VALUES ('z')", STORE_NOARGS), 1);
    store_release(f->st, c);
    c = store_acquire(f->st, &err);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM t"), 1);
    /* and the connection starts a new transaction fine */
    assert_int_equal(store_begin(c, &err), 0);
    assert_int_equal(store_commit(c, &err), 0);
    assert_false(st_err_is_set(&err));
    store_release(f->st, c);
}

struct pool_test {
    struct store *st;
    pthread_mutex_t lock;
    int in_use, max_in_use;
    int failures;
    int id;
};

static void *pool_worker(void *arg)
{
    struct pool_test *pt = arg;
    int me;
    pthread_mutex_lock(&pt->lock);
    me = pt->id++;
    pthread_mutex_unlock(&pt->lock);
    for (int i = 0; i < 40; i++) {
        struct st_err err = ST_ERR_INIT;
        struct store_conn *c = store_acquire(pt->st, &err);
        char name[32];
        if (!c) {
            __atomic_add_fetch(&pt->failures, 1, __ATOMIC_SEQ_CST);
            continue;
        }
        pthread_mutex_lock(&pt->lock);
        if (++pt->in_use > pt->max_in_use)
            pt->max_in_use = pt->in_use;
        pthread_mutex_unlock(&pt->lock);
        snprintf(name, sizeof(name), "w%d-%d", me, i);
        if (store_begin(c, &err) < 0 ||
            store_exec(c, &err, "INSERT INTO t (name) VALUES (?)", STORE_ARGS(P(name))) != 1 ||
            store_commit(c, &err) < 0)
            __atomic_add_fetch(&pt->failures, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_lock(&pt->lock);
        pt->in_use--;
        pthread_mutex_unlock(&pt->lock);
        store_release(pt->st, c);
    }
    return NULL;
}

static void t09_pool_across_threads(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct pool_test pt;
    pthread_t th[8];
    struct store_conn *c;
    (void) state;
    store_close(f->st);
    f->st = store_open(f->db, 3, &err);
    assert_non_null(f->st);
    c = with_table(f);
    store_release(f->st, c);

    memset(&pt, 0, sizeof(pt));
    pt.st = f->st;
    pthread_mutex_init(&pt.lock, NULL);
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, pool_worker, &pt), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&pt.lock);
    assert_int_equal(pt.failures, 0);
    assert_true(pt.max_in_use <= 3); /* never more than the pool size */
    assert_true(pt.max_in_use >= 1);

    c = store_acquire(f->st, &err);
    assert_int_equal(count(c, "SELECT COUNT(*) FROM t"), 8 * 40);
    assert_int_equal(count(c, "SELECT COUNT(DISTINCT name) FROM t"), 8 * 40);
    store_release(f->st, c);
}

struct waiter {
    struct store *st;
    int acquired;
    struct store_conn *got;
};

static void *acquire_one(void *arg)
{
    struct waiter *w = arg;
    struct st_err err = ST_ERR_INIT;
    w->got = store_acquire(w->st, &err);
    __atomic_store_n(&w->acquired, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void t11_pool_exhausted_waits(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct waiter w = {NULL, 0, NULL};
    struct store_conn *c;
    pthread_t th;
    (void) state;
    store_close(f->st);
    f->st = store_open(f->db, 1, &err);
    assert_non_null(f->st);
    w.st = f->st;
    c = store_acquire(f->st, &err);
    assert_non_null(c);
    assert_int_equal(pthread_create(&th, NULL, acquire_one, &w), 0);
    usleep(200000);
    assert_int_equal(__atomic_load_n(&w.acquired, __ATOMIC_SEQ_CST), 0); /* still waiting */
    store_release(f->st, c);
    pthread_join(th, NULL);
    assert_int_equal(w.acquired, 1);
    assert_ptr_equal(w.got, c); /* the one connection, handed over */
    store_release(f->st, w.got);
}

static void t10_open_errors(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct store *s;
    char url[4200];
    (void) state;
    /* PostgreSQL that is not there: "unavailable", saying why. */
    assert_null(store_open("postgresql://stratus@127.0.0.1:1/stratus?connect_timeout=2", 2, &err));
    assert_int_equal(err.kind, ST_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "PostgreSQL"));
    st_err_clear(&err);
    assert_null(store_open("/nonexistent/dir/x.db", 2, &err));
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/x.db"));
    /* the sqlite: prefix names the same file */
    st_err_clear(&err);
    snprintf(url, sizeof(url), "sqlite:%s", f->db);
    s = store_open(url, 0, &err); /* pool size 0 means 1 */
    assert_non_null(s);
    assert_int_equal(store_migrate(s, &err), (int) store_migrations_count);
    store_close(s);
    /* and so does sqlite:///PATH */
    snprintf(url, sizeof(url), "sqlite://%s", f->db);
    s = store_open(url, 1, &err);
    assert_non_null(s);
    assert_string_equal(store_backend(s), "sqlite");
    assert_int_equal(store_migrate(s, &err), 0);
    store_close(s);
    {
        int v = 0;
        assert_int_equal(store_schema_version(f->st, &v, &err), 0);
        assert_int_equal(v, store_schema_latest());
    }
    store_close(NULL);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t01_migrate_from_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(t02_wal_and_foreign_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(t03_constraint_is_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(t04_args_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(t05_nested_same_statement, setup, teardown),
        cmocka_unit_test_setup_teardown(t06_many_statements, setup, teardown),
        cmocka_unit_test_setup_teardown(t07_exec_counts_and_get_int, setup, teardown),
        cmocka_unit_test_setup_teardown(t08_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(t09_pool_across_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(t10_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(t11_pool_exhausted_waits, setup, teardown),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("store", tests, known_bugs);
}

/*
 * store.c - the generic layer over a store_class: the connection pool, typed
 * parameter binding, transactions and the migration runner.
 */
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "store/migrations.h"
#include "common/banned.h"

struct store {
    const struct store_class *cls;
    char *target;
    int size;                 /* most connections ever open */
    int open;                 /* connections open now */
    struct store_conn **idle; /* stack of idle connections */
    int nidle;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    void *watch; /* the backend's notification listener, if any */
};

#define CLS(c) (((struct store_conn_hdr *) (c))->cls)
#define SCLS(s) CLS(((struct store_stmt_hdr *) (s))->conn)

/* Time spent in the database, for the metrics (store_time()): every call
 * into the backend that runs SQL is timed with the monotonic clock (two
 * vDSO reads, some tens of nanoseconds) and summed in process-wide atomics,
 * so the store stays ignorant of who reads them. */
static _Atomic uint64_t time_ns, statements;

static inline int64_t t_start(void)
{
    return st_mono_ns();
}

static inline void t_end(int64_t t0)
{
    atomic_fetch_add_explicit(&time_ns, (uint64_t) (st_mono_ns() - t0), memory_order_relaxed);
}

void store_time(uint64_t *ns, uint64_t *count)
{
    *ns = atomic_load_explicit(&time_ns, memory_order_relaxed);
    *count = atomic_load_explicit(&statements, memory_order_relaxed);
}

struct store *store_open(const char *url, int pool_size, struct st_err *err)
{
    const struct store_class *cls = &store_sqlite_class;
    const char *target = url;
    struct store_conn *first;
    struct store *st;

    if (!strncmp(url, "sqlite://", 9)) {
        target = url + 9; /* sqlite:///abs/path */
    } else if (!strncmp(url, "sqlite:", 7)) {
        target = url + 7;
    } else if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
        cls = &store_pg_class; /* libpq takes the URI as it is */
    }
    if (pool_size < 1)
        pool_size = 1;
    /* Open one connection now so that a bad path fails at start. */
    first = cls->open(target, err);
    if (!first)
        return NULL;
    st = st_xcalloc(1, sizeof(*st));
    st->cls = cls;
    st->target = st_xstrdup(target);
    st->size = pool_size;
    st->idle = st_xcalloc((size_t) pool_size, sizeof(*st->idle));
    st->idle[st->nidle++] = first;
    st->open = 1;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    return st;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->watch)
        st->cls->unwatch(st->watch);
    for (int i = 0; i < st->nidle; i++)
        st->cls->close(st->idle[i]);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    free(st->idle);
    free(st->target);
    free(st);
}

const char *store_backend(const struct store *st)
{
    return st->cls->name;
}

int store_signal(struct store_conn *c, const char *channel, struct st_err *err)
{
    int64_t t0;
    int rc;
    if (!CLS(c)->signal)
        return 0;
    t0 = t_start();
    rc = CLS(c)->signal(c, channel, err);
    t_end(t0);
    return rc;
}

int store_watch(struct store *st, const char *channel, void (*fn)(void), struct st_err *err)
{
    if (!st->cls->watch || st->watch)
        return 0;
    st->watch = st->cls->watch(st->target, channel, fn, err);
    return st->watch ? 0 : -1;
}

struct store_conn *store_acquire(struct store *st, struct st_err *err)
{
    struct store_conn *c = NULL;
    pthread_mutex_lock(&st->lock);
    while (st->nidle == 0 && st->open >= st->size)
        pthread_cond_wait(&st->cond, &st->lock);
    if (st->nidle > 0) {
        c = st->idle[--st->nidle];
        pthread_mutex_unlock(&st->lock);
        return c;
    }
    st->open++;
    pthread_mutex_unlock(&st->lock);
    c = st->cls->open(st->target, err);
    if (!c) {
        pthread_mutex_lock(&st->lock);
        st->open--;
        pthread_cond_signal(&st->cond);
        pthread_mutex_unlock(&st->lock);
    }
    return c;
}

void store_release(struct store *st, struct store_conn *c)
{
    if (!c)
        return;
    st->cls->rollback(c);
    pthread_mutex_lock(&st->lock);
    st->idle[st->nidle++] = c;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

int store_begin(struct store_conn *c, struct st_err *err)
{
    int64_t t0 = t_start();
    int rc = CLS(c)->begin(c, true, err);
    t_end(t0);
    return rc;
}

int store_begin_read(struct store_conn *c, struct st_err *err)
{
    int64_t t0 = t_start();
    int rc = CLS(c)->begin(c, false, err);
    t_end(t0);
    return rc;
}

int store_commit(struct store_conn *c, struct st_err *err)
{
    int64_t t0 = t_start();
    int rc = CLS(c)->commit(c, err);
    t_end(t0);
    return rc;
}

void store_rollback(struct store_conn *c)
{
    int64_t t0 = t_start();
    CLS(c)->rollback(c);
    t_end(t0);
}

struct store_stmt *store_query(struct store_conn *c, struct st_err *err, const char *sql,
                               const struct store_param *params, size_t n)
{
    const struct store_class *cls = CLS(c);
    int64_t t0 = t_start();
    struct store_stmt *s = cls->prepare(c, sql, err);
    int rc = 0;
    atomic_fetch_add_explicit(&statements, 1, memory_order_relaxed);
    if (!s) {
        t_end(t0);
        return NULL;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        int idx = (int) i + 1;
        if (params[i].type == 't')
            rc = cls->bind_text(s, idx, params[i].s, err);
        else if (params[i].type == 'i')
            rc = cls->bind_int(s, idx, params[i].i, err);
        else
            rc = cls->bind_null(s, idx, err);
    }
    if (rc < 0) {
        cls->finish(s);
        t_end(t0);
        return NULL;
    }
    t_end(t0);
    return s;
}

int64_t store_exec(struct store_conn *c, struct st_err *err, const char *sql,
                   const struct store_param *params, size_t n)
{
    int rc;
    struct store_stmt *s = store_query(c, err, sql, params, n);
    int64_t t0;
    if (!s)
        return -1;
    t0 = t_start();
    while ((rc = CLS(c)->step(s, err)) > 0)
        ;
    CLS(c)->finish(s);
    t_end(t0);
    if (rc < 0)
        return -1;
    return CLS(c)->changes(c);
}

int store_next(struct store_stmt *s, struct st_err *err)
{
    int64_t t0 = t_start();
    int rc = SCLS(s)->step(s, err);
    t_end(t0);
    return rc;
}

void store_done(struct store_stmt *s)
{
    if (s)
        SCLS(s)->finish(s);
}

const char *store_text(struct store_stmt *s, int col)
{
    return SCLS(s)->col_text(s, col);
}

int64_t store_int(struct store_stmt *s, int col)
{
    return SCLS(s)->col_int(s, col);
}

bool store_isnull(struct store_stmt *s, int col)
{
    return SCLS(s)->col_null(s, col);
}

const void *store_blob(struct store_stmt *s, int col, size_t *len)
{
    return SCLS(s)->col_blob(s, col, len);
}

int store_get_int(struct store_conn *c, struct st_err *err, int64_t *out, const char *sql,
                  const struct store_param *params, size_t n)
{
    int rc;
    struct store_stmt *s = store_query(c, err, sql, params, n);
    if (!s)
        return -1;
    int64_t t0 = t_start();
    rc = CLS(c)->step(s, err);
    if (rc > 0)
        *out = CLS(c)->col_int(s, 0);
    CLS(c)->finish(s);
    t_end(t0);
    return rc;
}

json_t *store_collect(struct store_conn *c, struct st_err *err, store_row_fn row, void *arg,
                      const char *sql, const struct store_param *params, size_t n)
{
    struct store_stmt *s = store_query(c, err, sql, params, n);
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *o = row(c, s, arg, err);
        if (!o && st_err_is_set(err)) {
            rc = -1;
            break;
        }
        if (o)
            json_array_append_new(arr, o);
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int store_schema_latest(void)
{
    return store_migrations[store_migrations_count - 1].version;
}

static int schema_version(struct store_conn *c, int *current, struct st_err *err)
{
    int64_t v = 0;
    int rc;
    if (CLS(c)->exec_script(c,
                            "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " version INTEGER PRIMARY KEY,"
                            " name TEXT NOT NULL,"
                            " applied_at BIGINT NOT NULL)",
                            err) < 0)
        return -1;
    rc = store_get_int(c, err, &v, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                       STORE_NOARGS);
    if (rc < 0)
        return -1;
    *current = (int) v;
    return 0;
}

int store_schema_version(struct store *st, int *current, struct st_err *err)
{
    struct store_conn *c = store_acquire(st, err);
    int rc;
    if (!c)
        return -1;
    rc = schema_version(c, current, err);
    store_release(st, c);
    return rc;
}

int store_migrate(struct store *st, struct st_err *err)
{
    struct store_conn *c = store_acquire(st, err);
    int current, applied = 0;
    if (!c)
        return -1;
    if (schema_version(c, &current, err) < 0)
        goto fail;
    for (size_t i = 0; i < store_migrations_count; i++) {
        const struct store_migration *m = &store_migrations[i];
        int64_t done = 0;
        if (m->version <= current)
            continue;
        /* Re-check under the write lock: another process may be migrating
         * the same database at the same moment. */
        if (store_begin(c, err) < 0)
            goto fail;
        if (store_get_int(c, err, &done, "SELECT 1 FROM schema_migrations WHERE version = ?",
                          STORE_ARGS(P(m->version))) < 0) {
            store_rollback(c);
            goto fail;
        }
        if (done) {
            store_rollback(c);
            continue;
        }
        if (CLS(c)->exec_script(c, m->sql, err) < 0 ||
            store_exec(c, err,
                       "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?,?,?)",
                       STORE_ARGS(P(m->version), P(m->name), P(st_now_us() / 1000000))) < 0 ||
            store_commit(c, err) < 0) {
            store_rollback(c);
            goto fail;
        }
        applied++;
    }
    store_release(st, c);
    return applied;
fail:
    store_release(st, c);
    return -1;
}

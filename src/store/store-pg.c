/*
 * store-pg.c - the PostgreSQL (libpq) provider of struct store_class.
 *
 * One PGconn per pooled connection.  Modules write '?' placeholders; they
 * are rewritten to $1, $2, ... (outside quoted literals and identifiers).
 * A statement runs at its first step with every parameter bound: integers
 * typed int8, text left for the server to infer from the context (so '5'
 * fits an INTEGER column and a TEXT column alike).  Rows are fetched whole,
 * so several statements may be open on one connection (nested queries).
 *
 * Concurrency.  SQLite serialises writers (BEGIN IMMEDIATE takes the one
 * write lock), and every read-then-write the modules do inside a write
 * transaction -- quota counts, host capacity, the first free address as a
 * hint -- relies on that.  A write transaction here takes one transaction-
 * scoped advisory lock, pg_advisory_xact_lock(), so write transactions of
 * every controller on the database run one at a time, exactly as on SQLite;
 * the unique constraints (addresses, MACs, segments, names) stay the final
 * guard, and INSERT ... ON CONFLICT DO NOTHING never aborts a transaction.
 * Reads run in REPEATABLE READ (one snapshot, as a SQLite read
 * transaction) and never wait for writers.  The lock is released by COMMIT,
 * ROLLBACK or a dropped connection, so a controller killed mid-transaction
 * cannot wedge the others; lock_timeout turns a long wait into "busy"
 * (ST_ERR_UNAVAILABLE), like SQLite's busy timeout.
 *
 * Notifications: store_signal() queues NOTIFY (sent at commit), and
 * store_watch() runs a thread with a connection of its own that LISTENs and
 * calls back, so a revision bump on one controller wakes the long-polls of
 * every other one at once.
 */
#include "store/store.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/banned.h"

#define PG_INT8OID 20
#define PG_BOOLOID 16
/* Any constant: every stratus write transaction takes this one lock. */
#define PG_WRITE_LOCK "7470353"

struct store_stmt {
    struct store_stmt_hdr hdr; /* first: the generic layer reads it */
    char *sql;                 /* with $n placeholders */
    int nparams;
    char *values[STORE_MAX_PARAMS];
    unsigned types[STORE_MAX_PARAMS];
    PGresult *res;
    int row; /* current row, -1 before the first */
    bool ran;
};

/* Server-side prepared statements, cached per connection by SQL text and
 * parameter types (integers are typed at PREPARE, so the same text bound
 * with a NULL is another statement): parse and plan once, not per call. */
#define PG_CACHE_SLOTS 256
struct prepared {
    char *key; /* types + '\n' + SQL */
    char name[16];
};

struct store_conn {
    struct store_conn_hdr hdr; /* first: the generic layer reads it */
    PGconn *pg;
    int64_t changes;
    bool in_tx;
    unsigned next_name;
    struct prepared cache[PG_CACHE_SLOTS];
};

static void quiet(void *arg, const char *msg)
{
    (void) arg;
    (void) msg;
}

/* Fills 'err' from a failed result (NULL: from the connection). */
static int pg_fail(struct store_conn *c, PGresult *res, struct st_err *err, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg);
    char clean[ST_ERR_MSG_MAX];
    size_t n;

    snprintf(clean, sizeof(clean), "%s", msg && *msg ? msg : "unknown error");
    n = strlen(clean);
    while (n > 0 && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
        clean[--n] = 0;
    if (state && !strncmp(state, "23", 2)) {
        st_err_set(err, ST_ERR_CONFLICT, "%s: %s", what, clean);
        st_err_set_type(err, !strcmp(state, "23503") ? "foreign_key" : "unique");
    } else if (state && !strncmp(state, "22", 2)) {
        /* Data exceptions (a value that does not fit its column's type:
         * text where an integer goes, an integer out of range) are the
         * request's fault; SQLite would have stored or compared it. */
        st_err_set(err, ST_ERR_BAD_REQUEST, "%s: %s", what, clean);
    } else if ((state && (!strcmp(state, "40001") || !strcmp(state, "40P01") ||
                          !strcmp(state, "55P03") || !strncmp(state, "08", 2) ||
                          !strncmp(state, "57P", 3))) ||
               PQstatus(c->pg) != CONNECTION_OK) {
        st_err_set(err, ST_ERR_UNAVAILABLE, "%s: the database is busy or unreachable: %s", what,
                   clean);
    } else {
        st_err_set(err, ST_ERR_INTERNAL, "%s: %s", what, clean);
    }
    return -1;
}

static PGconn *connect_pg(const char *target, struct st_err *err)
{
    PGconn *pg = PQconnectdb(target);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        char msg[ST_ERR_MSG_MAX];
        size_t n;
        snprintf(msg, sizeof(msg), "%s", pg ? PQerrorMessage(pg) : "out of memory");
        n = strlen(msg);
        while (n > 0 && msg[n - 1] == '\n')
            msg[--n] = 0;
        st_err_set(err, ST_ERR_UNAVAILABLE, "cannot connect to PostgreSQL: %s", msg);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, quiet, NULL);
    return pg;
}

static struct store_conn *pg_open(const char *target, struct st_err *err)
{
    struct store_conn *c;
    PGresult *res;
    PGconn *pg = connect_pg(target, err);
    if (!pg)
        return NULL;
    c = st_xcalloc(1, sizeof(*c));
    c->hdr.cls = &store_pg_class;
    c->pg = pg;
    res = PQexec(pg, "SET client_min_messages = warning; SET lock_timeout = '10s';"
                     " SET standard_conforming_strings = on; SET TIME ZONE 'UTC'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_fail(c, res, err, "cannot configure the PostgreSQL connection");
        PQclear(res);
        PQfinish(pg);
        free(c);
        return NULL;
    }
    PQclear(res);
    return c;
}

static void cache_clear(struct store_conn *c)
{
    for (int i = 0; i < PG_CACHE_SLOTS; i++) {
        free(c->cache[i].key);
        c->cache[i].key = NULL;
    }
}

static void pg_close(struct store_conn *c)
{
    if (!c)
        return;
    cache_clear(c);
    PQfinish(c->pg);
    free(c);
}

/* A dropped connection is reopened at the next use outside a transaction
 * (inside one the transaction is lost anyway and the caller sees the
 * error); its prepared statements are gone with it. */
static void revive(struct store_conn *c)
{
    if (PQstatus(c->pg) != CONNECTION_OK && !c->in_tx) {
        PQreset(c->pg);
        cache_clear(c);
    }
}

static int run_simple(struct store_conn *c, const char *sql, struct st_err *err, const char *what)
{
    PGresult *res;
    ExecStatusType st;
    revive(c);
    res = PQexec(c->pg, sql);
    st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        pg_fail(c, res, err, what);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

static int pg_exec_script(struct store_conn *c, const char *sql, struct st_err *err)
{
    return run_simple(c, sql, err, "SQL failed");
}

static int pg_begin(struct store_conn *c, bool write, struct st_err *err)
{
    int rc = run_simple(c,
                        write ? "BEGIN; SELECT pg_advisory_xact_lock(" PG_WRITE_LOCK ")"
                              : "BEGIN ISOLATION LEVEL REPEATABLE READ",
                        err, "cannot begin a transaction");
    if (rc < 0) {
        (void) run_simple(c, "ROLLBACK", NULL, "rollback");
        return -1;
    }
    c->in_tx = true;
    return 0;
}

static int pg_commit(struct store_conn *c, struct st_err *err)
{
    PGresult *res = PQexec(c->pg, "COMMIT");
    int rc = 0;
    /* A COMMIT of an aborted transaction answers ROLLBACK, not an error. */
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pg_fail(c, res, err, "cannot commit");
    else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot commit: the transaction was aborted");
        rc = -1;
    }
    PQclear(res);
    c->in_tx = false;
    return rc;
}

static void pg_rollback(struct store_conn *c)
{
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE && PQstatus(c->pg) == CONNECTION_OK) {
        PGresult *res = PQexec(c->pg, "ROLLBACK");
        PQclear(res);
    }
    c->in_tx = false;
}

/* '?' -> $n outside '...', "..." and comments; counts the parameters. */
static char *translate(const char *sql, int *count)
{
    struct st_buf b = ST_BUF_INIT;
    int n = 0;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            const char *e = p + 1;
            while (*e && *e != q)
                e++;
            st_buf_add(&b, p, (size_t) (e - p) + (*e ? 1 : 0));
            if (!*e)
                break;
            p = e;
        } else if (*p == '-' && p[1] == '-') {
            const char *e = strchr(p, '\n');
            if (!e) {
                st_buf_adds(&b, p);
                break;
            }
            st_buf_add(&b, p, (size_t) (e - p) + 1);
            p = e;
        } else if (*p == '?') {
            st_buf_addf(&b, "$%d", ++n);
        } else {
            st_buf_addch(&b, *p);
        }
    }
    *count = n;
    return st_buf_detach(&b, NULL);
}

static struct store_stmt *pg_prepare(struct store_conn *c, const char *sql, struct st_err *err)
{
    struct store_stmt *s = st_xcalloc(1, sizeof(*s));
    s->hdr.conn = c;
    s->sql = translate(sql, &s->nparams);
    s->row = -1;
    if (s->nparams > STORE_MAX_PARAMS) {
        st_err_set(err, ST_ERR_INTERNAL, "too many parameters (%d)", s->nparams);
        free(s->sql);
        free(s);
        return NULL;
    }
    return s;
}

static int check_idx(struct store_stmt *s, int idx, struct st_err *err)
{
    if (idx < 1 || idx > s->nparams) {
        st_err_set(err, ST_ERR_INTERNAL, "parameter %d out of range (statement has %d)", idx,
                   s->nparams);
        return -1;
    }
    free(s->values[idx - 1]);
    s->values[idx - 1] = NULL;
    s->types[idx - 1] = 0;
    return 0;
}

static int pg_bind_text(struct store_stmt *s, int idx, const char *v, struct st_err *err)
{
    if (check_idx(s, idx, err) < 0)
        return -1;
    s->values[idx - 1] = v ? st_xstrdup(v) : NULL;
    return 0;
}

static int pg_bind_int(struct store_stmt *s, int idx, int64_t v, struct st_err *err)
{
    if (check_idx(s, idx, err) < 0)
        return -1;
    s->values[idx - 1] = st_xasprintf("%lld", (long long) v);
    s->types[idx - 1] = PG_INT8OID;
    return 0;
}

static int pg_bind_blob(struct store_stmt *s, int idx, const void *p, size_t n, struct st_err *err)
{
    /* bytea in hex input form. */
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = p;
    char *out;
    if (check_idx(s, idx, err) < 0)
        return -1;
    out = st_xcalloc(1, 2 * n + 3);
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        out[2 + 2 * i] = hex[u[i] >> 4];
        out[3 + 2 * i] = hex[u[i] & 15];
    }
    s->values[idx - 1] = out;
    return 0;
}

static int pg_bind_null(struct store_stmt *s, int idx, struct st_err *err)
{
    return check_idx(s, idx, err);
}

static unsigned hash_str(const char *p, unsigned h)
{
    for (; *p; p++)
        h = (h ^ (unsigned char) *p) * 16777619u;
    return h;
}

/* The name of a prepared statement for 's', preparing it if needed; NULL
 * with 's->res' set on failure. */
static const char *prepared(struct store_stmt *s)
{
    struct store_conn *c = s->hdr.conn;
    char sig[STORE_MAX_PARAMS + 2];
    struct prepared *slot;
    unsigned h;
    size_t klen;
    PGresult *res;

    for (int i = 0; i < s->nparams; i++)
        sig[i] = s->types[i] ? 'i' : 't';
    sig[s->nparams] = '\n';
    sig[s->nparams + 1] = 0;
    h = hash_str(s->sql, hash_str(sig, 2166136261u));
    slot = &c->cache[h % PG_CACHE_SLOTS];
    klen = strlen(sig);
    if (slot->key && !strncmp(slot->key, sig, klen) && !strcmp(slot->key + klen, s->sql))
        return slot->name;
    if (slot->key) {
        char sql[64];
        snprintf(sql, sizeof(sql), "DEALLOCATE %s", slot->name);
        PQclear(PQexec(c->pg, sql));
        free(slot->key);
        slot->key = NULL;
    }
    snprintf(slot->name, sizeof(slot->name), "st%u", c->next_name++);
    res = PQprepare(c->pg, slot->name, s->sql, s->nparams, s->types);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        s->res = res;
        return NULL;
    }
    PQclear(res);
    slot->key = st_xasprintf("%s%s", sig, s->sql);
    return slot->name;
}

static int pg_step(struct store_stmt *s, struct st_err *err)
{
    struct store_conn *c = s->hdr.conn;
    if (!s->ran) {
        ExecStatusType st;
        const char *name;
        s->ran = true;
        revive(c);
        name = prepared(s);
        if (!name)
            return pg_fail(c, s->res, err, "cannot prepare statement");
        s->res = PQexecPrepared(c->pg, name, s->nparams, (const char *const *) s->values, NULL,
                                NULL, 0);
        st = PQresultStatus(s->res);
        if (st == PGRES_COMMAND_OK) {
            const char *t = PQcmdTuples(s->res);
            c->changes = t && *t ? strtoll(t, NULL, 10) : 0;
            return 0;
        }
        if (st != PGRES_TUPLES_OK)
            return pg_fail(c, s->res, err, "statement failed");
        /* INSERT/UPDATE ... RETURNING counts as changes too. */
        if (strncmp(PQcmdStatus(s->res), "SELECT", 6) != 0) {
            const char *t = PQcmdTuples(s->res);
            c->changes = t && *t ? strtoll(t, NULL, 10) : 0;
        }
    }
    if (!s->res || PQresultStatus(s->res) != PGRES_TUPLES_OK)
        return 0;
    if (s->row + 1 >= PQntuples(s->res)) {
        s->row = PQntuples(s->res);
        return 0;
    }
    s->row++;
    return 1;
}

static bool valid(struct store_stmt *s, int col)
{
    return s->res && s->row >= 0 && s->row < PQntuples(s->res) && col >= 0 &&
           col < PQnfields(s->res);
}

static const char *pg_col_text(struct store_stmt *s, int col)
{
    const char *v;
    if (!valid(s, col) || PQgetisnull(s->res, s->row, col))
        return NULL;
    v = PQgetvalue(s->res, s->row, col);
    /* SQLite answers 1 and 0 for truth values. */
    if (PQftype(s->res, col) == PG_BOOLOID)
        return *v == 't' ? "1" : "0";
    return v;
}

static int64_t pg_col_int(struct store_stmt *s, int col)
{
    const char *v = pg_col_text(s, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

static const void *pg_col_blob(struct store_stmt *s, int col, size_t *len)
{
    /* Text results: a bytea comes as \x hex, other types as their text. */
    const char *v = pg_col_text(s, col);
    *len = v ? strlen(v) : 0;
    return v;
}

static bool pg_col_null(struct store_stmt *s, int col)
{
    return !valid(s, col) || PQgetisnull(s->res, s->row, col);
}

static void pg_finish(struct store_stmt *s)
{
    for (int i = 0; i < s->nparams; i++)
        free(s->values[i]);
    PQclear(s->res);
    free(s->sql);
    free(s);
}

static int64_t pg_changes(struct store_conn *c)
{
    return c->changes;
}

/* Channel names are ours (identifiers, never user input); still, only
 * [a-z_] go into the SQL. */
static bool channel_ok(const char *ch)
{
    if (!*ch)
        return false;
    for (const char *p = ch; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return false;
    return true;
}

static int pg_signal(struct store_conn *c, const char *channel, struct st_err *err)
{
    char sql[128];
    if (!channel_ok(channel)) {
        st_err_set(err, ST_ERR_INTERNAL, "bad channel name");
        return -1;
    }
    snprintf(sql, sizeof(sql), "NOTIFY %s", channel);
    return run_simple(c, sql, err, "cannot notify");
}

struct watcher {
    char *target;
    char *channel;
    void (*fn)(void);
    pthread_t thread;
    atomic_bool stop;
    int wake[2];
};

static void *watch_main(void *arg)
{
    struct watcher *w = arg;
    PGconn *pg = NULL;
    char sql[128];
    snprintf(sql, sizeof(sql), "LISTEN %s", w->channel);
    while (!atomic_load(&w->stop)) {
        struct pollfd pf[2];
        PGnotify *n;
        bool got = false;
        if (!pg || PQstatus(pg) != CONNECTION_OK) {
            struct st_err err = ST_ERR_INIT;
            PGresult *res;
            PQfinish(pg);
            pg = connect_pg(w->target, &err);
            if (pg) {
                res = PQexec(pg, sql);
                if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                    log_warnx("store", "LISTEN %s failed: %s", w->channel, PQerrorMessage(pg));
                    PQfinish(pg);
                    pg = NULL;
                }
                PQclear(res);
            } else {
                log_warnx("store", "notification listener: %s", err.msg);
            }
            if (!pg) {
                struct pollfd p1 = {.fd = w->wake[0], .events = POLLIN};
                (void) poll(&p1, 1, 1000);
                continue;
            }
            /* Changes made while we were not listening: wake anyway. */
            w->fn();
        }
        pf[0].fd = PQsocket(pg);
        pf[0].events = POLLIN;
        pf[1].fd = w->wake[0];
        pf[1].events = POLLIN;
        if (poll(pf, 2, 5000) < 0 && errno != EINTR)
            break;
        if (pf[1].revents)
            break;
        if (!PQconsumeInput(pg))
            continue; /* reconnects above */
        while ((n = PQnotifies(pg)) != NULL) {
            got = true;
            PQfreemem(n);
        }
        if (got)
            w->fn();
    }
    PQfinish(pg);
    return NULL;
}

static void *pg_watch(const char *target, const char *channel, void (*fn)(void),
                      struct st_err *err)
{
    struct watcher *w;
    if (!channel_ok(channel)) {
        st_err_set(err, ST_ERR_INTERNAL, "bad channel name");
        return NULL;
    }
    w = st_xcalloc(1, sizeof(*w));
    if (pipe(w->wake) < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "pipe: %s", strerror(errno));
        free(w);
        return NULL;
    }
    w->target = st_xstrdup(target);
    w->channel = st_xstrdup(channel);
    w->fn = fn;
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot start the notification listener");
        close(w->wake[0]);
        close(w->wake[1]);
        free(w->target);
        free(w->channel);
        free(w);
        return NULL;
    }
    return w;
}

static void pg_unwatch(void *handle)
{
    struct watcher *w = handle;
    if (!w)
        return;
    atomic_store(&w->stop, true);
    if (write(w->wake[1], "x", 1) < 0) {
        /* the thread still sees 'stop' within its poll timeout */
    }
    pthread_join(w->thread, NULL);
    close(w->wake[0]);
    close(w->wake[1]);
    free(w->target);
    free(w->channel);
    free(w);
}

const struct store_class store_pg_class = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .exec_script = pg_exec_script,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .prepare = pg_prepare,
    .bind_text = pg_bind_text,
    .bind_int = pg_bind_int,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_text = pg_col_text,
    .col_int = pg_col_int,
    .col_blob = pg_col_blob,
    .col_null = pg_col_null,
    .finish = pg_finish,
    .changes = pg_changes,
    .signal = pg_signal,
    .watch = pg_watch,
    .unwatch = pg_unwatch,
};

/*
 * store.h - the state store: SQL behind one interface, SQLite embedded by
 * default, PostgreSQL (libpq) for several controllers.
 *
 * Domain modules write portable SQL with '?' placeholders and run it through
 * store_query()/store_exec(), which bind typed parameters; no SQL is ever built
 * from user strings.  The store knows no domain rules beyond the constraints
 * of the schema: a UNIQUE/FOREIGN KEY violation becomes ST_ERR_CONFLICT, and
 * the caller may translate it into a message about its own resource.
 *
 * A 'struct store' is a pool of connections.  A thread acquires one
 * connection for the length of a request (store_acquire/store_release), so
 * statements and transactions on it need no locking.  Statements are
 * prepared once per connection and cached by their SQL text.
 *
 * Parameters are passed as an array built with STORE_ARGS(), whose P()
 * picks the binding from the C type at compile time (text for char pointers,
 * integer for integer types); a text parameter that is NULL binds SQL NULL:
 *
 *   store_query(c, err, "SELECT name FROM users WHERE id = ? AND enabled = ?",
 *               STORE_ARGS(P(id), P(1)));
 */
#ifndef ST_STORE_H
#define ST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stddef.h>

#include <jansson.h>

#include "common/err.h"

struct store;
struct store_conn;
struct store_stmt;

/* Every backend's connection and statement structs begin with these
 * headers, so the generic layer can find the class of a connection. */
struct store_conn_hdr {
    const struct store_class *cls;
};
struct store_stmt_hdr {
    struct store_conn *conn;
};

/*
 * A backend.  Every member must be implemented; errors fill 'err' once.
 */
struct store_class {
    const char *name; /* "sqlite" or "postgres" */
    /* Opens one connection to 'target' (a file path for sqlite; a libpq
     * conninfo for postgres), with the backend's pragmas applied. */
    struct store_conn *(*open)(const char *target, struct st_err *err);
    /* Closes a connection and every statement it cached. */
    void (*close)(struct store_conn *conn);
    /* Runs SQL text with no parameters and no result rows (may hold several
     * statements: migrations). */
    int (*exec_script)(struct store_conn *conn, const char *sql, struct st_err *err);
    /* Starts a transaction; 'write' asks for the write lock at once (sqlite's
     * BEGIN IMMEDIATE) so that two writers never deadlock upgrading. */
    int (*begin)(struct store_conn *conn, bool write, struct st_err *err);
    int (*commit)(struct store_conn *conn, struct st_err *err);
    void (*rollback)(struct store_conn *conn);
    /* Returns a statement for 'sql', with parameters unbound.  A statement is
     * used by one caller at a time; finish() returns it to the cache. */
    struct store_stmt *(*prepare)(struct store_conn *conn, const char *sql, struct st_err *err);
    int (*bind_text)(struct store_stmt *st, int idx, const char *s, struct st_err *err);
    int (*bind_int)(struct store_stmt *st, int idx, int64_t v, struct st_err *err);
    int (*bind_blob)(struct store_stmt *st, int idx, const void *p, size_t n, struct st_err *err);
    int (*bind_null)(struct store_stmt *st, int idx, struct st_err *err);
    /* Advances: 1 with a row, 0 when done, -1 on error (constraint
     * violations as ST_ERR_CONFLICT, a busy database as ST_ERR_UNAVAILABLE). */
    int (*step)(struct store_stmt *st, struct st_err *err);
    /* Column access on the current row; pointers live until the next step. */
    const char *(*col_text)(struct store_stmt *st, int col); /* NULL for SQL NULL */
    int64_t (*col_int)(struct store_stmt *st, int col);
    const void *(*col_blob)(struct store_stmt *st, int col, size_t *len);
    bool (*col_null)(struct store_stmt *st, int col);
    /* Resets the statement and returns it to its connection. */
    void (*finish)(struct store_stmt *st);
    /* Rows changed by the last INSERT/UPDATE/DELETE on this connection. */
    int64_t (*changes)(struct store_conn *conn);
    /* Cross-process notifications (store_signal/store_watch below); NULL
     * when every user of the database is this process (SQLite). */
    int (*signal)(struct store_conn *conn, const char *channel, struct st_err *err);
    void *(*watch)(const char *target, const char *channel, void (*fn)(void),
                   struct st_err *err);
    void (*unwatch)(void *handle);
};

extern const struct store_class store_sqlite_class;
extern const struct store_class store_pg_class;

/* Opens a pool of at most 'pool_size' connections to 'url': a file path,
 * "sqlite:PATH" or "sqlite:///PATH" for SQLite, "postgresql://..." or
 * "postgres://..." (a libpq URI) for PostgreSQL.  Does not migrate. */
struct store *store_open(const char *url, int pool_size, struct st_err *err);
void store_close(struct store *st);
/* The backend's name: "sqlite" or "postgres". */
const char *store_backend(const struct store *st);

/* Tells the other processes on the database that 'channel' ([a-z_]+)
 * happened, when the caller's transaction commits (PostgreSQL NOTIFY); a
 * no-op on SQLite, where every user is this process. */
int store_signal(struct store_conn *c, const char *channel, struct st_err *err)
    __attribute__((warn_unused_result));
/* Calls 'fn' (from a thread of the store's) whenever another process
 * signals 'channel' and after reconnecting; a no-op on SQLite.  Stopped by
 * store_close(). */
int store_watch(struct store *st, const char *channel, void (*fn)(void), struct st_err *err)
    __attribute__((warn_unused_result));
/* Borrows a connection, waiting for one if all are in use; NULL (with err)
 * only when a new connection cannot be opened. */
struct store_conn *store_acquire(struct store *st, struct st_err *err);
/* Returns a connection; an open transaction is rolled back. */
void store_release(struct store *st, struct store_conn *conn);

int store_begin(struct store_conn *c, struct st_err *err) __attribute__((warn_unused_result));
int store_begin_read(struct store_conn *c, struct st_err *err) __attribute__((warn_unused_result));
int store_commit(struct store_conn *c, struct st_err *err) __attribute__((warn_unused_result));
void store_rollback(struct store_conn *c);

/* 1 when a row is available, 0 at the end, -1 on error. */
int store_next(struct store_stmt *s, struct st_err *err) __attribute__((warn_unused_result));
/* Ends a query (NULL allowed). */
void store_done(struct store_stmt *s);
const char *store_text(struct store_stmt *s, int col);
int64_t store_int(struct store_stmt *s, int col);
bool store_isnull(struct store_stmt *s, int col);
const void *store_blob(struct store_stmt *s, int col, size_t *len);

/* A bound parameter; see STORE_ARGS() above. */
struct store_param {
    char type; /* 't' text, 'i' integer, 'n' NULL */
    const char *s;
    int64_t i;
};
#define STORE_MAX_PARAMS 64

static inline struct store_param store_ptext(const char *s)
{
    struct store_param p = {s ? 't' : 'n', s, 0};
    return p;
}
static inline struct store_param store_pint(int64_t i)
{
    struct store_param p = {'i', 0, i};
    return p;
}
#define P(x)                                                                                       \
    _Generic((x), char * : store_ptext, const char * : store_ptext, default : store_pint)(x)
#define STORE_ARGS(...)                                                                            \
    ((const struct store_param[]){__VA_ARGS__}),                                                   \
        (sizeof((const struct store_param[]){__VA_ARGS__}) / sizeof(struct store_param))
#define STORE_NOARGS NULL, 0

/* Prepares 'sql', binds the 'n' parameters and returns the statement
 * positioned before the first row; NULL with 'err' on failure. */
struct store_stmt *store_query(struct store_conn *c, struct st_err *err, const char *sql,
                               const struct store_param *params, size_t n);
/* Runs a statement that returns no rows; returns the number of rows changed,
 * or -1 with 'err'. */
int64_t store_exec(struct store_conn *c, struct st_err *err, const char *sql,
                   const struct store_param *params, size_t n) __attribute__((warn_unused_result));
/* Runs a query expected to return at most one integer; returns 1 and sets *out
 * when a row came back, 0 when none, -1 on error. */
int store_get_int(struct store_conn *c, struct st_err *err, int64_t *out, const char *sql,
                  const struct store_param *params, size_t n) __attribute__((warn_unused_result));

/* Gives each row of a query to 'row', which returns a new JSON value for it,
 * or NULL without touching 'err' to leave the row out, or NULL with 'err'
 * set to stop; returns a new array of the values, or NULL with 'err'.  The
 * one loop for "list as JSON".  (A filter on the caller's project that is
 * NULL for an admin: "WHERE (CAST(? AS TEXT) IS NULL OR project_id = ?)",
 * which PostgreSQL can type too.) */
typedef json_t *(*store_row_fn)(struct store_conn *c, struct store_stmt *s, void *arg,
                                struct st_err *err);
json_t *store_collect(struct store_conn *c, struct st_err *err, store_row_fn row, void *arg,
                      const char *sql, const struct store_param *params, size_t n);

/* The time this process has spent running SQL (prepare, bind, step,
 * begin, commit, rollback), in nanoseconds, and the number of statements
 * prepared: process-wide sums over every store, read for the metrics. */
void store_time(uint64_t *ns, uint64_t *statements);

/* Schema: applies the missing numbered migrations in order, each in its own
 * transaction.  Returns the number applied, or -1. */
int store_migrate(struct store *st, struct st_err *err) __attribute__((warn_unused_result));
/* The schema version the database is at, and the one this binary wants. */
int store_schema_version(struct store *st, int *current, struct st_err *err)
    __attribute__((warn_unused_result));
int store_schema_latest(void);

#endif

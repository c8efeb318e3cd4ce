/*
 * store-sqlite.c - the SQLite provider of struct store_class.
 *
 * One sqlite3 handle per connection, opened in multi-thread mode (the pool
 * guarantees one user at a time), WAL journal, foreign keys on, a busy
 * timeout.  Prepared statements are cached per connection by SQL text; a
 * statement already in use (a nested query with the same text) gets a fresh,
 * uncached one.
 */
#include "store/store.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/banned.h"

#define SQLITE_CACHE_SLOTS 128
#define SQLITE_BUSY_MS 10000

struct store_stmt {
    struct store_stmt_hdr hdr; /* first: the generic layer reads it */
    sqlite3_stmt *stmt;
    const char *sql; /* cached key: owned copy */
    bool busy;
    bool cached;
};

struct store_conn {
    struct store_conn_hdr hdr; /* first: the generic layer reads it */
    sqlite3 *db;
    struct store_stmt *cache[SQLITE_CACHE_SLOTS];
};

static int sqlite_fail(sqlite3 *db, int rc, struct st_err *err, const char *what)
{
    int ext = db ? sqlite3_extended_errcode(db) : rc;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        st_err_set(err, ST_ERR_CONFLICT, "%s: %s", what, msg);
        st_err_set_type(err, ext == SQLITE_CONSTRAINT_FOREIGNKEY ? "foreign_key" : "unique");
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        st_err_set(err, ST_ERR_UNAVAILABLE, "%s: the database is busy: %s", what, msg);
        break;
    default:
        st_err_set(err, ST_ERR_INTERNAL, "%s: %s", what, msg);
        break;
    }
    return -1;
}

static struct store_conn *sq_open(const char *target, struct st_err *err)
{
    struct store_conn *c = st_xcalloc(1, sizeof(*c));
    c->hdr.cls = &store_sqlite_class;
    int rc = sqlite3_open_v2(target, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                                 SQLITE_OPEN_EXRESCODE,
                             NULL);
    if (rc != SQLITE_OK) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot open database '%s': %s", target,
                   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, SQLITE_BUSY_MS);
    sqlite3_extended_result_codes(c->db, 1);
    static const char pragmas[] = "PRAGMA journal_mode=WAL;"
                                  "PRAGMA synchronous=NORMAL;"
                                  "PRAGMA foreign_keys=ON;"
                                  "PRAGMA temp_store=MEMORY;";
    char *msg = NULL;
    rc = sqlite3_exec(c->db, pragmas, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot configure database '%s': %s", target,
                   msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    return c;
}

static void stmt_destroy(struct store_stmt *s)
{
    if (!s)
        return;
    sqlite3_finalize(s->stmt);
    free((char *) s->sql);
    free(s);
}

static void sq_close(struct store_conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < SQLITE_CACHE_SLOTS; i++)
        stmt_destroy(c->cache[i]);
    sqlite3_close(c->db);
    free(c);
}

static int sq_exec_script(struct store_conn *c, const char *sql, struct st_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int base = rc & 0xff;
        st_err_set(err,
                   base == SQLITE_CONSTRAINT                        ? ST_ERR_CONFLICT
                   : base == SQLITE_BUSY || base == SQLITE_LOCKED ? ST_ERR_UNAVAILABLE
                                                                    : ST_ERR_INTERNAL,
                   "SQL failed: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int sq_begin(struct store_conn *c, bool write, struct st_err *err)
{
    return sq_exec_script(c, write ? "BEGIN IMMEDIATE" : "BEGIN", err);
}

static int sq_commit(struct store_conn *c, struct st_err *err)
{
    return sq_exec_script(c, "COMMIT", err);
}

static void sq_rollback(struct store_conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        (void) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

static unsigned hash_sql(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h;
}

static struct store_stmt *sq_prepare(struct store_conn *c, const char *sql, struct st_err *err)
{
    unsigned slot = hash_sql(sql) % SQLITE_CACHE_SLOTS;
    struct store_stmt *s = c->cache[slot];
    bool cache = true;

    if (s && !strcmp(s->sql, sql)) {
        if (!s->busy) {
            s->busy = true;
            return s;
        }
        cache = false; /* nested use of the same statement */
    } else if (s && s->busy) {
        cache = false;
    }
    s = st_xcalloc(1, sizeof(*s));
    int rc =
        sqlite3_prepare_v3(c->db, sql, -1, cache ? SQLITE_PREPARE_PERSISTENT : 0, &s->stmt, NULL);
    if (rc != SQLITE_OK) {
        sqlite_fail(c->db, rc, err, "cannot prepare statement");
        free(s);
        return NULL;
    }
    s->hdr.conn = c;
    s->sql = st_xstrdup(sql);
    s->busy = true;
    s->cached = cache;
    if (cache) {
        stmt_destroy(c->cache[slot]);
        c->cache[slot] = s;
    }
    return s;
}

static int sq_bind_text(struct store_stmt *s, int idx, const char *v, struct st_err *err)
{
    int rc = v ? sqlite3_bind_text(s->stmt, idx, v, -1, SQLITE_TRANSIENT)
               : sqlite3_bind_null(s->stmt, idx);
    return rc == SQLITE_OK ? 0 : sqlite_fail(s->hdr.conn->db, rc, err, "cannot bind a parameter");
}

static int sq_bind_int(struct store_stmt *s, int idx, int64_t v, struct st_err *err)
{
    int rc = sqlite3_bind_int64(s->stmt, idx, v);
    return rc == SQLITE_OK ? 0 : sqlite_fail(s->hdr.conn->db, rc, err, "cannot bind a parameter");
}

static int sq_bind_blob(struct store_stmt *s, int idx, const void *p, size_t n, struct st_err *err)
{
    int rc = sqlite3_bind_blob64(s->stmt, idx, p, n, SQLITE_TRANSIENT);
    return rc == SQLITE_OK ? 0 : sqlite_fail(s->hdr.conn->db, rc, err, "cannot bind a parameter");
}

static int sq_bind_null(struct store_stmt *s, int idx, struct st_err *err)
{
    int rc = sqlite3_bind_null(s->stmt, idx);
    return rc == SQLITE_OK ? 0 : sqlite_fail(s->hdr.conn->db, rc, err, "cannot bind a parameter");
}

static int sq_step(struct store_stmt *s, struct st_err *err)
{
    int rc = sqlite3_step(s->stmt);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return sqlite_fail(s->hdr.conn->db, rc, err, "statement failed");
}

static const char *sq_col_text(struct store_stmt *s, int col)
{
    return (const char *) sqlite3_column_text(s->stmt, col);
}

static int64_t sq_col_int(struct store_stmt *s, int col)
{
    return sqlite3_column_int64(s->stmt, col);
}

static const void *sq_col_blob(struct store_stmt *s, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(s->stmt, col);
    *len = (size_t) sqlite3_column_bytes(s->stmt, col);
    return p;
}

static bool sq_col_null(struct store_stmt *s, int col)
{
    return sqlite3_column_type(s->stmt, col) == SQLITE_NULL;
}

static void sq_finish(struct store_stmt *s)
{
    sqlite3_reset(s->stmt);
    sqlite3_clear_bindings(s->stmt);
    s->busy = false;
    if (!s->cached)
        stmt_destroy(s);
}

static int64_t sq_changes(struct store_conn *c)
{
    return sqlite3_changes64(c->db);
}

const struct store_class store_sqlite_class = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec_script = sq_exec_script,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .prepare = sq_prepare,
    .bind_text = sq_bind_text,
    .bind_int = sq_bind_int,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_text = sq_col_text,
    .col_int = sq_col_int,
    .col_blob = sq_col_blob,
    .col_null = sq_col_null,
    .finish = sq_finish,
    .changes = sq_changes,
};

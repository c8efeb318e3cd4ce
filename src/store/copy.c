/*
 * copy.c - moves every row of a SQLite store into another store
 * (stratus-manage db migrate-from-sqlite), and proves nothing was lost.
 *
 * Both stores are at the latest schema (the target is migrated here; the
 * source must already be, or its columns would not match).  Tables are
 * copied in the order SQLite created them, which is the migrations' order,
 * so every row a foreign key points at is there first.  Values travel as
 * text (SQLite's integers print as PostgreSQL reads them) or NULL.
 *
 * The proof: for each table, the number of rows and a digest of its content
 * -- the sum of a hash of each row's values -- read back from both stores.
 * A sum does not depend on the order rows come in (the two databases sort
 * text differently) but counts every row, duplicates included.  The copy
 * and the check run in one transaction on the target: a mismatch rolls it
 * all back.
 */
#include "store/copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/banned.h"

#define MAX_COLS STORE_MAX_PARAMS

struct table {
    char name[64];
    char *cols[MAX_COLS];
    int ncols;
};

static bool ident_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

static void table_free(struct table *t)
{
    for (int i = 0; i < t->ncols; i++)
        free(t->cols[i]);
    t->ncols = 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *u = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ u[i]) * UINT64_C(1099511628211);
    return h;
}

/* "SELECT c1, c2, ... FROM t" */
static char *select_sql(const struct table *t)
{
    struct st_buf b = ST_BUF_INIT;
    st_buf_adds(&b, "SELECT ");
    for (int i = 0; i < t->ncols; i++)
        st_buf_addf(&b, "%s\"%s\"", i ? ", " : "", t->cols[i]);
    st_buf_addf(&b, " FROM \"%s\"", t->name);
    return st_buf_detach(&b, NULL);
}

/* Rows and content digest of table 't' in the store of 'c'. */
static int digest(struct store_conn *c, const struct table *t, int64_t *rows, uint64_t *sum,
                  struct st_err *err)
{
    char *sql = select_sql(t);
    struct store_stmt *s = store_query(c, err, sql, STORE_NOARGS);
    int rc;
    free(sql);
    *rows = 0;
    *sum = 0;
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0) {
        uint64_t h = UINT64_C(14695981039346656037);
        for (int i = 0; i < t->ncols; i++) {
            const char *v = store_text(s, i);
            char len[32];
            if (!v) {
                h = fnv(h, "N|", 2);
                continue;
            }
            snprintf(len, sizeof(len), "%zu:", strlen(v));
            h = fnv(h, len, strlen(len));
            h = fnv(h, v, strlen(v));
            h = fnv(h, "|", 1);
        }
        *sum += h;
        (*rows)++;
    }
    store_done(s);
    return rc < 0 ? -1 : 0;
}

static int copy_rows(struct store_conn *src, struct store_conn *dst, const struct table *t,
                     struct st_err *err)
{
    struct st_buf ins = ST_BUF_INIT;
    char *sql = select_sql(t);
    struct store_stmt *s;
    struct store_param params[MAX_COLS];
    int rc;

    st_buf_addf(&ins, "INSERT INTO \"%s\" (", t->name);
    for (int i = 0; i < t->ncols; i++)
        st_buf_addf(&ins, "%s\"%s\"", i ? ", " : "", t->cols[i]);
    st_buf_adds(&ins, ") VALUES (");
    for (int i = 0; i < t->ncols; i++)
        st_buf_adds(&ins, i ? ", ?" : "?");
    st_buf_adds(&ins, ")");
    s = store_query(src, err, sql, STORE_NOARGS);
    free(sql);
    if (!s) {
        st_buf_release(&ins);
        return -1;
    }
    while ((rc = store_next(s, err)) > 0) {
        for (int i = 0; i < t->ncols; i++)
            params[i] = store_ptext(store_text(s, i));
        if (store_exec(dst, err, ins.buf, params, (size_t) t->ncols) < 0) {
            rc = -1;
            break;
        }
    }
    store_done(s);
    st_buf_release(&ins);
    return rc < 0 ? -1 : 0;
}

/* Tables the migrations fill (src/store/migrations.c m008: the volume type
 * 'file' and its backend spec), children first. */
static const char *const seeded[] = {"volume_type_specs", "volume_types"};

static bool is_seeded(const char *table)
{
    for (size_t i = 0; i < sizeof(seeded) / sizeof(seeded[0]); i++)
        if (strcmp(table, seeded[i]) == 0)
            return true;
    return false;
}

/* The source's tables, in creation order, with their columns. */
static int list_tables(struct store_conn *c, struct table **out, int *n, struct st_err *err)
{
    struct store_stmt *s =
        store_query(c, err,
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE"
                    " 'sqlite\\_%' ESCAPE '\\' AND name <> 'schema_migrations' ORDER BY rowid",
                    STORE_NOARGS);
    int rc, cap = 0;
    *out = NULL;
    *n = 0;
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0) {
        const char *name = store_text(s, 0);
        if (!name || !ident_ok(name)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "unexpected table name in the source");
            rc = -1;
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            *out = st_xrealloc(*out, (size_t) cap * sizeof(**out));
        }
        memset(&(*out)[*n], 0, sizeof(**out));
        snprintf((*out)[*n].name, sizeof((*out)[*n].name), "%s", name);
        (*n)++;
    }
    store_done(s);
    if (rc < 0)
        return -1;
    for (int i = 0; i < *n; i++) {
        struct table *t = &(*out)[i];
        s = store_query(c, err, "SELECT name FROM pragma_table_info(?) ORDER BY cid",
                        STORE_ARGS(P(t->name)));
        if (!s)
            return -1;
        while ((rc = store_next(s, err)) > 0) {
            const char *col = store_text(s, 0);
            if (!col || !ident_ok(col) || t->ncols == MAX_COLS) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "unexpected column in table %s", t->name);
                rc = -1;
                break;
            }
            t->cols[t->ncols++] = st_xstrdup(col);
        }
        store_done(s);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int store_copy(struct store *from, struct store *to, store_copy_fn report, void *arg,
               struct st_err *err)
{
    struct store_conn *src = NULL, *dst = NULL;
    struct table *tables = NULL;
    int ntables = 0, rc = -1, v = 0;

    if (strcmp(store_backend(from), "sqlite") != 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "the source must be a SQLite database");
        return -1;
    }
    if (store_schema_version(from, &v, err) < 0)
        return -1;
    if (v != store_schema_latest()) {
        st_err_set(err, ST_ERR_CONFLICT,
                   "the source is at schema version %d, not %d: run db sync on it first", v,
                   store_schema_latest());
        return -1;
    }
    if (store_migrate(to, err) < 0)
        return -1;
    if (!(src = store_acquire(from, err)) || !(dst = store_acquire(to, err)))
        goto out;
    if (store_begin_read(src, err) < 0 || list_tables(src, &tables, &ntables, err) < 0 ||
        store_begin(dst, err) < 0)
        goto out;
    /* Refuse to merge into a cloud that already has data.  The rows the
     * migrations themselves seed (the default volume type) are no data: the
     * source has them too, and they are replaced by its copy. */
    for (int i = 0; i < ntables; i++) {
        int64_t any = 0;
        char sql[128];
        if (is_seeded(tables[i].name))
            continue;
        snprintf(sql, sizeof(sql), "SELECT 1 FROM \"%s\" LIMIT 1", tables[i].name);
        if (store_get_int(dst, err, &any, sql, STORE_NOARGS) < 0)
            goto out;
        if (any) {
            st_err_set(err, ST_ERR_CONFLICT,
                       "the target database is not empty (table %s has rows): migrate into a "
                       "new database",
                       tables[i].name);
            goto out;
        }
    }
    for (size_t i = 0; i < sizeof(seeded) / sizeof(seeded[0]); i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DELETE FROM \"%s\"", seeded[i]);
        if (store_exec(dst, err, sql, STORE_NOARGS) < 0)
            goto out;
    }
    for (int i = 0; i < ntables; i++)
        if (copy_rows(src, dst, &tables[i], err) < 0) {
            struct st_err first = *err;
            st_err_clear(err);
            st_err_set(err, first.kind, "table %s: %s", tables[i].name, first.msg);
            goto out;
        }
    for (int i = 0; i < ntables; i++) {
        int64_t n1, n2;
        uint64_t d1, d2;
        if (digest(src, &tables[i], &n1, &d1, err) < 0 ||
            digest(dst, &tables[i], &n2, &d2, err) < 0)
            goto out;
        if (n1 != n2 || d1 != d2) {
            st_err_set(err, ST_ERR_INTERNAL,
                       "table %s differs after the copy (%lld rows and digest %016llx in the "
                       "source, %lld and %016llx in the target): nothing was committed",
                       tables[i].name, (long long) n1, (unsigned long long) d1, (long long) n2,
                       (unsigned long long) d2);
            goto out;
        }
        if (report)
            report(arg, tables[i].name, n1, d1);
    }
    if (store_commit(dst, err) < 0)
        goto out;
    rc = ntables;
out:
    if (src)
        store_release(from, src);
    if (dst)
        store_release(to, dst);
    for (int i = 0; i < ntables; i++)
        table_free(&tables[i]);
    free(tables);
    return rc;
}

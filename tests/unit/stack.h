/*
 * stack.h - a throw-away controller state for tests and the fuzzer: a temp
 * data directory with a migrated SQLite store, token keys, an identity
 * handle and the bootstrap (admin user and project, roles admin/member/
 * reader, region RegionOne, the five-service catalog).  Independent of
 * cmocka so that tests/fuzz can use it too.
 */
#ifndef ST_TEST_STACK_H
#define ST_TEST_STACK_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "identity/identity.h"
#include "identity/token.h"
#include "store/store.h"

#define TSTACK_ADMIN_PASSWORD "s3cret-admin"
#define TSTACK_PUBLIC_URL "http://cloud.example:5000/"

struct tstack {
    char *dir;              /* the data directory (removed by tstack_close) */
    char db[4200];
    char keys[4200];
    struct store *st;
    struct identity *idn;
    char admin_user[AUTH_ID_MAX];    /* id of user admin */
    char admin_project[AUTH_ID_MAX]; /* id of project admin */
};

/* The id of the row of 'sql' (one text parameter), or "" */
static inline void tstack_lookup(struct tstack *s, const char *sql, const char *arg,
                                 char out[AUTH_ID_MAX])
{
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = store_acquire(s->st, &err);
    struct store_stmt *q;
    out[0] = '\0';
    if (!c)
        return;
    q = store_query(c, &err, sql, STORE_ARGS(P(arg)));
    if (q && store_next(q, &err) > 0 && store_text(q, 0))
        snprintf(out, AUTH_ID_MAX, "%s", store_text(q, 0));
    store_done(q);
    store_release(s->st, c);
}

/* Creates the stack in a new directory under 'parent' (NULL: $TMPDIR or
 * /tmp).  'ttl' is the token lifetime in seconds; 'cost' the yescrypt cost.
 * Returns 0, or -1 with 'err'. */
static inline int tstack_open(struct tstack *s, const char *parent, int64_t ttl, int cost,
                              struct st_err *err)
{
    const char *base = parent ? parent : getenv("TMPDIR");
    char tmpl[4096];
    struct store_conn *c = NULL;
    int rc = -1;

    memset(s, 0, sizeof(*s));
    if (st_snprintf(tmpl, sizeof(tmpl), "%s/stratus-stack-XXXXXX",
                    base && *base ? base : "/tmp") < 0 ||
        !mkdtemp(tmpl)) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot create a temporary directory");
        return -1;
    }
    s->dir = st_xstrdup(tmpl);
    snprintf(s->db, sizeof(s->db), "%s/stratus.db", s->dir);
    snprintf(s->keys, sizeof(s->keys), "%s/keys/token", s->dir);
    s->st = store_open(s->db, 4, err);
    if (!s->st || store_migrate(s->st, err) < 0 || token_keys_setup(s->keys, err) < 0)
        return -1;
    struct identity_opts o = {.key_dir = s->keys, .token_ttl = ttl, .hash_cost = cost};
    s->idn = identity_new(s->st, &o, err);
    if (!s->idn || !(c = store_acquire(s->st, err)))
        return -1;
    if (identity_bootstrap(s->idn, c, TSTACK_ADMIN_PASSWORD, TSTACK_PUBLIC_URL, "RegionOne",
                           err) == 0)
        rc = 0;
    store_release(s->st, c);
    tstack_lookup(s, "SELECT id FROM users WHERE name = ?", "admin", s->admin_user);
    tstack_lookup(s, "SELECT id FROM projects WHERE name = ?", "admin", s->admin_project);
    return rc;
}

static inline int tstack_rm_one(const char *path, const struct stat *sb, int flag,
                                struct FTW *ftw)
{
    (void) sb;
    (void) ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Frees everything and removes the directory. */
static inline void tstack_close(struct tstack *s)
{
    identity_free(s->idn);
    store_close(s->st);
    if (s->dir)
        (void) nftw(s->dir, tstack_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(s->dir);
    memset(s, 0, sizeof(*s));
}

#endif

/*
 * console.c - console tokens and sessions (see console.h): the store side
 * of the remote consoles that api/consoles.c serves and proxies.
 */
#include "compute/console.h"

#include <openssl/sha.h>
#include <string.h>

#include "common/util.h"
#include "compute/server.h"
#include "store/revision.h"
#include "common/banned.h"

void console_token_hash(const char *token, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    static const char hex[] = "0123456789abcdef";
    SHA256((const unsigned char *) token, strlen(token), md);
    for (size_t i = 0; i < sizeof(md); i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

static bool kind_ok(const char *kind)
{
    return kind && (!strcmp(kind, "vnc") || !strcmp(kind, "serial"));
}

int console_token_create(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                         const char *kind, int64_t ttl, struct st_buf *token, struct st_err *err)
{
    static const char *const ready[] = {"active", "paused", "rescued", NULL};
    unsigned char raw[CONSOLE_TOKEN_BYTES];
    struct st_buf text = ST_BUF_INIT;
    struct server_rec r;
    char hash[65];
    int64_t now = st_now_us() / 1000000;
    bool ok = false;
    int rc = -1;

    if (!kind_ok(kind)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Unsupported console kind");
        return -1;
    }
    if (server_get(c, ctx, server_id, &r, err) < 0)
        return -1;
    if (policy_write(ctx, r.project_id, "instance", server_id, err) < 0)
        goto out;
    for (int i = 0; ready[i]; i++)
        ok |= !strcmp(r.vm_state, ready[i]);
    if (!ok || !r.host || r.delete_requested) {
        st_err_set(err, ST_ERR_CONFLICT, "Instance %s is not ready", server_id);
        goto out;
    }
    st_random(raw, sizeof(raw));
    st_base64url_encode(raw, sizeof(raw), &text);
    console_token_hash(text.buf, hash);
    if (store_exec(c, err,
                   "INSERT INTO console_tokens (token_hash, server_id, kind, user_id, project_id,"
                   " expires_at, used_at, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                   STORE_ARGS(P(hash), P(server_id), P(kind), P(ctx->user_id),
                              P(ctx->project_id), P(now + ttl), P(now))) < 0)
        goto out;
    st_buf_add(token, text.buf, text.len);
    rc = 0;
out:
    memset(raw, 0, sizeof(raw));
    st_buf_release(&text);
    server_rec_release(&r);
    return rc;
}

static int refuse(struct st_err *err)
{
    st_err_set(err, ST_ERR_UNAUTHORIZED, "The console token is invalid, used or expired.");
    return -1;
}

int console_token_use(struct store_conn *c, const char *token, const char *kind,
                      struct console_target *t, struct st_err *err)
{
    struct store_stmt *s;
    char hash[65];
    int64_t now = st_now_us() / 1000000, n;
    int rc;

    memset(t, 0, sizeof(*t));
    /* 32 bytes of base64url: 43 characters; anything else was never ours. */
    if (!token || strlen(token) != 43 || !kind_ok(kind))
        return refuse(err);
    console_token_hash(token, hash);
    n = store_exec(c, err,
                   "UPDATE console_tokens SET used_at = ? WHERE token_hash = ? AND kind = ? AND"
                   " used_at IS NULL AND expires_at > ?",
                   STORE_ARGS(P(now), P(hash), P(kind), P(now)));
    if (n < 0)
        return -1;
    if (n == 0)
        return refuse(err);
    /* The server as it is now, and whether its asker still has access: a
     * role on the project it was scoped to, user and projects enabled. */
    s = store_query(c, err,
                    "SELECT s.id, s.host, s.power_state FROM console_tokens t"
                    " JOIN servers s ON s.id = t.server_id"
                    " JOIN projects sp ON sp.id = s.project_id AND sp.enabled = 1"
                    " JOIN projects tp ON tp.id = t.project_id AND tp.enabled = 1"
                    " JOIN users u ON u.id = t.user_id AND u.enabled = 1"
                    " WHERE t.token_hash = ? AND s.delete_requested = 0 AND EXISTS ("
                    "  SELECT 1 FROM role_assignments ra WHERE ra.type = 'UserProject' AND"
                    "  ra.actor_id = t.user_id AND ra.target_id = t.project_id)",
                    STORE_ARGS(P(hash)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        ST_IGNORE(st_snprintf(t->server_id, sizeof(t->server_id), "%s", store_text(s, 0)));
        ST_IGNORE(st_snprintf(t->host, sizeof(t->host), "%s",
                              store_text(s, 1) ? store_text(s, 1) : ""));
        ST_IGNORE(st_snprintf(t->kind, sizeof(t->kind), "%s", kind));
        t->power_state = (int) store_int(s, 2);
    }
    store_done(s);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return refuse(err);
    return 0;
}

int console_revoke(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s;
    int rc;

    if (store_exec(c, err, "DELETE FROM console_tokens WHERE server_id = ?",
                   STORE_ARGS(P(server_id))) < 0)
        return -1;
    s = store_query(c, err, "SELECT DISTINCT host FROM console_sessions WHERE server_id = ?",
                    STORE_ARGS(P(server_id)));
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0) {
        char host[256];
        if (st_snprintf(host, sizeof(host), "%s", store_text(s, 0)) < 0)
            continue;
        if (revision_bump(c, host, err) < 0) {
            /* A host that is gone has no agent to tell. */
            if (err->kind != ST_ERR_NOT_FOUND) {
                rc = -1;
                break;
            }
            st_err_clear(err);
        }
    }
    store_done(s);
    if (rc < 0)
        return -1;
    return store_exec(c, err, "DELETE FROM console_sessions WHERE server_id = ?",
                      STORE_ARGS(P(server_id))) < 0
               ? -1
               : 0;
}

int console_tokens_prune(struct store_conn *c, struct st_err *err)
{
    return store_exec(c, err, "DELETE FROM console_tokens WHERE expires_at <= ?",
                      STORE_ARGS(P(st_now_us() / 1000000))) < 0
               ? -1
               : 0;
}

int console_session_add(struct store_conn *c, const char *id, const struct console_target *t,
                        struct st_err *err)
{
    if (store_begin(c, err) < 0)
        return -1;
    if (store_exec(c, err,
                   "INSERT INTO console_sessions (id, server_id, host, kind, created_at)"
                   " VALUES (?, ?, ?, ?, ?)",
                   STORE_ARGS(P(id), P(t->server_id), P(t->host), P(t->kind),
                              P(st_now_us() / 1000000))) < 0 ||
        revision_bump(c, t->host, err) < 0 || store_commit(c, err) < 0) {
        store_rollback(c);
        return -1;
    }
    return 0;
}

int console_session_del(struct store_conn *c, const char *id, const char *host,
                        struct st_err *err)
{
    int64_t n;
    if (store_begin(c, err) < 0)
        return -1;
    n = store_exec(c, err, "DELETE FROM console_sessions WHERE id = ?", STORE_ARGS(P(id)));
    if (n < 0 || (n > 0 && revision_bump(c, host, err) < 0) || store_commit(c, err) < 0) {
        store_rollback(c);
        return -1;
    }
    return 0;
}

int console_session_exists(struct store_conn *c, const char *id, const char *host,
                           struct st_err *err)
{
    int64_t v;
    return store_get_int(c, err, &v, "SELECT 1 FROM console_sessions WHERE id = ? AND host = ?",
                         STORE_ARGS(P(id), P(host)));
}

static json_t *session_row(struct store_conn *c, struct store_stmt *s, void *arg,
                           struct st_err *err)
{
    (void) c;
    (void) arg;
    (void) err;
    return json_pack("{s:s, s:s, s:s}", "session", store_text(s, 0), "server_id",
                     store_text(s, 1), "kind", store_text(s, 2));
}

json_t *console_sessions_desired(struct store_conn *c, const char *host, struct st_err *err)
{
    return store_collect(c, err, session_row, NULL,
                         "SELECT id, server_id, kind FROM console_sessions WHERE host = ?"
                         " ORDER BY created_at, id",
                         STORE_ARGS(P(host)));
}

int console_sessions_reset(struct store_conn *c, struct st_err *err)
{
    return store_exec(c, err, "DELETE FROM console_sessions", STORE_NOARGS) < 0 ? -1 : 0;
}

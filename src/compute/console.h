/*
 * console.h - remote console tokens and sessions (Nova's consoleauth), the
 * domain side of the console proxy in api/consoles.c.
 *
 * A token is 32 random bytes in base64url, handed to the caller once inside
 * the console URL; the store keeps only its SHA-256 (console_tokens,
 * migration 9), bound to one server and one console kind ("vnc" or
 * "serial"), with an expiry.  The first use consumes it in one UPDATE that
 * only an unused, unexpired row satisfies, so two racing uses cannot both
 * win.  At use the token is also refused when the user who asked for it lost
 * access: user or project disabled or gone, or no role left on the project.
 * Tokens of a server are deleted when it is deleted, rebuilt, resized or
 * moved (console_revoke(), called by those actions in their transaction).
 *
 * A session is a console being relayed (console_sessions): stratusd makes
 * one when a token is accepted and lists it in the host's desired state
 * ("consoles"), so the agent dials back for it; it is deleted when the relay
 * ends.  Rows of a controller that died are cleared at start
 * (console_sessions_reset).
 */
#ifndef ST_COMPUTE_CONSOLE_H
#define ST_COMPUTE_CONSOLE_H

#include <jansson.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "identity/policy.h"
#include "store/store.h"

#define CONSOLE_TOKEN_BYTES 32

/* What an accepted token is good for. */
struct console_target {
    char server_id[37];
    char kind[8];       /* "vnc" or "serial" */
    char host[256];     /* the server's host now, "" when it has none */
    int power_state;    /* Nova's power state: 1 running */
};

/* Makes a token for console 'kind' ("vnc" or "serial") of server
 * 'server_id', which 'ctx' must be allowed to act on (as for other
 * server actions) and which must be placed on a host and active (CONFLICT
 * otherwise, as Nova's "instance not ready").  The token text goes to
 * 'token' (base64url, 43 characters); it expires after 'ttl' seconds. */
int console_token_create(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                         const char *kind, int64_t ttl, struct st_buf *token, struct st_err *err)
    __attribute__((warn_unused_result));

/* Consumes token 'token' for a console of 'kind'.  Returns 0 with 't'
 * filled, or -1: UNAUTHORIZED for a token that is unknown, used, expired,
 * of another kind, revoked or whose owner lost access (one message for all:
 * the caller learns nothing about which). */
int console_token_use(struct store_conn *c, const char *token, const char *kind,
                      struct console_target *t, struct st_err *err)
    __attribute__((warn_unused_result));

/* Deletes the tokens and sessions of 'server_id' (inside the caller's
 * transaction) and bumps the host's revision when a session went, so its
 * agent drops the relay. */
int console_revoke(struct store_conn *c, const char *server_id, struct st_err *err)
    __attribute__((warn_unused_result));

/* Deletes expired tokens (housekeeping; no effect on validity). */
int console_tokens_prune(struct store_conn *c, struct st_err *err)
    __attribute__((warn_unused_result));

/* Records session 'id' for 't' and bumps the host's revision (its own
 * transaction); the caller calls revision_notify() after. */
int console_session_add(struct store_conn *c, const char *id, const struct console_target *t,
                        struct st_err *err) __attribute__((warn_unused_result));
/* Deletes session 'id' and bumps the revision of 'host' (own transaction). */
int console_session_del(struct store_conn *c, const char *id, const char *host,
                        struct st_err *err) __attribute__((warn_unused_result));
/* True (1) when session 'id' of 'host' exists, 0 when not, -1 on error. */
int console_session_exists(struct store_conn *c, const char *id, const char *host,
                           struct st_err *err) __attribute__((warn_unused_result));
/* The "consoles" list of 'host''s desired state: [{"session", "server_id",
 * "kind"}] (new reference), or NULL with err. */
json_t *console_sessions_desired(struct store_conn *c, const char *host, struct st_err *err);
/* Deletes every session (a controller starting: no relay survives it). */
int console_sessions_reset(struct store_conn *c, struct st_err *err)
    __attribute__((warn_unused_result));

/* The hex SHA-256 of a token's text, as stored (65 bytes with NUL). */
void console_token_hash(const char *token, char out[65]);

#endif

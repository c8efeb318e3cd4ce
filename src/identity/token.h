/*
 * token.h - stateless tokens: encrypted and authenticated with AES-256-GCM
 * under keys kept in the data directory (the idea of Keystone's Fernet
 * tokens, with an AEAD).
 *
 * Wire form: base64url( 'S' | version | key id (4, big-endian) | nonce (12) |
 * ciphertext | tag (16) ); the first six bytes are authenticated as AAD.
 * Keys are files DIR/<n> holding 32 random bytes in base64, mode 0600.  The
 * highest-numbered key signs new tokens; every key present validates, so a
 * rotation (token_keys_rotate) logs nobody out until the oldest key is
 * pruned.  A token's expiry and revocation are checked by the identity layer.
 */
#ifndef ST_TOKEN_H
#define ST_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define TOKEN_ID_MAX 64 /* user and scope ids: at most 64 bytes */

enum token_scope { TOKEN_UNSCOPED = 0, TOKEN_PROJECT = 1, TOKEN_DOMAIN = 2 };

struct token {
    unsigned methods;           /* AUTH_M_* bits */
    int64_t issued_at;          /* epoch microseconds */
    int64_t expires_at;
    unsigned char audit_id[16]; /* random, identifies this token */
    bool has_parent;            /* rescoped: the original token's audit id */
    unsigned char parent_audit_id[16];
    char user_id[TOKEN_ID_MAX + 1];
    enum token_scope scope;
    char scope_id[TOKEN_ID_MAX + 1]; /* project or domain id */
};

struct token_keys;

/* Loads every key of 'dir'; NOT_FOUND if there is none. */
struct token_keys *token_keys_load(const char *dir, struct st_err *err);
void token_keys_free(struct token_keys *keys);
int token_keys_count(const struct token_keys *keys);
uint32_t token_keys_primary(const struct token_keys *keys);
/* Creates 'dir' and its first key unless a key exists.  Idempotent. */
int token_keys_setup(const char *dir, struct st_err *err) __attribute__((warn_unused_result));
/* Adds a new primary key and deletes the oldest beyond 'keep' (>= 2). */
int token_keys_rotate(const char *dir, int keep, struct st_err *err)
    __attribute__((warn_unused_result));

/* Encrypts 't' under the primary key and appends the token text to 'out'. */
int token_encode(const struct token_keys *keys, const struct token *t, struct st_buf *out,
                 struct st_err *err) __attribute__((warn_unused_result));
/* Decrypts and authenticates 'text'.  UNAUTHORIZED for anything malformed,
 * tampered with, or made with a key not held (no detail is given out).
 * Expiry is not checked here. */
int token_decode(const struct token_keys *keys, const char *text, struct token *t,
                 struct st_err *err) __attribute__((warn_unused_result));
/* True when 'text' names a key id absent from 'keys' (a reload may help). */
bool token_unknown_key(const struct token_keys *keys, const char *text);

#endif

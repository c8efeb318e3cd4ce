/*
 * keypair.h - Nova keypairs: per-user SSH public keys (and x509
 * certificates) that servers get injected at boot.
 *
 * Two halves.  The key half is pure and knows no store: it parses an OpenSSH
 * public key line ("ssh-ed25519 AAAA... comment") by decoding its base64
 * blob and checking the inner type string, every length and the key itself
 * with OpenSSL (RSA of 1024 to 16384 bits, Ed25519, ECDSA on P-256, P-384 and
 * P-521), and computes the fingerprint exactly as Nova does: the MD5 of the
 * decoded blob as colon-separated hex (x509: the SHA-1 of the DER
 * certificate).  It also generates keys: an RSA 2048 key (Nova before 2.92)
 * or a self-signed client certificate (type x509).
 *
 * The store half keeps keypairs per user, named uniquely per user.  Only the
 * public key is stored; a generated private key is returned once.  A user
 * sees and changes only its own keypairs; an admin may name another user.
 *
 * Keypairs come back as jansson objects with every member the API might show
 * ("id", "name", "user_id", "type", "public_key", "fingerprint",
 * "created_at", and "private_key" right after generation); the API layer
 * picks those its microversion shows.  Every json_t * returned is a new
 * reference for the caller; NULL or -1 always comes with 'err' set.
 */
#ifndef ST_KEYPAIR_H
#define ST_KEYPAIR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "identity/policy.h"
#include "store/store.h"

#define KEYPAIR_NAME_MAX 255
#define KEYPAIR_PUBLIC_KEY_MAX 16384 /* bytes of a public key or certificate */
#define KEYPAIR_PER_USER_MAX 100     /* Nova's default key_pairs quota */
#define KEYPAIR_LIST_MAX 1000        /* Nova's [api] max_limit */
#define KEYPAIR_FP_MAX 64            /* SHA-1 as "xx:" * 20, and the NUL */

/* What a parsed public key is. */
struct keypair_pubkey {
    char alg[32];                     /* "ssh-rsa", ..., or "x509" */
    int bits;                         /* key size in bits */
    char fingerprint[KEYPAIR_FP_MAX]; /* Nova's form, lowercase hex pairs */
};

/* Parses the OpenSSH public key line 'line' (type, base64 blob, optional
 * comment; a trailing newline is fine) and fills 'out'.  Returns -1 with
 * BAD_REQUEST "Keypair data is invalid: ..." for anything else. */
int keypair_parse_ssh(const char *line, struct keypair_pubkey *out, struct st_err *err)
    __attribute__((warn_unused_result));
/* Parses a PEM X.509 certificate; the fingerprint is its SHA-1. */
int keypair_parse_x509(const char *pem, struct keypair_pubkey *out, struct st_err *err)
    __attribute__((warn_unused_result));

/* Generates an RSA key of 'bits' bits: appends the private key in PEM
 * ("BEGIN RSA PRIVATE KEY", as Nova's paramiko wrote it) to 'private_pem' and
 * the OpenSSH public key line, with the comment 'comment', to 'public_line'. */
int keypair_generate_ssh(int bits, const char *comment, struct st_buf *private_pem,
                         struct st_buf *public_line, struct st_err *err)
    __attribute__((warn_unused_result));
/* Generates a self-signed client certificate for 'user_id' (CN=user_id,
 * UPN user_id@localhost, ten years, RSA 2048) as Nova does for type x509:
 * the PKCS#8 private key and the certificate, both PEM. */
int keypair_generate_x509(const char *user_id, struct st_buf *private_pem,
                          struct st_buf *cert_pem, struct st_err *err)
    __attribute__((warn_unused_result));

/* Nova's name rule before 2.92: 1 to 255 of [A-Za-z0-9_- ], not starting or
 * ending with a space.  BAD_REQUEST with Nova's message otherwise. */
int keypair_check_name(const char *name, struct st_err *err) __attribute__((warn_unused_result));

/* A create or import request. */
struct keypair_req {
    const char *user_id;    /* owner; NULL for the caller (others: admin only) */
    const char *name;       /* checked by keypair_check_name() */
    const char *type;       /* "ssh" or "x509"; NULL for "ssh" */
    const char *public_key; /* NULL: generate a key */
};

/* Imports or generates a keypair.  CONFLICT when the owner has one of that
 * name, OVER_QUOTA past KEYPAIR_PER_USER_MAX.  Returns the new keypair, with
 * "private_key" when one was generated. */
json_t *keypair_create(struct store_conn *c, const struct auth_ctx *ctx,
                       const struct keypair_req *req, struct st_err *err);
/* The keypair 'name' of 'user_id' (NULL: the caller); NOT_FOUND. */
json_t *keypair_get(struct store_conn *c, const struct auth_ctx *ctx, const char *user_id,
                    const char *name, struct st_err *err);
/* The keypairs of 'user_id' (NULL: the caller) ordered by name, at most
 * 'limit' (< 0: all) after the one named 'marker' (NULL: from the start;
 * BAD_REQUEST when it does not exist).  Returns a new array. */
json_t *keypair_list(struct store_conn *c, const struct auth_ctx *ctx, const char *user_id,
                     int limit, const char *marker, struct st_err *err);
int keypair_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *user_id,
                   const char *name, struct st_err *err) __attribute__((warn_unused_result));

#endif

/*
 * password.h - password hashing with crypt(3) from libxcrypt: yescrypt by
 * default ("$y$"), bcrypt ("$2b$") accepted for verification.  Passwords are
 * never logged or stored in clear.
 */
#ifndef ST_PASSWORD_H
#define ST_PASSWORD_H

#include <stdbool.h>

#include "common/buf.h"
#include "common/err.h"

#define PASSWORD_MAX_BYTES 511

/* Hashes 'password' with a fresh salt; 'cost' is yescrypt's cost (1-11),
 * 0 for libxcrypt's default.  Appends the hash to 'out'. */
int password_hash(const char *password, int cost, struct st_buf *out, struct st_err *err)
    __attribute__((warn_unused_result));
/* True when 'password' matches 'hash'.  Compares in constant time.  A NULL or
 * malformed hash never matches (but still costs a hash, so that an unknown
 * user takes as long as a wrong password). */
bool password_verify(const char *password, const char *hash);

#endif

/*
 * internal.h - what the files of the identity module share with one another
 * and with nobody else: the members of the identity handle, the write epoch
 * that invalidates cached validations, and a few helpers.
 */
#ifndef ST_IDENTITY_INTERNAL_H
#define ST_IDENTITY_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "identity/identity.h"
#include "store/store.h"

struct cached_token; /* identity.c */
struct token_keys;   /* identity/token.h */

struct identity {
    struct store *st;
    char *key_dir;
    int64_t ttl_us;
    int hash_cost;
    pthread_rwlock_t lock; /* guards 'keys' */
    struct token_keys *keys;
    int64_t last_reload_ns;
    pthread_mutex_t cache_lock;
    struct cached_token *cache; /* VALIDATION_CACHE_SLOTS, allocated on first use */
};

/* identity.c: invalidates every cached validation.  Every identity write of
 * this process calls it after the write. */
void idn_changed(void);
/* identity.c: copies 'src' (NULL: "") into 'dst' of size 'n'; an over-long
 * 'src' leaves "" rather than a cut value. */
void idn_copy_str(char *dst, size_t n, const char *src);
/* identity.c: revokes every token of 'user_id' issued until now (a new
 * password), inside the caller's transaction. */
int idn_revoke_user(struct identity *idn, struct store_conn *c, const char *user_id,
                    struct st_err *err) __attribute__((warn_unused_result));

/* resource.c: the rows of kind 'kind' that the SQL tail 'where' selects
 * ("WHERE ... ORDER BY ...", with 'n' bound 'params'), each in the kind's
 * representation: a new array, or NULL with 'err'. */
json_t *idn_select(struct store_conn *c, struct st_err *err, enum idn_kind kind, const char *where,
                   const struct store_param *params, size_t n);

#endif

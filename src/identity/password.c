/* password.c - crypt(3) wrappers. */
#include "identity/password.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

/* Verifying against this makes a missing user cost as much as a real one.
 * Made once, at first use, with the default cost. */
static char dummy_hash[256];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    struct st_buf b = ST_BUF_INIT;
    if (password_hash("stratus-no-such-user", 0, &b, NULL) == 0 && b.len < sizeof(dummy_hash))
        memcpy(dummy_hash, b.buf, b.len + 1);
    st_buf_release(&b);
}

int password_hash(const char *password, int cost, struct st_buf *out, struct st_err *err)
{
    struct crypt_data *cd;
    char *setting;
    const char *h;
    int rc = -1;

    /* libxcrypt refuses phrases of 512 bytes or more. */
    if (strlen(password) > PASSWORD_MAX_BYTES) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "The password is longer than %d bytes",
                   PASSWORD_MAX_BYTES);
        return -1;
    }
    setting = crypt_gensalt_ra("$y$", (unsigned long) cost, NULL, 0);
    if (!setting) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot generate a password salt");
        return -1;
    }
    cd = calloc(1, sizeof(*cd));
    if (!cd) {
        free(setting);
        st_err_sys(err, ENOMEM, ST_ERR_INTERNAL, "cannot hash a password");
        return -1;
    }
    h = crypt_r(password, setting, cd);
    if (!h || h[0] == '*') {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot hash a password");
    } else {
        st_buf_adds(out, h);
        rc = 0;
    }
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    free(setting);
    return rc;
}

bool password_verify(const char *password, const char *hash)
{
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    bool real = hash && hash[0] == '$';
    bool ok = false;
    const char *h;

    if (!cd)
        return false;
    if (!real)
        pthread_once(&dummy_once, make_dummy);
    h = crypt_r(password, real ? hash : dummy_hash, cd);
    if (real && h && h[0] != '*' && strlen(h) == strlen(hash))
        ok = CRYPTO_memcmp(h, hash, strlen(hash)) == 0;
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ok;
}

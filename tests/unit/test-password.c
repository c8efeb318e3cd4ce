/* test-password.c - crypt(3) hashing and verification. */
#include "testutil.h"

#include <crypt.h>

#include "identity/password.h"
#include "common/banned.h"

/* yescrypt's lowest cost keeps the suite fast; t06 covers the default. */
#define COST 1

static char *hash(const char *pw)
{
    struct st_buf b = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    if (password_hash(pw, COST, &b, &err) < 0)
        fail_msg("%s", err.msg);
    return st_buf_detach(&b, NULL);
}

static void t01_hash_and_verify(void **state)
{
    char *h = hash("correct horse battery staple");
    (void) state;
    assert_true(!strncmp(h, "$y$", 3));
    assert_null(strstr(h, "correct")); /* never the password itself */
    assert_true(password_verify("correct horse battery staple", h));
    free(h);
}

static void t02_wrong_password(void **state)
{
    static const char *const wrong[] = {
        "", "Secret", "secret ", " secret", "secre", "secret\n", "secretsecret", "SECRET",
    };
    char *h = hash("secret");
    (void) state;
    assert_true(password_verify("secret", h));
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        if (password_verify(wrong[i], h))
            fail_msg("'%s' matched the hash of 'secret'", wrong[i]);
    }
    free(h);
}

static void t03_null_and_garbage_hash_never_match(void **state)
{
    static const char *const garbage[] = {
        "", "*", "!", "!!", "*0", "*1", "$", "$y$", "$y$j9T$", "$y$garbage",
        "$1$", "$2b$", "$6$salt", "plain", "secret", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    };
    char *h = hash("secret");
    char *truncated = strdup(h);
    (void) state;
    assert_false(password_verify("secret", NULL));
    assert_false(password_verify("", NULL));
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        if (password_verify("secret", garbage[i]) || password_verify("", garbage[i]) ||
            password_verify(garbage[i], garbage[i]))
            fail_msg("garbage hash '%s' matched", garbage[i]);
    }
    /* a real hash cut short, or with its last character changed */
    truncated[strlen(truncated) - 1] = '\0';
    assert_false(password_verify("secret", truncated));
    truncated[strlen(truncated) - 1] ^= 1;
    assert_false(password_verify("secret", truncated));
    free(truncated);
    free(h);
}

static void t04_salted(void **state)
{
    char *a = hash("same password");
    char *b = hash("same password");
    (void) state;
    assert_string_not_equal(a, b);
    assert_true(password_verify("same password", a));
    assert_true(password_verify("same password", b));
    free(a);
    free(b);
}

static void t05_unusual_passwords(void **state)
{
    static const char *const pws[] = {
        "",                               /* empty */
        "p\xc3\xa4ssw\xc3\xb6rd \xe2\x9c\x93", /* UTF-8 */
        "'; DROP TABLE users; --",
        "$y$j9T$looks$like$a$hash",
    };
    char longpw[CRYPT_MAX_PASSPHRASE_SIZE];
    (void) state;
    for (size_t i = 0; i < sizeof(pws) / sizeof(pws[0]); i++) {
        char *h = hash(pws[i]);
        assert_true(password_verify(pws[i], h));
        assert_false(password_verify("other", h));
        free(h);
    }
    /* the longest crypt(3) takes, and every character counts */
    memset(longpw, 'a', sizeof(longpw) - 1);
    longpw[sizeof(longpw) - 1] = '\0';
    {
        char *h = hash(longpw);
        assert_true(password_verify(longpw, h));
        longpw[sizeof(longpw) - 2] = 'b';
        assert_false(password_verify(longpw, h));
        free(h);
    }
}

static void t06_limits_and_cost(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    char big[4098];
    (void) state;
    memset(big, 'x', 4097);
    big[4097] = '\0';
    assert_int_equal(password_hash(big, COST, &b, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_int_equal(b.len, 0);

    /* an impossible cost is an error, not a weak hash */
    st_err_clear(&err);
    assert_int_equal(password_hash("pw", 99, &b, &err), -1);
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    assert_int_equal(b.len, 0);

    /* the default cost (0) and an explicit one give different parameters */
    st_err_clear(&err);
    assert_int_equal(password_hash("pw", 0, &b, &err), 0);
    assert_true(password_verify("pw", b.buf));
    {
        char *low = hash("pw");
        /* "$y$<params>$": the params field differs with the cost */
        assert_true(strncmp(low, b.buf, (size_t) (strchr(b.buf + 3, '$') - b.buf)) != 0);
        free(low);
    }
    /* appended to what is in the buffer */
    {
        size_t before = b.len;
        assert_int_equal(password_hash("pw", COST, &b, &err), 0);
        assert_true(b.len > before);
        assert_true(password_verify("pw", b.buf + before));
    }
    st_buf_release(&b);
}

static void t07_bcrypt_accepted(void **state)
{
    /* password.h: bcrypt hashes made elsewhere still verify */
    char *setting = crypt_gensalt_ra("$2b$", 4, NULL, 0);
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    const char *h;
    (void) state;
    assert_non_null(setting);
    assert_non_null(cd);
    h = crypt_r("bcrypt-pw", setting, cd);
    assert_non_null(h);
    assert_true(!strncmp(h, "$2b$", 4));
    assert_true(password_verify("bcrypt-pw", h));
    assert_false(password_verify("bcrypt-PW", h));
    free(setting);
    free(cd);
}

/*
 * KNOWN BUG: src/identity/password.c password_hash() accepts passwords up
 * to 4096 characters (and so do the API's jget_str limits in
 * src/identity/{identity,resource}.c and src/api/identity.c), but libxcrypt
 * refuses phrases of CRYPT_MAX_PASSPHRASE_SIZE (512) bytes or more with ERANGE,
 * which comes back as ST_ERR_INTERNAL: a user creating an account or
 * changing a password with a 600-character password gets a 500.  Fix:
 * either limit passwords to CRYPT_MAX_PASSPHRASE_SIZE - 1 with a
 * BAD_REQUEST everywhere, or pre-hash longer ones (HMAC-SHA-256, base64)
 * before crypt_r() in both password_hash() and password_verify().
 */
/* libxcrypt hashes at most 511 bytes: the longest works, one more is a
 * client error, never an internal one. */
static void t08_password_length_limit(void **state)
{
    static char pw[PASSWORD_MAX_BYTES + 2];
    struct st_buf b = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    memset(pw, 'p', PASSWORD_MAX_BYTES);
    if (password_hash(pw, COST, &b, &err) < 0)
        fail_msg("a %d-byte password: %s (kind %s)", PASSWORD_MAX_BYTES, err.msg,
                 st_err_name(err.kind));
    assert_true(password_verify(pw, b.buf));
    st_buf_reset(&b);
    pw[PASSWORD_MAX_BYTES] = 'p';
    assert_int_equal(password_hash(pw, COST, &b, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_buf_release(&b);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_hash_and_verify),
        cmocka_unit_test(t02_wrong_password),
        cmocka_unit_test(t03_null_and_garbage_hash_never_match),
        cmocka_unit_test(t04_salted),
        cmocka_unit_test(t05_unusual_passwords),
        cmocka_unit_test(t06_limits_and_cost),
        cmocka_unit_test(t07_bcrypt_accepted),
        cmocka_unit_test(t08_password_length_limit),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("password", tests, known_bugs);
}

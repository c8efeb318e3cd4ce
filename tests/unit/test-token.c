/* test-token.c - AES-GCM tokens: every field survives a round trip, any
 * change to a token is refused, and the key directory rotates. */
#include "testutil.h"

#include "common/util.h"
#include "identity/policy.h"
#include "identity/token.h"
#include "common/banned.h"

struct fixture {
    char *dir;      /* scratch */
    char keys[4096]; /* DIR/keys: the key repository */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct st_err err = ST_ERR_INIT;
    assert_non_null(f);
    f->dir = tu_mkdtemp();
    assert_non_null(f->dir);
    snprintf(f->keys, sizeof(f->keys), "%s/keys", f->dir);
    if (token_keys_setup(f->keys, &err) < 0)
        fail_msg("%s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static struct token_keys *load(const char *dir)
{
    struct st_err err = ST_ERR_INIT;
    struct token_keys *k = token_keys_load(dir, &err);
    if (!k)
        fail_msg("%s", err.msg);
    return k;
}

static void sample(struct token *t)
{
    memset(t, 0, sizeof(*t));
    t->methods = AUTH_M_PASSWORD | AUTH_M_TOKEN;
    t->issued_at = 1704164645123456LL;
    t->expires_at = 1704168245123456LL;
    st_random(t->audit_id, sizeof(t->audit_id));
    t->has_parent = true;
    st_random(t->parent_audit_id, sizeof(t->parent_audit_id));
    /* ids at their longest */
    memset(t->user_id, 'u', TOKEN_ID_MAX);
    t->user_id[TOKEN_ID_MAX] = '\0';
    t->scope = TOKEN_PROJECT;
    memset(t->scope_id, 'p', TOKEN_ID_MAX);
    t->scope_id[TOKEN_ID_MAX] = '\0';
}

static void encode(const struct token_keys *k, const struct token *t, struct st_buf *out)
{
    struct st_err err = ST_ERR_INIT;
    if (token_encode(k, t, out, &err) < 0)
        fail_msg("%s", err.msg);
}

static void assert_same_token(const struct token *a, const struct token *b)
{
    assert_int_equal(a->methods, b->methods);
    assert_true(a->issued_at == b->issued_at);
    assert_true(a->expires_at == b->expires_at);
    assert_memory_equal(a->audit_id, b->audit_id, 16);
    assert_int_equal(a->has_parent, b->has_parent);
    if (a->has_parent)
        assert_memory_equal(a->parent_audit_id, b->parent_audit_id, 16);
    assert_string_equal(a->user_id, b->user_id);
    assert_int_equal(a->scope, b->scope);
    assert_string_equal(a->scope_id, b->scope_id);
}

/* Decoding must fail, with UNAUTHORIZED and a zeroed token. */
static void assert_refused(const struct token_keys *k, const char *text)
{
    struct token t, zero;
    struct st_err err = ST_ERR_INIT;
    memset(&t, 0x5a, sizeof(t));
    memset(&zero, 0, sizeof(zero));
    if (token_decode(k, text, &t, &err) == 0)
        fail_msg("accepted token '%s'", text);
    assert_int_equal(err.kind, ST_ERR_UNAUTHORIZED);
    assert_string_equal(err.msg, "The request you have made requires authentication.");
    assert_memory_equal(&t, &zero, sizeof(t));
}

static void t01_setup_creates_key(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct st_buf k1 = ST_BUF_INIT, k2 = ST_BUF_INIT, raw = ST_BUF_INIT;
    char path[4200];
    struct token_keys *k;
    (void) state;
    snprintf(path, sizeof(path), "%s/1", f->keys);
    assert_int_equal(tu_mode(f->keys), 0700);
    assert_int_equal(tu_mode(path), 0600);
    assert_int_equal(tu_count_entries(f->keys), 1);
    assert_int_equal(st_read_file(path, 1024, &k1, &err), 0);
    /* 32 bytes of base64 and a newline */
    assert_int_equal(k1.len, 45);
    assert_int_equal(k1.buf[44], '\n');
    assert_int_equal(st_base64_decode(k1.buf, k1.len, &raw), 0);
    assert_int_equal(raw.len, 32);

    /* idempotent: the key is not replaced */
    assert_int_equal(token_keys_setup(f->keys, &err), 0);
    assert_int_equal(st_read_file(path, 1024, &k2, &err), 0);
    assert_string_equal(k1.buf, k2.buf);
    assert_int_equal(tu_count_entries(f->keys), 1);

    k = load(f->keys);
    assert_int_equal(token_keys_count(k), 1);
    assert_int_equal(token_keys_primary(k), 1);
    token_keys_free(k);
    token_keys_free(NULL);
    st_buf_release(&k1);
    st_buf_release(&k2);
    st_buf_release(&raw);
}

static void t02_round_trip_every_field(void **state)
{
    struct fixture *f = *state;
    struct token_keys *k = load(f->keys);
    struct token in, out;
    struct st_err err = ST_ERR_INIT;
    (void) state;

    /* a rescoped project token, ids at the maximum length */
    sample(&in);
    {
        struct st_buf text = ST_BUF_INIT;
        encode(k, &in, &text);
        assert_true(text.len <= 1024);
        assert_null(strpbrk(text.buf, "+/=")); /* base64url, unpadded: header-safe */
        assert_int_equal(token_decode(k, text.buf, &out, &err), 0);
        assert_same_token(&in, &out);
        st_buf_release(&text);
    }

    /* unscoped, no parent, one method, negative and extreme times */
    memset(&in, 0, sizeof(in));
    in.methods = AUTH_M_PASSWORD;
    in.issued_at = -1;
    in.expires_at = INT64_MAX;
    st_random(in.audit_id, 16);
    snprintf(in.user_id, sizeof(in.user_id), "%s", "0123456789abcdef0123456789abcdef");
    in.scope = TOKEN_UNSCOPED;
    {
        struct st_buf text = ST_BUF_INIT;
        encode(k, &in, &text);
        assert_int_equal(token_decode(k, text.buf, &out, &err), 0);
        assert_same_token(&in, &out);
        assert_false(out.has_parent);
        assert_string_equal(out.scope_id, "");
        st_buf_release(&text);
    }

    /* domain scope */
    in.scope = TOKEN_DOMAIN;
    snprintf(in.scope_id, sizeof(in.scope_id), "%s", "default");
    in.issued_at = INT64_MIN;
    {
        struct st_buf text = ST_BUF_INIT;
        encode(k, &in, &text);
        assert_int_equal(token_decode(k, text.buf, &out, &err), 0);
        assert_same_token(&in, &out);
        st_buf_release(&text);
    }
    assert_false(st_err_is_set(&err));
    token_keys_free(k);
}

static void t03_tokens_are_unique(void **state)
{
    struct fixture *f = *state;
    struct token_keys *k = load(f->keys);
    struct st_buf a = ST_BUF_INIT, b = ST_BUF_INIT;
    struct token t;
    (void) state;
    sample(&t);
    encode(k, &t, &a);
    encode(k, &t, &b);
    /* the same content under a fresh nonce */
    assert_int_equal(a.len, b.len);
    assert_string_not_equal(a.buf, b.buf);
    token_keys_free(k);
    st_buf_release(&a);
    st_buf_release(&b);
}

/* Authentic tokens whose content is impossible are refused too: the checks
 * after decryption are the second line. */
static void t04_decode_checks_content(void **state)
{
    struct fixture *f = *state;
    struct token_keys *k = load(f->keys);
    struct st_buf text = ST_BUF_INIT;
    struct token t;
    (void) state;
    sample(&t);
    t.user_id[0] = '\0'; /* no user */
    encode(k, &t, &text);
    assert_refused(k, text.buf);

    st_buf_reset(&text);
    sample(&t);
    t.scope = (enum token_scope) 3; /* no such scope */
    encode(k, &t, &text);
    assert_refused(k, text.buf);
    token_keys_free(k);
    st_buf_release(&text);
}

static void t05_tampering_is_refused(void **state)
{
    struct fixture *f = *state;
    struct token_keys *k = load(f->keys);
    struct st_buf text = ST_BUF_INIT, raw = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct token t, out;
    static const unsigned char flips[] = {0x01, 0x80, 0xff};
    (void) state;
    sample(&t);
    encode(k, &t, &text);
    assert_int_equal(st_base64url_decode(text.buf, text.len, &raw), 0);
    /* header 'S', version 1, key id 1 */
    assert_int_equal((unsigned char) raw.buf[0], 'S');
    assert_int_equal((unsigned char) raw.buf[1], 1);
    assert_memory_equal(raw.buf + 2, "\0\0\0\1", 4);
    /* the untouched token decodes: the re-encoding itself is faithful */
    {
        struct st_buf again = ST_BUF_INIT;
        st_base64url_encode(raw.buf, raw.len, &again);
        assert_string_equal(again.buf, text.buf);
        assert_int_equal(token_decode(k, again.buf, &out, &err), 0);
        st_buf_release(&again);
    }
    /* every byte - header, nonce, ciphertext, tag - is authenticated */
    for (size_t i = 0; i < raw.len; i++) {
        for (size_t j = 0; j < ST_ARRAY_SIZE(flips); j++) {
            struct st_buf forged = ST_BUF_INIT;
            raw.buf[i] ^= (char) flips[j];
            st_base64url_encode(raw.buf, raw.len, &forged);
            assert_refused(k, forged.buf);
            raw.buf[i] ^= (char) flips[j];
            st_buf_release(&forged);
        }
    }
    token_keys_free(k);
    st_buf_release(&text);
    st_buf_release(&raw);
}

static void t06_truncated_and_garbage(void **state)
{
    struct fixture *f = *state;
    struct token_keys *k = load(f->keys);
    struct st_buf text = ST_BUF_INIT, raw = ST_BUF_INIT, s = ST_BUF_INIT;
    struct token t;
    static const char *const garbage[] = {
        "", "x", "gAAAAAB", "!!!!", "S", "not a token at all", "U0EAAAAB",
        "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo",
    };
    (void) state;
    sample(&t);
    encode(k, &t, &text);

    /* every prefix of a good token */
    for (size_t n = 0; n < text.len; n++) {
        char *p = st_xstrndup(text.buf, n);
        assert_refused(k, p);
        free(p);
    }
    /* something added at the end */
    st_buf_addf(&s, "%sA", text.buf);
    assert_refused(k, s.buf);
    st_buf_reset(&s);
    st_buf_addf(&s, "%s%s", text.buf, text.buf);
    assert_refused(k, s.buf);
    /* raw bytes cut at the end, re-encoded (the tag is short) */
    assert_int_equal(st_base64url_decode(text.buf, text.len, &raw), 0);
    for (size_t n = 0; n < raw.len; n++) {
        st_buf_reset(&s);
        st_base64url_encode(raw.buf, n, &s);
        assert_refused(k, s.buf);
    }
    for (size_t i = 0; i < ST_ARRAY_SIZE(garbage); i++)
        assert_refused(k, garbage[i]);
    /* long input */
    st_buf_reset(&s);
    for (int i = 0; i < 5000; i++)
        st_buf_addch(&s, 'A');
    assert_refused(k, s.buf);
    /* random bytes behind a valid header */
    for (int i = 0; i < 200; i++) {
        unsigned char junk[100];
        st_random(junk, sizeof(junk));
        memcpy(junk, "S\1\0\0\0\1", 6);
        st_buf_reset(&s);
        st_base64url_encode(junk, 6 + (size_t) (i % 94), &s);
        assert_refused(k, s.buf);
    }
    token_keys_free(k);
    st_buf_release(&text);
    st_buf_release(&raw);
    st_buf_release(&s);
}

static void t07_unknown_key(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    char other[4200];
    struct token_keys *mine, *theirs;
    struct st_buf text = ST_BUF_INIT;
    struct token t, out;
    (void) state;
    /* another repository: also key id 1, but a different key */
    snprintf(other, sizeof(other), "%s/other", f->dir);
    assert_int_equal(token_keys_setup(other, &err), 0);
    mine = load(f->keys);
    theirs = load(other);
    sample(&t);
    encode(theirs, &t, &text);
    assert_int_equal(token_decode(theirs, text.buf, &out, &err), 0);
    assert_refused(mine, text.buf);
    assert_false(token_unknown_key(mine, text.buf)); /* id 1 is known, just wrong */
    st_buf_reset(&text);

    /* a key id this process does not hold */
    assert_int_equal(token_keys_rotate(other, 3, &err), 0);
    token_keys_free(theirs);
    theirs = load(other);
    assert_int_equal(token_keys_primary(theirs), 2);
    encode(theirs, &t, &text);
    assert_refused(mine, text.buf);
    assert_true(token_unknown_key(mine, text.buf));
    assert_false(token_unknown_key(theirs, text.buf));
    assert_false(token_unknown_key(mine, "garbage"));
    token_keys_free(mine);
    token_keys_free(theirs);
    st_buf_release(&text);
}

static void t08_rotation(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct st_buf t1 = ST_BUF_INIT, t2 = ST_BUF_INIT, t4 = ST_BUF_INIT, raw = ST_BUF_INIT;
    struct token_keys *k;
    struct token t, out;
    (void) state;
    sample(&t);
    k = load(f->keys);
    encode(k, &t, &t1); /* made with key 1 */
    token_keys_free(k);

    assert_int_equal(token_keys_rotate(f->keys, 3, &err), 0);
    k = load(f->keys);
    assert_int_equal(token_keys_count(k), 2);
    assert_int_equal(token_keys_primary(k), 2);
    /* old tokens still valid */
    assert_int_equal(token_decode(k, t1.buf, &out, &err), 0);
    assert_same_token(&t, &out);
    /* new tokens use the newest key */
    encode(k, &t, &t2);
    assert_int_equal(st_base64url_decode(t2.buf, t2.len, &raw), 0);
    assert_memory_equal(raw.buf + 2, "\0\0\0\2", 4);
    token_keys_free(k);

    assert_int_equal(token_keys_rotate(f->keys, 3, &err), 0);
    k = load(f->keys);
    assert_int_equal(token_keys_count(k), 3);
    assert_int_equal(token_decode(k, t1.buf, &out, &err), 0);
    token_keys_free(k);

    /* a third rotation prunes key 1: its tokens stop validating */
    assert_int_equal(token_keys_rotate(f->keys, 3, &err), 0);
    k = load(f->keys);
    assert_int_equal(token_keys_count(k), 3);
    assert_int_equal(token_keys_primary(k), 4);
    assert_refused(k, t1.buf);
    assert_int_equal(token_decode(k, t2.buf, &out, &err), 0);
    encode(k, &t, &t4);
    st_buf_reset(&raw);
    assert_int_equal(st_base64url_decode(t4.buf, t4.len, &raw), 0);
    assert_memory_equal(raw.buf + 2, "\0\0\0\4", 4);
    assert_int_equal(tu_count_entries(f->keys), 3);
    token_keys_free(k);

    /* every key file is private; the directory too */
    for (int id = 2; id <= 4; id++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%d", f->keys, id);
        assert_int_equal(tu_mode(path), 0600);
    }
    assert_int_equal(tu_mode(f->keys), 0700);

    /* keep is at least 2 */
    assert_int_equal(token_keys_rotate(f->keys, 0, &err), 0);
    k = load(f->keys);
    assert_int_equal(token_keys_count(k), 2);
    assert_int_equal(token_keys_primary(k), 5);
    token_keys_free(k);
    st_buf_release(&t1);
    st_buf_release(&t2);
    st_buf_release(&t4);
    st_buf_release(&raw);
}

static void t09_key_mode_despite_umask(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    char dir[4200], path[4300];
    mode_t old = umask(0);
    (void) state;
    snprintf(dir, sizeof(dir), "%s/open-umask", f->dir);
    assert_int_equal(token_keys_setup(dir, &err), 0);
    assert_int_equal(token_keys_rotate(dir, 3, &err), 0);
    umask(old);
    snprintf(path, sizeof(path), "%s/1", dir);
    assert_int_equal(tu_mode(path), 0600);
    snprintf(path, sizeof(path), "%s/2", dir);
    assert_int_equal(tu_mode(path), 0600);
    assert_int_equal(tu_mode(dir), 0700);
}

static void t10_load_errors(void **state)
{
    struct fixture *f = *state;
    struct st_err err = ST_ERR_INIT;
    char dir[4200], path[4300];
    struct token_keys *k;
    (void) state;
    /* no directory, or no key in it */
    snprintf(dir, sizeof(dir), "%s/none", f->dir);
    assert_null(token_keys_load(dir, &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/README", dir);
    assert_int_equal(st_write_file(path, "x", 1, 0600, &err), 0);
    snprintf(path, sizeof(path), "%s/1.tmp.abcdef", dir);
    assert_int_equal(st_write_file(path, "x", 1, 0600, &err), 0);
    assert_null(token_keys_load(dir, &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);

    /* non-numeric files are ignored next to real keys */
    st_err_clear(&err);
    assert_int_equal(token_keys_setup(dir, &err), 0);
    k = load(dir);
    assert_int_equal(token_keys_count(k), 1);
    token_keys_free(k);

    /* a key that is not 32 bytes of base64 is an error naming it */
    snprintf(path, sizeof(path), "%s/7", dir);
    assert_int_equal(st_write_file(path, "c2hvcnQ=\n", 9, 0600, &err), 0);
    assert_null(token_keys_load(dir, &err));
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    assert_non_null(strstr(err.msg, path));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    static const struct CMUnitTest tests[] = {
        T(t01_setup_creates_key),      T(t02_round_trip_every_field),
        T(t03_tokens_are_unique),      T(t04_decode_checks_content),
        T(t05_tampering_is_refused),   T(t06_truncated_and_garbage),
        T(t07_unknown_key),            T(t08_rotation),
        T(t09_key_mode_despite_umask), T(t10_load_errors),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("token", tests, known_bugs);
}

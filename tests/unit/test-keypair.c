/* test-keypair.c - compute/keypair.h: OpenSSH public key parsing and Nova's
 * MD5 fingerprints for every key type, the refusal of garbage, of a blob
 * whose inner type differs, of short RSA keys and of points off the curve;
 * key and certificate generation; the name rule; and the per-user records
 * in a real (SQLite) store. */
#include "testutil.h"

#include "common/util.h"
#include "compute/keypair.h"
#include "store/store.h"
#include "common/banned.h"

/* Made with ssh-keygen; fingerprints from `ssh-keygen -l -E md5`. */
static const struct {
    const char *line, *alg, *fp;
    int bits;
} good[] = {
    {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICNu0MGeoHxflDyOubqyjilFzlzJq95SYNcHceDuSZ51 "
     "test@ed25519",
     "ssh-ed25519", "85:5a:28:00:d9:09:cf:a9:f7:65:8d:93:a6:02:df:ab", 256},
    {"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC3bCXvKELn2T6ciuLs82zL+dYF7+4FUun9Mb99e6yULxs1hTToQ"
     "HafUAFBY18gs+ftlH1moX7zLyH/6VkbyhKl0fIbYWV5UB+uq9NwUxC46f/QVW98hyfmDWD1m6zUQOvmRy5ULF05G8D"
     "fIf7O94hYkTDQXiGdBlwJ2jr7sgD4pBXCrNh7n95LqN70fupDui5JKa0leWaoAtTVG1HVlBW0cP89t26ZaG2Tj6PE6"
     "bWO0DtjXXlUl/WMGbjH3RpzEk04+aC4XShtZfa8ecMzcwZGeH0+aphME/Fzc+UoFB2xiJVN8virtnmBvsP/bCFz4e0"
     "JXyCe9w7zCyX4L2W6n5Vd test@rsa-2048",
     "ssh-rsa", "3e:c5:e3:92:55:81:ae:04:2c:42:46:dd:d9:ab:41:98", 2048},
    {"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC4DH99L5Dgqh/PCXvIbJFRV3J6Z1H+uDc1MGk4e2ElIfaqgqyR0"
     "UamMgL+eRsaZcW+v2wN8KuLRLKuBOQnXlyieK5UIkmreVcJ9wjuRDIRvcgZnX4aP43woYuOy+VvGu5nZtTVzumuLEy"
     "jZWgnfBdQ1wK2x6+B6IKWU6gK0zvjVw== test@rsa-1024",
     "ssh-rsa", "08:3a:a3:f5:20:9d:61:e3:a0:4f:fa:34:7a:cf:49:88", 1024},
    {"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEtBlevNJYOgP7NFB"
     "AOV7z3AFCNUc9iwHg9sVETtLCD88Dcu5Jdt13PTje+K8OHjhkPTiPOuxy3SZAYeuGXsZMI= test@ecdsa-256",
     "ecdsa-sha2-nistp256", "20:4e:31:fb:9d:e4:4b:aa:39:c7:28:dd:99:dc:99:dc", 256},
    {"ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBJoPbdK6us0nFDzuh"
     "FVwNcjoQzhfjRSz1Xv9gq0cJBf5DydydEC1mL1afxr8xz0Umzy+oh1Qc/BeVDE278LFZ1Jp5U8zBVv3d3/NP/KzVPC"
     "zdDYUjuW3Ii9w/9IEOUuYdQ== test@ecdsa-384",
     "ecdsa-sha2-nistp384", "68:c9:a1:d1:29:b9:14:b7:2c:40:3a:f4:e5:51:d0:07", 384},
    {"ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAAdEERWRYNfumph2"
     "wxL6T6Qm5t3PLi5qyl35y/grjzOIoGB2J7mSmwmwzo947RnkiYz1PS0jjCXYEtpxzTM1fCFwQFfPVj7dpiBi9Uw8LB"
     "rY2JmGoue5WkGrbM9NSrGIciW3b9KNOMvYEA2j1tuujxMIW8hh0LQyIUXDRsuAa9xqrJY9Q== test@ecdsa-521",
     "ecdsa-sha2-nistp521", "9c:ce:e8:6d:59:6e:e5:e0:b7:d5:f1:a9:a8:30:2d:ea", 521},
};

#define ED25519 0
#define RSA2048 1
#define P256 3

/* Made with python3-cryptography: RSA of 512 and 1016 bits. */
static const char rsa512[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAQQDBdDey1JJSbE8CneeDQJA4eZNX2em0WQ6NpsT/zBNgg6SA9acqxn5"
    "6crsUJ3VBRZIHVk0KR1fSFAVmz91hFtyh";
static const char rsa1016[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgAD3eDZqjE4QpvInSspxbfXASSstbAVQk0KtFwCa95K0ge7nBd8qmP3"
    "ex4wWYqxkJvl4VklqqRtZJaoM4/xI3cEdEheLuj29FcZdweYLkE5Y4YNVC8wdOPJeOPwOYSXzR2/HBlpXSHRFUepGdZ"
    "yRxjfNPf+zVhh00lWBsU4iMc4V";

static void assert_rejected(const char *line)
{
    struct keypair_pubkey k;
    struct st_err err = ST_ERR_INIT;
    if (keypair_parse_ssh(line, &k, &err) == 0)
        fail_msg("accepted: %s", line ? line : "(null)");
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "Keypair data is invalid"));
}

/* Decodes the blob of 'line', lets 'edit' change it, and re-encodes it
 * under the type 'type' (NULL: the same). */
static char *rebuild(const char *line, const char *type,
                     void (*edit)(struct st_buf *blob))
{
    struct st_buf blob = ST_BUF_INIT, out = ST_BUF_INIT;
    const char *b64 = strchr(line, ' ') + 1;
    size_t len = strcspn(b64, " ");
    assert_int_equal(st_base64_decode(b64, len, &blob), 0);
    if (edit)
        edit(&blob);
    if (type)
        st_buf_adds(&out, type);
    else
        st_buf_add(&out, line, (size_t) (b64 - 1 - line));
    st_buf_addch(&out, ' ');
    st_base64_encode(blob.buf, blob.len, &out);
    st_buf_release(&blob);
    return st_buf_detach(&out, NULL);
}

static void t01_parse_each_type(void **state)
{
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(good); i++) {
        struct keypair_pubkey k;
        struct st_err err = ST_ERR_INIT;
        if (keypair_parse_ssh(good[i].line, &k, &err) < 0)
            fail_msg("%s: %s", good[i].alg, err.msg);
        assert_string_equal(k.alg, good[i].alg);
        assert_string_equal(k.fingerprint, good[i].fp);
        assert_int_equal(k.bits, good[i].bits);
    }
}

static void t02_parse_layouts(void **state)
{
    struct keypair_pubkey k;
    struct st_err err = ST_ERR_INIT;
    char *s;
    (void) state;
    /* No comment, a trailing newline, tabs between the fields. */
    s = st_xasprintf("%.80s", good[ED25519].line);
    assert_int_equal(keypair_parse_ssh(s, &k, &err), 0);
    assert_string_equal(k.fingerprint, good[ED25519].fp);
    free(s);
    s = st_xasprintf("%s\n", good[ED25519].line);
    assert_int_equal(keypair_parse_ssh(s, &k, &err), 0);
    free(s);
    s = st_xasprintf("ssh-ed25519\t\t%s", strchr(good[ED25519].line, ' ') + 1);
    assert_int_equal(keypair_parse_ssh(s, &k, &err), 0);
    assert_string_equal(k.fingerprint, good[ED25519].fp);
    free(s);
}

static void t03_garbage(void **state)
{
    static const char *const junk[] = {
        NULL, "", "ssh-rsa", "ssh-rsa ", "ssh-rsa AAAA", "ssh-rsa !!!!", "hello world",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICNu0MGeoHxflDyOubqyjilFzlzJq95SYNcHceDu",
        "-----BEGIN CERTIFICATE-----", "ssh-ed25519\nAAAAC3NzaC1lZDI1NTE5AAAAICNu0MGeoHxflDyO",
    };
    char *lead;
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(junk); i++)
        assert_rejected(junk[i]);
    /* Leading blanks are not an OpenSSH key line. */
    lead = st_xasprintf(" %s", good[ED25519].line);
    assert_rejected(lead);
    free(lead);
}

static void append_byte(struct st_buf *b)
{
    st_buf_addch(b, 0);
}

static void cut_last(struct st_buf *b)
{
    st_buf_truncate(b, b->len - 1);
}

static void t04_trailing_and_truncated(void **state)
{
    char *s;
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(good); i++) {
        s = rebuild(good[i].line, NULL, append_byte);
        assert_rejected(s);
        free(s);
        s = rebuild(good[i].line, NULL, cut_last);
        assert_rejected(s);
        free(s);
    }
}

static void t05_wrong_inner_type(void **state)
{
    static const char *const labels[] = {"ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256",
                                         "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"};
    (void) state;
    /* Every blob under every other label. */
    for (size_t i = 0; i < ST_ARRAY_SIZE(good); i++)
        for (size_t j = 0; j < ST_ARRAY_SIZE(labels); j++) {
            char *s;
            if (!strcmp(labels[j], good[i].alg))
                continue;
            s = rebuild(good[i].line, labels[j], NULL);
            assert_rejected(s);
            free(s);
        }
}

static void t06_short_rsa(void **state)
{
    struct keypair_pubkey k;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_rejected(rsa512);
    assert_rejected(rsa1016);
    assert_int_equal(keypair_parse_ssh(rsa1016, &k, &err), -1);
    assert_non_null(strstr(err.msg, "1016 bits"));
}

/* The ECDSA blob: string type, string curve, string point; flips a bit of
 * the point's last byte so that it leaves the curve. */
static void off_curve(struct st_buf *b)
{
    b->buf[b->len - 1] ^= 1;
}

/* Replaces the curve name "nistp256" by "nistp384" (same length). */
static void other_curve(struct st_buf *b)
{
    char *p = memmem(b->buf + 20, b->len - 20, "nistp256", 8);
    assert_non_null(p);
    memcpy(p, "nistp384", 8);
}

/* An RSA key with an even exponent. */
static void even_exponent(struct st_buf *b)
{
    /* string "ssh-rsa" (4+7), then the exponent 01 00 01 (4+3). */
    assert_int_equal((unsigned char) b->buf[4 + 7 + 4 + 2], 1);
    b->buf[4 + 7 + 4 + 2] = 2;
}

static void t07_bad_keys(void **state)
{
    char *s;
    (void) state;
    s = rebuild(good[P256].line, NULL, off_curve);
    assert_rejected(s);
    free(s);
    s = rebuild(good[P256].line, NULL, other_curve);
    assert_rejected(s);
    free(s);
    s = rebuild(good[RSA2048].line, NULL, even_exponent);
    assert_rejected(s);
    free(s);
}

static void t08_generate_ssh(void **state)
{
    struct st_buf priv = ST_BUF_INIT, pub = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct keypair_pubkey k;
    (void) state;
    assert_int_equal(keypair_generate_ssh(2048, "Generated-by-Nova", &priv, &pub, &err), 0);
    assert_true(!strncmp(priv.buf, "-----BEGIN RSA PRIVATE KEY-----\n", 32));
    assert_true(!strncmp(pub.buf, "ssh-rsa AAAAB3NzaC1yc2E", 23));
    assert_non_null(strstr(pub.buf, " Generated-by-Nova"));
    assert_int_equal(keypair_parse_ssh(pub.buf, &k, &err), 0);
    assert_int_equal(k.bits, 2048);
    assert_int_equal(strlen(k.fingerprint), 47);
    st_buf_release(&priv);
    st_buf_release(&pub);
}

static void t09_x509(void **state)
{
    struct st_buf priv = ST_BUF_INIT, cert = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct keypair_pubkey k;
    (void) state;
    assert_int_equal(keypair_generate_x509("0123456789abcdef", &priv, &cert, &err), 0);
    assert_non_null(strstr(priv.buf, "-----BEGIN PRIVATE KEY-----"));
    assert_non_null(strstr(cert.buf, "-----BEGIN CERTIFICATE-----"));
    assert_int_equal(keypair_parse_x509(cert.buf, &k, &err), 0);
    assert_string_equal(k.alg, "x509");
    assert_int_equal(strlen(k.fingerprint), 59); /* SHA-1: 20 pairs */
    assert_int_equal(keypair_parse_x509("not a certificate", &k, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    assert_int_equal(keypair_parse_x509(good[ED25519].line, &k, &err), -1);
    st_buf_release(&priv);
    st_buf_release(&cert);
}

static void t10_names(void **state)
{
    static const char *const ok_names[] = {"a", "my key", "key_1-2", "K"};
    static const char *const bad_names[] = {"", " lead", "trail ", "a.b", "a@b", "a/b",
                                            "tab\tx", "é"};
    struct st_err err = ST_ERR_INIT;
    char longname[300];
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(ok_names); i++)
        assert_int_equal(keypair_check_name(ok_names[i], &err), 0);
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad_names); i++) {
        st_err_clear(&err);
        if (keypair_check_name(bad_names[i], &err) == 0)
            fail_msg("accepted name '%s'", bad_names[i]);
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    }
    memset(longname, 'a', 255);
    longname[255] = '\0';
    assert_int_equal(keypair_check_name(longname, &err), 0);
    longname[255] = 'a';
    longname[256] = '\0';
    assert_int_equal(keypair_check_name(longname, &err), -1);
}

/* ---- the store ------------------------------------------------------------ */

struct db {
    char *dir;
    struct store *st;
    struct store_conn *c;
};

static int db_setup(void **state)
{
    struct db *d = calloc(1, sizeof(*d));
    struct st_err err = ST_ERR_INIT;
    char path[4096];
    d->dir = tu_mkdtemp();
    assert_non_null(d->dir);
    snprintf(path, sizeof(path), "%s/db", d->dir);
    d->st = store_open(path, 1, &err);
    assert_non_null(d->st);
    assert_true(store_migrate(d->st, &err) >= 0);
    d->c = store_acquire(d->st, &err);
    assert_non_null(d->c);
    *state = d;
    return 0;
}

static int db_teardown(void **state)
{
    struct db *d = *state;
    store_release(d->st, d->c);
    store_close(d->st);
    tu_rmrf(d->dir);
    free(d->dir);
    free(d);
    return 0;
}

static void user(struct auth_ctx *ctx, const char *id, bool admin)
{
    memset(ctx, 0, sizeof(*ctx));
    snprintf(ctx->user_id, sizeof(ctx->user_id), "%s", id);
    snprintf(ctx->project_id, sizeof(ctx->project_id), "p-%s", id);
    ctx->project_scoped = true;
    ctx->nroles = 1;
    snprintf(ctx->roles[0].name, sizeof(ctx->roles[0].name), "%s", admin ? "admin" : "member");
    policy_set_flags(ctx);
}

static void t11_store_lifecycle(void **state)
{
    struct db *d = *state;
    struct auth_ctx alice, bob, admin;
    struct st_err err = ST_ERR_INIT;
    struct keypair_req r = {NULL, "k1", NULL, good[ED25519].line};
    json_t *kp, *list;

    user(&alice, "alice", false);
    user(&bob, "bob", false);
    user(&admin, "admin", true);
    kp = keypair_create(d->c, &alice, &r, &err);
    assert_non_null(kp);
    assert_string_equal(json_string_value(json_object_get(kp, "fingerprint")), good[ED25519].fp);
    assert_string_equal(json_string_value(json_object_get(kp, "user_id")), "alice");
    assert_null(json_object_get(kp, "private_key"));
    json_decref(kp);

    /* The same name again: 409; another user may use it. */
    assert_null(keypair_create(d->c, &alice, &r, &err));
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    st_err_clear(&err);
    kp = keypair_create(d->c, &bob, &r, &err);
    assert_non_null(kp);
    json_decref(kp);

    /* Bob cannot see alice's; an admin can, by naming her. */
    assert_null(keypair_get(d->c, &bob, "alice", "k1", &err));
    assert_int_equal(err.kind, ST_ERR_FORBIDDEN);
    st_err_clear(&err);
    kp = keypair_get(d->c, &admin, "alice", "k1", &err);
    assert_non_null(kp);
    json_decref(kp);

    /* Generated: a private key comes back once. */
    r.name = "gen";
    r.public_key = NULL;
    kp = keypair_create(d->c, &alice, &r, &err);
    assert_non_null(kp);
    assert_non_null(strstr(json_string_value(json_object_get(kp, "private_key")),
                           "BEGIN RSA PRIVATE KEY"));
    json_decref(kp);
    kp = keypair_get(d->c, &alice, NULL, "gen", &err);
    assert_null(json_object_get(kp, "private_key"));
    json_decref(kp);

    /* Listing by name, paged. */
    list = keypair_list(d->c, &alice, NULL, -1, NULL, &err);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
                        "gen");
    json_decref(list);
    list = keypair_list(d->c, &alice, NULL, 1, "gen", &err);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
                        "k1");
    json_decref(list);
    assert_null(keypair_list(d->c, &alice, NULL, 1, "nope", &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);

    /* A bad key stores nothing. */
    r.name = "bad";
    r.public_key = rsa512;
    assert_null(keypair_create(d->c, &alice, &r, &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    assert_null(keypair_get(d->c, &alice, NULL, "bad", &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);

    assert_int_equal(keypair_delete(d->c, &alice, NULL, "k1", &err), 0);
    assert_int_equal(keypair_delete(d->c, &alice, NULL, "k1", &err), -1);
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
}

static void t12_store_quota(void **state)
{
    struct db *d = *state;
    struct auth_ctx carol;
    struct st_err err = ST_ERR_INIT;
    struct keypair_req r = {NULL, NULL, "ssh", good[P256].line};
    char name[32];
    json_t *kp;

    user(&carol, "carol", false);
    for (int i = 0; i < KEYPAIR_PER_USER_MAX; i++) {
        snprintf(name, sizeof(name), "k%03d", i);
        r.name = name;
        kp = keypair_create(d->c, &carol, &r, &err);
        assert_non_null(kp);
        json_decref(kp);
    }
    r.name = "one-too-many";
    assert_null(keypair_create(d->c, &carol, &r, &err));
    assert_int_equal(err.kind, ST_ERR_OVER_QUOTA);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_parse_each_type),
        cmocka_unit_test(t02_parse_layouts),
        cmocka_unit_test(t03_garbage),
        cmocka_unit_test(t04_trailing_and_truncated),
        cmocka_unit_test(t05_wrong_inner_type),
        cmocka_unit_test(t06_short_rsa),
        cmocka_unit_test(t07_bad_keys),
        cmocka_unit_test(t08_generate_ssh),
        cmocka_unit_test(t09_x509),
        cmocka_unit_test(t10_names),
        cmocka_unit_test_setup_teardown(t11_store_lifecycle, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(t12_store_quota, db_setup, db_teardown),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("keypair", tests, known_bugs);
}

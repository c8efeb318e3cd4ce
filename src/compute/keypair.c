/* keypair.c - Nova keypairs: public key parsing and generation (OpenSSL), and
 * the per-user keypair records in the store. */
#include "compute/keypair.h"

#include <ctype.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/banned.h"

#define RSA_MIN_BITS 1024
#define RSA_MAX_BITS 16384
#define BLOB_MAX 4096 /* decoded bytes; a 16384-bit RSA key is about 2 KiB */
#define X509_DAYS 3650
#define CREATE_RETRIES 5

/* ---- the key half ------------------------------------------------------- */

enum ssh_kind { SSH_RSA, SSH_ED25519, SSH_ECDSA };

/* The public key algorithms accepted, with the curve of the ECDSA ones: the
 * SSH name inside the blob and OpenSSL's group name. */
static const struct ssh_alg {
    const char *name;
    enum ssh_kind kind;
    const char *curve; /* ECDSA: the identifier inside the blob */
    const char *group; /* ECDSA: OpenSSL's group name */
    size_t point_len;  /* ECDSA: length of an uncompressed point */
    int bits;
} ssh_algs[] = {
    {"ssh-rsa", SSH_RSA, NULL, NULL, 0, 0},
    {"ssh-ed25519", SSH_ED25519, NULL, NULL, 0, 256},
    {"ecdsa-sha2-nistp256", SSH_ECDSA, "nistp256", "prime256v1", 65, 256},
    {"ecdsa-sha2-nistp384", SSH_ECDSA, "nistp384", "secp384r1", 97, 384},
    {"ecdsa-sha2-nistp521", SSH_ECDSA, "nistp521", "secp521r1", 133, 521},
};

/* Every parse failure says this first, as Nova does ("Keypair data is
 * invalid: failed to generate fingerprint"), then why. */
#define INVALID_KEY "Keypair data is invalid: failed to generate fingerprint"

static int invalid(struct st_err *err, const char *why)
{
    st_err_set(err, ST_ERR_BAD_REQUEST, INVALID_KEY " (%s)", why);
    return -1;
}

/* A cursor over the decoded blob: RFC 4251 strings (uint32 length, bytes). */
struct cursor {
    const unsigned char *p;
    size_t left;
};

static int get_string(struct cursor *cur, const unsigned char **s, size_t *len)
{
    uint32_t n;
    if (cur->left < 4)
        return -1;
    n = (uint32_t) cur->p[0] << 24 | (uint32_t) cur->p[1] << 16 | (uint32_t) cur->p[2] << 8 |
        cur->p[3];
    if (n > cur->left - 4)
        return -1;
    *s = cur->p + 4;
    *len = n;
    cur->p += 4 + (size_t) n;
    cur->left -= 4 + (size_t) n;
    return 0;
}

/* An mpint that must be positive; returns a new BIGNUM or NULL. */
static BIGNUM *get_mpint(struct cursor *cur)
{
    const unsigned char *s;
    size_t len;
    if (get_string(cur, &s, &len) < 0 || len == 0 || (s[0] & 0x80))
        return NULL;
    return BN_bin2bn(s, (int) len, NULL);
}

static void fingerprint_hex(const unsigned char *md, unsigned len, char out[KEYPAIR_FP_MAX])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (unsigned i = 0; i < len && o + 3 < KEYPAIR_FP_MAX; i++) {
        if (i)
            out[o++] = ':';
        out[o++] = hex[md[i] >> 4];
        out[o++] = hex[md[i] & 15];
    }
    out[o] = '\0';
}

static int check_rsa(struct cursor *cur, int *bits, struct st_err *err)
{
    BIGNUM *e = get_mpint(cur), *n = get_mpint(cur);
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    int rc = -1;

    if (!e || !n) {
        invalid(err, "malformed RSA key");
        goto out;
    }
    *bits = BN_num_bits(n);
    if (*bits < RSA_MIN_BITS || *bits > RSA_MAX_BITS) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   INVALID_KEY " (an RSA modulus of %d bits is outside %d to %d bits)", *bits,
                   RSA_MIN_BITS, RSA_MAX_BITS);
        goto out;
    }
    /* The checks cryptography (which Nova uses) makes: odd modulus, odd
     * exponent, 3 <= e < n.  OpenSSL's SP 800-56B check would also refuse
     * old keys with e = 3 or 35, which Nova accepts. */
    if (!BN_is_odd(n) || !BN_is_odd(e) || BN_num_bits(e) < 2 || BN_cmp(e, n) >= 0) {
        invalid(err, "invalid RSA key");
        goto out;
    }
    if (!(bld = OSSL_PARAM_BLD_new()) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        invalid(err, "invalid RSA key");
        goto out;
    }
    rc = 0;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(e);
    BN_free(n);
    return rc;
}

static int check_ecdsa(struct cursor *cur, const struct ssh_alg *alg, struct st_err *err)
{
    const unsigned char *curve, *point;
    size_t curve_len, point_len;
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *pctx = NULL, *vctx = NULL;
    EVP_PKEY *pkey = NULL;
    int rc = -1;

    if (get_string(cur, &curve, &curve_len) < 0 || curve_len != strlen(alg->curve) ||
        memcmp(curve, alg->curve, curve_len))
        return invalid(err, "the curve does not match the key type");
    if (get_string(cur, &point, &point_len) < 0 || point_len != alg->point_len || point[0] != 4)
        return invalid(err, "malformed ECDSA point");
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *) alg->group,
                                                 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *) point,
                                                  point_len);
    params[2] = OSSL_PARAM_construct_end();
    /* fromdata decodes the point (which must lie on the curve); the public
     * check also refuses the point at infinity and points of wrong order. */
    if (!(pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ||
        EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 ||
        !(vctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) ||
        EVP_PKEY_public_check(vctx) != 1) {
        invalid(err, "the ECDSA point is not on the curve");
        goto out;
    }
    rc = 0;
out:
    EVP_PKEY_CTX_free(vctx);
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(pkey);
    return rc;
}

static int check_ed25519(struct cursor *cur, struct st_err *err)
{
    const unsigned char *k;
    size_t len;
    EVP_PKEY *pkey;
    if (get_string(cur, &k, &len) < 0 || len != 32)
        return invalid(err, "an Ed25519 key is 32 bytes");
    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k, len);
    if (!pkey)
        return invalid(err, "invalid Ed25519 key");
    EVP_PKEY_free(pkey);
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int keypair_parse_ssh(const char *line, struct keypair_pubkey *out, struct st_err *err)
{
    struct st_buf blob = ST_BUF_INIT;
    const struct ssh_alg *alg = NULL;
    const unsigned char *inner;
    size_t type_len, b64_len, inner_len;
    const char *b64;
    struct cursor cur;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!line || !*line)
        return invalid(err, "the public key is empty");
    /* "TYPE BLOB [COMMENT]", as cryptography's load_ssh_public_key reads it:
     * no leading blanks, one or more blanks between type and blob. */
    type_len = strcspn(line, " \t\r\n");
    if (type_len == 0 || !is_blank(line[type_len]))
        return invalid(err, "expected 'TYPE BASE64 [COMMENT]'");
    for (size_t i = 0; i < ST_ARRAY_SIZE(ssh_algs); i++)
        if (strlen(ssh_algs[i].name) == type_len && !memcmp(line, ssh_algs[i].name, type_len))
            alg = &ssh_algs[i];
    if (!alg)
        return invalid(err, "unsupported key type");
    b64 = line + type_len;
    while (is_blank(*b64))
        b64++;
    b64_len = strcspn(b64, " \t\r\n");
    if (b64_len == 0 || b64_len > BLOB_MAX * 4 / 3 + 4)
        return invalid(err, "missing or oversized key data");
    if (st_base64_decode(b64, b64_len, &blob) < 0) {
        invalid(err, "the key data is not base64");
        goto out;
    }
    cur.p = (const unsigned char *) blob.buf;
    cur.left = blob.len;
    if (get_string(&cur, &inner, &inner_len) < 0 || inner_len != type_len ||
        memcmp(inner, line, type_len)) {
        invalid(err, "the key data does not match the key type");
        goto out;
    }
    switch (alg->kind) {
    case SSH_RSA:
        if (check_rsa(&cur, &out->bits, err) < 0)
            goto out;
        break;
    case SSH_ECDSA:
        if (check_ecdsa(&cur, alg, err) < 0)
            goto out;
        out->bits = alg->bits;
        break;
    case SSH_ED25519:
        if (check_ed25519(&cur, err) < 0)
            goto out;
        out->bits = alg->bits;
        break;
    }
    if (cur.left) {
        invalid(err, "trailing bytes after the key");
        goto out;
    }
    /* Nova: hashlib.md5(base64.b64decode(key.split(' ')[1])). */
    if (EVP_Digest(blob.buf, blob.len, md, &md_len, EVP_md5(), NULL) != 1) {
        st_err_set(err, ST_ERR_INTERNAL, "MD5 is not available");
        goto out;
    }
    fingerprint_hex(md, md_len, out->fingerprint);
    memcpy(out->alg, alg->name, strlen(alg->name) + 1);
    rc = 0;
out:
    st_buf_release(&blob);
    ERR_clear_error();
    return rc;
}

int keypair_parse_x509(const char *pem, struct keypair_pubkey *out, struct st_err *err)
{
    BIO *bio;
    X509 *cert;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!pem || !*pem) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Keypair data is invalid: failed to generate X509 fingerprint. Error "
                   "message: the certificate is empty");
        return -1;
    }
    bio = BIO_new_mem_buf(pem, (int) strnlen(pem, KEYPAIR_PUBLIC_KEY_MAX));
    cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (!cert) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Keypair data is invalid: failed to generate X509 fingerprint. Error "
                   "message: Unable to load certificate");
        goto out;
    }
    if (X509_digest(cert, EVP_sha1(), md, &md_len) != 1) {
        st_err_set(err, ST_ERR_INTERNAL, "SHA-1 is not available");
        goto out;
    }
    fingerprint_hex(md, md_len, out->fingerprint);
    out->bits = X509_get0_pubkey(cert) ? EVP_PKEY_get_bits(X509_get0_pubkey(cert)) : 0;
    memcpy(out->alg, "x509", 5);
    rc = 0;
out:
    X509_free(cert);
    BIO_free(bio);
    /* Leave nothing in OpenSSL's thread error queue for the next caller. */
    ERR_clear_error();
    return rc;
}

static void put_string(struct st_buf *b, const void *s, size_t len)
{
    unsigned char n[4] = {(unsigned char) (len >> 24), (unsigned char) (len >> 16),
                          (unsigned char) (len >> 8), (unsigned char) len};
    st_buf_add(b, n, 4);
    st_buf_add(b, s, len);
}

static void put_mpint(struct st_buf *b, const BIGNUM *bn)
{
    int n = BN_num_bytes(bn);
    unsigned char *tmp = st_xmalloc((size_t) n + 1);
    tmp[0] = 0;
    BN_bn2bin(bn, tmp + 1);
    /* A set top bit would make it negative: keep the leading zero then. */
    if (n > 0 && (tmp[1] & 0x80))
        put_string(b, tmp, (size_t) n + 1);
    else
        put_string(b, tmp + 1, (size_t) n);
    free(tmp);
}

static int bio_to_buf(BIO *bio, struct st_buf *out)
{
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    if (n <= 0)
        return -1;
    st_buf_add(out, data, (size_t) n);
    return 0;
}

int keypair_generate_ssh(int bits, const char *comment, struct st_buf *private_pem,
                         struct st_buf *public_line, struct st_err *err)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) bits);
    BIGNUM *n = NULL, *e = NULL;
    struct st_buf blob = ST_BUF_INIT;
    BIO *bio = NULL;
    int rc = -1;

    if (!pkey || EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot generate an RSA key of %d bits", bits);
        goto out;
    }
    /* PKCS#1 "BEGIN RSA PRIVATE KEY", what paramiko wrote for Nova. */
    if (!(bio = BIO_new(BIO_s_mem())) ||
        PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        bio_to_buf(bio, private_pem) < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot encode the private key");
        goto out;
    }
    put_string(&blob, "ssh-rsa", 7);
    put_mpint(&blob, e);
    put_mpint(&blob, n);
    st_buf_adds(public_line, "ssh-rsa ");
    st_base64_encode(blob.buf, blob.len, public_line);
    if (comment && *comment)
        st_buf_addf(public_line, " %s", comment);
    rc = 0;
out:
    BIO_free(bio);
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(pkey);
    st_buf_release(&blob);
    ERR_clear_error();
    return rc;
}

/* subjectAltName otherName UPN (1.3.6.1.4.1.311.20.2.3) = 'upn', built as a
 * structure rather than through OpenSSL's config syntax, so that nothing in
 * a user id is interpreted. */
static int add_upn(X509 *x, const char *upn)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gen = GENERAL_NAME_new();
    ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();
    ASN1_TYPE *val = ASN1_TYPE_new();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1);
    int rc = -1;

    if (!gens || !gen || !s || !val || !oid || ASN1_STRING_set(s, upn, (int) strlen(upn)) != 1)
        goto out;
    ASN1_TYPE_set(val, V_ASN1_UTF8STRING, s);
    s = NULL;
    if (GENERAL_NAME_set0_othername(gen, oid, val) != 1)
        goto out;
    oid = NULL;
    val = NULL;
    if (!sk_GENERAL_NAME_push(gens, gen))
        goto out;
    gen = NULL;
    rc = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1 ? 0 : -1;
out:
    ASN1_OBJECT_free(oid);
    ASN1_TYPE_free(val);
    ASN1_UTF8STRING_free(s);
    GENERAL_NAME_free(gen);
    GENERAL_NAMES_free(gens);
    return rc;
}

int keypair_generate_x509(const char *user_id, struct st_buf *private_pem,
                          struct st_buf *cert_pem, struct st_err *err)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    X509 *x = X509_new();
    X509_EXTENSION *eku = NULL;
    X509V3_CTX v3;
    BIO *kbio = BIO_new(BIO_s_mem()), *cbio = BIO_new(BIO_s_mem());
    char *upn = st_xasprintf("%s@localhost", user_id);
    uint64_t serial;
    int rc = -1;

    st_random(&serial, sizeof(serial));
    serial &= INT64_MAX;
    if (!pkey || !x || !kbio || !cbio || X509_set_version(x, 2) != 1 ||
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long) X509_DAYS * 86400) ||
        X509_set_pubkey(x, pkey) != 1) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot generate an x509 certificate");
        goto out;
    }
    /* CN is at most 64 characters: an admin's odd user id may not fit. */
    if (X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                   (const unsigned char *) user_id, -1, -1, 0) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(x)) != 1) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Keypair data is invalid: cannot make a certificate for user '%s'", user_id);
        goto out;
    }
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    if (!(eku = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, "clientAuth")) ||
        X509_add_ext(x, eku, -1) != 1 || add_upn(x, upn) < 0 ||
        X509_sign(x, pkey, EVP_sha256()) <= 0 || PEM_write_bio_X509(cbio, x) != 1 ||
        PEM_write_bio_PrivateKey(kbio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        bio_to_buf(cbio, cert_pem) < 0 || bio_to_buf(kbio, private_pem) < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot generate an x509 certificate");
        goto out;
    }
    rc = 0;
out:
    X509_EXTENSION_free(eku);
    X509_free(x);
    EVP_PKEY_free(pkey);
    BIO_free(kbio);
    BIO_free(cbio);
    free(upn);
    ERR_clear_error();
    return rc;
}

int keypair_check_name(const char *name, struct st_err *err)
{
    size_t len = name ? strlen(name) : 0;
    if (!name) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "'name' is a required property");
        return -1;
    }
    if (len && (isspace((unsigned char) name[0]) || isspace((unsigned char) name[len - 1]))) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "An invalid 'name' value was provided. The name must be: printable "
                   "characters. Can not start or end with whitespace.");
        return -1;
    }
    if (len > KEYPAIR_NAME_MAX) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute name. Value: %.40s.... '%.40s...' is too "
                   "long",
                   name, name);
        return -1;
    }
    if (len == 0 || strspn(name, "_- abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789") != len) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute name. Value: %s. '%s' does not match "
                   "'^[_\\- a-zA-Z0-9]+$'",
                   name, name);
        return -1;
    }
    return 0;
}

/* ---- the store half ----------------------------------------------------- */

#define SELECT_KEYPAIR                                                                         \
    "SELECT id, name, user_id, type, public_key, fingerprint, created_at FROM keypairs"

/* The owner a request is about: the caller's own keypairs, or (admin only)
 * another user's.  'action' names the Nova policy. */
static const char *owner_of(const struct auth_ctx *ctx, const char *user_id, const char *action,
                            struct st_err *err)
{
    if (!user_id || !*user_id || !strcmp(user_id, ctx->user_id))
        return ctx->user_id;
    if (policy_admin(ctx, action, err) < 0)
        return NULL;
    return user_id;
}

/* "2024-01-02T03:04:05.000000", the form Nova's keypairs carry. */
static json_t *time_json(int64_t secs)
{
    char t[32];
    size_t n;
    st_time_iso(secs * 1000000, 6, t);
    n = strlen(t);
    if (n && t[n - 1] == 'Z')
        t[n - 1] = '\0';
    return json_string(t);
}

static json_t *row_json(struct store_stmt *s)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o}", "id", (json_int_t) store_int(s, 0),
                     "name", store_text(s, 1), "user_id", store_text(s, 2), "type",
                     store_text(s, 3), "public_key", store_text(s, 4), "fingerprint",
                     store_text(s, 5), "created_at", time_json(store_int(s, 6)));
}

static void keypair_not_found(const char *user_id, const char *name, struct st_err *err)
{
    st_err_set(err, ST_ERR_NOT_FOUND, "Keypair %s not found for user %s", name, user_id);
}

/* 1 when 'user_id' has a keypair 'name', 0 when not, -1 on error. */
static int exists(struct store_conn *c, const char *user_id, const char *name, struct st_err *err)
{
    int64_t one;
    return store_get_int(c, err, &one, "SELECT 1 FROM keypairs WHERE user_id = ? AND name = ?",
                         STORE_ARGS(P(user_id), P(name)));
}

/* One attempt at the insert, in its own transaction: 1 done, 0 lost a race
 * for the id (retry), -1 error. */
static int insert_once(struct store_conn *c, const char *owner, const char *name,
                       const char *type, const char *public_key, const char *fp, int64_t now,
                       int64_t *id_out, struct st_err *err)
{
    struct st_err local = ST_ERR_INIT;
    int64_t count = 0, id = 0;
    int rc;

    if (store_begin(c, err) < 0)
        return -1;
    if (store_get_int(c, err, &count, "SELECT COUNT(*) FROM keypairs WHERE user_id = ?",
                      STORE_ARGS(P(owner))) < 0)
        goto fail;
    if (count >= KEYPAIR_PER_USER_MAX) {
        st_err_set(err, ST_ERR_OVER_QUOTA, "Quota exceeded, too many key pairs.");
        goto fail;
    }
    rc = exists(c, owner, name, err);
    if (rc < 0)
        goto fail;
    if (rc > 0) {
        st_err_set(err, ST_ERR_CONFLICT, "Key pair '%s' already exists.", name);
        goto fail;
    }
    if (store_get_int(c, err, &id, "SELECT COALESCE(MAX(id), 0) + 1 FROM keypairs",
                      STORE_NOARGS) < 0)
        goto fail;
    if (store_exec(c, &local,
                   "INSERT INTO keypairs (id, user_id, name, type, public_key, fingerprint,"
                   " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   STORE_ARGS(P(id), P(owner), P(name), P(type), P(public_key), P(fp),
                              P(now))) < 0) {
        store_rollback(c);
        if (local.kind == ST_ERR_CONFLICT)
            return 0; /* another writer took the id (or the name): look again */
        *err = local;
        return -1;
    }
    if (store_commit(c, err) < 0)
        goto fail;
    *id_out = id;
    return 1;
fail:
    store_rollback(c);
    return -1;
}

json_t *keypair_create(struct store_conn *c, const struct auth_ctx *ctx,
                       const struct keypair_req *req, struct st_err *err)
{
    const char *owner = owner_of(ctx, req->user_id, "os_compute_api:os-keypairs:create", err);
    const char *type = req->type ? req->type : "ssh";
    struct st_buf priv = ST_BUF_INIT, pub = ST_BUF_INIT;
    struct keypair_pubkey key;
    bool x509;
    int64_t now = st_now_us() / 1000000, id = 0;
    json_t *out = NULL;
    int rc;

    if (!owner || keypair_check_name(req->name, err) < 0)
        return NULL;
    if (strcmp(type, "ssh") && strcmp(type, "x509")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute type. Value: %s. '%s' is not one of "
                   "['ssh', 'x509']",
                   type, type);
        return NULL;
    }
    x509 = !strcmp(type, "x509");
    if (req->public_key) {
        if (strlen(req->public_key) > KEYPAIR_PUBLIC_KEY_MAX) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Keypair data is invalid: the public key is longer than %d bytes",
                       KEYPAIR_PUBLIC_KEY_MAX);
            return NULL;
        }
        rc = x509 ? keypair_parse_x509(req->public_key, &key, err)
                  : keypair_parse_ssh(req->public_key, &key, err);
        if (rc < 0)
            return NULL;
        st_buf_adds(&pub, req->public_key);
    } else {
        /* Refuse a taken name before spending time on a key. */
        rc = exists(c, owner, req->name, err);
        if (rc != 0) {
            if (rc > 0)
                st_err_set(err, ST_ERR_CONFLICT, "Key pair '%s' already exists.", req->name);
            return NULL;
        }
        rc = x509 ? keypair_generate_x509(owner, &priv, &pub, err)
                  : keypair_generate_ssh(2048, "Generated-by-Nova", &priv, &pub, err);
        if (rc < 0)
            goto out;
        rc = x509 ? keypair_parse_x509(pub.buf, &key, err) : keypair_parse_ssh(pub.buf, &key, err);
        if (rc < 0)
            goto out;
    }
    for (int i = 0;; i++) {
        rc = insert_once(c, owner, req->name, type, pub.buf, key.fingerprint, now, &id, err);
        if (rc < 0)
            goto out;
        if (rc > 0)
            break;
        if (i == CREATE_RETRIES) {
            st_err_set(err, ST_ERR_CONFLICT, "Key pair '%s' already exists.", req->name);
            goto out;
        }
    }
    out = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o}", "id", (json_int_t) id, "name",
                    req->name, "user_id", owner, "type", type, "public_key", pub.buf,
                    "fingerprint", key.fingerprint, "created_at", time_json(now));
    if (out && priv.len)
        json_object_set_new(out, "private_key", json_string(priv.buf));
out:
    /* The private key never stays in memory longer than needed. */
    OPENSSL_cleanse(priv.buf, priv.len);
    st_buf_release(&priv);
    st_buf_release(&pub);
    return out;
}

json_t *keypair_get(struct store_conn *c, const struct auth_ctx *ctx, const char *user_id,
                    const char *name, struct st_err *err)
{
    const char *owner = owner_of(ctx, user_id, "os_compute_api:os-keypairs:show", err);
    struct store_stmt *s;
    json_t *out = NULL;
    int rc;

    if (!owner)
        return NULL;
    s = store_query(c, err, SELECT_KEYPAIR " WHERE user_id = ? AND name = ?",
                    STORE_ARGS(P(owner), P(name)));
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        out = row_json(s);
    else if (rc == 0)
        keypair_not_found(owner, name, err);
    store_done(s);
    return out;
}

json_t *keypair_list(struct store_conn *c, const struct auth_ctx *ctx, const char *user_id,
                     int limit, const char *marker, struct st_err *err)
{
    const char *owner = owner_of(ctx, user_id, "os_compute_api:os-keypairs:index", err);
    int64_t lim = limit < 0 ? INT32_MAX : limit;
    struct store_stmt *s;
    json_t *arr;
    int rc;

    if (!owner)
        return NULL;
    if (marker) {
        rc = exists(c, owner, marker, err);
        if (rc <= 0) {
            if (rc == 0)
                st_err_set(err, ST_ERR_BAD_REQUEST, "Marker %s could not be found.", marker);
            return NULL;
        }
        s = store_query(c, err,
                        SELECT_KEYPAIR " WHERE user_id = ? AND name > ? ORDER BY name LIMIT ?",
                        STORE_ARGS(P(owner), P(marker), P(lim)));
    } else {
        s = store_query(c, err, SELECT_KEYPAIR " WHERE user_id = ? ORDER BY name LIMIT ?",
                        STORE_ARGS(P(owner), P(lim)));
    }
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, row_json(s));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int keypair_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *user_id,
                   const char *name, struct st_err *err)
{
    const char *owner = owner_of(ctx, user_id, "os_compute_api:os-keypairs:delete", err);
    int64_t n;
    if (!owner)
        return -1;
    n = store_exec(c, err, "DELETE FROM keypairs WHERE user_id = ? AND name = ?",
                   STORE_ARGS(P(owner), P(name)));
    if (n < 0)
        return -1;
    if (n == 0) {
        keypair_not_found(owner, name, err);
        return -1;
    }
    return 0;
}

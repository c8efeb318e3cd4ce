/* token.c - AES-256-GCM tokens and their key directory. */
#include "identity/token.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "common/banned.h"

#define TOKEN_MAGIC 'S'
#define TOKEN_VERSION 1
#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define HDR_LEN 6
#define MAX_KEYS 64
#define TOKEN_MAX_TEXT 1024

struct token_key {
    uint32_t id;
    unsigned char key[KEY_LEN];
};

struct token_keys {
    struct token_key keys[MAX_KEYS];
    int n;            /* sorted by id, ascending */
};

static int key_path(const char *dir, uint32_t id, char *out, size_t n, struct st_err *err)
{
    if (st_snprintf(out, n, "%s/%u", dir, id) < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "key directory path '%s' is too long", dir);
        return -1;
    }
    return 0;
}

/* Lists the numeric file names of 'dir', ascending. */
static int list_key_ids(const char *dir, uint32_t *ids, int max, struct st_err *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d) {
        if (errno == ENOENT)
            return 0;
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot read key directory '%s'", dir);
        return -1;
    }
    while ((de = readdir(d)) && n < max) {
        uint32_t id;
        if (st_parse_u32(de->d_name, 0, UINT32_MAX - 1, &id) == 0)
            ids[n++] = id;
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            uint32_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    return n;
}

struct token_keys *token_keys_load(const char *dir, struct st_err *err)
{
    uint32_t ids[MAX_KEYS];
    int n = list_key_ids(dir, ids, MAX_KEYS, err);
    struct token_keys *keys;
    if (n < 0)
        return NULL;
    if (n == 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "no token keys in '%s' (run stratus-manage bootstrap)",
                   dir);
        return NULL;
    }
    keys = st_xcalloc(1, sizeof(*keys));
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct st_buf text = ST_BUF_INIT, raw = ST_BUF_INIT;
        int ok = key_path(dir, ids[i], path, sizeof(path), err) == 0 &&
                 st_read_file(path, 1024, &text, err) == 0;
        if (ok) {
            size_t len = text.len;
            while (len && (text.buf[len - 1] == '\n' || text.buf[len - 1] == ' '))
                len--;
            if (st_base64_decode(text.buf, len, &raw) < 0 || raw.len != KEY_LEN) {
                st_err_set(err, ST_ERR_INTERNAL, "token key '%s' is not 32 bytes of base64",
                           path);
                ok = 0;
            } else {
                keys->keys[keys->n].id = ids[i];
                memcpy(keys->keys[keys->n].key, raw.buf, KEY_LEN);
                keys->n++;
            }
        }
        explicit_bzero(text.buf, text.len);
        explicit_bzero(raw.buf, raw.len);
        st_buf_release(&text);
        st_buf_release(&raw);
        if (!ok) {
            token_keys_free(keys);
            return NULL;
        }
    }
    return keys;
}

void token_keys_free(struct token_keys *keys)
{
    if (!keys)
        return;
    explicit_bzero(keys, sizeof(*keys));
    free(keys);
}

int token_keys_count(const struct token_keys *keys)
{
    return keys->n;
}

uint32_t token_keys_primary(const struct token_keys *keys)
{
    return keys->keys[keys->n - 1].id;
}

static int write_key(const char *dir, uint32_t id, struct st_err *err)
{
    unsigned char key[KEY_LEN];
    struct st_buf text = ST_BUF_INIT;
    char path[4096];
    int rc;

    if (key_path(dir, id, path, sizeof(path), err) < 0)
        return -1;
    st_random(key, sizeof(key));
    st_base64_encode(key, sizeof(key), &text);
    st_buf_addch(&text, '\n');
    rc = st_write_file(path, text.buf, text.len, 0600, err);
    explicit_bzero(key, sizeof(key));
    explicit_bzero(text.buf, text.len);
    st_buf_release(&text);
    return rc;
}

int token_keys_setup(const char *dir, struct st_err *err)
{
    uint32_t ids[MAX_KEYS];
    int n;
    if (st_mkdir_p(dir, 0700, err) < 0)
        return -1;
    n = list_key_ids(dir, ids, MAX_KEYS, err);
    if (n < 0)
        return -1;
    if (n > 0)
        return 0;
    return write_key(dir, 1, err);
}

int token_keys_rotate(const char *dir, int keep, struct st_err *err)
{
    uint32_t ids[MAX_KEYS];
    int n;
    if (keep < 2)
        keep = 2;
    if (keep > MAX_KEYS - 1)
        keep = MAX_KEYS - 1;
    if (token_keys_setup(dir, err) < 0)
        return -1;
    n = list_key_ids(dir, ids, MAX_KEYS, err);
    if (n < 0)
        return -1;
    if (write_key(dir, ids[n - 1] + 1, err) < 0)
        return -1;
    for (int i = 0; i + keep < n + 1; i++) {
        char path[4096];
        if (key_path(dir, ids[i], path, sizeof(path), err) < 0)
            return -1;
        if (unlink(path) < 0 && errno != ENOENT) {
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot remove old token key '%s'", path);
            return -1;
        }
    }
    return 0;
}

static void put_u32(struct st_buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char) (v >> 24), (unsigned char) (v >> 16),
                          (unsigned char) (v >> 8), (unsigned char) v};
    st_buf_add(b, p, 4);
}

static void put_i64(struct st_buf *b, int64_t sv)
{
    uint64_t v = (uint64_t) sv;
    unsigned char p[8];
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char) (v >> (56 - 8 * i));
    st_buf_add(b, p, 8);
}

static void put_str(struct st_buf *b, const char *s)
{
    size_t n = strlen(s);
    unsigned char len = (unsigned char) n;
    st_buf_add(b, &len, 1);
    st_buf_add(b, s, n);
}

int token_encode(const struct token_keys *keys, const struct token *t, struct st_buf *out,
                 struct st_err *err)
{
    const struct token_key *k = &keys->keys[keys->n - 1];
    struct st_buf hdr = ST_BUF_INIT, plain = ST_BUF_INIT, whole = ST_BUF_INIT;
    unsigned char nonce[NONCE_LEN], tag[TAG_LEN];
    EVP_CIPHER_CTX *c = NULL;
    int len, rc = -1;

    if (strlen(t->user_id) > TOKEN_ID_MAX || strlen(t->scope_id) > TOKEN_ID_MAX) {
        st_err_set(err, ST_ERR_INTERNAL, "token ids are too long");
        return -1;
    }
    st_buf_addch(&hdr, TOKEN_MAGIC);
    st_buf_addch(&hdr, TOKEN_VERSION);
    put_u32(&hdr, k->id);

    st_buf_addch(&plain, (char) t->methods);
    put_i64(&plain, t->issued_at);
    put_i64(&plain, t->expires_at);
    st_buf_add(&plain, t->audit_id, 16);
    st_buf_addch(&plain, t->has_parent ? 1 : 0);
    if (t->has_parent)
        st_buf_add(&plain, t->parent_audit_id, 16);
    put_str(&plain, t->user_id);
    st_buf_addch(&plain, (char) t->scope);
    put_str(&plain, t->scope_id);

    st_random(nonce, sizeof(nonce));
    st_buf_add(&whole, hdr.buf, hdr.len);
    st_buf_add(&whole, nonce, sizeof(nonce));
    st_buf_grow(&whole, plain.len + TAG_LEN);

    c = EVP_CIPHER_CTX_new();
    if (!c || EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, nonce) != 1 ||
        EVP_EncryptUpdate(c, NULL, &len, (unsigned char *) hdr.buf, (int) hdr.len) != 1 ||
        EVP_EncryptUpdate(c, (unsigned char *) whole.buf + whole.len, &len,
                          (unsigned char *) plain.buf, (int) plain.len) != 1) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot encrypt a token");
        goto out;
    }
    whole.len += (size_t) len;
    if (EVP_EncryptFinal_ex(c, (unsigned char *) whole.buf + whole.len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot encrypt a token");
        goto out;
    }
    whole.len += (size_t) len;
    st_buf_add(&whole, tag, TAG_LEN);
    st_base64url_encode(whole.buf, whole.len, out);
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    explicit_bzero(plain.buf, plain.len);
    st_buf_release(&hdr);
    st_buf_release(&plain);
    st_buf_release(&whole);
    return rc;
}

/* A cursor over decrypted bytes. */
struct rd {
    const unsigned char *p;
    size_t left;
    bool bad;
};

static const unsigned char *take(struct rd *r, size_t n)
{
    const unsigned char *p = r->p;
    if (r->bad || r->left < n) {
        r->bad = true;
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return p;
}

static int64_t get_i64(struct rd *r)
{
    const unsigned char *p = take(r, 8);
    uint64_t v = 0;
    if (!p)
        return 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return (int64_t) v;
}

static void get_str(struct rd *r, char *out)
{
    const unsigned char *lp = take(r, 1);
    const unsigned char *p;
    out[0] = '\0';
    if (!lp || *lp > TOKEN_ID_MAX) {
        r->bad = true;
        return;
    }
    p = take(r, *lp);
    if (!p)
        return;
    memcpy(out, p, *lp);
    out[*lp] = '\0';
    if (strlen(out) != *lp)
        r->bad = true;
}

static const struct token_key *find_key(const struct token_keys *keys, uint32_t id)
{
    for (int i = 0; i < keys->n; i++)
        if (keys->keys[i].id == id)
            return &keys->keys[i];
    return NULL;
}

static int raw_header(const char *text, struct st_buf *raw, uint32_t *key_id)
{
    size_t n = strlen(text);
    const unsigned char *p;
    if (n == 0 || n > TOKEN_MAX_TEXT || st_base64url_decode(text, n, raw) < 0 ||
        raw->len < HDR_LEN + NONCE_LEN + TAG_LEN + 1)
        return -1;
    p = (const unsigned char *) raw->buf;
    if (p[0] != TOKEN_MAGIC || p[1] != TOKEN_VERSION)
        return -1;
    *key_id = (uint32_t) p[2] << 24 | (uint32_t) p[3] << 16 | (uint32_t) p[4] << 8 | p[5];
    return 0;
}

bool token_unknown_key(const struct token_keys *keys, const char *text)
{
    struct st_buf raw = ST_BUF_INIT;
    uint32_t id;
    bool unknown = raw_header(text, &raw, &id) == 0 && !find_key(keys, id);
    st_buf_release(&raw);
    return unknown;
}

int token_decode(const struct token_keys *keys, const char *text, struct token *t,
                 struct st_err *err)
{
    struct st_buf raw = ST_BUF_INIT, plain = ST_BUF_INIT;
    const struct token_key *k;
    EVP_CIPHER_CTX *c = NULL;
    uint32_t key_id;
    int len, rc = -1;

    memset(t, 0, sizeof(*t));
    if (raw_header(text, &raw, &key_id) < 0 || !(k = find_key(keys, key_id)))
        goto bad;
    const unsigned char *p = (const unsigned char *) raw.buf;
    size_t clen = raw.len - HDR_LEN - NONCE_LEN - TAG_LEN;
    st_buf_grow(&plain, clen + 16);
    c = EVP_CIPHER_CTX_new();
    if (!c || EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, p + HDR_LEN) != 1 ||
        EVP_DecryptUpdate(c, NULL, &len, p, HDR_LEN) != 1 ||
        EVP_DecryptUpdate(c, (unsigned char *) plain.buf, &len, p + HDR_LEN + NONCE_LEN,
                          (int) clen) != 1)
        goto bad;
    plain.len = (size_t) len;
    if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                            (void *) (p + raw.len - TAG_LEN)) != 1 ||
        EVP_DecryptFinal_ex(c, (unsigned char *) plain.buf + plain.len, &len) != 1)
        goto bad;
    plain.len += (size_t) len;

    struct rd r = {(const unsigned char *) plain.buf, plain.len, false};
    const unsigned char *b = take(&r, 1);
    t->methods = b ? *b : 0;
    t->issued_at = get_i64(&r);
    t->expires_at = get_i64(&r);
    if ((b = take(&r, 16)))
        memcpy(t->audit_id, b, 16);
    b = take(&r, 1);
    t->has_parent = b && *b;
    if (t->has_parent && (b = take(&r, 16)))
        memcpy(t->parent_audit_id, b, 16);
    get_str(&r, t->user_id);
    b = take(&r, 1);
    t->scope = b ? (enum token_scope) * b : TOKEN_UNSCOPED;
    get_str(&r, t->scope_id);
    if (r.bad || r.left || t->scope > TOKEN_DOMAIN || !t->user_id[0])
        goto bad;
    rc = 0;
    goto out;
bad:
    memset(t, 0, sizeof(*t));
    st_err_set(err, ST_ERR_UNAUTHORIZED, "The request you have made requires authentication.");
out:
    EVP_CIPHER_CTX_free(c);
    explicit_bzero(plain.buf, plain.len);
    st_buf_release(&raw);
    st_buf_release(&plain);
    return rc;
}

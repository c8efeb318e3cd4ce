/* client.c - HTTP calls of the agent to the controller (see client.h).
 *
 * Every transfer runs through one curl multi handle so that the wait can
 * include the owner's wake descriptor (curl_multi_poll's extra fds): a
 * long-poll ends as soon as a libvirt event or a signal arrives. */
#include "agent/client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/model.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define CLIENT_CONNECT_TIMEOUT 10   /* seconds */
#define CLIENT_CALL_TIMEOUT 60      /* seconds, JSON calls */
#define CLIENT_MAX_JSON (64u << 20) /* largest JSON reply accepted */
#define CLIENT_MAX_ERROR_BODY (64u << 10)
#define CLIENT_STALL_SECONDS 120 /* data transfers: abort below 1 byte/s this long */

struct client {
    char *base; /* base URL without a trailing slash */
    char *host; /* our host name (checked: [A-Za-z0-9._-]) */
    char *auth; /* "Authorization: Bearer ..." */
    CURLM *multi;
    CURL *easy;
    int wake_fd;
    const atomic_int *stop;
};

/* One request: what to send and where the reply goes. */
struct xfer {
    const char *method;
    struct st_buf url;
    const struct st_buf *json_body; /* POST body, or NULL */
    int upload_fd;                  /* PUT body from this file, or -1 */
    int64_t upload_size;
    bool interruptible; /* long-poll: the wake fd ends it */
    long timeout_s;     /* total, 0 = none (stall detection instead) */
    /* reply */
    long status;
    struct st_buf body; /* JSON reply or error body */
    size_t body_max;
    int out_fd; /* 2xx data goes here when >= 0 */
    EVP_MD_CTX *md5;
    int64_t out_len;
    bool write_failed;
    char content_md5[64];
};

struct client *client_new(const char *base_url, const char *host, const char *secret,
                          struct st_err *err)
{
    struct client *c;
    size_t n;
    if (!base_url || (strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8))) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid controller URL '%s'",
                   base_url ? base_url : "(none)");
        return NULL;
    }
    for (const char *p = host; *p; p++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "invalid host name '%s'", host);
            return NULL;
        }
    }
    c = st_xcalloc(1, sizeof(*c));
    n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    c->base = st_xstrndup(base_url, n);
    c->host = st_xstrdup(host);
    c->auth = st_xasprintf("Authorization: Bearer %s", secret);
    c->wake_fd = -1;
    c->multi = curl_multi_init();
    c->easy = curl_easy_init();
    if (!c->multi || !c->easy) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot initialise libcurl");
        client_free(c);
        return NULL;
    }
    return c;
}

void client_free(struct client *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->auth) {
        explicit_bzero(c->auth, strlen(c->auth));
        free(c->auth);
    }
    free(c->base);
    free(c->host);
    free(c);
}

void client_set_wake(struct client *c, int fd, const atomic_int *stop)
{
    c->wake_fd = fd;
    c->stop = stop;
}

static bool stopping(const struct client *c)
{
    return c->stop && atomic_load(c->stop);
}

/* ------------------------------------------------------------ callbacks */

static size_t on_write(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    size_t n = size * nmemb;
    if (x->out_fd >= 0 && x->status >= 200 && x->status < 300) {
        const char *p = data;
        size_t left = n;
        while (left) {
            ssize_t w = write(x->out_fd, p, left);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                x->write_failed = true;
                return 0;
            }
            p += w;
            left -= (size_t) w;
        }
        if (x->md5)
            EVP_DigestUpdate(x->md5, data, n);
        x->out_len += (int64_t) n;
        return n;
    }
    if (x->body.len + n > x->body_max) {
        if (x->out_fd >= 0 || (x->status >= 400)) {
            /* An error body: keep the start only. */
            return n;
        }
        x->write_failed = true;
        return 0;
    }
    st_buf_add(&x->body, data, n);
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    size_t n = size * nmemb;
    /* A status line starts every response (also after 100 Continue). */
    if (n > 9 && !strncmp(data, "HTTP/", 5)) {
        const char *sp = memchr(data, ' ', n);
        x->status = 0;
        if (sp && (size_t) (sp - data) + 4 <= n) {
            long s = 0;
            for (int i = 1; i <= 3; i++) {
                char ch = sp[i];
                if (ch < '0' || ch > '9') {
                    s = 0;
                    break;
                }
                s = s * 10 + (ch - '0');
            }
            x->status = s;
        }
    } else if (n > 12 && !strncasecmp(data, "Content-MD5:", 12)) {
        size_t i = 12, j = 0;
        while (i < n && (data[i] == ' ' || data[i] == '\t'))
            i++;
        while (i < n && data[i] != '\r' && data[i] != '\n' && j + 1 < sizeof(x->content_md5))
            x->content_md5[j++] = data[i++];
        x->content_md5[j] = '\0';
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *opaque)
{
    struct xfer *x = opaque;
    for (;;) {
        ssize_t r = read(x->upload_fd, buf, size * nmemb);
        if (r >= 0)
            return (size_t) r;
        if (errno != EINTR)
            return CURL_READFUNC_ABORT;
    }
}

/* ------------------------------------------------------------- transfer */

static void xfer_init(struct xfer *x, const char *method)
{
    memset(x, 0, sizeof(*x));
    x->method = method;
    st_buf_init(&x->url, 128);
    st_buf_init(&x->body, 0);
    x->upload_fd = -1;
    x->out_fd = -1;
    x->body_max = CLIENT_MAX_JSON;
    x->timeout_s = CLIENT_CALL_TIMEOUT;
}

static void xfer_release(struct xfer *x)
{
    st_buf_release(&x->url);
    st_buf_release(&x->body);
}

/* The path part of the URL, for messages. */
static const char *xfer_path(const struct client *c, const struct xfer *x)
{
    size_t n = strlen(c->base);
    return x->url.len >= n ? x->url.buf + n : x->url.buf;
}

/* Sets 'err' from an HTTP error reply: the kind from the status, the
 * message from the fault body ({"error": {"message"}} or Nova's
 * {"<key>": {"message"}}). */
static void http_error(const struct client *c, const struct xfer *x, struct st_err *err)
{
    enum st_err_kind kind;
    struct st_err perr = ST_ERR_INIT;
    const char *msg = NULL;
    json_t *doc = NULL;

    switch (x->status) {
    case 400:
        kind = ST_ERR_BAD_REQUEST;
        break;
    case 401:
        kind = ST_ERR_UNAUTHORIZED;
        break;
    case 403:
        kind = ST_ERR_FORBIDDEN;
        break;
    case 404:
        kind = ST_ERR_NOT_FOUND;
        break;
    case 409:
        kind = ST_ERR_CONFLICT;
        break;
    case 410:
        kind = ST_ERR_GONE;
        break;
    case 413:
        kind = ST_ERR_TOO_LARGE;
        break;
    default:
        kind = x->status >= 500 ? ST_ERR_UNAVAILABLE : ST_ERR_INTERNAL;
        break;
    }
    if (x->body.len && x->body.len < CLIENT_MAX_ERROR_BODY)
        doc = st_json_parse(x->body.buf, x->body.len, &perr);
    if (json_is_object(doc)) {
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v)
        {
            if (json_is_object(v) && json_is_string(json_object_get(v, "message"))) {
                msg = json_string_value(json_object_get(v, "message"));
                break;
            }
        }
    }
    if (msg)
        st_err_set(err, kind, "controller: %s %s: %ld: %s", x->method, xfer_path(c, x), x->status,
                   msg);
    else
        st_err_set(err, kind, "controller: %s %s: HTTP status %ld", x->method, xfer_path(c, x),
                   x->status);
    json_decref(doc);
}

/* Runs 'x'.  Returns 0 when a reply came (any status: x->status), 1 when
 * the wake descriptor interrupted an interruptible transfer, -1 on a
 * transport failure or a stop. */
static int perform(struct client *c, struct xfer *x, struct st_err *err)
{
    struct curl_slist *hdrs = NULL;
    CURLcode res = CURLE_OK;
    bool watch_wake = c->wake_fd >= 0;
    int running = 1, rc = -1;
    char errbuf[CURL_ERROR_SIZE] = "";

    curl_easy_reset(c->easy);
    hdrs = curl_slist_append(hdrs, c->auth);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    hdrs = curl_slist_append(hdrs, "User-Agent: stratus-agent");
    curl_easy_setopt(c->easy, CURLOPT_URL, x->url.buf);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT, (long) CLIENT_CONNECT_TIMEOUT);
    curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, x);
    if (x->timeout_s > 0) {
        curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, x->timeout_s);
    } else {
        curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c->easy, CURLOPT_LOW_SPEED_TIME, (long) CLIENT_STALL_SECONDS);
    }
    if (x->json_body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, x->json_body->buf);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) x->json_body->len);
    } else if (x->upload_fd >= 0) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
        curl_easy_setopt(c->easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c->easy, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c->easy, CURLOPT_READDATA, x);
        curl_easy_setopt(c->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t) x->upload_size);
    }
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, hdrs);

    if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK) {
        st_err_set(err, ST_ERR_INTERNAL, "controller: %s %s: cannot start the transfer", x->method,
                   xfer_path(c, x));
        curl_slist_free_all(hdrs);
        return -1;
    }
    for (;;) {
        struct curl_waitfd wfd = {.fd = c->wake_fd, .events = CURL_WAIT_POLLIN, .revents = 0};
        CURLMcode mc = curl_multi_perform(c->multi, &running);
        if (mc != CURLM_OK) {
            st_err_set(err, ST_ERR_INTERNAL, "controller: %s %s: %s", x->method, xfer_path(c, x),
                       curl_multi_strerror(mc));
            goto done;
        }
        if (!running)
            break;
        mc = curl_multi_poll(c->multi, watch_wake ? &wfd : NULL, watch_wake ? 1 : 0, 1000, NULL);
        if (mc != CURLM_OK && mc != CURLM_UNRECOVERABLE_POLL) {
            st_err_set(err, ST_ERR_INTERNAL, "controller: %s %s: %s", x->method, xfer_path(c, x),
                       curl_multi_strerror(mc));
            goto done;
        }
        if (stopping(c)) {
            st_err_set(err, ST_ERR_UNAVAILABLE, "controller: %s %s: interrupted (stopping)",
                       x->method, xfer_path(c, x));
            goto done;
        }
        if (watch_wake && (wfd.revents & CURL_WAIT_POLLIN)) {
            if (x->interruptible) {
                rc = 1;
                goto done;
            }
            /* Not ours to end: stop watching (it stays readable). */
            watch_wake = false;
        }
    }
    {
        int left;
        CURLMsg *m;
        while ((m = curl_multi_info_read(c->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == c->easy)
                res = m->data.result;
    }
    if (res != CURLE_OK) {
        if (x->write_failed && x->out_fd >= 0)
            st_err_sys(err, errno, ST_ERR_INTERNAL, "controller: %s %s: cannot write the data",
                       x->method, xfer_path(c, x));
        else if (x->write_failed)
            st_err_set(err, ST_ERR_TOO_LARGE, "controller: %s %s: the reply is too large",
                       x->method, xfer_path(c, x));
        else
            st_err_set(err, ST_ERR_UNAVAILABLE, "controller: %s %s: %s", x->method, xfer_path(c, x),
                       errbuf[0] ? errbuf : curl_easy_strerror(res));
        goto done;
    }
    {
        long status = 0;
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
        x->status = status;
    }
    rc = 0;
done:
    curl_multi_remove_handle(c->multi, c->easy);
    curl_slist_free_all(hdrs);
    return rc;
}

/* A JSON call: 'body' (may be NULL) in, the reply document out. */
static int call_json(struct client *c, struct xfer *x, json_t *body, json_t **reply,
                     struct st_err *err)
{
    struct st_buf req = ST_BUF_INIT;
    struct st_err perr = ST_ERR_INIT;
    int rc;

    *reply = NULL;
    if (body) {
        st_json_dump(body, &req);
        x->json_body = &req;
    }
    rc = perform(c, x, err);
    if (rc != 0)
        goto out;
    rc = -1;
    if (x->status < 200 || x->status >= 300) {
        http_error(c, x, err);
        goto out;
    }
    *reply = st_json_parse(x->body.buf, x->body.len, &perr);
    if (!*reply) {
        st_err_set(err, ST_ERR_UNAVAILABLE, "controller: %s %s: invalid JSON reply: %s", x->method,
                   xfer_path(c, x), perr.msg);
        goto out;
    }
    rc = 0;
out:
    st_buf_release(&req);
    return rc;
}

int client_register(struct client *c, json_t *body, json_t **reply, struct st_err *err)
{
    struct xfer x;
    int rc;
    xfer_init(&x, "POST");
    st_buf_addf(&x.url, "%s/internal/v1/hosts/%s", c->base, c->host);
    rc = call_json(c, &x, body, reply, err);
    xfer_release(&x);
    return rc;
}

int client_desired(struct client *c, int64_t after, int timeout_s, json_t **reply,
                   struct st_err *err)
{
    struct xfer x;
    int rc;
    xfer_init(&x, "GET");
    if (timeout_s < 0)
        timeout_s = 0;
    if (timeout_s > 60)
        timeout_s = 60;
    st_buf_addf(&x.url, "%s/internal/v1/hosts/%s/desired?after=%lld&timeout=%d", c->base, c->host,
                (long long) after, timeout_s);
    x.interruptible = true;
    x.timeout_s = timeout_s + 30;
    rc = call_json(c, &x, NULL, reply, err);
    xfer_release(&x);
    if (rc < 0)
        return -1;
    return rc == 1 ? 0 : 1;
}

int client_report(struct client *c, json_t *body, json_t **reply, struct st_err *err)
{
    struct xfer x;
    int rc;
    xfer_init(&x, "POST");
    st_buf_addf(&x.url, "%s/internal/v1/hosts/%s/report", c->base, c->host);
    rc = call_json(c, &x, body, reply, err);
    xfer_release(&x);
    return rc;
}

static bool hex_equal(const char *a, const char *b)
{
    return strlen(a) == strlen(b) && !strcasecmp(a, b);
}

/* GET of data at 'url_path' (under the base URL) into the new file 'path',
 * digested with 'md' on the way ('x' is initialised here and released by
 * the caller; 'what' names the object in messages).  Returns the open
 * descriptor (the caller checks the digest, closes and unlinks on failure)
 * or -1 with the file removed. */
static int get_data(struct client *c, struct xfer *x, const char *url_path, const char *path,
                    const EVP_MD *md, const char *what, struct st_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    xfer_init(x, "GET");
    if (fd < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create '%s'", path);
        return -1;
    }
    st_buf_addf(&x->url, "%s%s", c->base, url_path);
    x->out_fd = fd;
    x->timeout_s = 0;
    x->body_max = CLIENT_MAX_ERROR_BODY;
    x->md5 = EVP_MD_CTX_new();
    if (!x->md5 || !EVP_DigestInit_ex(x->md5, md, NULL)) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot initialise a digest");
        goto fail;
    }
    if (perform(c, x, err) != 0)
        goto fail;
    if (x->status != 200) {
        if (x->status >= 200 && x->status < 300)
            st_err_set(err, ST_ERR_NOT_FOUND, "controller: GET %s: %s has no data",
                       xfer_path(c, x), what);
        else
            http_error(c, x, err);
        goto fail;
    }
    if (fsync(fd) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot sync '%s'", path);
        goto fail;
    }
    return fd;
fail:
    close(fd);
    unlink(path);
    return -1;
}

int client_migration_get(struct client *c, const char *mig_id, const char *name, const char *path,
                         const char *sha256_hex, int64_t size, struct st_err *err)
{
    struct xfer x;
    struct st_buf url = ST_BUF_INIT, got = ST_BUF_INIT;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int fd, rc = -1;

    if (!st_is_uuid(mig_id) || !model_mig_file_name_ok(name)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid migration file '%s' of '%s'", name, mig_id);
        return -1;
    }
    st_buf_addf(&url, "/internal/v1/migrations/%s/files/%s", mig_id, name);
    fd = get_data(c, &x, url.buf, path, EVP_sha256(), "the migration file", err);
    if (fd < 0)
        goto out;
    EVP_DigestFinal_ex(x.md5, md, &mdlen);
    st_hex_encode(md, mdlen, &got);
    if (size > 0 && x.out_len != size)
        st_err_set(err, ST_ERR_INTERNAL,
                   "migration file '%s': got %lld bytes from the controller, expected %lld", name,
                   (long long) x.out_len, (long long) size);
    else if (!hex_equal(got.buf, sha256_hex))
        st_err_set(err, ST_ERR_INTERNAL,
                   "migration file '%s': checksum mismatch: the data has SHA-256 %s, expected %s",
                   name, got.buf, sha256_hex);
    else
        rc = 0;
    if (close(fd) < 0 && rc == 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot close '%s'", path);
        rc = -1;
    }
    if (rc < 0)
        unlink(path);
out:
    EVP_MD_CTX_free(x.md5);
    xfer_release(&x);
    st_buf_release(&url);
    st_buf_release(&got);
    return rc;
}

int client_image_get(struct client *c, const char *image_id, const char *path, const char *md5_hex,
                     int64_t size, struct st_err *err)
{
    struct xfer x;
    struct st_buf got = ST_BUF_INIT, url = ST_BUF_INIT;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int fd, rc = -1;

    if (!st_is_uuid(image_id)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid image id '%s'", image_id);
        return -1;
    }
    st_buf_addf(&url, "/internal/v1/images/%s/file", image_id);
    fd = get_data(c, &x, url.buf, path, EVP_md5(), "the image", err);
    st_buf_release(&url);
    if (fd < 0) {
        EVP_MD_CTX_free(x.md5);
        xfer_release(&x);
        return -1;
    }
    EVP_DigestFinal_ex(x.md5, md, &mdlen);
    st_hex_encode(md, mdlen, &got);
    if (size > 0 && x.out_len != size) {
        st_err_set(err, ST_ERR_INTERNAL,
                   "image '%s': got %lld bytes from the controller, expected %lld", image_id,
                   (long long) x.out_len, (long long) size);
        goto out;
    }
    if (md5_hex && md5_hex[0] ? !hex_equal(got.buf, md5_hex)
                              : (x.content_md5[0] && !hex_equal(got.buf, x.content_md5))) {
        st_err_set(err, ST_ERR_INTERNAL,
                   "image '%s': checksum mismatch: the data has MD5 %s, expected %s", image_id,
                   got.buf, md5_hex && md5_hex[0] ? md5_hex : x.content_md5);
        goto out;
    }
    rc = 0;
out:
    if (close(fd) < 0 && rc == 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot close '%s'", path);
        rc = -1;
    }
    if (rc < 0)
        unlink(path);
    EVP_MD_CTX_free(x.md5);
    st_buf_release(&got);
    xfer_release(&x);
    return rc;
}

/* PUT of the file 'path' at 'url_path' (under the base URL), streamed. */
static int put_data(struct client *c, const char *url_path, const char *path, struct st_err *err)
{
    struct xfer x;
    struct stat sb;
    int fd, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &sb) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot open '%s'", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    xfer_init(&x, "PUT");
    st_buf_addf(&x.url, "%s%s", c->base, url_path);
    x.upload_fd = fd;
    x.upload_size = sb.st_size;
    x.timeout_s = 0;
    x.body_max = CLIENT_MAX_ERROR_BODY;
    if (perform(c, &x, err) != 0)
        goto out;
    if (x.status < 200 || x.status >= 300) {
        http_error(c, &x, err);
        goto out;
    }
    rc = 0;
out:
    close(fd);
    xfer_release(&x);
    return rc;
}

int client_image_put(struct client *c, const char *image_id, const char *path, struct st_err *err)
{
    struct st_buf url = ST_BUF_INIT;
    int rc;
    if (!st_is_uuid(image_id)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid image id '%s'", image_id);
        return -1;
    }
    st_buf_addf(&url, "/internal/v1/images/%s/file", image_id);
    rc = put_data(c, url.buf, path, err);
    st_buf_release(&url);
    return rc;
}

int client_migration_put(struct client *c, const char *mig_id, const char *name, const char *path,
                         struct st_err *err)
{
    struct st_buf url = ST_BUF_INIT;
    int rc;
    if (!st_is_uuid(mig_id) || !model_mig_file_name_ok(name)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid migration file '%s' of '%s'", name, mig_id);
        return -1;
    }
    st_buf_addf(&url, "/internal/v1/migrations/%s/files/%s", mig_id, name);
    rc = put_data(c, url.buf, path, err);
    st_buf_release(&url);
    return rc;
}

int client_local_ip(struct client *c, char *out, size_t n, struct st_err *err)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = -1, rc = -1, gai;

    if (!u || curl_url_set(u, CURLUPART_URL, c->base, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "cannot parse the controller URL '%s'", c->base);
        goto out;
    }
    /* An IPv6 literal comes back in brackets. */
    if (host[0] == '[') {
        size_t hl = strlen(host);
        memmove(host, host + 1, hl - 1);
        host[hl - 2] = '\0';
    }
    gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        st_err_set(err, ST_ERR_UNAVAILABLE, "cannot resolve the controller host '%s': %s", host,
                   gai_strerror(gai));
        goto out;
    }
    fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0 ||
        getsockname(fd, (struct sockaddr *) &ss, &sl) < 0) {
        st_err_sys(err, errno, ST_ERR_UNAVAILABLE, "no route to the controller host '%s'", host);
        goto out;
    }
    if (!inet_ntop(ss.ss_family,
                   ss.ss_family == AF_INET6 ? (void *) &((struct sockaddr_in6 *) &ss)->sin6_addr
                                            : (void *) &((struct sockaddr_in *) &ss)->sin_addr,
                   out, (socklen_t) n)) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot format the local address");
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (res)
        freeaddrinfo(res);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

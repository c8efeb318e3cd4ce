/*
 * console.c (agent) - the console relay (see console.h): one thread per
 * console session, between the domain's UNIX socket and an upgraded HTTP
 * connection to the controller.
 */
#include "agent/console.h"

#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/banned.h"

#define MOD "console"
#define CHUNK (64u << 10)
#define DIAL_TIMEOUT_MS 10000
#define MAX_RELAYS 64

struct relay {
    struct relay *next;
    struct consoles *cs;
    char session[64];
    char server_id[37];
    char kind[8];
    pthread_t thread;
    atomic_int cancel;   /* the session left the desired state */
    atomic_int finished; /* the thread is done: join it */
    bool seen;           /* in the last desired state */
};

struct consoles {
    char *host, *secret, *instances_path, *uri;
    char *addr, *port; /* the controller */
    char *hostport;    /* for the Host header */
    struct relay *relays;
};

/* ---- sockets ------------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

static int dial_unix(const char *path, struct st_err *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;
    if (st_snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "socket path '%s' is too long", path);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
        st_err_sys(err, errno, ST_ERR_UNAVAILABLE, "cannot connect to %s", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* A new connection to the VNC server of server 'id''s domain, from
 * libvirt (the domain's VNC listens nowhere). */
static int dial_vnc(const char *uri, const char *id, struct st_err *err)
{
    virConnectPtr conn = virConnectOpen(uri);
    virDomainPtr dom = NULL;
    char name[64];
    int fd = -1;

    if (!conn) {
        st_err_set(err, ST_ERR_UNAVAILABLE, "cannot connect to libvirt: %s",
                   virGetLastErrorMessage());
        return -1;
    }
    if (st_snprintf(name, sizeof(name), "instance-%s", id) >= 0)
        dom = virDomainLookupByName(conn, name);
    if (dom)
        fd = virDomainOpenGraphicsFD(dom, 0, VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH);
    if (fd < 0)
        st_err_set(err, ST_ERR_UNAVAILABLE, "cannot open the VNC console of %s: %s", name,
                   virGetLastErrorMessage());
    else
        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (dom)
        virDomainFree(dom);
    virConnectClose(conn);
    return fd;
}

static int dial_tcp(const struct consoles *cs, struct st_err *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
    int fd = -1, rc = getaddrinfo(cs->addr, cs->port, &hints, &res);
    if (rc != 0) {
        st_err_set(err, ST_ERR_UNAVAILABLE, "cannot resolve '%s': %s", cs->addr,
                   gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        st_err_sys(err, errno, ST_ERR_UNAVAILABLE, "cannot connect to the controller %s:%s",
                   cs->addr, cs->port);
    freeaddrinfo(res);
    return fd;
}

/* Sends the dial-back request; with 'failure' set, a plain report of it.
 * On 101 returns 0 and leaves in 'extra' what came after the headers. */
static int dial_back(struct relay *r, int fd, const char *failure, struct st_buf *extra,
                     struct st_err *err)
{
    const struct consoles *cs = r->cs;
    struct st_buf req = ST_BUF_INIT, host = ST_BUF_INIT, resp = ST_BUF_INIT;
    int64_t end = st_mono_ns() + (int64_t) DIAL_TIMEOUT_MS * 1000000;
    char *eoh = NULL;
    int rc = -1;

    st_url_escape(cs->host, &host);
    st_buf_addf(&req,
                "GET /internal/v1/hosts/%s/console/%s HTTP/1.1\r\n"
                "Host: %s\r\n"
                "Authorization: Bearer %s\r\n",
                host.buf, r->session, cs->hostport, cs->secret);
    if (failure)
        st_buf_addf(&req, "X-Console-Error: %s\r\nConnection: close\r\n\r\n", failure);
    else
        st_buf_adds(&req, "Connection: Upgrade\r\nUpgrade: stratus-console\r\n\r\n");
    if (write_all(fd, req.buf, req.len) < 0) {
        st_err_sys(err, errno, ST_ERR_UNAVAILABLE, "cannot send to the controller");
        goto out;
    }
    while (!eoh) {
        struct pollfd pf = {fd, POLLIN, 0};
        int64_t left = (end - st_mono_ns()) / 1000000;
        ssize_t n;
        if (left <= 0 || resp.len > 8192) {
            st_err_set(err, ST_ERR_UNAVAILABLE, "the controller did not answer the dial-back");
            goto out;
        }
        if (poll(&pf, 1, (int) left) <= 0)
            continue;
        st_buf_grow(&resp, 4096);
        n = recv(fd, resp.buf + resp.len, 4096, 0);
        if (n <= 0) {
            st_err_set(err, ST_ERR_UNAVAILABLE, "the controller closed the dial-back");
            goto out;
        }
        resp.len += (size_t) n;
        resp.buf[resp.len] = '\0';
        eoh = strstr(resp.buf, "\r\n\r\n");
    }
    if (failure) {
        rc = 0;
        goto out;
    }
    if (strncmp(resp.buf, "HTTP/1.1 101", 12)) {
        char *eol = strstr(resp.buf, "\r\n");
        st_err_set(err, ST_ERR_UNAVAILABLE, "the controller refused the dial-back: %.*s",
                   (int) (eol ? eol - resp.buf : 40), resp.buf);
        goto out;
    }
    eoh += 4;
    st_buf_add(extra, eoh, resp.len - (size_t) (eoh - resp.buf));
    rc = 0;
out:
    st_buf_release(&req);
    st_buf_release(&host);
    st_buf_release(&resp);
    return rc;
}

static void pump(struct relay *r, int guest, int ctl)
{
    char *buf = st_xmalloc(CHUNK);
    while (!atomic_load(&r->cancel)) {
        struct pollfd pf[2] = {{guest, POLLIN, 0}, {ctl, POLLIN, 0}};
        int n = poll(pf, 2, 500);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        for (int i = 0; i < 2; i++) {
            ssize_t got;
            if (!pf[i].revents)
                continue;
            got = recv(pf[i].fd, buf, CHUNK, 0);
            if (got <= 0 || write_all(pf[1 - i].fd, buf, (size_t) got) < 0)
                goto out;
        }
    }
out:
    free(buf);
}

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    struct st_err err = ST_ERR_INIT, derr = ST_ERR_INIT;
    struct st_buf path = ST_BUF_INIT, extra = ST_BUF_INIT;
    int guest, ctl = -1;

    st_buf_addf(&path, "%s/%s/console.sock", r->cs->instances_path, r->server_id);
    if (!strcmp(r->kind, "vnc"))
        guest = dial_vnc(r->cs->uri, r->server_id, &derr);
    else
        guest = dial_unix(path.buf, &derr);
    ctl = dial_tcp(r->cs, &err);
    if (ctl < 0)
        goto out;
    if (guest < 0) {
        /* Tell the controller, so the browser hears it now. */
        log_warnx(MOD, "server %s: %s console session %s: %s", r->server_id, r->kind, r->session,
                  derr.msg);
        ST_IGNORE(dial_back(r, ctl, "the console socket cannot be opened", &extra, &err));
        st_err_clear(&err);
        goto out;
    }
    if (dial_back(r, ctl, NULL, &extra, &err) < 0)
        goto out;
    if (extra.len && write_all(guest, extra.buf, extra.len) < 0)
        goto out;
    log_info(MOD, "server %s: %s console session %s relaying", r->server_id, r->kind,
             r->session);
    pump(r, guest, ctl);
    log_info(MOD, "server %s: %s console session %s ended", r->server_id, r->kind, r->session);
out:
    if (st_err_is_set(&err))
        log_warnx(MOD, "server %s: %s console session %s: %s", r->server_id, r->kind, r->session,
                  err.msg);
    if (guest >= 0)
        close(guest);
    if (ctl >= 0)
        close(ctl);
    st_buf_release(&path);
    st_buf_release(&extra);
    atomic_store(&r->finished, 1);
    return NULL;
}

/* ---- the set of relays ------------------------------------------------------ */

static bool hex_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 16 || n >= 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

struct consoles *consoles_new(const char *controller_url, const char *host, const char *secret,
                              const char *instances_path, const char *libvirt_uri,
                              struct st_err *err)
{
    struct consoles *cs;
    const char *p = controller_url, *colon, *end;

    if (!p || strncmp(p, "http://", 7)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "console relay: controller URL '%s' is not http://ADDR[:PORT]",
                   p ? p : "");
        return NULL;
    }
    p += 7;
    end = p + strcspn(p, "/");
    cs = st_xcalloc(1, sizeof(*cs));
    cs->hostport = st_xstrndup(p, (size_t) (end - p));
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t) (end - p));
        if (!rb) {
            consoles_free(cs);
            st_err_set(err, ST_ERR_BAD_REQUEST, "console relay: bad controller URL '%s'",
                       controller_url);
            return NULL;
        }
        cs->addr = st_xstrndup(p + 1, (size_t) (rb - p - 1));
        cs->port = st_xstrdup(rb[1] == ':' ? rb + 2 : "80");
        cs->port[strcspn(cs->port, "/")] = '\0';
    } else {
        colon = memchr(p, ':', (size_t) (end - p));
        cs->addr = st_xstrndup(p, (size_t) ((colon ? colon : end) - p));
        cs->port = colon ? st_xstrndup(colon + 1, (size_t) (end - colon - 1)) : st_xstrdup("80");
    }
    cs->host = st_xstrdup(host);
    cs->secret = st_xstrdup(secret);
    cs->instances_path = st_xstrdup(instances_path);
    cs->uri = st_xstrdup(libvirt_uri);
    return cs;
}

static void relay_reap(struct relay *r)
{
    pthread_join(r->thread, NULL);
    free(r);
}

void consoles_free(struct consoles *cs)
{
    if (!cs)
        return;
    for (struct relay *r = cs->relays; r; r = r->next)
        atomic_store(&r->cancel, 1);
    while (cs->relays) {
        struct relay *r = cs->relays;
        cs->relays = r->next;
        relay_reap(r);
    }
    free(cs->host);
    free(cs->secret);
    free(cs->instances_path);
    free(cs->uri);
    free(cs->addr);
    free(cs->port);
    free(cs->hostport);
    free(cs);
}

void consoles_sync(struct consoles *cs, const json_t *list)
{
    size_t i, n = 0;
    json_t *e;

    if (!cs)
        return;
    for (struct relay *r = cs->relays; r; r = r->next) {
        r->seen = false;
        n++;
    }
    json_array_foreach(json_is_array(list) ? list : NULL, i, e) {
        const char *session = json_string_value(json_object_get(e, "session"));
        const char *server = json_string_value(json_object_get(e, "server_id"));
        const char *kind = json_string_value(json_object_get(e, "kind"));
        struct relay *r;
        if (!session || !server || !kind || !hex_id(session) || !st_is_uuid(server) ||
            (strcmp(kind, "vnc") && strcmp(kind, "serial")))
            continue;
        for (r = cs->relays; r; r = r->next)
            if (!strcmp(r->session, session))
                break;
        if (r) {
            /* Dialled once: never again, even after it ended. */
            r->seen = true;
            continue;
        }
        if (n >= MAX_RELAYS)
            continue;
        r = st_xcalloc(1, sizeof(*r));
        r->cs = cs;
        ST_IGNORE(st_snprintf(r->session, sizeof(r->session), "%s", session));
        ST_IGNORE(st_snprintf(r->server_id, sizeof(r->server_id), "%s", server));
        ST_IGNORE(st_snprintf(r->kind, sizeof(r->kind), "%s", kind));
        r->seen = true;
        if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
            log_warnx(MOD, "cannot start a relay thread for console session %s", session);
            free(r);
            continue;
        }
        r->next = cs->relays;
        cs->relays = r;
        n++;
    }
    /* Sessions gone from the desired state: end them; free the threads
     * that are done. */
    for (struct relay **pp = &cs->relays; *pp;) {
        struct relay *r = *pp;
        if (!r->seen)
            atomic_store(&r->cancel, 1);
        if (!r->seen && atomic_load(&r->finished)) {
            *pp = r->next;
            relay_reap(r);
            continue;
        }
        pp = &r->next;
    }
}

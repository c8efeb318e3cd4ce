/*
 * metadata_proxy.c - the metadata proxies of the host's namespaces (see
 * metadata_proxy.h).
 *
 * Threads: mdp_sync() runs in the reconcile loop; each proxy's
 * libmicrohttpd daemon runs its own threads, which read the proxy's mapping
 * under its lock (copying what a request needs) and never touch the
 * reconciler.  A proxy's daemon is stopped (joining its threads) before
 * the proxy is freed.
 */
#include "agent/metadata_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "agent/netlink.h"
#include "agent/netns.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "metadata/sign.h"
#include "common/banned.h"

#define MOD "metadata"
#define BODY_MAX 4096           /* a guest's POST (the password is 255 at most) */
#define REPLY_MAX (1 << 20)     /* the controller's answer (user data is 64 KiB) */
#define FORWARD_TIMEOUT_S 10L
#define MAX_CONNECTIONS 64      /* per namespace */
#define CONNECTION_TIMEOUT_S 10

struct leg {
    uint32_t net, mask;               /* host order */
    char network_id[MODEL_ID_MAX];
};

struct srv {
    char netns[MODEL_NETNS_MAX];
    dev_t dev;                        /* of /run/netns/NAME when the socket was made */
    ino_t ino;
    struct MHD_Daemon *mhd;
    struct mdp *p;
    bool seen;                        /* wanted by the current sync */

    pthread_mutex_t lock;             /* guards the mapping below */
    char router_id[MODEL_ID_MAX];     /* "" for a DHCP namespace */
    struct leg *legs;
    size_t nlegs;
    uint32_t *hosts;                  /* DHCP: the ports' addresses, sorted; NULL: any */
    size_t nhosts;
};

struct mdp {
    char *controller;
    int port;
    pthread_mutex_t lock;             /* guards 'secret' */
    char secret[128];
    struct srv **srv;
    size_t n;
    atomic_uint_fast64_t forwarded, refused;
};

struct mdp *mdp_new(const char *controller_url, int port)
{
    struct mdp *p = st_xcalloc(1, sizeof(*p));
    size_t n = strlen(controller_url);
    p->controller = st_xstrdup(controller_url);
    while (n && p->controller[n - 1] == '/')
        p->controller[--n] = '\0';
    p->port = port;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

static void srv_free(struct srv *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd); /* closes the listening socket */
    pthread_mutex_destroy(&s->lock);
    free(s->legs);
    free(s->hosts);
    free(s);
}

void mdp_free(struct mdp *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        srv_free(p->srv[i]);
    free(p->srv);
    explicit_bzero(p->secret, sizeof(p->secret));
    pthread_mutex_destroy(&p->lock);
    free(p->controller);
    free(p);
}

void mdp_counts(const struct mdp *p, uint64_t *forwarded, uint64_t *refused)
{
    *forwarded = atomic_load(&p->forwarded);
    *refused = atomic_load(&p->refused);
}

/* ---- requests ---- */

struct req {
    struct st_buf body;
    bool too_big;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct st_buf *b = arg;
    size_t n = size * nmemb;
    if (b->len + n > REPLY_MAX)
        return 0;
    st_buf_add(b, data, n);
    return n;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             const void *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *) body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (!r)
        return MHD_NO;
    if (type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return reply(conn, status, "text/plain; charset=UTF-8", msg, strlen(msg));
}

/* A guest path we pass on: [A-Za-z0-9._-] segments, no "..". */
static bool path_ok(const char *url)
{
    if (url[0] != '/' || strstr(url, ".."))
        return false;
    for (const char *c = url; *c; c++)
        if (!(((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z') || (*c >= '0' && *c <= '9') ||
              strchr("/._-", *c)))
            return false;
    return strlen(url) < 512;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

/* The network of source 'addr' in 's', into 'network' (and the router id),
 * or false when no port of it may have that address. */
static bool identify(struct srv *s, uint32_t addr, char network[MODEL_ID_MAX],
                     char router[MODEL_ID_MAX])
{
    bool ok = false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nlegs && !ok; i++) {
        if ((addr & s->legs[i].mask) != s->legs[i].net)
            continue;
        if (s->hosts && !bsearch(&addr, s->hosts, s->nhosts, sizeof(*s->hosts), cmp_u32))
            break;
        memcpy(network, s->legs[i].network_id, MODEL_ID_MAX);
        memcpy(router, s->router_id, MODEL_ID_MAX);
        ok = true;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static enum MHD_Result forward(struct srv *s, struct MHD_Connection *conn, const char *url,
                               bool post, const struct st_buf *body)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr_in *sin;
    char addr[INET_ADDRSTRLEN], network[MODEL_ID_MAX], router[MODEL_ID_MAX], secret[128];
    char sig[MDS_SIG_LEN + 1], errbuf[CURL_ERROR_SIZE] = "";
    struct st_buf target = ST_BUF_INIT, h = ST_BUF_INIT, out = ST_BUF_INIT;
    struct curl_slist *hdrs = NULL;
    enum MHD_Result ret;
    CURL *easy;
    CURLcode cc;
    long status = 0;
    char *ctype = NULL;

    if (!ci || !ci->client_addr || ci->client_addr->sa_family != AF_INET)
        return text(conn, MHD_HTTP_NOT_FOUND, "Not Found");
    sin = (const struct sockaddr_in *) (const void *) ci->client_addr;
    if (!inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr)) ||
        !identify(s, ntohl(sin->sin_addr.s_addr), network, router)) {
        atomic_fetch_add(&s->p->refused, 1);
        return text(conn, MHD_HTTP_NOT_FOUND, "Not Found");
    }
    pthread_mutex_lock(&s->p->lock);
    memcpy(secret, s->p->secret, sizeof(secret));
    pthread_mutex_unlock(&s->p->lock);
    mds_sign(secret, network, addr, sig);
    explicit_bzero(secret, sizeof(secret));

    st_buf_addf(&target, "%s/internal/v1/metadata%s", s->p->controller, url);
    st_buf_addf(&h, "%s: %s", MDS_HDR_ADDR, addr);
    hdrs = curl_slist_append(hdrs, h.buf);
    st_buf_reset(&h);
    st_buf_addf(&h, "%s: %s", MDS_HDR_NETWORK, network);
    hdrs = curl_slist_append(hdrs, h.buf);
    if (router[0]) {
        st_buf_reset(&h);
        st_buf_addf(&h, "%s: %s", MDS_HDR_ROUTER, router);
        hdrs = curl_slist_append(hdrs, h.buf);
    }
    st_buf_reset(&h);
    st_buf_addf(&h, "%s: %s", MDS_HDR_SIG, sig);
    hdrs = curl_slist_append(hdrs, h.buf);
    hdrs = curl_slist_append(hdrs, "Expect:");
    hdrs = curl_slist_append(hdrs, "Content-Type: text/plain");

    easy = curl_easy_init();
    if (!easy) {
        ret = text(conn, MHD_HTTP_BAD_GATEWAY, "Bad Gateway");
        goto out;
    }
    curl_easy_setopt(easy, CURLOPT_URL, target.buf);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT, FORWARD_TIMEOUT_S);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &out);
    if (post) {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body->buf);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body->len);
    }
    cc = curl_easy_perform(easy);
    if (cc != CURLE_OK) {
        log_warnx(MOD, "%s: cannot forward %s from %s: %s", s->netns, url, addr,
                  errbuf[0] ? errbuf : curl_easy_strerror(cc));
        ret = text(conn, MHD_HTTP_BAD_GATEWAY, "Bad Gateway");
        goto out;
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ctype);
    atomic_fetch_add(&s->p->forwarded, 1);
    if (status == 200)
        ret = reply(conn, 200, ctype, out.buf, out.len);
    else if (status == 404)
        ret = text(conn, MHD_HTTP_NOT_FOUND, "Not Found");
    else if (status == 409)
        ret = text(conn, MHD_HTTP_CONFLICT, "Conflict");
    else if (status == 400 || status == 405)
        ret = text(conn, (unsigned) status, status == 400 ? "Bad Request" : "Method Not Allowed");
    else {
        log_warnx(MOD, "%s: the controller answered %ld to %s from %s", s->netns, status, url,
                  addr);
        ret = text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
out:
    if (easy)
        curl_easy_cleanup(easy);
    curl_slist_free_all(hdrs);
    st_buf_release(&target);
    st_buf_release(&h);
    st_buf_release(&out);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct srv *s = cls;
    struct req *r = *con_cls;
    bool post = !strcmp(method, "POST");
    (void) version;

    if (!r) {
        r = st_xcalloc(1, sizeof(*r));
        st_buf_init(&r->body, 0);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->body.len + *upload_data_size > BODY_MAX)
            r->too_big = true;
        else
            st_buf_add(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!post && strcmp(method, "GET") && strcmp(method, "HEAD"))
        return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
    if (r->too_big)
        return text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "Request Entity Too Large");
    if (!path_ok(url))
        return text(conn, MHD_HTTP_NOT_FOUND, "Not Found");
    return forward(s, conn, url, post, &r->body);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    (void) cls, (void) conn, (void) toe;
    if (!r)
        return;
    st_buf_release(&r->body);
    free(r);
    *con_cls = NULL;
}

/* ---- namespaces ---- */

struct listen_arg {
    int port;
    int fd;
};

/* In the namespace: the listening socket on 169.254.169.254:PORT. */
static int open_listener(void *arg, struct st_err *err)
{
    struct listen_arg *a = arg;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t) a->port)};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot make a socket");
        return -1;
    }
    (void) inet_pton(AF_INET, MDP_ADDRESS, &sin.sin_addr);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *) &sin, sizeof(sin)) < 0 || listen(fd, 128) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot listen on %s:%d", MDP_ADDRESS, a->port);
        close(fd);
        return -1;
    }
    a->fd = fd;
    return 0;
}

static int ns_inode(const char *netns, dev_t *dev, ino_t *ino)
{
    struct st_buf path = ST_BUF_INIT;
    struct stat st;
    int rc;
    st_buf_addf(&path, "%s/%s", NETNS_RUN_DIR, netns);
    rc = stat(path.buf, &st);
    st_buf_release(&path);
    if (rc < 0)
        return -1;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 0;
}

/* Starts the proxy of 's' in its namespace. */
static int srv_start(struct srv *s, struct st_err *err)
{
    struct listen_arg a = {.port = s->p->port, .fd = -1};
    struct nl_sock *nl;
    int rc;

    nl = nl_open(s->netns, err);
    if (!nl)
        return -1;
    rc = nl_link_set_up(nl, "lo", true, err);
    if (rc == 0)
        rc = nl_addr_add(nl, "lo", MDP_ADDRESS, 32, err);
    nl_close(nl);
    if (rc < 0 || netns_call(s->netns, open_listener, &a, err) < 0)
        return -1;
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                  MHD_USE_POLL,
                              0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, a.fd,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned) MAX_CONNECTIONS,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) CONNECTION_TIMEOUT_S,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->mhd) {
        close(a.fd);
        st_err_set(err, ST_ERR_INTERNAL, "%s: cannot start the metadata proxy", s->netns);
        return -1;
    }
    return 0;
}

static uint32_t mask_of(int prefixlen)
{
    return prefixlen <= 0 ? 0 : prefixlen >= 32 ? 0xffffffffu : ~((1u << (32 - prefixlen)) - 1);
}

static bool ip4(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

/* The mapping of a DHCP namespace: the network's IPv4 subnets, and its
 * ports' addresses. */
static void map_dhcp(struct srv *s, const struct model_network *n)
{
    const struct model_dhcp *dh = n->dhcp;
    struct leg *legs = st_xcalloc(dh->nsubnets + 1, sizeof(*legs));
    uint32_t *hosts = st_xcalloc(dh->nhosts + 1, sizeof(*hosts));
    size_t nlegs = 0, nhosts = 0;

    for (size_t i = 0; i < dh->nsubnets; i++) {
        const struct model_subnet *sn = &dh->subnets[i];
        char net[MODEL_CIDR_MAX];
        char *slash;
        uint32_t a;
        if (sn->ip_version != 4)
            continue;
        memcpy(net, sn->cidr, sizeof(net));
        slash = strchr(net, '/');
        if (slash)
            *slash = '\0';
        if (!ip4(net, &a))
            continue;
        legs[nlegs].mask = mask_of(sn->prefixlen);
        legs[nlegs].net = a & legs[nlegs].mask;
        memcpy(legs[nlegs].network_id, n->id, sizeof(n->id));
        nlegs++;
    }
    for (size_t i = 0; i < dh->nhosts; i++)
        if (dh->hosts[i].family == AF_INET && ip4(dh->hosts[i].ip, &hosts[nhosts]))
            nhosts++;
    qsort(hosts, nhosts, sizeof(*hosts), cmp_u32);
    pthread_mutex_lock(&s->lock);
    free(s->legs);
    free(s->hosts);
    s->legs = legs, s->nlegs = nlegs;
    s->hosts = hosts, s->nhosts = nhosts;
    s->router_id[0] = '\0';
    pthread_mutex_unlock(&s->lock);
}

/* The mapping of a router namespace: the subnets of its interfaces. */
static void map_router(struct srv *s, const struct model_router *r)
{
    size_t max = r->ninterfaces * MODEL_MAX_IPS + 1, nlegs = 0;
    struct leg *legs = st_xcalloc(max, sizeof(*legs));
    for (size_t i = 0; i < r->ninterfaces; i++) {
        const struct model_router_port *rp = &r->interfaces[i];
        for (int j = 0; j < rp->nips; j++) {
            uint32_t a;
            if (rp->ips[j].family != AF_INET || !ip4(rp->ips[j].address, &a))
                continue;
            legs[nlegs].mask = mask_of(rp->ips[j].prefixlen);
            legs[nlegs].net = a & legs[nlegs].mask;
            memcpy(legs[nlegs].network_id, rp->network_id, sizeof(rp->network_id));
            nlegs++;
        }
    }
    pthread_mutex_lock(&s->lock);
    free(s->legs);
    free(s->hosts);
    s->legs = legs, s->nlegs = nlegs;
    s->hosts = NULL, s->nhosts = 0;
    memcpy(s->router_id, r->id, sizeof(r->id));
    pthread_mutex_unlock(&s->lock);
}

/* The proxy of namespace 'netns', started if needed; NULL when the
 * namespace does not exist (yet) or the proxy cannot start. */
static struct srv *want(struct mdp *p, const char *netns, int *rc, struct st_err *err)
{
    struct st_err e = ST_ERR_INIT;
    struct srv *s = NULL;
    dev_t dev;
    ino_t ino;
    size_t i;

    for (i = 0; i < p->n; i++)
        if (!strcmp(p->srv[i]->netns, netns))
            break;
    if (ns_inode(netns, &dev, &ino) < 0) {
        /* No namespace (yet): the network driver makes it; try next pass. */
        if (i < p->n)
            p->srv[i]->seen = false;
        return NULL;
    }
    if (i < p->n) {
        s = p->srv[i];
        if (s->dev == dev && s->ino == ino) {
            s->seen = true;
            return s;
        }
        /* Made again: the old socket lives in a namespace nobody sees. */
        srv_free(s);
        p->srv[i] = p->srv[--p->n];
    }
    s = st_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    if (st_snprintf(s->netns, sizeof(s->netns), "%s", netns) < 0) {
        srv_free(s);
        return NULL;
    }
    s->p = p;
    s->dev = dev;
    s->ino = ino;
    if (srv_start(s, &e) < 0) {
        if (*rc == 0)
            *err = e; /* the first failure is the one returned */
        *rc = -1;
        srv_free(s);
        return NULL;
    }
    s->seen = true;
    p->srv = st_xrealloc(p->srv, (p->n + 1) * sizeof(*p->srv));
    p->srv[p->n++] = s;
    log_info(MOD, "metadata proxy on %s:%d in %s", MDP_ADDRESS, p->port, netns);
    return s;
}

int mdp_sync(struct mdp *p, const struct model_desired *d, struct st_err *err)
{
    int rc = 0;
    size_t w = 0;

    pthread_mutex_lock(&p->lock);
    memcpy(p->secret, d->metadata_secret, sizeof(p->secret));
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->n; i++)
        p->srv[i]->seen = false;
    if (d->metadata_secret[0]) {
        for (size_t i = 0; i < d->nnetworks; i++) {
            const struct model_network *n = &d->networks[i];
            struct srv *s;
            if (!n->dhcp)
                continue;
            s = want(p, n->dhcp_ns, &rc, err);
            if (s)
                map_dhcp(s, n);
        }
        for (size_t i = 0; i < d->nrouters; i++) {
            struct srv *s = want(p, d->routers[i].netns, &rc, err);
            if (s)
                map_router(s, &d->routers[i]);
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        if (p->srv[i]->seen) {
            p->srv[w++] = p->srv[i];
            continue;
        }
        log_info(MOD, "metadata proxy of %s stopped", p->srv[i]->netns);
        srv_free(p->srv[i]);
    }
    p->n = w;
    return rc;
}

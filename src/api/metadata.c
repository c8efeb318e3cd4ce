/*
 * metadata.c (api) - the metadata service (see metadata.h).
 *
 * A request comes from an agent's proxy in a qdhcp or qrouter namespace,
 * with the guest's path, the network it arrived from and its source address
 * (metadata/sign.h headers), signed with the shared secret.  Unsigned or
 * badly signed requests get 403 before anything is looked up.  The guest is
 * the server of the port that holds that fixed address on that network (a
 * compute port bound to a server); no port, no answer (404).  Its SERVER
 * document is the one the desired state carries, parsed by the agent's
 * model and rendered as its config drive is.
 */
#include "api/metadata.h"

#include <string.h>
#include <sys/stat.h>

#include "agent/model.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "compute/host.h"
#include "metadata/render.h"
#include "metadata/sign.h"
#include "common/banned.h"

#define MD_PREFIX "/internal/v1/metadata"
#define SECRET_FILE "metadata_secret"
#define PASSWORD_MAX 255 /* Nova's limit on a posted password */

int metadata_secret_load(const struct cfg *cfg, struct st_buf *out, struct st_err *err)
{
    const char *conf = cfg_str(cfg, "metadata", "shared_secret");
    struct st_buf path = ST_BUF_INIT, data = ST_BUF_INIT;
    struct st_err rerr = ST_ERR_INIT;
    struct stat st;
    int rc = -1;

    if (conf && *conf) {
        st_buf_adds(out, conf);
        return 0;
    }
    st_buf_addf(&path, "%s/" SECRET_FILE, cfg_str(cfg, "DEFAULT", "data_dir"));
    if (stat(path.buf, &st) < 0) {
        unsigned char raw[32];
        st_random(raw, sizeof(raw));
        st_base64url_encode(raw, sizeof(raw), &data);
        explicit_bzero(raw, sizeof(raw));
        st_buf_addch(&data, '\n');
        if (st_mkdir_p(cfg_str(cfg, "DEFAULT", "data_dir"), 0700, err) < 0 ||
            st_write_file(path.buf, data.buf, data.len, 0600, err) < 0)
            goto out;
        st_buf_reset(&data);
    }
    if (st_read_file(path.buf, 4096, &data, &rerr) < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot read the metadata secret '%s': %s", path.buf,
                   rerr.msg);
        goto out;
    }
    while (data.len && (data.buf[data.len - 1] == '\n' || data.buf[data.len - 1] == '\r' ||
                        data.buf[data.len - 1] == ' '))
        data.buf[--data.len] = '\0';
    if (data.len < 16) {
        st_err_set(err, ST_ERR_INTERNAL, "the metadata secret '%s' is too short", path.buf);
        goto out;
    }
    st_buf_add(out, data.buf, data.len);
    rc = 0;
out:
    if (data.len)
        explicit_bzero(data.buf, data.len);
    st_buf_release(&data);
    st_buf_release(&path);
    return rc;
}

/* The guest's path: what follows MD_PREFIX, without slashes around it. */
static const char *guest_path(const struct api_req *req)
{
    const char *p = req->path + strlen(MD_PREFIX);
    while (*p == '/')
        p++;
    return p;
}

/* The server id of the compute port with fixed address 'addr' on 'network',
 * into 'server' (NOT_FOUND when there is none). */
static int find_server(struct store_conn *c, const char *network, const char *addr,
                       char server[64], char port[64], struct st_err *err)
{
    struct store_stmt *s =
        store_query(c, err,
                    "SELECT p.device_id, p.id FROM ip_allocations a JOIN ports p ON p.id ="
                    " a.port_id WHERE a.network_id = ? AND a.ip_address = ? AND p.device_owner"
                    " LIKE 'compute:%' AND p.device_id <> '' ORDER BY p.id",
                    STORE_ARGS(P(network), P(addr)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0 && (st_snprintf(server, 64, "%s", store_text(s, 0)) < 0 ||
                   st_snprintf(port, 64, "%s", store_text(s, 1)) < 0))
        rc = 0;
    store_done(s);
    if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "no instance has address %s on network %s", addr,
                   network);
    return rc > 0 ? 0 : -1;
}

/* Text column 0 of the one-row query, as a new string, or NULL. */
static char *one_text(struct store_conn *c, const char *sql, const char *arg1, const char *arg2,
                      struct st_err *err, bool *failed)
{
    struct store_stmt *s = arg2 ? store_query(c, err, sql, STORE_ARGS(P(arg1), P(arg2)))
                                : store_query(c, err, sql, STORE_ARGS(P(arg1)));
    char *v = NULL;
    int rc;
    if (!s) {
        *failed = true;
        return NULL;
    }
    rc = store_next(s, err);
    if (rc > 0 && store_text(s, 0))
        v = st_xstrdup(store_text(s, 0));
    if (rc < 0)
        *failed = true;
    store_done(s);
    return v;
}

static int post_password(struct store_conn *c, const char *server, const char *body, size_t len,
                         struct st_err *err)
{
    int64_t n;
    if (len > PASSWORD_MAX || memchr(body, '\0', len)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Request is too large.");
        return -1;
    }
    n = store_exec(c, err,
                   "INSERT INTO server_passwords (server_id, password, created_at) VALUES (?, ?,"
                   " ?) ON CONFLICT (server_id) DO NOTHING",
                   STORE_ARGS(P(server), P(body), P(st_now_us() / 1000000)));
    if (n < 0)
        return -1;
    if (n == 0) {
        st_err_set(err, ST_ERR_CONFLICT, "Password already set.");
        return -1;
    }
    return 0;
}

static int metadata_serve(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const char *path = guest_path(req);
    const char *addr = api_header(req, MDS_HDR_ADDR), *net = api_header(req, MDS_HDR_NETWORK);
    const char *sig = api_header(req, MDS_HDR_SIG);
    const char *secret = req->app->metadata_secret;
    struct model_server srv;
    struct mdr_instance in = {0};
    struct st_buf seed = ST_BUF_INIT;
    char server[64], port[64], *fip = NULL, *password = NULL;
    bool post = !strcmp(req->method, "POST"), failed = false;
    struct store_conn *c;
    json_t *doc = NULL;
    const char *ctype;
    int rc = -1;

    if (!mds_verify(secret, net, addr, sig)) {
        log_warnx("metadata", "refused a request for '/%s' with %s signature", path,
                  sig ? "a bad" : "no");
        st_err_set(err, ST_ERR_FORBIDDEN, "Invalid proxy request signature.");
        return -1;
    }
    c = api_db(req, err);
    if (!c || find_server(c, net, addr, server, port, err) < 0)
        return -1;
    if (post) {
        size_t n = strlen(path);
        /* Only .../password takes a POST (of any OpenStack version). */
        if (strncmp(path, "openstack/", 10) || n < 9 || strcmp(path + n - 9, "/password")) {
            st_err_set(err, ST_ERR_METHOD_NOT_ALLOWED, "Only the password may be posted.");
            return -1;
        }
        if (post_password(c, server, req->body.buf, req->body.len, err) < 0)
            return -1;
        api_reply(resp, 200, NULL);
        resp->content_type = "text/plain";
        return 0;
    }
    doc = host_server_doc(c, server, err);
    if (!doc)
        return -1;
    memset(&srv, 0, sizeof(srv));
    if (model_server_parse(doc, &srv, err) < 0)
        goto out;
    fip = one_text(c,
                   "SELECT floating_ip_address FROM floatingips WHERE port_id = ? AND"
                   " fixed_ip_address = ? ORDER BY floating_ip_address",
                   port, addr, err, &failed);
    password = one_text(c, "SELECT password FROM server_passwords WHERE server_id = ?", server,
                        NULL, err, &failed);
    if (failed)
        goto out;
    if (strstr(path, "meta_data.json")) {
        unsigned char rnd[512];
        st_random(rnd, sizeof(rnd));
        st_base64_encode(rnd, sizeof(rnd), &seed);
        in.random_seed = seed.buf;
    }
    in.server = &srv;
    in.local_ipv4 = strchr(addr, ':') ? NULL : addr;
    in.public_ipv4 = fip;
    in.password = password;
    if (mdr_lookup(&in, path, &resp->body, &ctype, err) < 0)
        goto out;
    resp->status = 200;
    resp->content_type = ctype;
    rc = 0;
out:
    model_server_release(&srv);
    json_decref(doc);
    free(fip);
    free(password);
    st_buf_release(&seed);
    return rc;
}

/* Every depth of guest path (the router matches whole segments). */
#define MD_ROUTE(m, pattern) {m, MD_PREFIX pattern, metadata_serve, 0, SVC_INTERNAL, NULL}
#define MD_ROUTES(m)                                                                               \
    MD_ROUTE(m, ""), MD_ROUTE(m, "/{a}"), MD_ROUTE(m, "/{a}/{b}"), MD_ROUTE(m, "/{a}/{b}/{c}"),    \
        MD_ROUTE(m, "/{a}/{b}/{c}/{d}"), MD_ROUTE(m, "/{a}/{b}/{c}/{d}/{e}"),                      \
        MD_ROUTE(m, "/{a}/{b}/{c}/{d}/{e}/{f}")
const struct route metadata_routes[] = {MD_ROUTES("GET"), MD_ROUTES("POST")};
const size_t metadata_routes_count = sizeof(metadata_routes) / sizeof(metadata_routes[0]);

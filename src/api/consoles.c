/*
 * consoles.c (api) - remote consoles (see consoles.h).
 *
 * The path of a console's bytes, browser to guest:
 *
 *   browser --WebSocket--> stratusd /console/ws?token=T   (this file)
 *       token consumed (compute/console.c); a session row is made and the
 *       host's revision bumped, so its agent's long-poll answers at once
 *   agent --GET /internal/v1/hosts/H/console/S, Upgrade: stratus-console-->
 *       stratusd, host-authenticated; 101, then raw bytes
 *   agent <--> the domain's UNIX socket (INSTANCE_DIR/vnc.sock or
 *       console.sock; src/agent/console.c)
 *
 * stratusd splices the WebSocket payload of the browser's connection with
 * the agent's raw stream.  Both upgraded connections run in their own
 * libmicrohttpd connection threads (thread-per-connection mode, where an
 * upgrade handler may block): the browser's thread runs the relay, the
 * agent's thread hands its socket over and waits for the relay to end.
 * The sessions being set up or relayed live in a list under one mutex.
 */
#include "api/consoles.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/ws.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "compute/console.h"
#include "store/revision.h"
#include "common/banned.h"

#define MOD "console"
#define V21 "/compute/v2.1"
#define AGENT_WAIT_MS 10000     /* a session the agent does not dial in time fails */
#define RELAY_CHUNK (64u << 10) /* bytes read from a socket at once */
#define WS_MAX_PAYLOAD (1u << 20)

enum ws_proto { PROTO_NONE, PROTO_BINARY, PROTO_BASE64 };

struct session {
    struct session *next;
    char id[48];
    char host[256];
    struct console_target t;
    /* Set by the agent's dial-back (under 'mu'). */
    bool agent_ready;
    int agent_fd;
    struct st_buf agent_extra; /* bytes MHD read past the agent's request */
    char error[128];           /* the agent could not open the console */
    bool done;                 /* the relay ended: the agent's thread may go */
    int refs;                  /* agent threads still holding the session */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct session *sessions;

static struct session *find_locked(const char *id, const char *host)
{
    for (struct session *s = sessions; s; s = s->next)
        if (!strcmp(s->id, id) && !strcmp(s->host, host))
            return s;
    return NULL;
}

/* ---- URLs and the API ---------------------------------------------------- */

static int64_t token_ttl(const struct api_req *req)
{
    return req->app->cfg ? cfg_int(req->app->cfg, "console", "token_ttl") : 600;
}

/* The URL of console 'kind' with 'token'; noVNC's vnc_lite.html reads the
 * WebSocket path from its "path" argument, as Nova's URLs give it. */
static void console_url(const struct api_req *req, const char *kind, const char *token,
                        struct st_buf *out)
{
    const char *base = req->base_url.buf;
    if (!strcmp(kind, "vnc")) {
        st_buf_addf(out, "%s/console/novnc/vnc_lite.html?path=console/ws%%3Ftoken%%3D%s", base,
                    token);
        return;
    }
    if (!strncmp(base, "https://", 8))
        st_buf_addf(out, "wss://%s", base + 8);
    else if (!strncmp(base, "http://", 7))
        st_buf_addf(out, "ws://%s", base + 7);
    else
        st_buf_adds(out, base);
    st_buf_addf(out, "/console/serial?token=%s", token);
}

/* Maps Nova's (protocol, type) to our kind, or fails as Nova does. */
static const char *kind_of(const char *protocol, const char *type, struct st_err *err)
{
    if (protocol && !strcmp(protocol, "vnc") && (!type || !strcmp(type, "novnc")))
        return "vnc";
    if (protocol && !strcmp(protocol, "serial") && (!type || !strcmp(type, "serial")))
        return "serial";
    if (protocol && (!strcmp(protocol, "spice") || !strcmp(protocol, "rdp") ||
                     !strcmp(protocol, "mks") || !strcmp(protocol, "vnc") ||
                     !strcmp(protocol, "serial"))) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Unavailable console type %s.",
                   type ? type : protocol);
        return NULL;
    }
    st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'protocol': %s",
               protocol ? protocol : "it is required");
    return NULL;
}

static int make_url(struct api_req *req, const char *kind, struct st_buf *url,
                    struct st_err *err)
{
    struct st_buf token = ST_BUF_INIT;
    struct store_conn *c = api_db(req, err);
    int rc;
    if (!c)
        return -1;
    ST_IGNORE(console_tokens_prune(c, err));
    st_err_clear(err);
    rc = console_token_create(c, &req->auth, api_param(req, 0), kind, token_ttl(req), &token,
                              err);
    if (rc == 0)
        console_url(req, kind, token.buf, url);
    st_buf_release(&token);
    return rc;
}

static int remote_consoles_create(struct api_req *req, struct api_resp *resp,
                                  struct st_err *err)
{
    json_t *body = api_body_json(req, err), *rc_obj;
    struct st_buf url = ST_BUF_INIT;
    const char *protocol, *type, *kind;

    if (!body)
        return -1;
    if (!api_mv(req, 2, 6)) {
        st_err_set(err, ST_ERR_NOT_FOUND, "The resource could not be found.");
        return -1;
    }
    rc_obj = json_object_get(body, "remote_console");
    if (!json_is_object(rc_obj)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'remote_console'");
        return -1;
    }
    protocol = json_string_value(json_object_get(rc_obj, "protocol"));
    type = json_string_value(json_object_get(rc_obj, "type"));
    if (!type) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'type': it is required");
        return -1;
    }
    kind = kind_of(protocol, type, err);
    if (!kind || make_url(req, kind, &url, err) < 0) {
        st_buf_release(&url);
        return -1;
    }
    api_reply(resp, 200,
              json_pack("{s:{s:s, s:s, s:s}}", "remote_console", "protocol", protocol, "type",
                        type, "url", url.buf));
    st_buf_release(&url);
    return 0;
}

int consoles_is_action(const char *key)
{
    return !strcmp(key, "os-getVNCConsole") || !strcmp(key, "os-getSerialConsole") ||
           !strcmp(key, "os-getSPICEConsole") || !strcmp(key, "os-getRDPConsole");
}

int consoles_action(struct api_req *req, struct api_resp *resp, const char *key, json_t *args,
                    struct st_err *err)
{
    const char *type = json_string_value(json_object_get(args, "type"));
    const char *kind = NULL;
    struct st_buf url = ST_BUF_INIT;

    if (!type) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'type': it is required");
        return -1;
    }
    if (!strcmp(key, "os-getVNCConsole"))
        kind = kind_of("vnc", type, err);
    else if (!strcmp(key, "os-getSerialConsole"))
        kind = kind_of("serial", type, err);
    else
        st_err_set(err, ST_ERR_BAD_REQUEST, "Unavailable console type %s.", type);
    if (!kind || make_url(req, kind, &url, err) < 0) {
        st_buf_release(&url);
        return -1;
    }
    api_reply(resp, 200, json_pack("{s:{s:s, s:s}}", "console", "type", type, "url", url.buf));
    st_buf_release(&url);
    return 0;
}

/* ---- noVNC's files -------------------------------------------------------- */

static const struct {
    const char *ext, *type;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css"},                  {".svg", "image/svg+xml"},
    {".png", "image/png"},                 {".ico", "image/x-icon"},
    {".json", "application/json"},         {".woff", "font/woff"},
    {".woff2", "font/woff2"},              {".ttf", "font/ttf"},
    {".mp3", "audio/mpeg"},                {".oga", "audio/ogg"},
};

/* A path segment we serve: letters, digits, '.', '_', '-', never starting
 * with '.', so ".." and hidden files are out. */
static bool segment_ok(const char *s)
{
    if (!*s || *s == '.' || strlen(s) > 128)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

static int novnc_file(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const char *dir = req->app->cfg ? cfg_str(req->app->cfg, "console", "novnc_dir")
                                    : "/usr/share/novnc";
    struct st_buf path = ST_BUF_INIT;
    struct stat st;
    const char *last = "";
    int fd;

    st_buf_adds(&path, dir);
    for (int i = 0; i < req->nparams; i++) {
        if (!segment_ok(api_param(req, i))) {
            st_buf_release(&path);
            st_err_set(err, ST_ERR_NOT_FOUND, "The resource could not be found.");
            return -1;
        }
        st_buf_addf(&path, "/%s", api_param(req, i));
        last = api_param(req, i);
    }
    fd = open(path.buf, O_RDONLY | O_CLOEXEC);
    st_buf_release(&path);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        st_err_set(err, ST_ERR_NOT_FOUND, "The resource could not be found.");
        return -1;
    }
    resp->content_type = "application/octet-stream";
    for (size_t i = 0; i < ST_ARRAY_SIZE(mime_types); i++) {
        size_t n = strlen(last), e = strlen(mime_types[i].ext);
        if (n > e && !strcmp(last + n - e, mime_types[i].ext))
            resp->content_type = mime_types[i].type;
    }
    resp->status = 200;
    api_add_header(resp, "Cache-Control", "no-cache");
    api_add_header(resp, "X-Content-Type-Options", "nosniff");
    return api_resp_file(resp, fd, 0, (uint64_t) st.st_size, err);
}

/* A serial console page of our own (Debian's libjs-xterm 3.8 ships a
 * CommonJS build browsers cannot load): the guest's output in a <pre>,
 * keys sent as typed.  /console/serial.html?token=T opens
 * /console/serial?token=T. */
static const char serial_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Serial console</title>\n"
    "<style>body{margin:0;background:#000;color:#ddd}#s{padding:2px 8px;background:#333;"
    "font:13px sans-serif}pre{margin:0;padding:6px;font:14px monospace;white-space:pre-wrap;"
    "outline:none}</style></head>\n<body><div id=\"s\">Connecting</div>"
    "<pre id=\"t\" tabindex=\"0\"></pre>\n<script>\n"
    "const t = document.getElementById('t'), st = document.getElementById('s');\n"
    "const tok = new URLSearchParams(location.search).get('token') || '';\n"
    "const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') +\n"
    "  location.host + '/console/serial?token=' + encodeURIComponent(tok), ['binary']);\n"
    "ws.binaryType = 'arraybuffer';\n"
    "const dec = new TextDecoder();\n"
    "ws.onopen = () => { st.textContent = 'Connected (press Enter)'; t.focus(); };\n"
    "ws.onclose = e => { st.textContent = 'Disconnected' + (e.reason ? ': ' + e.reason : ''); };\n"
    "ws.onmessage = e => {\n"
    "  const s = dec.decode(new Uint8Array(e.data), {stream: true})\n"
    "    .replace(/\\x1b\\[[0-9;?]*[A-Za-z]/g, '').replace(/\\r/g, '');\n"
    "  t.textContent = (t.textContent + s).slice(-200000);\n"
    "  window.scrollTo(0, document.body.scrollHeight);\n"
    "};\n"
    "const keys = {Enter: '\\r', Backspace: '\\x7f', Tab: '\\t', Escape: '\\x1b',\n"
    "  ArrowUp: '\\x1b[A', ArrowDown: '\\x1b[B', ArrowRight: '\\x1b[C', ArrowLeft: '\\x1b[D'};\n"
    "t.addEventListener('keydown', e => {\n"
    "  let k = keys[e.key];\n"
    "  if (!k && e.ctrlKey && e.key.length === 1) k = String.fromCharCode(e.key.toUpperCase()"
    ".charCodeAt(0) & 31);\n"
    "  else if (!k && e.key.length === 1) k = e.key;\n"
    "  if (k && ws.readyState === 1) { ws.send(new TextEncoder().encode(k)); e.preventDefault(); }\n"
    "});\n"
    "</script></body></html>\n";

static int serial_html(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) req;
    (void) err;
    st_buf_add(&resp->body, serial_page, sizeof(serial_page) - 1);
    resp->content_type = "text/html; charset=utf-8";
    resp->status = 200;
    api_add_header(resp, "Cache-Control", "no-cache");
    return 0;
}

/* ---- socket helpers --------------------------------------------------------- */

/* Writes all of 'data' to 'fd', waiting while the socket is full; gives up
 * when the daemon stops or the peer is gone. */
static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {fd, POLLOUT, 0};
            if (revision_waits_stopped())
                return -1;
            (void) poll(&pf, 1, 1000);
            continue;
        }
        return -1;
    }
    return 0;
}

static void ws_send_close(int fd, int code, const char *reason)
{
    struct st_buf b = ST_BUF_INIT;
    ws_encode_close(&b, code, reason);
    (void) write_all(fd, b.buf, b.len);
    st_buf_release(&b);
}

/* ---- the relay ------------------------------------------------------------ */

struct ws_closure {
    struct app *app;
    struct console_target t;
    enum ws_proto proto;
};

/* Sends 'len' bytes from the guest to the browser as one message. */
static int to_browser(int fd, enum ws_proto proto, const char *data, size_t len,
                      struct st_buf *scratch)
{
    st_buf_reset(scratch);
    if (proto == PROTO_BASE64) {
        struct st_buf b64 = ST_BUF_INIT;
        st_base64_encode(data, len, &b64);
        ws_encode(scratch, true, WS_OP_TEXT, b64.buf, b64.len, NULL);
        st_buf_release(&b64);
    } else {
        ws_encode(scratch, true, WS_OP_BINARY, data, len, NULL);
    }
    return write_all(fd, scratch->buf, scratch->len);
}

/* Handles the frames in 'in'; returns 0 to go on, 1 when the browser
 * closed (answered), -1 on a protocol error (close sent). */
static int from_browser(int bfd, int afd, struct ws_parser *p, enum ws_proto proto,
                        struct st_buf *in, struct st_buf *msg, struct st_buf *scratch)
{
    size_t off = 0;
    int rc = 0;
    for (;;) {
        struct ws_frame f;
        const char *reason = NULL;
        int code = 0;
        long n = ws_parse(p, (unsigned char *) in->buf + off, in->len - off, &f, &code, &reason);
        if (n == 0)
            break;
        if (n < 0) {
            ws_send_close(bfd, code, reason);
            rc = -1;
            break;
        }
        off += (size_t) n;
        if (f.opcode == WS_OP_PING) {
            st_buf_reset(scratch);
            ws_encode(scratch, true, WS_OP_PONG, f.payload, f.len, NULL);
            if (write_all(bfd, scratch->buf, scratch->len) < 0) {
                rc = -1;
                break;
            }
            continue;
        }
        if (f.opcode == WS_OP_PONG)
            continue;
        if (f.opcode == WS_OP_CLOSE) {
            int cc;
            if (ws_close_parse(f.payload, f.len, &cc) < 0)
                ws_send_close(bfd, WS_CLOSE_PROTOCOL, "bad close frame");
            else
                ws_send_close(bfd, cc == 1005 ? WS_CLOSE_NORMAL : cc, "");
            rc = 1;
            break;
        }
        /* Data: raw bytes, or base64 text decoded once the message is whole. */
        if (proto == PROTO_BASE64) {
            st_buf_add(msg, f.payload, f.len);
            if (msg->len > WS_MAX_PAYLOAD) {
                ws_send_close(bfd, WS_CLOSE_TOO_BIG, "message too big");
                rc = -1;
                break;
            }
            if (f.fin) {
                struct st_buf raw = ST_BUF_INIT;
                int bad = st_base64_decode(msg->buf, msg->len, &raw);
                if (bad < 0) {
                    st_buf_release(&raw);
                    ws_send_close(bfd, WS_CLOSE_UNSUPPORTED, "not base64");
                    rc = -1;
                    break;
                }
                bad = write_all(afd, raw.buf, raw.len);
                st_buf_release(&raw);
                st_buf_reset(msg);
                if (bad < 0) {
                    rc = -1;
                    break;
                }
            }
        } else if (f.len && write_all(afd, f.payload, f.len) < 0) {
            rc = -1;
            break;
        }
    }
    if (off) {
        memmove(in->buf, in->buf + off, in->len - off);
        st_buf_truncate(in, in->len - off);
    }
    return rc;
}

/* Reads what 'fd' has into 'b'; 1 data, 0 nothing yet, -1 end or error. */
static int read_some(int fd, struct st_buf *b)
{
    ssize_t n;
    st_buf_grow(b, RELAY_CHUNK);
    n = recv(fd, b->buf + b->len, RELAY_CHUNK, 0);
    if (n > 0) {
        b->len += (size_t) n;
        b->buf[b->len] = '\0';
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return -1;
}

static void relay(int bfd, struct session *s, enum ws_proto proto, const char *extra,
                  size_t extra_len)
{
    struct ws_parser p = {true, WS_MAX_PAYLOAD, 0};
    struct st_buf in = ST_BUF_INIT, msg = ST_BUF_INIT, out = ST_BUF_INIT, scratch = ST_BUF_INIT;
    int afd = s->agent_fd;

    st_buf_add(&in, extra, extra_len);
    if (s->agent_extra.len &&
        to_browser(bfd, proto, s->agent_extra.buf, s->agent_extra.len, &scratch) < 0)
        goto out;
    if (in.len && from_browser(bfd, afd, &p, proto, &in, &msg, &scratch) != 0)
        goto out;
    for (;;) {
        struct pollfd pf[2] = {{bfd, POLLIN, 0}, {afd, POLLIN, 0}};
        int r = poll(pf, 2, 1000);
        if (revision_waits_stopped()) {
            ws_send_close(bfd, WS_CLOSE_GOING_AWAY, "stratusd is stopping");
            break;
        }
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (pf[1].revents) {
            st_buf_reset(&out);
            r = read_some(afd, &out);
            if (r < 0) {
                ws_send_close(bfd, WS_CLOSE_NORMAL, "the console was closed");
                break;
            }
            if (r > 0 && to_browser(bfd, proto, out.buf, out.len, &scratch) < 0)
                break;
        }
        if (pf[0].revents) {
            r = read_some(bfd, &in);
            if (r < 0)
                break;
            if (r > 0 && from_browser(bfd, afd, &p, proto, &in, &msg, &scratch) != 0)
                break;
        }
    }
out:
    st_buf_release(&in);
    st_buf_release(&msg);
    st_buf_release(&out);
    st_buf_release(&scratch);
}

/* Waits for the agent to dial back for 's'; 0 when it did, -1 (reason in
 * 'why') when it did not in time or could not open the console. */
static int wait_agent(struct session *s, const char **why)
{
    struct timespec ts;
    int64_t end = st_mono_ns() + (int64_t) AGENT_WAIT_MS * 1000000;
    int rc = -1;

    pthread_mutex_lock(&mu);
    while (!s->agent_ready && !s->error[0]) {
        int64_t left = end - st_mono_ns();
        if (left <= 0 || revision_waits_stopped())
            break;
        if (left > 1000000000)
            left = 1000000000;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += left % 1000000000;
        ts.tv_sec += left / 1000000000 + ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&cv, &mu, &ts);
    }
    if (s->agent_ready)
        rc = 0;
    else if (s->error[0])
        *why = "the host could not open the console";
    else
        *why = "the host of the server did not answer";
    pthread_mutex_unlock(&mu);
    return rc;
}

static void browser_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
                             const char *extra_in, size_t extra_in_size, MHD_socket sock,
                             struct MHD_UpgradeResponseHandle *urh)
{
    struct ws_closure *wc = cls;
    struct st_err err = ST_ERR_INIT;
    struct store_conn *c = NULL;
    struct session *s = NULL;
    const char *why = NULL;
    char uuid[33];
    (void) conn;
    (void) con_cls;

    if (wc->t.power_state != 1 || !wc->t.host[0]) {
        ws_send_close(sock, WS_CLOSE_POLICY, "server is not running");
        goto out;
    }
    s = st_xcalloc(1, sizeof(*s));
    st_uuid_hex(uuid);
    ST_IGNORE(st_snprintf(s->id, sizeof(s->id), "%s", uuid));
    ST_IGNORE(st_snprintf(s->host, sizeof(s->host), "%s", wc->t.host));
    s->t = wc->t;
    s->agent_fd = -1;
    st_buf_init(&s->agent_extra, 0);
    pthread_mutex_lock(&mu);
    s->next = sessions;
    sessions = s;
    pthread_mutex_unlock(&mu);

    c = store_acquire(wc->app->store, &err);
    if (!c || console_session_add(c, s->id, &s->t, &err) < 0) {
        log_errorx(MOD, "server %s: cannot start a console session: %s", s->t.server_id, err.msg);
        ws_send_close(sock, WS_CLOSE_INTERNAL, "cannot start a console session");
        goto unlink;
    }
    revision_notify();
    if (c) {
        store_release(wc->app->store, c);
        c = NULL;
    }
    if (wait_agent(s, &why) < 0) {
        log_warnx(MOD, "server %s: %s console session %s: %s%s%s", s->t.server_id, s->t.kind,
                  s->id, why, s->error[0] ? ": " : "", s->error);
        ws_send_close(sock, WS_CLOSE_INTERNAL, why);
        goto unlink;
    }
    log_info(MOD, "server %s: %s console session %s relaying", s->t.server_id, s->t.kind, s->id);
    relay(sock, s, wc->proto, extra_in, extra_in_size);
    log_info(MOD, "server %s: %s console session %s ended", s->t.server_id, s->t.kind, s->id);
unlink:
    pthread_mutex_lock(&mu);
    s->done = true;
    pthread_cond_broadcast(&cv);
    while (s->refs > 0)
        pthread_cond_wait(&cv, &mu);
    for (struct session **pp = &sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&mu);
    st_err_clear(&err);
    if (!c)
        c = store_acquire(wc->app->store, &err);
    if (c && console_session_del(c, s->id, s->host, &err) == 0)
        revision_notify();
    if (c)
        store_release(wc->app->store, c);
    st_buf_release(&s->agent_extra);
    free(s);
out:
    free(wc);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

/* The subprotocol to answer from the client's Sec-WebSocket-Protocol. */
static enum ws_proto pick_proto(const char *offered)
{
    if (ws_header_has(offered, "binary"))
        return PROTO_BINARY;
    if (ws_header_has(offered, "base64"))
        return PROTO_BASE64;
    return PROTO_NONE;
}

static int ws_handshake(struct api_req *req, struct api_resp *resp, const char *kind,
                        struct st_err *err)
{
    const char *upgrade = api_header(req, "Upgrade"), *connection = api_header(req, "Connection");
    const char *version = api_header(req, "Sec-WebSocket-Version");
    const char *key = api_header(req, "Sec-WebSocket-Key");
    struct console_target t;
    struct ws_closure *wc;
    struct store_conn *c;
    char accept[WS_ACCEPT_LEN];
    enum ws_proto proto;

    if (!upgrade || !ws_header_has(upgrade, "websocket") || !ws_header_has(connection, "upgrade")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "This is a WebSocket endpoint: upgrade the request.");
        return -1;
    }
    if (!version || strcmp(version, "13")) {
        api_add_header(resp, "Sec-WebSocket-Version", "13");
        st_err_set(err, ST_ERR_BAD_REQUEST, "Only WebSocket version 13 is supported.");
        return -1;
    }
    if (ws_accept_key(key, accept) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Sec-WebSocket-Key is not 16 bytes of base64.");
        return -1;
    }
    c = api_db(req, err);
    if (!c || console_token_use(c, api_query(req, "token"), kind, &t, err) < 0)
        return -1;
    api_db_release(req);
    proto = pick_proto(api_header(req, "Sec-WebSocket-Protocol"));
    wc = st_xcalloc(1, sizeof(*wc));
    wc->app = req->app;
    wc->t = t;
    wc->proto = proto;
    resp->raw = MHD_create_response_for_upgrade(browser_upgraded, wc);
    if (!resp->raw) {
        free(wc);
        st_err_set(err, ST_ERR_INTERNAL, "cannot make an upgrade response");
        return -1;
    }
    resp->status = MHD_HTTP_SWITCHING_PROTOCOLS;
    api_add_header(resp, "Upgrade", "websocket");
    api_add_header(resp, "Sec-WebSocket-Accept", "%s", accept);
    if (proto != PROTO_NONE)
        api_add_header(resp, "Sec-WebSocket-Protocol", "%s",
                       proto == PROTO_BINARY ? "binary" : "base64");
    return 0;
}

static int console_ws(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return ws_handshake(req, resp, "vnc", err);
}

static int console_serial(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return ws_handshake(req, resp, "serial", err);
}

/* ---- the agent's dial-back ------------------------------------------------- */

struct agent_closure {
    char id[48];
    char host[256];
};

static void agent_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
                           const char *extra_in, size_t extra_in_size, MHD_socket sock,
                           struct MHD_UpgradeResponseHandle *urh)
{
    struct agent_closure *ac = cls;
    struct session *s;
    (void) conn;
    (void) con_cls;

    pthread_mutex_lock(&mu);
    s = find_locked(ac->id, ac->host);
    if (s && !s->agent_ready && !s->done) {
        s->agent_fd = sock;
        st_buf_add(&s->agent_extra, extra_in, extra_in_size);
        s->agent_ready = true;
        s->refs++;
        pthread_cond_broadcast(&cv);
        while (!s->done)
            pthread_cond_wait(&cv, &mu);
        s->refs--;
        pthread_cond_broadcast(&cv);
    }
    pthread_mutex_unlock(&mu);
    free(ac);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static int agent_dial(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const char *upgrade = api_header(req, "Upgrade");
    const char *failure = api_header(req, "X-Console-Error");
    struct agent_closure *ac;
    struct session *s;
    bool ok;

    if (strcmp(api_param(req, 0), req->host_name)) {
        st_err_set(err, ST_ERR_FORBIDDEN, "Host %s may not act for host %s.", req->host_name,
                   api_param(req, 0));
        return -1;
    }
    pthread_mutex_lock(&mu);
    s = find_locked(api_param(req, 1), req->host_name);
    ok = s && !s->agent_ready && !s->done && !s->error[0];
    if (ok && failure) {
        /* The agent could not open the domain's socket: fail at once. */
        ST_IGNORE(st_snprintf(s->error, sizeof(s->error), "%.100s", failure));
        st_utf8_sanitize(s->error);
        if (!s->error[0])
            s->error[0] = '?';
        pthread_cond_broadcast(&cv);
    }
    pthread_mutex_unlock(&mu);
    if (!ok) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Console session %s not found.", api_param(req, 1));
        return -1;
    }
    if (failure) {
        api_reply(resp, 204, NULL);
        return 0;
    }
    if (!upgrade || strcasecmp(upgrade, "stratus-console")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Upgrade: stratus-console is required.");
        return -1;
    }
    ac = st_xcalloc(1, sizeof(*ac));
    ST_IGNORE(st_snprintf(ac->id, sizeof(ac->id), "%s", api_param(req, 1)));
    ST_IGNORE(st_snprintf(ac->host, sizeof(ac->host), "%s", req->host_name));
    api_db_release(req);
    resp->raw = MHD_create_response_for_upgrade(agent_upgraded, ac);
    if (!resp->raw) {
        free(ac);
        st_err_set(err, ST_ERR_INTERNAL, "cannot make an upgrade response");
        return -1;
    }
    resp->status = MHD_HTTP_SWITCHING_PROTOCOLS;
    api_add_header(resp, "Upgrade", "stratus-console");
    return 0;
}

#define NV(p) {"GET", "/console/novnc" p, novnc_file, 0, SVC_ROOT, NULL}
const struct route console_routes[] = {
    {"POST", V21 "/servers/{id}/remote-consoles", remote_consoles_create, ROUTE_AUTH,
     SVC_COMPUTE, NULL},
    {"GET", "/console/ws", console_ws, 0, SVC_ROOT, NULL},
    {"GET", "/console/serial", console_serial, 0, SVC_ROOT, NULL},
    {"GET", "/console/serial.html", serial_html, 0, SVC_ROOT, NULL},
    NV("/{a}"),
    NV("/{a}/{b}"),
    NV("/{a}/{b}/{c}"),
    NV("/{a}/{b}/{c}/{d}"),
    NV("/{a}/{b}/{c}/{d}/{e}"),
    NV("/{a}/{b}/{c}/{d}/{e}/{f}"),
    {"GET", "/internal/v1/hosts/{host}/console/{session}", agent_dial, ROUTE_HOST, SVC_INTERNAL,
     NULL},
};
const size_t console_routes_count = sizeof(console_routes) / sizeof(console_routes[0]);

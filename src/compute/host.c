/*
 * host.c - hosts, their revisions and long-polls, the desired-state
 * document, and the reports that move servers through their states.
 */
#include "compute/host.h"

#include "compute/console.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "compute/internal.h"
#include "compute/migration.h"
#include "compute/stats.h"
#include "compute/volumes.h"
#include "store/revision.h"
#include "common/banned.h"

bool host_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (!n || n > HOST_NAME_MAX_LEN)
        return false;
    for (; *name; name++)
        if (!isalnum((unsigned char) *name) && !strchr("._-", *name))
            return false;
    return true;
}

bool host_is_up(int64_t last_seen, const struct compute_conf *conf)
{
    return last_seen && st_now_us() / 1000000 - last_seen <= conf->service_down_time;
}

static void sha256_hex(const char *s, struct st_buf *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
    st_hex_encode(d, n, out);
}

int host_add(struct store_conn *c, const char *name, struct st_buf *secret, struct st_err *err)
{
    unsigned char raw[32];
    struct st_buf sec = ST_BUF_INIT, hash = ST_BUF_INIT;
    char id[37];
    int64_t now = st_now_us() / 1000000;
    int rc;

    if (!host_name_ok(name)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid host name '%s'", name);
        return -1;
    }
    st_random(raw, sizeof(raw));
    st_base64url_encode(raw, sizeof(raw), &sec);
    explicit_bzero(raw, sizeof(raw));
    sha256_hex(sec.buf, &hash);
    st_uuid(id);
    rc = store_exec(c, err,
                    "INSERT INTO hosts (name, id, secret_hash, created_at, updated_at) VALUES"
                    " (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET secret_hash ="
                    " excluded.secret_hash, updated_at = excluded.updated_at",
                    STORE_ARGS(P(name), P(id), P(hash.buf), P(now), P(now))) < 0
             ? -1
             : 0;
    if (rc == 0)
        st_buf_add(secret, sec.buf, sec.len);
    explicit_bzero(sec.buf, sec.len);
    st_buf_release(&sec);
    st_buf_release(&hash);
    return rc;
}

int host_authenticate(struct store_conn *c, const char *authorization, char *name, size_t n,
                      struct st_err *err)
{
    struct st_buf hash = ST_BUF_INIT;
    struct store_stmt *s;
    int rc;
    if (!authorization || strncmp(authorization, "Bearer ", 7) || strlen(authorization) > 200) {
        st_err_set(err, ST_ERR_UNAUTHORIZED, "A host credential is required.");
        return -1;
    }
    sha256_hex(authorization + 7, &hash);
    s = store_query(c, err, "SELECT name FROM hosts WHERE secret_hash = ?",
                    STORE_ARGS(P(hash.buf)));
    st_buf_release(&hash);
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        ST_IGNORE(st_snprintf(name, n, "%s", store_text(s, 0)));
    store_done(s);
    if (rc == 0) {
        st_err_set(err, ST_ERR_UNAUTHORIZED, "The host credential is not valid.");
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

/* The id (a UUID) of host 'name' into 'id'; NOT_FOUND if unknown. */
static int host_id_of(struct store_conn *c, const char *name, char id[37], struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, "SELECT id FROM hosts WHERE name = ?",
                                       STORE_ARGS(P(name)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0 && st_snprintf(id, 37, "%s", store_text(s, 0) ? store_text(s, 0) : "") < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "host %s has a malformed id", name);
        rc = -1;
    }
    store_done(s);
    if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Host %s is not registered.", name);
    return rc > 0 ? 0 : -1;
}

json_t *host_register(struct store_conn *c, const struct compute_conf *conf, const char *name,
                      json_t *info, struct st_err *err)
{
    const char *htype = "QEMU", *hname = name, *virt = NULL, *ip = NULL, *vtep = NULL;
    const char *ver = NULL;
    int64_t hver = 0, vcpus = 0, mem = 0, disk = 0, rev;
    json_t *cpu = json_object_get(info, "cpu_info");
    char id[37];
    char *cpu_text;

    if (jget_str(info, "hypervisor_type", false, 64, &htype, err) < 0 ||
        jget_str(info, "hypervisor_hostname", false, 255, &hname, err) < 0 ||
        jget_str(info, "virt_type", false, 16, &virt, err) < 0 ||
        jget_str(info, "host_ip", false, 64, &ip, err) < 0 ||
        jget_str(info, "vtep_ip", false, 64, &vtep, err) < 0 ||
        jget_str(info, "agent_version", false, 64, &ver, err) < 0 ||
        jget_int(info, "hypervisor_version", false, 0, INT64_MAX, &hver, err) < 0 ||
        jget_int(info, "vcpus", true, 0, 1 << 20, &vcpus, err) < 0 ||
        jget_int(info, "memory_mb", true, 0, INT64_C(1) << 40, &mem, err) < 0 ||
        jget_int(info, "local_gb", true, 0, INT64_C(1) << 40, &disk, err) < 0)
        return NULL;
    cpu_text = json_is_object(cpu) ? json_dumps(cpu, JSON_COMPACT) : st_xstrdup("{}");
    if (store_exec(c, err,
                   "UPDATE hosts SET hypervisor_type = ?, hypervisor_version = ?,"
                   " hypervisor_hostname = ?, virt_type = ?, host_ip = ?, vtep_ip = ?, vcpus = ?,"
                   " memory_mb = ?, local_gb = ?, cpu_info = ?, agent_version = ?, last_seen = ?,"
                   " updated_at = ? WHERE name = ?",
                   STORE_ARGS(P(htype), P(hver), P(hname), P(virt), P(ip), P(vtep), P(vcpus),
                              P(mem), P(disk), P(cpu_text), P(ver), P(st_now_us() / 1000000),
                              P(st_now_us() / 1000000), P(name))) < 0) {
        free(cpu_text);
        return NULL;
    }
    free(cpu_text);
    if (compute_volumes() && compute_volumes()->host_register(c, name, info, err) < 0)
        return NULL;
    rev = revision_get(c, name, err);
    if (rev < 0 || host_id_of(c, name, id, err) < 0)
        return NULL;
    /* host_id: the agent marks every object it makes with it (the name
     * is not unique across clouds that share a machine). */
    int interval = 10;
    if (conf && conf->service_down_time < 30)
        interval = conf->service_down_time / 3 > 1 ? (int) (conf->service_down_time / 3) : 1;
    return json_pack("{s:s, s:s, s:I, s:i}", "host", name, "host_id", id, "revision",
                     (json_int_t) rev, "report_interval", interval);
}

static json_t *parse_or(const char *text, json_t *dflt)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (!j)
        return dflt;
    json_decref(dflt);
    return j;
}

/* The columns server_doc() reads, in its order. */
#define SERVER_DOC_SELECT                                                                          \
    "SELECT s.id, s.name, s.hostname, s.project_id, s.user_id,"                                    \
    " s.availability_zone, s.launch_index, s.image, s.flavor, s.desired_power,"                    \
    " s.delete_requested, s.disk_generation, s.config_drive, s.user_data,"                         \
    " s.key_name, s.key_data, s.rescue_image, s.resize_state, s.old_flavor,"                       \
    " s.vm_state, s.created_at, p.name, u.name, s.power_generation FROM servers s"                 \
    " LEFT JOIN projects p ON p.id = s.project_id"                                                 \
    " LEFT JOIN users u ON u.id = s.user_id"

static json_t *server_doc(struct store_conn *c, struct store_stmt *s, struct st_err *err)
{
    /* Columns: see the query in host_desired(). */
    const char *id = store_text(s, 0);
    json_t *images = parse_or(store_text(s, 7), json_object());
    json_t *flavor = parse_or(store_text(s, 8), json_object());
    json_t *o, *meta = json_object(), *rescue = json_null(), *resize = json_null();
    char created[32];
    struct store_stmt *q;
    int rc;

    st_time_iso(store_int(s, 20) * 1000000, 0, created);
    if (store_text(s, 16)) {
        json_t *ri = parse_or(store_text(s, 16), json_object());
        rescue = json_pack("{s:O, s:O, s:O}", "image", json_object_get(ri, "image"), "kernel",
                           json_object_get(ri, "kernel") ? json_object_get(ri, "kernel")
                                                         : json_null(),
                           "ramdisk", json_object_get(ri, "ramdisk")
                                          ? json_object_get(ri, "ramdisk")
                                          : json_null());
        json_decref(ri);
    }
    if (store_text(s, 17) && strcmp(store_text(s, 17), "resized")) {
        json_t *old = parse_or(store_text(s, 18), json_object());
        resize = json_pack("{s:s, s:o}", "state", store_text(s, 17), "old_flavor", old);
    }
    q = store_query(c, err, "SELECT key, value FROM server_metadata WHERE server_id = ?",
                    STORE_ARGS(P(id)));
    if (!q)
        goto fail;
    while ((rc = store_next(q, err)) > 0)
        json_object_set_new(meta, store_text(q, 0), json_string(store_text(q, 1)));
    store_done(q);
    if (rc < 0)
        goto fail;
    o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:s, s:i, s:O, s:O, s:O, s:O,"
                  " s:s, s:b, s:I, s:b, s:o, s:o, s:n, s:o, s:o, s:o, s:[]}",
                  "id", id, "name", store_text(s, 1), "hostname", store_text(s, 2),
                  "project_id", store_text(s, 3), "project_name",
                  st_json_str_or_null(store_text(s, 21)), "user_id", store_text(s, 4),
                  "user_name", st_json_str_or_null(store_text(s, 22)), "created_at", created,
                  "availability_zone", store_text(s, 5) ? store_text(s, 5) : "nova",
                  "launch_index", (int) store_int(s, 6), "flavor", flavor, "image",
                  json_object_get(images, "image") ? json_object_get(images, "image")
                                                   : json_null(),
                  "kernel", json_object_get(images, "kernel") ? json_object_get(images, "kernel")
                                                              : json_null(),
                  "ramdisk", json_object_get(images, "ramdisk")
                                 ? json_object_get(images, "ramdisk")
                                 : json_null(),
                  "power", store_text(s, 9), "delete", (int) store_int(s, 10),
                  "disk_generation", (json_int_t) store_int(s, 11), "config_drive",
                  (int) store_int(s, 12), "user_data", st_json_str_or_null(store_text(s, 13)),
                  "key",
                  store_text(s, 14) ? json_pack("{s:s, s:s, s:s}", "name", store_text(s, 14),
                                                "type", "ssh", "public_key",
                                                store_text(s, 15) ? store_text(s, 15) : "")
                                    : json_null(),
                  "admin_pass", "metadata", meta, "rescue", rescue, "resize", resize, "nics");
    {
        json_t *nics = compute_ports_nics(c, id, err);
        if (!nics) {
            json_decref(o);
            json_decref(images);
            json_decref(flavor);
            return NULL;
        }
        json_object_set_new(o, "nics", nics);
    }
    if (compute_volumes()) {
        json_t *vols = compute_volumes()->server_volumes(c, id, err);
        if (!vols) {
            json_decref(o);
            json_decref(images);
            json_decref(flavor);
            return NULL;
        }
        json_object_set_new(o, "volumes", vols);
    }
    json_decref(images);
    json_decref(flavor);
    json_object_set_new(o, "power_generation", json_integer(store_int(s, 23)));
    if (json_is_null(json_object_get(o, "project_name")))
        json_object_del(o, "project_name");
    if (json_is_null(json_object_get(o, "user_name")))
        json_object_del(o, "user_name");
    return o;
fail:
    json_decref(images);
    json_decref(flavor);
    json_decref(meta);
    json_decref(rescue);
    json_decref(resize);
    return NULL;
}

json_t *host_server_doc(struct store_conn *c, const char *server_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, SERVER_DOC_SELECT " WHERE s.id = ?",
                                       STORE_ARGS(P(server_id)));
    json_t *doc = NULL;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        doc = server_doc(c, s, err);
    else if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "server '%s' not found", server_id);
    store_done(s);
    return doc;
}

/* 1 when the server of row 's' (SERVER_DOC_SELECT) must not be in its
 * host's desired state yet: it is being built there (created, or
 * evacuated there: 'mig' its migration object for this host) and boots
 * from a volume whose connection is not known yet, so that the host would
 * make a root disk from its image instead.  0 when it may be, -1 error. */
static int boot_volume_wait(struct store_conn *c, struct store_stmt *s, json_t *mig,
                            struct st_err *err)
{
    bool ready = true;
    bool building = st_streq(store_text(s, 19), "building") ||
                    (st_streq(json_string_value(json_object_get(mig, "kind")), "evacuation") &&
                     st_streq(json_string_value(json_object_get(mig, "role")), "dest"));
    if (!building || store_int(s, 10) || !compute_volumes() || !compute_volumes()->boot_ready)
        return 0;
    if (compute_volumes()->boot_ready(c, store_text(s, 0), &ready, err) < 0)
        return -1;
    return ready ? 0 : 1;
}

json_t *host_desired(struct store_conn *c, const char *name, struct st_err *err)
{
    struct store_stmt *s;
    json_t *servers = NULL, *tasks = NULL;
    char *host_id = NULL;
    int64_t rev;
    int rc;

    /* One read transaction: the revision and the state it stands for. */
    if (store_begin_read(c, err) < 0)
        return NULL;
    rev = revision_get(c, name, err);
    if (rev < 0)
        goto fail;
    /* Its servers, and those an active migration brings in or keeps
     * (migration.h), each with the "migration" of this host's role. */
    s = store_query(c, err,
                    SERVER_DOC_SELECT " WHERE s.host = ? OR " MIGRATION_DESIRED_SERVERS
                                      " ORDER BY s.created_at, s.id",
                    STORE_ARGS(P(name), P(name), P(name)));
    if (!s)
        goto fail;
    servers = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *doc = server_doc(c, s, err), *mig;
        if (!doc) {
            rc = -1;
            break;
        }
        mig = migration_doc(c, store_text(s, 0), name, err);
        if (!mig) {
            json_decref(doc);
            rc = -1;
            break;
        }
        rc = boot_volume_wait(c, s, mig, err);
        if (rc != 0) {
            json_decref(doc);
            json_decref(mig);
            if (rc < 0)
                break;
            rc = 1;
            continue;
        }
        json_object_set_new(doc, "migration", mig);
        json_array_append_new(servers, doc);
    }
    store_done(s);
    if (rc < 0)
        goto fail;
    s = store_query(c, err,
                    "SELECT id, server_id, kind, args FROM tasks WHERE host = ? AND"
                    " status = 'pending' ORDER BY created_at, id",
                    STORE_ARGS(P(name)));
    if (!s)
        goto fail;
    tasks = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *t = json_pack("{s:s, s:s, s:s, s:o}", "id", store_text(s, 0), "server_id",
                              store_text(s, 1), "kind", store_text(s, 2), "args",
                              parse_or(store_text(s, 3), json_object()));
        /* Volume tasks also carry their arguments beside the id
         * (docs/agent-protocol.md, "Volumes"). */
        if (!strncmp(store_text(s, 2), "volume_", 7))
            json_object_update_missing(t, json_object_get(t, "args"));
        json_array_append_new(tasks, t);
    }
    store_done(s);
    if (rc < 0)
        goto fail;
    /* The host record's id: the agent marks what it creates with it
     * (ARCHITECTURE §9, ownership). */
    s = store_query(c, err, "SELECT id FROM hosts WHERE name = ?", STORE_ARGS(P(name)));
    if (!s)
        goto fail;
    rc = store_next(s, err);
    host_id = rc > 0 && store_text(s, 0) ? st_xstrdup(store_text(s, 0)) : NULL;
    store_done(s);
    if (rc < 0)
        goto fail;
    {
        json_t *net = compute_ports_host_desired(c, name, err);
        json_t *vol = NULL;
        json_t *consoles, *doc;
        if (!net)
            goto fail;
        if (compute_volumes()) {
            vol = compute_volumes()->host_desired(c, name, err);
            if (!vol) {
                json_decref(net);
                goto fail;
            }
            json_object_update(net, vol);
            json_decref(vol);
        }
        consoles = console_sessions_desired(c, name, err);
        if (!consoles) {
            json_decref(net);
            goto fail;
        }
        json_object_set_new(net, "consoles", consoles);
        store_rollback(c);
        doc = json_pack("{s:s, s:I, s:o, s:o}", "host", name, "revision", (json_int_t) rev,
                        "servers", servers, "tasks", tasks);
        if (host_id)
            json_object_set_new(doc, "host_id", json_string(host_id));
        free(host_id);
        json_object_update(doc, net);
        json_decref(net);
        return doc;
    }
fail:
    store_rollback(c);
    json_decref(servers);
    json_decref(tasks);
    free(host_id);
    return NULL;
}

/* What a reported state means for a server's desired power. */
static bool settled(const char *state, const char *desired)
{
    return (!strcmp(state, "running") && !strcmp(desired, "running")) ||
           (!strcmp(state, "shutoff") && !strcmp(desired, "stopped")) ||
           (!strcmp(state, "paused") && !strcmp(desired, "paused")) ||
           (!strcmp(state, "suspended") && !strcmp(desired, "suspended"));
}

static const char *vm_state_for(const char *desired)
{
    if (!strcmp(desired, "stopped"))
        return "stopped";
    if (!strcmp(desired, "paused"))
        return "paused";
    if (!strcmp(desired, "suspended"))
        return "suspended";
    return "active";
}

struct srv_row {
    char vm_state[32], task_state[32], desired[16], resize_state[16];
    bool delete_requested, has_rescue;
    int64_t disk_generation;
};

static int load_row(struct store_conn *c, const char *host, const char *id, struct srv_row *r,
                    struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT vm_state, task_state, desired_power,"
                                       " delete_requested, disk_generation, resize_state,"
                                       " rescue_image IS NOT NULL FROM servers WHERE id = ? AND"
                                       " host = ?",
                                       STORE_ARGS(P(id), P(host)));
    int rc;
    if (!s)
        return -1;
    memset(r, 0, sizeof(*r));
    rc = store_next(s, err);
    if (rc > 0) {
        ST_IGNORE(st_snprintf(r->vm_state, sizeof(r->vm_state), "%s", store_text(s, 0)));
        if (store_text(s, 1))
            ST_IGNORE(st_snprintf(r->task_state, sizeof(r->task_state), "%s", store_text(s, 1)));
        ST_IGNORE(st_snprintf(r->desired, sizeof(r->desired), "%s", store_text(s, 2)));
        r->delete_requested = store_int(s, 3) != 0;
        r->disk_generation = store_int(s, 4);
        if (store_text(s, 5))
            ST_IGNORE(st_snprintf(r->resize_state, sizeof(r->resize_state), "%s",
                                  store_text(s, 5)));
        r->has_rescue = store_int(s, 6) != 0;
    }
    store_done(s);
    return rc;
}

/* Sets vm_state and clears task_state, finishing the open action. */
static int settle(struct store_conn *c, const char *id, const char *vm_state,
                  const char *result, struct st_err *err)
{
    return store_exec(c, err,
                      "UPDATE servers SET vm_state = ?, task_state = NULL, updated_at = ? WHERE"
                      " id = ?",
                      STORE_ARGS(P(vm_state), P(st_now_us() / 1000000), P(id))) < 0 ||
                   server_actions_finish(c, id, result, NULL, err) < 0
               ? -1
               : 0;
}

/* Applies one reported server.  Sets *bump when the desired state changed. */
static int apply_server(struct store_conn *c, const char *host, json_t *rep, bool *bump,
                        struct st_err *err)
{
    const char *id = json_string_value(json_object_get(rep, "id"));
    const char *state = json_string_value(json_object_get(rep, "state"));
    const char *resize = json_string_value(json_object_get(rep, "resize"));
    json_t *pw = json_object_get(rep, "power_state");
    bool rescued = json_is_true(json_object_get(rep, "rescued"));
    int64_t gen = json_integer_value(json_object_get(rep, "disk_generation"));
    int64_t now = st_now_us() / 1000000;
    struct srv_row r;
    const char *task;
    int rc;

    if (!id || !state || !st_is_uuid(id))
        return 0;
    rc = load_row(c, host, id, &r, err);
    if (rc <= 0)
        return rc;
    task = r.task_state;
    if (json_is_integer(pw)) {
        json_int_t p = json_integer_value(pw);
        if (p == 0 || p == 1 || p == 3 || p == 4 || p == 6 || p == 7)
            if (store_exec(c, err, "UPDATE servers SET power_state = ? WHERE id = ?",
                           STORE_ARGS(P((int64_t) p), P(id))) < 0)
                return -1;
    }
    if (!strcmp(state, "gone")) {
        if (r.delete_requested)
            return server_purge(c, id, err);
        return 0;
    }
    if (r.delete_requested || !strcmp(state, "building"))
        return 0;
    if (!strcmp(state, "error")) {
        json_t *f = json_object_get(rep, "fault");
        const char *msg = json_string_value(json_object_get(f, "message"));
        const char *details = json_string_value(json_object_get(f, "details"));
        char t[32];
        json_t *fault;
        char *text;
        if (!strcmp(r.vm_state, "error") && !*task)
            return 0;
        st_time_iso(st_now_us(), 0, t);
        fault = json_pack("{s:i, s:s, s:s, s:s}", "code", 500, "message",
                          msg ? msg : "The host failed to build the server", "details",
                          details ? details : "", "created", t);
        text = json_dumps(fault, JSON_COMPACT);
        json_decref(fault);
        rc = store_exec(c, err,
                        "UPDATE servers SET vm_state = 'error', task_state = NULL, fault = ?,"
                        " updated_at = ? WHERE id = ?",
                        STORE_ARGS(P(text), P(now), P(id))) < 0 ||
                     server_actions_finish(c, id, "Error", msg, err) < 0
                 ? -1
                 : 0;
        free(text);
        return rc;
    }
    bool done = settled(state, r.desired);
    if (!strcmp(task, "spawning")) {
        if (done && gen >= r.disk_generation)
            return store_exec(c, err,
                              "UPDATE servers SET launched_at = ? WHERE id = ? AND launched_at"
                              " IS NULL",
                              STORE_ARGS(P(now), P(id))) < 0
                       ? -1
                       : settle(c, id, vm_state_for(r.desired), "Success", err);
        return 0;
    }
    if (!strcmp(task, "powering-on") || !strcmp(task, "powering-off") ||
        !strcmp(task, "pausing") || !strcmp(task, "unpausing") || !strcmp(task, "suspending") ||
        !strcmp(task, "resuming"))
        return done ? settle(c, id, vm_state_for(r.desired), "Success", err) : 0;
    if (!strcmp(task, "rebuilding"))
        return done && gen == r.disk_generation
                   ? settle(c, id, vm_state_for(r.desired), "Success", err)
                   : 0;
    if (!strcmp(task, "rescuing"))
        return rescued && done ? settle(c, id, "rescued", "Success", err) : 0;
    if (!strcmp(task, "unrescuing"))
        return !rescued && done ? settle(c, id, vm_state_for(r.desired), "Success", err) : 0;
    if (!strcmp(task, "resize_prep")) {
        if (!resize || strcmp(resize, "resized"))
            return 0;
        if (store_exec(c, err, "UPDATE servers SET resize_state = 'resized' WHERE id = ?",
                       STORE_ARGS(P(id))) < 0)
            return -1;
        *bump = true;
        return settle(c, id, "resized", "Success", err);
    }
    if (!strcmp(task, "resize_reverting")) {
        if (!resize || strcmp(resize, "reverted"))
            return 0;
        if (store_exec(c, err,
                       "UPDATE servers SET resize_state = NULL, old_flavor = NULL WHERE id = ?",
                       STORE_ARGS(P(id))) < 0)
            return -1;
        *bump = true;
        return settle(c, id, vm_state_for(r.desired), "Success", err);
    }
    if (!strcmp(r.resize_state, "confirming") && resize && !strcmp(resize, "confirmed")) {
        *bump = true;
        return store_exec(c, err, "UPDATE servers SET resize_state = NULL WHERE id = ?",
                          STORE_ARGS(P(id))) < 0
                   ? -1
                   : 0;
    }
    if (!*task && !strcmp(r.vm_state, "active") && !strcmp(state, "shutoff") &&
        !strcmp(r.desired, "running")) {
        /* The guest powered itself off: keep it off, as Nova's power sync
         * does, rather than fight it. */
        *bump = true;
        return store_exec(c, err,
                          "UPDATE servers SET vm_state = 'stopped', desired_power = 'stopped',"
                          " updated_at = ? WHERE id = ?",
                          STORE_ARGS(P(now), P(id))) < 0
                   ? -1
                   : 0;
    }
    return 0;
}

static int apply_task(struct store_conn *c, const char *host, json_t *rep, bool *bump,
                      struct st_err *err)
{
    const char *id = json_string_value(json_object_get(rep, "id"));
    const char *status = json_string_value(json_object_get(rep, "status"));
    const char *error = json_string_value(json_object_get(rep, "error"));
    json_t *result = json_object_get(rep, "result");
    char server[37] = "", kind[32] = "", *rtext = NULL;
    struct store_stmt *s;
    int64_t n;
    int rc;
    bool ok;

    if (!id || !status || (strcmp(status, "done") && strcmp(status, "failed")))
        return 0;
    ok = !strcmp(status, "done");
    s = store_query(c, err,
                    "SELECT server_id, kind FROM tasks WHERE id = ? AND host = ? AND status ="
                    " 'pending'",
                    STORE_ARGS(P(id), P(host)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        ST_IGNORE(st_snprintf(server, sizeof(server), "%s", store_text(s, 0)));
        ST_IGNORE(st_snprintf(kind, sizeof(kind), "%s", store_text(s, 1)));
    }
    store_done(s);
    if (rc <= 0)
        return rc;
    if (result)
        rtext = json_dumps(result, JSON_COMPACT);
    n = store_exec(c, err,
                   "UPDATE tasks SET status = ?, result = ?, error = ?, finished_at = ? WHERE"
                   " id = ?",
                   STORE_ARGS(P(status), P(rtext), P(error), P(st_now_us() / 1000000), P(id)));
    free(rtext);
    if (n < 0)
        return -1;
    *bump = true;
    if (!strncmp(kind, "volume_", 7)) {
        struct store_stmt *a = store_query(c, err, "SELECT args FROM tasks WHERE id = ?",
                                           STORE_ARGS(P(id)));
        json_t *args = NULL;
        if (!a)
            return -1;
        if (store_next(a, err) > 0)
            args = json_loads(store_text(a, 0), 0, NULL);
        store_done(a);
        rc = compute_volumes() ? compute_volumes()->task_done(c, host, id, kind, args, ok, result,
                                                              error, err)
                               : 0;
        json_decref(args);
        return rc;
    }
    if (!strcmp(kind, "reboot")) {
        return store_exec(c, err,
                          "UPDATE servers SET task_state = NULL, vm_state = CASE WHEN ? = 1"
                          " THEN 'active' ELSE vm_state END, updated_at = ? WHERE id = ? AND"
                          " task_state IN ('rebooting', 'rebooting_hard')",
                          STORE_ARGS(P((int) ok), P(st_now_us() / 1000000), P(server))) < 0 ||
                       server_actions_finish(c, server, ok ? "Success" : "Error", error, err) < 0
                   ? -1
                   : 0;
    }
    if (!strcmp(kind, "snapshot")) {
        if (!ok) {
            /* A failed snapshot leaves no half image behind. */
            struct store_stmt *a = store_query(c, err, "SELECT args FROM tasks WHERE id = ?",
                                               STORE_ARGS(P(id)));
            json_t *args = NULL;
            if (!a)
                return -1;
            if (store_next(a, err) > 0)
                args = json_loads(store_text(a, 0), 0, NULL);
            store_done(a);
            const char *img = json_string_value(json_object_get(args, "image_id"));
            if (img && store_exec(c, err,
                                  "DELETE FROM images WHERE id = ? AND status IN ('queued',"
                                  " 'saving')",
                                  STORE_ARGS(P(img))) < 0) {
                json_decref(args);
                return -1;
            }
            json_decref(args);
        }
        return store_exec(c, err,
                          "UPDATE servers SET task_state = NULL, updated_at = ? WHERE id = ? AND"
                          " task_state = 'image_snapshot'",
                          STORE_ARGS(P(st_now_us() / 1000000), P(server))) < 0 ||
                       server_actions_finish(c, server, ok ? "Success" : "Error", error, err) < 0
                   ? -1
                   : 0;
    }
    return 0;
}

json_t *host_report(struct store_conn *c, const struct compute_conf *conf, const char *name,
                    json_t *report, struct st_err *err)
{
    json_t *servers = json_object_get(report, "servers");
    json_t *tasks = json_object_get(report, "tasks");
    bool bump = false;
    int64_t rev, now = st_now_us() / 1000000;
    size_t i;
    json_t *v;

    (void) conf;
    json_t *stats = json_object_get(report, "stats");
    if ((servers && !json_is_array(servers)) || (tasks && !json_is_array(tasks)) ||
        (stats && !json_is_array(stats))) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "servers, tasks and stats must be arrays");
        return NULL;
    }
    if (json_array_size(servers) > 10000 || json_array_size(tasks) > 10000 ||
        json_array_size(stats) > 10000) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "report too large");
        return NULL;
    }
    if (store_begin(c, err) < 0)
        return NULL;
    if (store_exec(c, err, "UPDATE hosts SET last_seen = ? WHERE name = ?",
                   STORE_ARGS(P(now), P(name))) < 0)
        goto fail;
    json_array_foreach(tasks, i, v)
    {
        if (apply_task(c, name, v, &bump, err) < 0)
            goto fail;
    }
    json_array_foreach(servers, i, v)
    {
        /* A migration's progress first (it may move the server here),
         * then the server's own state (fenced to its host: load_row). */
        const char *sid = json_string_value(json_object_get(v, "id"));
        int moved = migration_report(c, name, v, &bump, err);
        if (moved < 0 || (!moved && apply_server(c, name, v, &bump, err) < 0) ||
            (sid && st_is_uuid(sid) && migration_after_report(c, name, sid, err) < 0))
            goto fail;
    }
    if (compute_volumes() && compute_volumes()->host_report(c, name, report, &bump, err) < 0)
        goto fail;
    if (compute_ports_host_report(c, name, report, err) < 0 ||
        server_stats_apply(c, name, report, err) < 0)
        goto fail;
    /* Finished tasks are kept an hour for their results, then dropped. */
    if (store_exec(c, err, "DELETE FROM tasks WHERE status <> 'pending' AND finished_at < ?",
                   STORE_ARGS(P(now - 3600))) < 0)
        goto fail;
    if (bump && revision_bump(c, name, err) < 0)
        goto fail;
    rev = revision_get(c, name, err);
    if (rev < 0 || store_commit(c, err) < 0)
        goto fail;
    revision_notify();
    return json_pack("{s:I}", "revision", (json_int_t) rev);
fail:
    store_rollback(c);
    return NULL;
}

int host_may_upload(struct store_conn *c, const char *name, const char *image_id,
                    struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT args FROM tasks WHERE host = ? AND kind IN"
                                       " ('snapshot', 'volume_upload_image') AND status ="
                                       " 'pending'",
                                       STORE_ARGS(P(name)));
    int rc, found = 0;
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0 && !found) {
        json_t *args = json_loads(store_text(s, 0), 0, NULL);
        found = st_streq(json_string_value(json_object_get(args, "image_id")), image_id);
        json_decref(args);
    }
    store_done(s);
    return rc < 0 ? -1 : found;
}

json_t *host_list(struct store_conn *c, const struct compute_conf *conf, struct st_err *err)
{
    struct store_stmt *s = store_query(
        c, err,
        "SELECT h.name, h.id, h.hypervisor_type, h.hypervisor_version, h.hypervisor_hostname,"
        " h.host_ip, h.vcpus, h.memory_mb, h.local_gb, h.cpu_info, h.enabled,"
        " h.disabled_reason, h.forced_down, h.availability_zone, h.last_seen, h.updated_at,"
        " COALESCE(SUM(s.vcpus), 0), COALESCE(SUM(s.memory_mb), 0),"
        " COALESCE(SUM(s.disk_gb), 0), COUNT(s.id), h.created_at,"
        " COALESCE(SUM(CASE WHEN s.task_state IS NOT NULL AND s.task_state <> '' THEN 1"
        " ELSE 0 END), 0), h.disk_available_least, h.uptime"
        " FROM hosts h LEFT JOIN servers s ON s.host = h.name GROUP BY h.name ORDER BY h.name",
        STORE_NOARGS);
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        json_t *h = json_pack(
            "{s:s, s:s, s:s, s:I, s:s, s:o, s:I, s:I, s:I, s:o, s:b, s:o, s:b, s:s, s:b,"
            " s:I, s:I, s:I, s:I, s:I, s:I}",
            "name", store_text(s, 0), "id", store_text(s, 1), "hypervisor_type",
            store_text(s, 2), "hypervisor_version", (json_int_t) store_int(s, 3),
            "hypervisor_hostname", store_text(s, 4) ? store_text(s, 4) : store_text(s, 0),
            "host_ip", st_json_str_or_null(store_text(s, 5)), "vcpus",
            (json_int_t) store_int(s, 6), "memory_mb", (json_int_t) store_int(s, 7), "local_gb",
            (json_int_t) store_int(s, 8), "cpu_info", parse_or(store_text(s, 9), json_object()),
            "enabled", (int) store_int(s, 10), "disabled_reason",
            st_json_str_or_null(store_text(s, 11)), "forced_down", (int) store_int(s, 12),
            "availability_zone", store_text(s, 13), "up",
            !store_isnull(s, 14) && host_is_up(store_int(s, 14), conf), "last_seen",
            (json_int_t) store_int(s, 14), "updated_at", (json_int_t) store_int(s, 15),
            "vcpus_used", (json_int_t) store_int(s, 16), "memory_mb_used",
            (json_int_t) (store_int(s, 17) + conf->reserved_host_memory_mb), "local_gb_used",
            (json_int_t) store_int(s, 18), "running_vms", (json_int_t) store_int(s, 19));
        json_object_set_new(h, "created_at", json_integer(store_int(s, 20)));
        /* Nova's figures: servers with a task under way, and the free disk
         * the agent measured net of its guests' overcommit (NULL until a
         * report brought it: then the claims' view). */
        json_object_set_new(h, "current_workload", json_integer(store_int(s, 21)));
        json_object_set_new(h, "disk_available_least",
                            json_integer(store_isnull(s, 22)
                                             ? store_int(s, 8) - store_int(s, 18)
                                             : store_int(s, 22)));
        json_object_set_new(h, "uptime", st_json_str_or_null(store_text(s, 23)));
        json_array_append_new(arr, h);
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

int host_set_enabled(struct store_conn *c, const char *name, bool enabled, const char *reason,
                     struct st_err *err)
{
    int64_t n = store_exec(c, err,
                           "UPDATE hosts SET enabled = ?, disabled_reason = ?, updated_at = ?"
                           " WHERE name = ?",
                           STORE_ARGS(P((int) enabled), P(enabled ? NULL : reason),
                                      P(st_now_us() / 1000000), P(name)));
    if (n == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Host '%s' could not be found.", name);
    return n > 0 ? 0 : -1;
}

int host_set_forced_down(struct store_conn *c, const char *name, bool down, struct st_err *err)
{
    int64_t n = store_exec(c, err,
                           "UPDATE hosts SET forced_down = ?, updated_at = ? WHERE name = ?",
                           STORE_ARGS(P((int) down), P(st_now_us() / 1000000), P(name)));
    if (n == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Host '%s' could not be found.", name);
    return n > 0 ? 0 : -1;
}

int host_task_wait(struct store *st, const char *task_id, int timeout_ms, json_t **result,
                   char **error, struct st_err *err)
{
    int64_t deadline = st_mono_ns() + (int64_t) timeout_ms * 1000000;
    *result = NULL;
    *error = NULL;
    for (;;) {
        struct store_conn *c = store_acquire(st, err);
        struct store_stmt *s;
        int rc, done = 0;
        if (!c)
            return -1;
        s = store_query(c, err, "SELECT status, result, error FROM tasks WHERE id = ?",
                        STORE_ARGS(P(task_id)));
        if (!s) {
            store_release(st, c);
            return -1;
        }
        rc = store_next(s, err);
        if (rc > 0 && strcmp(store_text(s, 0), "pending")) {
            done = !strcmp(store_text(s, 0), "done") ? 1 : 2;
            if (store_text(s, 1))
                *result = json_loads(store_text(s, 1), 0, NULL);
            if (store_text(s, 2))
                *error = st_xstrdup(store_text(s, 2));
        }
        store_done(s);
        store_release(st, c);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            st_err_set(err, ST_ERR_NOT_FOUND, "task %s vanished", task_id);
            return -1;
        }
        if (done)
            return done == 1 ? 0 : 1;
        int64_t left = deadline - st_mono_ns();
        if (left <= 0 || revision_waits_stopped())
            return 2;
        revision_wait(left > 1000000000 ? 1000 : (int) (left / 1000000) + 1);
    }
}

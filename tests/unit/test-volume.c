/* test-volume.c - Cinder's domain logic (src/volume/) on a real SQLite
 * store: scheduling onto a registered backend, the status machine driven by
 * reports (creating -> available, extending, snapshots, deleting -> gone),
 * quotas, the refusals that change nothing (delete in-use or with
 * snapshots, shrink, another project's volume), attach and detach through
 * compute's provider with the desired state the agent gets (file and iSCSI
 * connections, CHAP made here), volume tasks, and the lvm type a host's
 * registration creates. */
#include "testutil.h"

#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "compute/host.h"
#include "compute/ports.h"
#include "compute/server.h"
#include "compute/volumes.h"
#include "network/network.h"
#include "store/store.h"
#include "volume/volume.h"
#include "common/banned.h"

#define S1 "11111111-1111-4111-8111-111111111111"

static const struct compute_conf conf = {16.0, 1.5, 1.0, 512, 60, 10, 20, 51200, 60, "nova"};

struct fx {
    char *dir;
    struct store *st;
    struct store_conn *c;
    struct auth_ctx admin, alice, bob;
};

static void make_ctx(struct auth_ctx *ctx, const char *project, const char *role)
{
    memset(ctx, 0, sizeof(*ctx));
    snprintf(ctx->user_id, sizeof(ctx->user_id), "user-of-%s", project);
    snprintf(ctx->project_id, sizeof(ctx->project_id), "%s", project);
    ctx->project_scoped = true;
    snprintf(ctx->roles[0].name, sizeof(ctx->roles[0].name), "%s", role);
    ctx->nroles = 1;
    policy_set_flags(ctx);
}

static void host_up(struct fx *f, const char *name, const char *backends)
{
    struct st_buf secret = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    json_t *info = json_pack("{s:i, s:i, s:i, s:{}}", "vcpus", 4, "memory_mb", 8192, "local_gb",
                             100, "cpu_info");
    json_t *r;
    json_object_set_new(info, "volume_backends", json_loads(backends, 0, NULL));
    if (host_add(f->c, name, &secret, &err) < 0)
        fail_msg("host_add: %s", err.msg);
    r = host_register(f->c, NULL, name, info, &err);
    if (!r)
        fail_msg("host_register: %s", err.msg);
    json_decref(r);
    json_decref(info);
    st_buf_release(&secret);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct st_err err = ST_ERR_INIT;
    struct vol_conf vc = {60, "nova"};
    char db[4200];
    compute_ports_register(&net_compute_ports);
    compute_volumes_register(&vol_compute_volumes);
    vol_configure(&vc);
    f->dir = tu_mkdtemp();
    snprintf(db, sizeof(db), "%s/stratus.db", f->dir);
    f->st = store_open(db, 2, &err);
    if (!f->st || store_migrate(f->st, &err) < 0 || !(f->c = store_acquire(f->st, &err)))
        fail_msg("store: %s", err.msg);
    make_ctx(&f->admin, "proj-admin", "admin");
    make_ctx(&f->alice, "proj-a", "member");
    make_ctx(&f->bob, "proj-b", "member");
    host_up(f, "host1", "[{\"name\": \"file\", \"total_gb\": 100, \"free_gb\": 90}]");
    if (store_exec(f->c, &err,
                   "INSERT INTO servers (id, name, hostname, project_id, user_id, host, flavor,"
                   " vcpus, memory_mb, disk_gb, vm_state, created_at, updated_at) VALUES (?,"
                   " 'vm', 'vm', 'proj-a', 'u', 'host1', '{}', 1, 64, 1, 'active', 1, 1)",
                   STORE_ARGS(P(S1))) < 0)
        fail_msg("server: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_release(f->st, f->c);
    store_close(f->st);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void report(struct fx *f, const char *text)
{
    struct st_err err = ST_ERR_INIT;
    json_t *in = json_loads(text, 0, NULL), *out;
    if (!in)
        fail_msg("bad report JSON: %s", text);
    out = host_report(f->c, &conf, "host1", in, &err);
    if (!out)
        fail_msg("host_report: %s", err.msg);
    json_decref(out);
    json_decref(in);
}

/* Creates a volume of 'size' GiB for 'ctx'; returns its id (static). */
static const char *create(struct fx *f, const struct auth_ctx *ctx, int size)
{
    static char id[37];
    struct st_err err = ST_ERR_INIT;
    json_t *in = json_pack("{s:i, s:s}", "size", size, "name", "v"), *v;
    v = vol_create(f->c, ctx, in, &err);
    json_decref(in);
    if (!v)
        fail_msg("vol_create: %s", err.msg);
    ST_IGNORE(st_snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(v, "id"))));
    json_decref(v);
    return id;
}

static char *status_of(struct fx *f, const char *id)
{
    struct st_err err = ST_ERR_INIT;
    json_t *v = vol_get(f->c, &f->admin, id, &err);
    char *s = st_xstrdup(v ? json_string_value(json_object_get(v, "status")) : "(none)");
    json_decref(v);
    return s;
}

#define assert_status(f, id, want)                                                                 \
    do {                                                                                           \
        char *s_ = status_of((f), (id));                                                           \
        assert_string_equal(s_, (want));                                                           \
        free(s_);                                                                                  \
    } while (0)

static void available(struct fx *f, const char *id, int size)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"volumes\": [{\"id\": \"%s\", \"state\": \"available\", \"size\": %d,"
             " \"location\": {\"type\": \"file\", \"path\": \"/pool/volume-%s.qcow2\","
             " \"format\": \"qcow2\"}}]}",
             id, size, id);
    report(f, buf);
}

static json_t *desired(struct fx *f)
{
    struct st_err err = ST_ERR_INIT;
    json_t *d = host_desired(f->c, "host1", &err);
    if (!d)
        fail_msg("host_desired: %s", err.msg);
    return d;
}

static void t01_create_report_available(void **state)
{
    struct fx *f = *state;
    const char *id = create(f, &f->alice, 1);
    json_t *d = desired(f), *v = json_array_get(json_object_get(d, "volumes"), 0);
    char vid[37];
    memcpy(vid, id, 37);
    assert_status(f, vid, "creating");
    assert_string_equal(json_string_value(json_object_get(v, "id")), vid);
    assert_string_equal(json_string_value(json_object_get(v, "backend")), "file");
    assert_int_equal(json_integer_value(json_object_get(v, "size")), 1);
    assert_true(json_is_null(json_object_get(v, "source")));
    json_decref(d);
    report(f, "{\"volumes\": [{\"id\": \"nope\", \"state\": \"available\"}]}"); /* ignored */
    available(f, vid, 1);
    assert_status(f, vid, "available");
    available(f, vid, 1); /* twice is harmless */
    assert_status(f, vid, "available");
}

static void t02_no_backend_is_error(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    json_t *in = json_pack("{s:i}", "size", 1), *v;
    /* host1 down: the scheduler finds no backend. */
    assert_int_equal(store_exec(f->c, &err, "UPDATE hosts SET last_seen = 1", STORE_NOARGS), 1);
    v = vol_create(f->c, &f->alice, in, &err);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "status")), "error");
    /* ... and a volume in error without a host is deleted at once. */
    assert_int_equal(vol_delete(f->c, &f->alice, json_string_value(json_object_get(v, "id")),
                                false, false, &err),
                     0);
    json_decref(v);
    json_decref(in);
}

static void t03_refusals_change_nothing(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    char vid[37];
    json_t *in, *out = NULL;
    int64_t n = 0;
    memcpy(vid, create(f, &f->alice, 2), 37);
    available(f, vid, 2);
    /* shrink */
    in = json_pack("{s:i}", "new_size", 1);
    assert_int_equal(vol_action(f->c, &f->alice, vid, "os-extend", in, &out, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    json_decref(in);
    assert_status(f, vid, "available");
    /* another project's volume */
    st_err_clear(&err);
    assert_null(vol_get(f->c, &f->bob, vid, &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);
    assert_int_equal(vol_delete(f->c, &f->bob, vid, false, false, &err), -1);
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    /* over quota: 413 */
    st_err_clear(&err);
    in = json_pack("{s:i}", "size", 999);
    assert_null(vol_create(f->c, &f->alice, in, &err));
    assert_int_equal(err.kind, ST_ERR_TOO_LARGE);
    assert_int_equal(st_err_status(err.kind), 413);
    json_decref(in);
    /* unknown type: 404 */
    st_err_clear(&err);
    in = json_pack("{s:i, s:s}", "size", 1, "volume_type", "nosuch");
    assert_null(vol_create(f->c, &f->alice, in, &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    json_decref(in);
    assert_int_equal(store_get_int(f->c, &err, &n, "SELECT COUNT(*) FROM volumes", STORE_NOARGS),
                     1);
    assert_int_equal(n, 1);
}

static void t04_extend_snapshot_delete(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    char vid[37], sid[37], buf[512];
    json_t *in, *out = NULL, *s, *d;
    memcpy(vid, create(f, &f->alice, 1), 37);
    available(f, vid, 1);
    in = json_pack("{s:i}", "new_size", 3);
    assert_int_equal(vol_action(f->c, &f->alice, vid, "os-extend", in, &out, &err), 202);
    json_decref(in);
    assert_status(f, vid, "extending");
    available(f, vid, 1); /* not grown yet */
    assert_status(f, vid, "extending");
    available(f, vid, 3);
    assert_status(f, vid, "available");

    in = json_pack("{s:s, s:s}", "volume_id", vid, "name", "s1");
    s = vol_snapshot_create(f->c, &f->alice, in, &err);
    json_decref(in);
    assert_non_null(s);
    ST_IGNORE(st_snprintf(sid, sizeof(sid), "%s", json_string_value(json_object_get(s, "id"))));
    assert_string_equal(json_string_value(json_object_get(s, "status")), "creating");
    json_decref(s);
    d = desired(f);
    s = json_array_get(json_object_get(json_array_get(json_object_get(d, "volumes"), 0),
                                       "snapshots"),
                       0);
    assert_string_equal(json_string_value(json_object_get(s, "id")), sid);
    json_decref(d);
    snprintf(buf, sizeof(buf),
             "{\"volumes\": [{\"id\": \"%s\", \"state\": \"available\", \"size\": 3,"
             " \"snapshots\": [{\"id\": \"%s\", \"state\": \"available\"}]}]}",
             vid, sid);
    report(f, buf);
    s = vol_snapshot_get(f->c, &f->alice, sid, &err);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "available");
    json_decref(s);
    /* with a snapshot: refused unless cascade */
    assert_int_equal(vol_delete(f->c, &f->alice, vid, false, false, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_status(f, vid, "available");
    st_err_clear(&err);
    assert_int_equal(vol_delete(f->c, &f->alice, vid, true, false, &err), 0);
    assert_status(f, vid, "deleting");
    d = desired(f);
    assert_true(json_is_true(json_object_get(json_array_get(json_object_get(d, "volumes"), 0),
                                             "delete")));
    json_decref(d);
    snprintf(buf, sizeof(buf), "{\"volumes\": [{\"id\": \"%s\", \"state\": \"gone\"}]}", vid);
    report(f, buf);
    assert_status(f, vid, "(none)");
    assert_null(vol_snapshot_get(f->c, &f->alice, sid, &err));
}

static void t05_attach_detach(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct vol_server srv = {S1, "proj-a", "host1"};
    char vid[37], aid[37], buf[512];
    json_t *a, *d, *sv;
    memcpy(vid, create(f, &f->alice, 1), 37);
    /* not available yet */
    assert_null(vol_attach(f->c, &f->alice, &srv, vid, NULL, false, &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    available(f, vid, 1);
    a = vol_attach(f->c, &f->alice, &srv, vid, NULL, true, &err);
    if (!a)
        fail_msg("vol_attach: %s", err.msg);
    assert_string_equal(json_string_value(json_object_get(a, "device")), "/dev/vdb");
    ST_IGNORE(st_snprintf(aid, sizeof(aid), "%s",
                          json_string_value(json_object_get(a, "attachment_id"))));
    json_decref(a);
    assert_status(f, vid, "attaching");
    /* a second attach loses */
    assert_null(vol_attach(f->c, &f->alice, &srv, vid, NULL, false, &err));
    st_err_clear(&err);
    d = desired(f);
    sv = json_array_get(json_object_get(json_array_get(json_object_get(d, "servers"), 0),
                                        "volumes"),
                        0);
    assert_string_equal(json_string_value(json_object_get(sv, "attachment_id")), aid);
    assert_string_equal(json_string_value(json_object_get(sv, "device")), "vdb");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(sv, "connection"), "type")), "file");
    json_decref(d);
    snprintf(buf, sizeof(buf),
             "{\"servers\": [{\"id\": \"%s\", \"state\": \"running\", \"power_state\": 1,"
             " \"disk_generation\": 1, \"volumes\": [{\"attachment_id\": \"%s\", \"state\":"
             " \"attached\"}]}]}",
             S1, aid);
    report(f, buf);
    assert_status(f, vid, "in-use");
    assert_int_equal(vol_delete(f->c, &f->alice, vid, false, false, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    a = vol_compute_volumes.attached(f->c, S1, &err);
    assert_int_equal(json_array_size(a), 1);
    assert_true(json_is_true(json_object_get(json_array_get(a, 0), "delete_on_termination")));
    json_decref(a);
    /* bob cannot detach what he cannot see: compute checks the server;
     * the module refuses an unknown pair */
    assert_int_equal(vol_detach(f->c, &f->alice, S1, "00000000-0000-4000-8000-000000000000", &err),
                     -1);
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);
    assert_int_equal(vol_detach(f->c, &f->alice, S1, vid, &err), 0);
    assert_status(f, vid, "detaching");
    /* a report of an agent that knows no volumes says nothing */
    snprintf(buf, sizeof(buf),
             "{\"servers\": [{\"id\": \"%s\", \"state\": \"running\", \"power_state\": 1,"
             " \"disk_generation\": 1}]}",
             S1);
    report(f, buf);
    assert_status(f, vid, "detaching");
    snprintf(buf, sizeof(buf),
             "{\"servers\": [{\"id\": \"%s\", \"state\": \"running\", \"power_state\": 1,"
             " \"disk_generation\": 1, \"volumes\": []}]}",
             S1);
    report(f, buf);
    assert_status(f, vid, "available");
}

static void t06_iscsi_export(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct vol_server srv = {S1, "proj-a", "host1"};
    json_t *t, *specs, *d, *e, *a, *conn;
    char vid[37], buf[1024];
    const char *aid;
    t = json_pack("{s:s}", "name", "net");
    json_decref(vol_type_create(f->c, &f->admin, t, &err));
    json_decref(t);
    specs = json_pack("{s:s, s:s}", "volume_backend_name", "file", "iscsi", "true");
    json_decref(vol_type_specs_set(f->c, &f->admin, "net", specs, &err));
    json_decref(specs);
    t = json_pack("{s:i, s:s}", "size", 1, "volume_type", "net");
    a = vol_create(f->c, &f->alice, t, &err);
    json_decref(t);
    if (!a)
        fail_msg("vol_create: %s", err.msg);
    ST_IGNORE(st_snprintf(vid, sizeof(vid), "%s", json_string_value(json_object_get(a, "id"))));
    json_decref(a);
    available(f, vid, 1);
    a = vol_attach(f->c, &f->alice, &srv, vid, NULL, false, &err);
    assert_non_null(a);
    json_decref(a);
    d = desired(f);
    e = json_array_get(json_object_get(json_array_get(json_object_get(d, "volumes"), 0),
                                       "exports"),
                       0);
    aid = json_string_value(json_object_get(e, "attachment_id"));
    assert_non_null(aid);
    assert_int_equal(strlen(json_string_value(json_object_get(e, "chap_secret"))), 32);
    assert_int_equal(strncmp(json_string_value(json_object_get(e, "chap_user")), "att-", 4), 0);
    /* no connection for the server until the export is reported */
    assert_int_equal(json_array_size(json_object_get(
                         json_array_get(json_object_get(d, "servers"), 0), "volumes")),
                     0);
    snprintf(buf, sizeof(buf),
             "{\"volumes\": [{\"id\": \"%s\", \"state\": \"available\", \"size\": 1, \"exports\":"
             " [{\"attachment_id\": \"%s\", \"portal\": \"127.0.0.1:3260\", \"iqn\":"
             " \"iqn.2026-01.invalid.stratus:%s\", \"lun\": 1}]}]}",
             vid, aid, aid);
    report(f, buf);
    json_decref(d);
    d = desired(f);
    conn = json_object_get(json_array_get(json_object_get(json_array_get(json_object_get(d,
                                                                                         "servers"),
                                                                          0),
                                                          "volumes"),
                                          0),
                           "connection");
    assert_string_equal(json_string_value(json_object_get(conn, "type")), "iscsi");
    assert_string_equal(json_string_value(json_object_get(conn, "portal")), "127.0.0.1:3260");
    assert_int_equal(strlen(json_string_value(json_object_get(conn, "chap_secret"))), 32);
    json_decref(d);
}

static void t07_backup_task_and_lvm_type(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    char vid[37], buf[512];
    json_t *in, *b, *d, *task = NULL, *e, *t;
    size_t i;
    memcpy(vid, create(f, &f->alice, 1), 37);
    available(f, vid, 1);
    in = json_pack("{s:s}", "volume_id", vid);
    b = vol_backup_create(f->c, &f->alice, in, &err);
    json_decref(in);
    assert_non_null(b);
    assert_status(f, vid, "backing-up");
    d = desired(f);
    json_array_foreach(json_object_get(d, "tasks"), i, e)
    {
        if (st_streq(json_string_value(json_object_get(e, "kind")), "volume_backup"))
            task = e;
    }
    assert_non_null(task);
    assert_string_equal(json_string_value(json_object_get(task, "volume_id")), vid);
    /* the backup is in the host's desired "backups" before its task ran */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(d, "backups"), 0), "id")),
                        json_string_value(json_object_get(b, "id")));
    snprintf(buf, sizeof(buf),
             "{\"tasks\": [{\"id\": \"%s\", \"status\": \"done\", \"result\": {\"size\": 77}}]}",
             json_string_value(json_object_get(task, "id")));
    json_decref(d);
    report(f, buf);
    assert_status(f, vid, "available");
    t = vol_backup_get(f->c, &f->alice, json_string_value(json_object_get(b, "id")), &err);
    assert_string_equal(json_string_value(json_object_get(t, "status")), "available");
    json_decref(t);
    assert_int_equal(vol_backup_delete(f->c, &f->alice, json_string_value(json_object_get(b, "id")),
                                       false, &err),
                     0);
    d = desired(f);
    assert_int_equal(json_array_size(json_object_get(d, "backups")), 0);
    json_decref(d);
    json_decref(b);
    /* no lvm type until a host brings the backend */
    assert_null(vol_type_get(f->c, &f->admin, "lvm", &err));
    st_err_clear(&err);
    host_up(f, "host2", "[{\"name\": \"file\"}, {\"name\": \"lvm\", \"total_gb\": 10}]");
    t = vol_type_get(f->c, &f->admin, "lvm", &err);
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "extra_specs"),
                                                          "volume_backend_name")),
                        "lvm");
    json_decref(t);
    t = vol_services(f->c, &f->admin, &err);
    assert_int_equal(json_array_size(t), 1 + 2 + 3); /* scheduler, host1 x2, host2 x3 */
    json_decref(t);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t01_create_report_available, setup, teardown),
        cmocka_unit_test_setup_teardown(t02_no_backend_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(t03_refusals_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(t04_extend_snapshot_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(t05_attach_detach, setup, teardown),
        cmocka_unit_test_setup_teardown(t06_iscsi_export, setup, teardown),
        cmocka_unit_test_setup_teardown(t07_backup_task_and_lvm_type, setup, teardown),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("volume", tests, known_bugs);
}

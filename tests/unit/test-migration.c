/* test-migration.c - migrations between hosts (src/compute/migration.c,
 * migration_list.c): file names, Nova's in-progress statuses, the cold and
 * live state machines driven by hosts' reports through host_report(), the
 * per-role "migration" object of the desired state, the fencing of reports
 * from hosts that are not the migration's, and the capacity a migration
 * holds on its destination; an evacuation takes the server's volumes along
 * (the volume provider's rehome), a cold migration of such a server is
 * refused. */
#include "testutil.h"

#include "common/json.h"
#include "common/util.h"
#include "compute/host.h"
#include "compute/migration.h"
#include "compute/ports.h"
#include "compute/scheduler.h"
#include "compute/server.h"
#include "network/network.h"
#include "compute/volumes.h"
#include "store/store.h"
#include "volume/volume.h"
#include "common/banned.h"

#define S1 "11111111-1111-4111-8111-111111111111"
#define V1 "aaaaaaaa-1111-4111-8111-111111111111"
#define V2 "bbbbbbbb-2222-4222-8222-222222222222"
#define A1 "cccccccc-1111-4111-8111-111111111111"
#define A2 "dddddddd-2222-4222-8222-222222222222"

static const struct compute_conf conf = {16.0, 1.5, 1.0, 512, 60, 10, 20, 51200, 60, "nova",
                                         true, 64};

struct fx {
    char *dir;
    struct store *st;
    struct store_conn *c;
    struct auth_ctx ctx;
    struct server_rec r;
};

static void host_up(struct fx *f, const char *name, int mem)
{
    struct st_buf secret = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    json_t *info = json_pack("{s:i, s:i, s:i, s:s}", "vcpus", 4, "memory_mb", mem, "local_gb", 100,
                             "host_ip", "198.18.0.9");
    json_t *r;
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
    char db[4200];
    compute_ports_register(&net_compute_ports);
    f->dir = tu_mkdtemp();
    snprintf(db, sizeof(db), "%s/stratus.db", f->dir);
    f->st = store_open(db, 2, &err);
    if (!f->st || store_migrate(f->st, &err) < 0 || !(f->c = store_acquire(f->st, &err)))
        fail_msg("store: %s", err.msg);
    host_up(f, "host1", 8192);
    host_up(f, "host2", 1024); /* room for 1024 * 1.5 - 512 = 1024 MiB */
    host_up(f, "host3", 8192);
    if (store_exec(f->c, &err,
                   "INSERT INTO servers (id, name, hostname, project_id, user_id, host, flavor,"
                   " vcpus, memory_mb, disk_gb, vm_state, created_at, updated_at) VALUES (?, 'vm',"
                   " 'vm', 'p', 'u', 'host1', '{\"vcpus\": 1, \"ram\": 512, \"disk\": 1}', 1, 512,"
                   " 1, 'active', 1, 1)",
                   STORE_ARGS(P(S1))) < 0)
        fail_msg("insert: %s", err.msg);
    f->ctx.is_admin = f->ctx.project_scoped = f->ctx.is_member = f->ctx.is_reader = true;
    snprintf(f->ctx.user_id, sizeof(f->ctx.user_id), "admin-user");
    snprintf(f->ctx.project_id, sizeof(f->ctx.project_id), "admin-project");
    if (server_get(f->c, &f->ctx, S1, &f->r, &err) < 0)
        fail_msg("server_get: %s", err.msg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    server_rec_release(&f->r);
    store_release(f->st, f->c);
    store_close(f->st);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void report(struct fx *f, const char *host, const char *text)
{
    struct st_err err = ST_ERR_INIT;
    json_t *in = json_loads(text, 0, NULL), *out;
    if (!in)
        fail_msg("bad JSON: %s", text);
    out = host_report(f->c, &conf, host, in, &err);
    if (!out)
        fail_msg("host_report: %s", err.msg);
    json_decref(out);
    json_decref(in);
}

/* Reports migration 'mid' of S1 in 'state' (and 'extra' members) from 'host'. */
static void mig_report(struct fx *f, const char *host, const char *mid, const char *state,
                       const char *extra)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "{\"servers\": [{\"id\": \"" S1 "\", \"state\": \"running\", \"disk_generation\":"
             " 1, \"migration\": {\"id\": \"%s\", \"state\": \"%s\"%s}}]}",
             mid, state, extra ? extra : "");
    report(f, host, text);
}

static char *col(struct fx *f, const char *sql)
{
    struct st_err err = ST_ERR_INIT;
    struct store_stmt *s = store_query(f->c, &err, sql, STORE_ARGS(P(S1)));
    char *v;
    if (!s)
        fail_msg("%s: %s", sql, err.msg);
    v = st_xstrdup(store_next(s, &err) > 0 && store_text(s, 0) ? store_text(s, 0) : "");
    store_done(s);
    return v;
}

#define assert_col(f, sql, want)                                                                   \
    do {                                                                                           \
        char *v_ = col((f), (sql));                                                                \
        assert_string_equal(v_, (want));                                                           \
        free(v_);                                                                                  \
    } while (0)

#define SERVER(c) "SELECT " c " FROM servers WHERE id = ?"
#define MIG(c) "SELECT " c " FROM migrations WHERE server_id = ? ORDER BY id DESC LIMIT 1"

/* The "migration" of S1 in host's desired state: compact, keys sorted;
 * "absent" when S1 is not in it. */
static char *desired_mig(struct fx *f, const char *host)
{
    struct st_err err = ST_ERR_INIT;
    json_t *d = host_desired(f->c, host, &err), *s;
    char *out = NULL;
    size_t i;
    if (!d)
        fail_msg("host_desired: %s", err.msg);
    json_array_foreach(json_object_get(d, "servers"), i, s)
    {
        if (!strcmp(json_string_value(json_object_get(s, "id")), S1)) {
            json_t *m = json_object_get(s, "migration");
            json_t *c = json_is_object(m) ? json_pack("{s:O, s:O, s:O}", "role",
                                                      json_object_get(m, "role"), "state",
                                                      json_object_get(m, "state"), "peer",
                                                      json_object_get(json_object_get(m, "peer"),
                                                                      "host"))
                                          : json_null();
            out = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            json_decref(c);
        }
    }
    json_decref(d);
    return out ? out : st_xstrdup("absent");
}

#define assert_desired(f, host, want)                                                              \
    do {                                                                                           \
        char *v_ = desired_mig((f), (host));                                                       \
        assert_string_equal(v_, (want));                                                           \
        free(v_);                                                                                  \
    } while (0)

static void in_tx(struct fx *f, int rc, struct st_err *err)
{
    if (rc < 0) {
        store_rollback(f->c);
        fail_msg("%s", err->msg);
    }
    if (store_commit(f->c, err) < 0)
        fail_msg("commit: %s", err->msg);
}

static void start_cold(struct fx *f, const char *dest)
{
    struct st_err err = ST_ERR_INIT;
    assert_int_equal(store_begin(f->c, &err), 0);
    in_tx(f, migration_start_cold(f->c, &f->ctx, &f->r, dest, NULL, NULL, &err), &err);
}

static void t01_file_names(void **state)
{
    char name[66];
    (void) state;
    memset(name, 'x', 64);
    name[64] = '\0';
    assert_true(migration_file_name_ok(name)); /* 64: the longest */
    name[64] = 'x';
    name[65] = '\0';
    assert_false(migration_file_name_ok(name));
    assert_true(migration_file_name_ok("disk"));
    assert_true(migration_file_name_ok("disk.eph0"));
    assert_true(migration_file_name_ok("seed.iso"));
    assert_false(migration_file_name_ok(""));
    assert_false(migration_file_name_ok(NULL));
    assert_false(migration_file_name_ok("Disk"));
    assert_false(migration_file_name_ok(".disk"));
    assert_false(migration_file_name_ok("../disk"));
    assert_false(migration_file_name_ok("a/b"));
    assert_false(migration_file_name_ok("0disk"));
}

static void t02_statuses(void **state)
{
    (void) state;
    assert_true(migration_status_in_progress("pre-migrating"));
    assert_true(migration_status_in_progress("running"));
    assert_true(migration_status_in_progress("confirming"));
    assert_false(migration_status_in_progress("finished"));
    assert_false(migration_status_in_progress("confirmed"));
    assert_false(migration_status_in_progress("cancelled"));
    assert_false(migration_status_in_progress("done"));
}

static void t03_cold_confirm(void **state)
{
    struct fx *f = *state;
    char *mid;
    start_cold(f, "host2");
    mid = col(f, MIG("uuid"));
    assert_col(f, SERVER("task_state"), "resize_prep");
    assert_desired(f, "host1", "{\"peer\":\"host2\",\"role\":\"source\",\"state\":\"export\"}");
    assert_desired(f, "host2", "absent");
    /* A report from a host that is not the migration's changes nothing. */
    mig_report(f, "host3", mid, "exported", ", \"files\": []");
    mig_report(f, "host2", mid, "imported", NULL);
    assert_col(f, MIG("status"), "pre-migrating");
    mig_report(f, "host1", mid, "exporting", NULL);
    assert_col(f, MIG("status"), "migrating");
    mig_report(f, "host1", mid, "exported",
               ", \"files\": [{\"name\": \"disk\", \"size\": 3, \"sha256\": "
               "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}]");
    assert_col(f, SERVER("host"), "host2");
    assert_col(f, MIG("status"), "post-migrating");
    assert_desired(f, "host1", "{\"peer\":\"host2\",\"role\":\"source\",\"state\":\"hold\"}");
    assert_desired(f, "host2", "{\"peer\":\"host1\",\"role\":\"dest\",\"state\":\"import\"}");
    /* The old host's report of the server itself is fenced. */
    report(f, "host1", "{\"servers\": [{\"id\": \"" S1 "\", \"state\": \"error\"}]}");
    assert_col(f, SERVER("vm_state"), "active");
    mig_report(f, "host2", mid, "imported", NULL);
    assert_col(f, SERVER("vm_state"), "resized");
    assert_col(f, MIG("status"), "finished");
    {
        struct st_err err = ST_ERR_INIT;
        server_rec_release(&f->r);
        assert_int_equal(server_get(f->c, &f->ctx, S1, &f->r, &err), 0);
        assert_int_equal(store_begin(f->c, &err), 0);
        int rc = migration_confirm(f->c, &f->r, &err);
        assert_int_equal(rc, 1);
        in_tx(f, 0, &err);
    }
    assert_col(f, SERVER("vm_state"), "active");
    assert_desired(f, "host1", "{\"peer\":\"host2\",\"role\":\"source\",\"state\":\"cleanup\"}");
    assert_desired(f, "host2", "null");
    mig_report(f, "host1", mid, "cleaned", NULL);
    assert_col(f, MIG("status || active"), "confirmed0");
    assert_desired(f, "host1", "absent");
    free(mid);
}

static void t04_claim_on_destination(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    struct sched_request req = {1, 512, 1, NULL, "host2", NULL, 0, NULL, 0};
    char host[64];
    assert_int_equal(store_begin(f->c, &err), 0);
    assert_int_equal(sched_claim(f->c, &conf, &req, host, sizeof(host), &err), 1);
    store_rollback(f->c);
    start_cold(f, "host2");
    /* 512 held for the migration + 512 more would fit in 1024: still. */
    assert_int_equal(store_begin(f->c, &err), 0);
    assert_int_equal(sched_claim(f->c, &conf, &req, host, sizeof(host), &err), 1);
    req.ram_mb = 513;
    assert_int_equal(sched_claim(f->c, &conf, &req, host, sizeof(host), &err), 0);
    store_rollback(f->c);
    /* A second migration of the same server is refused. */
    assert_int_equal(store_begin(f->c, &err), 0);
    assert_int_equal(migration_start_cold(f->c, &f->ctx, &f->r, "host3", NULL, NULL, &err), -1);
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    store_rollback(f->c);
}

static void t05_live_abort_and_complete(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    char *mid;
    int64_t id;
    assert_int_equal(store_begin(f->c, &err), 0);
    in_tx(f, migration_start_live(f->c, &f->ctx, &f->r, "host3", true, &err), &err);
    assert_col(f, SERVER("task_state"), "migrating");
    assert_desired(f, "host3", "{\"peer\":\"host1\",\"role\":\"dest\",\"state\":\"prepare\"}");
    assert_desired(f, "host1", "null");
    {
        char *s = col(f, MIG("id"));
        assert_int_equal(st_parse_i64(s, 1, INT64_MAX, &id), 0);
        free(s);
    }
    assert_int_equal(store_begin(f->c, &err), 0);
    assert_int_equal(migration_force_complete(f->c, S1, id, &err), -1);
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    st_err_clear(&err);
    in_tx(f, migration_abort(f->c, S1, id, &err), &err);
    assert_col(f, MIG("status"), "cancelled");
    assert_col(f, SERVER("COALESCE(task_state, 'none')"), "none");
    assert_desired(f, "host3", "{\"peer\":\"host1\",\"role\":\"dest\",\"state\":\"cleanup\"}");
    mid = col(f, MIG("uuid"));
    mig_report(f, "host3", mid, "cleaned", NULL);
    assert_desired(f, "host3", "absent");
    free(mid);

    assert_int_equal(store_begin(f->c, &err), 0);
    in_tx(f, migration_start_live(f->c, &f->ctx, &f->r, "host3", true, &err), &err);
    mid = col(f, MIG("uuid"));
    mig_report(f, "host1", mid, "prepared", ", \"dest_xml\": \"<domain/>\""); /* fenced */
    assert_col(f, MIG("status"), "preparing");
    mig_report(f, "host3", mid, "prepared", ", \"dest_xml\": \"<domain/>\"");
    assert_col(f, MIG("status"), "running");
    assert_desired(f, "host1", "{\"peer\":\"host3\",\"role\":\"source\",\"state\":\"migrate\"}");
    mig_report(f, "host1", mid, "running",
               ", \"progress\": {\"memory_total_bytes\": 10, \"bogus\": \"x\"}");
    assert_col(f, MIG("progress"), "{\"memory_total_bytes\":10}");
    mig_report(f, "host1", mid, "completed", NULL);
    assert_col(f, SERVER("host"), "host3");
    assert_col(f, MIG("status"), "completed");
    assert_desired(f, "host1", "{\"peer\":\"host3\",\"role\":\"source\",\"state\":\"cleanup\"}");
    assert_desired(f, "host3", "null");
    mig_report(f, "host1", mid, "cleaned", NULL);
    assert_desired(f, "host1", "absent");
    assert_col(f, MIG("active"), "0");
    free(mid);
}

static void t06_cold_import_fails(void **state)
{
    struct fx *f = *state;
    char *mid;
    start_cold(f, "host2");
    mid = col(f, MIG("uuid"));
    mig_report(f, "host1", mid, "exported", ", \"files\": []");
    assert_col(f, SERVER("host"), "host2");
    /* The agents say "error" (or "failed"), with why. */
    mig_report(f, "host2", mid, "error", ", \"error\": \"sha256 mismatch\"");
    assert_col(f, MIG("status || ' ' || error"), "error sha256 mismatch");
    assert_desired(f, "host2", "{\"peer\":\"host1\",\"role\":\"dest\",\"state\":\"cleanup\"}");
    mig_report(f, "host2", mid, "cleaned", NULL);
    assert_col(f, SERVER("host"), "host1");
    assert_desired(f, "host1", "{\"peer\":\"host2\",\"role\":\"source\",\"state\":\"restore\"}");
    assert_desired(f, "host2", "absent");
    mig_report(f, "host1", mid, "restored", NULL);
    assert_col(f, MIG("status || active"), "error0");
    assert_col(f, SERVER("vm_state || COALESCE(task_state, '-')"), "active-");
    assert_desired(f, "host1", "null");
    free(mid);
}


/* Volume 'vid' on 'vhost', attached ('attached', in-use) to S1 on host1
 * as 'att' over iSCSI when 'vhost' is another host. */
static void volume_attached(struct fx *f, const char *vid, const char *vhost, const char *att,
                            const char *dev)
{
    struct st_err err = ST_ERR_INIT;
    bool iscsi = strcmp(vhost, "host1") != 0;
    if (store_exec(f->c, &err,
                   "INSERT INTO volumes (id, project_id, user_id, name, size, type_id, host,"
                   " backend, status, location, created_at, updated_at) VALUES (?, 'p', 'u',"
                   " 'v', 1, (SELECT id FROM volume_types WHERE name = 'file'), ?, 'file',"
                   " 'in-use', '{\"type\": \"file\", \"path\": \"/v/x.qcow2\", \"format\":"
                   " \"qcow2\"}', 1, 1)",
                   STORE_ARGS(P(vid), P(vhost))) < 0 ||
        store_exec(f->c, &err,
                   "INSERT INTO volume_attachments (id, volume_id, server_id, host, device,"
                   " status, transport, chap_user, chap_secret, export, attached_at, created_at,"
                   " updated_at) VALUES (?, ?, ?, 'host1', ?, 'attached', ?, ?, ?, ?, 1, 1, 1)",
                   STORE_ARGS(P(att), P(vid), P(S1), P(dev), P(iscsi ? "iscsi" : "file"),
                              P(iscsi ? "att-old" : NULL),
                              P(iscsi ? "0123456789abcdef0123456789abcdef" : NULL),
                              P(iscsi ? "{\"iqn\": \"iqn.x:old\", \"lun\": 1, \"portal\":"
                                        " \"198.18.0.9:3260\"}"
                                      : NULL))) < 0)
        fail_msg("insert: %s", err.msg);
}

static void host_down(struct fx *f, const char *host)
{
    struct st_err err = ST_ERR_INIT;
    if (store_exec(f->c, &err, "UPDATE hosts SET forced_down = 1 WHERE name = ?",
                   STORE_ARGS(P(host))) < 0)
        fail_msg("update: %s", err.msg);
}

#define ATT(c) "SELECT " c " FROM volume_attachments WHERE server_id = ? ORDER BY device LIMIT 1"

/* The "volumes" of S1 in host's desired state, compact. */
static char *desired_vols(struct fx *f, const char *host)
{
    struct st_err err = ST_ERR_INIT;
    json_t *d = host_desired(f->c, host, &err), *s;
    char *out = NULL;
    size_t i;
    if (!d)
        fail_msg("host_desired: %s", err.msg);
    json_array_foreach(json_object_get(d, "servers"), i, s)
    {
        if (!strcmp(json_string_value(json_object_get(s, "id")), S1))
            out = json_dumps(json_object_get(s, "volumes"), JSON_COMPACT | JSON_SORT_KEYS);
    }
    json_decref(d);
    return out ? out : st_xstrdup("absent");
}

static void t07_evacuate_takes_volumes(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    char *att, *text, rep[2048];
    compute_volumes_register(&vol_compute_volumes);
    volume_attached(f, V1, "host3", A1, "vdb");
    /* Cold migration of a server with volumes: still 409. */
    assert_int_equal(store_begin(f->c, &err), 0);
    assert_int_equal(migration_start_cold(f->c, &f->ctx, &f->r, "host2", NULL, NULL, &err), -1);
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "evacuation"));
    store_rollback(f->c);
    st_err_clear(&err);
    assert_col(f, "SELECT COUNT(*) FROM migrations WHERE server_id = ?", "0");

    host_down(f, "host1");
    assert_int_equal(store_begin(f->c, &err), 0);
    in_tx(f, migration_start_evacuate(f->c, &f->ctx, &f->r, "host2", &err), &err);
    assert_col(f, SERVER("host"), "host2");
    /* A new attachment on host2, over iSCSI with fresh credentials. */
    att = col(f, ATT("id"));
    assert_string_not_equal(att, A1);
    assert_col(f, ATT("host || ' ' || status || ' ' || transport || ' ' || device"),
               "host2 attaching iscsi vdb");
    assert_col(f, ATT("chap_user = 'att-' || substr(id, 1, 8) AND length(chap_secret) = 32 AND"
                      " chap_secret <> '0123456789abcdef0123456789abcdef' AND export IS NULL"),
               "1");
    assert_col(f, "SELECT status FROM volumes WHERE id = '" V1 "' AND ? IS NOT NULL", "attaching");
    /* Host3 exports it for the new attachment only; host2 gets it once
     * the export is reported. */
    {
        json_t *d = host_desired(f->c, "host3", &err);
        json_t *x = json_object_get(json_array_get(json_object_get(d, "volumes"), 0), "exports");
        assert_int_equal(json_array_size(x), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(x, 0),
                                                              "attachment_id")),
                            att);
        json_decref(d);
    }
    text = desired_vols(f, "host2");
    assert_string_equal(text, "[]");
    free(text);
    snprintf(rep, sizeof(rep),
             "{\"volumes\": [{\"id\": \"" V1 "\", \"state\": \"available\", \"size\": 1,"
             " \"exports\": [{\"attachment_id\": \"%s\", \"portal\": \"198.18.0.9:3260\","
             " \"iqn\": \"iqn.2026-01.invalid.stratus:%s\", \"lun\": 1}]}]}",
             att, att);
    report(f, "host3", rep);
    text = desired_vols(f, "host2");
    assert_non_null(strstr(text, "\"type\":\"iscsi\""));
    assert_non_null(strstr(text, att));
    free(text);
    /* Host2 builds it with the volume and says so: in-use again. */
    snprintf(rep, sizeof(rep),
             "{\"servers\": [{\"id\": \"" S1 "\", \"state\": \"running\","
             " \"disk_generation\": 2, \"volumes\": [{\"attachment_id\": \"%s\","
             " \"state\": \"attached\", \"fault\": null}]}]}",
             att);
    report(f, "host2", rep);
    assert_col(f, ATT("status"), "attached");
    assert_col(f, "SELECT status FROM volumes WHERE id = '" V1 "' AND ? IS NOT NULL", "in-use");
    assert_col(f, MIG("status"), "done");
    free(att);
}

static void t08_evacuate_volume_on_down_host(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    compute_volumes_register(&vol_compute_volumes);
    volume_attached(f, V1, "host3", A1, "vdb");
    volume_attached(f, V2, "host1", A2, "vdc");
    host_down(f, "host1");
    assert_int_equal(store_begin(f->c, &err), 0);
    assert_int_equal(migration_start_evacuate(f->c, &f->ctx, &f->r, "host2", &err), -1);
    store_rollback(f->c);
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "Volume " V2 " is on host host1, which is down"));
    st_err_clear(&err);
    assert_col(f, "SELECT COUNT(*) FROM migrations WHERE server_id = ?", "0");
    assert_col(f, SERVER("host || ' ' || disk_generation"), "host1 1");
    assert_col(f, "SELECT group_concat(id || ':' || host || ':' || status, ' ') FROM (SELECT *"
                  " FROM volume_attachments WHERE server_id = ? ORDER BY device)",
               A1 ":host1:attached " A2 ":host1:attached");
    /* The same when the volume's host is another that is down. */
    assert_int_equal(store_exec(f->c, &err, "DELETE FROM volume_attachments WHERE id = ?",
                                STORE_ARGS(P(A2))),
                     1);
    host_down(f, "host3");
    assert_int_equal(store_begin(f->c, &err), 0);
    assert_int_equal(migration_start_evacuate(f->c, &f->ctx, &f->r, "host2", &err), -1);
    store_rollback(f->c);
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "Volume " V1 " is on host host3, which is down"));
    assert_col(f, SERVER("host"), "host1");
}

/* A server booted from a volume is not in the destination's desired state
 * until its boot volume's connection is known: else the destination would
 * make a root disk from the image. */
static void t09_evacuate_boot_volume_waits(void **state)
{
    struct fx *f = *state;
    struct st_err err = ST_ERR_INIT;
    char *att, *text, rep[2048];
    compute_volumes_register(&vol_compute_volumes);
    volume_attached(f, V1, "host3", A1, "vda");
    assert_int_equal(store_exec(f->c, &err,
                                "UPDATE volume_attachments SET boot_index = 0 WHERE id = ?",
                                STORE_ARGS(P(A1))),
                     1);
    host_down(f, "host1");
    assert_int_equal(store_begin(f->c, &err), 0);
    in_tx(f, migration_start_evacuate(f->c, &f->ctx, &f->r, "host2", &err), &err);
    att = col(f, ATT("id"));
    assert_col(f, ATT("device || ' ' || boot_index"), "vda 0");
    text = desired_vols(f, "host2");
    assert_string_equal(text, "absent");
    free(text);
    snprintf(rep, sizeof(rep),
             "{\"volumes\": [{\"id\": \"" V1 "\", \"state\": \"available\", \"size\": 1,"
             " \"exports\": [{\"attachment_id\": \"%s\", \"portal\": \"198.18.0.9:3260\","
             " \"iqn\": \"iqn.2026-01.invalid.stratus:%s\", \"lun\": 1}]}]}",
             att, att);
    report(f, "host3", rep);
    text = desired_vols(f, "host2");
    assert_non_null(strstr(text, "\"boot_index\":0"));
    assert_non_null(strstr(text, "\"type\":\"iscsi\""));
    free(text);
    free(att);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_file_names),
        cmocka_unit_test(t02_statuses),
        cmocka_unit_test_setup_teardown(t03_cold_confirm, setup, teardown),
        cmocka_unit_test_setup_teardown(t04_claim_on_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(t05_live_abort_and_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(t06_cold_import_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(t07_evacuate_takes_volumes, setup, teardown),
        cmocka_unit_test_setup_teardown(t08_evacuate_volume_on_down_host, setup, teardown),
        cmocka_unit_test_setup_teardown(t09_evacuate_boot_volume_waits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

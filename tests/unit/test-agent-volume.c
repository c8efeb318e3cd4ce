/* test-agent-volume.c - the agent's block storage (src/agent/volume.c,
 * iscsi.c, model_volume.c and the volume parts of domain.c): golden argv of
 * qemu-img, lvm and tgtadm (cmd_set_dry_run; lvm can only be proven this
 * way here: the development kernel has no device-mapper), the parsers of
 * `tgtadm --op show` and `lvs`, the desired state's volume members and
 * their checks, and the file backend for real (qemu-img in a temporary
 * pool): create, grow, snapshot, backup, restore, delete, leftovers. */
#include "testutil.h"

#include <sys/stat.h>

#include "agent/domain.h"
#include "agent/iscsi.h"
#include "agent/model.h"
#include "agent/volume.h"
#include "common/json.h"
#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

#define HOST "9d2e4f6a-1b3c-4d5e-8f70-123456789abc"
#define VOL1 "7d9e2c41-5b3a-4f0e-8c6d-1a2b3c4d5e01"
#define VOL2 "7d9e2c41-5b3a-4f0e-8c6d-1a2b3c4d5e02"
#define SNAP1 "5a5a5a5a-0000-4000-8000-000000000001"
#define BACK1 "bbbbbbbb-0000-4000-8000-000000000001"
#define ATT1 "0b6a8d4e-1c1f-4d6a-9a55-6f0e1b2c3d01"
#define GIB (INT64_C(1) << 30)

static void t01_qemu_img_argv(void **state)
{
    struct st_buf rec = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    cmd_set_dry_run(&rec);
    assert_int_equal(vol_qemu_create("/p/volume-" VOL1 ".qcow2", GIB, &err), 0);
    assert_int_equal(vol_qemu_convert("/c/_base/img", "raw", "/p/v.part", "qcow2", true, false,
                                      false, &err),
                     0);
    assert_int_equal(vol_qemu_convert("/p/v.qcow2", "qcow2", "/b/backup.part", "qcow2", true,
                                      true, false, &err),
                     0);
    assert_int_equal(
        vol_qemu_convert("/b/backup.qcow2", "qcow2", "/dev/vg/volume-x", "raw", false, false,
                         true, &err),
        0);
    assert_int_equal(vol_qemu_resize("/p/v.qcow2", 2 * GIB, &err), 0);
    cmd_set_dry_run(NULL);
    assert_string_equal(
        rec.buf,
        "qemu-img create -q -f qcow2 -- /p/volume-" VOL1
        ".qcow2 1073741824\n"
        "qemu-img convert -q -U -f raw -O qcow2 -- /c/_base/img "
        "/p/v.part\n"
        "qemu-img convert -q -U -c -f qcow2 -O qcow2 -- /p/v.qcow2 /b/backup.part\n"
        "qemu-img convert -q -n -f qcow2 -O raw -- /b/backup.qcow2 /dev/vg/volume-x\n"
        "qemu-img resize -q -f qcow2 -- /p/v.qcow2 2147483648\n");
    st_buf_release(&rec);
}

static void t02_lvm_argv(void **state)
{
    struct st_buf rec = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct vol_lv *lvs = NULL;
    size_t n = 9;
    (void) state;
    cmd_set_dry_run(&rec);
    assert_int_equal(vol_lvm_create("vg0", "volume-" VOL1 "-part", 2, HOST, &err), 0);
    assert_int_equal(vol_lvm_rename("vg0", "volume-" VOL1 "-part", "volume-" VOL1, &err), 0);
    assert_int_equal(vol_lvm_snapshot("vg0", "volume-" VOL1, "snapshot-" SNAP1, HOST, &err), 0);
    assert_int_equal(vol_lvm_extend("vg0", "volume-" VOL1, 3, &err), 0);
    assert_int_equal(vol_lvm_remove("vg0", "snapshot-" SNAP1, &err), 0);
    assert_int_equal(vol_lvm_list("vg0", HOST, &lvs, &n, &err), 0);
    cmd_set_dry_run(NULL);
    assert_int_equal(n, 0); /* a dry run lists nothing */
    free(lvs);
    assert_string_equal(
        rec.buf,
        "lvcreate --yes --thin --virtualsize=2g --name=volume-" VOL1
        "-part --addtag=stratus_host_9d2e4f6a1b3c4d5e8f70123456789abc vg0/stratus-pool\n"
        "lvrename vg0 volume-" VOL1 "-part volume-" VOL1 "\n"
        "lvcreate --yes --snapshot --setactivationskip=n --name=snapshot-" SNAP1
        " --addtag=stratus_host_9d2e4f6a1b3c4d5e8f70123456789abc vg0/volume-" VOL1 "\n"
        "lvextend --size=3g vg0/volume-" VOL1 "\n"
        "lvremove --yes vg0/snapshot-" SNAP1 "\n"
        "lvs --noheadings --units b --nosuffix --separator ' ' -o lv_name,lv_size,lv_tags vg0\n");
    st_buf_release(&rec);
}

static void t03_lvs_parse(void **state)
{
    struct st_err err = ST_ERR_INIT;
    struct vol_lv *lvs = NULL;
    size_t n = 0;
    const char *text =
        "  stratus-pool 107374182400 \n"
        "  volume-" VOL1 " 2147483648 stratus_host_9d2e4f6a1b3c4d5e8f70123456789abc\n"
        "  volume-" VOL2 " 1073741824 stratus_host_00000000000040008000000000000000\n"
        "  snapshot-" SNAP1 " 2147483648 other,stratus_host_9d2e4f6a1b3c4d5e8f70123456789abc\n"
        "  root 8589934592\n";
    (void) state;
    assert_int_equal(vol_lvm_parse_lvs(text, HOST, &lvs, &n, &err), 0);
    assert_int_equal(n, 2); /* ours only: not another host's, not untagged */
    assert_string_equal(lvs[0].name, "volume-" VOL1);
    assert_int_equal(lvs[0].bytes, 2 * GIB);
    assert_string_equal(lvs[1].name, "snapshot-" SNAP1);
    free(lvs);
}

static void t04_tgtadm_argv(void **state)
{
    struct st_buf rec = ST_BUF_INIT, iqn = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    iscsi_iqn(ATT1, &iqn);
    assert_string_equal(iqn.buf, "iqn.2026-01.invalid.stratus:" ATT1);
    cmd_set_dry_run(&rec);
    assert_int_equal(iscsi_target_create(3, iqn.buf, "/p/volume-" VOL1 ".qcow2", "att-0b6a8d4e",
                                         "0123456789abcdef0123456789abcdef", &err),
                     0);
    assert_int_equal(iscsi_target_delete(3, "att-0b6a8d4e", &err), 0);
    cmd_set_dry_run(NULL);
    assert_string_equal(
        rec.buf,
        "tgtadm --lld iscsi --mode target --op new --tid 3 --targetname "
        "iqn.2026-01.invalid.stratus:" ATT1 "\n"
        "tgtadm --lld iscsi --mode logicalunit --op new --tid 3 --lun 1 --backing-store "
        "/p/volume-" VOL1 ".qcow2\n"
        "tgtadm --lld iscsi --mode account --op delete --user att-0b6a8d4e\n"
        "tgtadm --lld iscsi --mode account --op new --user att-0b6a8d4e --password "
        "0123456789abcdef0123456789abcdef\n"
        "tgtadm --lld iscsi --mode account --op bind --tid 3 --user att-0b6a8d4e\n"
        "tgtadm --lld iscsi --mode target --op bind --tid 3 --initiator-address ALL\n"
        "tgtadm --lld iscsi --mode target --op delete --force --tid 3\n"
        "tgtadm --lld iscsi --mode account --op delete --user att-0b6a8d4e\n");
    st_buf_release(&rec);
    st_buf_release(&iqn);
}

/* What tgtd 1.0.85 prints (trimmed of the LUN 0 details). */
static const char show_text[] =
    "Target 1: iqn.2026-01.invalid.stratus:" ATT1 "\n"
    "    System information:\n"
    "        Driver: iscsi\n"
    "        State: ready\n"
    "    I_T nexus information:\n"
    "    LUN information:\n"
    "        LUN: 0\n"
    "            Type: controller\n"
    "            Backing store type: null\n"
    "            Backing store path: None\n"
    "        LUN: 1\n"
    "            Type: disk\n"
    "            Size: 1074 MB, Block size: 512\n"
    "            Backing store type: rdwr\n"
    "            Backing store path: /p/volume-" VOL1 ".qcow2\n"
    "            Backing store flags: \n"
    "    Account information:\n"
    "        att-0b6a8d4e\n"
    "    ACL information:\n"
    "        ALL\n"
    "Target 7: iqn.2003-01.org.example:half\n"
    "    System information:\n"
    "        Driver: iscsi\n"
    "    LUN information:\n"
    "        LUN: 0\n"
    "            Backing store path: None\n"
    "    Account information:\n"
    "    ACL information:\n";

static void t05_tgtadm_show_parse(void **state)
{
    struct iscsi_target *ts = NULL;
    size_t n = 0;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(iscsi_parse_show(show_text, &ts, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ts[0].tid, 1);
    assert_string_equal(ts[0].iqn, "iqn.2026-01.invalid.stratus:" ATT1);
    assert_string_equal(ts[0].backing, "/p/volume-" VOL1 ".qcow2");
    assert_int_equal(ts[0].naccounts, 1);
    assert_true(ts[0].acl_all);
    assert_true(iscsi_target_complete(&ts[0], "/p/volume-" VOL1 ".qcow2", "att-0b6a8d4e"));
    assert_false(iscsi_target_complete(&ts[0], "/p/other", "att-0b6a8d4e"));
    assert_false(iscsi_target_complete(&ts[0], "/p/volume-" VOL1 ".qcow2", "att-x"));
    assert_string_equal(ts[1].backing, "");
    assert_false(ts[1].acl_all);
    assert_int_equal(iscsi_next_tid(ts, n), 8);
    assert_int_equal(iscsi_next_tid(NULL, 0), 1);
    free(ts);
    assert_int_equal(iscsi_parse_show("", &ts, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(iscsi_parse_show("Target x: y\n", &ts, &n, &err), -1);
}

static struct model_desired *parse(const char *text, struct st_err *err)
{
    struct st_err perr = ST_ERR_INIT;
    json_t *doc = st_json_parse(text, strlen(text), &perr);
    struct model_desired *d;
    assert_non_null(doc);
    d = model_desired_parse(doc, err);
    json_decref(doc);
    return d;
}

#define SERVER_HEAD                                                                                \
    "{\"id\": \"5b3c6a1e-8f2d-4c1a-9e7b-2d4f6a8c0e11\", \"name\": \"vm\", \"hostname\": \"vm\", "  \
    "\"project_id\": \"74c8ada23a3449f888d9e19b76d13aab\", \"user_id\": "                          \
    "\"bcd37e6272184f34993b4d7686ca4479\", \"flavor\": {\"id\": \"1\", \"vcpus\": 1, \"ram\": "    \
    "64}, \"image\": {\"id\": \"bb9318db-5554-4857-a309-268c6653b9ff\", \"disk_format\": "         \
    "\"qcow2\"}, \"power\": \"running\", "

static void t06_model(void **state)
{
    struct st_err err = ST_ERR_INIT;
    struct model_desired *d;
    (void) state;
    d = parse("{\"host\": \"h\", \"revision\": 1, \"servers\": [" SERVER_HEAD
              "\"volumes\": [{\"attachment_id\": \"" ATT1 "\", \"volume_id\": \"" VOL1
              "\", \"device\": \"vdb\", \"boot_index\": 0, \"connection\": {\"type\": \"iscsi\", "
              "\"portal\": \"127.0.0.1:3260\", \"iqn\": \"iqn.2026-01.invalid.stratus:" ATT1
              "\", \"lun\": 1, \"chap_user\": \"att-0b6a8d4e\", \"chap_secret\": "
              "\"0123456789abcdef0123456789abcdef\"}}]}], "
              "\"volumes\": [{\"id\": \"" VOL1 "\", \"backend\": \"file\", \"size\": 2, "
              "\"source\": {\"type\": \"snapshot\", \"id\": \"" SNAP1 "\"}, \"snapshots\": "
              "[{\"id\": \"" SNAP1 "\", \"delete\": true}], \"exports\": [{\"attachment_id\": \"" ATT1
              "\", \"chap_user\": \"att-0b6a8d4e\", \"chap_secret\": "
              "\"0123456789abcdef0123456789abcdef\"}]}], "
              "\"backups\": [{\"id\": \"" BACK1 "\"}], "
              "\"tasks\": [{\"id\": \"" BACK1 "\", \"kind\": \"volume_backup\", \"volume_id\": \"" VOL1
              "\", \"backup_id\": \"" BACK1 "\"}, {\"id\": \"" SNAP1
              "\", \"kind\": \"volume_upload_image\", \"args\": {\"volume_id\": \"" VOL1
              "\", \"image_id\": \"" BACK1 "\", \"disk_format\": \"qcow2\"}}]}",
              &err);
    if (!d)
        fail_msg("%s", err.msg);
    assert_true(d->has_volumes);
    assert_int_equal(d->nvolumes, 1);
    assert_int_equal(d->volumes[0].size_gb, 2);
    assert_int_equal(d->volumes[0].source, MODEL_VSRC_SNAPSHOT);
    assert_string_equal(d->volumes[0].source_id, SNAP1);
    assert_true(d->volumes[0].snapshots[0].delete);
    assert_string_equal(d->volumes[0].exports[0].chap_user, "att-0b6a8d4e");
    assert_int_equal(d->servers[0].nvolumes, 1);
    assert_int_equal(d->servers[0].volumes[0].type, MODEL_CONN_ISCSI);
    assert_int_equal(d->servers[0].volumes[0].lun, 1);
    assert_non_null(model_boot_volume(&d->servers[0]));
    assert_true(d->has_backups);
    assert_string_equal(d->backups[0], BACK1);
    assert_int_equal(d->ntasks, 2);
    assert_true(model_task_is_volume(&d->tasks[0]));
    assert_int_equal(d->tasks[0].kind, MODEL_TASK_VOLUME_BACKUP);
    assert_string_equal(d->tasks[0].backup_id, BACK1);
    assert_int_equal(d->tasks[1].kind, MODEL_TASK_VOLUME_UPLOAD_IMAGE);
    assert_string_equal(d->tasks[1].disk_format, "qcow2");
    model_desired_free(d);

    /* No "volumes": nothing to clean up either. */
    d = parse("{\"host\": \"h\", \"revision\": 1}", &err);
    assert_non_null(d);
    assert_false(d->has_volumes);
    assert_false(d->has_backups);
    model_desired_free(d);

    /* Values that could leave their shape are refused. */
    static const char *const bad[] = {
        "{\"host\": \"h\", \"revision\": 1, \"servers\": [" SERVER_HEAD
        "\"volumes\": [{\"attachment_id\": \"" ATT1 "\", \"volume_id\": \"" VOL1
        "\", \"device\": \"vdb\", \"connection\": {\"type\": \"file\", \"path\": "
        "\"/p/../etc/shadow\"}}]}]}",
        "{\"host\": \"h\", \"revision\": 1, \"servers\": [" SERVER_HEAD
        "\"volumes\": [{\"attachment_id\": \"" ATT1 "\", \"volume_id\": \"" VOL1
        "\", \"device\": \"vdb'\", \"connection\": {\"type\": \"file\", \"path\": \"/p/v\"}}]}]}",
        "{\"host\": \"h\", \"revision\": 1, \"servers\": [" SERVER_HEAD
        "\"volumes\": [{\"attachment_id\": \"" ATT1 "\", \"volume_id\": \"" VOL1
        "\", \"device\": \"vdb\", \"connection\": {\"type\": \"file\", \"path\": \"/p/v x\"}}]}]}",
        "{\"host\": \"h\", \"revision\": 1, \"volumes\": [{\"id\": \"" VOL1
        "\", \"backend\": \"file\", \"size\": 0}]}",
        "{\"host\": \"h\", \"revision\": 1, \"volumes\": [{\"id\": \"" VOL1
        "\", \"backend\": \"../x\", \"size\": 1}]}",
        "{\"host\": \"h\", \"revision\": 1, \"volumes\": [{\"id\": \"" VOL1
        "\", \"backend\": \"file\", \"size\": 1, \"exports\": [{\"attachment_id\": \"" ATT1
        "\", \"chap_user\": \"a b\", \"chap_secret\": \"0123456789abcdef\"}]}]}",
        "{\"host\": \"h\", \"revision\": 1, \"volumes\": [{\"id\": \"" VOL1
        "\", \"backend\": \"file\", \"size\": 1, \"exports\": [{\"attachment_id\": \"" ATT1
        "\", \"chap_user\": \"u\", \"chap_secret\": \"not-hex-at-all!!\"}]}]}",
        "{\"host\": \"h\", \"revision\": 1, \"volumes\": [{\"id\": \"" VOL1
        "\", \"backend\": \"file\", \"size\": 1}, {\"id\": \"" VOL1
        "\", \"backend\": \"file\", \"size\": 1}]}",
        "{\"host\": \"h\", \"revision\": 1, \"tasks\": [{\"id\": \"" BACK1
        "\", \"kind\": \"volume_upload_image\", \"volume_id\": \"" VOL1 "\", \"image_id\": \"" BACK1
        "\", \"disk_format\": \"vmdk\"}]}",
    };
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        st_err_clear(&err);
        d = parse(bad[i], &err);
        if (d)
            fail_msg("bad case %zu was accepted", i);
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    }
}

static void t07_disk_xml(void **state)
{
    struct model_attachment a = {
        .attachment_id = ATT1,
        .volume_id = VOL1,
        .device = "vdb",
        .boot_index = -1,
        .type = MODEL_CONN_ISCSI,
        .portal = "[::1]:3260",
        .iqn = "iqn.2026-01.invalid.stratus:" ATT1,
        .lun = 1,
        .chap_user = "att-0b6a8d4e",
    };
    struct domain_volume v = {.att = &a, .format = "qcow2", .secret_usage = "stratus-x-y"};
    struct st_buf xml = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(domain_volume_xml(&v, "vdc", "kvm", &xml, &err), 0);
    assert_string_equal(xml.buf,
                        "<disk type=\"network\" device=\"disk\">\n"
                        "  <driver name=\"qemu\" type=\"qcow2\" cache=\"none\"/>\n"
                        "  <source protocol=\"iscsi\" name=\"iqn.2026-01.invalid.stratus:" ATT1
                        "/1\">\n"
                        "    <host name=\"::1\" port=\"3260\"/>\n"
                        "    <auth username=\"att-0b6a8d4e\">\n"
                        "      <secret type=\"iscsi\" usage=\"stratus-x-y\"/>\n"
                        "    </auth>\n"
                        "  </source>\n"
                        "  <target dev=\"vdc\" bus=\"virtio\"/>\n"
                        "  <serial>" VOL1 "</serial>\n"
                        "  <alias name=\"ua-vol-" ATT1 "\"/>\n"
                        "</disk>\n");
    st_buf_release(&xml);
    v.secret_usage = NULL;
    assert_int_equal(domain_volume_xml(&v, "vdc", "kvm", &xml, &err), -1);
}

/* ---- the file backend, for real */

static char *tmp;

static int setup(void **state)
{
    (void) state;
    tmp = tu_mkdtemp();
    return tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void) state;
    tu_rmrf(tmp);
    free(tmp);
    tmp = NULL;
    return 0;
}

static const char *in(const char *rel)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    ST_IGNORE(st_snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmp, rel));
    return buf[k];
}

static struct volumes *new_vols(void)
{
    struct st_err err = ST_ERR_INIT;
    struct vol_opts o = {
        .backends = "file",
        .file_pool = in("volumes"),
        .backup_dir = in("backups"),
        .state_dir = tmp,
        .instances_path = in("instances"),
    };
    struct volumes *v = vol_new(&o, &err);
    if (!v)
        fail_msg("%s", err.msg);
    vol_set_host_id(v, HOST);
    return v;
}

static int64_t vsize(const char *path)
{
    struct st_err err = ST_ERR_INIT;
    int64_t n = -1;
    if (disk_info(path, "qcow2", &n, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    return n;
}

/* One pass over 'doc'; returns the report entry of volume 'id' (new). */
static json_t *pass(struct volumes *v, const char *doc, const char *id)
{
    struct st_err err = ST_ERR_INIT;
    struct model_desired *d = parse(doc, &err);
    struct vol_io io = {0};
    json_t *rep, *e, *found = NULL;
    size_t i;
    if (!d)
        fail_msg("%s", err.msg);
    rep = vol_reconcile(v, d, &io);
    json_array_foreach(rep, i, e) if (id && st_streq(json_string_value(json_object_get(e, "id")),
                                                     id)) found = json_incref(e);
    json_decref(rep);
    model_desired_free(d);
    return found;
}

static const char *state_of(json_t *e)
{
    return json_string_value(json_object_get(e, "state"));
}

#define DOC(vols) "{\"host\": \"h\", \"revision\": 1, \"volumes\": [" vols "]}"
#define VOL(id, size, extra)                                                                       \
    "{\"id\": \"" id "\", \"backend\": \"file\", \"size\": " #size extra "}"

static void t08_file_backend(void **state)
{
    struct volumes *v = new_vols();
    struct st_err err = ST_ERR_INIT;
    json_t *e;
    (void) state;

    /* Create: an empty qcow2, reported with its location. */
    e = pass(v, DOC(VOL(VOL1, 1, "")), VOL1);
    assert_string_equal(state_of(e), "available");
    assert_int_equal(json_integer_value(json_object_get(e, "size")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "location"), "path")),
                        in("volumes/volume-" VOL1 ".qcow2"));
    json_decref(e);
    assert_int_equal(vsize(in("volumes/volume-" VOL1 ".qcow2")), GIB);

    /* Grow; a snapshot; a volume from it. */
    e = pass(v, DOC(VOL(VOL1, 2, ", \"snapshots\": [{\"id\": \"" SNAP1 "\"}]")), VOL1);
    assert_string_equal(state_of(e), "available");
    assert_int_equal(json_integer_value(json_object_get(e, "size")), 2);
    assert_string_equal(
        state_of(json_array_get(json_object_get(e, "snapshots"), 0)), "available");
    json_decref(e);
    assert_int_equal(vsize(in("volumes/volume-" VOL1 ".qcow2")), 2 * GIB);
    assert_int_equal(access(in("volumes/snapshot-" SNAP1 ".qcow2"), F_OK), 0);
    e = pass(v,
             DOC(VOL(VOL1, 2, ", \"snapshots\": [{\"id\": \"" SNAP1 "\"}]") ", " VOL(
                 VOL2, 3, ", \"source\": {\"type\": \"snapshot\", \"id\": \"" SNAP1 "\"}")),
             VOL2);
    assert_string_equal(state_of(e), "available");
    json_decref(e);
    assert_int_equal(vsize(in("volumes/volume-" VOL2 ".qcow2")), 3 * GIB);

    /* A source that is not here: error with a fault, then backing off. */
    e = pass(v,
             DOC(VOL(VOL1, 2, "") ", " VOL(
                 VOL2, 1, ", \"source\": {\"type\": \"backup\", \"id\": \"" BACK1 "\"}")),
             VOL2);
    assert_string_equal(state_of(e), "available"); /* exists already: source ignored */
    json_decref(e);
    /* the snapshot no volume lists any more went as a leftover */
    assert_int_equal(access(in("volumes/snapshot-" SNAP1 ".qcow2"), F_OK), -1);

    /* Backup of VOL2 and restore into VOL1. */
    {
        const char *doc =
            "{\"host\": \"h\", \"revision\": 1, \"volumes\": [" VOL(VOL1, 2, "") ", " VOL(
                VOL2, 3, "") "], \"tasks\": [{\"id\": \"" SNAP1
                             "\", \"kind\": \"volume_backup\", \"volume_id\": \"" VOL2
                             "\", \"backup_id\": \"" BACK1 "\"}, {\"id\": \"" ATT1
                             "\", \"kind\": \"volume_restore\", \"volume_id\": \"" VOL1
                             "\", \"backup_id\": \"" BACK1 "\"}]}";
        struct model_desired *d = parse(doc, &err);
        struct vol_io io = {0};
        json_t *r;
        assert_non_null(d);
        r = vol_task(v, &d->tasks[0], d, &io);
        assert_string_equal(json_string_value(json_object_get(r, "status")), "done");
        assert_true(json_integer_value(json_object_get(json_object_get(r, "result"), "size")) > 0);
        json_decref(r);
        assert_int_equal(access(in("backups/backup-" BACK1 ".qcow2"), F_OK), 0);
        assert_int_equal(access(in("backups/backup-" BACK1 ".json"), F_OK), 0);
        /* again: the same result, nothing redone */
        r = vol_task(v, &d->tasks[0], d, &io);
        assert_string_equal(json_string_value(json_object_get(r, "status")), "done");
        json_decref(r);
        r = vol_task(v, &d->tasks[1], d, &io);
        assert_string_equal(json_string_value(json_object_get(r, "status")), "done");
        json_decref(r);
        assert_int_equal(vsize(in("volumes/volume-" VOL1 ".qcow2")), 3 * GIB);
        model_desired_free(d);
    }

    /* Leftovers: a stray volume, a .part, a file of no pattern. */
    assert_int_equal(st_write_file(in("volumes/volume-" BACK1 ".qcow2"), "x", 1, 0644, &err), 0);
    assert_int_equal(st_write_file(in("volumes/volume-" VOL1 ".qcow2.part"), "x", 1, 0644, &err),
                     0);
    assert_int_equal(st_write_file(in("volumes/README"), "x", 1, 0644, &err), 0);
    e = pass(v, DOC(VOL(VOL1, 3, "") ", " VOL(VOL2, 3, ", \"snapshots\": [{\"id\": \"" SNAP1
                                                       "\", \"delete\": true}]")),
             VOL2);
    assert_string_equal(state_of(json_array_get(json_object_get(e, "snapshots"), 0)), "gone");
    json_decref(e);
    assert_int_equal(access(in("volumes/snapshot-" SNAP1 ".qcow2"), F_OK), -1);
    assert_int_equal(access(in("volumes/volume-" BACK1 ".qcow2"), F_OK), -1);
    assert_int_equal(access(in("volumes/volume-" VOL1 ".qcow2.part"), F_OK), -1);
    assert_int_equal(access(in("volumes/README"), F_OK), 0);
    /* No "volumes" member: nothing is removed. */
    e = pass(v, "{\"host\": \"h\", \"revision\": 1}", NULL);
    assert_null(e);
    assert_int_equal(access(in("volumes/volume-" VOL1 ".qcow2"), F_OK), 0);
    /* Delete; backups go when "backups" no longer lists them. */
    e = pass(v, DOC(VOL(VOL1, 3, ", \"delete\": true") ", " VOL(VOL2, 3, ", \"delete\": true")),
             VOL1);
    assert_string_equal(state_of(e), "gone");
    json_decref(e);
    assert_int_equal(access(in("volumes/volume-" VOL1 ".qcow2"), F_OK), -1);
    assert_int_equal(access(in("volumes/volume-" VOL2 ".qcow2"), F_OK), -1);
    assert_int_equal(access(in("backups/backup-" BACK1 ".qcow2"), F_OK), 0);
    e = pass(v, "{\"host\": \"h\", \"revision\": 1, \"volumes\": [], \"backups\": []}", NULL);
    assert_int_equal(access(in("backups/backup-" BACK1 ".qcow2"), F_OK), -1);
    assert_int_equal(access(in("backups/backup-" BACK1 ".json"), F_OK), -1);

    /* Registration. */
    {
        json_t *b = vol_backends(v);
        assert_int_equal(json_array_size(b), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(b, 0), "name")),
                            "file");
        json_decref(b);
    }
    vol_free(v);
}

static void t09_options(void **state)
{
    struct st_err err = ST_ERR_INIT;
    struct vol_opts o = {.backends = "file,nfs", .file_pool = "/a", .backup_dir = "/b",
                         .state_dir = "/c"};
    (void) state;
    assert_null(vol_new(&o, &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    o.backends = "lvm";
    assert_null(vol_new(&o, &err)); /* lvm without a volume group */
    st_err_clear(&err);
    o.backends = "file";
    o.file_pool = "relative";
    assert_null(vol_new(&o, &err));
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_qemu_img_argv),
        cmocka_unit_test(t02_lvm_argv),
        cmocka_unit_test(t03_lvs_parse),
        cmocka_unit_test(t04_tgtadm_argv),
        cmocka_unit_test(t05_tgtadm_show_parse),
        cmocka_unit_test(t06_model),
        cmocka_unit_test(t07_disk_xml),
        cmocka_unit_test_setup_teardown(t08_file_backend, setup, teardown),
        cmocka_unit_test(t09_options),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("agent-volume", tests, known_bugs);
}

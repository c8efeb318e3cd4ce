/* test-agent-migrate.c - the agent's migration (src/agent/model_migration.c,
 * src/agent/migrate_live.c): the checks of the SERVER's migration object,
 * the local disks a live migration copies, the golden flags and
 * parameters of virDomainMigrateToURI3, and the peer URIs. */
#include "testutil.h"

#include "agent/migrate.h"
#include "agent/model.h"
#include "agent/model_internal.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define MID "0f6a6c6e-8d7c-4b5e-9a3b-2c1d0e9f8a7b"
#define HID "5b2e8a1c-3d4f-4e6a-8b9c-0d1e2f3a4b5c"
#define SUM "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static int parse(const char *text, struct model_migration *m, struct st_err *err)
{
    json_error_t je;
    json_t *o = json_loads(text, JSON_DECODE_ANY, &je);
    int rc;
    if (!o)
        fail_msg("%s: %s", je.text, text);
    rc = model_parse_migration(o, m, err);
    json_decref(o);
    return rc;
}

static void t01_parse(void **state)
{
    struct model_migration m;
    struct st_err err = ST_ERR_INIT;
    (void) state;

    assert_int_equal(parse("{\"id\": \"" MID "\", \"kind\": \"cold\", \"role\": \"dest\","
                           " \"state\": \"import\", \"peer\": {\"host\": \"sim-1\", \"host_id\":"
                           " \"" HID "\", \"address\": \"198.18.0.11\"}, \"files\": [{\"name\":"
                           " \"disk\", \"size\": 4, \"sha256\": \"" SUM "\"}]}",
                           &m, &err),
                     0);
    assert_true(m.present);
    assert_int_equal(m.kind, MODEL_MIG_COLD);
    assert_int_equal(m.role, MODEL_MIG_DEST);
    assert_int_equal(m.state, MODEL_MIGS_IMPORT);
    assert_string_equal(m.peer_address, "198.18.0.11");
    assert_int_equal(m.nfiles, 1);
    assert_string_equal(m.files[0].name, "disk");
    assert_int_equal(m.files[0].size, 4);
    assert_true(m.block_migration); /* "auto" = true for local disks */
    model_migration_release(&m);

    assert_int_equal(parse("{\"id\": \"" MID "\", \"kind\": \"live\", \"role\": \"source\","
                           " \"state\": \"migrate\", \"block_migration\": false,"
                           " \"dest_xml\": \"<domain/>\", \"dest_uri\":"
                           " \"qemu+tls://198.18.0.12/system\", \"migrate_uri\":"
                           " \"tcp://198.18.0.12:49152\", \"force_complete\": true,"
                           " \"abort\": false}",
                           &m, &err),
                     0);
    assert_int_equal(m.kind, MODEL_MIG_LIVE);
    assert_int_equal(m.state, MODEL_MIGS_MIGRATE);
    assert_false(m.block_migration);
    assert_true(m.force_complete);
    assert_string_equal(m.dest_xml, "<domain/>");
    model_migration_release(&m);

    /* An unknown state is kept (and nothing is done for it). */
    assert_int_equal(parse("{\"id\": \"" MID "\", \"kind\": \"live\", \"role\": \"dest\","
                           " \"state\": \"teleport\"}",
                           &m, &err),
                     0);
    assert_int_equal(m.state, MODEL_MIGS_OTHER);
    model_migration_release(&m);

    assert_int_equal(parse("null", &m, &err), 0);
    assert_false(m.present);

    /* Refused: paths for names, URIs of other shapes, bad digests. */
    static const char *const bad[] = {
        "{\"id\": \"" MID "\", \"kind\": \"cold\", \"role\": \"dest\", \"state\": \"import\","
        " \"files\": [{\"name\": \"../etc/passwd\", \"sha256\": \"" SUM "\"}]}",
        "{\"id\": \"" MID "\", \"kind\": \"cold\", \"role\": \"dest\", \"state\": \"import\","
        " \"files\": [{\"name\": \"Disk\", \"sha256\": \"" SUM "\"}]}",
        "{\"id\": \"" MID "\", \"kind\": \"cold\", \"role\": \"dest\", \"state\": \"import\","
        " \"files\": [{\"name\": \"disk\", \"sha256\": \"abc\"}]}",
        "{\"id\": \"" MID "\", \"kind\": \"cold\", \"role\": \"dest\", \"state\": \"import\","
        " \"files\": [{\"name\": \"disk\", \"sha256\": \"" SUM "\"}, {\"name\": \"disk\","
        " \"sha256\": \"" SUM "\"}]}",
        "{\"id\": \"" MID "\", \"kind\": \"live\", \"role\": \"source\", \"state\": \"migrate\","
        " \"dest_uri\": \"qemu+ssh://root@198.18.0.12/system\"}",
        "{\"id\": \"" MID "\", \"kind\": \"live\", \"role\": \"source\", \"state\": \"migrate\","
        " \"dest_uri\": \"qemu+tls://evil.example/system\"}",
        "{\"id\": \"" MID "\", \"kind\": \"live\", \"role\": \"source\", \"state\": \"migrate\","
        " \"dest_uri\": \"qemu+tls://198.18.0.12/system?command=/bin/sh\"}",
        "{\"id\": \"" MID "\", \"kind\": \"live\", \"role\": \"source\", \"state\": \"migrate\","
        " \"migrate_uri\": \"tcp://198.18.0.12:4915x\"}",
        "{\"id\": \"" MID "\", \"kind\": \"live\", \"role\": \"source\", \"state\": \"migrate\","
        " \"peer\": {\"address\": \"sim-2\"}}",
        "{\"id\": \"not-a-uuid\", \"kind\": \"cold\", \"role\": \"dest\", \"state\": \"import\"}",
        "{\"id\": \"" MID "\", \"kind\": \"warm\", \"role\": \"dest\", \"state\": \"import\"}",
        "{\"id\": \"" MID "\", \"kind\": \"cold\", \"role\": \"both\", \"state\": \"import\"}",
    };
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        st_err_clear(&err);
        assert_int_equal(parse(bad[i], &m, &err), -1);
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
        model_migration_release(&m);
    }
    /* IPv6 peers and URIs. */
    assert_int_equal(parse("{\"id\": \"" MID "\", \"kind\": \"live\", \"role\": \"source\","
                           " \"state\": \"migrate\", \"peer\": {\"address\": \"2001:db8::0:12\"},"
                           " \"dest_uri\": \"qemu+tls://[2001:db8::12]/system\", \"migrate_uri\":"
                           " \"tcp://[2001:db8::12]:49152\"}",
                           &m, &err),
                     0);
    assert_string_equal(m.peer_address, "2001:db8::12");
    model_migration_release(&m);
}

static void t02_disks(void **state)
{
    static const char xml[] =
        "<domain type='qemu'><name>instance-x</name><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='/srv/inst/ID/disk'/><target dev='vda' bus='virtio'/></disk>"
        "<disk type='file' device='disk'><source file='/srv/inst/ID/disk.local'/>"
        "<target dev='vdb' bus='virtio'/></disk>"
        "<disk type='file' device='disk'><source file='/srv/pool/volume-1.qcow2'/>"
        "<target dev='vdc' bus='virtio'/></disk>"
        "<disk type='network' device='disk'><source protocol='iscsi' name='iqn/0'/>"
        "<target dev='vdd' bus='virtio'/></disk>"
        "<disk type='file' device='disk'><source file='/srv/inst/ID/sub/disk'/>"
        "<target dev='vde' bus='virtio'/></disk>"
        "<disk type='file' device='cdrom'><source file='/srv/inst/ID/disk.seed'/>"
        "<target dev='hda' bus='ide'/><readonly/></disk>"
        "</devices></domain>";
    char out[MIG_MAX_DISKS][16];
    int n = -1, nfull = -1;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(migrate_live_disks(xml, "/srv/inst/ID", out, &n, &nfull, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(out[0], "vda");
    assert_string_equal(out[1], "vdb");
    assert_int_equal(nfull, 1);
    /* A prefix of the directory is not the directory. */
    assert_int_equal(migrate_live_disks(xml, "/srv/inst/I", out, &n, &nfull, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(migrate_live_disks("<domain", "/srv", out, &n, &nfull, &err), -1);
}

/* "name=value" of each parameter, one per line. */
static void dump(virTypedParameterPtr p, int n, struct st_buf *out)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(p[i].type, VIR_TYPED_PARAM_STRING);
        st_buf_addf(out, "%s=%s\n", p[i].field, p[i].value.s);
    }
}

static void t03_params(void **state)
{
    static const char disks[2][16] = {"vda", "vdb"};
    struct mig_live_args a = {
        .dest_xml = "<domain type='qemu'/>",
        .migrate_uri = "tcp://198.18.0.12",
        .disks = disks,
        .ndisks = 1,
        .full_copy = false,
        .tls = true,
        .block = true,
    };
    virTypedParameterPtr p = NULL;
    int n = 0;
    unsigned int flags = 0;
    struct st_buf b = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;

    assert_int_equal(migrate_live_params(&a, &p, &n, &flags, &err), 0);
    assert_int_equal(flags, VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                                VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_TLS |
                                VIR_MIGRATE_NON_SHARED_INC);
    dump(p, n, &b);
    assert_string_equal(b.buf, "destination_xml=<domain type='qemu'/>\n"
                               "persistent_xml=<domain type='qemu'/>\n"
                               "migrate_uri=tcp://198.18.0.12\n"
                               "migrate_disks=vda\n"
                               "disks_uri=tcp://198.18.0.12\n");
    virTypedParamsFree(p, n);

    /* Ephemeral or swap disks: a full copy; no TLS when configured so. */
    a.ndisks = 2;
    a.full_copy = true;
    a.tls = false;
    st_buf_reset(&b);
    assert_int_equal(migrate_live_params(&a, &p, &n, &flags, &err), 0);
    assert_int_equal(flags, VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                                VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_NON_SHARED_DISK);
    dump(p, n, &b);
    assert_string_equal(b.buf, "destination_xml=<domain type='qemu'/>\n"
                               "persistent_xml=<domain type='qemu'/>\n"
                               "migrate_uri=tcp://198.18.0.12\n"
                               "migrate_disks=vda\n"
                               "migrate_disks=vdb\n"
                               "disks_uri=tcp://198.18.0.12\n");
    virTypedParamsFree(p, n);

    /* Shared storage (block_migration false): memory only. */
    a.block = false;
    a.tls = true;
    st_buf_reset(&b);
    assert_int_equal(migrate_live_params(&a, &p, &n, &flags, &err), 0);
    assert_int_equal(flags, VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                                VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_TLS);
    dump(p, n, &b);
    assert_string_equal(b.buf, "destination_xml=<domain type='qemu'/>\n"
                               "persistent_xml=<domain type='qemu'/>\n"
                               "migrate_uri=tcp://198.18.0.12\n");
    virTypedParamsFree(p, n);
    st_buf_release(&b);
}

static void t04_uri(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(migrate_live_uri("qemu+tls://%s/system", "198.18.0.12", &b, &err), 0);
    assert_string_equal(b.buf, "qemu+tls://198.18.0.12/system");
    st_buf_reset(&b);
    assert_int_equal(migrate_live_uri("tcp://%s", "2001:db8::12", &b, &err), 0);
    assert_string_equal(b.buf, "tcp://[2001:db8::12]");
    st_buf_reset(&b);
    assert_int_equal(migrate_live_uri("qemu+tls://%s/%s", "198.18.0.12", &b, &err), -1);
    assert_int_equal(migrate_live_uri("qemu+tls://%d/system", "198.18.0.12", &b, &err), -1);
    assert_int_equal(migrate_live_uri("qemu+tls://host/system", "198.18.0.12", &b, &err), -1);
    assert_int_equal(migrate_live_uri("tcp://%s", "", &b, &err), -1);
    assert_true(model_mig_file_name_ok("disk.local"));
    assert_false(model_mig_file_name_ok("disk/local"));
    assert_false(model_mig_file_name_ok(".."));
    assert_false(model_mig_file_name_ok(""));
    st_buf_release(&b);
}

static void t05_merge(void **state)
{
    static const char src[] =
        "<domain type='qemu' id='3'><name>instance-" MID "</name><uuid>" MID "</uuid>"
        "<metadata><stratus:host xmlns:stratus='x' uuid='SRC'/></metadata>"
        "<os><kernel>/a/inst/_base/K</kernel></os><devices>"
        "<disk type='file' device='disk'><source file='/a/inst/" MID "/disk'/>"
        "<backingStore type='file'><source file='/a/inst/_base/I'/></backingStore>"
        "<target dev='vda'/><address type='pci' domain='0x0000' bus='0x00' slot='0x04'/></disk>"
        "<disk type='file' device='disk'><source file='/a/instance/other'/><target dev='vdb'/></disk>"
        "<input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input>"
        "<serial type='unix'><source mode='bind' path='/a/inst/" MID "/console.sock'/>"
        "<log file='/a/inst/" MID "/console.log' append='on'/></serial>"
        "</devices></domain>";
    static const char dst[] =
        "<domain type='qemu'><name>instance-" MID "</name><uuid>" MID "</uuid>"
        "<metadata><stratus:host xmlns:stratus='x' uuid='DST'/></metadata><devices>"
        "<serial type='unix'><log file='/b/i/" MID "/console.log'/></serial></devices></domain>";
    struct st_buf out = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(migrate_live_merge_xml(src, dst, &out, &err), 0);
    assert_non_null(strstr(out.buf, "<kernel>/b/i/_base/K</kernel>"));
    assert_non_null(strstr(out.buf, "file=\"/b/i/" MID "/disk\""));
    assert_non_null(strstr(out.buf, "file=\"/b/i/_base/I\""));
    assert_non_null(strstr(out.buf, "path=\"/b/i/" MID "/console.sock\""));
    assert_non_null(strstr(out.buf, "file=\"/b/i/" MID "/console.log\""));
    assert_non_null(strstr(out.buf, "file=\"/a/instance/other\"")); /* not under it */
    assert_non_null(strstr(out.buf, "<address type=\"usb\" bus=\"0\" port=\"1\"/>"));
    assert_non_null(strstr(out.buf, "uuid=\"DST\""));
    assert_null(strstr(out.buf, "SRC"));
    assert_null(strstr(out.buf, "/a/inst/"));
    st_buf_reset(&out);
    /* Another domain's XML is refused. */
    assert_int_equal(migrate_live_merge_xml(src,
                                            "<domain><uuid>" HID "</uuid><devices><serial><log "
                                            "file='/b/i/" HID "/console.log'/></serial></devices>"
                                            "</domain>",
                                            &out, &err),
                     -1);
    st_buf_release(&out);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_parse),
        cmocka_unit_test(t02_disks),
        cmocka_unit_test(t03_params),
        cmocka_unit_test(t04_uri),
        cmocka_unit_test(t05_merge),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("agent-migrate", tests, known_bugs);
}

/* test-domain.c - domain_xml_render(): golden files (STYLE §14).
 *
 * Each case is tests/data/domain/<case>.json:
 *   {"server": SERVER, "paths": {"disk": ..., ...}, "opts": {...}}
 * where SERVER is a server of the desired state (docs/agent-protocol.md),
 * parsed with model_desired_parse().  The rendered XML must equal
 * <case>.xml; a case expected to fail must fail with the message in
 * <case>.err.  ST_TEST_REGENERATE=1 rewrites both kinds of file for review.
 *
 * Each XML is also defined on libvirt's test driver (test:///default) with
 * schema validation, then undefined, and checked with virt-xml-validate
 * when that program is installed. */
#include "testutil.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "agent/domain.h"
#include "agent/model.h"
#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

/* The host the rendered domains belong to (their <stratus:host uuid>). */
#define TEST_HOST_ID "9d2e4f6a-1b3c-4d5e-8f70-123456789abc"

struct dcase {
    const char *name;
    bool fail;
};

static bool regenerate(void)
{
    const char *r = getenv("ST_TEST_REGENERATE");
    return r && *r && strcmp(r, "0");
}

static char *data_path(const char *name, const char *ext)
{
    return st_xasprintf("%s/tests/data/domain/%s.%s", tu_srcdir(), name, ext);
}

/* Compares 'have' with the golden file 'path', or rewrites it. */
static void golden(const char *path, const char *have)
{
    struct st_buf want = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    if (regenerate()) {
        if (st_write_file(path, have, strlen(have), 0644, &err) < 0)
            fail_msg("%s", err.msg);
        printf("# regenerated %s\n", path);
    }
    if (st_read_file(path, 1 << 20, &want, &err) < 0)
        fail_msg("%s (run with ST_TEST_REGENERATE=1 to create it)", err.msg);
    if (strcmp(want.buf, have)) {
        printf("# got:\n");
        for (const char *p = have; *p;) {
            size_t n = strcspn(p, "\n");
            printf("# %.*s\n", (int) n, p);
            p += n + (p[n] == '\n');
        }
        fail_msg("%s differs: run `ST_TEST_REGENERATE=1 meson test test-domain` and review "
                 "the diff",
                 path);
    }
    st_buf_release(&want);
}

/* Parses the "server" of case file 'doc' into a model. */
static struct model_desired *parse_server(json_t *doc)
{
    struct st_err err = ST_ERR_INIT;
    json_t *wrap = json_pack("{s:s, s:i, s:[O]}", "host", "h", "revision", 1, "servers",
                             json_object_get(doc, "server"));
    struct model_desired *d;
    assert_non_null(wrap);
    d = model_desired_parse(wrap, &err);
    json_decref(wrap);
    if (!d)
        fail_msg("model_desired_parse: %s", err.msg);
    assert_int_equal(d->nservers, 1);
    return d;
}

static const char *opt_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void silent(void *opaque, virErrorPtr e)
{
    (void) opaque;
    (void) e;
}

/* Defines 'xml' on libvirt's test driver with schema validation. */
static void libvirt_define(const char *xml, const char *want_name)
{
    virConnectPtr conn;
    virDomainPtr dom;
    virSetErrorFunc(NULL, silent);
    conn = virConnectOpen("test:///default");
    if (!conn)
        fail_msg("virConnectOpen(test:///default): %s", virGetLastErrorMessage());
    dom = virDomainDefineXMLFlags(conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
    if (!dom) {
        const char *msg = virGetLastErrorMessage();
        char copy[1024];
        snprintf(copy, sizeof(copy), "%s", msg);
        virConnectClose(conn);
        fail_msg("libvirt refuses the XML: %s", copy);
    }
    assert_string_equal(virDomainGetName(dom), want_name);
    assert_int_equal(virDomainUndefine(dom), 0);
    virDomainFree(dom);
    assert_true(virConnectClose(conn) >= 0);
}

/* True if 'prog' is an executable in the spawn module's PATH. */
static bool have_program(const char *prog)
{
    static const char *const dirs[] = {"/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin"};
    for (size_t i = 0; i < ST_ARRAY_SIZE(dirs); i++) {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", dirs[i], prog);
        if (access(p, X_OK) == 0)
            return true;
    }
    return false;
}

/* virt-xml-validate FILE domain, when installed. */
static void xml_validate(const char *xml)
{
    struct st_err err = ST_ERR_INIT;
    char *dir, *file;
    struct st_cmd *cmd;
    if (!have_program("virt-xml-validate"))
        return;
    dir = tu_mkdtemp();
    assert_non_null(dir);
    file = st_xasprintf("%s/domain.xml", dir);
    assert_int_equal(st_write_file(file, xml, strlen(xml), 0644, &err), 0);
    cmd = cmd_new("virt-xml-validate");
    cmd_arg(cmd, file);
    cmd_arg(cmd, "domain");
    cmd_set_timeout(cmd, 60);
    if (cmd_run(cmd, NULL, NULL, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    cmd_free(cmd);
    tu_rmrf(dir);
    free(file);
    free(dir);
}

static void run_case(void **state)
{
    const struct dcase *c = *state;
    struct st_err err = ST_ERR_INIT;
    struct st_buf xml = ST_BUF_INIT, name = ST_BUF_INIT;
    json_error_t je;
    char *in = data_path(c->name, "json");
    json_t *doc = json_load_file(in, JSON_REJECT_DUPLICATES, &je);
    json_t *p, *o;
    struct model_desired *d;
    struct domain_paths paths;
    struct domain_opts opts;
    int rc;

    if (!doc)
        fail_msg("%s:%d: %s", in, je.line, je.text);
    d = parse_server(doc);
    p = json_object_get(doc, "paths");
    o = json_object_get(doc, "opts");
    paths = (struct domain_paths){
        .disk = opt_str(p, "disk"),
        .disk_local = opt_str(p, "disk_local"),
        .disk_swap = opt_str(p, "disk_swap"),
        .seed = opt_str(p, "seed"),
        .console_log = opt_str(p, "console_log"),
        .console_socket = opt_str(p, "console_socket"),
        .kernel = opt_str(p, "kernel"),
        .initrd = opt_str(p, "initrd"),
        .rescue_disk = opt_str(p, "rescue_disk"),
    };
    opts = (struct domain_opts){
        .virt_type = opt_str(o, "virt_type"),
        .vnc_listen = opt_str(o, "vnc_listen"),
        .memballoon_period = (int) json_integer_value(json_object_get(o, "memballoon_period")),
        .host_id = TEST_HOST_ID,
    };

    /* Attached volumes (VOLUMES.md): as the reconciler passes them. */
    struct domain_volume vols[MODEL_MAX_ATTACHMENTS];
    char usage[MODEL_MAX_ATTACHMENTS][128];
    for (int i = 0; i < d->servers[0].nvolumes; i++) {
        const struct model_attachment *a = &d->servers[0].volumes[i];
        if (a->delete)
            continue;
        ST_IGNORE(st_snprintf(usage[i], sizeof(usage[i]), "stratus-%s-%s", TEST_HOST_ID,
                              a->attachment_id));
        vols[paths.nvolumes++] = (struct domain_volume){
            .att = a, .format = a->format[0] ? a->format : "qcow2", .secret_usage = usage[i]};
    }
    paths.volumes = vols;

    rc = domain_xml_render(&d->servers[0], &paths, &opts, &xml, &err);
    if (c->fail) {
        char *path = data_path(c->name, "err");
        struct st_buf msg = ST_BUF_INIT;
        if (rc == 0)
            fail_msg("case '%s' should fail but rendered:\n%s", c->name, xml.buf);
        assert_int_equal(xml.len, 0); /* nothing appended on failure */
        st_buf_addf(&msg, "%s\n", err.msg);
        golden(path, msg.buf);
        st_buf_release(&msg);
        free(path);
    } else {
        char *path = data_path(c->name, "xml");
        if (rc < 0)
            fail_msg("case '%s': %s", c->name, err.msg);
        golden(path, xml.buf);
        domain_name(d->servers[0].id, &name);
        libvirt_define(xml.buf, name.buf);
        xml_validate(xml.buf);
        free(path);
    }
    st_buf_release(&xml);
    st_buf_release(&name);
    model_desired_free(d);
    json_decref(doc);
    free(in);
}

static void t01_domain_name(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    (void) state;
    domain_name("5b3c6a1e-8f2d-4c1a-9e7b-2d4f6a8c0e11", &b);
    assert_string_equal(b.buf, "instance-5b3c6a1e-8f2d-4c1a-9e7b-2d4f6a8c0e11");
    st_buf_release(&b);
}

/* Appends to 'out', leaving what was there. */
static void t02_render_appends(void **state)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf xml = ST_BUF_INIT;
    json_error_t je;
    char *in = data_path("minimal", "json");
    json_t *doc = json_load_file(in, 0, &je);
    struct model_desired *d;
    struct domain_paths paths = {.disk = "/i/disk"};
    struct domain_opts opts = {.virt_type = "qemu", .host_id = TEST_HOST_ID};
    (void) state;
    assert_non_null(doc);
    d = parse_server(doc);
    st_buf_adds(&xml, "<!-- before -->\n");
    assert_int_equal(domain_xml_render(&d->servers[0], &paths, &opts, &xml, &err), 0);
    assert_true(!strncmp(xml.buf, "<!-- before -->\n<domain type=\"qemu\">", 36));
    /* no "auto": the agent resolves it first */
    opts.virt_type = "auto";
    st_buf_reset(&xml);
    assert_int_equal(domain_xml_render(&d->servers[0], &paths, &opts, &xml, &err), -1);
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    assert_int_equal(xml.len, 0);
    /* no root disk */
    st_err_clear(&err);
    opts.virt_type = "kvm";
    paths.disk = NULL;
    assert_int_equal(domain_xml_render(&d->servers[0], &paths, &opts, &xml, &err), -1);
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    /* no owning host: an agent never defines a domain it could not claim */
    st_err_clear(&err);
    paths.disk = "/i/disk";
    opts.host_id = NULL;
    assert_int_equal(domain_xml_render(&d->servers[0], &paths, &opts, &xml, &err), -1);
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    opts.host_id = "vm";
    st_err_clear(&err);
    assert_int_equal(domain_xml_render(&d->servers[0], &paths, &opts, &xml, &err), -1);
    assert_int_equal(xml.len, 0);
    st_buf_release(&xml);
    model_desired_free(d);
    json_decref(doc);
    free(in);
}

#define DO_TEST(num, name) {"t" #num "_" name, run_case, NULL, NULL, &(struct dcase){name, false}}
#define DO_TEST_FAIL(num, name)                                                                    \
    {"t" #num "_" name, run_case, NULL, NULL, &(struct dcase){name, true}}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(t01_domain_name),
    cmocka_unit_test(t02_render_appends),
    DO_TEST(10, "minimal"),
    DO_TEST(11, "direct-kernel"),
    DO_TEST(12, "direct-kernel-scsi-default-cmdline"),
    DO_TEST(13, "ephemeral-swap"),
    DO_TEST(14, "config-drive"),
    DO_TEST(15, "two-nics"),
    DO_TEST(16, "rescue"),
    DO_TEST(17, "cpu-topology-flavor"),
    DO_TEST(18, "cpu-topology-image"),
    DO_TEST_FAIL(19, "cpu-topology-bad"),
    DO_TEST_FAIL(20, "cpu-topology-not-a-number"),
    DO_TEST(21, "disk-bus-scsi"),
    DO_TEST(22, "disk-bus-ide"),
    DO_TEST(23, "disk-bus-sata"),
    DO_TEST_FAIL(24, "disk-bus-unknown"),
    DO_TEST(25, "xml-escaping"),
    DO_TEST(26, "image-models-no-vnc"),
    DO_TEST_FAIL(27, "vif-model-unknown"),
    DO_TEST(28, "volumes"),
    DO_TEST(29, "boot-from-volume"),
};

int main(void)
{
    static const struct tu_known_bug known_bugs[1];
    return tu_run("domain", tests, ST_ARRAY_SIZE(tests), known_bugs, 0);
}

/* test-agent-options.c - the agent's options (src/agent/options.c): defaults,
 * file and flag precedence, the checks the table cannot make, derived values,
 * the host secret, virt_type auto-detection, and the sample file
 * etc/stratus-agent.conf.sample (regenerate with ST_TEST_REGENERATE=1). */
#include "testutil.h"

#include "agent/options.h"
#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

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

/* Writes 'text' to TMP/name; returns the path (static buffer). */
static const char *file(const char *name, const char *text)
{
    static char path[4096];
    FILE *f;
    assert_true(snprintf(path, sizeof(path), "%s/%s", tmp, name) > 0);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void t01_defaults(void **state)
{
    struct st_err err = ST_ERR_INIT;
    struct cfg *cfg = agent_config(NULL, NULL, &err);
    char *p;
    (void) state;
    assert_non_null(cfg);
    assert_string_equal(cfg_str(cfg, "DEFAULT", "data_dir"), "/var/lib/stratus");
    assert_int_equal(cfg_int(cfg, "DEFAULT", "report_interval"), 10);
    assert_int_equal(cfg_int(cfg, "DEFAULT", "base_image_unused_seconds"), 3600);
    assert_int_equal(cfg_int(cfg, "DEFAULT", "shutdown_timeout"), 60);
    assert_string_equal(cfg_str(cfg, "libvirt", "uri"), "qemu:///system");
    assert_string_equal(cfg_str(cfg, "libvirt", "virt_type"), "auto");
    assert_string_equal(cfg_str(cfg, "libvirt", "vnc_listen"), "none");
    assert_string_equal(cfg_str(cfg, "network", "physical_interface_mappings"), "");
    assert_string_equal(cfg_str(cfg, "network", "local_ip"), "");
    p = agent_instances_path(cfg);
    assert_string_equal(p, "/var/lib/stratus/instances");
    free(p);
    p = agent_credential_path(cfg, "node1");
    assert_string_equal(p, "/var/lib/stratus/hosts/node1.secret");
    free(p);
    p = agent_host_name(cfg);
    {
        char name[256];
        assert_int_equal(gethostname(name, sizeof(name)), 0);
        assert_string_equal(p, name);
    }
    free(p);
    cfg_free(cfg);
}

static void t02_file_then_flags(void **state)
{
    struct st_err err = ST_ERR_INIT;
    const char *conf = file("agent.conf", "[DEFAULT]\n"
                                          "data_dir = /from/file\n"
                                          "host = filehost\n"
                                          "instances_path = /srv/instances\n"
                                          "credential = /etc/stratus/secret\n"
                                          "report_interval = 3\n"
                                          "[libvirt]\n"
                                          "virt_type = qemu\n"
                                          "[network]\n"
                                          "local_ip = 192.0.2.5\n");
    struct agent_flags flags = {
        .data_dir = "/from/flag", .controller = "http://192.0.2.1:5000", .host = "flaghost"};
    struct cfg *cfg = agent_config(conf, &flags, &err);
    char *p;
    (void) state;
    assert_non_null(cfg);
    assert_string_equal(cfg_str(cfg, "DEFAULT", "data_dir"), "/from/flag");
    assert_string_equal(cfg_str(cfg, "DEFAULT", "controller"), "http://192.0.2.1:5000");
    assert_int_equal(cfg_int(cfg, "DEFAULT", "report_interval"), 3);
    assert_string_equal(cfg_str(cfg, "network", "local_ip"), "192.0.2.5");
    p = agent_host_name(cfg);
    assert_string_equal(p, "flaghost");
    free(p);
    p = agent_instances_path(cfg);
    assert_string_equal(p, "/srv/instances"); /* set explicitly: not under data_dir */
    free(p);
    p = agent_credential_path(cfg, "flaghost");
    assert_string_equal(p, "/etc/stratus/secret");
    free(p);
    cfg_free(cfg);
}

static void t03_invalid_values(void **state)
{
    static const char *const bad[] = {
        "[libvirt]\nvirt_type = xen\n",
        "[DEFAULT]\nlog_level = loud\n",
        "[DEFAULT]\ncontroller = ftp://example\n",
        "[DEFAULT]\nhost = a/b\n",
        "[DEFAULT]\nhost = ../x\n",
        "[DEFAULT]\nreport_interval = 0\n",
        "[DEFAULT]\nno_such_option = 1\n",
        "[nosuchsection]\nx = 1\n",
    };
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        struct st_err err = ST_ERR_INIT;
        struct cfg *cfg = agent_config(file("bad.conf", bad[i]), NULL, &err);
        if (cfg)
            fail_msg("accepted: %s", bad[i]);
        assert_true(st_err_is_set(&err));
    }
    {
        struct st_err err = ST_ERR_INIT;
        struct agent_flags flags = {.controller = "localhost:5000"};
        assert_null(agent_config(NULL, &flags, &err));
        assert_non_null(strstr(err.msg, "localhost:5000"));
    }
}

static void t04_secret(void **state)
{
    struct st_err err = ST_ERR_INIT;
    char *s;
    (void) state;
    s = agent_read_secret(file("ok.secret", "  AbC-_123xyz=\n"), &err);
    assert_non_null(s);
    assert_string_equal(s, "AbC-_123xyz=");
    free(s);
    /* Anything that could break the Authorization header is refused. */
    assert_null(agent_read_secret(file("bad.secret", "abc\r\nX-Evil: 1\n"), &err));
    assert_true(st_err_is_set(&err));
    st_err_clear(&err);
    assert_null(agent_read_secret(file("empty.secret", " \n"), &err));
    assert_true(st_err_is_set(&err));
    st_err_clear(&err);
    assert_null(agent_read_secret("/nonexistent/x.secret", &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
}

static void t05_virt_type(void **state)
{
    const char *with_vmx = file("cpuinfo-vmx", "processor\t: 0\n"
                                               "flags\t\t: fpu vme de pse vmx ssse3\n");
    char vmx[4096], novirt[4096], svm[4096];
    (void) state;
    assert_true(snprintf(vmx, sizeof(vmx), "%s", with_vmx) > 0);
    assert_true(snprintf(svm, sizeof(svm), "%s", file("cpuinfo-svm", "flags\t\t: fpu svm\n")) > 0);
    assert_true(snprintf(novirt, sizeof(novirt), "%s",
                         file("cpuinfo-none", "flags\t\t: fpu vme vmxnet svmx hypervisor\n")) > 0);
    /* Explicit choices are taken as they are. */
    assert_string_equal(agent_virt_type("kvm", "/nonexistent", novirt), "kvm");
    assert_string_equal(agent_virt_type("qemu", "/dev/null", vmx), "qemu");
    /* auto: a CPU without vmx/svm (whole words) means TCG, whatever the device. */
    assert_string_equal(agent_virt_type("auto", "/dev/kvm", novirt), "qemu");
    /* auto: flags alone are not enough, the device must answer KVM's ioctl. */
    assert_string_equal(agent_virt_type("auto", "/nonexistent", vmx), "qemu");
    assert_string_equal(agent_virt_type("auto", "/dev/null", svm), "qemu");
    assert_string_equal(agent_virt_type("auto", "/dev/null", "/nonexistent"), "qemu");
}

/* etc/stratus-agent.conf.sample is what --help-config prints. */
static void t06_sample_file_is_current(void **state)
{
    struct st_buf want = ST_BUF_INIT, have = ST_BUF_INIT, path = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    const char *regen = getenv("ST_TEST_REGENERATE");
    struct cfg *cfg;
    (void) state;
    cfg_print_sample(agent_opts, agent_opts_count, AGENT_SAMPLE_TITLE, &want);
    st_buf_addf(&path, "%s/etc/stratus-agent.conf.sample", tu_srcdir());
    if (regen && *regen && strcmp(regen, "0")) {
        if (st_write_file(path.buf, want.buf, want.len, 0644, &err) < 0)
            fail_msg("%s", err.msg);
        printf("# regenerated %s\n", path.buf);
    }
    if (st_read_file(path.buf, 1 << 20, &have, &err) < 0)
        fail_msg("%s (run with ST_TEST_REGENERATE=1 to create it)", err.msg);
    if (strcmp(have.buf, want.buf))
        fail_msg("%s is out of date: run `ST_TEST_REGENERATE=1 meson test test-agent-options` "
                 "and review the diff",
                 path.buf);
    /* The sample itself is a valid configuration. */
    cfg = agent_config(path.buf, NULL, &err);
    if (!cfg)
        fail_msg("%s", err.msg);
    cfg_free(cfg);
    st_buf_release(&want);
    st_buf_release(&have);
    st_buf_release(&path);
}

/* And the agent prints the same (needs the binary of this build). */
static void t07_help_config_matches(void **state)
{
    struct st_buf want = ST_BUF_INIT, out = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    const char *builddir = getenv("ST_BUILDDIR");
    struct st_cmd *cmd;
    (void) state;
    if (!builddir || !*builddir)
        skip();
    {
        struct st_buf exe = ST_BUF_INIT;
        st_buf_addf(&exe, "%s/stratus-agent", builddir);
        if (access(exe.buf, X_OK) < 0) {
            st_buf_release(&exe);
            skip();
        }
        cmd = cmd_new(exe.buf);
        st_buf_release(&exe);
    }
    cmd_arg(cmd, "--help-config");
    if (cmd_run(cmd, &out, NULL, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    cmd_free(cmd);
    cfg_print_sample(agent_opts, agent_opts_count, AGENT_SAMPLE_TITLE, &want);
    assert_string_equal(out.buf, want.buf);
    st_buf_release(&want);
    st_buf_release(&out);
}

/* /dev/kvm as a machine without udev has it (0600 root:root), as udev
 * sets it (0660 root:kvm) and the other cases of the kernel's rule. */
static void t08_dev_rw_for(void **state)
{
    (void) state;
    const uid_t qemu = 64055;
    const gid_t kvm = 107, own = 64055, other = 5;
    const gid_t groups[] = {kvm, own};
    struct stat sb = {.st_mode = S_IFCHR | 0600, .st_uid = 0, .st_gid = 0};

    assert_false(agent_dev_rw_for(&sb, qemu, own, groups, 2));
    assert_true(agent_dev_rw_for(&sb, 0, 0, NULL, 0)); /* root */
    sb.st_gid = kvm;
    sb.st_mode = S_IFCHR | 0660;
    assert_true(agent_dev_rw_for(&sb, qemu, own, groups, 2));  /* supplementary group */
    assert_true(agent_dev_rw_for(&sb, qemu, kvm, NULL, 0));    /* primary group */
    assert_false(agent_dev_rw_for(&sb, qemu, own, groups, 0)); /* not in kvm */
    sb.st_mode = S_IFCHR | 0640;
    assert_false(agent_dev_rw_for(&sb, qemu, own, groups, 2)); /* read only */
    sb.st_gid = other;
    sb.st_mode = S_IFCHR | 0666;
    assert_true(agent_dev_rw_for(&sb, qemu, own, groups, 2)); /* others' bits */
    /* The owner's bits decide for the owner, even when others may. */
    sb.st_uid = qemu;
    sb.st_mode = S_IFCHR | 0066;
    assert_false(agent_dev_rw_for(&sb, qemu, own, groups, 2));
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_defaults),
        cmocka_unit_test_setup_teardown(t02_file_then_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(t03_invalid_values, setup, teardown),
        cmocka_unit_test_setup_teardown(t04_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(t05_virt_type, setup, teardown),
        cmocka_unit_test(t06_sample_file_is_current),
        cmocka_unit_test(t07_help_config_matches),
        cmocka_unit_test(t08_dev_rw_for),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("agent-options", tests, known_bugs);
}

/* test-dhcp.c - the dnsmasq files of the agent's network driver (dhcp.c):
 * golden files (STYLE §14) and the start command.
 *
 * Each case is tests/data/dhcp/<case>.json, a desired state whose first
 * network has "dhcp"; dhcp_render() with the directory
 * /var/lib/stratus/network/dhcp/<network id> must give <case>.conf,
 * <case>.hosts and <case>.opts.  ST_TEST_REGENERATE=1 rewrites them. */
#include "testutil.h"

#include "golden.h"

#include "agent/dhcp.h"
#include "agent/model.h"
#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

static struct model_desired *load(const char *name, json_t **doc)
{
    struct st_err err = ST_ERR_INIT;
    json_error_t je;
    char *in = tu_data_path("dhcp", name, "json");
    struct model_desired *d;
    *doc = json_load_file(in, JSON_REJECT_DUPLICATES, &je);
    if (!*doc)
        fail_msg("%s:%d: %s", in, je.line, je.text);
    d = model_desired_parse(*doc, &err);
    if (!d)
        fail_msg("%s: %s", in, err.msg);
    free(in);
    assert_true(d->nnetworks > 0);
    assert_non_null(d->networks[0].dhcp);
    return d;
}

static void run_case(void **state)
{
    const char *name = *state;
    static const char *const exts[] = {"conf", "hosts", "opts"};
    json_t *doc;
    struct model_desired *d = load(name, &doc);
    struct dhcp_files f;
    char *dir = st_xasprintf("/var/lib/stratus/network/dhcp/%s", d->networks[0].id);
    dhcp_files_init(&f);
    dhcp_render(&d->networks[0], dir, &f);
    for (size_t i = 0; i < ST_ARRAY_SIZE(exts); i++) {
        char *path = tu_data_path("dhcp", name, exts[i]);
        tu_golden(path, i == 0 ? f.conf.buf : i == 1 ? f.hosts.buf : f.opts.buf, "test-dhcp");
        free(path);
    }
    dhcp_files_release(&f);
    free(dir);
    model_desired_free(d);
    json_decref(doc);
}

/* dhcp_ensure() writes the files, then starts dnsmasq in the network's
 * namespace with only --conf-file (dry run); a second call with the same
 * model would find it running, a changed host list reloads it. */
static void t01_start_dry_run(void **state)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf rec = ST_BUF_INIT, want = ST_BUF_INIT, conf = ST_BUF_INIT;
    json_t *doc;
    struct model_desired *d = load("basic", &doc);
    char *tmp = tu_mkdtemp(), *path;
    enum dhcp_action act;
    (void) state;
    cmd_set_dry_run(&rec);
    assert_int_equal(dhcp_ensure(&d->networks[0], tmp, NULL, &act, &err), 0);
    cmd_set_dry_run(NULL);
    assert_int_equal(act, DHCP_STARTED);
    st_buf_addf(&want, "[netns /run/netns/qdhcp-%s] dnsmasq --conf-file=%s/dhcp/%s/conf\n",
                d->networks[0].id, tmp, d->networks[0].id);
    assert_string_equal(rec.buf, want.buf);
    path = st_xasprintf("%s/dhcp/%s/conf", tmp, d->networks[0].id);
    assert_int_equal(st_read_file(path, 1 << 20, &conf, &err), 0);
    assert_non_null(strstr(conf.buf, "port=0\n"));
    assert_int_equal(tu_mode(path), 0644);
    /* Nothing runs (dry run): not running, and stopping is harmless. */
    assert_int_equal(dhcp_running(tmp, d->networks[0].id), 0);
    assert_int_equal(dhcp_stop(tmp, d->networks[0].id, &err), 0);
    assert_int_equal(access(path, F_OK), -1);
    free(path);
    tu_rmrf(tmp);
    free(tmp);
    st_buf_release(&rec);
    st_buf_release(&want);
    st_buf_release(&conf);
    model_desired_free(d);
    json_decref(doc);
}

static void t02_list(void **state)
{
    struct st_err err = ST_ERR_INIT;
    char *tmp = tu_mkdtemp(), *p;
    char **ids;
    size_t n;
    (void) state;
    assert_int_equal(dhcp_list(tmp, &ids, &n, &err), 0);
    assert_int_equal(n, 0);
    dhcp_list_free(ids, n);
    p = st_xasprintf("%s/dhcp/6e5d4c3b-2a19-4876-a5b4-c3d2e1f0a9b8", tmp);
    assert_int_equal(st_mkdir_p(p, 0755, &err), 0);
    free(p);
    p = st_xasprintf("%s/dhcp/not-a-network", tmp);
    assert_int_equal(st_mkdir_p(p, 0755, &err), 0);
    free(p);
    assert_int_equal(dhcp_list(tmp, &ids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "6e5d4c3b-2a19-4876-a5b4-c3d2e1f0a9b8");
    dhcp_list_free(ids, n);
    tu_rmrf(tmp);
    free(tmp);
}

#define DO_TEST(num, name) {"t" #num "_" name, run_case, NULL, NULL, (void *) name}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(t01_start_dry_run),
    cmocka_unit_test(t02_list),
    DO_TEST(10, "basic"),
    DO_TEST(11, "routes-dns"),
    DO_TEST(12, "dual-stack"),
    DO_TEST(13, "isolated-metadata"),
};

static const struct tu_known_bug known_bugs[] = {};

int main(void)
{
    return TU_RUN("dhcp", tests, known_bugs);
}

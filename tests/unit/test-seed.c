/* test-seed.c - the NoCloud and config drive renderers (golden files, STYLE
 * §14) and the ISO writer.
 *
 * Each case is tests/data/seed/<case>.json: {"server": SERVER}, SERVER a
 * server of the desired state (docs/agent-protocol.md).  The four outputs
 * must equal <case>.meta-data, <case>.network-config, <case>.meta_data.json
 * and <case>.network_data.json; a renderer that fails writes "error: MSG"
 * there instead, which only DO_TEST_FAIL cases may do.
 * ST_TEST_REGENERATE=1 rewrites the files for review.
 *
 * The YAML goes through PyYAML (what cloud-init parses it with) when
 * /usr/bin/python3 has it; the ISO images are read back with isoinfo and
 * blkid through the spawn module. */
#include "testutil.h"

#include <jansson.h>

#include "agent/model.h"
#include "agent/seed.h"
#include "common/spawn.h"
#include "common/util.h"
#include "metadata/render.h"
#include "common/banned.h"

struct scase {
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
    return st_xasprintf("%s/tests/data/seed/%s.%s", tu_srcdir(), name, ext);
}

/* Compares 'have' with the golden file 'path', or rewrites it. */
static void golden(const char *path, const struct st_buf *have)
{
    struct st_buf want = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    if (regenerate()) {
        if (st_write_file(path, have->buf, have->len, 0644, &err) < 0)
            fail_msg("%s", err.msg);
        printf("# regenerated %s\n", path);
    }
    if (st_read_file(path, 1 << 20, &want, &err) < 0)
        fail_msg("%s (run with ST_TEST_REGENERATE=1 to create it)", err.msg);
    if (want.len != have->len || memcmp(want.buf, have->buf, have->len)) {
        printf("# got:\n");
        for (const char *p = have->buf; *p;) {
            size_t n = strcspn(p, "\n");
            printf("# %.*s\n", (int) n, p);
            p += n + (p[n] == '\n');
        }
        fail_msg("%s differs: run `ST_TEST_REGENERATE=1 meson test test-seed` and review the "
                 "diff",
                 path);
    }
    st_buf_release(&want);
}

/* A new temporary directory (free() it); aborts when there is none. */
static char *tmpdir(void)
{
    char *d = tu_mkdtemp();
    if (!d)
        abort();
    return d;
}

/* Parses case 'name' into a model (the server is d->servers[0]). */
static struct model_desired *load_case(const char *name)
{
    struct st_err err = ST_ERR_INIT;
    json_error_t je;
    char *in = data_path(name, "json");
    json_t *doc = json_load_file(in, JSON_REJECT_DUPLICATES, &je);
    json_t *wrap;
    struct model_desired *d;
    if (!doc)
        fail_msg("%s:%d: %s", in, je.line, je.text);
    wrap = json_pack("{s:s, s:i, s:[O]}", "host", "h", "revision", 1, "servers",
                     json_object_get(doc, "server"));
    assert_non_null(wrap);
    d = model_desired_parse(wrap, &err);
    if (!d)
        fail_msg("%s: model_desired_parse: %s", in, err.msg);
    json_decref(wrap);
    json_decref(doc);
    free(in);
    return d;
}

typedef int (*renderer)(const struct model_server *, struct st_buf *, struct st_err *);

/* The config drive's meta_data.json without its random seed. */
static int configdrive_meta_data(const struct model_server *s, struct st_buf *out,
                                 struct st_err *err)
{
    return mdr_meta_data(s, NULL, true, out, err);
}

static void run_case(void **state)
{
    static const struct {
        const char *ext;
        renderer fn;
    } outputs[] = {
        {"meta-data", mdr_nocloud_meta_data},
        {"network-config", mdr_nocloud_network_config},
        {"meta_data.json", configdrive_meta_data},
        {"network_data.json", mdr_network_data},
    };
    const struct scase *c = *state;
    struct model_desired *d = load_case(c->name);
    int failures = 0;

    for (size_t i = 0; i < ST_ARRAY_SIZE(outputs); i++) {
        struct st_buf out = ST_BUF_INIT;
        struct st_err err = ST_ERR_INIT;
        char *path = data_path(c->name, outputs[i].ext);
        st_buf_adds(&out, "x"); /* renderers append */
        if (outputs[i].fn(&d->servers[0], &out, &err) < 0) {
            assert_int_equal(out.len, 1); /* nothing appended on failure */
            assert_true(st_err_is_set(&err));
            st_buf_reset(&out);
            st_buf_addf(&out, "error: %s\n", err.msg);
            failures++;
        } else {
            assert_int_equal(out.buf[0], 'x');
            memmove(out.buf, out.buf + 1, out.len);
            out.len--;
        }
        golden(path, &out);
        st_buf_release(&out);
        free(path);
    }
    if (c->fail)
        assert_true(failures > 0);
    else
        assert_int_equal(failures, 0);
    model_desired_free(d);
}

/* ------------------------------------------------------------------ */

static bool have_pyyaml(void)
{
    struct st_cmd *cmd;
    struct st_err err = ST_ERR_INIT;
    int status = 1;
    if (access("/usr/bin/python3", X_OK) < 0)
        return false;
    cmd = cmd_new("/usr/bin/python3");
    cmd_arg(cmd, "-c");
    cmd_arg(cmd, "import yaml");
    if (cmd_run(cmd, NULL, NULL, &status, &err) < 0)
        status = 1;
    cmd_free(cmd);
    return status == 0;
}

/* yaml.safe_load(text) as JSON (sorted keys), as cloud-init would see it. */
static json_t *pyyaml_load(const char *text)
{
    struct st_cmd *cmd = cmd_new("/usr/bin/python3");
    struct st_buf out = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    json_error_t je;
    json_t *j;
    cmd_arg(cmd, "-c");
    cmd_arg(cmd, "import sys, json, yaml\n"
                 "doc = yaml.safe_load(sys.stdin.buffer.read().decode('utf-8'))\n"
                 "sys.stdout.write(json.dumps(doc, sort_keys=True))\n");
    cmd_set_input(cmd, text, strlen(text));
    cmd_set_timeout(cmd, 60);
    if (cmd_run(cmd, &out, NULL, NULL, &err) < 0)
        fail_msg("PyYAML refuses:\n%s\n%s", text, err.msg);
    j = json_loadb(out.buf, out.len, 0, &je);
    assert_non_null(j);
    cmd_free(cmd);
    st_buf_release(&out);
    return j;
}

/* meta-data of "yaml-special": every value comes back as it went in. */
static void t01_meta_data_through_pyyaml(void **state)
{
    struct model_desired *d;
    const struct model_server *s;
    struct st_buf md = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    json_t *j, *keys;
    (void) state;
    if (!have_pyyaml()) {
        printf("# /usr/bin/python3 with PyYAML not found: skipped\n");
        skip();
    }
    d = load_case("yaml-special");
    s = &d->servers[0];
    assert_int_equal(mdr_nocloud_meta_data(s, &md, &err), 0);
    j = pyyaml_load(md.buf);
    assert_string_equal(json_string_value(json_object_get(j, "instance-id")), s->id);
    assert_string_equal(json_string_value(json_object_get(j, "local-hostname")), s->hostname);
    keys = json_object_get(j, "public-keys");
    assert_int_equal(json_array_size(keys), 2);
    /* the first line of the key text, without its "\r" */
    assert_int_equal(json_string_length(json_array_get(keys, 0)), strcspn(s->key_data, "\r"));
    assert_memory_equal(json_string_value(json_array_get(keys, 0)), s->key_data,
                        strcspn(s->key_data, "\r"));
    assert_string_equal(json_string_value(json_array_get(keys, 1)),
                        "ssh-ed25519 AAAAsecond second@host");
    json_decref(j);
    st_buf_release(&md);
    model_desired_free(d);
}

/* Every network-config parses, and says what the model says. */
static void t02_network_config_through_pyyaml(void **state)
{
    static const char *const cases[] = {"two-nics", "ipv6"};
    (void) state;
    if (!have_pyyaml()) {
        printf("# /usr/bin/python3 with PyYAML not found: skipped\n");
        skip();
    }
    for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
        struct model_desired *d = load_case(cases[i]);
        const struct model_server *s = &d->servers[0];
        struct st_buf nc = ST_BUF_INIT;
        struct st_err err = ST_ERR_INIT;
        json_t *j, *eth;
        assert_int_equal(mdr_nocloud_network_config(s, &nc, &err), 0);
        j = pyyaml_load(nc.buf);
        assert_int_equal(json_integer_value(json_object_get(j, "version")), 2);
        eth = json_object_get(j, "ethernets");
        assert_int_equal(json_object_size(eth), (size_t) s->nnics);
        for (int n = 0; n < s->nnics; n++) {
            char key[16];
            json_t *e, *routes, *r;
            size_t k;
            snprintf(key, sizeof(key), "nic%d", n);
            e = json_object_get(eth, key);
            assert_non_null(e);
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(e, "match"), "macaddress")),
                s->nics[n].mac);
            assert_null(json_object_get(e, "set-name"));
            if (s->nics[n].mtu)
                assert_int_equal(json_integer_value(json_object_get(e, "mtu")), s->nics[n].mtu);
            routes = json_object_get(e, "routes");
            json_array_foreach(routes, k, r)
            {
                const char *to = json_string_value(json_object_get(r, "to"));
                assert_non_null(to);
                assert_string_not_equal(to, "default");
                assert_string_not_equal(to, "::/0"); /* gateway6 instead */
                assert_non_null(strchr(to, '/'));
                assert_non_null(json_string_value(json_object_get(r, "via")));
            }
        }
        json_decref(j);
        st_buf_release(&nc);
        model_desired_free(d);
    }
}

/* ------------------------------------------------------------------ */
/* ISO images */

static int run(struct st_buf *out, const char *prog, ...)
{
    struct st_cmd *cmd = cmd_new(prog);
    struct st_err err = ST_ERR_INIT;
    va_list ap;
    const char *a;
    int rc;
    va_start(ap, prog);
    while ((a = va_arg(ap, const char *)))
        cmd_arg(cmd, a);
    va_end(ap);
    cmd_set_timeout(cmd, 60);
    rc = cmd_run(cmd, out, NULL, NULL, &err);
    if (rc < 0)
        printf("# %s\n", err.msg);
    cmd_free(cmd);
    return rc;
}

/* The content of '/path' in ISO 'iso', through Rock Ridge. */
static void iso_file(const char *iso, const char *path, struct st_buf *out)
{
    st_buf_reset(out);
    if (run(out, "isoinfo", "-i", iso, "-R", "-x", path, (char *) NULL) < 0)
        fail_msg("isoinfo -x %s failed", path);
}

/* The volume id of 'iso' by isoinfo -d, and that it has Rock Ridge and
 * Joliet. */
static void iso_check_volume(const char *iso, const char *label)
{
    struct st_buf out = ST_BUF_INIT;
    char *want = st_xasprintf("Volume id: %s\n", label);
    assert_int_equal(run(&out, "isoinfo", "-d", "-i", iso, (char *) NULL), 0);
    if (!strstr(out.buf, want))
        fail_msg("no '%s' in isoinfo -d:\n%s", label, out.buf);
    assert_non_null(strstr(out.buf, "Rock Ridge signatures"));
    assert_non_null(strstr(out.buf, "Joliet with UCS level"));
    free(want);
    /* blkid is what ds-identify and cloud-init look labels up with */
    if (access("/usr/sbin/blkid", X_OK) == 0 || access("/sbin/blkid", X_OK) == 0) {
        st_buf_reset(&out);
        assert_int_equal(run(&out, "blkid", "-p", "-o", "export", iso, (char *) NULL), 0);
        want = st_xasprintf("LABEL=%s\n", label);
        if (!strstr(out.buf, want) || !strstr(out.buf, "TYPE=iso9660\n"))
            fail_msg("blkid -p says:\n%s", out.buf);
        free(want);
    }
    st_buf_release(&out);
}

static void t03_write_iso_nested(void **state)
{
    static const char binary[] = {'a', '\0', 'b', '\n', '\xff'};
    static const struct seed_file files[] = {
        {"top.txt", "top\n", 4},
        {"a/b/c/deep.bin", binary, sizeof(binary)},
        {"a/b/sibling", "s", 1},
        {"a/empty", "", 0},
        {"a/a-name-longer-than-thirty-one-characters.json", "{}", 2},
    };
    struct st_err err = ST_ERR_INIT;
    struct st_buf out = ST_BUF_INIT;
    char *dir = tmpdir(), *iso;
    (void) state;
    iso = st_xasprintf("%s/seed.iso", dir);
    if (seed_write_iso(iso, "cidata", files, ST_ARRAY_SIZE(files), &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(tu_mode(iso), 0600);
    assert_int_equal(tu_count_entries(dir), 1); /* no temporary file left */
    iso_check_volume(iso, "cidata");
    for (size_t i = 0; i < ST_ARRAY_SIZE(files); i++) {
        char *p = st_xasprintf("/%s", files[i].path);
        iso_file(iso, p, &out);
        assert_int_equal(out.len, files[i].len);
        assert_memory_equal(out.buf, files[i].data, files[i].len);
        free(p);
    }
    /* replaced in place */
    assert_int_equal(seed_write_iso(iso, "config-2", files, 1, &err), 0);
    iso_check_volume(iso, "config-2");
    assert_int_equal(tu_count_entries(dir), 1);
    st_buf_release(&out);
    tu_rmrf(dir);
    free(iso);
    free(dir);
}

static void t04_write_iso_refuses(void **state)
{
    static const char *const bad[] = {"", "/abs", "a//b", "../up", "a/./b", "a/..", "dir/"};
    struct st_err err = ST_ERR_INIT;
    char *dir = tmpdir(), *iso, *missing;
    (void) state;
    iso = st_xasprintf("%s/seed.iso", dir);
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        struct seed_file f = {bad[i], "x", 1};
        st_err_clear(&err);
        assert_int_equal(seed_write_iso(iso, "cidata", &f, 1, &err), -1);
        assert_true(st_err_is_set(&err));
    }
    {
        /* the same name twice, and a file used as a directory */
        struct seed_file twice[] = {{"x", "1", 1}, {"x", "2", 1}};
        struct seed_file clash[] = {{"x", "1", 1}, {"x/y", "2", 1}};
        st_err_clear(&err);
        assert_int_equal(seed_write_iso(iso, "cidata", twice, 2, &err), -1);
        st_err_clear(&err);
        assert_int_equal(seed_write_iso(iso, "cidata", clash, 2, &err), -1);
    }
    st_err_clear(&err);
    assert_int_equal(seed_write_iso(iso, "", NULL, 0, &err), -1);
    assert_int_equal(tu_count_entries(dir), 0);
    /* a directory that does not exist */
    missing = st_xasprintf("%s/no/such/dir/seed.iso", dir);
    st_err_clear(&err);
    assert_int_equal(seed_write_iso(missing, "cidata", NULL, 0, &err), -1);
    assert_true(err.sys_errno != 0);
    assert_int_equal(tu_count_entries(dir), 0);
    tu_rmrf(dir);
    free(missing);
    free(iso);
    free(dir);
}

/* seed_build for a NoCloud server: label cidata, the three files. */
static void t05_build_nocloud(void **state)
{
    struct model_desired *d = load_case("two-nics");
    struct model_server *s = &d->servers[0];
    struct st_err err = ST_ERR_INIT;
    struct st_buf out = ST_BUF_INIT, want = ST_BUF_INIT;
    char *dir = tmpdir(), *iso;
    (void) state;
    iso = st_xasprintf("%s/disk.seed", dir);
    if (seed_build(s, iso, &err) < 0)
        fail_msg("%s", err.msg);
    iso_check_volume(iso, "cidata");
    iso_file(iso, "/meta-data", &out);
    assert_int_equal(mdr_nocloud_meta_data(s, &want, &err), 0);
    assert_string_equal(out.buf, want.buf);
    iso_file(iso, "/network-config", &out);
    st_buf_reset(&want);
    assert_int_equal(mdr_nocloud_network_config(s, &want, &err), 0);
    assert_string_equal(out.buf, want.buf);
    iso_file(iso, "/user-data", &out); /* present, empty: NoCloud needs it */
    assert_int_equal(out.len, 0);

    /* with user data and without NICs: no network-config */
    s->user_data = (unsigned char *) st_xstrdup("#cloud-config\nhostname: x\n");
    s->user_data_len = strlen((char *) s->user_data);
    s->nnics = 0;
    assert_int_equal(seed_build(s, iso, &err), 0);
    iso_file(iso, "/user-data", &out);
    assert_string_equal(out.buf, "#cloud-config\nhostname: x\n");
    st_buf_reset(&out);
    assert_int_equal(run(&out, "isoinfo", "-i", iso, "-R", "-f", (char *) NULL), 0);
    assert_string_equal(out.buf, "/meta-data\n/user-data\n");
    st_buf_release(&out);
    st_buf_release(&want);
    model_desired_free(d);
    tu_rmrf(dir);
    free(iso);
    free(dir);
}

/* seed_build for a config drive: label config-2, both version directories,
 * a random seed of 512 bytes, user data only when given. */
static void t06_build_config_drive(void **state)
{
    static const char *const versions[] = {"latest", "2018-08-27"};
    struct model_desired *d = load_case("key-metadata-password");
    struct model_server *s = &d->servers[0];
    struct st_err err = ST_ERR_INIT;
    struct st_buf out = ST_BUF_INIT, want = ST_BUF_INIT, seed = ST_BUF_INIT;
    char *dir = tmpdir(), *iso;
    (void) state;
    s->config_drive = true;
    iso = st_xasprintf("%s/disk.config", dir);
    if (seed_build(s, iso, &err) < 0)
        fail_msg("%s", err.msg);
    iso_check_volume(iso, "config-2");
    for (size_t v = 0; v < ST_ARRAY_SIZE(versions); v++) {
        char *p = st_xasprintf("/openstack/%s/meta_data.json", versions[v]);
        json_error_t je;
        json_t *md;
        const char *rs;
        iso_file(iso, p, &out);
        md = json_loadb(out.buf, out.len, 0, &je);
        assert_non_null(md);
        assert_string_equal(json_string_value(json_object_get(md, "uuid")), s->id);
        assert_string_equal(json_string_value(json_object_get(md, "admin_pass")),
                            "s3cr3t-Pa55");
        rs = json_string_value(json_object_get(md, "random_seed"));
        assert_non_null(rs);
        st_buf_reset(&seed);
        assert_int_equal(st_base64_decode(rs, strlen(rs), &seed), 0);
        assert_int_equal(seed.len, 512);
        /* the rest is what the pure renderer writes */
        json_object_del(md, "random_seed");
        st_buf_reset(&want);
        assert_int_equal(configdrive_meta_data(s, &want, &err), 0);
        {
            json_t *w = json_loads(want.buf, 0, &je);
            assert_true(json_equal(md, w));
            json_decref(w);
        }
        json_decref(md);
        free(p);

        p = st_xasprintf("/openstack/%s/network_data.json", versions[v]);
        iso_file(iso, p, &out);
        st_buf_reset(&want);
        assert_int_equal(mdr_network_data(s, &want, &err), 0);
        assert_string_equal(out.buf, want.buf);
        free(p);
        p = st_xasprintf("/openstack/%s/user_data", versions[v]);
        iso_file(iso, p, &out);
        assert_int_equal(out.len, s->user_data_len);
        assert_memory_equal(out.buf, s->user_data, s->user_data_len);
        free(p);
        p = st_xasprintf("/openstack/%s/vendor_data.json", versions[v]);
        iso_file(iso, p, &out);
        assert_string_equal(out.buf, "{}\n");
        free(p);
        p = st_xasprintf("/openstack/%s/vendor_data2.json", versions[v]);
        iso_file(iso, p, &out);
        assert_string_equal(out.buf, "{}\n");
        free(p);
    }
    /* two builds, two seeds */
    {
        struct st_buf again = ST_BUF_INIT;
        json_error_t je;
        json_t *md;
        const char *rs;
        assert_int_equal(seed_build(s, iso, &err), 0);
        iso_file(iso, "/openstack/latest/meta_data.json", &out);
        md = json_loadb(out.buf, out.len, 0, &je);
        assert_non_null(md);
        rs = json_string_value(json_object_get(md, "random_seed"));
        assert_non_null(rs);
        assert_int_equal(st_base64_decode(rs, strlen(rs), &again), 0);
        assert_int_equal(again.len, 512);
        assert_memory_not_equal(again.buf, seed.buf, 512);
        json_decref(md);
        st_buf_release(&again);
    }
    /* no user data: no user_data file */
    free(s->user_data);
    s->user_data = NULL;
    s->user_data_len = 0;
    assert_int_equal(seed_build(s, iso, &err), 0);
    st_buf_reset(&out);
    assert_int_equal(run(&out, "isoinfo", "-i", iso, "-R", "-f", (char *) NULL), 0);
    assert_null(strstr(out.buf, "user_data"));
    assert_non_null(strstr(out.buf, "/openstack/2018-08-27/meta_data.json\n"));
    assert_non_null(strstr(out.buf, "/openstack/latest/network_data.json\n"));
    assert_int_equal(tu_count_entries(dir), 1);
    st_buf_release(&out);
    st_buf_release(&want);
    st_buf_release(&seed);
    model_desired_free(d);
    tu_rmrf(dir);
    free(iso);
    free(dir);
}

/* A seed that cannot be rendered is not written. */
static void t07_build_bad_model(void **state)
{
    struct model_desired *d = load_case("bad-host-route");
    struct st_err err = ST_ERR_INIT;
    char *dir = tmpdir(), *iso;
    (void) state;
    iso = st_xasprintf("%s/disk.seed", dir);
    assert_int_equal(seed_build(&d->servers[0], iso, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_int_equal(tu_count_entries(dir), 0);
    model_desired_free(d);
    tu_rmrf(dir);
    free(iso);
    free(dir);
}

#define DO_TEST(num, name) {"t" #num "_" name, run_case, NULL, NULL, &(struct scase){name, false}}
#define DO_TEST_FAIL(num, name)                                                                    \
    {"t" #num "_" name, run_case, NULL, NULL, &(struct scase){name, true}}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(t01_meta_data_through_pyyaml),
    cmocka_unit_test(t02_network_config_through_pyyaml),
    cmocka_unit_test(t03_write_iso_nested),
    cmocka_unit_test(t04_write_iso_refuses),
    cmocka_unit_test(t05_build_nocloud),
    cmocka_unit_test(t06_build_config_drive),
    cmocka_unit_test(t07_build_bad_model),
    DO_TEST(10, "minimal"),
    DO_TEST(11, "key-metadata-password"),
    DO_TEST(12, "two-nics"),
    DO_TEST(13, "ipv6"),
    DO_TEST(14, "yaml-special"),
    DO_TEST_FAIL(15, "bad-host-route"),
};

int main(void)
{
    static const struct tu_known_bug known_bugs[1];
    return tu_run("seed", tests, ST_ARRAY_SIZE(tests), known_bugs, 0);
}

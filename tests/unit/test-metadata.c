/*
 * test-metadata.c - the metadata service's pieces that need no daemon: the
 * trees of mdr_lookup() (src/metadata/render.c) against the config drive's
 * texts (one renderer), the proxy signature (src/metadata/sign.c) and the
 * shared secret made in the data directory (src/api/metadata.c).
 */
#include "testutil.h"

#include <jansson.h>
#include <sys/stat.h>

#include "agent/model.h"
#include "api/metadata.h"
#include "api/options.h"
#include "common/util.h"
#include "metadata/render.h"
#include "metadata/sign.h"
#include "common/banned.h"

/* Case 'name' of tests/data/seed as a model (server d->servers[0]). */
static struct model_desired *load_case(const char *name)
{
    struct st_err err = ST_ERR_INIT;
    json_error_t je;
    char *in = st_xasprintf("%s/tests/data/seed/%s.json", tu_srcdir(), name);
    json_t *doc = json_load_file(in, JSON_REJECT_DUPLICATES, &je);
    json_t *wrap;
    struct model_desired *d;
    if (!doc)
        fail_msg("%s:%d: %s", in, je.line, je.text);
    wrap = json_pack("{s:s, s:i, s:[O]}", "host", "h", "revision", 1, "servers",
                     json_object_get(doc, "server"));
    d = model_desired_parse(wrap, &err);
    if (!d)
        fail_msg("%s: %s", in, err.msg);
    json_decref(wrap);
    json_decref(doc);
    free(in);
    return d;
}

/* The body of 'path', or NULL (with '*kind' the error) when it fails. */
static char *get(const struct mdr_instance *in, const char *path, enum st_err_kind *kind)
{
    struct st_buf b = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    const char *ct;
    if (mdr_lookup(in, path, &b, &ct, &err) < 0) {
        st_buf_release(&b);
        if (kind)
            *kind = err.kind;
        return NULL;
    }
    return st_buf_detach(&b, NULL);
}

static void expect(const struct mdr_instance *in, const char *path, const char *want)
{
    char *have = get(in, path, NULL);
    if (!have)
        fail_msg("'%s' failed", path);
    if (strcmp(have, want))
        fail_msg("'%s': got '%s', want '%s'", path, have, want);
    free(have);
}

static void expect_404(const struct mdr_instance *in, const char *path)
{
    enum st_err_kind k = ST_ERR_NONE;
    char *have = get(in, path, &k);
    if (have)
        fail_msg("'%s' answered '%s'", path, have);
    assert_int_equal(k, ST_ERR_NOT_FOUND);
}

/* The OpenStack tree: the same meta_data.json and network_data.json as the
 * config drive, but no admin_pass; listings; user_data; the password. */
static void t01_openstack_tree(void **state)
{
    struct model_desired *d = load_case("key-metadata-password");
    const struct model_server *s = &d->servers[0];
    struct mdr_instance in = {.server = s, .local_ipv4 = "10.0.0.10"};
    struct st_buf want = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    char *md;
    (void) state;

    expect(&in, "openstack",
           "2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2016-10-06\n2017-02-22\n"
           "2018-08-27\nlatest");
    expect(&in, "openstack/latest",
           "meta_data.json\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json\n"
           "user_data");
    assert_int_equal(mdr_meta_data(s, NULL, false, &want, &err), 0);
    expect(&in, "openstack/latest/meta_data.json", want.buf);
    expect(&in, "openstack/2018-08-27/meta_data.json", want.buf);
    md = get(&in, "openstack/latest/meta_data.json", NULL);
    assert_null(strstr(md, "s3cr3t-Pa55"));
    assert_non_null(strstr(md, "alice@laptop"));
    free(md);
    st_buf_reset(&want);
    assert_int_equal(mdr_network_data(s, &want, &err), 0);
    expect(&in, "openstack/latest/network_data.json", want.buf);
    expect(&in, "openstack/latest/vendor_data.json", "{}\n");
    expect(&in, "openstack/latest/vendor_data2.json", "{}\n");
    expect(&in, "openstack/latest/user_data", "#cloud-config\npackages: [htop]\n");
    expect(&in, "openstack/latest/password", "");
    in.password = "posted";
    expect(&in, "openstack/latest/password", "posted");
    expect_404(&in, "openstack/2011-01-01/meta_data.json");
    expect_404(&in, "openstack/latest/nothing");
    expect_404(&in, "nothing");
    st_buf_release(&want);
    model_desired_free(d);
}

/* The EC2 tree: instance-id, hostname, local-ipv4, public-ipv4 only with a
 * floating IP, the key, user-data. */
static void t02_ec2_tree(void **state)
{
    struct model_desired *d = load_case("key-metadata-password");
    const struct model_server *s = &d->servers[0];
    struct mdr_instance in = {.server = s, .local_ipv4 = "10.0.0.10"};
    (void) state;

    expect(&in, "", "2009-04-04\nlatest");
    expect(&in, "latest", "meta-data/\nuser-data");
    expect(&in, "latest/meta-data",
           "ami-id\nami-launch-index\nhostname\ninstance-id\ninstance-type\nlocal-hostname\n"
           "local-ipv4\nplacement/\npublic-hostname\npublic-keys/\nreservation-id");
    expect(&in, "latest/meta-data/instance-id", "i-5b3c6a1e");
    expect(&in, "latest/meta-data/hostname", "vm1");
    expect(&in, "latest/meta-data/local-ipv4", "10.0.0.10");
    expect_404(&in, "latest/meta-data/public-ipv4");
    expect(&in, "latest/meta-data/public-keys", "0=k1");
    expect(&in, "latest/meta-data/public-keys/0", "openssh-key");
    expect(&in, "latest/meta-data/public-keys/0/openssh-key",
           "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbLf alice@laptop\n");
    expect(&in, "2009-04-04/user-data", "#cloud-config\npackages: [htop]\n");
    in.public_ipv4 = "203.0.113.5";
    expect(&in, "latest/meta-data/public-ipv4", "203.0.113.5");
    expect_404(&in, "2010-01-01/meta-data");
    model_desired_free(d);

    /* No key, no user data: neither is listed, both are 404. */
    d = load_case("minimal");
    in.server = &d->servers[0];
    in.public_ipv4 = NULL;
    expect(&in, "latest", "meta-data/");
    expect_404(&in, "latest/user-data");
    expect_404(&in, "openstack/latest/user_data");
    expect_404(&in, "latest/meta-data/public-keys/0/openssh-key");
    model_desired_free(d);
}

/* The signature: HMAC-SHA256 of "NETWORK ADDRESS" in hex (the value checked
 * with Python's hmac), refused when anything differs. */
static void t03_signature(void **state)
{
    static const char key[] = "k3y-of-the-proxies-0123456789";
    static const char net[] = "6e5d4c3b-2a19-4876-a5b4-c3d2e1f0a9b8";
    static const char want[] = "9fdeb87c0a64dfc7b04f76c3110291c6a81b45b83506cda73e809abc5666bc82";
    char sig[MDS_SIG_LEN + 1];
    (void) state;

    mds_sign(key, net, "10.0.0.10", sig);
    assert_string_equal(sig, want);
    assert_true(mds_verify(key, net, "10.0.0.10", want));
    assert_false(mds_verify(key, net, "10.0.0.11", want));
    assert_false(mds_verify(key, "6e5d4c3b-2a19-4876-a5b4-c3d2e1f0a9b9", "10.0.0.10", want));
    assert_false(mds_verify("another-key-0123456789", net, "10.0.0.10", want));
    sig[0] = sig[0] == '0' ? '1' : '0';
    assert_false(mds_verify(key, net, "10.0.0.10", sig));
    assert_false(mds_verify(key, net, "10.0.0.10", ""));
    assert_false(mds_verify(key, net, "10.0.0.10", NULL));
    assert_false(mds_verify(NULL, net, "10.0.0.10", want));
    assert_false(mds_verify("", net, "10.0.0.10", want));
    assert_false(mds_verify(key, NULL, "10.0.0.10", want));
    assert_false(mds_verify(key, net, NULL, want));
}

/* [metadata] shared_secret wins; else DATA_DIR/metadata_secret, made once
 * (0600) and read back the same. */
static void t04_secret(void **state)
{
    char *dir = tu_mkdtemp();
    char *file = st_xasprintf("%s/metadata_secret", dir);
    struct st_buf a = ST_BUF_INIT, b = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct cfg *cfg = controller_config(NULL, dir, NULL, &err);
    (void) state;

    assert_non_null(cfg);
    assert_int_equal(metadata_secret_load(cfg, &a, &err), 0);
    assert_int_equal(a.len, 43); /* 32 bytes in base64url */
    assert_int_equal(tu_mode(file), 0600);
    assert_int_equal(metadata_secret_load(cfg, &b, &err), 0);
    assert_string_equal(a.buf, b.buf);
    assert_int_equal(cfg_set(cfg, "metadata", "shared_secret", "from-the-config-file", &err), 0);
    st_buf_reset(&b);
    assert_int_equal(metadata_secret_load(cfg, &b, &err), 0);
    assert_string_equal(b.buf, "from-the-config-file");
    cfg_free(cfg);
    st_buf_release(&a);
    st_buf_release(&b);
    tu_rmrf(dir);
    free(file);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(t01_openstack_tree),
    cmocka_unit_test(t02_ec2_tree),
    cmocka_unit_test(t03_signature),
    cmocka_unit_test(t04_secret),
};

int main(void)
{
    static const struct tu_known_bug known_bugs[1];
    return tu_run("metadata", tests, ST_ARRAY_SIZE(tests), known_bugs, 0);
}

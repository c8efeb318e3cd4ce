/* test-nft.c - the nft renderers of the agent's network driver (nft.c):
 * golden files (STYLE §14) and the kernel's opinion of them.
 *
 * Each case is tests/data/nft/<case>.json, a desired state
 * (docs/agent-protocol.md); <case>.nft is nft_render_host() with zone i+1
 * for network i, then nft_render_router() of each router.  When the test
 * may create a network namespace (root), every batch is also applied there
 * with nft_apply() -- twice, since a pass re-applies a batch over its own
 * tables -- so that a rule the kernel refuses (a bridge-family "ct" on a
 * kernel without nf_conntrack_bridge, say) fails here, not on a host.
 * ST_TEST_REGENERATE=1 rewrites the golden files for review. */
#include "testutil.h"

#include "golden.h"

#include "agent/model.h"
#include "agent/nft.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

static struct model_desired *load(const char *name, json_t **doc)
{
    struct st_err err = ST_ERR_INIT;
    json_error_t je;
    char *in = tu_data_path("nft", name, "json");
    struct model_desired *d;
    *doc = json_load_file(in, JSON_REJECT_DUPLICATES, &je);
    if (!*doc)
        fail_msg("%s:%d: %s", in, je.line, je.text);
    d = model_desired_parse(*doc, &err);
    if (!d)
        fail_msg("%s: %s", in, err.msg);
    free(in);
    return d;
}

struct apply_args {
    const char *batch;
    struct st_err err;
};

static int apply_twice(void *opaque)
{
    struct apply_args *a = opaque;
    if (nft_apply(NULL, a->batch, &a->err) < 0 || nft_apply(NULL, a->batch, &a->err) < 0)
        return -1;
    return 0;
}

/* Applies 'batch' in a scratch namespace, when allowed. */
static void kernel_check(const char *what, const char *batch)
{
    struct apply_args a = {batch, ST_ERR_INIT};
    int rc = tu_scratch_netns(apply_twice, &a);
    if (rc == 1) {
        printf("# not root: %s not checked by the kernel\n", what);
        return;
    }
    if (rc != 0)
        fail_msg("%s: the kernel refuses it: %s", what, a.err.msg);
}

static void run_case(void **state)
{
    const char *name = *state;
    json_t *doc;
    struct model_desired *d = load(name, &doc);
    uint16_t *zones = st_xcalloc(d->nnetworks + 1, sizeof(*zones));
    struct st_buf all = ST_BUF_INIT, one = ST_BUF_INIT, again = ST_BUF_INIT;
    char *path = tu_data_path("nft", name, "nft");

    for (size_t i = 0; i < d->nnetworks; i++)
        zones[i] = (uint16_t) (i + 1);
    nft_render_host(d, zones, &one);
    /* Pure: the same model renders the same bytes. */
    nft_render_host(d, zones, &again);
    assert_string_equal(one.buf, again.buf);
    kernel_check("host batch", one.buf);
    st_buf_add(&all, one.buf, one.len);
    for (size_t i = 0; i < d->nrouters; i++) {
        st_buf_reset(&one);
        nft_render_router(&d->routers[i], &one);
        kernel_check("router batch", one.buf);
        st_buf_add(&all, one.buf, one.len);
    }
    tu_golden(path, all.buf, "test-nft");
    st_buf_release(&all);
    st_buf_release(&one);
    st_buf_release(&again);
    free(zones);
    free(path);
    model_desired_free(d);
    json_decref(doc);
}

/* The order of the controller's lists does not change the batch. */
static void t01_order_independent(void **state)
{
    json_t *doc, *ports;
    struct model_desired *a, *b;
    uint16_t zones[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct st_buf x = ST_BUF_INIT, y = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    a = load("basic", &doc);
    ports = json_object_get(doc, "ports");
    json_array_append(ports, json_array_get(ports, 0));
    json_array_remove(ports, 0);
    b = model_desired_parse(doc, &err);
    assert_non_null(b);
    nft_render_host(a, zones, &x);
    nft_render_host(b, zones, &y);
    assert_string_equal(x.buf, y.buf);
    st_buf_release(&x);
    st_buf_release(&y);
    model_desired_free(a);
    model_desired_free(b);
    json_decref(doc);
}

/* No port with port security: the batch only removes the tables. */
static void t02_no_ports(void **state)
{
    struct st_err err = ST_ERR_INIT;
    json_t *doc = json_pack("{s:s, s:i}", "host", "h", "revision", 1);
    struct model_desired *d = model_desired_parse(doc, &err);
    struct st_buf b = ST_BUF_INIT, t = ST_BUF_INIT;
    (void) state;
    assert_non_null(d);
    nft_render_host(d, NULL, &b);
    nft_render_host_teardown(&t);
    assert_non_null(strstr(b.buf, t.buf));
    assert_null(strstr(b.buf, "{"));
    kernel_check("empty host batch", b.buf);
    st_buf_release(&b);
    st_buf_release(&t);
    model_desired_free(d);
    json_decref(doc);
}

/* A batch the kernel refuses changes nothing, and says why. */
static int refused(void *opaque)
{
    struct st_err *err = opaque;
    struct st_buf out = ST_BUF_INIT;
    int rc = -1;
    if (nft_apply(NULL, "table inet stratus {\n\tchain c {\n\t}\n}\n", err) < 0)
        goto out;
    if (nft_apply(NULL,
                  "table inet stratus\ndelete table inet stratus\ntable inet stratus {\n"
                  "\tchain d {\n\t\tjump nowhere\n\t}\n}\n",
                  err) == 0) {
        st_err_set(err, ST_ERR_INTERNAL, "a jump to a missing chain was accepted");
        goto out;
    }
    if (!strstr(err->msg, "nftables refused the batch")) {
        st_err_set(err, ST_ERR_INTERNAL, "unexpected message");
        goto out;
    }
    st_err_clear(err);
    /* The old table is intact: chain c is still there. */
    if (nft_list(NULL, "list table inet stratus", &out, err) < 0)
        goto out;
    if (!strstr(out.buf, "chain c")) {
        st_err_set(err, ST_ERR_INTERNAL, "the failed batch changed the table: %s", out.buf);
        goto out;
    }
    rc = 0;
out:
    st_buf_release(&out);
    return rc;
}

static void t03_atomic(void **state)
{
    struct st_err err = ST_ERR_INIT;
    int rc;
    (void) state;
    rc = tu_scratch_netns(refused, &err);
    if (rc == 1) {
        printf("# not root: skipped\n");
        return;
    }
    if (rc != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(nft_list(NULL, "add table inet x", NULL, &err), -1);
}

#define DO_TEST(num, name) {"t" #num "_" name, run_case, NULL, NULL, (void *) name}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(t01_order_independent),
    cmocka_unit_test(t02_no_ports),
    cmocka_unit_test(t03_atomic),
    DO_TEST(10, "basic"),
    DO_TEST(11, "stateless"),
    DO_TEST(12, "router-no-snat"),
    DO_TEST(13, "big-group"),
};

static const struct tu_known_bug known_bugs[] = {};

int main(void)
{
    return TU_RUN("nft", tests, known_bugs);
}

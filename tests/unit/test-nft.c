/* test-nft.c - the nft rulesets of the agent's network driver (nft.c):
 * golden files (STYLE §14), the kernel's opinion of them, and the apply
 * side (differences, whole replaces, ownership).
 *
 * Each whole case is tests/data/nft/<case>.json, a desired state
 * (docs/agent-protocol.md); <case>.nft is the whole host batch with zone
 * i+1 for network i, then the whole batch of each router.  Each difference
 * case is {"before": DESIRED, "after": DESIRED}; <case>.nft is the host
 * difference, then each router's.  When the test may create a network
 * namespace (root), every whole batch is also applied there twice (a pass
 * re-applies a batch over its own tables), and every difference is applied
 * over the whole "before" and must leave the kernel with exactly what the
 * whole "after" gives, so that a rule or an order the kernel refuses fails
 * here, not on a host.  ST_TEST_REGENERATE=1 rewrites the golden files for
 * review. */
#include "testutil.h"

#include "golden.h"

#include "agent/model.h"
#include "agent/nft.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define HOST_A "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" /* the host of the data files */
#define HOST_B "9f8e7d6c-0000-4000-8000-000000000002"

static json_t *load_doc(const char *name)
{
    json_error_t je;
    char *in = tu_data_path("nft", name, "json");
    json_t *doc = json_load_file(in, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        fail_msg("%s:%d: %s", in, je.line, je.text);
    free(in);
    return doc;
}

static struct model_desired *parse(json_t *doc, const char *what)
{
    struct st_err err = ST_ERR_INIT;
    struct model_desired *d = model_desired_parse(doc, &err);
    if (!d)
        fail_msg("%s: %s", what, err.msg);
    return d;
}

static struct model_desired *load(const char *name, json_t **doc)
{
    *doc = load_doc(name);
    return parse(*doc, name);
}

/* Zone i+1 for network i (a new array). */
static uint16_t *zones_of(const struct model_desired *d)
{
    uint16_t *zones = st_xcalloc(d->nnetworks + 1, sizeof(*zones));
    for (size_t i = 0; i < d->nnetworks; i++)
        zones[i] = (uint16_t) (i + 1);
    return zones;
}

static struct nft_ruleset *host_rs(const struct model_desired *d)
{
    struct st_err err = ST_ERR_INIT;
    uint16_t *zones = zones_of(d);
    struct nft_ruleset *rs = nft_host_ruleset(d->host_id, d, zones, &err);
    if (!rs)
        fail_msg("%s", err.msg);
    free(zones);
    return rs;
}

static struct nft_ruleset *router_rs(const struct model_desired *d, size_t i)
{
    struct st_err err = ST_ERR_INIT;
    struct nft_ruleset *rs = nft_router_ruleset(d->host_id, &d->routers[i], &err);
    if (!rs)
        fail_msg("%s", err.msg);
    return rs;
}

static void whole(const struct nft_ruleset *rs, struct st_buf *out)
{
    st_buf_reset(out);
    nft_render_whole(rs, out);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The ruleset as nft lists it, with the elements of each set sorted: a
 * hash set lists in no fixed order. */
static void normalise(const char *in, struct st_buf *out)
{
    const char *p = in;
    while (*p) {
        size_t n = strcspn(p, "\n");
        const char *open = memmem(p, n, "elements = { ", 13);
        if (!open) {
            st_buf_add(out, p, n);
            st_buf_addch(out, '\n');
            p += n + (p[n] == '\n');
            continue;
        }
        /* Up to the closing brace, maybe lines further on. */
        const char *start = open + 13, *close = strchr(start, '}');
        char **items = NULL;
        size_t nitems = 0;
        if (!close)
            fail_msg("unbalanced elements in: %s", in);
        st_buf_add(out, p, (size_t) (start - p));
        for (const char *q = start; q < close;) {
            size_t len = strcspn(q, ",}");
            const char *a = q, *b = q + len;
            while (a < b && (*a == ' ' || *a == '\n' || *a == '\t'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\n' || b[-1] == '\t'))
                b--;
            items = st_xrealloc(items, (nitems + 1) * sizeof(*items));
            items[nitems++] = st_xasprintf("%.*s", (int) (b - a), a);
            q += len + (q[len] == ',');
        }
        qsort(items, nitems, sizeof(*items), cmp_str);
        for (size_t i = 0; i < nitems; i++) {
            st_buf_addf(out, "%s%s", i ? ", " : "", items[i]);
            free(items[i]);
        }
        free(items);
        st_buf_adds(out, " }");
        p = close + 1;
    }
}

struct apply_args {
    const char *batch, *second, *third;
    struct st_buf *listing;
    struct st_err err;
};

/* batch, then second (NULL: batch again); lists the ruleset into
 * 'listing'; then third, and lists again after a marker line. */
static int apply_list(void *opaque)
{
    struct apply_args *a = opaque;
    struct st_buf raw = ST_BUF_INIT;
    int rc = -1;
    if (nft_apply(NULL, a->batch, &a->err) < 0 ||
        nft_apply(NULL, a->second ? a->second : a->batch, &a->err) < 0)
        goto out;
    if (a->listing) {
        if (nft_list(NULL, "list ruleset", &raw, &a->err) < 0)
            goto out;
        normalise(raw.buf, a->listing);
    }
    if (a->third) {
        st_buf_reset(&raw);
        if (nft_apply(NULL, a->third, &a->err) < 0 ||
            nft_list(NULL, "list ruleset", &raw, &a->err) < 0)
            goto out;
        st_buf_adds(a->listing, "---- whole\n");
        normalise(raw.buf, a->listing);
    }
    rc = 0;
out:
    st_buf_release(&raw);
    return rc;
}

/* Applies 'batch' twice in a scratch namespace, when allowed. */
static void kernel_check(const char *what, const char *batch)
{
    struct apply_args a = {batch, NULL, NULL, NULL, ST_ERR_INIT};
    int rc = tu_scratch_netns(apply_list, &a);
    if (rc == 1) {
        printf("# not root: %s not checked by the kernel\n", what);
        return;
    }
    if (rc != 0)
        fail_msg("%s: the kernel refuses it: %s", what, a.err.msg);
}

/* 'before' whole then 'diff' must leave what 'after' whole leaves. */
static void kernel_check_diff(const char *what, const char *before, const char *diff,
                              const char *after)
{
    struct st_buf listing = ST_BUF_INIT;
    struct apply_args a = {before, diff, after, &listing, ST_ERR_INIT};
    const char *mark;
    int rc = tu_scratch_netns(apply_list, &a);
    if (rc == 1) {
        printf("# not root: %s not checked by the kernel\n", what);
        return;
    }
    if (rc != 0)
        fail_msg("%s: the kernel refuses it: %s", what, a.err.msg);
    mark = strstr(listing.buf, "---- whole\n");
    assert_non_null(mark);
    if (strlen(mark + strlen("---- whole\n")) != (size_t) (mark - listing.buf) ||
        strncmp(listing.buf, mark + strlen("---- whole\n"), (size_t) (mark - listing.buf)))
        fail_msg("%s: the difference leaves another ruleset than the whole batch:\n%s", what,
                 listing.buf);
    st_buf_release(&listing);
}

static void run_case(void **state)
{
    const char *name = *state;
    json_t *doc;
    struct model_desired *d = load(name, &doc);
    struct st_buf all = ST_BUF_INIT, one = ST_BUF_INIT, again = ST_BUF_INIT;
    char *path = tu_data_path("nft", name, "nft");
    struct nft_ruleset *rs = host_rs(d), *rs2 = host_rs(d);

    whole(rs, &one);
    /* Pure: the same model renders the same bytes. */
    whole(rs2, &again);
    assert_string_equal(one.buf, again.buf);
    assert_int_equal(nft_render_diff(rs, rs2, &again), 0);
    kernel_check("host batch", one.buf);
    st_buf_add(&all, one.buf, one.len);
    nft_ruleset_free(rs);
    nft_ruleset_free(rs2);
    for (size_t i = 0; i < d->nrouters; i++) {
        rs = router_rs(d, i);
        whole(rs, &one);
        kernel_check("router batch", one.buf);
        st_buf_add(&all, one.buf, one.len);
        nft_ruleset_free(rs);
    }
    tu_golden(path, all.buf, "test-nft");
    st_buf_release(&all);
    st_buf_release(&one);
    st_buf_release(&again);
    free(path);
    model_desired_free(d);
    json_decref(doc);
}

/* The host difference (and each router's) of a {"before", "after"} case,
 * into 'out'; checked by the kernel. */
static void case_diff(const char *name, struct st_buf *out)
{
    json_t *doc = load_doc(name);
    struct model_desired *a = parse(json_object_get(doc, "before"), name);
    struct model_desired *b = parse(json_object_get(doc, "after"), name);
    struct st_buf wa = ST_BUF_INIT, wb = ST_BUF_INIT, diff = ST_BUF_INIT;
    struct nft_ruleset *ra = host_rs(a), *rb = host_rs(b);

    int rc;

    assert_int_equal(a->nrouters, b->nrouters);
    rc = nft_render_diff(ra, rb, &diff);
    assert_true(rc >= 0);
    whole(ra, &wa);
    whole(rb, &wb);
    if (rc)
        kernel_check_diff("host difference", wa.buf, diff.buf, wb.buf);
    st_buf_add(out, diff.buf, diff.len);
    nft_ruleset_free(ra);
    nft_ruleset_free(rb);
    for (size_t i = 0; i < a->nrouters; i++) {
        ra = router_rs(a, i);
        rb = router_rs(b, i);
        st_buf_reset(&diff);
        rc = nft_render_diff(ra, rb, &diff);
        assert_true(rc >= 0);
        whole(ra, &wa);
        whole(rb, &wb);
        if (rc)
            kernel_check_diff("router difference", wa.buf, diff.buf, wb.buf);
        st_buf_add(out, diff.buf, diff.len);
        nft_ruleset_free(ra);
        nft_ruleset_free(rb);
    }
    st_buf_release(&wa);
    st_buf_release(&wb);
    st_buf_release(&diff);
    model_desired_free(a);
    model_desired_free(b);
    json_decref(doc);
}

static void run_diff_case(void **state)
{
    const char *name = *state;
    struct st_buf out = ST_BUF_INIT;
    char *path = tu_data_path("nft", name, "nft");
    case_diff(name, &out);
    tu_golden(path, out.buf, "test-nft");
    st_buf_release(&out);
    free(path);
}

/* Counts the lines of 'batch' that start with 'verb'. */
static size_t lines_starting(const char *batch, const char *verb)
{
    size_t n = 0, len = strlen(verb);
    for (const char *p = batch; *p;) {
        if (!strncmp(p, verb, len))
            n++;
        p += strcspn(p, "\n");
        p += *p == '\n';
    }
    return n;
}

/* The order of the controller's lists does not change the ruleset. */
static void t01_order_independent(void **state)
{
    json_t *doc, *ports;
    struct model_desired *a, *b;
    struct nft_ruleset *ra, *rb;
    struct st_buf x = ST_BUF_INIT, y = ST_BUF_INIT;
    (void) state;
    a = load("basic", &doc);
    ports = json_object_get(doc, "ports");
    json_array_append(ports, json_array_get(ports, 0));
    json_array_remove(ports, 0);
    b = parse(doc, "basic reordered");
    ra = host_rs(a);
    rb = host_rs(b);
    whole(ra, &x);
    whole(rb, &y);
    assert_string_equal(x.buf, y.buf);
    assert_int_equal(nft_render_diff(ra, rb, &x), 0);
    st_buf_release(&x);
    st_buf_release(&y);
    nft_ruleset_free(ra);
    nft_ruleset_free(rb);
    model_desired_free(a);
    model_desired_free(b);
    json_decref(doc);
}

/* No port with port security: the batch only removes the tables, of this
 * host's names. */
static void t02_no_ports(void **state)
{
    json_t *doc = json_pack("{s:s, s:s, s:i}", "host", "h", "host_id", HOST_A, "revision", 1);
    struct model_desired *d = parse(doc, "empty");
    struct nft_ruleset *rs = host_rs(d);
    struct st_buf b = ST_BUF_INIT, t = ST_BUF_INIT;
    (void) state;
    whole(rs, &b);
    nft_render_host_teardown(HOST_A, &t);
    assert_string_equal(b.buf, t.buf);
    assert_null(strstr(b.buf, "{"));
    assert_non_null(strstr(b.buf, "delete table bridge stratus-0a1b2c3d\n"));
    assert_non_null(strstr(b.buf, "delete table inet stratus-0a1b2c3d\n"));
    kernel_check("empty host batch", b.buf);
    st_buf_release(&b);
    st_buf_release(&t);
    nft_ruleset_free(rs);
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

/* fn(arg) in a scratch namespace; 'err' is what it fills. */
static void scratch(int (*fn)(void *), void *arg, struct st_err *err)
{
    int rc = tu_scratch_netns(fn, arg);
    if (rc == 1) {
        printf("# not root: skipped\n");
        return;
    }
    if (rc != 0)
        fail_msg("%s", err->msg);
}

static void t03_atomic(void **state)
{
    struct st_err err = ST_ERR_INIT;
    (void) state;
    scratch(refused, &err, &err);
    assert_int_equal(nft_list(NULL, "add table inet x", NULL, &err), -1);
}

/* Plugging a port adds elements only: no rule, no chain, nothing removed
 * (no RCU grace period, no re-validation of the chains). */
static void t04_plug_adds_elements_only(void **state)
{
    struct st_buf d = ST_BUF_INIT;
    (void) state;
    case_diff("diff-plug", &d);
    assert_int_equal(lines_starting(d.buf, "delete "), 0);
    assert_int_equal(lines_starting(d.buf, "flush "), 0);
    assert_int_equal(lines_starting(d.buf, "add rule "), 0);
    assert_int_equal(lines_starting(d.buf, "add chain "), 0);
    assert_true(lines_starting(d.buf, "add element ") > 0);
    st_buf_release(&d);
}

/* Unplugging deletes elements only. */
static void t05_unplug_deletes_elements_only(void **state)
{
    struct st_buf d = ST_BUF_INIT;
    (void) state;
    case_diff("diff-unplug", &d);
    assert_int_equal(lines_starting(d.buf, "add "), 0);
    assert_int_equal(lines_starting(d.buf, "flush "), 0);
    assert_int_equal(lines_starting(d.buf, "delete chain "), 0);
    assert_true(lines_starting(d.buf, "delete element ") > 0);
    st_buf_release(&d);
}

/* A rule added to a group refills that group's chain and nothing else. */
static void t06_group_rule_refills_its_chain(void **state)
{
    struct st_buf d = ST_BUF_INIT;
    (void) state;
    case_diff("diff-group-rule", &d);
    assert_int_equal(lines_starting(d.buf, "flush chain "), 1);
    assert_non_null(strstr(d.buf, "flush chain inet stratus-0a1b2c3d "
                                  "sg-0d3f2a1e-5b6c-4d7e-8f90-a1b2c3d4e5f6-ingress\n"));
    assert_int_equal(lines_starting(d.buf, "add element "), 0);
    assert_int_equal(lines_starting(d.buf, "delete "), 0);
    st_buf_release(&d);
}

/* A floating IP is two map elements. */
static void t07_floating_ip_adds_elements_only(void **state)
{
    struct st_buf d = ST_BUF_INIT;
    (void) state;
    case_diff("diff-floating-ip", &d);
    assert_int_equal(lines_starting(d.buf, "add element ip stratus "), 2);
    assert_int_equal(lines_starting(d.buf, "add rule "), 0);
    assert_int_equal(lines_starting(d.buf, "delete "), 0);
    st_buf_release(&d);
}

/* Rulesets of two hosts do not diff (the tables differ); a host id that
 * is not a UUID builds nothing. */
static void t08_shape_and_owner(void **state)
{
    json_t *doc;
    struct model_desired *d = load("basic", &doc);
    uint16_t *zones = zones_of(d);
    struct st_err err = ST_ERR_INIT;
    struct nft_ruleset *a = nft_host_ruleset(HOST_A, d, zones, &err);
    struct nft_ruleset *b = nft_host_ruleset(HOST_B, d, zones, &err);
    struct st_buf out = ST_BUF_INIT;
    (void) state;
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(nft_render_diff(a, b, &out), -1);
    assert_int_equal(out.len, 0);
    whole(b, &out);
    assert_non_null(strstr(out.buf, "add table bridge stratus-9f8e7d6c { comment \"stratus "
                                    "host " HOST_B ": "));
    assert_null(nft_host_ruleset("", d, zones, &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    assert_null(nft_router_ruleset("host1", &d->routers[0], &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_buf_release(&out);
    nft_ruleset_free(a);
    nft_ruleset_free(b);
    free(zones);
    model_desired_free(d);
    json_decref(doc);
}

/* A desired state without host id (an older controller): with no port
 * to protect there is nothing to manage and nothing fails; a host id
 * that is not a UUID is refused by the model. */
static void t11_no_host_id(void **state)
{
    struct st_err err = ST_ERR_INIT;
    json_t *doc = json_pack("{s:s, s:i}", "host", "h", "revision", 1);
    struct model_desired *d = parse(doc, "no host id");
    struct nft_ruleset *rs = nft_host_ruleset(d->host_id, d, NULL, &err);
    struct nft_state *st = nft_state_new(true);
    struct st_buf b = ST_BUF_INIT;
    enum nft_applied how = NFT_APPLIED_WHOLE;
    (void) state;
    assert_string_equal(d->host_id, "");
    assert_non_null(rs);
    assert_int_equal(nft_state_apply(st, NULL, rs, &how, &err), 0);
    assert_int_equal(how, NFT_APPLIED_NONE);
    nft_render_host_teardown("", &b);
    assert_int_equal(b.len, 0);
    assert_int_equal(nft_host_teardown("", NULL, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    json_object_set_new(doc, "host_id", json_string("not-a-uuid"));
    assert_null(model_desired_parse(doc, &err));
    assert_non_null(strstr(err.msg, "host_id"));
    json_object_set_new(doc, "host_id", json_string("0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"));
    model_desired_free(d);
    d = parse(doc, "upper-case host id");
    assert_string_equal(d->host_id, HOST_A);
    nft_state_free(st);
    model_desired_free(d);
    json_decref(doc);
}

/* ---- the apply side, in scratch namespaces ---- */

struct two {
    struct model_desired *small, *big; /* diff-plug's before and after */
    struct st_err err;
};

static int expect_how(struct nft_state *st, const struct model_desired *d, enum nft_applied want,
                      const char *what, struct st_err *err)
{
    enum nft_applied how;
    if (nft_state_apply(st, NULL, host_rs(d), &how, err) < 0)
        return -1;
    if (how != want) {
        st_err_set(err, ST_ERR_INTERNAL, "%s: applied %d, not %d", what, (int) how, (int) want);
        return -1;
    }
    return 0;
}

static int has_chain(const char *table, const char *chain)
{
    struct st_buf out = ST_BUF_INIT;
    char cmd[128];
    int rc;
    ST_IGNORE(st_snprintf(cmd, sizeof(cmd), "list chain %s %s", table, chain));
    rc = nft_list(NULL, cmd, &out, NULL) == 0;
    st_buf_release(&out);
    return rc;
}

static int state_run(void *opaque)
{
    struct two *t = opaque;
    struct nft_state *st = nft_state_new(true);
    struct st_err *err = &t->err;
    int rc = -1;
    if (expect_how(st, t->small, NFT_APPLIED_WHOLE, "first", err) < 0 ||
        expect_how(st, t->small, NFT_APPLIED_NONE, "again", err) < 0 ||
        expect_how(st, t->big, NFT_APPLIED_DIFF, "plug", err) < 0 ||
        expect_how(st, t->small, NFT_APPLIED_DIFF, "unplug", err) < 0)
        goto out;
    /* Another agent's commit elsewhere in the namespace: whole again. */
    if (nft_apply(NULL, "add table inet someone_else\n", err) < 0 ||
        expect_how(st, t->big, NFT_APPLIED_WHOLE, "after a foreign commit", err) < 0)
        goto out;
    /* A chain of ours deleted by hand comes back. */
    if (nft_apply(NULL, "delete chain inet stratus-0a1b2c3d to_ports\n", err) < 0)
        goto out;
    if (has_chain("inet stratus-0a1b2c3d", "to_ports")) {
        st_err_set(err, ST_ERR_INTERNAL, "the chain was not deleted");
        goto out;
    }
    if (expect_how(st, t->big, NFT_APPLIED_WHOLE, "after a deletion by hand", err) < 0)
        goto out;
    if (!has_chain("inet stratus-0a1b2c3d", "to_ports")) {
        st_err_set(err, ST_ERR_INTERNAL, "the chain deleted by hand is not back");
        goto out;
    }
    /* The other table is not ours: untouched. */
    if (nft_list(NULL, "list table inet someone_else", NULL, err) < 0)
        goto out;
    /* The same state given the tables of another host id with the same
     * first 8 digits: it checks again, and refuses. */
    {
        uint16_t zones[4] = {1, 2, 3, 4};
        enum nft_applied how;
        struct nft_ruleset *other =
            nft_host_ruleset("0a1b2c3d-ffff-4fff-8fff-ffffffffffff", t->big, zones, err);
        if (!other || nft_state_apply(st, NULL, other, &how, err) == 0 ||
            err->kind != ST_ERR_CONFLICT) {
            st_err_set(err, ST_ERR_INTERNAL, "the tables of another host id were replaced");
            goto out;
        }
        st_err_clear(err);
    }
    if (!has_chain("inet stratus-0a1b2c3d", "to_ports")) {
        st_err_set(err, ST_ERR_INTERNAL, "a refused replace changed the tables");
        goto out;
    }
    rc = 0;
out:
    nft_state_free(st);
    return rc;
}

static void t09_state_diff_and_whole(void **state)
{
    json_t *doc = load_doc("diff-plug");
    struct two t = {parse(json_object_get(doc, "before"), "before"),
                    parse(json_object_get(doc, "after"), "after"), ST_ERR_INIT};
    (void) state;
    scratch(state_run, &t, &t.err);
    model_desired_free(t.small);
    model_desired_free(t.big);
    json_decref(doc);
}

/* Host B's tables in the namespace of host A; a table of A's name that
 * another comment claims. */
static int owners_run(void *opaque)
{
    struct two *t = opaque;
    struct st_err *err = &t->err;
    struct nft_state *sa = nft_state_new(true), *sb = nft_state_new(true);
    uint16_t zones[4] = {1, 2, 3, 4};
    struct nft_ruleset *rb = nft_host_ruleset(HOST_B, t->small, zones, err);
    struct st_buf out = ST_BUF_INIT;
    enum nft_applied how;
    int rc = -1;

    if (!rb || nft_state_apply(sb, NULL, rb, &how, err) < 0 ||
        nft_state_apply(sa, NULL, host_rs(t->big), &how, err) < 0)
        goto out;
    /* A's teardown leaves B's tables alone. */
    if (nft_host_teardown(HOST_A, NULL, err) < 0)
        goto out;
    if (has_chain("inet stratus-0a1b2c3d", "to_ports") ||
        !has_chain("inet stratus-9f8e7d6c", "to_ports") ||
        !has_chain("bridge stratus-9f8e7d6c", "port_check")) {
        st_err_set(err, ST_ERR_INTERNAL, "teardown of host A touched the wrong tables");
        goto out;
    }
    /* A table named as A's but with another comment: A refuses to
     * replace or remove it. */
    if (nft_apply(NULL,
                  "add table inet stratus-0a1b2c3d { comment \"stratus host "
                  "0a1b2c3d-ffff-4fff-8fff-ffffffffffff: not A\"; }\n"
                  "add chain inet stratus-0a1b2c3d keep\n",
                  err) < 0)
        goto out;
    nft_state_free(sa);
    sa = nft_state_new(true);
    if (nft_state_apply(sa, NULL, host_rs(t->big), &how, err) == 0 ||
        err->kind != ST_ERR_CONFLICT) {
        st_err_set(err, ST_ERR_INTERNAL, "a table of another owner was replaced");
        goto out;
    }
    st_err_clear(err);
    if (nft_host_teardown(HOST_A, NULL, err) == 0 || err->kind != ST_ERR_CONFLICT) {
        st_err_set(err, ST_ERR_INTERNAL, "a table of another owner was removed");
        goto out;
    }
    st_err_clear(err);
    if (!has_chain("inet stratus-0a1b2c3d", "keep")) {
        st_err_set(err, ST_ERR_INTERNAL, "the other owner's table was changed");
        goto out;
    }
    rc = 0;
out:
    nft_state_free(sa);
    nft_state_free(sb);
    st_buf_release(&out);
    return rc;
}

static void t10_ownership(void **state)
{
    json_t *doc = load_doc("diff-plug");
    struct two t = {parse(json_object_get(doc, "before"), "before"),
                    parse(json_object_get(doc, "after"), "after"), ST_ERR_INIT};
    (void) state;
    scratch(owners_run, &t, &t.err);
    model_desired_free(t.small);
    model_desired_free(t.big);
    json_decref(doc);
}

#define DO_TEST(num, name) {"t" #num "_" name, run_case, NULL, NULL, (void *) name}
#define DO_DIFF(num, name) {"t" #num "_" name, run_diff_case, NULL, NULL, (void *) name}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(t01_order_independent),
    cmocka_unit_test(t02_no_ports),
    cmocka_unit_test(t03_atomic),
    cmocka_unit_test(t04_plug_adds_elements_only),
    cmocka_unit_test(t05_unplug_deletes_elements_only),
    cmocka_unit_test(t06_group_rule_refills_its_chain),
    cmocka_unit_test(t07_floating_ip_adds_elements_only),
    cmocka_unit_test(t08_shape_and_owner),
    cmocka_unit_test(t09_state_diff_and_whole),
    cmocka_unit_test(t10_ownership),
    cmocka_unit_test(t11_no_host_id),
    DO_TEST(20, "basic"),
    DO_TEST(21, "stateless"),
    DO_TEST(22, "router-no-snat"),
    DO_TEST(23, "big-group"),
    DO_DIFF(30, "diff-plug"),
    DO_DIFF(31, "diff-unplug"),
    DO_DIFF(32, "diff-group-rule"),
    DO_DIFF(33, "diff-plug-prefix-pair"),
    DO_DIFF(34, "diff-floating-ip"),
};

static const struct tu_known_bug known_bugs[] = {};

int main(void)
{
    return TU_RUN("nft", tests, known_bugs);
}

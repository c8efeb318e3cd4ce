/* test-flavor.c - compute/flavor.h: Nova's extra spec validators (2.86),
 * the checks of a create request, and the visibility rule of private
 * flavors against a real (SQLite) store. */
#include "testutil.h"

#include "common/json.h"
#include "common/util.h"
#include "compute/flavor.h"
#include "store/store.h"
#include "common/banned.h"

static void t01_spec_validate(void **state)
{
    static const char *const good[][2] = {
        {"hw:cpu_sockets", "2"},          {"hw:cpu_policy", "dedicated"},
        {"hw:mem_page_size", "2MB"},      {"hw:mem_page_size", "large"},
        {"hw:numa_cpus.0", "0-3,^2"},     {"hw:numa_mem.1", "1024"},
        {"hw_rng:allowed", "True"},       {"hw_video:ram_max_mb", "64"},
        {"quota:cpu_quota", "-1"},        {"quota:vif_inbound_peak", "100"},
        {"resources:VCPU", "1"},          {"resources1:CUSTOM_GPU", "2"},
        {"trait:HW_CPU_X86_AVX", "required"}, {"trait_g:CUSTOM_X", "forbidden"},
        {"aggregate_instance_extra_specs:ssd", "true"},
        {"capabilities:cpu_info:arch", "x86_64"}, {"capabilities:host", "h1"},
        {"pci_passthrough:alias", "a:1, b:2"},    {"os:secure_boot", "required"},
        {"accel:device_profile", "p"},    {"group_policy", "isolate"},
        {"mine:anything", "goes"},        {"no_namespace", "free"},
        {"hw:redirected_usb_ports", "15"},
    };
    static const char *const bad[][3] = {
        {"hw:cpu_sockets", "two", "is not a valid integer value"},
        {"hw:cpu_sockets", "0", "is less than the min value of '1'"},
        {"hw:redirected_usb_ports", "16", "is greater than the max value of '15'"},
        {"hw:cpu_policy", "bogus", "is not one of: dedicated, shared, mixed"},
        {"hw:mem_page_size", "huge", "is not of the format"},
        {"hw:numa_cpus.0", "0-", "is not of the format"},
        {"hw_rng:allowed", "maybe", "is not a valid boolean-like value"},
        {"hw:no_such_key", "1", "does not appear to be a valid extra spec"},
        {"quota:nope", "1", "does not appear to be a valid extra spec"},
        {"resources:NOT_A_CLASS", "1", "does not appear to be a valid extra spec"},
        {"trait:HW_NOT_A_TRAIT", "required", "does not appear to be a valid extra spec"},
        {"trait:HW_CPU_X86_AVX", "wanted", "is not one of: required, forbidden"},
        {"pci_passthrough:alias", "a", "is not of the format"},
        {"group_policy", "all", "is not one of: isolate, none"},
    };
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(good); i++) {
        struct st_err err = ST_ERR_INIT;
        if (flavor_spec_validate(good[i][0], good[i][1], &err) < 0)
            fail_msg("%s=%s refused: %s", good[i][0], good[i][1], err.msg);
    }
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        struct st_err err = ST_ERR_INIT;
        if (flavor_spec_validate(bad[i][0], bad[i][1], &err) == 0)
            fail_msg("%s=%s accepted", bad[i][0], bad[i][1]);
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
        if (!strstr(err.msg, bad[i][2]))
            fail_msg("%s=%s: '%s' lacks '%s'", bad[i][0], bad[i][1], err.msg, bad[i][2]);
    }
}

static void t02_spec_check(void **state)
{
    struct st_err err = ST_ERR_INIT;
    json_t *out, *v;
    (void) state;
    v = json_integer(5);
    assert_int_equal(flavor_spec_check("a", v, &out, &err), 0);
    assert_string_equal(json_string_value(out), "5");
    json_decref(out);
    json_decref(v);
    v = json_real(1.5);
    assert_int_equal(flavor_spec_check("a", v, &out, &err), 0);
    assert_string_equal(json_string_value(out), "1.5");
    json_decref(out);
    json_decref(v);
    v = json_true();
    assert_int_equal(flavor_spec_check("a", v, &out, &err), -1);
    st_err_clear(&err);
    v = json_string("x");
    assert_int_equal(flavor_spec_check("bad/key", v, &out, &err), -1);
    st_err_clear(&err);
    assert_int_equal(flavor_spec_check("", v, &out, &err), -1);
    json_decref(v);
}

/* ---- the store ------------------------------------------------------------ */

struct db {
    char *dir;
    struct store *st;
    struct store_conn *c;
};

static int db_setup(void **state)
{
    struct db *d = calloc(1, sizeof(*d));
    struct st_err err = ST_ERR_INIT;
    char path[4096];
    d->dir = tu_mkdtemp();
    assert_non_null(d->dir);
    snprintf(path, sizeof(path), "%s/db", d->dir);
    d->st = store_open(path, 1, &err);
    assert_non_null(d->st);
    assert_true(store_migrate(d->st, &err) >= 0);
    d->c = store_acquire(d->st, &err);
    assert_non_null(d->c);
    *state = d;
    return 0;
}

static int db_teardown(void **state)
{
    struct db *d = *state;
    store_release(d->st, d->c);
    store_close(d->st);
    tu_rmrf(d->dir);
    free(d->dir);
    free(d);
    return 0;
}

static void user(struct auth_ctx *ctx, const char *project, const char *role)
{
    memset(ctx, 0, sizeof(*ctx));
    snprintf(ctx->user_id, sizeof(ctx->user_id), "u-%s", project);
    snprintf(ctx->project_id, sizeof(ctx->project_id), "%s", project);
    ctx->project_scoped = true;
    ctx->nroles = 1;
    snprintf(ctx->roles[0].name, sizeof(ctx->roles[0].name), "%s", role);
    policy_set_flags(ctx);
}

static json_t *parse(const char *text)
{
    struct st_err err = ST_ERR_INIT;
    json_t *j = st_json_parse(text, strlen(text), &err);
    assert_non_null(j);
    return j;
}

static size_t count(struct store_conn *c, const struct auth_ctx *ctx)
{
    struct flavor_query q;
    struct st_err err = ST_ERR_INIT;
    json_t *arr;
    size_t n;
    flavor_query_init(&q);
    arr = flavor_list(c, ctx, &q, &err);
    assert_non_null(arr);
    n = json_array_size(arr);
    json_decref(arr);
    return n;
}

static void t03_bootstrap_idempotent(void **state)
{
    struct db *d = *state;
    struct st_err err = ST_ERR_INIT;
    struct auth_ctx admin;
    json_t *f;
    user(&admin, "admin", "admin");
    assert_int_equal(flavor_bootstrap(d->c, &err), 6);
    assert_int_equal(flavor_bootstrap(d->c, &err), 0);
    f = flavor_get(d->c, &admin, "42", &err);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "name")), "tiny");
    assert_int_equal(json_integer_value(json_object_get(f, "ram")), 128);
    json_decref(f);
    assert_int_equal(count(d->c, &admin), 6);
}

static void t04_private_visibility(void **state)
{
    struct db *d = *state;
    struct st_err err = ST_ERR_INIT;
    struct auth_ctx admin, demo, other, nobody;
    json_t *in, *f, *acc;

    user(&admin, "admin", "admin");
    user(&demo, "demo", "member");
    user(&other, "other", "member");
    user(&nobody, "demo", "custom"); /* on demo, but not even a reader */
    in = parse("{\"name\": \"p\", \"ram\": 64, \"vcpus\": 1, \"disk\": 1, \"id\": \"p1\","
               " \"os-flavor-access:is_public\": false}");
    assert_null(flavor_create(d->c, &demo, in, false, &err));
    assert_int_equal(err.kind, ST_ERR_FORBIDDEN);
    st_err_clear(&err);
    f = flavor_create(d->c, &admin, in, false, &err);
    assert_non_null(f);
    json_decref(f);
    json_decref(in);

    assert_null(flavor_get(d->c, &demo, "p1", &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);
    acc = flavor_access_add(d->c, &admin, "p1", "demo", true, &err);
    assert_int_equal(json_array_size(acc), 1);
    json_decref(acc);
    assert_null(flavor_access_add(d->c, &admin, "p1", "demo", true, &err));
    assert_int_equal(err.kind, ST_ERR_CONFLICT);
    st_err_clear(&err);

    f = flavor_get(d->c, &demo, "p1", &err);
    assert_non_null(f);
    assert_non_null(json_object_get(f, "extra_specs")); /* a member reads specs */
    json_decref(f);
    f = flavor_get(d->c, &nobody, "p1", &err);
    assert_non_null(f);
    assert_null(json_object_get(f, "extra_specs")); /* not a reader */
    json_decref(f);
    assert_null(flavor_get(d->c, &other, "p1", &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    st_err_clear(&err);
    assert_int_equal(count(d->c, &demo), 1);
    assert_int_equal(count(d->c, &other), 0);
    assert_null(flavor_access_list(d->c, &demo, "p1", &err));
    assert_int_equal(err.kind, ST_ERR_FORBIDDEN);
    st_err_clear(&err);

    acc = flavor_access_remove(d->c, &admin, "p1", "demo", &err);
    assert_int_equal(json_array_size(acc), 0);
    json_decref(acc);
    assert_null(flavor_get(d->c, &demo, "p1", &err));
    st_err_clear(&err);
    assert_int_equal(flavor_delete(d->c, &admin, "p1", &err), 0);
    assert_int_equal(flavor_delete(d->c, &admin, "p1", &err), -1);
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
}

static void t05_create_checks(void **state)
{
    struct db *d = *state;
    struct auth_ctx admin;
    static const char *const bad[] = {
        "{\"name\": \"x\", \"ram\": 0, \"vcpus\": 1, \"disk\": 1}",
        "{\"name\": \"x\", \"ram\": \"-1\", \"vcpus\": 1, \"disk\": 1}",
        "{\"name\": \"x\", \"ram\": 1, \"vcpus\": 1, \"disk\": -1}",
        "{\"name\": \"x\", \"ram\": 2147483648, \"vcpus\": 1, \"disk\": 1}",
        "{\"name\": \"x\", \"ram\": 1, \"vcpus\": 1}",
        "{\"name\": \" x\", \"ram\": 1, \"vcpus\": 1, \"disk\": 1}",
        "{\"name\": \"\", \"ram\": 1, \"vcpus\": 1, \"disk\": 1}",
        "{\"name\": \"x\", \"ram\": 1, \"vcpus\": 1, \"disk\": 1, \"rxtx_factor\": 0}",
        "{\"name\": \"x\", \"ram\": 1, \"vcpus\": 1, \"disk\": 1, \"id\": \"a/b\"}",
        "{\"name\": \"x\", \"ram\": 1, \"vcpus\": 1, \"disk\": 1, \"swap\": true}",
        "{\"name\": \"x\", \"ram\": 1, \"vcpus\": 1, \"disk\": 1, \"description\": \"d\"}",
        "{\"name\": \"x\", \"ram\": 1, \"vcpus\": 1, \"disk\": 1, \"extra\": 1}",
    };
    user(&admin, "admin", "admin");
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        struct st_err err = ST_ERR_INIT;
        json_t *in = parse(bad[i]);
        json_t *f = flavor_create(d->c, &admin, in, false, &err);
        if (f)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
        json_decref(in);
    }
    assert_int_equal(count(d->c, &admin), 0);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_spec_validate),
        cmocka_unit_test(t02_spec_check),
        cmocka_unit_test_setup_teardown(t03_bootstrap_idempotent, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(t04_private_visibility, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(t05_create_checks, db_setup, db_teardown),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("flavor", tests, known_bugs);
}

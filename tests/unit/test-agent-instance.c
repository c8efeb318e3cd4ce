/* test-agent-instance.c - instance directories (src/agent/instance.c): paths
 * derived from the server id only, the state file's round trip and its
 * failure modes, listing and removal, and the console log tail. */
#include "testutil.h"

#include "agent/instance.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define UUID1 "5b3c1a2e-0000-4000-8000-000000000001"
#define UUID2 "5b3c1a2e-0000-4000-8000-000000000002"

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void t01_paths_from_the_id(void **state)
{
    struct st_err err = ST_ERR_INIT;
    struct instance *inst;
    (void) state;
    inst = instance_new("/srv/inst/", UUID1, &err);
    assert_non_null(inst);
    assert_string_equal(instance_id(inst), UUID1);
    assert_string_equal(instance_path(inst, INSTANCE_DIR), "/srv/inst/" UUID1);
    assert_string_equal(instance_path(inst, INSTANCE_DISK), "/srv/inst/" UUID1 "/disk");
    assert_string_equal(instance_path(inst, INSTANCE_DISK_LOCAL), "/srv/inst/" UUID1 "/disk.local");
    assert_string_equal(instance_path(inst, INSTANCE_DISK_SWAP), "/srv/inst/" UUID1 "/disk.swap");
    assert_string_equal(instance_path(inst, INSTANCE_DISK_CONFIG),
                        "/srv/inst/" UUID1 "/disk.config");
    assert_string_equal(instance_path(inst, INSTANCE_DISK_SEED), "/srv/inst/" UUID1 "/disk.seed");
    assert_string_equal(instance_path(inst, INSTANCE_CONSOLE_LOG),
                        "/srv/inst/" UUID1 "/console.log");
    assert_string_equal(instance_path(inst, INSTANCE_DOMAIN_XML), "/srv/inst/" UUID1 "/domain.xml");
    assert_string_equal(instance_path(inst, INSTANCE_STATE), "/srv/inst/" UUID1 "/state.json");
    assert_null(instance_path(inst, INSTANCE_FILE__COUNT));
    assert_int_equal(instance_seed_file(true), INSTANCE_DISK_CONFIG);
    assert_int_equal(instance_seed_file(false), INSTANCE_DISK_SEED);
    instance_free(inst);
    instance_free(NULL);

    /* The 32-hex form is a UUID too. */
    inst = instance_new("/srv/inst", "5b3c1a2e000040008000000000000001", &err);
    assert_non_null(inst);
    assert_string_equal(instance_path(inst, INSTANCE_DISK),
                        "/srv/inst/5b3c1a2e000040008000000000000001/disk");
    instance_free(inst);
}

static void t02_ids_that_are_not_uuids_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "..",
        "../" UUID1,
        UUID1 "/..",
        "vm1",
        "5b3c1a2e-0000-4000-8000-00000000000g",
        "5b3c1a2e-0000-4000-8000-0000000000011",
        "/etc",
        UUID1 "\n",
    };
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        struct st_err err = ST_ERR_INIT;
        assert_null(instance_new("/srv/inst", bad[i], &err));
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    }
    {
        struct st_err err = ST_ERR_INIT;
        assert_null(instance_new("/srv/inst", NULL, &err));
        assert_true(st_err_is_set(&err));
    }
    {
        struct st_err err = ST_ERR_INIT;
        assert_null(instance_new("relative/path", UUID1, &err));
        assert_true(st_err_is_set(&err));
    }
}

static void t03_state_json_round_trip(void **state)
{
    struct instance_state a, b;
    struct model_flavor f = {
        .vcpus = 2, .ram_mb = 512, .disk_gb = 10, .ephemeral_gb = 1, .swap_mb = 256};
    struct st_err err = ST_ERR_INIT;
    json_t *doc;
    (void) state;
    memset(&a, 0, sizeof(a));
    memcpy(f.id, "m1.small", 9);
    a.disk_generation = 7;
    memcpy(a.image_id, UUID2, sizeof(UUID2));
    instance_state_set_flavor(&a, &f);
    a.resize_backup = true;
    a.rescued = true;
    doc = instance_state_to_json(&a);
    assert_int_equal(instance_state_from_json(doc, &b, &err), 0);
    json_decref(doc);
    assert_int_equal(b.disk_generation, 7);
    assert_string_equal(b.image_id, UUID2);
    assert_string_equal(b.flavor.id, "m1.small");
    assert_int_equal(b.flavor.vcpus, 2);
    assert_int_equal(b.flavor.ram_mb, 512);
    assert_int_equal(b.flavor.disk_gb, 10);
    assert_int_equal(b.flavor.ephemeral_gb, 1);
    assert_int_equal(b.flavor.swap_mb, 256);
    assert_true(b.resize_backup);
    assert_true(b.rescued);
    assert_true(instance_state_flavor_is(&b, &f));
    f.ram_mb = 1024;
    assert_false(instance_state_flavor_is(&b, &f));

    /* Nothing applied yet: no flavor, and no flavor matches. */
    memset(&a, 0, sizeof(a));
    doc = instance_state_to_json(&a);
    assert_true(json_is_null(json_object_get(doc, "flavor")));
    assert_int_equal(instance_state_from_json(doc, &b, &err), 0);
    json_decref(doc);
    assert_string_equal(b.flavor.id, "");
    assert_false(instance_state_flavor_is(&b, &f));
}

static void t04_state_json_invalid(void **state)
{
    static const char *const bad[] = {
        "[]",
        "{}",
        "{\"version\": 2, \"disk_generation\": 1}",
        "{\"version\": 1, \"disk_generation\": -1}",
        "{\"version\": 1, \"disk_generation\": \"one\"}",
        "{\"version\": 1, \"disk_generation\": 1, \"image_id\": \"../x\"}",
        "{\"version\": 1, \"disk_generation\": 1, \"rescued\": 1}",
        "{\"version\": 1, \"disk_generation\": 1, \"flavor\": {\"id\": \"f\"}}",
        /* Parenthesised: one literal on two lines, not a missing comma. */
        ("{\"version\": 1, \"disk_generation\": 1, \"flavor\": {\"id\": \"\", \"vcpus\": 1, "
         "\"ram\": 1, \"disk\": 0, \"ephemeral\": 0, \"swap\": 0}}"),
        "{\"version\": 1, \"disk_generation\": 1, \"flavor\": 3}",
    };
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        struct st_err err = ST_ERR_INIT;
        struct instance_state st;
        json_t *doc = json_loads(bad[i], 0, NULL);
        assert_non_null(doc);
        if (instance_state_from_json(doc, &st, &err) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_true(st_err_is_set(&err));
        json_decref(doc);
    }
}

static void t05_state_file(void **state)
{
    char *dir = tu_mkdtemp();
    struct st_err err = ST_ERR_INIT;
    struct instance *inst;
    struct instance_state st, got;
    (void) state;
    assert_non_null(dir);
    inst = instance_new(dir, UUID1, &err);
    assert_non_null(inst);
    assert_false(instance_exists(inst));

    /* No directory and no file: nothing built yet, not an error. */
    assert_int_equal(instance_state_load(inst, &got, &err), 0);
    assert_int_equal(got.disk_generation, 0);

    assert_int_equal(instance_mkdir(inst, &err), 0);
    assert_int_equal(instance_mkdir(inst, &err), 0); /* again: fine */
    assert_true(instance_exists(inst));
    assert_int_equal(tu_mode(instance_path(inst, INSTANCE_DIR)), 0755);
    memset(&st, 0, sizeof(st));
    st.disk_generation = 3;
    st.rescued = true;
    assert_int_equal(instance_state_save(inst, &st, &err), 0);
    assert_int_equal(instance_state_load(inst, &got, &err), 0);
    assert_int_equal(got.disk_generation, 3);
    assert_true(got.rescued);
    /* Only the file itself: the temporary name is gone. */
    assert_int_equal(tu_count_entries(instance_path(inst, INSTANCE_DIR)), 1);

    /* A damaged file is an error, never "nothing built". */
    write_text(instance_path(inst, INSTANCE_STATE), "{\"version\": 1, \"disk_gen", 24);
    assert_int_equal(instance_state_load(inst, &got, &err), -1);
    assert_true(st_err_is_set(&err));
    assert_non_null(strstr(err.msg, "state.json"));

    instance_free(inst);
    tu_rmrf(dir);
    free(dir);
}

static void t06_list_and_remove(void **state)
{
    char *dir = tu_mkdtemp();
    struct st_err err = ST_ERR_INIT;
    struct instance *a, *b;
    char **ids = NULL;
    size_t n = 0;
    char path[4096];
    (void) state;
    assert_non_null(dir);

    /* A missing instances path lists nothing. */
    assert_int_equal(snprintf(path, sizeof(path), "%s/none", dir) > 0, 1);
    assert_int_equal(instance_list(path, &ids, &n, &err), 0);
    assert_int_equal(n, 0);

    a = instance_new(dir, UUID1, &err);
    b = instance_new(dir, UUID2, &err);
    assert_int_equal(instance_mkdir(a, &err), 0);
    assert_int_equal(instance_mkdir(b, &err), 0);
    write_text(instance_path(a, INSTANCE_DISK), "x", 1);
    /* Not instance directories: _base, a file named like a UUID, a symlink. */
    assert_int_equal(snprintf(path, sizeof(path), "%s/_base", dir) > 0, 1);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(
        snprintf(path, sizeof(path), "%s/5b3c1a2e-0000-4000-8000-000000000003", dir) > 0, 1);
    write_text(path, "x", 1);
    assert_int_equal(
        snprintf(path, sizeof(path), "%s/5b3c1a2e-0000-4000-8000-000000000004", dir) > 0, 1);
    assert_int_equal(symlink("/tmp", path), 0);

    assert_int_equal(instance_list(dir, &ids, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_true((!strcmp(ids[0], UUID1) && !strcmp(ids[1], UUID2)) ||
                (!strcmp(ids[0], UUID2) && !strcmp(ids[1], UUID1)));
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);

    /* Removal takes the directory and its files, and does not follow a
     * symlink inside it. */
    assert_int_equal(snprintf(path, sizeof(path), "%s/link", instance_path(a, INSTANCE_DIR)) > 0,
                     1);
    assert_int_equal(symlink(instance_path(b, INSTANCE_DIR), path), 0);
    assert_int_equal(instance_remove(a, &err), 0);
    assert_false(instance_exists(a));
    assert_true(instance_exists(b));
    assert_int_equal(instance_remove(a, &err), 0); /* again: fine */
    instance_free(a);
    instance_free(b);
    tu_rmrf(dir);
    free(dir);
}

/* The tail of a log file with 'content'. */
static char *tail_of(const char *content, size_t len, int64_t lines, size_t max)
{
    char *dir = tu_mkdtemp();
    char path[4096];
    struct st_buf out = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    assert_int_equal(snprintf(path, sizeof(path), "%s/console.log", dir) > 0, 1);
    write_text(path, content, len);
    assert_int_equal(instance_console_tail(path, lines, max, &out, &err), 0);
    tu_rmrf(dir);
    free(dir);
    return st_buf_detach(&out, NULL);
}

static void t07_console_tail_lines(void **state)
{
    const char *log = "one\ntwo\nthree\nfour\n";
    char *s;
    (void) state;
    s = tail_of(log, strlen(log), 2, 1 << 20);
    assert_string_equal(s, "three\nfour\n");
    free(s);
    s = tail_of(log, strlen(log), 1, 1 << 20);
    assert_string_equal(s, "four\n");
    free(s);
    s = tail_of(log, strlen(log), 0, 1 << 20);
    assert_string_equal(s, "");
    free(s);
    s = tail_of(log, strlen(log), 10, 1 << 20);
    assert_string_equal(s, log);
    free(s);
    s = tail_of(log, strlen(log), -1, 1 << 20);
    assert_string_equal(s, log);
    free(s);
    /* A last line without its newline counts as a line. */
    s = tail_of("a\nb\nc", 5, 2, 1 << 20);
    assert_string_equal(s, "b\nc");
    free(s);
    /* Serial consoles end lines with \r\n: kept as they are. */
    s = tail_of("a\r\nb\r\n", 6, 1, 1 << 20);
    assert_string_equal(s, "b\r\n");
    free(s);
}

static void t08_console_tail_limits(void **state)
{
    char *s;
    (void) state;
    /* Only the last max bytes are read; the partial first line is dropped. */
    s = tail_of("aaaa\nbbbb\ncccc\n", 15, -1, 8);
    assert_string_equal(s, "cccc\n");
    free(s);
    s = tail_of("aaaa\nbbbb\ncccc\n", 15, 5, 8);
    assert_string_equal(s, "cccc\n");
    free(s);
    /* Without any newline in the window the bytes are kept. */
    s = tail_of("xxxxxxxxxxxxxxxx", 16, -1, 4);
    assert_string_equal(s, "xxxx");
    free(s);
    /* A missing file is an empty log. */
    {
        struct st_buf out = ST_BUF_INIT;
        struct st_err err = ST_ERR_INIT;
        assert_int_equal(instance_console_tail("/nonexistent/console.log", 5, 1024, &out, &err), 0);
        assert_int_equal(out.len, 0);
        st_buf_release(&out);
    }
}

static void t09_console_tail_is_valid_utf8(void **state)
{
    /* Invalid bytes (a lone continuation, an overlong form, a surrogate,
     * a truncated sequence) become U+FFFD; NULs vanish; valid text stays. */
    const char raw[] = "ok \xc3\xa9 \x80 \xc0\xaf \xed\xa0\x80 \xf0\x9f\x98\x80 a\0b \xe2\x82";
    char *s;
    json_t *j;
    (void) state;
    s = tail_of(raw, sizeof(raw) - 1, -1, 1 << 20);
    assert_string_equal(s, "ok \xc3\xa9 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
                           "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80 ab "
                           "\xef\xbf\xbd\xef\xbf\xbd");
    j = json_string(s); /* jansson accepts only valid UTF-8 */
    assert_non_null(j);
    json_decref(j);
    free(s);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_paths_from_the_id),
        cmocka_unit_test(t02_ids_that_are_not_uuids_are_refused),
        cmocka_unit_test(t03_state_json_round_trip),
        cmocka_unit_test(t04_state_json_invalid),
        cmocka_unit_test(t05_state_file),
        cmocka_unit_test(t06_list_and_remove),
        cmocka_unit_test(t07_console_tail_lines),
        cmocka_unit_test(t08_console_tail_limits),
        cmocka_unit_test(t09_console_tail_is_valid_utf8),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("agent-instance", tests, known_bugs);
}

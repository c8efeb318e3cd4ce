/* test-config.c - the option table, INI parsing, validation, precedence, and
 * the sample file etc/stratusd.conf.sample, which is what
 * cfg_print_sample(controller_opts) prints (regenerate it with
 * ST_TEST_REGENERATE=1, STYLE.md §14). */
#include "testutil.h"

#include "api/options.h"
#include "common/config.h"
#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

/* The title stratusd --help-config uses (src/stratusd.c); t12 checks the
 * daemon's own output too, so a change there cannot go unnoticed. */
#define SAMPLE_TITLE                                                                               \
    "stratusd.conf - configuration of the stratus controller (stratusd and stratus-manage)."

static const struct cfg_opt opts[] = {
    {"DEFAULT", "name", CFG_STR, "stratus", 0, 0, "A name."},
    {"DEFAULT", "nothing", CFG_STR, NULL, 0, 0, "No default."},
    {"DEFAULT", "verbose", CFG_BOOL, "false", 0, 0, "Talk more."},
    {"api", "port", CFG_INT, "5000", 1, 65535, "A port."},
    {"api", "offset", CFG_INT, "-3", -10, 10, "A signed number."},
    {"api", "debug", CFG_BOOL, "yes", 0, 0, "Debugging."},
};

static struct cfg *new_cfg(void)
{
    return cfg_new(opts, ST_ARRAY_SIZE(opts));
}

static void t01_defaults(void **state)
{
    struct cfg *cfg = new_cfg();
    (void) state;
    assert_string_equal(cfg_str(cfg, "DEFAULT", "name"), "stratus");
    assert_null(cfg_str(cfg, "DEFAULT", "nothing"));
    assert_false(cfg_bool(cfg, "DEFAULT", "verbose"));
    assert_int_equal(cfg_int(cfg, "api", "port"), 5000);
    assert_int_equal(cfg_int(cfg, "api", "offset"), -3);
    assert_true(cfg_bool(cfg, "api", "debug"));
    cfg_free(cfg);
    cfg_free(NULL);
}

static void t02_file_overrides_defaults(void **state)
{
    struct cfg *cfg = new_cfg();
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(cfg_load_string(cfg,
                                     "# a comment\n"
                                     "name = from-top\n" /* before any section: DEFAULT */
                                     "[api]\n"
                                     "port = 8080\n"
                                     "offset=-10\n"
                                     "; another comment\n"
                                     "debug = off\n"
                                     "\n"
                                     "[DEFAULT]\n"
                                     "verbose = TRUE\n"
                                     "nothing = now set\n",
                                     "test.conf", &err),
                     0);
    assert_false(st_err_is_set(&err));
    assert_string_equal(cfg_str(cfg, "DEFAULT", "name"), "from-top");
    assert_string_equal(cfg_str(cfg, "DEFAULT", "nothing"), "now set");
    assert_true(cfg_bool(cfg, "DEFAULT", "verbose"));
    assert_int_equal(cfg_int(cfg, "api", "port"), 8080);
    assert_int_equal(cfg_int(cfg, "api", "offset"), -10);
    assert_false(cfg_bool(cfg, "api", "debug"));

    /* A later file overrides an earlier one; untouched options stay. */
    assert_int_equal(cfg_load_string(cfg, "[api]\nport = 9\n", "second.conf", &err), 0);
    assert_int_equal(cfg_int(cfg, "api", "port"), 9);
    assert_string_equal(cfg_str(cfg, "DEFAULT", "name"), "from-top");
    cfg_free(cfg);
}

static void t03_unknown_key_rejected(void **state)
{
    struct cfg *cfg = new_cfg();
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(cfg_load_string(cfg, "[api]\nport = 1\nprot = 2\n", "my.conf", &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "my.conf"));
    assert_non_null(strstr(err.msg, "'prot'"));
    assert_non_null(strstr(err.msg, "[api]"));
    /* A key of another section is unknown in this one. */
    st_err_clear(&err);
    assert_int_equal(cfg_load_string(cfg, "[api]\nname = x\n", "my.conf", &err), -1);
    assert_non_null(strstr(err.msg, "'name'"));
    cfg_free(cfg);
}

static void t04_unknown_section_rejected(void **state)
{
    struct cfg *cfg = new_cfg();
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(cfg_load_string(cfg, "[apii]\nport = 1\n", "my.conf", &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "[apii]"));
    assert_non_null(strstr(err.msg, "my.conf"));
    /* The value before the error was not applied under another section. */
    assert_int_equal(cfg_int(cfg, "api", "port"), 5000);
    cfg_free(cfg);
}

static void t05_bad_int_rejected(void **state)
{
    static const char *const bad[] = {"[api]\nport = 0\n", "[api]\nport = 65536\n",
                                      "[api]\nport = 80x\n", "[api]\nport = \n",
                                      "[api]\nport = eighty\n", "[api]\noffset = -11\n"};
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        struct cfg *cfg = new_cfg();
        struct st_err err = ST_ERR_INIT;
        if (cfg_load_string(cfg, bad[i], "x.conf", &err) == 0)
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
        assert_non_null(strstr(err.msg, "[api]"));
        assert_non_null(strstr(err.msg, "is not an integer between"));
        /* the old value stays */
        assert_int_equal(cfg_int(cfg, "api", "port"), 5000);
        assert_int_equal(cfg_int(cfg, "api", "offset"), -3);
        cfg_free(cfg);
    }
}

static void t06_bad_bool_rejected(void **state)
{
    struct cfg *cfg = new_cfg();
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(cfg_load_string(cfg, "verbose = maybe\n", "x.conf", &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "verbose"));
    assert_non_null(strstr(err.msg, "'maybe' is not a boolean"));
    assert_false(cfg_bool(cfg, "DEFAULT", "verbose"));
    st_err_clear(&err);
    assert_int_equal(cfg_set(cfg, "api", "debug", "2", &err), -1);
    assert_true(cfg_bool(cfg, "api", "debug"));
    cfg_free(cfg);
}

static void t07_flags_override_file(void **state)
{
    struct cfg *cfg = new_cfg();
    struct st_err err = ST_ERR_INIT;
    char *dir = tu_mkdtemp();
    char path[4096];
    (void) state;
    static const char text[] = "[api]\nport = 7000\ndebug = no\n";
    snprintf(path, sizeof(path), "%s/f.conf", dir);
    assert_int_equal(st_write_file(path, text, sizeof(text) - 1, 0600, &err), 0);
    assert_int_equal(cfg_load_file(cfg, path, &err), 0);
    assert_int_equal(cfg_int(cfg, "api", "port"), 7000);
    /* flags come after the file */
    assert_int_equal(cfg_set(cfg, "api", "port", "7001", &err), 0);
    assert_int_equal(cfg_int(cfg, "api", "port"), 7001);
    assert_false(cfg_bool(cfg, "api", "debug"));
    /* a flag is validated like a file value */
    assert_int_equal(cfg_set(cfg, "api", "port", "99999", &err), -1);
    assert_int_equal(cfg_int(cfg, "api", "port"), 7001);
    st_err_clear(&err);
    assert_int_equal(cfg_set(cfg, "nope", "port", "1", &err), -1);
    assert_non_null(strstr(err.msg, "[nope]"));
    /* the value is copied */
    {
        char v[] = "copied";
        assert_int_equal(cfg_set(cfg, "DEFAULT", "name", v, &err), 0);
        v[0] = 'X';
        assert_string_equal(cfg_str(cfg, "DEFAULT", "name"), "copied");
    }
    cfg_free(cfg);
    tu_rmrf(dir);
    free(dir);
}

static void t08_missing_file(void **state)
{
    struct cfg *cfg = new_cfg();
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(cfg_load_file(cfg, "/nonexistent/stratus.conf", &err), -1);
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/stratus.conf"));
    cfg_free(cfg);
}

static void t09_syntax_error_names_line(void **state)
{
    struct cfg *cfg = new_cfg();
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(cfg_load_string(cfg, "name = a\nport 1\n[api]\nport = 1\n", "s.conf", &err),
                     -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "s.conf"));
    assert_non_null(strstr(err.msg, "line 2"));
    cfg_free(cfg);
}

/* The sample of 'opts' must parse, and with every option uncommented must
 * still be valid: each default passes its own range check. */
static void t10_sample_is_valid_config(void **state)
{
    struct st_buf sample = ST_BUF_INIT, uncommented = ST_BUF_INIT;
    struct cfg *cfg = cfg_new(controller_opts, controller_opts_count);
    struct st_err err = ST_ERR_INIT;
    const char *p;
    int settings = 0;
    (void) state;
    cfg_print_sample(controller_opts, controller_opts_count, SAMPLE_TITLE, &sample);
    assert_int_equal(cfg_load_string(cfg, sample.buf, "sample", &err), 0);

    for (p = sample.buf; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t) (nl - p) : strlen(p);
        /* "#name = value" lines are settings; "# text" lines are comments */
        if (n > 1 && p[0] == '#' && p[1] != ' ' && memchr(p, '=', n)) {
            st_buf_add(&uncommented, p + 1, n - 1);
            settings++;
        } else {
            st_buf_add(&uncommented, p, n);
        }
        st_buf_addch(&uncommented, '\n');
        p += n + (nl ? 1 : 0);
    }
    assert_int_equal(settings, (int) controller_opts_count);
    if (cfg_load_string(cfg, uncommented.buf, "uncommented sample", &err) < 0)
        fail_msg("%s", err.msg);
    for (size_t i = 0; i < controller_opts_count; i++) {
        const struct cfg_opt *o = &controller_opts[i];
        if (o->type == CFG_STR)
            assert_string_equal(cfg_str(cfg, o->section, o->name), o->def ? o->def : "");
    }
    cfg_free(cfg);
    st_buf_release(&sample);
    st_buf_release(&uncommented);
}

static void t11_sample_format(void **state)
{
    struct st_buf out = ST_BUF_INIT;
    const char *p;
    (void) state;
    cfg_print_sample(opts, ST_ARRAY_SIZE(opts),
                     "A title that is long enough to be wrapped over more than one line of "
                     "the sample file, at a space.",
                     &out);
    assert_string_equal(out.buf,
                        "# A title that is long enough to be wrapped over more than one line of "
                        "the\n"
                        "# sample file, at a space.\n"
                        "#\n"
                        "# Every option is shown commented out with its default value.\n"
                        "\n"
                        "[DEFAULT]\n"
                        "\n"
                        "# A name.\n"
                        "#name = stratus\n"
                        "\n"
                        "# No default.\n"
                        "#nothing = \n"
                        "\n"
                        "# Talk more.\n"
                        "# Boolean.\n"
                        "#verbose = false\n"
                        "\n"
                        "[api]\n"
                        "\n"
                        "# A port.\n"
                        "# Integer, 1 to 65535.\n"
                        "#port = 5000\n"
                        "\n"
                        "# A signed number.\n"
                        "# Integer, -10 to 10.\n"
                        "#offset = -3\n"
                        "\n"
                        "# Debugging.\n"
                        "# Boolean.\n"
                        "#debug = yes\n");
    /* no line longer than 78 characters */
    for (p = out.buf; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true(nl - p <= 78);
        p = nl + 1;
    }
    st_buf_release(&out);
}

/* etc/stratusd.conf.sample is generated: it must equal the table's sample. */
static void t12_sample_file_is_current(void **state)
{
    struct st_buf want = ST_BUF_INIT, have = ST_BUF_INIT, path = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    const char *regen = getenv("ST_TEST_REGENERATE");
    (void) state;
    cfg_print_sample(controller_opts, controller_opts_count, SAMPLE_TITLE, &want);
    st_buf_addf(&path, "%s/etc/stratusd.conf.sample", tu_srcdir());
    if (regen && *regen && strcmp(regen, "0")) {
        if (st_write_file(path.buf, want.buf, want.len, 0644, &err) < 0)
            fail_msg("%s", err.msg);
        printf("# regenerated %s\n", path.buf);
    }
    if (st_read_file(path.buf, 1 << 20, &have, &err) < 0)
        fail_msg("%s (run with ST_TEST_REGENERATE=1 to create it)", err.msg);
    if (strcmp(have.buf, want.buf))
        fail_msg("%s is out of date: run `ST_TEST_REGENERATE=1 meson test test-config` and "
                 "review the diff",
                 path.buf);
    st_buf_release(&want);
    st_buf_release(&have);
    st_buf_release(&path);
}

/* And the daemon prints the same thing (catches a title changed only in
 * src/stratusd.c).  Needs the stratusd binary of this build. */
static void t13_stratusd_help_config_matches(void **state)
{
    struct st_buf want = ST_BUF_INIT, out = ST_BUF_INIT, exe = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    const char *builddir = getenv("ST_BUILDDIR");
    struct st_cmd *cmd;
    (void) state;
    if (!builddir || !*builddir)
        fail_msg("ST_BUILDDIR is not set (run through meson test)");
    st_buf_addf(&exe, "%s/stratusd", builddir);
    cmd = cmd_new(exe.buf);
    cmd_arg(cmd, "--help-config");
    if (cmd_run(cmd, &out, NULL, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    cfg_print_sample(controller_opts, controller_opts_count, SAMPLE_TITLE, &want);
    assert_string_equal(out.buf, want.buf);
    cmd_free(cmd);
    st_buf_release(&want);
    st_buf_release(&out);
    st_buf_release(&exe);
}

static void t14_controller_config_precedence(void **state)
{
    char *dir = tu_mkdtemp();
    char path[4096];
    struct st_err err = ST_ERR_INIT;
    struct cfg *cfg;
    char *s;
    static const char text[] = "[DEFAULT]\ndata_dir = /from/file\nlisten = 0.0.0.0:1\n"
                               "[token]\nkey_repository = /keys\n";
    (void) state;
    snprintf(path, sizeof(path), "%s/stratusd.conf", dir);
    assert_int_equal(st_write_file(path, text, sizeof(text) - 1, 0600, &err), 0);

    cfg = controller_config(path, NULL, NULL, &err);
    assert_non_null(cfg);
    assert_string_equal(cfg_str(cfg, "DEFAULT", "data_dir"), "/from/file");
    s = controller_db_url(cfg);
    assert_string_equal(s, "/from/file/stratus.db");
    free(s);
    s = controller_key_dir(cfg);
    assert_string_equal(s, "/keys");
    free(s);
    assert_int_equal(cfg_int(cfg, "api", "max_body_size"), 1048576);
    cfg_free(cfg);

    /* --data-dir and --listen beat the file */
    cfg = controller_config(path, "/from/flag", "127.0.0.1:2", &err);
    assert_non_null(cfg);
    assert_string_equal(cfg_str(cfg, "DEFAULT", "data_dir"), "/from/flag");
    assert_string_equal(cfg_str(cfg, "DEFAULT", "listen"), "127.0.0.1:2");
    cfg_free(cfg);

    cfg = controller_config(NULL, "/d", NULL, &err);
    s = controller_key_dir(cfg);
    assert_string_equal(s, "/d/keys/token");
    free(s);
    cfg_free(cfg);

    assert_null(controller_config("/nonexistent.conf", NULL, NULL, &err));
    assert_int_equal(err.kind, ST_ERR_NOT_FOUND);
    tu_rmrf(dir);
    free(dir);
}

/*
 * KNOWN BUG: src/common/config.c cfg_load_string() relies on libinih, which
 * Debian 12 builds with INI_MAX_LINE 200 and no realloc: a line longer than
 * 199 bytes is cut, its value silently truncated, and the rest parsed as
 * the next line, giving "syntax error on line 2" for a one-line file.  A
 * long data_dir, key_repository or (later) a PostgreSQL conninfo cannot be
 * configured.  Fix: parse with ini_parse_stream() over a reader that
 * returns whole lines of any length (it takes a max_line argument through
 * ini_parse_stream's reader contract only up to INI_MAX_LINE, so in
 * practice: read the file with st_read_file and parse lines ourselves, or
 * reject lines over the limit with a clear message naming the line).
 */
/* Debian's libinih cuts lines at 200 bytes; a longer line is refused with a
 * message saying so, never read cut short or as a "syntax error". */
static void t15_long_value(void **state)
{
    struct cfg *cfg = new_cfg();
    struct st_err err = ST_ERR_INIT;
    struct st_buf text = ST_BUF_INIT, value = ST_BUF_INIT;
    (void) state;
    st_buf_adds(&value, "/srv");
    while (value.len < 300)
        st_buf_adds(&value, "/directory");
    st_buf_addf(&text, "[DEFAULT]\nname = %s\n", value.buf);
    assert_int_equal(cfg_load_string(cfg, text.buf, "long.conf", &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "long.conf: line 2 is longer than"));
    st_buf_reset(&text);
    st_buf_addf(&text, "name = %.190s\n", value.buf);
    st_err_clear(&err);
    if (cfg_load_string(cfg, text.buf, "ok.conf", &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(strlen(cfg_str(cfg, "DEFAULT", "name")), 190);
    cfg_free(cfg);
    st_buf_release(&text);
    st_buf_release(&value);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_defaults),
        cmocka_unit_test(t02_file_overrides_defaults),
        cmocka_unit_test(t03_unknown_key_rejected),
        cmocka_unit_test(t04_unknown_section_rejected),
        cmocka_unit_test(t05_bad_int_rejected),
        cmocka_unit_test(t06_bad_bool_rejected),
        cmocka_unit_test(t07_flags_override_file),
        cmocka_unit_test(t08_missing_file),
        cmocka_unit_test(t09_syntax_error_names_line),
        cmocka_unit_test(t10_sample_is_valid_config),
        cmocka_unit_test(t11_sample_format),
        cmocka_unit_test(t12_sample_file_is_current),
        cmocka_unit_test(t13_stratusd_help_config_matches),
        cmocka_unit_test(t14_controller_config_precedence),
        cmocka_unit_test(t15_long_value),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("config", tests, known_bugs);
}

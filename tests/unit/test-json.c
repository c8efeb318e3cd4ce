/* test-json.c - st_json_parse limits and the checked field readers jget_*. */
#include "testutil.h"

#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

static json_t *parse(const char *text, struct st_err *err)
{
    return st_json_parse(text, strlen(text), err);
}

/* '{"a":' repeated 'depth' times around 'inner', then the closing braces. */
static void nest(struct st_buf *b, int depth, const char *inner)
{
    for (int i = 0; i < depth; i++)
        st_buf_adds(b, "{\"a\":");
    st_buf_adds(b, inner);
    for (int i = 0; i < depth; i++)
        st_buf_addch(b, '}');
}

static void t01_parse_object(void **state)
{
    struct st_err err = ST_ERR_INIT;
    json_t *j = parse(" {\"a\": 1, \"b\": [true, null], \"c\": {\"d\": \"e\"}} \n", &err);
    (void) state;
    assert_non_null(j);
    assert_false(st_err_is_set(&err));
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "c"), "d")), "e");
    json_decref(j);
}

static void t02_parse_depth_limit(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    json_t *j;
    (void) state;

    /* Exactly the limit: accepted. */
    nest(&b, ST_JSON_MAX_DEPTH, "1");
    j = st_json_parse(b.buf, b.len, &err);
    assert_non_null(j);
    json_decref(j);

    /* One more: rejected before jansson recurses. */
    st_buf_reset(&b);
    nest(&b, ST_JSON_MAX_DEPTH + 1, "1");
    assert_null(st_json_parse(b.buf, b.len, &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "nested deeper than 32"));

    /* Arrays count as well, and so does a mix. */
    st_err_clear(&err);
    st_buf_reset(&b);
    st_buf_adds(&b, "{\"a\":");
    for (int i = 0; i < ST_JSON_MAX_DEPTH; i++)
        st_buf_addch(&b, '[');
    for (int i = 0; i < ST_JSON_MAX_DEPTH; i++)
        st_buf_addch(&b, ']');
    st_buf_addch(&b, '}');
    assert_null(st_json_parse(b.buf, b.len, &err));
    assert_non_null(strstr(err.msg, "nested deeper"));

    /* Something very deep must fail fast, not overflow the stack. */
    st_err_clear(&err);
    st_buf_reset(&b);
    for (int i = 0; i < 200000; i++)
        st_buf_addch(&b, '[');
    assert_null(st_json_parse(b.buf, b.len, &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);

    /* Brackets inside strings, escaped quotes included, are not nesting. */
    st_err_clear(&err);
    st_buf_reset(&b);
    st_buf_adds(&b, "{\"a\": \"");
    for (int i = 0; i < 100; i++)
        st_buf_adds(&b, "[{\\\"");
    st_buf_adds(&b, "\", \"b\": [[[1]]]}");
    j = st_json_parse(b.buf, b.len, &err);
    if (!j)
        fail_msg("%s", err.msg);
    json_decref(j);
    st_buf_release(&b);
}

static void t03_parse_duplicate_keys(void **state)
{
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_null(parse("{\"a\": 1, \"a\": 2}", &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "Malformed request body"));
    assert_non_null(strstr(err.msg, "duplicate"));
    /* nested objects too */
    st_err_clear(&err);
    assert_null(parse("{\"x\": {\"b\": 1, \"b\": 1}}", &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
}

static void t04_parse_non_object(void **state)
{
    static const char *const arrays[] = {"[]", "[{}]", "[1, 2]"};
    static const char *const scalars[] = {"\"str\"", "1", "null", "true", "1.5"};
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(arrays); i++) {
        struct st_err err = ST_ERR_INIT;
        assert_null(parse(arrays[i], &err));
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
        assert_string_equal(err.msg, "The request body must be a JSON object");
    }
    /* jansson itself refuses a scalar at the top */
    for (size_t i = 0; i < ST_ARRAY_SIZE(scalars); i++) {
        struct st_err err = ST_ERR_INIT;
        assert_null(parse(scalars[i], &err));
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    }
}

static void t05_parse_malformed(void **state)
{
    static const char *const bad[] = {
        "{",          "{\"a\" 1}",   "{\"a\": 1,}", "{'a': 1}",        "{\"a\": 01}",
        "{} {}",      "{}x",          "{\"a\": \"\\x\"}", "{\"a\": \"\xff\"}",
        "{\"a\": \"\\u0000\"}", /* a NUL inside a string */
        "{\"a\": \"\\udc00\"}", /* a lone surrogate */
    };
    struct st_err err = ST_ERR_INIT;
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        st_err_clear(&err);
        if (parse(bad[i], &err))
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
        assert_non_null(strstr(err.msg, "Malformed request body: "));
    }
    /* The message points at the place. */
    st_err_clear(&err);
    assert_null(parse("{\n  \"a\": 1,\n  \"b\" 2\n}", &err));
    assert_non_null(strstr(err.msg, "line 3"));
    assert_non_null(strstr(err.msg, "column"));
    /* Empty body: its own message. */
    st_err_clear(&err);
    assert_null(st_json_parse("", 0, &err));
    assert_non_null(strstr(err.msg, "empty"));
    /* Only 'len' bytes count: a valid prefix with junk after it. */
    st_err_clear(&err);
    {
        json_t *j = st_json_parse("{}garbage", 2, &err);
        assert_non_null(j);
        json_decref(j);
    }
}

static void t06_jget_str(void **state)
{
    struct st_err err = ST_ERR_INIT;
    json_t *j = parse("{\"name\": \"vm1\", \"n\": 5, \"nul\": null, \"long\": \"abcdef\","
                      " \"utf\": \"\xc3\xa9t\xc3\xa9\"}",
                      &err);
    const char *s = "untouched";
    bool present = false;
    (void) state;
    assert_non_null(j);

    assert_int_equal(jget_str(j, "name", true, 255, &s, &err), 0);
    assert_string_equal(s, "vm1");
    /* optional and absent: 0, out untouched */
    s = "untouched";
    assert_int_equal(jget_str(j, "missing", false, 255, &s, &err), 0);
    assert_string_equal(s, "untouched");
    assert_false(st_err_is_set(&err));
    /* required and absent */
    assert_int_equal(jget_str(j, "missing", true, 255, &s, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_string_equal(err.msg, "Invalid input for field 'missing': it is required");
    /* null is absent for jget_str */
    st_err_clear(&err);
    assert_int_equal(jget_str(j, "nul", false, 255, &s, &err), 0);
    assert_string_equal(s, "untouched");
    assert_int_equal(jget_str(j, "nul", true, 255, &s, &err), -1);
    assert_non_null(strstr(err.msg, "'nul': it is required"));
    /* ... and stored as NULL by jget_str_n */
    st_err_clear(&err);
    assert_int_equal(jget_str_n(j, "nul", true, 255, &s, &present, &err), 0);
    assert_null(s);
    assert_true(present);
    assert_int_equal(jget_str_n(j, "missing", false, 255, &s, &present, &err), 0);
    assert_false(present);
    /* wrong type */
    assert_int_equal(jget_str(j, "n", false, 255, &s, &err), -1);
    assert_string_equal(err.msg, "Invalid input for field 'n': an integer is not a string");
    /* length limit, inclusive */
    st_err_clear(&err);
    assert_int_equal(jget_str(j, "long", true, 6, &s, &err), 0);
    assert_int_equal(jget_str(j, "long", true, 5, &s, &err), -1);
    assert_non_null(strstr(err.msg, "longer than 5"));
    /* a NULL object: every field is absent */
    st_err_clear(&err);
    assert_int_equal(jget_str(NULL, "name", false, 5, &s, &err), 0);
    assert_int_equal(jget_str(NULL, "name", true, 5, &s, &err), -1);
    json_decref(j);

    /* A string holding a NUL (possible when built in C) is refused. */
    st_err_clear(&err);
    j = json_pack("{s:s#}", "s", "a\0b", (size_t) 3);
    assert_non_null(j);
    assert_int_equal(jget_str(j, "s", true, 255, &s, &err), -1);
    assert_non_null(strstr(err.msg, "NUL"));
    json_decref(j);
}

static void t07_jget_bool(void **state)
{
    struct st_err err = ST_ERR_INIT;
    json_t *j = parse("{\"t\": true, \"f\": false, \"s\": \"true\", \"i\": 1, \"n\": null}", &err);
    bool b = false;
    (void) state;
    assert_int_equal(jget_bool(j, "t", true, &b, &err), 0);
    assert_true(b);
    assert_int_equal(jget_bool(j, "f", true, &b, &err), 0);
    assert_false(b);
    b = true;
    assert_int_equal(jget_bool(j, "missing", false, &b, &err), 0);
    assert_true(b);
    assert_int_equal(jget_bool(j, "n", false, &b, &err), 0); /* null: absent */
    assert_false(st_err_is_set(&err));
    assert_int_equal(jget_bool(j, "s", false, &b, &err), -1);
    assert_string_equal(err.msg, "Invalid input for field 's': a string is not a boolean");
    st_err_clear(&err);
    assert_int_equal(jget_bool(j, "i", false, &b, &err), -1);
    assert_string_equal(err.msg, "Invalid input for field 'i': an integer is not a boolean");
    st_err_clear(&err);
    assert_int_equal(jget_bool(j, "missing", true, &b, &err), -1);
    assert_true(b);
    json_decref(j);
}

static void t08_jget_int(void **state)
{
    struct st_err err = ST_ERR_INIT;
    json_t *j = parse("{\"i\": 512, \"neg\": -1, \"s\": \"512\", \"junk\": \"5x\", \"r\": 1.0,"
                      " \"big\": 9223372036854775807, \"b\": true, \"sp\": \" 5\"}",
                      &err);
    int64_t v = 0;
    (void) state;
    assert_non_null(j);
    assert_int_equal(jget_int(j, "i", true, 0, 1024, &v, &err), 0);
    assert_int_equal(v, 512);
    /* integers given as strings, as OpenStack accepts */
    v = 0;
    assert_int_equal(jget_int(j, "s", true, 0, 1024, &v, &err), 0);
    assert_int_equal(v, 512);
    /* bounds are inclusive */
    assert_int_equal(jget_int(j, "i", true, 512, 512, &v, &err), 0);
    assert_int_equal(jget_int(j, "big", true, INT64_MIN, INT64_MAX, &v, &err), 0);
    assert_true(v == INT64_MAX);
    assert_false(st_err_is_set(&err));

    v = 7;
    assert_int_equal(jget_int(j, "i", true, 0, 511, &v, &err), -1);
    assert_string_equal(err.msg, "Invalid input for field 'i': 512 is not between 0 and 511");
    assert_int_equal(v, 7);
    st_err_clear(&err);
    assert_int_equal(jget_int(j, "neg", true, 0, 10, &v, &err), -1);
    assert_non_null(strstr(err.msg, "-1 is not between 0 and 10"));
    st_err_clear(&err);
    assert_int_equal(jget_int(j, "s", true, 0, 100, &v, &err), -1); /* string form, ranged */
    st_err_clear(&err);
    assert_int_equal(jget_int(j, "junk", true, 0, 100, &v, &err), -1);
    assert_string_equal(err.msg, "Invalid input for field 'junk': a string is not an integer");
    st_err_clear(&err);
    assert_int_equal(jget_int(j, "sp", true, 0, 100, &v, &err), -1);
    st_err_clear(&err);
    assert_int_equal(jget_int(j, "r", true, 0, 100, &v, &err), -1);
    assert_string_equal(err.msg, "Invalid input for field 'r': a number is not an integer");
    st_err_clear(&err);
    assert_int_equal(jget_int(j, "b", true, 0, 100, &v, &err), -1);
    st_err_clear(&err);
    assert_int_equal(jget_int(j, "missing", true, 0, 100, &v, &err), -1);
    assert_non_null(strstr(err.msg, "required"));
    st_err_clear(&err);
    assert_int_equal(jget_int(j, "missing", false, 0, 100, &v, &err), 0);
    assert_int_equal(v, 7);
    json_decref(j);
}

static void t09_jget_obj_arr(void **state)
{
    struct st_err err = ST_ERR_INIT;
    json_t *j = parse("{\"o\": {\"x\": 1}, \"a\": [1, 2, 3], \"s\": \"x\"}", &err);
    json_t *out = NULL;
    (void) state;
    assert_int_equal(jget_obj(j, "o", true, &out, &err), 0);
    assert_ptr_equal(out, json_object_get(j, "o")); /* borrowed */
    assert_int_equal(jget_arr(j, "a", true, 3, &out, &err), 0);
    assert_int_equal(json_array_size(out), 3);
    assert_false(st_err_is_set(&err));

    assert_int_equal(jget_arr(j, "a", true, 2, &out, &err), -1);
    assert_string_equal(err.msg, "Invalid input for field 'a': more than 2 items");
    st_err_clear(&err);
    assert_int_equal(jget_obj(j, "a", true, &out, &err), -1);
    assert_string_equal(err.msg, "Invalid input for field 'a': an array is not an object");
    st_err_clear(&err);
    assert_int_equal(jget_arr(j, "o", true, 9, &out, &err), -1);
    assert_string_equal(err.msg, "Invalid input for field 'o': an object is not an array");
    st_err_clear(&err);
    assert_int_equal(jget_obj(j, "s", false, &out, &err), -1);
    st_err_clear(&err);
    out = NULL;
    assert_int_equal(jget_obj(j, "none", false, &out, &err), 0);
    assert_null(out);
    assert_int_equal(jget_arr(j, "none", true, 1, &out, &err), -1);
    json_decref(j);
}

static void t10_err_is_set_once(void **state)
{
    /* The first failure is the one reported (err.h): later readers that
     * fail do not overwrite it. */
    struct st_err err = ST_ERR_INIT;
    json_t *j = parse("{\"a\": 1}", &err);
    const char *s;
    bool b;
    (void) state;
    assert_int_equal(jget_str(j, "a", true, 10, &s, &err), -1);
    assert_int_equal(jget_bool(j, "a", true, &b, &err), -1);
    assert_string_equal(err.msg, "Invalid input for field 'a': an integer is not a string");
    json_decref(j);
}

static void t11_dump(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    json_t *j = json_pack("{s:i}", "a", 1);
    json_t *n;
    (void) state;
    st_json_dump(j, &b);
    assert_string_equal(b.buf, "{\"a\":1}");
    json_decref(j);
    /* non-objects too (JSON_ENCODE_ANY), appended */
    j = json_string("x");
    st_json_dump(j, &b);
    assert_string_equal(b.buf, "{\"a\":1}\"x\"");
    json_decref(j);
    st_buf_release(&b);

    n = st_json_str_or_null(NULL);
    assert_true(json_is_null(n));
    json_decref(n);
    n = st_json_str_or_null("v");
    assert_string_equal(json_string_value(n), "v");
    json_decref(n);
}

static void t12_parse_value_accepts_arrays(void **state)
{
    static const char patch[] = "[{\"op\": \"add\"}]";
    static const char dup[] = "[1, {\"a\": 1, \"a\": 2}]";
    struct st_err err = ST_ERR_INIT;
    json_t *j;
    (void) state;
    j = st_json_parse_value(patch, strlen(patch), &err);
    assert_non_null(j);
    assert_true(json_is_array(j));
    json_decref(j);
    j = st_json_parse_value("{}", 2, &err);
    assert_non_null(j);
    json_decref(j);
    assert_null(st_json_parse_value("\"s\"", 3, &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    /* the same limits */
    st_err_clear(&err);
    assert_null(st_json_parse_value(dup, strlen(dup), &err));
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_parse_object),
        cmocka_unit_test(t02_parse_depth_limit),
        cmocka_unit_test(t03_parse_duplicate_keys),
        cmocka_unit_test(t04_parse_non_object),
        cmocka_unit_test(t05_parse_malformed),
        cmocka_unit_test(t06_jget_str),
        cmocka_unit_test(t07_jget_bool),
        cmocka_unit_test(t08_jget_int),
        cmocka_unit_test(t09_jget_obj_arr),
        cmocka_unit_test(t10_err_is_set_once),
        cmocka_unit_test(t11_dump),
        cmocka_unit_test(t12_parse_value_accepts_arrays),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("json", tests, known_bugs);
}

/* json.c - bounded parsing and typed field access for request bodies. */
#include "common/json.h"

#include <string.h>

#include "common/util.h"
#include "common/banned.h"

/* Rejects documents nested deeper than the limit before jansson recurses. */
static int depth_ok(const char *p, size_t len)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '{' || c == '[') {
            if (++depth > ST_JSON_MAX_DEPTH)
                return 0;
        } else if (c == '}' || c == ']')
            depth--;
    }
    return 1;
}

static json_t *parse(const char *data, size_t len, bool array_ok, struct st_err *err)
{
    json_error_t je;
    json_t *j;
    if (!len) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "The request body is empty; a JSON object is required");
        return NULL;
    }
    if (!depth_ok(data, len)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "The request body is nested deeper than %d levels",
                   ST_JSON_MAX_DEPTH);
        return NULL;
    }
    j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Malformed request body: %s (line %d, column %d)",
                   je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(j) && !(array_ok && json_is_array(j))) {
        json_decref(j);
        st_err_set(err, ST_ERR_BAD_REQUEST, "The request body must be a JSON %s",
                   array_ok ? "object or array" : "object");
        return NULL;
    }
    return j;
}

json_t *st_json_parse(const char *data, size_t len, struct st_err *err)
{
    return parse(data, len, false, err);
}

json_t *st_json_parse_value(const char *data, size_t len, struct st_err *err)
{
    return parse(data, len, true, err);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

static json_t *field(json_t *obj, const char *key, bool required, bool null_ok,
                     struct st_err *err, int *rc)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    *rc = 0;
    if (!v || (json_is_null(v) && !null_ok)) {
        if (required) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field '%s': it is required",
                       key);
            *rc = -1;
        }
        return NULL;
    }
    return v;
}

static int wrong_type(const char *key, const json_t *v, const char *want, struct st_err *err)
{
    st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field '%s': %s is not %s", key,
               type_name(v), want);
    return -1;
}

int jget_str_n(json_t *obj, const char *key, bool required, size_t maxlen, const char **out,
               bool *present, struct st_err *err)
{
    int rc;
    json_t *v = field(obj, key, required, true, err, &rc);
    if (present)
        *present = v != NULL;
    if (!v)
        return rc;
    if (json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return wrong_type(key, v, "a string", err);
    if (json_string_length(v) > maxlen &&
        st_utf8_len(json_string_value(v), json_string_length(v)) > maxlen) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field '%s': longer than %zu characters", key, maxlen);
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field '%s': contains a NUL", key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int jget_str(json_t *obj, const char *key, bool required, size_t maxlen, const char **out,
             struct st_err *err)
{
    int rc;
    json_t *v = field(obj, key, required, false, err, &rc);
    if (!v)
        return rc;
    return jget_str_n(obj, key, required, maxlen, out, NULL, err);
}

int jget_bool(json_t *obj, const char *key, bool required, bool *out, struct st_err *err)
{
    int rc;
    json_t *v = field(obj, key, required, false, err, &rc);
    if (!v)
        return rc;
    if (!json_is_boolean(v))
        return wrong_type(key, v, "a boolean", err);
    *out = json_is_true(v);
    return 0;
}

int jget_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max,
             int64_t *out, struct st_err *err)
{
    int rc;
    json_int_t n;
    json_t *v = field(obj, key, required, false, err, &rc);
    if (!v)
        return rc;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        /* OpenStack APIs accept integers given as strings ("ram": "512"). */
        int64_t p;
        if (st_parse_i64(json_string_value(v), INT64_MIN, INT64_MAX, &p) < 0)
            return wrong_type(key, v, "an integer", err);
        n = p;
    } else {
        return wrong_type(key, v, "an integer", err);
    }
    if (n < min || n > max) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field '%s': %lld is not between %lld and %lld", key,
                   (long long) n, (long long) min, (long long) max);
        return -1;
    }
    *out = n;
    return 0;
}

int jget_obj(json_t *obj, const char *key, bool required, json_t **out, struct st_err *err)
{
    int rc;
    json_t *v = field(obj, key, required, false, err, &rc);
    if (!v)
        return rc;
    if (!json_is_object(v))
        return wrong_type(key, v, "an object", err);
    *out = v;
    return 0;
}

int jget_arr(json_t *obj, const char *key, bool required, size_t maxlen, json_t **out,
             struct st_err *err)
{
    int rc;
    json_t *v = field(obj, key, required, false, err, &rc);
    if (!v)
        return rc;
    if (!json_is_array(v))
        return wrong_type(key, v, "an array", err);
    if (json_array_size(v) > maxlen) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field '%s': more than %zu items", key, maxlen);
        return -1;
    }
    *out = v;
    return 0;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    st_buf_add(data, buffer, size);
    return 0;
}

void st_json_dump(const json_t *j, struct st_buf *out)
{
    json_dump_callback(j, dump_cb, out, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}

json_t *st_json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

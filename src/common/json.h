/*
 * json.h - checked access to JSON request bodies (jansson).
 *
 * A request body is parsed once with a depth limit, then each field is read
 * through jget_*(), which checks presence, type and range and fills st_err
 * with a message naming the field ("Invalid input for field 'name': ...").
 * The returned strings and objects are borrowed from the document.
 */
#ifndef ST_JSON_H
#define ST_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define ST_JSON_MAX_DEPTH 32

/* Parses 'len' bytes into a new reference.  Rejects nesting deeper than
 * ST_JSON_MAX_DEPTH, duplicate keys and a top level that is not an object. */
json_t *st_json_parse(const char *data, size_t len, struct st_err *err);
/* The same, accepting an array too (JSON-patch bodies). */
json_t *st_json_parse_value(const char *data, size_t len, struct st_err *err);

/* Field readers.  When the key is absent: -1 with BAD_REQUEST if 'required',
 * else 0 leaving *out untouched.  A JSON null counts as absent unless the
 * _n variant is used, which stores NULL. */
int jget_str(json_t *obj, const char *key, bool required, size_t maxlen, const char **out,
             struct st_err *err) __attribute__((warn_unused_result));
int jget_str_n(json_t *obj, const char *key, bool required, size_t maxlen, const char **out,
               bool *present, struct st_err *err) __attribute__((warn_unused_result));
int jget_bool(json_t *obj, const char *key, bool required, bool *out, struct st_err *err)
    __attribute__((warn_unused_result));
int jget_int(json_t *obj, const char *key, bool required, int64_t min, int64_t max,
             int64_t *out, struct st_err *err) __attribute__((warn_unused_result));
int jget_obj(json_t *obj, const char *key, bool required, json_t **out, struct st_err *err)
    __attribute__((warn_unused_result));
int jget_arr(json_t *obj, const char *key, bool required, size_t maxlen, json_t **out,
             struct st_err *err) __attribute__((warn_unused_result));

/* Appends the compact encoding of 'j' to 'out'. */
void st_json_dump(const json_t *j, struct st_buf *out);
/* json_string() of a possibly-NULL C string: JSON null for NULL. */
json_t *st_json_str_or_null(const char *s);

#endif

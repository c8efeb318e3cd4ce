/* flavor.c - Nova flavors, their access lists and extra specs, over the
 * store; input checked with Nova's rules and messages. */
#include "compute/flavor.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define RXTX_MAX 3.40282e+38 /* Nova's SQL_SP_FLOAT_MAX */

#define SELECT_FLAVOR                                                                          \
    "SELECT f.id, f.name, f.vcpus, f.ram, f.disk, f.ephemeral, f.swap, f.rxtx_factor,"         \
    " f.is_public, f.disabled, f.description FROM flavors f"

/* What a non-admin may see: public flavors and those its project is on the
 * access list of.  One '?': the caller's project. */
#define VISIBLE_SQL                                                                            \
    "(f.is_public = 1 OR EXISTS (SELECT 1 FROM flavor_access a"                                \
    " WHERE a.flavor_id = f.id AND a.project_id = ?))"

/* ---- messages in Nova's words -------------------------------------------- */

/* Python's repr() of a float, near enough: the shortest "%g" that reads
 * back the same, with ".0" when it looks like an integer. */
static void py_float(double d, char *out, size_t n)
{
    if (!isfinite(d)) {
        snprintf(out, n, "%s", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".en"))
        snprintf(out + strlen(out), n - strlen(out), ".0");
}

/* The text of a JSON value in a message: strings as they are, numbers as
 * Python prints them, anything else as compact JSON (at most 200 bytes). */
static void value_text(json_t *v, struct st_buf *out)
{
    char num[40];
    if (json_is_string(v)) {
        st_buf_adds(out, json_string_value(v));
    } else if (json_is_integer(v)) {
        st_buf_addf(out, "%lld", (long long) json_integer_value(v));
    } else if (json_is_real(v)) {
        py_float(json_real_value(v), num, sizeof(num));
        st_buf_adds(out, num);
    } else if (json_is_true(v) || json_is_false(v)) {
        st_buf_adds(out, json_is_true(v) ? "True" : "False");
    } else if (json_is_null(v)) {
        st_buf_adds(out, "None");
    } else {
        struct st_buf j = ST_BUF_INIT;
        st_json_dump(v, &j);
        if (j.len > 200)
            st_buf_addf(out, "%.200s...", j.buf);
        else
            st_buf_adds(out, j.buf);
        st_buf_release(&j);
    }
}

/* "Invalid input for field/attribute FIELD. Value: VALUE. DETAIL", as
 * nova.api.validation reports a schema violation. */
static void __attribute__((format(printf, 4, 5)))
bad_input(struct st_err *err, const char *field, json_t *value, const char *fmt, ...)
{
    struct st_buf msg = ST_BUF_INIT;
    va_list ap;
    st_buf_addf(&msg, "Invalid input for field/attribute %s. Value: ", field);
    value_text(value, &msg);
    st_buf_adds(&msg, ". ");
    va_start(ap, fmt);
    st_buf_vaddf(&msg, fmt, ap);
    va_end(ap);
    st_err_set(err, ST_ERR_BAD_REQUEST, "%s", msg.buf);
    st_buf_release(&msg);
}

/* A value of the wrong JSON type; 'types' as jsonschema lists them. */
static void bad_type(struct st_err *err, const char *field, json_t *value, const char *types)
{
    struct st_buf v = ST_BUF_INIT;
    value_text(value, &v);
    bad_input(err, field, value, "%s is not of type %s", v.buf, types);
    st_buf_release(&v);
}

static void flavor_not_found(const char *id, struct st_err *err)
{
    st_err_set(err, ST_ERR_NOT_FOUND, "Flavor %s could not be found.", id);
}

/* ---- text checks --------------------------------------------------------- */

/* Decodes the UTF-8 character at *p (jansson strings are valid UTF-8). */
static unsigned long next_cp(const char **p)
{
    const unsigned char *s = (const unsigned char *) *p;
    unsigned long cp;
    int n;
    if (s[0] < 0x80) {
        cp = s[0];
        n = 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        cp = s[0] & 0x1f;
        n = 2;
    } else if ((s[0] & 0xf0) == 0xe0) {
        cp = s[0] & 0x0f;
        n = 3;
    } else {
        cp = s[0] & 0x07;
        n = 4;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return (*p)++, 0xfffd;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    *p += n;
    return cp;
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    while (*s) {
        (void) next_cp(&s);
        n++;
    }
    return n;
}

/* Nova's _is_printable: not in Unicode category C* (controls, format,
 * private use, surrogates), nor Zl/Zp; Zs (spaces) is printable. */
static bool printable(unsigned long cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
        return false;
    if (cp == 0xad || cp == 0x061c || cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) ||
        (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff ||
        (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0xd800 && cp <= 0xf8ff) ||
        cp == 0xfffe || cp == 0xffff || cp >= 0xf0000)
        return false;
    return true;
}

/* Unicode Zs. */
static bool space_sep(unsigned long cp)
{
    return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Nova's 'name' format: printable, not starting or ending with a space. */
static bool valid_name(const char *s)
{
    unsigned long cp = 0;
    bool first = true;
    while (*s) {
        cp = next_cp(&s);
        if (!printable(cp) || (first && space_sep(cp)))
            return false;
        first = false;
    }
    return !space_sep(cp);
}

static bool all_printable(const char *s)
{
    while (*s)
        if (!printable(next_cp(&s)))
            return false;
    return true;
}

static int check_name(json_t *v, const char **out, struct st_err *err)
{
    const char *s;
    if (!json_is_string(v)) {
        bad_type(err, "name", v, "'string'");
        return -1;
    }
    s = json_string_value(v);
    if (!valid_name(s)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "An invalid 'name' value was provided. The name must be: printable "
                   "characters. Can not start or end with whitespace.");
        return -1;
    }
    if (!*s) {
        bad_input(err, "name", v, "'' is too short");
        return -1;
    }
    if (utf8_len(s) > FLAVOR_NAME_MAX) {
        bad_input(err, "name", v, "'%.40s...' is too long", s);
        return -1;
    }
    *out = s;
    return 0;
}

static int check_description(json_t *v, const char **out, struct st_err *err)
{
    const char *s;
    if (json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v)) {
        bad_type(err, "description", v, "'string', 'null'");
        return -1;
    }
    s = json_string_value(v);
    if (utf8_len(s) > FLAVOR_DESCRIPTION_MAX) {
        bad_input(err, "description", v, "'%.40s...' is too long", s);
        return -1;
    }
    if (!all_printable(s)) {
        bad_input(err, "description", v,
                  "'%s' does not match the pattern of printable characters", s);
        return -1;
    }
    *out = s;
    return 0;
}

/* flavor_param_positive / _non_negative: an integer, or a string of digits
 * that strutils.validate_integer() then checks. */
static int check_size(json_t *in, const char *key, const char *what, int64_t min,
                      int64_t *out, struct st_err *err)
{
    json_t *v = json_object_get(in, key);
    int64_t n;
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
        if (n < min) {
            bad_input(err, key, v, "%lld is less than the minimum of %lld", (long long) n,
                      (long long) min);
            return -1;
        }
        if (n > FLAVOR_INT_MAX) {
            bad_input(err, key, v, "%lld is greater than the maximum of %d", (long long) n,
                      FLAVOR_INT_MAX);
            return -1;
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!*s || strspn(s, "0123456789") != strlen(s)) {
            bad_input(err, key, v, "'%s' does not match '^[0-9]+$'", s);
            return -1;
        }
        if (st_parse_i64(s, 0, INT64_MAX, &n) < 0 || n > FLAVOR_INT_MAX) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input received: %s must be <= %d",
                       what, FLAVOR_INT_MAX);
            return -1;
        }
        if (n < min) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input received: %s must be >= %lld",
                       what, (long long) min);
            return -1;
        }
    } else {
        bad_type(err, key, v, "'integer', 'string'");
        return -1;
    }
    *out = n;
    return 0;
}

static int check_rxtx(json_t *v, double *out, struct st_err *err)
{
    double d;
    if (json_is_number(v)) {
        d = json_number_value(v);
        if (d <= 0 || d > RXTX_MAX) {
            struct st_buf num = ST_BUF_INIT;
            value_text(v, &num);
            if (d <= 0)
                bad_input(err, "rxtx_factor", v, "%s is less than or equal to the minimum of 0",
                          num.buf);
            else
                bad_input(err, "rxtx_factor", v, "%s is greater than the maximum of %g",
                          num.buf, RXTX_MAX);
            st_buf_release(&num);
            return -1;
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v), *dot;
        size_t head = strspn(s, "0123456789");
        char *end;
        dot = s + head;
        if (head == 0 || (*dot && (*dot != '.' || !dot[1] ||
                                   strspn(dot + 1, "0123456789") != strlen(dot + 1)))) {
            bad_input(err, "rxtx_factor", v, "'%s' does not match '^[0-9]+(\\.[0-9]+)?$'", s);
            return -1;
        }
        errno = 0;
        d = strtod(s, &end);
        if (errno || d <= 0 || d > RXTX_MAX) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input received: 'rxtx_factor' argument must be a float between "
                       "0 and %g",
                       RXTX_MAX);
            return -1;
        }
    } else {
        bad_type(err, "rxtx_factor", v, "'number', 'string'");
        return -1;
    }
    *out = d;
    return 0;
}

/* parameter_types.boolean. */
static int check_bool(json_t *v, const char *key, bool *out, struct st_err *err)
{
    static const char *const yes[] = {"True", "TRUE", "true", "1", "ON", "On", "on",
                                      "YES", "Yes", "yes"};
    static const char *const no[] = {"False", "FALSE", "false", "0", "OFF", "Off", "off",
                                     "NO", "No", "no"};
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    if (json_is_string(v)) {
        for (size_t i = 0; i < ST_ARRAY_SIZE(yes); i++) {
            if (!strcmp(json_string_value(v), yes[i]))
                return (*out = true), 0;
            if (!strcmp(json_string_value(v), no[i]))
                return (*out = false), 0;
        }
    }
    struct st_buf t = ST_BUF_INIT;
    if (json_is_string(v))
        st_buf_addf(&t, "'%s'", json_string_value(v));
    else
        value_text(v, &t);
    bad_input(err, key, v,
              "%s is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', "
              "'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', "
              "'off', 'NO', 'No', 'no']",
              t.buf);
    st_buf_release(&t);
    return -1;
}

/* The flavor id: a string matching ^(?! )[a-zA-Z0-9. _-]+(?<! )$, or a
 * number (stored as Python prints it), or null/absent/0 for a new UUID. */
static int check_id(json_t *v, char out[FLAVOR_ID_MAX + 1], struct st_err *err)
{
    char uuid[37];
    if (!v || json_is_null(v) || (json_is_number(v) && json_number_value(v) == 0)) {
        st_uuid(uuid);
        memcpy(out, uuid, sizeof(uuid));
        return 0;
    }
    if (json_is_integer(v)) {
        snprintf(out, FLAVOR_ID_MAX + 1, "%lld", (long long) json_integer_value(v));
        return 0;
    }
    if (json_is_real(v)) {
        py_float(json_real_value(v), out, FLAVOR_ID_MAX + 1);
        return 0;
    }
    if (!json_is_string(v)) {
        bad_type(err, "id", v, "'string', 'number', 'null'");
        return -1;
    }
    const char *s = json_string_value(v);
    size_t len = strlen(s);
    if (len == 0) {
        bad_input(err, "id", v, "'' is too short");
        return -1;
    }
    if (len > FLAVOR_ID_MAX) {
        bad_input(err, "id", v, "'%.40s...' is too long", s);
        return -1;
    }
    if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789. _-") != len ||
        s[0] == ' ' || s[len - 1] == ' ') {
        bad_input(err, "id", v, "'%s' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'", s);
        return -1;
    }
    memcpy(out, s, len + 1);
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

/* Extra specs are Nova's os-flavor-extra-specs:index: readers and admins. */
static bool may_read_specs(const struct auth_ctx *ctx)
{
    struct st_err ignored = ST_ERR_INIT;
    return policy_read(ctx, NULL, "flavor extra specs", "", &ignored) == 0;
}

static json_t *load_specs(struct store_conn *c, const char *id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT key, value FROM flavor_extra_specs"
                                       " WHERE flavor_id = ? ORDER BY key",
                                       STORE_ARGS(P(id)));
    json_t *o;
    int rc;
    if (!s)
        return NULL;
    o = json_object();
    while ((rc = store_next(s, err)) > 0)
        json_object_set_new(o, store_text(s, 0), json_string(store_text(s, 1)));
    store_done(s);
    if (rc < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The current row of a SELECT_FLAVOR, without extra specs. */
static json_t *row_json(struct store_stmt *s)
{
    const char *rxtx = store_text(s, 7);
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:b, s:b, s:o}", "id",
                     store_text(s, 0), "name", store_text(s, 1), "vcpus",
                     (json_int_t) store_int(s, 2), "ram", (json_int_t) store_int(s, 3), "disk",
                     (json_int_t) store_int(s, 4), "ephemeral", (json_int_t) store_int(s, 5),
                     "swap", (json_int_t) store_int(s, 6), "rxtx_factor",
                     rxtx ? strtod(rxtx, NULL) : 1.0, "is_public", (int) store_int(s, 8) != 0,
                     "disabled", (int) store_int(s, 9) != 0, "description",
                     st_json_str_or_null(store_text(s, 10)));
}

/* Adds "extra_specs" to each flavor of 'arr' when the caller may read them. */
static int add_specs(struct store_conn *c, const struct auth_ctx *ctx, json_t *arr,
                     struct st_err *err)
{
    size_t i;
    json_t *f;
    if (!may_read_specs(ctx))
        return 0;
    json_array_foreach(arr, i, f)
    {
        json_t *specs = load_specs(c, json_string_value(json_object_get(f, "id")), err);
        if (!specs)
            return -1;
        json_object_set_new(f, "extra_specs", specs);
    }
    return 0;
}

/* The flavor without extra specs if visible to the caller; NOT_FOUND. */
static json_t *get_plain(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         struct st_err *err)
{
    struct store_stmt *s;
    json_t *out = NULL;
    int rc;
    if (ctx->is_admin)
        s = store_query(c, err, SELECT_FLAVOR " WHERE f.id = ?", STORE_ARGS(P(id)));
    else
        s = store_query(c, err, SELECT_FLAVOR " WHERE f.id = ? AND " VISIBLE_SQL,
                        STORE_ARGS(P(id), P(ctx->project_id)));
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        out = row_json(s);
    else if (rc == 0)
        flavor_not_found(id, err);
    store_done(s);
    return out;
}

json_t *flavor_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                   struct st_err *err)
{
    json_t *f = get_plain(c, ctx, id, err);
    json_t *one;
    if (!f)
        return NULL;
    one = json_pack("[O]", f);
    if (add_specs(c, ctx, one, err) < 0) {
        json_decref(one);
        json_decref(f);
        return NULL;
    }
    json_decref(one);
    return f;
}

/* ---- listing ------------------------------------------------------------- */

const char *const flavor_sort_keys[] = {
    "created_at", "description", "disabled", "ephemeral_gb", "flavorid", "id", "is_public",
    "memory_mb", "name", "root_gb", "rxtx_factor", "swap", "updated_at", "vcpu_weight",
    "vcpus", NULL,
};

/* The SQL expression each sort key orders by, over alias 'f' and 'm'.
 * Nova's integer 'id' and the times follow creation; vcpu_weight is never
 * set here, so it sorts by the tie-breaker alone. */
static const struct {
    const char *key, *f, *m;
} sort_exprs[] = {
    {"created_at", "f.created_at", "m.created_at"},
    {"description", "COALESCE(f.description, '')", "COALESCE(m.description, '')"},
    {"disabled", "f.disabled", "m.disabled"},
    {"ephemeral_gb", "f.ephemeral", "m.ephemeral"},
    {"flavorid", "f.id", "m.id"},
    {"id", "f.created_at", "m.created_at"},
    {"is_public", "f.is_public", "m.is_public"},
    {"memory_mb", "f.ram", "m.ram"},
    {"name", "f.name", "m.name"},
    {"root_gb", "f.disk", "m.disk"},
    {"rxtx_factor", "CAST(f.rxtx_factor AS REAL)", "CAST(m.rxtx_factor AS REAL)"},
    {"swap", "f.swap", "m.swap"},
    {"updated_at", "f.created_at", "m.created_at"},
    {"vcpu_weight", "0", "0"},
    {"vcpus", "f.vcpus", "m.vcpus"},
};

void flavor_query_init(struct flavor_query *q)
{
    memset(q, 0, sizeof(*q));
    q->is_public = 1;
    q->limit = FLAVOR_LIST_MAX;
}

json_t *flavor_list(struct store_conn *c, const struct auth_ctx *ctx,
                    const struct flavor_query *q, struct st_err *err)
{
    struct st_buf sql = ST_BUF_INIT;
    struct store_param p[12];
    size_t np = 0;
    struct store_stmt *s = NULL;
    const char *fexpr = "f.id", *mexpr = "m.id", *dir = q->sort_desc ? "DESC" : "ASC";
    json_t *arr = NULL, *marker;
    int rc;

    for (size_t i = 0; q->sort_key && i < ST_ARRAY_SIZE(sort_exprs); i++)
        if (!strcmp(q->sort_key, sort_exprs[i].key)) {
            fexpr = sort_exprs[i].f;
            mexpr = sort_exprs[i].m;
        }
    if (q->marker) {
        struct st_err local = ST_ERR_INIT;
        marker = get_plain(c, ctx, q->marker, &local);
        if (!marker) {
            if (local.kind == ST_ERR_NOT_FOUND)
                st_err_set(err, ST_ERR_BAD_REQUEST, "marker [%s] not found", q->marker);
            else
                *err = local;
            return NULL;
        }
        json_decref(marker);
    }
    st_buf_adds(&sql, SELECT_FLAVOR " WHERE 1 = 1");
    if (q->has_min_ram) {
        st_buf_adds(&sql, " AND f.ram >= ?");
        p[np++] = P(q->min_ram);
    }
    if (q->has_min_disk) {
        st_buf_adds(&sql, " AND f.disk >= ?");
        p[np++] = P(q->min_disk);
    }
    if (!ctx->is_admin) {
        /* Nova forces is_public=True and disabled=False for non-admins. */
        st_buf_adds(&sql, " AND f.disabled = 0 AND " VISIBLE_SQL);
        p[np++] = P(ctx->project_id);
    } else if (q->is_public == 1) {
        /* Public, plus the private ones the admin's own project may use. */
        st_buf_adds(&sql, " AND " VISIBLE_SQL);
        p[np++] = P(ctx->project_id);
    } else if (q->is_public == 0) {
        st_buf_adds(&sql, " AND f.is_public = 0");
    }
    if (q->marker) {
        /* Keyset pagination on (sort expression, id), both in 'dir'. */
        const char *op = q->sort_desc ? "<" : ">";
        st_buf_addf(&sql,
                    " AND (%s %s (SELECT %s FROM flavors m WHERE m.id = ?)"
                    " OR (%s = (SELECT %s FROM flavors m WHERE m.id = ?) AND f.id %s ?))",
                    fexpr, op, mexpr, fexpr, mexpr, op);
        p[np++] = P(q->marker);
        p[np++] = P(q->marker);
        p[np++] = P(q->marker);
    }
    st_buf_addf(&sql, " ORDER BY %s %s, f.id %s LIMIT ?", fexpr, dir, dir);
    p[np++] = P((int64_t) q->limit);

    s = store_query(c, err, sql.buf, p, np);
    if (!s)
        goto out;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, row_json(s));
    store_done(s);
    if (rc < 0 || add_specs(c, ctx, arr, err) < 0) {
        json_decref(arr);
        arr = NULL;
    }
out:
    st_buf_release(&sql);
    return arr;
}

/* ---- writing ------------------------------------------------------------- */

struct flavor_new {
    char id[FLAVOR_ID_MAX + 1];
    const char *name;
    int64_t vcpus, ram, disk, ephemeral, swap;
    double rxtx;
    bool is_public;
    const char *description;
};

/* Inserts 'f' in its own transaction; CONFLICT with Nova's message when
 * the name or the id is taken. */
static int insert_flavor(struct store_conn *c, const struct flavor_new *f, struct st_err *err)
{
    struct st_err local = ST_ERR_INIT;
    char rxtx[40];
    int64_t one;
    int rc;

    py_float(f->rxtx, rxtx, sizeof(rxtx));
    if (store_begin(c, err) < 0)
        return -1;
    rc = store_get_int(c, err, &one, "SELECT 1 FROM flavors WHERE name = ?",
                       STORE_ARGS(P(f->name)));
    if (rc > 0)
        st_err_set(err, ST_ERR_CONFLICT, "Flavor with name %s already exists.", f->name);
    if (rc != 0)
        goto fail;
    rc = store_get_int(c, err, &one, "SELECT 1 FROM flavors WHERE id = ?", STORE_ARGS(P(f->id)));
    if (rc > 0)
        st_err_set(err, ST_ERR_CONFLICT, "Flavor with ID %s already exists.", f->id);
    if (rc != 0)
        goto fail;
    if (store_exec(c, &local,
                   "INSERT INTO flavors (id, name, vcpus, ram, disk, ephemeral, swap,"
                   " rxtx_factor, is_public, disabled, description, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                   STORE_ARGS(P(f->id), P(f->name), P(f->vcpus), P(f->ram), P(f->disk),
                              P(f->ephemeral), P(f->swap), P((const char *) rxtx),
                              P((int) f->is_public), P(f->description),
                              P(st_now_us() / 1000000))) < 0) {
        /* A concurrent create took the name or id after our look. */
        if (local.kind == ST_ERR_CONFLICT)
            st_err_set(err, ST_ERR_CONFLICT, "Flavor with name %s already exists.", f->name);
        else
            *err = local;
        goto fail;
    }
    if (store_commit(c, err) < 0)
        goto fail;
    return 0;
fail:
    store_rollback(c);
    return -1;
}

json_t *flavor_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                      bool description, struct st_err *err)
{
    static const char *const keys[] = {
        "name", "id", "ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap",
        "rxtx_factor", "os-flavor-access:is_public", "description",
    };
    static const char *const required[] = {"name", "ram", "vcpus", "disk"};
    struct flavor_new f = {.rxtx = 1.0, .is_public = true};
    const char *k;
    json_t *v;

    if (policy_admin(ctx, "os_compute_api:os-flavor-manage:create", err) < 0)
        return NULL;
    if (!json_is_object(in)) {
        bad_type(err, "flavor", in, "'object'");
        return NULL;
    }
    json_object_foreach(in, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < ST_ARRAY_SIZE(keys); i++)
            known |= !strcmp(k, keys[i]) && (description || strcmp(k, "description"));
        if (!known) {
            bad_input(err, "flavor", in,
                      "Additional properties are not allowed ('%s' was unexpected)", k);
            return NULL;
        }
    }
    for (size_t i = 0; i < ST_ARRAY_SIZE(required); i++)
        if (!json_object_get(in, required[i])) {
            bad_input(err, "flavor", in, "'%s' is a required property", required[i]);
            return NULL;
        }
    if (check_name(json_object_get(in, "name"), &f.name, err) < 0 ||
        check_id(json_object_get(in, "id"), f.id, err) < 0 ||
        check_size(in, "ram", "ram", 1, &f.ram, err) < 0 ||
        check_size(in, "vcpus", "vcpus", 1, &f.vcpus, err) < 0 ||
        check_size(in, "disk", "disk", 0, &f.disk, err) < 0 ||
        check_size(in, "OS-FLV-EXT-DATA:ephemeral", "ephemeral", 0, &f.ephemeral, err) < 0 ||
        check_size(in, "swap", "swap", 0, &f.swap, err) < 0)
        return NULL;
    if ((v = json_object_get(in, "rxtx_factor")) && check_rxtx(v, &f.rxtx, err) < 0)
        return NULL;
    if ((v = json_object_get(in, "os-flavor-access:is_public")) &&
        check_bool(v, "os-flavor-access:is_public", &f.is_public, err) < 0)
        return NULL;
    if (description && (v = json_object_get(in, "description")) &&
        check_description(v, &f.description, err) < 0)
        return NULL;
    if (insert_flavor(c, &f, err) < 0)
        return NULL;
    return flavor_get(c, ctx, f.id, err);
}

json_t *flavor_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                      json_t *in, struct st_err *err)
{
    const char *k, *desc = NULL;
    json_t *v;
    int64_t n;

    if (policy_admin(ctx, "os_compute_api:os-flavor-manage:update", err) < 0)
        return NULL;
    if (!json_is_object(in)) {
        bad_type(err, "flavor", in, "'object'");
        return NULL;
    }
    json_object_foreach(in, k, v)
    {
        if (strcmp(k, "description")) {
            bad_input(err, "flavor", in,
                      "Additional properties are not allowed ('%s' was unexpected)", k);
            return NULL;
        }
    }
    v = json_object_get(in, "description");
    if (!v) {
        bad_input(err, "flavor", in, "'description' is a required property");
        return NULL;
    }
    if (check_description(v, &desc, err) < 0)
        return NULL;
    n = store_exec(c, err, "UPDATE flavors SET description = ? WHERE id = ?",
                   STORE_ARGS(P(desc), P(id)));
    if (n < 0)
        return NULL;
    if (n == 0) {
        flavor_not_found(id, err);
        return NULL;
    }
    return flavor_get(c, ctx, id, err);
}

int flavor_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                  struct st_err *err)
{
    int64_t n;
    if (policy_admin(ctx, "os_compute_api:os-flavor-manage:delete", err) < 0)
        return -1;
    if (store_begin(c, err) < 0)
        return -1;
    /* The schema cascades; deleting explicitly keeps that true on a store
     * where foreign keys are off. */
    if (store_exec(c, err, "DELETE FROM flavor_extra_specs WHERE flavor_id = ?",
                   STORE_ARGS(P(id))) < 0 ||
        store_exec(c, err, "DELETE FROM flavor_access WHERE flavor_id = ?", STORE_ARGS(P(id))) <
            0 ||
        (n = store_exec(c, err, "DELETE FROM flavors WHERE id = ?", STORE_ARGS(P(id)))) < 0)
        goto fail;
    if (n == 0) {
        flavor_not_found(id, err);
        goto fail;
    }
    if (store_commit(c, err) < 0)
        goto fail;
    return 0;
fail:
    store_rollback(c);
    return -1;
}

/* ---- access lists -------------------------------------------------------- */

static json_t *access_json(struct store_conn *c, const char *id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT project_id FROM flavor_access"
                                       " WHERE flavor_id = ? ORDER BY project_id",
                                       STORE_ARGS(P(id)));
    json_t *arr;
    int rc;
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "flavor_id", id, "tenant_id",
                                             store_text(s, 0)));
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* Loads the flavor for an admin action; -1 with NOT_FOUND.  *is_public
 * tells whether it is public. */
static int admin_flavor(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        const char *action, bool *is_public, struct st_err *err)
{
    json_t *f;
    if (policy_admin(ctx, action, err) < 0 || !(f = get_plain(c, ctx, id, err)))
        return -1;
    *is_public = json_is_true(json_object_get(f, "is_public"));
    json_decref(f);
    return 0;
}

json_t *flavor_access_list(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           struct st_err *err)
{
    bool pub;
    if (admin_flavor(c, ctx, id, "os_compute_api:os-flavor-access", &pub, err) < 0)
        return NULL;
    if (pub) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Access list not available for public flavors.");
        return NULL;
    }
    return access_json(c, id, err);
}

json_t *flavor_access_add(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          const char *project, bool strict, struct st_err *err)
{
    struct st_err local = ST_ERR_INIT;
    bool pub;
    if (admin_flavor(c, ctx, id, "os_compute_api:os-flavor-access:add_tenant_access", &pub,
                     err) < 0)
        return NULL;
    if (pub && strict) {
        st_err_set(err, ST_ERR_CONFLICT, "Can not add access to a public flavor.");
        return NULL;
    }
    if (store_exec(c, &local, "INSERT INTO flavor_access (flavor_id, project_id) VALUES (?, ?)",
                   STORE_ARGS(P(id), P(project))) < 0) {
        if (local.kind == ST_ERR_CONFLICT)
            st_err_set(err, ST_ERR_CONFLICT,
                       "Flavor access already exists for flavor %s and project %s combination.",
                       id, project);
        else
            *err = local;
        return NULL;
    }
    return access_json(c, id, err);
}

json_t *flavor_access_remove(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                             const char *project, struct st_err *err)
{
    bool pub;
    int64_t n;
    if (admin_flavor(c, ctx, id, "os_compute_api:os-flavor-access:remove_tenant_access", &pub,
                     err) < 0)
        return NULL;
    n = store_exec(c, err, "DELETE FROM flavor_access WHERE flavor_id = ? AND project_id = ?",
                   STORE_ARGS(P(id), P(project)));
    if (n < 0)
        return NULL;
    if (n == 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Flavor access not found for %s / %s combination.", id,
                   project);
        return NULL;
    }
    return access_json(c, id, err);
}

/* ---- extra specs --------------------------------------------------------- */

static void no_spec(const char *id, const char *key, struct st_err *err)
{
    st_err_set(err, ST_ERR_NOT_FOUND, "Flavor %s has no extra specs with key %s.", id, key);
}

/* The flavor must be visible and the caller a reader. */
static int specs_readable(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          struct st_err *err)
{
    json_t *f = get_plain(c, ctx, id, err);
    if (!f)
        return -1;
    json_decref(f);
    if (!may_read_specs(ctx)) {
        st_err_set(err, ST_ERR_FORBIDDEN,
                   "Policy doesn't allow os_compute_api:os-flavor-extra-specs:index to be "
                   "performed.");
        return -1;
    }
    return 0;
}

json_t *flavor_specs_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         struct st_err *err)
{
    if (specs_readable(c, ctx, id, err) < 0)
        return NULL;
    return load_specs(c, id, err);
}

json_t *flavor_spec_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        const char *key, struct st_err *err)
{
    struct store_stmt *s;
    json_t *out = NULL;
    int rc;
    if (specs_readable(c, ctx, id, err) < 0)
        return NULL;
    s = store_query(c, err, "SELECT value FROM flavor_extra_specs WHERE flavor_id = ? AND key = ?",
                    STORE_ARGS(P(id), P(key)));
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        out = json_string(store_text(s, 0));
    else if (rc == 0)
        no_spec(id, key, err);
    store_done(s);
    return out;
}

int flavor_spec_check(const char *key, json_t *value, json_t **out, struct st_err *err)
{
    size_t len = strlen(key);
    char num[40];
    if (len == 0 || len > FLAVOR_SPEC_KEY_MAX ||
        strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:. ") !=
            len) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Additional properties are not allowed ('%s' was unexpected)", key);
        return -1;
    }
    if (json_is_string(value)) {
        if (utf8_len(json_string_value(value)) > FLAVOR_SPEC_VALUE_MAX) {
            bad_input(err, key, value, "'%.40s...' is too long", json_string_value(value));
            return -1;
        }
        *out = json_incref(value);
    } else if (json_is_integer(value)) {
        snprintf(num, sizeof(num), "%lld", (long long) json_integer_value(value));
        *out = json_string(num);
    } else if (json_is_real(value)) {
        py_float(json_real_value(value), num, sizeof(num));
        *out = json_string(num);
    } else {
        bad_type(err, key, value, "'string', 'number'");
        return -1;
    }
    return 0;
}

int flavor_specs_set(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                     json_t *specs, bool validate, struct st_err *err)
{
    json_t *checked = json_object(), *v, *f = NULL;
    const char *k;
    int64_t count;
    bool in_tx = false;
    int rc = -1;

    if (policy_admin(ctx, "os_compute_api:os-flavor-extra-specs:create", err) < 0)
        goto out;
    if (!json_is_object(specs)) {
        bad_type(err, "extra_specs", specs, "'object'");
        goto out;
    }
    json_object_foreach(specs, k, v)
    {
        json_t *s;
        if (flavor_spec_check(k, v, &s, err) < 0)
            goto out;
        json_object_set_new(checked, k, s);
        if (validate && flavor_spec_validate(k, json_string_value(s), err) < 0)
            goto out;
    }
    if (!(f = get_plain(c, ctx, id, err)) || store_begin(c, err) < 0)
        goto out;
    in_tx = true;
    json_object_foreach(checked, k, v)
    {
        if (store_exec(c, err,
                       "INSERT INTO flavor_extra_specs (flavor_id, key, value) VALUES (?, ?, ?)"
                       " ON CONFLICT (flavor_id, key) DO UPDATE SET value = excluded.value",
                       STORE_ARGS(P(id), P(k), P(json_string_value(v)))) < 0)
            goto out;
    }
    if (store_get_int(c, err, &count,
                      "SELECT COUNT(*) FROM flavor_extra_specs WHERE flavor_id = ?",
                      STORE_ARGS(P(id))) < 0)
        goto out;
    if (count > FLAVOR_SPECS_MAX) {
        st_err_set(err, ST_ERR_OVER_QUOTA, "A flavor may have at most %d extra specs.",
                   FLAVOR_SPECS_MAX);
        goto out;
    }
    if (store_commit(c, err) < 0)
        goto out;
    in_tx = false;
    rc = 0;
out:
    if (in_tx)
        store_rollback(c);
    json_decref(f);
    json_decref(checked);
    return rc;
}

int flavor_spec_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                       const char *key, struct st_err *err)
{
    json_t *f;
    int64_t n;
    if (policy_admin(ctx, "os_compute_api:os-flavor-extra-specs:delete", err) < 0 ||
        !(f = get_plain(c, ctx, id, err)))
        return -1;
    json_decref(f);
    n = store_exec(c, err, "DELETE FROM flavor_extra_specs WHERE flavor_id = ? AND key = ?",
                   STORE_ARGS(P(id), P(key)));
    if (n < 0)
        return -1;
    if (n == 0) {
        no_spec(id, key, err);
        return -1;
    }
    return 0;
}

/* ---- bootstrap ----------------------------------------------------------- */

int flavor_bootstrap(struct store_conn *c, struct st_err *err)
{
    static const struct {
        const char *id, *name;
        int vcpus, ram, disk;
        const char *description;
    } defaults[] = {
        /* Nova's defaults before Newton. */
        {"1", "m1.tiny", 1, 512, 1, NULL},
        {"2", "m1.small", 1, 2048, 20, NULL},
        {"3", "m1.medium", 2, 4096, 40, NULL},
        {"4", "m1.large", 4, 8192, 80, NULL},
        /* Small enough for TCG guests (DevStack's m1.nano/micro ids). */
        {"42", "tiny", 1, 128, 1, "1 vCPU, 128 MB: small test guests"},
        {"84", "small", 1, 256, 2, "1 vCPU, 256 MB: small test guests"},
    };
    int created = 0;

    for (size_t i = 0; i < ST_ARRAY_SIZE(defaults); i++) {
        struct flavor_new f = {
            .name = defaults[i].name,
            .vcpus = defaults[i].vcpus,
            .ram = defaults[i].ram,
            .disk = defaults[i].disk,
            .rxtx = 1.0,
            .is_public = true,
            .description = defaults[i].description,
        };
        int64_t one;
        int rc = store_get_int(c, err, &one, "SELECT 1 FROM flavors WHERE id = ? OR name = ?",
                               STORE_ARGS(P(defaults[i].id), P(defaults[i].name)));
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        memcpy(f.id, defaults[i].id, strlen(defaults[i].id) + 1);
        if (insert_flavor(c, &f, err) < 0)
            return -1;
        created++;
    }
    return created;
}

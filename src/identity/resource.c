/*
 * resource.c - the Keystone resources over the store: domains, projects,
 * users, roles, regions, services and endpoints, described by column tables.
 *
 * Every resource kind is a row in 'kinds' below: its table, its columns (with
 * JSON type, whether required on create, updatable, filterable), and the
 * constant members Keystone adds to its representation.  The generic
 * create/get/list/update code builds its SQL only from those constant names;
 * values are always bound.
 */
#include "identity/identity.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "identity/internal.h"
#include "identity/password.h"
#include "common/banned.h"

enum col_type { T_TEXT, T_BOOL };

#define F_REQ 0x01      /* required on create */
#define F_UPD 0x02      /* may be changed by update */
#define F_FILTER 0x04   /* a list filter */
#define F_OMITNULL 0x08 /* left out of the output when NULL */
#define F_NULLOK 0x10   /* may be set to null */
#define F_CLIENTID 0x20 /* (id only) the client may choose it */

struct col {
    const char *name; /* column and JSON member */
    enum col_type type;
    unsigned flags;
    size_t maxlen;
    const char *def; /* default on create ("1"/"0" for booleans) */
};

struct kind {
    const char *table;
    const char *name;   /* "project" */
    const char *plural; /* "projects" */
    const struct col *cols;
    size_t ncols;
    bool has_extra; /* free-form attributes kept in column 'extra' */
    bool has_created_at;
    const char *constants;    /* JSON object merged into every representation */
    const char *order;        /* ORDER BY clause */
    const char *unique_field; /* what a unique violation is about */
};

#define NAME_MAX_LEN 255
#define DESC_MAX_LEN 65535

static const struct col domain_cols[] = {
    {"id", T_TEXT, 0, 64, NULL},
    {"name", T_TEXT, F_REQ | F_UPD | F_FILTER, 64, NULL},
    {"description", T_TEXT, F_UPD, DESC_MAX_LEN, ""},
    {"enabled", T_BOOL, F_UPD | F_FILTER, 0, "1"},
};
static const struct col project_cols[] = {
    {"id", T_TEXT, 0, 64, NULL},
    {"name", T_TEXT, F_REQ | F_UPD | F_FILTER, 64, NULL},
    {"domain_id", T_TEXT, F_FILTER, 64, "default"},
    {"parent_id", T_TEXT, F_FILTER | F_NULLOK, 64, NULL},
    {"description", T_TEXT, F_UPD, DESC_MAX_LEN, ""},
    {"enabled", T_BOOL, F_UPD | F_FILTER, 0, "1"},
};
static const struct col user_cols[] = {
    {"id", T_TEXT, 0, 64, NULL},
    {"name", T_TEXT, F_REQ | F_UPD | F_FILTER, NAME_MAX_LEN, NULL},
    {"domain_id", T_TEXT, F_FILTER, 64, "default"},
    {"enabled", T_BOOL, F_UPD | F_FILTER, 0, "1"},
    {"default_project_id", T_TEXT, F_UPD | F_OMITNULL | F_NULLOK, 64, NULL},
    {"description", T_TEXT, F_UPD | F_OMITNULL | F_NULLOK, DESC_MAX_LEN, NULL},
    {"email", T_TEXT, F_UPD | F_OMITNULL | F_NULLOK, NAME_MAX_LEN, NULL},
};
static const struct col role_cols[] = {
    {"id", T_TEXT, 0, 64, NULL},
    {"name", T_TEXT, F_REQ | F_UPD | F_FILTER, NAME_MAX_LEN, NULL},
    {"description", T_TEXT, F_UPD | F_NULLOK, DESC_MAX_LEN, NULL},
};
static const struct col region_cols[] = {
    {"id", T_TEXT, F_CLIENTID, NAME_MAX_LEN, NULL},
    {"description", T_TEXT, F_UPD, DESC_MAX_LEN, ""},
    {"parent_region_id", T_TEXT, F_UPD | F_FILTER | F_NULLOK, NAME_MAX_LEN, NULL},
};
static const struct col service_cols[] = {
    {"id", T_TEXT, 0, 64, NULL},
    {"type", T_TEXT, F_REQ | F_UPD | F_FILTER, NAME_MAX_LEN, NULL},
    {"name", T_TEXT, F_UPD | F_FILTER | F_OMITNULL | F_NULLOK, NAME_MAX_LEN, NULL},
    {"description", T_TEXT, F_UPD | F_OMITNULL | F_NULLOK, DESC_MAX_LEN, NULL},
    {"enabled", T_BOOL, F_UPD | F_FILTER, 0, "1"},
};
static const struct col endpoint_cols[] = {
    {"id", T_TEXT, 0, 64, NULL},
    {"service_id", T_TEXT, F_REQ | F_UPD | F_FILTER, 64, NULL},
    {"interface", T_TEXT, F_REQ | F_UPD | F_FILTER, 16, NULL},
    {"region_id", T_TEXT, F_UPD | F_FILTER | F_NULLOK, NAME_MAX_LEN, NULL},
    {"url", T_TEXT, F_REQ | F_UPD, 2048, NULL},
    {"enabled", T_BOOL, F_UPD | F_FILTER, 0, "1"},
};

#define COLS(a) a, ST_ARRAY_SIZE(a)
static const struct kind kinds[IDN__COUNT] = {
    [IDN_DOMAIN] = {"domains", "domain", "domains", COLS(domain_cols), false, true,
                    "{\"tags\": [], \"options\": {}}", "name", "name"},
    [IDN_PROJECT] = {"projects", "project", "projects", COLS(project_cols), true, true,
                     "{\"is_domain\": false, \"tags\": [], \"options\": {}}", "name", "name"},
    [IDN_USER] = {"users", "user", "users", COLS(user_cols), true, true,
                  "{\"password_expires_at\": null, \"options\": {}}", "name", "name"},
    [IDN_ROLE] = {"roles", "role", "roles", COLS(role_cols), false, true,
                  "{\"domain_id\": null, \"options\": {}}", "name", "name"},
    [IDN_REGION] = {"regions", "region", "regions", COLS(region_cols), false, false, "{}", "id",
                    "id"},
    [IDN_SERVICE] = {"services", "service", "services", COLS(service_cols), false, false, "{}",
                     "type, id", "id"},
    [IDN_ENDPOINT] = {"endpoints", "endpoint", "endpoints", COLS(endpoint_cols), false, false, "{}",
                      "service_id, interface, id", "id"},
};

/* Members a client may send that are not columns and not extra attributes. */
static const char *const reserved_keys[] = {
    "id",     "links",     "password",  "options", "tags", "is_domain", "password_expires_at",
    "region", "domain_id", "parent_id", "extra"};

const char *idn_kind_name(enum idn_kind kind)
{
    return kinds[kind].name;
}

const char *idn_kind_plural(enum idn_kind kind)
{
    return kinds[kind].plural;
}

/* "SELECT id,name,... FROM table": built from the constant column names. */
static void select_sql(const struct kind *k, struct st_buf *sql)
{
    st_buf_adds(sql, "SELECT ");
    for (size_t i = 0; i < k->ncols; i++)
        st_buf_addf(sql, "%s%s", i ? ", " : "", k->cols[i].name);
    if (k->has_extra)
        st_buf_adds(sql, ", extra");
    st_buf_addf(sql, " FROM %s", k->table);
}

static json_t *row_json(const struct kind *k, struct store_stmt *s)
{
    json_t *o = json_loads(k->constants, 0, NULL);
    size_t i;
    if (!o)
        o = json_object();
    for (i = 0; i < k->ncols; i++) {
        const struct col *c = &k->cols[i];
        if (store_isnull(s, (int) i)) {
            if (!(c->flags & F_OMITNULL))
                json_object_set_new(o, c->name, json_null());
            continue;
        }
        if (c->type == T_BOOL)
            json_object_set_new(o, c->name, json_boolean(store_int(s, (int) i)));
        else
            json_object_set_new(o, c->name, json_string(store_text(s, (int) i)));
    }
    if (k->has_extra) {
        json_t *extra = json_loads(store_text(s, (int) i) ? store_text(s, (int) i) : "{}", 0, NULL);
        if (json_is_object(extra))
            json_object_update_missing(o, extra);
        json_decref(extra);
    }
    if (k == &kinds[IDN_ENDPOINT])
        json_object_set(o, "region", json_object_get(o, "region_id"));
    return o;
}

/* One row of a kind's SELECT (select_sql) as its JSON; 'arg' is the kind. */
static json_t *kind_row(struct store_conn *c, struct store_stmt *s, void *arg, struct st_err *err)
{
    (void) c;
    (void) err;
    return row_json(arg, s);
}

static void not_found(const struct kind *k, const char *id, struct st_err *err)
{
    st_err_set(err, ST_ERR_NOT_FOUND, "Could not find %s: %s.", k->name, id);
}

json_t *idn_get(struct store_conn *c, enum idn_kind kind, const char *id, struct st_err *err)
{
    const struct kind *k = &kinds[kind];
    struct st_buf sql = ST_BUF_INIT;
    struct store_stmt *s;
    json_t *o = NULL;
    int rc;

    select_sql(k, &sql);
    st_buf_adds(&sql, " WHERE id = ?");
    s = store_query(c, err, sql.buf, STORE_ARGS(P(id)));
    st_buf_release(&sql);
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        o = row_json(k, s);
    else if (rc == 0)
        not_found(k, id, err);
    store_done(s);
    return o;
}

int idn_exists(struct store_conn *c, enum idn_kind kind, const char *id, struct st_err *err)
{
    struct st_buf sql = ST_BUF_INIT;
    int64_t one;
    int rc;
    st_buf_addf(&sql, "SELECT 1 FROM %s WHERE id = ?", kinds[kind].table);
    rc = store_get_int(c, err, &one, sql.buf, STORE_ARGS(P(id)));
    st_buf_release(&sql);
    return rc;
}

static int parse_bool_filter(const char *v, bool *out)
{
    if (st_parse_bool(v, out) == 0)
        return 0;
    return -1;
}

json_t *idn_list(struct store_conn *c, enum idn_kind kind, const struct idn_filter *filters,
                 size_t nfilters, struct st_err *err)
{
    const struct kind *k = &kinds[kind];
    struct st_buf sql = ST_BUF_INIT;
    struct store_param p[STORE_MAX_PARAMS];
    size_t np = 0;
    json_t *arr = NULL;

    select_sql(k, &sql);
    st_buf_adds(&sql, " WHERE 1 = 1");
    for (size_t f = 0; f < nfilters && np < STORE_MAX_PARAMS; f++) {
        for (size_t i = 0; i < k->ncols; i++) {
            const struct col *col = &k->cols[i];
            if (!(col->flags & F_FILTER) || strcmp(col->name, filters[f].key))
                continue;
            if (col->type == T_BOOL) {
                bool b;
                if (parse_bool_filter(filters[f].value, &b) < 0) {
                    st_err_set(err, ST_ERR_BAD_REQUEST,
                               "Invalid value for filter '%s': expected a boolean", filters[f].key);
                    st_buf_release(&sql);
                    return NULL;
                }
                st_buf_addf(&sql, " AND %s = ?", col->name);
                p[np++] = store_pint(b);
            } else {
                st_buf_addf(&sql, " AND %s = ?", col->name);
                p[np++] = store_ptext(filters[f].value);
            }
        }
        /* Endpoints: Keystone's legacy "region" filter. */
        if (kind == IDN_ENDPOINT && !strcmp(filters[f].key, "region")) {
            st_buf_adds(&sql, " AND region_id = ?");
            p[np++] = store_ptext(filters[f].value);
        }
    }
    st_buf_addf(&sql, " ORDER BY %s", k->order);
    arr = store_collect(c, err, kind_row, (void *) k, sql.buf, p, np);
    st_buf_release(&sql);
    return arr;
}

static bool is_reserved(const char *key)
{
    for (size_t i = 0; i < ST_ARRAY_SIZE(reserved_keys); i++)
        if (!strcmp(key, reserved_keys[i]))
            return true;
    return false;
}

static const struct col *find_col(const struct kind *k, const char *name)
{
    for (size_t i = 0; i < k->ncols; i++)
        if (!strcmp(k->cols[i].name, name))
            return &k->cols[i];
    return NULL;
}

/* Reads one column's value from a request object.  Sets *present. */
static int read_col(json_t *in, const struct col *col, struct store_param *out, bool *present,
                    struct st_err *err)
{
    json_t *v = json_object_get(in, col->name);
    *present = v != NULL;
    if (!v)
        return 0;
    if (json_is_null(v)) {
        if (!(col->flags & F_NULLOK)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field '%s': None is not %s",
                       col->name, col->type == T_BOOL ? "a boolean" : "a string");
            return -1;
        }
        *out = store_ptext(NULL);
        return 0;
    }
    if (col->type == T_BOOL) {
        bool b;
        if (jget_bool(in, col->name, false, &b, err) < 0)
            return -1;
        *out = store_pint(b);
        return 0;
    }
    const char *s;
    if (jget_str(in, col->name, false, col->maxlen, &s, err) < 0)
        return -1;
    if ((col->flags & F_REQ) && strspn(s, " \t\r\n") == strlen(s)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field '%s': it must not be empty",
                   col->name);
        return -1;
    }
    *out = store_ptext(s);
    return 0;
}

/* Collects the members of 'in' that are neither columns nor reserved into
 * the 'extra' JSON text.  'base' is the current extra (for updates). */
static char *collect_extra(const struct kind *k, json_t *in, const char *base, struct st_err *err)
{
    json_t *extra = json_loads(base ? base : "{}", 0, NULL);
    const char *key;
    json_t *v;
    char *text;
    if (!json_is_object(extra)) {
        json_decref(extra);
        extra = json_object();
    }
    json_object_foreach(in, key, v)
    {
        if (find_col(k, key) || is_reserved(key))
            continue;
        if (strlen(key) > 255) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid attribute name: longer than 255");
            json_decref(extra);
            return NULL;
        }
        json_object_set(extra, key, v);
    }
    text = json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(extra);
    if (text && strlen(text) > 65535) {
        free(text);
        st_err_set(err, ST_ERR_BAD_REQUEST, "Too much extra data: at most 64 KiB");
        return NULL;
    }
    return text;
}

static void conflict(const struct kind *k, json_t *in, struct st_err *local, struct st_err *err)
{
    const char *v = json_string_value(json_object_get(in, k->unique_field));
    if (!strcmp(local->type, "foreign_key")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid reference in %s: a referenced resource does not exist", k->name);
        return;
    }
    st_err_set(err, ST_ERR_CONFLICT,
               "Conflict occurred attempting to store %s - Duplicate entry found with %s %s.",
               k->name, k->unique_field, v ? v : "(unknown)");
}

static int hash_new_password(struct identity *idn, json_t *in, char **hash, struct st_err *err)
{
    const char *pw = NULL;
    struct st_buf b = ST_BUF_INIT;
    bool present;
    *hash = NULL;
    if (jget_str_n(in, "password", false, 4096, &pw, &present, err) < 0)
        return -1;
    if (!pw)
        return 0;
    if (password_hash(pw, idn->hash_cost, &b, err) < 0) {
        st_buf_release(&b);
        return -1;
    }
    *hash = st_buf_detach(&b, NULL);
    return 0;
}

static int check_interface(json_t *in, struct st_err *err)
{
    const char *iface = json_string_value(json_object_get(in, "interface"));
    if (iface && strcmp(iface, "public") && strcmp(iface, "internal") && strcmp(iface, "admin")) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field 'interface': '%s' is not one of public, internal, "
                   "admin",
                   iface);
        return -1;
    }
    return 0;
}

/* Checks that a referenced resource exists: BAD_REQUEST naming it if not. */
static int check_ref(struct store_conn *c, enum idn_kind kind, const char *id, struct st_err *err)
{
    int rc;
    if (!id)
        return 0;
    rc = idn_exists(c, kind, id, err);
    if (rc == 0) {
        st_err_set(err, kind == IDN_DOMAIN ? ST_ERR_NOT_FOUND : ST_ERR_BAD_REQUEST,
                   "Could not find %s: %s.", kinds[kind].name, id);
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

json_t *idn_create(struct identity *idn, struct store_conn *c, enum idn_kind kind, json_t *in,
                   struct st_err *err)
{
    const struct kind *k = &kinds[kind];
    struct store_param p[STORE_MAX_PARAMS];
    struct st_buf sql = ST_BUF_INIT, vals = ST_BUF_INIT;
    struct st_err local = ST_ERR_INIT;
    char id[65] = "", *extra = NULL, *hash = NULL;
    const char *domain_id = NULL, *region_ref = NULL;
    json_t *out = NULL;
    size_t np = 0;

    if (!json_is_object(in)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input: '%s' must be an object", k->name);
        return NULL;
    }
    if ((k->cols[0].flags & F_CLIENTID) && json_object_get(in, "id")) {
        const char *cid;
        if (jget_str(in, "id", true, k->cols[0].maxlen, &cid, err) < 0)
            return NULL;
        if (st_snprintf(id, sizeof(id), "%s", cid) < 0 || !*cid) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'id'");
            return NULL;
        }
    } else {
        st_uuid_hex(id);
    }
    if (kind == IDN_ENDPOINT && check_interface(in, err) < 0)
        return NULL;

    st_buf_addf(&sql, "INSERT INTO %s (id", k->table);
    st_buf_adds(&vals, "?");
    p[np++] = store_ptext(id);
    for (size_t i = 1; i < k->ncols; i++) {
        const struct col *col = &k->cols[i];
        bool present;
        struct store_param v;
        if (read_col(in, col, &v, &present, err) < 0)
            goto out;
        /* Endpoints: the legacy "region" stands for region_id. */
        if (!present && kind == IDN_ENDPOINT && !strcmp(col->name, "region_id")) {
            json_t *r = json_object_get(in, "region");
            if (json_is_string(r)) {
                v = store_ptext(json_string_value(r));
                present = true;
            }
        }
        if (!present) {
            if (col->flags & F_REQ) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field '%s': it is required",
                           col->name);
                goto out;
            }
            if (col->type == T_BOOL)
                v = store_pint(col->def && col->def[0] == '1');
            else
                v = store_ptext(col->def);
        }
        if (!strcmp(col->name, "domain_id"))
            domain_id = v.s;
        if (!strcmp(col->name, "region_id"))
            region_ref = v.s;
        if (!strcmp(col->name, "parent_id") && kind == IDN_PROJECT && v.type == 'n')
            v = store_ptext(domain_id); /* a top-level project's parent is its domain */
        st_buf_addf(&sql, ", %s", col->name);
        st_buf_adds(&vals, ", ?");
        p[np++] = v;
    }
    if (k->has_extra) {
        extra = collect_extra(k, in, NULL, err);
        if (!extra)
            goto out;
        st_buf_adds(&sql, ", extra");
        st_buf_adds(&vals, ", ?");
        p[np++] = store_ptext(extra);
    }
    if (k->has_created_at) {
        st_buf_adds(&sql, ", created_at");
        st_buf_adds(&vals, ", ?");
        p[np++] = store_pint(st_now_us() / 1000000);
    }
    if (kind == IDN_USER) {
        if (hash_new_password(idn, in, &hash, err) < 0)
            goto out;
        st_buf_adds(&sql, ", password_hash");
        st_buf_adds(&vals, ", ?");
        p[np++] = store_ptext(hash);
    }
    st_buf_addf(&sql, ") VALUES (%s)", vals.buf);

    /* References get a clear message rather than a constraint error. */
    if ((kind == IDN_PROJECT || kind == IDN_USER) && check_ref(c, IDN_DOMAIN, domain_id, err) < 0)
        goto out;
    if (kind == IDN_PROJECT) {
        const char *parent = json_string_value(json_object_get(in, "parent_id"));
        if (parent && strcmp(parent, domain_id) && check_ref(c, IDN_PROJECT, parent, err) < 0)
            goto out;
    }
    if (kind == IDN_ENDPOINT) {
        if (check_ref(c, IDN_SERVICE, json_string_value(json_object_get(in, "service_id")), err) <
            0)
            goto out;
        if (check_ref(c, IDN_REGION, region_ref, err) < 0)
            goto out;
    }
    if (kind == IDN_REGION &&
        check_ref(c, IDN_REGION, json_string_value(json_object_get(in, "parent_region_id")), err) <
            0)
        goto out;

    if (store_exec(c, &local, sql.buf, p, np) < 0) {
        if (local.kind == ST_ERR_CONFLICT) {
            if (kind == IDN_REGION)
                st_err_set(err, ST_ERR_CONFLICT,
                           "Conflict occurred attempting to store region - Duplicate ID, %s.", id);
            else
                conflict(k, in, &local, err);
        } else {
            *err = local;
        }
        goto out;
    }
    idn_changed();
    out = idn_get(c, kind, id, err);
out:
    if (hash) {
        explicit_bzero(hash, strlen(hash));
        free(hash);
    }
    free(extra);
    st_buf_release(&sql);
    st_buf_release(&vals);
    return out;
}

json_t *idn_update(struct identity *idn, struct store_conn *c, enum idn_kind kind, const char *id,
                   json_t *in, struct st_err *err)
{
    const struct kind *k = &kinds[kind];
    struct store_param p[STORE_MAX_PARAMS];
    struct st_buf sql = ST_BUF_INIT;
    struct st_err local = ST_ERR_INIT;
    char *extra = NULL, *hash = NULL;
    json_t *cur = NULL, *out = NULL;
    size_t np = 0;
    const char *key;
    json_t *v;

    if (!json_is_object(in)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input: '%s' must be an object", k->name);
        return NULL;
    }
    cur = idn_get(c, kind, id, err);
    if (!cur)
        return NULL;
    json_object_foreach(in, key, v)
    {
        const struct col *col = find_col(k, key);
        if (!strcmp(key, "id") && json_is_string(v) && !strcmp(json_string_value(v), id))
            continue;
        if (col && (col->flags & F_UPD))
            continue;
        if (col || !strcmp(key, "id") || !strcmp(key, "is_domain")) {
            json_t *curv = json_object_get(cur, key);
            if (curv && json_equal(curv, v))
                continue; /* unchanged: harmless */
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field '%s': it cannot be "
                       "changed",
                       key);
            goto out;
        }
    }
    if (kind == IDN_ENDPOINT && check_interface(in, err) < 0)
        goto out;
    st_buf_addf(&sql, "UPDATE %s SET id = id", k->table);
    for (size_t i = 1; i < k->ncols; i++) {
        const struct col *col = &k->cols[i];
        bool present;
        struct store_param pv;
        if (!(col->flags & F_UPD))
            continue;
        if (read_col(in, col, &pv, &present, err) < 0)
            goto out;
        if (!present)
            continue;
        if (kind == IDN_ENDPOINT && !strcmp(col->name, "service_id") &&
            check_ref(c, IDN_SERVICE, pv.s, err) < 0)
            goto out;
        if (kind == IDN_ENDPOINT && !strcmp(col->name, "region_id") &&
            check_ref(c, IDN_REGION, pv.s, err) < 0)
            goto out;
        if (kind == IDN_REGION && !strcmp(col->name, "parent_region_id") && pv.s &&
            !strcmp(pv.s, id)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "A region cannot be its own parent");
            goto out;
        }
        st_buf_addf(&sql, ", %s = ?", col->name);
        p[np++] = pv;
    }
    if (k->has_extra) {
        json_t *base = json_object();
        const char *ek;
        json_t *ev;
        char *btext;
        /* The current extra attributes are the members that are not columns
         * and not constants. */
        json_t *consts = json_loads(k->constants, 0, NULL);
        json_object_foreach(cur, ek, ev)
        {
            if (!find_col(k, ek) && !json_object_get(consts, ek))
                json_object_set(base, ek, ev);
        }
        json_decref(consts);
        btext = json_dumps(base, JSON_COMPACT);
        json_decref(base);
        extra = collect_extra(k, in, btext, err);
        free(btext);
        if (!extra)
            goto out;
        st_buf_adds(&sql, ", extra = ?");
        p[np++] = store_ptext(extra);
    }
    if (kind == IDN_USER) {
        if (hash_new_password(idn, in, &hash, err) < 0)
            goto out;
        if (hash) {
            st_buf_adds(&sql, ", password_hash = ?");
            p[np++] = store_ptext(hash);
        }
    }
    st_buf_adds(&sql, " WHERE id = ?");
    p[np++] = store_ptext(id);
    if (store_exec(c, &local, sql.buf, p, np) < 0) {
        if (local.kind == ST_ERR_CONFLICT)
            conflict(k, in, &local, err);
        else
            *err = local;
        goto out;
    }
    if (hash && idn_revoke_user(idn, c, id, err) < 0)
        goto out;
    idn_changed();
    out = idn_get(c, kind, id, err);
out:
    if (hash) {
        explicit_bzero(hash, strlen(hash));
        free(hash);
    }
    free(extra);
    json_decref(cur);
    st_buf_release(&sql);
    return out;
}

int idn_delete(struct store_conn *c, enum idn_kind kind, const char *id, struct st_err *err)
{
    const struct kind *k = &kinds[kind];
    struct st_buf sql = ST_BUF_INIT;
    struct st_err local = ST_ERR_INIT;
    int64_t n;
    int rc = -1;

    if (store_begin(c, err) < 0)
        return -1;
    if (kind == IDN_DOMAIN) {
        int64_t enabled = 0;
        int r = store_get_int(c, err, &enabled, "SELECT enabled FROM domains WHERE id = ?",
                              STORE_ARGS(P(id)));
        if (r < 0)
            goto out;
        if (r == 0) {
            not_found(k, id, err);
            goto out;
        }
        if (enabled) {
            st_err_set(err, ST_ERR_FORBIDDEN,
                       "Cannot delete a domain that is enabled, please disable it first.");
            goto out;
        }
        /* Deleting a domain deletes what it owns, as Keystone does. */
        if (store_exec(c, err,
                       "DELETE FROM role_assignments WHERE target_id = ? OR target_id IN"
                       " (SELECT id FROM projects WHERE domain_id = ?)",
                       STORE_ARGS(P(id), P(id))) < 0 ||
            store_exec(c, err, "DELETE FROM users WHERE domain_id = ?", STORE_ARGS(P(id))) < 0 ||
            store_exec(c, err, "DELETE FROM projects WHERE domain_id = ?", STORE_ARGS(P(id))) < 0)
            goto out;
    }
    if (kind == IDN_PROJECT) {
        int64_t one;
        int r = store_get_int(c, err, &one, "SELECT 1 FROM projects WHERE parent_id = ?",
                              STORE_ARGS(P(id)));
        if (r < 0)
            goto out;
        if (r > 0) {
            st_err_set(err, ST_ERR_FORBIDDEN, "Cannot delete project %s: it has child projects.",
                       id);
            goto out;
        }
        if (store_exec(c, err, "DELETE FROM role_assignments WHERE target_id = ?",
                       STORE_ARGS(P(id))) < 0)
            goto out;
    }
    if (kind == IDN_REGION) {
        int64_t one;
        int r = store_get_int(c, err, &one, "SELECT 1 FROM regions WHERE parent_region_id = ?",
                              STORE_ARGS(P(id)));
        if (r < 0)
            goto out;
        if (r > 0) {
            st_err_set(err, ST_ERR_FORBIDDEN, "Cannot delete region %s: it has child regions.", id);
            goto out;
        }
        if (store_exec(c, err, "UPDATE endpoints SET region_id = NULL WHERE region_id = ?",
                       STORE_ARGS(P(id))) < 0)
            goto out;
    }
    st_buf_addf(&sql, "DELETE FROM %s WHERE id = ?", k->table);
    n = store_exec(c, &local, sql.buf, STORE_ARGS(P(id)));
    if (n < 0) {
        if (local.kind == ST_ERR_CONFLICT)
            st_err_set(err, ST_ERR_CONFLICT, "Cannot delete %s %s: it is in use.", k->name, id);
        else
            *err = local;
        goto out;
    }
    if (n == 0) {
        not_found(k, id, err);
        goto out;
    }
    if (store_commit(c, err) < 0)
        goto out;
    rc = 0;
    idn_changed();
out:
    if (rc < 0)
        store_rollback(c);
    st_buf_release(&sql);
    return rc;
}

json_t *idn_select(struct store_conn *c, struct st_err *err, enum idn_kind kind, const char *where,
                   const struct store_param *params, size_t n)
{
    struct st_buf sql = ST_BUF_INIT;
    json_t *arr;
    select_sql(&kinds[kind], &sql);
    st_buf_adds(&sql, where);
    arr = store_collect(c, err, kind_row, (void *) &kinds[kind], sql.buf, params, n);
    st_buf_release(&sql);
    return arr;
}

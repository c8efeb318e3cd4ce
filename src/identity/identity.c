/*
 * identity.c - Keystone v3 logic over the store: resources described by
 * column tables, password and token authentication, validation with
 * revocation, the catalog, role assignments and the bootstrap.
 *
 * Every resource kind is a row in 'kinds' below: its table, its columns (with
 * JSON type, whether required on create, updatable, filterable), and the
 * constant members Keystone adds to its representation.  The generic
 * create/get/list/update code builds its SQL only from those constant names;
 * values are always bound.
 */
#include "identity/identity.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "identity/password.h"
#include "identity/token.h"
#include "common/banned.h"

/*
 * Validated tokens are cached for a few seconds, so that an authenticated
 * request costs a hash lookup instead of four queries.  Every identity write
 * of this process bumps 'epoch', which invalidates the whole cache at once:
 * a revocation, a disabled user or a removed role takes effect immediately
 * here; another controller process sharing the store (PostgreSQL) sees it
 * within VALIDATION_CACHE_US.  An entry records the epoch read *before* its
 * validation started, so a write racing with a validation leaves a stale
 * entry that can never match.
 */
#define VALIDATION_CACHE_SLOTS 128
#define VALIDATION_CACHE_US (5 * 1000000)

struct cached_token {
    char *token;           /* owned; NULL when the slot is empty */
    struct auth_ctx ctx;
    uint64_t epoch;
    int64_t until;         /* epoch microseconds */
};

static atomic_uint_fast64_t identity_epoch = 1;

/* Invalidates every cached validation (after any identity write). */
static void identity_changed(void)
{
    atomic_fetch_add(&identity_epoch, 1);
}

struct identity {
    struct store *st;
    char *key_dir;
    int64_t ttl_us;
    int hash_cost;
    pthread_rwlock_t lock; /* guards 'keys' */
    struct token_keys *keys;
    int64_t last_reload_ns;
    pthread_mutex_t cache_lock;
    struct cached_token *cache; /* VALIDATION_CACHE_SLOTS, allocated on first use */
};

/* ---- resource descriptions ---------------------------------------------- */

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
    identity_changed();
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

static int revoke_user(struct identity *idn, struct store_conn *c, const char *user_id,
                       struct st_err *err)
{
    char rid[33];
    int64_t now = st_now_us();
    st_uuid_hex(rid);
    return store_exec(c, err,
                      "INSERT INTO revocations (id, audit_id, user_id, project_id, issued_before,"
                      " expires_at) VALUES (?, NULL, ?, NULL, ?, ?)",
                      STORE_ARGS(P(rid), P(user_id), P(now), P(now + idn->ttl_us))) < 0
               ? -1
               : 0;
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
    if (hash && revoke_user(idn, c, id, err) < 0)
        goto out;
    identity_changed();
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
    identity_changed();
out:
    if (rc < 0)
        store_rollback(c);
    st_buf_release(&sql);
    return rc;
}

/* ---- role assignments --------------------------------------------------- */

static const char *assign_type(const char *target_type)
{
    return !strcmp(target_type, "domain") ? "UserDomain" : "UserProject";
}

int idn_grant(struct store_conn *c, const char *target_type, const char *target_id,
              const char *user_id, const char *role_id, struct st_err *err)
{
    bool domain = !strcmp(target_type, "domain");
    int r = idn_exists(c, domain ? IDN_DOMAIN : IDN_PROJECT, target_id, err);
    if (r <= 0) {
        if (r == 0)
            st_err_set(err, ST_ERR_NOT_FOUND, "Could not find %s: %s.", target_type, target_id);
        return -1;
    }
    if (idn_exists(c, IDN_USER, user_id, err) <= 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Could not find user: %s.", user_id);
        return -1;
    }
    if (idn_exists(c, IDN_ROLE, role_id, err) <= 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Could not find role: %s.", role_id);
        return -1;
    }
    if (store_exec(c, err,
                   "INSERT INTO role_assignments (type, actor_id, target_id, role_id)"
                   " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                   STORE_ARGS(P(assign_type(target_type)), P(user_id), P(target_id),
                              P(role_id))) < 0)
        return -1;
    identity_changed();
    return 0;
}

int idn_revoke_grant(struct store_conn *c, const char *target_type, const char *target_id,
                     const char *user_id, const char *role_id, struct st_err *err)
{
    int64_t n =
        store_exec(c, err,
                   "DELETE FROM role_assignments WHERE type = ? AND actor_id = ? AND"
                   " target_id = ? AND role_id = ?",
                   STORE_ARGS(P(assign_type(target_type)), P(user_id), P(target_id), P(role_id)));
    if (n < 0)
        return -1;
    if (n == 0) {
        st_err_set(err, ST_ERR_NOT_FOUND,
                   "Could not find role assignment with role: %s, user "
                   "or group: %s, project, domain, or system: %s.",
                   role_id, user_id, target_id);
        return -1;
    }
    identity_changed();
    return 0;
}

int idn_check_grant(struct store_conn *c, const char *target_type, const char *target_id,
                    const char *user_id, const char *role_id, struct st_err *err)
{
    int64_t one;
    return store_get_int(
        c, err, &one,
        "SELECT 1 FROM role_assignments WHERE type = ? AND actor_id = ? AND"
        " target_id = ? AND role_id = ?",
        STORE_ARGS(P(assign_type(target_type)), P(user_id), P(target_id), P(role_id)));
}

json_t *idn_grant_roles(struct store_conn *c, const char *target_type, const char *target_id,
                        const char *user_id, struct st_err *err)
{
    struct st_buf sql = ST_BUF_INIT;
    json_t *arr;
    select_sql(&kinds[IDN_ROLE], &sql);
    st_buf_adds(&sql, " WHERE id IN (SELECT role_id FROM role_assignments WHERE type = ? AND"
                      " actor_id = ? AND target_id = ?) ORDER BY name");
    arr = store_collect(c, err, kind_row, (void *) &kinds[IDN_ROLE], sql.buf,
                        STORE_ARGS(P(assign_type(target_type)), P(user_id), P(target_id)));
    st_buf_release(&sql);
    return arr;
}

static json_t *id_name(const char *id, const char *name, bool names)
{
    json_t *o = json_pack("{s:s}", "id", id ? id : "");
    if (names && name)
        json_object_set_new(o, "name", json_string(name));
    return o;
}

json_t *idn_assignments(struct store_conn *c, const struct idn_filter *filters, size_t n,
                        bool include_names, struct st_err *err)
{
    struct st_buf sql = ST_BUF_INIT;
    struct store_param p[STORE_MAX_PARAMS];
    size_t np = 0;
    struct store_stmt *s;
    json_t *arr;
    int rc;

    st_buf_adds(&sql,
                "SELECT a.type, a.actor_id, a.target_id, a.role_id, r.name, u.name, u.domain_id,"
                " ud.name, p.name, p.domain_id, pd.name, d.name"
                " FROM role_assignments a"
                " JOIN roles r ON r.id = a.role_id"
                " JOIN users u ON u.id = a.actor_id"
                " JOIN domains ud ON ud.id = u.domain_id"
                " LEFT JOIN projects p ON a.type = 'UserProject' AND p.id = a.target_id"
                " LEFT JOIN domains pd ON pd.id = p.domain_id"
                " LEFT JOIN domains d ON a.type = 'UserDomain' AND d.id = a.target_id"
                " WHERE 1 = 1");
    for (size_t i = 0; i < n && np + 1 < STORE_MAX_PARAMS; i++) {
        const char *k = filters[i].key;
        if (!strcmp(k, "user.id")) {
            st_buf_adds(&sql, " AND a.actor_id = ?");
            p[np++] = store_ptext(filters[i].value);
        } else if (!strcmp(k, "scope.project.id")) {
            st_buf_adds(&sql, " AND a.type = 'UserProject' AND a.target_id = ?");
            p[np++] = store_ptext(filters[i].value);
        } else if (!strcmp(k, "scope.domain.id")) {
            st_buf_adds(&sql, " AND a.type = 'UserDomain' AND a.target_id = ?");
            p[np++] = store_ptext(filters[i].value);
        } else if (!strcmp(k, "role.id")) {
            st_buf_adds(&sql, " AND a.role_id = ?");
            p[np++] = store_ptext(filters[i].value);
        } else if (!strcmp(k, "group.id") || !strcmp(k, "scope.system")) {
            st_buf_adds(&sql, " AND 1 = 0"); /* no groups, no system scope */
        }
    }
    st_buf_adds(&sql, " ORDER BY a.actor_id, a.target_id, r.name");
    s = store_query(c, err, sql.buf, p, np);
    st_buf_release(&sql);
    if (!s)
        return NULL;
    arr = json_array();
    while ((rc = store_next(s, err)) > 0) {
        bool domain = !strcmp(store_text(s, 0), "UserDomain");
        json_t *user = id_name(store_text(s, 1), store_text(s, 5), include_names);
        json_t *scope_obj;
        if (include_names)
            json_object_set_new(user, "domain", id_name(store_text(s, 6), store_text(s, 7), true));
        if (domain) {
            scope_obj = id_name(store_text(s, 2), store_text(s, 11), include_names);
        } else {
            scope_obj = id_name(store_text(s, 2), store_text(s, 8), include_names);
            if (include_names)
                json_object_set_new(scope_obj, "domain",
                                    id_name(store_text(s, 9), store_text(s, 10), true));
        }
        json_t *a = json_object();
        json_object_set_new(a, "role", id_name(store_text(s, 3), store_text(s, 4), include_names));
        json_object_set_new(a, "user", user);
        json_object_set_new(a, "scope",
                            json_pack("{s:o}", domain ? "domain" : "project", scope_obj));
        json_array_append_new(arr, a);
    }
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- tokens ------------------------------------------------------------- */

struct identity *identity_new(struct store *st, const struct identity_opts *opts,
                              struct st_err *err)
{
    struct token_keys *keys = token_keys_load(opts->key_dir, err);
    struct identity *idn;
    if (!keys)
        return NULL;
    idn = st_xcalloc(1, sizeof(*idn));
    idn->st = st;
    idn->key_dir = st_xstrdup(opts->key_dir);
    idn->ttl_us = (opts->token_ttl > 0 ? opts->token_ttl : 3600) * 1000000;
    idn->hash_cost = opts->hash_cost;
    idn->keys = keys;
    pthread_rwlock_init(&idn->lock, NULL);
    pthread_mutex_init(&idn->cache_lock, NULL);
    return idn;
}

void identity_free(struct identity *idn)
{
    if (!idn)
        return;
    token_keys_free(idn->keys);
    pthread_rwlock_destroy(&idn->lock);
    if (idn->cache)
        for (int i = 0; i < VALIDATION_CACHE_SLOTS; i++)
            free(idn->cache[i].token);
    free(idn->cache);
    pthread_mutex_destroy(&idn->cache_lock);
    free(idn->key_dir);
    free(idn);
}

int identity_reload_keys(struct identity *idn, struct st_err *err)
{
    struct token_keys *keys = token_keys_load(idn->key_dir, err);
    if (!keys)
        return -1;
    pthread_rwlock_wrlock(&idn->lock);
    token_keys_free(idn->keys);
    idn->keys = keys;
    idn->last_reload_ns = st_mono_ns();
    pthread_rwlock_unlock(&idn->lock);
    return 0;
}

static void unauthorized(struct st_err *err)
{
    st_err_set(err, ST_ERR_UNAUTHORIZED, "The request you have made requires authentication.");
}

static void copy_str(char *dst, size_t n, const char *src)
{
    if (st_snprintf(dst, n, "%s", src ? src : "") < 0)
        dst[0] = '\0';
}

/* Fills the user part of 'ctx'; UNAUTHORIZED if the user or its domain is
 * gone or disabled. */
static int load_user(struct store_conn *c, const char *user_id, struct auth_ctx *ctx,
                     struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT u.name, u.enabled, u.domain_id, d.name, d.enabled,"
                                       " u.password_expires_at FROM users u"
                                       " JOIN domains d ON d.id = u.domain_id WHERE u.id = ?",
                                       STORE_ARGS(P(user_id)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0 && store_int(s, 1) && store_int(s, 4)) {
        copy_str(ctx->user_id, sizeof(ctx->user_id), user_id);
        copy_str(ctx->user_name, sizeof(ctx->user_name), store_text(s, 0));
        copy_str(ctx->user_domain_id, sizeof(ctx->user_domain_id), store_text(s, 2));
        copy_str(ctx->user_domain_name, sizeof(ctx->user_domain_name), store_text(s, 3));
        ctx->password_expires_at = store_isnull(s, 5) ? 0 : store_int(s, 5);
        rc = 0;
    } else if (rc >= 0) {
        unauthorized(err);
        rc = -1;
    }
    store_done(s);
    return rc;
}

static void add_role(struct auth_ctx *ctx, const char *id, const char *name)
{
    for (int i = 0; i < ctx->nroles; i++)
        if (!strcmp(ctx->roles[i].id, id))
            return;
    if (ctx->nroles >= AUTH_MAX_ROLES)
        return;
    copy_str(ctx->roles[ctx->nroles].id, AUTH_ID_MAX, id);
    copy_str(ctx->roles[ctx->nroles].name, AUTH_NAME_MAX, name);
    ctx->nroles++;
}

/* Fills the scope and the roles of 'ctx' for a project or domain scope;
 * UNAUTHORIZED if the target is gone or disabled or the user holds no role
 * on it. */
static int load_scope(struct store_conn *c, enum token_scope scope, const char *scope_id,
                      struct auth_ctx *ctx, struct st_err *err)
{
    struct store_stmt *s;
    int rc;

    ctx->project_scoped = scope == TOKEN_PROJECT;
    ctx->domain_scoped = scope == TOKEN_DOMAIN;
    ctx->nroles = 0;
    if (scope == TOKEN_UNSCOPED) {
        policy_set_flags(ctx);
        return 0;
    }
    if (scope == TOKEN_PROJECT)
        s = store_query(c, err,
                        "SELECT p.name, p.enabled, p.domain_id, d.name, d.enabled FROM projects p"
                        " JOIN domains d ON d.id = p.domain_id WHERE p.id = ?",
                        STORE_ARGS(P(scope_id)));
    else
        s = store_query(c, err, "SELECT name, enabled, id, name, enabled FROM domains WHERE id = ?",
                        STORE_ARGS(P(scope_id)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0 && store_int(s, 1) && store_int(s, 4)) {
        copy_str(ctx->project_id, sizeof(ctx->project_id), scope_id);
        copy_str(ctx->project_name, sizeof(ctx->project_name), store_text(s, 0));
        copy_str(ctx->project_domain_id, sizeof(ctx->project_domain_id), store_text(s, 2));
        copy_str(ctx->project_domain_name, sizeof(ctx->project_domain_name), store_text(s, 3));
        rc = 0;
    } else if (rc >= 0) {
        unauthorized(err);
        rc = -1;
    }
    store_done(s);
    if (rc < 0)
        return -1;

    s = store_query(c, err,
                    "SELECT r.id, r.name FROM role_assignments a JOIN roles r ON r.id = a.role_id"
                    " WHERE a.type = ? AND a.actor_id = ? AND a.target_id = ? ORDER BY r.name",
                    STORE_ARGS(P(scope == TOKEN_PROJECT ? "UserProject" : "UserDomain"),
                               P(ctx->user_id), P(scope_id)));
    if (!s)
        return -1;
    while ((rc = store_next(s, err)) > 0)
        add_role(ctx, store_text(s, 0), store_text(s, 1));
    store_done(s);
    if (rc < 0)
        return -1;
    if (ctx->nroles == 0) {
        st_err_set(err, ST_ERR_UNAUTHORIZED, "User %s has no access to %s %s.", ctx->user_id,
                   scope == TOKEN_PROJECT ? "project" : "domain", scope_id);
        return -1;
    }
    /* Keystone's default implied roles: admin -> member -> reader. */
    bool admin = policy_has_role(ctx, "admin");
    bool member = admin || policy_has_role(ctx, "member");
    if (member) {
        s = store_query(c, err, "SELECT id, name FROM roles WHERE name IN (?, ?) ORDER BY name",
                        STORE_ARGS(P(admin ? "member" : "reader"), P("reader")));
        if (!s)
            return -1;
        while ((rc = store_next(s, err)) > 0)
            add_role(ctx, store_text(s, 0), store_text(s, 1));
        store_done(s);
        if (rc < 0)
            return -1;
    }
    policy_set_flags(ctx);
    return 0;
}

static void audit_text(const unsigned char id[16], char out[24])
{
    struct st_buf b = ST_BUF_INIT;
    st_base64url_encode(id, 16, &b);
    copy_str(out, 24, b.buf);
    st_buf_release(&b);
}

static int check_revoked(struct store_conn *c, const struct auth_ctx *ctx, struct st_err *err)
{
    int64_t one;
    int rc = store_get_int(
        c, err, &one,
        "SELECT 1 FROM revocations WHERE audit_id = ? OR audit_id = ?"
        " OR (user_id = ? AND issued_before >= ?)"
        " OR (project_id = ? AND issued_before >= ?) LIMIT 1",
        STORE_ARGS(P(ctx->audit_id),
                   P(ctx->parent_audit_id[0] ? ctx->parent_audit_id : ctx->audit_id),
                   P(ctx->user_id), P(ctx->issued_at), P(ctx->project_id), P(ctx->issued_at)));
    if (rc < 0)
        return -1;
    if (rc > 0) {
        unauthorized(err);
        return -1;
    }
    return 0;
}

/* Decodes 'text' with the current keys, reloading them once (at most every
 * few seconds) if the token names a key this process has not seen: another
 * process may have rotated them. */
static int decode(struct identity *idn, const char *text, struct token *t, struct st_err *err)
{
    int rc;
    bool reload;
    pthread_rwlock_rdlock(&idn->lock);
    rc = token_decode(idn->keys, text, t, err);
    reload = rc < 0 && token_unknown_key(idn->keys, text) &&
             st_mono_ns() - idn->last_reload_ns > 5 * 1000000000LL;
    pthread_rwlock_unlock(&idn->lock);
    if (reload) {
        struct st_err ignored = ST_ERR_INIT;
        if (identity_reload_keys(idn, &ignored) == 0) {
            st_err_clear(err);
            pthread_rwlock_rdlock(&idn->lock);
            rc = token_decode(idn->keys, text, t, err);
            pthread_rwlock_unlock(&idn->lock);
        }
    }
    return rc;
}

static int ctx_from_token(struct store_conn *c, const struct token *t, struct auth_ctx *ctx,
                          struct st_err *err)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->methods = t->methods;
    ctx->issued_at = t->issued_at;
    ctx->expires_at = t->expires_at;
    audit_text(t->audit_id, ctx->audit_id);
    if (t->has_parent)
        audit_text(t->parent_audit_id, ctx->parent_audit_id);
    if (load_user(c, t->user_id, ctx, err) < 0)
        return -1;
    return load_scope(c, t->scope, t->scope_id, ctx, err);
}

static unsigned token_slot(const char *text)
{
    unsigned h = 2166136261u;
    for (; *text; text++)
        h = (h ^ (unsigned char) *text) * 16777619u;
    return h % VALIDATION_CACHE_SLOTS;
}

static bool cache_get(struct identity *idn, const char *text, struct auth_ctx *ctx)
{
    bool hit = false;
    unsigned i = token_slot(text);
    pthread_mutex_lock(&idn->cache_lock);
    if (idn->cache && idn->cache[i].token && !strcmp(idn->cache[i].token, text) &&
        idn->cache[i].epoch == atomic_load(&identity_epoch) &&
        idn->cache[i].until > st_now_us()) {
        *ctx = idn->cache[i].ctx;
        hit = true;
    }
    pthread_mutex_unlock(&idn->cache_lock);
    return hit;
}

static void cache_put(struct identity *idn, const char *text, const struct auth_ctx *ctx,
                      uint64_t epoch)
{
    unsigned i = token_slot(text);
    int64_t until = st_now_us() + VALIDATION_CACHE_US;
    pthread_mutex_lock(&idn->cache_lock);
    if (!idn->cache)
        idn->cache = st_xcalloc(VALIDATION_CACHE_SLOTS, sizeof(*idn->cache));
    free(idn->cache[i].token);
    idn->cache[i].token = st_xstrdup(text);
    idn->cache[i].ctx = *ctx;
    idn->cache[i].epoch = epoch;
    idn->cache[i].until = until < ctx->expires_at ? until : ctx->expires_at;
    pthread_mutex_unlock(&idn->cache_lock);
}

int identity_validate(struct identity *idn, struct store_conn *c, const char *text,
                      struct auth_ctx *ctx, struct st_err *err)
{
    struct token t;
    uint64_t epoch = atomic_load(&identity_epoch);
    if (cache_get(idn, text, ctx))
        return 0;
    if (decode(idn, text, &t, err) < 0)
        return -1;
    if (t.expires_at <= st_now_us()) {
        unauthorized(err);
        return -1;
    }
    if (ctx_from_token(c, &t, ctx, err) < 0 || check_revoked(c, ctx, err) < 0)
        return -1;
    cache_put(idn, text, ctx, epoch);
    return 0;
}

int identity_revoke(struct identity *idn, struct store_conn *c, const char *text,
                    struct st_err *err)
{
    struct auth_ctx ctx;
    char rid[33];
    if (identity_validate(idn, c, text, &ctx, err) < 0)
        return -1;
    st_uuid_hex(rid);
    if (store_exec(c, err,
                   "INSERT INTO revocations (id, audit_id, user_id, project_id, issued_before,"
                   " expires_at) VALUES (?, ?, NULL, NULL, ?, ?)",
                   STORE_ARGS(P(rid), P(ctx.audit_id), P(ctx.issued_at), P(ctx.expires_at))) < 0)
        return -1;
    identity_changed();
    /* Forget revocations that no live token can match any more. */
    return store_exec(c, err, "DELETE FROM revocations WHERE expires_at < ?",
                      STORE_ARGS(P(st_now_us()))) < 0
               ? -1
               : 0;
}

/* Finds a domain by {"id"} or {"name"}; fills 'id'. */
static int find_domain(struct store_conn *c, json_t *dom, char id[AUTH_ID_MAX], struct st_err *err)
{
    const char *did = NULL, *dname = NULL;
    struct store_stmt *s;
    int rc;
    if (!json_is_object(dom)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'domain': expected an object");
        return -1;
    }
    if (jget_str(dom, "id", false, 64, &did, err) < 0 ||
        jget_str(dom, "name", false, 255, &dname, err) < 0)
        return -1;
    if (!did && !dname) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Expecting to find id or name in domain.");
        return -1;
    }
    s = did ? store_query(c, err, "SELECT id FROM domains WHERE id = ?", STORE_ARGS(P(did)))
            : store_query(c, err, "SELECT id FROM domains WHERE name = ?", STORE_ARGS(P(dname)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        copy_str(id, AUTH_ID_MAX, store_text(s, 0));
    store_done(s);
    if (rc == 0) {
        unauthorized(err);
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

/* Resolves {"id"} or {"name", "domain"} of a user or project to an id. */
static int resolve(struct store_conn *c, json_t *obj, enum idn_kind kind, char id[AUTH_ID_MAX],
                   bool *found, struct st_err *err)
{
    const char *oid = NULL, *name = NULL;
    char dom[AUTH_ID_MAX];
    struct store_stmt *s;
    int rc;

    *found = false;
    if (!json_is_object(obj)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field '%s': expected an object",
                   kinds[kind].name);
        return -1;
    }
    if (jget_str(obj, "id", false, 64, &oid, err) < 0 ||
        jget_str(obj, "name", false, 255, &name, err) < 0)
        return -1;
    if (oid) {
        copy_str(id, AUTH_ID_MAX, oid);
        *found = idn_exists(c, kind, oid, err) > 0;
        return st_err_is_set(err) ? -1 : 0;
    }
    if (!name) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Expecting to find id or name in %s.",
                   kinds[kind].name);
        return -1;
    }
    if (!json_object_get(obj, "domain")) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Expecting to find domain in %s.", kinds[kind].name);
        return -1;
    }
    if (find_domain(c, json_object_get(obj, "domain"), dom, err) < 0)
        return -1;
    s = store_query(c, err,
                    kind == IDN_USER ? "SELECT id FROM users WHERE name = ? AND domain_id = ?"
                                     : "SELECT id FROM projects WHERE name = ? AND domain_id = ?",
                    STORE_ARGS(P(name), P(dom)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0) {
        copy_str(id, AUTH_ID_MAX, store_text(s, 0));
        *found = true;
    }
    store_done(s);
    return rc < 0 ? -1 : 0;
}

static int auth_password(struct store_conn *c, json_t *pw, struct token *t, struct st_err *err)
{
    json_t *user;
    const char *password = NULL;
    char uid[AUTH_ID_MAX] = "";
    bool found;
    char *hash = NULL;
    int ok = 0;

    if (jget_obj(pw, "user", true, &user, err) < 0 ||
        jget_str(user, "password", true, 4096, &password, err) < 0)
        return -1;
    if (resolve(c, user, IDN_USER, uid, &found, err) < 0) {
        if (err->kind == ST_ERR_UNAUTHORIZED)
            (void) password_verify(password, NULL);
        return -1;
    }
    if (found) {
        struct store_stmt *s =
            store_query(c, err, "SELECT password_hash FROM users WHERE id = ?", STORE_ARGS(P(uid)));
        if (!s)
            return -1;
        if (store_next(s, err) > 0 && store_text(s, 0))
            hash = st_xstrdup(store_text(s, 0));
        store_done(s);
    }
    ok = password_verify(password, hash);
    free(hash);
    if (!ok) {
        unauthorized(err);
        return -1;
    }
    copy_str(t->user_id, sizeof(t->user_id), uid);
    t->methods |= AUTH_M_PASSWORD;
    return 0;
}

int identity_issue(struct identity *idn, struct store_conn *c, json_t *auth, struct auth_ctx *ctx,
                   struct st_buf *token, struct st_err *err)
{
    json_t *ident, *methods, *scope = NULL;
    struct token t;
    bool have_pw = false, have_tok = false;
    int64_t now = st_now_us();
    size_t i;
    json_t *m;

    memset(&t, 0, sizeof(t));
    if (!json_is_object(auth)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'auth': expected an object");
        return -1;
    }
    if (jget_obj(auth, "identity", true, &ident, err) < 0 ||
        jget_arr(ident, "methods", true, 4, &methods, err) < 0)
        return -1;
    if (json_array_size(methods) == 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'methods': it is empty");
        return -1;
    }
    json_array_foreach(methods, i, m)
    {
        const char *name = json_string_value(m);
        if (name && !strcmp(name, "password"))
            have_pw = true;
        else if (name && !strcmp(name, "token"))
            have_tok = true;
        else {
            unauthorized(err);
            return -1;
        }
    }
    t.issued_at = now;
    t.expires_at = now + idn->ttl_us;
    st_random(t.audit_id, sizeof(t.audit_id));

    if (have_tok) {
        json_t *tok;
        const char *tid;
        struct token old;
        struct auth_ctx octx;
        if (jget_obj(ident, "token", true, &tok, err) < 0 ||
            jget_str(tok, "id", true, 1024, &tid, err) < 0)
            return -1;
        if (decode(idn, tid, &old, err) < 0 || old.expires_at <= now)
            goto unauth;
        if (ctx_from_token(c, &old, &octx, err) < 0 || check_revoked(c, &octx, err) < 0)
            return -1;
        copy_str(t.user_id, sizeof(t.user_id), old.user_id);
        t.methods = old.methods | AUTH_M_TOKEN;
        t.expires_at = old.expires_at; /* a rescoped token never outlives its parent */
        t.has_parent = true;
        memcpy(t.parent_audit_id, old.has_parent ? old.parent_audit_id : old.audit_id, 16);
    }
    if (have_pw) {
        json_t *pw;
        struct token pt = t;
        if (jget_obj(ident, "password", true, &pw, err) < 0 || auth_password(c, pw, &pt, err) < 0)
            return -1;
        if (have_tok && strcmp(pt.user_id, t.user_id))
            goto unauth;
        t = pt;
    }

    /* Scope. */
    scope = json_object_get(auth, "scope");
    if (json_is_string(scope) && !strcmp(json_string_value(scope), "unscoped")) {
        t.scope = TOKEN_UNSCOPED;
    } else if (json_is_object(scope)) {
        json_t *proj = json_object_get(scope, "project");
        json_t *dom = json_object_get(scope, "domain");
        char sid[AUTH_ID_MAX];
        bool found = false;
        if (proj) {
            if (resolve(c, proj, IDN_PROJECT, sid, &found, err) < 0)
                return -1;
            if (!found)
                goto unauth;
            t.scope = TOKEN_PROJECT;
        } else if (dom) {
            if (find_domain(c, dom, sid, err) < 0)
                return -1;
            t.scope = TOKEN_DOMAIN;
        } else {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field 'scope': expected project or domain (system "
                       "scope is not supported)");
            return -1;
        }
        copy_str(t.scope_id, sizeof(t.scope_id), sid);
    } else if (scope) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'scope'");
        return -1;
    } else {
        /* No scope: the user's default project when it still grants a role
         * (Keystone), else unscoped. */
        struct store_stmt *s =
            store_query(c, err,
                        "SELECT u.default_project_id FROM users u WHERE u.id = ? AND EXISTS"
                        " (SELECT 1 FROM role_assignments a WHERE a.actor_id = u.id AND"
                        " a.type = 'UserProject' AND a.target_id = u.default_project_id)",
                        STORE_ARGS(P(t.user_id)));
        if (!s)
            return -1;
        if (store_next(s, err) > 0 && store_text(s, 0)) {
            t.scope = TOKEN_PROJECT;
            copy_str(t.scope_id, sizeof(t.scope_id), store_text(s, 0));
        }
        store_done(s);
        if (st_err_is_set(err))
            return -1;
    }
    if (ctx_from_token(c, &t, ctx, err) < 0)
        return -1;
    if (have_tok && check_revoked(c, ctx, err) < 0)
        return -1;
    {
        int rc;
        pthread_rwlock_rdlock(&idn->lock);
        rc = token_encode(idn->keys, &t, token, err);
        pthread_rwlock_unlock(&idn->lock);
        return rc;
    }
unauth:
    st_err_clear(err);
    unauthorized(err);
    return -1;
}

static void substitute(const char *url, const char *project_id, struct st_buf *out)
{
    static const char *const pats[] = {"$(project_id)s", "%(project_id)s", "$(tenant_id)s",
                                       "%(tenant_id)s"};
    const char *p = url;
    while (*p) {
        bool hit = false;
        for (size_t i = 0; i < ST_ARRAY_SIZE(pats); i++) {
            size_t n = strlen(pats[i]);
            if (!strncmp(p, pats[i], n)) {
                st_buf_adds(out, project_id);
                p += n;
                hit = true;
                break;
            }
        }
        if (!hit)
            st_buf_addch(out, *p++);
    }
}

json_t *identity_catalog(struct store_conn *c, const char *project_id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT s.id, s.type, s.name, e.id, e.interface,"
                                       " e.region_id, e.url FROM services s"
                                       " JOIN endpoints e ON e.service_id = s.id"
                                       " WHERE s.enabled = 1 AND e.enabled = 1"
                                       " ORDER BY s.type, s.id, e.interface, e.id",
                                       STORE_NOARGS);
    json_t *cat, *svc = NULL;
    const char *last = "";
    char *last_id = NULL;
    int rc;
    if (!s)
        return NULL;
    cat = json_array();
    while ((rc = store_next(s, err)) > 0) {
        const char *sid = store_text(s, 0), *url = store_text(s, 6);
        struct st_buf u = ST_BUF_INIT;
        if (strstr(url, "_id)s") && !project_id)
            continue; /* needs a project scope */
        if (!last_id || strcmp(last_id, sid)) {
            free(last_id);
            last_id = st_xstrdup(sid);
            svc = json_pack("{s:s, s:s, s:o, s:[]}", "id", sid, "type", store_text(s, 1), "name",
                            st_json_str_or_null(store_text(s, 2)), "endpoints");
            if (json_is_null(json_object_get(svc, "name")))
                json_object_set_new(svc, "name", json_string(""));
            json_array_append_new(cat, svc);
        }
        substitute(url, project_id ? project_id : "", &u);
        json_array_append_new(json_object_get(svc, "endpoints"),
                              json_pack("{s:s, s:s, s:o, s:o, s:s}", "id", store_text(s, 3),
                                        "interface", store_text(s, 4), "region",
                                        st_json_str_or_null(store_text(s, 5)), "region_id",
                                        st_json_str_or_null(store_text(s, 5)), "url", u.buf));
        st_buf_release(&u);
    }
    (void) last;
    free(last_id);
    store_done(s);
    if (rc < 0) {
        json_decref(cat);
        return NULL;
    }
    return cat;
}

json_t *identity_token_json(struct identity *idn, struct store_conn *c, const struct auth_ctx *ctx,
                            bool with_catalog, struct st_err *err)
{
    char issued[32], expires[32];
    json_t *tok, *methods = json_array(), *audits = json_array();
    (void) idn;
    st_time_iso(ctx->issued_at, 6, issued);
    st_time_iso(ctx->expires_at, 6, expires);
    if (ctx->methods & AUTH_M_PASSWORD)
        json_array_append_new(methods, json_string("password"));
    if (ctx->methods & AUTH_M_TOKEN)
        json_array_append_new(methods, json_string("token"));
    json_array_append_new(audits, json_string(ctx->audit_id));
    if (ctx->parent_audit_id[0])
        json_array_append_new(audits, json_string(ctx->parent_audit_id));
    tok = json_pack("{s:o, s:{s:s, s:s, s:{s:s, s:s}, s:n}, s:o, s:s, s:s}", "methods", methods,
                    "user", "id", ctx->user_id, "name", ctx->user_name, "domain", "id",
                    ctx->user_domain_id, "name", ctx->user_domain_name, "password_expires_at",
                    "audit_ids", audits, "issued_at", issued, "expires_at", expires);
    if (ctx->project_scoped || ctx->domain_scoped) {
        json_t *roles = json_array();
        for (int i = 0; i < ctx->nroles; i++)
            json_array_append_new(
                roles, json_pack("{s:s, s:s}", "id", ctx->roles[i].id, "name", ctx->roles[i].name));
        json_object_set_new(tok, "roles", roles);
    }
    if (ctx->project_scoped) {
        json_object_set_new(tok, "project",
                            json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", ctx->project_id, "name",
                                      ctx->project_name, "domain", "id", ctx->project_domain_id,
                                      "name", ctx->project_domain_name));
        json_object_set_new(tok, "is_domain", json_false());
    } else if (ctx->domain_scoped) {
        json_object_set_new(
            tok, "domain",
            json_pack("{s:s, s:s}", "id", ctx->project_id, "name", ctx->project_name));
    }
    if (with_catalog && (ctx->project_scoped || ctx->domain_scoped)) {
        json_t *cat = identity_catalog(c, ctx->project_scoped ? ctx->project_id : NULL, err);
        if (!cat) {
            json_decref(tok);
            return NULL;
        }
        json_object_set_new(tok, "catalog", cat);
    }
    return json_pack("{s:o}", "token", tok);
}

json_t *identity_user_projects(struct store_conn *c, const char *user_id, struct st_err *err)
{
    struct st_buf sql = ST_BUF_INIT;
    json_t *arr;
    select_sql(&kinds[IDN_PROJECT], &sql);
    st_buf_adds(&sql, " WHERE enabled = 1 AND id IN (SELECT target_id FROM role_assignments"
                      " WHERE type = 'UserProject' AND actor_id = ?) ORDER BY name");
    arr = store_collect(c, err, kind_row, (void *) &kinds[IDN_PROJECT], sql.buf,
                        STORE_ARGS(P(user_id)));
    st_buf_release(&sql);
    return arr;
}

int idn_change_password(struct identity *idn, struct store_conn *c, const char *user_id,
                        const char *original, const char *password, struct st_err *err)
{
    struct store_stmt *s;
    struct st_buf hash = ST_BUF_INIT;
    char *old = NULL;
    int rc = -1;

    s = store_query(c, err, "SELECT password_hash FROM users WHERE id = ?", STORE_ARGS(P(user_id)));
    if (!s)
        return -1;
    if (store_next(s, err) > 0 && store_text(s, 0))
        old = st_xstrdup(store_text(s, 0));
    store_done(s);
    if (st_err_is_set(err))
        goto out;
    if (!password_verify(original, old)) {
        unauthorized(err);
        goto out;
    }
    if (password_hash(password, idn->hash_cost, &hash, err) < 0)
        goto out;
    if (store_begin(c, err) < 0)
        goto out;
    if (store_exec(c, err, "UPDATE users SET password_hash = ? WHERE id = ?",
                   STORE_ARGS(P(hash.buf), P(user_id))) < 0 ||
        revoke_user(idn, c, user_id, err) < 0 || store_commit(c, err) < 0) {
        store_rollback(c);
        goto out;
    }
    rc = 0;
    identity_changed();
out:
    free(old);
    explicit_bzero(hash.buf, hash.len);
    st_buf_release(&hash);
    return rc;
}

/* ---- bootstrap ---------------------------------------------------------- */

/* Finds the id of the row of 'sql' (one text parameter); creates nothing. */
static int lookup_id(struct store_conn *c, const char *sql, const char *arg, char id[AUTH_ID_MAX],
                     struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, sql, STORE_ARGS(P(arg)));
    int rc;
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        copy_str(id, AUTH_ID_MAX, store_text(s, 0));
    store_done(s);
    return rc;
}

int identity_bootstrap(struct identity *idn, struct store_conn *c, const char *password,
                       const char *public_url, const char *region, struct st_err *err)
{
    static const struct {
        const char *type, *name, *path;
    } services[] = {
        {"identity", "keystone", "/identity"},
        {"compute", "nova", "/compute/v2.1"},
        {"image", "glance", "/image"},
        {"network", "neutron", "/network"},
        {"block-storage", "cinder", "/volume/v3/$(project_id)s"},
    };
    static const char *const roles[] = {"admin", "member", "reader"};
    static const char *const ifaces[] = {"public", "internal", "admin"};
    char project_id[AUTH_ID_MAX], user_id[AUTH_ID_MAX], role_id[AUTH_ID_MAX];
    struct st_buf hash = ST_BUF_INIT, base = ST_BUF_INIT;
    int64_t now = st_now_us() / 1000000;
    int rc = -1, r;

    st_buf_adds(&base, public_url);
    while (base.len && base.buf[base.len - 1] == '/')
        st_buf_truncate(&base, base.len - 1);
    if (password_hash(password, idn->hash_cost, &hash, err) < 0)
        goto out;
    if (store_begin(c, err) < 0)
        goto out;
    if (store_exec(c, err,
                   "INSERT INTO domains (id, name, description, enabled, created_at)"
                   " VALUES ('default', 'Default', 'The default domain', 1, ?)"
                   " ON CONFLICT DO NOTHING",
                   STORE_ARGS(P(now))) < 0)
        goto fail;
    r = lookup_id(c, "SELECT id FROM projects WHERE domain_id = 'default' AND name = ?", "admin",
                  project_id, err);
    if (r < 0)
        goto fail;
    if (r == 0) {
        st_uuid_hex(project_id);
        if (store_exec(c, err,
                       "INSERT INTO projects (id, domain_id, parent_id, name, description,"
                       " enabled, created_at) VALUES (?, 'default', 'default', 'admin',"
                       " 'Bootstrap project for initializing the cloud.', 1, ?)",
                       STORE_ARGS(P(project_id), P(now))) < 0)
            goto fail;
    }
    r = lookup_id(c, "SELECT id FROM users WHERE domain_id = 'default' AND name = ?", "admin",
                  user_id, err);
    if (r < 0)
        goto fail;
    if (r == 0) {
        st_uuid_hex(user_id);
        if (store_exec(c, err,
                       "INSERT INTO users (id, domain_id, name, password_hash, enabled,"
                       " default_project_id, created_at) VALUES (?, 'default', 'admin', ?, 1,"
                       " ?, ?)",
                       STORE_ARGS(P(user_id), P(hash.buf), P(project_id), P(now))) < 0)
            goto fail;
    } else if (store_exec(c, err, "UPDATE users SET password_hash = ?, enabled = 1 WHERE id = ?",
                          STORE_ARGS(P(hash.buf), P(user_id))) < 0) {
        goto fail;
    }
    for (size_t i = 0; i < ST_ARRAY_SIZE(roles); i++) {
        char rid[33];
        st_uuid_hex(rid);
        if (store_exec(c, err,
                       "INSERT INTO roles (id, name, created_at) VALUES (?, ?, ?)"
                       " ON CONFLICT DO NOTHING",
                       STORE_ARGS(P(rid), P(roles[i]), P(now))) < 0)
            goto fail;
    }
    if (lookup_id(c, "SELECT id FROM roles WHERE name = ?", "admin", role_id, err) <= 0) {
        st_err_set(err, ST_ERR_INTERNAL, "the admin role is missing after bootstrap");
        goto fail;
    }
    if (idn_grant(c, "project", project_id, user_id, role_id, err) < 0)
        goto fail;
    if (store_exec(c, err,
                   "INSERT INTO regions (id, description) VALUES (?, '') ON CONFLICT DO NOTHING",
                   STORE_ARGS(P(region))) < 0)
        goto fail;
    for (size_t i = 0; i < ST_ARRAY_SIZE(services); i++) {
        char sid[AUTH_ID_MAX];
        struct st_buf url = ST_BUF_INIT;
        r = lookup_id(c, "SELECT id FROM services WHERE type = ? ORDER BY id LIMIT 1",
                      services[i].type, sid, err);
        if (r < 0)
            goto fail;
        if (r == 0) {
            st_uuid_hex(sid);
            if (store_exec(c, err,
                           "INSERT INTO services (id, type, name, enabled) VALUES (?, ?, ?, 1)",
                           STORE_ARGS(P(sid), P(services[i].type), P(services[i].name))) < 0)
                goto fail;
        }
        st_buf_addf(&url, "%s%s", base.buf, services[i].path);
        for (size_t j = 0; j < ST_ARRAY_SIZE(ifaces); j++) {
            int64_t n = store_exec(c, err,
                                   "UPDATE endpoints SET url = ?, enabled = 1 WHERE"
                                   " service_id = ? AND interface = ? AND region_id = ?",
                                   STORE_ARGS(P(url.buf), P(sid), P(ifaces[j]), P(region)));
            if (n == 0) {
                char eid[33];
                st_uuid_hex(eid);
                n = store_exec(c, err,
                               "INSERT INTO endpoints (id, service_id, interface, region_id,"
                               " url, enabled) VALUES (?, ?, ?, ?, ?, 1)",
                               STORE_ARGS(P(eid), P(sid), P(ifaces[j]), P(region), P(url.buf)));
            }
            if (n < 0) {
                st_buf_release(&url);
                goto fail;
            }
        }
        st_buf_release(&url);
    }
    if (store_commit(c, err) < 0)
        goto fail;
    rc = 0;
    identity_changed();
    goto out;
fail:
    store_rollback(c);
out:
    explicit_bzero(hash.buf, hash.len);
    st_buf_release(&hash);
    st_buf_release(&base);
    return rc;
}

/*
 * aggregate.c - host aggregates and the availability zones of hosts
 * (aggregate.h).  Every change is one write transaction that ends by
 * recomputing hosts.availability_zone, so the scheduler never sees a zone
 * half changed.
 */
#include "compute/aggregate.h"

#include <string.h>

#include "common/util.h"
#include "common/banned.h"

#define AZ_KEY "availability_zone"

static json_t *iso_or_null(int64_t secs)
{
    char t[32];
    if (!secs)
        return json_null();
    st_time_iso(secs * 1000000, 6, t);
    t[strlen(t) - 1] = '\0'; /* Nova: no zone suffix */
    return json_string(t);
}

static int parse_id(const char *s, int64_t *id, struct st_err *err)
{
    if (!s || st_parse_i64(s, 1, INT64_MAX, id) < 0) {
        st_err_set(err, ST_ERR_NOT_FOUND, "Aggregate %s could not be found.", s ? s : "");
        return -1;
    }
    return 0;
}

/* The view of aggregate 'id', or NULL (NOT_FOUND). */
static json_t *view(struct store_conn *c, int64_t id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT id, uuid, name, created_at, updated_at FROM"
                                       " aggregates WHERE id = ?",
                                       STORE_ARGS(P(id)));
    json_t *o = NULL, *hosts, *meta;
    int rc;
    if (!s)
        return NULL;
    rc = store_next(s, err);
    if (rc > 0)
        o = json_pack("{s:I, s:s, s:s, s:o, s:o, s:b, s:n}", "id",
                      (json_int_t) store_int(s, 0), "uuid", store_text(s, 1), "name",
                      store_text(s, 2), "created_at", iso_or_null(store_int(s, 3)),
                      "updated_at", iso_or_null(store_isnull(s, 4) ? 0 : store_int(s, 4)),
                      "deleted", 0, "deleted_at");
    store_done(s);
    if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Aggregate %lld could not be found.", (long long) id);
    if (!o)
        return NULL;
    hosts = json_array();
    meta = json_object();
    json_object_set_new(o, "hosts", hosts);
    json_object_set_new(o, "metadata", meta);
    s = store_query(c, err, "SELECT host FROM aggregate_hosts WHERE aggregate_id = ? ORDER BY host",
                    STORE_ARGS(P(id)));
    while (s && (rc = store_next(s, err)) > 0)
        json_array_append_new(hosts, json_string(store_text(s, 0)));
    store_done(s);
    if (!s || rc < 0)
        goto fail;
    s = store_query(c, err,
                    "SELECT key, value FROM aggregate_metadata WHERE aggregate_id = ? ORDER BY key",
                    STORE_ARGS(P(id)));
    while (s && (rc = store_next(s, err)) > 0)
        json_object_set_new(meta, store_text(s, 0), json_string(store_text(s, 1)));
    store_done(s);
    if (!s || rc < 0)
        goto fail;
    json_object_set(o, AZ_KEY, json_object_get(meta, AZ_KEY) ? json_object_get(meta, AZ_KEY)
                                                               : json_null());
    return o;
fail:
    json_decref(o);
    return NULL;
}

json_t *aggregate_list(struct store_conn *c, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err, "SELECT id FROM aggregates ORDER BY id",
                                       STORE_NOARGS);
    json_t *arr = json_array();
    int64_t ids[1024];
    size_t n = 0;
    int rc;
    if (!s) {
        json_decref(arr);
        return NULL;
    }
    while ((rc = store_next(s, err)) > 0 && n < ST_ARRAY_SIZE(ids))
        ids[n++] = store_int(s, 0);
    store_done(s);
    if (rc < 0) {
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = view(c, ids[i], err);
        if (!o) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *aggregate_get(struct store_conn *c, const char *id, struct st_err *err)
{
    int64_t n;
    if (parse_id(id, &n, err) < 0)
        return NULL;
    return view(c, n, err);
}

/* Every host's zone from its aggregates, in the caller's transaction. */
static int recompute_zones(struct store_conn *c, const char *default_az, struct st_err *err)
{
    return store_exec(c, err,
                      "UPDATE hosts SET availability_zone = COALESCE((SELECT m.value FROM"
                      " aggregate_metadata m JOIN aggregate_hosts ah ON ah.aggregate_id ="
                      " m.aggregate_id WHERE ah.host = hosts.name AND m.key = '" AZ_KEY "'"
                      " ORDER BY m.aggregate_id LIMIT 1), ?)",
                      STORE_ARGS(P(default_az))) < 0
               ? -1
               : 0;
}

/* Would giving aggregate 'id' zone 'az' (NULL: none) and host 'extra' (NULL:
 * none) as a member put some host in two zones?  0 no, -1 yes (BAD_REQUEST)
 * or error. */
static int check_zones(struct store_conn *c, int64_t id, const char *az, const char *extra,
                       struct st_err *err)
{
    struct store_stmt *s;
    int rc;
    if (!az)
        return 0;
    s = store_query(c, err,
                    "SELECT ah.host, m.value FROM aggregate_hosts ah JOIN aggregate_metadata m"
                    " ON m.aggregate_id = ah.aggregate_id AND m.key = '" AZ_KEY "'"
                    " WHERE ah.aggregate_id <> ? AND m.value <> ? AND (ah.host IN (SELECT host"
                    " FROM aggregate_hosts WHERE aggregate_id = ?) OR ah.host = ?)",
                    STORE_ARGS(P(id), P(az), P(id), P(extra)));
    if (!s)
        return -1;
    rc = store_next(s, err);
    if (rc > 0)
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Cannot update aggregate %lld. Reason: host %s is already in availability"
                   " zone %s.",
                   (long long) id, store_text(s, 0), store_text(s, 1));
    store_done(s);
    return rc == 0 ? 0 : -1;
}

/* The zone aggregate 'id' has (a new string) or NULL. */
static char *zone_of(struct store_conn *c, int64_t id, struct st_err *err)
{
    struct store_stmt *s = store_query(c, err,
                                       "SELECT value FROM aggregate_metadata WHERE aggregate_id"
                                       " = ? AND key = '" AZ_KEY "'",
                                       STORE_ARGS(P(id)));
    char *z = NULL;
    if (!s)
        return NULL;
    if (store_next(s, err) > 0)
        z = st_xstrdup(store_text(s, 0));
    store_done(s);
    return z;
}

static int exists(struct store_conn *c, int64_t id, struct st_err *err)
{
    int64_t one;
    int rc = store_get_int(c, err, &one, "SELECT 1 FROM aggregates WHERE id = ?",
                           STORE_ARGS(P(id)));
    if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Aggregate %lld could not be found.", (long long) id);
    return rc > 0 ? 0 : -1;
}

static int set_zone(struct store_conn *c, int64_t id, const char *az, struct st_err *err)
{
    if (!az)
        return 0;
    if (!*az) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute availability_zone: it must not be empty");
        return -1;
    }
    if (check_zones(c, id, az, NULL, err) < 0)
        return -1;
    return store_exec(c, err,
                      "INSERT INTO aggregate_metadata (aggregate_id, key, value) VALUES (?, '" AZ_KEY
                      "', ?) ON CONFLICT (aggregate_id, key) DO UPDATE SET value = excluded.value",
                      STORE_ARGS(P(id), P(az))) < 0
               ? -1
               : 0;
}

/* Ends a change: zones recomputed, committed, the new view. */
static json_t *finish(struct store_conn *c, int64_t id, const char *default_az,
                      struct st_err *err)
{
    json_t *o;
    if (store_exec(c, err, "UPDATE aggregates SET updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(st_now_us() / 1000000), P(id))) < 0 ||
        recompute_zones(c, default_az, err) < 0)
        goto fail;
    o = view(c, id, err);
    if (!o)
        goto fail;
    if (store_commit(c, err) < 0) {
        json_decref(o);
        goto fail;
    }
    return o;
fail:
    store_rollback(c);
    return NULL;
}

json_t *aggregate_create(struct store_conn *c, const char *name, const char *az,
                         const char *default_az, struct st_err *err)
{
    int64_t id = 0, taken;
    char uuid[37];
    int rc;
    if (!name || !*name || strlen(name) > 255) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute name.");
        return NULL;
    }
    if (store_begin(c, err) < 0)
        return NULL;
    rc = store_get_int(c, err, &taken, "SELECT 1 FROM aggregates WHERE name = ?",
                       STORE_ARGS(P(name)));
    if (rc > 0)
        st_err_set(err, ST_ERR_CONFLICT, "Aggregate %s already exists.", name);
    if (rc != 0)
        goto fail;
    /* Nova's ids are integers; the next one, under the write lock (the
     * primary key refuses a racing twin). */
    if (store_get_int(c, err, &id, "SELECT COALESCE(MAX(id), 0) + 1 FROM aggregates",
                      STORE_NOARGS) < 0)
        goto fail;
    st_uuid(uuid);
    if (store_exec(c, err,
                   "INSERT INTO aggregates (id, uuid, name, created_at) VALUES (?, ?, ?, ?)",
                   STORE_ARGS(P(id), P(uuid), P(name), P(st_now_us() / 1000000))) < 0 ||
        set_zone(c, id, az, err) < 0)
        goto fail;
    {
        json_t *o = finish(c, id, default_az, err);
        if (o)
            json_object_set_new(o, "updated_at", json_null());
        return o;
    }
fail:
    store_rollback(c);
    return NULL;
}

json_t *aggregate_update(struct store_conn *c, const char *id, const char *name, const char *az,
                         const char *default_az, struct st_err *err)
{
    int64_t n, taken;
    int rc;
    if (parse_id(id, &n, err) < 0 || store_begin(c, err) < 0)
        return NULL;
    if (exists(c, n, err) < 0)
        goto fail;
    if (name) {
        rc = store_get_int(c, err, &taken, "SELECT 1 FROM aggregates WHERE name = ? AND id <> ?",
                           STORE_ARGS(P(name), P(n)));
        if (rc > 0)
            st_err_set(err, ST_ERR_CONFLICT, "Aggregate %s already exists.", name);
        if (rc != 0 || store_exec(c, err, "UPDATE aggregates SET name = ? WHERE id = ?",
                                  STORE_ARGS(P(name), P(n))) < 0)
            goto fail;
    }
    if (set_zone(c, n, az, err) < 0)
        goto fail;
    return finish(c, n, default_az, err);
fail:
    store_rollback(c);
    return NULL;
}

int aggregate_delete(struct store_conn *c, const char *id, struct st_err *err)
{
    int64_t n, members;
    if (parse_id(id, &n, err) < 0 || store_begin(c, err) < 0)
        return -1;
    if (exists(c, n, err) < 0 ||
        store_get_int(c, err, &members,
                      "SELECT COUNT(*) FROM aggregate_hosts WHERE aggregate_id = ?",
                      STORE_ARGS(P(n))) < 0)
        goto fail;
    if (members) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Cannot remove aggregate %lld. Reason: Host aggregate is not empty.",
                   (long long) n);
        goto fail;
    }
    if (store_exec(c, err, "DELETE FROM aggregate_metadata WHERE aggregate_id = ?",
                   STORE_ARGS(P(n))) < 0 ||
        store_exec(c, err, "DELETE FROM aggregates WHERE id = ?", STORE_ARGS(P(n))) < 0 ||
        store_commit(c, err) < 0)
        goto fail;
    return 0;
fail:
    store_rollback(c);
    return -1;
}

json_t *aggregate_add_host(struct store_conn *c, const char *id, const char *host,
                           const char *default_az, struct st_err *err)
{
    int64_t n, one;
    char *az = NULL;
    int rc;
    if (parse_id(id, &n, err) < 0 || store_begin(c, err) < 0)
        return NULL;
    if (exists(c, n, err) < 0)
        goto fail;
    rc = store_get_int(c, err, &one, "SELECT 1 FROM hosts WHERE name = ?", STORE_ARGS(P(host)));
    if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Compute host %s could not be found.", host);
    if (rc <= 0)
        goto fail;
    rc = store_get_int(c, err, &one,
                       "SELECT 1 FROM aggregate_hosts WHERE aggregate_id = ? AND host = ?",
                       STORE_ARGS(P(n), P(host)));
    if (rc > 0)
        st_err_set(err, ST_ERR_CONFLICT, "Aggregate %lld already has host %s.", (long long) n,
                   host);
    if (rc != 0)
        goto fail;
    az = zone_of(c, n, err);
    if (st_err_is_set(err) || check_zones(c, n, az, host, err) < 0 ||
        store_exec(c, err, "INSERT INTO aggregate_hosts (aggregate_id, host) VALUES (?, ?)",
                   STORE_ARGS(P(n), P(host))) < 0)
        goto fail;
    free(az);
    return finish(c, n, default_az, err);
fail:
    free(az);
    store_rollback(c);
    return NULL;
}

json_t *aggregate_remove_host(struct store_conn *c, const char *id, const char *host,
                              const char *default_az, struct st_err *err)
{
    int64_t n, gone;
    if (parse_id(id, &n, err) < 0 || store_begin(c, err) < 0)
        return NULL;
    if (exists(c, n, err) < 0)
        goto fail;
    gone = store_exec(c, err, "DELETE FROM aggregate_hosts WHERE aggregate_id = ? AND host = ?",
                      STORE_ARGS(P(n), P(host)));
    if (gone == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Cannot remove host %s in aggregate %lld", host,
                   (long long) n);
    if (gone <= 0)
        goto fail;
    return finish(c, n, default_az, err);
fail:
    store_rollback(c);
    return NULL;
}

json_t *aggregate_set_metadata(struct store_conn *c, const char *id, json_t *metadata,
                               const char *default_az, struct st_err *err)
{
    int64_t n;
    const char *k;
    json_t *v;
    if (!json_is_object(metadata) || json_object_size(metadata) > 128) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute metadata.");
        return NULL;
    }
    json_object_foreach(metadata, k, v)
    {
        if (!*k || strlen(k) > 255 || (!json_is_string(v) && !json_is_null(v)) ||
            (json_is_string(v) && strlen(json_string_value(v)) > 255)) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field/attribute metadata: key '%s'.", k);
            return NULL;
        }
    }
    if (parse_id(id, &n, err) < 0 || store_begin(c, err) < 0)
        return NULL;
    if (exists(c, n, err) < 0)
        goto fail;
    json_object_foreach(metadata, k, v)
    {
        if (json_is_null(v)) {
            if (store_exec(c, err,
                           "DELETE FROM aggregate_metadata WHERE aggregate_id = ? AND key = ?",
                           STORE_ARGS(P(n), P(k))) < 0)
                goto fail;
        } else if (!strcmp(k, AZ_KEY)) {
            if (set_zone(c, n, json_string_value(v), err) < 0)
                goto fail;
        } else if (store_exec(c, err,
                              "INSERT INTO aggregate_metadata (aggregate_id, key, value) VALUES"
                              " (?, ?, ?) ON CONFLICT (aggregate_id, key) DO UPDATE SET value ="
                              " excluded.value",
                              STORE_ARGS(P(n), P(k), P(json_string_value(v)))) < 0) {
            goto fail;
        }
    }
    return finish(c, n, default_az, err);
fail:
    store_rollback(c);
    return NULL;
}

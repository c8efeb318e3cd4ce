/*
 * tags.c - the tag subresource of networks, subnets, ports, routers,
 * floating IPs and security groups (Neutron's standard-attr-tag): reading
 * needs the resource to be visible to the caller, changing it to be the
 * caller's.
 */
#include "network/internal.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "common/banned.h"

static const struct {
    const char *collection;
    json_t *(*get)(struct store_conn *, const struct auth_ctx *, const char *, struct st_err *);
    const char *what;
} kinds[] = {
    {"networks", net_network_get, "network"},
    {"subnets", net_subnet_get, "subnet"},
    {"ports", net_port_get, "port"},
    {"routers", net_router_get, "router"},
    {"floatingips", net_fip_get, "floatingip"},
    {"security-groups", net_sg_get, "security group"},
};

/* Checks access to the resource; 'write' asks for the right to change it. */
static int access_ok(struct store_conn *c, const struct auth_ctx *ctx, const char *collection,
                     const char *id, bool write, struct st_err *err)
{
    for (size_t i = 0; i < ST_ARRAY_SIZE(kinds); i++) {
        json_t *o;
        int rc = 0;
        if (strcmp(kinds[i].collection, collection))
            continue;
        o = kinds[i].get(c, ctx, id, err);
        if (!o)
            return -1;
        /* Visible (the get succeeded): changing it is the owner's, a 403
         * for anybody else who can see it. */
        if (write)
            rc = net_may_write(ctx, json_string_value(json_object_get(o, "project_id")), true,
                               kinds[i].what, id, err);
        json_decref(o);
        return rc;
    }
    net_err(err, ST_ERR_NOT_FOUND, "NotFound", "The resource could not be found.");
    return -1;
}

json_t *net_tags_get(struct store_conn *c, const struct auth_ctx *ctx, const char *collection,
                     const char *id, struct st_err *err)
{
    if (access_ok(c, ctx, collection, id, false, err) < 0)
        return NULL;
    return net_tags_json(c, id, err);
}

json_t *net_tags_set(struct store_conn *c, const struct auth_ctx *ctx, const char *collection,
                     const char *id, json_t *tags, struct st_err *err)
{
    json_t *none = NULL, *out;
    if (tags && net_tags_check(tags, err) < 0)
        return NULL;
    if (store_begin(c, err) < 0)
        return NULL;
    if (!tags)
        tags = none = json_array();
    if (access_ok(c, ctx, collection, id, true, err) < 0 ||
        net_tags_replace(c, id, tags, err) < 0 || store_commit(c, err) < 0) {
        json_decref(none);
        store_rollback(c);
        return NULL;
    }
    json_decref(none);
    out = net_tags_json(c, id, err);
    return out;
}

int net_tag_one(struct store_conn *c, const struct auth_ctx *ctx, const char *collection,
                const char *id, const char *tag, bool add, bool check, struct st_err *err)
{
    int64_t n = 0;
    json_t *one = json_pack("[s]", tag);
    int rc = net_tags_check(one, err);
    json_decref(one);
    if (rc < 0)
        return -1;
    if (check) {
        if (access_ok(c, ctx, collection, id, false, err) < 0 ||
            store_get_int(c, err, &n,
                          "SELECT COUNT(*) FROM network_tags WHERE resource_id = ? AND tag = ?",
                          STORE_ARGS(P(id), P(tag))) < 0)
            return -1;
        if (!n) {
            net_err(err, ST_ERR_NOT_FOUND, "TagNotFound", "Tag %s could not be found.", tag);
            return -1;
        }
        return 0;
    }
    if (store_begin(c, err) < 0)
        return -1;
    if (access_ok(c, ctx, collection, id, true, err) < 0)
        goto fail;
    if (add) {
        if (store_get_int(c, err, &n, "SELECT COUNT(*) FROM network_tags WHERE resource_id = ?",
                          STORE_ARGS(P(id))) < 0)
            goto fail;
        if (n >= NET_MAX_TAGS) {
            net_err(err, ST_ERR_BAD_REQUEST, "HTTPBadRequest",
                    "A resource may have at most %d tags.", NET_MAX_TAGS);
            goto fail;
        }
        if (store_exec(c, err,
                       "INSERT INTO network_tags (resource_id, tag) VALUES (?, ?) ON CONFLICT DO"
                       " NOTHING",
                       STORE_ARGS(P(id), P(tag))) < 0)
            goto fail;
    } else {
        n = store_exec(c, err, "DELETE FROM network_tags WHERE resource_id = ? AND tag = ?",
                       STORE_ARGS(P(id), P(tag)));
        if (n < 0)
            goto fail;
        if (n == 0) {
            net_err(err, ST_ERR_NOT_FOUND, "TagNotFound", "Tag %s could not be found.", tag);
            goto fail;
        }
    }
    if (store_commit(c, err) < 0)
        goto fail;
    return 0;
fail:
    store_rollback(c);
    return -1;
}

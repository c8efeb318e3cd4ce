/* nova.c (api) - query, paging and body helpers shared by the compute API
 * files (see nova.h). */
#include "api/nova.h"

#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define MAX_QUERY_PARAMS 64

struct known_ctx {
    const char *const *allowed;
    const char *unknown; /* the first parameter not allowed */
};

static void known_cb(void *arg, const char *k, const char *v)
{
    struct known_ctx *kc = arg;
    (void) v;
    if (kc->unknown)
        return;
    for (size_t i = 0; kc->allowed[i]; i++)
        if (!strcmp(kc->allowed[i], k))
            return;
    kc->unknown = k;
}

int nova_query_known(const struct api_req *req, const char *const *allowed, struct st_err *err)
{
    struct known_ctx kc = {allowed, NULL};
    api_query_each(req, known_cb, &kc);
    if (kc.unknown) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Additional properties are not allowed ('%s' was unexpected)", kc.unknown);
        return -1;
    }
    return 0;
}

int nova_limit_marker(const struct api_req *req, int *limit, const char **marker,
                      struct st_err *err)
{
    const char *l = api_query(req, "limit");
    int64_t n;

    *limit = NOVA_MAX_LIMIT;
    *marker = api_query(req, "marker");
    if (!l)
        return 0;
    /* The query schema: parameter_types.non_negative_integer. */
    if (!*l) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for query parameters limit. Value: ['']. '' is too short");
        return -1;
    }
    if (strspn(l, "0123456789") != strlen(l)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for query parameters limit. Value: ['%s']. '%s' does not "
                   "match '^[0-9]*$'",
                   l, l);
        return -1;
    }
    if (st_parse_i64(l, 0, INT64_MAX, &n) < 0)
        n = NOVA_MAX_LIMIT; /* more digits than int64: capped like any large limit */
    *limit = n > NOVA_MAX_LIMIT ? NOVA_MAX_LIMIT : (int) n;
    return 0;
}

struct kv {
    const char *k, *v;
};

struct collect_ctx {
    struct kv items[MAX_QUERY_PARAMS];
    size_t n;
};

static void collect_cb(void *arg, const char *k, const char *v)
{
    struct collect_ctx *cc = arg;
    if (cc->n < MAX_QUERY_PARAMS) {
        cc->items[cc->n].k = k;
        cc->items[cc->n].v = v;
        cc->n++;
    }
}

static int kv_cmp(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

json_t *nova_next_links(const struct api_req *req, const char *collection, size_t count,
                        const char *last_id)
{
    struct collect_ctx cc;
    struct st_buf href = ST_BUF_INIT;
    const char *l = api_query(req, "limit");
    int64_t max = NOVA_MAX_LIMIT;
    bool marker_done = false;
    json_t *links;

    if (l && st_parse_i64(l, 0, INT64_MAX, &max) == 0 && max > NOVA_MAX_LIMIT)
        max = NOVA_MAX_LIMIT;
    if (max == 0 || (size_t) max != count || !last_id)
        return NULL;
    /* collections.OrderedDict(sorted(request.params.items())), then
     * params["marker"] = last id: repeated keys keep their last value, and
     * the marker keeps its sorted place or goes last. */
    cc.n = 0;
    api_query_each(req, collect_cb, &cc);
    qsort(cc.items, cc.n, sizeof(cc.items[0]), kv_cmp);
    st_buf_addf(&href, "%s" NOVA_V21 "/%s?", req->base_url.buf, collection);
    for (size_t i = 0; i < cc.n; i++) {
        const char *v = cc.items[i].v;
        if (i + 1 < cc.n && !strcmp(cc.items[i].k, cc.items[i + 1].k))
            continue;
        if (!strcmp(cc.items[i].k, "marker")) {
            v = last_id;
            marker_done = true;
        }
        if (href.buf[href.len - 1] != '?')
            st_buf_addch(&href, '&');
        st_url_escape(cc.items[i].k, &href);
        st_buf_addch(&href, '=');
        st_url_escape(v, &href);
    }
    if (!marker_done) {
        if (href.buf[href.len - 1] != '?')
            st_buf_addch(&href, '&');
        st_buf_adds(&href, "marker=");
        st_url_escape(last_id, &href);
    }
    links = json_pack("[{s:s, s:s}]", "rel", "next", "href", href.buf);
    st_buf_release(&href);
    return links;
}

json_t *nova_body_member(struct api_req *req, const char *key, struct st_err *err)
{
    json_t *body = api_body_json(req, err), *v;
    const char *k;
    if (!body)
        return NULL;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, key)) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Additional properties are not allowed ('%s' was unexpected)", k);
            return NULL;
        }
    }
    v = json_object_get(body, key);
    if (!v) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "'%s' is a required property", key);
        return NULL;
    }
    if (!json_is_object(v)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field/attribute %s. Value: %s. It is not of type "
                   "'object'",
                   key, json_is_string(v) ? json_string_value(v) : "(not an object)");
        return NULL;
    }
    return v;
}

int nova_no_version(struct st_err *err)
{
    st_err_set(err, ST_ERR_NOT_FOUND, "The resource could not be found.");
    return -1;
}

/* router.c - segment-wise matching of request paths against the table. */
#include "api/router.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/banned.h"

struct compiled {
    const struct route *route;
    int nseg;
    char *segs[ROUTER_MAX_SEGMENTS]; /* NULL for a placeholder */
};

struct router {
    struct compiled *routes;
    size_t n, alloc;
};

struct router *router_new(void)
{
    return st_xcalloc(1, sizeof(struct router));
}

void router_free(struct router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        for (int j = 0; j < r->routes[i].nseg; j++)
            free(r->routes[i].segs[j]);
    free(r->routes);
    free(r);
}

static int split(char *path, char **segs)
{
    int n = 0;
    char *p = path;
    while (*p == '/')
        p++;
    while (*p) {
        char *slash;
        if (n == ROUTER_MAX_SEGMENTS)
            return -1;
        segs[n++] = p;
        slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    return n;
}

void router_add(struct router *r, const struct route *routes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct compiled c;
        char *copy = st_xstrdup(routes[i].pattern);
        char *segs[ROUTER_MAX_SEGMENTS];
        int ns = split(copy, segs);
        assert(ns >= 0); /* a pattern of more than ROUTER_MAX_SEGMENTS segments */
        memset(&c, 0, sizeof(c));
        c.route = &routes[i];
        c.nseg = ns < 0 ? 0 : ns;
        for (int j = 0; j < c.nseg; j++)
            c.segs[j] = segs[j][0] == '{' ? NULL : st_xstrdup(segs[j]);
        free(copy);
        if (r->n == r->alloc) {
            r->alloc = r->alloc ? r->alloc * 2 : 64;
            r->routes = st_xrealloc(r->routes, r->alloc * sizeof(*r->routes));
        }
        r->routes[r->n++] = c;
    }
}

static bool seg_match(const struct compiled *c, char **segs, int nseg)
{
    if (c->nseg != nseg)
        return false;
    for (int i = 0; i < nseg; i++) {
        if (c->segs[i] ? strcmp(c->segs[i], segs[i]) != 0 : segs[i][0] == '\0')
            return false;
    }
    return true;
}

const struct route *router_match(const struct router *r, const char *method, char *path,
                                 const char **params, int *nparams, struct st_buf *allow)
{
    char *segs[ROUTER_MAX_SEGMENTS];
    int nseg = split(path, segs);
    const char *m = strcmp(method, "HEAD") ? method : "GET";

    *nparams = 0;
    st_buf_reset(allow);
    if (nseg < 0)
        return NULL;
    /* A literal route wins over a placeholder route matching the same path:
     * "/v3/users/{id}" must not swallow a literal sibling added later. */
    const struct compiled *best = NULL;
    int best_literals = -1;
    for (size_t i = 0; i < r->n; i++) {
        const struct compiled *c = &r->routes[i];
        if (!seg_match(c, segs, nseg))
            continue;
        if (strcmp(c->route->method, m)) {
            if (!strstr(allow->buf, c->route->method)) {
                if (allow->len)
                    st_buf_adds(allow, ", ");
                st_buf_adds(allow, c->route->method);
                if (!strcmp(c->route->method, "GET"))
                    st_buf_adds(allow, ", HEAD");
            }
            continue;
        }
        int literals = 0;
        for (int j = 0; j < nseg; j++)
            literals += c->segs[j] != NULL;
        if (literals > best_literals) {
            best = c;
            best_literals = literals;
        }
    }
    if (!best)
        return NULL;
    for (int j = 0; j < nseg && *nparams < ROUTE_MAX_PARAMS; j++)
        if (!best->segs[j])
            params[(*nparams)++] = segs[j];
    st_buf_reset(allow);
    return best->route;
}

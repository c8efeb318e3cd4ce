/*
 * router.h - the route table: method + path pattern -> handler.
 *
 * Patterns are absolute paths whose segments are literals or "{name}"
 * placeholders matching one non-empty segment.  Routes are tried in the order
 * added; literal segments should come before placeholders at the same place
 * when both could match (e.g. "/v3/auth/tokens" is its own route).  A path
 * that matches some pattern with another method gives 405 and the Allow list;
 * a path that matches none gives 404.  HEAD is served by the GET route.
 */
#ifndef ST_ROUTER_H
#define ST_ROUTER_H

#include <stddef.h>

#include "api/api.h"
#include "common/buf.h"

#define ROUTER_MAX_SEGMENTS 16

struct router;

struct router *router_new(void);
void router_free(struct router *r);
/* Adds 'n' routes; the table must outlive the router. */
void router_add(struct router *r, const struct route *routes, size_t n);

/* Matches 'path' (which it splits in place: pass a writable copy).  Returns
 * the route and its parameters (pointers into 'path'), or NULL: then 'allow'
 * holds the comma-separated methods the path does accept, empty for 404. */
const struct route *router_match(const struct router *r, const char *method, char *path,
                                 const char **params, int *nparams, struct st_buf *allow);

#endif

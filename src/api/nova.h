/*
 * nova.h (api) - what the compute API files share: Nova's handling of
 * query strings (limit and marker as common.get_limit_and_marker() reads
 * them, the 2.75+ refusal of unknown parameters), the "next" link of a
 * paged collection (ViewBuilder._get_collection_links()), and the checks of
 * a request body's top level.
 */
#ifndef ST_API_NOVA_H
#define ST_API_NOVA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"

#define NOVA_MAX_LIMIT 1000 /* Nova's [api] max_limit */
#define NOVA_V21 "/compute/v2.1"

/* Refuses a query parameter not in 'allowed' (NULL-terminated), as the
 * query schemas with additionalProperties false do. */
int nova_query_known(const struct api_req *req, const char *const *allowed, struct st_err *err)
    __attribute__((warn_unused_result));

/* Reads "limit" (default and cap NOVA_MAX_LIMIT) and "marker" (NULL when
 * absent).  BAD_REQUEST with Nova's messages for a bad limit. */
int nova_limit_marker(const struct api_req *req, int *limit, const char **marker,
                      struct st_err *err) __attribute__((warn_unused_result));

/* The links of a page of 'count' items whose last has id 'last_id': a
 * [{"rel": "next", "href": BASE/compute/v2.1/COLLECTION?...&marker=ID}]
 * array when the page is full (count equals the limit asked, capped), else
 * NULL.  The query keeps the request's parameters, sorted, as Nova does. */
json_t *nova_next_links(const struct api_req *req, const char *collection, size_t count,
                        const char *last_id);

/* Checks that the body is an object holding only 'key' (required), an
 * object, and returns it. */
json_t *nova_body_member(struct api_req *req, const char *key, struct st_err *err);

/* Fills the fault for a method the microversion does not have (Nova's
 * VersionNotFoundForAPIMethod: 404). */
int nova_no_version(struct st_err *err);

#endif

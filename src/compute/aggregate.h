/*
 * aggregate.h - host aggregates (Nova's os-aggregates) and the availability
 * zones they give hosts.
 *
 * An aggregate is a named set of hosts with metadata; the metadata key
 * "availability_zone" makes it an availability zone.  A host's zone is the
 * one of its aggregates that has one, else [compute]
 * default_availability_zone; it is kept in hosts.availability_zone, which
 * the scheduler filters on and os-services, os-availability-zone and the
 * servers show, and recomputed in the transaction of every change here.  A
 * host is in at most one zone: a change that would put it in two is refused
 * (400, as Nova's InvalidAggregateAction).
 *
 * Aggregates come back as new JSON objects in Nova's shape (id, uuid, name,
 * availability_zone, hosts, metadata, created_at, updated_at, deleted,
 * deleted_at); the API layer drops what a microversion lacks.
 */
#ifndef ST_COMPUTE_AGGREGATE_H
#define ST_COMPUTE_AGGREGATE_H

#include <jansson.h>

#include "common/err.h"
#include "store/store.h"

/* All aggregates, by id (new array). */
json_t *aggregate_list(struct store_conn *c, struct st_err *err);
/* Aggregate 'id' (its integer id in decimal); NOT_FOUND if none. */
json_t *aggregate_get(struct store_conn *c, const char *id, struct st_err *err);
/* Creates an aggregate; 'az' may be NULL.  CONFLICT when the name is taken. */
json_t *aggregate_create(struct store_conn *c, const char *name, const char *az,
                         const char *default_az, struct st_err *err);
/* Renames it and/or sets its zone (NULL: unchanged). */
json_t *aggregate_update(struct store_conn *c, const char *id, const char *name, const char *az,
                         const char *default_az, struct st_err *err);
/* Deletes an empty aggregate (BAD_REQUEST while it has hosts). */
int aggregate_delete(struct store_conn *c, const char *id, struct st_err *err)
    __attribute__((warn_unused_result));
/* add_host / remove_host: NOT_FOUND for an unknown host, CONFLICT when it
 * is already a member (add) or is not one (remove: NOT_FOUND). */
json_t *aggregate_add_host(struct store_conn *c, const char *id, const char *host,
                           const char *default_az, struct st_err *err);
json_t *aggregate_remove_host(struct store_conn *c, const char *id, const char *host,
                              const char *default_az, struct st_err *err);
/* set_metadata: each key of 'metadata' (an object of strings or nulls) is
 * set, or removed when null. */
json_t *aggregate_set_metadata(struct store_conn *c, const char *id, json_t *metadata,
                               const char *default_az, struct st_err *err);

#endif

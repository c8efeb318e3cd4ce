/*
 * migrations.h (api) - Nova's migration API: the migrate, os-migrateLive
 * and evacuate server actions, GET /os-migrations, the in-progress live
 * migrations of a server (servers/{id}/migrations, force_complete, abort),
 * and the agents' file transfer of cold migrations
 * (/internal/v1/migrations/{id}/files/{name}, docs/agent-protocol.md
 * "Migration").  The logic is compute/migration.h.
 */
#ifndef ST_API_MIGRATIONS_H
#define ST_API_MIGRATIONS_H

#include <jansson.h>
#include <stddef.h>

#include "api/api.h"

extern const struct route migration_routes[];
extern const size_t migration_routes_count;

/* True for the action names migrations_action() serves. */
int migrations_is_action(const char *key);
/* POST /servers/{id}/action with "migrate", "os-migrateLive" or
 * "evacuate" ('key') and its 'args', checked per microversion. */
int migrations_action(struct api_req *req, struct api_resp *resp, const char *key, json_t *args,
                      struct st_err *err) __attribute__((warn_unused_result));

/* Removes DATA_DIR/migrations/{id}/ of migrations that no longer need
 * their files (after a host's report moved them on).  Best effort. */
void migrations_files_gc(struct api_req *req);

#endif

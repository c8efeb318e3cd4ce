/*
 * consoles.h (api) - remote consoles: Nova's remote-consoles API and the
 * old os-getVNCConsole/os-getSerialConsole actions, the noVNC files, the
 * WebSocket proxy (/console/ws, /console/serial) and the agents' dial-back
 * (/internal/v1/hosts/{host}/console/{session}).  docs/agent-protocol.md
 * "Consoles" describes the path.
 */
#ifndef ST_API_CONSOLES_H
#define ST_API_CONSOLES_H

#include <jansson.h>
#include <stddef.h>

#include "api/api.h"

extern const struct route console_routes[];
extern const size_t console_routes_count;

/* POST /servers/{id}/action with "os-getVNCConsole" or
 * "os-getSerialConsole" ('key') and its 'args'. */
int consoles_action(struct api_req *req, struct api_resp *resp, const char *key, json_t *args,
                    struct st_err *err) __attribute__((warn_unused_result));

/* True for the action names consoles_action() serves. */
int consoles_is_action(const char *key);

#endif

/* servers.h (api) - the server route table. */
#ifndef ST_API_SERVERS_H
#define ST_API_SERVERS_H

#include <stddef.h>

#include "api/api.h"

extern const struct route server_routes[];
extern const size_t server_routes_count;

#endif

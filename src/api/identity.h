/* identity.h (api) - the Keystone v3 route table. */
#ifndef ST_API_IDENTITY_H
#define ST_API_IDENTITY_H

#include <stddef.h>

#include "api/api.h"

extern const struct route identity_routes[];
extern const size_t identity_routes_count;

#endif

/* keypairs.h (api) - the Nova os-keypairs routes under /compute/v2.1. */
#ifndef ST_API_KEYPAIRS_H
#define ST_API_KEYPAIRS_H

#include <stddef.h>

#include "api/api.h"

extern const struct route keypair_routes[];
extern const size_t keypair_routes_count;

#endif

/* flavors.h (api) - the Nova flavor routes: flavors, os-flavor-access and
 * os-extra_specs under /compute/v2.1. */
#ifndef ST_API_FLAVORS_H
#define ST_API_FLAVORS_H

#include <stddef.h>

#include "api/api.h"

extern const struct route flavor_routes[];
extern const size_t flavor_routes_count;

#endif

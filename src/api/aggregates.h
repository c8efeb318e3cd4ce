/* aggregates.h (api) - the Nova os-aggregates routes under /compute/v2.1. */
#ifndef ST_API_AGGREGATES_H
#define ST_API_AGGREGATES_H

#include <stddef.h>

#include "api/api.h"

extern const struct route aggregate_routes[];
extern const size_t aggregate_routes_count;

#endif

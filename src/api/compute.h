/* compute.h (api) - the compute route table. */
#ifndef ST_API_COMPUTE_H
#define ST_API_COMPUTE_H

#include <stddef.h>

#include "api/api.h"

extern const struct route compute_routes[];
extern const size_t compute_routes_count;

#endif

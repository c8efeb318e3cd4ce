/* internal.h (api) - the internal route table. */
#ifndef ST_API_INTERNAL_H
#define ST_API_INTERNAL_H

#include <stddef.h>

#include "api/api.h"

extern const struct route internal_routes[];
extern const size_t internal_routes_count;

#endif

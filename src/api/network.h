/* network.h (api) - the Neutron v2.0 route table (/network/v2.0). */
#ifndef ST_API_NETWORK_H
#define ST_API_NETWORK_H

#include <stddef.h>

#include "api/api.h"

extern const struct route network_routes[];
extern const size_t network_routes_count;

#endif

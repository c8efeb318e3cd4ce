/* image.h (api) - the Glance v2 route table. */
#ifndef ST_API_IMAGE_H
#define ST_API_IMAGE_H

#include <stddef.h>

#include "api/api.h"

extern const struct route image_routes[];
extern const size_t image_routes_count;

#endif

/* volume.h (api) - Cinder v3 routes and Nova's os-volume_attachments. */
#ifndef ST_API_VOLUME_H
#define ST_API_VOLUME_H

#include <stddef.h>

#include "api/api.h"

extern const struct route volume_routes[];
extern const size_t volume_routes_count;

#endif

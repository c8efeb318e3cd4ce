/* versions.h - version discovery routes and the API version ranges. */
#ifndef ST_VERSIONS_H
#define ST_VERSIONS_H

#include <stddef.h>

#include "api/api.h"

/* Highest microversions served; raised as features land. */
#define API_COMPUTE_MAX_MAJOR 2
#define API_COMPUTE_MAX_MINOR 92
#define API_COMPUTE_MAX_VERSION "2.92"
/* What bootstrap's openrc and clouds.yaml pin for the stock CLI
 * (ARCHITECTURE §9): the newest at which every command of Debian's
 * openstackclient works.  Not 2.92: from there Nova no longer generates
 * keypairs, and `openstack keypair create NAME` (OSC 6.0) does not make one
 * itself, so it would fail. */
#define API_COMPUTE_CLIENT_VERSION "2.91"
#define API_VOLUME_MAX_MAJOR 3
#define API_VOLUME_MAX_MINOR 60
#define API_VOLUME_MAX_VERSION "3.60"
/* What bootstrap pins for the volume commands of the stock CLI. */
#define API_VOLUME_CLIENT_VERSION "3.60"

extern const struct route version_routes[];
extern const size_t version_routes_count;

#endif

/* routes.c - every service's route table, registered in one place. */
#include "api/server.h"

#include "api/aggregates.h"
#include "api/compute.h"
#include "api/consoles.h"
#include "api/flavors.h"
#include "api/identity.h"
#include "api/image.h"
#include "api/internal.h"
#include "api/keypairs.h"
#include "api/metadata.h"
#include "api/migrations.h"
#include "api/network.h"
#include "api/servers.h"
#include "api/router.h"
#include "api/versions.h"
#include "api/volume.h"
#include "common/banned.h"

void api_register_routes(struct router *r)
{
    router_add(r, version_routes, version_routes_count);
    router_add(r, identity_routes, identity_routes_count);
    router_add(r, image_routes, image_routes_count);
    router_add(r, server_routes, server_routes_count);
    router_add(r, compute_routes, compute_routes_count);
    router_add(r, flavor_routes, flavor_routes_count);
    router_add(r, keypair_routes, keypair_routes_count);
    router_add(r, network_routes, network_routes_count);
    router_add(r, internal_routes, internal_routes_count);
    router_add(r, volume_routes, volume_routes_count);
    router_add(r, console_routes, console_routes_count);
    router_add(r, aggregate_routes, aggregate_routes_count);
    router_add(r, metadata_routes, metadata_routes_count);
    router_add(r, migration_routes, migration_routes_count);
}

/* routes.c - every service's route table, registered in one place. */
#include "api/server.h"

#include "api/identity.h"
#include "api/router.h"
#include "api/versions.h"
#include "common/banned.h"

void api_register_routes(struct router *r)
{
    router_add(r, version_routes, version_routes_count);
    router_add(r, identity_routes, identity_routes_count);
}

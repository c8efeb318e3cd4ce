/*
 * volumes.c - compute's registered volume provider (volumes.h).
 */
#include "compute/volumes.h"

#include "common/banned.h"

/* Written once at start-up, before the threads that read it exist. */
static const struct compute_volumes_ops *provider;

void compute_volumes_register(const struct compute_volumes_ops *ops)
{
    provider = ops;
}

const struct compute_volumes_ops *compute_volumes(void)
{
    return provider;
}

/*
 * ports.c - compute's calls into its registered port provider (ports.h).
 * server*.c and host.c call these wrappers (compute/internal.h), never the
 * network module.
 */
#include "compute/ports.h"

#include "compute/internal.h"
#include "common/banned.h"

/* Written once at start-up, before the threads that read it exist. */
static const struct compute_ports_ops *provider;

void compute_ports_register(const struct compute_ports_ops *ops)
{
    provider = ops;
}

static int no_provider(struct st_err *err)
{
    if (provider)
        return 0;
    st_err_set(err, ST_ERR_INTERNAL, "compute: no port provider is registered");
    return -1;
}

int compute_ports_create(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                         const char *host, const char *az, const struct compute_nic_request *nics,
                         size_t nnics, json_t *security_groups, struct st_err *err)
{
    if (no_provider(err) < 0)
        return -1;
    return provider->create(c, ctx, server_id, host, az, nics, nnics, security_groups, err);
}

int compute_ports_release(struct store_conn *c, const char *server_id, struct st_err *err)
{
    if (no_provider(err) < 0)
        return -1;
    return provider->release(c, server_id, err);
}

json_t *compute_ports_nics(struct store_conn *c, const char *server_id, struct st_err *err)
{
    if (no_provider(err) < 0)
        return NULL;
    return provider->nics(c, server_id, err);
}

json_t *compute_ports_host_desired(struct store_conn *c, const char *host, struct st_err *err)
{
    if (no_provider(err) < 0)
        return NULL;
    return provider->host_desired(c, host, err);
}

int compute_ports_host_report(struct store_conn *c, const char *host, json_t *report,
                              struct st_err *err)
{
    if (no_provider(err) < 0)
        return -1;
    return provider->host_report(c, host, report, err);
}

int compute_ports_bind(struct store_conn *c, const char *server_id, const char *host,
                       const char *migrating_host, struct st_err *err)
{
    if (no_provider(err) < 0)
        return -1;
    return provider->bind(c, server_id, host, migrating_host, err);
}

/*
 * metadata.h (api) - the metadata service behind the agents' proxies:
 * GET (and POST for the password) /internal/v1/metadata/<path>, where
 * <path> is what the guest asked http://169.254.169.254/ for.  Only a
 * request signed by a proxy is answered (metadata/sign.h); the guest is
 * found from the network and source address the proxy vouches for, and its
 * texts come from the renderer the config drive uses (metadata/render.h).
 * docs/agent-protocol.md, "Metadata".
 */
#ifndef ST_API_METADATA_H
#define ST_API_METADATA_H

#include <stddef.h>

#include "api/api.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"

extern const struct route metadata_routes[];
extern const size_t metadata_routes_count;

/* The shared secret of the metadata proxies into 'out': [metadata]
 * shared_secret when set, else DATA_DIR/metadata_secret, which is made
 * (32 random bytes, base64url, mode 0600) when absent.  Bootstrap and
 * stratusd both call it, so a data directory always has one. */
int metadata_secret_load(const struct cfg *cfg, struct st_buf *out, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

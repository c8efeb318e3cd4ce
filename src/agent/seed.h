/*
 * seed.h - what a guest reads at first boot to configure itself: the
 * NoCloud seed (volume label "cidata": meta-data, user-data, network-config
 * version 2) and the OpenStack config drive (label "config-2":
 * openstack/latest/meta_data.json, user_data, network_data.json,
 * vendor_data.json, also under a dated version directory), as real
 * cloud-init 22.4 (Debian 12 cloud images) reads them:
 *   - network-config v2: NICs matched by MAC without set-name; the default
 *     route as "to: 0.0.0.0/0" (never "default", which 22.4 rejects), the
 *     IPv6 one as "gateway6" (22.4 turns "to: ::/0" into ::/64);
 *     "dhcp4: true" for a subnet with DHCP, static addresses otherwise;
 *   - network_data.json: DNS servers in the top-level "services" list and in
 *     each network's "services" (as Nova writes both);
 *   - meta-data: instance-id, local-hostname, public-keys.
 * The texts come from the renderer the metadata service shares
 * (metadata/render.h, where the cloud-init details are); seed_write_iso()
 * builds an ISO 9660 image with Rock Ridge and Joliet through libisofs,
 * written to a temporary file and renamed into place.
 */
#ifndef ST_AGENT_SEED_H
#define ST_AGENT_SEED_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/model.h"
#include "common/buf.h"
#include "common/err.h"

struct seed_file {
    const char *path;  /* inside the image, e.g. "openstack/latest/user_data" */
    const void *data;
    size_t len;
};

/* Writes an ISO 9660 image with volume label 'label' holding 'files' to
 * 'path' (atomically). */
int seed_write_iso(const char *path, const char *label, const struct seed_file *files,
                   size_t nfiles, struct st_err *err) __attribute__((warn_unused_result));

/* Builds the whole seed of 's' at 'path': a config drive when
 * 's->config_drive', else a NoCloud seed.  The user-data is the user's bytes
 * as given (an empty file when none). */
int seed_build(const struct model_server *s, const char *path, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

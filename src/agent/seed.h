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
 * Text generators are pure; seed_write_iso() builds an ISO 9660 image with
 * Rock Ridge and Joliet through libisofs, written to a temporary file and
 * renamed into place.
 *
 * Golden tests: tests/data/seed/<case>.json -> <case>.{meta-data,
 * network-config,meta_data.json,network_data.json}.
 */
#ifndef ST_AGENT_SEED_H
#define ST_AGENT_SEED_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/model.h"
#include "common/buf.h"
#include "common/err.h"

/* NoCloud "meta-data" (YAML). */
int seed_nocloud_meta_data(const struct model_server *s, struct st_buf *out,
                           struct st_err *err) __attribute__((warn_unused_result));
/* NoCloud "network-config" (version 2 YAML); empty when the server has no NIC. */
int seed_nocloud_network_config(const struct model_server *s, struct st_buf *out,
                                struct st_err *err) __attribute__((warn_unused_result));
/* Config drive "meta_data.json". */
int seed_configdrive_meta_data(const struct model_server *s, struct st_buf *out,
                               struct st_err *err) __attribute__((warn_unused_result));
/* Config drive "network_data.json". */
int seed_configdrive_network_data(const struct model_server *s, struct st_buf *out,
                                  struct st_err *err) __attribute__((warn_unused_result));

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

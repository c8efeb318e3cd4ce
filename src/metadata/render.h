/*
 * render.h (metadata) - the one renderer of what a guest reads about itself,
 * shared by the config drive and NoCloud seed the agent writes
 * (src/agent/seed.c) and the metadata service stratusd answers at
 * 169.254.169.254 through the agents' proxies (src/api/metadata.c).  Both
 * build the same struct model_server (agent/model.h) from the same SERVER
 * document of the desired state (docs/agent-protocol.md), so a guest sees
 * the same meta_data.json, network_data.json, vendor data and user data
 * whichever way it asks.
 *
 * What cloud-init 22.4 (Debian 12 cloud images) reads:
 *   - network-config v2: NICs matched by MAC without set-name; the default
 *     route as "to: 0.0.0.0/0" (never "default", which 22.4 rejects), the
 *     IPv6 one as "gateway6" (22.4 turns "to: ::/0" into ::/64);
 *     "dhcp4: true" for a subnet with DHCP, static addresses otherwise;
 *   - network_data.json: DNS servers in the top-level "services" list and in
 *     each network's "services" (as Nova writes both);
 *   - meta-data: instance-id, local-hostname, public-keys;
 *   - the metadata service: the OpenStack tree under /openstack/VERSION/ and
 *     the EC2 tree under /VERSION/meta-data/ and /VERSION/user-data, as
 *     Nova's metadata API lays them out (nova/api/metadata/base.py).
 *
 * Every function here is pure: a function of its arguments only.  Golden
 * tests: tests/data/seed/<case>.json -> <case>.{meta-data, network-config,
 * meta_data.json, network_data.json}; tests/unit/test-metadata.c for the
 * trees.
 */
#ifndef ST_METADATA_RENDER_H
#define ST_METADATA_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/model.h"
#include "common/buf.h"
#include "common/err.h"

/* NoCloud "meta-data" (YAML). */
int mdr_nocloud_meta_data(const struct model_server *s, struct st_buf *out, struct st_err *err)
    __attribute__((warn_unused_result));
/* NoCloud "network-config" (version 2 YAML); empty when the server has no NIC. */
int mdr_nocloud_network_config(const struct model_server *s, struct st_buf *out,
                               struct st_err *err) __attribute__((warn_unused_result));
/* "meta_data.json", with "random_seed" when 'random_seed' (base64) is not
 * NULL and "admin_pass" when 'admin_pass' is set and the server has one (the
 * config drive: Nova's metadata service never serves the admin password). */
int mdr_meta_data(const struct model_server *s, const char *random_seed, bool admin_pass,
                  struct st_buf *out, struct st_err *err) __attribute__((warn_unused_result));
/* "network_data.json". */
int mdr_network_data(const struct model_server *s, struct st_buf *out, struct st_err *err)
    __attribute__((warn_unused_result));
/* "vendor_data.json" and "vendor_data2.json": "{}" (no vendor data). */
void mdr_vendor_data(struct st_buf *out);

/* What the metadata service knows of the guest asking, besides its server. */
struct mdr_instance {
    const struct model_server *server;
    const char *local_ipv4;  /* the fixed address the request came from */
    const char *public_ipv4; /* a floating IP of that address, or NULL */
    const char *password;    /* what the guest posted to .../password, or NULL */
    const char *random_seed; /* base64 for meta_data.json, or NULL */
};

/* The body of metadata service path 'path' (no leading or trailing slash;
 * "" is the root) into 'out', and its media type into '*content_type'
 * ("text/plain" or "application/json"; user data is
 * "application/octet-stream").  Returns 0, or -1 with NOT_FOUND for a path
 * outside the trees (or user data of a server without any). */
int mdr_lookup(const struct mdr_instance *in, const char *path, struct st_buf *out,
               const char **content_type, struct st_err *err) __attribute__((warn_unused_result));

/* The versions both trees answer for (the newest last, "latest" after). */
bool mdr_openstack_version(const char *v);
bool mdr_ec2_version(const char *v);

#endif

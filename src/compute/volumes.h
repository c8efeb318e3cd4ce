/*
 * volumes.h - how compute sees the block storage of its servers: a provider
 * interface that the volume module implements (volume/volume.h:
 * vol_compute_volumes), as compute/ports.h is for network.
 *
 * Compute owns servers, volume owns volumes and attachments.  Compute needs
 * these from volume, each inside compute's own transaction: the volumes a
 * server boots with (block_device_mapping_v2), releasing them when a server
 * is gone, the server's attachments for the agent, volume's half of a host's
 * registration, desired state and report, and the end of a volume task.
 * The program registers the provider once at start-up (stratusd:
 * compute_volumes_register(&vol_compute_volumes)).  Until one is registered
 * a server with block devices is refused and a desired state carries no
 * "volumes" (so an agent would detach nothing it was told about: the
 * members below say which calls then fail).
 */
#ifndef ST_COMPUTE_VOLUMES_H
#define ST_COMPUTE_VOLUMES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "identity/policy.h"
#include "store/store.h"

/* One entry of "block_device_mapping_v2" at server creation, checked for
 * shape by the API layer; strings borrowed. */
struct compute_bdm {
    const char *source_type;      /* "volume", "image", "snapshot" or "blank" */
    const char *destination_type; /* "volume" ("local" is the image disk: not here) */
    const char *uuid;             /* the source's id (NULL for blank) */
    int64_t volume_size;          /* GiB for a new volume, 0: the source's */
    int boot_index;               /* 0 boots; -1 none */
    bool delete_on_termination;
    const char *volume_type;      /* NULL: the default type */
};

struct compute_volumes_ops {
    /* The image a server that boots from 'bdms' runs (its kernel and
     * ramdisk properties): the image of a source_type=image root mapping,
     * or the image a root volume was made from.  Fills 'image_id' ("" when
     * none: the server then needs imageRef).  400/404 for a bad mapping. */
    int (*boot_image)(struct store_conn *c, const struct auth_ctx *ctx,
                      const struct compute_bdm *bdms, size_t n, char image_id[37],
                      struct st_err *err);
    /* Creates the volumes of new server 'server_id' (placed on 'host', or
     * NULL) and attaches them: existing volumes must be available and the
     * caller's.  403/413 over quota, 400 a bad mapping, 404 unknown. */
    int (*boot)(struct store_conn *c, const struct auth_ctx *ctx, const char *server_id,
                const char *host, const struct compute_bdm *bdms, size_t n, struct st_err *err);
    /* Server 'server_id' is gone: its attachments end; volumes marked
     * delete_on_termination are deleted. */
    int (*release)(struct store_conn *c, const char *server_id, struct st_err *err);
    /* Server 'server_id' is evacuated from the down host 'old_host' to
     * 'host': every attachment of it now serves it on 'host', as a new
     * attachment (new id, so a new iSCSI export: the old one goes) in
     * 'attaching', its transport chosen again as for an attach (iSCSI with
     * fresh CHAP credentials unless the volume is on 'host'), so that
     * 'host' attaches it when it builds the server and reports it attached
     * (the volume is then in-use again); one being detached ends.  The
     * hosts concerned are bumped.  409 when a volume that must follow is
     * on 'old_host' or on another host that is down. */
    int (*rehome)(struct store_conn *c, const char *server_id, const char *old_host,
                  const char *host, struct st_err *err);
    /* The "volumes" list of a server in the desired state (new array). */
    json_t *(*server_volumes)(struct store_conn *c, const char *server_id, struct st_err *err);
    /* Whether the server's host can have its boot volume (boot_index 0)
     * in the "volumes" of its desired state: false while the volume's
     * connection is not known yet (a new volume not made, an iSCSI export
     * not reported); true when it boots from no volume. */
    int (*boot_ready)(struct store_conn *c, const char *server_id, bool *ready,
                      struct st_err *err);
    /* os-extended-volumes:volumes_attached of a server (new array). */
    json_t *(*attached)(struct store_conn *c, const char *server_id, struct st_err *err);
    /* The volume part of a host's desired state: {"volumes": [...]}. */
    json_t *(*host_desired)(struct store_conn *c, const char *host, struct st_err *err);
    /* Applies the volume part of a host's report (top-level "volumes" and
     * each server's "volumes"); sets '*bump' when the desired state of some
     * host changed (volume bumps the other hosts itself). */
    int (*host_report)(struct store_conn *c, const char *host, json_t *report, bool *bump,
                       struct st_err *err);
    /* Records the "volume_backends" of a registration. */
    int (*host_register)(struct store_conn *c, const char *host, json_t *info,
                         struct st_err *err);
    /* Task 'task_id' of kind "volume_*" finished ('ok'), with the agent's
     * 'result' (may be NULL) and 'error' (may be NULL). */
    int (*task_done)(struct store_conn *c, const char *host, const char *task_id,
                     const char *kind, json_t *args, bool ok, json_t *result, const char *error,
                     struct st_err *err);
};

/* Makes 'ops' (borrowed, static) compute's volume provider; once, before
 * any thread serves a request. */
void compute_volumes_register(const struct compute_volumes_ops *ops);

/* The registered provider, or NULL (for compute's own files and the API
 * layer, which shows volumes_attached). */
const struct compute_volumes_ops *compute_volumes(void);

#endif

/*
 * reconcile.h - the agent's level-triggered reconciler: given the full
 * desired state of this host, converge what exists (libvirt domains,
 * instance directories, disks, seeds) towards it, and say what is.
 *
 * Every pass starts from what it finds, never from what it remembers doing,
 * so a pass after a crash (of the agent, libvirtd or the host) finishes the
 * work: each step checks before it acts and tolerates its own earlier
 * results (temporary files renamed into place, idempotent libvirt calls,
 * state.json written last).  What is kept in memory only makes passes
 * cheaper or gentler (error back-off, a clean shutdown under way, finished
 * task results to repeat until the controller retires them); losing it
 * costs at most a repeated harmless step.
 *
 * Volumes (volume.h) come first in a pass, then per server, in order:
 * instance directory -> cached images -> disks (root
 * at disk_generation, rebuilt when the generation changes; ephemeral;
 * swap; none for a server booted from a volume) -> seed -> rescue -> resize
 * -> libvirt secrets of iSCSI volumes -> domain XML with the attached
 * volumes (defined when it changed) -> power state -> volume disks
 * hot-plugged or unplugged to match the definition (vattach.h).  A server with delete=true is destroyed, undefined and
 * its directory removed ("gone").  Domains and instance directories of
 * servers that are not desired at all are removed too (a server deleted
 * while the agent was down).  A failure makes that server "error" with a
 * fault, retried with back-off; it never stops the others.
 *
 * Ownership (ARCHITECTURE §9): every domain the reconciler defines names
 * its host's id in its metadata (domain.h), and it removes only the domains
 * that name this host, whether they are leftovers or servers deleted by
 * the controller; it changes no domain that names another host (CONFLICT
 * for that server).  A domain that names no host (made before the marks)
 * is adopted when the desired state names its server (its next definition
 * carries the mark) and otherwise left alone, logged once.  Instance
 * directories belong to the instances path, which one agent holds at a
 * time; one whose domain is left alone stays with it.
 *
 * Power: the agent starts a server that must run when it is missing, was
 * never started, crashed or was stopped by the agent; but a guest that
 * powered itself off while running stays off (reported "shutoff", as Nova's
 * power-state sync sees it) until the desired power changes or a reboot.
 */
#ifndef ST_AGENT_RECONCILE_H
#define ST_AGENT_RECONCILE_H

#include <jansson.h>

#include "agent/net.h"
#include <stdint.h>

#include "agent/metadata_proxy.h"
#include "agent/model.h"
#include "agent/virt.h"
#include "common/err.h"

struct reconcile_opts {
    const char *instances_path; /* absolute */
    const char *virt_type;      /* "kvm" or "qemu" */
    const char *vnc_listen;
    int memballoon_period;       /* seconds, 0 = off */
    int shutdown_timeout;        /* seconds a clean shutdown may take (stop, resize) */
    int64_t base_unused_seconds; /* grace period of unused cached images */
    struct net_state *net;       /* the network driver (borrowed), or NULL */
    struct volumes *vol;         /* the volume driver (borrowed), or NULL (volume.h) */
    struct mdp *metadata;        /* the metadata proxies (borrowed), or NULL */
    bool no_seed;                /* [libvirt] seed = none: a seed only for a config drive */
    /* Live migration (migrate_live.c): the libvirt URI of this host (the
     * migration thread opens its own connection), the URI template of a
     * peer's libvirtd ("%s" = its address), whether QEMU's streams use TLS,
     * and this host's own address for incoming migrations ("" = none). */
    const char *libvirt_uri;
    const char *live_migration_uri;
    bool live_migration_tls;
    const char *migration_address;
};

/* How the reconciler reaches the controller (client.c in the agent; fakes
 * in tests). */
struct reconcile_io {
    /* Downloads image 'img' into the new file 'path', checking its checksum. */
    int (*fetch)(void *opaque, const struct model_image *img, const char *path, struct st_err *err);
    /* Uploads the file 'path' as the data of image 'image_id'. */
    int (*upload)(void *opaque, const char *image_id, const char *path, struct st_err *err);
    /* Migration files (client_migration_put/get; may be NULL: no cold
     * migration). */
    int (*mig_put)(void *opaque, const char *mig_id, const char *name, const char *path,
                   struct st_err *err);
    int (*mig_get)(void *opaque, const char *mig_id, const char *name, const char *path,
                   const char *sha256_hex, int64_t size, struct st_err *err);
    /* Slow work for 'server_id' is about to start (may be NULL): the
     * heartbeat can say "building" meanwhile. */
    void (*building)(void *opaque, const char *server_id);
    void *opaque;
};

struct reconciler;

/* A reconciler working on 'virt' (borrowed).  The strings in 'opts' and
 * 'io' are borrowed and must outlive it. */
struct reconciler *reconcile_new(const struct reconcile_opts *opts, struct virt *virt,
                                 const struct reconcile_io *io);
void reconcile_free(struct reconciler *r);

/* Sets the id (a UUID) of the host the reconciler works for, and of its
 * network driver: learnt at registration, before the first pass.  The
 * passes define no domain until it is set.  BAD_REQUEST when not a UUID. */
int reconcile_set_host_id(struct reconciler *r, const char *host_id, struct st_err *err)
    __attribute__((warn_unused_result));

/* One pass towards 'd'.  Returns the report body (new reference) for
 * POST .../report.  '*next_ns' gets the monotonic time (st_mono_ns) by
 * which the caller should run a pass again even if nothing happens (a
 * clean shutdown's deadline, an error's retry), or 0. */
json_t *reconcile_run(struct reconciler *r, const struct model_desired *d, int64_t *next_ns);

#endif

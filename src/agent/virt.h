/*
 * virt.h - the agent's libvirt driver: the libvirt C API (never virsh) for
 * the domains of this host's servers.
 *
 * One connection, reopened when it drops (libvirtd restarted).  An event
 * loop thread runs virEventRunDefaultImpl(); a lifecycle event on any
 * domain calls the owner's callback from that thread, which should only
 * wake the main loop (the reconciler looks at the real state itself:
 * events are hints, never the truth).
 *
 * Domains are addressed by name ("instance-<uuid>", domain_name()).  Every
 * operation is idempotent where libvirt lets it be: destroying a stopped
 * domain, undefining a missing one, resuming a running one all succeed.
 * Functions return errors (st_err with libvirt's message) and do not log.
 */
#ifndef ST_AGENT_VIRT_H
#define ST_AGENT_VIRT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct virt;

/* Called from the event thread on a domain lifecycle event. */
typedef void (*virt_event_fn)(void *opaque);

/* Opens 'uri' and starts the event thread.  'on_event' may be NULL.
 * Returns a new driver (virt_close) or NULL with 'err' set. */
struct virt *virt_open(const char *uri, virt_event_fn on_event, void *opaque, struct st_err *err);
/* Stops the event thread and closes the connection. */
void virt_close(struct virt *v);
/* Reopens the connection when it is dead (libvirtd restarted); cheap when
 * alive. */
int virt_check(struct virt *v, struct st_err *err) __attribute__((warn_unused_result));

/* What a domain is doing, as the reconciler needs it. */
enum virt_state {
    VIRT_MISSING, /* not defined */
    VIRT_RUNNING, /* running, blocked, or being shut down */
    VIRT_PAUSED,
    VIRT_SHUTOFF,   /* defined, not running, no managed save image */
    VIRT_SUSPENDED, /* not running, with a managed save image (or pmsuspended) */
    VIRT_CRASHED,
};

struct virt_info {
    enum virt_state state;
    int reason;         /* libvirt's state reason (VIR_DOMAIN_SHUTOFF_*, ...) */
    bool shut_by_guest; /* SHUTOFF because the guest powered itself off */
    bool persistent;    /* has a persistent definition (not transient) */
};

/* The state of domain 'name' (VIRT_MISSING when it is not defined). */
int virt_state(struct virt *v, const char *name, struct virt_info *out, struct st_err *err)
    __attribute__((warn_unused_result));
/* Nova's power_state number of a state: 0 NOSTATE, 1 RUNNING, 3 PAUSED,
 * 4 SHUTDOWN, 6 CRASHED, 7 SUSPENDED. */
int virt_power_state(enum virt_state s);
const char *virt_state_name(enum virt_state s);

/* Defines (or redefines) a persistent domain from 'xml', validated against
 * libvirt's schema. */
int virt_define(struct virt *v, const char *xml, struct st_err *err)
    __attribute__((warn_unused_result));
/* Starts a defined domain (restoring its managed save image if it has one);
 * 'paused' starts it with the CPUs stopped.  Running already is fine. */
int virt_start(struct virt *v, const char *name, bool paused, struct st_err *err)
    __attribute__((warn_unused_result));
/* Asks the guest to power off (ACPI power button). */
int virt_shutdown(struct virt *v, const char *name, struct st_err *err)
    __attribute__((warn_unused_result));
/* Powers off at once.  Not running (or missing) is fine. */
int virt_destroy(struct virt *v, const char *name, struct st_err *err)
    __attribute__((warn_unused_result));
/* Removes the definition with its managed save image, snapshot and
 * checkpoint metadata and NVRAM.  Missing is fine; a running domain is
 * destroyed first. */
int virt_undefine(struct virt *v, const char *name, struct st_err *err)
    __attribute__((warn_unused_result));
/* Pauses / resumes the CPUs. */
int virt_pause(struct virt *v, const char *name, struct st_err *err)
    __attribute__((warn_unused_result));
int virt_resume(struct virt *v, const char *name, struct st_err *err)
    __attribute__((warn_unused_result));
/* Saves the memory to a managed save image and stops (suspend); the next
 * virt_start restores it.  Removing drops the image (a cold boot next). */
int virt_managed_save(struct virt *v, const char *name, struct st_err *err)
    __attribute__((warn_unused_result));
int virt_managed_save_remove(struct virt *v, const char *name, struct st_err *err)
    __attribute__((warn_unused_result));

/* The domains of this host's servers, of two kinds: those whose stratus
 * metadata (<stratus:host uuid>, domain.h) names host 'host_id', and --
 * made before agents marked their domains -- those that name no host and
 * have a disk under 'instances_path'/<uuid>/ ('unmarked', for the caller to
 * adopt or leave).  Either kind is named "instance-<uuid>" with that UUID
 * and carries the Nova instance metadata.  A domain naming another host is
 * never listed, wherever its disks are: several agents may share this
 * libvirtd.  '*out' gets a new array (free()). */
#define VIRT_ID_MAX 37
struct virt_server {
    char id[VIRT_ID_MAX]; /* the server id */
    bool unmarked;        /* names no host */
};
int virt_list_servers(struct virt *v, const char *instances_path, const char *host_id,
                      struct virt_server **out, size_t *n, struct st_err *err)
    __attribute__((warn_unused_result));

/* The host id that domain 'name' names in its stratus metadata (of its
 * persistent definition, else the live one) into 'out': "" when it names
 * none or there is no such domain. */
int virt_owner(struct virt *v, const char *name, char out[VIRT_ID_MAX], struct st_err *err)
    __attribute__((warn_unused_result));

/* The host's facts for registration: vcpus, memory_mb, hypervisor_version,
 * cpu_info (arch, model, vendor, topology).  Adds them to 'info'. */
int virt_host_info(struct virt *v, json_t *info, struct st_err *err)
    __attribute__((warn_unused_result));

/* The live connection (reopened by virt_check() when it dropped), for the
 * volume attachments' libvirt calls (vattach.c); NULL when not connected. */
struct _virConnect *virt_conn(struct virt *v);

/* ---- statistics (metrics, diagnostics, disk_available_least) ---------- */

/*
 * A second connection for another thread (the agent's metrics listener):
 * the same reconnection as virt_check(), but no event thread of its own.
 * Events and keepalives of every connection are dispatched by the event
 * thread of the virt_open() driver, which must outlive this one.
 */
struct virt *virt_open_secondary(const char *uri, struct st_err *err);

#define VIRT_STATS_MAX_DEV 16 /* vCPUs, disks, NICs kept per domain */

/* A figure libvirt did not give is -1. */
struct virt_disk_stats {
    char name[32];                 /* target: "vda", "hda" */
    int64_t rd_bytes, rd_reqs, wr_bytes, wr_reqs, errors;
    int64_t capacity, physical;    /* virtual size, bytes used on the host */
};

struct virt_nic_stats {
    char name[32];                 /* the host side: "tap..." */
    int64_t rx_bytes, rx_pkts, rx_errs, rx_drop, tx_bytes, tx_pkts, tx_errs, tx_drop;
};

struct virt_dom_stats {
    char id[37];                   /* server id, from the name */
    int power_state;               /* Nova's number (virt_power_state) */
    bool active;                   /* running or paused: the counters are live */
    int64_t cpu_time;              /* ns */
    size_t nvcpus;
    int64_t vcpu_time[VIRT_STATS_MAX_DEV]; /* ns */
    int64_t mem_maximum, mem_current, mem_rss; /* KiB (balloon) */
    size_t ndisks, nnics;
    struct virt_disk_stats disks[VIRT_STATS_MAX_DEV];
    struct virt_nic_stats nics[VIRT_STATS_MAX_DEV];
};

/* The statistics of every domain this agent made, in one call to libvirt
 * (virConnectGetAllDomainStats): named "instance-<uuid>" with a disk under
 * 'instances_path'/<uuid>/, like virt_list_servers() but without reading
 * each domain's XML.  A domain busy with a job gives only the figures it
 * can at once (the call never waits for it).  '*out' gets a new array
 * (free()) of '*n' entries, ordered by id. */
int virt_stats(struct virt *v, const char *instances_path, struct virt_dom_stats **out, size_t *n,
               struct st_err *err) __attribute__((warn_unused_result));

#endif

/* reconcile_internal.h - what the files of the reconcile pass share with
 * one another and with nobody else (reconcile.h is the agent's view):
 * the reconciler's state, what it remembers of each server, the pass's
 * jobs, one server's pass context, and the helpers one file calls in
 * another.
 *
 *   reconcile.c        the pass: new/free, bookkeeping, failures, jobs,
 *                      the report and reconcile_run()
 *   reconcile_steps.c  one server's build and power steps, converge
 *   reconcile_tasks.c  tasks: reboot, console log, snapshot, volume tasks
 *   reconcile_gc.c     housekeeping: removing servers, leftover domains and
 *                      directories, the image cache
 *   migrate.c          a server's migration between hosts: cold, and the
 *   migrate_live.c     live one (migrate.h), hooked into one server's pass */
#ifndef ST_AGENT_RECONCILE_INTERNAL_H
#define ST_AGENT_RECONCILE_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/instance.h"
#include "agent/model.h"
#include "agent/reconcile.h"
#include "agent/virt.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define MOD "reconcile"
#define GIB (INT64_C(1) << 30)
#define NS_PER_S INT64_C(1000000000)
#define BACKOFF_MIN_S 5
#define BACKOFF_MAX_S 300
#define CONSOLE_MAX_BYTES (1u << 20)
#define CLEANUP_INTERVAL_S 60
#define SNAPSHOT_DIR "_snapshots"
#define JOB_THREADS 8

/* A clean shutdown the agent asked for and waits on. */
enum pending {
    PEND_NONE,
    PEND_STOP,   /* desired power "stopped" */
    PEND_REBOOT, /* a SOFT reboot task ('task_id') */
    PEND_RESIZE, /* powering off before the resize backup */
    PEND_MIGRATE, /* powering off before a cold migration's export */
};

/* Where one server's build went, in ns: summed over its steps until the
 * pass that defines or starts its domain logs them once (visible in the
 * agent's log, read by bench/compute.sh).  The network's plumbing is the
 * pass's, logged by reconcile_run(). */
struct build_times {
    int64_t image;  /* images fetched or found in _base/ */
    int64_t disk;   /* root overlay, ephemeral and swap disks */
    int64_t seed;   /* NoCloud seed or config drive */
    int64_t define; /* virDomainDefineXML */
    int64_t start;  /* virDomainCreate */
    bool built;     /* a disk, a seed, a define or a start happened */
};

/* What the reconciler remembers of a server between passes. */
struct srv {
    char id[MODEL_ID_MAX];
    bool seen;                  /* in the desired state of this pass */
    char fault[ST_ERR_MSG_MAX]; /* last failure, "" when none */
    char fault_step[16];        /* the step that failed */
    int64_t retry_ns;           /* no new attempt before (monotonic) */
    int backoff_s;
    struct st_buf fp; /* the desired fields that matter, to retry at once on change */
    bool was_running; /* seen running by the last power step */
    bool hold;        /* the guest powered itself off: keep it off */
    enum model_power prev_power;
    int64_t prev_power_gen;
    bool have_prev;
    enum pending pending;
    int64_t pending_deadline_ns;
    char pending_task[MODEL_ID_MAX];
    char base_image[MODEL_ID_MAX]; /* image under the current root disk (state.json) */
    struct build_times bt;
    bool check_volumes; /* the live domain may have volume disks to match (true at first) */
    char vol_fault_att[MODEL_ID_MAX]; /* attachment whose hot-plug failed, "" if none */
    char vol_fault[ST_ERR_MSG_MAX];   /* its failure, reported on the attachment */
    struct mig_srv *mig; /* migrate.c's memory of its migration, or NULL */
};

/* Slow libvirt work of a pass, run side by side once every server has been
 * looked at: starting a domain (about a second of QEMU start-up) and
 * removing a server (destroy, undefine, the directory).  A job touches one
 * domain and one instance directory, nothing of the reconciler's. */
enum job_kind { JOB_START, JOB_REMOVE };

struct job {
    enum job_kind kind;
    struct srv *sv;
    int rc;
    struct st_err err;
    int64_t ns; /* how long it took */
};

/* A finished task and its report entry, repeated until the controller
 * retires it (it disappears from the desired state). */
struct done_task {
    char id[MODEL_ID_MAX];
    json_t *entry;
    bool seen;
};

/* A leftover domain without an owner mark, reported once while it is there. */
struct unmarked {
    char id[VIRT_ID_MAX];
    bool seen;
};

/* A network or router the network driver says is in ERROR, logged when its
 * message changes (the report carries it, but only the log tells an
 * operator of this host). */
struct net_fault {
    const char *kind; /* "network", "router" */
    char id[MODEL_ID_MAX];
    char msg[ST_ERR_MSG_MAX];
    bool seen;
};

struct reconciler {
    struct reconcile_opts opts;
    char host_id[MODEL_ID_MAX]; /* the owner of what we make, "" until set */
    struct unmarked *unmarked;
    size_t nunmarked;
    struct net_fault *net_faults;
    size_t nnet_faults;
    struct virt *virt;
    struct reconcile_io io;
    struct srv **srvs;
    size_t nsrvs;
    struct done_task *done;
    size_t ndone, done_alloc;
    int64_t next_cleanup_ns;
    struct log_rl rl;
    /* the cache names in use this pass */
    char **in_use;
    size_t nin_use, in_use_alloc;
    struct job *jobs;
    size_t njobs, jobs_alloc;
    atomic_size_t job_next;
    int nbuilt; /* servers whose build times this pass logged */
    const struct model_desired *cur; /* the desired state of the pass under way */
};

/* Everything one server's pass needs. */
struct ctx {
    struct reconciler *r;
    const struct model_server *s;
    struct srv *sv;
    struct instance *inst;
    struct instance_state st;
    struct st_buf name;           /* domain name */
    struct st_buf kernel, initrd; /* cached kernel/ramdisk of the boot image */
    struct virt_info vi;
    const char *step; /* for the fault */
    bool deferred;    /* a job finishes this server's pass */
};

/* ---- reconcile.c -------------------------------------------------------- */

/* The memory of server 'id', made (empty, to check its volumes) on first
 * sight. */
struct srv *reconcile_srv_get(struct reconciler *r, const char *id);
/* Records that 'step' of server 'sv' failed with 'err' and backs off;
 * logs when the fault message changes. */
void reconcile_srv_fail(struct reconciler *r, struct srv *sv, const char *step,
                        const struct st_err *err);
/* Clears the fault of server 'sv' (logs its recovery). */
void reconcile_srv_ok(struct srv *sv);
bool reconcile_file_exists(const char *path);
/* The domain name of a server id. */
void reconcile_dom_name(const char *id, struct st_buf *out);
/* Queues a job of 'kind' for server 'sv', run by the pass after every
 * server has been looked at. */
void reconcile_job_add(struct reconciler *r, struct srv *sv, enum job_kind kind);
/* The report entry of a server that is gone; a new reference. */
json_t *reconcile_gone_entry(const char *id);

/* ---- reconcile_steps.c -------------------------------------------------- */

/* Fails (CONFLICT) when domain 'name' is marked as another host's. */
int reconcile_check_owner(struct reconciler *r, const char *name, struct st_err *err)
    __attribute__((warn_unused_result));
/* Reloads the domain's state into 'c->vi'. */
int reconcile_refresh(struct ctx *c, struct st_err *err) __attribute__((warn_unused_result));
/* Powers the domain off at once; and asks for a clean shutdown, waiting
 * (across passes) up to 'timeout_s' before powering off: 1 when off, 0
 * while shutting down, -1 on error. */
int reconcile_power_off_hard(struct ctx *c, struct st_err *err)
    __attribute__((warn_unused_result));
int reconcile_power_off_clean(struct ctx *c, enum pending why, const char *task_id, int timeout_s,
                              struct st_err *err) __attribute__((warn_unused_result));
/* Makes sure image 'img' is cached (as the build does); appends its path
 * to 'path' (may be NULL). */
int reconcile_ensure_base(struct reconciler *r, struct srv *sv, const struct model_image *img,
                          bool kind_disk, struct st_buf *path, struct st_err *err)
    __attribute__((warn_unused_result));
/* The domain XML the pass would define for 'c' (its paths, this host's
 * owner mark, the effective flavor), into 'xml'. */
int reconcile_domain_xml(struct ctx *c, struct st_buf *xml, struct st_err *err)
    __attribute__((warn_unused_result));
/* One server's pass: builds what is missing of desired server 's' and
 * brings its power to the desired state; faults land in 'sv'. */
void reconcile_converge(struct reconciler *r, const struct model_server *s, struct srv *sv);

/* ---- reconcile_tasks.c -------------------------------------------------- */

/* Runs the tasks of 'd', appending their report entries to 'out'. */
void reconcile_run_tasks(struct reconciler *r, const struct model_desired *d, json_t *out);

/* ---- reconcile_gc.c ----------------------------------------------------- */

/* Destroys, undefines and removes server 'id' (see reconcile_gc.c). */
int reconcile_remove_server(struct reconciler *r, const char *id, struct st_err *err)
    __attribute__((warn_unused_result));
/* Removes domains and directories of servers 'd' does not name, appending
 * gone entries to 'out'. */
void reconcile_remove_leftovers(struct reconciler *r, const struct model_desired *d, json_t *out);
/* At most every CLEANUP_INTERVAL_S, removes the cached images no server of
 * the pass uses that have been unused for base_unused_seconds. */
void reconcile_cleanup_cache(struct reconciler *r);

#endif

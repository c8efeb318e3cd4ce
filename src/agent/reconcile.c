/* reconcile.c - the agent's reconcile pass (see reconcile.h).
 *
 * A pass has three parts: servers (converge each desired server), tasks
 * (reboot, console log, snapshot), then housekeeping (leftover domains and
 * directories, the image cache).  The report is written last, from a fresh
 * look at each domain, so that it says what is, after the tasks acted.
 *
 * Logging (STYLE §3): the functions below return st_err; this file logs,
 * once per distinct failure of a server (when its fault message changes),
 * through a rate limiter. */
#include "agent/reconcile.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/disk.h"
#include "agent/domain.h"
#include "agent/instance.h"
#include "agent/seed.h"
#include "agent/vattach.h"
#include "agent/volume.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/banned.h"

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

/* ------------------------------------------------------------ bookkeeping */

struct reconciler *reconcile_new(const struct reconcile_opts *opts, struct virt *virt,
                                 const struct reconcile_io *io)
{
    struct reconciler *r = st_xcalloc(1, sizeof(*r));
    struct st_buf dir = ST_BUF_INIT;
    r->opts = *opts;
    r->virt = virt;
    r->io = *io;
    r->rl = (struct log_rl) LOG_RL_INIT(30, 20);
    /* Snapshots under way when the agent stopped are redone from scratch:
     * their copies are worthless. */
    st_buf_addf(&dir, "%s/" SNAPSHOT_DIR, opts->instances_path);
    {
        DIR *d = opendir(dir.buf);
        struct dirent *de;
        if (d) {
            while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                    (void) unlinkat(dirfd(d), de->d_name, 0);
            closedir(d);
        }
    }
    st_buf_release(&dir);
    return r;
}

static void srv_free(struct srv *s)
{
    if (!s)
        return;
    st_buf_release(&s->fp);
    free(s);
}

void reconcile_free(struct reconciler *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nsrvs; i++)
        srv_free(r->srvs[i]);
    free(r->srvs);
    for (size_t i = 0; i < r->ndone; i++)
        json_decref(r->done[i].entry);
    free(r->done);
    for (size_t i = 0; i < r->nin_use; i++)
        free(r->in_use[i]);
    free(r->in_use);
    free(r->jobs);
    free(r->unmarked);
    free(r->net_faults);
    free(r);
}

int reconcile_set_host_id(struct reconciler *r, const char *host_id, struct st_err *err)
{
    if (!host_id || !st_is_uuid(host_id) || strlen(host_id) >= sizeof(r->host_id)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid host id '%s': want a UUID",
                   host_id ? host_id : "(none)");
        return -1;
    }
    if (r->opts.net && net_set_host_id(r->opts.net, host_id, err) < 0)
        return -1;
    memcpy(r->host_id, host_id, strlen(host_id) + 1);
    if (r->opts.vol)
        vol_set_host_id(r->opts.vol, r->host_id);
    return 0;
}

static struct srv *srv_get(struct reconciler *r, const char *id)
{
    struct srv *s;
    for (size_t i = 0; i < r->nsrvs; i++)
        if (!strcmp(r->srvs[i]->id, id))
            return r->srvs[i];
    s = st_xcalloc(1, sizeof(*s));
    memcpy(s->id, id, strlen(id) + 1);
    st_buf_init(&s->fp, 0);
    s->check_volumes = true;
    r->srvs = st_xrealloc(r->srvs, (r->nsrvs + 1) * sizeof(*r->srvs));
    r->srvs[r->nsrvs++] = s;
    return s;
}

static void srv_drop_unseen(struct reconciler *r)
{
    size_t j = 0;
    for (size_t i = 0; i < r->nsrvs; i++) {
        if (r->srvs[i]->seen)
            r->srvs[j++] = r->srvs[i];
        else
            srv_free(r->srvs[i]);
    }
    r->nsrvs = j;
}

static void use_base(struct reconciler *r, const char *name)
{
    if (!name || !name[0])
        return;
    for (size_t i = 0; i < r->nin_use; i++)
        if (!strcmp(r->in_use[i], name))
            return;
    if (r->nin_use == r->in_use_alloc) {
        r->in_use_alloc = r->in_use_alloc ? r->in_use_alloc * 2 : 16;
        r->in_use = st_xrealloc(r->in_use, r->in_use_alloc * sizeof(*r->in_use));
    }
    r->in_use[r->nin_use++] = st_xstrdup(name);
}

static void clear_in_use(struct reconciler *r)
{
    for (size_t i = 0; i < r->nin_use; i++)
        free(r->in_use[i]);
    r->nin_use = 0;
}

static struct done_task *done_find(struct reconciler *r, const char *id)
{
    for (size_t i = 0; i < r->ndone; i++)
        if (!strcmp(r->done[i].id, id))
            return &r->done[i];
    return NULL;
}

/* Records a finished task; takes ownership of 'entry'. */
static void done_add(struct reconciler *r, const char *id, json_t *entry)
{
    struct done_task *t;
    if (r->ndone == r->done_alloc) {
        r->done_alloc = r->done_alloc ? r->done_alloc * 2 : 8;
        r->done = st_xrealloc(r->done, r->done_alloc * sizeof(*r->done));
    }
    t = &r->done[r->ndone++];
    memset(t, 0, sizeof(*t));
    memcpy(t->id, id, strlen(id) + 1);
    t->entry = entry;
    t->seen = true;
}

static void done_drop_unseen(struct reconciler *r)
{
    size_t j = 0;
    for (size_t i = 0; i < r->ndone; i++) {
        if (r->done[i].seen)
            r->done[j++] = r->done[i];
        else
            json_decref(r->done[i].entry);
    }
    r->ndone = j;
}

/* The fields of a desired server whose change makes a failed server worth
 * retrying at once. */
static void fingerprint(const struct model_server *s, struct st_buf *out)
{
    st_buf_reset(out);
    st_buf_addf(out, "%s|%" PRId64 "|%s|%d|%d|%d|%s|%s", s->image.id, s->disk_generation,
                s->flavor.id, (int) s->power, (int) s->rescue, (int) s->resize,
                s->kernel.present ? s->kernel.id : "-", s->ramdisk.present ? s->ramdisk.id : "-");
    for (int i = 0; i < s->nvolumes; i++)
        if (!s->volumes[i].delete)
            st_buf_addf(out, "|%s", s->volumes[i].attachment_id);
}

/* ------------------------------------------------------------ failures */

static void srv_fail(struct reconciler *r, struct srv *sv, const char *step,
                     const struct st_err *err)
{
    int64_t now = st_mono_ns();
    bool is_new = strcmp(sv->fault, err->msg) != 0;
    if (st_snprintf(sv->fault_step, sizeof(sv->fault_step), "%s", step) < 0)
        sv->fault_step[0] = '\0';
    memcpy(sv->fault, err->msg, strlen(err->msg) + 1);
    sv->backoff_s = sv->backoff_s ? sv->backoff_s * 2 : BACKOFF_MIN_S;
    if (sv->backoff_s > BACKOFF_MAX_S)
        sv->backoff_s = BACKOFF_MAX_S;
    sv->retry_ns = now + (int64_t) sv->backoff_s * NS_PER_S;
    if (is_new && log_rl_allow(&r->rl))
        log_errorx(MOD, "server '%s': %s failed: %s (retrying in %d s)", sv->id, step, err->msg,
                   sv->backoff_s);
}

static void srv_ok(struct srv *sv)
{
    if (sv->fault[0])
        log_info(MOD, "server '%s': recovered from: %s", sv->id, sv->fault);
    sv->fault[0] = '\0';
    sv->fault_step[0] = '\0';
    sv->backoff_s = 0;
    sv->retry_ns = 0;
}

/* ------------------------------------------------------------ helpers */

static double ms(int64_t ns)
{
    return (double) ns / 1e6;
}

/* Logs where server 'sv''s build went, once, and starts afresh. */
static void log_build(struct reconciler *r, struct srv *sv)
{
    struct build_times *b = &sv->bt;
    if (!b->built)
        return;
    log_info(MOD,
             "server '%s': build steps: image %.1f ms, disk %.1f ms, seed %.1f ms, define %.1f ms, "
             "start %.1f ms",
             sv->id, ms(b->image), ms(b->disk), ms(b->seed), ms(b->define), ms(b->start));
    *b = (struct build_times){0};
    r->nbuilt++;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int unlink_ok(const char *path, struct st_err *err)
{
    if (unlink(path) < 0 && errno != ENOENT) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot remove '%s'", path);
        return -1;
    }
    return 0;
}

static int rename_ok(const char *from, const char *to, struct st_err *err)
{
    if (rename(from, to) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot rename '%s' to '%s'", from, to);
        return -1;
    }
    return 0;
}

static void building(struct reconciler *r, const char *id)
{
    if (r->io.building)
        r->io.building(r->io.opaque, id);
}

static int fetch_cb(void *opaque, const struct model_image *img, const char *path,
                    struct st_err *err)
{
    struct reconciler *r = opaque;
    return r->io.fetch(r->io.opaque, img, path, err);
}

/* Makes sure 'img' is cached; appends its path to 'path' (may be NULL). */
static int ensure_base(struct reconciler *r, struct srv *sv, const struct model_image *img,
                       bool kind_disk, struct st_buf *path, struct st_err *err)
{
    struct st_buf p = ST_BUF_INIT, probe = ST_BUF_INIT;
    int64_t t0 = st_mono_ns();
    int rc;
    use_base(r, img->id);
    disk_base_path(r->opts.instances_path, img->id, &probe);
    if (!file_exists(probe.buf))
        building(r, sv->id);
    st_buf_release(&probe);
    rc = disk_base_ensure(r->opts.instances_path, img, kind_disk, fetch_cb, r, &p, err);
    sv->bt.image += st_mono_ns() - t0;
    if (rc == 0 && path)
        st_buf_add(path, p.buf, p.len);
    st_buf_release(&p);
    return rc;
}

/* The domain name of a server id. */
static void dom_name(const char *id, struct st_buf *out)
{
    st_buf_reset(out);
    domain_name(id, out);
}

/* ------------------------------------------------------------ converge */

/* Before the pass changes domain 'name' of one of its servers: a domain
 * that names another host is not ours to touch (CONFLICT).  One that
 * names none was made before the marks (or by hand): our desired state
 * names it, so it is ours, and its next definition carries the mark. */
static int check_owner(struct reconciler *r, const char *name, struct st_err *err)
{
    char owner[VIRT_ID_MAX];
    if (virt_owner(r->virt, name, owner, err) < 0)
        return -1;
    if (owner[0] && strcasecmp(owner, r->host_id)) {
        st_err_set(err, ST_ERR_CONFLICT, "domain %s belongs to host %s, not this one (%s)", name,
                   owner, r->host_id);
        return -1;
    }
    return 0;
}

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

static void job_add(struct reconciler *r, struct srv *sv, enum job_kind kind)
{
    if (r->njobs == r->jobs_alloc) {
        r->jobs_alloc = r->jobs_alloc ? r->jobs_alloc * 2 : 16;
        r->jobs = st_xrealloc(r->jobs, r->jobs_alloc * sizeof(*r->jobs));
    }
    r->jobs[r->njobs++] = (struct job){.kind = kind, .sv = sv, .err = ST_ERR_INIT};
}

static int refresh(struct ctx *c, struct st_err *err)
{
    return virt_state(c->r->virt, c->name.buf, &c->vi, err);
}

static int save_state(struct ctx *c, struct st_err *err)
{
    return instance_state_save(c->inst, &c->st, err);
}

/* Powers the domain off at once (before its disks change under it). */
static int power_off_hard(struct ctx *c, struct st_err *err)
{
    if (c->vi.state == VIRT_MISSING || c->vi.state == VIRT_SHUTOFF)
        return 0;
    if (virt_destroy(c->r->virt, c->name.buf, err) < 0)
        return -1;
    c->sv->was_running = false;
    if (c->vi.state == VIRT_SUSPENDED && virt_managed_save_remove(c->r->virt, c->name.buf, err) < 0)
        return -1;
    return refresh(c, err);
}

/* Asks for a clean shutdown and waits (across passes) for it, powering off
 * when the deadline passes.  Returns 1 when the domain is off, 0 while it
 * is still shutting down, -1 on error. */
static int power_off_clean(struct ctx *c, enum pending why, const char *task_id, int timeout_s,
                           struct st_err *err)
{
    struct srv *sv = c->sv;
    int64_t now = st_mono_ns();
    if (c->vi.state == VIRT_MISSING || c->vi.state == VIRT_SHUTOFF) {
        /* Off because the agent asked: not the guest's own doing. */
        if (sv->pending == why) {
            sv->pending = PEND_NONE;
            sv->was_running = false;
        }
        return 1;
    }
    if (c->vi.state != VIRT_RUNNING || timeout_s <= 0) {
        /* Paused, crashed or suspended guests cannot take the ACPI button. */
        if (power_off_hard(c, err) < 0)
            return -1;
        sv->pending = PEND_NONE;
        return 1;
    }
    if (sv->pending == why && (!task_id || !strcmp(sv->pending_task, task_id))) {
        if (now < sv->pending_deadline_ns)
            return 0;
        log_info(MOD, "server '%s': no clean shutdown after %d s: powering off", sv->id, timeout_s);
        if (power_off_hard(c, err) < 0)
            return -1;
        sv->pending = PEND_NONE;
        return 1;
    }
    if (virt_shutdown(c->r->virt, c->name.buf, err) < 0)
        return -1;
    sv->pending = why;
    sv->pending_deadline_ns = now + (int64_t) timeout_s * NS_PER_S;
    sv->pending_task[0] = '\0';
    if (task_id)
        memcpy(sv->pending_task, task_id, strlen(task_id) + 1);
    sv->was_running = false;
    return 0;
}

/* Whether server 's' gets a seed disk: always for a config drive, else
 * unless [libvirt] seed = none (the guest asks the metadata service). */
static bool has_seed(const struct reconciler *r, const struct model_server *s)
{
    return s->config_drive || !r->opts.no_seed;
}

/* Root disk at the desired generation (and the seed that belongs to it). */
static int step_root_disk(struct ctx *c, struct st_err *err)
{
    const struct model_server *s = c->s;
    struct st_buf base = ST_BUF_INIT;
    const char *disk = instance_path(c->inst, INSTANCE_DISK);
    bool rebuild = c->st.disk_generation != 0 && c->st.disk_generation != s->disk_generation;
    int64_t t0;
    int rc = -1;

    c->step = "disk";
    if (c->st.disk_generation == s->disk_generation &&
        (file_exists(disk) || model_boot_volume(s)))
        return 0;
    building(c->r, s->id);
    if (rebuild)
        log_info(MOD,
                 "server '%s': rebuilding from image '%s' (disk generation %" PRId64 " -> %" PRId64
                 ")",
                 s->id, s->image.id, c->st.disk_generation, s->disk_generation);
    /* Nothing may run on the old disk while it is replaced. */
    if (power_off_hard(c, err) < 0)
        goto out;
    c->step = "image";
    /* Booted from a volume: no root disk of its own (VOLUMES.md). */
    if (!model_boot_volume(s) && ensure_base(c->r, c->sv, &s->image, true, &base, err) < 0)
        goto out;
    c->step = "disk";
    t0 = st_mono_ns();
    c->sv->bt.built = true;
    if (!model_boot_volume(s) && disk_create_overlay(disk, base.buf, disk_base_format(&s->image),
                                                     s->flavor.disk_gb * GIB, err) < 0)
        goto out;
    c->sv->bt.disk += st_mono_ns() - t0;
    /* Disks and seed of the old generation go; they are made again below. */
    if (unlink_ok(instance_path(c->inst, INSTANCE_DISK_CONFIG), err) < 0 ||
        unlink_ok(instance_path(c->inst, INSTANCE_DISK_SEED), err) < 0)
        goto out;
    if (rebuild && (unlink_ok(instance_path(c->inst, INSTANCE_DISK_LOCAL), err) < 0 ||
                    unlink_ok(instance_path(c->inst, INSTANCE_DISK_SWAP), err) < 0 ||
                    unlink_ok(instance_path(c->inst, INSTANCE_DISK_RESCUE), err) < 0))
        goto out;
    c->step = "seed";
    t0 = st_mono_ns();
    if (has_seed(c->r, s) &&
        seed_build(s, instance_path(c->inst, instance_seed_file(s->config_drive)), err) < 0)
        goto out;
    c->sv->bt.seed += st_mono_ns() - t0;
    c->step = "disk";
    memcpy(c->st.image_id, s->image.id, strlen(s->image.id) + 1);
    c->st.disk_generation = s->disk_generation;
    c->st.rescued = false;
    if (save_state(c, err) < 0)
        goto out;
    rc = 0;
out:
    st_buf_release(&base);
    return rc;
}

static int step_other_disks(struct ctx *c, const struct model_flavor *f, struct st_err *err)
{
    const char *local = instance_path(c->inst, INSTANCE_DISK_LOCAL);
    const char *swap = instance_path(c->inst, INSTANCE_DISK_SWAP);
    struct st_buf name = ST_BUF_INIT;
    int64_t t0 = st_mono_ns();
    int rc = -1;

    c->step = "disk";
    if (f->ephemeral_gb > 0) {
        disk_ephemeral_name(f->ephemeral_gb, &name);
        use_base(c->r, name.buf);
        if (!file_exists(local)) {
            building(c->r, c->s->id);
            if (disk_create_ephemeral(c->r->opts.instances_path, local, f->ephemeral_gb, err) < 0)
                goto out;
        }
    }
    if (f->swap_mb > 0) {
        st_buf_reset(&name);
        disk_swap_name(f->swap_mb, &name);
        use_base(c->r, name.buf);
        if (!file_exists(swap)) {
            building(c->r, c->s->id);
            if (disk_create_swap(c->r->opts.instances_path, swap, f->swap_mb, err) < 0)
                goto out;
        }
    }
    c->sv->bt.disk += st_mono_ns() - t0;
    c->step = "seed";
    {
        const char *seed = instance_path(c->inst, instance_seed_file(c->s->config_drive));
        t0 = st_mono_ns();
        if (!has_seed(c->r, c->s)) {
            if (unlink_ok(seed, err) < 0)
                goto out;
        } else if (!file_exists(seed)) {
            c->sv->bt.built = true;
            if (seed_build(c->s, seed, err) < 0)
                goto out;
        }
        c->sv->bt.seed += st_mono_ns() - t0;
        /* A seed of the other kind is left from an earlier generation. */
        if (unlink_ok(instance_path(c->inst, instance_seed_file(!c->s->config_drive)), err) < 0)
            goto out;
    }
    rc = 0;
out:
    st_buf_release(&name);
    return rc;
}

/* Kernel and ramdisk of the image the server boots (the rescue image's
 * while rescued). */
static int step_boot_files(struct ctx *c, struct st_err *err)
{
    const struct model_server *s = c->s;
    const struct model_image *k = s->rescue ? &s->rescue_kernel : &s->kernel;
    const struct model_image *rd = s->rescue ? &s->rescue_ramdisk : &s->ramdisk;
    c->step = "image";
    if (k->present && ensure_base(c->r, c->sv, k, false, &c->kernel, err) < 0)
        return -1;
    if (rd->present && ensure_base(c->r, c->sv, rd, false, &c->initrd, err) < 0)
        return -1;
    return 0;
}

static int step_rescue(struct ctx *c, struct st_err *err)
{
    const struct model_server *s = c->s;
    const char *rdisk = instance_path(c->inst, INSTANCE_DISK_RESCUE);
    struct st_buf base = ST_BUF_INIT;
    int rc = -1;

    c->step = "rescue";
    if (s->rescue) {
        use_base(c->r, s->rescue_image.id);
        if (c->st.rescued && file_exists(rdisk))
            return 0;
        building(c->r, s->id);
        if (power_off_hard(c, err) < 0 ||
            ensure_base(c->r, c->sv, &s->rescue_image, true, &base, err) < 0 ||
            disk_create_overlay(rdisk, base.buf, disk_base_format(&s->rescue_image), 0, err) < 0)
            goto out;
        c->st.rescued = true;
        if (save_state(c, err) < 0)
            goto out;
        log_info(MOD, "server '%s': rescued with image '%s'", s->id, s->rescue_image.id);
    } else {
        if (!c->st.rescued) {
            if (unlink_ok(rdisk, err) < 0)
                goto out;
            return 0;
        }
        if (power_off_hard(c, err) < 0 || unlink_ok(rdisk, err) < 0)
            goto out;
        c->st.rescued = false;
        if (save_state(c, err) < 0)
            goto out;
        log_info(MOD, "server '%s': unrescued", s->id);
    }
    rc = 0;
out:
    st_buf_release(&base);
    return rc;
}

/* The seed file and its resize backup. */
static enum instance_file seed_backup(bool config_drive)
{
    return config_drive ? INSTANCE_DISK_CONFIG_RESIZE : INSTANCE_DISK_SEED_RESIZE;
}

/* Resize per docs/agent-protocol.md.  Returns 1 when the pass may go on to
 * the domain and power steps, 0 while waiting for a clean shutdown. */
static int step_resize(struct ctx *c, struct st_err *err)
{
    const struct model_server *s = c->s;
    const char *disk = instance_path(c->inst, INSTANCE_DISK);
    const char *backup = instance_path(c->inst, INSTANCE_DISK_RESIZE);
    const char *seed = instance_path(c->inst, instance_seed_file(s->config_drive));
    const char *seed_bak = instance_path(c->inst, seed_backup(s->config_drive));
    int r;

    c->step = "resize";
    switch (s->resize) {
    case MODEL_RESIZE_NONE:
        if (c->sv->pending == PEND_RESIZE)
            c->sv->pending = PEND_NONE;
        return 1;
    case MODEL_RESIZE_RESIZING:
        if (!c->st.resize_backup) {
            r = power_off_clean(c, PEND_RESIZE, NULL, c->r->opts.shutdown_timeout, err);
            if (r <= 0)
                return r;
            building(c->r, s->id);
            if (disk_copy(disk, backup, err) < 0 ||
                (file_exists(seed) && disk_copy(seed, seed_bak, err) < 0))
                return -1;
            c->st.resize_backup = true;
            if (save_state(c, err) < 0)
                return -1;
            log_info(MOD, "server '%s': resizing to flavor '%s' (backup kept)", s->id,
                     s->flavor.id);
        }
        /* Grow the root disk (never shrink): idempotent. */
        if (s->flavor.disk_gb > 0 && disk_grow(disk, s->flavor.disk_gb * GIB, err) < 0)
            return -1;
        return 1;
    case MODEL_RESIZE_CONFIRMING:
        if (c->st.resize_backup) {
            if (unlink_ok(backup, err) < 0 ||
                unlink_ok(instance_path(c->inst, INSTANCE_DISK_CONFIG_RESIZE), err) < 0 ||
                unlink_ok(instance_path(c->inst, INSTANCE_DISK_SEED_RESIZE), err) < 0)
                return -1;
            c->st.resize_backup = false;
            if (save_state(c, err) < 0)
                return -1;
            log_info(MOD, "server '%s': resize confirmed", s->id);
        }
        return 1;
    case MODEL_RESIZE_REVERTING:
        if (c->st.resize_backup) {
            if (power_off_hard(c, err) < 0)
                return -1;
            /* A backup already moved back by a pass that died before
             * saving the state is simply not there any more. */
            if (file_exists(backup) && rename_ok(backup, disk, err) < 0)
                return -1;
            if (file_exists(seed_bak) && rename_ok(seed_bak, seed, err) < 0)
                return -1;
            c->st.resize_backup = false;
            if (save_state(c, err) < 0)
                return -1;
            log_info(MOD, "server '%s': resize reverted to flavor '%s'", s->id, s->old_flavor.id);
        }
        return 1;
    }
    return 1;
}

/* The flavor the domain must have now. */
static const struct model_flavor *effective_flavor(const struct model_server *s)
{
    return s->resize == MODEL_RESIZE_REVERTING ? &s->old_flavor : &s->flavor;
}

static int step_domain(struct ctx *c, struct st_err *err)
{
    const struct model_server *s = c->s;
    struct model_server eff = *s; /* shallow: only the flavor differs */
    const struct model_flavor *f = effective_flavor(s);
    struct domain_paths paths = {0};
    struct domain_opts dopts = {
        .virt_type = c->r->opts.virt_type,
        .vnc_listen = c->r->opts.vnc_listen,
        .memballoon_period = c->r->opts.memballoon_period,
        .host_id = c->r->host_id,
    };
    struct st_buf xml = ST_BUF_INIT, old = ST_BUF_INIT;
    struct st_err rerr = ST_ERR_INIT;
    struct domain_volume vols[MODEL_MAX_ATTACHMENTS];
    struct st_buf usage[MODEL_MAX_ATTACHMENTS];
    int rc = -1;

    c->step = "domain";
    eff.flavor = *f;
    for (int i = 0; i < s->nvolumes; i++) {
        const struct model_attachment *a = &s->volumes[i];
        const struct model_volume *vol = c->r->cur ? model_find_volume(c->r->cur, a->volume_id)
                                                   : NULL;
        st_buf_init(&usage[i], 0);
        if (a->delete)
            continue;
        vattach_secret_usage(c->r->host_id, a->attachment_id, &usage[i]);
        vols[paths.nvolumes++] = (struct domain_volume){
            .att = a,
            .format = a->format[0]                           ? a->format
                      : vol && !strcmp(vol->backend, "file") ? "qcow2"
                                                             : "raw",
            .secret_usage = usage[i].buf,
        };
    }
    paths.volumes = vols;
    if (!model_boot_volume(s))
        paths.disk = instance_path(c->inst, INSTANCE_DISK);
    if (f->ephemeral_gb > 0)
        paths.disk_local = instance_path(c->inst, INSTANCE_DISK_LOCAL);
    if (f->swap_mb > 0)
        paths.disk_swap = instance_path(c->inst, INSTANCE_DISK_SWAP);
    paths.seed = has_seed(c->r, s) ? instance_path(c->inst, instance_seed_file(s->config_drive))
                                   : NULL;
    paths.console_log = instance_path(c->inst, INSTANCE_CONSOLE_LOG);
    paths.console_socket = instance_path(c->inst, INSTANCE_CONSOLE_SOCK);
    paths.kernel = c->kernel.len ? c->kernel.buf : NULL;
    paths.initrd = c->initrd.len ? c->initrd.buf : NULL;
    if (s->rescue)
        paths.rescue_disk = instance_path(c->inst, INSTANCE_DISK_RESCUE);
    if (domain_xml_render(&eff, &paths, &dopts, &xml, err) < 0)
        goto out;
    if (st_read_file(instance_path(c->inst, INSTANCE_DOMAIN_XML), 1 << 20, &old, &rerr) < 0)
        st_buf_reset(&old);
    /* Defined again when it changed, and when it is missing or only
     * transient (undefined by hand while it ran). */
    if (c->vi.state == VIRT_MISSING || !c->vi.persistent || old.len != xml.len ||
        memcmp(old.buf, xml.buf, xml.len)) {
        int64_t t0 = st_mono_ns();
        c->sv->bt.built = true;
        if (virt_define(c->r->virt, xml.buf, err) < 0)
            goto out;
        c->sv->bt.define += st_mono_ns() - t0;
        if (st_write_file(instance_path(c->inst, INSTANCE_DOMAIN_XML), xml.buf, xml.len, 0644,
                          err) < 0)
            goto out;
        log_info(MOD, "server '%s': domain %s defined%s", s->id, c->name.buf,
                 c->vi.state == VIRT_RUNNING || c->vi.state == VIRT_PAUSED
                     ? " (the running guest gets it at its next boot)"
                     : "");
        if (refresh(c, err) < 0)
            goto out;
    }
    if (!instance_state_flavor_is(&c->st, f)) {
        instance_state_set_flavor(&c->st, f);
        if (save_state(c, err) < 0)
            goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < s->nvolumes; i++)
        st_buf_release(&usage[i]);
    st_buf_release(&xml);
    st_buf_release(&old);
    return rc;
}

static int step_power(struct ctx *c, struct st_err *err)
{
    struct reconciler *r = c->r;
    struct srv *sv = c->sv;
    const struct model_server *s = c->s;
    const char *name = c->name.buf;
    enum virt_state seen = c->vi.state; /* what the decision below is based on */
    bool acted = true;                  /* cleared where nothing is done */
    int rc = 0;

    c->step = "power";
    /* A reboot under way owns the power until it is done. */
    if (sv->pending == PEND_REBOOT)
        return 0;
    if (sv->pending == PEND_STOP && s->power != MODEL_POWER_STOPPED)
        sv->pending = PEND_NONE;
    /* A hold survives agent restarts (state.json) for as long as the
     * controller asks for nothing new; any explicit power request (a new
     * generation) or a desired power other than running lifts it. */
    if (!sv->hold && c->st.held_power_generation &&
        c->st.held_power_generation == s->power_generation && s->power == MODEL_POWER_RUNNING)
        sv->hold = true;
    if (s->power != MODEL_POWER_RUNNING)
        sv->hold = false;
    else if (sv->have_prev && (sv->prev_power != MODEL_POWER_RUNNING ||
                               sv->prev_power_gen != s->power_generation))
        sv->hold = false; /* asked to start: whatever stopped it is overruled */
    if (!sv->hold && c->st.held_power_generation) {
        c->st.held_power_generation = 0;
        if (save_state(c, err) < 0)
            return -1;
    }

    switch (s->power) {
    case MODEL_POWER_RUNNING:
        switch (seen) {
        case VIRT_RUNNING:
            acted = false;
            break;
        case VIRT_PAUSED:
            rc = virt_resume(r->virt, name, err);
            break;
        case VIRT_CRASHED:
            rc = virt_destroy(r->virt, name, err);
            if (rc == 0)
                rc = virt_start(r->virt, name, false, err);
            break;
        case VIRT_SUSPENDED:
        case VIRT_MISSING:
            job_add(r, sv, JOB_START);
            c->deferred = true;
            return 0;
        case VIRT_SHUTOFF:
            if (!sv->hold)
                log_debug(MOD, "server '%s': shut off (reason %d, by the guest: %s)", s->id,
                          c->vi.reason, sv->was_running && c->vi.shut_by_guest ? "yes" : "no");
            if (!sv->hold && sv->was_running && c->vi.shut_by_guest) {
                sv->hold = true;
                c->st.held_power_generation = s->power_generation ? s->power_generation : 1;
                if (save_state(c, err) < 0)
                    return -1;
                log_info(MOD, "server '%s': the guest powered itself off; leaving it off", s->id);
            }
            if (sv->hold) {
                acted = false;
                break;
            }
            job_add(r, sv, JOB_START);
            c->deferred = true;
            return 0;
        }
        break;
    case MODEL_POWER_STOPPED:
        if (seen == VIRT_SUSPENDED) {
            rc = power_off_hard(c, err);
            break;
        }
        if (seen == VIRT_SHUTOFF || seen == VIRT_MISSING)
            acted = false;
        rc = power_off_clean(c, PEND_STOP, NULL, r->opts.shutdown_timeout, err);
        rc = rc < 0 ? -1 : 0;
        break;
    case MODEL_POWER_PAUSED:
        switch (seen) {
        case VIRT_RUNNING:
            rc = virt_pause(r->virt, name, err);
            break;
        case VIRT_CRASHED:
            rc = virt_destroy(r->virt, name, err);
            if (rc == 0)
                rc = virt_start(r->virt, name, true, err);
            break;
        case VIRT_SHUTOFF:
        case VIRT_SUSPENDED:
        case VIRT_MISSING:
            rc = virt_start(r->virt, name, true, err);
            break;
        case VIRT_PAUSED:
            acted = false;
            break;
        }
        break;
    case MODEL_POWER_SUSPENDED:
        switch (seen) {
        case VIRT_RUNNING:
        case VIRT_PAUSED:
            rc = virt_managed_save(r->virt, name, err);
            break;
        case VIRT_CRASHED:
            rc = virt_destroy(r->virt, name, err);
            break;
        default:
            acted = false; /* off, with or without a saved image: nothing to save */
            break;
        }
        break;
    }
    if (rc < 0 || refresh(c, err) < 0)
        return -1;
    /* What the next pass compares with.  When nothing was done, the state
     * the decision saw, not the fresh one: a guest that stops between the
     * two looks must still be seen going from running to off by the next
     * pass.  A guest the agent is shutting down does not count as
     * running: when it stops, that is not the guest's own doing. */
    if (acted)
        seen = c->vi.state;
    sv->was_running = (seen == VIRT_RUNNING || seen == VIRT_PAUSED) && sv->pending == PEND_NONE;
    return 0;
}

/* Converges one desired (not deleted) server. */
static void converge(struct reconciler *r, const struct model_server *s, struct srv *sv)
{
    struct st_err err = ST_ERR_INIT;
    struct ctx c = {.r = r, .s = s, .sv = sv, .step = "instance"};
    int64_t now = st_mono_ns();

    st_buf_init(&c.name, 64);
    st_buf_init(&c.kernel, 0);
    st_buf_init(&c.initrd, 0);
    dom_name(s->id, &c.name);

    /* Keep what the current disk is made of, even while failing. */
    use_base(r, s->image.id);
    if (s->kernel.present)
        use_base(r, s->kernel.id);
    if (s->ramdisk.present)
        use_base(r, s->ramdisk.id);
    use_base(r, sv->base_image);
    if (s->rescue) {
        use_base(r, s->rescue_image.id);
        if (s->rescue_kernel.present)
            use_base(r, s->rescue_kernel.id);
        if (s->rescue_ramdisk.present)
            use_base(r, s->rescue_ramdisk.id);
    }
    {
        struct st_buf n = ST_BUF_INIT;
        const struct model_flavor *fl[2] = {&s->flavor, s->resize ? &s->old_flavor : NULL};
        for (int i = 0; i < 2; i++) {
            if (!fl[i])
                continue;
            if (fl[i]->ephemeral_gb > 0) {
                st_buf_reset(&n);
                disk_ephemeral_name(fl[i]->ephemeral_gb, &n);
                use_base(r, n.buf);
            }
            if (fl[i]->swap_mb > 0) {
                st_buf_reset(&n);
                disk_swap_name(fl[i]->swap_mb, &n);
                use_base(r, n.buf);
            }
        }
        st_buf_release(&n);
    }

    {
        struct st_buf fp = ST_BUF_INIT;
        fingerprint(s, &fp);
        if (strcmp(fp.buf, sv->fp.buf)) {
            sv->retry_ns = 0; /* the desire changed: try at once */
            sv->backoff_s = 0;
            st_buf_reset(&sv->fp);
            st_buf_add(&sv->fp, fp.buf, fp.len);
        }
        st_buf_release(&fp);
    }
    if (sv->fault[0] && now < sv->retry_ns)
        goto out; /* backing off */

    c.inst = instance_new(r->opts.instances_path, s->id, &err);
    if (!c.inst || instance_mkdir(c.inst, &err) < 0)
        goto fail;
    c.step = "state";
    if (instance_state_load(c.inst, &c.st, &err) < 0)
        goto fail;
    if (c.st.image_id[0]) {
        memcpy(sv->base_image, c.st.image_id, strlen(c.st.image_id) + 1);
        use_base(r, sv->base_image);
    }
    c.step = "libvirt";
    if (refresh(&c, &err) < 0 ||
        (c.vi.state != VIRT_MISSING && check_owner(r, c.name.buf, &err) < 0))
        goto fail;
    if (step_root_disk(&c, &err) < 0)
        goto fail;
    memcpy(sv->base_image, c.st.image_id, strlen(c.st.image_id) + 1);
    if (step_other_disks(&c, effective_flavor(s), &err) < 0 || step_boot_files(&c, &err) < 0 ||
        step_rescue(&c, &err) < 0)
        goto fail;
    switch (step_resize(&c, &err)) {
    case -1:
        goto fail;
    case 0:
        goto done; /* waiting for the guest to shut down */
    default:
        break;
    }
    c.step = "volumes";
    if (vattach_prepare(r->virt, r->host_id, s, &err) < 0)
        goto fail;
    if (step_domain(&c, &err) < 0 || step_power(&c, &err) < 0)
        goto fail;
    c.step = "volumes";
    if (s->nvolumes || sv->check_volumes) {
        char att[MODEL_ID_MAX];
        int nvd = vattach_sync_live(r->virt, c.name.buf, att, &err);
        if (nvd < 0 && !att[0])
            goto fail;
        if (nvd < 0) {
            /* The attachment fails, not the server (as Nova's attach). */
            if (strcmp(sv->vol_fault, err.msg) && log_rl_allow(&r->rl))
                log_errorx(MOD, "server '%s': attachment '%s' failed: %s", s->id, att, err.msg);
            memcpy(sv->vol_fault_att, att, sizeof(att));
            memcpy(sv->vol_fault, err.msg, strlen(err.msg) + 1);
            st_err_clear(&err);
            sv->check_volumes = true;
        } else {
            sv->vol_fault_att[0] = sv->vol_fault[0] = '\0';
            sv->check_volumes = s->nvolumes > 0 || nvd > 0;
        }
    }
done:
    if (!c.deferred)
        srv_ok(sv); /* else when its job is done */
    goto out;
fail:
    srv_fail(r, sv, c.step, &err);
out:
    sv->prev_power = s->power;
    sv->prev_power_gen = s->power_generation;
    sv->have_prev = true;
    instance_free(c.inst);
    st_buf_release(&c.name);
    st_buf_release(&c.kernel);
    st_buf_release(&c.initrd);
}

/* Destroys, undefines and removes server 'id'.  A domain of another host
 * of that name is left alone, and its directory with it. */
static int remove_server(struct reconciler *r, const char *id, struct st_err *err)
{
    struct st_buf name = ST_BUF_INIT;
    struct instance *inst = instance_new(r->opts.instances_path, id, err);
    int rc = -1;
    if (!inst)
        goto out;
    dom_name(id, &name);
    if (check_owner(r, name.buf, err) < 0 || virt_destroy(r->virt, name.buf, err) < 0 ||
        virt_undefine(r->virt, name.buf, err) < 0 || instance_remove(inst, err) < 0)
        goto out;
    rc = 0;
out:
    instance_free(inst);
    st_buf_release(&name);
    return rc;
}

/* ------------------------------------------------------------ jobs */

static void *job_worker(void *opaque)
{
    struct reconciler *r = opaque;
    struct st_buf name = ST_BUF_INIT;
    for (;;) {
        size_t i = atomic_fetch_add(&r->job_next, 1);
        struct job *j;
        if (i >= r->njobs)
            break;
        j = &r->jobs[i];
        int64_t t0 = st_mono_ns();
        if (j->kind == JOB_START) {
            dom_name(j->sv->id, &name);
            j->rc = virt_start(r->virt, name.buf, false, &j->err);
        } else {
            j->rc = remove_server(r, j->sv->id, &j->err);
        }
        j->ns = st_mono_ns() - t0;
    }
    st_buf_release(&name);
    return NULL;
}

/* Runs the pass's jobs on up to JOB_THREADS threads (this one too), then
 * records their outcome as the sequential code would have. */
static void run_jobs(struct reconciler *r)
{
    pthread_t t[JOB_THREADS - 1];
    size_t nt = 0, want = r->njobs < JOB_THREADS ? r->njobs : JOB_THREADS;
    struct st_buf name = ST_BUF_INIT;

    if (!r->njobs)
        return;
    atomic_store(&r->job_next, 0);
    while (nt + 1 < want && pthread_create(&t[nt], NULL, job_worker, r) == 0)
        nt++;
    job_worker(r);
    for (size_t i = 0; i < nt; i++)
        pthread_join(t[i], NULL);

    for (size_t i = 0; i < r->njobs; i++) {
        struct job *j = &r->jobs[i];
        struct srv *sv = j->sv;
        if (j->rc < 0) {
            srv_fail(r, sv, j->kind == JOB_START ? "power" : "delete", &j->err);
            continue;
        }
        srv_ok(sv);
        if (j->kind == JOB_START) {
            struct virt_info vi;
            struct st_err err = ST_ERR_INIT;
            sv->bt.start += j->ns;
            sv->bt.built = true;
            log_info(MOD, "server '%s': started", sv->id);
            dom_name(sv->id, &name);
            /* What the next pass compares with, as step_power does. */
            sv->was_running = virt_state(r->virt, name.buf, &vi, &err) == 0 &&
                              (vi.state == VIRT_RUNNING || vi.state == VIRT_PAUSED) &&
                              sv->pending == PEND_NONE;
        }
    }
    st_buf_release(&name);
    r->njobs = 0;
}

/* ------------------------------------------------------------ tasks */

static json_t *task_entry_done(const char *id, json_t *result)
{
    return json_pack("{s:s, s:s, s:o}", "id", id, "status", "done", "result",
                     result ? result : json_object());
}

static json_t *task_entry_failed(const char *id, const char *error)
{
    return json_pack("{s:s, s:s, s:s}", "id", id, "status", "failed", "error", error);
}

/* Returns a new entry when the task finished, NULL while under way. */
static json_t *task_reboot(struct reconciler *r, const struct model_task *t,
                           const struct model_server *s, struct srv *sv)
{
    struct ctx c = {.r = r, .s = s, .sv = sv};
    struct st_err err = ST_ERR_INIT;
    json_t *entry = NULL;
    int64_t now = st_mono_ns();

    st_buf_init(&c.name, 64);
    dom_name(s->id, &c.name);
    if (refresh(&c, &err) < 0)
        goto fail;
    if (c.vi.state == VIRT_MISSING) {
        st_err_set(&err, ST_ERR_CONFLICT, "server '%s' has no domain (yet)", s->id);
        goto fail;
    }
    if (!t->hard && c.vi.state == VIRT_RUNNING && t->timeout > 0) {
        if (sv->pending != PEND_REBOOT || strcmp(sv->pending_task, t->id)) {
            if (virt_shutdown(r->virt, c.name.buf, &err) < 0)
                goto fail;
            sv->pending = PEND_REBOOT;
            sv->pending_deadline_ns = now + (int64_t) t->timeout * NS_PER_S;
            memcpy(sv->pending_task, t->id, strlen(t->id) + 1);
            sv->was_running = false;
            log_info(MOD, "server '%s': soft reboot (task '%s')", s->id, t->id);
            goto out;
        }
        if (now < sv->pending_deadline_ns)
            goto out; /* still shutting down */
        log_info(MOD, "server '%s': no clean shutdown within %d s: hard reboot", s->id, t->timeout);
    }
    /* HARD, a deadline passed, or a soft reboot found the guest down. */
    if (c.vi.state != VIRT_SHUTOFF && virt_destroy(r->virt, c.name.buf, &err) < 0)
        goto fail;
    if (virt_start(r->virt, c.name.buf, s->power == MODEL_POWER_PAUSED, &err) < 0)
        goto fail;
    sv->pending = PEND_NONE;
    sv->hold = false;
    sv->was_running = true;
    log_info(MOD, "server '%s': rebooted (task '%s')", s->id, t->id);
    entry = task_entry_done(t->id, NULL);
    goto out;
fail:
    if (sv->pending == PEND_REBOOT && !strcmp(sv->pending_task, t->id))
        sv->pending = PEND_NONE;
    if (log_rl_allow(&r->rl))
        log_errorx(MOD, "server '%s': reboot (task '%s') failed: %s", s->id, t->id, err.msg);
    entry = task_entry_failed(t->id, err.msg);
out:
    st_buf_release(&c.name);
    return entry;
}

static json_t *task_console(struct reconciler *r, const struct model_task *t)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf out = ST_BUF_INIT;
    struct instance *inst = instance_new(r->opts.instances_path, t->server_id, &err);
    json_t *entry;
    if (!inst || instance_console_tail(instance_path(inst, INSTANCE_CONSOLE_LOG), t->length,
                                       CONSOLE_MAX_BYTES, &out, &err) < 0) {
        entry = task_entry_failed(t->id, err.msg);
    } else {
        json_t *text = json_stringn(out.buf, out.len);
        entry = task_entry_done(t->id, json_pack("{s:o}", "output", text ? text : json_string("")));
    }
    instance_free(inst);
    st_buf_release(&out);
    return entry;
}

static json_t *task_snapshot(struct reconciler *r, const struct model_task *t,
                             const struct model_server *s)
{
    struct st_err err = ST_ERR_INIT, rerr = ST_ERR_INIT;
    struct st_buf name = ST_BUF_INIT, dst = ST_BUF_INIT, dir = ST_BUF_INIT;
    struct instance *inst = instance_new(r->opts.instances_path, s->id, &err);
    struct virt_info vi;
    bool paused = false;
    json_t *entry = NULL;
    int64_t t0 = st_mono_ns();

    if (!inst)
        goto fail;
    dom_name(s->id, &name);
    if (!file_exists(instance_path(inst, INSTANCE_DISK))) {
        st_err_set(&err, ST_ERR_CONFLICT, "server '%s' has no root disk", s->id);
        goto fail;
    }
    st_buf_addf(&dir, "%s/" SNAPSHOT_DIR, r->opts.instances_path);
    if (st_mkdir_p(dir.buf, 0700, &err) < 0)
        goto fail;
    st_buf_addf(&dst, "%s/%s.qcow2", dir.buf, t->image_id);
    if (virt_state(r->virt, name.buf, &vi, &err) < 0)
        goto fail;
    /* A running guest is paused so that the copy is consistent (QEMU
     * flushes its caches when the CPUs stop). */
    if (vi.state == VIRT_RUNNING) {
        if (virt_pause(r->virt, name.buf, &err) < 0)
            goto fail;
        paused = true;
    }
    if (disk_flatten(instance_path(inst, INSTANCE_DISK), dst.buf, &err) < 0)
        goto fail;
    if (paused) {
        paused = false;
        if (virt_resume(r->virt, name.buf, &err) < 0)
            goto fail;
    }
    log_info(MOD, "server '%s': snapshot copied in %.1f s, uploading to image '%s'", s->id,
             (double) (st_mono_ns() - t0) / 1e9, t->image_id);
    if (r->io.upload(r->io.opaque, t->image_id, dst.buf, &err) < 0)
        goto fail;
    entry = task_entry_done(t->id, NULL);
    goto out;
fail:
    if (log_rl_allow(&r->rl))
        log_errorx(MOD, "server '%s': snapshot (task '%s') failed: %s", s->id, t->id, err.msg);
    entry = task_entry_failed(t->id, err.msg);
out:
    if (paused && virt_resume(r->virt, name.buf, &rerr) < 0)
        log_errorx(MOD, "server '%s': cannot resume after the snapshot: %s", s->id, rerr.msg);
    if (dst.len)
        (void) unlink(dst.buf);
    instance_free(inst);
    st_buf_release(&name);
    st_buf_release(&dst);
    st_buf_release(&dir);
    return entry;
}

static void run_tasks(struct reconciler *r, const struct model_desired *d, json_t *out)
{
    for (size_t i = 0; i < r->ndone; i++)
        r->done[i].seen = false;
    for (size_t i = 0; i < d->ntasks; i++) {
        const struct model_task *t = &d->tasks[i];
        const struct model_server *s = model_find_server(d, t->server_id);
        struct done_task *dt = done_find(r, t->id);
        json_t *entry = NULL;

        if (dt) {
            dt->seen = true;
            json_array_append(out, dt->entry);
            continue;
        }
        if (model_task_is_volume(t)) {
            struct vol_io vio = {r->io.fetch, r->io.upload, r->io.opaque, r->virt};
            entry = r->opts.vol ? vol_task(r->opts.vol, t, d, &vio)
                                : task_entry_failed(t->id, "no volume service on this host");
            if (!entry)
                continue;
            json_array_append(out, entry);
            done_add(r, t->id, entry);
            continue;
        }
        if (!s || s->delete) {
            struct st_buf m = ST_BUF_INIT;
            st_buf_addf(&m, "server '%s' is not on this host", t->server_id);
            entry = task_entry_failed(t->id, m.buf);
            st_buf_release(&m);
        } else {
            switch (t->kind) {
            case MODEL_TASK_REBOOT:
                entry = task_reboot(r, t, s, srv_get(r, s->id));
                break;
            case MODEL_TASK_CONSOLE_LOG:
                entry = task_console(r, t);
                break;
            case MODEL_TASK_SNAPSHOT:
                entry = task_snapshot(r, t, s);
                break;
            default:
                break;
            }
        }
        if (!entry)
            continue; /* under way */
        json_array_append(out, entry);
        done_add(r, t->id, entry);
    }
    done_drop_unseen(r);
}

/* ------------------------------------------------------------ report */

static const char *resize_report(const struct model_server *s, const struct instance_state *st)
{
    switch (s->resize) {
    case MODEL_RESIZE_RESIZING:
        return st->resize_backup && instance_state_flavor_is(st, &s->flavor) ? "resized" : NULL;
    case MODEL_RESIZE_CONFIRMING:
        return !st->resize_backup ? "confirmed" : NULL;
    case MODEL_RESIZE_REVERTING:
        return !st->resize_backup && instance_state_flavor_is(st, &s->old_flavor) ? "reverted"
                                                                                  : NULL;
    default:
        return NULL;
    }
}

static json_t *server_entry(struct reconciler *r, const struct model_server *s, struct srv *sv)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf name = ST_BUF_INIT;
    struct instance *inst = instance_new(r->opts.instances_path, s->id, &err);
    struct instance_state st;
    struct virt_info vi = {.state = VIRT_MISSING};
    const char *state = "building";
    const char *resize = NULL;
    json_t *fault = json_null();
    bool have_state = false;

    memset(&st, 0, sizeof(st));
    dom_name(s->id, &name);
    if (inst && instance_state_load(inst, &st, &err) == 0)
        have_state = true;
    if (virt_state(r->virt, name.buf, &vi, &err) < 0)
        vi.state = VIRT_MISSING;
    if (sv->fault[0]) {
        state = "error";
        fault = json_pack("{s:s, s:s}", "message", sv->fault, "details", sv->fault_step);
    } else if (!have_state || st.disk_generation != s->disk_generation ||
               vi.state == VIRT_MISSING) {
        state = "building";
    } else {
        switch (vi.state) {
        case VIRT_RUNNING:
            state = "running";
            break;
        case VIRT_PAUSED:
            state = "paused";
            break;
        case VIRT_SUSPENDED:
            state = "suspended";
            break;
        default:
            state = "shutoff";
            break;
        }
        resize = resize_report(s, &st);
    }
    instance_free(inst);
    {
        json_t *e = json_pack("{s:s, s:s, s:i, s:I, s:s?, s:b, s:o, s:o}", "id", s->id, "state",
                              state, "power_state", virt_power_state(vi.state), "disk_generation",
                              (json_int_t) st.disk_generation, "resize", resize, "rescued",
                              have_state && st.rescued, "fault", fault, "volumes",
                              vattach_report(r->virt, name.buf, s, sv->vol_fault_att,
                                             sv->vol_fault));
        st_buf_release(&name);
        return e;
    }
}

static json_t *gone_entry(const char *id)
{
    return json_pack("{s:s, s:s, s:i, s:I, s:n, s:b, s:n}", "id", id, "state", "gone",
                     "power_state", 0, "disk_generation", (json_int_t) 0, "resize", "rescued", 0,
                     "fault");
}

/* ------------------------------------------------------------ housekeeping */

static bool desired_id(const struct model_desired *d, const char *id)
{
    return model_find_server(d, id) != NULL;
}

/* Notes the unmarked leftover domain of server 'id'; true when it is new
 * (to be logged). */
static bool note_unmarked(struct reconciler *r, const char *id)
{
    for (size_t i = 0; i < r->nunmarked; i++)
        if (!strcmp(r->unmarked[i].id, id)) {
            r->unmarked[i].seen = true;
            return false;
        }
    r->unmarked = st_xrealloc(r->unmarked, (r->nunmarked + 1) * sizeof(*r->unmarked));
    memcpy(r->unmarked[r->nunmarked].id, id, strlen(id) + 1);
    r->unmarked[r->nunmarked].seen = true;
    r->nunmarked++;
    return true;
}

/* Domains and directories of servers that are not desired at all.  Only
 * this host's domains are removed (virt_list_servers() lists no other
 * host's); one that names no host (made before the marks) is left alone
 * and logged once, since which agent made it cannot be known.  A directory
 * under our instances path is ours (one agent per path, main.c locks it),
 * unless a domain it could belong to exists and is not ours to remove. */
static void remove_leftovers(struct reconciler *r, const struct model_desired *d, json_t *out)
{
    struct st_err err = ST_ERR_INIT;
    struct virt_server *doms = NULL;
    struct st_buf name = ST_BUF_INIT;
    char **ids = NULL;
    size_t n = 0, ndoms = 0, w = 0;
    bool listed;

    listed = virt_list_servers(r->virt, r->opts.instances_path, r->host_id, &doms, &ndoms,
                               &err) == 0;
    if (!listed) {
        if (log_rl_allow(&r->rl))
            log_errorx(MOD, "cannot list the domains: %s", err.msg);
        st_err_clear(&err);
    }
    for (size_t i = 0; i < r->nunmarked; i++)
        r->unmarked[i].seen = false;
    for (size_t i = 0; i < ndoms; i++) {
        const char *id = doms[i].id;
        if (desired_id(d, id))
            continue;
        if (doms[i].unmarked) {
            if (note_unmarked(r, id))
                log_warnx(MOD,
                          "server '%s': its domain is not desired here and names no host (made "
                          "before agents marked their domains?): left alone; undefine it by hand "
                          "if it is this host's",
                          id);
            continue;
        }
        if (remove_server(r, id, &err) < 0) {
            if (log_rl_allow(&r->rl))
                log_errorx(MOD, "cannot remove the leftover server '%s': %s", id, err.msg);
            st_err_clear(&err);
        } else {
            log_info(MOD, "removed the leftover server '%s' (not desired on this host)", id);
            json_array_append_new(out, gone_entry(id));
        }
    }
    for (size_t i = 0; i < r->nunmarked; i++)
        if (r->unmarked[i].seen)
            r->unmarked[w++] = r->unmarked[i];
    r->nunmarked = w;
    free(doms);
    if (!listed)
        goto out; /* without the domains, no directory is known to be free */
    if (instance_list(r->opts.instances_path, &ids, &n, &err) < 0) {
        if (log_rl_allow(&r->rl))
            log_errorx(MOD, "%s", err.msg);
        st_err_clear(&err);
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct virt_info vi;
        if (desired_id(d, ids[i]))
            goto next;
        /* A domain of that name still here was not ours to remove above
         * (unmarked, or another host's): its disks stay with it. */
        dom_name(ids[i], &name);
        if (virt_state(r->virt, name.buf, &vi, &err) < 0 || vi.state != VIRT_MISSING) {
            st_err_clear(&err);
            goto next;
        }
        if (remove_server(r, ids[i], &err) < 0) {
            if (log_rl_allow(&r->rl))
                log_errorx(MOD, "cannot remove the leftover instance directory of '%s': %s",
                           ids[i], err.msg);
            st_err_clear(&err);
        } else {
            log_info(MOD, "removed the leftover instance directory of '%s'", ids[i]);
        }
    next:
        free(ids[i]);
    }
    free(ids);
out:
    st_buf_release(&name);
}

static void cleanup_cache(struct reconciler *r)
{
    struct st_err err = ST_ERR_INIT;
    int removed = 0;
    int64_t now = st_mono_ns();
    if (now < r->next_cleanup_ns)
        return;
    r->next_cleanup_ns = now + CLEANUP_INTERVAL_S * NS_PER_S;
    if (disk_base_cleanup(r->opts.instances_path, (const char *const *) r->in_use, r->nin_use,
                          r->opts.base_unused_seconds, &removed, &err) < 0) {
        if (log_rl_allow(&r->rl))
            log_errorx(MOD, "image cache cleanup failed: %s", err.msg);
        return;
    }
    if (removed)
        log_info(MOD, "removed %d cached image(s) unused for %" PRId64 " s", removed,
                 r->opts.base_unused_seconds);
}

/* ------------------------------------------------------------ the pass */

/* Logs the networks and routers of 'netrep' (net_reconcile()'s part of the
 * report) that went into ERROR or changed their message, and those that
 * recovered. */
static void log_net_faults(struct reconciler *r, json_t *netrep)
{
    static const struct {
        const char *member, *kind;
    } lists[] = {{"networks", "network"}, {"routers", "router"}};
    size_t w = 0;
    for (size_t i = 0; i < r->nnet_faults; i++)
        r->net_faults[i].seen = false;
    for (size_t l = 0; l < ST_ARRAY_SIZE(lists); l++) {
        json_t *e;
        size_t i;
        json_array_foreach(json_object_get(netrep, lists[l].member), i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            const char *msg = json_string_value(json_object_get(e, "error"));
            struct net_fault *f = NULL;
            if (!id || strlen(id) >= MODEL_ID_MAX ||
                !st_streq(json_string_value(json_object_get(e, "status")), "ERROR"))
                continue;
            msg = msg ? msg : "(no message)";
            for (size_t k = 0; k < r->nnet_faults && !f; k++)
                if (r->net_faults[k].kind == lists[l].kind && !strcmp(r->net_faults[k].id, id))
                    f = &r->net_faults[k];
            if (!f) {
                r->net_faults =
                    st_xrealloc(r->net_faults, (r->nnet_faults + 1) * sizeof(*r->net_faults));
                f = &r->net_faults[r->nnet_faults++];
                memset(f, 0, sizeof(*f));
                f->kind = lists[l].kind;
                memcpy(f->id, id, strlen(id) + 1);
            }
            f->seen = true;
            if (strcmp(f->msg, msg)) {
                log_errorx(MOD, "%s '%s': %s", f->kind, id, msg);
                ST_IGNORE(st_snprintf(f->msg, sizeof(f->msg), "%s", msg));
            }
        }
    }
    for (size_t i = 0; i < r->nnet_faults; i++) {
        if (r->net_faults[i].seen)
            r->net_faults[w++] = r->net_faults[i];
        else
            log_info(MOD, "%s '%s': no longer in error", r->net_faults[i].kind,
                     r->net_faults[i].id);
    }
    r->nnet_faults = w;
}

json_t *reconcile_run(struct reconciler *r, const struct model_desired *d, int64_t *next_ns)
{
    struct st_err err = ST_ERR_INIT;
    json_t *servers = json_array(), *tasks = json_array(), *netrep = json_object(), *report;
    json_t *volrep = NULL;
    int64_t next = 0, t_start = st_mono_ns(), t_net, t_servers = 0, t_jobs = 0, t_tasks = 0;

    r->nbuilt = 0;
    /* Networking first: domains need their bridges when they start, and
     * the network does not depend on libvirt. */
    if (r->opts.net) {
        const char *const *what;
        size_t nwhat;
        /* A proxy's socket keeps its namespace (and the veths in it) alive:
         * those of namespaces about to go stop first. */
        if (r->opts.metadata && mdp_sync(r->opts.metadata, d, &err) < 0)
            st_err_clear(&err); /* reported after the network pass */
        if (net_reconcile(r->opts.net, d, netrep, &err) < 0) {
            if (log_rl_allow(&r->rl))
                log_errorx(MOD, "networking: %s", err.msg);
            st_err_clear(&err);
            next = st_mono_ns() + BACKOFF_MIN_S * NS_PER_S;
        }
        log_net_faults(r, netrep);
        /* The metadata proxies of the namespaces just made (and none for
         * those just removed). */
        if (r->opts.metadata && mdp_sync(r->opts.metadata, d, &err) < 0) {
            if (log_rl_allow(&r->rl))
                log_errorx(MOD, "metadata proxy: %s", err.msg);
            st_err_clear(&err);
        }
        nwhat = net_unmarked_new(r->opts.net, &what);
        for (size_t i = 0; i < nwhat; i++)
            log_warnx(MOD,
                      "networking: %s looks like an agent's but names no host (made before "
                      "agents marked their objects?) and is not desired here: left alone; "
                      "remove it by hand if it is this host's",
                      what[i]);
    }
    t_net = st_mono_ns() - t_start;
    clear_in_use(r);
    for (size_t i = 0; i < r->nsrvs; i++)
        r->srvs[i]->seen = false;

    if (virt_check(r->virt, &err) < 0) {
        /* Without libvirt nothing can be known: say nothing about the
         * servers (the report is still the heartbeat). */
        if (log_rl_allow(&r->rl))
            log_errorx(MOD, "%s", err.msg);
        for (size_t i = 0; i < r->nsrvs; i++)
            r->srvs[i]->seen = true;
        next = st_mono_ns() + BACKOFF_MIN_S * NS_PER_S;
        goto report;
    }

    /* Volumes before servers: an attachment needs its volume (and export). */
    r->cur = d;
    if (r->opts.vol) {
        struct vol_io vio = {r->io.fetch, r->io.upload, r->io.opaque, r->virt};
        volrep = vol_reconcile(r->opts.vol, d, &vio);
    }
    for (size_t i = 0; i < d->nservers; i++) {
        const struct model_server *s = &d->servers[i];
        struct srv *sv = srv_get(r, s->id);
        sv->seen = true;
        if (s->delete) {
            sv->pending = PEND_NONE;
            job_add(r, sv, JOB_REMOVE);
            continue;
        }
        converge(r, s, sv);
    }
    t_servers = st_mono_ns() - t_start - t_net;
    run_jobs(r);
    t_jobs = st_mono_ns() - t_start - t_net - t_servers;
    run_tasks(r, d, tasks);
    t_tasks = st_mono_ns() - t_start - t_net - t_servers - t_jobs;
    for (size_t i = 0; i < d->nservers; i++) {
        const struct model_server *s = &d->servers[i];
        struct srv *sv = srv_get(r, s->id);
        log_build(r, sv);
        if (s->delete) {
            if (sv->fault[0])
                json_array_append_new(
                    servers, json_pack("{s:s, s:s, s:i, s:I, s:n, s:b, s:{s:s, s:s}}", "id", s->id,
                                       "state", "error", "power_state", 0, "disk_generation",
                                       (json_int_t) 0, "resize", "rescued", 0, "fault", "message",
                                       sv->fault, "details", "delete"));
            else
                json_array_append_new(servers, gone_entry(s->id));
            continue;
        }
        json_array_append_new(servers, server_entry(r, s, sv));
    }
    remove_leftovers(r, d, servers);
    if (r->host_id[0]) {
        int nsec = 0;
        if (vattach_cleanup_secrets(r->virt, r->host_id, d, &nsec, &err) < 0) {
            if (log_rl_allow(&r->rl))
                log_errorx(MOD, "volumes: %s", err.msg);
            st_err_clear(&err);
        } else if (nsec) {
            log_info(MOD, "removed %d libvirt secret(s) of detached iSCSI volumes", nsec);
        }
    }
    cleanup_cache(r);
    /* Ports of servers started in this pass have their taps now. */
    if (r->opts.net && net_port_status(r->opts.net, d, netrep, &err) < 0) {
        if (log_rl_allow(&r->rl))
            log_errorx(MOD, "networking: %s", err.msg);
        st_err_clear(&err);
    }

report:
    for (size_t i = 0; i < r->nsrvs; i++) {
        struct srv *sv = r->srvs[i];
        int64_t t = 0;
        if (!sv->seen)
            continue;
        if (sv->pending != PEND_NONE)
            t = sv->pending_deadline_ns;
        if (sv->fault[0] && sv->retry_ns && (!t || sv->retry_ns < t))
            t = sv->retry_ns;
        if (t && (!next || t < next))
            next = t;
    }
    srv_drop_unseen(r);
    if (next_ns)
        *next_ns = next;
    {
        /* One line for each pass that built something or changed the
         * network, so that a slow step shows in the log. */
        const struct net_stats *ns = r->opts.net ? net_last_stats(r->opts.net) : NULL;
        bool net_work = ns && (ns->nft_applied || ns->links_created || ns->removed);
        int64_t total = st_mono_ns() - t_start;
        if (r->nbuilt || net_work)
            log_info(MOD,
                     "pass for revision %lld: %.1f ms: network %.1f ms (nft %.1f ms, %d links "
                     "created, %d removed), servers %.1f ms, starts and removals %.1f ms, tasks "
                     "%.1f ms, housekeeping %.1f ms",
                     (long long) d->revision, ms(total), ms(t_net), ns ? ms(ns->nft_ns) : 0.0,
                     ns ? ns->links_created : 0, ns ? ns->removed : 0, ms(t_servers), ms(t_jobs),
                     ms(t_tasks), ms(total - t_net - t_servers - t_jobs - t_tasks));
    }
    report = json_pack("{s:I, s:o, s:o}", "revision", (json_int_t) d->revision, "servers",
                       servers, "tasks", tasks);
    json_object_update(report, netrep);
    json_decref(netrep);
    if (volrep)
        json_object_set_new(report, "volumes", volrep);
    r->cur = NULL;
    return report;
}

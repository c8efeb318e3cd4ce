/* reconcile.c - the agent's reconcile pass (see reconcile.h).
 *
 * A pass has three parts: servers (converge each desired server), tasks
 * (reboot, console log, snapshot), then housekeeping (leftover domains and
 * directories, the image cache).  The report is written last, from a fresh
 * look at each domain, so that it says what is, after the tasks acted.
 *
 * This file holds the pass itself: the reconciler's lifecycle and
 * bookkeeping, failures and back-off, the jobs run side by side, the report
 * and reconcile_run().  One server's steps are in reconcile_steps.c, the
 * tasks in reconcile_tasks.c, housekeeping in reconcile_gc.c; what they
 * share is in reconcile_internal.h.
 *
 * Logging (STYLE §3): the functions below return st_err; the reconcile
 * files log, once per distinct failure of a server (when its fault message
 * changes), through a rate limiter. */
#include "agent/reconcile.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/domain.h"
#include "agent/instance.h"
#include "agent/migrate.h"
#include "agent/reconcile_internal.h"
#include "agent/vattach.h"
#include "agent/volume.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/banned.h"
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
    migrate_srv_free(s->mig);
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

struct srv *reconcile_srv_get(struct reconciler *r, const char *id)
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

static void clear_in_use(struct reconciler *r)
{
    for (size_t i = 0; i < r->nin_use; i++)
        free(r->in_use[i]);
    r->nin_use = 0;
}

/* ------------------------------------------------------------ failures */

void reconcile_srv_fail(struct reconciler *r, struct srv *sv, const char *step,
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

void reconcile_srv_ok(struct srv *sv)
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

bool reconcile_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The domain name of a server id. */
void reconcile_dom_name(const char *id, struct st_buf *out)
{
    st_buf_reset(out);
    domain_name(id, out);
}

/* ------------------------------------------------------------ jobs */

void reconcile_job_add(struct reconciler *r, struct srv *sv, enum job_kind kind)
{
    if (r->njobs == r->jobs_alloc) {
        r->jobs_alloc = r->jobs_alloc ? r->jobs_alloc * 2 : 16;
        r->jobs = st_xrealloc(r->jobs, r->jobs_alloc * sizeof(*r->jobs));
    }
    r->jobs[r->njobs++] = (struct job){.kind = kind, .sv = sv, .err = ST_ERR_INIT};
}

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
            reconcile_dom_name(j->sv->id, &name);
            j->rc = virt_start(r->virt, name.buf, false, &j->err);
        } else {
            j->rc = reconcile_remove_server(r, j->sv->id, &j->err);
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
            reconcile_srv_fail(r, sv, j->kind == JOB_START ? "power" : "delete", &j->err);
            continue;
        }
        reconcile_srv_ok(sv);
        if (j->kind == JOB_START) {
            struct virt_info vi;
            struct st_err err = ST_ERR_INIT;
            sv->bt.start += j->ns;
            sv->bt.built = true;
            log_info(MOD, "server '%s': started", sv->id);
            reconcile_dom_name(sv->id, &name);
            /* What the next pass compares with, as step_power does. */
            sv->was_running = virt_state(r->virt, name.buf, &vi, &err) == 0 &&
                              (vi.state == VIRT_RUNNING || vi.state == VIRT_PAUSED) &&
                              sv->pending == PEND_NONE;
        }
    }
    st_buf_release(&name);
    r->njobs = 0;
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
    reconcile_dom_name(s->id, &name);
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
        bool gone = false;
        json_t *mig = migrate_report(r, s, sv, &gone);
        json_t *e = gone ? reconcile_gone_entry(s->id) : json_pack("{s:s, s:s, s:i, s:I, s:s?, s:b, s:o, s:o}", "id", s->id, "state",
                              state, "power_state", virt_power_state(vi.state), "disk_generation",
                              (json_int_t) st.disk_generation, "resize", resize, "rescued",
                              have_state && st.rescued, "fault", fault, "volumes",
                              vattach_report(r->virt, name.buf, s, sv->vol_fault_att,
                                             sv->vol_fault));
        if (gone)
            json_decref(fault);
        if (mig)
            json_object_set_new(e, "migration", mig);
        st_buf_release(&name);
        return e;
    }
}

json_t *reconcile_gone_entry(const char *id)
{
    return json_pack("{s:s, s:s, s:i, s:I, s:n, s:b, s:n}", "id", id, "state", "gone",
                     "power_state", 0, "disk_generation", (json_int_t) 0, "resize", "rescued", 0,
                     "fault");
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
        struct srv *sv = reconcile_srv_get(r, s->id);
        sv->seen = true;
        if (s->delete) {
            sv->pending = PEND_NONE;
            reconcile_job_add(r, sv, JOB_REMOVE);
            continue;
        }
        reconcile_converge(r, s, sv);
    }
    t_servers = st_mono_ns() - t_start - t_net;
    run_jobs(r);
    t_jobs = st_mono_ns() - t_start - t_net - t_servers;
    reconcile_run_tasks(r, d, tasks);
    t_tasks = st_mono_ns() - t_start - t_net - t_servers - t_jobs;
    for (size_t i = 0; i < d->nservers; i++) {
        const struct model_server *s = &d->servers[i];
        struct srv *sv = reconcile_srv_get(r, s->id);
        log_build(r, sv);
        if (s->delete) {
            if (sv->fault[0])
                json_array_append_new(
                    servers, json_pack("{s:s, s:s, s:i, s:I, s:n, s:b, s:{s:s, s:s}}", "id", s->id,
                                       "state", "error", "power_state", 0, "disk_generation",
                                       (json_int_t) 0, "resize", "rescued", 0, "fault", "message",
                                       sv->fault, "details", "delete"));
            else
                json_array_append_new(servers, reconcile_gone_entry(s->id));
            continue;
        }
        json_array_append_new(servers, server_entry(r, s, sv));
    }
    reconcile_remove_leftovers(r, d, servers);
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
    reconcile_cleanup_cache(r);
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
        if (migrate_next_ns(sv) && (!t || migrate_next_ns(sv) < t))
            t = migrate_next_ns(sv);
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

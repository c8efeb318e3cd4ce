/* reconcile_steps.c - one server's pass (reconcile_converge()): the steps
 * that build what is missing of a desired server (image cache, root and
 * other disks, boot files, rescue, resize, the domain) and bring its power
 * to the desired state, each failing with the name of its step.  Starting
 * a domain is queued as a job of the pass (reconcile.c). */
#include "agent/reconcile_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent/disk.h"
#include "agent/domain.h"
#include "agent/instance.h"
#include "agent/migrate.h"
#include "agent/seed.h"
#include "agent/vattach.h"
#include "agent/volume.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/banned.h"

/* ------------------------------------------------------------ helpers */

/* Notes cached image 'name' as in use this pass: reconcile_cleanup_cache()
 * keeps it. */
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
int reconcile_ensure_base(struct reconciler *r, struct srv *sv, const struct model_image *img,
                       bool kind_disk, struct st_buf *path, struct st_err *err)
{
    struct st_buf p = ST_BUF_INIT, probe = ST_BUF_INIT;
    int64_t t0 = st_mono_ns();
    int rc;
    use_base(r, img->id);
    disk_base_path(r->opts.instances_path, img->id, &probe);
    if (!reconcile_file_exists(probe.buf))
        building(r, sv->id);
    st_buf_release(&probe);
    rc = disk_base_ensure(r->opts.instances_path, img, kind_disk, fetch_cb, r, &p, err);
    sv->bt.image += st_mono_ns() - t0;
    if (rc == 0 && path)
        st_buf_add(path, p.buf, p.len);
    st_buf_release(&p);
    return rc;
}

/* ------------------------------------------------------------ converge */

/* Before the pass changes domain 'name' of one of its servers: a domain
 * that names another host is not ours to touch (CONFLICT).  One that
 * names none was made before the marks (or by hand): our desired state
 * names it, so it is ours, and its next definition carries the mark. */
int reconcile_check_owner(struct reconciler *r, const char *name, struct st_err *err)
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

int reconcile_refresh(struct ctx *c, struct st_err *err)
{
    return virt_state(c->r->virt, c->name.buf, &c->vi, err);
}

static int save_state(struct ctx *c, struct st_err *err)
{
    return instance_state_save(c->inst, &c->st, err);
}

/* Powers the domain off at once (before its disks change under it). */
int reconcile_power_off_hard(struct ctx *c, struct st_err *err)
{
    if (c->vi.state == VIRT_MISSING || c->vi.state == VIRT_SHUTOFF)
        return 0;
    if (virt_destroy(c->r->virt, c->name.buf, err) < 0)
        return -1;
    c->sv->was_running = false;
    if (c->vi.state == VIRT_SUSPENDED && virt_managed_save_remove(c->r->virt, c->name.buf, err) < 0)
        return -1;
    return reconcile_refresh(c, err);
}

/* Asks for a clean shutdown and waits (across passes) for it, powering off
 * when the deadline passes.  Returns 1 when the domain is off, 0 while it
 * is still shutting down, -1 on error. */
int reconcile_power_off_clean(struct ctx *c, enum pending why, const char *task_id, int timeout_s,
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
        if (reconcile_power_off_hard(c, err) < 0)
            return -1;
        sv->pending = PEND_NONE;
        return 1;
    }
    if (sv->pending == why && (!task_id || !strcmp(sv->pending_task, task_id))) {
        if (now < sv->pending_deadline_ns)
            return 0;
        log_info(MOD, "server '%s': no clean shutdown after %d s: powering off", sv->id, timeout_s);
        if (reconcile_power_off_hard(c, err) < 0)
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
        (reconcile_file_exists(disk) || model_boot_volume(s)))
        return 0;
    building(c->r, s->id);
    if (rebuild)
        log_info(MOD,
                 "server '%s': rebuilding from image '%s' (disk generation %" PRId64 " -> %" PRId64
                 ")",
                 s->id, s->image.id, c->st.disk_generation, s->disk_generation);
    /* Nothing may run on the old disk while it is replaced. */
    if (reconcile_power_off_hard(c, err) < 0)
        goto out;
    c->step = "image";
    /* Booted from a volume: no root disk of its own (VOLUMES.md). */
    if (!model_boot_volume(s) && reconcile_ensure_base(c->r, c->sv, &s->image, true, &base, err) < 0)
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
        if (!reconcile_file_exists(local)) {
            building(c->r, c->s->id);
            if (disk_create_ephemeral(c->r->opts.instances_path, local, f->ephemeral_gb, err) < 0)
                goto out;
        }
    }
    if (f->swap_mb > 0) {
        st_buf_reset(&name);
        disk_swap_name(f->swap_mb, &name);
        use_base(c->r, name.buf);
        if (!reconcile_file_exists(swap)) {
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
        } else if (!reconcile_file_exists(seed)) {
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
    if (k->present && reconcile_ensure_base(c->r, c->sv, k, false, &c->kernel, err) < 0)
        return -1;
    if (rd->present && reconcile_ensure_base(c->r, c->sv, rd, false, &c->initrd, err) < 0)
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
        if (c->st.rescued && reconcile_file_exists(rdisk))
            return 0;
        building(c->r, s->id);
        if (reconcile_power_off_hard(c, err) < 0 ||
            reconcile_ensure_base(c->r, c->sv, &s->rescue_image, true, &base, err) < 0 ||
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
        if (reconcile_power_off_hard(c, err) < 0 || unlink_ok(rdisk, err) < 0)
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
            r = reconcile_power_off_clean(c, PEND_RESIZE, NULL, c->r->opts.shutdown_timeout, err);
            if (r <= 0)
                return r;
            building(c->r, s->id);
            if (disk_copy(disk, backup, err) < 0 ||
                (reconcile_file_exists(seed) && disk_copy(seed, seed_bak, err) < 0))
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
            if (reconcile_power_off_hard(c, err) < 0)
                return -1;
            /* A backup already moved back by a pass that died before
             * saving the state is simply not there any more. */
            if (reconcile_file_exists(backup) && rename_ok(backup, disk, err) < 0)
                return -1;
            if (reconcile_file_exists(seed_bak) && rename_ok(seed_bak, seed, err) < 0)
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

int reconcile_domain_xml(struct ctx *c, struct st_buf *xml, struct st_err *err)
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
    struct domain_volume vols[MODEL_MAX_ATTACHMENTS];
    struct st_buf usage[MODEL_MAX_ATTACHMENTS];
    int rc;

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
    rc = domain_xml_render(&eff, &paths, &dopts, xml, err);
    for (int i = 0; i < s->nvolumes; i++)
        st_buf_release(&usage[i]);
    return rc;
}

static int step_domain(struct ctx *c, struct st_err *err)
{
    const struct model_server *s = c->s;
    const struct model_flavor *f = effective_flavor(s);
    struct st_buf xml = ST_BUF_INIT, old = ST_BUF_INIT;
    struct st_err rerr = ST_ERR_INIT;
    int rc = -1;

    c->step = "domain";
    if (reconcile_domain_xml(c, &xml, err) < 0)
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
        if (reconcile_refresh(c, err) < 0)
            goto out;
    }
    if (!instance_state_flavor_is(&c->st, f)) {
        instance_state_set_flavor(&c->st, f);
        if (save_state(c, err) < 0)
            goto out;
    }
    rc = 0;
out:
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
            reconcile_job_add(r, sv, JOB_START);
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
            reconcile_job_add(r, sv, JOB_START);
            c->deferred = true;
            return 0;
        }
        break;
    case MODEL_POWER_STOPPED:
        if (seen == VIRT_SUSPENDED) {
            rc = reconcile_power_off_hard(c, err);
            break;
        }
        if (seen == VIRT_SHUTOFF || seen == VIRT_MISSING)
            acted = false;
        rc = reconcile_power_off_clean(c, PEND_STOP, NULL, r->opts.shutdown_timeout, err);
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
    if (rc < 0 || reconcile_refresh(c, err) < 0)
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
void reconcile_converge(struct reconciler *r, const struct model_server *s, struct srv *sv)
{
    struct st_err err = ST_ERR_INIT;
    struct ctx c = {.r = r, .s = s, .sv = sv, .step = "instance"};
    int64_t now = st_mono_ns();

    st_buf_init(&c.name, 64);
    st_buf_init(&c.kernel, 0);
    st_buf_init(&c.initrd, 0);
    reconcile_dom_name(s->id, &c.name);

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
    if (!c.inst)
        goto fail;
    /* A migration's state may own the pass (migrate.h). */
    if (!migrate_step(&c, MIG_PHASE_PRE))
        goto done;
    if (instance_mkdir(c.inst, &err) < 0)
        goto fail;
    c.step = "state";
    if (instance_state_load(c.inst, &c.st, &err) < 0)
        goto fail;
    if (c.st.image_id[0]) {
        memcpy(sv->base_image, c.st.image_id, strlen(c.st.image_id) + 1);
        use_base(r, sv->base_image);
    }
    c.step = "libvirt";
    if (reconcile_refresh(&c, &err) < 0 ||
        (c.vi.state != VIRT_MISSING && reconcile_check_owner(r, c.name.buf, &err) < 0))
        goto fail;
    if (!migrate_step(&c, MIG_PHASE_LOADED))
        goto done;
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
    if (!migrate_step(&c, MIG_PHASE_DOMAIN))
        goto done;
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
        reconcile_srv_ok(sv); /* else when its job is done */
    goto out;
fail:
    reconcile_srv_fail(r, sv, c.step, &err);
out:
    sv->prev_power = s->power;
    sv->prev_power_gen = s->power_generation;
    sv->have_prev = true;
    instance_free(c.inst);
    st_buf_release(&c.name);
    st_buf_release(&c.kernel);
    st_buf_release(&c.initrd);
}

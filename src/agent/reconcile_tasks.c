/* reconcile_tasks.c - the tasks of a pass (reconcile_run_tasks()): reboot,
 * console log, snapshot and the volume tasks, and the finished tasks whose
 * entries the report repeats until the controller retires them. */
#include "agent/reconcile_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/disk.h"
#include "agent/instance.h"
#include "agent/volume.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/banned.h"

/* ------------------------------------------------------------ finished tasks */

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
    reconcile_dom_name(s->id, &c.name);
    if (reconcile_refresh(&c, &err) < 0)
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
    reconcile_dom_name(s->id, &name);
    if (!reconcile_file_exists(instance_path(inst, INSTANCE_DISK))) {
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

void reconcile_run_tasks(struct reconciler *r, const struct model_desired *d, json_t *out)
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
                entry = task_reboot(r, t, s, reconcile_srv_get(r, s->id));
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

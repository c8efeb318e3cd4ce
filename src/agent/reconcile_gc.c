/* reconcile_gc.c - the pass's housekeeping: removing a server (run as a
 * job), the domains and directories of servers that are not desired at
 * all, and the image cache. */
#include "agent/reconcile_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent/disk.h"
#include "agent/instance.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "common/banned.h"

/* ------------------------------------------------------------ removal */

/* Destroys, undefines and removes server 'id'.  A domain of another host
 * of that name is left alone, and its directory with it. */
int reconcile_remove_server(struct reconciler *r, const char *id, struct st_err *err)
{
    struct st_buf name = ST_BUF_INIT;
    struct instance *inst = instance_new(r->opts.instances_path, id, err);
    int rc = -1;
    if (!inst)
        goto out;
    reconcile_dom_name(id, &name);
    if (reconcile_check_owner(r, name.buf, err) < 0 || virt_destroy(r->virt, name.buf, err) < 0 ||
        virt_undefine(r->virt, name.buf, err) < 0 || instance_remove(inst, err) < 0)
        goto out;
    rc = 0;
out:
    instance_free(inst);
    st_buf_release(&name);
    return rc;
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
void reconcile_remove_leftovers(struct reconciler *r, const struct model_desired *d, json_t *out)
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
        if (reconcile_remove_server(r, id, &err) < 0) {
            if (log_rl_allow(&r->rl))
                log_errorx(MOD, "cannot remove the leftover server '%s': %s", id, err.msg);
            st_err_clear(&err);
        } else {
            log_info(MOD, "removed the leftover server '%s' (not desired on this host)", id);
            json_array_append_new(out, reconcile_gone_entry(id));
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
        reconcile_dom_name(ids[i], &name);
        if (virt_state(r->virt, name.buf, &vi, &err) < 0 || vi.state != VIRT_MISSING) {
            st_err_clear(&err);
            goto next;
        }
        if (reconcile_remove_server(r, ids[i], &err) < 0) {
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

void reconcile_cleanup_cache(struct reconciler *r)
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

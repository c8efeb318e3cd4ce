/* volume.c - this host's volumes, snapshots, backups and exports (see volume.h).
 *
 * A pass, per desired volume: delete, or create (from its source) ->
 * grow -> snapshots -> exports; then the leftovers of the pool, the LVs,
 * the targets and the backups that nothing desired names.  Everything is
 * checked before it is done, so a pass after a kill finishes the work.
 * Slow steps (a conversion from an image) run on the pass itself: volumes
 * are few and a pass is sequential anyway (XXX: jobs, as servers have). */
#include "agent/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent/iscsi.h"
#include "agent/vattach.h"
#include "common/json.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

#define MOD "volume"
#define QEMU_IMG "qemu-img"
#define GIB (INT64_C(1) << 30)
#define NS_PER_S INT64_C(1000000000)
#define SHORT_TIMEOUT 120
#define LONG_TIMEOUT (6 * 3600)
#define BACKOFF_MIN_S 5
#define BACKOFF_MAX_S 300
#define THIN_POOL "stratus-pool"
#define PART "-part" /* LV being made */

/* A failure of a volume or snapshot, retried with back-off. */
struct vfault {
    char id[MODEL_ID_MAX];
    char msg[ST_ERR_MSG_MAX];
    int64_t retry_ns;
    int backoff_s;
    bool seen;
};

struct volumes {
    bool file, lvm, iscsi;
    char *pool, *backup_dir, *vg, *portal, *state_dir, *instances;
    char host_id[MODEL_ID_MAX];
    struct vfault *faults;
    size_t nfaults;
    struct log_rl rl;
    /* of the current pass */
    struct vol_lv *lvs;
    size_t nlvs;
    bool lvs_ok;
    struct iscsi_target *targets;
    size_t ntargets;
    bool targets_ok;
};

/* ------------------------------------------------------------ set-up */

struct volumes *vol_new(const struct vol_opts *o, struct st_err *err)
{
    struct volumes *v = st_xcalloc(1, sizeof(*v));
    const char *p = o->backends ? o->backends : "file";
    v->rl = (struct log_rl) LOG_RL_INIT(30, 20);
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n == 4 && !strncmp(p, "file", 4))
            v->file = true;
        else if (n == 3 && !strncmp(p, "lvm", 3))
            v->lvm = true;
        else if (n) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "[volume] backends: unknown backend '%.*s' (file, lvm)", (int) n, p);
            goto fail;
        }
        p += n;
        p += strspn(p, ", ");
    }
    if (!o->file_pool || o->file_pool[0] != '/' || !o->backup_dir || o->backup_dir[0] != '/' ||
        !o->state_dir || o->state_dir[0] != '/') {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "[volume] file_pool and backup_dir must be absolute paths");
        goto fail;
    }
    if (v->lvm && (!o->lvm_vg || !o->lvm_vg[0] || strchr(o->lvm_vg, '/'))) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "[volume] backends has lvm: set lvm_volume_group");
        goto fail;
    }
    v->pool = st_xstrdup(o->file_pool);
    v->backup_dir = st_xstrdup(o->backup_dir);
    v->vg = st_xstrdup(o->lvm_vg ? o->lvm_vg : "");
    v->portal = st_xstrdup(o->iscsi_portal && *o->iscsi_portal ? o->iscsi_portal
                                                                : "127.0.0.1:3260");
    v->state_dir = st_xstrdup(o->state_dir);
    v->instances = st_xstrdup(o->instances_path ? o->instances_path : "");
    v->iscsi = o->iscsi;
    if ((v->file && st_mkdir_p(v->pool, 0711, err) < 0) ||
        st_mkdir_p(v->backup_dir, 0700, err) < 0)
        goto fail;
    {
        struct st_buf d = ST_BUF_INIT;
        int rc;
        st_buf_addf(&d, "%s/iscsi", v->state_dir);
        rc = st_mkdir_p(d.buf, 0700, err);
        st_buf_release(&d);
        if (rc < 0)
            goto fail;
    }
    return v;
fail:
    vol_free(v);
    return NULL;
}

void vol_free(struct volumes *v)
{
    if (!v)
        return;
    free(v->pool);
    free(v->backup_dir);
    free(v->vg);
    free(v->portal);
    free(v->state_dir);
    free(v->instances);
    free(v->faults);
    free(v->lvs);
    free(v->targets);
    free(v);
}

void vol_set_host_id(struct volumes *v, const char *host_id)
{
    if (host_id && strlen(host_id) < sizeof(v->host_id))
        memcpy(v->host_id, host_id, strlen(host_id) + 1);
}

bool vol_iscsi_local(const struct volumes *v)
{
    return v->iscsi;
}

/* ------------------------------------------------------------ paths */

void vol_file_path(const struct volumes *v, const char *kind, const char *id, struct st_buf *out)
{
    if (!strcmp(kind, "backup"))
        st_buf_addf(out, "%s/backup-%s.qcow2", v->backup_dir, id);
    else
        st_buf_addf(out, "%s/%s-%s.qcow2", v->pool, kind, id);
}

void vol_lv_path(const struct volumes *v, const char *name, struct st_buf *out)
{
    st_buf_addf(out, "/dev/%s/%s", v->vg, name);
}

static bool exists(const char *path)
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

/* ------------------------------------------------------------ qemu-img */

static int run(struct st_cmd *c, int timeout, struct st_buf *out, struct st_err *err)
{
    int rc;
    cmd_set_timeout(c, timeout);
    rc = cmd_run(c, out, NULL, NULL, err);
    cmd_free(c);
    return rc;
}

int vol_qemu_create(const char *path, int64_t bytes, struct st_err *err)
{
    struct st_cmd *c = cmd_new(QEMU_IMG);
    cmd_arg(c, "create");
    cmd_arg(c, "-q");
    cmd_arg(c, "-f");
    cmd_arg(c, "qcow2");
    cmd_arg(c, "--");
    cmd_arg(c, path);
    cmd_argf(c, "%" PRId64, bytes);
    return run(c, SHORT_TIMEOUT, NULL, err);
}

int vol_qemu_convert(const char *src, const char *sfmt, const char *dst, const char *dfmt,
                     bool share, bool compress, bool existing, struct st_err *err)
{
    struct st_cmd *c = cmd_new(QEMU_IMG);
    cmd_arg(c, "convert");
    cmd_arg(c, "-q");
    if (share)
        cmd_arg(c, "-U");
    if (existing)
        cmd_arg(c, "-n");
    if (compress)
        cmd_arg(c, "-c");
    cmd_arg(c, "-f");
    cmd_arg(c, sfmt);
    cmd_arg(c, "-O");
    cmd_arg(c, dfmt);
    cmd_arg(c, "--");
    cmd_arg(c, src);
    cmd_arg(c, dst);
    return run(c, LONG_TIMEOUT, NULL, err);
}

int vol_qemu_resize(const char *path, int64_t bytes, struct st_err *err)
{
    struct st_cmd *c = cmd_new(QEMU_IMG);
    cmd_arg(c, "resize");
    cmd_arg(c, "-q");
    cmd_arg(c, "-f");
    cmd_arg(c, "qcow2");
    cmd_arg(c, "--");
    cmd_arg(c, path);
    cmd_argf(c, "%" PRId64, bytes);
    return run(c, SHORT_TIMEOUT, NULL, err);
}

/* ------------------------------------------------------------ lvm */

/* The tag of this host's LVs: LVM tags allow [A-Za-z0-9_+.-]. */
static void host_tag(const char *host_id, struct st_buf *out)
{
    st_buf_adds(out, "stratus_host_");
    for (const char *p = host_id; *p; p++)
        if (*p != '-')
            st_buf_addf(out, "%c", *p);
}

int vol_lvm_create(const char *vg, const char *name, int64_t gb, const char *host_id,
                   struct st_err *err)
{
    struct st_cmd *c = cmd_new("lvcreate");
    struct st_buf tag = ST_BUF_INIT;
    host_tag(host_id, &tag);
    cmd_arg(c, "--yes");
    cmd_arg(c, "--thin");
    cmd_argf(c, "--virtualsize=%" PRId64 "g", gb);
    cmd_argf(c, "--name=%s", name);
    cmd_argf(c, "--addtag=%s", tag.buf);
    cmd_argf(c, "%s/" THIN_POOL, vg);
    st_buf_release(&tag);
    return run(c, SHORT_TIMEOUT, NULL, err);
}

int vol_lvm_snapshot(const char *vg, const char *origin, const char *name, const char *host_id,
                     struct st_err *err)
{
    struct st_cmd *c = cmd_new("lvcreate");
    struct st_buf tag = ST_BUF_INIT;
    host_tag(host_id, &tag);
    cmd_arg(c, "--yes");
    cmd_arg(c, "--snapshot");
    /* Thin snapshots skip activation by default; they are read by the
     * agent only (a volume from a snapshot), so activate them. */
    cmd_arg(c, "--setactivationskip=n");
    cmd_argf(c, "--name=%s", name);
    cmd_argf(c, "--addtag=%s", tag.buf);
    cmd_argf(c, "%s/%s", vg, origin);
    st_buf_release(&tag);
    return run(c, SHORT_TIMEOUT, NULL, err);
}

int vol_lvm_rename(const char *vg, const char *from, const char *to, struct st_err *err)
{
    struct st_cmd *c = cmd_new("lvrename");
    cmd_arg(c, vg);
    cmd_arg(c, from);
    cmd_arg(c, to);
    return run(c, SHORT_TIMEOUT, NULL, err);
}

int vol_lvm_extend(const char *vg, const char *name, int64_t gb, struct st_err *err)
{
    struct st_cmd *c = cmd_new("lvextend");
    cmd_argf(c, "--size=%" PRId64 "g", gb);
    cmd_argf(c, "%s/%s", vg, name);
    return run(c, SHORT_TIMEOUT, NULL, err);
}

int vol_lvm_remove(const char *vg, const char *name, struct st_err *err)
{
    struct st_cmd *c = cmd_new("lvremove");
    cmd_arg(c, "--yes");
    cmd_argf(c, "%s/%s", vg, name);
    return run(c, SHORT_TIMEOUT, NULL, err);
}

int vol_lvm_parse_lvs(const char *text, const char *host_id, struct vol_lv **out, size_t *n,
                      struct st_err *err)
{
    struct st_buf tag = ST_BUF_INIT;
    struct vol_lv *lvs = NULL;
    size_t k = 0;
    const char *p = text;
    (void) err;
    host_tag(host_id, &tag);
    /* "  volume-<id> 1073741824 tag1,tag2" per line (--noheadings
     * --units b --nosuffix -o lv_name,lv_size,lv_tags --separator ' '). */
    while (*p) {
        char name[128] = "", tags[1024] = "";
        long long bytes = 0;
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t) (nl - p) : strlen(p);
        char line[1280];
        if (len >= sizeof(line))
            len = sizeof(line) - 1;
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl ? nl + 1 : p + strlen(p);
        {
            char *s = line, *f[3] = {NULL, NULL, NULL};
            int nf = 0;
            while (*s && nf < 3) {
                while (*s == ' ')
                    s++;
                if (!*s)
                    break;
                f[nf++] = s;
                s += strcspn(s, " ");
                if (*s)
                    *s++ = '\0';
            }
            if (nf < 2 || strlen(f[0]) >= sizeof(name))
                continue;
            memcpy(name, f[0], strlen(f[0]) + 1);
            bytes = strtoll(f[1], NULL, 10);
            if (nf == 3 && strlen(f[2]) < sizeof(tags))
                memcpy(tags, f[2], strlen(f[2]) + 1);
        }
        {
            bool ours = false;
            char *t = tags;
            while (*t && !ours) {
                size_t tl = strcspn(t, ",");
                ours = tl == tag.len && !strncmp(t, tag.buf, tl);
                t += tl;
                t += strspn(t, ",");
            }
            if (!ours)
                continue;
        }
        lvs = st_xrealloc(lvs, (k + 1) * sizeof(*lvs));
        memcpy(lvs[k].name, name, strlen(name) + 1);
        lvs[k].bytes = bytes;
        k++;
    }
    st_buf_release(&tag);
    *out = lvs;
    *n = k;
    return 0;
}

int vol_lvm_list(const char *vg, const char *host_id, struct vol_lv **out, size_t *n,
                 struct st_err *err)
{
    struct st_cmd *c = cmd_new("lvs");
    struct st_buf text = ST_BUF_INIT;
    int rc;
    cmd_arg(c, "--noheadings");
    cmd_arg(c, "--units");
    cmd_arg(c, "b");
    cmd_arg(c, "--nosuffix");
    cmd_arg(c, "--separator");
    cmd_arg(c, " ");
    cmd_arg(c, "-o");
    cmd_arg(c, "lv_name,lv_size,lv_tags");
    cmd_arg(c, vg);
    rc = run(c, SHORT_TIMEOUT, &text, err);
    if (rc == 0)
        rc = vol_lvm_parse_lvs(text.buf, host_id, out, n, err);
    st_buf_release(&text);
    return rc;
}

static const struct vol_lv *find_lv(const struct volumes *v, const char *name)
{
    for (size_t i = 0; i < v->nlvs; i++)
        if (!strcmp(v->lvs[i].name, name))
            return &v->lvs[i];
    return NULL;
}

/* ------------------------------------------------------------ faults */

static struct vfault *fault_get(struct volumes *v, const char *id)
{
    for (size_t i = 0; i < v->nfaults; i++)
        if (!strcmp(v->faults[i].id, id))
            return &v->faults[i];
    return NULL;
}

/* Whether 'id' is backing off after a failure (its fault stays reported). */
static bool backing_off(struct volumes *v, const char *id)
{
    struct vfault *f = fault_get(v, id);
    if (f)
        f->seen = true;
    return f && st_mono_ns() < f->retry_ns;
}

static void fault_set(struct volumes *v, const char *id, const char *what, const struct st_err *e)
{
    struct vfault *f = fault_get(v, id);
    bool is_new = !f || strcmp(f->msg, e->msg);
    if (!f) {
        v->faults = st_xrealloc(v->faults, (v->nfaults + 1) * sizeof(*v->faults));
        f = &v->faults[v->nfaults++];
        memset(f, 0, sizeof(*f));
        memcpy(f->id, id, strlen(id) + 1);
    }
    f->seen = true;
    memcpy(f->msg, e->msg, strlen(e->msg) + 1);
    f->backoff_s = f->backoff_s ? f->backoff_s * 2 : BACKOFF_MIN_S;
    if (f->backoff_s > BACKOFF_MAX_S)
        f->backoff_s = BACKOFF_MAX_S;
    f->retry_ns = st_mono_ns() + (int64_t) f->backoff_s * NS_PER_S;
    if (is_new && log_rl_allow(&v->rl))
        log_errorx(MOD, "%s '%s': %s (retrying in %d s)", what, id, e->msg, f->backoff_s);
}

static void fault_clear(struct volumes *v, const char *id, const char *what)
{
    struct vfault *f = fault_get(v, id);
    if (!f)
        return;
    log_info(MOD, "%s '%s': recovered from: %s", what, id, f->msg);
    *f = v->faults[--v->nfaults];
}

static json_t *fault_json(struct volumes *v, const char *id)
{
    struct vfault *f = fault_get(v, id);
    return f ? json_string(f->msg) : json_null();
}

/* ------------------------------------------------------------ sizes */

static int file_size(const char *path, int64_t *bytes, struct st_err *err)
{
    return disk_info(path, "qcow2", bytes, NULL, err);
}

static int64_t gb_of(int64_t bytes)
{
    return (bytes + GIB - 1) / GIB;
}

/* ------------------------------------------------------------ create */

/* The source of a new volume: file and format ("" when none). */
static int source_file(struct volumes *v, const struct model_volume *vol, const struct vol_io *io,
                       struct st_buf *path, const char **fmt, struct st_err *err)
{
    *fmt = "qcow2";
    switch (vol->source) {
    case MODEL_VSRC_NONE:
        return 0;
    case MODEL_VSRC_IMAGE: {
        int64_t vsize = 0;
        if (!v->instances[0] || !io->fetch) {
            st_err_set(err, ST_ERR_INTERNAL, "no image cache for volume '%s'", vol->id);
            return -1;
        }
        *fmt = disk_base_format(&vol->image);
        if (!*fmt) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "image '%s': disk format '%s' is not usable",
                       vol->image.id, vol->image.disk_format);
            return -1;
        }
        if (disk_base_ensure(v->instances, &vol->image, true, io->fetch, io->opaque, path, err) <
            0)
            return -1;
        if (disk_info(path->buf, *fmt, &vsize, NULL, err) < 0)
            return -1;
        if (vsize > vol->size_gb * GIB) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "image '%s' (%" PRId64 " bytes) is larger than the volume (%" PRId64
                       " GiB)",
                       vol->image.id, vsize, vol->size_gb);
            return -1;
        }
        return 0;
    }
    case MODEL_VSRC_SNAPSHOT:
    case MODEL_VSRC_VOLUME:
    case MODEL_VSRC_BACKUP: {
        const char *kind = vol->source == MODEL_VSRC_SNAPSHOT ? "snapshot"
                           : vol->source == MODEL_VSRC_VOLUME ? "volume"
                                                              : "backup";
        if (vol->source != MODEL_VSRC_BACKUP && strcmp(vol->backend, "file")) {
            /* lvm: the source LV, read raw */
            vol_lv_path(v, "", path);
            st_buf_addf(path, "%s-%s", kind, vol->source_id);
            *fmt = "raw";
        } else {
            vol_file_path(v, kind, vol->source_id, path);
        }
        if (!exists(path->buf)) {
            st_err_set(err, ST_ERR_NOT_FOUND, "%s '%s' of volume '%s' is not on this host", kind,
                       vol->source_id, vol->id);
            return -1;
        }
        return 0;
    }
    }
    return 0;
}

static int create_file(struct volumes *v, const struct model_volume *vol, const char *path,
                       const struct vol_io *io, struct st_err *err)
{
    struct st_buf part = ST_BUF_INIT, src = ST_BUF_INIT;
    const char *fmt;
    int64_t bytes = vol->size_gb * GIB, vsize = 0;
    int rc = -1;

    st_buf_addf(&part, "%s.part", path);
    if (unlink_ok(part.buf, err) < 0 || source_file(v, vol, io, &src, &fmt, err) < 0)
        goto out;
    if (!src.len) {
        if (vol_qemu_create(part.buf, bytes, err) < 0)
            goto out;
    } else {
        if (vol_qemu_convert(src.buf, fmt, part.buf, "qcow2", true, false, false, err) < 0 ||
            file_size(part.buf, &vsize, err) < 0 ||
            (vsize < bytes && vol_qemu_resize(part.buf, bytes, err) < 0))
            goto out;
    }
    if (chmod(part.buf, 0644) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot set the mode of '%s'", part.buf);
        goto out;
    }
    rc = rename_ok(part.buf, path, err);
out:
    if (rc < 0 && part.len)
        (void) unlink(part.buf);
    st_buf_release(&part);
    st_buf_release(&src);
    return rc;
}

static int create_lvm(struct volumes *v, const struct model_volume *vol, const struct vol_io *io,
                      struct st_err *err)
{
    struct st_buf name = ST_BUF_INIT, part = ST_BUF_INIT, dev = ST_BUF_INIT, src = ST_BUF_INIT;
    const char *fmt;
    int rc = -1;

    st_buf_addf(&name, "volume-%s", vol->id);
    st_buf_addf(&part, "volume-%s" PART, vol->id);
    if (find_lv(v, part.buf) && vol_lvm_remove(v->vg, part.buf, err) < 0)
        goto out;
    if (source_file(v, vol, io, &src, &fmt, err) < 0 ||
        vol_lvm_create(v->vg, part.buf, vol->size_gb, v->host_id, err) < 0)
        goto out;
    vol_lv_path(v, part.buf, &dev);
    if (src.len && vol_qemu_convert(src.buf, fmt, dev.buf, "raw", true, false, true, err) < 0)
        goto out;
    rc = vol_lvm_rename(v->vg, part.buf, name.buf, err);
out:
    st_buf_release(&name);
    st_buf_release(&part);
    st_buf_release(&dev);
    st_buf_release(&src);
    return rc;
}

/* ------------------------------------------------------------ exports */

static void sidecar_path(const struct volumes *v, const char *attachment_id, struct st_buf *out)
{
    st_buf_addf(out, "%s/iscsi/%s", v->state_dir, attachment_id);
}

static int load_targets(struct volumes *v, struct st_err *err)
{
    if (v->targets_ok)
        return 0;
    if (iscsi_ensure_daemon(v->portal, err) < 0 || iscsi_list(&v->targets, &v->ntargets, err) < 0)
        return -1;
    v->targets_ok = true;
    return 0;
}

static const struct iscsi_target *find_target(const struct volumes *v, const char *iqn)
{
    for (size_t i = 0; i < v->ntargets; i++)
        if (!strcmp(v->targets[i].iqn, iqn))
            return &v->targets[i];
    return NULL;
}

/* tgt serves a file at the length it had when the target was made, and a
 * qcow2 grows as QEMU allocates clusters: so before a qcow2 volume is
 * exported its file is made long enough (sparse) for every cluster and its
 * metadata (L2 and refcount tables: less than 1/64 of the disk with 64 KiB
 * clusters).  qcow2 allocates by refcount, never by file length, so the
 * zero tail is simply free space (qemu-img check finds nothing). */
static int pad_for_export(const char *path, struct st_err *err)
{
    struct stat sb;
    int64_t vsize = 0, want;
    if (disk_info(path, "qcow2", &vsize, NULL, err) < 0)
        return -1;
    want = vsize + vsize / 64 + (INT64_C(16) << 20);
    if (stat(path, &sb) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot stat '%s'", path);
        return -1;
    }
    if (sb.st_size >= want)
        return 0;
    if (truncate(path, want) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot extend '%s' for its export", path);
        return -1;
    }
    return 0;
}

/* Makes sure the target of export 'x' of the volume on 'backing' exists. */
static int ensure_export(struct volumes *v, const struct model_volume *vol,
                         const struct model_vol_export *x, const char *backing,
                         struct st_err *err)
{
    struct st_buf iqn = ST_BUF_INIT, side = ST_BUF_INIT;
    const struct iscsi_target *t;
    int rc = -1, tid;

    if (load_targets(v, err) < 0)
        goto out;
    if (strcmp(vol->backend, "lvm") && pad_for_export(backing, err) < 0)
        goto out;
    iscsi_iqn(x->attachment_id, &iqn);
    t = find_target(v, iqn.buf);
    if (t && iscsi_target_complete(t, backing, x->chap_user)) {
        rc = 0;
        goto out;
    }
    if (t) {
        /* half made (killed while making it) or on another file */
        if (iscsi_target_delete(t->tid, x->chap_user, err) < 0)
            goto out;
        tid = t->tid;
    } else {
        tid = iscsi_next_tid(v->targets, v->ntargets);
    }
    /* The sidecar first: a target of ours always has one. */
    sidecar_path(v, x->attachment_id, &side);
    if (st_write_file(side.buf, v->host_id, strlen(v->host_id), 0600, err) < 0)
        goto out;
    if (iscsi_target_create(tid, iqn.buf, backing, x->chap_user, x->chap_secret, err) < 0)
        goto out;
    if (!t) {
        v->targets = st_xrealloc(v->targets, (v->ntargets + 1) * sizeof(*v->targets));
        memset(&v->targets[v->ntargets], 0, sizeof(v->targets[0]));
        v->targets[v->ntargets].tid = tid;
        memcpy(v->targets[v->ntargets].iqn, iqn.buf, iqn.len + 1);
        v->ntargets++;
    }
    log_info(MOD, "exported over iSCSI as %s (tid %d): %s", iqn.buf, tid, backing);
    rc = 0;
out:
    st_buf_release(&iqn);
    st_buf_release(&side);
    return rc;
}

static bool export_desired(const struct model_desired *d, const char *attachment_id)
{
    for (size_t i = 0; i < d->nvolumes; i++) {
        if (d->volumes[i].delete)
            continue;
        for (size_t k = 0; k < d->volumes[i].nexports; k++)
            if (!strcmp(d->volumes[i].exports[k].attachment_id, attachment_id))
                return true;
    }
    return false;
}

/* Removes our targets (sidecar naming this host) and sidecars that no
 * desired export names. */
static void cleanup_exports(struct volumes *v, const struct model_desired *d)
{
    struct st_buf dir = ST_BUF_INIT, side = ST_BUF_INIT, iqn = ST_BUF_INIT, owner = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    DIR *dh;
    struct dirent *de;

    st_buf_addf(&dir, "%s/iscsi", v->state_dir);
    dh = opendir(dir.buf);
    while (dh && (de = readdir(dh))) {
        const struct iscsi_target *t;
        if (!st_is_uuid(de->d_name) || export_desired(d, de->d_name))
            continue;
        st_buf_reset(&side);
        st_buf_addf(&side, "%s/%s", dir.buf, de->d_name);
        st_buf_reset(&owner);
        if (st_read_file(side.buf, 256, &owner, &err) < 0 || strcmp(owner.buf, v->host_id)) {
            st_err_clear(&err);
            continue;
        }
        st_buf_reset(&iqn);
        iscsi_iqn(de->d_name, &iqn);
        if (load_targets(v, &err) < 0)
            break;
        t = find_target(v, iqn.buf);
        if (t && iscsi_target_delete(t->tid, t->naccounts ? t->accounts[0] : NULL, &err) < 0) {
            if (log_rl_allow(&v->rl))
                log_errorx(MOD, "cannot remove the iSCSI target %s: %s", iqn.buf, err.msg);
            st_err_clear(&err);
            continue;
        }
        if (t)
            log_info(MOD, "removed the iSCSI target %s (tid %d)", iqn.buf, t->tid);
        (void) unlink(side.buf);
    }
    if (st_err_is_set(&err) && log_rl_allow(&v->rl))
        log_errorx(MOD, "iSCSI: %s", err.msg);
    if (dh)
        closedir(dh);
    st_buf_release(&dir);
    st_buf_release(&side);
    st_buf_release(&iqn);
    st_buf_release(&owner);
}

/* ------------------------------------------------------------ one volume */

static bool is_lvm(const struct model_volume *vol)
{
    return !strcmp(vol->backend, "lvm");
}

/* The backing file or device of volume or snapshot 'id' ('kind'). */
static void backing_of(const struct volumes *v, const struct model_volume *vol, const char *kind,
                       const char *id, struct st_buf *out)
{
    if (is_lvm(vol)) {
        struct st_buf n = ST_BUF_INIT;
        st_buf_addf(&n, "%s-%s", kind, id);
        vol_lv_path(v, n.buf, out);
        st_buf_release(&n);
    } else {
        vol_file_path(v, kind, id, out);
    }
}

/* Whether volume or snapshot 'kind'-'id' exists; its size in '*bytes'. */
static int present(struct volumes *v, const struct model_volume *vol, const char *kind,
                   const char *id, int64_t *bytes, struct st_err *err)
{
    struct st_buf p = ST_BUF_INIT;
    int64_t ignored;
    int rc = 0;
    if (!bytes)
        bytes = &ignored;
    *bytes = 0;
    if (is_lvm(vol)) {
        const struct vol_lv *lv;
        st_buf_addf(&p, "%s-%s", kind, id);
        lv = find_lv(v, p.buf);
        if (lv) {
            *bytes = lv->bytes;
            rc = 1;
        }
    } else {
        vol_file_path(v, kind, id, &p);
        if (exists(p.buf))
            rc = (bytes == &ignored || !strcmp(kind, "snapshot") ||
                  file_size(p.buf, bytes, err) == 0)
                     ? 1
                     : -1;
    }
    st_buf_release(&p);
    return rc;
}

static int remove_one(struct volumes *v, const struct model_volume *vol, const char *kind,
                      const char *id, struct st_err *err)
{
    struct st_buf p = ST_BUF_INIT;
    int rc;
    if (is_lvm(vol)) {
        st_buf_addf(&p, "%s-%s", kind, id);
        rc = find_lv(v, p.buf) ? vol_lvm_remove(v->vg, p.buf, err) : 0;
    } else {
        vol_file_path(v, kind, id, &p);
        rc = unlink_ok(p.buf, err);
    }
    st_buf_release(&p);
    return rc;
}

static int make_snapshot(struct volumes *v, const struct model_volume *vol, const char *sid,
                         struct st_err *err)
{
    struct st_buf src = ST_BUF_INIT, dst = ST_BUF_INIT, part = ST_BUF_INIT;
    int rc = -1;
    if (is_lvm(vol)) {
        st_buf_addf(&src, "volume-%s", vol->id);
        st_buf_addf(&dst, "snapshot-%s", sid);
        rc = vol_lvm_snapshot(v->vg, src.buf, dst.buf, v->host_id, err);
        goto out;
    }
    vol_file_path(v, "volume", vol->id, &src);
    vol_file_path(v, "snapshot", sid, &dst);
    st_buf_addf(&part, "%s.part", dst.buf);
    /* A copy holds only the allocated clusters. */
    {
        struct st_cmd *c = cmd_new(QEMU_IMG);
        cmd_arg(c, "convert");
        cmd_arg(c, "-q");
        cmd_arg(c, "-U");
        cmd_arg(c, "-f");
        cmd_arg(c, "qcow2");
        cmd_arg(c, "-O");
        cmd_arg(c, "qcow2");
        cmd_arg(c, "--");
        cmd_arg(c, src.buf);
        cmd_arg(c, part.buf);
        if (run(c, LONG_TIMEOUT, NULL, err) < 0) {
            (void) unlink(part.buf);
            goto out;
        }
    }
    rc = rename_ok(part.buf, dst.buf, err);
out:
    st_buf_release(&src);
    st_buf_release(&dst);
    st_buf_release(&part);
    return rc;
}

static json_t *gone(const char *id)
{
    return json_pack("{s:s, s:s, s:n}", "id", id, "state", "gone", "fault");
}

/* Grows volume 'vol' to its desired size: through libvirt's block resize
 * when a running guest has it open, else qemu-img; an LV is extended
 * first.  Refused while exported. */
static int grow(struct volumes *v, const struct model_desired *d, const struct model_volume *vol,
                const char *path, const struct vol_io *io, struct st_err *err)
{
    int64_t want = vol->size_gb * GIB;
    int live = 0;
    if (vol->nexports) {
        /* QEMU on the other end caches the qcow2's metadata, which a
         * resize under it would change, and tgt would serve the old LUN
         * size anyway. */
        st_err_set(err, ST_ERR_CONFLICT,
                   "volume '%s' cannot grow while it is exported over iSCSI: detach it first",
                   vol->id);
        return -1;
    }
    if (is_lvm(vol)) {
        struct st_buf n = ST_BUF_INIT;
        int rc;
        st_buf_addf(&n, "volume-%s", vol->id);
        rc = vol_lvm_extend(v->vg, n.buf, vol->size_gb, err);
        st_buf_release(&n);
        if (rc < 0)
            return -1;
    }
    if (io->virt)
        live = vattach_block_resize(io->virt, d, vol->id, (unsigned long long) want, err);
    if (live < 0 || (!live && !is_lvm(vol) && vol_qemu_resize(path, want, err) < 0))
        return -1;
    log_info(MOD, "volume '%s' grown to %" PRId64 " GiB%s", vol->id, vol->size_gb,
             live ? " (in its running guest)" : "");
    return 0;
}

static json_t *converge(struct volumes *v, const struct model_desired *d,
                        const struct model_volume *vol, const struct vol_io *io)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf path = ST_BUF_INIT;
    json_t *snaps = json_array(), *exports = json_array(), *entry, *loc;
    const char *state = "available";
    int64_t bytes = 0;
    bool off;
    int have;

    backing_of(v, vol, "volume", vol->id, &path);
    if ((is_lvm(vol) && !v->lvm) || (!is_lvm(vol) && (!v->file || strcmp(vol->backend, "file")))) {
        st_err_set(&err, ST_ERR_BAD_REQUEST, "backend '%s' is not configured on this host",
                   vol->backend);
        fault_set(v, vol->id, "volume", &err);
        state = "error";
        goto report;
    }
    if (is_lvm(vol) && !v->lvs_ok) {
        st_err_set(&err, ST_ERR_INTERNAL, "cannot list the LVs of volume group '%s'", v->vg);
        fault_set(v, vol->id, "volume", &err);
        state = "error";
        goto report;
    }
    if (vol->delete) {
        /* Its exports, its snapshots (cascade), then itself. */
        cleanup_exports(v, d);
        for (size_t i = 0; i < vol->nsnapshots; i++) {
            if (remove_one(v, vol, "snapshot", vol->snapshots[i].id, &err) < 0)
                goto fail;
            json_array_append_new(snaps, gone(vol->snapshots[i].id));
        }
        if (remove_one(v, vol, "volume", vol->id, &err) < 0)
            goto fail;
        fault_clear(v, vol->id, "volume");
        json_decref(snaps);
        json_decref(exports);
        st_buf_release(&path);
        log_debug(MOD, "volume '%s' removed", vol->id);
        return json_pack("{s:s, s:s, s:n}", "id", vol->id, "state", "gone", "fault");
    }
    /* Backing off after a failure: what exists is reported (and kept
     * exported), nothing fails again before its time. */
    off = backing_off(v, vol->id);
    have = present(v, vol, "volume", vol->id, &bytes, &err);
    if (have < 0)
        goto fail;
    if (!have && off) {
        state = "error";
        goto report;
    }
    if (!have) {
        int64_t t0 = st_mono_ns();
        if ((is_lvm(vol) ? create_lvm(v, vol, io, &err) : create_file(v, vol, path.buf, io, &err)) <
            0)
            goto fail;
        bytes = vol->size_gb * GIB;
        if (!is_lvm(vol) && vol->source != MODEL_VSRC_NONE && file_size(path.buf, &bytes, &err) < 0)
            goto fail;
        log_info(MOD, "volume '%s' (%" PRId64 " GiB, %s) created in %.1f ms", vol->id, vol->size_gb,
                 vol->backend, (double) (st_mono_ns() - t0) / 1e6);
    }
    /* Exports before the rest: a later failure must not hide them. */
    for (size_t i = 0; i < vol->nexports; i++) {
        const struct model_vol_export *x = &vol->exports[i];
        struct st_buf iqn = ST_BUF_INIT;
        if (ensure_export(v, vol, x, path.buf, &err) < 0)
            goto fail;
        iscsi_iqn(x->attachment_id, &iqn);
        json_array_append_new(exports, json_pack("{s:s, s:s, s:s, s:i, s:s}", "attachment_id",
                                                 x->attachment_id, "portal", v->portal, "iqn",
                                                 iqn.buf, "lun", 1, "format",
                                                 is_lvm(vol) ? "raw" : "qcow2"));
        st_buf_release(&iqn);
    }
    if (bytes < vol->size_gb * GIB && off) {
        state = "error";
    } else if (bytes < vol->size_gb * GIB) {
        if (grow(v, d, vol, path.buf, io, &err) < 0) {
            fault_set(v, vol->id, "volume", &err);
            st_err_clear(&err);
            state = "error";
        } else {
            bytes = vol->size_gb * GIB;
        }
    }
    for (size_t i = 0; i < vol->nsnapshots; i++) {
        const struct model_vol_snapshot *sn = &vol->snapshots[i];
        int64_t sb;
        int h;
        if (sn->delete) {
            if (remove_one(v, vol, "snapshot", sn->id, &err) < 0) {
                fault_set(v, sn->id, "snapshot", &err);
                json_array_append_new(snaps, json_pack("{s:s, s:s, s:o}", "id", sn->id, "state",
                                                       "error", "fault", fault_json(v, sn->id)));
                st_err_clear(&err);
                continue;
            }
            fault_clear(v, sn->id, "snapshot");
            json_array_append_new(snaps, gone(sn->id));
            continue;
        }
        if (backing_off(v, sn->id)) {
            json_array_append_new(snaps, json_pack("{s:s, s:s, s:o}", "id", sn->id, "state",
                                                   "error", "fault", fault_json(v, sn->id)));
            continue;
        }
        h = present(v, vol, "snapshot", sn->id, &sb, &err);
        if (h == 0 && make_snapshot(v, vol, sn->id, &err) == 0) {
            log_info(MOD, "snapshot '%s' of volume '%s' made", sn->id, vol->id);
            h = 1;
        }
        if (h <= 0) {
            fault_set(v, sn->id, "snapshot", &err);
            json_array_append_new(snaps, json_pack("{s:s, s:s, s:o}", "id", sn->id, "state",
                                                   "error", "fault", fault_json(v, sn->id)));
            st_err_clear(&err);
            continue;
        }
        fault_clear(v, sn->id, "snapshot");
        json_array_append_new(snaps,
                              json_pack("{s:s, s:s, s:n}", "id", sn->id, "state", "available",
                                        "fault"));
    }
    if (strcmp(state, "error"))
        fault_clear(v, vol->id, "volume");
    goto report;
fail:
    fault_set(v, vol->id, "volume", &err);
    state = "error";
report:
    if (is_lvm(vol))
        loc = json_pack("{s:s, s:s}", "type", "block", "path", path.buf);
    else
        loc = json_pack("{s:s, s:s, s:s}", "type", "file", "path", path.buf, "format", "qcow2");
    entry = json_pack("{s:s, s:s, s:I, s:o, s:o, s:o, s:o}", "id", vol->id, "state", state, "size",
                      (json_int_t) (bytes ? gb_of(bytes) : 0), "fault", fault_json(v, vol->id),
                      "location", loc, "snapshots", snaps, "exports", exports);
    st_buf_release(&path);
    return entry;
}

/* ------------------------------------------------------------ leftovers */

static bool snapshot_desired(const struct model_desired *d, const char *id)
{
    for (size_t i = 0; i < d->nvolumes; i++) {
        if (d->volumes[i].delete)
            continue;
        for (size_t k = 0; k < d->volumes[i].nsnapshots; k++)
            if (!d->volumes[i].snapshots[k].delete && !strcmp(d->volumes[i].snapshots[k].id, id))
                return true;
    }
    return false;
}

static bool volume_desired(const struct model_desired *d, const char *id)
{
    const struct model_volume *vol = model_find_volume(d, id);
    return vol && !vol->delete;
}

/* 'name' is KIND-<uuid>SUFFIX: the uuid into 'id'. */
static bool name_is(const char *name, const char *kind, const char *suffix, char id[MODEL_ID_MAX])
{
    size_t k = strlen(kind), s = strlen(suffix), n = strlen(name);
    if (n != k + 1 + 36 + s || strncmp(name, kind, k) || name[k] != '-' ||
        strcmp(name + n - s, suffix))
        return false;
    memcpy(id, name + k + 1, 36);
    id[36] = '\0';
    return st_is_uuid(id);
}

static void cleanup_pool(struct volumes *v, const struct model_desired *d)
{
    DIR *dh = opendir(v->pool);
    struct dirent *de;
    struct st_buf p = ST_BUF_INIT;
    char id[MODEL_ID_MAX];
    while (dh && (de = readdir(dh))) {
        bool drop;
        size_t n = strlen(de->d_name);
        if (name_is(de->d_name, "volume", ".qcow2", id))
            drop = !volume_desired(d, id);
        else if (name_is(de->d_name, "snapshot", ".qcow2", id))
            drop = !snapshot_desired(d, id);
        else if (n > 5 && !strcmp(de->d_name + n - 5, ".part") &&
                 (!strncmp(de->d_name, "volume-", 7) || !strncmp(de->d_name, "snapshot-", 9) ||
                  !strncmp(de->d_name, "upload-", 7)))
            drop = true; /* no conversion runs between passes */
        else
            continue;
        if (!drop)
            continue;
        st_buf_reset(&p);
        st_buf_addf(&p, "%s/%s", v->pool, de->d_name);
        if (unlink(p.buf) == 0)
            log_info(MOD, "removed the leftover %s (not desired on this host)", p.buf);
    }
    if (dh)
        closedir(dh);
    st_buf_release(&p);
}

static void cleanup_lvs(struct volumes *v, const struct model_desired *d)
{
    struct st_err err = ST_ERR_INIT;
    char id[MODEL_ID_MAX];
    for (size_t i = 0; i < v->nlvs; i++) {
        const char *n = v->lvs[i].name;
        bool drop;
        if (name_is(n, "volume", "", id))
            drop = !volume_desired(d, id);
        else if (name_is(n, "snapshot", "", id))
            drop = !snapshot_desired(d, id);
        else if (name_is(n, "volume", PART, id) || name_is(n, "snapshot", PART, id))
            drop = true;
        else
            continue;
        if (!drop)
            continue;
        if (vol_lvm_remove(v->vg, n, &err) < 0) {
            if (log_rl_allow(&v->rl))
                log_errorx(MOD, "cannot remove the leftover LV %s/%s: %s", v->vg, n, err.msg);
            st_err_clear(&err);
        } else {
            log_info(MOD, "removed the leftover LV %s/%s", v->vg, n);
        }
    }
}

static bool backup_desired(const struct model_desired *d, const char *id)
{
    for (size_t i = 0; i < d->nbackups; i++)
        if (!strcmp(d->backups[i], id))
            return true;
    return false;
}

static void cleanup_backups(struct volumes *v, const struct model_desired *d)
{
    DIR *dh = opendir(v->backup_dir);
    struct dirent *de;
    struct st_buf p = ST_BUF_INIT;
    char id[MODEL_ID_MAX];
    while (dh && (de = readdir(dh))) {
        size_t n = strlen(de->d_name);
        bool drop;
        if (n > 5 && !strcmp(de->d_name + n - 5, ".part"))
            drop = true;
        else if (name_is(de->d_name, "backup", ".qcow2", id) ||
                 name_is(de->d_name, "backup", ".json", id))
            drop = d->has_backups && !backup_desired(d, id);
        else
            continue;
        if (!drop)
            continue;
        st_buf_reset(&p);
        st_buf_addf(&p, "%s/%s", v->backup_dir, de->d_name);
        if (unlink(p.buf) == 0)
            log_info(MOD, "removed %s (not desired)", p.buf);
    }
    if (dh)
        closedir(dh);
    st_buf_release(&p);
}

/* ------------------------------------------------------------ the pass */

json_t *vol_reconcile(struct volumes *v, const struct model_desired *d, const struct vol_io *io)
{
    json_t *out = json_array();
    struct st_err err = ST_ERR_INIT;
    size_t w = 0;

    if (!v->host_id[0])
        return out;
    for (size_t i = 0; i < v->nfaults; i++)
        v->faults[i].seen = false;
    free(v->targets);
    v->targets = NULL;
    v->ntargets = 0;
    v->targets_ok = false;
    free(v->lvs);
    v->lvs = NULL;
    v->nlvs = 0;
    v->lvs_ok = false;
    if (v->lvm) {
        if (vol_lvm_list(v->vg, v->host_id, &v->lvs, &v->nlvs, &err) == 0) {
            v->lvs_ok = true;
        } else {
            if (log_rl_allow(&v->rl))
                log_errorx(MOD, "lvm: %s", err.msg);
            st_err_clear(&err);
        }
    }
    for (size_t i = 0; i < d->nvolumes; i++)
        json_array_append_new(out, converge(v, d, &d->volumes[i], io));
    if (d->has_volumes) {
        if (v->file)
            cleanup_pool(v, d);
        if (v->lvs_ok)
            cleanup_lvs(v, d);
        cleanup_exports(v, d);
    }
    cleanup_backups(v, d);
    /* Faults of volumes and snapshots no longer desired are forgotten. */
    for (size_t i = 0; i < v->nfaults; i++)
        if (v->faults[i].seen)
            v->faults[w++] = v->faults[i];
    v->nfaults = w;
    return out;
}

/* ------------------------------------------------------------ tasks */

static json_t *task_done(const char *id, json_t *result)
{
    return json_pack("{s:s, s:s, s:o}", "id", id, "status", "done", "result",
                     result ? result : json_object());
}

static json_t *task_failed(struct volumes *v, const struct model_task *t, const struct st_err *e)
{
    if (log_rl_allow(&v->rl))
        log_errorx(MOD, "volume '%s': task '%s' failed: %s", t->volume_id, t->id, e->msg);
    return json_pack("{s:s, s:s, s:s}", "id", t->id, "status", "failed", "error", e->msg);
}

static int sha256_file(const char *path, struct st_buf *hex, struct st_err *err)
{
    unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
    ssize_t n;
    if (fd < 0 || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot read '%s'", path);
        goto out;
    }
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        EVP_DigestUpdate(ctx, buf, (size_t) n);
    if (n < 0 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot read '%s'", path);
        goto out;
    }
    st_hex_encode(md, mdlen, hex);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    EVP_MD_CTX_free(ctx);
    return rc;
}

static json_t *task_backup(struct volumes *v, const struct model_task *t,
                           const struct model_volume *vol)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf src = ST_BUF_INIT, dst = ST_BUF_INIT, part = ST_BUF_INIT, side = ST_BUF_INIT,
                  sum = ST_BUF_INIT, js = ST_BUF_INIT;
    json_t *entry = NULL, *doc = NULL;
    struct stat sb;
    char now[32];

    backing_of(v, vol, "volume", vol->id, &src);
    vol_file_path(v, "backup", t->backup_id, &dst);
    st_buf_addf(&side, "%s/backup-%s.json", v->backup_dir, t->backup_id);
    if (exists(dst.buf) && exists(side.buf)) {
        /* done before the agent was killed: report it again */
        if (st_read_file(side.buf, 1 << 16, &js, &err) < 0 ||
            !(doc = st_json_parse(js.buf, js.len, &err)))
            goto fail;
        entry = task_done(t->id, json_pack("{s:O?, s:O?}", "size", json_object_get(doc, "size"),
                                           "checksum", json_object_get(doc, "checksum")));
        goto out;
    }
    st_buf_addf(&part, "%s.part", dst.buf);
    (void) unlink(part.buf);
    if (vol_qemu_convert(src.buf, is_lvm(vol) ? "raw" : "qcow2", part.buf, "qcow2", true, true,
                         false, &err) < 0 ||
        sha256_file(part.buf, &sum, &err) < 0)
        goto fail;
    if (stat(part.buf, &sb) < 0) {
        st_err_sys(&err, errno, ST_ERR_INTERNAL, "cannot stat '%s'", part.buf);
        goto fail;
    }
    st_time_iso(st_now_us(), 0, now);
    doc = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "id", t->backup_id, "volume_id", vol->id,
                    "size", (json_int_t) sb.st_size, "volume_size", (json_int_t) vol->size_gb,
                    "created_at", now, "checksum", "");
    st_buf_reset(&js);
    json_object_set_new(doc, "checksum", json_sprintf("sha256:%s", sum.buf));
    st_json_dump(doc, &js);
    /* The sidecar first, then the data: a backup file always has its sidecar. */
    if (st_write_file(side.buf, js.buf, js.len, 0600, &err) < 0 ||
        rename_ok(part.buf, dst.buf, &err) < 0)
        goto fail;
    log_info(MOD, "volume '%s' backed up as '%s' (%lld bytes)", vol->id, t->backup_id,
             (long long) sb.st_size);
    entry = task_done(t->id, json_pack("{s:I, s:O}", "size", (json_int_t) sb.st_size, "checksum",
                                       json_object_get(doc, "checksum")));
    goto out;
fail:
    if (part.len)
        (void) unlink(part.buf);
    entry = task_failed(v, t, &err);
out:
    json_decref(doc);
    st_buf_release(&src);
    st_buf_release(&dst);
    st_buf_release(&part);
    st_buf_release(&side);
    st_buf_release(&sum);
    st_buf_release(&js);
    return entry;
}

static json_t *task_restore(struct volumes *v, const struct model_task *t,
                            const struct model_volume *vol)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf src = ST_BUF_INIT, dst = ST_BUF_INIT, part = ST_BUF_INIT;
    json_t *entry;
    int64_t vsize = 0;

    vol_file_path(v, "backup", t->backup_id, &src);
    backing_of(v, vol, "volume", vol->id, &dst);
    if (!exists(src.buf)) {
        st_err_set(&err, ST_ERR_NOT_FOUND, "backup '%s' is not on this host", t->backup_id);
        goto fail;
    }
    if (is_lvm(vol)) {
        if (vol_qemu_convert(src.buf, "qcow2", dst.buf, "raw", false, false, true, &err) < 0)
            goto fail;
    } else {
        st_buf_addf(&part, "%s.part", dst.buf);
        (void) unlink(part.buf);
        if (vol_qemu_convert(src.buf, "qcow2", part.buf, "qcow2", false, false, false, &err) < 0 ||
            file_size(part.buf, &vsize, &err) < 0 ||
            (vsize < vol->size_gb * GIB && vol_qemu_resize(part.buf, vol->size_gb * GIB, &err) < 0) ||
            chmod(part.buf, 0644) < 0 || rename_ok(part.buf, dst.buf, &err) < 0)
            goto fail;
    }
    log_info(MOD, "volume '%s' restored from backup '%s'", vol->id, t->backup_id);
    entry = task_done(t->id, NULL);
    goto out;
fail:
    if (!st_err_is_set(&err))
        st_err_sys(&err, errno, ST_ERR_INTERNAL, "cannot restore into '%s'", dst.buf);
    if (part.len)
        (void) unlink(part.buf);
    entry = task_failed(v, t, &err);
out:
    st_buf_release(&src);
    st_buf_release(&dst);
    st_buf_release(&part);
    return entry;
}

static json_t *task_upload(struct volumes *v, const struct model_task *t,
                           const struct model_volume *vol, const struct vol_io *io)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf src = ST_BUF_INIT, tmp = ST_BUF_INIT;
    json_t *entry;

    backing_of(v, vol, "volume", vol->id, &src);
    st_buf_addf(&tmp, "%s/upload-%s.part", v->file ? v->pool : v->backup_dir, t->image_id);
    (void) unlink(tmp.buf);
    {
        struct st_cmd *c = cmd_new(QEMU_IMG);
        cmd_arg(c, "convert");
        cmd_arg(c, "-q");
        cmd_arg(c, "-U");
        cmd_arg(c, "-f");
        cmd_arg(c, is_lvm(vol) ? "raw" : "qcow2");
        cmd_arg(c, "-O");
        cmd_arg(c, t->disk_format);
        cmd_arg(c, "--");
        cmd_arg(c, src.buf);
        cmd_arg(c, tmp.buf);
        if (run(c, LONG_TIMEOUT, NULL, &err) < 0)
            goto fail;
    }
    if (!io->upload || io->upload(io->opaque, t->image_id, tmp.buf, &err) < 0)
        goto fail;
    log_info(MOD, "volume '%s' uploaded to image '%s' (%s)", vol->id, t->image_id,
             t->disk_format);
    entry = task_done(t->id, NULL);
    goto out;
fail:
    if (!st_err_is_set(&err))
        st_err_set(&err, ST_ERR_INTERNAL, "no upload to the controller");
    entry = task_failed(v, t, &err);
out:
    (void) unlink(tmp.buf);
    st_buf_release(&src);
    st_buf_release(&tmp);
    return entry;
}

json_t *vol_task(struct volumes *v, const struct model_task *t, const struct model_desired *d,
                 const struct vol_io *io)
{
    const struct model_volume *vol = model_find_volume(d, t->volume_id);
    struct st_err err = ST_ERR_INIT;
    if (!vol || vol->delete ||
        present(v, vol, "volume", vol->id, NULL, &err) <= 0) {
        if (!st_err_is_set(&err))
            st_err_set(&err, ST_ERR_NOT_FOUND, "volume '%s' is not on this host", t->volume_id);
        return task_failed(v, t, &err);
    }
    switch (t->kind) {
    case MODEL_TASK_VOLUME_BACKUP:
        return task_backup(v, t, vol);
    case MODEL_TASK_VOLUME_RESTORE:
        return task_restore(v, t, vol);
    case MODEL_TASK_VOLUME_UPLOAD_IMAGE:
        return task_upload(v, t, vol, io);
    default:
        break;
    }
    st_err_set(&err, ST_ERR_INTERNAL, "task '%s' is not a volume task", t->id);
    return task_failed(v, t, &err);
}

/* ------------------------------------------------------------ registration */

json_t *vol_backends(struct volumes *v)
{
    json_t *out = json_array();
    if (v->file) {
        struct statvfs vfs;
        int64_t total = 0, avail = 0;
        if (statvfs(v->pool, &vfs) == 0) {
            total = (int64_t) ((uint64_t) vfs.f_blocks * vfs.f_frsize >> 30);
            avail = (int64_t) ((uint64_t) vfs.f_bavail * vfs.f_frsize >> 30);
        }
        json_array_append_new(out, json_pack("{s:s, s:I, s:I, s:b}", "name", "file", "total_gb",
                                             (json_int_t) total, "free_gb", (json_int_t) avail,
                                             "iscsi", v->iscsi));
    }
    if (v->lvm) {
        struct st_cmd *c = cmd_new("vgs");
        struct st_buf text = ST_BUF_INIT;
        struct st_err err = ST_ERR_INIT;
        long long total = 0, avail = 0;
        cmd_arg(c, "--noheadings");
        cmd_arg(c, "--units");
        cmd_arg(c, "g");
        cmd_arg(c, "--nosuffix");
        cmd_arg(c, "-o");
        cmd_arg(c, "vg_size,vg_free");
        cmd_arg(c, v->vg);
        if (run(c, SHORT_TIMEOUT, &text, &err) == 0) {
            char *end = NULL;
            total = (long long) strtod(text.buf, &end);
            if (end)
                avail = (long long) strtod(end, NULL);
        }
        json_array_append_new(out, json_pack("{s:s, s:I, s:I, s:b}", "name", "lvm", "total_gb",
                                             (json_int_t) total, "free_gb", (json_int_t) avail,
                                             "iscsi", v->iscsi));
        st_buf_release(&text);
    }
    return out;
}

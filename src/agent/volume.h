/*
 * volume.h - the block storage of this host (VOLUMES.md, issue 9): the
 * volumes whose backend is here, their snapshots, backups and iSCSI
 * exports, reconciled from the desired state like servers.
 *
 * Backends:
 *   file  one qcow2 per volume, FILE_POOL/volume-<id>.qcow2 (an exported
 *         one is first made long enough, sparsely, for all its clusters:
 *         tgt serves a file at the length it had when the target was
 *         made); snapshots are standalone copies
 *         FILE_POOL/snapshot-<id>.qcow2 (qemu-img convert -U: no backing
 *         chains, any delete order works).
 *   lvm   thin LVs VG/volume-<id> in the thin pool VG/stratus-pool, thin
 *         snapshots VG/snapshot-<id>, each tagged stratus_host_<host id
 *         without dashes>, so that an agent removes only its own.  This
 *         development kernel has no device-mapper: lvm is exercised by
 *         golden-argv unit tests only (tests/unit/test-agent-volume.c).
 * Backups: BACKUP_DIR/backup-<id>.qcow2 (qemu-img convert -c) and the
 * sidecar backup-<id>.json {volume_id, size, created_at, sha256}.
 *
 * Every file is written to a ".part" name and renamed, LVs are made under
 * "<name>-part" and renamed, and targets are checked complete (iscsi.h):
 * after a SIGKILL at any step the next pass removes the half-made thing
 * and makes it again.  Leftovers -- volume-*, snapshot-*, *.part in the
 * pool, our tagged LVs, our targets (IQN prefix and a sidecar in
 * STATE_DIR/iscsi/ naming this host) -- that no desired volume names are
 * removed, but only when the desired state carries "volumes" at all (a
 * controller that says nothing of volumes deletes nothing).
 *
 * Functions return errors and do not log, except vol_reconcile() and
 * vol_task(), which log once per distinct failure (STYLE §3).
 */
#ifndef ST_AGENT_VOLUME_H
#define ST_AGENT_VOLUME_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/disk.h"
#include "agent/model.h"
#include "agent/virt.h"
#include "common/buf.h"
#include "common/err.h"

struct vol_opts {
    const char *backends;       /* "file,lvm" ([volume] backends) */
    const char *file_pool;      /* absolute */
    const char *backup_dir;     /* absolute */
    const char *lvm_vg;         /* volume group of the lvm backend ("" = none) */
    const char *iscsi_portal;   /* "127.0.0.1:3260" */
    bool iscsi;                 /* attach local volumes over iSCSI too */
    const char *state_dir;      /* absolute: iSCSI sidecars */
    const char *instances_path; /* the image cache (_base) for volumes from images */
};

/* How the volume code reaches the controller and libvirt (borrowed). */
struct vol_io {
    disk_fetch_fn fetch;
    int (*upload)(void *opaque, const char *image_id, const char *path, struct st_err *err);
    void *opaque;
    struct virt *virt; /* block resize of attached volumes; may be NULL */
};

struct volumes;

/* Checks 'opts' (backends known, paths absolute, an lvm backend has a VG)
 * and makes the pool and backup directories.  Strings are copied. */
struct volumes *vol_new(const struct vol_opts *opts, struct st_err *err);
void vol_free(struct volumes *v);
void vol_set_host_id(struct volumes *v, const char *host_id);
/* Whether local attachments go over iSCSI ([volume] iscsi). */
bool vol_iscsi_local(const struct volumes *v);

/* The "volume_backends" of registration: [{"name", "total_gb", "free_gb",
 * "iscsi"}] (new reference). */
json_t *vol_backends(struct volumes *v);

/* One pass over the volumes of 'd'.  Returns the report's "volumes"
 * (new reference). */
json_t *vol_reconcile(struct volumes *v, const struct model_desired *d, const struct vol_io *io);

/* Runs volume task 't' (model_task_is_volume()).  Returns the task's
 * report entry (new reference). */
json_t *vol_task(struct volumes *v, const struct model_task *t, const struct model_desired *d,
                 const struct vol_io *io);

/* ---- argv builders, exported for golden tests (cmd_set_dry_run) ---- */

/* Paths: FILE_POOL/volume-<id>.qcow2, FILE_POOL/snapshot-<id>.qcow2,
 * /dev/VG/volume-<id>, BACKUP_DIR/backup-<id>.qcow2. */
void vol_file_path(const struct volumes *v, const char *kind, const char *id, struct st_buf *out);
void vol_lv_path(const struct volumes *v, const char *name, struct st_buf *out);

/* qemu-img: an empty qcow2 of 'bytes' at 'path'. */
int vol_qemu_create(const char *path, int64_t bytes, struct st_err *err)
    __attribute__((warn_unused_result));
/* qemu-img convert of 'src' (format 'sfmt') to 'dst' (format 'dfmt');
 * 'share' reads with -U (a guest may have it open), 'compress' -c,
 * 'existing' writes into an existing target (-n: an LV). */
int vol_qemu_convert(const char *src, const char *sfmt, const char *dst, const char *dfmt,
                     bool share, bool compress, bool existing, struct st_err *err)
    __attribute__((warn_unused_result));
/* qemu-img resize of the qcow2 'path' to 'bytes' (grow only). */
int vol_qemu_resize(const char *path, int64_t bytes, struct st_err *err)
    __attribute__((warn_unused_result));

/* lvm: thin LV 'name' of 'gb' GiB in VG/stratus-pool tagged for 'host_id';
 * a thin snapshot 'name' of 'origin'; rename; grow; remove. */
int vol_lvm_create(const char *vg, const char *name, int64_t gb, const char *host_id,
                   struct st_err *err) __attribute__((warn_unused_result));
int vol_lvm_snapshot(const char *vg, const char *origin, const char *name, const char *host_id,
                     struct st_err *err) __attribute__((warn_unused_result));
int vol_lvm_rename(const char *vg, const char *from, const char *to, struct st_err *err)
    __attribute__((warn_unused_result));
int vol_lvm_extend(const char *vg, const char *name, int64_t gb, struct st_err *err)
    __attribute__((warn_unused_result));
int vol_lvm_remove(const char *vg, const char *name, struct st_err *err)
    __attribute__((warn_unused_result));
/* The LVs of 'vg' tagged for 'host_id': parses `lvs` output (pure). */
struct vol_lv {
    char name[128];
    int64_t bytes;
};
int vol_lvm_parse_lvs(const char *text, const char *host_id, struct vol_lv **out, size_t *n,
                      struct st_err *err) __attribute__((warn_unused_result));
int vol_lvm_list(const char *vg, const char *host_id, struct vol_lv **out, size_t *n,
                 struct st_err *err) __attribute__((warn_unused_result));

#endif

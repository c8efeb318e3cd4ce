/*
 * disk.h - the files under an instances path that hold guest data: the
 * image cache (_base/) and the disks made from it, all through qemu-img
 * (spawn.h, argv only).
 *
 * The cache: one file per image, _base/<image id>, downloaded to
 * _base/<image id>.part and renamed into place once its MD5 matched (a
 * killed download leaves only a .part file, which disk_base_cleanup()
 * removes).  Raw and qcow2 images are kept as they are; a qcow2 image must
 * stand alone (no backing file, no external data file).  Kernels and
 * ramdisks (aki, ari) are kept as plain files.  Other disk formats are
 * refused: the controller converts nothing, and qemu-img is never left to
 * guess a format from user data (every call passes -f / -F).
 * Ephemeral and swap disks have their own formatted bases,
 * _base/ephemeral_<N>G_ext4 and _base/swap_<N>M, made once per size.
 *
 * Every create writes a temporary name and renames, so a crash leaves
 * either nothing or the complete file.
 */
#ifndef ST_AGENT_DISK_H
#define ST_AGENT_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/model.h"
#include "common/buf.h"
#include "common/err.h"

#define DISK_BASE_DIR "_base"

/* Fetches image 'img' into the new file 'path' (which the function must
 * create), checking its checksum; removes 'path' on failure. */
typedef int (*disk_fetch_fn)(void *opaque, const struct model_image *img, const char *path,
                             struct st_err *err);

/* The qemu-img format name of the cached file of 'img' ("raw" or "qcow2"),
 * or NULL when the agent cannot use that disk format. */
const char *disk_base_format(const struct model_image *img);
/* Appends INSTANCES/_base/NAME to 'out'. */
void disk_base_path(const char *instances_path, const char *name, struct st_buf *out);

/* Makes sure _base/<img->id> exists: fetches it when missing, checks a
 * qcow2 for backing or data files, renames it into place.  'kind_disk' is
 * false for kernels and ramdisks (kept as they are, never inspected).
 * Appends the cached path to 'path_out'. */
int disk_base_ensure(const char *instances_path, const struct model_image *img, bool kind_disk,
                     disk_fetch_fn fetch, void *opaque, struct st_buf *path_out, struct st_err *err)
    __attribute__((warn_unused_result));

/* The virtual size of the image at 'path' in format 'fmt' (bytes), and
 * whether it refers to other files (backing file or external data file). */
int disk_info(const char *path, const char *fmt, int64_t *virtual_size, bool *has_refs,
              struct st_err *err) __attribute__((warn_unused_result));

/* Creates 'path' as a qcow2 overlay of 'base' (format 'base_fmt'), grown to
 * 'size' bytes when that is larger than the base (0: the base's size).
 * Fails with BAD_REQUEST when 'size' is non-zero and smaller than the
 * image (the flavor's disk is too small).  Replaces an existing 'path'. */
int disk_create_overlay(const char *path, const char *base, const char *base_fmt, int64_t size,
                        struct st_err *err) __attribute__((warn_unused_result));
/* Grows the qcow2 image 'path' to 'size' bytes; never shrinks. */
int disk_grow(const char *path, int64_t size, struct st_err *err)
    __attribute__((warn_unused_result));

/* Ephemeral disk of 'gb' GiB at 'path': a qcow2 overlay of the cached
 * ext4 file system labelled "ephemeral0" (as Nova formats it). */
int disk_create_ephemeral(const char *instances_path, const char *path, int64_t gb,
                          struct st_err *err) __attribute__((warn_unused_result));
/* Swap disk of 'mb' MiB at 'path': a qcow2 overlay of a cached mkswap'd file. */
int disk_create_swap(const char *instances_path, const char *path, int64_t mb, struct st_err *err)
    __attribute__((warn_unused_result));
/* The cache names the ephemeral and swap bases use, for disk_base_cleanup. */
void disk_ephemeral_name(int64_t gb, struct st_buf *out);
void disk_swap_name(int64_t mb, struct st_buf *out);

/* A standalone qcow2 copy of the qcow2 image 'src' (backing chain
 * flattened) at 'dst', for snapshots.  Reads with --force-share: the caller
 * pauses a running guest for the copy. */
int disk_flatten(const char *src, const char *dst, struct st_err *err)
    __attribute__((warn_unused_result));
/* A file copy of 'src' at 'dst' (sparse, via a temporary name): the
 * resize backup, still an overlay of the same base. */
int disk_copy(const char *src, const char *dst, struct st_err *err)
    __attribute__((warn_unused_result));

/* Points the qcow2 image 'path' at the backing file 'base' (format
 * 'base_fmt') without touching its data (qemu-img rebase -u): a disk
 * copied from another host whose base, the same image, lives at another
 * path here. */
int disk_rebase_unsafe(const char *path, const char *base, const char *base_fmt,
                       struct st_err *err) __attribute__((warn_unused_result));

/* Removes what the cache holds that nobody needs: every *.part and *.tmp
 * file, and each base whose name is not in 'in_use' and whose modification
 * time is older than 'grace_s' seconds.  The bases in use get their
 * modification time set to now (so the grace period counts from their last
 * use).  '*removed' (may be NULL) gets the number of bases removed. */
int disk_base_cleanup(const char *instances_path, const char *const *in_use, size_t n_in_use,
                      int64_t grace_s, int *removed, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

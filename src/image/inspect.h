/*
 * inspect.h - the image format inspector: what an uploaded image really is,
 * and whether it may become usable (Glance's format_inspector, with the
 * checks Nova and Cinder make before handing an image to qemu).
 *
 * The image service (image/image.c) calls image_inspect_fd() on every
 * finished upload and then image_check() with the image's declared
 * disk_format.  The danger it guards against: a qcow2, vmdk, vhdx or qed
 * header can name other files (a backing file, an external data file,
 * descriptor extents), and a qemu that opens the image would then read or
 * write those files of the host.  So every uploaded image must be what its
 * disk_format says, and a disk format must not refer to any other file.
 *
 * The inspector is a parser of untrusted bytes: every read is bounds-checked
 * against the reader's size, offsets and sizes taken from the image are
 * checked for overflow, loops are bounded, nothing recurses, and memory is
 * allocated only up to a fixed cap (the 1 MiB of a vmdk descriptor that
 * qemu itself would read).  It is fuzzed by tests/fuzz/fuzz-inspect.c.
 *
 * Where qemu and the file format's specification disagree, the inspector
 * follows qemu: it is what will open the image.
 */
#ifndef ST_INSPECT_H
#define ST_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum image_format {
    IMAGE_FMT_UNKNOWN, /* not inspected, or it could not be read */
    IMAGE_FMT_RAW,     /* nothing recognised: a raw disk */
    IMAGE_FMT_QCOW2,
    IMAGE_FMT_VMDK,    /* sparse (KDMV, COWD) or a text descriptor file */
    IMAGE_FMT_VDI,
    IMAGE_FMT_VHD,     /* "vpc" to qemu: dynamic, differencing or fixed */
    IMAGE_FMT_VHDX,
    IMAGE_FMT_ISO,     /* ISO 9660 or UDF */
    IMAGE_FMT_KERNEL,  /* Glance "aki": x86 bzImage, ELF vmlinux, arm64 Image */
    IMAGE_FMT_RAMDISK, /* Glance "ari": cpio, or gzip/xz/zstd/lz4/bzip2 data */
    /* Disk formats qemu opens that no disk_format of ours names.  They are
     * recognised so that they are never accepted as raw (qed has backing
     * files, as qcow2). */
    IMAGE_FMT_QED,
    IMAGE_FMT_LUKS,
};

/* Random access to the bytes being inspected (a file, or a buffer in tests
 * and fuzzing). */
struct image_reader {
    /* Reads up to 'len' bytes at 'off' into 'buf'.  Returns the number of
     * bytes read (short only at the end of the data) or -1 with errno set.
     * The inspector never asks for bytes beyond 'size'. */
    int (*read_at)(void *ctx, uint64_t off, void *buf, size_t len);
    void *ctx;
    uint64_t size; /* total size in bytes */
};

struct image_info {
    enum image_format format; /* what the content is */
    uint64_t virtual_size;    /* guest-visible size in bytes (raw, kernel,
                                 ramdisk: the file size); at most INT64_MAX */
    bool has_backing_file;    /* qcow2/qed backing file, vhdx parent locator,
                                 vhd differencing disk, vmdk parent */
    bool has_data_file;       /* qcow2 external data file (incompatible
                                 feature bit or header extension) */
    bool has_foreign_extents; /* vmdk descriptor extents naming other files */
    bool encrypted;           /* qcow2 crypt_method set, or luks */
    bool malformed;           /* claims 'format' but breaks its rules:
                                 truncated, out of range, ambiguous,
                                 unknown incompatible features */
    char problem[192];        /* why, when 'malformed': "qcow2 header is
                                 truncated"; else "" */
    char subformat[32];       /* vmdk createType, vhd/vdi disk type; "" */
    char detail[256];         /* e.g. "qcow2 version 3, cluster size 65536" */
};

/* Inspects the bytes of 'r' and fills 'out' entirely.
 * Returns 0 for content that is well formed for what it is (including raw).
 * Returns -1 with ST_ERR_BAD_REQUEST when the content claims a format but
 * is malformed: 'out' is then filled too, with out->malformed set and the
 * reason in out->problem (the error message is the same text).  Returns -1
 * with ST_ERR_INTERNAL when the bytes cannot be read: out->format is then
 * IMAGE_FMT_UNKNOWN and out->malformed is set.  Either way, image_check()
 * on 'out' refuses it, so a caller that ignores the result fails closed. */
int image_inspect(const struct image_reader *r, struct image_info *out, struct st_err *err)
    __attribute__((warn_unused_result));
/* image_inspect() on an open regular file, read with pread (the file offset
 * is not moved) and sized with fstat. */
int image_inspect_fd(int fd, struct image_info *out, struct st_err *err)
    __attribute__((warn_unused_result));
/* image_inspect() on 'len' bytes at 'buf' (not copied, not kept). */
int image_inspect_buf(const void *buf, size_t len, struct image_info *out, struct st_err *err)
    __attribute__((warn_unused_result));

/* The Glance disk_format name of 'f' ("qcow2", "vhd", "aki" for a kernel,
 * "ari" for a ramdisk, "unknown"); a static string, never NULL. */
const char *image_format_name(enum image_format f);

/* Checks the inspected content 'info' against the declared Glance
 * 'disk_format' (raw, qcow2, vmdk, vdi, vhd, vhdx, iso, aki, ari, ami) and
 * the safety rules.  Returns 0 if the image is acceptable; else -1 with
 * ST_ERR_BAD_REQUEST and a message such as "Image content is qcow2 but
 * disk_format is raw", "qcow2 images with a backing file are not allowed",
 * "qcow2 images with an external data file are not allowed", "vmdk
 * descriptor refers to other files" or "qcow2 header is truncated".
 * raw and ami accept anything that is not a structured disk format (an ISO,
 * kernel or ramdisk stored as raw is fine, as in Nova); ari accepts a
 * ramdisk or unrecognised content; aki needs a kernel, iso an ISO, and the
 * disk formats themselves.  vmdk must be monolithicSparse or
 * streamOptimized. */
int image_check(const struct image_info *info, const char *disk_format, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

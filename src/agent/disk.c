/* disk.c - the image cache and the disks made from it (see disk.h). */
#include "agent/disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

#define QEMU_IMG "qemu-img"
#define SHORT_TIMEOUT 120       /* info, create, resize, mkfs */
#define LONG_TIMEOUT (6 * 3600) /* convert, copy */
#define GIB (INT64_C(1) << 30)
#define MIB (INT64_C(1) << 20)

/* Glance disk_format -> the qemu-img format the agent reads it as, and
 * whether the cache keeps it as it is (else it is converted to qcow2). */
static const struct {
    const char *glance, *qemu;
    bool keep;
} formats[] = {
    {"raw", "raw", true},  {"qcow2", "qcow2", true}, {"ami", "raw", true},    {"aki", "raw", true},
    {"ari", "raw", true},  {"iso", "raw", true},     {"vmdk", "vmdk", false}, {"vdi", "vdi", false},
    {"vhd", "vpc", false}, {"vhdx", "vhdx", false},
};

static int format_index(const char *glance)
{
    for (size_t i = 0; i < ST_ARRAY_SIZE(formats); i++)
        if (!strcmp(formats[i].glance, glance))
            return (int) i;
    return -1;
}

const char *disk_base_format(const struct model_image *img)
{
    int i = format_index(img->disk_format);
    if (i < 0)
        return NULL;
    return formats[i].keep ? formats[i].qemu : "qcow2";
}

void disk_base_path(const char *instances_path, const char *name, struct st_buf *out)
{
    st_buf_addf(out, "%s/" DISK_BASE_DIR "/%s", instances_path, name);
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int run(struct st_cmd *cmd, int timeout, struct st_buf *out, struct st_err *err)
{
    int rc;
    cmd_set_timeout(cmd, timeout);
    rc = cmd_run(cmd, out, NULL, NULL, err);
    cmd_free(cmd);
    return rc;
}

static int mkdir_base(const char *instances_path, struct st_err *err)
{
    struct st_buf dir = ST_BUF_INIT;
    int rc;
    st_buf_addf(&dir, "%s/" DISK_BASE_DIR, instances_path);
    rc = st_mkdir_p(dir.buf, 0755, err);
    st_buf_release(&dir);
    return rc;
}

int disk_info(const char *path, const char *fmt, int64_t *virtual_size, bool *has_refs,
              struct st_err *err)
{
    struct st_cmd *cmd = cmd_new(QEMU_IMG);
    struct st_buf out = ST_BUF_INIT;
    struct st_err perr = ST_ERR_INIT;
    json_t *doc = NULL, *v, *spec, *data;
    int rc = -1;

    cmd_arg(cmd, "info");
    /* Read-only, and the image may be open in a running guest (or be the
     * backing file of one): do not ask for QEMU's write lock. */
    cmd_arg(cmd, "-U");
    cmd_arg(cmd, "-f");
    cmd_arg(cmd, fmt);
    cmd_arg(cmd, "--output=json");
    cmd_arg(cmd, "--");
    cmd_arg(cmd, path);
    if (run(cmd, SHORT_TIMEOUT, &out, err) < 0)
        goto out;
    doc = st_json_parse(out.buf, out.len, &perr);
    v = json_object_get(doc, "virtual-size");
    if (!doc || !json_is_integer(v) || json_integer_value(v) < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "qemu-img info of '%s': unexpected output", path);
        goto out;
    }
    if (virtual_size)
        *virtual_size = json_integer_value(v);
    if (has_refs) {
        *has_refs = json_object_get(doc, "backing-filename") != NULL ||
                    json_object_get(doc, "full-backing-filename") != NULL;
        spec = json_object_get(doc, "format-specific");
        data = json_object_get(spec, "data");
        if (json_object_get(data, "data-file"))
            *has_refs = true;
        /* vmdk: every extent must be the file itself. */
        if (json_is_array(json_object_get(data, "extents"))) {
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(data, "extents"), i, e)
            {
                const char *fn = json_string_value(json_object_get(e, "filename"));
                if (!fn || strcmp(fn, path))
                    *has_refs = true;
            }
        }
    }
    rc = 0;
out:
    json_decref(doc);
    st_buf_release(&out);
    return rc;
}

int disk_base_ensure(const char *instances_path, const struct model_image *img, bool kind_disk,
                     disk_fetch_fn fetch, void *opaque, struct st_buf *path_out, struct st_err *err)
{
    struct st_buf base = ST_BUF_INIT, part = ST_BUF_INIT, conv = ST_BUF_INIT;
    int fi = format_index(img->disk_format);
    int rc = -1;

    if (!st_is_uuid(img->id)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid image id '%s'", img->id);
        return -1;
    }
    if (fi < 0 ||
        (kind_disk && (!strcmp(img->disk_format, "aki") || !strcmp(img->disk_format, "ari")))) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "image '%s' has disk format '%s', which cannot be %s",
                   img->id, img->disk_format, kind_disk ? "a disk" : "used");
        return -1;
    }
    disk_base_path(instances_path, img->id, &base);
    if (is_file(base.buf))
        goto done;
    if (mkdir_base(instances_path, err) < 0)
        goto out;
    st_buf_addf(&part, "%s.part", base.buf);
    if (fetch(opaque, img, part.buf, err) < 0)
        goto out;
    if (kind_disk && strcmp(formats[fi].qemu, "raw")) {
        bool refs = false;
        if (disk_info(part.buf, formats[fi].qemu, NULL, &refs, err) < 0)
            goto fail;
        if (refs) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "image '%s' (%s) refers to other files (backing file, data file or "
                       "extents): refused",
                       img->id, img->disk_format);
            goto fail;
        }
        if (!formats[fi].keep) {
            struct st_cmd *cmd = cmd_new(QEMU_IMG);
            st_buf_addf(&conv, "%s.tmp", base.buf);
            cmd_arg(cmd, "convert");
            cmd_arg(cmd, "-q");
            cmd_arg(cmd, "-f");
            cmd_arg(cmd, formats[fi].qemu);
            cmd_arg(cmd, "-O");
            cmd_arg(cmd, "qcow2");
            cmd_arg(cmd, "--");
            cmd_arg(cmd, part.buf);
            cmd_arg(cmd, conv.buf);
            if (run(cmd, LONG_TIMEOUT, NULL, err) < 0) {
                unlink(conv.buf);
                goto fail;
            }
            unlink(part.buf);
            st_buf_reset(&part);
            st_buf_add(&part, conv.buf, conv.len);
        }
    }
    if (chmod(part.buf, 0644) < 0 || rename(part.buf, base.buf) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot move '%s' into place", part.buf);
        goto fail;
    }
done:
    st_buf_add(path_out, base.buf, base.len);
    rc = 0;
    goto out;
fail:
    unlink(part.buf);
out:
    st_buf_release(&base);
    st_buf_release(&part);
    st_buf_release(&conv);
    return rc;
}

/* Removes 'path' and renames 'tmp' onto it; on failure removes 'tmp'. */
static int commit(const char *tmp, const char *path, struct st_err *err)
{
    if (rename(tmp, path) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot rename '%s' to '%s'", tmp, path);
        unlink(tmp);
        return -1;
    }
    return 0;
}

int disk_create_overlay(const char *path, const char *base, const char *base_fmt, int64_t size,
                        struct st_err *err)
{
    struct st_buf tmp = ST_BUF_INIT;
    struct st_cmd *cmd;
    int64_t vsize = 0;
    int rc = -1;

    if (disk_info(base, base_fmt, &vsize, NULL, err) < 0)
        return -1;
    if (size > 0 && size < vsize) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "the flavor's disk (%" PRId64 " bytes) is smaller than the image (%" PRId64
                   " bytes)",
                   size, vsize);
        return -1;
    }
    st_buf_addf(&tmp, "%s.tmp", path);
    (void) unlink(tmp.buf);
    cmd = cmd_new(QEMU_IMG);
    cmd_arg(cmd, "create");
    cmd_arg(cmd, "-q");
    cmd_arg(cmd, "-f");
    cmd_arg(cmd, "qcow2");
    cmd_arg(cmd, "-F");
    cmd_arg(cmd, base_fmt);
    cmd_arg(cmd, "-b");
    cmd_arg(cmd, base);
    cmd_arg(cmd, "--");
    cmd_arg(cmd, tmp.buf);
    if (size > vsize)
        cmd_argf(cmd, "%" PRId64, size);
    if (run(cmd, SHORT_TIMEOUT, NULL, err) < 0) {
        unlink(tmp.buf);
        goto out;
    }
    if (chmod(tmp.buf, 0644) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot set the mode of '%s'", tmp.buf);
        unlink(tmp.buf);
        goto out;
    }
    rc = commit(tmp.buf, path, err);
out:
    st_buf_release(&tmp);
    return rc;
}

int disk_grow(const char *path, int64_t size, struct st_err *err)
{
    struct st_cmd *cmd;
    int64_t vsize = 0;
    if (disk_info(path, "qcow2", &vsize, NULL, err) < 0)
        return -1;
    if (size <= vsize)
        return 0;
    cmd = cmd_new(QEMU_IMG);
    cmd_arg(cmd, "resize");
    cmd_arg(cmd, "-q");
    cmd_arg(cmd, "-f");
    cmd_arg(cmd, "qcow2");
    cmd_arg(cmd, "--");
    cmd_arg(cmd, path);
    cmd_argf(cmd, "%" PRId64, size);
    return run(cmd, SHORT_TIMEOUT, NULL, err);
}

int disk_rebase_unsafe(const char *path, const char *base, const char *base_fmt,
                       struct st_err *err)
{
    struct st_cmd *cmd = cmd_new(QEMU_IMG);
    cmd_arg(cmd, "rebase");
    cmd_arg(cmd, "-q");
    cmd_arg(cmd, "-u");
    cmd_arg(cmd, "-f");
    cmd_arg(cmd, "qcow2");
    cmd_arg(cmd, "-F");
    cmd_arg(cmd, base_fmt);
    cmd_arg(cmd, "-b");
    cmd_arg(cmd, base);
    cmd_arg(cmd, "--");
    cmd_arg(cmd, path);
    return run(cmd, SHORT_TIMEOUT, NULL, err);
}

void disk_ephemeral_name(int64_t gb, struct st_buf *out)
{
    st_buf_addf(out, "ephemeral_%" PRId64 "G_ext4", gb);
}

void disk_swap_name(int64_t mb, struct st_buf *out)
{
    st_buf_addf(out, "swap_%" PRId64 "M", mb);
}

/* Makes the cached base 'name' of 'bytes' bytes with 'prog' (argv: prog,
 * its arguments, then the file), unless it exists. */
static int formatted_base(const char *instances_path, const char *name, int64_t bytes,
                          const char *const *argv, struct st_buf *path_out, struct st_err *err)
{
    struct st_buf base = ST_BUF_INIT, tmp = ST_BUF_INIT;
    struct st_cmd *cmd;
    int fd, rc = -1;

    disk_base_path(instances_path, name, &base);
    if (is_file(base.buf))
        goto done;
    if (mkdir_base(instances_path, err) < 0)
        goto out;
    st_buf_addf(&tmp, "%s.tmp", base.buf);
    fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || ftruncate(fd, bytes) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create '%s'", tmp.buf);
        if (fd >= 0)
            close(fd);
        unlink(tmp.buf);
        goto out;
    }
    close(fd);
    cmd = cmd_new(argv[0]);
    for (size_t i = 1; argv[i]; i++)
        cmd_arg(cmd, argv[i]);
    cmd_arg(cmd, tmp.buf);
    if (run(cmd, SHORT_TIMEOUT, NULL, err) < 0) {
        unlink(tmp.buf);
        goto out;
    }
    if (commit(tmp.buf, base.buf, err) < 0)
        goto out;
done:
    st_buf_add(path_out, base.buf, base.len);
    rc = 0;
out:
    st_buf_release(&base);
    st_buf_release(&tmp);
    return rc;
}

int disk_create_ephemeral(const char *instances_path, const char *path, int64_t gb,
                          struct st_err *err)
{
    static const char *const mkfs[] = {"mkfs.ext4",  "-q", "-F", "-L",
                                       "ephemeral0", "-m", "0",  NULL};
    struct st_buf name = ST_BUF_INIT, base = ST_BUF_INIT;
    int rc = -1;
    disk_ephemeral_name(gb, &name);
    if (formatted_base(instances_path, name.buf, gb * GIB, mkfs, &base, err) == 0)
        rc = disk_create_overlay(path, base.buf, "raw", 0, err);
    st_buf_release(&name);
    st_buf_release(&base);
    return rc;
}

int disk_create_swap(const char *instances_path, const char *path, int64_t mb, struct st_err *err)
{
    static const char *const mkswap[] = {"mkswap", "-q", NULL};
    struct st_buf name = ST_BUF_INIT, base = ST_BUF_INIT;
    int rc = -1;
    disk_swap_name(mb, &name);
    if (formatted_base(instances_path, name.buf, mb * MIB, mkswap, &base, err) == 0)
        rc = disk_create_overlay(path, base.buf, "raw", 0, err);
    st_buf_release(&name);
    st_buf_release(&base);
    return rc;
}

int disk_flatten(const char *src, const char *dst, struct st_err *err)
{
    struct st_buf tmp = ST_BUF_INIT;
    struct st_cmd *cmd = cmd_new(QEMU_IMG);
    int rc = -1;
    st_buf_addf(&tmp, "%s.tmp", dst);
    (void) unlink(tmp.buf);
    cmd_arg(cmd, "convert");
    cmd_arg(cmd, "-q");
    cmd_arg(cmd, "-U");
    cmd_arg(cmd, "-f");
    cmd_arg(cmd, "qcow2");
    cmd_arg(cmd, "-O");
    cmd_arg(cmd, "qcow2");
    cmd_arg(cmd, "--");
    cmd_arg(cmd, src);
    cmd_arg(cmd, tmp.buf);
    if (run(cmd, LONG_TIMEOUT, NULL, err) < 0) {
        unlink(tmp.buf);
        goto out;
    }
    rc = commit(tmp.buf, dst, err);
out:
    st_buf_release(&tmp);
    return rc;
}

int disk_copy(const char *src, const char *dst, struct st_err *err)
{
    struct st_buf tmp = ST_BUF_INIT;
    struct st_cmd *cmd = cmd_new("cp");
    int rc = -1;
    st_buf_addf(&tmp, "%s.tmp", dst);
    (void) unlink(tmp.buf);
    cmd_arg(cmd, "--sparse=always");
    cmd_arg(cmd, "--reflink=auto");
    cmd_arg(cmd, "--");
    cmd_arg(cmd, src);
    cmd_arg(cmd, tmp.buf);
    if (run(cmd, LONG_TIMEOUT, NULL, err) < 0) {
        unlink(tmp.buf);
        goto out;
    }
    rc = commit(tmp.buf, dst, err);
out:
    st_buf_release(&tmp);
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

int disk_base_cleanup(const char *instances_path, const char *const *in_use, size_t n_in_use,
                      int64_t grace_s, int *removed, struct st_err *err)
{
    struct st_buf dir = ST_BUF_INIT;
    struct dirent *de;
    DIR *d;
    time_t now = time(NULL);
    int rc = -1, count = 0;

    if (removed)
        *removed = 0;
    st_buf_addf(&dir, "%s/" DISK_BASE_DIR, instances_path);
    d = opendir(dir.buf);
    if (!d) {
        rc = errno == ENOENT ? 0 : -1;
        if (rc < 0)
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot list '%s'", dir.buf);
        goto out;
    }
    while ((de = readdir(d))) {
        struct stat sb;
        bool used = false;
        if (de->d_name[0] == '.')
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            continue;
        if (ends_with(de->d_name, ".part") || ends_with(de->d_name, ".tmp")) {
            (void) unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        for (size_t i = 0; i < n_in_use && !used; i++)
            used = !strcmp(in_use[i], de->d_name);
        if (used) {
            (void) utimensat(dirfd(d), de->d_name, NULL, AT_SYMLINK_NOFOLLOW);
            continue;
        }
        if ((int64_t) (now - sb.st_mtime) >= grace_s && unlinkat(dirfd(d), de->d_name, 0) == 0)
            count++;
    }
    closedir(d);
    if (removed)
        *removed = count;
    rc = 0;
out:
    st_buf_release(&dir);
    return rc;
}

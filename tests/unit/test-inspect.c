/* test-inspect.c - the image format inspector (image/inspect.h) on real
 * images that qemu-img and genisoimage make at test time, on images patched
 * into hostile shapes (backing files, data files, descriptors naming host
 * files, truncated headers), and the disk_format verdicts of image_check(). */
#include "testutil.h"

#include <fcntl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/spawn.h"
#include "common/util.h"
#include "image/inspect.h"
#include "common/banned.h"

#define MIB (1024ull * 1024ull)
#define IMG_MAX (64u << 20) /* largest file the tests read into memory */

static char *tmpdir;    /* made before the tests run, removed after */
static bool have_qemu;  /* qemu-img runs */
static bool have_mkiso; /* genisoimage runs */

static const char *const all_formats[] = {"raw", "qcow2", "vmdk", "vdi", "vhd",
                                          "vhdx", "iso", "aki", "ari", "ami"};

/* ---- helpers --------------------------------------------------------------- */

static bool runs(const char *prog, const char *arg)
{
    struct st_err err = ST_ERR_INIT;
    struct st_cmd *cmd = cmd_new(prog);
    int rc;
    cmd_arg(cmd, arg);
    cmd_set_timeout(cmd, 30);
    rc = cmd_run(cmd, NULL, NULL, NULL, &err);
    cmd_free(cmd);
    return rc == 0;
}

static int setup(void)
{
    tmpdir = tu_mkdtemp();
    if (!tmpdir)
        return -1;
    have_qemu = runs("qemu-img", "--version");
    have_mkiso = runs("genisoimage", "-version");
    return 0;
}

static void teardown(void)
{
    tu_rmrf(tmpdir);
    free(tmpdir);
    tmpdir = NULL;
}

/* The path of 'name' in the test directory; a static buffer per call slot. */
static const char *path_of(const char *name)
{
    static char paths[4][4096];
    static int slot;
    char *p = paths[slot++ % 4];
    assert_true(st_snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name) >= 0);
    return p;
}

static void need_qemu(void)
{
    if (!have_qemu)
        skip();
}

/* "qemu-img create -f FMT [OPTIONS...] PATH SIZE", options NULL-ended. */
static const char *create(const char *name, const char *fmt, const char *size, ...)
{
    struct st_err err = ST_ERR_INIT;
    const char *path = path_of(name);
    struct st_cmd *cmd = cmd_new("qemu-img");
    va_list ap;
    int rc;
    cmd_arg(cmd, "create");
    cmd_arg(cmd, "-q");
    cmd_arg(cmd, "-f");
    cmd_arg(cmd, fmt);
    va_start(ap, size);
    for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
        cmd_arg(cmd, a);
    va_end(ap);
    cmd_arg(cmd, path);
    if (size)
        cmd_arg(cmd, size);
    cmd_set_timeout(cmd, 60);
    rc = cmd_run(cmd, NULL, NULL, NULL, &err);
    cmd_free(cmd);
    if (rc < 0)
        fail_msg("%s", err.msg);
    return path;
}

/* What qemu-img info says the virtual size of 'path' read as 'fmt' is. */
static uint64_t qemu_vsize(const char *path, const char *fmt)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf out = ST_BUF_INIT;
    struct st_cmd *cmd = cmd_new("qemu-img");
    json_t *j, *v;
    uint64_t size;
    int rc;
    cmd_arg(cmd, "info");
    cmd_arg(cmd, "--output=json");
    cmd_arg(cmd, "-f");
    cmd_arg(cmd, fmt);
    cmd_arg(cmd, path);
    cmd_set_timeout(cmd, 60);
    rc = cmd_run(cmd, &out, NULL, NULL, &err);
    cmd_free(cmd);
    if (rc < 0)
        fail_msg("%s", err.msg);
    j = json_loads(out.buf, 0, NULL);
    assert_non_null(j);
    v = json_object_get(j, "virtual-size");
    assert_true(json_is_integer(v));
    size = (uint64_t) json_integer_value(v);
    json_decref(j);
    st_buf_release(&out);
    return size;
}

static void read_whole(const char *path, struct st_buf *b)
{
    struct st_err err = ST_ERR_INIT;
    if (st_read_file(path, IMG_MAX, b, &err) < 0)
        fail_msg("%s", err.msg);
}

static void write_whole(const char *path, const void *data, size_t len)
{
    struct st_err err = ST_ERR_INIT;
    if (st_write_file(path, data, len, 0644, &err) < 0)
        fail_msg("%s", err.msg);
}

static bool same_info(const struct image_info *a, const struct image_info *b)
{
    return a->format == b->format && a->virtual_size == b->virtual_size &&
           a->has_backing_file == b->has_backing_file && a->has_data_file == b->has_data_file &&
           a->has_foreign_extents == b->has_foreign_extents && a->encrypted == b->encrypted &&
           a->malformed == b->malformed && !strcmp(a->problem, b->problem) &&
           !strcmp(a->subformat, b->subformat) && !strcmp(a->detail, b->detail);
}

/* Inspects 'path' through a file descriptor and, for files that fit in
 * memory, through a buffer too: both readers must give the same answer.
 * Returns image_inspect_fd()'s result. */
static int inspect_path(const char *path, struct image_info *info, struct st_err *err)
{
    struct image_info again;
    struct st_err err2 = ST_ERR_INIT;
    struct st_buf b = ST_BUF_INIT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc, rc2;
    assert_true(fd >= 0);
    rc = image_inspect_fd(fd, info, err);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 0); /* pread: the offset stays */
    close(fd);
    read_whole(path, &b);
    rc2 = image_inspect_buf(b.buf, b.len, &again, &err2);
    st_buf_release(&b);
    assert_int_equal(rc, rc2);
    assert_true(same_info(info, &again));
    if (rc < 0)
        assert_string_equal(err->msg, err2.msg);
    return rc;
}

static void inspect_ok(const char *path, struct image_info *info)
{
    struct st_err err = ST_ERR_INIT;
    if (inspect_path(path, info, &err) < 0)
        fail_msg("inspecting %s: %s", path, err.msg);
    assert_false(info->malformed);
}

static void check_ok(const struct image_info *info, const char *disk_format)
{
    struct st_err err = ST_ERR_INIT;
    if (image_check(info, disk_format, &err) < 0)
        fail_msg("%s refused as %s: %s", image_format_name(info->format), disk_format, err.msg);
}

/* image_check() must refuse 'info' as 'disk_format' with exactly 'msg'. */
static void check_fails(const struct image_info *info, const char *disk_format, const char *msg)
{
    struct st_err err = ST_ERR_INIT;
    assert_int_equal(image_check(info, disk_format, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_string_equal(err.msg, msg);
}

/* Only 'accepted' (NULL-terminated) disk_formats take 'info'; every other
 * one is refused as "Image content is X but disk_format is Y". */
static void check_only(const struct image_info *info, ...)
{
    const char *accepted[ST_ARRAY_SIZE(all_formats) + 1];
    size_t n = 0;
    va_list ap;
    va_start(ap, info);
    for (const char *f = va_arg(ap, const char *); f; f = va_arg(ap, const char *)) {
        assert_true(n < ST_ARRAY_SIZE(all_formats));
        accepted[n++] = f;
    }
    va_end(ap);
    for (size_t i = 0; i < ST_ARRAY_SIZE(all_formats); i++) {
        bool ok = false;
        char msg[256];
        for (size_t k = 0; k < n; k++)
            ok = ok || !strcmp(accepted[k], all_formats[i]);
        if (ok) {
            check_ok(info, all_formats[i]);
            continue;
        }
        assert_true(st_snprintf(msg, sizeof(msg), "Image content is %s but disk_format is %s",
                                image_format_name(info->format), all_formats[i]) >= 0);
        check_fails(info, all_formats[i], msg);
    }
}

/* Overwrites 'len' bytes at 'off' of the file at 'path'. */
static void patch(const char *path, uint64_t off, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, len, (off_t) off), (ssize_t) len);
    close(fd);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

/* Replaces the embedded descriptor of the sparse vmdk at 'path' (at 512,
 * 'text' NUL-padded to 20 sectors, the size qemu gives it). */
static void put_descriptor(const char *path, const char *text)
{
    static uint8_t sectors[20 * 512];
    size_t len = strlen(text);
    assert_true(len < sizeof(sectors));
    memset(sectors, 0, sizeof(sectors));
    memcpy(sectors, text, len);
    patch(path, 512, sectors, sizeof(sectors));
}

/* Deterministic bytes (xorshift64), so that "random" content is the same
 * on every run. */
static void pseudo_random(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed ? seed : 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t) (x >> 24);
    }
}

/* ---- qcow2 ------------------------------------------------------------------ */

static void t01_qcow2_basic(void **state)
{
    struct image_info info;
    const char *p;
    (void) state;
    need_qemu();
    p = create("basic.qcow2", "qcow2", "10M", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_QCOW2);
    assert_true(info.virtual_size == 10 * MIB);
    assert_true(info.virtual_size == qemu_vsize(p, "qcow2"));
    assert_false(info.has_backing_file);
    assert_false(info.has_data_file);
    assert_false(info.has_foreign_extents);
    assert_false(info.encrypted);
    assert_string_equal(info.detail, "qcow2 version 3, cluster size 65536");
    check_only(&info, "qcow2", NULL);
    check_fails(&info, "raw", "Image content is qcow2 but disk_format is raw");
}

static void t02_qcow2_v2_and_cluster_size(void **state)
{
    struct image_info info;
    const char *p;
    (void) state;
    need_qemu();
    p = create("v2.qcow2", "qcow2", "3G", "-o", "compat=0.10,cluster_size=4096", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_QCOW2);
    assert_true(info.virtual_size == 3072 * MIB);
    assert_string_equal(info.detail, "qcow2 version 2, cluster size 4096");
    check_only(&info, "qcow2", NULL);
}

static void t03_qcow2_backing_file(void **state)
{
    struct image_info info;
    const char *base, *p;
    (void) state;
    need_qemu();
    base = create("base.qcow2", "qcow2", "16M", NULL);
    p = create("child.qcow2", "qcow2", NULL, "-b", base, "-F", "qcow2", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_QCOW2);
    assert_true(info.virtual_size == 16 * MIB);
    assert_true(info.has_backing_file);
    assert_false(info.has_data_file);
    check_fails(&info, "qcow2", "qcow2 images with a backing file are not allowed");
    check_fails(&info, "raw", "Image content is qcow2 but disk_format is raw");
    check_fails(&info, "ami", "Image content is qcow2 but disk_format is ami");
}

static void t04_qcow2_data_file(void **state)
{
    struct image_info info;
    char opt[4200];
    const char *p;
    (void) state;
    need_qemu();
    assert_true(st_snprintf(opt, sizeof(opt), "data_file=%s", path_of("data.raw")) >= 0);
    p = create("datafile.qcow2", "qcow2", "8M", "-o", opt, NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_QCOW2);
    assert_true(info.has_data_file);
    assert_false(info.has_backing_file);
    check_fails(&info, "qcow2", "qcow2 images with an external data file are not allowed");
    check_fails(&info, "raw", "Image content is qcow2 but disk_format is raw");
}

static void t05_qcow2_truncated(void **state)
{
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    struct st_buf b = ST_BUF_INIT;
    const char *p, *cut;
    (void) state;
    need_qemu();
    p = create("whole.qcow2", "qcow2", "10M", NULL);
    read_whole(p, &b);
    cut = path_of("cut.qcow2");
    write_whole(cut, b.buf, 50);
    assert_int_equal(inspect_path(cut, &info, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_string_equal(err.msg, "qcow2 header is truncated");
    assert_int_equal(info.format, IMAGE_FMT_QCOW2); /* not taken for raw */
    assert_true(info.malformed);
    for (size_t i = 0; i < ST_ARRAY_SIZE(all_formats); i++)
        check_fails(&info, all_formats[i], "qcow2 header is truncated");

    /* every prefix from the magic up to a complete v3 header */
    for (size_t len = 4; len < 104; len++) {
        st_err_clear(&err);
        assert_int_equal(image_inspect_buf(b.buf, len, &info, &err), -1);
        assert_int_equal(info.format, IMAGE_FMT_QCOW2);
        assert_string_equal(info.problem, "qcow2 header is truncated");
    }
    st_buf_release(&b);
}

static void t06_qcow2_feature_bits(void **state)
{
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    struct st_buf b = ST_BUF_INIT;
    const char *p;
    (void) state;
    need_qemu();
    p = create("bits.qcow2", "qcow2", "1M", NULL);
    read_whole(p, &b);

    /* the external data file bit alone (offset 72, incompatible_features) */
    b.buf[79] |= 0x04;
    assert_int_equal(image_inspect_buf(b.buf, b.len, &info, &err), 0);
    assert_true(info.has_data_file);
    check_fails(&info, "qcow2", "qcow2 images with an external data file are not allowed");

    /* a feature this inspector does not know: refused, whatever it is */
    b.buf[79] = 0;
    b.buf[74] |= 0x01; /* bit 40 */
    assert_int_equal(image_inspect_buf(b.buf, b.len, &info, &err), -1);
    assert_true(info.malformed);
    assert_string_equal(err.msg, "qcow2 image has unknown incompatible features 0x10000000000");
    check_fails(&info, "qcow2", "qcow2 image has unknown incompatible features 0x10000000000");

    /* cluster_bits out of range */
    b.buf[74] = 0;
    b.buf[23] = 30;
    st_err_clear(&err);
    assert_int_equal(image_inspect_buf(b.buf, b.len, &info, &err), -1);
    assert_string_equal(err.msg, "qcow2 cluster_bits 30 is out of range (9 to 21)");
    b.buf[23] = 16;

    /* an unsupported version */
    b.buf[7] = 4;
    st_err_clear(&err);
    assert_int_equal(image_inspect_buf(b.buf, b.len, &info, &err), -1);
    assert_string_equal(err.msg, "qcow2 version 4 is not supported");
    b.buf[7] = 3;

    /* the data-file header extension without the feature bit */
    {
        uint8_t ext[16];
        uint32_t hdr_len = (uint32_t) (uint8_t) b.buf[100] << 24 |
                           (uint32_t) (uint8_t) b.buf[101] << 16 |
                           (uint32_t) (uint8_t) b.buf[102] << 8 | (uint8_t) b.buf[103];
        put_be32(ext, 0x44415441);
        put_be32(ext + 4, 8);
        memcpy(ext + 8, "/dev/sda", 8);
        assert_true(hdr_len + sizeof(ext) < b.len);
        memcpy(b.buf + hdr_len, ext, sizeof(ext));
        st_err_clear(&err);
        assert_int_equal(image_inspect_buf(b.buf, b.len, &info, &err), 0);
        assert_true(info.has_data_file);
    }
    st_buf_release(&b);
}

/* ---- vmdk ------------------------------------------------------------------- */

static void t07_vmdk_monolithic_sparse(void **state)
{
    struct image_info info;
    const char *p;
    (void) state;
    need_qemu();
    p = create("sparse.vmdk", "vmdk", "20M", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_VMDK);
    assert_true(info.virtual_size == 20 * MIB);
    assert_true(info.virtual_size == qemu_vsize(p, "vmdk"));
    assert_string_equal(info.subformat, "monolithicSparse");
    assert_false(info.has_foreign_extents);
    assert_false(info.has_backing_file);
    check_only(&info, "vmdk", NULL);
}

static void t08_vmdk_stream_optimized(void **state)
{
    struct image_info info;
    const char *p;
    (void) state;
    need_qemu();
    p = create("stream.vmdk", "vmdk", "5M", "-o", "subformat=streamOptimized", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_VMDK);
    assert_true(info.virtual_size == 5 * MIB);
    assert_string_equal(info.subformat, "streamOptimized");
    assert_false(info.has_foreign_extents);
    check_only(&info, "vmdk", NULL);
}

static void t09_vmdk_flat_descriptor(void **state)
{
    struct image_info info;
    const char *p;
    (void) state;
    need_qemu();
    /* a text descriptor file and its data in "flat-flat.vmdk" */
    p = create("flat.vmdk", "vmdk", "4M", "-o", "subformat=monolithicFlat", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_VMDK);
    assert_string_equal(info.subformat, "monolithicFlat");
    assert_true(info.has_foreign_extents);
    assert_true(info.virtual_size == 4 * MIB);
    check_fails(&info, "vmdk", "vmdk descriptor refers to other files");
    check_fails(&info, "raw", "Image content is vmdk but disk_format is raw");

    p = create("split.vmdk", "vmdk", "4M", "-o", "subformat=twoGbMaxExtentSparse", NULL);
    inspect_ok(p, &info);
    assert_true(info.has_foreign_extents);
    check_fails(&info, "vmdk", "vmdk descriptor refers to other files");
}

static void t10_vmdk_descriptor_naming_host_file(void **state)
{
    static const char desc[] = "# Disk DescriptorFile\n"
                               "version=1\n"
                               "CID=12345678\n"
                               "parentCID=ffffffff\n"
                               "createType=\"monolithicSparse\"\n"
                               "\n"
                               "RW 2048 FLAT \"/etc/shadow\" 0\n";
    struct image_info info;
    const char *p = path_of("evil.vmdk");
    (void) state;
    write_whole(p, desc, sizeof(desc) - 1);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_VMDK);
    assert_true(info.has_foreign_extents);
    assert_true(info.virtual_size == 2048 * 512);
    check_fails(&info, "vmdk", "vmdk descriptor refers to other files");
    check_fails(&info, "raw", "Image content is vmdk but disk_format is raw");
    check_fails(&info, "ami", "Image content is vmdk but disk_format is ami");
    check_fails(&info, "ari", "Image content is vmdk but disk_format is ari");

    /* what qemu's probe takes for a descriptor, without the first line */
    {
        static const char bare[] = "version=1\nRW 8 SPARSE \"x.vmdk\"\n";
        struct st_err err = ST_ERR_INIT;
        assert_int_equal(image_inspect_buf(bare, sizeof(bare) - 1, &info, &err), 0);
        assert_int_equal(info.format, IMAGE_FMT_VMDK);
        assert_true(info.has_foreign_extents);
    }
    /* a line that is neither a field nor an extent: refused (Glance) */
    {
        static const char odd[] = "# Disk DescriptorFile\nversion=1\nsomething else\n";
        struct st_err err = ST_ERR_INIT;
        assert_int_equal(image_inspect_buf(odd, sizeof(odd) - 1, &info, &err), -1);
        assert_string_equal(err.msg, "vmdk descriptor has an unsupported line");
    }
}

static void t11_vmdk_parent(void **state)
{
    struct image_info info;
    const char *base, *p;
    (void) state;
    need_qemu();
    base = create("vbase.vmdk", "vmdk", "2M", NULL);
    p = create("vchild.vmdk", "vmdk", NULL, "-b", base, "-F", "vmdk", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_VMDK);
    assert_true(info.has_backing_file);
    check_fails(&info, "vmdk", "vmdk images with a backing file are not allowed");
}

static void t12_vmdk_embedded_descriptor_patched(void **state)
{
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    const char *p;
    static const uint8_t zero[8];
    (void) state;
    need_qemu();
    p = create("patched.vmdk", "vmdk", "1M", NULL);

    /* a second extent naming a host file */
    put_descriptor(p, "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n"
                      "createType=\"monolithicSparse\"\n"
                      "RW 2048 SPARSE \"patched.vmdk\"\n"
                      "RW 2048 FLAT \"/dev/sda\" 0\n");
    inspect_ok(p, &info);
    assert_true(info.has_foreign_extents);
    check_fails(&info, "vmdk", "vmdk descriptor refers to other files");

    /* the one extent with a path */
    put_descriptor(p, "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n"
                      "createType=\"monolithicSparse\"\n"
                      "RW 2048 SPARSE \"../../etc/passwd\"\n");
    inspect_ok(p, &info);
    assert_true(info.has_foreign_extents);

    /* parentFileNameHint in a comment: qemu's strstr() finds it there */
    put_descriptor(p, "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n"
                      "createType=\"monolithicSparse\"\n"
                      "# parentFileNameHint=\"/var/lib/other.vmdk\"\n"
                      "RW 2048 SPARSE \"patched.vmdk\"\n");
    inspect_ok(p, &info);
    assert_true(info.has_backing_file);
    assert_false(info.has_foreign_extents);
    check_fails(&info, "vmdk", "vmdk images with a backing file are not allowed");

    /* a subformat other than the two single-file ones */
    put_descriptor(p, "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n"
                      "createType=\"vmfsSparse\"\n"
                      "RW 2048 SPARSE \"patched.vmdk\"\n");
    inspect_ok(p, &info);
    assert_string_equal(info.subformat, "vmfsSparse");
    check_fails(&info, "vmdk",
                "vmdk images of type 'vmfsSparse' are not allowed (only monolithicSparse and "
                "streamOptimized)");

    /* capacity 0: qemu opens the embedded descriptor as a descriptor file,
     * so even its one bare-named extent is another file */
    put_descriptor(p, "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n"
                      "createType=\"monolithicSparse\"\n"
                      "RW 2048 SPARSE \"patched.vmdk\"\n");
    inspect_ok(p, &info);
    assert_false(info.has_foreign_extents);
    check_ok(&info, "vmdk");
    patch(p, 12, zero, sizeof(zero));
    inspect_ok(p, &info);
    assert_true(info.has_foreign_extents);
    check_fails(&info, "vmdk", "vmdk descriptor refers to other files");

    /* binary in the descriptor */
    put_descriptor(p, "# Disk DescriptorFile\nversion=1\n\x01\x02\n");
    assert_int_equal(inspect_path(p, &info, &err), -1);
    assert_string_equal(err.msg, "vmdk descriptor is not ASCII text");
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t) (v >> (8 * i));
}

static void t27_vmdk_footer(void **state)
{
    /* A stream-optimized vmdk whose header says "grain directory at the
     * end": qemu then takes the header (capacity included) from the footer
     * before the end-of-stream marker.  Built from qemu's own image. */
    static uint8_t tail[3 * 512];
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    struct st_buf b = ST_BUF_INIT;
    const char *p;
    static const uint8_t gd_at_end[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    (void) state;
    need_qemu();
    p = create("footer.vmdk", "vmdk", "5M", "-o", "subformat=streamOptimized", NULL);
    read_whole(p, &b);
    assert_int_equal(b.len % 512, 0);
    memset(tail, 0, sizeof(tail));
    put_le(tail + 12, 3, 4);            /* footer marker */
    memcpy(tail + 512, b.buf, 512);     /* the footer: the header... */
    put_le(tail + 512 + 12, 14336, 8);  /* ...with 7 MiB of capacity */
    st_buf_add(&b, tail, sizeof(tail)); /* and an end-of-stream marker */
    memcpy(b.buf + 56, gd_at_end, sizeof(gd_at_end));
    write_whole(p, b.buf, b.len);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_VMDK);
    assert_true(info.virtual_size == 7 * MIB);
    assert_true(info.virtual_size == qemu_vsize(p, "vmdk"));
    check_ok(&info, "vmdk");

    /* a footer qemu would refuse */
    b.buf[b.len - 1024 - 512 + 12] = 2;
    assert_int_equal(image_inspect_buf(b.buf, b.len, &info, &err), -1);
    assert_string_equal(err.msg, "vmdk footer is invalid");
    st_buf_release(&b);
}

/* ---- vdi, vhd, vhdx ----------------------------------------------------------- */

static void t13_vdi(void **state)
{
    struct image_info info;
    const char *p;
    (void) state;
    need_qemu();
    p = create("disk.vdi", "vdi", "12M", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_VDI);
    assert_true(info.virtual_size == 12 * MIB);
    assert_true(info.virtual_size == qemu_vsize(p, "vdi"));
    assert_false(info.has_backing_file);
    check_only(&info, "vdi", NULL);

    p = create("static.vdi", "vdi", "1M", "-o", "static=on", NULL);
    inspect_ok(p, &info);
    assert_string_equal(info.subformat, "static");
    check_only(&info, "vdi", NULL);
}

static void t14_vhd_dynamic(void **state)
{
    struct image_info info;
    const char *p;
    uint8_t type[4];
    (void) state;
    need_qemu();
    p = create("dyn.vhd", "vpc", "10M", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_VHD);
    assert_string_equal(info.subformat, "dynamic");
    /* qemu rounds the size to a CHS geometry, and says so in the footer */
    assert_true(info.virtual_size == qemu_vsize(p, "vpc"));
    assert_true(info.virtual_size >= 10 * MIB);
    check_only(&info, "vhd", NULL);

    /* made a differencing disk: it has a parent */
    put_be32(type, 4);
    patch(p, 60, type, sizeof(type));
    inspect_ok(p, &info);
    assert_true(info.has_backing_file);
    check_fails(&info, "vhd", "vhd images with a backing file are not allowed");
}

static void t15_vhd_fixed(void **state)
{
    struct image_info info;
    const char *p;
    (void) state;
    need_qemu();
    p = create("fixed.vhd", "vpc", "10M", "-o", "subformat=fixed", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_VHD);
    assert_string_equal(info.subformat, "fixed");
    assert_true(info.virtual_size == qemu_vsize(p, "vpc"));
    /* raw data with a footer: still not raw */
    check_only(&info, "vhd", NULL);
}

/* Finds the metadata item 'guid' of the vhdx in 'b' and returns the file
 * offset of its data (a test-side reading of the same structures). */
static size_t vhdx_item_offset(const struct st_buf *b, const uint8_t guid[16])
{
    const uint8_t *d = (const uint8_t *) b->buf;
    const uint8_t *rt = d + 0x30000;
    static const uint8_t meta_guid[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                          0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
    uint32_t n = (uint32_t) rt[8] | (uint32_t) rt[9] << 8;
    assert_true(b->len > 0x40000);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = rt + 16 + 32 * i;
        size_t meta = 0;
        if (memcmp(e, meta_guid, 16))
            continue;
        for (int k = 0; k < 8; k++)
            meta |= (size_t) e[16 + k] << (8 * k);
        assert_true(meta + 32 * 2048 < b->len);
        for (uint32_t j = 0; j < (uint32_t) (d[meta + 10] | d[meta + 11] << 8); j++) {
            const uint8_t *m = d + meta + 32 + 32 * j;
            if (!memcmp(m, guid, 16))
                return meta + (size_t) (m[16] | m[17] << 8 | m[18] << 16 | (uint32_t) m[19] << 24);
        }
    }
    fail_msg("vhdx metadata item not found");
    return 0;
}

static void t16_vhdx(void **state)
{
    static const uint8_t file_params[16] = {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
                                            0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b};
    struct image_info info;
    struct st_buf b = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    const char *p;
    size_t off;
    (void) state;
    need_qemu();
    p = create("disk.vhdx", "vhdx", "24M", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_VHDX);
    assert_true(info.virtual_size == 24 * MIB);
    assert_true(info.virtual_size == qemu_vsize(p, "vhdx"));
    assert_false(info.has_backing_file);
    check_only(&info, "vhdx", NULL);

    /* the "has parent" file parameter */
    read_whole(p, &b);
    off = vhdx_item_offset(&b, file_params);
    b.buf[off + 4] |= 0x02;
    assert_int_equal(image_inspect_buf(b.buf, b.len, &info, &err), 0);
    assert_true(info.has_backing_file);
    check_fails(&info, "vhdx", "vhdx images with a backing file are not allowed");

    /* no region table */
    b.buf[0x30000] = 'X';
    assert_int_equal(image_inspect_buf(b.buf, b.len, &info, &err), -1);
    assert_string_equal(err.msg, "vhdx region table signature is missing");
    st_buf_release(&b);
}

/* ---- raw, iso, kernels, ramdisks ----------------------------------------------- */

static void t17_raw(void **state)
{
    struct image_info info;
    const char *p;
    (void) state;
    need_qemu();
    p = create("disk.raw", "raw", "3M", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_RAW);
    assert_true(info.virtual_size == 3 * MIB);
    check_only(&info, "raw", "ami", "ari", NULL);
}

static void t18_iso(void **state)
{
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    struct st_cmd *cmd;
    const char *dir, *iso;
    struct stat st;
    int rc;
    (void) state;
    if (!have_mkiso)
        skip();
    dir = path_of("isoroot");
    assert_int_equal(mkdir(dir, 0755), 0);
    write_whole(path_of("isoroot/hello.txt"), "hello\n", 6);
    iso = path_of("cd.iso");
    cmd = cmd_new("genisoimage");
    cmd_arg(cmd, "-quiet");
    cmd_arg(cmd, "-V");
    cmd_arg(cmd, "cidata");
    cmd_arg(cmd, "-o");
    cmd_arg(cmd, iso);
    cmd_arg(cmd, path_of("isoroot"));
    cmd_set_timeout(cmd, 60);
    rc = cmd_run(cmd, NULL, NULL, NULL, &err);
    cmd_free(cmd);
    if (rc < 0)
        fail_msg("%s", err.msg);
    inspect_ok(iso, &info);
    assert_int_equal(info.format, IMAGE_FMT_ISO);
    assert_int_equal(stat(iso, &st), 0);
    assert_true(info.virtual_size == (uint64_t) st.st_size);
    /* an ISO stored as raw is a legitimate raw image (as in Nova) */
    check_only(&info, "iso", "raw", "ami", NULL);
}

static void t28_udf(void **state)
{
    static uint8_t udf[0xa000];
    static const char *const ids[] = {"BEA01", "NSR03", "TEA01"};
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(ids); i++) {
        udf[0x8000 + 0x800 * i] = 0;
        memcpy(udf + 0x8001 + 0x800 * i, ids[i], 5);
        udf[0x8006 + 0x800 * i] = 1;
    }
    assert_int_equal(image_inspect_buf(udf, sizeof(udf), &info, &err), 0);
    assert_int_equal(info.format, IMAGE_FMT_ISO);
    assert_string_equal(info.detail, "UDF");
    assert_true(info.virtual_size == sizeof(udf));
    check_only(&info, "iso", "raw", "ami", NULL);

    /* the sequence ends before any NSR descriptor: not UDF */
    memcpy(udf + 0x8801, "TEA01", 5);
    assert_int_equal(image_inspect_buf(udf, sizeof(udf), &info, &err), 0);
    assert_int_equal(info.format, IMAGE_FMT_RAW);
}

static void t19_kernel(void **state)
{
    static uint8_t bz[4096], elf[256], arm[512];
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    pseudo_random(bz, sizeof(bz), 7);
    memset(bz, 0, 0x210);
    bz[0] = 'M';
    bz[1] = 'Z';
    bz[0x1fe] = 0x55;
    bz[0x1ff] = 0xaa;
    memcpy(bz + 0x202, "HdrS", 4);
    bz[0x206] = 0x0f;
    bz[0x207] = 0x02;
    assert_int_equal(image_inspect_buf(bz, sizeof(bz), &info, &err), 0);
    assert_int_equal(info.format, IMAGE_FMT_KERNEL);
    assert_true(info.virtual_size == sizeof(bz));
    assert_string_equal(info.detail, "x86 bzImage, boot protocol 2.15");
    check_only(&info, "aki", "raw", "ami", NULL);

    memcpy(elf, "\177ELF\002\001\001", 7);
    assert_int_equal(image_inspect_buf(elf, sizeof(elf), &info, &err), 0);
    assert_int_equal(info.format, IMAGE_FMT_KERNEL);
    check_ok(&info, "aki");

    memcpy(arm + 0x38, "ARM\x64", 4);
    assert_int_equal(image_inspect_buf(arm, sizeof(arm), &info, &err), 0);
    assert_int_equal(info.format, IMAGE_FMT_KERNEL);
}

static void t20_ramdisk(void **state)
{
    static const struct {
        const char *magic;
        size_t len;
    } magics[] = {
        {"070701", 6}, {"070702", 6}, {"\x1f\x8b\x08", 3}, {"\xfd\x37\x7a\x58\x5a\x00", 6},
        {"\x28\xb5\x2f\xfd", 4}, {"\x02\x21\x4c\x18", 4}, {"BZh9", 4},
    };
    static uint8_t data[1024];
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    struct st_buf out = ST_BUF_INIT;
    struct st_cmd *cmd;
    int rc;
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(magics); i++) {
        memset(data, 0, sizeof(data));
        memcpy(data, magics[i].magic, magics[i].len);
        assert_int_equal(image_inspect_buf(data, sizeof(data), &info, &err), 0);
        assert_int_equal(info.format, IMAGE_FMT_RAMDISK);
        check_only(&info, "ari", "raw", "ami", NULL);
    }

    /* real gzip output */
    cmd = cmd_new("gzip");
    cmd_arg(cmd, "-c");
    cmd_set_input(cmd, "a small initramfs\n", 18);
    cmd_set_timeout(cmd, 30);
    rc = cmd_run(cmd, &out, NULL, NULL, &err);
    cmd_free(cmd);
    if (rc < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(image_inspect_buf(out.buf, out.len, &info, &err), 0);
    assert_int_equal(info.format, IMAGE_FMT_RAMDISK);
    assert_string_equal(info.detail, "ramdisk, gzip");
    check_ok(&info, "ari");
    check_fails(&info, "aki", "Image content is ari but disk_format is aki");
    st_buf_release(&out);
}

static void t21_random_bytes_are_raw(void **state)
{
    static uint8_t data[256 * 1024];
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        pseudo_random(data, sizeof(data), seed * 0x9e3779b97f4a7c15ull);
        assert_int_equal(image_inspect_buf(data, sizeof(data), &info, &err), 0);
        assert_int_equal(info.format, IMAGE_FMT_RAW);
        assert_true(info.virtual_size == sizeof(data));
        assert_false(info.has_backing_file || info.has_data_file || info.has_foreign_extents);
        check_only(&info, "raw", "ami", "ari", NULL);
    }
    /* and the empty image */
    assert_int_equal(image_inspect_buf("", 0, &info, &err), 0);
    assert_int_equal(info.format, IMAGE_FMT_RAW);
    assert_true(info.virtual_size == 0);
}

/* ---- the verdict and the edges ------------------------------------------------ */

static void t22_disk_format_names(void **state)
{
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(image_inspect_buf("plain", 5, &info, &err), 0);
    check_fails(&info, "ploop", "disk_format 'ploop' is not supported");
    check_fails(&info, "RAW", "disk_format 'RAW' is not supported");
    check_fails(&info, "", "disk_format '' is not supported");
    check_fails(&info, NULL, "disk_format '' is not supported");
    assert_string_equal(image_format_name(IMAGE_FMT_KERNEL), "aki");
    assert_string_equal(image_format_name(IMAGE_FMT_RAMDISK), "ari");
    assert_string_equal(image_format_name(IMAGE_FMT_VHD), "vhd");
    assert_string_equal(image_format_name(IMAGE_FMT_UNKNOWN), "unknown");
    assert_string_equal(image_format_name((enum image_format) 1000), "unknown");
}

static void t23_qed_is_never_raw(void **state)
{
    struct image_info info;
    const char *base, *p;
    (void) state;
    need_qemu();
    base = create("base.qed", "qed", "1M", NULL);
    p = create("child.qed", "qed", NULL, "-b", base, "-F", "qed", NULL);
    inspect_ok(p, &info);
    assert_int_equal(info.format, IMAGE_FMT_QED);
    assert_true(info.has_backing_file);
    check_fails(&info, "raw", "Image content is qed but disk_format is raw");
    check_fails(&info, "qcow2", "Image content is qed but disk_format is qcow2");
}

static int failing_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    (void) ctx;
    (void) off;
    (void) buf;
    (void) len;
    errno = EIO;
    return -1;
}

static int short_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    (void) ctx;
    (void) off;
    memset(buf, 0, len);
    return len > 1 ? 1 : 0; /* then nothing: the data "shrank" */
}

static void t24_read_errors(void **state)
{
    struct image_reader r = {failing_read, NULL, 1 << 20};
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    int fd;
    (void) state;
    assert_int_equal(image_inspect(&r, &info, &err), -1);
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    assert_int_equal(err.sys_errno, EIO);
    assert_int_equal(info.format, IMAGE_FMT_UNKNOWN);
    check_fails(&info, "raw", "Image content could not be inspected");

    r.read_at = short_read;
    st_err_clear(&err);
    assert_int_equal(image_inspect(&r, &info, &err), -1);
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    assert_int_equal(info.format, IMAGE_FMT_UNKNOWN);

    /* not a regular file */
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    st_err_clear(&err);
    assert_int_equal(image_inspect_fd(fd, &info, &err), -1);
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    check_fails(&info, "raw", "Image content could not be inspected");
    close(fd);
}

static void t25_two_signatures(void **state)
{
    struct image_info info;
    struct st_err err = ST_ERR_INIT;
    struct st_buf b = ST_BUF_INIT;
    const char *p;
    (void) state;
    need_qemu();
    p = create("both.qcow2", "qcow2", "1M", NULL);
    read_whole(p, &b);
    memcpy(b.buf + 0x40, "\x7f\x10\xda\xbe", 4); /* and a vdi? */
    assert_int_equal(image_inspect_buf(b.buf, b.len, &info, &err), -1);
    assert_string_equal(err.msg, "Image content is both qcow2 and vdi");
    st_buf_release(&b);
}

/* Inspects 'len' bytes: either well formed, or malformed with the reason
 * as a BAD_REQUEST (a buffer cannot fail to be read). */
static void prefix_answer(const void *buf, size_t len, struct image_info *info)
{
    struct st_err err = ST_ERR_INIT;
    if (image_inspect_buf(buf, len, info, &err) == 0) {
        assert_false(info->malformed);
        return;
    }
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_true(info->malformed);
    assert_string_equal(err.msg, info->problem);
}

static void t26_every_prefix(void **state)
{
    /* Every format cut short anywhere in its first 4 KiB (and at the
     * region table, for vhdx): an answer, never a crash; qcow2 and vhdx
     * prefixes are never raw. */
    static const struct {
        const char *name, *fmt, *opts;
    } imgs[] = {
        {"p.qcow2", "qcow2", NULL},   {"p.vmdk", "vmdk", NULL},
        {"p.vdi", "vdi", NULL},       {"p.vhd", "vpc", NULL},
        {"p.vhdx", "vhdx", NULL},     {"p.qed", "qed", NULL},
        {"ps.vmdk", "vmdk", "subformat=streamOptimized"},
    };
    struct image_info info;
    (void) state;
    need_qemu();
    for (size_t i = 0; i < ST_ARRAY_SIZE(imgs); i++) {
        struct st_buf b = ST_BUF_INIT;
        const char *p = imgs[i].opts
                            ? create(imgs[i].name, imgs[i].fmt, "1M", "-o", imgs[i].opts, NULL)
                            : create(imgs[i].name, imgs[i].fmt, "1M", NULL);
        read_whole(p, &b);
        for (size_t len = 0; len <= b.len && len <= 4096; len++) {
            prefix_answer(b.buf, len, &info);
            if (len >= 8 && (!strcmp(imgs[i].fmt, "qcow2") || !strcmp(imgs[i].fmt, "vhdx")))
                assert_int_not_equal(info.format, IMAGE_FMT_RAW);
        }
        for (size_t len = 0x30000; len < 0x30040 && len <= b.len; len++) {
            prefix_answer(b.buf, len, &info);
        }
        st_buf_release(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_qcow2_basic),
        cmocka_unit_test(t02_qcow2_v2_and_cluster_size),
        cmocka_unit_test(t03_qcow2_backing_file),
        cmocka_unit_test(t04_qcow2_data_file),
        cmocka_unit_test(t05_qcow2_truncated),
        cmocka_unit_test(t06_qcow2_feature_bits),
        cmocka_unit_test(t07_vmdk_monolithic_sparse),
        cmocka_unit_test(t08_vmdk_stream_optimized),
        cmocka_unit_test(t09_vmdk_flat_descriptor),
        cmocka_unit_test(t10_vmdk_descriptor_naming_host_file),
        cmocka_unit_test(t11_vmdk_parent),
        cmocka_unit_test(t12_vmdk_embedded_descriptor_patched),
        cmocka_unit_test(t13_vdi),
        cmocka_unit_test(t14_vhd_dynamic),
        cmocka_unit_test(t15_vhd_fixed),
        cmocka_unit_test(t16_vhdx),
        cmocka_unit_test(t17_raw),
        cmocka_unit_test(t18_iso),
        cmocka_unit_test(t19_kernel),
        cmocka_unit_test(t20_ramdisk),
        cmocka_unit_test(t21_random_bytes_are_raw),
        cmocka_unit_test(t22_disk_format_names),
        cmocka_unit_test(t23_qed_is_never_raw),
        cmocka_unit_test(t24_read_errors),
        cmocka_unit_test(t25_two_signatures),
        cmocka_unit_test(t26_every_prefix),
        cmocka_unit_test(t27_vmdk_footer),
        cmocka_unit_test(t28_udf),
    };
    static const struct tu_known_bug known_bugs[] = {};
    int rc;
    if (setup() < 0)
        return 1;
    rc = TU_RUN("inspect", tests, known_bugs);
    teardown();
    return rc;
}

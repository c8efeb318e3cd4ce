/* test-agent-disk.c - the image cache and disks (src/agent/disk.c) with the
 * real qemu-img in a temporary directory: formats always explicit, a qcow2
 * with a backing file refused, downloads renamed into place only when
 * complete, overlays grown and never shrunk, flattened copies, the
 * ephemeral and swap bases, and the cache cleanup. */
#include "testutil.h"

#include <sys/stat.h>
#include <utime.h>

#include "agent/disk.h"
#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

#define IMG1 "11111111-0000-4000-8000-000000000001"
#define IMG2 "11111111-0000-4000-8000-000000000002"
#define MIB (INT64_C(1) << 20)

static char *tmp;
static char src[4096]; /* what the fake fetch "downloads" */
static int fetches;

static int setup(void **state)
{
    (void) state;
    tmp = tu_mkdtemp();
    fetches = 0;
    return tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void) state;
    tu_rmrf(tmp);
    free(tmp);
    tmp = NULL;
    return 0;
}

static void qemu_img(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
                     const char *a6, const char *a7, const char *a8)
{
    const char *argv[] = {a1, a2, a3, a4, a5, a6, a7, a8};
    struct st_cmd *cmd = cmd_new("qemu-img");
    struct st_err err = ST_ERR_INIT;
    for (size_t i = 0; i < ST_ARRAY_SIZE(argv) && argv[i]; i++)
        cmd_arg(cmd, argv[i]);
    if (cmd_run(cmd, NULL, NULL, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    cmd_free(cmd);
}

static const char *path_in(const char *name)
{
    static char p[4][4096];
    static int k;
    k = (k + 1) % 4;
    assert_true(snprintf(p[k], sizeof(p[k]), "%s/%s", tmp, name) > 0);
    return p[k];
}

/* A fetch that copies 'src' (as the controller's download would). */
static int fake_fetch(void *opaque, const struct model_image *img, const char *path,
                      struct st_err *err)
{
    struct st_cmd *cmd = cmd_new("cp");
    int rc;
    (void) opaque;
    (void) img;
    fetches++;
    cmd_arg(cmd, "--");
    cmd_arg(cmd, src);
    cmd_arg(cmd, path);
    rc = cmd_run(cmd, NULL, NULL, NULL, err);
    cmd_free(cmd);
    return rc;
}

static int failing_fetch(void *opaque, const struct model_image *img, const char *path,
                         struct st_err *err)
{
    (void) opaque;
    (void) img;
    (void) path;
    fetches++;
    st_err_set(err, ST_ERR_UNAVAILABLE, "controller unreachable");
    return -1;
}

static struct model_image image(const char *id, const char *fmt)
{
    struct model_image img;
    memset(&img, 0, sizeof(img));
    img.present = true;
    memcpy(img.id, id, strlen(id) + 1);
    memcpy(img.disk_format, fmt, strlen(fmt) + 1);
    return img;
}

static void t01_formats(void **state)
{
    static const struct {
        const char *glance, *cached;
    } cases[] = {
        {"raw", "raw"},   {"qcow2", "qcow2"}, {"ami", "raw"},    {"aki", "raw"},
        {"ari", "raw"},   {"iso", "raw"},     {"vmdk", "qcow2"}, {"vdi", "qcow2"},
        {"vhd", "qcow2"}, {"vhdx", "qcow2"},  {"ploop", NULL},   {"", NULL},
    };
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(cases); i++) {
        struct model_image img = image(IMG1, cases[i].glance);
        const char *f = disk_base_format(&img);
        if (cases[i].cached)
            assert_string_equal(f, cases[i].cached);
        else
            assert_null(f);
    }
}

static void t02_base_fetched_once_and_renamed(void **state)
{
    struct model_image img = image(IMG1, "qcow2");
    struct st_buf p = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    int64_t vsize = 0;
    bool refs = true;
    (void) state;
    assert_true(snprintf(src, sizeof(src), "%s", path_in("src.qcow2")) > 0);
    qemu_img("create", "-q", "-f", "qcow2", src, "16M", NULL, NULL);
    assert_int_equal(disk_base_ensure(tmp, &img, true, fake_fetch, NULL, &p, &err), 0);
    assert_string_equal(p.buf, path_in("_base/" IMG1));
    assert_int_equal(fetches, 1);
    assert_int_equal(tu_mode(p.buf), 0644);
    assert_int_equal(tu_count_entries(path_in("_base")), 1); /* no .part left */
    assert_int_equal(disk_info(p.buf, "qcow2", &vsize, &refs, &err), 0);
    assert_int_equal(vsize, 16 * MIB);
    assert_false(refs);
    /* Cached: no second download. */
    st_buf_reset(&p);
    assert_int_equal(disk_base_ensure(tmp, &img, true, fake_fetch, NULL, &p, &err), 0);
    assert_int_equal(fetches, 1);
    st_buf_release(&p);
}

static void t03_base_refused(void **state)
{
    struct model_image img = image(IMG1, "qcow2");
    struct st_buf p = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    /* A qcow2 naming a backing file (here: a host file) is refused. */
    qemu_img("create", "-q", "-f", "raw", path_in("secret"), "1M", NULL, NULL);
    assert_true(snprintf(src, sizeof(src), "%s", path_in("evil.qcow2")) > 0);
    {
        struct st_cmd *cmd = cmd_new("qemu-img");
        cmd_arg(cmd, "create");
        cmd_arg(cmd, "-q");
        cmd_arg(cmd, "-f");
        cmd_arg(cmd, "qcow2");
        cmd_arg(cmd, "-F");
        cmd_arg(cmd, "raw");
        cmd_arg(cmd, "-b");
        cmd_arg(cmd, path_in("secret"));
        cmd_arg(cmd, src);
        assert_int_equal(cmd_run(cmd, NULL, NULL, NULL, &err), 0);
        cmd_free(cmd);
    }
    assert_int_equal(disk_base_ensure(tmp, &img, true, fake_fetch, NULL, &p, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "refers to other files"));
    assert_int_equal(tu_count_entries(path_in("_base")), 0);
    st_err_clear(&err);

    /* A failed download leaves nothing behind. */
    assert_int_equal(disk_base_ensure(tmp, &img, true, failing_fetch, NULL, &p, &err), -1);
    assert_int_equal(err.kind, ST_ERR_UNAVAILABLE);
    assert_int_equal(tu_count_entries(path_in("_base")), 0);
    st_err_clear(&err);

    /* A kernel is not a disk; an unknown format is no use; a bad id never
     * becomes a path. */
    img = image(IMG1, "aki");
    assert_int_equal(disk_base_ensure(tmp, &img, true, fake_fetch, NULL, &p, &err), -1);
    st_err_clear(&err);
    img = image(IMG1, "ploop");
    assert_int_equal(disk_base_ensure(tmp, &img, false, fake_fetch, NULL, &p, &err), -1);
    st_err_clear(&err);
    img = image("../../etc/passwd", "raw");
    assert_int_equal(disk_base_ensure(tmp, &img, false, fake_fetch, NULL, &p, &err), -1);
    assert_int_equal(p.len, 0);
    st_buf_release(&p);
}

static void t04_kernel_kept_as_is(void **state)
{
    struct model_image img = image(IMG2, "aki");
    struct st_buf p = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_true(snprintf(src, sizeof(src), "%s", path_in("vmlinuz")) > 0);
    {
        FILE *f = fopen(src, "w");
        assert_non_null(f);
        fputs("not a disk image at all", f);
        fclose(f);
    }
    assert_int_equal(disk_base_ensure(tmp, &img, false, fake_fetch, NULL, &p, &err), 0);
    assert_string_equal(p.buf, path_in("_base/" IMG2));
    st_buf_release(&p);
}

static void t05_overlay_grow_flatten(void **state)
{
    struct st_err err = ST_ERR_INIT;
    int64_t vsize = 0;
    bool refs = false;
    const char *base = path_in("base.raw");
    char disk[4096];
    (void) state;
    assert_true(snprintf(disk, sizeof(disk), "%s", path_in("disk")) > 0);
    qemu_img("create", "-q", "-f", "raw", base, "8M", NULL, NULL);

    /* A disk smaller than the image is refused, the flavor's size used. */
    assert_int_equal(disk_create_overlay(disk, base, "raw", 4 * MIB, &err), -1);
    assert_int_equal(err.kind, ST_ERR_BAD_REQUEST);
    st_err_clear(&err);
    assert_int_equal(disk_create_overlay(disk, base, "raw", 32 * MIB, &err), 0);
    assert_int_equal(disk_info(disk, "qcow2", &vsize, &refs, &err), 0);
    assert_int_equal(vsize, 32 * MIB);
    assert_true(refs); /* an overlay refers to its base */
    assert_int_equal(tu_mode(disk), 0644);
    /* 0: the image's own size; an existing disk is replaced. */
    assert_int_equal(disk_create_overlay(disk, base, "raw", 0, &err), 0);
    assert_int_equal(disk_info(disk, "qcow2", &vsize, NULL, &err), 0);
    assert_int_equal(vsize, 8 * MIB);
    /* Grown, never shrunk. */
    assert_int_equal(disk_grow(disk, 64 * MIB, &err), 0);
    assert_int_equal(disk_grow(disk, 16 * MIB, &err), 0);
    assert_int_equal(disk_info(disk, "qcow2", &vsize, NULL, &err), 0);
    assert_int_equal(vsize, 64 * MIB);
    /* The flattened copy stands alone. */
    assert_int_equal(disk_flatten(disk, path_in("snap.qcow2"), &err), 0);
    assert_int_equal(disk_info(path_in("snap.qcow2"), "qcow2", &vsize, &refs, &err), 0);
    assert_false(refs);
    assert_int_equal(vsize, 64 * MIB);
    /* A file copy stays an overlay. */
    assert_int_equal(disk_copy(disk, path_in("disk.resize"), &err), 0);
    assert_int_equal(disk_info(path_in("disk.resize"), "qcow2", &vsize, &refs, &err), 0);
    assert_true(refs);
    /* No temporary files left. */
    assert_int_equal(tu_count_entries(tmp), 4);
}

static void t06_ephemeral_and_swap(void **state)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf name = ST_BUF_INIT;
    int64_t vsize = 0;
    (void) state;
    assert_int_equal(disk_create_ephemeral(tmp, path_in("disk.local"), 1, &err), 0);
    assert_int_equal(disk_info(path_in("disk.local"), "qcow2", &vsize, NULL, &err), 0);
    assert_int_equal(vsize, INT64_C(1) << 30);
    disk_ephemeral_name(1, &name);
    assert_string_equal(name.buf, "ephemeral_1G_ext4");
    {
        /* The base is an ext4 file system labelled ephemeral0. */
        struct st_cmd *cmd = cmd_new("dumpe2fs");
        struct st_buf out = ST_BUF_INIT;
        cmd_arg(cmd, "-h");
        cmd_arg(cmd, path_in("_base/ephemeral_1G_ext4"));
        assert_int_equal(cmd_run(cmd, &out, NULL, NULL, &err), 0);
        assert_non_null(strstr(out.buf, "ephemeral0"));
        cmd_free(cmd);
        st_buf_release(&out);
    }
    assert_int_equal(disk_create_swap(tmp, path_in("disk.swap"), 64, &err), 0);
    assert_int_equal(disk_info(path_in("disk.swap"), "qcow2", &vsize, NULL, &err), 0);
    assert_int_equal(vsize, 64 * MIB);
    st_buf_reset(&name);
    disk_swap_name(64, &name);
    assert_string_equal(name.buf, "swap_64M");
    assert_true(access(path_in("_base/swap_64M"), R_OK) == 0);
    st_buf_release(&name);
}

static void set_age(const char *path, time_t age)
{
    struct utimbuf t = {time(NULL) - age, time(NULL) - age};
    assert_int_equal(utime(path, &t), 0);
}

static void t07_cleanup(void **state)
{
    struct st_err err = ST_ERR_INIT;
    const char *in_use[] = {IMG1, "ephemeral_1G_ext4"};
    int removed = -1;
    (void) state;
    /* No cache yet: nothing to do. */
    assert_int_equal(disk_base_cleanup(tmp, in_use, 2, 0, &removed, &err), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(mkdir(path_in("_base"), 0755), 0);
    for (const char *const *n = (const char *const[]){IMG1, IMG2, "ephemeral_1G_ext4", "swap_64M",
                                                      IMG2 ".part", "x.tmp", NULL};
         *n; n++) {
        char p[4096];
        FILE *f;
        assert_true(snprintf(p, sizeof(p), "%s/_base/%s", tmp, *n) > 0);
        f = fopen(p, "w");
        assert_non_null(f);
        fclose(f);
        set_age(p, 7200);
    }
    set_age(path_in("_base/swap_64M"), 60); /* recently used */
    assert_int_equal(disk_base_cleanup(tmp, in_use, 2, 3600, &removed, &err), 0);
    assert_int_equal(removed, 1); /* IMG2 only */
    assert_int_equal(access(path_in("_base/" IMG2), F_OK), -1);
    assert_int_equal(access(path_in("_base/" IMG2 ".part"), F_OK), -1);
    assert_int_equal(access(path_in("_base/x.tmp"), F_OK), -1);
    assert_int_equal(access(path_in("_base/swap_64M"), F_OK), 0);
    assert_int_equal(access(path_in("_base/" IMG1), F_OK), 0);
    {
        /* In use: its clock restarts. */
        struct stat sb;
        assert_int_equal(stat(path_in("_base/" IMG1), &sb), 0);
        assert_true(time(NULL) - sb.st_mtime < 60);
    }
    /* Grace 0: everything unused goes at once. */
    assert_int_equal(disk_base_cleanup(tmp, in_use, 2, 0, &removed, &err), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(tu_count_entries(path_in("_base")), 2);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_formats),
        cmocka_unit_test_setup_teardown(t02_base_fetched_once_and_renamed, setup, teardown),
        cmocka_unit_test_setup_teardown(t03_base_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(t04_kernel_kept_as_is, setup, teardown),
        cmocka_unit_test_setup_teardown(t05_overlay_grow_flatten, setup, teardown),
        cmocka_unit_test_setup_teardown(t06_ephemeral_and_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(t07_cleanup, setup, teardown),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("agent-disk", tests, known_bugs);
}

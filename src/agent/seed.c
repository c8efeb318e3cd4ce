/*
 * seed.c - what a guest reads at first boot (see seed.h): the ISO image
 * that carries a NoCloud seed or a config drive, with the texts of the one
 * renderer shared with the metadata service (metadata/render.h).
 *
 * Only seed_build() adds something that is not a function of the model:
 * the config drive's "random_seed" (512 bytes from the kernel, as Nova
 * writes it), so that the golden tests of mdr_meta_data() stay stable.
 */
#include "agent/seed.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define LIBISOFS_WITHOUT_LIBBURN
#include <libisofs/libisofs.h>
#include <pthread.h>

#include "common/util.h"
#include "metadata/render.h"
#include "common/banned.h"

#define SEED_MODE 0600  /* holds admin_pass and user data; libvirt relabels it */
#define SEED_MAX_FILES 64
#define RANDOM_SEED_BYTES 512

/* ------------------------------------------------------------------ */
/* ISO 9660 */

static int iso_ready; /* iso_init()'s result, once */

static void iso_setup(void)
{
    /* bit 0: leave the process's locale alone; names are UTF-8. */
    iso_ready = iso_init_with_flag(1);
    if (iso_ready > 0) {
        (void) iso_set_local_charset("UTF-8", 0);
        (void) iso_set_msgs_severities("NEVER", "NEVER", "stratus-agent");
    }
}

static int iso_fail(struct st_err *err, const char *path, const char *what, int code)
{
    st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': %s: %s", path, what,
               iso_error_to_msg(code));
    return -1;
}

/* Checks an in-image path: relative, no empty, "." or ".." component. */
static bool image_path_ok(const char *p)
{
    if (!*p || *p == '/')
        return false;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || n > 255 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (!p[n])
            return true;
        p += n + 1;
    }
}

/* Adds 'f' to 'image', creating its parent directories. */
static int add_file(IsoImage *image, const struct seed_file *f, const char *path,
                    struct st_err *err)
{
    IsoDir *dir = iso_image_get_root(image);
    const char *p = f->path;
    IsoStream *stream = NULL;
    unsigned char *copy;
    char name[256];
    int rc;

    for (;;) {
        size_t n = strcspn(p, "/");
        IsoNode *node = NULL;
        memcpy(name, p, n);
        name[n] = '\0';
        if (!p[n])
            break;
        p += n + 1;
        rc = iso_dir_get_node(dir, name, &node);
        if (rc < 0)
            return iso_fail(err, path, f->path, rc);
        if (rc == 1) {
            if (!ISO_NODE_IS_DIR(node)) {
                st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': '%s' is a file",
                           path, name);
                return -1;
            }
            dir = (IsoDir *) node;
            continue;
        }
        rc = iso_image_add_new_dir(image, dir, name, &dir);
        if (rc < 0)
            return iso_fail(err, path, f->path, rc);
    }
    copy = st_xmalloc(f->len ? f->len : 1);
    if (f->len)
        memcpy(copy, f->data, f->len);
    rc = iso_memory_stream_new(copy, f->len, &stream);
    if (rc < 0) {
        free(copy);
        return iso_fail(err, path, f->path, rc);
    }
    rc = iso_image_add_new_file(image, dir, name, stream, NULL);
    if (rc < 0) {
        iso_stream_unref(stream);
        return iso_fail(err, path, f->path, rc);
    }
    return 0;
}

int seed_write_iso(const char *path, const char *label, const struct seed_file *files,
                   size_t nfiles, struct st_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    IsoImage *image = NULL;
    IsoWriteOpts *opts = NULL;
    struct burn_source *src = NULL;
    struct st_buf data = ST_BUF_INIT;
    unsigned char block[2048];
    int rc = -1, n;

    if (!label[0] || strlen(label) > 32) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': bad label '%s'", path,
                   label);
        return -1;
    }
    if (nfiles > SEED_MAX_FILES) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': too many files", path);
        return -1;
    }
    for (size_t i = 0; i < nfiles; i++) {
        if (!image_path_ok(files[i].path)) {
            st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': bad file name '%s'",
                       path, files[i].path);
            return -1;
        }
    }
    (void) pthread_once(&once, iso_setup);
    if (iso_ready <= 0)
        return iso_fail(err, path, "iso_init", iso_ready);

    n = iso_image_new(label, &image);
    if (n < 0) {
        iso_fail(err, path, "iso_image_new", n);
        goto out;
    }
    iso_image_set_publisher_id(image, "stratus");
    for (size_t i = 0; i < nfiles; i++)
        if (add_file(image, &files[i], path, err) < 0)
            goto out;

    n = iso_write_opts_new(&opts, 0);
    if (n < 0) {
        iso_fail(err, path, "iso_write_opts_new", n);
        goto out;
    }
    (void) iso_write_opts_set_iso_level(opts, 3);
    (void) iso_write_opts_set_rockridge(opts, 1);
    (void) iso_write_opts_set_joliet(opts, 1);
    /* Keep the label as given ("config-2" is not made of d-characters);
     * blkid, and so ds-identify, must see it exactly. */
    (void) iso_write_opts_set_relaxed_vol_atts(opts, 1);
    /* Read-only files of root, whoever runs the agent. */
    (void) iso_write_opts_set_replace_mode(opts, 2, 2, 2, 2);
    (void) iso_write_opts_set_default_dir_mode(opts, 0555);
    (void) iso_write_opts_set_default_file_mode(opts, 0444);
    (void) iso_write_opts_set_default_uid(opts, 0);
    (void) iso_write_opts_set_default_gid(opts, 0);
    n = iso_image_create_burn_source(image, opts, &src);
    if (n < 0) {
        src = NULL;
        iso_fail(err, path, "iso_image_create_burn_source", n);
        goto out;
    }
    while ((n = src->read_xt(src, block, sizeof(block))) == (int) sizeof(block))
        st_buf_add(&data, block, sizeof(block));
    if (n != 0 || (off_t) data.len != src->get_size(src)) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot build ISO image '%s': the image stream failed",
                   path);
        goto out;
    }
    rc = st_write_file(path, data.buf, data.len, SEED_MODE, err);
out:
    if (src) {
        if (rc < 0 && src->cancel)
            src->cancel(src);
        src->free_data(src);
        free(src);
    }
    iso_write_opts_free(opts);
    if (image)
        iso_image_unref(image);
    st_buf_release(&data);
    return rc;
}

/* ------------------------------------------------------------------ */

int seed_build(const struct model_server *s, const char *path, struct st_err *err)
{
    struct st_buf meta = ST_BUF_INIT, net = ST_BUF_INIT, seed = ST_BUF_INIT;
    struct st_buf vendor = ST_BUF_INIT;
    struct seed_file files[12];
    size_t nfiles = 0;
    int rc = -1;
    static const char empty[] = "";

    if (s->config_drive) {
        static const char *const dirs[] = {"openstack/2018-08-27", "openstack/latest"};
        static const char *const names[] = {"meta_data.json", "network_data.json",
                                            "vendor_data.json", "vendor_data2.json",
                                            "user_data"};
        unsigned char rnd[RANDOM_SEED_BYTES];
        char paths[ST_ARRAY_SIZE(dirs)][ST_ARRAY_SIZE(names)][48];

        st_random(rnd, sizeof(rnd));
        st_base64_encode(rnd, sizeof(rnd), &seed);
        explicit_bzero(rnd, sizeof(rnd));
        mdr_vendor_data(&vendor);
        if (mdr_meta_data(s, seed.buf, true, &meta, err) < 0 ||
            mdr_network_data(s, &net, err) < 0)
            goto out;
        for (size_t d = 0; d < ST_ARRAY_SIZE(dirs); d++) {
            for (size_t k = 0; k < ST_ARRAY_SIZE(names); k++) {
                const void *data;
                size_t len;
                if (k == 4 && !s->user_data)
                    continue;
                if (st_snprintf(paths[d][k], sizeof(paths[d][k]), "%s/%s", dirs[d], names[k]) < 0)
                    goto out; /* cannot happen: the names are fixed */
                switch (k) {
                case 0:
                    data = meta.buf, len = meta.len;
                    break;
                case 1:
                    data = net.buf, len = net.len;
                    break;
                case 2:
                case 3:
                    data = vendor.buf, len = vendor.len;
                    break;
                default:
                    data = s->user_data, len = s->user_data_len;
                }
                files[nfiles++] = (struct seed_file){paths[d][k], data, len};
            }
        }
        rc = seed_write_iso(path, "config-2", files, nfiles, err);
    } else {
        if (mdr_nocloud_meta_data(s, &meta, err) < 0 ||
            mdr_nocloud_network_config(s, &net, err) < 0)
            goto out;
        files[nfiles++] = (struct seed_file){"meta-data", meta.buf, meta.len};
        files[nfiles++] = (struct seed_file){"user-data", s->user_data ? (const void *) s->user_data
                                                                       : (const void *) empty,
                                             s->user_data ? s->user_data_len : 0};
        if (s->nnics)
            files[nfiles++] = (struct seed_file){"network-config", net.buf, net.len};
        rc = seed_write_iso(path, "cidata", files, nfiles, err);
    }
out:
    if (meta.len)
        explicit_bzero(meta.buf, meta.len); /* admin_pass */
    st_buf_release(&meta);
    st_buf_release(&net);
    st_buf_release(&vendor);
    if (seed.len)
        explicit_bzero(seed.buf, seed.len);
    st_buf_release(&seed);
    return rc;
}

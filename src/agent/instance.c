/* instance.c - instance directories, their state file and console tail
 * (see instance.h). */
#include "agent/instance.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

#define STATE_VERSION 1

static const char *const file_names[INSTANCE_FILE__COUNT] = {
    [INSTANCE_DIR] = "",
    [INSTANCE_DISK] = "disk",
    [INSTANCE_DISK_LOCAL] = "disk.local",
    [INSTANCE_DISK_SWAP] = "disk.swap",
    [INSTANCE_DISK_CONFIG] = "disk.config",
    [INSTANCE_DISK_SEED] = "disk.seed",
    [INSTANCE_DISK_RESCUE] = "disk.rescue",
    [INSTANCE_CONSOLE_LOG] = "console.log",
    [INSTANCE_DOMAIN_XML] = "domain.xml",
    [INSTANCE_STATE] = "state.json",
    [INSTANCE_DISK_RESIZE] = "disk.resize",
    [INSTANCE_DISK_CONFIG_RESIZE] = "disk.config.resize",
    [INSTANCE_DISK_SEED_RESIZE] = "disk.seed.resize",
    [INSTANCE_CONSOLE_SOCK] = "console.sock",
};

struct instance {
    char id[MODEL_ID_MAX];
    char *paths[INSTANCE_FILE__COUNT];
};

struct instance *instance_new(const char *instances_path, const char *server_id, struct st_err *err)
{
    struct instance *inst;
    size_t n;

    /* The id becomes a path component: only a UUID (hex and dashes) may. */
    if (!server_id || !st_is_uuid(server_id) || strlen(server_id) >= MODEL_ID_MAX) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "invalid server id '%s': not a UUID",
                   server_id ? server_id : "(null)");
        return NULL;
    }
    if (!instances_path || instances_path[0] != '/') {
        st_err_set(err, ST_ERR_BAD_REQUEST, "the instances path '%s' is not absolute",
                   instances_path ? instances_path : "(null)");
        return NULL;
    }
    inst = st_xcalloc(1, sizeof(*inst));
    memcpy(inst->id, server_id, strlen(server_id) + 1);
    n = strlen(instances_path);
    while (n > 1 && instances_path[n - 1] == '/')
        n--;
    inst->paths[INSTANCE_DIR] = st_xasprintf("%.*s/%s", (int) n, instances_path, server_id);
    for (int f = 1; f < INSTANCE_FILE__COUNT; f++)
        inst->paths[f] = st_xasprintf("%s/%s", inst->paths[INSTANCE_DIR], file_names[f]);
    return inst;
}

void instance_free(struct instance *inst)
{
    if (!inst)
        return;
    for (int f = 0; f < INSTANCE_FILE__COUNT; f++)
        free(inst->paths[f]);
    free(inst);
}

const char *instance_id(const struct instance *inst)
{
    return inst->id;
}

const char *instance_path(const struct instance *inst, enum instance_file f)
{
    return (unsigned) f < INSTANCE_FILE__COUNT ? inst->paths[f] : NULL;
}

const char *instance_file_name(enum instance_file f)
{
    return (unsigned) f < INSTANCE_FILE__COUNT ? file_names[f] : NULL;
}

enum instance_file instance_seed_file(bool config_drive)
{
    return config_drive ? INSTANCE_DISK_CONFIG : INSTANCE_DISK_SEED;
}

int instance_mkdir(const struct instance *inst, struct st_err *err)
{
    const char *dir = inst->paths[INSTANCE_DIR];
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create the instance directory '%s'", dir);
        return -1;
    }
    return 0;
}

bool instance_exists(const struct instance *inst)
{
    struct stat sb;
    return lstat(inst->paths[INSTANCE_DIR], &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int instance_remove(const struct instance *inst, struct st_err *err)
{
    const char *dir = inst->paths[INSTANCE_DIR];
    struct stat sb;
    if (lstat(dir, &sb) < 0) {
        if (errno == ENOENT)
            return 0;
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot inspect '%s'", dir);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        /* Not ours to judge: something else sits where the directory should. */
        if (unlink(dir) < 0) {
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot remove '%s'", dir);
            return -1;
        }
        return 0;
    }
    if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot remove the instance directory '%s'", dir);
        return -1;
    }
    return 0;
}

int instance_list(const char *instances_path, char ***ids, size_t *n, struct st_err *err)
{
    DIR *d = opendir(instances_path);
    struct dirent *de;
    size_t alloc = 0;

    *ids = NULL;
    *n = 0;
    if (!d) {
        if (errno == ENOENT)
            return 0;
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot list '%s'", instances_path);
        return -1;
    }
    while ((de = readdir(d))) {
        struct stat sb;
        if (!st_is_uuid(de->d_name) || strlen(de->d_name) >= MODEL_ID_MAX)
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (*n == alloc) {
            alloc = alloc ? alloc * 2 : 16;
            *ids = st_xrealloc(*ids, alloc * sizeof(**ids));
        }
        (*ids)[(*n)++] = st_xstrdup(de->d_name);
    }
    closedir(d);
    return 0;
}

/* ---------------------------------------------------------------- state */

void instance_state_set_flavor(struct instance_state *st, const struct model_flavor *f)
{
    memset(&st->flavor, 0, sizeof(st->flavor));
    memcpy(st->flavor.id, f->id, strlen(f->id) + 1);
    st->flavor.vcpus = f->vcpus;
    st->flavor.ram_mb = f->ram_mb;
    st->flavor.disk_gb = f->disk_gb;
    st->flavor.ephemeral_gb = f->ephemeral_gb;
    st->flavor.swap_mb = f->swap_mb;
}

bool instance_state_flavor_is(const struct instance_state *st, const struct model_flavor *f)
{
    return st->flavor.id[0] && !strcmp(st->flavor.id, f->id) && st->flavor.vcpus == f->vcpus &&
           st->flavor.ram_mb == f->ram_mb && st->flavor.disk_gb == f->disk_gb &&
           st->flavor.ephemeral_gb == f->ephemeral_gb && st->flavor.swap_mb == f->swap_mb;
}

json_t *instance_state_to_json(const struct instance_state *st)
{
    json_t *flavor = json_null();
    if (st->flavor.id[0])
        flavor = json_pack(
            "{s:s, s:i, s:I, s:I, s:I, s:I}", "id", st->flavor.id, "vcpus", st->flavor.vcpus, "ram",
            (json_int_t) st->flavor.ram_mb, "disk", (json_int_t) st->flavor.disk_gb, "ephemeral",
            (json_int_t) st->flavor.ephemeral_gb, "swap", (json_int_t) st->flavor.swap_mb);
    return json_pack("{s:i, s:I, s:s, s:o, s:b, s:b, s:I}", "version", STATE_VERSION,
                     "disk_generation", (json_int_t) st->disk_generation, "image_id",
                     st->image_id, "flavor", flavor, "resize_backup", st->resize_backup,
                     "rescued", st->rescued, "held_power_generation",
                     (json_int_t) st->held_power_generation);
}

static int bad_state(struct st_err *err, const char *field)
{
    st_err_set(err, ST_ERR_INTERNAL, "invalid instance state: bad '%s'", field);
    return -1;
}

int instance_state_from_json(json_t *doc, struct instance_state *st, struct st_err *err)
{
    json_t *flavor;
    const char *image_id = "";
    int64_t v = 0;
    memset(st, 0, sizeof(*st));
    if (!json_is_object(doc))
        return bad_state(err, "document");
    if (jget_int(doc, "version", true, 1, STATE_VERSION, &v, err) < 0 ||
        jget_int(doc, "disk_generation", true, 0, INT64_MAX, &st->disk_generation, err) < 0 ||
        jget_str(doc, "image_id", false, MODEL_ID_MAX - 1, &image_id, err) < 0 ||
        jget_bool(doc, "resize_backup", false, &st->resize_backup, err) < 0 ||
        jget_bool(doc, "rescued", false, &st->rescued, err) < 0 ||
        jget_int(doc, "held_power_generation", false, 0, INT64_MAX, &st->held_power_generation,
                 err) < 0)
        return -1;
    if (image_id[0] && !st_is_uuid(image_id))
        return bad_state(err, "image_id");
    memcpy(st->image_id, image_id, strlen(image_id) + 1);
    flavor = json_object_get(doc, "flavor");
    if (flavor && !json_is_null(flavor)) {
        const char *id = NULL;
        int64_t vcpus = 0;
        if (!json_is_object(flavor) ||
            jget_str(flavor, "id", true, MODEL_NAME_MAX - 1, &id, err) < 0 ||
            jget_int(flavor, "vcpus", true, 1, 1024, &vcpus, err) < 0 ||
            jget_int(flavor, "ram", true, 1, INT64_C(1) << 32, &st->flavor.ram_mb, err) < 0 ||
            jget_int(flavor, "disk", true, 0, INT64_C(1) << 20, &st->flavor.disk_gb, err) < 0 ||
            jget_int(flavor, "ephemeral", true, 0, INT64_C(1) << 20, &st->flavor.ephemeral_gb,
                     err) < 0 ||
            jget_int(flavor, "swap", true, 0, INT64_C(1) << 30, &st->flavor.swap_mb, err) < 0)
            return st_err_is_set(err) ? -1 : bad_state(err, "flavor");
        if (!id[0])
            return bad_state(err, "flavor.id");
        memcpy(st->flavor.id, id, strlen(id) + 1);
        st->flavor.vcpus = (int) vcpus;
    }
    return 0;
}

int instance_state_load(const struct instance *inst, struct instance_state *st, struct st_err *err)
{
    const char *path = inst->paths[INSTANCE_STATE];
    struct st_buf b = ST_BUF_INIT;
    struct st_err e = ST_ERR_INIT;
    json_t *doc = NULL;
    int rc = -1;

    memset(st, 0, sizeof(*st));
    if (st_read_file(path, 1 << 16, &b, &e) < 0) {
        if (e.sys_errno == ENOENT) {
            rc = 0;
            goto out;
        }
        st_err_set(err, e.kind, "%s", e.msg);
        goto out;
    }
    doc = st_json_parse(b.buf, b.len, &e);
    if (!doc || instance_state_from_json(doc, st, &e) < 0) {
        st_err_set(err, ST_ERR_INTERNAL, "the state file '%s' is invalid: %s", path, e.msg);
        goto out;
    }
    rc = 0;
out:
    json_decref(doc);
    st_buf_release(&b);
    return rc;
}

int instance_state_save(const struct instance *inst, const struct instance_state *st,
                        struct st_err *err)
{
    json_t *doc = instance_state_to_json(st);
    struct st_buf b = ST_BUF_INIT;
    int rc;
    st_json_dump(doc, &b);
    st_buf_addch(&b, '\n');
    rc = st_write_file(inst->paths[INSTANCE_STATE], b.buf, b.len, 0644, err);
    st_buf_release(&b);
    json_decref(doc);
    return rc;
}

/* ------------------------------------------------------------- console */

/* Length of the valid UTF-8 sequence at 'p' (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates, beyond U+10FFFF. */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void instance_utf8_sanitize(const char *data, size_t len, struct st_buf *out)
{
    const unsigned char *p = (const unsigned char *) data;
    size_t i = 0;
    st_buf_grow(out, len);
    while (i < len) {
        size_t k = utf8_seq(p + i, len - i);
        if (k == 0) {
            st_buf_adds(out, "\xef\xbf\xbd");
            i++;
        } else {
            if (p[i] != 0)
                st_buf_add(out, p + i, k);
            i += k;
        }
    }
}

int instance_console_tail(const char *path, int64_t lines, size_t max_bytes, struct st_buf *out,
                          struct st_err *err)
{
    struct st_buf raw = ST_BUF_INIT;
    struct stat sb;
    off_t start;
    size_t from = 0, want;
    int fd, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot open the console log '%s'", path);
        return -1;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        st_err_sys(err, errno ? errno : EINVAL, ST_ERR_INTERNAL,
                   "the console log '%s' is not a regular file", path);
        goto out;
    }
    start = sb.st_size > (off_t) max_bytes ? sb.st_size - (off_t) max_bytes : 0;
    want = (size_t) (sb.st_size - start);
    st_buf_grow(&raw, want);
    while (raw.len < want) {
        ssize_t r = pread(fd, raw.buf + raw.len, want - raw.len, start + (off_t) raw.len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot read the console log '%s'", path);
            goto out;
        }
        if (r == 0)
            break; /* truncated meanwhile */
        raw.len += (size_t) r;
    }
    raw.buf[raw.len] = '\0';
    if (lines >= 0) {
        /* Walk back over 'lines' line ends; a final newline ends the last
         * line and does not start another. */
        size_t i = raw.len;
        int64_t seen = 0;
        if (lines == 0) {
            from = raw.len;
        } else {
            if (i > 0 && raw.buf[i - 1] == '\n')
                i--;
            from = 0;
            while (i > 0) {
                if (raw.buf[i - 1] == '\n' && ++seen == lines) {
                    from = i;
                    break;
                }
                i--;
            }
            if (seen < lines && start > 0) {
                /* Fewer lines than asked in the window: drop the partial first one. */
                char *nl = memchr(raw.buf, '\n', raw.len);
                if (nl)
                    from = (size_t) (nl - raw.buf) + 1;
            }
        }
    } else if (start > 0) {
        char *nl = memchr(raw.buf, '\n', raw.len);
        if (nl)
            from = (size_t) (nl - raw.buf) + 1;
    }
    instance_utf8_sanitize(raw.buf + from, raw.len - from, out);
    rc = 0;
out:
    close(fd);
    st_buf_release(&raw);
    return rc;
}

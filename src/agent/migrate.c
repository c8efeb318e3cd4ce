/* migrate.c - a server's migration between hosts (see migrate.h): the
 * dispatch from one server's pass, cold migration (export, hold, restore,
 * import, cleanup), the report, and what the live part shares. */
#include "agent/migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/disk.h"
#include "agent/instance.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "common/banned.h"

#define MARKER "migration.json"
#define EXPORT_SUFFIX ".export"
#define PART_SUFFIX ".part"
#define MIG_BACKOFF_MIN_S 2
#define MIG_BACKOFF_MAX_S 60

/* The instance files a cold migration carries: the root disk as it is (an
 * overlay, rebased on the destination), the ephemeral and swap disks
 * flattened (their formatted bases differ from host to host). */
static const struct {
    enum instance_file f;
    bool flatten;
} mig_files[] = {
    {INSTANCE_DISK, false},
    {INSTANCE_DISK_LOCAL, true},
    {INSTANCE_DISK_SWAP, true},
};

/* ------------------------------------------------------------ memory */

struct mig_srv *migrate_mem(struct srv *sv, const char *id)
{
    if (sv->mig && strcmp(sv->mig->id, id)) {
        migrate_srv_free(sv->mig);
        sv->mig = NULL;
    }
    if (!sv->mig) {
        sv->mig = st_xcalloc(1, sizeof(*sv->mig));
        memcpy(sv->mig->id, id, strlen(id) + 1);
        sv->mig->extra = json_object();
    }
    return sv->mig;
}

void migrate_srv_free(struct mig_srv *m)
{
    if (!m)
        return;
    json_decref(m->extra);
    free(m);
}

void migrate_set_state(struct mig_srv *m, const char *state)
{
    ST_IGNORE(st_snprintf(m->state, sizeof(m->state), "%s", state));
    m->error[0] = '\0';
    m->backoff_s = 0;
    m->retry_ns = 0;
}

void migrate_fail(struct reconciler *r, const char *id, struct mig_srv *m,
                  const struct st_err *err)
{
    bool is_new = strcmp(m->error, err->msg) != 0;
    memcpy(m->error, err->msg, strlen(err->msg) + 1);
    m->backoff_s = m->backoff_s ? m->backoff_s * 2 : MIG_BACKOFF_MIN_S;
    if (m->backoff_s > MIG_BACKOFF_MAX_S)
        m->backoff_s = MIG_BACKOFF_MAX_S;
    m->retry_ns = st_mono_ns() + (int64_t) m->backoff_s * NS_PER_S;
    if (is_new && log_rl_allow(&r->rl))
        log_errorx(MOD, "server '%s': migration '%s' (%s): %s (retrying in %d s)", id, m->id,
                   m->state, err->msg, m->backoff_s);
}

bool migrate_backing_off(const struct mig_srv *m)
{
    return m->error[0] && st_mono_ns() < m->retry_ns;
}

int64_t migrate_next_ns(const struct srv *sv)
{
    const struct mig_srv *m = sv->mig;
    int64_t t = 0;
    if (!m)
        return 0;
    if (m->error[0] && m->retry_ns)
        t = m->retry_ns;
    if (m->next_ns && (!t || m->next_ns < t))
        t = m->next_ns;
    return t;
}

/* ------------------------------------------------------------ marker */

static void marker_path(const struct instance *inst, struct st_buf *out)
{
    st_buf_addf(out, "%s/" MARKER, instance_path(inst, INSTANCE_DIR));
}

json_t *migrate_marker_load(const struct instance *inst, const char *mig_id)
{
    struct st_buf p = ST_BUF_INIT, data = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    json_t *doc = NULL;
    marker_path(inst, &p);
    if (st_read_file(p.buf, 1 << 20, &data, &err) == 0)
        doc = st_json_parse(data.buf, data.len, &err);
    st_buf_release(&p);
    st_buf_release(&data);
    if (!json_is_object(doc) ||
        !st_streq(json_string_value(json_object_get(doc, "id")), mig_id)) {
        json_decref(doc);
        doc = json_object();
    }
    return doc;
}

int migrate_marker_save(const struct instance *inst, const char *mig_id, json_t *doc,
                        struct st_err *err)
{
    struct st_buf p = ST_BUF_INIT, text = ST_BUF_INIT;
    int rc;
    json_object_set_new(doc, "id", json_string(mig_id));
    marker_path(inst, &p);
    st_json_dump(doc, &text);
    rc = st_write_file(p.buf, text.buf, text.len, 0644, err);
    st_buf_release(&p);
    st_buf_release(&text);
    return rc;
}

void migrate_marker_remove(const struct instance *inst)
{
    struct st_buf p = ST_BUF_INIT;
    marker_path(inst, &p);
    (void) unlink(p.buf);
    st_buf_release(&p);
}

/* ------------------------------------------------------------ files */

/* The SHA-256 (hex) and size of the file at 'path'. */
static int file_sha256(const char *path, struct st_buf *hex, int64_t *size, struct st_err *err)
{
    unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = -1;
    int64_t total = 0;

    if (fd < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot open '%s'", path);
        goto out;
    }
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        st_err_set(err, ST_ERR_INTERNAL, "cannot initialise SHA-256");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot read '%s'", path);
            goto out;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t) n);
        total += n;
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    st_buf_reset(hex);
    st_hex_encode(md, mdlen, hex);
    *size = total;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int migrate_cleanup(struct ctx *c, struct st_err *err)
{
    if (reconcile_remove_server(c->r, c->s->id, err) < 0)
        return -1;
    c->sv->pending = PEND_NONE;
    c->sv->was_running = false;
    return 0;
}

/* ------------------------------------------------------------ cold: source */

/* Uploads the instance's disks once the guest is off; the marker then
 * holds their list.  Returns 0 (the migration owns the pass). */
static int cold_export(struct ctx *c, struct mig_srv *m)
{
    const struct model_migration *mg = &c->s->migration;
    struct reconciler *r = c->r;
    struct st_err err = ST_ERR_INIT;
    struct st_buf up = ST_BUF_INIT, sum = ST_BUF_INIT;
    json_t *mk = migrate_marker_load(c->inst, mg->id), *files;
    int64_t t0 = st_mono_ns(), bytes = 0;
    int rc;

    files = json_object_get(mk, "exported");
    if (json_is_array(files)) {
        json_object_set(m->extra, "files", files);
        if (strcmp(m->state, "exported"))
            migrate_set_state(m, "exported");
        goto out;
    }
    if (migrate_backing_off(m))
        goto out;
    if (strcmp(m->state, "exporting"))
        migrate_set_state(m, "exporting");
    rc = reconcile_power_off_clean(c, PEND_MIGRATE, NULL, r->opts.shutdown_timeout, &err);
    if (rc < 0)
        goto fail;
    if (rc == 0)
        goto out; /* shutting down: the next pass looks again */
    if (!r->io.mig_put) {
        st_err_set(&err, ST_ERR_INTERNAL, "export: this agent cannot upload migration files");
        goto fail;
    }
    files = json_array();
    json_object_set_new(mk, "exported", files);
    for (size_t i = 0; i < ST_ARRAY_SIZE(mig_files); i++) {
        const char *path = instance_path(c->inst, mig_files[i].f);
        const char *name = instance_file_name(mig_files[i].f);
        int64_t size = 0;
        if (!reconcile_file_exists(path))
            continue;
        st_buf_reset(&up);
        if (mig_files[i].flatten) {
            st_buf_addf(&up, "%s" EXPORT_SUFFIX, path);
            if (disk_flatten(path, up.buf, &err) < 0)
                goto fail;
        } else {
            st_buf_addf(&up, "%s", path);
        }
        if (file_sha256(up.buf, &sum, &size, &err) < 0 ||
            r->io.mig_put(r->io.opaque, mg->id, name, up.buf, &err) < 0)
            goto fail;
        if (mig_files[i].flatten)
            (void) unlink(up.buf);
        json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "name", name, "size",
                                               (json_int_t) size, "sha256", sum.buf));
        bytes += size;
    }
    if (migrate_marker_save(c->inst, mg->id, mk, &err) < 0)
        goto fail;
    json_object_set(m->extra, "files", files);
    migrate_set_state(m, "exported");
    log_info(MOD, "server '%s': migration '%s': exported %zu file(s), %lld bytes, in %.1f s",
             c->s->id, mg->id, json_array_size(files), (long long) bytes,
             (double) (st_mono_ns() - t0) / 1e9);
    goto out;
fail:
    if (up.len && strstr(up.buf, EXPORT_SUFFIX))
        (void) unlink(up.buf);
    migrate_fail(r, c->s->id, m, &err);
out:
    json_decref(mk);
    st_buf_release(&up);
    st_buf_release(&sum);
    return 0;
}

/* Keeps the stopped domain and every file. */
static int cold_hold(struct ctx *c, struct mig_srv *m)
{
    struct st_err err = ST_ERR_INIT;
    if (reconcile_power_off_hard(c, &err) < 0) {
        migrate_fail(c->r, c->s->id, m, &err);
        return 0;
    }
    if (strcmp(m->state, "held"))
        migrate_set_state(m, "held");
    return 0;
}

/* ------------------------------------------------------------ cold: destination */

static bool import_name_ok(const char *name)
{
    for (size_t i = 0; i < ST_ARRAY_SIZE(mig_files); i++)
        if (!strcmp(name, instance_file_name(mig_files[i].f)))
            return true;
    return false;
}

/* Fetches the files, rebases the root disk onto this host's copy of its
 * image and records the disk as built; the ordinary pass then defines and
 * starts the domain.  Returns 1 when the pass may go on, 0 while not. */
static int cold_import(struct ctx *c, struct mig_srv *m)
{
    const struct model_migration *mg = &c->s->migration;
    const struct model_server *s = c->s;
    struct reconciler *r = c->r;
    struct st_err err = ST_ERR_INIT;
    struct st_buf final = ST_BUF_INIT, part = ST_BUF_INIT, sum = ST_BUF_INIT,
                  base = ST_BUF_INIT;
    json_t *mk = migrate_marker_load(c->inst, mg->id);
    bool have_disk = false;
    int64_t t0 = st_mono_ns();
    int rc = 0;

    if (json_is_true(json_object_get(mk, "imported"))) {
        if (strcmp(m->state, "imported") && strcmp(m->state, "importing"))
            migrate_set_state(m, "importing");
        rc = 1;
        goto out;
    }
    if (migrate_backing_off(m))
        goto out;
    if (strcmp(m->state, "importing"))
        migrate_set_state(m, "importing");
    if (!mg->nfiles && !model_boot_volume(s)) {
        st_err_set(&err, ST_ERR_BAD_REQUEST, "import: the controller sent no files");
        goto fail;
    }
    if (!r->io.mig_get) {
        st_err_set(&err, ST_ERR_INTERNAL, "import: this agent cannot fetch migration files");
        goto fail;
    }
    if (c->vi.state != VIRT_MISSING && reconcile_power_off_hard(c, &err) < 0)
        goto fail;
    for (int i = 0; i < mg->nfiles; i++) {
        const struct model_mig_file *f = &mg->files[i];
        int64_t size = 0;
        if (!import_name_ok(f->name)) {
            st_err_set(&err, ST_ERR_BAD_REQUEST, "import: unexpected file '%s'", f->name);
            goto fail;
        }
        if (!strcmp(f->name, instance_file_name(INSTANCE_DISK)))
            have_disk = true;
        st_buf_reset(&final);
        st_buf_reset(&part);
        st_buf_addf(&final, "%s/%s", instance_path(c->inst, INSTANCE_DIR), f->name);
        st_buf_addf(&part, "%s" PART_SUFFIX, final.buf);
        /* Fetched and renamed by a pass that died before the marker. */
        if (reconcile_file_exists(final.buf) && file_sha256(final.buf, &sum, &size, &err) == 0 &&
            !strcmp(sum.buf, f->sha256))
            continue;
        st_err_clear(&err);
        if (r->io.building)
            r->io.building(r->io.opaque, s->id);
        if (r->io.mig_get(r->io.opaque, mg->id, f->name, part.buf, f->sha256, f->size, &err) < 0)
            goto fail;
        if (rename(part.buf, final.buf) < 0) {
            st_err_sys(&err, errno, ST_ERR_INTERNAL, "cannot rename '%s' to '%s'", part.buf,
                       final.buf);
            goto fail;
        }
    }
    if (have_disk) {
        const char *disk = instance_path(c->inst, INSTANCE_DISK);
        const char *fmt = disk_base_format(&s->image);
        if (!fmt) {
            st_err_set(&err, ST_ERR_BAD_REQUEST, "import: image '%s' has an unusable format",
                       s->image.id);
            goto fail;
        }
        if (reconcile_ensure_base(r, c->sv, &s->image, true, &base, &err) < 0 ||
            disk_rebase_unsafe(disk, base.buf, fmt, &err) < 0)
            goto fail;
        /* A resize to another host: the new flavor's disk (never shrunk). */
        if (s->flavor.disk_gb > 0 && disk_grow(disk, s->flavor.disk_gb * GIB, &err) < 0)
            goto fail;
    }
    c->st.disk_generation = s->disk_generation;
    memcpy(c->st.image_id, s->image.id, strlen(s->image.id) + 1);
    c->st.rescued = false;
    c->st.resize_backup = false;
    c->st.held_power_generation = 0;
    if (instance_state_save(c->inst, &c->st, &err) < 0)
        goto fail;
    json_object_set_new(mk, "imported", json_true());
    if (migrate_marker_save(c->inst, mg->id, mk, &err) < 0)
        goto fail;
    log_info(MOD, "server '%s': migration '%s': imported %d file(s) in %.1f s", s->id, mg->id,
             mg->nfiles, (double) (st_mono_ns() - t0) / 1e9);
    rc = 1;
    goto out;
fail:
    (void) unlink(part.buf);
    migrate_fail(r, s->id, m, &err);
out:
    json_decref(mk);
    st_buf_release(&final);
    st_buf_release(&part);
    st_buf_release(&sum);
    st_buf_release(&base);
    return rc;
}

/* ------------------------------------------------------------ dispatch */

int migrate_cleanup_step(struct ctx *c, struct mig_srv *m)
{
    struct st_err err = ST_ERR_INIT;
    if (!strcmp(m->state, "cleaned"))
        return 0;
    if (migrate_backing_off(m))
        return 0;
    if (migrate_cleanup(c, &err) < 0) {
        migrate_fail(c->r, c->s->id, m, &err);
        return 0;
    }
    log_info(MOD, "server '%s': migration '%s': this host's copy removed", c->s->id, m->id);
    migrate_set_state(m, "cleaned");
    return 0;
}

int migrate_step(struct ctx *c, enum mig_phase phase)
{
    const struct model_migration *mg = &c->s->migration;
    struct mig_srv *m;

    if (!mg->present || mg->kind == MODEL_MIG_EVACUATION || mg->state == MODEL_MIGS_REBUILD) {
        /* No migration (any more): what it left goes. */
        if (phase == MIG_PHASE_LOADED) {
            migrate_srv_free(c->sv->mig);
            c->sv->mig = NULL;
            migrate_marker_remove(c->inst);
        }
        return 1;
    }
    m = migrate_mem(c->sv, mg->id);
    if (mg->kind == MODEL_MIG_LIVE)
        return migrate_live_step(c, phase);
    if (phase == MIG_PHASE_PRE) {
        if (mg->state == MODEL_MIGS_CLEANUP)
            return migrate_cleanup_step(c, m);
        if (mg->state == MODEL_MIGS_OTHER) {
            struct st_err err = ST_ERR_INIT;
            st_err_set(&err, ST_ERR_BAD_REQUEST, "unknown migration state '%s'", mg->state_name);
            migrate_fail(c->r, c->s->id, m, &err);
            return 0;
        }
        return 1;
    }
    if (phase == MIG_PHASE_DOMAIN)
        return 1;
    switch (mg->state) {
    case MODEL_MIGS_EXPORT:
        return mg->role == MODEL_MIG_SOURCE ? cold_export(c, m) : 0;
    case MODEL_MIGS_HOLD:
        return cold_hold(c, m);
    case MODEL_MIGS_RESTORE:
        /* The kept domain, as the ordinary pass starts it. */
        migrate_marker_remove(c->inst);
        return 1;
    case MODEL_MIGS_IMPORT:
        return mg->role == MODEL_MIG_DEST ? cold_import(c, m) : 0;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------ report */

/* Whether the domain of 's' is in the desired power state. */
static bool power_settled(struct reconciler *r, const struct model_server *s, struct srv *sv)
{
    struct st_buf name = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    struct virt_info vi = {.state = VIRT_MISSING};
    bool ok = false;
    reconcile_dom_name(s->id, &name);
    if (!sv->fault[0] && virt_state(r->virt, name.buf, &vi, &err) == 0) {
        switch (s->power) {
        case MODEL_POWER_RUNNING:
            ok = vi.state == VIRT_RUNNING;
            break;
        case MODEL_POWER_STOPPED:
            ok = vi.state == VIRT_SHUTOFF;
            break;
        case MODEL_POWER_PAUSED:
            ok = vi.state == VIRT_PAUSED;
            break;
        case MODEL_POWER_SUSPENDED:
            ok = vi.state == VIRT_SUSPENDED || vi.state == VIRT_SHUTOFF;
            break;
        }
    }
    st_buf_release(&name);
    return ok;
}

json_t *migrate_report(struct reconciler *r, const struct model_server *s, struct srv *sv,
                       bool *gone)
{
    const struct model_migration *mg = &s->migration;
    struct mig_srv *m;
    json_t *e;

    *gone = false;
    if (!mg->present || mg->kind == MODEL_MIG_EVACUATION || mg->state == MODEL_MIGS_REBUILD)
        return NULL;
    m = migrate_mem(sv, mg->id);
    if (mg->kind == MODEL_MIG_LIVE) {
        e = migrate_live_report(r, s, sv);
    } else {
        if (mg->state == MODEL_MIGS_RESTORE)
            migrate_set_state(m, power_settled(r, s, sv) ? "restored" : "restoring");
        else if (mg->state == MODEL_MIGS_IMPORT && !strcmp(m->state, "importing") &&
                 !m->error[0] && power_settled(r, s, sv))
            migrate_set_state(m, "imported");
        e = json_pack("{s:s, s:s}", "id", mg->id, "state", m->state[0] ? m->state : "pending");
        if (!strcmp(m->state, "exported"))
            json_object_update(e, m->extra);
    }
    if (m->error[0]) {
        json_object_set_new(e, "state", json_string("error"));
        json_object_set_new(e, "error", json_string(m->error));
    }
    *gone = st_streq(json_string_value(json_object_get(e, "state")), "cleaned");
    return e;
}

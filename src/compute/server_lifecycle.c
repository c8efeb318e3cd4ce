/*
 * server_lifecycle.c - a server's life apart from its actions: creation
 * (validation, quota, scheduling claim and ports in one transaction),
 * rename, metadata, and deletion, each a change of intent plus a bump of the
 * host's revision.  The boot helpers here (images, flavor, metadata) serve
 * rebuild, rescue and resize in server_action.c too.
 */
#include "compute/server.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "compute/flavor.h"
#include "compute/host.h"
#include "compute/internal.h"
#include "compute/migration.h"
#include "compute/scheduler.h"
#include "image/image.h"
#include "store/revision.h"
#include "compute/console.h"
#include "common/banned.h"

#define SERVER_MAX_METADATA 128
#define SERVER_MAX_TAGS 50
#define SERVER_MAX_USER_DATA 65535

/* ---- creation ----------------------------------------------------------- */

/* A hostname as Nova accepts it from 2.90: an RFC 1123 label. */
static int check_hostname(const char *h, struct st_err *err)
{
    size_t n = strlen(h);
    bool ok = n > 0 && n <= 63 && h[0] != '-' && h[n - 1] != '-';
    for (const char *p = h; ok && *p; p++)
        ok = isalnum((unsigned char) *p) || *p == '-';
    if (!ok)
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field 'hostname': '%s' is not a valid hostname", h);
    return ok ? 0 : -1;
}

/* Nova's sanitised hostname: lower case, [a-z0-9-], at most 63. */
static void make_hostname(const char *name, char out[64])
{
    size_t n = 0;
    bool dash = false;
    for (const char *p = name; *p && n < 63; p++) {
        unsigned char ch = (unsigned char) *p;
        if (isalnum(ch)) {
            out[n++] = (char) tolower(ch);
            dash = false;
        } else if ((ch == '-' || ch == ' ' || ch == '_' || ch == '.') && n && !dash) {
            out[n++] = '-';
            dash = true;
        }
    }
    while (n && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    if (!n)
        ST_IGNORE(st_snprintf(out, 64, "server"));
}

/* The flavor the caller may use (compute/flavor.c decides who sees which), as
 * the JSON copy a server keeps; 400 for an unknown or disabled one, as Nova
 * answers a bad flavorRef. */
json_t *server_boot_flavor(struct store_conn *c, const struct auth_ctx *ctx,
                           const char *ref, struct st_err *err)
{
    const char *id = strrchr(ref, '/') ? strrchr(ref, '/') + 1 : ref;
    struct st_err local = ST_ERR_INIT;
    json_t *f = flavor_get(c, ctx, id, &local);
    if (!f) {
        if (local.kind != ST_ERR_NOT_FOUND) {
            *err = local;
            return NULL;
        }
        st_err_set(err, ST_ERR_BAD_REQUEST, "Flavor %s could not be found.", id);
        return NULL;
    }
    if (json_is_true(json_object_get(f, "disabled"))) {
        json_decref(f);
        st_err_set(err, ST_ERR_BAD_REQUEST, "Flavor %s is disabled.", id);
        return NULL;
    }
    if (!json_is_object(json_object_get(f, "extra_specs")))
        json_object_set_new(f, "extra_specs", json_object());
    return f;
}

/* Image metadata as the agent needs it: a subset of the Glance record. */
static json_t *image_meta(json_t *img)
{
    json_t *props = json_object(), *v;
    const char *k;
    static const char *const core[] = {"id", "name", "status", "visibility", "owner", "size",
                                       "virtual_size", "checksum", "os_hash_algo",
                                       "os_hash_value", "disk_format", "container_format",
                                       "min_disk", "min_ram", "protected", "os_hidden", "tags",
                                       "created_at", "updated_at", "self", "file", "schema"};
    json_object_foreach(img, k, v)
    {
        bool is_core = false;
        for (size_t i = 0; i < ST_ARRAY_SIZE(core); i++)
            is_core |= !strcmp(k, core[i]);
        if (!is_core && json_is_string(v))
            json_object_set(props, k, v);
    }
    return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:o}", "id",
                     json_object_get(img, "id"), "name", json_object_get(img, "name"),
                     "disk_format", json_object_get(img, "disk_format"), "container_format",
                     json_object_get(img, "container_format"), "size",
                     json_object_get(img, "size"), "checksum", json_object_get(img, "checksum"),
                     "min_disk", json_object_get(img, "min_disk"), "min_ram",
                     json_object_get(img, "min_ram"), "properties", props);
}

/* An active image the caller may boot, with its kernel and ramdisk:
 * {"image": ..., "kernel": ... | null, "ramdisk": ... | null}. */
json_t *server_boot_images(struct store_conn *c, const struct auth_ctx *ctx, const char *ref,
                           struct st_err *err)
{
    const char *id = strrchr(ref, '/') ? strrchr(ref, '/') + 1 : ref;
    struct st_err local = ST_ERR_INIT;
    json_t *img, *out;
    const char *parts[] = {"kernel_id", "ramdisk_id"};
    const char *names[] = {"kernel", "ramdisk"};

    img = st_is_uuid(id) ? image_get(c, ctx, id, &local) : NULL;
    if (!img || strcmp(json_string_value(json_object_get(img, "status")), "active")) {
        json_decref(img);
        if (local.kind != ST_ERR_NONE && local.kind != ST_ERR_NOT_FOUND) {
            *err = local;
            return NULL;
        }
        st_err_set(err, ST_ERR_BAD_REQUEST, "Image %s could not be found.", id);
        return NULL;
    }
    out = json_pack("{s:o}", "image", image_meta(img));
    for (int i = 0; i < 2; i++) {
        const char *pid = json_string_value(json_object_get(img, parts[i]));
        json_t *p;
        if (!pid || !*pid) {
            json_object_set_new(out, names[i], json_null());
            continue;
        }
        st_err_clear(&local);
        p = st_is_uuid(pid) ? image_get(c, ctx, pid, &local) : NULL;
        if (!p || strcmp(json_string_value(json_object_get(p, "status")), "active")) {
            json_decref(p);
            json_decref(out);
            json_decref(img);
            st_err_set(err, ST_ERR_BAD_REQUEST, "Image %s refers to %s %s, which could not be "
                       "found.", id, names[i], pid);
            return NULL;
        }
        json_object_set_new(out, names[i], image_meta(p));
        json_decref(p);
    }
    json_decref(img);
    return out;
}

int server_check_metadata(json_t *meta, struct st_err *err)
{
    const char *k;
    json_t *v;
    if (!meta)
        return 0;
    if (!json_is_object(meta)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'metadata': not an object");
        return -1;
    }
    if (json_object_size(meta) > SERVER_MAX_METADATA) {
        st_err_set(err, ST_ERR_OVER_QUOTA, "Quota exceeded for metadata_items: at most %d",
                   SERVER_MAX_METADATA);
        return -1;
    }
    json_object_foreach(meta, k, v)
    {
        if (!*k || strlen(k) > 255 || !json_is_string(v) || json_string_length(v) > 255) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field 'metadata': keys must be 1-255 characters and "
                       "values strings of at most 255");
            return -1;
        }
    }
    return 0;
}

int server_set_metadata(struct store_conn *c, const char *id, json_t *meta, struct st_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        if (store_exec(c, err,
                       "INSERT INTO server_metadata (server_id, key, value) VALUES (?, ?, ?)"
                       " ON CONFLICT (server_id, key) DO UPDATE SET value = excluded.value",
                       STORE_ARGS(P(id), P(k), P(json_string_value(v)))) < 0)
            return -1;
    }
    return 0;
}

static json_t *fault_json(int code, const char *message, const char *details)
{
    char t[32];
    st_time_iso(st_now_us(), 0, t);
    return json_pack("{s:i, s:s, s:s, s:s}", "code", code, "message", message, "details",
                     details ? details : "", "created", t);
}

json_t *server_create(struct store_conn *c, const struct compute_conf *conf,
                      const struct auth_ctx *ctx, const struct server_create *req,
                      struct st_err *err)
{
    json_t *images = NULL, *flavor = NULL, *ids = NULL;
    char *key_data = NULL, *flavor_text = NULL, *image_text = NULL;
    char reservation[16], hostname[64], az_buf[256], force_host[HOST_NAME_MAX_LEN + 1] = "";
    int64_t vcpus, ram, disk, root, min_disk, min_ram, now = st_now_us() / 1000000;
    const char *az = req->availability_zone;

    if (policy_write(ctx, ctx->project_id, "project", ctx->project_id, err) < 0)
        return NULL;
    if (server_check_metadata(req->metadata, err) < 0)
        return NULL;
    if (req->hostname && check_hostname(req->hostname, err) < 0)
        return NULL;
    if (req->user_data) {
        struct st_buf ud = ST_BUF_INIT;
        int bad = st_base64_decode(req->user_data, strlen(req->user_data), &ud) < 0;
        size_t n = ud.len;
        st_buf_release(&ud);
        if (bad || n > SERVER_MAX_USER_DATA) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "User data must be valid base64 of at most %d bytes once decoded",
                       SERVER_MAX_USER_DATA);
            return NULL;
        }
    }
    struct compute_nic_request nics[16];
    size_t nnics = 0;
    if (json_is_string(req->networks) && !strcmp(json_string_value(req->networks), "auto")) {
        nics[nnics++] = (struct compute_nic_request){"auto", NULL, NULL};
    } else if (json_is_array(req->networks)) {
        size_t i;
        json_t *n;
        if (json_array_size(req->networks) > ST_ARRAY_SIZE(nics)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "At most %zu networks per server",
                       ST_ARRAY_SIZE(nics));
            return NULL;
        }
        json_array_foreach(req->networks, i, n)
        {
            const char *uuid = json_string_value(json_object_get(n, "uuid"));
            const char *port = json_string_value(json_object_get(n, "port"));
            const char *fixed = json_string_value(json_object_get(n, "fixed_ip"));
            if (!json_is_object(n) || (!uuid && !port) ||
                (uuid && !st_is_uuid(uuid)) || (port && !st_is_uuid(port))) {
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "Invalid input for field 'networks': each needs a uuid or a port");
                return NULL;
            }
            nics[nnics++] = (struct compute_nic_request){uuid, port, fixed};
        }
    }
    bool boot_volume = false;
    char bdm_image[37] = "";
    for (size_t b = 0; b < req->nbdms; b++)
        boot_volume |= req->bdms[b].boot_index == 0 &&
                       !strcmp(req->bdms[b].destination_type, "volume");
    if (req->nbdms && !compute_volumes()) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Block device mappings need the volume service");
        goto fail;
    }
    if (boot_volume &&
        compute_volumes()->boot_image(c, ctx, req->bdms, req->nbdms, bdm_image, err) < 0)
        goto fail;
    if (boot_volume && !bdm_image[0] && (!req->image_ref || !*req->image_ref)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Block Device Mapping is Invalid: the boot volume was not made from an "
                   "image, so there is no kernel to boot.");
        goto fail;
    }
    images = server_boot_images(c, ctx, bdm_image[0] ? bdm_image : req->image_ref, err);
    if (!images)
        goto fail;
    flavor = server_boot_flavor(c, ctx, req->flavor_ref, err);
    if (!flavor)
        goto fail;
    vcpus = json_integer_value(json_object_get(flavor, "vcpus"));
    ram = json_integer_value(json_object_get(flavor, "ram"));
    root = boot_volume ? 0 : json_integer_value(json_object_get(flavor, "disk"));
    disk = root + json_integer_value(json_object_get(flavor, "ephemeral")) +
           (json_integer_value(json_object_get(flavor, "swap")) + 1023) / 1024;
    {
        json_t *img = json_object_get(images, "image");
        int64_t img_size = json_integer_value(json_object_get(img, "size"));
        min_disk = json_integer_value(json_object_get(img, "min_disk"));
        min_ram = json_integer_value(json_object_get(img, "min_ram"));
        if (root > 0 && min_disk > root) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Flavor's disk is too small for requested image. Flavor disk is "
                       "%lld GiB, minimum disk is %lld GiB.",
                       (long long) root, (long long) min_disk);
            goto fail;
        }
        if (root > 0 && img_size > root * 1024 * 1024 * 1024) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Flavor's disk is too small for requested image. Flavor disk is "
                       "%lld bytes, image is %lld bytes.",
                       (long long) (root * 1024 * 1024 * 1024), (long long) img_size);
            goto fail;
        }
        if (min_ram > ram) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Flavor's memory is too small for requested image.");
            goto fail;
        }
    }
    if (req->key_name) {
        struct store_stmt *s = store_query(c, err,
                                           "SELECT public_key FROM keypairs WHERE user_id = ?"
                                           " AND name = ?",
                                           STORE_ARGS(P(ctx->user_id), P(req->key_name)));
        if (!s)
            goto fail;
        if (store_next(s, err) > 0)
            key_data = st_xstrdup(store_text(s, 0));
        store_done(s);
        if (!key_data) {
            if (!st_err_is_set(err))
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid key_name provided.");
            goto fail;
        }
    }
    if (az && strchr(az, ':')) {
        /* Nova's "ZONE:HOST" (or ":HOST"), which forces a host: admins only. */
        const char *colon = strchr(az, ':');
        if (!ctx->is_admin) {
            st_err_set(err, ST_ERR_FORBIDDEN,
                       "Policy doesn't allow os_compute_api:servers:create:forced_host to be"
                       " performed.");
            goto fail;
        }
        if (st_snprintf(az_buf, sizeof(az_buf), "%.*s", (int) (colon - az), az) < 0 ||
            st_snprintf(force_host, sizeof(force_host), "%s", colon + 1) < 0 ||
            strchr(force_host, ':')) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid availability zone '%s'", az);
            goto fail;
        }
        az = az_buf;
    }
    if (az && *az) {
        int64_t one;
        int r = store_get_int(c, err, &one,
                              "SELECT 1 FROM hosts WHERE availability_zone = ? LIMIT 1",
                              STORE_ARGS(P(az)));
        if (r < 0)
            goto fail;
        if (r == 0 && strcmp(az, conf->default_az)) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "The requested availability zone is not available");
            goto fail;
        }
    } else {
        az = NULL;
    }

    flavor_text = compute_json_dumps(flavor);
    image_text = compute_json_dumps(images);
    snprintf(reservation, sizeof(reservation), "r-%08x", (unsigned) (st_now_us() & 0xffffffff));
    if (store_begin(c, err) < 0)
        goto fail;
    if (compute_quota_check(c, conf, ctx->project_id, req->max_count, vcpus * req->max_count,
                            ram * req->max_count, err) < 0) {
        /* Nova tries min_count before giving up. */
        if (err->kind != ST_ERR_OVER_QUOTA || req->min_count == req->max_count)
            goto rollback;
        st_err_clear(err);
        if (compute_quota_check(c, conf, ctx->project_id, req->min_count, vcpus * req->min_count,
                                ram * req->min_count, err) < 0)
            goto rollback;
    }
    ids = json_array();
    for (int i = 0; i < req->max_count; i++) {
        char id[37];
        struct st_buf name = ST_BUF_INIT;
        char host[HOST_NAME_MAX_LEN + 1] = "";
        const char *vm_state = "building", *task_state = "spawning";
        char *fault = NULL;
        struct sched_request sr = {vcpus,
                                   ram,
                                   disk,
                                   az,
                                   force_host[0] ? force_host : NULL,
                                   req->same_host,
                                   req->n_same_host,
                                   req->different_host,
                                   req->n_different_host};
        char host_az[256] = "";
        st_err_clear(err);
        st_uuid(id);
        if (req->max_count > 1)
            st_buf_addf(&name, "%s-%d", req->name, i + 1);
        else
            st_buf_adds(&name, req->name);
        if (req->hostname && req->max_count == 1)
            ST_IGNORE(st_snprintf(hostname, sizeof(hostname), "%s", req->hostname));
        else
            make_hostname(name.buf, hostname);
        int r = sched_claim(c, conf, &sr, host, sizeof(host), err);
        if (r < 0) {
            st_buf_release(&name);
            goto rollback;
        }
        if (r == 0) {
            json_t *f = fault_json(500, "No valid host was found. ",
                                   "There are not enough hosts available.");
            vm_state = "error";
            task_state = NULL;
            fault = compute_json_dumps(f);
            json_decref(f);
        }
        /* A server that asked for no zone is in its host's (Nova). */
        if (r > 0 && !az) {
            struct store_stmt *hz = store_query(c, err,
                                                "SELECT availability_zone FROM hosts WHERE"
                                                " name = ?",
                                                STORE_ARGS(P(host)));
            if (!hz) {
                st_buf_release(&name);
                free(fault);
                goto rollback;
            }
            if (store_next(hz, err) > 0)
                ST_IGNORE(st_snprintf(host_az, sizeof(host_az), "%s", store_text(hz, 0)));
            store_done(hz);
        }
        int64_t rc = store_exec(
            c, err,
            "INSERT INTO servers (id, name, description, hostname, project_id, user_id, host,"
            " image_id, image, flavor, vcpus, memory_mb, disk_gb, key_name, key_data, user_data,"
            " config_drive, availability_zone, vm_state, task_state, launch_index,"
            " reservation_id, fault, access_ipv4, access_ipv6, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?)",
            STORE_ARGS(P(id), P(name.buf), P(req->description), P(hostname), P(ctx->project_id),
                       P(ctx->user_id), P(r > 0 ? host : NULL),
                       P(json_string_value(
                           json_object_get(json_object_get(images, "image"), "id"))),
                       P(image_text), P(flavor_text), P(vcpus), P(ram), P(disk),
                       P(req->key_name), P(key_data), P(req->user_data),
                       P((int) req->config_drive),
                       P(az ? az : host_az[0] ? host_az : conf->default_az), P(vm_state),
                       P(task_state), P(i), P(reservation), P(fault), P(req->access_ipv4),
                       P(req->access_ipv6), P(now), P(now)));
        free(fault);
        st_buf_release(&name);
        if (rc < 0 || server_set_metadata(c, id, req->metadata ? req->metadata : NULL, err) < 0)
            goto rollback;
        if (compute_ports_create(c, ctx, id, r > 0 ? host : NULL,
                                 az ? az : host_az[0] ? host_az : conf->default_az,
                                 nics, nnics, req->security_groups, err) < 0)
            goto rollback;
        if (req->nbdms && compute_volumes()->boot(c, ctx, id, r > 0 ? host : NULL, req->bdms,
                                                  req->nbdms, err) < 0)
            goto rollback;
        for (size_t t = 0; req->tags && t < json_array_size(req->tags); t++)
            if (store_exec(c, err,
                           "INSERT INTO server_tags (server_id, tag) VALUES (?, ?)"
                           " ON CONFLICT DO NOTHING",
                           STORE_ARGS(P(id), P(json_string_value(
                                                 json_array_get(req->tags, t))))) < 0)
                goto rollback;
        if (server_action_start(c, ctx, id, r > 0 ? host : NULL, "create", req->request_id,
                                err) < 0)
            goto rollback;
        if (r == 0 &&
            server_actions_finish(c, id, "Error", "No valid host was found.", err) < 0)
            goto rollback;
        if (r > 0 && revision_bump(c, host, err) < 0)
            goto rollback;
        json_array_append_new(ids, json_string(id));
    }
    if (store_commit(c, err) < 0)
        goto rollback;
    revision_notify();
    goto out;
rollback:
    store_rollback(c);
fail:
    json_decref(ids);
    ids = NULL;
out:
    json_decref(images);
    json_decref(flavor);
    free(key_data);
    free(flavor_text);
    free(image_text);
    return ids;
}

/* ---- changes ------------------------------------------------------------ */

int server_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                  const char *name, const char *hostname, const char *description,
                  bool set_description, struct st_err *err)
{
    struct server_rec r;
    int rc = -1;
    int64_t now = st_now_us() / 1000000;
    if (server_load_writable(c, ctx, id, &r, err) < 0)
        return -1;
    if (server_check_lock(ctx, &r, err) < 0)
        goto out;
    if (store_begin(c, err) < 0)
        goto out;
    if (hostname && check_hostname(hostname, err) < 0) {
        store_rollback(c);
        goto out;
    }
    if ((name && store_exec(c, err, "UPDATE servers SET name = ?, updated_at = ? WHERE id = ?",
                            STORE_ARGS(P(name), P(now), P(id))) < 0) ||
        (hostname &&
         store_exec(c, err, "UPDATE servers SET hostname = ?, updated_at = ? WHERE id = ?",
                    STORE_ARGS(P(hostname), P(now), P(id))) < 0) ||
        (set_description &&
         store_exec(c, err, "UPDATE servers SET description = ?, updated_at = ? WHERE id = ?",
                    STORE_ARGS(P(description), P(now), P(id))) < 0) ||
        store_commit(c, err) < 0) {
        store_rollback(c);
        goto out;
    }
    rc = 0;
out:
    server_rec_release(&r);
    return rc;
}

int server_purge(struct store_conn *c, const char *id, struct st_err *err)
{
    return compute_ports_release(c, id, err) < 0 ||
                   (compute_volumes() && compute_volumes()->release(c, id, err) < 0) ||
                   store_exec(c, err, "DELETE FROM tasks WHERE server_id = ?",
                              STORE_ARGS(P(id))) < 0 ||
                   server_actions_finish(c, id, "Success", NULL, err) < 0 ||
                   console_revoke(c, id, err) < 0 ||
                   store_exec(c, err, "DELETE FROM servers WHERE id = ?", STORE_ARGS(P(id))) < 0
               ? -1
               : 0;
}

int server_delete(struct store_conn *c, const struct compute_conf *conf,
                  const struct auth_ctx *ctx, const char *id, bool force, const char *request_id,
                  struct st_err *err)
{
    struct server_rec r;
    int rc = -1;
    (void) conf;
    (void) force;
    if (server_load_writable(c, ctx, id, &r, err) < 0)
        return -1;
    if (server_check_lock(ctx, &r, err) < 0)
        goto out;
    if (store_begin(c, err) < 0)
        goto out;
    if (server_action_start(c, ctx, id, r.host, "delete", request_id, err) < 0 ||
        console_revoke(c, id, err) < 0 || migration_server_deleted(c, id, err) < 0)
        goto rollback;
    if (!r.host) {
        if (server_purge(c, id, err) < 0)
            goto rollback;
    } else if (store_exec(c, err,
                          "UPDATE servers SET delete_requested = 1, task_state = 'deleting',"
                          " updated_at = ? WHERE id = ?",
                          STORE_ARGS(P(st_now_us() / 1000000), P(id))) < 0 ||
               revision_bump(c, r.host, err) < 0) {
        goto rollback;
    }
    if (store_commit(c, err) < 0)
        goto rollback;
    revision_notify();
    rc = 0;
    goto out;
rollback:
    store_rollback(c);
out:
    server_rec_release(&r);
    return rc;
}

int server_metadata_set(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        json_t *meta, bool replace, struct st_err *err)
{
    struct server_rec r;
    int rc = -1;
    if (server_check_metadata(meta, err) < 0 || server_load_writable(c, ctx, id, &r, err) < 0)
        return -1;
    if (server_check_lock(ctx, &r, err) < 0)
        goto out;
    if (!replace && json_object_size(r.metadata) + json_object_size(meta) >
                        SERVER_MAX_METADATA) {
        json_t *merged = json_deep_copy(r.metadata);
        json_object_update(merged, meta);
        size_t total = json_object_size(merged);
        json_decref(merged);
        if (total > SERVER_MAX_METADATA) {
            st_err_set(err, ST_ERR_OVER_QUOTA, "Quota exceeded for metadata_items: at most %d",
                       SERVER_MAX_METADATA);
            goto out;
        }
    }
    if (store_begin(c, err) < 0)
        goto out;
    if ((replace && store_exec(c, err, "DELETE FROM server_metadata WHERE server_id = ?",
                               STORE_ARGS(P(id))) < 0) ||
        server_set_metadata(c, id, meta, err) < 0 ||
        store_exec(c, err, "UPDATE servers SET updated_at = ? WHERE id = ?",
                   STORE_ARGS(P(st_now_us() / 1000000), P(id))) < 0 ||
        (r.host && revision_bump(c, r.host, err) < 0) || store_commit(c, err) < 0) {
        store_rollback(c);
        goto out;
    }
    revision_notify();
    rc = 0;
out:
    server_rec_release(&r);
    return rc;
}

int server_metadata_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                           const char *key, struct st_err *err)
{
    struct server_rec r;
    int64_t n;
    int rc = -1;
    if (server_load_writable(c, ctx, id, &r, err) < 0)
        return -1;
    if (server_check_lock(ctx, &r, err) < 0)
        goto out;
    n = store_exec(c, err, "DELETE FROM server_metadata WHERE server_id = ? AND key = ?",
                   STORE_ARGS(P(id), P(key)));
    if (n == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Metadata item was not found");
    rc = n > 0 ? 0 : -1;
out:
    server_rec_release(&r);
    return rc;
}


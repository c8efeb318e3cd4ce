/*
 * servers.c (api) - Nova servers under /compute/v2.1: create, list, show,
 * update, delete, actions, metadata, instance actions.  The views follow the
 * microversion negotiated for the request, field for field as Tempest's
 * response schemas describe them; the logic is in compute/server.c,
 * server_lifecycle.c and server_action.c.
 */
#include "api/servers.h"

#include "api/migrations.h"

#include "api/consoles.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/util.h"
#include "compute/host.h"
#include "compute/scheduler.h"
#include "compute/server.h"
#include "compute/volumes.h"
#include "network/network.h"
#include "common/banned.h"

#define V21 "/compute/v2.1"

/* ---- views -------------------------------------------------------------- */

static json_t *links(const struct api_req *req, const char *kind, const char *id)
{
    struct st_buf self = ST_BUF_INIT, book = ST_BUF_INIT;
    json_t *j;
    st_buf_addf(&self, "%s" V21 "/%s/%s", req->base_url.buf, kind, id);
    st_buf_addf(&book, "%s/compute/%s/%s", req->base_url.buf, kind, id);
    j = json_pack("[{s:s, s:s}, {s:s, s:s}]", "rel", "self", "href", self.buf, "rel",
                  "bookmark", "href", book.buf);
    st_buf_release(&self);
    st_buf_release(&book);
    return j;
}

static json_t *bookmark(const struct api_req *req, const char *kind, const char *id)
{
    struct st_buf book = ST_BUF_INIT;
    json_t *j;
    st_buf_addf(&book, "%s/compute/%s/%s", req->base_url.buf, kind, id);
    j = json_pack("[{s:s, s:s}]", "rel", "bookmark", "href", book.buf);
    st_buf_release(&book);
    return j;
}

static json_t *iso(int64_t secs)
{
    char t[32];
    st_time_iso(secs * 1000000, 0, t);
    return json_string(t);
}

/* Nova prints launched/terminated times with microseconds and no zone. */
static json_t *usage_time(int64_t secs)
{
    char t[32];
    size_t n;
    if (!secs)
        return json_null();
    st_time_iso(secs * 1000000, 6, t);
    n = strlen(t);
    if (n && t[n - 1] == 'Z')
        t[n - 1] = '\0';
    return json_string(t);
}

/* hostId: sha224(project_id + host), "" without a host (Nova). */
static json_t *host_id(const struct server_rec *r)
{
    struct st_buf in = ST_BUF_INIT, out = ST_BUF_INIT;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    json_t *j;
    if (!r->host)
        return json_string("");
    st_buf_addf(&in, "%s%s", r->project_id, r->host);
    EVP_Digest(in.buf, in.len, d, &n, EVP_sha224(), NULL);
    st_hex_encode(d, n, &out);
    j = json_string(out.buf);
    st_buf_release(&in);
    st_buf_release(&out);
    return j;
}

static bool progress_status(const char *status)
{
    return !strcmp(status, "ACTIVE") || !strcmp(status, "BUILD") || !strcmp(status, "REBUILD") ||
           !strcmp(status, "RESIZE") || !strcmp(status, "VERIFY_RESIZE");
}

static json_t *flavor_view(const struct api_req *req, const struct server_rec *r)
{
    json_t *f = r->flavor;
    if (api_mv(req, 2, 47)) {
        json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}", "vcpus",
                              json_integer_value(json_object_get(f, "vcpus")), "ram",
                              json_integer_value(json_object_get(f, "ram")), "disk",
                              json_integer_value(json_object_get(f, "disk")), "ephemeral",
                              json_integer_value(json_object_get(f, "ephemeral")), "swap",
                              json_integer_value(json_object_get(f, "swap")), "original_name",
                              json_string_value(json_object_get(f, "name"))
                                  ? json_string_value(json_object_get(f, "name"))
                                  : "");
        json_t *specs = json_object_get(f, "extra_specs");
        json_object_set(o, "extra_specs", json_is_object(specs) ? specs : json_object());
        if (!json_is_object(specs))
            json_decref(json_object_get(o, "extra_specs"));
        return o;
    }
    const char *fid = json_string_value(json_object_get(f, "id"));
    return json_pack("{s:s, s:o}", "id", fid ? fid : "", "links",
                     bookmark(req, "flavors", fid ? fid : ""));
}

/* 'detail' is the full view (show, list detail); without it the basic view
 * of update and rebuild responses. */
static json_t *server_view(const struct api_req *req, const struct server_rec *r, bool detail,
                           bool list)
{
    const char *status = server_status(r);
    bool admin = req->auth.is_admin;
    json_t *o = json_object();
    const char *image_id = r->image_id;

    json_object_set_new(o, "id", json_string(r->id));
    json_object_set_new(o, "name", json_string(r->name));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "tenant_id", json_string(r->project_id));
    json_object_set_new(o, "user_id", json_string(r->user_id));
    json_object_set(o, "metadata", r->metadata ? r->metadata : json_object());
    if (!r->metadata)
        json_decref(json_object_get(o, "metadata"));
    json_object_set_new(o, "hostId", host_id(r));
    json_object_set_new(o, "image", image_id ? json_pack("{s:s, s:o}", "id", image_id, "links",
                                                         bookmark(req, "images", image_id))
                                             : json_string(""));
    json_object_set_new(o, "flavor", flavor_view(req, r));
    json_object_set_new(o, "created", iso(r->created_at));
    json_object_set_new(o, "updated", iso(r->updated_at));
    json_object_set(o, "addresses", r->addresses ? r->addresses : json_object());
    if (!r->addresses)
        json_decref(json_object_get(o, "addresses"));
    json_object_set_new(o, "accessIPv4", json_string(r->access_ipv4 ? r->access_ipv4 : ""));
    json_object_set_new(o, "accessIPv6", json_string(r->access_ipv6 ? r->access_ipv6 : ""));
    json_object_set_new(o, "links", links(req, "servers", r->id));
    json_object_set_new(o, "OS-DCF:diskConfig", json_string("MANUAL"));
    if (progress_status(status))
        json_object_set_new(o, "progress", json_integer(0));
    if ((!strcmp(status, "ERROR") || !strcmp(status, "DELETED")) && r->fault) {
        json_t *f = json_pack("{s:O, s:O, s:O}", "code", json_object_get(r->fault, "code"),
                              "message", json_object_get(r->fault, "message"), "created",
                              json_object_get(r->fault, "created"));
        /* Nova shows the details to admins, and to all for non-500s. */
        if (json_object_get(r->fault, "details") &&
            (admin || json_integer_value(json_object_get(r->fault, "code")) != 500))
            json_object_set(f, "details", json_object_get(r->fault, "details"));
        json_object_set_new(o, "fault", f);
    }
    if (detail) {
        json_object_set_new(o, "key_name", st_json_str_or_null(r->key_name));
        if (r->security_groups && json_array_size(r->security_groups))
            json_object_set(o, "security_groups", r->security_groups);
        json_object_set_new(o, "OS-SRV-USG:launched_at", usage_time(r->launched_at));
        json_object_set_new(o, "OS-SRV-USG:terminated_at", usage_time(r->terminated_at));
        json_object_set_new(o, "OS-EXT-AZ:availability_zone",
                            json_string(r->availability_zone ? r->availability_zone : "nova"));
        json_object_set_new(o, "OS-EXT-STS:task_state", st_json_str_or_null(r->task_state));
        json_object_set_new(o, "OS-EXT-STS:vm_state", json_string(r->vm_state));
        json_object_set_new(o, "OS-EXT-STS:power_state", json_integer(r->power_state));
        {
            /* Nova lists delete_on_termination from 2.3. */
            struct st_err verr = ST_ERR_INIT;
            json_t *va = compute_volumes() && req->db
                             ? compute_volumes()->attached(req->db, r->id, &verr)
                             : NULL, *e;
            size_t vi;
            if (!va)
                va = json_array();
            if (!api_mv(req, 2, 3))
                json_array_foreach(va, vi, e) json_object_del(e, "delete_on_termination");
            json_object_set_new(o, "os-extended-volumes:volumes_attached", va);
        }
        json_object_set_new(o, "config_drive", json_string(r->config_drive ? "True" : ""));
        if (admin) {
            struct st_buf iname = ST_BUF_INIT;
            st_buf_addf(&iname, "instance-%s", r->id);
            json_object_set_new(o, "OS-EXT-SRV-ATTR:host", st_json_str_or_null(r->host));
            json_object_set_new(o, "OS-EXT-SRV-ATTR:instance_name", json_string(iname.buf));
            json_object_set_new(o, "OS-EXT-SRV-ATTR:hypervisor_hostname",
                                st_json_str_or_null(r->host ? r->hypervisor_hostname : NULL));
            st_buf_release(&iname);
            if (api_mv(req, 2, 3)) {
                json_t *img = json_object_get(r->image, "image");
                json_t *props = json_object_get(img, "properties");
                json_object_set_new(o, "OS-EXT-SRV-ATTR:reservation_id",
                                    st_json_str_or_null(r->reservation_id));
                json_object_set_new(o, "OS-EXT-SRV-ATTR:launch_index",
                                    json_integer(r->launch_index));
                if (!api_mv(req, 2, 90))
                    json_object_set_new(o, "OS-EXT-SRV-ATTR:hostname",
                                        json_string(r->hostname));
                json_object_set_new(o, "OS-EXT-SRV-ATTR:kernel_id",
                                    json_string(json_string_value(json_object_get(
                                                    props, "kernel_id"))
                                                    ? json_string_value(
                                                          json_object_get(props, "kernel_id"))
                                                    : ""));
                json_object_set_new(o, "OS-EXT-SRV-ATTR:ramdisk_id",
                                    json_string(json_string_value(json_object_get(
                                                    props, "ramdisk_id"))
                                                    ? json_string_value(
                                                          json_object_get(props, "ramdisk_id"))
                                                    : ""));
                json_object_set_new(o, "OS-EXT-SRV-ATTR:root_device_name",
                                    json_string("/dev/vda"));
                json_object_set_new(o, "OS-EXT-SRV-ATTR:user_data",
                                    st_json_str_or_null(r->user_data));
            }
            if (api_mv(req, 2, 16))
                json_object_set_new(o, "host_status",
                                    json_string(!r->host ? "" : r->host_up ? "UP" : "DOWN"));
        }
    }
    /* From 2.90 everyone sees (and may set) the hostname. */
    if (api_mv(req, 2, 90) && detail)
        json_object_set_new(o, "OS-EXT-SRV-ATTR:hostname", json_string(r->hostname));
    if (api_mv(req, 2, 9))
        json_object_set_new(o, "locked", json_boolean(r->locked));
    if (api_mv(req, 2, 19))
        json_object_set_new(o, "description", st_json_str_or_null(r->description));
    if (api_mv(req, 2, 26))
        json_object_set(o, "tags", r->tags ? r->tags : json_array());
    if (api_mv(req, 2, 26) && !r->tags)
        json_decref(json_object_get(o, "tags"));
    if (api_mv(req, 2, 63))
        json_object_set_new(o, "trusted_image_certificates", json_null());
    if (api_mv(req, 2, 71) && !list)
        json_object_set_new(o, "server_groups", json_array());
    if (api_mv(req, 2, 73) && (detail || !list))
        json_object_set_new(o, "locked_reason", st_json_str_or_null(r->locked_reason));
    return o;
}

/* The network facts of a server's view, from the network service. */
static int load_net(struct api_req *req, struct server_rec *r, struct st_err *err)
{
    r->addresses = net_server_addresses(req->db, r->id, err);
    if (!r->addresses)
        return -1;
    r->security_groups = net_server_security_groups(req->db, r->id, err);
    return r->security_groups ? 0 : -1;
}

static const struct compute_conf *conf_of(const struct api_req *req)
{
    return req->app->compute;
}

/* ---- create ------------------------------------------------------------- */

static int int_field(json_t *in, const char *key, int dflt, int *out, struct st_err *err)
{
    int64_t v = dflt;
    if (jget_int(in, key, false, 1, 1000, &v, err) < 0)
        return -1;
    *out = (int) v;
    return 0;
}

/* "block_device_mapping_v2" (and the legacy "block_device_mapping" of a
 * volume): the entries that make or attach volumes go into 'sc'; the
 * image's own local disk (source image, destination local) is imageRef's. */
static int parse_bdms(json_t *in, struct server_create *sc, struct compute_bdm *bdms, size_t max,
                      struct st_err *err)
{
    json_t *list = json_object_get(in, "block_device_mapping_v2"), *e;
    json_t *legacy = json_object_get(in, "block_device_mapping");
    size_t i;
    bool v2 = list != NULL;
    sc->bdms = bdms;
    sc->nbdms = 0;
    if (!list)
        list = legacy;
    if (!list)
        return 0;
    if (!json_is_array(list) || json_array_size(list) > max) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field 'block_device_mapping_v2': at most %zu entries", max);
        return -1;
    }
    json_array_foreach(list, i, e)
    {
        struct compute_bdm b = {NULL, "volume", NULL, 0, -1, false, NULL};
        json_t *bi = json_object_get(e, "boot_index");
        const char *dest = NULL;
        if (!json_is_object(e) ||
            jget_str(e, "source_type", false, 16, &b.source_type, err) < 0 ||
            jget_str(e, "destination_type", false, 16, &dest, err) < 0 ||
            jget_str(e, "uuid", false, 64, &b.uuid, err) < 0 ||
            jget_str(e, "volume_type", false, 255, &b.volume_type, err) < 0) {
            if (!st_err_is_set(err))
                st_err_set(err, ST_ERR_BAD_REQUEST,
                           "Invalid input for field 'block_device_mapping_v2'");
            return -1;
        }
        if (!v2) {
            /* legacy: {"volume_id", "device_name", "delete_on_termination"} */
            if (jget_str(e, "volume_id", true, 64, &b.uuid, err) < 0)
                return -1;
            b.source_type = "volume";
            const char *dn = json_string_value(json_object_get(e, "device_name"));
            if (dn && (!strcmp(dn, "vda") || !strcmp(dn, "/dev/vda")))
                b.boot_index = 0;
        }
        if (!b.source_type)
            b.source_type = "volume";
        if (dest)
            b.destination_type = dest;
        if (json_is_integer(bi))
            b.boot_index = (int) json_integer_value(bi);
        else if (json_is_string(bi)) {
            int64_t n;
            if (st_parse_i64(json_string_value(bi), -1, 64, &n) < 0) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'boot_index'");
                return -1;
            }
            b.boot_index = (int) n;
        }
        {
            json_t *vs = json_object_get(e, "volume_size");
            int64_t n = 0;
            if (json_is_integer(vs))
                n = json_integer_value(vs);
            else if (json_is_string(vs) && st_parse_i64(json_string_value(vs), 1, 16384, &n) < 0)
                n = -1;
            if (n < 0 || n > 16384) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'volume_size'");
                return -1;
            }
            b.volume_size = n;
        }
        {
            json_t *d = json_object_get(e, "delete_on_termination");
            bool v = false;
            b.delete_on_termination =
                json_is_true(d) ||
                (json_is_string(d) && st_parse_bool(json_string_value(d), &v) == 0 && v);
        }
        if (strcmp(b.source_type, "volume") && strcmp(b.source_type, "image") &&
            strcmp(b.source_type, "snapshot") && strcmp(b.source_type, "blank")) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'source_type'");
            return -1;
        }
        if (!strcmp(b.destination_type, "local")) {
            /* The image disk itself (source image, boot 0): imageRef's job. */
            if (!strcmp(b.source_type, "image") && b.uuid && (!sc->image_ref || !*sc->image_ref))
                sc->image_ref = b.uuid;
            continue;
        }
        if (strcmp(b.destination_type, "volume")) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'destination_type'");
            return -1;
        }
        if (strcmp(b.source_type, "volume") && strcmp(b.source_type, "blank") &&
            b.volume_size < 1 && strcmp(b.source_type, "snapshot")) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Block Device Mapping is Invalid: You specified more local devices than "
                       "the limit allows or a volume without volume_size.");
            return -1;
        }
        if (!strcmp(b.source_type, "blank") && b.volume_size < 1) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'volume_size'");
            return -1;
        }
        bdms[sc->nbdms++] = b;
    }
    return 0;
}

/* One hint of os:scheduler_hints: a server id or a list of them. */
static int hint_ids(json_t *hints, const char *key, const char **out, size_t *n,
                    struct st_err *err)
{
    json_t *v = json_object_get(hints, key), *e;
    size_t i;
    *n = 0;
    if (!v)
        return 0;
    if (json_is_string(v))
        v = json_pack("[O]", v);
    else if (json_is_array(v))
        json_incref(v);
    else
        v = NULL;
    if (!v || json_array_size(v) > SCHED_MAX_HINTS)
        goto bad;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || !st_is_uuid(json_string_value(e)))
            goto bad;
        /* The body's own strings ("[O]" shares them): borrowed for the
         * request. */
        out[(*n)++] = json_string_value(e);
    }
    json_decref(v);
    return 0;
bad:
    json_decref(v);
    st_err_set(err, ST_ERR_BAD_REQUEST,
               "Invalid input for field/attribute %s: expected server UUIDs (at most %d)", key,
               SCHED_MAX_HINTS);
    return -1;
}

/* os:scheduler_hints (or OS-SCH-HNT:scheduler_hints) beside "server":
 * same_host and different_host; other hints are ignored, as Nova ignores
 * those no enabled filter reads. */
static int scheduler_hints(json_t *body, const char **same, size_t *n_same, const char **diff,
                           size_t *n_diff, struct st_err *err)
{
    json_t *h = json_object_get(body, "os:scheduler_hints");
    if (!h)
        h = json_object_get(body, "OS-SCH-HNT:scheduler_hints");
    *n_same = *n_diff = 0;
    if (!h)
        return 0;
    if (!json_is_object(h)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field/attribute os:scheduler_hints");
        return -1;
    }
    return hint_ids(h, "same_host", same, n_same, err) < 0 ||
                   hint_ids(h, "different_host", diff, n_diff, err) < 0
               ? -1
               : 0;
}

static int servers_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *body = api_body_json(req, err), *in, *ids, *cd;
    struct server_create sc;
    struct st_buf loc = ST_BUF_INIT;
    char pass[13];
    const char *first;

    if (!body || jget_obj(body, "server", true, &in, err) < 0)
        return -1;
    memset(&sc, 0, sizeof(sc));
    if (jget_str(in, "name", true, 255, &sc.name, err) < 0 ||
        jget_str(in, "imageRef", false, 2048, &sc.image_ref, err) < 0 ||
        jget_str(in, "flavorRef", true, 2048, &sc.flavor_ref, err) < 0 ||
        jget_str(in, "key_name", false, 255, &sc.key_name, err) < 0 ||
        jget_str(in, "user_data", false, 65535 * 4 / 3 + 4, &sc.user_data, err) < 0 ||
        jget_str(in, "availability_zone", false, 255, &sc.availability_zone, err) < 0 ||
        jget_str(in, "accessIPv4", false, 64, &sc.access_ipv4, err) < 0 ||
        jget_str(in, "accessIPv6", false, 64, &sc.access_ipv6, err) < 0 ||
        jget_str(in, "adminPass", false, 255, &sc.admin_pass, err) < 0 ||
        int_field(in, "min_count", 1, &sc.min_count, err) < 0 ||
        int_field(in, "max_count", 0, &sc.max_count, err) < 0)
        return -1;
    if (!*sc.name || sc.name[0] == ' ' || sc.name[strlen(sc.name) - 1] == ' ') {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field 'name': it must not be empty or start or end with "
                   "whitespace");
        return -1;
    }
    struct compute_bdm bdms[16];
    if (parse_bdms(in, &sc, bdms, ST_ARRAY_SIZE(bdms), err) < 0)
        return -1;
    if ((!sc.image_ref || !*sc.image_ref) && !sc.nbdms) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'imageRef': it is required "
                                            "unless a block device mapping boots the server");
        return -1;
    }
    if (api_mv(req, 2, 19) &&
        jget_str_n(in, "description", false, 255, &sc.description, NULL, err) < 0)
        return -1;
    if (api_mv(req, 2, 90) && jget_str(in, "hostname", false, 63, &sc.hostname, err) < 0)
        return -1;
    if (sc.max_count == 0)
        sc.max_count = sc.min_count;
    if (sc.min_count > sc.max_count) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "min_count must be <= max_count");
        return -1;
    }
    cd = json_object_get(in, "config_drive");
    if (json_is_boolean(cd))
        sc.config_drive = json_is_true(cd);
    else if (json_is_string(cd)) {
        bool b = false;
        sc.config_drive = st_parse_bool(json_string_value(cd), &b) == 0 && b;
    } else if (cd && !json_is_null(cd)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'config_drive'");
        return -1;
    }
    sc.metadata = json_object_get(in, "metadata");
    if (api_mv(req, 2, 52)) {
        sc.tags = json_object_get(in, "tags");
        if (sc.tags && (!json_is_array(sc.tags) || json_array_size(sc.tags) > 50)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'tags'");
            return -1;
        }
        for (size_t i = 0; i < json_array_size(sc.tags); i++) {
            json_t *t = json_array_get(sc.tags, i);
            if (!json_is_string(t) || !json_string_length(t) || json_string_length(t) > 60 ||
                strpbrk(json_string_value(t), ",/")) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'tags'");
                return -1;
            }
        }
    }
    sc.security_groups = json_object_get(in, "security_groups");
    if (sc.security_groups && !json_is_array(sc.security_groups)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'security_groups'");
        return -1;
    }
    sc.networks = json_object_get(in, "networks");
    if (json_is_string(sc.networks)) {
        const char *n = json_string_value(sc.networks);
        if (strcmp(n, "none") && strcmp(n, "auto")) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Invalid input for field 'networks': expected 'auto', 'none' or a list");
            return -1;
        }
    } else if (sc.networks && !json_is_array(sc.networks)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'networks'");
        return -1;
    } else if (!sc.networks && api_mv(req, 2, 37)) {
        st_err_set(err, ST_ERR_BAD_REQUEST,
                   "Invalid input for field 'networks': it is required from microversion 2.37");
        return -1;
    }
    sc.request_id = req->request_id;
    const char *same[SCHED_MAX_HINTS], *diff[SCHED_MAX_HINTS];
    if (scheduler_hints(body, same, &sc.n_same_host, diff, &sc.n_different_host, err) < 0)
        return -1;
    sc.same_host = same;
    sc.different_host = diff;
    ids = server_create(req->db, conf_of(req), &req->auth, &sc, err);
    if (!ids)
        return -1;
    first = json_string_value(json_array_get(ids, 0));
    if (!sc.admin_pass) {
        static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        unsigned char rnd[12];
        st_random(rnd, sizeof(rnd));
        for (int i = 0; i < 12; i++)
            pass[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
        pass[12] = '\0';
        sc.admin_pass = pass;
    }
    st_buf_addf(&loc, "%s" V21 "/servers/%s", req->base_url.buf, first);
    api_add_header(resp, "Location", "%s", loc.buf);
    st_buf_release(&loc);
    api_reply(resp, 202,
              json_pack("{s:{s:s, s:o, s:s, s:[{s:s}], s:s}}", "server", "id", first, "links",
                        links(req, "servers", first), "OS-DCF:diskConfig", "MANUAL",
                        "security_groups", "name", "default", "adminPass", sc.admin_pass));
    json_decref(ids);
    return 0;
}

/* ---- read --------------------------------------------------------------- */

struct list_args {
    struct server_query *q;
    struct st_err *err;
};

static void list_param(void *arg, const char *k, const char *v)
{
    struct list_args *la = arg;
    struct server_query *q = la->q;
    int64_t n;
    if (st_err_is_set(la->err))
        return;
    if (!strcmp(k, "name"))
        q->name_regex = v;
    else if (!strcmp(k, "status"))
        q->status = v;
    else if (!strcmp(k, "image"))
        q->image = v;
    else if (!strcmp(k, "flavor"))
        q->flavor = v;
    else if (!strcmp(k, "host"))
        q->host = v;
    else if (!strcmp(k, "ip"))
        q->ip = v;
    else if (!strcmp(k, "marker"))
        q->marker = v;
    else if (!strcmp(k, "project_id") || !strcmp(k, "tenant_id"))
        q->project_id = v;
    else if (!strcmp(k, "sort_key"))
        q->sort_key = v;
    else if (!strcmp(k, "sort_dir"))
        q->sort_asc = !strcasecmp(v, "asc");
    else if (!strcmp(k, "all_tenants")) {
        bool b = true;
        q->all_tenants = !*v || (st_parse_bool(v, &b) == 0 && b);
    } else if (!strcmp(k, "limit")) {
        if (st_parse_i64(v, 0, INT32_MAX, &n) < 0)
            st_err_set(la->err, ST_ERR_BAD_REQUEST, "Invalid input for query parameters limit");
        else
            q->limit = (int) (n > 1000 ? 1000 : n);
    } else if (!strcmp(k, "changes-since") || !strcmp(k, "changes_since")) {
        if (st_time_parse(v, &n) < 0)
            st_err_set(la->err, ST_ERR_BAD_REQUEST, "Invalid changes-since value");
        else
            q->changes_since = n / 1000000;
    }
}

static int servers_list_common(struct api_req *req, struct api_resp *resp, bool detail,
                               struct st_err *err)
{
    struct server_query q;
    struct list_args la = {&q, err};
    struct server_rec *recs;
    size_t n;
    bool more;
    json_t *arr, *body;

    server_query_init(&q);
    api_query_each(req, list_param, &la);
    if (st_err_is_set(err))
        return -1;
    if (q.all_tenants && !req->auth.is_admin)
        q.all_tenants = false; /* Nova ignores it for non-admins */
    if (server_list(req->db, conf_of(req), &req->auth, &q, &recs, &n, &more, err) < 0)
        return -1;
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (detail && load_net(req, &recs[i], err) < 0) {
            json_decref(arr);
            server_list_free(recs, n);
            return -1;
        }
        if (detail)
            json_array_append_new(arr, server_view(req, &recs[i], true, true));
        else
            json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "id", recs[i].id, "name",
                                                 recs[i].name, "links",
                                                 links(req, "servers", recs[i].id)));
    }
    body = json_pack("{s:o}", "servers", arr);
    if (more && n) {
        struct st_buf next = ST_BUF_INIT;
        st_buf_addf(&next, "%s" V21 "/servers%s?limit=%d&marker=%s", req->base_url.buf,
                    detail ? "/detail" : "", q.limit, recs[n - 1].id);
        json_object_set_new(body, "servers_links",
                            json_pack("[{s:s, s:s}]", "rel", "next", "href", next.buf));
        st_buf_release(&next);
    }
    server_list_free(recs, n);
    api_reply(resp, 200, body);
    return 0;
}

static int servers_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return servers_list_common(req, resp, false, err);
}

static int servers_detail(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return servers_list_common(req, resp, true, err);
}

static int reply_server(struct api_req *req, struct api_resp *resp, int status, bool detail,
                        const char *admin_pass, struct st_err *err)
{
    struct server_rec r;
    json_t *v;
    if (server_get(req->db, &req->auth, api_param(req, 0), &r, err) < 0)
        return -1;
    if (load_net(req, &r, err) < 0) {
        server_rec_release(&r);
        return -1;
    }
    v = server_view(req, &r, detail, false);
    if (admin_pass)
        json_object_set_new(v, "adminPass", json_string(admin_pass));
    server_rec_release(&r);
    api_reply(resp, status, json_pack("{s:o}", "server", v));
    return 0;
}

static int servers_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return reply_server(req, resp, 200, true, NULL, err);
}

static int servers_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *body = api_body_json(req, err), *in;
    const char *name = NULL, *desc = NULL, *hostname = NULL;
    bool has_desc = false;
    if (!body || jget_obj(body, "server", true, &in, err) < 0 ||
        jget_str(in, "name", false, 255, &name, err) < 0)
        return -1;
    if (api_mv(req, 2, 90) && jget_str(in, "hostname", false, 63, &hostname, err) < 0)
        return -1;
    if (api_mv(req, 2, 19) && jget_str_n(in, "description", false, 255, &desc, &has_desc, err) < 0)
        return -1;
    if (name && (!*name || name[0] == ' ' || name[strlen(name) - 1] == ' ')) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'name'");
        return -1;
    }
    if (server_update(req->db, &req->auth, api_param(req, 0), name, hostname, desc, has_desc,
                      err) < 0)
        return -1;
    return reply_server(req, resp, 200, false, NULL, err);
}

static int servers_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (server_delete(req->db, conf_of(req), &req->auth, api_param(req, 0), false,
                      req->request_id, err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

/* ---- actions ------------------------------------------------------------ */

static const struct {
    const char *name;
    enum server_action_kind kind;
} actions[] = {
    {"os-start", SA_START},
    {"os-stop", SA_STOP},
    {"reboot", SA_REBOOT},
    {"pause", SA_PAUSE},
    {"unpause", SA_UNPAUSE},
    {"suspend", SA_SUSPEND},
    {"resume", SA_RESUME},
    {"lock", SA_LOCK},
    {"unlock", SA_UNLOCK},
    {"rebuild", SA_REBUILD},
    {"rescue", SA_RESCUE},
    {"unrescue", SA_UNRESCUE},
    {"resize", SA_RESIZE},
    {"confirmResize", SA_CONFIRM_RESIZE},
    {"revertResize", SA_REVERT_RESIZE},
    {"createImage", SA_CREATE_IMAGE},
    {"os-getConsoleOutput", SA_CONSOLE_OUTPUT},
    {"forceDelete", SA_FORCE_DELETE},
};

/* Actions carried out by the network service on the server's ports. */
static int network_action(struct api_req *req, struct api_resp *resp, const char *key,
                          json_t *args, struct st_err *err)
{
    struct server_rec r;
    int rc;
    if (server_get(req->db, &req->auth, api_param(req, 0), &r, err) < 0)
        return -1;
    rc = policy_write(&req->auth, r.project_id, "instance", r.id, err);
    server_rec_release(&r);
    if (rc < 0)
        return -1;
    if (!strcmp(key, "addFloatingIp") || !strcmp(key, "removeFloatingIp")) {
        const char *addr = json_string_value(json_object_get(args, "address"));
        const char *fixed = json_string_value(json_object_get(args, "fixed_address"));
        if (!addr) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'address'");
            return -1;
        }
        rc = net_server_floating_ip(req->db, &req->auth, api_param(req, 0), addr, fixed,
                                    !strcmp(key, "addFloatingIp"), err);
    } else {
        const char *name = json_string_value(json_object_get(args, "name"));
        if (!name || !*name) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for field 'name'");
            return -1;
        }
        rc = net_server_security_group(req->db, &req->auth, api_param(req, 0), name,
                                       !strcmp(key, "addSecurityGroup"), err);
    }
    if (rc < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

/* The tail of 'text' holding its last 'lines' lines (-1: all). */
static const char *tail_lines(const char *text, int64_t lines)
{
    const char *p;
    if (lines < 0)
        return text;
    if (lines == 0)
        return text + strlen(text);
    p = text + strlen(text);
    if (p > text && p[-1] == '\n')
        p--;
    while (p > text) {
        if (p[-1] == '\n' && --lines == 0)
            break;
        p--;
    }
    return p;
}

static int console_output(struct api_req *req, struct api_resp *resp, const char *task_id,
                          json_t *args, struct st_err *err)
{
    json_t *result = NULL;
    char *error = NULL;
    int rc;
    int64_t length = -1;
    json_t *l = json_object_get(args, "length");
    if (json_is_integer(l))
        length = json_integer_value(l);
    else if (json_is_string(l) && st_parse_i64(json_string_value(l), -1, INT32_MAX, &length) < 0)
        length = -1;
    /* The store connection is not needed while the agent works. */
    api_db_release(req);
    rc = host_task_wait(req->app->store, task_id, 30000, &result, &error, err);
    if (rc < 0)
        return -1;
    if (rc == 2) {
        st_err_set(err, ST_ERR_CONFLICT,
                   "The console log is not available: the host did not answer in time.");
        return -1;
    }
    if (rc == 1) {
        st_err_set(err, ST_ERR_CONFLICT, "The console log is not available: %s",
                   error ? error : "the host could not read it");
        free(error);
        json_decref(result);
        return -1;
    }
    const char *out = json_string_value(json_object_get(result, "output"));
    api_reply(resp, 200, json_pack("{s:s}", "output", tail_lines(out ? out : "", length)));
    json_decref(result);
    free(error);
    return 0;
}

static int servers_action(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *body = api_body_json(req, err);
    struct server_action_result res;
    const char *key = NULL;
    json_t *args = NULL;
    int kind = -1;

    if (!body)
        return -1;
    if (json_object_size(body) != 1) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "An action request must have exactly one action");
        return -1;
    }
    json_object_foreach(body, key, args) break;
    if (!strcmp(key, "addFloatingIp") || !strcmp(key, "removeFloatingIp") ||
        !strcmp(key, "addSecurityGroup") || !strcmp(key, "removeSecurityGroup")) {
        if (!json_is_object(args)) {
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for action '%s'", key);
            return -1;
        }
        return network_action(req, resp, key, args, err);
    }
    if (consoles_is_action(key))
        return consoles_action(req, resp, key, json_is_object(args) ? args : NULL, err);
    if (migrations_is_action(key))
        return migrations_action(req, resp, key, args, err);
    for (size_t i = 0; i < ST_ARRAY_SIZE(actions); i++)
        if (!strcmp(actions[i].name, key))
            kind = (int) actions[i].kind;
    if (kind < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "There is no such action: %s", key);
        return -1;
    }
    if (!json_is_object(args) && !json_is_null(args)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid input for action '%s': expected an object",
                   key);
        return -1;
    }
    if (server_action(req->db, conf_of(req), &req->auth, api_param(req, 0),
                      (enum server_action_kind) kind, args, req->request_id, &res, err) < 0)
        return -1;
    int rc = 0;
    switch ((enum server_action_kind) kind) {
    case SA_CONSOLE_OUTPUT:
        rc = console_output(req, resp, res.task_id, args, err);
        break;
    case SA_RESCUE:
        api_reply(resp, 200, json_pack("{s:s}", "adminPass", res.admin_pass));
        break;
    case SA_REBUILD:
        rc = reply_server(req, resp, 202, false, res.admin_pass, err);
        break;
    case SA_CREATE_IMAGE: {
        struct st_buf loc = ST_BUF_INIT;
        st_buf_addf(&loc, "%s/image/v2/images/%s", req->base_url.buf, res.image_id);
        if (api_mv(req, 2, 45))
            api_reply(resp, 202, json_pack("{s:s}", "image_id", res.image_id));
        else {
            api_add_header(resp, "Location", "%s", loc.buf);
            api_reply(resp, 202, NULL);
        }
        st_buf_release(&loc);
        break;
    }
    case SA_CONFIRM_RESIZE:
    case SA_FORCE_DELETE:
        api_reply(resp, 204, NULL);
        break;
    default:
        api_reply(resp, 202, NULL);
        break;
    }
    server_action_result_release(&res);
    return rc;
}

/* ---- metadata ----------------------------------------------------------- */

static int metadata_reply(struct api_req *req, struct api_resp *resp, const char *only,
                          struct st_err *err)
{
    struct server_rec r;
    if (server_get(req->db, &req->auth, api_param(req, 0), &r, err) < 0)
        return -1;
    if (only) {
        json_t *v = json_object_get(r.metadata, only);
        if (!v) {
            server_rec_release(&r);
            st_err_set(err, ST_ERR_NOT_FOUND, "Metadata item was not found");
            return -1;
        }
        api_reply(resp, 200, json_pack("{s:{s:O}}", "meta", only, v));
    } else {
        api_reply(resp, 200, json_pack("{s:O}", "metadata", r.metadata));
    }
    server_rec_release(&r);
    return 0;
}

static int metadata_get(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return metadata_reply(req, resp, NULL, err);
}

static int metadata_write(struct api_req *req, struct api_resp *resp, bool replace,
                          struct st_err *err)
{
    json_t *body = api_body_json(req, err), *meta;
    if (!body || jget_obj(body, "metadata", true, &meta, err) < 0)
        return -1;
    if (server_metadata_set(req->db, &req->auth, api_param(req, 0), meta, replace, err) < 0)
        return -1;
    if (replace) {
        api_reply(resp, 200, json_pack("{s:O}", "metadata", meta));
        return 0;
    }
    return metadata_reply(req, resp, NULL, err);
}

static int metadata_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return metadata_write(req, resp, false, err);
}

static int metadata_replace(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return metadata_write(req, resp, true, err);
}

static int metadata_item_get(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return metadata_reply(req, resp, api_param(req, 1), err);
}

static int metadata_item_put(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *body = api_body_json(req, err), *meta;
    const char *key = api_param(req, 1);
    if (!body || jget_obj(body, "meta", true, &meta, err) < 0)
        return -1;
    if (json_object_size(meta) != 1 || !json_object_get(meta, key)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Request body and URI mismatch");
        return -1;
    }
    if (server_metadata_set(req->db, &req->auth, api_param(req, 0), meta, false, err) < 0)
        return -1;
    api_reply(resp, 200, json_pack("{s:O}", "meta", meta));
    return 0;
}

static int metadata_item_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (server_metadata_delete(req->db, &req->auth, api_param(req, 0), api_param(req, 1), err) <
        0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

/* ---- instance actions --------------------------------------------------- */

static void action_view(const struct api_req *req, json_t *a)
{
    if (!api_mv(req, 2, 58))
        json_object_del(a, "updated_at");
}

static int actions_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *arr = server_actions_list(req->db, &req->auth, api_param(req, 0), err), *a;
    size_t i;
    if (!arr)
        return -1;
    json_array_foreach(arr, i, a)
        action_view(req, a);
    api_reply(resp, 200, json_pack("{s:o}", "instanceActions", arr));
    return 0;
}

static int actions_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *a = server_action_get(req->db, &req->auth, api_param(req, 0), api_param(req, 1),
                                  err),
           *e, *events;
    size_t i;
    if (!a)
        return -1;
    action_view(req, a);
    events = json_object_get(a, "events");
    if (!req->auth.is_admin && !api_mv(req, 2, 51)) {
        json_object_del(a, "events");
    } else {
        json_array_foreach(events, i, e)
        {
            const char *host = json_string_value(json_object_get(e, "host"));
            if (req->auth.is_admin)
                json_object_set_new(e, "traceback", json_null());
            if (api_mv(req, 2, 62)) {
                struct st_buf hid = ST_BUF_INIT;
                if (host) {
                    unsigned char d[EVP_MAX_MD_SIZE];
                    unsigned int n = 0;
                    struct st_buf in = ST_BUF_INIT;
                    st_buf_addf(&in, "%s%s",
                                json_string_value(json_object_get(a, "project_id"))
                                    ? json_string_value(json_object_get(a, "project_id"))
                                    : "",
                                host);
                    EVP_Digest(in.buf, in.len, d, &n, EVP_sha224(), NULL);
                    st_hex_encode(d, n, &hid);
                    st_buf_release(&in);
                }
                json_object_set_new(e, "hostId", json_string(hid.buf));
                st_buf_release(&hid);
                if (!req->auth.is_admin)
                    json_object_del(e, "host");
                else if (!host)
                    json_object_set_new(e, "host", json_string(""));
            } else {
                json_object_del(e, "host");
            }
            if (!api_mv(req, 2, 84))
                json_object_del(e, "details");
        }
    }
    api_reply(resp, 200, json_pack("{s:o}", "instanceAction", a));
    return 0;
}

/* ---- os-interface ------------------------------------------------------ */

/* The server, checked for the caller (write when 'write'). */
static int iface_server(struct api_req *req, bool write, struct server_rec *r,
                        struct st_err *err)
{
    if (server_get(req->db, &req->auth, api_param(req, 0), r, err) < 0)
        return -1;
    if (write && (policy_write(&req->auth, r->project_id, "instance", r->id, err) < 0 ||
                  (r->locked && !req->auth.is_admin &&
                   (st_err_set(err, ST_ERR_CONFLICT, "Instance %s is locked", r->id), 1)))) {
        server_rec_release(r);
        return -1;
    }
    return 0;
}

static int iface_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct server_rec r;
    json_t *arr;
    if (iface_server(req, false, &r, err) < 0)
        return -1;
    server_rec_release(&r);
    arr = net_server_interfaces(req->db, api_param(req, 0), err);
    if (!arr)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "interfaceAttachments", arr));
    return 0;
}

static json_t *iface_find(struct api_req *req, const char *port, struct st_err *err)
{
    json_t *arr = net_server_interfaces(req->db, api_param(req, 0), err), *a, *found = NULL;
    size_t i;
    if (!arr)
        return NULL;
    json_array_foreach(arr, i, a)
    {
        if (st_streq(json_string_value(json_object_get(a, "port_id")), port))
            found = json_incref(a);
    }
    json_decref(arr);
    if (!found)
        st_err_set(err, ST_ERR_NOT_FOUND, "Port %s is not attached", port);
    return found;
}

static int iface_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct server_rec r;
    json_t *a;
    if (iface_server(req, false, &r, err) < 0)
        return -1;
    server_rec_release(&r);
    a = iface_find(req, api_param(req, 1), err);
    if (!a)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "interfaceAttachment", a));
    return 0;
}

static int iface_attach(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *body = api_body_json(req, err), *in, *a;
    const char *net = NULL, *port = NULL, *fixed = NULL;
    struct server_rec r;
    char *pid;
    json_t *ips;
    if (!body || jget_obj(body, "interfaceAttachment", true, &in, err) < 0 ||
        jget_str(in, "net_id", false, 64, &net, err) < 0 ||
        jget_str(in, "port_id", false, 64, &port, err) < 0)
        return -1;
    ips = json_object_get(in, "fixed_ips");
    if (json_is_array(ips) && json_array_size(ips))
        fixed = json_string_value(json_object_get(json_array_get(ips, 0), "ip_address"));
    if (net && port) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Specify either port_id or net_id, not both");
        return -1;
    }
    if (iface_server(req, true, &r, err) < 0)
        return -1;
    if (strcmp(r.vm_state, "active") && strcmp(r.vm_state, "stopped") &&
        strcmp(r.vm_state, "paused")) {
        st_err_set(err, ST_ERR_CONFLICT,
                   "Cannot 'attach_interface' instance %s while it is in vm_state %s", r.id,
                   r.vm_state);
        server_rec_release(&r);
        return -1;
    }
    pid = net_server_attach(req->db, &req->auth, r.id, r.host, net ? net : (port ? NULL : "auto"),
                            port, fixed, err);
    server_rec_release(&r);
    if (!pid)
        return -1;
    a = iface_find(req, pid, err);
    free(pid);
    if (!a)
        return -1;
    api_reply(resp, 200, json_pack("{s:o}", "interfaceAttachment", a));
    return 0;
}

static int iface_detach(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct server_rec r;
    if (iface_server(req, true, &r, err) < 0)
        return -1;
    server_rec_release(&r);
    if (net_server_detach(req->db, &req->auth, api_param(req, 0), api_param(req, 1), err) < 0)
        return -1;
    api_reply(resp, 202, NULL);
    return 0;
}

#define A ROUTE_AUTH
#define R(m, p, fn) {m, V21 p, fn, A, SVC_COMPUTE, NULL}

const struct route server_routes[] = {
    R("GET", "/servers", servers_list),
    R("POST", "/servers", servers_create),
    R("GET", "/servers/detail", servers_detail),
    R("GET", "/servers/{id}", servers_show),
    R("PUT", "/servers/{id}", servers_update),
    R("DELETE", "/servers/{id}", servers_delete),
    R("POST", "/servers/{id}/action", servers_action),
    R("GET", "/servers/{id}/metadata", metadata_get),
    R("POST", "/servers/{id}/metadata", metadata_update),
    R("PUT", "/servers/{id}/metadata", metadata_replace),
    R("GET", "/servers/{id}/metadata/{key}", metadata_item_get),
    R("PUT", "/servers/{id}/metadata/{key}", metadata_item_put),
    R("DELETE", "/servers/{id}/metadata/{key}", metadata_item_delete),
    R("GET", "/servers/{id}/os-instance-actions", actions_list),
    R("GET", "/servers/{id}/os-instance-actions/{req}", actions_show),
    R("GET", "/servers/{id}/os-interface", iface_list),
    R("POST", "/servers/{id}/os-interface", iface_attach),
    R("GET", "/servers/{id}/os-interface/{port}", iface_show),
    R("DELETE", "/servers/{id}/os-interface/{port}", iface_detach),
};
const size_t server_routes_count = sizeof(server_routes) / sizeof(server_routes[0]);

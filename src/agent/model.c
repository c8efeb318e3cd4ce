/* model.c - parsing and checking of the desired state (see model.h): the
 * document and its servers, flavors, images and tasks, the lookups, and
 * the checks of member types that model_net.c (networking lists) and
 * model_volume.c (volumes) build on (model_internal.h). */
#include "agent/model.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "agent/model_internal.h"
#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

int model_bad(struct st_err *err, const char *what, const char *detail)
{
    st_err_set(err, ST_ERR_BAD_REQUEST, "desired state: invalid %s%s%s", what,
               detail ? ": " : "", detail ? detail : "");
    return -1;
}

int model_copy_str(json_t *o, const char *key, bool required, char *dst, size_t n,
                   struct st_err *err)
{
    json_t *v = json_object_get(o, key);
    dst[0] = '\0';
    if (!v || json_is_null(v))
        return required ? model_bad(err, key, "missing") : 0;
    if (!json_is_string(v) || json_string_length(v) >= n ||
        strlen(json_string_value(v)) != json_string_length(v))
        return model_bad(err, key, "not a string of the right length");
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int model_copy_id(json_t *o, const char *key, bool required, char *dst, struct st_err *err)
{
    if (model_copy_str(o, key, required, dst, MODEL_ID_MAX, err) < 0)
        return -1;
    if (dst[0] && !st_is_uuid(dst))
        return model_bad(err, key, "not a UUID");
    return 0;
}

int model_get_int(json_t *o, const char *key, bool required, int64_t min, int64_t max, int64_t *out,
                  struct st_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required)
            return model_bad(err, key, "missing");
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return model_bad(err, key, "out of range");
    *out = json_integer_value(v);
    return 0;
}

/* An object whose members are all strings; takes a new reference. */
static int string_map(json_t *o, const char *key, json_t **out, struct st_err *err)
{
    json_t *v = json_object_get(o, key);
    const char *k;
    json_t *m;
    *out = json_object();
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v) || json_object_size(v) > 512)
        return model_bad(err, key, "not an object of strings");
    json_object_foreach(v, k, m)
    {
        if (!json_is_string(m) || strlen(k) > 255 || json_string_length(m) > 65535)
            return model_bad(err, key, "not an object of strings");
        json_object_set(*out, k, m);
    }
    return 0;
}

static int parse_flavor(json_t *o, struct model_flavor *f, struct st_err *err)
{
    int64_t v = 0;
    if (!json_is_object(o))
        return model_bad(err, "flavor", "not an object");
    if (model_copy_str(o, "id", true, f->id, sizeof(f->id), err) < 0 ||
        model_copy_str(o, "name", false, f->name, sizeof(f->name), err) < 0 ||
        model_get_int(o, "vcpus", true, 1, 1024, &v, err) < 0)
        return -1;
    f->vcpus = (int) v;
    if (model_get_int(o, "ram", true, 1, INT64_C(1) << 32, &f->ram_mb, err) < 0 ||
        model_get_int(o, "disk", false, 0, INT64_C(1) << 20, &f->disk_gb, err) < 0 ||
        model_get_int(o, "ephemeral", false, 0, INT64_C(1) << 20, &f->ephemeral_gb, err) < 0 ||
        model_get_int(o, "swap", false, 0, INT64_C(1) << 30, &f->swap_mb, err) < 0)
        return -1;
    return string_map(o, "extra_specs", &f->extra_specs, err);
}

int model_parse_image(json_t *o, struct model_image *img, struct st_err *err)
{
    memset(img, 0, sizeof(*img));
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o))
        return model_bad(err, "image", "not an object");
    img->present = true;
    if (model_copy_id(o, "id", true, img->id, err) < 0 ||
        model_copy_str(o, "name", false, img->name, sizeof(img->name), err) < 0 ||
        model_copy_str(o, "disk_format", true, img->disk_format, sizeof(img->disk_format),
                       err) < 0 ||
        model_copy_str(o, "container_format", false, img->container_format,
                       sizeof(img->container_format), err) < 0 ||
        model_copy_str(o, "checksum", false, img->checksum, sizeof(img->checksum), err) < 0 ||
        model_get_int(o, "size", false, 0, INT64_MAX, &img->size, err) < 0 ||
        model_get_int(o, "min_disk", false, 0, INT32_MAX, &img->min_disk, err) < 0)
        return -1;
    for (const char *p = img->checksum; *p; p++)
        if (!isxdigit((unsigned char) *p))
            return model_bad(err, "checksum", "not hex");
    for (const char *p = img->disk_format; *p; p++)
        if (!islower((unsigned char) *p) && !isdigit((unsigned char) *p))
            return model_bad(err, "disk_format", NULL);
    return string_map(o, "properties", &img->properties, err);
}

void model_image_release(struct model_image *img)
{
    json_decref(img->properties);
    img->properties = NULL;
}

static bool ifname_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 15)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char) *s) && *s != '-' && *s != '_')
            return false;
    return true;
}

bool model_mac_ok(char *s)
{
    if (strlen(s) != 17)
        return false;
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2) {
            if (s[i] != ':')
                return false;
        } else if (!isxdigit((unsigned char) s[i])) {
            return false;
        }
        s[i] = (char) tolower((unsigned char) s[i]);
    }
    return true;
}

static int parse_nic(json_t *o, struct model_nic *n, struct st_err *err)
{
    json_t *ips;
    int64_t mtu = 0;
    size_t i;
    json_t *ip;
    if (!json_is_object(o))
        return model_bad(err, "nic", "not an object");
    if (model_copy_id(o, "port_id", true, n->port_id, err) < 0 ||
        model_copy_str(o, "mac_address", true, n->mac, sizeof(n->mac), err) < 0 ||
        model_copy_id(o, "network_id", false, n->network_id, err) < 0 ||
        model_copy_str(o, "vif_model", false, n->vif_model, sizeof(n->vif_model), err) < 0 ||
        model_copy_str(o, "bridge", true, n->bridge, sizeof(n->bridge), err) < 0 ||
        model_copy_str(o, "tap", true, n->tap, sizeof(n->tap), err) < 0 ||
        model_get_int(o, "mtu", false, 0, 65535, &mtu, err) < 0)
        return -1;
    n->mtu = (int) mtu;
    if (!model_mac_ok(n->mac))
        return model_bad(err, "mac_address", n->mac);
    if (!ifname_ok(n->bridge) || !ifname_ok(n->tap))
        return model_bad(err, "nic", "bad interface name");
    {
        /* The names are derived from the ids (STYLE §8): anything else is
         * refused rather than trusted. */
        char want[MODEL_IFNAME_MAX];
        model_ifname("tap", n->port_id, want);
        if (strcmp(want, n->tap))
            return model_bad(err, "nic.tap", "not tap + port id[:11]");
        if (n->network_id[0]) {
            model_ifname("brq", n->network_id, want);
            if (strcmp(want, n->bridge))
                return model_bad(err, "nic.bridge", "not brq + network id[:11]");
        }
    }
    if (!n->vif_model[0])
        memcpy(n->vif_model, "virtio", sizeof("virtio"));
    ips = json_object_get(o, "fixed_ips");
    if (ips && !json_is_array(ips))
        return model_bad(err, "fixed_ips", "not an array");
    json_array_foreach(ips, i, ip)
    {
        struct model_ip *m;
        json_t *dns, *routes, *d;
        size_t j;
        int64_t plen = 0;
        if (n->nips >= MODEL_MAX_IPS)
            return model_bad(err, "fixed_ips", "too many");
        m = &n->ips[n->nips++];
        if (!json_is_object(ip) ||
            model_copy_str(ip, "ip_address", true, m->address, sizeof(m->address), err) < 0 ||
            model_copy_str(ip, "gateway", false, m->gateway, sizeof(m->gateway), err) < 0 ||
            model_copy_str(ip, "cidr", false, m->cidr, sizeof(m->cidr), err) < 0 ||
            model_copy_id(ip, "subnet_id", false, m->subnet_id, err) < 0 ||
            model_get_int(ip, "prefixlen", true, 0, 128, &plen, err) < 0)
            return st_err_is_set(err) ? -1 : model_bad(err, "fixed_ips", NULL);
        m->prefixlen = (int) plen;
        m->enable_dhcp = json_is_true(json_object_get(ip, "enable_dhcp"));
        dns = json_object_get(ip, "dns_nameservers");
        json_array_foreach(dns, j, d)
        {
            if (m->ndns < MODEL_MAX_DNS && json_is_string(d) && json_string_length(d) < 46)
                memcpy(m->dns[m->ndns++], json_string_value(d), json_string_length(d) + 1);
        }
        routes = json_object_get(ip, "host_routes");
        json_array_foreach(routes, j, d)
        {
            if (m->nroutes >= MODEL_MAX_ROUTES)
                break;
            if (model_copy_str(d, "destination", true, m->routes[m->nroutes].destination, 50,
                               err) < 0 ||
                model_copy_str(d, "nexthop", true, m->routes[m->nroutes].nexthop, 46, err) < 0)
                return -1;
            m->nroutes++;
        }
    }
    return 0;
}

int model_server_parse(json_t *o, struct model_server *s, struct st_err *err)
{
    const char *power;
    json_t *v;
    int64_t n = 0;

    if (!json_is_object(o))
        return model_bad(err, "server", "not an object");
    if (model_copy_id(o, "id", true, s->id, err) < 0 ||
        model_copy_str(o, "name", true, s->name, sizeof(s->name), err) < 0 ||
        model_copy_str(o, "hostname", true, s->hostname, sizeof(s->hostname), err) < 0 ||
        model_copy_id(o, "project_id", true, s->project_id, err) < 0 ||
        model_copy_str(o, "project_name", false, s->project_name, sizeof(s->project_name),
                       err) < 0 ||
        model_copy_id(o, "user_id", true, s->user_id, err) < 0 ||
        model_copy_str(o, "user_name", false, s->user_name, sizeof(s->user_name), err) < 0 ||
        model_copy_str(o, "created_at", false, s->created_at, sizeof(s->created_at), err) < 0 ||
        model_copy_str(o, "availability_zone", false, s->availability_zone,
                       sizeof(s->availability_zone), err) < 0 ||
        model_get_int(o, "launch_index", false, 0, 100000, &n, err) < 0)
        return -1;
    s->launch_index = (int) n;
    for (const char *p = s->hostname; *p; p++)
        if (!isalnum((unsigned char) *p) && *p != '-' && *p != '.')
            return model_bad(err, "hostname", s->hostname);
    if (parse_flavor(json_object_get(o, "flavor"), &s->flavor, err) < 0 ||
        model_parse_image(json_object_get(o, "image"), &s->image, err) < 0 ||
        model_parse_image(json_object_get(o, "kernel"), &s->kernel, err) < 0 ||
        model_parse_image(json_object_get(o, "ramdisk"), &s->ramdisk, err) < 0)
        return -1;
    if (!s->image.present)
        return model_bad(err, "image", "missing");
    power = json_string_value(json_object_get(o, "power"));
    if (!power)
        return model_bad(err, "power", "missing");
    if (!strcmp(power, "running"))
        s->power = MODEL_POWER_RUNNING;
    else if (!strcmp(power, "stopped"))
        s->power = MODEL_POWER_STOPPED;
    else if (!strcmp(power, "paused"))
        s->power = MODEL_POWER_PAUSED;
    else if (!strcmp(power, "suspended"))
        s->power = MODEL_POWER_SUSPENDED;
    else
        return model_bad(err, "power", power);
    if (model_get_int(o, "power_generation", false, 0, INT64_MAX, &s->power_generation, err) < 0)
        return -1;
    s->delete = json_is_true(json_object_get(o, "delete"));
    s->config_drive = json_is_true(json_object_get(o, "config_drive"));
    s->disk_generation = 1;
    if (model_get_int(o, "disk_generation", false, 0, INT64_MAX, &s->disk_generation, err) < 0)
        return -1;
    v = json_object_get(o, "user_data");
    if (v && !json_is_null(v)) {
        struct st_buf b = ST_BUF_INIT;
        if (!json_is_string(v) || json_string_length(v) > 65536 * 4 / 3 + 4 ||
            st_base64_decode(json_string_value(v), json_string_length(v), &b) < 0) {
            st_buf_release(&b);
            return model_bad(err, "user_data", "not base64");
        }
        s->user_data = (unsigned char *) st_buf_detach(&b, &s->user_data_len);
    }
    v = json_object_get(o, "key");
    if (v && !json_is_null(v)) {
        json_t *pk = json_object_get(v, "public_key");
        if (model_copy_str(v, "name", true, s->key_name, sizeof(s->key_name), err) < 0)
            return -1;
        if (!json_is_string(pk) || json_string_length(pk) > 16384)
            return model_bad(err, "key", "public_key");
        s->key_data = st_xstrdup(json_string_value(pk));
    }
    v = json_object_get(o, "admin_pass");
    if (json_is_string(v) && json_string_length(v) < 256)
        s->admin_pass = st_xstrdup(json_string_value(v));
    if (string_map(o, "metadata", &s->metadata, err) < 0)
        return -1;
    v = json_object_get(o, "rescue");
    if (v && !json_is_null(v)) {
        s->rescue = true;
        if (model_parse_image(json_object_get(v, "image"), &s->rescue_image, err) < 0 ||
            model_parse_image(json_object_get(v, "kernel"), &s->rescue_kernel, err) < 0 ||
            model_parse_image(json_object_get(v, "ramdisk"), &s->rescue_ramdisk, err) < 0)
            return -1;
        if (!s->rescue_image.present)
            return model_bad(err, "rescue", "image missing");
    }
    v = json_object_get(o, "resize");
    if (v && !json_is_null(v)) {
        const char *st = json_string_value(json_object_get(v, "state"));
        if (st && !strcmp(st, "resizing"))
            s->resize = MODEL_RESIZE_RESIZING;
        else if (st && !strcmp(st, "confirming"))
            s->resize = MODEL_RESIZE_CONFIRMING;
        else if (st && !strcmp(st, "reverting"))
            s->resize = MODEL_RESIZE_REVERTING;
        else
            return model_bad(err, "resize.state", st);
        if (parse_flavor(json_object_get(v, "old_flavor"), &s->old_flavor, err) < 0)
            return -1;
    }
    if (model_parse_migration(json_object_get(o, "migration"), &s->migration, err) < 0)
        return -1;
    v = json_object_get(o, "nics");
    if (v && !json_is_array(v))
        return model_bad(err, "nics", "not an array");
    if (json_array_size(v) > MODEL_MAX_NICS)
        return model_bad(err, "nics", "too many");
    if (json_array_size(v)) {
        size_t i;
        json_t *nic;
        s->nics = st_xcalloc(json_array_size(v), sizeof(*s->nics));
        json_array_foreach(v, i, nic)
        {
            if (parse_nic(nic, &s->nics[s->nnics], err) < 0)
                return -1;
            s->nnics++;
        }
    }
    v = json_object_get(o, "volumes");
    if (v && !json_is_null(v) && !json_is_array(v))
        return model_bad(err, "volumes", "not an array");
    if (json_array_size(v) > MODEL_MAX_ATTACHMENTS)
        return model_bad(err, "volumes", "too many");
    if (json_array_size(v)) {
        size_t i;
        json_t *a;
        s->volumes = st_xcalloc(json_array_size(v), sizeof(*s->volumes));
        json_array_foreach(v, i, a)
        {
            if (model_parse_attachment(a, &s->volumes[s->nvolumes], err) < 0)
                return -1;
            s->nvolumes++;
            for (int k = 0; k < s->nvolumes - 1; k++)
                if (!strcmp(s->volumes[k].attachment_id, s->volumes[i].attachment_id) ||
                    (!s->volumes[k].delete && !s->volumes[i].delete &&
                     !strcmp(s->volumes[k].device, s->volumes[i].device)))
                    return model_bad(err, "volumes", "duplicate attachment or device");
        }
    }
    return 0;
}

void model_server_release(struct model_server *s)
{
    json_decref(s->flavor.extra_specs);
    json_decref(s->old_flavor.extra_specs);
    model_image_release(&s->image);
    model_image_release(&s->kernel);
    model_image_release(&s->ramdisk);
    model_image_release(&s->rescue_image);
    model_image_release(&s->rescue_kernel);
    model_image_release(&s->rescue_ramdisk);
    json_decref(s->metadata);
    free(s->user_data);
    free(s->key_data);
    if (s->admin_pass) {
        explicit_bzero(s->admin_pass, strlen(s->admin_pass));
        free(s->admin_pass);
    }
    free(s->nics);
    model_migration_release(&s->migration);
    if (s->volumes) {
        explicit_bzero(s->volumes, (size_t) s->nvolumes * sizeof(*s->volumes));
        free(s->volumes);
    }
}

/* A volume task: {"id", "kind", "volume_id", "backup_id" | "image_id",
 * "disk_format"}, the members at the top or in "args". */
static int parse_volume_task(json_t *o, const char *kind, struct model_task *t,
                             struct st_err *err)
{
    json_t *args = json_object_get(o, "args");
    json_t *src = json_is_object(args) && json_object_get(args, "volume_id") ? args : o;
    if (model_copy_id(o, "id", true, t->id, err) < 0 ||
        model_copy_id(src, "volume_id", true, t->volume_id, err) < 0)
        return -1;
    model_lower(t->volume_id);
    if (!strcmp(kind, "volume_backup") || !strcmp(kind, "volume_restore")) {
        t->kind = !strcmp(kind, "volume_backup") ? MODEL_TASK_VOLUME_BACKUP
                                                 : MODEL_TASK_VOLUME_RESTORE;
        if (model_copy_id(src, "backup_id", true, t->backup_id, err) < 0)
            return -1;
        model_lower(t->backup_id);
    } else if (!strcmp(kind, "volume_upload_image")) {
        t->kind = MODEL_TASK_VOLUME_UPLOAD_IMAGE;
        if (model_copy_id(src, "image_id", true, t->image_id, err) < 0 ||
            model_copy_str(src, "disk_format", false, t->disk_format, sizeof(t->disk_format),
                           err) < 0)
            return -1;
        if (!t->disk_format[0])
            memcpy(t->disk_format, "raw", 4);
        if (strcmp(t->disk_format, "raw") && strcmp(t->disk_format, "qcow2"))
            return model_bad(err, "task.disk_format", t->disk_format);
    } else {
        return model_bad(err, "task.kind", kind);
    }
    return 0;
}

static int parse_task(json_t *o, struct model_task *t, struct st_err *err)
{
    const char *kind;
    json_t *args;
    kind = json_string_value(json_object_get(o, "kind"));
    if (kind && !strncmp(kind, "volume_", 7))
        return parse_volume_task(o, kind, t, err);
    if (!json_is_object(o) || model_copy_id(o, "id", true, t->id, err) < 0 ||
        model_copy_id(o, "server_id", true, t->server_id, err) < 0)
        return st_err_is_set(err) ? -1 : model_bad(err, "task", NULL);
    args = json_object_get(o, "args");
    t->length = -1;
    t->timeout = 60;
    if (!kind)
        return model_bad(err, "task.kind", "missing");
    if (!strcmp(kind, "reboot")) {
        const char *type = json_string_value(json_object_get(args, "type"));
        int64_t to = 60;
        t->kind = MODEL_TASK_REBOOT;
        t->hard = type && !strcmp(type, "HARD");
        if (model_get_int(args, "timeout", false, 0, 3600, &to, err) < 0)
            return -1;
        t->timeout = (int) to;
    } else if (!strcmp(kind, "console_log")) {
        t->kind = MODEL_TASK_CONSOLE_LOG;
        if (model_get_int(args, "length", false, -1, INT32_MAX, &t->length, err) < 0)
            return -1;
    } else if (!strcmp(kind, "snapshot")) {
        t->kind = MODEL_TASK_SNAPSHOT;
        if (model_copy_id(args, "image_id", true, t->image_id, err) < 0)
            return -1;
    } else {
        return model_bad(err, "task.kind", kind);
    }
    return 0;
}

void model_lower(char *s)
{
    for (; *s; s++)
        *s = (char) tolower((unsigned char) *s);
}

/* An optional array member 'key' of 'o', at most 'max' long; NULL when absent or null. */
int model_get_array(json_t *o, const char *key, size_t max, json_t **out, struct st_err *err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return model_bad(err, key, "not an array");
    if (json_array_size(v) > max)
        return model_bad(err, key, "too many entries");
    *out = v;
    return 0;
}

/* Parses list 'key' of 'doc' with 'parse' into '*arr' (elements of 'size'
 * bytes), counting each before parsing so that a half-parsed one is freed. */
int model_parse_list(json_t *doc, const char *key, size_t max, size_t size, void **arr,
                     size_t *count, int (*parse)(json_t *, void *, struct st_err *),
                     struct st_err *err)
{
    json_t *v, *o;
    size_t i;
    if (model_get_array(doc, key, max, &v, err) < 0)
        return -1;
    if (!json_array_size(v))
        return 0;
    *arr = st_xcalloc(json_array_size(v), size);
    json_array_foreach(v, i, o)
    {
        (*count)++;
        if (parse(o, (char *) *arr + i * size, err) < 0)
            return -1;
    }
    return 0;
}

struct model_desired *model_desired_parse(json_t *doc, struct st_err *err)
{
    struct model_desired *d = st_xcalloc(1, sizeof(*d));
    json_t *servers, *tasks, *o;
    size_t i;

    if (!json_is_object(doc) ||
        model_copy_str(doc, "host", true, d->host, sizeof(d->host), err) < 0 ||
        model_copy_id(doc, "host_id", false, d->host_id, err) < 0 ||
        model_get_int(doc, "revision", true, 0, INT64_MAX, &d->revision, err) < 0)
        goto fail;
    model_lower(d->host_id);
    servers = json_object_get(doc, "servers");
    tasks = json_object_get(doc, "tasks");
    if ((servers && !json_is_array(servers)) || (tasks && !json_is_array(tasks))) {
        model_bad(err, "document", "servers and tasks must be arrays");
        goto fail;
    }
    if (json_array_size(servers)) {
        d->servers = st_xcalloc(json_array_size(servers), sizeof(*d->servers));
        json_array_foreach(servers, i, o)
        {
            /* Counted before parsing so that a half-parsed one is freed. */
            d->nservers++;
            if (model_server_parse(o, &d->servers[i], err) < 0)
                goto fail;
        }
    }
    if (json_array_size(tasks)) {
        d->tasks = st_xcalloc(json_array_size(tasks), sizeof(*d->tasks));
        json_array_foreach(tasks, i, o)
        {
            if (parse_task(o, &d->tasks[i], err) < 0)
                goto fail;
            d->ntasks++;
        }
    }
    if (model_parse_net_lists(doc, d, err) < 0 || model_parse_vol_lists(doc, d, err) < 0)
        goto fail;
    /* The metadata proxy's signing key (docs/agent-protocol.md, "Metadata"). */
    o = json_object_get(doc, "metadata");
    if (o && !json_is_null(o) &&
        (!json_is_object(o) || model_copy_str(o, "shared_secret", false, d->metadata_secret,
                                              sizeof(d->metadata_secret), err) < 0)) {
        if (!st_err_is_set(err))
            model_bad(err, "metadata", "not an object");
        goto fail;
    }
    return d;
fail:
    model_desired_free(d);
    return NULL;
}

void model_desired_free(struct model_desired *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nservers; i++)
        model_server_release(&d->servers[i]);
    free(d->servers);
    free(d->tasks);
    for (size_t i = 0; i < d->nnetworks; i++)
        model_network_release(&d->networks[i]);
    free(d->networks);
    for (size_t i = 0; i < d->nports; i++)
        free(d->ports[i].security_groups);
    free(d->ports);
    for (size_t i = 0; i < d->nsecgroups; i++)
        model_secgroup_release(&d->secgroups[i]);
    free(d->secgroups);
    for (size_t i = 0; i < d->nrouters; i++)
        model_router_release(&d->routers[i]);
    free(d->routers);
    for (size_t i = 0; i < d->nvolumes; i++)
        model_volume_release(&d->volumes[i]);
    free(d->volumes);
    free(d->backups);
    free(d);
}

const struct model_server *model_find_server(const struct model_desired *d, const char *id)
{
    for (size_t i = 0; i < d->nservers; i++)
        if (!strcmp(d->servers[i].id, id))
            return &d->servers[i];
    return NULL;
}

const char *model_image_prop(const struct model_image *img, const char *key)
{
    return img->properties ? json_string_value(json_object_get(img->properties, key)) : NULL;
}

const char *model_extra_spec(const struct model_flavor *f, const char *key)
{
    return f->extra_specs ? json_string_value(json_object_get(f->extra_specs, key)) : NULL;
}

const char *model_power_name(enum model_power p)
{
    static const char *const names[] = {"running", "stopped", "paused", "suspended"};
    return (unsigned) p < ST_ARRAY_SIZE(names) ? names[p] : "unknown";
}

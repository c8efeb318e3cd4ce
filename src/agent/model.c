/* model.c - parsing and checking of the desired state (see model.h). */
#include "agent/model.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "common/banned.h"

static int bad(struct st_err *err, const char *what, const char *detail)
{
    st_err_set(err, ST_ERR_BAD_REQUEST, "desired state: invalid %s%s%s", what,
               detail ? ": " : "", detail ? detail : "");
    return -1;
}

static void lower(char *s);
struct model_attachment;
static int parse_attachment(json_t *o, struct model_attachment *a, struct st_err *err);

static int copy_str(json_t *o, const char *key, bool required, char *dst, size_t n,
                    struct st_err *err)
{
    json_t *v = json_object_get(o, key);
    dst[0] = '\0';
    if (!v || json_is_null(v))
        return required ? bad(err, key, "missing") : 0;
    if (!json_is_string(v) || json_string_length(v) >= n ||
        strlen(json_string_value(v)) != json_string_length(v))
        return bad(err, key, "not a string of the right length");
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int copy_id(json_t *o, const char *key, bool required, char *dst, struct st_err *err)
{
    if (copy_str(o, key, required, dst, MODEL_ID_MAX, err) < 0)
        return -1;
    if (dst[0] && !st_is_uuid(dst))
        return bad(err, key, "not a UUID");
    return 0;
}

static int get_int(json_t *o, const char *key, bool required, int64_t min, int64_t max,
                   int64_t *out, struct st_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required)
            return bad(err, key, "missing");
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return bad(err, key, "out of range");
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
        return bad(err, key, "not an object of strings");
    json_object_foreach(v, k, m)
    {
        if (!json_is_string(m) || strlen(k) > 255 || json_string_length(m) > 65535)
            return bad(err, key, "not an object of strings");
        json_object_set(*out, k, m);
    }
    return 0;
}

static int parse_flavor(json_t *o, struct model_flavor *f, struct st_err *err)
{
    int64_t v = 0;
    if (!json_is_object(o))
        return bad(err, "flavor", "not an object");
    if (copy_str(o, "id", true, f->id, sizeof(f->id), err) < 0 ||
        copy_str(o, "name", false, f->name, sizeof(f->name), err) < 0 ||
        get_int(o, "vcpus", true, 1, 1024, &v, err) < 0)
        return -1;
    f->vcpus = (int) v;
    if (get_int(o, "ram", true, 1, INT64_C(1) << 32, &f->ram_mb, err) < 0 ||
        get_int(o, "disk", false, 0, INT64_C(1) << 20, &f->disk_gb, err) < 0 ||
        get_int(o, "ephemeral", false, 0, INT64_C(1) << 20, &f->ephemeral_gb, err) < 0 ||
        get_int(o, "swap", false, 0, INT64_C(1) << 30, &f->swap_mb, err) < 0)
        return -1;
    return string_map(o, "extra_specs", &f->extra_specs, err);
}

static int parse_image(json_t *o, struct model_image *img, struct st_err *err)
{
    memset(img, 0, sizeof(*img));
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o))
        return bad(err, "image", "not an object");
    img->present = true;
    if (copy_id(o, "id", true, img->id, err) < 0 ||
        copy_str(o, "name", false, img->name, sizeof(img->name), err) < 0 ||
        copy_str(o, "disk_format", true, img->disk_format, sizeof(img->disk_format), err) < 0 ||
        copy_str(o, "container_format", false, img->container_format,
                 sizeof(img->container_format), err) < 0 ||
        copy_str(o, "checksum", false, img->checksum, sizeof(img->checksum), err) < 0 ||
        get_int(o, "size", false, 0, INT64_MAX, &img->size, err) < 0 ||
        get_int(o, "min_disk", false, 0, INT32_MAX, &img->min_disk, err) < 0)
        return -1;
    for (const char *p = img->checksum; *p; p++)
        if (!isxdigit((unsigned char) *p))
            return bad(err, "checksum", "not hex");
    for (const char *p = img->disk_format; *p; p++)
        if (!islower((unsigned char) *p) && !isdigit((unsigned char) *p))
            return bad(err, "disk_format", NULL);
    return string_map(o, "properties", &img->properties, err);
}

static void image_release(struct model_image *img)
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

static bool mac_ok(char *s)
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
        return bad(err, "nic", "not an object");
    if (copy_id(o, "port_id", true, n->port_id, err) < 0 ||
        copy_str(o, "mac_address", true, n->mac, sizeof(n->mac), err) < 0 ||
        copy_id(o, "network_id", false, n->network_id, err) < 0 ||
        copy_str(o, "vif_model", false, n->vif_model, sizeof(n->vif_model), err) < 0 ||
        copy_str(o, "bridge", true, n->bridge, sizeof(n->bridge), err) < 0 ||
        copy_str(o, "tap", true, n->tap, sizeof(n->tap), err) < 0 ||
        get_int(o, "mtu", false, 0, 65535, &mtu, err) < 0)
        return -1;
    n->mtu = (int) mtu;
    if (!mac_ok(n->mac))
        return bad(err, "mac_address", n->mac);
    if (!ifname_ok(n->bridge) || !ifname_ok(n->tap))
        return bad(err, "nic", "bad interface name");
    {
        /* The names are derived from the ids (STYLE §8): anything else is
         * refused rather than trusted. */
        char want[MODEL_IFNAME_MAX];
        model_ifname("tap", n->port_id, want);
        if (strcmp(want, n->tap))
            return bad(err, "nic.tap", "not tap + port id[:11]");
        if (n->network_id[0]) {
            model_ifname("brq", n->network_id, want);
            if (strcmp(want, n->bridge))
                return bad(err, "nic.bridge", "not brq + network id[:11]");
        }
    }
    if (!n->vif_model[0])
        memcpy(n->vif_model, "virtio", sizeof("virtio"));
    ips = json_object_get(o, "fixed_ips");
    if (ips && !json_is_array(ips))
        return bad(err, "fixed_ips", "not an array");
    json_array_foreach(ips, i, ip)
    {
        struct model_ip *m;
        json_t *dns, *routes, *d;
        size_t j;
        int64_t plen = 0;
        if (n->nips >= MODEL_MAX_IPS)
            return bad(err, "fixed_ips", "too many");
        m = &n->ips[n->nips++];
        if (!json_is_object(ip) ||
            copy_str(ip, "ip_address", true, m->address, sizeof(m->address), err) < 0 ||
            copy_str(ip, "gateway", false, m->gateway, sizeof(m->gateway), err) < 0 ||
            copy_str(ip, "cidr", false, m->cidr, sizeof(m->cidr), err) < 0 ||
            copy_id(ip, "subnet_id", false, m->subnet_id, err) < 0 ||
            get_int(ip, "prefixlen", true, 0, 128, &plen, err) < 0)
            return st_err_is_set(err) ? -1 : bad(err, "fixed_ips", NULL);
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
            if (copy_str(d, "destination", true, m->routes[m->nroutes].destination, 50, err) <
                    0 ||
                copy_str(d, "nexthop", true, m->routes[m->nroutes].nexthop, 46, err) < 0)
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
        return bad(err, "server", "not an object");
    if (copy_id(o, "id", true, s->id, err) < 0 ||
        copy_str(o, "name", true, s->name, sizeof(s->name), err) < 0 ||
        copy_str(o, "hostname", true, s->hostname, sizeof(s->hostname), err) < 0 ||
        copy_id(o, "project_id", true, s->project_id, err) < 0 ||
        copy_str(o, "project_name", false, s->project_name, sizeof(s->project_name), err) < 0 ||
        copy_id(o, "user_id", true, s->user_id, err) < 0 ||
        copy_str(o, "user_name", false, s->user_name, sizeof(s->user_name), err) < 0 ||
        copy_str(o, "created_at", false, s->created_at, sizeof(s->created_at), err) < 0 ||
        copy_str(o, "availability_zone", false, s->availability_zone,
                 sizeof(s->availability_zone), err) < 0 ||
        get_int(o, "launch_index", false, 0, 100000, &n, err) < 0)
        return -1;
    s->launch_index = (int) n;
    for (const char *p = s->hostname; *p; p++)
        if (!isalnum((unsigned char) *p) && *p != '-' && *p != '.')
            return bad(err, "hostname", s->hostname);
    if (parse_flavor(json_object_get(o, "flavor"), &s->flavor, err) < 0 ||
        parse_image(json_object_get(o, "image"), &s->image, err) < 0 ||
        parse_image(json_object_get(o, "kernel"), &s->kernel, err) < 0 ||
        parse_image(json_object_get(o, "ramdisk"), &s->ramdisk, err) < 0)
        return -1;
    if (!s->image.present)
        return bad(err, "image", "missing");
    power = json_string_value(json_object_get(o, "power"));
    if (!power)
        return bad(err, "power", "missing");
    if (!strcmp(power, "running"))
        s->power = MODEL_POWER_RUNNING;
    else if (!strcmp(power, "stopped"))
        s->power = MODEL_POWER_STOPPED;
    else if (!strcmp(power, "paused"))
        s->power = MODEL_POWER_PAUSED;
    else if (!strcmp(power, "suspended"))
        s->power = MODEL_POWER_SUSPENDED;
    else
        return bad(err, "power", power);
    if (get_int(o, "power_generation", false, 0, INT64_MAX, &s->power_generation, err) < 0)
        return -1;
    s->delete = json_is_true(json_object_get(o, "delete"));
    s->config_drive = json_is_true(json_object_get(o, "config_drive"));
    s->disk_generation = 1;
    if (get_int(o, "disk_generation", false, 0, INT64_MAX, &s->disk_generation, err) < 0)
        return -1;
    v = json_object_get(o, "user_data");
    if (v && !json_is_null(v)) {
        struct st_buf b = ST_BUF_INIT;
        if (!json_is_string(v) || json_string_length(v) > 65536 * 4 / 3 + 4 ||
            st_base64_decode(json_string_value(v), json_string_length(v), &b) < 0) {
            st_buf_release(&b);
            return bad(err, "user_data", "not base64");
        }
        s->user_data = (unsigned char *) st_buf_detach(&b, &s->user_data_len);
    }
    v = json_object_get(o, "key");
    if (v && !json_is_null(v)) {
        json_t *pk = json_object_get(v, "public_key");
        if (copy_str(v, "name", true, s->key_name, sizeof(s->key_name), err) < 0)
            return -1;
        if (!json_is_string(pk) || json_string_length(pk) > 16384)
            return bad(err, "key", "public_key");
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
        if (parse_image(json_object_get(v, "image"), &s->rescue_image, err) < 0 ||
            parse_image(json_object_get(v, "kernel"), &s->rescue_kernel, err) < 0 ||
            parse_image(json_object_get(v, "ramdisk"), &s->rescue_ramdisk, err) < 0)
            return -1;
        if (!s->rescue_image.present)
            return bad(err, "rescue", "image missing");
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
            return bad(err, "resize.state", st);
        if (parse_flavor(json_object_get(v, "old_flavor"), &s->old_flavor, err) < 0)
            return -1;
    }
    v = json_object_get(o, "nics");
    if (v && !json_is_array(v))
        return bad(err, "nics", "not an array");
    if (json_array_size(v) > MODEL_MAX_NICS)
        return bad(err, "nics", "too many");
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
        return bad(err, "volumes", "not an array");
    if (json_array_size(v) > MODEL_MAX_ATTACHMENTS)
        return bad(err, "volumes", "too many");
    if (json_array_size(v)) {
        size_t i;
        json_t *a;
        s->volumes = st_xcalloc(json_array_size(v), sizeof(*s->volumes));
        json_array_foreach(v, i, a)
        {
            if (parse_attachment(a, &s->volumes[s->nvolumes], err) < 0)
                return -1;
            s->nvolumes++;
            for (int k = 0; k < s->nvolumes - 1; k++)
                if (!strcmp(s->volumes[k].attachment_id, s->volumes[i].attachment_id) ||
                    (!s->volumes[k].delete && !s->volumes[i].delete &&
                     !strcmp(s->volumes[k].device, s->volumes[i].device)))
                    return bad(err, "volumes", "duplicate attachment or device");
        }
    }
    return 0;
}

void model_server_release(struct model_server *s)
{
    json_decref(s->flavor.extra_specs);
    json_decref(s->old_flavor.extra_specs);
    image_release(&s->image);
    image_release(&s->kernel);
    image_release(&s->ramdisk);
    image_release(&s->rescue_image);
    image_release(&s->rescue_kernel);
    image_release(&s->rescue_ramdisk);
    json_decref(s->metadata);
    free(s->user_data);
    free(s->key_data);
    if (s->admin_pass) {
        explicit_bzero(s->admin_pass, strlen(s->admin_pass));
        free(s->admin_pass);
    }
    free(s->nics);
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
    if (copy_id(o, "id", true, t->id, err) < 0 ||
        copy_id(src, "volume_id", true, t->volume_id, err) < 0)
        return -1;
    lower(t->volume_id);
    if (!strcmp(kind, "volume_backup") || !strcmp(kind, "volume_restore")) {
        t->kind = !strcmp(kind, "volume_backup") ? MODEL_TASK_VOLUME_BACKUP
                                                 : MODEL_TASK_VOLUME_RESTORE;
        if (copy_id(src, "backup_id", true, t->backup_id, err) < 0)
            return -1;
        lower(t->backup_id);
    } else if (!strcmp(kind, "volume_upload_image")) {
        t->kind = MODEL_TASK_VOLUME_UPLOAD_IMAGE;
        if (copy_id(src, "image_id", true, t->image_id, err) < 0 ||
            copy_str(src, "disk_format", false, t->disk_format, sizeof(t->disk_format), err) < 0)
            return -1;
        if (!t->disk_format[0])
            memcpy(t->disk_format, "raw", 4);
        if (strcmp(t->disk_format, "raw") && strcmp(t->disk_format, "qcow2"))
            return bad(err, "task.disk_format", t->disk_format);
    } else {
        return bad(err, "task.kind", kind);
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
    if (!json_is_object(o) || copy_id(o, "id", true, t->id, err) < 0 ||
        copy_id(o, "server_id", true, t->server_id, err) < 0)
        return st_err_is_set(err) ? -1 : bad(err, "task", NULL);
    args = json_object_get(o, "args");
    t->length = -1;
    t->timeout = 60;
    if (!kind)
        return bad(err, "task.kind", "missing");
    if (!strcmp(kind, "reboot")) {
        const char *type = json_string_value(json_object_get(args, "type"));
        int64_t to = 60;
        t->kind = MODEL_TASK_REBOOT;
        t->hard = type && !strcmp(type, "HARD");
        if (get_int(args, "timeout", false, 0, 3600, &to, err) < 0)
            return -1;
        t->timeout = (int) to;
    } else if (!strcmp(kind, "console_log")) {
        t->kind = MODEL_TASK_CONSOLE_LOG;
        if (get_int(args, "length", false, -1, INT32_MAX, &t->length, err) < 0)
            return -1;
    } else if (!strcmp(kind, "snapshot")) {
        t->kind = MODEL_TASK_SNAPSHOT;
        if (copy_id(args, "image_id", true, t->image_id, err) < 0)
            return -1;
    } else {
        return bad(err, "task.kind", kind);
    }
    return 0;
}

/* ---- Networking lists (docs/agent-protocol.md, "Networking in the
 * desired state").  Structure is checked here, strictly: a value that is
 * malformed refuses the whole document, as for servers.  References
 * between the lists (a port's network, a router leg's network, a port's
 * groups) are checked by the network reconciler, which fails only the
 * resource concerned. */

void model_ifname(const char *prefix, const char *id, char out[MODEL_IFNAME_MAX])
{
    size_t p = strlen(prefix), i;
    /* Callers pass fixed prefixes of at most 4 characters. */
    for (i = 0; i < p && i < 4; i++)
        out[i] = prefix[i];
    for (size_t j = 0; j < 11 && id[j]; j++, i++)
        out[i] = (char) tolower((unsigned char) id[j]);
    out[i] = '\0';
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char) tolower((unsigned char) *s);
}

/* A UUID, lower-cased so that the names derived from it are canonical. */
static int copy_netid(json_t *o, const char *key, bool required, char *dst, struct st_err *err)
{
    if (copy_id(o, key, required, dst, err) < 0)
        return -1;
    lower(dst);
    return 0;
}

/* Parses the address 's' of family 'want' (0: either) into its canonical
 * text 'out'.  Returns its family, or 0 when it is not an address. */
static int addr_canon(const char *s, int want, char out[MODEL_ADDR_MAX])
{
    unsigned char bin[16];
    static const int fams[] = {AF_INET, AF_INET6};
    for (size_t i = 0; i < ST_ARRAY_SIZE(fams); i++) {
        if (want && want != fams[i])
            continue;
        if (inet_pton(fams[i], s, bin) == 1 &&
            inet_ntop(fams[i], bin, out, MODEL_ADDR_MAX) != NULL)
            return fams[i];
    }
    return 0;
}

/* Parses "ADDR/PLEN" (or a bare address when 'bare_ok', then a host
 * prefix) of family 'want' (0: either).  With 'strict' a CIDR with host
 * bits set is refused; without, they are cleared (Neutron normalises
 * remote_ip_prefix the same way).  Returns the family, or 0. */
static int cidr_canon(const char *s, int want, bool bare_ok, bool strict,
                      char out[MODEL_CIDR_MAX], int *plen_out)
{
    char addr[MODEL_CIDR_MAX], canon[MODEL_ADDR_MAX];
    unsigned char bin[16];
    const char *slash = strchr(s, '/');
    uint32_t plen;
    int fam;
    size_t alen = slash ? (size_t) (slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(addr))
        return 0;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    fam = addr_canon(addr, want, canon);
    if (!fam)
        return 0;
    if (!slash) {
        if (!bare_ok)
            return 0;
        plen = fam == AF_INET ? 32 : 128;
    } else if (st_parse_u32(slash + 1, 0, fam == AF_INET ? 32 : 128, &plen) < 0) {
        return 0;
    }
    if (inet_pton(fam, canon, bin) != 1)
        return 0;
    for (uint32_t bit = plen; bit < (fam == AF_INET ? 32u : 128u); bit++) {
        unsigned char m = (unsigned char) (0x80u >> (bit % 8));
        if (bin[bit / 8] & m) {
            if (strict)
                return 0;
            bin[bit / 8] &= (unsigned char) ~m;
        }
    }
    if (!inet_ntop(fam, bin, canon, sizeof(canon)) ||
        st_snprintf(out, MODEL_CIDR_MAX, "%s/%u", canon, plen) < 0)
        return 0;
    *plen_out = (int) plen;
    return fam;
}

/* A unicast MAC address, lower-cased in place. */
static bool unicast_mac_ok(char *s)
{
    unsigned v;
    if (!mac_ok(s))
        return false;
    if (sscanf(s, "%2x", &v) != 1 || (v & 1))
        return false;
    return strcmp(s, "00:00:00:00:00:00") != 0;
}

static int get_mac(json_t *o, const char *key, bool required, char mac[18], struct st_err *err)
{
    if (copy_str(o, key, required, mac, 18, err) < 0)
        return -1;
    if (mac[0] && !unicast_mac_ok(mac))
        return bad(err, key, "not a unicast MAC address");
    return 0;
}

static int get_addr(json_t *o, const char *key, bool required, int want,
                    char out[MODEL_ADDR_MAX], int *family, struct st_err *err)
{
    char raw[MODEL_ADDR_MAX];
    int fam;
    if (copy_str(o, key, required, raw, sizeof(raw), err) < 0)
        return -1;
    out[0] = '\0';
    if (!raw[0]) {
        if (family)
            *family = 0;
        return 0;
    }
    fam = addr_canon(raw, want, out);
    if (!fam)
        return bad(err, key, "not an IP address");
    if (family)
        *family = fam;
    return 0;
}

/* An optional array member 'key' of 'o', at most 'max' long; NULL when absent or null. */
static int get_array(json_t *o, const char *key, size_t max, json_t **out, struct st_err *err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return bad(err, key, "not an array");
    if (json_array_size(v) > max)
        return bad(err, key, "too many entries");
    *out = v;
    return 0;
}

static int parse_fixed_ips(json_t *o, struct model_fixed_ip *ips, int *nips, struct st_err *err)
{
    json_t *arr, *ip;
    size_t i;
    if (get_array(o, "fixed_ips", MODEL_MAX_IPS, &arr, err) < 0)
        return -1;
    json_array_foreach(arr, i, ip)
    {
        struct model_fixed_ip *m = &ips[*nips];
        int64_t plen = 0;
        if (!json_is_object(ip))
            return bad(err, "fixed_ips", "not an object");
        if (get_addr(ip, "ip_address", true, 0, m->address, &m->family, err) < 0 ||
            copy_netid(ip, "subnet_id", false, m->subnet_id, err) < 0 ||
            get_int(ip, "prefixlen", false, 1, m->family == AF_INET ? 32 : 128, &plen, err) < 0)
            return -1;
        m->prefixlen = plen ? (int) plen : (m->family == AF_INET ? 32 : 128);
        (*nips)++;
    }
    return 0;
}

static int parse_route(json_t *o, struct model_route *r, struct st_err *err)
{
    char raw[MODEL_CIDR_MAX];
    int plen, nfam = 0;
    if (!json_is_object(o))
        return bad(err, "routes", "not an object");
    if (copy_str(o, "destination", true, raw, sizeof(raw), err) < 0)
        return -1;
    r->family = cidr_canon(raw, 0, false, true, r->destination, &plen);
    if (!r->family)
        return bad(err, "destination", "not a CIDR without host bits");
    if (get_addr(o, "nexthop", true, r->family, r->nexthop, &nfam, err) < 0)
        return -1;
    return 0;
}

static bool hostname_ok(const char *s)
{
    size_t label = 0;
    if (!*s || strlen(s) > 63)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char) *p) && *p != '-')
            return false;
        if (label == 0 && *p == '-')
            return false;
        label++;
    }
    return label > 0 && s[strlen(s) - 1] != '-';
}

static int parse_subnet(json_t *o, struct model_subnet *sn, struct st_err *err)
{
    char raw[MODEL_CIDR_MAX];
    json_t *arr, *v;
    size_t i;
    int64_t ver = 0;
    int fam, f2 = 0;
    if (!json_is_object(o))
        return bad(err, "subnets", "not an object");
    if (copy_netid(o, "id", true, sn->id, err) < 0 ||
        copy_str(o, "cidr", true, raw, sizeof(raw), err) < 0 ||
        get_int(o, "ip_version", true, 4, 6, &ver, err) < 0)
        return -1;
    if (ver != 4 && ver != 6)
        return bad(err, "ip_version", "not 4 or 6");
    sn->ip_version = (int) ver;
    fam = ver == 4 ? AF_INET : AF_INET6;
    if (!cidr_canon(raw, fam, false, true, sn->cidr, &sn->prefixlen))
        return bad(err, "cidr", "not a CIDR of the subnet's version without host bits");
    if (get_addr(o, "gateway_ip", false, fam, sn->gateway_ip, &f2, err) < 0)
        return -1;
    v = json_object_get(o, "enable_dhcp");
    if (v && !json_is_boolean(v))
        return bad(err, "enable_dhcp", "not a boolean");
    sn->enable_dhcp = !v || json_is_true(v);
    v = json_object_get(o, "isolated_metadata");
    if (v && !json_is_boolean(v))
        return bad(err, "isolated_metadata", "not a boolean");
    sn->isolated_metadata = json_is_true(v);
    if (get_array(o, "dns_nameservers", MODEL_MAX_DNS, &arr, err) < 0)
        return -1;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !addr_canon(json_string_value(v), 0, sn->dns[sn->ndns]))
            return bad(err, "dns_nameservers", "not an IP address");
        sn->ndns++;
    }
    if (get_array(o, "host_routes", MODEL_MAX_ROUTES, &arr, err) < 0)
        return -1;
    json_array_foreach(arr, i, v)
    {
        if (parse_route(v, &sn->routes[sn->nroutes], err) < 0)
            return -1;
        if (sn->routes[sn->nroutes].family != fam)
            return bad(err, "host_routes", "not of the subnet's version");
        sn->nroutes++;
    }
    if (get_array(o, "allocation_pools", MODEL_MAX_POOLS, &arr, err) < 0)
        return -1;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_object(v) ||
            get_addr(v, "start", true, fam, sn->pools[sn->npools].start, &f2, err) < 0 ||
            get_addr(v, "end", true, fam, sn->pools[sn->npools].end, &f2, err) < 0)
            return st_err_is_set(err) ? -1 : bad(err, "allocation_pools", NULL);
        sn->npools++;
    }
    return 0;
}

static void dhcp_free(struct model_dhcp *dh)
{
    if (!dh)
        return;
    free(dh->subnets);
    free(dh->hosts);
    free(dh);
}

static int parse_dhcp(json_t *o, struct model_dhcp *dh, struct st_err *err)
{
    json_t *arr, *v;
    size_t i;
    if (!json_is_object(o))
        return bad(err, "dhcp", "not an object");
    if (copy_netid(o, "port_id", true, dh->port_id, err) < 0 ||
        get_mac(o, "mac_address", true, dh->mac, err) < 0 ||
        parse_fixed_ips(o, dh->ips, &dh->nips, err) < 0)
        return -1;
    model_ifname("tap", dh->port_id, dh->tap);
    model_ifname("ns-", dh->port_id, dh->ns_if);
    if (get_array(o, "subnets", MODEL_MAX_SUBNETS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        dh->subnets = st_xcalloc(json_array_size(arr), sizeof(*dh->subnets));
    json_array_foreach(arr, i, v)
    {
        if (parse_subnet(v, &dh->subnets[i], err) < 0)
            return -1;
        dh->nsubnets++;
    }
    if (get_array(o, "hosts", MODEL_MAX_DHCP_HOSTS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        dh->hosts = st_xcalloc(json_array_size(arr), sizeof(*dh->hosts));
    json_array_foreach(arr, i, v)
    {
        struct model_dhcp_host *h = &dh->hosts[i];
        if (!json_is_object(v))
            return bad(err, "hosts", "not an object");
        if (get_mac(v, "mac_address", true, h->mac, err) < 0 ||
            get_addr(v, "ip_address", true, 0, h->ip, &h->family, err) < 0 ||
            copy_str(v, "hostname", false, h->hostname, sizeof(h->hostname), err) < 0)
            return -1;
        if (h->hostname[0] && !hostname_ok(h->hostname))
            return bad(err, "hostname", "not a host name");
        dh->nhosts++;
    }
    return 0;
}

static int parse_network(json_t *o, struct model_network *n, struct st_err *err)
{
    const char *type;
    json_t *arr, *v;
    int64_t mtu = 0;
    size_t i;
    if (!json_is_object(o))
        return bad(err, "network", "not an object");
    if (copy_netid(o, "id", true, n->id, err) < 0 ||
        copy_str(o, "physical_network", false, n->physical_network,
                 sizeof(n->physical_network), err) < 0 ||
        get_int(o, "mtu", false, 0, 65535, &mtu, err) < 0)
        return -1;
    if (mtu && mtu < 68)
        return bad(err, "mtu", "out of range");
    n->mtu = (int) mtu;
    for (const char *p = n->physical_network; *p; p++)
        if (!isalnum((unsigned char) *p) && !strchr("_.-", *p))
            return bad(err, "physical_network", "bad characters");
    type = json_string_value(json_object_get(o, "network_type"));
    if (!type)
        return bad(err, "network_type", "missing");
    if (!strcmp(type, "local"))
        n->type = MODEL_NET_LOCAL;
    else if (!strcmp(type, "flat"))
        n->type = MODEL_NET_FLAT;
    else if (!strcmp(type, "vlan"))
        n->type = MODEL_NET_VLAN;
    else if (!strcmp(type, "vxlan"))
        n->type = MODEL_NET_VXLAN;
    else
        return bad(err, "network_type", "not local, flat, vlan or vxlan");
    switch (n->type) {
    case MODEL_NET_VLAN:
        if (get_int(o, "segmentation_id", true, 1, 4094, &n->segmentation_id, err) < 0)
            return -1;
        /* A VLAN needs a physical network too. */
        __attribute__((fallthrough));
    case MODEL_NET_FLAT:
        if (!n->physical_network[0])
            return bad(err, "physical_network", "missing");
        break;
    case MODEL_NET_VXLAN:
        if (get_int(o, "segmentation_id", true, 1, 16777215, &n->segmentation_id, err) < 0)
            return -1;
        if (st_snprintf(n->vxlan, sizeof(n->vxlan), "vxlan-%lld",
                        (long long) n->segmentation_id) < 0)
            return bad(err, "segmentation_id", NULL);
        break;
    case MODEL_NET_LOCAL:
        break;
    }
    v = json_object_get(o, "external");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return bad(err, "external", "not a boolean");
    n->external = json_is_true(v);
    model_ifname("brq", n->id, n->bridge);
    if (st_snprintf(n->dhcp_ns, sizeof(n->dhcp_ns), "qdhcp-%s", n->id) < 0)
        return bad(err, "id", NULL);
    if (get_array(o, "vxlan_peers", MODEL_MAX_PEERS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        n->vxlan_peers = st_xcalloc(json_array_size(arr), sizeof(*n->vxlan_peers));
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !addr_canon(json_string_value(v), 0, n->vxlan_peers[i]))
            return bad(err, "vxlan_peers", "not an IP address");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(n->vxlan_peers[j], n->vxlan_peers[i]))
                return bad(err, "vxlan_peers", "duplicate address");
        n->npeers++;
    }
    if (get_array(o, "vxlan_fdb", MODEL_MAX_FDB, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        n->vxlan_fdb = st_xcalloc(json_array_size(arr), sizeof(*n->vxlan_fdb));
    json_array_foreach(arr, i, v)
    {
        struct model_fdb *f = &n->vxlan_fdb[i];
        const char *mac = json_string_value(json_object_get(v, "mac_address"));
        const char *dst = json_string_value(json_object_get(v, "vtep_ip"));
        if (!mac || st_snprintf(f->mac, sizeof(f->mac), "%s", mac) < 0 || !unicast_mac_ok(f->mac))
            return bad(err, "vxlan_fdb", "not a unicast MAC address");
        if (!dst || !addr_canon(dst, 0, f->dst))
            return bad(err, "vxlan_fdb", "not an IP address");
        n->nfdb++;
    }
    v = json_object_get(o, "dhcp");
    if (v && !json_is_null(v)) {
        n->dhcp = st_xcalloc(1, sizeof(*n->dhcp));
        if (parse_dhcp(v, n->dhcp, err) < 0)
            return -1;
    }
    return 0;
}

static void network_release(struct model_network *n)
{
    free(n->vxlan_peers);
    free(n->vxlan_fdb);
    dhcp_free(n->dhcp);
}

static int parse_port(json_t *o, struct model_port *p, struct st_err *err)
{
    json_t *arr, *v;
    size_t i;
    if (!json_is_object(o))
        return bad(err, "port", "not an object");
    if (copy_netid(o, "id", true, p->id, err) < 0 ||
        copy_netid(o, "network_id", true, p->network_id, err) < 0 ||
        get_mac(o, "mac_address", true, p->mac, err) < 0 ||
        parse_fixed_ips(o, p->ips, &p->nips, err) < 0)
        return -1;
    model_ifname("tap", p->id, p->tap);
    v = json_object_get(o, "port_security_enabled");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return bad(err, "port_security_enabled", "not a boolean");
    p->port_security = !v || json_is_null(v) || json_is_true(v);
    if (get_array(o, "security_groups", MODEL_MAX_PORT_SGS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        p->security_groups = st_xcalloc(json_array_size(arr), sizeof(*p->security_groups));
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !st_is_uuid(json_string_value(v)))
            return bad(err, "security_groups", "not a UUID");
        memcpy(p->security_groups[i], json_string_value(v), json_string_length(v) + 1);
        lower(p->security_groups[i]);
        p->nsecurity_groups++;
    }
    if (get_array(o, "allowed_address_pairs", MODEL_MAX_PAIRS, &arr, err) < 0)
        return -1;
    json_array_foreach(arr, i, v)
    {
        struct model_address_pair *ap = &p->pairs[p->npairs];
        char raw[MODEL_CIDR_MAX];
        if (!json_is_object(v))
            return bad(err, "allowed_address_pairs", "not an object");
        if (copy_str(v, "ip_address", true, raw, sizeof(raw), err) < 0 ||
            get_mac(v, "mac_address", false, ap->mac, err) < 0)
            return -1;
        ap->family = cidr_canon(raw, 0, true, false, ap->ip, &ap->prefixlen);
        if (!ap->family)
            return bad(err, "allowed_address_pairs", "not an address or CIDR");
        if (!ap->mac[0])
            memcpy(ap->mac, p->mac, sizeof(ap->mac));
        p->npairs++;
    }
    return 0;
}

/* The IANA number of a Neutron protocol name or number; -1 when unknown. */
static int protocol_number(const char *s)
{
    static const struct {
        const char *name;
        int num;
    } names[] = {
        {"icmp", 1},    {"igmp", 2},      {"tcp", 6},   {"egp", 8},     {"udp", 17},
        {"ipv6-encap", 41}, {"ipv6-route", 43}, {"ipv6-frag", 44}, {"rsvp", 46},
        {"gre", 47},    {"esp", 50},      {"ah", 51},   {"icmpv6", 58}, {"ipv6-icmp", 58},
        {"ipv6-nonxt", 59}, {"ipv6-opts", 60}, {"ospf", 89}, {"pgm", 113}, {"vrrp", 112},
        {"l2tp", 115},  {"sctp", 132},    {"udplite", 136}, {"dccp", 33},
    };
    uint32_t n;
    for (size_t i = 0; i < ST_ARRAY_SIZE(names); i++)
        if (!strcmp(s, names[i].name))
            return names[i].num;
    if (st_parse_u32(s, 0, 255, &n) == 0)
        return (int) n;
    return -1;
}

static int parse_sg_rule(json_t *o, struct model_sg_rule *r, struct st_err *err)
{
    const char *dir, *eth;
    json_t *v;
    int64_t pmin = -1, pmax = -1;
    char raw[MODEL_CIDR_MAX];
    int plen;
    if (!json_is_object(o))
        return bad(err, "rules", "not an object");
    if (copy_netid(o, "id", true, r->id, err) < 0 ||
        copy_netid(o, "remote_group_id", false, r->remote_group_id, err) < 0 ||
        copy_str(o, "remote_ip_prefix", false, raw, sizeof(raw), err) < 0)
        return -1;
    dir = json_string_value(json_object_get(o, "direction"));
    if (dir && !strcmp(dir, "ingress"))
        r->direction = MODEL_SG_INGRESS;
    else if (dir && !strcmp(dir, "egress"))
        r->direction = MODEL_SG_EGRESS;
    else
        return bad(err, "direction", "not ingress or egress");
    eth = json_string_value(json_object_get(o, "ethertype"));
    if (eth && !strcmp(eth, "IPv4"))
        r->family = AF_INET;
    else if (eth && !strcmp(eth, "IPv6"))
        r->family = AF_INET6;
    else
        return bad(err, "ethertype", "not IPv4 or IPv6");
    v = json_object_get(o, "protocol");
    r->protocol = -1;
    /* Neutron takes "any" for no protocol, as null. */
    if (v && !json_is_null(v) && !(json_is_string(v) && !strcmp(json_string_value(v), "any"))) {
        if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 255)
            r->protocol = (int) json_integer_value(v);
        else if (json_is_string(v) && json_string_length(v) < 16)
            r->protocol = protocol_number(json_string_value(v));
        if (r->protocol < 0)
            return bad(err, "protocol", "unknown");
        /* "icmp" with ethertype IPv6 means ICMPv6, as in Neutron. */
        if (r->protocol == 1 && r->family == AF_INET6)
            r->protocol = 58;
        if (r->protocol == 58 && r->family == AF_INET)
            return bad(err, "protocol", "ICMPv6 with ethertype IPv4");
    }
    if (get_int(o, "port_range_min", false, 0, 65535, &pmin, err) < 0 ||
        get_int(o, "port_range_max", false, 0, 65535, &pmax, err) < 0)
        return -1;
    r->port_min = (int) pmin;
    r->port_max = (int) pmax;
    switch (r->protocol) {
    case 6:
    case 17:
    case 132:
    case 33:
    case 136:
        /* Ports: both or min alone (one port), min <= max, never 0. */
        if (pmin == 0 || pmax == 0 || (pmin < 0 && pmax >= 0) ||
            (pmin >= 0 && pmax >= 0 && pmin > pmax))
            return bad(err, "port_range", "not a valid port range");
        if (pmin >= 0 && pmax < 0)
            r->port_max = (int) pmin;
        break;
    case 1:
    case 58:
        /* ICMP type in min, code in max; a code needs a type. */
        if (pmin > 255 || pmax > 255 || (pmin < 0 && pmax >= 0))
            return bad(err, "port_range", "not a valid ICMP type and code");
        break;
    default:
        if (pmin >= 0 || pmax >= 0)
            return bad(err, "port_range", "only for tcp, udp, sctp, dccp, udplite and icmp");
    }
    if (raw[0]) {
        if (!cidr_canon(raw, r->family, true, false, r->remote_ip_prefix, &plen))
            return bad(err, "remote_ip_prefix", "not a CIDR of the rule's ethertype");
        if (r->remote_group_id[0])
            return bad(err, "remote_ip_prefix", "and remote_group_id both given");
    }
    return 0;
}

static void secgroup_release(struct model_secgroup *g)
{
    free(g->rules);
    free(g->member_ips);
    free(g->member_family);
}

static int parse_secgroup(json_t *o, struct model_secgroup *g, struct st_err *err)
{
    json_t *arr, *v;
    size_t i;
    if (!json_is_object(o))
        return bad(err, "security_group", "not an object");
    if (copy_netid(o, "id", true, g->id, err) < 0)
        return -1;
    v = json_object_get(o, "stateful");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        return bad(err, "stateful", "not a boolean");
    g->stateful = !v || json_is_null(v) || json_is_true(v);
    if (get_array(o, "rules", MODEL_MAX_SG_RULES, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        g->rules = st_xcalloc(json_array_size(arr), sizeof(*g->rules));
    json_array_foreach(arr, i, v)
    {
        if (parse_sg_rule(v, &g->rules[i], err) < 0)
            return -1;
        g->nrules++;
    }
    if (get_array(o, "member_ips", MODEL_MAX_SG_MEMBERS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr)) {
        g->member_ips = st_xcalloc(json_array_size(arr), sizeof(*g->member_ips));
        g->member_family = st_xcalloc(json_array_size(arr), sizeof(*g->member_family));
    }
    json_array_foreach(arr, i, v)
    {
        int fam = json_is_string(v) ? addr_canon(json_string_value(v), 0, g->member_ips[i]) : 0;
        if (!fam)
            return bad(err, "member_ips", "not an IP address");
        g->member_family[i] = fam;
        g->nmembers++;
    }
    return 0;
}

static int parse_router_port(json_t *o, const char *prefix, struct model_router_port *rp,
                             struct st_err *err)
{
    if (!json_is_object(o))
        return bad(err, "router port", "not an object");
    if (copy_netid(o, "port_id", true, rp->port_id, err) < 0 ||
        copy_netid(o, "network_id", true, rp->network_id, err) < 0 ||
        get_mac(o, "mac_address", true, rp->mac, err) < 0 ||
        parse_fixed_ips(o, rp->ips, &rp->nips, err) < 0)
        return -1;
    model_ifname(prefix, rp->port_id, rp->ifname);
    model_ifname("tap", rp->port_id, rp->tap);
    return 0;
}

static void router_release(struct model_router *r)
{
    free(r->interfaces);
    free(r->routes);
    free(r->floating_ips);
}

static int parse_router(json_t *o, struct model_router *r, struct st_err *err)
{
    json_t *arr, *v, *gw;
    size_t i;
    if (!json_is_object(o))
        return bad(err, "router", "not an object");
    if (copy_netid(o, "id", true, r->id, err) < 0)
        return -1;
    if (st_snprintf(r->netns, sizeof(r->netns), "qrouter-%s", r->id) < 0)
        return bad(err, "router id", NULL);
    gw = json_object_get(o, "gateway");
    if (gw && !json_is_null(gw)) {
        int fam = 0;
        if (parse_router_port(gw, "qg-", &r->gateway, err) < 0 ||
            get_addr(gw, "gateway_ip", false, 0, r->gateway_ip, &fam, err) < 0)
            return -1;
        v = json_object_get(gw, "enable_snat");
        if (v && !json_is_null(v) && !json_is_boolean(v))
            return bad(err, "enable_snat", "not a boolean");
        r->enable_snat = !v || json_is_null(v) || json_is_true(v);
        r->has_gateway = true;
    }
    if (get_array(o, "interfaces", MODEL_MAX_ROUTER_IFACES, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        r->interfaces = st_xcalloc(json_array_size(arr), sizeof(*r->interfaces));
    json_array_foreach(arr, i, v)
    {
        if (parse_router_port(v, "qr-", &r->interfaces[i], err) < 0)
            return -1;
        r->ninterfaces++;
    }
    if (get_array(o, "routes", MODEL_MAX_ROUTER_ROUTES, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        r->routes = st_xcalloc(json_array_size(arr), sizeof(*r->routes));
    json_array_foreach(arr, i, v)
    {
        if (parse_route(v, &r->routes[i], err) < 0)
            return -1;
        r->nroutes++;
    }
    if (get_array(o, "floating_ips", MODEL_MAX_FIPS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        r->floating_ips = st_xcalloc(json_array_size(arr), sizeof(*r->floating_ips));
    json_array_foreach(arr, i, v)
    {
        struct model_floating_ip *f = &r->floating_ips[i];
        int fam;
        if (!json_is_object(v))
            return bad(err, "floating_ips", "not an object");
        if (copy_netid(v, "id", true, f->id, err) < 0 ||
            get_addr(v, "floating_ip_address", true, AF_INET, f->floating_ip, &fam, err) < 0 ||
            get_addr(v, "fixed_ip_address", true, AF_INET, f->fixed_ip, &fam, err) < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r->floating_ips[j].floating_ip, f->floating_ip) ||
                !strcmp(r->floating_ips[j].fixed_ip, f->fixed_ip))
                return bad(err, "floating_ips", "an address used twice");
        r->nfloating_ips++;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Refuses duplicate ids within a list and two resources whose derived
 * names collide (two ports whose ids share their first 11 characters
 * would share a tap): one of them would silently be the other. */
static int check_unique(struct model_desired *d, struct st_err *err)
{
    size_t n = d->nnetworks + 2 * d->nports + d->nsecgroups + d->nrouters, k = 0;
    const char **names;
    char(*tmp)[MODEL_NETNS_MAX + 8];
    int rc = 0;
    for (size_t i = 0; i < d->nnetworks; i++)
        n += d->networks[i].dhcp ? 1 : 0;
    for (size_t i = 0; i < d->nrouters; i++)
        n += d->routers[i].ninterfaces + (d->routers[i].has_gateway ? 1 : 0);
    if (n == 0)
        return 0;
    names = st_xcalloc(n, sizeof(*names));
    tmp = st_xcalloc(n, sizeof(*tmp));
#define ADD(fmt, ...)                                                                              \
    do {                                                                                           \
        ST_IGNORE(st_snprintf(tmp[k], sizeof(tmp[k]), fmt, __VA_ARGS__));                          \
        names[k] = tmp[k];                                                                         \
        k++;                                                                                       \
    } while (0)
    for (size_t i = 0; i < d->nnetworks; i++) {
        ADD("net %s", d->networks[i].bridge);
        if (d->networks[i].dhcp)
            ADD("tap %s", d->networks[i].dhcp->tap);
    }
    for (size_t i = 0; i < d->nports; i++) {
        ADD("tap %s", d->ports[i].tap);
        ADD("port %s", d->ports[i].id);
    }
    for (size_t i = 0; i < d->nsecgroups; i++)
        ADD("sg %s", d->secgroups[i].id);
    for (size_t i = 0; i < d->nrouters; i++) {
        ADD("router %s", d->routers[i].id);
        if (d->routers[i].has_gateway)
            ADD("tap %s", d->routers[i].gateway.tap);
        for (size_t j = 0; j < d->routers[i].ninterfaces; j++)
            ADD("tap %s", d->routers[i].interfaces[j].tap);
    }
#undef ADD
    qsort(names, k, sizeof(*names), cmp_str);
    for (size_t i = 1; i < k; i++) {
        if (!strcmp(names[i - 1], names[i])) {
            rc = bad(err, "document: duplicate id or colliding interface name", names[i]);
            break;
        }
    }
    free(names);
    free(tmp);
    return rc;
}

/* Parses list 'key' of 'doc' with 'parse' into '*arr' (elements of 'size'
 * bytes), counting each before parsing so that a half-parsed one is freed. */
static int parse_list(json_t *doc, const char *key, size_t max, size_t size, void **arr,
                      size_t *count, int (*parse)(json_t *, void *, struct st_err *),
                      struct st_err *err)
{
    json_t *v, *o;
    size_t i;
    if (get_array(doc, key, max, &v, err) < 0)
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

static int parse_network_v(json_t *o, void *p, struct st_err *err)
{
    return parse_network(o, p, err);
}
static int parse_port_v(json_t *o, void *p, struct st_err *err)
{
    return parse_port(o, p, err);
}
static int parse_secgroup_v(json_t *o, void *p, struct st_err *err)
{
    return parse_secgroup(o, p, err);
}
static int parse_router_v(json_t *o, void *p, struct st_err *err)
{
    return parse_router(o, p, err);
}

static int parse_net_lists(json_t *doc, struct model_desired *d, struct st_err *err)
{
    if (parse_list(doc, "networks", MODEL_MAX_NETWORKS, sizeof(*d->networks),
                   (void **) &d->networks, &d->nnetworks, parse_network_v, err) < 0 ||
        parse_list(doc, "ports", MODEL_MAX_PORTS, sizeof(*d->ports), (void **) &d->ports,
                   &d->nports, parse_port_v, err) < 0 ||
        parse_list(doc, "security_groups", MODEL_MAX_SECGROUPS, sizeof(*d->secgroups),
                   (void **) &d->secgroups, &d->nsecgroups, parse_secgroup_v, err) < 0 ||
        parse_list(doc, "routers", MODEL_MAX_ROUTERS, sizeof(*d->routers),
                   (void **) &d->routers, &d->nrouters, parse_router_v, err) < 0)
        return -1;
    return check_unique(d, err);
}

/* ---- Volumes (docs/agent-protocol.md, "Volumes in the desired state"). */

/* Whether every character of 's' (non-empty) is alphanumeric or in 'extra'. */
static bool chars_ok(const char *s, const char *extra)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char) *s) && !strchr(extra, *s))
            return false;
    return true;
}

/* An absolute path of [A-Za-z0-9/._-] with no ".." component. */
static bool vol_path_ok(const char *p)
{
    if (p[0] != '/' || !chars_ok(p, "/._-"))
        return false;
    for (const char *q = p; (q = strstr(q, "..")); q++)
        if ((q == p || q[-1] == '/') && (q[2] == '/' || q[2] == '\0'))
            return false;
    return true;
}

static bool hex_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isxdigit((unsigned char) *s))
            return false;
    return true;
}

static int parse_chap(json_t *o, char user[MODEL_CHAP_USER_MAX],
                      char secret[MODEL_CHAP_SECRET_MAX], struct st_err *err)
{
    if (copy_str(o, "chap_user", true, user, MODEL_CHAP_USER_MAX, err) < 0 ||
        copy_str(o, "chap_secret", true, secret, MODEL_CHAP_SECRET_MAX, err) < 0)
        return -1;
    if (!chars_ok(user, "._-"))
        return bad(err, "chap_user", user);
    if (!hex_ok(secret) || strlen(secret) < 12)
        return bad(err, "chap_secret", "not 12 to 64 hex digits");
    return 0;
}

static int parse_attachment(json_t *o, struct model_attachment *a, struct st_err *err)
{
    json_t *c, *bi;
    const char *type;
    int64_t lun = 0;
    if (!json_is_object(o))
        return bad(err, "volumes", "an attachment is not an object");
    a->boot_index = -1;
    if (copy_id(o, "attachment_id", true, a->attachment_id, err) < 0 ||
        copy_id(o, "volume_id", true, a->volume_id, err) < 0 ||
        copy_str(o, "device", true, a->device, sizeof(a->device), err) < 0)
        return -1;
    lower(a->attachment_id);
    lower(a->volume_id);
    if (strlen(a->device) != 3 ||
        (strncmp(a->device, "vd", 2) && strncmp(a->device, "sd", 2) &&
         strncmp(a->device, "hd", 2)) ||
        a->device[2] < 'a' || a->device[2] > 'z')
        return bad(err, "device", a->device);
    bi = json_object_get(o, "boot_index");
    if (bi && !json_is_null(bi)) {
        if (!json_is_integer(bi) || json_integer_value(bi) < 0 || json_integer_value(bi) > 64)
            return bad(err, "boot_index", "out of range");
        a->boot_index = (int) json_integer_value(bi);
    }
    a->delete = json_is_true(json_object_get(o, "delete"));
    c = json_object_get(o, "connection");
    if (!json_is_object(c))
        return bad(err, "connection", "missing");
    type = json_string_value(json_object_get(c, "type"));
    if (!type)
        return bad(err, "connection.type", "missing");
    if (copy_str(c, "format", false, a->format, sizeof(a->format), err) < 0)
        return -1;
    if (a->format[0] && strcmp(a->format, "qcow2") && strcmp(a->format, "raw"))
        return bad(err, "connection.format", a->format);
    if (!strcmp(type, "file") || !strcmp(type, "block")) {
        a->type = !strcmp(type, "file") ? MODEL_CONN_FILE : MODEL_CONN_BLOCK;
        if (copy_str(c, "path", true, a->path, sizeof(a->path), err) < 0)
            return -1;
        if (!vol_path_ok(a->path))
            return bad(err, "connection.path", a->path);
        if (!a->format[0]) {
            const char *f = a->type == MODEL_CONN_FILE ? "qcow2" : "raw";
            memcpy(a->format, f, strlen(f) + 1);
        }
    } else if (!strcmp(type, "iscsi")) {
        a->type = MODEL_CONN_ISCSI;
        if (copy_str(c, "portal", true, a->portal, sizeof(a->portal), err) < 0 ||
            copy_str(c, "iqn", true, a->iqn, sizeof(a->iqn), err) < 0 ||
            get_int(c, "lun", false, 0, 255, &lun, err) < 0 || parse_chap(c, a->chap_user,
                                                                           a->chap_secret, err) < 0)
            return -1;
        a->lun = (int) (lun ? lun : 1);
        if (!chars_ok(a->portal, ".:[]") || !strchr(a->portal, ':'))
            return bad(err, "connection.portal", a->portal);
        if (!chars_ok(a->iqn, ".:-") || strncmp(a->iqn, "iqn.", 4))
            return bad(err, "connection.iqn", a->iqn);
    } else {
        return bad(err, "connection.type", type);
    }
    return 0;
}

static int parse_volume(json_t *o, struct model_volume *v, struct st_err *err)
{
    json_t *src, *arr, *e;
    size_t i;
    if (!json_is_object(o))
        return bad(err, "volumes", "a volume is not an object");
    if (copy_id(o, "id", true, v->id, err) < 0 ||
        copy_str(o, "backend", true, v->backend, sizeof(v->backend), err) < 0 ||
        get_int(o, "size", true, 1, INT64_C(1) << 20, &v->size_gb, err) < 0)
        return -1;
    lower(v->id);
    if (!chars_ok(v->backend, "_"))
        return bad(err, "backend", v->backend);
    v->delete = json_is_true(json_object_get(o, "delete"));
    src = json_object_get(o, "source");
    if (src && !json_is_null(src)) {
        const char *type = json_string_value(json_object_get(src, "type"));
        if (!json_is_object(src) || !type)
            return bad(err, "source", "not an object with a type");
        if (!strcmp(type, "image")) {
            v->source = MODEL_VSRC_IMAGE;
            if (parse_image(json_object_get(src, "image"), &v->image, err) < 0)
                return -1;
            if (!v->image.present)
                return bad(err, "source.image", "missing");
        } else {
            if (!strcmp(type, "snapshot"))
                v->source = MODEL_VSRC_SNAPSHOT;
            else if (!strcmp(type, "volume"))
                v->source = MODEL_VSRC_VOLUME;
            else if (!strcmp(type, "backup"))
                v->source = MODEL_VSRC_BACKUP;
            else
                return bad(err, "source.type", type);
            if (copy_id(src, "id", true, v->source_id, err) < 0)
                return -1;
            lower(v->source_id);
        }
    }
    if (get_array(o, "snapshots", MODEL_MAX_VOL_SNAPSHOTS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        v->snapshots = st_xcalloc(json_array_size(arr), sizeof(*v->snapshots));
    json_array_foreach(arr, i, e)
    {
        if (!json_is_object(e) || copy_id(e, "id", true, v->snapshots[i].id, err) < 0)
            return st_err_is_set(err) ? -1 : bad(err, "snapshots", NULL);
        lower(v->snapshots[i].id);
        v->snapshots[i].delete = json_is_true(json_object_get(e, "delete"));
        v->nsnapshots++;
    }
    if (get_array(o, "exports", MODEL_MAX_EXPORTS, &arr, err) < 0)
        return -1;
    if (json_array_size(arr))
        v->exports = st_xcalloc(json_array_size(arr), sizeof(*v->exports));
    json_array_foreach(arr, i, e)
    {
        struct model_vol_export *x = &v->exports[i];
        if (!json_is_object(e) || copy_id(e, "attachment_id", true, x->attachment_id, err) < 0 ||
            parse_chap(e, x->chap_user, x->chap_secret, err) < 0)
            return st_err_is_set(err) ? -1 : bad(err, "exports", NULL);
        lower(x->attachment_id);
        v->nexports++;
    }
    return 0;
}

static void volume_release(struct model_volume *v)
{
    image_release(&v->image);
    free(v->snapshots);
    if (v->exports) {
        explicit_bzero(v->exports, v->nexports * sizeof(*v->exports));
        free(v->exports);
    }
}

static int parse_volume_v(json_t *o, void *p, struct st_err *err)
{
    return parse_volume(o, p, err);
}

static int parse_vol_lists(json_t *doc, struct model_desired *d, struct st_err *err)
{
    json_t *b, *e;
    size_t i;
    d->has_volumes = json_is_array(json_object_get(doc, "volumes"));
    if (parse_list(doc, "volumes", MODEL_MAX_VOLUMES, sizeof(*d->volumes), (void **) &d->volumes,
                   &d->nvolumes, parse_volume_v, err) < 0)
        return -1;
    for (i = 0; i < d->nvolumes; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->volumes[i].id, d->volumes[j].id))
                return bad(err, "volumes", "duplicate id");
    if (get_array(doc, "backups", MODEL_MAX_VOLUMES * 4, &b, err) < 0)
        return -1;
    d->has_backups = b != NULL;
    if (json_array_size(b))
        d->backups = st_xcalloc(json_array_size(b), sizeof(*d->backups));
    json_array_foreach(b, i, e)
    {
        if (!json_is_object(e) || copy_id(e, "id", true, d->backups[i], err) < 0)
            return st_err_is_set(err) ? -1 : bad(err, "backups", NULL);
        lower(d->backups[i]);
        d->nbackups++;
    }
    return 0;
}

const struct model_volume *model_find_volume(const struct model_desired *d, const char *id)
{
    for (size_t i = 0; i < d->nvolumes; i++)
        if (!strcmp(d->volumes[i].id, id))
            return &d->volumes[i];
    return NULL;
}

const struct model_attachment *model_boot_volume(const struct model_server *s)
{
    for (int i = 0; i < s->nvolumes; i++)
        if (s->volumes[i].boot_index == 0 && !s->volumes[i].delete)
            return &s->volumes[i];
    return NULL;
}

bool model_task_is_volume(const struct model_task *t)
{
    return t->kind == MODEL_TASK_VOLUME_BACKUP || t->kind == MODEL_TASK_VOLUME_RESTORE ||
           t->kind == MODEL_TASK_VOLUME_UPLOAD_IMAGE;
}

const struct model_network *model_find_network(const struct model_desired *d, const char *id)
{
    for (size_t i = 0; i < d->nnetworks; i++)
        if (!strcmp(d->networks[i].id, id))
            return &d->networks[i];
    return NULL;
}

const struct model_secgroup *model_find_secgroup(const struct model_desired *d, const char *id)
{
    for (size_t i = 0; i < d->nsecgroups; i++)
        if (!strcmp(d->secgroups[i].id, id))
            return &d->secgroups[i];
    return NULL;
}

const char *model_net_type_name(enum model_net_type t)
{
    static const char *const names[] = {"local", "flat", "vlan", "vxlan"};
    return (unsigned) t < ST_ARRAY_SIZE(names) ? names[t] : "unknown";
}

struct model_desired *model_desired_parse(json_t *doc, struct st_err *err)
{
    struct model_desired *d = st_xcalloc(1, sizeof(*d));
    json_t *servers, *tasks, *o;
    size_t i;

    if (!json_is_object(doc) || copy_str(doc, "host", true, d->host, sizeof(d->host), err) < 0 ||
        copy_id(doc, "host_id", false, d->host_id, err) < 0 ||
        get_int(doc, "revision", true, 0, INT64_MAX, &d->revision, err) < 0)
        goto fail;
    lower(d->host_id);
    servers = json_object_get(doc, "servers");
    tasks = json_object_get(doc, "tasks");
    if ((servers && !json_is_array(servers)) || (tasks && !json_is_array(tasks))) {
        bad(err, "document", "servers and tasks must be arrays");
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
    if (parse_net_lists(doc, d, err) < 0 || parse_vol_lists(doc, d, err) < 0)
        goto fail;
    /* The metadata proxy's signing key (docs/agent-protocol.md, "Metadata"). */
    o = json_object_get(doc, "metadata");
    if (o && !json_is_null(o) &&
        (!json_is_object(o) || copy_str(o, "shared_secret", false, d->metadata_secret,
                                        sizeof(d->metadata_secret), err) < 0)) {
        if (!st_err_is_set(err))
            bad(err, "metadata", "not an object");
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
        network_release(&d->networks[i]);
    free(d->networks);
    for (size_t i = 0; i < d->nports; i++)
        free(d->ports[i].security_groups);
    free(d->ports);
    for (size_t i = 0; i < d->nsecgroups; i++)
        secgroup_release(&d->secgroups[i]);
    free(d->secgroups);
    for (size_t i = 0; i < d->nrouters; i++)
        router_release(&d->routers[i]);
    free(d->routers);
    for (size_t i = 0; i < d->nvolumes; i++)
        volume_release(&d->volumes[i]);
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

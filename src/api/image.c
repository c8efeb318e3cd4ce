/*
 * image.c (api) - Glance v2 routes under /image/v2: images, their data
 * (streamed upload, ranged download), tags, members, deactivation, and the
 * schema documents clients fetch.  The logic is in image/image.c; this file
 * parses queries, adds Glance's relative links and picks status codes.
 */
#include "api/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "image/image.h"
#include "common/banned.h"

#define V2 "/image/v2"

static void add_links(json_t *img)
{
    struct st_buf b = ST_BUF_INIT;
    const char *id = json_string_value(json_object_get(img, "id"));
    st_buf_addf(&b, "/v2/images/%s", id ? id : "");
    json_object_set_new(img, "self", json_string(b.buf));
    st_buf_adds(&b, "/file");
    json_object_set_new(img, "file", json_string(b.buf));
    json_object_set_new(img, "schema", json_string("/v2/schemas/image"));
    st_buf_release(&b);
}

static int reply_image(struct api_resp *resp, int status, json_t *img)
{
    if (!img)
        return -1;
    add_links(img);
    api_reply(resp, status, img);
    return 0;
}

static int images_create(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err);
    if (!in)
        return -1;
    return reply_image(resp, 201, image_create(req->db, &req->auth, in, err));
}

static int images_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    return reply_image(resp, 200, image_get(req->db, &req->auth, api_param(req, 0), err));
}

/* Query parameters with a meaning of their own; any other is a property
 * filter. */
static const char *const list_params[] = {
    "name",      "status",   "visibility", "owner",    "tag",      "disk_format",
    "container_format", "member_status", "size_min", "size_max", "protected", "os_hidden",
    "sort_key",  "sort_dir", "sort",       "limit",    "marker",   "id",
    "created_at", "updated_at",
};

struct list_ctx {
    struct image_query *q;
    struct st_err *err;
    struct st_buf next; /* the query for the next link, without marker */
};

static int parse_bool3(const char *v, int *out, const char *name, struct st_err *err)
{
    bool b;
    if (st_parse_bool(v, &b) < 0) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid value for %s: expected a boolean", name);
        return -1;
    }
    *out = b;
    return 0;
}

static void add_sort(struct image_query *q, const char *key, const char *dir, struct st_err *err)
{
    if (q->nsort >= (int) ST_ARRAY_SIZE(q->sort_keys)) {
        st_err_set(err, ST_ERR_BAD_REQUEST, "Too many sort keys");
        return;
    }
    q->sort_keys[q->nsort] = key;
    q->sort_desc[q->nsort] = !dir || !strcasecmp(dir, "desc");
    if (dir && strcasecmp(dir, "desc") && strcasecmp(dir, "asc"))
        st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid sort direction: %s", dir);
    q->nsort++;
}

static void list_param(void *arg, const char *k, const char *v)
{
    struct list_ctx *lc = arg;
    struct image_query *q = lc->q;
    struct st_err *err = lc->err;
    int64_t n;
    bool known = false;

    if (st_err_is_set(err))
        return;
    if (strcmp(k, "marker")) {
        /* Keep every parameter but the marker for the 'next' link. */
        if (lc->next.len)
            st_buf_addch(&lc->next, '&');
        st_url_escape(k, &lc->next);
        st_buf_addch(&lc->next, '=');
        st_url_escape(v, &lc->next);
    }
    for (size_t i = 0; i < ST_ARRAY_SIZE(list_params); i++)
        known |= !strcmp(k, list_params[i]);
    if (!known) {
        if (q->nprops < (int) ST_ARRAY_SIZE(q->props)) {
            q->props[q->nprops].name = k;
            q->props[q->nprops].value = v;
            q->nprops++;
        }
        return;
    }
    if (!strcmp(k, "name"))
        q->name = v;
    else if (!strcmp(k, "status"))
        q->status = v;
    else if (!strcmp(k, "visibility"))
        q->visibility = v;
    else if (!strcmp(k, "owner"))
        q->owner = v;
    else if (!strcmp(k, "disk_format"))
        q->disk_format = v;
    else if (!strcmp(k, "container_format"))
        q->container_format = v;
    else if (!strcmp(k, "member_status"))
        q->member_status = v;
    else if (!strcmp(k, "marker"))
        q->marker = v;
    else if (!strcmp(k, "id")) {
        q->id_in = strncmp(v, "in:", 3) ? v : v + 3;
    } else if (!strcmp(k, "tag")) {
        if (q->ntags < (int) ST_ARRAY_SIZE(q->tags))
            q->tags[q->ntags++] = v;
    } else if (!strcmp(k, "size_min") || !strcmp(k, "size_max")) {
        if (st_parse_i64(v, 0, INT64_MAX, &n) < 0)
            st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid value for %s: %s", k, v);
        else if (!strcmp(k, "size_min"))
            q->size_min = n;
        else
            q->size_max = n;
    } else if (!strcmp(k, "protected")) {
        (void) parse_bool3(v, &q->protected_, k, err);
    } else if (!strcmp(k, "os_hidden")) {
        (void) parse_bool3(v, &q->os_hidden, k, err);
    } else if (!strcmp(k, "limit")) {
        if (st_parse_i64(v, 0, INT32_MAX, &n) < 0)
            st_err_set(err, ST_ERR_BAD_REQUEST, "limit param must be an integer");
        else
            q->limit = n > IMAGE_LIST_MAX ? IMAGE_LIST_MAX : (int) n;
    } else if (!strcmp(k, "sort_key")) {
        add_sort(q, v, NULL, err);
    } else if (!strcmp(k, "sort_dir")) {
        /* Applies to the sort_key given before it (Glance pairs them). */
        if (q->nsort > 0) {
            q->sort_desc[q->nsort - 1] = !strcasecmp(v, "desc");
            if (strcasecmp(v, "desc") && strcasecmp(v, "asc"))
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid sort direction: %s", v);
        } else {
            add_sort(q, "created_at", v, err);
        }
    } else if (!strcmp(k, "sort")) {
        /* "name:asc,created_at" */
        char *copy = st_xstrdup(v), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t && !st_err_is_set(err);
             t = strtok_r(NULL, ",", &save)) {
            char *colon = strchr(t, ':');
            if (colon)
                *colon = '\0';
            /* Keys must outlive the query: take them from the constant list. */
            const char *key = NULL;
            static const char *const keys[] = {"name", "status", "container_format",
                                               "disk_format", "size", "id", "created_at",
                                               "updated_at", "visibility", "owner", "min_disk",
                                               "min_ram", "virtual_size"};
            for (size_t i = 0; i < ST_ARRAY_SIZE(keys); i++)
                if (!strcmp(keys[i], t))
                    key = keys[i];
            if (!key) {
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid sort key: %s", t);
                break;
            }
            add_sort(q, key, colon ? (colon[1] && !strcasecmp(colon + 1, "asc") ? "asc" : "desc")
                                   : "desc",
                     err);
            if (colon && strcasecmp(colon + 1, "asc") && strcasecmp(colon + 1, "desc"))
                st_err_set(err, ST_ERR_BAD_REQUEST, "Invalid sort direction: %s", colon + 1);
        }
        free(copy);
    }
}

static int images_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct image_query q;
    struct list_ctx lc = {&q, err, ST_BUF_INIT};
    json_t *arr, *o, *body;
    bool more;
    size_t i;

    image_query_init(&q);
    api_query_each(req, list_param, &lc);
    if (st_err_is_set(err)) {
        st_buf_release(&lc.next);
        return -1;
    }
    arr = image_list(req->db, &req->auth, &q, &more, err);
    if (!arr) {
        st_buf_release(&lc.next);
        return -1;
    }
    json_array_foreach(arr, i, o)
        add_links(o);
    body = json_pack("{s:o, s:s, s:s}", "images", arr, "first", "/v2/images", "schema",
                     "/v2/schemas/images");
    if (more && json_array_size(arr)) {
        struct st_buf next = ST_BUF_INIT;
        const char *last = json_string_value(
            json_object_get(json_array_get(arr, json_array_size(arr) - 1), "id"));
        st_buf_addf(&next, "/v2/images?%s%smarker=%s", lc.next.buf, lc.next.len ? "&" : "",
                    last);
        json_object_set_new(body, "next", json_string(next.buf));
        st_buf_release(&next);
    }
    st_buf_release(&lc.next);
    api_reply(resp, 200, body);
    return 0;
}

static int images_patch(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    const char *ct = api_header(req, "Content-Type");
    json_t *ops;
    if (!ct || (strncmp(ct, "application/openstack-images-v2.1-json-patch", 44) &&
                strncmp(ct, "application/openstack-images-v2.0-json-patch", 44))) {
        st_err_set(err, ST_ERR_UNSUPPORTED_MEDIA,
                   "Unsupported Content-Type '%s': use "
                   "application/openstack-images-v2.1-json-patch",
                   ct ? ct : "");
        return -1;
    }
    ops = api_body_json_any(req, err);
    if (!ops)
        return -1;
    return reply_image(resp, 200, image_patch(req->db, &req->auth, api_param(req, 0), ops, err));
}

static int images_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (image_delete(req->db, &req->auth, req->app->images, api_param(req, 0), err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

static int images_deactivate(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (image_set_active(req->db, &req->auth, api_param(req, 0), false, err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

static int images_reactivate(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (image_set_active(req->db, &req->auth, api_param(req, 0), true, err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

static int tag_put(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (image_tag(req->db, &req->auth, api_param(req, 0), api_param(req, 1), true, err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

static int tag_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (image_tag(req->db, &req->auth, api_param(req, 0), api_param(req, 1), false, err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

static int members_list(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *arr = image_member_list(req->db, &req->auth, api_param(req, 0), err);
    if (!arr)
        return -1;
    api_reply(resp, 200, json_pack("{s:o, s:s}", "members", arr, "schema",
                                   "/v2/schemas/members"));
    return 0;
}

static int members_add(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *m;
    const char *member;
    if (!in || jget_str(in, "member", true, 64, &member, err) < 0)
        return -1;
    m = image_member_add(req->db, &req->auth, api_param(req, 0), member, err);
    if (!m)
        return -1;
    api_reply(resp, 200, m);
    return 0;
}

static int member_show(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *m = image_member_get(req->db, &req->auth, api_param(req, 0), api_param(req, 1), err);
    if (!m)
        return -1;
    api_reply(resp, 200, m);
    return 0;
}

static int member_update(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    json_t *in = api_body_json(req, err), *m;
    const char *status;
    if (!in || jget_str(in, "status", true, 16, &status, err) < 0)
        return -1;
    m = image_member_update(req->db, &req->auth, api_param(req, 0), api_param(req, 1), status,
                            err);
    if (!m)
        return -1;
    api_reply(resp, 200, m);
    return 0;
}

static int member_delete(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    if (image_member_delete(req->db, &req->auth, api_param(req, 0), api_param(req, 1), err) < 0)
        return -1;
    api_reply(resp, 204, NULL);
    return 0;
}

/* ---- data ------------------------------------------------------------- */

static int upload_begin(struct api_req *req, struct st_err *err)
{
    struct store_conn *c = api_db(req, err);
    if (!c)
        return -1;
    req->stream = image_upload_begin(c, &req->auth, req->app->images, api_param(req, 0), err);
    /* The body may take minutes: do not hold a store connection meanwhile. */
    api_db_release(req);
    return req->stream ? 0 : -1;
}

static int upload_data(struct api_req *req, const char *data, size_t len, struct st_err *err)
{
    return image_upload_write(req->stream, data, len, err);
}

static void upload_abort(struct api_req *req)
{
    struct st_err ignored = ST_ERR_INIT;
    if (!req->stream)
        return;
    image_upload_abort(api_db(req, &ignored), req->stream);
    req->stream = NULL;
}

static int upload_finish(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    struct store_conn *c = api_db(req, err);
    json_t *img;
    if (!c)
        return -1; /* the stream is aborted by the server */
    img = image_upload_finish(c, req->stream, err);
    req->stream = NULL;
    if (!img) {
        req->stream_done = true; /* finish already undid the upload */
        return -1;
    }
    json_decref(img);
    api_reply(resp, 204, NULL);
    return 0;
}

static const struct api_stream_ops upload_ops = {upload_begin, upload_data, upload_abort};

/* "bytes=A-B", "bytes=A-", "bytes=-N" against 'size'. 0 with the range,
 * 1 when there is no usable Range header, -1 when unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *end)
{
    unsigned long long a = 0, b = 0;
    char tail;
    if (!h || strncmp(h, "bytes=", 6))
        return 1;
    h += 6;
    if (strchr(h, ','))
        return 1; /* multiple ranges: serve the whole image */
    if (h[0] == '-') {
        if (sscanf(h + 1, "%llu%c", &b, &tail) != 1 || b == 0)
            return -1;
        if (b > size)
            b = size;
        *start = size - b;
        *end = size - 1;
        return size ? 0 : -1;
    }
    int n = sscanf(h, "%llu-%llu%c", &a, &b, &tail);
    if (n == 1 && h[strlen(h) - 1] == '-')
        b = size ? size - 1 : 0;
    else if (n != 2)
        return -1;
    if (a >= size || b < a)
        return -1;
    if (b >= size)
        b = size - 1;
    *start = a;
    *end = b;
    return 0;
}

static int download(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    int fd;
    uint64_t size, start = 0, end = 0;
    char md5[33];
    int r;

    if (image_open_data(req->db, &req->auth, req->app->images, api_param(req, 0), &fd, &size,
                        md5, err) < 0)
        return -1;
    if (fd < 0) {
        api_reply(resp, 204, NULL); /* no data yet, as Glance answers */
        return 0;
    }
    r = parse_range(api_header(req, "Range"), size, &start, &end);
    if (r < 0) {
        close(fd);
        api_add_header(resp, "Content-Range", "bytes */%llu", (unsigned long long) size);
        st_err_set(err, ST_ERR_RANGE, "Requested range not satisfiable");
        return -1;
    }
    if (r == 0) {
        resp->status = 206;
        api_add_header(resp, "Content-Range", "bytes %llu-%llu/%llu",
                       (unsigned long long) start, (unsigned long long) end,
                       (unsigned long long) size);
        if (api_resp_file(resp, fd, start, end - start + 1, err) < 0)
            return -1;
    } else {
        resp->status = 200;
        if (md5[0])
            api_add_header(resp, "Content-MD5", "%s", md5);
        if (api_resp_file(resp, fd, 0, size, err) < 0)
            return -1;
    }
    resp->content_type = "application/octet-stream";
    return 0;
}

/* ---- schemas ------------------------------------------------------------ */

static const char image_schema[] =
    "{\"name\": \"image\", \"additionalProperties\": {\"type\": \"string\"},"
    " \"links\": [{\"href\": \"{self}\", \"rel\": \"self\"}, {\"href\": \"{file}\", \"rel\":"
    " \"enclosure\"}, {\"href\": \"{schema}\", \"rel\": \"describedby\"}],"
    " \"properties\": {"
    "\"id\": {\"type\": \"string\", \"pattern\": \"^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-"
    "([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$\"},"
    "\"name\": {\"type\": [\"null\", \"string\"], \"maxLength\": 255},"
    "\"status\": {\"type\": \"string\", \"readOnly\": true, \"enum\": [\"queued\", \"saving\","
    " \"active\", \"killed\", \"deleted\", \"uploading\", \"importing\", \"pending_delete\","
    " \"deactivated\"]},"
    "\"visibility\": {\"type\": \"string\", \"enum\": [\"community\", \"public\", \"private\","
    " \"shared\"]},"
    "\"protected\": {\"type\": \"boolean\"}, \"os_hidden\": {\"type\": \"boolean\"},"
    "\"checksum\": {\"type\": [\"null\", \"string\"], \"readOnly\": true, \"maxLength\": 32},"
    "\"os_hash_algo\": {\"type\": [\"null\", \"string\"], \"readOnly\": true},"
    "\"os_hash_value\": {\"type\": [\"null\", \"string\"], \"readOnly\": true},"
    "\"owner\": {\"type\": [\"null\", \"string\"], \"maxLength\": 255},"
    "\"size\": {\"type\": [\"null\", \"integer\"], \"readOnly\": true},"
    "\"virtual_size\": {\"type\": [\"null\", \"integer\"], \"readOnly\": true},"
    "\"container_format\": {\"type\": [\"null\", \"string\"], \"enum\": [null, \"ami\", \"ari\","
    " \"aki\", \"bare\", \"ovf\", \"ova\", \"docker\", \"compressed\"]},"
    "\"disk_format\": {\"type\": [\"null\", \"string\"], \"enum\": [null, \"ami\", \"ari\","
    " \"aki\", \"vhd\", \"vhdx\", \"vmdk\", \"raw\", \"qcow2\", \"vdi\", \"iso\", \"ploop\"]},"
    "\"created_at\": {\"type\": \"string\", \"readOnly\": true},"
    "\"updated_at\": {\"type\": \"string\", \"readOnly\": true},"
    "\"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"maxLength\": 255}},"
    "\"min_ram\": {\"type\": \"integer\"}, \"min_disk\": {\"type\": \"integer\"},"
    "\"self\": {\"type\": \"string\", \"readOnly\": true},"
    "\"file\": {\"type\": \"string\", \"readOnly\": true},"
    "\"schema\": {\"type\": \"string\", \"readOnly\": true},"
    "\"kernel_id\": {\"type\": [\"null\", \"string\"], \"is_base\": false},"
    "\"ramdisk_id\": {\"type\": [\"null\", \"string\"], \"is_base\": false},"
    "\"os_distro\": {\"type\": \"string\", \"is_base\": false}}}";

static const char member_schema[] =
    "{\"name\": \"member\", \"properties\": {"
    "\"created_at\": {\"type\": \"string\"}, \"image_id\": {\"type\": \"string\"},"
    "\"member_id\": {\"type\": \"string\"}, \"schema\": {\"type\": \"string\", \"readOnly\": true},"
    "\"status\": {\"type\": \"string\", \"enum\": [\"pending\", \"accepted\", \"rejected\"]},"
    "\"updated_at\": {\"type\": \"string\"}}}";

static int schema_reply(struct api_resp *resp, const char *text, const char *plural,
                        struct st_err *err)
{
    json_t *s = json_loads(text, 0, NULL);
    if (!s) {
        st_err_set(err, ST_ERR_INTERNAL, "bad built-in schema");
        return -1;
    }
    if (plural) {
        json_t *list = json_pack("{s:s, s:{s:{s:s, s:O}, s:{s:s}, s:{s:s}, s:{s:s}}, s:[{s:s, "
                                 "s:s}, {s:s, s:s}, {s:s, s:s}]}",
                                 "name", plural, "properties", plural, "type", "array", "items",
                                 s, "schema", "type", "string", "first", "type", "string",
                                 "next", "type", "string", "links", "rel", "first", "href",
                                 "{first}", "rel", "next", "href", "{next}", "rel",
                                 "describedby", "href", "{schema}");
        json_decref(s);
        s = list;
    }
    api_reply(resp, 200, s);
    return 0;
}

static int schema_image(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) req;
    return schema_reply(resp, image_schema, NULL, err);
}

static int schema_images(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) req;
    return schema_reply(resp, image_schema, "images", err);
}

static int schema_member(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) req;
    return schema_reply(resp, member_schema, NULL, err);
}

static int schema_members(struct api_req *req, struct api_resp *resp, struct st_err *err)
{
    (void) req;
    return schema_reply(resp, member_schema, "members", err);
}

#define A ROUTE_AUTH
#define R(m, p, fn) {m, V2 p, fn, A, SVC_IMAGE, NULL}

const struct route image_routes[] = {
    R("GET", "/images", images_list),
    R("POST", "/images", images_create),
    R("GET", "/images/{id}", images_show),
    R("PATCH", "/images/{id}", images_patch),
    R("DELETE", "/images/{id}", images_delete),
    {"PUT", V2 "/images/{id}/file", upload_finish, A, SVC_IMAGE, &upload_ops},
    R("GET", "/images/{id}/file", download),
    R("POST", "/images/{id}/actions/deactivate", images_deactivate),
    R("POST", "/images/{id}/actions/reactivate", images_reactivate),
    R("PUT", "/images/{id}/tags/{tag}", tag_put),
    R("DELETE", "/images/{id}/tags/{tag}", tag_delete),
    R("GET", "/images/{id}/members", members_list),
    R("POST", "/images/{id}/members", members_add),
    R("GET", "/images/{id}/members/{member}", member_show),
    R("PUT", "/images/{id}/members/{member}", member_update),
    R("DELETE", "/images/{id}/members/{member}", member_delete),
    R("GET", "/schemas/image", schema_image),
    R("GET", "/schemas/images", schema_images),
    R("GET", "/schemas/member", schema_member),
    R("GET", "/schemas/members", schema_members),
};
const size_t image_routes_count = sizeof(image_routes) / sizeof(image_routes[0]);

/*
 * image.h - Glance v2 image logic: the image records and their lifecycle
 * (queued -> saving -> active, deactivated), visibility and members, tags,
 * free-form properties, and the image files in DATA_DIR/images.
 *
 * Images come back as jansson objects in Glance's representation without the
 * 'self'/'file'/'schema' links, which the API layer adds.  Who may see an
 * image is decided here, in image_visible(); write access is the owner's
 * (or an admin's), through policy_write().
 *
 * An upload streams into a temporary file beside the final one while MD5 and
 * SHA-512 are computed; at the end the content is inspected (image/inspect.h)
 * and, if it is what the image's disk_format says and is safe, renamed into
 * place and the image becomes active.  Any failure, or a lost connection,
 * removes the temporary file and returns the image to 'queued'.
 */
#ifndef ST_IMAGE_H
#define ST_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "identity/policy.h"
#include "store/store.h"

#define IMAGE_LIST_MAX 1000

/* Where image files live: "DATA_DIR/images". */
struct image_files {
    const char *dir;
    uint64_t max_size; /* largest upload accepted, in bytes */
};

/* Creates the image directory, and after a crash resets images left in
 * 'saving' to 'queued' and removes partial uploads.  Call at start. */
int image_recover(struct store_conn *c, const struct image_files *files, struct st_err *err)
    __attribute__((warn_unused_result));

/* POST /v2/images: 'in' is the request object.  Returns the new image. */
json_t *image_create(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                     struct st_err *err);
/* The same inside the caller's open transaction (a server snapshot creates
 * its image and its task together). */
json_t *image_create_in_tx(struct store_conn *c, const struct auth_ctx *ctx, json_t *in,
                           struct st_err *err);
/* The image if the caller may see it; NOT_FOUND otherwise. */
json_t *image_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                  struct st_err *err);

struct image_query {
    const char *name, *status, *visibility, *owner, *disk_format, *container_format;
    const char *member_status, *id_in;
    const char *tags[16];
    int ntags;
    struct {
        const char *name, *value;
    } props[16];
    int nprops;
    int64_t size_min, size_max; /* -1: unset */
    int protected_;             /* -1 unset, 0, 1 */
    int os_hidden;              /* -1 unset (= hide hidden), 0, 1 */
    const char *sort_keys[4];
    bool sort_desc[4];
    int nsort;
    int limit;
    const char *marker;
};
/* Fills the defaults (limit 25, sort created_at desc, ...). */
void image_query_init(struct image_query *q);
/* Lists visible images matching 'q'; *more says whether another page
 * follows.  Returns a new array. */
json_t *image_list(struct store_conn *c, const struct auth_ctx *ctx, const struct image_query *q,
                   bool *more, struct st_err *err);

/* PATCH with a JSON-patch array (application/openstack-images-v2.1-json-patch). */
json_t *image_patch(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                    json_t *ops, struct st_err *err);
int image_delete(struct store_conn *c, const struct auth_ctx *ctx,
                 const struct image_files *files, const char *id, struct st_err *err)
    __attribute__((warn_unused_result));
/* Admin: deactivate (true) or reactivate (false). */
int image_set_active(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                     bool active, struct st_err *err) __attribute__((warn_unused_result));
int image_tag(struct store_conn *c, const struct auth_ctx *ctx, const char *id, const char *tag,
              bool add, struct st_err *err) __attribute__((warn_unused_result));

/* Members of a shared image. */
json_t *image_member_add(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         const char *member, struct st_err *err);
json_t *image_member_list(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                          struct st_err *err);
json_t *image_member_get(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                         const char *member, struct st_err *err);
json_t *image_member_update(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                            const char *member, const char *status, struct st_err *err);
int image_member_delete(struct store_conn *c, const struct auth_ctx *ctx, const char *id,
                        const char *member, struct st_err *err)
    __attribute__((warn_unused_result));

/* Uploads. */
struct image_upload;
/* Claims the image for upload (queued -> saving) and opens the temporary
 * file.  CONFLICT if the image is not queued. */
struct image_upload *image_upload_begin(struct store_conn *c, const struct auth_ctx *ctx,
                                        const struct image_files *files, const char *id,
                                        struct st_err *err);
int image_upload_write(struct image_upload *up, const void *data, size_t len, struct st_err *err)
    __attribute__((warn_unused_result));
/* Inspects, publishes and activates; frees 'up' whatever happens.  On error
 * the image is back to 'queued'.  Returns the active image. */
json_t *image_upload_finish(struct store_conn *c, struct image_upload *up, struct st_err *err);
/* Abandons an upload: removes the file, image back to 'queued'; frees 'up'. */
void image_upload_abort(struct store_conn *c, struct image_upload *up);

/* Opens the data of an active image for reading (O_CLOEXEC).  Non-admins
 * may not read a deactivated image.  Sets *fd (caller closes), *size and
 * copies the MD5 checksum (hex) into 'md5'.  An image without data yet gives
 * *fd = -1 and returns 0. */
int image_open_data(struct store_conn *c, const struct auth_ctx *ctx,
                    const struct image_files *files, const char *id, int *fd, uint64_t *size,
                    char md5[33], struct st_err *err) __attribute__((warn_unused_result));

#endif

/* model_internal.h - what the parsers of the desired state share with one
 * another and with nobody else (model.h is the agent's view):
 *
 *   model.c         the document, servers, flavors, images and tasks, and
 *                   the checks of member types every parser uses
 *   model_net.c     the networking lists: networks, ports, security
 *                   groups, routers
 *   model_volume.c  volumes and their attachments
 *
 * Every function here fills 'err' (ST_ERR_BAD_REQUEST, "desired state:
 * invalid ...") where the document is refused. */
#ifndef ST_AGENT_MODEL_INTERNAL_H
#define ST_AGENT_MODEL_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/model.h"
#include "common/err.h"

/* ---- model.c ------------------------------------------------------------ */

/* Sets 'err' to "invalid 'what': 'detail'" (detail may be NULL); returns -1. */
int model_bad(struct st_err *err, const char *what, const char *detail);
/* Copies string member 'key' of 'o' into 'dst' ('n' bytes); "" when absent
 * or null, which fails when 'required'. */
int model_copy_str(json_t *o, const char *key, bool required, char *dst, size_t n,
                   struct st_err *err);
/* model_copy_str() of a UUID (or ""). */
int model_copy_id(json_t *o, const char *key, bool required, char *dst, struct st_err *err);
/* Integer member 'key' of 'o' in [min, max] into '*out', left alone when
 * absent or null and not 'required'. */
int model_get_int(json_t *o, const char *key, bool required, int64_t min, int64_t max,
                  int64_t *out, struct st_err *err);
/* An optional array member 'key' of 'o', at most 'max' long; NULL when absent or null. */
int model_get_array(json_t *o, const char *key, size_t max, json_t **out, struct st_err *err);
/* Parses list 'key' of 'doc' with 'parse' into '*arr' (elements of 'size'
 * bytes), counting each before parsing so that a half-parsed one is freed. */
int model_parse_list(json_t *doc, const char *key, size_t max, size_t size, void **arr,
                     size_t *count, int (*parse)(json_t *, void *, struct st_err *),
                     struct st_err *err);
/* Lower-cases 's' in place. */
void model_lower(char *s);
/* Whether 's' is a MAC address "xx:xx:xx:xx:xx:xx"; lower-cases it. */
bool model_mac_ok(char *s);
/* An image object into '*img'; release with model_image_release(). */
int model_parse_image(json_t *o, struct model_image *img, struct st_err *err);
void model_image_release(struct model_image *img);

/* ---- model_migration.c -------------------------------------------------- */

/* The "migration" member of a SERVER (null or absent: none) into '*m';
 * release with model_migration_release(). */
int model_parse_migration(json_t *o, struct model_migration *m, struct st_err *err);
void model_migration_release(struct model_migration *m);

/* ---- model_net.c -------------------------------------------------------- */

/* The networking lists of 'doc' into 'd' (networks, ports, security
 * groups, routers), then the check that no two share an id or a derived
 * interface name. */
int model_parse_net_lists(json_t *doc, struct model_desired *d, struct st_err *err);
void model_network_release(struct model_network *n);
void model_secgroup_release(struct model_secgroup *g);
void model_router_release(struct model_router *r);

/* ---- model_volume.c ----------------------------------------------------- */

/* The volumes and backups lists of 'doc' into 'd'. */
int model_parse_vol_lists(json_t *doc, struct model_desired *d, struct st_err *err);
/* One volume attachment of a server into '*a'. */
int model_parse_attachment(json_t *o, struct model_attachment *a, struct st_err *err);
void model_volume_release(struct model_volume *v);

#endif

/*
 * client.h - the agent's side of the controller's internal API
 * (docs/agent-protocol.md), over libcurl.
 *
 * One client holds one connection (kept alive between calls) and is used
 * by one thread at a time; the heartbeat thread has its own.  Every call
 * sends "Authorization: Bearer <host secret>".  An HTTP error becomes one
 * st_err whose kind follows the status (401 UNAUTHORIZED, 403 FORBIDDEN,
 * 404 NOT_FOUND, 409 CONFLICT, 5xx and transport failures UNAVAILABLE) and
 * whose message names the call and carries the controller's own message
 * from the fault body.
 *
 * Waking: a client may be given a file descriptor (an eventfd) and a stop
 * flag.  While a long-poll of the desired state waits, the descriptor
 * becoming readable ends the poll early (the caller then reconciles and
 * reports at once); during any other call, it only matters when the stop
 * flag is set, which aborts the transfer.  The client never reads the
 * descriptor: draining it is the owner's job.
 *
 * curl_global_init() must have been called (main does, before any thread).
 */
#ifndef ST_AGENT_CLIENT_H
#define ST_AGENT_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/err.h"

struct client;

/* A client of the controller at 'base_url' (e.g. "http://127.0.0.1:5000")
 * acting as host 'host' with 'secret'.  The strings are copied.  Returns a
 * new client (client_free). */
struct client *client_new(const char *base_url, const char *host, const char *secret,
                          struct st_err *err);
void client_free(struct client *c);
/* See above; 'fd' -1 for none, 'stop' may be NULL.  Both are borrowed. */
void client_set_wake(struct client *c, int fd, const atomic_int *stop);

/* POST /internal/v1/hosts/{host} with 'body'; '*reply' gets the reply
 * document (new reference). */
int client_register(struct client *c, json_t *body, json_t **reply, struct st_err *err)
    __attribute__((warn_unused_result));

/* GET /internal/v1/hosts/{host}/desired?after=AFTER&timeout=TIMEOUT.
 * Returns 1 with '*reply' (new reference) when the controller answered, 0
 * when the wake descriptor ended the wait first (no reply), -1 on error. */
int client_desired(struct client *c, int64_t after, int timeout_s, json_t **reply,
                   struct st_err *err) __attribute__((warn_unused_result));

/* POST /internal/v1/hosts/{host}/report with 'body'; '*reply' gets the
 * reply (new reference). */
int client_report(struct client *c, json_t *body, json_t **reply, struct st_err *err)
    __attribute__((warn_unused_result));

/* GET /internal/v1/images/{id}/file into the new file 'path' (mode 0644,
 * created or truncated), computing its MD5 on the way.  When 'md5_hex' is
 * not empty the digest must match it (else the controller's Content-MD5
 * header, when sent, must); when 'size' > 0 the length must match.  On any
 * failure the file is removed.  'image_id' must be a UUID. */
int client_image_get(struct client *c, const char *image_id, const char *path, const char *md5_hex,
                     int64_t size, struct st_err *err) __attribute__((warn_unused_result));

/* PUT the file 'path' as the data of image 'image_id'
 * (/internal/v1/images/{id}/file), streamed. */
int client_image_put(struct client *c, const char *image_id, const char *path, struct st_err *err)
    __attribute__((warn_unused_result));

/* Migration files (docs/agent-protocol.md "Migration"): PUT the file
 * 'path' as file 'name' of migration 'mig_id'
 * (/internal/v1/migrations/{id}/files/{name}), streamed; and GET it into
 * the new file 'path' (mode 0644, created or truncated), computing its
 * SHA-256 on the way, which must equal 'sha256_hex' (and the length 'size'
 * when > 0); on any failure the file is removed.  'mig_id' must be a UUID
 * and 'name' a migration file name (model_mig_file_name_ok). */
int client_migration_put(struct client *c, const char *mig_id, const char *name, const char *path,
                         struct st_err *err) __attribute__((warn_unused_result));
int client_migration_get(struct client *c, const char *mig_id, const char *name, const char *path,
                         const char *sha256_hex, int64_t size, struct st_err *err)
    __attribute__((warn_unused_result));

/* The local address this host reaches the controller from (the source
 * address the kernel picks for the controller's address; no packet is
 * sent).  Returns 0 and fills 'out' ('n' bytes), or -1 with 'err'. */
int client_local_ip(struct client *c, char *out, size_t n, struct st_err *err)
    __attribute__((warn_unused_result));

#endif

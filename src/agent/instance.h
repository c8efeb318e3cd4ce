/*
 * instance.h - the instance directory of a server on its host, and the small
 * state file kept in it.
 *
 * Every server has one directory, INSTANCES_PATH/<server id>, holding its
 * files under fixed names (enum instance_file).  All paths are derived from
 * the server id, which must be a UUID: never from a name or any other value
 * a user chose.  The state file (state.json) records what the agent has
 * built, so that a restarted agent knows where it stands: the disk
 * generation the root disk was made for, the image under it, the flavor
 * applied, whether a resize backup exists, whether the server is rescued.
 * It is written atomically (temporary file, fsync, rename), so after a crash
 * it holds either the old or the new content.
 *
 * The reconciler (reconcile.c) is the only writer; the functions here do no
 * libvirt or disk work beyond files and directories.
 */
#ifndef ST_AGENT_INSTANCE_H
#define ST_AGENT_INSTANCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/model.h"
#include "common/buf.h"
#include "common/err.h"

enum instance_file {
    INSTANCE_DIR,                /* the directory itself */
    INSTANCE_DISK,               /* "disk": root disk, qcow2 overlay on _base */
    INSTANCE_DISK_LOCAL,         /* "disk.local": ephemeral disk */
    INSTANCE_DISK_SWAP,          /* "disk.swap": swap disk */
    INSTANCE_DISK_CONFIG,        /* "disk.config": config drive ISO (config-2) */
    INSTANCE_DISK_SEED,          /* "disk.seed": NoCloud seed ISO (cidata) */
    INSTANCE_DISK_RESCUE,        /* "disk.rescue": root disk of the rescue image */
    INSTANCE_CONSOLE_LOG,        /* "console.log": the serial console */
    INSTANCE_DOMAIN_XML,         /* "domain.xml": the XML last defined */
    INSTANCE_STATE,              /* "state.json" */
    INSTANCE_DISK_RESIZE,        /* "disk.resize": root disk before a resize */
    INSTANCE_DISK_CONFIG_RESIZE, /* "disk.config.resize" */
    INSTANCE_DISK_SEED_RESIZE,   /* "disk.seed.resize" */
    INSTANCE_CONSOLE_SOCK,       /* "console.sock": the serial console's socket */
    INSTANCE_FILE__COUNT
};

struct instance;

/* The instance of server 'server_id' under 'instances_path'.  Fails with
 * BAD_REQUEST unless 'server_id' is a UUID.  Touches no file.  Returns a new
 * object (instance_free). */
struct instance *instance_new(const char *instances_path, const char *server_id,
                              struct st_err *err);
void instance_free(struct instance *inst);
const char *instance_id(const struct instance *inst);
/* The path of 'f' (borrowed, valid until instance_free). */
const char *instance_path(const struct instance *inst, enum instance_file f);
/* The file name of 'f' inside the directory ("disk", ...; "" for the dir). */
const char *instance_file_name(enum instance_file f);
/* The seed of a server: disk.config for a config drive, else disk.seed. */
enum instance_file instance_seed_file(bool config_drive);

/* Creates the directory (mode 0755: QEMU, running as another user, must
 * reach the files libvirt hands it).  Existing is fine. */
int instance_mkdir(const struct instance *inst, struct st_err *err)
    __attribute__((warn_unused_result));
/* Removes the directory and everything in it (no symlink is followed).
 * A missing directory is fine. */
int instance_remove(const struct instance *inst, struct st_err *err)
    __attribute__((warn_unused_result));
/* True when the directory exists. */
bool instance_exists(const struct instance *inst);

/* The ids of the instance directories under 'instances_path': entries whose
 * name is a UUID and that are directories.  '*ids' gets a new array of new
 * strings (free each, then the array); a missing path gives none. */
int instance_list(const char *instances_path, char ***ids, size_t *n, struct st_err *err)
    __attribute__((warn_unused_result));

/* What the agent has built for a server (state.json). */
struct instance_flavor {
    char id[MODEL_NAME_MAX]; /* "" = none applied yet */
    int vcpus;
    int64_t ram_mb, disk_gb, ephemeral_gb, swap_mb;
};

struct instance_state {
    int64_t disk_generation;       /* generation of the root disk; 0 = not built */
    char image_id[MODEL_ID_MAX];   /* image the root disk is an overlay of */
    struct instance_flavor flavor; /* flavor the domain was last defined with */
    bool resize_backup;            /* disk.resize (and the seed's copy) exist */
    bool rescued;                  /* disk.rescue exists and the domain boots it */
    int64_t held_power_generation; /* the guest powered itself off while the
                                      controller's power generation was this;
                                      0 = not held */
};

/* Fills 'st' from state.json; a missing file gives the empty state (nothing
 * built).  An unreadable or invalid file is an error: guessing could throw
 * away a user's disk. */
int instance_state_load(const struct instance *inst, struct instance_state *st, struct st_err *err)
    __attribute__((warn_unused_result));
/* Writes state.json atomically. */
int instance_state_save(const struct instance *inst, const struct instance_state *st,
                        struct st_err *err) __attribute__((warn_unused_result));
/* The JSON form of a state (new reference), and back.  Pure, for tests. */
json_t *instance_state_to_json(const struct instance_state *st);
int instance_state_from_json(json_t *doc, struct instance_state *st, struct st_err *err)
    __attribute__((warn_unused_result));
/* Records 'f' as the applied flavor in 'st'. */
void instance_state_set_flavor(struct instance_state *st, const struct model_flavor *f);
/* True when 'f' is the flavor recorded in 'st'. */
bool instance_state_flavor_is(const struct instance_state *st, const struct model_flavor *f);

/* Console log tail: appends to 'out' the last 'lines' lines of the file at
 * 'path' ('lines' < 0: the whole file), at most its last 'max_bytes' bytes,
 * made valid UTF-8 (each invalid byte becomes U+FFFD) so that it can go into
 * JSON.  A missing file gives an empty text. */
int instance_console_tail(const char *path, int64_t lines, size_t max_bytes, struct st_buf *out,
                          struct st_err *err) __attribute__((warn_unused_result));
/* Appends 'len' bytes of 'data' to 'out' with every byte that is not part of
 * a valid UTF-8 sequence replaced by U+FFFD, and NUL bytes dropped. */
void instance_utf8_sanitize(const char *data, size_t len, struct st_buf *out);

#endif

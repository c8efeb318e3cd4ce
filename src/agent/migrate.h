/*
 * migrate.h - a server's migration between hosts, this host's role in it
 * (docs/agent-protocol.md "Migration: what the agent does"; /work
 * MIGRATION.md).  Private to the reconcile files: one server's pass calls
 * migrate_step() at three points, and the report takes migrate_report().
 *
 * Cold (migrate.c): the source shuts the guest down cleanly and uploads
 * its disks (export), keeps the stopped domain (hold), removes it
 * (cleanup) or starts it again (restore); the destination downloads the
 * files, checking their SHA-256, into NAME.part then NAME, rebases the
 * root disk onto its own cached image, and builds the rest as an ordinary
 * pass does (import), or removes its copy (cleanup).
 *
 * Live (migrate_live.c): the destination makes the disks, the seed and
 * the domain XML with its own paths and owner mark (prepare); the source
 * runs virDomainMigrateToURI3 peer-to-peer on a thread of its own
 * (migrate), reporting libvirt's job statistics each pass, suspending the
 * guest on force_complete and aborting the job on abort.
 *
 * Every state is redone from what is on disk and in libvirt after a
 * restart: a small marker, migration.json in the instance directory,
 * records the steps that cannot be seen otherwise (the files exported and
 * their digests, an import finished, a live job started or its outcome).
 * No other file in the directory is ever half-written: downloads go to
 * NAME.part and are renamed once their digest matched.
 */
#ifndef ST_AGENT_MIGRATE_H
#define ST_AGENT_MIGRATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "agent/reconcile_internal.h"

/* Where in one server's pass migrate_step() is called. */
enum mig_phase {
    MIG_PHASE_PRE,    /* before the instance directory is made */
    MIG_PHASE_LOADED, /* state.json loaded, the domain looked at, its owner checked */
    MIG_PHASE_DOMAIN, /* disks, seed and boot files made, before the domain is defined */
};

/* The migration's part of server 'c->s''s pass at 'phase'.  Returns 1 when
 * the ordinary pass goes on, 0 when the migration owns the rest of this
 * pass (its failures are the migration's, reported on it and retried with
 * back-off, never the server's fault). */
int migrate_step(struct ctx *c, enum mig_phase phase);

/* The report's "migration" member of server 's' (new reference; NULL when
 * it has no migration), and whether this host's copy is gone ('*gone':
 * the entry is then reconcile_gone_entry()'s, with the member). */
json_t *migrate_report(struct reconciler *r, const struct model_server *s, struct srv *sv,
                       bool *gone);

/* When the next pass should run for 'sv''s migration (a retry, a shutdown
 * deadline, the next progress report), monotonic ns; 0 for none. */
int64_t migrate_next_ns(const struct srv *sv);

void migrate_srv_free(struct mig_srv *m);

/* ---- migrate_live.c ----------------------------------------------------- */

/* The live parts of migrate_step() and migrate_report(). */
int migrate_live_step(struct ctx *c, enum mig_phase phase);
json_t *migrate_live_report(struct reconciler *r, const struct model_server *s, struct srv *sv);

/* The pure parts, for the golden tests (tests/unit/test-agent-migrate.c). */
#define MIG_MAX_DISKS 16
/* The targets ("vda") of the writable local disks (file disks, device
 * disk, not read-only, the source a file under 'inst_dir/') of the domain
 * XML 'xml', in order, at most MIG_MAX_DISKS; '*nfull' counts those that
 * are not the root disk (ephemeral, swap: their bases differ from host to
 * host, so they need a full copy). */
int migrate_live_disks(const char *xml, const char *inst_dir, char (*out)[16], int *n,
                       int *nfull, struct st_err *err) __attribute__((warn_unused_result));
/* 'tmpl' with its one "%s" replaced by 'addr' (IPv6 in brackets). */
int migrate_live_uri(const char *tmpl, const char *addr, struct st_buf *out, struct st_err *err)
    __attribute__((warn_unused_result));
struct mig_live_args {
    const char *dest_xml;
    const char *migrate_uri; /* tcp://ADDR: QEMU's stream, and the NBD server's */
    const char (*disks)[16];
    int ndisks;
    bool full_copy; /* NON_SHARED_DISK instead of NON_SHARED_INC */
    bool tls;
    bool block;
};
/* The definition the destination gets: the running guest's migratable
 * XML 'src_xml' (its device addresses and the devices libvirt added, which
 * libvirt's ABI check compares) with every path under the source's
 * instances path moved under the destination's (both found from the
 * serial console's log file, INSTANCES/UUID/console.log) and the
 * destination's <metadata> (its owner mark), from 'dest_xml'. */
int migrate_live_merge_xml(const char *src_xml, const char *dest_xml, struct st_buf *out,
                           struct st_err *err) __attribute__((warn_unused_result));
/* The flags and parameters of virDomainMigrateToURI3 for 'a'; '*params'
 * gets a new array (virTypedParamsFree). */
int migrate_live_params(const struct mig_live_args *a, virTypedParameterPtr *params, int *n,
                        unsigned int *flags, struct st_err *err) __attribute__((warn_unused_result));

/* ---- shared by migrate.c and migrate_live.c ----------------------------- */

/* What this host remembers of a server's migration between passes. */
struct mig_srv {
    char id[MODEL_ID_MAX];  /* the migration */
    char state[24];         /* the state last reported ("exporting", "exported", ...) */
    char error[ST_ERR_MSG_MAX];
    int backoff_s;
    int64_t retry_ns;       /* no new attempt before (monotonic), 0 = now */
    int64_t next_ns;        /* a pass is wanted by then (live progress), 0 = none */
    json_t *extra;          /* more members of the report (files, dest_xml, progress) */
};

/* The memory of 'sv''s migration 'id', (re)made when the id changed. */
struct mig_srv *migrate_mem(struct srv *sv, const char *id);
/* Sets the reported state (and clears the error). */
void migrate_set_state(struct mig_srv *m, const char *state);
/* Records a failure of the migration 'm' of server 'id' (logged when new)
 * and backs off. */
void migrate_fail(struct reconciler *r, const char *id, struct mig_srv *m,
                  const struct st_err *err);
/* Whether 'm' is backing off. */
bool migrate_backing_off(const struct mig_srv *m);

/* migration.json of the instance: the marker.  load: a missing file or
 * one of another migration gives an empty object (new reference). */
json_t *migrate_marker_load(const struct instance *inst, const char *mig_id);
int migrate_marker_save(const struct instance *inst, const char *mig_id, json_t *doc,
                        struct st_err *err) __attribute__((warn_unused_result));
void migrate_marker_remove(const struct instance *inst);

/* Removes this host's copy of the server (domain of ours, instance
 * directory): cleanup. */
int migrate_cleanup(struct ctx *c, struct st_err *err) __attribute__((warn_unused_result));
/* The cleanup state: migrate_cleanup() once, then "cleaned"; returns 0. */
int migrate_cleanup_step(struct ctx *c, struct mig_srv *m);

#endif

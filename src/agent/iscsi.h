/*
 * iscsi.h - the iSCSI targets of this host's volume exports, through
 * Debian's userspace target `tgt` (tgtd, driven by tgtadm with argv only;
 * the kernel's LIO target is absent on the development kernels).
 *
 * One target per attachment that goes over iSCSI:
 *   IQN ISCSI_IQN_PREFIX + attachment id, LUN 1 backed by the volume's
 *   file or LV (backing-store type rdwr), one CHAP account (incoming user)
 *   bound to it and the ACL "ALL": only CHAP binds the target to its
 *   initiator (VOLUMES.md).
 * tgtd keeps no configuration of its own here (no targets.conf): the agent
 * makes every target again from the desired state after tgtd restarts.
 * Creation is five tgtadm calls; a target left half-made by a kill is seen
 * incomplete by iscsi_target_complete() and made again.
 *
 * The CHAP secret goes to tgtadm on its command line (tgtadm reads no
 * stdin); it is visible in /proc for the few milliseconds tgtadm runs, to
 * root only on hardened hosts (hidepid).  XXX: tgtd's control socket could
 * be spoken to directly.
 *
 * Functions return errors and do not log.  cmd_set_dry_run() (spawn.h)
 * records their argv for golden tests.
 */
#ifndef ST_AGENT_ISCSI_H
#define ST_AGENT_ISCSI_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define ISCSI_IQN_PREFIX "iqn.2026-01.invalid.stratus:"
#define ISCSI_IQN_MAX 224
#define ISCSI_MAX_ACCOUNTS 4

/* A target as `tgtadm --mode target --op show` lists it. */
struct iscsi_target {
    int tid;
    char iqn[ISCSI_IQN_MAX];
    char backing[512];  /* LUN 1's backing store, "" when no LUN 1 */
    char accounts[ISCSI_MAX_ACCOUNTS][32];
    int naccounts;
    bool acl_all;       /* ACL "ALL" */
};

/* Makes sure a tgtd answers on its control socket; starts one (it
 * daemonizes itself) listening on 'portal' ("ADDR:PORT") when none does,
 * and waits up to 5 s for it.  An already running tgtd is used as it is
 * (whatever its portal). */
int iscsi_ensure_daemon(const char *portal, struct st_err *err)
    __attribute__((warn_unused_result));

/* Parses the text of `tgtadm --lld iscsi --mode target --op show` into a
 * new array '*out' (free()) of '*n' targets.  Pure: unit-tested. */
int iscsi_parse_show(const char *text, struct iscsi_target **out, size_t *n,
                     struct st_err *err) __attribute__((warn_unused_result));
/* Runs the show and parses it. */
int iscsi_list(struct iscsi_target **out, size_t *n, struct st_err *err)
    __attribute__((warn_unused_result));

/* Whether 't' is complete: LUN 1 on 'backing', account 'user' bound, ACL ALL. */
bool iscsi_target_complete(const struct iscsi_target *t, const char *backing, const char *user);

/* The lowest tid above every tid in 'ts' (1 when none). */
int iscsi_next_tid(const struct iscsi_target *ts, size_t n);

/* Makes target 'tid' named 'iqn' with LUN 1 on 'backing' and CHAP account
 * 'user'/'secret' (replacing an account of that name). */
int iscsi_target_create(int tid, const char *iqn, const char *backing, const char *user,
                        const char *secret, struct st_err *err)
    __attribute__((warn_unused_result));
/* Removes target 'tid' (forcibly, even with sessions) and account 'user'
 * (NULL: none).  Missing ones are fine. */
int iscsi_target_delete(int tid, const char *user, struct st_err *err)
    __attribute__((warn_unused_result));

/* Appends the IQN of attachment 'attachment_id' to 'out'. */
void iscsi_iqn(const char *attachment_id, struct st_buf *out);

#endif

/*
 * revision.h - the revision of each host's desired state, and the wake-up of
 * the long-polls that wait for it to change (ARCHITECTURE §3a).
 *
 * Every domain module that changes what an agent realises bumps the revision
 * of the hosts concerned inside the transaction that writes the intent
 * (compute: a server's host; network: every host, since networks span
 * hosts), and calls revision_notify() after the commit, which wakes every
 * long-poll of this process.  Long-polls also re-read the revision every
 * second.  On PostgreSQL a bump also queues NOTIFY on REVISION_CHANNEL
 * (delivered at commit), and every controller LISTENs on it
 * (store_watch(..., revision_notify)), so a change made through another
 * controller wakes this one's long-polls at once rather than within the
 * second.
 *
 * Why here and not in compute, which owns the hosts: network bumps revisions
 * too, and when this lived in compute/host.c network had to call compute
 * while compute called network for its servers' ports -- a cycle.  A counter
 * column and a condition variable carry no domain rule, so they sit in the
 * store layer, below every domain module, and the dependencies point one way
 * (ARCHITECTURE §8).
 */
#ifndef ST_STORE_REVISION_H
#define ST_STORE_REVISION_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "store/store.h"

/* The PostgreSQL notification channel of revision bumps. */
#define REVISION_CHANNEL "stratus_revision"

/* The current revision of host 'host', or -1 with err (NOT_FOUND if the host
 * is not registered). */
int64_t revision_get(struct store_conn *c, const char *host, struct st_err *err);
/* Bumps the revision of 'host' (inside the caller's transaction). */
int revision_bump(struct store_conn *c, const char *host, struct st_err *err)
    __attribute__((warn_unused_result));
/* Bumps every host (inside the caller's transaction): networking changes
 * span hosts. */
int revision_bump_all(struct store_conn *c, struct st_err *err) __attribute__((warn_unused_result));

/* Wakes the long-polls of this process after a commit that bumped
 * revisions. */
void revision_notify(void);
/* Waits until revision_notify() or 'ms' milliseconds pass. */
void revision_wait(int ms);
/* Ends every wait, now and later (the daemon is stopping): revision_wait()
 * returns at once and revision_waits_stopped() is true, so long-polls answer
 * and their connection threads end. */
void revision_stop_waits(void);
bool revision_waits_stopped(void);

#endif

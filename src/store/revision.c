/*
 * revision.c - hosts' desired-state revisions and the in-process wake-up of
 * long-polls (see revision.h for why this sits in the store layer).
 */
#include "store/revision.h"

#include <pthread.h>
#include <time.h>

#include "common/banned.h"

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond = PTHREAD_COND_INITIALIZER;
static uint64_t wait_gen;
static bool waits_stopped;

int64_t revision_get(struct store_conn *c, const char *host, struct st_err *err)
{
    int64_t rev;
    int rc = store_get_int(c, err, &rev, "SELECT revision FROM hosts WHERE name = ?",
                           STORE_ARGS(P(host)));
    if (rc == 0)
        st_err_set(err, ST_ERR_NOT_FOUND, "Host %s is not registered.", host);
    return rc > 0 ? rev : -1;
}

int revision_bump(struct store_conn *c, const char *host, struct st_err *err)
{
    return store_exec(c, err, "UPDATE hosts SET revision = revision + 1 WHERE name = ?",
                      STORE_ARGS(P(host))) < 0 ||
                   store_signal(c, REVISION_CHANNEL, err) < 0
               ? -1
               : 0;
}

int revision_bump_all(struct store_conn *c, struct st_err *err)
{
    return store_exec(c, err, "UPDATE hosts SET revision = revision + 1", STORE_NOARGS) < 0 ||
                   store_signal(c, REVISION_CHANNEL, err) < 0
               ? -1
               : 0;
}

void revision_stop_waits(void)
{
    pthread_mutex_lock(&wait_lock);
    waits_stopped = true;
    wait_gen++;
    pthread_cond_broadcast(&wait_cond);
    pthread_mutex_unlock(&wait_lock);
}

bool revision_waits_stopped(void)
{
    pthread_mutex_lock(&wait_lock);
    bool stopped = waits_stopped;
    pthread_mutex_unlock(&wait_lock);
    return stopped;
}

void revision_notify(void)
{
    pthread_mutex_lock(&wait_lock);
    wait_gen++;
    pthread_cond_broadcast(&wait_cond);
    pthread_mutex_unlock(&wait_lock);
}

void revision_wait(int ms)
{
    struct timespec ts;
    uint64_t gen;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long) (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&wait_lock);
    gen = wait_gen;
    while (gen == wait_gen && !waits_stopped)
        if (pthread_cond_timedwait(&wait_cond, &wait_lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&wait_lock);
}

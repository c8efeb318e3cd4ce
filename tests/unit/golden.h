/*
 * golden.h - golden-file comparison and a throw-away network namespace, for
 * the unit tests of the agent's network driver (test-nft, test-dhcp,
 * test-netlink).
 *
 * tu_golden() compares a rendering with tests/data/<module>/<case>.<ext>,
 * or rewrites the file when ST_TEST_REGENERATE=1 (review the diff).
 * tu_scratch_netns() runs a function in a thread that has unshared a new,
 * empty network namespace, which ends with the thread: the kernel checks
 * what the renderers produce without the host's interfaces or firewall
 * ever being touched.  Without CAP_SYS_ADMIN it returns 1 and the caller
 * skips that check.
 */
#ifndef ST_TEST_GOLDEN_H
#define ST_TEST_GOLDEN_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"

static inline bool tu_regenerate(void)
{
    const char *r = getenv("ST_TEST_REGENERATE");
    return r && *r && strcmp(r, "0");
}

static inline char *tu_data_path(const char *module, const char *name, const char *ext)
{
    return st_xasprintf("%s/tests/data/%s/%s.%s", tu_srcdir(), module, name, ext);
}

/* Compares 'have' with the golden file 'path', or rewrites it. */
static inline void tu_golden(const char *path, const char *have, const char *program)
{
    struct st_buf want = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    if (tu_regenerate()) {
        if (st_write_file(path, have, strlen(have), 0644, &err) < 0)
            fail_msg("%s", err.msg);
        printf("# regenerated %s\n", path);
    }
    if (st_read_file(path, 16 << 20, &want, &err) < 0)
        fail_msg("%s (run with ST_TEST_REGENERATE=1 to create it)", err.msg);
    if (strcmp(want.buf, have)) {
        printf("# got:\n");
        for (const char *p = have; *p;) {
            size_t n = strcspn(p, "\n");
            printf("# %.*s\n", (int) n, p);
            p += n + (p[n] == '\n');
        }
        fail_msg("%s differs: run `ST_TEST_REGENERATE=1 meson test %s` and review the diff",
                 path, program);
    }
    st_buf_release(&want);
}

struct tu_scratch {
    int (*fn)(void *arg);
    void *arg;
    int rc;
};

static inline void *tu_scratch_main(void *opaque)
{
    struct tu_scratch *s = opaque;
    if (unshare(CLONE_NEWNET) < 0) {
        s->rc = errno == EPERM ? 1 : -1;
        return NULL;
    }
    s->rc = s->fn(s->arg);
    return NULL;
}

/* Runs fn(arg) in a new network namespace: its result, or 1 when the
 * namespace cannot be made (not root). */
static inline int tu_scratch_netns(int (*fn)(void *arg), void *arg)
{
    struct tu_scratch s = {fn, arg, -1};
    pthread_t t;
    if (pthread_create(&t, NULL, tu_scratch_main, &s) != 0)
        return -1;
    pthread_join(t, NULL);
    return s.rc;
}

#endif

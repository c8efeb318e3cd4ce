/* iscsi.c - tgt targets of volume exports (see iscsi.h). */
#include "agent/iscsi.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

#define TGTADM "tgtadm"
#define TGTD "tgtd"
#define TIMEOUT 30

static struct st_cmd *tgtadm(const char *mode, const char *op)
{
    struct st_cmd *c = cmd_new(TGTADM);
    cmd_arg(c, "--lld");
    cmd_arg(c, "iscsi");
    cmd_arg(c, "--mode");
    cmd_arg(c, mode);
    cmd_arg(c, "--op");
    cmd_arg(c, op);
    cmd_set_timeout(c, TIMEOUT);
    return c;
}

/* Runs and frees 'c'; with 'tolerant', a non-zero exit is no error. */
static int run(struct st_cmd *c, bool tolerant, struct st_buf *out, struct st_err *err)
{
    int status = 0;
    int rc = cmd_run(c, out, NULL, tolerant ? &status : NULL, err);
    cmd_free(c);
    return rc;
}

static int daemon_up(void)
{
    struct st_err e = ST_ERR_INIT;
    struct st_cmd *c = tgtadm("system", "show");
    return run(c, false, NULL, &e) == 0;
}

int iscsi_ensure_daemon(const char *portal, struct st_err *err)
{
    struct st_cmd *c;
    if (daemon_up())
        return 0;
    c = cmd_new(TGTD);
    cmd_arg(c, "--iscsi");
    cmd_argf(c, "portal=%s", portal);
    /* tgtd forks into the background and the parent exits once the
     * control socket is set up. */
    if (run(c, false, NULL, err) < 0)
        return -1;
    for (int i = 0; i < 50; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        if (daemon_up())
            return 0;
        nanosleep(&ts, NULL);
    }
    st_err_set(err, ST_ERR_INTERNAL, "tgtd does not answer on its control socket");
    return -1;
}

/* The text after 'prefix' at the start of 'line' (leading blanks skipped),
 * or NULL. */
static const char *after(const char *line, const char *prefix)
{
    while (*line == ' ' || *line == '\t')
        line++;
    return strncmp(line, prefix, strlen(prefix)) ? NULL : line + strlen(prefix);
}

static int indent(const char *line)
{
    int n = 0;
    while (line[n] == ' ')
        n++;
    return n;
}

int iscsi_parse_show(const char *text, struct iscsi_target **out, size_t *n, struct st_err *err)
{
    struct iscsi_target *ts = NULL, *t = NULL;
    size_t nt = 0;
    enum { NONE, LUNS, ACCOUNTS, ACL } sect = NONE;
    int lun = -1;
    const char *p = text;
    char line[1024];

    *out = NULL;
    *n = 0;
    while (*p) {
        const char *nl = strchr(p, '\n'), *v;
        size_t len = nl ? (size_t) (nl - p) : strlen(p);
        if (len >= sizeof(line))
            len = sizeof(line) - 1;
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl ? nl + 1 : p + strlen(p);
        if (!strncmp(line, "Target ", 7)) {
            char *colon = strchr(line, ':'), *end = NULL;
            long tid = strtol(line + 7, &end, 10);
            if (!colon || end != colon || tid <= 0 || strlen(colon + 1) < 2 ||
                strlen(colon + 2) >= ISCSI_IQN_MAX) {
                st_err_set(err, ST_ERR_INTERNAL, "tgtadm: unexpected line '%s'", line);
                free(ts);
                return -1;
            }
            ts = st_xrealloc(ts, (nt + 1) * sizeof(*ts));
            t = &ts[nt++];
            memset(t, 0, sizeof(*t));
            t->tid = (int) tid;
            memcpy(t->iqn, colon + 2, strlen(colon + 2) + 1);
            sect = NONE;
            lun = -1;
            continue;
        }
        if (!t)
            continue;
        if (indent(line) == 4) {
            sect = !strcmp(line + 4, "LUN information:")       ? LUNS
                   : !strcmp(line + 4, "Account information:") ? ACCOUNTS
                   : !strcmp(line + 4, "ACL information:")     ? ACL
                                                                : NONE;
            continue;
        }
        switch (sect) {
        case LUNS:
            if ((v = after(line, "LUN: ")))
                lun = (int) strtol(v, NULL, 10);
            else if (lun == 1 && (v = after(line, "Backing store path: ")) &&
                     strlen(v) < sizeof(t->backing))
                memcpy(t->backing, v, strlen(v) + 1);
            break;
        case ACCOUNTS:
            if (indent(line) == 8 && t->naccounts < ISCSI_MAX_ACCOUNTS &&
                strlen(line + 8) < sizeof(t->accounts[0])) {
                /* "user" or "user (outgoing)" */
                if (!strchr(line + 8, ' '))
                    memcpy(t->accounts[t->naccounts++], line + 8, strlen(line + 8) + 1);
            }
            break;
        case ACL:
            if (indent(line) == 8 && !strcmp(line + 8, "ALL"))
                t->acl_all = true;
            break;
        case NONE:
            break;
        }
    }
    *out = ts;
    *n = nt;
    return 0;
}

int iscsi_list(struct iscsi_target **out, size_t *n, struct st_err *err)
{
    struct st_buf text = ST_BUF_INIT;
    int rc = -1;
    if (run(tgtadm("target", "show"), false, &text, err) == 0)
        rc = iscsi_parse_show(text.buf, out, n, err);
    st_buf_release(&text);
    return rc;
}

bool iscsi_target_complete(const struct iscsi_target *t, const char *backing, const char *user)
{
    bool acct = false;
    for (int i = 0; i < t->naccounts; i++)
        acct = acct || !strcmp(t->accounts[i], user);
    return acct && t->acl_all && !strcmp(t->backing, backing);
}

int iscsi_next_tid(const struct iscsi_target *ts, size_t n)
{
    int max = 0;
    for (size_t i = 0; i < n; i++)
        if (ts[i].tid > max)
            max = ts[i].tid;
    return max + 1;
}

int iscsi_target_create(int tid, const char *iqn, const char *backing, const char *user,
                        const char *secret, struct st_err *err)
{
    struct st_err ignored = ST_ERR_INIT;
    struct st_cmd *c;

    c = tgtadm("target", "new");
    cmd_arg(c, "--tid");
    cmd_argf(c, "%d", tid);
    cmd_arg(c, "--targetname");
    cmd_arg(c, iqn);
    if (run(c, false, NULL, err) < 0)
        return -1;
    c = tgtadm("logicalunit", "new");
    cmd_arg(c, "--tid");
    cmd_argf(c, "%d", tid);
    cmd_arg(c, "--lun");
    cmd_arg(c, "1");
    cmd_arg(c, "--backing-store");
    cmd_arg(c, backing);
    if (run(c, false, NULL, err) < 0)
        return -1;
    /* An account of that name left by an earlier, killed attempt. */
    c = tgtadm("account", "delete");
    cmd_arg(c, "--user");
    cmd_arg(c, user);
    (void) run(c, true, NULL, &ignored);
    c = tgtadm("account", "new");
    cmd_arg(c, "--user");
    cmd_arg(c, user);
    cmd_arg(c, "--password");
    cmd_arg(c, secret);
    if (run(c, false, NULL, err) < 0)
        return -1;
    c = tgtadm("account", "bind");
    cmd_arg(c, "--tid");
    cmd_argf(c, "%d", tid);
    cmd_arg(c, "--user");
    cmd_arg(c, user);
    if (run(c, false, NULL, err) < 0)
        return -1;
    c = tgtadm("target", "bind");
    cmd_arg(c, "--tid");
    cmd_argf(c, "%d", tid);
    cmd_arg(c, "--initiator-address");
    cmd_arg(c, "ALL");
    return run(c, false, NULL, err);
}

int iscsi_target_delete(int tid, const char *user, struct st_err *err)
{
    struct st_cmd *c;
    int status = 0;
    c = tgtadm("target", "delete");
    cmd_arg(c, "--force");
    cmd_arg(c, "--tid");
    cmd_argf(c, "%d", tid);
    /* tgtadm exits 22 for a target that is not there. */
    if (cmd_run(c, NULL, NULL, &status, err) < 0) {
        cmd_free(c);
        return -1;
    }
    cmd_free(c);
    if (status != 0 && status != 22) {
        st_err_set(err, ST_ERR_INTERNAL, "tgtadm: cannot delete target %d (exit %d)", tid, status);
        return -1;
    }
    if (user) {
        struct st_err ignored = ST_ERR_INIT;
        c = tgtadm("account", "delete");
        cmd_arg(c, "--user");
        cmd_arg(c, user);
        (void) run(c, true, NULL, &ignored);
    }
    return 0;
}

void iscsi_iqn(const char *attachment_id, struct st_buf *out)
{
    st_buf_addf(out, ISCSI_IQN_PREFIX "%s", attachment_id);
}

/*
 * spawn.h - the one way stratus runs another program (after libvirt's
 * virCommand and git's child_process).
 *
 * A command is an argv vector, never a shell line.  The child gets a clean
 * environment (PATH and LC_ALL=C plus what cmd_setenv() adds), stdin on
 * /dev/null, no file descriptors but 0-2 and those passed with cmd_pass_fd(),
 * and its stdout/stderr captured into st_bufs.  cmd_run() waits with a
 * timeout and turns a non-zero exit into one error carrying the stderr tail.
 * cmd_daemon() starts a long-running program (dnsmasq) detached and records
 * its pid in a pidfile.
 *
 * For golden tests, cmd_set_dry_run() makes every command record its argv
 * into a buffer instead of running, and succeed (a command given a network
 * namespace is recorded as "[netns PATH] argv...").
 */
#ifndef ST_SPAWN_H
#define ST_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/err.h"

struct st_cmd;

/* Starts a command for program 'prog' (looked up in PATH when it has no
 * slash).  Returns a new command; free with cmd_free(). */
struct st_cmd *cmd_new(const char *prog);
void cmd_free(struct st_cmd *cmd);
void cmd_arg(struct st_cmd *cmd, const char *arg);
void cmd_argf(struct st_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds "NAME=VALUE" to the child's environment. */
void cmd_setenv(struct st_cmd *cmd, const char *name, const char *value);
/* Keeps 'fd' open in the child as the same number. */
void cmd_pass_fd(struct st_cmd *cmd, int fd);
/* Seconds before the child is killed (SIGTERM, then SIGKILL); 0 = none. */
void cmd_set_timeout(struct st_cmd *cmd, int seconds);
/* Bytes fed to the child's stdin instead of /dev/null (copied). */
void cmd_set_input(struct st_cmd *cmd, const void *data, size_t len);
/* Runs the child inside the network namespace bound at 'path' (an
 * iproute2-style /run/netns/NAME): the parent opens it before forking and
 * the child calls setns() before execve, so the caller's own namespace
 * never changes.  A namespace that cannot be opened fails cmd_run() and
 * cmd_start().  NULL: the caller's namespace (the default). */
void cmd_set_netns(struct st_cmd *cmd, const char *path);
/* The command as a readable line, for logs (arguments quoted if needed). */
void cmd_to_string(const struct st_cmd *cmd, struct st_buf *out);

/* Runs and waits.  'out' and 'errbuf' (either may be NULL) receive the
 * child's stdout and stderr.  Returns 0 on exit status 0; otherwise -1 with
 * 'err' saying what ran and the tail of its stderr.  If 'status' is non-NULL
 * a non-zero exit is not an error: the exit code is stored there instead. */
int cmd_run(struct st_cmd *cmd, struct st_buf *out, struct st_buf *errbuf, int *status,
            struct st_err *err) __attribute__((warn_unused_result));

/* Starts a daemon that stays running: stdout/stderr go to 'logfile' (or
 * /dev/null), its pid is returned.  The caller tracks it (pidfile, waitpid
 * or kill). */
int cmd_start(struct st_cmd *cmd, const char *logfile, pid_t *pid, struct st_err *err)
    __attribute__((warn_unused_result));

/* Dry-run hook for tests: when 'record' is non-NULL, no command runs; each
 * one appends its cmd_to_string() and a newline to 'record' and succeeds
 * with empty output. */
void cmd_set_dry_run(struct st_buf *record);

#endif

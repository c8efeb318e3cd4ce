/* spawn.c - argv-vector subprocesses with a clean environment, captured
 * output and a timeout.  fork+execve rather than posix_spawn because the
 * child must close every inherited descriptor (close_range) and posix_spawn
 * file actions cannot express that. */
#include "common/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "common/banned.h"

#define CMD_MAX_CAPTURE (16u << 20) /* 16 MiB of output at most */

struct st_cmd {
    char **argv;
    size_t argc, argv_alloc;
    char **envp;
    size_t envc, env_alloc;
    int *fds;
    size_t nfds;
    int timeout;
    struct st_buf input;
    char *netns;      /* path of a network namespace to enter, or NULL */
    int netns_fd;     /* open during cmd_run/cmd_start only, else -1 */
};

static struct st_buf *dry_run;

void cmd_set_dry_run(struct st_buf *record)
{
    dry_run = record;
}

static void vec_push(char ***v, size_t *n, size_t *alloc, char *s)
{
    if (*n + 2 > *alloc) {
        *alloc = *alloc ? *alloc * 2 : 8;
        *v = st_xrealloc(*v, *alloc * sizeof(**v));
    }
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

struct st_cmd *cmd_new(const char *prog)
{
    struct st_cmd *cmd = st_xcalloc(1, sizeof(*cmd));
    st_buf_init(&cmd->input, 0);
    cmd->netns_fd = -1;
    cmd_arg(cmd, prog);
    cmd_setenv(cmd, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    cmd_setenv(cmd, "LC_ALL", "C");
    return cmd;
}

void cmd_free(struct st_cmd *cmd)
{
    if (!cmd)
        return;
    for (size_t i = 0; i < cmd->argc; i++)
        free(cmd->argv[i]);
    for (size_t i = 0; i < cmd->envc; i++)
        free(cmd->envp[i]);
    free(cmd->argv);
    free(cmd->envp);
    free(cmd->fds);
    free(cmd->netns);
    st_buf_release(&cmd->input);
    free(cmd);
}

void cmd_arg(struct st_cmd *cmd, const char *arg)
{
    vec_push(&cmd->argv, &cmd->argc, &cmd->argv_alloc, st_xstrdup(arg));
}

void cmd_argf(struct st_cmd *cmd, const char *fmt, ...)
{
    struct st_buf b = ST_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    st_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    vec_push(&cmd->argv, &cmd->argc, &cmd->argv_alloc, st_buf_detach(&b, NULL));
}

void cmd_setenv(struct st_cmd *cmd, const char *name, const char *value)
{
    size_t nl = strlen(name);
    char *kv = st_xasprintf("%s=%s", name, value);
    for (size_t i = 0; i < cmd->envc; i++) {
        if (!strncmp(cmd->envp[i], name, nl) && cmd->envp[i][nl] == '=') {
            free(cmd->envp[i]);
            cmd->envp[i] = kv;
            return;
        }
    }
    vec_push(&cmd->envp, &cmd->envc, &cmd->env_alloc, kv);
}

void cmd_pass_fd(struct st_cmd *cmd, int fd)
{
    size_t i;
    cmd->fds = st_xrealloc(cmd->fds, (cmd->nfds + 1) * sizeof(int));
    /* Kept sorted: the child closes the gaps between them. */
    for (i = cmd->nfds; i > 0 && cmd->fds[i - 1] > fd; i--)
        cmd->fds[i] = cmd->fds[i - 1];
    cmd->fds[i] = fd;
    cmd->nfds++;
}

void cmd_set_timeout(struct st_cmd *cmd, int seconds)
{
    cmd->timeout = seconds;
}

void cmd_set_input(struct st_cmd *cmd, const void *data, size_t len)
{
    st_buf_reset(&cmd->input);
    st_buf_add(&cmd->input, data, len);
}

void cmd_set_netns(struct st_cmd *cmd, const char *path)
{
    free(cmd->netns);
    cmd->netns = path ? st_xstrdup(path) : NULL;
}

/* Opens the namespace of 'cmd', if any, for the child to enter. */
static int open_netns(struct st_cmd *cmd, struct st_err *err)
{
    if (!cmd->netns)
        return 0;
    cmd->netns_fd = open(cmd->netns, O_RDONLY | O_CLOEXEC);
    if (cmd->netns_fd < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot open network namespace '%s' for '%s'",
                   cmd->netns, cmd->argv[0]);
        return -1;
    }
    return 0;
}

static void close_netns(struct st_cmd *cmd)
{
    if (cmd->netns_fd >= 0)
        close(cmd->netns_fd);
    cmd->netns_fd = -1;
}

void cmd_to_string(const struct st_cmd *cmd, struct st_buf *out)
{
    for (size_t i = 0; i < cmd->argc; i++) {
        const char *a = cmd->argv[i];
        bool plain = *a != '\0';
        for (const char *p = a; *p; p++)
            if (!(strchr("-_./:=,+@%", *p) || (*p >= '0' && *p <= '9') ||
                  (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
                plain = false;
        if (i)
            st_buf_addch(out, ' ');
        if (plain) {
            st_buf_adds(out, a);
            continue;
        }
        st_buf_addch(out, '\'');
        for (const char *p = a; *p; p++) {
            if (*p == '\'')
                st_buf_adds(out, "'\\''");
            else
                st_buf_addch(out, *p);
        }
        st_buf_addch(out, '\'');
    }
}

/* In the child: only async-signal-safe calls until execve. */
static void child_exec(struct st_cmd *cmd, int in_fd, int out_fd, int err_fd)
{
    /* Before dup2, which could replace a namespace fd numbered 0-2. */
    if (cmd->netns_fd >= 0 && setns(cmd->netns_fd, CLONE_NEWNET) < 0)
        _exit(126);
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        _exit(126);
    /* Keep the passed fds (sorted by cmd_pass_fd) and close every other one
     * above 2, gaps between passed fds included. */
    int prev = 2;
    for (size_t i = 0; i < cmd->nfds; i++) {
        int fd = cmd->fds[i];
        int fl = fcntl(fd, F_GETFD);
        if (fd <= prev)
            continue;
        if (fl >= 0)
            fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
        if (fd > prev + 1)
            close_range((unsigned) prev + 1, (unsigned) fd - 1, 0);
        prev = fd;
    }
    close_range((unsigned) prev + 1, ~0U, 0);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (strchr(cmd->argv[0], '/')) {
        execve(cmd->argv[0], cmd->argv, cmd->envp);
    } else {
        static const char *const dirs[] = {"/usr/local/sbin/", "/usr/local/bin/", "/usr/sbin/",
                                           "/usr/bin/", "/sbin/", "/bin/"};
        char path[512];
        size_t nl = strlen(cmd->argv[0]);
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
            size_t dl = strlen(dirs[i]);
            if (dl + nl + 1 > sizeof(path))
                continue;
            memcpy(path, dirs[i], dl);
            memcpy(path + dl, cmd->argv[0], nl + 1);
            execve(path, cmd->argv, cmd->envp);
        }
    }
    _exit(127);
}

static void record_dry_run(struct st_cmd *cmd)
{
    if (cmd->netns)
        st_buf_addf(dry_run, "[netns %s] ", cmd->netns);
    cmd_to_string(cmd, dry_run);
    st_buf_addch(dry_run, '\n');
}

static void tail_of(const struct st_buf *b, struct st_buf *out)
{
    size_t start = b->len > 400 ? b->len - 400 : 0;
    size_t end = b->len;
    while (end > start && (b->buf[end - 1] == '\n' || b->buf[end - 1] == ' '))
        end--;
    st_buf_add(out, b->buf + start, end - start);
}

/* Grace between SIGTERM and SIGKILL of a timed-out command's process group,
 * and how long to keep reading its output after the kill. */
#define CMD_KILL_GRACE_NS 2000000000LL

int cmd_run(struct st_cmd *cmd, struct st_buf *out, struct st_buf *errbuf, int *status,
            struct st_err *err)
{
    int inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1};
    struct st_buf ebuf = ST_BUF_INIT, obuf = ST_BUF_INIT, line = ST_BUF_INIT;
    int rc = -1, wstatus = 0;
    pid_t pid = -1;
    size_t in_off = 0;
    bool killed = false, exited = false;
    int64_t deadline = 0, kill_at = 0;
    sigset_t pipe_set, old_mask;

    if (dry_run) {
        record_dry_run(cmd);
        if (status)
            *status = 0;
        return 0;
    }
    /* A child that does not read its input must not kill us with SIGPIPE:
     * block it in this thread and treat EPIPE as the end of the input. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
    if (open_netns(cmd, err) < 0)
        goto close_pipes;
    if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create pipes for '%s'", cmd->argv[0]);
        goto close_pipes;
    }
    pid = fork();
    if (pid < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot fork for '%s'", cmd->argv[0]);
        goto close_pipes;
    }
    if (pid == 0) {
        /* Its own process group, so a timeout reaches grandchildren too. */
        setpgid(0, 0);
        child_exec(cmd, inp[0], outp[1], errp[1]);
    }
    setpgid(pid, pid);
    close_netns(cmd);
    close(inp[0]);
    close(outp[1]);
    close(errp[1]);
    inp[0] = outp[1] = errp[1] = -1;
    if (cmd->input.len == 0) {
        close(inp[1]);
        inp[1] = -1;
    } else {
        fcntl(inp[1], F_SETFL, O_NONBLOCK);
    }

    if (cmd->timeout)
        deadline = st_mono_ns() + (int64_t) cmd->timeout * 1000000000;
    while (outp[0] >= 0 || errp[0] >= 0 || inp[1] >= 0) {
        struct pollfd pfd[3];
        int wait_ms = -1;
        pfd[0] = (struct pollfd){.fd = outp[0], .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = errp[0], .events = POLLIN};
        pfd[2] = (struct pollfd){.fd = inp[1], .events = POLLOUT};
        if (deadline) {
            int64_t now = st_mono_ns();
            if (!killed && now >= deadline) {
                kill(-pid, SIGTERM);
                killed = true;
                kill_at = now + CMD_KILL_GRACE_NS;
            }
            if (killed && now >= kill_at) {
                kill(-pid, SIGKILL);
                if (now >= kill_at + CMD_KILL_GRACE_NS)
                    break; /* something still holds the pipes: stop reading */
            }
            int64_t next = killed ? kill_at : deadline;
            if (killed && now >= kill_at)
                next = kill_at + CMD_KILL_GRACE_NS;
            wait_ms = next > now ? (int) ((next - now) / 1000000) + 1 : 0;
        }
        int pr = poll(pfd, 3, wait_ms);
        if (pr < 0 && errno != EINTR)
            break;
        if (pfd[2].fd >= 0 && (pfd[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(inp[1], cmd->input.buf + in_off, cmd->input.len - in_off);
            if (w > 0)
                in_off += (size_t) w;
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                in_off = cmd->input.len; /* EPIPE: the child stopped reading */
            if (in_off >= cmd->input.len) {
                close(inp[1]);
                inp[1] = -1;
            }
        }
        for (int i = 0; i < 2; i++) {
            int *fdp = i == 0 ? &outp[0] : &errp[0];
            struct st_buf *b = i == 0 ? &obuf : &ebuf;
            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            st_buf_grow(b, 4096);
            ssize_t r = read(*fdp, b->buf + b->len, b->alloc - b->len - 1);
            if (r > 0) {
                b->len += (size_t) r;
                b->buf[b->len] = '\0';
                if (b->len > CMD_MAX_CAPTURE)
                    st_buf_truncate(b, 0);
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(*fdp);
                *fdp = -1;
            }
        }
    }
    /* Reap, within the deadline when there is one. */
    for (;;) {
        pid_t w = waitpid(pid, &wstatus, deadline ? WNOHANG : 0);
        if (w == pid) {
            exited = true;
            break;
        }
        if (w < 0 && errno != EINTR)
            break;
        if (w == 0) {
            int64_t now = st_mono_ns();
            if (!killed && now >= deadline) {
                kill(-pid, SIGTERM);
                killed = true;
                kill_at = now + CMD_KILL_GRACE_NS;
            } else if (killed && now >= kill_at) {
                kill(-pid, SIGKILL);
                deadline = 0; /* SIGKILL cannot be ignored: now wait */
                continue;
            }
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
    }
    if (!exited) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot wait for '%s'", cmd->argv[0]);
        goto done;
    }
    if (killed) {
        tail_of(&ebuf, &line);
        st_err_set(err, ST_ERR_INTERNAL, "'%s' timed out after %d s%s%s", cmd->argv[0],
                   cmd->timeout, line.len ? ": " : "", line.buf);
        goto done;
    }
    if (WIFSIGNALED(wstatus)) {
        st_err_set(err, ST_ERR_INTERNAL, "'%s' was killed by signal %d", cmd->argv[0],
                   WTERMSIG(wstatus));
        goto done;
    }
    if (WEXITSTATUS(wstatus) != 0) {
        if (status) {
            *status = WEXITSTATUS(wstatus);
            rc = 0;
            goto done;
        }
        tail_of(&ebuf, &line);
        if (WEXITSTATUS(wstatus) == 127 && !line.len)
            st_buf_adds(&line, "program not found");
        st_err_set(err, ST_ERR_INTERNAL, "'%s' exited with status %d%s%s", cmd->argv[0],
                   WEXITSTATUS(wstatus), line.len ? ": " : "", line.buf);
        goto done;
    }
    if (status)
        *status = 0;
    rc = 0;
done:
    if (out)
        st_buf_add(out, obuf.buf, obuf.len);
    if (errbuf)
        st_buf_add(errbuf, ebuf.buf, ebuf.len);
close_pipes:
    close_netns(cmd);
    for (int i = 0; i < 2; i++) {
        if (inp[i] >= 0)
            close(inp[i]);
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    {
        /* Drop a SIGPIPE raised while it was blocked, then unblock. */
        struct timespec zero = {0, 0};
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE))
            sigtimedwait(&pipe_set, NULL, &zero);
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    }
    st_buf_release(&obuf);
    st_buf_release(&ebuf);
    st_buf_release(&line);
    return rc;
}

int cmd_start(struct st_cmd *cmd, const char *logfile, pid_t *pid, struct st_err *err)
{
    int in_fd, log_fd;
    if (dry_run) {
        record_dry_run(cmd);
        *pid = 0;
        return 0;
    }
    if (open_netns(cmd, err) < 0)
        return -1;
    in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    log_fd = open(logfile ? logfile : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  0640);
    if (in_fd < 0 || log_fd < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot open stdio for '%s'", cmd->argv[0]);
        if (in_fd >= 0)
            close(in_fd);
        if (log_fd >= 0)
            close(log_fd);
        close_netns(cmd);
        return -1;
    }
    pid_t p = fork();
    if (p < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot fork for '%s'", cmd->argv[0]);
        close(in_fd);
        close(log_fd);
        close_netns(cmd);
        return -1;
    }
    if (p == 0) {
        setsid();
        child_exec(cmd, in_fd, log_fd, log_fd);
    }
    close(in_fd);
    close(log_fd);
    close_netns(cmd);
    *pid = p;
    return 0;
}

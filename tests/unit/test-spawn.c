/* test-spawn.c - cmd_*: argv commands, captured output, exit statuses, the
 * timeout, the clean environment and descriptor set, stdin, the dry-run
 * recorder and daemons. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "common/spawn.h"
#include "common/util.h"
#include "common/banned.h"

/* Runs "sh -c SCRIPT" and returns cmd_run's result. */
static int sh(const char *script, struct st_buf *out, struct st_buf *errb, int *status,
              struct st_err *err)
{
    struct st_cmd *cmd = cmd_new("sh");
    int rc;
    cmd_arg(cmd, "-c");
    cmd_arg(cmd, script);
    rc = cmd_run(cmd, out, errb, status, err);
    cmd_free(cmd);
    return rc;
}

/* The file descriptors 'cmd' (ls -l /proc/self/fd) shows, but the one ls
 * opens itself to read the directory, as "0 1 2 ...". */
static void child_fds(struct st_cmd *cmd, struct st_buf *fds)
{
    struct st_err err = ST_ERR_INIT;
    struct st_buf out = ST_BUF_INIT;
    char *line, *save = NULL;
    int n = 0;
    if (cmd_run(cmd, &out, NULL, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    for (line = strtok_r(out.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *arrow = strstr(line, " -> "), *num;
        if (!arrow)
            continue; /* "total 0" */
        if (!strncmp(arrow + 4, "/proc/", 6))
            continue; /* ls's own directory */
        *arrow = '\0';
        num = strrchr(line, ' ');
        assert_non_null(num);
        st_buf_addf(fds, "%s%s", n++ ? " " : "", num + 1);
    }
    st_buf_release(&out);
}

/* Runs fn() in a child process and waits at most 'timeout_s' for it: a
 * known bug that kills or hangs the caller must not take the test program
 * with it.  Returns fn()'s exit status, or fails the test. */
static int isolated(int (*fn)(void), int timeout_s)
{
    pid_t pid = fork();
    int ws = 0;
    int64_t deadline = st_mono_ns() + (int64_t) timeout_s * 1000000000;
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    for (;;) {
        pid_t r = waitpid(pid, &ws, WNOHANG);
        assert_true(r >= 0);
        if (r == pid)
            break;
        if (st_mono_ns() > deadline) {
            kill(pid, SIGKILL);
            (void) waitpid(pid, &ws, 0);
            fail_msg("still running after %d s", timeout_s);
        }
        usleep(20000);
    }
    if (WIFSIGNALED(ws))
        fail_msg("killed by signal %d", WTERMSIG(ws));
    return WEXITSTATUS(ws);
}

static void t01_captures_stdout_stderr(void **state)
{
    struct st_buf out = ST_BUF_INIT, errb = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    int status = -1;
    (void) state;
    assert_int_equal(sh("echo out; echo err >&2; printf 'x\\0y'", &out, &errb, &status, &err), 0);
    assert_int_equal(status, 0);
    assert_int_equal(out.len, 7);
    assert_memory_equal(out.buf, "out\nx\0y", 7);
    assert_string_equal(errb.buf, "err\n");
    assert_false(st_err_is_set(&err));

    /* Output is appended to what the buffers hold; NULL buffers are fine. */
    assert_int_equal(sh("echo more", &out, NULL, NULL, &err), 0);
    assert_int_equal(out.len, 12);
    assert_string_equal(out.buf + 7, "more\n");
    assert_int_equal(sh("echo lost; echo lost >&2", NULL, NULL, NULL, &err), 0);

    /* Large output on both streams at once does not dead-lock. */
    st_buf_reset(&out);
    st_buf_reset(&errb);
    assert_int_equal(sh("i=0; while [ $i -lt 2000 ]; do echo 0123456789012345678901234567890123456789;"
                        " echo e0123456789012345678901234567890123456789 >&2; i=$((i+1)); done",
                        &out, &errb, NULL, &err),
                     0);
    assert_int_equal(out.len, 2000 * 41);
    assert_int_equal(errb.len, 2000 * 42);
    st_buf_release(&out);
    st_buf_release(&errb);
}

static void t02_exit_status_returned(void **state)
{
    struct st_buf out = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    int status = -1;
    (void) state;
    assert_int_equal(sh("echo partial; exit 3", &out, NULL, &status, &err), 0);
    assert_int_equal(status, 3);
    assert_false(st_err_is_set(&err));
    assert_string_equal(out.buf, "partial\n");
    assert_int_equal(sh("exit 0", NULL, NULL, &status, &err), 0);
    assert_int_equal(status, 0);
    st_buf_release(&out);
}

static void t03_nonzero_exit_error_has_stderr_tail(void **state)
{
    struct st_buf out = ST_BUF_INIT, errb = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(sh("echo out; echo first >&2; echo 'the real reason' >&2; exit 2", &out,
                        &errb, NULL, &err),
                     -1);
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    assert_string_equal(err.msg, "'sh' exited with status 2: first\nthe real reason");
    /* the output is still given */
    assert_string_equal(out.buf, "out\n");
    assert_string_equal(errb.buf, "first\nthe real reason\n");

    /* only the tail of a long stderr: the end is what explains */
    st_err_clear(&err);
    assert_int_equal(sh("i=0; while [ $i -lt 100 ]; do echo \"line $i of noise\" >&2; i=$((i+1));"
                        " done; echo FINAL >&2; exit 1",
                        NULL, NULL, NULL, &err),
                     -1);
    assert_non_null(strstr(err.msg, "FINAL"));
    assert_null(strstr(err.msg, "line 0 of noise"));
    assert_true(strlen(err.msg) < ST_ERR_MSG_MAX);

    /* no stderr at all */
    st_err_clear(&err);
    assert_int_equal(sh("exit 4", NULL, NULL, NULL, &err), -1);
    assert_string_equal(err.msg, "'sh' exited with status 4");
    st_buf_release(&out);
    st_buf_release(&errb);
}

static void t04_program_not_found(void **state)
{
    struct st_cmd *cmd = cmd_new("stratus-no-such-program");
    struct st_err err = ST_ERR_INIT;
    (void) state;
    assert_int_equal(cmd_run(cmd, NULL, NULL, NULL, &err), -1);
    assert_string_equal(err.msg,
                        "'stratus-no-such-program' exited with status 127: program not found");
    cmd_free(cmd);

    /* an absolute path is not searched */
    st_err_clear(&err);
    cmd = cmd_new("/nonexistent/true");
    assert_int_equal(cmd_run(cmd, NULL, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "status 127"));
    cmd_free(cmd);
}

static void t05_killed_by_signal(void **state)
{
    struct st_err err = ST_ERR_INIT;
    int status = -1;
    (void) state;
    /* even with 'status', a signal is an error: there is no exit code */
    assert_int_equal(sh("kill -TERM $$", NULL, NULL, &status, &err), -1);
    assert_string_equal(err.msg, "'sh' was killed by signal 15");
}

static void t06_timeout_kills(void **state)
{
    struct st_cmd *cmd = cmd_new("sleep");
    struct st_err err = ST_ERR_INIT;
    int64_t t0 = st_mono_ns(), ms;
    (void) state;
    cmd_arg(cmd, "30");
    cmd_set_timeout(cmd, 1);
    assert_int_equal(cmd_run(cmd, NULL, NULL, NULL, &err), -1);
    ms = (st_mono_ns() - t0) / 1000000;
    assert_true(ms >= 900);
    assert_true(ms < 5000);
    assert_int_equal(err.kind, ST_ERR_INTERNAL);
    assert_string_equal(err.msg, "'sleep' timed out after 1 s");
    cmd_free(cmd);

    /* the stderr written before the kill is in the message */
    st_err_clear(&err);
    cmd = cmd_new("sh");
    cmd_arg(cmd, "-c");
    cmd_arg(cmd, "echo stuck here >&2; exec sleep 30");
    cmd_set_timeout(cmd, 1);
    assert_int_equal(cmd_run(cmd, NULL, NULL, NULL, &err), -1);
    assert_string_equal(err.msg, "'sh' timed out after 1 s: stuck here");
    cmd_free(cmd);

    /* a command that finishes in time is not affected */
    st_err_clear(&err);
    cmd = cmd_new("true");
    cmd_set_timeout(cmd, 5);
    assert_int_equal(cmd_run(cmd, NULL, NULL, NULL, &err), 0);
    cmd_free(cmd);
}

static void t07_env_is_clean(void **state)
{
    struct st_cmd *cmd;
    struct st_buf out = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    setenv("STRATUS_TEST_LEAK", "must not reach the child", 1);
    cmd = cmd_new("env");
    cmd_setenv(cmd, "FOO", "bar");
    cmd_setenv(cmd, "EMPTY", "");
    cmd_setenv(cmd, "FOO", "baz"); /* replaces, not duplicates */
    cmd_setenv(cmd, "LC_ALL", "C.UTF-8");
    assert_int_equal(cmd_run(cmd, &out, NULL, NULL, &err), 0);
    assert_string_equal(out.buf,
                        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
                        "LC_ALL=C.UTF-8\n"
                        "FOO=baz\n"
                        "EMPTY=\n");
    cmd_free(cmd);
    unsetenv("STRATUS_TEST_LEAK");

    /* the default: PATH and LC_ALL=C only */
    st_buf_reset(&out);
    cmd = cmd_new("/usr/bin/env");
    assert_int_equal(cmd_run(cmd, &out, NULL, NULL, &err), 0);
    assert_string_equal(out.buf,
                        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
                        "LC_ALL=C\n");
    cmd_free(cmd);
    st_buf_release(&out);
}

static void t08_no_inherited_fds(void **state)
{
    struct st_cmd *cmd;
    struct st_buf fds = ST_BUF_INIT;
    int leak1 = open("/dev/null", O_RDONLY);       /* no O_CLOEXEC on purpose */
    int leak2 = fcntl(leak1, F_DUPFD, 40);
    int cloexec = open("/dev/null", O_RDONLY | O_CLOEXEC);
    (void) state;
    assert_true(leak1 >= 3);
    assert_int_equal(leak2, 40);
    assert_true(cloexec >= 3);

    cmd = cmd_new("ls");
    cmd_arg(cmd, "-l");
    cmd_arg(cmd, "/proc/self/fd");
    child_fds(cmd, &fds);
    assert_string_equal(fds.buf, "0 1 2");
    cmd_free(cmd);

    /* stdin is not the parent's: it reads as empty */
    {
        struct st_buf out = ST_BUF_INIT;
        struct st_err err = ST_ERR_INIT;
        cmd = cmd_new("cat");
        assert_int_equal(cmd_run(cmd, &out, NULL, NULL, &err), 0);
        assert_int_equal(out.len, 0);
        cmd_free(cmd);
        st_buf_release(&out);
    }
    close(leak1);
    close(leak2);
    close(cloexec);
    st_buf_release(&fds);
}

static void t09_pass_fd(void **state)
{
    struct st_cmd *cmd;
    struct st_err err = ST_ERR_INIT;
    int p[2];
    char buf[64] = "";
    ssize_t n;
    int high;
    (void) state;
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    high = fcntl(p[1], F_DUPFD_CLOEXEC, 50);
    assert_int_equal(high, 50);
    /* A passed descriptor keeps its number, even when it is close-on-exec. */
    cmd = cmd_new("sh");
    cmd_arg(cmd, "-c");
    cmd_arg(cmd, "echo through-the-pipe > /dev/fd/50");
    cmd_pass_fd(cmd, high);
    if (cmd_run(cmd, NULL, NULL, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    n = read(p[0], buf, sizeof(buf) - 1);
    assert_int_equal(n, 17);
    assert_string_equal(buf, "through-the-pipe\n");
    cmd_free(cmd);
    /* The parent's copy is still close-on-exec. */
    assert_true(fcntl(high, F_GETFD) & FD_CLOEXEC);
    /* (that it is the only one beyond 0-2: t10, a known bug) */
    close(p[0]);
    close(p[1]);
    close(high);
}

/*
 * KNOWN BUG: src/common/spawn.c child_exec(): with passed descriptors it
 * only runs close_range(low, ~0U) where 'low' is one above the highest
 * passed fd, so every descriptor between 3 and that fd that lacks
 * FD_CLOEXEC leaks into the child, against spawn.h's "no file descriptors
 * but 0-2 and those passed".  Fix: in the child, dup every passed fd above
 * all others (fcntl F_DUPFD at the max+1), close_range(3, ~0U, 0) except
 * those copies... simplest: close_range(3, fd-1) for each gap between the
 * sorted passed fds, then close_range(last+1, ~0U).
 */
static void t10_pass_fd_closes_the_rest(void **state)
{
    struct st_cmd *cmd;
    struct st_buf fds = ST_BUF_INIT;
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: must still not leak */
    int keep = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int high = fcntl(keep, F_DUPFD_CLOEXEC, 60);
    (void) state;
    assert_true(leak >= 3 && leak < 60);
    assert_int_equal(high, 60);
    cmd = cmd_new("ls");
    cmd_arg(cmd, "-l");
    cmd_arg(cmd, "/proc/self/fd");
    cmd_pass_fd(cmd, high);
    child_fds(cmd, &fds);
    assert_string_equal(fds.buf, "0 1 2 60");
    cmd_free(cmd);
    close(leak);
    close(keep);
    close(high);
    st_buf_release(&fds);
}

static void t11_stdin_input(void **state)
{
    struct st_cmd *cmd = cmd_new("cat");
    struct st_buf in = ST_BUF_INIT, out = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    (void) state;
    /* more than a pipe holds, so that writing and reading interleave */
    for (int i = 0; i < 20000; i++)
        st_buf_addf(&in, "line %05d\n", i);
    st_buf_addch(&in, '\0');
    cmd_set_input(cmd, in.buf, in.len);
    assert_int_equal(cmd_run(cmd, &out, NULL, NULL, &err), 0);
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.buf, in.buf, in.len);
    cmd_free(cmd);

    /* input is copied at cmd_set_input() time, and replaced by a second call */
    cmd = cmd_new("cat");
    {
        char tmp[] = "first";
        cmd_set_input(cmd, tmp, 5);
        tmp[0] = 'X';
    }
    cmd_set_input(cmd, "second", 6);
    st_buf_reset(&out);
    assert_int_equal(cmd_run(cmd, &out, NULL, NULL, &err), 0);
    assert_string_equal(out.buf, "second");
    cmd_free(cmd);
    st_buf_release(&in);
    st_buf_release(&out);
}

/*
 * KNOWN BUG: src/common/spawn.c cmd_run(): input is written to the child's
 * stdin pipe without guarding against SIGPIPE.  When the child exits
 * without reading all of it (a failing `qemu-img`, `true`), write() raises
 * SIGPIPE and kills the calling process unless the whole program happens
 * to ignore SIGPIPE (stratusd does; the agent, stratus-manage and tests
 * need not).  Fix: block SIGPIPE around the writes (pthread_sigmask, then
 * sigtimedwait to consume a pending one) or set SIG_IGN in a cmd_init();
 * treat EPIPE as "input done".
 */
static int input_not_read(void)
{
    struct st_cmd *cmd = cmd_new("sh");
    struct st_buf in = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    int rc;
    signal(SIGPIPE, SIG_DFL); /* as a program that did not ignore it */
    /* closes its stdin at once, keeps stdout open a while */
    cmd_arg(cmd, "-c");
    cmd_arg(cmd, "exec 0<&-; sleep 0.3");
    for (int i = 0; i < 1 << 20; i++)
        st_buf_addch(&in, 'x');
    cmd_set_input(cmd, in.buf, in.len);
    rc = cmd_run(cmd, NULL, NULL, NULL, &err);
    cmd_free(cmd);
    st_buf_release(&in);
    return rc == 0 ? 0 : 1;
}

static void t12_input_not_read_by_child(void **state)
{
    (void) state;
    assert_int_equal(isolated(input_not_read, 20), 0);
}

/*
 * KNOWN BUG: src/common/spawn.c cmd_run(): the timeout SIGKILLs only the
 * direct child and then keeps reading until its pipes close.  A grandchild
 * that inherited stdout and keeps writing (a shell script's background
 * job, a wrapper script) holds them open, so cmd_run() never returns
 * although the timeout passed.  spawn.h also promises "SIGTERM, then
 * SIGKILL" but only SIGKILL is sent.  Fix: setpgid(0, 0) in the child and
 * kill(-pid, ...) the whole group; after the kill, stop reading at a
 * deadline (e.g. 1 s) and close the pipes.
 */
static int runaway_grandchild(void)
{
    struct st_cmd *cmd = cmd_new("sh");
    struct st_err err = ST_ERR_INIT;
    int rc;
    cmd_arg(cmd, "-c");
    cmd_arg(cmd, "yes & wait");
    cmd_set_timeout(cmd, 1);
    rc = cmd_run(cmd, NULL, NULL, NULL, &err);
    cmd_free(cmd);
    return rc < 0 && strstr(err.msg, "timed out") ? 0 : 1;
}

static void t13_timeout_bounds_the_call(void **state)
{
    (void) state;
    /* the timeout is 1 s: give it 10 */
    assert_int_equal(isolated(runaway_grandchild, 10), 0);
}

/*
 * KNOWN BUG: src/common/spawn.c cmd_run(): the poll loop runs "while
 * (outp[0] >= 0 || errp[0] >= 0)", so when the child closes stdout and
 * stderr before it has read all of its input, the loop ends with input
 * unwritten and the stdin pipe still open; waitpid() then waits forever
 * for a child that waits for the rest of stdin (or its EOF).  The timeout
 * does not help: it is only checked inside the loop.  Fix: keep looping
 * while inp[1] >= 0 too (and close it once the outputs are gone if the
 * child no longer reads), and bound waitpid by the deadline (WNOHANG
 * polling, then kill).
 */
static int input_after_outputs_closed(void)
{
    struct st_cmd *cmd = cmd_new("sh");
    struct st_err err = ST_ERR_INIT;
    size_t n = 1 << 20;
    char *in = calloc(1, n);
    int rc;
    cmd_arg(cmd, "-c");
    cmd_arg(cmd, "exec >/dev/null 2>&1; sleep 0.2; cat > /dev/null");
    cmd_set_input(cmd, in, n);
    cmd_set_timeout(cmd, 2);
    rc = cmd_run(cmd, NULL, NULL, NULL, &err);
    cmd_free(cmd);
    free(in);
    return rc == 0 ? 0 : 1;
}

static void t17_input_after_outputs_closed(void **state)
{
    (void) state;
    assert_int_equal(isolated(input_after_outputs_closed, 10), 0);
}

static void t14_dry_run_records_argv(void **state)
{
    struct st_buf rec = ST_BUF_INIT, out = ST_BUF_INIT;
    struct st_err err = ST_ERR_INIT;
    char *dir = tu_mkdtemp();
    char path[4096];
    struct st_cmd *cmd;
    int status = -1;
    pid_t pid = -1;
    (void) state;
    snprintf(path, sizeof(path), "%s/created", dir);

    cmd_set_dry_run(&rec);
    cmd = cmd_new("touch");
    cmd_arg(cmd, path);
    cmd_arg(cmd, "a b");
    cmd_arg(cmd, "it's");
    cmd_arg(cmd, "");
    cmd_arg(cmd, "plain-arg_1.2:x=y,z+@%/");
    cmd_arg(cmd, "$HOME;`x`|*");
    cmd_argf(cmd, "--size=%dM", 64);
    st_buf_adds(&out, "kept");
    assert_int_equal(cmd_run(cmd, &out, NULL, &status, &err), 0);
    assert_int_equal(status, 0);
    assert_string_equal(out.buf, "kept"); /* nothing added */
    cmd_free(cmd);

    cmd = cmd_new("dnsmasq");
    cmd_arg(cmd, "--keep-in-foreground");
    assert_int_equal(cmd_start(cmd, NULL, &pid, &err), 0);
    assert_int_equal(pid, 0);
    cmd_free(cmd);
    cmd_set_dry_run(NULL);

    {
        struct st_buf want = ST_BUF_INIT;
        st_buf_addf(&want,
                    "touch %s 'a b' 'it'\\''s' '' plain-arg_1.2:x=y,z+@%%/ '$HOME;`x`|*' "
                    "--size=64M\n"
                    "dnsmasq --keep-in-foreground\n",
                    path);
        assert_string_equal(rec.buf, want.buf);
        st_buf_release(&want);
    }
    /* nothing ran */
    assert_int_equal(tu_count_entries(dir), 0);

    /* and with the recorder off, commands run again */
    cmd = cmd_new("touch");
    cmd_arg(cmd, path);
    assert_int_equal(cmd_run(cmd, NULL, NULL, NULL, &err), 0);
    assert_int_equal(tu_count_entries(dir), 1);
    cmd_free(cmd);
    st_buf_release(&rec);
    st_buf_release(&out);
    tu_rmrf(dir);
    free(dir);
}

static void t15_to_string(void **state)
{
    struct st_cmd *cmd = cmd_new("ip");
    struct st_buf s = ST_BUF_INIT;
    (void) state;
    cmd_arg(cmd, "link");
    cmd_argf(cmd, "tap%s", "0123456789a");
    cmd_arg(cmd, "x\ny");
    cmd_to_string(cmd, &s);
    assert_string_equal(s.buf, "ip link tap0123456789a 'x\ny'");
    cmd_free(cmd);
    cmd_free(NULL);
    st_buf_release(&s);
}

static void t16_start_daemon(void **state)
{
    char *dir = tu_mkdtemp();
    char log[4096];
    struct st_cmd *cmd = cmd_new("sh");
    struct st_err err = ST_ERR_INIT;
    struct st_buf text = ST_BUF_INIT, want = ST_BUF_INIT;
    pid_t pid = 0;
    int ws = 0;
    (void) state;
    snprintf(log, sizeof(log), "%s/daemon.log", dir);
    cmd_arg(cmd, "-c");
    /* pid and session id (field 6 of /proc/PID/stat): a new session */
    cmd_arg(cmd, "read a b c d e f rest < /proc/$$/stat; echo \"$$ $f\"; echo to-stderr >&2");
    assert_int_equal(cmd_start(cmd, log, &pid, &err), 0);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    assert_int_equal(st_read_file(log, 4096, &text, &err), 0);
    st_buf_addf(&want, "%d %d\nto-stderr\n", (int) pid, (int) pid);
    assert_string_equal(text.buf, want.buf);
    cmd_free(cmd);
    st_buf_release(&text);
    st_buf_release(&want);
    tu_rmrf(dir);
    free(dir);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_captures_stdout_stderr),
        cmocka_unit_test(t02_exit_status_returned),
        cmocka_unit_test(t03_nonzero_exit_error_has_stderr_tail),
        cmocka_unit_test(t04_program_not_found),
        cmocka_unit_test(t05_killed_by_signal),
        cmocka_unit_test(t06_timeout_kills),
        cmocka_unit_test(t07_env_is_clean),
        cmocka_unit_test(t08_no_inherited_fds),
        cmocka_unit_test(t09_pass_fd),
        cmocka_unit_test(t11_stdin_input),
        cmocka_unit_test(t14_dry_run_records_argv),
        cmocka_unit_test(t15_to_string),
        cmocka_unit_test(t16_start_daemon),
        cmocka_unit_test(t10_pass_fd_closes_the_rest),
        cmocka_unit_test(t12_input_not_read_by_child),
        cmocka_unit_test(t13_timeout_bounds_the_call),
        cmocka_unit_test(t17_input_after_outputs_closed),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("spawn", tests, known_bugs);
}

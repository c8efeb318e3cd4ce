/* log.c - leveled, line-atomic logging with a rate limiter. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/banned.h"

static enum log_level min_level = LOG_LVL_INFO;
static int log_fd = 2;
static char *log_path;
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

int log_level_parse(const char *s, enum log_level *out)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(s, names[i]) || (i == 2 && !strcasecmp(s, "warn"))) {
            *out = (enum log_level) i;
            return 0;
        }
    }
    return -1;
}

int log_open(enum log_level level, const char *path, struct st_err *err)
{
    min_level = level;
    if (!path || !*path || !strcmp(path, "-"))
        return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot open log file '%s'", path);
        return -1;
    }
    if (log_fd > 2)
        close(log_fd);
    log_fd = fd;
    free(log_path);
    log_path = st_xstrdup(path);
    return 0;
}

void log_reopen(void)
{
    if (log_path) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd >= 0) {
            dup2(fd, log_fd);
            close(fd);
        }
    }
}

void log_close(void)
{
    if (log_fd > 2)
        close(log_fd);
    log_fd = 2;
    free(log_path);
    log_path = NULL;
}

bool log_enabled(enum log_level level)
{
    return level >= min_level;
}

static void log_vmsg(enum log_level level, const char *module, int errnum, const char *fmt,
                     va_list ap)
{
    char ts[32];
    char line[2048];
    int n;

    if (level < min_level)
        return;
    st_time_iso(st_now_us(), 6, ts);
    n = snprintf(line, sizeof(line), "%s %s %s: ", ts, level_names[level], module);
    if (n < 0 || (size_t) n >= sizeof(line))
        return;
    int m = vsnprintf(line + n, sizeof(line) - (size_t) n, fmt, ap);
    if (m < 0)
        return;
    n = (size_t) (n + m) >= sizeof(line) - 1 ? (int) sizeof(line) - 2 : n + m;
    if (errnum) {
        int k = snprintf(line + n, sizeof(line) - (size_t) n, ": %s", strerror(errnum));
        if (k > 0)
            n = (size_t) (n + k) >= sizeof(line) - 1 ? (int) sizeof(line) - 2 : n + k;
    }
    line[n++] = '\n';
    (void) !write(log_fd, line, (size_t) n);
}

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, module, 0, fmt, ap);
    va_end(ap);
}

void log_warn(const char *module, const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(LOG_LVL_WARN, module, e, fmt, ap);
    va_end(ap);
}

bool log_rl_allow(struct log_rl *rl)
{
    bool ok;
    int64_t now = st_mono_ns();
    pthread_mutex_lock(&rl_lock);
    if (rl->last_ns) {
        rl->tokens += (double) (now - rl->last_ns) / 60e9 * rl->per_min;
        if (rl->tokens > rl->burst)
            rl->tokens = rl->burst;
    }
    rl->last_ns = now;
    ok = rl->tokens >= 1.0;
    if (ok)
        rl->tokens -= 1.0;
    else
        rl->dropped++;
    pthread_mutex_unlock(&rl_lock);
    return ok;
}

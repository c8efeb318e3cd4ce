/*
 * log.h - leveled logging to stderr or a file, one write(2) per line so that
 * threads never interleave.  Lines look like
 *   2024-01-02T03:04:05.123456Z INFO api: GET /identity/v3 200 0.21ms req-...
 *
 * Only the top layers log (the request handler, the reconcile loop, main);
 * library code returns st_err and logs at DEBUG at most.  log_warn() appends
 * strerror(errno), log_warnx() does not (OpenBSD's convention).
 * LOG_RATELIMIT() keeps a loop from flooding the log (Open vSwitch's vlog_rl).
 */
#ifndef ST_LOG_H
#define ST_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Sets the minimum level and the destination ('path' NULL or "-" for stderr).
 * Returns -1 with 'err' set if the file cannot be opened. */
int log_open(enum log_level level, const char *path, struct st_err *err);
void log_close(void);
/* Re-opens the log file (after rotation; SIGHUP). */
void log_reopen(void);
int log_level_parse(const char *s, enum log_level *out);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(mod, ...) log_msg(LOG_LVL_DEBUG, mod, __VA_ARGS__)
#define log_info(mod, ...) log_msg(LOG_LVL_INFO, mod, __VA_ARGS__)
#define log_warnx(mod, ...) log_msg(LOG_LVL_WARN, mod, __VA_ARGS__)
#define log_errorx(mod, ...) log_msg(LOG_LVL_ERROR, mod, __VA_ARGS__)
void log_warn(const char *module, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A token bucket: at most 'burst' messages, refilled at 'per_min' a minute. */
struct log_rl {
    int per_min;
    int burst;
    double tokens;
    int64_t last_ns;
    unsigned dropped;
};
#define LOG_RL_INIT(per_min, burst) {per_min, burst, burst, 0, 0}
/* True when a message may be logged now. */
bool log_rl_allow(struct log_rl *rl);

#endif

/* err.c - st_err: the error record that every fallible call fills once. */
#include "common/err.h"

#include "common/util.h"

#include <stdio.h>
#include <string.h>

#include "common/banned.h"

static const struct {
    const char *name;
    int status;
    const char *key;
} kinds[] = {
#define ST_ERR_ROW(name, status, key) {#name, status, key},
    ST_ERR_KINDS(ST_ERR_ROW)
#undef ST_ERR_ROW
};

static void err_vset(struct st_err *err, int errnum, enum st_err_kind kind, const char *fmt,
                     va_list ap)
{
    if (!err || err->kind != ST_ERR_NONE)
        return;
    err->kind = kind;
    err->sys_errno = errnum;
    err->type[0] = '\0';
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    if (errnum) {
        size_t n = strlen(err->msg);
        if (n < sizeof(err->msg))
            snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
    }
    /* Messages quote user input, which may not be UTF-8 or may have been cut
     * inside a character; the fault body is JSON and must be. */
    st_utf8_sanitize(err->msg);
}

void st_err_set(struct st_err *err, enum st_err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, 0, kind, fmt, ap);
    va_end(ap);
}

void st_err_sys(struct st_err *err, int errnum, enum st_err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, errnum, kind, fmt, ap);
    va_end(ap);
}

void st_err_set_type(struct st_err *err, const char *type)
{
    if (err)
        snprintf(err->type, sizeof(err->type), "%s", type);
}

void st_err_clear(struct st_err *err)
{
    if (!err)
        return;
    err->kind = ST_ERR_NONE;
    err->sys_errno = 0;
    err->type[0] = '\0';
    err->msg[0] = '\0';
}

int st_err_status(enum st_err_kind kind)
{
    return kind < ST_ERR__COUNT ? kinds[kind].status : 500;
}

const char *st_err_key(enum st_err_kind kind)
{
    return kind < ST_ERR__COUNT ? kinds[kind].key : "computeFault";
}

const char *st_err_name(enum st_err_kind kind)
{
    return kind < ST_ERR__COUNT ? kinds[kind].name : "INTERNAL";
}

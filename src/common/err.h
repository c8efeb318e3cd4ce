/*
 * err.h - the one error type of stratus.
 *
 * A fallible function returns int (0 success, -1 failure) or NULL and takes a
 * 'struct st_err *err' that it fills exactly once, where the failure is found.
 * Callers propagate the error untouched.  The API layer turns the kind into an
 * HTTP status and an OpenStack fault body in one place (api/fault.c).
 *
 * Kinds come from the X-macro table below: name, HTTP status, Nova-style fault
 * key.  A kind never changes meaning; add new ones at the end.
 */
#ifndef ST_ERR_H
#define ST_ERR_H

#include <stdarg.h>

#define ST_ERR_KINDS(X)                                                        \
    X(NONE, 0, "none")                                                         \
    X(BAD_REQUEST, 400, "badRequest")                                          \
    X(UNAUTHORIZED, 401, "unauthorized")                                       \
    X(FORBIDDEN, 403, "forbidden")                                             \
    X(NOT_FOUND, 404, "itemNotFound")                                          \
    X(METHOD_NOT_ALLOWED, 405, "methodNotAllowed")                             \
    X(NOT_ACCEPTABLE, 406, "notAcceptable")                                    \
    X(CONFLICT, 409, "conflictingRequest")                                     \
    X(GONE, 410, "gone")                                                       \
    X(TOO_LARGE, 413, "requestEntityTooLarge")                                 \
    X(UNSUPPORTED_MEDIA, 415, "unsupportedMediaType")                          \
    X(RANGE, 416, "requestedRangeNotSatisfiable")                              \
    X(OVER_QUOTA, 403, "forbidden")                                            \
    X(INTERNAL, 500, "computeFault")                                           \
    X(NOT_IMPLEMENTED, 501, "notImplemented")                                  \
    X(UNAVAILABLE, 503, "serviceUnavailable")

enum st_err_kind {
#define ST_ERR_ENUM(name, status, key) ST_ERR_##name,
    ST_ERR_KINDS(ST_ERR_ENUM)
#undef ST_ERR_ENUM
        ST_ERR__COUNT
};

#define ST_ERR_MSG_MAX 512
#define ST_ERR_TYPE_MAX 64

struct st_err {
    enum st_err_kind kind;      /* ST_ERR_NONE until set */
    int sys_errno;              /* errno at the failure, or 0 */
    char type[ST_ERR_TYPE_MAX]; /* optional API-specific type, e.g. Neutron's
                                   "NetworkNotFound"; "" when unset */
    char msg[ST_ERR_MSG_MAX];   /* human-readable, says what failed first */
};

#define ST_ERR_INIT {ST_ERR_NONE, 0, "", ""}

/* Fills 'err' (which may be NULL: the error is then dropped).  Calling it on
 * an error that is already set keeps the first one: the first report is the
 * one nearest the cause. */
void st_err_set(struct st_err *err, enum st_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(errnum)". */
void st_err_sys(struct st_err *err, int errnum, enum st_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets the API-specific type of an error already set. */
void st_err_set_type(struct st_err *err, const char *type);
/* Resets 'err' to ST_ERR_NONE so it can be reused. */
void st_err_clear(struct st_err *err);

int st_err_status(enum st_err_kind kind);     /* HTTP status of a kind */
const char *st_err_key(enum st_err_kind kind); /* Nova fault key of a kind */
const char *st_err_name(enum st_err_kind kind); /* "NOT_FOUND" etc. */

static inline int st_err_is_set(const struct st_err *err)
{
    return err && err->kind != ST_ERR_NONE;
}

#endif

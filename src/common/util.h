/*
 * util.h - small checked helpers: number parsing in the style of OpenBSD's
 * strtonum, bounded formatting that fails on truncation (glibc 2.36 has no
 * strlcpy), random ids, time stamps, base64url and files written atomically.
 */
#ifndef ST_UTIL_H
#define ST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"

#define ST_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ST_UNUSED __attribute__((unused))
#define ST_WUR __attribute__((warn_unused_result))

/* Parses the whole of 's' as a decimal integer in [min, max].  Returns 0 and
 * sets *out, or -1 with errno EINVAL (not a number) or ERANGE. */
int st_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out) ST_WUR;
int st_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) ST_WUR;
/* Parses "true/false/yes/no/1/0/on/off" (case-insensitive). */
int st_parse_bool(const char *s, bool *out) ST_WUR;

/* Ignores a result on purpose, where GCC's (void) cast does not silence
 * warn_unused_result (systemd's convention, STYLE §17). */
#define ST_IGNORE(expr)                                                                        \
    do {                                                                                       \
        if (expr) {                                                                            \
        }                                                                                      \
    } while (0)

/* snprintf that returns -1 (errno ENAMETOOLONG) instead of truncating. */
int st_snprintf(char *dst, size_t size, const char *fmt, ...) ST_WUR
    __attribute__((format(printf, 3, 4)));

static inline bool st_streq(const char *a, const char *b)
{
    return a && b && __builtin_strcmp(a, b) == 0;
}

/* Fills 'buf' with 'len' bytes from the kernel's CSPRNG; aborts on failure
 * (getrandom cannot fail once the pool is initialised). */
void st_random(void *buf, size_t len);
/* A random (version 4) UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" (36+1). */
void st_uuid(char out[37]);
/* The same 128 random bits as 32 lowercase hex digits, Keystone's id form. */
void st_uuid_hex(char out[33]);
/* True if 's' is a UUID in either form above (any version, any case). */
bool st_is_uuid(const char *s);

/* Wall-clock time in microseconds since the epoch; monotonic clock in ns. */
int64_t st_now_us(void);
int64_t st_mono_ns(void);
/* Formats 'us' (epoch microseconds) as ISO 8601 UTC.  'frac' 0 gives
 * "2024-01-02T03:04:05Z", 6 gives "2024-01-02T03:04:05.000000Z". */
void st_time_iso(int64_t us, int frac, char out[32]);
/* Parses ISO 8601 UTC ("Z" or "+00:00" or no zone; optional fraction).
 * Returns 0 and epoch microseconds, or -1. */
int st_time_parse(const char *s, int64_t *us) ST_WUR;

/* base64url without padding (RFC 4648 §5), and standard base64 with it. */
void st_base64url_encode(const void *data, size_t len, struct st_buf *out);
int st_base64url_decode(const char *s, size_t slen, struct st_buf *out) ST_WUR;
void st_base64_encode(const void *data, size_t len, struct st_buf *out);
int st_base64_decode(const char *s, size_t slen, struct st_buf *out) ST_WUR;
void st_hex_encode(const void *data, size_t len, struct st_buf *out);
/* Characters (UTF-8 code points) in the first 'n' bytes of 's'. */
size_t st_utf8_len(const char *s, size_t n);
/* Replaces every byte of 's' that is not part of a valid UTF-8 sequence
 * (including a sequence cut at the end) with '?', in place. */
void st_utf8_sanitize(char *s);
/* Percent-encodes 's' for a URL query component (RFC 3986 unreserved kept). */
void st_url_escape(const char *s, struct st_buf *out);

/* Reads a whole file (up to 'max' bytes) into 'out'. */
int st_read_file(const char *path, size_t max, struct st_buf *out, struct st_err *err) ST_WUR;
/* Writes 'len' bytes to 'path' atomically: a temp file in the same directory,
 * fsync, rename.  'mode' is the new file's permission bits. */
int st_write_file(const char *path, const void *data, size_t len, unsigned mode,
                  struct st_err *err) ST_WUR;
/* mkdir -p with 'mode' for the directories it creates. */
int st_mkdir_p(const char *path, unsigned mode, struct st_err *err) ST_WUR;

/* Parses a listen address, "ADDR:PORT" or "[V6ADDR]:PORT" with a numeric
 * address (port 0: any free port), into 'ss' (AF_INET or AF_INET6).
 * BAD_REQUEST otherwise. */
struct sockaddr_storage;
int st_parse_listen(const char *listen, struct sockaddr_storage *ss, struct st_err *err) ST_WUR;

#endif

/* util.c - parsing, formatting, random ids, time, base64 and file helpers. */
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/banned.h"

int st_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s || isspace((unsigned char) *s)) {
        errno = EINVAL;
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0') {
        errno = EINVAL;
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = v;
    return 0;
}

int st_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    int64_t v;
    if (s && *s == '-') {
        errno = ERANGE;
        return -1;
    }
    if (st_parse_i64(s, min, max, &v) < 0)
        return -1;
    *out = (uint32_t) v;
    return 0;
}

int st_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    if (!s)
        return -1;
    for (size_t i = 0; i < ST_ARRAY_SIZE(yes); i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

int st_snprintf(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= size) {
        if (size)
            dst[0] = '\0';
        errno = ENAMETOOLONG;
        return -1;
    }
    return n;
}

void st_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            abort();
        }
        p += n;
        len -= (size_t) n;
    }
}

static void uuid_bytes(unsigned char u[16])
{
    st_random(u, 16);
    u[6] = (unsigned char) ((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char) ((u[8] & 0x3f) | 0x80);
}

void st_uuid(char out[37])
{
    unsigned char u[16];
    uuid_bytes(u);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}

void st_uuid_hex(char out[33])
{
    unsigned char u[16];
    uuid_bytes(u);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", u[i]);
}

bool st_is_uuid(const char *s)
{
    size_t n, hex = 0;
    if (!s)
        return false;
    n = strlen(s);
    if (n != 32 && n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-')
                return false;
        } else if (isxdigit((unsigned char) s[i])) {
            hex++;
        } else {
            return false;
        }
    }
    return hex == 32;
}

int64_t st_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t st_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void st_time_iso(int64_t us, int frac, char out[32])
{
    struct tm tm;
    time_t t = (time_t) (us / 1000000);
    gmtime_r(&t, &tm);
    /* Clamp so the compiler can see every field's width. */
    tm.tm_year = (tm.tm_year + 1900) % 10000 - 1900;
    tm.tm_mon = (unsigned) tm.tm_mon % 12;
    tm.tm_mday = (unsigned) tm.tm_mday % 32;
    tm.tm_hour = (unsigned) tm.tm_hour % 24;
    tm.tm_min = (unsigned) tm.tm_min % 60;
    tm.tm_sec = (unsigned) tm.tm_sec % 61;
    if (frac)
        snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int) ((unsigned long long) us % 1000000));
    else
        snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int st_time_parse(const char *s, int64_t *us)
{
    struct tm tm;
    const char *p;
    int64_t frac = 0;

    memset(&tm, 0, sizeof(tm));
    if (!s)
        return -1;
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) {
        memset(&tm, 0, sizeof(tm));
        p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    }
    if (!p)
        return -1;
    if (*p == '.') {
        int digits = 0;
        p++;
        while (isdigit((unsigned char) *p)) {
            if (digits < 6) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
            p++;
        }
        while (digits++ < 6)
            frac *= 10;
    }
    if (*p == 'Z')
        p++;
    else if (!strcmp(p, "+00:00"))
        p += 6;
    if (*p)
        return -1;
    *us = (int64_t) timegm(&tm) * 1000000 + frac;
    return 0;
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64_encode(const char *alpha, bool pad, const void *data, size_t len,
                       struct st_buf *out)
{
    const unsigned char *p = data;
    st_buf_grow(out, (len + 2) / 3 * 4);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t) p[i] << 16;
        size_t n = len - i;
        if (n > 1)
            v |= (uint32_t) p[i + 1] << 8;
        if (n > 2)
            v |= p[i + 2];
        st_buf_addch(out, alpha[(v >> 18) & 63]);
        st_buf_addch(out, alpha[(v >> 12) & 63]);
        if (n > 1)
            st_buf_addch(out, alpha[(v >> 6) & 63]);
        else if (pad)
            st_buf_addch(out, '=');
        if (n > 2)
            st_buf_addch(out, alpha[v & 63]);
        else if (pad)
            st_buf_addch(out, '=');
    }
}

static int b64_decode(const char *alpha, const char *s, size_t slen, struct st_buf *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t i;

    for (i = 0; i < slen; i++) {
        const char *q;
        if (s[i] == '=')
            break;
        if (s[i] == '\n' || s[i] == '\r')
            continue;
        q = s[i] ? strchr(alpha, s[i]) : NULL;
        if (!q)
            return -1;
        acc = (acc << 6) | (uint32_t) (q - alpha);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            st_buf_addch(out, (char) ((acc >> bits) & 0xff));
        }
    }
    for (; i < slen; i++)
        if (s[i] != '=' && s[i] != '\n' && s[i] != '\r')
            return -1;
    /* Leftover bits must be zero padding of fewer than one byte. */
    if (bits >= 6 || (acc & ((1u << bits) - 1)))
        return -1;
    return 0;
}

void st_base64url_encode(const void *data, size_t len, struct st_buf *out)
{
    b64_encode(b64url, false, data, len, out);
}

int st_base64url_decode(const char *s, size_t slen, struct st_buf *out)
{
    return b64_decode(b64url, s, slen, out);
}

void st_base64_encode(const void *data, size_t len, struct st_buf *out)
{
    b64_encode(b64std, true, data, len, out);
}

int st_base64_decode(const char *s, size_t slen, struct st_buf *out)
{
    return b64_decode(b64std, s, slen, out);
}

void st_hex_encode(const void *data, size_t len, struct st_buf *out)
{
    const unsigned char *p = data;
    static const char hex[] = "0123456789abcdef";
    st_buf_grow(out, len * 2);
    for (size_t i = 0; i < len; i++) {
        st_buf_addch(out, hex[p[i] >> 4]);
        st_buf_addch(out, hex[p[i] & 15]);
    }
}

size_t st_utf8_len(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char) s[i] & 0xc0) != 0x80)
            chars++;
    return chars;
}

void st_utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *) s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
                                : (*p & 0xf8) == 0xf0 ? 4 : 0;
        int ok = len > 0;
        for (int i = 1; ok && i < len; i++)
            ok = (p[i] & 0xc0) == 0x80;
        /* Overlong and surrogate forms are not valid either. */
        if (ok && len == 2 && *p < 0xc2)
            ok = 0;
        if (ok && len == 3 && ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] >= 0xa0)))
            ok = 0;
        if (ok && len == 4 && ((*p == 0xf0 && p[1] < 0x90) || *p > 0xf4 ||
                               (*p == 0xf4 && p[1] >= 0x90)))
            ok = 0;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += len;
    }
}

void st_url_escape(const char *s, struct st_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            st_buf_addch(out, (char) c);
        } else {
            st_buf_addch(out, '%');
            st_buf_addch(out, hex[c >> 4]);
            st_buf_addch(out, hex[c & 15]);
        }
    }
}

int st_read_file(const char *path, size_t max, struct st_buf *out, struct st_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st_err_sys(err, errno, errno == ENOENT ? ST_ERR_NOT_FOUND : ST_ERR_INTERNAL,
                   "cannot open '%s'", path);
        return -1;
    }
    for (;;) {
        ssize_t n;
        st_buf_grow(out, 4096);
        n = read(fd, out->buf + out->len, out->alloc - out->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot read '%s'", path);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        out->len += (size_t) n;
        out->buf[out->len] = '\0';
        if (out->len > max) {
            st_err_set(err, ST_ERR_TOO_LARGE, "file '%s' is larger than %zu bytes", path, max);
            close(fd);
            return -1;
        }
    }
    close(fd);
    return 0;
}

int st_write_file(const char *path, const void *data, size_t len, unsigned mode,
                  struct st_err *err)
{
    struct st_buf tmp = ST_BUF_INIT;
    const char *p = data;
    int fd, rc = -1;

    st_buf_addf(&tmp, "%s.tmp.XXXXXX", path);
    fd = mkostemp(tmp.buf, O_CLOEXEC);
    if (fd < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create a temporary file for '%s'", path);
        goto out;
    }
    if (fchmod(fd, mode) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot set the mode of '%s'", tmp.buf);
        goto fail;
    }
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot write '%s'", tmp.buf);
            goto fail;
        }
        p += n;
        len -= (size_t) n;
    }
    if (fsync(fd) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot sync '%s'", tmp.buf);
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot close '%s'", tmp.buf);
        goto fail;
    }
    fd = -1;
    if (rename(tmp.buf, path) < 0) {
        st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot rename '%s' to '%s'", tmp.buf, path);
        goto fail;
    }
    rc = 0;
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp.buf);
out:
    st_buf_release(&tmp);
    return rc;
}

int st_mkdir_p(const char *path, unsigned mode, struct st_err *err)
{
    char *p;
    int rc = 0;
    if (!path || !*path) {
        st_err_sys(err, ENOENT, ST_ERR_BAD_REQUEST, "cannot create a directory with no name");
        return -1;
    }
    p = st_xstrdup(path);
    for (char *s = p + 1;; s++) {
        char c = *s;
        struct stat st;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 &&
            (errno != EEXIST || (stat(p, &st) == 0 && !S_ISDIR(st.st_mode) && (errno = ENOTDIR)))) {
            if (c)
                st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create directory '%s' (at '%s')",
                           path, p);
            else
                st_err_sys(err, errno, ST_ERR_INTERNAL, "cannot create directory '%s'", path);
            rc = -1;
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}

int st_parse_listen(const char *listen, struct sockaddr_storage *ss, struct st_err *err)
{
    char host[128];
    const char *colon;
    uint32_t port;
    memset(ss, 0, sizeof(*ss));
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':' || (size_t) (end - listen - 1) >= sizeof(host))
            goto bad;
        memcpy(host, listen + 1, (size_t) (end - listen - 1));
        host[end - listen - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || (size_t) (colon - listen) >= sizeof(host))
            goto bad;
        memcpy(host, listen, (size_t) (colon - listen));
        host[colon - listen] = '\0';
    }
    if (st_parse_u32(colon + 1, 0, 65535, &port) < 0)
        goto bad;
    struct sockaddr_in *in4 = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t) port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t) port);
        return 0;
    }
bad:
    st_err_set(err, ST_ERR_BAD_REQUEST,
               "invalid listen address '%s': expected ADDR:PORT or [ADDR]:PORT", listen);
    return -1;
}

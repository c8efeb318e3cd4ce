/* buf.c - st_buf growable buffer and the aborting allocators. */
#include "common/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/banned.h"

char st_buf_empty[1];

static void die_oom(void)
{
    static const char msg[] = "stratus: out of memory\n";
    (void) !write(2, msg, sizeof(msg) - 1);
    abort();
}

void *st_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die_oom();
    return p;
}

void *st_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die_oom();
    return p;
}

void *st_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die_oom();
    return q;
}

char *st_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        die_oom();
    return p;
}

char *st_xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p)
        die_oom();
    return p;
}

char *st_xasprintf(const char *fmt, ...)
{
    struct st_buf b = ST_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    st_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    return st_buf_detach(&b, NULL);
}

void st_buf_init(struct st_buf *b, size_t hint)
{
    b->buf = st_buf_empty;
    b->len = 0;
    b->alloc = 0;
    if (hint)
        st_buf_grow(b, hint);
}

void st_buf_release(struct st_buf *b)
{
    if (b->alloc)
        free(b->buf);
    st_buf_init(b, 0);
}

void st_buf_reset(struct st_buf *b)
{
    b->len = 0;
    b->buf[0] = '\0';
    if (!b->alloc)
        b->buf = st_buf_empty;
}

void st_buf_grow(struct st_buf *b, size_t extra)
{
    size_t need;
    if (extra > SIZE_MAX / 2 - b->len)
        die_oom();
    need = b->len + extra + 1;
    if (need <= b->alloc)
        return;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n = n * 3 / 2 + 16;
    if (b->alloc) {
        b->buf = st_xrealloc(b->buf, n);
    } else {
        b->buf = st_xmalloc(n);
        b->buf[0] = '\0';
    }
    b->alloc = n;
}

void st_buf_add(struct st_buf *b, const void *data, size_t len)
{
    if (!len)
        return;
    st_buf_grow(b, len);
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->buf[b->len] = '\0';
}

void st_buf_adds(struct st_buf *b, const char *s)
{
    st_buf_add(b, s, strlen(s));
}

void st_buf_addch(struct st_buf *b, char c)
{
    st_buf_grow(b, 1);
    b->buf[b->len++] = c;
    b->buf[b->len] = '\0';
}

void st_buf_vaddf(struct st_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    st_buf_grow(b, 64);
    va_copy(cp, ap);
    n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, cp);
    va_end(cp);
    if (n < 0) {
        b->buf[b->len] = '\0';
        return;
    }
    if ((size_t) n >= b->alloc - b->len) {
        st_buf_grow(b, (size_t) n);
        n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, ap);
    }
    b->len += (size_t) n;
}

void st_buf_addf(struct st_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void st_buf_truncate(struct st_buf *b, size_t len)
{
    if (len > b->len)
        return;
    b->len = len;
    if (b->alloc)
        b->buf[len] = '\0';
}

char *st_buf_detach(struct st_buf *b, size_t *len)
{
    char *s;
    if (len)
        *len = b->len;
    if (!b->alloc) {
        s = st_xmalloc(1);
        s[0] = '\0';
    } else {
        s = b->buf;
    }
    st_buf_init(b, 0);
    return s;
}

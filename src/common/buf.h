/*
 * buf.h - st_buf, the growable string buffer (after git's strbuf, OVS's ds).
 *
 * Invariants: 'buf' is never NULL and always NUL-terminated; 'len' bytes are
 * used; 'alloc' is 0 while 'buf' points at the shared empty string.  A buffer
 * starts from ST_BUF_INIT, grows as text is added, and gives its memory away
 * only through st_buf_detach().  Allocation failure aborts (as in git's
 * xmalloc): a daemon that cannot allocate a few bytes cannot report it either.
 * Binary data may be held; 'len' counts it, the trailing NUL is extra.
 */
#ifndef ST_BUF_H
#define ST_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct st_buf {
    char *buf;    /* never NULL, NUL-terminated */
    size_t len;   /* bytes in use, not counting the NUL */
    size_t alloc; /* bytes allocated, 0 when 'buf' is the empty string */
};

extern char st_buf_empty[];
#define ST_BUF_INIT {st_buf_empty, 0, 0}

void st_buf_init(struct st_buf *b, size_t hint);
/* Frees the memory and returns 'b' to ST_BUF_INIT. */
void st_buf_release(struct st_buf *b);
/* Empties 'b', keeping its memory. */
void st_buf_reset(struct st_buf *b);
/* Makes room for 'extra' more bytes. */
void st_buf_grow(struct st_buf *b, size_t extra);
void st_buf_add(struct st_buf *b, const void *data, size_t len);
void st_buf_adds(struct st_buf *b, const char *s);
void st_buf_addch(struct st_buf *b, char c);
void st_buf_addf(struct st_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void st_buf_vaddf(struct st_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Shortens 'b' to 'len' bytes (len <= b->len). */
void st_buf_truncate(struct st_buf *b, size_t len);
/* Returns the string, which the caller now owns (free()), and resets 'b'.
 * Never returns NULL. */
char *st_buf_detach(struct st_buf *b, size_t *len);

/* Aborting allocators used across stratus. */
void *st_xmalloc(size_t n);
void *st_xcalloc(size_t n, size_t size);
void *st_xrealloc(void *p, size_t n);
char *st_xstrdup(const char *s);
char *st_xstrndup(const char *s, size_t n);
char *st_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

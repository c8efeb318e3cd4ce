/* test-buf.c - st_buf: growth, ownership, truncation and the invariants of
 * buf.h ('buf' never NULL, always NUL-terminated, 'alloc' 0 only while it
 * points at the shared empty string). */
#include "testutil.h"

#include "common/buf.h"
#include "common/banned.h"

/* The invariants of buf.h, checked after every operation. */
static void check_invariants(const struct st_buf *b)
{
    assert_non_null(b->buf);
    assert_int_equal(b->buf[b->len], '\0');
    if (b->alloc == 0) {
        assert_ptr_equal(b->buf, st_buf_empty);
        assert_int_equal(b->len, 0);
    } else {
        assert_true(b->len < b->alloc);
        assert_ptr_not_equal(b->buf, st_buf_empty);
    }
    assert_int_equal(st_buf_empty[0], '\0');
}

static void t01_buf_init_is_empty(void **state)
{
    struct st_buf a = ST_BUF_INIT, b;
    (void) state;
    check_invariants(&a);
    assert_string_equal(a.buf, "");
    assert_int_equal(a.alloc, 0);

    st_buf_init(&b, 0);
    check_invariants(&b);
    assert_int_equal(b.alloc, 0);

    st_buf_init(&b, 100);
    check_invariants(&b);
    assert_true(b.alloc >= 101);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.buf, "");
    st_buf_release(&b);
    check_invariants(&b);
    assert_int_equal(b.alloc, 0);
}

static void t02_buf_addch_grows(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    (void) state;
    for (int i = 0; i < 10000; i++) {
        st_buf_addch(&b, (char) ('a' + i % 26));
        assert_int_equal(b.len, (size_t) i + 1);
        assert_int_equal(b.buf[b.len], '\0');
    }
    check_invariants(&b);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b.buf[i], 'a' + i % 26);
    st_buf_release(&b);
}

static void t03_buf_add_binary(void **state)
{
    static const char data[] = {'a', '\0', 'b', '\0', 'c'};
    struct st_buf b = ST_BUF_INIT;
    (void) state;
    st_buf_add(&b, data, sizeof(data));
    check_invariants(&b);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.buf, data, 5);
    st_buf_add(&b, data, sizeof(data));
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.buf + 5, data, 5);
    check_invariants(&b);
    st_buf_release(&b);
}

static void t04_buf_add_nothing_stays_unallocated(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    (void) state;
    st_buf_add(&b, "x", 0);
    st_buf_adds(&b, "");
    check_invariants(&b);
    assert_int_equal(b.alloc, 0);
    assert_ptr_equal(b.buf, st_buf_empty);
}

static void t05_buf_addf_grows(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    char expect[4096];
    (void) state;
    /* Every length around the first 64-byte allocation and beyond. */
    for (int n = 0; n < 300; n++) {
        st_buf_reset(&b);
        st_buf_addf(&b, "%0*d|%s", n, 7, "end");
        snprintf(expect, sizeof(expect), "%0*d|%s", n, 7, "end");
        assert_string_equal(b.buf, expect);
        assert_int_equal(b.len, strlen(expect));
        check_invariants(&b);
    }
    st_buf_release(&b);

    /* Appending, not overwriting; a long string in one go. */
    st_buf_adds(&b, "head:");
    st_buf_addf(&b, "%s", "");
    assert_string_equal(b.buf, "head:");
    st_buf_addf(&b, "%d-%s-%c", 42, "x", 'y');
    assert_string_equal(b.buf, "head:42-x-y");
    memset(expect, 'z', 3000);
    expect[3000] = '\0';
    st_buf_addf(&b, "[%s]", expect);
    assert_int_equal(b.len, strlen("head:42-x-y") + 3002);
    assert_int_equal(b.buf[11], '[');
    assert_int_equal(b.buf[b.len - 1], ']');
    check_invariants(&b);
    st_buf_release(&b);
}

static void t06_buf_detach_gives_ownership(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    char *p, *inner;
    size_t len = 99;
    (void) state;

    st_buf_adds(&b, "hello world");
    inner = b.buf;
    p = st_buf_detach(&b, &len);
    /* The very memory of the buffer, now the caller's. */
    assert_ptr_equal(p, inner);
    assert_string_equal(p, "hello world");
    assert_int_equal(len, 11);
    check_invariants(&b);
    assert_int_equal(b.alloc, 0);
    assert_int_equal(b.len, 0);
    /* The buffer is reusable and does not share memory with 'p'. */
    st_buf_adds(&b, "again");
    assert_string_equal(p, "hello world");
    assert_string_equal(b.buf, "again");
    free(p);
    st_buf_release(&b);

    /* An empty buffer still gives a string that may be freed. */
    p = st_buf_detach(&b, &len);
    assert_non_null(p);
    assert_ptr_not_equal(p, st_buf_empty);
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);
    p = st_buf_detach(&b, NULL);
    assert_non_null(p);
    free(p);
    check_invariants(&b);
}

static void t07_buf_truncate(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    (void) state;
    st_buf_adds(&b, "abcdef");
    st_buf_truncate(&b, 3);
    assert_string_equal(b.buf, "abc");
    assert_int_equal(b.len, 3);
    check_invariants(&b);
    /* Longer than the content: no change. */
    st_buf_truncate(&b, 10);
    assert_string_equal(b.buf, "abc");
    assert_int_equal(b.len, 3);
    st_buf_truncate(&b, 0);
    assert_string_equal(b.buf, "");
    check_invariants(&b);
    st_buf_adds(&b, "xy");
    assert_string_equal(b.buf, "xy");
    st_buf_release(&b);

    /* Truncating an empty buffer never writes to the shared empty string. */
    st_buf_truncate(&b, 0);
    check_invariants(&b);
}

static void t08_buf_reset_keeps_memory(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    size_t alloc;
    (void) state;
    st_buf_adds(&b, "some text that is long enough");
    alloc = b.alloc;
    st_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.alloc, alloc);
    assert_string_equal(b.buf, "");
    check_invariants(&b);
    st_buf_release(&b);

    st_buf_reset(&b); /* on the empty string */
    check_invariants(&b);
    assert_int_equal(b.alloc, 0);
}

static void t09_buf_release_is_idempotent(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    (void) state;
    st_buf_release(&b);
    check_invariants(&b);
    st_buf_addf(&b, "%d", 12345);
    st_buf_release(&b);
    check_invariants(&b);
    st_buf_release(&b);
    check_invariants(&b);
    assert_int_equal(b.alloc, 0);
}

static void t10_buf_grow_reserves(void **state)
{
    struct st_buf b = ST_BUF_INIT;
    char *before;
    (void) state;
    st_buf_grow(&b, 1000);
    assert_true(b.alloc >= 1001);
    assert_int_equal(b.len, 0);
    check_invariants(&b);
    before = b.buf;
    /* Reserved room is used without moving the memory. */
    for (int i = 0; i < 1000; i++)
        st_buf_addch(&b, 'q');
    assert_ptr_equal(b.buf, before);
    check_invariants(&b);
    st_buf_release(&b);
}

static void t11_xalloc_helpers(void **state)
{
    char *s;
    (void) state;
    s = st_xasprintf("%s=%d", "n", 5);
    assert_string_equal(s, "n=5");
    free(s);
    s = st_xstrndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = st_xstrdup("");
    assert_string_equal(s, "");
    free(s);
    s = st_xmalloc(0); /* a zero-size request still gives memory */
    assert_non_null(s);
    free(s);
    s = st_xcalloc(0, 0);
    assert_non_null(s);
    free(s);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_buf_init_is_empty),
        cmocka_unit_test(t02_buf_addch_grows),
        cmocka_unit_test(t03_buf_add_binary),
        cmocka_unit_test(t04_buf_add_nothing_stays_unallocated),
        cmocka_unit_test(t05_buf_addf_grows),
        cmocka_unit_test(t06_buf_detach_gives_ownership),
        cmocka_unit_test(t07_buf_truncate),
        cmocka_unit_test(t08_buf_reset_keeps_memory),
        cmocka_unit_test(t09_buf_release_is_idempotent),
        cmocka_unit_test(t10_buf_grow_reserves),
        cmocka_unit_test(t11_xalloc_helpers),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("buf", tests, known_bugs);
}

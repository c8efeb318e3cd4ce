/* test-ws.c - the WebSocket codec (api/ws.c) against the examples of RFC
 * 6455 (§1.3 handshake, §5.7 frames) and the rules a server enforces. */
#include "testutil.h"

#include "api/ws.h"
#include "common/util.h"
#include "common/banned.h"

static struct ws_parser server(void)
{
    struct ws_parser p = {true, 1u << 20, 0};
    return p;
}

static struct ws_parser client(void)
{
    struct ws_parser p = {false, 1u << 20, 0};
    return p;
}

/* Parses 'n' bytes of 'in' (a copy: parsing unmasks in place). */
static long parse(struct ws_parser *p, const unsigned char *in, size_t n, struct ws_frame *f,
                  unsigned char *copy, int *code)
{
    const char *reason = NULL;
    memcpy(copy, in, n);
    *code = 0;
    return ws_parse(p, copy, n, f, code, &reason);
}

static void t01_accept_key_rfc_example(void **state)
{
    char out[WS_ACCEPT_LEN];
    (void) state;
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(ws_accept_key("short", out), -1);
    assert_int_equal(ws_accept_key(NULL, out), -1);
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=!", out), -1);
}

static void t02_unmasked_text_hello(void **state)
{
    static const unsigned char in[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    struct ws_parser p = client();
    struct st_buf b = ST_BUF_INIT;
    unsigned char copy[64];
    struct ws_frame f;
    int code;
    (void) state;
    assert_int_equal(parse(&p, in, sizeof(in), &f, copy, &code), sizeof(in));
    assert_true(f.fin);
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "Hello", 5);
    ws_encode(&b, true, WS_OP_TEXT, "Hello", 5, NULL);
    assert_int_equal(b.len, sizeof(in));
    assert_memory_equal(b.buf, in, sizeof(in));
    st_buf_release(&b);
    /* A server refuses it: client frames must be masked. */
    p = server();
    assert_int_equal(parse(&p, in, sizeof(in), &f, copy, &code), -1);
    assert_int_equal(code, WS_CLOSE_PROTOCOL);
}

static void t03_masked_text_hello(void **state)
{
    static const unsigned char in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                       0x9f, 0x4d, 0x51, 0x58};
    static const unsigned char mask[] = {0x37, 0xfa, 0x21, 0x3d};
    struct ws_parser p = server();
    struct st_buf b = ST_BUF_INIT;
    unsigned char copy[64];
    struct ws_frame f;
    int code;
    (void) state;
    assert_int_equal(parse(&p, in, sizeof(in), &f, copy, &code), sizeof(in));
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_memory_equal(f.payload, "Hello", 5);
    ws_encode(&b, true, WS_OP_TEXT, "Hello", 5, mask);
    assert_memory_equal(b.buf, in, sizeof(in));
    st_buf_release(&b);
}

static void t04_fragmented_with_ping_between(void **state)
{
    /* "Hel" + ping + "lo" (§5.4: control frames may be injected). */
    static const unsigned char in[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x89, 0x00,
                                       0x80, 0x02, 0x6c, 0x6f};
    struct ws_parser p = client();
    unsigned char copy[64];
    struct ws_frame f;
    long n;
    int code;
    (void) state;
    n = parse(&p, in, sizeof(in), &f, copy, &code);
    assert_int_equal(n, 5);
    assert_false(f.fin);
    assert_int_equal(f.msg_opcode, WS_OP_TEXT);
    assert_memory_equal(f.payload, "Hel", 3);
    n = parse(&p, in + 5, sizeof(in) - 5, &f, copy, &code);
    assert_int_equal(n, 2);
    assert_int_equal(f.opcode, WS_OP_PING);
    n = parse(&p, in + 7, sizeof(in) - 7, &f, copy, &code);
    assert_int_equal(n, 4);
    assert_true(f.fin);
    assert_int_equal(f.opcode, WS_OP_CONT);
    assert_int_equal(f.msg_opcode, WS_OP_TEXT);
    assert_memory_equal(f.payload, "lo", 2);
    /* The message is over: another continuation is an error. */
    assert_int_equal(parse(&p, in + 7, 4, &f, copy, &code), -1);
    assert_int_equal(code, WS_CLOSE_PROTOCOL);
}

static void t05_ping_pong_examples(void **state)
{
    static const unsigned char ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const unsigned char pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                         0x9f, 0x4d, 0x51, 0x58};
    struct ws_parser p = client();
    unsigned char copy[64];
    struct ws_frame f;
    int code;
    (void) state;
    assert_int_equal(parse(&p, ping, sizeof(ping), &f, copy, &code), sizeof(ping));
    assert_int_equal(f.opcode, WS_OP_PING);
    assert_memory_equal(f.payload, "Hello", 5);
    p = server();
    assert_int_equal(parse(&p, pong, sizeof(pong), &f, copy, &code), sizeof(pong));
    assert_int_equal(f.opcode, WS_OP_PONG);
    assert_memory_equal(f.payload, "Hello", 5);
}

static void t06_lengths_16_and_64_bit(void **state)
{
    struct ws_parser p = client();
    struct st_buf b = ST_BUF_INIT;
    unsigned char *data = calloc(1, 70000), *copy = malloc(70100);
    struct ws_frame f;
    int code;
    (void) state;
    ws_encode(&b, true, WS_OP_BINARY, data, 256, NULL);
    assert_int_equal(b.len, 4 + 256);
    assert_int_equal((unsigned char) b.buf[0], 0x82);
    assert_int_equal((unsigned char) b.buf[1], 0x7e);
    assert_int_equal((unsigned char) b.buf[2], 0x01);
    assert_int_equal((unsigned char) b.buf[3], 0x00);
    assert_int_equal(parse(&p, (unsigned char *) b.buf, b.len, &f, copy, &code), 260);
    assert_int_equal(f.len, 256);
    st_buf_reset(&b);
    ws_encode(&b, true, WS_OP_BINARY, data, 65536, NULL);
    assert_int_equal(b.len, 10 + 65536);
    assert_int_equal((unsigned char) b.buf[1], 0x7f);
    assert_memory_equal(b.buf + 2, "\x00\x00\x00\x00\x00\x01\x00\x00", 8);
    assert_int_equal(parse(&p, (unsigned char *) b.buf, b.len, &f, copy, &code), 10 + 65536);
    assert_int_equal(f.len, 65536);
    /* Every prefix is incomplete, never an error. */
    for (size_t n = 0; n < b.len; n += n < 16 ? 1 : 4099)
        assert_int_equal(parse(&p, (unsigned char *) b.buf, n, &f, copy, &code), 0);
    st_buf_release(&b);
    free(data);
    free(copy);
}

static void t07_protocol_errors(void **state)
{
    static const struct {
        unsigned char in[12];
        size_t n;
        int code;
    } bad[] = {
        {{0xc1, 0x80, 0, 0, 0, 0}, 6, WS_CLOSE_PROTOCOL},           /* RSV1 */
        {{0x83, 0x80, 0, 0, 0, 0}, 6, WS_CLOSE_PROTOCOL},           /* opcode 3 */
        {{0x09, 0x80, 0, 0, 0, 0}, 6, WS_CLOSE_PROTOCOL},           /* fragmented ping */
        {{0x89, 0xfe, 0x00, 0x7e}, 4, WS_CLOSE_PROTOCOL},           /* long ping */
        {{0x80, 0x80, 0, 0, 0, 0}, 6, WS_CLOSE_PROTOCOL},           /* lone continuation */
        {{0x82, 0xfe, 0x00, 0x05}, 4, WS_CLOSE_PROTOCOL},           /* non-minimal 16 */
        {{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 10, WS_CLOSE_PROTOCOL}, /* non-minimal 64 */
        {{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10, WS_CLOSE_PROTOCOL},    /* top bit */
        {{0x82, 0xff, 0, 0, 0, 0, 0x10, 0, 0, 0}, 10, WS_CLOSE_TOO_BIG},     /* 256 MiB */
    };
    unsigned char copy[64];
    struct ws_frame f;
    int code;
    (void) state;
    for (size_t i = 0; i < ST_ARRAY_SIZE(bad); i++) {
        struct ws_parser p = server();
        assert_int_equal(parse(&p, bad[i].in, bad[i].n, &f, copy, &code), -1);
        assert_int_equal(code, bad[i].code);
    }
    {
        /* A new data message inside a fragmented one. */
        static const unsigned char two[] = {0x01, 0x80, 0, 0, 0, 0, 0x81, 0x80, 0, 0, 0, 0};
        struct ws_parser p = server();
        assert_int_equal(parse(&p, two, 6, &f, copy, &code), 6);
        assert_int_equal(parse(&p, two + 6, 6, &f, copy, &code), -1);
        assert_int_equal(code, WS_CLOSE_PROTOCOL);
    }
}

static void t08_close_frames(void **state)
{
    struct ws_parser p = client();
    struct st_buf b = ST_BUF_INIT;
    unsigned char copy[256];
    struct ws_frame f;
    char longer[300];
    int code, cc;
    (void) state;
    ws_encode_close(&b, WS_CLOSE_POLICY, "server is not running");
    assert_int_equal(parse(&p, (unsigned char *) b.buf, b.len, &f, copy, &code), b.len);
    assert_int_equal(f.opcode, WS_OP_CLOSE);
    assert_int_equal(ws_close_parse(f.payload, f.len, &cc), 0);
    assert_int_equal(cc, 1008);
    assert_memory_equal(f.payload + 2, "server is not running", f.len - 2);
    /* A long reason is cut so the frame stays a control frame. */
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    st_buf_reset(&b);
    ws_encode_close(&b, 1000, longer);
    assert_int_equal(b.len, 2 + 125);
    assert_int_equal(parse(&p, (unsigned char *) b.buf, b.len, &f, copy, &code), b.len);
    st_buf_release(&b);
    assert_int_equal(ws_close_parse((const unsigned char *) "", 0, &cc), 0);
    assert_int_equal(cc, 1005);
    assert_int_equal(ws_close_parse((const unsigned char *) "\x03", 1, &cc), -1);
    assert_int_equal(ws_close_parse((const unsigned char *) "\x03\xed", 2, &cc), -1); /* 1005 */
    assert_int_equal(ws_close_parse((const unsigned char *) "\x0f\xa0", 2, &cc), 0);  /* 4000 */
}

static void t09_header_tokens(void **state)
{
    (void) state;
    assert_true(ws_header_has("keep-alive, Upgrade", "upgrade"));
    assert_true(ws_header_has("Upgrade", "upgrade"));
    assert_true(ws_header_has("binary ,base64", "base64"));
    assert_false(ws_header_has("keep-alive", "upgrade"));
    assert_false(ws_header_has("upgraded", "upgrade"));
    assert_false(ws_header_has(NULL, "upgrade"));
    assert_false(ws_header_has("", "binary"));
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_accept_key_rfc_example),
        cmocka_unit_test(t02_unmasked_text_hello),
        cmocka_unit_test(t03_masked_text_hello),
        cmocka_unit_test(t04_fragmented_with_ping_between),
        cmocka_unit_test(t05_ping_pong_examples),
        cmocka_unit_test(t06_lengths_16_and_64_bit),
        cmocka_unit_test(t07_protocol_errors),
        cmocka_unit_test(t08_close_frames),
        cmocka_unit_test(t09_header_tokens),
    };
    static const struct tu_known_bug known_bugs[] = {};
    return TU_RUN("ws", tests, known_bugs);
}

/*
 * ws.c - the WebSocket frame codec and handshake key of RFC 6455, used by
 * the console proxy (api/consoles.c).  Written to the RFC's §5.2 layout:
 *
 *   FIN RSV1-3 opcode(4) | MASK len(7) [len16 | len64] [mask(4)] payload
 */
#include "api/ws.h"

#include <ctype.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "common/banned.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN])
{
    struct st_buf raw = ST_BUF_INIT, enc = ST_BUF_INIT;
    unsigned char md[SHA_DIGEST_LENGTH];
    char cat[24 + sizeof(ws_guid)];
    size_t klen = key ? strlen(key) : 0;
    int rc = -1;

    /* The key is base64 of 16 random bytes: 24 characters. */
    if (klen != 24 || st_base64_decode(key, klen, &raw) < 0 || raw.len != 16)
        goto out;
    memcpy(cat, key, klen);
    memcpy(cat + klen, ws_guid, sizeof(ws_guid) - 1);
    SHA1((const unsigned char *) cat, klen + sizeof(ws_guid) - 1, md);
    st_base64_encode(md, sizeof(md), &enc);
    if (enc.len + 1 != WS_ACCEPT_LEN)
        goto out;
    memcpy(out, enc.buf, WS_ACCEPT_LEN);
    rc = 0;
out:
    st_buf_release(&raw);
    st_buf_release(&enc);
    return rc;
}

static long fail(int *close_code, const char **reason, int code, const char *why)
{
    *close_code = code;
    *reason = why;
    return -1;
}

long ws_parse(struct ws_parser *p, unsigned char *buf, size_t n, struct ws_frame *f,
              int *close_code, const char **reason)
{
    size_t hdr = 2;
    uint64_t len;
    bool masked;
    int op;

    if (n < 2)
        return 0;
    if (buf[0] & 0x70)
        return fail(close_code, reason, WS_CLOSE_PROTOCOL, "reserved bits set");
    op = buf[0] & 0x0f;
    f->fin = (buf[0] & 0x80) != 0;
    f->opcode = op;
    masked = (buf[1] & 0x80) != 0;
    len = buf[1] & 0x7f;
    if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY && op != WS_OP_CLOSE &&
        op != WS_OP_PING && op != WS_OP_PONG)
        return fail(close_code, reason, WS_CLOSE_PROTOCOL, "unknown opcode");
    if (op >= WS_OP_CLOSE && (!f->fin || len > 125))
        return fail(close_code, reason, WS_CLOSE_PROTOCOL, "fragmented or long control frame");
    if (p->require_mask && !masked)
        return fail(close_code, reason, WS_CLOSE_PROTOCOL, "client frame not masked");
    if (len == 126) {
        if (n < 4)
            return 0;
        len = ((uint64_t) buf[2] << 8) | buf[3];
        if (len < 126)
            return fail(close_code, reason, WS_CLOSE_PROTOCOL, "length not minimal");
        hdr = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        if (buf[2] & 0x80)
            return fail(close_code, reason, WS_CLOSE_PROTOCOL, "length has its top bit set");
        len = 0;
        for (int i = 2; i < 10; i++)
            len = (len << 8) | buf[i];
        if (len <= 0xffff)
            return fail(close_code, reason, WS_CLOSE_PROTOCOL, "length not minimal");
        hdr = 10;
    }
    if (len > p->max_payload)
        return fail(close_code, reason, WS_CLOSE_TOO_BIG, "frame too big");
    /* Fragmentation rules (§5.4) before we wait for the payload. */
    if (op == WS_OP_CONT && !p->msg_opcode)
        return fail(close_code, reason, WS_CLOSE_PROTOCOL, "continuation of no message");
    if ((op == WS_OP_TEXT || op == WS_OP_BINARY) && p->msg_opcode)
        return fail(close_code, reason, WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
    if (masked)
        hdr += 4;
    if (n < hdr || n - hdr < len)
        return 0;
    f->payload = buf + hdr;
    f->len = (size_t) len;
    if (masked) {
        const unsigned char *m = buf + hdr - 4;
        for (size_t i = 0; i < f->len; i++)
            f->payload[i] ^= m[i & 3];
    }
    if (op == WS_OP_CONT) {
        f->msg_opcode = p->msg_opcode;
        if (f->fin)
            p->msg_opcode = 0;
    } else {
        f->msg_opcode = op;
        if ((op == WS_OP_TEXT || op == WS_OP_BINARY) && !f->fin)
            p->msg_opcode = op;
    }
    return (long) (hdr + f->len);
}

void ws_encode(struct st_buf *out, bool fin, int opcode, const void *payload, size_t len,
               const unsigned char *mask)
{
    unsigned char h[14];
    size_t hl = 2;

    h[0] = (unsigned char) ((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (len < 126) {
        h[1] = (unsigned char) len;
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char) (len >> 8);
        h[3] = (unsigned char) len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char) ((uint64_t) len >> (56 - 8 * i));
        hl = 10;
    }
    if (mask) {
        h[1] |= 0x80;
        memcpy(h + hl, mask, 4);
        hl += 4;
    }
    st_buf_add(out, h, hl);
    if (!mask) {
        st_buf_add(out, payload, len);
        return;
    }
    st_buf_grow(out, len);
    for (size_t i = 0; i < len; i++)
        out->buf[out->len + i] = (char) (((const unsigned char *) payload)[i] ^ mask[i & 3]);
    out->len += len;
    out->buf[out->len] = '\0';
}

void ws_encode_close(struct st_buf *out, int code, const char *reason)
{
    unsigned char p[125];
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > sizeof(p) - 2)
        rl = sizeof(p) - 2;
    p[0] = (unsigned char) (code >> 8);
    p[1] = (unsigned char) code;
    if (rl)
        memcpy(p + 2, reason, rl);
    ws_encode(out, true, WS_OP_CLOSE, p, rl + 2, NULL);
}

int ws_close_parse(const unsigned char *payload, size_t len, int *code)
{
    int c;
    if (len == 0) {
        *code = 1005;
        return 0;
    }
    if (len == 1)
        return -1;
    c = (payload[0] << 8) | payload[1];
    /* §7.4.1/7.4.2: 1004-1006 and 1015 are never sent; below 1000 and
     * 1016-2999 are unassigned. */
    if (c < 1000 || c == 1004 || c == 1005 || c == 1006 || (c >= 1015 && c < 3000) || c > 4999)
        return -1;
    *code = c;
    return 0;
}

bool ws_header_has(const char *list, const char *token)
{
    size_t tl = strlen(token);
    const char *s = list;
    if (!s)
        return false;
    while (*s) {
        const char *e;
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        e = s;
        while (*e && *e != ',')
            e++;
        {
            const char *t = e;
            while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
                t--;
            if ((size_t) (t - s) == tl && !strncasecmp(s, token, tl))
                return true;
        }
        s = e;
    }
    return false;
}

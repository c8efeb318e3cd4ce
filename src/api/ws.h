/*
 * ws.h - the WebSocket protocol (RFC 6455) as the console proxy needs it:
 * the opening handshake's accept key, an incremental frame parser that
 * unmasks in place and checks the rules a server must enforce, and a frame
 * encoder.  No I/O: the proxy (api/consoles.c) owns the sockets.
 *
 * The parser hands out frames, not messages: a fragmented message comes as
 * its fragments, each tagged with the opcode of the message it belongs to,
 * so a byte-stream relay can pass each one on at once.  Control frames may
 * come between fragments (RFC 6455 §5.4) and are handed out as they come.
 */
#ifndef ST_API_WS_H
#define ST_API_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

/* Close codes (RFC 6455 §7.4.1) the proxy sends. */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
};

/* Length of a Sec-WebSocket-Accept value with its NUL. */
#define WS_ACCEPT_LEN 29

/* Sec-WebSocket-Accept for the client's Sec-WebSocket-Key 'key':
 * base64(SHA-1(key + the RFC's GUID)).  Returns -1 when 'key' is not the
 * base64 of 16 bytes (the handshake must then fail with 400). */
int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN]) __attribute__((warn_unused_result));

struct ws_parser {
    bool require_mask;  /* a server's parser: client frames must be masked */
    size_t max_payload; /* larger frames are refused (1009) */
    int msg_opcode;     /* private: opcode of the message being fragmented, 0 none */
};

struct ws_frame {
    bool fin;
    int opcode;         /* of this frame (WS_OP_CONT for a later fragment) */
    int msg_opcode;     /* of the message: TEXT or BINARY for data, else = opcode */
    unsigned char *payload; /* into the parsed buffer, unmasked */
    size_t len;
};

/* Parses one frame at the start of 'buf' ('n' bytes), unmasking its
 * payload in place.  Returns the bytes the frame took (> 0) with 'f'
 * filled, 0 when 'buf' holds less than a whole frame, or -1 on a protocol
 * violation with '*close_code' and '*reason' (a static string) set for the
 * close frame the caller should send. */
long ws_parse(struct ws_parser *p, unsigned char *buf, size_t n, struct ws_frame *f,
              int *close_code, const char **reason) __attribute__((warn_unused_result));

/* Appends a frame to 'out'.  'mask' is the 4-byte masking key of a client
 * frame, or NULL for a server's unmasked frame. */
void ws_encode(struct st_buf *out, bool fin, int opcode, const void *payload, size_t len,
               const unsigned char *mask);
/* Appends a close frame with 'code' and 'reason' (cut to fit 123 bytes). */
void ws_encode_close(struct st_buf *out, int code, const char *reason);

/* Reads the close code and reason of a close frame's payload: code 1005
 * (none given) when it is empty.  Returns -1 when it is malformed (one
 * byte, or a code outside those RFC 6455 §7.4 allows on the wire). */
int ws_close_parse(const unsigned char *payload, size_t len, int *code)
    __attribute__((warn_unused_result));

/* True when the comma-separated header value 'list' holds 'token'
 * (case-insensitive), as for Connection: keep-alive, Upgrade. */
bool ws_header_has(const char *list, const char *token);

#endif

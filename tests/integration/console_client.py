#!/usr/bin/python3
"""console_client.py - a WebSocket client for the console tests and bench
(Debian's python3-websockets, asyncio API of 10.x).

  console_client.py serial URL CMD REGEX   send CMD (plus CR) to the serial
        console's shell until REGEX shows up in what comes back; prints it
  console_client.py rfb URL [SUBPROTO]     print the first 12 bytes (the RFB
        version) and the setup time in ms
  console_client.py status URL             print what connecting gives:
        "rejected STATUS", "closed CODE REASON" or "open"
  console_client.py throughput URL SECONDS print MiB/s read from a VNC
        console (frame buffer updates asked for in a loop); URL may be
        tcp:HOST:PORT for a VNC server itself, for comparison
"""
import asyncio
import base64
import re
import struct
import sys
import time

import websockets


async def serial(url, cmd, regex):
    got = b""
    async with websockets.connect(url, open_timeout=15, max_size=None) as ws:
        deadline = time.monotonic() + 40
        next_send = 0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_send:
                # Enter first: busybox's askfirst waits for it on the console.
                await ws.send(b"\r" + cmd.encode() + b"\r")
                next_send = time.monotonic() + 5
            try:
                m = await asyncio.wait_for(ws.recv(), 1)
            except asyncio.TimeoutError:
                continue
            got += m if isinstance(m, bytes) else m.encode()
            if re.search(regex.encode(), got):
                print(got.decode("utf-8", "replace"))
                return 0
    print(got.decode("utf-8", "replace"))
    return 1


async def rfb(url, proto):
    t0 = time.monotonic()
    kw = {"subprotocols": [proto]} if proto else {}
    async with websockets.connect(url, open_timeout=15, **kw) as ws:
        got = b""
        while len(got) < 12:
            m = await asyncio.wait_for(ws.recv(), 15)
            if isinstance(m, str):
                m = base64.b64decode(m)
            got += m
        ms = (time.monotonic() - t0) * 1000
        print(got[:12].decode("ascii", "replace").strip(), "%.1f" % ms)
    return 0


async def status(url):
    try:
        async with websockets.connect(url, open_timeout=15) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 15)
                # Bytes came: the console is open.  Wait for more to see
                # whether it is closed right after.
                print("open")
                return 0
            except websockets.exceptions.ConnectionClosed as e:
                print("closed", e.code, e.reason)
                return 0
            except asyncio.TimeoutError:
                print("open")
                return 0
    except websockets.exceptions.InvalidStatusCode as e:
        print("rejected", e.status_code)
        return 0


async def recv_n(ws, buf, n):
    while len(buf[0]) < n:
        m = await ws.recv()
        buf[0] += m if isinstance(m, bytes) else base64.b64decode(m)
    out = bytes(buf[0][:n])
    del buf[0][:n]
    return out


class TcpStream:
    """The two calls of a websockets connection, on a plain TCP socket."""

    def __init__(self, hostport):
        self.host, self.port = hostport.rsplit(":", 1)

    async def __aenter__(self):
        self.r, self.w = await asyncio.open_connection(self.host, int(self.port),
                                                       limit=1 << 22)
        return self

    async def __aexit__(self, *a):
        self.w.close()

    async def send(self, b):
        self.w.write(b)
        await self.w.drain()

    async def recv(self):
        b = await self.r.read(1 << 20)
        if not b:
            raise EOFError
        return b


async def throughput(url, seconds):
    """RFB 3.8 with no authentication, raw encoding, then non-incremental
    updates of the whole screen as fast as they come."""
    conn = (TcpStream(url[4:]) if url.startswith("tcp:")
            else websockets.connect(url, open_timeout=15, max_size=None))
    async with conn as ws:
        buf = [bytearray()]
        await recv_n(ws, buf, 12)
        await ws.send(b"RFB 003.008\n")
        n = (await recv_n(ws, buf, 1))[0]
        types = await recv_n(ws, buf, n)
        if 1 not in types:
            print("no 'None' security type")
            return 1
        await ws.send(b"\x01")
        await recv_n(ws, buf, 4)  # SecurityResult
        await ws.send(b"\x01")  # ClientInit: shared
        w, h = struct.unpack(">HH", await recv_n(ws, buf, 4))
        await recv_n(ws, buf, 16)
        ln = struct.unpack(">I", await recv_n(ws, buf, 4))[0]
        await recv_n(ws, buf, ln)
        await ws.send(struct.pack(">BBHi", 2, 0, 1, 0))  # SetEncodings: raw
        total = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            await ws.send(struct.pack(">BBHHHH", 3, 0, 0, 0, w, h))
            # FramebufferUpdate: count rectangles of raw pixels.
            hdr = await recv_n(ws, buf, 4)
            if hdr[0] != 0:
                # Some other server message (bell, cut text): stop here.
                break
            for _ in range(struct.unpack(">H", hdr[2:4])[0]):
                x, y, rw, rh, enc = struct.unpack(">HHHHi", await recv_n(ws, buf, 12))
                nbytes = rw * rh * 4
                await recv_n(ws, buf, nbytes)
                total += 12 + nbytes
        dt = time.monotonic() - t0
        print("%.1f" % (total / dt / (1 << 20)))
    return 0


def main():
    mode = sys.argv[1]
    if mode == "serial":
        return asyncio.run(serial(sys.argv[2], sys.argv[3], sys.argv[4]))
    if mode == "rfb":
        return asyncio.run(rfb(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
    if mode == "status":
        return asyncio.run(status(sys.argv[2]))
    if mode == "throughput":
        return asyncio.run(throughput(sys.argv[2], float(sys.argv[3])))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())

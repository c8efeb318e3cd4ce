#!/usr/bin/python3
"""browser_shot.py URL OUT.png [SECONDS] - opens URL in headless Chromium
(Debian's chromium, driven over the DevTools protocol with
python3-websockets), waits until noVNC's status line says it connected or
failed (at most SECONDS, default 20) and a little more for the frame, saves
a screenshot to OUT.png and prints three lines:

  status: <noVNC's status text>
  canvas: <W>x<H> lit=<pixels that are not black> colors=<distinct colours>
  shot: <distinct colours in the screenshot>
"""
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

CANVAS_JS = r"""
(() => {
  const c = document.querySelector('#screen canvas');
  if (!c || !c.width) return 'none';
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let lit = 0; const seen = new Set();
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] | d[i + 1] | d[i + 2]) lit++;
    if (seen.size < 1000) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  }
  return c.width + 'x' + c.height + ' lit=' + lit + ' colors=' + seen.size;
})()
"""


class Page:
    def __init__(self, ws):
        self.ws = ws
        self.n = 0

    async def call(self, method, **params):
        self.n += 1
        me = self.n
        await self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            m = json.loads(await self.ws.recv())
            if m.get("id") == me:
                return m.get("result", {})

    async def eval(self, expr):
        r = await self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")


async def shoot(port, url, out, seconds):
    req = urllib.request.Request("http://127.0.0.1:%d/json/new?about:blank" % port, method="PUT")
    target = json.load(urllib.request.urlopen(req, timeout=10))
    async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
        p = Page(ws)
        await p.call("Page.enable")
        await p.call("Emulation.setDeviceMetricsOverride", width=1024, height=768,
                     deviceScaleFactor=1, mobile=False)
        await p.call("Page.navigate", url=url)
        status = ""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = await p.eval("(document.getElementById('status')||{}).textContent") or ""
            if re.search(r"Connected|Disconnected|Failed|Something went wrong", status):
                break
            await asyncio.sleep(0.2)
        # The first frame buffer update follows the connection.
        canvas = "none"
        if "Connected" in status:
            for _ in range(30):
                await asyncio.sleep(0.3)
                canvas = await p.eval(CANVAS_JS) or "none"
                m = re.search(r"lit=(\d+)", canvas)
                if m and int(m.group(1)) > 0:
                    await asyncio.sleep(0.5)
                    canvas = await p.eval(CANVAS_JS) or "none"
                    break
        else:
            canvas = await p.eval(CANVAS_JS) or "none"
        shot = await p.call("Page.captureScreenshot", format="png")
        with open(out, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        status = await p.eval("(document.getElementById('status')||{}).textContent") or status
        return status, canvas


def colours(path):
    from PIL import Image
    im = Image.open(path).convert("RGB")
    return len(im.getcolors(1 << 24) or [])


def main():
    url, out = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 20
    prof = tempfile.mkdtemp(prefix="stratus-chromium.")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    proc = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--remote-debugging-port=0", "--user-data-dir=" + prof,
         "--window-size=1024,768", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        port = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and port is None:
            line = proc.stderr.readline().decode(errors="replace")
            if not line and proc.poll() is not None:
                break
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
        if port is None:
            print("status: chromium did not start")
            return 1
        status, canvas = asyncio.run(shoot(port, url, out, seconds))
        print("status:", status)
        print("canvas:", canvas)
        print("shot:", colours(out))
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(prof, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

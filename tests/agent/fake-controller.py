#!/usr/bin/python3
"""fake-controller.py - a stand-in for stratusd's /internal/v1 API, to drive
stratus-agent in tests before (and without) the real controller.

It keeps everything in one directory DIR:
  DIR/desired.json     the desired state served to the agent ({"servers": [],
                       "tasks": []}); "revision" and "host" are filled in
  DIR/revision         the current revision (bumped by every change)
  DIR/secret           the host secret the agent must send (Bearer)
  DIR/host_id          the host's id (a UUID, made at the first start), sent at
                       registration and in the desired state
  DIR/images/<id>      image data served by GET /internal/v1/images/<id>/file
  DIR/uploads/<id>     data the agent PUT there (snapshots)
  DIR/reports.jsonl    every report, one per line; DIR/last-report.json
  DIR/registrations.jsonl
  DIR/tasks/<id>.json  the report entry of each finished task
  DIR/port             the port it listens on (written once listening)
  MIGDIR/<migration id>/<name>
                       migration files (docs/agent-protocol.md "Migration"):
                       PUT and GET /internal/v1/migrations/<id>/files/<name>;
                       MIGDIR is DIR/migrations unless --migrations-dir says
                       (two fake controllers, one per host, share one)

Like the controller it retires finished tasks (removes them from the desired
state) and drops a deleted server once the agent reports it "gone"; both
bump the revision.  Long-polls wait for the revision to pass "after".

Usage:
  fake-controller.py serve DIR [--host NAME] [--report-interval N] [--port N]
                                [--image-delay SECONDS] [--listen ADDR]
                                [--migrations-dir MIGDIR]
  fake-controller.py add-server DIR JSON        (a SERVER object)
  fake-controller.py remove-server DIR SERVER_ID  (gone from the desired state at
                                                once, as if deleted while the agent
                                                was down)
  fake-controller.py set DIR SERVER_ID KEY=JSON... (e.g. power='"stopped"')
  fake-controller.py add-task DIR JSON          (a TASK object)
  fake-controller.py wait DIR SERVER_ID STATE [TIMEOUT]   (last report says STATE)
  fake-controller.py wait-task DIR TASK_ID [TIMEOUT]      (prints the entry)
  fake-controller.py wait-gone DIR SERVER_ID [TIMEOUT]   (removed from desired)
  fake-controller.py report DIR [SERVER_ID]     (prints the last report / entry)
  fake-controller.py add-volume DIR JSON        (a VOLUME object, VOLUMES.md)
  fake-controller.py set-volume DIR VOLUME_ID KEY=JSON...
  fake-controller.py set-doc DIR KEY=JSON...    (a top-level member, e.g. backups='[]')
  fake-controller.py wait-volume DIR VOLUME_ID PYTHON-EXPR [TIMEOUT]
                                                (waits until the expression is true of the
                                                last report entry 'v' of the volume; prints it)
  fake-controller.py wait-server DIR SERVER_ID PYTHON-EXPR [TIMEOUT]
                                                (the same of the server entry 's')

Volumes: the desired state has "volumes" once one was added; a volume with
delete=true reported "gone" is dropped, as are snapshots with delete=true
reported gone.
"""
import fcntl
import hashlib
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid

LOCK = threading.Lock()
MIG_FILE = re.compile(r"^[a-z][a-z0-9._-]{0,63}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def locked(d):
    """A process-wide lock on DIR (the CLI and the server both edit)."""
    f = open(os.path.join(d, ".lock"), "a+")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def read_json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def write_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def revision(d):
    try:
        with open(os.path.join(d, "revision")) as f:
            return int(f.read().strip() or "0")
    except FileNotFoundError:
        return 0


def bump(d):
    rev = revision(d) + 1
    with open(os.path.join(d, "revision.tmp"), "w") as f:
        f.write("%d\n" % rev)
    os.replace(os.path.join(d, "revision.tmp"), os.path.join(d, "revision"))
    return rev


def desired(d):
    return read_json(os.path.join(d, "desired.json"), {"servers": [], "tasks": []})


def change(d, fn):
    """Applies fn(doc) to desired.json under the lock and bumps the revision."""
    with locked(d):
        doc = desired(d)
        fn(doc)
        write_json(os.path.join(d, "desired.json"), doc)
        return bump(d)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake-controller: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, status, doc=None, headers=None):
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if doc is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def fault(self, status, title, message):
        self.reply(status, {"error": {"code": status, "title": title, "message": message}})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def auth(self):
        d = self.server.dir
        with open(os.path.join(d, "secret")) as f:
            secret = f.read().strip()
        if self.headers.get("Authorization") != "Bearer " + secret:
            self.fault(401, "Unauthorized", "The request you have made requires authentication.")
            return False
        return True

    def host_ok(self, host):
        if host != self.server.host:
            self.fault(403, "Forbidden", "host '%s' may not act for '%s'" % (self.server.host, host))
            return False
        return True

    def route(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.strip("/").split("/")
        q = urllib.parse.parse_qs(u.query)
        return parts, q

    def mig_file(self, parts):
        """The path of migration file /internal/v1/migrations/ID/files/NAME."""
        if (parts[:3] == ["internal", "v1", "migrations"] and len(parts) == 6 and
                parts[4] == "files" and UUID.match(parts[3]) and MIG_FILE.match(parts[5])):
            return os.path.join(self.server.migdir, parts[3], parts[5])
        return None

    def do_GET(self):
        if not self.auth():
            return
        parts, q = self.route()
        d = self.server.dir
        mf = self.mig_file(parts)
        if mf:
            if not os.path.isfile(mf):
                self.fault(404, "Not Found", "no migration file %s" % parts[5])
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(os.path.getsize(mf)))
            self.end_headers()
            with open(mf, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    self.wfile.write(chunk)
            with LOCK, open(os.path.join(d, "migration-gets.log"), "a") as f:
                f.write("%s/%s\n" % (parts[3], parts[5]))
            return
        if parts[:3] == ["internal", "v1", "hosts"] and len(parts) == 5 and parts[4] == "desired":
            if not self.host_ok(parts[3]):
                return
            after = int(q.get("after", ["0"])[0])
            timeout = min(int(q.get("timeout", ["30"])[0]), 60)
            deadline = time.monotonic() + timeout
            while after and revision(d) <= after and time.monotonic() < deadline:
                time.sleep(0.05)
            with locked(d):
                doc = desired(d)
                doc["host"] = self.server.host
                doc["host_id"] = self.server.host_id
                doc["revision"] = revision(d)
            self.reply(200, doc)
            return
        if parts[:3] == ["internal", "v1", "images"] and len(parts) == 5 and parts[4] == "file":
            path = os.path.join(d, "images", os.path.basename(parts[3]))
            if not os.path.isfile(path):
                self.fault(404, "Not Found", "No image found with ID %s" % parts[3])
                return
            md5 = hashlib.md5()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    md5.update(chunk)
            size = os.path.getsize(path)
            # A slow image source: the data comes after a pause (tests kill
            # the agent while it waits).
            time.sleep(self.server.image_delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.send_header("Content-MD5", md5.hexdigest())
            self.end_headers()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    self.wfile.write(chunk)
            return
        self.fault(404, "Not Found", "no route for GET %s" % self.path)

    def do_PUT(self):
        if not self.auth():
            return
        parts, _ = self.route()
        d = self.server.dir
        mf = self.mig_file(parts)
        if mf or (parts[:3] == ["internal", "v1", "images"] and len(parts) == 5 and
                  parts[4] == "file"):
            if mf:
                os.makedirs(os.path.dirname(mf), exist_ok=True)
                path = mf
            else:
                os.makedirs(os.path.join(d, "uploads"), exist_ok=True)
                path = os.path.join(d, "uploads", os.path.basename(parts[3]))
            n = int(self.headers.get("Content-Length") or 0)
            with open(path + ".tmp", "wb") as f:
                while n > 0:
                    chunk = self.rfile.read(min(n, 1 << 20))
                    if not chunk:
                        break
                    f.write(chunk)
                    n -= len(chunk)
            os.replace(path + ".tmp", path)
            self.reply(204)
            return
        self.fault(404, "Not Found", "no route for PUT %s" % self.path)

    def do_POST(self):
        if not self.auth():
            return
        parts, _ = self.route()
        d = self.server.dir
        try:
            doc = json.loads(self.body() or b"null")
        except ValueError:
            self.fault(400, "Bad Request", "invalid JSON")
            return
        if parts[:3] == ["internal", "v1", "hosts"] and len(parts) == 4:
            if not self.host_ok(parts[3]):
                return
            with LOCK, open(os.path.join(d, "registrations.jsonl"), "a") as f:
                f.write(json.dumps(doc) + "\n")
            self.reply(200, {"host": parts[3], "host_id": self.server.host_id,
                             "revision": revision(d),
                             "report_interval": self.server.report_interval})
            return
        if parts[:3] == ["internal", "v1", "hosts"] and len(parts) == 5 and parts[4] == "report":
            if not self.host_ok(parts[3]):
                return
            if not isinstance(doc, dict):
                self.fault(400, "Bad Request", "a report is an object")
                return
            doc["received_at"] = time.time()
            with LOCK:
                with open(os.path.join(d, "reports.jsonl"), "a") as f:
                    f.write(json.dumps(doc) + "\n")
                write_json(os.path.join(d, "last-report.json"), doc)
            self.retire(doc)
            self.reply(200, {"revision": revision(d)})
            return
        self.fault(404, "Not Found", "no route for POST %s" % self.path)

    def retire(self, report):
        """What the controller does with a report: retire finished tasks,
        forget deleted servers the agent reports gone."""
        d = self.server.dir
        finished = {}
        for t in report.get("tasks", []):
            if t.get("status") in ("done", "failed"):
                finished[t["id"]] = t
        gone = {s["id"] for s in report.get("servers", []) if s.get("state") == "gone"}
        vgone = {v["id"] for v in report.get("volumes", []) if v.get("state") == "gone"}
        sgone = {sn["id"] for v in report.get("volumes", []) for sn in v.get("snapshots", [])
                 if sn.get("state") == "gone"}
        if vgone or sgone:
            with locked(d):
                doc = desired(d)
                changed = False
                vols = []
                for v in doc.get("volumes", []):
                    if v["id"] in vgone and v.get("delete"):
                        changed = True
                        continue
                    snaps = [sn for sn in v.get("snapshots", [])
                             if not (sn["id"] in sgone and sn.get("delete"))]
                    if len(snaps) != len(v.get("snapshots", [])):
                        v["snapshots"] = snaps
                        changed = True
                    vols.append(v)
                if changed:
                    doc["volumes"] = vols
                    write_json(os.path.join(d, "desired.json"), doc)
                    bump(d)
        if not finished and not gone:
            return
        os.makedirs(os.path.join(d, "tasks"), exist_ok=True)
        for tid, t in finished.items():
            write_json(os.path.join(d, "tasks", os.path.basename(tid) + ".json"), t)
        with locked(d):
            doc = desired(d)
            tasks = [t for t in doc.get("tasks", []) if t["id"] not in finished]
            servers = [s for s in doc.get("servers", [])
                       if not (s["id"] in gone and s.get("delete"))]
            if len(tasks) != len(doc.get("tasks", [])) or len(servers) != len(doc.get("servers", [])):
                doc["tasks"] = tasks
                doc["servers"] = servers
                write_json(os.path.join(d, "desired.json"), doc)
                bump(d)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(d, args):
    host = os.uname().nodename
    interval = 10
    port = 0
    image_delay = 0.0
    listen = "127.0.0.1"
    migdir = os.path.join(d, "migrations")
    i = 0
    while i < len(args):
        if args[i] == "--host":
            host = args[i + 1]
        elif args[i] == "--report-interval":
            interval = int(args[i + 1])
        elif args[i] == "--port":
            port = int(args[i + 1])
        elif args[i] == "--image-delay":
            image_delay = float(args[i + 1])
        elif args[i] == "--listen":
            listen = args[i + 1]
        elif args[i] == "--migrations-dir":
            migdir = args[i + 1]
        else:
            sys.exit("fake-controller: unknown option %s" % args[i])
        i += 2
    for sub in ("images", "uploads", "tasks"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    if not os.path.exists(os.path.join(d, "desired.json")):
        write_json(os.path.join(d, "desired.json"), {"servers": [], "tasks": []})
    if not os.path.exists(os.path.join(d, "revision")):
        bump(d)
    if not os.path.exists(os.path.join(d, "host_id")):
        with open(os.path.join(d, "host_id"), "w") as f:
            f.write(str(uuid.uuid4()) + "\n")
    with open(os.path.join(d, "host_id")) as f:
        host_id = f.read().strip()
    srv = Server((listen, port), Handler)
    srv.dir = d
    srv.migdir = migdir
    srv.host = host
    srv.host_id = host_id
    srv.report_interval = interval
    srv.image_delay = image_delay
    with open(os.path.join(d, "port.tmp"), "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
    srv.serve_forever()


def last_entry(d, sid):
    rep = read_json(os.path.join(d, "last-report.json"), {})
    for s in rep.get("servers", []):
        if s.get("id") == sid:
            return s
    return None


def last_volume(d, vid):
    rep = read_json(os.path.join(d, "last-report.json"), {})
    for v in rep.get("volumes", []):
        if v.get("id") == vid:
            return v
    return None


def wait_expr(get, name, expr, timeout):
    deadline = time.monotonic() + float(timeout)
    e = None
    while time.monotonic() < deadline:
        e = get()
        try:
            if e is not None and eval(expr, {}, {name: e}):
                print(json.dumps(e))
                return
        except (KeyError, IndexError, TypeError):
            pass
        time.sleep(0.1)
    print(json.dumps(e))
    sys.exit(1)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, d, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "serve":
        serve(d, args)
    elif cmd == "add-server":
        srv = json.loads(args[0])
        change(d, lambda doc: doc["servers"].append(srv))
    elif cmd == "remove-server":
        sid = args[0]

        def rm(doc):
            doc["servers"] = [s for s in doc["servers"] if s["id"] != sid]
        change(d, rm)
    elif cmd == "set":
        sid = args[0]
        kv = [a.split("=", 1) for a in args[1:]]

        def fn(doc):
            for s in doc["servers"]:
                if s["id"] == sid:
                    for k, v in kv:
                        s[k] = json.loads(v)
                    return
            sys.exit("fake-controller: no server %s" % sid)
        change(d, fn)
    elif cmd == "add-volume":
        vol = json.loads(args[0])
        change(d, lambda doc: doc.setdefault("volumes", []).append(vol))
    elif cmd == "set-volume":
        vid = args[0]
        kv = [a.split("=", 1) for a in args[1:]]

        def fv(doc):
            for v in doc.get("volumes", []):
                if v["id"] == vid:
                    for k, val in kv:
                        v[k] = json.loads(val)
                    return
            sys.exit("fake-controller: no volume %s" % vid)
        change(d, fv)
    elif cmd == "set-doc":
        kv = [a.split("=", 1) for a in args]

        def fd(doc):
            for k, val in kv:
                doc[k] = json.loads(val)
        change(d, fd)
    elif cmd == "wait-volume":
        wait_expr(lambda: last_volume(d, args[0]), "v", args[1], args[2] if len(args) > 2 else 60)
    elif cmd == "wait-server":
        wait_expr(lambda: last_entry(d, args[0]), "s", args[1], args[2] if len(args) > 2 else 60)
    elif cmd == "add-task":
        task = json.loads(args[0])
        change(d, lambda doc: doc["tasks"].append(task))
    elif cmd == "wait":
        sid, state = args[0], args[1]
        deadline = time.monotonic() + float(args[2] if len(args) > 2 else 60)
        while time.monotonic() < deadline:
            e = last_entry(d, sid)
            if e and e.get("state") == state:
                print(json.dumps(e))
                return
            time.sleep(0.1)
        print(json.dumps(last_entry(d, sid)))
        sys.exit(1)
    elif cmd == "wait-task":
        tid = args[0]
        deadline = time.monotonic() + float(args[1] if len(args) > 1 else 60)
        path = os.path.join(d, "tasks", os.path.basename(tid) + ".json")
        while time.monotonic() < deadline:
            if os.path.exists(path):
                print(json.dumps(read_json(path, {})))
                return
            time.sleep(0.1)
        sys.exit(1)
    elif cmd == "wait-gone":
        sid = args[0]
        deadline = time.monotonic() + float(args[1] if len(args) > 1 else 60)
        while time.monotonic() < deadline:
            with locked(d):
                ids = [s["id"] for s in desired(d)["servers"]]
            if sid not in ids:
                return
            time.sleep(0.1)
        sys.exit(1)
    elif cmd == "report":
        if args:
            print(json.dumps(last_entry(d, args[0])))
        else:
            print(json.dumps(read_json(os.path.join(d, "last-report.json"), {}), indent=1))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

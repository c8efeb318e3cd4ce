#!/usr/bin/python3
"""build-breakdown.py - where the time of each server's POST -> ACTIVE went,
from the agent's log (bench/compute.sh).

    build-breakdown.py AGENT_LOG < RUNS

RUNS has one line per server: "ID T0 ACTIVE" (T0 the POST's epoch time in
seconds, ACTIVE the seconds until the poller saw ACTIVE).  Prints one line
per server, in milliseconds:

    controller pass network image disk seed define start report

controller: POST until the agent logged the desired revision that has it;
pass: that revision's pass that built the server (the agent's "pass for
revision" line), of which network (the pass's network part), and the
server's own build steps (image, disk, seed, define, start); report: the
end of that pass until the poller saw ACTIVE (the report and one poll).
Servers whose lines are missing are skipped.
"""
import re
import sys
from datetime import datetime, timezone

STAMP = re.compile(r"^(\S+)Z (\w+) (\w+): (.*)$")
REV = re.compile(r"^desired state revision (\d+):")
PASS = re.compile(r"^pass for revision (\d+): ([\d.]+) ms: network ([\d.]+) ms")
STEPS = re.compile(
    r"^server '([0-9a-f-]+)': build steps: image ([\d.]+) ms, disk ([\d.]+) ms, "
    r"seed ([\d.]+) ms, define ([\d.]+) ms, start ([\d.]+) ms")


def epoch(stamp):
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=timezone.utc).timestamp()


def main():
    revs, passes, steps = [], [], {}
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        for line in f:
            m = STAMP.match(line.rstrip("\n"))
            if not m:
                continue
            t, msg = epoch(m.group(1)), m.group(4)
            if (r := REV.match(msg)):
                revs.append((t, int(r.group(1))))
            elif (p := PASS.match(msg)):
                passes.append((t, int(p.group(1)), float(p.group(2)), float(p.group(3))))
            elif (s := STEPS.match(msg)):
                steps[s.group(1)] = (t, [float(x) for x in s.group(2, 3, 4, 5, 6)])
    for line in sys.stdin:
        sid, t0, active = line.split()[:3]
        t0, active = float(t0), float(active)
        if sid not in steps:
            continue
        t_steps, st = steps[sid]
        recv = next((t for t, _ in revs if t >= t0), None)
        # The pass that logged the steps ends with its own line, just after.
        done = next((p for p in passes if p[0] >= t_steps), None)
        if recv is None or done is None:
            continue
        t_end, _, total, net = done
        print("%.1f %.1f %.1f %s %.1f" % ((recv - t0) * 1000, total, net,
                                         " ".join("%.1f" % x for x in st),
                                         (t0 + active - t_end) * 1000))


if __name__ == "__main__":
    main()

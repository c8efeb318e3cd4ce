#!/usr/bin/python3
"""Read a Prometheus text exposition (stdin) with prometheus_client's own
parser (Debian's python3-prometheus-client), and answer one question.

Usage:
    prom.py value NAME [LABEL=VALUE ...]   the sum of the matching samples
                                           (exit 1 when none matches)
    prom.py count NAME [LABEL=VALUE ...]   how many samples match
    prom.py labels NAME LABEL              the values LABEL takes, one a line
    prom.py histograms                     every histogram is well formed:
                                           buckets cumulative in le order,
                                           +Inf equal to _count, a _sum
    prom.py families                       family name and type, one a line

NAME is the sample name as exposed (with _total, _bucket, ...).  A text
the parser refuses is exit 2 with its message.  Run it with /usr/bin/python3.
"""

import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def parse(text):
    try:
        return list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends
        print("prom: the text does not parse: %s" % e, file=sys.stderr)
        sys.exit(2)


def matching(families, name, wanted):
    for f in families:
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in wanted.items()):
                yield s


def check_histograms(families):
    bad = 0
    seen = 0
    for f in families:
        if f.type != "histogram":
            continue
        series = {}
        for s in f.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, {"buckets": [], "sum": None, "count": None})
            if s.name.endswith("_bucket"):
                series[key]["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_sum"):
                series[key]["sum"] = s.value
            elif s.name.endswith("_count"):
                series[key]["count"] = s.value
        for key, h in series.items():
            seen += 1
            b = sorted(h["buckets"])
            why = None
            if not b or not math.isinf(b[-1][0]):
                why = "no +Inf bucket"
            elif any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
                why = "buckets not cumulative"
            elif h["count"] is None or h["count"] != b[-1][1]:
                why = "+Inf bucket %s != count %s" % (b[-1][1], h["count"])
            elif h["sum"] is None or h["sum"] < 0:
                why = "no sum"
            if why:
                bad += 1
                print("prom: histogram %s%s: %s" % (f.name, dict(key), why), file=sys.stderr)
    if seen == 0:
        print("prom: no histogram at all", file=sys.stderr)
        return 1
    return 1 if bad else 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    families = parse(sys.stdin.read())
    cmd = argv[1]
    if cmd == "histograms":
        return check_histograms(families)
    if cmd == "families":
        for f in families:
            print(f.name, f.type)
        return 0
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    name = argv[2]
    if cmd == "labels":
        vals = sorted({s.labels.get(argv[3], "") for s in matching(families, name, {})})
        print("\n".join(vals))
        return 0
    wanted = dict(a.split("=", 1) for a in argv[3:])
    found = list(matching(families, name, wanted))
    if cmd == "count":
        print(len(found))
        return 0
    if cmd == "value":
        if not found:
            print("prom: no sample %s%s" % (name, wanted), file=sys.stderr)
            return 1
        v = sum(s.value for s in found)
        print(int(v) if v == int(v) else repr(v))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

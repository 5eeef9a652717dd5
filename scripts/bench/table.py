#!/usr/bin/env python3
"""table.py: side-by-side table of gtl bench and pytorch_ref.py results.

Reads JSON lines (one `--json` result each, from either tool) from the files
given or stdin, groups them by configuration, takes the median images/s of
each tool's repetitions and prints

    config | gtl img/s | PyTorch img/s | ratio (gtl/PyTorch) | reps

Only the Python standard library is used (it runs beside any torch).
"""
import json
import statistics
import sys


def key(r):
    prec = r.get("amp") or "fp32"
    cl = " cl" if r.get("channels_last") else ""
    return "%s %s b%d %dpx %s%s" % (r["model"], r["mode"], r["batch"], r["image_size"], prec, cl)


def main(paths):
    rows = {}
    order = []
    devices = set()
    for path in paths or ["-"]:
        f = sys.stdin if path == "-" else open(path)
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            k = key(r)
            if k not in rows:
                rows[k] = {"gtl": [], "pytorch": []}
                order.append(k)
            rows[k][r["tool"]].append(r["images_per_s"])
            devices.add("%s (%s), %s threads" % (r["device"], r["device_name"], r["threads"]))
    print("device: " + "; ".join(sorted(devices)))
    head = ("config", "gtl img/s", "PyTorch img/s", "ratio", "reps")
    lines = []
    for k in order:
        g, p = rows[k]["gtl"], rows[k]["pytorch"]
        gm = statistics.median(g) if g else float("nan")
        pm = statistics.median(p) if p else float("nan")
        ratio = gm / pm if g and p and pm > 0 else float("nan")
        lines.append((k, "%.1f" % gm, "%.1f" % pm, "%.2f" % ratio, "%d/%d" % (len(g), len(p))))
    w = [max(len(str(x[i])) for x in [head] + lines) for i in range(len(head))]
    fmt = " | ".join("%%-%ds" % n if i == 0 else "%%%ds" % n for i, n in enumerate(w))
    print(fmt % head)
    print("-+-".join("-" * n for n in w))
    for l in lines:
        print(fmt % l)


if __name__ == "__main__":
    main(sys.argv[1:])

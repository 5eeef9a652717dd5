#!/usr/bin/env python3
"""table.py: side-by-side table of gtl bench and pytorch_ref.py results.

Reads JSON lines (one `--json` result each, from either tool; lines
{"load": "..."} record the machine's load average) from the files given or
stdin, groups them by configuration and prints, per config, each tool's
median images/s with its spread (min-max over the repetitions) and the
ratios gtl / PyTorch eager, gtl / PyTorch frozen (TorchScript
optimize_for_inference(freeze(script(m)))) and gtl / ONNX Runtime (on the
model gtl exported, scripts/onnx/run.js --bench); above 1: gtl faster.

Only the Python standard library is used (it runs beside any torch).
"""
import json
import statistics
import sys

TOOLS = [("gtl", "gtl"), ("pytorch", "eager"), ("pytorch-frozen", "frozen"), ("onnxruntime", "ort")]


def key(r):
    prec = r.get("amp") or "fp32"
    cl = " cl" if r.get("channels_last") else ""
    mode = r["mode"] + (" freeze-%d" % r["freeze"] if r.get("freeze") else "")
    return "%s %s b%d %dpx %s%s" % (r["model"], mode, r["batch"], r["image_size"], prec, cl)


def cell(xs):
    if not xs:
        return ""
    return "%.3g (%.3g-%.3g)" % (statistics.median(xs), min(xs), max(xs))


def main(paths):
    rows, order, devices, loads = {}, [], set(), []
    for path in paths or ["-"]:
        f = sys.stdin if path == "-" else open(path)
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "load" in r:
                loads.append(float(r["load"].split()[0]))
                continue
            k = key(r)
            if k not in rows:
                rows[k] = {t: [] for t, _ in TOOLS}
                order.append(k)
            rows[k].setdefault(r["tool"], []).append(r["images_per_s"])
            devices.add("%s (%s), %s threads" % (r["device"], r["device_name"], r["threads"]))
    print("device: " + "; ".join(sorted(devices)))
    if loads:
        print("load average (1 min) at the repetitions: %.1f-%.1f (median %.1f)" % (
            min(loads), max(loads), statistics.median(loads)))
    used = [(t, n) for t, n in TOOLS if any(rows[k].get(t) for k in order)]
    head = ["config"] + ["%s img/s" % n for _, n in used] + ["gtl/%s" % n for t, n in used if t != "gtl"] + ["reps"]
    lines = []
    for k in order:
        v = rows[k]
        g = statistics.median(v["gtl"]) if v["gtl"] else float("nan")

        def ratio(t):
            return "%.2f" % (g / statistics.median(v[t])) if v.get(t) and v["gtl"] else ""
        lines.append([k] + [cell(v.get(t, [])) for t, _ in used] + [ratio(t) for t, _ in used if t != "gtl"] +
                     ["/".join(str(len(v[t])) for t, _ in TOOLS if v.get(t))])
    w = [max(len(str(x[i])) for x in [head] + lines) for i in range(len(head))]
    fmt = " | ".join("%%-%ds" % n if i == 0 else "%%%ds" % n for i, n in enumerate(w))
    print(fmt % tuple(head))
    print("-+-".join("-" * n for n in w))
    for l in lines:
        print(fmt % tuple(l))


if __name__ == "__main__":
    main(sys.argv[1:])

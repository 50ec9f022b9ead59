#!/usr/bin/env python3
"""Turn `go tool pprof -traces` output (stdin) into `perf script` text (stdout) for a flame graph
renderer that reads perf's format, e.g. npm's flamegraph:

  go tool pprof -traces BINARY PROFILE | python3 traces2perf.py [UNIT] | npx flamegraph -t perf > out.svg

Each stack is repeated once per UNIT of its value (default 10ms for CPU profiles; for
-sample_index=alloc_objects give a count such as 100). Leaf frames come first, as perf prints.
"""
import re
import sys

UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


def value(tok):
    m = re.fullmatch(r"([0-9.]+)([a-zµ]*)", tok)
    if not m:
        return None
    num, unit = float(m.group(1)), m.group(2)
    if unit in UNITS:
        return num * UNITS[unit]
    mult = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
    return num * mult.get(unit, 1)


def main():
    unit = value(sys.argv[1]) if len(sys.argv) > 1 else 0.01
    out = sys.stdout
    for block in sys.stdin.read().split("-----------+-------------------------------------------------------")[1:]:
        lines = [l.rstrip() for l in block.strip("\n").split("\n") if l.strip() and not l.strip().startswith("bytes:")]
        if not lines:
            continue
        first = lines[0].split()
        v = value(first[0])
        if not v:
            continue
        names = [" ".join(first[1:])] + [l.strip() for l in lines[1:]]
        frames = [n.removesuffix(" (inline)").replace(" ", "") for n in names]
        for _ in range(max(1, round(v / unit))):
            out.write("vbo-gateway 1 [000] 0.0: cpu-clock:\n")
            for f in frames:
                out.write("\t0 %s (vbo-gateway)\n" % f)
            out.write("\n")


main()

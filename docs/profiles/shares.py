#!/usr/bin/env python3
"""Split a CPU profile into the shares docs/benchmarks.md quotes, from `go tool pprof -traces`:

  go tool pprof -traces BINARY PROFILE | python3 shares.py

Each sample stack goes to the first category that matches it, in this order: garbage collection
(the collector's workers and assists), decoding VBO answers (upstream's decoders), growing
goroutine stacks (runtime.newstack), system calls for reads and writes, gqlgen executing the
operation (the generated executor and the per-element goroutines of MarshalSliceConcurrently),
the gateway's resolvers and loaders, the rest of gqlgen (transport, extensions, writing the
answer), net/http, and other (named by the stack's outermost frame).
"""
import collections
import re
import sys

UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


def seconds(tok):
    m = re.fullmatch(r"([0-9.]+)(ns|us|µs|ms|s)", tok)
    return float(m.group(1)) * UNITS[m.group(2)] if m else 0.0


def category(frames):
    stack = " ".join(frames)
    if any(f in stack for f in ("gcBgMarkWorker", "gcDrain", "bgsweep", "gcAssist")):
        return "garbage collection"
    if any(f in stack for f in ("upstream.decode", "upstream.boundedPage", "upstream.(*Links)")):
        return "decoding VBO answers"
    if "runtime.newstack" in stack:
        return "growing goroutine stacks"
    if "Syscall" in frames[0] or ("syscall" in stack and ("Write" in stack or "Read" in stack)):
        return "system calls"
    if "MarshalSliceConcurrently" in stack or ("graph.(*executionContext)" in stack and "resolvers." not in stack):
        return "gqlgen executing the operation"
    if "vbo-gateway/resolvers" in stack:
        return "resolvers and loaders"
    if "gqlgen" in stack:
        return "gqlgen: transport, extensions, writing the answer"
    if "net/http" in stack:
        return "net/http"
    return "other: " + frames[-1]


def main():
    shares, total = collections.Counter(), 0.0
    for block in sys.stdin.read().split("-----------+-------------------------------------------------------")[1:]:
        lines = [l.strip() for l in block.strip().splitlines() if l.strip()]
        if not lines:
            continue
        first = lines[0].split(None, 1)
        if len(first) < 2:
            continue
        v = seconds(first[0])
        shares[category([first[1]] + lines[1:])] += v
        total += v
    for name, v in shares.most_common():
        if v / total >= 0.005:
            print(f"{100 * v / total:5.1f}%  {name}")
    print(f"{total:.2f} s of samples")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/pit/phases.py: phase timings of `larder get-historical-features`, medians of runs.

Usage: bench/pit/phases.py [--larder BIN[,BIN...]] [--threads 1,2] [--repeat 7]
                           [--workload asof-5m-5m] [--workdir DIR]

Runs each binary (several are interleaved run by run, so they see the same machine load:
compare an old build with a new one) on a workload that bench/pit/run.py generated
(run it once first, e.g. `bench/pit/run.py --only asof-5m-5m --repeat 1`), with
`--log-level info`, and prints per binary and thread count the median of every phase
that src/offline/historical.c logs, the output write (the rest of the command's own
total: writing the file, plus start-up and registry load), the whole process's wall
time and its CPU time (user + system, all threads). On a shared machine the wall times
are noisy; the CPU times vary less, and the minimum is a useful second opinion.
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PHASE = re.compile(r"historical: (.*) in ([0-9.]+) s")
TOTAL = re.compile(r"Wrote .* in ([0-9.]+) s")


def run_once(binary, wd, threads, feats):
    cmd = [binary, "--log-level", "info", "get-historical-features", "--entities",
           "entities.parquet", "--threads", str(threads), "--output", "phases_out.parquet"]
    cmd += feats
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=wd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{binary} failed: {p.stderr[-2000:]}")
    text = p.stdout + p.stderr
    phases = {m.group(1): float(m.group(2)) for m in PHASE.finditer(text)}
    total = TOTAL.search(text)
    if total:
        phases["output write (rest)"] = float(total.group(1)) - sum(phases.values())
    phases["wall"] = wall
    phases["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return phases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--larder", default=os.path.join(ROOT, "build", "larder"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--workload", default="asof-5m-5m")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench-pit"))
    a = ap.parse_args()
    wd = os.path.join(a.workdir, a.workload)
    if not os.path.exists(os.path.join(wd, "ready")):
        sys.exit(f"{wd}: no data; run bench/pit/run.py --only {a.workload} --repeat 1 first")
    with open(os.path.join(wd, "defs.yaml")) as f:
        names = re.findall(r"\{name: (f[0-9]+),", f.read())
    feats = [x for n in names for x in ("--features", f"stats:{n}")]
    bins = [os.path.abspath(b) for b in a.larder.split(",")]
    for threads in [int(t) for t in a.threads.split(",")]:
        res = {b: [] for b in bins}
        for _ in range(a.repeat):
            for b in bins:
                res[b].append(run_once(b, wd, threads, feats))
        for b in bins:
            keys = list(res[b][0].keys())
            print(f"{a.workload} threads={threads} {b} (median of {a.repeat}, min)")
            for k in keys:
                vals = [r.get(k, 0.0) for r in res[b]]
                print(f"  {k:34} {statistics.median(vals):7.3f} s  (min {min(vals):6.3f})")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

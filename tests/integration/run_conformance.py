#!/usr/bin/env python3
"""Runs the shared conformance kit (../shared/conformance) against larder, as TAP.

Usage: run_conformance.py LARDER_BINARY PROJECT_ROOT

Every scenario folder (pit/NN-*, online/NN-*) is copied to a fresh temporary directory;
`larder -c DIR apply` must succeed; each line of `args` runs as `larder -c DIR <line>`
(split on spaces) with DIR as the working directory; every line but the last must exit 0.
The last is checked against the folder's one expectation file, as the kit's README says:
  expected.csv        exit 0; the --output file equals it (header exact, rows in order,
                      event_timestamp cells compared as instants, floats as numbers,
                      other cells as text; empty = null)
  expected.json       exit 0; stdout is one JSON document compared column by column
  expected_error.txt  non-zero exit; `message_contains` text in stderr or stdout
Scenarios whose command larder does not have yet are reported as TAP SKIP with the
reason; the whole run is skipped when the kit is absent (../shared is optional).
"""
import csv
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile


def parse_ts(s):
    """RFC 3339 text to integer microseconds (naive = UTC, up to 9 fraction digits)."""
    s = s.strip()
    z = 0
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1]
    elif len(s) > 6 and s[-6] in "+-" and s[-3] == ":":
        sign = 1 if s[-6] == "+" else -1
        z = sign * (int(s[-5:-3]) * 60 + int(s[-2:])) * 60
        s = s[:-6]
    frac = 0
    if "." in s:
        s, f = s.split(".", 1)
        frac = int((f + "000000")[:6])
    dt = datetime.datetime.strptime(s.replace(" ", "T"), "%Y-%m-%dT%H:%M:%S")
    dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 1000000 + frac - z * 1000000


def cell_equal(col, want, got):
    if want == "" or got == "":
        return want == got
    if col == "event_timestamp" or col.endswith("timestamp"):
        try:
            return parse_ts(want) == parse_ts(got)
        except ValueError:
            pass
    if want == got:
        return True
    try:
        a, b = float(want), float(got)
        return a == b or (math.isnan(a) and math.isnan(b))
    except ValueError:
        return False


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def compare_csv(want_path, got_path):
    if not os.path.exists(got_path):
        return [f"{got_path} was not written"]
    want, got = read_csv(want_path), read_csv(got_path)
    problems = []
    if not got or want[0] != got[0]:
        return [f"header: expected {want[0]}, got {got[0] if got else None}"]
    header = want[0]
    if len(want) != len(got):
        problems.append(f"expected {len(want) - 1} rows, got {len(got) - 1}")
    for i, (w, g) in enumerate(zip(want[1:], got[1:]), 1):
        if len(w) != len(g):
            problems.append(f"row {i}: expected {w}, got {g}")
            continue
        for c, (a, b) in enumerate(zip(w, g)):
            if not cell_equal(header[c], a, b):
                problems.append(f"row {i} column {header[c]}: expected {a!r}, got {b!r}")
    return problems


def json_value_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) != isinstance(b, int) and not (isinstance(a, float) and
                                                              isinstance(b, float)):
            # integer vs float: the kit wants JSON integers for Int columns
            if isinstance(a, int) and not isinstance(b, int):
                return False
        return float(a) == float(b)
    return a == b


def compare_json(want_path, stdout):
    try:
        got = json.loads(stdout)
    except ValueError as e:
        return [f"stdout is not JSON: {e}: {stdout[:200]!r}"]
    with open(want_path) as f:
        want = json.load(f)
    problems = []
    wn, gn = want["metadata"]["feature_names"], got.get("metadata", {}).get("feature_names")
    if wn != gn:
        return [f"feature_names: expected {wn}, got {gn}"]
    for i, name in enumerate(wn):
        w, g = want["results"][i], got["results"][i]
        wv, gv = w["values"], g.get("values")
        if len(wv) != len(gv or []) or not all(json_value_equal(a, b) for a, b in zip(wv, gv)):
            problems.append(f"{name}.values: expected {wv}, got {gv}")
        if w["statuses"] != g.get("statuses"):
            problems.append(f"{name}.statuses: expected {w['statuses']}, got {g.get('statuses')}")
        for k, ts in enumerate(w.get("event_timestamps", [])):
            if ts is None:
                continue
            gts = (g.get("event_timestamps") or [None] * len(wv))[k]
            if gts is None or parse_ts(ts) != parse_ts(gts):
                problems.append(f"{name}.event_timestamps[{k}]: expected {ts}, got {gts}")
    return problems


def has_command(binary, name):
    p = subprocess.run([binary, name, "--help"], capture_output=True, text=True)
    return p.returncode == 0


def run_scenario(binary, src):
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "s")
        shutil.copytree(src, work)
        for sub in ("data/registry.db", "data/online.db"):
            p = os.path.join(work, sub)
            if os.path.exists(p):
                os.unlink(p)
        p = subprocess.run([binary, "-c", work, "apply"], cwd=work, capture_output=True,
                           text=True, timeout=120)
        if p.returncode != 0:
            return [f"apply failed ({p.returncode}): {p.stderr.strip()}"]
        with open(os.path.join(src, "args")) as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
        for i, line in enumerate(lines):
            p = subprocess.run([binary, "-c", work] + line.split(" "), cwd=work,
                               capture_output=True, text=True, timeout=300)
            last = i == len(lines) - 1
            if not last and p.returncode != 0:
                return [f"`{line}` failed ({p.returncode}): {p.stderr.strip()}"]
        if os.path.exists(os.path.join(src, "expected.csv")):
            if p.returncode != 0:
                return [f"`{line}` failed ({p.returncode}): {p.stderr.strip()}"]
            args = line.split(" ")
            out = args[args.index("--output") + 1]
            return compare_csv(os.path.join(src, "expected.csv"), os.path.join(work, out))
        if os.path.exists(os.path.join(src, "expected.json")):
            if p.returncode != 0:
                return [f"`{line}` failed ({p.returncode}): {p.stderr.strip()}"]
            return compare_json(os.path.join(src, "expected.json"), p.stdout)
        with open(os.path.join(src, "expected_error.txt")) as f:
            spec = dict(l.rstrip("\n").split(": ", 1) for l in f if ": " in l)
        if p.returncode == 0:
            return [f"`{line}` succeeded; expected an error containing "
                    f"{spec.get('message_contains')!r}"]
        text = spec.get("message_contains", "")
        if text not in p.stderr and text not in p.stdout:
            return [f"error message lacks {text!r}: {p.stderr.strip()}"]
        return []


def main():
    binary = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2])
    kit = os.path.join(os.path.dirname(root), "shared", "conformance")
    if not os.path.isdir(kit):
        print(f"1..0 # SKIP conformance kit not found at {kit}")
        return 0
    scenarios = []
    for group in ("pit", "online"):
        d = os.path.join(kit, group)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            scenarios.append((f"{group}/{name}", os.path.join(d, name)))
    commands = {}
    passed = failed = skipped = 0
    for i, (name, path) in enumerate(scenarios, 1):
        with open(os.path.join(path, "args")) as f:
            cmds = {l.split(" ")[0] for l in f if l.strip()}
        missing = []
        for c in sorted(cmds):
            if c not in commands:
                commands[c] = has_command(binary, c)
            if not commands[c]:
                missing.append(c)
        if missing:
            skipped += 1
            print(f"ok {i} - {name} # SKIP larder has no {', '.join(missing)} command yet")
            continue
        try:
            problems = run_scenario(binary, path)
        except Exception as e:  # a crash of the runner is a failure, not an abort
            problems = [f"runner exception: {e!r}"]
        if problems:
            failed += 1
            print(f"not ok {i} - {name}")
            for p in problems[:20]:
                print(f"#   {p}")
        else:
            passed += 1
            print(f"ok {i} - {name}")
        sys.stdout.flush()
    print(f"1..{len(scenarios)}")
    print(f"# {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Feast's online acceptance cases through the CLI, plus the materialize contract (TAP).

- case 13: materialize then materialize-incremental, with interval bookkeeping and the
  offline point-in-time answer at the same times (timestamps with offsets compare as
  instants);
- case 19: a stale write (older event time) never replaces a newer stored row;
- the contract: START after END and unknown or offline views are usage/clear errors; a
  second materialization of a view being materialized is refused; incremental on an
  up-to-date view does nothing; intervals show in describe and registry-dump; teardown
  drops the online tables; the table output format.
Usage: online_cases.py LARDER
"""
import csv
import datetime
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

CHECKS = []


def check(name, ok, detail=""):
    CHECKS.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(CHECKS)} - {name}")
    if not ok:
        for line in str(detail).strip().split("\n")[-8:]:
            print(f"#   {line}")
    sys.stdout.flush()


def iso(dt):
    return dt.isoformat().replace("+00:00", "Z")


def main():
    larder = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="ldr_online_cases_")
    d = os.path.join(tmp, "repo")
    os.makedirs(os.path.join(d, "data"))

    def run(*args):
        return subprocess.run([larder] + list(args), cwd=d, capture_output=True, text=True)

    def online(*entities, feats=("driver_hourly:conv_rate",)):
        args = ["get-online-features", "--format", "json"]
        for f in feats:
            args += ["--features", f]
        for e in entities:
            args += ["--entity", f"driver_id={e}"]
        p = run(*args)
        if p.returncode:
            return None, p.stderr
        r = json.loads(p.stdout)
        return r["results"][1], p.stderr

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    T = now - datetime.timedelta(minutes=10)
    h = datetime.timedelta(hours=1)
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    pacific = datetime.timezone(datetime.timedelta(hours=-8))
    rows = [(1, T - 4 * h, "0.1"), (2, T, ""), (1, T - 3 * h, "0.3"),
            (3, (T - 4 * h).astimezone(berlin), "4"), (3, (T - h).astimezone(pacific), "5")]
    with open(os.path.join(d, "data", "stats.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["driver_id", "event_timestamp", "conv_rate"])
        for r in rows:
            w.writerow([r[0], r[1].isoformat(), r[2]])
    with open(os.path.join(d, "feature_store.yaml"), "w") as f:
        f.write("project: cases\nregistry: data/registry.db\n"
                "online_store: {type: sqlite, path: data/online.db}\n")
    with open(os.path.join(d, "defs.yaml"), "w") as f:
        f.write("kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n---\n"
                "kind: DataSource\nname: src\ntype: file\npath: data/stats.csv\n"
                "timestamp_field: event_timestamp\n---\n"
                "kind: FeatureView\nname: driver_hourly\nentities: [driver]\nttl: 1d\n"
                "source: src\nschema:\n  - {name: conv_rate, dtype: Float64}\n---\n"
                "kind: FeatureView\nname: offline_only\nentities: [driver]\nttl: 1d\n"
                "source: src\nonline: false\nschema:\n  - {name: conv_rate, dtype: Float64}\n")
    p = run("apply")
    check("apply creates the online tables", p.returncode == 0 and os.path.exists(
        os.path.join(d, "data", "online.db")), p.stderr)

    # ---- case 13 ----
    split = T - h - datetime.timedelta(seconds=1)
    p = run("materialize", iso(T - 5 * h), iso(split))
    check("case 13: materialize(T-5h, T-1h-1s)", p.returncode == 0, p.stderr)
    col, err = online(1, 2, 3)
    check("case 13: d1 = 0.3, d2 NOT_FOUND, d3 = 4",
          col is not None and col["values"] == [0.3, None, 4.0] and
          col["statuses"] == ["PRESENT", "NOT_FOUND", "PRESENT"], col or err)
    p = run("materialize-incremental", "now")
    check("case 13: materialize-incremental now", p.returncode == 0, p.stderr)
    col, err = online(1, 2, 3)
    check("case 13: after incremental d3 = 5, d2 stored null",
          col is not None and col["values"] == [0.3, None, 5.0] and
          col["statuses"] == ["PRESENT", "NULL_VALUE", "PRESENT"], col or err)
    p = run("feature-views", "describe", "driver_hourly")
    ivs = json.loads(p.stdout)["meta"]["materialization_intervals"] if p.returncode == 0 else []
    ok = len(ivs) == 2 and ivs[0]["start_date"] == iso(T - 5 * h) and \
        ivs[0]["end_date"] == iso(split) and ivs[1]["start_date"] == iso(split)
    if ok:
        end2 = datetime.datetime.fromisoformat(ivs[1]["end_date"].replace("Z", "+00:00"))
        ok = now <= end2 <= datetime.datetime.now(datetime.timezone.utc)
    check("case 13: intervals [(T-5h, split), (split, now)] in describe", ok, p.stdout + p.stderr)
    # the offline answer at the same times
    with open(os.path.join(d, "ent.csv"), "w") as f:
        f.write("driver_id,event_timestamp\n")
        for e in (1, 2, 3):
            f.write(f"{e},{iso(split)}\n")
        for e in (1, 2, 3):
            f.write(f"{e},{iso(now)}\n")
    p = run("get-historical-features", "--entities", "ent.csv", "--features",
            "driver_hourly:conv_rate", "--output", "hist.jsonl")
    hist = [json.loads(x)["conv_rate"] for x in open(os.path.join(d, "hist.jsonl"))] \
        if p.returncode == 0 else None
    check("case 13: the offline PIT at the same times matches",
          hist == [0.3, None, 4.0, 0.3, None, 5.0], hist or p.stderr)
    p = run("registry-dump")
    views = json.loads(p.stdout)["feature_views"] if p.returncode == 0 else []
    dumped = [v for v in views if v["name"] == "driver_hourly"]
    check("registry-dump shows the intervals",
          dumped and len(dumped[0]["meta"]["materialization_intervals"]) == 2, p.stdout[-500:])

    # ---- contract ----
    p = run("materialize-incremental", ivs[1]["end_date"] if len(ivs) > 1 else "now")
    check("incremental to the last end does nothing",
          p.returncode == 0 and "up to date" in p.stderr, p.stderr)
    p = run("materialize", iso(T), iso(T - h))
    check("START after END is a usage error", p.returncode == 2 and "after" in p.stderr, p.stderr)
    p = run("materialize", iso(T - h), iso(T), "--views", "nope")
    check("an unknown view is named", p.returncode != 0 and "'nope'" in p.stderr, p.stderr)
    p = run("materialize", iso(T - h), iso(T), "--views", "offline_only")
    check("an offline view cannot be materialized",
          p.returncode != 0 and "not online" in p.stderr, p.stderr)
    p = run("materialize", "yesterday", iso(T))
    check("a bad time is a usage error", p.returncode == 2 and "START" in p.stderr, p.stderr)
    lock = os.path.join(d, "data", ".larder-locks", "cases.driver_hourly.lock")
    with open(lock, "a+") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lf.seek(0)
        lf.truncate()
        lf.write("4242\n")
        lf.flush()
        p = run("materialize", iso(T - h), iso(T))
        fcntl.flock(lf, fcntl.LOCK_UN)
    check("a second materialization of a running view is refused",
          p.returncode != 0 and "already being materialized (by process 4242)" in p.stderr,
          p.stderr)

    # ---- case 19: stale writes ignored ----
    with open(os.path.join(d, "data", "stats.csv"), "a", newline="") as f:
        w = csv.writer(f)
        w.writerow([1, iso(T - 10 * h), "9.9"])  # older than the stored 0.3 (T-3h)
    p = run("materialize", iso(T - 11 * h), iso(T - 9 * h))
    col, err = online(1)
    check("case 19: an older row never replaces a newer stored one",
          p.returncode == 0 and col is not None and col["values"] == [0.3], (col, p.stderr))

    # ---- table output ----
    p = run("get-online-features", "--features", "driver_hourly:conv_rate", "--entity",
            "driver_id=1", "--entity", "driver_id=77", "--format", "table")
    lines = p.stdout.strip().split("\n")
    check("table format", p.returncode == 0 and lines[0].split() == ["driver_id", "conv_rate"] and
          lines[1].split() == ["1", "0.3"] and "NOT_FOUND" in lines[2], p.stdout + p.stderr)
    p = run("get-online-features", "--features", "driver_hourly:conv_rate", "--entity",
            "driver_id=1,driver_id=2")
    check("a key given twice in a row is a usage error", p.returncode == 2, p.stderr)
    p = run("get-online-features", "--features", "driver_hourly:conv_rate", "--entity",
            "driver_id=x")
    check("a key that is not an Int64 is named",
          p.returncode != 0 and "driver_id" in p.stderr and "Int64" in p.stderr, p.stderr)

    # ---- teardown ----
    p = run("teardown")
    con = sqlite3.connect(os.path.join(d, "data", "online.db"))
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    con.close()
    check("teardown drops the online tables", p.returncode == 0 and not tables, (tables, p.stderr))

    print(f"1..{len(CHECKS)}")
    failed = CHECKS.count(False)
    if not failed:
        shutil.rmtree(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""get-historical-features under --memory-limit: spilling must not change the answer (TAP).

DuckDB (tests/oracle) writes Parquet sources with many small row groups: 60,000 rows of a
view keyed by an Int64 driver, and of a view keyed by (driver, String customer) with
created timestamps and ties. The same request then runs without a limit and under small
limits (so the join keys spill to hash partitions after the first row groups); the CSV
outputs must be byte-identical, the log must show the spill, and no spill file may be
left behind. Usage: spill_parquet.py LARDER ROOT
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

CHECKS = []


def check(name, ok, detail=""):
    CHECKS.append((name, ok, detail))


def main():
    binary = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2])
    oracle = os.path.join(root, "tests", "oracle")
    if not os.path.isdir(os.path.join(oracle, "node_modules", "@duckdb", "node-api")):
        print("1..0 # SKIP DuckDB not installed (npm ci --prefix tests/oracle)")
        return 0
    d = tempfile.mkdtemp(prefix="ldr_spill_")
    os.makedirs(os.path.join(d, "data"))
    os.makedirs(os.path.join(d, "spill"))
    sql = [
        "SELECT setseed(0.17)",
        "COPY (SELECT (hash(i) % 3000)::BIGINT AS driver_id, "
        "TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds((hash(i + 1) % 500000)::BIGINT "
        "* 1000000) AS event_timestamp, random() AS f0, (hash(i) % 100)::BIGINT AS f1 "
        f"FROM range(60000) t(i)) TO '{d}/data/a.parquet' (FORMAT parquet, ROW_GROUP_SIZE 2048)",
        "COPY (SELECT (hash(i + 3) % 500)::BIGINT AS driver_id, 'c' || (hash(i + 5) % 7)::VARCHAR "
        "AS customer_id, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds(((hash(i + 9) % "
        "5000)::BIGINT * 100) * 1000000) AS event_timestamp, TIMESTAMPTZ '2024-01-01 00:00:00+00' "
        "+ to_microseconds((hash(i + 11) % 4)::BIGINT * 1000000) AS created, "
        "CASE WHEN i % 13 = 0 THEN NULL ELSE 'v' || i::VARCHAR END AS g0 "
        f"FROM range(60000) t(i)) TO '{d}/data/b.parquet' (FORMAT parquet, ROW_GROUP_SIZE 1500)",
        "COPY (SELECT (hash(i + 7) % 3100)::BIGINT AS driver_id, 'c' || (hash(i + 2) % 8)::VARCHAR "
        "AS customer_id, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds((hash(i + 13) % "
        "520000)::BIGINT * 1000000) AS event_timestamp FROM range(8000) t(i), range(1 + (i % 9 = 0)::INT) "
        f"u(j)) TO '{d}/entities.parquet' (FORMAT parquet)",
        "SELECT 1",
    ]
    with open(os.path.join(d, "gen.json"), "w") as f:
        json.dump([{"sql": ";\n".join(sql), "out": os.path.join(d, "gen.csv")}], f)
    p = subprocess.run(["node", os.path.join(oracle, "run_sql.mjs"), os.path.join(d, "gen.json")],
                       cwd=oracle, capture_output=True, text=True)
    check("DuckDB generates the data", p.returncode == 0, p.stderr[-500:])
    with open(os.path.join(d, "feature_store.yaml"), "w") as f:
        f.write("project: spill\n")
    with open(os.path.join(d, "defs.yaml"), "w") as f:
        f.write("kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n---\n"
                "kind: Entity\nname: customer\njoin_keys: [customer_id]\nvalue_type: String\n---\n"
                "kind: DataSource\nname: a_src\ntype: file\npath: data/a.parquet\n"
                "timestamp_field: event_timestamp\n---\n"
                "kind: DataSource\nname: b_src\ntype: file\npath: data/b.parquet\n"
                "timestamp_field: event_timestamp\ncreated_timestamp_column: created\n---\n"
                "kind: FeatureView\nname: a\nentities: [driver]\nttl: 1d\nsource: a_src\n"
                "schema:\n  - {name: f0, dtype: Float64}\n  - {name: f1, dtype: Int64}\n---\n"
                "kind: FeatureView\nname: b\nentities: [driver, customer]\nttl: 0\nsource: b_src\n"
                "schema:\n  - {name: g0, dtype: String}\n")
    p = subprocess.run([binary, "apply"], cwd=d, capture_output=True, text=True)
    check("apply", p.returncode == 0, p.stderr)
    base = [binary, "--log-level", "info", "get-historical-features", "--entities",
            "entities.parquet", "--features", "a:f0", "--features", "a:f1", "--features", "b:g0"]

    def run(out, *extra):
        return subprocess.run(base + ["--output", out] + list(extra), cwd=d, capture_output=True,
                              text=True)

    p = run("plain.csv")
    check("retrieval without a limit", p.returncode == 0, p.stderr)
    plain = open(os.path.join(d, "plain.csv"), "rb").read() if p.returncode == 0 else b""
    check("the plain output has every entity row", plain.count(b"\n") > 8000)
    for limit, threads in (("512K", "1"), ("512K", "2"), ("64K", "2"), ("2M", "2")):
        out = f"spill_{limit}_{threads}.csv"
        p = run(out, "--memory-limit", limit, "--spill-dir", os.path.join(d, "spill"),
                "--threads", threads)
        check(f"--memory-limit {limit} --threads {threads} succeeds", p.returncode == 0, p.stderr)
        if p.returncode != 0:
            continue
        check(f"--memory-limit {limit} spills", "spilling to" in p.stderr, p.stderr)
        got = open(os.path.join(d, out), "rb").read()
        check(f"--memory-limit {limit} --threads {threads}: output identical", got == plain,
              f"{len(got)} vs {len(plain)} bytes")
        left = os.listdir(os.path.join(d, "spill"))
        check(f"--memory-limit {limit}: spill files removed", not left, str(left[:5]))
    p = run("big.csv", "--memory-limit", "4G")
    check("a generous limit does not spill", p.returncode == 0 and "spilling" not in p.stderr,
          p.stderr)
    for bad in ("0", "12Q", "-5", "M", "99999999999999999999G"):
        p = run("x.csv", "--memory-limit", bad)
        check(f"--memory-limit {bad!r} is a usage error", p.returncode == 2 and
              "--memory-limit" in p.stderr, p.stderr)
    p = run("x.csv", "--memory-limit", "1M", "--spill-dir", os.path.join(d, "missing", "dir"))
    check("an unusable spill directory is a clear error",
          p.returncode != 0 and "spill directory" in p.stderr, p.stderr)

    failed = 0
    for i, (name, ok, detail) in enumerate(CHECKS, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
        if not ok:
            failed += 1
            for line in detail.strip().split("\n")[-8:]:
                print(f"#   {line}")
    print(f"1..{len(CHECKS)}")
    if not failed:
        shutil.rmtree(d) if not os.environ.get("KEEP") else print("# kept", d)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench/pit: point-in-time join, Larder vs DuckDB, side by side on the same Parquet files.

Usage: bench/pit/run.py [--larder build/larder] [--repeat 5] [--threads 1,2]
                        [--quick] [--workdir DIR]

Workloads (data generated once by DuckDB into WORKDIR, reused by later runs):
  pit-1m-10m   1 M entity rows x 10 M feature rows x 10 Float64 features, 100 k drivers,
               ttl 0 (the issue's headline workload)
  asof-5m-5m   5 M x 5 M, 1 feature, 10 k keys (the size of DuckDB's ASOF benchmark)
Larder's timing is its whole process (start, read Parquet, join, write the Parquet
result): `larder get-historical-features`. DuckDB's is its own time inside
`node run_sql.mjs` (database creation, read, `ASOF LEFT JOIN`, write Parquet), leaving out
node's ~1 s start-up, with the same thread count; its RSS includes node's (~50 MiB). Event timestamps are unique per key and there
is no created column, so ASOF semantics equal Feast's. Runs alternate (L, D, L, D, ...),
>= 5 each; the script prints medians, the ratio Larder/DuckDB and each side's peak RSS,
and checks both results have the same checksum (order-independent: count, and sums of
every feature column and of the key, computed by DuckDB over each result file).
--quick divides sizes by 20 (for a smoke test).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORACLE = os.path.join(ROOT, "tests", "oracle")


def duck(sql_list, threads=1):
    """Runs SQL statements through DuckDB (node). The last statement's result is returned
    as rows of text."""
    job = os.path.join(ARGS.workdir, "job.json")
    out = os.path.join(ARGS.workdir, "job_out.csv")
    with open(job, "w") as f:
        json.dump([{"sql": ";\n".join([f"SET threads={threads}"] + sql_list), "out": out}], f)
    p = subprocess.run(["node", os.path.join(ORACLE, "run_sql.mjs"), job], cwd=ORACLE,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"duckdb failed: {p.stderr}")
    with open(out) as f:
        return [l.rstrip("\n").split(",") for l in f][1:]


def measure(cmd, cwd, inner=False):
    """Runs cmd in a wrapper that reports its own child's peak RSS. With inner, the time
    is the one the command prints itself (run_sql.mjs: DuckDB's own time, without node's
    start-up), else the whole process's wall time."""
    wrapper = ("import resource,subprocess,sys,time;t=time.perf_counter();"
               "p=subprocess.run(sys.argv[1:],capture_output=True);"
               "d=time.perf_counter()-t;"
               "r=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
               "sys.stderr.buffer.write(p.stderr);"
               "print(d,r,p.returncode)")
    wrapper = wrapper.replace("print(d,r,p.returncode)",
                              "sys.stdout.buffer.write(p.stdout);print(d,r,p.returncode)")
    p = subprocess.run([sys.executable, "-c", wrapper] + cmd, cwd=cwd, capture_output=True,
                       text=True)
    lines = p.stdout.strip().split("\n")
    secs, rss_kb, rc = lines[-1].split()
    if int(rc) != 0:
        sys.exit(f"{' '.join(cmd[:2])} failed: {p.stderr[-2000:]}")
    if inner:
        secs = json.loads(lines[-2])["ms"] / 1000
    return float(secs), int(rss_kb) / 1024


def generate(name, n_ent, n_rows, n_feat, n_keys):
    d = os.path.join(ARGS.workdir, name)
    marker = os.path.join(d, "ready")
    if os.path.exists(marker):
        return d
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    feats = ", ".join(f"random() AS f{i}" for i in range(n_feat))
    duck([
        "SELECT setseed(0.42)",
        f"COPY (SELECT (hash(i) % {n_keys})::BIGINT AS driver_id, "
        f"TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds(i * 3000000) AS event_timestamp, "
        f"{feats} FROM range({n_rows}) t(i)) TO '{d}/data/features.parquet' "
        f"(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1048576)",
        f"COPY (SELECT (hash(i + 7) % {n_keys + n_keys // 50})::BIGINT AS driver_id, "
        f"TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds((hash(i + 13) % "
        f"{n_rows * 3})::BIGINT * 1000000) AS event_timestamp FROM range({n_ent}) t(i)) "
        f"TO '{d}/entities.parquet' (FORMAT parquet, COMPRESSION snappy)",
        "SELECT 1",
    ], threads=2)
    schema = "".join(f"  - {{name: f{i}, dtype: Float64}}\n" for i in range(n_feat))
    with open(os.path.join(d, "feature_store.yaml"), "w") as f:
        f.write(f"project: bench_{name.replace('-', '_')}\n")
    with open(os.path.join(d, "defs.yaml"), "w") as f:
        f.write("kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n---\n"
                "kind: DataSource\nname: src\ntype: file\npath: data/features.parquet\n"
                "timestamp_field: event_timestamp\n---\n"
                f"kind: FeatureView\nname: stats\nentities: [driver]\nttl: 0\nsource: src\n"
                f"schema:\n{schema}")
    subprocess.run([ARGS.larder, "apply"], cwd=d, check=True, capture_output=True)
    open(marker, "w").close()
    return d


def checksum(path, n_feat):
    sums = ", ".join(f"round(sum(f{i}), 3)" for i in range(n_feat))
    return duck([f"SELECT count(*), sum(driver_id), count(f0), {sums} FROM read_parquet('{path}')"])


def run(name, n_ent, n_rows, n_feat, n_keys):
    d = generate(name, n_ent, n_rows, n_feat, n_keys)
    feats = [a for i in range(n_feat) for a in ("--features", f"stats:f{i}")]
    fcols = ", ".join(f"s.f{i}" for i in range(n_feat))
    results = []
    for threads in ARGS.threads:
        job = os.path.join(d, f"duck_job_{threads}.json")
        with open(job, "w") as f:
            json.dump([{"sql": f"SET threads={threads};\nSELECT e.driver_id, e.event_timestamp, "
                        f"{fcols} FROM read_parquet('{d}/entities.parquet') e ASOF LEFT JOIN "
                        f"read_parquet('{d}/data/features.parquet') s ON e.driver_id = s.driver_id "
                        f"AND e.event_timestamp >= s.event_timestamp",
                        "out": os.path.join(d, "duck_out.parquet")}], f)
        lcmd = [ARGS.larder, "get-historical-features", "--entities", "entities.parquet",
                "--threads", str(threads), "--output", "larder_out.parquet"] + feats
        dcmd = ["node", os.path.join(ORACLE, "run_sql.mjs"), job]
        lt, dt, lr, dr = [], [], [], []
        for _ in range(ARGS.repeat):
            s, r = measure(lcmd, d)
            lt.append(s)
            lr.append(r)
            s, r = measure(dcmd, ORACLE, inner=True)
            dt.append(s)
            dr.append(r)
        lc = checksum(os.path.join(d, "larder_out.parquet"), n_feat)
        dc = checksum(os.path.join(d, "duck_out.parquet"), n_feat)
        ok = "same" if lc == dc else f"DIFFERENT: larder {lc} duckdb {dc}"
        lm, dm = statistics.median(lt), statistics.median(dt)
        results.append((name, threads, lm, dm, max(lr), max(dr), ok))
        print(f"{name:12} threads={threads}  larder {lm:7.3f} s  duckdb {dm:7.3f} s  "
              f"ratio {lm / dm:5.2f}  RSS larder {max(lr):6.0f} MiB  duckdb {max(dr):6.0f} MiB  "
              f"checksum {ok}", flush=True)
    return results


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--larder", default=os.path.join(ROOT, "build", "larder"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench-pit"))
    ap.add_argument("--only", default="")
    ARGS = ap.parse_args()
    ARGS.larder = os.path.abspath(ARGS.larder)
    ARGS.threads = [int(t) for t in ARGS.threads.split(",")]
    if not os.path.isdir(os.path.join(ORACLE, "node_modules", "@duckdb")):
        sys.exit("bench/pit: DuckDB is not installed (make deps)")
    os.makedirs(ARGS.workdir, exist_ok=True)
    div = 20 if ARGS.quick else 1
    work = [("pit-1m-10m", 1000000 // div, 10000000 // div, 10, 100000 // div),
            ("asof-5m-5m", 5000000 // div, 5000000 // div, 1, 10000)]
    for w in work:
        if ARGS.only and ARGS.only != w[0]:
            continue
        run(*w)


if __name__ == "__main__":
    main()

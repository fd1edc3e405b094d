#!/usr/bin/env python3
"""bench/redis -- the Redis online store against Redis's own tools, side by side.

  python3 bench/redis/run.py [--quick] [--larder build/larder] [materialize|serve|all]

materialize  rows/s of `larder materialize` of N drivers x 10 Float64 features (CSV source,
             one row per driver) into an empty redis-server, against `redis-cli --pipe`
             of the same HSETs (the same keys, fields and Value/Timestamp bytes, generated
             here: v3 key + project, murmur3 field names) into an empty redis-server.
             Larder's time is the whole command (reading the CSV, the winner pass, the
             newer-wins compare-and-set: WATCH/MULTI transactions on a standalone server);
             redis-cli's is the pipe alone. redis-server
             pinned to CPU 1, the client to CPU 0; FLUSHALL before each run; 5
             alternations, medians. Target: ratio >= 0.8.
serve        req/s of `larder serve` (1 worker, Redis store) for 1 entity x 10 features
             with wrk at 64 connections, against redis-benchmark's HMGET of the same 12
             fields (10 features, _ts, _created_ts) of the same hash at 64 connections,
             no pipelining. Larder and redis-server share CPU 1 (the client has CPU 0);
             5 alternations, medians. Reported, no target: Larder adds HTTP, JSON and a
             Redis round trip per request.
Needs redis-server, redis-cli, redis-benchmark and wrk; parts missing a tool are skipped.
"""
import argparse
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench", "serve"))
import redis_servers  # noqa: E402

T0 = 1_700_000_000
PROJECT = "bench"
VIEW = "fv10"


def murmur3_32(data, seed=0):
    c1, c2, h, n = 0xCC9E2D51, 0x1B873593, seed, len(data)
    for i in range(0, n - n % 4, 4):
        k = struct.unpack_from("<I", data, i)[0]
        k = (k * c1) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        h ^= (k * c2) & 0xFFFFFFFF
        h = ((h << 13) | (h >> 19)) & 0xFFFFFFFF
        h = (h * 5 + 0xE6546B64) & 0xFFFFFFFF
    tail, k = data[n - n % 4:], 0
    for i in reversed(range(len(tail))):
        k = (k << 8) | tail[i]
    if tail:
        k = (k * c1) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        h ^= (k * c2) & 0xFFFFFFFF
    h ^= n
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def varint(x):
    x &= (1 << 64) - 1
    out = bytearray()
    while x >= 0x80:
        out.append((x & 0x7F) | 0x80)
        x >>= 7
    out.append(x)
    return bytes(out)


def entity_key(i):
    name = b"driver_id"
    return (struct.pack("<III", 1, 2, len(name)) + name + struct.pack("<II", 4, 8) +
            struct.pack("<q", i) + PROJECT.encode())


def value(i, f):
    return b"\x29" + struct.pack("<d", i / 8 + f)


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def make_repo(tmp, n, port):
    d = os.path.join(tmp, f"repo_{port}")
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    with open(os.path.join(d, "feature_store.yaml"), "w") as f:
        f.write(f"project: {PROJECT}\nregistry: data/registry.db\nonline_store: "
                f"{{type: redis, connection_string: \"127.0.0.1:{port}\"}}\n")
    with open(os.path.join(d, "defs.yaml"), "w") as f:
        f.write("kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n---\n"
                "kind: DataSource\nname: stats\ntype: file\npath: data/stats.csv\n"
                "timestamp_field: event_timestamp\n---\n"
                f"kind: FeatureView\nname: {VIEW}\nentities: [driver]\nttl: 0\nsource: stats\n"
                "schema:\n" + "".join(f"  - {{name: f{i}, dtype: Float64}}\n" for i in range(10)))
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0))
    with open(os.path.join(d, "data", "stats.csv"), "w") as f:
        f.write("driver_id,event_timestamp," + ",".join(f"f{i}" for i in range(10)) + "\n")
        for i in range(n):
            f.write(f"{i},{ts}," + ",".join(repr(i / 8 + k) for k in range(10)) + "\n")
    subprocess.run([LARDER[0], "-c", d, "apply"], check=True, capture_output=True)
    return d


def pipe_file(tmp, n):
    fields = [struct.pack("<I", murmur3_32(f"{VIEW}:f{k}".encode())) for k in range(10)]
    ts = b"\x08" + varint(T0)
    path = os.path.join(tmp, "hset.resp")
    with open(path, "wb") as f:
        for i in range(n):
            args = [b"HSET", entity_key(i), f"_ts:{VIEW}".encode(), ts]
            for k in range(10):
                args += [fields[k], value(i, k)]
            f.write(resp(*args))
    return path


def start_redis(port):
    p = subprocess.Popen(["taskset", "-c", "1", "redis-server", "--port", str(port), "--save", "",
                          "--appendonly", "no", "--bind", "127.0.0.1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if redis_servers.command(port, "PING") == "PONG":
                return p
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("redis-server did not start")


def materialize(tmp, quick):
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        print("materialize: SKIP (needs redis-server and redis-cli)")
        return None
    n = 50_000 if quick else 200_000
    port = redis_servers.free_port()
    pr = start_redis(port)
    repo = make_repo(tmp, n, port)
    pipe = pipe_file(tmp, n)
    larder_rps, cli_rps = [], []
    try:
        for i in range(5):
            for which in (("l", "c") if i % 2 == 0 else ("c", "l")):
                redis_servers.command(port, "FLUSHALL")
                t = time.perf_counter()
                if which == "l":
                    subprocess.run(["taskset", "-c", "0", LARDER[0], "-c", repo, "materialize",
                                    "2023-01-01T00:00:00Z", "2024-01-01T00:00:00Z"], check=True,
                                   capture_output=True)
                    larder_rps.append(n / (time.perf_counter() - t))
                else:
                    with open(pipe, "rb") as f:
                        subprocess.run(["taskset", "-c", "0", "redis-cli", "-p", str(port),
                                        "--pipe"], stdin=f, check=True, capture_output=True)
                    cli_rps.append(n / (time.perf_counter() - t))
                keys = int(redis_servers.command(port, "DBSIZE")) - len(
                    redis_servers.command(port, "KEYS", "larder:write_epoch:*"))
                if keys != n:
                    raise RuntimeError(f"{keys} entity keys after a run, not {n}")
            print(f"  run {i + 1}: Larder {larder_rps[-1]:.0f} rows/s, redis-cli --pipe "
                  f"{cli_rps[-1]:.0f} rows/s", flush=True)
    finally:
        pr.kill()
        pr.wait()
    lr, cr = median(larder_rps), median(cli_rps)
    print(f"(1) materialize {n} rows x 10 features into Redis: Larder {lr:.0f} rows/s, "
          f"redis-cli --pipe of the same HSETs {cr:.0f} rows/s, ratio {lr / cr:.2f} "
          f"(target >= 0.8)")
    return lr, cr


def serve(tmp, quick):
    if not (shutil.which("wrk") and shutil.which("redis-benchmark")):
        print("serve: SKIP (needs wrk and redis-benchmark)")
        return None
    import run as serve_bench  # bench/serve/run.py: wrk helpers
    port = redis_servers.free_port()
    pr = start_redis(port)
    repo = make_repo(tmp, 1000, port)
    subprocess.run([LARDER[0], "-c", repo, "materialize", "2023-01-01T00:00:00Z",
                    "2024-01-01T00:00:00Z"], check=True, capture_output=True)
    port_l = serve_bench.free_port()
    pl = serve_bench.start_larder(LARDER[0], repo, port_l, workers=1, cpu="1")
    body = ('{"features": [' + ", ".join(f'"{VIEW}:f{i}"' for i in range(10)) +
            '], "entities": {"driver_id": [7]}}')
    script = serve_bench.lua_post("/get-online-features", body, tmp, "single_redis")
    fields = [struct.pack("<I", murmur3_32(f"{VIEW}:f{k}".encode())) for k in range(10)]
    fields += [f"_ts:{VIEW}".encode(), f"_created_ts:{VIEW}".encode()]
    # redis-benchmark takes its arguments as text: fields with arbitrary bytes cannot be
    # passed, so the baseline reads a copy of the hash under printable field names.
    key = entity_key(7)
    vals = redis_servers.command(port, b"HMGET", key, *fields)
    copy = [b"HSET", b"bench:7"]
    for k in range(12):
        copy += [b"field%d" % k, (vals[k] or "").encode("latin-1", "replace")]
    redis_servers.command(port, *copy)
    secs = 3 if quick else 10
    n_cmds = 100_000 if quick else 400_000
    lr, rr = [], []
    try:
        serve_bench.wrk(port_l, script, 64, 2)
        for i in range(5):
            for which in (("l", "r") if i % 2 == 0 else ("r", "l")):
                if which == "l":
                    rps, _, bad, out = serve_bench.wrk(port_l, script, 64, secs)
                    if bad:
                        print(f"  {bad} non-2xx responses:\n{out}")
                    lr.append(rps)
                else:
                    out = subprocess.run(
                        ["taskset", "-c", "0", "redis-benchmark", "-p", str(port), "-q", "-c",
                         "64", "-n", str(n_cmds), "HMGET", "bench:7"] +
                        [f"field{k}" for k in range(12)], capture_output=True, text=True).stdout
                    rr.append(float(re.findall(r"([\d.]+) requests per second", out)[-1]))
            print(f"  run {i + 1}: Larder {lr[-1]:.0f} req/s, redis-benchmark HMGET "
                  f"{rr[-1]:.0f} req/s", flush=True)
    finally:
        serve_bench.stop(pl)
        pr.kill()
        pr.wait()
    print(f"(2) 1 entity x 10 features at 64 connections: larder serve (Redis store) "
          f"{median(lr):.0f} req/s, redis-benchmark HMGET of the same 12 fields "
          f"{median(rr):.0f} req/s, ratio {median(lr) / median(rr):.2f}")
    return lr, rr


LARDER = ["build/larder"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--larder", default=os.path.join(ROOT, "build", "larder"))
    ap.add_argument("what", nargs="?", default="all",
                    choices=["materialize", "serve", "all"])
    a = ap.parse_args()
    LARDER[0] = os.path.abspath(a.larder)
    tmp = tempfile.mkdtemp(prefix="ldr_bench_redis_")
    try:
        if a.what in ("materialize", "all"):
            materialize(tmp, a.quick)
        if a.what in ("serve", "all"):
            serve(tmp, a.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

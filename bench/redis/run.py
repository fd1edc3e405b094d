#!/usr/bin/env python3
"""bench/redis -- the Redis online store against Redis's own tools, side by side.

  python3 bench/redis/run.py [--quick] [--larder build/larder] [--modes larder,none]
                             [materialize|serve|contention|all]

materialize  rows/s of `larder materialize` of N drivers x 10 Float64 features (CSV source,
             one row per driver) into an empty redis-server, against `redis-cli --pipe`
             of the same HSETs (the same keys, fields and Value/Timestamp bytes, generated
             here: v3 key + project, murmur3 field names) into an empty redis-server, for
             each concurrent_writers mode of --modes (larder: transactions guarded by write
             epochs, the default; any: by WATCH of every key; none: Feast's unguarded
             read-then-write). Larder's time is the whole command (reading the CSV, the
             winner pass, the newer-wins writes); redis-cli's is the pipe alone.
             redis-server pinned to CPU 1, the client to CPU 0; FLUSHALL before each run;
             5 rounds, the order rotated each round; medians, and redis-server's own CPU
             time (INFO cpu) against the pipe's. Target: ratio >= 0.8.
serve        req/s of `larder serve` (1 worker, Redis store) for 1 entity x 10 features
             with wrk at 64 connections, against redis-benchmark's HMGET of the same 12
             fields (10 features, _ts, _created_ts) of the same hash at 64 connections,
             no pipelining. Larder and redis-server share CPU 1 (the client has CPU 0);
             5 alternations, medians. Reported, no target: Larder adds HTTP, JSON and a
             Redis round trip per request.
contention   (not part of all) redis-server's CPU time for the same pipe with CPU 0 idle
             and with a busy loop on CPU 0: on a machine whose two CPUs share a core, any
             client work slows Redis down.
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


def make_repo(tmp, n, port, writers="larder"):
    d = os.path.join(tmp, f"repo_{port}_{writers}")
    os.makedirs(os.path.join(d, "data"), exist_ok=True)
    with open(os.path.join(d, "feature_store.yaml"), "w") as f:
        f.write(f"project: {PROJECT}\nregistry: data/registry.db\nonline_store: "
                f"{{type: redis, connection_string: \"127.0.0.1:{port}\", "
                f"concurrent_writers: {writers}}}\n")
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


def redis_cpu(port):
    info = redis_servers.command(port, "INFO", "cpu")
    d = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
    return float(d["used_cpu_user"]) + float(d["used_cpu_sys"])


def materialize(tmp, quick, modes):
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        print("materialize: SKIP (needs redis-server and redis-cli)")
        return None
    n = 50_000 if quick else 200_000
    port = redis_servers.free_port()
    pr = start_redis(port)
    repos = {m: make_repo(tmp, n, port, m) for m in modes}
    pipe = pipe_file(tmp, n)
    runs = ["pipe"] + list(modes)
    rps = {r: [] for r in runs}
    cpu = {r: [] for r in runs}
    try:
        for i in range(5):
            order = runs[i % len(runs):] + runs[:i % len(runs)]  # rotated each round
            for which in order:
                redis_servers.command(port, "FLUSHALL")
                c0 = redis_cpu(port)
                t = time.perf_counter()
                if which == "pipe":
                    with open(pipe, "rb") as f:
                        subprocess.run(["taskset", "-c", "0", "redis-cli", "-p", str(port),
                                        "--pipe"], stdin=f, check=True, capture_output=True)
                else:
                    subprocess.run(["taskset", "-c", "0", LARDER[0], "-c", repos[which],
                                    "materialize", "2023-01-01T00:00:00Z",
                                    "2024-01-01T00:00:00Z"], check=True, capture_output=True)
                rps[which].append(n / (time.perf_counter() - t))
                cpu[which].append(redis_cpu(port) - c0)
                keys = int(redis_servers.command(port, "DBSIZE")) - len(
                    redis_servers.command(port, "KEYS", "larder:write_epoch:*"))
                if keys != n:
                    raise RuntimeError(f"{which}: {keys} entity keys after a run, not {n}")
            print(f"  run {i + 1}: redis-cli --pipe {rps['pipe'][-1]:.0f} rows/s; " +
                  "; ".join(f"Larder ({m}) {rps[m][-1]:.0f} rows/s" for m in modes), flush=True)
    finally:
        pr.kill()
        pr.wait()
    cr = median(rps["pipe"])
    out = {}
    for m in modes:
        lr = median(rps[m])
        per_round = median([a / b for a, b in zip(rps[m], rps["pipe"])])
        cpu_ratio = median([a / b for a, b in zip(cpu[m], cpu["pipe"])])
        print(f"(1) materialize {n} rows x 10 features into Redis, concurrent_writers: {m}: "
              f"Larder {lr:.0f} rows/s, redis-cli --pipe of the same HSETs {cr:.0f} rows/s, "
              f"ratio {lr / cr:.2f} (median of per-round ratios {per_round:.2f}; "
              f"redis-server CPU {cpu_ratio:.2f}x the pipe's) (target >= 0.8)")
        out[m] = (lr, cr)
    return out


def contention(quick):
    """How much a busy CPU 0 (the client's) slows redis-server on CPU 1: the same pipe
    of HSETs with CPU 0 idle and with a busy loop on it, alternating, 5 rounds."""
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        print("contention: SKIP (needs redis-server and redis-cli)")
        return None
    n = 50_000 if quick else 200_000
    port = redis_servers.free_port()
    pr = start_redis(port)
    tmp = tempfile.mkdtemp(prefix="ldr_bench_redis_")
    pipe = pipe_file(tmp, n)
    cpu = {False: [], True: []}
    try:
        for i in range(5):
            for busy in ((False, True) if i % 2 == 0 else (True, False)):
                burner = subprocess.Popen(["taskset", "-c", "0", "sh", "-c",
                                           "while :; do :; done"]) if busy else None
                try:
                    redis_servers.command(port, "FLUSHALL")
                    c0 = redis_cpu(port)
                    with open(pipe, "rb") as f:
                        subprocess.run(["taskset", "-c", "0", "redis-cli", "-p", str(port),
                                        "--pipe"], stdin=f, check=True, capture_output=True)
                    cpu[busy].append(redis_cpu(port) - c0)
                finally:
                    if burner:
                        burner.kill()
                        burner.wait()
    finally:
        pr.kill()
        pr.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    idle, busy = median(cpu[False]), median(cpu[True])
    print(f"(c) redis-server CPU for the pipe of {n} HSETs: {idle:.2f} s with CPU 0 idle, "
          f"{busy:.2f} s with a busy loop on CPU 0 ({busy / idle:.2f}x)")
    return idle, busy


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
    ap.add_argument("--modes", default="larder,none",
                    help="concurrent_writers modes to materialize with (comma-separated: "
                         "larder, any, none; default larder,none)")
    ap.add_argument("what", nargs="?", default="all",
                    choices=["materialize", "serve", "contention", "all"])
    a = ap.parse_args()
    LARDER[0] = os.path.abspath(a.larder)
    tmp = tempfile.mkdtemp(prefix="ldr_bench_redis_")
    try:
        if a.what in ("materialize", "all"):
            materialize(tmp, a.quick, [m for m in a.modes.split(",") if m])
        if a.what == "contention":
            contention(a.quick)
        if a.what in ("serve", "all"):
            serve(tmp, a.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

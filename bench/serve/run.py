#!/usr/bin/env python3
"""bench/serve -- `larder serve` side by side with nginx and Redis, its start-up time, and
a 60-second mixed load test with an apply in the middle.

  python3 bench/serve/run.py [--quick] [--larder build/larder] [compare|redis|startup|load|all]

compare  (1) one entity x 10 features: Larder (1 worker; default, and with --busy-poll 200)
         vs nginx (1 worker) returning the same response body with `return 200`, all pinned
         to CPU 1, wrk pinned to CPU 0; 64 connections for req/s and 1 connection for p50;
         5 rounds, the order rotated each round, medians.
redis    (2) 100 entities x 50 features: feature values per second of Larder vs
         redis-benchmark's pipelined HMGET of 50 fields (pipeline 100 = 5000 values, the
         same as one Larder request); server on CPU 1, client on CPU 0; 5 alternations.
startup  (3) process start to the first successful get-online-features with 100 views
         registered; 5 runs, median.
load     wrk, 64 connections, 60 s (10 s with --quick), mixed endpoints (single and batch
         reads, pushes, health, metrics), an `apply` half-way; prints non-2xx responses,
         socket errors and RSS every 5 s (stable = within 10% after 10 s of warm-up).
Needs wrk, nginx, redis-server and redis-benchmark (Debian: wrk nginx-light redis-server
redis-tools); parts whose tools are missing are skipped with a note.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
N_DRIVERS = 1000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def defs_yaml(n_extra_views=0):
    out = ["kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n",
           "kind: DataSource\nname: stats\ntype: file\npath: data/stats.csv\nfile_format: csv\n"
           "timestamp_field: event_timestamp\n",
           "kind: DataSource\nname: stats_push\ntype: push\nbatch_source: stats\n",
           "kind: FeatureView\nname: fv10\nentities: [driver]\nttl: 0\nsource: stats\nschema:\n" +
           "".join(f"  - {{name: f{i}, dtype: Float64}}\n" for i in range(10)),
           "kind: FeatureView\nname: fv50\nentities: [driver]\nttl: 0\nsource: stats\nschema:\n" +
           "".join(f"  - {{name: f{i}, dtype: Float64}}\n" for i in range(50)),
           "kind: FeatureView\nname: pushed\nentities: [driver]\nttl: 0\nsource: stats_push\n"
           "description: v1\nschema:\n" +
           "".join(f"  - {{name: f{i}, dtype: Float64}}\n" for i in range(50))]
    for v in range(n_extra_views):
        out.append(f"kind: FeatureView\nname: extra_{v}\nentities: [driver]\nttl: 0\n"
                   "source: stats\nschema:\n  - {name: f0, dtype: Float64}\n")
    return "---\n".join(out)


def make_repo(larder, tmp, n_extra_views=0):
    repo = os.path.join(tmp, f"repo{n_extra_views}")
    os.makedirs(os.path.join(repo, "data"), exist_ok=True)
    with open(os.path.join(repo, "data", "stats.csv"), "w") as f:
        f.write("driver_id,event_timestamp," + ",".join(f"f{i}" for i in range(50)) + "\n")
        for d in range(N_DRIVERS):
            vals = ",".join(f"{(d * 50 + i) / 7:.6f}" for i in range(50))
            f.write(f"{d},2024-01-01T00:00:00Z,{vals}\n")
    open(os.path.join(repo, "feature_store.yaml"), "w").write(
        "project: bench\nregistry: data/registry.db\n"
        "online_store: {type: sqlite, path: data/online.db}\n")
    open(os.path.join(repo, "defs.yaml"), "w").write(defs_yaml(n_extra_views))
    for args in (["apply"], ["materialize-incremental", "now"]):
        subprocess.run([larder, "-c", repo] + args, check=True, capture_output=True)
    return repo


def single_body():
    return json.dumps({"features": [f"fv10:f{i}" for i in range(10)],
                       "entities": {"driver_id": [7]}})


def batch_body():
    return json.dumps({"features": [f"fv50:f{i}" for i in range(50)],
                       "entities": {"driver_id": list(range(100, 200))}})


def lua_post(path, body, tmp, name):
    p = os.path.join(tmp, name + ".lua")
    with open(p, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.path = "{path}"\nwrk.body = [==[{body}]==]\n')
    return p


def start_larder(larder, repo, port, workers=1, cpu="1", extra=()):
    cmd = [larder, "-c", repo, "serve", "--port", str(port), "--workers", str(workers),
           "--log-format", "plain"] + list(extra)
    if cpu is not None:
        cmd = ["taskset", "-c", cpu] + cmd
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def wait_port(port, timeout=20):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def stop(p):
    if p and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read()


def wrk(port, script, conns, secs, path="/"):
    cmd = ["taskset", "-c", "0", "wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency", "-s",
           script, f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p50.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p50.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0, out


def nginx_start(tmp, port, body):
    prefix = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location = /get-online-features {{
      default_type application/json;
      return 200 '{body}';
    }}
  }}
}}
""")
    p = subprocess.Popen(["taskset", "-c", "1", "nginx", "-p", prefix, "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def median(xs):
    return statistics.median(xs) if xs else float("nan")


BUSY_POLL_US = 200


def compare(larder, tmp, quick):
    if not shutil.which("wrk") or not shutil.which("nginx"):
        print("compare: SKIP (needs wrk and nginx)")
        return None
    repo = make_repo(larder, tmp)
    port_l, port_b, port_n = free_port(), free_port(), free_port()
    pl = start_larder(larder, repo, port_l)
    pb = start_larder(larder, repo, port_b, extra=["--busy-poll", str(BUSY_POLL_US)])
    _, resp = post(port_l, "/get-online-features", single_body())
    pn = nginx_start(tmp, port_n, resp.decode())
    script = lua_post("/get-online-features", single_body(), tmp, "single")
    secs = 3 if quick else 10
    names = {"larder": port_l, "larder-bp": port_b, "nginx": port_n}
    res = {k: {"rps": [], "p50": []} for k in names}
    try:
        for port in names.values():
            wrk(port, script, 64, 2)
        for i in range(5):
            order = list(names.items())
            order = order[i % 3:] + order[:i % 3]  # rotate who goes first
            for name, port in order:
                rps, _, bad, out = wrk(port, script, 64, secs)
                _, p50, _, _ = wrk(port, script, 1, max(2, secs // 2))
                res[name]["rps"].append(rps)
                res[name]["p50"].append(p50)
                if bad:
                    print(f"compare: {name}: {bad} non-2xx responses\n{out}")
                print(f"  run {i + 1} {name}: {rps:.0f} req/s, p50 at 1 conn {p50:.3f} ms",
                      flush=True)
    finally:
        stop(pl)
        stop(pb)
        stop(pn)
    nr, np_ = median(res["nginx"]["rps"]), median(res["nginx"]["p50"])
    for name, label in (("larder", "Larder"),
                        ("larder-bp", f"Larder --busy-poll {BUSY_POLL_US}")):
        lr, lp = median(res[name]["rps"]), median(res[name]["p50"])
        print(f"(1) 1 entity x 10 features, response {len(resp)} B: {label} {lr:.0f} req/s, "
              f"nginx {nr:.0f} req/s, ratio {lr / nr:.2f} (target >= 1.2); p50 at 1 connection "
              f"{lp:.3f} ms, nginx {np_:.3f} ms, ratio {lp / np_:.2f} (target <= 1.2)")
    return res


def redis_cmp(larder, tmp, quick):
    if not (shutil.which("wrk") and shutil.which("redis-server") and
            shutil.which("redis-benchmark")):
        print("redis: SKIP (needs wrk, redis-server and redis-benchmark)")
        return None
    repo = make_repo(larder, tmp)
    port_l, port_r = free_port(), free_port()
    pl = start_larder(larder, repo, port_l)
    pr = subprocess.Popen(["taskset", "-c", "1", "redis-server", "--port", str(port_r), "--save",
                           "", "--appendonly", "no", "--bind", "127.0.0.1"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port_r)
    fields = [f"f{i}" for i in range(50)]
    args = []
    for i, f in enumerate(fields):
        args += [f, str(i / 7)]
    subprocess.run(["redis-cli", "-p", str(port_r), "HSET", "driver:7"] + args, check=True,
                   capture_output=True)
    script = lua_post("/get-online-features", batch_body(), tmp, "batch")
    secs = 3 if quick else 10
    n_cmds = 100000 if quick else 400000
    lv, rv = [], []
    try:
        for i in range(5):
            for which in (("l", "r") if i % 2 == 0 else ("r", "l")):
                if which == "l":
                    rps, _, bad, _ = wrk(port_l, script, 64, secs)
                    lv.append(rps * 5000)
                else:
                    out = subprocess.run(
                        ["taskset", "-c", "0", "redis-benchmark", "-p", str(port_r), "-q", "-c",
                         "64", "-P", "100", "-n", str(n_cmds), "HMGET", "driver:7"] + fields,
                        capture_output=True, text=True).stdout
                    m = re.findall(r"([\d.]+) requests per second", out)
                    rv.append(float(m[-1]) * 50)
            print(f"  run {i + 1}: Larder {lv[-1] / 1e6:.2f} M values/s, Redis "
                  f"{rv[-1] / 1e6:.2f} M values/s", flush=True)
    finally:
        stop(pl)
        stop(pr)
    print(f"(2) 100 entities x 50 features: Larder {median(lv) / 1e6:.2f} M values/s, Redis "
          f"pipelined HMGET {median(rv) / 1e6:.2f} M values/s, ratio "
          f"{median(lv) / median(rv):.2f} (target >= 1)")
    return lv, rv


def startup(larder, tmp, quick):
    repo = make_repo(larder, tmp, n_extra_views=97)  # 100 views in all
    body = single_body().encode()
    times = []
    for _ in range(5):
        port = free_port()
        t0 = time.perf_counter()
        p = subprocess.Popen([larder, "-c", repo, "serve", "--port", str(port), "--workers", "2",
                              "--log-format", "plain"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = None
        while time.perf_counter() - t0 < 10:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                s.sendall(b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Length: "
                          b"%d\r\n\r\n" % len(body) + body)
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    t1 = time.perf_counter()
                s.close()
                if t1:
                    break
            except OSError:
                time.sleep(0.001)
        stop(p)
        times.append((t1 - t0) * 1000 if t1 else float("inf"))
    print(f"(3) start to first successful response, 100 views: median {median(times):.1f} ms "
          f"(runs: {', '.join(f'{t:.1f}' for t in times)}; target <= 50 ms)")
    return times


def rss_kib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


MIXED_LUA = r"""
local n = 0
local bodies = {}
local paths = {}
wrk.headers["Content-Type"] = "application/json"
function init(args)
  local single = args[1]
  local batch = args[2]
  local push = args[3]
  paths = {"/get-online-features", "/get-online-features", "/get-online-features",
           "/get-online-features", "/get-online-features", "/get-online-features",
           "/get-online-features", "/push", "/health", "/get-online-features"}
  bodies = {single, single, single, single, single, batch, single, push, nil, batch}
end
function request()
  n = n + 1
  local i = (n % 10) + 1
  if paths[i] == "/health" then
    if n % 100 == 9 then return wrk.format("GET", "/metrics") end
    return wrk.format("GET", "/health")
  end
  return wrk.format("POST", paths[i], nil, bodies[i])
end
"""


def load(larder, tmp, quick):
    if not shutil.which("wrk"):
        print("load: SKIP (needs wrk)")
        return None
    repo = make_repo(larder, tmp)
    port = free_port()
    p = start_larder(larder, repo, port, workers=2, cpu=None)
    script = os.path.join(tmp, "mixed.lua")
    open(script, "w").write(MIXED_LUA)
    push = json.dumps({"push_source_name": "stats_push", "to": "online",
                       "df": dict({"driver_id": [5], "event_timestamp": ["2024-01-02T00:00:00Z"]},
                                  **{f"f{i}": [1.5] for i in range(50)})})
    small = json.dumps({"features": [f"fv10:f{i}" for i in range(10)],
                        "entities": {"driver_id": [7]}})
    secs = 10 if quick else 60
    samples = []
    stop_flag = threading.Event()

    def sample():
        t0 = time.time()
        while not stop_flag.is_set():
            samples.append((time.time() - t0, rss_kib(p.pid)))
            stop_flag.wait(1.0)

    def apply_midway():
        time.sleep(secs / 2)
        with open(os.path.join(repo, "defs.yaml")) as f:
            text = f.read()
        with open(os.path.join(repo, "defs.yaml"), "w") as f:
            f.write(text.replace("description: v1", "description: v2"))
        r = subprocess.run([larder, "-c", repo, "apply"], capture_output=True, text=True)
        print(f"  apply at {secs / 2:.0f} s: exit {r.returncode}", flush=True)

    ts = threading.Thread(target=sample)
    ta = threading.Thread(target=apply_midway)
    ts.start()
    ta.start()
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{secs}s", "-s", script,
                          f"http://127.0.0.1:{port}/", "--", small, batch_body(), push],
                         capture_output=True, text=True).stdout
    stop_flag.set()
    ts.join()
    ta.join()
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    stop(p)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    reloads = re.search(r"larder_registry_reloads_total (\d+)", metrics)
    warm = [r for t, r in samples if t >= 10 and r] or [r for _, r in samples if r]
    spread = (max(warm) - min(warm)) / min(warm) * 100 if warm else float("nan")
    print(f"load: {secs} s, 64 connections, mixed endpoints: "
          f"{float(rps.group(1)) if rps else 0:.0f} req/s, non-2xx: "
          f"{non2xx.group(1) if non2xx else 0}, socket errors: "
          f"{errors.group(1) if errors else 'none'}, registry reloads: "
          f"{reloads.group(1) if reloads else '?'}")
    print("  RSS (MiB) every 5 s: " + ", ".join(
        f"{t:.0f}s {r / 1024:.1f}" for t, r in samples[::5] if r))
    print(f"  RSS after 10 s of warm-up: min {min(warm) / 1024:.1f} MiB, max "
          f"{max(warm) / 1024:.1f} MiB, spread {spread:.1f}% (target <= 10%)")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="?", default="all",
                    choices=["all", "compare", "redis", "startup", "load"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--larder", default=os.path.join(ROOT, "build", "larder"))
    a = ap.parse_args()
    larder = os.path.abspath(a.larder)
    tmp = tempfile.mkdtemp(prefix="ldr_bench_serve_")
    try:
        print(f"bench/serve on {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        for name, fn in (("compare", compare), ("redis", redis_cmp), ("startup", startup),
                         ("load", load)):
            if a.what in ("all", name):
                fn(larder, tmp, a.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

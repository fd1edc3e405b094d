#!/usr/bin/env python3
"""The Redis online store through the CLI and the HTTP server, on real servers (TAP).

- parity: one repository (three views: two sharing the driver key, one on a String
  customer key; nulls, every scalar type) applied and materialized into sqlite, into a
  standalone redis-server and into a 3-node Redis Cluster; get-online-features gives
  byte-identical JSON for the three, also after a second, partly stale materialization;
- the layout: the driver hash holds `_ts:<view>` for both views (shared hash) and the
  feature field named by murmur3 (checked with redis-cli-like raw commands);
- `larder serve` with online_store redis answers /get-online-features like the CLI;
- teardown leaves the Redis empty;
- fault: redis-server is killed (SIGKILL) while a materialization of 300,000 rows writes;
  the materialization fails (non-zero exit, the message names the node 127.0.0.1:PORT);
  redis-server restarts on the same port, a rerun succeeds and the values are right.
Servers are started here (tests/integration/redis_servers.py as a module); without
redis-server every check is a TAP skip.
Usage: online_redis.py LARDER
"""
import csv
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis_servers  # noqa: E402

CHECKS = []
T0 = 1_700_000_000
N_FAULT = 300_000


def check(name, ok, detail=""):
    CHECKS.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(CHECKS)} - {name}")
    if not ok:
        for line in str(detail).strip().split("\n")[-10:]:
            print(f"#   {line}")
    sys.stdout.flush()


def rfc3339(sec):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))


DEFS = """kind: Entity
name: driver
join_keys: [driver_id]
value_type: Int64
---
kind: Entity
name: customer
join_keys: [customer_id]
value_type: String
---
kind: DataSource
name: stats
type: file
path: data/stats.csv
timestamp_field: event_timestamp
created_timestamp_column: created
---
kind: DataSource
name: quality
type: file
path: data/quality.csv
timestamp_field: event_timestamp
---
kind: DataSource
name: profile
type: file
path: data/profile.csv
timestamp_field: event_timestamp
---
kind: FeatureView
name: driver_hourly_stats
entities: [driver]
ttl: 0
source: stats
schema:
  - {name: conv_rate, dtype: Float64}
  - {name: trips, dtype: Int64}
  - {name: note, dtype: String}
  - {name: active, dtype: Bool}
  - {name: last_seen, dtype: UnixTimestamp}
---
kind: FeatureView
name: driver_quality
entities: [driver]
ttl: 0
source: quality
schema:
  - {name: rating, dtype: Float32}
  - {name: level, dtype: Int32}
---
kind: FeatureView
name: customer_profile
entities: [customer]
ttl: 0
source: profile
schema:
  - {name: name, dtype: String}
  - {name: age, dtype: Int64}
"""

FEATURES = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:trips",
            "driver_hourly_stats:note", "driver_hourly_stats:active",
            "driver_hourly_stats:last_seen", "driver_quality:rating", "driver_quality:level",
            "customer_profile:name", "customer_profile:age"]


def write_data(d, late=False):
    """Source files; late=True appends rows: some newer, some stale, some equal-time with
    a newer created timestamp."""
    data = os.path.join(d, "data")
    os.makedirs(data, exist_ok=True)
    mode = "a" if late else "w"
    with open(os.path.join(data, "stats.csv"), mode, newline="") as f:
        w = csv.writer(f)
        if not late:
            w.writerow(["driver_id", "event_timestamp", "created", "conv_rate", "trips", "note",
                        "active", "last_seen"])
            for i in range(1, 41):
                for k in range(3):
                    ts = T0 + 3600 * k + i
                    w.writerow([i, rfc3339(ts), rfc3339(ts), "" if i % 7 == 0 else i / 8 + k,
                                i * 10 + k, "" if i % 5 == 0 else f"n{i}-{k}", str(i % 2 == 0).lower(),
                                rfc3339(T0 - i)])
        else:
            last = T0 + 7200
            w.writerow([1, rfc3339(last + 1 + 5000), rfc3339(last), 99.5, 999, "newer", "true",
                        rfc3339(T0)])
            w.writerow([2, rfc3339(T0 - 100), rfc3339(T0), 0.0, 0, "stale", "false", rfc3339(T0)])
            w.writerow([3, rfc3339(last + 3), rfc3339(last + 9999), 3.25, 33, "tie-newer-created",
                        "true", rfc3339(T0)])
    with open(os.path.join(data, "quality.csv"), mode, newline="") as f:
        w = csv.writer(f)
        if not late:
            w.writerow(["driver_id", "event_timestamp", "rating", "level"])
            for i in range(1, 41, 2):
                w.writerow([i, rfc3339(T0 + i), i / 4, -i])
    with open(os.path.join(data, "profile.csv"), mode, newline="") as f:
        w = csv.writer(f)
        if not late:
            w.writerow(["customer_id", "event_timestamp", "name", "age"])
            for i in range(1, 11):
                w.writerow([f"c{i}", rfc3339(T0 + i), f"Name {i}", 20 + i])


def make_repo(root, name, online):
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "feature_store.yaml"), "w") as f:
        f.write(f"project: rproj\nregistry: data/registry.db\nonline_store: {online}\n")
    with open(os.path.join(d, "defs.yaml"), "w") as f:
        f.write(DEFS)
    write_data(d)
    return d


def run(larder, d, *args, timeout=600):
    return subprocess.run([larder, "-c", d] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def entity_args():
    args = []
    for i in list(range(0, 43)) + [7, 7]:
        args += ["--entity", f"driver_id={i},customer_id=c{i % 13}"]
    return args


def online_json(larder, d):
    args = ["get-online-features", "--format", "json"]
    for f in FEATURES:
        args += ["--features", f]
    p = run(larder, d, *args, *entity_args())
    return p.stdout if p.returncode == 0 else "ERROR " + p.stderr


def dbsize(ports, epochs=False):
    """Keys on the nodes: the entity hashes only, unless epochs (then also Larder's
    `larder:write_epoch:<project>:<shard>` counters, which teardown deletes)."""
    n = 0
    for p in ports:
        n += int(redis_servers.command(p, "DBSIZE"))
        if not epochs:
            n -= len(redis_servers.command(p, "KEYS", "larder:write_epoch:*"))
    return n


def parity(larder, tmp, cs, cluster, ports, ref):
    kind = "cluster" if cluster else "standalone"
    online = ("{type: redis, connection_string: \"%s\"%s}"
              % (cs, ", redis_type: redis_cluster" if cluster else ""))
    d = make_repo(tmp, "redis_" + kind, online)
    p = run(larder, d, "apply")
    check(f"{kind}: apply", p.returncode == 0, p.stderr)
    p = run(larder, d, "materialize", rfc3339(T0 - 86400), rfc3339(T0 + 86400))
    check(f"{kind}: materialize", p.returncode == 0, p.stderr)
    got = online_json(larder, d)
    check(f"{kind}: get-online-features equals sqlite's (JSON, byte for byte)",
          got == ref["first"], f"redis: {got[:600]}\nsqlite: {ref['first'][:600]}")
    write_data(d, late=True)
    p = run(larder, d, "materialize", rfc3339(T0 - 86400), rfc3339(T0 + 86400))
    got = online_json(larder, d)
    check(f"{kind}: after newer, stale and tied rows: equal to sqlite's",
          p.returncode == 0 and got == ref["second"], f"{p.stderr}\n{got[:600]}")
    # 40 driver hashes (shared by both driver views) + 10 customers
    check(f"{kind}: one hash per entity key, shared by views with the same join keys",
          dbsize(ports) == 50, dbsize(ports))
    return d


def check_layout(larder, port):
    # driver_id=1002-style key of driver 1: v3 key bytes then the project name
    key = (b"\x01\x00\x00\x00\x02\x00\x00\x00\x09\x00\x00\x00driver_id"
           b"\x04\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00rproj")
    fields = redis_servers.command(port, b"HKEYS", key)
    names = sorted(f for f in fields if f.startswith("_")) if isinstance(fields, list) else []
    check("layout: the driver hash holds _ts (and _created_ts) of both driver views",
          names == ["_created_ts:driver_hourly_stats", "_ts:driver_hourly_stats",
                    "_ts:driver_quality"], fields)
    check("layout: 5 + 2 feature fields named by 4-byte murmur3 hashes",
          isinstance(fields, list) and len(fields) == 10, fields)


def serve_check(larder, d, ref_json):
    port_file = os.path.join(d, "port")
    log = open(os.path.join(d, "serve.log"), "wb")
    srv = subprocess.Popen([larder, "-c", d, "serve", "--port", "0", "--port-file", port_file,
                            "--workers", "2"], stdout=log, stderr=log)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not os.path.exists(port_file) and srv.poll() is None:
            time.sleep(0.05)
        port = int(open(port_file).read())
        ents = {"driver_id": [], "customer_id": []}
        for i in list(range(0, 43)) + [7, 7]:
            ents["driver_id"].append(i)
            ents["customer_id"].append(f"c{i % 13}")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/get-online-features",
                  body=json.dumps({"features": FEATURES, "entities": ents}))
        r = c.getresponse()
        body = json.loads(r.read())
        ref = json.loads(ref_json)
        check("serve: /get-online-features with the Redis store answers like the CLI",
              r.status == 200 and body["results"] == ref["results"],
              json.dumps(body)[:600])
    except (OSError, ValueError) as e:
        check("serve: /get-online-features with the Redis store answers like the CLI", False,
              f"{e}: {open(os.path.join(d, 'serve.log')).read()[-500:]}")
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(30)
        except subprocess.TimeoutExpired:
            srv.kill()


def fault(larder, tmp):
    servers = redis_servers.Servers()
    try:
        port = redis_servers.free_port()
        proc = servers.start(port)
        servers.wait_ping(port, proc)
        d = os.path.join(tmp, "fault")
        os.makedirs(os.path.join(d, "data"))
        with open(os.path.join(d, "feature_store.yaml"), "w") as f:
            f.write("project: fproj\nregistry: data/registry.db\nonline_store: "
                    f"{{type: redis, connection_string: \"127.0.0.1:{port}\"}}\n")
        with open(os.path.join(d, "defs.yaml"), "w") as f:
            f.write("kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n---\n"
                    "kind: DataSource\nname: src\ntype: file\npath: data/rows.csv\n"
                    "timestamp_field: event_timestamp\n---\n"
                    "kind: FeatureView\nname: big\nentities: [driver]\nttl: 0\nsource: src\n"
                    "schema:\n  - {name: x, dtype: Int64}\n  - {name: s, dtype: String}\n")
        with open(os.path.join(d, "data", "rows.csv"), "w") as f:
            f.write("driver_id,event_timestamp,x,s\n")
            for i in range(N_FAULT):
                f.write(f"{i},{rfc3339(T0 + i % 1000)},{i * 3},v{i}\n")
        p = run(larder, d, "apply")
        check("fault: apply", p.returncode == 0, p.stderr)
        mat = subprocess.Popen([larder, "-c", d, "materialize", rfc3339(T0 - 10),
                                rfc3339(T0 + 2000)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        killed_at = None
        deadline = time.time() + 120
        while time.time() < deadline and mat.poll() is None:
            try:
                n = int(redis_servers.command(port, "DBSIZE", timeout=1))
            except OSError:
                n = 0
            if n > 1000:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed_at = n
                break
            time.sleep(0.005)
        try:
            out, err = mat.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            mat.kill()
            out, err = mat.communicate()
        check("fault: redis-server killed while the materialization wrote",
              killed_at is not None and killed_at < N_FAULT, f"dbsize {killed_at}")
        check("fault: the materialization fails cleanly, naming the node",
              mat.returncode not in (0, None) and mat.returncode > 0 and
              f"127.0.0.1:{port}" in err, f"exit {mat.returncode}: {err}")
        print("# materialize during the kill: exit %s: %s" % (mat.returncode,
              " | ".join(err.strip().split("\n")[-2:])))
        proc = servers.start(port)
        servers.wait_ping(port, proc)
        p = run(larder, d, "materialize", rfc3339(T0 - 10), rfc3339(T0 + 2000))
        check("fault: after a restart on the same port, a rerun completes", p.returncode == 0,
              p.stderr)
        args = ["get-online-features", "--format", "json", "--features", "big:x",
                "--features", "big:s"]
        sample = [0, 1, 12345, 150000, N_FAULT - 1]
        for i in sample:
            args += ["--entity", f"driver_id={i}"]
        p = run(larder, d, *args)
        ok = p.returncode == 0
        if ok:
            res = json.loads(p.stdout)["results"]
            ok = res[1]["values"] == [i * 3 for i in sample] and \
                res[2]["values"] == [f"v{i}" for i in sample] and \
                set(res[1]["statuses"]) == {"PRESENT"}
        check("fault: every value is right after the rerun", ok, p.stdout[-400:] + p.stderr)
        check("fault: every key was written", dbsize([port]) == N_FAULT, dbsize([port]))
    finally:
        servers.close()


def many_chunks(larder, tmp):
    """27,000 rows in 9 CSV files (9 source chunks) into Redis: 3 batches written by the
    two writer threads, batch boundaries inside files 4 and 7 (a chunk shared by two
    batches stays held until both are written). Every value is checked."""
    with redis_servers.standalone() as addr:
        port = int(addr.split(":")[1])
        d = os.path.join(tmp, "chunks")
        os.makedirs(os.path.join(d, "data", "parts"))
        with open(os.path.join(d, "feature_store.yaml"), "w") as f:
            f.write("project: cproj\nregistry: data/registry.db\nonline_store: "
                    f"{{type: redis, connection_string: \"{addr}\"}}\n")
        with open(os.path.join(d, "defs.yaml"), "w") as f:
            f.write("kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n---\n"
                    "kind: DataSource\nname: src\ntype: file\npath: data/parts/*.csv\n"
                    "timestamp_field: event_timestamp\n---\n"
                    "kind: FeatureView\nname: parts\nentities: [driver]\nttl: 0\nsource: src\n"
                    "schema:\n  - {name: x, dtype: Int64}\n  - {name: s, dtype: String}\n")
        n = 27_000
        for part in range(9):
            with open(os.path.join(d, "data", "parts", f"p{part}.csv"), "w") as f:
                f.write("driver_id,event_timestamp,x,s\n")
                for i in range(part * 3000, part * 3000 + 3000):
                    f.write(f"{i},{rfc3339(T0 + i % 777)},{i * 7},w{i}\n")
        p = run(larder, d, "apply")
        p2 = run(larder, d, "materialize", rfc3339(T0 - 10), rfc3339(T0 + 2000))
        check("chunks: 27,000 rows from 9 files materialize", p.returncode == 0 and
              p2.returncode == 0 and dbsize([port]) == n, p.stderr + p2.stderr)
        ok, detail = True, ""
        for lo in range(0, n, 3000):
            args = ["get-online-features", "--format", "json", "--features", "parts:x",
                    "--features", "parts:s"]
            ids = list(range(lo, lo + 3000))
            for i in ids:
                args += ["--entity", f"driver_id={i}"]
            p = run(larder, d, *args)
            if p.returncode != 0:
                ok, detail = False, p.stderr
                break
            res = json.loads(p.stdout)["results"]
            if res[1]["values"] != [i * 7 for i in ids] or \
                    res[2]["values"] != [f"w{i}" for i in ids]:
                ok, detail = False, f"wrong values among drivers {lo}..{lo + 2999}"
                break
        check("chunks: every value is right", ok, detail)


def main():
    larder = os.path.abspath(sys.argv[1])
    if not redis_servers.have_redis():
        print("1..0 # SKIP redis-server not found")
        return 0
    tmp = tempfile.mkdtemp(prefix="ldr_online_redis_")
    ref = {}
    d = make_repo(tmp, "sqlite", "{type: sqlite, path: data/online.db}")
    p = run(larder, d, "apply")
    p2 = run(larder, d, "materialize", rfc3339(T0 - 86400), rfc3339(T0 + 86400))
    ref["first"] = online_json(larder, d)
    write_data(d, late=True)
    p3 = run(larder, d, "materialize", rfc3339(T0 - 86400), rfc3339(T0 + 86400))
    ref["second"] = online_json(larder, d)
    check("sqlite reference runs", p.returncode == 0 and p2.returncode == 0 and
          p3.returncode == 0 and not ref["first"].startswith("ERROR") and
          '"NULL_VALUE"' in ref["first"] and '"NOT_FOUND"' in ref["first"],
          p.stderr + p2.stderr + p3.stderr + ref["first"][:300])

    with redis_servers.standalone() as addr:
        port = int(addr.split(":")[1])
        rd = parity(larder, tmp, addr, False, [port], ref)
        check_layout(larder, port)
        serve_check(larder, rd, ref["second"])
        # apply without driver_quality: its fields go, the shared hashes stay
        with open(os.path.join(rd, "defs.yaml"), "w") as f:
            f.write(DEFS.split("---\nkind: FeatureView\nname: driver_quality")[0] +
                    "---\nkind: FeatureView\nname: customer_profile" +
                    DEFS.split("name: customer_profile", 1)[1])
        p = run(larder, rd, "apply")
        key = (b"\x01\x00\x00\x00\x02\x00\x00\x00\x09\x00\x00\x00driver_id"
               b"\x04\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00rproj")
        fields = redis_servers.command(port, b"HKEYS", key)
        check("standalone: apply dropping a view deletes its fields from shared hashes",
              p.returncode == 0 and isinstance(fields, list) and len(fields) == 7 and
              "_ts:driver_quality" not in fields and dbsize([port]) == 50, (p.stderr, fields))
        p = run(larder, rd, "teardown")
        check("standalone: teardown leaves the Redis empty (write epochs too)",
              p.returncode == 0 and dbsize([port], epochs=True) == 0,
              f"{p.stderr} dbsize={dbsize([port], epochs=True)}")
    with redis_servers.cluster(3, 0) as seeds:
        ports = [int(a.split(":")[1]) for a in seeds]
        rd = parity(larder, tmp, ",".join(seeds), True, ports, ref)
        p = run(larder, rd, "teardown")
        check("cluster: teardown leaves every node empty",
              p.returncode == 0 and dbsize(ports, epochs=True) == 0, p.stderr)
    many_chunks(larder, tmp)
    fault(larder, tmp)

    print(f"1..{len(CHECKS)}")
    failed = CHECKS.count(False)
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"# kept {tmp}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`larder serve` over real HTTP on loopback (TAP).

Starts the server on a free port against a fresh repository and checks:
- Feast's cases 17 (push then get), 18 (unknown push source: 422) and 22 (the
  materialize contract: timestamps required unless disable_event_timestamp, start before
  end, async 202 with the views, 409 while a view is materializing);
- more than 40 malformed or hostile requests, each with its status and error type, and
  the server still answering afterwards (invalid JSON, wrong types, invalid UTF-8,
  numbers out of range, 10^6 entities, deep nesting, huge headers, truncated bodies,
  slow-loris under a short read timeout, ...);
- push to the offline store, then get-historical-features sees the rows;
- hot reload: an `apply` becomes visible within the registry TTL;
- /metrics passes `promtool check metrics` (or a built-in format check), /health;
- TLS with a self-signed certificate (when openssl is installed);
- SIGTERM drains an in-flight request and exits 0.
Usage: serve_http.py LARDER
"""
import datetime
import fcntl
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

CHECKS = []


def check(name, ok, detail=""):
    CHECKS.append(bool(ok))
    print(f"{'ok' if ok else 'not ok'} {len(CHECKS)} - {name}")
    if not ok:
        for line in str(detail).strip().split("\n")[-8:]:
            print(f"#   {line}")
    sys.stdout.flush()


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


DEFS = """kind: Entity
name: driver
join_keys: [driver_id]
value_type: Int64
---
kind: DataSource
name: driver_locations_source
type: file
path: data/locations
timestamp_field: event_timestamp
created_timestamp_column: created_timestamp
---
kind: DataSource
name: driver_locations_push
type: push
batch_source: driver_locations_source
---
kind: FeatureView
name: pushed_driver_locations
entities: [driver]
ttl: 1d
source: driver_locations_push
schema:
  - {name: driver_lat, dtype: Float32}
  - {name: driver_long, dtype: String}
---
kind: DataSource
name: trips_source
type: file
path: data/trips.csv
file_format: csv
timestamp_field: event_timestamp
---
kind: FeatureView
name: driver_trips
entities: [driver]
ttl: 0
source: trips_source
schema:
  - {name: trips, dtype: Int64}
---
kind: FeatureView
name: offline_trips
entities: [driver]
ttl: 0
source: trips_source
online: false
schema:
  - {name: trips, dtype: Int64}
"""

EXTRA_VIEW = """---
kind: FeatureView
name: driver_trips_v2
entities: [driver]
ttl: 0
source: trips_source
schema:
  - {name: trips, dtype: Int64}
"""


class Server:
    def __init__(self, larder, repo, *extra):
        self.port_file = os.path.join(repo, "port")
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        self.log = open(os.path.join(repo, "server.log"), "ab")
        args = [larder, "-c", repo, "serve", "--port", "0", "--port-file", self.port_file,
                "--workers", "2", "--registry-ttl", "200ms", "--read-timeout", "2s",
                "--max-body", "2M", "--max-entities", "10000", "--max-header", "8K",
                "--max-json-depth", "16"] + list(extra)
        env = dict(os.environ)
        supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan-h2o.supp")
        env["LSAN_OPTIONS"] = f"suppressions={supp}:print_suppressions=0"
        self.p = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env)
        deadline = time.time() + 30
        while time.time() < deadline and self.p.poll() is None:
            if os.path.exists(self.port_file):
                self.port = int(open(self.port_file).read())
                return
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return None


def request(port, method, path, body=None, headers=None, timeout=30, tls=False):
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data, r


def post(port, path, body, **kw):
    return request(port, "POST", path, body, {"Content-Type": "application/json"}, **kw)


def error_type(data):
    try:
        return json.loads(data)["error"]["type"]
    except Exception:
        return None


def raw(port, payload, timeout=5, chunks=None, delay=0.0):
    """Sends bytes over a plain socket; returns the status code (or None) and the text."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if chunks:
            for ch in chunks:
                s.sendall(ch)
                time.sleep(delay)
        else:
            s.sendall(payload)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                m = re.search(rb"content-length:\s*(\d+)", head, re.I)
                if m and len(rest) >= int(m.group(1)):
                    break
    except (BrokenPipeError, ConnectionResetError):
        out = b""
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
    return (int(m.group(1)) if m else None), out


def healthy(port):
    try:
        return request(port, "GET", "/health", timeout=5)[0] == 200
    except Exception:
        return False


def check_prometheus_text(text):
    """A small checker of the text format, for machines without promtool."""
    types = {}
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("# HELP "):
            continue
        m = re.match(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$", line)
        if m:
            if m.group(1) in types:
                return f"duplicate TYPE {m.group(1)}"
            types[m.group(1)] = m.group(2)
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*"'
                     r'(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*)\})? (\S+)$', line)
        if not m:
            return f"bad line: {line}"
        name = m.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in types and base not in types:
            return f"sample without TYPE: {line}"
        if types.get(name) == "counter" and not name.endswith("_total"):
            return f"counter without _total: {name}"
        float(m.group(7).replace("+Inf", "inf"))
    return None


def main():
    larder = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="ldr_serve_http_")
    repo = os.path.join(tmp, "repo")
    os.makedirs(os.path.join(repo, "data", "locations"))
    now = datetime.datetime.now(datetime.timezone.utc)
    # A source big enough that materializing it takes a while (for 409 while running).
    with open(os.path.join(repo, "data", "trips.csv"), "w") as f:
        f.write("driver_id,event_timestamp,trips\n")
        t0 = now - datetime.timedelta(days=4)
        for i in range(300000):
            f.write(f"{i % 50000},{iso(t0 + datetime.timedelta(seconds=i))},{i}\n")
    open(os.path.join(repo, "feature_store.yaml"), "w").write(
        "project: serve_http\nregistry: data/registry.db\n"
        "online_store: {type: sqlite, path: data/online.db}\n")
    open(os.path.join(repo, "defs.yaml"), "w").write(DEFS)
    p = subprocess.run([larder, "-c", repo, "apply"], capture_output=True, text=True)
    check("apply", p.returncode == 0, p.stderr)
    srv = Server(larder, repo)
    port = srv.port
    try:
        run_all(larder, repo, srv, port, now)
    finally:
        code = srv.stop()
        log = open(os.path.join(repo, "server.log"), errors="replace").read()
        check("SIGTERM: the server exits 0", code == 0, f"exit {code}\n{log[-1500:]}")
    failed = CHECKS.count(False)
    print(f"1..{len(CHECKS)}")
    if failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"# kept {tmp}")
    return 1 if failed else 0


def run_all(larder, repo, srv, port, now):
    feast_cases(larder, repo, port, now)
    hostile(port)
    check("the server still answers after every hostile request", healthy(port))
    offline_push(larder, repo, port, now)
    materialize_contract(repo, port, now)
    hot_reload(larder, repo, port)
    metrics(port)
    tls(larder, repo, now)
    busy_poll(larder, repo)
    drain(larder, repo)


def feast_cases(larder, repo, port, now):
    ts = iso(now)
    # Case 17: push then get.
    body = {"push_source_name": "driver_locations_push",
            "df": {"driver_lat": [55.1], "driver_long": ["42.0"], "driver_id": [123],
                   "event_timestamp": [ts], "created_timestamp": [ts]},
            "to": "online"}
    st, data, _ = post(port, "/push", body)
    check("case 17: push to online -> 200", st == 200, data)
    st, data, _ = post(port, "/get-online-features",
                       {"features": ["pushed_driver_locations:driver_lat",
                                     "pushed_driver_locations:driver_long"],
                        "entities": {"driver_id": [123]}})
    ok = st == 200
    if ok:
        r = json.loads(data)
        ok = set(r["metadata"]["feature_names"]) == {"driver_id", "driver_lat", "driver_long"} \
            and all(res["statuses"] == ["PRESENT"] for res in r["results"]) \
            and abs(r["results"][1]["values"][0] - 55.1) < 1e-5 \
            and r["results"][0]["values"] == [123] and r["results"][2]["values"] == ["42.0"]
    check("case 17: get-online-features sees the pushed row, all PRESENT", ok, data)
    # Case 18: unknown push source.
    st, data, _ = post(port, "/push", {"push_source_name": "push_source_does_not_exist",
                                       "df": {"driver_id": [1]}, "to": "online"})
    check("case 18: unknown push source -> 422 PushSourceNotFound",
          st == 422 and error_type(data) == "PushSourceNotFound" and
          b"Unable to find push source 'push_source_does_not_exist'" in data, (st, data))
    # write-to-online-store, then an older row does not win.
    old = iso(now - datetime.timedelta(hours=1))
    st, data, _ = post(port, "/write-to-online-store",
                       {"feature_view_name": "pushed_driver_locations",
                        "df": {"driver_id": [123, 7], "driver_lat": [1.0, 2.0],
                               "driver_long": ["old", "x"], "event_timestamp": [old, old],
                               "created_timestamp": [old, old]}})
    check("write-to-online-store -> 200 null", st == 200 and data == b"null", (st, data))
    st, data, _ = post(port, "/get-online-features",
                       {"features": ["pushed_driver_locations:driver_long"],
                        "entities": {"driver_id": [123, 7, 8]}})
    vals = json.loads(data)["results"][1] if st == 200 else {}
    check("newer wins: the older write left 123 alone; 8 is NOT_FOUND",
          vals.get("values") == ["42.0", "x", None] and
          vals.get("statuses") == ["PRESENT", "PRESENT", "NOT_FOUND"], data)
    st, data, _ = post(port, "/get-online-features",
                       {"features": ["nope:x"], "entities": {"driver_id": [1]}})
    check("unknown view -> 404 FeatureViewNotFound",
          st == 404 and error_type(data) == "FeatureViewNotFound", (st, data))
    st, data, _ = post(port, "/get-online-features",
                       {"feature_service": "nope", "entities": {"driver_id": [1]}})
    check("unknown feature service -> 404 FeatureServiceNotFound",
          st == 404 and error_type(data) == "FeatureServiceNotFound", (st, data))
    st, data, _ = post(port, "/get-online-features",
                       {"features": ["pushed_driver_locations:driver_lat"],
                        "entities": {"customer_id": ["5"]}})
    check("missing join key -> 422 naming it",
          st == 422 and b"driver_id" in data, (st, data))


def hostile(port):
    gof = "/get-online-features"
    feats = ["pushed_driver_locations:driver_lat"]
    big = json.dumps({"features": feats, "entities": {"driver_id": list(range(1000000))}})
    ten_k_plus = json.dumps({"features": feats, "entities": {"driver_id": [1] * 10001}})
    cases = [
        # (name, method, path, body, expected status, expected error type or None)
        ("empty body", "POST", gof, b"", 400, "MalformedJSON"),
        ("not JSON", "POST", gof, b"hello", 400, "MalformedJSON"),
        ("truncated JSON", "POST", gof, b'{"features": ["a:b"], "entities": {', 400,
         "MalformedJSON"),
        ("trailing garbage", "POST", gof, b'{"features":["a:b"],"entities":{"k":[1]}} x', 400,
         "MalformedJSON"),
        ("invalid UTF-8 in a string", "POST", gof,
         b'{"features":["a:\xff\xfe"],"entities":{"driver_id":[1]}}', 400, "MalformedJSON"),
        ("invalid UTF-8 in a key", "POST", gof,
         b'{"features":["a:b"],"entities":{"\xc3\x28":[1]}}', 400, "MalformedJSON"),
        ("NUL escape in a string", "POST", gof,
         b'{"features":["a:\\u0000b"],"entities":{"driver_id":[1]}}', 400, "MalformedJSON"),
        ("lone surrogate", "POST", gof,
         b'{"features":["\\ud800"],"entities":{"driver_id":[1]}}', 400, "MalformedJSON"),
        ("duplicate key", "POST", gof,
         b'{"features":["a:b"],"features":["c:d"],"entities":{"driver_id":[1]}}', 400,
         "MalformedJSON"),
        ("deep nesting", "POST", gof, b"[" * 100000 + b"]" * 100000, 400, "MalformedJSON"),
        ("nesting just over the limit", "POST", gof,
         b'{"features":["a:b"],"entities":{"driver_id":' + b"[" * 16 + b"1" + b"]" * 16 + b"}}",
         400, "MalformedJSON"),
        ("body is an array", "POST", gof, b"[1,2]", 422, "InvalidRequest"),
        ("body is a string", "POST", gof, b'"x"', 422, "InvalidRequest"),
        ("integer out of range", "POST", gof,
         b'{"features":["a:b"],"entities":{"driver_id":[123456789012345678901234567890]}}', 422,
         "InvalidRequest"),
        ("real out of range", "POST", gof,
         b'{"features":["a:b"],"entities":{"driver_id":[1e999]}}', 422, "InvalidRequest"),
        ("features not a list", "POST", gof, {"features": "a:b", "entities": {"driver_id": [1]}},
         422, "InvalidRequest"),
        ("feature not a string", "POST", gof, {"features": [1], "entities": {"driver_id": [1]}},
         422, "InvalidRequest"),
        ("empty feature list", "POST", gof, {"features": [], "entities": {"driver_id": [1]}}, 422,
         "InvalidRequest"),
        ("features and feature_service", "POST", gof,
         {"features": feats, "feature_service": "s", "entities": {"driver_id": [1]}}, 422,
         "InvalidRequest"),
        ("neither features nor service", "POST", gof, {"entities": {"driver_id": [1]}}, 422,
         "InvalidRequest"),
        ("no entities", "POST", gof, {"features": feats}, 422, "InvalidRequest"),
        ("entities not an object", "POST", gof, {"features": feats, "entities": [1]}, 422,
         "InvalidRequest"),
        ("entity column not a list", "POST", gof,
         {"features": feats, "entities": {"driver_id": 1}}, 422, "InvalidRequest"),
        ("entity value an object", "POST", gof,
         {"features": feats, "entities": {"driver_id": [{"a": 1}]}}, 422, "InvalidRequest"),
        ("unequal entity columns", "POST", gof,
         {"features": feats, "entities": {"driver_id": [1, 2], "x": [1]}}, 422,
         "InvalidRequest"),
        ("entity of the wrong type", "POST", gof,
         {"features": feats, "entities": {"driver_id": ["abc"]}}, 422, "InvalidRequest"),
        ("entity a float", "POST", gof,
         {"features": feats, "entities": {"driver_id": [1.5]}}, 422, "InvalidRequest"),
        ("full_feature_names not a bool", "POST", gof,
         {"features": feats, "entities": {"driver_id": [1]}, "full_feature_names": "yes"}, 422,
         "InvalidRequest"),
        ("unknown member", "POST", gof,
         {"features": feats, "entities": {"driver_id": [1]}, "entitees": {}}, 422,
         "InvalidRequest"),
        ("malformed feature reference", "POST", gof,
         {"features": ["no_colon"], "entities": {"driver_id": [1]}}, 422, "InvalidRequest"),
        ("unknown feature", "POST", gof,
         {"features": ["pushed_driver_locations:nope"], "entities": {"driver_id": [1]}}, 404,
         "FeatureNotFound"),
        ("10001 entities (over --max-entities)", "POST", gof, ten_k_plus.encode(), 413,
         "LimitExceeded"),
        ("1001 features (over the default)", "POST", gof,
         {"features": ["v:f%d" % i for i in range(1001)], "entities": {"driver_id": [1]}}, 413,
         "LimitExceeded"),
        ("GET on a POST endpoint", "GET", gof, None, 405, "MethodNotAllowed"),
        ("POST on /health", "POST", "/health", b"{}", 405, "MethodNotAllowed"),
        ("DELETE /push", "DELETE", "/push", None, 405, "MethodNotAllowed"),
        ("unknown path", "POST", "/get-offline-features", b"{}", 404, "NotFound"),
        ("path traversal", "GET", "/../../etc/passwd", None, 404, "NotFound"),
        ("push: bad 'to'", "POST", "/push",
         {"push_source_name": "driver_locations_push", "df": {"driver_id": [1]},
          "to": "sideways"}, 422, "InvalidRequest"),
        ("push: df not an object", "POST", "/push",
         {"push_source_name": "driver_locations_push", "df": [1]}, 422, "InvalidRequest"),
        ("push: missing columns", "POST", "/push",
         {"push_source_name": "driver_locations_push", "df": {"driver_id": [1]}}, 422,
         "InvalidRequest"),
        ("push: unknown column", "POST", "/push",
         {"push_source_name": "driver_locations_push",
          "df": {"driver_id": [1], "driver_lat": [1.0], "driver_long": ["a"],
                 "event_timestamp": ["2024-01-01T00:00:00Z"],
                 "created_timestamp": ["2024-01-01T00:00:00Z"], "oops": [1]}}, 422,
         "InvalidRequest"),
        ("push: value of the wrong type", "POST", "/push",
         {"push_source_name": "driver_locations_push",
          "df": {"driver_id": [1], "driver_lat": ["high"], "driver_long": ["a"],
                 "event_timestamp": ["2024-01-01T00:00:00Z"],
                 "created_timestamp": ["2024-01-01T00:00:00Z"]}}, 422, "InvalidRequest"),
        ("push: Float32 out of range", "POST", "/push",
         {"push_source_name": "driver_locations_push",
          "df": {"driver_id": [1], "driver_lat": [1e300], "driver_long": ["a"],
                 "event_timestamp": ["2024-01-01T00:00:00Z"],
                 "created_timestamp": ["2024-01-01T00:00:00Z"]}}, 422, "InvalidRequest"),
        ("push: bad timestamp", "POST", "/push",
         {"push_source_name": "driver_locations_push",
          "df": {"driver_id": [1], "driver_lat": [1.0], "driver_long": ["a"],
                 "event_timestamp": ["yesterday"],
                 "created_timestamp": ["2024-01-01T00:00:00Z"]}}, 422, "InvalidRequest"),
        ("push: null join key", "POST", "/push",
         {"push_source_name": "driver_locations_push",
          "df": {"driver_id": [None], "driver_lat": [1.0], "driver_long": ["a"],
                 "event_timestamp": ["2024-01-01T00:00:00Z"],
                 "created_timestamp": ["2024-01-01T00:00:00Z"]}}, 422, "InvalidRequest"),
        ("write-to-online-store: unknown view", "POST", "/write-to-online-store",
         {"feature_view_name": "nope", "df": {"driver_id": [1]}}, 404, "FeatureViewNotFound"),
        ("write-to-online-store: offline view", "POST", "/write-to-online-store",
         {"feature_view_name": "offline_trips", "df": {"driver_id": [1]}}, 422,
         "InvalidRequest"),
        ("materialize: bad time", "POST", "/materialize",
         {"start_ts": "soon", "end_ts": "2024-01-01T00:00:00Z"}, 422, "InvalidRequest"),
        ("materialize: bad async flag", "POST", "/materialize?async=maybe",
         {"disable_event_timestamp": True}, 422, "InvalidRequest"),
    ]
    for name, method, path, body, want, want_type in cases:
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            st, data, _ = request(port, method, path, body, headers)
        except Exception as e:  # noqa: BLE001 - a dropped connection is a failure here
            st, data = None, repr(e)
        ok = st == want and (want_type is None or error_type(data) == want_type)
        if ok and want_type:
            ok = len(json.loads(data)["error"]["message"]) > 0
        check(f"hostile: {name} -> {want}{' ' + want_type if want_type else ''}", ok,
              (st, data[:300] if isinstance(data, bytes) else data))
    # Raw-socket cases: framing and headers. 10^6 entities is ~7 MB, over --max-body: the
    # server answers 413 from the Content-Length, before reading the body.
    st, out = raw(port, b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Length: "
                  b"%d\r\n\r\n" % len(big) + big[:1000].encode())
    check("hostile: 10^6 entities -> 413", st == 413, out[:200])
    st, _ = raw(port, b"POST /get-online-features HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                      b"\r\n{\"features\":", timeout=4)
    check("hostile: truncated body (Content-Length 100, 12 sent) is dropped at the deadline",
          st in (None, 400, 408), st)
    st, out = raw(port, b"POST /push HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
                  b"\r\nContent-Length: 2\r\n\r\n{}")
    check("hostile: 20 KB header -> 431", st == 431 and b"HeadersTooLarge" in out, out[:200])
    st, out = raw(port, b"POST /push HTTP/1.1\r\nHost: x\r\n" +
                  b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"Content-Length: 2\r\n\r\n{}")
    check("hostile: 150 headers -> 4xx", st is not None and 400 <= st < 500, out[:200])
    st, out = raw(port, b"POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
    check("hostile: Content-Length over --max-body -> 413", st == 413, out[:200])
    st, out = raw(port, b"GARBAGE\r\n\r\n")
    check("hostile: not HTTP -> 400 or closed", st in (None, 400), out[:200])
    st, out = raw(port, b"POST /push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"zz\r\n")
    check("hostile: bad chunk size -> 400 or closed", st in (None, 400), out[:200])
    # Slow loris: one header byte every 0.5 s; the 2 s read timeout cuts it off.
    t0 = time.time()
    payload = b"POST /push HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40
    st, out = raw(port, None, timeout=10, chunks=[payload[i:i + 1] for i in range(len(payload))],
                  delay=0.2)
    took = time.time() - t0
    check("hostile: slow-loris is disconnected by the read timeout",
          st in (None, 400, 408) and took < 10, (st, took))
    check("hostile: the server serves while a slow client trickles",
          healthy(port))


def offline_push(larder, repo, port, now):
    ts = iso(now - datetime.timedelta(minutes=5))
    body = {"push_source_name": "driver_locations_push",
            "df": {"driver_lat": [10.5, 20.5], "driver_long": ["a", "b"], "driver_id": [501, 502],
                   "event_timestamp": [ts, ts], "created_timestamp": [ts, ts]},
            "to": "offline"}
    st, data, _ = post(port, "/push", body)
    files = sorted(os.listdir(os.path.join(repo, "data", "locations")))
    check("push to offline -> 200, a new Parquet file in the source directory",
          st == 200 and any(f.startswith("push-") and f.endswith(".parquet") for f in files),
          (st, data, files))
    check("no temporary file is left behind", not any(".tmp" in f for f in files), files)
    ent = os.path.join(repo, "ent.csv")
    with open(ent, "w") as f:
        f.write("driver_id,event_timestamp\n501,%s\n502,%s\n123,%s\n" % ((iso(now),) * 3))
    out = os.path.join(repo, "hist.jsonl")
    p = subprocess.run([larder, "-c", repo, "get-historical-features", "--entities", ent,
                        "--features", "pushed_driver_locations:driver_lat", "--output", out],
                       capture_output=True, text=True)
    rows = [json.loads(x) for x in open(out)] if p.returncode == 0 else []
    check("get-historical-features sees the offline push",
          [r.get("driver_lat") for r in rows] == [10.5, 20.5, None], p.stderr + str(rows))
    st, data, _ = post(port, "/get-online-features",
                       {"features": ["pushed_driver_locations:driver_lat"],
                        "entities": {"driver_id": [501]}})
    check("an offline-only push does not reach the online store",
          st == 200 and json.loads(data)["results"][1]["statuses"] == ["NOT_FOUND"], data)
    body["to"] = "online_and_offline"
    body["df"]["driver_id"] = [601, 602]
    st, data, _ = post(port, "/push", body)
    st2, data2, _ = post(port, "/get-online-features",
                         {"features": ["pushed_driver_locations:driver_lat"],
                          "entities": {"driver_id": [601, 602]}})
    check("online_and_offline push reaches both",
          st == 200 and st2 == 200 and json.loads(data2)["results"][1]["values"] == [10.5, 20.5],
          (st, data, data2))
    st, data, _ = post(port, "/push", dict(body, df=dict(body["df"], extra=[1, 2]), to="offline"))
    check("offline push with a column the files lack -> 422", st == 422, (st, data))


def materialize_contract(repo, port, now):
    st, data, _ = post(port, "/materialize", {"end_ts": iso(now)})
    check("case 22: start_ts and end_ts required -> 422", st == 422, (st, data))
    st, data, _ = post(port, "/materialize",
                       {"start_ts": iso(now), "end_ts": iso(now - datetime.timedelta(hours=1))})
    check("case 22: start after end -> 422", st == 422 and b"before" in data, (st, data))
    st, data, _ = post(port, "/materialize", {"feature_views": ["offline_trips"],
                                              "disable_event_timestamp": True})
    check("materialize an offline view -> 422", st == 422, (st, data))
    st, data, _ = post(port, "/materialize", {"feature_views": ["nope"],
                                              "disable_event_timestamp": True})
    check("materialize an unknown view -> 404 FeatureViewNotFound",
          st == 404 and error_type(data) == "FeatureViewNotFound", (st, data))
    st, data, _ = post(port, "/materialize?async=true",
                       {"feature_views": ["driver_trips"], "disable_event_timestamp": True})
    check("case 22: async -> 202 {status: accepted, feature_views}",
          st == 202 and json.loads(data) == {"status": "accepted",
                                             "feature_views": ["driver_trips"]}, (st, data))
    st, data, _ = post(port, "/materialize?async=true",
                       {"feature_views": ["driver_trips"], "disable_event_timestamp": True})
    check("case 22: a second async call while materializing -> 409",
          st == 409 and error_type(data) == "MaterializationInProgress" and
          json.loads(data).get("feature_views") == ["driver_trips"], (st, data))
    st, data, _ = request(port, "GET", "/health")
    check("the server serves while materializing", st == 200, data)
    deadline = time.time() + 120
    while time.time() < deadline:
        st, data, _ = post(port, "/materialize-incremental",
                           {"end_ts": iso(now), "feature_views": ["driver_trips"]})
        if st != 409:
            break
        time.sleep(0.2)
    check("sync materialize-incremental after the job -> 200 null", st == 200 and data == b"null",
          (st, data))
    st, data, _ = post(port, "/get-online-features",
                       {"features": ["driver_trips:trips"], "entities": {"driver_id": [0, 49999]}})
    vals = json.loads(data)["results"][1]["values"] if st == 200 else None
    check("materialized values are served", vals == [250000, 299999], data)
    # Another process holding the view's lock: 409 from the job (sync).
    lock = os.path.join(repo, "data", ".larder-locks", "serve_http.driver_trips.lock")
    with open(lock, "a+") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX | fcntl.LOCK_NB)
        st, data, _ = post(port, "/materialize", {"feature_views": ["driver_trips"],
                                                  "disable_event_timestamp": True})
    check("sync materialize while another process holds the view -> 409",
          st == 409 and error_type(data) == "MaterializationInProgress", (st, data))


def hot_reload(larder, repo, port):
    st, _, _ = post(port, "/get-online-features",
                    {"features": ["driver_trips_v2:trips"], "entities": {"driver_id": [1]}})
    check("before apply: the new view is unknown (404)", st == 404, st)
    with open(os.path.join(repo, "defs.yaml"), "a") as f:
        f.write(EXTRA_VIEW)
    p = subprocess.run([larder, "-c", repo, "apply"], capture_output=True, text=True)
    t0 = time.time()
    st = None
    while time.time() - t0 < 5:
        st, data, _ = post(port, "/get-online-features",
                           {"features": ["driver_trips_v2:trips"], "entities": {"driver_id": [1]}})
        if st == 200:
            break
        time.sleep(0.05)
    took = time.time() - t0
    check("hot reload: an apply is served within the TTL (200 ms, + slack)",
          p.returncode == 0 and st == 200 and took < 2.0, (p.stderr, st, took))
    # The worker now holds this feature list prepared (a per-snapshot cache): removing the
    # view must turn the same request into a 404, not an answer from the old plan.
    for _ in range(3):
        post(port, "/get-online-features",
             {"features": ["driver_trips_v2:trips"], "entities": {"driver_id": [1]}})
    defs = open(os.path.join(repo, "defs.yaml")).read()
    with open(os.path.join(repo, "defs.yaml"), "w") as f:
        f.write(defs.replace(EXTRA_VIEW, ""))
    p = subprocess.run([larder, "-c", repo, "apply"], capture_output=True, text=True)
    t0 = time.time()
    while time.time() - t0 < 5:
        st, data, _ = post(port, "/get-online-features",
                           {"features": ["driver_trips_v2:trips"], "entities": {"driver_id": [1]}})
        if st == 404 and b"no table" not in data:
            break  # (between the apply and the reload: 404 "no table", from the old plan)
        time.sleep(0.05)
    check("hot reload: a removed view's cached feature list becomes 404 within the TTL",
          p.returncode == 0 and st == 404 and error_type(data) == "FeatureViewNotFound"
          and b"does not exist" in data and time.time() - t0 < 2.0, (p.stderr, st, data))
    with open(os.path.join(repo, "defs.yaml"), "w") as f:
        f.write(defs)
    p = subprocess.run([larder, "-c", repo, "apply"], capture_output=True, text=True)
    check("hot reload: the view applied again", p.returncode == 0, p.stderr)


def metrics(port):
    st, data, r = request(port, "GET", "/metrics")
    text = data.decode()
    check("/metrics -> 200 text/plain", st == 200 and r.getheader("Content-Type", "").startswith(
        "text/plain"), st)
    needed = ["larder_http_requests_total", "larder_http_request_duration_seconds_bucket",
              "larder_online_entities_per_request", "larder_online_feature_status_total",
              "larder_online_read_duration_seconds", "larder_push_requests_total",
              "larder_materialization_result_total", "larder_materialization_duration_seconds",
              "larder_feature_freshness_seconds"]
    missing = [n for n in needed if n + "{" not in text and n + " " not in text]
    check("/metrics has every series of the issue", not missing, missing)
    check("/metrics counts 422s of /push",
          'larder_http_requests_total{endpoint="/push",status="422"}' in text, text[:500])
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=data, capture_output=True)
        check("promtool check metrics", p.returncode == 0, p.stdout + p.stderr)
    else:
        problem = check_prometheus_text(text)
        check("metrics text format (built-in check; promtool not installed)", problem is None,
              problem)


def tls(larder, repo, now):
    openssl = shutil.which("openssl")
    if not openssl:
        check("TLS # SKIP openssl not installed", True)
        return
    cert, key = os.path.join(repo, "cert.pem"), os.path.join(repo, "key.pem")
    p = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"],
                       capture_output=True)
    if p.returncode != 0:
        check("TLS # SKIP cannot make a certificate", True)
        return
    s = Server(larder, repo, "--tls-cert", cert, "--tls-key", key)
    try:
        st, data, _ = request(s.port, "GET", "/health", tls=True)
        check("TLS: GET /health over HTTPS -> 200", st == 200, data)
    finally:
        check("TLS server exits 0 on SIGTERM", s.stop() == 0)


def drain(larder, repo):
    s = Server(larder, repo)
    import threading
    result = {}

    def slow():
        try:
            result["r"] = post(s.port, "/materialize", {"feature_views": ["driver_trips"],
                                                        "disable_event_timestamp": True},
                               timeout=120)[:2]
        except Exception as e:  # noqa: BLE001
            result["r"] = repr(e)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    code = s.stop(timeout=120)
    t.join(120)
    r = result.get("r")
    check("SIGTERM during a synchronous materialize: the request is answered",
          isinstance(r, tuple) and r[0] == 200, r)
    check("... and the server exits 0", code == 0, code)
    try:
        socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    check("after exit the port refuses connections", refused)


def busy_poll(larder, repo):
    bad = subprocess.run([larder, "-c", repo, "serve", "--busy-poll", "-5"], capture_output=True,
                         text=True)
    check("--busy-poll -5 is a usage error (exit 2) naming the option",
          bad.returncode == 2 and "--busy-poll" in bad.stderr, (bad.returncode, bad.stderr))
    s = Server(larder, repo, "--busy-poll", "200")
    body = {"features": ["driver_trips:trips"], "entities": {"driver_id": [1]}}
    answers = [post(s.port, "/get-online-features", body)[0] for _ in range(50)]
    time.sleep(0.05)  # past the polling window: the loop sleeps, then must wake up
    answers += [post(s.port, "/get-online-features", body)[0] for _ in range(5)]
    check("--busy-poll 200: requests are answered, also after the loop went to sleep",
          answers == [200] * 55, answers)
    # Idle, the workers sleep: their CPU time stops growing once the window has passed.
    time.sleep(0.2)
    def cpu():
        f = open(f"/proc/{s.p.pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    c0 = cpu()
    time.sleep(1.0)
    used = cpu() - c0
    check("--busy-poll: an idle server does not spin (< 10% of a core over 1 s)",
          used < os.sysconf("SC_CLK_TCK") // 10, used)
    code = s.stop()
    check("--busy-poll: SIGTERM drains and exits 0", code == 0, code)


if __name__ == "__main__":
    sys.exit(main())

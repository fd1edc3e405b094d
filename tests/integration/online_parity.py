#!/usr/bin/env python3
"""Parity of materialization with historical retrieval, on random data (TAP).

For random repositories (several views: Int64, String and composite keys; Int32, Int64,
Float32, Float64, Bool, String features; ties on event and created timestamps; nulls;
rows outside the interval), after `materialize START END` the online value of every
entity whose latest row up to END lies in [START, END] must equal get-historical-features
at T = END -- value for value and JSON type for type -- and entities with no row in the
interval must be NOT_FOUND. Usage: online_parity.py LARDER [N_CASES [SEED]]
"""
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
STEP = 3600


def rfc3339(sec):
    import datetime
    return datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


TYPES = ["Int32", "Int64", "Float32", "Float64", "Bool", "String"]


def value(rng, ty):
    if rng.random() < 0.12:
        return ""
    if ty in ("Int32", "Int64"):
        return str(rng.randint(-1000, 1000) * (1 if ty == "Int32" else 10**9 + 7))
    if ty == "Float32":
        return repr(rng.randint(-4000, 4000) / 16)
    if ty == "Float64":
        return repr(rng.randint(-10**6, 10**6) / 1024)
    if ty == "Bool":
        return rng.choice(["true", "false"])
    return rng.choice(["a", "b", "x y", "q,z", "é", "1.0", "5"])


def gen_case(rng, d):
    os.makedirs(os.path.join(d, "data"))
    defs = ["kind: Entity\nname: driver\njoin_keys: [driver_id]\nvalue_type: Int64\n",
            "kind: Entity\nname: customer\njoin_keys: [customer_id]\nvalue_type: String\n"]
    drivers = [str(x) for x in range(1, rng.randint(3, 12))]
    customers = ["c" + str(x) for x in range(rng.randint(1, 6))]
    views = []
    for vi in range(rng.randint(1, 3)):
        keys = rng.choice([["driver_id"], ["customer_id"], ["driver_id", "customer_id"]])
        feats = [(f"f{vi}_{i}", rng.choice(TYPES)) for i in range(rng.randint(1, 4))]
        has_created = rng.random() < 0.6
        ttl = rng.choice(["0", "0", "5200w"])
        rows = []
        for pos in range(rng.randint(0, 60)):
            r = {"driver_id": rng.choice(drivers), "customer_id": rng.choice(customers),
                 "event_timestamp": rfc3339(T0 + STEP * rng.randint(0, 40))}
            if has_created:
                r["created"] = rfc3339(T0 + STEP * rng.randint(0, 6)) if rng.random() > 0.1 else ""
            for f, ty in feats:
                r[f] = value(rng, ty)
            rows.append(r)
        cols = keys + ["event_timestamp"] + (["created"] if has_created else []) + [f for f, _ in feats]
        name = f"v{vi}"
        with open(os.path.join(d, "data", name + ".csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for r in rows:
                w.writerow([r[c] for c in cols])
        ents = "[" + ", ".join("driver" if k == "driver_id" else "customer" for k in keys) + "]"
        defs.append(f"kind: DataSource\nname: {name}_src\ntype: file\npath: data/{name}.csv\n"
                    "timestamp_field: event_timestamp\n" +
                    ("created_timestamp_column: created\n" if has_created else ""))
        schema = "".join(f"  - {{name: {f}, dtype: {ty}}}\n" for f, ty in feats)
        defs.append(f"kind: FeatureView\nname: {name}\nentities: {ents}\nttl: {ttl}\n"
                    f"source: {name}_src\nonline: true\nschema:\n{schema}")
        views.append({"name": name, "keys": keys, "feats": feats, "rows": rows})
    with open(os.path.join(d, "defs.yaml"), "w") as f:
        f.write("---\n".join(defs))
    with open(os.path.join(d, "feature_store.yaml"), "w") as f:
        f.write("project: parity\nregistry: data/registry.db\n"
                "online_store: {type: sqlite, path: data/online.db}\n")
    start = T0 + STEP * rng.randint(0, 15)
    end = start + STEP * rng.randint(0, 30)
    return views, drivers, customers, start, end


def run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True)


def check_case(binary, d, views, drivers, customers, start, end):
    problems = []
    p = run([binary, "apply"], d)
    if p.returncode:
        return [f"apply: {p.stderr.strip()}"]
    p = run([binary, "materialize", rfc3339(start), rfc3339(end)], d)
    if p.returncode:
        return [f"materialize: {p.stderr.strip()}"]
    for v in views:
        keys = v["keys"]
        # every key combination (all drivers x customers for composite keys)
        combos = []
        for dr in drivers:
            for cu in customers:
                c = {"driver_id": dr, "customer_id": cu}
                k = tuple(c[x] for x in keys)
                if k not in [tuple(x[y] for y in keys) for x in combos]:
                    combos.append(c)
        ent = os.path.join(d, f"ent_{v['name']}.csv")
        with open(ent, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(keys + ["event_timestamp"])
            for c in combos:
                w.writerow([c[k] for k in keys] + [rfc3339(end)])
        feats = [a for f, _ in v["feats"] for a in ("--features", f"{v['name']}:{f}")]
        p = run([binary, "get-historical-features", "--entities", ent, "--output",
                 f"hist_{v['name']}.jsonl"] + feats, d)
        if p.returncode:
            problems.append(f"historical: {p.stderr.strip()}")
            continue
        hist = [json.loads(line) for line in open(os.path.join(d, f"hist_{v['name']}.jsonl"))]
        args = [binary, "get-online-features", "--format", "json"] + feats
        for c in combos:
            args += ["--entity", ",".join(f"{k}={c[k]}" for k in keys)]
        p = run(args, d)
        if p.returncode:
            problems.append(f"online: {p.stderr.strip()}")
            continue
        resp = json.loads(p.stdout)
        names = resp["metadata"]["feature_names"]
        if names[:len(keys)] != keys:
            problems.append(f"join keys first: {names}")
        for i, c in enumerate(combos):
            mine = [r for r in v["rows"] if all(r[k] == c[k] for k in keys)]
            # latest row up to END, by event time (the interval test)
            upto = [r for r in mine if r["event_timestamp"] <= rfc3339(end)]
            latest = max((r["event_timestamp"] for r in upto), default=None)
            in_window = any(rfc3339(start) <= r["event_timestamp"] <= rfc3339(end) for r in mine)
            for f, ty in v["feats"]:
                col = resp["results"][names.index(f)]
                got, st = col["values"][i], col["statuses"][i]
                if not in_window:
                    if st != "NOT_FOUND" or got is not None:
                        problems.append(f"{v['name']} {c} {f}: no row in the interval, got {got!r} {st}")
                    continue
                if latest is None or latest < rfc3339(start):
                    continue  # the latest row up to END lies before START: not comparable
                want = hist[i].get(f)
                if type(want) is not type(got) or (want != got and not (
                        isinstance(want, float) and want != want and got != got)):
                    problems.append(f"{v['name']} {c} {f} ({ty}): historical {want!r}, online "
                                    f"{got!r} ({st})")
                elif (want is None) != (st == "NULL_VALUE"):
                    problems.append(f"{v['name']} {c} {f}: value {got!r} with status {st}")
    return problems


def main():
    binary = os.path.abspath(sys.argv[1])
    n_cases = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20261128
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="ldr_parity_")
    failed = 0
    for i in range(n_cases):
        d = os.path.join(tmp, f"c{i}")
        views, drivers, customers, start, end = gen_case(rng, d)
        problems = check_case(binary, d, views, drivers, customers, start, end)
        if problems:
            failed += 1
            print(f"not ok {i + 1} - case {i} ({d})")
            for pr in problems[:10]:
                print(f"#   {pr}")
        else:
            print(f"ok {i + 1} - case {i}")
    print(f"1..{n_cases}")
    if not failed:
        shutil.rmtree(tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

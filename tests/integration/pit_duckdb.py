#!/usr/bin/env python3
"""Differential test of get-historical-features against DuckDB, as TAP.

Usage: pit_duckdb.py LARDER_BINARY PROJECT_ROOT [N_CASES] [SEED]

Each case is a random feature repository (1-3 views over CSV sources; Int64, String or
composite Int64+String keys, or no key; ttl 0/30m/2h/1d; with or without a created
timestamp column; timestamps on a coarse grid so event and created timestamps tie often;
null features, missing keys, duplicate entity rows; random --filter-by-created-timestamp).
Larder answers with get-historical-features; DuckDB answers the same question with an
independent SQL formulation (a join on keys and the time window, ROW_NUMBER over event ts
DESC, created DESC NULLS LAST, source position DESC, then a LEFT JOIN back to the entity
rows). Outputs must be equal cell for cell (numbers numerically, text exactly, empty =
null). DuckDB comes from tests/oracle (npm ci --prefix tests/oracle); without it the test
is skipped.
"""
import csv
import json
import os
import random
import subprocess
import sys
import tempfile

T0 = 1717200000  # 2024-06-01T00:00:00Z
STEP = 600  # 10-minute grid: plenty of ties


def rfc3339(sec):
    import datetime
    return datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def gen_case(rng, d):
    key_kind = rng.choice(["int", "str", "both", "none", "int"])
    keys = {"int": [("driver_id", "Int64")], "str": [("customer_id", "String")],
            "both": [("driver_id", "Int64"), ("customer_id", "String")], "none": []}[key_kind]
    n_views = rng.randint(1, 3)
    views = []
    defs = []
    for name, ty in keys:
        defs.append(f"kind: Entity\nname: {name[:-3]}\njoin_keys: [{name}]\nvalue_type: {ty}\n")
    key_vals = {"driver_id": [str(x) for x in range(1, rng.randint(2, 6))],
                "customer_id": ["c" + str(x) for x in range(rng.randint(1, 4))]}
    for v in range(n_views):
        vname = f"v{v}"
        has_created = rng.random() < 0.6
        ttl = rng.choice([("0", 0), ("30m", 1800), ("2h", 7200), ("1d", 86400)])
        feats = [(f"{vname}_f{i}", rng.choice(["Float64", "Int64", "String"]))
                 for i in range(rng.randint(1, 3))]
        rows = []
        for pos in range(rng.randint(0, 40)):
            r = {"pos": str(pos)}
            for name, _ in keys:
                r[name] = rng.choice(key_vals[name]) if rng.random() > 0.05 else ""
            r["event_timestamp"] = rfc3339(T0 + STEP * rng.randint(0, 30))
            if has_created:
                r["created"] = rfc3339(T0 + STEP * rng.randint(0, 40)) if rng.random() > 0.1 else ""
            for f, ty in feats:
                if rng.random() < 0.15:
                    r[f] = ""
                elif ty == "Float64":
                    r[f] = repr(rng.randint(-1000, 1000) / 8)
                elif ty == "Int64":
                    r[f] = str(rng.randint(-10**6, 10**6))
                else:
                    r[f] = rng.choice(["a", "b", "x y", "q,z", 'say "hi"'])
            rows.append(r)
        cols = ["pos"] + [k for k, _ in keys] + ["event_timestamp"] + \
            (["created"] if has_created else []) + [f for f, _ in feats]
        with open(os.path.join(d, "data", f"{vname}.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for r in rows:
                w.writerow([r[c] for c in cols])
        src = (f"kind: DataSource\nname: {vname}_src\ntype: file\npath: data/{vname}.csv\n"
               f"timestamp_field: event_timestamp\n" +
               ("created_timestamp_column: created\n" if has_created else ""))
        schema = "".join(f"  - {{name: {f}, dtype: {ty}}}\n" for f, ty in feats)
        ents = "[" + ", ".join(k[:-3] for k, _ in keys) + "]"
        defs.append(src)
        defs.append(f"kind: FeatureView\nname: {vname}\nentities: {ents}\nttl: {ttl[0]}\n"
                    f"source: {vname}_src\nschema:\n{schema}")
        views.append({"name": vname, "ttl": ttl[1], "created": has_created, "feats": feats,
                      "cols": cols})
    with open(os.path.join(d, "defs.yaml"), "w") as f:
        f.write("---\n".join(defs))
    with open(os.path.join(d, "feature_store.yaml"), "w") as f:
        f.write("project: diff\n")
    ents = []
    for rid in range(rng.randint(1, 40)):
        r = {"rid": str(rid)}
        for name, _ in keys:
            missing = "999" if name == "driver_id" else "zz"
            r[name] = rng.choice(key_vals[name] + [missing]) if rng.random() > 0.03 else ""
        r["event_timestamp"] = rfc3339(T0 + STEP * rng.randint(-2, 45))
        ents.append(r)
        if rng.random() < 0.1:
            ents.append(dict(r, rid=str(1000 + rid)))  # a duplicate entity row
    ecols = ["rid"] + [k for k, _ in keys] + ["event_timestamp"]
    with open(os.path.join(d, "entities.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(ecols)
        for r in ents:
            w.writerow([r[c] for c in ecols])
    return keys, views, rng.random() < 0.4


SQL_TYPES = {"Int64": "BIGINT", "String": "VARCHAR", "Float64": "DOUBLE"}


def duckdb_sql(d, keys, views, filter_created):
    kt = {k: SQL_TYPES[t] for k, t in keys}
    ecols = {"rid": "BIGINT", **kt, "event_timestamp": "TIMESTAMPTZ"}
    parts = [f"SET TimeZone='UTC';\nCREATE TABLE ents AS SELECT * FROM read_csv('{d}/entities.csv', "
             f"header=true, columns={json.dumps(ecols)}, quote='\"', escape='\"')"]
    select = ["e.rid"]
    joins = []
    for v in views:
        vt = {"pos": "BIGINT", **kt, "event_timestamp": "TIMESTAMPTZ"}
        if v["created"]:
            vt["created"] = "TIMESTAMPTZ"
        for f, ty in v["feats"]:
            vt[f] = SQL_TYPES[ty]
        n = v["name"]
        parts.append(f"CREATE TABLE {n} AS SELECT * FROM read_csv('{d}/data/{n}.csv', header=true, "
                     f"columns={json.dumps(vt)}, quote='\"', escape='\"')")
        conds = [f"e.{k} = s.{k}" for k, _ in keys] + ["s.event_timestamp <= e.event_timestamp"]
        if v["ttl"]:
            conds.append(f"s.event_timestamp >= e.event_timestamp - INTERVAL {v['ttl']} SECOND")
        if filter_created and v["created"]:
            conds.append("s.created <= e.event_timestamp")
        order = "s.event_timestamp DESC" + (", s.created DESC NULLS LAST" if v["created"] else "") \
            + ", s.pos DESC"
        feats = ", ".join(f"s.{f}" for f, _ in v["feats"])
        parts.append(f"CREATE TABLE {n}_j AS SELECT e.rid, {feats}, ROW_NUMBER() OVER "
                     f"(PARTITION BY e.rid ORDER BY {order}) AS rn FROM ents e JOIN {n} s ON "
                     + " AND ".join(conds))
        select += [f"{n}_j.{f} AS {n}__{f}" for f, _ in v["feats"]]
        joins.append(f"LEFT JOIN {n}_j ON {n}_j.rid = e.rid AND {n}_j.rn = 1")
    parts.append(f"SELECT {', '.join(select)} FROM ents e {' '.join(joins)} ORDER BY e.rid")
    return ";\n".join(parts)


def cell_eq(a, b):
    if a == b:
        return True
    if a == "" or b == "":
        return False
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def main():
    binary = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2])
    n_cases = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 20261128
    oracle = os.path.join(root, "tests", "oracle")
    if not os.path.isdir(os.path.join(oracle, "node_modules", "@duckdb", "node-api")):
        print("1..0 # SKIP DuckDB not installed (npm ci --prefix tests/oracle)")
        return 0
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="ldr_pitdiff_")
    cases, jobs = [], []
    for i in range(n_cases):
        d = os.path.join(tmp, f"c{i}")
        os.makedirs(os.path.join(d, "data"))
        keys, views, filt = gen_case(rng, d)
        cases.append((d, keys, views, filt))
        jobs.append({"sql": duckdb_sql(d, keys, views, filt), "out": os.path.join(d, "duck.csv")})
    with open(os.path.join(tmp, "jobs.json"), "w") as f:
        json.dump(jobs, f)
    duck = subprocess.run(["node", os.path.join(oracle, "run_sql.mjs"),
                           os.path.join(tmp, "jobs.json")], capture_output=True, text=True,
                          cwd=oracle)
    passed = failed = 0
    for i, (d, keys, views, filt) in enumerate(cases, 1):
        problems = []
        p = subprocess.run([binary, "apply"], cwd=d, capture_output=True, text=True)
        if p.returncode != 0:
            problems.append(f"apply: {p.stderr.strip()}")
        else:
            args = [binary, "get-historical-features", "--entities", "entities.csv",
                    "--full-feature-names", "--output", "out.csv"]
            for v in views:
                for f, _ in v["feats"]:
                    args += ["--features", f"{v['name']}:{f}"]
            if filt:
                args.append("--filter-by-created-timestamp")
            # Every third case runs under a tiny --memory-limit, which makes every keyed
            # view with rows spill to hash partitions: the answer must not change.
            spill = i % 3 == 0 and keys and any(
                os.path.getsize(os.path.join(d, "data", v["name"] + ".csv")) > 80
                for v in views)
            if spill:
                args = [args[0], "--log-level", "info"] + args[1:] + ["--memory-limit", "1K",
                                                                    "--spill-dir", d]
            p = subprocess.run(args, cwd=d, capture_output=True, text=True)
            if p.returncode != 0:
                problems.append(f"larder: {p.stderr.strip()}")
            elif spill and "spilling to" not in p.stderr:
                problems.append("--memory-limit 1K did not make the join spill")
            elif spill and [x for x in os.listdir(d) if x.startswith("larder-spill-")]:
                problems.append("spill files were left behind")
        duck_path = os.path.join(d, "duck.csv")
        if not problems and not os.path.exists(duck_path):
            problems.append(f"duckdb produced nothing: {duck.stderr[-500:]}")
        if not problems:
            with open(os.path.join(d, "out.csv"), newline="") as f:
                got = list(csv.DictReader(f))
            with open(duck_path, newline="") as f:
                want = list(csv.DictReader(f))
            want_by_rid = {}
            for r in want:
                want_by_rid.setdefault(r["rid"], r)
            if len(got) != sum(1 for _ in open(os.path.join(d, "entities.csv"))) - 1:
                problems.append(f"row count {len(got)} differs from the entity file's")
            for r in got:
                w = want_by_rid.get(r["rid"])
                if w is None:
                    problems.append(f"rid {r['rid']}: not in DuckDB's result")
                    continue
                for col, val in w.items():
                    if col != "rid" and not cell_eq(val, r.get(col, "<missing>")):
                        problems.append(f"rid {r['rid']} {col}: duckdb {val!r}, larder "
                                        f"{r.get(col)!r}")
        if problems:
            failed += 1
            print(f"not ok {i} - case {i - 1} ({d})")
            for pr in problems[:10]:
                print(f"#   {pr}")
        else:
            passed += 1
            print(f"ok {i} - case {i - 1}")
    print(f"1..{len(cases)}")
    print(f"# {passed} passed, {failed} failed")
    if not failed:
        subprocess.run(["rm", "-rf", tmp])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

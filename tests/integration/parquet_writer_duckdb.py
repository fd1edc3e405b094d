#!/usr/bin/env python3
# parquet_writer_duckdb.py -- Larder's Parquet writer against the reference readers.
#
#   parquet_writer_duckdb.py PQ_WRITER_EXPORT SOURCE_ROOT
#
# Runs pq_writer_export (tests/integration/pq_writer_export.c) to write every case of
# tests/unit/parquet/writer_cases.h into a temporary directory, then
# tests/oracle/pq_dump.mjs to read each file with DuckDB (@duckdb/node-api) and hyparquet.
# TAP, three checks per case: DuckDB reads exactly the expected rows with the expected
# column types, DuckDB agrees with the footer statistics of the first row groups, and
# hyparquet reads exactly the expected rows. Values are compared in a canonical form
# (floats by bit pattern, strings and bytes as hex, int64 as decimal strings).
# Skips (TAP "1..0 # SKIP") when node or tests/oracle/node_modules is missing: run
# `make deps` (npm ci --prefix tests/oracle) to install them.
import json
import os
import shutil
import subprocess
import sys
import tempfile

DUCKDB_TYPES = {
    'Int32': 'INTEGER', 'Int64': 'BIGINT', 'Float32': 'FLOAT', 'Float64': 'DOUBLE',
    'Bool': 'BOOLEAN', 'String': 'VARCHAR', 'Bytes': 'BLOB',
    'UnixTimestamp': 'TIMESTAMP WITH TIME ZONE',
}


def duckdb_type(t):
    if t.startswith('Array(') and t.endswith(')'):
        return DUCKDB_TYPES[t[6:-1]] + '[]'
    return DUCKDB_TYPES[t]


def first_difference(got, want, columns):
    if len(got) != len(want):
        return '%d rows, expected %d' % (len(got), len(want))
    for i, (a, b) in enumerate(zip(got, want)):
        if a == b:
            continue
        for j, (u, v) in enumerate(zip(a, b)):
            if u != v:
                return 'row %d, column %s: got %.200s, expected %.200s' % (
                    i, columns[j]['name'], json.dumps(u), json.dumps(v))
        return 'row %d: got %.200s, expected %.200s' % (i, json.dumps(a), json.dumps(b))
    return None


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, ok, name, why=None):
        self.n += 1
        print('%s %d - %s' % ('ok' if ok else 'not ok', self.n, name))
        if not ok:
            self.failed += 1
            for line in str(why).splitlines()[:20]:
                print('#   ' + line)
        sys.stdout.flush()


def main(argv):
    exporter, root = argv[1], argv[2]
    oracle = os.path.join(root, 'tests', 'oracle')
    node = shutil.which('node')
    missing = [m for m in ('@duckdb/node-api', 'hyparquet', 'hyparquet-compressors')
               if not os.path.isdir(os.path.join(oracle, 'node_modules', m))]
    if not node or missing:
        print('1..0 # SKIP %s missing (run make deps)' % ('node' if not node else
                                                            'tests/oracle/node_modules'))
        return 0
    with tempfile.TemporaryDirectory(prefix='larder-pqw-') as tmp:
        r = subprocess.run([exporter, tmp], capture_output=True, text=True)
        if r.returncode != 0:
            print('not ok 1 - pq_writer_export\n# ' + r.stderr.replace('\n', '\n# '))
            print('1..1')
            return 1
        dump = os.path.join(tmp, 'dump.json')
        r = subprocess.run([node, os.path.join(oracle, 'pq_dump.mjs'), tmp, dump],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print('not ok 1 - pq_dump.mjs\n# ' + r.stderr.replace('\n', '\n# '))
            print('1..1')
            return 1
        with open(dump) as f:
            results = json.load(f)
        with open(os.path.join(tmp, 'manifest.json')) as f:
            cases = json.load(f)
        tap = Tap()
        for name in cases:
            with open(os.path.join(tmp, name + '.json')) as f:
                want = json.load(f)
            cols = want['columns']
            res = results.get(name, {})
            duck = res.get('duckdb', {'error': 'no result'})
            if 'error' in duck:
                tap.check(False, name + ': DuckDB reads the rows', duck['error'])
                tap.check(False, name + ': DuckDB agrees with the statistics', duck['error'])
            else:
                types = [duckdb_type(c['type']) for c in cols]
                why = None
                if duck['types'] != types:
                    why = 'types %s, expected %s' % (duck['types'], types)
                else:
                    why = first_difference(duck['rows'], want['rows'], cols)
                tap.check(why is None, name + ': DuckDB reads the rows', why)
                st = duck['stats']
                tap.check(not st['problems'],
                          '%s: DuckDB agrees with the statistics (%d chunks)' %
                          (name, st['checked']), '\n'.join(st['problems']))
            hyp = res.get('hyparquet', {'error': 'no result'})
            why = hyp['error'] if 'error' in hyp else first_difference(hyp['rows'],
                                                                       want['rows'], cols)
            tap.check(why is None, name + ': hyparquet reads the rows', why)
        print('1..%d' % tap.n)
        print('# %d passed, %d failed' % (tap.n - tap.failed, tap.failed))
        return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

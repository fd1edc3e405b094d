#!/usr/bin/env python3
# parquet_testing.py -- Larder's Parquet reader against the Apache parquet-testing corpus.
#
#   parquet_testing.py LARDER SOURCE_ROOT
#
# For every file of ../shared/parquet-testing/{data,bad_data} (relative to SOURCE_ROOT;
# LARDER_PARQUET_TESTING overrides the directory) it runs `LARDER parquet cat FILE --format
# jsonl` (and --format csv, which tells NaN and infinities apart from null) and checks:
#   - the outcome in EXPECT below: files read, or fail with the given message fragment
#     ("not supported" for features Larder does not read, "CRC" for a corrupt checksum);
#     bad_data/ files fail unless listed -- never a crash, a timeout or a sanitizer report;
#   - the values against FILE_expect.csv where the corpus has one (by column position);
#   - the values against DuckDB's reading of the same file (tests/oracle/pq_read.mjs, npm
#     @duckdb/node-api), type by type: integers exactly, floats bit for bit (FLOAT as
#     float32), DECIMAL as the correctly rounded double of DuckDB's exact text, timestamps
#     and dates as instants in microseconds, BLOBs as base64, lists element-wise.
# Output is TAP. Without the corpus the whole test is skipped ("1..0 # SKIP"); without node
# or tests/oracle/node_modules only the DuckDB comparisons are (each "ok N # SKIP").
# docs/parquet.md lists the results per file; keep EXPECT and that table in step.
import base64
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys

# file -> ('read',) | ('fail', message fragment). Unlisted: data/ reads, bad_data/ fails.
EXPECT = {
    'data/nulls.snappy.parquet': ('fail', 'nested struct columns are not supported'),
    'data/datapage_v1-corrupt-checksum.parquet': ('fail', 'page CRC mismatch'),
    'bad_data/ARROW-GH-43605.parquet': ('read',),  # bit width 0 dictionary indices: all 0
    'bad_data/ARROW-GH-41317.parquet': ('fail', ''),
    'bad_data/ARROW-GH-45185.parquet': ('fail', 'continues no list'),
    'bad_data/ARROW-RS-GH-6229-DICTHEADER.parquet': ('fail', ''),
}

# Cells where DuckDB is known to be wrong: (file, row, column) -> the value to expect
# instead, in DuckDB's rendering. int96_from_spark.md documents the year-290000 value;
# DuckDB 1.5.6 overflows nanoseconds and returns a garbage date for it.
DUCKDB_WRONG = {
    ('data/int96_from_spark.parquet', 5, 'a'): '9089380393200000000',
}

# Files DuckDB cannot read, compared with DuckDB's reading of a file holding the same rows:
# DuckDB has no Hadoop-framed LZ4 (codec 5); parquet-testing wrote the same four rows with
# LZ4_RAW in lz4_raw_compressed.parquet.
DUCKDB_SAME_AS = {
    'data/hadoop_lz4_compressed.parquet': 'data/lz4_raw_compressed.parquet',
}

SANITIZER = re.compile(r'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:')
TIMEOUT = 120


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, good, name, diag=None, skip=None):
        self.n += 1
        if skip:
            print('ok %d - %s # SKIP %s' % (self.n, name, skip))
        elif good:
            print('ok %d - %s' % (self.n, name))
        else:
            self.failed += 1
            print('not ok %d - %s' % (self.n, name))
            for line in (diag or '').splitlines()[:20]:
                print('# ' + line)
        sys.stdout.flush()


def run_larder(larder, path, fmt):
    try:
        p = subprocess.run([larder, 'parquet', 'cat', path, '--format', fmt],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, b'', b'timed out after %ds' % TIMEOUT
    return p.returncode, p.stdout, p.stderr


def parse_csv(text):
    """RFC 4180 rows of (quoted, value) cells; an unquoted empty cell is None."""
    rows, row, cell, quoted, i, n = [], [], [], False, 0, len(text)
    at_start = True
    while i < n:
        c = text[i]
        if quoted:
            if c == '"' and i + 1 < n and text[i + 1] == '"':
                cell.append('"')
                i += 2
                continue
            if c == '"':
                quoted = False
            else:
                cell.append(c)
            i += 1
            continue
        if c == '"' and at_start:
            quoted = True
            at_start = False
            i += 1
            continue
        if c in ',\n\r':
            if at_start:
                row.append(None)
            else:
                row.append(''.join(cell))
            cell, at_start = [], True
            if c != ',':
                if c == '\r' and i + 1 < n and text[i + 1] == '\n':
                    i += 1
                rows.append(row)
                row = []
            i += 1
            continue
        cell.append(c)
        at_start = False
        i += 1
    if not at_start or row:
        row.append(''.join(cell) if not at_start else None)
        rows.append(row)
    return rows


def days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


TS_RE = re.compile(r'^(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z$')


def ts_micros(s):
    m = TS_RE.match(s)
    if not m:
        raise ValueError('not an RFC 3339 UTC timestamp: %r' % s)
    y, mo, d, h, mi, sec = (int(g) for g in m.groups()[:6])
    frac = int((m.group(7) or '').ljust(6, '0'))
    return ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000) + frac


def duck_float(v):
    if isinstance(v, str):
        return {'NaN': math.nan, 'Infinity': math.inf, '-Infinity': -math.inf}.get(v, None) \
            if v in ('NaN', 'Infinity', '-Infinity') else float(v)
    return float(v)


def csv_float(cell):
    """Our CSV text of a float cell (nan/inf/-inf or a number); None for null."""
    if cell is None or cell == '':
        return None
    return float(cell)


def same_float(a, b, single):
    if single:
        a = struct.unpack('<f', struct.pack('<f', a))[0]
        b = struct.unpack('<f', struct.pack('<f', b))[0]
    return a == b or (math.isnan(a) and math.isnan(b))


def cell_eq(ours, duck, t, csv_cell):
    """Whether our JSON value equals DuckDB's (rendered by pq_read.mjs) for DuckDB type t."""
    if t.endswith('[]'):
        if duck is None or ours is None:
            return duck is None and ours is None
        if len(duck) != len(ours):
            return False
        et = t[:-2]
        for o, d in zip(ours, duck):
            if o is None and d in ('NaN', 'Infinity', '-Infinity') and csv_cell and \
                    re.search(r'nan|inf', csv_cell):
                continue
            if not cell_eq(o, d, et, None):
                return False
        return True
    if t in ('DOUBLE', 'FLOAT'):
        if ours is None and csv_cell is not None:
            ours = csv_float(csv_cell)
        if duck is None or ours is None:
            return duck is None and ours is None
        return same_float(float(ours), duck_float(duck), t == 'FLOAT')
    if duck is None or ours is None:
        return duck is None and ours is None
    if t.startswith('DECIMAL'):
        return float(ours) == float(duck)
    if t.startswith('TIMESTAMP') or t == 'DATE':
        return ts_micros(ours) == int(duck)
    if t in ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT',
             'UINTEGER', 'UBIGINT'):
        return isinstance(ours, int) and not isinstance(ours, bool) and ours == int(duck)
    if t == 'BOOLEAN':
        return ours is duck
    if t == 'UUID':
        return base64.b64decode(ours).hex() == duck.replace('-', '')
    return ours == duck


def load_jsonl(data):
    rows = []
    for line in data.decode('utf-8').splitlines():
        rows.append(json.loads(line))
    return rows


def compare_duckdb(rel, ours, csv_rows, duck):
    """Returns None when equal, else a description of the first difference."""
    if 'error' in duck:
        return 'DuckDB cannot read it: %s' % duck['error']
    cols, types = duck['columns'], duck['types']
    if len(ours) != len(duck['rows']):
        return 'row count: larder %d, DuckDB %d' % (len(ours), len(duck['rows']))
    for r, (o, d) in enumerate(zip(ours, duck['rows'])):
        if list(o.keys()) != cols:
            return 'columns: larder %s, DuckDB %s' % (list(o.keys()), cols)
        for c, name in enumerate(cols):
            want = DUCKDB_WRONG.get((rel, r, name), d[c])
            csv_cell = csv_rows[r + 1][c] if csv_rows and r + 1 < len(csv_rows) else None
            try:
                good = cell_eq(o[name], want, types[c], csv_cell)
            except (ValueError, TypeError) as e:
                good, want = False, '%r (%s)' % (want, e)
            if not good:
                return 'row %d, column %s (%s): larder %r, DuckDB %r' % (
                    r, name, types[c], o[name], want)
    return None


def compare_expect(ours, expect_path):
    with open(expect_path, encoding='utf-8') as f:
        rows = parse_csv(f.read())
    header, body = rows[0], rows[1:]
    if len(body) != len(ours):
        return 'row count: larder %d, expected %d' % (len(ours), len(body))
    for r, (o, e) in enumerate(zip(ours, body)):
        vals = list(o.values())
        if len(vals) != len(header) or len(e) != len(header):
            return 'row %d: %d columns, expected %d' % (r, len(vals), len(header))
        for c, (ov, ev) in enumerate(zip(vals, e)):
            if ov is None or ev is None:
                good = ov is None and ev is None
            elif isinstance(ov, bool):
                good = str(ov).lower() == ev.lower()
            elif isinstance(ov, int):
                good = ov == int(ev)
            elif isinstance(ov, float):
                good = ov == float(ev)
            else:
                good = ov == ev
            if not good:
                return 'row %d, column %d (%s): larder %r, expected %r' % (r, c, header[c], ov, ev)
    return None


def duckdb_results(root, files):
    """DuckDB's reading of every file, by path; None when the oracle is unavailable."""
    oracle = os.path.join(root, 'tests', 'oracle')
    node = shutil.which('node')
    if not node or not os.path.isdir(os.path.join(oracle, 'node_modules', '@duckdb', 'node-api')):
        return None
    p = subprocess.run([node, os.path.join(oracle, 'pq_read.mjs')] + files, cwd=oracle,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    out = {}
    for line in p.stdout.decode('utf-8').splitlines():
        obj = json.loads(line)
        out[obj['file']] = obj
    return out


def main(argv):
    if len(argv) != 3:
        print('usage: parquet_testing.py LARDER SOURCE_ROOT', file=sys.stderr)
        return 2
    larder, root = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    corpus = os.environ.get('LARDER_PARQUET_TESTING') or \
        os.path.join(os.path.dirname(root), 'shared', 'parquet-testing')
    if not os.path.isdir(os.path.join(corpus, 'data')):
        print('1..0 # SKIP parquet-testing corpus not found at %s' % corpus)
        return 0
    rels = []
    for sub in ('data', 'bad_data'):
        d = os.path.join(corpus, sub)
        if os.path.isdir(d):
            rels += ['%s/%s' % (sub, f) for f in sorted(os.listdir(d)) if f.endswith('.parquet')]
    paths = [os.path.join(corpus, r) for r in rels]
    readable = [p for r, p in zip(rels, paths)
                if EXPECT.get(r, ('read',) if r.startswith('data/') else ('fail', ''))[0] == 'read']
    readable += [os.path.join(corpus, r) for r in DUCKDB_SAME_AS.values()]
    duck = duckdb_results(root, sorted(set(readable)))
    tap = Tap()
    for rel, path in zip(rels, paths):
        want = EXPECT.get(rel, ('read',) if rel.startswith('data/') else ('fail', ''))
        rc, out, err = run_larder(larder, path, 'jsonl')
        errs = err.decode('utf-8', 'replace')
        clean = rc is not None and rc >= 0 and not SANITIZER.search(errs)
        if want[0] == 'fail':
            msg_ok = errs.startswith('larder: error: ') and want[1] in errs
            tap.ok(clean and rc != 0 and msg_ok, '%s fails cleanly' % rel,
                   'exit %s, stderr: %s' % (rc, errs))
            continue
        tap.ok(clean and rc == 0, '%s reads' % rel, 'exit %s, stderr: %s' % (rc, errs))
        if not (clean and rc == 0):
            continue
        ours = load_jsonl(out)
        rc2, csv_out, err2 = run_larder(larder, path, 'csv')
        csv_rows = parse_csv(csv_out.decode('utf-8', 'replace')) if rc2 == 0 else None
        expect = path[:-len('.parquet')] + '_expect.csv'
        if os.path.exists(expect):
            diff = compare_expect(ours, expect)
            tap.ok(diff is None, '%s matches %s' % (rel, os.path.basename(expect)), diff)
        if duck is None:
            tap.ok(True, '%s matches DuckDB' % rel, skip='DuckDB oracle not installed '
                   '(npm ci --prefix tests/oracle)')
        else:
            ref = os.path.join(corpus, DUCKDB_SAME_AS.get(rel, rel))
            diff = compare_duckdb(rel, ours, csv_rows, duck.get(ref, {'error': 'no result'}))
            via = '' if ref == path else ' (via %s)' % DUCKDB_SAME_AS[rel]
            tap.ok(diff is None, '%s matches DuckDB%s' % (rel, via), diff)
    print('1..%d' % tap.n)
    print('# %d passed, %d failed' % (tap.n - tap.failed, tap.failed))
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))

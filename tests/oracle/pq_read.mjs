// pq_read.mjs -- DuckDB's reading of Parquet files, for tests/integration/parquet_testing.py.
//
// Usage: node pq_read.mjs FILE...
// Prints one JSON object per file and line: {"file", "columns", "types", "rows"} with rows
// as arrays, or {"file", "error"} when DuckDB cannot read it. Values are made exact and
// easy to compare: BLOBs as base64, TIMESTAMP/DATE values as microseconds since the epoch
// (strings), BIGINTs as strings, floats as numbers or "NaN"/"Infinity"/"-Infinity", DECIMALs
// as their exact decimal text; lists element-wise. One thread, a fresh database per run.
import { DuckDBInstance } from '@duckdb/node-api';

function quoteIdent(name) {
  return '"' + name.replace(/"/g, '""') + '"';
}

// The SQL expression that renders column expression e of DuckDB type t comparably.
function render(e, t) {
  if (t.endsWith('[]')) {
    const inner = render('x', t.slice(0, -2));
    return inner === 'x' ? e : `list_transform(${e}, x -> ${inner})`;
  }
  if (t === 'BLOB') return `to_base64(${e})`;
  if (t === 'DATE') return `epoch_us(CAST(${e} AS TIMESTAMP))`;
  if (t.startsWith('TIMESTAMP')) return `epoch_us(${e})`;
  return e;
}

const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();
for (const file of process.argv.slice(2)) {
  const src = `read_parquet('${file.replace(/'/g, "''")}')`;
  try {
    const desc = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`);
    const cols = desc.getRowObjectsJson().map((r) => [r.column_name, r.column_type]);
    const exprs = cols.map(([n, t]) => `${render(quoteIdent(n), t)} AS ${quoteIdent(n)}`);
    const sel = exprs.length ? exprs.join(', ') : '*';
    const res = await con.runAndReadAll(`SELECT ${sel} FROM ${src}`);
    const rows = res.getRowsJson();
    console.log(JSON.stringify({ file, columns: cols.map((c) => c[0]), types: cols.map((c) => c[1]), rows }));
  } catch (e) {
    console.log(JSON.stringify({ file, error: String(e.message || e) }));
  }
}
con.closeSync();

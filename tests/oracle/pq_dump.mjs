// pq_dump.mjs -- reads Parquet files with the reference readers (DuckDB through
// @duckdb/node-api, and hyparquet) and prints their contents in the canonical value form
// of tests/unit/parquet/writer_cases.h, for tests/integration/parquet_writer_duckdb.py.
//
//   node tests/oracle/pq_dump.mjs DIR OUT.json
//
// DIR holds manifest.json (case names) and, per case, CASE.parquet and CASE.json (whose
// "columns" give the Larder types used to canonicalise values). OUT.json maps each case
// to {duckdb: {types, rows, stats} | {error}, hyparquet: {rows} | {error}}, where stats
// are DuckDB's checks of the footer statistics against the data of each row group.
// It lives in tests/oracle so that imports resolve against tests/oracle/node_modules.
import { readFileSync, writeFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetReadObjects, parquetMetadata } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const hex = (bytes) => Buffer.from(bytes).toString('hex');

function floatBits(x, width) {
  if (Number.isNaN(x)) return 'nan';
  const dv = new DataView(new ArrayBuffer(8));
  if (width === 4) {
    dv.setFloat32(0, x);
    return dv.getUint32(0).toString(16).padStart(8, '0');
  }
  dv.setFloat64(0, x);
  return dv.getUint32(0).toString(16).padStart(8, '0') + dv.getUint32(4).toString(16).padStart(8, '0');
}

// One value (already null-checked) of Larder scalar type `t`, from either reader.
function scalar(t, v) {
  switch (t) {
    case 'Int32': return Number(v);
    case 'Int64': return BigInt(v).toString();
    case 'Float32': return floatBits(Number(v), 4);
    case 'Float64': return floatBits(Number(v), 8);
    case 'Bool': return Boolean(v);
    case 'Bytes': return hex(v.bytes ?? v);
    case 'UnixTimestamp': return (v.micros ?? v).toString();
    default: throw new Error(`unknown type ${t}`);
  }
}

function canon(t, v, stringsAreHex) {
  if (v === null || v === undefined) return null;
  const m = /^Array\((.*)\)$/.exec(t);
  if (m) return Array.from(v.items ?? v, (x) => canon(m[1], x, stringsAreHex));
  if (t === 'String') return stringsAreHex ? v : hex(Buffer.from(v, 'utf8'));
  return scalar(t, v);
}

async function duckdbRead(con, c) {
  const file = c.file.replace(/'/g, "''");
  const r = await con.runAndReadAll(`SELECT * FROM read_parquet('${file}')`);
  const types = r.columnTypes().map((x) => x.toString());
  const rows = r.getRows().map((row) => row.map((v, i) => canon(c.columns[i].type, v, false)));
  return { types, rows, stats: await duckdbStats(con, c, file) };
}

// For the scalar columns of the first row groups: the footer's min/max/null_count must
// equal what DuckDB computes from the rows of that row group (NaN excluded from min/max).
async function duckdbStats(con, c, file) {
  const meta = (await con.runAndReadAll(
    `SELECT row_group_id, row_group_num_rows, path_in_schema, stats_min_value, stats_max_value,
            stats_null_count FROM parquet_metadata('${file}') ORDER BY row_group_id, column_id`))
    .getRowObjects();
  const problems = [];
  let checked = 0;
  const starts = new Map();
  let at = 0n;
  for (const m of meta) {
    if (!starts.has(m.row_group_id)) {
      starts.set(m.row_group_id, at);
      at += BigInt(m.row_group_num_rows);
    }
  }
  for (const m of meta) {
    if (Number(m.row_group_id) >= 12) continue;
    const col = c.columns.find((x) => x.name === m.path_in_schema);
    if (!col || col.type.startsWith('Array')) continue;
    const sqlType = { Int32: 'INTEGER', Int64: 'BIGINT', Float32: 'FLOAT', Float64: 'DOUBLE',
      Bool: 'BOOLEAN', String: 'VARCHAR', Bytes: 'BLOB', UnixTimestamp: 'TIMESTAMPTZ' }[col.type];
    const q = `"${col.name}"`;
    const notNan = col.type.startsWith('Float') ? `FILTER (WHERE NOT isnan(${q}))` : '';
    const a = starts.get(m.row_group_id), b = a + BigInt(m.row_group_num_rows);
    const lit = (s) => (s === null ? 'NULL' : `'${String(s).replace(/'/g, "''")}'`);
    const sql = `SELECT min(${q}) ${notNan} IS NOT DISTINCT FROM TRY_CAST(${lit(m.stats_min_value)} AS ${sqlType}) AS min_ok,
                        max(${q}) ${notNan} IS NOT DISTINCT FROM TRY_CAST(${lit(m.stats_max_value)} AS ${sqlType}) AS max_ok,
                        count(*) - count(${q}) AS nulls
                 FROM read_parquet('${file}', file_row_number = true)
                 WHERE file_row_number >= ${a} AND file_row_number < ${b}`;
    const [res] = (await con.runAndReadAll(sql)).getRowObjects();
    checked++;
    const absent = m.stats_min_value === null && m.stats_max_value === null &&
      m.stats_null_count === null;
    if (!c.statistics) {
      if (!absent) problems.push(`row group ${m.row_group_id} column ${col.name}: statistics written`);
      continue;
    }
    const nullsOk = m.stats_null_count !== null && BigInt(res.nulls) === BigInt(m.stats_null_count);
    // A missing bound is accepted only where DuckDB hides it: infinite float bounds, and
    // columns without a non-null value. BLOB bounds print with escapes that DuckDB's cast
    // cannot always undo; the Larder reader's unit tests check those.
    const hidden = (s) => s === null && (col.type.startsWith('Float') || BigInt(res.nulls) === BigInt(m.row_group_num_rows));
    const minOk = res.min_ok || hidden(m.stats_min_value) || col.type === 'Bytes';
    const maxOk = res.max_ok || hidden(m.stats_max_value) || col.type === 'Bytes';
    if (!nullsOk || !minOk || !maxOk)
      problems.push(`row group ${m.row_group_id} column ${col.name}: min_ok=${res.min_ok} ` +
        `max_ok=${res.max_ok} nulls=${res.nulls} stats=(${m.stats_min_value}, ` +
        `${m.stats_max_value}, ${m.stats_null_count})`);
  }
  return { checked, problems };
}

async function hyparquetRead(c) {
  const buf = readFileSync(c.file);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  parquetMetadata(file); // throws on a malformed footer
  const rows = await parquetReadObjects({
    file, compressors, utf8: false,
    parsers: { stringFromBytes: (b) => hex(b), timestampFromMicroseconds: (m) => m },
  });
  return {
    rows: rows.map((row) => c.columns.map((col) => canon(col.type, row[col.name], true))),
  };
}

const [dir, out] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(`${dir}/manifest.json`, 'utf8'));
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const result = {};
for (const name of cases) {
  const c = JSON.parse(readFileSync(`${dir}/${name}.json`, 'utf8'));
  result[name] = {};
  try {
    result[name].duckdb = await duckdbRead(con, c);
  } catch (e) {
    result[name].duckdb = { error: String(e?.message ?? e) };
  }
  try {
    result[name].hyparquet = await hyparquetRead(c);
  } catch (e) {
    result[name].hyparquet = { error: String(e?.stack ?? e) };
  }
}
writeFileSync(out, JSON.stringify(result));

// run_sql.mjs -- runs SQL jobs in DuckDB for Larder's differential tests.
//
// Usage: node run_sql.mjs JOBS.json
// Prints one line {"job": i, "ms": elapsed} per job: the time inside DuckDB (database
// creation to the end of the COPY), without node's start-up, for benchmarks.
// JOBS.json is a list of {"sql": "...", "out": "/path/result.csv"}: each job runs in a
// fresh in-memory database (1 thread, so results never depend on scheduling) and its
// query result is written with COPY ... TO out (CSV with a header and NULL as empty, or
// Parquet when out ends in .parquet). A failing job
// prints "job N: error" on stderr and makes the exit status 1; the others still run.
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const jobs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let failed = 0;
for (let i = 0; i < jobs.length; i++) {
  const { sql, out } = jobs[i];
  try {
    const t0 = process.hrtime.bigint();
    const db = await DuckDBInstance.create(':memory:', { threads: '1' });
    const con = await db.connect();
    const statements = sql.split(';\n').map((s) => s.trim()).filter((s) => s.length > 0);
    const last = statements.pop();
    for (const s of statements) await con.run(s);
    const dest = out.replace(/'/g, "''");
    const format = out.endsWith('.parquet') ? "(FORMAT parquet, COMPRESSION snappy)" : "(HEADER, DELIMITER ',')";
    await con.run(`COPY (${last}) TO '${dest}' ${format}`);
    con.closeSync();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(JSON.stringify({ job: i, ms }));
  } catch (e) {
    failed++;
    console.error(`job ${i}: ${e.message}`);
  }
}
process.exit(failed ? 1 : 0);

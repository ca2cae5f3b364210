#!/usr/bin/env node
// Peer engines for tide's end-to-end perf suite (scripts/perf): the same
// questions on the same CSV files, timed the same way (CSV load once, then
// each question run RUNS times; each run builds its whole answer).
//
//   node perf/peers/run.js ENGINE SUITE [--threads N] [--runs R] FILES...
//     ENGINE  duckdb | polars
//     SUITE   groupby FILE              (the G1 CSV: db-benchmark groupby q1..q10)
//             join LEFT RIGHT           (inner join on id)
//             scan FILE                 (sum of v1, v2, v3 over all rows)
//
// Prints one JSON object on stdout: engine, version, threads, load_s, and
// per question the times of each run and the answer's row count.
// Needs `npm install` in perf/peers (scripts/perf --install-peers).
// SPDX-License-Identifier: Apache-2.0
'use strict';

const path = require('path');

function usage(msg) {
  if (msg) process.stderr.write(`perf/peers/run.js: ${msg}\n`);
  process.stderr.write('usage: node perf/peers/run.js duckdb|polars groupby|join|scan [--threads N] [--runs R] FILES...\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let threads = 0;
let runs = 2;
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--threads') threads = parseInt(args[++i], 10);
  else if (args[i] === '--runs') runs = parseInt(args[++i], 10);
  else pos.push(args[i]);
}
const [engine, suite, ...files] = pos;
if (!['duckdb', 'polars'].includes(engine)) usage(`unknown engine '${engine}'`);
if (!['groupby', 'join', 'scan'].includes(suite)) usage(`unknown suite '${suite}'`);
if (files.length !== (suite === 'join' ? 2 : 1)) usage('wrong number of files');
if (!(runs >= 1)) usage('--runs wants a positive number');

const now = () => Number(process.hrtime.bigint()) / 1e9;

// db-benchmark groupby questions, DuckDB formulations (groupby-duckdb.R).
const DUCKDB_GROUPBY = [
  ['q1', 'SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1'],
  ['q2', 'SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2'],
  ['q3', 'SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3'],
  ['q4', 'SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM x GROUP BY id4'],
  ['q5', 'SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6'],
  ['q6', 'SELECT id4, id5, quantile_cont(v3, 0.5) AS median_v3, stddev(v3) AS sd_v3 FROM x GROUP BY id4, id5'],
  ['q7', 'SELECT id3, max(v1) - min(v2) AS range_v1_v2 FROM x GROUP BY id3'],
  ['q8', 'SELECT id6, v3 AS largest2_v3 FROM (SELECT id6, v3, row_number() OVER (PARTITION BY id6 ORDER BY v3 DESC) AS order_v3 FROM x WHERE v3 IS NOT NULL) sub_query WHERE order_v3 <= 2'],
  ['q9', 'SELECT id2, id4, pow(corr(v1, v2), 2) AS r2 FROM x GROUP BY id2, id4'],
  ['q10', 'SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS count FROM x GROUP BY id1, id2, id3, id4, id5, id6'],
];

// db-benchmark groupby questions, Polars formulations (groupby-polars.py).
function polarsGroupby(pl) {
  const c = (n) => pl.col(n);
  return [
    ['q1', (x) => x.lazy().groupBy('id1').agg(c('v1').sum().alias('v1'))],
    ['q2', (x) => x.lazy().groupBy(['id1', 'id2']).agg(c('v1').sum().alias('v1'))],
    ['q3', (x) => x.lazy().groupBy('id3').agg(c('v1').sum().alias('v1'), c('v3').mean().alias('v3'))],
    ['q4', (x) => x.lazy().groupBy('id4').agg(c('v1').mean().alias('v1'), c('v2').mean().alias('v2'), c('v3').mean().alias('v3'))],
    ['q5', (x) => x.lazy().groupBy('id6').agg(c('v1').sum().alias('v1'), c('v2').sum().alias('v2'), c('v3').sum().alias('v3'))],
    ['q6', (x) => x.lazy().groupBy(['id4', 'id5']).agg(c('v3').median().alias('median_v3'), c('v3').std().alias('sd_v3'))],
    ['q7', (x) => x.lazy().groupBy('id3').agg(c('v1').max().minus(c('v2').min()).alias('range_v1_v2'))],
    ['q8', (x) => x.lazy().dropNulls('v3').sort('v3', true).groupBy('id6').agg(c('v3').head(2).alias('largest2_v3')).explode('largest2_v3')],
    ['q9', (x) => x.lazy().groupBy(['id2', 'id4']).agg(pl.pearsonCorr('v1', 'v2').pow(2).alias('r2'))],
    ['q10', (x) => x.lazy().groupBy(['id1', 'id2', 'id3', 'id4', 'id5', 'id6']).agg(c('v3').sum().alias('v3'), c('v1').count().alias('count'))],
  ];
}

function sqlString(s) {
  return `'${s.replace(/'/g, "''")}'`;
}

async function runDuckdb() {
  const duckdb = require('@duckdb/node-api');
  const opts = {};
  if (threads > 0) opts.threads = String(threads);
  const inst = await duckdb.DuckDBInstance.create(':memory:', opts);
  const con = await inst.connect();
  const scalar = async (sql) => (await con.runAndReadAll(sql)).getRows()[0][0];
  const out = { engine: 'duckdb', version: String(await scalar('SELECT version()')),
    threads: Number(await scalar("SELECT current_setting('threads')")), questions: [] };
  const t0 = now();
  if (suite === 'join') {
    await con.run(`CREATE TABLE l AS SELECT * FROM read_csv(${sqlString(files[0])})`);
    const t1 = now();
    await con.run(`CREATE TABLE r AS SELECT * FROM read_csv(${sqlString(files[1])})`);
    out.load_s = now() - t0;
    out.load_left_s = t1 - t0;
    out.load_right_s = now() - t1;
  } else {
    await con.run(`CREATE TABLE x AS SELECT * FROM read_csv(${sqlString(files[0])})`);
    out.load_s = now() - t0;
  }
  const qs = suite === 'groupby' ? DUCKDB_GROUPBY
    : suite === 'join' ? [['join', 'SELECT l.id, l.v1, r.v2 FROM l JOIN r USING (id)'],
      ['join_sum', 'SELECT sum(l.v1) AS v1, sum(r.v2) AS v2 FROM l JOIN r USING (id)']]
    : [['scan_sum', 'SELECT sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x']];
  for (const [q, sql] of qs) {
    const times = [];
    let rows = -1;
    for (let r = 0; r < runs; r++) {
      await con.run('DROP TABLE IF EXISTS ans');
      const s = now();
      await con.run(`CREATE TABLE ans AS ${sql}`);
      times.push(now() - s);
      rows = Number(await scalar('SELECT count(*) FROM ans'));
    }
    await con.run('DROP TABLE IF EXISTS ans');
    out.questions.push({ q, times, rows });
  }
  return out;
}

async function runPolars() {
  const pl = require('nodejs-polars');
  const pkg = require(path.join(path.dirname(require.resolve('nodejs-polars')), '..', 'package.json'));
  const out = { engine: 'polars', version: `nodejs-polars ${pkg.version}`,
    threads: Number(process.env.POLARS_MAX_THREADS || 0) || null, questions: [] };
  const t0 = now();
  let x;
  let l;
  let r;
  if (suite === 'join') {
    l = pl.readCSV(files[0]);
    const t1 = now();
    r = pl.readCSV(files[1]);
    out.load_s = now() - t0;
    out.load_left_s = t1 - t0;
    out.load_right_s = now() - t1;
  } else {
    x = pl.readCSV(files[0]);
    out.load_csv_s = now() - t0;
    if (suite === 'groupby') {
      // as db-benchmark does: the string ids become categoricals
      x = x.withColumns(pl.col('id1').cast(pl.Categorical), pl.col('id2').cast(pl.Categorical),
        pl.col('id3').cast(pl.Categorical));
    }
    out.load_s = now() - t0;
  }
  const qs = suite === 'groupby' ? polarsGroupby(pl)
    : suite === 'join' ? [['join', () => l.lazy().join(r.lazy(), { on: 'id', how: 'inner' })],
      ['join_sum', () => l.lazy().join(r.lazy(), { on: 'id', how: 'inner' }).select(pl.col('v1').sum(), pl.col('v2').sum())]]
    : [['scan_sum', (d) => d.lazy().select(pl.col('v1').sum(), pl.col('v2').sum(), pl.col('v3').sum())]];
  for (const [q, f] of qs) {
    const times = [];
    let rows = -1;
    for (let k = 0; k < runs; k++) {
      const s = now();
      const ans = f(x).collectSync();
      times.push(now() - s);
      rows = ans.height;
    }
    out.questions.push({ q, times, rows });
  }
  return out;
}

(engine === 'duckdb' ? runDuckdb() : runPolars()).then(
  (out) => process.stdout.write(`${JSON.stringify(out)}\n`),
  (e) => {
    process.stderr.write(`perf/peers/run.js (${engine} ${suite}): ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  },
);

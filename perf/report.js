#!/usr/bin/env node
// Reads a suite's JSON written by scripts/perf and writes OUT/SUITE.md (a
// Markdown table, also printed) and OUT/SUITE.dat (columns for perf/plot.gp).
//   node perf/report.js OUT/SUITE.json OUT
// Times compared are the best of each engine's runs; every run is listed.
// SPDX-License-Identifier: Apache-2.0
'use strict';

const fs = require('fs');
const path = require('path');

const [file, outDir] = process.argv.slice(2);
if (!file || !outDir) {
  process.stderr.write('usage: node perf/report.js SUITE.json OUTDIR\n');
  process.exit(2);
}
const S = JSON.parse(fs.readFileSync(file, 'utf8'));
const suite = S.suite;
const lines = [];
const dat = [];
let ylabel = 'seconds (best run)';
const warnings = [];

const best = (q) => (q && q.times.length ? Math.min(...q.times) : NaN);
const fmt = (t) => (Number.isFinite(t) ? (t < 0.1 ? t.toFixed(4) : t < 10 ? t.toFixed(3) : t.toFixed(2)) : '-');
const runsOf = (q) => (q ? q.times.map(fmt).join(' / ') : '-');
const byEngine = (e) => S.runs.filter((r) => r.engine === e);
const qmap = (run) => Object.fromEntries((run ? run.questions : []).map((q) => [q.q, q]));

function header() {
  const m = S.machine;
  lines.push(`## ${suite}`, '');
  lines.push(`Machine: ${m.cpu}, ${m.cpus} CPUs, ${m.memory}, Linux ${m.kernel}; node ${m.node}; tide ${m.tide_commit}; ${m.date}.`);
  lines.push(`Command: \`${S.command}\``);
  if (S.peers_note) lines.push(`Note: ${S.peers_note}.`);
  const vers = S.runs.filter((r) => r.version).map((r) => `${r.engine} ${r.version}`);
  if (vers.length) lines.push(`Peers: ${vers.join(', ')}.`);
  lines.push('');
}

function loadavgs() {
  lines.push('', 'Load average (1, 5, 15 min) before -> after each engine\'s run:');
  for (const r of S.runs) {
    if (r.loadavg_before) lines.push(`- ${r.engine}${r.threads ? ` (${r.threads} threads)` : ''}: ${r.loadavg_before} -> ${r.loadavg_after}`);
  }
}

function compareTable(questions, tideAlts) {
  const tide = qmap(byEngine('tide')[0]);
  const duck = qmap(byEngine('duckdb')[0]);
  const pol = qmap(byEngine('polars')[0]);
  const havePeers = byEngine('duckdb').length + byEngine('polars').length > 0;
  lines.push('| question | tide runs (s) | DuckDB runs (s) | Polars runs (s) | tide best | best peer | tide / best peer | rows tide / DuckDB / Polars |');
  lines.push('|---|---|---|---|---|---|---|---|');
  dat.push('question tide DuckDB Polars');
  for (const q of questions) {
    const alts = (tideAlts && tideAlts[q]) || [q];
    let tq = null;
    for (const a of alts) if (tide[a] && (!tq || best(tide[a]) < best(tq))) tq = tide[a];
    const tb = best(tq);
    const db = best(duck[q]);
    const pb = best(pol[q]);
    const peer = Math.min(Number.isFinite(db) ? db : Infinity, Number.isFinite(pb) ? pb : Infinity);
    const ratio = Number.isFinite(peer) ? `${(tb / peer).toFixed(2)}x` : '-';
    const rows = [tq, duck[q], pol[q]].map((x) => (x ? String(x.rows) : '-'));
    let rowNote = rows.join(' / ');
    for (const [name, x] of [['DuckDB', duck[q]], ['Polars', pol[q]]]) {
      if (x && tq && x.rows !== tq.rows) {
        rowNote += ` **MISMATCH (${name})**`;
        warnings.push(`${suite} ${q}: tide has ${tq.rows} rows, ${name} ${x.rows}`);
      }
    }
    const tname = tq && tq.q !== q ? ` (${tq.q})` : '';
    lines.push(`| ${q}${tname} | ${runsOf(tq)} | ${runsOf(duck[q])} | ${runsOf(pol[q])} | ${fmt(tb)} | ${Number.isFinite(peer) ? fmt(peer) : '-'} | ${ratio} | ${rowNote} |`);
    dat.push(`${q} ${fmt(tb)} ${Number.isFinite(db) ? fmt(db) : 'NaN'} ${Number.isFinite(pb) ? fmt(pb) : 'NaN'}`);
  }
  // loads
  lines.push('', 'CSV load (s), once per engine process:');
  for (const r of S.runs) {
    if (r.load_s === undefined) continue;
    let extra = '';
    if (r.loads) extra = ` (${Object.entries(r.loads).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')})`;
    if (r.load_left_s !== undefined) extra = ` (left ${fmt(r.load_left_s)}, right ${fmt(r.load_right_s)})`;
    if (r.load_csv_s !== undefined) extra = ` (read_csv ${fmt(r.load_csv_s)}, then ids to categoricals)`;
    lines.push(`- ${r.engine}: ${fmt(r.load_s)}${extra}`);
  }
  if (!havePeers) lines.push('', 'No peer ran (see the note above): the table has tide only.');
}

function groupby() {
  const tide = byEngine('tide')[0];
  compareTable(tide.questions.map((q) => q.q));
}

function join() {
  const tide = byEngine('tide')[0];
  const names = tide.questions.map((q) => q.q).filter((q) => !q.includes('_natural'));
  const alts = {};
  for (const q of names) alts[q] = [q, q.replace('join', 'join_natural')];
  compareTable(names, alts);
  lines.push('', 'tide runs of every formulation (s):');
  for (const q of tide.questions) lines.push(`- ${q.q}: ${runsOf(q)} (rows ${q.rows})`);
}

function scaling() {
  const runs = byEngine('tide').sort((a, b) => a.threads - b.threads);
  const ns = runs.map((r) => r.threads);
  const t1 = qmap(runs.find((r) => r.threads === 1));
  lines.push(`| question | ${ns.map((n) => `${n} thr runs (s)`).join(' | ')} | ${ns.filter((n) => n > 1).map((n) => `speedup ${n} / efficiency`).join(' | ')} |`);
  lines.push(`|---|${ns.map(() => '---|').join('')}${ns.filter((n) => n > 1).map(() => '---|').join('')}`);
  dat.push(`question ${ns.map((n) => `${n}_threads`).join(' ')}`);
  ylabel = 'speedup over 1 thread (best run)';
  const qs = runs[0].questions.map((q) => q.q);
  const loadRow = ['read_csv'];
  for (const q of qs) {
    const cells = runs.map((r) => runsOf(qmap(r)[q]));
    const sp = [];
    const d = [q];
    for (const r of runs) {
      const tn = best(qmap(r)[q]);
      const s = t1 && t1[q] ? best(t1[q]) / tn : NaN;
      d.push(Number.isFinite(s) ? s.toFixed(3) : 'NaN');
      if (r.threads > 1) sp.push(`${s.toFixed(2)}x / ${(100 * s / r.threads).toFixed(0)}%`);
    }
    dat.push(d.join(' '));
    lines.push(`| ${q} | ${cells.join(' | ')} | ${sp.join(' | ')} |`);
  }
  const l1 = runs.find((r) => r.threads === 1);
  const lsp = runs.filter((r) => r.threads > 1).map((r) => `${(l1.load_s / r.load_s).toFixed(2)}x / ${(100 * l1.load_s / r.load_s / r.threads).toFixed(0)}%`);
  lines.push(`| read_csv (load) | ${runs.map((r) => fmt(r.load_s)).join(' | ')} | ${lsp.join(' | ')} |`);
  void loadRow;
}

function limits() {
  const p = byEngine('limits')[0];
  const rows = Number(S.params.rows);
  ylabel = 'fraction of the sequential read bandwidth';
  lines.push('Machine limits (perf/limits.c, best of its repetitions):', '');
  lines.push(`- sequential read: ${p.seq_read_gbs_1_thread.toFixed(2)} GB/s on 1 thread, ${p.seq_read_gbs_all_threads.toFixed(2)} GB/s on ${p.threads} threads (${p.array_mib} MiB array)`);
  lines.push(`- random independent 8-byte lookups, ${p.array_mib} MiB array: ${(p.random_lookups_per_s_1_thread / 1e6).toFixed(1)} M/s on 1 thread, ${(p.random_lookups_per_s_all_threads / 1e6).toFixed(1)} M/s on ${p.threads} threads`);
  lines.push(`- the same in 4 MiB (cache): ${(p.random_lookups_4mib_per_s_1_thread / 1e6).toFixed(1)} M/s on 1 thread, ${(p.random_lookups_4mib_per_s_all_threads / 1e6).toFixed(1)} M/s on ${p.threads} threads`);
  for (const n of p.numa_nodes || []) lines.push(`- NUMA node ${n.node}: ${n.seq_read_gbs_1_thread.toFixed(2)} GB/s on 1 thread, ${n.seq_read_gbs_node_threads.toFixed(2)} GB/s on its ${n.cpus} CPUs`);
  // bytes each question must read at least: tide's column widths
  // (symbol 4 bytes, int64 and double 8)
  const bytes = { q1: 12, q4: 32, scan_sum: 24 };
  const what = { q1: 'id1 symbol + v1 int64', q4: 'id4 int64 + v1, v2 int64 + v3 double', scan_sum: 'v1, v2 int64 + v3 double' };
  lines.push('', `Scans over ${rows} rows as a fraction of the measured sequential read bandwidth (best run):`, '');
  lines.push('| engine | threads | question | bytes read (columns) | best (s) | GB/s | fraction of bandwidth |');
  lines.push('|---|---|---|---|---|---|---|');
  dat.push('question tide_1_thread tide_all_threads DuckDB Polars');
  const cols = {};
  for (const r of S.runs) {
    if (r.engine === 'limits') continue;
    const bw = r.threads === 1 ? p.seq_read_gbs_1_thread : p.seq_read_gbs_all_threads;
    for (const q of r.questions) {
      const b = bytes[q.q] * rows;
      const t = best(q);
      const gbs = b / t / 1e9;
      lines.push(`| ${r.engine} | ${r.threads} | ${q.q} | ${(b / 1e6).toFixed(0)} MB (${what[q.q]}) | ${fmt(t)} | ${gbs.toFixed(2)} | ${(100 * gbs / bw).toFixed(0)}% |`);
      const key = r.engine === 'tide' ? (r.threads === 1 ? 'tide_1_thread' : 'tide_all_threads') : r.engine === 'duckdb' ? 'DuckDB' : 'Polars';
      (cols[q.q] = cols[q.q] || {})[key] = (gbs / bw).toFixed(3);
    }
  }
  for (const [q, c] of Object.entries(cols)) dat.push(`${q} ${['tide_1_thread', 'tide_all_threads', 'DuckDB', 'Polars'].map((k) => c[k] || 'NaN').join(' ')}`);
  lines.push('', '(Peer columns: the peers may read fewer bytes, e.g. compressed or narrower columns; the fraction uses tide\'s widths.)');
}

header();
({ groupby, join, scaling, limits })[suite]();
loadavgs();
if (warnings.length) {
  lines.push('', 'ROW COUNT MISMATCHES:');
  for (const w of warnings) lines.push(`- ${w}`);
}
const md = `${lines.join('\n')}\n`;
fs.writeFileSync(path.join(outDir, `${suite}.md`), md);
fs.writeFileSync(path.join(outDir, `${suite}.dat`), `${dat.join('\n')}\n`);
fs.writeFileSync(path.join(outDir, `${suite}.dat.meta`), `# ylabel: ${ylabel}\n`);
process.stdout.write(md);
for (const w of warnings) process.stderr.write(`scripts/perf: row count mismatch: ${w}\n`);

// The one table: printed to stdout and written, with the machine description, to
// bench/results.json.
import { writeFileSync } from 'node:fs';

const fmtNumber = (v, unit) => {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  if (unit === 'msg/s') return Math.round(v).toLocaleString('en-US');
  if (unit === 'ms') return v.toFixed(1);
  if (unit === 's') return v.toFixed(2);
  return v.toFixed(unit === 'MB' ? 2 : 1);
};

const fmtRatio = (r) => (r === null || r === undefined || !Number.isFinite(r) ? '—' : `${r.toFixed(2)}x`);
const fmtPass = (p) => (p === true ? 'PASS' : p === false ? 'FAIL' : 'info');

export function printTable(rows, out = console.log) {
  const header = ['figure', 'value', 'baseline', 'ratio', 'target', 'result'];
  const lines = rows.map((r) => [
    r.figure, fmtNumber(r.value, r.unit), fmtNumber(r.baseline, r.unit),
    r.ratio_meaning === 'of budget' ? (Number.isFinite(r.ratio) ? `${(r.ratio * 100).toFixed(0)}% of budget` : '—') : fmtRatio(r.ratio),
    r.target ?? '', fmtPass(r.pass) + (r.error ? ' (error)' : ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  out(line(header));
  out(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) out(line(l));
  for (const r of rows.filter((x) => x.error)) out(`  ! ${r.figure}: ${String(r.error).split('\n')[0]}`);
}

export function writeResults(file, { machine, rows, startedAt, durationS, options }) {
  const summary = { passed: rows.filter((r) => r.pass === true).length, failed: rows.filter((r) => r.pass === false).length };
  writeFileSync(file, JSON.stringify({ started_at: startedAt, duration_s: durationS, machine, options, summary, figures: rows }, null, 2) + '\n');
}

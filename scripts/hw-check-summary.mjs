// Summary of `make hw-check`: zone roles, machine total, psys comparison (from the probe's
// JSON) and J per encoded minute of each encode (from the run's SQLite), labelled by source.
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';

const [probePath, dbPath] = process.argv.slice(2);
if (!probePath || !dbPath) {
  console.error('usage: node scripts/hw-check-summary.mjs PROBE.json RUN.sqlite');
  process.exit(2);
}
const probe = JSON.parse(readFileSync(probePath, 'utf8'));
const f = (n, d = 2) => (n === null || n === undefined ? '—' : Number(n).toFixed(d));

console.log('Meters:');
for (const m of probe.meters) console.log(`  ${m.meter}: in use (${m.source})`);
for (const r of probe.refused) console.log(`  ${r.meter}: ${r.state} — ${r.reason}`);
if (!probe.meters.some((m) => m.source !== 'estimate')) {
  console.log('  No RAPL and no NVML here: every figure below is an ESTIMATE from CPU time, not a measurement.');
}
console.log('Zone roles:');
for (const m of probe.meters)
  for (const z of m.zones) console.log(`  ${m.meter}/${z.zone}: ${z.role}${z.note ? ` (${z.note})` : ''}`);
for (const m of probe.meters) for (const n of m.notes) console.log(`  note: ${n}`);
console.log(`Machine total (probe): ${f(probe.reading.totalW)} W, source ${probe.reading.source}`);
if (probe.reading.platformW === null) console.log('psys: none on this machine (no comparison possible)');
else {
  const pct =
    probe.reading.raplTotalW !== null && probe.reading.platformW > 0
      ? (probe.reading.raplTotalW / probe.reading.platformW) * 100
      : null;
  console.log(
    `psys: ${f(probe.reading.platformW)} W; RAPL total ${f(probe.reading.raplTotalW)} W = ${f(pct, 1)} % of psys${probe.reading.flags.includes('topology-suspect') ? ' — TOPOLOGY-SUSPECT (above psys by more than 5 %)' : ''}`,
  );
}

const db = new Database(dbPath, { readonly: true });
const runs = db
  .prepare(
    'SELECT s.label AS label, r.status, r.energy_source, r.j_per_encoded_minute, r.net_j_per_encoded_minute, r.avg_w, r.window_s, r.media_seconds, r.flags, r.error FROM run r JOIN scenario s ON s.id = r.scenario_id ORDER BY r.id',
  )
  .all();
console.log('Encodes:');
for (const r of runs) {
  if (r.status !== 'succeeded') {
    console.log(`  ${r.label}: ${r.status} — ${r.error ?? ''}`);
    continue;
  }
  const est =
    r.energy_source === 'estimate' || r.energy_source === 'mixed'
      ? ` [${r.energy_source.toUpperCase()}: not a measurement]`
      : '';
  console.log(
    `  ${r.label}: ${f(r.j_per_encoded_minute, 1)} J/encoded min (net ${f(r.net_j_per_encoded_minute, 1)}), ${f(r.avg_w)} W over ${f(r.window_s, 1)} s for ${f(r.media_seconds, 2)} media s, source ${r.energy_source}${est}; flags ${JSON.parse(r.flags).join(', ') || 'none'}`,
  );
}
db.close();

/** The shape every benchmark returns, and helpers to build its rows. */

export interface Target {
  op: '<=' | '<' | '>=';
  value: number;
  unit: string;
  /** As printed in the table, e.g. "≤ 1 %". */
  text: string;
}

export interface BenchRow {
  /** What the figure is, e.g. "CPU overhead at 10 Hz". */
  label: string;
  /** null: the figure could not be measured (see note). */
  value: number | null;
  unit: string;
  /** value as printed, with its unit (and ± CI where there is one). */
  display: string;
  target?: Target;
  /** null when there is no target or no value. */
  met: boolean | null;
  note?: string;
  /** Names the figure for the issue-17 table (bench/lib/issue17.ts) independently of the label's wording. */
  key?: string;
}

export interface BenchResult {
  name: string;
  title: string;
  /** How it was measured, one paragraph (goes into docs/PERFORMANCE.md). */
  method: string;
  quick: boolean;
  startedAt: string;
  seconds: number;
  /** 1-minute load average before and after (the box may be shared). */
  load: { before: number; after: number };
  rows: BenchRow[];
  /** Raw measurements behind the rows. */
  details: Record<string, unknown>;
  notes: string[];
  /** Set when the benchmark could not run to the end. */
  error?: string;
}

export interface BenchOptions {
  /** Smaller sizes and shorter runs (the ~2-minute smoke of run-all --quick). */
  quick: boolean;
  log: (msg: string) => void;
}

export type BenchBody = Omit<BenchResult, 'name' | 'quick' | 'startedAt' | 'seconds' | 'load'>;

export function target(op: Target['op'], value: number, unit: string): Target {
  const sym = op === '<=' ? '≤' : op === '>=' ? '≥' : '<';
  return { op, value, unit, text: `${sym} ${fmt(value)} ${unit}`.trim() };
}

/** Figures with 3 significant digits (integers above 1000 kept whole). */
export function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a === 0) return '0';
  return String(Number(v.toPrecision(digits)));
}

export function row(
  label: string,
  value: number | null,
  unit: string,
  opts: { target?: Target; note?: string; ci?: number | null; display?: string; key?: string } = {},
): BenchRow {
  const t = opts.target;
  let met: boolean | null = null;
  if (t && value !== null && Number.isFinite(value))
    met = t.op === '<=' ? value <= t.value : t.op === '>=' ? value >= t.value : value < t.value;
  const ci = opts.ci != null && Number.isFinite(opts.ci) ? ` ± ${fmt(opts.ci, 2)}` : '';
  const display = opts.display ?? (value === null ? 'missing' : `${fmt(value)}${ci} ${unit}`.trim());
  return {
    label,
    value,
    unit,
    display,
    ...(t ? { target: t } : {}),
    met,
    ...(opts.note ? { note: opts.note } : {}),
    ...(opts.key ? { key: opts.key } : {}),
  };
}

export function missingRow(label: string, unit: string, reason: string, t?: Target): BenchRow {
  return { label, value: null, unit, display: 'missing', ...(t ? { target: t } : {}), met: null, note: reason };
}

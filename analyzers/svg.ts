// Inline SVG charts for the HTML report (no scripts, no external resources).
// Every plotted datum is an element with a `data-point` attribute, so tests can count them.

// Most texts hold nothing to escape: one scan instead of four replaces (a tenth of the HTML writer).
const HTML_SPECIAL = /[&<>"]/;
export const esc = (s: string) =>
  HTML_SPECIAL.test(s)
    ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
    : s;
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
export const color = (i: number) => PALETTE[i % PALETTE.length];

const W = 720;
const H = 360;
const M = { l: 70, r: 20, t: 30, b: 50 };
const f = (x: number) => (Math.round(x * 100) / 100).toString();

/** Round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.1 || 1;
    (lo -= pad), (hi += pad);
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step, i = 0; v <= hi + step * 1e-9 && i < 50; v += step, i++)
    out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

const tickLabel = (v: number) =>
  Math.abs(v) >= 1e6
    ? `${Number((v / 1e6).toPrecision(3))}M`
    : Math.abs(v) >= 1e4
      ? `${Number((v / 1e3).toPrecision(3))}k`
      : `${Number(v.toPrecision(4))}`;

interface Axis {
  ticks: number[];
  map: (v: number) => number;
}

function linearAxis(values: number[], from: number, to: number, includeZero = false): Axis {
  const lo = Math.min(...values, ...(includeZero ? [0] : []));
  const hi = Math.max(...values);
  const ticks = niceTicks(lo, hi);
  const a = ticks[0];
  const b = ticks[ticks.length - 1];
  return { ticks, map: (v) => from + ((v - a) / (b - a || 1)) * (to - from) };
}

function logAxis(values: number[], from: number, to: number): Axis {
  const lo = Math.floor(Math.log10(Math.min(...values)) * 2) / 2;
  const hi = Math.ceil(Math.log10(Math.max(...values)) * 2) / 2 || lo + 0.5;
  const ticks: number[] = [];
  for (let e = lo; e <= hi + 1e-9; e += 0.5) ticks.push(Number((10 ** e).toPrecision(2)));
  const a = Math.log10(ticks[0]);
  const b = Math.log10(ticks[ticks.length - 1]);
  return { ticks, map: (v) => from + ((Math.log10(v) - a) / (b - a || 1)) * (to - from) };
}

function frame(
  title: string,
  xLabel: string,
  yLabel: string,
  x: Axis | null,
  y: Axis,
  body: string,
  id: string,
  legend = '',
): string {
  const grid = y.ticks
    .map(
      (t) =>
        `<line class="grid" x1="${M.l}" x2="${W - M.r}" y1="${f(y.map(t))}" y2="${f(y.map(t))}"/><text class="tick" x="${M.l - 6}" y="${f(y.map(t) + 4)}" text-anchor="end">${tickLabel(t)}</text>`,
    )
    .join('');
  const xt = x
    ? x.ticks
        .map(
          (t) =>
            `<line class="axis" x1="${f(x.map(t))}" x2="${f(x.map(t))}" y1="${H - M.b}" y2="${H - M.b + 4}"/><text class="tick" x="${f(x.map(t))}" y="${H - M.b + 18}" text-anchor="middle">${tickLabel(t)}</text>`,
        )
        .join('')
    : '';
  return `<figure class="chart" id="${esc(id)}"><svg viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${esc(id)}-t">
<title id="${esc(id)}-t">${esc(title)}</title>
${grid}
<line class="axis" x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}"/><line class="axis" x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${H - M.b}"/>
${xt}
<text class="label" x="${(M.l + W - M.r) / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>
<text class="label" transform="translate(16 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>
${body}
</svg><figcaption>${esc(title)}${legend}</figcaption></figure>`;
}

export interface ScatterPoint {
  id: string;
  x: number;
  y: number;
  label: string;
  highlight: boolean;
  estimate: boolean;
}

/** Scatter of energy (x) against a "higher is better" figure (y); highlighted points joined as a front. */
export function scatterChart(o: {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  points: ScatterPoint[];
}): string {
  const x = linearAxis(
    o.points.map((p) => p.x),
    M.l,
    W - M.r,
    true,
  );
  const y = linearAxis(
    o.points.map((p) => p.y),
    H - M.b,
    M.t,
  );
  const front = o.points.filter((p) => p.highlight).sort((a, b) => a.x - b.x);
  const line =
    front.length > 1
      ? `<polyline class="front" points="${front.map((p) => `${f(x.map(p.x))},${f(y.map(p.y))}`).join(' ')}"/>`
      : '';
  const dots = o.points
    .map(
      (p) =>
        `<circle data-point="${esc(p.id)}" class="dot${p.highlight ? ' on-front' : ''}${p.estimate ? ' estimate' : ''}" cx="${f(x.map(p.x))}" cy="${f(y.map(p.y))}" r="${p.highlight ? 6 : 4.5}"><title>${esc(p.label)}${p.estimate ? ' [ESTIMATE]' : ''}: ${esc(tickLabel(p.x))}, ${esc(tickLabel(p.y))}</title></circle>` +
        (p.estimate ? `<text class="est" x="${f(x.map(p.x) + 8)}" y="${f(y.map(p.y) - 6)}">est.</text>` : ''),
    )
    .join('\n');
  const legend =
    ' <span class="legend"><span class="sw front-sw"></span> Pareto front <span class="sw est-sw"></span> estimate (not measured)</span>';
  return frame(o.title, o.xLabel, o.yLabel, x, y, line + dots, o.id, legend);
}

export interface Bar {
  id: string;
  label: string;
  value: number;
  low: number | null;
  high: number | null;
  estimate: boolean;
}

/** Beyond this many bars the axis labels would overlap: names stay in the tooltips only. */
const MAX_BAR_LABELS = 40;

/** Vertical bars with 95% CI whiskers. */
export function barChart(o: { id: string; title: string; yLabel: string; bars: Bar[] }): string {
  const y = linearAxis(
    o.bars.flatMap((b) => [b.value, b.high ?? b.value, b.low ?? b.value]),
    H - M.b - 40,
    M.t,
    true,
  );
  const slot = (W - M.l - M.r) / Math.max(1, o.bars.length);
  const bw = Math.min(60, slot * 0.6);
  const body = o.bars
    .map((b, i) => {
      const cx = M.l + slot * (i + 0.5);
      const top = y.map(b.value);
      const base = y.map(y.ticks[0]);
      const whisker =
        b.low != null && b.high != null
          ? `<line class="whisker" x1="${f(cx)}" x2="${f(cx)}" y1="${f(y.map(b.low))}" y2="${f(y.map(b.high))}"/><line class="whisker" x1="${f(cx - 8)}" x2="${f(cx + 8)}" y1="${f(y.map(b.low))}" y2="${f(y.map(b.low))}"/><line class="whisker" x1="${f(cx - 8)}" x2="${f(cx + 8)}" y1="${f(y.map(b.high))}" y2="${f(y.map(b.high))}"/>`
          : '';
      const label = b.label.length > 22 ? b.label.slice(0, 21) + '…' : b.label;
      return `<rect data-point="${esc(b.id)}" class="bar${b.estimate ? ' estimate' : ''}" x="${f(cx - bw / 2)}" y="${f(top)}" width="${f(bw)}" height="${f(Math.max(0, base - top))}" fill="${color(i)}"><title>${esc(b.label)}${b.estimate ? ' [ESTIMATE]' : ''}: ${esc(tickLabel(b.value))}${b.low != null ? ` (95% CI ${esc(tickLabel(b.low))}–${esc(tickLabel(b.high!))})` : ' (no CI)'}</title></rect>${whisker}${o.bars.length <= MAX_BAR_LABELS ? `<text class="tick" transform="translate(${f(cx)} ${H - M.b - 34}) rotate(-30)" text-anchor="end">${esc(label)}${b.estimate ? ' (est.)' : ''}</text>` : ''}`;
    })
    .join('\n');
  return frame(o.title, '', o.yLabel, null, y, body, o.id, ' <span class="legend">whiskers: 95% CI of the mean</span>');
}

export interface Series {
  name: string;
  estimate: boolean;
  points: Array<{ id: string; x: number; y: number; label: string }>;
}

/** Lines over a log-scaled x axis (bitrate), one per series. */
export function lineChart(o: { id: string; title: string; xLabel: string; yLabel: string; series: Series[] }): string {
  const all = o.series.flatMap((s) => s.points);
  const x = logAxis(
    all.map((p) => p.x),
    M.l,
    W - M.r,
  );
  const y = linearAxis(
    all.map((p) => p.y),
    H - M.b,
    M.t,
  );
  const body = o.series
    .map((s, i) => {
      const pts = [...s.points].sort((a, b) => a.x - b.x);
      const line = `<polyline class="series${s.estimate ? ' estimate' : ''}" stroke="${color(i)}" points="${pts.map((p) => `${f(x.map(p.x))},${f(y.map(p.y))}`).join(' ')}"/>`;
      const dots = pts
        .map(
          (p) =>
            `<circle data-point="${esc(p.id)}" class="dot" fill="${color(i)}" cx="${f(x.map(p.x))}" cy="${f(y.map(p.y))}" r="4"><title>${esc(s.name)} ${esc(p.label)}: ${esc(tickLabel(p.x))}, ${esc(tickLabel(p.y))}</title></circle>`,
        )
        .join('');
      return line + dots;
    })
    .join('\n');
  const legend = ` <span class="legend">${o.series.map((s, i) => `<span class="sw" style="background:${color(i)}"></span> ${esc(s.name)}${s.estimate ? ' (ESTIMATE)' : ''}`).join(' ')}</span>`;
  return frame(o.title, o.xLabel, o.yLabel, x, y, body, o.id, legend);
}

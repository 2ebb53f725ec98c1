// Reads the Grafana dashboards and the metric names their queries use.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MONITORING } from './helpers.ts';

export const DASHBOARD_DIR = join(MONITORING, 'grafana/dashboards');

export interface PanelQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

interface Panel {
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}

export function dashboardFiles(): string[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
}

export function loadDashboard(file: string): {
  uid: string;
  title: string;
  panels: Panel[];
  templating?: { list: Array<{ name: string; query: string | { query: string } }> };
} {
  return JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8'));
}

/** Every panel query (rows' nested panels included) and every templating query. */
export function allQueries(): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const file of dashboardFiles()) {
    const d = loadDashboard(file);
    const walk = (panels: Panel[]) => {
      for (const p of panels) {
        for (const t of p.targets ?? []) if (t.expr) out.push({ dashboard: file, panel: p.title ?? '?', expr: t.expr });
        if (p.panels) walk(p.panels);
      }
    };
    walk(d.panels);
    for (const v of d.templating?.list ?? []) {
      const q = typeof v.query === 'string' ? v.query : v.query?.query;
      if (q) out.push({ dashboard: file, panel: `variable ${v.name}`, expr: q });
    }
  }
  return out;
}

/** Grafana's variables replaced by values any backend accepts: all values, a fixed window. */
export function resolveVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '5m')
    .replace(/\$(\w+)/g, '.*');
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/**
 * Metric names a PromQL/MetricsQL expression selects: identifiers outside strings, label
 * matchers, range brackets and grouping clauses that are not function calls or keywords.
 * `label_values(metric, label)` (Grafana) yields its metric.
 */
export function metricNames(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const lv = /^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(s.trim());
  if (lv) return [lv[1]];
  s = s
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  const re = /(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g;
  for (const m of s.matchAll(re)) {
    const [, id, call] = m;
    if (call || KEYWORDS.has(id.toLowerCase())) continue;
    if (/^\d/.test(id)) continue;
    names.add(id);
  }
  return [...names];
}

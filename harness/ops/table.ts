/** Plain text columns, padded to the widest cell; the header is upper case. */
export function renderTable(header: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = [
    header.map((h) => h.toUpperCase()),
    ...rows.map((r) => r.map((c) => (c == null || c === '' ? '-' : String(c)))),
  ];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** "3m 20s ago" from a server timestamp (ms). */
export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (ms == null) return '-';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s ago`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
}

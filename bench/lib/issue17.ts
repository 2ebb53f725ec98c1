/**
 * The targets table of issue 17 ("Performance"): each line's "today" figure as the issue states
 * it (the baseline, measured before the work on the issue), beside the figure of this run, read
 * from the benchmarks' result rows, never typed in. A row is found by its `key` when the
 * benchmark sets one, else by its label; a line whose row is absent says so.
 */
import type { BenchResult, BenchRow } from './result.ts';

interface Find {
  bench: string;
  key?: string;
  label?: RegExp;
}

interface IssueTarget {
  op: '<=' | '<' | '>=';
  value: number;
  unit: string;
}

interface Figure {
  /** Prefix in the "now" column when a line has several figures. */
  name?: string;
  find: Find[];
  target: IssueTarget;
}

export interface IssueLine {
  what: string;
  today: string;
  target: string;
  figures: Figure[];
  /** Rows of the same run that measure the physical cost standing in the way, shown when the target is missed. */
  inTheWay?: Array<{ name: string; find: Find[] }>;
}

const SAMPLER_FLOORS = [
  { name: 'a C process waking at 10 Hz', find: [{ bench: 'sampler', key: 'wake-floor-c' }] },
  { name: "Node's empty 10 Hz timer", find: [{ bench: 'sampler', key: 'node-timer-wake' }] },
  { name: 'the tick itself, warm', find: [{ bench: 'sampler', key: 'sampler-warm-tick' }] },
];
const MASTER_FLOORS = [
  { name: 'HTTP alone + SQLite alone, same requests', find: [{ bench: 'master', key: 'master-sqlite-floor' }] },
  {
    name: "HTTP alone + the queue's whole work (SQLite and its own code), no server",
    find: [{ bench: 'master', key: 'master-floor-sum' }],
  },
];

const t = (op: IssueTarget['op'], value: number, unit: string): IssueTarget => ({ op, value, unit });

export const ISSUE_17: IssueLine[] = [
  {
    what: 'sampler tick, 7 zones (RAPL fixture + fake NVML + estimate), CPU per tick',
    today: '765 µs',
    target: '≤ 100 µs',
    inTheWay: SAMPLER_FLOORS,
    figures: [
      {
        find: [
          { bench: 'sampler', key: 'sampler-tick' },
          { bench: 'sampler', label: /CPU per tick/i },
          { bench: 'overhead', label: /one Sampler tick/i },
        ],
        target: t('<=', 100, 'µs'),
      },
    ],
  },
  {
    what: 'sampler at 10 Hz, main thread, net of an idle child',
    today: '0.77 % of a core',
    target: '≤ 0.1 %',
    inTheWay: SAMPLER_FLOORS,
    figures: [
      {
        find: [
          { bench: 'sampler', key: 'sampler-10hz' },
          { bench: 'sampler', label: /10 Hz.*main thread/i },
        ],
        target: t('<=', 0.1, '% of one core'),
      },
    ],
  },
  {
    what: "process-tree sample (job's own descendants only)",
    today: '3,038 µs',
    target: '≤ 300 µs',
    figures: [
      {
        find: [
          { bench: 'proctree', key: 'proctree-sample' },
          { bench: 'proctree', label: /own descendants/i },
          { bench: 'overhead', label: /process-tree sample/i },
        ],
        target: t('<=', 300, 'µs'),
      },
    ],
  },
  {
    what: "harness process' own CPU / encode CPU, 10 s 360p x264 medium (direct figure)",
    today: '1.78 %',
    target: '≤ 0.5 %',
    inTheWay: [
      { name: 'the budget, 0.5 % of this encode', find: [{ bench: 'overhead', key: 'harness-budget' }] },
      { name: 'spawning and reaping FFmpeg alone', find: [{ bench: 'overhead', key: 'bare-spawn-cpu' }] },
      {
        name: "the same run without the sampler's 10 Hz timer",
        find: [{ bench: 'overhead', key: 'harness-no-timer' }],
      },
      { name: 'a sampler tick in its 10 Hz timer', find: [{ bench: 'sampler', key: 'sampler-tick' }] },
      { name: 'ticks: 10 per second of the encode', find: [{ bench: 'overhead', key: 'bare-wall' }] },
      {
        name: "during the encode, per tick: Node's timer waking the harness",
        find: [{ bench: 'overhead', key: 'harness-timer-wake' }],
      },
      { name: "and the sampler's reads and bookkeeping", find: [{ bench: 'overhead', key: 'harness-tick-work' }] },
      { name: 'a C process waking at 10 Hz (idle box)', find: [{ bench: 'sampler', key: 'wake-floor-c' }] },
    ],
    figures: [
      {
        find: [
          { bench: 'overhead', key: 'harness-own-cpu' },
          { bench: 'overhead', label: /own CPU \/ encode CPU/i },
        ],
        target: t('<=', 0.5, '%'),
      },
    ],
  },
  {
    what: 'master CPU per request, claim + result + heartbeat mix',
    today: '1.8 ms',
    target: '≤ 0.2 ms',
    inTheWay: MASTER_FLOORS,
    figures: [
      {
        find: [
          { bench: 'master', key: 'master-cpu-per-request' },
          { bench: 'master', label: /CPU per request/i },
        ],
        target: t('<=', 0.2, 'ms'),
      },
    ],
  },
  {
    what: 'master throughput, master pinned to one core, load generator on the other',
    today: '~550 req/s',
    target: '≥ 4,000 req/s',
    inTheWay: MASTER_FLOORS,
    figures: [
      {
        find: [
          { bench: 'master', key: 'master-throughput' },
          { bench: 'master', label: /throughput/i },
        ],
        target: t('>=', 4000, 'req/s'),
      },
    ],
  },
  {
    what: '2,000 agents, realistic protocol: claim p99, and master CPU',
    today: '20 s',
    target: '< 20 ms, < 15 % of a core',
    inTheWay: [
      { name: 'HTTP alone at this protocol', find: [{ bench: 'master', key: 'master-2000-http-floor' }] },
      {
        name: "with SQLite's statements for the same requests at the same rates",
        find: [{ bench: 'master', key: 'master-2000-floor-sum' }],
      },
      { name: 'a durable commit, wall / CPU', find: [{ bench: 'master', key: 'durable-commit' }] },
      { name: 'an indexed read, warm / after a 1 ms sleep', find: [{ bench: 'master', key: 'sqlite-cold-read' }] },
    ],
    figures: [
      {
        name: 'claim p99',
        find: [
          { bench: 'master', key: 'master-2000-claim-p99' },
          { bench: 'master', label: /2,?000 agents.*claim.*p99/i },
        ],
        target: t('<', 20, 'ms'),
      },
      {
        name: 'master CPU',
        find: [
          { bench: 'master', key: 'master-2000-cpu' },
          { bench: 'master', label: /2,?000 agents.*master CPU(?! per request)/i },
        ],
        target: t('<', 15, '% of one core'),
      },
    ],
  },
  {
    what: 'exporter CPU per scrape vs node_exporter (4-zone and 64-zone)',
    today: '1.4× / 0.89×',
    target: '≤ 1.0× on both',
    figures: [
      {
        name: '4-zone',
        find: [
          { bench: 'peer', key: 'peer-cpu-ratio-4' },
          { bench: 'peer', label: /^(2-socket|4-zone).*CPU per scrape, ffwatt ÷/i },
        ],
        target: t('<=', 1, '×'),
      },
      {
        name: '64-zone',
        find: [
          { bench: 'peer', key: 'peer-cpu-ratio-64' },
          { bench: 'peer', label: /^64-zone.*CPU per scrape, ffwatt ÷/i },
        ],
        target: t('<=', 1, '×'),
      },
    ],
  },
  {
    what: 'report of 1M runs (Markdown + CSV + JSON + HTML)',
    today: '9.05 s, 217 MiB',
    target: '< 3 s, ≤ 300 MiB',
    figures: [
      {
        find: [
          { bench: 'analysis', key: 'report-1m-time' },
          { bench: 'analysis', label: /1M runs: report time/i },
        ],
        target: t('<', 3, 's'),
      },
      {
        find: [
          { bench: 'analysis', key: 'report-1m-rss' },
          { bench: 'analysis', label: /1M runs: peak memory/i },
        ],
        target: t('<=', 300, 'MiB'),
      },
    ],
  },
  {
    what: 'advisor, 100k candidate configurations end to end',
    today: '1.34 s',
    target: '< 0.3 s',
    figures: [
      {
        find: [
          { bench: 'advisor', key: 'advisor-100k' },
          { bench: 'advisor', label: /100k predictions, end to end/i },
        ],
        target: t('<', 0.3, 's'),
      },
    ],
  },
];

/** The row a figure reads: the first candidate that matches; among its rows one with a target, else the last. */
function findRow(results: BenchResult[], find: Find[]): { bench: string; row: BenchRow } | null {
  for (const f of find) {
    const r = results.find((x) => x.name === f.bench);
    if (!r) continue;
    const rows = r.rows.filter((x) => (f.key ? x.key === f.key : f.label!.test(x.label)));
    if (rows.length) return { bench: r.name, row: rows.find((x) => x.target) ?? rows[rows.length - 1] };
  }
  return null;
}

function judge(row: BenchRow, target: IssueTarget): boolean | null {
  if (row.value === null || !Number.isFinite(row.value) || row.unit !== target.unit) return null;
  return target.op === '<='
    ? row.value <= target.value
    : target.op === '<'
      ? row.value < target.value
      : row.value >= target.value;
}

export interface IssueCell {
  what: string;
  today: string;
  now: string;
  target: string;
  met: string;
  /** The same run's measurements of what stands in the way of a missed target. */
  way: string;
}

/** One line per issue row: today's figure, this run's (with the benchmark it came from), and whether the issue's target is met. */
export function issueLines(results: BenchResult[], lines: IssueLine[] = ISSUE_17): IssueCell[] {
  return lines.map((l) => {
    const nows: string[] = [];
    const mets: Array<boolean | null> = [];
    for (const f of l.figures) {
      const hit = findRow(results, f.find);
      const prefix = f.name ? `${f.name}: ` : '';
      if (!hit) {
        const benches = [...new Set(f.find.map((x) => x.bench))];
        nows.push(`${prefix}not measured in this run (${benches.join(' / ')})`);
        mets.push(null);
        continue;
      }
      nows.push(`${prefix}${hit.row.display} (${hit.bench})`);
      mets.push(judge(hit.row, f.target));
    }
    const met = mets.some((m) => m === false)
      ? 'NO'
      : mets.every((m) => m === true)
        ? 'yes'
        : mets.some((m) => m === true)
          ? 'partly'
          : '—';
    const way =
      met === 'yes'
        ? ''
        : (l.inTheWay ?? [])
            .map((w) => {
              const hit = findRow(results, w.find);
              return `${w.name}: ${hit ? hit.row.display : 'not measured in this run'}`;
            })
            .join('; ');
    return { what: l.what, today: l.today, now: nows.join('; '), target: l.target, met, way };
  });
}

const HEAD = ['issue 17 benchmark', 'today (issue 17)', 'this run', 'target', 'met?', 'in the way, same run'];
const cells = (c: IssueCell) => [c.what, c.today, c.now, c.target, c.met, c.way];

export function renderIssueTable(results: BenchResult[]): string {
  const body = issueLines(results).map(cells);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((l) => l[i].length)));
  const line = (l: string[]) =>
    l
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(HEAD), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function renderIssueMarkdown(results: BenchResult[]): string {
  const md = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${HEAD.join(' | ')} |`,
    `| ${HEAD.map(() => '---').join(' | ')} |`,
    ...issueLines(results).map((c) => `| ${cells(c).map(md).join(' | ')} |`),
  ].join('\n');
}

export const ISSUE_NOTE =
  '"today" is issue 17\'s baseline as the issue states it; "this run" is read from the result rows of this run (benchmark in brackets). "met?" judges the issue\'s target where the row\'s unit is the target\'s, "—" where the row gives no comparable figure (a ratio printed as two figures, a different unit), "partly" where some figures of the line meet it and the others cannot be judged. "in the way, same run" gives, for a missed target, the rows of this run that measure what lies below it: physical costs (a bare wake-up, HTTP answering fixed JSON, SQLite\'s own statements and fsync\'d commits for the same requests, an indexed read after a sleep) and, where they do not add up to the miss, the same work with one part taken out (the queue\'s whole work without a server, the harness run without the sampler\'s timer), so the rest is seen to be the product\'s own code.';

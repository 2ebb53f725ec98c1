/** Starting exporters (ffwatt's, node_exporter) as child processes and scraping them over loopback. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { REPO_ROOT } from './child.ts';
import { procCpu } from './cpu.ts';

export const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';

export interface Exporter {
  name: string;
  url: string;
  pid: number;
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

async function waitUp(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url);
      await r.text();
      if (r.ok) return;
    } catch {
      /* not listening yet */
    }
    if (child.exitCode !== null) throw new Error(`${url}: exporter exited ${child.exitCode}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer within 10 s: ${stderr()}`);
}

/** ffwatt's agent exporter (bench/lib/exporter-child.ts) in its own process. */
export function startFfwattExporter(args: string[]): Promise<Exporter & { zones: number }> {
  return new Promise((ok, fail) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(REPO_ROOT, 'bench/lib/exporter-child.ts'), ...args],
      {
        cwd: REPO_ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`ffwatt exporter did not start within 30 s: ${err}`));
    }, 30_000);
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', async (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const info = JSON.parse(out.slice(0, nl)) as { port: number; pid: number; zones: number };
      const url = `http://127.0.0.1:${info.port}/metrics`;
      try {
        await waitUp(url, child, () => err);
      } catch (e) {
        child.kill('SIGKILL');
        fail(e);
        return;
      }
      ok({ name: 'ffwatt', url, pid: child.pid!, zones: info.zones, stop: () => child.stdin.end() });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes('\n')) fail(new Error(`ffwatt exporter exited ${code}: ${err}`));
    });
  });
}

/** Prometheus node_exporter with only its rapl collector, on a sysfs root. */
export async function startNodeExporter(sysfs: string): Promise<Exporter> {
  const port = await freePort();
  const child = spawn(
    NODE_EXPORTER,
    [
      `--path.sysfs=${sysfs}`,
      '--collector.disable-defaults',
      '--collector.rapl',
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = `http://127.0.0.1:${port}/metrics`;
  try {
    await waitUp(url, child, () => err);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { name: 'node_exporter', url, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

export interface ScrapeStats {
  latenciesMs: number[];
  bytes: number;
  series: number;
  /** Exporter process CPU over all timed scrapes, divided by their number (ms). */
  cpuMsPerScrape: number;
}

/** Times one scrape: request to the last byte of the body. */
export async function scrapeOnce(url: string): Promise<{ ms: number; body: string }> {
  const t0 = performance.now();
  const r = await fetch(url);
  const body = await r.text();
  const ms = performance.now() - t0;
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return { ms, body };
}

export const seriesCount = (body: string) => body.split('\n').filter((l) => l && !l.startsWith('#')).length;

/**
 * Scrapes several exporters in turn (one scrape each per round, so load changes hit them
 * alike), after `warmup` untimed rounds. CPU per scrape comes from each exporter's /proc stat.
 */
export async function scrapeInterleaved(
  exporters: Exporter[],
  rounds: number,
  warmup = 20,
): Promise<Map<string, ScrapeStats>> {
  for (let i = 0; i < warmup; i++) for (const e of exporters) await scrapeOnce(e.url);
  const cpu0 = new Map(exporters.map((e) => [e.name, procCpu(e.pid).self]));
  const lat = new Map<string, number[]>(exporters.map((e) => [e.name, []]));
  const last = new Map<string, string>();
  for (let i = 0; i < rounds; i++) {
    for (const e of i % 2 ? [...exporters].reverse() : exporters) {
      const { ms, body } = await scrapeOnce(e.url);
      lat.get(e.name)!.push(ms);
      last.set(e.name, body);
    }
  }
  const out = new Map<string, ScrapeStats>();
  for (const e of exporters) {
    const body = last.get(e.name) ?? '';
    out.set(e.name, {
      latenciesMs: lat.get(e.name)!,
      bytes: Buffer.byteLength(body),
      series: seriesCount(body),
      cpuMsPerScrape: ((procCpu(e.pid).self - cpu0.get(e.name)!) * 1000) / rounds,
    });
  }
  return out;
}

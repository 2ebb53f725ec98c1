import { describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { CachedMetricsText } from './metrics-cache.ts';

describe('cached /metrics text', () => {
  it('builds the text once per interval, however many scrapes arrive together', async () => {
    let now = 0;
    let builds = 0;
    let release: () => void = () => {};
    const cache = new CachedMetricsText(
      () => {
        builds++;
        return new Promise<string>((resolve) => (release = () => resolve(`text ${builds}`)));
      },
      15_000,
      () => now,
    );
    const first = Array.from({ length: 64 }, () => cache.get());
    release();
    expect(new Set(await Promise.all(first))).toEqual(new Set(['text 1']));
    expect(builds).toBe(1);
    now += 14_999;
    expect(await Promise.all(Array.from({ length: 64 }, () => cache.get()))).toEqual(Array(64).fill('text 1'));
    expect(builds).toBe(1);
    // Stale: the scrapes still answer at once with the last text; one refresh runs behind them.
    now += 2;
    expect(await Promise.all(Array.from({ length: 64 }, () => cache.get()))).toEqual(Array(64).fill('text 1'));
    expect(builds).toBe(2);
    release();
    await new Promise((r) => setImmediate(r));
    expect(await cache.get()).toBe('text 2');
    expect(cache.refreshes).toBe(2);
  });

  it('a failed refresh keeps the last text and is retried after the interval', async () => {
    let now = 0;
    let fail = false;
    const cache = new CachedMetricsText(
      async () => {
        if (fail) throw new Error('database busy');
        return 'ok';
      },
      1000,
      () => now,
    );
    expect(await cache.get()).toBe('ok');
    fail = true;
    now += 1000;
    expect(await cache.get()).toBe('ok');
    await new Promise((r) => setImmediate(r));
    fail = false;
    now += 1000;
    await cache.get();
    await new Promise((r) => setImmediate(r));
    expect(cache.refreshes).toBe(2);
  });

  it('keeps the text prebuilt as plain and gzip bytes, encoded once per refresh', async () => {
    let now = 0;
    let builds = 0;
    const text = '# HELP ffwatt_jobs Jobs\n' + 'ffwatt_jobs{state="queued"} 1\n'.repeat(2000);
    const cache = new CachedMetricsText(
      async () => (builds++, text),
      15_000,
      () => now,
    );
    const [a, b] = await Promise.all([cache.encoded(), cache.encoded()]);
    expect(a).toBe(b); // the same buffers for every scrape of one refresh
    expect(a.body.toString('utf8')).toBe(text);
    expect(gunzipSync(a.gzip).toString('utf8')).toBe(text);
    expect(a.gzip.length).toBeLessThan(a.body.length / 10);
    now += 20_000;
    await cache.encoded();
    await new Promise((r) => setImmediate(r));
    expect(builds).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
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
    const cache = new CachedMetricsText(async () => {
      if (fail) throw new Error('database busy');
      return 'ok';
    }, 1000, () => now);
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
});

import { gzipSync } from 'node:zlib';

// Synchronous on purpose: once per refresh (a few ms for a large text), and the text and its bytes
// change together, so no scrape ever sees one without the other.
function encodeMetrics(text: string): EncodedMetrics {
  const body = Buffer.from(text, 'utf8');
  return { body, gzip: gzipSync(body) };
}

/**
 * The /metrics text, produced at most once per interval by a single refresh: a scrape answers the
 * cached text and, when it is older than the interval, starts the one refresh (concurrent scrapes
 * never start a second). Only the very first scrape waits for a refresh. So however many scrapers
 * there are, the aggregate over the stored runs runs on the event loop once per interval.
 */
/** The cached text as bytes, plain and gzip-compressed once per refresh: a scrape only writes a buffer. */
export interface EncodedMetrics {
  body: Buffer;
  gzip: Buffer;
}

export class CachedMetricsText {
  private text: string | null = null;
  private encodedText: EncodedMetrics | null = null;
  private producedAt = -Infinity;
  private refreshing: Promise<string> | null = null;
  /** How many times the text was produced (for tests and the benchmark). */
  refreshes = 0;

  constructor(
    private readonly produce: () => Promise<string>,
    private readonly intervalMs: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  async get(): Promise<string> {
    if (this.now() - this.producedAt >= this.intervalMs && !this.refreshing) {
      this.refreshing = this.refresh();
      // A refresh behind a cached text fails quietly (the last text stays, retried next interval);
      // a scrape waiting for the first text gets the error.
      this.refreshing.catch(() => {});
    }
    if (this.text === null) return this.refreshing ?? '';
    return this.text;
  }

  /**
   * The text as plain and gzip bytes, encoded once per refresh. With many scrapers the main thread
   * then only writes a prebuilt buffer (a scraper that accepts gzip gets about a tenth of the bytes)
   * instead of encoding the whole text again for every scrape.
   */
  async encoded(): Promise<EncodedMetrics> {
    await this.get();
    return this.encodedText ?? encodeMetrics('');
  }

  private async refresh(): Promise<string> {
    try {
      const text = await this.produce();
      this.encodedText = encodeMetrics(text);
      this.text = text;
      this.refreshes++;
      return text;
    } finally {
      this.producedAt = this.now();
      this.refreshing = null;
    }
  }
}

/**
 * The /metrics text, produced at most once per interval by a single refresh: a scrape answers the
 * cached text and, when it is older than the interval, starts the one refresh (concurrent scrapes
 * never start a second). Only the very first scrape waits for a refresh. So however many scrapers
 * there are, the aggregate over the stored runs runs on the event loop once per interval.
 */
export class CachedMetricsText {
  private text: string | null = null;
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
    if (this.now() - this.producedAt >= this.intervalMs && !this.refreshing) this.refreshing = this.refresh();
    if (this.text === null) return this.refreshing ?? '';
    return this.text;
  }

  private async refresh(): Promise<string> {
    try {
      const text = await this.produce();
      this.text = text;
      this.refreshes++;
      return text;
    } finally {
      this.producedAt = this.now();
      this.refreshing = null;
    }
  }
}

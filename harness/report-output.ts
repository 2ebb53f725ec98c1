import { join, resolve } from 'node:path';
import { EXIT_OK, EXIT_RUN_FAILED } from '../core/errors.ts';

export interface FinishedCampaign {
  campaignId: string;
  dbPath: string;
  status: string;
  counts: Record<string, number>;
}

/**
 * The end of `ffwatt run`, local or fleet: writes the reports under `<out>/reports/<campaign>`,
 * prints the summary table and where things are (or one JSON document), and gives the exit
 * code: 1 when a job failed or the campaign did not finish.
 */
export async function reportAndPrint(
  o: { out: string; json?: boolean; report?: boolean },
  run: FinishedCampaign,
  extra: Record<string, unknown> = {},
): Promise<number> {
  const analyzers = o.report === false ? null : await import('../analyzers/report.ts');
  const reports = analyzers
    ? await analyzers.writeReports({
        db: run.dbPath,
        campaignId: run.campaignId,
        outDir: join(resolve(o.out), 'reports', run.campaignId),
      })
    : null;
  if (o.json) {
    process.stdout.write(
      JSON.stringify({ ...run, ...extra, reports: reports?.files ?? null, summary: reports?.model ?? null }, null, 2) +
        '\n',
    );
  } else {
    if (analyzers && reports) process.stdout.write('\n' + analyzers.renderSummaryMarkdown(reports.model) + '\n');
    const c = run.counts;
    process.stdout.write(`\nresults: ${run.dbPath} (campaign ${run.campaignId}, ${run.status})\n`);
    process.stdout.write(
      `jobs:    ${c.succeeded ?? 0} succeeded, ${c.failed ?? 0} failed, ${c.canceled ?? 0} canceled\n`,
    );
    if (reports) process.stdout.write(`report:  ${reports.files.html ?? Object.values(reports.files)[0]}\n`);
  }
  return (run.counts.failed ?? 0) > 0 || run.status !== 'done' ? EXIT_RUN_FAILED : EXIT_OK;
}

import { InputError } from '../../core/errors.ts';
import type { Job, JobState } from '../../core/types.ts';
import { withMaster, type MasterFlags } from './connect.ts';
import { renderTable } from './table.ts';

import { JOB_STATES } from '../../core/contracts/lists.ts';

/** `ffwatt jobs [--campaign ID] [--state S]`: jobs in claim order with state, placement target, node and last error. */
export async function jobsCommand(
  o: MasterFlags & { campaign?: string; state?: string; limit?: string; json?: boolean },
): Promise<number> {
  if (o.state !== undefined && !JOB_STATES.includes(o.state as JobState)) {
    throw new InputError(`--state ${o.state}: not a job state; use one of ${JOB_STATES.join(', ')}`, {
      field: '--state',
    });
  }
  const limit = o.limit === undefined ? 1000 : Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
    throw new InputError(`--limit ${o.limit}: use a whole number from 1 to 100000`, { field: '--limit' });
  return withMaster(o, async (m) => {
    if (o.campaign) await m.request('GET', `/campaigns/${encodeURIComponent(o.campaign)}`); // unknown id: a clear 404
    const q = new URLSearchParams({
      limit: String(limit),
      ...(o.campaign ? { campaign: o.campaign } : {}),
      ...(o.state ? { state: o.state } : {}),
    });
    const { jobs } = await m.request<{ jobs: Array<Job & { lastError: string | null; lastNode: string | null }> }>(
      'GET',
      `/jobs?${q}`,
    );
    if (o.json) {
      process.stdout.write(JSON.stringify({ master: m.url, jobs }, null, 2) + '\n');
      return 0;
    }
    if (jobs.length === 0) {
      process.stdout.write(
        `no jobs${o.campaign ? ` in campaign ${o.campaign}` : ''}${o.state ? ` in state ${o.state}` : ''}\n`,
      );
      return 0;
    }
    process.stdout.write(
      renderTable(
        ['job', 'campaign', 'state', 'queue', 'prio', 'target', 'scenario', 'rep', 'attempts', 'node', 'last error'],
        jobs.map((j) => [
          j.id,
          j.campaignId.slice(0, 8),
          j.state,
          j.queueClass,
          j.priority,
          j.placementTarget ?? 'any',
          j.scenario.label,
          j.repetition,
          `${j.attempts}/${j.maxAttempts}`,
          j.lastNode,
          j.lastError?.slice(0, 80),
        ]),
      ),
    );
    return 0;
  });
}

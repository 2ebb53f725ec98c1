import { join, resolve } from 'node:path';
import { InputError } from '../../core/errors.ts';
import type { JobState } from '../../core/contracts/lists.ts';
import { importCampaign, type CampaignExport } from '../../store/export.ts';
import { Store, type CampaignRow } from '../../store/store.ts';
import { withMaster, type MasterFlags } from './connect.ts';
import { renderTable } from './table.ts';

type Counts = Record<JobState, number>;
type CampaignSummary = CampaignRow & { counts: Counts };
type CampaignDetail = CampaignSummary & {
  jobs: number;
  nodes: Record<string, { running: string | null; done: number; failed: number; canceled?: number }>;
  targets?: Record<string, Counts>;
};

const countsText = (c: Counts) =>
  `${c.succeeded} succeeded, ${c.failed} failed, ${c.canceled} canceled, ${c.queued} queued, ${c.leased + c.running} running`;

export const CAMPAIGN_ACTIONS = ['list', 'show', 'cancel', 'retry-failed', 'fetch'] as const;

/** `ffwatt campaign list|show|cancel|retry-failed|fetch [ID]`. */
export async function campaignCommand(
  action: string,
  id: string | undefined,
  o: MasterFlags & { json?: boolean; out?: string },
): Promise<number> {
  if (!(CAMPAIGN_ACTIONS as readonly string[]).includes(action)) {
    throw new InputError(`unknown campaign action '${action}': use one of ${CAMPAIGN_ACTIONS.join(', ')}`, {
      field: 'campaign',
    });
  }
  if (action !== 'list' && !id)
    throw new InputError(`ffwatt campaign ${action} needs a campaign id (ffwatt campaign list shows them)`, {
      field: 'ID',
    });
  const path = `/campaigns/${encodeURIComponent(id ?? '')}`;
  const print = (text: string, json: unknown) =>
    process.stdout.write(o.json ? JSON.stringify(json, null, 2) + '\n' : text);
  return withMaster(o, async (m) => {
    switch (action) {
      case 'list': {
        const { campaigns } = await m.request<{ campaigns: CampaignSummary[] }>('GET', '/campaigns');
        const rows = campaigns.map((c) => [
          c.id,
          c.name,
          c.status,
          c.placement,
          countsText(c.counts),
          new Date(c.createdAt).toISOString(),
        ]);
        print(
          campaigns.length
            ? renderTable(['campaign', 'name', 'status', 'placement', 'jobs', 'created'], rows)
            : `no campaigns on ${m.url}\n`,
          { master: m.url, campaigns },
        );
        return 0;
      }
      case 'show': {
        const c = await m.request<CampaignDetail>('GET', path);
        const nodes = Object.entries(c.nodes).map(([n, s]) => [n, s.done, s.failed, s.canceled ?? 0, s.running]);
        const open = (t: Counts) => t.queued + t.leased + t.running;
        const targets = Object.entries(c.targets ?? {}).map(([t, n]) => [
          t,
          open(n) === 0 ? 'done' : 'running',
          n.succeeded,
          n.failed,
          n.canceled,
          open(n),
        ]);
        print(
          `campaign ${c.id} (${c.name})\nstatus:    ${c.status}\nplacement: ${c.placement}\njobs:      ${c.jobs}: ${countsText(c.counts)}\ncreated:   ${new Date(c.createdAt).toISOString()}\n` +
            `repetitions: ${c.settings.repetitions.min}–${c.settings.repetitions.max} per cell${c.placement === 'any' ? '' : ' and target'}, until the 95% CI half-width is under ${c.settings.repetitions.ciHalfwidthPct}%\n` +
            (c.placement !== 'any' && targets.length
              ? '\n' + renderTable(['target', 'state', 'succeeded', 'failed', 'canceled', 'open'], targets)
              : '') +
            (nodes.length ? '\n' + renderTable(['node', 'succeeded', 'failed', 'canceled', 'running now'], nodes) : ''),
          c,
        );
        return 0;
      }
      case 'cancel': {
        const r = await m.request<{ campaignId: string; canceled: number; status: string; changed: boolean }>(
          'POST',
          `${path}/cancel`,
        );
        print(
          r.changed
            ? `campaign ${r.campaignId} canceled: ${r.canceled} queued or running jobs canceled\n`
            : `campaign ${r.campaignId} is already ${r.status}: nothing to cancel\n`,
          r,
        );
        return 0;
      }
      case 'retry-failed': {
        const r = await m.request<{ campaignId: string; requeued: string[] }>('POST', `${path}/retry-failed`);
        print(
          r.requeued.length
            ? `campaign ${r.campaignId}: ${r.requeued.length} failed jobs queued again\n`
            : `campaign ${r.campaignId} has no failed jobs\n`,
          r,
        );
        return 0;
      }
      default: {
        const exp = await m.request<CampaignExport>('GET', `${path}/export`);
        const dbPath = join(resolve(o.out ?? 'results'), 'ffwatt.sqlite');
        const store = Store.open(dbPath);
        try {
          importCampaign(store, exp);
        } finally {
          store.close();
        }
        const status = exp.campaign.status as string;
        print(
          `campaign ${id} (${status}, ${exp.jobs.length} jobs, ${exp.runs.length} runs) imported into ${dbPath}\n` +
            `report it offline: ffwatt report ${dbPath} --campaign ${id}\n`,
          { campaignId: id, status, jobs: exp.jobs.length, runs: exp.runs.length, db: dbPath },
        );
        return 0;
      }
    }
  });
}

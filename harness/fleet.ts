import { runProcess } from '../runner/index.ts';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CampaignPlan, NodeInfo, Placement } from '../core/types.ts';
import { EXIT_OK, InputError, RunError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { HttpMasterClient } from '../agent/http-client.ts';
import { explainMasterError, parseMasterUrl } from '../agent/master-errors.ts';
import { planCampaign, renderPlan } from './dry-run.ts';
import { readToken } from '../core/token-file.ts';
import { importCampaign, type CampaignExport } from '../store/export.ts';
import { Store } from '../store/store.ts';
import type { RunCommandOptions } from './run-options.ts';
import { reportAndPrint } from './report-output.ts';

const FOLLOW_OUTAGE_MS = 5 * 60_000;

export interface FleetTarget {
  masterUrl: string;
  caCert?: string;
  /** Inventory hostnames the campaign is constrained to (empty: any worker). */
  workers: string[];
}

interface InventoryList {
  _meta?: { hostvars?: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } | unknown;
}

function groupHosts(inv: InventoryList, group: string, seen = new Set<string>()): string[] {
  if (seen.has(group)) return [];
  seen.add(group);
  const g = inv[group] as { hosts?: string[]; children?: string[] } | undefined;
  if (!g) return [];
  return [...(g.hosts ?? []), ...(g.children ?? []).flatMap((c) => groupHosts(inv, c, seen))];
}

/**
 * Finds the master and the target workers in an Ansible inventory (`ansible-inventory --list`):
 * the first host of group `master`, its `ffwatt_master_url` (else https://<ansible_host>:<ffwatt_master_port>),
 * and the hosts of `--limit` (a group or host name; default the `workers` group).
 */
export function targetFromInventory(inv: InventoryList, limit?: string, inventoryDir?: string): FleetTarget {
  const masters = groupHosts(inv, 'master');
  if (masters.length === 0)
    throw new InputError('the inventory has no host in group "master": add one (see inventory/prod/hosts.yml)', {
      field: 'master',
    });
  const vars = inv._meta?.hostvars?.[masters[0]] ?? {};
  const host = (vars.ansible_host as string | undefined) ?? masters[0];
  const port = (vars.ffwatt_master_port as number | undefined) ?? 8443;
  const masterUrl = (vars.ffwatt_master_url as string | undefined) ?? `https://${host}:${port}`;
  let workers: string[];
  if (limit) {
    workers = groupHosts(inv, limit);
    if (workers.length === 0) {
      const all = groupHosts(inv, 'all');
      if (all.includes(limit) || inv._meta?.hostvars?.[limit]) workers = [limit];
      else throw new InputError(`--limit ${limit}: no such group or host in the inventory`, { field: '--limit' });
    }
  } else {
    workers = groupHosts(inv, 'workers');
  }
  if (workers.length === 0)
    throw new InputError('no workers to run on: the inventory group "workers" is empty', { field: 'workers' });
  // The fleet CA on this machine: ffwatt_operator_ca_cert (where the documented fetch puts
  // it), else the CA a 'provided' TLS setup deploys; relative paths are from the inventory.
  const ca = (vars.ffwatt_operator_ca_cert ??
    (vars.ffwatt_tls_mode === 'provided' ? vars.ffwatt_tls_ca_src : undefined)) as string | undefined;
  const caCert = ca ? resolve(inventoryDir ?? '.', ca) : undefined;
  return { masterUrl, caCert, workers: [...new Set(workers)] };
}

/** The folder relative paths of an inventory are taken from (the inventory itself, or the folder of an inventory file). */
function inventoryBase(inventory: string): string {
  return existsSync(inventory) && statSync(inventory).isDirectory() ? inventory : dirname(inventory);
}

export async function readInventory(dir: string): Promise<InventoryList> {
  try {
    const { stdout } = await runProcess('ansible-inventory', ['-i', dir, '--list'], {
      captureStdout: true,
      stdin: 'ignore',
    });
    return JSON.parse(stdout) as InventoryList;
  } catch (err) {
    const stderr = String((err as { stderrTail?: string }).stderrTail ?? '');
    if (/vault/i.test(stderr)) {
      const why = /Decryption failed/i.test(stderr)
        ? 'the vault password does not open it'
        : 'no vault password was given';
      throw new InputError(
        `cannot read inventory ${dir}: it holds ansible-vault encrypted variables and ${why}. Set ANSIBLE_VAULT_PASSWORD_FILE=FILE (the file holding the vault password) for ffwatt run`,
        { field: '--inventory' },
      );
    }
    const first = stderr.split('\n').find((l) => /ERROR|WARNING|\S/.test(l)) ?? (err as Error).message.split('\n')[0];
    throw new InputError(
      `cannot read inventory ${dir} with ansible-inventory: ${first.trim()} (is ansible installed and the path right?)`,
      { field: '--inventory' },
    );
  }
}

/** Fleet mode: submit the campaign to a master, follow it per node, then fetch its results here. */
export async function runFleetCommand(
  plan: CampaignPlan,
  o: RunCommandOptions,
  log: Logger,
  signal?: AbortSignal,
  extra: { placementFlag?: Placement } = {},
): Promise<number> {
  const target: FleetTarget = o.inventory
    ? targetFromInventory(await readInventory(o.inventory), o.limit, inventoryBase(o.inventory))
    : { masterUrl: o.master!, workers: [] };
  target.masterUrl = parseMasterUrl(
    target.masterUrl,
    o.inventory ? `ffwatt_master_url of the inventory ${o.inventory}` : '--master',
  );
  const tokenFile = o.tokenFile ?? process.env.FFWATT_TOKEN_FILE;
  if (!tokenFile)
    throw new InputError('fleet mode needs the master token: pass --token-file F (or set FFWATT_TOKEN_FILE)', {
      field: '--token-file',
    });
  // A master with mTLS wants a client certificate from the harness too (no flag of its own: env).
  const clientCert = process.env.FFWATT_CLIENT_CERT;
  const clientKey = process.env.FFWATT_CLIENT_KEY;
  if (Boolean(clientCert) !== Boolean(clientKey))
    throw new InputError(
      'set both FFWATT_CLIENT_CERT and FFWATT_CLIENT_KEY (mTLS client certificate and key) or neither',
      { field: 'FFWATT_CLIENT_CERT' },
    );
  const caCert = o.caCert ?? process.env.FFWATT_CA_CERT ?? target.caCert;
  const client = new HttpMasterClient({
    masterUrl: target.masterUrl,
    token: readToken(tokenFile, 'master'),
    caCert,
    clientCert,
    clientKey,
  });
  // A mistake in the URL, the scheme or the CA is bad input (exit 2) with the fix, not a raw socket error.
  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown) => {
    try {
      return await client.call<T>(method, path, body);
    } catch (err) {
      throw explainMasterError(err, target.masterUrl, { caCert }) ?? err;
    }
  };
  const refusedToken = (status: number) => {
    if (status === 401 || status === 403) {
      throw new InputError(
        `the master ${target.masterUrl} refused the token in ${tokenFile} (HTTP ${status}): use the admin token the master was started with`,
        { field: '--token-file' },
      );
    }
  };
  try {
    if (o.dryRun) {
      const nodes = await call<{ nodes: NodeInfo[]; error?: string }>('GET', '/nodes');
      refusedToken(nodes.status);
      if (nodes.status !== 200)
        throw new RunError(
          `master ${target.masterUrl}: cannot list nodes: HTTP ${nodes.status} ${nodes.body?.error ?? ''}`,
        );
      const view = planCampaign(plan, o.matrix ?? 'matrix.yml', {
        placement: extra.placementFlag,
        fleet: true,
        nodes: nodes.body.nodes,
        nodeConstraint: target.workers,
      });
      process.stdout.write(
        o.json
          ? JSON.stringify({ master: target.masterUrl, ...view }, null, 2) + '\n'
          : `master: ${target.masterUrl}\n${renderPlan(view)}`,
      );
      return EXIT_OK;
    }
    const submitted = await call<{
      campaignId: string;
      jobs: number;
      placement: string;
      targets: string[];
      skipped: Array<{ scenario: string; target: string }>;
      error?: string;
    }>('POST', '/campaigns', {
      matrix: plan.matrixText,
      fileName: plan.matrixFormat === 'legacy-batch' ? 'matrix.json' : (o.matrix ?? 'matrix.yml'),
      nodeConstraint: target.workers,
      seed: plan.seed,
      ...(extra.placementFlag ? { placement: extra.placementFlag } : {}),
    });
    refusedToken(submitted.status);
    if (submitted.status === 400)
      throw new InputError(`master ${target.masterUrl} refused the campaign: ${submitted.body?.error ?? 'HTTP 400'}`, {
        field: 'matrix',
      });
    if (submitted.status !== 201)
      throw new RunError(
        `master ${target.masterUrl} refused the campaign: HTTP ${submitted.status} ${submitted.body?.error ?? ''}`,
      );
    const { campaignId, jobs, placement, targets, skipped } = submitted.body;
    log.info(
      `campaign ${campaignId} submitted to ${target.masterUrl}: ${jobs} jobs, placement ${placement}${targets?.length ? ` on ${targets.join(', ')}` : ''}${target.workers.length ? ` (workers ${target.workers.join(', ')})` : ''}`,
    );
    for (const s of skipped ?? []) log.warn(`left out on ${s.target}: ${s.scenario} (no node there has the encoder)`);
    if (o.detach) {
      process.stdout.write(
        o.json
          ? JSON.stringify({ campaignId, master: target.masterUrl, jobs, placement, targets }) + '\n'
          : `${campaignId}\n`,
      );
      return EXIT_OK;
    }
    let last = '';
    let status = 'running';
    let unreachableSince: number | null = null;
    while (!signal?.aborted) {
      let r: {
        status: number;
        body: {
          status: string;
          counts: Record<string, number>;
          nodes: Record<string, { running: string | null; done: number; failed: number; canceled?: number }>;
        };
      };
      try {
        r = await client.call('GET', `/campaigns/${campaignId}`);
        unreachableSince = null;
      } catch (err) {
        // A master restarting mid-campaign keeps its queue: wait for it (bounded), then give up.
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > FOLLOW_OUTAGE_MS)
          throw new RunError(
            `master ${target.masterUrl} unreachable for ${FOLLOW_OUTAGE_MS / 1000} s while following campaign ${campaignId}: ${(err as Error).message}`,
          );
        if (!o.json) process.stderr.write(`master unreachable (${(err as Error).message}); retrying\n`);
        await sleep(2000, undefined, { signal }).catch(() => {});
        continue;
      }
      if (r.status !== 200) throw new RunError(`cannot follow campaign ${campaignId}: HTTP ${r.status}`);
      status = r.body.status;
      const c = r.body.counts;
      const nodes = Object.entries(r.body.nodes)
        .map(
          ([n, s]) =>
            `${n}: ${s.done} done${s.failed ? `, ${s.failed} failed` : ''}${s.canceled ? `, ${s.canceled} canceled` : ''}${s.running ? `, running ${s.running}` : ''}`,
        )
        .join(' | ');
      const line = `[${c.succeeded + c.failed + c.canceled}/${Object.values(c).reduce((a, b) => a + b, 0)}] queued ${c.queued}, running ${c.leased + c.running}${c.failed ? `, failed ${c.failed}` : ''}${c.canceled ? `, canceled ${c.canceled}` : ''}${nodes ? ` — ${nodes}` : ''}`;
      if (line !== last && !o.json) process.stderr.write(line + '\n');
      last = line;
      if (status !== 'running') break;
      await sleep(2000, undefined, { signal }).catch(() => {});
    }
    if (signal?.aborted) {
      log.warn(
        `stopped following campaign ${campaignId}; it keeps running on the master (follow it with ffwatt campaign show ${campaignId}, fetch it with ffwatt campaign fetch ${campaignId})`,
      );
      return 130;
    }
    const exp = await client.call<CampaignExport>('GET', `/campaigns/${campaignId}/export`);
    if (exp.status !== 200) throw new RunError(`cannot fetch results of campaign ${campaignId}: HTTP ${exp.status}`);
    const dbPath = join(resolve(o.out), 'ffwatt.sqlite');
    const store = Store.open(dbPath);
    try {
      importCampaign(store, exp.body);
    } finally {
      store.close();
    }
    const counts = exp.body.jobs.reduce<Record<string, number>>(
      (acc, j) => ((acc[j.state as string] = (acc[j.state as string] ?? 0) + 1), acc),
      {},
    );
    return await reportAndPrint(o, { campaignId, dbPath, status, counts }, { master: target.masterUrl });
  } finally {
    await client.close();
  }
}

import { Command, Option } from 'commander';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError } from '../core/errors.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { estimateWattsPerLogicalCpu, openMeters, rejectOldWattsFlag, Sampler, samplingHz, WATTS_FLAG } from '../energy/index.ts';
import { detectEncoders } from '../media/encoders.ts';
import { startRtmpServer, type RtmpServer } from '../media/rtmp.ts';
import { readToken } from '../master/config.ts';
import { serveMetrics } from './serve-metrics.ts';
import { hostFacts, nodeRegistration, provenanceMeters, readMachineFacts } from './host-facts.ts';
import { explainMasterError, parseMasterUrl } from './master-errors.ts';
import { HttpMasterClient } from './http-client.ts';
import { createAgentMetrics } from './metrics.ts';
import { ResultSpool } from './spool.ts';
import { DEFAULT_HOST_LOCK_WAIT_S, HOST_LOCK_ENV, HostLock } from './host-lock.ts';
import { Worker } from './worker.ts';

/** `ffwatt agent`: registers with the master, heartbeats, claims and runs jobs, posts results via a spool. */
export async function agentCommand(argv: string[], _cliLog: Logger, signal: AbortSignal): Promise<number> {
  const cmd = new Command('ffwatt agent')
    .exitOverride()
    .requiredOption('--master <url>', 'master URL, e.g. https://master:8443')
    .requiredOption('--token-file <file>', 'bootstrap token (per-node token is issued at registration)')
    .option('--spool <dir>', 'results spool directory', '/var/lib/ffwatt-agent/spool')
    .option('--work <dir>', 'scratch directory for encodes', '/var/lib/ffwatt-agent/work')
    .option('--node-id <id>', 'node id (default: hostname)')
    .option('--label <label...>', 'node labels')
    .option('--ca-cert <file>', 'CA certificate of the master')
    .option('--client-cert <file>', 'client certificate (mTLS)')
    .option('--client-key <file>', 'client key (mTLS)')
    .option('--metrics-listen <host:port>', 'exporter address', '127.0.0.1:9464')
    .option('--sysfs <path>', 'sysfs root for meters (env FFWATT_SYSFS)')
    .option('--nvml-library <path>', 'NVML library path')
    .option('--watts-per-logical-cpu <w>', 'estimate meter: W per busy logical CPU (default: 10 W per busy core ÷ threads per core)')
    .addOption(new Option('--watts-per-core <w>').hideHelp()) // renamed: refused with a message naming the new flag
    .option('--vmaf-model <file>', 'VMAF model (env FFWATT_VMAF_MODEL)')
    .option('--quality-ffmpeg <path>', 'ffmpeg with libvmaf for scoring')
    .option('--heartbeat-s <s>', 'heartbeat interval', '10')
    .option('--lease-extend-s <s>', 'lease extension interval', '10')
    .option('--poll-s <s>', 'idle poll interval', '2')
    .option('--host-lock <file>', `measuring lock shared by every measurer on this machine (env ${HOST_LOCK_ENV})`, undefined)
    .option('--host-lock-wait-s <s>', 'how long to wait for another measurer on this machine before refusing (then retried)', String(DEFAULT_HOST_LOCK_WAIT_S))
    .option('--hybrid-master', 'this worker shares its machine with the master (runs are flagged)');
  cmd.parse(argv, { from: 'user' });
  const f = cmd.opts();
  rejectOldWattsFlag(f.wattsPerCore);
  const masterUrl = parseMasterUrl(f.master);
  const num = (v: string, flag: string) => {
    const n = Number(v);
    if (!(n > 0)) throw new InputError(`${flag} must be a positive number, got "${v}"`, { field: flag });
    return n;
  };
  const log = createLogger({ format: 'json', base: { service: 'ffwatt-agent' } });
  const token = readToken(f.tokenFile, 'bootstrap');
  // One measurer per machine (agent/host-lock.ts): a bad lock path or wait is refused before anything starts.
  const hostLock = new HostLock({ path: f.hostLock, nodeId: f.nodeId ?? hostname(), role: 'agent', waitS: num(f.hostLockWaitS, '--host-lock-wait-s'), log });
  hostLock.check();
  const encoders = await detectEncoders();
  // Before the meters: reading GPU facts starts and stops NVML, which the NVML meter then keeps open.
  const machine = await readMachineFacts({ nvmlLibrary: f.nvmlLibrary });
  const { meters, refused } = openMeters({ sysfsRoot: f.sysfs, nvmlLibrary: f.nvmlLibrary, wattsPerLogicalCpu: f.wattsPerLogicalCpu ? num(f.wattsPerLogicalCpu, WATTS_FLAG) : undefined });
  for (const r of refused) log.info('meter not used', { meter: r.meter, reason: r.reason, fix: r.fix });
  if (meters.every((m) => m.source === 'estimate')) log.warn('no energy counters here: energy figures are estimates (source=estimate)');
  const sampler = new Sampler(meters, { hz: samplingHz(meters) }); // raised where a counter wraps sooner
  log.info('energy sampling', { hz: sampler.hz });
  sampler.start();
  const host = hostFacts({
    sysfsRoot: f.sysfs,
    hybridMaster: Boolean(f.hybridMaster),
    meters: provenanceMeters(meters, refused),
    machine,
  });
  const nodeId: string = f.nodeId ?? hostname();
  const metrics = createAgentMetrics({ meters: () => meters, nodeId });
  let metricsServer;
  try {
    metricsServer = await serveMetrics(f.metricsListen, () => metrics.metricsText(), metrics.registry.contentType);
  } catch (err) {
    sampler.stop();
    for (const m of meters) m.close();
    throw err;
  }

  const client = new HttpMasterClient({ masterUrl, token, caCert: f.caCert, clientCert: f.clientCert, clientKey: f.clientKey });
  const registration = nodeRegistration(nodeId, host, encoders, f.label ?? []);
  // The master may be down or restarting: keep trying to register (bounded backoff) until stopped.
  for (let wait = 500; !signal.aborted; wait = Math.min(wait * 2, 15_000)) {
    try {
      await client.register(registration);
      break;
    } catch (err) {
      // A refused connection may be a master still starting: only a URL or TLS mistake is fatal.
      const mistake = explainMasterError(err, masterUrl, { caCert: f.caCert });
      if (mistake && !/connection refused/.test(mistake.message)) {
        sampler.stop();
        await new Promise((r) => metricsServer.close(r));
        await client.close();
        throw mistake;
      }
      if ((err as { status?: number }).status === 401 || (err as { status?: number }).status === 403) {
        sampler.stop();
        await new Promise((r) => metricsServer.close(r));
        await client.close();
        throw new InputError(`the master refused the token in --token-file ${f.tokenFile} (${(err as Error).message}): give the admin/bootstrap token the master was started with`, { field: '--token-file' });
      }
      log.warn('cannot register with the master yet', { master: f.master, error: (err as Error).message, retryMs: wait });
      await sleep(wait, undefined, { signal }).catch(() => {});
    }
  }
  if (signal.aborted) return 0;
  log.info('registered', { node: nodeId, master: masterUrl, hardwareClass: host.hardwareClass, gpu: host.gpu, encoders: encoders.codecMap });

  const reRegisterOn401 = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 401 || status === 404) {
        // The master lost our token or node (e.g. restored from an older database): register again.
        await client.register(registration);
        return fn();
      }
      throw err;
    }
  };
  const spool = new ResultSpool(f.spool, (r, i) => reRegisterOn401(() => client.postResult(r, i)), log);
  // Results left by an earlier run, or spooled while the master was away, are retried in the
  // background, so a master that comes back gets them even while this agent keeps working.
  let flushing = false;
  const flushSpool = () => {
    if (flushing || signal.aborted || spool.pending().length === 0) return;
    flushing = true;
    spool
      .flush(signal)
      .catch((err) => log.warn('spool flush failed', { error: (err as Error).message }))
      .finally(() => (flushing = false));
  };
  flushSpool();
  const spoolTimer = setInterval(flushSpool, 5_000);

  const heartbeat = setInterval(() => {
    reRegisterOn401(() => client.heartbeat(nodeId)).catch((err) => log.warn('heartbeat failed', { error: (err as Error).message }));
  }, num(f.heartbeatS, '--heartbeat-s') * 1000);

  const leaseExtendMs = num(f.leaseExtendS, '--lease-extend-s') * 1000;
  let warnedLease = false;
  let rtmp: RtmpServer | null = null;
  const worker = new Worker({
    client: {
      register: (n) => client.register(n),
      heartbeat: (id) => client.heartbeat(id),
      claim: async (id) => {
        const job = await reRegisterOn401(() => client.claim(id));
        if (job) log.info('job claimed', { job: job.id, campaign: job.campaign.id, scenario: job.scenario.label, repetition: job.repetition, attempt: job.attempts });
        const leaseMs = (job as { leaseMs?: number } | null)?.leaseMs;
        if (leaseMs && leaseExtendMs > leaseMs / 2 && !warnedLease) {
          warnedLease = true;
          log.warn('lease extension interval too long for the master\'s lease: jobs may be requeued while running', { leaseExtendS: leaseExtendMs / 1000, masterLeaseS: leaseMs / 1000, fix: `pass --lease-extend-s ${Math.max(1, Math.floor(leaseMs / 3000))} or raise lease_s on the master` });
        }
        return job;
      },
      extendLease: (jobId, id, attempt) => client.extendLease(jobId, id, attempt),
      postResult: (r, i) => client.postResult(r, i),
    },
    nodeId,
    sampler,
    encoders,
    host,
    estimateWattsPerCore: estimateWattsPerLogicalCpu(meters),
    workDir: f.work,
    log,
    onEvent: (ev) => {
      metrics.onEvent(ev);
      if (ev.kind === 'result') {
        const r = ev.record;
        log.info('job finished', {
          job: r.jobId,
          attempt: r.attempt,
          status: r.status,
          jPerEncodedMinute: r.energy?.jPerEncodedMinute ?? null,
          source: r.energy?.source ?? null,
          wallS: Number(r.wallS.toFixed(2)),
          ...(r.error ? { error: r.error } : {}),
        });
      }
    },
    onResources: (jobId, u) => metrics.setJobResources(jobId, { cpuSeconds: u.cpuSeconds, peakRssBytes: u.peakRssBytes, readBytes: u.readBytes ?? 0, writeBytes: u.writeBytes ?? 0 }),
    vmafModel: f.vmafModel ?? process.env.FFWATT_VMAF_MODEL ?? null,
    qualityFfmpegPath: f.qualityFfmpeg,
    leaseExtendMs,
    hostLock,
    rtmp: async () => (rtmp ??= await startRtmpServer({ workDir: join(f.work, 'nginx') })),
    deliver: async (record, idle) => {
      // Stopped by our own shutdown (not canceled by the master): the job is not the master's
      // to close as canceled. Drop the record; the lease expires and the job runs again elsewhere.
      if (signal.aborted && record.status === 'canceled') {
        log.info('agent stopping: interrupted run not reported; its lease will expire and the job be requeued', { job: record.jobId, attempt: record.attempt });
        return 'spooled';
      }
      const outcome = await spool.deliver(record, idle, signal);
      return outcome === 'rejected' ? 'spooled' : outcome;
    },
  });
  const pollMs = num(f.pollS, '--poll-s') * 1000;
  while (!signal.aborted) {
    try {
      await worker.loop(() => false, { pollMs, signal });
    } catch (err) {
      log.warn('master unreachable or job loop failed; retrying', { error: (err as Error).message });
      await sleep(pollMs, undefined, { signal }).catch(() => {});
      flushSpool();
    }
  }
  log.info('agent stopping');
  clearInterval(heartbeat);
  clearInterval(spoolTimer);
  // Tell the master, so this node leaves `alive` now rather than after the node timeout.
  await client
    .stopped(nodeId)
    .then(() => log.info('master told: node stopped', { node: nodeId }))
    .catch((err) => log.warn('could not tell the master this node stopped; it will time out', { error: (err as Error).message }));
  sampler.stop();
  if (rtmp) await (rtmp as RtmpServer).stop();
  await new Promise((r) => metricsServer.close(r));
  await client.close();
  return 0;
}

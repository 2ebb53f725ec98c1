import { Command, Option } from 'commander';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_CLAIM_WAIT_S, MAX_CLAIM_WAIT_S } from '../core/claim-wait.ts';
import { InputError } from '../core/errors.ts';
import { nodeCostFigures } from '../core/node-cost.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { rejectOldWattsFlag, WATTS_FLAG } from '../energy/index.ts';
import { detectEncoders } from '../media/encoders.ts';
import { stopAllProcesses } from '../runner/index.ts';
import { readToken } from '../core/token-file.ts';
import { numberArg } from '../core/cli-options.ts';
import { serveMetrics } from './serve-metrics.ts';
import { nodeRegistration } from './host-facts.ts';
import { startNode } from './node.ts';
import { explainMasterError, parseMasterUrl } from './master-errors.ts';
import { CredentialRejected, HttpMasterClient } from './http-client.ts';
import { DiskGuard } from './disk-guard.ts';
import { NodeCredentialStore } from './node-credential.ts';
import { createAgentMetrics } from './metrics/index.ts';
import { ResultSpool } from './spool.ts';
import { DEFAULT_HOST_LOCK_WAIT_S, HOST_LOCK_ENV, HostLock } from './host-lock.ts';
import { Worker } from './worker.ts';

/** `ffwatt agent`: registers with the master, heartbeats, claims and runs jobs, posts results via a spool. */
export async function agentCommand(argv: string[], _cliLog: Logger, signal: AbortSignal): Promise<number> {
  const cmd = new Command('ffwatt agent')
    .exitOverride()
    .requiredOption('--master <url>', 'master URL, e.g. https://master:8443')
    .option(
      '--registration-token-file <file>',
      'registration token (may only register this node; env $CREDENTIALS_DIRECTORY/registration-token)',
    )
    .option('--state-dir <dir>', 'where the node credential is kept (node-token, 0600)', '/var/lib/ffwatt-agent/state')
    .option('--token-file <file>', 'no longer accepted: agents hold a registration token, not the admin token')
    .option('--spool <dir>', 'results spool directory', '/var/lib/ffwatt-agent/spool')
    .option('--work <dir>', 'scratch directory for encodes', '/var/lib/ffwatt-agent/work')
    .option(
      '--media-dir <dir>',
      'file inputs must lie under this folder (matrix paths are relative to it)',
      '/var/lib/ffwatt-agent/media',
    )
    .option(
      '--min-free-mb <mb>',
      'claim no job while the work or spool folder has less free space',
      numberArg('--min-free-mb'),
      1024,
    )
    .option('--node-id <id>', 'node id (default: hostname)')
    .option(
      '--label <label...>',
      "node labels; cost.price_per_kwh=, cost.carbon_g_per_kwh=, cost.instance_per_hour= price this node's runs (docs/fleet.md)",
    )
    .option('--ca-cert <file>', 'CA certificate of the master')
    .option('--client-cert <file>', 'client certificate (mTLS)')
    .option('--client-key <file>', 'client key (mTLS)')
    .option('--metrics-listen <host:port>', 'exporter address', '127.0.0.1:9464')
    .addOption(new Option('--sysfs <path>', 'sysfs root for meters').env('FFWATT_SYSFS'))
    .option('--nvml-library <path>', 'NVML library path')
    .option(
      '--watts-per-logical-cpu <w>',
      'estimate meter: W per busy logical CPU (default: 10 W per busy core ÷ threads per core)',
      numberArg(WATTS_FLAG),
    )
    .addOption(new Option('--watts-per-core <w>').hideHelp()) // renamed: refused with a message naming the new flag
    .addOption(new Option('--vmaf-model <file>', 'VMAF model').env('FFWATT_VMAF_MODEL'))
    .option('--quality-ffmpeg <path>', 'ffmpeg with libvmaf for scoring')
    .option('--heartbeat-s <s>', 'heartbeat interval', numberArg('--heartbeat-s'), 10)
    .option('--lease-extend-s <s>', 'lease extension interval', numberArg('--lease-extend-s'), 10)
    .option('--poll-s <s>', 'idle poll interval (after a claim the master answered at once)', numberArg('--poll-s'), 2)
    .option(
      '--claim-wait-s <s>',
      'long poll: how long the master may hold a claim until a job appears (0: short claims, for masters before long poll)',
      numberArg('--claim-wait-s'),
      DEFAULT_CLAIM_WAIT_S,
    )
    .option(
      '--host-lock <file>',
      `measuring lock shared by every measurer on this machine (env ${HOST_LOCK_ENV})`,
      undefined,
    )
    .option(
      '--host-lock-wait-s <s>',
      'how long to wait for another measurer on this machine before refusing (then retried)',
      numberArg('--host-lock-wait-s'),
      DEFAULT_HOST_LOCK_WAIT_S,
    )
    .option('--hybrid-master', 'this worker shares its machine with the master (runs are flagged)');
  cmd.parse(argv, { from: 'user' });
  const f = cmd.opts();
  rejectOldWattsFlag(f.wattsPerCore);
  const masterUrl = parseMasterUrl(f.master);
  if (f.tokenFile) {
    throw new InputError(
      `--token-file ${f.tokenFile}: agents no longer take the admin token. Pass the registration token with --registration-token-file (the master's registration_token_file); the node credential it obtains is kept in --state-dir`,
      { field: '--token-file', fix: 'replace --token-file with --registration-token-file' },
    );
  }
  const minFreeMb: number = f.minFreeMb;
  // A mistyped cost figure would price every run of this node wrongly: refused before anything starts.
  nodeCostFigures(f.label ?? [], '--label');
  const log = createLogger({ format: 'json', base: { service: 'ffwatt-agent' } });
  const nodeId: string = f.nodeId ?? hostname();
  const credentials = new NodeCredentialStore(f.stateDir);
  const stored = credentials.load();
  const registrationFile: string | undefined =
    f.registrationTokenFile ??
    (process.env.CREDENTIALS_DIRECTORY ? join(process.env.CREDENTIALS_DIRECTORY, 'registration-token') : undefined);
  const registrationToken =
    registrationFile && (f.registrationTokenFile || existsSync(registrationFile))
      ? readToken(registrationFile, 'registration')
      : undefined;
  if (!stored && !registrationToken) {
    throw new InputError(
      `no credential: ${credentials.path} holds no node credential and no registration token was given`,
      {
        field: '--registration-token-file',
        fix: "pass --registration-token-file FILE (the master's registration token)",
      },
    );
  }
  /** Names the files a refused credential came from, for the exit-2 message. */
  const credentialFiles = () => [stored?.file ?? credentials.path, registrationFile].filter(Boolean).join(' and ');
  // Our own abort: a signal, or a credential the master refuses for good (exit 2, below).
  const stop = new AbortController();
  // Told to stop, the agent does not wait for an encoder to flush: the interrupted run is not
  // reported (its lease expires), so FFmpeg is killed at once (SIGTERM, then SIGKILL).
  const onStop = () => {
    stop.abort();
    void stopAllProcesses(0);
  };
  if (signal.aborted) stop.abort();
  signal.addEventListener('abort', onStop, { once: true });
  let fatal: InputError | null = null;
  const failFast = (err: unknown): boolean => {
    if (!(err instanceof CredentialRejected)) return false;
    fatal ??= new InputError(
      `the master refused this agent's credential (${err.message}); files: ${credentialFiles()}`,
      {
        file: err.credential === 'node' ? (stored?.file ?? credentials.path) : registrationFile,
        field: err.credential === 'node' ? '--state-dir' : '--registration-token-file',
        fix:
          err.status === 409
            ? `node id ${nodeId} is registered with another credential: restore its ${credentials.path}, or have an operator revoke it (DELETE /api/v1/nodes/${nodeId}) or re-register it with the admin token`
            : "check the registration token file against the master's registration_token_file (a revoked node needs an operator)",
      },
    );
    stop.abort();
    return true;
  };
  // One measurer per machine (agent/host-lock.ts): a bad lock path or wait is refused before anything starts.
  const hostLock = new HostLock({ path: f.hostLock, nodeId, role: 'agent', waitS: f.hostLockWaitS as number, log });
  hostLock.check();
  const encoders = await detectEncoders();
  const node = await startNode({
    sysfsRoot: f.sysfs,
    nvmlLibrary: f.nvmlLibrary,
    wattsPerLogicalCpu: f.wattsPerLogicalCpu as number | undefined,
    hybridMaster: Boolean(f.hybridMaster),
    onRefused: (r) => log.info('meter not used', { meter: r.meter, reason: r.reason, fix: r.fix }),
    onEstimateOnly: () => log.warn('no energy counters here: energy figures are estimates (source=estimate)'),
    onSampling: (hz) => log.info('energy sampling', { hz }),
  });
  const { meters, host } = node;
  mkdirSync(f.work, { recursive: true });
  mkdirSync(f.spool, { recursive: true });
  sweepWorkDir(f.work, log);
  const metrics = createAgentMetrics({ sampler: node.sampler, nodeId });
  const disk = new DiskGuard([f.work, f.spool], minFreeMb * 2 ** 20, metrics.registry);
  let metricsServer;
  try {
    metricsServer = await serveMetrics(f.metricsListen, () => metrics.metricsText(), metrics.registry.contentType);
  } catch (err) {
    await node.stop();
    throw err;
  }

  const client = new HttpMasterClient({
    masterUrl,
    registrationToken,
    nodeToken: stored?.token,
    onNodeToken: (t) => credentials.save(t),
    caCert: f.caCert,
    clientCert: f.clientCert,
    clientKey: f.clientKey,
    signal: stop.signal,
  });
  const registration = nodeRegistration(nodeId, host, encoders, f.label ?? []);
  const shutdown = async () => {
    signal.removeEventListener('abort', onStop);
    metricsServer.closeAllConnections();
    await new Promise((r) => metricsServer.close(r));
    await node.stop(); // after the exporter, which reads the meters
    await client.close(true);
  };
  // The master may be down or restarting: keep trying to register (bounded backoff) until stopped.
  // A refused credential is not retried: exit 2 naming the file.
  for (let wait = 500; !stop.signal.aborted; wait = Math.min(wait * 2, 15_000)) {
    try {
      await client.register(registration);
      break;
    } catch (err) {
      if (failFast(err)) break;
      if (stop.signal.aborted) break;
      // A refused connection may be a master still starting: only a URL or TLS mistake is fatal.
      const mistake = explainMasterError(err, masterUrl, { caCert: f.caCert });
      if (mistake && !/connection refused/.test(mistake.message)) {
        fatal ??= mistake;
        stop.abort();
        break;
      }
      log.warn('cannot register with the master yet', {
        master: f.master,
        error: (err as Error).message,
        retryMs: wait,
      });
      await sleep(wait, undefined, { signal: stop.signal }).catch(() => {});
    }
  }
  if (stop.signal.aborted) {
    await shutdown();
    if (fatal) throw fatal;
    log.info('agent stopping');
    return 0;
  }
  log.info('registered', {
    node: nodeId,
    master: masterUrl,
    hardwareClass: host.hardwareClass,
    gpu: host.gpu,
    encoders: encoders.codecMap,
    credential: credentials.path,
  });

  const reRegisterOn401 = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 401 || status === 404) {
        // The master lost our credential or node (e.g. restored from an older database): register
        // again; a refusal there is final (exit 2).
        try {
          await client.register(registration);
        } catch (regErr) {
          failFast(regErr);
          throw regErr;
        }
        return fn();
      }
      throw err;
    }
  };
  // Leases of finished jobs whose result is not delivered yet: kept extended (below) so that a
  // master outage that ends while the result waits in the spool does not expire the lease.
  const undelivered = new Map<string, { jobId: string; attempt: number }>();
  const spool = new ResultSpool(
    f.spool,
    async (r, i, leaseId) => {
      const outcome = await reRegisterOn401(() => client.postResult(r, i, leaseId));
      undelivered.delete(`${r.jobId}.${r.attempt}`);
      return outcome;
    },
    log,
  );
  // Results left by an earlier run, or spooled while the master was away, are retried in the
  // background, so a master that comes back gets them even while this agent keeps working.
  let flushing = false;
  const flushSpool = () => {
    if (flushing || stop.signal.aborted || spool.pending().length === 0) return;
    flushing = true;
    spool
      .flush(stop.signal)
      .catch((err) => log.warn('spool flush failed', { error: (err as Error).message }))
      .finally(() => (flushing = false));
  };
  flushSpool();
  const spoolTimer = setInterval(flushSpool, 5_000);

  let pausedLogged: string | null = null;
  const checkDisk = () => {
    const reason = disk.check();
    if (reason !== pausedLogged) {
      if (reason) log.warn('claiming no job: too little free disk', { reason });
      else if (pausedLogged) log.info('free disk back above --min-free-mb: claiming again');
      pausedLogged = reason;
    }
    return reason;
  };
  checkDisk();
  const heartbeat = setInterval(
    () => {
      reRegisterOn401(() => client.heartbeat(nodeId, { claimsPaused: checkDisk() })).catch((err) =>
        log.warn('heartbeat failed', { error: (err as Error).message }),
      );
    },
    (f.heartbeatS as number) * 1000,
  );

  const leaseExtendMs = (f.leaseExtendS as number) * 1000;
  const claimWaitS = f.claimWaitS as number;
  if (!(claimWaitS >= 0 && claimWaitS <= MAX_CLAIM_WAIT_S))
    throw new InputError(
      `--claim-wait-s must be a number of seconds from 0 to ${MAX_CLAIM_WAIT_S}, got "${f.claimWaitS}"`,
      { field: '--claim-wait-s' },
    );
  // Whether the last empty claim was held by the master (long poll): then no pause before the next.
  let lastClaimHeld = false;
  const keepLeases = setInterval(() => {
    for (const [key, l] of undelivered) {
      client.extendLease(l.jobId, nodeId, l.attempt).then(
        (r) => {
          if (!r.ok) undelivered.delete(key);
        },
        () => {},
      );
    }
  }, leaseExtendMs);
  let warnedLease = false;
  const worker = new Worker({
    ...node.workerParts({ workDir: f.work, metrics: () => metrics }),
    client: {
      register: (n) => client.register(n),
      heartbeat: (id) => client.heartbeat(id),
      claim: async (id) => {
        if (checkDisk()) return null;
        // Results first: a claim would hand back the job whose result still sits in the spool
        // (this node holds its lease) and the agent would run it again.
        if (spool.pending().length > 0 && (await spool.flush(stop.signal)) > 0)
          throw new Error('results still spooled: master unreachable');
        const asked = performance.now();
        const job = await reRegisterOn401(() => client.claim(id, { waitS: claimWaitS }));
        lastClaimHeld = !job && claimWaitS > 0 && performance.now() - asked >= claimWaitS * 500;
        if (job)
          log.info('job claimed', {
            job: job.id,
            campaign: job.campaign.id,
            scenario: job.scenario.label,
            repetition: job.repetition,
            attempt: job.attempts,
          });
        const leaseMs = job?.leaseMs;
        if (leaseMs && leaseExtendMs > leaseMs / 2 && !warnedLease) {
          warnedLease = true;
          log.warn("lease extension interval too long for the master's lease: jobs may be requeued while running", {
            leaseExtendS: leaseExtendMs / 1000,
            masterLeaseS: leaseMs / 1000,
            fix: `pass --lease-extend-s ${Math.max(1, Math.floor(leaseMs / 3000))} or raise lease_s on the master`,
          });
        }
        return job;
      },
      extendLease: (jobId, id, attempt) => client.extendLease(jobId, id, attempt),
      postResult: (r, i) => client.postResult(r, i),
    },
    nodeId,
    encoders,
    workDir: f.work,
    mediaDir: f.mediaDir,
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
    vmafModel: f.vmafModel ?? null,
    qualityFfmpegPath: f.qualityFfmpeg,
    leaseExtendMs,
    hostLock,
    deliver: async (record, idle) => {
      // Stopped by our own shutdown (not canceled by the master): the job is not the master's
      // to close as canceled. Drop the record; the lease expires and the job runs again elsewhere.
      if (stop.signal.aborted && record.status === 'canceled') {
        log.info('agent stopping: interrupted run not reported; its lease will expire and the job be requeued', {
          job: record.jobId,
          attempt: record.attempt,
        });
        return 'spooled';
      }
      undelivered.set(`${record.jobId}.${record.attempt}`, { jobId: record.jobId, attempt: record.attempt });
      const outcome = await spool.deliver(record, idle, client.leaseOf(record.jobId, record.attempt), stop.signal);
      return outcome === 'rejected' ? 'spooled' : outcome;
    },
  });
  const pollMs = (f.pollS as number) * 1000;
  while (!stop.signal.aborted) {
    try {
      // After a held claim, only the short pause that lets another measurer waiting on this
      // machine's lock take its turn (the agent holds the lock while its claim is held).
      await worker.loop(() => false, { pollMs: () => (lastClaimHeld ? 300 : pollMs), signal: stop.signal });
    } catch (err) {
      if (stop.signal.aborted) break;
      log.warn('master unreachable or job loop failed; retrying', { error: (err as Error).message });
      await sleep(pollMs, undefined, { signal: stop.signal }).catch(() => {});
      flushSpool();
    }
  }
  log.info('agent stopping');
  clearInterval(heartbeat);
  clearInterval(spoolTimer);
  clearInterval(keepLeases);
  // Tell the master, so this node leaves `alive` now rather than after the node timeout.
  if (!fatal) {
    await client
      .stopped(nodeId)
      .then(() => log.info('master told: node stopped', { node: nodeId }))
      .catch((err) =>
        log.warn('could not tell the master this node stopped; it will time out', { error: (err as Error).message }),
      );
  }
  await shutdown();
  if (fatal) throw fatal;
  return 0;
}

/** Job folders (`<job id>-<attempt>`) and the RTMP server's folder left by an agent that died: removed at start. */
function sweepWorkDir(work: string, log: Logger): void {
  const left = readdirSync(work).filter((name) => /^[0-9a-f-]{36}-\d+$/.test(name) || name === 'nginx');
  for (const name of left) rmSync(join(work, name), { recursive: true, force: true });
  if (left.length) log.info('removed work folders left by an earlier run', { work, folders: left.length });
}

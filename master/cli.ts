import { Command, Option } from 'commander';
import { join } from 'node:path';
import type { Logger } from '../core/log.ts';
import { createMasterLogger, LOG_FORMATS, type LogFormat } from './log.ts';
import { loadMasterConfig } from './config.ts';
import { listenHost, listenPort } from '../core/net.ts';
import { readToken } from '../core/token-file.ts';
import { JobQueue } from './queue.ts';
import { Store } from '../store/store.ts';
import { buildMasterApp, sendEncodedMetrics } from './server.ts';
import { masterMetricsFor } from './metrics-wiring.ts';
import { CachedMetricsText, type EncodedMetrics } from './metrics-cache.ts';
import { MetricsRefresher } from './metrics-refresher.ts';
import { InputError } from '../core/errors.ts';
import Fastify, { type FastifyInstance } from 'fastify';

/** /metrics alone on its own address (metrics_listen), so scrapers need no route to the API. */
async function serveMasterMetrics(
  listen: string,
  encoded: () => Promise<EncodedMetrics>,
  contentType: string,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (req, reply) =>
    sendEncodedMetrics(req.headers['accept-encoding'], await encoded(), reply.header('content-type', contentType)),
  );
  await app.listen({ host: listenHost(listen), port: listenPort(listen) });
  return app;
}

/** `ffwatt master`: the job-queue service. Runs until SIGINT/SIGTERM. */
export async function masterCommand(argv: string[], _cliLog: Logger, signal: AbortSignal): Promise<number> {
  const cmd = new Command('ffwatt master')
    .exitOverride()
    .option('--config <file>', 'YAML config file (same keys as the flags)')
    .option('--listen <host:port>', 'address to listen on')
    .option('--data <dir>', 'state directory (SQLite database)')
    .option('--token-file <file>', "admin bearer token (the operator's; never installed on workers)")
    .option('--registration-token-file <file>', 'registration token: may only register nodes (installed on workers)')
    .option('--metrics-listen <host:port>', "serve /metrics on this address instead of the API's")
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--client-ca <file>', 'require client certificates signed by this CA (mTLS)')
    .option('--allow-insecure-http', 'allow plain HTTP on a non-loopback address')
    .addOption(
      new Option('--log-format <format>', 'log lines as JSON or readable text').choices(LOG_FORMATS).default('json'),
    );
  cmd.parse(argv, { from: 'user' });
  const flags = cmd.opts();
  const cfg = loadMasterConfig(
    {
      listen: flags.listen,
      data: flags.data,
      tokenFile: flags.tokenFile,
      registrationTokenFile: flags.registrationTokenFile,
      metricsListen: flags.metricsListen,
      tlsCert: flags.tlsCert,
      tlsKey: flags.tlsKey,
      clientCa: flags.clientCa,
      allowInsecureHttp: flags.allowInsecureHttp,
    },
    flags.config,
  );
  const log = createMasterLogger({ format: flags.logFormat as LogFormat });
  const adminToken = readToken(cfg.tokenFile, 'admin');
  const registrationToken = cfg.registrationTokenFile
    ? readToken(cfg.registrationTokenFile, 'registration')
    : undefined;
  if (registrationToken && registrationToken === adminToken) {
    throw new InputError(
      `the registration token in ${cfg.registrationTokenFile} equals the admin token: generate a separate one (openssl rand -hex 32)`,
      { field: 'registrationTokenFile' },
    );
  }
  const dbPath = join(cfg.data, 'ffwatt.sqlite');
  const store = Store.open(dbPath);
  const queue = new JobQueue(store, {
    leaseMs: cfg.leaseS * 1000,
    maxAttempts: cfg.maxAttempts,
    nodeTimeoutMs: cfg.nodeTimeoutS * 1000,
    deadlineFactor: cfg.deadlineFactor,
    deadlineMarginS: cfg.deadlineMarginS,
    maxLeaseAgeMs: cfg.maxLeaseAgeS * 1000,
  });
  const recovered = queue.recoverAfterStart();
  if (recovered.leases || recovered.nodes)
    log.info(recovered, 'leases in flight and node heartbeats renewed after start (an outage burns no attempt)');
  const metrics = masterMetricsFor(store, cfg.cost);
  // Built off the event loop that serves claims (a worker thread with its own read-only connection).
  const refresher = new MetricsRefresher(dbPath, cfg.cost, () => metrics.metricsText(), log);
  const cached = new CachedMetricsText(() => refresher.text(), cfg.metricsIntervalS * 1000);
  const app = buildMasterApp({
    store,
    queue,
    adminToken,
    registrationToken,
    log,
    tls: cfg.tlsCert && cfg.tlsKey ? { cert: cfg.tlsCert, key: cfg.tlsKey, clientCa: cfg.clientCa } : undefined,
    bodyLimit: cfg.bodyLimitBytes,
    metricsText: () => cached.get(),
    metricsEncoded: () => cached.encoded(),
    serveMetrics: !cfg.metricsListen,
    contentType: metrics.registry.contentType,
  });
  await app.listen({ host: listenHost(cfg.listen), port: listenPort(cfg.listen) });
  const addr = app.server.address();
  log.info(
    {
      address: typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : String(addr),
      tls: Boolean(cfg.tlsCert),
      mtls: Boolean(cfg.clientCa),
      registration: Boolean(registrationToken),
      data: cfg.data,
    },
    'master listening',
  );
  const metricsApp = cfg.metricsListen
    ? await serveMasterMetrics(cfg.metricsListen, () => cached.encoded(), metrics.registry.contentType)
    : null;
  if (metricsApp) log.info({ address: cfg.metricsListen }, 'master metrics listening');
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  log.info('master stopping');
  await app.close();
  await metricsApp?.close();
  await refresher.close();
  store.close();
  return 0;
}

import { Command } from 'commander';
import { join } from 'node:path';
import { createLogger, type Logger } from '../core/log.ts';
import { loadMasterConfig, listenHost, listenPort, readToken } from './config.ts';
import { JobQueue } from './queue.ts';
import { Store } from './store.ts';
import { buildMasterApp } from './server.ts';
import { masterMetricsFor } from './metrics-wiring.ts';

/** `ffwatt master`: the job-queue service. Runs until SIGINT/SIGTERM. */
export async function masterCommand(argv: string[], _cliLog: Logger, signal: AbortSignal): Promise<number> {
  const cmd = new Command('ffwatt master')
    .exitOverride()
    .option('--config <file>', 'YAML config file (same keys as the flags)')
    .option('--listen <host:port>', 'address to listen on')
    .option('--data <dir>', 'state directory (SQLite database)')
    .option('--token-file <file>', 'admin/bootstrap bearer token')
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--client-ca <file>', 'require client certificates signed by this CA (mTLS)')
    .option('--allow-insecure-http', 'allow plain HTTP on a non-loopback address');
  cmd.parse(argv, { from: 'user' });
  const flags = cmd.opts();
  const cfg = loadMasterConfig(
    {
      listen: flags.listen,
      data: flags.data,
      tokenFile: flags.tokenFile,
      tlsCert: flags.tlsCert,
      tlsKey: flags.tlsKey,
      clientCa: flags.clientCa,
      allowInsecureHttp: flags.allowInsecureHttp,
    },
    flags.config,
  );
  const log = createLogger({ format: 'json', base: { service: 'ffwatt-master' } });
  const adminToken = readToken(cfg.tokenFile, 'admin');
  const store = Store.open(join(cfg.data, 'ffwatt.sqlite'));
  const queue = new JobQueue(store, { leaseMs: cfg.leaseS * 1000, maxAttempts: cfg.maxAttempts, nodeTimeoutMs: cfg.nodeTimeoutS * 1000 });
  const metrics = masterMetricsFor(store, cfg.cost);
  const app = buildMasterApp({
    store,
    queue,
    adminToken,
    log,
    tls: cfg.tlsCert && cfg.tlsKey ? { cert: cfg.tlsCert, key: cfg.tlsKey, clientCa: cfg.clientCa } : undefined,
    bodyLimit: cfg.bodyLimitBytes,
    metricsText: () => metrics.metricsText(),
    contentType: metrics.registry.contentType,
  });
  await app.listen({ host: listenHost(cfg.listen), port: listenPort(cfg.listen) });
  const addr = app.server.address();
  log.info('master listening', { address: typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : String(addr), tls: Boolean(cfg.tlsCert), mtls: Boolean(cfg.clientCa), data: cfg.data });
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  log.info('master stopping');
  await app.close();
  store.close();
  return 0;
}

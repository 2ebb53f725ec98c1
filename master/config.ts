import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { isLoopback, listenHost } from '../core/net.ts';
import { CostSchema } from '../core/cost.ts';

/** Master settings: flags override the `--config` file; the file uses the same names in snake_case or camelCase. */
export const MasterConfigSchema = z
  .object({
    listen: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'HOST:PORT'),
    data: z.string().min(1),
    tokenFile: z.string().min(1),
    registrationTokenFile: z.string().min(1).optional(),
    metricsListen: z
      .string()
      .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'HOST:PORT')
      .optional(),
    metricsIntervalS: z.number().positive().max(3600).default(15),
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    clientCa: z.string().optional(),
    allowInsecureHttp: z.boolean().default(false),
    leaseS: z.number().positive().default(60),
    maxAttempts: z.number().int().positive().default(3),
    nodeTimeoutS: z.number().positive().default(90),
    deadlineFactor: z.number().positive().max(1000).default(10),
    deadlineMarginS: z.number().nonnegative().max(86_400).default(600),
    maxLeaseAgeS: z.number().positive().default(86_400),
    bodyLimitBytes: z
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024),
    cost: CostSchema.default({}),
  })
  .strict();

export type MasterConfig = z.infer<typeof MasterConfigSchema>;

const camel = (k: string) => k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

function camelKeys(v: unknown): unknown {
  if (Array.isArray(v) || v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, val]) => [camel(k), camelKeys(val)]));
}

export function loadMasterConfig(flags: Record<string, unknown>, configFile?: string): MasterConfig {
  let fromFile: Record<string, unknown> = {};
  if (configFile) {
    let text: string;
    try {
      text = readFileSync(configFile, 'utf8');
    } catch (err) {
      throw new InputError(`cannot read master config ${configFile}: ${(err as Error).message}`, { file: configFile });
    }
    fromFile = (camelKeys(parseYaml(text)) as Record<string, unknown>) ?? {};
  }
  const merged = { ...fromFile, ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) };
  const r = MasterConfigSchema.safeParse(merged);
  if (!r.success) {
    const i = r.error.issues[0];
    const key = i.path.join('.');
    throw new InputError(
      `master config${configFile ? ` ${configFile}` : ''}: ${key || '(root)'}: ${i.message} (flag --${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())})`,
      {
        file: configFile,
        field: key,
      },
    );
  }
  const cfg = r.data;
  if ((cfg.tlsCert == null) !== (cfg.tlsKey == null))
    throw new InputError('give both --tls-cert and --tls-key (or neither)', { field: 'tlsCert' });
  if (cfg.clientCa && !cfg.tlsCert)
    throw new InputError('--client-ca (mTLS) needs --tls-cert and --tls-key', { field: 'clientCa' });
  if (cfg.registrationTokenFile && cfg.registrationTokenFile === cfg.tokenFile) {
    throw new InputError(
      'registration_token_file must not be the admin token_file: workers hold the registration token, and it may only register nodes',
      { field: 'registrationTokenFile' },
    );
  }
  const host = listenHost(cfg.listen);
  if (!cfg.tlsCert && !isLoopback(host) && !cfg.allowInsecureHttp) {
    throw new InputError(
      `refusing plain HTTP on ${cfg.listen}: tokens would cross the network in clear. Give --tls-cert/--tls-key, listen on 127.0.0.1, or pass --allow-insecure-http if the network is trusted`,
      { field: 'listen' },
    );
  }
  return cfg;
}

import { pino, type Logger as PinoLogger } from 'pino';

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface MasterLoggerOptions {
  format?: LogFormat;
  /** debug, info, warn, error; default FFWATT_LOG_LEVEL, else info. */
  level?: string;
  /** Where lines go (default stderr); tests pass their own. */
  write?: (line: string) => void;
}

/** One text line from a pino JSON line: "level: msg key=value …" (info carries no level prefix). */
function textLine(json: string): string {
  const { level, ts: _ts, msg, service: _s, ...fields } = JSON.parse(json) as Record<string, unknown>;
  const extra = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${level === 'info' ? '' : `${String(level)}: `}${String(msg)}${extra ? ` ${extra}` : ''}`;
}

/**
 * The master's logger: pino, which Fastify uses as its own. JSON lines with an ISO `ts`, the
 * level as a word and `service: ffwatt-master`; `text` writes the same events as readable lines.
 */
export function createMasterLogger(o: MasterLoggerOptions = {}): PinoLogger {
  const write = o.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const format = o.format ?? 'json';
  return pino(
    {
      level: o.level ?? process.env.FFWATT_LOG_LEVEL ?? 'info',
      base: { service: 'ffwatt-master' },
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (chunk: string) => write(format === 'json' ? chunk.trimEnd() : textLine(chunk)) },
  );
}

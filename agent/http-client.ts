import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { RunRecord } from '../core/types.ts';
import type { ResultOutcome } from '../master/queue.ts';
import type { ClaimedJob, IdleReport, MasterClient, NodeRegistration } from './client.ts';

export interface HttpClientOptions {
  masterUrl: string;
  /** Bootstrap (admin) token: used to register; the per-node token from registration is used after. */
  token: string;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  timeoutMs?: number;
}

export class MasterHttpError extends Error {
  constructor(readonly status: number, message: string, readonly body: unknown) {
    super(message);
  }
}

/** MasterClient over the master's HTTP(S) API (`/api/v1`). */
export class HttpMasterClient implements MasterClient {
  private nodeToken: string | null = null;
  private readonly dispatcher: Agent;
  private readonly base: string;

  constructor(private readonly o: HttpClientOptions) {
    this.base = o.masterUrl.replace(/\/+$/, '') + '/api/v1';
    this.dispatcher = new Agent({
      connect: {
        ca: o.caCert ? readFileSync(o.caCert) : undefined,
        cert: o.clientCert ? readFileSync(o.clientCert) : undefined,
        key: o.clientKey ? readFileSync(o.clientKey) : undefined,
      },
      headersTimeout: o.timeoutMs ?? 15_000,
      bodyTimeout: o.timeoutMs ?? 15_000,
    });
  }

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> {
    const res = await request(this.base + path, {
      method,
      dispatcher: this.dispatcher,
      headers: { authorization: `Bearer ${token ?? this.nodeToken ?? this.o.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.body.text();
    let parsed: T;
    try {
      parsed = text ? (JSON.parse(text) as T) : (undefined as T);
    } catch {
      // Not JSON (a proxy's error page): keep the start of it for the error message.
      parsed = { error: text.slice(0, 200) } as T;
    }
    return { status: res.statusCode, body: parsed };
  }

  private async ok<T>(method: 'GET' | 'POST', path: string, body?: unknown, accept: number[] = [200, 201]): Promise<{ status: number; body: T }> {
    const r = await this.call<T>(method, path, body);
    if (!accept.includes(r.status)) {
      const err = (r.body as { error?: string } | undefined)?.error ?? '';
      throw new MasterHttpError(r.status, `${method} ${path}: HTTP ${r.status} ${err}`.trim(), r.body);
    }
    return r;
  }

  async register(node: NodeRegistration): Promise<{ nodeId: string }> {
    const r = await this.call<{ nodeId: string; token: string; error?: string }>('POST', '/nodes/register', node, this.o.token);
    if (r.status !== 201) throw new MasterHttpError(r.status, `register: HTTP ${r.status} ${r.body?.error ?? ''}`, r.body);
    this.nodeToken = r.body.token;
    return { nodeId: r.body.nodeId };
  }

  async heartbeat(nodeId: string): Promise<void> {
    await this.ok('POST', `/nodes/${encodeURIComponent(nodeId)}/heartbeat`, {});
  }

  async claim(nodeId: string): Promise<ClaimedJob | null> {
    const r = await this.ok<ClaimedJob>('POST', '/jobs/claim', { nodeId }, [200, 204]);
    return r.status === 204 ? null : r.body;
  }

  async extendLease(jobId: string, nodeId: string, attempt: number): Promise<{ ok: boolean; canceled: boolean }> {
    const r = await this.call<{ ok: boolean; canceled: boolean }>('POST', `/jobs/${encodeURIComponent(jobId)}/lease`, { nodeId, attempt });
    if (r.status === 200 || r.status === 409) return { ok: r.body.ok, canceled: r.body.canceled };
    throw new MasterHttpError(r.status, `lease: HTTP ${r.status}`, r.body);
  }

  async postResult(record: RunRecord, idle: IdleReport | null): Promise<ResultOutcome> {
    const r = await this.call<ResultOutcome & { error?: string }>('POST', `/jobs/${encodeURIComponent(record.jobId)}/result`, { record, idle });
    if (r.status === 201 || r.status === 200 || r.status === 409) return r.body;
    if (r.status === 404) return { kind: 'unknown-job' };
    throw new MasterHttpError(r.status, `result: HTTP ${r.status} ${r.body?.error ?? ''}`, r.body);
  }

  /** Tells the master this node is stopping (it leaves `alive` and its job is requeued at once). */
  async stopped(nodeId: string): Promise<void> {
    await this.ok('POST', `/nodes/${encodeURIComponent(nodeId)}/stop`, {});
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

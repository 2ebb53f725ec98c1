import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { z } from 'zod';
import {
  ClaimedJobSchema,
  ErrorBodySchema,
  LeaseAnswerSchema,
  RegisteredSchema,
  ResultOutcomeSchema,
  formatZodError,
  type ClaimedJob,
  type IdleReport,
  type MasterClient,
  type NodeRegistration,
  type ResultOutcome,
  type RunRecord,
} from '../core/contracts/index.ts';
import { LeaseBook } from './leases.ts';

export interface HttpClientOptions {
  masterUrl: string;
  /** The operator's admin token (harness, scripts). Agents never hold it. */
  token?: string;
  /** Agents: may only register this node (used when there is no node credential yet, or it was refused). */
  registrationToken?: string;
  /** Agents: this node's own credential, from an earlier registration. */
  nodeToken?: string;
  /** Called with every node credential the master issues (the agent stores it 0600). */
  onNodeToken?: (token: string) => void;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
  timeoutMs?: number;
  /** Aborts requests in flight (an agent told to stop does not wait for a silent master). */
  signal?: AbortSignal;
}

export class MasterHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** Registration refused for a reason retrying cannot fix: the credential is wrong, or the id is taken. */
export class CredentialRejected extends MasterHttpError {
  constructor(
    status: number,
    message: string,
    body: unknown,
    readonly credential: 'node' | 'registration',
  ) {
    super(status, message, body);
  }
}

/** MasterClient over the master's HTTP(S) API (`/api/v1`). */
export class HttpMasterClient implements MasterClient {
  private nodeToken: string | null;
  private readonly leases = new LeaseBook();
  private readonly dispatcher: Agent;
  private readonly base: string;

  constructor(private readonly o: HttpClientOptions) {
    this.base = o.masterUrl.replace(/\/+$/, '') + '/api/v1';
    this.nodeToken = o.nodeToken ?? null;
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

  /**
   * One request; the body is the parsed JSON, unchecked (operator calls: harness/ops). The node
   * calls below check every answer against the API contract (core/contracts/api.ts).
   */
  async call<T = unknown>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    token?: string,
    signal: AbortSignal | undefined = this.o.signal,
    timeoutMs?: number,
  ): Promise<{ status: number; body: T }> {
    const bearer = token ?? this.nodeToken ?? this.o.token;
    const res = await request(this.base + path, {
      method,
      dispatcher: this.dispatcher,
      signal,
      ...(timeoutMs ? { headersTimeout: timeoutMs, bodyTimeout: timeoutMs } : {}),
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
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

  private async ok(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    accept: number[] = [200, 201],
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<{ status: number; body: unknown }> {
    const r = await this.call(method, path, body, undefined, signal ?? this.o.signal, timeoutMs);
    if (!accept.includes(r.status))
      throw new MasterHttpError(r.status, `${method} ${path}: HTTP ${r.status} ${errorOf(r.body)}`.trim(), r.body);
    return r;
  }

  /**
   * Registers this node with its own credential when it has one (the master replaces it with a
   * fresh one), else with the registration token (or the admin token, for scripts). A refused
   * node credential falls back to the registration token once: a master that lost the node
   * takes it again, one that has it answers 409.
   */
  async register(node: NodeRegistration): Promise<{ nodeId: string }> {
    const attempts: Array<{ token: string; credential: 'node' | 'registration' }> = [];
    if (this.nodeToken) attempts.push({ token: this.nodeToken, credential: 'node' });
    const shared = this.o.registrationToken ?? this.o.token;
    if (shared) attempts.push({ token: shared, credential: 'registration' });
    if (attempts.length === 0)
      throw new Error('no credential to register with (give a registration token or a node credential)');
    let last: CredentialRejected | null = null;
    for (const a of attempts) {
      const r = await this.call('POST', '/nodes/register', node, a.token);
      if (r.status === 201) {
        const registered = answer(RegisteredSchema, r, 'register');
        this.nodeToken = registered.token;
        this.o.onNodeToken?.(registered.token);
        return { nodeId: registered.nodeId };
      }
      const msg = `register: HTTP ${r.status} ${errorOf(r.body)}`.trim();
      if (r.status === 401 || r.status === 403 || r.status === 409) {
        last = new CredentialRejected(r.status, msg, r.body, a.credential);
        continue;
      }
      throw new MasterHttpError(r.status, msg, r.body);
    }
    throw last!;
  }

  async heartbeat(nodeId: string, status?: { claimsPaused: string | null }): Promise<void> {
    await this.ok('POST', `/nodes/${encodeURIComponent(nodeId)}/heartbeat`, status ?? {});
  }

  /**
   * With `waitS` the master holds the claim until a job appears or the wait ends (long poll; a
   * master without it answers at once). The request is aborted with the client's signal, so a
   * stopping agent does not wait for it.
   */
  async claim(nodeId: string, opts: { waitS?: number } = {}): Promise<ClaimedJob | null> {
    const waitS = opts.waitS ?? 0;
    const path = waitS > 0 ? `/jobs/claim?wait_s=${waitS}` : '/jobs/claim';
    const timeout = waitS > 0 ? waitS * 1000 + (this.o.timeoutMs ?? 15_000) : undefined;
    const r = await this.ok('POST', path, { nodeId }, [200, 204], undefined, timeout);
    if (r.status === 204) return null;
    const job = answer(ClaimedJobSchema, r, 'claim');
    this.leases.remember(job.id, job.attempts, job.leaseId);
    return job;
  }

  /** The lease id of a job this client claimed (the spool keeps it with the result). */
  leaseOf(jobId: string, attempt: number): string {
    return this.leases.leaseOf(jobId, attempt);
  }

  async extendLease(jobId: string, nodeId: string, attempt: number): Promise<{ ok: boolean; canceled: boolean }> {
    const r = await this.call('POST', `/jobs/${encodeURIComponent(jobId)}/lease`, {
      nodeId,
      attempt,
      leaseId: this.leases.leaseOf(jobId, attempt),
    });
    if (r.status === 200 || r.status === 409) {
      const a = answer(LeaseAnswerSchema, r, 'lease');
      return { ok: a.ok, canceled: a.canceled };
    }
    throw new MasterHttpError(r.status, `lease: HTTP ${r.status}`, r.body);
  }

  async postResult(record: RunRecord, idle: IdleReport | null, leaseId?: string): Promise<ResultOutcome> {
    const lease = leaseId ?? this.leases.leaseOf(record.jobId, record.attempt);
    const r = await this.call('POST', `/jobs/${encodeURIComponent(record.jobId)}/result`, {
      record,
      idle,
      leaseId: lease,
    });
    if (r.status === 201 || r.status === 200 || r.status === 409) {
      const outcome = answer(ResultOutcomeSchema, r, 'result');
      this.leases.forget(record.jobId);
      return outcome;
    }
    if (r.status === 404) return { kind: 'unknown-job' };
    throw new MasterHttpError(r.status, `result: HTTP ${r.status} ${errorOf(r.body)}`, r.body);
  }

  /**
   * Tells the master this node is stopping (it leaves `alive` and its job is requeued at once).
   * Sent while the agent's own signal is already aborted, so it carries its own short deadline:
   * a master that does not answer must not hold up a SIGTERM.
   */
  async stopped(nodeId: string, timeoutMs = 500): Promise<void> {
    await this.ok('POST', `/nodes/${encodeURIComponent(nodeId)}/stop`, {}, [200], AbortSignal.timeout(timeoutMs));
  }

  /** Closes the connections; `now` drops requests still in flight instead of waiting for them. */
  async close(now = false): Promise<void> {
    if (now) await this.dispatcher.destroy();
    else await this.dispatcher.close();
  }
}

/** The `error` of an error answer, or '' when the body has none (a proxy's page is kept as its start). */
function errorOf(body: unknown): string {
  const e = ErrorBodySchema.safeParse(body);
  return e.success ? e.data.error : '';
}

/** The answer checked against its schema; an answer that does not fit the contract is an error naming the field. */
function answer<S extends z.ZodTypeAny>(schema: S, r: { status: number; body: unknown }, what: string): z.infer<S> {
  const parsed = schema.safeParse(r.body);
  if (parsed.success) return parsed.data;
  throw new MasterHttpError(
    r.status,
    `${what}: the master's answer does not match the API contract (${formatZodError(parsed.error).error}); are master and agent the same ffwatt version?`,
    r.body,
  );
}

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { EncodedMetrics } from './metrics-cache.ts';
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { InputError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { JobState } from '../core/types.ts';
import type { ReportModel } from '../core/report-model.ts';
import { parseMatrix } from '../matrix/index.ts';
import { authenticate, bearer, certificateNames, hashToken, newNodeToken, type Principal } from './auth.ts';
import {
  CampaignSubmitSchema,
  ClaimSchema,
  HeartbeatSchema,
  LeaseSchema,
  NodeRegistrationSchema,
  ResultSchema,
  formatZodError,
} from './api-schemas.ts';
import { JobQueue } from './queue.ts';
import { Store } from '../store/store.ts';
import { exportCampaign } from '../store/export.ts';

export interface MasterOptions {
  store: Store;
  queue: JobQueue;
  adminToken: string;
  /** May only register new nodes (docs/api.md); absent: only the admin token registers. */
  registrationToken?: string;
  log: Logger;
  tls?: { cert: string; key: string; clientCa?: string };
  /** Largest request body accepted (bytes). */
  bodyLimit?: number;
  /** The /metrics text (the exporter, cached: see CachedMetricsText). */
  metricsText?: () => Promise<string>;
  /** The same text prebuilt as plain and gzip bytes (master/metrics-cache.ts); preferred over metricsText. */
  metricsEncoded?: () => Promise<EncodedMetrics>;
  /** Serve /metrics on this app (false when it has its own listener, metrics_listen). */
  serveMetrics?: boolean;
  contentType?: string;
  reapIntervalMs?: number;
}

const REPORT_CONTENT_TYPES: Record<string, string> = {
  json: 'application/json; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
};

async function reportRenderer(format: string): Promise<(model: ReportModel) => string> {
  if (format === 'md') return (await import('../analyzers/write-md.ts')).renderMarkdown;
  if (format === 'csv') return (await import('../analyzers/write-csv.ts')).renderCsv;
  return (await import('../analyzers/write-html.ts')).renderHtml;
}

const JOB_STATES: JobState[] = ['queued', 'leased', 'running', 'succeeded', 'failed', 'canceled'];

class HttpError extends Error {
  issues?: Array<{ field: string; message: string }>;
  constructor(readonly status: number, message: string, readonly field?: string) {
    super(message);
  }
}

function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    const f = formatZodError(r.error);
    throw Object.assign(new HttpError(400, f.error, f.field), { issues: f.issues });
  }
  return r.data;
}

/** Builds the master's HTTP(S) API (`/api/v1`, docs/api.md) over a JobQueue. */
export function buildMasterApp(o: MasterOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: o.bodyLimit ?? 4 * 1024 * 1024,
    https: o.tls
      ? {
          cert: readFileSync(o.tls.cert),
          key: readFileSync(o.tls.key),
          ...(o.tls.clientCa ? { ca: readFileSync(o.tls.clientCa), requestCert: true, rejectUnauthorized: true } : {}),
        }
      : null,
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  const { store, queue } = o;

  const secrets = { adminToken: o.adminToken, registrationToken: o.registrationToken };
  const mtls = Boolean(o.tls?.clientCa);
  /** A valid credential, 401 otherwise. Checked before the body is even parsed. */
  const principals = new WeakMap<FastifyRequest, Principal>();
  const principal = (req: FastifyRequest): Principal => {
    const known = principals.get(req);
    if (known) return known;
    const p = authenticate(bearer(req.headers.authorization), secrets, (h) => store.nodeByTokenHash(h));
    if (!p) throw new HttpError(401, 'missing or invalid bearer token (send Authorization: Bearer <token>)');
    // With mTLS a node credential counts only over that node's own client certificate.
    if (p.kind === 'node' && mtls) {
      const names = certificateNames(req.raw.socket);
      if (!names.includes(p.nodeId)) {
        throw new HttpError(403, `the credential of node ${p.nodeId} is accepted only over a client certificate whose CN or subjectAltName is ${p.nodeId} (this one names ${names.join(', ') || 'nothing'})`);
      }
    }
    principals.set(req, p);
    return p;
  };
  // Authentication runs before the body is read, on every route but the public probes. The router
  // decides which route a request is (it decodes %61 and friends): matching raw URLs here let
  // `POST /%61pi/v1/campaigns` through unauthenticated. Unknown routes need a credential too.
  const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);
  app.addHook('onRequest', async (req) => {
    const route = req.routeOptions.url;
    if (route !== undefined && PUBLIC_ROUTES.has(route)) return;
    principal(req);
  });
  const requireAdmin = (req: FastifyRequest) => {
    const p = principal(req);
    if (p.kind !== 'admin') {
      throw new HttpError(403, p.kind === 'registration'
        ? 'the registration token may only call POST /api/v1/nodes/register'
        : 'this endpoint needs the admin token; a node credential may only heartbeat, claim, extend leases and post results for its own node');
    }
  };
  /** Node endpoints take only that node's own credential: not the admin token, not the registration token. */
  const actsFor = (p: Principal, nodeId: string) => {
    if (p.kind === 'registration') throw new HttpError(403, 'the registration token may only call POST /api/v1/nodes/register');
    if (p.kind === 'admin') throw new HttpError(403, `the admin token cannot act as node ${nodeId} (claims, leases and results take the node's own credential)`);
    if (p.nodeId !== nodeId) throw new HttpError(403, `the credential of node ${p.nodeId} cannot act for node ${nodeId}`);
  };

  /** Claims, leases and results: a node's own credential only, refused before the body is parsed. */
  const nodePrincipal = (req: FastifyRequest): Principal => {
    const p = principal(req);
    if (p.kind !== 'node') actsFor(p, '(any node)');
    return p;
  };

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; issues?: unknown; field?: string }, req, reply) => {
    if (err instanceof HttpError) {
      return reply.status(err.status).send({ error: err.message, ...(err.field ? { field: err.field } : {}), ...(err.issues ? { issues: err.issues } : {}) });
    }
    if (err instanceof InputError) return reply.status(400).send({ error: err.message, ...(err.details.field ? { field: err.details.field } : {}), ...(err.details.line ? { line: err.details.line } : {}) });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.status(413).send({ error: `request body larger than ${o.bodyLimit ?? 4 * 1024 * 1024} bytes` });
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.status(415).send({ error: 'send JSON (Content-Type: application/json)' });
    if (err.statusCode && err.statusCode < 500) return reply.status(err.statusCode).send({ error: `malformed request: ${err.message}` });
    o.log.error('request failed', { method: req.method, url: req.url, error: err.message });
    return reply.status(500).send({ error: 'internal error (see the master log)' });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: `no endpoint ${req.method} ${req.url}` }));

  const api = '/api/v1';

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    try {
      store.ping();
      return { ready: true };
    } catch (err) {
      return reply.status(503).send({ ready: false, error: (err as Error).message });
    }
  });
  if (o.serveMetrics !== false) {
    app.get('/metrics', async (req, reply) => {
      reply.header('content-type', o.contentType ?? 'text/plain; version=0.0.4; charset=utf-8');
      if (o.metricsEncoded) return sendEncodedMetrics(req.headers['accept-encoding'], await o.metricsEncoded(), reply);
      return reply.send(o.metricsText ? await o.metricsText() : '');
    });
  }

  app.post(`${api}/nodes/register`, async (req, reply) => {
    const p = principal(req);
    const body = parseBody(NodeRegistrationSchema, req.body);
    if (p.kind === 'node' && p.nodeId !== body.id) throw new HttpError(403, `the credential of node ${p.nodeId} cannot register node ${body.id}`);
    if (p.kind === 'registration' && mtls) {
      const names = certificateNames(req.raw.socket);
      if (!names.includes(body.id)) throw new HttpError(403, `node ${body.id} must register over a client certificate whose CN or subjectAltName is ${body.id} (this one names ${names.join(', ') || 'nothing'})`, 'id');
    }
    const token = newNodeToken();
    // An id that exists is taken over only by its own credential or the admin; the check and the
    // write are one transaction, so two registrations of a new id cannot both win.
    const taken = store.tx(() => {
      const existing = store.getNode(body.id);
      if (existing && p.kind === 'registration') return true;
      queue.registerNode(body, hashToken(token));
      return false;
    });
    if (taken) throw new HttpError(409, `node ${body.id} is already registered: re-registering it needs that node's own credential or the admin token (an operator can revoke it with DELETE /api/v1/nodes/${body.id})`, 'id');
    o.log.info('node registered', { node: body.id, hostname: body.hostname, by: p.kind });
    return reply.status(201).send({ nodeId: body.id, token });
  });

  app.delete<{ Params: { id: string } }>(`${api}/nodes/:id`, async (req) => {
    requireAdmin(req);
    const r = queue.revokeNode(req.params.id);
    if (!r.revoked) throw new HttpError(404, `unknown node ${req.params.id}`);
    o.log.warn('node revoked', { node: req.params.id, requeued: r.requeued, failed: r.failed });
    return { nodeId: req.params.id, revoked: true, requeued: r.requeued, failed: r.failed };
  });

  app.post<{ Params: { id: string } }>(`${api}/nodes/:id/heartbeat`, async (req) => {
    actsFor(principal(req), req.params.id);
    const body = parseBody(HeartbeatSchema, req.body);
    if (!queue.heartbeat(req.params.id)) throw new HttpError(404, `unknown node ${req.params.id}: register first`);
    if (body.claimsPaused !== undefined) store.setNodeClaimsPaused(req.params.id, body.claimsPaused);
    return { ok: true };
  });

  // A cleanly stopping agent says so: it leaves `alive` at once and its job is requeued.
  app.post<{ Params: { id: string } }>(`${api}/nodes/:id/stop`, async (req) => {
    actsFor(principal(req), req.params.id);
    const r = queue.nodeStopped(req.params.id);
    if (!r.known) throw new HttpError(404, `unknown node ${req.params.id}`);
    o.log.info('node stopped', { node: req.params.id, requeued: r.requeued, failed: r.failed });
    return { ok: true, requeued: r.requeued, failed: r.failed };
  });

  app.get(`${api}/nodes`, async (req) => {
    requireAdmin(req);
    return { nodes: store.listNodes().map(({ tokenHash: _t, ...n }) => n) };
  });

  app.post(`${api}/campaigns`, async (req, reply) => {
    requireAdmin(req);
    const body = parseBody(CampaignSubmitSchema, req.body);
    const plan = parseMatrix(body.matrix, body.fileName, { seed: body.seed, fleet: true });
    // Fleet mode places every cell on every hardware class unless the request or the matrix says otherwise.
    const placement = body.placement ?? plan.placement ?? 'each-class';
    const created = queue.createCampaign(plan, { nodeConstraint: body.nodeConstraint, priority: body.priority, queueClass: body.queueClass, placement });
    o.log.info('campaign created', { campaign: created.campaignId, name: plan.name, jobs: created.jobs, placement, targets: created.targets, skipped: created.skipped.length });
    return reply.status(201).send({
      campaignId: created.campaignId,
      name: plan.name,
      jobs: created.jobs,
      scenarios: plan.scenarios.length,
      seed: plan.seed,
      placement,
      targets: created.targets,
      skipped: created.skipped,
    });
  });

  app.get(`${api}/campaigns`, async (req) => {
    requireAdmin(req);
    return { campaigns: store.listCampaigns().map((c) => ({ ...c, counts: store.jobCountsByState(c.id) })) };
  });

  app.post<{ Params: { id: string } }>(`${api}/campaigns/:id/cancel`, async (req) => {
    requireAdmin(req);
    const r = queue.cancelCampaign(req.params.id);
    if (!r) throw new HttpError(404, `unknown campaign ${req.params.id}`);
    o.log.info('campaign canceled', { campaign: req.params.id, jobs: r.canceled, status: r.status });
    return { campaignId: req.params.id, ...r };
  });

  app.post<{ Params: { id: string } }>(`${api}/campaigns/:id/retry-failed`, async (req) => {
    requireAdmin(req);
    const r = queue.retryFailed(req.params.id);
    if (!r) throw new HttpError(404, `unknown campaign ${req.params.id}`);
    o.log.info('failed jobs requeued', { campaign: req.params.id, jobs: r.requeued.length });
    return { campaignId: req.params.id, requeued: r.requeued };
  });

  app.get<{ Params: { id: string } }>(`${api}/campaigns/:id`, async (req) => {
    requireAdmin(req);
    const c = store.getCampaign(req.params.id);
    if (!c) throw new HttpError(404, `unknown campaign ${req.params.id}`);
    const jobs = store.listJobs({ campaignId: c.id });
    // A canceled run is counted as canceled, never as failed.
    const perNode: Record<string, { running: string | null; done: number; failed: number; canceled: number }> = {};
    const entry = (id: string) => (perNode[id] ??= { running: null, done: 0, failed: 0, canceled: 0 });
    for (const r of store.runsOfCampaign(c.id)) {
      const n = entry(r.nodeId);
      if (r.status === 'succeeded') n.done += 1;
      else if (r.status === 'canceled') n.canceled += 1;
      else n.failed += 1;
    }
    for (const j of jobs) if (j.leaseOwner && (j.state === 'leased' || j.state === 'running')) entry(j.leaseOwner).running = j.scenario.label;
    // Per placement target (class or node; "any" with placement any): done when each target is.
    const targets: Record<string, Record<JobState, number>> = {};
    for (const j of jobs) {
      const t = (targets[j.placementTarget ?? 'any'] ??= { queued: 0, leased: 0, running: 0, succeeded: 0, failed: 0, canceled: 0 });
      t[j.state] += 1;
    }
    return { ...c, counts: store.jobCountsByState(c.id), jobs: jobs.length, nodes: perNode, targets };
  });

  app.get<{ Params: { id: string } }>(`${api}/campaigns/:id/export`, async (req) => {
    requireAdmin(req);
    const e = exportCampaign(store, req.params.id);
    if (!e) throw new HttpError(404, `unknown campaign ${req.params.id}`);
    return e;
  });

  app.get<{ Params: { id: string }; Querystring: { format?: string } }>(`${api}/campaigns/:id/report`, async (req, reply) => {
    requireAdmin(req);
    if (!store.getCampaign(req.params.id)) throw new HttpError(404, `unknown campaign ${req.params.id}`);
    const format = req.query.format ?? 'json';
    const contentType = REPORT_CONTENT_TYPES[format];
    if (!contentType) throw new HttpError(400, `format must be one of ${Object.keys(REPORT_CONTENT_TYPES).join(', ')} (got ${format})`, 'format');
    // The analyzers are loaded on first use: the queue endpoints never pay for them.
    const { summarize } = await import('../analyzers/summarize.ts');
    const model = summarize({ db: store.db, campaignId: req.params.id });
    if (format === 'json') return model;
    const render = await reportRenderer(format);
    return reply.header('content-type', contentType).send(render(model));
  });

  app.post(`${api}/jobs`, async (req, reply) => {
    requireAdmin(req);
    const body = parseBody(CampaignSubmitSchema, req.body);
    const plan = parseMatrix(body.matrix, body.fileName, { seed: body.seed, fleet: true });
    if (plan.scenarios.length !== 1) throw new HttpError(400, `POST /jobs takes a matrix with exactly one cell (got ${plan.scenarios.length}); use POST /campaigns for more`, 'matrix');
    const created = queue.createCampaign(plan, { nodeConstraint: body.nodeConstraint, priority: body.priority, queueClass: body.queueClass, placement: body.placement });
    return reply.status(201).send({ campaignId: created.campaignId, jobs: store.listJobs({ campaignId: created.campaignId }).map((j) => j.id) });
  });

  app.get<{ Querystring: { state?: string; campaign?: string; limit?: string } }>(`${api}/jobs`, async (req) => {
    requireAdmin(req);
    const state = req.query.state;
    if (state !== undefined && !JOB_STATES.includes(state as JobState)) throw new HttpError(400, `state must be one of ${JOB_STATES.join(', ')}`, 'state');
    const limit = req.query.limit === undefined ? 1000 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new HttpError(400, 'limit must be an integer from 1 to 100000', 'limit');
    // lastNode: the node of the job's latest run (the lease owner is cleared once a job ends).
    const jobs = store.listJobs({ state: state as JobState | undefined, campaignId: req.query.campaign, limit });
    return { jobs: jobs.map((j) => ({ ...j, lastNode: j.leaseOwner ?? store.lastRunNode(j.id) })) };
  });

  app.get<{ Params: { id: string } }>(`${api}/jobs/:id`, async (req) => {
    requireAdmin(req);
    const job = store.getJob(req.params.id);
    if (!job) throw new HttpError(404, `unknown job ${req.params.id}`);
    const runs = store.runAttempts(job.id);
    return { ...job, runs };
  });

  app.post<{ Params: { id: string } }>(`${api}/jobs/:id/cancel`, async (req) => {
    requireAdmin(req);
    const job = queue.cancelJob(req.params.id);
    if (!job) throw new HttpError(404, `unknown job ${req.params.id}`);
    o.log.info('job canceled', { job: job.id, campaign: job.campaignId, state: job.state, node: job.leaseOwner });
    return job;
  });

  app.post<{ Params: { id: string } }>(`${api}/jobs/:id/retry`, async (req) => {
    requireAdmin(req);
    const before = store.getJob(req.params.id);
    if (!before) throw new HttpError(404, `unknown job ${req.params.id}`);
    if (before.state !== 'failed' && before.state !== 'canceled') throw new HttpError(409, `job ${before.id} is ${before.state}; only failed or canceled jobs can be retried`);
    return queue.retryJob(req.params.id);
  });

  app.post(`${api}/jobs/claim`, async (req, reply) => {
    const p = nodePrincipal(req);
    const body = parseBody(ClaimSchema, req.body);
    actsFor(p, body.nodeId);
    if (!store.getNode(body.nodeId)) throw new HttpError(404, `unknown node ${body.nodeId}: register first`);
    queue.heartbeat(body.nodeId);
    const job = queue.claimWithCampaign(body.nodeId);
    if (!job) return reply.status(204).send();
    o.log.info('job claimed', { job: job.id, node: body.nodeId, campaign: job.campaignId, scenario: job.scenario.label, repetition: job.repetition, attempt: job.attempts });
    // The lease length lets the agent check its extension interval (no clocks compared).
    return { ...job, leaseMs: queue.opts.leaseMs };
  });

  app.post<{ Params: { id: string } }>(`${api}/jobs/:id/lease`, async (req, reply) => {
    const p = nodePrincipal(req);
    const body = parseBody(LeaseSchema, req.body);
    actsFor(p, body.nodeId);
    if (!store.getJob(req.params.id)) throw new HttpError(404, `unknown job ${req.params.id}`);
    const r = queue.extendLease(req.params.id, body.nodeId, body.attempt, body.leaseId);
    if (!r.ok) return reply.status(409).send({ error: r.canceled ? 'job canceled' : (r.reason ?? 'lease not held'), ...r });
    return r;
  });

  app.post<{ Params: { id: string } }>(`${api}/jobs/:id/result`, async (req, reply) => {
    const p = nodePrincipal(req);
    const body = parseBody(ResultSchema, req.body);
    actsFor(p, body.record.nodeId);
    if (body.record.jobId !== req.params.id) throw new HttpError(400, `record.jobId ${body.record.jobId} does not match the URL's job ${req.params.id}`, 'record.jobId');
    if (body.idle && body.idle.nodeId !== body.record.nodeId) throw new HttpError(400, 'idle.nodeId must equal record.nodeId', 'idle.nodeId');
    const outcome = queue.submitResult(body.record as never, body.idle as never, body.leaseId);
    switch (outcome.kind) {
      case 'stored':
        return reply.status(201).send(outcome);
      case 'duplicate':
        return reply.status(200).send(outcome);
      case 'stale':
        return reply.status(409).send({ error: outcome.reason, ...outcome });
      case 'unknown-job':
        return reply.status(404).send({ error: `unknown job ${req.params.id}` });
    }
  });

  const reaper = setInterval(() => {
    try {
      const r = queue.reap();
      if (r.requeued.length || r.failed.length || r.deadNodes.length) o.log.warn('reaped', r);
    } catch (err) {
      o.log.error('reaper failed', { error: (err as Error).message });
    }
  }, o.reapIntervalMs ?? 1000);
  reaper.unref();
  app.addHook('onClose', async () => clearInterval(reaper));
  return app;
}

export type { FastifyReply };

/** Answers a scrape with the prebuilt bytes: gzip when the scraper accepts it (Prometheus and VictoriaMetrics do). */
export function sendEncodedMetrics(acceptEncoding: string | string[] | undefined, m: EncodedMetrics, reply: FastifyReply): FastifyReply {
  reply.header('vary', 'accept-encoding');
  if (/\bgzip\b/.test(String(acceptEncoding ?? ''))) return reply.header('content-encoding', 'gzip').send(m.gzip);
  return reply.send(m.body);
}

import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchemaCompiler,
} from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { EncodedMetrics } from './metrics-cache.ts';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { nodeCostFigures } from '../core/node-cost.ts';
import { JOB_STATES, zeroCounts, type JobState } from '../core/contracts/lists.ts';
import type { ReportModel } from '../core/report-model.ts';
import { parseMatrix } from '../matrix/index.ts';
import { authenticate, bearer, certificateNames, hashToken, newNodeToken, type Principal } from './auth.ts';
import {
  CampaignSubmitSchema,
  ClaimSchema,
  HeartbeatSchema,
  IdParamsSchema,
  LeaseSchema,
  NodeRegistrationSchema,
  ResultSchema,
} from '../core/contracts/index.ts';
import { UNKNOWN_JOB, type JobQueue } from './queue.ts';
import type { Store } from '../store/store.ts';
import { exportCampaign } from '../store/export.ts';
import { GroupCommit } from '../store/group-commit.ts';
import { ClaimWaiters, parseClaimWait } from './claim-waiters.ts';

export interface MasterOptions {
  store: Store;
  queue: JobQueue;
  adminToken: string;
  /** May only register new nodes (docs/api.md); absent: only the admin token registers. */
  registrationToken?: string;
  /** Fastify's logger (pino) is the master's log: JSON lines, or text (master/log.ts). */
  log: FastifyBaseLogger;
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
  /** Longest long-poll claim (`wait_s`) accepted, seconds (docs/api.md). */
  maxClaimWaitS?: number;
}

const REPORT_CONTENT_TYPES = {
  json: 'application/json; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
} as const;
type ReportFormat = keyof typeof REPORT_CONTENT_TYPES;
const REPORT_FORMATS = Object.keys(REPORT_CONTENT_TYPES) as [ReportFormat, ...ReportFormat[]];

/** `?format=` of GET /campaigns/:id/report. */
const ReportQuerySchema = z.object({
  format: z
    .enum(REPORT_FORMATS, {
      errorMap: (_i, ctx) => ({ message: `must be one of ${REPORT_FORMATS.join(', ')} (got ${String(ctx.data)})` }),
    })
    .default('json'),
});

/** `?state=&campaign=&limit=` of GET /jobs. */
const JobsQuerySchema = z.object({
  state: z.enum(JOB_STATES, { errorMap: () => ({ message: `must be one of ${JOB_STATES.join(', ')}` }) }).optional(),
  campaign: z.string().optional(),
  limit: z.coerce
    .number({ invalid_type_error: 'must be an integer from 1 to 100000' })
    .int('must be an integer from 1 to 100000')
    .min(1, 'must be an integer from 1 to 100000')
    .max(100_000, 'must be an integer from 1 to 100000')
    .default(1000),
});

async function reportRenderer(format: Exclude<ReportFormat, 'json'>): Promise<(model: ReportModel) => string> {
  if (format === 'md') return (await import('../analyzers/write-md.ts')).renderMarkdown;
  if (format === 'csv') return (await import('../analyzers/write-csv.ts')).renderCsv;
  return (await import('../analyzers/write-html.ts')).renderHtml;
}

class HttpError extends Error {
  issues?: Array<{ field: string; message: string }>;
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/**
 * Route schemas are zod schemas (fastify-type-provider-zod's types); a request without a body is
 * checked as `{}`, as before the schemas moved onto the routes.
 */
const zodValidator: FastifySchemaCompiler<z.ZodTypeAny> =
  ({ schema, httpPart }) =>
  (data) => {
    const r = schema.safeParse(httpPart === 'body' ? (data ?? {}) : data);
    return r.success ? { value: r.data } : { error: r.error };
  };

/** A zod failure on a route, as the 400 answer: the first field at fault names itself ("record.energy.grossJ"). */
function validationAnswer(
  err: z.ZodError,
  part: string | undefined,
): { error: string; field: string; issues: Array<{ field: string; message: string }> } {
  const issues = err.issues.map((i) => ({
    field: i.path.join('.') || (part && part !== 'body' ? part : '(body)'),
    message: i.message,
  }));
  const first = issues[0];
  return { error: `invalid field ${first.field}: ${first.message}`, field: first.field, issues };
}

/** Builds the master's HTTP(S) API (`/api/v1`, docs/api.md) over a JobQueue. */
export function buildMasterApp(o: MasterOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: o.log,
    // Requests are logged by the routes that change something (claims, results, cancels), with ids.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimit ?? 4 * 1024 * 1024,
    https: o.tls
      ? {
          cert: readFileSync(o.tls.cert),
          key: readFileSync(o.tls.key),
          ...(o.tls.clientCa ? { ca: readFileSync(o.tls.clientCa), requestCert: true, rejectUnauthorized: true } : {}),
        }
      : null,
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  app.setValidatorCompiler(zodValidator);
  app.setSerializerCompiler(serializerCompiler);
  const { store, queue } = o;
  const log = o.log;
  // Claims, results, lease extensions and heartbeats commit in groups, one fsync per event-loop
  // turn (store/group-commit.ts); long-poll claims wait for a job to become queued.
  let waiters: ClaimWaiters | null = null;
  const commits = new GroupCommit(store.db, () => waiters?.wake());
  waiters = new ClaimWaiters(store, queue, commits);

  const secrets = { adminToken: o.adminToken, registrationToken: o.registrationToken };
  const mtls = Boolean(o.tls?.clientCa);
  /** A valid credential, 401 otherwise. Checked before the body is even parsed. */
  const principals = new WeakMap<FastifyRequest, Principal>();
  const principal = (req: FastifyRequest): Principal => {
    const known = principals.get(req);
    if (known) return known;
    const p = authenticate(bearer(req.headers.authorization), secrets, (h) => queue.nodeByTokenHash(h));
    if (!p) throw new HttpError(401, 'missing or invalid bearer token (send Authorization: Bearer <token>)');
    // With mTLS a node credential counts only over that node's own client certificate.
    if (p.kind === 'node' && mtls) {
      const names = certificateNames(req.raw.socket);
      if (!names.includes(p.nodeId)) {
        throw new HttpError(
          403,
          `the credential of node ${p.nodeId} is accepted only over a client certificate whose CN or subjectAltName is ${p.nodeId} (this one names ${names.join(', ') || 'nothing'})`,
        );
      }
    }
    principals.set(req, p);
    return p;
  };
  // Authentication runs before the body is read, on every route but the public probes. The router
  // decides which route a request is (it decodes %61 and friends): matching raw URLs here let
  // `POST /%61pi/v1/campaigns` through unauthenticated. Unknown routes need a credential too.
  const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);
  // Hooks and role checks take Fastify's callback form: an async function costs a promise and a
  // microtask turn per request on every route.
  app.addHook('onRequest', (req, _reply, done) => {
    const route = req.routeOptions.url;
    if (route !== undefined && PUBLIC_ROUTES.has(route)) return done();
    try {
      principal(req);
    } catch (err) {
      return done(err as Error);
    }
    done();
  });
  const requireAdmin = (req: FastifyRequest) => {
    const p = principal(req);
    if (p.kind !== 'admin') {
      throw new HttpError(
        403,
        p.kind === 'registration'
          ? 'the registration token may only call POST /api/v1/nodes/register'
          : 'this endpoint needs the admin token; a node credential may only heartbeat, claim, extend leases and post results for its own node',
      );
    }
  };
  /** Node endpoints take only that node's own credential: not the admin token, not the registration token. */
  const actsFor = (p: Principal, nodeId: string) => {
    if (p.kind === 'registration')
      throw new HttpError(403, 'the registration token may only call POST /api/v1/nodes/register');
    if (p.kind === 'admin')
      throw new HttpError(
        403,
        `the admin token cannot act as node ${nodeId} (claims, leases and results take the node's own credential)`,
      );
    if (p.nodeId !== nodeId)
      throw new HttpError(403, `the credential of node ${p.nodeId} cannot act for node ${nodeId}`);
  };

  /** Claims, leases and results: a node's own credential only, refused before the body is parsed. */
  const nodePrincipal = (req: FastifyRequest): Principal => {
    const p = principal(req);
    if (p.kind !== 'node') actsFor(p, '(any node)');
    return p;
  };

  app.setErrorHandler(
    (
      err: Error & {
        statusCode?: number;
        code?: string;
        issues?: unknown;
        field?: string;
        validation?: unknown;
        validationContext?: string;
      },
      req,
      reply,
    ) => {
      if (err instanceof z.ZodError)
        return reply.status(400).send(validationAnswer(err, (err as { validationContext?: string }).validationContext));
      if (err instanceof HttpError) {
        return reply.status(err.status).send({
          error: err.message,
          ...(err.field ? { field: err.field } : {}),
          ...(err.issues ? { issues: err.issues } : {}),
        });
      }
      if (err instanceof InputError)
        return reply.status(400).send({
          error: err.message,
          ...(err.details.field ? { field: err.details.field } : {}),
          ...(err.details.line ? { line: err.details.line } : {}),
        });
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        return reply.status(413).send({ error: `request body larger than ${o.bodyLimit ?? 4 * 1024 * 1024} bytes` });
      if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
        return reply.status(415).send({ error: 'send JSON (Content-Type: application/json)' });
      if (err.statusCode && err.statusCode < 500)
        return reply.status(err.statusCode).send({ error: `malformed request: ${err.message}` });
      log.error({ method: req.method, url: req.url, error: err.message }, 'request failed');
      return reply.status(500).send({ error: 'internal error (see the master log)' });
    },
  );
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: `no endpoint ${req.method} ${req.url}` }));

  const api = '/api/v1';
  // Role checks run before the body is validated: a caller without the right credential learns
  // nothing about the body it sent. Checks that need a body field (the node a claim is for) run in
  // the handler, on the validated body.
  const check =
    (fn: (req: FastifyRequest) => unknown) =>
    (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
      try {
        fn(req);
      } catch (err) {
        return done(err as Error);
      }
      done();
    };
  // An operator reads what the nodes said: heartbeats and lease extensions kept in memory are written first.
  const admin = {
    preValidation: check((req) => {
      requireAdmin(req);
      queue.writePending();
    }),
  };
  const node = { preValidation: check(nodePrincipal) };
  const params = { params: IdParamsSchema };
  const routes = app.withTypeProvider<ZodTypeProvider>();

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

  routes.post(`${api}/nodes/register`, { schema: { body: NodeRegistrationSchema } }, async (req, reply) => {
    const p = principal(req);
    const body = req.body;
    nodeCostFigures(body.labels, 'labels'); // a bad cost.* label would misprice every run of the node: 400
    if (p.kind === 'node' && p.nodeId !== body.id)
      throw new HttpError(403, `the credential of node ${p.nodeId} cannot register node ${body.id}`);
    if (p.kind === 'registration' && mtls) {
      const names = certificateNames(req.raw.socket);
      if (!names.includes(body.id))
        throw new HttpError(
          403,
          `node ${body.id} must register over a client certificate whose CN or subjectAltName is ${body.id} (this one names ${names.join(', ') || 'nothing'})`,
          'id',
        );
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
    if (taken)
      throw new HttpError(
        409,
        `node ${body.id} is already registered: re-registering it needs that node's own credential or the admin token (an operator can revoke it with DELETE /api/v1/nodes/${body.id})`,
        'id',
      );
    log.info({ node: body.id, hostname: body.hostname, by: p.kind }, 'node registered');
    return reply.status(201).send({ nodeId: body.id, token });
  });

  routes.delete(`${api}/nodes/:id`, { ...admin, schema: params }, async (req) => {
    const r = queue.revokeNode(req.params.id);
    if (!r.revoked) throw new HttpError(404, `unknown node ${req.params.id}`);
    waiters!.release(req.params.id);
    log.warn({ node: req.params.id, requeued: r.requeued, failed: r.failed }, 'node revoked');
    return { nodeId: req.params.id, revoked: true, requeued: r.requeued, failed: r.failed };
  });

  const actsForParam = {
    preValidation: check((req) => actsFor(principal(req), (req.params as { id: string }).id)),
  };
  routes.post(
    `${api}/nodes/:id/heartbeat`,
    { ...actsForParam, schema: { ...params, body: HeartbeatSchema } },
    (req, reply) => {
      // The credential is this node's own (actsFor), so the node exists. Written with the next
      // reap, at most a second later (JobQueue.heartbeatLater): no commit per heartbeat.
      queue.heartbeatLater(req.params.id, req.body.claimsPaused);
      return reply.send({ ok: true });
    },
  );

  // A cleanly stopping agent says so: it leaves `alive` at once and its job is requeued.
  routes.post(`${api}/nodes/:id/stop`, { ...actsForParam, schema: params }, async (req) => {
    const r = await commits.run(() => queue.nodeStopped(req.params.id));
    if (!r.known) throw new HttpError(404, `unknown node ${req.params.id}`);
    waiters!.release(req.params.id);
    log.info({ node: req.params.id, requeued: r.requeued, failed: r.failed }, 'node stopped');
    return { ok: true, requeued: r.requeued, failed: r.failed };
  });

  routes.get(`${api}/nodes`, admin, async () => {
    return { nodes: store.listNodes().map(({ tokenHash: _t, ...n }) => n) };
  });

  routes.post(`${api}/campaigns`, { ...admin, schema: { body: CampaignSubmitSchema } }, async (req, reply) => {
    const body = req.body;
    const plan = parseMatrix(body.matrix, body.fileName, { seed: body.seed, fleet: true });
    // Fleet mode places every cell on every hardware class unless the request or the matrix says otherwise.
    const placement = body.placement ?? plan.placement ?? 'each-class';
    const created = queue.createCampaign(plan, {
      nodeConstraint: body.nodeConstraint,
      priority: body.priority,
      queueClass: body.queueClass,
      placement,
    });
    log.info(
      {
        campaign: created.campaignId,
        name: plan.name,
        jobs: created.jobs,
        placement,
        targets: created.targets,
        skipped: created.skipped.length,
      },
      'campaign created',
    );
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

  routes.get(`${api}/campaigns`, admin, async () => {
    return { campaigns: store.listCampaigns().map((c) => ({ ...c, counts: store.jobCountsByState(c.id) })) };
  });

  routes.post(`${api}/campaigns/:id/cancel`, { ...admin, schema: params }, async (req) => {
    const r = queue.cancelCampaign(req.params.id);
    if (!r) throw new HttpError(404, `unknown campaign ${req.params.id}`);
    log.info({ campaign: req.params.id, jobs: r.canceled, status: r.status }, 'campaign canceled');
    return { campaignId: req.params.id, ...r };
  });

  routes.post(`${api}/campaigns/:id/retry-failed`, { ...admin, schema: params }, async (req) => {
    const r = queue.retryFailed(req.params.id);
    if (!r) throw new HttpError(404, `unknown campaign ${req.params.id}`);
    log.info({ campaign: req.params.id, jobs: r.requeued.length }, 'failed jobs requeued');
    return { campaignId: req.params.id, requeued: r.requeued };
  });

  routes.get(`${api}/campaigns/:id`, { ...admin, schema: params }, async (req) => {
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
    for (const j of jobs)
      if (j.leaseOwner && (j.state === 'leased' || j.state === 'running'))
        entry(j.leaseOwner).running = j.scenario.label;
    // Per placement target (class or node; "any" with placement any): done when each target is.
    const targets: Record<string, Record<JobState, number>> = {};
    for (const j of jobs) {
      const t = (targets[j.placementTarget ?? 'any'] ??= zeroCounts(JOB_STATES));
      t[j.state] += 1;
    }
    return { ...c, counts: store.jobCountsByState(c.id), jobs: jobs.length, nodes: perNode, targets };
  });

  routes.get(`${api}/campaigns/:id/export`, { ...admin, schema: params }, async (req) => {
    const e = exportCampaign(store, req.params.id);
    if (!e) throw new HttpError(404, `unknown campaign ${req.params.id}`);
    return e;
  });

  routes.get(
    `${api}/campaigns/:id/report`,
    { ...admin, schema: { ...params, querystring: ReportQuerySchema } },
    async (req, reply) => {
      if (!store.getCampaign(req.params.id)) throw new HttpError(404, `unknown campaign ${req.params.id}`);
      const format = req.query.format;
      const contentType = REPORT_CONTENT_TYPES[format];
      // The analyzers are loaded on first use: the queue endpoints never pay for them.
      const { summarize } = await import('../analyzers/summarize.ts');
      const model = summarize({ db: store.db, campaignId: req.params.id });
      if (format === 'json') return model;
      const render = await reportRenderer(format);
      return reply.header('content-type', contentType).send(render(model));
    },
  );

  routes.post(`${api}/jobs`, { ...admin, schema: { body: CampaignSubmitSchema } }, async (req, reply) => {
    const body = req.body;
    const plan = parseMatrix(body.matrix, body.fileName, { seed: body.seed, fleet: true });
    if (plan.scenarios.length !== 1)
      throw new HttpError(
        400,
        `POST /jobs takes a matrix with exactly one cell (got ${plan.scenarios.length}); use POST /campaigns for more`,
        'matrix',
      );
    const created = queue.createCampaign(plan, {
      nodeConstraint: body.nodeConstraint,
      priority: body.priority,
      queueClass: body.queueClass,
      placement: body.placement,
    });
    return reply.status(201).send({
      campaignId: created.campaignId,
      jobs: store.listJobs({ campaignId: created.campaignId }).map((j) => j.id),
    });
  });

  routes.get(`${api}/jobs`, { ...admin, schema: { querystring: JobsQuerySchema } }, async (req) => {
    const { state, limit } = req.query;
    // lastNode: the node of the job's latest run (the lease owner is cleared once a job ends).
    const jobs = store.listJobs({ state, campaignId: req.query.campaign, limit });
    return { jobs: jobs.map((j) => ({ ...j, lastNode: j.leaseOwner ?? store.lastRunNode(j.id) })) };
  });

  routes.get(`${api}/jobs/:id`, { ...admin, schema: params }, async (req) => {
    const job = store.getJob(req.params.id);
    if (!job) throw new HttpError(404, `unknown job ${req.params.id}`);
    const runs = store.runAttempts(job.id);
    return { ...job, runs };
  });

  routes.post(`${api}/jobs/:id/cancel`, { ...admin, schema: params }, async (req) => {
    const job = queue.cancelJob(req.params.id);
    if (!job) throw new HttpError(404, `unknown job ${req.params.id}`);
    log.info({ job: job.id, campaign: job.campaignId, state: job.state, node: job.leaseOwner }, 'job canceled');
    return job;
  });

  routes.post(`${api}/jobs/:id/retry`, { ...admin, schema: params }, async (req) => {
    const before = store.getJob(req.params.id);
    if (!before) throw new HttpError(404, `unknown job ${req.params.id}`);
    if (before.state !== 'failed' && before.state !== 'canceled')
      throw new HttpError(409, `job ${before.id} is ${before.state}; only failed or canceled jobs can be retried`);
    return queue.retryJob(req.params.id);
  });

  routes.post(
    `${api}/jobs/claim`,
    { ...node, schema: { body: ClaimSchema, querystring: z.object({ wait_s: z.string().optional() }) } },
    async (req, reply) => {
      const waitS = parseClaimWait(req.query.wait_s, o.maxClaimWaitS);
      if (typeof waitS === 'string') throw new HttpError(400, waitS, 'wait_s');
      const body = req.body;
      actsFor(principal(req), body.nodeId);
      let versionAtClaim = 0;
      let known = true;
      let job = await commits.run(() => {
        // The claim counts as contact (written with the heartbeats, within a second).
        if (!queue.claimContact(body.nodeId)) return ((known = false), null);
        const claimed = queue.claimWithCampaign(body.nodeId);
        versionAtClaim = store.queuedVersion;
        return claimed;
      });
      if (!known) throw new HttpError(404, `unknown node ${body.nodeId}: register first`);
      // Long poll: held until a job this node may run is queued, the wait ends or the master stops.
      if (!job && waitS > 0) {
        job = await waiters!.wait(body.nodeId, waitS * 1000, reply.raw, versionAtClaim);
        // A held claim counts as contact when it ends (not durable, like a heartbeat).
        if (!job) queue.heartbeatLater(body.nodeId);
      }
      // A claim released because the master stops also closes its connection: left open, the idle
      // keep-alive connection would hold the server's close for Fastify's keep-alive timeout (72 s).
      if (!job && waiters!.stopping) reply.header('connection', 'close');
      if (!job) return reply.status(204).send();
      log.info(
        {
          job: job.id,
          node: body.nodeId,
          campaign: job.campaignId,
          scenario: job.scenario.label,
          repetition: job.repetition,
          attempt: job.attempts,
        },
        'job claimed',
      );
      // The lease length lets the agent check its extension interval (no clocks compared).
      return { ...job, leaseMs: queue.opts.leaseMs };
    },
  );

  routes.post(`${api}/jobs/:id/lease`, { ...node, schema: { ...params, body: LeaseSchema } }, async (req, reply) => {
    const body = req.body;
    actsFor(principal(req), body.nodeId);
    // Checked on the job's current row and answered at once; written with the next reap, fenced
    // again there (JobQueue.extendLeaseLater). After a crash the master renews every lease in flight.
    const r = queue.extendLeaseLater(req.params.id, body.nodeId, body.attempt, body.leaseId);
    if (!r.ok && r.reason === UNKNOWN_JOB) throw new HttpError(404, `unknown job ${req.params.id}`);
    if (!r.ok)
      return reply.status(409).send({ error: r.canceled ? 'job canceled' : (r.reason ?? 'lease not held'), ...r });
    return r;
  });

  routes.post(`${api}/jobs/:id/result`, { ...node, schema: { ...params, body: ResultSchema } }, async (req, reply) => {
    const body = req.body;
    actsFor(principal(req), body.record.nodeId);
    if (body.record.jobId !== req.params.id)
      throw new HttpError(
        400,
        `record.jobId ${body.record.jobId} does not match the URL's job ${req.params.id}`,
        'record.jobId',
      );
    if (body.idle && body.idle.nodeId !== body.record.nodeId)
      throw new HttpError(400, 'idle.nodeId must equal record.nodeId', 'idle.nodeId');
    // Answered only after the group's commit (synchronous=FULL): a 201 is on disk.
    const outcome = await commits.run(() => queue.submitResult(body.record, body.idle, body.leaseId));
    const r = body.record;
    log.info(
      {
        job: r.jobId,
        node: r.nodeId,
        attempt: r.attempt,
        status: r.status,
        outcome: outcome.kind,
        ...(outcome.kind === 'stale' ? { reason: outcome.reason } : {}),
      },
      'job result',
    );
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
      if (r.requeued.length || r.failed.length || r.deadNodes.length) log.warn(r, 'reaped');
    } catch (err) {
      log.error({ error: (err as Error).message }, 'reaper failed');
    }
    waiters!.wake(); // an expired lease or a dead node's job is queued again
  }, o.reapIntervalMs ?? 1000);
  reaper.unref();
  // Admin writes (new campaigns, retries) run outside the group commit: wake after each answer.
  app.addHook('onResponse', (_req, _reply, done) => {
    waiters!.wake();
    done();
  });
  // Held claims are answered 204 before the server waits for requests in flight.
  app.addHook('preClose', async () => waiters!.close());
  app.addHook('onClose', async () => {
    clearInterval(reaper);
    commits.flush();
    queue.writePending();
    log.info({ ...commits.stats }, 'group commit');
  });
  return app;
}

export type { FastifyReply };

/** Answers a scrape with the prebuilt bytes: gzip when the scraper accepts it (Prometheus and VictoriaMetrics do). */
export function sendEncodedMetrics(
  acceptEncoding: string | string[] | undefined,
  m: EncodedMetrics,
  reply: FastifyReply,
): FastifyReply {
  reply.header('vary', 'accept-encoding');
  if (/\bgzip\b/.test(String(acceptEncoding ?? ''))) return reply.header('content-encoding', 'gzip').send(m.gzip);
  return reply.send(m.body);
}

/**
 * The floor of the master benchmarks: Fastify (as the master builds it: JSON bodies, the same
 * body limit, no request logging) answering the master's routes with fixed answers, no
 * authentication, validation or SQL. bench/master-load.ts --server floor drives it with the same
 * agents, so its CPU per request is what HTTP and JSON alone cost on this core.
 * Usage: node --import tsx bench/lib/floor-server.ts PORT
 */
import Fastify from 'fastify';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: floor-server.ts PORT\n');
  process.exit(2);
}
const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });
let jobs = 0;
const api = '/api/v1';
app.get('/readyz', async () => ({ ready: true }));
app.post(`${api}/campaigns`, async (_req, reply) => reply.status(201).send({ campaignId: 'floor', jobs: 0 }));
app.post(`${api}/nodes/register`, async (req, reply) =>
  reply.status(201).send({ nodeId: (req.body as { id: string }).id, token: 'floor-token' }),
);
app.post(`${api}/nodes/:id/heartbeat`, async () => ({ ok: true }));
app.post(`${api}/jobs/claim`, async (req) => {
  jobs++;
  return {
    id: `floor-${jobs}`,
    campaignId: 'floor',
    attempts: 1,
    leaseId: `lease-${jobs}`,
    leaseOwner: (req.body as { nodeId: string }).nodeId,
    leaseMs: 120_000,
  };
});
app.post(`${api}/jobs/:id/lease`, async () => ({ ok: true }));
app.post(`${api}/jobs/:id/result`, async (_req, reply) => reply.status(201).send({ kind: 'stored' }));
await app.listen({ port, host: '127.0.0.1' });
// Stops as the master does on SIGTERM (closed, exit code 0), so the bench sees it exit.
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));

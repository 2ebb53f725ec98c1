import { createServer, type Server } from 'node:http';
import { listenHost, listenPort } from '../master/config.ts';

/** Serves an exporter's text on GET /metrics (and /healthz) at HOST:PORT. */
export function serveMetrics(listen: string, text: () => Promise<string>, contentType: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      text().then(
        (body) => res.writeHead(200, { 'content-type': contentType }).end(body),
        (err) => res.writeHead(500).end(String(err)),
      );
    } else if (req.url === '/healthz') res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    else res.writeHead(404).end('not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort(listen), listenHost(listen), () => resolve(server));
  });
}

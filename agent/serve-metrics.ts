import { createServer, type Server } from 'node:http';
import { InputError } from '../core/errors.ts';
import { listenHost, listenPort } from '../core/net.ts';

/**
 * Serves an exporter's text on GET /metrics (and /healthz) at HOST:PORT. An address in use
 * (a second agent on one host) is bad input naming `flag` and a free address to give instead.
 */
export function serveMetrics(
  listen: string,
  text: () => Promise<string>,
  contentType: string,
  flag = '--metrics-listen',
): Promise<Server> {
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
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        const port = listenPort(listen);
        // A flag that takes an address gets a free-looking one to try; fixed addresses (run --metrics) cannot move.
        const fix = flag.startsWith('--metrics-listen')
          ? `give this one its own, e.g. ${flag} ${listenHost(listen)}:${port + 2}`
          : 'stop the agent or run that holds it (ss -ltnp shows which), or run without --metrics';
        reject(
          new InputError(
            `${flag} ${listen}: the address is in use (another ffwatt agent or exporter on this host?): ${fix}`,
            { field: flag },
          ),
        );
      } else reject(err);
    });
    server.listen(listenPort(listen), listenHost(listen), () => resolve(server));
  });
}

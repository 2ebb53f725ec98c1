import { createServer, isIP } from 'node:net';

/** A TCP port that was free on 127.0.0.1 a moment ago (bind to it soon: another process may take it). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export function listenHost(listen: string): string {
  const i = listen.lastIndexOf(':');
  return listen.slice(0, i).replace(/^\[|\]$/g, '');
}

export function listenPort(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

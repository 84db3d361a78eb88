/**
 * A real loopback HTTP upstream for tool-call tests: records every request it
 * receives (method, raw URL, headers, body, whether the client went away) and
 * answers through a per-test handler (default: 200 `{"ok":true}`).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** The raw request target (path and query) as received. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** Raw header pairs in arrival order (to check for duplicates). */
  rawHeaders: string[];
  body: string;
  /** The client's port: equal ports on two requests mean a reused keep-alive connection. */
  remotePort: number;
}

export type UpstreamHandler = (req: RecordedRequest, res: ServerResponse, raw: IncomingMessage) => void | Promise<void>;

export interface RecordingUpstream {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Replaces the handler for the next requests. */
  handle(h: UpstreamHandler): void;
  /** Resolves when `n` requests have arrived. */
  waitForRequests(n: number): Promise<void>;
  /** Resolves when an upstream request's connection closed before it was answered. */
  waitForAbort(): Promise<void>;
  close(): Promise<void>;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function startUpstream(initial?: UpstreamHandler): Promise<RecordingUpstream> {
  let handler: UpstreamHandler = initial ?? ((_r, res) => json(res, 200, { ok: true }));
  const requests: RecordedRequest[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const abortWaiters: Array<() => void> = [];
  let aborts = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://upstream');
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
        remotePort: req.socket.remotePort ?? 0,
      };
      requests.push(rec);
      for (const w of [...waiters]) {
        if (requests.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      res.once('close', () => {
        if (!res.writableFinished) {
          aborts++;
          for (const w of abortWaiters.splice(0)) w();
        }
      });
      void Promise.resolve(handler(rec, res, req)).catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { error: String(err) });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    handle: (h) => {
      handler = h;
    },
    waitForRequests: (n) =>
      requests.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    waitForAbort: () => (aborts > 0 ? Promise.resolve() : new Promise<void>((resolve) => abortWaiters.push(resolve))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Real loopback upstreams for the passthrough tests (port 0, closed by the test):
 * - echo: records every request it receives (method, raw path, raw headers, body bytes)
 *   and answers with JSON; special paths:
 *     /slow-headers/<ms>   answers after <ms>
 *     /stall-body/<ms>     sends headers, one chunk, then stays silent for <ms>
 *     /chunked/<bytes>     chunked body of <bytes> (no Content-Length)
 *     /sized/<bytes>       body of <bytes> with Content-Length
 *     /status/<code>       empty answer with that status
 * - WebSocket echo: echoes text/binary, records handshake headers, can pick a subprotocol,
 *   reject with 403, or close with a given code (`close:<code>:<reason>` message).
 * - black hole: a TCP server that accepts and never answers.
 */
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Recorded {
  method: string;
  url: string;
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
  body: string;
}

export interface EchoUpstream {
  url: string;
  port: number;
  requests: Recorded[];
  /** Number of TCP connections accepted. */
  connections(): number;
  close(): Promise<void>;
}

function headerNames(raw: string[]): string[] {
  return raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

/** Every value of one header (case-insensitive) as received, duplicates kept. */
export function valuesOf(r: Recorded, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2)
    if (r.rawHeaders[i]!.toLowerCase() === name) out.push(r.rawHeaders[i + 1]!);
  return out;
}

export function namesOf(r: Recorded): string[] {
  return headerNames(r.rawHeaders);
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const requests: Recorded[] = [];
  let conns = 0;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const rec: Recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders,
        headers: req.headers,
        bodyBytes: body.length,
        body: body.length <= 4096 ? body.toString() : '',
      };
      requests.push(rec);
      respond(req, res, rec);
    });
  });
  server.on('connection', (s: net.Socket) => {
    conns++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    connections: () => conns,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function respond(req: IncomingMessage, res: http.ServerResponse, rec: Recorded): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.split('/');
  const n = Number(parts[parts.length - 1]);
  if (url.pathname.startsWith('/slow-headers/')) {
    const t = setTimeout(() => json(res, rec), n);
    res.on('close', () => clearTimeout(t));
    return;
  }
  if (url.pathname.startsWith('/stall-body/')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first chunk;');
    const t = setTimeout(() => res.end('late'), n);
    res.on('close', () => clearTimeout(t));
    return;
  }
  if (url.pathname.startsWith('/chunked/')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    writeBytes(res, n, true);
    return;
  }
  if (url.pathname.startsWith('/sized/')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
    writeBytes(res, n, req.method !== 'HEAD');
    return;
  }
  if (url.pathname.startsWith('/status/')) {
    res.writeHead(n, { 'x-upstream': 'yes' });
    res.end();
    return;
  }
  if (url.pathname === '/hop-response') {
    res.writeHead(200, {
      connection: 'x-hop-secret, keep-alive',
      'x-hop-secret': 'leak',
      'x-kept': 'ok',
      'content-length': 2,
    });
    res.end('ok');
    return;
  }
  json(res, rec);
}

function json(res: http.ServerResponse, rec: Recorded): void {
  const body = JSON.stringify({ method: rec.method, url: rec.url, headers: rec.headers, bodyBytes: rec.bodyBytes });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Writes `n` bytes in 64 KiB chunks with backpressure. */
function writeBytes(res: http.ServerResponse, n: number, body: boolean): void {
  if (!body) {
    res.end();
    return;
  }
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let left = n;
  const pump = () => {
    while (left > 0) {
      const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= c.length;
      if (!res.write(c)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

export interface WsUpstream {
  url: string;
  port: number;
  /** Handshake requests received (headers and url). */
  handshakes: Array<{ url: string; headers: http.IncomingHttpHeaders }>;
  /** Close events seen by the upstream side: code and reason. */
  closes: Array<{ code: number; reason: string }>;
  /** Messages received by the upstream. */
  received: Array<{ data: Buffer; isBinary: boolean }>;
  pings: Buffer[];
  clients: Set<WebSocket>;
  close(): Promise<void>;
}

export interface WsUpstreamOptions {
  /** Subprotocol the upstream picks from the offer (default: the last one offered, to prove it is the upstream's choice). */
  pick?: (offered: Set<string>) => string | false;
  /** Answer the handshake with this HTTP status instead of upgrading. */
  rejectStatus?: number;
}

export async function startWsUpstream(opts: WsUpstreamOptions = {}): Promise<WsUpstream> {
  const handshakes: WsUpstream['handshakes'] = [];
  const closes: WsUpstream['closes'] = [];
  const received: WsUpstream['received'] = [];
  const pings: Buffer[] = [];
  const clients = new Set<WebSocket>();
  const server = http.createServer((_req, res) => {
    // A plain (non-upgrade) request to a WebSocket endpoint.
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    res.end('upgrade required');
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 256 * 1024 * 1024,
    handleProtocols: (offered) => (opts.pick ? opts.pick(offered) : ([...offered].pop() ?? false)),
  });
  server.on('upgrade', (req, socket, head) => {
    handshakes.push({ url: req.url ?? '', headers: req.headers });
    if (opts.rejectStatus) {
      const body = JSON.stringify({ error: 'upstream says no' });
      socket.end(
        `HTTP/1.1 ${opts.rejectStatus} ${http.STATUS_CODES[opts.rejectStatus]}\r\ncontent-type: application/json\r\nx-upstream-reason: denied\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      clients.add(ws);
      ws.on('ping', (d: Buffer) => pings.push(d));
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        received.push({ data, isBinary });
        const text = isBinary ? '' : data.toString();
        if (text.startsWith('close:')) {
          const [, code, reason] = text.split(':');
          ws.close(Number(code), reason);
          return;
        }
        if (text === 'ping-me') {
          ws.ping(Buffer.from('from-upstream'));
          return;
        }
        ws.send(data, { binary: isBinary });
      });
      ws.on('close', (code: number, reason: Buffer) => {
        clients.delete(ws);
        closes.push({ code, reason: reason.toString() });
      });
    });
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    handshakes,
    closes,
    received,
    pings,
    clients,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        wss.close();
        server.close(() => r());
      }),
  };
}

export interface BlackHole {
  url: string;
  port: number;
  accepted(): number;
  close(): Promise<void>;
}

/** Accepts TCP connections and never writes a byte. */
export async function startBlackHole(): Promise<BlackHole> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A port that had a listener a moment ago and now refuses connections. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

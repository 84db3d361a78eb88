/**
 * WebSocket passthrough (`forward_websockets = true`), with the fixes of
 * ref-02 §8.19–20 (PRODUCT §3.14):
 *
 * 1. The caller's handshake is validated first (GET → else 405; version 13
 *    and a well-formed key → else 400), before anything is sent upstream.
 * 2. The upstream handshake runs first, bounded by `connect_timeout_seconds`
 *    (504 when it passes), with the filtered caller headers, the credential
 *    (header or query) and the caller's offered subprotocols.
 * 3. A non-101 upstream answer (401, 403, 404 …) is relayed to the caller as
 *    an HTTP response with its status, headers and body; a network failure
 *    answers 502.
 * 4. Only then is the caller's 101 sent, echoing the subprotocol the
 *    upstream chose (and the upstream's own 101 headers such as Set-Cookie).
 * 5. Frames are relayed both ways unchanged in kind (text stays text),
 *    ping/pong included; a close code and reason are relayed to the other
 *    side; an upstream failure closes the caller with 1014 (bad gateway), a
 *    vanished caller closes the upstream with 1001.
 * 6. `websocket_max_message_bytes` bounds each message on both legs (1009),
 *    `websocket_idle_timeout_seconds` closes a pair with no message in either
 *    direction (1001), and permessage-deflate is never negotiated.
 */
import http, { type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { AtiError, writeSocketErrorResponse } from '../../sdk/plugin.js';
import type { Logger } from '../../sdk/plugin.js';
import type { RouteRequestContext } from '../../sdk/plugin.js';
import { redact, upstreamError } from './errors.js';
import { connectionTokens, filterRequestHeaders, HOP_BY_HOP } from './headers.js';
import { upstreamTarget, type Decision, type RouteRuntime } from './route.js';

/** Close codes a peer may send (RFC 6455 §7.4; 1004–1006 and 1015 are reserved). */
function sendableCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)
  );
}

/** Upgrade: websocket and a Connection header with the `upgrade` token (ref-02 §2.1). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const up = req.headers.upgrade;
  if (typeof up !== 'string' || up.trim().toLowerCase() !== 'websocket') return false;
  const conn = req.headers.connection;
  if (conn === undefined) return false;
  return (Array.isArray(conn) ? conn.join(',') : conn)
    .toLowerCase()
    .split(',')
    .some((t) => t.trim() === 'upgrade');
}

const KEY = /^[+/0-9A-Za-z]{22}==$/;

/** The caller's handshake problems, answered before the upstream is contacted. */
function clientHandshakeError(req: IncomingMessage): { error: AtiError; headers?: Array<[string, string]> } | null {
  if (req.method !== 'GET') {
    return {
      error: new AtiError('ATI_ERR_METHOD_NOT_ALLOWED', 'websocket upgrade requires GET'),
      headers: [['Allow', 'GET']],
    };
  }
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !KEY.test(key.trim())) {
    return { error: new AtiError('ATI_ERR_BAD_REQUEST', 'websocket handshake: missing or invalid Sec-WebSocket-Key') };
  }
  if (req.headers['sec-websocket-version']?.trim() !== '13') {
    return {
      error: new AtiError(
        'ATI_ERR_BAD_REQUEST',
        'websocket handshake: missing or invalid Sec-WebSocket-Version (13 required)',
      ),
      headers: [['Sec-WebSocket-Version', '13']],
    };
  }
  return null;
}

/** All `Sec-WebSocket-Protocol` values, split on `,`, trimmed, empties dropped, order kept. */
function offeredProtocols(req: IncomingMessage): string[] {
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'sec-websocket-protocol') continue;
    for (const p of raw[i + 1]!.split(',')) {
      const t = p.trim();
      if (t) out.push(t);
    }
  }
  return out;
}

/** The ws library writes its own Sec-WebSocket-* handshake headers and the protocol list. */
const dropWsHandshakeHeader = (lower: string): boolean => lower.startsWith('sec-websocket-');

/** Upstream 101 headers the caller does not get (the ws server writes its own handshake). */
const NOT_RELAYED_101: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'content-length', 'date']);

interface UpstreamChoice {
  protocol: string;
  /** `Name: value` lines added to the caller's 101. */
  lines: string[];
}

const CHOICE = Symbol('ati.passthrough.wsChoice');
type Tagged = IncomingMessage & { [CHOICE]?: UpstreamChoice };

/** Above this many buffered bytes towards one side, reading from the other side pauses. */
const HIGH_WATER = 1024 * 1024;

/** The WebSocket side of one route: a noServer ws server for callers and the live pairs. */
export class WebSocketRelay {
  private readonly wss: WebSocketServer;
  private readonly live = new Set<RelayPair>();

  constructor(private readonly rt: RouteRuntime) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: rt.spec.wsMaxMessageBytes,
      autoPong: false,
      handleProtocols: (_offered, req) => (req as Tagged)[CHOICE]?.protocol || false,
    });
    this.wss.on('headers', (headers: string[], req: IncomingMessage) => {
      const choice = (req as Tagged)[CHOICE];
      if (choice) headers.push(...choice.lines);
    });
  }

  /** Open pairs (for tests and close). */
  get size(): number {
    return this.live.size;
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: RouteRequestContext, d: Decision): void {
    const extra = ctx.responseHeaders ?? [];
    const bad = clientHandshakeError(req);
    if (bad) {
      writeSocketErrorResponse(socket, bad.error, { headers: [...extra, ...(bad.headers ?? [])] });
      return;
    }
    const rt = this.rt;
    const spec = rt.spec;
    const inj = rt.injection;
    const logger = ctx.logger;
    const target = upstreamTarget(rt, d, ctx.query);
    const url = spec.wsOrigin + target;
    const logUrl = spec.wsOrigin + spec.basePath + d.upstreamPath;

    const flat = filterRequestHeaders(
      req.rawHeaders,
      d.forwardAuth ? inj.forwardAuthDrop : inj.drop,
      req.headers.connection,
      [],
      dropWsHandshakeHeader,
    );
    const headers: Record<string, string | string[]> = {};
    const put = (name: string, value: string, replace: boolean) => {
      const k = name.toLowerCase();
      const prev = headers[k];
      headers[k] = replace || prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    };
    for (let i = 0; i < flat.length; i += 2) put(flat[i]!, flat[i + 1]!, false);
    put('host', spec.hostHeader, true);
    const add = d.forwardAuth ? inj.forwardAuthHeaders : inj.headers;
    for (let i = 0; i < add.length; i += 2) put(add[i]!, add[i + 1]!, true);

    const upstream = new WebSocket(url, offeredProtocols(req), {
      headers,
      perMessageDeflate: false,
      maxPayload: spec.wsMaxMessageBytes,
      autoPong: false,
      followRedirects: false,
    });
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let upgradeLines: string[] = [];
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      socket.off('close', onClientGone);
      return true;
    };
    const onClientGone = () => {
      if (settle()) upstream.terminate();
    };
    const fail = (err: AtiError, cause: string) => {
      logger.warn(
        { route: spec.name, error: redact(cause, inj.redactor), upstream: logUrl },
        'upstream websocket handshake failed',
      );
      writeSocketErrorResponse(socket, err, { headers: extra });
    };
    socket.on('error', () => socket.destroy());
    socket.once('close', onClientGone);
    if (spec.connectTimeoutMs > 0) {
      timer = setTimeout(() => {
        if (!settle()) return;
        upstream.terminate();
        const s = spec.connectTimeoutMs / 1000;
        fail(
          new AtiError(
            'ATI_ERR_UPSTREAM_TIMEOUT',
            `gateway timeout: upstream websocket handshake timed out after ${s}s`,
          ),
          `handshake timed out after ${s}s`,
        );
      }, spec.connectTimeoutMs);
    }
    upstream.on('error', (err: Error) => {
      if (!settle()) return; // after the handshake the pair handles errors; after a relay/timeout they are expected
      fail(
        upstreamError(err, { connect: spec.connectTimeoutMs, headers: spec.connectTimeoutMs }, inj.redactor),
        err.message,
      );
    });
    upstream.once('unexpected-response', (upReq: http.ClientRequest, upRes: IncomingMessage) => {
      if (!settle()) {
        upReq.destroy();
        return;
      }
      logger.info(
        { route: spec.name, status: upRes.statusCode, upstream: logUrl },
        'upstream refused websocket upgrade; relaying its answer',
      );
      relayHttpAnswer(socket, upRes, extra, () => upstream.terminate());
    });
    upstream.once('upgrade', (upRes: IncomingMessage) => {
      upgradeLines = relayable101Headers(upRes.rawHeaders);
    });
    upstream.once('open', () => {
      if (!settle()) {
        upstream.terminate();
        return;
      }
      (req as Tagged)[CHOICE] = {
        protocol: upstream.protocol,
        lines: [...upgradeLines, ...extra.map(([k, v]) => `${k}: ${v}`)],
      };
      this.wss.handleUpgrade(req, socket, head, (client) => {
        const pair = new RelayPair(client, upstream, spec.wsIdleTimeoutMs, logger, spec.name, () =>
          this.live.delete(pair),
        );
        this.live.add(pair);
      });
    });
  }

  /** Closes every open pair with 1012 (service restart): the route was removed or changed by a reload and its generation's drain deadline passed. */
  close(): void {
    for (const p of this.live) p.shutdown(1012, 'route reconfigured');
    this.live.clear();
  }
}

/** Upstream 101 headers worth giving the caller (cookies, custom headers), as `Name: value` lines. */
function relayable101Headers(raw: readonly string[]): string[] {
  const lines: string[] = [];
  const named = connectionTokens(headerValue(raw, 'connection'));
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (NOT_RELAYED_101.has(lower) || lower.startsWith('sec-websocket-') || named?.has(lower)) continue;
    lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  return lines;
}

function headerValue(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === lowerName) return raw[i + 1];
  return undefined;
}

/** Writes an upstream's non-101 answer to the caller's raw socket, then closes it. */
function relayHttpAnswer(
  socket: Duplex,
  res: IncomingMessage,
  extra: ReadonlyArray<readonly [string, string]>,
  done: () => void,
): void {
  const status = res.statusCode ?? 502;
  const raw = res.rawHeaders;
  const named = connectionTokens(headerValue(raw, 'connection'));
  let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.includes(lower) || named?.has(lower)) continue;
    head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  for (const [k, v] of extra) head += `${k}: ${v}\r\n`;
  // Without Content-Length the body is delimited by the close (node already decoded any chunking).
  head += 'Connection: close\r\n\r\n';
  socket.write(head);
  res.on('error', () => socket.destroy());
  res.once('end', done);
  res.pipe(socket);
}

/** One relayed connection: caller ↔ upstream. */
class RelayPair {
  private clientError: Error | null = null;
  private upstreamError: Error | null = null;
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly client: WebSocket,
    private readonly upstream: WebSocket,
    private readonly idleMs: number,
    private readonly logger: Logger,
    private readonly route: string,
    private readonly onEnd: () => void,
  ) {
    client.on('message', (data: RawData, isBinary: boolean) => this.forward(client, upstream, data, isBinary));
    upstream.on('message', (data: RawData, isBinary: boolean) => this.forward(upstream, client, data, isBinary));
    client.on('ping', (d: Buffer) => this.control(upstream, 'ping', d));
    upstream.on('ping', (d: Buffer) => this.control(client, 'ping', d));
    client.on('pong', (d: Buffer) => this.control(upstream, 'pong', d));
    upstream.on('pong', (d: Buffer) => this.control(client, 'pong', d));
    client.on('error', (err: Error) => (this.clientError = err));
    upstream.on('error', (err: Error) => (this.upstreamError = err));
    client.on('close', (code: number, reason: Buffer) => this.closed('client', code, reason));
    upstream.on('close', (code: number, reason: Buffer) => this.closed('upstream', code, reason));
    if (idleMs > 0) this.armIdle(idleMs);
  }

  private forward(from: WebSocket, to: WebSocket, data: RawData, isBinary: boolean): void {
    this.lastActivity = Date.now();
    if (to.readyState !== WebSocket.OPEN) return;
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength;
    if (to.bufferedAmount + size > HIGH_WATER && !from.isPaused) {
      from.pause();
      to.send(data, { binary: isBinary }, () => {
        if (from.readyState === WebSocket.OPEN) from.resume();
      });
      return;
    }
    to.send(data, { binary: isBinary });
  }

  private control(to: WebSocket, kind: 'ping' | 'pong', data: Buffer): void {
    this.lastActivity = Date.now();
    if (to.readyState !== WebSocket.OPEN) return;
    if (kind === 'ping') to.ping(data);
    else to.pong(data);
  }

  private closed(side: 'client' | 'upstream', code: number, reason: Buffer): void {
    const other = side === 'client' ? this.upstream : this.client;
    if (other.readyState === WebSocket.OPEN) {
      const failed = side === 'client' ? this.clientError : this.upstreamError;
      if (failed || code === 1006 || (code !== 1005 && !sendableCode(code))) {
        const [c, r] = side === 'upstream' ? [1014, 'upstream connection failed'] : [1001, 'client went away'];
        if (failed) this.logger.debug({ route: this.route, side, error: failed.message }, 'websocket leg failed');
        other.close(c, r);
      } else if (code === 1005) {
        other.close();
      } else {
        other.close(code, reason);
      }
    }
    if (this.client.readyState === WebSocket.CLOSED && this.upstream.readyState === WebSocket.CLOSED) this.end();
    else if (!this.ended) {
      // The other side normally answers the close at once; make sure both legs end even if it never does.
      const t = setTimeout(() => {
        this.client.terminate();
        this.upstream.terminate();
        this.end();
      }, 5_000);
      t.unref();
      other.once('close', () => {
        clearTimeout(t);
        this.end();
      });
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.idleTimer);
    this.onEnd();
  }

  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      const idle = Date.now() - this.lastActivity;
      if (idle >= this.idleMs) {
        this.logger.info({ route: this.route, idle_ms: idle }, 'websocket closed: idle timeout');
        this.shutdown(1001, 'idle timeout');
      } else {
        this.armIdle(this.idleMs - idle);
      }
    }, ms);
    this.idleTimer.unref();
  }

  /** Closes both legs with the same code (idle timeout, route retired). */
  shutdown(code: number, reason: string): void {
    clearTimeout(this.idleTimer);
    for (const ws of [this.client, this.upstream]) {
      if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    }
  }
}

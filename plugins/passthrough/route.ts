/**
 * The HTTP request path of a passthrough route: rewrite → deny → forward-auth
 * decision → request cap → headers → one undici `dispatch` whose handler
 * writes straight into the ServerResponse.
 *
 * Why not @fastify/reply-from / @fastify/http-proxy: both are Fastify
 * plugins that bind an upstream to routes registered before `listen`, and
 * Fastify freezes its route table then, so a reload could not add, remove or
 * retarget a route without restarting the server. Routes here live in the
 * immutable generation (matched by core/generation's RouteTable) and each
 * owns its undici Pool, its timeouts and caps; a reload swaps them with the
 * generation and keeps unchanged pools warm. They would also put Fastify's
 * request/reply objects, hooks and content-type parsing on a path that must
 * stream raw bytes, and neither implements the reference's rules (deny and
 * forward-auth globs on the rewritten path, the 413/502/504 and Content-Length
 * rules of PRODUCT §3.13, upstream-first WebSocket handshakes). We use undici,
 * the engine underneath them, directly: `Pool.dispatch` with a handler object
 * and no intermediate streams on the response side.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { AtiError, sendErrorResponse } from '../../sdk/plugin.js';
import type { Logger } from '../../sdk/plugin.js';
import type { RouteRequestContext } from '../../sdk/plugin.js';
import { queryWithCredential, type Injection } from './credentials.js';
import { errorKind, redact, TEXT, upstreamError } from './errors.js';
import { dropContentLength, filterRequestHeaders, filterResponseHeaders } from './headers.js';
import { refuseBody, RequestBodyLimit } from './limits.js';
import { upstreamPathOf, type RouteSpec } from './route-spec.js';

/** What the request path needs from a provisioned route. */
export interface RouteRuntime {
  readonly spec: RouteSpec;
  readonly injection: Injection;
  readonly pool: Pool;
  readonly logger: Logger;
}

/** Statuses and methods whose responses never carry a body. */
function bodyExpected(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304 && status >= 200;
}

/** Per-route decisions for one request, shared by the HTTP and WebSocket paths. */
export interface Decision {
  upstreamPath: string;
  forwardAuth: boolean;
}

/**
 * Rewrites the path and applies deny and credential checks. Returns the
 * decision, or the error to answer with (the upstream is not contacted).
 */
export function decide(rt: RouteRuntime, ctx: RouteRequestContext): Decision | AtiError {
  const spec = rt.spec;
  const upstreamPath = upstreamPathOf(spec, ctx.path);
  if (spec.deny !== null && spec.deny.matches(upstreamPath)) {
    ctx.logger.info({ route: spec.name, path: upstreamPath }, 'passthrough denied by deny_paths');
    return new AtiError('ATI_ERR_PATH_DENIED', TEXT.denied);
  }
  const forwardAuth = spec.forwardAuth !== null && spec.forwardAuth.matches(upstreamPath);
  const inj = rt.injection;
  const problem = inj.extrasProblem ?? (forwardAuth ? null : inj.authProblem);
  if (problem) {
    ctx.logger.warn(
      { route: spec.name, code: problem.code, error: problem.message },
      'passthrough route cannot inject its credential',
    );
    return problem;
  }
  return { upstreamPath, forwardAuth };
}

/** The upstream path plus query (with the query credential unless forward-auth). */
export function upstreamTarget(rt: RouteRuntime, d: Decision, callerQuery: string): string {
  let query = callerQuery;
  const cred = rt.injection.query;
  if (cred !== null && !d.forwardAuth) query = queryWithCredential(query, cred);
  const path = rt.spec.basePath + d.upstreamPath;
  return query === '' ? path : `${path}?${query}`;
}

/**
 * Forwards one HTTP request. `bodiless` is set for upgrade requests relayed as
 * plain HTTP: their socket carries no parsed body, so framing headers are dropped.
 */
export function forwardHttp(
  rt: RouteRuntime,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteRequestContext,
  bodiless = false,
): void {
  const d = decide(rt, ctx);
  if (d instanceof AtiError) {
    sendErrorResponse(res, d);
    return;
  }
  const spec = rt.spec;
  const inj = rt.injection;
  const ex = new Exchange(rt, req, res, ctx.logger, d.upstreamPath);

  let body: Readable | null = null;
  if (!bodiless) {
    const cap = spec.maxRequestBytes;
    if (req.headers['transfer-encoding'] !== undefined) {
      if (cap > 0) {
        body = req.pipe(new RequestBodyLimit(cap, () => ex.requestTooLarge()));
      } else {
        body = req;
      }
    } else {
      const cl = req.headers['content-length'];
      if (cl !== undefined) {
        const n = Number(cl);
        if (cap > 0 && n > cap) {
          ctx.logger.warn(
            { route: spec.name, content_length: n, cap },
            'request rejected: content-length exceeds max_request_bytes',
          );
          ex.finish();
          refuseBody(req, res, new AtiError('ATI_ERR_BODY_TOO_LARGE', TEXT.requestTooLarge));
          return;
        }
        if (n > 0) body = req;
      }
    }
  }

  const headers = filterRequestHeaders(
    req.rawHeaders,
    d.forwardAuth ? inj.forwardAuthDrop : inj.drop,
    req.headers.connection,
    [],
  );
  if (bodiless) dropContentLength(headers);
  headers.push('host', spec.hostHeader);
  const add = d.forwardAuth ? inj.forwardAuthHeaders : inj.headers;
  for (let i = 0; i < add.length; i++) headers.push(add[i]!);

  const opts: Dispatcher.DispatchOptions = {
    path: upstreamTarget(rt, d, ctx.query),
    method: req.method as Dispatcher.HttpMethod,
    headers,
    body,
  };
  rt.pool.dispatch(opts, ex);
}

/** First body chunks up to this size are sent in one write with the response head. */
const SINGLE_WRITE_MAX = 16 * 1024;

const EXCHANGE = Symbol('ati.passthrough.exchange');
type ExchangeResponse = ServerResponse & { [EXCHANGE]?: Exchange };

/**
 * One shared listener instead of a closure per request. It stays attached after the exchange
 * is done (removing it costs more than the `done` check it then runs once, at close).
 */
function onResponseClose(this: ServerResponse): void {
  (this as ExchangeResponse)[EXCHANGE]?.clientClosed();
}

/**
 * One request/response exchange: an undici (legacy, callback) dispatch
 * handler. undici calls it with raw header buffers and body chunks, and it
 * writes them straight to the caller's response with backpressure.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private done = false;
  private tooLarge = false;
  /** Counting response bytes (no Content-Length and a cap). */
  private counting = false;
  private received = 0;
  private drainListener: (() => void) | null = null;
  /** The response head is stored but not yet on the wire (node sends it with the first write). */
  private headPending = false;
  /** The upstream's Content-Length (-1 when absent). */
  private contentLength = -1;

  constructor(
    private readonly rt: RouteRuntime,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly logger: Logger,
    private readonly upstreamPath: string,
  ) {
    (res as ExchangeResponse)[EXCHANGE] = this;
    res.on('close', onResponseClose);
  }

  /** The caller went away (or the response finished): stop the upstream request if it still runs. */
  clientClosed(): void {
    if (!this.done) {
      this.done = true;
      this.abortUpstream?.(new Error('client closed the connection'));
    }
  }

  /** Marks the exchange finished without contacting upstream (answered locally). */
  finish(): void {
    this.done = true;
  }

  /** Called by the request-body limiter when a chunked upload crosses the cap. */
  requestTooLarge(): void {
    this.tooLarge = true;
    this.logger.warn(
      { route: this.rt.spec.name, cap: this.rt.spec.maxRequestBytes },
      'request rejected: body exceeds max_request_bytes',
    );
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.done) {
      abort(new Error('client closed the connection'));
      return;
    }
    this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.done) return false;
    if (statusCode < 200) return true; // 1xx informational: wait for the final answer
    this.resumeUpstream = resume;
    const head = filterResponseHeaders(rawHeaders);
    const spec = this.rt.spec;
    const cap = spec.maxResponseBytes;
    if (cap > 0 && bodyExpected(this.req.method ?? 'GET', statusCode)) {
      if (head.contentLength > cap) {
        this.logger.warn(
          { route: spec.name, content_length: head.contentLength, cap, path: this.upstreamPath },
          'response rejected: content-length exceeds max_response_bytes',
        );
        this.done = true;
        sendErrorResponse(this.res, new AtiError('ATI_ERR_RESPONSE_TOO_LARGE', TEXT.responseTooLarge));
        this.abortUpstream?.(new Error('response exceeds max_response_bytes'));
        return false;
      }
      if (head.contentLength < 0) this.counting = true;
    }
    this.res.writeHead(statusCode, head.headers);
    this.headPending = true;
    this.contentLength = head.contentLength;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    if (this.counting) {
      this.received += chunk.length;
      if (this.received > this.rt.spec.maxResponseBytes) {
        this.logger.warn(
          { route: this.rt.spec.name, cap: this.rt.spec.maxResponseBytes, path: this.upstreamPath },
          'response cut: body exceeds max_response_bytes',
        );
        this.done = true;
        this.abortUpstream?.(new Error('response exceeds max_response_bytes'));
        this.res.destroy();
        return false;
      }
    }
    let ok: boolean;
    if (this.headPending && chunk.length === this.contentLength && chunk.length <= SINGLE_WRITE_MAX) {
      // A small body in one chunk: node sends a latin1 string together with the stored head in
      // one write(2); a Buffer goes out as a writev of head + body. latin1 maps bytes 1:1, so the
      // body is unchanged. Only for a whole body: on a 64 KiB response the same path for a partial
      // first chunk cost ~50% more CPU per request (an extra write and heap strings to collect).
      ok = this.res.write(chunk.toString('latin1'), 'latin1');
      // node corks the socket for the first write and uncorks on the next tick, where end() adds
      // an empty chunk and the pair goes out as writev(2). Uncorking now sends head + body with
      // one write(2); end() then has nothing left to write.
      this.res.socket?.uncork();
    } else {
      ok = this.res.write(chunk);
    }
    this.headPending = false;
    if (ok) return true;
    this.drainListener ??= () => this.resumeUpstream?.();
    this.res.once('drain', this.drainListener);
    return false;
  }

  onComplete(): void {
    if (this.done) return;
    this.done = true;
    this.res.end();
  }

  onError(err: Error): void {
    if (this.done) return;
    this.done = true;
    const spec = this.rt.spec;
    if (this.tooLarge) {
      refuseBody(this.req, this.res, new AtiError('ATI_ERR_BODY_TOO_LARGE', TEXT.requestTooLarge));
      return;
    }
    const redactor = this.rt.injection.redactor;
    const fields = {
      route: spec.name,
      error: redact(err.message, redactor),
      error_kind: errorKind(err),
      upstream_url: spec.origin + spec.basePath + this.upstreamPath,
    };
    if (this.res.headersSent) {
      this.logger.warn(fields, 'upstream response aborted');
      this.res.destroy();
      return;
    }
    this.logger.warn(fields, 'upstream request failed');
    sendErrorResponse(
      this.res,
      upstreamError(err, { connect: spec.connectTimeoutMs, headers: spec.headersTimeoutMs }, redactor),
    );
  }
}

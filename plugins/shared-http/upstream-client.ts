/**
 * The connection pool of one http/openapi provider: an undici Agent (one pool
 * per upstream origin, keep-alive) created at provision and closed with the
 * provider, so a generation that reuses the provider reuses its connections
 * (the reference builds a client per call). Timeouts: connect
 * (`connect_timeout_seconds`), response headers and idle body reads
 * (`timeout_seconds`), and the whole body read (`timeout_seconds` again); the
 * client's abort signal ends the request at any point.
 * Redirects are followed up to 10 hops (like the reference) but only within
 * the same origin: the request carries the provider's credential (a header,
 * a query parameter), which must never be sent to another host. A cross-origin
 * redirect is returned as the answer (so it becomes an upstream error).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import { AtiError } from '../../sdk/plugin.js';
import type { Logger } from '../../sdk/plugin.js';
import { ssrfLookup, type SsrfMode } from './ssrf.js';

export interface UpstreamClientOptions {
  /** 0 = no connect timeout. */
  connectTimeoutMs: number;
  /** Response-headers and idle-body timeout; 0 = none. */
  readTimeoutMs: number;
  /** 0 = unlimited. */
  maxResponseBytes: number;
  ssrf: SsrfMode;
  logger: Logger;
}

export interface UpstreamRequest {
  /** `https://host:port` */
  origin: string;
  /** Path and query, starting with `/`. */
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body decoded as UTF-8. */
  text: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/** `Upstream API error: …` (ATI_ERR_UPSTREAM, 502), the prefix the reference's /call uses. */
export function upstreamError(summary: string, upstreamStatus?: number): AtiError {
  const details: Record<string, unknown> = { upstream_error: summary };
  if (upstreamStatus !== undefined) details['upstream_status'] = upstreamStatus;
  return new AtiError('ATI_ERR_UPSTREAM', `Upstream API error: ${summary}`, { details });
}

export function upstreamTimeout(what: string): AtiError {
  return new AtiError('ATI_ERR_UPSTREAM_TIMEOUT', `Upstream API error: ${what}`, { details: { upstream_error: what } });
}

export class UpstreamClient {
  private readonly agent: Agent;

  constructor(private readonly opts: UpstreamClientOptions) {
    const connect: Record<string, unknown> = { timeout: opts.connectTimeoutMs };
    if (opts.ssrf !== 'off') connect['lookup'] = ssrfLookup(opts.ssrf, opts.logger);
    this.agent = new Agent({
      connect,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.readTimeoutMs,
      bodyTimeout: opts.readTimeoutMs,
    });
  }

  /**
   * Sends one request (following same-origin redirects) and reads the whole
   * body, bounded by max_response_bytes and by the read timeout. `signal` ends
   * it early: a TimeoutError reason (AbortSignal.timeout) counts as a timeout,
   * anything else as the client going away. Errors: ATI_ERR_UPSTREAM_TIMEOUT
   * (504) for timeouts, ATI_ERR_UPSTREAM (502) otherwise; `scrub` removes
   * secrets from transport error texts.
   */
  async send(
    req: UpstreamRequest,
    signal: AbortSignal | undefined,
    scrub: (s: string) => string,
  ): Promise<UpstreamResponse> {
    try {
      let method = req.method;
      let path = req.path;
      let body = req.body;
      let headers = req.headers;
      for (let hop = 0; ; hop++) {
        const res = await this.agent.request({
          origin: req.origin,
          path,
          method: method as Dispatcher.HttpMethod,
          headers,
          body: body ?? null,
          signal: signal ?? null,
        });
        const location = res.headers['location'];
        if (!REDIRECTS.has(res.statusCode) || typeof location !== 'string' || hop >= MAX_REDIRECTS) {
          const text = await this.readBody(res);
          return { status: res.statusCode, headers: res.headers, text };
        }
        const next = new URL(location, req.origin + path);
        if (next.origin !== req.origin) {
          const text = await this.readBody(res);
          this.opts.logger.warn(
            { status: res.statusCode, to_origin: next.origin },
            'upstream redirect to another origin not followed (it would carry the credential)',
          );
          return { status: res.statusCode, headers: res.headers, text };
        }
        await res.body.dump();
        // 303, and 301/302 after a POST, continue as GET without a body (what browsers and reqwest do).
        if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
          headers = { ...headers };
          delete headers['content-type'];
        }
        path = next.pathname + next.search;
      }
    } catch (err) {
      throw this.mapError(err, signal, scrub);
    }
  }

  private async readBody(res: Dispatcher.ResponseData): Promise<string> {
    const cap = this.opts.maxResponseBytes;
    // Destroying the body early (cap, deadline) makes undici emit an abort error; it is handled below.
    res.body.on('error', () => undefined);
    const declared = Number(res.headers['content-length']);
    if (cap > 0 && Number.isFinite(declared) && declared > cap) {
      res.body.destroy();
      throw upstreamError(`response of ${declared} bytes is larger than max_response_bytes (${cap})`, res.statusCode);
    }
    // bodyTimeout bounds each pause; this bounds the whole body (a slow trickle).
    let late = false;
    const ms = this.opts.readTimeoutMs;
    const timer = ms > 0 ? setTimeout(() => ((late = true), res.body.destroy()), ms) : undefined;
    const chunks: Buffer[] = [];
    let total = 0;
    const body = res.body;
    try {
      // Events rather than `for await`: no async iterator and no promise per chunk on every call.
      await new Promise<void>((resolve, reject) => {
        let ended = false;
        body.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (cap > 0 && total > cap) {
            reject(upstreamError(`response is larger than max_response_bytes (${cap})`, res.statusCode));
            body.destroy();
            return;
          }
          chunks.push(chunk);
        });
        body.once('end', () => {
          ended = true;
          resolve();
        });
        body.once('error', reject);
        body.once('close', () => {
          if (!ended) reject(new Error('response body ended early'));
        });
      });
    } catch (err) {
      if (late) throw upstreamTimeout(`response body not complete within ${ms / 1000}s`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, total).toString('utf8');
  }

  private mapError(err: unknown, signal: AbortSignal | undefined, scrub: (s: string) => string): AtiError {
    if (err instanceof AtiError) return err;
    const secs = (ms: number) => `${ms / 1000}s`;
    if (signal?.aborted) {
      const reason = signal.reason as { name?: string } | undefined;
      if (reason?.name === 'TimeoutError') return upstreamTimeout('request timed out');
      return new AtiError('ATI_ERR_UPSTREAM', 'request aborted: the client disconnected', {
        details: { aborted: true },
      });
    }
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    const code = e.code ?? e.cause?.code;
    if (code === 'UND_ERR_CONNECT_TIMEOUT')
      return upstreamTimeout(`connect timed out after ${secs(this.opts.connectTimeoutMs)}`);
    if (code === 'UND_ERR_HEADERS_TIMEOUT')
      return upstreamTimeout(`no response within ${secs(this.opts.readTimeoutMs)}`);
    if (code === 'UND_ERR_BODY_TIMEOUT')
      return upstreamTimeout(`response body stalled for ${secs(this.opts.readTimeoutMs)}`);
    if (code === 'ATI_SSRF_BLOCKED') return new AtiError('ATI_ERR_FORBIDDEN', scrub(e.message));
    const message = e.cause?.message && e.cause.message !== e.message ? `${e.message}: ${e.cause.message}` : e.message;
    return upstreamError(`HTTP request failed: ${scrub(message)}`);
  }

  /** Closes idle connections and waits briefly for in-flight ones, then destroys what is left. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 2_000);
      timer.unref();
    });
    await Promise.race([this.agent.close().catch(() => undefined), deadline]);
    clearTimeout(timer);
    if (!this.agent.destroyed) await this.agent.destroy().catch(() => undefined);
  }
}

// @ts-check
/**
 * The connection pool of one provider: a keep-alive `http.Agent` (or
 * `https.Agent`) for the GraphQL endpoint, created at provision and destroyed
 * in `close()`. Node's own http client keeps the plugin free of runtime
 * dependencies, so it installs into an ATI directory by copying the folder.
 *
 * Every request is bounded three ways: the caller's abort signal (the client
 * went away, or the host's deadline passed), the provider's
 * `timeout_seconds`, and `max_response_bytes`.
 */
import http from 'node:http';
import https from 'node:https';
import { upstreamError, upstreamTimeout } from './errors.js';

/**
 * @typedef {{ status: number, contentType: string, text: string }} TransportResponse
 * @typedef {{ timeoutMs: number, maxResponseBytes: number }} TransportOptions
 */

export class GraphqlTransport {
  /**
   * @param {URL} endpoint
   * @param {TransportOptions} opts
   */
  constructor(endpoint, opts) {
    this.endpoint = endpoint;
    this.opts = opts;
    const secure = endpoint.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 32 }) : new http.Agent({ keepAlive: true, maxSockets: 32 });
    this.request = secure ? https.request : http.request;
    this.closed = false;
  }

  /**
   * POSTs one JSON body to the endpoint and reads the whole answer.
   * @param {string} body
   * @param {Record<string, string>} headers
   * @param {AbortSignal} signal aborted when the caller goes away
   * @param {(text: string) => string} scrub removes secrets from texts that may end up in an error
   * @returns {Promise<TransportResponse>}
   */
  post(body, headers, signal, scrub) {
    if (this.closed) return Promise.reject(upstreamError('the provider was closed (a reload replaced it); retry the call'));
    if (signal.aborted) return Promise.reject(upstreamError('request aborted: the client disconnected', { aborted: true }));
    return new Promise((resolve, reject) => {
      /** @type {import('node:http').ClientRequest} */
      let req;
      try {
        req = this.request(this.endpoint, {
          method: 'POST',
          agent: this.agent,
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        });
      } catch (err) {
        // e.g. a header value with a character HTTP forbids (from extra_headers or the keyring)
        reject(upstreamError(`HTTP request failed: ${scrub(/** @type {Error} */ (err).message)}`));
        return;
      }
      let settled = false;
      /** @param {Error | undefined} err @param {TransportResponse} [res] */
      const finish = (err, res) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(/** @type {TransportResponse} */ (res));
      };
      const timer = setTimeout(() => {
        finish(upstreamTimeout(`no complete answer within timeout_seconds (${this.opts.timeoutMs / 1000}s)`));
        req.destroy();
      }, this.opts.timeoutMs);
      const onAbort = () => {
        finish(upstreamError('request aborted: the client disconnected', { aborted: true }));
        req.destroy();
      };
      signal.addEventListener('abort', onAbort, { once: true });

      req.on('error', (err) => finish(upstreamError(`HTTP request failed: ${scrub(err.message)}`)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const cap = this.opts.maxResponseBytes;
        /** @type {Buffer[]} */
        const chunks = [];
        let total = 0;
        res.on('data', (/** @type {Buffer} */ chunk) => {
          total += chunk.length;
          if (total > cap) {
            finish(upstreamError(`response is larger than max_response_bytes (${cap})`, { upstream_status: status }));
            req.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => finish(upstreamError(`reading the response failed: ${scrub(err.message)}`, { upstream_status: status })));
        res.on('end', () =>
          finish(undefined, {
            status,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks, total).toString('utf8'),
          }),
        );
      });
      req.end(body);
    });
  }

  /** Destroys every pooled socket; calls still running fail with an upstream error. */
  close() {
    this.closed = true;
    this.agent.destroy();
  }
}

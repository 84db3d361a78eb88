/** A raw HTTP client for the passthrough tests: exact paths and headers, chunked uploads, truncated answers. */
import http from 'node:http';

export interface ClientResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** Set when the response stream ended abnormally (cut, reset). */
  error?: string;
  /** ms from request start to the response headers. */
  headersAfterMs: number;
  json<T = Record<string, unknown>>(): T;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  /** Body sent with Content-Length (unless `chunked`). */
  body?: Buffer | string;
  /** Send the body with Transfer-Encoding: chunked in 64 KiB pieces. */
  chunked?: boolean;
}

export function send(base: string, path: string, opts: SendOptions = {}): Promise<ClientResponse> {
  const u = new URL(base);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...opts.headers };
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    if (body && opts.chunked) headers['transfer-encoding'] = 'chunked';
    else if (body) headers['content-length'] = String(body.length);
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers, agent: false },
      (res) => {
        const headersAfterMs = performance.now() - t0;
        const chunks: Buffer[] = [];
        let error: string | undefined;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('aborted', () => (error = 'aborted'));
        res.on('error', (e) => (error = e.message));
        res.on('close', () => {
          const buf = Buffer.concat(chunks);
          if (!res.complete && !error) error = 'incomplete';
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: buf,
            headersAfterMs,
            ...(error ? { error } : {}),
            json: <T>() => JSON.parse(buf.toString()) as T,
          });
        });
      },
    );
    req.on('error', reject);
    if (body && opts.chunked) {
      let off = 0;
      const pump = () => {
        while (off < body.length) {
          const piece = body.subarray(off, off + 64 * 1024);
          off += piece.length;
          if (!req.write(piece)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    } else {
      req.end(body);
    }
  });
}

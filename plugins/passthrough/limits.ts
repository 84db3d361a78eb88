/**
 * Body caps of the passthrough route.
 *
 * Requests (`max_request_bytes`): a Content-Length above the cap is refused
 * with 413 before the upstream is contacted; a body without Content-Length
 * (chunked) is counted while it streams and the chunk that would cross the
 * cap is never sent — the upstream request is aborted and the caller gets 413
 * too (the reference answered 502 after a partial upload).
 *
 * Responses (`max_response_bytes`; the reference always dropped Content-Length and
 * cut silently): an upstream Content-Length
 * above the cap → 502 before any byte is relayed; within the cap the header is
 * kept; only bodies without Content-Length are counted, and a stream that
 * crosses the cap is cut (and logged).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { errorJson, type AtiError } from '../../sdk/plugin.js';

/** Passes chunks through until the running total would exceed `cap`, then calls `onOver` and errors. */
export class RequestBodyLimit extends Transform {
  private total = 0;

  constructor(
    private readonly cap: number,
    private readonly onOver: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.total += chunk.length;
    if (this.total > this.cap) {
      this.onOver();
      cb(new Error('request body exceeds max_request_bytes'));
      return;
    }
    cb(null, chunk);
  }
}

/** Longest time / most bytes a refused request body is read and discarded before the connection is dropped. */
const LINGER_MS = 5_000;
const LINGER_BYTES = 64 * 1024 * 1024;

/**
 * Answers a request whose body will not be forwarded (413) and closes the
 * connection. The response is written at once, but the connection is ended
 * only after the caller finished sending (bounded): closing a socket the peer
 * is still writing to resets it, and a reset can destroy the unread answer
 * on the caller's side ("lingering close", as nginx does).
 */
export function refuseBody(req: IncomingMessage, res: ServerResponse, e: AtiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorJson(e);
  res.writeHead(e.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  if (req.complete || req.destroyed) {
    res.end(body);
    return;
  }
  res.write(body);
  let discarded = 0;
  const finish = () => {
    clearTimeout(timer);
    req.off('data', onData);
    if (!res.writableEnded) res.end();
  };
  const onData = (c: Buffer) => {
    discarded += c.length;
    if (discarded > LINGER_BYTES) {
      finish();
      res.destroy();
    }
  };
  const timer = setTimeout(() => {
    finish();
    res.destroy();
  }, LINGER_MS);
  timer.unref();
  req.on('data', onData);
  req.once('end', finish);
  req.once('error', finish);
  req.once('close', finish);
  req.resume();
}

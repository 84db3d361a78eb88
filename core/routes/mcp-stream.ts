/**
 * How `/mcp` writes to a client: the answer of one POST (plain JSON, switching
 * to an SSE stream as soon as something must go out before the response: a
 * progress or log notification, a request of the upstream), and a session's
 * standalone `GET` event stream. Each message is one `event: message` SSE event.
 */
import type { ServerResponse } from 'node:http';

/** One JSON-RPC message as an SSE event. */
export function sseEvent(msg: unknown): string {
  return `event: message\ndata: ${JSON.stringify(msg)}\n\n`;
}

/** Whether an `Accept` header allows `text/event-stream`. */
export function acceptsEventStream(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept);
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

/** The answer of one POST. */
export class PostResponse {
  private sse = false;
  private done = false;

  constructor(
    private readonly res: ServerResponse,
    /** The client accepts an SSE answer (and the message is a single request). */
    private readonly canStream: boolean,
    private readonly headers: Record<string, string>,
  ) {}

  get streaming(): boolean {
    return this.sse;
  }

  get finished(): boolean {
    return this.done || this.res.destroyed;
  }

  /** Sends a message before the response; false when this answer cannot carry it (JSON-only client, batch, done). */
  push(msg: unknown): boolean {
    if (!this.canStream || this.finished) return false;
    if (!this.sse) {
      this.sse = true;
      this.res.writeHead(200, { ...this.headers, ...SSE_HEADERS });
      this.res.flushHeaders();
    }
    this.res.write(sseEvent(msg));
    return true;
  }

  /** The response: one SSE event then the end of the stream, or a JSON body. `body` undefined = no response (202, or an SSE stream closed empty). */
  finish(status: number, body: unknown): void {
    if (this.finished) return;
    this.done = true;
    if (this.sse) {
      this.res.end(body === undefined ? undefined : sseEvent(body));
      return;
    }
    const text = JSON.stringify(body === undefined ? null : body);
    this.res.writeHead(status, {
      ...this.headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
    });
    this.res.end(text);
  }
}

/** A session's standalone `GET /mcp` stream: server-initiated messages not tied to a request. */
export class EventStream {
  private closed = false;

  constructor(
    private readonly res: ServerResponse,
    headers: Record<string, string>,
    onClose: () => void,
  ) {
    res.writeHead(200, { ...headers, ...SSE_HEADERS });
    res.flushHeaders();
    // A comment line: the client sees the stream open at once.
    res.write(': stream open\n\n');
    res.on('close', () => {
      this.closed = true;
      onClose();
    });
  }

  get isOpen(): boolean {
    return !this.closed && !this.res.destroyed;
  }

  send(msg: unknown): boolean {
    if (!this.isOpen) return false;
    this.res.write(sseEvent(msg));
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.end();
  }
}

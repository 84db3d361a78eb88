/**
 * `/mcp` client sessions (Streamable HTTP): created by `initialize`, named by
 * the `Mcp-Session-Id` header, ended by `DELETE` or after being idle. They live
 * in the route, not in a generation, so they survive reloads. A session
 * remembers its caller (to refuse another caller's requests and to decide what
 * the caller sees after a reload), its client's capabilities and log level, its
 * `GET` event stream, the calls it has in flight (so `notifications/cancelled`
 * can stop them) and the requests the proxy relayed to the client.
 */
import { randomUUID } from 'node:crypto';
import { AtiError } from '../../kernel/errors.js';
import type { CallerIdentity } from '../plugin/contract.js';
import type { EventStream } from './mcp-stream.js';

/** MCP log levels, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface SessionLimits {
  /** A session without requests and without an open event stream for this long is closed. */
  idleMs: number;
  /** Most sessions at once; creating one more closes the one idle longest. */
  maxSessions: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 30 * 60_000, maxSessions: 10_000 };

interface PendingRequest {
  resolve(result: Record<string, unknown>): void;
  reject(err: Error): void;
}

/** Who a session belongs to: the same caller must come back with it. */
export function callerKey(caller: CallerIdentity | undefined): string {
  if (!caller) return '';
  return caller.keyHash ? `key:${caller.keyHash}` : `sub:${caller.sub}`;
}

export class ClientSession {
  readonly id = randomUUID();
  lastSeen = Date.now();
  /** The caller's identity as of its latest request (scopes may change with a new token). */
  caller: CallerIdentity | undefined;
  authConfigured: boolean;
  protocolVersion: string;
  clientCapabilities: Record<string, unknown>;
  logLevel: LogLevel | undefined;
  stream: EventStream | undefined;
  /** Calls in flight by JSON-RPC id (as JSON text), so `notifications/cancelled` can abort them. */
  readonly inflight = new Map<string, AbortController>();
  /** Resource subscriptions: uri → unsubscribe. */
  readonly subscriptions = new Map<string, () => Promise<void>>();
  /** Fingerprints of what the session's caller last saw listed (tools, prompts, resources). */
  readonly seen: { tools?: string; prompts?: string; resources?: string } = {};
  private readonly pending = new Map<number, PendingRequest>();
  private nextRequestId = 0;
  closed = false;

  constructor(
    readonly owner: string,
    init: {
      caller: CallerIdentity | undefined;
      authConfigured: boolean;
      protocolVersion: string;
      clientCapabilities: Record<string, unknown>;
    },
  ) {
    this.caller = init.caller;
    this.authConfigured = init.authConfigured;
    this.protocolVersion = init.protocolVersion;
    this.clientCapabilities = init.clientCapabilities;
  }

  /** Sends on the `GET` event stream; false when none is open. */
  send(msg: unknown): boolean {
    return this.stream?.send(msg) ?? false;
  }

  /**
   * Sends a request to the client through `deliver` (the request's own answer stream
   * or the event stream) and resolves with the client's result.
   */
  request(
    method: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
    deliver: (msg: unknown) => boolean,
  ): Promise<Record<string, unknown>> {
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new AtiError('ATI_ERR_UPSTREAM', `${method} cancelled by the server`));
      const onAbort = () => {
        this.pending.delete(id);
        deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'cancelled' } });
        reject(new AtiError('ATI_ERR_UPSTREAM', `${method} cancelled by the server`));
      };
      this.pending.set(id, {
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      signal.addEventListener('abort', onAbort, { once: true });
      if (!deliver({ jsonrpc: '2.0', id, method, params })) {
        this.pending.delete(id);
        signal.removeEventListener('abort', onAbort);
        reject(
          new AtiError('ATI_ERR_UNAVAILABLE', `${method}: the client has no open stream the proxy could send it on`),
        );
      }
    });
  }

  /** The client's answer to one of our requests; false when the id is unknown. */
  answer(id: unknown, result: unknown, error: unknown): boolean {
    if (typeof id !== 'number') return false;
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    if (error !== undefined) {
      const e = error as { code?: unknown; message?: unknown };
      p.reject(
        Object.assign(new Error(typeof e.message === 'string' ? e.message : 'the client answered with an error'), {
          code: typeof e.code === 'number' ? e.code : -32603,
        }),
      );
    } else {
      p.resolve((result ?? {}) as Record<string, unknown>);
    }
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream?.close();
    for (const p of this.pending.values()) p.reject(new AtiError('ATI_ERR_UNAVAILABLE', 'the MCP session was closed'));
    this.pending.clear();
    for (const unsubscribe of this.subscriptions.values()) void unsubscribe().catch(() => undefined);
    this.subscriptions.clear();
  }
}

export class SessionStore {
  private readonly sessions = new Map<string, ClientSession>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS) {
    this.timer = setInterval(() => this.reap(), Math.min(60_000, Math.max(1_000, limits.idleMs / 4)));
    this.timer.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): IterableIterator<ClientSession> {
    return this.sessions.values();
  }

  create(init: ConstructorParameters<typeof ClientSession>[1]): ClientSession {
    if (this.sessions.size >= this.limits.maxSessions) this.evictOne();
    const s = new ClientSession(callerKey(init.caller), init);
    this.sessions.set(s.id, s);
    return s;
  }

  /** The session, or undefined when unknown, closed, or owned by another caller. */
  get(id: string, caller: CallerIdentity | undefined): ClientSession | undefined {
    const s = this.sessions.get(id);
    if (!s || s.closed || s.owner !== callerKey(caller)) return undefined;
    s.lastSeen = Date.now();
    return s;
  }

  delete(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    s.close();
  }

  /** Closes idle sessions (an open event stream or a call in flight keeps a session alive). */
  reap(now = Date.now()): void {
    for (const s of this.sessions.values()) {
      if (s.stream?.isOpen || s.inflight.size > 0) continue;
      if (now - s.lastSeen >= this.limits.idleMs) this.delete(s.id);
    }
  }

  private evictOne(): void {
    let oldest: ClientSession | undefined;
    for (const s of this.sessions.values()) {
      if (s.inflight.size > 0) continue;
      if (!oldest || s.lastSeen < oldest.lastSeen) oldest = s;
    }
    if (oldest) this.delete(oldest.id);
  }

  closeAll(): void {
    clearInterval(this.timer);
    for (const id of [...this.sessions.keys()]) this.delete(id);
  }
}

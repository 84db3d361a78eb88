/**
 * One MCP client session per provider, shared by every call of every generation
 * that holds the provider (the reference reconnected for every call;
 * docs/reference-compat.md#mcp-sessions). It owns the SDK Client and its
 * transport and adds what the reference lacks: a timeout on every request, a
 * stdio child that is restarted with exponential backoff when it dies, an HTTP
 * session that is re-initialised when the server forgets it (404), and a clean
 * shutdown (the child is killed, the HTTP session is deleted).
 *
 * States: no connection → connecting → ready → (closed by the server) → restart
 * scheduled (stdio) or reconnect on the next call (http) → … → closed for good.
 */
import type { PluginCounter } from '../../sdk/plugin.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  ListToolsResultSchema,
  LoggingMessageNotificationSchema,
  McpError,
  NotificationSchema,
  RequestSchema,
  ResourceUpdatedNotificationSchema,
  ResultSchema,
  ToolListChangedNotificationSchema,
  type CallToolResult,
  type ListToolsResult,
  type ServerCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import { AtiError } from '../../sdk/plugin.js';
import type { Logger, McpCallChannel } from '../../sdk/plugin.js';
import { ATI_VERSION as VERSION } from '../../sdk/plugin.js';
import { createHttpTransport } from './http-transport.js';
import { DEFAULT_STDERR_LIMITS, StderrLog, type StderrLimits } from './stderr-log.js';
import { createStdioTransport } from './stdio-transport.js';
import type { McpTarget } from './target.js';

export interface RestartPolicy {
  /** First delay before a crashed child is restarted. */
  baseMs: number;
  /** Upper bound of the doubling delay. */
  maxMs: number;
  /** A child that ran this long before dying starts the backoff from `baseMs` again. */
  stableMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { baseMs: 500, maxMs: 30_000, stableMs: 60_000 };

export interface SessionOptions {
  provider: string;
  target: McpTarget;
  /** Timeout of every request. */
  timeoutMs: number;
  /** Timeout of connect + initialize. */
  connectTimeoutMs: number;
  logger: Logger;
  /** Removes the provider's secrets from a text (child stderr, error messages). */
  redact: (text: string) => string;
  restart?: RestartPolicy;
  stderrLimits?: StderrLimits;
  /** The server sent `notifications/tools/list_changed`. */
  onToolsChanged?: () => void;
  /** Counts restarts of the stdio child (`ati_mcp_child_restarts_total`). */
  restartCounter?: PluginCounter;
}

export interface CallOptions {
  /** Overrides the session's request timeout. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The MCP client this request is for (progress, logs and server requests are relayed to it). */
  channel?: McpCallChannel;
}

/**
 * Schemas that keep a message's params exactly as sent (the SDK's own request
 * schemas would drop fields they do not know, e.g. in an elicitation's form schema).
 */
const RawLogMessage = NotificationSchema.extend({ method: LoggingMessageNotificationSchema.shape.method });
const RawResourceUpdated = NotificationSchema.extend({ method: ResourceUpdatedNotificationSchema.shape.method });
const RawSamplingRequest = RequestSchema.extend({ method: CreateMessageRequestSchema.shape.method });
const RawElicitRequest = RequestSchema.extend({ method: ElicitRequestSchema.shape.method });

/**
 * The capabilities the proxy declares to the server: it relays sampling and
 * elicitation to its own clients (servers such as server-everything only offer
 * their sampling and elicitation tools to clients that declare them).
 */
export const CLIENT_CAPABILITIES = { sampling: {}, elicitation: {} };

/**
 * An HTTP error that says the server no longer knows our session (it restarted):
 * 404 per the spec, 400 "No valid session ID" / "Server not initialized" from real servers.
 * The server did not process the request, so a new session may send it again.
 */
export function isSessionLost(err: unknown): boolean {
  if (!(err instanceof StreamableHTTPError)) return false;
  if (err.code === 404) return true;
  return err.code === 400 && /session|not initialized/i.test(err.message);
}

/** Longest upstream text kept in an error message. */
const MAX_ERROR_TEXT = 1_000;
/** Non-JSON lines on a child's stdout logged at WARN before further ones go to DEBUG. */
const MAX_BAD_STDOUT_WARNINGS = 20;

export class McpSession {
  private client: Client | undefined;
  /** The transport being connected or in use, so close() can stop a connect in progress. */
  private transport: Transport | undefined;
  private connecting: Promise<Client> | undefined;
  private restart:
    { at: number; timer: NodeJS.Timeout; promise: Promise<Client>; reject: (e: Error) => void } | undefined;
  private failures = 0;
  private connectedAt = 0;
  private everConnected = false;
  private closed = false;
  private badStdout = 0;
  private readonly stderr: StderrLog | undefined;
  private readonly policy: RestartPolicy;
  private readonly logger: Logger;
  /** Pid of the current (or last) stdio child. */
  pid: number | undefined;
  /** Restarts begun after the first successful connection. */
  restarts = 0;
  /** Called when the server sends `notifications/tools/list_changed` (the provider that owns the session sets it). */
  onToolsChanged: (() => void) | undefined;
  /** Upstream sessions re-initialised after the server forgot one. */
  reinitialisations = 0;
  /** Calls in flight that carry a client channel; server→client messages without a token go to the only one. */
  private readonly channels = new Set<McpCallChannel>();
  private readonly resourceListeners = new Set<(params: Record<string, unknown>) => void>();

  constructor(private readonly opts: SessionOptions) {
    this.policy = opts.restart ?? DEFAULT_RESTART;
    this.onToolsChanged = opts.onToolsChanged;
    this.logger = opts.logger;
    if (opts.target.kind === 'stdio')
      this.stderr = new StderrLog(opts.logger, opts.redact, opts.stderrLimits ?? DEFAULT_STDERR_LIMITS);
  }

  get kind(): 'stdio' | 'http' {
    return this.opts.target.kind;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get isConnected(): boolean {
    return this.client !== undefined;
  }

  /** Capabilities the server announced in `initialize` (undefined before the first connection). */
  get serverCapabilities(): ServerCapabilities | undefined {
    return this.client?.getServerCapabilities();
  }

  /** Connects (if needed) within `timeoutMs`. */
  async connect(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.ensure(Date.now() + timeoutMs, signal, 'initialize', timeoutMs);
  }

  listTools(cursor: string | undefined, opts: CallOptions = {}): Promise<ListToolsResult> {
    return this.run('tools/list', opts, (client, o) =>
      client.request(
        { method: 'tools/list', params: cursor === undefined ? {} : { cursor } },
        ListToolsResultSchema,
        o,
      ),
    );
  }

  /**
   * `tools/call`. The raw request is used rather than Client.callTool: a proxy relays the
   * upstream's result and must not reject it for not matching the tool's output schema.
   */
  callTool(name: string, args: Record<string, unknown>, opts: CallOptions = {}): Promise<CallToolResult> {
    return this.run(
      'tools/call',
      opts,
      (client, o) =>
        client.request(
          { method: 'tools/call', params: { name, arguments: args } },
          CallToolResultSchema,
          o,
        ) as Promise<CallToolResult>,
    );
  }

  /** Any request; the result is returned as the server sent it. */
  request(method: string, params: Record<string, unknown>, opts: CallOptions = {}): Promise<Record<string, unknown>> {
    return this.run(method, opts, (client, o) => client.request({ method, params }, ResultSchema, o));
  }

  /** Listens to `notifications/resources/updated`; returns the function that stops listening. */
  onResourceUpdated(listener: (params: Record<string, unknown>) => void): () => void {
    this.resourceListeners.add(listener);
    return () => this.resourceListeners.delete(listener);
  }

  /** Calls in flight with a client channel (tests and logs). */
  get callsInFlight(): number {
    return this.channels.size;
  }

  /** Drops the current connection (kills the child) without closing the session: the next request reconnects. */
  async disconnect(): Promise<void> {
    const client = this.client;
    const transport = this.transport;
    this.client = undefined;
    this.transport = undefined;
    await this.shutdown(client, transport);
  }

  /** Closes for good: cancels a pending restart, deletes the HTTP session, kills the child. Never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.restart) {
      clearTimeout(this.restart.timer);
      this.restart.reject(this.closedError());
      this.restart = undefined;
    }
    await this.disconnect();
  }

  // ── internals ──────────────────────────────────────────────────────────

  private async run<T>(
    method: string,
    opts: CallOptions,
    fn: (client: Client, o: RequestOptions) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const channel = opts.channel;
    if (channel) this.channels.add(channel);
    try {
      for (let attempt = 0; ; attempt++) {
        const client = await this.ensure(deadline, opts.signal, method, timeoutMs);
        const o: RequestOptions = { timeout: Math.max(1, deadline - Date.now()) };
        if (opts.signal) o.signal = opts.signal;
        if (channel?.wantsProgress) {
          // The SDK sends its own progress token upstream and maps the notifications back to this request.
          o.onprogress = (p) =>
            channel.progress({
              progress: p.progress,
              ...(p.total !== undefined ? { total: p.total } : {}),
              ...(p.message !== undefined ? { message: p.message } : {}),
            });
        }
        try {
          return await fn(client, o);
        } catch (err) {
          // The server forgot our session (it restarted): the request was not processed,
          // so initialise a new session and send it once more.
          if (attempt === 0 && isSessionLost(err) && client === this.client) {
            this.reinitialisations++;
            this.logger.info(
              { method, status: (err as StreamableHTTPError).code },
              'MCP session lost upstream; initialising a new session',
            );
            await this.disconnect();
            continue;
          }
          throw this.mapError(err, method, timeoutMs, opts.signal);
        }
      }
    } finally {
      if (channel) this.channels.delete(channel);
    }
  }

  /**
   * The client channel a server→client message without a request token belongs to:
   * the only call in flight, or none when there are several (a message cannot be
   * attributed, so it is not shown to any client).
   */
  private soleChannel(): McpCallChannel | undefined {
    if (this.channels.size !== 1) return undefined;
    return this.channels.values().next().value;
  }

  private relayRequest(method: string, params: Record<string, unknown>, signal: AbortSignal) {
    const channel = this.soleChannel();
    if (!channel) {
      const n = this.channels.size;
      throw new McpError(
        ErrorCode.InvalidRequest,
        n === 0
          ? `${method}: no client call is in flight to answer it`
          : `${method}: ${n} client calls are in flight on this session; the proxy cannot tell which client it is for`,
      );
    }
    return channel.request(method, params, signal);
  }

  /** The ready client, connecting or waiting for a scheduled restart when there is none. */
  private async ensure(
    deadline: number,
    signal: AbortSignal | undefined,
    method: string,
    timeoutMs: number,
  ): Promise<Client> {
    if (this.closed) throw this.closedError();
    if (this.client) return this.client;
    let pending: Promise<Client>;
    if (this.connecting) {
      pending = this.connecting;
    } else if (this.restart) {
      const wait = this.restart.at - Date.now();
      if (wait > deadline - Date.now()) {
        throw new AtiError(
          'ATI_ERR_UPSTREAM',
          `MCP server of provider "${this.opts.provider}" is restarting after it exited; next attempt in ${Math.ceil(wait / 1000)} s`,
        );
      }
      pending = this.restart.promise;
    } else {
      pending = this.startConnect();
    }
    return withDeadline(pending, deadline, signal, () => this.timeoutError(method, timeoutMs));
  }

  private startConnect(): Promise<Client> {
    const p: Promise<Client> = this.open().then(
      (client) => {
        if (this.connecting === p) this.connecting = undefined;
        return client;
      },
      (err: unknown) => {
        if (this.connecting === p) this.connecting = undefined;
        // A child that ran before and now fails to come back keeps being retried, with backoff.
        if (!this.closed && this.everConnected && this.kind === 'stdio') this.scheduleRestart();
        throw err;
      },
    );
    this.connecting = p;
    p.catch(() => undefined); // observed by the callers that wait for it
    return p;
  }

  private async open(): Promise<Client> {
    const target = this.opts.target;
    const transport =
      target.kind === 'stdio'
        ? createStdioTransport(target, this.stderr!)
        : createHttpTransport(target, this.opts.timeoutMs);
    const client = new Client({ name: 'ati-proxy', version: VERSION }, { capabilities: CLIENT_CAPABILITIES });
    client.onerror = (err) => this.onTransportError(err);
    client.onclose = () => this.onClosed(client);
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      this.logger.info({}, 'MCP server reports that its tool list changed; the next reload lists it again');
      this.onToolsChanged?.();
    });
    client.setNotificationHandler(RawLogMessage, (n) => {
      const channel = this.soleChannel();
      if (channel) channel.notify(n.method, n.params ?? {});
      else this.logger.debug({ in_flight: this.channels.size }, 'MCP server log message not attributable to a call');
    });
    client.setNotificationHandler(RawResourceUpdated, (n) => {
      for (const l of this.resourceListeners) l(n.params ?? {});
    });
    client.setRequestHandler(RawSamplingRequest, (r, extra) =>
      this.relayRequest(r.method, r.params ?? {}, extra.signal),
    );
    client.setRequestHandler(RawElicitRequest, (r, extra) => this.relayRequest(r.method, r.params ?? {}, extra.signal));
    this.transport = transport;
    try {
      await client.connect(transport, { timeout: this.opts.connectTimeoutMs });
    } catch (err) {
      if (this.transport === transport) this.transport = undefined;
      await client.close().catch(() => undefined); // kills a half-started child
      throw this.mapError(err, 'initialize', this.opts.connectTimeoutMs);
    }
    if (this.closed || this.transport !== transport) {
      await client.close().catch(() => undefined);
      throw this.closedError();
    }
    deferResponses(transport);
    this.client = client;
    this.connectedAt = Date.now();
    this.everConnected = true;
    if (transport instanceof StdioClientTransport) this.pid = transport.pid ?? undefined;
    this.logger.info(
      {
        transport: this.kind,
        ...(this.pid !== undefined && this.kind === 'stdio' ? { pid: this.pid } : {}),
        server: client.getServerVersion()?.name,
        protocol_version: transport instanceof StreamableHTTPClientTransport ? transport.protocolVersion : undefined,
        restarts: this.restarts,
      },
      'MCP session ready',
    );
    return client;
  }

  /** The SDK closed the client: ours (ignored) or the server's doing (child exited, stream closed). */
  private onClosed(client: Client): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.transport = undefined;
    if (this.closed) return;
    if (Date.now() - this.connectedAt >= this.policy.stableMs) this.failures = 0;
    if (this.kind === 'stdio') {
      this.logger.warn({ transport: 'stdio', pid: this.pid }, 'MCP server process exited');
      this.scheduleRestart();
    } else {
      this.logger.warn({ transport: 'http' }, 'MCP connection closed; reconnecting on the next call');
    }
  }

  private scheduleRestart(): void {
    if (this.restart || this.closed) return;
    const delay = Math.min(this.policy.baseMs * 2 ** this.failures, this.policy.maxMs);
    this.failures++;
    let resolve!: (c: Client) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Client>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    const timer = setTimeout(() => {
      this.restart = undefined;
      this.restarts++;
      this.opts.restartCounter?.inc();
      this.startConnect().then(resolve, reject);
    }, delay);
    timer.unref();
    this.restart = { at: Date.now() + delay, timer, promise, reject };
    this.logger.warn(
      { transport: this.kind, restart_in_ms: delay, attempt: this.failures },
      'MCP server restart scheduled',
    );
  }

  private async shutdown(client: Client | undefined, transport: Transport | undefined): Promise<void> {
    try {
      if (transport instanceof StreamableHTTPClientTransport && transport.sessionId) {
        // Tell the server it can drop the session (HTTP DELETE); errors do not matter.
        await transport.terminateSession().catch(() => undefined);
      }
      if (client) await client.close();
      else if (transport) await transport.close();
    } catch (err) {
      this.logger.debug({ error: this.opts.redact(String(err)) }, 'MCP disconnect failed');
    }
  }

  private onTransportError(err: Error): void {
    const message = this.opts.redact(err.message).slice(0, MAX_ERROR_TEXT);
    // A line on the child's stdout that is not JSON-RPC (a banner, a stray print).
    if (this.kind === 'stdio' && (err instanceof SyntaxError || err.name === 'ZodError')) {
      this.badStdout++;
      const level = this.badStdout <= MAX_BAD_STDOUT_WARNINGS ? 'warn' : 'debug';
      this.logger[level](
        { stream: 'stdout', error: message },
        'MCP server wrote a line that is not JSON-RPC on stdout; ignored',
      );
      return;
    }
    this.logger.debug({ error: message }, 'MCP transport error');
  }

  private timeoutError(method: string, timeoutMs: number): AtiError {
    return new AtiError(
      'ATI_ERR_UPSTREAM_TIMEOUT',
      `MCP ${method} to provider "${this.opts.provider}" timed out after ${formatSeconds(timeoutMs)}`,
    );
  }

  private closedError(): AtiError {
    return new AtiError(
      'ATI_ERR_UNAVAILABLE',
      `MCP session of provider "${this.opts.provider}" is closed (its generation retired)`,
    );
  }

  /** Turns whatever the SDK or the network threw into an AtiError with a safe, redacted message. */
  private mapError(err: unknown, method: string, timeoutMs: number, signal?: AbortSignal): AtiError {
    if (err instanceof AtiError) return err;
    if (signal?.aborted) {
      const reason: unknown = signal.reason;
      if (reason instanceof AtiError) return reason;
      if (reason instanceof Error && reason.name === 'TimeoutError') return this.timeoutError(method, timeoutMs);
      return new AtiError('ATI_ERR_UPSTREAM', `MCP ${method} cancelled: the caller went away`);
    }
    const clean = (s: string) => this.opts.redact(s).slice(0, MAX_ERROR_TEXT);
    if (err instanceof McpError) {
      if (err.code === ErrorCode.RequestTimeout) return this.timeoutError(method, timeoutMs);
      if (err.code === ErrorCode.ConnectionClosed) {
        const why = this.kind === 'stdio' ? 'the MCP server process exited' : 'the connection closed';
        return new AtiError('ATI_ERR_UPSTREAM', `MCP error: ${why} before answering ${method}`);
      }
      const text = err.message.replace(/^MCP error -?\d+: /, '');
      // `mcp_code` lets `/mcp` answer with the server's own JSON-RPC error code.
      return new AtiError('ATI_ERR_UPSTREAM', `MCP protocol error (code ${err.code}): ${clean(text)}`, {
        details: { mcp_code: err.code, mcp_message: clean(text) },
      });
    }
    if (err instanceof StreamableHTTPError) {
      const text = err.message.replace(/^Streamable HTTP error: /, '');
      return new AtiError('ATI_ERR_UPSTREAM', `MCP transport error: HTTP ${err.code ?? '?'}: ${clean(text)}`);
    }
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    if (e?.name === 'TimeoutError') return this.timeoutError(method, timeoutMs);
    if (e?.syscall?.startsWith('spawn') && this.opts.target.kind === 'stdio') {
      return new AtiError(
        'ATI_ERR_UPSTREAM',
        `failed to spawn MCP server '${this.opts.target.command}': ${clean(e.message)}`,
      );
    }
    const cause = e?.cause?.code ? ` (${e.cause.code})` : '';
    return new AtiError(
      'ATI_ERR_UPSTREAM',
      `MCP transport error: ${clean(e instanceof Error ? e.message : String(err))}${cause}`,
    );
  }
}

/**
 * The SDK runs notification handlers one microtask late but response handlers at
 * once, so when a server's last progress or log notification and its response
 * arrive in one read (stdio), the response ends the request first and the
 * notification is lost. Handing responses on one microtask later keeps the
 * order the server sent them in. Installed once the client is connected (the SDK
 * chains its own handler onto the transport's when it connects).
 */
export function deferResponses(transport: Transport): void {
  const handler = transport.onmessage;
  if (!handler) return;
  transport.onmessage = (msg, extra) => {
    if ('id' in msg && !('method' in msg)) void Promise.resolve().then(() => handler(msg, extra));
    else handler(msg, extra);
  };
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** `p`, or the error of `onTimeout()` once `deadline` passes, or the abort reason of `signal`. */
function withDeadline<T>(
  p: Promise<T>,
  deadline: number,
  signal: AbortSignal | undefined,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(onTimeout())), Math.max(0, deadline - Date.now()));
    const onAbort = () =>
      finish(() => reject(new AtiError('ATI_ERR_UPSTREAM', 'MCP call cancelled: the caller went away')));
    const finish = (f: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      f();
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e)),
    );
  });
}

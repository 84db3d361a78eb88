/**
 * The runtime host: the HTTP server, the current generation reference, the
 * dispatch of each request (canonical path → routing decision → pipeline
 * stages → named route, passthrough route or 404), reloads and shutdown.
 *
 * Passthrough traffic never enters Fastify: it is dispatched from the raw
 * `request` event to the route of the captured generation, so bodies stream
 * untouched and the hot path stays short. Named routes are Fastify routes,
 * registered once at startup; what changes on reload (tools, routes, keyring)
 * lives in the generation they read.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyError } from 'fastify';
import { AtiError, AtiAggregateError, toAtiError } from '../../kernel/errors.js';
import { NO_CALL_LOG, type CallLog } from '../tools/call-log.js';
import type { Generation } from '../generation/generation.js';
import type { ManifestCache } from '../../config/manifest-loader.js';
import { buildGeneration, type GenerationExtension, type KeyringLoader } from '../generation/builder.js';
import type { Logger } from '../../kernel/logger.js';
import { lazySchemaController } from './lazy-schema-compilers.js';
import { NamedRouteTable, type RouteAccess } from './named-routes.js';
import type { HostOptions, PluginRegistry } from '../plugin/contract.js';
import { hot, metrics, triggerKind } from '../metrics/metrics.js';
import { canonicalTarget } from '../pipeline/canonical-path.js';
import type { PipelineStage, Rejection } from '../pipeline/types.js';
import { redactText, setRedactionValues } from '../../kernel/redact.js';
import {
  errorBody,
  sendErrorResponse,
  writeSocketErrorResponse,
  type ErrorResponseOptions,
} from '../../kernel/error-response.js';
import { setState, type RequestState } from './request-state.js';

/** Registers named routes on the Fastify instance (one module per route family, see core/routes/). */
export type RouteModule = (app: FastifyInstance, host: Host) => void | Promise<void>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this named route (default `caller`). */
    access?: RouteAccess;
  }
}

/** Status providers that later features plug in; each defaults to "not configured". */
export interface HostServices {
  /** `jwt` when caller authentication is configured, else `disabled`. */
  authMode(): 'jwt' | 'disabled';
  /** `connected` when a database is configured, else `disabled`. */
  dbStatus(): 'connected' | 'disabled';
  /** Extra readiness check (database reachable …). */
  ready?(): Promise<boolean>;
  /** Last answer of the cached database probe (`/health` `db_reachable`); undefined when no database. */
  dbReachable?(): boolean | undefined;
  /** Where `/call`, `/mcp tools/call` and `/help` record each call (core/tools/call-log.ts); a no-op without a database. */
  callLog: CallLog;
}

export interface HostInit {
  options: HostOptions;
  registry: PluginRegistry;
  logger: Logger;
  loadKeyring: KeyringLoader;
  extensions?: GenerationExtension[];
  /** Stages after the canonical path (sig-verify, auth, …), in order. */
  stages?: PipelineStage[];
  routes?: RouteModule[];
  services?: Partial<HostServices>;
  /** Retired generations (and shutdown) wait this long for in-flight requests. */
  drainMs?: number;
  /** How long a provider's `close()` may take before it is abandoned (default 5 s). */
  closeDeadlineMs?: number;
  /** Fastify body limit for named routes (bytes). */
  bodyLimit?: number;
  /** Called for each WebSocket upgrade after the pipeline accepted it and no route took it. */
  onUpgradeUnrouted?: (req: IncomingMessage, socket: Duplex) => void;
}

export interface ReloadStatus {
  generation: number;
  loaded_at: string;
  last_error: string | null;
  last_attempt_at: string | null;
  last_result: 'applied' | 'unchanged' | 'rejected' | null;
}

export type ReloadResult =
  | {
      status: 'applied';
      generation: number;
      durationMs: number;
      changedFiles: string[];
      reused: string[];
      provisioned: string[];
    }
  | { status: 'unchanged'; generation: number; durationMs: number }
  | { status: 'rejected'; generation: number; durationMs: number; errors: AtiError[] };

/** Bodies of the reference for unmatched paths (ref-02 §1.18), kept as the `error` text. */
const NOT_FOUND_DISABLED = 'not found: passthrough disabled';
const NOT_FOUND_NO_ROUTE = 'not found: no passthrough route';

export class Host {
  readonly options: HostOptions;
  readonly registry: PluginRegistry;
  readonly logger: Logger;
  readonly services: HostServices;
  readonly server: http.Server;
  readonly named = new NamedRouteTable();
  readonly drainMs: number;
  /** Listeners notified after every reload attempt (metrics, watchers). */
  readonly reloadListeners: Array<(r: ReloadResult, reason: string) => void> = [];
  /** Run at shutdown after the listener stopped accepting (watchers, database pools …). */
  readonly shutdownHooks: Array<() => Promise<void>> = [];

  private gen: Generation | undefined;
  private nextId = 1;
  private readonly init: HostInit;
  private readonly stages: PipelineStage[];
  private app: FastifyInstance | undefined;
  private fastifyHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  private reloading: Promise<ReloadResult> | undefined;
  private reloadQueued: { reason: string; force: boolean } | undefined;
  private readonly retiring = new Set<Promise<void>>();
  private readonly manifestCache: ManifestCache = new Map();
  private shuttingDown = false;
  private status: ReloadStatus = {
    generation: 0,
    loaded_at: new Date(0).toISOString(),
    last_error: null,
    last_attempt_at: null,
    last_result: null,
  };

  constructor(init: HostInit) {
    this.init = init;
    this.options = init.options;
    this.registry = init.registry;
    this.logger = init.logger;
    this.stages = init.stages ?? [];
    this.drainMs = init.drainMs ?? 30_000;
    this.services = {
      authMode: () => 'disabled',
      dbStatus: () => 'disabled',
      callLog: NO_CALL_LOG,
      ...init.services,
    };
    this.server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
  }

  /** The serving generation. Throws before `start()` built the first one. */
  get current(): Generation {
    if (!this.gen) throw new AtiError('ATI_ERR_UNAVAILABLE', 'no generation is serving yet');
    return this.gen;
  }

  get hasGeneration(): boolean {
    return this.gen !== undefined;
  }

  get reloadStatus(): Readonly<ReloadStatus> {
    return this.status;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Builds the first generation and the Fastify app. Throws AtiAggregateError listing every problem. */
  async start(): Promise<Generation> {
    const outcome = await this.build(true);
    if (outcome.status !== 'built') {
      const errors = outcome.status === 'rejected' ? outcome.errors : [];
      throw new AtiAggregateError(
        errors.some((e) => e.code === 'ATI_ERR_MANIFESTS_DIR')
          ? 'ATI_ERR_MANIFESTS_DIR'
          : errors.length > 0 && errors.every((e) => e.code === 'ATI_ERR_KEYRING')
            ? 'ATI_ERR_KEYRING'
            : 'ATI_ERR_MANIFEST_INVALID',
        `configuration in ${this.options.atiDir} is invalid (${errors.length} problem${errors.length === 1 ? '' : 's'})`,
        errors,
      );
    }
    this.swap(outcome.generation);
    await this.buildApp();
    return outcome.generation;
  }

  /** Binds the listener. Resolves with the bound address. */
  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          new AtiError('ATI_ERR_LISTEN', `cannot listen on ${host}:${port}: ${err.code ?? err.message}`, {
            cause: err,
          }),
        );
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /**
   * Builds a candidate generation and swaps it in. Never throws: errors are
   * returned, logged and kept in the reload status while the current
   * generation keeps serving. Concurrent calls coalesce into one more reload.
   */
  reload(reason: string, opts: { force?: boolean } = {}): Promise<ReloadResult> {
    if (this.reloading) {
      // One more reload after the running one picks up every change made meanwhile.
      const queued = this.reloadQueued ?? { reason, force: false };
      queued.force ||= opts.force ?? false;
      this.reloadQueued = queued;
      return this.reloading.then(() => this.reload(queued.reason, { force: queued.force }));
    }
    this.reloadQueued = undefined;
    const run = this.runReload(reason, opts.force ?? false).finally(() => {
      this.reloading = undefined;
    });
    this.reloading = run;
    return run;
  }

  private async runReload(reason: string, force: boolean): Promise<ReloadResult> {
    const t0 = performance.now();
    this.logger.info({ trigger: reason }, 'reload started');
    let result: ReloadResult;
    try {
      const outcome = await this.build(force);
      const durationMs = Math.round((performance.now() - t0) * 100) / 100;
      if (outcome.status === 'built') {
        const old = this.gen;
        this.swap(outcome.generation);
        const closed = old
          ? [...old.providers.keys()].filter((n) => outcome.generation.providers.get(n) !== old.providers.get(n))
          : [];
        result = {
          status: 'applied',
          generation: outcome.generation.id,
          durationMs,
          changedFiles: outcome.changedFiles,
          reused: outcome.reused,
          provisioned: outcome.provisioned,
        };
        this.logger.info(
          {
            trigger: reason,
            generation: outcome.generation.id,
            duration_ms: durationMs,
            changed_files: outcome.changedFiles,
            reused: outcome.reused,
            provisioned: outcome.provisioned,
            closed,
          },
          'reload applied',
        );
      } else if (outcome.status === 'unchanged') {
        result = { status: 'unchanged', generation: this.current.id, durationMs };
        this.logger.info({ trigger: reason, generation: this.current.id }, 'reload skipped: no source changed');
      } else {
        result = { status: 'rejected', generation: this.gen?.id ?? 0, durationMs, errors: outcome.errors };
        for (const e of outcome.errors) {
          this.logger.error(
            {
              trigger: reason,
              code: e.code,
              file: e.location?.file,
              line: e.location?.line,
              field: e.location?.field,
              error: e.message,
            },
            'reload error',
          );
        }
        this.logger.error(
          { trigger: reason, errors: outcome.errors.length, generation: this.gen?.id ?? 0 },
          'reload rejected',
        );
      }
    } catch (err) {
      const e = toAtiError(err, 'ATI_ERR_RELOAD');
      result = { status: 'rejected', generation: this.gen?.id ?? 0, durationMs: performance.now() - t0, errors: [e] };
      this.logger.error({ trigger: reason, error: e.message }, 'reload rejected');
    }
    this.status = {
      ...this.status,
      last_attempt_at: new Date().toISOString(),
      last_result: result.status,
      // `unchanged` means the files match the serving generation again, so a previous error is gone too.
      last_error: result.status === 'rejected' ? redactText(result.errors.map((e) => e.describe()).join('; ')) : null,
    };
    metrics.reloads.inc({ result: result.status, trigger: triggerKind(reason) });
    metrics.configSynchronized.set(result.status === 'rejected' ? 0 : 1);
    if (result.status !== 'rejected') metrics.lastReloadSuccess.set(Date.now() / 1000);
    for (const l of this.reloadListeners) l(result, reason);
    return result;
  }

  private build(force: boolean) {
    return buildGeneration({
      id: this.nextId++,
      options: this.options,
      registry: this.registry,
      loadKeyring: this.init.loadKeyring,
      logger: this.logger,
      previous: this.gen,
      force,
      extensions: this.init.extensions ?? [],
      manifestCache: this.manifestCache,
    });
  }

  private swap(next: Generation): void {
    const old = this.gen;
    // Logs and error bodies are scrubbed of the new keyring's values and of the
    // old one's (in-flight requests may still carry a rotated-out key).
    setRedactionValues(old ? [...next.keyring.values(), ...old.keyring.values()] : next.keyring.values());
    this.gen = next; // the one assignment every request observes
    metrics.generation.set(next.id);
    if (!old) {
      metrics.configSynchronized.set(1);
      metrics.lastReloadSuccess.set(Date.now() / 1000);
    }
    this.status = { ...this.status, generation: next.id, loaded_at: next.loadedAt.toISOString(), last_error: null };
    if (old) {
      const p = old.retire(this.drainMs, this.logger, this.init.closeDeadlineMs);
      this.retiring.add(p);
      void p.finally(() => this.retiring.delete(p));
    }
  }

  private async buildApp(): Promise<void> {
    const app = Fastify({
      logger: false,
      bodyLimit: this.init.bodyLimit ?? 1_431_663_957,
      // Paths are canonicalised by the host before Fastify sees them.
      routerOptions: { ignoreTrailingSlash: false, caseSensitive: true },
      // ajv and fast-json-stringify load on first use, not at startup (core/host/lazy-schema-compilers.ts).
      schemaController: lazySchemaController,
      serverFactory: (handler) => {
        this.fastifyHandler = handler as (req: IncomingMessage, res: ServerResponse) => void;
        return this.server;
      },
    });
    app.addHook('onRoute', (opts) => {
      const methods = Array.isArray(opts.method) ? opts.method : [opts.method];
      for (const m of methods) {
        if (m === 'HEAD') continue;
        this.named.add(opts.url, m, opts.config?.access ?? 'caller');
      }
    });
    app.setErrorHandler((err: FastifyError | AtiError, _request, reply) => {
      const e = err instanceof AtiError ? err : fastifyToAtiError(err);
      if (e.status >= 500) this.logger.error({ code: e.code, error: e.message }, 'request failed');
      if (e.headers) void reply.headers(e.headers);
      void reply.code(e.status).type('application/json').send(errorBody(e));
    });
    app.setNotFoundHandler((_request, reply) => {
      const e = new AtiError('ATI_ERR_NOT_FOUND', 'not found');
      void reply.code(404).type('application/json').send(errorBody(e));
    });
    for (const mod of this.init.routes ?? []) await mod(app, this);
    await app.ready();
    this.app = app;
  }

  /** The Fastify instance (for `inject` in tests). */
  get fastify(): FastifyInstance {
    if (!this.app) throw new Error('host not started');
    return this.app;
  }

  /** The per-request state every later step reads; attached to the request. */
  private newState(req: IncomingMessage, gen: Generation): RequestState {
    const state: RequestState = {
      gen,
      requestId: requestIdOf(req),
      start: process.hrtime.bigint(),
      path: '',
      query: '',
      authConfigured: this.services.authMode() === 'jwt',
      route: 'unmatched',
    };
    setState(req, state);
    return state;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const gen = this.gen;
    if (!gen || this.shuttingDown) {
      res.setHeader('Connection', 'close');
      sendErrorResponse(res, new AtiError(this.shuttingDown ? 'ATI_ERR_SHUTTING_DOWN' : 'ATI_ERR_UNAVAILABLE'));
      return;
    }
    gen.enter();
    hot.inFlight++;
    const state = this.newState(req, gen);
    let counted = true;
    state.detach = () => {
      if (!counted) return;
      counted = false;
      gen.leave();
      hot.inFlight--;
    };
    // `close` fires once per response; `on` spares the once-wrapper.
    res.on('close', () => {
      if (counted) {
        gen.leave();
        hot.inFlight--;
      }
      this.logRequest(req, res, state);
    });
    try {
      const t = canonicalTarget(req.url);
      state.path = t.path;
      state.query = t.query;
    } catch (err) {
      sendErrorResponse(res, toAtiError(err, 'ATI_ERR_BAD_PATH'));
      return;
    }
    const named = this.named.match(state.path);
    if (named) {
      state.route = named.template;
      state.named = named;
      state.passthrough = null;
    } else {
      // Matched once here; the auth stage and dispatch read it from the state.
      state.passthrough = this.options.enablePassthrough
        ? (gen.routes.match(req.headers.host, state.path) ?? null)
        : null;
    }
    this.runStages(req, state, 0, (rejection) => {
      if (rejection) {
        sendRejection(res, rejection, state.responseHeaders);
        return;
      }
      if (state.responseHeaders) for (const [k, v] of state.responseHeaders) res.setHeader(k, v);
      if (named) {
        if (!named.methods.has(req.method ?? 'GET')) {
          res.setHeader('Allow', [...named.methods].join(', '));
          sendErrorResponse(
            res,
            new AtiError('ATI_ERR_METHOD_NOT_ALLOWED', `method ${req.method} not allowed on ${named.template}`),
          );
          return;
        }
        this.fastifyHandler!(req, res);
        return;
      }
      this.dispatchPassthrough(req, res, state);
    });
  }

  /** Runs the stages in order; synchronous stages do not pay for a promise. */
  private runStages(
    req: IncomingMessage,
    state: RequestState,
    from: number,
    done: (r: Rejection | undefined) => void,
  ): void {
    for (let i = from; i < this.stages.length; i++) {
      let r: ReturnType<PipelineStage['run']>;
      try {
        r = this.stages[i]!.run(req, state);
      } catch (err) {
        done({ error: toAtiError(err) });
        return;
      }
      if (r instanceof Promise) {
        r.then(
          (rej) => (rej ? done(rej) : this.runStages(req, state, i + 1, done)),
          (err: unknown) => done({ error: toAtiError(err) }),
        );
        return;
      }
      if (r) {
        done(r);
        return;
      }
    }
    done(undefined);
  }

  private dispatchPassthrough(req: IncomingMessage, res: ServerResponse, state: RequestState): void {
    if (!this.options.enablePassthrough) {
      sendErrorResponse(res, new AtiError('ATI_ERR_NOT_FOUND', NOT_FOUND_DISABLED));
      return;
    }
    const route = state.passthrough;
    if (!route) {
      this.logger.debug({ host: req.headers.host, path: state.path }, 'no passthrough route matched');
      sendErrorResponse(res, new AtiError('ATI_ERR_NOT_FOUND', NOT_FOUND_NO_ROUTE));
      return;
    }
    state.route = route.name;
    try {
      const r = route.handle(req, res, {
        requestId: state.requestId,
        path: state.path,
        query: state.query,
        logger: this.logger,
      });
      if (r instanceof Promise) r.catch((err: unknown) => this.failRoute(res, route.name, err));
    } catch (err) {
      this.failRoute(res, route.name, err);
    }
  }

  private failRoute(res: ServerResponse, route: string, err: unknown): void {
    const e = toAtiError(err, 'ATI_ERR_UPSTREAM');
    this.logger.error({ route, code: e.code, error: e.message }, 'passthrough route failed');
    if (!res.headersSent) sendErrorResponse(res, e);
    else res.destroy();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const gen = this.gen;
    if (!gen || this.shuttingDown) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    gen.enter();
    let left = false;
    const leave = () => {
      if (!left) {
        left = true;
        gen.leave();
      }
    };
    socket.once('close', leave);
    const state = this.newState(req, gen);
    try {
      const t = canonicalTarget(req.url);
      state.path = t.path;
      state.query = t.query;
    } catch (err) {
      writeSocketErrorResponse(socket, toAtiError(err, 'ATI_ERR_BAD_PATH'));
      return;
    }
    state.named = this.named.match(state.path);
    this.runStages(req, state, 0, (rejection) => {
      if (rejection) {
        writeSocketErrorResponse(socket, rejection.error, rejectionOptions(rejection, state.responseHeaders));
        return;
      }
      const route =
        this.options.enablePassthrough && !this.named.match(state.path)
          ? gen.routes.match(req.headers.host, state.path)
          : undefined;
      if (route?.upgrade) {
        state.route = route.name;
        Promise.resolve(
          route.upgrade(req, socket, head, {
            requestId: state.requestId,
            path: state.path,
            query: state.query,
            logger: this.logger,
            responseHeaders: state.responseHeaders ?? [],
          }),
        ).catch((err: unknown) => {
          this.logger.error({ route: route.name, error: (err as Error).message }, 'websocket upgrade failed');
          socket.destroy();
        });
        return;
      }
      if (this.init.onUpgradeUnrouted) {
        this.init.onUpgradeUnrouted(req, socket);
        return;
      }
      writeSocketErrorResponse(
        socket,
        new AtiError(
          'ATI_ERR_NOT_FOUND',
          route ? 'websocket forwarding is disabled for this route' : NOT_FOUND_NO_ROUTE,
        ),
      );
    });
  }

  private logRequest(req: IncomingMessage, res: ServerResponse, state: RequestState): void {
    const durationMs = Number(process.hrtime.bigint() - state.start) / 1e6;
    const route = state.path ? state.route : 'invalid';
    const method = req.method ?? 'GET';
    const status = res.statusCode;
    hot.requests.inc(`${status} ${method} ${route}`, { method, route, status });
    hot.requestDuration.observe(route, { route }, durationMs / 1000);
    const level = status >= 500 ? 'warn' : 'info';
    if (!this.logger.isLevelEnabled(level)) return;
    this.logger[level](
      {
        request_id: state.requestId,
        method: req.method,
        path: state.path || '(invalid)',
        route: state.route,
        status: res.statusCode,
        duration_ms: Math.round(durationMs * 1000) / 1000,
        generation: state.gen.id,
        ...(state.caller ? { sub: state.caller.sub } : {}),
        ...(res.writableFinished ? {} : { aborted: true }),
      },
      'request',
    );
  }

  /**
   * Stops accepting connections, waits for in-flight requests (up to the drain
   * deadline), closes every generation and its providers.
   */
  async shutdown(reason = 'shutdown'): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.logger.info({ reason, in_flight: this.gen?.inFlight ?? 0 }, 'shutting down: draining in-flight requests');
    await Promise.all(
      this.shutdownHooks.map((h) =>
        h().catch((err: unknown) => this.logger.warn({ error: (err as Error).message }, 'shutdown hook failed')),
      ),
    );
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const gen = this.gen;
    if (gen) {
      await gen.retire(this.drainMs, this.logger, this.init.closeDeadlineMs);
    }
    await Promise.all([...this.retiring]);
    this.server.closeAllConnections();
    await closed;
    await this.app?.close();
    this.logger.info({ reason }, 'shutdown complete');
  }
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && given.length > 0 && given.length <= 128 && /^[\w.:-]+$/.test(given)) return given;
  return randomUUID();
}

function fastifyToAtiError(err: FastifyError): AtiError {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AtiError('ATI_ERR_UNSUPPORTED_MEDIA_TYPE', err.message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AtiError('ATI_ERR_BODY_TOO_LARGE', err.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AtiError('ATI_ERR_BAD_REQUEST', err.message);
  }
  if (err.validation) return new AtiError('ATI_ERR_INVALID_REQUEST', err.message);
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new AtiError('ATI_ERR_BAD_REQUEST', err.message, { status: err.statusCode });
  }
  return new AtiError('ATI_ERR_INTERNAL', 'internal error');
}

/** The response options of a pipeline Rejection: its headers, then the request's, and any compat body. */
function rejectionOptions(r: Rejection, extraHeaders?: ReadonlyArray<readonly [string, string]>): ErrorResponseOptions {
  return {
    headers: [...Object.entries(r.headers ?? {}), ...(extraHeaders ?? [])],
    ...(r.body !== undefined ? { body: r.body } : {}),
    ...(r.contentType !== undefined ? { contentType: r.contentType } : {}),
  };
}

/** Writes a pipeline Rejection on a raw ServerResponse. */
function sendRejection(
  res: ServerResponse,
  r: Rejection,
  extraHeaders?: ReadonlyArray<readonly [string, string]>,
): void {
  sendErrorResponse(res, r.error, rejectionOptions(r, extraHeaders));
}

/**
 * The runtime host: the HTTP server, the serving generation, startup,
 * listening and shutdown, composed of
 *   - dispatch (./dispatch.ts): every request and WebSocket upgrade, from the
 *     canonical path through the pipeline stages to a named or passthrough route;
 *   - the named routes' Fastify app (./named-app.ts);
 *   - reload control (../reload/reload-control.ts): building candidate
 *     generations, superseding and aborting them, the reload status.
 * The serving generation changes with one assignment (`swap`); each request
 * captures it once at its start and uses it to the end.
 */
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AtiError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { setRedactionValues } from '../../kernel/redact.js';
import type { KeyringLoader } from '../generation/builder.js';
import type { GenerationExtension } from '../generation/extension.js';
import type { Generation } from '../generation/generation.js';
import type { HostOptions, PluginRegistry } from '../plugin/contract.js';
import type { PipelineStage } from '../pipeline/types.js';
import { ReloadControl, type ReloadResult, type ReloadStatus } from '../reload/reload-control.js';
import { NO_CALL_LOG, type CallLog } from '../tools/call-log.js';
import { Dispatcher, type GenerationSource } from './dispatch.js';
import { createNamedApp } from './named-app.js';
import { NamedRouteTable, type RouteAccess } from './named-routes.js';

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

export class Host implements GenerationSource {
  readonly options: HostOptions;
  readonly registry: PluginRegistry;
  readonly logger: Logger;
  readonly services: HostServices;
  readonly server: http.Server;
  readonly named = new NamedRouteTable();
  readonly drainMs: number;
  /** Run at shutdown after the listener stopped accepting (watchers, database pools …). */
  readonly shutdownHooks: Array<() => Promise<void>> = [];

  private gen: Generation | undefined;
  private shuttingDown = false;
  private app: FastifyInstance | undefined;
  private readonly init: HostInit;
  private readonly dispatcher: Dispatcher;
  private readonly reloads: ReloadControl;
  private readonly retiring = new Set<Promise<void>>();

  constructor(init: HostInit) {
    this.init = init;
    this.options = init.options;
    this.registry = init.registry;
    this.logger = init.logger;
    this.drainMs = init.drainMs ?? 30_000;
    this.services = {
      authMode: () => 'disabled',
      dbStatus: () => 'disabled',
      callLog: NO_CALL_LOG,
      ...init.services,
    };
    this.reloads = new ReloadControl({
      build: {
        options: init.options,
        registry: init.registry,
        loadKeyring: init.loadKeyring,
        logger: init.logger,
        extensions: init.extensions ?? [],
      },
      serving: () => this.gen,
      swap: (next) => this.swap(next),
      ...(init.closeDeadlineMs !== undefined ? { closeDeadlineMs: init.closeDeadlineMs } : {}),
    });
    const dispatcher = new Dispatcher({
      source: this,
      named: this.named,
      stages: init.stages ?? [],
      enablePassthrough: init.options.enablePassthrough,
      logger: init.logger,
      authConfigured: () => this.services.authMode() === 'jwt',
      onUpgradeUnrouted: init.onUpgradeUnrouted,
    });
    this.dispatcher = dispatcher;
    this.server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => dispatcher.handleRequest(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      dispatcher.handleUpgrade(req, socket, head),
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

  /** The serving generation, or undefined before the first. */
  get serving(): Generation | undefined {
    return this.gen;
  }

  get hasGeneration(): boolean {
    return this.gen !== undefined;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  get reloadStatus(): Readonly<ReloadStatus> {
    return this.reloads.status;
  }

  /** Listeners notified after every finished reload attempt (metrics, watchers). */
  get reloadListeners(): Array<(r: ReloadResult, reason: string) => void> {
    return this.reloads.listeners;
  }

  /** The Fastify instance (for `inject` in tests). */
  get fastify(): FastifyInstance {
    if (!this.app) throw new Error('host not started');
    return this.app;
  }

  /** Builds the first generation and the Fastify app. Throws AtiAggregateError listing every problem. */
  async start(): Promise<Generation> {
    const gen = await this.reloads.initial();
    const { app, handler } = await createNamedApp({
      server: this.server,
      named: this.named,
      routes: this.init.routes ?? [],
      host: this,
      logger: this.logger,
      bodyLimit: this.init.bodyLimit,
    });
    this.app = app;
    this.dispatcher.namedHandler = handler;
    return gen;
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
   * generation keeps serving. A reload asked for while one runs supersedes it.
   */
  reload(reason: string, opts: { force?: boolean } = {}): Promise<ReloadResult> {
    return this.reloads.reload(reason, opts);
  }

  private swap(next: Generation): void {
    const old = this.gen;
    // Logs and error bodies are scrubbed of the new keyring's values and of the
    // old one's (in-flight requests may still carry a rotated-out key).
    setRedactionValues(old ? [...next.keyring.values(), ...old.keyring.values()] : next.keyring.values());
    this.gen = next; // the one assignment every request observes
    if (old) {
      const p = old.retire(this.drainMs, this.logger, this.init.closeDeadlineMs);
      this.retiring.add(p);
      void p.finally(() => this.retiring.delete(p));
    }
  }

  /**
   * Stops accepting connections, abandons a running reload, waits for in-flight
   * requests (up to the drain deadline), closes every generation and its providers.
   */
  async shutdown(reason = 'shutdown'): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.logger.info({ reason, in_flight: this.gen?.inFlight ?? 0 }, 'shutting down: draining in-flight requests');
    await Promise.all([
      this.reloads.shutdown(),
      ...this.shutdownHooks.map((h) =>
        h().catch((err: unknown) => this.logger.warn({ error: (err as Error).message }, 'shutdown hook failed')),
      ),
    ]);
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

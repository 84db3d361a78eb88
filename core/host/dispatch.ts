/**
 * Dispatch of every request and WebSocket upgrade: capture the serving
 * generation → per-request state → canonical path → route decision (named
 * route, else passthrough route) → pipeline stages → named route (Fastify),
 * passthrough route, or an error. Requests and upgrades share that beginning
 * (`begin` and `locate`) and differ only in how they answer.
 *
 * Passthrough traffic never enters Fastify: it goes from the raw `request`
 * event to the route of the captured generation, so bodies stream untouched
 * and the hot path stays short. This path allocates nothing per request
 * beyond the state and the two callbacks it needs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { AtiError, toAtiError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { sendErrorResponse, writeSocketErrorResponse } from '../../kernel/error-response.js';
import type { Generation } from '../generation/generation.js';
import { hot } from '../metrics/metrics.js';
import { canonicalTarget } from '../pipeline/canonical-path.js';
import { runStages } from '../pipeline/run-stages.js';
import type { PipelineStage } from '../pipeline/types.js';
import { logRequest } from './access-log.js';
import { sendRejection, writeSocketRejection } from './error-rendering.js';
import type { NamedRouteTable } from './named-routes.js';
import { setState, type RequestState } from './request-state.js';

/** Bodies of the reference for unmatched paths, kept as the `error` text. */
const NOT_FOUND_DISABLED = 'not found: passthrough disabled';
const NOT_FOUND_NO_ROUTE = 'not found: no passthrough route';

/** Where dispatch finds the generation a new request runs on. */
export interface GenerationSource {
  /** The serving generation; undefined before the first is built. */
  readonly serving: Generation | undefined;
  readonly isShuttingDown: boolean;
}

export interface DispatchInit {
  source: GenerationSource;
  named: NamedRouteTable;
  /** Stages after the canonical path (sig-verify, auth, …), in order. */
  stages: readonly PipelineStage[];
  enablePassthrough: boolean;
  logger: Logger;
  /** True when caller authentication is configured (decides "no claims" semantics downstream). */
  authConfigured(): boolean;
  /** Called for each WebSocket upgrade after the pipeline accepted it and no route took it. */
  onUpgradeUnrouted?: ((req: IncomingMessage, socket: Duplex) => void) | undefined;
}

export class Dispatcher {
  /** Fastify's handler of the named routes; set once the app is built. */
  namedHandler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  private readonly source: GenerationSource;
  private readonly named: NamedRouteTable;
  private readonly stages: readonly PipelineStage[];
  private readonly enablePassthrough: boolean;
  private readonly logger: Logger;
  private readonly init: DispatchInit;

  constructor(init: DispatchInit) {
    this.init = init;
    this.source = init.source;
    this.named = init.named;
    this.stages = init.stages;
    this.enablePassthrough = init.enablePassthrough;
    this.logger = init.logger;
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const state = this.begin(req);
    if (!state) {
      res.setHeader('Connection', 'close');
      sendErrorResponse(
        res,
        new AtiError(this.source.isShuttingDown ? 'ATI_ERR_SHUTTING_DOWN' : 'ATI_ERR_UNAVAILABLE'),
      );
      return;
    }
    hot.inFlight++;
    let counted = true;
    state.detach = () => {
      if (!counted) return;
      counted = false;
      state.gen.leave();
      hot.inFlight--;
    };
    // `close` fires once per response; `on` spares the once-wrapper.
    res.on('close', () => {
      if (counted) {
        state.gen.leave();
        hot.inFlight--;
      }
      logRequest(this.logger, req, res, state);
    });
    const bad = this.locate(req, state);
    if (bad) {
      sendErrorResponse(res, bad);
      return;
    }
    runStages(this.stages, req, state, 0, (rejection) => {
      if (rejection) {
        sendRejection(res, rejection, state.responseHeaders);
        return;
      }
      if (state.responseHeaders) for (const [k, v] of state.responseHeaders) res.setHeader(k, v);
      const named = state.named;
      if (named) {
        if (!named.methods.has(req.method ?? 'GET')) {
          res.setHeader('Allow', [...named.methods].join(', '));
          sendErrorResponse(
            res,
            new AtiError('ATI_ERR_METHOD_NOT_ALLOWED', `method ${req.method} not allowed on ${named.template}`),
          );
          return;
        }
        this.namedHandler!(req, res);
        return;
      }
      this.dispatchPassthrough(req, res, state);
    });
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const state = this.begin(req);
    if (!state) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const gen = state.gen;
    let left = false;
    socket.once('close', () => {
      if (!left) {
        left = true;
        gen.leave();
      }
    });
    const bad = this.locate(req, state);
    if (bad) {
      writeSocketErrorResponse(socket, bad);
      return;
    }
    runStages(this.stages, req, state, 0, (rejection) => {
      if (rejection) {
        writeSocketRejection(socket, rejection, state.responseHeaders);
        return;
      }
      const route = state.passthrough;
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

  /**
   * The shared beginning of a request and an upgrade: captures the serving
   * generation, counts the request in it (the caller counts it out when the
   * response or socket closes) and attaches the per-request state. Undefined
   * when no generation serves yet or the host is shutting down.
   */
  private begin(req: IncomingMessage): RequestState | undefined {
    const gen = this.source.serving;
    if (!gen || this.source.isShuttingDown) return undefined;
    gen.enter();
    const state: RequestState = {
      gen,
      requestId: requestIdOf(req),
      start: process.hrtime.bigint(),
      path: '',
      query: '',
      authConfigured: this.init.authConfigured(),
      route: 'unmatched',
    };
    setState(req, state);
    return state;
  }

  /**
   * Canonical path and route decision, made once here for the stages and the
   * dispatch: the named route of the path, else (with passthrough on) its
   * passthrough route or null. Returns the error of a path that is not canonical.
   */
  private locate(req: IncomingMessage, state: RequestState): AtiError | undefined {
    try {
      const t = canonicalTarget(req.url);
      state.path = t.path;
      state.query = t.query;
    } catch (err) {
      return toAtiError(err, 'ATI_ERR_BAD_PATH');
    }
    const named = this.named.match(state.path);
    if (named) {
      state.route = named.template;
      state.named = named;
      state.passthrough = null;
    } else {
      state.passthrough = this.enablePassthrough
        ? (state.gen.routes.match(req.headers.host, state.path) ?? null)
        : null;
    }
    return undefined;
  }

  private dispatchPassthrough(req: IncomingMessage, res: ServerResponse, state: RequestState): void {
    if (!this.enablePassthrough) {
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
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && given.length > 0 && given.length <= 128 && /^[\w.:-]+$/.test(given)) return given;
  return randomUUID();
}

/**
 * The provisioned passthrough route: what the host's RouteTable matches and
 * calls. It owns the route's undici pool and WebSocket relay; `close()`
 * releases both when the last generation using this route retires.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Pool } from 'undici';
import { AtiError, writeSocketErrorResponse } from '../../sdk/plugin.js';
import type { Logger } from '../../sdk/plugin.js';
import type { PassthroughRoute, RouteRequestContext } from '../../sdk/plugin.js';
import type { Injection } from './credentials.js';
import { decide, forwardHttp, type RouteRuntime } from './route.js';
import type { RouteSpec } from './route-spec.js';
import { closeUpstreamPool } from './upstream-pool.js';
import { isWebSocketUpgrade, WebSocketRelay } from './websocket.js';

export class ProvisionedRoute implements PassthroughRoute, RouteRuntime {
  readonly name: string;
  readonly hostMatch: string | null;
  readonly pathPrefix: string;
  readonly forwardWebsockets: boolean;
  readonly reuseKey: string;
  private readonly relay: WebSocketRelay | null;

  constructor(
    readonly spec: RouteSpec,
    readonly injection: Injection,
    readonly pool: Pool,
    readonly logger: Logger,
    manifestHash: string,
  ) {
    this.name = spec.name;
    this.hostMatch = spec.hostMatch;
    this.pathPrefix = spec.pathPrefix;
    this.forwardWebsockets = spec.forwardWebsockets;
    this.reuseKey = manifestHash;
    this.relay = spec.forwardWebsockets ? new WebSocketRelay(this) : null;
  }

  handle(req: IncomingMessage, res: ServerResponse, ctx: RouteRequestContext): void {
    forwardHttp(this, req, res, ctx);
  }

  /**
   * Every upgrade request that reached this route. A WebSocket handshake on a
   * route with `forward_websockets = true` is relayed as a WebSocket; anything
   * else (WebSockets disabled, or another protocol such as h2c) is forwarded
   * as plain HTTP with `Upgrade`/`Connection` stripped, exactly like the
   * reference: a WebSocket upstream then answers with its own non-101 status
   * (typically 426 or 400), which the caller receives.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: RouteRequestContext): void {
    if (this.relay === null || !isWebSocketUpgrade(req)) {
      this.upgradeAsHttp(req, socket, ctx);
      return;
    }
    const d = decide(this, ctx);
    if (d instanceof AtiError) {
      writeSocketErrorResponse(socket, d, { headers: ctx.responseHeaders ?? [] });
      return;
    }
    this.relay.handle(req, socket, head, ctx, d);
  }

  private upgradeAsHttp(req: IncomingMessage, socket: Duplex, ctx: RouteRequestContext): void {
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => {
      res.detachSocket(socket as Socket);
      socket.end();
    });
    socket.on('error', () => socket.destroy());
    for (const [k, v] of ctx.responseHeaders ?? []) res.setHeader(k, v);
    forwardHttp(this, req, res, ctx, true);
  }

  /** Open WebSocket pairs (tests, metrics). */
  get openWebSockets(): number {
    return this.relay?.size ?? 0;
  }

  async close(): Promise<void> {
    this.relay?.close();
    await closeUpstreamPool(this.pool);
  }
}

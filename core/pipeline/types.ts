/**
 * The request pipeline: small stages run in order for every request (named
 * routes, passthrough and WebSocket upgrades alike), before any handler.
 * A stage returns nothing to continue, or a Rejection that the host turns into
 * the response. Stages must be cheap: they run on every request.
 */
import type { IncomingMessage } from 'node:http';
import type { AtiError } from '../../kernel/errors.js';
import type { RequestState } from '../host/request-state.js';

export interface Rejection {
  error: AtiError;
  /** Extra response headers (e.g. `WWW-Authenticate`). */
  headers?: Record<string, string>;
  /** Send this exact body instead of the standard JSON error (compat bodies). */
  body?: string;
  contentType?: string;
}

export interface PipelineStage {
  readonly name: string;
  run(req: IncomingMessage, state: RequestState): Rejection | undefined | Promise<Rejection | undefined>;
}

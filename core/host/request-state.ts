/**
 * Per-request state computed once by the host and read by every later step:
 * the generation captured at the start, the canonical path, the caller.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { Generation } from '../generation/generation.js';
import type { NamedRoute } from './named-routes.js';
import type { CallerIdentity, PassthroughRoute } from '../plugin/contract.js';

export interface RequestState {
  /** The generation this request runs on, from start to finish. */
  readonly gen: Generation;
  readonly requestId: string;
  /** process.hrtime.bigint() at arrival. */
  readonly start: bigint;
  /** Canonical path (see core/pipeline/canonical-path), no query. */
  path: string;
  /** Raw query string without `?`. */
  query: string;
  /** Set by the auth stage; undefined on public paths. */
  caller?: CallerIdentity;
  /** Auth is configured (JWT or virtual keys); then a request without claims has no scopes. */
  authConfigured: boolean;
  /** The named route of the path (whatever the method), or undefined when the path is passthrough/unmatched. */
  named?: NamedRoute;
  /**
   * The passthrough route of the path, matched once by the host before the
   * stages run: `null` when no route matches (or passthrough is off or the path
   * is named), `undefined` when the host did not match (a stage then matches itself).
   */
  passthrough?: PassthroughRoute | null;
  /** Metrics/log label: the named route template, a passthrough route name, or `unmatched`. */
  route: string;
  /**
   * Stops counting this request as in flight on its generation (a long-lived event
   * stream must not hold a retired generation open). Set by the host for plain requests.
   */
  detach?: () => void;
  /** Headers to add to the response (e.g. `X-Signature-Status` in warn mode). */
  responseHeaders?: Array<[string, string]>;
}

const STATE = Symbol.for('ati.requestState');

type WithState = IncomingMessage & { [STATE]?: RequestState };

export function setState(req: IncomingMessage, state: RequestState): void {
  (req as WithState)[STATE] = state;
}

/** The state of a raw request; throws if the host did not set one (a bug). */
export function stateOfRaw(req: IncomingMessage): RequestState {
  const s = (req as WithState)[STATE];
  if (!s) throw new Error('request state missing: request did not go through the host');
  return s;
}

export function stateOf(request: FastifyRequest): RequestState {
  return stateOfRaw(request.raw);
}

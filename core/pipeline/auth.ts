/**
 * The auth pipeline stage (ref-03 §4.7), after sig-verify. In order:
 *
 * 1. admin routes (access `admin`) → skipped: they check the admin bearer themselves;
 * 2. public named routes (access `public`: `/health`, JWKS, `/readyz`, `/metrics`) → pass, no caller;
 * 3. passthrough bypass: a path that is not a named route, with passthrough
 *    enabled and a route of the request's generation matching (Host, path) —
 *    the very decision the host dispatch makes → pass (sig-verify is their auth);
 * 4. `Authorization: Ati-Key <raw>` → the KeyStore (503 without one, 401 unknown);
 * 5. no JWT configured (dev mode) → the unrestricted `dev` caller;
 * 6. `Authorization: Bearer <jwt>` (scheme case-insensitive) → JwtVerifier;
 *    missing or invalid → 401 JSON with a code and `WWW-Authenticate: Bearer …`.
 */
import { hot } from '../metrics/metrics.js';
import type { IncomingMessage } from 'node:http';
import { AtiError } from '../../kernel/errors.js';
import type { Generation } from '../generation/generation.js';
import type { Logger } from '../../kernel/logger.js';
import type { RequestState } from '../host/request-state.js';
import { DEV_CALLER } from './scopes.js';
import { JWT_VERIFIER, type JwtVerifier } from './jwt.js';
import type { KeyStore } from './key-store.js';
import type { PipelineStage, Rejection } from './types.js';

export interface AuthStageOptions {
  /** JWT configured: without it the stage runs in dev mode. */
  jwtConfigured: boolean;
  /** `--enable-passthrough`. */
  enablePassthrough: boolean;
  keyStore?: KeyStore;
  logger: Logger;
  /** Where the verifier of a generation lives (default: the `jwt` generation extension). */
  verifierOf?: (gen: Generation) => JwtVerifier | undefined;
}

const REALM = 'Bearer realm="ati"';

function unauthenticated(message: string, challenge: string): Rejection {
  return { error: new AtiError('ATI_ERR_UNAUTHENTICATED', message), headers: { 'WWW-Authenticate': challenge } };
}

/** Splits `Authorization` into a lower-cased scheme and its credentials; undefined when absent or not visible ASCII. */
export function parseAuthorization(header: string | undefined): { scheme: string; credentials: string } | undefined {
  if (header === undefined || !/^[\x20-\x7e\t]+$/.test(header)) return undefined;
  const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:[ \t]+(.*))?$/.exec(header.trim());
  if (!m) return undefined;
  return { scheme: m[1]!.toLowerCase(), credentials: (m[2] ?? '').trim() };
}

export function createAuthStage(opts: AuthStageOptions): PipelineStage {
  const verifierOf = opts.verifierOf ?? ((gen: Generation) => JWT_VERIFIER.get(gen));
  const { logger } = opts;

  async function viaKeyStore(raw: string, state: RequestState): Promise<Rejection | undefined> {
    if (!opts.keyStore) {
      return { error: new AtiError('ATI_ERR_UNAVAILABLE', 'virtual keys (Ati-Key) need a key store: set ATI_DB_URL') };
    }
    if (raw === '') return unauthenticated('empty Ati-Key', REALM);
    let caller;
    try {
      caller = await opts.keyStore.lookup(raw);
    } catch (err) {
      logger.error({ request_id: state.requestId, error: (err as Error).message }, 'key store lookup failed');
      return { error: new AtiError('ATI_ERR_UNAVAILABLE', 'key store unavailable') };
    }
    if (!caller) {
      logger.info(
        { request_id: state.requestId, path: state.path, reason: 'unknown, revoked or expired key' },
        'auth rejected',
      );
      hot.auth.inc('key_rejected', { outcome: 'key_rejected' });
      return unauthenticated('unknown, revoked or expired key', REALM);
    }
    state.caller = caller;
    hot.auth.inc('key_ok', { outcome: 'key_ok' });
    return undefined;
  }

  async function viaJwt(token: string, verifier: JwtVerifier, state: RequestState): Promise<Rejection | undefined> {
    try {
      state.caller = await verifier.verify(token);
      hot.auth.inc('jwt_ok', { outcome: 'jwt_ok' });
      return undefined;
    } catch (err) {
      const kind = (err as { kind?: string }).kind ?? 'InvalidToken';
      logger.info({ request_id: state.requestId, path: state.path, reason: (err as Error).message }, 'auth rejected');
      hot.auth.inc('jwt_rejected', { outcome: 'jwt_rejected' });
      return unauthenticated(`invalid bearer token (${kind})`, `${REALM}, error="invalid_token"`);
    }
  }

  return {
    name: 'auth',
    run(req: IncomingMessage, state: RequestState): Rejection | undefined | Promise<Rejection | undefined> {
      const access = state.named?.access;
      if (access === 'admin' || access === 'public') return undefined;
      if (
        !state.named &&
        opts.enablePassthrough &&
        (state.passthrough !== undefined ? state.passthrough : state.gen.routes.match(req.headers.host, state.path))
      ) {
        hot.auth.inc('passthrough_bypass', { outcome: 'passthrough_bypass' });
        return undefined;
      }

      const auth = parseAuthorization(req.headers.authorization);
      if (auth?.scheme === 'ati-key') return viaKeyStore(auth.credentials, state);
      if (!opts.jwtConfigured) {
        state.caller = DEV_CALLER;
        hot.auth.inc('dev', { outcome: 'dev' });
        return undefined;
      }
      const verifier = verifierOf(state.gen);
      if (!verifier) throw new AtiError('ATI_ERR_INTERNAL', 'JWT is configured but the generation carries no verifier');
      if (auth?.scheme !== 'bearer' || auth.credentials === '') {
        hot.auth.inc('jwt_rejected', { outcome: 'jwt_rejected' });
        return unauthenticated(
          auth
            ? `unsupported authorization scheme; use Bearer`
            : 'authentication required: send Authorization: Bearer <token>',
          REALM,
        );
      }
      const cached = verifier.peek(auth.credentials);
      if (cached) {
        state.caller = cached; // no promise on the hot path
        hot.auth.inc('jwt_ok', { outcome: 'jwt_ok' });
        return undefined;
      }
      return viaJwt(auth.credentials, verifier, state);
    },
  };
}

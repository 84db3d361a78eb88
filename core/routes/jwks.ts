/**
 * `GET /.well-known/jwks.json` (ref-03 §4.5), public. With an ES256 key: one
 * standard EC JWK (`kty`, `crv`, `x`, `y`, `alg`, `use`, `kid` = RFC 7638
 * thumbprint, the `kid` our tokens carry) plus the reference's legacy `x5c`
 * member (standard base64 of the SPKI DER) for its existing clients. With
 * HS256, a remote JWKS only, or no JWT: 404 `{"error":"JWKS not configured"}`.
 * The key comes from the serving generation, so a reload publishes a rotated key.
 */
import { AtiError } from '../../kernel/errors.js';
import type { RouteModule } from '../host/host.js';
import { JWT_VERIFIER } from '../pipeline/jwt.js';
import { stateOf } from '../host/request-state.js';

export const jwksRoutes: RouteModule = (app) => {
  app.get('/.well-known/jwks.json', { config: { access: 'public' } }, async (request, reply) => {
    const verifier = JWT_VERIFIER.get(stateOf(request).gen);
    const keys = verifier?.keys;
    if (keys?.algorithm !== 'ES256' || !keys.publicJwk || !keys.spkiDer) {
      throw new AtiError('ATI_ERR_NOT_FOUND', 'JWKS not configured');
    }
    const { kty, crv, x, y, kid } = keys.publicJwk;
    void reply.header('Cache-Control', 'public, max-age=300');
    return { keys: [{ kty, crv, x, y, alg: 'ES256', use: 'sig', kid, x5c: [keys.spkiDer.toString('base64')] }] };
  });
};

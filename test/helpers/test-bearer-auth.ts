/**
 * A pipeline stage standing in for JWT auth in route tests: the caller comes from
 * `Authorization: Bearer test:<base64url JSON {sub, scopes}>`; no header = no caller.
 */
import { AtiError } from '../../kernel/errors.js';
import type { PipelineStage } from '../../core/pipeline/types.js';

export const testBearerAuth: PipelineStage = {
  name: 'test-auth',
  run(req, state) {
    const h = req.headers['authorization'];
    if (!h) return undefined;
    const m = /^Bearer test:(.+)$/.exec(h);
    if (!m) return { error: new AtiError('ATI_ERR_UNAUTHENTICATED') };
    const c = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as { sub: string; scopes: string[] };
    state.caller = { sub: c.sub, scopes: c.scopes, unrestricted: c.scopes.includes('*') };
    return undefined;
  },
};

/** The token `testBearerAuth` reads. */
export function testToken(sub: string, scopes: string[]): string {
  return `test:${Buffer.from(JSON.stringify({ sub, scopes })).toString('base64url')}`;
}

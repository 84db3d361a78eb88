import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { calculateJwkThumbprint, createRemoteJWKSet, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { issueToken } from '../../../core/pipeline/jwt-tokens.js';
import { ecPublicJwk } from '../../../config/jwt-config.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { HEX_SECRET, startPipelineHost, type PipelineHost } from './fixtures.js';

describe('GET /.well-known/jwks.json', () => {
  let ph: PipelineHost | undefined;
  let keyDir: TempAtiDir | undefined;
  afterEach(async () => {
    await ph?.close();
    ph = undefined;
    await keyDir?.cleanup();
    keyDir = undefined;
  });

  it('ES256: a standard EC JWK (kid = RFC 7638 thumbprint) plus the legacy x5c; standard clients verify our tokens with it', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    keyDir = await makeAtiDir({ 'pub.pem': pem });
    ph = await startPipelineHost({ config: { env: { ATI_JWT_PUBLIC_KEY: path.join(keyDir.dir, 'pub.pem') } } });

    const res = await fetch(`${ph.url}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/max-age/);
    const body = (await res.json()) as { keys: Array<Record<string, unknown>> };
    expect(body.keys).toHaveLength(1);
    const k = body.keys[0]!;
    expect(Object.keys(k).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'x5c', 'y']);
    expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(k['kid']).toBe(
      await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: k['x'] as string, y: k['y'] as string }),
    );
    const pemBody = pem
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
    expect(k['x5c']).toEqual([pemBody]);

    const kid = ecPublicJwk(pair.publicKey).kid;
    expect(k['kid']).toBe(kid);
    const token = await issueToken(
      { algorithm: 'ES256', key: pair.privateKey, kid },
      { sub: 'a', scope: '*', ttlSeconds: 60, aud: 'ati-proxy' },
    );
    const { payload, protectedHeader } = await jwtVerify(
      token,
      createRemoteJWKSet(new URL(`${ph.url}/.well-known/jwks.json`)),
      { audience: 'ati-proxy' },
    );
    expect(payload.sub).toBe('a');
    expect(protectedHeader.kid).toBe(kid);
  });

  it('HS256, dev mode and a remote-JWKS-only setup answer 404 {"error":"JWKS not configured"}, without auth', async () => {
    for (const env of [{ ATI_JWT_SECRET: HEX_SECRET }, {}, { ATI_JWT_JWKS_URL: 'http://127.0.0.1:9/jwks' }]) {
      ph = await startPipelineHost({ config: { env } });
      const res = await fetch(`${ph.url}/.well-known/jwks.json`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'JWKS not configured' });
      await ph.close();
      ph = undefined;
    }
  });
});

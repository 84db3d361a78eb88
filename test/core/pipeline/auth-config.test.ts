import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBindAllowed, isLoopbackBind } from '../../../config/bind-policy.js';
import { loadJwtKeys, readJwtSettings } from '../../../config/jwt-config.js';
import { defaultProxyConfig } from '../../../config/proxy-config.js';
import { silentLogger } from '../../../kernel/logger.js';
import { buildRequestPipeline } from '../../../core/pipeline/build.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { HEX_SECRET } from './fixtures.js';

const pem = (k: ReturnType<typeof generateKeyPairSync>['publicKey'], type: 'spki' | 'pkcs8' | 'sec1' = 'spki') =>
  k.export({ type, format: 'pem' } as never) as unknown as string;

describe('JWT configuration fails closed', () => {
  let dir: TempAtiDir;
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const f = (name: string) => path.join(dir.dir, name);
  beforeAll(async () => {
    dir = await makeAtiDir({
      'pub.pem': pem(ec.publicKey),
      'priv.pem': pem(ec.privateKey, 'pkcs8'),
      'sec1.pem': pem(ec.privateKey, 'sec1'),
      'other-priv.pem': pem(other.privateKey, 'pkcs8'),
      'p384.pem': pem(p384.publicKey),
      'rsa.pem': pem(rsa.publicKey),
      'junk.pem': 'hello',
    });
  });
  afterAll(async () => {
    await dir.cleanup();
  });

  const fails = (env: NodeJS.ProcessEnv, re: RegExp) => {
    let err: unknown;
    try {
      const s = readJwtSettings(env);
      if (s) loadJwtKeys(s);
    } catch (e) {
      err = e;
    }
    expect(err, JSON.stringify(env)).toMatchObject({ code: 'ATI_ERR_AUTH_CONFIG' });
    expect((err as Error).message).toMatch(re);
  };

  it('no ATI_JWT_* → dev mode', () => {
    expect(readJwtSettings({})).toBeUndefined();
  });

  it('HS256 secret: strict hex, at least 32 bytes, not empty', () => {
    fails({ ATI_JWT_SECRET: 'zz'.repeat(32) }, /ATI_JWT_SECRET must be hex/);
    fails({ ATI_JWT_SECRET: 'abc' }, /ATI_JWT_SECRET must be hex/);
    fails({ ATI_JWT_SECRET: 'ab'.repeat(31) }, /31 bytes; at least 32/);
    fails({ ATI_JWT_SECRET: '' }, /ATI_JWT_SECRET is empty/);
    fails({ ATI_JWT_SECRET: `${'ab'.repeat(32)}x` }, /must be hex/);
    const s = readJwtSettings({ ATI_JWT_SECRET: HEX_SECRET.toUpperCase() })!;
    expect(loadJwtKeys(s).algorithm).toBe('HS256');
    expect(s.audience).toBe('ati-proxy');
  });

  it('ES256 key files: unreadable, not PEM, wrong curve or type, mismatched pair', () => {
    fails({ ATI_JWT_PUBLIC_KEY: f('missing.pem') }, /ATI_JWT_PUBLIC_KEY: cannot read .*missing\.pem: ENOENT/);
    fails({ ATI_JWT_PUBLIC_KEY: f('junk.pem') }, /ATI_JWT_PUBLIC_KEY: not a PEM public key/);
    fails({ ATI_JWT_PUBLIC_KEY: f('p384.pem') }, /P-256 .* got EC curve secp384r1/);
    fails({ ATI_JWT_PUBLIC_KEY: f('rsa.pem') }, /P-256 .* got rsa key/);
    fails(
      { ATI_JWT_PUBLIC_KEY: f('pub.pem'), ATI_JWT_PRIVATE_KEY: f('missing.pem') },
      /ATI_JWT_PRIVATE_KEY: cannot read/,
    );
    fails(
      { ATI_JWT_PUBLIC_KEY: f('pub.pem'), ATI_JWT_PRIVATE_KEY: f('other-priv.pem') },
      /does not belong to ATI_JWT_PUBLIC_KEY/,
    );
    fails({ ATI_JWT_PUBLIC_KEY: '' }, /set but empty/);
  });

  it('ES256 wins over HS256 (the secret must still be valid); a private key alone yields its public half', () => {
    const s = readJwtSettings({ ATI_JWT_PUBLIC_KEY: f('pub.pem'), ATI_JWT_SECRET: HEX_SECRET })!;
    expect(s.ignored).toEqual(['ATI_JWT_SECRET']);
    expect(loadJwtKeys(s).algorithm).toBe('ES256');
    fails({ ATI_JWT_PUBLIC_KEY: f('pub.pem'), ATI_JWT_SECRET: 'nothex' }, /must be hex/);
    const priv = loadJwtKeys(readJwtSettings({ ATI_JWT_PRIVATE_KEY: f('sec1.pem') })!);
    expect(priv.algorithm).toBe('ES256');
    expect(priv.publicJwk).toEqual(loadJwtKeys(readJwtSettings({ ATI_JWT_PUBLIC_KEY: f('pub.pem') })!).publicJwk);
  });

  it('JWKS URL: https, or http on loopback only; no credentials', () => {
    fails({ ATI_JWT_JWKS_URL: 'not a url' }, /not a URL/);
    fails({ ATI_JWT_JWKS_URL: 'http://issuer.example.com/jwks' }, /must use https/);
    fails({ ATI_JWT_JWKS_URL: 'https://u:p@issuer.example.com/jwks' }, /credentials/);
    expect(readJwtSettings({ ATI_JWT_JWKS_URL: 'https://issuer.example.com/jwks' })?.jwksUrl?.href).toBe(
      'https://issuer.example.com/jwks',
    );
    expect(readJwtSettings({ ATI_JWT_JWKS_URL: 'http://127.0.0.1:9/jwks' })).toBeDefined();
  });

  it('issuer or audience without any key is an error, not dev mode', () => {
    fails({ ATI_JWT_ISSUER: 'me' }, /ATI_JWT_ISSUER is set but no key is configured/);
    fails({ ATI_JWT_AUDIENCE: 'x', ATI_JWT_ISSUER: 'me' }, /are set but no key/);
    fails({ ATI_JWT_SECRET: HEX_SECRET, ATI_JWT_AUDIENCE: ' ' }, /ATI_JWT_AUDIENCE is set but empty/);
  });
});

describe('bind policy', () => {
  it('knows loopback addresses', () => {
    for (const b of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])
      expect(isLoopbackBind(b), b).toBe(true);
    for (const b of ['0.0.0.0', '[::]', '::', '10.0.0.5', '192.168.1.1', 'example.com'])
      expect(isLoopbackBind(b), b).toBe(false);
  });

  it('refuses a non-loopback bind without auth unless --insecure-no-auth', () => {
    expect(() => assertBindAllowed('0.0.0.0', false, false)).toThrow(
      /refusing to listen on 0\.0\.0\.0 without authentication.*--insecure-no-auth/,
    );
    expect(() => assertBindAllowed('0.0.0.0', false, true)).not.toThrow();
    expect(() => assertBindAllowed('0.0.0.0', true, false)).not.toThrow();
    expect(() => assertBindAllowed('127.0.0.1', false, false)).not.toThrow();
  });

  it('buildRequestPipeline applies it (and the JWT checks) before anything binds', () => {
    const logger = silentLogger();
    expect(() => buildRequestPipeline(defaultProxyConfig({ bind: '[::]', env: {} }), { logger })).toThrow(
      /refusing to listen/,
    );
    expect(() =>
      buildRequestPipeline(defaultProxyConfig({ bind: '[::]', env: { ATI_JWT_SECRET: HEX_SECRET } }), { logger }),
    ).not.toThrow();
    expect(() => buildRequestPipeline(defaultProxyConfig({ env: { ATI_JWT_SECRET: 'short' } }), { logger })).toThrow(
      /ATI_JWT_SECRET/,
    );
    expect(() => buildRequestPipeline(defaultProxyConfig({ env: {}, sigExemptPaths: ['/{a,b'] }), { logger })).toThrow(
      /bad exempt path pattern '\/\{a,b'/,
    );
  });
});

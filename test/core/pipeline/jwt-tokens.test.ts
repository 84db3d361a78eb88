import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateKeys,
  inspectToken,
  issueToken,
  parseAlgorithm,
  parseRateArg,
  resolveSigningKey,
  validateToken,
  validationVerifier,
} from '../../../core/pipeline/jwt-tokens.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { HEX_SECRET } from './fixtures.js';

const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>;

describe('ati token logic', () => {
  let dir: TempAtiDir;
  const es = generateKeys('ES256');
  if (es.algorithm !== 'ES256') throw new Error('unreachable');
  beforeAll(async () => {
    dir = await makeAtiDir({ 'priv.pem': es.privatePem, 'pub.pem': es.publicPem });
  });
  afterAll(async () => {
    await dir.cleanup();
  });
  const f = (n: string) => path.join(dir.dir, n);

  it('--algorithm is case-insensitive; others get the reference message', () => {
    expect(parseAlgorithm('es256')).toBe('ES256');
    expect(parseAlgorithm('Hs256')).toBe('HS256');
    expect(() => parseAlgorithm('RS256')).toThrow('Unsupported algorithm: RS256. Use ES256 or HS256.');
  });

  it('keygen: PKCS#8 + SPKI PEMs with a thumbprint kid, or 64 lower-case hex digits', () => {
    expect(es.privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(es.publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(es.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const hs = generateKeys('HS256');
    expect(hs.algorithm === 'HS256' && hs.secretHex).toMatch(/^[0-9a-f]{64}$/);
  });

  it('--rate: split at the first "=", spec validated; the reference message otherwise', () => {
    expect(parseRateArg('tool:github:*=10/hour')).toEqual(['tool:github:*', '10/hour']);
    for (const bad of ['nope', 'tool:x=10/week', '=1/s']) {
      expect(() => parseRateArg(bad), bad).toThrow(
        `Invalid rate spec '${bad}': expected pattern=count/unit (e.g. tool:github:*=10/hour)`,
      );
    }
  });

  it('issue: the reference claim set and order; ES256 carries kid; HS256 has no kid', async () => {
    const key = resolveSigningKey({ keyFile: f('priv.pem'), env: {} });
    const t = await issueToken(key, {
      sub: 's',
      scope: 'a b',
      ttlSeconds: 1800,
      aud: 'ati-proxy',
      iss: 'me',
      rate: { 'tool:*': '1/s' },
      now: 1000,
      jti: 'j',
    });
    const [h, p] = t.split('.');
    expect(decode(h!)).toEqual({ alg: 'ES256', typ: 'JWT', kid: es.kid });
    expect(Object.keys(decode(p!))).toEqual(['iss', 'sub', 'aud', 'iat', 'exp', 'jti', 'scope', 'ati']);
    expect(decode(p!)).toEqual({
      iss: 'me',
      sub: 's',
      aud: 'ati-proxy',
      iat: 1000,
      exp: 2800,
      jti: 'j',
      scope: 'a b',
      ati: { v: 1, rate: { 'tool:*': '1/s' } },
    });
    const hs = await issueToken(resolveSigningKey({ secretHex: HEX_SECRET, env: {} }), {
      sub: 's',
      scope: '',
      ttlSeconds: 60,
      aud: 'ati-proxy',
    });
    expect(decode(hs.split('.')[0]!)).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(decode(hs.split('.')[1]!)['ati']).toEqual({ v: 1 });
    await expect(issueToken(key, { sub: 's', scope: '', ttlSeconds: 0, aud: 'x' })).rejects.toThrow(/--ttl/);
  });

  it('signing key precedence: --key → --secret → environment → the reference error', () => {
    expect(resolveSigningKey({ keyFile: f('priv.pem'), secretHex: HEX_SECRET, env: {} }).algorithm).toBe('ES256');
    expect(resolveSigningKey({ secretHex: HEX_SECRET, env: { ATI_JWT_PRIVATE_KEY: f('priv.pem') } }).algorithm).toBe(
      'HS256',
    );
    expect(
      resolveSigningKey({ env: { ATI_JWT_PRIVATE_KEY: f('priv.pem'), ATI_JWT_PUBLIC_KEY: f('pub.pem') } }),
    ).toMatchObject({ algorithm: 'ES256', kid: es.kid });
    expect(resolveSigningKey({ env: { ATI_JWT_SECRET: HEX_SECRET } }).algorithm).toBe('HS256');
    expect(() => resolveSigningKey({ env: { ATI_JWT_PUBLIC_KEY: f('pub.pem') } })).toThrow(
      /No encoding key configured \(private key required for issuance\)/,
    );
    expect(() => resolveSigningKey({ env: {} })).toThrow(
      'No signing key available. Provide --key <path>, --secret <hex>, or set ATI_JWT_PRIVATE_KEY / ATI_JWT_SECRET.',
    );
    expect(() => resolveSigningKey({ secretHex: 'xyz', env: {} })).toThrow(/^Invalid hex secret: /);
    expect(() => resolveSigningKey({ keyFile: f('pub.pem'), env: {} })).toThrow(/--key: not a PEM private key/);
  });

  it('inspect: decodes without verifying, sorted keys, nulls for absent iss/jti/ati', async () => {
    const t = await issueToken(resolveSigningKey({ secretHex: HEX_SECRET, env: {} }), {
      sub: 's',
      scope: 'x  y',
      ttlSeconds: 60,
      aud: 'ati-proxy',
      now: 5,
      jti: 'j',
    });
    expect(inspectToken(t)).toEqual({
      ati: { v: 1 },
      aud: 'ati-proxy',
      exp: 65,
      iat: 5,
      iss: null,
      jti: 'j',
      scope: 'x  y',
      scopes: ['x', 'y'],
      sub: 's',
    });
    expect(() => inspectToken('garbage')).toThrow(/^Invalid token/);
  });

  it('validate: --key / --secret / environment; kinds for failures; no key → the reference error', async () => {
    const es256 = await issueToken(resolveSigningKey({ keyFile: f('priv.pem'), env: {} }), {
      sub: 's',
      scope: 'x',
      ttlSeconds: 60,
      aud: 'ati-proxy',
    });
    expect(await validateToken(validationVerifier({ keyFile: f('pub.pem'), env: {} }), es256)).toMatchObject({
      ok: true,
      caller: { sub: 's' },
    });
    expect(await validateToken(validationVerifier({ env: { ATI_JWT_PUBLIC_KEY: f('pub.pem') } }), es256)).toMatchObject(
      { ok: true },
    );
    expect(
      await validateToken(validationVerifier({ keyFile: f('pub.pem'), env: { ATI_JWT_AUDIENCE: 'other' } }), es256),
    ).toMatchObject({ ok: false, kind: 'InvalidAudience' });
    expect(await validateToken(validationVerifier({ secretHex: HEX_SECRET, env: {} }), es256)).toMatchObject({
      ok: false,
      kind: 'InvalidAlgorithm',
    });
    const old = await issueToken(resolveSigningKey({ secretHex: HEX_SECRET, env: {} }), {
      sub: 's',
      scope: 'x',
      ttlSeconds: 60,
      aud: 'ati-proxy',
      now: 1000,
    });
    expect(await validateToken(validationVerifier({ secretHex: HEX_SECRET, env: {} }), old)).toMatchObject({
      ok: false,
      kind: 'ExpiredSignature',
    });
    expect(() => validationVerifier({ env: {} })).toThrow(
      'No validation key available. Provide --key <path>, --secret <hex>, or set ATI_JWT_PUBLIC_KEY / ATI_JWT_SECRET.',
    );
  });
});

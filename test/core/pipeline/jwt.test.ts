import { createHmac, generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JwtVerifier, RemoteJwks } from '../../../core/pipeline/jwt.js';
import { issueToken } from '../../../core/pipeline/jwt-tokens.js';
import { ecPublicJwk, loadJwtKeys, readJwtSettings } from '../../../config/jwt-config.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { HEX_SECRET, probeManifest, startPipelineHost, type PipelineHost } from './fixtures.js';
import { findPyJwtPython, pyIssueToken } from './pyjwt.js';

const SECRET = Buffer.from(HEX_SECRET, 'hex');
const now = () => Math.floor(Date.now() / 1000);
const base = () => ({ sub: 'agent-1', aud: 'ati-proxy', iat: now(), exp: now() + 600, scope: '*', ati: { v: 1 } });
const files = { 'manifests/api.toml': probeManifest('api', { tools: [{ name: 'echo' }] }) };

function hs256(
  claims: Record<string, unknown>,
  secret: Uint8Array = SECRET,
  header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' },
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(secret);
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function get(
  url: string,
  auth?: string,
): Promise<{ status: number; body: Record<string, unknown>; www: string | null }> {
  const res = await fetch(`${url}/tools`, auth === undefined ? {} : { headers: { authorization: auth } });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    www: res.headers.get('www-authenticate'),
  };
}

describe('JWT validation over HTTP', () => {
  let ph: PipelineHost | undefined;
  afterEach(async () => {
    await ph?.close();
    ph = undefined;
  });

  describe('HS256 proxy', () => {
    let hsHost: PipelineHost;
    beforeAll(async () => {
      hsHost = await startPipelineHost({ files, config: { env: { ATI_JWT_SECRET: HEX_SECRET } } });
    });
    afterAll(async () => {
      await hsHost.close();
    });

    it('accepts a valid token; /health reports auth jwt', async () => {
      expect((await get(hsHost.url, `Bearer ${await hs256(base())}`)).status).toBe(200);
      const health = (await (await fetch(`${hsHost.url}/health`)).json()) as { auth: string };
      expect(health.auth).toBe('jwt');
    });

    it('matches the Bearer scheme case-insensitively', async () => {
      const t = await hs256(base());
      expect((await get(hsHost.url, `bearer ${t}`)).status).toBe(200);
      expect((await get(hsHost.url, `BEARER   ${t}`)).status).toBe(200);
    });

    it('accepts tokens minted by ati token issue --secret', async () => {
      const t = await issueToken(
        { algorithm: 'HS256', key: SECRET },
        { sub: 'a', scope: 'tool:echo', ttlSeconds: 60, aud: 'ati-proxy' },
      );
      expect((await get(hsHost.url, `Bearer ${t}`)).status).toBe(200);
    });

    it('accepts tokens minted by PyJWT exactly as the reference Python SDK does', async () => {
      expect(findPyJwtPython(), 'PyJWT missing: apt-get install -y python3-jwt').toBeDefined();
      const t = pyIssueToken({
        secret: HEX_SECRET,
        sub: 'sandbox-7',
        scope: 'tool:echo help',
        rate: { 'tool:*': '100/hour' },
      });
      const header = JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
      expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
      const payload = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      expect(Object.keys(payload)).toEqual(['sub', 'aud', 'iat', 'exp', 'scope', 'iss', 'jti', 'ati']);
      expect(payload).toMatchObject({ iss: 'ati-orchestrator', aud: 'ati-proxy', ati: { v: 1 } });
      const r = await get(hsHost.url, `Bearer ${t}`);
      expect(r.status).toBe(200);
      expect((r.body as unknown as Array<{ name: string }>).map((x) => x.name)).toEqual(['echo']);
    });

    const rejected: Array<[string, () => Promise<string>]> = [
      ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(base())}.`],
      ['wrong secret', () => hs256(base(), Buffer.alloc(32, 9))],
      ['wrong aud', () => hs256({ ...base(), aud: 'other' })],
      ['array aud', () => hs256({ ...base(), aud: ['ati-proxy'] })],
      ['expired beyond the 60 s leeway', () => hs256({ ...base(), iat: now() - 600, exp: now() - 120 })],
      ['nbf in the future', () => hs256({ ...base(), nbf: now() + 600 })],
      ['float exp', () => hs256({ ...base(), exp: now() + 600.5 })],
      ['string exp', () => hs256({ ...base(), exp: String(now() + 600) })],
      ['missing scope', () => hs256({ ...base(), scope: undefined })],
      ['missing sub', () => hs256({ ...base(), sub: undefined })],
      ['missing iat', () => hs256({ ...base(), iat: undefined })],
      ['ati without v', () => hs256({ ...base(), ati: { rate: {} } })],
      ['ati.v out of range', () => hs256({ ...base(), ati: { v: 256 } })],
      [
        'unparseable ati.rate (never silently unlimited)',
        () => hs256({ ...base(), ati: { v: 1, rate: { 'tool:*': '10/week' } } }),
      ],
      [
        'ES256 token against an HS256 proxy',
        async () => {
          const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
          return new SignJWT(base()).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
        },
      ],
      ['garbage', async () => 'not-a-jwt'],
      ['two segments', async () => `${b64({ alg: 'HS256' })}.${b64(base())}`],
    ];
    for (const [name, mint] of rejected) {
      it(`rejects: ${name} → 401 JSON with WWW-Authenticate: Bearer`, async () => {
        const r = await get(hsHost.url, `Bearer ${await mint()}`);
        expect(r.status).toBe(401);
        expect(r.body).toMatchObject({ code: 'ATI_ERR_UNAUTHENTICATED' });
        expect(r.www).toMatch(/^Bearer /);
      });
    }

    it('accepts a token expired less than the 60 s leeway ago (reference parity)', async () => {
      expect((await get(hsHost.url, `Bearer ${await hs256({ ...base(), exp: now() - 20 })}`)).status).toBe(200);
    });

    it('missing header, other scheme, empty token → 401 with a challenge', async () => {
      for (const auth of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer    ', 'Token abc']) {
        const r = await get(hsHost.url, auth);
        expect(r.status, String(auth)).toBe(401);
        expect(r.www, String(auth)).toMatch(/^Bearer/);
        expect(r.body['code']).toBe('ATI_ERR_UNAUTHENTICATED');
      }
    });
  });

  it('with ATI_JWT_ISSUER set: iss required and compared (PyJWT tokens carry ati-orchestrator)', async () => {
    ph = await startPipelineHost({
      files,
      config: { env: { ATI_JWT_SECRET: HEX_SECRET, ATI_JWT_ISSUER: 'ati-orchestrator' } },
    });
    expect((await get(ph.url, `Bearer ${pyIssueToken({ secret: HEX_SECRET, sub: 's', scope: '*' })}`)).status).toBe(
      200,
    );
    expect(
      (await get(ph.url, `Bearer ${pyIssueToken({ secret: HEX_SECRET, sub: 's', scope: '*', iss: null })}`)).status,
    ).toBe(401);
    expect((await get(ph.url, `Bearer ${await hs256({ ...base(), iss: 'someone-else' })}`)).status).toBe(401);
  });

  it('ATI_JWT_AUDIENCE changes the expected audience', async () => {
    ph = await startPipelineHost({
      files,
      config: { env: { ATI_JWT_SECRET: HEX_SECRET, ATI_JWT_AUDIENCE: 'my-proxy' } },
    });
    expect((await get(ph.url, `Bearer ${await hs256({ ...base(), aud: 'my-proxy' })}`)).status).toBe(200);
    expect((await get(ph.url, `Bearer ${await hs256(base())}`)).status).toBe(401);
  });

  describe('ES256 proxy', () => {
    let dir: TempAtiDir;
    let pubPath: string;
    let privPath: string;
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pubPem = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    beforeAll(async () => {
      dir = await makeAtiDir();
      pubPath = await dir.write('jwt-public.pem', pubPem);
      privPath = await dir.write('jwt-private.pem', pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    });
    afterAll(async () => {
      await dir.cleanup();
    });

    it('accepts ES256 tokens with or without kid; rejects HS256 key confusion with the public key as secret', async () => {
      ph = await startPipelineHost({
        files,
        config: { env: { ATI_JWT_PUBLIC_KEY: pubPath, ATI_JWT_PRIVATE_KEY: privPath } },
      });
      const kid = ecPublicJwk(pair.publicKey).kid;
      const withKid = await issueToken(
        { algorithm: 'ES256', key: pair.privateKey, kid },
        { sub: 'a', scope: '*', ttlSeconds: 60, aud: 'ati-proxy' },
      );
      expect((await get(ph.url, `Bearer ${withKid}`)).status).toBe(200);
      const noKid = await new SignJWT(base()).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(pair.privateKey);
      expect((await get(ph.url, `Bearer ${noKid}`)).status).toBe(200);
      // Key confusion: an HS256 token whose HMAC key is the public key's PEM (or DER) bytes.
      const confusedPem = await hs256(base(), Buffer.from(pubPem));
      expect((await get(ph.url, `Bearer ${confusedPem}`)).status).toBe(401);
      const der = pair.publicKey.export({ type: 'spki', format: 'der' });
      const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(base())}`;
      const confusedDer = `${input}.${createHmac('sha256', der).update(input).digest('base64url')}`;
      expect((await get(ph.url, `Bearer ${confusedDer}`)).status).toBe(401);
      // A token from another ES256 key.
      const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
      expect(
        (await get(ph.url, `Bearer ${await new SignJWT(base()).setProtectedHeader({ alg: 'ES256' }).sign(other)}`))
          .status,
      ).toBe(401);
    });

    it('a reload re-reads rotated key files; a broken key file keeps the serving keys', async () => {
      ph = await startPipelineHost({ files, config: { env: { ATI_JWT_PUBLIC_KEY: pubPath } } });
      const t1 = await new SignJWT(base()).setProtectedHeader({ alg: 'ES256' }).sign(pair.privateKey);
      expect((await get(ph.url, `Bearer ${t1}`)).status).toBe(200);
      const next = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      await dir.write('jwt-public.pem', 'not a pem');
      const rejectedReload = await ph.th.host.reload('test');
      expect(rejectedReload.status).toBe('rejected');
      expect((await get(ph.url, `Bearer ${t1}`)).status).toBe(200);
      await dir.write('jwt-public.pem', next.publicKey.export({ type: 'spki', format: 'pem' }) as string);
      expect((await ph.th.host.reload('test')).status).toBe('applied');
      expect(
        (
          await get(
            ph.url,
            `Bearer ${await new SignJWT(base()).setProtectedHeader({ alg: 'ES256' }).sign(next.privateKey)}`,
          )
        ).status,
      ).toBe(200);
      // A token signed by the retired key (even one cached before) is no longer accepted.
      expect(
        (
          await get(
            ph.url,
            `Bearer ${await new SignJWT({ ...base(), jti: 'fresh' }).setProtectedHeader({ alg: 'ES256' }).sign(pair.privateKey)}`,
          )
        ).status,
      ).toBe(401);
      expect((await get(ph.url, `Bearer ${t1}`)).status).toBe(401);
      await dir.write('jwt-public.pem', pubPem);
    });
  });
});

describe('verified-token cache', () => {
  it('caches by token hash until exp + leeway, bounded (LRU)', async () => {
    let clock = Date.now();
    const keys = loadJwtKeys(readJwtSettings({ ATI_JWT_SECRET: HEX_SECRET })!);
    const v = new JwtVerifier({ settings: { audience: 'ati-proxy' }, keys, cacheSize: 2, now: () => clock });
    const t = await hs256({ ...base(), exp: now() + 10 });
    const c1 = await v.verify(t);
    expect(c1.validUntil).toBe(now() + 70);
    expect(await v.verify(t)).toBe(c1); // same object: served from the cache
    expect(v.cached).toBe(1);
    await v.verify(await hs256({ ...base(), jti: 'b' }));
    await v.verify(await hs256({ ...base(), jti: 'c' }));
    expect(v.cached).toBe(2); // bounded: the least recently used entry (t) left
    expect(await v.verify(t)).not.toBe(c1); // verified again
    clock += 75_000; // past exp (10 s) + leeway (60 s): the cached entry is void and validation rejects
    await expect(v.verify(t)).rejects.toMatchObject({ kind: 'ExpiredSignature' });
  });
});

describe('remote JWKS (ATI_JWT_JWKS_URL)', () => {
  let server: http.Server;
  let url: string;
  let jwks: { keys: unknown[] };
  let fetches = 0;
  const k1 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const k2 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const sign = (key: typeof k1, kid: string, claims: Record<string, unknown> = base()) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(key.privateKey);

  beforeAll(async () => {
    jwks = { keys: [{ ...(await exportJWK(k1.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    server = http.createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it('verifies tokens by kid; unknown kids do not hammer the JWKS endpoint', async () => {
    fetches = 0;
    const ph = await startPipelineHost({ files, config: { env: { ATI_JWT_JWKS_URL: url } } });
    try {
      expect((await get(ph.url, `Bearer ${await sign(k1, 'k1')}`)).status).toBe(200);
      expect(fetches).toBe(1);
      expect((await get(ph.url, `Bearer ${await sign(k1, 'k1', { ...base(), jti: 'x' })}`)).status).toBe(200);
      expect(fetches).toBe(1);
      // Unknown kids right after a fetch: no refetch within 30 s, however many arrive.
      for (let i = 0; i < 5; i++) expect((await get(ph.url, `Bearer ${await sign(k2, `k-${i}`)}`)).status).toBe(401);
      expect(fetches).toBe(1);
      expect((await get(ph.url, `Bearer ${await hs256(base())}`)).status).toBe(401); // HMAC never via JWKS
    } finally {
      await ph.close();
    }
  });

  it('picks up a rotated key after the cooldown', async () => {
    fetches = 0;
    let clock = 1_000_000;
    const remote = new RemoteJwks(new URL(url), { now: () => clock });
    const v = new JwtVerifier({
      settings: { audience: 'ati-proxy' },
      keys: { algorithm: undefined, fingerprint: 'r' },
      remote,
    });
    await v.verify(await sign(k1, 'k1'));
    expect(fetches).toBe(1);
    const t2 = await sign(k2, 'k2');
    jwks.keys.push({ ...(await exportJWK(k2.publicKey)), kid: 'k2', alg: 'ES256' });
    clock += 10_000;
    await expect(v.verify(t2)).rejects.toMatchObject({ kind: 'InvalidKeyId' }); // cooling down: no fetch
    expect(fetches).toBe(1);
    clock += 25_000;
    expect((await v.verify(t2)).sub).toBe('agent-1'); // unknown kid after the cooldown: one refetch
    expect(fetches).toBe(2);
    const t3 = await sign(k2, 'k3');
    await expect(v.verify(t3)).rejects.toMatchObject({ kind: 'InvalidKeyId' });
    expect(fetches).toBe(2);
  });
});

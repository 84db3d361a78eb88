import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { RouteModule } from '../../../core/host/host.js';
import type { CallerIdentity } from '../../../core/plugin/contract.js';
import type { KeyStore } from '../../../core/pipeline/key-store.js';
import { parseAuthorization } from '../../../core/pipeline/auth.js';
import { signRequest } from '../../../kernel/request-signature.js';
import { stateOf } from '../../../core/host/request-state.js';
import { rawRequest } from '../../helpers/raw-http.js';
import { HEX_SECRET, probeManifest, startPipelineHost, type PipelineHost } from './fixtures.js';

const SECRET = Buffer.from(HEX_SECRET, 'hex');
const now = () => Math.floor(Date.now() / 1000);
const token = (claims: Record<string, unknown> = {}) =>
  new SignJWT({ sub: 'agent-1', aud: 'ati-proxy', iat: now(), exp: now() + 600, scope: '*', ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(SECRET);

/** Echoes who the pipeline said the caller is. */
const whoami: RouteModule = (app) => {
  app.get('/whoami', async (request) => {
    const c = stateOf(request).caller;
    return c
      ? { sub: c.sub, scopes: c.scopes, unrestricted: c.unrestricted, jobId: c.jobId ?? null }
      : { caller: null };
  });
  app.get('/admin/thing', { config: { access: 'admin' } }, async (request) => ({
    caller: stateOf(request).caller ?? null,
  }));
};

const files = {
  'manifests/api.toml': probeManifest('api', { routePrefix: '/api', tools: [{ name: 'echo' }] }),
  credentials: JSON.stringify({ sandbox_signing_shared_secret: HEX_SECRET }),
};
const JWT_ENV = { ATI_JWT_SECRET: HEX_SECRET };

class MemoryKeyStore implements KeyStore {
  lookups: string[] = [];
  constructor(
    private readonly keys: Record<string, CallerIdentity>,
    private readonly fail = false,
  ) {}
  async lookup(raw: string): Promise<CallerIdentity | undefined> {
    this.lookups.push(raw);
    if (this.fail) throw new Error('db down');
    return this.keys[raw];
  }
}

describe('auth stage (the reference order)', () => {
  let ph: PipelineHost | undefined;
  afterEach(async () => {
    await ph?.close();
    ph = undefined;
  });

  it('public named routes need no token; caller routes do', async () => {
    ph = await startPipelineHost({ files, config: { env: JWT_ENV }, routes: [whoami] });
    expect((await rawRequest(ph.url, '/health')).status).toBe(200);
    expect((await rawRequest(ph.url, '/readyz')).status).toBe(200);
    expect((await rawRequest(ph.url, '/.well-known/jwks.json')).status).toBe(404);
    expect((await rawRequest(ph.url, '/whoami')).status).toBe(401);
    const ok = await rawRequest(ph.url, '/whoami', {
      headers: { authorization: `Bearer ${await token({ scope: 'tool:a  help', job_id: 'j1' })}` },
    });
    expect(JSON.parse(ok.body)).toEqual({
      sub: 'agent-1',
      scopes: ['tool:a', 'help'],
      unrestricted: false,
      jobId: 'j1',
    });
  });

  it('admin routes skip caller auth (they check the admin bearer themselves)', async () => {
    ph = await startPipelineHost({ files, config: { env: JWT_ENV }, routes: [whoami] });
    const r = await rawRequest(ph.url, '/admin/thing');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ caller: null });
  });

  it('passthrough bypass: a path a passthrough route claims needs no JWT; unclaimed and named paths do', async () => {
    ph = await startPipelineHost({ files, config: { env: JWT_ENV }, routes: [whoami] });
    const r = await rawRequest(ph.url, '/api/v1/things');
    expect(r.status).toBe(200);
    expect(ph.hits).toHaveLength(1);
    expect((await rawRequest(ph.url, '/other')).status).toBe(401); // no route claims it → JWT required, then 404
    expect((await rawRequest(ph.url, '/tools')).status).toBe(401);
  });

  it('the bypass follows the routing decision: a named route beats a catch-all passthrough route', async () => {
    ph = await startPipelineHost({
      files: { ...files, 'manifests/all.toml': probeManifest('all', { routePrefix: '/' }) },
      config: { env: JWT_ENV },
      routes: [whoami],
    });
    expect((await rawRequest(ph.url, '/whoami')).status).toBe(401);
    expect((await rawRequest(ph.url, '/tools')).status).toBe(401);
    expect((await rawRequest(ph.url, '/anything/else')).status).toBe(200);
    // `/tools/a/b` is not a named route here (the router has /tools/:name only), so the catch-all route serves it.
    expect((await rawRequest(ph.url, '/tools/a/b')).status).toBe(200);
  });

  it('with passthrough disabled there is no bypass', async () => {
    ph = await startPipelineHost({ files, config: { env: JWT_ENV, enablePassthrough: false } });
    expect((await rawRequest(ph.url, '/api/x')).status).toBe(401);
    const withToken = await rawRequest(ph.url, '/api/x', { headers: { authorization: `Bearer ${await token()}` } });
    expect(withToken.status).toBe(404);
    expect(JSON.parse(withToken.body)).toMatchObject({ error: 'not found: passthrough disabled' });
  });

  it('dev mode (no JWT): every caller route is open to the unrestricted dev caller', async () => {
    ph = await startPipelineHost({ files, routes: [whoami] });
    const r = await rawRequest(ph.url, '/whoami', { headers: { authorization: 'Bearer whatever' } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ sub: 'dev', scopes: ['*'], unrestricted: true });
  });

  it('Ati-Key without a key store → 503 JSON, also in dev mode', async () => {
    ph = await startPipelineHost({ files, routes: [whoami] });
    const r = await rawRequest(ph.url, '/whoami', { headers: { authorization: 'Ati-Key ati-key_abc' } });
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'ATI_ERR_UNAVAILABLE' });
  });

  it('Ati-Key with a key store: known → caller, unknown → 401, store failure → 503; takes precedence over JWT', async () => {
    const caller: CallerIdentity = { sub: 'user-9', scopes: ['tool:echo'], unrestricted: false, keyHash: 'abc123' };
    const store = new MemoryKeyStore({ 'ati-key_good': caller });
    ph = await startPipelineHost({ files, config: { env: JWT_ENV }, keyStore: store, routes: [whoami] });
    const ok = await rawRequest(ph.url, '/whoami', { headers: { authorization: 'Ati-Key ati-key_good' } });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ sub: 'user-9', scopes: ['tool:echo'] });
    const bad = await rawRequest(ph.url, '/whoami', { headers: { authorization: 'ati-key ati-key_nope' } });
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(store.lookups).toEqual(['ati-key_good', 'ati-key_nope']);
    await ph.close();
    ph = await startPipelineHost({
      files,
      config: { env: JWT_ENV },
      keyStore: new MemoryKeyStore({}, true),
      routes: [whoami],
    });
    expect((await rawRequest(ph.url, '/whoami', { headers: { authorization: 'Ati-Key ati-key_good' } })).status).toBe(
      503,
    );
  });

  it('enforce mode: an unsigned request is 403 from sig-verify before auth could 401 (harness F1)', async () => {
    ph = await startPipelineHost({ files, config: { env: JWT_ENV, sigVerifyMode: 'enforce' }, routes: [whoami] });
    const unsigned = await rawRequest(ph.url, '/whoami');
    expect(unsigned.status).toBe(403);
    expect(unsigned.body).toBe('missing_signature');
    const unsignedPassthrough = await rawRequest(ph.url, '/api/x');
    expect(unsignedPassthrough.status).toBe(403);
    // Signed: auth runs next — no token → 401; signed passthrough needs no JWT.
    const signedNoToken = await rawRequest(ph.url, '/whoami', {
      headers: { 'X-Sandbox-Signature': signRequest(SECRET, 'GET', '/whoami') },
    });
    expect(signedNoToken.status).toBe(401);
    const signedPassthrough = await rawRequest(ph.url, '/api/x', {
      headers: { 'X-Sandbox-Signature': signRequest(SECRET, 'GET', '/api/x') },
    });
    expect(signedPassthrough.status).toBe(200);
    const both = await rawRequest(ph.url, '/whoami', {
      headers: {
        'X-Sandbox-Signature': signRequest(SECRET, 'GET', '/whoami'),
        authorization: `Bearer ${await token()}`,
      },
    });
    expect(both.status).toBe(200);
  });

  it('warn mode: the 401 from auth carries X-Signature-Status', async () => {
    ph = await startPipelineHost({ files, config: { env: JWT_ENV, sigVerifyMode: 'warn' }, routes: [whoami] });
    const r = await rawRequest(ph.url, '/whoami');
    expect(r.status).toBe(401);
    expect(r.headers['x-signature-status']).toBe('missing_signature');
  });
});

describe('parseAuthorization', () => {
  it('splits scheme (lower-cased) and credentials; rejects non-ASCII', () => {
    expect(parseAuthorization('Bearer abc.def')).toEqual({ scheme: 'bearer', credentials: 'abc.def' });
    expect(parseAuthorization('Ati-Key  ati-key_x ')).toEqual({ scheme: 'ati-key', credentials: 'ati-key_x' });
    expect(parseAuthorization('Bearer')).toEqual({ scheme: 'bearer', credentials: '' });
    expect(parseAuthorization('Bearer t\u00e9st')).toBeUndefined();
    expect(parseAuthorization(undefined)).toBeUndefined();
  });
});

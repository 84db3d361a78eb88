import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RouteModule } from '../../../core/host/host.js';
import { signRequest } from '../../../kernel/request-signature.js';
import {
  checkSigVerifyStartup,
  compileExemptPaths,
  DEFAULT_SIG_EXEMPT_PATHS,
} from '../../../core/pipeline/sig-verify.js';
import { rawRequest } from '../../helpers/raw-http.js';
import { HEX_SECRET, probeManifest, startPipelineHost, type PipelineHost } from './fixtures.js';

const SECRET = Buffer.from(HEX_SECRET, 'hex');
const credentials = (entries: Record<string, string>) => JSON.stringify(entries);
const files = {
  'manifests/api.toml': probeManifest('api', { routePrefix: '/api', tools: [{ name: 'echo' }] }),
  'manifests/root.toml': probeManifest('rootfs', { routePrefix: '/root' }),
  credentials: credentials({ sandbox_signing_shared_secret: HEX_SECRET }),
};
const adminRoute: RouteModule = (app) => {
  app.get('/admin/ping', { config: { access: 'admin' } }, async () => ({ pong: true }));
};

describe('sig-verify stage over HTTP', () => {
  let ph: PipelineHost | undefined;
  afterEach(async () => {
    await ph?.close();
    ph = undefined;
  });

  const sigLines = () => ph!.logs.filter((l) => l.message === 'sig_verify');

  it('log mode: lets everything through and logs one line per verification with the reference fields', async () => {
    ph = await startPipelineHost({ files, config: { sigVerifyMode: 'log' } });
    const res = await rawRequest(ph.url, '/api/x?q=1', { headers: { 'X-Sandbox-Job-Id': 'job-42' } });
    expect(res.status).toBe(200);
    expect(res.headers['x-signature-status']).toBeUndefined();
    expect(sigLines()).toHaveLength(1);
    expect(sigLines()[0]).toMatchObject({
      level: 'INFO',
      mode: 'Log',
      valid: false,
      reason: 'missing_signature',
      job_id: 'job-42',
      method: 'GET',
      path: '/api/x',
    });
    const signed = await rawRequest(ph.url, '/api/x?q=2', {
      method: 'POST',
      headers: { 'X-Sandbox-Signature': signRequest(SECRET, 'POST', '/api/x') },
    });
    expect(signed.status).toBe(200);
    expect(sigLines()[1]).toMatchObject({ valid: true, reason: 'valid', job_id: 'none', method: 'POST' });
  });

  it('warn mode: X-Signature-Status on every response — handler, passthrough, 404, 405', async () => {
    ph = await startPipelineHost({ files, config: { sigVerifyMode: 'warn' } });
    const tools = await rawRequest(ph.url, '/tools');
    expect(tools.status).toBe(200);
    expect(tools.headers['x-signature-status']).toBe('missing_signature');
    const pass = await rawRequest(ph.url, '/api/y', {
      headers: { 'X-Sandbox-Signature': signRequest(SECRET, 'GET', '/api/y') },
    });
    expect(pass.status).toBe(200);
    expect(pass.headers['x-signature-status']).toBe('valid');
    const nf = await rawRequest(ph.url, '/nowhere', { headers: { 'X-Sandbox-Signature': 'garbage' } });
    expect(nf.status).toBe(404);
    expect(nf.headers['x-signature-status']).toBe('malformed_signature');
    const m = await rawRequest(ph.url, '/tools', {
      method: 'DELETE',
      headers: { 'X-Sandbox-Signature': `t=1,s=${'ab'.repeat(32)}` },
    });
    expect(m.status).toBe(405);
    expect(m.headers['x-signature-status']).toMatch(/^expired_timestamp_drift=\d+s$/);
  });

  it('enforce mode: an invalid signature is 403 with the bare reason, and nothing behind runs', async () => {
    ph = await startPipelineHost({ files, config: { sigVerifyMode: 'enforce' } });
    const unsigned = await rawRequest(ph.url, '/api/secret');
    expect(unsigned.status).toBe(403);
    expect(unsigned.body).toBe('missing_signature');
    expect(unsigned.headers['content-type']).not.toMatch(/json/);
    expect(unsigned.headers['x-signature-status']).toBeUndefined();
    const wrongPath = await rawRequest(ph.url, '/api/secret', {
      headers: { 'X-Sandbox-Signature': signRequest(SECRET, 'GET', '/api/other') },
    });
    expect(wrongPath.body).toBe('hmac_mismatch');
    const wrongMethod = await rawRequest(ph.url, '/api/secret', {
      method: 'POST',
      headers: { 'X-Sandbox-Signature': signRequest(SECRET, 'GET', '/api/secret') },
    });
    expect(wrongMethod.body).toBe('hmac_mismatch');
    const old = await rawRequest(ph.url, '/api/secret', {
      headers: {
        'X-Sandbox-Signature': signRequest(SECRET, 'GET', '/api/secret', Math.floor(Date.now() / 1000) - 120),
      },
    });
    expect(old.status).toBe(403);
    expect(old.body).toMatch(/^expired_timestamp_drift=1[12]\ds$/);
    expect(ph.hits).toHaveLength(0);
    // Named routes are gated too, as in the reference.
    expect((await rawRequest(ph.url, '/tools')).status).toBe(403);
    // The query string is not signed: the signature over the path alone is valid.
    const ok = await rawRequest(ph.url, '/api/secret?x=1&y=2', {
      headers: { 'X-Sandbox-Signature': signRequest(SECRET, 'GET', '/api/secret') },
    });
    expect(ok.status).toBe(200);
    expect(ph.hits.map((h) => h.path)).toEqual(['/api/secret']);
  });

  it('default exempt paths skip verification entirely (no log line, no header, never 403)', async () => {
    ph = await startPipelineHost({ files, config: { sigVerifyMode: 'enforce' } });
    expect((await rawRequest(ph.url, '/health')).status).toBe(200);
    expect((await rawRequest(ph.url, '/.well-known/jwks.json')).status).toBe(404); // JWKS not configured, but not 403
    expect((await rawRequest(ph.url, '/healthz')).status).toBe(404); // exempt, no route
    expect((await rawRequest(ph.url, '/root/deep/file')).status).toBe(200);
    expect((await rawRequest(ph.url, '/root/')).status).toBe(200);
    expect(sigLines()).toHaveLength(0);
    // Not exempt: the bare prefixes and trailing-slash variants.
    for (const p of ['/root', '/health/', '/healthz/', '/npm', '/otel']) {
      const r = await rawRequest(ph.url, p);
      expect(r.status, p).toBe(403);
    }
    expect(sigLines()).toHaveLength(5);
  });

  it('warn mode: exempt paths carry no X-Signature-Status', async () => {
    ph = await startPipelineHost({ files, config: { sigVerifyMode: 'warn' } });
    const r = await rawRequest(ph.url, '/health');
    expect(r.headers['x-signature-status']).toBeUndefined();
  });

  it('--sig-exempt-paths replaces the defaults; the glob "*" crosses "/"', async () => {
    ph = await startPipelineHost({ files, config: { sigVerifyMode: 'enforce', sigExemptPaths: ['/api/public*'] } });
    expect((await rawRequest(ph.url, '/health')).status).toBe(403);
    expect((await rawRequest(ph.url, '/root/x')).status).toBe(403);
    expect((await rawRequest(ph.url, '/api/public')).status).toBe(200);
    expect((await rawRequest(ph.url, '/api/public/a/b/c')).status).toBe(200);
    expect((await rawRequest(ph.url, '/api/publicity')).status).toBe(200);
    expect((await rawRequest(ph.url, '/api/private')).status).toBe(403);
  });

  it('admin routes are not sig-verified', async () => {
    ph = await startPipelineHost({ files, config: { sigVerifyMode: 'enforce' }, routes: [adminRoute] });
    const r = await rawRequest(ph.url, '/admin/ping');
    expect(r.status).toBe(200);
    expect(sigLines()).toHaveLength(0);
  });

  it('accepts the previous secret while both entries exist; a reload rotates', async () => {
    const prevHex = 'ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100';
    ph = await startPipelineHost({ files, config: { sigVerifyMode: 'enforce' } });
    const sign = (hex: string) => ({
      headers: { 'X-Sandbox-Signature': signRequest(Buffer.from(hex, 'hex'), 'GET', '/api/r') },
    });
    expect((await rawRequest(ph.url, '/api/r', sign(HEX_SECRET))).status).toBe(200);
    expect((await rawRequest(ph.url, '/api/r', sign(prevHex))).status).toBe(403);
    // Rotate: new current, old one kept as _previous.
    await ph.dir.write(
      'credentials',
      credentials({ sandbox_signing_shared_secret: prevHex, sandbox_signing_shared_secret_previous: HEX_SECRET }),
    );
    expect((await ph.th.host.reload('test')).status).toBe('applied');
    expect((await rawRequest(ph.url, '/api/r', sign(prevHex))).status).toBe(200);
    expect((await rawRequest(ph.url, '/api/r', sign(HEX_SECRET))).status).toBe(200);
    // Drop the previous entry: the old secret stops working.
    await ph.dir.write('credentials', credentials({ sandbox_signing_shared_secret: prevHex }));
    await ph.th.host.reload('test');
    const stale = await rawRequest(ph.url, '/api/r', sign(HEX_SECRET));
    expect(stale.status).toBe(403);
    expect(stale.body).toBe('hmac_mismatch');
    expect(ph.logs.some((l) => l.message === 'sandbox signing secret loaded' && l['previous_secret'] === true)).toBe(
      true,
    );
  });

  it('without a secret, log/warn report no_signing_secret_configured for well-formed in-window signatures', async () => {
    ph = await startPipelineHost({ files: { ...files, credentials: '{}' }, config: { sigVerifyMode: 'warn' } });
    const r = await rawRequest(ph.url, '/api/x', {
      headers: { 'X-Sandbox-Signature': signRequest(SECRET, 'GET', '/api/x') },
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-signature-status']).toBe('no_signing_secret_configured');
    expect(
      ph.logs.some(
        (l) =>
          l.level === 'WARN' &&
          l.message.startsWith("sandbox signing secret 'sandbox_signing_shared_secret' not present in keyring"),
      ),
    ).toBe(true);
  });

  it('an empty or short secret counts as absent', async () => {
    ph = await startPipelineHost({
      files: { ...files, credentials: credentials({ sandbox_signing_shared_secret: '' }) },
      config: { sigVerifyMode: 'enforce' },
    });
    const forged = signRequest(Buffer.alloc(0), 'GET', '/api/x');
    const r = await rawRequest(ph.url, '/api/x', { headers: { 'X-Sandbox-Signature': forged } });
    expect(r.status).toBe(403);
    expect(r.body).toBe('no_signing_secret_configured');
  });

  it('WebSocket upgrades are verified like requests: unsigned → 403 with the bare reason', async () => {
    ph = await startPipelineHost({ files, config: { sigVerifyMode: 'enforce' } });
    const port = Number(new URL(ph.url).port);
    const response = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.write(
          'GET /api/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
      });
      let data = '';
      sock.on('data', (d: Buffer) => (data += d.toString()));
      sock.on('end', () => resolve(data));
      sock.on('error', reject);
    });
    expect(response).toMatch(/^HTTP\/1\.1 403 /);
    expect(response.endsWith('\r\n\r\nmissing_signature')).toBe(true);
  });

  it('startup: enforce without a (≥ 16-byte) secret is fatal; log/warn with passthrough logs the ERROR banner', async () => {
    ph = await startPipelineHost({
      files: { ...files, credentials: credentials({ sandbox_signing_shared_secret: 'fifteen-bytes!!' }) },
    });
    const gen = ph.th.host.current;
    expect(gen.signingSecrets).toHaveLength(0);
    let err: unknown;
    try {
      checkSigVerifyStartup('enforce', true, gen, ph.th.host.logger);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ATI_ERR_SIG_CONFIG' });
    expect((err as Error).message).toMatch(
      /^--sig-verify-mode enforce requires the keyring entry 'sandbox_signing_shared_secret'/,
    );
    checkSigVerifyStartup('warn', true, gen, ph.th.host.logger);
    expect(
      ph.logs.find(
        (l) =>
          l.level === 'ERROR' && l.message.startsWith('*** SIG-VERIFY IS NON-BLOCKING AND NO SECRET IS CONFIGURED'),
      ),
    ).toMatchObject({ mode: 'Warn' });
    expect(ph.logs.some((l) => l.level === 'WARN' && l.message.includes('shorter than 16 bytes'))).toBe(true);
  });

  it('a bad exempt glob is a startup error naming the pattern', () => {
    expect(() => compileExemptPaths(['/ok', '/bad[z-a]'])).toThrow(/^bad exempt path pattern '\/bad\[z-a\]': /);
    expect(compileExemptPaths(DEFAULT_SIG_EXEMPT_PATHS).matches('/root/../etc')).toBe(true);
  });
});

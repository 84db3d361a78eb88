/**
 * Passthrough through the real `bin/ati proxy` process (needs a fresh `npx tsc` build).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { REPO_ROOT, startProxy, type ProxyProcess } from '../../helpers/proxy-process.js';
import { signRequest } from '../../../kernel/request-signature.js';
import { send } from './client.js';
import { ptManifest } from './harness.js';
import { startEchoUpstream, startWsUpstream, valuesOf, type EchoUpstream, type WsUpstream } from './upstreams.js';

describe('passthrough e2e (bin/ati proxy --enable-passthrough)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  let up: EchoUpstream | undefined;
  let wsUp: WsUpstream | undefined;

  afterEach(async () => {
    await proxy?.stop();
    await up?.close();
    await wsUp?.close();
    await dir?.cleanup();
    dir = proxy = up = wsUp = undefined;
  });

  it('serves HTTP and WebSocket routes with the injected credential and logs no secret', async () => {
    up = await startEchoUpstream();
    wsUp = await startWsUpstream();
    dir = await makeAtiDir({
      'manifests/api.toml': ptManifest(
        'api',
        up.url,
        'path_prefix = "/api"\nauth_type = "bearer"\nauth_key_name = "api_key"\ndeny_paths = ["/admin"]',
      ),
      'manifests/ws.toml': ptManifest(
        'ws',
        wsUp.url,
        'host_match = "ws.local"\nforward_websockets = true\nauth_type = "query"\nauth_key_name = "api_key"',
      ),
      'manifests/example.toml': await readFile(path.join(REPO_ROOT, 'manifests', 'example-passthrough.toml'), 'utf8'),
      credentials: JSON.stringify({ api_key: 'e2e-secret-value-42' }),
    });
    proxy = await startProxy({ atiDir: dir.dir, args: ['--enable-passthrough'] });
    const started = proxy.logs.find((l) => l.message === 'ATI proxy server starting')!;
    expect(started['passthrough']).toBe(3);

    const r = await send(proxy.url, '/api/v1/things?x=1', {
      method: 'POST',
      body: '{"a":1}',
      headers: { authorization: 'Bearer sandbox', 'x-sandbox-signature': 't=1,s=00' },
    });
    expect(r.status).toBe(200);
    const seen = up.requests[0]!;
    expect(seen.url).toBe('/v1/things?x=1');
    expect(valuesOf(seen, 'authorization')).toEqual(['Bearer e2e-secret-value-42']);
    expect(valuesOf(seen, 'x-sandbox-signature')).toEqual([]);
    expect((await send(proxy.url, '/api/admin')).status).toBe(403);

    const ws = new WebSocket(`${proxy.url.replace('http', 'ws')}/chat?room=7`, { headers: { host: 'WS.local' } });
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hi'));
      ws.on('message', (d: Buffer) => resolve(d.toString()));
      ws.on('error', reject);
    });
    ws.close();
    expect(echoed).toBe('hi');
    expect(wsUp.handshakes[0]!.url).toBe('/chat?room=7&api_key=e2e-secret-value-42');

    await proxy.stop();
    const all = proxy.logs.map((l) => JSON.stringify(l)).join('\n') + proxy.stderr.join('\n');
    expect(all).not.toContain('e2e-secret-value-42');
  });

  it('answers 404 "passthrough disabled" without the flag', async () => {
    up = await startEchoUpstream();
    dir = await makeAtiDir({ 'manifests/api.toml': ptManifest('api', up.url, 'path_prefix = "/api"') });
    proxy = await startProxy({ atiDir: dir.dir });
    const r = await send(proxy.url, '/api/x');
    expect(r.status).toBe(404);
    expect(r.json()['error']).toBe('not found: passthrough disabled');
    expect(up.requests).toHaveLength(0);
  });

  it('refuses to start on an invalid passthrough manifest, naming file and field', async () => {
    dir = await makeAtiDir({
      'manifests/bad.toml': ptManifest('bad', 'http://127.0.0.1:1', 'path_prefix = "/x"\ndeny_path = ["/admin"]'),
    });
    proxy = await startProxy({ atiDir: dir.dir, args: ['--enable-passthrough'], waitReady: false });
    const code = await proxy.exited;
    expect(code).not.toBe(0);
    const text = proxy.logs.map((l) => JSON.stringify(l)).join('\n') + proxy.stderr.join('\n');
    expect(text).toMatch(/bad\.toml:7: provider\.deny_path: unknown key/);
  });

  it('sig-verify enforce: unsigned → 403 before anything; signed with no JWT → 200 (passthrough bypasses JWT)', async () => {
    up = await startEchoUpstream();
    const secret = 'passthrough-signing-secret-0123456789';
    dir = await makeAtiDir({
      'manifests/api.toml': ptManifest('api', up.url, 'path_prefix = "/api"'),
      credentials: JSON.stringify({ sandbox_signing_shared_secret: secret }),
    });
    proxy = await startProxy({
      atiDir: dir.dir,
      args: ['--enable-passthrough', '--sig-verify-mode', 'enforce'],
      env: { ATI_JWT_SECRET: 'ab'.repeat(32) },
    });
    const unsigned = await send(proxy.url, '/api/v1/x');
    expect(unsigned.status).toBe(403);
    expect(unsigned.body.toString()).toContain('missing_signature');
    expect(up.requests).toHaveLength(0);
    const t = Math.floor(Date.now() / 1000);
    const sig = signRequest(Buffer.from(secret), 'GET', '/api/v1/x', t);
    const signed = await send(proxy.url, '/api/v1/x', { headers: { 'x-sandbox-signature': sig } });
    expect(signed.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    // A named route still needs the JWT: signed but no token → 401.
    const named = await send(proxy.url, '/tools', {
      headers: { 'x-sandbox-signature': signRequest(Buffer.from(secret), 'GET', '/tools', t) },
    });
    expect(named.status).toBe(401);
  });
});

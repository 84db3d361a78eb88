import { once } from 'node:events';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { rawRequest } from '../../helpers/raw-http.js';
import { makeTestPlugin, type TestPluginProbe } from '../../helpers/test-plugin.js';

const manifest = (name: string, extra = '', tools = 1) =>
  `[provider]\nname = "${name}"\ndescription = "${name} provider"\nhandler = "test"\n${extra}\n` +
  Array.from({ length: tools }, (_, i) => `[[tools]]\nname = "${name}_t${i}"\ndescription = "tool ${i}"\n`).join('\n');

describe('host', () => {
  let dir: TempAtiDir;
  let th: TestHost | undefined;
  let probe: TestPluginProbe;

  const start = async (files: Record<string, string>) => {
    dir = await makeAtiDir(files);
    probe = { provisions: [], closes: [] };
    th = await startHost(dir.dir, [makeTestPlugin(probe)]);
    return th;
  };

  afterEach(async () => {
    await th?.close();
    th = undefined;
    await dir?.cleanup();
  });

  it('serves /health with the reference fields plus reload', async () => {
    const { url } = await start({
      'manifests/a.toml': manifest('a', '', 2),
      'manifests/b.toml': manifest('b', 'internal = true'),
    });
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).slice(0, 7)).toEqual(['status', 'version', 'tools', 'providers', 'skills', 'auth', 'db']);
    expect(body).toMatchObject({ status: 'ok', tools: 2, providers: 2, skills: 0, auth: 'disabled', db: 'disabled' });
    expect(body['version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(body['reload']).toMatchObject({ generation: 1, last_error: null });
  });

  it('answers unknown paths 404 JSON and wrong methods on named paths 405 with Allow', async () => {
    const { url } = await start({ 'manifests/a.toml': manifest('a') });
    const nf = await fetch(`${url}/nope`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toEqual({ error: 'not found: no passthrough route', code: 'ATI_ERR_NOT_FOUND' });
    const m = await fetch(`${url}/health`, { method: 'POST' });
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('GET, HEAD');
    expect(((await m.json()) as { code: string }).code).toBe('ATI_ERR_METHOD_NOT_ALLOWED');
    const t = await fetch(`${url}/tools/a_t0`, { method: 'DELETE' });
    expect(t.status).toBe(405);
  });

  it('rejects non-canonical paths with 400 before routing', async () => {
    const { url } = await start({ 'manifests/a.toml': manifest('a', 'route_prefix = "/api"') });
    for (const p of ['/api/../health', '/api/%2e%2e/x', '/api/%2fx', '/api//x', '/api/%00']) {
      const res = await rawRequest(url, p);
      expect(res.status, p).toBe(400);
      expect((JSON.parse(res.body) as { code: string }).code).toBe('ATI_ERR_BAD_PATH');
    }
  });

  it('lists and shows tools, hiding internal providers from the list', async () => {
    const { url } = await start({
      'manifests/a.toml': manifest('a', '', 2),
      'manifests/b.toml': manifest('b', 'internal = true'),
    });
    const list = (await (await fetch(`${url}/tools`)).json()) as Array<{ name: string; method: string }>;
    expect(list.map((t) => t.name)).toEqual(['a_t0', 'a_t1']);
    expect(list[0]!.method).toBe('GET');
    const filtered = (await (await fetch(`${url}/tools?search=T1`)).json()) as unknown[];
    expect(filtered).toHaveLength(1);
    const one = await fetch(`${url}/tools/b_t0`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ name: 'b_t0', provider: 'b', scope: 'tool:b_t0', hint: null });
    const missing = await fetch(`${url}/tools/zzz`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: "Tool 'zzz' not found" });
  });

  it('reload with a broken manifest keeps serving the old generation and reports the error', async () => {
    const { url, host } = await start({ 'manifests/a.toml': manifest('a') });
    await writeFile(
      path.join(dir.manifests, 'a.toml'),
      manifest('a').replace('handler = "test"', 'handler = "test"\nbse_url = "x"'),
    );
    const r = await host.reload('test');
    expect(r.status).toBe('rejected');
    expect(host.current.id).toBe(1);
    const health = (await (await fetch(`${url}/health`)).json()) as {
      reload: { generation: number; last_error: string };
    };
    expect(health.reload.generation).toBe(1);
    expect(health.reload.last_error).toMatch(
      /a\.toml:5: provider\.bse_url: unknown key "bse_url" \(did you mean "base_url"\?\)/,
    );
    expect((await fetch(`${url}/tools/a_t0`)).status).toBe(200);
    // fixing it clears the error
    await writeFile(path.join(dir.manifests, 'a.toml'), manifest('a', '', 2));
    const ok = await host.reload('test');
    expect(ok.status).toBe('applied');
    const h2 = (await (await fetch(`${url}/health`)).json()) as { reload: { generation: number; last_error: null } };
    expect(h2.reload.last_error).toBeNull();
    expect((await fetch(`${url}/tools/a_t1`)).status).toBe(200);
  });

  it('a provision failure rolls back what the candidate provisioned', async () => {
    const { host } = await start({ 'manifests/a.toml': manifest('a') });
    await writeFile(path.join(dir.manifests, 'b.toml'), manifest('b'));
    await writeFile(path.join(dir.manifests, 'c.toml'), manifest('c', 'fail_provision = true'));
    const r = await host.reload('test');
    expect(r.status).toBe('rejected');
    if (r.status === 'rejected')
      expect(r.errors[0]!.message).toMatch(
        /provider "c" \(handler test\) failed to provision: provision failed on purpose/,
      );
    expect(probe.provisions).toContain('b');
    expect(probe.closes).toEqual(['b']);
    expect(host.current.id).toBe(1);
  });

  it('identical content does not rebuild; unchanged providers are reused, changed ones closed after drain', async () => {
    const { host } = await start({ 'manifests/a.toml': manifest('a'), 'manifests/b.toml': manifest('b') });
    expect((await host.reload('test')).status).toBe('unchanged');
    await writeFile(path.join(dir.manifests, 'b.toml'), manifest('b', '', 3));
    const r = await host.reload('test');
    expect(r).toMatchObject({ status: 'applied', reused: ['a'], provisioned: ['b'] });
    await new Promise((res) => setImmediate(res));
    expect(probe.provisions).toEqual(['a', 'b', 'b']);
    expect(probe.closes).toEqual(['b']);
    expect(host.current.providers.get('a')!.provisionedInGeneration).toBe(1);
  });

  it('re-provisions a provider when a keyring entry it read changes', async () => {
    const { host } = await start({
      'manifests/a.toml': manifest('a', 'secret_key = "tok"'),
      credentials: JSON.stringify({ tok: 'one' }),
    });
    await writeFile(path.join(dir.dir, 'credentials'), JSON.stringify({ tok: 'one', unrelated: 'x' }));
    expect((await host.reload('test')).status).toBe('applied');
    expect(probe.provisions).toEqual(['a']);
    await writeFile(path.join(dir.dir, 'credentials'), JSON.stringify({ tok: 'two', unrelated: 'x' }));
    expect(await host.reload('test')).toMatchObject({ status: 'applied', provisioned: ['a'] });
  });

  it('a request keeps the generation it started on across a swap; the old one closes after it finishes', async () => {
    const { url, host } = await start({
      'manifests/a.toml': manifest('a', 'route_prefix = "/slow"\ndelay_ms = 300\nsecret_key = "tok"'),
      credentials: '{"tok":"old"}',
    });
    const slow = fetch(`${url}/slow/x`).then((r) => r.json());
    await new Promise((r) => setTimeout(r, 50)); // let the request arrive
    await writeFile(path.join(dir.dir, 'credentials.tmp'), '{"tok":"new"}');
    await rename(path.join(dir.dir, 'credentials.tmp'), path.join(dir.dir, 'credentials'));
    expect((await host.reload('test')).status).toBe('applied');
    expect(probe.closes).toEqual([]); // old generation still has a request in flight
    const fresh = (await (await fetch(`${url}/slow/y`)).json()) as { secret: string; generation: number };
    expect(fresh).toMatchObject({ secret: 'new', generation: 2 });
    expect(await slow).toMatchObject({ secret: 'old', generation: 1, path: '/slow/x' });
    await new Promise((r) => setTimeout(r, 20));
    expect(probe.closes).toEqual(['a']);
  });

  it('shutdown waits for in-flight requests to finish', async () => {
    const { url, host } = await start({ 'manifests/a.toml': manifest('a', 'route_prefix = "/slow"\ndelay_ms = 400') });
    // The host's own `request` listener runs first: once this one fires, the request is in flight.
    const arrived = once(host.server, 'request');
    const slow = fetch(`${url}/slow/x`);
    await arrived;
    expect(host.current.inFlight).toBe(1);
    const stopped = host.shutdown('test');
    const res = await slow;
    expect(res.status).toBe(200);
    await stopped;
    expect(probe.closes).toEqual(['a']);
    th = undefined;
  });
});

import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReloadResult } from '../../../core/reload/reload-control.js';
import { startConfigWatcher } from '../../../core/compose.js';
import { defaultProxyConfig } from '../../../config/proxy-config.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { makeTestPlugin } from '../../helpers/test-plugin.js';

const manifest = (name: string, tools: string[]) =>
  `[provider]\nname = "${name}"\ndescription = "d"\nhandler = "test"\n\n` +
  tools.map((t) => `[[tools]]\nname = "${t}"\ndescription = "t"\n`).join('\n');

describe('config watcher (real files, real chokidar)', () => {
  let dir: TempAtiDir;
  let th: TestHost;
  const results: ReloadResult[] = [];
  let waiters: Array<(r: ReloadResult) => void> = [];

  /** Resolves with the next reload result that is not `unchanged`. */
  const nextReload = () =>
    new Promise<ReloadResult>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no reload within 3 s')), 3_000);
      waiters.push((r) => {
        clearTimeout(t);
        resolve(r);
      });
    });

  const setup = async () => {
    dir = await makeAtiDir({ 'manifests/a.toml': manifest('a', ['a_one']) });
    th = await startHost(dir.dir, [makeTestPlugin()]);
    th.host.reloadListeners.push((r) => {
      results.push(r);
      if (r.status === 'unchanged') return;
      const w = waiters;
      waiters = [];
      for (const f of w) f(r);
    });
    await startConfigWatcher(th.host, defaultProxyConfig({ atiDir: dir.dir, watch: true, env: {} }));
  };

  afterEach(async () => {
    await th?.close();
    await dir?.cleanup();
    results.length = 0;
  });

  const tools = async () =>
    ((await (await fetch(`${th.url}/tools`)).json()) as Array<{ name: string }>).map((t) => t.name);

  it('applies an added manifest, an atomic-rename edit, rejects a broken one and applies a delete', async () => {
    await setup();
    let next = nextReload();
    await writeFile(path.join(dir.manifests, 'b.toml'), manifest('b', ['b_one']));
    expect((await next).status).toBe('applied');
    expect(await tools()).toEqual(['a_one', 'b_one']);

    next = nextReload();
    await writeFile(path.join(dir.manifests, '.b.toml.tmp'), manifest('b', ['b_one', 'b_two']));
    await rename(path.join(dir.manifests, '.b.toml.tmp'), path.join(dir.manifests, 'b.toml'));
    expect((await next).status).toBe('applied');
    expect(await tools()).toEqual(['a_one', 'b_one', 'b_two']);

    next = nextReload();
    await writeFile(path.join(dir.manifests, 'b.toml'), '[provider]\nname = "b"\ndescription = "oops\n');
    const rejected = await next;
    expect(rejected.status).toBe('rejected');
    expect(await tools()).toEqual(['a_one', 'b_one', 'b_two']);
    const health = (await (await fetch(`${th.url}/health`)).json()) as { reload: { last_error: string } };
    expect(health.reload.last_error).toMatch(/b\.toml:3:\d+: TOML syntax error/);

    next = nextReload();
    await rm(path.join(dir.manifests, 'b.toml'));
    expect((await next).status).toBe('applied');
    expect(await tools()).toEqual(['a_one']);
    const h2 = (await (await fetch(`${th.url}/health`)).json()) as { reload: { last_error: null } };
    expect(h2.reload.last_error).toBeNull();
  });

  it('keeps the previous keyring when the keyring file disappears', async () => {
    await setup();
    let next = nextReload();
    await writeFile(path.join(dir.dir, 'credentials'), '{"k":"v1"}');
    expect((await next).status).toBe('applied');
    expect(th.host.current.keyring.get('k')).toBe('v1');
    next = nextReload();
    await rm(path.join(dir.dir, 'credentials'));
    const r = await next;
    expect(r.status).toBe('rejected');
    if (r.status === 'rejected') expect(r.errors[0]!.message).toMatch(/disappeared; keeping the previous keyring/);
    expect(th.host.current.keyring.get('k')).toBe('v1');
  });

  it('follows a Kubernetes-style ..data symlink swap of a mounted manifests folder', async () => {
    // <ati_dir>/manifests/a.toml -> ..data/a.toml, ..data -> ..v1 ; the swap renames a new ..data symlink over the old one.
    dir = await makeAtiDir({}, { manifestsDir: false });
    const m = path.join(dir.dir, 'manifests');
    await mkdir(path.join(m, '..v1'), { recursive: true });
    await writeFile(path.join(m, '..v1', 'a.toml'), manifest('a', ['a_one']));
    await symlink('..v1', path.join(m, '..data'));
    await symlink(path.join('..data', 'a.toml'), path.join(m, 'a.toml'));
    th = await startHost(dir.dir, [makeTestPlugin()]);
    th.host.reloadListeners.push((r) => {
      if (r.status === 'unchanged') return;
      const w = waiters;
      waiters = [];
      for (const f of w) f(r);
    });
    await startConfigWatcher(th.host, defaultProxyConfig({ atiDir: dir.dir, watch: true, env: {} }));
    expect(await tools()).toEqual(['a_one']);
    const next = nextReload();
    await mkdir(path.join(m, '..v2'));
    await writeFile(path.join(m, '..v2', 'a.toml'), manifest('a', ['a_one', 'a_two']));
    await symlink('..v2', path.join(m, '..data_tmp'));
    await rename(path.join(m, '..data_tmp'), path.join(m, '..data'));
    expect((await next).status).toBe('applied');
    expect(await tools()).toEqual(['a_one', 'a_two']);
  });
});

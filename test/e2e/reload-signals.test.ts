import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';

/** True once the process catches SIGHUP (bit 0 of SigCgt in /proc/<pid>/status). */
function catchesSighup(pid: number): boolean {
  try {
    const m = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? (BigInt(`0x${m[1]}`) & 1n) === 1n : false;
  } catch {
    return false;
  }
}

const BAD = '[provider]\nname = "x"\ndescription = "x"\nhandler = "nope"\n';

describe('reload triggers on the real process', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
  });

  it('a SIGHUP sent during startup is queued, not fatal', async () => {
    dir = await makeAtiDir();
    proxy = await startProxy({ atiDir: dir.dir, waitReady: false, args: ['--no-watch'] });
    const pid = proxy.proc.pid!;
    // Wait until bin/ati installed its handler (before any module loads), then signal.
    while (!catchesSighup(pid)) await new Promise((r) => setImmediate(r));
    const startedBefore = proxy.logs.some((l) => l.message === 'ATI proxy server starting');
    proxy.proc.kill('SIGHUP');
    await proxy.waitForLog((l) => l.message === 'ATI proxy server starting');
    const reload = await proxy.waitForLog((l) => l.message === 'reload started');
    expect(startedBefore).toBe(false);
    expect(String(reload['trigger'])).toMatch(/^SIGHUP/);
    expect(proxy.proc.exitCode).toBeNull();
  });

  it('SIGHUP rejects a broken manifest (keeps serving, /health shows the error) and a fixed one clears it', async () => {
    dir = await makeAtiDir();
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'] });
    await dir.manifest('broken', BAD);
    proxy.proc.kill('SIGHUP');
    const rejected = await proxy.waitForLog((l) => l.message === 'reload rejected');
    expect(rejected.level).toBe('ERROR');
    const err = proxy.logs.find((l) => l.message === 'reload error')!;
    expect(err).toMatchObject({ line: 4, field: 'provider.handler' });
    expect(String(err['file'])).toMatch(/broken\.toml$/);
    const h = (await (await fetch(`${proxy.url}/health`)).json()) as {
      reload: { generation: number; last_error: string };
    };
    expect(h.reload.generation).toBe(1);
    expect(h.reload.last_error).toMatch(/broken\.toml:4: provider\.handler: unknown handler "nope"/);

    // Removing the broken file brings the directory back to what is serving: the error clears.
    await rm(`${dir.manifests}/broken.toml`);
    proxy.proc.kill('SIGHUP');
    await proxy.waitForLog((l) => l.message === 'reload skipped: no source changed');
    const h2 = (await (await fetch(`${proxy.url}/health`)).json()) as {
      reload: { generation: number; last_error: null; last_result: string };
    };
    expect(h2.reload).toMatchObject({ last_error: null, last_result: 'unchanged', generation: 1 });
  });

  it('POST /admin/reload: 503 without ATI_ADMIN_TOKEN, 401 with a wrong one, 422 with errors, 200 when applied', async () => {
    dir = await makeAtiDir();
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'] });
    const off = await fetch(`${proxy.url}/admin/reload`, { method: 'POST' });
    expect(off.status).toBe(503);
    await proxy.stop('SIGTERM');

    const token = 'a'.repeat(40);
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'], env: { ATI_ADMIN_TOKEN: token } });
    const wrong = await fetch(`${proxy.url}/admin/reload`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
    const same = await fetch(`${proxy.url}/admin/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(same.status).toBe(200);
    expect(await same.json()).toMatchObject({ status: 'unchanged', generation: 1 });
    await dir.manifest('broken', BAD);
    const bad = await fetch(`${proxy.url}/admin/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(bad.status).toBe(422);
    const body = (await bad.json()) as { status: string; errors: Array<{ line: number; field: string; file: string }> };
    expect(body.status).toBe('rejected');
    expect(body.errors[0]).toMatchObject({ line: 4, field: 'provider.handler' });
    const forced = await fetch(`${proxy.url}/admin/reload?force=true`, {
      method: 'POST',
      headers: { authorization: `bearer ${token}` },
    });
    expect(forced.status).toBe(422);
  });
});

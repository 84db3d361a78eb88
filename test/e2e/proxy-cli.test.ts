import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { runAti, startProxy, type ProxyProcess } from '../helpers/proxy-process.js';

describe('ati proxy (real process)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('starts, logs the startup line as compact JSON, serves /health, and exits 0 on SIGTERM', async () => {
    dir = await makeAtiDir();
    proxy = await startProxy({ atiDir: dir.dir });
    const line = proxy.logs.find((l) => l.message === 'ATI proxy server starting')!;
    for (const f of [
      'version',
      'addr',
      'auth',
      'ati_dir',
      'tools',
      'providers',
      'mcp',
      'openapi',
      'skills',
      'keyring',
      'db',
      'passthrough',
      'sig_verify_mode',
      'sig_verify_secret',
    ]) {
      expect(line, f).toHaveProperty(f);
    }
    expect(line).toMatchObject({
      level: 'INFO',
      sig_verify_mode: 'Log',
      auth: 'DISABLED (no JWT keys configured)',
      db: 'disabled',
    });
    expect(typeof line['timestamp']).toBe('string');
    const res = await fetch(`${proxy.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', tools: 0, providers: 0 });
    expect(await proxy.stop('SIGTERM')).toBe(0);
    expect(proxy.logs.some((l) => l.message === 'shutdown complete')).toBe(true);
  });

  it('a missing manifests directory is a clear startup error (JSON on stderr, non-zero exit)', async () => {
    dir = await makeAtiDir({}, { manifestsDir: false });
    const r = await runAti(['proxy', '--port', '0', '--ati-dir', dir.dir]);
    expect(r.code).not.toBe(0);
    const last = JSON.parse(r.stderr.trim().split('\n').pop()!) as {
      error: { code: string; message: string; exit_code: number };
    };
    expect(last.error.code).toBe('ATI_ERR_MANIFESTS_DIR');
    expect(last.error.message).toContain(`No manifests directory found at ${dir.dir}/manifests`);
    expect(last.error.exit_code).toBe(r.code);
  });

  it('--output text prints the plain message', async () => {
    dir = await makeAtiDir({ 'manifests/a.toml': '[provider]\nname = "a"\nhandler = "nope"\n' });
    const r = await runAti(['--output', 'text', 'proxy', '--port', '0', '--ati-dir', dir.dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: configuration in .* is invalid/);
    expect(r.stderr).toMatch(/a\.toml:1: provider: missing required key "description"/);
    expect(r.stderr).toMatch(/a\.toml:3: provider\.handler: unknown handler "nope"/);
  });

  it('--check exits 0 on a good directory and 1 with every error located on a bad one', async () => {
    dir = await makeAtiDir();
    const ok = await runAti(['proxy', '--check', '--ati-dir', dir.dir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ati proxy --check: OK/);
    await dir.manifest('bad', '[provider]\nname = "x"\ndescription = "broken\n');
    await dir.manifest('worse', '[provider]\nname = "y"\ndescription = "y"\nhandler = "htp"\ninternal = "yes"\n');
    const bad = await runAti(['proxy', '--check', '--ati-dir', dir.dir]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAILED/);
    expect(bad.stdout).toMatch(/bad\.toml:3:\d+: TOML syntax error/);
    expect(bad.stdout).toMatch(/worse\.toml:4: provider\.handler: unknown handler "htp"/);
    expect(bad.stdout).toMatch(/worse\.toml:5: provider\.internal: must be a boolean \(found "yes"\)/);
    const json = await runAti(['--output', 'json', 'proxy', '--check', '--ati-dir', dir.dir]);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as { errors: string[] }).errors).toHaveLength(3);
  });

  it('has --version, proxy --help mentioning "proxy server", and usage errors exit 2', async () => {
    const v = await runAti(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const h = await runAti(['proxy', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('proxy server');
    for (const flag of [
      '--port',
      '--bind',
      '--ati-dir',
      '--env-keys',
      '--migrate',
      '--enable-passthrough',
      '--sig-verify-mode',
      '--sig-drift-seconds',
      '--sig-exempt-paths',
      '--check',
    ]) {
      expect(h.stdout).toContain(flag);
    }
    const bad = await runAti(['proxy', '--sig-verify-mode', 'strict']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Allowed choices are log, warn, enforce/);
  });

  it('a bind failure is a clear fatal error', async () => {
    dir = await makeAtiDir();
    proxy = await startProxy({ atiDir: dir.dir });
    const r = await runAti(['proxy', '--port', String(proxy.port), '--ati-dir', dir.dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ATI_ERR_LISTEN.*cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  });
});

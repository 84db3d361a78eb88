/** `ati init [--proxy [--es256]] [--force]` as a real process. */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { runAti } from '../helpers/proxy-process.js';

describe('ati init (real process)', { timeout: 90_000 }, () => {
  let tmp: TempAtiDir | undefined;
  afterEach(async () => {
    await tmp?.cleanup();
    tmp = undefined;
  });

  it('plain init creates the layout and a commented config.toml, and is idempotent', async () => {
    tmp = await makeAtiDir({}, { manifestsDir: false });
    const dir = path.join(tmp.dir, 'ati');
    const first = await runAti(['init'], { env: { ATI_DIR: dir } });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('');
    expect((await readdir(dir)).sort()).toEqual(['config.toml', 'manifests', 'skills', 'specs']);
    const config = await readFile(path.join(dir, 'config.toml'), 'utf8');
    expect(config.startsWith('# ATI configuration\n')).toBe(true);
    expect(parseToml(config)).toEqual({});
    const again = await runAti(['init', '--ati-dir', dir]);
    expect(again.code).toBe(0);
    expect(await readFile(path.join(dir, 'config.toml'), 'utf8')).toBe(config);
  });

  it('--proxy prints ATI_JWT_SECRET=<64 hex> on stdout, keeps it 0600 in config.toml, and never rotates it without --force', async () => {
    tmp = await makeAtiDir({ 'config.toml': '# mine\n[plugins]\nextra = "kept"\n' }, { manifestsDir: false });
    const env = { ATI_DIR: tmp.dir };
    const first = await runAti(['init', '--proxy'], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^ATI_JWT_SECRET=[0-9a-f]{64}\n$/);
    const secret = first.stdout.trim().split('=')[1]!;
    expect(first.stderr).not.toContain(secret); // printed for the operator, never logged
    const file = path.join(tmp.dir, 'config.toml');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const doc = parseToml(await readFile(file, 'utf8')) as {
      plugins: unknown;
      proxy: { port: number; bind: string; jwt: Record<string, string> };
    };
    expect(doc.plugins).toEqual({ extra: 'kept' });
    expect(doc.proxy).toMatchObject({ port: 8090, bind: '127.0.0.1', jwt: { algorithm: 'HS256', secret } });

    const again = await runAti(['init', '--proxy'], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(first.stdout);
    expect(again.stderr).toContain('kept the existing JWT material');

    const switchAlg = await runAti(['init', '--proxy', '--es256'], { env });
    expect(switchAlg.code).not.toBe(0);
    expect(switchAlg.stderr).toContain('already configures HS256 JWT; pass --force');

    const forced = await runAti(['init', '--proxy', '--force'], { env });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/^ATI_JWT_SECRET=[0-9a-f]{64}\n$/);
    expect(forced.stdout).not.toBe(first.stdout);
    const text = await readFile(file, 'utf8');
    expect(text.match(/\[proxy\.jwt\]/g)).toHaveLength(1);
    expect(text).toContain('[plugins]');
  });

  it('--proxy --es256 writes a P-256 pair (private 0600, public 0644), prints both env lines, reuses the pair on re-run', async () => {
    tmp = await makeAtiDir({}, { manifestsDir: false });
    const env = { ATI_DIR: tmp.dir };
    const r = await runAti(['init', '--proxy', '--es256'], { env });
    expect(r.code, r.stderr).toBe(0);
    const priv = path.join(tmp.dir, 'jwt-private.pem');
    const pub = path.join(tmp.dir, 'jwt-public.pem');
    expect(r.stdout).toBe(`ATI_JWT_PUBLIC_KEY=${pub}\nATI_JWT_PRIVATE_KEY=${priv}\n`);
    expect((await stat(priv)).mode & 0o777).toBe(0o600);
    expect((await stat(pub)).mode & 0o777).toBe(0o644);
    const privPem = await readFile(priv, 'utf8');
    const pubPem = await readFile(pub, 'utf8');
    expect(privPem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    expect(pubPem.startsWith('-----BEGIN PUBLIC KEY-----\n')).toBe(true);
    const key = createPrivateKey(privPem);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(createPublicKey(key).export({ type: 'spki', format: 'pem' })).toBe(pubPem);
    expect(
      (parseToml(await readFile(path.join(tmp.dir, 'config.toml'), 'utf8')) as { proxy: { jwt: unknown } }).proxy.jwt,
    ).toEqual({
      algorithm: 'ES256',
      private_key: 'jwt-private.pem',
      public_key: 'jwt-public.pem',
    });
    const again = await runAti(['init', '--proxy', '--es256'], { env });
    expect(again.code).toBe(0);
    expect(await readFile(priv, 'utf8')).toBe(privPem);
    const forced = await runAti(['init', '--proxy', '--es256', '--force'], { env });
    expect(forced.code).toBe(0);
    expect(await readFile(priv, 'utf8')).not.toBe(privPem);
  });

  it('--es256 without --proxy is a usage error', async () => {
    tmp = await makeAtiDir({}, { manifestsDir: false });
    const r = await runAti(['init', '--es256'], { env: { ATI_DIR: tmp.dir } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--es256 only makes sense with --proxy');
  });
});

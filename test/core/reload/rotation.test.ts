/**
 * Keyring rotation on a real `bin/ati proxy` in enforce mode: an atomically
 * rewritten keyring.enc plus SIGHUP changes the signing secret and the upstream
 * bearer for the next request; requests in flight finish with the generation
 * they started on; a corrupt keyring keeps the previous secrets.
 */
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signRequest } from '../../../kernel/request-signature.js';
import { encryptKeyring } from '../../../config/keyring-enc.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startProxy, type ProxyProcess } from '../../helpers/proxy-process.js';
import { send } from '../../plugins/passthrough/client.js';
import { ptManifest } from '../../plugins/passthrough/harness.js';
import { startEchoUpstream, valuesOf, type EchoUpstream } from '../../plugins/passthrough/upstreams.js';

const KEY = randomBytes(32);
const S1 = 'signing-secret-one-0123456789';
const S2 = 'signing-secret-two-0123456789';
const S3 = 'signing-secret-three-01234567';

async function writeKeyring(dir: TempAtiDir, entries: Record<string, string>): Promise<void> {
  // Atomic replace, as `ati edge rotate-keyring` does.
  const tmp = path.join(dir.dir, '.keyring.enc.tmp');
  await writeFile(tmp, encryptKeyring(new Map(Object.entries(entries)), KEY), { mode: 0o600 });
  await rename(tmp, path.join(dir.dir, 'keyring.enc'));
}

function signed(secret: string, p: string): Record<string, string> {
  return { 'x-sandbox-signature': signRequest(Buffer.from(secret), 'GET', p) };
}

async function hup(proxy: ProxyProcess, outcome: 'reload applied' | 'reload rejected'): Promise<void> {
  const seen = proxy.logs.length;
  proxy.proc.kill('SIGHUP');
  const line = await proxy.waitForLog(
    (l) => proxy.logs.indexOf(l) >= seen && (l.message === 'reload applied' || l.message === 'reload rejected'),
  );
  expect(line.message, JSON.stringify(proxy.logs.slice(seen))).toBe(outcome);
}

describe('keyring rotation with SIGHUP (real process, enforce mode)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  let up: EchoUpstream | undefined;
  afterEach(async () => {
    await proxy?.stop();
    await up?.close();
    await dir?.cleanup();
    dir = proxy = up = undefined;
  });

  const start = async () => {
    up = await startEchoUpstream();
    dir = await makeAtiDir({
      'manifests/api.toml': ptManifest(
        'api',
        up.url,
        'path_prefix = "/api"\nauth_type = "bearer"\nauth_key_name = "api_key"',
      ),
      '.keyring-key': KEY.toString('base64'),
    });
    await writeKeyring(dir, { sandbox_signing_shared_secret: S1, api_key: 'upstream-key-one' });
    proxy = await startProxy({
      atiDir: dir.dir,
      args: ['--enable-passthrough', '--sig-verify-mode', 'enforce', '--no-watch'],
    });
    expect(proxy.logs.find((l) => l.message === 'ATI proxy server starting')).toMatchObject({
      keyring: 'keyring.enc (persistent key)',
      sig_verify_secret: true,
    });
  };

  it('applies a new signing secret and upstream bearer to the next request; _previous keeps the old secret valid', async () => {
    await start();
    const p = proxy!;
    let r = await send(p.url, '/api/a', { headers: signed(S1, '/api/a') });
    expect(r.status).toBe(200);
    expect(valuesOf(up!.requests.at(-1)!, 'authorization')).toEqual(['Bearer upstream-key-one']);

    await writeKeyring(dir!, { sandbox_signing_shared_secret: S2, api_key: 'upstream-key-two' });
    await hup(p, 'reload applied');
    r = await send(p.url, '/api/b', { headers: signed(S2, '/api/b') });
    expect(r.status).toBe(200);
    expect(valuesOf(up!.requests.at(-1)!, 'authorization')).toEqual(['Bearer upstream-key-two']);
    const old = await send(p.url, '/api/c', { headers: signed(S1, '/api/c') });
    expect(old.status).toBe(403);
    expect(old.body.toString()).toContain('hmac_mismatch');

    // Zero-downtime signing-secret rotation: the new one and the `_previous` one both pass.
    await writeKeyring(dir!, {
      sandbox_signing_shared_secret: S3,
      sandbox_signing_shared_secret_previous: S2,
      api_key: 'upstream-key-two',
    });
    await hup(p, 'reload applied');
    expect((await send(p.url, '/api/d', { headers: signed(S3, '/api/d') })).status).toBe(200);
    expect((await send(p.url, '/api/e', { headers: signed(S2, '/api/e') })).status).toBe(200);
    expect((await send(p.url, '/api/f', { headers: signed(S1, '/api/f') })).status).toBe(403);
  });

  it('50 slow requests in flight across a rotation all succeed with the credentials of the generation they started in', async () => {
    await start();
    const p = proxy!;
    const inflight = Array.from({ length: 50 }, (_, i) =>
      send(p.url, `/api/slow-headers/700?i=${i}`, { headers: signed(S1, '/api/slow-headers/700') }),
    );
    // Wait until every request reached the upstream, then rotate under them.
    while (up!.requests.length < 50) await new Promise((r) => setTimeout(r, 10));
    await writeKeyring(dir!, { sandbox_signing_shared_secret: S2, api_key: 'upstream-key-two' });
    await hup(p, 'reload applied');
    const results = await Promise.all(inflight);
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    for (const rec of up!.requests.slice(0, 50))
      expect(valuesOf(rec, 'authorization')).toEqual(['Bearer upstream-key-one']);
    const after = await send(p.url, '/api/after', { headers: signed(S2, '/api/after') });
    expect(after.status).toBe(200);
    expect(valuesOf(up!.requests.at(-1)!, 'authorization')).toEqual(['Bearer upstream-key-two']);
  });

  it('a corrupt keyring (4 bytes) keeps the previous secrets and credentials; restoring it clears the error', async () => {
    await start();
    const p = proxy!;
    await writeFile(path.join(dir!.dir, 'keyring.enc'), Buffer.from([1, 2, 3, 4]));
    await hup(p, 'reload rejected');
    const r = await send(p.url, '/api/x', { headers: signed(S1, '/api/x') });
    expect(r.status).toBe(200);
    expect(valuesOf(up!.requests.at(-1)!, 'authorization')).toEqual(['Bearer upstream-key-one']);
    const h = (await (await fetch(`${p.url}/health`)).json()) as { reload: { last_error: string; generation: number } };
    expect(h.reload.generation).toBe(1);
    expect(h.reload.last_error).toMatch(/keyring\.enc/);
    await writeKeyring(dir!, { sandbox_signing_shared_secret: S1, api_key: 'upstream-key-one' });
    await hup(p, 'reload applied');
    const h2 = (await (await fetch(`${p.url}/health`)).json()) as { reload: { last_error: null } };
    expect(h2.reload.last_error).toBeNull();
    for (const l of p.logs) expect(JSON.stringify(l)).not.toMatch(/upstream-key-one|upstream-key-two|signing-secret-/);
  });
});

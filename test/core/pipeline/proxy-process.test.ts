/**
 * The pipeline in the real `bin/ati` process: startup refusals (enforce without
 * a secret, bad JWT config, unauthenticated non-loopback bind), the middleware
 * order end to end, and the `ati token` commands. Needs a fresh `npx tsc`.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signRequest } from '../../../kernel/request-signature.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { runAti, startProxy, type ProxyProcess } from '../../helpers/proxy-process.js';
import { HEX_SECRET } from './fixtures.js';

const lastJson = (stderr: string) =>
  JSON.parse(stderr.trim().split('\n').pop()!) as { error: { code: string; message: string; exit_code: number } };

describe('ati proxy startup policy (real process)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('enforce mode without a signing secret refuses to start, naming the entry and the mode', async () => {
    dir = await makeAtiDir();
    const t0 = performance.now();
    const r = await runAti(['proxy', '--port', '0', '--ati-dir', dir.dir, '--sig-verify-mode', 'enforce']);
    const ms = performance.now() - t0;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('sandbox_signing_shared_secret');
    expect(r.stderr).toContain('enforce');
    expect(r.stderr).not.toContain('ATI proxy server starting');
    expect(lastJson(r.stderr).error.code).toBe('ATI_ERR_SIG_CONFIG');
    console.info(`enforce-without-secret exit after ${Math.round(ms)} ms (process start included)`);
  });

  it('--check reports enforce without a secret as a failure', async () => {
    dir = await makeAtiDir();
    const r = await runAti(['proxy', '--check', '--ati-dir', dir.dir, '--sig-verify-mode', 'enforce']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('sandbox_signing_shared_secret');
  });

  it('unusable JWT configuration stops startup (fail closed)', async () => {
    dir = await makeAtiDir();
    // Each unusable setting is covered in auth-config.test.ts; here: the process exits before binding.
    const r = await runAti(['proxy', '--port', '0', '--ati-dir', dir.dir], {
      env: { ATI_JWT_PUBLIC_KEY: path.join(dir.dir, 'nope.pem') },
    });
    expect(r.code).toBe(1);
    expect(lastJson(r.stderr).error).toMatchObject({
      code: 'ATI_ERR_AUTH_CONFIG',
      message: expect.stringContaining('ATI_JWT_PUBLIC_KEY: cannot read'),
    });
    expect(r.stderr).not.toContain('ATI proxy server starting');
  });

  it('a non-loopback bind needs auth or --insecure-no-auth', async () => {
    dir = await makeAtiDir();
    const refused = await runAti(['proxy', '--port', '0', '--bind', '0.0.0.0', '--ati-dir', dir.dir]);
    expect(refused.code).toBe(1);
    expect(lastJson(refused.stderr).error).toMatchObject({ code: 'ATI_ERR_AUTH_CONFIG' });
    expect(lastJson(refused.stderr).error.message).toContain('--insecure-no-auth');
    proxy = await startProxy({ atiDir: dir.dir, args: ['--bind', '0.0.0.0', '--insecure-no-auth'] });
    expect(proxy.logs.some((l) => l.level === 'WARN' && String(l.message).includes('NO authentication'))).toBe(true);
  });

  it('end to end: sig-verify before JWT, a CLI-issued token, compact log lines', async () => {
    dir = await makeAtiDir();
    proxy = await startProxy({
      atiDir: dir.dir,
      args: ['--sig-verify-mode', 'enforce', '--env-keys'],
      env: { ATI_JWT_SECRET: HEX_SECRET, ATI_KEY_SANDBOX_SIGNING_SHARED_SECRET: HEX_SECRET },
    });
    expect(proxy.logs.find((l) => l.message === 'ATI proxy server starting')).toMatchObject({
      auth: 'JWT enabled',
      sig_verify_mode: 'Enforce',
      sig_verify_secret: true,
    });
    const secret = Buffer.from(HEX_SECRET, 'hex');
    const unsigned = await fetch(`${proxy.url}/tools`);
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toBe('missing_signature');
    const sig = () => signRequest(secret, 'GET', '/tools');
    const noToken = await fetch(`${proxy.url}/tools`, { headers: { 'x-sandbox-signature': sig() } });
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const issued = await runAti([
      'token',
      'issue',
      '--sub',
      'agent-7',
      '--scope',
      'tool:* help',
      '--secret',
      HEX_SECRET,
    ]);
    expect(issued.code).toBe(0);
    const ok = await fetch(`${proxy.url}/tools`, {
      headers: { 'x-sandbox-signature': sig(), authorization: `Bearer ${issued.stdout.trim()}` },
    });
    expect(ok.status).toBe(200);
    await proxy.waitForLog((l) => l.message === 'request' && l['sub'] === 'agent-7');
    const valid = proxy.logs.find((l) => l.message === 'sig_verify' && l['reason'] === 'valid');
    expect(valid).toMatchObject({ mode: 'Enforce', valid: true, method: 'GET', path: '/tools', job_id: 'none' });
    expect(proxy.logs.find((l) => l.message === 'sig_verify' && l['reason'] === 'missing_signature')).toBeDefined();
  });
});

describe('ati token (real process)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('keygen ES256 → issue --key (PKCS#8, kid) → validate → the proxy and its JWKS agree', async () => {
    dir = await makeAtiDir();
    const kg = await runAti(['token', 'keygen']);
    expect(kg.code).toBe(0);
    expect(kg.stderr).toContain('Generated ES256 key pair');
    const [priv, pub] = kg.stdout.split(/\n\n/);
    expect(priv).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----$/);
    expect(pub).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----$/);
    const privPath = await dir.write('jwt-private.pem', `${priv}\n`);
    const pubPath = await dir.write('jwt-public.pem', `${pub}\n`);

    const issued = await runAti([
      'token',
      'issue',
      '--sub',
      'a1',
      '--scope',
      'tool:x help',
      '--key',
      privPath,
      '--ttl',
      '120',
      '--rate',
      'tool:x=5/min',
    ]);
    expect(issued.code, issued.stderr).toBe(0);
    const token = issued.stdout.trim();
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as {
      alg: string;
      kid: string;
    };
    expect(header.alg).toBe('ES256');

    // `inspect` output is covered in-process (jwt-tokens.test.ts).
    expect((await runAti(['token', 'validate', token, '--key', pubPath])).code).toBe(0);
    const tampered = `${token.slice(0, -4)}AAAA`;
    const bad = await runAti(['token', 'validate', tampered, '--key', pubPath]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('INVALID');

    proxy = await startProxy({ atiDir: dir.dir, env: { ATI_JWT_PUBLIC_KEY: pubPath, ATI_JWT_PRIVATE_KEY: privPath } });
    const res = await fetch(`${proxy.url}/tools`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const jwks = (await (await fetch(`${proxy.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys[0]!.kid).toBe(header.kid);
  });

  it('keygen HS256 prints 64 hex digits; a bad --algorithm is a usage error', async () => {
    const hs = await runAti(['token', 'keygen', '--algorithm', 'hs256']);
    expect(hs.code).toBe(0);
    expect(hs.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(hs.stderr).toContain('Generated HS256 shared secret');
    const alg = await runAti(['token', 'keygen', '--algorithm', 'RS256']);
    expect(alg.code).toBe(2);
    expect(alg.stderr).toContain('Unsupported algorithm: RS256. Use ES256 or HS256.');
  });
});

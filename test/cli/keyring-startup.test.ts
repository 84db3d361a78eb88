/** `ati proxy` startup with each keyring source, as a real process. */
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeKeyringFile } from '../../config/keyring-enc.js';
import { encodeKey } from '../../config/keyring-key.js';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { runAti, startProxy, type ProxyProcess } from '../helpers/proxy-process.js';

interface Fatal {
  error: { code: string; message: string; exit_code: number };
}

function lastJson(stderr: string): Fatal {
  return JSON.parse(stderr.trim().split('\n').pop()!) as Fatal;
}

describe('ati proxy keyring startup (real process)', { timeout: 90_000 }, () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('an undecryptable keyring.enc stops startup with a non-zero exit naming the file (even with credentials present)', async () => {
    dir = await makeAtiDir({ credentials: '{"a":"b"}' });
    await writeKeyringFile(path.join(dir.dir, 'keyring.enc'), new Map([['a', 'x']]), randomBytes(32));
    await dir.write('.keyring-key', encodeKey(randomBytes(32)));
    const r = await runAti(['proxy', '--port', '0', '--ati-dir', dir.dir], {
      env: { ATI_KEY_FILE: path.join(dir.dir, 'none') },
    });
    expect(r.code).not.toBe(0);
    const fatal = lastJson(r.stderr);
    expect(fatal.error.code).toBe('ATI_ERR_KEYRING');
    expect(fatal.error.message).toContain(`keyring.enc at ${dir.dir}/keyring.enc exists but could not be decrypted`);
    expect(fatal.error.message).toContain('wrong key or corrupted file');
    expect(fatal.error.exit_code).toBe(r.code);
    expect(r.stderr).not.toContain('ATI proxy server starting');
  });

  it('a truncated keyring.enc is a startup error too', async () => {
    dir = await makeAtiDir({ 'keyring.enc': 'short' });
    const r = await runAti(['--output', 'text', 'proxy', '--port', '0', '--ati-dir', dir.dir], {
      env: { ATI_KEY_FILE: path.join(dir.dir, 'none') },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `keyring file ${dir.dir}/keyring.enc is too small (5 bytes; need at least nonce + tag = 28)`,
    );
  });

  it('a credentials @file: reference to a missing file fails the load (and startup)', async () => {
    dir = await makeAtiDir({ credentials: JSON.stringify({ token: '@file:/nonexistent/ati-secret' }) });
    const r = await runAti(['proxy', '--port', '0', '--ati-dir', dir.dir]);
    expect(r.code).not.toBe(0);
    expect(lastJson(r.stderr).error.message).toContain(
      `entry 'token' refers to @file:/nonexistent/ati-secret, which could not be read (ENOENT)`,
    );
  });

  it('logs the source label in the startup line: credentials, env-vars', async () => {
    dir = await makeAtiDir({ credentials: '{"a":"credential-value"}' });
    proxy = await startProxy({ atiDir: dir.dir });
    expect(proxy.logs.find((l) => l.message === 'ATI proxy server starting')!['keyring']).toBe(
      'credentials (plaintext)',
    );
    await proxy.stop();

    proxy = await startProxy({
      atiDir: dir.dir,
      args: ['--env-keys'],
      env: { ATI_KEY_MY_TOKEN: 'env-token-value', ATI_KEY_FILE: '/nonexistent' },
    });
    expect(proxy.logs.find((l) => l.message === 'loaded API keys from ATI_KEY_* env vars')!['count']).toBe(1);
    expect(proxy.logs.find((l) => l.message === 'ATI proxy server starting')!['keyring']).toBe('env-vars (ATI_KEY_*)');
  });

  it('no keyring files: empty (no auth) with the two warnings', async () => {
    dir = await makeAtiDir();
    proxy = await startProxy({ atiDir: dir.dir });
    expect(proxy.logs.find((l) => l.message === 'ATI proxy server starting')!['keyring']).toBe('empty (no auth)');
    expect(proxy.logs.filter((l) => l.level === 'WARN').map((l) => l.message)).toEqual(
      expect.arrayContaining([
        'no keyring.enc or credentials found — running without API keys',
        'tools requiring authentication will fail',
      ]),
    );
  });

  it('--check reports a sealed-key keyring without consuming the key; the real start consumes it', async () => {
    dir = await makeAtiDir();
    const key = randomBytes(32);
    await writeKeyringFile(path.join(dir.dir, 'keyring.enc'), new Map([['a', 'sealed-check-value']]), key);
    const sealed = await dir.write('run/.key', encodeKey(key));
    const check = await runAti(['--output', 'json', 'proxy', '--check', '--ati-dir', dir.dir], {
      env: { ATI_KEY_FILE: sealed },
    });
    expect(check.code, check.stderr).toBe(0);
    expect((JSON.parse(check.stdout) as { keyring: string }).keyring).toBe('keyring.enc (sealed key)');
    await stat(sealed);
    proxy = await startProxy({ atiDir: dir.dir, env: { ATI_KEY_FILE: sealed } });
    expect(proxy.logs.find((l) => l.message === 'ATI proxy server starting')!['keyring']).toBe(
      'keyring.enc (sealed key)',
    );
    await expect(stat(sealed)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

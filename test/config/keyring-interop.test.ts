/**
 * Byte compatibility with the reference's other writer/reader: Python's
 * `cryptography` AESGCM (what the reference's e2e script and orchestrators use).
 * Needs Debian's python3-cryptography (.ci/run installs it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadKeyring } from '../../config/keyring-loader.js';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { REPO_ROOT, runAti, startProxy, type ProxyProcess } from '../helpers/proxy-process.js';

const PY_WRITE = `
import base64, json, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
enc_path, key_path, entries = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
key = os.urandom(32)
nonce = os.urandom(12)
data = json.dumps(entries).encode()
with open(enc_path, 'wb') as f:
    f.write(nonce + AESGCM(key).encrypt(nonce, data, None))
with open(key_path, 'w') as f:
    f.write(base64.b64encode(key).decode())
`;

const PY_READ = `
import base64, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
blob = open(sys.argv[1], 'rb').read()
key = base64.b64decode(open(sys.argv[2]).read().strip(), validate=True)
assert len(key) == 32
sys.stdout.write(AESGCM(key).decrypt(blob[:12], blob[12:], None).decode('utf-8'))
`;

function python(script: string, args: string[]): string {
  const r = spawnSync('python3', ['-c', script, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const ENTRIES = {
  upstream_bearer: 'sk-python-written-0001',
  sandbox_signing_shared_secret: 'a'.repeat(64),
  unicode: 'naïve ✓ 🔑',
  quote: 'he said "hi" \\ bye',
};

describe('keyring interop with Python cryptography (real files, real processes)', { timeout: 90_000 }, () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  beforeAll(() => {
    try {
      execFileSync('python3', ['-c', 'import cryptography.hazmat.primitives.ciphers.aead'], { stdio: 'pipe' });
    } catch {
      throw new Error(
        'python3 with the cryptography package is required (Debian: apt-get install python3-cryptography)',
      );
    }
  });
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('a keyring written by Python AESGCM with a base64 persistent key is read by ati', async () => {
    dir = await makeAtiDir();
    python(PY_WRITE, [path.join(dir.dir, 'keyring.enc'), path.join(dir.dir, '.keyring-key'), JSON.stringify(ENTRIES)]);
    const k = await loadKeyring({ atiDir: dir.dir, envKeys: false, env: { ATI_KEY_FILE: path.join(dir.dir, 'none') } });
    expect(Object.fromEntries(k.names().map((n) => [n, k.get(n)]))).toEqual(ENTRIES);
    proxy = await startProxy({ atiDir: dir.dir, env: { ATI_KEY_FILE: path.join(dir.dir, 'none') } });
    const start = proxy.logs.find((l) => l.message === 'ATI proxy server starting')!;
    expect(start['keyring']).toBe('keyring.enc (persistent key)');
    expect(start['sig_verify_secret']).toBe(true);
  });

  it('a Python-written sealed key (no newline) is consumed at startup; .keyring-key is kept', async () => {
    dir = await makeAtiDir();
    const sealed = path.join(dir.dir, 'run', 'key');
    await dir.write('run/.placeholder', '');
    python(PY_WRITE, [path.join(dir.dir, 'keyring.enc'), sealed, JSON.stringify(ENTRIES)]);
    proxy = await startProxy({ atiDir: dir.dir, env: { ATI_KEY_FILE: sealed } });
    expect(proxy.logs.find((l) => l.message === 'ATI proxy server starting')!['keyring']).toBe(
      'keyring.enc (sealed key)',
    );
    await expect(stat(sealed)).rejects.toMatchObject({ code: 'ENOENT' });
    await proxy.stop();

    // Persistent deployment: the key file stays.
    const d2 = await makeAtiDir();
    try {
      python(PY_WRITE, [path.join(d2.dir, 'keyring.enc'), path.join(d2.dir, '.keyring-key'), JSON.stringify(ENTRIES)]);
      const keyBefore = await readFile(path.join(d2.dir, '.keyring-key'));
      proxy = await startProxy({ atiDir: d2.dir, env: { ATI_KEY_FILE: path.join(d2.dir, 'none') } });
      expect((await readFile(path.join(d2.dir, '.keyring-key'))).equals(keyBefore)).toBe(true);
    } finally {
      await proxy?.stop('SIGKILL');
      await d2.cleanup();
    }
  });

  it('a keyring written by `ati edge bootstrap-keyring` is decrypted by Python, byte for byte the pretty sorted JSON', async () => {
    dir = await makeAtiDir({}, { manifestsDir: false });
    const target = path.join(dir.dir, 'edge');
    const r = await runAti(
      [
        'edge',
        'bootstrap-keyring',
        '--vault',
        'edge',
        '--item',
        'ati-edge',
        '--op-path',
        path.join(REPO_ROOT, 'test/fixtures/fake-op'),
        '--ati-dir',
        target,
      ],
      {
        env: { FAKE_OP_FIXTURE: path.join(REPO_ROOT, 'test/fixtures/op/bootstrap.json') },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const plain = python(PY_READ, [path.join(target, 'keyring.enc'), path.join(target, '.keyring-key')]);
    expect(plain).toBe(
      '{\n' +
        '  "bb_api_key": "bb-bootstrap-key-0001",\n' +
        '  "otel_basic": "otel-user:otel-pass-bootstrap",\n' +
        '  "sandbox_signing_shared_secret": "1111111111111111111111111111111111111111111111111111111111aaaaaa",\n' +
        '  "upstream_bearer": "sk-test-bootstrap-token"\n' +
        '}',
    );
    expect(r.stdout).toBe(
      `wrote ${target}/keyring.enc (${12 + Buffer.byteLength(plain) + 16} bytes) and ${target}/.keyring-key (session key)\n`,
    );
  });
});

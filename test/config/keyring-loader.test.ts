import { randomBytes } from 'node:crypto';
import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { writeKeyringFile } from '../../config/keyring-enc.js';
import { encodeKey } from '../../config/keyring-key.js';
import { createKeyringLoader, keyringFromEnv, loadKeyring } from '../../config/keyring-loader.js';
import { keyringFileRefsExtension } from '../../core/generation/keyring-file-refs.js';
import { createLogger } from '../../kernel/logger.js';
import { redactText, setRedactionValues } from '../../kernel/redact.js';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { startHost, type TestHost } from '../helpers/host.js';
import { makeTestPlugin } from '../helpers/test-plugin.js';

function memoryLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination: stream }) };
}

describe('keyring load cascade (ref-03 §2.6)', () => {
  let dir: TempAtiDir;
  let th: TestHost | undefined;
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await dir?.cleanup();
    setRedactionValues([]);
  });

  const cfg = (env: NodeJS.ProcessEnv = {}) => ({
    atiDir: dir.dir,
    envKeys: false,
    env: { ATI_KEY_FILE: path.join(dir.dir, 'no-sealed-key'), ...env },
  });

  async function withPersistentKeyring(entries: Record<string, string>) {
    const key = randomBytes(32);
    await dir.write('.keyring-key', encodeKey(key));
    await writeKeyringFile(path.join(dir.dir, 'keyring.enc'), new Map(Object.entries(entries)), key);
    return key;
  }

  it('--env-keys: ATI_KEY_* only, prefix stripped, lower-cased, empty skipped, ATI_KEY_FILE is not a key', () => {
    const k = keyringFromEnv({
      ATI_KEY_FINNHUB_API_KEY: 'abc',
      ATI_KEY_EMPTY: '',
      ATI_KEY_FILE: '/run/x',
      ATI_KEYX: 'no',
      OTHER: 'no',
      ATI_KEY_Mixed_Case: ' raw ',
    });
    expect(k.source).toBe('env-vars (ATI_KEY_*)');
    expect(Object.fromEntries(k.names().map((n) => [n, k.get(n)]))).toEqual({
      finnhub_api_key: 'abc',
      mixed_case: ' raw ',
    });
  });

  it('--env-keys consults no file, even a broken keyring.enc', async () => {
    dir = await makeAtiDir({ 'keyring.enc': 'garbage' });
    const k = await loadKeyring({ atiDir: dir.dir, envKeys: true, env: { ATI_KEY_A: 'v' } });
    expect(k.source).toBe('env-vars (ATI_KEY_*)');
    expect(k.get('a')).toBe('v');
  });

  it('nothing present → empty (no auth) with the two reference warnings', async () => {
    dir = await makeAtiDir();
    const { lines, logger } = memoryLogger();
    const k = await loadKeyring(cfg(), { logger });
    expect(k.source).toBe('empty (no auth)');
    expect(k.size).toBe(0);
    expect(lines.map((l) => l['message'])).toEqual([
      'no keyring.enc or credentials found — running without API keys',
      'tools requiring authentication will fail',
    ]);
  });

  it('credentials (plaintext) when there is no keyring.enc', async () => {
    dir = await makeAtiDir({ credentials: '{"github_token":"ghp_abc123456"}' });
    const k = await loadKeyring(cfg());
    expect(k.source).toBe('credentials (plaintext)');
    expect(k.get('github_token')).toBe('ghp_abc123456');
    expect(k.get('GITHUB_TOKEN')).toBeUndefined(); // exact, case-sensitive
  });

  it('keyring.enc wins over credentials; persistent key is kept on disk', async () => {
    dir = await makeAtiDir({ credentials: '{"a":"from-credentials"}' });
    await withPersistentKeyring({ a: 'from-keyring' });
    const k = await loadKeyring(cfg());
    expect(k.source).toBe('keyring.enc (persistent key)');
    expect(k.ephemeral).toBe(false);
    expect(k.get('a')).toBe('from-keyring');
    await stat(path.join(dir.dir, '.keyring-key'));
  });

  it('sealed key: used first, unlinked, keyring marked ephemeral; consumeSealedKey:false keeps it', async () => {
    dir = await makeAtiDir();
    const key = randomBytes(32);
    await writeKeyringFile(path.join(dir.dir, 'keyring.enc'), new Map([['a', 'sealed-value']]), key);
    const sealed = await dir.write('run/.key', `${encodeKey(key)}\n`);
    const check = await loadKeyring(cfg({ ATI_KEY_FILE: sealed }), { consumeSealedKey: false });
    expect(check.source).toBe('keyring.enc (sealed key)');
    await stat(sealed);
    const k = await loadKeyring(cfg({ ATI_KEY_FILE: sealed }));
    expect(k.source).toBe('keyring.enc (sealed key)');
    expect(k.ephemeral).toBe(true);
    expect(k.get('a')).toBe('sealed-value');
    await expect(stat(sealed)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a sealed key that does not fit falls back to the persistent key (and is consumed, with a warning)', async () => {
    dir = await makeAtiDir();
    await withPersistentKeyring({ a: 'persistent-value' });
    const sealed = await dir.write('run/.key', encodeKey(randomBytes(32)));
    const { lines, logger } = memoryLogger();
    const k = await loadKeyring(cfg({ ATI_KEY_FILE: sealed }), { logger });
    expect(k.source).toBe('keyring.enc (persistent key)');
    await expect(stat(sealed)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(
      lines.some((l) => l['message'] === 'the sealed key did not decrypt keyring.enc; trying the persistent key'),
    ).toBe(true);
  });

  it('keyring.enc that cannot be decrypted is an error naming the file and why each key failed — never an empty keyring', async () => {
    dir = await makeAtiDir({ credentials: '{"a":"b"}' });
    await withPersistentKeyring({ a: 'x' });
    await dir.write('.keyring-key', encodeKey(randomBytes(32))); // wrong key now
    const enc = path.join(dir.dir, 'keyring.enc');
    const err = (await loadKeyring(cfg()).catch((e: Error) => e)) as Error & { code: string };
    expect(err.code).toBe('ATI_ERR_KEYRING');
    expect(err.message).toBe(
      `keyring.enc at ${enc} exists but could not be decrypted (no sealed key at ${path.join(dir.dir, 'no-sealed-key')}; persistent key ${path.join(dir.dir, '.keyring-key')}: wrong key or corrupted file (GCM authentication failed))`,
    );
    await unlink(path.join(dir.dir, '.keyring-key'));
    await expect(loadKeyring(cfg())).rejects.toThrow(
      /exists but could not be decrypted \(no sealed key at .*; no persistent key at .*\.keyring-key\)/,
    );
    await dir.write('.keyring-key', 'short');
    await expect(loadKeyring(cfg())).rejects.toThrow(/invalid base64 in key file .*\.keyring-key/);
  });

  it('a truncated keyring.enc is rejected before any key is touched (the sealed key survives)', async () => {
    dir = await makeAtiDir({ 'keyring.enc': 'tiny' });
    const sealed = await dir.write('run/.key', encodeKey(randomBytes(32)));
    await expect(loadKeyring(cfg({ ATI_KEY_FILE: sealed }))).rejects.toThrow(
      `keyring file ${path.join(dir.dir, 'keyring.enc')} is too small (4 bytes; need at least nonce + tag = 28)`,
    );
    await stat(sealed);
  });

  it('a keyring.enc that decrypts to something else is reported as such', async () => {
    dir = await makeAtiDir();
    const key = await withPersistentKeyring({});
    const { sealKeyringBytes } = await import('../../config/keyring-enc.js');
    await writeFile(path.join(dir.dir, 'keyring.enc'), sealKeyringBytes(Buffer.from('{"a":1}'), key));
    await expect(loadKeyring(cfg())).rejects.toThrow(
      /decrypted, but is not a keyring: entry 'a' must be a string, found a number/,
    );
  });

  it('credentials errors are errors (bad JSON, missing @file target)', async () => {
    dir = await makeAtiDir({ credentials: '{"a": "@file:/nonexistent/ati-token"}' });
    await expect(loadKeyring(cfg())).rejects.toThrow(
      `credentials file ${path.join(dir.dir, 'credentials')} entry 'a' refers to @file:/nonexistent/ati-token, which could not be read (ENOENT)`,
    );
    await dir.write('credentials', '{"a": nope}');
    await expect(loadKeyring(cfg())).rejects.toThrow(/could not be parsed: invalid JSON/);
  });

  it('the builder loader reuses the decrypted keyring while keyring.enc is unchanged (sealed deployments stay reloadable)', async () => {
    dir = await makeAtiDir();
    const key = randomBytes(32);
    await writeKeyringFile(path.join(dir.dir, 'keyring.enc'), new Map([['a', 'sealed-value-1']]), key);
    const sealed = await dir.write('run/.key', encodeKey(key));
    const load = createKeyringLoader(cfg({ ATI_KEY_FILE: sealed }));
    const first = await load();
    expect(first.source).toBe('keyring.enc (sealed key)');
    // The one-shot key is gone; the same bytes still load.
    expect(await load()).toBe(first);
    // New bytes need a key again: none → error.
    await writeKeyringFile(path.join(dir.dir, 'keyring.enc'), new Map([['a', 'sealed-value-2']]), key);
    await expect(load()).rejects.toThrow(/could not be decrypted/);
    // The orchestrator drops a new sealed key → the new keyring loads.
    await writeFile(sealed, encodeKey(key));
    expect((await load()).get('a')).toBe('sealed-value-2');
  });

  it('the builder loader registers loaded values for redaction at once', async () => {
    dir = await makeAtiDir({ credentials: '{"a":"candidate-only-value"}' });
    await createKeyringLoader(cfg())();
    expect(redactText('x candidate-only-value')).toBe('x [REDACTED]');
  });

  it('reload: a corrupt keyring.enc keeps the serving generation and its keyring; a good one swaps in', async () => {
    dir = await makeAtiDir({
      'manifests/a.toml':
        '[provider]\nname = "a"\ndescription = "a"\nhandler = "test"\nroute_prefix = "/a"\nsecret_key = "upstream"\n',
    });
    const key = await withPersistentKeyring({ upstream: 'first-upstream-secret' });
    th = await startHost(dir.dir, [makeTestPlugin()], { loadKeyring: createKeyringLoader(cfg()) });
    const body = async () => (await (await fetch(`${th!.url}/a/x`)).json()) as { secret: string };
    expect((await body()).secret).toBe('first-upstream-secret');

    const enc = path.join(dir.dir, 'keyring.enc');
    const good = await readFile(enc);
    const corrupt = Buffer.from(good);
    corrupt[15]! ^= 0xff;
    await writeFile(enc, corrupt);
    const r = await th.host.reload('test');
    expect(r.status).toBe('rejected');
    expect(th.host.current.keyring.get('upstream')).toBe('first-upstream-secret');
    expect((await body()).secret).toBe('first-upstream-secret');
    const health = (await (await fetch(`${th.url}/health`)).json()) as { reload: { last_error: string } };
    expect(health.reload.last_error).toContain(`keyring.enc at ${enc} exists but could not be decrypted`);

    await writeKeyringFile(enc, new Map([['upstream', 'second-upstream-secret']]), key);
    expect((await th.host.reload('test')).status).toBe('applied');
    expect(th.host.current.keyring.source).toBe('keyring.enc (persistent key)');
    expect((await body()).secret).toBe('second-upstream-secret');
  });

  it('reload notices a changed @file: target although credentials did not change', async () => {
    dir = await makeAtiDir({
      'manifests/a.toml':
        '[provider]\nname = "a"\ndescription = "a"\nhandler = "test"\nroute_prefix = "/a"\nsecret_key = "upstream"\n',
    });
    const target = await dir.write('secrets/upstream', 'mounted-secret-v1\n');
    await dir.write('credentials', JSON.stringify({ upstream: `@file:${target}` }));
    th = await startHost(dir.dir, [makeTestPlugin()], {
      loadKeyring: createKeyringLoader(cfg()),
      extensions: [keyringFileRefsExtension(cfg())],
    });
    expect(th.host.current.keyring.get('upstream')).toBe('mounted-secret-v1');
    expect((await th.host.reload('test')).status).toBe('unchanged');
    await writeFile(target, 'mounted-secret-v2\n');
    expect((await th.host.reload('test')).status).toBe('applied');
    expect(((await (await fetch(`${th.url}/a/x`)).json()) as { secret: string }).secret).toBe('mounted-secret-v2');
  });
});

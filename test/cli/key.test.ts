/** `ati key set|list|remove` as real processes on real files. */
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { ATI_BIN, REPO_ROOT, baseEnv, runAti } from '../helpers/proxy-process.js';

describe('ati key (real process)', { timeout: 90_000 }, () => {
  let dir: TempAtiDir | undefined;
  afterEach(async () => {
    await dir?.cleanup();
    dir = undefined;
  });

  it('set creates <ATI_DIR>/credentials (and parents) with mode 0600 under umask 000, sorted pretty JSON', async () => {
    dir = await makeAtiDir({}, { manifestsDir: false });
    const atiDir = path.join(dir.dir, 'nested', 'ati');
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(
        'sh',
        ['-c', `umask 000; exec "${process.execPath}" "${ATI_BIN}" key set zeta sk-zeta-value-000001`],
        {
          env: { ...baseEnv(), ATI_DIR: atiDir },
          cwd: REPO_ROOT,
          stdio: 'ignore',
        },
      );
      p.on('close', resolve);
    });
    expect(code).toBe(0);
    const file = path.join(atiDir, 'credentials');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const r = await runAti(['key', 'set', 'alpha', 'sk-alpha-value-00002'], { env: { ATI_DIR: atiDir } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!)).toMatchObject({
      level: 'INFO',
      message: 'saved key',
      name: 'alpha',
    });
    expect(r.stderr).not.toContain('sk-alpha-value-00002');
    expect(await readFile(file, 'utf8')).toBe(
      '{\n  "alpha": "sk-alpha-value-00002",\n  "zeta": "sk-zeta-value-000001"\n}',
    );
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('list masks values (multi-byte safe), prints the empty message, and set reads the value from stdin', async () => {
    dir = await makeAtiDir({}, { manifestsDir: false });
    const env = { ATI_DIR: dir.dir };
    const empty = await runAti(['key', 'list'], { env });
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('No keys stored. Run `ati key set <name> <value>` to add one.\n');
    expect((await runAti(['key', 'set', 'openai', 'sk-test-12345'], { env })).code).toBe(0);
    expect((await runAti(['key', 'set', 'pin'], { env, input: 'abc\n' })).code).toBe(0);
    expect((await runAti(['key', 'set', 'unicode'], { env, input: 'ключ-секрет-длинный' })).code).toBe(0);
    const list = await runAti(['key', 'list'], { env });
    expect(list.code).toBe(0);
    expect(list.stdout).toBe(
      `openai${' '.repeat(24)} sk-t...2345\npin${' '.repeat(27)} ***\nunicode${' '.repeat(23)} ключ...нный\n`,
    );
    expect(JSON.parse(await readFile(path.join(dir.dir, 'credentials'), 'utf8'))).toMatchObject({
      pin: 'abc',
      unicode: 'ключ-секрет-длинный',
    });
  });

  it('remove: a missing key fails non-zero with "not found" and leaves the file alone; an existing one keeps the others', async () => {
    dir = await makeAtiDir(
      { credentials: '{\n  "a": "value-a-123456",\n  "b": "@file:/etc/b"\n}' },
      { manifestsDir: false },
    );
    const env = { ATI_DIR: dir.dir };
    const file = path.join(dir.dir, 'credentials');
    const before = await readFile(file);
    const miss = await runAti(['key', 'remove', 'nope'], { env });
    expect(miss.code).toBe(1);
    expect(miss.stderr).toContain("Key 'nope' not found.");
    expect((await readFile(file)).equals(before)).toBe(true);
    const ok = await runAti(['key', 'remove', 'a'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stderr.trim().split('\n').pop()!)).toMatchObject({ message: 'removed key', name: 'a' });
    expect(await readFile(file, 'utf8')).toBe('{\n  "b": "@file:/etc/b"\n}');
  });

  it('a malformed credentials file is a clear error that does not print its content', async () => {
    dir = await makeAtiDir({ credentials: '{"a": sk-leaky-secret-99}' }, { manifestsDir: false });
    const r = await runAti(['key', 'list'], { env: { ATI_DIR: dir.dir } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`credentials file ${dir.dir}/credentials could not be parsed: invalid JSON`);
    expect(r.stderr + r.stdout).not.toContain('sk-leaky-secret-99');
  });
});

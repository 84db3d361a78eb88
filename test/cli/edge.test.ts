/** `ati edge bootstrap-keyring|rotate-keyring` with a fake `op` and a fake `systemctl`, as real processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadKeyring } from '../../config/keyring-loader.js';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { REPO_ROOT, runAti } from '../helpers/proxy-process.js';

const FAKE_OP = path.join(REPO_ROOT, 'test/fixtures/fake-op');
const FIX = (name: string) => path.join(REPO_ROOT, 'test/fixtures/op', `${name}.json`);

async function entries(atiDir: string): Promise<Record<string, string>> {
  const k = await loadKeyring({ atiDir, envKeys: false, env: { ATI_KEY_FILE: path.join(atiDir, 'no-sealed') } });
  expect(k.source).toBe('keyring.enc (persistent key)');
  return Object.fromEntries(k.names().map((n) => [n, k.get(n)!]));
}

describe('ati edge (real process, fake op)', { timeout: 90_000 }, () => {
  let tmp: TempAtiDir | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    child?.kill('SIGKILL');
    child = undefined;
    await tmp?.cleanup();
    tmp = undefined;
  });

  const edge = (
    cmd: 'bootstrap-keyring' | 'rotate-keyring',
    atiDir: string,
    fixture: string,
    extra: string[] = [],
    env: NodeJS.ProcessEnv = {},
  ) =>
    runAti(
      ['edge', cmd, '--vault', 'edge-vault', '--item', 'ati item', '--op-path', FAKE_OP, '--ati-dir', atiDir, ...extra],
      {
        env: { FAKE_OP_FIXTURE: fixture, ...env },
      },
    );

  it('bootstrap: exact op argv, 0600 files, decryptable keyring; a re-run reuses .keyring-key', async () => {
    tmp = await makeAtiDir({}, { manifestsDir: false });
    const atiDir = path.join(tmp.dir, 'ati');
    const argsSink = path.join(tmp.dir, 'args');
    const r = await edge('bootstrap-keyring', atiDir, FIX('bootstrap'), [], { FAKE_OP_ARGS_SINK: argsSink });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(argsSink, 'utf8')).toBe(
      ['item', 'get', '--vault', 'edge-vault', 'ati item', '--format', 'json', ''].join('\n'),
    );
    expect(r.stdout).toMatch(
      new RegExp(`^wrote ${atiDir}/keyring\\.enc \\(\\d+ bytes\\) and ${atiDir}/\\.keyring-key \\(session key\\)\\n$`),
    );
    for (const f of ['keyring.enc', '.keyring-key'])
      expect((await stat(path.join(atiDir, f))).mode & 0o777, f).toBe(0o600);
    expect(await readdir(atiDir)).toEqual(expect.arrayContaining(['keyring.enc', '.keyring-key']));
    expect(await readdir(atiDir)).toHaveLength(2); // no temp files left
    expect(await entries(atiDir)).toEqual({
      sandbox_signing_shared_secret: '1111111111111111111111111111111111111111111111111111111111aaaaaa',
      upstream_bearer: 'sk-test-bootstrap-token',
      bb_api_key: 'bb-bootstrap-key-0001',
      otel_basic: 'otel-user:otel-pass-bootstrap',
    });
    const key1 = await readFile(path.join(atiDir, '.keyring-key'));
    const enc1 = await readFile(path.join(atiDir, 'keyring.enc'));
    const again = await edge('bootstrap-keyring', atiDir, FIX('bootstrap'));
    expect(again.code, again.stderr).toBe(0);
    expect((await readFile(path.join(atiDir, '.keyring-key'))).equals(key1)).toBe(true);
    expect((await readFile(path.join(atiDir, 'keyring.enc'))).equals(enc1)).toBe(false); // fresh nonce
  });

  it('rotate changes keyring.enc but not the key; op failure and bad items leave the file byte-identical', async () => {
    tmp = await makeAtiDir({}, { manifestsDir: false });
    const atiDir = path.join(tmp.dir, 'ati');
    expect((await edge('bootstrap-keyring', atiDir, FIX('bootstrap'))).code).toBe(0);
    const key = await readFile(path.join(atiDir, '.keyring-key'));
    const before = await readFile(path.join(atiDir, 'keyring.enc'));

    const rot = await edge('rotate-keyring', atiDir, FIX('rotated'), ['--no-signal']);
    expect(rot.code, rot.stderr).toBe(0);
    expect(rot.stdout).toMatch(
      new RegExp(`^rotated ${atiDir}/keyring\\.enc \\(\\d+ bytes\\)\\n--no-signal set; skipping SIGHUP to ati\\n$`),
    );
    const after = await readFile(path.join(atiDir, 'keyring.enc'));
    expect(after.equals(before)).toBe(false);
    expect((await readFile(path.join(atiDir, '.keyring-key'))).equals(key)).toBe(true);
    expect((await entries(atiDir))['upstream_bearer']).toBe('sk-test-rotated-token');

    const failed = await edge('rotate-keyring', atiDir, '__fail__', ['--no-signal']);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(`\`${FAKE_OP} item get\` failed (exit 1)`);
    const noFields = await edge('rotate-keyring', atiDir, FIX('no-fields'), ['--no-signal']);
    expect(noFields.code).not.toBe(0);
    expect(noFields.stderr).toContain(
      "1Password item 'ati item' in vault 'edge-vault' has no labeled fields with values",
    );
    const corrupt = await edge('rotate-keyring', atiDir, FIX('corrupt'), ['--no-signal']);
    expect(corrupt.code).not.toBe(0);
    expect(corrupt.stderr).toContain('could not parse `op` output as JSON: invalid JSON');
    expect((await readFile(path.join(atiDir, 'keyring.enc'))).equals(after)).toBe(true);
    expect(await readdir(atiDir)).toHaveLength(2);
  });

  it('--op-token-file passes the trimmed content as OP_SERVICE_ACCOUNT_TOKEN, never the path', async () => {
    tmp = await makeAtiDir({}, { manifestsDir: false });
    const tokenFile = await tmp.write('op-token', '\n  ops_service_token_value  \n');
    const sink = path.join(tmp.dir, 'token-sink');
    const r = await edge(
      'bootstrap-keyring',
      path.join(tmp.dir, 'ati'),
      FIX('bootstrap'),
      ['--op-token-file', tokenFile],
      { FAKE_OP_TOKEN_SINK: sink },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(sink, 'utf8')).toBe('ops_service_token_value');
    const missing = await edge('bootstrap-keyring', path.join(tmp.dir, 'ati2'), FIX('bootstrap'), [
      '--op-token-file',
      path.join(tmp.dir, 'nope'),
    ]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`failed to read --op-token-file '${path.join(tmp.dir, 'nope')}': ENOENT`);
  });

  it('rotate refuses a directory without keyring (mentions bootstrap-keyring) and creates nothing; bootstrap creates nothing before the fetch succeeds', async () => {
    tmp = await makeAtiDir({}, { manifestsDir: false });
    const atiDir = path.join(tmp.dir, 'missing');
    const rot = await edge('rotate-keyring', atiDir, FIX('rotated'), ['--no-signal']);
    expect(rot.code).not.toBe(0);
    expect(rot.stderr).toContain(
      `no existing keyring at ${atiDir}/keyring.enc — run \`ati edge bootstrap-keyring\` first`,
    );
    await expect(stat(atiDir)).rejects.toMatchObject({ code: 'ENOENT' });
    const boot = await edge('bootstrap-keyring', atiDir, '__fail__');
    expect(boot.code).not.toBe(0);
    await expect(stat(atiDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('--from-json is an alternative source with the same field format', async () => {
    tmp = await makeAtiDir({}, { manifestsDir: false });
    const atiDir = path.join(tmp.dir, 'ati');
    const boot = await runAti(['edge', 'bootstrap-keyring', '--from-json', FIX('bootstrap'), '--ati-dir', atiDir]);
    expect(boot.code, boot.stderr).toBe(0);
    const rot = await runAti([
      'edge',
      'rotate-keyring',
      '--from-json',
      FIX('rotated'),
      '--ati-dir',
      atiDir,
      '--no-signal',
    ]);
    expect(rot.code, rot.stderr).toBe(0);
    expect((await entries(atiDir))['bb_api_key']).toBe('bb-rotated-key-0002');
    const both = await runAti([
      'edge',
      'rotate-keyring',
      '--from-json',
      FIX('rotated'),
      '--vault',
      'v',
      '--ati-dir',
      atiDir,
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--from-json cannot be combined with --vault');
  });

  it('rotate sends SIGHUP to the systemd MainPID (fake systemctl on PATH); MainPID 0 is a warning, exit 0', async () => {
    tmp = await makeAtiDir({}, { manifestsDir: false });
    const atiDir = path.join(tmp.dir, 'ati');
    expect(
      (await runAti(['edge', 'bootstrap-keyring', '--from-json', FIX('bootstrap'), '--ati-dir', atiDir])).code,
    ).toBe(0);
    const bin = path.join(tmp.dir, 'bin');
    await tmp.write(
      'bin/systemctl',
      '#!/bin/sh\n[ "$*" = "show -p MainPID --value $FAKE_UNIT" ] || { echo "unexpected: $*" >&2; exit 4; }\necho "$FAKE_MAINPID"\n',
    );
    await chmod(path.join(bin, 'systemctl'), 0o755);
    // A stand-in proxy that reports SIGHUP.
    child = spawn(process.execPath, [
      '-e',
      'process.on("SIGHUP",()=>{process.stdout.write("hup\\n")});process.stdout.write("ready\\n");setInterval(()=>{},1000)',
    ]);
    const lines: string[] = [];
    const waitFor = (word: string) =>
      new Promise<void>((resolve) => {
        const check = () => (lines.includes(word) ? resolve() : undefined);
        child!.stdout!.on('data', (d: Buffer) => {
          lines.push(...d.toString().split('\n').filter(Boolean));
          check();
        });
        check();
      });
    await waitFor('ready');
    const env = { PATH: `${bin}:${process.env['PATH']}`, FAKE_UNIT: 'ati-proxy', FAKE_MAINPID: String(child.pid) };
    const r = await runAti(
      ['edge', 'rotate-keyring', '--from-json', FIX('rotated'), '--ati-dir', atiDir, '--service', 'ati-proxy'],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`SIGHUP sent to ati-proxy (pid ${child.pid})`);
    await waitFor('hup');

    const stopped = await runAti(
      ['edge', 'rotate-keyring', '--from-json', FIX('rotated'), '--ati-dir', atiDir, '--service', 'ati-proxy'],
      { env: { ...env, FAKE_MAINPID: '0' } },
    );
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain(
      "warning: service 'ati-proxy' has no active MainPID — proxy will read the new keyring on next start",
    );

    const junk = await runAti(
      ['edge', 'rotate-keyring', '--from-json', FIX('rotated'), '--ati-dir', atiDir, '--service', 'ati-proxy'],
      { env: { ...env, FAKE_MAINPID: 'n/a' } },
    );
    expect(junk.code).not.toBe(0);
    expect(junk.stderr).toContain(
      `${atiDir}/keyring.enc was rotated, but the proxy was not signalled: could not query service 'ati-proxy': unparseable MainPID 'n/a'`,
    );
  });
});

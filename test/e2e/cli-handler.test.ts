/**
 * The cli handler through the real executable: the reference's google-workspace
 * manifest loads with `--check` and is served by `ati proxy`; the file_manager
 * handler is refused naming the file; call directories survive no crash.
 * (Needs a fresh `npx tsc` build: bin/ati runs dist/.)
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { REPO_ROOT, runAti, startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { provisionCli } from '../plugins/cli/cli-harness.js';

const REFERENCE_MANIFESTS = path.resolve(REPO_ROOT, '..', 'shared', 'reference-data', 'ati', 'manifests');
const GOOGLE_WORKSPACE = readFileSync(path.join(REFERENCE_MANIFESTS, 'google-workspace.toml'), 'utf8');

const onPath = (cmd: string) =>
  (process.env['PATH'] ?? '').split(':').some((dir) => dir !== '' && existsSync(path.join(dir, cmd)));

describe('cli handler (real process)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('the reference google-workspace.toml loads with --check and its implicit tool is counted', async () => {
    dir = await makeAtiDir({ 'manifests/google-workspace.toml': GOOGLE_WORKSPACE });
    const text = await runAti(['proxy', '--check', '--ati-dir', dir.dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/ati proxy --check: OK/);
    expect(text.stdout).toMatch(/^ {2}cli: google_workspace$/m);
    expect(text.stdout).toMatch(/^tools: 1 \(1 public\)$/m);
    // Diagnostics name what a call would need, without failing the check.
    expect(text.stderr).toMatch(/keyring entry 'google_workspace_credentials'/);
    const json = await runAti(['--output', 'json', 'proxy', '--check', '--ati-dir', dir.dir]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      providers: { cli: ['google_workspace'] },
      tools: 1,
      errors: [],
    });
  });

  it('ati proxy serves the google_workspace tool in /tools', async () => {
    dir = await makeAtiDir({ 'manifests/google-workspace.toml': GOOGLE_WORKSPACE });
    proxy = await startProxy({ atiDir: dir.dir });
    const res = await fetch(`${proxy.url}/tools?provider=google_workspace`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      expect.objectContaining({
        name: 'google_workspace',
        provider: 'google_workspace',
        method: 'GET',
        skills: ['google-workspace'],
      }),
    ]);
  });

  it.skipIf(onPath('gws'))(
    'calling google_workspace without gws installed is a clear "command not found" 502',
    async () => {
      const h = await provisionCli(GOOGLE_WORKSPACE, {
        keys: { google_workspace_credentials: '{"type":"service_account"}' },
      });
      try {
        await expect(h.call(['drive', 'files', 'list'])).rejects.toMatchObject({
          code: 'ATI_ERR_UPSTREAM',
          status: 502,
          message: `CLI command not found: 'gws' (cli_command of provider "google_workspace"); install it or put it on the proxy's PATH`,
        });
        // The credential file written for the call is gone too.
        expect(readdirSync(os.tmpdir()).filter((n) => n.startsWith(`ati-cli-${process.pid}-`))).toEqual([]);
      } finally {
        await h.provisioned.close();
      }
    },
  );

  it('a file_manager manifest is refused with the file and line named', async () => {
    dir = await makeAtiDir({
      'manifests/uploads.toml': '[provider]\nname = "files"\ndescription = "f"\nhandler = "file_manager"\n',
    });
    const r = await runAti(['proxy', '--check', '--ati-dir', dir.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `${path.join(dir.manifests, 'uploads.toml')}:4: provider.handler: the file_manager handler is not available in this build`,
    );
  });
});

describe('cli call directories on crash paths (real process)', () => {
  const script = (ending: string) => `
    import { CallWorkspace } from ${JSON.stringify(path.join(REPO_ROOT, 'dist', 'plugins', 'cli', 'credential-files.js'))};
    const w = new CallWorkspace();
    const file = await w.writeSecretFile('token', 'super-secret-value');
    process.stdout.write(file + '\\n');
    ${ending}
  `;
  const run = (code: string) =>
    new Promise<{ file: string; exit: number | null }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', (exit) => resolve({ file: out.trim(), exit }));
    });

  it('an uncaught exception still removes the credential file and its directory', async () => {
    const r = await run(script("setTimeout(() => { throw new Error('crash'); }, 0);"));
    expect(r.exit).toBe(1);
    expect(r.file).toMatch(/ati-cli-\d+-\w+\/cred-1-token$/);
    expect(existsSync(path.dirname(r.file))).toBe(false);
  });

  it('process.exit() in the middle of a call removes them too', async () => {
    const r = await run(script('process.exit(7);'));
    expect(r.exit).toBe(7);
    expect(existsSync(path.dirname(r.file))).toBe(false);
  });
});

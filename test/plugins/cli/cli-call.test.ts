/**
 * The cli plugin end to end at the plugin boundary: real manifests through the
 * real loader, a real Keyring, real child processes (test/fixtures/cli).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtiError } from '../../../kernel/errors.js';
import { processGone, waitProcessesGone } from '../../helpers/process-table.js';
import { waitForFile } from '../../helpers/wait-for-file.js';
import { fixture, nodeScriptManifest, provisionCli, q, shellScriptManifest, type Harness } from './cli-harness.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Call directories of this test process still on disk. */
function ownWorkspaceDirs(): string[] {
  return readdirSync(os.tmpdir()).filter((n) => n.startsWith(`ati-cli-${process.pid}-`));
}

async function rejection(p: Promise<unknown>): Promise<AtiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AtiError);
    return err as AtiError;
  }
  throw new Error('expected the call to fail');
}

let harness: Harness | undefined;
let scratch: string;
beforeEach(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'ati-cli-test-'));
});
afterEach(async () => {
  await harness?.provisioned.close();
  harness = undefined;
  await rm(scratch, { recursive: true, force: true });
  delete process.env['ATI_CLI_MAX_OUTPUT_BYTES'];
  expect(ownWorkspaceDirs()).toEqual([]);
});

describe('cli plugin: tools', () => {
  it('exposes one implicit tool named after the provider when there are no [[tools]]', async () => {
    harness = await provisionCli(shellScriptManifest('text-out.sh', 'category = "dev"'));
    expect(harness.provisioned.tools).toHaveLength(1);
    expect(harness.provisioned.tools[0]).toMatchObject({
      name: 'scripted',
      description: 'runs text-out.sh',
      provider: 'scripted',
      handler: 'cli',
      method: 'GET',
      endpoint: '',
      scope: 'tool:scripted',
      inputSchema: null,
      category: 'dev',
    });
  });

  it('uses the [[tools]] when there are some, and every tool runs the same command', async () => {
    harness = await provisionCli(
      `${shellScriptManifest('text-out.sh')}
[[tools]]
name = "first"
description = "one"

[[tools]]
name = "second"
description = "two"
scope = ""
`,
    );
    expect(harness.provisioned.tools.map((t) => [t.name, t.scope])).toEqual([
      ['first', 'tool:first'],
      ['second', ''],
    ]);
    expect((await harness.call(['x'], { tool: 'second' })).value).toBe('hello from x');
  });
});

describe('cli plugin: arguments (ref-01 §9)', () => {
  const argsOf = async (args: unknown): Promise<string[]> => {
    const r = (await harness!.call(args)).value as { args: string[] };
    return r.args;
  };
  beforeEach(async () => {
    harness = await provisionCli(
      `[provider]
name = "echo"
description = "echo"
handler = "cli"
cli_command = ${q(process.execPath)}
cli_default_args = [${q(fixture('echo-argv.mjs'))}, "--from-default"]
`,
    );
  });

  it('an array: strings as they are, other values as JSON text, after cli_default_args', async () => {
    expect(await argsOf(['pr', 'list', 7, true, null, { a: 1 }, 'two words'])).toEqual([
      '--from-default',
      'pr',
      'list',
      '7',
      'true',
      'null',
      '{"a":1}',
      'two words',
    ]);
  });

  it('a string: split on whitespace with no quote handling', async () => {
    expect(await argsOf('  pr list\t--repo "a b"\n')).toEqual(['--from-default', 'pr', 'list', '--repo', '"a', 'b"']);
  });

  it('an object: --key value in alphabetical order; true is a bare flag, false is "--k false"', async () => {
    expect(
      await argsOf({ zeta: 'z', alpha: 1, verbose: true, dry: false, obj: { x: [1] }, '--raw': 'kept', nothing: null }),
    ).toEqual([
      '--from-default',
      '--raw',
      'kept',
      '--alpha',
      '1',
      '--dry',
      'false',
      '--nothing',
      'null',
      '--obj',
      '{"x":[1]}',
      '--verbose',
      '--zeta',
      'z',
    ]);
  });

  it('an object with _positional: that array first, then the other entries as flags', async () => {
    expect(await argsOf({ _positional: ['pr', 'list', 3], repo: 'a/b' })).toEqual([
      '--from-default',
      'pr',
      'list',
      '3',
      '--repo',
      'a/b',
    ]);
  });

  it('raw_args takes precedence, as { raw_args } or as the array itself', async () => {
    expect(await argsOf({ raw_args: ['issue', '--flag=x y'], ignored: 'yes' })).toEqual([
      '--from-default',
      'issue',
      '--flag=x y',
    ]);
    expect(await argsOf(['issue', '--flag=x y'])).toEqual(['--from-default', 'issue', '--flag=x y']);
    // `raw_args: null` means "not given".
    expect(await argsOf({ raw_args: null, a: 'b' })).toEqual(['--from-default', '--a', 'b']);
  });

  it('anything else gives no arguments', async () => {
    for (const a of [null, undefined, 42, true]) expect(await argsOf(a)).toEqual(['--from-default']);
  });

  it('bad shapes are 400 errors and spawn nothing', async () => {
    const e1 = await rejection(harness!.call({ raw_args: ['ok', 3] }));
    expect(e1.code).toBe('ATI_ERR_TOOL_ARGS');
    expect(e1.status).toBe(400);
    expect(e1.message).toBe('raw_args must be an array of strings');
    const e2 = await rejection(harness!.call({ _positional: 'pr list' }));
    expect(e2.message).toBe('_positional must be an array of arguments');
    const e3 = await rejection(harness!.call(['a\0b']));
    expect(e3.status).toBe(400);
    expect(e3.message).toMatch(/NUL byte/);
  });

  it('gives the child a clean environment: PATH, HOME, TMPDIR, LANG, USER, TERM and the manifest’s cli_env only', async () => {
    await harness!.provisioned.close();
    harness = await provisionCli(
      nodeScriptManifest('echo-argv.mjs', '\n[provider.cli_env]\nMODE = "literal ${not closed"\nPLAIN = "x"'),
    );
    process.env['ATI_TEST_SHOULD_NOT_LEAK'] = 'leak';
    try {
      const r = (await harness.call([])).value as { env: Record<string, string> };
      const allowed = new Set(['PATH', 'HOME', 'TMPDIR', 'LANG', 'USER', 'TERM', 'MODE', 'PLAIN']);
      expect(Object.keys(r.env).filter((k) => !allowed.has(k))).toEqual([]);
      expect(r.env['PATH']).toBe(process.env['PATH']);
      expect(r.env['MODE']).toBe('literal ${not closed');
      expect(r.env['PLAIN']).toBe('x');
    } finally {
      delete process.env['ATI_TEST_SHOULD_NOT_LEAK'];
    }
  });
});

describe('cli plugin: stdout', () => {
  it('parses JSON stdout', async () => {
    harness = await provisionCli(nodeScriptManifest('echo-argv.mjs'));
    const r = await harness.call(['a']);
    expect(r.value).toMatchObject({ args: ['a'] });
  });

  it('returns text stdout trimmed, as a string', async () => {
    harness = await provisionCli(shellScriptManifest('text-out.sh'));
    expect((await harness.call(['world'])).value).toBe('hello from world');
  });
});

describe('cli plugin: credentials', () => {
  const credManifest = (extraEnv = '') =>
    nodeScriptManifest(
      'read-cred.mjs',
      `\n[provider.cli_env]\nCRED_FILE = "@{service_account}"\nINLINE = "Bearer \${api_token} v\${version}"\n${extraEnv}`,
    );
  const keys = {
    service_account: '{"type":"service_account","private_key":"-----BEGIN KEY-----\\nabc\\n"}',
    api_token: 'tok-1234567890',
    version: '2',
  };

  it('@{key} is a 0600 file in a private 0700 directory that the child reads, removed after the call; ${key} is expanded inline', async () => {
    harness = await provisionCli(credManifest(), { keys });
    const r = (await harness.call([])).value as Record<string, string>;
    expect(r['mode']).toBe('600');
    expect(r['dir_mode']).toBe('700');
    expect(r['content_sha256']).toBe(sha(keys.service_account));
    expect(r['inline_sha256']).toBe(sha('Bearer tok-1234567890 v2'));
    expect(path.dirname(r['path']!)).toMatch(new RegExp(`ati-cli-${process.pid}-`));
    expect(existsSync(r['path']!)).toBe(false);
    expect(existsSync(path.dirname(r['path']!))).toBe(false);
  });

  it('two concurrent calls get separate files', async () => {
    harness = await provisionCli(credManifest(), { keys });
    const [a, b] = (await Promise.all([harness.call([]), harness.call([])])).map(
      (x) => (x.value as { path: string }).path,
    );
    expect(a).not.toBe(b);
  });

  it('a secret the CLI prints is redacted from the result', async () => {
    harness = await provisionCli(credManifest('ECHO_SECRET = "1"'), { keys });
    const r = (await harness.call([])).value as Record<string, string>;
    expect(r['echoed']).toBe('[REDACTED]');
  });

  it('a secret the CLI prints in any spelling is redacted from the result, also short and multi-line ones', async () => {
    const secret = '"a b/';
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    harness = await provisionCli(
      nodeScriptManifest('print-secret-forms.mjs', '\n[provider.cli_env]\nSECRET = "${s}"\nPEM = "${pem}"'),
      { keys: { s: secret, pem } },
    );
    expect((await harness.call([])).value).toBe(
      [
        'raw=[REDACTED]',
        'percent=[REDACTED]',
        'form=[REDACTED]',
        'json="[REDACTED]"',
        'basic=Basic [REDACTED]',
        'pem-line=[REDACTED]',
      ].join('\n'),
    );
  });

  it('a missing keyring entry is a 500 naming the entry (and the variable), never a value', async () => {
    harness = await provisionCli(credManifest(), { keys: { api_token: 'tok-1234567890', version: '2' } });
    expect(harness.log.lines.join('')).toMatch(/keyring entry 'service_account' \(cli_env.CRED_FILE\) is missing/);
    const e = await rejection(harness.call([]));
    expect(e.code).toBe('ATI_ERR_MISSING_CREDENTIAL');
    expect(e.status).toBe(500);
    expect(e.message).toMatch(
      /keyring entry 'service_account' is missing \(needed by cli_env.CRED_FILE of provider "scripted"\)/,
    );
    expect(e.message).not.toContain('tok-1234567890');
  });

  it('a missing ${key} entry is a 500 too', async () => {
    harness = await provisionCli(credManifest(), { keys: { service_account: 'sa', version: '2' } });
    const e = await rejection(harness.call([]));
    expect(e.status).toBe(500);
    expect(e.message).toMatch(/'api_token'.*cli_env.INLINE/);
  });
});

describe('cli plugin: errors', () => {
  it('a non-zero exit is a 502 with the exit code and a bounded, redacted stderr tail; no secret in logs', async () => {
    const secret = 'sk-live-9f8e7d6c5b4a';
    harness = await provisionCli(
      shellScriptManifest('fail.sh', '\n[provider.cli_env]\nAPI_TOKEN = "${token}"\nNOISE_LINES = "3000"'),
      {
        keys: { token: secret },
      },
    );
    const e = await rejection(harness.call([]));
    expect(e.code).toBe('ATI_ERR_UPSTREAM');
    expect(e.status).toBe(502);
    expect(e.details).toEqual({ exit_code: 3 });
    expect(e.message).toMatch(/^CLI exited with code 3: …/);
    expect(e.message).toMatch(/auth failed for token \[REDACTED\]$/);
    expect(Buffer.byteLength(e.message)).toBeLessThan(2_200);
    expect(e.message).not.toContain(secret);
    const logs = harness.log.lines.join('\n');
    expect(logs).toMatch(/cli call failed/);
    expect(logs).not.toContain(secret);
  });

  it('a missing executable is a 502 naming the command', async () => {
    harness = await provisionCli(
      '[provider]\nname = "ghost"\ndescription = "g"\nhandler = "cli"\ncli_command = "definitely-not-installed-cli"\n',
    );
    expect(harness.log.lines.join('')).toMatch(/cli_command 'definitely-not-installed-cli' is not found/);
    const e = await rejection(harness.call(['x']));
    expect(e.status).toBe(502);
    expect(e.message).toBe(
      `CLI command not found: 'definitely-not-installed-cli' (cli_command of provider "ghost"); install it or put it on the proxy's PATH`,
    );
  });

  it('a file without the execute bit is a 502 saying so', async () => {
    harness = await provisionCli(
      `[provider]\nname = "noexec"\ndescription = "n"\nhandler = "cli"\ncli_command = ${q(fixture('echo-argv.mjs'))}\n`,
    );
    const e = await rejection(harness.call([]));
    expect(e.status).toBe(502);
    expect(e.message).toMatch(/is not executable \(permission denied\)/);
  });

  it('captured output that was not written is a 502 and the call directory is still removed', async () => {
    harness = await provisionCli(
      nodeScriptManifest('make-files.mjs', 'cli_output_args = ["--out"]\n[provider.cli_env]\nSKIP_WRITE = "1"'),
    );
    const e = await rejection(harness.call(['--out', '/sandbox/missing.txt']));
    expect(e.status).toBe(502);
    expect(e.message).toBe("Captured output '/sandbox/missing.txt' was not produced by the CLI");
  });
});

describe('cli plugin: output capture', () => {
  it('captures flag, flag=value and positional outputs, returned base64 with size and content type', async () => {
    harness = await provisionCli(
      nodeScriptManifest('make-files.mjs', 'cli_output_args = ["--out"]\n[provider.cli_output_positional]\nexport = 1'),
    );
    const r = (
      await harness.call([
        'export',
        'in.txt',
        '/sandbox/data.csv',
        '--out',
        '/sandbox/report.pdf',
        '--OUT=/sandbox/shot.png',
      ])
    ).value as {
      stdout: string;
      outputs: Record<string, { content_base64: string; size_bytes: number; content_type: string }>;
    };
    expect(r.stdout).toBe('wrote 3 file(s)');
    expect(r.outputs['/sandbox/report.pdf']).toEqual({
      content_base64: Buffer.from('flag value form').toString('base64'),
      size_bytes: 15,
      content_type: 'application/pdf',
    });
    expect(r.outputs['/sandbox/shot.png']).toEqual({
      content_base64: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]).toString('base64'),
      size_bytes: 8,
      content_type: 'image/png',
    });
    expect(r.outputs['/sandbox/data.csv']).toMatchObject({
      content_base64: Buffer.from('exported').toString('base64'),
      content_type: 'text/csv',
    });
    expect(Object.keys(r.outputs)).toHaveLength(3);
  });

  it('a captured file over ATI_CLI_MAX_OUTPUT_BYTES is a 502', async () => {
    process.env['ATI_CLI_MAX_OUTPUT_BYTES'] = '1000';
    harness = await provisionCli(
      nodeScriptManifest('make-files.mjs', 'cli_output_args = ["--out"]\n[provider.cli_env]\nBIG_BYTES = "1001"'),
    );
    const e = await rejection(harness.call(['--out', 'big.bin']));
    expect(e.status).toBe(502);
    expect(e.message).toBe(
      "Captured output 'big.bin' exceeds ATI_CLI_MAX_OUTPUT_BYTES (1000 bytes; the file has 1001)",
    );
  });

  it('stdout over ATI_CLI_MAX_OUTPUT_BYTES kills the process group and is a 502', async () => {
    process.env['ATI_CLI_MAX_OUTPUT_BYTES'] = '65536';
    harness = await provisionCli(shellScriptManifest('flood.sh'));
    const e = await rejection(harness.call([]));
    expect(e.status).toBe(502);
    expect(e.message).toMatch(
      /^CLI stdout exceeded ATI_CLI_MAX_OUTPUT_BYTES \(65536 bytes\); its process group was killed$/,
    );
  });

  it('an unusable ATI_CLI_MAX_OUTPUT_BYTES is reported and the default applies', async () => {
    process.env['ATI_CLI_MAX_OUTPUT_BYTES'] = 'lots';
    harness = await provisionCli(shellScriptManifest('text-out.sh'));
    expect(harness.log.lines.join('')).toMatch(/ATI_CLI_MAX_OUTPUT_BYTES is not a positive integer; using the default/);
  });
});

describe('cli plugin: process lifetime', () => {
  const pidsFrom = (file: string) => readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);

  it('a timeout is a 504 and kills the whole process group (no orphan in the process table)', async () => {
    const pidFile = path.join(scratch, 'pids');
    harness = await provisionCli(
      shellScriptManifest('sleep-tree.sh', `cli_timeout_secs = 1\n[provider.cli_env]\nPID_FILE = ${q(pidFile)}`),
    );
    const started = Date.now();
    const e = await rejection(harness.call([]));
    expect(e.code).toBe('ATI_ERR_UPSTREAM_TIMEOUT');
    expect(e.status).toBe(504);
    expect(e.message).toBe(
      'CLI timed out after 1s (cli_timeout_secs of provider "scripted"); its process group was killed',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    const pids = pidsFrom(pidFile);
    expect(pids).toHaveLength(2);
    expect(await waitProcessesGone(pids)).toBe(true);
  });

  it('a CLI that ignores SIGTERM is SIGKILLed after the grace period', async () => {
    const pidFile = path.join(scratch, 'pids');
    harness = await provisionCli(
      shellScriptManifest(
        'sleep-tree.sh',
        `cli_timeout_secs = 1\n[provider.cli_env]\nPID_FILE = ${q(pidFile)}\nIGNORE_TERM = "1"`,
      ),
    );
    const e = await rejection(harness.call([]));
    expect(e.status).toBe(504);
    expect(await waitProcessesGone(pidsFrom(pidFile))).toBe(true);
  });

  it('aborting the call (client disconnect) kills the process group and removes the call directory', async () => {
    const pidFile = path.join(scratch, 'pids');
    harness = await provisionCli(
      shellScriptManifest('sleep-tree.sh', `[provider.cli_env]\nPID_FILE = ${q(pidFile)}\nCRED = "@{k}"`),
      { keys: { k: 'secret-value' } },
    );
    const controller = new AbortController();
    const pending = harness.call([], { signal: controller.signal });
    await waitForFile(pidFile);
    expect(ownWorkspaceDirs()).toHaveLength(1);
    const pids = pidsFrom(pidFile);
    expect(pids.some(processGone)).toBe(false);
    controller.abort();
    const e = await rejection(pending);
    expect(e.code).toBe('ATI_ERR_UPSTREAM');
    expect(e.message).toMatch(/aborted \(client went away\)/);
    expect(await waitProcessesGone(pids)).toBe(true);
    expect(ownWorkspaceDirs()).toEqual([]);
  });

  it('an already-aborted signal spawns nothing', async () => {
    const pidFile = path.join(scratch, 'pids');
    harness = await provisionCli(shellScriptManifest('sleep-tree.sh', `[provider.cli_env]\nPID_FILE = ${q(pidFile)}`));
    const controller = new AbortController();
    controller.abort();
    await rejection(harness.call([], { signal: controller.signal }));
    expect(existsSync(pidFile)).toBe(false);
  });

  it('background processes left by a CLI that exited are killed with its group', async () => {
    const pidFile = path.join(scratch, 'pid');
    harness = await provisionCli(
      shellScriptManifest('leave-background.sh', `[provider.cli_env]\nPID_FILE = ${q(pidFile)}`),
    );
    expect((await harness.call([])).value).toEqual({ ok: true, n: 1 });
    expect(await waitProcessesGone(pidsFrom(pidFile))).toBe(true);
  });

  it('close() stops running calls (503) and refuses new ones', async () => {
    const pidFile = path.join(scratch, 'pids');
    harness = await provisionCli(shellScriptManifest('sleep-tree.sh', `[provider.cli_env]\nPID_FILE = ${q(pidFile)}`));
    const pending = harness.call([]);
    await waitForFile(pidFile);
    await harness.provisioned.close();
    const e = await rejection(pending);
    expect(e.code).toBe('ATI_ERR_SHUTTING_DOWN');
    expect(await waitProcessesGone(pidsFrom(pidFile))).toBe(true);
    const again = await rejection(harness.call([]));
    expect(again.status).toBe(503);
  });
});

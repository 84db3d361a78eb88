/**
 * The cli plugin's parts on their own: manifest validation, `${key}` expansion,
 * redaction, output-capture planning, the stale-directory sweep and --check mode.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseManifests } from '../../../config/manifest-loader.js';
import { sha256 } from '../../../kernel/hash.js';
import { compileTemplate, expandTemplate, LENIENT_TEMPLATE } from '../../../kernel/placeholders.js';
import { CallWorkspace, sweepStaleWorkspaces } from '../../../plugins/cli/credential-files.js';
import {
  contentTypeFor,
  DEFAULT_MAX_OUTPUT_BYTES,
  parseMaxOutputBytes,
  planCaptures,
} from '../../../plugins/cli/output-capture.js';
import { injectedSecretMatcher } from '../../../kernel/redact.js';
import { cliConfigFromManifest } from '../../../plugins/cli/schema.js';
import { loadManifest, provisionCli, registry, shellScriptManifest } from './cli-harness.js';

function errorsOf(toml: string): string[] {
  return parseManifests([{ file: '/m/c.toml', text: toml, hash: sha256(toml) }], registry()).errors.map((e) =>
    e.describe(),
  );
}

const HEAD = '[provider]\nname = "c"\ndescription = "c"\nhandler = "cli"\n';

describe('cli manifest validation', () => {
  it('accepts every field with the right types and applies the defaults', () => {
    const m = loadManifest(`${HEAD}cli_command = "tool"\n`);
    const cfg = cliConfigFromManifest(m);
    expect(cfg).toMatchObject({
      command: 'tool',
      defaultArgs: [],
      env: {},
      timeoutSecs: 120,
      timeoutMs: 120_000,
      outputArgs: [],
      outputPositional: [],
    });
    const full = cliConfigFromManifest(
      loadManifest(
        `${HEAD}cli_command = "gws"\ncli_default_args = ["--json"]\ncli_timeout_secs = 5\ncli_output_args = ["--output", "-o"]\n[provider.cli_env]\nA = "b"\n[provider.cli_output_positional]\n"drive files get" = 1\n`,
      ),
    );
    expect(full).toMatchObject({
      defaultArgs: ['--json'],
      timeoutMs: 5000,
      outputArgs: ['--output', '-o'],
      env: { A: 'b' },
    });
    expect(full.outputPositional).toEqual([{ prefix: ['drive', 'files', 'get'], index: 1 }]);
  });

  it('reports each problem with file, line and field', () => {
    expect(errorsOf(HEAD)).toEqual([
      '/m/c.toml:1: provider.cli_command: required for handler "cli" (the executable to run)',
    ]);
    expect(errorsOf(`${HEAD}cli_comand = "x"\n`)).toContain(
      '/m/c.toml:5: provider.cli_comand: unknown key "cli_comand" (did you mean "cli_command"?)',
    );
    expect(errorsOf(`${HEAD}cli_command = "x"\ncli_timeout_secs = "10"\n`)).toEqual([
      '/m/c.toml:6: provider.cli_timeout_secs: must be an integer (found "10")',
    ]);
    expect(errorsOf(`${HEAD}cli_command = "x"\ncli_timeout_secs = -1\n`)[0]).toMatch(/provider\.cli_timeout_secs/);
    expect(
      errorsOf(
        `${HEAD}cli_command = "x"\n[provider.cli_env]\n"BAD-NAME" = "v"\nEMPTY = "@{}"\nHALF = "@{key"\nNONE = "a \${} b"\n`,
      ),
    ).toEqual([
      '/m/c.toml:7: provider.cli_env.BAD-NAME: "BAD-NAME" is not a valid environment variable name (letters, digits and _, not starting with a digit)',
      '/m/c.toml:8: provider.cli_env.EMPTY: "@{}" names no keyring entry',
      '/m/c.toml:9: provider.cli_env.HALF: "@{key}" must be the whole value (it is replaced by a file path)',
      '/m/c.toml:10: provider.cli_env.NONE: "${}" names no keyring entry',
    ]);
    expect(errorsOf(`${HEAD}cli_command = "x"\n[provider.cli_output_positional]\n" " = 0\n`)[0]).toMatch(
      /provider\.cli_output_positional: a subcommand prefix must not be empty/,
    );
  });

  it('refuses auth_generator (not supported for cli in this build) rather than running without auth', () => {
    expect(
      errorsOf(`${HEAD}cli_command = "x"\n[provider.auth_generator]\ntype = "command"\ncommand = "gen"\n`),
    ).toEqual([
      '/m/c.toml:6: provider.auth_generator: auth_generator is not supported for handler "cli" in this build; use cli_env with ${key} or @{key} instead',
    ]);
  });

  it('names fields of other handlers as such', () => {
    expect(errorsOf(`${HEAD}cli_command = "x"\nmcp_command = "y"\n`)[0]).toMatch(/unknown key "mcp_command"/);
  });
});

describe('${key} expansion (the lenient syntax cli_env values use)', () => {
  const expandInline = (value: string, resolve: (key: string) => string) =>
    expandTemplate(compileTemplate(value, LENIENT_TEMPLATE), resolve);
  const keys: Record<string, string> = { a: '${b}', b: 'never', t: 'TOKEN' };
  const resolve = (k: string) => {
    const v = keys[k];
    if (v === undefined) throw new Error(`missing ${k}`);
    return v;
  };
  it('replaces every reference in one pass; a secret containing ${…} is not expanded again', () => {
    expect(expandInline('Bearer ${t}; again ${t}', resolve)).toBe('Bearer TOKEN; again TOKEN');
    expect(expandInline('${a}', resolve)).toBe('${b}');
  });
  it('keeps an unterminated ${ literally and fails on a missing entry', () => {
    expect(expandInline('x ${t} ${open', resolve)).toBe('x TOKEN ${open');
    expect(() => expandInline('${zzz}', resolve)).toThrow('missing zzz');
  });
});

describe('redaction', () => {
  it('replaces secrets as written, JSON-escaped, and long lines of multi-line secrets', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    const m = injectedSecretMatcher(['tok-123456', pem, 'ab']);
    const r = (text: string) => m.redact(text);
    expect(r('token tok-123456 ok')).toBe('token [REDACTED] ok');
    expect(r(JSON.stringify({ key: pem }))).toBe('{"key":"[REDACTED]"}');
    expect(r('line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC')).toBe('line: [REDACTED]');
    // Very short values are left alone: scrubbing "ab" everywhere would wreck the output.
    expect(r('abc')).toBe('abc');
  });
});

describe('output capture planning', () => {
  const workspaces: CallWorkspace[] = [];
  afterEach(async () => {
    await Promise.all(workspaces.map((w) => w.dispose()));
    workspaces.length = 0;
  });
  const plan = async (extra: string, argv: string[]) => {
    const w = new CallWorkspace();
    workspaces.push(w);
    return planCaptures(cliConfigFromManifest(loadManifest(`${HEAD}cli_command = "x"\n${extra}`)), argv, w);
  };

  it('rewrites --flag value and --flag=value case-insensitively, keeping the extension', async () => {
    const p = await plan('cli_output_args = ["--output"]\n', [
      'a',
      '--OUTPUT',
      'r.PDF',
      '--output=/x/y.png',
      '--output',
    ]);
    expect(p.captures.map((c) => c.original)).toEqual(['r.PDF', '/x/y.png']);
    expect(p.argv[2]).toBe(p.captures[0]!.temp);
    expect(p.argv[2]).toMatch(/out-\d+\.PDF$/);
    expect(p.argv[3]).toBe(`--output=${p.captures[1]!.temp}`);
    // A trailing flag with no value is left alone.
    expect(p.argv[4]).toBe('--output');
  });

  it('uses the longest matching positional prefix, counted after the prefix', async () => {
    const extra = '[provider.cli_output_positional]\n"storage" = 0\n"storage cp" = 1\n';
    const p = await plan(extra, ['storage', 'cp', '--recursive', 'gs://b/o', 'local/file.txt']);
    expect(p.captures.map((c) => c.original)).toEqual(['local/file.txt']);
    expect(p.argv.slice(0, 4)).toEqual(['storage', 'cp', '--recursive', 'gs://b/o']);
    const other = await plan(extra, ['storage', 'out.bin']);
    expect(other.captures.map((c) => c.original)).toEqual(['out.bin']);
    expect((await plan(extra, ['compute', 'x'])).captures).toEqual([]);
    // Too few positionals for "storage cp": the shorter prefix that fits applies.
    expect((await plan(extra, ['storage', 'cp', 'only-source'])).captures.map((c) => c.original)).toEqual(['cp']);
    expect((await plan(extra, ['storage'])).captures).toEqual([]);
  });

  it('never rewrites a slot twice', async () => {
    // The positional rule targets the slot the flag rule already rewrote: it is captured once.
    const q2 = await plan('cli_output_args = ["--out"]\n[provider.cli_output_positional]\n"x" = 0\n', [
      'x',
      '--out',
      'same.txt',
    ]);
    expect(q2.captures.map((c) => c.original)).toEqual(['same.txt']);
  });

  it('content types follow the caller’s extension; unknown is octet-stream', () => {
    expect(contentTypeFor('/a/b.JPEG')).toBe('image/jpeg');
    expect(contentTypeFor('x.md')).toBe('text/markdown');
    expect(contentTypeFor('noext')).toBe('application/octet-stream');
  });

  it('ATI_CLI_MAX_OUTPUT_BYTES: unset → 500 MiB; positive integers only', () => {
    expect(parseMaxOutputBytes(undefined)).toBe(DEFAULT_MAX_OUTPUT_BYTES);
    expect(DEFAULT_MAX_OUTPUT_BYTES).toBe(524_288_000);
    expect(parseMaxOutputBytes(' 1024 ')).toBe(1024);
    for (const bad of ['0', '-1', '1e3', 'x']) expect(parseMaxOutputBytes(bad)).toBeUndefined();
  });
});

describe('call directories', () => {
  const deadPid = (): number => {
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    return Number(r.stdout.toString());
  };
  const cleanup: string[] = [];
  afterEach(async () => {
    await Promise.all(cleanup.map((d) => rm(d, { recursive: true, force: true })));
    cleanup.length = 0;
  });

  it('provision sweeps directories of dead proxies, but not in --check mode, and never live ones', async () => {
    const stale = path.join(os.tmpdir(), `ati-cli-${deadPid()}-Stale1`);
    const live = path.join(os.tmpdir(), `ati-cli-${process.ppid}-Live01`);
    for (const d of [stale, live]) {
      mkdirSync(d);
      writeFileSync(path.join(d, 'cred-1-k'), 'secret');
      cleanup.push(d);
    }
    const check = await provisionCli(shellScriptManifest('text-out.sh'), { checkOnly: true });
    expect(check.provisioned.tools.map((t) => t.name)).toEqual(['scripted']);
    expect(existsSync(stale)).toBe(true);
    await check.provisioned.close();
    const serving = await provisionCli(shellScriptManifest('text-out.sh'));
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    await serving.provisioned.close();
    expect(await sweepStaleWorkspaces()).not.toContain(live);
  });
});

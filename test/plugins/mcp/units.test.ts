import { describe, expect, it } from 'vitest';
import { PluginRegistry } from '../../../core/plugin/contract.js';
import { Keyring } from '../../../config/keyring.js';
import { parseManifests } from '../../../config/manifest-loader.js';
import { createMcpPlugin } from '../../../plugins/mcp/index.js';
import { expandPlaceholders } from '../../../kernel/placeholders.js';
import { injectedSecretMatcher } from '../../../kernel/redact.js';
import { StderrLog } from '../../../plugins/mcp/stderr-log.js';
import { cleanChildEnv } from '../../../plugins/mcp/stdio-transport.js';
import { resolveTarget } from '../../../plugins/mcp/target.js';
import { captureLogs } from '../../helpers/log-capture.js';

function load(toml: string) {
  const registry = new PluginRegistry();
  registry.register(createMcpPlugin());
  return parseManifests([{ file: '/m/x.toml', text: toml, hash: 'h' }], registry);
}

const head = '[provider]\nname = "x"\ndescription = "d"\nhandler = "mcp"\n';

describe('mcp plugin units', () => {
  it('expands ${key} in one pass and reports every missing entry', () => {
    const kr = new Map([
      ['a', 'A-${b}'],
      ['b', 'B'],
      ['empty', ''],
    ]);
    const x = expandPlaceholders('${a}/${b}/${missing}/${empty}/${other}/${unterminated', (k) => kr.get(k));
    expect(x.value).toBe('A-${b}/B/${missing}//${other}/${unterminated');
    expect(x.missing).toEqual(['missing', 'other']);
    expect(x.used).toEqual([
      ['a', 'A-${b}'],
      ['b', 'B'],
      ['empty', ''],
    ]);
  });

  it('redacts secrets (and their basic-auth form) but not short values', () => {
    const m = injectedSecretMatcher(['s3cr3t-value', 'abc']);
    const r = (text: string) => m.redact(text);
    expect(r('x s3cr3t-value y abc')).toBe('x [REDACTED] y abc');
    expect(r(`Basic ${Buffer.from('s3cr3t-value:').toString('base64')}`)).toMatch(/^Basic \[REDACTED\]=*$/);
  });

  it('bounds stderr logging: long lines are cut, floods are counted, partial lines wait for their newline', () => {
    const logs = captureLogs();
    const hunter = injectedSecretMatcher(['hunter22']);
    const s = new StderrLog(logs.logger, (t) => hunter.redact(t), {
      maxLineChars: 10,
      linesPerWindow: 3,
      windowMs: 60_000,
    });
    s.write('hello ');
    expect(logs.lines).toHaveLength(0);
    s.write(Buffer.from('world\nabcdefghijklmnopqrstuvwxyz\r\nhunter22\n\n'));
    s.write('4\n5\n6\n');
    s.end();
    const lines = logs.lines.map((l) => [l['line'] ?? l['suppressed'], l['truncated'] ?? false]);
    expect(lines).toEqual([
      ['hello worl', true],
      ['abcdefghij', true],
      ['[REDACTED]', false],
      [3, false],
    ]);
    expect(logs.lines.every((l) => l.level === 'WARN')).toBe(true);
  });

  it('keeps a multi-byte character split across chunks intact', () => {
    const logs = captureLogs();
    const s = new StderrLog(logs.logger, (t) => t);
    const bytes = Buffer.from('héllo\n');
    s.write(bytes.subarray(0, 2));
    s.write(bytes.subarray(2));
    expect(logs.lines[0]!['line']).toBe('héllo');
  });

  it('builds the clean child environment: PATH and HOME only, then mcp_env; inherited extras removed', () => {
    const reads = new Map<string, string | undefined>();
    const m = load(
      `${head}mcp_command = "srv"\nmcp_args = ["--x", "\${not_expanded}"]\n[provider.mcp_env]\nTOKEN = "\${tok}"\n`,
    ).manifests[0]!;
    const r = resolveTarget(m, new Keyring([['tok', 'tok-value']], 't').accessor(reads), {
      PATH: '/bin',
      HOME: '/home/u',
      USER: 'u',
      SECRET: 's',
    });
    expect(r.target).toEqual({
      kind: 'stdio',
      command: 'srv',
      args: ['--x', '${not_expanded}'],
      env: { PATH: '/bin', HOME: '/home/u', TOKEN: 'tok-value' },
    });
    expect(r.secrets).toEqual(['tok-value']);
    expect([...reads.keys()]).toEqual(['tok']);
    const env = cleanChildEnv({ PATH: '/bin' });
    expect(env['PATH']).toBe('/bin');
    for (const k of ['USER', 'SHELL', 'TERM', 'LOGNAME']) expect(k in env && env[k] === undefined).toBe(true);
  });

  it('builds the HTTP auth header per ref-01 §5.3; the credential wins over extra_headers', () => {
    const kr = new Keyring([['k', 'key-1']], 't');
    const url = 'mcp_transport = "http"\nmcp_url = "https://example.test/mcp"\n';
    const basic = load(
      `${head}${url}auth_type = "basic"\nauth_key_name = "k"\n[provider.extra_headers]\nauthorization = "x"\nX-A = "1"\n`,
    ).manifests[0]!;
    expect(resolveTarget(basic, kr.accessor()).target).toMatchObject({
      headers: { 'X-A': '1', Authorization: `Basic ${Buffer.from('key-1:').toString('base64')}` },
    });
    const none = load(`${head}${url}auth_type = "query"\nauth_key_name = "k"\n`).manifests[0]!;
    expect(resolveTarget(none, kr.accessor()).target).toMatchObject({ headers: {} });
    const missing = load(`${head}${url}auth_type = "bearer"\nauth_key_name = "absent"\n`).manifests[0]!;
    expect(() => resolveTarget(missing, kr.accessor())).toThrow(/'absent'/);
  });

  it('validates the manifest with located, precise errors', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /provider\.mcp_command: mcp_command is required for the stdio transport/],
      ['mcp_transport = "http"\n', /provider\.mcp_url: mcp_url is required/],
      ['mcp_transport = "http"\nmcp_url = "ftp://x"\n', /must start with http:\/\/ or https:\/\//],
      ['mcp_transport = "websocket"\nmcp_command = "x"\n', /provider\.mcp_transport: must be one of "stdio", "http"/],
      [
        'mcp_transport = "http"\nmcp_url = "http://x"\nauth_type = "bearer"\n',
        /auth_type = "bearer" needs auth_key_name/,
      ],
      ['mcp_command = "x"\nmcp_timeout_secs = 0\n', /provider\.mcp_timeout_secs/],
      ['mcp_command = "x"\nmcp_comand = "y"\n', /unknown key "mcp_comand".*did you mean "mcp_command"/],
      [
        'mcp_command = "x"\n[provider.auth_generator]\ntype = "command"\ncommand = "echo"\n',
        /auth_generator is not supported by the mcp handler/,
      ],
    ];
    for (const [extra, re] of cases) {
      const r = load(head + extra);
      expect(r.manifests).toHaveLength(0);
      expect(r.errors.map((e) => e.describe()).join('\n')).toMatch(re);
    }
  });
});

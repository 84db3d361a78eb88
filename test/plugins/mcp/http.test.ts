import { afterEach, describe, expect, it } from 'vitest';
import type { AtiError } from '../../../kernel/errors.js';
import { ToolContentError } from '../../../core/plugin/contract.js';
import { createMcpPlugin, type McpSession } from '../../../plugins/mcp/index.js';
// @ts-expect-error: plain JavaScript fixture (also used by bench/)
import { startHttpMcpServer } from '../../fixtures/mcp/http-server.mjs';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { captureLogs, type LogCapture } from '../../helpers/log-capture.js';
import { callTool } from './helpers.js';

interface HttpFixture {
  url: string;
  port: number;
  stats: {
    initializes: number;
    calls: number;
    unauthorized: number;
    deletes: number;
    headers: Array<Record<string, string>>;
  };
  forgetSessions(): void;
  close(): Promise<void>;
}

const TOKEN = 'upstream-bearer-0123456789';

function httpManifest(name: string, url: string, extra = ''): string {
  return `[provider]\nname = "${name}"\ndescription = "test http MCP server"\nhandler = "mcp"\nmcp_transport = "http"\nmcp_url = "${url}"\n${extra}\n`;
}

const BEARER = 'auth_type = "bearer"\nauth_key_name = "up_token"\n';

describe('mcp plugin: Streamable HTTP upstream', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;
  let upstream: HttpFixture | undefined;
  let logs: LogCapture;
  let sessions: Map<string, McpSession>;

  async function start(files: Record<string, string>) {
    dir = await makeAtiDir(files);
    logs = captureLogs();
    sessions = new Map();
    th = await startHost(dir.dir, [createMcpPlugin({ onSession: (p, s) => sessions.set(p, s) })], {
      logger: logs.logger,
    });
    return th;
  }

  afterEach(async () => {
    await th?.close();
    th = undefined;
    await upstream?.close();
    upstream = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  for (const mode of ['json', 'sse'] as const) {
    it(`discovers and calls tools over one session with a bearer from the keyring (${mode} responses)`, async () => {
      upstream = (await startHttpMcpServer({ json: mode === 'json', token: TOKEN })) as HttpFixture;
      const { host } = await start({
        'manifests/up.toml': httpManifest(
          'up',
          upstream.url,
          BEARER + '\n[provider.extra_headers]\nX-Team = "research"\n',
        ),
        credentials: JSON.stringify({ up_token: TOKEN }),
      });
      expect(host.current.toolList.map((t) => t.name)).toEqual(['up:echo', 'up:add', 'up:fail', 'up:hang']);
      expect(host.current.tools.get('up:add')!.inputSchema).toMatchObject({
        type: 'object',
        properties: { a: { type: 'number' } },
      });
      expect((await callTool(host, 'up:add', { a: 1, b: 2 })).value).toEqual({ sum: 3 });
      const many = await Promise.all(
        Array.from({ length: 10 }, (_, i) => callTool(host, 'up:echo', { text: `m${i}` })),
      );
      expect(many.map((r) => r.value)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
      // One initialize for discovery and all eleven calls.
      expect(upstream.stats.initializes).toBe(1);
      expect(upstream.stats.unauthorized).toBe(0);
      const posts = upstream.stats.headers.filter((h) => h['method'] === 'POST');
      for (const h of posts) {
        expect(h['authorization']).toBe(`Bearer ${TOKEN}`);
        expect(h['x-team']).toBe('research');
        expect(h['accept']).toContain('text/event-stream');
      }
      const afterInit = posts.slice(1);
      expect(afterInit.every((h) => typeof h['mcp-session-id'] === 'string')).toBe(true);
      expect(afterInit.every((h) => typeof h['mcp-protocol-version'] === 'string')).toBe(true);
    });
  }

  it('turns an isError result into a 502 error and times out a request that never gets an answer', async () => {
    upstream = (await startHttpMcpServer({ json: false })) as HttpFixture;
    const { host } = await start({ 'manifests/up.toml': httpManifest('up', upstream.url, 'mcp_timeout_secs = 1') });
    const err = await callTool(host, 'up:fail').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolContentError);
    expect((err as ToolContentError).message).toContain('http tool failed on purpose');
    const t = (await callTool(host, 'up:hang').catch((e: unknown) => e)) as AtiError;
    expect(t.code).toBe('ATI_ERR_UPSTREAM_TIMEOUT');
    expect(t.message).toBe('MCP tools/call to provider "up" timed out after 1 s');
    expect((await callTool(host, 'up:echo', { text: 'alive' })).value).toBe('alive');
  });

  for (const lostSession of [404, 400] as const) {
    it(`starts a new session when the server forgot the old one (${lostSession}), without failing the call`, async () => {
      upstream = (await startHttpMcpServer({ json: true, lostSession })) as HttpFixture;
      const { host } = await start({ 'manifests/up.toml': httpManifest('up', upstream.url) });
      expect((await callTool(host, 'up:echo', { text: 'one' })).value).toBe('one');
      upstream.forgetSessions();
      expect((await callTool(host, 'up:echo', { text: 'two' })).value).toBe('two');
      expect(upstream.stats.initializes).toBe(2);
      expect(sessions.get('up')!.reinitialisations).toBe(1);
      await logs.waitFor(
        (l) => l.message === 'MCP session lost upstream; initialising a new session' && l['status'] === lostSession,
      );
    });
  }

  it('heals a forgotten session on a forced reload, keeping the provider when its tools did not change', async () => {
    upstream = (await startHttpMcpServer({ json: true, lostSession: 400 })) as HttpFixture;
    const { host } = await start({ 'manifests/up.toml': httpManifest('up', upstream.url) });
    const before = host.current.providers.get('up');
    upstream.forgetSessions();
    const r = await host.reload('test', { force: true });
    expect(r).toMatchObject({ status: 'applied' });
    expect(host.current.providers.get('up')).toBe(before);
    expect(upstream.stats.initializes).toBe(2);
    expect((await callTool(host, 'up:echo', { text: 'after' })).value).toBe('after');
    expect(upstream.stats.initializes).toBe(2);
  });

  it('deletes the session when the provider closes', async () => {
    upstream = (await startHttpMcpServer({ json: true })) as HttpFixture;
    await start({ 'manifests/up.toml': httpManifest('up', upstream.url) });
    expect(upstream.stats.deletes).toBe(0);
    await th!.close();
    th = undefined;
    expect(upstream.stats.deletes).toBe(1);
  });

  it('expands ${key} in mcp_url and sends header auth with a prefix and a custom header name', async () => {
    upstream = (await startHttpMcpServer({ json: true, path: '/p-secret-path/mcp' })) as HttpFixture;
    const url = upstream.url.replace('p-secret-path', '${mcp_path}');
    const { host } = await start({
      'manifests/up.toml': httpManifest(
        'up',
        url,
        'auth_type = "header"\nauth_key_name = "k"\nauth_header_name = "X-Api-Key"\nauth_value_prefix = "Key "\n',
      ),
      credentials: JSON.stringify({ mcp_path: 'p-secret-path', k: 'kkkk-1234' }),
    });
    expect(host.current.tools.has('up:echo')).toBe(true);
    expect(upstream.stats.headers.every((h) => h['x-api-key'] === 'Key kkkk-1234')).toBe(true);
    expect(JSON.stringify(logs.lines)).not.toContain('p-secret-path');
  });

  it('loads with no tools and a WARN when the upstream refuses the credential, and retries after the keyring is fixed', async () => {
    upstream = (await startHttpMcpServer({ json: true, token: TOKEN })) as HttpFixture;
    const { host } = await start({
      'manifests/up.toml': httpManifest('up', upstream.url, BEARER),
      credentials: JSON.stringify({ up_token: 'wrong-token-value' }),
    });
    expect(host.current.toolList).toHaveLength(0);
    const warn = await logs.waitFor((l) => l.message.startsWith('MCP discovery failed'));
    expect(String(warn['error'])).toContain('HTTP 401');
    expect(JSON.stringify(logs.lines)).not.toContain('wrong-token-value');
    await dir!.write('credentials', JSON.stringify({ up_token: TOKEN }));
    expect(await host.reload('test')).toMatchObject({ status: 'applied', provisioned: ['up'] });
    expect(host.current.toolList).toHaveLength(4);
  });

  it('loads with no tools and a WARN when the upstream is down', async () => {
    upstream = (await startHttpMcpServer({ json: true })) as HttpFixture;
    const url = upstream.url;
    await upstream.close();
    upstream = undefined;
    const { host } = await start({ 'manifests/up.toml': httpManifest('up', url) });
    expect(host.current.toolList).toHaveLength(0);
    const warn = await logs.waitFor((l) => l.message.startsWith('MCP discovery failed'));
    expect(String(warn['error'])).toMatch(/ECONNREFUSED|fetch failed/);
  });
});

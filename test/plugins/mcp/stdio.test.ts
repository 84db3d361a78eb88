import { afterEach, describe, expect, it } from 'vitest';
import { registry as metricsRegistry } from '../../../core/metrics/metrics.js';
import { AtiError } from '../../../kernel/errors.js';
import { ToolContentError } from '../../../core/plugin/contract.js';
import { createMcpPlugin, type McpSession } from '../../../plugins/mcp/index.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { captureLogs, type LogCapture } from '../../helpers/log-capture.js';
import { makeTestPlugin } from '../../helpers/test-plugin.js';
import { callTool, isAlive, stdioManifest, waitForExit } from './helpers.js';

const FAST_RESTART = { baseMs: 50, maxMs: 400, stableMs: 60_000 };

describe('mcp plugin: stdio upstream', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;
  let logs: LogCapture;
  let sessions: Map<string, McpSession>;

  async function start(files: Record<string, string>, opts: { checkOnly?: boolean } = {}) {
    dir = await makeAtiDir(files);
    logs = captureLogs();
    sessions = new Map();
    const plugin = createMcpPlugin({ restart: FAST_RESTART, onSession: (p, s) => sessions.set(p, s) });
    th = await startHost(dir.dir, [plugin, makeTestPlugin()], {
      logger: logs.logger,
      options: { atiDir: dir.dir, enablePassthrough: true, checkOnly: opts.checkOnly ?? false },
    });
    return th;
  }

  afterEach(async () => {
    await th?.close();
    th = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('discovers every tool across tools/list pages, named <provider>:<tool> with scope tool:<provider>:<tool>', async () => {
    const { host } = await start({
      'manifests/fx.toml': stdioManifest('fx', { args: ['--page-size', '3', '--extra-tools', '4'] }),
    });
    const names = host.current.toolList.map((t) => t.name);
    expect(names).toEqual([
      'fx:echo',
      'fx:add',
      'fx:fail',
      'fx:stderr',
      'fx:crash',
      'fx:hang',
      'fx:env',
      'fx:pid',
      'fx:multi',
      'fx:changed',
      'fx:grow',
      'fx:sleep',
      'fx:notify',
      'fx:extra_0',
      'fx:extra_1',
      'fx:extra_2',
      'fx:extra_3',
    ]);
    const echo = host.current.tools.get('fx:echo')!;
    expect(echo).toMatchObject({
      provider: 'fx',
      handler: 'mcp',
      method: 'POST',
      endpoint: '',
      scope: 'tool:fx:echo',
      description: 'Echo the text back',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
    });
    await logs.waitFor((l) => l.message === 'MCP tools discovered' && l['tools'] === 17 && l['provider'] === 'fx');
  });

  it('calls tools through one session and converts results as the reference does', async () => {
    const { host } = await start({ 'manifests/fx.toml': stdioManifest('fx') });
    expect((await callTool(host, 'fx:echo', { text: 'hi there' })).value).toBe('hi there');
    const add = await callTool(host, 'fx:add', { a: 2, b: 40 });
    expect(add.value).toEqual({ sum: 42 });
    expect(add.mcp).toEqual({ content: [{ type: 'text', text: '{"sum":42}' }] });
    expect((await callTool(host, 'fx:multi')).value).toEqual({
      content: [
        { type: 'text', text: 'first', data: null, mimeType: null },
        { type: 'image', text: null, data: 'aGVsbG8=', mimeType: 'image/png' },
      ],
      isError: false,
    });
    // Concurrent calls share the one child.
    const pids = await Promise.all(Array.from({ length: 5 }, () => callTool(host, 'fx:pid')));
    expect(new Set(pids.map((p) => p.value)).size).toBe(1);
    expect(pids[0]!.value).toBe(sessions.get('fx')!.pid);
  });

  it('turns isError results into ATI_ERR_UPSTREAM (502) carrying the text and the MCP content', async () => {
    const { host } = await start({ 'manifests/fx.toml': stdioManifest('fx') });
    const err = await callTool(host, 'fx:fail').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolContentError);
    const e = err as ToolContentError;
    expect(e.code).toBe('ATI_ERR_UPSTREAM');
    expect(e.status).toBe(502);
    expect(e.message).toContain('boom: the widget is broken');
    expect(e.mcp.content).toEqual([{ type: 'text', text: 'boom: the widget is broken' }]);
  });

  it('rejects non-object arguments with ATI_ERR_TOOL_ARGS', async () => {
    const { host } = await start({ 'manifests/fx.toml': stdioManifest('fx') });
    const err = (await callTool(host, 'fx:echo', ['a']).catch((e: unknown) => e)) as AtiError;
    expect(err.code).toBe('ATI_ERR_TOOL_ARGS');
    expect(err.status).toBe(400);
  });

  it('gives the child a clean environment: PATH, HOME and the expanded mcp_env, secrets redacted from results', async () => {
    const { host } = await start({
      'manifests/fx.toml': stdioManifest('fx', { env: { API_TOKEN: '${fx_token}', MODE: 'plain-${fx_mode}-x' } }),
      // Values shorter than 4 characters are not redacted (too likely to be ordinary text).
      credentials: JSON.stringify({ fx_token: 'tok-very-secret-123', fx_mode: 'abc' }),
    });
    const env = (await callTool(host, 'fx:env')).value as Record<string, string>;
    const keys = Object.keys(env).filter((k) => k !== 'PWD' && k !== 'SHLVL' && k !== '_');
    expect(keys.sort()).toEqual(
      ['API_TOKEN', 'HOME', 'MODE', 'PATH'].filter((k) => k !== 'HOME' || process.env['HOME'] !== undefined).sort(),
    );
    expect(env['MODE']).toBe('plain-abc-x');
    expect(env['API_TOKEN']).toBe('[REDACTED]');
    expect(env['PATH']).toBe(process.env['PATH']);
  });

  it('redacts the injected secrets from results in every spelling, also short and multi-line ones', async () => {
    const secret = '"a b/';
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    const { host } = await start({
      'manifests/fx.toml': stdioManifest('fx', { env: { T: '${t}', P: '${pem}' } }),
      credentials: JSON.stringify({ t: secret, pem }),
    });
    const forms = [
      secret,
      encodeURIComponent(secret),
      new URLSearchParams([['', secret]]).toString().slice(1),
      JSON.stringify(secret).slice(1, -1),
      `Basic ${Buffer.from(`${secret}:`).toString('base64')}`,
      'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
    ];
    const r = await callTool(host, 'fx:echo', { text: forms.join(' | ') });
    expect(r.value).toBe('[REDACTED] | [REDACTED] | [REDACTED] | [REDACTED] | Basic [REDACTED] | [REDACTED]');
  });

  it('logs the child stderr line by line at WARN, with secrets redacted', async () => {
    const { host } = await start({
      'manifests/fx.toml': stdioManifest('fx', {
        args: ['--stderr-at-start', 'booting with token tok-abcdef-999'],
        env: { T: '${t}' },
      }),
      credentials: JSON.stringify({ t: 'tok-abcdef-999' }),
    });
    const boot = await logs.waitFor(
      (l) => l.message === 'MCP server stderr' && String(l['line']).startsWith('booting'),
    );
    expect(boot).toMatchObject({
      level: 'WARN',
      provider: 'fx',
      stream: 'stderr',
      line: 'booting with token [REDACTED]',
    });
    expect((await callTool(host, 'fx:stderr', { lines: 3 })).value).toBe('wrote 3');
    for (let i = 0; i < 3; i++) {
      await logs.waitFor(
        (l) => l.message === 'MCP server stderr' && l['line'] === `stderr line ${i}` && l['level'] === 'WARN',
      );
    }
    expect(JSON.stringify(logs.lines)).not.toContain('tok-abcdef-999');
  });

  it('restarts a crashed child with backoff; the call in flight fails with 502', async () => {
    const { host } = await start({ 'manifests/fx.toml': stdioManifest('fx') });
    const session = sessions.get('fx')!;
    const restartsMetric = async () =>
      Number(/ati_mcp_child_restarts_total\{provider="fx"\} (\d+)/.exec(await metricsRegistry.metrics())?.[1] ?? 0);
    const metricBefore = await restartsMetric();
    const pid1 = (await callTool(host, 'fx:pid')).value as number;
    const crash = (await callTool(host, 'fx:crash').catch((e: unknown) => e)) as AtiError;
    expect(crash.code).toBe('ATI_ERR_UPSTREAM');
    expect(crash.message).toMatch(/process exited/);
    await logs.waitFor((l) => l.message === 'MCP server process exited' && l['pid'] === pid1);
    await logs.waitFor((l) => l.message === 'MCP server restart scheduled' && l['restart_in_ms'] === 50);
    await logs.waitFor((l) => l.message === 'MCP session ready' && l['restarts'] === 1);
    const pid2 = (await callTool(host, 'fx:pid')).value as number;
    expect(pid2).not.toBe(pid1);
    expect(isAlive(pid1)).toBe(false);
    expect(session.restarts).toBe(1);
    expect((await restartsMetric()) - metricBefore).toBe(1);
    // A second crash soon after doubles the delay.
    await callTool(host, 'fx:crash').catch(() => undefined);
    await logs.waitFor((l) => l.message === 'MCP server restart scheduled' && l['restart_in_ms'] === 100);
    // A call made while the restart is pending waits for it.
    expect((await callTool(host, 'fx:echo', { text: 'back' })).value).toBe('back');
  });

  it('fails a call to a server that never answers within mcp_timeout_secs (504); the session stays usable', async () => {
    const { host } = await start({ 'manifests/fx.toml': stdioManifest('fx', { extra: 'mcp_timeout_secs = 1' }) });
    const t0 = Date.now();
    const err = (await callTool(host, 'fx:hang').catch((e: unknown) => e)) as AtiError;
    expect(err.code).toBe('ATI_ERR_UPSTREAM_TIMEOUT');
    expect(err.status).toBe(504);
    expect(err.message).toBe('MCP tools/call to provider "fx" timed out after 1 s');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect((await callTool(host, 'fx:echo', { text: 'still here' })).value).toBe('still here');
  });

  it('cancels the upstream request when the caller goes away', async () => {
    const { host } = await start({ 'manifests/fx.toml': stdioManifest('fx') });
    const ac = new AbortController();
    const p = callTool(host, 'fx:hang', {}, ac.signal).catch((e: unknown) => e);
    ac.abort();
    const err = (await p) as AtiError;
    expect(err.code).toBe('ATI_ERR_UPSTREAM');
    expect(err.message).toMatch(/cancelled/);
  });

  it('kills the child when its generation retires, and on shutdown', async () => {
    const { host } = await start({ 'manifests/fx.toml': stdioManifest('fx') });
    const pid1 = sessions.get('fx')!.pid!;
    expect(isAlive(pid1)).toBe(true);
    // Changing the provider's own manifest provisions a new child and retires the old one.
    await dir!.manifest(
      'fx',
      stdioManifest('fx', { extra: 'description_note = 1' }).replace('description_note = 1', 'mcp_timeout_secs = 30'),
    );
    const r = await host.reload('test');
    expect(r.status).toBe('applied');
    const pid2 = sessions.get('fx')!.pid!;
    expect(pid2).not.toBe(pid1);
    await waitForExit(pid1);
    expect((await callTool(host, 'fx:pid')).value).toBe(pid2);
    await th!.close();
    th = undefined;
    expect(isAlive(pid2)).toBe(false);
  });

  it('keeps the child running across a reload that changed only another manifest', async () => {
    const { host } = await start({
      'manifests/fx.toml': stdioManifest('fx'),
      'manifests/other.toml':
        '[provider]\nname = "other"\ndescription = "d"\nhandler = "test"\n[[tools]]\nname = "o1"\ndescription = "x"\n',
    });
    const pid = (await callTool(host, 'fx:pid')).value as number;
    const before = host.current.providers.get('fx');
    await dir!.manifest(
      'other',
      '[provider]\nname = "other"\ndescription = "changed"\nhandler = "test"\n[[tools]]\nname = "o2"\ndescription = "x"\n',
    );
    const r = await host.reload('test');
    expect(r).toMatchObject({ status: 'applied', reused: ['fx'], provisioned: ['other'] });
    expect(host.current.providers.get('fx')).toBe(before);
    expect((await callTool(host, 'fx:pid')).value).toBe(pid);
    expect(sessions.get('fx')!.restarts).toBe(0);
    expect(isAlive(pid)).toBe(true);
  });

  it('lists the tools again after tools/list_changed and keeps the child while the list is the same', async () => {
    const { host } = await start({
      'manifests/fx.toml': stdioManifest('fx'),
      'manifests/zz.toml': '[provider]\nname = "zz"\ndescription = "d"\nhandler = "test"\n',
    });
    const pid = (await callTool(host, 'fx:pid')).value as number;
    expect((await callTool(host, 'fx:changed')).value).toBe('announced');
    await logs.waitFor((l) => l.message.startsWith('MCP server reports that its tool list changed'));
    // A notice alone does not restart the server: the list is fetched again over the same session.
    await dir!.manifest('zz', '[provider]\nname = "zz"\ndescription = "e"\nhandler = "test"\n');
    expect(await host.reload('test')).toMatchObject({ reused: ['fx'] });
    expect(await logs.waitFor((l) => l.message === 'MCP tools listed again for a reload')).toMatchObject({
      unchanged: true,
    });
    expect((await callTool(host, 'fx:pid')).value).toBe(pid);
    // A different list: the provider is provisioned again with the new tool, over the same child.
    expect((await callTool(host, 'fx:grow')).value).toBe('grown_0');
    await dir!.manifest('zz', '[provider]\nname = "zz"\ndescription = "f"\nhandler = "test"\n');
    const r = await host.reload('test');
    expect(r.status === 'applied' && r.provisioned.sort()).toEqual(['fx', 'zz']);
    expect(host.current.tools.has('fx:grown_0')).toBe(true);
    expect((await callTool(host, 'fx:pid')).value).toBe(pid);
    expect(isAlive(pid)).toBe(true);
  });

  it('keeps the child across a forced reload (same tools), and heals it no matter what', async () => {
    const { host } = await start({ 'manifests/fx.toml': stdioManifest('fx') });
    const pid = (await callTool(host, 'fx:pid')).value as number;
    for (let i = 0; i < 3; i++) expect(await host.reload('test', { force: true })).toMatchObject({ reused: ['fx'] });
    expect((await callTool(host, 'fx:pid')).value).toBe(pid);
  });

  it('re-provisions (new child) when a keyring entry the provider reads changes', async () => {
    const { host } = await start({
      'manifests/fx.toml': stdioManifest('fx', { env: { API_TOKEN: '${fx_token}' } }),
      credentials: JSON.stringify({ fx_token: 'first-secret', unrelated: 'a' }),
    });
    const pid1 = (await callTool(host, 'fx:pid')).value as number;
    // An unrelated entry changes: reused.
    await dir!.write('credentials', JSON.stringify({ fx_token: 'first-secret', unrelated: 'b' }));
    expect(await host.reload('test')).toMatchObject({ status: 'applied', reused: ['fx'] });
    expect((await callTool(host, 'fx:pid')).value).toBe(pid1);
    // The entry it uses changes: a new child with the new value.
    await dir!.write('credentials', JSON.stringify({ fx_token: 'second-secret', unrelated: 'b' }));
    expect(await host.reload('test')).toMatchObject({ status: 'applied', provisioned: ['fx'] });
    expect((await callTool(host, 'fx:pid')).value).not.toBe(pid1);
    await waitForExit(pid1);
  });

  it('loads a provider whose keyring entry is missing with no tools and a WARN naming the entry; adding it fixes that', async () => {
    const { host } = await start({ 'manifests/fx.toml': stdioManifest('fx', { env: { API_TOKEN: '${fx_token}' } }) });
    expect(host.current.toolList).toHaveLength(0);
    expect(host.current.providers.has('fx')).toBe(true);
    expect(sessions.size).toBe(0);
    const warn = await logs.waitFor((l) => l.message.startsWith('MCP provider not started'));
    expect(warn).toMatchObject({ level: 'WARN', provider: 'fx', code: 'ATI_ERR_MISSING_CREDENTIAL' });
    expect(String(warn['error'])).toContain("'fx_token'");
    // Reusable as long as the keyring is unchanged (no WARN on every unrelated reload)…
    await dir!.manifest('zz', '[provider]\nname = "zz"\ndescription = "d"\nhandler = "test"\n');
    expect(await host.reload('test')).toMatchObject({ reused: ['fx'] });
    // …and re-provisioned when the entry appears.
    await dir!.write('credentials', JSON.stringify({ fx_token: 'now-here' }));
    expect(await host.reload('test')).toMatchObject({ status: 'applied', provisioned: ['fx'] });
    expect(host.current.tools.has('fx:echo')).toBe(true);
  });

  it('loads a provider whose discovery fails with no tools and a WARN, and retries on the next reload', async () => {
    const { host } = await start({
      'manifests/bad.toml':
        '[provider]\nname = "bad"\ndescription = "d"\nhandler = "mcp"\nmcp_command = "/nonexistent/ati-mcp-server"\n',
      'manifests/zz.toml': '[provider]\nname = "zz"\ndescription = "d"\nhandler = "test"\n',
    });
    expect(host.current.toolList).toHaveLength(0);
    const warn = await logs.waitFor((l) => l.message.startsWith('MCP discovery failed'));
    expect(warn).toMatchObject({ level: 'WARN', provider: 'bad' });
    expect(String(warn['error'])).toContain("failed to spawn MCP server '/nonexistent/ati-mcp-server'");
    // A reload caused by another file provisions it again instead of reusing the failed result.
    await dir!.manifest('zz', '[provider]\nname = "zz"\ndescription = "changed"\nhandler = "test"\n');
    const r = await host.reload('test');
    expect(r).toMatchObject({ status: 'applied' });
    expect(r.status === 'applied' && r.provisioned.sort()).toEqual(['bad', 'zz']);
  });

  it('bounds discovery by mcp_discovery_timeout_secs and kills a child that never initialises', async () => {
    const { host } = await start({
      'manifests/slow.toml': stdioManifest('slow', {
        args: ['--hang-initialize'],
        extra: 'mcp_discovery_timeout_secs = 1\nmcp_timeout_secs = 1',
      }),
    });
    expect(host.current.toolList).toHaveLength(0);
    const warn = await logs.waitFor((l) => l.message.startsWith('MCP discovery failed'));
    expect(String(warn['error'])).toMatch(/timed out after 1 s/);
    const s = sessions.get('slow')!;
    expect(s.isConnected).toBe(false);
  });

  it('warns when the server does not offer tools, and ignores non-JSON stdout lines', async () => {
    const { host } = await start({
      'manifests/nocap.toml': stdioManifest('nocap', { args: ['--no-tools-capability'] }),
      'manifests/banner.toml': stdioManifest('banner', { args: ['--banner'] }),
    });
    const warn = await logs.waitFor((l) => l.message.startsWith('MCP discovery failed') && l['provider'] === 'nocap');
    expect(warn['error']).toBe('MCP server did not return tools capability');
    await logs.waitFor((l) => l['provider'] === 'banner' && l['stream'] === 'stdout' && l['level'] === 'WARN');
    expect((await callTool(host, 'banner:echo', { text: 'ok' })).value).toBe('ok');
  });

  it('spawns nothing in --check mode', async () => {
    const { host } = await start({ 'manifests/fx.toml': stdioManifest('fx') }, { checkOnly: true });
    expect(sessions.size).toBe(0);
    expect(host.current.providers.has('fx')).toBe(true);
    expect(host.current.toolList).toHaveLength(0);
    await logs.waitFor((l) => l.message.startsWith('MCP discovery skipped'));
  });

  it('keeps hand-written [[tools]]: they call the MCP tool named without the provider prefix', async () => {
    const { host } = await start({
      'manifests/fx.toml':
        stdioManifest('fx') +
        '\n[[tools]]\nname = "fx:echo"\ndescription = "hand-written echo"\n\n[[tools]]\nname = "shout"\ndescription = "maps to echo? no: to shout"\n',
    });
    const echo = host.current.tools.get('fx:echo')!;
    expect(echo.description).toBe('hand-written echo');
    expect(echo.scope).toBe('tool:fx:echo');
    expect((await callTool(host, 'fx:echo', { text: 'manual' })).value).toBe('manual');
    expect(host.current.toolList.filter((t) => t.name === 'fx:echo')).toHaveLength(1);
    const err = (await callTool(host, 'shout').catch((e: unknown) => e)) as AtiError;
    expect(err.message).toContain('unknown tool shout');
  });
});

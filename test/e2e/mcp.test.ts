/**
 * The real `bin/ati proxy` with a stdio MCP provider: the built-in plugin is
 * registered, the SDK client lists and calls through `/mcp`, the child's stderr
 * lands in the proxy's log, a SIGHUP after an unrelated edit keeps the child,
 * and SIGTERM kills it.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { isAlive, stdioManifest } from '../plugins/mcp/helpers.js';

describe('ati proxy with an MCP provider (real process)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  let client: Client | undefined;

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('serves MCP tools over /mcp and /call-equivalent semantics, logs stderr, keeps the child across an unrelated reload', async () => {
    dir = await makeAtiDir({
      'manifests/fx.toml': stdioManifest('fx'),
      'manifests/other.toml':
        '[provider]\nname = "other"\ndescription = "d"\nhandler = "mcp"\nmcp_transport = "http"\nmcp_url = "http://127.0.0.1:9/mcp"\nmcp_discovery_timeout_secs = 2\n',
    });
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'] });
    const start = proxy.logs.find((l) => l.message === 'ATI proxy server starting')!;
    expect(start).toMatchObject({ mcp: 2 });
    await proxy.waitForLog((l) => l.message.startsWith('MCP discovery failed') && l['provider'] === 'other');

    client = new Client({ name: 'e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`)));
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('fx:echo');
    expect(await client.callTool({ name: 'fx:echo', arguments: { text: 'e2e' } })).toEqual({
      content: [{ type: 'text', text: 'e2e' }],
    });
    const pid = Number(((await client.callTool({ name: 'fx:pid' })).content as Array<{ text: string }>)[0]!.text);
    await client.callTool({ name: 'fx:stderr', arguments: { lines: 2 } });
    await proxy.waitForLog(
      (l) => l.message === 'MCP server stderr' && l['line'] === 'stderr line 1' && l.level === 'WARN',
    );

    // An unrelated edit + SIGHUP: fx is reused (same child); "other" is retried (its discovery failed).
    await dir.manifest(
      'zz',
      '[provider]\nname = "zz"\ndescription = "d"\nhandler = "mcp"\nmcp_command = "/nonexistent"\n',
    );
    proxy.proc.kill('SIGHUP');
    const applied = await proxy.waitForLog((l) => l.message === 'reload applied');
    expect(applied['reused']).toEqual(['fx']);
    expect((applied['provisioned'] as string[]).sort()).toEqual(['other', 'zz']);
    expect(Number(((await client.callTool({ name: 'fx:pid' })).content as Array<{ text: string }>)[0]!.text)).toBe(pid);

    await client.close();
    client = undefined;
    expect(await proxy.stop('SIGTERM')).toBe(0);
    expect(isAlive(pid)).toBe(false);
  });
});

/**
 * The reference MCP server `@modelcontextprotocol/server-everything` behind the
 * proxy, over stdio and Streamable HTTP: `/mcp tools/list` shows its tools with
 * every field (title, annotations, outputSchema, execution) except the one that
 * needs task augmentation, every tool's `/mcp` result equals what a direct SDK
 * client gets, a sampling request is relayed, and the stdio child survives 20
 * rebuilding reloads although the server announces tools/list_changed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createMcpPlugin, type McpSession } from '../../../plugins/mcp/index.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { makeTestPlugin } from '../../helpers/test-plugin.js';

const require = createRequire(import.meta.url);
const EVERYTHING = path.join(
  path.dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist',
  'index.js',
);
const ENV = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' };

/** Calls whose answers do not depend on time or on the server instance. */
const CALLS: Array<[string, Record<string, unknown>]> = [
  ['echo', { message: 'hello through the proxy' }],
  ['get-sum', { a: 2, b: 40 }],
  ['get-annotated-message', { messageType: 'error', includeImage: true }],
  ['get-resource-links', { count: 2 }],
  ['get-resource-reference', { resourceType: 'Blob', resourceId: 3 }],
  ['get-structured-content', { location: 'Chicago' }],
  ['get-tiny-image', {}],
  ['gzip-file-as-resource', { name: 'x.gz', data: 'data:text/plain;base64,aGVsbG8gd29ybGQ=', outputType: 'resource' }],
  ['trigger-long-running-operation', { duration: 0.2, steps: 2 }],
  ['trigger-sampling-request', { prompt: 'say hi', maxTokens: 10 }],
];

function newClient(): Client {
  const c = new Client({ name: 'direct', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {} } });
  c.setRequestHandler(CreateMessageRequestSchema, async (r) => ({
    role: 'assistant',
    content: { type: 'text', text: `sampled: ${JSON.stringify(r.params.messages)}` },
    model: 'test-model',
    stopReason: 'endTurn',
  }));
  return c;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('server-everything behind the proxy', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;
  let child: ChildProcess | undefined;
  const clients: Client[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await th?.close();
    th = undefined;
    child?.kill('SIGTERM');
    child = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  async function compare(manifest: string, direct: () => Promise<Client>, sessions: Map<string, McpSession>) {
    dir = await makeAtiDir({ 'manifests/ev.toml': manifest });
    th = await startHost(dir.dir, [createMcpPlugin({ onSession: (p, s) => sessions.set(p, s) }), makeTestPlugin()]);
    const viaProxy = newClient();
    await viaProxy.connect(new StreamableHTTPClientTransport(new URL(`${th.url}/mcp`)));
    clients.push(viaProxy);
    const ref = await direct();
    clients.push(ref);

    const directTools = (await ref.listTools()).tools;
    const proxiedTools = (await viaProxy.listTools()).tools;
    expect(directTools.find((t) => t.name === 'simulate-research-query')?.execution).toEqual({
      taskSupport: 'required',
    });
    expect(proxiedTools).toEqual(directTools.filter((t) => t.name !== 'simulate-research-query'));
    expect(proxiedTools.find((t) => t.name === 'get-structured-content')?.outputSchema).toBeDefined();

    for (const [name, args] of CALLS) {
      const expected = await ref.callTool({ name, arguments: args });
      expect(await viaProxy.callTool({ name, arguments: args }), name).toEqual(expected);
    }
  }

  it('over stdio: same tools and results as a direct client; the child survives 20 rebuilding reloads', async () => {
    const sessions = new Map<string, McpSession>();
    await compare(
      `[provider]\nname = "ev"\ndescription = "server-everything"\nhandler = "mcp"\ntool_prefix = ""\nmcp_command = ${JSON.stringify(process.execPath)}\nmcp_args = [${JSON.stringify(EVERYTHING)}, "stdio"]\n`,
      async () => {
        const c = newClient();
        await c.connect(
          new StdioClientTransport({
            command: process.execPath,
            args: [EVERYTHING, 'stdio'],
            env: ENV,
            stderr: 'ignore',
          }),
        );
        return c;
      },
      sessions,
    );
    const pid = sessions.get('ev')!.pid!;
    expect(pid).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) {
      await dir!.manifest('other', `[provider]\nname = "other"\ndescription = "reload ${i}"\nhandler = "test"\n`);
      expect(await th!.host.reload(`unrelated ${i}`)).toMatchObject({ status: 'applied', reused: ['ev'] });
    }
    const forced = await th!.host.reload('forced', { force: true });
    expect(forced.status === 'applied' && forced.reused.sort()).toEqual(['ev', 'other']);
    expect(sessions.get('ev')!.pid).toBe(pid);
    expect(sessions.get('ev')!.restarts).toBe(0);
  }, 60_000);

  it('over Streamable HTTP: same tools and results as a direct client', async () => {
    const port = await freePort();
    child = spawn(process.execPath, [EVERYTHING, 'streamableHttp'], {
      env: { ...ENV, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      child!.once('exit', (code) => reject(new Error(`server-everything exited (${code})`)));
      const onData = (d: Buffer) => {
        if (/listening on port/i.test(d.toString())) resolve();
      };
      child!.stdout!.on('data', onData);
      child!.stderr!.on('data', onData);
    });
    const url = `http://127.0.0.1:${port}/mcp`;
    await compare(
      `[provider]\nname = "ev"\ndescription = "server-everything"\nhandler = "mcp"\ntool_prefix = ""\nmcp_transport = "http"\nmcp_url = "${url}"\n`,
      async () => {
        const c = newClient();
        await c.connect(new StreamableHTTPClientTransport(new URL(url)));
        return c;
      },
      new Map(),
    );
  }, 60_000);
});

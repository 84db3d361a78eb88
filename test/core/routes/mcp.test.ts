/**
 * `POST /mcp` with the official SDK client (StreamableHTTPClientTransport) and raw
 * JSON-RPC requests. Caller identity comes from a tiny test stage that reads
 * `Authorization: Bearer test:<base64url JSON {sub, scopes}>` (real JWT auth is a
 * separate pipeline stage); upstreams are the test plugin and the stdio MCP fixture.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_MODULES } from '../../../core/routes/index.js';
import { createMcpRoutes, mcpRoutes } from '../../../core/routes/mcp.js';
import { createMcpPlugin } from '../../../plugins/mcp/index.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { captureLogs, type LogCapture } from '../../helpers/log-capture.js';
import { makeTestPlugin } from '../../helpers/test-plugin.js';
import { testBearerAuth, testToken } from '../../helpers/test-bearer-auth.js';
import { stdioManifest } from '../../plugins/mcp/helpers.js';

const MANIFESTS = {
  'manifests/fx.toml': stdioManifest('fx'),
  'manifests/t.toml': `[provider]\nname = "t"\ndescription = "test tools"\nhandler = "test"\n
[[tools]]\nname = "t_open"\ndescription = "anyone"\nscope = ""\n
[[tools]]\nname = "t_secret"\ndescription = "needs tool:t_secret"\n
[[tools]]\nname = "t_allowed"\ndescription = "needs tool:t_allowed"\ninput_schema = { type = "object", properties = { x = { type = "integer", "x-ati-param-location" = "query" } } }\n`,
  'manifests/int.toml': `[provider]\nname = "int"\ndescription = "internal"\nhandler = "test"\ninternal = true\n[[tools]]\nname = "int_hidden"\ndescription = "internal tool"\n`,
};

const SCOPES = ['tool:t_allowed', 'tool:fx:*', 'tool:int_hidden'];

const token = testToken;

describe('POST /mcp', () => {
  // One host (and one MCP child) serves the tests that do not need their own configuration.
  let shared: { dir: TempAtiDir; th: TestHost; logs: LogCapture } | undefined;
  let own: { dir: TempAtiDir; th: TestHost } | undefined;
  let th: TestHost | undefined;
  let logs: LogCapture;
  const clients: Client[] = [];

  async function boot(opts: { auth?: boolean; pageSize?: number }) {
    const dir = await makeAtiDir(MANIFESTS);
    const capture = captureLogs('info');
    const routes = ROUTE_MODULES.map((r) =>
      r === mcpRoutes && opts.pageSize ? createMcpRoutes({ pageSize: opts.pageSize }) : r,
    );
    const host = await startHost(dir.dir, [createMcpPlugin(), makeTestPlugin()], {
      logger: capture.logger,
      routes,
      ...(opts.auth === false ? {} : { stages: [testBearerAuth], services: { authMode: () => 'jwt' as const } }),
    });
    return { dir, th: host, logs: capture };
  }

  /** The shared host, or a host of its own when the test needs another configuration. */
  async function start(opts: { auth?: boolean; pageSize?: number; fresh?: boolean } = {}) {
    if (opts.auth === false || opts.pageSize || opts.fresh) {
      own = await boot(opts);
      th = own.th;
      logs = own.logs;
      return th;
    }
    shared ??= await boot({});
    th = shared.th;
    logs = shared.logs;
    return th;
  }

  beforeAll(async () => {
    shared = await boot({});
  });

  afterAll(async () => {
    await shared?.th.close();
    await shared?.dir.cleanup();
  });

  async function connect(scopes: string[] | undefined, sub = 'agent-1'): Promise<Client> {
    const headers: Record<string, string> = scopes ? { Authorization: `Bearer ${token(sub, scopes)}` } : {};
    const transport = new StreamableHTTPClientTransport(new URL(`${th!.url}/mcp`), { requestInit: { headers } });
    const client = new Client({ name: 'spec-client', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  async function rpc(body: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${th!.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token('raw', SCOPES)}`, ...headers },
      body,
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    if (own) {
      await own.th.close();
      await own.dir.cleanup();
      own = undefined;
    }
    th = undefined;
  });

  it('lets the SDK client initialize and lists only the tools the token allows (no internal tools)', async () => {
    await start();
    const client = await connect(SCOPES);
    expect(client.getServerVersion()).toMatchObject({ name: 'ati-proxy' });
    // A session (the SDK client keeps the Mcp-Session-Id) is told when its tool list changes.
    expect(client.getServerCapabilities()).toEqual({ tools: { listChanged: true }, logging: {} });
    const { tools, nextCursor } = await client.listTools();
    expect(nextCursor).toBeUndefined();
    expect(tools.map((t) => t.name)).toEqual([
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
      't_open',
      't_allowed',
    ]);
    const allowed = tools.find((t) => t.name === 't_allowed')!;
    expect(allowed.inputSchema).toEqual({
      type: 'object',
      properties: { x: { type: 'integer', 'x-ati-param-location': 'query' } },
    });
    expect(tools.find((t) => t.name === 't_open')!.inputSchema).toEqual({ type: 'object', properties: {} });
    // A token with fewer scopes sees fewer tools.
    const narrow = await connect(['tool:fx:echo']);
    expect((await narrow.listTools()).tools.map((t) => t.name)).toEqual(['fx:echo', 't_open']);
  });

  it('calls tools with /call semantics: MCP content forwarded, alias, internal tool with its scope, audit line', async () => {
    await start();
    const client = await connect(SCOPES);
    // The upstream's result exactly as it sent it (this server sends no isError on success).
    expect(await client.callTool({ name: 'fx:add', arguments: { a: 1, b: 2 } })).toEqual({
      content: [{ type: 'text', text: '{"sum":3}' }],
    });
    expect(await client.callTool({ name: 'fx:multi' })).toEqual({
      content: [
        { type: 'text', text: 'first' },
        { type: 'image', data: 'aGVsbG8=', mimeType: 'image/png' },
      ],
    });
    const plain = await client.callTool({ name: 't_allowed', arguments: { x: 5 } });
    expect(plain).toEqual({
      content: [{ type: 'text', text: JSON.stringify({ tool: 't_allowed', args: { x: 5 } }, null, 2) }],
      isError: false,
    });
    // The underscore alias resolves like on /call.
    expect(await client.callTool({ name: 'fx_echo', arguments: { text: 'aliased' } })).toMatchObject({
      content: [{ type: 'text', text: 'aliased' }],
    });
    expect((await client.callTool({ name: 'int_hidden' })).isError).toBe(false);
    const line = await logs.waitFor((l) => l.message === 'tool call' && l['tool'] === 'fx:echo');
    expect(line).toMatchObject({
      endpoint: 'mcp',
      sub: 'agent-1',
      requested_tool: 'fx_echo',
      status: 200,
      provider: 'fx',
      args: ['text'],
    });
  });

  it('returns an MCP tool error as isError with the upstream content, and a handler failure as isError text', async () => {
    await start({ fresh: true }); // crashes its MCP child
    const client = await connect(SCOPES);
    expect(await client.callTool({ name: 'fx:fail' })).toEqual({
      content: [{ type: 'text', text: 'boom: the widget is broken' }],
      isError: true,
    });
    const crash = await client.callTool({ name: 'fx:crash' });
    expect(crash.isError).toBe(true);
    expect((crash.content as Array<{ text: string }>)[0]!.text).toMatch(
      /^Error: MCP error: the MCP server process exited/,
    );
    await logs.waitFor(
      (l) =>
        l.message === 'tool call' && l['tool'] === 'fx:crash' && l['code'] === 'ATI_ERR_UPSTREAM' && l.level === 'WARN',
    );
  });

  it('denies a tool outside the scopes with −32001 and an unknown tool with −32602', async () => {
    await start();
    const client = await connect(SCOPES);
    const denied = (await client.callTool({ name: 't_secret' }).catch((e: unknown) => e)) as McpError;
    expect(denied).toBeInstanceOf(McpError);
    expect(denied.code).toBe(-32001);
    expect(denied.message).toContain("Access denied: 't_secret' is not in your scopes");
    const unknown = (await client.callTool({ name: 'nope:tool' }).catch((e: unknown) => e)) as McpError;
    expect(unknown.code).toBe(-32602);
    expect(unknown.message).toContain("Unknown tool: 'nope:tool'");
    // Without any scopes (auth configured, no claims): only unscoped tools.
    const none = await connect([]);
    expect((await none.listTools()).tools.map((t) => t.name)).toEqual(['t_open']);
    expect(
      ((await none.callTool({ name: 'fx:echo', arguments: { text: 'x' } }).catch((e: unknown) => e)) as McpError).code,
    ).toBe(-32001);
  });

  it('answers raw JSON-RPC: parse error, invalid requests, params, unknown methods, ping, notifications', async () => {
    await start();
    const parse = await rpc('{"jsonrpc":"2.0","id":1,"method":');
    expect(parse.status).toBe(400);
    expect(parse.type).toMatch(/^application\/json/);
    expect(parse.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    expect((await rpc('{"id":1,"method":"ping"}')).body).toMatchObject({
      id: 1,
      error: { code: -32600, message: 'Invalid Request: jsonrpc must be "2.0"' },
    });
    expect((await rpc('"hello"')).body).toMatchObject({ id: null, error: { code: -32600 } });
    expect((await rpc('{"jsonrpc":"2.0","id":"p","method":"ping"}')).body).toEqual({
      jsonrpc: '2.0',
      id: 'p',
      result: {},
    });
    const unknownMethod = await rpc('{"jsonrpc":"2.0","id":7,"method":"resources/list"}');
    expect(unknownMethod).toMatchObject({
      status: 200,
      body: { id: 7, error: { code: -32601, message: "Method not found: 'resources/list'" } },
    });
    expect((await rpc('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{}}')).body).toMatchObject({
      error: { code: -32602, message: 'Missing tool name in params.name' },
    });
    expect(
      (await rpc('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"fx:echo","arguments":[1]}}')).body,
    ).toMatchObject({
      error: { code: -32602, data: { code: 'ATI_ERR_TOOL_ARGS' } },
    });
    const note = await rpc('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    expect(note).toMatchObject({ status: 202, body: null });
    expect((await rpc('{"jsonrpc":"2.0","method":"notifications/whatever"}')).status).toBe(202);
    expect((await rpc('hi', { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('negotiates the protocol version', async () => {
    await start();
    const init = (v?: string) =>
      rpc(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: v ? { protocolVersion: v, capabilities: {}, clientInfo: { name: 'c', version: '1' } } : {},
        }),
      );
    expect(((await init('2024-11-05')).body as { result: { protocolVersion: string } }).result.protocolVersion).toBe(
      '2024-11-05',
    );
    expect(((await init('1999-01-01')).body as { result: { protocolVersion: string } }).result.protocolVersion).toBe(
      LATEST_PROTOCOL_VERSION,
    );
    expect(((await init()).body as { result: { protocolVersion: string } }).result.protocolVersion).toBe('2025-03-26');
  });

  it('answers a batch with the responses of its requests, in order; a batch of notifications with 202', async () => {
    await start();
    const batch = await rpc(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'fx:add', arguments: { a: 2, b: 2 } } },
        { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 't_secret' } },
        { jsonrpc: '2.0', id: 4, method: 'nope' },
        { jsonrpc: '2.0', id: 5, method: 'ping' },
      ]),
    );
    expect(batch.status).toBe(200);
    const answers = batch.body as Array<{ id: number; result?: unknown; error?: { code: number } }>;
    expect(answers.map((a) => a.id)).toEqual([1, 2, 3, 4, 5]);
    expect(answers[1]!.result).toEqual({ content: [{ type: 'text', text: '{"sum":4}' }] });
    expect(answers[2]!.error!.code).toBe(-32001);
    expect(answers[3]!.error!.code).toBe(-32601);
    expect(answers[4]!.result).toEqual({});
    expect((await rpc('[{"jsonrpc":"2.0","method":"notifications/initialized"}]')).status).toBe(202);
    expect((await rpc('[]')).body).toMatchObject({ error: { code: -32600, message: 'Invalid Request: empty batch' } });
  });

  it('pages tools/list with a cursor; the SDK client follows it', async () => {
    await start({ pageSize: 4 });
    const client = await connect(SCOPES);
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      names.push(...page.tools.map((t) => t.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(4);
    expect(names).toHaveLength(15);
    expect(new Set(names).size).toBe(15);
    const bad = (await client.listTools({ cursor: 'not-a-cursor' }).catch((e: unknown) => e)) as McpError;
    expect(bad.code).toBe(-32602);
  });

  it('answers GET and DELETE /mcp without a session with 400, and with an unknown session with 404', async () => {
    await start();
    for (const method of ['GET', 'DELETE']) {
      const none = await fetch(`${th!.url}/mcp`, { method, headers: { accept: 'text/event-stream' } });
      expect(none.status).toBe(400);
      expect(await none.json()).toMatchObject({ error: { message: 'Bad Request: Mcp-Session-Id header is required' } });
      const unknown = await fetch(`${th!.url}/mcp`, {
        method,
        headers: { accept: 'text/event-stream', 'mcp-session-id': 'no-such-session' },
      });
      expect(unknown.status).toBe(404);
      await unknown.body?.cancel();
    }
  });

  it('shows and allows every tool without auth configured (dev mode)', async () => {
    await start({ auth: false });
    const client = await connect(undefined);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('t_secret');
    expect(names).not.toContain('int_hidden');
    expect((await client.callTool({ name: 't_secret' })).isError).toBe(false);
  });
});

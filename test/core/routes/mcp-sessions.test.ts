/**
 * `/mcp` as a gateway: sessions that survive reloads and hear about tool list
 * changes on their event stream, answers that stream progress and logs, client
 * cancellation reaching the upstream, federated resources and prompts with
 * `resource:`/`prompt:` scopes, `tool_prefix`, and the Host/Origin checks.
 * Upstreams: the conformance reference server (stdio) and the small stdio fixture.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ROUTE_MODULES } from '../../../core/routes/index.js';
import { createMcpRoutes, mcpRoutes } from '../../../core/routes/mcp.js';
import type { SessionStore } from '../../../core/routes/mcp-sessions.js';
import { createMcpPlugin } from '../../../plugins/mcp/index.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { captureLogs, type LogCapture } from '../../helpers/log-capture.js';
import { makeTestPlugin } from '../../helpers/test-plugin.js';
import { rawRequest } from '../../helpers/raw-http.js';
import { testBearerAuth, testToken } from '../../helpers/test-bearer-auth.js';
import { CONFORMANCE_SERVER, stdioManifest } from '../../plugins/mcp/helpers.js';

function confManifest(name: string, extra = ''): string {
  return `[provider]\nname = "${name}"\ndescription = "conformance reference server"\nhandler = "mcp"\nmcp_command = ${JSON.stringify(process.execPath)}\nmcp_args = [${JSON.stringify(CONFORMANCE_SERVER)}, "stdio"]\n${extra}\n`;
}

const testTools = (names: string[]) =>
  `[provider]\nname = "t"\ndescription = "test tools"\nhandler = "test"\n${names.map((n) => `\n[[tools]]\nname = "${n}"\ndescription = "${n}"\nscope = "tool:${n}"\n`).join('')}`;

const bearer = (sub: string, scopes: string[]) => `Bearer ${testToken(sub, scopes)}`;

/** Reads an SSE body into its JSON-RPC messages. */
async function sseMessages(res: Response): Promise<Array<Record<string, unknown>>> {
  const text = await res.text();
  return text
    .split('\n\n')
    .map((e) => e.split('\n').find((l) => l.startsWith('data: ')))
    .filter((l): l is string => l !== undefined)
    .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
}

describe('/mcp gateway', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;
  let logs: LogCapture;
  let store: SessionStore;
  const clients: Client[] = [];

  async function start(files: Record<string, string>, opts: { auth?: boolean } = {}) {
    dir = await makeAtiDir(files);
    logs = captureLogs('debug');
    const routes = ROUTE_MODULES.map((r) =>
      r === mcpRoutes
        ? createMcpRoutes({
            onStore: (s) => (store = s),
            originPolicy: { allowedHosts: ['proxy.internal'], allowedOrigins: ['https://app.example'] },
          })
        : r,
    );
    th = await startHost(dir.dir, [createMcpPlugin(), makeTestPlugin()], {
      logger: logs.logger,
      routes,
      ...(opts.auth ? { stages: [testBearerAuth], services: { authMode: () => 'jwt' as const } } : {}),
    });
    return th;
  }

  async function connect(headers: Record<string, string> = {}): Promise<Client> {
    const client = new Client(
      { name: 'gateway-test', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: {} } },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(`${th!.url}/mcp`), { requestInit: { headers } }));
    clients.push(client);
    return client;
  }

  /** Resolves once the session of `client` has its GET event stream open. */
  async function streamOpen(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if ([...store.all()].some((s) => s.stream?.isOpen)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no session opened its event stream');
  }

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${th!.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(body),
    });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await th?.close();
    th = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('keeps a session across reloads and sends tools/list_changed only when what its caller sees changed', async () => {
    await start({ 'manifests/fx.toml': stdioManifest('fx'), 'manifests/t.toml': testTools(['t_one']) });
    const client = await connect();
    const changes: number[] = [];
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes.push(Date.now()));
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('t_one');
    await streamOpen();
    const sessionId = [...store.all()][0]!.id;

    // An internal provider's tools are not listed: nothing changes for this caller.
    await dir!.manifest(
      'int',
      '[provider]\nname = "int"\ndescription = "internal"\nhandler = "test"\ninternal = true\n\n[[tools]]\nname = "t_hidden"\ndescription = "hidden"\n',
    );
    expect(await th!.host.reload('test')).toMatchObject({ status: 'applied' });
    // A listed tool appears: the session hears it, and sees it on its next tools/list.
    const heard = new Promise<void>((resolve) =>
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => resolve()),
    );
    expect(changes).toEqual([]);
    await dir!.manifest('t', testTools(['t_one', 't_two']));
    expect(await th!.host.reload('test')).toMatchObject({ status: 'applied' });
    await heard;
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('t_two');
    expect([...store.all()].map((s) => s.id)).toEqual([sessionId]);
    // DELETE ends the session; its id is then unknown (404).
    await client.close();
    clients.pop();
    expect(store.size).toBe(1);
    const del = await fetch(`${th!.url}/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': sessionId } });
    expect(del.status).toBe(200);
    expect(store.size).toBe(0);
    expect((await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { 'mcp-session-id': sessionId })).status).toBe(404);
  });

  it('finishes a tools/call that is in flight while a reload swaps the generation', async () => {
    await start({ 'manifests/fx.toml': stdioManifest('fx'), 'manifests/t.toml': testTools(['t_one']) });
    const client = await connect();
    const call = client.callTool({ name: 'fx:sleep', arguments: { ms: 600 } });
    await logs.waitFor((l) => l.message === 'MCP session ready');
    await dir!.manifest('t', testTools(['t_one', 't_two']));
    expect(await th!.host.reload('test')).toMatchObject({ status: 'applied', reused: ['fx'] });
    expect(await call).toEqual({ content: [{ type: 'text', text: 'slept' }] });
  });

  it('cancels the upstream request when the client sends notifications/cancelled', async () => {
    await start({ 'manifests/fx.toml': stdioManifest('fx') });
    const client = await connect();
    const errors: Error[] = [];
    client.onerror = (e) => void errors.push(e);
    const abort = new AbortController();
    const call = client.callTool({ name: 'fx:hang' }, undefined, { signal: abort.signal });
    for (let i = 0; i < 200 && ![...store.all()].some((s) => s.inflight.size > 0); i++)
      await new Promise((r) => setTimeout(r, 10));
    abort.abort('user gave up');
    await expect(call).rejects.toThrow();
    const line = await logs.waitFor(
      (l) => l.message === 'MCP server stderr' && String(l['line']).startsWith('cancelled'),
    );
    expect(line).toMatchObject({ provider: 'fx' });
    await logs.waitFor((l) => l.message === 'tool call' && l['tool'] === 'fx:hang' && l['aborted'] === true);
    expect([...store.all()][0]!.inflight.size).toBe(0);
    // No answer reaches the client for a request it cancelled.
    expect(errors.filter((e) => /unknown message ID/.test(e.message))).toEqual([]);
  });

  it('streams progress and log messages before the result when the client accepts SSE, JSON otherwise', async () => {
    await start({ 'manifests/conf.toml': confManifest('conf', 'tool_prefix = ""') });
    const progress = await post({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: 'tok-1' } },
    });
    expect(progress.headers.get('content-type')).toBe('text/event-stream');
    const msgs = await sseMessages(progress);
    expect(msgs.slice(0, 3).map((m) => (m['params'] as Record<string, unknown>)['progress'])).toEqual([0, 50, 100]);
    expect(msgs.slice(0, 3).every((m) => (m['params'] as Record<string, unknown>)['progressToken'] === 'tok-1')).toBe(
      true,
    );
    // The upstream saw the proxy's own token (the tool echoes it); the client only ever sees its own.
    expect(msgs[3]).toMatchObject({ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text' }] } });
    expect(msgs[3]!['result']).not.toHaveProperty('isError');
    const logged = await sseMessages(
      await post({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'test_tool_with_logging' } }),
    );
    expect(logged.filter((m) => m['method'] === 'notifications/message')).toHaveLength(3);
    // A client that takes only JSON gets the result alone.
    const json = await post(
      { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'test_tool_with_logging' } },
      { accept: 'application/json' },
    );
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await json.json()).toMatchObject({ id: 9, result: { content: [{ type: 'text' }] } });
  });

  it('relays the upstream sampling request to the client of the session and its answer back', async () => {
    await start({ 'manifests/conf.toml': confManifest('conf', 'tool_prefix = "conf__"') });
    const client = await connect();
    const { CreateMessageRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
    client.setRequestHandler(CreateMessageRequestSchema, async (r) => ({
      role: 'assistant',
      content: { type: 'text', text: `echo of ${(r.params.messages[0]!.content as { text: string }).text}` },
      model: 'test-model',
      stopReason: 'endTurn',
    }));
    const r = await client.callTool({ name: 'conf__test_sampling', arguments: { prompt: 'hi' } });
    expect(r.content).toEqual([{ type: 'text', text: 'LLM response: echo of hi' }]);
    // Without a session nobody can answer: the server gets an error and says so.
    const res = await post(
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'conf__test_sampling', arguments: { prompt: 'x' } },
      },
      { accept: 'application/json' },
    );
    expect(JSON.stringify(await res.json())).toContain('no MCP session');
  });

  it('names tools and prompts with tool_prefix and refuses a prefix collision at load', async () => {
    await start({
      'manifests/a.toml': confManifest('a', 'tool_prefix = "a__"'),
      'manifests/t.toml': testTools(['a__clash']),
    });
    const client = await connect();
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('a__test_simple_text');
    expect(names.every((n) => !n.includes(':') || n.startsWith('t'))).toBe(true);
    expect((await client.callTool({ name: 'a__test_simple_text' })).content).toEqual([
      { type: 'text', text: 'This is a simple text response for testing.' },
    ]);
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain('a__test_simple_prompt');
    expect((await client.getPrompt({ name: 'a__test_simple_prompt' })).messages).toHaveLength(1);
    // A second copy of the server under the same prefix collides with the first: the reload is refused.
    await dir!.manifest('b', confManifest('b', 'tool_prefix = "a__"'));
    const r = await th!.host.reload('test');
    const messages = (x: typeof r) => (x.status === 'rejected' ? x.errors.map((e) => e.message) : []);
    expect(messages(r)).toContain(
      'duplicate tool name "a__test_simple_text" (also provided by ' + dir!.manifests + '/a.toml)',
    );
    await dir!.manifest('b', confManifest('b', 'tool_prefix = "bad prefix!"'));
    expect(messages(await th!.host.reload('test')).join('\n')).toContain('tool_prefix may hold only');
  });

  it('federates resources and prompts under resource: and prompt: scopes', async () => {
    await start({ 'manifests/conf.toml': confManifest('conf', 'tool_prefix = ""') }, { auth: true });
    const narrow = await connect({
      Authorization: bearer('agent', [
        'prompt:test_simple_prompt',
        'resource:conf:test://static-text',
        'resource:conf:test://template/*',
      ]),
    });
    expect(narrow.getServerCapabilities()).toMatchObject({
      resources: { subscribe: true },
      prompts: {},
      completions: {},
      logging: {},
    });
    expect((await narrow.listPrompts()).prompts.map((p) => p.name)).toEqual(['test_simple_prompt']);
    expect((await narrow.listResources()).resources.map((r) => r.uri)).toEqual(['test://static-text']);
    expect((await narrow.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual([
      'test://template/{id}/data',
    ]);
    expect((await narrow.readResource({ uri: 'test://static-text' })).contents[0]).toMatchObject({
      text: 'This is the content of the static text resource.',
    });
    expect((await narrow.readResource({ uri: 'test://template/42/data' })).contents[0]!['text']).toContain('42');
    await expect(narrow.readResource({ uri: 'test://static-binary' })).rejects.toMatchObject({ code: -32001 });
    await expect(narrow.getPrompt({ name: 'test_prompt_with_image' })).rejects.toMatchObject({ code: -32001 });
    // A URI nobody lists goes to the only server with resources, under its scope.
    await expect(narrow.readResource({ uri: 'nope://x' })).rejects.toMatchObject({ code: -32001 });
    const all = await connect({ Authorization: bearer('admin', ['*']) });
    expect((await all.listPrompts()).prompts).toHaveLength(4);
    expect((await all.listResources()).resources).toHaveLength(3);
    expect(
      await all.complete({
        ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
        argument: { name: 'arg1', value: 'x' },
      }),
    ).toMatchObject({ completion: { values: [] } });
    expect(await all.subscribeResource({ uri: 'test://watched-resource' })).toEqual({});
    expect(await all.setLoggingLevel('info')).toEqual({});
  });

  it('answers resources/list with −32601 when no upstream offers resources', async () => {
    await start({ 'manifests/fx.toml': stdioManifest('fx') });
    const res = await post({ jsonrpc: '2.0', id: 1, method: 'resources/list' });
    expect(await res.json()).toMatchObject({ error: { code: -32601 } });
  });

  it('refuses other hosts and origins (DNS rebinding) before reading the body', async () => {
    await start({ 'manifests/t.toml': testTools(['t_one']) });
    const ping = (headers: Record<string, string>) =>
      rawRequest(th!.url, '/mcp', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      });
    const evil = await ping({ host: 'evil.example.com', origin: 'http://evil.example.com' });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body)).toMatchObject({
      error: { code: -32000, message: 'Forbidden: Invalid Host: evil.example.com' },
    });
    expect((await ping({ origin: 'http://evil.example.com' })).status).toBe(403);
    expect((await ping({ origin: th!.url })).status).toBe(200);
    expect((await ping({ origin: 'https://app.example' })).status).toBe(200);
    expect((await ping({ host: 'proxy.internal:8090' })).status).toBe(200);
    expect((await ping({ host: 'localhost' })).status).toBe(200);
  });
});

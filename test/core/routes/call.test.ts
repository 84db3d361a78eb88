/**
 * `POST /call`: body parsing and its errors, name resolution with
 * the underscore alias (the resolved name is what is scoped, called and logged),
 * scope checks with a hand-built caller, and dispatch to the plugin's `call`.
 */
import { Type } from '@sinclair/typebox';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { definePlugin, PLUGIN_API_VERSION, type CallContext } from '../../../core/plugin/contract.js';
import { toolFromManifest } from '../../../core/tools/tool-definition.js';
import { httpPlugin } from '../../../plugins/http/index.js';
import { startUpstream, type RecordingUpstream } from '../../helpers/recording-upstream.js';
import { httpManifest, startToolHost, type ToolHost } from '../../helpers/tool-host.js';

/** Echoes what the executor hands to a plugin (name, args, raw_args, requested name, caller). */
const echoPlugin = definePlugin({
  apiVersion: PLUGIN_API_VERSION,
  name: 'echo',
  version: '1.0.0',
  providerSchema: { unused: Type.Optional(Type.String()) },
  async provision(m) {
    return {
      tools: m.tools.map((t) => toolFromManifest(m, t)),
      async call(tool, args, ctx: CallContext) {
        return {
          value: {
            tool: tool.name,
            args,
            raw_args: ctx.rawArgs ?? null,
            requested: ctx.requestedName,
            sub: ctx.caller.sub,
            endpoint: ctx.endpoint,
          },
        };
      },
      async close() {},
    };
  },
});

const ECHO = `[provider]\nname = "test_api"\ndescription = "echo"\nhandler = "echo"\n
[[tools]]
name = "test_api:get_data"
description = "namespaced"

[[tools]]
name = "test_search"
description = "plain"
scope = "tool:test_search"

[[tools]]
name = "open_tool"
description = "explicit empty scope"
scope = ""
`;

const INTERNAL = `[provider]\nname = "secret_stuff"\ndescription = "internal"\nhandler = "echo"\ninternal = true\n\n[[tools]]\nname = "_hidden"\ndescription = "internal tool"\n`;

describe('POST /call', () => {
  let th: ToolHost | undefined;
  let up: RecordingUpstream;
  beforeEach(async () => {
    up = await startUpstream();
  });
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await up.close();
  });

  const start = async (authConfigured = false) => {
    th = await startToolHost({
      manifests: {
        echo: ECHO,
        internal: INTERNAL,
        http: httpManifest('h', up.url, '', '[[tools]]\nname = "h_get"\ndescription = "x"\n'),
      },
      plugins: [echoPlugin, httpPlugin],
      authConfigured,
    });
    return th;
  };

  it('answers {"result": …} on success without an error key', async () => {
    await start();
    const r = await th!.call('test_search', { q: 'x' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      result: {
        tool: 'test_search',
        args: { q: 'x' },
        raw_args: null,
        requested: 'test_search',
        sub: 'dev',
        endpoint: 'call',
      },
    });
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('parses the body whatever the Content-Type, and defaults args to {}', async () => {
    await start();
    for (const headers of [
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
      {},
    ]) {
      const res = await fetch(`${th!.url}/call`, { method: 'POST', headers, body: '{"tool_name":"test_search"}' });
      expect(res.status, JSON.stringify(headers)).toBe(200);
      expect(((await res.json()) as { result: { args: unknown } }).result.args).toEqual({});
    }
  });

  it('answers 422 "Invalid request: …" for bad bodies and 405 for GET', async () => {
    await start();
    const cases: Array<[string, RegExp]> = [
      ['not json', /^Invalid request: body is not valid JSON/],
      ['{"args":{}}', /^Invalid request: missing field `tool_name`/],
      ['{"tool_name":5}', /^Invalid request: `tool_name` must be a string/],
      ['[1]', /^Invalid request: body must be a JSON object/],
      ['', /^Invalid request: empty body/],
      ['{"tool_name":"x","raw_args":[1]}', /^Invalid request: `raw_args` must be an array of strings/],
    ];
    for (const [body, re] of cases) {
      const r = await th!.call('', undefined, { body });
      expect(r.status, body).toBe(422);
      expect(r.body['result'], body).toBeNull();
      expect(String(r.body['error'])).toMatch(re);
      expect(r.body['code']).toBe('ATI_ERR_INVALID_REQUEST');
    }
    const get = await fetch(`${th!.url}/call`);
    expect(get.status).toBe(405);
  });

  it('answers 404 "Unknown tool" naming the tool', async () => {
    await start();
    const r = await th!.call('nonexistent_tool');
    expect(r).toMatchObject({
      status: 404,
      body: { result: null, error: "Unknown tool: 'nonexistent_tool'", code: 'ATI_ERR_UNKNOWN_TOOL' },
    });
  });

  it('resolves the underscore alias and uses the resolved name everywhere (plugin, log)', async () => {
    await start();
    const r = await th!.call('test_api_get_data', { a: 1 });
    expect(r.status).toBe(200);
    expect(r.body['result']).toMatchObject({ tool: 'test_api:get_data', requested: 'test_api_get_data' });
    expect(th!.logsOf('tool call')[0]).toMatchObject({
      tool: 'test_api:get_data',
      requested_tool: 'test_api_get_data',
      provider: 'test_api',
      handler: 'echo',
      args: ['a'],
    });
  });

  it('passes raw_args to the plugin', async () => {
    await start();
    const r = await th!.call('', undefined, {
      body: JSON.stringify({ tool_name: 'test_search', args: ['x'], raw_args: ['--flag', 'v'] }),
    });
    expect(r.body['result']).toMatchObject({ args: ['x'], raw_args: ['--flag', 'v'] });
  });

  it('checks scopes: 403 with the resolved name, wildcards, explicit empty scope, internal tools still need theirs', async () => {
    await start(true);
    const agent = (scopes: string[]) => ({ caller: { sub: 'agent-1', scopes, unrestricted: false } });
    expect((await th!.call('test_search', {}, agent(['tool:test_search']))).status).toBe(200);
    const denied = await th!.call('test_api_get_data', {}, agent(['tool:test_search']));
    expect(denied).toMatchObject({
      status: 403,
      body: {
        result: null,
        error: "Access denied: 'test_api:get_data' is not in your scopes",
        code: 'ATI_ERR_FORBIDDEN',
      },
    });
    expect((await th!.call('test_api:get_data', {}, agent(['tool:test_api:*']))).status).toBe(200);
    expect((await th!.call('open_tool', {}, agent([]))).status).toBe(200);
    expect((await th!.call('_hidden', {}, agent(['tool:test_search']))).status).toBe(403);
    expect((await th!.call('_hidden', {}, agent(['tool:_hidden']))).status).toBe(200);
    const sub = th!.logsOf('tool call').map((l) => l['sub']);
    expect(new Set(sub)).toEqual(new Set(['agent-1']));
    // Auth configured but no caller on the request (the auth stage did not set one).
    const anon = await th!.call('test_search');
    expect(anon).toMatchObject({ status: 403, body: { error: 'Authentication required — no JWT provided' } });
  });

  it('GET /tools lists only what the caller may use, with upper-case methods', async () => {
    await start(true);
    const res = await fetch(`${th!.url}/tools`, {
      headers: { 'x-test-caller': JSON.stringify({ scopes: ['tool:test_search'] }) },
    });
    const tools = (await res.json()) as Array<Record<string, unknown>>;
    expect(tools.map((t) => t['name'])).toEqual(['test_search', 'open_tool']);
    expect(Object.keys(tools[0]!).sort()).toEqual([
      'description',
      'input_schema',
      'method',
      'name',
      'provider',
      'skills',
      'tags',
    ]);
    expect(tools[0]!['method']).toBe('GET');
    const hidden = await fetch(`${th!.url}/tools/test_api:get_data`, {
      headers: { 'x-test-caller': JSON.stringify({ scopes: ['tool:test_search'] }) },
    });
    expect(hidden.status).toBe(404);
    expect(await hidden.json()).toMatchObject({ error: "Tool 'test_api:get_data' not found" });
  });
});

import { skillsExtension } from '../../../core/skills/extension.js';
/**
 * `POST /help` against a local fake OpenAI-compatible chat
 * endpoint: the request it receives, the `help` scope, tool/provider focus,
 * and the error mapping (no LLM provider, missing key, upstream errors).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, startUpstream, type RecordingUpstream } from '../../helpers/recording-upstream.js';
import { httpManifest, startToolHost, type ToolHost } from '../../helpers/tool-host.js';

const llm = (url: string, extra = '') => `[provider]
name = "_llm"
description = "LLM provider for ati help (internal)"
base_url = "${url}/v1"
auth_type = "bearer"
auth_key_name = "cerebras_api_key"
internal = true

[[tools]]
name = "_chat_completion"
description = "Chat completion (internal, for ati help)"
endpoint = "/chat/completions"
method = "POST"
${extra}
`;

const WEATHER = `
[[tools]]
name = "weather_now"
description = "Current weather for a city"
endpoint = "/now"
tags = ["weather"]
[tools.input_schema.properties.city]
type = "string"
description = "City name"

[[tools]]
name = "weather_alerts"
description = "Severe weather alerts"
endpoint = "/alerts"
`;

describe('POST /help', () => {
  let up: RecordingUpstream;
  let th: ToolHost | undefined;
  beforeEach(async () => {
    up = await startUpstream((req, res) => {
      if (req.path === '/v1/chat/completions')
        json(res, 200, {
          choices: [{ message: { role: 'assistant', content: 'Use weather_now with {"city":"Paris"}.' } }],
        });
      else json(res, 404, { error: 'no' });
    });
  });
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await up.close();
  });

  const start = async (
    opts: {
      authConfigured?: boolean;
      llmExtra?: string;
      keyring?: Record<string, string>;
      withLlm?: boolean;
      skills?: boolean;
    } = {},
  ) => {
    const manifests: Record<string, string> = { weather: httpManifest('weather', up.url, '', WEATHER) };
    if (opts.withLlm !== false) manifests['_llm'] = llm(up.url, opts.llmExtra);
    th = await startToolHost({
      manifests,
      keyring: opts.keyring ?? { cerebras_api_key: 'llm-key' },
      authConfigured: opts.authConfigured ?? false,
      ...(opts.skills
        ? {
            extensions: [skillsExtension],
            files: {
              'skills/weather-guide/skill.toml':
                '[skill]\nname = "weather-guide"\ndescription = "How to read forecasts"\ntools = ["weather_now"]\n',
              'skills/weather-guide/SKILL.md': '# Weather guide\nAsk for the city first.\n',
            },
          }
        : {}),
    });
    return th;
  };

  const help = async (body: unknown, caller?: Record<string, unknown>, contentType = 'application/json') => {
    const headers: Record<string, string> = { 'content-type': contentType };
    if (caller) headers['x-test-caller'] = JSON.stringify(caller);
    const res = await fetch(`${th!.url}/help`, {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('asks the _llm provider with the tool context and returns the first choice', async () => {
    await start();
    const r = await help({ query: 'what is the weather in Paris?' });
    expect(r).toEqual({ status: 200, body: { content: 'Use weather_now with {"city":"Paris"}.' } });
    const req = up.requests[0]!;
    expect(req).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(req.headers['authorization']).toBe('Bearer llm-key');
    const sent = JSON.parse(req.body) as {
      model: string;
      messages: Array<{ role: string; content: string }>;
      max_completion_tokens: number;
      temperature: number;
    };
    expect(sent).toMatchObject({ model: 'zai-glm-4.7', max_completion_tokens: 1536, temperature: 0.3 });
    expect(sent.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(sent.messages[1]!.content).toBe('what is the weather in Paris?');
    expect(sent.messages[0]!.content).toContain('**weather_now** (provider: weather): Current weather for a city');
    expect(sent.messages[0]!.content).toContain('`city` (string): City name');
    expect(sent.messages[0]!.content).not.toContain('_chat_completion');
    expect(th!.logsOf('help call')[0]).toMatchObject({ status: 200, upstream_status: 200, sub: 'dev' });
  });

  it('puts the local skills the caller may use into the prompt', async () => {
    await start({ skills: true });
    // A `*` scope resolves to no skills (the reference's rule), so use a scoped caller.
    await help({ query: 'how do I read a forecast?' }, { scopes: ['tool:weather_now', 'help'] });
    const sent = JSON.parse(up.requests[0]!.body) as { messages: Array<{ content: string }> };
    expect(sent.messages[0]!.content).toContain('## Available Skills (methodology guides)');
    expect(sent.messages[0]!.content).toContain('weather-guide');
    up.requests.length = 0;
    await help({ query: 'q' }, { scopes: ['tool:other', 'help'] });
    const denied = JSON.parse(up.requests[0]!.body) as { messages: Array<{ content: string }> };
    expect(denied.messages[0]!.content).not.toContain('weather-guide');
  });

  it('uses the model default of the tool schema when there is one', async () => {
    await start({ llmExtra: '[tools.input_schema.properties.model]\ntype = "string"\ndefault = "gpt-4o-mini"' });
    await help({ query: 'q' });
    expect((JSON.parse(up.requests[0]!.body) as { model: string }).model).toBe('gpt-4o-mini');
  });

  it('requires the help scope when auth is configured, and only shows the tools the caller may use', async () => {
    await start({ authConfigured: true });
    const noScope = await help({ query: 'q' }, { scopes: ['tool:weather_now'] });
    expect(noScope).toEqual({
      status: 403,
      body: { content: '', error: "Access denied: 'help' is not in your scopes", code: 'ATI_ERR_FORBIDDEN' },
    });
    expect((await help({ query: 'q' })).status).toBe(403);
    expect(up.requests).toHaveLength(0);
    const ok = await help({ query: 'q' }, { scopes: ['help', 'tool:weather_now'] });
    expect(ok.status).toBe(200);
    const prompt = (JSON.parse(up.requests[0]!.body) as { messages: Array<{ content: string }> }).messages[0]!.content;
    expect(prompt).toContain('weather_now');
    expect(prompt).not.toContain('weather_alerts');
    expect((await help({ query: 'q' }, { scopes: [], unrestricted: true })).status).toBe(200);
  });

  it('focuses on one tool or one provider; anything else not visible is 403', async () => {
    await start({ authConfigured: true });
    const caller = { scopes: ['help', 'tool:weather_now'] };
    expect((await help({ query: 'q', tool: 'weather_now' }, caller)).status).toBe(200);
    expect(
      (JSON.parse(up.requests[0]!.body) as { messages: Array<{ content: string }> }).messages[0]!.content,
    ).toContain('## The tool the agent asks about');
    expect((await help({ query: 'q', tool: 'weather' }, caller)).status).toBe(200);
    expect(
      (JSON.parse(up.requests[1]!.body) as { messages: Array<{ content: string }> }).messages[0]!.content,
    ).toContain('## Tools of provider "weather"');
    const hidden = await help({ query: 'q', tool: 'weather_alerts' }, caller);
    expect(hidden).toMatchObject({
      status: 403,
      body: { error: "Scope 'weather_alerts' is not visible in your current scopes." },
    });
  });

  it('503 without an LLM provider or without its key; 502/500 for upstream trouble', async () => {
    await start({ withLlm: false });
    expect(await help({ query: 'q' })).toMatchObject({
      status: 503,
      body: { content: '', error: 'No _llm.toml manifest found. Proxy help requires a configured LLM provider.' },
    });
    await th!.close();
    th = undefined;
    await start({ keyring: {} });
    const nokey = await help({ query: 'q' });
    expect(nokey.status).toBe(503);
    expect(nokey.body['error']).toMatch(
      /^LLM API key not found in keyring: keyring entry 'cerebras_api_key' is missing/,
    );
    await th!.close();
    th = undefined;
    await start();
    up.handle((_r, res) => json(res, 429, { error: { message: 'slow down' } }));
    expect(await help({ query: 'q' })).toMatchObject({
      status: 502,
      body: { error: 'LLM API error (429): slow down' },
    });
    up.handle((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('not json');
    });
    expect(await help({ query: 'q' })).toMatchObject({
      status: 500,
      body: { error: 'Failed to parse LLM response: the answer is not a JSON object' },
    });
    up.handle((_r, res) => json(res, 200, { choices: [] }));
    expect(await help({ query: 'q' })).toEqual({ status: 200, body: { content: 'No response from LLM' } });
  });

  it('checks the body: 415 without JSON, 422 without query, 400 for malformed JSON', async () => {
    await start();
    expect((await help('query=x', undefined, 'text/plain')).status).toBe(415);
    expect((await help({ tool: 'x' })).status).toBe(422);
    expect((await help('{"query":')).status).toBe(400);
    expect(up.requests).toHaveLength(0);
  });
});

import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallerIdentity, ToolDefinition } from '../../../core/plugin/contract.js';
import {
  callerAllowed,
  DEV_CALLER,
  helpAllowed,
  legacyAlias,
  parseScopeString,
  scopeAllowed,
  scopeMatches,
  toolAllowed,
} from '../../../core/pipeline/scopes.js';
import { HEX_SECRET, probeManifest, startPipelineHost, type PipelineHost } from './fixtures.js';

const tool = (name: string, scope: string | null, internal = false): ToolDefinition => ({
  name,
  description: '',
  provider: 'p',
  handler: 'http',
  method: 'GET',
  endpoint: '/',
  scope,
  inputSchema: null,
  tags: [],
  hint: null,
  examples: [],
  category: null,
  internal,
  skills: [],
});
const caller = (scope: string, extra: Partial<CallerIdentity> = {}): CallerIdentity => {
  const scopes = parseScopeString(scope);
  return { sub: 's', scopes, unrestricted: scopes.includes('*'), ...extra };
};

describe('scope matching', () => {
  it('splits the scope claim on whitespace runs', () => {
    expect(parseScopeString('a  b\tc')).toEqual(['a', 'b', 'c']);
    expect(parseScopeString('')).toEqual([]);
    expect(parseScopeString('  ')).toEqual([]);
  });

  it('exact, "*", and one trailing "*" as a plain prefix; "*" elsewhere is literal; case-sensitive', () => {
    expect(scopeMatches('*', 'tool:anything')).toBe(true);
    expect(scopeMatches('tool:github:*', 'tool:github:search')).toBe(true);
    expect(scopeMatches('tool:github:*', 'tool:linear:search')).toBe(false);
    expect(scopeMatches('tool:git*', 'tool:gitlab:x')).toBe(true);
    expect(scopeMatches('tool:*:search', 'tool:github:search')).toBe(false);
    expect(scopeMatches('tool:*:search', 'tool:*:search')).toBe(true);
    expect(scopeMatches('Tool:github', 'tool:github')).toBe(false);
    expect(scopeMatches('skill:research-*', 'skill:research-general')).toBe(true);
  });

  it('legacy underscore alias: only the first ":" after "tool:" becomes "_"', () => {
    expect(legacyAlias('tool:github:search_repos')).toBe('tool:github_search_repos');
    expect(legacyAlias('tool:a:b:c')).toBe('tool:a_b:c');
    expect(legacyAlias('tool:plain')).toBeUndefined();
    expect(legacyAlias('skill:x:y')).toBeUndefined();
    expect(scopeAllowed(['tool:test_api_get_data'], 'tool:test_api:get_data')).toBe(true);
    expect(scopeAllowed(['tool:github_*'], 'tool:github:x')).toBe(true);
    expect(scopeAllowed(['tool:github_*'], 'tool:linear:x')).toBe(false);
  });

  it('an explicit empty scope is open; a null scope is open unless the tool is internal', () => {
    expect(scopeAllowed([], '')).toBe(true);
    expect(toolAllowed(caller(''), tool('t', ''))).toBe(true);
    expect(toolAllowed(caller(''), tool('t', null))).toBe(true);
    expect(toolAllowed(caller(''), tool('t', null, true))).toBe(false);
    expect(toolAllowed(caller('tool:t'), tool('t', null, true))).toBe(true);
  });

  it('internal tools still need their scope', () => {
    const internal = tool('_chat_completion', 'tool:_chat_completion', true);
    expect(toolAllowed(caller('tool:other'), internal)).toBe(false);
    expect(toolAllowed(caller('tool:_chat_completion'), internal)).toBe(true);
    expect(toolAllowed(caller('*'), internal)).toBe(true);
  });

  it('one notion of expiry: an expired grant denies everything, "*" included', () => {
    const past = Math.floor(Date.now() / 1000) - 1;
    expect(toolAllowed(caller('*', { validUntil: past }), tool('t', 'tool:t'))).toBe(false);
    expect(toolAllowed(caller('tool:t', { validUntil: past }), tool('t', null))).toBe(false);
    expect(toolAllowed(caller('*', { validUntil: past + 100 }), tool('t', 'tool:t'))).toBe(true);
  });

  it('no caller: everything in dev mode; with auth configured only scope-free tools', () => {
    expect(toolAllowed(undefined, tool('t', 'tool:t'))).toBe(true);
    expect(toolAllowed(undefined, tool('t', 'tool:t'), true)).toBe(false);
    expect(toolAllowed(undefined, tool('t', null), true)).toBe(true);
    expect(callerAllowed(DEV_CALLER, 'anything', true)).toBe(true);
  });

  it('help needs the help scope (or "*") when auth is configured; dev mode is open', () => {
    expect(helpAllowed(DEV_CALLER)).toBe(true);
    expect(helpAllowed(undefined)).toBe(true);
    expect(helpAllowed(undefined, true)).toBe(false);
    expect(helpAllowed(caller('tool:x'), true)).toBe(false);
    expect(helpAllowed(caller('tool:x help'), true)).toBe(true);
    expect(helpAllowed(caller('*'), true)).toBe(true);
  });
});

describe('/tools and /tools/{name} filtered by the token scopes', () => {
  let ph: PipelineHost;
  const secret = Buffer.from(HEX_SECRET, 'hex');
  const now = () => Math.floor(Date.now() / 1000);
  const bearer = async (scope: string) =>
    `Bearer ${await new SignJWT({ sub: 'a', aud: 'ati-proxy', iat: now(), exp: now() + 600, scope }).setProtectedHeader({ alg: 'HS256' }).sign(secret)}`;
  const names = async (scope: string, query = '') => {
    const res = await fetch(`${ph.url}/tools${query}`, { headers: { authorization: await bearer(scope) } });
    expect(res.status).toBe(200);
    return ((await res.json()) as Array<{ name: string }>).map((t) => t.name).sort();
  };

  beforeAll(async () => {
    ph = await startPipelineHost({
      files: {
        'manifests/github.toml': probeManifest('github', {
          tools: [
            { name: 'github:search', scope: 'tool:github:search' },
            { name: 'github:issues', scope: 'tool:github:issues' },
          ],
        }),
        'manifests/linear.toml': probeManifest('linear', {
          tools: [{ name: 'linear:list', scope: 'tool:linear:list' }],
        }),
        'manifests/misc.toml': probeManifest('misc', { tools: [{ name: 'open_tool', scope: '' }, { name: 'plain' }] }),
        'manifests/secret.toml': probeManifest('secret', { internal: true, tools: [{ name: 'hidden' }] }),
      },
      config: { env: { ATI_JWT_SECRET: HEX_SECRET } },
    });
  });
  afterAll(async () => {
    await ph.close();
  });

  it('"*" sees every public tool; internal tools are never listed', async () => {
    expect(await names('*')).toEqual(['github:issues', 'github:search', 'linear:list', 'open_tool', 'plain']);
  });

  it('tool:github:* sees the github tools (and scope-free ones) only', async () => {
    expect(await names('tool:github:*')).toEqual(['github:issues', 'github:search', 'open_tool']);
  });

  it('legacy alias scopes grant the colon-named tool', async () => {
    expect(await names('tool:github_search')).toEqual(['github:search', 'open_tool']);
  });

  it('no scopes: only scope-free tools', async () => {
    expect(await names('')).toEqual(['open_tool']);
  });

  it('/tools/{name}: a hidden tool answers the same 404 as an unknown one; internal tools need their scope', async () => {
    const show = async (name: string, scope: string) =>
      fetch(`${ph.url}/tools/${encodeURIComponent(name)}`, { headers: { authorization: await bearer(scope) } });
    expect((await show('github:search', 'tool:github:*')).status).toBe(200);
    const hidden = await show('linear:list', 'tool:github:*');
    const unknown = await show('nope', 'tool:github:*');
    expect(hidden.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(await hidden.json()).toEqual({ error: "Tool 'linear:list' not found", code: 'ATI_ERR_UNKNOWN_TOOL' });
    expect(await unknown.json()).toEqual({ error: "Tool 'nope' not found", code: 'ATI_ERR_UNKNOWN_TOOL' });
    expect((await show('hidden', 'tool:github:*')).status).toBe(404);
    expect((await show('hidden', 'tool:hidden')).status).toBe(200);
  });
});

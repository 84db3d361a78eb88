/**
 * The example third-party plugin installed the way an operator installs one:
 * its folder copied to `<ati_dir>/node_modules/ati-plugin-graphql` (no path
 * back into this repository, no ati-proxy beside it) and named in
 * `<ati_dir>/config.toml`. Then the real `bin/ati`: `--check`, `manifest
 * schema`, `proxy` with GET /tools, hot reload on SIGHUP, rejected reloads
 * (bad endpoint, provisioning failure) keeping the serving generation, and the
 * plugin's close() on retire and on shutdown.
 */
import { cp, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { startGraphqlUpstream, type GraphqlUpstream } from '../helpers/graphql-upstream.js';
import { REPO_ROOT, runAti, startProxy, type LogLine, type ProxyProcess } from '../helpers/proxy-process.js';

const EXAMPLE_DIR = path.join(REPO_ROOT, 'examples', 'plugins', 'graphql');
const TOKEN = 'e2e-gql-token-c0ffee';

const manifest = (endpoint: string, extraTools = '', authKey = 'gql_token') => `
[provider]
name = "gql"
description = "GraphQL e2e"
handler = "graphql"
endpoint = "${endpoint}"
auth_type = "bearer"
auth_key_name = "${authKey}"

[[tools]]
name = "gql_viewer"
description = "the token's user"
query = "query { viewer { login name } }"

[[tools]]
name = "gql_repos"
description = "repositories of an owner"
query = "query Repos($owner: String!, $first: Int = 10) { repositories(owner: $owner, first: $first) { name stars } }"
${extraTools}`;

const USER_TOOL = `
[[tools]]
name = "gql_user"
description = "a user by login"
query = "query User($login: String!) { user(login: $login) { login name } }"
`;

/** An ATI directory with the example plugin installed by copying its folder, as `npm install` would. */
async function installedAtiDir(endpoint: string): Promise<TempAtiDir> {
  const dir = await makeAtiDir({
    'config.toml': '[plugins]\nmodules = ["ati-plugin-graphql"]\n',
    'manifests/gql.toml': manifest(endpoint),
    credentials: JSON.stringify({ gql_token: TOKEN }),
  });
  await cp(EXAMPLE_DIR, path.join(dir.dir, 'node_modules', 'ati-plugin-graphql'), { recursive: true });
  return dir;
}

async function toolNames(proxy: ProxyProcess): Promise<string[]> {
  const res = await fetch(`${proxy.url}/tools`);
  expect(res.status).toBe(200);
  return ((await res.json()) as Array<{ name: string }>).map((t) => t.name).sort();
}

/** Sends SIGHUP and waits for the outcome of that reload. */
async function hup(proxy: ProxyProcess, outcome: 'reload applied' | 'reload rejected'): Promise<LogLine> {
  const seen = proxy.logs.length;
  proxy.proc.kill('SIGHUP');
  return proxy
    .waitForLog(
      (l) => proxy.logs.indexOf(l) >= seen && (l.message === 'reload applied' || l.message === 'reload rejected'),
    )
    .then((l) => {
      expect(l.message, JSON.stringify(proxy.logs.slice(seen))).toBe(outcome);
      return l;
    });
}

describe('example graphql plugin installed into an ATI directory (real bin/ati)', () => {
  let dir: TempAtiDir | undefined;
  let upstream: GraphqlUpstream | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop();
    await upstream?.close();
    await dir?.cleanup();
    proxy = upstream = dir = undefined;
  });

  it('--check lists the plugin and its provider; `ati manifest schema` includes its fields', async () => {
    dir = await installedAtiDir('http://127.0.0.1:9/graphql');
    const check = await runAti(['proxy', '--check', '--ati-dir', dir.dir]);
    expect(check.stdout).toMatch(/handlers: .*graphql \(ati-plugin-graphql\)/);
    expect(check.stdout).toMatch(/^ {2}graphql: gql$/m);
    expect(check.stdout).toMatch(/tools: 2 \(2 public\)/);
    expect(check.code).toBe(0);

    const schema = await runAti(['manifest', 'schema', '--ati-dir', dir.dir]);
    expect(schema.code).toBe(0);
    type ObjectSchema = { properties: Record<string, unknown>; required: string[] };
    const doc = JSON.parse(schema.stdout) as {
      allOf: Array<{ if: unknown; then: { properties: { provider: ObjectSchema; tools: { items: ObjectSchema } } } }>;
    };
    const variant = doc.allOf.find((v) => JSON.stringify(v.if).includes('"graphql"'));
    expect(variant).toBeDefined();
    expect(Object.keys(variant!.then.properties.provider.properties)).toEqual(
      expect.arrayContaining(['endpoint', 'timeout_seconds', 'max_response_bytes']),
    );
    expect(Object.keys(variant!.then.properties.tools.items.properties)).toEqual(
      expect.arrayContaining(['query', 'operation_name', 'variables']),
    );
    // Fields the plugin marks `required: true` are required in the JSON Schema too.
    expect(variant!.then.properties.provider.required).toEqual(['name', 'description', 'endpoint']);
    expect(variant!.then.properties.tools.items.required).toEqual(['name', 'description', 'query']);

    await dir.write(
      'manifests/gql.toml',
      manifest('http://127.0.0.1:9/graphql').replace('query = "query { viewer', 'qurey = "query { viewer'),
    );
    const typo = await runAti(['proxy', '--check', '--ati-dir', dir.dir]);
    expect(typo.code).toBe(1);
    expect(typo.stdout).toMatch(/gql\.toml:\d+: tools\[0\]\.qurey: unknown key "qurey" \(did you mean "query"\?\)/);
  });

  it('serves its tools, hot-reloads its manifest, keeps serving through rejected reloads, closes retired providers', async () => {
    upstream = await startGraphqlUpstream({ token: TOKEN });
    dir = await installedAtiDir(upstream.url);
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'] });
    const p = proxy;
    await p.waitForLog(
      (l) => l.message === 'handler plugin loaded' && l['plugin'] === 'graphql' && l['module'] === 'ati-plugin-graphql',
    );
    expect(await toolNames(p)).toEqual(['gql_repos', 'gql_viewer']);
    const detail = (await (await fetch(`${p.url}/tools/gql_repos`)).json()) as Record<string, unknown>;
    expect(detail).toMatchObject({ provider: 'gql', method: 'POST', endpoint: '/graphql', scope: 'tool:gql_repos' });
    expect(detail['input_schema']).toMatchObject({
      required: ['owner'],
      properties: { owner: { type: 'string' }, first: { type: 'integer' } },
    });

    // Hot reload: a new tool appears; the provider is re-provisioned and the old one closed.
    await dir.write('manifests/gql.toml', manifest(upstream.url, USER_TOOL));
    const applied = await hup(p, 'reload applied');
    expect(applied).toMatchObject({ provisioned: ['gql'], closed: ['gql'] });
    expect(await toolNames(p)).toEqual(['gql_repos', 'gql_user', 'gql_viewer']);
    await p.waitForLog((l) => l.message === 'graphql provider closed' && l['provider'] === 'gql');

    // A bad endpoint is rejected by the plugin's validate(), located; generation 2 keeps serving.
    await dir.write('manifests/gql.toml', manifest('ftp://example.com/graphql', USER_TOOL));
    await hup(p, 'reload rejected');
    expect(
      p.logs.some(
        (l) =>
          l.message === 'reload error' &&
          l['field'] === 'provider.endpoint' &&
          /must be an http:\/\/ or https:\/\/ URL/.test(String(l['error'])),
      ),
    ).toBe(true);
    expect(await toolNames(p)).toEqual(['gql_repos', 'gql_user', 'gql_viewer']);

    // A provisioning failure (the keyring lacks the credential) fails only the candidate.
    await dir.write(
      'manifests/gql.toml',
      manifest(upstream.url, USER_TOOL + USER_TOOL.replaceAll('gql_user', 'gql_user2'), 'absent_token'),
    );
    await hup(p, 'reload rejected');
    const provisionError = p.logs.find(
      (l) => l.message === 'reload error' && l['code'] === 'ATI_ERR_MISSING_CREDENTIAL',
    );
    expect(provisionError?.['error']).toMatch(
      /provider "gql" \(handler graphql\) failed to provision: keyring entry 'absent_token' is missing/,
    );
    expect(await toolNames(p)).toEqual(['gql_repos', 'gql_user', 'gql_viewer']);
    // The serving provider was not touched by the failed candidates: exactly one close so far.
    expect(p.logs.filter((l) => l.message === 'graphql provider closed')).toHaveLength(1);

    // Shutdown retires the serving generation: its provider is closed too.
    const closesBefore = p.logs.filter((l) => l.message === 'graphql provider closed').length;
    expect(await p.stop()).toBe(0);
    expect(p.logs.filter((l) => l.message === 'graphql provider closed')).toHaveLength(closesBefore + 1);
    for (const l of p.logs) expect(JSON.stringify(l)).not.toContain(TOKEN);
  });

  it('a plugin may also import ati-proxy/plugin at run time when ati-proxy is installed in the ATI directory', async () => {
    dir = await makeAtiDir({
      'config.toml': '[plugins]\nmodules = ["./sdk-user.mjs"]\n',
      'sdk-user.mjs': [
        "import { definePlugin, AtiError, PLUGIN_API_VERSION } from 'ati-proxy/plugin';",
        'export default definePlugin({',
        "  apiVersion: PLUGIN_API_VERSION, name: 'sdkuser', version: '0.0.1', providerSchema: {},",
        "  async provision() { if (!AtiError) throw new Error('no AtiError'); return { tools: [], async close() {} }; },",
        '});',
      ].join('\n'),
      'manifests/s.toml': '[provider]\nname = "s"\ndescription = "s"\nhandler = "sdkuser"\n',
    });
    // What `npm install ati-proxy` in the ATI directory gives (here: this checkout, built).
    await dir.write('node_modules/.keep', '');
    await symlink(REPO_ROOT, path.join(dir.dir, 'node_modules', 'ati-proxy'), 'dir');
    const check = await runAti(['proxy', '--check', '--ati-dir', dir.dir]);
    expect(check.stderr).not.toMatch(/failed to load|Cannot find package/);
    expect(check.stdout).toMatch(/handlers: .*sdkuser \(\.\/sdk-user\.mjs\)/);
    expect(check.code).toBe(0);
  });

  it('its tools answer through POST /call and POST /mcp tools/call', async () => {
    upstream = await startGraphqlUpstream({ token: TOKEN });
    dir = await installedAtiDir(upstream.url);
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'] });
    const call = await fetch(`${proxy.url}/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool_name: 'gql_viewer', args: {} }),
    });
    expect(call.status).toBe(200);
    expect(JSON.stringify(await call.json())).toContain('octocat');
    const bad = await fetch(`${proxy.url}/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool_name: 'gql_repos', args: {} }),
    });
    expect(bad.status).toBe(400);
    const mcp = await fetch(`${proxy.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'gql_viewer', arguments: {} },
      }),
    });
    expect(mcp.status).toBe(200);
    const rpc = (await mcp.json()) as { id: number; result: { isError: boolean; content: Array<{ text: string }> } };
    expect(rpc.id).toBe(7);
    expect(rpc.result.isError).toBe(false);
    expect(rpc.result.content[0]!.text).toContain('octocat');
    for (const l of proxy.logs) expect(JSON.stringify(l)).not.toContain(TOKEN);
  });
});

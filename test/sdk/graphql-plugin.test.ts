/**
 * The example third-party plugin (examples/plugins/graphql) in process: its
 * GraphQL document reader, its manifest validation through the real loader,
 * and its calls against a real GraphQL server on loopback.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { toAtiError } from '../../kernel/errors.js';
import { Keyring } from '../../config/keyring.js';
import { createLogger } from '../../kernel/logger.js';
import { PluginRegistry, type CallContext, type Provisioned } from '../../core/plugin/contract.js';
import { parseManifests } from '../../config/manifest-loader.js';
import { sha256 } from '../../kernel/hash.js';
import graphqlPlugin, { VERSION } from '../../examples/plugins/graphql/index.js';
import { parseOperations, tokenize } from '../../examples/plugins/graphql/lib/document.js';
import { startGraphqlUpstream, type GraphqlUpstream } from '../helpers/graphql-upstream.js';
import { REPO_ROOT } from '../helpers/proxy-process.js';

const EXAMPLE_DIR = path.join(REPO_ROOT, 'examples', 'plugins', 'graphql');
const TOKEN = 'gql-secret-token-7f3a9c';

function registry() {
  const r = new PluginRegistry();
  r.register(graphqlPlugin, 'ati-plugin-graphql');
  return r;
}

function parse(text: string) {
  return parseManifests([{ file: '/m/gql.toml', text, hash: sha256(text) }], registry());
}

function errorsOf(text: string): string[] {
  return parse(text).errors.map((e) => `${e.location?.field ?? ''}: ${e.message}`);
}

const provider = (endpoint: string, extra = '') =>
  `[provider]\nname = "gql"\ndescription = "test"\nhandler = "graphql"\nendpoint = "${endpoint}"\nauth_type = "bearer"\nauth_key_name = "gql_token"\n${extra}\n`;

const TOOLS = `
[[tools]]
name = "gql_viewer"
description = "viewer"
query = "query { viewer { login name } }"

[[tools]]
name = "gql_repos"
description = "repositories"
query = """
# comment with a ( paren and a "quote"
query Repos($owner: String!, $first: Int = 1) {
  repositories(owner: $owner, first: $first) { name owner stars }
}
"""

[[tools]]
name = "gql_user"
description = "user"
query = "query User($login: String!) { user(login: $login) { login name } }"
variables = { login = "username" }

[[tools]]
name = "gql_star"
description = "star"
query = "mutation Star($repo: String!) { addStar(repo: $repo) { name stars } }"

[[tools]]
name = "gql_slow"
description = "slow"
query = "query Slow($ms: Int!) { slow(ms: $ms) }"

[[tools]]
name = "gql_broken"
description = "asks for a field the server does not have"
query = "query { nosuchfield }"
`;

function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: stream as never }), lines };
}

async function provision(text: string, keyring: Record<string, string> = { gql_token: TOKEN }) {
  const parsed = parse(text);
  expect(parsed.errors.map((e) => e.describe())).toEqual([]);
  const { logger, lines } = memoryLogger();
  const reads = new Map<string, string | undefined>();
  const kr = new Keyring(Object.entries(keyring), 'test');
  const provisioned = await registry()
    .get('graphql')!
    .provision(parsed.manifests[0]!, {
      options: { atiDir: '/nonexistent', enablePassthrough: false, checkOnly: false },
      atiDir: '/nonexistent',
      specsDir: '/nonexistent/specs',
      keyring: kr.accessor(reads),
      logger,
      signal: new AbortController().signal,
      generationId: 1,
    });
  const call = (tool: string, args: unknown, signal = new AbortController().signal) => {
    const def = provisioned.tools.find((t) => t.name === tool)!;
    const ctx: CallContext = {
      requestId: 'r1',
      caller: { sub: 'dev', scopes: ['*'], unrestricted: true },
      signal,
      logger,
      keyring: kr.accessor(),
      requestedName: tool,
      endpoint: 'call',
    };
    return provisioned.call!(def, args, ctx);
  };
  const callError = (tool: string, args: unknown, signal?: AbortSignal) =>
    call(tool, args, signal).then(
      () => {
        throw new Error(`${tool} succeeded`);
      },
      (e: unknown) => toAtiError(e, 'ATI_ERR_PLUGIN'),
    );
  return { provisioned, call, callError, lines, reads };
}

describe('graphql plugin: reading GraphQL documents', () => {
  it('reads operations, variable types, defaults and skips directives, comments and strings', () => {
    const ops = parseOperations(`
      # query Fake($x: Int) { a }
      query A($a: [ID!]! = ["x"], $b: Float, $c: In = {k: "}", n: [1, 2]}) @dir(s: "(") { f(s: """ ) { """) }
      mutation { m }
      { shorthand }
      fragment F on T { x }
      subscription S { s }
    `);
    expect(ops.map((o) => [o.type, o.name ?? null])).toEqual([
      ['query', 'A'],
      ['mutation', null],
      ['query', null],
      ['subscription', 'S'],
    ]);
    expect(ops[0]!.variables.map((v) => [v.name, v.typeText, v.type.nonNull, v.defaultText ?? null])).toEqual([
      ['a', '[ID!]!', true, '["x"]'],
      ['b', 'Float', false, null],
      ['c', 'In', false, '{k: "}", n: [1, 2]}'],
    ]);
  });

  it('reports syntax errors with line and column', () => {
    expect(() => parseOperations('query {\n  a(x: "unterminated)\n}')).toThrow(/line 2, column 8: unterminated string/);
    expect(() => parseOperations('query Q($a Int) { a }')).toThrow(/line 1, column 12: expected ":", found "Int"/);
    expect(() => parseOperations('query { a ')).toThrow(/unbalanced "\{"/);
    expect(() => parseOperations('type Query { a: Int }')).toThrow(/unexpected "type" \(expected query, mutation/);
    expect(() => parseOperations('query { a ) }')).toThrow(/unexpected "\)"/);
    expect(() => tokenize('query { a ~ }')).toThrow(/unexpected character "~"/);
  });
});

describe('graphql plugin: manifest validation (through the real loader)', () => {
  const ok = provider('http://127.0.0.1:9/graphql') + TOOLS;

  it('accepts a valid manifest, and the example manifests shipped with the plugin', () => {
    expect(errorsOf(ok)).toEqual([]);
    for (const f of ['github.toml', 'countries.toml']) {
      expect(errorsOf(readFileSync(path.join(EXAMPLE_DIR, 'manifests', f), 'utf8')), f).toEqual([]);
    }
  });

  it('rejects bad endpoints, unsupported auth and incomplete auth, each at its field', () => {
    const tool = '[[tools]]\nname = "t"\ndescription = "t"\nquery = "{ a }"\n';
    expect(errorsOf(provider('not a url') + tool)).toEqual([
      'provider.endpoint: "not a url" is not a URL (expected e.g. https://api.example.com/graphql)',
    ]);
    expect(errorsOf(provider('ftp://h/graphql') + tool)).toEqual([
      'provider.endpoint: must be an http:// or https:// URL (found ftp:)',
    ]);
    expect(errorsOf(provider('https://u:p@h/graphql') + tool)).toEqual([
      'provider.endpoint: must not contain credentials (user:password@); use auth_type and a keyring entry',
    ]);
    const base = '[provider]\nname = "gql"\ndescription = "t"\nhandler = "graphql"\nendpoint = "https://h/graphql"\n';
    expect(errorsOf(`${base}auth_type = "query"\nauth_key_name = "k"\n${tool}`)).toEqual([
      'provider.auth_type: the graphql handler supports auth_type "none", "bearer", "header" (found "query")',
    ]);
    expect(errorsOf(`${base}auth_type = "bearer"\n${tool}`)).toEqual([
      'provider.auth_key_name: auth_type "bearer" needs auth_key_name (the keyring entry holding the credential)',
    ]);
    expect(errorsOf(`${base}auth_type = "header"\nauth_key_name = "k"\n${tool}`)).toEqual([
      'provider.auth_header_name: auth_type "header" needs auth_header_name (e.g. "X-API-Key")',
    ]);
    expect(errorsOf(base)).toEqual([
      'tools: the graphql handler needs at least one [[tools]] entry (one GraphQL operation each)',
    ]);
  });

  it('rejects missing, misspelt and unusable tool fields', () => {
    const p = provider('https://h/graphql');
    expect(errorsOf(`${p}[[tools]]\nname = "t"\ndescription = "t"\n`)).toEqual([
      'tools[0]: missing required key "query"',
    ]);
    expect(errorsOf(`${p}[[tools]]\nname = "t"\ndescription = "t"\nquery = "{ a }"\noperaton_name = "A"\n`)).toEqual([
      'tools[0].operaton_name: unknown key "operaton_name" (did you mean "operation_name"?)',
    ]);
    expect(errorsOf(`${p}[[tools]]\nname = "t"\ndescription = "t"\nquery = "query A { a } query B { b }"\n`)).toEqual([
      'tools[0].query: the document has 2 operations (A, B); set operation_name',
    ]);
    expect(
      errorsOf(`${p}[[tools]]\nname = "t"\ndescription = "t"\nquery = "query A { a }"\noperation_name = "B"\n`),
    ).toEqual(['tools[0].operation_name: operation "B" is not in the document (it has: A)']);
    expect(errorsOf(`${p}[[tools]]\nname = "t"\ndescription = "t"\nquery = "subscription { a }"\n`)).toEqual([
      'tools[0].query: subscriptions are not supported (a tool call has one answer); use a query or a mutation',
    ]);
    expect(errorsOf(`${p}[[tools]]\nname = "t"\ndescription = "t"\nquery = "query Q($a: Int { a }"\n`)).toEqual([
      'tools[0].query: GraphQL syntax error at line 1, column 17: expected "$", found "{"',
    ]);
    expect(
      errorsOf(
        `${p}[[tools]]\nname = "t"\ndescription = "t"\nquery = "query Q($a: Int) { a }"\nvariables = { b = "x" }\n`,
      ),
    ).toEqual(['tools[0].variables.b: the operation declares no variable $b (it has: $a)']);
    expect(
      errorsOf(`${p}[[tools]]\nname = "t"\ndescription = "t"\nquery = "{ a }"\nvariables = { b = 1 }\n`)[0],
    ).toMatch(/^tools\[0\]\.variables\.b: must be/);
  });

  it('keeps its version in step with its package.json', () => {
    const pkg = JSON.parse(readFileSync(path.join(EXAMPLE_DIR, 'package.json'), 'utf8')) as {
      version: string;
      name: string;
    };
    expect(pkg.name).toBe('ati-plugin-graphql');
    expect(VERSION).toBe(pkg.version);
    expect(graphqlPlugin.version).toBe(pkg.version);
  });
});

describe('graphql plugin: calls against a real GraphQL server', () => {
  let upstream: GraphqlUpstream;
  let open: Provisioned[] = [];
  beforeAll(async () => {
    upstream = await startGraphqlUpstream({ token: TOKEN });
  });
  afterAll(async () => upstream.close());
  afterEach(async () => {
    await Promise.all(open.map((p) => p.close()));
    open = [];
    upstream.requests.length = 0;
  });
  const start = async (extra = '', keyring?: Record<string, string>, tools = TOOLS) => {
    const p = await provision(provider(upstream.url, extra) + tools, keyring);
    open.push(p.provisioned);
    return p;
  };

  it('derives POST tools with input schemas from the operations', async () => {
    const { provisioned, reads } = await start();
    expect([...reads]).toEqual([['gql_token', TOKEN]]);
    const byName = Object.fromEntries(provisioned.tools.map((t) => [t.name, t]));
    expect(byName['gql_viewer']).toMatchObject({
      method: 'POST',
      endpoint: '/graphql',
      provider: 'gql',
      handler: 'graphql',
      scope: 'tool:gql_viewer',
    });
    expect(byName['gql_viewer']!.inputSchema).toEqual({
      type: 'object',
      properties: {},
      required: [],
      additionalProperties: false,
    });
    expect(byName['gql_repos']!.inputSchema).toEqual({
      type: 'object',
      properties: {
        owner: { type: 'string', description: 'GraphQL variable $owner: String!' },
        first: { type: 'integer', description: 'GraphQL variable $first: Int (default 1)' },
      },
      required: ['owner'],
      additionalProperties: false,
    });
    expect(Object.keys((byName['gql_user']!.inputSchema as { properties: object }).properties)).toEqual(['username']);
  });

  it('runs queries and mutations: the bearer from the keyring, variables from the arguments, data as the result', async () => {
    const { call } = await start('extra_headers = { "X-Trace" = "t1" }');
    await expect(call('gql_viewer', {})).resolves.toEqual({
      value: { viewer: { login: 'octocat', name: 'The Octocat' } },
      upstreamStatus: 200,
    });
    await expect(call('gql_repos', { owner: 'me' })).resolves.toMatchObject({
      value: { repositories: [{ name: 'ati', owner: 'me', stars: 41 }] },
    });
    await expect(call('gql_user', { username: 'ada' })).resolves.toMatchObject({
      value: { user: { login: 'ada', name: 'ADA' } },
    });
    await expect(call('gql_star', { repo: 'proxy' })).resolves.toMatchObject({
      value: { addStar: { name: 'proxy', stars: 8 } },
    });
    const seen = upstream.requests;
    expect(seen[0]!.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(seen[0]!.headers['x-trace']).toBe('t1');
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[1]!.body.variables).toEqual({ owner: 'me' });
    expect(seen[2]!.body.variables).toEqual({ login: 'ada' });
    // One keep-alive connection served every call (earlier tests' sockets may still be closing).
    await expect.poll(() => upstream.openConnections()).toBe(1);
  });

  it('sends operationName when the manifest names the operation', async () => {
    const tools =
      '[[tools]]\nname = "gql_two"\ndescription = "two ops"\nquery = "query A { viewer { login } } query B { viewer { name } }"\noperation_name = "B"\n';
    const { call } = await start('', undefined, tools);
    await expect(call('gql_two', undefined)).resolves.toMatchObject({ value: { viewer: { name: 'The Octocat' } } });
    expect(upstream.requests[0]!.body.operationName).toBe('B');
  });

  it('auth_type = "header" puts the prefixed credential into the named header', async () => {
    const p = `[provider]\nname = "gql"\ndescription = "t"\nhandler = "graphql"\nendpoint = "${upstream.url}"\nauth_type = "header"\nauth_key_name = "gql_token"\nauth_header_name = "X-Api-Key"\nauth_value_prefix = "Key "\n`;
    const { callError, provisioned } = await provision(p + TOOLS);
    open.push(provisioned);
    const e = await callError('gql_viewer', {});
    expect(upstream.requests[0]!.headers['x-api-key']).toBe(`Key ${TOKEN}`);
    expect(upstream.requests[0]!.headers['authorization']).toBeUndefined();
    // Our test server wants a bearer, so this is a GraphQL-over-HTTP 401 with errors.
    expect(e.code).toBe('ATI_ERR_UPSTREAM');
    expect(e.message).toBe('Upstream API error: GraphQL error: Bad credentials [UNAUTHENTICATED]');
    expect(e.details).toMatchObject({
      upstream_status: 401,
      graphql_errors: [{ message: 'Bad credentials', code: 'UNAUTHENTICATED' }],
    });
  });

  it('bad arguments are 400s before any request leaves', async () => {
    const { callError } = await start();
    expect((await callError('gql_repos', { owner: 'me', frist: 2 })).describe()).toBe(
      'unknown argument "frist" (expected: owner, first)',
    );
    expect((await callError('gql_repos', { first: 2 })).describe()).toBe('missing required argument "owner"');
    expect((await callError('gql_viewer', { x: 1, y: 2 })).describe()).toBe(
      'unknown arguments "x", "y" (this tool takes no arguments)',
    );
    const e = await callError('gql_repos', ['me']);
    expect(e.code).toBe('ATI_ERR_TOOL_ARGS');
    expect(e.status).toBe(400);
    expect(upstream.requests).toHaveLength(0);
  });

  it('GraphQL errors fail the call with ATI_ERR_UPSTREAM and the server’s messages', async () => {
    const { callError } = await start();
    const e = await callError('gql_broken', {});
    expect(e.code).toBe('ATI_ERR_UPSTREAM');
    expect(e.status).toBe(502);
    expect(e.message).toBe('Upstream API error: GraphQL error: Cannot query field "nosuchfield" on type "Query".');
    // Variable coercion happens on the server too.
    expect((await callError('gql_repos', { owner: 5 })).message).toMatch(
      /GraphQL error: Variable "\$owner" got invalid value 5; String cannot represent a non string value: 5/,
    );
  });

  it('a wrong token is an upstream error that never echoes the credential', async () => {
    const { callError, lines } = await start('', { gql_token: 'wrong-token-value-123' });
    const e = await callError('gql_viewer', {});
    expect(e.code).toBe('ATI_ERR_UPSTREAM');
    expect(e.details?.['upstream_status']).toBe(401);
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain('wrong-token-value-123');
    for (const l of lines) expect(l).not.toContain('wrong-token-value-123');
  });

  it('a credential HTTP cannot carry (a newline) fails the call cleanly, without the value', async () => {
    const { callError } = await start('', { gql_token: 'line1-secret\nline2' });
    const e = await callError('gql_viewer', {});
    expect(e.code).toBe('ATI_ERR_UPSTREAM');
    expect(e.message).toMatch(
      /^Upstream API error: HTTP request failed: Invalid character in header content \["authorization"\]/,
    );
    expect(e.message).not.toContain('line1-secret');
    expect(upstream.requests).toHaveLength(0);
  });

  it('non-GraphQL answers and oversized answers are upstream errors; a null field is data', async () => {
    const capped = await start('max_response_bytes = 40');
    expect((await capped.callError('gql_repos', { owner: 'someone-with-a-long-name' })).message).toBe(
      'Upstream API error: response is larger than max_response_bytes (40)',
    );
    const notGraphql = await provision(provider(upstream.url.replace('/graphql', '/not-graphql')) + TOOLS);
    open.push(notGraphql.provisioned);
    expect((await notGraphql.callError('gql_viewer', {})).message).toBe(
      'Upstream API error: the answer is not a GraphQL response (no "data" member)',
    );
    const gateway = await provision(provider(upstream.url.replace('/graphql', '/bad-gateway')) + TOOLS);
    open.push(gateway.provisioned);
    const e = await gateway.callError('gql_viewer', {});
    expect(e.message).toBe('Upstream API error: HTTP 502: <html><body>502 Bad Gateway</body></html>');
    expect(e.details?.['upstream_status']).toBe(502);
    const { call } = await start();
    await expect(call('gql_user', { username: 'nobody' })).resolves.toMatchObject({ value: { user: null } });
  });

  it('an unreachable endpoint is ATI_ERR_UPSTREAM; a slow one hits timeout_seconds (504)', async () => {
    const down = await provision(provider('http://127.0.0.1:9/graphql') + TOOLS);
    open.push(down.provisioned);
    const e = await down.callError('gql_viewer', {});
    expect(e.code).toBe('ATI_ERR_UPSTREAM');
    expect(e.message).toMatch(/^Upstream API error: HTTP request failed: connect ECONNREFUSED 127\.0\.0\.1:9/);
    const { callError } = await start('timeout_seconds = 1');
    const t0 = Date.now();
    const slow = await callError('gql_slow', { ms: 5_000 });
    expect(slow.code).toBe('ATI_ERR_UPSTREAM_TIMEOUT');
    expect(slow.status).toBe(504);
    expect(slow.message).toBe('Upstream API error: no complete answer within timeout_seconds (1s)');
    expect(Date.now() - t0).toBeLessThan(4_000);
  });

  it('honours the call’s abort signal', async () => {
    const { callError } = await start();
    const controller = new AbortController();
    const pending = callError('gql_slow', { ms: 5_000 }, controller.signal);
    await new Promise<void>((resolve) => {
      const poll = () => (upstream.requests.length > 0 ? resolve() : setTimeout(poll, 5));
      poll();
    });
    controller.abort();
    const e = await pending;
    expect(e.message).toBe('Upstream API error: request aborted: the client disconnected');
    expect(e.details).toMatchObject({ aborted: true });
  });

  it('a missing keyring entry fails provision with ATI_ERR_MISSING_CREDENTIAL naming the entry', async () => {
    const err = await provision(provider(upstream.url) + TOOLS, {}).then(
      () => undefined,
      (e: unknown) => toAtiError(e),
    );
    expect(err?.code).toBe('ATI_ERR_MISSING_CREDENTIAL');
    expect(err?.message).toMatch(
      /keyring entry 'gql_token' is missing \(needed by provider "gql" \(handler graphql\)\)/,
    );
  });

  it('close() destroys the pooled connections, logs it, and later calls fail cleanly', async () => {
    const { provisioned, call, callError, lines } = await start();
    await call('gql_viewer', {});
    await expect.poll(() => upstream.openConnections()).toBe(1);
    await provisioned.close();
    await expect.poll(() => upstream.openConnections()).toBe(0);
    expect(lines.some((l) => /"message":"graphql provider closed"/.test(l))).toBe(true);
    expect((await callError('gql_viewer', {})).message).toMatch(/the provider was closed/);
  });
});

/**
 * Credential injection of the http handler against a real loopback upstream:
 * every auth type arrives exactly as specified, caller-sent headers of the same
 * name never reach the upstream, and the query credential never shows up in an
 * error body or a log line.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, startUpstream, type RecordingUpstream } from '../../helpers/recording-upstream.js';
import { httpManifest, startToolHost, type ToolHost } from '../../helpers/tool-host.js';

const TOOLS = `
[[tools]]
name = "get_thing"
description = "GET /thing"
endpoint = "/thing"
method = "GET"

[[tools]]
name = "post_thing"
description = "POST /thing"
endpoint = "/thing"
method = "POST"
`;

const NODE = JSON.stringify(process.execPath);

describe('http handler: credentials', () => {
  let up: RecordingUpstream;
  let th: ToolHost | undefined;
  beforeEach(async () => {
    up = await startUpstream();
  });
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await up.close();
  });

  const start = async (providerExtra: string, keyring: Record<string, string> = {}, tools = TOOLS) => {
    th = await startToolHost({ manifests: { p: httpManifest('p', up.url, providerExtra, tools) }, keyring });
    return th;
  };

  it('none sends no credential', async () => {
    await start('auth_type = "none"');
    expect((await th!.call('get_thing')).status).toBe(200);
    expect(up.requests[0]!.headers['authorization']).toBeUndefined();
    expect(up.requests[0]!.headers['x-api-key']).toBeUndefined();
  });

  it('bearer sends Authorization: Bearer <key>', async () => {
    await start('auth_type = "bearer"\nauth_key_name = "tok"', { tok: 'secret-key-value' });
    const r = await th!.call('get_thing');
    expect(r).toMatchObject({ status: 200, body: { result: { ok: true } } });
    expect(up.requests[0]!.headers['authorization']).toBe('Bearer secret-key-value');
  });

  it('header sends X-Api-Key by default, or the configured name with its prefix', async () => {
    await start('auth_type = "header"\nauth_key_name = "k"', { k: 'kv-1234' });
    await th!.call('get_thing');
    expect(up.requests[0]!.headers['x-api-key']).toBe('kv-1234');
    await th!.close();
    th = undefined;
    await start(
      'auth_type = "header"\nauth_key_name = "k"\nauth_header_name = "X-Token"\nauth_value_prefix = "Token "',
      { k: 'kv-1234' },
    );
    await th!.call('get_thing');
    expect(up.requests[1]!.headers['x-token']).toBe('Token kv-1234');
    expect(up.requests[1]!.headers['x-api-key']).toBeUndefined();
  });

  it('query adds api_key by default, or the configured name, replacing a caller argument of that name', async () => {
    await start('auth_type = "query"\nauth_key_name = "k"', { k: 'qsecret-1' });
    await th!.call('get_thing', { q: 'x' });
    expect(up.requests[0]!.query.getAll('api_key')).toEqual(['qsecret-1']);
    expect(up.requests[0]!.query.get('q')).toBe('x');
    await th!.close();
    th = undefined;
    await start('auth_type = "query"\nauth_key_name = "k"\nauth_query_name = "token"', { k: 'qsecret-1' });
    await th!.call('get_thing', { token: 'attacker-chosen', q: 'y' });
    expect(up.requests[1]!.query.getAll('token')).toEqual(['qsecret-1']);
  });

  it('basic sends base64("<key>:")', async () => {
    await start('auth_type = "basic"\nauth_key_name = "k"', { k: 'user-key' });
    await th!.call('get_thing');
    expect(up.requests[0]!.headers['authorization']).toBe(`Basic ${Buffer.from('user-key:').toString('base64')}`);
  });

  it('a missing keyring entry is a 500 naming the entry, and nothing is sent upstream', async () => {
    await start('auth_type = "bearer"\nauth_key_name = "test_api_key"');
    const r = await th!.call('get_thing');
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ result: null, code: 'ATI_ERR_MISSING_CREDENTIAL' });
    expect(r.body['error']).toContain("'test_api_key'");
    expect(up.requests).toHaveLength(0);
  });

  it('a rotated keyring applies to the next call after reload (credentials are read at call time)', async () => {
    await start('auth_type = "bearer"\nauth_key_name = "tok"', { tok: 'old-value' });
    await th!.call('get_thing');
    th!.setKeyring({ tok: 'new-value' });
    await th!.host.reload('test', { force: true });
    await th!.call('get_thing');
    expect(up.requests.map((r) => r.headers['authorization'])).toEqual(['Bearer old-value', 'Bearer new-value']);
  });

  it('caller-sent headers with the credential name never reach the upstream', async () => {
    await start('auth_type = "header"\nauth_key_name = "k"\nextra_headers = { "X-Org" = "acme" }', { k: 'real-key' });
    await th!.call(
      'get_thing',
      {},
      { headers: { 'x-api-key': 'fake', authorization: 'Bearer fake', 'x-org': 'evil' } },
    );
    const r = up.requests[0]!;
    expect(r.headers['x-api-key']).toBe('real-key');
    expect(r.headers['authorization']).toBeUndefined();
    expect(r.headers['x-org']).toBe('acme');
    const names = r.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    expect(names.filter((n) => n === 'x-api-key')).toHaveLength(1);
  });

  it('a header parameter named like the credential header is refused with 400 (also the default X-Api-Key)', async () => {
    const tools = `
[[tools]]
name = "h"
description = "header param"
endpoint = "/h"
[tools.input_schema.properties.X-Api-Key]
type = "string"
x-ati-param-location = "header"
[tools.input_schema.properties.Authorization]
type = "string"
x-ati-param-location = "header"
[tools.input_schema.properties.X-Trace]
type = "string"
x-ati-param-location = "header"
`;
    await start('auth_type = "header"\nauth_key_name = "k"', { k: 'real-key' }, tools);
    for (const name of ['X-Api-Key', 'Authorization']) {
      const r = await th!.call('h', { [name]: 'fake' });
      expect(r.status, name).toBe(400);
      expect(r.body).toMatchObject({
        code: 'ATI_ERR_TOOL_ARGS',
        error: `Header '${name}' is not allowed as a user-supplied parameter`,
      });
    }
    expect(up.requests).toHaveLength(0);
    expect((await th!.call('h', { 'X-Trace': 'abc' })).status).toBe(200);
    expect(up.requests[0]!.headers['x-trace']).toBe('abc');
  });

  it('extra_headers are sent, with ${key} expanded from the keyring; a missing entry is a 500 naming it', async () => {
    await start('extra_headers = { "X-Org" = "org-${org_id}", "X-Static" = "plain" }', { org_id: '42' });
    await th!.call('get_thing');
    expect(up.requests[0]!.headers['x-org']).toBe('org-42');
    expect(up.requests[0]!.headers['x-static']).toBe('plain');
    th!.setKeyring({});
    await th!.host.reload('test', { force: true });
    const r = await th!.call('get_thing');
    expect(r.status).toBe(500);
    expect(r.body['error']).toContain("'org_id'");
  });

  it('the query credential never appears in an error body or any log line', async () => {
    const secret = 'Q-SECRET-9f8e7d';
    await start('auth_type = "query"\nauth_key_name = "k"\nauth_query_name = "token"', { k: secret });
    // The upstream echoes the request URL (with the credential) in its error bodies.
    up.handle((req, res) => {
      if (req.path === '/thing' && req.method === 'GET')
        json(res, 500, { error: { message: `bad request to ${req.url}` } });
      else {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`rejected ${req.url} token=${secret}`);
      }
    });
    const a = await th!.call('get_thing');
    expect(a.status).toBe(502);
    expect(a.body['error']).toContain('Upstream API error: API error (500): bad request to /thing?token=[REDACTED]');
    const b = await th!.call('post_thing', { x: 1 });
    expect(b.status).toBe(502);
    for (const r of [a, b]) expect(JSON.stringify(r.body)).not.toContain(secret);
    expect(th!.logs.length).toBeGreaterThan(0);
    for (const line of th!.logs) expect(line).not.toContain(secret);
    expect(th!.logsOf('tool call').map((l) => l['status'])).toEqual([502, 502]);
  });

  it('an upstream error that echoes the injected secret in any spelling is redacted by the call', async () => {
    // Five characters: below the keyring-wide minimum (6), so only the call's own redactor can hide it.
    const secret = '"a b/';
    const forms = [
      secret,
      encodeURIComponent(secret),
      new URLSearchParams([['', secret]]).toString().slice(1),
      JSON.stringify(secret).slice(1, -1),
      Buffer.from(`${secret}:`).toString('base64'),
    ];
    expect(new Set(forms).size).toBe(forms.length);
    await start('auth_type = "basic"\nauth_key_name = "k"', { k: secret });
    up.handle((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(forms.map((f, i) => `f${i}=${f}`).join(' '));
    });
    const r = await th!.call('get_thing');
    expect(r.status).toBe(502);
    expect(r.body['error']).toBe(
      `Upstream API error: API error (500): ${forms.map((_f, i) => `f${i}=[REDACTED]`).join(' ')}`,
    );
    for (const line of th!.logs) for (const f of forms) expect(line).not.toContain(f);
  });
});

describe('http handler: OAuth2 client credentials', () => {
  let up: RecordingUpstream;
  let th: ToolHost | undefined;
  let issued = 0;
  let rejectToken: string | undefined;
  beforeEach(async () => {
    issued = 0;
    rejectToken = undefined;
    up = await startUpstream((req, res) => {
      if (req.path === '/oauth/token') {
        issued++;
        json(res, 200, { access_token: `tok-${issued}`, expires_in: 3600, token_type: 'bearer' });
        return;
      }
      if (req.headers['authorization'] === `Bearer ${rejectToken}`) {
        json(res, 401, { error: 'token revoked' });
        return;
      }
      json(res, 200, { auth: req.headers['authorization'] });
    });
  });
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await up.close();
  });

  const oauthProvider = (extra = '') =>
    `auth_type = "oauth2"\nauth_key_name = "cid"\nauth_secret_name = "csecret"\noauth2_token_url = "/oauth/token"\n${extra}`;

  it('exchanges client credentials in the form body, caches the token, and sends it as Bearer', async () => {
    th = await startToolHost({
      manifests: { p: httpManifest('p', up.url, oauthProvider(), TOOLS) },
      keyring: { cid: 'client-1', csecret: 'shh-secret' },
    });
    expect((await th.call('get_thing')).body).toEqual({ result: { auth: 'Bearer tok-1' } });
    expect((await th.call('get_thing')).body).toEqual({ result: { auth: 'Bearer tok-1' } });
    const tokenReqs = up.requests.filter((r) => r.path === '/oauth/token');
    expect(tokenReqs).toHaveLength(1);
    expect(tokenReqs[0]!.method).toBe('POST');
    expect(tokenReqs[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(tokenReqs[0]!.body))).toEqual({
      grant_type: 'client_credentials',
      client_id: 'client-1',
      client_secret: 'shh-secret',
    });
  });

  it('with oauth2_basic_auth sends the credentials as HTTP Basic and only grant_type in the body', async () => {
    th = await startToolHost({
      manifests: { p: httpManifest('p', up.url, oauthProvider('oauth2_basic_auth = true'), TOOLS) },
      keyring: { cid: 'client-1', csecret: 'shh-secret' },
    });
    await th.call('get_thing');
    const t = up.requests.find((r) => r.path === '/oauth/token')!;
    expect(t.headers['authorization']).toBe(`Basic ${Buffer.from('client-1:shh-secret').toString('base64')}`);
    expect(t.body).toBe('grant_type=client_credentials');
  });

  it('drops the cached token when the upstream answers 401 and retries once with a fresh one', async () => {
    th = await startToolHost({
      manifests: { p: httpManifest('p', up.url, oauthProvider(), TOOLS) },
      keyring: { cid: 'c', csecret: 's-secret' },
    });
    await th.call('get_thing');
    rejectToken = 'tok-1';
    const r = await th.call('get_thing');
    expect(r.body).toEqual({ result: { auth: 'Bearer tok-2' } });
    expect(up.requests.filter((x) => x.path === '/oauth/token')).toHaveLength(2);
  });

  it('a failing token endpoint is a 502 that does not echo the client secret', async () => {
    up.handle((req, res) => json(res, 400, `invalid_client ${req.body}`));
    th = await startToolHost({
      manifests: { p: httpManifest('p', up.url, oauthProvider(), TOOLS) },
      keyring: { cid: 'c', csecret: 'very-secret-value' },
    });
    const r = await th.call('get_thing');
    expect(r.status).toBe(502);
    expect(r.body['error']).toMatch(/^Upstream API error: OAuth2 token exchange failed: token exchange failed \(400\)/);
    expect(JSON.stringify(r.body)).not.toContain('very-secret-value');
  });
});

describe('http handler: auth_generator', () => {
  let up: RecordingUpstream;
  let th: ToolHost | undefined;
  beforeEach(async () => {
    up = await startUpstream();
  });
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await up.close();
  });

  const gen = (body: string, authType = 'bearer') =>
    `auth_type = "${authType}"\n\n[provider.auth_generator]\n${body}\n`;

  it('command output becomes the bearer token (no shell: arguments are passed literally)', async () => {
    th = await startToolHost({
      manifests: {
        p: httpManifest(
          'p',
          up.url,
          gen('type = "command"\ncommand = "echo"\nargs = ["generated-proxy-token"]'),
          TOOLS,
        ),
      },
    });
    expect((await th.call('get_thing')).status).toBe(200);
    expect(up.requests[0]!.headers['authorization']).toBe('Bearer generated-proxy-token');
  });

  it('json output with inject: primary token plus an extra header', async () => {
    const script = `console.log(JSON.stringify({ token: "tok-json", api_key: "extra-key" }))`;
    th = await startToolHost({
      manifests: {
        p: httpManifest(
          'p',
          up.url,
          gen(
            `type = "command"\ncommand = ${NODE}\nargs = ["-e", ${JSON.stringify(script)}]\noutput_format = "json"\n[provider.auth_generator.inject]\ntoken = { type = "primary", name = "token" }\napi_key = { type = "header", name = "X-Custom-Key" }`,
          ),
          TOOLS,
        ),
      },
    });
    await th.call('get_thing');
    expect(up.requests[0]!.headers['authorization']).toBe('Bearer tok-json');
    expect(up.requests[0]!.headers['x-custom-key']).toBe('extra-key');
  });

  it('runs with a clean environment and expands ${JWT_SUB}, ${TOOL_NAME} and keyring entries in args', async () => {
    process.env['ATI_TEST_LEAK'] = 'must-not-leak';
    try {
      const script = `console.log(JSON.stringify({ token: process.argv.slice(1).join("|"), env: Object.keys(process.env).sort() }))`;
      th = await startToolHost({
        manifests: {
          p: httpManifest(
            'p',
            up.url,
            gen(
              `type = "command"\ncommand = ${NODE}\nargs = ["-e", ${JSON.stringify(script)}, "\${JWT_SUB}", "\${TOOL_NAME}", "\${seed}"]\noutput_format = "json"\nenv = { GEN_MODE = "m-\${seed}" }\n[provider.auth_generator.inject]\ntoken = { type = "primary", name = "t" }\nenv = { type = "header", name = "X-Env" }`,
            ),
            TOOLS,
          ),
        },
        keyring: { seed: 'seed-value' },
      });
      await th.call('get_thing');
      const r = up.requests[0]!;
      expect(r.headers['authorization']).toBe('Bearer dev|get_thing|seed-value');
      const envKeys = JSON.parse(String(r.headers['x-env'])) as string[];
      expect(envKeys.filter((k) => !['PATH', 'HOME', 'TMPDIR'].includes(k))).toEqual(['GEN_MODE']);
    } finally {
      delete process.env['ATI_TEST_LEAK'];
    }
  });

  it('caches the credential per caller for cache_ttl_secs', async () => {
    const script = `console.log(require("crypto").randomUUID())`;
    th = await startToolHost({
      manifests: {
        p: httpManifest(
          'p',
          up.url,
          gen(`type = "command"\ncommand = ${NODE}\nargs = ["-e", ${JSON.stringify(script)}]\ncache_ttl_secs = 300`),
          TOOLS,
        ),
      },
    });
    await th.call('get_thing', {}, { caller: { sub: 'alice', unrestricted: true } });
    await th.call('get_thing', {}, { caller: { sub: 'alice', unrestricted: true } });
    await th.call('get_thing', {}, { caller: { sub: 'bob', unrestricted: true } });
    const auth = up.requests.map((r) => r.headers['authorization']);
    expect(auth[0]).toBe(auth[1]);
    expect(auth[2]).not.toBe(auth[0]);
  });

  it('a script generator runs through its interpreter and its temp file is removed', async () => {
    th = await startToolHost({
      manifests: {
        p: httpManifest(
          'p',
          up.url,
          gen(
            `type = "script"\ninterpreter = ${NODE}\nscript = 'console.log("from-script:" + require("path").basename(__filename))'`,
          ),
          TOOLS,
        ),
      },
    });
    await th.call('get_thing');
    const token = String(up.requests[0]!.headers['authorization']).replace('Bearer from-script:', '');
    expect(token).toMatch(/^ati_gen_[0-9a-f]+\.tmp$/);
    await expect(readFile(path.join(os.tmpdir(), token))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('is killed on timeout (with its process group) and the call fails with 502', async () => {
    const pidFile = path.join(os.tmpdir(), `ati-gen-pid-${process.pid}-${Date.now()}`);
    const script = `require("fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setTimeout(() => {}, 60000)`;
    th = await startToolHost({
      manifests: {
        p: httpManifest(
          'p',
          up.url,
          gen(`type = "command"\ncommand = ${NODE}\nargs = ["-e", ${JSON.stringify(script)}]\ntimeout_secs = 1`),
          TOOLS,
        ),
      },
    });
    const r = await th.call('get_thing');
    expect(r.status).toBe(502);
    expect(r.body).toMatchObject({
      code: 'ATI_ERR_AUTH_GENERATOR',
      error: 'auth_generator failed: Generator timed out after 1s',
    });
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
    expect(up.requests).toHaveLength(0);
  });

  it('a command that cannot be spawned is a 502 naming it', async () => {
    th = await startToolHost({
      manifests: { p: httpManifest('p', up.url, gen('type = "command"\ncommand = "/nonexistent/ati-gen"'), TOOLS) },
    });
    const r = await th.call('get_thing');
    expect(r.status).toBe(502);
    expect(r.body['error']).toMatch(
      /^auth_generator failed: Failed to spawn generator process: \/nonexistent\/ati-gen: .*ENOENT/,
    );
    expect(th.logsOf('auth generator failed')).toHaveLength(0);
  });

  it('a failing generator keeps its stderr out of the response (it goes to the log)', async () => {
    const script = `console.error("generator stderr detail"); process.exit(3)`;
    th = await startToolHost({
      manifests: {
        p: httpManifest(
          'p',
          up.url,
          gen(`type = "command"\ncommand = ${NODE}\nargs = ["-e", ${JSON.stringify(script)}]`),
          TOOLS,
        ),
      },
    });
    const r = await th.call('get_thing');
    expect(r.status).toBe(502);
    expect(r.body['error']).toBe(
      'auth_generator failed: Generator exited with code 3 (its stderr is in the proxy log)',
    );
    expect(th.logsOf('auth generator failed')[0]).toMatchObject({ exit_code: 3, stderr: 'generator stderr detail' });
  });
});

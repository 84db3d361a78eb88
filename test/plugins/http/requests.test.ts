/**
 * Request building, response classification, timeouts and aborts of the http
 * handler, end to end through `POST /call` against a real loopback upstream.
 */
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, startUpstream, type RecordingUpstream } from '../../helpers/recording-upstream.js';
import { httpManifest, startToolHost, type ToolHost } from '../../helpers/tool-host.js';

const LEGACY = `
[[tools]]
name = "lget"
description = "legacy GET"
endpoint = "/search"

[[tools]]
name = "lpost"
description = "legacy POST"
endpoint = "/create"
method = "POST"

[[tools]]
name = "ldelete"
description = "legacy DELETE"
endpoint = "/items/{id}"
method = "DELETE"

[[tools]]
name = "lpatch"
description = "PATCH goes out as PATCH"
endpoint = "/items/1"
method = "PATCH"
`;

const AWARE = `
[[tools]]
name = "pets_update"
description = "location-aware"
endpoint = "/pets/{petId}/tags/{tag}"
method = "POST"
[tools.input_schema]
type = "object"
required = ["petId"]
[tools.input_schema.properties.petId]
type = "string"
x-ati-param-location = "path"
[tools.input_schema.properties.tag]
type = "string"
x-ati-param-location = "path"
default = "none"
[tools.input_schema.properties.status]
type = "array"
x-ati-param-location = "query"
[tools.input_schema.properties.ids]
type = "array"
x-ati-param-location = "query"
x-ati-collection-format = "csv"
[tools.input_schema.properties.words]
type = "array"
x-ati-param-location = "query"
x-ati-collection-format = "ssv"
[tools.input_schema.properties.alts]
type = "array"
x-ati-param-location = "query"
x-ati-collection-format = "pipes"
[tools.input_schema.properties.X-Request-Tag]
type = "string"
x-ati-param-location = "header"
[tools.input_schema.properties.session]
type = "string"
x-ati-param-location = "cookie"
[tools.input_schema.properties.name]
type = "string"
x-ati-param-location = "body"
[tools.input_schema.properties.limit]
type = "integer"
x-ati-param-location = "query"
default = 10
[tools.input_schema.properties.empty]
type = "array"
x-ati-param-location = "query"
default = []

[[tools]]
name = "pets_get"
description = "location-aware GET drops body arguments"
endpoint = "/pets/{petId}"
[tools.input_schema.properties.petId]
type = "string"
x-ati-param-location = "path"

[[tools]]
name = "form_post"
description = "form body"
endpoint = "/form"
method = "PUT"
[tools.input_schema]
x-ati-body-encoding = "form"
[tools.input_schema.properties.a]
type = "string"
x-ati-param-location = "body"
[tools.input_schema.properties.b]
type = "integer"
x-ati-param-location = "body"

[[tools]]
name = "extract_ids"
description = "extract"
endpoint = "/list"
[tools.response]
extract = "$.items[*].id"

[[tools]]
name = "extract_first"
description = "extract one"
endpoint = "/list"
[tools.response]
extract = "$.items[0]"
`;

describe('http handler: requests and responses', () => {
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

  const start = async (tools: string, providerExtra = '') => {
    th = await startToolHost({ manifests: { p: httpManifest('p', `${up.url}/v1/`, providerExtra, tools) } });
    return th;
  };

  it('legacy GET sends every argument as a query parameter (strings raw, others as text/JSON)', async () => {
    await start(LEGACY);
    const r = await th!.call('lget', { q: 'a b&c', n: 5, t: true, z: null, arr: [1, 2], obj: { k: 'v' } });
    expect(r.status).toBe(200);
    const req = up.requests[0]!;
    expect(req.method).toBe('GET');
    expect(req.path).toBe('/v1/search');
    expect(Object.fromEntries(req.query)).toEqual({
      q: 'a b&c',
      n: '5',
      t: 'true',
      z: '',
      arr: '[1,2]',
      obj: '{"k":"v"}',
    });
    expect(req.body).toBe('');
  });

  it('legacy POST and DELETE send the arguments as a JSON body ({} when empty); PATCH goes out as PATCH', async () => {
    await start(LEGACY);
    await th!.call('lpost', { title: 'x' });
    await th!.call('lpost');
    await th!.call('ldelete', { id: 3 });
    await th!.call('lpatch', { done: true });
    const [post, empty, del, patch] = up.requests;
    expect(post).toMatchObject({ method: 'POST', path: '/v1/create', body: '{"title":"x"}' });
    expect(post!.headers['content-type']).toBe('application/json');
    expect(empty!.body).toBe('{}');
    // Legacy mode does not substitute {placeholders} (as in the reference); the braces are sent encoded.
    expect(del).toMatchObject({ method: 'DELETE', body: '{"id":3}' });
    expect(del!.url).toBe('/v1/items/%7Bid%7D');
    expect(patch).toMatchObject({ method: 'PATCH', path: '/v1/items/1', body: '{"done":true}' });
  });

  it('location-aware mode routes path, query (collection formats), header, cookie and body arguments', async () => {
    await start(AWARE);
    const r = await th!.call('pets_update', {
      petId: 'a/b c@d',
      status: ['available', 'pending'],
      ids: [1, 2, 3],
      words: ['x', 'y'],
      alts: ['p', 'q'],
      'X-Request-Tag': 'rt-1',
      session: 's 1',
      name: 'Rex',
      extra: 42,
    });
    expect(r.status).toBe(200);
    const req = up.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url.split('?')[0]).toBe('/v1/pets/a%2Fb%20c%40d/tags/none');
    expect(req.query.getAll('status')).toEqual(['available', 'pending']);
    expect(req.url).toContain('status=available&status=pending');
    expect(req.query.get('ids')).toBe('1,2,3');
    expect(req.url).toContain('words=x+y');
    expect(req.query.get('alts')).toBe('p|q');
    expect(req.query.get('limit')).toBe('10');
    expect(req.query.has('empty')).toBe(false);
    expect(req.headers['x-request-tag']).toBe('rt-1');
    expect(req.headers['cookie']).toBe('session=s%201');
    expect(req.headers['content-type']).toBe('application/json');
    // Undeclared arguments go to the body, like the reference.
    expect(JSON.parse(req.body)).toEqual({ name: 'Rex', extra: 42 });
  });

  it('location-aware GET sends no body; form encoding sends application/x-www-form-urlencoded', async () => {
    await start(AWARE);
    await th!.call('pets_get', { petId: '7', stray: 'dropped' });
    expect(up.requests[0]).toMatchObject({ method: 'GET', url: '/v1/pets/7', body: '' });
    await th!.call('form_post', { a: 'x y', b: 2 });
    expect(up.requests[1]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(up.requests[1]).toMatchObject({ method: 'PUT', body: 'a=x+y&b=2' });
  });

  it('rejects forbidden path characters, missing required arguments and non-object args with 400 before any upstream contact', async () => {
    await start(AWARE);
    for (const bad of ['..', 'a\\b', 'a?b', 'a#b', 'a\u0000b']) {
      const r = await th!.call('pets_update', { petId: bad });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body).toMatchObject({ result: null, code: 'ATI_ERR_TOOL_ARGS' });
      expect(r.body['error']).toMatch(/^Invalid path parameter 'petId': value '.*' contains forbidden characters$/);
    }
    expect((await th!.call('pets_update', {})).body).toMatchObject({ error: "missing required argument 'petId'" });
    expect((await th!.call('pets_get', {})).body).toMatchObject({ error: "missing path parameter 'petId'" });
    expect((await th!.call('pets_get', [1, 2])).status).toBe(400);
    expect((await th!.call('pets_get', 'x')).status).toBe(400);
    expect(up.requests).toHaveLength(0);
  });

  it('classifies answers: JSON, text, empty, "no records" 404, other 4xx/5xx with the extracted message', async () => {
    await start(LEGACY);
    const answer = (status: number, body: string, type = 'application/json') =>
      up.handle((_r, res) => {
        res.writeHead(status, { 'content-type': type });
        res.end(body);
      });
    answer(200, '{"a":1}');
    expect((await th!.call('lget')).body).toEqual({ result: { a: 1 } });
    answer(200, 'plain text', 'text/plain');
    expect((await th!.call('lget')).body).toEqual({ result: 'plain text' });
    answer(204, '');
    expect((await th!.call('lget')).body).toEqual({ result: '' });
    for (const body of [
      '{"error":{"type":"not_found","message":"No records were found for this query"}}',
      '{"message":"No companies were found"}',
      '{"error":{"type":"not_found","message":"Not found"}}',
    ]) {
      answer(404, body);
      const r = await th!.call('lget');
      expect(r, body).toMatchObject({ status: 200, body: { result: { records: [] } } });
    }
    answer(404, '{"error":{"type":"invalid_route","message":"no such route"}}');
    expect((await th!.call('lget')).body).toEqual({
      result: null,
      error: 'Upstream API error: API error (404): no such route',
      code: 'ATI_ERR_UPSTREAM',
    });
    answer(500, '{"error":"database on fire"}');
    const five = await th!.call('lget');
    expect(five.status).toBe(502);
    expect(five.body['error']).toBe('Upstream API error: API error (500): database on fire');
    answer(503, 'x'.repeat(10_000), 'text/plain');
    const big = await th!.call('lget');
    expect(big.status).toBe(502);
    expect(String(big.body['error']).length).toBeLessThan(2_300);
    expect(th!.logsOf('tool call').at(-1)).toMatchObject({ status: 502, upstream_status: 503 });
  });

  it('applies response.extract: several matches → array, one → the value, none → null; not to "no records"', async () => {
    await start(AWARE);
    up.handle((_r, res) => json(res, 200, { items: [{ id: 1 }, { id: 2 }] }));
    expect((await th!.call('extract_ids')).body).toEqual({ result: [1, 2] });
    expect((await th!.call('extract_first')).body).toEqual({ result: { id: 1 } });
    up.handle((_r, res) => json(res, 200, { items: [{ id: 9 }] }));
    expect((await th!.call('extract_ids')).body).toEqual({ result: 9 });
    up.handle((_r, res) => json(res, 200, { other: true }));
    expect((await th!.call('extract_ids')).body).toEqual({ result: null });
    up.handle((_r, res) => json(res, 404, { message: 'No results found' }));
    expect((await th!.call('extract_ids')).body).toEqual({ result: { records: [] } });
  });

  it('a slow upstream answers 504 after timeout_seconds', async () => {
    await start(LEGACY, 'timeout_seconds = 1');
    up.handle(() => undefined); // never answers
    const t0 = Date.now();
    const r = await th!.call('lget');
    expect(r.status).toBe(504);
    expect(r.body).toMatchObject({ result: null, code: 'ATI_ERR_UPSTREAM_TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(r.body['error']).toBe('Upstream API error: no response within 1s');
    await up.waitForAbort();
    // Headers arrive, then the body trickles: the whole body must arrive within timeout_seconds too.
    up.handle((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      const t = setInterval(() => res.write('1,'), 300);
      res.once('close', () => clearInterval(t));
    });
    const slowBody = await th!.call('lget');
    expect(slowBody).toMatchObject({
      status: 504,
      body: { error: 'Upstream API error: response body not complete within 1s' },
    });
  });

  it('a client disconnect aborts the upstream request', async () => {
    await start(LEGACY);
    up.handle(() => undefined);
    const u = new URL(th!.url);
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: '/call',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ tool_name: 'lget', args: {} }));
    await up.waitForRequests(1);
    req.destroy();
    await up.waitForAbort();
    await expect.poll(() => th!.logsOf('tool call').length).toBe(1);
    expect(th!.logsOf('tool call')[0]).toMatchObject({ tool: 'lget', aborted: true });
  });

  it('a refused connection is a 502; an over-size answer is a 502', async () => {
    await start(LEGACY, 'max_response_bytes = 100');
    up.handle((_r, res) => json(res, 200, { data: 'y'.repeat(500) }));
    const big = await th!.call('lget');
    expect(big.status).toBe(502);
    expect(big.body['error']).toContain('larger than max_response_bytes (100)');
    await up.close();
    const refused = await th!.call('lget');
    expect(refused.status).toBe(502);
    expect(refused.body['error']).toMatch(/^Upstream API error: HTTP request failed: .*ECONNREFUSED/);
    up = await startUpstream();
  });

  it('follows same-origin redirects with the credential, and never carries it to another origin', async () => {
    th = await startToolHost({
      manifests: { p: httpManifest('p', up.url, 'auth_type = "header"\nauth_key_name = "k"', LEGACY) },
      keyring: { k: 'hdr-secret' },
    });
    const other = await startUpstream();
    try {
      up.handle((req, res) => {
        if (req.path === '/search') {
          res.writeHead(302, { location: '/moved?x=1' });
          res.end();
        } else if (req.path === '/create') {
          res.writeHead(303, { location: `${other.url}/elsewhere` });
          res.end();
        } else json(res, 200, { at: req.url, method: req.method });
      });
      expect((await th.call('lget')).body).toEqual({ result: { at: '/moved?x=1', method: 'GET' } });
      expect(up.requests.map((r) => r.headers['x-api-key'])).toEqual(['hdr-secret', 'hdr-secret']);
      const cross = await th.call('lpost', { a: 1 });
      expect(cross.status).toBe(502);
      expect(cross.body['error']).toMatch(/^Upstream API error: API error \(303\)/);
      expect(other.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it('keeps the provider and its connections across a reload that does not touch it', async () => {
    await start(LEGACY);
    await th!.call('lget');
    await th!.dir.manifest('other', httpManifest('other', up.url, '', '[[tools]]\nname = "o"\ndescription = "o"\n'));
    const r = await th!.host.reload('test');
    expect(r).toMatchObject({ status: 'applied', reused: ['p'] });
    await th!.call('lget');
    expect(up.requests[1]!.remotePort).toBe(up.requests[0]!.remotePort);
  });

  it('logs one line per call with the argument keys and never their values', async () => {
    await start(LEGACY);
    await th!.call('lget', { password: 'hunter2-value', q: 'x' });
    const line = th!.logsOf('tool call')[0]!;
    expect(line).toMatchObject({
      tool: 'lget',
      provider: 'p',
      handler: 'http',
      sub: 'dev',
      status: 200,
      upstream_status: 200,
      args: ['password', 'q'],
      endpoint: 'call',
    });
    expect(typeof line['latency_ms']).toBe('number');
    for (const l of th!.logs) expect(l).not.toContain('hunter2-value');
  });
});

describe('http handler: SSRF protection', () => {
  let up: RecordingUpstream;
  let th: ToolHost | undefined;
  const saved = process.env['ATI_SSRF_PROTECTION'];
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await up.close();
    if (saved === undefined) delete process.env['ATI_SSRF_PROTECTION'];
    else process.env['ATI_SSRF_PROTECTION'] = saved;
  });

  it('ATI_SSRF_PROTECTION=1 blocks loopback upstreams with 403; warn logs and allows', async () => {
    up = await startUpstream();
    process.env['ATI_SSRF_PROTECTION'] = '1';
    th = await startToolHost({
      manifests: {
        p: httpManifest('p', up.url, '', LEGACY),
        q: httpManifest('q', `http://localhost:${up.port}`, '', '[[tools]]\nname = "byname"\ndescription = "x"\n'),
      },
    });
    const r = await th.call('lget');
    expect(r.status).toBe(403);
    expect(r.body['error']).toBe(`SSRF protection: URL '${up.url}/search' targets a private/internal network address`);
    expect((await th.call('byname')).status).toBe(403);
    expect(up.requests).toHaveLength(0);
    await th.close();
    process.env['ATI_SSRF_PROTECTION'] = 'warn';
    th = await startToolHost({ manifests: { p: httpManifest('p', up.url, '', LEGACY) } });
    expect((await th.call('lget')).status).toBe(200);
    expect(th.logs.some((l) => l.includes('SSRF protection (warn)'))).toBe(true);
  });
});

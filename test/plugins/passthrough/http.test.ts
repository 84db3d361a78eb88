/**
 * The HTTP request path of passthrough routes, in-process host + real loopback upstreams.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from './client.js';
import { ptManifest, startPassthrough, type Harness } from './harness.js';
import {
  closedPort,
  namesOf,
  startBlackHole,
  startEchoUpstream,
  valuesOf,
  type BlackHole,
  type EchoUpstream,
} from './upstreams.js';

describe('passthrough HTTP', () => {
  let h: Harness | undefined;
  let up: EchoUpstream | undefined;
  let up2: EchoUpstream | undefined;
  let hole: BlackHole | undefined;

  afterEach(async () => {
    await h?.close();
    await up?.close();
    await up2?.close();
    await hole?.close();
    h = up = up2 = hole = undefined;
  });

  const echo = async () => (up = await startEchoUpstream());

  describe('matching and rewriting', () => {
    it('routes by host (case-insensitive, port ignored) and sends host_override upstream', async () => {
      await echo();
      up2 = await startEchoUpstream();
      h = await startPassthrough({
        a: ptManifest('by-host', up!.url, 'host_match = "api.example.test"\nhost_override = "internal.example:8443"'),
        b: ptManifest('default', up2.url, 'path_prefix = "/"'),
      });
      const r = await send(h.url, '/v1/x?q=1', { headers: { host: 'API.Example.TEST:9999' } });
      expect(r.status).toBe(200);
      expect(up!.requests).toHaveLength(1);
      expect(up!.requests[0]!.url).toBe('/v1/x?q=1');
      expect(valuesOf(up!.requests[0]!, 'host')).toEqual(['internal.example:8443']);
      // another host falls through to the default route, whose Host is the base_url authority
      const other = await send(h.url, '/v1/x', { headers: { host: 'other.test' } });
      expect(other.status).toBe(200);
      expect(up2.requests).toHaveLength(1);
      expect(valuesOf(up2.requests[0]!, 'host')).toEqual([`127.0.0.1:${up2.port}`]);
    });

    it('strips the prefix by default, keeps it with strip_prefix = false, appends to the base path', async () => {
      await echo();
      h = await startPassthrough({
        a: ptManifest('strip', up!.url, 'path_prefix = "/test/"'),
        b: ptManifest('keep', up!.url, 'path_prefix = "/keep"\nstrip_prefix = false'),
        c: ptManifest('based', `${up!.url}/base/`, 'path_prefix = "/based"'),
      });
      const cases: Array<[string, string]> = [
        ['/test/foo', '/foo'],
        ['/test', '/'],
        ['/test/', '/'],
        ['/keep/foo', '/keep/foo'],
        ['/based/x/y', '/base/x/y'],
        ['/based', '/base/'],
      ];
      for (const [req] of cases) expect((await send(h.url, req)).status, req).toBe(200);
      expect(up!.requests.map((r) => r.url)).toEqual(cases.map(([, u]) => u));
    });

    it('applies path_replace after stripping (the OTel relay case)', async () => {
      await echo();
      h = await startPassthrough({
        a: ptManifest('otel', up!.url, 'path_prefix = "/otel"\npath_replace = ["/", "/otlp/"]'),
        b: ptManifest('otel2', up!.url, 'path_prefix = "/o2"\nstrip_prefix = false\npath_replace = ["/o2", "/otlp"]'),
      });
      await send(h.url, '/otel/v1/traces', { method: 'POST', body: '{}' });
      await send(h.url, '/o2/v1/metrics');
      expect(up!.requests.map((r) => r.url)).toEqual(['/otlp/v1/traces', '/otlp/v1/metrics']);
    });

    it('keeps the leading slash with path_prefix = "/" so /-anchored deny globs still match', async () => {
      await echo();
      h = await startPassthrough({ a: ptManifest('all', up!.url, 'path_prefix = "/"\ndeny_paths = ["/admin"]') });
      expect((await send(h.url, '/x/y')).status).toBe(200);
      expect(up!.requests[0]!.url).toBe('/x/y');
      const denied = await send(h.url, '/admin/users');
      expect(denied.status).toBe(403);
      expect(up!.requests).toHaveLength(1);
    });

    it('prefers the longest prefix, on segment boundaries only', async () => {
      await echo();
      up2 = await startEchoUpstream();
      h = await startPassthrough({
        a: ptManifest('short', up!.url, 'path_prefix = "/api"'),
        b: ptManifest('long', up2.url, 'path_prefix = "/api/v2"'),
      });
      await send(h.url, '/api/v2/x');
      await send(h.url, '/api/v2x');
      await send(h.url, '/api/v1');
      expect(up2.requests.map((r) => r.url)).toEqual(['/x']);
      expect(up!.requests.map((r) => r.url)).toEqual(['/v2x', '/v1']);
      expect((await send(h.url, '/apix')).status).toBe(404);
    });

    it('preserves the query string byte for byte', async () => {
      await echo();
      h = await startPassthrough({ a: ptManifest('q', up!.url, 'path_prefix = "/q"') });
      await send(h.url, '/q/s?a=1&b=%20x+y&c=%2F&empty=&flag');
      expect(up!.requests[0]!.url).toBe('/s?a=1&b=%20x+y&c=%2F&empty=&flag');
    });

    it('lets named routes win over a catch-all route and answers unmatched paths with the reference texts', async () => {
      await echo();
      h = await startPassthrough({ a: ptManifest('only', up!.url, 'path_prefix = "/only"') });
      const health = await send(h.url, '/health');
      expect(health.status).toBe(200);
      expect(health.json()['status']).toBe('ok');
      const nf = await send(h.url, '/elsewhere');
      expect(nf.status).toBe(404);
      expect(nf.json()).toEqual({ error: 'not found: no passthrough route', code: 'ATI_ERR_NOT_FOUND' });
      await h.close();
      h = await startPassthrough({ a: ptManifest('all', up!.url, 'path_prefix = "/"') }, { enablePassthrough: false });
      const disabled = await send(h.url, '/x');
      expect(disabled.status).toBe(404);
      expect(disabled.json()).toEqual({ error: 'not found: passthrough disabled', code: 'ATI_ERR_NOT_FOUND' });
      expect(up!.requests).toHaveLength(0);
    });
  });

  describe('deny_paths', () => {
    it('answers 403 without contacting the upstream, on the rewritten path', async () => {
      await echo();
      h = await startPassthrough({
        a: ptManifest('llm', up!.url, 'path_prefix = "/litellm"\ndeny_paths = ["/config/*", "/model/*", "*.json"]'),
      });
      for (const p of ['/litellm/config/', '/litellm/config/x/y', '/litellm/model/new', '/litellm/a/b.json']) {
        const r = await send(h.url, p);
        expect(r.status, p).toBe(403);
        expect(r.json()).toEqual({ error: 'forbidden: path denied by policy', code: 'ATI_ERR_PATH_DENIED' });
      }
      expect(up!.requests).toHaveLength(0);
      expect((await send(h.url, '/litellm/configuration')).status).toBe(200);
      expect((await send(h.url, '/litellm/config')).status).toBe(200);
      expect(
        h.logs.some((l) => l['message'] === 'passthrough denied by deny_paths' && l['path'] === '/config/x/y'),
      ).toBe(true);
    });

    it('refuses dot-segment and encoded tricks with 400 before any policy, and decodes escaped unreserved characters', async () => {
      await echo();
      h = await startPassthrough({
        a: ptManifest('llm', up!.url, 'path_prefix = "/litellm"\ndeny_paths = ["/config/*"]'),
      });
      for (const p of [
        '/litellm/v1/../config/x',
        '/litellm/v1/%2e%2e/config/x',
        '/litellm/%2Fconfig/x',
        '/litellm//config/x',
        '/litellm/.%2e/config',
      ]) {
        const r = await send(h.url, p);
        expect(r.status, p).toBe(400);
        expect(r.json()['code']).toBe('ATI_ERR_BAD_PATH');
      }
      const enc = await send(h.url, '/litellm/%63onfig/x');
      expect(enc.status).toBe(403);
      expect(up!.requests).toHaveLength(0);
      // escapes of reserved characters are kept as sent
      await send(h.url, '/litellm/a%20b/%3F');
      expect(up!.requests[0]!.url).toBe('/a%20b/%3F');
    });
  });

  describe('headers', () => {
    const creds = {
      llm_master: 'sk-master-0001',
      tenant: 'acme',
      hdr_key: 'hk-777',
      basic_creds: 'user:pa ss',
      qkey: 'q s/&=1',
    };

    it('replaces the caller Authorization with the injected one, except on forward-auth paths', async () => {
      await echo();
      h = await startPassthrough(
        {
          a: ptManifest(
            'llm',
            up!.url,
            'path_prefix = "/litellm"\nauth_type = "bearer"\nauth_key_name = "LLM_MASTER"\nforward_authorization_paths = ["/v1/*"]',
          ),
        },
        { credentials: creds },
      );
      await send(h.url, '/litellm/key/generate', {
        method: 'POST',
        body: '{}',
        headers: { authorization: 'Bearer sk-virtual' },
      });
      await send(h.url, '/litellm/v1/chat/completions', {
        method: 'POST',
        body: '{}',
        headers: { authorization: 'Bearer sk-virtual' },
      });
      await send(h.url, '/litellm/%761/embeddings', { headers: { authorization: 'Bearer sk-virtual' } });
      expect(valuesOf(up!.requests[0]!, 'authorization')).toEqual(['Bearer sk-master-0001']);
      expect(valuesOf(up!.requests[1]!, 'authorization')).toEqual(['Bearer sk-virtual']);
      // an escaped "v1" is still a forward-auth path: the master key is not injected
      expect(valuesOf(up!.requests[2]!, 'authorization')).toEqual(['Bearer sk-virtual']);
      expect(up!.requests[2]!.url).toBe('/v1/embeddings');
    });

    it('removes caller headers and query parameters named like the injected ones (header, query, basic, extra_headers)', async () => {
      await echo();
      h = await startPassthrough(
        {
          a: ptManifest(
            'hdr',
            up!.url,
            'path_prefix = "/hdr"\nauth_type = "header"\nauth_header_name = "X-BB-Api-Key"\nauth_key_name = "hdr_key"\nauth_value_prefix = "Token "\n[provider.extra_headers]\nX-Tenant = "t-${tenant}"\nX-Static = "s"',
          ),
          b: ptManifest('q', up!.url, 'path_prefix = "/q"\nauth_type = "query"\nauth_key_name = "qkey"'),
          c: ptManifest('basic', up!.url, 'path_prefix = "/basic"\nauth_type = "basic"\nauth_key_name = "basic_creds"'),
        },
        { credentials: creds },
      );
      await send(h.url, '/hdr/x', {
        headers: { 'x-bb-api-key': 'caller', 'X-Tenant': 'evil', authorization: 'Bearer caller' },
      });
      await send(h.url, '/q/x?api_key=evil&b=2&api%5Fkey=evil2');
      await send(h.url, '/basic/x', { headers: { authorization: 'Basic Y2FsbGVy' } });
      const [hdr, q, basic] = up!.requests;
      expect(valuesOf(hdr!, 'x-bb-api-key')).toEqual(['Token hk-777']);
      expect(valuesOf(hdr!, 'x-tenant')).toEqual(['t-acme']);
      expect(valuesOf(hdr!, 'x-static')).toEqual(['s']);
      expect(valuesOf(hdr!, 'authorization')).toEqual([]);
      expect(q!.url).toBe('/x?b=2&api_key=q%20s%2F%26%3D1');
      expect(valuesOf(basic!, 'authorization')).toEqual([`Basic ${Buffer.from('user:pa ss').toString('base64')}`]);
      for (const r of up!.requests) {
        const names = namesOf(r);
        expect(new Set(names).size, `duplicate header names: ${names.join(',')}`).toBe(names.length);
      }
    });

    it('drops hop-by-hop, Connection-named, tracing and x-sandbox-* headers; keeps the rest', async () => {
      await echo();
      h = await startPassthrough({ a: ptManifest('h', up!.url, 'path_prefix = "/h"') });
      const r = await send(h.url, '/h/x', {
        headers: {
          connection: 'keep-alive, X-Custom-Hop',
          'x-custom-hop': 'secret-hop',
          'keep-alive': 'timeout=5',
          te: 'trailers',
          'proxy-authorization': 'Basic eA==',
          'proxy-connection': 'keep-alive',
          'x-sandbox-signature': 't=1,s=ab',
          'x-sandbox-job-id': 'job-1',
          'x-sandbox-trace-id': 'tr',
          traceparent: '00-abc-def-01',
          tracestate: 'x=y',
          'x-forwarded-for': '10.0.0.1',
          cookie: 'a=b',
          'x-keep': 'yes',
        },
      });
      expect(r.status).toBe(200);
      const names = namesOf(up!.requests[0]!);
      for (const dropped of [
        'x-custom-hop',
        'keep-alive',
        'te',
        'proxy-authorization',
        'proxy-connection',
        'x-sandbox-signature',
        'x-sandbox-job-id',
        'x-sandbox-trace-id',
        'traceparent',
        'tracestate',
      ]) {
        expect(names, dropped).not.toContain(dropped);
      }
      expect(valuesOf(up!.requests[0]!, 'x-keep')).toEqual(['yes']);
      expect(valuesOf(up!.requests[0]!, 'cookie')).toEqual(['a=b']);
      expect(valuesOf(up!.requests[0]!, 'x-forwarded-for')).toEqual(['10.0.0.1']);
    });

    it('drops hop-by-hop and Connection-named headers from responses', async () => {
      await echo();
      h = await startPassthrough({ a: ptManifest('h', up!.url, 'path_prefix = "/h"') });
      const r = await send(h.url, '/h/hop-response');
      expect(r.status).toBe(200);
      expect(r.headers['x-hop-secret']).toBeUndefined();
      expect(r.headers['x-kept']).toBe('ok');
      expect(r.headers['content-length']).toBe('2');
    });

    it('fails the route closed (500 naming the entry, never a value) when a credential is missing', async () => {
      await echo();
      h = await startPassthrough(
        {
          a: ptManifest(
            'a',
            up!.url,
            'path_prefix = "/a"\nauth_type = "bearer"\nauth_key_name = "absent_key"\nforward_authorization_paths = ["/v1/*"]',
          ),
          b: ptManifest('b', up!.url, 'path_prefix = "/b"\n[provider.extra_headers]\nX-T = "Bearer ${nope}"'),
        },
        { credentials: { other: 'value-0001' } },
      );
      const a = await send(h.url, '/a/x');
      expect(a.status).toBe(500);
      expect(a.json()).toMatchObject({ code: 'ATI_ERR_MISSING_CREDENTIAL' });
      expect(a.json()['error']).toContain("'absent_key'");
      // forward-auth paths need no manifest credential
      expect((await send(h.url, '/a/v1/x', { headers: { authorization: 'Bearer v' } })).status).toBe(200);
      const b = await send(h.url, '/b/x');
      expect(b.status).toBe(500);
      expect(b.json()['error']).toContain("'nope'");
      expect(up!.requests).toHaveLength(1);
    });
  });

  describe('bodies and limits', () => {
    const MiB = 1024 * 1024;

    it('streams request and response bodies of every method, GET bodies included', async () => {
      await echo();
      h = await startPassthrough({
        a: ptManifest('s', up!.url, 'path_prefix = "/s"\nmax_request_bytes = 0\nmax_response_bytes = 0'),
      });
      const big = Buffer.alloc(8 * MiB, 0x62);
      const put = await send(h.url, '/s/up', { method: 'PUT', body: big });
      expect(put.json()['bodyBytes']).toBe(8 * MiB);
      const chunked = await send(h.url, '/s/up', { method: 'POST', body: big, chunked: true });
      expect(chunked.json()['bodyBytes']).toBe(8 * MiB);
      const get = await send(h.url, '/s/get', { method: 'GET', body: 'q=1' });
      expect(get.json()['bodyBytes']).toBe(3);
      const down = await send(h.url, '/s/chunked/16777216');
      expect(down.body.length).toBe(16 * MiB);
      expect(down.error).toBeUndefined();
      const del = await send(h.url, '/s/x', { method: 'DELETE' });
      expect(del.json()['method']).toBe('DELETE');
    });

    it('relays response headers and the first chunk before the upstream has finished', async () => {
      await echo();
      h = await startPassthrough({ a: ptManifest('s', up!.url, 'path_prefix = "/s"') });
      const t0 = performance.now();
      const r = await send(h.url, '/s/stall-body/1500');
      expect(r.body.toString()).toBe('first chunk;late');
      expect(r.headersAfterMs).toBeLessThan(performance.now() - t0 - 1000);
    });

    it('answers 413 for a body over max_request_bytes, with Content-Length and chunked, without upstream contact', async () => {
      await echo();
      h = await startPassthrough({ a: ptManifest('s', up!.url, `path_prefix = "/s"\nmax_request_bytes = ${MiB}`) });
      const body = Buffer.alloc(2 * MiB, 0x63);
      const withLength = await send(h.url, '/s/x', { method: 'POST', body });
      expect(withLength.status).toBe(413);
      expect(withLength.json()).toEqual({
        error: 'payload too large: request exceeds max_request_bytes',
        code: 'ATI_ERR_BODY_TOO_LARGE',
      });
      expect(up!.requests).toHaveLength(0);
      const chunked = await send(h.url, '/s/x', { method: 'POST', body, chunked: true });
      expect(chunked.status).toBe(413);
      expect(up!.requests.filter((r) => r.bodyBytes > MiB)).toHaveLength(0);
      const exact = await send(h.url, '/s/x', { method: 'POST', body: Buffer.alloc(MiB, 0x63) });
      expect(exact.status).toBe(200);
      expect(exact.json()['bodyBytes']).toBe(MiB);
      expect(h.logs.some((l) => l['message'] === 'request rejected: content-length exceeds max_request_bytes')).toBe(
        true,
      );
    });

    it('applies max_response_bytes: 502 above an upstream Content-Length, keeps a Content-Length within, cuts chunked streams', async () => {
      await echo();
      h = await startPassthrough({ a: ptManifest('s', up!.url, `path_prefix = "/s"\nmax_response_bytes = ${MiB}`) });
      const over = await send(h.url, `/s/sized/${2 * MiB}`);
      expect(over.status).toBe(502);
      expect(over.json()['code']).toBe('ATI_ERR_RESPONSE_TOO_LARGE');
      const within = await send(h.url, `/s/sized/${MiB}`);
      expect(within.status).toBe(200);
      expect(within.headers['content-length']).toBe(String(MiB));
      expect(within.body.length).toBe(MiB);
      const head = await send(h.url, `/s/sized/${2 * MiB}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe(String(2 * MiB));
      const cut = await send(h.url, `/s/chunked/${2 * MiB}`);
      expect(cut.status).toBe(200);
      expect(cut.error).toBeDefined();
      expect(cut.body.length).toBeLessThanOrEqual(MiB);
      const okChunked = await send(h.url, `/s/chunked/${MiB}`);
      expect(okChunked.error).toBeUndefined();
      expect(okChunked.body.length).toBe(MiB);
      expect(h.logs.some((l) => l['message'] === 'response cut: body exceeds max_response_bytes')).toBe(true);
    });
  });

  describe('upstream failures', () => {
    it('answers 504 when the response headers do not come within response_header_timeout_seconds', async () => {
      await echo();
      h = await startPassthrough({
        a: ptManifest('slow', up!.url, 'path_prefix = "/slow"\nresponse_header_timeout_seconds = 1'),
      });
      const t0 = performance.now();
      const r = await send(h.url, '/slow/slow-headers/5000');
      const took = performance.now() - t0;
      expect(r.status).toBe(504);
      expect(r.json()).toMatchObject({ code: 'ATI_ERR_UPSTREAM_TIMEOUT' });
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(4000);
    });

    it('answers 504 for a black hole (accepts, never answers) within the configured bound', async () => {
      hole = await startBlackHole();
      h = await startPassthrough({
        a: ptManifest('hole', hole.url, 'path_prefix = "/hole"\nread_timeout_seconds = 1'),
      });
      const t0 = performance.now();
      const r = await send(h.url, '/hole/x');
      expect(r.status).toBe(504);
      expect(performance.now() - t0).toBeLessThan(4000);
      expect(hole.accepted()).toBe(1);
    });

    it('cuts a response whose body stalls longer than read_idle_timeout_seconds (no total deadline otherwise)', async () => {
      await echo();
      h = await startPassthrough({
        a: ptManifest(
          'stall',
          up!.url,
          'path_prefix = "/stall"\nread_idle_timeout_seconds = 1\nresponse_header_timeout_seconds = 5',
        ),
      });
      const r = await send(h.url, '/stall/stall-body/4000');
      expect(r.status).toBe(200);
      expect(r.error).toBeDefined();
      expect(r.body.toString()).toBe('first chunk;');
      const ok = await send(h.url, '/stall/stall-body/300');
      expect(ok.body.toString()).toBe('first chunk;late');
    });

    it('answers 502 on connection refused, with no query credential in the body or the logs', async () => {
      const port = await closedPort();
      h = await startPassthrough(
        {
          a: ptManifest(
            'down',
            `http://127.0.0.1:${port}`,
            'path_prefix = "/down"\nauth_type = "query"\nauth_key_name = "qk"',
          ),
        },
        { credentials: { qk: 'super-secret-query-key' } },
      );
      const r = await send(h.url, '/down/x?a=1');
      expect(r.status).toBe(502);
      expect(r.json()['error']).toMatch(/^bad gateway: upstream error: /);
      expect(r.body.toString()).not.toContain('super-secret-query-key');
      const logged = JSON.stringify(h.logs);
      expect(logged).toContain('upstream request failed');
      expect(logged).not.toContain('super-secret-query-key');
    });
  });

  it('verifies upstream TLS certificates: a self-signed upstream is a 502, never a silent downgrade', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'ati-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${tmp}/k.pem`,
        '-out',
        `${tmp}/c.pem`,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const server = https.createServer(
      { key: readFileSync(`${tmp}/k.pem`), cert: readFileSync(`${tmp}/c.pem`) },
      (_req, res) => res.end('tls ok'),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      h = await startPassthrough({ a: ptManifest('tls', `https://127.0.0.1:${port}`, 'path_prefix = "/tls"') });
      const r = await send(h.url, '/tls/x');
      expect(r.status).toBe(502);
      expect(r.json()['error']).toMatch(/^bad gateway: upstream error: .*(self-signed|self signed)/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  describe('generations', () => {
    it('keeps the route (and its warm pool) across an unrelated reload, re-provisions on a keyring change', async () => {
      await echo();
      h = await startPassthrough(
        { a: ptManifest('a', up!.url, 'path_prefix = "/a"\nauth_type = "bearer"\nauth_key_name = "tok"') },
        { credentials: { tok: 'token-v1' } },
      );
      await send(h.url, '/a/1');
      const routeBefore = h.th.host.current.routes.routes[0];
      await h.dir.manifest('b', ptManifest('b', up!.url, 'path_prefix = "/b"'));
      expect((await h.th.host.reload('test')).status).toBe('applied');
      expect(h.th.host.current.routes.routes.find((r) => r.name === 'a')).toBe(routeBefore);
      await send(h.url, '/a/2');
      expect(up!.connections()).toBe(1);
      await writeFile(path.join(h.dir.dir, 'credentials'), JSON.stringify({ tok: 'token-v2' }));
      expect((await h.th.host.reload('test')).status).toBe('applied');
      expect(h.th.host.current.routes.routes.find((r) => r.name === 'a')).not.toBe(routeBefore);
      await send(h.url, '/a/3');
      expect(up!.requests.map((r) => valuesOf(r, 'authorization')[0])).toEqual([
        'Bearer token-v1',
        'Bearer token-v1',
        'Bearer token-v2',
      ]);
    });
  });
});

/**
 * WebSocket passthrough, in-process host + real loopback WebSocket upstreams.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ptManifest, startPassthrough, type Harness } from './harness.js';
import { closedPort, startBlackHole, startWsUpstream, type BlackHole, type WsUpstream } from './upstreams.js';

interface Opened {
  ws: WebSocket;
  messages: Array<{ data: Buffer; isBinary: boolean }>;
  pings: Buffer[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Connects through the proxy; resolves once open, or rejects with the HTTP answer that refused the upgrade. */
function connect(url: string, protocols: string[] = [], headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers, maxPayload: 256 * 1024 * 1024 });
    const messages: Opened['messages'] = [];
    const pings: Buffer[] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.on('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    ws.on('message', (data: Buffer, isBinary) => messages.push({ data, isBinary }));
    ws.on('ping', (d) => pings.push(d));
    ws.on('open', () => resolve({ ws, messages, pings, closed }));
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        reject(
          Object.assign(new Error(`status ${res.statusCode}`), {
            status: res.statusCode,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        ),
      );
    });
    ws.on('error', reject);
  });
}

async function nextMessage(o: Opened, count: number): Promise<void> {
  const t0 = Date.now();
  while (o.messages.length < count) {
    if (Date.now() - t0 > 10_000) throw new Error(`only ${o.messages.length} of ${count} messages`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function until(pred: () => boolean, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('passthrough WebSocket', () => {
  let h: Harness | undefined;
  let up: WsUpstream | undefined;
  let hole: BlackHole | undefined;
  const open: WebSocket[] = [];

  afterEach(async () => {
    for (const ws of open.splice(0)) ws.terminate();
    await h?.close();
    await up?.close();
    await hole?.close();
    h = up = hole = undefined;
  });

  const wsUrl = (p: string) => `${h!.url.replace('http', 'ws')}${p}`;
  const track = (o: Opened) => {
    open.push(o.ws);
    return o;
  };

  it('relays text, binary and large messages both ways, kind preserved', async () => {
    up = await startWsUpstream();
    h = await startPassthrough({ a: ptManifest('ws', up.url, 'path_prefix = "/ws"\nforward_websockets = true') });
    const c = track(await connect(wsUrl('/ws/echo?room=1')));
    expect(up.handshakes[0]!.url).toBe('/echo?room=1');
    c.ws.send('hello');
    c.ws.send(Buffer.from([1, 2, 3]));
    const large = Buffer.alloc(5 * 1024 * 1024, 7);
    c.ws.send(large);
    await nextMessage(c, 3);
    expect(c.messages[0]).toMatchObject({ isBinary: false });
    expect(c.messages[0]!.data.toString()).toBe('hello');
    expect(c.messages[1]!.isBinary).toBe(true);
    expect([...c.messages[1]!.data]).toEqual([1, 2, 3]);
    expect(c.messages[2]!.data.equals(large)).toBe(true);
    expect(up.received.map((m) => m.isBinary)).toEqual([false, true, true]);
  });

  it('relays pings both ways', async () => {
    up = await startWsUpstream();
    h = await startPassthrough({ a: ptManifest('ws', up.url, 'path_prefix = "/ws"\nforward_websockets = true') });
    const c = track(await connect(wsUrl('/ws')));
    c.ws.ping(Buffer.from('from-client'));
    await until(() => up!.pings.length === 1, 'upstream ping');
    expect(up.pings[0]!.toString()).toBe('from-client');
    c.ws.send('ping-me');
    await until(() => c.pings.length === 1, 'client ping');
    expect(c.pings[0]!.toString()).toBe('from-upstream');
  });

  it('propagates close codes and reasons both ways', async () => {
    up = await startWsUpstream();
    h = await startPassthrough({ a: ptManifest('ws', up.url, 'path_prefix = "/ws"\nforward_websockets = true') });
    const c1 = track(await connect(wsUrl('/ws')));
    c1.ws.close(4001, 'bye from client');
    await until(() => up!.closes.length === 1, 'upstream close');
    expect(up.closes[0]).toEqual({ code: 4001, reason: 'bye from client' });
    const c2 = track(await connect(wsUrl('/ws')));
    c2.ws.send('close:4002:done upstream');
    expect(await c2.closed).toEqual({ code: 4002, reason: 'done upstream' });
  });

  it('echoes the subprotocol the upstream chose and sends the whole offer upstream', async () => {
    up = await startWsUpstream({ pick: (offered) => [...offered][1] ?? false });
    h = await startPassthrough({ a: ptManifest('ws', up.url, 'path_prefix = "/ws"\nforward_websockets = true') });
    const c = track(await connect(wsUrl('/ws'), ['chat', 'json']));
    expect(c.ws.protocol).toBe('json');
    expect(
      String(up.handshakes[0]!.headers['sec-websocket-protocol'])
        .split(',')
        .map((p) => p.trim()),
    ).toEqual(['chat', 'json']);
  });

  it('injects the credential on the upstream handshake (header replaces the caller one; query replaces a caller parameter)', async () => {
    up = await startWsUpstream();
    h = await startPassthrough(
      {
        a: ptManifest(
          'hdr',
          up.url,
          'path_prefix = "/hdr"\nforward_websockets = true\nauth_type = "bearer"\nauth_key_name = "tok"\n[provider.extra_headers]\nX-Tenant = "${tenant}"',
        ),
        b: ptManifest(
          'q',
          up.url,
          'path_prefix = "/q"\nforward_websockets = true\nauth_type = "query"\nauth_query_name = "token"\nauth_key_name = "tok"',
        ),
      },
      { credentials: { tok: 'ws secret/1', tenant: 'acme' } },
    );
    track(
      await connect(wsUrl('/hdr/x'), [], {
        authorization: 'Bearer caller',
        'x-tenant': 'evil',
        'x-sandbox-signature': 't=1,s=aa',
        origin: 'http://sandbox',
      }),
    );
    track(await connect(wsUrl('/q/x?token=evil&a=1')));
    const [hdr, q] = up.handshakes;
    expect(hdr!.headers['authorization']).toBe('Bearer ws secret/1');
    expect(hdr!.headers['x-tenant']).toBe('acme');
    expect(hdr!.headers['x-sandbox-signature']).toBeUndefined();
    expect(hdr!.headers['origin']).toBe('http://sandbox');
    expect(hdr!.headers['host']).toBe(`127.0.0.1:${up.port}`);
    expect(q!.url).toBe('/x?a=1&token=ws%20secret%2F1');
    expect(q!.headers['authorization']).toBeUndefined();
  });

  it('relays a non-101 upstream answer (403) to the caller as an HTTP response', async () => {
    up = await startWsUpstream({ rejectStatus: 403 });
    h = await startPassthrough({ a: ptManifest('ws', up.url, 'path_prefix = "/ws"\nforward_websockets = true') });
    const err = (await connect(wsUrl('/ws')).catch((e: unknown) => e)) as {
      status: number;
      headers: http.IncomingHttpHeaders;
      body: string;
    };
    expect(err.status).toBe(403);
    expect(err.headers['x-upstream-reason']).toBe('denied');
    expect(JSON.parse(err.body)).toEqual({ error: 'upstream says no' });
  });

  it('fails a black-hole upstream with 504 within the connect timeout', async () => {
    hole = await startBlackHole();
    h = await startPassthrough({
      a: ptManifest('ws', hole.url, 'path_prefix = "/ws"\nforward_websockets = true\nconnect_timeout_seconds = 1'),
    });
    const t0 = performance.now();
    const err = (await connect(wsUrl('/ws')).catch((e: unknown) => e)) as { status: number; body: string };
    const took = performance.now() - t0;
    expect(err.status).toBe(504);
    expect(JSON.parse(err.body)['code']).toBe('ATI_ERR_UPSTREAM_TIMEOUT');
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(4000);
  });

  it('answers 502 when the upstream refuses the connection, with no credential in the answer', async () => {
    const port = await closedPort();
    h = await startPassthrough(
      {
        a: ptManifest(
          'ws',
          `http://127.0.0.1:${port}`,
          'path_prefix = "/ws"\nforward_websockets = true\nauth_type = "query"\nauth_key_name = "tok"',
        ),
      },
      { credentials: { tok: 'query-secret-123' } },
    );
    const err = (await connect(wsUrl('/ws')).catch((e: unknown) => e)) as { status: number; body: string };
    expect(err.status).toBe(502);
    expect(err.body).not.toContain('query-secret-123');
    expect(JSON.stringify(h.logs)).not.toContain('query-secret-123');
  });

  it('closes the caller with 1014 when the upstream connection dies', async () => {
    up = await startWsUpstream();
    h = await startPassthrough({ a: ptManifest('ws', up.url, 'path_prefix = "/ws"\nforward_websockets = true') });
    const c = track(await connect(wsUrl('/ws')));
    await until(() => up!.clients.size === 1, 'upstream client');
    for (const s of up.clients) s.terminate();
    expect((await c.closed).code).toBe(1014);
  });

  it('closes the upstream with 1001 when the caller vanishes', async () => {
    up = await startWsUpstream();
    h = await startPassthrough({ a: ptManifest('ws', up.url, 'path_prefix = "/ws"\nforward_websockets = true') });
    const c = track(await connect(wsUrl('/ws')));
    await until(() => up!.clients.size === 1, 'upstream client');
    c.ws.terminate();
    await until(() => up!.closes.length === 1, 'upstream close');
    expect(up.closes[0]!.code).toBe(1001);
  });

  it('closes open WebSockets of a route changed by a reload with 1012 once the old generation drain deadline passes', async () => {
    up = await startWsUpstream();
    h = await startPassthrough(
      { a: ptManifest('ws', up.url, 'path_prefix = "/ws"\nforward_websockets = true') },
      { host: { drainMs: 300 } },
    );
    const c = track(await connect(wsUrl('/ws')));
    await h.dir.manifest(
      'a',
      ptManifest('ws', up.url, 'path_prefix = "/ws"\nforward_websockets = true\nwebsocket_idle_timeout_seconds = 60'),
    );
    expect((await h.th.host.reload('test')).status).toBe('applied');
    expect(await c.closed).toEqual({ code: 1012, reason: 'route reconfigured' });
    // the new generation serves new connections
    const c2 = track(await connect(wsUrl('/ws')));
    c2.ws.send('still here');
    await nextMessage(c2, 1);
  });

  it('enforces websocket_max_message_bytes (1009) and websocket_idle_timeout_seconds (1001)', async () => {
    up = await startWsUpstream();
    h = await startPassthrough({
      a: ptManifest(
        'small',
        up.url,
        'path_prefix = "/small"\nforward_websockets = true\nwebsocket_max_message_bytes = 1024',
      ),
      b: ptManifest(
        'idle',
        up.url,
        'path_prefix = "/idle"\nforward_websockets = true\nwebsocket_idle_timeout_seconds = 1',
      ),
    });
    const c = track(await connect(wsUrl('/small')));
    c.ws.send(Buffer.alloc(1024, 1));
    await nextMessage(c, 1);
    c.ws.send(Buffer.alloc(2048, 1));
    expect((await c.closed).code).toBe(1009);
    await until(() => up!.closes.length === 1, 'upstream closed after the caller leg failed');
    const idle = track(await connect(wsUrl('/idle')));
    const t0 = performance.now();
    expect(await idle.closed).toEqual({ code: 1001, reason: 'idle timeout' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('forwards upgrades on routes with forward_websockets = false as plain HTTP, so the upstream status (426) reaches the caller', async () => {
    up = await startWsUpstream();
    h = await startPassthrough({ a: ptManifest('plain', up.url, 'path_prefix = "/plain"') });
    const err = (await connect(wsUrl('/plain/x')).catch((e: unknown) => e)) as { status: number; body: string };
    expect(err.status).toBe(426);
    expect(err.body).toBe('upgrade required');
    expect(up.handshakes).toHaveLength(0);
  });

  it('applies deny_paths and validates the caller handshake before contacting the upstream', async () => {
    up = await startWsUpstream();
    h = await startPassthrough({
      a: ptManifest('ws', up.url, 'path_prefix = "/ws"\nforward_websockets = true\ndeny_paths = ["/admin"]'),
    });
    const denied = (await connect(wsUrl('/ws/admin/x')).catch((e: unknown) => e)) as { status: number; body: string };
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)['error']).toBe('forbidden: path denied by policy');
    const bad = await new Promise<{ status: number }>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: h!.port,
        path: '/ws/x',
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
      });
      req.on('error', reject);
      req.end();
    });
    expect(bad.status).toBe(400);
    expect(up.handshakes).toHaveLength(0);
  });
});

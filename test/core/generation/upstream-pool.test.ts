import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamPool } from '../../../core/generation/upstream-pool.js';

describe('ProvisionContext.createPool (createUpstreamPool)', () => {
  let server: http.Server;
  let origin = '';
  let connections = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/hang') return;
      res.end('ok');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('serves requests and applies the response-headers timeout', async () => {
    const pool = createUpstreamPool(origin, { headersMs: 150 });
    try {
      const ok = await pool.request({ path: '/', method: 'GET' });
      expect(await ok.body.text()).toBe('ok');
      await expect(pool.request({ path: '/hang', method: 'GET' })).rejects.toMatchObject({
        code: 'UND_ERR_HEADERS_TIMEOUT',
      });
    } finally {
      await pool.close();
    }
  });

  it('keeps connections alive by default and per keepAliveMs; keepAliveMs 0 opens one per request', async () => {
    const countFor = async (timeouts: { keepAliveMs?: number }) => {
      const before = connections;
      const pool = createUpstreamPool(origin, timeouts);
      try {
        for (let i = 0; i < 3; i++) {
          const r = await pool.request({ path: '/', method: 'GET' });
          expect(await r.body.text()).toBe('ok');
          // Let undici see the connection free again before the next request.
          await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        await pool.close();
      }
      return connections - before;
    };
    expect(await countFor({})).toBe(1);
    expect(await countFor({ keepAliveMs: 10_000 })).toBe(1);
    expect(await countFor({ keepAliveMs: 0 })).toBe(3);
  });
});

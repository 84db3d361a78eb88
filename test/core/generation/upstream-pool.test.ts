import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamPool } from '../../../core/generation/upstream-pool.js';

describe('ProvisionContext.createPool (createUpstreamPool)', () => {
  let server: http.Server;
  let origin = '';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/hang') return;
      res.end('ok');
    });
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
});

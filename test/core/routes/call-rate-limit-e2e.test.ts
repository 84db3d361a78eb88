/**
 * Rate limits end to end on the real process: HS256 tokens carrying `ati.rate`,
 * the real limiter, POST /call. Two callers with the same pattern have separate
 * buckets; the over-limit call is 429 with Retry-After and never reaches upstream.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startProxy, type ProxyProcess } from '../../helpers/proxy-process.js';

const HEX = 'ab'.repeat(32);
const token = (sub: string) =>
  new SignJWT({ sub, aud: 'ati-proxy', scope: 'tool:*', ati: { v: 1, rate: { 'tool:rl_*': '2/hour' } } })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(Buffer.from(HEX, 'hex'));

describe('rate limits through POST /call (real process, real limiter)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  let upstream: http.Server | undefined;
  afterEach(async () => {
    await proxy?.stop();
    await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
    await dir?.cleanup();
  });

  it('per caller × pattern: 429 + Retry-After for the third call of one caller, the other caller unaffected', async () => {
    let hits = 0;
    upstream = http.createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    dir = await makeAtiDir({
      'manifests/rl.toml': `[provider]\nname = "rl"\ndescription = "rl"\nbase_url = "${base}"\n\n[[tools]]\nname = "rl_get"\ndescription = "get"\nendpoint = "/x"\n`,
    });
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'], env: { ATI_JWT_SECRET: HEX } });
    const call = async (jwt: string) =>
      fetch(`${proxy!.url}/call`, {
        method: 'POST',
        headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
        body: '{"tool_name":"rl_get","args":{}}',
      });
    const alice = await token('alice');
    const bob = await token('bob');
    expect((await call(alice)).status).toBe(200);
    expect((await call(alice)).status).toBe(200);
    const limited = await call(alice);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: string }).error).toMatch(
      /Rate limit exceeded for 'tool:rl_\*': 2\/hour/,
    );
    expect(hits).toBe(2);
    expect((await call(bob)).status).toBe(200);
    expect(hits).toBe(3);
  });
});

import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { argsFromFlags } from '../../client/proxy-client.js';
import { signRequest } from '../../kernel/request-signature.js';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { runAti, startProxy, type ProxyProcess } from '../helpers/proxy-process.js';

describe('proxy client', () => {
  it('turns --name value pairs into typed args', () => {
    expect(argsFromFlags(['--q', 'hello world', '--limit', '5', '--deep', '--tags=["a"]', '--x=y'])).toEqual({
      q: 'hello world',
      limit: 5,
      deep: true,
      tags: ['a'],
      x: 'y',
    });
    expect(() => argsFromFlags(['oops'])).toThrow(/expected --name value/);
  });

  it('signs {t}.{METHOD}.{path} with HMAC-SHA256', () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    const h = signRequest(key, 'post', '/call', 1700000000);
    const mac = createHmac('sha256', key).update('1700000000.POST./call').digest('hex');
    expect(h).toBe(`t=1700000000,s=${mac}`);
  });

  describe('ati tool / ati run against a real proxy', () => {
    let dir: TempAtiDir | undefined;
    let proxy: ProxyProcess | undefined;
    afterEach(async () => {
      await proxy?.stop('SIGKILL');
      proxy = undefined;
      await dir?.cleanup();
    });

    it('lists tools, and says clearly what is missing or unreachable', async () => {
      dir = await makeAtiDir();
      proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'] });
      const list = await runAti(['tool', 'list'], { env: { ATI_PROXY_URL: proxy.url } });
      expect(list.code).toBe(0);
      expect(JSON.parse(list.stdout)).toEqual([]);
      const info = await runAti(['tool', 'info', 'nope'], { env: { ATI_PROXY_URL: proxy.url } });
      expect(info.code).toBe(1);
      expect(info.stderr).toMatch(/error \(404\): Tool 'nope' not found/);
      const unset = await runAti(['run', 'x']);
      expect(unset.code).not.toBe(0);
      expect(unset.stderr).toMatch(/ATI_PROXY_URL is not set/);
      const closed = await closedPort();
      const dead = await runAti(['run', 'x'], { env: { ATI_PROXY_URL: `http://127.0.0.1:${closed}` } });
      expect(dead.stderr).toContain(`cannot reach the proxy at http://127.0.0.1:${closed}: ECONNREFUSED`);
    });

    it('ati run calls a tool through the proxy, signing requests when ATI_SANDBOX_SIGNING_SECRET is set', async () => {
      const upstream = http.createServer((req, res) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ got: req.url })),
      );
      await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
      try {
        const base = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
        const secret = 'run-signing-secret-0123456789';
        dir = await makeAtiDir({
          'manifests/u.toml': `[provider]\nname = "u"\ndescription = "u"\nbase_url = "${base}"\n\n[[tools]]\nname = "u_get"\ndescription = "get"\nendpoint = "/item"\n\n[tools.input_schema.properties.q]\ntype = "string"\n`,
          credentials: JSON.stringify({ sandbox_signing_shared_secret: secret }),
        });
        proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch', '--sig-verify-mode', 'enforce'] });
        const signed = await runAti(['--output', 'text', 'run', 'u_get', '--q', 'hello'], {
          env: { ATI_PROXY_URL: proxy.url, ATI_SANDBOX_SIGNING_SECRET: secret },
        });
        expect(signed.stderr).toBe('');
        expect(signed.code).toBe(0);
        expect(JSON.parse(signed.stdout)).toEqual({ got: '/item?q=hello' });
        const unsigned = await runAti(['--output', 'text', 'run', 'u_get'], { env: { ATI_PROXY_URL: proxy.url } });
        expect(unsigned.code).toBe(1);
        expect(unsigned.stderr).toMatch(/error \(403\): .*missing_signature/);
      } finally {
        await new Promise<void>((r) => upstream.close(() => r()));
      }
    });
  });
});

/** A loopback port nobody listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

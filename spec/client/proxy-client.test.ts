import { createHmac } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { argsFromFlags } from '../../client/proxy-client.js';
import { signatureHeader } from '../../client/sign.js';
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
    const h = signatureHeader(key, 'post', '/call', 1700000000);
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

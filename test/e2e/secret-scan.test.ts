/**
 * No keyring value in any log line, response body or CLI output. Runs the real
 * proxy through the traffic that exists today (startup, /health, /tools,
 * bad paths, unknown routes, reload errors caused by a pasted secret and by a
 * corrupt keyring, a keyring rotation) and the operator commands, and scans
 * everything with test/helpers/secret-scan.ts.
 *
 * The last case drives tool calls and passthrough: failing upstream calls with
 * `auth_type = "query"` (502/504 bodies and WARN lines carry upstream URLs),
 * passthrough header and query injection, and WebSocket failures.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeKeyringFile } from '../../config/keyring-enc.js';
import { encodeKey } from '../../config/keyring-key.js';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { rawRequest } from '../helpers/raw-http.js';
import { runAti, startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { SecretScan } from '../helpers/secret-scan.js';

const FIRST = {
  upstream_bearer: 'sk-live-4f9c2e7a1b3d5f60',
  query_api_key: 'qk_7d1e0c9b8a7f6e5d',
  quoted: 'p@ss"w0rd-quoted-777',
  unicode: 'ключ-секрет-✓-secret',
  base64ish: 'QmFzZTY0+/Secret==',
  numeric: '9876543210123',
  sandbox_signing_shared_secret: 'c0ffee'.repeat(8),
};
const ROTATED = {
  upstream_bearer: 'sk-live-rotated-a1b2c3d4e5',
  query_api_key: 'qk_rotated_99887766',
  sandbox_signing_shared_secret: 'beef'.repeat(16),
};

describe('secret hygiene across the product (real process)', { timeout: 120_000 }, () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('the scanner finds every spelling of a secret (positive control)', () => {
    const scan = new SecretScan(FIRST);
    scan.record('json', JSON.stringify({ a: FIRST.quoted }));
    scan.record('url', `https://h/?k=${encodeURIComponent(FIRST.base64ish)}`);
    scan.record('clean', 'nothing here');
    expect(scan.hits()).toEqual([
      { where: 'json', secret: 'quoted', form: 'json' },
      { where: 'url', secret: 'base64ish', form: 'url' },
    ]);
    expect(() => scan.assertClean()).toThrow(/quoted \(json\) in json/);
  });

  it('startup, requests carrying secrets, reload errors and a rotation leak no keyring value', async () => {
    dir = await makeAtiDir();
    const key = randomBytes(32);
    const enc = path.join(dir.dir, 'keyring.enc');
    await dir.write('.keyring-key', encodeKey(key));
    await writeKeyringFile(enc, new Map(Object.entries(FIRST)), key);
    const scan = new SecretScan({
      ...FIRST,
      ...Object.fromEntries(Object.entries(ROTATED).map(([k, v]) => [`rotated_${k}`, v])),
    });

    proxy = await startProxy({ atiDir: dir.dir, env: { ATI_KEY_FILE: path.join(dir.dir, 'none') } });
    scan.watch(proxy);
    const u = proxy.url;

    // Requests in which the caller itself sends keyring values: echoes must be redacted.
    expect(
      (await scan.fetch(`${u}/health`, { headers: { authorization: `Bearer ${FIRST.upstream_bearer}` } })).status,
    ).toBe(200);
    expect((await scan.fetch(`${u}/tools`)).status).toBe(200);
    const echoed = await scan.fetch(`${u}/tools/${encodeURIComponent(FIRST.upstream_bearer)}`);
    expect(echoed.status).toBe(404);
    expect(JSON.parse(echoed.body)).toEqual({ error: "Tool '[REDACTED]' not found", code: 'ATI_ERR_UNKNOWN_TOOL' });
    expect((await scan.fetch(`${u}/tools/${encodeURIComponent(FIRST.unicode)}`)).status).toBe(404);
    expect(
      (await scan.fetch(`${u}/nowhere?api_key=${encodeURIComponent(FIRST.query_api_key)}&x=${FIRST.numeric}`)).status,
    ).toBe(404);
    expect((await scan.fetch(`${u}/health`, { method: 'POST', body: JSON.stringify(FIRST) })).status).toBe(405);
    const bad = await rawRequest(u, `/x/%2e%2e/y?token=${FIRST.base64ish}`);
    expect(bad.status).toBe(400);
    scan.record('raw response /x/%2e%2e/y', bad.body);

    // Reload error 1: an operator pasted a secret into the wrong manifest field.
    await dir.manifest(
      'pasted',
      `[provider]\nname = "pasted"\ndescription = "x"\nhandler = "http"\ninternal = "${FIRST.upstream_bearer}"\n`,
    );
    proxy.proc.kill('SIGHUP');
    await proxy.waitForLog((l) => l.message === 'reload rejected');
    const h1 = await scan.fetch(`${u}/health`);
    expect((JSON.parse(h1.body) as { reload: { last_error: string } }).reload.last_error).toContain('[REDACTED]');
    const check = await runAti(['--output', 'json', 'proxy', '--check', '--ati-dir', dir.dir], {
      env: { ATI_KEY_FILE: path.join(dir.dir, 'none') },
    });
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('[REDACTED]');
    scan.recordCli('ati proxy --check', check);
    const fatal = await runAti(['proxy', '--port', '0', '--ati-dir', dir.dir], {
      env: { ATI_KEY_FILE: path.join(dir.dir, 'none') },
    });
    expect(fatal.code).not.toBe(0);
    expect(fatal.stderr).toContain('[REDACTED]');
    scan.recordCli('ati proxy (fatal)', fatal);
    await unlink(path.join(dir.dir, 'manifests', 'pasted.toml'));

    // Reload error 2: a corrupt keyring.enc keeps the serving keyring.
    const good = await readFile(enc);
    const corrupt = Buffer.from(good);
    corrupt[14]! ^= 0x55;
    await writeFile(enc, corrupt);
    const rejectedBefore = proxy.logs.filter((l) => l.message === 'reload rejected').length;
    proxy.proc.kill('SIGHUP');
    await proxy.waitForLog(
      (l) =>
        l.message === 'reload rejected' &&
        proxy!.logs.filter((x) => x.message === 'reload rejected').length > rejectedBefore,
    );
    const h2 = JSON.parse((await scan.fetch(`${u}/health`)).body) as {
      reload: { generation: number; last_error: string };
    };
    expect(h2.reload.generation).toBe(1);
    expect(h2.reload.last_error).toContain(`keyring.enc at ${enc} exists but could not be decrypted`);

    // Rotation: new values are served; the rotated-out ones are still redacted.
    await runAti([
      'edge',
      'rotate-keyring',
      '--from-json',
      await dir.write(
        'rotated.json',
        JSON.stringify({ fields: Object.entries(ROTATED).map(([label, value]) => ({ label, value })) }),
      ),
      '--ati-dir',
      dir.dir,
      '--no-signal',
    ]).then((r) => {
      expect(r.code, r.stderr).toBe(0);
      scan.recordCli('ati edge rotate-keyring', r);
    });
    proxy.proc.kill('SIGHUP');
    await proxy.waitForLog((l) => l.message === 'reload applied');
    expect((await scan.fetch(`${u}/tools/${encodeURIComponent(ROTATED.upstream_bearer)}`)).status).toBe(404);
    expect((await scan.fetch(`${u}/tools/${encodeURIComponent(FIRST.upstream_bearer)}`)).status).toBe(404);

    // Operator commands over a credentials file holding the same values.
    await dir.write('credentials', JSON.stringify(FIRST));
    scan.recordCli('ati key list', await runAti(['key', 'list'], { env: { ATI_DIR: dir.dir } }));

    await proxy.stop();
    scan.assertClean();
    expect(scan.scanned).toBeGreaterThan(40);
    expect(proxy.logs.filter((l) => l.message === 'request').length).toBeGreaterThanOrEqual(10);
  });

  it('failing tool calls and passthrough traffic with query and header credentials leak no keyring value', async () => {
    const closed = await closedPort();
    const upstream = http.createServer((req, res) => {
      if (req.url?.startsWith('/echo-url')) {
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: `upstream saw ${req.url}` }));
        return;
      }
      if (req.url?.startsWith('/hang')) return;
      res.writeHead(404).end(`not found: ${req.url}`);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const up = `http://127.0.0.1:${(upstream.address() as import('node:net').AddressInfo).port}`;
    try {
      const q = (name: string, base: string, tools: string) =>
        `[provider]\nname = "${name}"\ndescription = "q"\nbase_url = "${base}"\nauth_type = "query"\nauth_query_name = "api_key"\nauth_key_name = "query_api_key"\ntimeout_seconds = 1\n\n${tools}`;
      const tool = (n: string, ep: string) => `[[tools]]\nname = "${n}"\ndescription = "t"\nendpoint = "${ep}"\n\n`;
      dir = await makeAtiDir({
        'manifests/q.toml': q(
          'qup',
          up,
          tool('q_echo', '/echo-url') + tool('q_hang', '/hang') + tool('q_missing', '/nothing'),
        ),
        'manifests/dead.toml': q('qdead', `http://127.0.0.1:${closed}`, tool('q_dead', '/x')),
        'manifests/pt.toml': `[provider]\nname = "pt"\ndescription = "pt"\nhandler = "passthrough"\nbase_url = "${up}"\npath_prefix = "/pt"\nauth_type = "bearer"\nauth_key_name = "upstream_bearer"\nforward_websockets = true\n`,
        'manifests/ptq.toml': `[provider]\nname = "ptq"\ndescription = "pt"\nhandler = "passthrough"\nbase_url = "http://127.0.0.1:${closed}"\npath_prefix = "/ptq"\nauth_type = "query"\nauth_query_name = "key"\nauth_key_name = "query_api_key"\nforward_websockets = true\n`,
        credentials: JSON.stringify(FIRST),
      });
      const scan = new SecretScan(FIRST);
      proxy = await startProxy({ atiDir: dir.dir, args: ['--enable-passthrough', '--no-watch'] });
      scan.watch(proxy);
      for (const name of ['q_echo', 'q_hang', 'q_missing', 'q_dead']) {
        const r = await scan.fetch(`${proxy.url}/call`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ tool_name: name, args: {} }),
        });
        expect(r.status, `${name}: ${r.body}`).toBeGreaterThanOrEqual(400);
      }
      const mcp = await scan.fetch(`${proxy.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'q_echo', arguments: {} },
        }),
      });
      expect(mcp.status).toBe(200);
      const pt = await scan.fetch(`${proxy.url}/pt/echo-url?x=1`);
      expect(pt.status).toBe(500);
      const ptDead = await scan.fetch(`${proxy.url}/ptq/anything?y=2`);
      expect(ptDead.status).toBe(502);
      const wsFail = await rawRequest(proxy.url, '/ptq/socket', {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      }).catch((e: Error) => ({ status: 0, body: e.message, headers: {} }));
      scan.record('websocket failure', wsFail.body);
      await proxy.stop('SIGTERM');
      scan.assertClean();
    } finally {
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });
});

/** A loopback port nobody listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

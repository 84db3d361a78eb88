/**
 * Bounded soak: constant request load on a real `bin/ati proxy` while a loop
 * performs 100+ reloads of mixed kinds (manifest edits, keyring rotations with
 * the `_previous` signing secret). Zero failed requests; no growth in open file
 * descriptors; the unchanged stdio MCP provider keeps its one child process.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signRequest } from '../../../kernel/request-signature.js';
import { encryptKeyring } from '../../../config/keyring-enc.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startProxy, type ProxyProcess } from '../../helpers/proxy-process.js';
import { send } from '../../plugins/passthrough/client.js';
import { ptManifest } from '../../plugins/passthrough/harness.js';
import { startEchoUpstream, type EchoUpstream } from '../../plugins/passthrough/upstreams.js';
import { STDIO_SERVER } from '../../plugins/mcp/helpers.js';

const KEY = randomBytes(32);
const RELOADS = 100;

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

describe('reload soak (real process, bounded)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  let up: EchoUpstream | undefined;
  afterEach(async () => {
    await proxy?.stop();
    await up?.close();
    await dir?.cleanup();
  });

  it(
    `${RELOADS} mixed reloads under constant load: zero failed requests, no fd or child growth`,
    { timeout: 120_000 },
    async () => {
      up = await startEchoUpstream();
      const secrets = [`soak-secret-${randomBytes(8).toString('hex')}`];
      const keyring = (i: number) =>
        new Map([
          ['sandbox_signing_shared_secret', secrets[i]!],
          ...(i > 0 ? [['sandbox_signing_shared_secret_previous', secrets[i - 1]!] as [string, string]] : []),
          ['api_key', `soak-upstream-key-${i}`],
        ]);
      const mcp = `[provider]\nname = "mcpsoak"\ndescription = "stdio"\nhandler = "mcp"\nmcp_command = ${JSON.stringify(process.execPath)}\nmcp_args = [${JSON.stringify(STDIO_SERVER)}]\n`;
      const api = (rev: number) =>
        ptManifest(
          'api',
          up!.url,
          `path_prefix = "/api"\nauth_type = "bearer"\nauth_key_name = "api_key"\n# rev ${rev}`,
        );
      dir = await makeAtiDir({
        'manifests/api.toml': api(0),
        'manifests/mcp.toml': mcp,
        '.keyring-key': KEY.toString('base64'),
      });
      await writeFile(path.join(dir.dir, 'keyring.enc'), encryptKeyring(keyring(0), KEY));
      proxy = await startProxy({
        atiDir: dir.dir,
        args: ['--enable-passthrough', '--sig-verify-mode', 'enforce', '--no-watch', '--drain-seconds', '5'],
      });
      const p = proxy;
      const pid = p.proc.pid!;
      const mcpChildren = childrenOf(pid);
      expect(mcpChildren).toHaveLength(1);

      // Constant load: 4 clients, each signing with the newest secret that is serving
      // (sandboxes get a new secret after the rotation applied; `_previous` covers the overlap).
      let serving = 0;
      let stop = false;
      let ok = 0;
      const failures: string[] = [];
      const client = async (c: number) => {
        for (let n = 0; !stop; n++) {
          const route = `/api/c${c}/${n}`;
          const secret = secrets[serving]!;
          const r = await send(p.url, route, {
            headers: { 'x-sandbox-signature': signRequest(Buffer.from(secret), 'GET', route) },
          }).catch((e: Error) => ({ status: 0, body: Buffer.from(e.message) }));
          if (r.status === 200) ok++;
          else failures.push(`${r.status} ${r.body.toString().slice(0, 100)}`);
          if (n % 5 === 0) {
            const t = await fetch(`${p.url}/tools`, {
              headers: { 'x-sandbox-signature': signRequest(Buffer.from(secret), 'GET', '/tools') },
            }).catch(() => undefined);
            if (t?.status !== 200) failures.push(`/tools ${t?.status}`);
            else await t.json();
          }
        }
      };
      const load = [0, 1, 2, 3].map(client);
      await new Promise((r) => setTimeout(r, 300));
      const fdBefore = fdCount(pid);

      for (let i = 1; i <= RELOADS; i++) {
        if (i % 2 === 0) {
          await writeFile(path.join(dir.manifests, '.api.tmp'), api(i));
          await rename(path.join(dir.manifests, '.api.tmp'), path.join(dir.manifests, 'api.toml'));
        } else {
          secrets.push(`soak-secret-${randomBytes(8).toString('hex')}`);
          await writeFile(path.join(dir.dir, '.keyring.tmp'), encryptKeyring(keyring(secrets.length - 1), KEY));
          await rename(path.join(dir.dir, '.keyring.tmp'), path.join(dir.dir, 'keyring.enc'));
        }
        const seen = p.logs.length;
        p.proc.kill('SIGHUP');
        const line = await p.waitForLog(
          (l) => p.logs.indexOf(l) >= seen && (l.message === 'reload applied' || l.message === 'reload rejected'),
        );
        expect(line.message).toBe('reload applied');
        serving = secrets.length - 1;
      }
      stop = true;
      await Promise.all(load);
      // Retired generations close once drained; give the last one a moment.
      await new Promise((r) => setTimeout(r, 500));
      const fdAfter = fdCount(pid);

      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(RELOADS);
      expect(childrenOf(pid)).toEqual(mcpChildren);
      // Keep-alive sockets of the clients come and go; allow a small band, not growth per reload.
      expect(fdAfter - fdBefore).toBeLessThan(10);
      const applied = p.logs.filter((l) => l.message === 'reload applied');
      expect(applied.length).toBe(RELOADS);
      expect(applied.every((l) => (l['reused'] as string[]).includes('mcpsoak'))).toBe(true);
    },
  );
});

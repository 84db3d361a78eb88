/**
 * deploy/examples/replicas: three real `ati proxy` processes sharing one
 * PostgreSQL database behind a real HAProxy, on loopback. A virtual key issued
 * through replica 1 works through the load balancer; revoked, it is refused by
 * every replica within 1 s; a manifest change rolled out with SIGHUP one
 * replica at a time under load fails no request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain ESM example script, no type declarations
import { startReplicas } from '../../deploy/examples/replicas/replicas.mjs';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { createPgDatabase } from '../helpers/db.js';

const ADMIN = 'replicas-admin-token-0123456789abcdef';
type Replica = {
  name: string;
  url: string;
  proc: import('node:child_process').ChildProcess;
  logs: Array<Record<string, unknown>>;
};
type ReplicaSet = { lb: string; replicas: Replica[]; stop(): Promise<void> };

const manifest = (base: string, tools: string[]) =>
  `[provider]\nname = "svc"\ndescription = "svc"\nbase_url = "${base}"\n\n` +
  tools.map((t) => `[[tools]]\nname = "${t}"\ndescription = "${t}"\nendpoint = "/x"\n`).join('\n');

describe('replicas behind HAProxy sharing Postgres (real processes, loopback)', () => {
  let set: ReplicaSet | undefined;
  let dir: TempAtiDir | undefined;
  let db: { drop(): Promise<void>; url: string } | undefined;
  let upstream: http.Server | undefined;
  afterAll(async () => {
    await set?.stop();
    await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
    await db?.drop();
    await dir?.cleanup();
  });

  it(
    'key issued on one replica works via the LB, revocation reaches every replica within 1 s, a rolling SIGHUP fails nothing',
    { timeout: 120_000 },
    async () => {
      upstream = http.createServer((_req, res) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
      );
      await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
      db = await createPgDatabase();
      dir = await makeAtiDir({ 'manifests/svc.toml': manifest(base, ['svc_one']) });
      set = (await startReplicas({ atiDir: dir.dir, dbUrl: db.url, adminToken: ADMIN })) as ReplicaSet;
      const [r1] = set.replicas;

      // Issue through replica 1, use through the load balancer (every replica in turn).
      const issued = await fetch(`${r1!.url}/admin/keys/issue`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: 'agent-1', alias: 'job-1', tools: ['svc_one'] }),
      });
      expect(issued.status).toBe(201);
      const { raw_key: raw, hash } = (await issued.json()) as { raw_key: string; hash: string };
      const call = (url: string) =>
        fetch(`${url}/call`, {
          method: 'POST',
          headers: { authorization: `Ati-Key ${raw}`, 'content-type': 'application/json' },
          body: '{"tool_name":"svc_one","args":{}}',
        });
      for (let i = 0; i < 3; i++) expect((await call(set.lb)).status).toBe(200);
      for (const r of set.replicas) expect((await call(r.url)).status).toBe(200); // warm every cache

      // Revoke through replica 1; every replica refuses within 1 s.
      const t0 = Date.now();
      expect(
        (
          await fetch(`${r1!.url}/admin/keys/${hash}?by=test`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${ADMIN}` },
          })
        ).status,
      ).toBe(200);
      const refusedAfter = await Promise.all(
        set.replicas.map(async (r) => {
          for (;;) {
            if ((await call(r.url)).status === 401) return Date.now() - t0;
            if (Date.now() - t0 > 5_000) return Infinity;
            await new Promise((res) => setTimeout(res, 10));
          }
        }),
      );
      for (const ms of refusedAfter) expect(ms).toBeLessThan(1_000);
      expect((await call(set.lb)).status).toBe(401);

      // Rolling manifest change under load: SIGHUP one replica at a time.
      let stop = false;
      const failures: string[] = [];
      let ok = 0;
      const load = Array.from({ length: 4 }, async () => {
        while (!stop) {
          const r = await fetch(`${set!.lb}/call`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"tool_name":"svc_one","args":{}}',
          }).catch((e: Error) => e);
          if (r instanceof Error) failures.push(r.message);
          else if (r.status !== 200) failures.push(`${r.status} ${await r.text()}`);
          else {
            ok++;
            await r.arrayBuffer();
          }
        }
      });
      await writeFile(path.join(dir.manifests, 'svc.toml'), manifest(base, ['svc_one', 'svc_two']));
      for (const r of set.replicas) {
        const seen = r.logs.length;
        r.proc.kill('SIGHUP');
        for (;;) {
          const line = r.logs
            .slice(seen)
            .find((l) => l['message'] === 'reload applied' || l['message'] === 'reload rejected');
          if (line) {
            expect(line['message']).toBe('reload applied');
            break;
          }
          await new Promise((res) => setTimeout(res, 10));
        }
      }
      stop = true;
      await Promise.all(load);
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(10);
      for (const r of set.replicas) expect((await fetch(`${r.url}/tools/svc_two`)).status).toBe(200);
    },
  );
});

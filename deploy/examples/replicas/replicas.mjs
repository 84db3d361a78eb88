#!/usr/bin/env node
// Three `ati proxy` replicas sharing one PostgreSQL database behind HAProxy, on
// loopback. Run it to try the setup:
//
//   node deploy/examples/replicas/replicas.mjs --ati-dir <dir> --db postgres://127.0.0.1:5432/ati
//
// It migrates the database, starts the replicas (each with its own port, the
// same ATI directory, `--no-watch`: manifests are rolled out with SIGHUP one
// replica at a time), writes an HAProxy config that health-checks /readyz, and
// starts HAProxy in the foreground. Ctrl-C stops everything. The test suite
// imports `startReplicas` from this file.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const ATI = fileURLToPath(new URL('../../../bin/ati', import.meta.url));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function run(args, env) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [ATI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ati ${args.join(' ')} exited ${code}: ${err}`)),
    );
  });
}

/** Starts one replica; resolves once it logged its startup line. */
function startReplica(i, opts, env) {
  const proc = spawn(
    process.execPath,
    [ATI, 'proxy', '--port', '0', '--ati-dir', opts.atiDir, '--no-watch', ...(opts.proxyArgs ?? [])],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const logs = [];
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: proc.stderr }).on('line', (line) => {
      let j;
      try {
        j = JSON.parse(line);
      } catch {
        return;
      }
      logs.push(j);
      if (j.message === 'ATI proxy server starting')
        resolve({ name: `ati${i + 1}`, proc, logs, url: `http://${j.addr}`, port: Number(j.addr.split(':').pop()) });
    });
    proc.once('exit', (code) =>
      reject(new Error(`replica ${i + 1} exited ${code}: ${logs.map((l) => JSON.stringify(l)).join('\n')}`)),
    );
  });
}

/**
 * Starts `count` replicas on `atiDir` sharing `dbUrl`, and HAProxy in front.
 * Returns { lb, replicas, stop() }.
 */
export async function startReplicas(opts) {
  const env = { ...process.env, ATI_DB_URL: opts.dbUrl, ATI_ADMIN_TOKEN: opts.adminToken, ...(opts.env ?? {}) };
  await run(['db', 'migrate'], env);
  const replicas = await Promise.all(Array.from({ length: opts.count ?? 3 }, (_, i) => startReplica(i, opts, env)));
  const lbPort = opts.lbPort ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ati-replicas-'));
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '    maxconn 2000',
      'defaults',
      '    mode http',
      '    timeout connect 2s',
      '    timeout client 30s',
      '    timeout server 30s',
      '    retries 2',
      '    option redispatch',
      'frontend ati',
      `    bind 127.0.0.1:${lbPort}`,
      '    default_backend replicas',
      'backend replicas',
      '    balance roundrobin',
      '    option httpchk GET /readyz',
      '    http-check expect status 200',
      '    default-server inter 500ms fall 2 rise 1',
      ...replicas.map((r) => `    server ${r.name} 127.0.0.1:${r.port} check`),
      '',
    ].join('\n'),
  );
  const haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  const lb = `http://127.0.0.1:${lbPort}`;
  for (let i = 0; ; i++) {
    const r = await fetch(`${lb}/health`).catch(() => undefined);
    if (r?.status === 200) break;
    if (i > 200 || haproxy.exitCode !== null) throw new Error('haproxy did not come up');
    await new Promise((res) => setTimeout(res, 25));
  }
  const stop = async () => {
    haproxy.kill('SIGTERM');
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise((res) => (r.proc.exitCode !== null ? res() : (r.proc.once('exit', res), r.proc.kill('SIGTERM')))),
      ),
    );
  };
  return { lb, lbPort, replicas, haproxyConfig: cfg, stop };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const atiDir = arg('--ati-dir');
  const dbUrl = arg('--db', process.env.ATI_DB_URL);
  if (!atiDir || !dbUrl) {
    console.error('usage: replicas.mjs --ati-dir <dir> --db <postgres://…> [--lb-port 8443]');
    process.exit(2);
  }
  const adminToken = process.env.ATI_ADMIN_TOKEN ?? 'replicas-admin-token-change-me-0123456789';
  const set = await startReplicas({ atiDir, dbUrl, adminToken, lbPort: Number(arg('--lb-port', 0)) || undefined });
  console.log(`load balancer ${set.lb}`);
  for (const r of set.replicas) console.log(`${r.name} ${r.url} (pid ${r.proc.pid})`);
  console.log(`admin token: ATI_ADMIN_TOKEN (${process.env.ATI_ADMIN_TOKEN ? 'from the environment' : adminToken})`);
  process.on('SIGINT', () => set.stop().then(() => process.exit(0)));
}

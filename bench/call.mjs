#!/usr/bin/env node
/**
 * `POST /call` throughput through the http handler against a local upstream.
 *
 *   node bench/call.mjs [--duration 10] [--connections 32] [--warmup 3] [--quiet-logs | --log-file]
 *
 * Starts (each in its own process): a minimal upstream answering a small JSON
 * body, and the real `bin/ati proxy` (needs a fresh `npx tsc` build) with one
 * http provider (bearer auth from an ATI_KEY_* keyring entry) pointing at it.
 * Then drives, with autocannon (keep-alive), first the upstream directly and
 * then `/call`, and prints req/s, p50 and p99 latency and the ratio. Loopback
 * only; every process it starts is stopped at the end. Not part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const DURATION = opt('duration', 10);
const CONNECTIONS = opt('connections', 32);
const WARMUP = opt('warmup', 3);
const QUIET = args.includes('--quiet-logs');
const LOG_FILE = args.includes('--log-file');

const UPSTREAM_SRC = `
const http = require('node:http');
const body = JSON.stringify({ id: 42, name: 'widget', tags: ['a', 'b'], price: 9.99 });
const s = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
s.keepAliveTimeout = 65000;
s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
`;

const children = [];
function stopAll() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
}
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

function waitLine(stream, pred, what, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: stream });
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    rl.on('line', (line) => {
      const v = pred(line);
      if (v !== undefined) {
        clearTimeout(timer);
        rl.close();
        resolve(v);
      }
    });
  });
}

function run(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, pipelining: 1, ...opts }, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
async function cpuSeconds(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  } catch {
    return undefined;
  }
}

/**
 * Runs the load and reports throughput, latency and the CPU time the measured
 * process spent per request: the last is meaningful even on a busy machine,
 * where req/s mostly measures the neighbours.
 */
async function measure(label, opts, pid) {
  if (WARMUP > 0) await run({ ...opts, duration: WARMUP });
  const cpu0 = await cpuSeconds(pid);
  const r = await run({ ...opts, duration: DURATION });
  const cpu1 = await cpuSeconds(pid);
  const bad = r.non2xx + r.errors + r.timeouts;
  const cpuUs = cpu0 !== undefined && cpu1 !== undefined && r.requests.total > 0 ? ((cpu1 - cpu0) * 1e6) / r.requests.total : NaN;
  return { label, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, total: r.requests.total, failed: bad, cpuUs };
}

async function main() {
  const upstream = spawn(process.execPath, ['-e', UPSTREAM_SRC], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(upstream);
  const upPort = await waitLine(upstream.stdout, (l) => (l.startsWith('PORT ') ? Number(l.slice(5)) : undefined), 'upstream');

  const dir = await mkdtemp(path.join(os.tmpdir(), 'ati-bench-call-'));
  await mkdir(path.join(dir, 'manifests'));
  await writeFile(
    path.join(dir, 'manifests', 'bench.toml'),
    `[provider]\nname = "bench"\ndescription = "bench upstream"\nbase_url = "http://127.0.0.1:${upPort}"\nauth_type = "bearer"\nauth_key_name = "bench_token"\n\n` +
      `[[tools]]\nname = "bench_get"\ndescription = "GET /item"\nendpoint = "/item"\nmethod = "GET"\n`,
  );
  const proxyPort = await freePort();
  // Logs are formatted at INFO (two JSON lines per call, as in production) and, by default,
  // written to /dev/null: the bench measures the proxy, not the disk. --log-file writes them to
  // a file instead (synchronous writes; on a busy disk that dominates), --quiet-logs logs WARN only.
  const logTarget = LOG_FILE ? openSync(path.join(dir, 'proxy.log'), 'w') : 'ignore';
  const proxy = spawn(process.execPath, [path.join(ROOT, 'bin', 'ati'), 'proxy', '--port', String(proxyPort), '--ati-dir', dir, '--env-keys', '--no-watch'], {
    env: { ...process.env, ATI_KEY_BENCH_TOKEN: 'bench-secret-token', ATI_LOG: QUIET ? 'warn' : 'info' },
    stdio: ['ignore', 'ignore', logTarget],
  });
  children.push(proxy);
  await waitHealthy(proxyPort);

  const body = JSON.stringify({ tool_name: 'bench_get', args: { q: 'x' } });
  const direct = await measure('upstream direct (GET /item)', { url: `http://127.0.0.1:${upPort}/item?q=x` }, upstream.pid);
  const call = await measure('POST /call (http handler, bearer)', {
    url: `http://127.0.0.1:${proxyPort}/call`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  }, proxy.pid);

  console.log(`\n/call throughput — logs ${QUIET ? 'WARN' : LOG_FILE ? 'INFO to a file' : 'INFO to /dev/null'}, ${CONNECTIONS} connections, ${DURATION}s (after ${WARMUP}s warm-up), keep-alive, node ${process.version}, ${os.cpus().length} CPUs\n`);
  console.log('| target | req/s | p50 ms | p99 ms | requests | failed | CPU µs/request (that process) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of [direct, call]) console.log(`| ${r.label} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.total} | ${r.failed} | ${r.cpuUs.toFixed(0)} |`);
  console.log(`\n/call ÷ direct: ${(call.rps / direct.rps).toFixed(2)}x throughput; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ suite: 'call', rows: [{ scenario: 'POST /call (http handler) throughput', unit: 'req/s', ours: Math.round(call.rps) }, { scenario: 'POST /call / upstream direct', unit: 'x', ours: +(call.rps / direct.rps).toFixed(2) }] })}\n`);
  stopAll();
  await rm(dir, { recursive: true, force: true });
}

/** A port that was free a moment ago (the bench runs alone on loopback). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitHealthy(port) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
    if (res?.ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('proxy did not start');
}

main().catch((err) => {
  console.error(err);
  stopAll();
  process.exit(1);
});

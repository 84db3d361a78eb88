// Shared pieces of the load benchmarks (passthrough.mjs, call.mjs, …): child processes that are
// always stopped, free ports, CPU accounting from /proc, nginx peers, wrk/autocannon runs, and
// CPU pinning.
//
// CPU pinning: on a machine with 2+ CPUs and `taskset` (util-linux), the process under test (our
// proxy or a peer proxy) runs alone on the last CPU, and everything else (the load generator, the
// upstream, this script) shares the others. Without it, the scheduler moves three busy processes
// over two cores and the same target measured twice differed by 40%; pinned, rounds agree within
// a few percent, and every target gets the same deal. `--no-pin` (or BENCH_NO_PIN=1) turns it off.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

/** Every child started through this module; killed when the script exits, however it exits. */
export const children = [];
/** Async cleanups (temp directories …) run by `stopAll`. */
export const cleanups = [];

process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});
process.on('SIGINT', () => process.exit(130));

const ncpu = os.cpus().length;
const pinEnabled = !process.argv.includes('--no-pin') && !process.env.BENCH_NO_PIN && ncpu >= 2 && has('taskset');
/** CPU list of the process under test, and of everything else. */
export const CPUS = pinEnabled ? { sut: String(ncpu - 1), rest: ncpu === 2 ? '0' : `0-${ncpu - 2}` } : null;

/** Pins this script (the fixed-rate client and the orchestration) to the non-SUT CPUs. */
export function pinSelf() {
  if (CPUS) spawnSync('taskset', ['-pc', CPUS.rest, String(process.pid)], { stdio: 'ignore' });
}

/** A one-line description of the pinning, for reports. */
export function pinningNote() {
  return CPUS
    ? `pinned: process under test on CPU ${CPUS.sut}, load generator and upstream on CPU ${CPUS.rest}`
    : 'not pinned (--no-pin, one CPU, or no taskset)';
}

/** `[cmd, args]` wrapped in `taskset` for a role (`sut` or `rest`); taskset execs, so the pid is the command's. */
export function pinned(role, cmd, args) {
  return CPUS ? ['taskset', ['-c', CPUS[role], cmd, ...args]] : [cmd, args];
}

/** Spawns a process (pinned to `role`) and resolves once a stdout/stderr line matches `ready` (returns the match). */
export function startChild(
  label,
  cmd,
  args,
  { env = {}, ready, stream = 'stdout', timeoutMs = 20_000, role = 'rest' } = {},
) {
  const [c, a] = pinned(role, cmd, args);
  const proc = spawn(c, a, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  const tail = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label} did not start in ${timeoutMs} ms:\n${tail.join('\n')}`)),
      timeoutMs,
    );
    const onLine = (line) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      const m = ready?.(line);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, match: m });
      }
    };
    readline.createInterface({ input: proc.stdout }).on('line', stream === 'stdout' ? onLine : (l) => tail.push(l));
    readline.createInterface({ input: proc.stderr }).on('line', stream === 'stderr' ? onLine : (l) => tail.push(l));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code}) before it was ready:\n${tail.join('\n')}`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(proc, graceMs = 5_000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  await new Promise((r) => {
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
      r();
    }, graceMs);
    proc.once('exit', () => {
      clearTimeout(t);
      r();
    });
  });
}

/** Stops every child (newest first) and runs the cleanups. */
export async function stopAll() {
  for (const c of [...children].reverse()) await stop(c);
  for (const c of cleanups.splice(0)) await c();
}

/** A loopback port that was free a moment ago (the benchmarks run alone on loopback). */
export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

export async function waitForPort(port, timeoutMs = 10_000) {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);

/** CPU time (ms, user + system) used so far by a process and its descendants (Linux /proc); NaN elsewhere. */
export function treeCpuMs(pid) {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let ms = (Number(f[11]) + Number(f[12])) * TICK_MS;
    let kids = '';
    try {
      kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    } catch {}
    for (const k of kids ? kids.split(/\s+/) : []) ms += treeCpuMs(Number(k));
    return ms;
  } catch {
    return NaN;
  }
}

/** One nginx master + 1 worker from a generated config in its own prefix directory (role: `sut` or `rest`). */
export async function startNginx(label, serverBlock, { httpExtra = '', role = 'rest' } = {}) {
  const prefix = await mkdtemp(path.join(os.tmpdir(), 'ati-bench-nginx-'));
  cleanups.push(() => rm(prefix, { recursive: true, force: true }));
  for (const d of ['logs', 'tmp']) await mkdir(path.join(prefix, d));
  const port = await freePort();
  const conf = `
worker_processes 1;
daemon off;
${process.getuid?.() === 0 ? 'user root;' : ''}
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  keepalive_requests 1000000;
  ${httpExtra}
  server {
    listen 127.0.0.1:${port};
    ${serverBlock}
  }
}`;
  await writeFile(path.join(prefix, 'nginx.conf'), conf);
  const [c, a] = pinned(role, 'nginx', ['-p', prefix, '-c', path.join(prefix, 'nginx.conf')]);
  const proc = spawn(c, a, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(proc);
  proc.stderr.on('data', (d) => process.stderr.write(`[${label}] ${d}`));
  await waitForPort(port);
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

/** The 64 KiB body served under /big/ (bench/peers/upstream.mjs builds the same). */
export const BIG_BODY = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789');

/**
 * The upstream of the load benchmarks: nginx `return 200 <body>` (1 worker) when installed, else
 * bench/peers/upstream.mjs (node, its own small JSON body); both serve 64 KiB under /big/. Both answer 401 unless the request
 * carries `Authorization: Bearer <token>`, so a proxy that fails to inject shows up as non-2xx.
 */
export async function startJsonUpstream({ root, token, body }) {
  if (has('nginx')) {
    // /big/blob.bin: 64 KiB of bytes (the passthrough streaming scenario), same credential check.
    const bigDir = await mkdtemp(path.join(os.tmpdir(), 'ati-bench-big-'));
    cleanups.push(() => rm(bigDir, { recursive: true, force: true }));
    await writeFile(path.join(bigDir, 'blob.bin'), BIG_BODY);
    const u = await startNginx(
      'upstream',
      `location / {
      default_type application/json;
      if ($http_authorization != "Bearer ${token}") { return 401; }
      return 200 '${body}';
    }
    location /big/ {
      default_type application/octet-stream;
      if ($http_authorization != "Bearer ${token}") { return 401; }
      alias ${bigDir}/;
    }`,
    );
    return { ...u, kind: 'nginx (return 200, 1 worker)' };
  }
  const { proc, match } = await startChild(
    'upstream',
    process.execPath,
    [path.join(root, 'bench', 'peers', 'upstream.mjs')],
    {
      env: { BENCH_TOKEN: token },
      ready: (l) => /^listening (\d+)/.exec(l),
    },
  );
  const port = Number(match[1]);
  return { proc, port, url: `http://127.0.0.1:${port}`, kind: 'node http server' };
}

function toMs(v, unit) {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

/**
 * wrk (1 thread, keep-alive, pinned with the load generators). `method`/`body` go through a
 * generated Lua script. Returns req/s, p50, p99 (ms), non-2xx count, socket errors, requests.
 */
async function runWrk(url, { seconds, connections, headers = {}, method = 'GET', body }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  let luaDir;
  if (method !== 'GET' || body !== undefined) {
    luaDir = await mkdtemp(path.join(os.tmpdir(), 'ati-bench-wrk-'));
    await writeFile(
      path.join(luaDir, 'req.lua'),
      `wrk.method = ${JSON.stringify(method)}\nwrk.body = ${JSON.stringify(body ?? '')}\n`,
    );
    args.push('-s', path.join(luaDir, 'req.lua'));
  }
  args.push(url);
  const [c, a] = pinned('rest', 'wrk', args);
  const r = spawnSync(c, a, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  if (luaDir) await rm(luaDir, { recursive: true, force: true });
  const out = r.stdout ?? '';
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const lat = (p) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? toMs(m[1], m[2]) : NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const errors = /Socket errors:[^\n]*/.exec(out)?.[0] ?? '';
  return { rps, p50: lat('50'), p99: lat('99'), non2xx, errors, requests, raw: out };
}

async function runAutocannon(url, { seconds, connections, headers = {}, method = 'GET', body }) {
  const { default: autocannon } = await import('autocannon');
  const r = await autocannon({ url, connections, duration: seconds, headers, method, body });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors ? `errors ${r.errors}` : '',
    requests: r.requests.total,
  };
}

export const loadTool = has('wrk') ? 'wrk' : 'autocannon';

/** Saturating load on `url` for `seconds` with `connections` keep-alive connections. */
export function load(url, opts) {
  return loadTool === 'wrk' ? runWrk(url, opts) : runAutocannon(url, opts);
}

/**
 * Measures `target` ({ url, headers, method, body, proc }) once: load plus the CPU the target's
 * process tree spent per request (meaningful even when the machine is busy).
 */
export async function measureOnce(target, { seconds, connections }) {
  const cpu0 = treeCpuMs(target.proc?.pid);
  const r = await load(target.url, {
    seconds,
    connections,
    headers: target.headers,
    method: target.method,
    body: target.body,
  });
  r.cpuUs = ((treeCpuMs(target.proc?.pid) - cpu0) * 1000) / r.requests;
  return r;
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
export const pad = (s, n) => String(s).padEnd(n);
export const lpad = (s, n) => String(s).padStart(n);

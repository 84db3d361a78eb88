#!/usr/bin/env node
/**
 * Passthrough benchmark (targets: README.md#targets): our proxy against a minimal
 * @fastify/http-proxy setup and nginx with one worker, all proxying the same upstream with the
 * same route and the same credential injection (the caller's Authorization is replaced by
 * `Bearer <token>`; the upstream answers 401 when it is missing, so a proxy that does not
 * inject shows up as errors). Loopback only, every process started and stopped here, bounded
 * run time.
 *
 *   npm run bench:passthrough [-- --rounds 3 --duration 5 --warmup 2 --connections 32 --rate 1000
 *                                 --fixed-seconds 10 --big-duration 3 --upstream nginx|node --log-level warn
 *                                 --only ours,fastify,nginx,floor --profile <dir> --fixed-peers --no-pin]
 *
 * `node floor` (bench/peers/node-floor.mjs) is a reference point, not a peer: the least a Node
 * proxy can do (raw http + undici, no routing, policy or logging). Our distance to it is what
 * the host and the plugin cost; the rest is Node's HTTP stack and the syscalls.
 *
 * `--profile <dir>` runs our proxy with `node --cpu-prof` and leaves the .cpuprofile there.
 *
 * Throughput: small JSON responses, then 64 KiB responses (`--big-duration 0` skips them),
 * keep-alive, 32 connections, warm-up then measure, with wrk when installed
 * (`apt-get install -y wrk`), else autocannon. Targets are measured in interleaved rounds
 * (direct, ours, peers, direct, ours, peers, …) and each reports its median round, so a
 * load change on a shared machine hits every target alike instead of skewing one ratio. The
 * proxy under test (ours or a peer) runs pinned to its own CPU, the load generator and the
 * upstream on the other(s) (bench/lib/load.mjs; `--no-pin` turns it off). Latency: a
 * fixed-rate run (1,000 req/s) with microsecond timing, direct to the upstream and through our
 * proxy; the difference is the latency we add. A peer whose binary is missing (nginx) is
 * skipped with a message.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import {
  children,
  cleanups,
  fmt as f,
  freePort,
  has,
  load as loadWith,
  loadTool,
  lpad,
  measureOnce,
  median,
  pad,
  pinned,
  pinningNote,
  pinSelf,
  startChild,
  startJsonUpstream,
  startNginx,
  stopAll,
  waitForPort,
} from './lib/load.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'bench-secret-token';
const PATH = '/v1/chat/completions?model=bench';
/** A 64 KiB response (the upstream serves it under /big/). */
const BIG_KIB = 64;
const BIG_PATH = '/big/blob.bin';

function parseArgs(argv) {
  const o = {
    rounds: 3,
    duration: 5,
    warmup: 2,
    connections: 32,
    rate: 1000,
    fixedSeconds: 10,
    bigDuration: 3,
    upstream: 'auto',
    logLevel: 'warn',
    only: null,
    profile: null,
    fixedPeers: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[i + 1];
    if (k === 'duration') o.duration = Number(v);
    else if (k === 'rounds') o.rounds = Number(v);
    else if (k === 'warmup') o.warmup = Number(v);
    else if (k === 'connections') o.connections = Number(v);
    else if (k === 'rate') o.rate = Number(v);
    else if (k === 'fixed-seconds') o.fixedSeconds = Number(v);
    else if (k === 'big-duration') o.bigDuration = Number(v);
    else if (k === 'upstream') o.upstream = v;
    else if (k === 'log-level') o.logLevel = v;
    else if (k === 'only') o.only = v.split(',');
    else if (k === 'profile') o.profile = path.resolve(v);
    else if (k === 'fixed-peers') {
      o.fixedPeers = true;
      continue;
    } else if (k === 'no-pin')
      continue; // read by lib/load.mjs
    else {
      console.error(`unknown option ${argv[i]}`);
      process.exit(2);
    }
    i++;
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
pinSelf();

function startUpstream() {
  return startJsonUpstream({
    root: ROOT,
    token: TOKEN,
    body: JSON.stringify({
      ok: true,
      id: 'chatcmpl-bench',
      model: 'bench',
      usage: { prompt_tokens: 12, completion_tokens: 34 },
    }),
  });
}

async function startOurs(upstreamUrl, { cpuProf } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ati-bench-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'manifests'));
  await writeFile(
    path.join(dir, 'manifests', 'bench.toml'),
    `[provider]
name = "bench"
description = "benchmark route"
handler = "passthrough"
base_url = "${upstreamUrl}"
path_prefix = "/"
auth_type = "bearer"
auth_key_name = "bench_key"
`,
  );
  await writeFile(path.join(dir, 'credentials'), JSON.stringify({ bench_key: TOKEN }));
  const nodeArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : [];
  // A fixed port: with ATI_LOG=warn the INFO startup line (which carries the port) is not printed.
  const port = await freePort();
  const [cmd, args] = pinned('sut', process.execPath, [
    ...nodeArgs,
    path.join(ROOT, 'bin', 'ati'),
    'proxy',
    '--port',
    String(port),
    '--ati-dir',
    dir,
    '--enable-passthrough',
    '--no-watch',
  ]);
  const proc = spawn(cmd, args, {
    env: { ...process.env, ATI_LOG: opts.logLevel },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(proc);
  await waitForPort(port, 30_000);
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

async function startFloor(upstreamUrl) {
  const { proc, match } = await startChild(
    'node floor',
    process.execPath,
    [path.join(ROOT, 'bench', 'peers', 'node-floor.mjs'), upstreamUrl, TOKEN],
    {
      role: 'sut',
      ready: (l) => /^listening (\d+)/.exec(l),
    },
  );
  const port = Number(match[1]);
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

async function startFastify(upstreamUrl) {
  const { proc, match } = await startChild(
    '@fastify/http-proxy',
    process.execPath,
    [path.join(ROOT, 'bench', 'peers', 'fastify-http-proxy.mjs'), upstreamUrl, TOKEN],
    {
      role: 'sut',
      ready: (l) => /^listening (\d+)/.exec(l),
    },
  );
  const port = Number(match[1]);
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

const load = (url, seconds, headers) => loadWith(url, { seconds, connections: opts.connections, headers });

/**
 * Fixed-rate run: `rate` requests per second spread over 32 keep-alive connections, each
 * request timed from send to the last body byte with process.hrtime (µs resolution).
 */
async function fixedRate(url, seconds, headers) {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: opts.connections, pipelining: 1 });
  const target = u.pathname + u.search;
  const run = (secs, record) =>
    new Promise((resolve) => {
      const total = Math.round(opts.rate * secs);
      const lat = [];
      let sent = 0;
      let done = 0;
      let errors = 0;
      const t0 = process.hrtime.bigint();
      const fire = () => {
        const s = process.hrtime.bigint();
        pool
          .request({ path: target, method: 'GET', headers })
          .then(async (res) => {
            await res.body.dump();
            if (res.statusCode !== 200) errors++;
            if (record) lat.push(Number(process.hrtime.bigint() - s) / 1e6);
          })
          .catch(() => errors++)
          .finally(() => {
            if (++done === total) resolve({ lat, errors });
          });
      };
      const tick = () => {
        const due = Math.min(total, Math.floor((Number(process.hrtime.bigint() - t0) / 1e9) * opts.rate) + 1);
        while (sent < due) {
          sent++;
          fire();
        }
        if (sent < total) setTimeout(tick, 1);
      };
      tick();
    });
  await run(1, false);
  const { lat, errors } = await run(seconds, true);
  await pool.close();
  return { lat, errors };
}

const verdict = (ok) => (ok ? 'PASS' : 'FAIL');

/** `ours / peer req/s` for the summary table's ratio rows. */
const ofRps = (ours, peer) => `${Math.round(ours.rps)} / ${Math.round(peer.rps)} req/s`;

/**
 * Interleaved rounds of saturating load on `path` for every target; prints each round and a
 * table of medians (req/s, latency, CPU per request, ratios to ours). Returns the medians by key.
 */
async function throughput(targets, path, what, seconds) {
  const rounds = Object.fromEntries(targets.map((t) => [t.key, []]));
  for (const t of targets) await load(t.url + path, opts.warmup, t.headers); // warm-up, discarded
  for (let round = 1; round <= opts.rounds; round++) {
    for (const t of targets) {
      const r = await measureOnce({ ...t, url: t.url + path }, { seconds, connections: opts.connections });
      if (r.non2xx > 0 || r.errors) console.error(`  ! ${t.name}: ${r.non2xx} non-2xx answers ${r.errors}`);
      rounds[t.key].push(r);
      console.log(
        `  round ${round} ${pad(t.name, 24)} ${lpad(f(r.rps, 0), 8)} req/s  p50 ${f(r.p50)} ms  p99 ${f(r.p99)} ms  cpu ${f(r.cpuUs, 0)} µs/req`,
      );
    }
  }
  const results = {};
  for (const t of targets) {
    const rs = rounds[t.key];
    results[t.key] = {
      rps: median(rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      cpuUs: median(rs.map((r) => r.cpuUs)),
    };
  }
  console.log(
    `\nThroughput (${what}, keep-alive, ${opts.connections} connections; median of ${opts.rounds} rounds of ${seconds}s)`,
  );
  console.log(
    `${pad('target', 26)}${lpad('req/s', 10)}${lpad('p50 ms', 10)}${lpad('p99 ms', 10)}${lpad('ours/peer', 12)}${lpad('CPU µs/req', 12)}${lpad('CPU ratio', 11)}`,
  );
  for (const t of targets) {
    const r = results[t.key];
    const ratio = t.key === 'ours' || !results.ours ? '' : `${f(results.ours.rps / r.rps)}x`;
    // CPU per request is what the proxy itself costs, independent of how busy the machine is:
    // peer CPU / our CPU is the throughput ratio to expect with a core to ourselves.
    const cpuRatio =
      t.key === 'ours' || t.key === 'direct' || !results.ours ? '' : `${f(r.cpuUs / results.ours.cpuUs)}x`;
    const cpu = t.key === 'direct' ? '' : f(r.cpuUs, 0);
    console.log(
      `${pad(t.name, 26)}${lpad(f(r.rps, 0), 10)}${lpad(f(r.p50), 10)}${lpad(f(r.p99), 10)}${lpad(ratio, 12)}${lpad(cpu, 12)}${lpad(cpuRatio, 11)}`,
    );
  }
  return results;
}

async function main() {
  const t0 = Date.now();
  console.log(
    `passthrough benchmark: ${opts.connections} keep-alive connections, ${opts.warmup}s warm-up + ${opts.duration}s measured per target, load tool ${loadTool}`,
  );
  console.log(
    `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(pinningNote());
  const upstream = await startUpstream();
  console.log(`upstream: ${upstream.kind} on ${upstream.url}`);
  const want = (name) => !opts.only || opts.only.includes(name);

  const targets = [];
  targets.push({
    name: 'direct (upstream)',
    key: 'direct',
    url: upstream.url,
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const callerHeaders = { authorization: 'Bearer sandbox-token-to-be-replaced' };
  let ours;
  if (want('ours')) {
    ours = await startOurs(upstream.url, { cpuProf: opts.profile });
    targets.push({
      name: 'ati passthrough (ours)',
      key: 'ours',
      url: ours.url,
      headers: callerHeaders,
      proc: ours.proc,
    });
  }
  if (want('fastify')) {
    try {
      const fp = await startFastify(upstream.url);
      targets.push({ name: '@fastify/http-proxy', key: 'fastify', url: fp.url, headers: callerHeaders, proc: fp.proc });
    } catch (err) {
      console.log(`skipping @fastify/http-proxy: ${err.message.split('\n')[0]} (npm install --include=dev)`);
    }
  }
  if (want('floor')) {
    const fl = await startFloor(upstream.url);
    targets.push({ name: 'node floor (reference)', key: 'floor', url: fl.url, headers: callerHeaders, proc: fl.proc });
  }
  if (want('nginx')) {
    if (has('nginx')) {
      const ng = await startNginx(
        'nginx',
        `location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer ${TOKEN}";
    }`,
        { httpExtra: `upstream bench_upstream { server 127.0.0.1:${upstream.port}; keepalive 64; }`, role: 'sut' },
      );
      targets.push({ name: 'nginx (1 worker)', key: 'nginx', url: ng.url, headers: callerHeaders, proc: ng.proc });
    } else {
      console.log('skipping nginx: binary not found (Debian: apt-get update && apt-get install -y nginx)');
    }
  }

  const results = await throughput(targets, PATH, 'small JSON', opts.duration);
  const benchRows = [];
  if (results.ours)
    benchRows.push({
      scenario: `passthrough throughput, ${opts.connections} connections`,
      unit: 'req/s',
      ours: Math.round(results.ours.rps),
    });
  if (results.ours && results.fastify) {
    const x = results.ours.rps / results.fastify.rps;
    benchRows.push({
      scenario: 'passthrough: ours / @fastify/http-proxy',
      unit: 'x',
      ours: +x.toFixed(2),
      of: ofRps(results.ours, results.fastify),
      target: '>= 1.5x',
      met: x >= 1.5,
    });
    console.log(`target ours/@fastify/http-proxy >= 1.5x: ${f(x)}x ${verdict(x >= 1.5)}`);
  }
  if (results.ours && results.nginx) {
    const x = results.ours.rps / results.nginx.rps;
    benchRows.push({
      scenario: 'passthrough: ours / nginx (1 worker)',
      unit: 'x',
      ours: +x.toFixed(2),
      of: ofRps(results.ours, results.nginx),
      target: '>= 0.25x',
      met: x >= 0.25,
    });
    console.log(`target ours/nginx >= 0.25x: ${f(x)}x ${verdict(x >= 0.25)}`);
  }

  if (opts.bigDuration > 0) {
    // 64 KiB responses: streaming cost rather than per-request cost (reported as ratios; only the
    // small-JSON targets are checked here).
    const big = await throughput(targets, BIG_PATH, `${BIG_KIB} KiB responses`, opts.bigDuration);
    if (big.ours)
      benchRows.push({
        scenario: `passthrough throughput, ${BIG_KIB} KiB responses, ${opts.connections} connections`,
        unit: 'req/s',
        ours: Math.round(big.ours.rps),
      });
    for (const [key, name] of [
      ['fastify', '@fastify/http-proxy'],
      ['nginx', 'nginx (1 worker)'],
    ]) {
      if (big.ours && big[key])
        benchRows.push({
          scenario: `passthrough ${BIG_KIB} KiB: ours / ${name}`,
          unit: 'x',
          ours: +(big.ours.rps / big[key].rps).toFixed(2),
          of: ofRps(big.ours, big[key]),
        });
    }
  }

  if (ours) {
    console.log(
      `\nFixed rate ${opts.rate} req/s, ${opts.rounds} interleaved rounds (about ${opts.fixedSeconds}s per target, 1s warm-up each), latency send → last byte`,
    );
    // Interleaved rounds, all samples of a target pooled.
    const per = Math.max(2, Math.round(opts.fixedSeconds / opts.rounds));
    const fixedTargets = targets.filter((t) => t.key === 'direct' || t.key === 'ours' || opts.fixedPeers);
    const acc = Object.fromEntries(fixedTargets.map((t) => [t.key, { lat: [], errors: 0 }]));
    for (let round = 0; round < opts.rounds; round++) {
      for (const t of fixedTargets) {
        const r = await fixedRate(t.url + PATH, per, t.headers);
        acc[t.key].lat.push(...r.lat);
        acc[t.key].errors += r.errors;
      }
    }
    const summary = ({ lat, errors }) => {
      lat.sort((a, b) => a - b);
      const q = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))];
      return { p50: q(50), p99: q(99), errors };
    };
    const direct = summary(acc.direct);
    const via = summary(acc.ours);
    console.log(
      `${pad('target', 26)}${lpad('p50 ms', 10)}${lpad('p99 ms', 10)}${lpad('errors', 8)}${lpad('+p50', 9)}${lpad('+p99', 9)}`,
    );
    for (const t of fixedTargets) {
      const r = summary(acc[t.key]);
      const add = t.key === 'direct' ? ['', ''] : [`+${f(r.p50 - direct.p50, 3)}`, `+${f(r.p99 - direct.p99, 3)}`];
      console.log(
        `${pad(t.name, 26)}${lpad(f(r.p50, 3), 10)}${lpad(f(r.p99, 3), 10)}${lpad(r.errors, 8)}${lpad(add[0], 9)}${lpad(add[1], 9)}`,
      );
    }
    const d50 = via.p50 - direct.p50;
    const d99 = via.p99 - direct.p99;
    console.log(
      `added latency: p50 +${f(d50, 3)} ms (target <= 0.5) ${verdict(d50 <= 0.5)}; p99 +${f(d99, 3)} ms (target <= 2) ${verdict(d99 <= 2)}`,
    );
    benchRows.push(
      {
        scenario: `added latency at ${opts.rate} req/s, p50`,
        unit: 'ms',
        ours: +d50.toFixed(3),
        of: `${f(via.p50, 3)} − ${f(direct.p50, 3)} ms (direct)`,
        target: '<= 0.5 ms',
        met: d50 <= 0.5,
      },
      {
        scenario: `added latency at ${opts.rate} req/s, p99`,
        unit: 'ms',
        ours: +d99.toFixed(3),
        of: `${f(via.p99, 3)} − ${f(direct.p99, 3)} ms (direct)`,
        target: '<= 2 ms',
        met: d99 <= 2,
      },
    );
  }
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ suite: 'passthrough', rows: benchRows })}\n`);
  console.log(`\ntotal ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await stopAll();
}

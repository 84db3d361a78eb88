#!/usr/bin/env node
/**
 * `POST /call` through the http handler with an ES256 JWT, against passthrough on the same
 * proxy and the same upstream (target, README.md#targets: /call at least 0.8x passthrough
 * throughput, token verification cached until expiry).
 *
 *   npm run bench:call [-- --rounds 3 --duration 5 --warmup 2 --connections 32 --log-level info --no-pin]
 *
 * Starts: an upstream (nginx `return 200` when installed, else bench/peers/upstream.mjs), both
 * answering 401 unless the proxy injected `Authorization: Bearer <token>`; and the real
 * `bin/ati proxy` (needs a fresh build) with ATI_JWT_PUBLIC_KEY (an ES256 key made here), one
 * http provider with a `GET /item` tool, and a passthrough route to the same upstream. The
 * caller sends a JWT minted here (scope `tool:bench_get`) to `/call`, and plain requests to the
 * passthrough route. Logs at INFO to /dev/null by default (production's level; the bench
 * measures the proxy, not a disk). Targets are measured in interleaved rounds with wrk (else
 * autocannon), the proxy pinned to its own CPU (bench/lib/load.mjs). Loopback only; everything
 * started is stopped. Not part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import {
  cleanups,
  children,
  fmt as f,
  freePort,
  loadTool,
  lpad,
  measureOnce,
  median,
  pad,
  pinned,
  pinningNote,
  pinSelf,
  startJsonUpstream,
  stopAll,
  waitForPort,
} from './lib/load.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'bench-upstream-token';

function parseArgs(argv) {
  const o = { rounds: 3, duration: 5, warmup: 2, connections: 32, logLevel: 'info' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    if (k === 'no-pin') continue; // read by lib/load.mjs
    const v = argv[++i];
    if (k === 'rounds') o.rounds = Number(v);
    else if (k === 'duration') o.duration = Number(v);
    else if (k === 'warmup') o.warmup = Number(v);
    else if (k === 'connections') o.connections = Number(v);
    else if (k === 'log-level') o.logLevel = v;
    else {
      console.error(`unknown option ${argv[i - 1]}`);
      process.exit(2);
    }
  }
  return o;
}
const opts = parseArgs(process.argv.slice(2));
pinSelf();

function startUpstream() {
  return startJsonUpstream({
    root: ROOT,
    token: TOKEN,
    body: JSON.stringify({ id: 42, name: 'widget', tags: ['a', 'b'], price: 9.99 }),
  });
}

async function startOurs(upstreamUrl) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ati-bench-call-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'manifests'));
  await writeFile(
    path.join(dir, 'manifests', 'bench.toml'),
    `[provider]\nname = "bench"\ndescription = "bench upstream"\nbase_url = "${upstreamUrl}"\nauth_type = "bearer"\nauth_key_name = "bench_token"\n\n` +
      `[[tools]]\nname = "bench_get"\ndescription = "GET /item"\nendpoint = "/item"\nmethod = "GET"\n`,
  );
  await writeFile(
    path.join(dir, 'manifests', 'bench-pass.toml'),
    `[provider]\nname = "bench_pass"\ndescription = "passthrough to the same upstream"\nhandler = "passthrough"\nbase_url = "${upstreamUrl}"\npath_prefix = "/pass"\nstrip_prefix = true\nauth_type = "bearer"\nauth_key_name = "bench_token"\n`,
  );
  await writeFile(path.join(dir, 'credentials'), JSON.stringify({ bench_token: TOKEN }));
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  await writeFile(path.join(dir, 'jwt-public.pem'), await exportSPKI(publicKey));
  const jwt = await new SignJWT({ scope: 'tool:bench_get' })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setSubject('bench-agent')
    .setAudience('ati-proxy')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  const port = await freePort();
  const [cmd, args] = pinned('sut', process.execPath, [
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
    env: { ...process.env, ATI_LOG: opts.logLevel, ATI_JWT_PUBLIC_KEY: path.join(dir, 'jwt-public.pem') },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  children.push(proc);
  await waitForPort(port, 30_000);
  return { proc, url: `http://127.0.0.1:${port}`, jwt };
}

async function main() {
  const t0 = Date.now();
  console.log(
    `/call vs passthrough: ${opts.connections} keep-alive connections, ${opts.warmup}s warm-up + ${opts.rounds} interleaved rounds of ${opts.duration}s, load tool ${loadTool}, logs ${opts.logLevel.toUpperCase()} to /dev/null`,
  );
  console.log(
    `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}; ${pinningNote()}`,
  );
  const upstream = await startUpstream();
  const ours = await startOurs(upstream.url);
  console.log(`upstream: ${upstream.kind}`);

  const targets = [
    {
      key: 'direct',
      name: 'upstream direct (GET /item)',
      url: `${upstream.url}/item?q=x`,
      headers: { authorization: `Bearer ${TOKEN}` },
    },
    {
      key: 'pass',
      name: 'passthrough GET /pass/item',
      url: `${ours.url}/pass/item?q=x`,
      headers: { authorization: 'Bearer sandbox-token-replaced' },
      proc: ours.proc,
    },
    {
      key: 'call',
      name: 'POST /call (http, ES256 JWT)',
      url: `${ours.url}/call`,
      method: 'POST',
      body: JSON.stringify({ tool_name: 'bench_get', args: { q: 'x' } }),
      headers: { authorization: `Bearer ${ours.jwt}`, 'content-type': 'application/json' },
      proc: ours.proc,
    },
  ];
  for (const t of targets) await measureOnce(t, { seconds: opts.warmup, connections: opts.connections });
  const rounds = Object.fromEntries(targets.map((t) => [t.key, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    for (const t of targets) {
      const r = await measureOnce(t, { seconds: opts.duration, connections: opts.connections });
      if (r.non2xx > 0 || r.errors) console.error(`  ! ${t.name}: ${r.non2xx} non-2xx answers ${r.errors}`);
      rounds[t.key].push(r);
      console.log(
        `  round ${round} ${pad(t.name, 30)} ${lpad(f(r.rps, 0), 8)} req/s  p50 ${f(r.p50)} ms  p99 ${f(r.p99)} ms  cpu ${f(r.cpuUs, 0)} µs/req`,
      );
    }
  }
  const res = Object.fromEntries(
    targets.map((t) => {
      const rs = rounds[t.key];
      return [
        t.key,
        {
          rps: median(rs.map((r) => r.rps)),
          p50: median(rs.map((r) => r.p50)),
          p99: median(rs.map((r) => r.p99)),
          cpuUs: median(rs.map((r) => r.cpuUs)),
          bad: rs.reduce((a, r) => a + r.non2xx, 0),
        },
      ];
    }),
  );
  console.log(
    `\n${pad('target', 32)}${lpad('req/s', 9)}${lpad('p50 ms', 9)}${lpad('p99 ms', 9)}${lpad('CPU µs/req', 12)}${lpad('non-2xx', 9)}`,
  );
  for (const t of targets) {
    const r = res[t.key];
    console.log(
      `${pad(t.name, 32)}${lpad(f(r.rps, 0), 9)}${lpad(f(r.p50), 9)}${lpad(f(r.p99), 9)}${lpad(t.proc ? f(r.cpuUs, 0) : '', 12)}${lpad(r.bad, 9)}`,
    );
  }
  const x = res.call.rps / res.pass.rps;
  console.log(
    `\n/call ÷ passthrough: ${f(x)}x throughput (target >= 0.8x) ${x >= 0.8 ? 'PASS' : 'FAIL'}; CPU per request ${f(res.call.cpuUs / res.pass.cpuUs)}x`,
  );
  console.log(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.stdout.write(
    `BENCH_RESULT ${JSON.stringify({
      suite: 'call',
      rows: [
        {
          scenario: 'POST /call (http handler, ES256 JWT cached) throughput',
          unit: 'req/s',
          ours: Math.round(res.call.rps),
        },
        {
          scenario: 'POST /call / passthrough (same proxy, same upstream)',
          unit: 'x',
          ours: +x.toFixed(2),
          of: `${Math.round(res.call.rps)} / ${Math.round(res.pass.rps)} req/s`,
          target: '>= 0.8x',
          met: x >= 0.8,
        },
      ],
    })}\n`,
  );
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await stopAll();
}

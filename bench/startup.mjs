// Startup benchmark (targets: README.md#targets): time from spawn to a 200 from /health, and RSS,
// with 100 manifests (no MCP). Targets: under 1 s, RSS under 150 MB.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { emit, manyManifests, percentile } from './lib/fixtures.mjs';

const ATI = fileURLToPath(new URL('../bin/ati', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const fx = manyManifests(100, 20);

async function once() {
  const t0 = performance.now();
  // The startup line (INFO) carries the bound address: force INFO whatever ATI_LOG the runner set.
  const proc = spawn(process.execPath, [ATI, 'proxy', '--port', '0', '--no-watch', '--ati-dir', fx.dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ATI_LOG: 'info' },
  });
  const addr = await new Promise((resolve, reject) => {
    readline.createInterface({ input: proc.stderr }).on('line', (l) => {
      try {
        const j = JSON.parse(l);
        if (j.message === 'ATI proxy server starting') resolve(j.addr);
      } catch {}
    });
    proc.once('exit', (c) => reject(new Error(`ati exited ${c}`)));
  });
  for (;;) {
    const r = await fetch(`http://${addr}/health`).catch(() => undefined);
    if (r?.status === 200) {
      await r.json();
      break;
    }
  }
  const ready = performance.now() - t0;
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))[1]);
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  return { ready, rssMb: rssKb / 1024 };
}

const runs = [];
for (let i = 0; i < RUNS; i++) runs.push(await once());
fx.cleanup();
const ready = runs.map((r) => r.ready).sort((a, b) => a - b);
const rss = runs.map((r) => r.rssMb).sort((a, b) => a - b);
console.log(
  `startup to ready, 100 manifests / 2000 tools: p50 ${percentile(ready, 50).toFixed(0)} ms (max ${ready.at(-1).toFixed(0)} ms)`,
);
console.log(`RSS after startup: p50 ${percentile(rss, 50).toFixed(1)} MB`);
emit({
  suite: 'startup',
  rows: [
    {
      scenario: 'startup to ready, 100 manifests (p50)',
      unit: 'ms',
      ours: +percentile(ready, 50).toFixed(0),
      target: '< 1000 ms',
      met: percentile(ready, 50) < 1000,
    },
    {
      scenario: 'RSS after startup, 100 manifests (p50)',
      unit: 'MB',
      ours: +percentile(rss, 50).toFixed(1),
      target: '< 150 MB',
      met: percentile(rss, 50) < 150,
    },
  ],
});

// `npm run bench`: runs every benchmark script, one after another (they share
// the machine), and writes bench/results/latest.md and latest.json: a summary
// table of the scripts that emit `BENCH_RESULT {...}` lines, then each script's
// own report. Loopback only; every script starts and stops its own peers.
// BENCH_ONLY=reload,startup runs a subset.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const SCRIPTS = [
  ['startup', 'startup.mjs', 'startup time and RSS with 100 manifests'],
  ['reload', 'reload.mjs', 'rebuild and swap 100 manifests / 2,000 tools'],
  ['passthrough', 'passthrough.mjs', 'passthrough vs @fastify/http-proxy and nginx; added latency at 1,000 req/s'],
  ['call', 'call.mjs', 'POST /call through the http handler vs the upstream directly'],
  ['pipeline-auth', 'pipeline-auth.mjs', 'sig-verify, JWT (cached/uncached) and rate-limit costs per request'],
  ['mcp-session', 'mcp-session.mjs', '/mcp tools/call through a pooled session vs a fresh connection'],
  ['log-redaction', 'log-redaction.mjs', 'cost of secret redaction in log lines'],
  [
    'key-lookup',
    'key-lookup.mjs',
    'Ati-Key lookup (warm cache, cold) on PostgreSQL and PGlite; revocation between two replicas',
  ],
  [
    'soak',
    'soak.mjs',
    'reloads every 200 ms (manifest edits, keyring and signing-secret rotations) under constant load: failures, p99 drift, memory, fds',
  ],
];
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const here = fileURLToPath(new URL('.', import.meta.url));
const results = [];
const t0 = Date.now();

function run(file) {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [here + file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ATI_LOG: process.env.ATI_LOG ?? 'warn' },
    });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    proc.stderr.on('data', (d) => process.stderr.write(d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), Number(process.env.BENCH_SCRIPT_TIMEOUT_S ?? 600) * 1000);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

for (const [name, file, what] of SCRIPTS) {
  if (only && !only.includes(name)) continue;
  console.log(`\n=== ${name}: ${what} ===`);
  const { code, out } = await run(file);
  const rows = out
    .split('\n')
    .filter((l) => l.startsWith('BENCH_RESULT '))
    .flatMap((l) => JSON.parse(l.slice('BENCH_RESULT '.length)).rows ?? []);
  results.push({
    name,
    what,
    exitCode: code,
    rows,
    report: out
      .split('\n')
      .filter((l) => !l.startsWith('BENCH_RESULT '))
      .join('\n')
      .trim(),
  });
}

const env = {
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cpus: os.cpus().length,
  loadavg: os.loadavg().map((x) => +x.toFixed(2)),
  date: new Date().toISOString(),
  seconds: Math.round((Date.now() - t0) / 1000),
};
let md = `# Benchmark results\n\n${env.date} — node ${env.node}, ${env.cpus} × ${env.cpu}, load average at the end ${env.loadavg.join(' ')}, ${env.seconds} s in all.\n\n`;
// A ratio row may name what it divides (`of`: "15240 / 9741 req/s"), shown in the `ours ÷ peer` column.
md += '| scenario | ours | unit | ours ÷ peer | p95 | target | met |\n|---|---:|---|---|---:|---|---|\n';
for (const r of results)
  for (const row of r.rows)
    md += `| ${row.scenario} | ${row.ours} | ${row.unit} | ${row.of ?? ''} | ${row.p95 ?? ''} | ${row.target ?? ''} | ${row.met === undefined ? '' : row.met ? 'yes' : '**no**'} |\n`;
for (const r of results) md += `\n## ${r.name} — ${r.what}\n\nexit code ${r.exitCode}\n\n\`\`\`\n${r.report}\n\`\`\`\n`;
mkdirSync(here + 'results', { recursive: true });
writeFileSync(here + 'results/latest.md', md);
writeFileSync(here + 'results/latest.json', JSON.stringify({ env, results }, null, 2));
console.log(`\nwrote bench/results/latest.md and latest.json`);

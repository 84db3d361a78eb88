#!/usr/bin/env node
/**
 * MCP call latency: one pooled session (what the `mcp` plugin does) versus a
 * fresh connection per call (what the reference does: spawn/connect, initialize,
 * call, disconnect). Both go through the plugin's McpSession, against the test
 * fixtures: the stdio server (a Node child) and the Streamable HTTP server
 * (SDK McpServer on loopback, JSON and SSE replies).
 *
 * The session is driven in-process (no HTTP in front): what it measures is the session itself,
 * which `/mcp tools/call` and `/call` to an MCP tool both go through. Emits a `BENCH_RESULT`
 * line (pooled stdio p50 and p99, fresh ÷ pooled) for `bench/run.mjs`.
 *
 * Usage: npx tsc -p tsconfig.json && node bench/mcp-session.mjs [--pooled N] [--fresh N]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { McpSession } from '../dist/plugins/mcp/session.js';
import { silentLogger } from '../dist/kernel/logger.js';
import { startHttpMcpServer } from '../test/fixtures/mcp/http-server.mjs';
import { emit } from './lib/fixtures.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const num = (flag, d) => (argv.includes(flag) ? Number(argv[argv.indexOf(flag) + 1]) : d);
const POOLED = num('--pooled', 500);
const FRESH = num('--fresh', 20);

function session(target) {
  return new McpSession({
    provider: 'bench',
    target,
    timeoutMs: 30_000,
    connectTimeoutMs: 30_000,
    logger: silentLogger(),
    redact: (t) => t,
  });
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, mean: s.reduce((a, b) => a + b, 0) / s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}

async function pooled(target) {
  const s = session(target);
  await s.callTool('echo', { text: 'warm' });
  const out = [];
  for (let i = 0; i < POOLED; i++) {
    const t0 = performance.now();
    await s.callTool('echo', { text: `x${i}` });
    out.push(performance.now() - t0);
  }
  await s.close();
  return stats(out);
}

async function fresh(target) {
  const out = [];
  for (let i = 0; i < FRESH; i++) {
    const t0 = performance.now();
    const s = session(target);
    await s.callTool('echo', { text: `x${i}` });
    await s.close();
    out.push(performance.now() - t0);
  }
  return stats(out);
}

const fmt = (x) => x.toFixed(2).padStart(9);
const rows = [];
async function bench(label, target) {
  const p = await pooled(target);
  const f = await fresh(target);
  rows.push([label, 'pooled session', p], [label, 'fresh per call', f]);
  rows.push([label, `speed-up (p50)`, { n: 0, mean: f.mean / p.mean, p50: f.p50 / p.p50, p90: NaN, p99: NaN }]);
  return { pooled: p, fresh: f };
}

const stdioTarget = {
  kind: 'stdio',
  command: process.execPath,
  args: [path.join(root, 'test/fixtures/mcp/stdio-server.mjs')],
  env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
};
const stdio = await bench('stdio', stdioTarget);
for (const json of [true, false]) {
  const srv = await startHttpMcpServer({ json });
  await bench(json ? 'http json' : 'http sse', { kind: 'http', url: new URL(srv.url), headers: {} });
  await srv.close();
}

console.log(
  `MCP tools/call latency in ms (pooled: ${POOLED} calls after one warm-up; fresh: ${FRESH} connect+initialize+call+close)`,
);
console.log(
  `${'upstream'.padEnd(10)} ${'mode'.padEnd(16)} ${'mean'.padStart(9)} ${'p50'.padStart(9)} ${'p90'.padStart(9)} ${'p99'.padStart(9)}`,
);
for (const [u, m, s] of rows) {
  if (m.startsWith('speed')) console.log(`${u.padEnd(10)} ${m.padEnd(16)} ${fmt(s.mean)}x ${fmt(s.p50)}x`);
  else console.log(`${u.padEnd(10)} ${m.padEnd(16)} ${fmt(s.mean)} ${fmt(s.p50)} ${fmt(s.p90)} ${fmt(s.p99)}`);
}

// The summary table (bench/run.mjs): the pooled stdio session, which is what `/mcp tools/call`
// and `/call` to an MCP tool go through, and how much it saves over the reference's
// connect-per-call. No target (README.md#targets): these rows are for tracking.
const r2 = (x) => +x.toFixed(2);
emit({
  suite: 'mcp-session',
  rows: [
    {
      scenario: 'MCP tools/call, pooled stdio session, in-process McpSession (p50)',
      unit: 'ms',
      ours: r2(stdio.pooled.p50),
    },
    {
      scenario: 'MCP tools/call, pooled stdio session, in-process McpSession (p99)',
      unit: 'ms',
      ours: r2(stdio.pooled.p99),
    },
    {
      scenario: 'MCP tools/call, stdio: fresh per call / pooled (p50)',
      unit: 'x',
      ours: r2(stdio.fresh.p50 / stdio.pooled.p50),
    },
  ],
});

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

// A /mcp session through the whole proxy (HTTP, scopes, executor, session): 1,000 tools/call
// whose answers are SSE streams (the upstream sends a log message before each answer, which
// the proxy relays on the call's stream), against the same stdio fixture.
const SSE_CALLS = num('--sse-calls', 1000);
const sseRows = [];
{
  const { Host } = await import('../dist/core/host/host.js');
  const { PluginRegistry } = await import('../dist/core/plugin/contract.js');
  const { ROUTE_MODULES } = await import('../dist/core/routes/index.js');
  const { mcpPlugin } = await import('../dist/plugins/mcp/index.js');
  const { Keyring } = await import('../dist/config/keyring.js');
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const fs = await import('node:fs/promises');
  const os = await import('node:os');
  const atiDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ati-bench-mcp-'));
  await fs.mkdir(path.join(atiDir, 'manifests'));
  await fs.writeFile(
    path.join(atiDir, 'manifests', 'fx.toml'),
    `[provider]\nname = "fx"\ndescription = "bench"\nhandler = "mcp"\nmcp_command = ${JSON.stringify(process.execPath)}\nmcp_args = [${JSON.stringify(path.join(root, 'test/fixtures/mcp/stdio-server.mjs'))}]\n`,
  );
  const registry = new PluginRegistry();
  registry.register(mcpPlugin);
  const host = new Host({
    options: { atiDir, enablePassthrough: false, checkOnly: false },
    registry,
    logger: silentLogger(),
    loadKeyring: async () => new Keyring([], 'bench'),
    routes: ROUTE_MODULES,
    drainMs: 1_000,
  });
  await host.start();
  const addr = await host.listen(0, '127.0.0.1');
  const client = new Client({ name: 'bench', version: '1.0.0' });
  let logs = 0;
  const { LoggingMessageNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
  client.setNotificationHandler(LoggingMessageNotificationSchema, () => void logs++);
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${addr.port}/mcp`)));
  await client.callTool({ name: 'fx:notify' });
  const out = [];
  const t0 = performance.now();
  for (let i = 0; i < SSE_CALLS; i++) {
    const t = performance.now();
    await client.callTool({ name: 'fx:notify' });
    out.push(performance.now() - t);
  }
  const wall = performance.now() - t0;
  await client.close();
  await host.shutdown('bench');
  await fs.rm(atiDir, { recursive: true, force: true });
  const s = stats(out);
  console.log(
    `\n/mcp session, ${SSE_CALLS} tools/call with SSE answers (a relayed log message each; ${logs} received): ` +
      `mean ${s.mean.toFixed(2)} ms, p50 ${s.p50.toFixed(2)} ms, p90 ${s.p90.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, ` +
      `${Math.round((SSE_CALLS / wall) * 1000)} calls/s`,
  );
  sseRows.push(
    {
      scenario: `/mcp session, ${SSE_CALLS} tools/call with SSE answers, stdio upstream (p50)`,
      unit: 'ms',
      ours: r2(s.p50),
    },
    {
      scenario: `/mcp session, ${SSE_CALLS} tools/call with SSE answers, stdio upstream (p99)`,
      unit: 'ms',
      ours: r2(s.p99),
    },
  );
}

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
    ...sseRows,
  ],
});

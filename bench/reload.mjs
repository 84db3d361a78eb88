// Reload benchmark (targets: README.md#targets): 100 manifests / 2,000 tools rebuilt and swapped.
// Measures host.reload() in-process: a forced full rebuild, and an edit of one
// manifest (99 providers reused). Target: under 150 ms.
import { Host } from '../dist/core/host/host.js';
import { silentLogger } from '../dist/kernel/logger.js';
import { PluginRegistry } from '../dist/core/plugin/contract.js';
import { ROUTE_MODULES } from '../dist/core/routes/index.js';
import { loadKeyring } from '../dist/config/keyring-loader.js';
import { BUILTIN_PLUGINS } from '../dist/cli/builtin-plugins.js';
import { emit, manyManifests, percentile } from './lib/fixtures.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const fx = manyManifests(100, 20);
const registry = new PluginRegistry();
for (const p of BUILTIN_PLUGINS) registry.register(p);
const host = new Host({
  options: { atiDir: fx.dir, enablePassthrough: false, checkOnly: false },
  registry,
  logger: silentLogger(),
  loadKeyring: () => loadKeyring({ atiDir: fx.dir, envKeys: false, env: {} }),
  routes: ROUTE_MODULES,
  drainMs: 1000,
});
const t0 = performance.now();
const gen = await host.start();
const firstBuild = performance.now() - t0;
if (gen.toolList.length !== 2000) throw new Error(`expected 2000 tools, got ${gen.toolList.length}`);

const full = [];
const edit = [];
for (let i = 0; i < ROUNDS; i++) {
  let s = performance.now();
  let r = await host.reload('bench', { force: true });
  full.push(performance.now() - s);
  if (r.status !== 'applied') throw new Error(`forced reload: ${r.status}`);
  fx.edit(i % 100, i + 1);
  s = performance.now();
  r = await host.reload('bench');
  edit.push(performance.now() - s);
  if (r.status !== 'applied' || r.provisioned.length !== 1)
    throw new Error(`edit reload: ${JSON.stringify(r).slice(0, 200)}`);
}
await host.shutdown('bench done');
fx.cleanup();
full.sort((a, b) => a - b);
edit.sort((a, b) => a - b);
const row = (name, arr) => ({
  scenario: name,
  unit: 'ms',
  ours: +percentile(arr, 50).toFixed(1),
  p95: +percentile(arr, 95).toFixed(1),
  target: '< 150 ms',
  met: percentile(arr, 95) < 150,
});
console.log(`first build: ${firstBuild.toFixed(1)} ms`);
console.log(
  `forced full rebuild (100 manifests / 2000 tools): p50 ${percentile(full, 50).toFixed(1)} ms, p95 ${percentile(full, 95).toFixed(1)} ms`,
);
console.log(
  `one manifest edited (99 reused):                 p50 ${percentile(edit, 50).toFixed(1)} ms, p95 ${percentile(edit, 95).toFixed(1)} ms`,
);
emit({
  suite: 'reload',
  rows: [
    row('reload: full rebuild, 100 manifests / 2,000 tools (p50; p95)', full),
    row('reload: one manifest edited, 99 reused (p50; p95)', edit),
  ],
});

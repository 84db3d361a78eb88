#!/usr/bin/env node
/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `bench/passthrough.mjs --profile <dir>`):
 * self time by function and by file, largest first. Usage:
 *   node bench/lib/profile-summary.mjs <file.cpuprofile> [--top 30] [--match <regex of script URLs>]
 * `--match` chooses whose inclusive time is listed (default: our dist/, prom-client, pino, undici).
 */
import { readFileSync } from 'node:fs';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-summary.mjs <file.cpuprofile> [--top N]');
  process.exit(2);
}
const flag = (name, def) => (rest.includes(name) ? rest[rest.indexOf(name) + 1] : def);
const top = Number(flag('--top', 30));
const match = new RegExp(flag('--match', '/dist/|prom-client|pino|undici/lib/dispatcher'));
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++)
  self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
let total = 0;
const fn = new Map();
const files = new Map();
for (const [id, us] of self) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const url = cf.url
    .replace(/^file:\/\//, '')
    .replace(/.*node_modules\//, 'nm/')
    .replace(process.cwd() + '/', '');
  const key = `${cf.functionName || '(anon)'} ${url}:${cf.lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const fk = url || cf.functionName;
  files.set(fk, (files.get(fk) ?? 0) + us);
  total += us;
}
const idle = [...fn].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
const busy = total - idle;
const show = (title, m) => {
  console.log(`\n${title} (share of non-idle time ${(busy / 1e6).toFixed(2)} s)`);
  for (const [k, v] of [...m]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    console.log(`${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`);
  }
};
show('self time by function', fn);
show('self time by file', files);

// Inclusive time of the project's own functions (dist/…) and the libraries they call on the hot
// path: what a request spends under each, children included (recursion counted once per stack).
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
for (const [id, us] of self) {
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const cf = byId.get(cur).callFrame;
    if (!match.test(cf.url)) continue;
    const key = `${cf.functionName || '(anon)'} ${cf.url
      .replace(/^file:\/\//, '')
      .replace(/.*node_modules\//, 'nm/')
      .replace(process.cwd() + '/', '')}:${cf.lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + us);
  }
}
console.log(`\ninclusive time of project and hot-path library functions`);
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`);

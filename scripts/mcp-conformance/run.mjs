#!/usr/bin/env node
/**
 * Runs the official MCP conformance suite (`conformance server`) against an MCP
 * endpoint and summarises it per scenario, on Node 20 too (the globSync preload).
 *
 *   node scripts/mcp-conformance/run.mjs <url> [--suite all|active] [--scenario name] [--json]
 *
 * Exits with the CLI's code (0 when no check failed). A scenario passes when none
 * of its checks has status FAILURE (the CLI's rule); `strict` also needs one SUCCESS.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The CLI's entry point inside node_modules. */
export function conformanceCli() {
  const pkg = require.resolve('@modelcontextprotocol/conformance/package.json');
  return path.join(path.dirname(pkg), 'dist', 'index.js');
}

/** Reads `<dir>/server-<scenario>-<timestamp>/checks.json` files into one row per scenario. */
export function summarize(dir) {
  const rows = [];
  for (const d of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, d, 'checks.json');
    if (!fs.existsSync(file)) continue;
    const checks = JSON.parse(fs.readFileSync(file, 'utf8'));
    const count = (s) => checks.filter((c) => c.status === s).length;
    const failed = count('FAILURE');
    const passed = count('SUCCESS');
    rows.push({
      scenario: d.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, ''),
      passed,
      failed,
      warnings: count('WARNING'),
      pass: failed === 0,
      strict: failed === 0 && passed > 0,
      errors: checks.filter((c) => c.status === 'FAILURE').map((c) => `${c.id}: ${c.errorMessage ?? ''}`),
    });
  }
  return rows;
}

/**
 * Runs the suite; resolves with the exit code, the rows and the console output.
 * @param {{ url: string, args?: string[], timeoutMs?: number, env?: NodeJS.ProcessEnv }} opts
 */
export async function runConformance(opts) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-conformance-'));
  try {
    const args = [
      '--import',
      path.join(HERE, 'globsync-shim.mjs'),
      conformanceCli(),
      'server',
      '--url',
      opts.url,
      '-o',
      out,
      ...(opts.args ?? ['--suite', 'all']),
    ];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    const code = await new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
    clearTimeout(timer);
    return { code, rows: summarize(out), output };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** A Markdown table of the rows. */
export function table(rows) {
  const lines = ['| scenario | result | checks ok / failed / warnings |', '|---|---|---|'];
  for (const r of rows)
    lines.push(
      `| ${r.scenario} | ${r.pass ? 'PASS' : 'FAIL'} | ${r.passed} / ${r.failed} / ${r.warnings}${r.errors.length ? ` — ${r.errors.join('; ').slice(0, 200)}` : ''} |`,
    );
  lines.push('', `${rows.filter((r) => r.pass).length} passed, ${rows.filter((r) => !r.pass).length} failed`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const url = argv[0];
  if (!url) {
    console.error('usage: node scripts/mcp-conformance/run.mjs <url> [--suite all] [--scenario name] [--json]');
    process.exit(2);
  }
  const json = argv.includes('--json');
  const rest = argv.slice(1).filter((a) => a !== '--json');
  const r = await runConformance({ url, args: rest.length > 0 ? rest : ['--suite', 'all'] });
  console.log(json ? JSON.stringify(r.rows, null, 2) : table(r.rows));
  process.exit(r.code ?? 1);
}

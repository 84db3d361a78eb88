/** Prints the `ati proxy --check` report: providers by handler, tools, routes, keyring, warnings, errors. */
import { AtiError } from '../kernel/errors.js';
import { redactText } from '../kernel/redact.js';
import type { Generation } from '../core/generation/generation.js';
import type { PluginRegistry } from '../core/plugin/contract.js';
import type { OutputFormat, ProxyConfig } from '../config/proxy-config.js';

export interface CheckReport {
  ok: boolean;
  config: ProxyConfig;
  registry: PluginRegistry;
  generation?: Generation;
  errors: Error[];
}

function describe(e: Error): string {
  return redactText(e instanceof AtiError ? e.describe() : e.message);
}

export function printCheckSummary(r: CheckReport, output: OutputFormat): void {
  const gen = r.generation;
  const byHandler: Record<string, string[]> = {};
  for (const p of gen?.providers.values() ?? []) (byHandler[p.plugin.name] ??= []).push(p.name);
  const summary = {
    ok: r.ok,
    ati_dir: r.config.atiDir,
    handlers_registered: r.registry.describe(),
    providers: byHandler,
    tools: gen ? gen.toolList.length : 0,
    public_tools: gen ? gen.publicTools().length : 0,
    passthrough_routes: gen?.routes.routes.map((x) => `${x.hostMatch ?? '*'}${x.pathPrefix} → ${x.name}`) ?? [],
    passthrough_enabled: r.config.enablePassthrough,
    keyring: gen?.keyring.source ?? null,
    warnings: gen ? gen.warnings.map((w) => redactText(w)) : [],
    errors: r.errors.map(describe),
  };
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  const lines: string[] = [];
  lines.push(`ati proxy --check: ${r.ok ? 'OK' : 'FAILED'} (${r.config.atiDir})`);
  lines.push(
    `handlers: ${summary.handlers_registered.map((h) => (h.origin === 'built-in' ? h.name : `${h.name} (${h.origin})`)).join(', ') || '(none)'}`,
  );
  if (gen) {
    lines.push(`providers: ${gen.providers.size}`);
    for (const [h, names] of Object.entries(byHandler)) lines.push(`  ${h}: ${names.join(', ')}`);
    lines.push(`tools: ${summary.tools} (${summary.public_tools} public)`);
    lines.push(
      `passthrough routes: ${summary.passthrough_routes.length}${r.config.enablePassthrough ? '' : ' (passthrough disabled; pass --enable-passthrough to serve them)'}`,
    );
    for (const route of summary.passthrough_routes) lines.push(`  ${route}`);
    lines.push(`keyring: ${summary.keyring}`);
  }
  if (summary.warnings.length > 0) {
    lines.push(`warnings: ${summary.warnings.length}`);
    for (const w of summary.warnings) lines.push(`  ${w}`);
  }
  if (summary.errors.length > 0) {
    lines.push(`errors: ${summary.errors.length}`);
    for (const e of summary.errors) lines.push(`  ${e}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

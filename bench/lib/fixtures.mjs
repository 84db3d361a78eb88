// Shared benchmark fixtures: temporary ATI directories with many manifests.
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * An ATI directory with `providers` manifests of `toolsPerProvider` tools each.
 * Uses the cli handler (built in, no network, nothing spawned until a call).
 */
export function manyManifests(providers = 100, toolsPerProvider = 20) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ati-bench-'));
  mkdirSync(path.join(dir, 'manifests'));
  for (let p = 0; p < providers; p++)
    writeFileSync(path.join(dir, 'manifests', `p${String(p).padStart(3, '0')}.toml`), manifest(p, toolsPerProvider));
  return {
    dir,
    edit: (p, rev) =>
      writeFileSync(
        path.join(dir, 'manifests', `p${String(p).padStart(3, '0')}.toml`),
        manifest(p, toolsPerProvider, rev),
      ),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function manifest(p, tools, rev = 0) {
  let s = `[provider]\nname = "prov${p}"\ndescription = "benchmark provider ${p} rev ${rev}"\nhandler = "cli"\ncli_command = "/bin/true"\n\n`;
  for (let t = 0; t < tools; t++) {
    s += `[[tools]]\nname = "prov${p}_tool${t}"\ndescription = "tool ${t} of provider ${p}"\n\n[tools.input_schema]\ntype = "object"\n\n[tools.input_schema.properties.q]\ntype = "string"\ndescription = "query"\n\n`;
  }
  return s;
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Prints the machine-readable result line `bench/run.mjs` collects. */
export function emit(result) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

/**
 * The built-in handler plugins use exactly the public plugin API (issue 11,
 * Deliver 1): every import under plugins/ is either a package (`node:*`,
 * `@sinclair/typebox`, `undici`, `ati-proxy/plugin` …), a file of the plugins/
 * tree itself (a plugin's own modules, or a shared helper folder such as
 * plugins/shared-http), or sdk/plugin.ts — never core/, config/, cli/ or
 * client/ directly. A third party gets the same API from `ati-proxy/plugin`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/proxy-process.js';

const PLUGINS_DIR = path.join(REPO_ROOT, 'plugins');
const PUBLIC_API = path.join(REPO_ROOT, 'sdk', 'plugin.js');

/**
 * Built-in plugin files still importing host internals, to be migrated to
 * `../../sdk/plugin.js` by the lead when the plugin branches are merged.
 * Paths are relative to the repository root. EMPTY THIS LIST as files are
 * migrated: the test also fails when a listed file no longer needs its entry.
 */
const KNOWN_PRIVATE_IMPORTERS: ReadonlySet<string> = new Set<string>([]);

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier of a file: static imports/exports (incl. `import type`) and dynamic `import('…')`. */
function importSpecifiers(source: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) specs.push(m[1]!);
  return specs;
}

/** The specifiers of `file` that reach into the host instead of the public API. */
function privateImports(file: string, source: string): string[] {
  return importSpecifiers(source).filter((spec) => {
    if (!spec.startsWith('.')) return false; // a package: node:*, typebox, undici, ati-proxy/plugin …
    const target = path.resolve(path.dirname(file), spec);
    if (target === PUBLIC_API || target === PUBLIC_API.replace(/\.js$/, '.ts')) return false;
    return !(target + path.sep).startsWith(PLUGINS_DIR + path.sep);
  });
}

describe('built-in plugins import only the public plugin API', () => {
  const files = tsFiles(PLUGINS_DIR);
  const rel = (f: string) => path.relative(REPO_ROOT, f);

  it('finds the plugin sources', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it('no import of core/, config/, cli/ or client/ other than sdk/plugin.js', () => {
    const offenders: string[] = [];
    for (const f of files) {
      if (KNOWN_PRIVATE_IMPORTERS.has(rel(f))) continue;
      for (const spec of privateImports(f, readFileSync(f, 'utf8'))) offenders.push(`${rel(f)}: ${spec}`);
    }
    expect(offenders, 'import these names from ../../sdk/plugin.js (add them to sdk/plugin.ts if missing)').toEqual([]);
  });

  it('every entry of the known list still needs it (remove migrated files)', () => {
    const stale = [...KNOWN_PRIVATE_IMPORTERS].filter((r) => {
      const f = path.join(REPO_ROOT, r);
      return !files.includes(f) || privateImports(f, readFileSync(f, 'utf8')).length === 0;
    });
    expect(stale).toEqual([]);
  });

  it('the detector sees static, type-only, re-export and dynamic imports', () => {
    const file = path.join(PLUGINS_DIR, 'x', 'index.ts');
    const src = [
      "import { AtiError } from '../../kernel/errors.js';",
      "import type { Logger } from '../../kernel/logger.js';",
      "export { thing } from '../../config/manifest-schema.js';",
      "const m = await import('../../cli/main.js');",
      "import {\n  definePlugin,\n} from '../../sdk/plugin.js';",
      "import { helper } from '../shared-http/engine.js';",
      "import { own } from './own.js';",
      "import { Agent } from 'undici';",
    ].join('\n');
    expect(privateImports(file, src)).toEqual([
      '../../kernel/errors.js',
      '../../kernel/logger.js',
      '../../config/manifest-schema.js',
      '../../cli/main.js',
    ]);
  });
});

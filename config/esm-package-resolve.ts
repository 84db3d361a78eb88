/**
 * Resolves a bare package specifier with the `import` conditions, for the
 * packages `require.resolve` cannot see: ESM-only plugins whose package.json
 * `exports` offer only `import` (e.g. `{".": {"types": …, "import": "./index.js"}}`)
 * make CommonJS resolution fail with ERR_PACKAGE_PATH_NOT_EXPORTED although
 * they are installed. Covers what plugin packages use: `exports` as a string,
 * a conditions object or a subpath map with exact keys (no `*` patterns), and
 * `main` when there is no `exports`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const CONDITIONS = new Set(['import', 'node', 'default']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `@scope/pkg/sub` → `{ name: '@scope/pkg', subpath: './sub' }`. */
function splitSpecifier(spec: string): { name: string; subpath: string } {
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  const rest = parts.slice(n).join('/');
  return { name: parts.slice(0, n).join('/'), subpath: rest ? `./${rest}` : '.' };
}

/** The first target whose condition is active, in the object's key order (Node's rule). */
function pickTarget(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    for (const x of t) {
      const r = pickTarget(x);
      if (r) return r;
    }
    return undefined;
  }
  if (isObject(t)) {
    for (const [k, v] of Object.entries(t)) {
      if (!CONDITIONS.has(k)) continue;
      const r = pickTarget(v);
      if (r) return r;
    }
  }
  return undefined;
}

function exportsTarget(exports: unknown, subpath: string): string | undefined {
  if (isObject(exports) && Object.keys(exports).some((k) => k.startsWith('.'))) return pickTarget(exports[subpath]);
  return subpath === '.' ? pickTarget(exports) : undefined;
}

/** The file `import(spec)` would load from a module in `fromDir`, or undefined when not found. */
export function resolveEsmPackage(spec: string, fromDir: string): string | undefined {
  const { name, subpath } = splitSpecifier(spec);
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    if (path.basename(dir) !== 'node_modules') {
      const pkgDir = path.join(dir, 'node_modules', name);
      const pkgJson = path.join(pkgDir, 'package.json');
      if (existsSync(pkgJson)) {
        const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { exports?: unknown; main?: unknown };
        const target =
          pkg.exports !== undefined
            ? exportsTarget(pkg.exports, subpath)
            : subpath === '.'
              ? typeof pkg.main === 'string'
                ? pkg.main
                : 'index.js'
              : subpath;
        if (!target) return undefined;
        const file = path.resolve(pkgDir, target);
        return existsSync(file) ? file : undefined;
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

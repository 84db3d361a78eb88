/**
 * `<ati_dir>/config.toml`: process configuration that is not a manifest.
 * Today it names third-party handler plugins:
 *
 *   [plugins]
 *   modules = ["ati-plugin-graphql", "./local-plugins/echo.js"]
 *
 * Package names resolve from `<ati_dir>/node_modules`, then the global npm
 * prefix; paths starting with `.` or `/` are relative to the ATI directory.
 * Plugins load once at startup (a changed list needs a restart); manifests
 * that use them hot-reload like any other.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { AtiError } from '../kernel/errors.js';
import { atiPaths } from './proxy-config.js';
import { resolveEsmPackage } from './esm-package-resolve.js';
import { didYouMean } from '../kernel/suggest.js';

export function configError(file: string, message: string, line?: number): AtiError {
  return new AtiError('ATI_ERR_CONFIG', message, { location: line === undefined ? { file } : { file, line } });
}

/** Reads the `[plugins] modules` list; no file = no plugins. */
export function readPluginSpecifiers(atiDir: string): { file: string; modules: string[] } {
  const file = atiPaths(atiDir).config;
  if (!existsSync(file)) return { file, modules: [] };
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) throw configError(file, `TOML syntax error: ${err.message.split('\n')[0]}`, err.line);
    throw configError(file, `cannot read: ${(err as Error).message}`);
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'plugins') throw configError(file, `unknown table "${key}"${didYouMean(key, ['plugins'])}`);
  }
  const plugins = (doc['plugins'] ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(plugins)) {
    if (key !== 'modules') throw configError(file, `plugins.${key}: unknown key${didYouMean(key, ['modules'])}`);
  }
  const modules = plugins['modules'] ?? [];
  if (!Array.isArray(modules) || !modules.every((m) => typeof m === 'string' && m.length > 0)) {
    throw configError(file, 'plugins.modules must be an array of module specifiers (package names or ./paths)');
  }
  return { file, modules: modules as string[] };
}

/** Where `npm install -g` puts packages for this node. */
function globalNodeModules(): string {
  return path.join(path.dirname(path.dirname(process.execPath)), 'lib', 'node_modules');
}

export function resolvePluginSpecifier(atiDir: string, spec: string): string {
  if (spec.startsWith('.') || path.isAbsolute(spec)) {
    const p = path.resolve(atiDir, spec);
    if (!existsSync(p)) throw new AtiError('ATI_ERR_CONFIG', `plugin module ${spec} not found at ${p}`);
    return p;
  }
  const bases = [path.join(atiDir, 'package.json'), path.join(globalNodeModules(), 'noop.js')];
  for (const base of bases) {
    try {
      return createRequire(base).resolve(spec);
    } catch {
      // An ESM-only package (exports with `import` only) is invisible to require.resolve.
      const esm = resolveEsmPackage(spec, path.dirname(base));
      if (esm) return esm;
    }
  }
  throw new AtiError(
    'ATI_ERR_CONFIG',
    `plugin package "${spec}" is not installed in ${path.join(atiDir, 'node_modules')} or ${globalNodeModules()} (run \`npm install ${spec}\` in ${atiDir})`,
  );
}

// Plugin packages are resolved like `import` would: ESM-only packages whose
// exports offer only the `import` condition are found, not reported missing.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveEsmPackage } from '../../config/esm-package-resolve.js';
import { resolvePluginSpecifier } from '../../config/plugins-config.js';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';

describe('resolving plugin packages', () => {
  let dir: TempAtiDir | undefined;
  afterEach(async () => dir?.cleanup());

  const pkg = (name: string, json: Record<string, unknown>, files: string[]) => ({
    [`node_modules/${name}/package.json`]: JSON.stringify({ name, ...json }),
    ...Object.fromEntries(files.map((f) => [`node_modules/${name}/${f}`, 'export default {};\n'])),
  });

  it('finds import-only exports, condition order, subpaths, main, scoped packages, parents’ node_modules', async () => {
    dir = await makeAtiDir({
      ...pkg('esm-only', { type: 'module', exports: { '.': { types: './index.d.ts', import: './index.js' } } }, [
        'index.js',
      ]),
      ...pkg('cond-order', { exports: { node: './node.js', import: './import.js' } }, ['node.js', 'import.js']),
      ...pkg('subpaths', { exports: { '.': './main.js', './extra': { import: './extra.js' } } }, [
        'main.js',
        'extra.js',
      ]),
      ...pkg('plain-main', { main: 'lib/entry.js' }, ['lib/entry.js']),
      ...pkg('@acme/ati-plugin', { exports: { import: './p.js' } }, ['p.js']),
      ...pkg('browser-only', { exports: { browser: './b.js' } }, ['b.js']),
      'sub/project/.keep': '',
    });
    const d = dir.dir;
    const nm = (p: string) => path.join(d, 'node_modules', p);
    expect(resolveEsmPackage('esm-only', d)).toBe(nm('esm-only/index.js'));
    expect(resolveEsmPackage('cond-order', d)).toBe(nm('cond-order/node.js'));
    expect(resolveEsmPackage('subpaths', d)).toBe(nm('subpaths/main.js'));
    expect(resolveEsmPackage('subpaths/extra', d)).toBe(nm('subpaths/extra.js'));
    expect(resolveEsmPackage('subpaths/missing', d)).toBeUndefined();
    expect(resolveEsmPackage('plain-main', d)).toBe(nm('plain-main/lib/entry.js'));
    expect(resolveEsmPackage('@acme/ati-plugin', d)).toBe(nm('@acme/ati-plugin/p.js'));
    expect(resolveEsmPackage('esm-only', path.join(d, 'sub', 'project'))).toBe(nm('esm-only/index.js'));
    expect(resolveEsmPackage('browser-only', d)).toBeUndefined();
    expect(resolveEsmPackage('not-installed', d)).toBeUndefined();
  });

  it('resolvePluginSpecifier loads an ESM-only plugin package from the ATI directory', async () => {
    dir = await makeAtiDir(
      pkg('ati-plugin-esm', { type: 'module', exports: { '.': { types: './i.d.ts', import: './i.js' } } }, ['i.js']),
    );
    expect(resolvePluginSpecifier(dir.dir, 'ati-plugin-esm')).toBe(
      path.join(dir.dir, 'node_modules', 'ati-plugin-esm', 'i.js'),
    );
    expect(() => resolvePluginSpecifier(dir!.dir, 'ati-plugin-nope')).toThrow(
      /plugin package "ati-plugin-nope" is not installed/,
    );
  });
});

/**
 * The build bundles tsc's output into dist/bundle/ (scripts/bundle.mjs) and `bin/ati` runs the
 * bundle — unless it is missing or older than tsc's output (`npx tsc` alone), when it runs
 * dist/cli/main.js. The package exports point at the bundle, so a plugin importing
 * `ati-proxy/plugin` shares the running proxy's module instances (AtiError, metrics).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { ATI_BIN, REPO_ROOT, startProxy, type ProxyProcess } from '../helpers/proxy-process.js';

const run = promisify(execFile);

describe('the bundled build', () => {
  let tmp: string | undefined;
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
    if (tmp) await rm(tmp, { recursive: true, force: true });
    tmp = undefined;
  });

  it('build, prepare and test produce dist/bundle; it is current, and the package exports use it', async () => {
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      exports: Record<string, string | { default: string }>;
    };
    for (const s of ['build', 'prepare', 'test'])
      expect(pkg.scripts[s], s).toMatch(/tsc -p tsconfig\.json && node scripts\/bundle\.mjs/);
    const targets = Object.entries(pkg.exports)
      .filter(([k]) => k !== './package.json')
      .map(([, v]) => (typeof v === 'string' ? v : v.default));
    expect(targets).toEqual([
      './dist/bundle/core/compose.js',
      './dist/bundle/sdk/plugin.js',
      './dist/bundle/sdk/conformance.js',
    ]);
    for (const t of targets) await stat(path.join(REPO_ROOT, t));
    // What bin/ati checks: the bundle is at least as new as tsc's output, so the tests run it.
    const bundled = await stat(path.join(REPO_ROOT, 'dist', 'bundle', 'cli', 'main.js'));
    const compiled = await stat(path.join(REPO_ROOT, 'dist', 'cli', 'main.js'));
    expect(bundled.mtimeMs).toBeGreaterThanOrEqual(compiled.mtimeMs);
    // Every command is its own entry point (cli/main.ts discovers them by listing the folder).
    for (const c of ['proxy', 'run', 'token'])
      await stat(path.join(REPO_ROOT, 'dist', 'bundle', 'cli', 'commands', `${c}.js`));
  });

  it('bin/ati runs the bundle when present and current, else dist/cli/main.js', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ati-launcher-'));
    await mkdir(path.join(tmp, 'bin'));
    await mkdir(path.join(tmp, 'dist', 'bundle', 'cli'), { recursive: true });
    await mkdir(path.join(tmp, 'dist', 'cli'));
    await copyFile(ATI_BIN, path.join(tmp, 'bin', 'ati'));
    await writeFile(path.join(tmp, 'package.json'), '{"type":"module"}');
    const fake = (which: string) =>
      `export async function main(argv) { const q = globalThis[Symbol.for('ati.earlySignals')]; console.log(JSON.stringify({ which: ${JSON.stringify(which)}, args: argv.slice(2), earlySignals: typeof q?.release })); }\n`;
    const compiled = path.join(tmp, 'dist', 'cli', 'main.js');
    const bundled = path.join(tmp, 'dist', 'bundle', 'cli', 'main.js');
    await writeFile(compiled, fake('dist'));
    const launch = async () =>
      JSON.parse((await run(process.execPath, [path.join(tmp!, 'bin', 'ati'), 'x', '--y'])).stdout) as Record<
        string,
        unknown
      >;

    expect(await launch()).toEqual({ which: 'dist', args: ['x', '--y'], earlySignals: 'function' }); // no bundle
    await writeFile(bundled, fake('bundle'));
    const t = Date.now() / 1000;
    await utimes(compiled, t - 60, t - 60);
    await utimes(bundled, t, t);
    expect(await launch()).toEqual({ which: 'bundle', args: ['x', '--y'], earlySignals: 'function' });
    await utimes(bundled, t - 120, t - 120); // tsc ran after the last bundle: stale
    expect(await launch()).toEqual({ which: 'dist', args: ['x', '--y'], earlySignals: 'function' });
  });

  it('a plugin importing ati-proxy/plugin gets the proxy’s own AtiError class; /help validates with the bundled ajv', async () => {
    dir = await makeAtiDir({
      'config.toml': '[plugins]\nmodules = ["./thrower.mjs"]\n',
      'thrower.mjs': [
        "import { definePlugin, AtiError, PLUGIN_API_VERSION, toolFromManifest } from 'ati-proxy/plugin';",
        'export default definePlugin({',
        "  apiVersion: PLUGIN_API_VERSION, name: 'thrower', version: '0.0.1', providerSchema: {},",
        '  async provision(m) {',
        '    return {',
        '      tools: m.tools.map((t) => toolFromManifest(m, t)),',
        "      async call() { throw new AtiError('ATI_ERR_PLUGIN', 'classified by the plugin'); },",
        '      async close() {},',
        '    };',
        '  },',
        '});',
      ].join('\n'),
      'manifests/t.toml':
        '[provider]\nname = "t"\ndescription = "t"\nhandler = "thrower"\n\n[[tools]]\nname = "t_boom"\ndescription = "x"\n',
    });
    await mkdir(path.join(dir.dir, 'node_modules'));
    await symlink(REPO_ROOT, path.join(dir.dir, 'node_modules', 'ati-proxy'), 'dir');
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'] });
    const r = await fetch(`${proxy.url}/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"tool_name":"t_boom","args":{}}',
    });
    expect(r.status).toBe(502);
    // An AtiError of another module instance would be re-wrapped as `handler plugin "thrower" failed: …`.
    expect(((await r.json()) as { error: string }).error).toBe('classified by the plugin');

    // POST /help's body schema: ajv comes from the bundle's lazily loaded chunk on the first request.
    const help = (body: unknown) =>
      fetch(`${proxy!.url}/help`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (let i = 0; i < 2; i++) {
      const bad = await help({ tool: 'x' });
      expect(bad.status).toBe(422);
      expect(((await bad.json()) as { error: string }).error).toMatch(/must have required property 'query'/);
    }
    expect((await help({ query: 'q' })).status).toBe(503); // valid; no LLM provider configured
  });
});

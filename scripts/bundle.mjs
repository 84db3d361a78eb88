#!/usr/bin/env node
/**
 * Bundles tsc's output (dist/) into dist/bundle/, one ESM file per entry point plus shared chunks,
 * so `ati` loads a few dozen files instead of ~900 (module resolution and loading dominated startup).
 * Run by `npm run build` / `prepare` / `npm test` after tsc. See README "Development".
 */
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const out = path.join(dist, 'bundle');

const commands = readdirSync(path.join(dist, 'cli', 'commands'))
  .filter((f) => f.endsWith('.js'))
  .map((f) => path.join(dist, 'cli', 'commands', f));

/**
 * Fastify requires its default schema compilers (ajv, fast-json-stringify: ~380 KB) when no
 * compilers are given. core/host/host.ts always gives its own lazy ones (core/host/lazy-schema-compilers.ts),
 * so that require is left to node_modules instead of putting them in the startup chunk; the lazy
 * compilers' own import of @fastify/ajv-compiler is still bundled, in a chunk loaded on first use.
 */
const fastifyDefaultCompilersOutside = {
  name: 'fastify-default-compilers-outside',
  setup(b) {
    b.onResolve({ filter: /^@fastify\/(ajv-compiler|fast-json-stringify-compiler)$/ }, (args) =>
      /[\\/]fastify[\\/]lib[\\/]schema-controller\.js$/.test(args.importer)
        ? { path: args.path, external: true }
        : undefined,
    );
  },
};

rmSync(out, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: [
    path.join(dist, 'cli', 'main.js'),
    ...commands,
    path.join(dist, 'core', 'compose.js'),
    path.join(dist, 'sdk', 'plugin.js'),
    path.join(dist, 'sdk', 'conformance.js'),
  ],
  outbase: dist,
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  // Less source to read and pre-parse at startup. Identifiers are kept: stack traces and
  // constructor names stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  plugins: [fastifyDefaultCompilersOutside],
  metafile: !!process.env.ATI_BUNDLE_META,
  // CommonJS dependencies call require() for Node built-ins; an ESM bundle has none of its own.
  banner: {
    js: "import { createRequire as __atiCreateRequire } from 'node:module';\nconst require = __atiCreateRequire(import.meta.url);",
  },
  external: [
    // Loaded only when configured (dynamic import), or carry files they read relative to themselves.
    'pg',
    '@electric-sql/pglite',
    'drizzle-orm',
    'drizzle-orm/*',
    '@modelcontextprotocol/sdk',
    '@modelcontextprotocol/sdk/*',
    // The conformance suite runs inside the plugin author's vitest.
    'vitest',
    // ws's optional native helpers.
    'bufferutil',
    'utf-8-validate',
  ],
});
if (result.metafile)
  (await import('node:fs')).writeFileSync(process.env.ATI_BUNDLE_META, JSON.stringify(result.metafile));

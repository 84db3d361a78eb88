// The example plugin is plain JavaScript typed with JSDoc against
// `ati-proxy/plugin`: type-check it (tsc --checkJs) against this build's
// declarations, so a change of the public types that breaks plugin authors
// shows up here. Needs a fresh `npx tsc -p tsconfig.json` (dist/sdk/plugin.d.ts).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/proxy-process.js';

const EXAMPLE = path.join(REPO_ROOT, 'examples', 'plugins', 'graphql');

describe('examples/plugins/graphql type-checks against ati-proxy/plugin', () => {
  let tmp: string | undefined;
  afterAll(async () => tmp && rm(tmp, { recursive: true, force: true }));

  it('tsc --checkJs with the example’s own tsconfig reports nothing', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ati-typecheck-'));
    const config = {
      extends: path.join(EXAMPLE, 'tsconfig.json'),
      compilerOptions: {
        // What `npm install ati-proxy` gives the plugin's author: this build's declarations.
        paths: { 'ati-proxy/plugin': [path.join(REPO_ROOT, 'dist', 'sdk', 'plugin.d.ts')] },
        typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')],
      },
      // Not index.d.ts: tsc drops a .js file whose .d.ts twin is also included.
      include: [path.join(EXAMPLE, '*.js'), path.join(EXAMPLE, 'lib', '*.js')],
    };
    await writeFile(path.join(tmp, 'tsconfig.json'), JSON.stringify(config));
    const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const out = await promisify(execFile)(process.execPath, [tsc, '-p', path.join(tmp, 'tsconfig.json')]).then(
      () => '',
      (err: { stdout?: string; message: string }) => err.stdout || err.message,
    );
    expect(out).toBe('');
  });
});

// The example plugin is plain JavaScript typed with JSDoc against
// `ati-proxy/plugin`: type-check it (tsc --checkJs) against this build's
// declarations, so a change of the public types that breaks plugin authors
// shows up here. Needs a fresh `npx tsc -p tsconfig.json` (dist/sdk/plugin.d.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/proxy-process.js';
import { typecheck } from '../helpers/typecheck.js';

const EXAMPLE = path.join(REPO_ROOT, 'examples', 'plugins', 'graphql');

describe('examples/plugins/graphql type-checks against ati-proxy/plugin', () => {
  let tmp: string | undefined;
  afterAll(async () => tmp && rm(tmp, { recursive: true, force: true }));

  it('tsc --checkJs with the example’s own tsconfig reports nothing', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ati-typecheck-'));
    const out = await typecheck({
      dir: tmp,
      extends: path.join(EXAMPLE, 'tsconfig.json'),
      // Not index.d.ts: tsc drops a .js file whose .d.ts twin is also included.
      include: [path.join(EXAMPLE, '*.js'), path.join(EXAMPLE, 'lib', '*.js')],
    });
    expect(out).toBe('');
  });
});

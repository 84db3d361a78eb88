/**
 * The layer rules of eslint.config.mjs: a wrong import in each direction is a lint error
 * (static import, re-export and dynamic import), and the allowed directions are not.
 * `npm run lint` runs the same rules over the whole tree in CI.
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/proxy-process.js';

const eslint = new ESLint({ cwd: REPO_ROOT });

/** The layer-rule messages ESLint reports for `code` as if it were the file `file`. */
async function layerErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(REPO_ROOT, file) });
  return result!.messages
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
    .map((m) => m.message);
}

const wrong: Array<[file: string, code: string]> = [
  ['kernel/probe.ts', "import { Host } from '../core/host/host.js';\nvoid Host;\n"],
  ['kernel/probe.ts', "import { x } from '../config/keyring.js';\nvoid x;\n"],
  ['config/probe.ts', "import { Host } from '../core/host/host.js';\nvoid Host;\n"],
  ['config/probe.ts', "export { definePlugin } from '../sdk/plugin.js';\n"],
  ['config/probe.ts', "const m = await import('../core/compose.js');\nvoid m;\n"],
  ['client/probe.ts', "import { Keyring } from '../config/keyring.js';\nvoid Keyring;\n"],
  ['core/probe.ts', "import http from '../plugins/http/index.js';\nvoid http;\n"],
  ['core/routes/probe.ts', "import { main } from '../../cli/main.js';\nvoid main;\n"],
  ['core/host/probe.ts', "import { ProxyClient } from '../../client/proxy-client.js';\nvoid ProxyClient;\n"],
  ['sdk/probe.ts', "import http from '../plugins/http/index.js';\nvoid http;\n"],
  ['plugins/http/probe.ts', "import { Host } from '../../core/host/host.js';\nvoid Host;\n"],
  ['plugins/http/probe.ts', "import { AtiError } from '../../kernel/errors.js';\nvoid AtiError;\n"],
  ['plugins/http/probe.ts', "import { x } from '../../config/keyring.js';\nvoid x;\n"],
];

const allowed: Array<[file: string, code: string]> = [
  [
    'kernel/probe.ts',
    "import { sha256 } from './hash.js';\nimport { createHash } from 'node:crypto';\nvoid sha256;\nvoid createHash;\n",
  ],
  ['config/probe.ts', "import { AtiError } from '../kernel/errors.js';\nvoid AtiError;\n"],
  ['client/probe.ts', "import { AtiError } from '../kernel/errors.js';\nvoid AtiError;\n"],
  ['core/routes/probe.ts', "import { Keyring } from '../../config/keyring.js';\nvoid Keyring;\n"],
  ['sdk/probe.ts', "import { Host } from '../core/host/host.js';\nvoid Host;\n"],
  [
    'plugins/http/probe.ts',
    "import { definePlugin } from '../../sdk/plugin.js';\nimport { x } from '../shared-http/validate.js';\nvoid definePlugin;\nvoid x;\n",
  ],
  ['cli/probe.ts', "import http from '../plugins/http/index.js';\nvoid http;\n"],
];

describe('layers are enforced by lint', () => {
  it.each(wrong)('%s: %s is a lint error', async (file, code) => {
    const errors = await layerErrors(file, code);
    expect(errors.length, `expected a layer error for ${file}`).toBeGreaterThan(0);
  });

  it.each(allowed)('%s: %s is allowed', async (file, code) => {
    expect(await layerErrors(file, code)).toEqual([]);
  });
});

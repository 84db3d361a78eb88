/** Every code of the error table is documented in docs/errors.md. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../core/errors.js';
import { REPO_ROOT } from '../helpers/proxy-process.js';

describe('docs/errors.md', () => {
  it('lists every ATI_ERR_* code with its status and exit code', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(doc, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${spec.status} \\| ${spec.exit} \\|`));
    }
  });
});

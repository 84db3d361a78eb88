import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AtiError, ERRORS, formatLocated } from '../../kernel/errors.js';
import { REPO_ROOT } from '../helpers/proxy-process.js';

describe('error table', () => {
  it('documents every code in docs/errors.md with its status and exit code', () => {
    const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'errors.md'), 'utf8');
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(doc, code).toContain(`| \`${code}\` | ${spec.status} | ${spec.exit} |`);
    }
  });
  it('formats located errors as file:line:col: field: message', () => {
    expect(formatLocated('bad', { file: 'a.toml', line: 3, column: 7, field: 'provider.x' })).toBe(
      'a.toml:3:7: provider.x: bad',
    );
    expect(formatLocated('bad', { file: 'a.toml' })).toBe('a.toml: bad');
    const e = new AtiError('ATI_ERR_UPSTREAM', 'boom');
    expect(e.status).toBe(502);
    expect(e.describe()).toBe('boom');
  });
});

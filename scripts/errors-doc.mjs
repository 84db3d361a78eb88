// Regenerates the code table in docs/errors.md from kernel/errors.ts (built to dist/).
// Run after adding a code: npm run build && npm run docs:errors
import { readFileSync, writeFileSync } from 'node:fs';
import { ERRORS } from '../dist/kernel/errors.js';

const file = new URL('../docs/errors.md', import.meta.url);
const doc = readFileSync(file, 'utf8');
const rows = Object.entries(ERRORS).map(([code, s]) => `| \`${code}\` | ${s.status} | ${s.exit} | ${s.message} |`);
const table = ['| Code | HTTP status | Exit code | Meaning |', '|---|---|---|---|', ...rows].join('\n');
const out = doc.replace(
  /<!-- errors:start -->[\s\S]*<!-- errors:end -->/,
  `<!-- errors:start -->\n${table}\n<!-- errors:end -->`,
);
if (out === doc && !doc.includes('<!-- errors:start -->'))
  throw new Error('docs/errors.md lacks the <!-- errors:start --> / <!-- errors:end --> markers');
writeFileSync(file, out);

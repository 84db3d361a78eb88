// Plugin authors get their manifest fields typed: definePlugin infers them from TypeBox
// schemas, plain-JSON-Schema plugins state them. Compiled with tsc against this build's
// declarations (dist/sdk/plugin.d.ts: run `npx tsc -p tsconfig.json` first): the type-level
// fixture, and the two typed examples of docs/plugins.md as written.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/proxy-process.js';
import { typecheck } from '../helpers/typecheck.js';

const FIXTURE = readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'sdk', 'typed-fields.ts'), 'utf8');
const DOC = readFileSync(path.join(REPO_ROOT, 'docs', 'plugins.md'), 'utf8');
const quickStart = /```js\n(\/\/ <ati_dir>\/plugins\/echo\.js\n[\s\S]*?)```/.exec(DOC)?.[1];
const typedExample = /```ts\n( *\/\/ src\/greeter\.ts[\s\S]*?)```/.exec(DOC)?.[1];

/** Line numbers (1-based) of the lines that follow a `@ts-expect-error` marker. */
function expectedErrorLines(source: string): number[] {
  return source.split('\n').flatMap((line, i) => (/^\s*\/\/ @ts-expect-error/.test(line) ? [i + 2] : []));
}

describe('typed manifest fields (ati-proxy/plugin)', () => {
  let tmp: string | undefined;
  afterAll(async () => tmp && rm(tmp, { recursive: true, force: true }));

  it('docs/plugins.md still has both typed examples', () => {
    expect(quickStart).toBeDefined();
    expect(typedExample).toBeDefined();
  });

  it('infers TypeBox fields, keeps JSON Schema fields unknown unless stated, and rejects wrong reads', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ati-typed-fields-'));
    // Packages (@sinclair/typebox, @types/node) resolve from the repository, as from a plugin's own node_modules.
    await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(tmp, 'node_modules'), 'dir');
    await writeFile(path.join(tmp, 'package.json'), '{ "type": "module" }\n');
    // The fixture as is must compile; the copy without its markers must fail on exactly the marked lines.
    const unmarked = FIXTURE.replace(/\/\/ @ts-expect-error.*/g, '//');
    const files: Record<string, string> = {
      'typed-fields.ts': FIXTURE,
      'unmarked.ts': unmarked,
      'echo.js': quickStart!,
      'greeter.ts': typedExample!.replace(/^ {2}/gm, ''),
    };
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(tmp, name), text);

    const out = await typecheck({ dir: tmp, include: Object.keys(files).map((f) => path.join(tmp!, f)) });

    // One entry per diagnostic: `<file>(<line>,<col>): error TSnnnn: …`, or the whole line when it names no file.
    const errors = out
      .split('\n')
      .filter((l) => /\berror TS\d+:/.test(l))
      .map((l) => {
        const m = /^(.*)\((\d+),\d+\): error TS\d+:/.exec(l);
        return m ? `${path.basename(m[1]!)}:${m[2]}` : l;
      });
    const expected = expectedErrorLines(FIXTURE);
    expect(expected.length).toBeGreaterThanOrEqual(10);
    expect(errors, out).toEqual(expected.map((line) => `unmarked.ts:${line}`));
  });
});

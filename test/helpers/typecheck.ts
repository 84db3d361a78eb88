/**
 * Runs tsc (no emit) over plugin sources as a plugin author's build would see
 * them: `ati-proxy/plugin` resolves to this build's declarations
 * (dist/sdk/plugin.d.ts, so run `npx tsc -p tsconfig.json` first) and other
 * packages to this repository's node_modules. Returns tsc's diagnostics, ''
 * when there are none.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './proxy-process.js';

export interface TypecheckOptions {
  /** Where the generated tsconfig.json goes (a temporary directory). */
  dir: string;
  /** Absolute paths of the files to check. */
  include: string[];
  /** A tsconfig to extend (else strict NodeNext settings). */
  extends?: string;
}

export async function typecheck(opts: TypecheckOptions): Promise<string> {
  const config = {
    ...(opts.extends ? { extends: opts.extends } : {}),
    compilerOptions: {
      ...(opts.extends
        ? {}
        : {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            lib: ['ES2023'],
            types: ['node'],
            allowJs: true,
            checkJs: true,
            noEmit: true,
            strict: true,
            skipLibCheck: true,
          }),
      // What `npm install ati-proxy` gives the plugin's author: this build's declarations.
      paths: { 'ati-proxy/plugin': [path.join(REPO_ROOT, 'dist', 'sdk', 'plugin.d.ts')] },
      typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')],
    },
    include: opts.include,
  };
  const file = path.join(opts.dir, 'tsconfig.json');
  await writeFile(file, JSON.stringify(config));
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  return promisify(execFile)(process.execPath, [tsc, '-p', file]).then(
    () => '',
    (err: { stdout?: string; message: string }) => err.stdout || err.message,
  );
}

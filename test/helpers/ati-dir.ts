/** Temporary ATI directories for tests: `<tmp>/manifests/*.toml` plus any other files. */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface TempAtiDir {
  dir: string;
  manifests: string;
  /** Writes `<dir>/<rel>` (creating folders). */
  write(rel: string, content: string | Uint8Array): Promise<string>;
  /** Writes `manifests/<name>.toml`. */
  manifest(name: string, toml: string): Promise<string>;
  cleanup(): Promise<void>;
}

export async function makeAtiDir(
  files: Record<string, string> = {},
  opts: { manifestsDir?: boolean } = {},
): Promise<TempAtiDir> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ati-test-'));
  const manifests = path.join(dir, 'manifests');
  if (opts.manifestsDir !== false) await mkdir(manifests, { recursive: true });
  const write = async (rel: string, content: string | Uint8Array) => {
    const file = path.join(dir, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
    return file;
  };
  for (const [rel, content] of Object.entries(files)) await write(rel, content);
  return {
    dir,
    manifests,
    write,
    manifest: (name, toml) => write(path.join('manifests', `${name}.toml`), toml),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

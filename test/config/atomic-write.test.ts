import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../config/atomic-write.js';
import { REPO_ROOT } from '../helpers/proxy-process.js';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ati-atomic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Runs the built module (npx tsc first) in a child with umask 000.
  it('the temp file lives in the target directory and is 0600 before the rename, whatever the umask', async () => {
    const target = path.join(dir, 'secret');
    // A child with umask 000 would create 0666 files with a plain writeFile.
    const script = `
      const { writeFileAtomic } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/config/atomic-write.js'))});
      const { stat } = await import('node:fs/promises');
      const path = await import('node:path');
      let seen;
      await writeFileAtomic(process.argv[1], 'v', { verify: async (tmp) => {
        seen = { dir: path.dirname(tmp), mode: (await stat(tmp)).mode & 0o777 };
      } });
      const final = (await stat(process.argv[1])).mode & 0o777;
      process.stdout.write(JSON.stringify({ ...seen, final }));
    `;
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn('sh', [
        '-c',
        `umask 000; exec "${process.execPath}" --input-type=module -e "$0" "$1"`,
        script,
        target,
      ]);
      let o = '';
      let e = '';
      p.stdout.on('data', (d: Buffer) => (o += d.toString()));
      p.stderr.on('data', (d: Buffer) => (e += d.toString()));
      p.on('close', (code) => (code === 0 ? resolve(o) : reject(new Error(e))));
    });
    expect(JSON.parse(out)).toEqual({ dir, mode: 0o600, final: 0o600 });
  });

  it('replaces an existing file and honours an explicit mode', async () => {
    const target = path.join(dir, 'pub.pem');
    await writeFile(target, 'old');
    await writeFileAtomic(target, 'new', { mode: 0o644 });
    expect(await readFile(target, 'utf8')).toBe('new');
    expect((await stat(target)).mode & 0o777).toBe(0o644);
  });

  it('a failing verify leaves the old file byte-identical and no temp file behind', async () => {
    const target = path.join(dir, 'keyring.enc');
    await writeFile(target, 'old-bytes');
    await expect(
      writeFileAtomic(target, 'new-bytes', {
        verify: async () => {
          throw new Error('does not decrypt');
        },
      }),
    ).rejects.toThrow('does not decrypt');
    expect(await readFile(target, 'utf8')).toBe('old-bytes');
    expect(await readdir(dir)).toEqual(['keyring.enc']);
  });

  it('creates parent directories only when asked', async () => {
    const target = path.join(dir, 'a', 'b', 'credentials');
    await expect(writeFileAtomic(target, '{}')).rejects.toMatchObject({ code: 'ENOENT' });
    await writeFileAtomic(target, '{}', { mkdirParents: true });
    expect(await readFile(target, 'utf8')).toBe('{}');
  });
});

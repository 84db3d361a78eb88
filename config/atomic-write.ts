/**
 * Atomic file replacement for every secret file we write (the reference's `ati key set`
 * wrote in place and chmodded afterwards, leaving a readable window): the data is
 * written to a temp file created in the target's directory with its final mode
 * from the first byte (`open(…, 'wx', mode)` plus an explicit `fchmod`, so the
 * umask cannot widen or narrow it), fsynced, optionally verified, renamed over
 * the target, and the directory is fsynced so the rename survives a crash.
 * Readers see the old file or the new one, never a mixture; on any failure
 * the temp file is removed and the target is untouched.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** Mode of the new file (default 0600). */
  mode?: number;
  /** Create missing parent directories (mode 0700) first. Default false. */
  mkdirParents?: boolean;
  /**
   * Runs after the temp file is written and fsynced, before the rename; a
   * throw aborts the replacement. Used to check that a new keyring decrypts.
   */
  verify?: (tempPath: string) => Promise<void>;
}

/** Replaces `target` with `data` atomically. */
export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const dir = path.dirname(target);
  if (opts.mkdirParents) await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
  let created = false;
  try {
    const fh = await open(tmp, 'wx', mode);
    created = true;
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.verify) await opts.verify(tmp);
    await rename(tmp, target);
    created = false;
  } catch (err) {
    if (created) await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

/** Makes a rename in `dir` durable. Best effort: some file systems refuse fsync on a directory. */
async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // not supported here; the rename itself already happened
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

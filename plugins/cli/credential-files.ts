/**
 * The private per-call directory of a CLI call: `@{key}` credential files and
 * captured output files live there, and it is removed when the call ends.
 *
 * - The directory is created by mkdtemp (mode 0700) under the OS temp dir, named
 *   `ati-cli-<proxy pid>-<random>`, only when a call needs it.
 * - Credential files are created with O_EXCL and mode 0600, and overwritten with
 *   zeros before the directory is removed.
 * - Crash paths: the directory is removed in `finally` of every call; if the
 *   process exits first (uncaught exception, `process.exit`), a synchronous
 *   `exit` hook removes every live directory; after a SIGKILL of the proxy, the
 *   next provision of a cli provider sweeps directories whose proxy pid is gone.
 */
import { closeSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const DIR_PREFIX = 'ati-cli-';

/** Directories of calls in flight in this process (for the exit hook). */
const live = new Map<string, Set<string>>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [dir, secrets] of live) {
      for (const file of secrets) zeroFileSync(file);
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // Nothing more can be done while the process exits.
      }
    }
    live.clear();
  });
}

function zeroFileSync(file: string): void {
  try {
    const size = statSync(file).size;
    if (size === 0) return;
    const fd = openSync(file, 'r+');
    try {
      writeSync(fd, Buffer.alloc(size), 0, size, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Already gone.
  }
}

async function zeroFile(file: string): Promise<void> {
  try {
    const { size } = await stat(file);
    if (size === 0) return;
    const fh = await open(file, 'r+');
    try {
      await fh.write(Buffer.alloc(size), 0, size, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Already gone (the CLI may delete its own files).
  }
}

/** A file name made only of safe characters, so a keyring entry name cannot escape the directory. */
function safeName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return cleaned.slice(0, 64) || 'key';
}

export class CallWorkspace {
  private dir: string | undefined;
  private creating: Promise<string> | undefined;
  private readonly secretFiles = new Set<string>();
  private counter = 0;
  private disposed = false;

  constructor(private readonly root: string = os.tmpdir()) {}

  /** The directory, created on first use. */
  async path(): Promise<string> {
    if (this.disposed) throw new Error('call workspace already disposed');
    this.creating ??= mkdtemp(path.join(this.root, `${DIR_PREFIX}${process.pid}-`)).then((dir) => {
      installExitHook();
      this.dir = dir;
      live.set(dir, this.secretFiles);
      return dir;
    });
    return this.creating;
  }

  /** Writes a keyring value to a new 0600 file and returns its path. */
  async writeSecretFile(keyName: string, content: string): Promise<string> {
    const dir = await this.path();
    const file = path.join(dir, `cred-${++this.counter}-${safeName(keyName)}`);
    this.secretFiles.add(file);
    const fh = await open(file, 'wx', 0o600);
    try {
      // No fsync: the child reads it through the page cache, and a secret that never reaches the
      // disk is better than one that does (dispose zero-fills and syncs before unlinking).
      await fh.writeFile(content, 'utf8');
    } finally {
      await fh.close();
    }
    return file;
  }

  /** A fresh path for a captured output file, keeping the original's extension (CLIs infer formats from it). */
  async outputPath(original: string): Promise<string> {
    const dir = await this.path();
    const ext = path.extname(original).replace(/[^A-Za-z0-9.]/g, '');
    return path.join(dir, `out-${++this.counter}${ext.length > 1 && ext.length <= 16 ? ext : ''}`);
  }

  /** Zero-fills the credential files and removes the directory. Never throws; safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.creating) await this.creating.catch(() => undefined);
    const dir = this.dir;
    if (!dir) return;
    await Promise.all([...this.secretFiles].map(zeroFile));
    try {
      await rm(dir, { recursive: true, force: true });
    } finally {
      live.delete(dir);
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists but belongs to another user, so it is alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes call directories left behind by proxies that died without running
 * their exit hook (SIGKILL, OOM). Directories of live processes are untouched.
 * Returns the directories removed.
 */
export async function sweepStaleWorkspaces(root: string = os.tmpdir()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = /^ati-cli-(\d+)-[A-Za-z0-9]+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    const dir = path.join(root, name);
    try {
      for (const f of readdirSync(dir)) if (f.startsWith('cred-')) zeroFileSync(path.join(dir, f));
      await rm(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Not ours to remove (another user's), or already gone.
    }
  }
  return removed;
}

/** Test hook: the directories of calls currently in flight in this process. */
export function liveWorkspaceDirs(): string[] {
  return [...live.keys()];
}

/**
 * Watches the ATI directory and asks for a reload when something changes.
 * Any event below `<ati_dir>` (manifests, specs, skills, keyring files, JWT key
 * files given by path) schedules one debounced reload; the generation builder
 * hashes every source, so editors' temp files, atomic renames and Kubernetes
 * `..data` symlink swaps cost at most a hash pass and never a rebuild of
 * identical content.
 */
import path from 'node:path';
import type { FSWatcher } from 'chokidar';
import type { Logger } from '../../kernel/logger.js';

export interface WatcherOptions {
  atiDir: string;
  /** Extra files outside the ATI directory (JWT key files). */
  extraFiles?: string[];
  debounceMs?: number;
  logger: Logger;
  /** Called once per debounced burst of events. */
  onChange(changed: string[]): void;
}

/** Folders below the ATI directory that never hold configuration. */
const IGNORED_DIRS = new Set(['node_modules', '.git', 'cache', 'logs']);

export class ConfigWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending = new Set<string>();

  constructor(private readonly opts: WatcherOptions) {}

  /** Starts watching; resolves once the initial scan is done (events after this trigger reloads). */
  async start(): Promise<void> {
    // Loaded here, not with the module: the watch starts after the proxy listens, and not at all with --no-watch.
    const { watch } = await import('chokidar');
    const { atiDir } = this.opts;
    const targets = [atiDir, ...(this.opts.extraFiles ?? [])];
    this.watcher = watch(targets, {
      ignoreInitial: true,
      followSymlinks: true,
      depth: 6,
      // Large trees (node_modules of third-party plugins) are not configuration.
      ignored: (p: string) => {
        const rel = path.relative(atiDir, p);
        if (rel.startsWith('..')) return false;
        const first = rel.split(path.sep)[0] ?? '';
        return IGNORED_DIRS.has(first);
      },
    });
    this.watcher.on('all', (event, p) => this.schedule(event, p));
    this.watcher.on('error', (err) => this.opts.logger.warn({ error: (err as Error).message }, 'config watcher error'));
    return new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  private schedule(event: string, p: string): void {
    this.pending.add(path.relative(this.opts.atiDir, p) || p);
    this.opts.logger.debug({ event, path: p }, 'config change seen');
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const changed = [...this.pending].sort();
      this.pending.clear();
      this.opts.onChange(changed);
    }, this.opts.debounceMs ?? 200);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.close();
  }
}

/** Waits for a file to appear, driven by fs.watch events on its directory (no fixed sleeps). */
import { existsSync, watch } from 'node:fs';
import path from 'node:path';

export function waitForFile(file: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(path.dirname(file), () => check());
    const timer = setTimeout(() => {
      watcher.close();
      reject(new Error(`timed out waiting for ${file}`));
    }, timeoutMs);
    const check = () => {
      if (!existsSync(file)) return;
      clearTimeout(timer);
      watcher.close();
      resolve();
    };
    check();
  });
}

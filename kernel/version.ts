/** The package version, read once from the nearest `package.json` named ati-proxy (works from src and dist). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'ati-proxy' && pkg.version) return pkg.version;
    } catch {
      // not here; go up
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}

export const VERSION = findVersion();

/**
 * Skill bundles (`GET /skills/{name}/bundle`, `POST /skills/bundle`): every
 * file of the skill folder as `{"<rel/path>": "<utf-8 text>" |
 * {"base64": "<padded std base64>"}}`. Unlike the reference, hidden files
 * (`.git/`, `.env`) and symlinks leading outside the folder are left out, a
 * symlink loop is walked once, and the total size is capped.
 */
import { readFile } from 'node:fs/promises';
import { AtiError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { walkFiles } from './confined-fs.js';
import type { Skill } from './skill-manifest.js';

/** Largest bundle of one skill (sum of file sizes). */
export const MAX_BUNDLE_BYTES = 20 * 1024 * 1024;
/** Largest sum over one `POST /skills/bundle` batch. */
export const MAX_BATCH_BYTES = 64 * 1024 * 1024;
/** Files of one skill beyond this count are not bundled (the bundle is refused). */
export const MAX_BUNDLE_FILES = 5_000;

export type BundleFile = string | { base64: string };

export interface Bundle {
  files: Record<string, BundleFile>;
  /** Sum of the raw file sizes. */
  bytes: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Text when the bytes are valid UTF-8, else `{base64}` (as the reference encodes binary files). */
export function encodeFile(bytes: Uint8Array): BundleFile {
  try {
    return utf8.decode(bytes);
  } catch {
    return { base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
  }
}

/**
 * Reads the bundle of `skill`. Throws ATI_ERR_SKILL_TOO_LARGE when it is
 * above `maxBytes` (checked from file sizes before anything is read).
 * Files that vanish or cannot be read meanwhile are skipped (logged at debug).
 */
export async function readBundle(skill: Skill, logger: Logger, maxBytes = MAX_BUNDLE_BYTES): Promise<Bundle> {
  const files = await walkFiles(skill.root, {
    maxFiles: MAX_BUNDLE_FILES + 1,
    onSkip: (s) => logger.debug({ skill: skill.name, file: s.rel, reason: s.reason }, 'skill bundle: entry left out'),
  });
  if (files.length > MAX_BUNDLE_FILES) {
    throw new AtiError(
      'ATI_ERR_SKILL_TOO_LARGE',
      `skill '${skill.name}' has more than ${MAX_BUNDLE_FILES} files; not bundled`,
    );
  }
  const total = files.reduce((n, f) => n + f.size, 0);
  if (total > maxBytes) {
    throw new AtiError(
      'ATI_ERR_SKILL_TOO_LARGE',
      `skill '${skill.name}' is ${total} bytes, above the ${maxBytes}-byte bundle limit`,
    );
  }
  // Null prototype: a file named `__proto__` must be an ordinary key, not the object's prototype.
  const out: Record<string, BundleFile> = Object.create(null) as Record<string, BundleFile>;
  let bytes = 0;
  for (const f of files) {
    let data: Buffer;
    try {
      data = await readFile(f.real);
    } catch (err) {
      logger.debug(
        { skill: skill.name, file: f.rel, error: (err as Error).message },
        'skill bundle: unreadable file left out',
      );
      continue;
    }
    // A file that grew since it was listed still counts against the cap.
    bytes += data.length;
    if (bytes > maxBytes) {
      throw new AtiError('ATI_ERR_SKILL_TOO_LARGE', `skill '${skill.name}' is above the ${maxBytes}-byte bundle limit`);
    }
    out[f.rel] = encodeFile(data);
  }
  return { files: out, bytes };
}

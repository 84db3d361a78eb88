/**
 * `ati edge bootstrap-keyring` and `ati edge rotate-keyring` (docs/keyring.md),
 * with three fixes over the reference:
 *
 * - nothing is created (not even the directory) before the secrets were fetched;
 * - the new `keyring.enc` is decrypted and compared before it replaces the old
 *   one (atomic rename), so a failure at any step leaves the old file
 *   byte-identical;
 * - the entries may come from `--from-json FILE` instead of 1Password.
 *
 * Bootstrap reuses an existing `.keyring-key` (never rotates the session key);
 * rotate requires both files and keeps the key file untouched.
 */
import { mkdir, stat } from 'node:fs/promises';
import { AtiError } from '../kernel/errors.js';
import { writeKeyringFile } from './keyring-enc.js';
import { generateKey, readPersistentKey, writePersistentKey } from './keyring-key.js';
import { fetchEntries, type SecretSource } from './op-item.js';
import { atiPaths } from './proxy-config.js';

export interface BootstrapResult {
  keyringPath: string;
  keyPath: string;
  /** Size of the new keyring.enc: 12 + plaintext + 16. */
  bytes: number;
  /** True when `.keyring-key` did not exist and was generated. */
  keyCreated: boolean;
  entries: number;
}

export interface RotateResult {
  keyringPath: string;
  bytes: number;
  entries: number;
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new AtiError(
      'ATI_ERR_IO',
      `cannot access ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Fetches the entries, then writes `.keyring-key` (if missing) and `keyring.enc` under `atiDir`. */
export async function bootstrapKeyring(atiDir: string, source: SecretSource): Promise<BootstrapResult> {
  const paths = atiPaths(atiDir);
  const entries = await fetchEntries(source);
  await mkdir(atiDir, { recursive: true, mode: 0o700 });
  const keyCreated = !(await exists(paths.keyringKey));
  const key = keyCreated ? generateKey() : await readPersistentKey(paths.keyringKey);
  try {
    if (keyCreated) await writePersistentKey(paths.keyringKey, key);
    const bytes = await writeKeyringFile(paths.keyringEnc, entries, key);
    return { keyringPath: paths.keyringEnc, keyPath: paths.keyringKey, bytes, keyCreated, entries: entries.size };
  } finally {
    key.fill(0);
  }
}

/**
 * Re-encrypts fresh entries with the existing persistent key. Refuses (and
 * creates nothing) when `keyring.enc` or `.keyring-key` is missing; the key
 * is read and checked before the source is asked.
 */
export async function rotateKeyring(atiDir: string, source: SecretSource): Promise<RotateResult> {
  const paths = atiPaths(atiDir);
  if (!(await exists(paths.keyringEnc))) {
    throw new AtiError(
      'ATI_ERR_KEYRING',
      `no existing keyring at ${paths.keyringEnc} — run \`ati edge bootstrap-keyring\` first`,
    );
  }
  if (!(await exists(paths.keyringKey))) {
    throw new AtiError(
      'ATI_ERR_KEYRING',
      `no session key at ${paths.keyringKey} — keyring was bootstrapped without the persistent session key. ` +
        'Re-run `ati edge bootstrap-keyring` to create one (it re-encrypts keyring.enc with the new key).',
    );
  }
  const key = await readPersistentKey(paths.keyringKey);
  try {
    const entries = await fetchEntries(source);
    const bytes = await writeKeyringFile(paths.keyringEnc, entries, key);
    return { keyringPath: paths.keyringEnc, bytes, entries: entries.size };
  } finally {
    key.fill(0);
  }
}

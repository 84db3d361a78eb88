/**
 * Key material for `keyring.enc` (docs/keyring.md#key-files). Both key files hold standard
 * base64 with padding of exactly 32 bytes (44 characters), surrounding
 * whitespace ignored, decoded strictly (no embedded whitespace, no missing or
 * non-canonical padding):
 *
 * - the sealed one-shot key, `$ATI_KEY_FILE` or `/run/ati/.key`, written by an
 *   orchestrator on tmpfs: opened, **unlinked before it is read**, then read
 *   through the open descriptor, so it is gone even if decryption later fails;
 * - the persistent key `<ati_dir>/.keyring-key`, written by
 *   `ati edge bootstrap-keyring` (no trailing newline, mode 0600), never deleted.
 *
 * Buffers holding key bytes or their base64 text are zeroed as soon as they
 * are no longer needed; callers zero the returned key after use.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, unlink } from 'node:fs/promises';
import { AtiError } from '../kernel/errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { KEY_BYTES } from './keyring-enc.js';

/** The sealed key's default location (override: `ATI_KEY_FILE`). */
export const DEFAULT_SEALED_KEY_FILE = '/run/ati/.key';

const BASE64_STD = /^[A-Za-z0-9+/]*={0,2}$/;

/** The sealed key file named by the environment. */
export function sealedKeyPath(env: NodeJS.ProcessEnv): string {
  return env['ATI_KEY_FILE'] || DEFAULT_SEALED_KEY_FILE;
}

/** The message already names the file; a location would print it twice in `describe()`. */
function keyError(message: string): AtiError {
  return new AtiError('ATI_ERR_KEYRING', message);
}

/**
 * Decodes key-file content: trims surrounding whitespace, requires canonical
 * standard base64 and exactly 32 bytes. `file` names the source in errors;
 * the content itself is never quoted. Zeroes `content`.
 */
export function decodeKeyFile(content: Buffer, file: string): Buffer {
  try {
    const text = content.toString('latin1').trim();
    if (text.length % 4 !== 0 || !BASE64_STD.test(text)) {
      throw keyError(
        `invalid base64 in key file ${file}: expected standard base64 with padding (44 characters for ${KEY_BYTES} bytes)`,
      );
    }
    const key = Buffer.from(text, 'base64');
    if (key.toString('base64') !== text) {
      key.fill(0);
      throw keyError(`invalid base64 in key file ${file}: non-canonical encoding`);
    }
    if (key.length !== KEY_BYTES) {
      const n = key.length;
      key.fill(0);
      throw keyError(`invalid key length in key file ${file}: expected ${KEY_BYTES} bytes, got ${n}`);
    }
    return key;
  } finally {
    content.fill(0);
  }
}

/** Standard padded base64 of a key, no newline: the key-file format. */
export function encodeKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64');
}

/** 32 fresh random bytes. */
export function generateKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

export interface SealedKeyResult {
  key: Buffer;
  /** Set when the file could not be unlinked (the key was still read). */
  unlinkError?: string;
}

/**
 * Reads the sealed one-shot key. With `consume` (the default) the file is
 * unlinked right after it is opened and before it is read (as the reference does);
 * `ati proxy --check` passes `consume: false` so a pre-start check does not
 * eat the key the real start needs.
 */
export async function readSealedKey(file: string, opts: { consume?: boolean } = {}): Promise<SealedKeyResult> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new AtiError('ATI_ERR_KEYRING', `sealed key file not found at ${file} — was it already consumed?`, {
        details: { reason: 'missing' },
      });
    }
    if (code === 'EACCES' || code === 'EPERM') throw keyError(`permission denied reading sealed key file ${file}`);
    throw keyError(`cannot open sealed key file ${file}: ${code ?? (err as Error).message}`);
  }
  let unlinkError: string | undefined;
  try {
    if (opts.consume !== false) {
      await unlink(file).catch((err: NodeJS.ErrnoException) => {
        unlinkError = err.code ?? err.message;
      });
    }
    const content = await fh.readFile();
    const key = decodeKeyFile(content, file);
    return unlinkError === undefined ? { key } : { key, unlinkError };
  } finally {
    await fh.close();
  }
}

/** Reads the persistent key `<ati_dir>/.keyring-key`. */
export async function readPersistentKey(file: string): Promise<Buffer> {
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw keyError(`no persistent key at ${file}`);
    throw keyError(`cannot read persistent key ${file}: ${code ?? (err as Error).message}`);
  }
  return decodeKeyFile(content, file);
}

/** Writes a persistent key file atomically, mode 0600, base64 without newline. */
export async function writePersistentKey(file: string, key: Uint8Array): Promise<void> {
  const text = Buffer.from(encodeKey(key), 'latin1');
  try {
    await writeFileAtomic(file, text, { mode: 0o600 });
  } finally {
    text.fill(0);
  }
}

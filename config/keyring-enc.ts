/**
 * `keyring.enc`, byte-compatible with the reference (docs/keyring.md):
 *
 *   offset 0   12 bytes   random nonce
 *   offset 12  N bytes    AES-256-GCM ciphertext of the plaintext (no AAD)
 *   offset 12+N 16 bytes  GCM tag
 *
 * The plaintext is a UTF-8 JSON object whose values are all strings; we write
 * it as pretty JSON with keys in byte order (what `ati edge` writes) and read
 * any valid JSON. The 32 raw key bytes are the AES key (no KDF). Each failure
 * has its own message naming the file; none quotes the plaintext. Decrypted
 * buffers are zeroed once parsed (the reference mlocks them; Node cannot).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AtiError } from '../kernel/errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { parseStringMapJson, prettySortedJson } from './secret-json.js';

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** A file shorter than nonce + tag is rejected before any crypto. */
export const MIN_KEYRING_BYTES = NONCE_BYTES + TAG_BYTES;
export const KEY_BYTES = 32;

function keyringError(file: string, what: string): AtiError {
  return new AtiError('ATI_ERR_KEYRING', `keyring file ${file} ${what}`);
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES)
    throw new AtiError('ATI_ERR_KEYRING', `keyring key must be ${KEY_BYTES} bytes, got ${key.length}`);
}

/** Encrypts raw plaintext bytes into the file layout, with a fresh random nonce. */
export function sealKeyringBytes(plaintext: Uint8Array, key: Uint8Array): Buffer {
  checkKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Encrypts a keyring map (pretty, sorted JSON). The plaintext buffer is zeroed afterwards. */
export function encryptKeyring(entries: ReadonlyMap<string, string>, key: Uint8Array): Buffer {
  const plain = Buffer.from(prettySortedJson(entries), 'utf8');
  try {
    return sealKeyringBytes(plain, key);
  } finally {
    plain.fill(0);
  }
}

/**
 * Decrypts a blob to its plaintext bytes. The caller owns (and must zero) the
 * returned buffer. Throws "too small" or "could not be decrypted" errors.
 */
export function openKeyringBytes(blob: Uint8Array, key: Uint8Array, file: string): Buffer {
  if (blob.length < MIN_KEYRING_BYTES) {
    throw keyringError(file, `is too small (${blob.length} bytes; need at least nonce + tag = ${MIN_KEYRING_BYTES})`);
  }
  checkKey(key);
  const nonce = blob.subarray(0, NONCE_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  const body = blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAuthTag(tag);
  const head = decipher.update(body);
  try {
    decipher.final();
  } catch {
    head.fill(0);
    throw keyringError(file, 'could not be decrypted: wrong key or corrupted file (GCM authentication failed)');
  }
  return head;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses decrypted plaintext into the keyring map and zeroes `plain`
 * (whatever the outcome).
 */
export function parseKeyringPlaintext(plain: Buffer, file: string): Map<string, string> {
  try {
    let text: string;
    try {
      text = UTF8.decode(plain);
    } catch {
      throw keyringError(file, 'decrypted, but the plaintext is not valid UTF-8');
    }
    return parseStringMapJson(text, (reason) => keyringError(file, `decrypted, but is not a keyring: ${reason}`));
  } finally {
    plain.fill(0);
  }
}

/** Decrypts and parses a keyring blob; every intermediate buffer is zeroed. */
export function decryptKeyring(blob: Uint8Array, key: Uint8Array, file: string): Map<string, string> {
  return parseKeyringPlaintext(openKeyringBytes(blob, key, file), file);
}

/** Reads `file` and decrypts it with `key`. I/O failures name the file. */
export async function readKeyringFile(file: string, key: Uint8Array): Promise<Map<string, string>> {
  let blob: Buffer;
  try {
    blob = await readFile(file);
  } catch (err) {
    throw keyringError(file, `could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return decryptKeyring(blob, key, file);
}

/**
 * Encrypts `entries` and atomically replaces `file` (mode 0600). The temp file
 * is decrypted and compared with `entries` before the rename, so a file that
 * would not load never replaces a working one. Returns the number of bytes written.
 */
export async function writeKeyringFile(
  file: string,
  entries: ReadonlyMap<string, string>,
  key: Uint8Array,
): Promise<number> {
  const blob = encryptKeyring(entries, key);
  await writeFileAtomic(file, blob, {
    mode: 0o600,
    verify: async (tmp) => {
      const back = await readKeyringFile(tmp, key);
      const same = back.size === entries.size && [...entries].every(([k, v]) => back.get(k) === v);
      if (!same)
        throw keyringError(file, 'was written but did not read back identically; the old file is left in place');
    },
  });
  return blob.length;
}

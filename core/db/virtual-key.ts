/**
 * The raw virtual-key format, the reference's: `ati-key_` + base64url
 * (no padding) of 16 random bytes = 30 characters, 128 bits of entropy.
 * Only `sha256hex(raw)` is stored; the raw key is shown once, at issue.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '../../kernel/hash.js';

export const RAW_KEY_PREFIX = 'ati-key_';
export const RAW_KEY_PATTERN = /^ati-key_[A-Za-z0-9_-]{22}$/;

/** A fresh raw key. */
export function generateRawKey(): string {
  return RAW_KEY_PREFIX + randomBytes(16).toString('base64url');
}

/** Lower-case hex SHA-256 of the whole raw key (prefix included), as the reference stores it. */
export function hashRawKey(raw: string): string {
  return sha256(raw);
}

/** Whether a presented key has the raw format; anything else is refused before hashing or a lookup. */
export function isWellFormedRawKey(raw: string): boolean {
  return raw.length === 30 && RAW_KEY_PATTERN.test(raw);
}

/** Whether a string is a stored token hash (64 lower-case hex digits). */
export function isTokenHash(s: string): boolean {
  return /^[0-9a-f]{64}$/.test(s);
}
